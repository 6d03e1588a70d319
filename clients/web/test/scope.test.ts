// What a device may hold (docs/protocol.md, the sync answer's `withdrawn` and `replaced`): after
// each answer the sync client deletes the records the server withdrew and those of a project or
// kind the user's roles are not sent, except one with unsent changes its role may still write
// (a peer worker's new contact record goes to the server first, then leaves the phone); and it
// deletes a record the server rewrote, history and all, before merging the server's copy. The
// server is played by hand-made answers; the transaction is an in-memory stand-in for IndexedDB.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as A from "@automerge/automerge/slim";
import { storedFrom } from "../src/device";
import { uuidBytes, type Cursor, type SyncResponse } from "../src/protocol";
import { createRecord, editRecord, view, type Doc } from "../src/records";
import type { Membership } from "../src/store";
import { applyAnswer, buildRequest, purgeUnreceivable, syncRounds, type SyncSummary } from "../src/sync";
import { MemoryStore } from "./memory";
import { initAutomerge } from "./wasm";

before(initAutomerge);

const ME = "daf70e345b69069ce9a5865db6e60aee";
const OTHER = "0b5e1c2d3e4f5a6b7c8d9e0f1a2b3c4d";
const SERVER = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
const NOW = 1795645050;
const PROJECT = "highland-heritage";
const ELSEWHERE = "island-voices";
const ID = {
  person: "0192f0c4-0000-7000-8000-00000000c001",
  contact: "0192f0c4-0000-7000-8000-00000000c002",
  session: "0192f0c4-0000-7000-8000-00000000c003",
  story: "0192f0c4-0000-7000-8000-00000000c004",
  wellbeing: "0192f0c4-0000-7000-8000-00000000c005",
  theirContact: "0192f0c4-0000-7000-8000-00000000c006",
  away: "0192f0c4-0000-7000-8000-00000000c007",
};

const participant = (actor: string, code: string) => createRecord(actor, "participant", PROJECT, [["code", code], ["consent.data_use", true]], NOW);
const contact = (actor: string, person: string, name: string) =>
  createRecord(actor, "contact", PROJECT, [["participant", person], ["name", name], ["phone", "07700 900123"], ["postcode_district", "IV26"]], NOW);
const session = (actor: string, project = PROJECT) =>
  createRecord(actor, "session", project, [["site", "ullapool-hall"], ["activity", "weaving"], ["activity_type", "heritage"], ["start", "2026-11-26T10:00:00Z"]], NOW);
const story = (actor: string) => createRecord(actor, "story", PROJECT, [["title", "Back at the loom"], ["author", "ruth"], ["consent_scope", "private"], ["body", "She wove again."]], NOW);
const wellbeing = (actor: string) =>
  createRecord(actor, "wellbeing", PROJECT, [["participant", ID.person], ["instrument", "SWEMWBS"], ["timepoint", "baseline"], ["date", "2026-11-26"]], NOW);

function answer(fields: Partial<SyncResponse> = {}): SyncResponse {
  const cursor: Cursor = { seq: 50 };
  return { unacked: [], reports: [], records: [], erased: [], withdrawn: [], replaced: [], cursor, more: false, server_time: NOW, reconcile: false, ...fields };
}

/** A device of `role` in PROJECT (plus `more` memberships), holding `records` by name: synced
 * (acked at their heads) unless named in `unsent`. */
function device(role: string, records: Partial<Record<keyof typeof ID, Doc>>, unsent: (keyof typeof ID)[] = [], more: Membership[] = []): MemoryStore {
  const store = new MemoryStore();
  store.metas.set("identity", {
    server: "https://bothy.example.org",
    deviceId: "d1",
    deviceToken: "bd1_x",
    actor: ME,
    user: { id: "u1", username: "ruth" },
    memberships: [{ project: PROJECT, role }, ...more],
  });
  store.metas.set("cursor", { seq: 40 });
  for (const [name, doc] of Object.entries(records) as [keyof typeof ID, Doc][]) {
    store.records.set(ID[name], storedFrom(ID[name], doc, unsent.includes(name) ? null : A.getHeads(doc), NOW));
  }
  return store;
}

const held = (store: MemoryStore) => [...store.records.keys()].sort();
const ids = (...names: (keyof typeof ID)[]) => names.map((n) => ID[n]).sort();

