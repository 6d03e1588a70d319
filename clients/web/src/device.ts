// Capture on the device, offline: each create or edit loads the stored document, applies the
// change under the device's actor (refusing invalid input, naming the field), checks references
// to other records, and saves, all in one IndexedDB transaction.
import * as A from "@automerge/automerge/slim";
import { devicePrefix, participantCode } from "./code";
import { createRecord, editRecord, InvalidRecord, view, type Doc, type Editor, type FieldError, type FieldValue, type View } from "./records";
import type { RecordKind } from "./schema";
import { isUnlocked, keyEvents, read, write, writeCount, unsynced, type Identity, type RecordState, type Snapshot, type StoredRecord, type Tx } from "./store";
import { conflictsOf } from "./competing";
import { decodeState, encodeState, plainState, viewOfState } from "./snapshot";
import { useSetup } from "./instrument";
import { uuidv7, type Setup } from "./protocol";
import { canWrite, notAllowedError, writableProjects } from "./roles";
import { ukDate } from "./time";

export const APP = "bothy-web/0.1.0";
export const now = () => Math.floor(Date.now() / 1000);

export { canReceive, canWrite, notAllowedError, writableProjects } from "./roles";
export function defaultProject(identity: Identity): string | undefined {
  const w = writableProjects(identity);
  return identity.project && w.includes(identity.project) ? identity.project : w[0];
}

/** The set-up kept on this device, whose instrument definitions it makes known to this page
 * (see `useSetup`) so forms, checks and scores use exactly what is stored. */
export async function setup(): Promise<Setup | undefined> {
  const s = await read((tx) => tx.meta("setup"));
  useSetup(s);
  return s;
}

/** Within a transaction: the definitions of the set-up as stored, before a record is checked. */
async function knowStoredDefinitions(tx: Tx): Promise<void> {
  useSetup(await tx.meta("setup"));
}

/** Told ("saved") after each create or edit made on this device is stored: automatic sync
 * listens (src/autosync.ts). Syncs do not tell it. */
export const localChanges = new EventTarget();
function localWrite<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  return write(fn).then((r) => (localChanges.dispatchEvent(new Event("saved")), r));
}

export async function identity(): Promise<Identity | undefined> {
  return read((tx) => tx.meta("identity"));
}
async function requireIdentity(tx: Tx): Promise<Identity> {
  const id = await tx.meta("identity");
  if (!id) throw new Error("not enrolled");
  return id;
}

export function loadDoc(r: StoredRecord, actor: string): Doc {
  return A.load(r.doc, { actor });
}

/** A record as stored: its document, heads, and the snapshot of its current values with
 * whether it has conflicts (src/snapshot.ts), which the lists read instead of the document. */
export function storedFrom(id: string, doc: Doc, acked: string[] | null, at = now()): StoredRecord {
  const v = view(doc);
  return {
    id,
    kind: v?.kind ?? "",
    project: v?.project ?? "",
    doc: A.save(doc),
    heads: A.getHeads(doc),
    acked,
    updated: at,
    state: encodeState(plainState(doc)),
    conflicts: conflictsOf(doc).length > 0,
  };
}

export interface Loaded {
  id: string;
  view: View;
  heads: string[];
  unsynced: boolean;
}

/** A stored record's typed view: from its snapshot, or (stored before snapshots were kept)
 * from its document. */
function viewOfRow(r: Snapshot): View | undefined {
  if (r.state) return viewOfState(decodeState(r.state));
  return r.doc ? view(A.load(r.doc)) : undefined;
}

/** The views read so far, by id with the heads they were read at: a list read again after a
 * write (by this page, another tab or a sync) decrypts and decodes only the records written
 * since. Dropped when the app locks. */
const views = new Map<string, { heads: string; view: View | undefined }>();
/** The last list and the records' states, while nothing was written since they were read
 * (`writeCount`): one read serves every screen and the badge until the next write. */
let listed: { writes: number; list: Promise<Loaded[]> } | undefined;
let states: { writes: number; rows: Promise<RecordState[]> } | undefined;
keyEvents.addEventListener("locked", () => {
  views.clear();
  listed = states = undefined;
});
const headsKey = (heads: readonly string[]) => heads.slice().sort().join();

