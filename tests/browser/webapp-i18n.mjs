#!/usr/bin/env node
// The web app's languages (Debian's Chromium, headless, 360 px wide):
//
// 1. The enrolment screen, in the pseudo-language "en-XA" (every message in [brackets] with
//    accented letters, switched on by the app's test hook `__bothy.pseudo()`): every visible
//    text in the header and <main>, every option, every aria-label and placeholder, must be
//    pseudo-translated or user data (names, codes, numbers, dates). Anything else is English
//    written into the code, and is listed with the screen it is on.
// 2. In English: enrols with a PIN, creates a session, registers a participant, records a
//    WEMWBS and writes a story.
// 3. The same check on every screen: home, new session, the session's attendance, editing it,
//    people, a person, a new questionnaire, its answers, a new story, the story, sync and
//    settings.
// 4. The settings' language picker lists each language in its own name (marked with its `lang`),
//    and choosing one redraws the app in it at once, sets <html lang> and dir, and keeps the
//    choice on the device (localStorage).
// 5. Right to left ("ar-XB", the same pseudo-text with dir="rtl"): every screen again. On every
//    screen, both ways, a screenshot, and no visible element may reach past either edge of the
//    360 px viewport (outside a container that scrolls sideways).
//
// The settings screen (<main>) is checked against WCAG 2.2 A and AA in English and right to
// left; what axe finds elsewhere on the page is reported (`a11yPage`). Prints a JSON summary on stdout: `hardCoded` (screen: texts),
// `overflow` (screen: elements), `a11y`, `screens`.
//
// Usage: node webapp-i18n.mjs <server URL> <enrolment code> <project slug> <output directory> [<user name>]
// CHROMIUM overrides the browser (default /usr/bin/chromium). Exits 0 when the walk completes
// (the summary says what it found), 1 with a message when it cannot, 2 on bad usage.

import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { violations } from "./a11y.mjs";
import { appUrlOf, args, check, enrol, esc, go, hashId, heading, openPersistent, ready, run } from "./common.mjs";

const [aUrl, code, project, outDir, username = ""] = args("webapp-i18n.mjs", ["server URL", "enrolment code", "project slug", "output directory", "user name"], { optional: ["user name"] });
const appUrl = appUrlOf(aUrl);
const log = (m) => console.error(`webapp-i18n.mjs: ${m}`);
const problems = [];

const tag = Date.now().toString(36).toUpperCase();
const PIN = "heather-417";
const NAME = `Eilidh Ross-${tag}`;
const SITE = "kinlochewe-hall";
const ACTIVITY = "loch-maree-walk";
const STORY_TITLE = `Slioch at dawn ${tag}`;
const STORY = `We watched the light come over Slioch from the shore of Loch Maree (${tag}).`;
const DEVICE = `Phone ${tag}`;
/** Texts a user typed or the server holds: shown as they are in every language. */
const USER_DATA = [NAME, SITE, ACTIVITY, STORY_TITLE, STORY, DEVICE, project, aUrl.replace(/\/+$/, ""), username].filter(Boolean);

const summary = { hardCoded: {}, overflow: {}, a11y: {}, a11yPage: {}, screens: [] };

const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** WCAG 2.2 A and AA violations inside <main> (the screen itself, without the header). */
async function mainViolations(page) {
  const found = await page.evaluate(async (src) => {
    if (!window.axe) (0, eval)(src);
    const result = await window.axe.run({ include: [["main"]] }, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } });
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")})`);
  }, axeSource);
  return found;
}


