// The sync screen: what is waiting, the last sync, what the server reported, and the conflicts
// to resolve. The app syncs by itself (src/autosync.ts); the screen shows the truth after each
// sync, whoever started it, without redrawing itself under the user.
import type { AutoSyncState } from "../autosync";
import { t } from "../i18n";
import { formatDateTime } from "../i18n/format";
import { allReports, allSetAside, read } from "../store";
import { sync, SyncError, type SyncSummary } from "../sync";
import { DeviceWiped } from "../wipe";
import { h, status } from "./dom";
import * as dev from "../device";
import { nav, screen, requireIdentity, refreshBadge } from "./common";
import { conflictsSection, findConflicts, namesOnDevice, type RecordConflicts } from "./conflicts";

/** Why a sync failed, in words: a sentence for the sync screen, or (`short`) a phrase for the
 * status line. */
export function syncErrorText(e: unknown, o: { short?: boolean } = {}): string {
  const short = !!o.short;
  if (e instanceof SyncError || (e && typeof e === "object" && "code" in e && "status" in e)) {
    const { code, status, message } = e as SyncError;
    if (code === "network") {
      if (navigator.onLine) return short ? t("sync.short.network") : t("sync.err.network");
      return short ? t("sync.short.offline") : t("sync.offline");
    }
    if (status === 401) return short ? t("sync.short.401") : t("sync.err.401");
    if (status === 426) return short ? t("sync.short.426") : t("sync.err.426");
    return short ? t("sync.short.other", { message }) : t("sync.err.other", { message });
  }
  const message = e instanceof Error ? e.message : String(e);
  return short ? t("sync.short.other", { message }) : t("sync.err.other", { message });
}

/** How the screen syncs and learns of the automatic sync's state (set by src/main.ts). */
let runSync: () => Promise<SyncSummary> = sync;
let syncState: () => AutoSyncState | undefined = () => undefined;
export function useSync(run: () => Promise<SyncSummary>, state: () => AutoSyncState | undefined): void {
  runSync = run;
  syncState = state;
}

const lastSyncText = (lastSync: number | undefined) => (lastSync ? t("sync.lastSync", { when: formatDateTime(lastSync * 1000) }) : t("sync.never"));

/** What the automatic sync is doing, for the screen's message area (nothing when all is well). */
function stateNote(): HTMLElement | null {
  const s = syncState();
  if (s?.phase === "syncing") return status(t("sync.working"));
  if (s?.phase === "failed") return status(syncErrorText(s.error), "error");
  return null;
}

/** What a sync removed from the phone besides erasures, in sentences: records no longer shared
 * with the user, records the server rewrote, and unsent changes lost with them. */
export function removedText(s: Pick<SyncSummary, "withdrawn" | "replaced" | "lost">): string[] {
  const out: string[] = [];
  if (s.withdrawn) out.push(t("sync.withdrawn", { count: s.withdrawn }));
  if (s.replaced) out.push(t("sync.replaced", { count: s.replaced }));
  if (s.lost) out.push(t("sync.lost", { count: s.lost }));
  return out;
}

/** What syncs since the app started removed from the phone (erasures, records no longer
 * shared, records the server rewrote), newest first: a sync the app ran by itself says so here
 * too, so nothing leaves the phone unexplained. */
const removals: { at: number; text: string }[] = [];

/** Notes what a sync removed from the phone (called after every sync, whoever started it). */
export function noteRemovals(s: Pick<SyncSummary, "erased" | "withdrawn" | "replaced" | "lost">): void {
  const text = [...(s.erased ? [t("sync.erased", { count: s.erased })] : []), ...removedText(s)];
  if (text.length) removals.unshift({ at: Date.now(), text: text.join(" ") });
  removals.splice(10);
}

function removalsPart(): HTMLElement {
  return h(
    "div",
    { id: "sync-removed" },
    removals.length
      ? [h("h2", {}, t("sync.removedTitle")), h("ul", { class: "reports" }, removals.map((r) => h("li", { class: "report removed" }, h("p", {}, r.text), h("p", { class: "muted" }, formatDateTime(r.at)))))]
      : [],
  );
}

