// What the web app's browser checks share: Debian's Chromium at a 360 px phone size, the page's
// errors collected as problems, the app's ready signal, enrolment with a code and a PIN,
// unlocking, screenshots checked with axe (WCAG 2.2 A/AA), and failing with a clear message.

import path from "node:path";
import process from "node:process";
import { chromium } from "playwright-core";
import { violations } from "./a11y.mjs";

/** The browser: CHROMIUM overrides Debian's. */
export const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** A phone's screen: 360 px wide, British English. */
export const PHONE = { viewport: { width: 360, height: 780 }, deviceScaleFactor: 1, locale: "en-GB" };

/** A check that failed: its message is printed alone, without a stack. */
export class Failure extends Error {}

/** Fails with `message` unless `ok`. */
export const check = (ok, message) => {
  if (!ok) throw new Failure(message);
};

/** The app's address on the server at `serverUrl`. */
export const appUrlOf = (serverUrl) => `${serverUrl.replace(/\/+$/, "")}/app/`;

/** The script's arguments named by `names`; prints the usage line and exits 2 if one of them
 * (all but those listed in `optional`) is missing. */
export function args(script, names, { optional = [] } = {}) {
  const given = process.argv.slice(2);
  if (names.some((n, i) => !optional.includes(n) && !given[i])) {
    console.error(`usage: node ${script} ${names.map((n) => (optional.includes(n) ? `[<${n}>]` : `<${n}>`)).join(" ")}`);
    process.exit(2);
  }
  return given;
}

/** Errors the page throws, and errors it logs on its console (but those matching `ignore`:
 * resources that failed to load, offline requests), are added to `problems`. */
export function collectErrors(page, problems, ignore = /Failed to load resource|ERR_INTERNET_DISCONNECTED/) {
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !ignore.test(msg.text())) problems.push(`console error: ${msg.text()}`);
  });
}

/** Headless Chromium for fresh contexts (`browser.newContext`). */
export const launch = (options = {}) => chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"], ...options });

/** A phone with the persistent profile `profile` (its storage kept across openings): its first
 * page, with errors collected into `problems`. `offline` and `clock` (a fake clock installed)
 * apply before the page loads; `ignore` is the console errors not counted; the rest is given to
 * Playwright. */
export async function openPersistent(profile, problems, { offline = false, clock = false, ignore, ...options } = {}) {
  const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, ...PHONE, args: ["--no-sandbox"], ...options });
  if (clock) await context.clock.install();
  if (offline) await context.setOffline(true);
  const page = context.pages()[0] ?? (await context.newPage());
  collectErrors(page, problems, ignore);
  return { context, page };
}

/** Waits for the app to say it is ready. */
export const ready = (page, timeout = 20000) => page.waitForSelector("body[data-ready=true]", { timeout });
/** Waits for the screen's main heading. */
export const heading = (page, name, timeout = 10000) => page.getByRole("heading", { level: 1, name }).waitFor({ timeout });
/** Goes to a route of the app. */
export const go = (page, hash) => page.evaluate((h) => (location.hash = h), hash);
/** The last part of the route: the id of the record shown. */
export const hashId = (page) => new URL(page.url()).hash.split("/").pop();
/** `t` as a regular expression matching itself. */
export const esc = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Screenshots numbered in order, `<prefix>-NN-<name>.png` in `outDir`, each screen checked with
 * axe: its WCAG A/AA violations are added to `problems`. `after(page, name)` runs on each too. */
export function screenshotter(outDir, prefix, problems, after) {
  let shot = 0;
  return async (page, name) => {
    shot += 1;
    await page.screenshot({ path: path.join(outDir, `${prefix}-${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
    for (const v of await violations(page)) problems.push(`${name}: ${v}`);
    if (after) await after(page, name);
  };
}

/** Enrols on the set-up screen with `code` as the device `device` with the PIN `pin`, then waits
 * for the home screen (the first sync runs as part of enrolment). With `appUrl`, opens the app
 * there first. */
export async function enrol(page, { appUrl, code, device, pin, timeout = 30000 }) {
  if (appUrl) {
    await page.goto(appUrl);
    await ready(page);
  }
  await heading(page, "Set up this device");
  await page.getByLabel("Enrolment code or QR text").fill(code);
  await page.getByLabel("Name for this device").fill(device);
  await page.getByLabel("Choose a PIN").fill(pin);
  await page.getByLabel("Type the PIN again").fill(pin);
  await page.getByRole("button", { name: "Enrol this device" }).click();
  await heading(page, "Sessions", timeout);
}

/** Types `pin` on the lock screen and presses Unlock. */
export async function tryPin(page, pin) {
  await page.getByLabel("PIN", { exact: true }).fill(pin);
  await page.getByRole("button", { name: "Unlock" }).click();
}

/** The lock screen: `pin` opens the app. */
export async function unlock(page, pin, { heading: headingTimeout = 10000, timeout = 20000 } = {}) {
  await heading(page, "Enter your PIN", headingTimeout);
  await tryPin(page, pin);
  await page.waitForFunction(() => document.body.dataset.locked === undefined && !window.__bothy.locked(), null, { timeout });
}

/** Runs `main`; on failure prints `<script>: FAILED: ` and the message (the stack for an error
 * that is not a failed check), then the page problems, and exits 1. Exits 0 when it resolves. */
export function run(script, main, problems = []) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(`${script}: FAILED: ${e instanceof Failure ? e.message : (e?.stack ?? e)}`);
      if (problems.length) console.error(`${script}: also:\n  ${problems.join("\n  ")}`);
      process.exit(1);
    },
  );
}
