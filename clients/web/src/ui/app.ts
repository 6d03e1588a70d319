// The screens (hash routes): enrol, home, session (new, attendance), questionnaire, story, sync.
import { checkServer, enrol, loginAndRegister, parseEnrolPayload, ApiError } from "../api";
import * as dev from "../device";
import { has, t } from "../i18n";
import { allowed, bounds, groupOf, isBuiltin, itemOf, labelOf, lookup, offered, scoredItems, scoreWith, type Band, type Definition, type Item, type Scoring, type Total } from "../instrument";
import type { InstrumentWording } from "../protocol";
import { InvalidRecord, items, type FieldError, type FieldValue } from "../records";
import { AGE_BANDS, STORY_CONSENT_SCOPES, TIMEPOINTS, type Field } from "../schema";
import { score, type Score } from "../scoring";
import { allReports, allSetAside, read, write, type Identity } from "../store";
import { sync, SyncError, type SyncSummary } from "../sync";
import { DeviceWiped, type WipeNote } from "../wipe";
import { answerLabel, itemText, suppliedWording } from "../wording";
import { checkbox, choices, clearErrors, control, controlOf, errorText, field, h, showErrors, status, value } from "./dom";
import { controlOpts, details, plainFields, readField, sessionForm, SESSION_VIEW, toUtc } from "./fields";
import { enrolmentPin, saveIdentity, settingsScreen } from "./lock";

const main = () => document.getElementById("main")!;

// ---------- helpers ----------

const pad = (n: number) => String(n).padStart(2, "0");
const localDate = (d = new Date()) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const localDateTime = (d: Date) => `${localDate(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
const show = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "");
const nav = (hash: string) => {
  location.hash = hash;
};

function screen(title: string, ...body: (Node | null | false | undefined)[]): void {
  const heading = h("h1", { tabindex: -1 }, title);
  const m = main();
  m.replaceChildren(heading, ...body.filter((x): x is Node => !!x));
  document.title = `${title} · ${t("app.name")}`;
  heading.focus();
}

function fieldErrors(e: unknown): FieldError[] | undefined {
  return e instanceof InvalidRecord ? e.errors : undefined;
}

async function requireIdentity(): Promise<Identity | undefined> {
  const id = await dev.identity();
  if (!id) nav("#/enrol");
  return id;
}

/** A participant as people know them: the name their contact record gives them, with their
 * code, when this device holds one (see `dev.contactNames`), else their code. */
function participantName(v: dev.Loaded, names: ReadonlyMap<string, string>): string {
  const code = v.view.s("code") ?? v.id;
  const name = names.get(v.id);
  return name ? `${name} (${code})` : code;
}

/** The contact record's fields a registration asks for (all but the participant it names), in
 * schema order, with controls chosen by their types. */
const CONTACT_FIELDS = plainFields("contact").filter((f) => f.name !== "participant");

function contactControl(f: Field): HTMLElement {
  const o = controlOpts("contact", f);
  const name = `${dev.CONTACT_PREFIX}${f.name}`;
  const attrs = { ...o.attrs, autocomplete: "off" };
  if (f.name === "phone") return field({ ...o, name, type: "tel", attrs });
  if (f.name === "postcode_district") return field({ ...o, name, attrs: { ...attrs, autocapitalize: "characters", spellcheck: "false" } });
  if (f.name === "notes") return field({ ...o, name, type: "textarea", attrs: { ...attrs, rows: 3 } });
  return field({ ...o, name, attrs });
}

// ---------- enrol ----------

async function enrolScreen(): Promise<void> {
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

// ---------- home ----------

function sessionItem(s: dev.Loaded): HTMLElement {
  const present = Object.values(s.view.map("attendance")).filter((m) => m === "present").length;
  return h(
    "li",
    {},
    h(
      "a",
      { href: `#/session/${s.id}`, class: "card" },
      h("strong", {}, `${s.view.s("activity") ?? ""} · ${s.view.s("site") ?? ""}`),
      h("span", {}, show(s.view.s("start"))),
      h("span", {}, t("home.attendees", { count: present }), s.unsynced ? ` · ${t("common.unsyncedMark")}` : ""),
    ),
  );
}

