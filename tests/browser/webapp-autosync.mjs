#!/usr/bin/env node
// Checks that the web app syncs by itself, says where things stand on every screen, and lets the
// user resolve a conflict on the phone (Debian's Chromium, headless, 360 px wide, a persistent
// profile). Enrols with a code and a PIN (the first sync brings a session made by another
// device); goes offline; records a session and a participant and unticks the other device's
// attendee; reloads twice while offline (the records are still there, the header says
// "Offline · N not yet synced"); prints OFFLINE_WORK_DONE and waits for a line on stdin (the
// other device marks the same attendee "left early" meanwhile); comes back online and, without
// pressing Sync, sees the header reach "All synced" with nothing left unsynced and the conflict
// offered; edits while online and sees it synced after the debounce with no click; resolves the
// conflict on the sync screen by keeping the other device's value, which then syncs by itself.
// Every screen is checked with axe and saved as a screenshot. Prints a JSON summary on stdout.
//
// Usage:
//   node webapp-autosync.mjs <server URL> <enrolment code> <session id> <attendee id> <output directory>
// (the session, named "peat-stories", and its attendee were made by the other device). CHROMIUM overrides the browser (default /usr/bin/chromium).
// Exits 0 when every check passes, 1 with a message on the first failure, 2 on bad usage.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { Failure, appUrlOf, args, check, enrol, go, hashId, heading, openPersistent, ready, run, screenshotter, unlock as unlockWith } from "./common.mjs";

const [aUrl, code, sessionId, attendee, outDir] = args("webapp-autosync.mjs", ["server URL", "enrolment code", "session id", "attendee id", "output directory"]);
const appUrl = appUrlOf(aUrl);
const problems = [];
const PIN = "bracken-2026";
const tag = Date.now().toString(36).toUpperCase();
const PERSON = `Seonaid Quern-${tag}`;
const LATER = `Calum Brough-${tag}`;

const screenshot = screenshotter(outDir, "autosync", problems);
const open = (profile) => openPersistent(profile, problems);
const statusText = async (page) => ((await page.locator("#sync-status-text").textContent()) ?? "").trim();
const unsynced = (page) => page.evaluate(() => window.__bothy.unsynced());
const autosync = (page) => page.evaluate(() => window.__bothy.autosync());

/** Waits until the header's status line matches `re`; fails naming what it said. */
async function waitStatus(page, re, what, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let said = "";
  while (Date.now() < deadline) {
    said = await statusText(page);
    if (re.test(said) && (await page.locator("#sync-status").isVisible())) return said;
    await page.waitForTimeout(200);
  }
  throw new Failure(`${what}: the status line says "${said}", not ${re}`);
}

const unlock = (page) => unlockWith(page, PIN);

