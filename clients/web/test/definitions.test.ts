// A project's own instruments: decoded from the set-up, kept with it, looked up as sync-core
// looks them up, checked and scored offline.
import assert from "node:assert/strict";
import { before, beforeEach, test } from "node:test";
import { encode } from "../src/cbor";
import { BUILTINS, knownIds, lookup, offered, projectAll, projectLatest, scoreWith, useSetup, type Definition } from "../src/instrument";
import { definitionFrom, ProtocolError, responseFromCbor, type Setup } from "../src/protocol";
import { createRecord, editRecord, InvalidRecord, validate, type FieldValue } from "../src/records";
import { applyAnswer, buildRequest } from "../src/sync";
import { MemoryStore } from "./memory";
import { initAutomerge } from "./wasm";

before(initAutomerge);
beforeEach(() => useSetup(undefined));

const ACTOR = "daf70e345b69069ce9a5865db6e60aee";
const NOW = 1795645050;
const PROJECT = "highland-heritage";
const P = "0192f0c4-0000-7000-8000-00000000b001";
const BUILTIN_IDS = "WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS";

const labels = ["Never", "Rarely", "Sometimes", "Often", "Always"].map((label, i) => ({ value: i + 1, label }));
/** Five items answered 1 to 5, the fourth reverse-scored; a sum with three bands. */
const CONNECT_V1: Definition = {
  id: "CONNECT",
  version: 1,
  name: "Feeling connected",
  items: [
    { number: 1, key: "belong", scale: { min: 1, max: 5, values: labels }, text: "I feel I belong in my community" },
    { number: 2, key: "talk", scale: { min: 1, max: 5, values: labels }, text: "I have someone to talk to" },
    { number: 3, key: "welcome", scale: { min: 1, max: 5, values: labels }, text: "I feel welcome at the group" },
    { number: 4, key: "left_out", scale: { min: 1, max: 5, values: labels }, text: "I feel left out", reverse: true },
    { number: 5, key: "useful", scale: { min: 1, max: 5, values: labels }, text: "I feel useful to others" },
  ],
  scoring: {
    method: "sum",
    higher_is_better: true,
    bands: [
      { name: "low", label: "Low", min: 5, max: 11 },
      { name: "medium", label: "Medium", min: 12, max: 18 },
      { name: "high", label: "High", min: 19, max: 25 },
    ],
  },
};
/** Version 2: the fifth item answered only 1, 2 or 4. */
const CONNECT_V2: Definition = {
  ...CONNECT_V1,
  version: 2,
  items: [...CONNECT_V1.items.slice(0, 4), { number: 5, key: "useful", scale: { values: [{ value: 1 }, { value: 2 }, { value: 4 }] } }],
};
const SETUP: Setup = { version: "v1", projects: [{ project: PROJECT, sites: [{ slug: "hall", name: "Hall" }], definitions: [CONNECT_V1, CONNECT_V2] }] };

/** A response's fields. */
function response(instrument: string, items: Record<number, number>, version?: number): [string, FieldValue][] {
  const fields: [string, FieldValue][] = [["participant", P], ["instrument", instrument], ["timepoint", "baseline"], ["date", "2026-11-26"]];
  if (version !== undefined) fields.push(["instrument_version", version]);
  for (const [k, v] of Object.entries(items)) fields.push([`items.${k}`, v]);
  return fields;
}
/** What refusing the fields says, field by field. */
function refusal(fields: [string, FieldValue][], project = PROJECT): string {
  try {
    createRecord(ACTOR, "wellbeing", project, fields, NOW);
  } catch (e) {
    assert.ok(e instanceof InvalidRecord, String(e));
    return e.message;
  }
  assert.fail("not refused");
}

test("the set-up's definitions are decoded with the set-up, every version", () => {
  const cbor = encode({ cursor: { seq: 1 }, more: false, server_time: 1, setup: SETUP });
  const r = responseFromCbor(cbor);
  assert.deepEqual(r.setup?.projects?.[0]?.definitions, [CONNECT_V1, CONNECT_V2]);
  assert.deepEqual(r.setup?.projects?.[0]?.sites, [{ slug: "hall", name: "Hall" }]);
  // Fractions, `null` for an absent field, and a project with none.
  const withFractions = { ...CONNECT_V1, description: null, scoring: { ...CONNECT_V1.scoring, method: "mean", bands: [{ name: "low", min: 1, max: 2.5 }], complete: { min_answered: 3 } } };
  const other = responseFromCbor(encode({ cursor: { seq: 1 }, more: false, server_time: 1, setup: { version: "v2", projects: [{ project: "p", definitions: [withFractions] }, { project: "q" }] } }));
  const def = other.setup!.projects![0]!.definitions![0]!;
  assert.equal(def.description, undefined);
  assert.deepEqual(def.scoring.bands, [{ name: "low", min: 1, max: 2.5 }]);
  assert.deepEqual(def.scoring.complete, { min_answered: 3 });
  assert.equal(other.setup!.projects![1]!.definitions, undefined);
  // Every built-in reads back as itself: the decoder knows every field sync-core writes.
  for (const b of BUILTINS) assert.deepEqual(definitionFrom(JSON.parse(JSON.stringify(b))), b, b.id);
});

