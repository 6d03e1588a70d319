#!/usr/bin/env node
// Field-ready forms in the web app (Debian's Chromium, headless, a 360 px touch screen whose
// clock is set to New York, as a phone set up wrongly might be):
//
// 1. Enrols; the project's set-up (sites and activities) arrives with the first sync, and the
//    new-session form offers them as pickers (no free text), with times labelled "(UK time)".
// 2. A session starting at 10:00 on 15 June 2026 (British Summer Time) is stored as
//    09:00 UTC whatever the phone's zone; an end before the start is refused beside the field,
//    and the message goes as soon as the end is corrected. The session's title and the home
//    screen name its activity and site ("Heritage crafts · Village hall"), not their slugs.
// 3. A participant is registered; each attendance row is at least 48 px high.
// 4. A WEMWBS answered by taps only: every answer is a tile at least 48 px high, the progress
//    reads "0 of 14 answered" then "13 of 14 answered", a missing date is refused and its
//    message cleared on correction, the arrow keys move between answers. The form's height at
//    360 px is measured (with BOTHY_FORMS_BASELINE, also that of the app's previous version,
//    whose app.js and app.css that directory holds, enrolled with a second code).
// 5. The session is edited: its end (UK time) and its unregistered attendees (a negative count
//    refused beside the field), and notes.
// 6. "Write a story" from the session: the story form has the session picked; the story is
//    saved with a visible, focused "saved" message and shows its session; a body edit too.
// 7. Everything is synced. Every screen is checked against WCAG 2.2 A and AA and saved as a
//    screenshot. Prints a JSON summary on stdout.
//
// Usage: node webapp-forms.mjs <server URL> <enrolment code> <second enrolment code> <output directory>
// CHROMIUM overrides the browser (default /usr/bin/chromium). Exits 0 when every check passes,
// 1 with a message on the first failure, 2 on bad usage.

import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { Failure, appUrlOf, check, enrol as enrolWith, esc, go, hashId, heading, openPersistent, run, screenshotter } from "./common.mjs";

const [aUrl, code, code2, outDir] = process.argv.slice(2);
if (!aUrl || !code || !code2 || !outDir) {
  console.error("usage: node webapp-forms.mjs <server URL> <enrolment code> <second enrolment code> <output directory>");
  process.exit(2);
}
const appUrl = appUrlOf(aUrl);
const log = (m) => console.error(`webapp-forms.mjs: ${m}`);
const problems = [];
const PIN = "rowan-2026";
const PERSON = `Eilidh ${Date.now().toString(36).toUpperCase()}`;

const screenshot = screenshotter(outDir, "forms", problems);

/** A touch phone whose clock is set to another zone: the app must still speak UK time. */
const open = (profile, extra = {}) => openPersistent(profile, problems, { hasTouch: true, isMobile: true, timezoneId: "America/New_York", ...extra });

/** A record's document as the device holds it, decoded. */
async function doc(page, id) {
  return page.evaluate(async (rid) => {
    const r = (await window.__bothy.documents()).find((x) => x.id === rid);
    return r ? JSON.parse(window.__bothy.inspect(r.doc)).doc : undefined;
  }, id);
}

/** The message beside a field, which must be shown with the control marked invalid. */
async function fieldError(page, name) {
  const wrap = page.locator(`[data-field="${name}"]`);
  const error = wrap.locator(".error");
  await error.waitFor({ state: "visible", timeout: 5000 }).catch(() => undefined);
  check(await error.isVisible(), `no message beside ${name}`);
  const group = (await wrap.getAttribute("role")) === "radiogroup";
  const control = group ? wrap : wrap.locator("input, select, textarea").first();
  check((await control.getAttribute("aria-invalid")) === "true", `${name} is not marked invalid`);
  return ((await error.textContent()) ?? "").trim();
}

/** After a correction, the field's message and aria-invalid must be gone at once (no save). */
async function errorCleared(page, name) {
  const wrap = page.locator(`[data-field="${name}"]`);
  check(!(await wrap.locator(".error").isVisible()), `the message beside ${name} stays after it was corrected`);
  const control = (await wrap.getAttribute("role")) === "radiogroup" ? wrap : wrap.locator("input, select, textarea").first();
  check((await control.getAttribute("aria-invalid")) === null, `${name} is still marked invalid after it was corrected`);
}

const enrol = (page, enrolCode, device) => enrolWith(page, { appUrl, code: enrolCode, device, pin: PIN });

