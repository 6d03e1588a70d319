// Wellbeing scoring: the same results as the server, from the same instrument definitions (see
// instrument.ts); this module gives WEMWBS, SWEMWBS and ONS4 results the shape the screens use.
// An incomplete form is never scored.
import { alsoNamed, allows, bandOf, builtin, groupOf, itemOf, lookupScore, scoreWith, type Definition } from "./instrument";

function definition(id: string): Definition {
  const def = builtin(id);
  if (!def) throw new Error(`the generated schema has no built-in instrument ${id}`);
  return def;
}

const WEMWBS = definition("WEMWBS");
const SWEMWBS = definition("SWEMWBS");
const ONS4 = definition("ONS4");
/** The name of the further score a WEMWBS definition gives for its SWEMWBS items. */
const SWEMWBS_IN_WEMWBS = "swemwbs";

/** The WEMWBS item numbers that make up SWEMWBS (the WEMWBS definition's `swemwbs` score). */
export const SWEMWBS_ITEMS_IN_WEMWBS: number[] = [...(alsoNamed(WEMWBS.scoring, SWEMWBS_IN_WEMWBS)?.subset ?? [])];
/** Names of the four ONS4 items, in item order (the ONS4 definition's item keys). */
export const ONS4_ITEMS: string[] = ONS4.items.map((i) => i.key ?? String(i.number));

/** The SWEMWBS metric score for a raw score, or undefined outside the table (7..35). */
export function swemwbsMetric(raw: number): number | undefined {
  return lookupScore(SWEMWBS.scoring, raw);
}

/** An ONS4 threshold band (the band names of the ONS4 definition). */
export type Ons4Band = "very_low" | "low" | "medium" | "high" | "very_high";
const ONS4_BANDS: readonly string[] = ["very_low", "low", "medium", "high", "very_high"] satisfies Ons4Band[];
const isOns4Band = (s: string | undefined): s is Ons4Band => s !== undefined && ONS4_BANDS.includes(s);

/** The ONS band of one answer; `item` is 1..4 (4 is anxiety, whose scale runs the other way). */
export function ons4Band(item: number, v: number): Ons4Band | undefined {
  const it = itemOf(ONS4, item);
  if (!it || !allows(it.scale, v)) return undefined;
  const name = bandOf(groupOf(ONS4.scoring, item)?.bands, v)?.name;
  return isOns4Band(name) ? name : undefined;
}

export type Score =
  | { status: "wemwbs"; total: number; swemwbs_raw: number; swemwbs_metric: number }
  | { status: "swemwbs"; raw: number; metric: number }
  | { status: "ons4"; answers: { item: string; value: number; band: Ons4Band }[] }
  | { status: "incomplete"; missing: number[] };

/** Scores a form; answers out of range count as missing. */
export function score(instrument: string, items: Record<number, number | undefined>): Score {
  const id = instrument.toUpperCase();
  if (id !== WEMWBS.id && id !== SWEMWBS.id && id !== ONS4.id) return { status: "incomplete", missing: [] };
  const s = scoreWith(definition(id), items);
  switch (s.status) {
    case "incomplete":
      return { status: "incomplete", missing: s.missing };
    case "per_item":
      return {
        status: "ons4",
        answers: s.answers.map((a) => ({
          item: a.key ?? String(a.number),
          value: a.value,
          band: isOns4Band(a.band) ? a.band : "low",
        })),
      };
    case "total": {
      if (id === SWEMWBS.id) return { status: "swemwbs", raw: s.total.raw, metric: s.total.score };
      const short = s.also?.find((t) => t.name === SWEMWBS_IN_WEMWBS);
      return { status: "wemwbs", total: s.total.raw, swemwbs_raw: short?.raw ?? 0, swemwbs_metric: short?.score ?? Number.NaN };
    }
  }
}
