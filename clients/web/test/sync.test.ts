// The sync client against a server restored from a backup (docs/protocol.md section 9.6): the
// answer that says `reconcile` makes the next request carry every record the device holds with
// its whole history, whoever authored it. The transaction is an in-memory stand-in for IndexedDB.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as A from "@automerge/automerge/slim";
import { storedFrom } from "../src/device";
import { decode, encode } from "../src/cbor";
import { requestCbor, uuidBytes, uuidText, type Cursor, type SyncResponse } from "../src/protocol";
import { createRecord, editRecord, type Doc } from "../src/records";
import { applyAnswer, buildRequest, syncRounds, type Outgoing, type SyncSummary } from "../src/sync";
import { MemoryStore } from "./memory";
import { initAutomerge } from "./wasm";

before(initAutomerge);

const ME = "daf70e345b69069ce9a5865db6e60aee";
const OTHER = "0b5e1c2d3e4f5a6b7c8d9e0f1a2b3c4d";
const NOW = 1795645050;
const PROJECT = "highland-heritage";
const OLD_GENERATION = new Uint8Array(16).fill(1);
const NEW_GENERATION = new Uint8Array(16).fill(2);
const ID = {
  mine: "0192f0c4-0000-7000-8000-000000000001",
  theirs: "0192f0c4-0000-7000-8000-000000000002",
  shared: "0192f0c4-0000-7000-8000-000000000003",
  edited: "0192f0c4-0000-7000-8000-000000000004",
  pulled: "0192f0c4-0000-7000-8000-000000000005",
};

const participant = (actor: string, code: string) => createRecord(actor, "participant", PROJECT, [["code", code], ["consent.data_use", true]], NOW);
const asActor = (doc: Doc, actor: string): Doc => A.load(A.save(doc), { actor });
const edited = (doc: Doc, decile: number): Doc => editRecord(doc, NOW + decile, (e) => e.set("imd_decile", decile)).doc;
const hashes = (changes: Uint8Array[]) => changes.map((c) => A.decodeChange(c).hash).sort();
const authors = (changes: Uint8Array[]) => [...new Set(changes.map((c) => A.decodeChange(c).actor))].sort();

function answer(fields: Partial<SyncResponse> & { cursor: Cursor }): SyncResponse {
  return { unacked: [], reports: [], records: [], erased: [], withdrawn: [], replaced: [], more: false, server_time: NOW, reconcile: false, ...fields };
}

/** A device in sync with its server except for one edit of its own, and a doc the restored
 * server holds that the device has never seen. */
function device(): { store: MemoryStore; docs: Record<string, Doc> } {
  const store = new MemoryStore();
  store.metas.set("identity", {
    server: "https://bothy.example.org",
    deviceId: "d1",
    deviceToken: "bd1_x",
    actor: ME,
    user: { id: "u1", username: "morag" },
    memberships: [{ project: PROJECT, role: "coordinator" }],
  });
  store.metas.set("cursor", { seq: 40, generation: OLD_GENERATION });
  const docs: Record<string, Doc> = {
    mine: participant(ME, "K7Q2-0001"),
    theirs: participant(OTHER, "ZZ11-0001"),
    shared: edited(asActor(participant(OTHER, "ZZ11-0002"), ME), 3),
    edited: participant(ME, "K7Q2-0002"),
    pulled: participant(OTHER, "ZZ11-0003"),
  };
  for (const name of ["mine", "theirs", "shared", "edited"] as const) {
    const doc = docs[name]!;
    store.records.set(ID[name], storedFrom(ID[name], doc, A.getHeads(doc), NOW));
  }
  // An edit made after the server acknowledged the record: unsynced.
  const before = store.records.get(ID.edited)!;
  docs.edited = edited(asActor(docs.edited!, ME), 7);
  store.records.set(ID.edited, storedFrom(ID.edited, docs.edited, before.acked, NOW + 1));
  return { store, docs };
}

const pushOf = (out: Outgoing) => new Map(out.request.push!.map((p) => [uuidText(p.id), p.changes ?? []]));

test("a device in sync sends only its new changes", async () => {
  const { store } = device();
  const out = await buildRequest(store);
  const push = pushOf(out);
  assert.deepEqual([...push.keys()], [ID.edited]);
  assert.equal(push.get(ID.edited)!.length, 1);
  assert.equal(out.request.pending, 1);
  assert.deepEqual(out.request.cursor, { seq: 40, generation: OLD_GENERATION });
});