/** The new-session form once the set-up (its sites) has arrived with a sync. */
async function newSessionWithSetup(page) {
  for (let k = 0; k < 40; k++) {
    await go(page, "#/");
    await heading(page, "Sessions");
    await go(page, "#/session/new");
    await heading(page, "New session");
    if ((await page.locator('[data-field="site"] select').count()) === 1) return;
    await page.waitForTimeout(500);
  }
  throw new Failure("the new-session form never offered the project's sites (the set-up did not arrive, or is not used)");
}

/** Creates a session at the given UK time and registers PERSON; returns the session's id. */
async function sessionWithPerson(page, start) {
  await page.locator('[data-field="site"] select').selectOption("hall");
  await page.locator('[data-field="activity"] select').selectOption("crafts");
  await page.getByLabel(/^Starts/).fill(start);
  await page.getByRole("button", { name: "Create session" }).click();
  await page.getByRole("heading", { level: 1, name: /Heritage crafts|crafts/ }).waitFor();
  const sid = hashId(page);
  await page.getByLabel(/^Name/).fill(PERSON);
  await page.getByLabel("Agrees to their data being used").check();
  await page.getByRole("button", { name: "Register and mark present" }).click();
  await page.getByRole("checkbox", { name: new RegExp(`^${esc(PERSON)} `) }).waitFor();
  return sid;
}

/** The link to a new questionnaire for PERSON on the session's screen (named for the timepoint
 * when one is due). */
const questionnaireLink = (page) => page.locator("ul.checklist li", { hasText: PERSON }).locator('a[href^="#/wellbeing/new/"]');

/** The questionnaire form's height and the page's, at 360 px. */
const formHeight = (page) =>
  page.evaluate(() => ({
    form: Math.round(document.querySelector("main form").getBoundingClientRect().height),
    page: document.documentElement.scrollHeight,
  }));

/** The previous version of the app (its app.js and app.css from `dir`), on a fresh profile,
 * enrolled with the second code: the height of its WEMWBS form. */
async function baselineHeight(dir) {
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-forms-old-"));
  const { context, page } = await open(profile, { serviceWorkers: "block" });
  try {
    for (const f of ["app.js", "app.css"]) {
      const body = await readFile(path.join(dir, f));
      await page.route(`${appUrl}${f}`, (route) => route.fulfill({ body, contentType: f.endsWith(".js") ? "text/javascript" : "text/css" }));
    }
    await enrol(page, code2, "Old phone");
    await newSessionWithSetup(page);
    await sessionWithPerson(page, "2026-06-14T10:00");
    await questionnaireLink(page).click();
    await heading(page, "Questionnaire");
    const h = await formHeight(page);
    await page.screenshot({ path: path.join(outDir, "forms-00-wellbeing-before.png"), fullPage: true });
    return h;
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
  }
}