test("a malformed definition in the set-up is refused, naming the field", () => {
  const bad = (def: unknown) => {
    const cbor = encode({ cursor: { seq: 1 }, more: false, server_time: 1, setup: { version: "v", projects: [{ project: PROJECT, definitions: [CONNECT_V1, def] }] } });
    assert.throws(() => responseFromCbor(cbor), ProtocolError);
    try {
      responseFromCbor(cbor);
    } catch (e) {
      return (e as Error).message.replace("the sync response is malformed: expected ", "");
    }
  };
  const item4 = CONNECT_V1.items[3]!;
  const withItem = (item: unknown) => ({ ...CONNECT_V1, items: [...CONNECT_V1.items.slice(0, 3), item, CONNECT_V1.items[4]] });
  assert.equal(bad({ ...CONNECT_V1, version: "2" }), "setup.projects[0].definitions[1].version to be a whole number");
  assert.equal(bad(withItem({ ...item4, scale: { min: 1 } })), "setup.projects[0].definitions[1].items[3].scale to give both min and max, or neither");
  assert.equal(bad(withItem({ ...item4, scale: { min: 5, max: 1 } })), "setup.projects[0].definitions[1].items[3].scale to allow some answers (min to max, or values)");
  assert.equal(bad(withItem({ ...item4, reverse: "yes" })), "setup.projects[0].definitions[1].items[3].reverse to be true or false");
  assert.equal(bad(withItem({ ...item4, number: 1 })), "setup.projects[0].definitions[1].items to number each item once");
  assert.equal(bad({ ...CONNECT_V1, scoring: { ...CONNECT_V1.scoring, method: "median" } }), "setup.projects[0].definitions[1].scoring.method to be one of sum, mean, per_item");
  assert.equal(bad({ ...CONNECT_V1, scoring: { ...CONNECT_V1.scoring, bands: [{ name: "low", min: 1 }] } }), "setup.projects[0].definitions[1].scoring.bands[0].max to be a number");
  assert.equal(bad({ ...CONNECT_V1, items: [] }), "setup.projects[0].definitions[1].items to hold some items");
  assert.equal(bad("CONNECT"), "setup.projects[0].definitions[1] to be a map");
});

test("lookup: built-ins first, a project's own by id and version (absent: 1)", () => {
  assert.equal(lookup(PROJECT, "CONNECT"), undefined, "unknown before the set-up");
  useSetup(SETUP);
  assert.equal(lookup(PROJECT, "CONNECT"), CONNECT_V1);
  assert.equal(lookup(PROJECT, "CONNECT", 1), CONNECT_V1);
  assert.equal(lookup(PROJECT, "CONNECT", 2), CONNECT_V2);
  assert.equal(lookup(PROJECT, "CONNECT", 3), undefined);
  assert.equal(lookup("another-project", "CONNECT"), undefined, "one project's instruments are its own");
  assert.equal(lookup(PROJECT, "WEMWBS")?.name, "Warwick-Edinburgh Mental Wellbeing Scale");
  assert.equal(lookup(PROJECT, "WEMWBS", 1)?.id, "WEMWBS");
  assert.equal(lookup(PROJECT, "WEMWBS", 2), undefined, "built-ins have version 1 only");
  assert.deepEqual(projectLatest(PROJECT), [CONNECT_V2]);
  assert.deepEqual(projectAll(PROJECT), [CONNECT_V1, CONNECT_V2]);
  assert.deepEqual(knownIds(PROJECT), [...BUILTINS.map((d) => d.id), "CONNECT"]);
  assert.deepEqual(knownIds("another-project"), BUILTINS.map((d) => d.id));
  assert.deepEqual(offered(PROJECT).map((d) => `${d.id} ${d.version}`), [...BUILTINS.map((d) => `${d.id} 1`), "CONNECT 2"]);
  // A built-in's id defined by a project stays the built-in.
  useSetup({ version: "v", projects: [{ project: PROJECT, definitions: [{ ...CONNECT_V1, id: "WEMWBS", version: 1 }] }] });
  assert.equal(lookup(PROJECT, "WEMWBS"), BUILTINS[0]);
  assert.deepEqual(offered(PROJECT), BUILTINS);
  // A later set-up is the whole of what is known.
  useSetup({ version: "v3", projects: [{ project: PROJECT }] });
  assert.equal(lookup(PROJECT, "CONNECT"), undefined);
});