async function homeScreen(): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const all = await dev.listRecords();
  const sessions = all.filter((r) => r.view.kind === "session").sort((a, b) => (b.view.s("start") ?? "").localeCompare(a.view.s("start") ?? ""));
  const today = localDate();
  const isToday = (s: dev.Loaded) => {
    const st = s.view.s("start");
    return st ? localDate(new Date(st)) === today : false;
  };
  const stories = all.filter((r) => r.view.kind === "story");
  const unsynced = all.filter((r) => r.unsynced).length;
  const projects = dev.writableProjects(id);
  const project = dev.defaultProject(id);
  const projectPicker =
    projects.length > 1
      ? field({ label: t("home.project"), name: "project", value: project, options: projects.map((p) => [p, p]), attrs: { onchange: async (e: Event) => {
          id.project = (e.target as HTMLSelectElement).value;
          await write((tx) => tx.setMeta("identity", id));
          homeScreen();
        } } })
      : h("p", {}, `${t("home.project")}: ${project ?? t("common.none")}`);
  const todayList = sessions.filter(isToday);
  const recent = sessions.filter((s) => !isToday(s)).slice(0, 20);
  screen(
    t("home.title"),
    h("p", { class: "muted" }, t("home.signedIn", { user: id.user.username })),
    h("p", {}, h("a", { href: "#/sync", class: unsynced ? "badge warn" : "badge" }, unsynced ? t("home.unsynced", { count: unsynced }) : t("home.allSynced"))),
    project ? null : status(t("enrol.noProject"), "error"),
    h("form", { onsubmit: (e: Event) => e.preventDefault() }, projectPicker),
    h("div", { class: "actions" }, h("a", { href: "#/session/new", class: "button primary" }, t("home.newSession")), h("a", { href: "#/story/new", class: "button secondary" }, t("home.newStory"))),
    h("h2", {}, t("home.today")),
    todayList.length ? h("ul", { class: "cards" }, todayList.map(sessionItem)) : h("p", {}, t("home.noToday")),
    h("h2", {}, t("home.recent")),
    recent.length ? h("ul", { class: "cards" }, recent.map(sessionItem)) : h("p", {}, t("home.noRecent")),
    h("h2", {}, t("home.stories")),
    stories.length
      ? h("ul", { class: "cards" }, stories.map((s) => h("li", {}, h("a", { href: `#/story/${s.id}`, class: "card" }, h("strong", {}, s.view.s("title") ?? ""), h("span", {}, s.view.s("author") ?? "", s.unsynced ? ` · ${t("common.unsyncedMark")}` : "")))))
      : h("p", {}, t("home.noStories")),
  );
}

// ---------- sessions ----------