/** Every record's state (id, kind, project, heads, whether it has conflicts: what is in clear),
 * as last read if nothing was written since. */
export function recordStates(): Promise<RecordState[]> {
  const writes = writeCount();
  if (states?.writes !== writes) {
    const rows = read((tx) => tx.allRecordStates());
    states = { writes, rows };
    rows.catch(() => states?.rows === rows && (states = undefined));
  }
  return states.rows.then((r) => r.slice());
}

/** Every record on the device with a typed view, in the order they are stored; as last listed
 * if nothing was written since. */
export function listRecords(): Promise<Loaded[]> {
  const writes = writeCount();
  if (listed?.writes !== writes) {
    const list = readList(writes);
    listed = { writes, list };
    list.catch(() => listed?.list === list && (listed = undefined));
  }
  return listed.list.then((l) => l.slice());
}

async function readList(writes: number): Promise<Loaded[]> {
  // The views still good, taken as the rows are read: the app may lock (and forget them) before
  // this goes on.
  const known = new Map<string, View | undefined>();
  const rows = await read((tx) =>
    tx.snapshots((r) => {
      const v = views.get(r.id);
      if (v?.heads !== headsKey(r.heads)) return true;
      known.set(r.id, v.view);
      return false;
    }),
  );
  // Locked meanwhile: the list is given to whoever asked, but nothing decrypted is kept.
  const keep = isUnlocked();
  if (keep && states?.writes !== writes) {
    const clear = rows.map(({ doc: _d, state: _s, ...rest }: Snapshot | RecordState & { doc?: unknown; state?: unknown }) => rest);
    states = { writes, rows: Promise.resolve(clear) };
  }
  const held = new Set<string>();
  const out: Loaded[] = [];
  for (const r of rows) {
    held.add(r.id);
    const opened = "state" in r || "doc" in r;
    const v = opened ? viewOfRow(r as Snapshot) : known.get(r.id);
    if (opened && keep) views.set(r.id, { heads: headsKey(r.heads), view: v });
    if (v) out.push({ id: r.id, view: v, heads: r.heads, unsynced: unsynced(r) });
  }
  for (const id of views.keys()) if (!held.has(id)) views.delete(id);
  if (!keep && listed?.writes === writes) listed = undefined;
  return out;
}

export async function getRecord(id: string): Promise<Loaded | undefined> {
  const r = await read((tx) => tx.getRecord(id));
  if (!r) return undefined;
  const v = viewOfRow(r);
  return v && { id, view: v, heads: r.heads, unsynced: unsynced(r) };
}

async function checkRef(tx: Tx, path: string, target: string, kind: RecordKind, project: string): Promise<FieldError | undefined> {
  const r = await tx.getRecord(target);
  if (!r || r.kind !== kind) return { field: path, code: "unknown_reference", params: { kind } };
  if (r.project !== project) return { field: path, code: "other_project", params: { kind, project: r.project } };
  return undefined;
}

function notAllowed(ident: Identity, project: string, kind: RecordKind) {
  return new InvalidRecord([notAllowedError(ident, project, kind)]);
}

async function create(tx: Tx, ident: Identity, kind: RecordKind, project: string, fields: [string, FieldValue][], id = uuidv7()): Promise<string> {
  if (!canWrite(ident, project, kind)) throw notAllowed(ident, project, kind);
  if (kind === "wellbeing") await knowStoredDefinitions(tx);
  const errors: FieldError[] = [];
  for (const [path, value] of fields) {
    let target: RecordKind | undefined;
    let raw: string | undefined;
    if ((kind === "wellbeing" || kind === "story") && (path === "participant" || path === "session")) {
      target = path;
      raw = typeof value === "string" ? value : undefined;
    } else if (kind === "contact" && path === "participant") {
      target = "participant";
      raw = typeof value === "string" ? value : undefined;
    } else if (kind === "session" && path.startsWith("attendance.")) {
      target = "participant";
      raw = path.slice("attendance.".length);
    }
    if (target && raw) {
      const e = await checkRef(tx, path, raw, target, project);
      if (e) errors.push(e);
    }
  }
  let doc: Doc;
  try {
    doc = createRecord(ident.actor, kind, project, fields, now());
  } catch (e) {
    if (e instanceof InvalidRecord) throw new InvalidRecord([...e.errors, ...errors]);
    throw e;
  }
  if (errors.length > 0) throw new InvalidRecord(errors);
  await tx.putRecord(storedFrom(id, doc, null));
  return id;
}

