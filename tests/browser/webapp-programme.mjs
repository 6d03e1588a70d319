#!/usr/bin/env node
// A whole programme on the phone app (Debian's Chromium, headless, 360 px wide, a persistent
// profile, the browser in Europe/London), against a server whose project has a site, an
// activity and a follow-up schedule (the end questionnaire 8 weeks after the baseline):
//
// 1. With the browser's clock 8 weeks in the past: enrols; registers 5 participants with every
//    field (contact name, phone and postcode district, age band, gender, ethnic group, IMD
//    decile, rurality, referral source and date, consent); searches the people list and opens
//    a person's page; creates a session from the site and activity pickers; marks the 5
//    present; takes their WEMWBS baselines by tapping the answers only; writes a story linked
//    to the session.
// 2. Offline: reloads (the app starts from its service worker and asks for the PIN) and
//    records a second session with attendance; the header's status says offline and how many
//    records wait. Back online, without pressing Sync, the app syncs by itself: nothing waits
//    and the status says all synced.
// 3. With the clock at today: the due list on the home screen names the 5; each end
//    questionnaire is taken from it (its timepoint preset to "end"); a second baseline shows
//    the warning and is not saved unless confirmed. The app syncs by itself again.
//
// Every screen is checked against WCAG 2.2 A and AA and saved as a screenshot in the output
// directory (`programme-NN-<screen>.png`); with BOTHY_SCREENSHOTS=<directory> those the README
// shows are also saved there as `webapp-programme-<screen>.png`. Prints a JSON summary
// on stdout: the ids of what it recorded.
//
// Usage: node webapp-programme.mjs <server URL> <enrolment code> <project slug> <output directory>
// CHROMIUM overrides the browser (default /usr/bin/chromium). Exits 0 when every check passes,
// 1 with a message on the first failure, 2 on bad usage.

import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { chromium } from "playwright-core";
import { violations } from "./a11y.mjs";

const [aUrl, code, project, outDir] = process.argv.slice(2);
if (!aUrl || !code || !project || !outDir) {
  console.error("usage: node webapp-programme.mjs <server URL> <enrolment code> <project slug> <output directory>");
  process.exit(2);
}
const appUrl = `${aUrl.replace(/\/+$/, "")}/app/`;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const docsDir = process.env.BOTHY_SCREENSHOTS;
// The screens the README shows.
const DOCS = new Set(["person-new", "people-list", "person-page-done", "session-new", "questionnaire-baseline", "home-due", "offline-status", "synced-status", "second-baseline-warning"]);
class Failure extends Error {}
const check = (ok, message) => {
  if (!ok) throw new Failure(message);
};
const log = (m) => console.error(`webapp-programme.mjs: ${m}`);
const problems = [];
let shot = 0;

const DAY = 86_400_000;
const NOW = Date.now();
// Eight weeks ago, a few hours earlier still so that the baseline's date plus 56 days is today.
const PAST = NOW - 56 * DAY - 3 * 3_600_000;
const PIN = "strath-2026";
const PEOPLE = [
  { name: "Morag Urquhart", phone: "07700 900101", postcode: "IV15", age: "65-74", gender: "woman", ethnic: "white", imd: "3", rurality: "rural", source: "gp" },
  { name: "Calum Matheson", phone: "07700 900102", postcode: "IV16", age: "55-64", gender: "man", ethnic: "white", imd: "5", rurality: "rural", source: "link_worker" },
  { name: "Priya Sandhu", phone: "07700 900103", postcode: "IV15", age: "35-44", gender: "woman", ethnic: "asian", imd: "2", rurality: "urban", source: "self" },
  { name: "Jamie Ross", phone: "07700 900104", postcode: "IV7", age: "25-34", gender: "non_binary", ethnic: "mixed", imd: "7", rurality: "urban", source: "community_organisation" },
  { name: "Ishbel Munro", phone: "07700 900105", postcode: "IV14", age: "75-84", gender: "prefer_not_to_say", ethnic: "prefer_not_to_say", imd: "4", rurality: "rural", source: "memory_support_worker" },
];
/** The local calendar date (Europe/London) of a time, as YYYY-MM-DD. */
const londonDate = (ms) => new Date(ms).toLocaleDateString("en-CA", { timeZone: "Europe/London" });

