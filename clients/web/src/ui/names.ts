// Sessions as people know them: the names the project's set-up gives its sites and activities
// ("Heritage crafts · Village hall"), falling back to the slug a session holds when the set-up
// does not list it (a site typed in by hand, or a set-up not synced yet).
import type { ProjectSetup, Setup } from "../protocol";
import type { View } from "../records";
import { formatDateTime } from "../i18n/format";

/** The set-up of a session's project, if the device holds one. */
export function projectSetup(setup: Setup | undefined, project: string): ProjectSetup | undefined {
  return setup?.projects?.find((p) => p.project === project);
}

/** A site's name in a project's set-up, else its slug. */
export function siteName(setup: Setup | undefined, project: string, slug: string | undefined): string {
  if (!slug) return "";
  return projectSetup(setup, project)?.sites?.find((s) => s.slug === slug)?.name || slug;
}

/** An activity's name in a project's set-up, else its slug. */
export function activityName(setup: Setup | undefined, project: string, slug: string | undefined): string {
  if (!slug) return "";
  return projectSetup(setup, project)?.activities?.find((a) => a.slug === slug)?.name || slug;
}

/** A session's title: its activity's and site's names ("Heritage crafts · Village hall"). */
export function sessionTitle(view: View, setup: Setup | undefined): string {
  const activity = activityName(setup, view.project, view.s("activity"));
  const site = siteName(setup, view.project, view.s("site"));
  return [activity, site].filter(Boolean).join(" · ");
}

/** A session for a list or picker: its title and when it starts, in UK time. */
export function sessionLabel(view: View, setup: Setup | undefined): string {
  const start = formatDateTime(view.s("start"));
  const title = sessionTitle(view, setup);
  return start ? `${title} · ${start}` : title;
}
