// The snapshot of a record's values (src/snapshot.ts) must answer every question of the typed
// view exactly as the document does: the lists read it instead of the document.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as A from "@automerge/automerge/slim";
import { createRecord, editRecord, view, type Doc, type View } from "../src/records";
import { SCHEMA } from "../src/schema";
import { decodeState, encodeState, plainState, viewOfState } from "../src/snapshot";
import { storedFrom } from "../src/device";
import { initAutomerge } from "./wasm";

const ACTOR = "daf70e345b69069ce9a5865db6e60aee";
const OTHER = "0b5e7c9d1a2f3e4d5c6b7a8f9e0d1c2b";
const NOW = 1795645050;
const P = "0192f0c4-0000-7000-8000-00000000b001";
const Q = "0192f0c4-0000-7000-8000-00000000b002";
before(initAutomerge);

/** Every answer of a view, for every name asked in every way. */
function answers(v: View | undefined, names: string[]) {
  if (!v) return undefined;
  return {
    kind: v.kind,
    project: v.project,
    created: v.created,
    fields: Object.fromEntries(names.map((n) => [n, { s: v.s(n), i: v.i(n), b: v.b(n), text: v.text(n), map: Object.entries(v.map(n)), set: v.set(n) }])),
  };
}

/** The snapshot as stored and read back (through CBOR) gives the document's answers. */
function same(doc: Doc, what: string) {
  const names = [...new Set([...Object.keys(doc), ...Object.values(SCHEMA).flat().map((f) => f.name), "kind", "project", "v", "created", "nothing"])];
  const stored = decodeState(encodeState(plainState(doc)));
  const fromDoc = answers(view(doc), names);
  assert.ok(fromDoc || what.startsWith("no view"), `${what}: the document has a view`);
  assert.deepEqual(answers(viewOfState(stored), names), fromDoc, what);
}

test("a snapshot's view equals the document's for every kind of record", () => {
  same(createRecord(ACTOR, "session", "p", [["site", "ullapool-hall"], ["activity", "crafts"], ["activity_type", "heritage"], ["start", "2026-11-01T10:00:00Z"], ["end", "2026-11-01T12:00:00Z"], ["facilitators.morag", true], ["unregistered_attendees", 2], [`attendance.${P}`, "present"], [`attendance.${Q}`, "left_early"], ["notes", "Tea, then the loom."]], NOW), "session");
  same(createRecord(ACTOR, "participant", "p", [["code", "K7Q2-0001"], ["gender", "non_binary"], ["imd_decile", 4], ["consent.data_use", true], ["consent.contact", false], ["consent.date", "2026-11-02"], ["referral.source", "gp"]], NOW), "participant");
  same(createRecord(ACTOR, "contact", "p", [["participant", P], ["name", "Ailsa Mackenzie"], ["phone", "07700 900123"], ["postcode_district", "IV26"], ["notes", "Prefers texts"]], NOW), "contact");
  same(createRecord(ACTOR, "wellbeing", "p", [["participant", P], ["instrument", "WEMWBS"], ["timepoint", "baseline"], ["date", "2026-11-01"], ["items.1", 4], ["items.3", 5], ["items.14", 1]], NOW), "wellbeing");
  const story = createRecord(ACTOR, "story", "p", [["title", "Seals"], ["author", "morag"], ["consent_scope", "project"], ["body", "They came up by the pier."], ["themes.sea", true], ["themes.memory", true]], NOW);
  same(story, "story");
  // Edited: a set entry cleared, text changed, a scalar replaced.
  const { doc: edited } = editRecord(story, NOW + 5, (e) => {
    e.clear("themes.sea");
    e.set("body", "They came up by the old pier.");
    e.set("title", "Seals again");
  });
  same(edited, "story, edited");
});