async function screenshot(page, name) {
  shot += 1;
  const file = path.join(outDir, `programme-${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (docsDir && DOCS.has(name)) await copyFile(file, path.join(docsDir, `webapp-programme-${name}.png`));
  for (const v of await violations(page)) problems.push(`${name}: ${v}`);
  // Nothing may be wider than the phone's screen.
  const wide = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
  if (wide.page > wide.screen) problems.push(`${name}: the page is ${wide.page} px wide on a ${wide.screen} px screen`);
}

const ready = (page) => page.waitForSelector("body[data-ready=true]", { timeout: 30000 });
const heading = (page, name, timeout = 15000) => page.getByRole("heading", { level: 1, name }).waitFor({ timeout });
const go = (page, hash) => page.evaluate((h) => (location.hash = h), hash);
const hashId = (page) => new URL(page.url()).hash.split("?")[0].split("/").pop();
const esc = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const records = (page) => page.evaluate(() => window.__bothy.records());

async function unlock(page) {
  await heading(page, "Enter your PIN");
  await page.getByLabel("PIN", { exact: true }).fill(PIN);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.waitForFunction(() => document.body.dataset.locked === undefined && !window.__bothy.locked(), null, { timeout: 30000 });
}

/** Unlocks if the app locked itself (its idle lock counts on the page's clock, which jumps). */
async function awake(page) {
  if (await page.evaluate(() => !!window.__bothy?.locked?.())) await unlock(page);
}

/** Sets the control of a form field named `name` (its `data-field`) to `value`: a choice by
 * its value, a box ticked, text typed. */
async function setField(scope, name, value) {
  const wrap = scope.locator(`[data-field="${name}"]`).first();
  check((await wrap.count()) > 0, `the form has no field ${name}`);
  const radio = wrap.locator(`input[type=radio][value="${value}"]`);
  if ((await radio.count()) > 0) return tap(radio.first());
  const control = wrap.locator("input, select, textarea").first();
  const tag = await control.evaluate((el) => `${el.tagName.toLowerCase()}:${el.type ?? ""}`);
  if (tag.startsWith("select")) await control.selectOption(String(value));
  else if (tag === "input:checkbox") await (value ? control.check() : control.uncheck());
  else await control.fill(String(value));
}

/** Taps a radio button or box as a finger would: where it is drawn, the control itself when it
 * covers its answer's target, else its label. */
async function tap(input) {
  if (await input.click({ trial: true, timeout: 500 }).then(() => true, () => false)) return input.click();
  const id = await input.getAttribute("id");
  const byFor = id ? input.page().locator(`label[for="${id}"]`) : null;
  if (byFor && (await byFor.count()) > 0) return byFor.first().click();
  return input.locator("xpath=ancestor::label[1]").click();
}

/** The header's sync status line. */
const statusLine = (page) => page.evaluate(() => (document.querySelector("header [role=status], header .sync-status, #sync-status")?.textContent ?? "").trim());

/** Waits, without touching Sync, until nothing waits to be synced and the status says so. */
async function syncedByItself(page, what) {
  await page.waitForFunction(async () => (await window.__bothy.unsynced()) === 0, null, { timeout: 90000, polling: 500 }).catch(async () => {
    throw new Failure(`${what}: ${await page.evaluate(() => window.__bothy.unsynced())} records still unsynced after 90 s without pressing Sync (status: "${await statusLine(page)}")`);
  });
  await page.waitForFunction(() => /All synced/i.test(document.querySelector("header")?.textContent ?? ""), null, { timeout: 30000 }).catch(async () => {
    throw new Failure(`${what}: the header's status says "${await statusLine(page)}", not "All synced"`);
  });
}

/** Answers every question of the WEMWBS form on screen by tapping an answer's label. */
async function answerWemwbs(page, seed) {
  for (let item = 1; item <= 14; item++) {
    const value = 1 + ((seed + item) % 5);
    await tap(page.locator(`[data-field="items.${item}"] input[type=radio][value="${value}"]`));
  }
}

