// Dates, times and numbers for display, in the current language's locale (English: en-GB) and
// the project's time zone, Europe/London, whatever the phone's own zone. Values accepted: a Date,
// an ISO 8601 / RFC 3339 string ("2026-03-29", "2026-03-29T09:30:00Z"), or milliseconds since
// 1970. A date alone ("2026-03-29") is a calendar day and is shown as that day. Anything that is
// not a date is shown as given, so nothing a user typed is hidden.
import { locale } from "./index";

export const TIME_ZONE = "Europe/London";

type When = Date | string | number;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

function toDate(value: When): Date | undefined {
  const d = value instanceof Date ? value : typeof value === "number" ? new Date(value) : DATE_ONLY.test(value) ? new Date(`${value}T12:00:00Z`) : new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const cache = new Map<string, Intl.DateTimeFormat>();
function dateFormat(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale()}|${JSON.stringify(options)}`;
  let f = cache.get(key);
  if (!f) cache.set(key, (f = new Intl.DateTimeFormat(locale(), { timeZone: TIME_ZONE, ...options })));
  return f;
}

function format(value: When | undefined | null, options: Intl.DateTimeFormatOptions): string {
  if (value === undefined || value === null || value === "") return "";
  const d = toDate(value);
  return d ? dateFormat(options).format(d) : String(value);
}

/** A day: "29 Mar 2026" (style "long": "29 March 2026", "full": "Sunday 29 March 2026"). */
export const formatDate = (value: When | undefined | null, style: "medium" | "long" | "full" | "short" = "medium") =>
  format(value, { dateStyle: style, ...(typeof value === "string" && DATE_ONLY.test(value) ? { timeZone: "UTC" } : {}) });

/** A time of day in London: "09:30". */
export const formatTime = (value: When | undefined | null) => format(value, { timeStyle: "short" });

/** A day and time in London: "29 Mar 2026, 09:30". */
export const formatDateTime = (value: When | undefined | null) => format(value, { dateStyle: "medium", timeStyle: "short" });

/** The London calendar day of an instant ("2026-12-04"), to compare days. */
const londonDay = (d: Date) => new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);

/** A recent instant, as short as is clear: its time in London when it is on the same London day
 * as `now` ("14:02"), else its day and time ("4 Dec, 23:59"), with the year when that is not
 * this year ("4 Dec 2025, 23:59"). */
export function formatWhen(value: When, now: When = Date.now()): string {
  const d = toDate(value);
  const n = toDate(now);
  if (!d || !n) return String(value);
  const time = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } as const;
  if (londonDay(d) === londonDay(n)) return dateFormat(time).format(d);
  const sameYear = londonDay(d).slice(0, 4) === londonDay(n).slice(0, 4);
  return dateFormat({ day: "numeric", month: "short", ...(sameYear ? {} : { year: "numeric" }), ...time }).format(d);
}

/** A number as the language writes it: "1,234.5" in English. */
export const formatNumber = (n: number, options?: Intl.NumberFormatOptions) => new Intl.NumberFormat(locale(), options).format(n);

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86_400_000],
  ["month", 30 * 86_400_000],
  ["week", 7 * 86_400_000],
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1000],
];

/** How far `value` is from `now`, in the largest whole unit: "in 3 weeks", "2 days ago",
 * "yesterday", "now". */
export function formatRelative(value: When, now: When = Date.now()): string {
  const d = toDate(value);
  const n = toDate(now);
  if (!d || !n) return String(value);
  const diff = d.getTime() - n.getTime();
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms) return rtf.format(Math.trunc(diff / ms), unit);
  }
  return rtf.format(0, "second");
}