/** Waits until the screen's heading is pseudo-translated (the app redraws after a switch). */
async function pseudoHeading(page) {
  await page.waitForFunction(() => /^\[/.test(document.querySelector("main h1")?.textContent?.trim() ?? ""), null, { timeout: 10000 });
}

/** Every text a person meets in the header and <main>: visible text nodes, the options of
 * visible selects, aria-labels and placeholders. Text marked with a `lang` of its own (a
 * language's name in that language) is left out. */
function visibleTexts(page) {
  return page.evaluate(() => {
    const out = [];
    const ownLanguage = (el) => {
      const l = el.closest("[lang]");
      return l && l !== document.documentElement;
    };
    const seen = (el) => el.checkVisibility({ checkOpacity: false, checkVisibilityCSS: true });
    for (const root of document.querySelectorAll("body > header, main")) {
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.data.replace(/\s+/g, " ").trim();
        const el = n.parentElement;
        // Announcements already made (a live region read once, not redrawn) are left out.
        if (!text || !el || el.closest("script, style, option, .visually-hidden[aria-live]") || ownLanguage(el) || !seen(el)) continue;
        out.push(text);
      }
      for (const sel of root.querySelectorAll("select")) {
        if (!seen(sel)) continue;
        for (const o of sel.options) if (!ownLanguage(o) && o.text.trim()) out.push(o.text.trim());
      }
      for (const el of root.querySelectorAll("[aria-label], [placeholder], [title]")) {
        if (!seen(el) || ownLanguage(el)) continue;
        for (const a of ["aria-label", "placeholder", "title"]) {
          const v = el.getAttribute(a)?.trim();
          if (v) out.push(v);
        }
      }
    }
    return out;
  });
}

/** What is left of a text once pseudo-translations, user data, numbers and dates are taken out:
 * a word of two letters or more is English written into the code. */
function hardCoded(text) {
  let s = text;
  for (const u of USER_DATA) s = s.split(u).join(" ");
  // Pseudo-translations, innermost first (a message's parameter may be another message).
  for (let before = ""; before !== s; ) {
    before = s;
    s = s.replace(/\[[^[\]]*\]/g, " ");
  }
  s = s
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, " ") // record ids
    .replace(/\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\b/g, " ") // dates (en-GB)
    .replace(/\b[A-Z0-9][A-Z0-9_-]+\b/g, " ") // codes and instrument ids (WEMWBS, ONS_LONELINESS, P-7K2Q, TC7ED-GGU3T)
    .replace(/\bhttps?:\/\/\S+/g, " ");
  return /[A-Za-z]{2,}/.test(s);
}

/** Checks the screen shown: its texts (pseudo-translated or user data), in the current
 * direction its layout (within the viewport), and takes a screenshot. */
async function inspect(page, name, { rtl = false, a11y = false } = {}) {
  await page.waitForTimeout(150); // the screen's data is read from IndexedDB after its heading
  const found = (await visibleTexts(page)).filter(hardCoded);
  if (found.length) summary.hardCoded[name] = [...new Set([...(summary.hardCoded[name] ?? []), ...found])];
  check((await page.evaluate(() => document.documentElement.dir)) === (rtl ? "rtl" : "ltr"), `${name}: <html dir> is not ${rtl ? "rtl" : "ltr"}`);
  {
    const over = await page.evaluate(() => {
      const vw = document.documentElement.clientWidth;
      const bad = [];
      if (document.documentElement.scrollWidth > vw) bad.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide`);
      const scrolls = (el) => {
        for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) if (/(auto|scroll|hidden)/.test(getComputedStyle(p).overflowX)) return true;
        return false;
      };
      for (const el of document.querySelectorAll("body *")) {
        if (el.closest(".skip") || !el.checkVisibility() || scrolls(el)) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        if (r.left < -0.5 || r.right > vw + 0.5) {
          const id = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.className && typeof el.className === "string" ? `.${el.className.trim().replace(/\s+/g, ".")}` : ""}`;
          bad.push(`${id} spans ${Math.round(r.left)} to ${Math.round(r.right)} px`);
        }
      }
      return bad;
    });
    if (over.length) summary.overflow[`${name}${rtl ? " (rtl)" : ""}`] = over;
  }
  await page.screenshot({ path: path.join(outDir, `i18n-${String(summary.screens.length + 1).padStart(2, "0")}-${rtl ? "rtl" : "pseudo"}-${name}.png`), fullPage: true });
  if (a11y) {
    const v = await mainViolations(page);
    if (v.length) summary.a11y[`${name}${rtl ? " (rtl)" : ""}`] = v;
    const all = (await violations(page)).filter((x) => !v.includes(x));
    if (all.length) summary.a11yPage[`${name}${rtl ? " (rtl)" : ""}`] = all;
  }
  summary.screens.push(`${name}${rtl ? " (rtl)" : ""}`);
}

