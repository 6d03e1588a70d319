#!/usr/bin/env node
// A project's own questionnaire in the web app (Debian's Chromium, headless, 360 px wide). The
// caller has defined the instrument `CONNECT` for the project in two versions: five items
// answered 1 ("Never") to 5 ("Always"), the fourth reverse-scored, a sum banded low (5-11),
// medium (12-18) and high (19-25). The app enrols with a code and syncs, which brings the
// definitions in its set-up; then, offline, it starts again from its service worker, records
// a session and a participant, offers CONNECT (its newest version) beside the built-in
// instruments, shows its items as labelled radio buttons, scores the answers as they are given
// (4, 5, 3, 2, 4: 4 + 5 + 3 + (6 - 2) + 4 = 20, high) and after saving, and keeps it all
// when the browser is closed and opened again offline. Online again, it syncs by itself. Every
// screen is checked against WCAG 2.2 A and AA and saved as a screenshot. Prints a JSON summary
// on stdout: the ids of the records made and the score shown.
//
// Usage: node webapp-instrument.mjs <server URL> <enrolment code> <output directory>
// CHROMIUM overrides the browser (default /usr/bin/chromium). Exits 0 when every check
// passes, 1 with a message on the first failure, 2 on bad usage.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { Failure, appUrlOf, args, check, enrol, hashId, openPersistent, ready, run, screenshotter, unlock as unlockWith } from "./common.mjs";

const [aUrl, code, outDir] = args("webapp-instrument.mjs", ["server URL", "enrolment code", "output directory"]);
const appUrl = appUrlOf(aUrl);
const log = (m) => console.error(`webapp-instrument.mjs: ${m}`);
const problems = [];

const screenshot = screenshotter(outDir, "instrument", problems);
const open = (profile, offline) => openPersistent(profile, problems, { offline });
const QUESTIONS = ["I feel I belong in my community", "I have someone to talk to", "I feel welcome at the group", "I feel left out", "I feel useful to others in the group"];
const SCALE = ["1 Never", "2 Rarely", "3 Sometimes", "4 Often", "5 Always"];
const ANSWERS = [4, 5, 3, 2, 4];
const SCORE = /^CONNECT score 20\. Band: High\.$/;
const PIN = "connect-2026";

/** The lock screen after a reload or a new browser: the PIN opens the app. */
const unlock = (page) => unlockWith(page, PIN);

