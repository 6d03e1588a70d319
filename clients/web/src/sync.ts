// The sync client (docs/protocol.md sections 9-12): one request carrying every unacknowledged
// change, one IndexedDB transaction applying the answer.
//
// When the server was restored from a backup since this device's cursor was handed out, its
// answer says `reconcile` (section 9.6): it may have lost changes it had acknowledged, and the
// acked heads this device keeps describe a server that no longer exists. The transaction that
// applies that answer forgets the acked heads of every record, so the next request, made at
// once within the same `sync()`, sends each record the device holds with its whole history
// (other authors' changes too); the server keeps what it lacks and drops the rest.
//
// The device holds only what its user may hold. Records the answer names as `withdrawn` (a
// story made private by someone else) are deleted, and so is every record of a project or kind
// the user's roles do not receive, except one with changes the server lacks while the role may
// still write it: a peer worker's new contact record is sent first, then deleted once the
// server has acknowledged it. Records the answer names as `replaced` (rewritten by the server as
// new documents) are deleted, history and all, before the answer's records are merged.
import * as A from "@automerge/automerge/slim";
import { APP, loadDoc, now, storedFrom } from "./device";
import { useSetup } from "./instrument";
import { decodeResponse, encodeRequest, MEDIA_TYPE, uuidBytes, uuidText, type Cursor, type RecordPush, type RecordReport, type SyncRequest, type SyncResponse } from "./protocol";
import { read, unsynced, write, type Identity, type Membership, type Tx } from "./store";
import { view, type Doc } from "./records";
import { membershipsFrom, receives, writes } from "./roles";
import { afterWipe, DeviceWiped, isWipeOrder, obeyWipe, sendConfirmation, type RunWrite, type WipeNote } from "./wipe";

const PUSH_BUDGET_BYTES = 4 * 1024 * 1024;
const MAX_ROUNDS = 10_000;