/** The prefix of a registration's fields that go to the participant's contact record. */
export const CONTACT_PREFIX = "contact.";

/**
 * Registers a participant in `project`; the device assigns their code. Their direct identifiers,
 * given as `contact.name`, `contact.phone`, `contact.postcode_district` and `contact.notes`, go
 * to a contact record of their own, saved in the same transaction (only the roles that may see
 * them receive it). Either both are saved or neither; errors name the form's paths
 * (`contact.postcode_district`). The day they registered (`registered_on`) is today's UK date
 * unless given; so is the day they were referred (`referral.date`) when a referral source is
 * given without one.
 */
export async function createParticipant(project: string, fields: [string, FieldValue][]): Promise<{ id: string; code: string; contact?: string }> {
  return localWrite(async (tx) => {
    const ident = await requireIdentity(tx);
    const own = fields.filter(([path]) => !path.startsWith(CONTACT_PREFIX));
    const given = (path: string) => own.some(([p]) => p === path);
    if (!given("registered_on")) own.push(["registered_on", ukDate()]);
    if (given("referral.source") && !given("referral.date")) own.push(["referral.date", ukDate()]);
    const contact = fields.filter(([path]) => path.startsWith(CONTACT_PREFIX)).map(([path, v]) => [path.slice(CONTACT_PREFIX.length), v] as [string, FieldValue]);
    if (contact.length > 0 && !canWrite(ident, project, "contact")) throw notAllowed(ident, project, "contact");
    const n = ((await tx.meta("counter")) ?? 0) + 1;
    const code = participantCode(devicePrefix(ident.deviceId), n);
    const errors: FieldError[] = [];
    const refused = (e: unknown): FieldError[] => {
      if (e instanceof InvalidRecord) return e.errors;
      throw e;
    };
    const id = await create(tx, ident, "participant", project, [["code", code], ...own]).catch((e) => (errors.push(...refused(e)), undefined));
    let contactId: string | undefined;
    if (contact.length > 0) {
      // Checked even when the participant was refused, so every bad field is named at once
      // (the reference to a participant that was not saved is not one of them).
      const pid = id ?? uuidv7();
      contactId = await create(tx, ident, "contact", project, [...contact, ["participant", pid]]).catch((e) => {
        errors.push(...refused(e).filter((x) => id !== undefined || x.field !== "participant").map((x) => ({ ...x, field: `${CONTACT_PREFIX}${x.field}` })));
        return undefined;
      });
    }
    if (errors.length > 0 || id === undefined) throw new InvalidRecord(errors);
    await tx.setMeta("counter", n);
    return { id, code, ...(contactId ? { contact: contactId } : {}) };
  });
}

/** Contact details for a participant registered without them: a contact record naming them,
 * in their project. Errors name the contact record's fields. */
export async function createContact(participant: string, fields: [string, FieldValue][]): Promise<string> {
  return write(async (tx) => {
    const ident = await requireIdentity(tx);
    const p = await tx.getRecord(participant);
    if (!p || p.kind !== "participant") throw new InvalidRecord([{ field: "participant", code: "unknown_reference", params: { kind: "participant" } }]);
    return create(tx, ident, "contact", p.project, [...fields.filter(([f]) => f !== "participant"), ["participant", participant]]);
  });
}

/** Participant id to the name their contact record gives them, from contact records sorted by
 * id: where a participant has several, the first that names them. */
function namesFrom(contacts: { id: string; view: View }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of contacts.slice().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const participant = c.view.s("participant");
    const name = c.view.s("name");
    if (participant && name && !out.has(participant)) out.set(participant, name);
  }
  return out;
}

/** The names the contact records among `records` give participants (participant id to name):
 * none for a participant whose contact details this device does not hold. */
export function contactNamesIn(records: readonly Loaded[]): Map<string, string> {
  return namesFrom(records.filter((r) => r.view.kind === "contact"));
}

/** The names the contact records on this device give participants (see `contactNamesIn`). */
export async function contactNames(): Promise<Map<string, string>> {
  return contactNamesIn(await listRecords());
}