test("a peer worker's new contact record is sent, kept until acknowledged, then removed", async () => {
  const store = device("peer_worker", { person: participant(ME, "K7Q2-0001"), contact: contact(ME, ID.person, "Ailsa Mackay"), session: session(ME) }, ["person", "contact"]);
  // The server does not take the contact in this round (it asks for it again): it stays.
  const first = await buildRequest(store);
  assert.deepEqual(first.request.push!.length, 2, "the participant and the contact are sent");
  const unacked = await applyAnswer(store, first, answer({ unacked: [uuidBytes(ID.contact)] }), NOW + 1);
  assert.equal(unacked.withdrawn, 0);
  assert.deepEqual(held(store), ids("person", "contact", "session"), "an unacknowledged contact stays on the phone");
  // Acknowledged: it leaves the phone in the same transaction; nothing is lost.
  const second = await buildRequest(store);
  assert.deepEqual(second.request.push!.length, 1);
  const summary = await applyAnswer(store, second, answer(), NOW + 2);
  assert.equal(summary.acked, 1);
  assert.equal(summary.withdrawn, 1);
  assert.equal(summary.lost, 0);
  assert.deepEqual(held(store), ids("person", "session"));
  assert.equal((await buildRequest(store)).request.push!.length, 0, "nothing left to send");
});

test("a researcher keeps the contact records they write and receive", async () => {
  const store = device("researcher", { person: participant(ME, "K7Q2-0001"), contact: contact(ME, ID.person, "Ailsa Mackay") }, ["person", "contact"]);
  const out = await buildRequest(store);
  const theirs = contact(OTHER, ID.person, "Ailsa M.");
  const summary = await applyAnswer(store, out, answer({ records: [{ id: uuidBytes(ID.theirContact), kind: "contact", project: PROJECT, data: { snapshot: A.save(theirs) } }] }), NOW + 1);
  assert.equal(summary.received, 1);
  assert.equal(summary.withdrawn, 0);
  assert.deepEqual(held(store), ids("person", "contact", "theirContact"));
});

test("a record the server withdraws is deleted even though its kind is still received", async () => {
  const store = device("researcher", { person: participant(ME, "K7Q2-0001"), story: story(OTHER), session: session(ME) });
  store.reports.push({ recordId: ID.story, kind: "flagged", code: "c", message: "m", at: NOW });
  const out = await buildRequest(store);
  const summary = await applyAnswer(store, out, answer({ withdrawn: [uuidBytes(ID.story), uuidBytes(ID.away)] }), NOW + 1);
  assert.equal(summary.withdrawn, 1, "only the record held counts");
  assert.equal(summary.lost, 0);
  assert.deepEqual(held(store), ids("person", "session"));
  assert.deepEqual(store.reports, [], "its reports go with it");
});

test("a withdrawn record with unsent changes is deleted, and its changes counted as lost", async () => {
  const mine = editRecord(A.load(A.save(story(OTHER)), { actor: ME }), NOW + 5, (e) => e.set("body", "She wove again, and taught.")).doc;
  const store = device("researcher", { story: mine, session: session(ME) }, ["story"]);
  // The push was cut short before it (as a split push would be): the server never saw the edit.
  const out = { ...(await buildRequest(store)), pushedHeads: new Map<string, string[]>() };
  const summary = await applyAnswer(store, out, answer({ withdrawn: [uuidBytes(ID.story)] }), NOW + 1);
  assert.equal(summary.withdrawn, 1);
  assert.equal(summary.lost, 1);
  assert.deepEqual(held(store), ids("session"));
});

test("a change of role in the answer's set-up removes what the new role is not sent", async () => {
  // A researcher made a peer worker: stories, questionnaires and contact records go; a story
  // written offline goes too (a peer worker may not send it: the server would refuse it), and
  // is counted as lost; an unsent participant stays, to be sent.
  const store = device(
    "researcher",
    { person: participant(ME, "K7Q2-0001"), contact: contact(ME, ID.person, "Ailsa Mackay"), session: session(ME), story: story(ME), wellbeing: wellbeing(ME) },
    ["person", "story"],
  );
  const out = { ...(await buildRequest(store)), pushedHeads: new Map<string, string[]>() };
  const summary = await applyAnswer(store, out, answer({ setup: { version: "v2", roles: { [PROJECT]: "peer_worker" } } }), NOW + 1);
  assert.equal(summary.withdrawn, 3);
  assert.equal(summary.lost, 1);
  assert.deepEqual(held(store), ids("person", "session"));
  assert.deepEqual((await store.meta("identity"))!.memberships, [{ project: PROJECT, role: "peer_worker" }]);
});

