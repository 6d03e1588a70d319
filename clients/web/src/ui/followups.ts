// Follow-ups on the screens: each participant's history read from the records on this device,
// where they stand in the project's schedule (src/due.ts), and the words for it.
import { t } from "../i18n";
import { formatDate } from "../i18n/format";
import { BASELINE, dueNow, standing, type FollowupStep, type History, type Standing, type StepState } from "../due";
import { read } from "../store";
import { checkbox, h } from "./dom";
import * as dev from "../device";
import { localDate, participantName } from "./common";

/** The project's follow-up schedule as the set-up on this device gives it (none: baseline only). */
export async function scheduleOf(project: string): Promise<FollowupStep[]> {
  const setup = await read((tx) => tx.meta("setup"));
  return setup?.projects?.find((p) => p.project === project)?.followups ?? [];
}

const localDateOf = (iso: string | undefined): string | undefined => {
  if (!iso) return undefined;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : localDate(d);
};

/** Each participant of `project` among `records` (or only the one named), with their
 * questionnaires, the local start dates of the sessions they were present at, and the day they
 * were registered. */
export function historiesIn(records: readonly dev.Loaded[], project: string, only?: string): Map<string, History & { questionnaires: { timepoint: string; date: string }[]; attended: string[] }> {
  const out = new Map<string, { questionnaires: { timepoint: string; date: string }[]; attended: string[]; registered?: string }>();
  const of = (pid: string) => {
    if (only !== undefined && pid !== only) return { questionnaires: [], attended: [] } as { questionnaires: { timepoint: string; date: string }[]; attended: string[]; registered?: string };
    let x = out.get(pid);
    if (!x) out.set(pid, (x = { questionnaires: [], attended: [] }));
    return x;
  };
  for (const r of records) {
    if (r.view.project !== project) continue;
    if (r.view.kind === "participant") {
      if (r.view.created > 0) of(r.id).registered = localDate(new Date(r.view.created * 1000));
      else of(r.id);
    } else if (r.view.kind === "wellbeing") {
      const pid = r.view.s("participant"), timepoint = r.view.s("timepoint"), date = r.view.s("date");
      if (pid && timepoint && date) of(pid).questionnaires.push({ timepoint, date });
    } else if (r.view.kind === "session") {
      const day = localDateOf(r.view.s("start"));
      if (!day) continue;
      for (const [pid, mark] of Object.entries(r.view.map("attendance"))) if (mark === "present" && (only === undefined || pid === only)) of(pid).attended.push(day);
    }
  }
  return out;
}

/** Where every participant of `project` (or only the one named) stands today (participant id to standing). */
export async function standingsIn(records: readonly dev.Loaded[], project: string, only?: string, today = localDate()): Promise<Map<string, Standing>> {
  const schedule = await scheduleOf(project);
  const out = new Map<string, Standing>();
  for (const [pid, hist] of historiesIn(records, project, only)) out.set(pid, standing(schedule, hist, today));
  return out;
}

export const timepointText = (tp: string) => t(`timepoint.${tp}`);

/** "Due: End", "Overdue: End" for a step due now. */
export function dueText(s: Extract<StepState, { state: "due" }>): string {
  return t(s.overdue ? "due.overdue" : "due.due", { timepoint: timepointText(s.timepoint) });
}

/** A step in a sentence: done, due (since when), or upcoming (from when, or after how many sessions). */
export function stepText(s: StepState): string {
  const timepoint = timepointText(s.timepoint);
  switch (s.state) {
    case "done":
      return t("due.stepDone", { timepoint });
    case "due":
      if (!s.due) return t("due.stepDueNow", { timepoint });
      return t(s.overdue ? "due.stepOverdue" : "due.stepDue", { timepoint, date: formatDate(s.due) });
    case "upcoming":
      if (s.due) return t("due.stepFrom", { timepoint, date: formatDate(s.due) });
      if (s.needed !== undefined) return t("due.stepSessions", { timepoint, attended: s.attended ?? 0, needed: s.needed });
      return t("due.stepAfterBaseline", { timepoint });
  }
}

/** The questionnaire for a participant at a timepoint (and, from attendance, for a session). */
export const questionnaireHref = (pid: string, timepoint?: string, sid?: string) =>
  `#/wellbeing/new/${pid}${sid ? `/${sid}` : ""}${timepoint ? `?timepoint=${encodeURIComponent(timepoint)}` : ""}`;

/** A participant's next step if due now. */
export const dueStep = (s: Standing | undefined) => (s ? dueNow(s) : undefined);

/** The timepoint a new questionnaire starts at: the one asked for, else the participant's next
 * step (the baseline if they have none, from the device's `records`), else the baseline. */
