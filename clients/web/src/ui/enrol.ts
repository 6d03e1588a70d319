// The enrolment screen: a code (typed, pasted, scanned, or from an enrolment link the phone's
// camera opened) or a login, and the PIN.
import { checkServer, enrol, enrolLinkCode, loginAndRegister, parseEnrolPayload, ApiError } from "../api";
import { t } from "../i18n";
import { type FieldError } from "../records";
import { read, type Identity } from "../store";
import { sync } from "../sync";
import { type WipeNote } from "../wipe";
import { clearErrors, controlOf, field, h, showErrors, status, value } from "./dom";
import { enrolmentPin, saveIdentity } from "./lock";
import * as dev from "../device";
import { nav, screen } from "./common";
import { cameraProblem, qrReader, type QrSource } from "../scan";

export async function enrolScreen(): Promise<void> {
  // An enrolment link (`<server>/app/#/enrol?code=...`): the code fills the form, and leaves the
  // address bar and the history at once.
  const linkCode = enrolLinkCode(location.hash);
  if (linkCode !== undefined) history.replaceState(history.state, "", "#/enrol");
  const msg = h("div", { "aria-live": "polite" });
  const codeForm = h(
    "form",
    { novalidate: true, "aria-labelledby": "enrol-code-h" },
    h("h2", { id: "enrol-code-h" }, t("enrol.submit")),
    field({ label: t("enrol.code"), name: "code", hint: t("enrol.codeHint"), required: true, value: linkCode, attrs: { autocomplete: "off", autocapitalize: "characters", spellcheck: "false" } }),
    field({ label: t("enrol.name"), name: "name", value: t("enrol.nameDefault"), required: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("enrol.submit"))),
  );
  const scanArea = h("div", { class: "scan" });
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
  // A QR code read by the camera or from a photo: the form is sent at once if the PIN is
  // chosen, else the PIN is asked for first.
  const scanned = (text: string) => {
    controlOf(codeForm, "code")!.value = text;
    const pinInput = pin?.element.querySelector("input");
    if (pinInput && !pinInput.value) {
      msg.replaceChildren(status(t("enrolQr.readChoosePin")));
      pinInput.focus();
    } else codeForm.requestSubmit();
  };
  codeForm.querySelector(".actions")!.append(h("button", { type: "button", class: "secondary", onclick: () => scanCamera(scanArea, scanned) }, t("enrol.scan")));
  const photo = h("input", { type: "file", id: "enrol-photo", accept: "image/*", capture: "environment" });
  photo.addEventListener("change", () => {
    const file = photo.files?.[0];
    photo.value = "";
    if (file) void scanPhoto(file, scanArea, scanned);
  });
  const photoField = h("div", { class: "field" }, h("label", { for: "enrol-photo" }, t("enrolQr.photo")), h("p", { class: "hint", id: "enrol-photo-hint" }, t("enrolQr.photoHint")), photo);
  photo.setAttribute("aria-describedby", "enrol-photo-hint");
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
  if (linkCode !== undefined) msg.replaceChildren(status(pin ? t("enrolQr.fromLink") : t("enrolQr.fromLinkNoPin")));
  screen(t("enrol.title"), wiped ? wipeNotice(wiped) : null, h("p", {}, t("enrol.intro")), msg, pin?.element, codeForm, scanArea, photoField, loginForm);
}

/** An enrolment link opened on a device that is enrolled already: it says so, and the code is
 * not used (it still works on another device until it expires). */
export function alreadyEnrolledScreen(username: string): void {
  history.replaceState(history.state, "", "#/enrol");
  screen(
    t("enrolQr.alreadyTitle"),
    h("p", { class: "status info", role: "status" }, t("enrolQr.already", { user: username })),
    h("p", {}, h("a", { href: "#/" }, t("enrolQr.home"))),
  );
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

/** The text of a QR code if it is a Bothy enrolment (a link or the older `bothy-enrol:`). */
const enrolment = (texts: string[]) => texts.find((x) => parseEnrolPayload(x)?.code);

/** The message for QR codes that are not Bothy enrolments (their text, cut short). */
const notEnrolment = (texts: string[]) => t("enrolQr.notBothy", { text: texts[0]!.length > 80 ? `${texts[0]!.slice(0, 80)}…` : texts[0]! });

/** Why the QR reader could not be had (it is fetched from the server the first time). */
const readerFailed = (e: unknown) => status(t("enrolQr.readerFailed", { message: e instanceof Error ? e.message : String(e) }), "error");

let stopCamera: (() => void) | undefined;

/** Scans with the camera, reading frames until one holds an enrolment QR code. */
async function scanCamera(area: HTMLElement, found: (text: string) => void): Promise<void> {
  stopCamera?.();
  if (!navigator.mediaDevices?.getUserMedia) {
    area.replaceChildren(status(t("enrolQr.noCamera"), "error"));
    return;
  }
  area.replaceChildren(status(t("enrolQr.starting")));
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (e) {
    const problem = cameraProblem(e);
    area.replaceChildren(status(problem === "failed" ? t("enrolQr.cameraFailed", { message: e instanceof Error ? e.message : String(e) }) : t(`enrolQr.${problem}`), "error"));
    return;
  }
  const video = h("video", { "aria-label": t("enrol.scanVideo"), playsinline: true, muted: true });
  video.srcObject = stream;
  let stopped = false;
  const note = h("div", {});
  const stop = (clear = true) => {
    stopped = true;
    stopCamera = undefined;
    stream.getTracks().forEach((tr) => tr.stop());
    if (clear) area.replaceChildren();
  };
  stopCamera = stop;
  area.replaceChildren(status(t("enrolQr.pointCamera")), video, note, h("button", { type: "button", class: "secondary", onclick: () => stop() }, t("enrol.scanStop")));
  let read: (source: QrSource) => Promise<string[]>;
  try {
    await video.play();
    read = await qrReader();
  } catch (e) {
    stop(false);
    area.replaceChildren(readerFailed(e));
    return;
  }
  const tick = async () => {
    if (stopped || !video.isConnected) return stop(false);
    let texts: string[] = [];
    try {
      texts = video.readyState >= 2 ? await read(video) : [];
    } catch (e) {
      stop(false);
      area.replaceChildren(readerFailed(e));
      return;
    }
    if (stopped) return;
    const hit = enrolment(texts);
    if (hit) {
      stop();
      found(hit);
      return;
    }
    // Another QR code in view: say so (once, not at every frame), and keep looking.
    if (texts.length && note.textContent !== notEnrolment(texts)) note.replaceChildren(status(notEnrolment(texts), "error"));
    setTimeout(tick, 250);
  };
  void tick();
}

/** Reads an enrolment QR code from a photo, by the same reader as the camera's frames. */
async function scanPhoto(file: File, area: HTMLElement, found: (text: string) => void): Promise<void> {
  stopCamera?.();
  area.replaceChildren(status(t("enrolQr.reading")));
  let image: ImageBitmap;
  try {
    image = await createImageBitmap(file);
  } catch {
    area.replaceChildren(status(t("enrolQr.notImage"), "error"));
    return;
  }
  let texts: string[];
  try {
    texts = await (await qrReader())(image);
  } catch (e) {
    area.replaceChildren(readerFailed(e));
    return;
  } finally {
    image.close();
  }
  const hit = enrolment(texts);
  if (hit) {
    area.replaceChildren();
    found(hit);
  } else area.replaceChildren(status(texts.length ? notEnrolment(texts) : t("enrolQr.noQr"), "error"));
}
