// Conflicts on the phone: two devices set the same field to different values concurrently; the
// phone lists each competing value in words, and keeping one (a new write of it) ends the
// conflict, on this device and on the other once it has the change. Text fields merge instead.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as A from "@automerge/automerge/slim";
import { createRecord, editRecord, view, type Doc } from "../src/records";
import { conflictsOf, fieldName, recordName, valueText, type Names } from "../src/ui/conflicts";
import type { Loaded } from "../src/device";
import { installFakeDocument } from "./fakedom";
import { initAutomerge } from "./wasm";

before(async () => {
  installFakeDocument();
  await initAutomerge();
});

const PHONE = "daf70e345b69069ce9a5865db6e60aee";
const LAPTOP = "0b5e1c2d3e4f5a6b7c8d9e0f1a2b3c4d";
const NOW = 1795645050;
const PROJECT = "highland-heritage";
const ELDER = "0192f0c4-0000-7000-8000-0000000000e1";
const SESSION = "0192f0c4-0000-7000-8000-0000000000a1";

const asActor = (doc: Doc, actor: string): Doc => A.load(A.save(doc), { actor });

function session(): Doc {
  return createRecord(
    PHONE,
    "session",
    PROJECT,
    [
      ["site", "ullapool-hall"],
      ["activity", "heritage-crafts"],
      ["activity_type", "heritage"],
      ["start", "2026-11-25T10:00:00Z"],
      [`attendance.${ELDER}`, "present"],
    ],
    NOW,
  );
}

/** The phone and the laptop each edit the same session offline, then merge. */
function concurrent(phoneEdit: (d: Doc) => Doc, laptopEdit: (d: Doc) => Doc): { phone: Doc; laptop: Doc } {
  const base = session();
  const phone = phoneEdit(asActor(base, PHONE));
  const laptop = laptopEdit(asActor(base, LAPTOP));
  return { phone: A.merge(phone, laptop), laptop: A.merge(laptop, phone) };
}

const set = (path: string, value: string | number | boolean) => (d: Doc) => editRecord(d, NOW + 60, (e) => e.set(path, value)).doc;

function names(doc: Doc): Names {
  const participant = createRecord(PHONE, "participant", PROJECT, [["code", "K7Q2-0001"], ["consent.data_use", true]], NOW);
  const contact = createRecord(PHONE, "contact", PROJECT, [["participant", ELDER], ["name", "Ailsa Mackay"]], NOW);
  const loaded = (id: string, d: Doc): Loaded => ({ id, view: view(d)!, heads: A.getHeads(d), unsynced: false });
  const records = new Map<string, Loaded>([
    [ELDER, loaded(ELDER, participant)],
    [SESSION, loaded(SESSION, doc)],
  ]);
  return { records, contacts: new Map([[ELDER, view(contact)!.s("name")!]]) };
}

test("concurrent values of a field and of an attendance mark are listed, with who wrote each", () => {
  const { phone } = concurrent(
    (d) => set(`attendance.${ELDER}`, "left_early")(set("site", "gairloch-hall")(d)),
    (d) => set(`attendance.${ELDER}`, "absent")(set("site", "poolewe-hall")(d)),
  );
  const found = conflictsOf(phone);
  assert.deepEqual(
    found.map((c) => c.path),
    [`attendance.${ELDER}`, "site"],
  );
  const site = found.find((c) => c.path === "site")!;
  assert.deepEqual(site.values.map((v) => v.value).sort(), ["gairloch-hall", "poolewe-hall"]);
  assert.deepEqual(site.values.map((v) => v.actor).sort(), [LAPTOP, PHONE].sort());
  // The value the document shows comes first.
  assert.equal(site.values[0]!.value, phone.site.val);
});

test("conflicts are named in words: the record, the participant marked, the mark", () => {
  const { phone } = concurrent(set(`attendance.${ELDER}`, "left_early"), set(`attendance.${ELDER}`, "absent"));
  const n = names(phone);
  const [c] = conflictsOf(phone);
  assert.equal(fieldName("session", c!.path, n), "Attendance: Ailsa Mackay (K7Q2-0001)");
  assert.deepEqual(c!.values.map((v) => valueText("session", c!.path, v.value, n)).sort(), ["Absent", "Left early"]);
  assert.match(recordName(SESSION, "session", n), /^Session heritage-crafts · ullapool-hall · /);
  assert.equal(valueText("session", "activity_type", "heritage", n), "Heritage");
  // A map's field is named, and its choice worded, by its path.
  assert.equal(fieldName("participant", "consent.data_use", n), "Consent: Agrees to their data being used");
  assert.equal(valueText("participant", "referral.source", "link_worker", n), "Link worker");
  assert.equal(valueText("participant", "referral.date", "2026-03-29", n), "29 Mar 2026");
});

test("keeping one value, even the one shown, ends the conflict here and on the other device", () => {
  const { phone, laptop } = concurrent(set("activity_type", "arts"), set("activity_type", "nature"));
  assert.equal(conflictsOf(phone).length, 1);
  for (const chosen of [phone.activity_type.val as string, phone.activity_type.val === "arts" ? "nature" : "arts"]) {
    const kept = editRecord(A.clone(phone), NOW + 120, (e) => e.set("activity_type", chosen));
    assert.ok(kept.changed, `keeping ${chosen} wrote a change`);
    assert.deepEqual(conflictsOf(kept.doc), [], `no conflict left after keeping ${chosen}`);
    assert.equal(view(kept.doc)!.s("activity_type"), chosen);
    // The other device, once it has the change, shows the kept value with no conflict.
    const there = A.merge(A.clone(laptop), kept.doc);
    assert.deepEqual(conflictsOf(there), []);
    assert.equal(view(there)!.s("activity_type"), chosen);
  }
});

test("the same value written on two devices is no conflict, and text fields merge", () => {
  const same = concurrent(set("site", "gairloch-hall"), set("site", "gairloch-hall")).phone;
  assert.deepEqual(conflictsOf(same), []);
  const notes = concurrent(
    (d) => editRecord(d, NOW + 60, (e) => e.set("notes", "Rain all day.")).doc,
    (d) => editRecord(d, NOW + 60, (e) => e.set("notes", "Tea at three.")).doc,
  ).phone;
  assert.deepEqual(conflictsOf(notes), []);
});
