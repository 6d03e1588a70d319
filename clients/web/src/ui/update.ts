// A new version of the app: when the service worker finds a new sw.js, the new worker installs
// and waits (src/sw.ts); a banner says "A new version of the app is ready" with a Reload button.
// Only that button activates the waiting worker and reloads the page: the app never reloads by
// itself, so nothing being typed is lost (records already saved are in IndexedDB and survive a
// reload). The app checks for a new version whenever the user comes back to it.
import { t } from "../i18n";

/** What the page needs of a service worker registration (a fake one in tests). */
export interface Registration {
  waiting: ServiceWorker | null;
  installing: ServiceWorker | null;
  addEventListener(type: "updatefound", fn: () => void): void;
  update(): Promise<unknown>;
}

export interface UpdateDeps {
  /** Whether a service worker controls this page now (there is an old version to replace). */
  controlled: () => boolean;
  /** Shows the banner; `reload` is what its button does. */
  show: (reload: () => void) => void;
  /** Listens once for the new worker taking control. */
  onControllerChange: (fn: () => void) => void;
  reload: () => void;
}

/** Watches a registration: offers the update when a new worker is installed and waiting. */
export function watchForUpdates(reg: Registration, d: UpdateDeps): { check: () => void } {
  let offered = false;
  let reloading = false;
  const offer = () => {
    const waiting = reg.waiting;
    if (!waiting || !d.controlled() || offered) return;
    offered = true;
    d.show(() => {
      if (reloading) return;
      reloading = true;
      // Reload only once the new worker controls the page, so the new version is what loads.
      d.onControllerChange(() => d.reload());
      (reg.waiting ?? waiting).postMessage({ type: "skipWaiting" });
    });
  };
  reg.addEventListener("updatefound", () => {
    const w = reg.installing;
    if (!w) return;
    w.addEventListener("statechange", () => {
      if (w.state === "installed") offer();
    });
  });
  // A version found during an earlier visit may already be waiting.
  offer();
  return {
    check: () => {
      if (offered) return;
      reg.update().then(offer, () => undefined);
    },
  };
}

/** The banner in the header (`#app-update`): the sentence and a Reload button. */
export function showUpdateBanner(reload: () => void): void {
  const place = document.getElementById("app-update");
  if (!place) return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = t("app.reload");
  button.addEventListener("click", () => {
    button.disabled = true;
    reload();
  });
  const text = document.createElement("span");
  text.textContent = t("app.update");
  place.replaceChildren(text, " ", button);
  place.hidden = false;
}

/** Registers the service worker and offers new versions of the app; returns the check to run
 * when the user comes back to the app. */
export async function registerServiceWorker(): Promise<() => void> {
  if (!("serviceWorker" in navigator)) return () => undefined;
  const sw = navigator.serviceWorker;
  try {
    const reg = await sw.register("sw.js", { scope: "./" });
    const { check } = watchForUpdates(reg, {
      controlled: () => !!sw.controller,
      show: showUpdateBanner,
      onControllerChange: (fn) => sw.addEventListener("controllerchange", fn, { once: true }),
      reload: () => location.reload(),
    });
    return check;
  } catch {
    return () => undefined;
  }
}