export class SyncError extends Error {
  constructor(
    message: string,
    public status: number,
    public code: string,
    public retry: boolean,
    /** How long the server asked to wait before the next try (its `Retry-After`, as with
     * `503 busy`), in milliseconds. */
    public retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface ReportView {
  id: string;
  kind: string;
  code: string;
  field?: string;
  message: string;
}

export interface SyncSummary {
  requests: number;
  pushed: number;
  acked: number;
  received: number;
  setAside: number;
  erased: number;
  /** Records deleted because the user may no longer hold them (named by the server, or of a
   * project or kind their roles do not receive). */
  withdrawn: number;
  /** Records deleted because the server rewrote them; its copy replaces them. */
  replaced: number;
  /** Of the records withdrawn or replaced, those that held changes the server never had: those
   * changes are lost. */
  lost: number;
  reports: ReportView[];
  more: boolean;
  serverTime?: number;
  /** The server was restored from a backup: this device sent it everything it holds again. */
  reconciled: boolean;
}

/** What building a request and applying its answer need of a transaction (a `Tx`). */
export type SyncStore = Pick<Tx, "getRecord" | "putRecord" | "deleteRecord" | "allRecords" | "meta" | "setMeta" | "addSetAside" | "addReport" | "purge">;

export interface Outgoing {
  identity: Identity;
  cursor: Cursor;
  pushedHeads: Map<string, string[]>;
  request: SyncRequest;
  truncated: boolean;
}

/** Reads, in one transaction, the changes the server lacks for every unsynced record. */
export async function buildRequest(tx: SyncStore): Promise<Outgoing> {
  const identity = await tx.meta("identity");
  if (!identity) throw new SyncError("not enrolled", 0, "not_enrolled", false);
  const cursor = (await tx.meta("cursor")) ?? { seq: 0 };
  const setup = await tx.meta("setup");
  const rows = (await tx.allRecords()).filter(unsynced).sort((a, b) => a.updated - b.updated || (a.id < b.id ? -1 : 1));
  const push: RecordPush[] = [];
  const pushedHeads = new Map<string, string[]>();
  let bytes = 0;
  let truncated = false;
  for (const row of rows) {
    if (bytes >= PUSH_BUDGET_BYTES) {
      truncated = true;
      break;
    }
    const doc = loadDoc(row, identity.actor);
    let changes: Uint8Array[];
    try {
      changes = row.acked && row.acked.length > 0 ? A.getChangesSince(doc, row.acked) : A.getAllChanges(doc);
    } catch {
      changes = A.getAllChanges(doc); // acked heads unknown here: the whole history is always safe
    }
    if (changes.length === 0) continue;
    bytes += changes.reduce((s, c) => s + c.length, 0);
    push.push({ id: uuidBytes(row.id), changes });
    pushedHeads.set(row.id, A.getHeads(doc));
  }
  const request: SyncRequest = { cursor, push, app: APP, pending: rows.length, ...(setup?.version ? { setup: setup.version } : {}) };
  return { identity, cursor, pushedHeads, request, truncated };
}

/** Sends one request; an error answer is thrown as a `SyncError` with the server's code. */
export async function send(out: Outgoing): Promise<SyncResponse> {
  const body = await encodeRequest(out.request);
  let res: Response;
  try {
    res = await fetch(`${out.identity.server}/api/v1/sync`, {
      method: "POST",
      body: body as BodyInit,
      headers: { Authorization: `Bearer ${out.identity.deviceToken}`, "Content-Type": MEDIA_TYPE },
      cache: "no-store",
    });
  } catch (e) {
    throw new SyncError(String(e), 0, "network", true);
  }
  if (res.status !== 200) {
    let code = "http_" + res.status;
    let message = res.statusText;
    try {
      const j = await res.json();
      code = j.error?.code ?? code;
      message = j.error?.message ?? message;
    } catch {
      /* not JSON */
    }
    const after = Number(res.headers.get("Retry-After") ?? "");
    const retryAfterMs = Number.isFinite(after) && after > 0 ? after * 1000 : undefined;
    throw new SyncError(message, res.status, code, res.status >= 500 || res.status === 408 || res.status === 429, retryAfterMs);
  }
  return decodeResponse(new Uint8Array(await res.arrayBuffer()));
}

function reportView(r: RecordReport): ReportView {
  return { id: uuidText(r.id), kind: r.kind, code: r.code, message: r.message, ...(r.field ? { field: r.field } : {}) };
}

/** Applies an answer within one transaction: acknowledgements, reports, replaced records, pulls,
 * erasures, roles, records the user may no longer hold, cursor, set-up, and after a restore of
 * the server, forgetting every acked head. */
export async function applyAnswer(tx: SyncStore, out: Outgoing, answer: SyncResponse, at = now()): Promise<SyncSummary> {
  const summary: SyncSummary = {
    requests: 1,
    pushed: out.pushedHeads.size,
    acked: 0,
    received: 0,
    setAside: 0,
    erased: 0,
    withdrawn: 0,
    replaced: 0,
    lost: 0,
    reports: answer.reports.map(reportView),
    more: answer.more,
    serverTime: answer.server_time,
    reconciled: answer.reconcile,
  };
  const actor = out.identity.actor;
  let cursor: Cursor = answer.cursor;
  const unacked = new Set(answer.unacked.map(uuidText));
  for (const [id, heads] of out.pushedHeads) {
    if (unacked.has(id)) continue;
    const row = await tx.getRecord(id);
    if (row) {
      row.acked = heads;
      await tx.putRecord(row);
      summary.acked++;
    }
  }
  const erased = new Set([...answer.erased.map(uuidText), ...summary.reports.filter((r) => r.kind === "erased").map((r) => r.id)]);
  for (const r of summary.reports) {
    if (r.kind === "refused") {
      const row = await tx.getRecord(r.id);
      if (row) {
        const reason = r.field ? `${r.code} (${r.field}): ${r.message}` : `${r.code}: ${r.message}`;
        await tx.addSetAside({ recordId: r.id, kind: row.kind, project: row.project, doc: row.doc, reason, at });
        await tx.deleteRecord(r.id);
        summary.setAside++;
      }
    } else if (r.kind === "resend") {
      const row = await tx.getRecord(r.id);
      if (row) {
        row.acked = null;
        await tx.putRecord(row);
      }
    }
    if (r.kind !== "erased" && r.kind !== "resend") {
      await tx.addReport({ recordId: r.id, kind: r.kind, code: r.code, message: r.message, at, ...(r.field ? { field: r.field } : {}) });
    }
  }
  // Records the server rewrote: the old copy goes, history and all, before the new one comes in
  // (changes this device pushed to it were acknowledged above, and carried over by the server).
  for (const id of new Set(answer.replaced.map(uuidText))) {
    const row = await tx.getRecord(id);
    if (!row) continue;
    if (unsynced(row)) summary.lost++;
    await tx.deleteRecord(id);
    summary.replaced++;
  }
  for (const pull of answer.records) {
    const id = uuidText(pull.id);
    if (erased.has(id)) continue;
    const row = await tx.getRecord(id);
    let doc: Doc = row ? loadDoc(row, actor) : A.init({ actor });
    const wasSynced = row ? !unsynced(row) : true;
    const acked = row?.acked ?? [];
    const applyTo = (d: Doc): Doc => {
      if ("snapshot" in pull.data) return A.merge(d, A.load(pull.data.snapshot));
      return A.applyChanges(d, pull.data.changes)[0];
    };
    doc = applyTo(doc);
    summary.received++;
    if (A.getMissingDeps(doc, []).length > 0) {
      // Bootstrap again rather than keep a half-applied record (the generation stays as received).
      cursor = { seq: 0, ...(answer.cursor.generation ? { generation: answer.cursor.generation } : {}) };
      continue;
    }
    if (!view(doc)) throw new SyncError(`record ${id} has no valid envelope`, 0, "protocol", false);
    let serverHeads: string[];
    if (wasSynced) serverHeads = A.getHeads(doc);
    else {
      let server: Doc;
      try {
        server = acked.length > 0 ? A.clone(A.view(doc, acked), { actor }) : A.init({ actor });
      } catch {
        server = A.init({ actor });
      }
      serverHeads = A.getHeads(applyTo(server));
    }
    await tx.putRecord(storedFrom(id, doc, serverHeads, at));
  }
  for (const id of erased) if (await tx.purge(id)) summary.erased++;
  if (answer.setup?.roles) {
    // A change of role on the server reaches capture here, and what the device may hold below.
    const ident = await tx.meta("identity");
    if (ident) await tx.setMeta("identity", { ...ident, memberships: membershipsFrom(answer.setup.roles) });
  }
  // Before a reconciling answer makes every record unsynced.
  const held = await purgeUnreceivable(tx, new Set(answer.withdrawn.map(uuidText)), (await tx.meta("identity"))?.memberships);
  summary.withdrawn += held.gone;
  summary.lost += held.lost;
  if (answer.reconcile) {
    // The server was restored: no acked head is to be trusted, not even one this answer set.
    // Every record (whoever authored its changes) is sent whole by the next request.
    for (const row of await tx.allRecords()) {
      if (row.acked === null) continue;
      row.acked = null;
      await tx.putRecord(row);
    }
  }
  await tx.setMeta("cursor", cursor);
  await tx.setMeta("lastSync", at);
  await tx.setMeta("lastError", undefined);
  if (answer.setup) await tx.setMeta("setup", answer.setup.version ? answer.setup : undefined);
  if (answer.server_time > 0) await tx.setMeta("serverOffset", answer.server_time - at);
  return summary;
}

/**
 * Deletes the records named in `withdrawn`, and those whose project or kind the user's roles
 * (`memberships`; none known: nothing is deleted on their account) do not receive. A record with
 * changes the server lacks stays while its role may still write it: it is sent first. Returns
 * how many were deleted, and how many of those held unsent changes (lost).
 */
export async function purgeUnreceivable(tx: SyncStore, withdrawn: ReadonlySet<string>, memberships: readonly Membership[] | undefined): Promise<{ gone: number; lost: number }> {
  const roles = memberships && new Map(memberships.map((m) => [m.project, m.role]));
  let gone = 0;
  let lost = 0;
  for (const row of await tx.allRecords()) {
    const pending = unsynced(row);
    let purge: boolean;
    if (withdrawn.has(row.id)) purge = true;
    else if (!roles) purge = false;
    else {
      const role = roles.get(row.project);
      purge = !receives(role, row.kind) && !(pending && writes(role, row.kind));
    }
    if (!purge || !(await tx.purge(row.id))) continue;
    gone++;
    if (pending) {
      lost++;
      console.warn(`record ${row.id}, which this device may no longer hold, had changes the server never received; they are lost`);
    }
  }
  return { gone, lost };
}

/** Makes one sync request and applies its answer. `more` says to call it again at once. */
export async function syncOnce(): Promise<SyncSummary> {
  const out = await read(buildRequest);
  const answer = await send(out).catch(async (e: unknown) => {
    // Withdrawn by an admin: nothing is sent, everything is deleted (src/wipe.ts).
    throw isWipeOrder(e) ? await obeyWipe(out.identity, writeWipe, sendConfirmation) : e;
  });
  const s = await write((tx) => applyAnswer(tx, out, answer));
  // Stored: the set-up's instrument definitions are now the ones forms and checks use.
  if (answer.setup) useSetup(answer.setup.version ? answer.setup : undefined);
  // After `reconcile`, the next request re-sends everything at once.
  s.more ||= out.truncated || s.reconciled;
  return s;
}

/** Repeats `once` while it has more to do (paging, a split push, a restored server) or once after
 * a `resend` report, up to `maxRounds` requests, adding up what each did. */
export async function syncRounds(once: () => Promise<SyncSummary>, maxRounds = MAX_ROUNDS): Promise<SyncSummary> {
  const total: SyncSummary = { requests: 0, pushed: 0, acked: 0, received: 0, setAside: 0, erased: 0, withdrawn: 0, replaced: 0, lost: 0, reports: [], more: false, reconciled: false };
  let resent = false;
  for (let i = 0; i < maxRounds; i++) {
    const r = await once();
    const resend = r.reports.some((x) => x.kind === "resend");
    const again = r.more || r.reconciled || (resend && !resent);
    resent ||= resend;
    total.requests += r.requests;
    total.pushed += r.pushed;
    total.acked += r.acked;
    total.received += r.received;
    total.setAside += r.setAside;
    total.erased += r.erased;
    total.withdrawn += r.withdrawn;
    total.replaced += r.replaced;
    total.lost += r.lost;
    total.reports.push(...r.reports);
    total.more = r.more;
    total.serverTime = r.serverTime ?? total.serverTime;
    total.reconciled ||= r.reconciled;
    if (!again) break;
  }
  return total;
}

let running: Promise<SyncSummary> | undefined;

/** Syncs until everything is sent and received (usually one request). One sync at a time. */
export function sync(): Promise<SyncSummary> {
  running ??= (async () => {
    try {
      // A wiped device: a confirmation not yet sent goes first, and the sync ends there.
      const wiped = await wipeNote();
      if (wiped) throw new DeviceWiped(wiped);
      return await syncRounds(syncOnce);
    } catch (e) {
      if (e instanceof DeviceWiped) throw e;
      await write((tx) => tx.setMeta("lastError", e instanceof SyncError ? e.code : "network")).catch(() => undefined);
      throw e;
    } finally {
      running = undefined;
    }
  })();
  return running;
}

const writeWipe: RunWrite = (fn) => write(fn);

/** After a wipe (src/wipe.ts): its note, with a confirmation not yet sent sent now; nothing once
 * the device is enrolled again. Called at start and before each sync. */
export function wipeNote(): Promise<WipeNote | undefined> {
  return afterWipe(writeWipe, sendConfirmation);
}
