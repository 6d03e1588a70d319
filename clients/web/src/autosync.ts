// When the app syncs by itself: at start once the store is open and the device enrolled, a few
// seconds after the last change made on this device, every two minutes, when the browser says it
// is back online, and when the user comes back to the app. Never two syncs at once: a sync asked
// for while one runs runs once more after it. A failure that may pass (no connection, a server
// busy or down) is retried after a delay that doubles up to five minutes; until then only a
// "back online" event or the Sync button tries sooner, so a dead link is not hammered.
// `navigator.onLine` is only a hint: the app tries anyway, and a failed sync is the truth.
//
// The policy is a class with its clock and timers injected, so the tests drive it by hand.

/** Why a sync is asked for. */
export type Reason = "start" | "saved" | "timer" | "online" | "visible" | "retry" | "manual";

export type Phase = "idle" | "syncing" | "failed";

export interface AutoSyncState {
  phase: Phase;
  /** The last failure, while `phase` is `failed`. */
  error?: unknown;
  /** When the next try is due after a failure that may pass (ms since the epoch). */
  retryAt?: number;
}

export interface Timers {
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  now: () => number;
  random: () => number;
}

export interface AutoSyncOptions<R> {
  /** One sync; throws on failure (an error with `retry: true` may pass). */
  run: () => Promise<R>;
  /** Whether a sync may run now (the store is unlocked). When it may not, the request waits
   * for `resume()`. */
  canSync: () => boolean;
  /** Told of every change of state. */
  onState?: (s: AutoSyncState) => void;
  /** Adds up two results: a sync the user asks for while another runs gets both (the one
   * running, then one more). Without it, the later result. */
  combine?: (a: R, b: R) => R;
  /** Told after each sync that succeeded. */
  onSynced?: (r: R) => void;
  timers?: Partial<Timers>;
  /** Milliseconds after the last local change before it is sent (default 3 s). */
  debounceMs?: number;
  /** Milliseconds between syncs while nothing else asks for one (default 2 minutes). */
  periodMs?: number;
  /** The first delay before retrying a failure that may pass (default 2 s); it doubles each time. */
  firstRetryMs?: number;
  /** The longest delay between retries (default 5 minutes). */
  maxRetryMs?: number;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
  random: () => Math.random(),
};

/** Whether a failure may pass by itself (no connection, a server busy or down). */
export const retryable = (e: unknown): boolean => !!(e && typeof e === "object" && (e as { retry?: boolean }).retry);

