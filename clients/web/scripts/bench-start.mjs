#!/usr/bin/env node
// The phone app's start and lists on a slow phone: Debian's Chromium (headless, 360x780) with
// its CPU slowed 4 times (Chrome DevTools' `Emulation.setCPUThrottlingRate`), a store of N
// records (default 5,000: 1,500 participants each with a contact record holding a name,
// sessions with attendance, stories and WEMWBS baselines) made by the app's own code and sealed
// under a PIN. For each run, on a fresh browser over the same profile:
//   boot_ms          navigation to the PIN screen ready (WebAssembly loaded)
//   unlock_ms        PIN submitted to the home screen drawn (`bothy:unlock-start` to
//                    `bothy:listed`, marks the app sets itself)
//   start_to_home_ms the two together: opening the app to its first screen, less the typing
//   people_ms        the participant list (`#/people`) opened from home to its rows drawn
//   start_to_people_ms  start_to_home_ms and people_ms together
//   search_ms        each keystroke typed in the list's search box to its results drawn
//                    (median of the keystrokes of "Morag Mac" then of "1234")
//   scroll           the list scrolled to its end in 120 px steps, one a frame: frames and
//                    the median and longest frame, in ms
// Timings of drawing end on the next animation frame after the DOM settles (no change for two
// frames). Serves dist/ itself (no Bothy server: the app's sync finds none). Prints JSON.
//
// Usage: node scripts/bench-start.mjs [records, default 5000] [runs, default 3] [participants, default 1500]
// Needs `npm ci` here and in tests/browser (playwright-core). CHROMIUM overrides the browser
// (default /usr/bin/chromium); BOTHY_BENCH_CPU the slow-down (default 4).
import { build } from "esbuild";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { chromium } = createRequire(path.join(root, "../../tests/browser/package.json"))("playwright-core");
const total = Number(process.argv[2] ?? 5000);
const runs = Number(process.argv[3] ?? 3);
const participants = Number(process.argv[4] ?? 1500);
const cpu = Number(process.env.BOTHY_BENCH_CPU ?? 4);
const PIN = "bench-pin-2026";

const fill = await build({ entryPoints: [path.join(root, "scripts/bench-start-fill.ts")], bundle: true, write: false, format: "esm", platform: "browser", target: "es2020", minify: true, logLevel: "warning" });
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".svg": "image/svg+xml", ".png": "image/png", ".webmanifest": "application/manifest+json" };
const server = http.createServer(async (q, res) => {
  const url = new URL(q.url, "http://x");
  if (url.pathname === "/app/bench-fill.html") {
    res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><title>fill</title><script type="module" src="bench-fill.js"></script>');
    return;
  }
  if (url.pathname === "/app/bench-fill.js") {
    res.writeHead(200, { "content-type": "text/javascript" }).end(fill.outputFiles[0].contents);
    return;
  }
  if (url.pathname.startsWith("/app/")) {
    const name = url.pathname.slice(5) || "index.html";
    try {
      const body = await readFile(path.join(root, "dist", path.normalize(name).replace(/^(\.\.[/\\])+/, "")));
      res.writeHead(200, { "content-type": TYPES[path.extname(name)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
    return;
  }
  res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"code":"bench","message":"no server in this benchmark"}}');
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;

async function browserOn(profile) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 360, height: 780 },
    args: ["--no-sandbox"],
  });
  // No service worker: every start loads the app as the first start after an update does.
  return { context, page: context.pages()[0] ?? (await context.newPage()) };
}

// In the page: runs `act`, then waits until the DOM under `main` has stopped changing for two
// animation frames (or `until` holds and it is quiet), and returns the ms from `act` to the
// first of those quiet frames.
const SETTLE = `
window.__settle = (act, until, limit = 120000) => new Promise((resolve, reject) => {
  const main = document.getElementById("main");
  let last = 0, quiet = 0, changed = false;
  const obs = new MutationObserver(() => { changed = true; quiet = 0; });
  obs.observe(main, { childList: true, subtree: true, characterData: true, attributes: true });
  const t0 = performance.now();
  const give = setTimeout(() => { obs.disconnect(); reject(new Error("nothing drawn")); }, limit);
  const frame = () => {
    if (changed && (!until || until())) {
      if (quiet === 0) last = performance.now();
      quiet += 1;
      if (quiet >= 3) { clearTimeout(give); obs.disconnect(); return resolve(Math.round(last - t0)); }
    }
    requestAnimationFrame(frame);
  };
  Promise.resolve(act()).then(() => requestAnimationFrame(frame), reject);
});`;

const median = (xs) => (xs.length ? xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);
const range = (xs) => (xs.length ? [Math.min(...xs), Math.max(...xs)] : null);