export async function syncScreen(flash?: HTMLElement): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const count = await dev.unsyncedCount();
  const [lastSync, reports, setAside, conflicts] = await Promise.all([read((tx) => tx.meta("lastSync")), allReports(), allSetAside(), findConflicts()]);
  const msg = h("div", { "aria-live": "polite", id: "sync-message" }, flash ?? stateNote());
  const button = h("button", { type: "button", class: "primary", id: "sync-now" }, t("sync.button"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    msg.replaceChildren(status(t("sync.working")));
    let note: HTMLElement;
    try {
      const s = await runSync();
      const done = [t("sync.done", { pushed: s.pushed, received: s.received })];
      if (s.reconciled) done.push(t("sync.reconciled"));
      // What it removed from the phone is listed below, with what earlier syncs removed.
      note = status(done.join(" "), "ok");
    } catch (e) {
      // Wiped: nothing is left to show here; the enrolment screen says what happened.
      if (e instanceof DeviceWiped) return nav("#/enrol");
      note = status(syncErrorText(e), "error");
    }
    await syncScreen(note);
    await refreshBadge();
  });
  screen(
    t("sync.title"),
    h("p", { id: "unsynced-count" }, t("sync.unsynced", { count })),
    h("p", { id: "last-sync" }, lastSyncText(lastSync)),
    msg,
    h("div", { class: "actions" }, button),
    h("p", { class: "muted" }, t("sync.auto")),
    removalsPart(),
    h("div", { id: "conflicts-place" }, await conflictsPart(conflicts, id.actor)),
    setAside.length ? h("p", {}, t("sync.setAside", { count: setAside.length })) : null,
    h("h2", {}, t("sync.reports")),
    reportList(reports),
    h("p", { class: "muted" }, t("sync.identity", { device: id.deviceId, user: id.user.username, server: id.server })),
  );
}

const conflictsKey = (list: RecordConflicts[]) => JSON.stringify(list.map((r) => [r.id, r.fields.map((f) => [f.path, f.values.map((v) => [v.value, v.actor])])]));

async function conflictsPart(list: RecordConflicts[], me: string): Promise<HTMLElement | null> {
  if (!list.length) return null;
  const section = conflictsSection(list, await namesOnDevice(), me, (note, ok) => {
    // Kept: the screen is drawn again with what is left, and the note says what was kept.
    void syncScreen(status(note, ok ? "ok" : "error")).then(() => document.dispatchEvent(new Event("bothy:conflicts")));
  });
  section.dataset.key = conflictsKey(list);
  return section;
}

function reportList(reports: Awaited<ReturnType<typeof allReports>>): HTMLElement {
  return reports.length
    ? h(
        "ul",
        { class: "reports" },
        reports
          .slice()
          .reverse()
          .map((r) =>
            h(
              "li",
              { class: `report ${r.kind}` },
              h("strong", {}, t(`report.${r.kind}`)),
              h("p", {}, r.message),
              r.field ? h("p", { class: "muted" }, t("report.field", { field: r.field })) : null,
              h("p", { class: "muted" }, t("report.record", { id: r.recordId })),
            ),
          ),
      )
    : h("p", {}, t("sync.noReports"));
}

/** After a sync or a change of its state, while the sync screen is shown: the counts, the last
 * sync and the message are brought up to date in place (focus stays where it is), and the
 * conflicts too when they changed. */
export async function refreshSyncScreen(): Promise<void> {
  const count = document.getElementById("unsynced-count");
  if (!count || !document.getElementById("sync-now")) return;
  const id = await dev.identity();
  if (!id) return;
  const [n, lastSync, conflicts] = await Promise.all([dev.unsyncedCount(), read((tx) => tx.meta("lastSync")), findConflicts()]);
  count.textContent = t("sync.unsynced", { count: n });
  const last = document.getElementById("last-sync");
  if (last) last.textContent = lastSyncText(lastSync);
  const button = document.getElementById("sync-now") as HTMLButtonElement;
  const msg = document.getElementById("sync-message");
  // While the button's own sync runs, its message is left to it.
  if (msg && !button.disabled) {
    const note = stateNote();
    const shown = msg.firstElementChild;
    if (note) msg.replaceChildren(note);
    else if (shown && !shown.classList.contains("ok")) msg.replaceChildren();
  }
  document.getElementById("sync-removed")?.replaceWith(removalsPart());
  const place = document.getElementById("conflicts-place");
  const section = place?.firstElementChild as HTMLElement | null | undefined;
  if (place && (section?.dataset.key ?? "[]") !== conflictsKey(conflicts)) {
    if (place.contains(document.activeElement)) return; // not while the user is choosing
    const next = await conflictsPart(conflicts, id.actor);
    place.replaceChildren(...(next ? [next] : []));
  }
}
