#!/usr/bin/env node
// What each phone holds (Debian's Chromium, headless, 360 px wide, two browser profiles). The
// caller has registered participants with names, phones and postcode districts (contact
// records), a session they attended and stories, one of them private, from a researcher's
// device. Then:
//
// 1. A peer worker's phone enrols and syncs. It holds the participants and the session, and
//    nothing else: every value in its IndexedDB (each saved document decoded with the app's own
//    Automerge, its whole history, and the raw bytes) is searched for the names, phones,
//    postcode districts and stories, and none may be there. Attendance shows codes only.
// 2. The peer worker registers a person with a name, phone, postcode district and contact
//    notes: the phone shows the name until the next sync, which sends the contact record and
//    then removes it ("1 record no longer shared with you was removed from this phone"). The
//    database is searched again.
// 3. A researcher's phone enrols: attendance shows every name (the peer worker's person's too),
//    and its database holds them (which shows the search can find what it looks for). It holds
//    the shared story but not another user's private story.
// 4. With the pause below, the caller makes the shared story private; the researcher's phone
//    syncs, removes it and says so.
//
// Every screen is checked against WCAG 2.2 A and AA and saved as a screenshot. Prints
// `SCOPE_CHECKED <JSON>` (the person the peer worker registered) before the pause, and a JSON
// summary at the end.
//
// Usage: node webapp-scope.mjs <server URL> <peer worker's enrolment code> <researcher's
//        enrolment code> <session id> <held JSON> <output directory>
// where <held JSON> is {"people": [{"id", "name", "phone", "district"}...], "stories": [{"id",
// "title", "body", "private"}...], "shared_story": id}. Waits for a line on stdin before step 4.
// CHROMIUM overrides the browser (default /usr/bin/chromium). Exits 0 when every check passes,
// 1 with a message on the first failure, 2 on bad usage.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { appUrlOf, args, check, enrol as enrolWith, esc, openPersistent, run, screenshotter } from "./common.mjs";

const [aUrl, peerCode, researcherCode, sessionId, heldJson, outDir] = args("webapp-scope.mjs", ["server URL", "peer worker's enrolment code", "researcher's enrolment code", "session id", "held JSON", "output directory"]);
const held = JSON.parse(heldJson);
const appUrl = appUrlOf(aUrl);
const log = (m) => console.error(`webapp-scope.mjs: ${m}`);
const problems = [];

const screenshot = screenshotter(outDir, "scope", problems);
const open = (profile) => openPersistent(profile, problems, { ignore: /Failed to load resource/ });
const records = (page) => page.evaluate(() => window.__bothy.records());

/**
 * Everything the app keeps in its IndexedDB (`bothy`), as text to search: every entry of every
 * store, each saved document (a `doc` field) decoded with the app's own Automerge, its current
 * values and every change of its history (`window.__bothy.inspect`), and its raw bytes read as
 * Latin-1 (the store's values as stored, which are sealed, and each document once unlocked, through
 * the app). Also the kinds of the records held.
 */