async function newSessionScreen(): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const project = dev.defaultProject(id);
  if (!project) return nav("#/");
  const setup = await read((tx) => tx.meta("setup"));
  const ps = setup?.projects?.find((p) => p.project === project);
  const sites = ps?.sites ?? [];
  const acts = ps?.activities ?? [];
  const start = new Date();
  start.setMinutes(0, 0, 0);
  // The form's own controls, then one for each other plain field of the schema.
  const { controls, others } = sessionForm({ sites, activities: acts, facilitator: id.user.username, start: localDateTime(start) });
  const form = h(
    "form",
    { novalidate: true },
    controls.map(control),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("session.create"))),
  );
  controlOf(form, "activity")?.addEventListener("change", () => {
    const a = acts.find((x) => x.slug === value(form, "activity"));
    if (a) {
      controlOf(form, "activity_type")!.value = a.activity_type;
      if (a.site && sites.some((s) => s.slug === a.site)) controlOf(form, "site")!.value = a.site;
    }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fields: [string, FieldValue][] = [];
    const errs: FieldError[] = [];
    for (const n of ["site", "activity", "activity_type", "start"]) {
      const v = value(form, n);
      if (!v) errs.push({ field: n, code: "required" });
      else fields.push([n, n === "start" ? toUtc(v) : v]);
    }
    if (value(form, "end")) fields.push(["end", toUtc(value(form, "end"))]);
    if (value(form, "location")) fields.push(["location", value(form, "location")]);
    for (const f of value(form, "facilitators").split(",").map((x) => x.trim()).filter(Boolean)) fields.push([`facilitators.${f}`, true]);
    for (const f of others) {
      const raw = f.ty.t === "bool" ? (controlOf(form, f.name) as HTMLInputElement).checked : value(form, f.name);
      const read = readField(f, raw);
      if (read.error) errs.push(read.error);
      else if (read.value !== undefined) fields.push([f.name, read.value]);
    }
    if (errs.length) return showErrors(form, errs);
    try {
      const sid = await dev.createSession(project, fields);
      nav(`#/session/${sid}`);
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(form, fe, (p) => (p.startsWith("facilitators.") ? "facilitators" : p));
      else throw e;
    }
  });
  screen(t("session.newTitle"), form);
}

async function sessionScreen(sid: string, flash?: string): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const s = await dev.getRecord(sid);
  if (!s || s.view.kind !== "session") return screen(t("session.title"), status(t("common.notFound"), "error"));
  const all = await dev.listRecords();
  const names = dev.contactNamesIn(all);
  const name = (p: dev.Loaded) => participantName(p, names);
  const people = all.filter((r) => r.view.kind === "participant" && r.view.project === s.view.project).sort((a, b) => name(a).localeCompare(name(b)));
  const marks = s.view.map("attendance");
  const msg = h("div", { "aria-live": "polite" }, flash ? status(flash, "ok") : null);
  const list = h(
    "ul",
    { class: "checklist" },
    people.map((p) => {
      const box = checkbox(name(p), `attendance.${p.id}`, marks[p.id] === "present", {
        onchange: async (e: Event) => {
          const on = (e.target as HTMLInputElement).checked;
          try {
            await dev.markAttendance(sid, p.id, on ? "present" : "absent");
            msg.replaceChildren(status(t("session.marked"), "ok"));
          } catch (err) {
            const fe = fieldErrors(err);
            msg.replaceChildren(status(fe ? fe.map(errorText).join(" ") : String(err), "error"));
          }
        },
      });
      return h("li", {}, box, h("a", { href: `#/wellbeing/new/${p.id}/${sid}`, class: "small", "aria-label": t("session.questionnaireFor", { name: name(p) }) }, t("session.questionnaire")));
    }),
  );
  const canRegister = dev.canWrite(id, s.view.project, "participant");
  // Direct identifiers go to a contact record of their own; a role that may write one but is
  // never sent any (a peer worker) keeps it only until the server has it.
  const canContact = dev.canWrite(id, s.view.project, "contact");
  const contactHint = dev.canReceive(id, s.view.project, "contact") ? t("session.contactHint") : t("session.contactHintLeaves");
  const reg = h(
    "form",
    { novalidate: true, "aria-labelledby": "reg-h" },
    h("h2", { id: "reg-h" }, t("session.register")),
    canContact
      ? h(
          "fieldset",
          { class: "contact", "aria-describedby": "contact-hint" },
          h("legend", {}, t("session.contactDetails")),
          h("p", { class: "hint", id: "contact-hint" }, contactHint),
          CONTACT_FIELDS.map(contactControl),
        )
      : null,
    field({ label: t("session.ageBand"), name: "age_band", options: [["", t("common.choose")], ...AGE_BANDS.map((a) => [a, a] as [string, string])] }),
    checkbox(t("session.consent"), "consent.data_use", false),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("session.registerSubmit"))),
  );
  reg.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fields: [string, FieldValue][] = [];
    if (canContact) {
      for (const f of CONTACT_FIELDS) {
        const v = value(reg, `${dev.CONTACT_PREFIX}${f.name}`);
        if (v) fields.push([`${dev.CONTACT_PREFIX}${f.name}`, v]);
      }
    }
    if (value(reg, "age_band")) fields.push(["age_band", value(reg, "age_band")]);
    const consent = (controlOf(reg, "consent.data_use") as HTMLInputElement).checked;
    fields.push(["consent.data_use", consent]);
    if (consent) fields.push(["consent.date", localDate()]);
    try {
      const p = await dev.createParticipant(s.view.project, fields);
      await dev.markAttendance(sid, p.id, "present");
      await sessionScreen(sid, t("session.registered", { code: p.code }));
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(reg, fe);
      else throw e;
    }
  });
  const end = s.view.s("end");
  // Every other field the session holds, by its label.
  const more = details(s.view, SESSION_VIEW);
  screen(
    `${s.view.s("activity") ?? ""} · ${s.view.s("site") ?? ""}`,
    h("p", {}, end ? t("session.when", { start: show(s.view.s("start")), end: show(end) }) : t("session.whenOpen", { start: show(s.view.s("start")) })),
    more.length ? h("dl", { class: "details" }, more.map(([label, v]) => h("div", {}, h("dt", {}, label), h("dd", {}, v)))) : null,
    await conflictNotice(sid),
    h("h2", {}, t("session.attendance")),
    h("p", { class: "hint" }, t("session.attendanceHint")),
    msg,
    people.length ? h("form", { onsubmit: (e: Event) => e.preventDefault(), "aria-label": t("session.attendance") }, list) : h("p", {}, t("session.noParticipants")),
    canRegister ? reg : null,
  );
}

