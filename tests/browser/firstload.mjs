#!/usr/bin/env node
// Measures the web app's first load in Debian's Chromium under throttled 3G: bytes transferred
// (compressed, as on the wire, WebAssembly included) and the time from navigation to the first
// usable screen (the enrolment form, ready for input). A fresh browser profile each run, so
// nothing is cached. Prints one JSON object per profile on stdout.
//
// Usage: node firstload.mjs <app URL, e.g. http://127.0.0.1:8080/app/> [runs, default 3]
// Profiles: Chrome DevTools' "Fast 3G" (562.5 ms latency, 1.44 Mbit/s down, 675 kbit/s up) and
// "Slow 3G" (2 s latency, 400 kbit/s both ways), as Puppeteer defines them.

import process from "node:process";
import { chromium } from "playwright-core";

const [url, runsArg] = process.argv.slice(2);
if (!url) {
  console.error("usage: node firstload.mjs <app URL> [runs]");
  process.exit(2);
}
const runs = Number(runsArg ?? 3);
const PROFILES = {
  "Fast 3G": { latency: 562.5, downloadThroughput: (1.6e6 / 8) * 0.9, uploadThroughput: (750e3 / 8) * 0.9 },
  "Slow 3G": { latency: 2000, downloadThroughput: (500e3 / 8) * 0.8, uploadThroughput: (500e3 / 8) * 0.8 },
};

async function once(profile) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" });
  try {
    const context = await browser.newContext({ viewport: { width: 360, height: 800 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
    await cdp.send("Network.emulateNetworkConditions", { offline: false, ...PROFILES[profile] });
    let bytes = 0;
    let requests = 0;
    cdp.on("Network.loadingFinished", (e) => {
      bytes += e.encodedDataLength;
      requests += 1;
    });
    const started = Date.now();
    await page.goto(url, { waitUntil: "commit", timeout: 120000 });
    await page.waitForFunction(() => document.body?.dataset.ready === "true", null, { timeout: 120000, polling: 50 });
    await page.getByRole("button", { name: "Enrol this device" }).waitFor({ timeout: 120000 });
    const usable = Date.now() - started;
    const atUsable = bytes;
    // Let the service worker finish caching the app for offline use.
    await page.waitForFunction(() => navigator.serviceWorker?.controller !== null, null, { timeout: 120000 }).catch(() => undefined);
    await page.waitForLoadState("networkidle", { timeout: 120000 }).catch(() => undefined);
    return { usable_ms: usable, bytes_at_usable: atUsable, bytes_first_visit: bytes, requests };
  } finally {
    await browser.close();
  }
}

for (const profile of Object.keys(PROFILES)) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await once(profile));
  const median = (k) => results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  process.stdout.write(
    `${JSON.stringify({
      profile,
      runs,
      usable_ms_median: median("usable_ms"),
      usable_ms_all: results.map((r) => r.usable_ms),
      bytes_at_usable_median: median("bytes_at_usable"),
      bytes_first_visit_median: median("bytes_first_visit"),
    })}\n`,
  );
}