async function main() {
  await mkdir(outDir, { recursive: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-instrument-"));
  const out = {};
  try {
    // 1. Enrol and sync online: the set-up brings the project's definitions.
    let { context, page } = await open(profile, false);
    await enrol(page, { appUrl, code, device: "Group phone", pin: PIN, timeout: 20000 });
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 20000 });

    // 2. Offline from here: the app starts from its service worker with the set-up it kept.
    await context.setOffline(true);
    await page.reload();
    await ready(page);
    await unlock(page);
    await page.evaluate(() => (location.hash = "#/session/new"));
    await page.getByRole("heading", { level: 1, name: "New session" }).waitFor();
    await page.getByLabel("Site").fill("portree-hall");
    await page.getByLabel("Activity", { exact: true }).fill("lunch-club");
    await page.getByLabel("Activity type").selectOption("peer_support");
    await page.getByLabel("Starts").fill("2026-11-27T12:00");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.getByRole("heading", { level: 1, name: /lunch-club/ }).waitFor();
    out.session = hashId(page);
    // Participants other devices registered may be held too: the new one is the one not held yet.
    const before = new Set((await page.evaluate(() => window.__bothy.records())).filter((r) => r.kind === "participant").map((r) => r.id));
    await page.getByLabel(/^Name/).fill("Mairi Connect");
    await page.getByLabel("Agrees to their data being used").check();
    await page.getByRole("button", { name: "Register and mark present" }).click();
    await page.getByText(/^Registered .* and marked present\.$/).waitFor();
    const held = await page.evaluate(() => window.__bothy.records());
    out.participant = held.find((r) => r.kind === "participant" && !before.has(r.id))?.id;
    check(out.participant, "the participant was not stored");

    // 3. The questionnaire: CONNECT is offered beside the built-ins, in its newest version.
    await page.getByRole("link", { name: /questionnaire for Mairi Connect /i }).click();
    await page.getByRole("heading", { level: 1, name: "Questionnaire" }).waitFor();
    const picker = page.getByLabel("Questionnaire", { exact: true });
    const offered = await picker.locator("option").evaluateAll((os) => os.map((o) => o.value));
    for (const id of ["WEMWBS", "SWEMWBS", "ONS4", "UCLA3", "ONS_LONELINESS", "CONNECT"]) check(offered.includes(id), `${id} is not offered: ${offered.join(", ")}`);
    await picker.selectOption("CONNECT");
    const form = page.locator("fieldset.items");
    await form.getByText("Feeling connected", { exact: true }).waitFor();
    for (const [i, question] of QUESTIONS.entries()) {
      const group = page.getByRole("radiogroup", { name: `${i + 1}. ${question}` });
      check((await group.count()) === 1, `no group of answers named "${i + 1}. ${question}" (the newest version's wording)`);
      const labels = await group.getByRole("radio").evaluateAll((rs) => rs.map((r) => r.labels[0]?.textContent ?? ""));
      check(JSON.stringify(labels) === JSON.stringify(SCALE), `item ${i + 1} offers ${JSON.stringify(labels)}`);
    }
    for (const [i, question] of QUESTIONS.entries()) {
      await page.getByRole("radiogroup", { name: `${i + 1}. ${question}` }).getByRole("radio", { name: SCALE[ANSWERS[i] - 1], exact: true }).check();
    }
    const live = page.locator(".score p");
    await page.getByText(SCORE).first().waitFor({ timeout: 5000 }).catch(() => undefined);
    const liveText = ((await live.allInnerTexts()) ?? []).join(" ").trim();
    check(SCORE.test(liveText), `the score so far reads "${liveText}"`);
    await screenshot(page, "form");
    await page.getByRole("button", { name: "Save answers" }).click();
    await page.getByRole("heading", { level: 1, name: "Questionnaire answers" }).waitFor();
    out.wellbeing = hashId(page);
    out.score = (await page.locator("#score").innerText()).trim();
    check(SCORE.test(out.score), `the saved questionnaire shows "${out.score}"`);
    const about = (await page.getByText(/^Feeling connected \(CONNECT\) · version 2 · /).count()) === 1;
    check(about, "the saved questionnaire does not name CONNECT version 2");
    const answers = await page.locator("ol.answers li").allInnerTexts();
    check(JSON.stringify(answers) === JSON.stringify(ANSWERS.map((a) => SCALE[a - 1])), `the answers read ${JSON.stringify(answers)}`);
    await screenshot(page, "score");
    // The session, the participant, their contact record (the name) and the questionnaire.
    check((await page.evaluate(() => window.__bothy.unsynced())) === 4, "expected 4 unsynced records offline");
    await context.close();

    // 4. A new browser on the same profile, still offline: the answers and their score remain.
    ({ context, page } = await open(profile, true));
    await page.goto(appUrl);
    await ready(page);
    await unlock(page);
    await page.evaluate((id) => (location.hash = `#/wellbeing/${id}`), out.wellbeing);
    await page.getByRole("heading", { level: 1, name: "Questionnaire answers" }).waitFor();
    const again = (await page.locator("#score").innerText()).trim();
    check(SCORE.test(again), `after reopening the browser offline the questionnaire shows "${again}"`);
    log(`recorded offline: ${out.score}`);

    // 5. Online again: the app syncs by itself.
    await context.setOffline(false);
    await page.evaluate(() => window.dispatchEvent(new Event("online")));
    await page.waitForFunction(() => window.__bothy.unsynced().then((n) => n === 0), null, { timeout: 30000, polling: 500 }).catch(() => {
      throw new Failure("the app did not sync by itself when the browser came back online");
    });
    await page.evaluate(() => (location.hash = "#/sync"));
    await page.getByRole("heading", { level: 1, name: "Sync" }).waitFor();
    check((await page.locator("li.report").count()) === 0, `the server sent messages: ${(await page.locator("li.report").allInnerTexts()).join(" | ")}`);
    await screenshot(page, "synced");
    check(problems.length === 0, `errors in the page:\n  ${problems.join("\n  ")}`);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    await context.close();
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

run("webapp-instrument.mjs", main, problems);
