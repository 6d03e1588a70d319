import assert from "node:assert/strict";
import { test } from "node:test";
import { BUILTINS, bounds, builtin, lookup, scoreWith, type Answers, type Definition, type Scored } from "../src/instrument";
import { ONS4_ITEMS, SWEMWBS_ITEMS_IN_WEMWBS } from "../src/scoring";
import vectorsFile from "./data/score_vectors.json";

// Written by sync-core (sync-core/tests/web_vectors.rs): its scores for a fixed set of answers.
const vectors = vectorsFile as unknown as {
  definitions: Definition[];
  cases: { instrument: string; answers: Record<string, number>; scored: Scored }[];
};

function definition(id: string): Definition {
  const def = builtin(id) ?? vectors.definitions.find((d) => d.id === id);
  assert.ok(def, `no definition ${id}`);
  return def;
}

test("the engine gives sync-core's result for every answer set of every built-in and further definition", () => {
  const ids = [...BUILTINS, ...vectors.definitions].map((d) => d.id);
  assert.deepEqual(ids.slice(0, 5), ["WEMWBS", "SWEMWBS", "ONS4", "UCLA3", "ONS_LONELINESS"]);
  assert.equal(new Set(ids).size, ids.length, "the further definitions are not built-ins");
  const seen = new Map<string, Set<string>>();
  for (const c of vectors.cases) {
    const answers: Answers = Object.fromEntries(Object.entries(c.answers).map(([k, v]) => [Number(k), v]));
    assert.deepEqual(scoreWith(definition(c.instrument), answers), c.scored, `${c.instrument} ${JSON.stringify(c.answers)}`);
    const statuses = seen.get(c.instrument) ?? new Set();
    seen.set(c.instrument, statuses.add(c.scored.status));
  }
  for (const id of ids) {
    const statuses = seen.get(id);
    assert.ok(statuses?.has("incomplete") && (statuses.has("total") || statuses.has("per_item")), `${id} has scored and unscored cases`);
  }
  // Every engine path is covered: lookups, further scores, means short of some answers, bands, labels.
  const results = vectors.cases.map((c) => c.scored);
  const totals = results.flatMap((s) => (s.status === "total" ? [s.total, ...(s.also ?? [])] : []));
  assert.ok(totals.some((t) => t.raw !== t.score), "a looked-up score");
  assert.ok(totals.some((t) => t.missing?.length), "a mean with answers missing");
  assert.ok(totals.some((t) => t.band) && totals.some((t) => !t.band), "totals with and without a band");
  assert.ok(results.some((s) => s.status === "total" && s.also?.length), "further scores");
  const answers = results.flatMap((s) => (s.status === "per_item" ? s.answers : []));
  assert.ok(answers.some((a) => a.label) && answers.some((a) => a.band) && answers.some((a) => !a.band), "per-item labels and bands");
});

test("UCLA3 sums three answers of 1 to 3 into totals 3 to 9, higher meaning lonelier, with no bands", () => {
  const ucla3 = definition("UCLA3");
  assert.equal(ucla3.scoring.higher_is_better, false);
  const totals = new Set<number>();
  for (const a of [1, 2, 3]) {
    for (const b of [1, 2, 3]) {
      for (const c of [1, 2, 3]) {
        const s = scoreWith(ucla3, { 1: a, 2: b, 3: c });
        assert.deepEqual(s, { status: "total", total: { raw: a + b + c, score: a + b + c, answered: 3 } });
        totals.add(a + b + c);
      }
    }
  }
  assert.deepEqual([...totals].sort((x, y) => x - y), [3, 4, 5, 6, 7, 8, 9]);
  const partial = scoreWith(ucla3, { 1: 3, 3: 3 });
  assert.equal(partial.status, "incomplete");
  assert.deepEqual(partial.status === "incomplete" && partial.missing, [2]);
  assert.deepEqual(scoreWith(ucla3, { 1: 3, 2: 4, 3: 3 }).status, "incomplete");
});

test("the ONS loneliness question reports the category answered, in ONS order", () => {
  const ons = definition("ONS_LONELINESS");
  const categories = ["Often/always", "Some of the time", "Occasionally", "Hardly ever", "Never"];
  categories.forEach((label, i) => {
    assert.deepEqual(scoreWith(ons, { 1: i + 1 }), { status: "per_item", answers: [{ number: 1, key: "lonely", value: i + 1, label }] });
  });
  for (const bad of [0, 6]) {
    const s = scoreWith(ons, { 1: bad });
    assert.equal(s.status, "incomplete", `answer ${bad}`);
  }
  assert.equal(ons.items[0]?.text, "How often do you feel lonely?");
});

test("a fraction or a missing answer is never scored, and never counts as zero", () => {
  const ucla3 = definition("UCLA3");
  const s = scoreWith(ucla3, { 1: 2, 2: 2.5, 3: 2 });
  assert.deepEqual(s, {
    status: "incomplete",
    missing: [2],
    reason:
      "UCLA3 is not scored: 2 of 3 items answered; missing item 2. The scale gives no rule for missing answers, so an incomplete form has no score.",
  });
  assert.deepEqual(scoreWith(ucla3, { 1: 2, 2: undefined, 3: 2 }).status, "incomplete");
});

test("item scales and the SWEMWBS and ONS4 constants come from the definitions", () => {
  const scales = (id: string) => lookup("any-project", id)!.items.map((i) => bounds(i.scale));
  assert.deepEqual(scales("WEMWBS"), Array(14).fill([1, 5]));
  assert.deepEqual(scales("SWEMWBS"), Array(7).fill([1, 5]));
  assert.deepEqual(scales("ONS4"), Array(4).fill([0, 10]));
  assert.deepEqual(scales("UCLA3"), Array(3).fill([1, 3]));
  assert.deepEqual(scales("ONS_LONELINESS"), [[1, 5]]);
  assert.equal(lookup("any-project", "PHQ9"), undefined);
  assert.equal(lookup("any-project", "wemwbs"), undefined, "ids are exact, as sync-core's");
  assert.deepEqual(SWEMWBS_ITEMS_IN_WEMWBS, [1, 2, 3, 6, 7, 9, 11]);
  assert.deepEqual(ONS4_ITEMS, ["life_satisfaction", "worthwhile", "happy", "anxious"]);
});
