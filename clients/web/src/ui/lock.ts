// The screens and timers of encryption at rest: the lock screen (the PIN, once per session), a
// forgotten PIN (clear the device and enrol again), the first PIN of a device enrolled before
// encryption at rest (its store is encrypted in place), the PIN chosen at enrolment, the idle
// lock, and the settings (idle time, lock now, change the PIN).
import { chooseLanguage, language, languages, redraw, t } from "../i18n";
import type { FieldError } from "../records";
import { changeStorePin, forgetEverything, isUnlocked, lock, read, setPin, unlockWith, unsyncedWhileLocked, write, type Identity } from "../store";
import { duration, MIN_PIN_LENGTH, MustWait, pinProblem, Tampered, WrongPin } from "../vault";
import { clearErrors, controlOf, field, h, showErrors, status } from "./dom";

/** Minutes without input before the app locks itself, unless the settings say otherwise. */
export const DEFAULT_LOCK_AFTER = 5;
const LOCK_AFTER_CHOICES = [1, 2, 5, 10, 15, 30];

const main = () => document.getElementById("main")!;

/** What the app does once the store is open (routes to the screen asked for, syncs...). */
let opened: () => Promise<void> = async () => undefined;

export function onOpened(fn: () => Promise<void>): void {
  opened = fn;
}

function screen(title: string, ...body: (Node | null)[]): void {
  const heading = h("h1", { tabindex: -1 }, title);
  main().replaceChildren(heading, ...body.filter((x): x is Node => !!x));
  document.title = `${title} · ${t("app.name")}`;
  heading.focus();
}

/** Hides the navigation while nothing may be shown. */
function setLockedLook(on: boolean): void {
  if (on) document.body.dataset.locked = "true";
  else delete document.body.dataset.locked;
}

const pinField = (label: string, name: string, hint?: string, autocomplete = "off") =>
  field({ label, name, type: "password", hint, required: true, attrs: { autocomplete, autocapitalize: "none", spellcheck: "false", enterkeyhint: "done" } });

const pinOf = (form: HTMLElement, name: string) => controlOf(form, name)?.value ?? "";

function say(e: unknown): string {
  if (e instanceof WrongPin || e instanceof MustWait || e instanceof Tampered) return e.message;
  return t("lock.err.other", { message: e instanceof Error ? e.message : String(e) });
}

// ---------- the lock screen ----------

let retryTimer: ReturnType<typeof setTimeout> | undefined;

/** The lock screen: nothing else is shown until the PIN opens the store. */
export function lockScreen(flash?: HTMLElement): void {
  setLockedLook(true);
  stopIdle();
  const msg = h("div", { "aria-live": "polite" }, flash ?? null);
  const form = h(
    "form",
    { novalidate: true, class: "lock" },
    pinField(t("lock.pin"), "pin", undefined, "current-password"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("lock.unlock"))),
  );
  const button = form.querySelector("button")!;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const pin = pinOf(form, "pin");
    if (!pin) return showErrors(form, [{ field: "pin", code: "pin_required" }]);
    button.disabled = true;
    msg.replaceChildren(status(t("lock.checking")));
    performance.mark("bothy:unlock-start");
    try {
      await unlockWith(pin);
    } catch (e) {
      button.disabled = false;
      const input = controlOf(form, "pin")!;
      input.value = "";
      input.focus();
      msg.replaceChildren(status(say(e), "error"));
      const wait = e instanceof WrongPin || e instanceof MustWait ? e.waitMs : 0;
      clearTimeout(retryTimer);
      if (wait > 0) retryTimer = setTimeout(() => msg.isConnected && msg.replaceChildren(status(t("lock.again"))), wait);
      return;
    }
    performance.mark("bothy:unlocked");
    await open();
  });
  screen(
    t("lock.title"),
    h("p", {}, t("lock.intro")),
    msg,
    form,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => void forgotScreen() }, t("lock.forgot"))),
  );
}

async function open(): Promise<void> {
  setLockedLook(false);
  touched();
  await startIdle();
  await opened();
}

/** Locks at once: the screen first (nothing stays shown), then the key once the store's
 * transactions under way are done. */
export async function lockNow(): Promise<void> {
  if (!isUnlocked()) return;
  lockScreen(status(t("lock.locked")));
  await lock();
}

