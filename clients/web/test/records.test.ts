import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as A from "@automerge/automerge/slim";
import { createRecord, editRecord, InvalidRecord, validate, view } from "../src/records";
import { devicePrefix, participantCode } from "../src/code";
import { initAutomerge } from "./wasm";

const ACTOR = "daf70e345b69069ce9a5865db6e60aee";
const NOW = 1795645050;
const P = "0192f0c4-0000-7000-8000-00000000b001";
before(initAutomerge);

interface Op {
  action: string;
  obj: string;
  key?: string;
  value?: unknown;
  datatype?: string;
}
/** The operations of a record's first change, by key: what the server's layout check sees. */
function firstChange(doc: A.Doc<unknown>) {
  const changes = A.getAllChanges(doc);
  assert.equal(changes.length, 1, "a record is created in one change");
  const c = A.decodeChange(changes[0]!);
  assert.equal(c.actor, ACTOR);
  assert.equal(c.time, NOW);
  return c.ops as unknown as Op[];
}
const rootOps = (ops: Op[]) => Object.fromEntries(ops.filter((o) => o.obj === "_root").map((o) => [o.key, o]));

test("session: envelope, nested objects created once, scalar strings, ints", () => {
  const doc = createRecord(ACTOR, "session", "highland-heritage", [
    ["site", "ullapool-hall"],
    ["activity", "heritage-crafts"],
    ["activity_type", "heritage"],
    ["start", "2026-11-01T10:00:00Z"],
    ["facilitators.morag", true],
    ["unregistered_attendees", 2],
  ], NOW);
  const ops = firstChange(doc);
  const root = rootOps(ops);
  assert.deepEqual(Object.keys(root).sort(), ["activity", "activity_type", "attendance", "created", "facilitators", "kind", "notes", "project", "site", "start", "unregistered_attendees", "v"].sort());
  assert.equal(root.kind!.action, "set");
  assert.equal(root.kind!.value, "session");
  assert.equal(root.kind!.datatype ?? "str", "str");
  assert.equal(root.v!.datatype, "int");
  assert.equal(root.v!.value, 1);
  assert.equal(root.created!.datatype, "int");
  assert.equal(root.created!.value, NOW);
  assert.equal(root.unregistered_attendees!.datatype, "int");
  assert.equal(root.attendance!.action, "makeMap");
  assert.equal(root.facilitators!.action, "makeMap");
  assert.equal(root.notes!.action, "makeText");
  assert.equal(root.site!.action, "set");
  assert.equal(typeof root.site!.value, "string");
  assert.deepEqual(validate(doc), []);
  const v = view(doc)!;
  assert.equal(v.s("site"), "ullapool-hall");
  assert.deepEqual(v.set("facilitators"), ["morag"]);
  assert.equal(v.text("notes"), "");
});

test("every kind creates exactly its map, set and text fields", () => {
  const cases: [Parameters<typeof createRecord>[1], [string, string | number | boolean][], string[], string[]][] = [
    ["participant", [["code", "K7Q2-0001"], ["consent.data_use", true], ["imd_decile", 3]], ["consent", "referral"], []],
    ["contact", [["participant", P], ["name", "Ailsa"], ["phone", "07700 900123"], ["postcode_district", "IV26"], ["notes", "Mornings only"]], [], []],
    ["wellbeing", [["participant", P], ["instrument", "WEMWBS"], ["timepoint", "baseline"], ["date", "2026-11-01"], ["items.1", 4]], ["items"], []],
    ["story", [["title", "The loom"], ["author", "morag"], ["consent_scope", "private"], ["body", "It began."], ["themes.craft", true]], ["themes"], ["body"]],
  ];
  for (const [kind, fields, maps, texts] of cases) {
    const doc = createRecord(ACTOR, kind, "highland-heritage", fields, NOW);
    const root = rootOps(firstChange(doc));
    const made = (a: string) => Object.values(root).filter((o) => o.action === a).map((o) => o.key).sort();
    assert.deepEqual(made("makeMap"), maps.sort(), kind);
    assert.deepEqual(made("makeText"), texts, kind);
    assert.deepEqual(validate(doc), [], kind);
  }
});

test("direct identifiers belong to the contact record, not the participant", () => {
  const bad = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof InvalidRecord);
      return e.errors.map((x) => `${x.field}:${x.code}`);
    }
    assert.fail("not refused");
  };
  assert.deepEqual(bad(() => createRecord(ACTOR, "participant", "p", [["code", "K7Q2-0001"], ["identifiers.name", "Ailsa"]], NOW)), ["identifiers.name:not_a_field"]);
  assert.deepEqual(bad(() => createRecord(ACTOR, "participant", "p", [["code", "K7Q2-0001"], ["postcode_district", "IV26"]], NOW)), ["postcode_district:not_a_field"]);
  assert.deepEqual(bad(() => createRecord(ACTOR, "contact", "p", [["name", "Ailsa"], ["postcode_district", "IV26 8"]], NOW)).sort(), ["participant:required", "postcode_district:too_long"]);
  const contact = createRecord(ACTOR, "contact", "p", [["participant", P], ["postcode_district", "IV26"]], NOW);
  assert.equal(view(contact)!.s("participant"), P);
  assert.equal(view(contact)!.s("postcode_district"), "IV26");
});