export async function createSession(project: string, fields: [string, FieldValue][]): Promise<string> {
  return localWrite(async (tx) => {
    const ident = await requireIdentity(tx);
    const setup = await tx.meta("setup");
    const p = setup?.projects?.find((x) => x.project === project);
    const errors: FieldError[] = [];
    for (const [name, known] of [
      ["site", (p?.sites ?? []).map((s) => s.slug)],
      ["activity", (p?.activities ?? []).map((a) => a.slug)],
    ] as const) {
      const v = fields.find(([f]) => f === name)?.[1];
      if (known.length > 0 && typeof v === "string" && !known.includes(v)) {
        errors.push({ field: name, code: "not_in_setup", params: { options: known.join(", ") } });
      }
    }
    if (errors.length) throw new InvalidRecord(errors);
    return create(tx, ident, "session", project, fields);
  });
}

export async function createWellbeing(fields: [string, FieldValue][]): Promise<string> {
  return localWrite(async (tx) => {
    const ident = await requireIdentity(tx);
    const pid = fields.find(([f]) => f === "participant")?.[1];
    const p = typeof pid === "string" ? await tx.getRecord(pid) : undefined;
    if (!p || p.kind !== "participant") throw new InvalidRecord([{ field: "participant", code: "unknown_reference", params: { kind: "participant" } }]);
    return create(tx, ident, "wellbeing", p.project, fields);
  });
}

export async function createStory(project: string, fields: [string, FieldValue][]): Promise<string> {
  return localWrite(async (tx) => {
    const ident = await requireIdentity(tx);
    const all = fields.some(([f]) => f === "author") ? fields : [...fields, ["author", ident.user.username] as [string, FieldValue]];
    return create(tx, ident, "story", project, all);
  });
}

/** Applies an edit as one change; refuses it (nothing written) if it leaves a field invalid. */
export async function edit(id: string, edits: (ed: Editor) => void, ref?: { path: string; target: string; kind: RecordKind }): Promise<boolean> {
  return localWrite(async (tx) => {
    const ident = await requireIdentity(tx);
    const row = await tx.getRecord(id);
    if (!row) throw new Error(`no record ${id} on this device`);
    if (!canWrite(ident, row.project, row.kind as RecordKind)) throw notAllowed(ident, row.project, row.kind as RecordKind);
    if (ref) {
      const e = await checkRef(tx, ref.path, ref.target, ref.kind, row.project);
      if (e) throw new InvalidRecord([e]);
    }
    if (row.kind === "wellbeing") await knowStoredDefinitions(tx);
    const { doc, changed } = editRecord(loadDoc(row, ident.actor), now(), edits);
    if (changed) await tx.putRecord(storedFrom(id, doc, row.acked));
    return changed;
  });
}

export function markAttendance(session: string, participant: string, mark: "present" | "absent" | "left_early") {
  const path = `attendance.${participant}`;
  return edit(session, (e) => e.set(path, mark), { path, target: participant, kind: "participant" });
}

export function editText(id: string, fieldName: "body" | "notes", text: string) {
  return edit(id, (e) => e.set(fieldName, text));
}

export async function unsyncedCount(): Promise<number> {
  return (await recordStates()).filter(unsynced).length;
}

/** The heads of every record as held here (for checks against the server and other devices). */
export async function allHeads(): Promise<Record<string, string[]>> {
  const rows = await recordStates();
  return Object.fromEntries(rows.map((r) => [r.id, r.heads.slice().sort()]));
}

/** Fields of a record that hold conflicting values from concurrent edits. */
export async function conflicts(id: string): Promise<string[]> {
  const r = await read((tx) => tx.getRecord(id));
  if (!r) return [];
  const doc = A.load(r.doc);
  const out: string[] = [];
  for (const k of Object.keys(doc)) {
    const c = A.getConflicts(doc, k);
    if (c && Object.keys(c).length > 1) out.push(k);
    const v = (doc as Record<string, unknown>)[k];
    if (v && typeof v === "object" && !A.isImmutableString(v) && k !== "notes" && k !== "body") {
      for (const sub of Object.keys(v)) {
        const cc = A.getConflicts(v as Doc, sub);
        if (cc && Object.keys(cc).length > 1) out.push(`${k}.${sub}`);
      }
    }
  }
  return out;
}
