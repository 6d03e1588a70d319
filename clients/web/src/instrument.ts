// Questionnaires as data: an instrument is a `Definition` (its items, their answer scales and how
// they are scored) and one engine, `scoreWith`, scores any definition exactly as sync-core's
// `instrument::score` does, with results of the same JSON shape. The built-in definitions come
// from src/generated/schema.json (written by sync-core): no scoring fact is typed here.
// test/data/score_vectors.json, also written by sync-core, holds sync-core's results for a set
// of answers per instrument, and the tests check this engine against every one.

import generated from "./generated/schema.json";

// ---------- definitions (the JSON of sync-core/src/instrument.rs) ----------

/** One answer value with its label. */
export interface ScaleValue {
  value: number;
  label?: string;
}

/** A range (`min`..`max`, optionally labelling some values), or a list of `values`. */
export interface Scale {
  min?: number;
  max?: number;
  values?: ScaleValue[];
}

/** One question; `text` is absent when the wording is licensed. */
export interface Item {
  number: number;
  key?: string;
  scale: Scale;
  text?: string;
  /** An answer `v` counts as `min + max - v`. */
  reverse?: boolean;
}

export type Method = "sum" | "mean" | "per_item";

/** Every scored item answered (`"all"`, the default), or at least `min_answered` (means only). */
export type Complete = "all" | { min_answered: number };

export interface LookupRow {
  raw: number;
  score: number;
}

/** A named range of scores, both ends included. */
export interface Band {
  name: string;
  label?: string;
  min: number;
  max: number;
}

export interface ReliableChange {
  points: number;
  label?: string;
  source?: string;
}

/** Bands (and direction) for some items of a `per_item` instrument. */
export interface ItemGroup {
  items: number[];
  bands?: Band[];
  higher_is_better?: boolean;
}

/** How answers become a score; the scores in `also` each have a `name`. */
export interface Scoring {
  name?: string;
  method: Method;
  subset?: number[];
  lookup?: LookupRow[];
  complete?: Complete;
  bands?: Band[];
  higher_is_better: boolean;
  reliable_change?: ReliableChange[];
  per_item?: ItemGroup[];
  also?: Scoring[];
}

export interface Code {
  system: string;
  code: string;
  display?: string;
  note?: string;
}

/** One questionnaire: its items and how they are scored. */
export interface Definition {
  id: string;
  version: number;
  name: string;
  description?: string;
  licensed_wording?: boolean;
  items: Item[];
  scoring: Scoring;
  codes?: Code[];
  sources?: string[];
}

// ---------- results (the JSON of sync-core's `Scored`) ----------

/** One total score. Absent fields are absent, as in sync-core's JSON. */
export interface Total {
  name?: string;
  /** The sum (a whole number) or mean of the scored answers, after reversing. */
  raw: number;
  /** Looked up from `raw`, or `raw` itself. */
  score: number;
  band?: string;
  answered: number;
  /** Scored items left unanswered (only where the rule allows some); absent when none. */
  missing?: number[];
}

/** One answer of a per-item instrument. */
export interface ItemAnswer {
  number: number;
  key?: string;
  value: number;
  label?: string;
  band?: string;
}

export type Scored =
  | { status: "total"; total: Total; also?: Total[] }
  | { status: "per_item"; answers: ItemAnswer[] }
  | { status: "incomplete"; missing: number[]; reason: string };

/** Answers by item number. */
export type Answers = Readonly<Record<number, number | undefined>>;

// ---------- the built-ins ----------

/** The built-in definitions (WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS), as sync-core emits them. */
export const BUILTINS: readonly Definition[] = (generated as unknown as { instruments: Definition[] }).instruments;

/** The built-in definition with this id. */
export function builtin(id: string): Definition | undefined {
  return BUILTINS.find((d) => d.id === id);
}

// ---------- scales and rules ----------

/** The lowest and highest allowed answer, if the scale has any. */
export function bounds(scale: Scale): [number, number] | undefined {
  if (scale.min !== undefined && scale.max !== undefined) return [scale.min, scale.max];
  const values = (scale.values ?? []).map((v) => v.value);
  return values.length ? [Math.min(...values), Math.max(...values)] : undefined;
}

/** Whether `v` is an allowed answer (a whole number in the range, or one of the values). */
export function allows(scale: Scale, v: number): boolean {
  if (!Number.isInteger(v)) return false;
  if (scale.min !== undefined && scale.max !== undefined) return v >= scale.min && v <= scale.max;
  return (scale.values ?? []).some((x) => x.value === v);
}