/** The wait a failure's server asked for (`Retry-After`, in ms), or 0. */
const waitAsked = (e: unknown): number => {
  const ms = e && typeof e === "object" ? (e as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof ms === "number" && Number.isFinite(ms) && ms > 0 ? ms : 0;
};

interface Waiter<R> {
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  /** The result of the sync that was running when the user asked. */
  before?: R;
}

export class AutoSync<R> {
  private readonly timers: Timers;
  private readonly debounceMs: number;
  private readonly periodMs: number;
  private readonly firstRetryMs: number;
  private readonly maxRetryMs: number;
  private state: AutoSyncState = { phase: "idle" };
  private running: Promise<void> | undefined;
  private again = false;
  /** A request during the sync running that a failure does not cancel (back online, the user's). */
  private urgent = false;
  private waiting = false;
  private stopped = true;
  private retryDelay: number;
  private retryTimer: unknown;
  private debounceTimer: unknown;
  private periodTimer: unknown;
  private waiters: Waiter<R>[] = [];
  /** How many syncs ran (for tests and figures). */
  runs = 0;

  constructor(private readonly o: AutoSyncOptions<R>) {
    this.timers = { ...realTimers, ...(o.timers ?? {}) };
    this.debounceMs = o.debounceMs ?? 3000;
    this.periodMs = o.periodMs ?? 2 * 60 * 1000;
    this.firstRetryMs = o.firstRetryMs ?? 2000;
    this.maxRetryMs = o.maxRetryMs ?? 5 * 60 * 1000;
    this.retryDelay = this.firstRetryMs;
  }

  get current(): AutoSyncState {
    return this.state;
  }

  /** Whether it syncs by itself (started, and not stopped since). */
  get active(): boolean {
    return !this.stopped;
  }

  /** Whether a sync is running now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Starts syncing by itself (the store is open): a sync now, then the timer. Also called when
   * the store is unlocked again; a request that waited for it runs then. */
  start(): void {
    this.stopped = false;
    this.waiting = false;
    this.request("start");
  }

  /** Stops the timers (the app locked, or the device was wiped); a sync running finishes. */
  stop(): void {
    this.stopped = true;
    for (const t of [this.retryTimer, this.debounceTimer, this.periodTimer]) if (t !== undefined) this.timers.clearTimeout(t);
    this.retryTimer = this.debounceTimer = this.periodTimer = undefined;
  }

  /** A change was saved on this device: it is sent once no other change has followed for a few
   * seconds. */
  changed(): void {
    if (this.debounceTimer !== undefined) this.timers.clearTimeout(this.debounceTimer);
    this.debounceTimer = this.timers.setTimeout(() => {
      this.debounceTimer = undefined;
      this.request("saved");
    }, this.debounceMs);
  }

  /** Asks for a sync. While waiting to retry a failure, only `online`, `manual` and `start` try
   * sooner; the others wait for the retry. */
  request(reason: Reason): void {
    if (this.stopped && reason !== "manual") return;
    if (!this.o.canSync()) {
      this.waiting = true;
      return;
    }
    if (this.retryTimer !== undefined && !["online", "manual", "start", "retry"].includes(reason)) return;
    if (reason === "online") this.retryDelay = this.firstRetryMs;
    if (this.running) {
      this.again = true;
      this.urgent ||= reason === "online" || reason === "manual";
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      this.schedulePeriod();
    });
  }

  /** A sync the user asked for: runs now, or once more right after the one running; resolves
   * with its result or rejects with its error. */
  now(): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.request("manual");
      if (!this.o.canSync()) this.flushWaiters(new Error("the app is locked"));
    });
  }

  private flushWaiters(e: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  private setState(s: AutoSyncState): void {
    this.state = s;
    this.o.onState?.(s);
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      this.urgent = false;
      const waiters = this.waiters.splice(0);
      if (this.retryTimer !== undefined) this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.setState({ phase: "syncing" });
      this.runs++;
      try {
        const r = await this.o.run();
        this.retryDelay = this.firstRetryMs;
        this.setState({ phase: "idle" });
        this.o.onSynced?.(r);
        for (const w of waiters) w.resolve(w.before !== undefined && this.o.combine ? this.o.combine(w.before, r) : r);
        // Those who asked while this ran get its result with the next one's.
        for (const w of this.waiters) w.before = w.before !== undefined && this.o.combine ? this.o.combine(w.before, r) : r;
      } catch (e) {
        for (const w of waiters) w.reject(e);
        if (retryable(e) && !this.stopped) {
          // Never sooner than the server asked (a busy server says when to come back).
          const delay = Math.max(this.retryDelay * (0.5 + this.timers.random()), waitAsked(e));
          this.retryDelay = Math.min(this.retryDelay * 2, this.maxRetryMs);
          this.retryTimer = this.timers.setTimeout(() => {
            this.retryTimer = undefined;
            this.request("retry");
          }, delay);
          this.setState({ phase: "failed", error: e, retryAt: this.timers.now() + delay });
        } else {
          this.setState({ phase: "failed", error: e });
        }
        // A failed sync is not tried again at once for requests made while it ran (the retry
        // covers them), only for the user's own and for a connection that came back.
        this.again = this.urgent || this.waiters.length > 0;
      }
      if (!this.o.canSync()) {
        this.waiting ||= this.again;
        this.flushWaiters(new Error("the app is locked"));
        break;
      }
    } while (this.again);
  }

  private schedulePeriod(): void {
    if (this.periodTimer !== undefined) this.timers.clearTimeout(this.periodTimer);
    this.periodTimer = undefined;
    if (this.stopped) return;
    this.periodTimer = this.timers.setTimeout(() => {
      this.periodTimer = undefined;
      this.request("timer");
      // Skipped (waiting for a retry, or locked): the next period still comes.
      if (!this.running) this.schedulePeriod();
    }, this.periodMs);
  }
}
