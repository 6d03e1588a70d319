// Stories: a new one, and editing one's text.
import { t } from "../i18n";
import { type FieldValue } from "../records";
import { STORY_CONSENT_SCOPES } from "../schema";
import { controlOf, errorText, field, h, showErrors, status, value } from "./dom";
import * as dev from "../device";
import { nav, screen, fieldErrors, requireIdentity, participantName, conflictNotice } from "./common";

export async function newStoryScreen(): Promise<void> {
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

export async function storyScreen(sid: string, flash?: string): Promise<void> {
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