/** The allowed answers in order (a range listed out). */
export function allowed(scale: Scale): number[] {
  if (scale.min !== undefined && scale.max !== undefined) {
    return Array.from({ length: scale.max - scale.min + 1 }, (_, i) => scale.min! + i);
  }
  return [...new Set((scale.values ?? []).map((v) => v.value))].sort((a, b) => a - b);
}

/** The label of answer `v`, if it has one. */
export function labelOf(scale: Scale, v: number): string | undefined {
  return scale.values?.find((x) => x.value === v)?.label;
}

/** The value an answer counts as (reversed if the item is reverse-scored). */
export function scoredValue(item: Item, answer: number): number {
  const b = bounds(item.scale);
  return item.reverse && b ? b[0] + b[1] - answer : answer;
}

/** The band a score falls in (the first whose range holds it), if any. */
export function bandOf(bands: readonly Band[] | undefined, score: number): Band | undefined {
  return bands?.find((b) => b.min <= score && score <= b.max);
}

/** The reported score for a raw total, from a rule's lookup table. */
export function lookupScore(rule: Scoring, raw: number): number | undefined {
  return rule.lookup?.find((r) => r.raw === raw)?.score;
}

/** The further score named `name` (`swemwbs` of WEMWBS). */
export function alsoNamed(rule: Scoring, name: string): Scoring | undefined {
  return rule.also?.find((s) => s.name === name);
}

/** For `per_item`: the group an item belongs to. */
export function groupOf(rule: Scoring, item: number): ItemGroup | undefined {
  return rule.per_item?.find((g) => g.items.includes(item));
}

/** The item numbered `number`. */
export function itemOf(def: Definition, number: number): Item | undefined {
  return def.items.find((i) => i.number === number);
}

/** The items a rule scores, in item-number order (unknown numbers skipped, each once). */
export function scoredItems(def: Definition, rule: Scoring): Item[] {
  const items = rule.subset ? rule.subset.map((n) => itemOf(def, n)).filter((i): i is Item => i !== undefined) : [...def.items];
  items.sort((a, b) => a.number - b.number);
  return items.filter((item, k) => k === 0 || items[k - 1]!.number !== item.number);
}

// ---------- the engine ----------

function missingOf(items: readonly Item[], answers: Answers): number[] {
  return items
    .filter((i) => {
      const v = answers[i.number];
      return v === undefined || !allows(i.scale, v);
    })
    .map((i) => i.number);
}

function enough(rule: Scoring, scored: number, missing: number): boolean {
  const c = rule.complete ?? "all";
  return c === "all" ? missing === 0 : scored - missing >= Math.max(c.min_answered, 1);
}

function total(rule: Scoring, items: readonly Item[], answers: Answers, missing: number[]): Total {
  const values = items.filter((i) => !missing.includes(i.number)).map((i) => scoredValue(i, answers[i.number]!));
  const sum = values.reduce((a, v) => a + v, 0);
  const raw = rule.method === "mean" && values.length > 0 ? sum / values.length : sum;
  // A validated table covers every possible total.
  const score = rule.lookup && rule.method === "sum" ? (lookupScore(rule, sum) ?? Number.NaN) : raw;
  const out: Total = { raw, score, answered: values.length };
  if (rule.name !== undefined) out.name = rule.name;
  const band = bandOf(rule.bands, score);
  if (band) out.band = band.name;
  if (missing.length) out.missing = missing;
  return out;
}

/**
 * Scores a response against a definition, as sync-core does. An answer the item's scale does not
 * allow (including a fraction) counts as missing, and numbers that are not items are ignored. A
 * form missing answers the rule needs is not scored, and the result says which items are missing:
 * a missing answer never counts as zero.
 */
export function scoreWith(def: Definition, answers: Answers): Scored {
  const rule = def.scoring;
  const items = scoredItems(def, rule);
  const missing = missingOf(items, answers);
  const n = items.length;
  const answered = n - missing.length;
  if (!enough(rule, n, missing.length)) {
    const list = missing.join(", ");
    const plural = missing.length === 1 ? "" : "s";
    const head = `${def.id} is not scored: ${answered} of ${n} items answered; missing item${plural} ${list}.`;
    const c = rule.complete ?? "all";
    const reason =
      c === "all"
        ? `${head} The scale gives no rule for missing answers, so an incomplete form has no score.`
        : `${head} At least ${c.min_answered} answers are needed for a score.`;
    return { status: "incomplete", missing, reason };
  }
  if (rule.method === "per_item") {
    return {
      status: "per_item",
      answers: items
        .filter((item) => !missing.includes(item.number))
        .map((item) => {
          const value = answers[item.number]!;
          const a: ItemAnswer = { number: item.number, value };
          if (item.key !== undefined) a.key = item.key;
          const label = labelOf(item.scale, value);
          if (label !== undefined) a.label = label;
          const band = bandOf(groupOf(rule, item.number)?.bands, value);
          if (band) a.band = band.name;
          return a;
        }),
    };
  }
  const also: Total[] = [];
  for (const sub of rule.also ?? []) {
    const subItems = scoredItems(def, sub);
    const subMissing = missingOf(subItems, answers);
    if (enough(sub, subItems.length, subMissing.length)) also.push(total(sub, subItems, answers, subMissing));
  }
  const out: Scored = { status: "total", total: total(rule, items, answers, missing) };
  if (also.length) out.also = also;
  return out;
}

