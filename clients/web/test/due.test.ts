import assert from "node:assert/strict";
import { test } from "node:test";
import { addDays, daysBetween, dueNow, standing, suggestedTimepoint, type FollowupStep, type History } from "../src/due";

const none: History = { questionnaires: [], attended: [] };
const weeks8: FollowupStep[] = [{ timepoint: "end", after_weeks: 8 }];

test("calendar arithmetic crosses months, years and clock changes", () => {
  assert.equal(addDays("2026-10-20", 56), "2026-12-15");
  assert.equal(addDays("2026-03-25", 7), "2026-04-01");
  assert.equal(addDays("2026-12-31", 1), "2027-01-01");
  assert.equal(daysBetween("2026-03-28", "2026-03-30"), 2);
  assert.throws(() => addDays("2026-13-01x", 1), /not a date/);
});

test("without a baseline, the baseline is due from registration or first attendance", () => {
  const s = standing(weeks8, { ...none, registered: "2026-11-02", attended: ["2026-11-01"] }, "2026-11-05");
  assert.deepEqual(s.next, { timepoint: "baseline", state: "due", due: "2026-11-01", overdue: false });
  assert.equal(s.baseline, undefined);
  assert.equal(suggestedTimepoint(s), "baseline");
  // A later step has no date until there is a baseline.
  assert.deepEqual(s.steps[1], { timepoint: "end", state: "upcoming" });
  // Overdue more than 28 days on.
  assert.equal(dueNow(standing([], { ...none, registered: "2026-10-01" }, "2026-10-29"))?.overdue, false);
  assert.equal(dueNow(standing([], { ...none, registered: "2026-10-01" }, "2026-10-30"))?.overdue, true);
  // With nothing known of them, still due.
  assert.deepEqual(standing([], none, "2026-10-30").next, { timepoint: "baseline", state: "due", due: undefined, overdue: false });
});

test("a step of weeks is due from the earliest baseline plus 7 × weeks", () => {
  const h: History = { questionnaires: [{ timepoint: "baseline", date: "2026-11-10" }, { timepoint: "baseline", date: "2026-11-03" }], attended: [] };
  const before = standing(weeks8, h, "2026-12-28");
  assert.equal(before.baseline, "2026-11-03");
  assert.deepEqual(before.next, { timepoint: "end", state: "upcoming", due: "2026-12-29" });
  assert.equal(dueNow(before), undefined);
  assert.deepEqual(standing(weeks8, h, "2026-12-29").next, { timepoint: "end", state: "due", due: "2026-12-29", overdue: false });
  assert.equal(dueNow(standing(weeks8, h, "2027-01-26"))?.overdue, false);
  assert.equal(dueNow(standing(weeks8, h, "2027-01-27"))?.overdue, true);
});

test("a step is done by any questionnaire at its timepoint, and the next is the first not done", () => {
  const schedule: FollowupStep[] = [{ timepoint: "interim", after_weeks: 4 }, { timepoint: "end", after_weeks: 12 }, { timepoint: "follow_up", after_weeks: 26 }];
  const h: History = { questionnaires: [{ timepoint: "baseline", date: "2026-01-05" }, { timepoint: "end", date: "2026-04-01" }], attended: [] };
  const s = standing(schedule, h, "2026-03-01");
  assert.deepEqual(s.steps.map((x) => [x.timepoint, x.state]), [["baseline", "done"], ["interim", "due"], ["end", "done"], ["follow_up", "upcoming"]]);
  assert.equal(s.next?.timepoint, "interim");
  const all = standing(schedule, { ...h, questionnaires: [...h.questionnaires, { timepoint: "interim", date: "2026-02-02" }, { timepoint: "follow_up", date: "2026-07-06" }] }, "2026-08-01");
  assert.equal(all.next, undefined);
  assert.equal(suggestedTimepoint(all), undefined);
});

test("a step of sessions counts attendance on or after the baseline date", () => {
  const schedule: FollowupStep[] = [{ timepoint: "end", after_sessions: 3 }];
  const h: History = { questionnaires: [{ timepoint: "baseline", date: "2026-11-03" }], attended: ["2026-10-27", "2026-11-03", "2026-11-10"] };
  assert.deepEqual(standing(schedule, h, "2026-11-12").next, { timepoint: "end", state: "upcoming", attended: 2, needed: 3 });
  const three = { ...h, attended: [...h.attended, "2026-11-17"] };
  assert.deepEqual(standing(schedule, three, "2026-11-18").next, { timepoint: "end", state: "due", due: "2026-11-17", overdue: false });
  assert.equal(dueNow(standing(schedule, three, "2026-12-16"))?.overdue, true);
  // Before a baseline, no sessions count.
  assert.deepEqual(standing(schedule, { ...h, questionnaires: [] }, "2026-11-18").steps[1], { timepoint: "end", state: "upcoming", attended: 0, needed: 3 });
});

test("a schedule naming the baseline does not make it a second step", () => {
  const s = standing([{ timepoint: "baseline", after_weeks: 0 }, ...weeks8], { questionnaires: [{ timepoint: "baseline", date: "2026-11-03" }], attended: [] }, "2026-11-04");
  assert.deepEqual(s.steps.map((x) => x.timepoint), ["baseline", "end"]);
});