async function readDatabase(page) {
  return page.evaluate(async () => {
    const request = (r) =>
      new Promise((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const db = await request(indexedDB.open("bothy"));
    const latin1 = (bytes) => Array.from(bytes, (b) => String.fromCharCode(b)).join("");
    const parts = [];
    const kinds = [];
    try {
      // Every value as stored (record documents are sealed: see docs/security.md).
      for (const name of db.objectStoreNames) {
        const store = db.transaction(name, "readonly").objectStore(name);
        const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
        values.forEach((value, i) => {
          const plain = JSON.stringify(value, (k, v) => (v instanceof Uint8Array ? latin1(v) : v));
          parts.push(`${name} ${String(keys[i])}: ${plain}`);
        });
      }
    } finally {
      db.close();
    }
    // And every document once unlocked, with its whole history.
    for (const r of await window.__bothy.documents()) {
      kinds.push(r.kind);
      parts.push(window.__bothy.inspect(r.doc), latin1(r.doc));
    }
    return { text: parts.join("\n"), kinds };
  });
}

/** The strings of `wanted` found in the database's text. */
const found = (text, wanted) => wanted.filter((s) => text.includes(s));

/** The labels of the attendance checklist of the session on screen. */
const attendanceLabels = (page) => page.locator("ul.checklist input[type=checkbox]").evaluateAll((boxes) => boxes.map((b) => b.labels[0]?.textContent ?? ""));

const PIN = "heather-2026";

const enrol = (page, code, device) => enrolWith(page, { appUrl, code, device, pin: PIN });

async function openSession(page) {
  await page.evaluate((id) => (location.hash = `#/session/${id}`), sessionId);
  await page.getByRole("heading", { level: 2, name: "Attendance" }).waitFor({ timeout: 10000 });
}

async function syncNow(page) {
  await page.evaluate(() => (location.hash = "#/sync"));
  await page.getByRole("heading", { level: 1, name: "Sync" }).waitFor();
  await page.getByRole("button", { name: "Sync now" }).click();
  const said = page.getByText(/^Synced: sent \d+, received \d+\./);
  await said.waitFor({ timeout: 30000 });
  // What a sync removed from the phone is listed under the message (whichever sync removed it:
  // the app also syncs by itself).
  const removed = (await page.locator("#sync-removed").textContent()) ?? "";
  return `${(await said.textContent()) ?? ""} ${removed}`;
}

async function main() {
  await mkdir(outDir, { recursive: true });
  const peerProfile = await mkdtemp(path.join(os.tmpdir(), "bothy-scope-peer-"));
  const researcherProfile = await mkdtemp(path.join(os.tmpdir(), "bothy-scope-researcher-"));
  const secrets = held.people.flatMap((p) => [p.name, p.phone, p.district]);
  const stories = held.stories.flatMap((s) => [s.title, s.body]);
  const summary = {};
  try {
    // 1. The peer worker's phone: participants and the session, nothing that names anyone.
    const peer = await open(peerProfile);
    await enrol(peer.page, peerCode, "Peer worker's phone");
    let kept = await records(peer.page);
    check(kept.some((r) => r.id === sessionId), `the peer worker's phone does not hold session ${sessionId}`);
    for (const p of held.people) check(kept.some((r) => r.id === p.id && r.kind === "participant"), `the peer worker's phone does not hold participant ${p.id}`);
    let db = await readDatabase(peer.page);
    check(!db.kinds.includes("contact") && !db.kinds.includes("story"), `the peer worker's phone holds records of kinds ${[...new Set(db.kinds)].join(", ")}`);
    let leaked = found(db.text, [...secrets, ...stories]);
    check(leaked.length === 0, `the peer worker's phone holds ${JSON.stringify(leaked)}`);
    await openSession(peer.page);
    let labels = await attendanceLabels(peer.page);
    check(labels.length === held.people.length, `the peer worker's attendance lists ${labels.length} people: ${JSON.stringify(labels)}`);
    check(found(labels.join("\n"), secrets).length === 0, `the peer worker's attendance shows ${JSON.stringify(labels)}`);
    await screenshot(peer.page, "peer-attendance");
    log(`peer worker's phone: ${kept.length} records, ${db.text.length} characters searched, none of ${secrets.length + stories.length} strings found`);

    // 2. The peer worker registers a person with their contact details: the phone shows the
    // name until the next sync, which sends them and then removes them from the phone.
    const person = { name: "Peigi Ruthven-Holm", phone: "07700 900288", district: "IV41", notes: "Ring after six on weekdays" };
    const before = new Set(kept.map((r) => r.id));
    const form = peer.page.locator("form", { has: peer.page.getByRole("heading", { name: "Register a new participant" }) });
    await form.getByText("Sent to the project team at the next sync, then removed from this phone.").waitFor();
    await form.getByLabel(/^Name/).fill(person.name);
    await form.getByLabel(/^Phone/).fill(person.phone);
    // Too long for a postcode district: refused beside the field (as in a browser that lets
    // more be typed than the field's `maxlength`), and nothing is saved.
    const district = form.getByLabel(/^Postcode district/);
    await district.evaluate((input) => input.removeAttribute("maxlength"));
    await district.fill("IV41 7");
    await form.getByLabel("Agrees to their data being used").check();
    await form.getByRole("button", { name: "Register and mark present" }).click();
    const error = form.locator('[data-field="contact.postcode_district"] .error');
    await error.waitFor({ state: "visible", timeout: 5000 });
    check(/at most 4 characters/.test((await error.textContent()) ?? ""), `the postcode district's message reads "${await error.textContent()}"`);
    check((await records(peer.page)).length === kept.length, "an invalid registration saved something");
    await screenshot(peer.page, "peer-register-invalid");
    await district.fill(person.district);
    await form.getByLabel(/^Contact notes/).fill(person.notes);
    await form.getByRole("button", { name: "Register and mark present" }).click();
    await peer.page.getByText(/^Registered .* and marked present\.$/).waitFor();
    kept = await records(peer.page);
    const made = kept.filter((r) => !before.has(r.id));
    check(made.length === 2 && made.some((r) => r.kind === "participant") && made.some((r) => r.kind === "contact"), `registering made ${JSON.stringify(made)}`);
    summary.participant = made.find((r) => r.kind === "participant").id;
    summary.contact = made.find((r) => r.kind === "contact").id;
    labels = await attendanceLabels(peer.page);
    check(labels.some((l) => l.startsWith(`${person.name} (`)), `before it syncs, the peer worker's attendance lists ${JSON.stringify(labels)}`);
    await screenshot(peer.page, "peer-registered");
    const said = await syncNow(peer.page);
    check(said.includes("1 record no longer shared with you was removed from this phone."), `the sync said "${said}"`);
    await screenshot(peer.page, "peer-synced");
    kept = await records(peer.page);
    check(kept.some((r) => r.id === summary.participant), "the participant the peer worker registered left the phone");
    check(!kept.some((r) => r.id === summary.contact), "the contact record is still on the peer worker's phone after the sync");
    check((await peer.page.evaluate(() => window.__bothy.unsynced())) === 0, "the peer worker's phone has unsynced records after the sync");
    db = await readDatabase(peer.page);
    leaked = found(db.text, [...secrets, ...stories, person.name, person.phone, person.district, person.notes]);
    check(leaked.length === 0, `after its sync the peer worker's phone holds ${JSON.stringify(leaked)}`);
    await openSession(peer.page);
    labels = await attendanceLabels(peer.page);
    check(!labels.some((l) => l.includes(person.name)), `after its sync the peer worker's attendance lists ${JSON.stringify(labels)}`);
    log(`peer worker registered ${summary.participant}; after the sync: ${said}`);
    await peer.context.close();

    // 3. A researcher's phone: every name, the shared story, not another user's private story.
    const researcher = await open(researcherProfile);
    await enrol(researcher.page, researcherCode, "Researcher's phone");
    await openSession(researcher.page);
    labels = await attendanceLabels(researcher.page);
    for (const name of [...held.people.map((p) => p.name), person.name]) {
      check(labels.some((l) => new RegExp(`^${esc(name)} \\(`).test(l)), `the researcher's attendance does not name ${name}: ${JSON.stringify(labels)}`);
    }
    await screenshot(researcher.page, "researcher-attendance");
    db = await readDatabase(researcher.page);
    const names = [...held.people.flatMap((p) => [p.name, p.phone, p.district]), person.name, person.phone, person.district, person.notes];
    check(found(db.text, names).length === names.length, `the researcher's database lacks ${JSON.stringify(names.filter((n) => !db.text.includes(n)))}`);
    kept = await records(researcher.page);
    check(kept.filter((r) => r.kind === "contact").length === held.people.length + 1, `the researcher holds ${kept.filter((r) => r.kind === "contact").length} contact records`);
    for (const s of held.stories) {
      const has = kept.some((r) => r.id === s.id);
      check(has === !s.private, `the researcher's phone ${has ? "holds" : "lacks"} the ${s.private ? "private" : "shared"} story "${s.title}"`);
      if (s.private) check(found(db.text, [s.title, s.body]).length === 0, `the researcher's phone holds the words of the private story "${s.title}"`);
    }
    process.stdout.write(`SCOPE_CHECKED ${JSON.stringify(summary)}\n`);

    // 4. The caller makes the shared story private; the researcher's phone removes it.
    await new Promise((resolve) => process.stdin.once("data", resolve));
    process.stdin.pause();
    const shared = held.stories.find((s) => s.id === held.shared_story);
    const after = await syncNow(researcher.page);
    check(after.includes("1 record no longer shared with you was removed from this phone."), `the researcher's sync said "${after}"`);
    await screenshot(researcher.page, "researcher-withdrawn");
    kept = await records(researcher.page);
    check(!kept.some((r) => r.id === shared.id), "the story made private is still on the researcher's phone");
    db = await readDatabase(researcher.page);
    check(found(db.text, [shared.title, shared.body]).length === 0, "the words of the story made private are still on the researcher's phone");
    summary.withdrawn = after;
    check(problems.length === 0, `errors in the page:\n  ${problems.join("\n  ")}`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    await researcher.context.close();
  } finally {
    await rm(peerProfile, { recursive: true, force: true });
    await rm(researcherProfile, { recursive: true, force: true });
  }
}

run("webapp-scope.mjs", main, problems);
