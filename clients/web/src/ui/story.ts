// Stories: a new one (about a participant, from a session), and editing one's text.
import { t } from "../i18n";
import { type FieldValue } from "../records";
import { STORY_CONSENT_SCOPES } from "../schema";
import { controlOf, errorText, field, h, showErrors, status, value } from "./dom";
import * as dev from "../device";
import { sessionLabel } from "./names";
import { nav, screen, fieldErrors, requireIdentity, participantName, conflictNotice } from "./common";

/** The newest sessions first, for the story's session picker. */
const RECENT_SESSIONS = 30;

/** A "saved" message beside the form's button, focused so that it is seen and read out. */
function savedNote(text: string): HTMLElement {
  const note = status(text, "ok");
  note.setAttribute("tabindex", "-1");
  note.classList.add("saved");
  return note;
}

/** A new story; `fromSession` (opened from a session's screen) is picked as its session. */
export async function newStoryScreen(fromSession?: string): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const project = dev.defaultProject(id);
  if (!project) return nav("#/");
  if (!dev.canWrite(id, project, "story")) return screen(t("story.newTitle"), status(errorText(dev.notAllowedError(id, project, "story")), "error"));
  const all = await dev.listRecords();
  const names = dev.contactNamesIn(all);
  const people = all.filter((r) => r.view.kind === "participant" && r.view.project === project);
  const setup = await dev.setup();
  const start = (r: dev.Loaded) => r.view.s("start") ?? "";
  const sessions = all
    .filter((r) => r.view.kind === "session" && r.view.project === project)
    .sort((a, b) => start(b).localeCompare(start(a)))
    .filter((r, k) => k < RECENT_SESSIONS || r.id === fromSession);
  const form = h(
    "form",
    { novalidate: true },
    field({ label: t("story.titleField"), name: "title", required: true }),
    field({ label: t("story.consentScope"), name: "consent_scope", value: "private", required: true, options: STORY_CONSENT_SCOPES.map((s) => [s, t(`scope.${s}`)] as [string, string]) }),
    field({ label: t("story.session"), name: "session", value: sessions.some((r) => r.id === fromSession) ? fromSession : "", options: [["", t("story.sessionNone")], ...sessions.map((r) => [r.id, sessionLabel(r.view, setup)] as [string, string])] }),
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
    if (value(form, "session")) fields.push(["session", value(form, "session")]);
    const body = controlOf(form, "body")!.value;
    if (body) fields.push(["body", body]);
    for (const th of value(form, "themes").split(",").map((x) => x.trim()).filter(Boolean)) fields.push([`themes.${th}`, true]);
    try {
      const sid = await dev.createStory(project, fields);
      // The story's own screen, saying it was saved (the blank form leaves the history).
      history.replaceState(null, "", `#/story/${sid}`);
      await storyScreen(sid, t("story.created"));
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(form, fe, (p) => (p.startsWith("themes.") ? "themes" : p));
      else throw e;
    }
  });
  screen(t("story.newTitle"), form);
}

export async function storyScreen(sid: string, flash?: string): Promise<void> {
  const s = await dev.getRecord(sid);
  if (!s || s.view.kind !== "story") return screen(t("story.title"), status(t("common.notFound"), "error"));
  const note = flash ? savedNote(flash) : null;
  const msg = h("div", { "aria-live": "polite" }, note);
  const form = h(
    "form",
    { novalidate: true },
    field({ label: t("story.body"), name: "body", type: "textarea", value: s.view.text("body"), quiet: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("story.saveBody"))),
    msg,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await dev.editText(sid, "body", controlOf(form, "body")!.value);
      await storyScreen(sid, t("story.bodySaved"));
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(form, fe);
      else throw e;
    }
  });
  const themes = s.view.set("themes");
  const linked = s.view.s("session");
  const session = linked ? await dev.getRecord(linked) : undefined;
  const sessionLine = linked
    ? h("p", {}, t("story.linkedSession", { session: "" }), session?.view.kind === "session" ? h("a", { href: `#/session/${linked}` }, sessionLabel(session.view, await dev.setup())) : linked)
    : null;
  screen(
    s.view.s("title") ?? t("story.title"),
    h("p", { class: "muted" }, t("story.author", { author: s.view.s("author") ?? "" }), ` · ${t(`scope.${s.view.s("consent_scope")}`)}`, themes.length ? ` · ${themes.join(", ")}` : ""),
    sessionLine,
    await conflictNotice(sid),
    form,
  );
  note?.focus();
  // The browser's history and tab restore keep page titles on disk in clear: no story's title there.
  document.title = `${t("story.title")} · ${t("app.name")}`;
}