test("after a reconciling answer every record is sent whole in the next request", async () => {
  const { store, docs } = device();
  const first = await buildRequest(store);
  const cursor = { seq: 3, generation: NEW_GENERATION };
  // The restored server stored the push, bootstraps the device (one page here, holding a record
  // the device lacked and one it holds) and says `reconcile`.
  const reconciling = answer({
    cursor,
    reconcile: true,
    records: [
      { id: uuidBytes(ID.pulled), kind: "participant", project: PROJECT, data: { snapshot: A.save(docs.pulled!) } },
      { id: uuidBytes(ID.theirs), kind: "participant", project: PROJECT, data: { snapshot: A.save(docs.theirs!) } },
    ],
  });
  const summary = await applyAnswer(store, first, reconciling, NOW + 2);
  assert.equal(summary.reconciled, true);
  assert.equal(summary.acked, 1);
  assert.equal(summary.received, 2);
  for (const r of store.records.values()) assert.equal(r.acked, null, `acked heads of ${r.id} forgotten`);
  assert.deepEqual(store.metas.get("cursor"), cursor);

  const second = await buildRequest(store);
  const push = pushOf(second);
  assert.deepEqual([...push.keys()].sort(), Object.values(ID).sort(), "every record the device holds");
  for (const [name, id] of Object.entries(ID)) {
    const whole = A.getAllChanges(A.load(store.records.get(id)!.doc));
    assert.deepEqual(hashes(push.get(id)!), hashes(whole), `${name} is sent with its whole history`);
  }
  assert.deepEqual(authors(push.get(ID.theirs)!), [OTHER], "a record holding only another actor's changes is sent too");
  assert.deepEqual(authors(push.get(ID.shared)!), [ME, OTHER].sort());
  assert.equal(second.request.pending, Object.keys(ID).length);
  assert.deepEqual(second.request.cursor, cursor, "the new generation is sent back");

  // The server acknowledges them all: the device is in sync again and sends nothing more.
  const after = await applyAnswer(store, second, answer({ cursor: { seq: 4, generation: NEW_GENERATION } }), NOW + 3);
  assert.equal(after.reconciled, false);
  assert.equal(after.acked, Object.keys(ID).length);
  assert.equal(pushOf(await buildRequest(store)).size, 0);
});

test("an answer without reconcile keeps the acked heads", async () => {
  const { store } = device();
  const out = await buildRequest(store);
  const summary = await applyAnswer(store, out, answer({ cursor: { seq: 41, generation: OLD_GENERATION } }), NOW + 2);
  assert.equal(summary.reconciled, false);
  for (const r of store.records.values()) assert.deepEqual(r.acked?.slice().sort(), r.heads.slice().sort(), r.id);
  assert.equal(pushOf(await buildRequest(store)).size, 0);
});

test("a bootstrap's position is kept between syncs and sent back as received", async () => {
  const { store } = device();
  const out = await buildRequest(store);
  const position: Cursor = { seq: 0, snapshot: { at: 41, after: uuidBytes(ID.pulled) }, generation: OLD_GENERATION };
  await applyAnswer(store, out, answer({ cursor: position, more: true }), NOW + 2);
  // The app keeps its cursor sealed as CBOR (src/store.ts): the record id stays 16 bytes.
  assert.deepEqual(decode(encode(await store.meta("cursor"))), position);
  const next = await buildRequest(store);
  assert.deepEqual(next.request.cursor, position);
  const sent = decode(requestCbor(next.request)) as { cursor: Cursor };
  assert.deepEqual(sent.cursor, position);
});

function round(fields: Partial<SyncSummary> = {}): SyncSummary {
  return { requests: 1, pushed: 0, acked: 0, received: 0, setAside: 0, erased: 0, withdrawn: 0, replaced: 0, lost: 0, reports: [], more: false, reconciled: false, ...fields };
}

test("a reconciling round is followed by another at once, within the round limit", async () => {
  const rounds = [round({ reconciled: true, received: 2 }), round({ pushed: 5, acked: 5 })];
  let calls = 0;
  const total = await syncRounds(async () => rounds[calls++]!);
  assert.equal(calls, 2);
  assert.equal(total.requests, 2);
  assert.equal(total.reconciled, true);
  assert.equal(total.pushed, 5);
  assert.equal(total.received, 2);

  calls = 0;
  const plain = await syncRounds(async () => (calls++, round()));
  assert.equal(calls, 1);
  assert.equal(plain.reconciled, false);

  calls = 0;
  const bounded = await syncRounds(async () => (calls++, round({ reconciled: true })), 3);
  assert.equal(calls, 3);
  assert.equal(bounded.requests, 3);
});

test("a bootstrap page may send a record as its only change: the device creates the record from it", async () => {
  const store = new MemoryStore();
  store.metas.set("identity", {
    server: "https://bothy.example.org",
    deviceId: "d2",
    deviceToken: "bd2_x",
    actor: ME,
    user: { id: "u1", username: "morag" },
    memberships: [{ project: PROJECT, role: "coordinator" }],
  });
  const once = participant(OTHER, "ZZ11-0009");
  const twice = edited(participant(OTHER, "ZZ11-0010"), 4);
  assert.equal(A.getAllChanges(once).length, 1, "written once: one change");
  const out = await buildRequest(store);
  const page = answer({
    cursor: { seq: 12, generation: NEW_GENERATION },
    records: [
      { id: uuidBytes(ID.pulled), kind: "participant", project: PROJECT, data: { changes: A.getAllChanges(once) } },
      { id: uuidBytes(ID.theirs), kind: "participant", project: PROJECT, data: { snapshot: A.save(twice) } },
    ],
  });
  const summary = await applyAnswer(store, out, page, NOW + 2);
  assert.equal(summary.received, 2);
  for (const [id, doc] of [[ID.pulled, once], [ID.theirs, twice]] as const) {
    const stored = store.records.get(id)!;
    const want = A.getHeads(doc).slice().sort();
    assert.deepEqual(A.getHeads(A.load(stored.doc)).slice().sort(), want, `the document of ${id}`);
    assert.deepEqual(stored.heads.slice().sort(), want, `the heads of ${id}`);
    assert.deepEqual(stored.acked?.slice().sort(), want, `what the server holds of ${id}`);
  }
  assert.deepEqual(store.metas.get("cursor"), { seq: 12, generation: NEW_GENERATION });
});