async function main() {
  await mkdir(outDir, { recursive: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-autosync-"));
  const out = { syncs: {} };
  try {
    // 1. Enrol online: the first sync, made by the app itself, brings the other device's session.
    let { context, page } = await open(profile);
    await enrol(page, { appUrl, code, device: "Autosync phone", pin: PIN });
    out.status = { enrolled: await waitStatus(page, /^All synced · last sync \d\d:\d\d$/, "after enrolment") };
    check((await page.evaluate(() => window.__bothy.records())).some((r) => r.id === sessionId), "the other device's session did not arrive");
    await screenshot(page, "home-synced");

    // The app shell is cached by the service worker before the connection goes.
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    // 2. Offline: a session, a participant in it, and the other device's attendee unticked.
    await context.setOffline(true);
    await go(page, "#/session/new");
    await heading(page, "New session");
    await page.getByLabel("Site").fill("strathpeffer-spa");
    await page.getByLabel("Activity", { exact: true }).fill("bog-walk");
    await page.getByLabel("Activity type").selectOption("nature");
    await page.getByLabel("Starts").fill("2026-12-04T10:00");
    await page.getByRole("button", { name: "Create session" }).click();
    await heading(page, /bog-walk/);
    out.session = hashId(page);
    await page.getByLabel(/^Name/).fill(PERSON);
    await page.getByLabel("Agrees to their data being used").check();
    await page.getByRole("button", { name: "Register and mark present" }).click();
    await page.getByText(/^Registered .* and marked present\.$/).waitFor();
    await go(page, `#/session/${sessionId}`);
    await heading(page, /peat-stories/);
    await page.locator(`input[name="attendance.${attendee}"]`).waitFor();
    await page.locator(`input[name="attendance.${attendee}"]`).uncheck();
    await page.getByText("Attendance saved.").waitFor();
    const waiting = await unsynced(page);
    check(waiting >= 3, `expected the session, the participant and the edited session unsynced, got ${waiting}`);
    // The app tried (the browser's word is only a hint) and says it is offline.
    out.status.offline = await waitStatus(page, new RegExp(`^Offline · ${waiting} not yet synced$`), "offline after saving", 15000);
    const badge = ((await page.locator("#sync-badge").textContent()) ?? "").trim();
    check(badge === String(waiting), `the header's badge says "${badge}", the status line ${waiting}`);
    await screenshot(page, "session-offline");

    // 3. Two reloads offline: everything is still there, still unsynced, still said.
    for (const n of [1, 2]) {
      await page.reload();
      await ready(page);
      await unlock(page);
      check((await unsynced(page)) === waiting, `reload ${n}: ${await unsynced(page)} unsynced, not ${waiting}`);
      const ids = (await page.evaluate(() => window.__bothy.records())).map((r) => r.id);
      check(ids.includes(out.session), `reload ${n}: the session recorded offline is gone`);
      out.status[`reload${n}`] = await waitStatus(page, new RegExp(`^Offline · ${waiting} not yet synced$`), `reload ${n} offline`, 15000);
    }
    await go(page, "#/sync");
    await heading(page, "Sync");
    check((await page.locator("#unsynced-count").textContent()) === `Records not yet synced: ${waiting}`, "the sync screen's count is wrong offline");
    await screenshot(page, "sync-offline");

    // 4. Meanwhile the other device marks the same attendee "left early".
    process.stdout.write("OFFLINE_WORK_DONE\n");
    await new Promise((resolve) => process.stdin.once("data", resolve));
    process.stdin.pause();

    // 5. Online, and no click: the app syncs by itself and says so, here on the sync screen too.
    const before = (await autosync(page)).runs;
    await context.setOffline(false);
    const t0 = Date.now();
    out.status.online = await waitStatus(page, /^All synced · last sync \d\d:\d\d$/, "back online without pressing Sync");
    out.syncs.onlineMs = Date.now() - t0;
    check((await unsynced(page)) === 0, "records are still unsynced after the automatic sync");
    check((await autosync(page)).runs > before, "no automatic sync ran");
    await page.getByText("Records not yet synced: 0").waitFor({ timeout: 10000 });
    check(!(await page.getByText(/You are offline/).isVisible()), "the sync screen still says offline after the sync");
    const conflictLink = page.locator("#sync-status-conflicts");
    await conflictLink.waitFor({ state: "visible", timeout: 10000 });
    out.status.conflicts = ((await conflictLink.textContent()) ?? "").trim();
    check(out.status.conflicts === "1 conflict to resolve", `the header says "${out.status.conflicts}"`);
    await page.locator("#conflicts").waitFor({ timeout: 10000 });

    // 6. An edit online: synced after the debounce, no click.
    await go(page, `#/session/${out.session}`);
    await heading(page, /bog-walk/);
    await page.getByLabel(/^Name/).fill(LATER);
    await page.getByLabel("Agrees to their data being used").check();
    const t1 = Date.now();
    await page.getByRole("button", { name: "Register and mark present" }).click();
    await page.getByText(/^Registered .* and marked present\.$/).waitFor();
    await waitStatus(page, /not yet synced · last sync/, "right after an edit online", 5000);
    await waitStatus(page, /^All synced · last sync \d\d:\d\d$/, "after the debounce", 20000);
    out.syncs.editMs = Date.now() - t1;
    check((await unsynced(page)) === 0, "the edit made online is still unsynced");
    await screenshot(page, "session-synced");

    // 7. The conflict on the phone: listed in words, resolved by keeping the other device's mark.
    await conflictLink.click();
    await heading(page, "Sync");
    const section = page.locator("#conflicts");
    await section.waitFor();
    const listed = ((await section.textContent()) ?? "").replace(/\s+/g, " ");
    check(listed.includes("Attendance:"), `the conflict does not name the field: ${listed}`);
    check(/Keep “Absent”/.test(listed) && /Keep “Left early”/.test(listed), `the competing values are not both offered: ${listed}`);
    check(listed.includes("from this phone") && listed.includes("from another device"), `who wrote each value is not said: ${listed}`);
    await screenshot(page, "conflict");
    await section.getByRole("button", { name: "Keep “Left early”" }).click();
    await page.getByText(/^Kept “Left early” for Attendance: /).waitFor({ timeout: 10000 });
    const left = await page.evaluate(() => window.__bothy.conflicts());
    check(left.length === 0, `conflicts left after choosing: ${JSON.stringify(left)}`);
    check(!(await page.locator("#conflicts").isVisible()), "the conflict is still listed after choosing");
    await conflictLink.waitFor({ state: "hidden", timeout: 10000 });
    await screenshot(page, "conflict-resolved");
    await waitStatus(page, /^All synced · last sync \d\d:\d\d$/, "after resolving the conflict", 20000);
    check((await unsynced(page)) === 0, "the resolution did not sync by itself");
    out.heads = await page.evaluate(() => window.__bothy.heads());

    out.runs = (await autosync(page)).runs;
    check(problems.length === 0, `problems in the page:\n  ${problems.join("\n  ")}`);
    await context.close();
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}


run("webapp-autosync.mjs", main, problems);
