#!/usr/bin/env node
// A lost phone running the web app is wiped when it comes back online. The phone enrols, writes a
// story and syncs it, goes offline and writes another; it then prints CAPTURED and a JSON line
// with both story ids, and waits for a line on stdin while the caller revokes the device. Back
// online, the app syncs by itself, is told to wipe, deletes everything and confirms; it must then
// show, on the enrolment screen, that this device was withdrawn and wiped, that one record's
// changes were lost and the server was told, and that it must be enrolled again. The browser's
// database must hold no record, copy, report or credential afterwards. A screenshot goes to the
// output directory and the screen is checked against WCAG 2.2 A and AA. Prints a JSON summary.
//
// Usage: node webapp-wipe.mjs <server URL> <enrolment code> <output directory>

import path from "node:path";
import process from "node:process";
import { PHONE, collectErrors, launch } from "./common.mjs";
import { violations } from "./a11y.mjs";

const [baseUrl, code, outDir] = process.argv.slice(2);
if (!baseUrl || !code || !outDir) {
  console.error("usage: node webapp-wipe.mjs <server URL> <enrolment code> <output directory>");
  process.exit(2);
}
const SYNCED = "Curlews over the machair at Balranald.";
const OFFLINE = "The heron stood all morning at the mouth of the Abhainn Dubh.";
const PIN = "lost-phone-2026";
const problems = [];
const check = (ok, message) => {
  if (!ok) throw new Error(message);
};

async function story(page, title, body) {
  await page.evaluate(() => (location.hash = "#/story/new"));
  await page.getByRole("heading", { level: 1, name: "New story" }).waitFor();
  await page.getByLabel("Title").fill(title);
  await page.locator('[data-field="body"] textarea').fill(body);
  await page.getByRole("button", { name: "Save story" }).click();
  await page.getByRole("heading", { level: 1, name: title }).waitFor();
  return new URL(page.url()).hash.split("/").pop();
}

/** What the browser's database holds: the keys of each object store. */
async function held(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const r = indexedDB.open("bothy");
        r.onerror = () => reject(r.error);
        r.onsuccess = async () => {
          const db = r.result;
          const out = {};
          for (const name of db.objectStoreNames) {
            out[name] = await new Promise((ok, fail) => {
              const q = db.transaction(name, "readonly").objectStore(name).getAllKeys();
              q.onsuccess = () => ok(q.result.map(String));
              q.onerror = () => fail(q.error);
            });
          }
          db.close();
          resolve(out);
        };
      }),
  );
}

async function main() {
  const browser = await launch();
  try {
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    collectErrors(page, problems);
    await page.goto(`${baseUrl.replace(/\/+$/, "")}/app/`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
    await page.getByLabel("Enrolment code or QR text").fill(code);
    await page.getByLabel("Name for this device").fill("Lost phone");
    if ((await page.getByLabel("Choose a PIN").count()) > 0) {
      await page.getByLabel("Choose a PIN").fill(PIN);
      await page.getByLabel("Type the PIN again").fill(PIN);
    }
    await page.getByRole("button", { name: "Enrol this device" }).click();
    await page.getByRole("heading", { level: 1, name: "Sessions" }).waitFor({ timeout: 20000 });

    // A story, synced.
    const synced = await story(page, "Curlews", SYNCED);
    await page.evaluate(() => (location.hash = "#/sync"));
    await page.getByRole("heading", { level: 1, name: "Sync" }).waitFor();
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByText(/^Synced: sent 1, received \d+\./).waitFor({ timeout: 30000 });

    // Offline: another story, never synced.
    await context.setOffline(true);
    const offline = await story(page, "The heron", OFFLINE);
    check((await page.evaluate(() => window.__bothy.unsynced())) === 1, "the offline story is not counted as unsynced");
    await page.evaluate(() => (location.hash = "#/"));
    await page.getByRole("heading", { level: 1, name: "Sessions" }).waitFor();
    process.stdout.write(`CAPTURED\n${JSON.stringify({ synced, offline })}\n`);
    await new Promise((resolve) => process.stdin.once("data", resolve));
    process.stdin.pause();

    // Back online: the app syncs by itself, is withdrawn, wipes itself and says so.
    await context.setOffline(false);
    await page.evaluate(() => window.dispatchEvent(new Event("online")));
    const notice = page.locator("#wiped");
    await notice.waitFor({ timeout: 30000 });
    await page.getByRole("heading", { level: 1, name: "Set up this device" }).waitFor();
    const said = ((await notice.textContent()) ?? "").replace(/\s+/g, " ").trim();
    for (const part of ["This device was withdrawn", "has been wiped", "are lost: 1.", "The server has been told which.", "enrol this device"]) {
      check(said.includes(part), `the wipe notice does not say "${part}": "${said}"`);
    }
    check((await page.evaluate(() => window.__bothy.records())).length === 0, "records are still listed after the wipe");
    const stores = await held(page);
    for (const name of ["records", "setAside", "reports"]) check(stores[name].length === 0, `the ${name} store still holds ${stores[name].join(", ")}`);
    const left = stores.meta.filter((k) => !["wipe", "vault", "unlockFailures"].includes(k));
    check(left.length === 0, `meta still holds ${left.join(", ")} after the wipe`);
    await page.screenshot({ path: path.join(outDir, "webapp-wiped.png"), fullPage: true });
    for (const v of await violations(page)) problems.push(`wipe notice: ${v}`);
    check(problems.length === 0, `errors in the page:\n  ${problems.join("\n  ")}`);
    process.stdout.write(`${JSON.stringify({ synced, offline, notice: said, meta: stores.meta })}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`webapp-wipe.mjs: FAILED: ${e.message ?? e}`);
  process.exit(1);
});
