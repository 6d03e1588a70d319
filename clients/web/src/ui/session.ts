// Sessions: a new one, and one session's attendance and registration.
import { t } from "../i18n";
import { type FieldError, type FieldValue } from "../records";
import { AGE_BANDS } from "../schema";
import { read } from "../store";
import { checkbox, control, controlOf, errorText, field, h, showErrors, status, value } from "./dom";
import { details, readField, sessionForm, SESSION_VIEW, toUtc } from "./fields";
import * as dev from "../device";
import { localDate, localDateTime, show, nav, screen, fieldErrors, requireIdentity, participantName, CONTACT_FIELDS, contactControl, conflictNotice } from "./common";

export async function newSessionScreen(): Promise<void> {
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

export async function sessionScreen(sid: string, flash?: string): Promise<void> {
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