async function conflictNotice(rid: string): Promise<HTMLElement | null> {
  const fields = await dev.conflicts(rid);
  return fields.length ? h("div", { class: "notice" }, h("p", {}, t("report.conflict")), h("p", {}, t("report.field", { field: fields.join(", ") }))) : null;
}

// ---------- wellbeing ----------

/** Radio buttons for a scale of at most this many answers (ONS4's 0 to 10); a wider range is typed. */
const MAX_CHOICES = 11;

const fmtScore = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

/** A band's name for people: the definition's label, else the app's word for it, else its name. */
function bandText(bands: readonly Band[] | undefined, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  return bands?.find((b) => b.name === name)?.label ?? (has(`band.${name}`) ? t(`band.${name}`) : name);
}

/** The instruments whose scores have sentences of their own (score names, the SWEMWBS metric). */
const OWN_SENTENCES = ["WEMWBS", "SWEMWBS", "ONS4"];

/** The score of a form, in sentences: WEMWBS, SWEMWBS and ONS4 in their own; any other
 * definition from the scoring engine (its score, band and further scores, or each answer with
 * its label and band). */
function scoreLines(def: Definition, answers: Record<number, number>): string[] {
  const incomplete = (missing: number[]) => {
    const count = scoredItems(def, def.scoring).length;
    return [t("wellbeing.score.incomplete", { answered: count - missing.length, count, missing: missing.join(", ") })];
  };
  if (isBuiltin(def) && OWN_SENTENCES.includes(def.id)) {
    const s: Score = score(def.id, answers);
    switch (s.status) {
      case "wemwbs":
        return [t("wellbeing.score.wemwbs", { total: s.total, metric: s.swemwbs_metric.toFixed(2), raw: s.swemwbs_raw })];
      case "swemwbs":
        return [t("wellbeing.score.swemwbs", { metric: s.metric.toFixed(2), raw: s.raw })];
      case "ons4":
        return s.answers.map((a) => t("wellbeing.score.ons4", { item: t(`ons4.${a.item}`), value: a.value, band: t(`band.${a.band}`) }));
      default:
        return incomplete(s.missing);
    }
  }
  const s = scoreWith(def, answers);
  switch (s.status) {
    case "incomplete":
      return incomplete(s.missing);
    case "total": {
      const line = (rule: Scoring, total: Total, name: string) => {
        const band = bandText(rule.bands, total.band);
        const params = { instrument: name, score: fmtScore(total.score), raw: fmtScore(total.raw) };
        const head = total.raw === total.score ? t("wellbeing.score.total", params) : t("wellbeing.score.totalRaw", params);
        return band ? `${head} ${t("wellbeing.score.band", { band })}` : head;
      };
      return [
        line(def.scoring, s.total, def.id),
        ...(s.also ?? []).map((x) => line(def.scoring.also?.find((r) => r.name === x.name) ?? def.scoring, x, x.name ?? def.id)),
      ];
    }
    case "per_item":
      return s.answers.map((a) => {
        const answer = a.label ? `${a.value} ${a.label}` : String(a.value);
        const band = bandText(groupOf(def.scoring, a.number)?.bands, a.band);
        const params = { item: t("wellbeing.item", { n: a.number }), answer };
        return band ? t("wellbeing.score.itemBand", { ...params, band }) : t("wellbeing.score.item", params);
      });
  }
}