test("records of a project the user has left are removed; without known roles nothing is", async () => {
  const store = device("researcher", { session: session(ME), away: session(ME, ELSEWHERE) }, [], [{ project: ELSEWHERE, role: "coordinator" }]);
  const out = await buildRequest(store);
  const summary = await applyAnswer(store, out, answer({ setup: { version: "v3", roles: { [PROJECT]: "researcher" } } }), NOW + 1);
  assert.equal(summary.withdrawn, 1);
  assert.deepEqual(held(store), ids("session"));

  const unknown = device("analyst", { session: session(ME) });
  assert.deepEqual(await purgeUnreceivable(unknown, new Set(), undefined), { gone: 0, lost: 0 });
  assert.deepEqual(held(unknown), ids("session"));
  assert.deepEqual(await purgeUnreceivable(unknown, new Set(), [{ project: PROJECT, role: "analyst" }]), { gone: 1, lost: 0 }, "an analyst is sent nothing");
});

test("a replaced record is deleted, history and all, before the server's copy is merged", async () => {
  // The old document (another actor's history) and the server's rewrite of it share an id but
  // no history: merged, they would hold both; replaced, the device holds exactly the new one.
  const old = participant(OTHER, "ZZ11-0001");
  const store = device("peer_worker", { person: old, session: session(ME) });
  const rewritten = participant(SERVER, "ZZ11-0001");
  for (const data of [{ snapshot: A.save(rewritten) }, { changes: A.getAllChanges(rewritten) }]) {
    store.records.set(ID.person, storedFrom(ID.person, old, A.getHeads(old), NOW));
    const out = await buildRequest(store);
    const summary = await applyAnswer(store, out, answer({ replaced: [uuidBytes(ID.person)], records: [{ id: uuidBytes(ID.person), kind: "participant", project: PROJECT, data }] }), NOW + 1);
    assert.equal(summary.replaced, 1);
    assert.equal(summary.received, 1);
    assert.equal(summary.lost, 0);
    const kept = store.records.get(ID.person)!;
    assert.deepEqual(kept.heads.slice().sort(), A.getHeads(rewritten).slice().sort(), "only the server's copy");
    assert.deepEqual(kept.acked?.slice().sort(), kept.heads.slice().sort(), "in sync with the server");
    const doc = A.load(kept.doc);
    assert.equal(A.getAllChanges(doc).length, A.getAllChanges(rewritten).length, "none of the old history");
    assert.equal(view(doc)!.s("code"), "ZZ11-0001");
  }
});

test("a replaced record whose copy comes later is deleted now; unsent changes to it are counted lost", async () => {
  const mine = editRecord(A.load(A.save(participant(OTHER, "ZZ11-0002")), { actor: ME }), NOW + 5, (e) => e.set("imd_decile", 4)).doc;
  const store = device("researcher", { person: mine, session: session(ME) }, ["person"]);
  const out = { ...(await buildRequest(store)), pushedHeads: new Map<string, string[]>() };
  const summary = await applyAnswer(store, out, answer({ replaced: [uuidBytes(ID.person)], more: true }), NOW + 1);
  assert.equal(summary.replaced, 1);
  assert.equal(summary.lost, 1);
  assert.deepEqual(held(store), ids("session"));

  // Pushed in the same request, the change was carried over by the server: nothing is lost.
  const again = device("researcher", { person: mine }, ["person"]);
  const pushed = await buildRequest(again);
  assert.equal(pushed.request.push!.length, 1);
  const carried = await applyAnswer(again, pushed, answer({ replaced: [uuidBytes(ID.person)] }), NOW + 1);
  assert.deepEqual([carried.replaced, carried.lost], [1, 0]);
  assert.deepEqual(held(again), []);
});

test("records no longer received go before a reconciling answer makes everything unsent", async () => {
  const store = device("peer_worker", { person: participant(ME, "K7Q2-0001"), contact: contact(ME, ID.person, "Ailsa Mackay") });
  const out = await buildRequest(store);
  const summary = await applyAnswer(store, out, answer({ reconcile: true }), NOW + 1);
  assert.deepEqual([summary.withdrawn, summary.lost], [1, 0]);
  assert.deepEqual(held(store), ids("person"));
  assert.equal(store.records.get(ID.person)!.acked, null, "the rest is sent again whole");
});

test("the rounds of a sync add up what each removed", async () => {
  const round = (fields: Partial<SyncSummary>): SyncSummary => ({ requests: 1, pushed: 0, acked: 0, received: 0, setAside: 0, erased: 0, withdrawn: 0, replaced: 0, lost: 0, reports: [], more: false, reconciled: false, ...fields });
  const rounds = [round({ withdrawn: 2, replaced: 1, more: true }), round({ withdrawn: 1, lost: 1 })];
  let calls = 0;
  const total = await syncRounds(async () => rounds[calls++]!);
  assert.deepEqual([total.withdrawn, total.replaced, total.lost, total.requests], [3, 1, 1, 2]);
});
