#!/usr/bin/env node
// Participants and follow-ups in the web app (Debian's Chromium, headless, 360 px wide):
//
// 1. Enrols with a code and a PIN. The project's follow-up schedule ("end" 8 weeks after the
//    baseline) was set by a coordinator beforehand, so it arrives with the set-up (unless the
//    server has no schedule route: then the last part is skipped and the summary says so).
// 2. Registers three people on `#/person/new` with every field of the participant record and
//    of the contact record; an IMD decile of 11 is refused beside its field first.
//    Each person's page shows their demographics in words (never the stored slugs).
// 3. The people list (from the header's "People" link) lists all three; a search by part of a
//    name finds one, a search by code finds one, a search for nobody finds none.
// 4. A person's page says their baseline is due; "New questionnaire" opens the form preset to
//    the baseline; a WEMWBS is answered and saved; their page then lists it with its score.
// 5. A second questionnaire for them at the baseline shows a warning that they already have a
//    WEMWBS baseline and is refused until its box is ticked: nothing is saved before that.
// 6. The home screen's "Due" list names the two without a baseline.
// 7. At a new session, the registration form has every field too; registering there marks the
//    person present, and the attendance list marks the three without a baseline as due, each
//    linking to the questionnaire for this session at the baseline.
// 8. With the page's clock moved 8 weeks on, the first person is due their "End" questionnaire
//    on the home screen, and its link opens the form preset to "End"; the three others are
//    overdue their baseline.
//
// Every screen is checked against WCAG 2.2 A and AA, for content wider than the 360 px
// screen, and saved as a screenshot. Prints a JSON summary on stdout.
//
// Usage: node webapp-people.mjs <server URL> <enrolment code> <project slug> <output directory> <schedule|no-schedule>
// CHROMIUM overrides the browser (default /usr/bin/chromium). Exits 0 when every check passes,
// 1 with a message on the first failure, 2 on bad usage.

import { mkdir } from "node:fs/promises";
import process from "node:process";
import { appUrlOf, check, collectErrors, go, heading as headingWithin, launch, ready as readyWithin, run, screenshotter, unlock as unlockWith } from "./common.mjs";

const [aUrl, code, project, outDir, scheduleArg] = process.argv.slice(2);
if (!aUrl || !code || !project || !outDir || !["schedule", "no-schedule"].includes(scheduleArg)) {
  console.error("usage: node webapp-people.mjs <server URL> <enrolment code> <project slug> <output directory> <schedule|no-schedule>");
  process.exit(2);
}
const withSchedule = scheduleArg === "schedule";
const appUrl = appUrlOf(aUrl);
const log = (m) => console.error(`webapp-people.mjs: ${m}`);
const problems = [];

const PIN = "rowan-2026";
const DAY = 86_400_000;
const tag = Date.now().toString(36).slice(-4).toUpperCase();
const PEOPLE = [
  { name: `Eilidh Quillwort ${tag}`, phone: "07700 900201", postcode: "PH33", age: "45-54", gender: "non_binary", ethnic: "mixed", imd: "3", rurality: "rural", source: "gp", reason: "Low mood after a bereavement", consentVersion: "v2" },
  { name: `Tormod Achnacarry ${tag}`, phone: "07700 900202", postcode: "PH34", age: "65-74", gender: "man", ethnic: "white", imd: "6", rurality: "rural", source: "link_worker", reason: "Isolation", consentVersion: "v2" },
  { name: `Shona Balmacara ${tag}`, phone: "07700 900203", postcode: "IV40", age: "25-34", gender: "prefer_not_to_say", ethnic: "prefer_not_to_say", imd: "8", rurality: "urban", source: "self", reason: "Wants to meet people", consentVersion: "v2" },
];