/** The instrument's name for the picker: its name, with its id unless the name holds it. */
const instrumentLabel = (def: Definition) => (def.name.includes(def.id) ? def.name : `${def.name} (${def.id})`);

/** One question of a form: radio buttons for each answer (labelled where the wording or the
 * scale labels it), or a number field for a scale too wide to list. */
function itemControl(def: Definition, item: Item, supplied: InstrumentWording | undefined, onChange: () => void): HTMLElement {
  const name = `items.${item.number}`;
  const question = `${item.number}. ${itemText(supplied, def, item)}`;
  const answers = allowed(item.scale);
  if (answers.length <= MAX_CHOICES) {
    const labels = answers.map((v) => answerLabel(supplied, item, v));
    return choices({
      legend: question,
      name,
      options: answers.map((v, k) => [String(v), labels[k] ? `${v} ${labels[k]}` : String(v)]),
      column: labels.every((l) => l !== undefined),
      attrs: { onchange: onChange },
    });
  }
  const [lo, hi] = bounds(item.scale)!;
  return field({ label: question, name, type: "number", hint: t("wellbeing.answerRange", { lo, hi }), attrs: { inputmode: "numeric", min: lo, max: hi, step: 1, oninput: onChange } });
}

async function wellbeingNewScreen(pid: string, sid?: string): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const p = await dev.getRecord(pid);
  if (!p || p.view.kind !== "participant") return screen(t("wellbeing.title"), status(t("common.notFound"), "error"));
  // Refused before any answer is typed when the user's role may not record questionnaires.
  if (!dev.canWrite(id, p.view.project, "wellbeing")) return screen(t("wellbeing.title"), status(errorText(dev.notAllowedError(id, p.view.project, "wellbeing")), "error"));
  const setup = await dev.setup();
  // Every built-in, then the newest version of each of the project's own instruments.
  const defs = offered(p.view.project);
  let def: Definition = defs.find((d) => d.id === "WEMWBS") ?? defs[0]!;
  const itemsBox = h("fieldset", { class: "items" });
  const live = h("div", { class: "score", "aria-live": "polite" });
  const form = h(
    "form",
    { novalidate: true },
    h("p", {}, `${t("wellbeing.participant")}: ${participantName(p, await dev.contactNames())}`),
    field({ label: t("wellbeing.instrument"), name: "instrument", value: def.id, required: true, options: defs.map((d) => [d.id, instrumentLabel(d)] as [string, string]) }),
    field({ label: t("wellbeing.timepoint"), name: "timepoint", value: "baseline", required: true, options: TIMEPOINTS.map((x) => [x, t(`timepoint.${x}`)] as [string, string]) }),
    field({ label: t("wellbeing.date"), name: "date", type: "date", value: localDate(), required: true }),
    itemsBox,
    live,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("wellbeing.submit"))),
  );
  const readItems = () => {
    const out: Record<number, number> = {};
    const errs: FieldError[] = [];
    for (const item of def.items) {
      const raw = value(form, `items.${item.number}`);
      if (raw === "") continue;
      const n = Number(raw);
      if (!Number.isInteger(n)) errs.push({ field: `items.${item.number}`, code: "must_be_whole_number", params: { got: raw } });
      else out[item.number] = n;
    }
    return { out, errs };
  };
  const updateLive = () => {
    live.replaceChildren(h("h2", {}, t("wellbeing.liveScore")), ...scoreLines(def, readItems().out).map((l) => h("p", {}, l)));
  };
  const renderItems = () => {
    const supplied = suppliedWording(setup, p.view.project, def.id);
    const items = [...def.items].sort((a, b) => a.number - b.number);
    itemsBox.replaceChildren(
      h("legend", {}, def.name),
      ...items.map((item) => itemControl(def, item, supplied, updateLive)),
    );
    updateLive();
  };
  controlOf(form, "instrument")!.addEventListener("change", () => {
    def = defs.find((d) => d.id === value(form, "instrument")) ?? def;
    renderItems();
  });
  renderItems();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { out, errs } = readItems();
    if (errs.length) return showErrors(form, errs);
    const fields: [string, FieldValue][] = [
      ["participant", pid],
      ["instrument", def.id],
      ["timepoint", value(form, "timepoint")],
      ["date", value(form, "date")],
    ];
    // A project's own instrument is recorded with the version its form was shown from.
    if (!isBuiltin(def)) fields.push(["instrument_version", def.version]);
    if (sid) fields.push(["session", sid]);
    for (const [k, v] of Object.entries(out)) fields.push([`items.${k}`, v]);
    try {
      const wid = await dev.createWellbeing(fields);
      nav(`#/wellbeing/${wid}`);
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(form, fe, (f) => (f === "instrument_version" ? "instrument" : f));
      else throw e;
    }
  });
  screen(t("wellbeing.title"), form);
}

