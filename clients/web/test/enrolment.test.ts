// Enrolment after a lost answer: the web app sends the same enrolment id when the same code is
// tried again, so the server returns the same device instead of "already used".
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, enrol, normaliseCode, pendingEnrolmentId } from "../src/api";

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
