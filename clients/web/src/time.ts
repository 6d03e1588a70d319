// UK local time (Europe/London) for every time the app shows or is given, whatever time zone
// the phone itself is set to; records keep times in UTC (RFC 3339, "2026-06-01T09:00:00Z").
//
// A `datetime-local` value ("2026-06-01T10:00") names a wall-clock time in the UK. Its offset
// from UTC is found with `Intl.DateTimeFormat` in the "Europe/London" zone, so daylight saving
// follows the browser's time zone data, not a rule written here. Two wall-clock times need a
// decision:
// - in the spring-forward gap (01:00 to 01:59 on the last Sunday of March) the time never
//   happens: it is read with the offset before the change (GMT), which lands on the same
//   instant a clock moved forward would show, one hour later (01:30 becomes 02:30 BST);
// - in the autumn-back overlap (01:00 to 01:59 on the last Sunday of October) the time happens
//   twice: the first (BST) is taken, the earlier of the two.
import { formatDateTime } from "./i18n/format";

export const ZONE = "Europe/London";

// Only to read the wall-clock fields of an instant as numbers: never shown.
const parts = new Intl.DateTimeFormat("en-GB", {
  timeZone: ZONE,
  hourCycle: "h23",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

const pad = (n: number) => String(n).padStart(2, "0");

/** The UK wall-clock time at an instant, as its fields. */
function wall(ms: number): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const p: Record<string, number> = {};
  for (const x of parts.formatToParts(new Date(ms))) if (x.type !== "literal") p[x.type] = Number(x.value);
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour! % 24, mi: p.minute!, s: p.second! };
}

/** The UK's offset from UTC at an instant, in minutes (0 in winter, 60 in summer). */
export function ukOffsetMinutes(ms: number): number {
  const w = wall(ms);
  const asUtc = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * A `datetime-local` value read as UK time, as the instant in milliseconds since the epoch; or
 * undefined if it is not a real date and time.
 */
export function ukLocalToMs(local: string): number | undefined {
  const m = LOCAL.exec(local.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const naive = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(naive).getUTCDate() !== d) return undefined; // 31 April and the like
  // The offsets in force a day either side cover any change of the clocks in between.
  const offsets = [...new Set([ukOffsetMinutes(naive - 86_400_000), ukOffsetMinutes(naive + 86_400_000)])].sort((a, b) => b - a);
  // Each offset that gives back the same wall-clock time is a reading of it; the larger offset
  // is the earlier instant (the first 01:30 on the autumn day).
  for (const off of offsets) {
    const ms = naive - off * 60000;
    if (ukOffsetMinutes(ms) === off) return ms;
  }
  // In no offset: the spring-forward gap. Read with the offset before the change.
  return naive - Math.min(...offsets) * 60000;
}

/** RFC 3339 UTC, whole seconds: "2026-06-01T09:00:00Z". */
export const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** A `datetime-local` value read as UK time, to RFC 3339 UTC; the raw text if it is not a date and time. */
export function ukLocalToUtc(local: string): string {
  const ms = ukLocalToMs(local);
  return ms === undefined ? local : rfc3339(ms);
}

const toMs = (when: string | Date | number): number | undefined => {
  const ms = when instanceof Date ? when.getTime() : typeof when === "number" ? when : Date.parse(when);
  return Number.isNaN(ms) ? undefined : ms;
};

/** An instant as a UK `datetime-local` value ("2026-06-01T10:00"); empty if it is not a time. */
export function utcToUkLocal(when: string | Date | number): string {
  const ms = toMs(when);
  if (ms === undefined) return "";
  const w = wall(ms);
  return `${w.y}-${pad(w.mo)}-${pad(w.d)}T${pad(w.h)}:${pad(w.mi)}`;
}

// UK dates by UTC hour: the UK's offset is a whole number of hours and changes on the hour (01:00
// UTC), so every instant of one UTC hour has the same UK date. Lists work out thousands of them
// (who is due); reading the wall clock through `Intl` for each is what costs.
const datesByHour = new Map<number, string>();

/** The UK date of an instant ("2026-06-01"); empty if it is not a time. */
export function ukDate(when: string | Date | number = Date.now()): string {
  const ms = toMs(when);
  if (ms === undefined) return "";
  const hour = Math.floor(ms / 3_600_000);
  let day = datesByHour.get(hour);
  if (day === undefined) {
    if (datesByHour.size >= 50_000) datesByHour.clear();
    day = utcToUkLocal(ms).slice(0, 10);
    datesByHour.set(hour, day);
  }
  return day;
}

/** An instant for people, in UK time and the app's language ("1 Jun 2026, 10:00" in English,
 * by src/i18n/format.ts); the text itself if it is not a time. */
export function showUk(when: string | undefined): string {
  if (!when) return "";
  const ms = toMs(when);
  return ms === undefined ? when : formatDateTime(ms);
}
