// Enrolment after a lost answer: the web app sends the same enrolment id when the same code is
// tried again, so the server returns the same device instead of "already used".
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, enrol, enrolLinkCode, normaliseCode, parseEnrolPayload, pendingEnrolmentId } from "../src/api";
import { cameraProblem } from "../src/scan";

class MemoryStorage {
  items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  key(i: number) {
    return [...this.items.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.items.delete(k);
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
}

const SERVER = "https://bothy.example.org";

test("the same code keeps its enrolment id; another code gets a new one", () => {
  const storage = new MemoryStorage();
  const first = pendingEnrolmentId(SERVER, "abcde-fghjk", storage);
  assert.ok(first.length >= 16);
  assert.equal(pendingEnrolmentId(SERVER, " ABCDE FGHJK ", storage), first);
  assert.equal(normaliseCode("abcde-fghjk"), "ABCDEFGHJK");
  assert.notEqual(pendingEnrolmentId(SERVER, "ZZZZZ-ZZZZZ", storage), first);
  assert.notEqual(pendingEnrolmentId("https://other.example.org", "ZZZZZ-ZZZZZ", storage), first);
});

test("a lost answer is retried with the same id; a refusal or success forgets it", async () => {
  const storage = new MemoryStorage();
  const sent: Record<string, unknown>[] = [];
  const answers: (() => Response)[] = [
    () => {
      throw new TypeError("network error");
    },
    () =>
      new Response(
        JSON.stringify({ device_id: "d1", device_token: "bd1_x", actor: "aa", user: { id: "u", username: "rory" }, memberships: [] }),
        { status: 201, headers: { "Content-Type": "application/json" } },
      ),
    () =>
      new Response(JSON.stringify({ error: { code: "unauthorized", message: "enrolment code has already been used by another device" } }), {
        status: 401,
        headers: { "Content-Type": "application/json" },
      }),
  ];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (_url: string, init: RequestInit) => {
    sent.push(JSON.parse(String(init.body)));
    return answers.shift()!();
  }) as typeof fetch;
  try {
    await assert.rejects(enrol(SERVER, "abcde-fghjk", "phone", storage as unknown as Storage), (e) => e instanceof ApiError && e.code === "network");
    const identity = await enrol(SERVER, "ABCDE-FGHJK", "phone", storage as unknown as Storage);
    assert.equal(identity.deviceId, "d1");
    assert.equal(sent.length, 2);
    assert.equal(typeof sent[0].enrolment_id, "string");
    assert.equal(sent[1].enrolment_id, sent[0].enrolment_id);
    assert.equal(storage.length, 0, "forgotten once enrolled");
    await assert.rejects(enrol(SERVER, "abcde-fghjk", "phone", storage as unknown as Storage), (e) => e instanceof ApiError && e.status === 401);
    assert.notEqual(sent[2].enrolment_id, sent[0].enrolment_id);
    assert.equal(storage.length, 0, "forgotten once refused");
  } finally {
    globalThis.fetch = realFetch;
  }
});

test("an enrolment QR code's link gives the server and the code", () => {
  assert.deepEqual(parseEnrolPayload("https://bothy.example.org/app/#/enrol?code=TC7ED-GGU3T"), { server: "https://bothy.example.org", code: "TC7ED-GGU3T" });
  assert.deepEqual(parseEnrolPayload("  http://127.0.0.1:8080/app/#/enrol?code=ABCDE-FGHJK\n"), { server: "http://127.0.0.1:8080", code: "ABCDE-FGHJK" });
  // A server under a path; a code that needs encoding (`+` is not a space); parameters a later
  // version may add; a `server` in the fragment does not move the link's own server.
  assert.deepEqual(parseEnrolPayload("https://example.org/bothy/app/#/enrol?v=2&server=https://evil.example&code=A%26B%3DC%23D%2BE+F%C3%A9"), {
    server: "https://example.org/bothy",
    code: "A&B=C#D+E+F\u00e9",
  });
  // A link that lacks the code, or holds it badly encoded: an enrolment link without a code.
  assert.deepEqual(parseEnrolPayload("https://bothy.example.org/app/#/enrol?code="), { server: "https://bothy.example.org" });
  assert.deepEqual(parseEnrolPayload("https://bothy.example.org/app/#/enrol?code=%G1"), { server: "https://bothy.example.org" });
});

test("the older bothy-enrol: payload is still read", () => {
  assert.deepEqual(parseEnrolPayload("bothy-enrol:?server=https://bothy.example.org:8443/a?b%3Dc%26d&code=TC7ED-GGU3T"), {
    server: "https://bothy.example.org:8443/a?b=c&d",
    code: "TC7ED-GGU3T",
  });
  assert.deepEqual(parseEnrolPayload("BOTHY-ENROL:?code=X%2BY"), { code: "X+Y" });
  assert.deepEqual(parseEnrolPayload("bothy-enrol:"), {});
});

test("other text is not an enrolment payload", () => {
  for (const text of ["TC7ED-GGU3T", "", "https://example.org", "https://example.org/app/", "https://example.org/app/#/home", "ftp://example.org/app/#/enrol?code=X", "https://a.example/x#y/app/#/enrol?code=X", "javascript:alert(1)//app/#/enrol?code=X"]) {
    assert.equal(parseEnrolPayload(text), undefined, text);
  }
});

test("the code an enrolment link's fragment carries", () => {
  assert.equal(enrolLinkCode("#/enrol?code=TC7ED-GGU3T"), "TC7ED-GGU3T");
  assert.equal(enrolLinkCode("#enrol?x=1&code=A%2BB"), "A+B");
  assert.equal(enrolLinkCode("#/enrol?code="), undefined);
  assert.equal(enrolLinkCode("#/enrol?code=%G1"), undefined);
  assert.equal(enrolLinkCode("#/enrol"), undefined);
  assert.equal(enrolLinkCode("#/"), undefined);
  assert.equal(enrolLinkCode("#/home?code=X"), undefined);
});

test("a camera that cannot be used is told apart: none, not allowed, or another failure", () => {
  const err = (name: string) => Object.assign(new Error(name), { name });
  assert.equal(cameraProblem(err("NotAllowedError")), "denied");
  assert.equal(cameraProblem(err("SecurityError")), "denied");
  assert.equal(cameraProblem(err("NotFoundError")), "noCamera");
  assert.equal(cameraProblem(err("OverconstrainedError")), "noCamera");
  assert.equal(cameraProblem(err("NotReadableError")), "failed");
  assert.equal(cameraProblem(undefined), "failed");
});
