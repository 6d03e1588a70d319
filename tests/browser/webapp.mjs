#!/usr/bin/env node
// Checks the mobile web app in a real browser (Debian's Chromium, headless, 360 px wide):
// enrols with a code and a PIN, syncs, goes offline, reloads (the app must start from its
// service worker, and asks for the PIN), captures a session, a participant (with their name in a
// contact record of its own), their attendance, a complete WEMWBS, SWEMWBS and
// ONS4 (answered with radio buttons) and a story,
// marks attendance on a session and edits a story made by another device, closes the browser
// and opens it again on the same profile (nothing may be lost), goes online and syncs. Invalid
// input (a questionnaire with no date, an end before the start) must be refused beside the field.
// Saves a screenshot of every screen, then prints a JSON summary on stdout: the ids of the
// records it created and the heads of every record the app holds after the sync. With
// BOTHY_PAUSE_BEFORE_SYNC=1 it prints OFFLINE_WORK_DONE and waits for a line on stdin before
// coming back online, so another device can edit the same records concurrently.
//
// Usage:
//   node webapp.mjs <server URL> <enrolment code> <project slug> <story id> <session id> <output directory>
// or the same through BOTHY_URL, BOTHY_ENROL_CODE, BOTHY_PROJECT, BOTHY_STORY, BOTHY_SESSION and
// BOTHY_ARTIFACTS. CHROMIUM overrides the browser (default /usr/bin/chromium).
// Exits 0 when every check passes, 1 with a message on the first failure, 2 on bad usage.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { chromium } from "playwright-core";
import { violations } from "./a11y.mjs";

function usage(message) {
  console.error(`webapp.mjs: ${message}`);
  console.error("usage: node webapp.mjs <server URL> <enrolment code> <project slug> <story id> <session id> <output directory>");
  process.exit(2);
}

const [aUrl, aCode, aProject, aStory, aSession, aOut] = process.argv.slice(2);
const baseUrl = (aUrl ?? process.env.BOTHY_URL ?? "").replace(/\/+$/, "");
const code = aCode ?? process.env.BOTHY_ENROL_CODE;
const project = aProject ?? process.env.BOTHY_PROJECT;
const storyId = aStory ?? process.env.BOTHY_STORY;
const sessionId = aSession ?? process.env.BOTHY_SESSION;
const outDir = aOut ?? process.env.BOTHY_ARTIFACTS;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!baseUrl) usage("no server URL");
if (!code) usage("no enrolment code");
if (!project) usage("no project slug");
if (!storyId || !sessionId) usage("no story id or session id");
if (!outDir) usage("no output directory");

const appUrl = `${baseUrl}/app/`;
class Failure extends Error {}
const check = (ok, message) => {
  if (!ok) throw new Failure(message);
};
const log = (m) => console.error(`webapp.mjs: ${m}`);
const problems = [];
let shot = 0;

async function screenshot(page, name) {
  shot += 1;
  const file = path.join(outDir, `webapp-${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  // Every screen is also checked against WCAG 2.2 A and AA.
  for (const v of await violations(page)) problems.push(`${name}: ${v}`);
}

async function open(userDataDir, offline) {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 360, height: 780 },
    deviceScaleFactor: 1,
    locale: "en-GB",
    args: ["--no-sandbox"],
  });
  if (offline) await context.setOffline(true);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/Failed to load resource|ERR_INTERNET_DISCONNECTED/.test(msg.text())) problems.push(`console error: ${msg.text()}`);
  });
  return { context, page };
}

async function ready(page) {
  await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
}

async function go(page, hash, heading) {
  await page.evaluate((h) => (location.hash = h), hash);
  if (heading) await page.getByRole("heading", { level: 1, name: heading }).waitFor({ timeout: 10000 });
}

/** Asserts that a field shows an error beside it and is marked invalid. */
async function expectFieldError(page, fieldName, what) {
  const wrap = page.locator(`[data-field="${fieldName}"]`);
  const error = wrap.locator(".error");
  await error.waitFor({ state: "visible", timeout: 5000 }).catch(() => undefined);
  check(await error.isVisible(), `${what}: no message beside the field ${fieldName}`);
  const text = (await error.textContent()) ?? "";
  check(text.trim().length > 0, `${what}: the message beside ${fieldName} is empty`);
  // A group of radio buttons is marked invalid and described as a whole.
  const group = (await wrap.getAttribute("role")) === "radiogroup";
  const control = group ? wrap : wrap.locator("input, select, textarea").first();
  check((await control.getAttribute("aria-invalid")) === "true", `${what}: ${fieldName} is not aria-invalid`);
  const describedBy = (await control.getAttribute("aria-describedby")) ?? "";
  const errorId = await error.getAttribute("id");
  check(describedBy.split(" ").includes(errorId), `${what}: ${fieldName}'s aria-describedby does not name its message`);
  return text.trim();
}

/** Answers a question of a questionnaire: checks the radio button of the value. */
async function answer(page, item, value) {
  await page.locator(`[data-field="items.${item}"] input[type=radio][value="${value}"]`).check();
}

const person = `Ailsa ${Date.now().toString(36).toUpperCase()}`;
const PIN = "loom-2026";

/** The lock screen after a reload or a new browser: the PIN opens the app. */
async function unlock(page) {
  await page.getByRole("heading", { level: 1, name: "Enter your PIN" }).waitFor({ timeout: 10000 });
  await page.getByLabel("PIN", { exact: true }).fill(PIN);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.waitForFunction(() => document.body.dataset.locked === undefined && !window.__bothy.locked(), null, { timeout: 20000 });
}
const esc = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The link to a new questionnaire for a person on a session's screen (named for the timepoint
 * when one is due). */