test("a response is checked against its definition's items and scales, naming the field", () => {
  assert.equal(
    refusal(response("CONNECT", { 1: 4 })),
    `instrument: \`CONNECT\` is not an instrument of project ${PROJECT} (known: ${BUILTIN_IDS})`,
    "before the set-up is known",
  );
  useSetup(SETUP);
  const doc = createRecord(ACTOR, "wellbeing", PROJECT, response("CONNECT", { 1: 4, 2: 5, 3: 3, 4: 2, 5: 4 }, 2), NOW);
  assert.deepEqual(validate(doc), []);
  assert.equal(doc.instrument_version, 2);
  assert.deepEqual(validate(createRecord(ACTOR, "wellbeing", PROJECT, response("CONNECT", { 5: 3 }), NOW)), [], "version 1 when none is given");

  assert.equal(refusal(response("CONNECT", { 1: 4, 3: 7 }, 1)), "items.3: Must be 1 to 5 (got 7)");
  assert.equal(refusal(response("CONNECT", { 5: 3 }, 2)), "items.5: Must be one of 1, 2, 4 (got 3)");
  assert.equal(refusal(response("CONNECT", { 6: 1 }, 2)), "items.6: CONNECT has items 1 to 5");
  assert.equal(refusal(response("CONNECT", { 1: 4 }, 3)), `instrument_version: CONNECT has no version 3 in project ${PROJECT}`);
  assert.equal(refusal(response("CONNECT", { 1: 4 }, 0)), `instrument_version: CONNECT has no version 0 in project ${PROJECT}; instrument_version: Must be from 1 to 65535`);
  assert.equal(refusal(response("PHQ9", { 1: 1 })), `instrument: \`PHQ9\` is not an instrument of project ${PROJECT} (known: ${BUILTIN_IDS}, CONNECT)`);
  assert.equal(refusal(response("CONNECT", { 1: 4 }), "another-project"), `instrument: \`CONNECT\` is not an instrument of project another-project (known: ${BUILTIN_IDS})`);
  assert.equal(refusal(response("WEMWBS", { 1: 4 }, 2)), `instrument_version: WEMWBS has no version 2 in project ${PROJECT}`);
  // Built-ins keep their own scales: ONS4 answers 0 to 10, UCLA3 one of 1, 2, 3.
  assert.equal(refusal(response("ONS4", { 4: 11 })), "items.4: Must be 0 to 10 (got 11)");
  assert.equal(refusal(response("UCLA3", { 2: 0 })), "items.2: Must be one of 1, 2, 3 (got 0)");
  assert.equal(refusal(response("WEMWBS", { 15: 3 })), "items.15: WEMWBS has items 1 to 14");
  assert.equal(refusal(response("WEMWBS", { 2: 2.5 })), "items.2: Must be a whole number");
});

test("a response recorded offline stays editable when its definition is unknown here", () => {
  useSetup(SETUP);
  const doc = createRecord(ACTOR, "wellbeing", PROJECT, response("CONNECT", { 1: 4 }, 2), NOW);
  useSetup(undefined);
  assert.deepEqual(validate(doc).map((e) => e.field), ["instrument"]);
  const { doc: next, changed } = editRecord(doc, NOW + 1, (e) => e.set("timepoint", "end"));
  assert.equal(changed, true);
  assert.equal(next.timepoint.val, "end");
});

test("a project's own instrument is scored by the engine: reversed items, bands", () => {
  // 4 + 5 + 3 + (6 - 2) + 4 = 20: high.
  const s = scoreWith(CONNECT_V1, { 1: 4, 2: 5, 3: 3, 4: 2, 5: 4 });
  assert.deepEqual(s, { status: "total", total: { raw: 20, score: 20, band: "high", answered: 5 } });
  const low = scoreWith(CONNECT_V1, { 1: 1, 2: 2, 3: 1, 4: 5, 5: 2 });
  assert.deepEqual(low, { status: "total", total: { raw: 7, score: 7, band: "low", answered: 5 } });
  assert.equal(scoreWith(CONNECT_V1, { 1: 4, 2: 5, 3: 3, 4: 2 }).status, "incomplete");
});

test("the set-up's definitions are kept by the sync and known again after a reload", async () => {
  const store = new MemoryStore();
  store.metas.set("identity", {
    server: "https://bothy.example.org",
    deviceId: "d1",
    deviceToken: "bd1_x",
    actor: ACTOR,
    user: { id: "u1", username: "morag" },
    memberships: [{ project: PROJECT, role: "researcher" }],
  });
  const out = await buildRequest(store);
  const answer = responseFromCbor(encode({ cursor: { seq: 1 }, more: false, server_time: NOW, setup: SETUP }));
  await applyAnswer(store, out, answer, NOW);
  // What IndexedDB holds (a structured clone) is what the page knows after a reload.
  const kept = structuredClone(store.metas.get("setup")) as Setup;
  assert.deepEqual(kept.projects?.[0]?.definitions, [CONNECT_V1, CONNECT_V2]);
  useSetup(kept);
  assert.deepEqual(lookup(PROJECT, "CONNECT", 2), CONNECT_V2);
  assert.equal((await buildRequest(store)).request.setup, "v1", "the set-up's version is sent back");
  // An answer without a set-up keeps the one held.
  await applyAnswer(store, out, responseFromCbor(encode({ cursor: { seq: 2 }, more: false, server_time: NOW })), NOW);
  assert.deepEqual((store.metas.get("setup") as Setup).projects?.[0]?.definitions, [CONNECT_V1, CONNECT_V2]);
});