const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-bench-start-"));
const results = { records: total, participants, cpu_slowdown: cpu, chromium: "", store: undefined, runs: [] };
{
  const { context, page } = await browserOn(profile);
  await page.goto(`${base}/app/bench-fill.html`);
  await page.waitForFunction(() => typeof window.benchStartFill === "function");
  results.store = await page.evaluate(([n, p, pin, s]) => window.benchStartFill(n, p, pin, s), [total, participants, PIN, base]);
  await context.close();
}

for (let i = 0; i < runs; i++) {
  const { context, page } = await browserOn(profile);
  results.chromium = context.browser()?.version() ?? results.chromium;
  const cdp = await context.newCDPSession(page);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: cpu });
  const run = {};
  const t0 = Date.now();
  await page.goto(`${base}/app/`);
  await page.getByRole("heading", { level: 1, name: "Enter your PIN" }).waitFor({ timeout: 120000 });
  await page.getByLabel("PIN", { exact: true }).waitFor({ timeout: 120000 });
  run.boot_ms = Date.now() - t0;
  await page.getByLabel("PIN", { exact: true }).fill(PIN);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.waitForFunction(() => performance.getEntriesByName("bothy:listed").length > 0, null, { timeout: 300000, polling: 50 });
  run.unlock_ms = await page.evaluate(() => Math.round(performance.getEntriesByName("bothy:listed").at(-1).startTime - performance.getEntriesByName("bothy:unlock-start").at(-1).startTime));
  run.start_to_home_ms = run.boot_ms + run.unlock_ms;
  await page.evaluate(SETTLE);

  // The participant list, opened from home.
  const hasPeople = await page.evaluate(() => !!document.querySelector('a[href="#/people"]'));
  if (!hasPeople) {
    run.people = "the app has no participant list (#/people)";
  } else {
    run.people_ms = await page.evaluate(() =>
      window.__settle(
        () => (location.hash = "#/people"),
        () => document.querySelector('#main input[type="search"]') && document.querySelectorAll("#main li").length > 0,
      ),
    );
    run.start_to_people_ms = run.start_to_home_ms + run.people_ms;
    run.people_rows = await page.evaluate(() => document.querySelectorAll("#main li").length);
    // Keystrokes: each typed on its own, timed to its results drawn.
    run.search_ms = [];
    for (const term of ["Morag Mac", "1234"]) {
      await page.evaluate(() => {
        const box = document.querySelector('#main input[type="search"]');
        box.value = "";
        box.dispatchEvent(new Event("input", { bubbles: true }));
      });
      await page.waitForTimeout(500);
      for (let k = 1; k <= term.length; k++) {
        const ms = await page.evaluate((value) => {
          const box = document.querySelector('#main input[type="search"]');
          return window.__settle(() => {
            box.value = value;
            box.dispatchEvent(new Event("input", { bubbles: true }));
          }, null, 10000);
        }, term.slice(0, k)).catch(() => null);
        if (ms !== null) run.search_ms.push(ms);
      }
    }
    run.search_results = await page.evaluate(() => document.querySelectorAll("#main li").length);
    // Back to the whole list, then scroll it to its end.
    await page.evaluate(() => {
      const box = document.querySelector('#main input[type="search"]');
      box.value = "";
      box.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await page.waitForTimeout(1000);
    run.scroll = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const frames = [];
          let prev = performance.now();
          window.scrollTo(0, 0);
          const step = () => {
            const now = performance.now();
            frames.push(now - prev);
            prev = now;
            const end = document.scrollingElement.scrollHeight - window.innerHeight;
            if (window.scrollY >= end - 1 || frames.length > 2000) {
              const sorted = frames.slice(1).sort((a, b) => a - b);
              return resolve({ frames: sorted.length, height_px: document.scrollingElement.scrollHeight, median_frame_ms: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0), longest_frame_ms: Math.round(sorted.at(-1) ?? 0) });
            }
            window.scrollBy(0, 120);
            requestAnimationFrame(step);
          };
          requestAnimationFrame(step);
        }),
    );
  }
  results.runs.push(run);
  await context.close();
}
await rm(profile, { recursive: true, force: true });
server.close();

const all = (k) => results.runs.map((r) => r[k]).filter((v) => typeof v === "number");
const summary = {};
for (const k of ["boot_ms", "unlock_ms", "start_to_home_ms", "people_ms", "start_to_people_ms"]) summary[k] = { median: median(all(k)), range: range(all(k)) };
const keys = results.runs.flatMap((r) => r.search_ms ?? []);
summary.search_ms = { median: median(keys), range: range(keys), keystrokes: keys.length };
const frames = results.runs.map((r) => r.scroll).filter(Boolean);
summary.scroll = { median_frame_ms: median(frames.map((f) => f.median_frame_ms)), longest_frame_ms: range(frames.map((f) => f.longest_frame_ms)) };
results.summary = summary;
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
