#!/usr/bin/env node
// Encryption at rest in the web app (Debian's Chromium, headless, 360 px wide, a persistent
// profile in a temporary directory):
//
// 1. Enrols with a code and a PIN (a PIN too short, then two that differ, are refused beside
//    the field), registers a participant with a distinctive name, records a WEMWBS for them and
//    writes a story with distinctive text, and closes the browser.
// 2. Searches the raw bytes of every file of the profile's IndexedDB (`Default/IndexedDB/...`)
//    for the name and the story text, in UTF-8 and UTF-16: neither may be there. LevelDB keeps
//    recent writes in its log uncompressed but may compress table blocks with Snappy, and
//    Chromium may compress large values, so the search is first shown to work: a probe database
//    of the same origin, written just before closing, holds a text and bytes of the same sizes,
//    and both must be found. Nor may the name, the story or its title be anywhere else in the
//    profile (session restore keeps form contents, the history keeps page titles).
// 3. Opens the browser again on the profile: the lock screen is all there is (no navigation,
//    `__bothy.records()` refuses). Before unlocking, page JavaScript reads the app's IndexedDB
//    directly: no record's document is an Automerge document (its magic bytes), every document,
//    set-aside copy, report message and `meta` value except the vault and the count of wrong PINs
//    is sealed (version 1, IV, ciphertext), the vault names PBKDF2-SHA-256 with at least 600,000
//    iterations, and the name and story text appear nowhere.
// 4. A wrong PIN is refused with the clear message; the right one shows the participant, their
//    questionnaire and the story again. After 5 minutes without input (the page's clock moved
//    on) the app locks itself, and the PIN opens it again.
// 5. Five wrong PINs in a row: the message says to wait 30 seconds; after a reload the right PIN
//    is still made to wait. "Forgot PIN?" says what will be lost (3 records never synced) and
//    clears the device: the enrolment screen, and an empty store.
// 6. A device enrolled before encryption at rest: a store written in clear as the previous
//    version of the app wrote it (an identity, a story, a report), on another profile, is asked
//    for a PIN at the next start and encrypted in place, and nothing is lost.
//
// Every screen is checked against WCAG 2.2 A and AA and saved as a screenshot. Prints a JSON
// summary on stdout.
//
// Usage: node webapp-lock.mjs <server URL> <enrolment code> <project slug> <output directory>
// CHROMIUM overrides the browser (default /usr/bin/chromium). Exits 0 when every check passes,
// 1 with a message on the first failure, 2 on bad usage.

import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { appUrlOf, args, check, esc, go, hashId, heading, openPersistent, ready, run, screenshotter, tryPin, unlock as unlockWith } from "./common.mjs";

const [aUrl, code, project, outDir] = args("webapp-lock.mjs", ["server URL", "enrolment code", "project slug", "output directory"]);
const appUrl = appUrlOf(aUrl);
const log = (m) => console.error(`webapp-lock.mjs: ${m}`);
const problems = [];

const tag = Date.now().toString(36).toUpperCase();
const PIN = "heather-417";
const NAME = `Morven Quillwort-${tag}`;
const STORY = `The lichen on the bothy door at Glen Affric was orange as marmalade (${tag}).`;
const STORY_TITLE = `Orange lichen ${tag}`;
const PROBE_TEXT = `Probe Fernaig-${tag}: a text as long as a story, written in clear to show the search works.`;
const PROBE_BYTES = `Probe Dornie-${tag} bytes`;

const screenshot = screenshotter(outDir, "lock", problems);
const open = (profile, options) => openPersistent(profile, problems, options);

async function fieldError(page, name) {
  const error = page.locator(`[data-field="${name}"] .error`);
  await error.waitFor({ state: "visible", timeout: 5000 });
  const input = page.locator(`[data-field="${name}"] input`);
  check((await input.getAttribute("aria-invalid")) === "true", `${name} is not marked invalid`);
  return ((await error.textContent()) ?? "").trim();
}

const unlock = (page) => unlockWith(page, PIN);

/** The alert the lock screen shows after a refused PIN. */
async function refusal(page) {
  const alert = page.locator("main .status.error[role=alert]");
  await alert.waitFor({ timeout: 20000 });
  return ((await alert.textContent()) ?? "").trim();
}