async function main() {
  await mkdir(outDir, { recursive: true });
  if (docsDir) await mkdir(docsDir, { recursive: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-programme-"));
  const summary = { participants: [], baselines: [], ends: [], baselineDate: londonDate(PAST), endDate: londonDate(NOW) };
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 360, height: 780 },
    deviceScaleFactor: 1,
    locale: "en-GB",
    timezoneId: "Europe/London",
    args: ["--no-sandbox"],
  });
  try {
    await context.clock.install({ time: PAST });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" && !/Failed to load resource|ERR_INTERNET_DISCONNECTED/.test(msg.text())) problems.push(`console error: ${msg.text()}`);
    });

    // 1. Enrol, eight weeks ago.
    await page.goto(appUrl);
    await ready(page);
    check((await page.evaluate(() => new Date().toISOString().slice(0, 10))) === new Date(PAST).toISOString().slice(0, 10), "the page's clock is not 8 weeks in the past");
    await heading(page, "Set up this device");
    await page.getByLabel("Enrolment code or QR text").fill(code);
    await page.getByLabel("Name for this device").fill("Programme phone");
    await page.getByLabel("Choose a PIN").fill(PIN);
    await page.getByLabel("Type the PIN again").fill(PIN);
    await page.getByRole("button", { name: "Enrol this device" }).click();
    await heading(page, "Sessions", 30000);
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
    await screenshot(page, "home-enrolled");
    log("enrolled");

    // Registering: every field of the participant and their contact record, on the people
    // screens.
    const peopleLink = page.locator('header a[href="#/people"]');
    check((await peopleLink.count()) > 0, "the header has no link to the people list (#/people)");
    for (const [i, p] of PEOPLE.entries()) {
      await go(page, "#/person/new");
      await heading(page, "Register a participant");
      const form = page.locator("main form").first();
      await setField(form, "contact.name", p.name);
      await setField(form, "contact.phone", p.phone);
      await setField(form, "contact.postcode_district", p.postcode);
      await setField(form, "age_band", p.age);
      await setField(form, "gender", p.gender);
      await setField(form, "ethnic_group", p.ethnic);
      await setField(form, "imd_decile", p.imd);
      await setField(form, "rurality", p.rurality);
      await setField(form, "referral.source", p.source);
      await setField(form, "referral.date", londonDate(PAST - (10 + i) * DAY));
      await setField(form, "consent.data_use", true);
      await setField(form, "consent.story_sharing", i % 2 === 0);
      await setField(form, "consent.contact", true);
      if (i === 0) await screenshot(page, "person-new");
      await page.getByRole("button", { name: "Register", exact: true }).click();
      await page.waitForURL(/#\/person\/[0-9a-f-]{36}$/, { timeout: 15000 });
      await heading(page, new RegExp(esc(p.name)));
      summary.participants.push(hashId(page));
      if (i === 0) await screenshot(page, "person-page-new");
    }
    log("registered 5 participants");

    // The list, and a search by name.
    await peopleLink.click();
    await heading(page, "People");
    for (const p of PEOPLE) await page.getByRole("link", { name: new RegExp(esc(p.name)) }).first().waitFor({ timeout: 10000 });
    await screenshot(page, "people-list");
    await page.getByRole("searchbox").fill("urq");
    await page.getByRole("link", { name: /Morag Urquhart/ }).first().waitFor();
    check((await page.getByRole("link", { name: /Calum Matheson/ }).count()) === 0, "searching for “urq” still lists Calum Matheson");
    await screenshot(page, "people-search");
    await page.getByRole("searchbox").fill("");

    // A session from the project's pickers, and the 5 marked present.
    await page.locator('a[href="#/"]').first().click();
    await heading(page, "Sessions");
    await page.getByRole("link", { name: "New session" }).first().click();
    await heading(page, "New session");
    const site = page.getByLabel("Site", { exact: true });
    check((await site.evaluate((el) => el.tagName)) === "SELECT", "the session's site is not a picker of the project's sites");
    await site.selectOption("dingwall-hall");
    await page.getByLabel("Activity", { exact: true }).selectOption("printmaking");
    const type = page.getByLabel("Activity type");
    if (!(await type.inputValue())) await type.selectOption("arts");
    await screenshot(page, "session-new");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.getByRole("heading", { level: 1, name: /Printmaking circle/ }).waitFor({ timeout: 15000 });
    summary.session = hashId(page);
    for (const p of PEOPLE) {
      const box = page.getByRole("checkbox", { name: new RegExp(`^${esc(p.name)}`) });
      await tap(box);
      await page.waitForFunction((n) => [...document.querySelectorAll("main input[type=checkbox]")].some((b) => b.checked && (b.labels?.[0]?.textContent ?? "").startsWith(n)), p.name);
    }
    await screenshot(page, "session-attendance");
    log(`session ${summary.session}: 5 present`);

    // Baselines, by tapping answers only, from the attendance list.
    for (const [i, p] of PEOPLE.entries()) {
      await go(page, `#/session/${summary.session}`);
      await page.getByRole("heading", { level: 1, name: /Printmaking circle/ }).waitFor();
      await page.getByRole("link", { name: `Questionnaire for ${p.name}` }).click();
      await heading(page, "Questionnaire");
      const timepoint = page.locator('[data-field="timepoint"] select, [data-field="timepoint"] input:checked').first();
      check((await timepoint.inputValue()) === "baseline", `${p.name}'s first questionnaire is not preset to baseline`);
      await answerWemwbs(page, i);
      if (i === 0) await screenshot(page, "questionnaire-baseline");
      await page.getByRole("button", { name: "Save answers" }).click();
      await heading(page, "Questionnaire answers");
      summary.baselines.push(hashId(page));
      if (i === 0) await screenshot(page, "questionnaire-saved");
    }
    log("5 baselines");

    // A story about the session.
    await go(page, `#/session/${summary.session}`);
    await page.getByRole("heading", { level: 1, name: /Printmaking circle/ }).waitFor();
    await page.getByRole("link", { name: "Write a story" }).click();
    await heading(page, "New story");
    const linked = page.locator('[data-field="session"] select');
    check((await linked.inputValue()) === summary.session, "the story from the session screen is not linked to it");
    await page.getByLabel(/^Title/).fill("The first prints");
    await setField(page.locator("main"), "body", "Calum pulled his first linocut of the Cromarty Firth and would not stop smiling.");
    await page.getByLabel(/^Who may read it/).selectOption("project");
    await page.getByRole("button", { name: "Save story" }).click();
    await page.getByText("Story saved on this device.").waitFor({ timeout: 15000 });
    summary.story = hashId(page);
    await screenshot(page, "story-saved");
    log(`story ${summary.story}`);

    // 2. Offline: reload, a second session with attendance.
    await context.setOffline(true);
    await page.reload();
    await ready(page);
    await unlock(page);
    await go(page, "#/");
    await heading(page, "Sessions");
    await go(page, "#/session/new");
    await heading(page, "New session");
    await page.getByLabel("Site", { exact: true }).selectOption("dingwall-hall");
    await page.getByLabel("Activity", { exact: true }).selectOption("printmaking");
    if (!(await page.getByLabel("Activity type").inputValue())) await page.getByLabel("Activity type").selectOption("arts");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.getByRole("heading", { level: 1, name: /Printmaking circle/ }).waitFor({ timeout: 15000 });
    summary.offlineSession = hashId(page);
    for (const p of PEOPLE.slice(0, 3)) await tap(page.getByRole("checkbox", { name: new RegExp(`^${esc(p.name)}`) }));
    await page.waitForFunction(() => [...document.querySelectorAll("main input[type=checkbox]")].filter((b) => b.checked).length === 3);
    const waiting = await page.evaluate(() => window.__bothy.unsynced());
    check(waiting >= 1, "nothing waits to be synced after recording offline");
    await page.waitForFunction(() => /Offline/i.test(document.querySelector("header")?.textContent ?? ""), null, { timeout: 15000 }).catch(async () => {
      throw new Failure(`offline, the header's status says "${await statusLine(page)}"`);
    });
    await screenshot(page, "offline-status");
    log(`offline: ${waiting} records wait`);

    // Back online: the app syncs by itself.
    await context.setOffline(false);
    await syncedByItself(page, "back online");
    await go(page, "#/");
    await heading(page, "Sessions");
    await screenshot(page, "synced-status");
    log("synced by itself");

    // 3. Eight weeks later.
    await context.clock.setSystemTime(NOW);
    // Left untouched that long, the app locks itself within seconds.
    await page.waitForFunction(() => window.__bothy.locked(), null, { timeout: 15000 }).catch(() => {
      throw new Failure("the app did not lock itself after 8 weeks without input");
    });
    await unlock(page);
    await go(page, "#/sync");
    await go(page, "#/");
    await heading(page, "Sessions");
    await page.getByRole("heading", { name: "Due for a questionnaire" }).waitFor({ timeout: 15000 });
    const dueList = page.locator("main section, main div").filter({ has: page.getByRole("heading", { name: "Due for a questionnaire" }) }).last();
    // Waited for, not counted once: a sync the app runs by itself may redraw the home screen.
    for (const p of PEOPLE) {
      await dueList.getByRole("link", { name: new RegExp(esc(p.name)) }).first().waitFor({ timeout: 15000 }).catch(async () => {
        throw new Failure(`the due list does not name ${p.name}: "${(await dueList.innerText()).replace(/\s+/g, " ")}"`);
      });
    }
    await screenshot(page, "home-due");
    for (const [i, p] of PEOPLE.entries()) {
      await go(page, "#/");
      await awake(page);
      await page.getByRole("heading", { name: "Due for a questionnaire" }).waitFor();
      await dueList.getByRole("link", { name: new RegExp(esc(p.name)) }).first().click();
      await heading(page, "Questionnaire");
      const timepoint = page.locator('[data-field="timepoint"] select, [data-field="timepoint"] input:checked').first();
      check((await timepoint.inputValue()) === "end", `${p.name}'s questionnaire from the due list is preset to "${await timepoint.inputValue()}", not "end"`);
      await answerWemwbs(page, i + 2);
      if (i === 0) await screenshot(page, "questionnaire-end");
      await page.getByRole("button", { name: "Save answers" }).click();
      await heading(page, "Questionnaire answers");
      summary.ends.push(hashId(page));
    }
    await go(page, "#/");
    await heading(page, "Sessions");
    await page.getByText("Nobody is due a questionnaire.").waitFor({ timeout: 10000 }).catch(async () => {
      throw new Failure(`after the 5 end questionnaires the due list still says "${(await dueList.innerText()).replace(/\s+/g, " ")}"`);
    });
    log("5 end questionnaires from the due list");

    // A second baseline must be confirmed.
    await go(page, `#/person/${summary.participants[0]}`);
    await heading(page, new RegExp(esc(PEOPLE[0].name)));
    const personText = (await page.locator("main").innerText()).replace(/\s+/g, " ");
    for (const want of [/WEMWBS · End/, /WEMWBS · Baseline/, /End: done/, /Referred by GP/, /Postcode district IV15/]) {
      check(want.test(personText), `${PEOPLE[0].name}'s page does not say ${want}: "${personText.slice(0, 800)}"`);
    }
    check((personText.match(/Printmaking circle/g) ?? []).length >= 2, `${PEOPLE[0].name}'s page does not list the 2 sessions attended: "${personText.slice(0, 800)}"`);
    await screenshot(page, "person-page-done");
    await page.getByRole("link", { name: "New questionnaire" }).click();
    await heading(page, "Questionnaire");
    await setField(page.locator("main"), "timepoint", "baseline");
    await answerWemwbs(page, 4);
    await page.getByRole("button", { name: "Save answers" }).click();
    await page.getByText(/already has a WEMWBS baseline/).waitFor({ timeout: 10000 });
    await page.getByText("Tick this box to save a second baseline, or choose another timepoint.").waitFor({ timeout: 10000 });
    check(/#\/wellbeing\/new/.test(page.url()), "a second baseline was saved without confirming");
    await screenshot(page, "second-baseline-warning");
    log("a second baseline needs confirming");

    // Everything reaches the server, again without pressing Sync.
    await go(page, "#/");
    await syncedByItself(page, "after the follow-ups");
    const held = await records(page);
    check(held.filter((r) => r.kind === "wellbeing").length === 10, `the phone holds ${held.filter((r) => r.kind === "wellbeing").length} questionnaires, not 10`);
    summary.status = await statusLine(page);
    check(problems.length === 0, `problems found:\n${problems.join("\n")}`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } catch (e) {
    // What the screen showed when it failed.
    const page = context.pages()[0];
    if (page) {
      await page.screenshot({ path: path.join(outDir, "programme-failure.png"), fullPage: true }).catch(() => undefined);
      log(`the screen at the failure (${page.url()}): ${(await page.locator("body").innerText().catch(() => "")).replace(/\s+/g, " ").slice(0, 1500)}`);
    }
    throw e;
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`webapp-programme.mjs: ${e instanceof Failure ? e.message : e.stack ?? e}`);
  if (problems.length && !(e instanceof Failure && e.message.startsWith("problems found"))) console.error(problems.join("\n"));
  process.exit(1);
});