async function wellbeingScreen(wid: string): Promise<void> {
  const w = await dev.getRecord(wid);
  if (!w || w.view.kind !== "wellbeing") return screen(t("wellbeing.resultTitle"), status(t("common.notFound"), "error"));
  await dev.setup();
  const instrument = w.view.s("instrument") ?? "";
  const version = w.view.i("instrument_version");
  const def = lookup(w.view.project, instrument, version);
  const it = items(w.view);
  const p = await dev.getRecord(w.view.s("participant") ?? "");
  const sid = w.view.s("session");
  const answer = (k: number) => {
    const item = def && itemOf(def, k);
    const label = item && labelOf(item.scale, it[k]!);
    return label ? `${it[k]} ${label}` : String(it[k]);
  };
  screen(
    t("wellbeing.resultTitle"),
    status(t("common.saved"), "ok"),
    h("p", {}, `${t("wellbeing.participant")}: ${p ? participantName(p, await dev.contactNames()) : (w.view.s("participant") ?? "")}`),
    h("p", {}, `${def ? instrumentLabel(def) : instrument}${version !== undefined ? ` · ${t("wellbeing.version", { version })}` : ""} · ${t(`timepoint.${w.view.s("timepoint")}`)} · ${w.view.s("date") ?? ""}`),
    h(
      "div",
      { class: "score", id: "score" },
      ...(def ? scoreLines(def, it) : [t("wellbeing.unknownInstrument", { instrument, version: version ?? 1 })]).map((l) => h("p", {}, l)),
    ),
    h("ol", { class: "answers" }, Object.keys(it).sort((a, b) => +a - +b).map((k) => h("li", { value: k }, answer(+k)))),
    sid ? h("p", {}, h("a", { href: `#/session/${sid}`, class: "button secondary" }, t("nav.back"))) : null,
  );
}

// ---------- stories ----------