// Content wider than the screen, named by its innermost elements that stick out.
async function tooWide(page, name) {
  const wide = await page.evaluate(() => {
    const out = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > 361 && ![...e.children].some((c) => c.getBoundingClientRect().right > 361));
    const name = (e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ""}${e.className && typeof e.className === "string" ? `.${e.className.trim().split(/\s+/).join(".")}` : ""}`;
    return { width: document.documentElement.scrollWidth, out: out.slice(0, 3).map(name) };
  });
  if (wide.width > 360) problems.push(`${name}: the page is ${wide.width} px wide on a 360 px screen (${wide.out.join(", ")})`);
}
const screenshot = screenshotter(outDir, "people", problems, tooWide);

const ready = (page) => readyWithin(page, 30000);
const heading = (page, name, timeout = 15000) => headingWithin(page, name, timeout);
const hashId = (page) => new URL(page.url()).hash.split("?")[0].split("/").pop();
const records = (page) => page.evaluate(() => window.__bothy.records());
const mainText = async (page) => ((await page.locator("main").textContent()) ?? "").replace(/\s+/g, " ");

const unlock = (page) => unlockWith(page, PIN, { heading: 15000, timeout: 30000 });

/** Unlocks if the app locked itself (its idle lock counts on the page's clock, which jumps). */
async function awake(page) {
  if (await page.evaluate(() => !!window.__bothy?.locked?.())) await unlock(page);
}

/** Sets the form field named `name` (its `data-field`): a choice by its value, a box ticked or
 * not, text typed. */
async function setField(scope, name, value) {
  const wrap = scope.locator(`[data-field="${name}"]`).first();
  check((await wrap.count()) > 0, `the form has no field ${name}`);
  const radio = wrap.locator(`input[type=radio][value="${value}"]`);
  if ((await radio.count()) > 0) {
    // Tapped on its label as a finger would; the radio itself where it covers its label.
    const id = await radio.first().getAttribute("id");
    return page_(scope)
      .locator(`label[for="${id}"]`)
      .click({ timeout: 3000 })
      .catch(() => radio.first().check({ timeout: 5000 }));
  }
  const control = wrap.locator("input, select, textarea").first();
  const kind = await control.evaluate((el) => `${el.tagName.toLowerCase()}:${el.type ?? ""}`);
  if (kind.startsWith("select")) await control.selectOption(String(value));
  else if (kind === "input:checkbox") await (value ? control.check() : control.uncheck());
  else await control.fill(String(value));
}
const page_ = (scope) => (typeof scope.page === "function" ? scope.page() : scope);

async function fieldError(scope, name) {
  const error = scope.locator(`[data-field="${name}"] .error`);
  await error.waitFor({ state: "visible", timeout: 5000 });
  return ((await error.textContent()) ?? "").trim();
}

/** The value of the questionnaire form's timepoint (a list or radio buttons). */
const timepointOf = (page) => page.locator('[data-field="timepoint"] select, [data-field="timepoint"] input:checked').first().inputValue();

async function answerWemwbs(page) {
  for (let item = 1; item <= 14; item++) await setField(page.locator("main form"), `items.${item}`, String(1 + (item % 5)));
}

async function main() {
  await mkdir(outDir, { recursive: true });
  const browser = await launch();
  const summary = { schedule: withSchedule, people: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 360, height: 780 }, deviceScaleFactor: 1, locale: "en-GB", timezoneId: "Europe/London" });
    const page = await context.newPage();
    await page.clock.install();
    collectErrors(page, problems);

    // 1. Enrol.
    await page.goto(appUrl);
    await ready(page);
    await heading(page, "Set up this device");
    await page.getByLabel("Enrolment code or QR text").fill(code);
    const deviceName = page.getByLabel("Name for this device");
    if ((await deviceName.count()) > 0) await deviceName.fill("People phone");
    await page.getByLabel("Choose a PIN").fill(PIN);
    await page.getByLabel("Type the PIN again").fill(PIN);
    await page.getByRole("button", { name: "Enrol this device" }).click();
    await page.getByRole("heading", { level: 2, name: "Due for a questionnaire" }).waitFor({ timeout: 30000 });
    const peopleLink = page.locator('header nav a[href="#/people"]');
    check((await peopleLink.count()) === 1 && (await peopleLink.textContent()).trim() === "People", "the header has no “People” link");
    await screenshot(page, "home-enrolled");
    log("enrolled");

    // 2. Register three people with every field.
    for (const [i, p] of PEOPLE.entries()) {
      await go(page, "#/person/new");
      await heading(page, "Register a participant");
      const form = page.locator("main form").first();
      // A new person's registration and referral dates show today's UK date, to keep or change.
      const ukToday = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(await page.evaluate(() => Date.now())));
      for (const name of ["registered_on", "referral.date"]) {
        const shown = await form.locator(`[data-field="${name}"] input`).inputValue();
        check(shown === ukToday, `a new person's ${name} shows “${shown}”, not today's UK date ${ukToday}`);
      }
      if (i === 0) await setField(form, "registered_on", "2026-08-28");
      await setField(form, "contact.name", p.name);
      await setField(form, "contact.phone", p.phone);
      await setField(form, "contact.postcode_district", p.postcode);
      await setField(form, "contact.notes", "Mornings are best");
      await setField(form, "age_band", p.age);
      await setField(form, "gender", p.gender);
      await setField(form, "ethnic_group", p.ethnic);
      await setField(form, "imd_decile", i === 0 ? "11" : p.imd);
      await setField(form, "rurality", p.rurality);
      await setField(form, "consent.data_use", true);
      await setField(form, "consent.story_sharing", i !== 1);
      await setField(form, "consent.contact", true);
      await setField(form, "consent.version", p.consentVersion);
      await setField(form, "referral.source", p.source);
      await setField(form, "referral.date", "2026-09-01");
      await setField(form, "referral.reason", p.reason);
      if (i === 0) {
        await screenshot(page, "person-new");
        await page.getByRole("button", { name: "Register", exact: true }).click();
        const err = await fieldError(form, "imd_decile");
        check(/1.*10/.test(err), `an IMD decile of 11 is refused with “${err}”, which does not give the range`);
        summary.imdError = err;
        check(page.url().endsWith("#/person/new"), "a registration with an IMD decile of 11 was saved");
        await screenshot(page, "person-new-error");
        await setField(form, "imd_decile", p.imd);
      }
      await page.getByRole("button", { name: "Register", exact: true }).click();
      await page.waitForURL(/#\/person\/[0-9a-f-]{36}$/, { timeout: 15000 });
      const pid = hashId(page);
      await heading(page, new RegExp(p.name));
      const text = await mainText(page);
      const gender = { non_binary: "Non-binary", man: "Man", prefer_not_to_say: "Prefer not to say" }[p.gender];
      const source = { gp: "GP", link_worker: "Link worker", self: "Self-referral" }[p.source];
      for (const want of [p.phone, p.postcode, p.age, gender, source, "IMD decile", p.imd, p.reason, "2026-09-01", "Registration date", i === 0 ? "2026-08-28" : ukToday, "Baseline (start): due"]) {
        check(text.includes(want), `${p.name}'s page does not show “${want}”: ${text.slice(0, 600)}`);
      }
      for (const slug of ["non_binary", "link_worker", "prefer_not_to_say", "data_use"]) check(!text.includes(slug), `${p.name}'s page shows the raw value “${slug}”`);
      const code = ((await page.locator("main h1").textContent()) ?? "").match(/\(([^)]+)\)\s*$/)?.[1];
      check(!!code, `${p.name}'s page shows no code`);
      summary.people.push({ id: pid, code });
      if (i === 0) await screenshot(page, "person-page");
    }
    log("3 registered");

    // Editing keeps every field and changes one.
    await go(page, `#/person/${summary.people[1].id}/edit`);
    await heading(page, new RegExp(`Edit ${PEOPLE[1].name}`));
    const edit = page.locator("main form").first();
    check((await edit.locator('[data-field="contact.phone"] input').inputValue()) === PEOPLE[1].phone, "the edit form does not hold the phone number");
    check((await edit.locator('[data-field="gender"] select').inputValue()) === PEOPLE[1].gender, "the edit form does not hold the gender");
    await setField(edit, "imd_decile", "7");
    await screenshot(page, "person-edit");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.waitForURL(new RegExp(`#/person/${summary.people[1].id}$`), { timeout: 15000 });
    await heading(page, new RegExp(`^${PEOPLE[1].name}`));
    check((await mainText(page)).includes("IMD decile7"), "the edited IMD decile is not shown");

    // 3. The list and its search.
    await peopleLink.click();
    await heading(page, "People");
    const rows = page.locator("main ul.people li");
    await rows.first().waitFor();
    check((await rows.count()) === 3, `the people list shows ${await rows.count()} people, not 3`);
    await screenshot(page, "people-list");
    await page.getByRole("searchbox").fill("quillw");
    await page.waitForFunction(() => document.querySelectorAll("main ul.people li").length === 1);
    check((await rows.first().textContent()).includes(PEOPLE[0].name), "searching “quillw” does not find Eilidh");
    await screenshot(page, "people-search");
    await page.getByRole("searchbox").fill(summary.people[2].code.toLowerCase());
    await page.waitForFunction(() => document.querySelectorAll("main ul.people li").length === 1);
    check((await rows.first().textContent()).includes(PEOPLE[2].name), "searching by code does not find Shona");
    await page.getByRole("searchbox").fill("nobody-at-all");
    await page.waitForFunction(() => document.querySelectorAll("main ul.people li").length === 0);
    summary.noMatch = ((await page.locator("#people-count").textContent()) ?? "").trim();
    await page.getByRole("searchbox").fill("quillw");
    await page.waitForFunction(() => document.querySelectorAll("main ul.people li").length === 1);
    await rows.first().locator("a").click();

    // 4. A baseline.
    const first = summary.people[0];
    await page.waitForURL(new RegExp(`#/person/${first.id}$`));
    await heading(page, new RegExp(PEOPLE[0].name));
    await page.getByRole("link", { name: "New questionnaire" }).click();
    await heading(page, "Questionnaire");
    check((await timepointOf(page)) === "baseline", "the first questionnaire is not preset to the baseline");
    check((await page.locator(".baseline-warning:visible").count()) === 0, "a first baseline shows the second-baseline warning");
    await answerWemwbs(page);
    await screenshot(page, "questionnaire-baseline");
    await page.getByRole("button", { name: /Save answers/ }).click();
    await page.waitForURL(/#\/wellbeing\/[0-9a-f-]{36}$/, { timeout: 15000 });
    summary.baseline = hashId(page);
    await go(page, `#/person/${first.id}`);
    await heading(page, new RegExp(PEOPLE[0].name));
    const personText = await mainText(page);
    check(/WEMWBS[^·]*· Baseline \(start\)/.test(personText) && /score \d+/.test(personText), `the person's page does not list the baseline with its score: ${personText}`);
    check(personText.includes("Baseline (start): done"), "the person's page does not say the baseline is done");
    await screenshot(page, "person-with-baseline");

    // 5. A second baseline needs a tick.
    await page.getByRole("link", { name: "New questionnaire" }).click();
    await heading(page, "Questionnaire");
    summary.secondDefault = await timepointOf(page);
    check(summary.secondDefault === (withSchedule ? "end" : "baseline"), `the second questionnaire is preset to ${summary.secondDefault}`);
    await setField(page.locator("main form"), "timepoint", "baseline");
    const warning = page.locator(".baseline-warning");
    await warning.waitFor({ state: "visible", timeout: 5000 });
    summary.warning = ((await warning.locator("p").first().textContent()) ?? "").trim();
    check(/already has a WEMWBS baseline/.test(summary.warning), `the warning says “${summary.warning}”`);
    await answerWemwbs(page);
    const before = (await records(page)).filter((r) => r.kind === "wellbeing").length;
    await page.getByRole("button", { name: /Save answers/ }).click();
    summary.unconfirmed = await fieldError(page.locator("main form"), "confirm_baseline");
    check((await records(page)).filter((r) => r.kind === "wellbeing").length === before, "a second baseline was saved without the tick");
    check(page.url().includes("#/wellbeing/new/"), "the form was left without the tick");
    await screenshot(page, "questionnaire-second-baseline");
    // Another timepoint needs no tick: the warning goes.
    await setField(page.locator("main form"), "timepoint", "interim");
    await warning.waitFor({ state: "hidden", timeout: 5000 });
    await setField(page.locator("main form"), "timepoint", "baseline");
    await warning.waitFor({ state: "visible", timeout: 5000 });
    await setField(page.locator("main form"), "confirm_baseline", true);
    await page.getByRole("button", { name: /Save answers/ }).click();
    await page.waitForURL(/#\/wellbeing\/[0-9a-f-]{36}$/, { timeout: 15000 });
    check((await records(page)).filter((r) => r.kind === "wellbeing").length === before + 1, "the confirmed second baseline was not saved");
    log("baseline and second baseline");

    // 6. Home: the two without a baseline are due.
    await go(page, "#/");
    const dueList = page.locator("section.due-list");
    await dueList.waitFor();
    const dueNow = (await dueList.locator("li").allTextContents()).map((x) => x.replace(/\s+/g, " "));
    check(dueNow.length === 2 && dueNow.every((x) => x.includes("Due: Baseline")) && !dueNow.some((x) => x.includes(PEOPLE[0].name)), `the due list is ${JSON.stringify(dueNow)}`);
    await screenshot(page, "home-due");

    // 7. A session: registering there asks for every field too, and marks the person present;
    // the attendance list marks who is due, linking to the questionnaire for this session.
    await go(page, "#/session/new");
    await heading(page, "New session");
    const sform = page.locator("main form").first();
    await setField(sform, "site", "achnacarry-hall");
    await setField(sform, "activity", "bushcraft");
    await setField(sform, "activity_type", "nature");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/#\/session\/[0-9a-f-]{36}$/, { timeout: 15000 });
    const sid = hashId(page);
    const reg = page.locator("main form[aria-labelledby=reg-h]");
    await reg.waitFor();
    for (const name of ["contact.name", "contact.phone", "age_band", "gender", "ethnic_group", "imd_decile", "rurality", "registered_on", "consent.data_use", "consent.story_sharing", "consent.contact", "consent.date", "consent.version", "referral.source", "referral.date", "referral.reason"]) {
      check((await reg.locator(`[data-field="${name}"]`).count()) === 1, `the session's registration form has no field ${name}`);
    }
    await setField(reg, "contact.name", `Alasdair Glenfinnan ${tag}`);
    await setField(reg, "age_band", "16-24");
    await setField(reg, "consent.data_use", true);
    await page.getByRole("button", { name: "Register and mark present" }).click();
    await page.getByText(/Registered .* and marked present\./).waitFor({ timeout: 15000 });
    const marker = page.locator("main ul.checklist li").filter({ hasText: `Alasdair Glenfinnan ${tag}` }).locator("a.due");
    await marker.waitFor({ timeout: 10000 });
    check(((await marker.textContent()) ?? "").trim() === "Due: Baseline (start)", `the new person's attendance marker says “${await marker.textContent()}”`);
    const href = await marker.getAttribute("href");
    check(new RegExp(`^#/wellbeing/new/[0-9a-f-]{36}/${sid}\\?timepoint=baseline$`).test(href ?? ""), `the attendance marker links to ${href}`);
    check((await page.locator("main ul.checklist li").filter({ hasText: PEOPLE[0].name }).locator("a.due").count()) === 0, `${PEOPLE[0].name}, with a baseline, is marked due at the session`);
    check((await page.locator("main ul.checklist li a.due").count()) === 3, "the session does not mark the three without a baseline as due");
    await screenshot(page, "session-due");
    summary.session = sid;

    // 8. Eight weeks on.
    if (withSchedule) {
      await page.clock.setSystemTime(Date.now() + 56 * DAY + 60_000);
      await page.reload();
      await ready(page);
      await awake(page);
      await go(page, "#/people");
      await go(page, "#/");
      await dueList.waitFor();
      const later = (await dueList.locator("li").allTextContents()).map((x) => x.replace(/\s+/g, " "));
      summary.dueLater = later;
      const end = later.find((x) => x.includes(PEOPLE[0].name));
      check(!!end && end.includes("Due: End"), `8 weeks on, ${PEOPLE[0].name} is not due “End”: ${JSON.stringify(later)}`);
      check(later.filter((x) => x.includes("Overdue: Baseline")).length === 3, `8 weeks on, the three others are not overdue their baseline: ${JSON.stringify(later)}`);
      await screenshot(page, "home-due-8-weeks");
      await dueList.getByRole("link", { name: new RegExp(PEOPLE[0].name) }).click();
      await heading(page, "Questionnaire");
      check(page.url().includes(`#/wellbeing/new/${first.id}?timepoint=end`), `the due link opened ${page.url()}`);
      check((await timepointOf(page)) === "end", "the due link's form is not preset to End");
      await screenshot(page, "questionnaire-end");
      // The person's page says so too.
      await go(page, `#/person/${first.id}`);
      await heading(page, new RegExp(PEOPLE[0].name));
      check((await mainText(page)).includes("Due: End"), "the person's page does not say End is due");
      await screenshot(page, "person-due-end");
      log("due 8 weeks on");
    } else {
      log("no follow-up schedule route on this server: the 8-week check was skipped");
    }
    await context.close();
  } finally {
    await browser.close();
  }
  check(problems.length === 0, `problems:\n${problems.join("\n")}`);
  console.log(JSON.stringify(summary));
}

run("webapp-people.mjs", main, problems);