async function main() {
  await mkdir(outDir, { recursive: true });
  const out = {};
  if (process.env.BOTHY_FORMS_BASELINE) {
    out.before = await baselineHeight(process.env.BOTHY_FORMS_BASELINE);
    problems.length = 0; // the previous version's own pages are not checked here
    log(`previous version's WEMWBS form: ${JSON.stringify(out.before)}`);
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-forms-"));
  const { context, page } = await open(profile);
  try {
    // 1. Enrol; the set-up's sites and activities become pickers.
    await enrol(page, code, "Forms phone");
    await newSessionWithSetup(page);
    const siteNames = await page.locator('[data-field="site"] select option').allInnerTexts();
    check(siteNames.includes("Village hall") && siteNames.includes("The shore"), `the site picker offers ${JSON.stringify(siteNames)}`);
    check((await page.locator('[data-field="activity"] select').count()) === 1, "the activity is typed, though the project lists its activities");
    check((await page.getByLabel("Starts (UK time)").count()) === 1, "the start time is not labelled as UK time");
    await screenshot(page, "session-new");

    // 2. A session in British Summer Time; an end before its start refused, then corrected.
    await page.locator('[data-field="activity"] select').selectOption("crafts");
    check((await page.locator('[data-field="site"] select').inputValue()) === "hall", "picking the activity did not pick its site");
    check((await page.locator('[data-field="activity_type"] select').inputValue()) === "heritage", "picking the activity did not pick its type");
    await page.getByLabel(/^Starts/).fill("2026-06-15T10:00");
    await page.getByLabel(/^Ends/).fill("2026-06-15T09:00");
    await page.getByRole("button", { name: "Create session" }).click();
    out.endError = await fieldError(page, "end");
    await screenshot(page, "session-new-invalid");
    await page.getByLabel(/^Ends/).fill("2026-06-15T12:00");
    await errorCleared(page, "end");
    check((await page.locator(".form-alert").count()) === 0, "the form's alert stays once every field is corrected");
    await page.getByRole("button", { name: "Create session" }).click();
    await heading(page, "Heritage crafts · Village hall");
    const sid = hashId(page);
    out.session = sid;
    const sdoc = await doc(page, sid);
    check(sdoc.start === "2026-06-15T09:00:00Z", `10:00 BST was stored as ${sdoc.start}, not 2026-06-15T09:00:00Z`);
    check(sdoc.end === "2026-06-15T11:00:00Z", `12:00 BST was stored as ${sdoc.end}, not 2026-06-15T11:00:00Z`);
    const when = await page.locator("main h1 + p").innerText();
    check(when.includes("15 Jun 2026, 10:00") && when.includes("12:00"), `the session's times read "${when}", not UK time`);

    // 3. A participant; attendance rows of 48 px.
    await page.getByLabel(/^Name/).fill(PERSON);
    await page.getByLabel("Agrees to their data being used").check();
    await page.getByRole("button", { name: "Register and mark present" }).click();
    const box = page.getByRole("checkbox", { name: new RegExp(`^${esc(PERSON)} `) });
    await box.waitFor();
    const row = await box.locator("xpath=..").boundingBox();
    check(row && row.height >= 48, `an attendance row is ${row?.height} px high (want at least 48)`);
    const tick = await box.boundingBox();
    check(tick && tick.height >= 32, `an attendance tick box is ${tick?.height} px high`);
    await screenshot(page, "session");

    // 4. A WEMWBS by taps only.
    await questionnaireLink(page).click();
    await heading(page, "Questionnaire");
    out.after = await formHeight(page);
    log(`WEMWBS form: ${JSON.stringify(out.after)}`);
    await screenshot(page, "wellbeing-new");
    const progress = page.locator("fieldset.items .progress");
    check((await progress.innerText()).trim() === "0 of 14 answered", `the progress reads "${await progress.innerText()}"`);
    check((await progress.getAttribute("aria-live")) === "polite", "the progress is not announced");
    check((await page.getByText("(optional)").count()) === 0, "the questionnaire marks its questions optional");
    const tiles = await page.locator('fieldset.items [role="radiogroup"] .option').evaluateAll((os) => os.map((o) => o.getBoundingClientRect()).map((r) => [r.width, r.height]));
    check(tiles.length === 70, `the WEMWBS offers ${tiles.length} answers, not 14 times 5`);
    const small = tiles.filter(([w, h]) => h < 48 || w < 44);
    check(small.length === 0, `answer targets smaller than 48 px high (or 44 wide): ${JSON.stringify(small.slice(0, 3))}`);
    const answers = [4, 3, 4, 5, 3, 4, 4, 3, 4, 5, 3, 4, 4, 3];
    for (let i = 1; i <= 13; i++) await page.locator(`[data-field="items.${i}"] .option`, { has: page.locator(`input[value="${answers[i - 1]}"]`) }).tap();
    check((await progress.innerText()).trim() === "13 of 14 answered", `after 13 taps the progress reads "${await progress.innerText()}"`);
    const picked = await page.locator('fieldset.items input[type=radio]:checked').evaluateAll((rs) => rs.map((r) => r.value).join(""));
    check(picked === answers.slice(0, 13).join(""), `the taps picked ${picked}`);
    // The keyboard works as in any radio group: an arrow moves to the next answer.
    await page.locator('[data-field="items.14"] input[value="2"]').focus();
    await page.keyboard.press("Space");
    await page.keyboard.press("ArrowRight");
    check((await page.locator('[data-field="items.14"] input:checked').getAttribute("value")) === "3", "the arrow key did not move to the next answer");
    check((await progress.innerText()).trim() === "14 of 14 answered", `after every answer the progress reads "${await progress.innerText()}"`);
    await page.getByLabel("Date answered").fill("");
    await page.getByRole("button", { name: "Save answers" }).click();
    out.dateError = await fieldError(page, "date");
    await screenshot(page, "wellbeing-invalid");
    await page.getByLabel("Date answered").fill("2026-06-15");
    await errorCleared(page, "date");
    await page.getByText(/WEMWBS score 53 \(of 14 to 70\)/).first().waitFor();
    await screenshot(page, "wellbeing-form");
    await page.getByRole("button", { name: "Save answers" }).click();
    await heading(page, "Questionnaire answers");
    out.wellbeing = hashId(page);
    const wdoc = await doc(page, out.wellbeing);
    check(JSON.stringify(Object.values(wdoc.items)) === JSON.stringify(answers), `the saved answers are ${JSON.stringify(wdoc.items)}`);

    // 5. The session edited: its end, a refused then corrected count, notes.
    await go(page, `#/session/${sid}`);
    await heading(page, "Heritage crafts · Village hall");
    await page.getByRole("link", { name: "Edit session" }).click();
    await heading(page, "Edit session");
    check((await page.getByLabel("Ends (UK time)").inputValue()) === "2026-06-15T12:00", "the edit form does not show the end in UK time");
    await page.getByLabel("Ends (UK time)").fill("2026-06-15T13:30");
    await page.getByLabel(/^Unregistered attendees/).fill("-2");
    await page.getByLabel(/^Notes/).fill("Good turnout; the loom came out.");
    await page.getByRole("button", { name: "Save changes" }).click();
    out.countError = await fieldError(page, "unregistered_attendees");
    await screenshot(page, "session-edit-invalid");
    await page.getByLabel(/^Unregistered attendees/).fill("3");
    await errorCleared(page, "unregistered_attendees");
    await screenshot(page, "session-edit");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Session changes saved on this device.").waitFor();
    await heading(page, "Heritage crafts · Village hall");
    const edited = await doc(page, sid);
    check(edited.end === "2026-06-15T12:30:00Z", `the new end (13:30 BST) was stored as ${edited.end}`);
    check(edited.unregistered_attendees === 3, `the unregistered count was stored as ${edited.unregistered_attendees}`);
    check(edited.notes === "Good turnout; the loom came out.", `the notes were stored as ${JSON.stringify(edited.notes)}`);
    check(edited.start === "2026-06-15T09:00:00Z", `editing moved the start to ${edited.start}`);
    check(/Unregistered attendees\s+3/.test(await page.locator("dl.details").innerText()), "the session does not show its 3 unregistered attendees");
    await screenshot(page, "session-edited");

    // 6. A story written from the session.
    await page.getByRole("link", { name: "Write a story" }).click();
    await heading(page, "New story");
    check((await page.getByLabel(/^Session/).inputValue()) === sid, "the story form does not have the session picked");
    await page.getByLabel("Title").fill("The loom");
    await page.locator('[data-field="body"] textarea').fill(`${PERSON} set up the loom for everyone.`);
    await screenshot(page, "story-new");
    await page.getByRole("button", { name: "Save story" }).click();
    await heading(page, "The loom");
    const saved = page.getByText("Story saved on this device.");
    await saved.waitFor();
    check(await saved.evaluate((el) => el === document.activeElement), "the saved message does not have the focus");
    out.story = hashId(page);
    const linked = await page.getByText(/^Session: /).innerText();
    check(linked.includes("Heritage crafts · Village hall"), `the story shows "${linked}" for its session`);
    check((await doc(page, out.story)).session === sid, "the story is not linked to the session");
    await screenshot(page, "story");
    await page.locator('[data-field="body"] textarea').fill(`${PERSON} set up the loom for everyone, and taught two others.`);
    await page.getByRole("button", { name: "Save changes" }).click();
    const bodySaved = page.getByText("Changes to the story saved on this device.");
    await bodySaved.waitFor();
    check(await bodySaved.evaluate((el) => el === document.activeElement), "the saved message after an edit does not have the focus");
    await screenshot(page, "story-edited");

    // 7. Home names the session; everything syncs.
    await go(page, "#/");
    await heading(page, "Sessions");
    check((await page.locator(".card strong", { hasText: "Heritage crafts · Village hall" }).count()) >= 1, "the home screen does not name the session's activity and site");
    await screenshot(page, "home");
    await page.evaluate(() => window.__bothy.sync());
    await page.waitForFunction(() => window.__bothy.unsynced().then((n) => n === 0), null, { timeout: 30000, polling: 500 }).catch(() => {
      throw new Failure("the records did not sync");
    });
    check(problems.length === 0, `errors in the page:\n  ${problems.join("\n  ")}`);
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
  }
}

run("webapp-forms.mjs", main, problems);
