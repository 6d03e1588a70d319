import assert from "node:assert/strict";
import { test } from "node:test";
import { showUk, ukDate, ukLocalToMs, ukLocalToUtc, ukOffsetMinutes, utcToUkLocal } from "../src/time";

// The process's own zone must not matter: these run with TZ set far from the UK as well.
const zones = ["UTC", "America/Los_Angeles", "Asia/Tokyo"];

test("winter (GMT): UK time is UTC", () => {
  assert.equal(ukLocalToUtc("2026-01-15T10:00"), "2026-01-15T10:00:00Z");
  assert.equal(utcToUkLocal("2026-01-15T10:00:00Z"), "2026-01-15T10:00");
  assert.equal(ukOffsetMinutes(Date.parse("2026-01-15T10:00:00Z")), 0);
});

test("summer (BST): UK time is an hour ahead of UTC", () => {
  assert.equal(ukLocalToUtc("2026-06-01T10:00"), "2026-06-01T09:00:00Z");
  assert.equal(utcToUkLocal("2026-06-01T09:00:00Z"), "2026-06-01T10:00");
  // Just after midnight in the UK is still the day before in UTC.
  assert.equal(ukLocalToUtc("2026-07-01T00:30"), "2026-06-30T23:30:00Z");
  assert.equal(ukDate("2026-06-30T23:30:00Z"), "2026-07-01");
  assert.equal(ukOffsetMinutes(Date.parse("2026-06-01T09:00:00Z")), 60);
});

test("spring forward (29 March 2026): the missing hour reads as the hour after it", () => {
  // Clocks go from 01:00 GMT to 02:00 BST: 01:30 never happens in the UK.
  assert.equal(ukLocalToUtc("2026-03-29T00:30"), "2026-03-29T00:30:00Z");
  assert.equal(ukLocalToUtc("2026-03-29T01:30"), "2026-03-29T01:30:00Z");
  assert.equal(utcToUkLocal("2026-03-29T01:30:00Z"), "2026-03-29T02:30");
  assert.equal(ukLocalToUtc("2026-03-29T02:30"), "2026-03-29T01:30:00Z");
  assert.equal(ukLocalToUtc("2026-03-29T03:00"), "2026-03-29T02:00:00Z");
});

test("fall back (25 October 2026): the repeated hour reads as its first time (BST)", () => {
  // Clocks go from 02:00 BST back to 01:00 GMT: 01:30 happens twice.
  assert.equal(ukLocalToUtc("2026-10-25T00:30"), "2026-10-24T23:30:00Z");
  assert.equal(ukLocalToUtc("2026-10-25T01:30"), "2026-10-25T00:30:00Z");
  // Both instants show as 01:30 in the UK.
  assert.equal(utcToUkLocal("2026-10-25T00:30:00Z"), "2026-10-25T01:30");
  assert.equal(utcToUkLocal("2026-10-25T01:30:00Z"), "2026-10-25T01:30");
  assert.equal(ukLocalToUtc("2026-10-25T02:30"), "2026-10-25T02:30:00Z");
});

test("round trips every half hour across both changes of the clocks", () => {
  for (const day of ["2026-03-28T00:00:00Z", "2026-10-24T00:00:00Z"]) {
    for (let k = 0; k < 96; k++) {
      const ms = Date.parse(day) + k * 30 * 60000;
      const local = utcToUkLocal(ms);
      const back = ukLocalToMs(local)!;
      // The second 01:xx of the autumn day reads back as the first; every other time exactly.
      const repeated = ukOffsetMinutes(ms) === 0 && ukOffsetMinutes(ms - 3600000) === 60;
      assert.equal(back, repeated ? ms - 3600000 : ms, `${new Date(ms).toISOString()} shown as ${local}`);
    }
  }
});

test("text that is not a date and time is kept as it is, or refused as undefined", () => {
  assert.equal(ukLocalToUtc("next Tuesday"), "next Tuesday");
  assert.equal(ukLocalToMs("2026-02-30T10:00"), undefined);
  assert.equal(ukLocalToMs("2026-06-01T24:00"), undefined);
  assert.equal(utcToUkLocal("garbage"), "");
  assert.equal(showUk("garbage"), "garbage");
  assert.equal(showUk(undefined), "");
});

test("display text is UK time", () => {
  assert.equal(showUk("2026-06-01T09:00:00Z"), "1 Jun 2026, 10:00");
  assert.equal(showUk("2026-12-01T09:00:00Z"), "1 Dec 2026, 09:00");
});

// Run again in zones far from the UK: the results must be the same.
test("the phone's own time zone does not change anything", { skip: process.env.BOTHY_TIME_CHILD === "1" }, async () => {
  const { execFileSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const self = fileURLToPath(import.meta.url);
  for (const tz of zones) {
    try {
      execFileSync(process.execPath, ["--test", self], { env: { ...process.env, TZ: tz, BOTHY_TIME_CHILD: "1" }, stdio: "pipe" });
    } catch (e) {
      assert.fail(`with TZ=${tz}: ${(e as { stdout?: Buffer }).stdout?.toString() ?? e}`);
    }
  }
});

test("a UK date read from the hour it falls in is the wall clock's date, around both clock changes", () => {
  // Every 7 minutes over the days of the clock changes of 2026 (29 March, 25 October) and the
  // turn of the year: each instant twice, the second from the dates kept by hour.
  for (const start of [Date.UTC(2026, 2, 28), Date.UTC(2026, 9, 24), Date.UTC(2026, 11, 31)]) {
    for (let ms = start; ms < start + 3 * 86_400_000; ms += 7 * 60_000) {
      const wall = utcToUkLocal(ms).slice(0, 10);
      assert.equal(ukDate(ms), wall, new Date(ms).toISOString());
      assert.equal(ukDate(new Date(ms)), wall, `${new Date(ms).toISOString()} again`);
    }
  }
  assert.equal(ukDate("2026-03-29T00:59:59Z"), "2026-03-29");
  assert.equal(ukDate("2026-10-24T23:00:00Z"), "2026-10-25", "midnight BST");
  assert.equal(ukDate("2026-10-24T22:59:59Z"), "2026-10-24");
  assert.equal(ukDate("not a time"), "");
});
