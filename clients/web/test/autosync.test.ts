// The automatic sync's policy, on a fake clock: a sync at start, one a few seconds after the last
// local change, one every period, never two at once (a request during a sync runs one more
// after it), back-off on failures that may pass without hammering, nothing while locked. And
// the status line's words for each state.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AutoSync, type AutoSyncState, type Timers } from "../src/autosync";
import { statusView, whenText } from "../src/ui/status";

(globalThis as unknown as { navigator: unknown }).navigator ??= { onLine: true };

class Clock implements Timers {
  t = 0;
  private next = 1;
  private pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (id: unknown) => void this.pending.delete(id as number);
  now = () => this.t;
  random = () => 0.5;
  /** Moves time on, running each timer due in order, letting promises settle between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = [...this.pending.entries()].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
    await settle();
  }
  get timers(): number {
    return this.pending.size;
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

class Failure extends Error {
  constructor(
    public retry: boolean,
    public retryAfterMs?: number,
  ) {
    super(retry ? "network" : "refused");
  }
}

/** A server that answers after `latency` ms of the fake clock, or fails while `down`. */
function setUp(o: { latency?: number } = {}) {
  const clock = new Clock();
  const calls: number[] = [];
  const states: AutoSyncState[] = [];
  let running = 0;
  let most = 0;
  const server = { down: false as false | "retry" | "fatal" | "busy", unlocked: true };
  const auto = new AutoSync<number>({
    run: () =>
      new Promise<number>((resolve, reject) => {
        running++;
        most = Math.max(most, running);
        calls.push(clock.t);
        clock.setTimeout(() => {
          running--;
          if (server.down === "busy") reject(new Failure(true, 4000));
          else if (server.down) reject(new Failure(server.down === "retry"));
          else resolve(calls.length);
        }, o.latency ?? 100);
      }),
    canSync: () => server.unlocked,
    onState: (s) => states.push(s),
    combine: (a, b) => a * 100 + b,
    timers: clock,
  });
  return { clock, calls, states, auto, server, most: () => most };
}

test("a sync at start, one 3 s after the last of several changes, one every two minutes", async () => {
  const { clock, calls, auto } = setUp();
  auto.start();
  await clock.advance(1000);
  assert.deepEqual(calls, [0]);
  // Three saves a second apart: one sync, 3 s after the last.
  auto.changed();
  await clock.advance(1000);
  auto.changed();
  await clock.advance(1000);
  auto.changed();
  await clock.advance(2900);
  assert.equal(calls.length, 1);
  await clock.advance(200);
  assert.deepEqual(calls, [0, 6000]);
  // Nothing else asks: the timer does, two minutes after the last sync ended.
  await clock.advance(2 * 60 * 1000 + 100);
  assert.deepEqual(calls, [0, 6000, 6100 + 120_000]);
});

test("never two syncs at once: requests during a sync run one more after it", async () => {
  const { clock, calls, auto, most } = setUp({ latency: 5000 });
  auto.start();
  await clock.advance(100);
  auto.request("visible");
  auto.request("online");
  auto.request("saved");
  await clock.advance(4000);
  assert.equal(calls.length, 1, "no second sync while the first runs");
  await clock.advance(20_000);
  assert.deepEqual(calls, [0, 5000], "one more after it, not three");
  assert.equal(most(), 1);
});

test("the user's sync during another gets both results, and runs right after it", async () => {
  const { clock, auto } = setUp({ latency: 1000 });
  auto.start();
  await clock.advance(100);
  const asked = auto.now();
  await clock.advance(3000);
  assert.equal(await asked, 1 * 100 + 2);
});

test("failures that may pass back off, doubling, and other requests wait for the retry", async () => {
  const { clock, calls, auto, server, states } = setUp({ latency: 10 });
  server.down = "retry";
  auto.start();
  await clock.advance(10);
  assert.equal(states.at(-1)?.phase, "failed");
  assert.equal(states.at(-1)?.retryAt, 10 + 2000);
  // Saves and coming back to the app during the back-off do not hammer the server.
  auto.changed();
  auto.request("visible");
  await clock.advance(1900);
  assert.deepEqual(calls, [0]);
  await clock.advance(100);
  assert.deepEqual(calls, [0, 2010]);
  await clock.advance(4010);
  assert.deepEqual(calls, [0, 2010, 6020]);
  await clock.advance(8010);
  assert.deepEqual(calls, [0, 2010, 6020, 14030]);
  // Back online during a sync that then fails: tried again at once.
  auto.request("online");
  await clock.advance(10);
  assert.equal(calls.length, 5);
  server.down = false;
  await clock.advance(10);
  assert.equal(calls.length, 5);
  assert.equal(states.at(-1)?.phase, "idle");
  // The delay never passes five minutes.
  server.down = "retry";
  auto.request("manual");
  for (let i = 0; i < 12; i++) await clock.advance(5 * 60 * 1000 + 100);
  const gaps = calls.slice(5).map((t, i, a) => (i ? t - a[i - 1]! : 0)).slice(1);
  assert.ok(gaps.length >= 8, `retries: ${gaps}`);
  assert.ok(gaps.every((g) => g <= 5 * 60 * 1000 + 10), `gaps: ${gaps}`);
});

test("a busy server's Retry-After is waited out, never less", async () => {
  const { clock, calls, auto, server, states } = setUp({ latency: 10 });
  server.down = "busy";
  auto.start();
  await clock.advance(10);
  // The back-off would try again after 2 s; the server asked for 4 s.
  assert.equal(states.at(-1)?.retryAt, 10 + 4000);
  auto.request("saved");
  await clock.advance(3900);
  assert.deepEqual(calls, [0]);
  server.down = false;
  await clock.advance(100);
  assert.deepEqual(calls, [0, 4010]);
  await clock.advance(10);
  assert.equal(states.at(-1)?.phase, "idle");
});

test("a failure that will not pass is not retried by itself, and the user's sync is told", async () => {
  const { clock, calls, auto, server, states } = setUp({ latency: 10 });
  auto.start();
  await clock.advance(10);
  server.down = "fatal";
  const asked = auto.now();
  await clock.advance(10);
  await assert.rejects(asked, /refused/);
  assert.equal(states.at(-1)?.phase, "failed");
  assert.equal(states.at(-1)?.retryAt, undefined);
  await clock.advance(60_000);
  assert.equal(calls.length, 2, "no retry of a refusal within the period");
});

test("nothing while locked; the request waits for the PIN", async () => {
  const { clock, calls, auto, server } = setUp();
  server.unlocked = false;
  auto.start();
  auto.changed();
  await clock.advance(10 * 60 * 1000);
  assert.deepEqual(calls, []);
  server.unlocked = true;
  auto.start();
  await clock.advance(200);
  assert.equal(calls.length, 1);
  await assert.rejects(
    (() => {
      server.unlocked = false;
      return auto.now();
    })(),
    /locked/,
  );
});

test("stopped (wiped), no timers are left", async () => {
  const { clock, auto } = setUp();
  auto.start();
  await clock.advance(500);
  auto.changed();
  auto.stop();
  assert.equal(clock.timers, 0);
});

test("the status line says where things stand", () => {
  // December: London time is UTC, whatever the zone the tests run in.
  const now = new Date(Date.UTC(2026, 11, 5, 15, 30));
  const at = (h: number, m: number, day = 5) => Math.floor(Date.UTC(2026, 11, day, h, m) / 1000);
  const base = { unsynced: 0, conflicts: 0, online: true, syncedSinceStart: true, now };
  const idle: AutoSyncState = { phase: "idle" };
  assert.equal(statusView({ ...base, state: { phase: "syncing" }, unsynced: 3 }).text, "Syncing…");
  assert.equal(statusView({ ...base, state: idle, lastSync: at(14, 2) }).text, "All synced · last sync 14:02");
  assert.equal(statusView({ ...base, state: idle, unsynced: 3, lastSync: at(14, 2) }).text, "3 not yet synced · last sync 14:02");
  assert.equal(statusView({ ...base, state: idle, unsynced: 3, lastSync: at(9, 5, 3) }).text, "3 not yet synced · last sync 3 Dec, 09:05");
  assert.equal(statusView({ ...base, state: idle, unsynced: 2 }).text, "2 not yet synced · never synced");
  const network = Object.assign(new Error("fetch failed"), { code: "network", status: 0, retry: true });
  (globalThis as unknown as { navigator: { onLine: boolean } }).navigator.onLine = false;
  assert.equal(statusView({ ...base, state: { phase: "failed", error: network, retryAt: 1 }, unsynced: 3, online: false }).text, "Offline · 3 not yet synced");
  assert.equal(statusView({ ...base, state: idle, unsynced: 3, online: false, syncedSinceStart: false }).kind, "offline");
  (globalThis as unknown as { navigator: { onLine: boolean } }).navigator.onLine = true;
  assert.equal(
    statusView({ ...base, state: { phase: "failed", error: network, retryAt: 1 }, unsynced: 3 }).text,
    "Sync failed: the server could not be reached · will retry",
  );
  const revoked = Object.assign(new Error("revoked"), { code: "unauthorized", status: 401, retry: false });
  assert.equal(statusView({ ...base, state: { phase: "failed", error: revoked } }).text, "Sync failed: this device may no longer sync; ask a coordinator");
  assert.equal(statusView({ ...base, state: idle, conflicts: 2, lastSync: at(14, 2) }).conflicts, "2 conflicts to resolve");
  assert.equal(statusView({ ...base, state: idle, conflicts: 1, lastSync: at(14, 2) }).conflicts, "1 conflict to resolve");
  assert.equal(whenText(at(23, 59, 4), now), "4 Dec, 23:59");
  // In UK time: 23:30 UTC on 1 July is already 2 July in London (00:30 BST), and a year ago
  // carries its year.
  const summer = new Date(Date.UTC(2026, 6, 2, 9, 0));
  assert.equal(whenText(Date.UTC(2026, 6, 1, 23, 30) / 1000, summer), "00:30");
  assert.equal(whenText(Date.UTC(2026, 6, 1, 22, 30) / 1000, summer), "1 Jul, 23:30");
  assert.equal(whenText(Date.UTC(2025, 6, 1, 22, 30) / 1000, summer), "1 Jul 2025, 23:30");
});
