// automerge-repo client for the field-day benchmark's side-by-side figures.
//
//   node client.mjs push <ws-url> <control-url> <workload.json> <storage-dir> <manifest-out>
//   node client.mjs fetch <ws-url> <control-url> <manifest> <storage-dir>
//
// `push` captures the workload offline as a phone would (one document per record with the
// record's fields; a session's attendance marked one participant at a time, one change each),
// writes it to its own storage, then connects to the server and times until the server says
// (on its control port, outside the measured link) that it holds and has stored every
// document at the heads the client made. The manifest (document id -> heads) is written for
// `fetch`.
//
// `fetch` is a new device: an empty repo that asks the server for every document of the
// manifest, and times until it holds them all at the manifest's heads, stored.
//
// Both print one JSON line of results on stdout.

import fs from "node:fs";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";

const [mode, wsUrl, controlUrl, ...rest] = process.argv.slice(2);

const sameHeads = (a, b) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** Connects `repo` to the server and resolves once the server is a peer. */
async function connect(repo, url) {
  const peered = new Promise((resolve) => repo.networkSubsystem.once("peer", resolve));
  repo.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(url));
  await peered;
}

/** The record as a document: its fields, attendance filled in afterwards one mark at a time. */
function initial(record) {
  const doc = { ...record };
  if (record.kind === "session") doc.attendance = {};
  return doc;
}

async function push([workload, dir, manifestOut]) {
  const records = JSON.parse(fs.readFileSync(workload, "utf8"));
  const repo = new Repo({ storage: new NodeFSStorageAdapter(dir) });
  const t0 = performance.now();
  const handles = [];
  for (const record of records) {
    const handle = repo.create(initial(record));
    for (const [pid, mark] of Object.entries(
      record.kind === "session" ? record.attendance : {},
    )) {
      handle.change((d) => {
        d.attendance[pid] = mark;
      });
    }
    handles.push(handle);
  }
  await repo.flush();
  const captureMs = performance.now() - t0;
  const manifest = Object.fromEntries(handles.map((h) => [h.documentId, h.heads()]));
  fs.writeFileSync(manifestOut, JSON.stringify(manifest));

  const t1 = performance.now();
  await connect(repo, wsUrl);
  const answer = await fetch(`${controlUrl}/await`, {
    method: "POST",
    body: JSON.stringify(manifest),
  });
  if (!answer.ok) throw new Error(`control answered ${answer.status}`);
  const server = await answer.json();
  const syncMs = performance.now() - t1;
  console.log(
    JSON.stringify({
      documents: handles.length,
      capture_ms: captureMs,
      sync_ms: syncMs,
      server_rss: server.rss,
    }),
  );
}

async function fetchAll([manifestPath, dir]) {
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
  const repo = new Repo({ storage: new NodeFSStorageAdapter(dir) });
  const t0 = performance.now();
  await connect(repo, wsUrl);
  const ids = Object.keys(manifest);
  const handles = await Promise.all(ids.map((id) => repo.find(id)));
  for (const [i, handle] of handles.entries()) {
    if (!sameHeads(handle.heads(), manifest[ids[i]])) {
      throw new Error(`document ${ids[i]} arrived at other heads`);
    }
  }
  await repo.flush();
  const ms = performance.now() - t0;
  console.log(
    JSON.stringify({
      documents: handles.length,
      fetch_ms: ms,
      client_rss: process.memoryUsage().rss,
    }),
  );
}

if (mode === "push") {
  await push(rest);
} else if (mode === "fetch") {
  await fetchAll(rest);
} else {
  console.error("usage: node client.mjs push|fetch <ws-url> <control-url> ...");
  process.exit(2);
}
// Open sockets and save timers would keep the process alive; everything is stored by now.
process.exit(0);