// ---------- a forgotten PIN ----------

async function forgotScreen(): Promise<void> {
  const count = await unsyncedWhileLocked().catch(() => 0);
  const clear = h("button", { type: "button", class: "danger" }, t("lock.clear"));
  clear.addEventListener("click", async () => {
    clear.disabled = true;
    await forgetEverything();
    setLockedLook(false);
    await opened();
  });
  screen(
    t("lock.forgotTitle"),
    h("p", {}, t("lock.forgotIntro")),
    h("div", { class: "notice" }, h("p", {}, count ? t("lock.forgotUnsynced", { count }) : t("lock.forgotNone")), h("p", {}, t("lock.forgotSetAside"))),
    h("div", { class: "actions" }, clear, h("button", { type: "button", class: "secondary", onclick: () => lockScreen() }, t("lock.keep"))),
  );
}

// ---------- choosing a PIN ----------

/** The PIN fields of a form that sets one: checked before anything is sent or stored. */
export function newPinFields(legend: string, intro: string): { element: HTMLElement; check(): boolean; pin(): string } {
  const element = h(
    "fieldset",
    { class: "pin" },
    h("legend", {}, legend),
    h("p", {}, intro),
    pinField(t("lock.newPin"), "pin", t("lock.newPinHint", { min: MIN_PIN_LENGTH }), "new-password"),
    pinField(t("lock.confirmPin"), "pin-confirm", undefined, "new-password"),
  );
  return {
    element,
    pin: () => pinOf(element, "pin"),
    check() {
      clearErrors(element);
      const problem = pinProblem(pinOf(element, "pin"), pinOf(element, "pin-confirm"));
      if (problem) showErrors(element, [problem as FieldError]);
      return !problem;
    },
  };
}

/** The PIN fields of the enrolment screen, or none when this device has a PIN already (its
 * store is open). */
export function enrolmentPin(): ReturnType<typeof newPinFields> | undefined {
  return isUnlocked() ? undefined : newPinFields(t("enrol.pinTitle"), t("enrol.pinIntro", { minutes: DEFAULT_LOCK_AFTER }));
}

/** Stores the identity an enrolment returned: sealed with the existing key, or with a new one
 * the PIN chosen on the enrolment screen wraps. */
export async function saveIdentity(identity: Identity, pin: string | undefined): Promise<void> {
  if (isUnlocked()) await write((tx) => tx.setMeta("identity", identity));
  else {
    if (!pin) throw new Error("no PIN chosen");
    await setPin(pin, identity);
    touched();
    await startIdle();
  }
}

/** A device enrolled before encryption at rest: the user chooses a PIN, and everything the
 * store holds is encrypted in place. */
export function choosePinScreen(): void {
  setLockedLook(true);
  const fields = newPinFields(t("lock.chooseTitle"), t("lock.chooseIntro", { min: MIN_PIN_LENGTH, minutes: DEFAULT_LOCK_AFTER }));
  const msg = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true }, fields.element, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("lock.setPin"))));
  const button = form.querySelector("button")!;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!fields.check()) return;
    button.disabled = true;
    msg.replaceChildren(status(t("lock.encrypting")));
    try {
      await setPin(fields.pin());
    } catch (e) {
      button.disabled = false;
      msg.replaceChildren(status(say(e), "error"));
      return;
    }
    await open();
  });
  screen(t("lock.chooseTitle"), msg, form);
}

// ---------- the idle lock ----------

let lastInput = Date.now();
let idleMinutes = DEFAULT_LOCK_AFTER;
let idleTimer: ReturnType<typeof setInterval> | undefined;
const INPUT_EVENTS = ["pointerdown", "keydown", "touchstart", "wheel", "input"] as const;

function touched(): void {
  lastInput = Date.now();
}

function idleCheck(): void {
  if (isUnlocked() && Date.now() - lastInput >= idleMinutes * 60_000) void lockNow();
}

/** Locks after the minutes the settings say (default 5) without input; checked every 5 seconds
 * and whenever the page is shown again (timers sleep with a phone's screen). */
