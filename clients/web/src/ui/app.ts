// The screens (hash routes): enrol, home, session (new, attendance), questionnaire, story, sync.
import { settingsScreen } from "./lock";
import * as dev from "../device";
import { nav } from "./common";
import { enrolScreen } from "./enrol";
import { homeScreen } from "./home";
import { newSessionScreen, sessionScreen } from "./session";
import { wellbeingNewScreen, wellbeingScreen } from "./wellbeing";
import { newStoryScreen, storyScreen } from "./story";
import { syncScreen } from "./syncscreen";
export { refreshBadge } from "./common";

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