/** Scores a response to a built-in instrument; undefined when there is no such instrument. */
export function scoreBuiltin(id: string, answers: Answers): Scored | undefined {
  const def = builtin(id);
  return def && scoreWith(def, answers);
}

// ---------- the catalogue: built-ins plus each project's own definitions ----------
//
// As sync-core's catalogue (`instrument::define`, `lookup`, ...): a project's own definitions
// arrive in the sync set-up (`setup.projects[].definitions`, every version), which the device
// keeps in IndexedDB; `useSetup` makes them known to this page, at start-up and after every sync
// that brings a set-up. A definition that has responses only ever changes compatibly, so every
// version the device holds checks and scores a response as the server does.

/** The project's own definitions known to this page: project, then id, then version. */
const PROJECT_DEFINITIONS = new Map<string, Map<string, Map<number, Definition>>>();

/** Makes a project's definition known (replacing the same id and version). Built-in ids are
 * never replaced: `lookup` finds the built-in first. */
export function define(project: string, def: Definition): void {
  let ids = PROJECT_DEFINITIONS.get(project);
  if (!ids) PROJECT_DEFINITIONS.set(project, (ids = new Map()));
  let versions = ids.get(def.id);
  if (!versions) ids.set(def.id, (versions = new Map()));
  versions.set(def.version, def);
}

/** What `useSetup` reads of a set-up (the `Setup` of the sync protocol). */
export interface DefinitionsSetup {
  projects?: readonly { project: string; definitions?: readonly Definition[] }[];
}

/** Makes the definitions of a set-up the project definitions known to this page (those of any
 * earlier set-up are forgotten: the set-up the device keeps is the whole of what it knows). */
export function useSetup(setup: DefinitionsSetup | undefined): void {
  PROJECT_DEFINITIONS.clear();
  for (const p of setup?.projects ?? []) for (const def of p.definitions ?? []) define(p.project, def);
}

/**
 * The definition a response of `project` names: a built-in by its id (whose only version is
 * its own, 1), else the project's own definition of that id and `version` (1 when the response
 * gives none).
 */
export function lookup(project: string, id: string, version?: number): Definition | undefined {
  const b = builtin(id);
  if (b) return (version ?? b.version) === b.version ? b : undefined;
  return PROJECT_DEFINITIONS.get(project)?.get(id)?.get(version ?? 1);
}

const byVersion = (versions: Map<number, Definition>) => [...versions.values()].sort((a, b) => a.version - b.version);
const ids = (project: string) => [...(PROJECT_DEFINITIONS.get(project)?.entries() ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The newest version of each of a project's own definitions, by id. */
export function projectLatest(project: string): Definition[] {
  return ids(project).map(([, versions]) => byVersion(versions).at(-1)!);
}

/** Every version of every definition a project has, by id, oldest version first. */
export function projectAll(project: string): Definition[] {
  return ids(project).flatMap(([, versions]) => byVersion(versions));
}

/** The instrument ids a response of `project` may name, built-ins first. */
export function knownIds(project: string): string[] {
  return [...BUILTINS.map((d) => d.id), ...projectLatest(project).map((d) => d.id)];
}

/** The definitions a form offers in `project`: every built-in, then the newest version of each of
 * the project's own (an id the project defines that a built-in has is the built-in's). */
export function offered(project: string): Definition[] {
  return [...BUILTINS, ...projectLatest(project).filter((d) => !builtin(d.id))];
}

/** Whether `def` is one of the built-ins (a response to it carries no `instrument_version`). */
export function isBuiltin(def: Definition): boolean {
  return builtin(def.id) === def;
}

/** The allowed answers of a scale in words, as sync-core says them: `1 to 5` or `one of 1, 2, 4`. */
export function answersOf(scale: Scale): string {
  if (scale.min !== undefined && scale.max !== undefined) return `${scale.min} to ${scale.max}`;
  return `one of ${(scale.values ?? []).map((v) => v.value).join(", ")}`;
}
