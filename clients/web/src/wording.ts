// Instrument wording: the project's own when the set-up supplies it; else the public wording an
// instrument's definition carries (ONS4's questions, for example); else neutral labels
// ("WEMWBS item 1") for licensed wording, which a deploying organisation supplies.
import type { InstrumentWording, Setup } from "./protocol";
import { allowed, builtin, type Definition } from "./instrument";
import { itemRange } from "./schema";

/** The public wording of a definition, when every item carries its `text` (English). */
export function publicWording(def: Definition): InstrumentWording | undefined {
  if (def.licensed_wording || !def.items.every((i) => i.text)) return undefined;
  // Labelled answers if the scales label any (ONS4: 0 and 10), else every answer as its number.
  const responses: Record<string, string> = {};
  for (const item of def.items) {
    for (const v of item.scale.values ?? []) if (v.label && !(String(v.value) in responses)) responses[String(v.value)] = v.label;
  }
  if (Object.keys(responses).length === 0) {
    for (const item of def.items) for (const v of allowed(item.scale)) responses[String(v)] = String(v);
  }
  return {
    instrument: def.id,
    language: "en",
    version: 0,
    items: Object.fromEntries(def.items.map((i) => [String(i.number), i.text!])),
    responses,
  };
}

export function fallback(instrument: string): InstrumentWording {
  const def = builtin(instrument.toUpperCase());
  const own = def && publicWording(def);
  if (own) return own;
  const r = itemRange(instrument)!;
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
