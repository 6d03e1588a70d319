// The sync screen: what is waiting, the last sync, and what the server reported.
import { t } from "../i18n";
import { allReports, allSetAside, read } from "../store";
import { sync, SyncError, type SyncSummary } from "../sync";
import { DeviceWiped } from "../wipe";
import { h, status } from "./dom";
import * as dev from "../device";
import { nav, screen, requireIdentity, refreshBadge } from "./common";

export function syncErrorText(e: unknown): string {
  if (e instanceof SyncError) {
    if (e.code === "network") return navigator.onLine ? t("sync.err.network") : t("sync.offline");
    if (e.status === 401) return t("sync.err.401");
    if (e.status === 426) return t("sync.err.426");
    return t("sync.err.other", { message: e.message });
  }
  return t("sync.err.other", { message: String(e) });
}

/** What a sync removed from the phone besides erasures, in sentences: records no longer shared
 * with the user, records the server rewrote, and unsent changes lost with them. */
export function removedText(s: Pick<SyncSummary, "withdrawn" | "replaced" | "lost">): string[] {
  const out: string[] = [];
  if (s.withdrawn) out.push(s.withdrawn === 1 ? t("sync.withdrawnOne") : t("sync.withdrawn", { count: s.withdrawn }));
  if (s.replaced) out.push(s.replaced === 1 ? t("sync.replacedOne") : t("sync.replaced", { count: s.replaced }));
  if (s.lost) out.push(t("sync.lost", { count: s.lost }));
  return out;
}

export async function syncScreen(flash?: HTMLElement): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const count = await dev.unsyncedCount();
  const [lastSync, reports, setAside] = await Promise.all([read((tx) => tx.meta("lastSync")), allReports(), allSetAside()]);
  const msg = h("div", { "aria-live": "polite" }, flash ?? (navigator.onLine ? null : status(t("sync.offline"), "info")));
  const button = h("button", { type: "button", class: "primary", id: "sync-now" }, t("sync.button"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    msg.replaceChildren(status(t("sync.working")));
    let note: HTMLElement;
    try {
      const s = await sync();
      const done = [t("sync.done", { pushed: s.pushed, received: s.received })];
      if (s.reconciled) done.push(t("sync.reconciled"));
      if (s.erased) done.push(t("sync.erased", { count: s.erased }));
      done.push(...removedText(s));
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
    h("p", { id: "last-sync" }, lastSync ? t("sync.lastSync", { when: new Date(lastSync * 1000).toLocaleString("en-GB") }) : t("sync.never")),
    msg,
    h("div", { class: "actions" }, button),
    setAside.length ? h("p", {}, t("sync.setAside", { count: setAside.length })) : null,
    h("h2", {}, t("sync.reports")),
    reports.length
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
      : h("p", {}, t("sync.noReports")),
    h("p", { class: "muted" }, t("sync.identity", { device: id.deviceId, user: id.user.username, server: id.server })),
  );
}
