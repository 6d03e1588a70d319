import assert from "node:assert/strict";
import { test } from "node:test";
import { BUILTINS, builtin, type Definition } from "../src/instrument";
import type { Setup } from "../src/protocol";
import { answerLabel, fallback, itemText, suppliedWording, wordingFor } from "../src/wording";

const def = (id: string): Definition => builtin(id)!;

test("ONS4's public wording comes from its definition", () => {
  const w = fallback(def("ONS4"));
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
  const w = fallback(def("UCLA3"));
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
  const w = fallback(def("SWEMWBS"));
  assert.equal(w.language, "");
  assert.deepEqual(Object.values(w.items), Array.from({ length: 7 }, (_, i) => `SWEMWBS item ${i + 1}`));
  assert.deepEqual(w.responses, { "1": "1", "2": "2", "3": "3", "4": "4", "5": "5" });
  const own = { instrument: "SWEMWBS", language: "en", version: 3, items: { "1": "Own wording" }, responses: {} };
  const setup: Setup = { version: "1", projects: [{ project: "p", instruments: [own] }] };
  assert.deepEqual(wordingFor(setup, "p", def("SWEMWBS")), own);
  assert.deepEqual(wordingFor(setup, "other", def("ONS4")), fallback(def("ONS4")));
});

test("a project's own instrument: its items' text and answer labels, the supplied wording first", () => {
  const own: Definition = {
    id: "CONNECT",
    version: 2,
    name: "Feeling connected",
    items: [
      { number: 1, scale: { min: 1, max: 5, values: [{ value: 1, label: "Never" }, { value: 5, label: "Always" }] }, text: "I feel I belong here" },
      { number: 2, scale: { values: [{ value: 0, label: "No" }, { value: 1, label: "Yes" }] } },
    ],
    scoring: { method: "sum", higher_is_better: true },
  };
  const w = fallback(own);
  assert.deepEqual(w.items, { "1": "I feel I belong here", "2": "CONNECT item 2" });
  assert.equal(itemText(undefined, own, own.items[0]!), "I feel I belong here");
  assert.equal(itemText(undefined, own, own.items[1]!), "CONNECT item 2");
  // Each item's own labels, never another item's.
  assert.equal(answerLabel(undefined, own.items[0]!, 1), "Never");
  assert.equal(answerLabel(undefined, own.items[0]!, 3), undefined);
  assert.equal(answerLabel(undefined, own.items[1]!, 1), "Yes");
  const supplied = { instrument: "CONNECT", language: "cy", version: 1, items: { "2": "Rwy'n teimlo'n rhan o'r gymuned" }, responses: { "1": "Byth" } };
  const setup: Setup = { version: "1", projects: [{ project: "p", instruments: [supplied] }] };
  assert.equal(suppliedWording(setup, "p", "CONNECT"), supplied, "another language when it is the only one");
  assert.equal(suppliedWording(setup, "q", "CONNECT"), undefined);
  assert.equal(itemText(supplied, own, own.items[1]!), "Rwy'n teimlo'n rhan o'r gymuned");
  assert.equal(itemText(supplied, own, own.items[0]!), "I feel I belong here");
  assert.equal(answerLabel(supplied, own.items[0]!, 1), "Byth");
  // Licensed built-ins: the number alone until the project supplies labels.
  assert.equal(answerLabel(undefined, def("WEMWBS").items[0]!, 3), undefined);
  assert.equal(itemText(undefined, def("WEMWBS"), def("WEMWBS").items[0]!), "WEMWBS item 1");
});
