#!/usr/bin/env node
// Checks the dashboard in a real browser (Debian's Chromium, headless): logs in through the
// form, opens a project page on a phone-sized and a desktop-sized screen, checks that every
// figure section holds an accessible SVG chart (or says in one sentence that it has nothing
// to show), that every chart has a visible heading and a link to its table as CSV, that no two
// pieces of text overlap (inside a chart, or a chart's text and the page's), that no text runs
// outside its chart or is drawn smaller than 10 px, that no console or page error occurred and
// that axe-core finds no WCAG 2.2 A/AA violation, and saves screenshots. With an empty
// project's slug, also checks that its page is short (under 2,500 px at 1,280 px wide).
//
// Usage:
//   node dashboard.mjs <server URL> <username> <password> <project slug> <output directory>
//     [<empty project slug>]
// or the same through BOTHY_URL, BOTHY_USERNAME, BOTHY_PASSWORD, BOTHY_PROJECT,
// BOTHY_ARTIFACTS and BOTHY_EMPTY_PROJECT. CHROMIUM overrides the browser (default
// /usr/bin/chromium).
// Exits 0 when every check passes, 1 with a message on the first failure, 2 on bad usage.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import process from "node:process";
import { chromium } from "playwright-core";
import { violations } from "./a11y.mjs";

const SECTIONS = ["Wellbeing change", "Attendance over time", "Retention", "Equity"];
/** Whether every section must draw a chart (BOTHY_ALLOW_EMPTY_SECTIONS=1 allows a sentence). */
const requireCharts = process.env.BOTHY_ALLOW_EMPTY_SECTIONS !== "1";
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

