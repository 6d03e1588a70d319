#!/usr/bin/env node
// The web app told of a refusal: a researcher's phone records a session, registers a
// participant and completes a WEMWBS; it then prints CAPTURED and waits for a line on stdin,
// while the caller makes the user a peer support worker (who may log sessions and attendance,
// not questionnaires). At the next sync the server stores the session and the participant and
// refuses the questionnaire; the app must keep its copy aside, say so in plain words on the sync
// screen and count the copy set aside. The participant's contact record (their name) is sent and
// then removed from the phone, which says so: a peer worker is never sent contact details. A
// screenshot of the sync screen goes to the output
// directory, which is checked against WCAG 2.2 A and AA. Prints a JSON summary on stdout.
//
// Usage: node webapp-refusal.mjs <server URL> <enrolment code> <output directory>

import path from "node:path";
import process from "node:process";
import { PHONE, collectErrors, launch } from "./common.mjs";
import { violations } from "./a11y.mjs";

const [baseUrl, code, outDir] = process.argv.slice(2);
if (!baseUrl || !code || !outDir) {
  console.error("usage: node webapp-refusal.mjs <server URL> <enrolment code> <output directory>");
  process.exit(2);
}
const problems = [];
const check = (ok, message) => {
  if (!ok) throw new Error(message);
};

async function main() {
  const browser = await launch();
  try {
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    collectErrors(page, problems, /Failed to load resource/);
    const audit = async (name) => {
      for (const v of await violations(page)) problems.push(`${name}: ${v}`);
    };
    await page.goto(`${baseUrl.replace(/\/+$/, "")}/app/`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
    await page.getByLabel("Enrolment code or QR text").fill(code);
    await page.getByLabel("Name for this device").fill("Peer phone");
    await page.getByLabel("Choose a PIN").fill("peer-phone-pin");
    await page.getByLabel("Type the PIN again").fill("peer-phone-pin");
    await page.getByRole("button", { name: "Enrol this device" }).click();
    await page.getByRole("heading", { level: 1, name: "Sessions" }).waitFor({ timeout: 20000 });
    // Offline while capturing: the app would otherwise sync it by itself before the role changes.
    await context.setOffline(true);

    await page.evaluate(() => (location.hash = "#/session/new"));
    await page.getByRole("heading", { level: 1, name: "New session" }).waitFor();
    await page.getByLabel("Site").fill("stornoway-hall");
    await page.getByLabel("Activity", { exact: true }).fill("peer-group");
    await page.getByLabel("Activity type").selectOption("peer_support");
    await page.getByLabel("Starts").fill("2026-11-26T14:00");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.getByRole("heading", { level: 1, name: /peer-group/ }).waitFor();
    const session = new URL(page.url()).hash.split("/").pop();
    await page.getByLabel(/^Name/).fill("Iain Peer");
    await page.getByLabel("Agrees to their data being used").check();
    await page.getByRole("button", { name: "Register and mark present" }).click();
    await page.getByText(/^Registered .* and marked present\.$/).waitFor();
    await page.getByRole("link", { name: /questionnaire for Iain Peer /i }).click();
    await page.getByRole("heading", { level: 1, name: "Questionnaire" }).waitFor();
    for (let i = 1; i <= 14; i++) await page.locator(`[data-field="items.${i}"] input[type=radio][value="3"]`).check();
    await page.getByRole("button", { name: "Save answers" }).click();
    await page.getByRole("heading", { level: 1, name: "Questionnaire answers" }).waitFor();
    const wellbeing = new URL(page.url()).hash.split("/").pop();

    process.stdout.write("CAPTURED\n");
    await new Promise((resolve) => process.stdin.once("data", resolve));
    process.stdin.pause();

    await page.evaluate(() => (location.hash = "#/sync"));
    await page.getByRole("heading", { level: 1, name: "Sync" }).waitFor();
    // Back online, Sync now at once: it reports the automatic sync the connection started too.
    await context.setOffline(false);
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByText(/^Synced: sent \d+, received \d+\./).waitFor({ timeout: 30000 });
    const reports = page.locator("li.report.refused");
    await reports.first().waitFor({ timeout: 10000 });
    const said = (await reports.first().textContent()) ?? "";
    check(said.includes("Refused by the server"), `the refusal is not explained: "${said}"`);
    check(said.includes(wellbeing), `the refusal does not name the questionnaire ${wellbeing}: "${said}"`);
    check(await page.getByText("Copies set aside after a refusal: 1").isVisible(), "the copy set aside is not counted");
    // A peer worker is never sent contact details: the one registered here was sent, then removed.
    const synced = (await page.locator("#sync-removed").textContent()) ?? "";
    check(synced.includes("1 record no longer shared with you was removed from this phone."), `the sync said "${synced}"`);
    check(!(await page.evaluate(() => window.__bothy.records())).some((r) => r.kind === "contact"), "the contact record is still on the phone");
    check((await page.evaluate(() => window.__bothy.unsynced())) === 0, "the refused record is still counted as unsynced");
    const badge = (await page.locator('header nav a[href="#/sync"]').textContent()) ?? "";
    check(!/\d/.test(badge), `the header still shows unsynced records after the sync: "${badge.trim()}"`);
    await page.screenshot({ path: path.join(outDir, "webapp-refused.png"), fullPage: true });
    await audit("sync with a refusal");
    check(problems.length === 0, `errors in the page:\n  ${problems.join("\n  ")}`);
    process.stdout.write(`${JSON.stringify({ session, wellbeing, message: said.trim() })}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`webapp-refusal.mjs: FAILED: ${e.message ?? e}`);
  process.exit(1);
});