test("a snapshot keeps what the view tells apart: scalar strings from text, ints, bools, maps", () => {
  // Values of the wrong type, as a record from elsewhere could hold them.
  const odd = A.change(A.init<Record<string, unknown>>({ actor: ACTOR }), (d: Record<string, any>) => {
    d.kind = new A.ImmutableString("story");
    d.project = new A.ImmutableString("p");
    d.created = new A.Int(NOW);
    d.title = "a text, not a scalar";
    d.body = new A.ImmutableString("a scalar, not a text");
    d.author = 7;
    d.consent_scope = true;
    d.ratio = 2.5;
    d.counted = new A.Counter(3);
    d.when = new Date(0);
    d.bytes = new Uint8Array([1, 2]);
    d.gone = null;
    d.list = [new A.ImmutableString("x")];
    d.themes = { sea: true, hills: false, word: new A.ImmutableString("not a bool"), n: 1 };
    d.mixed = { s: new A.ImmutableString("s"), t: "text inside", i: new A.Int(4), f: 1.5, b: false, inner: { x: true }, l: [1], c: new A.Counter(1), z: null };
  });
  same(odd, "odd values");
  const s = plainState(odd);
  assert.deepEqual(s.title, ["a text, not a scalar"], "text is marked as text");
  assert.equal(s.body, "a scalar, not a text", "a scalar string is a plain string");
  assert.equal(viewOfState(s)!.text("title"), "a text, not a scalar");
  assert.equal(viewOfState(s)!.s("title"), undefined);
  assert.equal(viewOfState(s)!.s("body"), "a scalar, not a text");
  assert.equal(viewOfState(s)!.text("body"), "");
  // No envelope: no view either way.
  const none = A.change(A.init<Record<string, unknown>>({ actor: ACTOR }), (d: Record<string, any>) => {
    d.kind = "story";
    d.project = new A.ImmutableString("p");
  });
  same(none, "no view: kind as text");
  assert.equal(viewOfState(plainState(none)), undefined);
});

test("a stored record carries its snapshot and whether it has conflicts", () => {
  const doc = createRecord(ACTOR, "session", "p", [["site", "hall"], ["activity", "b"], ["activity_type", "arts"], ["start", "2026-11-01T10:00:00Z"]], NOW);
  const row = storedFrom("0192f0c4-0000-7000-8000-00000000c001", doc, null, NOW);
  assert.equal(viewOfState(decodeState(row.state!))!.s("site"), "hall");
  assert.equal(row.conflicts, false);
  // Two devices set the site at once: a conflict.
  const there = editRecord(A.clone(doc, { actor: OTHER }), NOW + 1, (e) => e.set("site", "library")).doc;
  const here = editRecord(doc, NOW + 1, (e) => e.set("site", "church")).doc;
  const merged = A.merge(here, there);
  const both = storedFrom("0192f0c4-0000-7000-8000-00000000c001", merged, null, NOW + 2);
  assert.equal(both.conflicts, true);
  assert.equal(viewOfState(decodeState(both.state!))!.s("site"), view(merged)!.s("site"), "the value the document shows first");
  // Kept one: no conflict left.
  const kept = editRecord(merged, NOW + 3, (e) => e.set("site", "church")).doc;
  assert.equal(storedFrom("0192f0c4-0000-7000-8000-00000000c001", kept, null, NOW + 3).conflicts, false);
});

test("a snapshot of a record of thousands of fields decodes as it was", () => {
  const attendance: [string, string][] = Array.from({ length: 300 }, (_, i) => [`attendance.0192f0c4-0000-7000-8000-${String(i).padStart(12, "0")}`, i % 3 ? "present" : "absent"]);
  const doc = createRecord(ACTOR, "session", "p", [["site", "a"], ["activity", "b"], ["activity_type", "arts"], ["start", "2026-11-01T10:00:00Z"], ...attendance], NOW);
  same(doc, "a large session");
  assert.equal(Object.keys(viewOfState(decodeState(encodeState(plainState(doc))))!.map("attendance")).length, 300);
});