const [argUrl, argUser, argPassword, argProject, argOut, argEmpty] = process.argv.slice(2);
const baseUrl = (argUrl ?? process.env.BOTHY_URL ?? "").replace(/\/+$/, "");
const username = argUser ?? process.env.BOTHY_USERNAME;
const password = argPassword ?? process.env.BOTHY_PASSWORD;
const project = argProject ?? process.env.BOTHY_PROJECT;
const outDir = argOut ?? process.env.BOTHY_ARTIFACTS;
const emptyProject = argEmpty ?? process.env.BOTHY_EMPTY_PROJECT;
/** The tallest an empty project's page may be at 1,280 px wide. */
const EMPTY_PAGE_MAX = 2500;
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
    const empties = await section.locator("p.empty").count();
    check(n > 0 || empties > 0, `${viewport.name}: section "${heading}" has neither a chart nor a sentence saying why`);
    if (requireCharts) check(n > 0, `${viewport.name}: section "${heading}" has no svg[role=img] chart`);
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
      // A visible heading, inside the screen, naming the chart.
      const h3 = chart.locator("xpath=ancestor::div[contains(@class,'fig')][1]//h3");
      check((await h3.count()) === 1, `${viewport.name}: chart "${title}" has no <h3> heading`);
      const hbox = await h3.boundingBox();
      check(
        hbox && hbox.width > 0 && hbox.height > 0 && hbox.x >= 0 && hbox.x + hbox.width <= viewport.width + 1,
        `${viewport.name}: the heading of chart "${title}" is not visible inside the screen`,
      );
      check(((await h3.textContent()) ?? "").trim() === title, `${viewport.name}: chart "${title}" is headed "${await h3.textContent()}"`);
      const csv = chart.locator("xpath=ancestor::div[contains(@class,'fig')][1]//a[contains(@href,'.csv')]");
      check((await csv.count()) === 1, `${viewport.name}: chart "${title}" has no "Table as CSV" link`);
    }
  }
  // Text: none overlapping, none outside its chart, none too small to read.
  const layout = await page.evaluate(() => {
    const rect = (r) => ({ left: r.left, top: r.top, right: r.right, bottom: r.bottom });
    const charts = [...document.querySelectorAll("svg[role=img]")].map((svg) => {
      const scale = svg.getScreenCTM()?.a ?? 1;
      const texts = [...svg.querySelectorAll("text")]
        .map((t) => ({
          text: t.textContent.trim(),
          box: rect(t.getBoundingClientRect()),
          px: parseFloat(getComputedStyle(t).fontSize) * scale,
        }))
        .filter((t) => t.box.right - t.box.left > 0 && t.text);
      return { title: svg.querySelector("title")?.textContent ?? "", box: rect(svg.getBoundingClientRect()), texts };
    });
    // The page's own text (outside the charts), line by line.
    const pageTexts = [];
    const walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim() || node.parentElement.closest("svg, .vh, title, desc")) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        if (r.width > 0 && r.height > 0) pageTexts.push({ text: node.textContent.trim().slice(0, 40), box: rect(r) });
      }
    }
    return { charts, pageTexts };
  });
  const overlap = (a, b) =>
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  for (const chart of layout.charts) {
    const { texts, box } = chart;
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      check(
        t.box.left >= box.left - 1 && t.box.right <= box.right + 1 && t.box.top >= box.top - 1 && t.box.bottom <= box.bottom + 1,
        `${viewport.name}: in chart "${chart.title}", "${t.text}" runs outside the chart`,
      );
      check(t.px >= 9.9, `${viewport.name}: in chart "${chart.title}", "${t.text}" is drawn at ${t.px.toFixed(1)} px`);
      for (let j = i + 1; j < texts.length; j++) {
        check(
          !overlap(t.box, texts[j].box),
          `${viewport.name}: in chart "${chart.title}", "${t.text}" overlaps "${texts[j].text}"`,
        );
      }
      for (const p of layout.pageTexts) {
        check(!overlap(t.box, p.box), `${viewport.name}: in chart "${chart.title}", "${t.text}" overlaps the page's "${p.text}"`);
      }
    }
  }
  // A chart's table downloads as CSV with the page's cookie.
  const firstCsv = page.locator("a[href*='/charts/']").first();
  if ((await firstCsv.count()) > 0) {
    const href = await firstCsv.getAttribute("href");
    const res = await page.request.get(`${baseUrl}${href}`);
    check(res.status() === 200, `${viewport.name}: ${href} answered ${res.status()}`);
    const body = await res.text();
    check(body.startsWith("group,series,value,unit,withheld"), `${viewport.name}: ${href} is not a chart's table: ${body.slice(0, 80)}`);
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
  // The top of the page (a screenful and a half and more), small enough for documentation.
  const pageHeight = await page.evaluate(() => document.documentElement.scrollHeight);
  const top = path.join(outDir, `dashboard-${viewport.name}-top.png`);
  await page.screenshot({
    path: top,
    fullPage: true,
    clip: { x: 0, y: 0, width: viewport.width, height: Math.min(pageHeight, 2500) },
  });
  log(`saved ${top} (the page is ${pageHeight}px tall)`);
  // WCAG 2.2 A and AA, on the project page as an analyst sees it.
  for (const v of await violations(page)) problems.push(`${viewport.name}: ${v}`);
  if (emptyProject) {
    const res = await page.goto(`${baseUrl}/dashboard/projects/${encodeURIComponent(emptyProject)}`);
    check(res?.status() === 200, `${viewport.name}: the empty project's page answered ${res?.status()}`);
    check((await page.locator("svg[role=img]").count()) === 0, `${viewport.name}: the empty project's page draws empty charts`);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    if (viewport.width >= 1280) {
      check(height < EMPTY_PAGE_MAX, `${viewport.name}: the empty project's page is ${height}px tall (at most ${EMPTY_PAGE_MAX})`);
    }
    const emptyFile = path.join(outDir, `dashboard-empty-${viewport.name}.png`);
    await page.screenshot({ path: emptyFile, fullPage: true });
    log(`saved ${emptyFile} (an empty project's page, ${height}px tall)`);
    for (const v of await violations(page)) problems.push(`${viewport.name}, empty project: ${v}`);
  }
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
