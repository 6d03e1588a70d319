#!/usr/bin/env node
// Checks the dashboard in a real browser (Debian's Chromium, headless): logs in through the
// form, opens a project page on a phone-sized and a desktop-sized screen, checks that every
// figure section holds an accessible SVG chart and that no console or page error occurred,
// and saves full-page screenshots.
//
// Usage:
//   node dashboard.mjs <server URL> <username> <password> <project slug> <output directory>
// or the same through BOTHY_URL, BOTHY_USERNAME, BOTHY_PASSWORD, BOTHY_PROJECT and
// BOTHY_ARTIFACTS. CHROMIUM overrides the browser (default /usr/bin/chromium).
// Exits 0 when every check passes, 1 with a message on the first failure, 2 on bad usage.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import process from "node:process";
import { chromium } from "playwright-core";
import { violations } from "./a11y.mjs";

const SECTIONS = ["Wellbeing change", "Attendance over time", "Retention", "Equity"];
const VIEWPORTS = [
  { name: "phone", width: 360, height: 800 },
  { name: "desktop", width: 1280, height: 900 },
];

function usage(message) {
  console.error(`dashboard.mjs: ${message}`);
  console.error(
    "usage: node dashboard.mjs <server URL> <username> <password> <project slug> <output directory>",
  );
  process.exit(2);
}

const [argUrl, argUser, argPassword, argProject, argOut] = process.argv.slice(2);
const baseUrl = (argUrl ?? process.env.BOTHY_URL ?? "").replace(/\/+$/, "");
const username = argUser ?? process.env.BOTHY_USERNAME;
const password = argPassword ?? process.env.BOTHY_PASSWORD;
const project = argProject ?? process.env.BOTHY_PROJECT;
const outDir = argOut ?? process.env.BOTHY_ARTIFACTS;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!baseUrl) usage("no server URL");
if (!username || !password) usage("no username or password");
if (!project) usage("no project slug");
if (!outDir) usage("no output directory");

class Failure extends Error {}

function check(condition, message) {
  if (!condition) throw new Failure(message);
}

const problems = [];
const log = (m) => console.log(`dashboard.mjs: ${m}`);

async function checkViewport(browser, viewport) {
  const context = await browser.newContext({
    viewport: { width: viewport.width, height: viewport.height },
    deviceScaleFactor: 1,
    locale: "en-GB",
  });
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${viewport.name}: console error: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`${viewport.name}: page error: ${err.message}`));
  page.on("requestfailed", (req) =>
    problems.push(`${viewport.name}: request failed: ${req.url()} (${req.failure()?.errorText})`),
  );

  // Not logged in: the dashboard sends the browser to the login form.
  await page.goto(`${baseUrl}/dashboard`);
  check(
    new URL(page.url()).pathname === "/dashboard/login",
    `${viewport.name}: /dashboard without a session did not lead to the login form (at ${page.url()})`,
  );
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/dashboard"),
    page.getByRole("button", { name: "Log in" }).click(),
  ]).catch(async (e) => {
    const alert = await page.locator("[role=alert]").first().textContent().catch(() => null);
    throw new Failure(
      `${viewport.name}: logging in as ${username} failed${alert ? `: ${alert.trim()}` : ""} (${e.message})`,
    );
  });
  const link = page.locator(`a[href="/dashboard/projects/${encodeURIComponent(project)}"]`);
  check((await link.count()) === 1, `${viewport.name}: /dashboard does not link to project ${project}`);
  await Promise.all([
    page.waitForURL((u) => u.pathname.startsWith("/dashboard/projects/")),
    link.click(),
  ]);
  const response = await page.goto(`${baseUrl}/dashboard/projects/${encodeURIComponent(project)}`);
  check(response?.status() === 200, `${viewport.name}: the project page answered ${response?.status()}`);
  const csp = response.headers()["content-security-policy"] ?? "";
  check(csp.includes("default-src 'none'"), `${viewport.name}: no strict Content-Security-Policy`);

  for (const heading of SECTIONS) {
    const section = page.locator("section").filter({
      has: page.getByRole("heading", { level: 2, name: heading, exact: true }),
    });
    check((await section.count()) === 1, `${viewport.name}: no section headed "${heading}"`);
    const charts = section.locator("svg[role=img]");
    const n = await charts.count();
    check(n > 0, `${viewport.name}: section "${heading}" has no svg[role=img] chart`);
    for (let i = 0; i < n; i++) {
      const chart = charts.nth(i);
      const title = (await chart.locator("title").first().textContent())?.trim();
      check(title, `${viewport.name}: a chart in "${heading}" has no <title>`);
      const box = await chart.boundingBox();
      check(box && box.width > 100 && box.height > 20, `${viewport.name}: chart "${title}" is not visible`);
      check(
        box.x >= 0 && box.x + box.width <= viewport.width + 1,
        `${viewport.name}: chart "${title}" does not fit the ${viewport.width}px screen`,
      );
    }
  }
  // Nothing wider than the screen (no sideways scrolling on a phone).
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(
    scrollWidth <= viewport.width + 1,
    `${viewport.name}: the page is ${scrollWidth}px wide on a ${viewport.width}px screen`,
  );
  // The filter form works without script.
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForLoadState("load");
  check(
    (await page.locator("svg[role=img]").count()) > 0,
    `${viewport.name}: the page has no charts after applying the filters`,
  );
  await page.goto(`${baseUrl}/dashboard/projects/${encodeURIComponent(project)}`);
  const file = path.join(outDir, `dashboard-${viewport.name}-${viewport.width}x${viewport.height}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`saved ${file}`);
  // WCAG 2.2 A and AA, on the project page as an analyst sees it.
  for (const v of await violations(page)) problems.push(`${viewport.name}: ${v}`);
  await context.close();
}

let browser;
let status = 0;
try {
  await mkdir(outDir, { recursive: true });
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    });
  } catch (e) {
    throw new Failure(`cannot start Chromium at ${executablePath}: ${e.message}`);
  }
  for (const viewport of VIEWPORTS) {
    await checkViewport(browser, viewport);
  }
  check(problems.length === 0, `errors in the browser:\n  ${problems.join("\n  ")}`);
  log(`all checks passed (${VIEWPORTS.map((v) => `${v.width}x${v.height}`).join(", ")})`);
} catch (e) {
  status = 1;
  const message = e instanceof Failure ? e.message : `unexpected error: ${e.stack ?? e}`;
  console.error(`dashboard.mjs: FAILED: ${message}`);
  await writeFile(path.join(outDir, "failure.txt"), `${message}\n`).catch(() => {});
} finally {
  await browser?.close().catch(() => {});
}
process.exit(status);