/** Every file under `dir`. */
async function* files(dir) {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile()) yield p;
  }
}

/** Which needles occur in the raw bytes of the files under `dir` (UTF-8 or UTF-16LE). */
async function onDisk(dir, needles) {
  const hits = new Map(needles.map((n) => [n, []]));
  let count = 0;
  for await (const f of files(dir)) {
    count += 1;
    const b = await readFile(f);
    for (const n of needles) {
      if (b.includes(Buffer.from(n, "utf8")) || b.includes(Buffer.from(n, "utf16le"))) hits.get(n).push(path.relative(dir, f));
    }
  }
  return { count, hits };
}

/** Read in the page, without the app: what the app's IndexedDB holds, before any unlock. */
function inspectStore(needles) {
  return (async () => {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open("bothy");
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const get = (store, what) =>
      new Promise((resolve, reject) => {
        const r = db.transaction(store).objectStore(store)[what]();
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const [records, setAside, reports, metaKeys, metaValues] = await Promise.all([get("records", "getAll"), get("setAside", "getAll"), get("reports", "getAll"), get("meta", "getAllKeys"), get("meta", "getAll")]);
    db.close();
    const automerge = (b) => b instanceof Uint8Array && b[0] === 0x85 && b[1] === 0x6f && b[2] === 0x4a && b[3] === 0x83;
    const sealed = (b) => b instanceof Uint8Array && b[0] === 1 && b.length >= 29;
    const latin1 = (b) => Array.from(b, (c) => String.fromCharCode(c)).join("");
    const dump = JSON.stringify([records, setAside, reports, metaKeys, metaValues], (_, v) => (v instanceof Uint8Array ? latin1(v) : v));
    const utf8 = (s) => latin1(new TextEncoder().encode(s));
    const meta = Object.fromEntries(metaKeys.map((k, i) => [k, metaValues[i]]));
    const clearMeta = metaKeys.filter((k) => k !== "vault" && k !== "unlockFailures" && !sealed(meta[k]));
    return {
      records: records.length,
      kinds: records.map((r) => r.kind).sort(),
      automergeDocs: records.filter((r) => automerge(r.doc)).length + setAside.filter((s) => automerge(s.doc)).length,
      unsealed: [
        ...records.filter((r) => !sealed(r.doc)).map((r) => `records/${r.id}/doc`),
        ...setAside.flatMap((s) => [sealed(s.doc) ? [] : [`setAside/${s.n}/doc`], sealed(s.reason) ? [] : [`setAside/${s.n}/reason`]].flat()),
        ...reports.filter((r) => !sealed(r.message)).map((r) => `reports/${r.n}/message`),
        ...clearMeta.map((k) => `meta/${k}`),
      ],
      metaKeys,
      vault: meta.vault && { kdf: meta.vault.kdf, iterations: meta.vault.iterations, salt: meta.vault.salt?.length, wrapped: meta.vault.wrapped?.length },
      failures: meta.unlockFailures,
      found: needles.filter((n) => dump.includes(utf8(n))),
    };
  })();
}

const LEGACY_STORY_TITLE = "Peat and heather";
const LEGACY_STORY_BODY = "Old Catriona cut peat on Ben Tianavaig every May until she was ninety.";
// A story saved by the app before encryption at rest (`A.save` of the document it made).
const LEGACY_DOC =
  "hW9Kg0gZ0BAA8QIBEF4fDC0+T1prfI2eDxorPE0BkwgGjpc8UILU3tsUzr3FdfaptkZBZpNmTNowBYsupwwGAQIDAhMDIwZAAlYCDAEFAgURBRMIFUEhAyMONAJCClYPV36AAQN/AH8Bf88Af/q8ndgGfwB/BwAJxgAAAAnGAAUACsUAAAAJfgAKxAABdwZhdXRob3IEYm9keQ1jb25zZW50X3Njb3BlB2NyZWF0ZWQEa2luZAdwcm9qZWN0BnRoZW1lcwV0aXRsZQF2AEbPAAB2CXwDfH0BBAF8B8UAAQlGfgEEBAF/AMgAAXdWAHZUVpYCAIYCFMYAFm1vcmFncHJpdmF0Zfq8ndgGc3RvcnloaWdobGFuZC1oZXJpdGFnZVBlYXQgYW5kIGhlYXRoZXIBT2xkIENhdHJpb25hIGN1dCBwZWF0IG9uIEJlbiBUaWFuYXZhaWcgZXZlcnkgTWF5IHVudGlsIHNoZSB3YXMgbmluZXR5Ls8AAAA=";
const LEGACY_HEAD = "9308068e973c5082d4dedb14cebdc575f6a9b646416693664cda30058b2ea70c";
const LEGACY_ID = "0192f0c4-0000-7000-8000-00000000d0c5";
const LEGACY_REPORT = "Refused by the server: the record is not valid (a test message kept in clear).";

/** Writes a store as the app wrote it before encryption at rest: everything in clear. */
function writeLegacyStore({ server, project, doc, id, head, report }) {
  return (async () => {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open("bothy", 1);
      r.onupgradeneeded = () => {
        const d = r.result;
        d.createObjectStore("records", { keyPath: "id" }).createIndex("kind", "kind");
        d.createObjectStore("setAside", { keyPath: "n", autoIncrement: true }).createIndex("recordId", "recordId");
        d.createObjectStore("reports", { keyPath: "n", autoIncrement: true }).createIndex("recordId", "recordId");
        d.createObjectStore("meta");
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const t = db.transaction(["records", "reports", "meta"], "readwrite");
    const bytes = Uint8Array.from(atob(doc), (c) => c.charCodeAt(0));
    t.objectStore("records").put({ id, kind: "story", project, doc: bytes, heads: [head], acked: null, updated: 1795645050 });
    t.objectStore("reports").add({ recordId: id, kind: "refused", code: "invalid", message: report, at: 1795645050 });
    const identity = {
      server,
      deviceId: "0192f0c4000070008000000000000d0c",
      deviceToken: "bd1_0192f0c4000070008000000000000d0c_legacy-credential-kept-in-clear",
      actor: "5e1f0c2d3e4f5a6b7c8d9e0f1a2b3c4d",
      user: { id: "0192f0c4-0000-7000-8000-0000000000aa", username: "morag" },
      memberships: [{ project, role: "researcher" }],
      project,
    };
    t.objectStore("meta").put(identity, "identity");
    t.objectStore("meta").put(7, "counter");
    await new Promise((resolve, reject) => {
      t.oncomplete = resolve;
      t.onerror = () => reject(t.error);
    });
    db.close();
  })();
}

async function main() {
  await mkdir(outDir, { recursive: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), "bothy-lock-"));
  const legacyProfile = await mkdtemp(path.join(os.tmpdir(), "bothy-lock-legacy-"));
  const out = {};
  try {
    // 1. Enrol with a PIN; capture a participant, a questionnaire and a story.
    let { context, page } = await open(profile);
    await page.goto(appUrl);
    await ready(page);
    await heading(page, "Set up this device");
    await page.getByLabel("Enrolment code or QR text").fill(code);
    await page.getByLabel("Name for this device").fill("Lock test phone");
    await page.getByLabel("Choose a PIN").fill("12345");
    await page.getByLabel("Type the PIN again").fill("12345");
    await page.getByRole("button", { name: "Enrol this device" }).click();
    out.tooShort = await fieldError(page, "pin");
    check(out.tooShort === "The PIN must be at least 6 characters.", `a 5-character PIN: "${out.tooShort}"`);
    await page.getByLabel("Choose a PIN").fill(PIN);
    await page.getByLabel("Type the PIN again").fill(`${PIN}x`);
    await page.getByRole("button", { name: "Enrol this device" }).click();
    out.mismatch = await fieldError(page, "pin-confirm");
    check(out.mismatch === "The two PINs are not the same.", `two different PINs: "${out.mismatch}"`);
    await screenshot(page, "enrol-pin-refused");
    await page.getByLabel("Type the PIN again").fill(PIN);
    await page.getByRole("button", { name: "Enrol this device" }).click();
    await heading(page, "Sessions", 30000);
    // Offline from here: the app would otherwise sync what is captured by itself, and this
    // check wants it all on the phone only.
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await context.setOffline(true);

    await go(page, "#/session/new");
    await heading(page, "New session");
    await page.getByLabel("Site").fill("glen-affric-bothy");
    await page.getByLabel("Activity", { exact: true }).fill("lichen-walk");
    await page.getByLabel("Activity type").selectOption("nature");
    await page.getByLabel("Starts").fill("2026-11-28T10:00");
    await page.getByRole("button", { name: "Create session" }).click();
    await heading(page, /lichen-walk/);
    out.session = hashId(page);
    await page.getByLabel(/^Name/).fill(NAME);
    await page.getByLabel("Agrees to their data being used").check();
    await page.getByRole("button", { name: "Register and mark present" }).click();
    await page.getByText(/^Registered .* and marked present\.$/).waitFor();
    out.participant = (await page.evaluate(() => window.__bothy.records())).find((r) => r.kind === "participant")?.id;
    check(out.participant, "the participant was not stored");
    await page.getByRole("link", { name: new RegExp(`questionnaire for ${esc(NAME)} `, "i") }).click();
    await heading(page, "Questionnaire");
    for (let i = 1; i <= 14; i++) await page.locator(`[data-field="items.${i}"] input[type=radio][value="4"]`).check();
    await page.getByRole("button", { name: "Save answers" }).click();
    await heading(page, "Questionnaire answers");
    out.wellbeing = hashId(page);
    await go(page, "#/story/new");
    await heading(page, "New story");
    await page.getByLabel("Title").fill(STORY_TITLE);
    await page.getByLabel("Participant").selectOption(out.participant);
    await page.locator('[data-field="body"] textarea').fill(STORY);
    await page.getByRole("button", { name: "Save story" }).click();
    await heading(page, STORY_TITLE);
    out.story = hashId(page);
    check((await page.evaluate(() => window.__bothy.unsynced())) === 5, "expected 5 unsynced records (session, participant, their contact details, questionnaire, story)");
    // The probe: the same origin's IndexedDB, a text and bytes written in clear.
    await page.evaluate(
      ({ text, bytes }) =>
        new Promise((resolve, reject) => {
          const r = indexedDB.open("bothy-probe", 1);
          r.onupgradeneeded = () => r.result.createObjectStore("probe");
          r.onsuccess = () => {
            const t = r.result.transaction("probe", "readwrite");
            t.objectStore("probe").put({ text, bytes: new TextEncoder().encode(bytes) }, 1);
            t.oncomplete = () => {
              r.result.close();
              resolve();
            };
            t.onerror = () => reject(t.error);
          };
          r.onerror = () => reject(r.error);
        }),
      { text: PROBE_TEXT, bytes: PROBE_BYTES },
    );
    await context.close();

    // 2. The raw bytes on disk: the probe is found, the participant's name and story are not.
    const idb = path.join(profile, "Default", "IndexedDB");
    const { count, hits } = await onDisk(idb, [NAME, STORY, STORY.slice(0, 40), PROBE_TEXT, PROBE_BYTES]);
    check(count > 0, `no IndexedDB files under ${idb}`);
    check(hits.get(PROBE_TEXT).length > 0 && hits.get(PROBE_BYTES).length > 0, `the probe written in clear is not found in the IndexedDB files (${count}): the byte search would prove nothing`);
    for (const n of [NAME, STORY, STORY.slice(0, 40)]) check(hits.get(n).length === 0, `"${n}" is in clear in ${hits.get(n).join(", ")}`);
    out.indexeddbFiles = count;
    // Nor anywhere else in the profile: the browser's session restore keeps form contents and
    // its history page titles, so the app's forms say `autocomplete="off"` and a story's page
    // title is not the story's.
    const whole = await onDisk(profile, [NAME, STORY.slice(0, 40), STORY_TITLE]);
    for (const [n, where] of whole.hits) check(where.length === 0, `"${n}" is in clear in the profile: ${where.join(", ")}`);
    out.profileFiles = whole.count;
    log(`searched ${count} IndexedDB files: the probe is found in ${hits.get(PROBE_TEXT).join(", ")}; the name and story are not`);

    // 3. Again on the profile: the lock screen, and ciphertext only in IndexedDB.
    ({ context, page } = await open(profile, { clock: true, offline: true }));
    await page.goto(appUrl);
    await ready(page);
    await heading(page, "Enter your PIN");
    check(!(await page.locator("header nav").isVisible()), "the navigation is shown on the lock screen");
    check(await page.evaluate(() => window.__bothy.locked()), "the app does not say it is locked");
    const refused = await page.evaluate(() => window.__bothy.records().then(() => "read", (e) => String(e.message)));
    check(/locked/.test(refused), `reading records while locked gave "${refused}"`);
    check((await page.getByText(NAME).count()) === 0, "the participant's name is shown on the lock screen");
    await screenshot(page, "lock-screen");
    const store = await page.evaluate(inspectStore, [NAME, STORY, STORY_TITLE, "bd1_"]);
    out.store = store;
    check(store.records === 5, `the store holds ${store.records} records, not 5`);
    check(store.automergeDocs === 0, `${store.automergeDocs} stored values decode as Automerge documents`);
    check(store.unsealed.length === 0, `values stored in clear: ${store.unsealed.join(", ")}`);
    check(store.metaKeys.includes("identity") && store.metaKeys.includes("setup"), `meta holds ${store.metaKeys.join(", ")}`);
    check(store.vault?.kdf === "PBKDF2-SHA-256" && store.vault.iterations >= 600000 && store.vault.salt === 16 && store.vault.wrapped === 40, `the vault is ${JSON.stringify(store.vault)}`);
    check(store.found.length === 0, `found in clear in the store: ${store.found.join(", ")}`);

    // 4. A wrong PIN, then the right one: everything is back.
    await tryPin(page, "heather-418");
    out.wrongPin = await refusal(page);
    check(out.wrongPin === "Wrong PIN. Tries left before the app makes you wait: 4.", `a wrong PIN: "${out.wrongPin}"`);
    await screenshot(page, "wrong-pin");
    await tryPin(page, PIN);
    await heading(page, "Sessions", 20000);
    check(await page.locator("header nav").isVisible(), "the navigation is hidden once unlocked");
    await go(page, `#/session/${out.session}`);
    await heading(page, /lichen-walk/);
    check((await page.getByRole("checkbox", { name: new RegExp(`^${esc(NAME)} `) }).count()) === 1, "the participant is not shown after unlocking");
    await go(page, `#/story/${out.story}`);
    await heading(page, STORY_TITLE);
    check((await page.locator('[data-field="body"] textarea').inputValue()) === STORY, "the story text is not shown after unlocking");
    await go(page, `#/wellbeing/${out.wellbeing}`);
    await heading(page, "Questionnaire answers");
    check(/WEMWBS score 56/.test(await page.locator("#score").innerText()), "the questionnaire's score is not shown after unlocking");
    await go(page, "#/settings");
    await heading(page, "Settings");
    await screenshot(page, "settings");

    // The idle lock: 5 minutes without input.
    await go(page, `#/story/${out.story}`);
    await heading(page, STORY_TITLE);
    await page.clock.fastForward("05:06");
    await heading(page, "Enter your PIN");
    // The key is dropped once the store's transactions under way (a background sync) are done.
    let dropped = false;
    for (let i = 0; i < 50 && !dropped; i++) {
      dropped = await page.evaluate(() => window.__bothy.locked());
      if (!dropped) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    check(dropped, "the key is still held 10 s after the idle lock");
    check((await page.getByText(STORY).count()) === 0 && (await page.locator("textarea").count()) === 0, "the story is still on screen after the idle lock");
    out.idle = ((await page.locator("main .status").first().textContent()) ?? "").trim();
    await unlock(page);
    await heading(page, STORY_TITLE);
    log("idle lock after 5 minutes, unlocked again");

    // 5. Five wrong PINs in a row, a reload, then a forgotten PIN.
    await page.evaluate(() => window.__bothy.lock());
    await heading(page, "Enter your PIN");
    for (let i = 1; i <= 5; i++) {
      await tryPin(page, `wrong-${i}-pin`);
      const said = await refusal(page);
      if (i === 5) out.fifth = said;
    }
    check(out.fifth === "Wrong PIN. Too many wrong PINs in a row: wait 30 seconds before trying again.", `the fifth wrong PIN: "${out.fifth}"`);
    await page.reload();
    await ready(page);
    await heading(page, "Enter your PIN");
    await tryPin(page, PIN);
    out.afterReload = await refusal(page);
    check(/^Too many wrong PINs in a row: wait \d+ seconds before trying again\.$/.test(out.afterReload), `the right PIN after a reload: "${out.afterReload}"`);
    check(await page.evaluate(() => window.__bothy.locked()), "the right PIN opened the app during the wait");
    await screenshot(page, "wait");
    await page.getByRole("button", { name: "Forgot PIN?" }).click();
    await heading(page, "Forgot your PIN?");
    out.forgot = (await page.locator("main .notice").innerText()).trim();
    check(out.forgot.includes("changes never synced: 5"), `the forgotten-PIN screen says "${out.forgot}"`);
    await screenshot(page, "forgot");
    await page.getByRole("button", { name: "Clear this device" }).click();
    await heading(page, "Set up this device");
    check((await page.getByLabel("Choose a PIN").count()) === 1, "enrolling again does not ask for a new PIN");
    const cleared = await page.evaluate(inspectStore, [NAME]);
    check(cleared.records === 0 && cleared.metaKeys.length === 0, `the store after clearing: ${JSON.stringify(cleared)}`);
    await context.close();

    // 6. A store from before encryption at rest: a PIN is asked for, and it is encrypted in place.
    ({ context, page } = await open(legacyProfile));
    await page.route(`${appUrl}legacy.html`, (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>legacy</title>" }));
    await page.goto(`${appUrl}legacy.html`);
    await page.evaluate(writeLegacyStore, { server: appUrl.replace(/\/app\/$/, ""), project, doc: LEGACY_DOC, id: LEGACY_ID, head: LEGACY_HEAD, report: LEGACY_REPORT });
    await page.unroute(`${appUrl}legacy.html`);
    await page.goto(appUrl);
    await ready(page);
    await heading(page, "Choose a PIN");
    check(!(await page.locator("header nav").isVisible()), "the navigation is shown before a PIN is chosen");
    await screenshot(page, "choose-pin");
    await page.getByLabel("Choose a PIN").fill("catriona-90");
    await page.getByLabel("Type the PIN again").fill("catriona-90");
    await page.getByRole("button", { name: "Set the PIN and encrypt" }).click();
    await heading(page, "Sessions", 20000);
    const migrated = await page.evaluate(inspectStore, [LEGACY_STORY_BODY, LEGACY_REPORT, "legacy-credential"]);
    check(migrated.records === 1 && migrated.unsealed.length === 0 && migrated.automergeDocs === 0, `after choosing a PIN the store is ${JSON.stringify(migrated)}`);
    check(migrated.found.length === 0, `still in clear after choosing a PIN: ${migrated.found.join(", ")}`);
    check(JSON.stringify(await page.evaluate(() => window.__bothy.heads())) === JSON.stringify({ [LEGACY_ID]: [LEGACY_HEAD] }), "the story's heads changed");
    await page.getByRole("link", { name: new RegExp(LEGACY_STORY_TITLE) }).click();
    await heading(page, LEGACY_STORY_TITLE);
    check((await page.locator('[data-field="body"] textarea').inputValue()) === LEGACY_STORY_BODY, "the story from before is not shown after encrypting");
    await go(page, "#/sync");
    await heading(page, "Sync");
    check((await page.getByText(LEGACY_REPORT).count()) === 1, "the report from before is lost");
    check((await page.getByText(/^Device 0192f0c4000070008000000000000d0c of morag/).count()) === 1, "the identity from before is lost");
    await context.close();
    out.legacy = "encrypted in place";

    check(problems.length === 0, `errors in the page:\n  ${problems.join("\n  ")}`);
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
    await rm(legacyProfile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
  }
}

run("webapp-lock.mjs", main, problems);