async function newStoryScreen(): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const project = dev.defaultProject(id);
  if (!project) return nav("#/");
  if (!dev.canWrite(id, project, "story")) return screen(t("story.newTitle"), status(errorText(dev.notAllowedError(id, project, "story")), "error"));
  const all = await dev.listRecords();
  const names = dev.contactNamesIn(all);
  const people = all.filter((r) => r.view.kind === "participant" && r.view.project === project);
  const form = h(
    "form",
    { novalidate: true },
    field({ label: t("story.titleField"), name: "title", required: true }),
    field({ label: t("story.consentScope"), name: "consent_scope", value: "private", required: true, options: STORY_CONSENT_SCOPES.map((s) => [s, t(`scope.${s}`)] as [string, string]) }),
    field({ label: t("story.participant"), name: "participant", options: [["", t("common.none")], ...people.map((p) => [p.id, participantName(p, names)] as [string, string])] }),
    field({ label: t("story.body"), name: "body", type: "textarea" }),
    field({ label: t("story.themes"), name: "themes", hint: t("story.themesHint") }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("story.create"))),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fields: [string, FieldValue][] = [];
    if (!value(form, "title")) return showErrors(form, [{ field: "title", code: "required" }]);
    fields.push(["title", value(form, "title")], ["consent_scope", value(form, "consent_scope")]);
    if (value(form, "participant")) fields.push(["participant", value(form, "participant")]);
    const body = controlOf(form, "body")!.value;
    if (body) fields.push(["body", body]);
    for (const th of value(form, "themes").split(",").map((x) => x.trim()).filter(Boolean)) fields.push([`themes.${th}`, true]);
    try {
      const sid = await dev.createStory(project, fields);
      nav(`#/story/${sid}`);
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(form, fe, (p) => (p.startsWith("themes.") ? "themes" : p));
      else throw e;
    }
  });
  screen(t("story.newTitle"), form);
}

async function storyScreen(sid: string, flash?: string): Promise<void> {
  const s = await dev.getRecord(sid);
  if (!s || s.view.kind !== "story") return screen(t("story.title"), status(t("common.notFound"), "error"));
  const msg = h("div", { "aria-live": "polite" }, flash ? status(flash, "ok") : null);
  const form = h(
    "form",
    { novalidate: true },
    field({ label: t("story.body"), name: "body", type: "textarea", value: s.view.text("body") }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("story.saveBody"))),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await dev.editText(sid, "body", controlOf(form, "body")!.value);
      await storyScreen(sid, t("common.saved"));
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(form, fe);
      else throw e;
    }
  });
  const themes = s.view.set("themes");
  screen(
    s.view.s("title") ?? t("story.title"),
    h("p", { class: "muted" }, t("story.author", { author: s.view.s("author") ?? "" }), ` · ${t(`scope.${s.view.s("consent_scope")}`)}`, themes.length ? ` · ${themes.join(", ")}` : ""),
    await conflictNotice(sid),
    msg,
    form,
  );
  // The browser's history and tab restore keep page titles on disk in clear: no story's title there.
  document.title = `${t("story.title")} · ${t("app.name")}`;
}

// ---------- sync ----------

export function syncErrorText(e: unknown): string {
  if (e instanceof SyncError) {
    if (e.code === "network") return navigator.onLine ? t("sync.err.network") : t("sync.offline");
    if (e.status === 401) return t("sync.err.401");
    if (e.status === 426) return t("sync.err.426");
    return t("sync.err.other", { message: e.message });
  }
  return t("sync.err.other", { message: String(e) });
}

/** What a sync removed from the phone besides erasures, in sentences: records no longer shared
 * with the user, records the server rewrote, and unsent changes lost with them. */
export function removedText(s: Pick<SyncSummary, "withdrawn" | "replaced" | "lost">): string[] {
  const out: string[] = [];
  if (s.withdrawn) out.push(s.withdrawn === 1 ? t("sync.withdrawnOne") : t("sync.withdrawn", { count: s.withdrawn }));
  if (s.replaced) out.push(s.replaced === 1 ? t("sync.replacedOne") : t("sync.replaced", { count: s.replaced }));
  if (s.lost) out.push(t("sync.lost", { count: s.lost }));
  return out;
}

