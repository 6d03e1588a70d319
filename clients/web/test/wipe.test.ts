// A withdrawn device wipes itself (docs/protocol.md, "Wipe"): against a small HTTP server that
// answers the sync with `401 wipe` and takes (or cannot yet take) the confirmation. The
// transaction is the in-memory stand-in for IndexedDB.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import * as A from "@automerge/automerge/slim";
import { storedFrom } from "../src/device";
import { createRecord, editRecord, type Doc } from "../src/records";
import { buildRequest, send } from "../src/sync";
import { afterWipe, isWipeOrder, obeyWipe, sendConfirmation, type RunWrite, type WipeNote, type WipeStore } from "../src/wipe";
import { MemoryStore } from "./memory";
import { initAutomerge } from "./wasm";

const ME = "daf70e345b69069ce9a5865db6e60aee";
const NOW = 1795645050;
const PROJECT = "highland-heritage";
const STORY = "Seals hauled out on the skerry below Ardtoe";
const ID = {
  synced: "0192f0c4-0000-7000-8000-0000000000a1",
  edited: "0192f0c4-0000-7000-8000-0000000000a2",
  story: "0192f0c4-0000-7000-8000-0000000000a3",
};

/** The fake server: the sync is always answered `401 wipe`; the confirmation as `confirmStatus`
 * says. Confirmations received are kept. */
const fake = { confirmStatus: 200, confirmations: [] as unknown[], syncs: 0 };
let server: Server;
let base = "";

