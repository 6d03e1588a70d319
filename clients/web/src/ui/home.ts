// The home screen: today's and recent sessions, and stories.
import { t } from "../i18n";
import { write } from "../store";
import { field, h, status } from "./dom";
import * as dev from "../device";
import type { Setup } from "../protocol";
import { sessionTitle } from "./names";
import { localDate, show, screen, requireIdentity } from "./common";
import { dueSection } from "./followups";

function sessionItem(s: dev.Loaded, setup: Setup | undefined): HTMLElement {
  const present = Object.values(s.view.map("attendance")).filter((m) => m === "present").length;
  return h(
    "li",
    {},
    h(
      "a",
      { href: `#/session/${s.id}`, class: "card" },
      h("strong", {}, sessionTitle(s.view, setup)),
      h("span", {}, show(s.view.s("start"))),
      h("span", {}, t("home.attendees", { count: present }), s.unsynced ? ` · ${t("common.unsyncedMark")}` : ""),
    ),
  );
}

export async function homeScreen(): Promise<void> {
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
  const setup = await dev.setup();
  const item = (s: dev.Loaded) => sessionItem(s, setup);
  const todayList = sessions.filter(isToday);
  const recent = sessions.filter((s) => !isToday(s)).slice(0, 20);
  screen(
    t("home.title"),
    h("p", { class: "muted" }, t("home.signedIn", { user: id.user.username })),
    h("p", {}, h("a", { href: "#/sync", class: unsynced ? "badge warn" : "badge" }, unsynced ? t("home.unsynced", { count: unsynced }) : t("home.allSynced"))),
    project ? null : status(t("enrol.noProject"), "error"),
    h("form", { onsubmit: (e: Event) => e.preventDefault() }, projectPicker),
    h("div", { class: "actions" }, h("a", { href: "#/session/new", class: "button primary" }, t("home.newSession")), h("a", { href: "#/story/new", class: "button secondary" }, t("home.newStory"))),
    project ? await dueSection(all, project) : null,
    h("h2", {}, t("home.today")),
    todayList.length ? h("ul", { class: "cards" }, todayList.map(item)) : h("p", {}, t("home.noToday")),
    h("h2", {}, t("home.recent")),
    recent.length ? h("ul", { class: "cards" }, recent.map(item)) : h("p", {}, t("home.noRecent")),
    h("h2", {}, t("home.stories")),
    stories.length
      ? h("ul", { class: "cards" }, stories.map((s) => h("li", {}, h("a", { href: `#/story/${s.id}`, class: "card" }, h("strong", {}, s.view.s("title") ?? ""), h("span", {}, s.view.s("author") ?? "", s.unsynced ? ` · ${t("common.unsyncedMark")}` : "")))))
      : h("p", {}, t("home.noStories")),
  );
}
