import assert from "node:assert/strict";
import { test } from "node:test";
import { encode } from "../src/cbor";
import { responseFromCbor } from "../src/protocol";
import { canReceive, canWrite, membershipsFrom, notAllowedError, RECEIVES, receives, writableProjects, WRITES, writes } from "../src/roles";
import type { Identity } from "../src/store";

const identity = (memberships: { project: string; role: string }[]): Identity => ({
  server: "https://bothy.example.org",
  deviceId: "d",
  deviceToken: "t",
  actor: "00",
  user: { id: "u", username: "ruth" },
  memberships,
});

test("a peer worker records participants and sessions, not questionnaires or stories", () => {
  const ruth = identity([{ project: "highland-heritage", role: "peer_worker" }]);
  assert.equal(canWrite(ruth, "highland-heritage", "participant"), true);
  assert.equal(canWrite(ruth, "highland-heritage", "session"), true);
  assert.equal(canWrite(ruth, "highland-heritage", "wellbeing"), false);
  assert.equal(canWrite(ruth, "highland-heritage", "story"), false);
  assert.equal(canWrite(ruth, "elsewhere", "participant"), false);
  assert.deepEqual(notAllowedError(ruth, "highland-heritage", "wellbeing"), {
    field: "project",
    code: "not_allowed",
    params: { project: "highland-heritage", role: "peer_worker", kinds: "wellbeing" },
  });
  assert.equal(notAllowedError(ruth, "elsewhere", "story").code, "not_member");
  const ana = identity([{ project: "highland-heritage", role: "analyst" }]);
  assert.deepEqual(writableProjects(ana), []);
  for (const kind of ["participant", "session", "wellbeing", "story"] as const) assert.equal(canWrite(ana, "highland-heritage", kind), false);
});

test("a peer worker may register contact details but is never sent any; an analyst neither", () => {
  const ruth = identity([
    { project: "highland-heritage", role: "peer_worker" },
    { project: "island-voices", role: "researcher" },
  ]);
  assert.equal(canWrite(ruth, "highland-heritage", "contact"), true);
  assert.equal(canReceive(ruth, "highland-heritage", "contact"), false);
  assert.equal(canReceive(ruth, "highland-heritage", "participant"), true);
  assert.equal(canReceive(ruth, "highland-heritage", "story"), false);
  assert.equal(canReceive(ruth, "island-voices", "contact"), true);
  assert.equal(canReceive(ruth, "elsewhere", "participant"), false);
  for (const kind of ["participant", "contact", "session", "wellbeing", "story"]) {
    assert.equal(receives("analyst", kind), false, kind);
    assert.equal(writes("analyst", kind), false, kind);
    assert.equal(receives(undefined, kind), false, kind);
    assert.equal(receives("toString", kind), false, "an unknown role is sent nothing");
  }
  // Every role is sent only what it may write.
  for (const [role, kinds] of Object.entries(RECEIVES)) for (const kind of kinds) assert.ok(WRITES[role]!.includes(kind), `${role} ${kind}`);
});

test("the roles in a sync answer's set-up become the memberships", () => {
  const cbor = encode({ cursor: { seq: 1 }, more: false, server_time: 1, setup: { version: "abc", roles: { "b-project": "peer_worker", "a-project": "researcher" } } });
  const answer = responseFromCbor(cbor);
  assert.deepEqual(answer.setup?.roles, { "a-project": "researcher", "b-project": "peer_worker" });
  assert.deepEqual(membershipsFrom(answer.setup!.roles!), [
    { project: "a-project", role: "researcher" },
    { project: "b-project", role: "peer_worker" },
  ]);
  const older = responseFromCbor(encode({ cursor: { seq: 1 }, more: false, server_time: 1, setup: { version: "abc" } }));
  assert.equal(older.setup?.roles, undefined, "an older server's set-up carries no roles: the app keeps its own");
  assert.throws(() => responseFromCbor(encode({ cursor: { seq: 1 }, more: false, server_time: 1, setup: { version: "abc", roles: { p: 7 } } })), /setup.roles/);
});