export async function defaultTimepoint(p: dev.Loaded, asked: string | undefined, allowed: readonly string[], records: readonly dev.Loaded[]): Promise<string> {
  if (asked && allowed.includes(asked)) return asked;
  const s = (await standingsIn(records, p.view.project, p.id)).get(p.id);
  const next = s?.next?.timepoint;
  return next && allowed.includes(next) ? next : BASELINE;
}

/** The name of the tick box that confirms a second baseline. */
export const CONFIRM_BASELINE = "confirm_baseline";

/**
 * A second baseline is saved only on purpose: while the form's timepoint is the baseline and
 * the participant already has a baseline of the chosen instrument, a warning with a tick box
 * shows above the form's buttons; `ok()` is false (and says why beside the box) until it is ticked.
 */
export function baselineGuard(form: HTMLFormElement, pid: string, records: readonly dev.Loaded[]): { ok: () => boolean } {
  const earlier = records.filter((r) => r.view.kind === "wellbeing" && r.view.s("participant") === pid && r.view.s("timepoint") === BASELINE);
  const box = h("div", { class: "notice baseline-warning", hidden: true });
  form.querySelector(".actions")?.before(box);
  // A select's value, or the ticked radio button's.
  const read = (name: string) => (form.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`) ?? form.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="${name}"]`))?.value.trim() ?? "";
  let shownFor = "";
  const prior = () => {
    if (read("timepoint") !== BASELINE) return undefined;
    const instrument = read("instrument");
    return earlier.filter((r) => r.view.s("instrument") === instrument).map((r) => r.view.s("date") ?? "").sort()[0];
  };
  const update = () => {
    const date = prior();
    const key = date === undefined ? "" : `${read("instrument")}|${date}`;
    if (key === shownFor) return;
    shownFor = key;
    box.hidden = date === undefined;
    box.replaceChildren(
      ...(date === undefined
        ? []
        : [h("p", { id: "baseline-warning-text" }, t("due.secondBaseline", { instrument: read("instrument"), date: formatDate(date) })), checkbox(t("due.confirmBaseline"), CONFIRM_BASELINE, false, { "aria-describedby": "baseline-warning-text" })]),
    );
  };
  form.addEventListener("change", (e) => {
    if ((e.target as HTMLElement | null)?.getAttribute("name") !== CONFIRM_BASELINE) update();
  });
  update();
  return {
    ok: () => {
      update();
      if (prior() === undefined) return true;
      const tick = box.querySelector<HTMLInputElement>(`input[name="${CONFIRM_BASELINE}"]`);
      if (tick?.checked) return true;
      const err = box.querySelector<HTMLElement>(".error");
      if (err) {
        err.textContent = t("due.confirmBaselineRequired");
        err.hidden = false;
        tick?.setAttribute("aria-invalid", "true");
        tick?.setAttribute("aria-describedby", `baseline-warning-text ${err.id}`);
      }
      box.scrollIntoView?.({ block: "center" });
      tick?.focus();
      return false;
    },
  };
}

/** At most this many people are listed as due on the home screen; the people list has the rest. */
export const HOME_DUE_LIMIT = 20;

/** Who is due a questionnaire now, longest waiting first, each linking to the questionnaire at
 * the timepoint due (the home screen's "Due" list). */
export async function dueSection(records: readonly dev.Loaded[], project: string): Promise<HTMLElement> {
  const names = dev.contactNamesIn(records);
  const standings = await standingsIn(records, project);
  const due = records
    .filter((r) => r.view.kind === "participant" && r.view.project === project)
    .flatMap((p) => {
      const d = dueStep(standings.get(p.id));
      return d ? [{ p, d, name: participantName(p, names) }] : [];
    })
    .sort((a, b) => (a.d.due ?? "9999").localeCompare(b.d.due ?? "9999") || a.name.localeCompare(b.name));
  const shownDue = due.slice(0, HOME_DUE_LIMIT);
  return h(
    "section",
    { class: "due-list", "aria-labelledby": "due-h" },
    h("h2", { id: "due-h" }, t("due.homeTitle")),
    due.length
      ? h(
          "ul",
          { class: "cards" },
          shownDue.map(({ p, d, name }) =>
            h(
              "li",
              {},
              h(
                "a",
                { href: questionnaireHref(p.id, d.timepoint), class: "card" },
                h("strong", {}, name),
                h("span", { class: d.overdue ? "due overdue" : "due" }, dueText(d), d.due ? ` · ${t("due.since", { date: formatDate(d.due) })}` : ""),
              ),
            ),
          ),
        )
      : h("p", {}, t("due.homeNone")),
    due.length > shownDue.length ? h("p", {}, h("a", { href: "#/people" }, t("due.homeMore", { count: due.length - shownDue.length }))) : null,
  );
}
