import assert from "node:assert/strict";
import { test } from "node:test";
import { BUILTINS } from "../src/instrument";
import type { Setup } from "../src/protocol";
import { fallback, wordingFor } from "../src/wording";

test("ONS4's public wording comes from its definition", () => {
  const w = fallback("ONS4");
  assert.equal(w.instrument, "ONS4");
  assert.equal(w.language, "en");
  assert.deepEqual(w.items, {
    "1": "Overall, how satisfied are you with your life nowadays?",
    "2": "Overall, to what extent do you feel that the things you do in your life are worthwhile?",
    "3": "Overall, how happy did you feel yesterday?",
    "4": "Overall, how anxious did you feel yesterday?",
  });
  assert.deepEqual(w.responses, { "0": "Not at all", "10": "Completely" });
});

test("other public instruments take their items' text and answer labels", () => {
  const w = fallback("UCLA3");
  assert.deepEqual(w.items, {
    "1": "How often do you feel that you lack companionship?",
    "2": "How often do you feel left out?",
    "3": "How often do you feel isolated from others?",
  });
  assert.deepEqual(w.responses, { "1": "Hardly ever or never", "2": "Some of the time", "3": "Often" });
});

test("licensed wording is never built in: neutral labels until the project supplies it", () => {
  for (const def of BUILTINS.filter((d) => d.licensed_wording)) {
    assert.ok(def.items.every((i) => i.text === undefined), def.id);
  }
  const w = fallback("SWEMWBS");
  assert.equal(w.language, "");
  assert.deepEqual(Object.values(w.items), Array.from({ length: 7 }, (_, i) => `SWEMWBS item ${i + 1}`));
  assert.deepEqual(w.responses, { "1": "1", "2": "2", "3": "3", "4": "4", "5": "5" });
  const own = { instrument: "SWEMWBS", language: "en", version: 3, items: { "1": "Own wording" }, responses: {} };
  const setup: Setup = { version: "1", projects: [{ project: "p", instruments: [own] }] };
  assert.deepEqual(wordingFor(setup, "p", "SWEMWBS"), own);
  assert.deepEqual(wordingFor(setup, "other", "ONS4"), fallback("ONS4"));
});
