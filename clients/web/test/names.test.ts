import assert from "node:assert/strict";
import { before, test } from "node:test";
import { createRecord, view } from "../src/records";
import type { Setup } from "../src/protocol";
import { activityName, sessionLabel, sessionTitle, siteName } from "../src/ui/names";
import { initAutomerge } from "./wasm";

before(initAutomerge);

const ACTOR = "daf70e345b69069ce9a5865db6e60aee";
const session = (site: string, activity: string) =>
  view(
    createRecord(ACTOR, "session", "loch-maree", [
      ["site", site],
      ["activity", activity],
      ["activity_type", "heritage"],
      ["start", "2026-06-15T09:00:00Z"],
      ["facilitators.isla", true],
    ], 1795645050),
  )!;
const setup: Setup = {
  version: "1",
  projects: [
    { project: "loch-maree", sites: [{ slug: "hall", name: "Village hall" }], activities: [{ slug: "crafts", name: "Heritage crafts", activity_type: "heritage", site: "hall" }] },
    { project: "other", sites: [{ slug: "shore", name: "The shore" }] },
  ],
} as Setup;

test("a session is named by its activity's and site's names from the set-up", () => {
  assert.equal(sessionTitle(session("hall", "crafts"), setup), "Heritage crafts · Village hall");
  // With its start, in UK time (09:00 UTC is 10:00 BST).
  assert.equal(sessionLabel(session("hall", "crafts"), setup), "Heritage crafts · Village hall · 15 Jun 2026, 10:00");
});

test("a slug the set-up does not list, or another project's, is shown as it is", () => {
  assert.equal(sessionTitle(session("shore", "weaving"), setup), "weaving · shore");
  assert.equal(sessionTitle(session("hall", "crafts"), undefined), "crafts · hall");
  assert.equal(siteName(setup, "loch-maree", undefined), "");
  assert.equal(activityName(setup, "other", "crafts"), "crafts");
});