const questionnaireLink = (page, who) => page.locator("ul.checklist li", { hasText: who }).locator('a[href^="#/wellbeing/new/"]');
const records = (page) => page.evaluate(() => window.__bothy.records());
const hashId = (page) => new URL(page.url()).hash.split("/").pop();

async function main() {
  await mkdir(outDir, { recursive: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-webapp-"));
  const created = {};
  try {
    // 1. Enrol online; the first sync brings the session and story made by the other device.
    let { context, page } = await open(profile, false);
    await page.goto(appUrl);
    await ready(page);
    check((await page.getAttribute("html", "lang")) === "en", "the page has no lang attribute");
    await page.getByRole("heading", { level: 1, name: "Set up this device" }).waitFor();
    await screenshot(page, "enrol");
    await page.getByRole("button", { name: "Enrol this device" }).click();
    await expectFieldError(page, "code", "enrolling with no code");
    await screenshot(page, "enrol-error");
    await page.getByLabel("Enrolment code or QR text").fill(code);
    await page.getByLabel("Name for this device").fill("Test phone");
    await page.getByLabel("Choose a PIN").fill(PIN);
    await page.getByLabel("Type the PIN again").fill(PIN);
    await page.getByRole("button", { name: "Enrol this device" }).click();
    await page.getByRole("heading", { level: 1, name: "Sessions" }).waitFor({ timeout: 20000 });
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 20000 });
    let held = await records(page);
    check(held.some((r) => r.id === sessionId), `after the first sync the app does not hold session ${sessionId}`);
    check(held.some((r) => r.id === storyId), `after the first sync the app does not hold story ${storyId}`);
    await screenshot(page, "home-online");
    log(`enrolled and synced: ${held.length} records`);

    // 2. Offline: the app must start again from its service worker.
    await context.setOffline(true);
    await page.reload();
    await ready(page);
    await screenshot(page, "lock");
    await unlock(page);
    await page.getByRole("heading", { level: 1, name: "Sessions" }).waitFor();
    await screenshot(page, "home-offline");

    // 3. A new session; first an end before its start, which must be refused beside the field.
    await go(page, "#/session/new", "New session");
    await page.getByLabel("Site").fill("ullapool-hall");
    await page.getByLabel("Activity", { exact: true }).fill("weaving");
    await page.getByLabel("Activity type").selectOption("heritage");
    await page.getByLabel("Starts").fill("2026-11-26T10:00");
    await page.getByLabel(/^Ends/).fill("2026-11-26T09:00");
    await page.getByRole("button", { name: "Create session" }).click();
    const endMsg = await expectFieldError(page, "end", "a session ending before it starts");
    log(`end before start refused: ${endMsg}`);
    await screenshot(page, "session-new-invalid");
    await page.getByLabel(/^Ends/).fill("2026-11-26T12:00");
    // A field the form has no words of its own for: its control comes from the schema.
    await page.getByLabel(/^Unregistered attendees/).fill("2");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.getByRole("heading", { level: 1, name: /weaving/ }).waitFor();
    created.session = hashId(page);
    const shownDetails = await page.locator("dl.details").innerText();
    check(/Unregistered attendees\s+2/.test(shownDetails), `the new session shows "${shownDetails}", not its 2 unregistered attendees`);

    // 4. Register a participant from the attendance screen (marks them present).
    const knownBefore = new Set((await records(page)).map((r) => r.id));
    await page.getByLabel(/^Name/).fill(person);
    await page.getByLabel("Agrees to their data being used").check();
    await page.getByRole("button", { name: "Register and mark present" }).click();
    await page.getByText(/^Registered .* and marked present\.$/).waitFor();
    const box = page.getByRole("checkbox", { name: new RegExp(`^${esc(person)} `) });
    check(await box.isChecked(), "the new participant is not marked present");
    const tap = await box.locator("xpath=..").boundingBox();
    check(tap && tap.height >= 48, `attendance tap target is ${tap?.height} px high (want at least 48)`);
    await screenshot(page, "session-attendance");
    held = await records(page);
    created.participant = held.find((r) => r.kind === "participant" && !knownBefore.has(r.id))?.id;
    check(created.participant, "the participant was not stored");
    // The name is not the participant's: it is in a contact record saved with them.
    created.contact = held.find((r) => r.kind === "contact" && !knownBefore.has(r.id))?.id;
    check(created.contact, "the participant's contact record was not stored");

    // 5. A WEMWBS, answered with radio buttons offering exactly its scale (1 to 5); a date that
    // is not a date must be refused beside the field.
    await questionnaireLink(page, person).click();
    await page.getByRole("heading", { level: 1, name: "Questionnaire" }).waitFor();
    const answers = [4, 3, 4, 5, 3, 4, 4, 3, 4, 5, 3, 4, 4, 3];
    const offered = await page.locator('[data-field="items.3"] input[type=radio]').evaluateAll((rs) => rs.map((r) => r.value));
    check(JSON.stringify(offered) === JSON.stringify(["1", "2", "3", "4", "5"]), `WEMWBS item 3 offers ${offered.join(", ")}`);
    check((await page.getByRole("radiogroup", { name: "3. WEMWBS item 3" }).count()) === 1, "WEMWBS item 3 is not a group of answers named by its question");
    for (let i = 1; i <= 14; i++) await answer(page, i, answers[i - 1]);
    await page.getByLabel("Date answered").fill("");
    await page.getByRole("button", { name: "Save answers" }).click();
    const dateMsg = await expectFieldError(page, "date", "a questionnaire with no date");
    log(`a missing date refused: ${dateMsg}`);
    await screenshot(page, "wellbeing-invalid");
    await page.getByLabel("Date answered").fill("2026-11-26");
    await page.getByText(/WEMWBS score 53 \(of 14 to 70\)/).first().waitFor();
    await screenshot(page, "wellbeing-form");
    await page.getByRole("button", { name: "Save answers" }).click();
    await page.getByRole("heading", { level: 1, name: "Questionnaire answers" }).waitFor();
    const scoreText = await page.locator("#score").textContent();
    check(/WEMWBS score 53/.test(scoreText ?? ""), `the saved WEMWBS shows "${scoreText}", not a score of 53`);
    created.wellbeing = hashId(page);
    await screenshot(page, "wellbeing-score");

    // 5b. A SWEMWBS and an ONS4 for the same person, each showing its derived score.
    for (const [instrument, answers, expected] of [
      ["SWEMWBS", [4, 4, 4, 4, 4, 4, 4], /^SWEMWBS metric score 25\.03 \(raw 28, of 7 to 35\)\.$/],
      ["ONS4", [7, 8, 6, 2], /Life satisfaction: 7 \(high\).*Worthwhile: 8 \(high\).*Happiness: 6 \(medium\).*Anxiety: 2 \(low\)/s],
    ]) {
      await go(page, `#/session/${created.session}`);
      await questionnaireLink(page, person).click();
      await page.getByRole("heading", { level: 1, name: "Questionnaire" }).waitFor();
      await page.locator('[data-field="instrument"] select').selectOption(instrument);
      for (let i = 1; i <= answers.length; i++) await answer(page, i, answers[i - 1]);
      await page.getByRole("button", { name: "Save answers" }).click();
      await page.getByRole("heading", { level: 1, name: "Questionnaire answers" }).waitFor();
      const shown = ((await page.locator("#score").innerText()) ?? "").trim();
      check(expected.test(shown), `the saved ${instrument} shows "${shown}"`);
      created[instrument.toLowerCase()] = hashId(page);
      await screenshot(page, `${instrument.toLowerCase()}-score`);
    }

    // 6. A story.
    await go(page, "#/story/new", "New story");
    await page.getByLabel("Title").fill("Weaving again");
    await page.locator('[data-field="body"] textarea').fill(`${person} finished her first scarf today.`);
    await page.getByLabel(/^Themes/).fill("craft, confidence");
    await page.getByRole("button", { name: "Save story" }).click();
    await page.getByRole("heading", { level: 1, name: "Weaving again" }).waitFor();
    created.story = hashId(page);
    await screenshot(page, "story");

    // 7. The other device's session and story: attendance and a body edit.
    await go(page, `#/session/${sessionId}`);
    await page.getByRole("checkbox", { name: new RegExp(`^${esc(person)} `) }).check();
    await page.getByText("Attendance saved.").waitFor();
    await screenshot(page, "session-existing");
    await go(page, `#/story/${storyId}`);
    const body = page.locator('[data-field="body"] textarea');
    await body.waitFor();
    const before = await body.inputValue();
    const edited = `${before}\nEdited on the web app, offline.`;
    await body.fill(edited);
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Changes to the story saved on this device.").waitFor();
    await screenshot(page, "story-edit");
    await go(page, "#/sync", "Sync");
    await screenshot(page, "sync-offline");
    const unsyncedBefore = await page.evaluate(() => window.__bothy.unsynced());
    check(unsyncedBefore === 9, `expected 9 unsynced records offline, found ${unsyncedBefore}`);
    const headsBefore = await page.evaluate(() => window.__bothy.heads());
    await context.close();

    // 8. A new browser on the same profile, still offline: nothing may be lost.
    ({ context, page } = await open(profile, true));
    await page.goto(appUrl);
    await ready(page);
    await unlock(page);
    const headsAfter = await page.evaluate(() => window.__bothy.heads());
    check(JSON.stringify(headsAfter) === JSON.stringify(headsBefore), "records changed or were lost when the browser was closed and opened again");
    check((await page.evaluate(() => window.__bothy.unsynced())) === 9, "unsynced changes were lost when the browser was closed");
    await go(page, `#/story/${storyId}`);
    check((await page.locator('[data-field="body"] textarea').inputValue()) === edited, "the story edit was lost when the browser was closed");
    await go(page, "#/", "Sessions");
    await screenshot(page, "home-reopened");

    // With BOTHY_PAUSE_BEFORE_SYNC=1, say so on stdout and wait for a line on stdin: the
    // caller's other device makes its own offline edits to the same records meanwhile.
    if (process.env.BOTHY_PAUSE_BEFORE_SYNC === "1") {
      process.stdout.write("OFFLINE_WORK_DONE\n");
      await new Promise((resolve) => process.stdin.once("data", resolve));
      process.stdin.pause();
    }

    // 9. Online again: sync everything.
    await context.setOffline(false);
    await page.evaluate(() => window.dispatchEvent(new Event("online")));
    await page.waitForFunction(() => window.__bothy.unsynced().then((n) => n === 0), null, { timeout: 30000, polling: 500 }).catch(() => {
      throw new Failure("the app did not sync by itself when the browser came back online");
    });
    await go(page, "#/sync", "Sync");
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByText(/^Synced: sent \d+, received \d+\.$/).waitFor({ timeout: 30000 });
    const left = await page.evaluate(() => window.__bothy.unsynced());
    check(left === 0, `${left} records are still unsynced after the sync`);
    await screenshot(page, "sync-done");
    const heads = await page.evaluate(() => window.__bothy.heads());
    check(problems.length === 0, `errors in the page:\n  ${problems.join("\n  ")}`);
    process.stdout.write(`${JSON.stringify({ project, created, existing: { session: sessionId, story: storyId }, heads })}\n`);

    // With BOTHY_PAUSE_AFTER_SYNC=1, wait for a line on stdin (the caller erases a participant
    // meanwhile), sync again and print what the app holds then, and what it said.
    if (process.env.BOTHY_PAUSE_AFTER_SYNC === "1") {
      process.stdin.resume();
      await new Promise((resolve) => process.stdin.once("data", resolve));
      process.stdin.pause();
      await page.getByRole("button", { name: "Sync now" }).click();
      const said = page.getByText(/^Synced: sent \d+, received \d+\./);
      await said.waitFor({ timeout: 30000 });
      // What a sync removed from the phone is listed under the message (whichever sync did it).
      const message = `${await said.textContent()} ${await page.locator("#sync-removed").textContent()}`;
      await screenshot(page, "sync-erased");
      const after = await page.evaluate(() => window.__bothy.heads());
      check(problems.length === 0, `errors in the page:\n  ${problems.join("\n  ")}`);
      process.stdout.write(`${JSON.stringify({ after_erasure: { heads: after, message } })}\n`);
    }
    await context.close();
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`webapp.mjs: FAILED: ${e instanceof Failure ? e.message : e.stack ?? e}`);
  process.exit(1);
});