async function startIdle(): Promise<void> {
  idleMinutes = (await read((tx) => tx.meta("lockAfter")).catch(() => undefined)) ?? DEFAULT_LOCK_AFTER;
  if (idleTimer === undefined) {
    for (const ev of INPUT_EVENTS) window.addEventListener(ev, touched, { capture: true, passive: true });
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && idleCheck());
  }
  clearInterval(idleTimer);
  idleTimer = setInterval(idleCheck, 5_000);
}

function stopIdle(): void {
  clearInterval(idleTimer);
  idleTimer = undefined;
}

/** At start-up with a store that is open (a new device): the idle lock runs once it has a PIN. */
export async function startIdleLock(): Promise<void> {
  if (isUnlocked()) await startIdle();
}

// ---------- settings ----------

/** What the settings screen says once it is drawn again (in the language just chosen), for a
 * few seconds: a redraw in between (a sync finishing in the background) keeps it. */
let settingsFlash: { text: string; until: number } | undefined;
const FLASH_MS = 10_000;

/** The language picker: every language the app has a message file for, each named in itself
 * (and marked as that language, so screen readers say it right). Saving shows the app in it at
 * once and keeps the choice on this device. */
function languageForm(): HTMLElement {
  const langs = languages();
  const form = h(
    "form",
    { novalidate: true, "aria-labelledby": "lang-h" },
    h("h2", { id: "lang-h" }, t("settings.languageTitle")),
    field({ label: t("settings.language"), name: "language", value: language(), options: langs.map((l) => [l.code, l.name] as [string, string]) }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("settings.languageSave"))),
  );
  form.querySelectorAll("option").forEach((o, i) => {
    o.setAttribute("lang", langs[i]!.code);
    o.setAttribute("dir", langs[i]!.dir);
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = chooseLanguage(controlOf(form, "language")!.value);
    const chosen = langs.find((l) => l.code === code);
    settingsFlash = { text: t("settings.languageSaved", { language: chosen?.name ?? code }), until: Date.now() + FLASH_MS };
    redraw();
  });
  return form;
}

export async function settingsScreen(): Promise<void> {
  const current = (await read((tx) => tx.meta("lockAfter"))) ?? DEFAULT_LOCK_AFTER;
  const flash = settingsFlash && Date.now() < settingsFlash.until ? status(settingsFlash.text, "ok") : null;
  const msg = h("div", { "aria-live": "polite" }, flash);
  const idleForm = h(
    "form",
    { novalidate: true, "aria-labelledby": "idle-h" },
    h("h2", { id: "idle-h" }, t("settings.lockTitle")),
    field({
      label: t("settings.lockAfter"),
      name: "lockAfter",
      value: String(current),
      options: LOCK_AFTER_CHOICES.map((m) => [String(m), duration(m * 60_000)] as [string, string]),
    }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("common.save")), h("button", { type: "button", class: "secondary", onclick: () => void lockNow() }, t("settings.lockNow"))),
  );
  idleForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const minutes = Number(controlOf(idleForm, "lockAfter")!.value);
    await write((tx) => tx.setMeta("lockAfter", minutes));
    idleMinutes = minutes;
    msg.replaceChildren(status(t("settings.saved", { after: duration(minutes * 60_000) }), "ok"));
  });
  const pins = newPinFields(t("settings.newPin"), t("settings.newPinIntro", { min: MIN_PIN_LENGTH }));
  const pinForm = h(
    "form",
    { novalidate: true, "aria-labelledby": "pin-h" },
    h("h2", { id: "pin-h" }, t("settings.changePin")),
    pinField(t("settings.currentPin"), "current", undefined, "current-password"),
    pins.element,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("settings.changePin"))),
  );
  pinForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(pinForm);
    const old = pinOf(pinForm, "current");
    if (!old) return showErrors(pinForm, [{ field: "current", code: "pin_required" }]);
    if (!pins.check()) return;
    msg.replaceChildren(status(t("lock.checking")));
    try {
      await changeStorePin(old, pins.pin());
    } catch (e) {
      msg.replaceChildren(status(say(e), "error"));
      return;
    }
    pinForm.querySelectorAll("input").forEach((i) => (i.value = ""));
    msg.replaceChildren(status(t("settings.pinChanged"), "ok"));
  });
  screen(t("settings.title"), msg, languageForm(), idleForm, pinForm);
}
