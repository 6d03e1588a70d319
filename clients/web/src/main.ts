// Starts the app: loads Automerge's WebAssembly, registers the service worker (and offers a new
// version when there is one), asks for the PIN (or, on a device enrolled before encryption at
// rest, for a first PIN), routes, and syncs by itself (src/autosync.ts): at start, a few seconds
// after each change, every two minutes, when back online and when the user comes back to the
// app. The header's status line says where things stand on every screen. While locked it shows
// nothing but the lock screen and does not sync.
import * as A from "@automerge/automerge/slim";
import { AutoSync } from "./autosync";
import { allHeads, identity, listRecords, localChanges, setup, unsyncedCount } from "./device";
import { setLanguage, startLanguage, t } from "./i18n";
import { usePseudo } from "./i18n/pseudo";
import { isUnlocked, Locked, read, storeState } from "./store";
import { sync, wipeNote, type SyncSummary } from "./sync";
import { refreshBadge, route } from "./ui/app";
import { nav } from "./ui/common";
import { findConflicts } from "./ui/conflicts";
import { choosePinScreen, lockNow, lockScreen, onOpened, startIdleLock } from "./ui/lock";
import { StatusLine, statusView } from "./ui/status";
import { noteRemovals, refreshSyncScreen, useSync } from "./ui/syncscreen";
import { registerServiceWorker } from "./ui/update";
import { DeviceWiped } from "./wipe";

declare global {
  interface Window {
    __bothy: Record<string, unknown>;
  }
}

/** Two syncs' summaries as one (a sync asked for while another ran gets both). */
function addSummaries(a: SyncSummary, b: SyncSummary): SyncSummary {
  return {
    requests: a.requests + b.requests,
    pushed: a.pushed + b.pushed,
    acked: a.acked + b.acked,
    received: a.received + b.received,
    setAside: a.setAside + b.setAside,
    erased: a.erased + b.erased,
    withdrawn: a.withdrawn + b.withdrawn,
    replaced: a.replaced + b.replaced,
    lost: a.lost + b.lost,
    reports: [...a.reports, ...b.reports],
    more: b.more,
    serverTime: b.serverTime ?? a.serverTime,
    reconciled: a.reconciled || b.reconciled,
  };
}

const NOTHING: SyncSummary = { requests: 0, pushed: 0, acked: 0, received: 0, setAside: 0, erased: 0, withdrawn: 0, replaced: 0, lost: 0, reports: [], more: false, reconciled: false };

/** One sync; on a device not enrolled, only the confirmation of a wipe still to send. */
async function runSync(): Promise<SyncSummary> {
  if (!(await read((tx) => tx.meta("identity")))) {
    // A wiped device sends the confirmation it could not send before (src/wipe.ts).
    await wipeNote().catch(() => undefined);
    auto.stop();
    return NOTHING;
  }
  try {
    return await sync();
  } catch (e) {
    if (e instanceof DeviceWiped) {
      // Withdrawn by an admin: the enrolment screen says what happened.
      auto.stop();
      if (isUnlocked()) nav("#/enrol");
    }
    throw e;
  }
}

const auto: AutoSync<SyncSummary> = new AutoSync<SyncSummary>({
  run: runSync,
  canSync: isUnlocked,
  combine: addSummaries,
  onState: () => void refreshStatus(),
  onSynced: (s) => void afterSync(s).catch(unlessLocked),
});

const statusLine = new StatusLine();
let syncedSinceStart = false;
let conflictCount = 0;

/** Counts the records with conflicts (reads every record: after a sync brought changes, after
 * a change while there are conflicts, at start). */
async function countConflicts(): Promise<void> {
  if (!isUnlocked()) return;
  conflictCount = (await findConflicts()).length;
}

/** Draws the status line from the sync's state and what the store holds now. */
async function refreshStatus(): Promise<void> {
  try {
    if (!isUnlocked() || !(await identity())) return statusLine.show(undefined);
    const [unsynced, lastSync] = await Promise.all([unsyncedCount(), read((tx) => tx.meta("lastSync"))]);
    statusLine.show(statusView({ state: auto.current, unsynced, conflicts: conflictCount, online: navigator.onLine, syncedSinceStart, ...(lastSync ? { lastSync } : {}) }));
  } catch (e) {
    if (!(e instanceof Locked)) console.warn("the sync status could not be read", e);
  }
}

