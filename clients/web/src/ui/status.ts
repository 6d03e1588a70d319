// The sync status line in the header, on every screen: "Syncing…", "All synced · last sync
// 14:02", "3 not yet synced · last sync 14:02", "Offline · 3 not yet synced", "Sync failed:
// <reason> · will retry", with a link to the conflicts to resolve when there are any. It is
// redrawn on every change of state; screen readers hear it (a polite live region) only when the
// kind of state changes, not each sync the timer makes nor each minute of the clock.
import type { AutoSyncState } from "../autosync";
import { t } from "../i18n";
import { formatWhen } from "../i18n/format";
import { syncErrorText } from "./syncscreen";

export type StatusKind = "syncing" | "synced" | "unsynced" | "offline" | "failed";

export interface StatusInput {
  state: AutoSyncState;
  /** Records not yet synced. */
  unsynced: number;
  /** The last sync that succeeded (Unix seconds), if any. */
  lastSync?: number;
  /** Records with conflicts to resolve. */
  conflicts: number;
  /** What the browser says (`navigator.onLine`): only a hint. */
  online: boolean;
  /** Whether a sync succeeded since the app started (then the link worked, whatever the
   * browser says). */
  syncedSinceStart: boolean;
  now?: Date;
}

export interface StatusView {
  kind: StatusKind;
  text: string;
  /** "2 conflicts to resolve", when there are any. */
  conflicts?: string;
}

const isNetwork = (e: unknown) => !!(e && typeof e === "object" && (e as { code?: string }).code === "network");

/** A time in UK time (whatever the phone's zone), with the day when it is not today, in the
 * app's language: "14:02", "4 Dec, 23:59". */
export function whenText(unixSeconds: number, now = new Date()): string {
  return formatWhen(unixSeconds * 1000, now);
}

/** What the status line says. */
export function statusView(i: StatusInput): StatusView {
  const conflicts = i.conflicts > 0 ? t("status.conflicts", { count: i.conflicts }) : undefined;
  const done = (kind: StatusKind, text: string): StatusView => ({ kind, text, ...(conflicts ? { conflicts } : {}) });
  const offline = () => done("offline", i.unsynced ? t("status.offline", { count: i.unsynced }) : t("status.offlineSynced"));
  const s = i.state;
  if (s.phase === "syncing") return done("syncing", t("status.syncing"));
  if (s.phase === "failed") {
    if (isNetwork(s.error) && !i.online) return offline();
    const reason = syncErrorText(s.error, { short: true });
    return done("failed", s.retryAt !== undefined ? t("status.failed", { reason }) : t("status.failedStop", { reason }));
  }
  if (!i.online && !i.syncedSinceStart) return offline();
  const when = i.lastSync ? whenText(i.lastSync, i.now) : undefined;
  if (i.unsynced === 0) return done("synced", when ? t("status.allSynced", { when }) : t("status.nothing"));
  return done("unsynced", when ? t("status.unsynced", { count: i.unsynced, when }) : t("status.unsyncedNever", { count: i.unsynced }));
}

/** Draws the status line in the header (`#sync-status`); announces it when its kind changed
 * (`#sync-announce`, a polite live region). */
export class StatusLine {
  private announced: string | undefined;

  show(v: StatusView | undefined): void {
    const line = document.getElementById("sync-status");
    const text = document.getElementById("sync-status-text");
    const link = document.getElementById("sync-status-conflicts") as HTMLAnchorElement | null;
    if (!line || !text) return;
    if (!v) {
      line.hidden = true;
      return;
    }
    line.hidden = false;
    line.dataset.kind = v.kind;
    text.textContent = v.text;
    if (link) {
      link.hidden = !v.conflicts;
      link.textContent = v.conflicts ?? "";
    }
    // "Syncing…" comes and goes with every sync: not worth saying aloud.
    if (v.kind === "syncing") return;
    const key = `${v.kind}|${v.conflicts ?? ""}`;
    if (this.announced === undefined) {
      this.announced = key;
      return;
    }
    if (key === this.announced) return;
    this.announced = key;
    const live = document.getElementById("sync-announce");
    if (live) live.textContent = v.conflicts ? `${v.text}. ${v.conflicts}.` : v.text;
  }
}
