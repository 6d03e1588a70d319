// Sessions: a new one, and one session's attendance and registration.
import { t } from "../i18n";
import { type FieldError, type FieldValue } from "../records";
import { read } from "../store";
import { checkbox, control, controlOf, errorText, h, showErrors, status, value } from "./dom";
import { details, readField, sessionForm, SESSION_VIEW, toUtc } from "./fields";
import * as dev from "../device";
import { sessionTitle } from "./names";
import { contactHintFor, personControls, readPerson, registrationFields } from "./participants";
import { dueStep, dueText, questionnaireHref, standingsIn } from "./followups";
import { localDateTime, show, nav, screen, fieldErrors, requireIdentity, participantName, conflictNotice } from "./common";

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
  const standings = await standingsIn(all, s.view.project);
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
      // Who is due a questionnaire is marked, and their link opens it at the timepoint due.
      const due = dueStep(standings.get(p.id));
      if (due) return h("li", {}, box, h("a", { href: questionnaireHref(p.id, due.timepoint, sid), class: due.overdue ? "small due overdue" : "small due", "aria-label": t("due.questionnaireFor", { due: dueText(due), name: name(p) }) }, dueText(due)));
      return h("li", {}, box, h("a", { href: `#/wellbeing/new/${p.id}/${sid}`, class: "small", "aria-label": t("session.questionnaireFor", { name: name(p) }) }, t("session.questionnaire")));
    }),
  );
  const canRegister = dev.canWrite(id, s.view.project, "participant");
  // Direct identifiers go to a contact record of their own; a role that may write one but is
  // never sent any (a peer worker) keeps it only until the server has it.
  const canContact = dev.canWrite(id, s.view.project, "contact");
  // Every field of the participant and contact records, as on the people screens.
  const regOpts = { contact: canContact, contactHint: contactHintFor(id, s.view.project) };
  const reg = h(
    "form",
    { novalidate: true, "aria-labelledby": "reg-h" },
    h("h2", { id: "reg-h" }, t("session.register")),
    personControls(regOpts),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("session.registerSubmit"))),
  );
  reg.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = readPerson(reg, regOpts);
    if (input.errors.length) return showErrors(reg, input.errors);
    const fields = registrationFields(input);
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
  const canEdit = dev.canWrite(id, s.view.project, "session");
  const canStory = dev.canWrite(id, s.view.project, "story");
  screen(
    sessionTitle(s.view, await dev.setup()),
    h("p", {}, end ? t("session.when", { start: show(s.view.s("start")), end: show(end) }) : t("session.whenOpen", { start: show(s.view.s("start")) })),
    more.length ? h("dl", { class: "details" }, more.map(([label, v]) => h("div", {}, h("dt", {}, label), h("dd", {}, v)))) : null,
    await conflictNotice(sid),
    canEdit || canStory
      ? h("div", { class: "actions" }, canEdit ? h("a", { href: `#/session/${sid}/edit`, class: "button secondary" }, t("sessionEdit.link")) : null, canStory ? h("a", { href: `#/story/new/${sid}`, class: "button secondary" }, t("session.writeStory")) : null)
      : null,
    h("h2", {}, t("session.attendance")),
    h("p", { class: "hint" }, t("session.attendanceHint")),
    msg,
    people.length ? h("form", { onsubmit: (e: Event) => e.preventDefault(), "aria-label": t("session.attendance") }, list) : h("p", {}, t("session.noParticipants")),
    canRegister ? reg : null,
  );
}