async function main() {
  await mkdir(outDir, { recursive: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-i18n-"));
  // A Welsh phone: the app has no Welsh yet, so it starts in English.
  const { context, page } = await openPersistent(profile, problems, { locale: "cy-GB", ignore: /Failed to load resource/ });
  const ids = {};
  try {
    // 1. The enrolment screen in the pseudo-language.
    await page.goto(appUrl);
    await ready(page);
    await heading(page, "Set up this device");
    const start = await page.evaluate(() => ({ lang: document.documentElement.lang, dir: document.documentElement.dir }));
    check(start.lang === "en" && start.dir === "ltr", `a phone in Welsh starts in ${JSON.stringify(start)}, not English left to right`);
    await page.evaluate(() => window.__bothy.pseudo("en-XA"));
    await pseudoHeading(page);
    check((await page.evaluate(() => document.documentElement.lang)) === "en-XA", "<html lang> is not en-XA");
    await inspect(page, "enrol");
    await page.reload(); // the pseudo-language is not kept: English again
    await ready(page);

    // 2. In English: enrol, a session with a participant, a questionnaire, a story.
    await enrol(page, { code, device: DEVICE, pin: PIN });
    await go(page, "#/session/new");
    await heading(page, "New session");
    await page.getByLabel("Site").fill(SITE);
    await page.getByLabel("Activity", { exact: true }).fill(ACTIVITY);
    await page.getByLabel("Activity type").selectOption("nature");
    await page.getByLabel("Starts").fill("2026-11-28T10:00");
    await page.getByRole("button", { name: "Create session" }).click();
    await heading(page, new RegExp(esc(ACTIVITY)));
    ids.session = hashId(page);
    await page.getByLabel(/^Name/).fill(NAME);
    await page.getByLabel("Agrees to their data being used").check();
    await page.getByRole("button", { name: "Register and mark present" }).click();
    await page.getByText(/^Registered .* and marked present\.$/).waitFor();
    ids.participant = (await page.evaluate(() => window.__bothy.records())).find((r) => r.kind === "participant")?.id;
    check(ids.participant, "the participant was not stored");
    ids.wellbeingNew = `#/wellbeing/new/${ids.participant}/${ids.session}`;
    await go(page, ids.wellbeingNew);
    await heading(page, "Questionnaire");
    for (let i = 1; i <= 14; i++) await page.locator(`[data-field="items.${i}"] input[type=radio][value="4"]`).check();
    await page.getByRole("button", { name: "Save answers" }).click();
    await heading(page, "Questionnaire answers");
    ids.wellbeing = hashId(page);
    await go(page, "#/story/new");
    await heading(page, "New story");
    await page.getByLabel("Title").fill(STORY_TITLE);
    await page.getByLabel("Participant").selectOption(ids.participant);
    await page.locator('[data-field="body"] textarea').fill(STORY);
    await page.getByRole("button", { name: "Save story" }).click();
    await heading(page, STORY_TITLE);
    ids.story = hashId(page);
    log(`captured: ${JSON.stringify(ids)}`);

    // 4. The language picker, in English first.
    await go(page, "#/settings");
    await heading(page, "Settings");
    const picker = page.getByLabel("Language of the app");
    const english = await picker.locator("option").evaluateAll((os) => os.map((o) => [o.value, o.text, o.lang]));
    check(JSON.stringify(english) === JSON.stringify([["en", "English", "en"]]), `the picker offers ${JSON.stringify(english)}, not English alone`);
    for (const v of await mainViolations(page)) problems.push(`settings: ${v}`);
    await page.screenshot({ path: path.join(outDir, "i18n-00-settings-en.png"), fullPage: true });
    // With the pseudo-languages registered, the picker offers them under their own names.
    await page.evaluate(() => window.__bothy.pseudo("en-XA"));
    await pseudoHeading(page);
    const offered = await page.locator("select[name=language] option").evaluateAll((os) => os.map((o) => [o.value, o.text, o.lang, o.dir]));
    check(offered.length === 3 && offered[0][1] === "English" && offered.every(([v, , l]) => v === l), `the picker offers ${JSON.stringify(offered)}`);
    await page.locator("select[name=language]").selectOption("ar-XB");
    await page.locator("form[aria-labelledby=lang-h] button[type=submit]").click();
    await page.waitForFunction(() => document.documentElement.dir === "rtl" && document.documentElement.lang === "ar-XB", null, { timeout: 10000 });
    await pseudoHeading(page);
    // The screen is drawn again in the chosen language with its confirmation: wait for it.
    await page.waitForFunction(() => document.querySelector("main .status.ok"), null, { timeout: 10000 }).catch(() => {});
    const saved = await page.evaluate(() => ({ stored: localStorage.getItem("bothy.language"), flash: document.querySelector("main .status.ok")?.textContent ?? "", nav: document.querySelector('header a[href="#/sync"]')?.textContent?.trim() }));
    check(saved.stored === "ar-XB", `the choice was not kept on the device: ${JSON.stringify(saved)}`);
    check(/^\[.*\[Ŕţļ\]/.test(saved.flash), `no confirmation in the chosen language: "${saved.flash}"`);
    check(saved.nav?.startsWith("[Šýñç]"), `the header was not redrawn: "${saved.nav}"`);
    summary.picker = { offered, saved };
    for (const v of await mainViolations(page)) problems.push(`settings (rtl): ${v}`);
    // Back to the pseudo-language left to right for the walk.
    await page.evaluate(() => window.__bothy.pseudo("en-XA"));

    // 3 and 5. Every screen, left to right then right to left.
    const screens = [
      ["home", "#/"],
      ["session-new", "#/session/new"],
      ["session-attendance", `#/session/${ids.session}`],
      ["session-edit", `#/session/${ids.session}/edit`],
      ["people", "#/people"],
      ["person", `#/person/${ids.participant}`],
      ["questionnaire-new", ids.wellbeingNew],
      ["questionnaire", `#/wellbeing/${ids.wellbeing}`],
      ["story-new", "#/story/new"],
      ["story", `#/story/${ids.story}`],
      ["sync", "#/sync"],
      ["settings", "#/settings"],
    ];
    for (const lang of ["en-XA", "ar-XB"]) {
      await page.evaluate((l) => window.__bothy.pseudo(l), lang);
      await page.waitForFunction((l) => document.documentElement.lang === l, lang);
      await pseudoHeading(page);
      for (const [name, hash] of screens) {
        // The heading waited for below is the new screen's.
        await page.evaluate(() => document.getElementById("main").replaceChildren());
        await go(page, hash);
        // The heading is a message, or user data (a session's activity and site, a name).
        await page.locator("main h1").first().waitFor({ timeout: 10000 });
        await inspect(page, name, { rtl: lang === "ar-XB", a11y: name === "settings" });
      }
    }
    // Reopened, the app starts in the language chosen if it has it; ar-XB is only for checks,
    // so it starts in English, left to right.
    await page.reload();
    await ready(page);
    const after = await page.evaluate(() => ({ lang: document.documentElement.lang, dir: document.documentElement.dir }));
    check(after.lang === "en" && after.dir === "ltr", `after a reload: ${JSON.stringify(after)}`);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
  check(problems.length === 0, `problems:\n${problems.join("\n")}`);
  console.log(JSON.stringify(summary));
}

run("webapp-i18n.mjs", main, problems);
