// Wellbeing scoring: the same pure functions as the server. An incomplete form is never scored.
import { itemRange } from "./schema";

export const SWEMWBS_ITEMS_IN_WEMWBS = [1, 2, 3, 6, 7, 9, 11];
const SWEMWBS_METRIC = [
  7.0, 9.51, 11.25, 12.4, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36, 16.88, 17.43, 17.98, 18.59, 19.25, 19.98, 20.73, 21.54,
  22.35, 23.21, 24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.7, 32.55, 35.0,
];
export const ONS4_ITEMS = ["life_satisfaction", "worthwhile", "happy", "anxious"];

export function swemwbsMetric(raw: number): number | undefined {
  return raw >= 7 && raw <= 35 && Number.isInteger(raw) ? SWEMWBS_METRIC[raw - 7] : undefined;
}

export type Ons4Band = "very_low" | "low" | "medium" | "high" | "very_high";

export function ons4Band(item: number, v: number): Ons4Band | undefined {
  if (!(v >= 0 && v <= 10)) return undefined;
  if (item >= 1 && item <= 3) return v <= 4 ? "low" : v <= 6 ? "medium" : v <= 8 ? "high" : "very_high";
  if (item === 4) return v <= 1 ? "very_low" : v <= 3 ? "low" : v <= 5 ? "medium" : "high";
  return undefined;
}

export type Score =
  | { status: "wemwbs"; total: number; swemwbs_raw: number; swemwbs_metric: number }
  | { status: "swemwbs"; raw: number; metric: number }
  | { status: "ons4"; answers: { item: string; value: number; band: Ons4Band }[] }
  | { status: "incomplete"; missing: number[] };

/** Scores a form; answers out of range count as missing. */
export function score(instrument: string, items: Record<number, number | undefined>): Score {
  const r = itemRange(instrument);
  if (!r) return { status: "incomplete", missing: [] };
  const missing: number[] = [];
  for (let i = 1; i <= r.count; i++) {
    const v = items[i];
    if (v === undefined || !Number.isInteger(v) || v < r.lo || v > r.hi) missing.push(i);
  }
  if (missing.length > 0) return { status: "incomplete", missing };
  const sum = (ids: number[]) => ids.reduce((s, i) => s + (items[i] as number), 0);
  const all = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  switch (instrument.toUpperCase()) {
    case "WEMWBS": {
      const raw = sum(SWEMWBS_ITEMS_IN_WEMWBS);
      return { status: "wemwbs", total: sum(all(14)), swemwbs_raw: raw, swemwbs_metric: swemwbsMetric(raw)! };
    }
    case "SWEMWBS": {
      const raw = sum(all(7));
      return { status: "swemwbs", raw, metric: swemwbsMetric(raw)! };
    }
    default:
      return {
        status: "ons4",
        answers: all(4).map((i) => ({ item: ONS4_ITEMS[i - 1]!, value: items[i]!, band: ons4Band(i, items[i]!)! })),
      };
  }
}
