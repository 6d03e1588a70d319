// automerge-repo sync server for the field-day benchmark's side-by-side figures.
//
//   node server.mjs <storage-dir>
//
// Listens on two ports of 127.0.0.1 and prints them as one JSON line on stdout:
// {"ws": <port>, "control": <port>}.
//
// * `ws`: a Repo with the WebSocket server adapter and Node file-system storage in
//   <storage-dir>, as automerge-repo's sync server is deployed. The benchmark puts its
//   byte-counting proxy in front of this port.
// * `control`: plain HTTP, never through the proxy. `POST /await` with a JSON object mapping
//   document ids to heads answers once this server holds every one of those documents at
//   those heads and has written them to storage (`Repo.flush`), with the process's memory.
//
// It runs until killed.

import http from "node:http";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import { WebSocketServer } from "ws";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node server.mjs <storage-dir>");
  process.exit(2);
}

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise((resolve) => wss.on("listening", resolve));
const repo = new Repo({
  // Pings every 60 s rather than the default 5 s: a client busy loading 1,800 documents on a
  // loaded machine can miss a 5 s ping and be cut off mid-sync.
  network: [new WebSocketServerAdapter(wss, 60_000)],
  storage: new NodeFSStorageAdapter(dir),
  // A sync server keeps documents it is sent and gives them to whoever asks by id.
  sharePolicy: async () => false,
});

const sameHeads = (a, b) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** Resolves once the repo holds every document of `wanted` (id -> heads) at those heads. */
function held(wanted) {
  const pending = new Map(Object.entries(wanted));
  return new Promise((resolve) => {
    const check = () => {
      for (const [id, heads] of pending) {
        const handle = repo.handles[id];
        if (handle && handle.isReady() && sameHeads(handle.heads(), heads)) {
          pending.delete(id);
        }
      }
      if (pending.size === 0) {
        resolve();
      } else {
        setTimeout(check, 5);
      }
    };
    check();
  });
}

const control = http.createServer(async (req, res) => {
  if (req.method !== "POST" || req.url !== "/await") {
    res.writeHead(404).end();
    return;
  }
  let body = "";
  for await (const chunk of req) body += chunk;
  const wanted = JSON.parse(body);
  await held(wanted);
  await repo.flush(Object.keys(wanted));
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      documents: Object.keys(wanted).length,
      rss: process.memoryUsage().rss,
    }),
  );
});
await new Promise((resolve) => control.listen(0, "127.0.0.1", resolve));

console.log(JSON.stringify({ ws: wss.address().port, control: control.address().port }));