/** After a sync: the badge, the status line, the sync screen in place, and the home screen's
 * "not yet synced" marks when anything changed. */
async function afterSync(s: SyncSummary): Promise<void> {
  syncedSinceStart = true;
  noteRemovals(s);
  if (!isUnlocked()) return;
  const changed = s.acked + s.received + s.erased + s.withdrawn + s.replaced + s.setAside > 0;
  if (s.received + s.erased + s.withdrawn + s.replaced > 0 || conflictCount > 0) await countConflicts();
  await refreshStatus();
  await refreshBadge();
  await refreshSyncScreen();
  const typing = document.activeElement?.closest("input, select, textarea");
  if (changed && !typing && (location.hash === "" || location.hash === "#/")) await route();
}

/** Work in the background (after a sync, after a save) that finds the app locked meanwhile
 * stops there: the lock screen is showing and nothing is lost. Anything else is shown. */
function unlessLocked(e: unknown): void {
  if (!(e instanceof Locked)) showFatal(e);
}

async function start(): Promise<void> {
  // The same for any other background work the lock interrupts.
  window.addEventListener("unhandledrejection", (e) => {
    if (e.reason instanceof Locked) e.preventDefault();
  });
  setLanguage(startLanguage());
  const main = document.getElementById("main")!;
  main.textContent = t("app.loading");
  document.querySelectorAll<HTMLElement>("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n!)));
  document.querySelectorAll<HTMLElement>("[data-i18n-label]").forEach((el) => el.setAttribute("aria-label", t(el.dataset.i18nLabel!)));
  await A.initializeWasm(new URL("automerge.wasm", document.baseURI).href);
  const checkForUpdate = registerServiceWorker();
  useSync(() => auto.now(), () => auto.current);
  window.__bothy = {
    heads: allHeads,
    records: async () => (await listRecords()).map((r) => ({ id: r.id, kind: r.view.kind, project: r.view.project, unsynced: r.unsynced })),
    unsynced: unsyncedCount,
    sync: () => auto.now(),
    // The automatic sync's state and how many syncs it ran; the records with conflicts.
    autosync: () => ({ ...auto.current, error: auto.current.error === undefined ? undefined : String(auto.current.error), runs: auto.runs, busy: auto.busy }),
    conflicts: async () => (await findConflicts()).map((r) => ({ id: r.id, kind: r.kind, fields: r.fields.map((f) => f.path) })),
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
    // Shows the app in a pseudo-language ("en-XA", or "ar-XB" right to left) for the i18n checks.
    pseudo: usePseudo,
    ready: true,
  };
  onOpened(opened);
  window.addEventListener("hashchange", () => {
    if (document.body.dataset.locked) return;
    route()
      .then(refreshBadge)
      .then(async () => {
        // Just enrolled (or enrolled again after a wipe): the automatic sync starts now.
        if (!auto.active) await startSyncing();
        else await refreshStatus();
      })
      .catch(showFatal);
  });
  window.addEventListener("online", () => {
    auto.request("online");
    void refreshStatus();
  });
  window.addEventListener("offline", () => void (isUnlocked() && refreshBadge().then(refreshStatus).catch(unlessLocked)));
  // Back to the app: a sync, and a look for a new version.
  const back = () => {
    auto.request("visible");
    void checkForUpdate.then((check) => check());
  };
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && back());
  window.addEventListener("pageshow", (e) => e.persisted && back());
  // A change saved on this device: sent a few seconds after the last one.
  localChanges.addEventListener("saved", () => {
    auto.changed();
    void (async () => {
      if (conflictCount > 0) await countConflicts();
      await refreshStatus();
      await refreshBadge();
    })().catch(unlessLocked);
  });
  document.addEventListener("bothy:conflicts", () => void countConflicts().then(refreshStatus).catch(unlessLocked));
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
  await startSyncing();
}

/** Syncing by itself starts once the store is open and the device enrolled (at start, after
 * the PIN, after enrolment). */
async function startSyncing(): Promise<void> {
  if (!isUnlocked() || !(await identity())) return void statusLine.show(undefined);
  await countConflicts();
  await refreshStatus();
  auto.start();
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
