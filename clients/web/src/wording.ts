// Instrument wording: the project's own when the set-up supplies it, else neutral labels
// ("WEMWBS item 1"); ONS4's public wording is built in.
import type { InstrumentWording, Setup } from "./protocol";
import { itemRange } from "./schema";

export const ONS4_QUESTIONS = [
  "Overall, how satisfied are you with your life nowadays?",
  "Overall, to what extent do you feel that the things you do in your life are worthwhile?",
  "Overall, how happy did you feel yesterday?",
  "Overall, how anxious did you feel yesterday?",
];

export function fallback(instrument: string): InstrumentWording {
  const r = itemRange(instrument)!;
  if (instrument === "ONS4") {
    return {
      instrument,
      language: "en",
      licence: "ONS personal wellbeing questions: free to use",
      version: 0,
      items: Object.fromEntries(ONS4_QUESTIONS.map((q, i) => [String(i + 1), q])),
      responses: { "0": "Not at all", "10": "Completely" },
    };
  }
  const items: Record<string, string> = {};
  for (let i = 1; i <= r.count; i++) items[String(i)] = `${instrument} item ${i}`;
  const responses: Record<string, string> = {};
  for (let v = r.lo; v <= r.hi; v++) responses[String(v)] = String(v);
  return { instrument, language: "", version: 0, items, responses };
}

/** The wording to show for an instrument in a project (preferring `lang`, else the first supplied). */
export function wordingFor(setup: Setup | undefined, project: string, instrument: string, lang = "en"): InstrumentWording {
  const p = setup?.projects?.find((x) => x.project === project);
  const all = (p?.instruments ?? []).filter((w) => w.instrument === instrument);
  return all.find((w) => w.language === lang) ?? all[0] ?? fallback(instrument);
}
