// Instrument wording: the project's own when the set-up supplies it; else the public wording an
// instrument's definition carries (ONS4's questions, a project's own instrument's items, for
// example); else neutral labels ("WEMWBS item 1") for licensed wording, which a deploying
// organisation supplies. The neutral labels and the built-in instruments' names are messages
// (`wellbeing.neutralItem`, `instrument.<ID>.name`); a project's own instrument's name is the
// project's.
import { has, t } from "./i18n";
import type { InstrumentWording, Setup } from "./protocol";
import { allowed, isBuiltin, labelOf, type Definition, type Item } from "./instrument";

/** An instrument's name for people: a built-in's in the app's language
 * (`instrument.<ID>.name`), a project's own as the project wrote it. */
export function instrumentName(def: Definition): string {
  const key = `instrument.${def.id}.name`;
  return isBuiltin(def) && has(key) ? t(key) : def.name;
}

/** The neutral label of an item whose wording the app does not have: "WEMWBS item 1". */
export const neutralItem = (def: Definition, item: Item | number): string =>
  t("wellbeing.neutralItem", { instrument: def.id, n: typeof item === "number" ? item : item.number });

/** The public wording of a definition, when every item carries its `text` (English). */
export function publicWording(def: Definition): InstrumentWording | undefined {
  if (def.licensed_wording || !def.items.every((i) => i.text)) return undefined;
  return {
    instrument: def.id,
    language: "en",
    version: 0,
    items: Object.fromEntries(def.items.map((i) => [String(i.number), i.text!])),
    responses: responsesOf(def),
  };
}

/** Labelled answers if the scales label any (ONS4: 0 and 10), else every answer as its number. */
function responsesOf(def: Definition): Record<string, string> {
  const responses: Record<string, string> = {};
  for (const item of def.items) {
    for (const v of item.scale.values ?? []) if (v.label && !(String(v.value) in responses)) responses[String(v.value)] = v.label;
  }
  if (Object.keys(responses).length === 0) {
    for (const item of def.items) for (const v of allowed(item.scale)) responses[String(v)] = String(v);
  }
  return responses;
}

/** The wording a definition gives by itself: its public wording, else each item's own text
 * where it has one and a neutral label ("WEMWBS item 1") where it has none. */
export function fallback(def: Definition): InstrumentWording {
  const own = publicWording(def);
  if (own) return own;
  const items: Record<string, string> = {};
  for (const i of def.items) items[String(i.number)] = (!def.licensed_wording && i.text) || neutralItem(def, i);
  const anyText = !def.licensed_wording && def.items.some((i) => i.text);
  return { instrument: def.id, language: anyText ? "en" : "", version: 0, items, responses: responsesOf(def) };
}

/** The wording the set-up supplies for an instrument in a project (preferring `lang`, else the
 * first supplied), if any. */
export function suppliedWording(setup: Setup | undefined, project: string, id: string, lang = "en"): InstrumentWording | undefined {
  const p = setup?.projects?.find((x) => x.project === project);
  const all = (p?.instruments ?? []).filter((w) => w.instrument === id);
  return all.find((w) => w.language === lang) ?? all[0];
}

/** The wording to show for an instrument in a project: the set-up's, else the definition's own. */
export function wordingFor(setup: Setup | undefined, project: string, def: Definition, lang = "en"): InstrumentWording {
  return suppliedWording(setup, project, def.id, lang) ?? fallback(def);
}

/** The question for an item: the supplied wording's, else the item's own text, else a neutral
 * label ("WEMWBS item 1"). */
export function itemText(supplied: InstrumentWording | undefined, def: Definition, item: Item): string {
  return supplied?.items[String(item.number)] ?? ((!def.licensed_wording && item.text) || neutralItem(def, item));
}

/** The label of answer `v` to an item, if it has one other than the number itself: the supplied
 * wording's (a project's wording of a licensed scale), else the item scale's own. */
export function answerLabel(supplied: InstrumentWording | undefined, item: Item, v: number): string | undefined {
  const label = supplied?.responses[String(v)] ?? labelOf(item.scale, v);
  return label !== undefined && label !== String(v) ? label : undefined;
}