test("a wellbeing item is an int keyed by its number as text", () => {
  const doc = createRecord(ACTOR, "wellbeing", "p", [["participant", P], ["instrument", "WEMWBS"], ["timepoint", "baseline"], ["date", "2026-11-01"], ["items.3", 5]], NOW);
  const ops = firstChange(doc);
  const item = ops.find((o) => o.key === "3")!;
  assert.equal(item.datatype, "int");
  assert.equal(item.value, 5);
});

test("invalid input is refused, naming the field", () => {
  const bad = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof InvalidRecord);
      return e.errors.map((x) => `${x.field}:${x.code}`);
    }
    assert.fail("not refused");
  };
  assert.deepEqual(bad(() => createRecord(ACTOR, "wellbeing", "p", [["participant", P], ["instrument", "WEMWBS"], ["timepoint", "baseline"], ["date", "2026-11-01"], ["items.3", 7]], NOW)), ["items.3:not_an_answer"]);
  assert.deepEqual(bad(() => createRecord(ACTOR, "wellbeing", "p", [["participant", P], ["instrument", "WEMWBS"], ["timepoint", "baseline"], ["date", "2026-02-30"]], NOW)), ["date:must_be_date"]);
  const s = createRecord(ACTOR, "session", "p", [["site", "a"], ["activity", "b"], ["activity_type", "arts"], ["start", "2026-11-01T10:00:00Z"]], NOW);
  assert.deepEqual(bad(() => editRecord(s, NOW + 1, (e) => e.set("end", "2026-11-01T09:00:00Z"))), ["end:end_before_start"]);
  assert.deepEqual(bad(() => createRecord(ACTOR, "session", "p", [["site", "a"], ["activity", "b"], ["activity_type", "arts"]], NOW)), ["start:required"]);
});

test("edits are one change each; text edits are character diffs into the same text object", () => {
  let doc = createRecord(ACTOR, "story", "p", [["title", "T"], ["author", "a"], ["consent_scope", "private"], ["body", "Hello world"]], NOW);
  const textId = A.getObjectId(doc, "body");
  ({ doc } = editRecord(doc, NOW + 5, (e) => e.set("body", "Hello there world")));
  assert.equal(A.getObjectId(doc, "body"), textId);
  assert.equal(A.getAllChanges(doc).length, 2);
  const c = A.decodeChange(A.getAllChanges(doc)[1]!);
  assert.equal(c.time, NOW + 5);
  assert.equal(view(doc)!.text("body"), "Hello there world");
  const res = editRecord(doc, NOW + 6, (e) => e.set("body", "Hello there world"));
  assert.equal(res.changed, false);
});

test("participant codes use the same device prefix as the terminal client", () => {
  const a = devicePrefix("0190a7e2-1111-7000-8000-000000000001");
  assert.equal(a, "J2A5", "the example in docs/protocol.md section 12");
  assert.equal(a, devicePrefix("0190A7E2-1111-7000-8000-000000000001"));
  assert.match(a, /^[0-9A-HJKMNP-TV-Z]{4}$/);
  assert.notEqual(a, devicePrefix("0190a7e2-1111-7000-8000-000000000002"));
  assert.equal(participantCode("K7Q2", 7), "K7Q2-0007");
  assert.equal(participantCode("K7Q2", 12345), "K7Q2-12345");
});

test("non-canonical ids are refused", () => {
  const bad = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof InvalidRecord);
      return e.errors.map((x) => `${x.field}:${x.code}`);
    }
    assert.fail("not refused");
  };
  for (const other of [P.toUpperCase(), P.replace(/-/g, ""), `{${P}}`]) {
    assert.deepEqual(bad(() => createRecord(ACTOR, "wellbeing", "p", [["participant", other], ["instrument", "WEMWBS"], ["timepoint", "baseline"], ["date", "2026-11-01"]], NOW)), ["participant:must_be_record_id"]);
    const s = createRecord(ACTOR, "session", "p", [["site", "a"], ["activity", "b"], ["activity_type", "arts"], ["start", "2026-11-01T10:00:00Z"], [`attendance.${P}`, "present"]], NOW);
    assert.deepEqual(bad(() => editRecord(s, NOW + 1, (e) => e.set(`attendance.${other}`, "present"))), [`attendance.${other}:attendance_key`]);
  }
});
