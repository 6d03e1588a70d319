// A new version of the app: offered once its service worker is installed and waiting, only to a
// page an older version controls; the page reloads only when the user asks, and only once the
// new worker has taken over.
import assert from "node:assert/strict";
import { test } from "node:test";
import { watchForUpdates, type Registration } from "../src/ui/update";

class Worker {
  state = "installing";
  messages: unknown[] = [];
  private listeners: (() => void)[] = [];
  addEventListener(_: string, fn: () => void) {
    this.listeners.push(fn);
  }
  postMessage(m: unknown) {
    this.messages.push(m);
  }
  become(state: string) {
    this.state = state;
    for (const fn of this.listeners) fn();
  }
}

function setUp(controlled: boolean) {
  const found: (() => void)[] = [];
  const reg = { waiting: null, installing: null, updates: 0, addEventListener: (_: string, fn: () => void) => found.push(fn), update: async () => void reg.updates++ } as unknown as Registration & { updates: number; waiting: Worker | null; installing: Worker | null };
  const seen = { shown: 0, reloads: 0, click: undefined as undefined | (() => void), takeOver: undefined as undefined | (() => void) };
  const watcher = watchForUpdates(reg, {
    controlled: () => controlled,
    show: (reload) => {
      seen.shown++;
      seen.click = reload;
    },
    onControllerChange: (fn) => (seen.takeOver = fn),
    reload: () => seen.reloads++,
  });
  const newVersion = () => {
    const w = new Worker();
    reg.installing = w;
    for (const fn of found) fn();
    return w;
  };
  return { reg, seen, watcher, newVersion };
}

test("a new version waiting is offered; Reload makes it take over, then reloads", () => {
  const { reg, seen, newVersion } = setUp(true);
  const w = newVersion();
  assert.equal(seen.shown, 0, "not offered while it installs");
  reg.waiting = w;
  reg.installing = null;
  w.become("installed");
  assert.equal(seen.shown, 1);
  assert.equal(seen.reloads, 0, "never reloads by itself");
  seen.click!();
  assert.deepEqual(w.messages, [{ type: "skipWaiting" }]);
  assert.equal(seen.reloads, 0, "not before the new worker controls the page");
  seen.takeOver!();
  assert.equal(seen.reloads, 1);
  seen.click!();
  assert.deepEqual(w.messages, [{ type: "skipWaiting" }], "asked once");
});

test("the first install is no update; coming back checks for one", async () => {
  const { reg, seen, watcher, newVersion } = setUp(false);
  const w = newVersion();
  reg.waiting = w;
  w.become("installed");
  assert.equal(seen.shown, 0);
  watcher.check();
  await Promise.resolve();
  assert.equal(reg.updates, 1);
});
