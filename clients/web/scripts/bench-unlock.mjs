#!/usr/bin/env node
// App start with an encrypted store, in Debian's Chromium (headless, 360 px wide): fills the
// app's IndexedDB with N records (default 5,000: 30% participants, 10% sessions, 20% stories,
// 40% WEMWBS responses) with the app's own code, then opens the built app (dist/) and times
// each start from the PIN's submission to the home screen's lists shown (`total_ms`), of which
// opening the key (PBKDF2 and AES-KW, `key_ms`); `settled_ms` adds the unsynced count in the
// header. Then, unlocked, reading, decrypting and loading every record's Automerge document as
// the home screen does (`load_all_ms`), and the AES-GCM decryption alone of as many values of
// the same sizes (`decrypt_all_ms`). Then, on
// another profile holding the same records in clear (a device enrolled before encryption at
// rest), times choosing a PIN: the store encrypted in place and the home screen shown.
// Serves dist/ itself (no Bothy server: the app's sync finds none and waits). Prints JSON.
//
// Usage: node scripts/bench-unlock.mjs [records, default 5000] [runs, default 3]
// Needs `npm ci` here and in tests/browser (for playwright-core). CHROMIUM overrides the
// browser (default /usr/bin/chromium).
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
const PIN = "bench-pin-2026";

const fill = await build({ entryPoints: [path.join(root, "scripts/bench-fill.ts")], bundle: true, write: false, format: "esm", platform: "browser", target: "es2020", minify: true, logLevel: "warning" });
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
      const body = await readFile(path.join(root, "dist", path.basename(name)));
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
  return { context, page: context.pages()[0] ?? (await context.newPage()) };
}

async function filled(pin) {
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-bench-unlock-"));
  const { context, page } = await browserOn(profile);
  await page.goto(`${base}/app/bench-fill.html`);
  await page.waitForFunction(() => typeof window.benchFill === "function");
  const made = await page.evaluate(([n, p, s]) => window.benchFill(n, p, s), [total, pin, base]);
  await context.close();
  return { profile, made };
}

const marks = (page) =>
  page.evaluate(() => Object.fromEntries(["bothy:unlock-start", "bothy:unlocked", "bothy:listed"].map((m) => [m, performance.getEntriesByName(m).at(-1)?.startTime])));

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { records: total, chromium: "", unlock: [], migrate: undefined };

// Starts with an encrypted store: PIN submitted to lists shown.
const sealed = await filled(PIN);
results.store = sealed.made;
for (let i = 0; i < runs; i++) {
  const { context, page } = await browserOn(sealed.profile);
  results.chromium = context.browser()?.version() ?? results.chromium;
  await page.goto(`${base}/app/`);
  await page.getByRole("heading", { level: 1, name: "Enter your PIN" }).waitFor({ timeout: 60000 });
  await page.getByLabel("PIN", { exact: true }).fill(PIN);
  const t0 = Date.now();
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByRole("heading", { level: 1, name: "Sessions" }).waitFor({ timeout: 120000 });
  await page.locator("ul.cards li").first().waitFor({ timeout: 120000 });
  const wall = Date.now() - t0;
  await page.waitForFunction(() => performance.getEntriesByName("bothy:listed").length > 0, null, { timeout: 120000 });
  const m = await marks(page);
  // Reading and decrypting every record (heads), and that plus loading each Automerge document.
  const timed = (fn) => page.evaluate(async (f) => {
    const t = performance.now();
    await window.__bothy[f]();
    return Math.round(performance.now() - t);
  }, fn);
  const load_all_ms = await timed("records");
  // AES-GCM decryption alone: values of the stored documents' sizes, with a key of the same kind.
  const decrypt_all_ms = await page.evaluate(async () => {
    const db = await new Promise((resolve) => (indexedDB.open("bothy").onsuccess = (e) => resolve(e.target.result)));
    const rows = await new Promise((resolve) => (db.transaction("records").objectStore("records").getAll().onsuccess = (e) => resolve(e.target.result)));
    db.close();
    const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const sealed = await Promise.all(
      rows.map(async (r) => {
        const iv = crypto.getRandomValues(new Uint8Array(12));
        return [iv, await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new Uint8Array(r.doc.length - 29))];
      }),
    );
    const t = performance.now();
    await Promise.all(sealed.map(([iv, c]) => crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, c)));
    return Math.round(performance.now() - t);
  });
  results.unlock.push({ total_ms: wall, key_ms: Math.round(m["bothy:unlocked"] - m["bothy:unlock-start"]), settled_ms: Math.round(m["bothy:listed"] - m["bothy:unlock-start"]), decrypt_all_ms, load_all_ms });
  await context.close();
}
await rm(sealed.profile, { recursive: true, force: true });
results.unlock_median = Object.fromEntries(["total_ms", "key_ms", "settled_ms", "decrypt_all_ms", "load_all_ms"].map((k) => [k, median(results.unlock.map((r) => r[k]))]));

// A store in clear: choosing a PIN encrypts it in place, then the lists are shown.
const clear = await filled(null);
{
  const { context, page } = await browserOn(clear.profile);
  await page.goto(`${base}/app/`);
  await page.getByRole("heading", { level: 1, name: "Choose a PIN" }).waitFor({ timeout: 60000 });
  await page.getByLabel("Choose a PIN").fill(PIN);
  await page.getByLabel("Type the PIN again").fill(PIN);
  const t0 = Date.now();
  await page.getByRole("button", { name: "Set the PIN and encrypt" }).click();
  await page.locator("ul.cards li").first().waitFor({ timeout: 300000 });
  results.migrate = { total_ms: Date.now() - t0 };
  await context.close();
}
await rm(clear.profile, { recursive: true, force: true });
server.close();
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
