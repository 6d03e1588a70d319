// The screens (hash routes): enrol, home, session (new, attendance), questionnaire, story, sync.
import { settingsScreen } from "./lock";
import * as dev from "../device";
import { nav } from "./common";
import { alreadyEnrolledScreen, enrolScreen } from "./enrol";
import { enrolLinkCode } from "../api";
import { homeScreen } from "./home";
import { newSessionScreen, sessionScreen } from "./session";
import { sessionEditScreen } from "./sessionedit";
import { wellbeingNewScreen, wellbeingScreen } from "./wellbeing";
import { newStoryScreen, storyScreen } from "./story";
import { syncScreen } from "./syncscreen";
import { peopleScreen, personFormScreen, personScreen } from "./participants";
export { refreshBadge } from "./common";

let routing: Promise<void> = Promise.resolve();
let requested = 0;

/** Draws the screen the address asks for. Calls run one after another and only the newest one
 * still waiting draws: a screen started before the address changed (the home screen redrawn after
 * a sync while the user opens another) can never be drawn over the one asked for last. */
export function route(): Promise<void> {
  const n = ++requested;
  const next = routing.catch(() => undefined).then(() => (n === requested ? draw() : undefined));
  routing = next;
  return next;
}

async function draw(): Promise<void> {
  const [path = "", search = ""] = location.hash.replace(/^#\/?/, "").split("?", 2);
  const parts = path.split("/").filter(Boolean);
  // A screen's options after "?" (a questionnaire's timepoint: `#/wellbeing/new/<pid>?timepoint=end`).
  const query = new URLSearchParams(search);
  const id = await dev.identity();
  if (!id && parts[0] !== "enrol") return nav("#/enrol");
  document.querySelectorAll("header nav a").forEach((a) => a.removeAttribute("aria-current"));
  switch (parts[0]) {
    case "enrol":
      // An enrolment link opened on an enrolled device says so (enrol.ts).
      if (id && enrolLinkCode(location.hash) !== undefined) return alreadyEnrolledScreen(id.user.username);
      return id ? nav("#/") : enrolScreen();
    case "session":
      if (parts[2] === "edit") return sessionEditScreen(parts[1] ?? "");
      return parts[1] === "new" ? newSessionScreen() : sessionScreen(parts[1] ?? "");
    case "wellbeing":
      return parts[1] === "new" ? wellbeingNewScreen(parts[2] ?? "", parts[3], query.get("timepoint") ?? undefined) : wellbeingScreen(parts[1] ?? "");
    case "people":
      document.querySelector('header nav a[href="#/people"]')?.setAttribute("aria-current", "page");
      return peopleScreen();
    case "person":
      document.querySelector('header nav a[href="#/people"]')?.setAttribute("aria-current", "page");
      if (parts[1] === "new") return personFormScreen();
      return parts[2] === "edit" ? personFormScreen(parts[1] ?? "") : personScreen(parts[1] ?? "");
    case "story":
      return parts[1] === "new" ? newStoryScreen(parts[2]) : storyScreen(parts[1] ?? "");
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