async function syncScreen(flash?: HTMLElement): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const count = await dev.unsyncedCount();
  const [lastSync, reports, setAside] = await Promise.all([read((tx) => tx.meta("lastSync")), allReports(), allSetAside()]);
  const msg = h("div", { "aria-live": "polite" }, flash ?? (navigator.onLine ? null : status(t("sync.offline"), "info")));
  const button = h("button", { type: "button", class: "primary", id: "sync-now" }, t("sync.button"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    msg.replaceChildren(status(t("sync.working")));
    let note: HTMLElement;
    try {
      const s = await sync();
      const done = [t("sync.done", { pushed: s.pushed, received: s.received })];
      if (s.reconciled) done.push(t("sync.reconciled"));
      if (s.erased) done.push(t("sync.erased", { count: s.erased }));
      done.push(...removedText(s));
      note = status(done.join(" "), "ok");
    } catch (e) {
      // Wiped: nothing is left to show here; the enrolment screen says what happened.
      if (e instanceof DeviceWiped) return nav("#/enrol");
      note = status(syncErrorText(e), "error");
    }
    await syncScreen(note);
    await refreshBadge();
  });
  screen(
    t("sync.title"),
    h("p", { id: "unsynced-count" }, t("sync.unsynced", { count })),
    h("p", { id: "last-sync" }, lastSync ? t("sync.lastSync", { when: new Date(lastSync * 1000).toLocaleString("en-GB") }) : t("sync.never")),
    msg,
    h("div", { class: "actions" }, button),
    setAside.length ? h("p", {}, t("sync.setAside", { count: setAside.length })) : null,
    h("h2", {}, t("sync.reports")),
    reports.length
      ? h(
          "ul",
          { class: "reports" },
          reports
            .slice()
            .reverse()
            .map((r) =>
              h(
                "li",
                { class: `report ${r.kind}` },
                h("strong", {}, t(`report.${r.kind}`)),
                h("p", {}, r.message),
                r.field ? h("p", { class: "muted" }, t("report.field", { field: r.field })) : null,
                h("p", { class: "muted" }, t("report.record", { id: r.recordId })),
              ),
            ),
        )
      : h("p", {}, t("sync.noReports")),
    h("p", { class: "muted" }, t("sync.identity", { device: id.deviceId, user: id.user.username, server: id.server })),
  );
}

// ---------- router ----------

export async function route(): Promise<void> {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const id = await dev.identity();
  if (!id && parts[0] !== "enrol") return nav("#/enrol");
  document.querySelectorAll("header nav a").forEach((a) => a.removeAttribute("aria-current"));
  switch (parts[0]) {
    case "enrol":
      return id ? nav("#/") : enrolScreen();
    case "session":
      return parts[1] === "new" ? newSessionScreen() : sessionScreen(parts[1] ?? "");
    case "wellbeing":
      return parts[1] === "new" ? wellbeingNewScreen(parts[2] ?? "", parts[3]) : wellbeingScreen(parts[1] ?? "");
    case "story":
      return parts[1] === "new" ? newStoryScreen() : storyScreen(parts[1] ?? "");
    case "sync":
      document.querySelector('header nav a[href="#/sync"]')?.setAttribute("aria-current", "page");
      return syncScreen();
    case "settings":
      document.querySelector('header nav a[href="#/settings"]')?.setAttribute("aria-current", "page");
      return settingsScreen();
    default:
      document.querySelector('header nav a[href="#/"]')?.setAttribute("aria-current", "page");
      return homeScreen();
  }
}

/** Shows the unsynced count in the header. */
export async function refreshBadge(): Promise<void> {
  const el = document.getElementById("sync-badge");
  if (!el) return;
  const id = await dev.identity();
  if (!id) {
    el.textContent = "";
    return;
  }
  const n = await dev.unsyncedCount();
  el.textContent = n ? String(n) : "";
  el.hidden = n === 0;
}
