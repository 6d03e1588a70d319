// The enrolment screen: a code (typed, pasted or scanned) or a login, and the PIN.
import { checkServer, enrol, loginAndRegister, parseEnrolPayload, ApiError } from "../api";
import { t } from "../i18n";
import { type FieldError } from "../records";
import { read, type Identity } from "../store";
import { sync } from "../sync";
import { type WipeNote } from "../wipe";
import { clearErrors, controlOf, field, h, showErrors, status, value } from "./dom";
import { enrolmentPin, saveIdentity } from "./lock";
import * as dev from "../device";
import { nav, screen } from "./common";

export async function enrolScreen(): Promise<void> {
  const msg = h("div", { "aria-live": "polite" });
  const codeForm = h(
    "form",
    { novalidate: true, "aria-labelledby": "enrol-code-h" },
    h("h2", { id: "enrol-code-h" }, t("enrol.submit")),
    field({ label: t("enrol.code"), name: "code", hint: t("enrol.codeHint"), required: true, attrs: { autocomplete: "off", autocapitalize: "characters", spellcheck: "false" } }),
    field({ label: t("enrol.name"), name: "name", value: t("enrol.nameDefault"), required: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("enrol.submit"))),
  );
  const scanArea = h("div", { class: "scan" });
  if ("BarcodeDetector" in window) {
    codeForm.querySelector(".actions")!.append(h("button", { type: "button", class: "secondary", onclick: () => scan(scanArea, codeForm) }, t("enrol.scan")));
  }
  const loginForm = h(
    "form",
    { novalidate: true, "aria-labelledby": "enrol-login-h" },
    h("h2", { id: "enrol-login-h" }, t("enrol.loginTitle")),
    field({ label: t("enrol.username"), name: "username", required: true, attrs: { autocomplete: "username", autocapitalize: "none" } }),
    field({ label: t("enrol.password"), name: "password", type: "password", required: true, attrs: { autocomplete: "current-password" } }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, t("enrol.login"))),
  );
  // The PIN that will encrypt this device's store (none when it has one already).
  const pin = enrolmentPin();
  const done = async (identity: Identity) => {
    identity.project = dev.defaultProject(identity);
    await saveIdentity(identity, pin?.pin());
    msg.replaceChildren(status(t("enrol.done", { user: identity.user.username }), "ok"));
    try {
      await sync();
    } catch {
      /* shown on the sync screen */
    }
    nav("#/");
  };
  const fail = (form: HTMLElement, e: unknown) => {
    let text: string;
    if (e instanceof ApiError) {
      if (e.code === "network") text = t("enrol.err.network");
      else if (e.code === "https_required") text = t("enrol.err.https");
      else if (e.status === 401) text = t("enrol.err.401", { message: e.message });
      else text = t("enrol.err.other", { message: e.message });
    } else text = t("enrol.err.other", { message: String(e) });
    clearErrors(form);
    msg.replaceChildren(status(text, "error"));
  };
  codeForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(codeForm);
    const pinOk = pin?.check() ?? true;
    let code = value(codeForm, "code");
    let server = location.origin;
    const payload = parseEnrolPayload(code);
    if (payload) {
      code = payload.code ?? "";
      if (payload.server) {
        try {
          if (checkServer(payload.server) !== location.origin) {
            msg.replaceChildren(status(t("enrol.otherServer", { server: payload.server }), "error"));
            return;
          }
        } catch (e) {
          return fail(codeForm, e);
        }
        server = checkServer(payload.server);
      }
    }
    if (!code) return showErrors(codeForm, [{ field: "code", code: "required" }]);
    if (!pinOk) return;
    msg.replaceChildren(status(t("enrol.working")));
    try {
      await done(await enrol(server, code, value(codeForm, "name") || t("enrol.nameDefault")));
    } catch (e) {
      fail(codeForm, e);
    }
  });
  loginForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(loginForm);
    const pinOk = pin?.check() ?? true;
    const errs: FieldError[] = [];
    if (!value(loginForm, "username")) errs.push({ field: "username", code: "required" });
    if (!controlOf(loginForm, "password")?.value) errs.push({ field: "password", code: "required" });
    if (errs.length) return showErrors(loginForm, errs);
    if (!pinOk) return;
    msg.replaceChildren(status(t("enrol.working")));
    try {
      await done(await loginAndRegister(location.origin, value(loginForm, "username"), controlOf(loginForm, "password")!.value, value(codeForm, "name") || t("enrol.nameDefault")));
    } catch (e) {
      fail(loginForm, e);
    }
  });
  const wiped = await read((tx) => tx.meta("wipe"));
  screen(t("enrol.title"), wiped ? wipeNotice(wiped) : null, h("p", {}, t("enrol.intro")), msg, pin?.element, codeForm, scanArea, loginForm);
}

/** What a withdrawn device says once it has wiped itself (src/wipe.ts). */
function wipeNotice(note: WipeNote): HTMLElement {
  const told = note.state === "confirmed" ? t("wipe.confirmed") : note.state === "pending" ? t("wipe.pending") : t("wipe.refused", { message: note.refusal ?? "" });
  const lost = note.lost.length === 0 ? t("wipe.lostNone") : `${t("wipe.lost", { count: note.lost.length })} ${told}`;
  return h(
    "section",
    { class: "status error", role: "alert", id: "wiped", "aria-labelledby": "wiped-h" },
    h("h2", { id: "wiped-h" }, t("wipe.title")),
    h("p", {}, t("wipe.done")),
    h("p", {}, lost),
    h("p", {}, t("wipe.enrolAgain")),
  );
}

async function scan(area: HTMLElement, form: HTMLElement): Promise<void> {
  type Detector = { detect(v: HTMLVideoElement): Promise<{ rawValue: string }[]> };
  const Ctor = (window as unknown as { BarcodeDetector: new (o: unknown) => Detector }).BarcodeDetector;
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch {
    area.replaceChildren(status(t("enrol.scanUnsupported"), "error"));
    return;
  }
  const video = h("video", { "aria-label": t("enrol.scanVideo"), playsinline: true, muted: true });
  video.srcObject = stream;
  let stopped = false;
  const stop = () => {
    stopped = true;
    stream.getTracks().forEach((tr) => tr.stop());
    area.replaceChildren();
  };
  area.replaceChildren(video, h("button", { type: "button", class: "secondary", onclick: stop }, t("enrol.scanStop")));
  await video.play();
  const detector = new Ctor({ formats: ["qr_code"] });
  const tick = async () => {
    if (stopped) return;
    const found = await detector.detect(video).catch(() => []);
    const hit = found.find((f) => f.rawValue.startsWith("bothy-enrol:"));
    if (hit) {
      controlOf(form, "code")!.value = hit.rawValue;
      stop();
      (form as HTMLFormElement).requestSubmit();
    } else setTimeout(tick, 300);
  };
  tick();
}
