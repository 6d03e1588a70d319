// Wiping this device when the server withdraws it (docs/protocol.md, "Wipe"). When an admin
// revokes the device, or removes its user, the server answers its next request with `401 wipe`.
// The app then lists what it is about to lose (each record with changes the server was not known
// to hold: id, kind, project, how many changes, when last edited here; never a field value or a
// name), deletes every record, set-aside copy, report, cursor, set-up and its credential in one
// transaction, keeping only a note of the wipe, and confirms to the server with the list
// (`POST /api/v1/devices/wipe`). Until the confirmation is sent (no network), the note also
// holds the server's address and the withdrawn credential, which the server accepts for nothing
// else; it is sent again at the next start or sync, and then they are dropped. The note (what
// was lost, whether the server was told) stays until the device is enrolled again, so the app
// can say plainly what happened.
import * as A from "@automerge/automerge/slim";
import { unsynced, type Identity, type StoredRecord, type Tx } from "./store";

/** One record whose changes had not reached the server when the device was wiped. */
export interface LostRecord {
  record_id: string;
  kind: string;
  project: string;
  /** Changes the server was not known to hold (0 if the record could not be read to count). */
  unsynced_changes: number;
  /** The last local edit, on the device's clock (Unix seconds). */
  last_edited_at: number | null;
}

/** `pending`: not yet told to the server; `confirmed`: told; `refused`: the server would not
 * take it (nothing more is sent). */
export type WipeState = "pending" | "confirmed" | "refused";

/** What the store keeps after a wipe. */
export interface WipeNote {
  wipedAt: number;
  lost: LostRecord[];
  state: WipeState;
  /** The server's message, when it refused the confirmation. */
  refusal?: string;
  /** Only while `pending`: where to send the confirmation, and the withdrawn credential. */
  server?: string;
  deviceToken?: string;
}

/** What a sync (or any request) ends with once the device has wiped itself. */
export class DeviceWiped extends Error {
  code = "wiped";
  retry = false;
  constructor(public note: WipeNote) {
    super("this device was withdrawn by an admin and has been wiped");
  }
}

/** What wiping needs of a transaction (a `Tx`, or a stand-in in tests). */
export type WipeStore = Pick<Tx, "allRecords" | "meta" | "setMeta" | "clearAll">;
/** Runs `fn` in one write transaction. */
export type RunWrite = <T>(fn: (tx: WipeStore) => Promise<T>) => Promise<T>;
/** Sends a confirmation: its outcome. */
export type SendConfirmation = (note: WipeNote) => Promise<{ state: WipeState; refusal?: string }>;

/** Whether an error is the server's order to wipe this device. */
export function isWipeOrder(e: unknown): boolean {
  const x = e as { status?: number; code?: string } | undefined;
  return x?.status === 401 && x?.code === "wipe";
}

/** Each record with changes the server is not known to hold. */
export function lostRecords(rows: StoredRecord[], actor: string): LostRecord[] {
  const lost: LostRecord[] = [];
  for (const r of rows.filter(unsynced).sort((a, b) => (a.id < b.id ? -1 : 1))) {
    let count = 0;
    let last: number | undefined;
    try {
      const doc = A.load(r.doc);
      let changes: Uint8Array[];
      try {
        changes = r.acked && r.acked.length > 0 ? A.getChangesSince(doc, r.acked) : A.getAllChanges(doc);
      } catch {
        changes = A.getAllChanges(doc);
      }
      if (changes.length === 0) continue;
      count = changes.length;
      for (const c of changes) {
        const d = A.decodeChange(c);
        if (d.actor === actor && d.time > 0) last = Math.max(last ?? 0, d.time);
      }
    } catch {
      // Unreadable: lost, uncounted.
    }
    lost.push({ record_id: r.id, kind: r.kind, project: r.project, unsynced_changes: count, last_edited_at: last ?? r.updated ?? null });
  }
  return lost;
}

/** Obeys the order: lists what is lost, deletes everything and keeps the note in one
 * transaction, then sends the confirmation. Returns the error to end the sync with. */
export async function obeyWipe(identity: Identity, run: RunWrite, send: SendConfirmation, at = Math.floor(Date.now() / 1000)): Promise<DeviceWiped> {
  const note = await run(async (tx) => {
    const lost = lostRecords(await tx.allRecords(), identity.actor);
    await tx.clearAll();
    const kept: WipeNote = { wipedAt: at, lost, state: "pending", server: identity.server, deviceToken: identity.deviceToken };
    await tx.setMeta("wipe", kept);
    return kept;
  });
  return new DeviceWiped(await confirm(note, run, send));
}

/** Sends a pending confirmation; once the server has it (or refused it) the credential and the
 * server's address leave the note. */
export async function confirm(note: WipeNote, run: RunWrite, send: SendConfirmation): Promise<WipeNote> {
  if (note.state !== "pending") return note;
  const outcome = await send(note);
  if (outcome.state === "pending") return note;
  const done: WipeNote = { wipedAt: note.wipedAt, lost: note.lost, state: outcome.state, ...(outcome.refusal ? { refusal: outcome.refusal } : {}) };
  await run((tx) => tx.setMeta("wipe", done));
  return done;
}

/** `POST /api/v1/devices/wipe` with the withdrawn credential and the list. */
export async function sendConfirmation(note: WipeNote, fetchImpl: typeof fetch = fetch): Promise<{ state: WipeState; refusal?: string }> {
  if (!note.server || !note.deviceToken) return { state: "refused", refusal: "no credential kept" };
  let res: Response;
  try {
    res = await fetchImpl(`${note.server}/api/v1/devices/wipe`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${note.deviceToken}` },
      body: JSON.stringify({ wiped_at: note.wipedAt, lost: note.lost }),
      cache: "no-store",
    });
  } catch {
    return { state: "pending" };
  }
  if (res.ok) return { state: "confirmed" };
  let code = `http_${res.status}`;
  let message = res.statusText;
  try {
    const j = await res.json();
    code = j.error?.code ?? code;
    message = j.error?.message ?? message;
  } catch {
    /* not JSON */
  }
  // An earlier attempt reached the server; its answer was lost.
  if (code === "wipe_already_confirmed") return { state: "confirmed" };
  if (res.status >= 500 || res.status === 408 || res.status === 429) return { state: "pending" };
  return { state: "refused", refusal: `${message} (${code})` };
}

/** At start and before each sync: a note of an earlier wipe, its confirmation sent now if it
 * was not. When the device has been enrolled again, a note whose confirmation is done is
 * dropped and nothing is returned. */
export async function afterWipe(run: RunWrite, send: SendConfirmation): Promise<WipeNote | undefined> {
  const [note, enrolled] = await run(async (tx) => [await tx.meta("wipe"), (await tx.meta("identity")) !== undefined] as const);
  if (!note) return undefined;
  const now = await confirm(note, run, send);
  if (!enrolled) return now;
  if (now.state !== "pending") await run((tx) => tx.setMeta("wipe", undefined));
  return undefined;
}
