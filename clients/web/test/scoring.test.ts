import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ons4Band, score, swemwbsMetric } from "../src/scoring";

const csv = readFileSync(new URL("../../../sync-core/tests/data/swemwbs_metric.csv", import.meta.url), "utf8");

test("SWEMWBS metric matches the published table (all 29 rows), directly and through a form", () => {
  let rows = 0;
  for (const line of csv.split("\n").slice(1).filter((l) => l.trim())) {
    const [raw, metric] = line.split(",").map((x) => x.trim());
    const r = Number(raw), m = Number(metric);
    assert.equal(swemwbsMetric(r), m, `raw ${r}`);
    const items: Record<number, number> = {};
    let left = r - 7;
    for (let i = 1; i <= 7; i++) {
      const add = Math.min(left, 4);
      items[i] = 1 + add;
      left -= add;
    }
    const s = score("SWEMWBS", items);
    assert.deepEqual(s, { status: "swemwbs", raw: r, metric: m });
    rows++;
  }
  assert.equal(rows, 29);
  assert.equal(swemwbsMetric(6), undefined);
  assert.equal(swemwbsMetric(36), undefined);
});

test("WEMWBS sums 14 items and derives SWEMWBS from items 1, 2, 3, 6, 7, 9, 11", () => {
  const items = Object.fromEntries([4, 3, 4, 5, 3, 4, 4, 3, 4, 5, 3, 4, 4, 3].map((v, i) => [i + 1, v]));
  const s = score("WEMWBS", items);
  assert.deepEqual(s, { status: "wemwbs", total: 53, swemwbs_raw: 4 + 3 + 4 + 4 + 4 + 4 + 3, swemwbs_metric: swemwbsMetric(26) });
  const lo = score("WEMWBS", Object.fromEntries(Array.from({ length: 14 }, (_, i) => [i + 1, 1])));
  assert.equal(lo.status === "wemwbs" && lo.total, 14);
  const hi = score("WEMWBS", Object.fromEntries(Array.from({ length: 14 }, (_, i) => [i + 1, 5])));
  assert.equal(hi.status === "wemwbs" && hi.total, 70);
});

test("incomplete or out-of-range forms are never scored", () => {
  const items = Object.fromEntries(Array.from({ length: 13 }, (_, i) => [i + 1, 3]));
  assert.deepEqual(score("WEMWBS", items), { status: "incomplete", missing: [14] });
  assert.deepEqual(score("SWEMWBS", { 1: 3, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 6 }), { status: "incomplete", missing: [7] });
});

test("ONS4 bands", () => {
  assert.equal(ons4Band(1, 4), "low");
  assert.equal(ons4Band(2, 6), "medium");
  assert.equal(ons4Band(3, 8), "high");
  assert.equal(ons4Band(1, 9), "very_high");
  assert.equal(ons4Band(4, 1), "very_low");
  assert.equal(ons4Band(4, 3), "low");
  assert.equal(ons4Band(4, 5), "medium");
  assert.equal(ons4Band(4, 10), "high");
  const s = score("ONS4", { 1: 7, 2: 8, 3: 5, 4: 2 });
  assert.equal(s.status, "ons4");
  assert.deepEqual(s.status === "ons4" && s.answers.map((a) => a.band), ["high", "high", "medium", "low"]);
});
