// Editing a session after it was created: when it ended (UK time), its notes, how many came
// without registering, where it was, who ran it, and its site and activity (picked from the
// project's set-up when it lists them). Plain fields change in one edit; the notes, a text
// several devices may edit at once, as a text edit of their own.
import { t } from "../i18n";
import type { FieldError, FieldValue } from "../records";
import type { Editor } from "../records";
import { clearErrors, control, controlOf, errorText, h, showErrors, status, value } from "./dom";
import { labelOf, readField } from "./fields";
import { field as schemaField } from "../schema";
import * as dev from "../device";
import { sessionScreen } from "./session";
import { localDateTime, screen, fieldErrors, requireIdentity, conflictNotice } from "./common";
import { projectSetup, sessionTitle } from "./names";
import { ukLocalToUtc, ukLocalToMs } from "../time";

/** A picker of the project's sites or activities, keeping a value the set-up does not list (a
 * slug typed before the set-up arrived) as a choice of its own so nothing is lost; or a text
 * field when the project lists none. */
function pickerOpts(label: string, name: string, items: { slug: string; name: string }[], current: string | undefined) {
  if (!items.length) return { label, name, required: true, value: current ?? "" };
  const options: [string, string][] = items.map((x) => [x.slug, x.name]);
  if (current && !items.some((x) => x.slug === current)) options.unshift([current, t("sessionEdit.unlisted", { slug: current })]);
  return { label, name, required: true, value: current ?? "", options: current ? options : [["", t("common.choose")] as [string, string], ...options] };
}

export async function sessionEditScreen(sid: string): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const s = await dev.getRecord(sid);
  if (!s || s.view.kind !== "session") return screen(t("sessionEdit.title"), status(t("common.notFound"), "error"));
  if (!dev.canWrite(id, s.view.project, "session")) return screen(t("sessionEdit.title"), status(errorText(dev.notAllowedError(id, s.view.project, "session")), "error"));
  const setup = await dev.setup();
  const ps = projectSetup(setup, s.view.project);
  const sites = ps?.sites ?? [];
  const acts = ps?.activities ?? [];
  const v = s.view;
  const unregistered = schemaField("session", "unregistered_attendees");
  const start = v.s("start");
  const end = v.s("end");
  const form = h(
    "form",
    { novalidate: true },
    control(pickerOpts(t("session.site"), "site", sites, v.s("site"))),
    control(pickerOpts(t("session.activity"), "activity", acts, v.s("activity"))),
    control({ label: t("time.ukLabel", { label: t("session.start") }), name: "start", type: "datetime-local", required: true, value: start ? localDateTime(new Date(start)) : "" }),
    control({ label: t("time.ukLabel", { label: t("session.end") }), name: "end", type: "datetime-local", value: end ? localDateTime(new Date(end)) : "" }),
    unregistered
      ? control({ label: labelOf("session", unregistered), name: "unregistered_attendees", type: "number", value: String(v.i("unregistered_attendees") ?? ""), hint: t("sessionEdit.unregisteredHint"), attrs: { inputmode: "numeric", min: 0, step: 1 } })
      : null,
    control({ label: t("session.location"), name: "location", value: v.s("location") ?? "" }),
    control({ label: t("session.facilitators"), name: "facilitators", hint: t("session.facilitatorsHint"), required: true, value: v.set("facilitators").join(", ") }),
    control({ label: t("sessionEdit.notes"), name: "notes", type: "textarea", value: v.text("notes"), hint: t("sessionEdit.notesHint"), attrs: { rows: 5 } }),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, t("sessionEdit.save")),
      h("a", { href: `#/session/${sid}`, class: "button secondary" }, t("sessionEdit.back")),
    ),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const errs: FieldError[] = [];
    const sets: [string, FieldValue][] = [];
    const clears: string[] = [];
    for (const n of ["site", "activity"]) {
      const x = value(form, n);
      if (!x) errs.push({ field: n, code: "required" });
      else if (x !== v.s(n)) {
        const known = (n === "site" ? sites : acts).map((y) => y.slug);
        if (known.length && !known.includes(x)) errs.push({ field: n, code: "not_in_setup", params: { options: known.join(", ") } });
        else sets.push([n, x]);
      }
    }
    for (const n of ["start", "end"]) {
      const raw = value(form, n);
      if (!raw) {
        if (n === "start") errs.push({ field: n, code: "required" });
        else if (v.s(n) !== undefined) clears.push(n);
        continue;
      }
      if (ukLocalToMs(raw) === undefined) {
        errs.push({ field: n, code: "must_be_datetime" });
        continue;
      }
      const utc = ukLocalToUtc(raw);
      // Unchanged to the minute shown: keep the stored value (seconds and all) as it is.
      const was = v.s(n);
      if (!was || localDateTime(new Date(was)) !== raw) sets.push([n, utc]);
    }
    if (unregistered) {
      const read = readField(unregistered, value(form, "unregistered_attendees"));
      if (read.error) errs.push(read.error);
      else if (read.value === undefined) {
        if (v.i("unregistered_attendees") !== undefined) clears.push("unregistered_attendees");
      } else if (read.value !== v.i("unregistered_attendees")) sets.push(["unregistered_attendees", read.value]);
    }
    const location = value(form, "location");
    if (!location && v.s("location") !== undefined) clears.push("location");
    else if (location && location !== v.s("location")) sets.push(["location", location]);
    const wanted = value(form, "facilitators").split(",").map((x) => x.trim()).filter(Boolean);
    const had = v.set("facilitators");
    if (!wanted.length) errs.push({ field: "facilitators", code: "required" });
    if (errs.length) return showErrors(form, errs);
    const edits = (e: Editor) => {
      for (const [k, x] of sets) e.set(k, x);
      for (const k of clears) e.clear(k);
      for (const f of wanted) if (!had.includes(f)) e.add("facilitators", f);
      for (const f of had) if (!wanted.includes(f)) e.clear(`facilitators.${f}`);
    };
    const notes = controlOf(form, "notes")!.value;
    try {
      await dev.edit(sid, edits);
      if (notes !== v.text("notes")) await dev.editText(sid, "notes", notes);
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) return showErrors(form, fe, (p) => (p.startsWith("facilitators.") ? "facilitators" : p));
      throw e;
    }
    // Back on the session's screen, saying it was saved (the edit screen leaves the history).
    history.replaceState(null, "", `#/session/${sid}`);
    await sessionScreen(sid, t("sessionEdit.saved"));
  });
  screen(t("sessionEdit.title"), h("p", { class: "muted" }, sessionTitle(v, setup)), await conflictNotice(sid), form);
}
