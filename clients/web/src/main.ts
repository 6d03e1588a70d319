// Starts the app: loads Automerge's WebAssembly, registers the service worker, routes, and
// syncs automatically when the browser comes back online.
import * as A from "@automerge/automerge/slim";
import { allHeads, listRecords, setup, unsyncedCount } from "./device";
import { setLanguage, t } from "./i18n";
import { read } from "./store";
import { sync } from "./sync";
import { refreshBadge, route } from "./ui/app";

declare global {
  interface Window {
    __bothy: Record<string, unknown>;
  }
}

let retryDelay = 2000;
let retryTimer: ReturnType<typeof setTimeout> | undefined;

async function autoSync(): Promise<void> {
  if (!navigator.onLine || !(await read((tx) => tx.meta("identity")))) return;
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
  // The project instruments of the set-up kept from the last sync: forms work offline.
  await setup();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => undefined);
  }
  window.__bothy = {
    heads: allHeads,
    records: async () => (await listRecords()).map((r) => ({ id: r.id, kind: r.view.kind, project: r.view.project, unsynced: r.unsynced })),
    unsynced: unsyncedCount,
    sync,
    // A saved document as JSON, with every change of its history decoded (for tests that check
    // what the device holds).
    inspect: (bytes: Uint8Array) => {
      const doc = A.load(bytes);
      const plain = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v);
      return JSON.stringify({ doc: A.toJS(doc), changes: A.getAllChanges(doc).map((c) => A.decodeChange(c)) }, plain);
    },
    ready: true,
  };
  window.addEventListener("hashchange", () => {
    route().then(refreshBadge).catch(showFatal);
  });
  window.addEventListener("online", () => void autoSync());
  window.addEventListener("offline", () => void refreshBadge());
  await route();
  await refreshBadge();
  document.body.dataset.ready = "true";
}

function showFatal(e: unknown): void {
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
