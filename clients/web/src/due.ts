// Who is due a questionnaire: a participant's place in the project's follow-up schedule, from
// their questionnaires and attendance alone (no clock but the `today` given), so it works
// offline and gives the same answer on every device holding the same records.
//
// The rule: a participant's baseline date is the earliest date of their questionnaires at
// timepoint "baseline"; without one, the baseline itself is due (from their registration or
// first attendance). A step is done once they have any questionnaire at its timepoint. A step
// of weeks is due from the baseline date plus 7 × weeks; a step of sessions once they have been
// present at that many sessions starting on or after the baseline date. The next step is the
// first not done, in schedule order; it is overdue more than 28 days after its due date.
// Dates are local calendar dates, "YYYY-MM-DD".

/** One step of a project's schedule, as the set-up sends it (`ProjectSetup.followups`). */
export interface FollowupStep {
  timepoint: string;
  after_weeks?: number;
  after_sessions?: number;
}

/** Days past its due date after which a step is overdue. */
export const OVERDUE_AFTER_DAYS = 28;

export const BASELINE = "baseline";

/** What one participant has done: their questionnaires' timepoints and dates, and the local
 * start dates of the sessions they were marked present at. */
export interface History {
  questionnaires: readonly { timepoint: string; date: string }[];
  attended: readonly string[];
  /** The local date they were registered (or first seen), if known. */
  registered?: string;
}

export type StepState =
  | { timepoint: string; state: "done" }
  /** Due now (since `due`, when known); `overdue` more than 28 days after it. */
  | { timepoint: string; state: "due"; due?: string; overdue: boolean }
  /** Not due yet: from `due` (a step of weeks), or after `needed` sessions of which `attended` are done. */
  | { timepoint: string; state: "upcoming"; due?: string; attended?: number; needed?: number };

export interface Standing {
  /** The baseline date, if they have a baseline. */
  baseline?: string;
  /** The baseline step, then each step of the schedule, in order. */
  steps: StepState[];
  /** The first step not done, if any. */
  next?: StepState;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

function dayNumber(date: string): number | undefined {
  const m = DATE_RE.exec(date);
  if (!m) return undefined;
  return Math.round(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!) / 86_400_000);
}

function fromDayNumber(n: number): string {
  const d = new Date(n * 86_400_000);
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** `date` plus `days` (calendar days, no clock change can move it). */
export function addDays(date: string, days: number): string {
  const n = dayNumber(date);
  if (n === undefined) throw new Error(`not a date (YYYY-MM-DD): ${date}`);
  return fromDayNumber(n + days);
}

/** Days from `a` to `b` (positive when `b` is later). */
export function daysBetween(a: string, b: string): number {
  const x = dayNumber(a), y = dayNumber(b);
  if (x === undefined || y === undefined) throw new Error(`not a date (YYYY-MM-DD): ${x === undefined ? a : b}`);
  return y - x;
}

const earliest = (dates: readonly string[]): string | undefined => dates.filter((d) => DATE_RE.test(d)).sort()[0];

function dueState(timepoint: string, due: string | undefined, today: string): StepState {
  if (due !== undefined && due > today) return { timepoint, state: "upcoming", due };
  return { timepoint, state: "due", due, overdue: due !== undefined && daysBetween(due, today) > OVERDUE_AFTER_DAYS };
}

/** Where a participant stands in `schedule` on `today`. */
export function standing(schedule: readonly FollowupStep[], h: History, today: string): Standing {
  const done = new Set(h.questionnaires.map((q) => q.timepoint));
  const baseline = earliest(h.questionnaires.filter((q) => q.timepoint === BASELINE).map((q) => q.date));
  const steps: StepState[] = [];
  if (baseline !== undefined) steps.push({ timepoint: BASELINE, state: "done" });
  else steps.push(dueState(BASELINE, earliest([...(h.registered ? [h.registered] : []), ...h.attended]), today) as StepState);
  for (const step of schedule) {
    // The baseline is every schedule's start, whether or not the schedule names it.
    if (step.timepoint === BASELINE) continue;
    if (done.has(step.timepoint)) {
      steps.push({ timepoint: step.timepoint, state: "done" });
    } else if (baseline === undefined) {
      // Counted from a baseline not yet taken: no date to give.
      steps.push(step.after_sessions !== undefined ? { timepoint: step.timepoint, state: "upcoming", attended: 0, needed: step.after_sessions } : { timepoint: step.timepoint, state: "upcoming" });
    } else if (step.after_sessions !== undefined) {
      const since = h.attended.filter((d) => DATE_RE.test(d) && d >= baseline).sort();
      const needed = step.after_sessions;
      if (since.length >= needed) steps.push(dueState(step.timepoint, needed > 0 ? since[needed - 1] : baseline, today));
      else steps.push({ timepoint: step.timepoint, state: "upcoming", attended: since.length, needed });
    } else {
      steps.push(dueState(step.timepoint, addDays(baseline, 7 * (step.after_weeks ?? 0)), today));
    }
  }
  return { ...(baseline !== undefined ? { baseline } : {}), steps, next: steps.find((s) => s.state !== "done") };
}

/** The timepoint a new questionnaire is most likely for: the next step (baseline if none yet),
 * else nothing (every step done). */
export function suggestedTimepoint(s: Standing): string | undefined {
  return s.next?.timepoint;
}

/** The participant's next step if it is due now. */
export function dueNow(s: Standing): Extract<StepState, { state: "due" }> | undefined {
  return s.next?.state === "due" ? s.next : undefined;
}
