// Starts the app: loads Automerge's WebAssembly, registers the service worker, asks for the PIN
// (or, on a device enrolled before encryption at rest, for a first PIN), routes, and syncs
// automatically when the browser comes back online. While locked it shows nothing but the lock
// screen and does not sync.
import * as A from "@automerge/automerge/slim";
import { allHeads, listRecords, setup, unsyncedCount } from "./device";
import { setLanguage, t } from "./i18n";
import { isUnlocked, Locked, read, storeState } from "./store";
import { sync, wipeNote } from "./sync";
import { refreshBadge, route } from "./ui/app";
import { choosePinScreen, lockNow, lockScreen, onOpened, startIdleLock } from "./ui/lock";

declare global {
  interface Window {
    __bothy: Record<string, unknown>;
  }
}

let retryDelay = 2000;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let syncWaiting = false;

async function autoSync(): Promise<void> {
  // Locked: the sync waits for the PIN (it needs the device credential, which is sealed).
  syncWaiting = !isUnlocked();
  if (!navigator.onLine || syncWaiting) return;
  // A wiped device sends the confirmation it could not send before (src/wipe.ts).
  if (!(await read((tx) => tx.meta("identity")))) return void (await wipeNote().catch(() => undefined));
  clearTimeout(retryTimer);
  try {
    await sync();
    retryDelay = 2000;
  } catch (e) {
    const retry = (e as { retry?: boolean }).retry;
    if (retry && navigator.onLine) {
      retryTimer = setTimeout(autoSync, retryDelay * (0.5 + Math.random()));
      retryDelay = Math.min(retryDelay * 2, 5 * 60 * 1000);
    }
  }
  if (!isUnlocked()) return;
  await refreshBadge();
  if (location.hash === "" || location.hash === "#/") await route();
}

async function start(): Promise<void> {
  document.documentElement.lang = setLanguage("en");
  const main = document.getElementById("main")!;
  main.textContent = t("app.loading");
  document.querySelectorAll<HTMLElement>("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n!)));
  document.querySelectorAll<HTMLElement>("[data-i18n-label]").forEach((el) => el.setAttribute("aria-label", t(el.dataset.i18nLabel!)));
  await A.initializeWasm(new URL("automerge.wasm", document.baseURI).href);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => undefined);
  }
  window.__bothy = {
    heads: allHeads,
    records: async () => (await listRecords()).map((r) => ({ id: r.id, kind: r.view.kind, project: r.view.project, unsynced: r.unsynced })),
    unsynced: unsyncedCount,
    sync,
    locked: () => !isUnlocked(),
    lock: lockNow,
    // A saved document as JSON, with every change of its history decoded (for tests that check
    // what the device holds).
    inspect: (bytes: Uint8Array) => {
      const doc = A.load(bytes);
      const plain = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v);
      return JSON.stringify({ doc: A.toJS(doc), changes: A.getAllChanges(doc).map((c) => A.decodeChange(c)) }, plain);
    },
    // Every record the device holds, decrypted (for tests that check what it holds once unlocked).
    documents: async () => (await read((tx) => tx.allRecords())).map((r) => ({ id: r.id, kind: r.kind, doc: r.doc })),
    ready: true,
  };
  onOpened(opened);
  window.addEventListener("hashchange", () => {
    if (document.body.dataset.locked) return;
    route().then(refreshBadge).catch(showFatal);
  });
  window.addEventListener("online", () => void autoSync());
  window.addEventListener("offline", () => void (isUnlocked() && refreshBadge()));
  const state = await storeState();
  if (state === "locked") lockScreen();
  else if (state === "clear") choosePinScreen();
  else await opened();
  document.body.dataset.ready = "true";
}

/** Once the store is open (or new, before enrolment): the screen asked for, then a sync. */
async function opened(): Promise<void> {
  // The project instruments of the set-up kept from the last sync: forms work offline.
  await setup();
  await startIdleLock();
  // A wiped device sends the confirmation it could not send before (src/wipe.ts).
  if (navigator.onLine) void wipeNote().catch(() => undefined);
  await route();
  await refreshBadge();
  performance.mark("bothy:listed");
  if (syncWaiting) void autoSync();
}

function showFatal(e: unknown): void {
  if (e instanceof Locked) return lockScreen();
  const main = document.getElementById("main");
  if (main) {
    const p = document.createElement("p");
    p.setAttribute("role", "alert");
    p.className = "status error";
    p.textContent = t("app.failed", { error: e instanceof Error ? e.message : String(e) });
    main.replaceChildren(p);
  }
  console.error(e);
}

start().catch(showFatal);