before(async () => {
  await initAutomerge();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.url === "/api/v1/sync") {
        fake.syncs++;
        return reply(401, { error: { code: "wipe", message: "this device has been withdrawn by an admin" } });
      }
      if (req.url === "/api/v1/devices/wipe") {
        if (req.headers.authorization !== "Bearer bd1_x") return reply(401, { error: { code: "unauthorized", message: "no" } });
        if (fake.confirmStatus !== 200) return reply(fake.confirmStatus, { error: { code: "unavailable", message: "try later" } });
        fake.confirmations.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        return reply(200, { device_id: "d1", wipe_confirmed_at: NOW, lost_records: 2, lost_changes: 3 });
      }
      reply(404, { error: { code: "not_found", message: req.url } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const participant = (code: string) => createRecord(ME, "participant", PROJECT, [["code", code], ["consent.data_use", true]], NOW);

/** A device holding a synced participant, a synced one edited since (one change unsynced), and
 * a story never synced, edited once (two changes), with a copy set aside and a report. */
function device(): MemoryStore {
  const store = new MemoryStore();
  store.metas.set("identity", { server: base, deviceId: "d1", deviceToken: "bd1_x", actor: ME, user: { id: "u1", username: "morag" }, memberships: [{ project: PROJECT, role: "researcher" }] });
  store.metas.set("cursor", { seq: 40 });
  store.metas.set("lastSync", NOW - 60);
  const synced = participant("K7Q2-0001");
  store.records.set(ID.synced, storedFrom(ID.synced, synced, A.getHeads(synced), NOW));
  let edited: Doc = participant("K7Q2-0002");
  const acked = A.getHeads(edited);
  edited = editRecord(edited, NOW + 5, (e) => e.set("imd_decile", 3)).doc;
  store.records.set(ID.edited, storedFrom(ID.edited, edited, acked, NOW + 5));
  let story: Doc = createRecord(ME, "story", PROJECT, [["title", "Seals"], ["author", "morag"], ["consent_scope", "project"], ["body", STORY]], NOW + 10);
  story = editRecord(story, NOW + 20, (e) => e.set("title", "Seals at Ardtoe")).doc;
  store.records.set(ID.story, storedFrom(ID.story, story, null, NOW + 20));
  store.setAside.push({ recordId: ID.synced, kind: "participant", project: PROJECT, doc: A.save(synced), reason: "refused", at: NOW });
  store.reports.push({ recordId: ID.synced, kind: "flagged", code: "x", message: "check", at: NOW });
  return store;
}

const runOn =
  (store: MemoryStore): RunWrite =>
  (fn) =>
    fn(store as unknown as WipeStore);

/** Sync as the app does (`syncOnce`): build, send, and on `401 wipe`, obey. */
async function syncAndObey(store: MemoryStore): Promise<WipeNote> {
  const out = await buildRequest(store);
  const err = await send(out).then(
    () => assert.fail("the sync should be refused"),
    (e: unknown) => e,
  );
  assert.ok(isWipeOrder(err), `a wipe order: ${String(err)}`);
  return (await obeyWipe(out.identity, runOn(store), (n) => sendConfirmation(n), NOW + 100)).note;
}

test("a withdrawn device lists what it loses, deletes everything and confirms once", async () => {
  fake.confirmStatus = 200;
  fake.confirmations = [];
  const store = device();
  const note = await syncAndObey(store);

  assert.equal(note.state, "confirmed");
  assert.deepEqual(
    note.lost.map((l) => [l.record_id, l.kind, l.project, l.unsynced_changes, l.last_edited_at]),
    [
      [ID.edited, "participant", PROJECT, 1, NOW + 5],
      [ID.story, "story", PROJECT, 2, NOW + 20],
    ],
  );
  // Nothing is left but the note, which holds neither the credential nor the server's address.
  assert.equal(store.records.size, 0);
  assert.equal(store.setAside.length, 0);
  assert.equal(store.reports.length, 0);
  assert.deepEqual([...store.metas.keys()], ["wipe"]);
  const kept = store.metas.get("wipe") as WipeNote;
  assert.equal(kept.state, "confirmed");
  assert.equal(kept.deviceToken, undefined);
  assert.equal(kept.server, undefined);
  assert.ok(!JSON.stringify(kept).includes("Seals"));

  // The server got the list, and nothing that names anyone.
  assert.equal(fake.confirmations.length, 1);
  const sent = fake.confirmations[0] as { wiped_at: number; lost: Record<string, unknown>[] };
  assert.equal(sent.wiped_at, NOW + 100);
  assert.equal(sent.lost.length, 2);
  for (const l of sent.lost) assert.deepEqual(Object.keys(l).sort(), ["kind", "last_edited_at", "project", "record_id", "unsynced_changes"]);
  const body = JSON.stringify(sent);
  for (const secret of [STORY, "Seals", "K7Q2", "morag"]) assert.ok(!body.includes(secret), `${secret} in ${body}`);

  // Before each sync: the note again (the sync ends with it), and no second confirmation.
  const again = await afterWipe(runOn(store), (n) => sendConfirmation(n));
  assert.equal(again?.state, "confirmed");
  assert.equal(fake.confirmations.length, 1);
  // Enrolled again: the note is dropped.
  store.metas.set("identity", { server: base, deviceId: "d2", deviceToken: "bd1_y", actor: ME, user: { id: "u1", username: "morag" }, memberships: [] });
  assert.equal(await afterWipe(runOn(store), (n) => sendConfirmation(n)), undefined);
  assert.equal(store.metas.has("wipe"), false);
});

test("a confirmation the server cannot take yet is kept and sent before the next sync", async () => {
  fake.confirmStatus = 503;
  fake.confirmations = [];
  const store = device();
  const note = await syncAndObey(store);
  assert.equal(note.state, "pending");
  assert.equal(store.records.size, 0);
  const kept = store.metas.get("wipe") as WipeNote;
  assert.equal(kept.deviceToken, "bd1_x", "the withdrawn credential is kept until the confirmation is sent");
  assert.equal(kept.lost.length, 2);

  fake.confirmStatus = 200;
  const later = await afterWipe(runOn(store), (n) => sendConfirmation(n));
  assert.equal(later?.state, "confirmed");
  assert.equal(fake.confirmations.length, 1);
  assert.equal((store.metas.get("wipe") as WipeNote).deviceToken, undefined);
  assert.equal(fake.syncs > 0, true);
});

test("no network: the confirmation waits; a refusal ends it", async () => {
  const note: WipeNote = { wipedAt: NOW, lost: [], state: "pending", server: "http://127.0.0.1:9", deviceToken: "bd1_x" };
  assert.deepEqual(await sendConfirmation(note), { state: "pending" });
  const refusing = async () => new Response(JSON.stringify({ error: { code: "no_wipe_ordered", message: "no wipe was ordered" } }), { status: 409 });
  assert.deepEqual(await sendConfirmation({ ...note, server: base }, refusing), { state: "refused", refusal: "no wipe was ordered (no_wipe_ordered)" });
  const confirmedEarlier = async () => new Response(JSON.stringify({ error: { code: "wipe_already_confirmed", message: "already" } }), { status: 409 });
  assert.deepEqual(await sendConfirmation({ ...note, server: base }, confirmedEarlier), { state: "confirmed" });
});
