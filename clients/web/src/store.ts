// The device's local database (IndexedDB), encrypted at rest. Every record is kept as a saved
// Automerge document with its current heads and the heads the server is known to hold (`acked`,
// null when the server has acknowledged nothing). A record is unsynced while the two differ.
// Nothing is deleted except as the server decides (an erasure, a record the user may no longer
// hold, one the server rewrote, a wipe: src/sync.ts), or on a forgotten PIN.
//
// What can carry participant data or a credential is stored sealed (src/vault.ts): each record's
// document, each set-aside copy and its reason, each report's message, and every value in
// `meta` (the identity with the device credential, the set-up, the cursor...) except the vault
// itself and the count of wrong PINs; each record's snapshot of its current values too
// (src/snapshot.ts). Ids, kinds, projects, heads, times and whether a record has conflicts stay
// in clear: the app counts unsynced records and finds a record's notes by them without the key.
//
// A transaction (`read`, `write`) reads through IndexedDB and decrypts as it goes; a write is
// staged, sealed when `fn` is done, and stored in one IndexedDB transaction. WebCrypto's
// promises would end an IndexedDB transaction held open across them, so consistency comes from a
// lock instead (the Web Locks API, across tabs): readers share it, a writer holds it alone.
import { decode, encode } from "./cbor";
import type { Cursor, Setup } from "./protocol";
import type { WipeNote } from "./wipe";
import { changePin, createVault, placeOf, seal, unlock, unseal, type Failures, type VaultRecord, type VaultStore } from "./vault";

export interface StoredRecord {
  id: string;
  kind: string;
  project: string;
  doc: Uint8Array;
  heads: string[];
  acked: string[] | null;
  updated: number;
  /** The document's current values in plain form (src/snapshot.ts), sealed like the document:
   * the lists read it instead of loading every document. Absent on a record stored before
   * snapshots were kept (it is read from the document until the record is next stored). */
  state?: Uint8Array;
  /** Whether the document has fields with competing values (src/competing.ts): only those
   * documents are loaded to list conflicts. Absent where `state` is. */
  conflicts?: boolean;
}
export interface SetAside {
  n?: number;
  recordId: string;
  kind: string;
  project: string;
  doc: Uint8Array;
  reason: string;
  at: number;
}
export interface StoredReport {
  n?: number;
  recordId: string;
  kind: string;
  code: string;
  field?: string;
  message: string;
  at: number;
}
export interface Membership {
  project: string;
  role: string;
}
export interface Identity {
  server: string;
  deviceId: string;
  deviceToken: string;
  actor: string;
  user: { id: string; username: string };
  memberships: Membership[];
  project?: string;
}
export interface Meta {
  identity?: Identity;
  cursor?: Cursor;
  setup?: Setup;
  lastSync?: number;
  serverOffset?: number;
  counter?: number;
  lastError?: string;
  /** Minutes without input before the app locks itself (default 5). */
  lockAfter?: number;
  /** After the server withdrew this device: what was lost, and the confirmation still to send
   * (src/wipe.ts). */
  wipe?: WipeNote;
}

const DB = "bothy";
const STORES = ["records", "setAside", "reports", "meta"] as const;
export type StoreName = (typeof STORES)[number];
/** The `meta` keys kept in clear: the wrapped key with its salt and PBKDF2 count, and the count
 * of wrong PINs in a row. */
const VAULT = "vault";
const FAILURES = "unlockFailures";
const CLEAR_META: IDBValidKey[] = [VAULT, FAILURES];

export function unsynced(r: Pick<StoredRecord, "heads" | "acked">): boolean {
  return r.acked === null || r.acked.slice().sort().join() !== r.heads.slice().sort().join();
}

export function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

let opened: Promise<IDBDatabase> | undefined;

export function open(name = DB): Promise<IDBDatabase> {
  opened ??= new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => {
      const db = r.result;
      const rec = db.createObjectStore("records", { keyPath: "id" });
      rec.createIndex("kind", "kind");
      db.createObjectStore("setAside", { keyPath: "n", autoIncrement: true }).createIndex("recordId", "recordId");
      db.createObjectStore("reports", { keyPath: "n", autoIncrement: true }).createIndex("recordId", "recordId");
      db.createObjectStore("meta");
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  return opened;
}

// ---------- the key (memory only) ----------

let key: CryptoKey | undefined;

/** Reading or writing sealed values while the app is locked. */
export class Locked extends Error {
  code = "locked";
  constructor() {
    super("the app is locked: unlock it with the PIN");
  }
}

export const isUnlocked = () => key !== undefined;

// ---------- what changed ----------

/** How many times the store's records were written, by this page or (told through a BroadcastChannel) by
 * another tab of the app: what is read and kept in memory (src/device.ts) is read again once
 * this moves. Another tab's write is known here a moment after it is stored. */
let writes = 0;
const others = typeof BroadcastChannel !== "undefined" ? new BroadcastChannel("bothy-store") : undefined;
if (others) {
  others.onmessage = () => void writes++;
  // Node (the unit tests) would otherwise wait on the channel for ever.
  (others as { unref?: () => void }).unref?.();
}
export const writeCount = () => writes;
function written(): void {
  writes++;
  others?.postMessage("written");
}

/** Told ("locked") when the key leaves memory (locking, a forgotten PIN): what was decrypted
 * and kept in memory (the list of records, src/device.ts) is dropped then. */
export const keyEvents = new EventTarget();

function dataKey(): CryptoKey {
  if (!key) throw new Locked();
  return key;
}

// ---------- one writer at a time ----------

let queue: Promise<unknown> = Promise.resolve();

/** Runs `fn` holding the store's lock: shared by readers, held alone by a writer. Not
 * re-entrant: `fn` must not call `read` or `write` itself. */
function locked<T>(mode: "shared" | "exclusive", fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (locks) return locks.request("bothy-store", { mode }, fn) as Promise<T>;
  // No Web Locks (an old browser): one transaction at a time within this page.
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

/** One request in a transaction of its own (read-only unless said). */
async function raw<T>(store: StoreName, fn: (s: IDBObjectStore) => IDBRequest<T>, mode: IDBTransactionMode = "readonly"): Promise<T> {
  const db = await open();
  return req(fn(db.transaction(store, mode).objectStore(store)));
}

function finished(t: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error ?? new Error("transaction aborted"));
  });
}

async function writeAll(apply: (t: IDBTransaction) => void): Promise<void> {
  const db = await open();
  const t = db.transaction([...STORES], "readwrite", { durability: "strict" } as IDBTransactionOptions);
  const done = finished(t);
  try {
    apply(t);
  } catch (e) {
    try {
      t.abort();
    } catch {
      /* already finished */
    }
    await done.catch(() => undefined);
    throw e;
  }
  await done;
}

// ---------- sealing each kind of value for its place ----------

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const notePlace = (store: "setAside" | "reports", n: { recordId: string; at: number }, field: string) => placeOf(store, `${n.recordId}@${n.at}`, field);
const metaPlace = (k: string) => placeOf("meta", k, "value");

async function sealRecord(k: CryptoKey, r: StoredRecord): Promise<StoredRecord> {
  const [doc, state] = await Promise.all([seal(k, r.doc, placeOf("records", r.id, "doc")), r.state && seal(k, r.state, placeOf("records", r.id, "state"))]);
  return { ...r, doc, ...(state ? { state } : {}) };
}
async function openRecord(k: CryptoKey, r: StoredRecord): Promise<StoredRecord> {
  const [doc, state] = await Promise.all([unseal(k, r.doc, placeOf("records", r.id, "doc")), r.state && unseal(k, r.state, placeOf("records", r.id, "state"))]);
  return { ...r, doc, ...(state ? { state } : {}) };
}
/** A record for the lists: its snapshot opened, its document only where it has no snapshot. */
async function openSnapshot(k: CryptoKey, r: StoredRecord): Promise<Snapshot> {
  if (!r.state) return openRecord(k, r);
  const { doc: _doc, ...rest } = r;
  return { ...rest, state: await unseal(k, r.state, placeOf("records", r.id, "state")) };
}

/** A stored record as the lists read it: the snapshot of its values, or (stored before
 * snapshots were kept) its document. */
export type Snapshot = Omit<StoredRecord, "doc"> & { doc?: Uint8Array };

async function sealSetAside(k: CryptoKey, s: SetAside): Promise<unknown> {
  const [doc, reason] = await Promise.all([seal(k, s.doc, notePlace("setAside", s, "doc")), seal(k, utf8.encode(s.reason), notePlace("setAside", s, "reason"))]);
  return { ...s, doc, reason };
}
async function openSetAside(k: CryptoKey, s: SetAside): Promise<SetAside> {
  const [doc, reason] = await Promise.all([unseal(k, s.doc, notePlace("setAside", s, "doc")), unseal(k, s.reason, notePlace("setAside", s, "reason"))]);
  return { ...s, doc, reason: fromUtf8.decode(reason) };
}
const sealReport = async (k: CryptoKey, r: StoredReport): Promise<unknown> => ({ ...r, message: await seal(k, utf8.encode(r.message), notePlace("reports", r, "message")) });
const openReport = async (k: CryptoKey, r: StoredReport): Promise<StoredReport> => ({ ...r, message: fromUtf8.decode(await unseal(k, r.message, notePlace("reports", r, "message"))) });

const sealMeta = (k: CryptoKey, name: string, v: unknown) => seal(k, encode(v), metaPlace(name));
const openMeta = async (k: CryptoKey, name: string, stored: unknown) => decode(await unseal(k, stored, metaPlace(name)));

const copy = (r: StoredRecord): StoredRecord => ({ ...r, heads: [...r.heads], acked: r.acked && [...r.acked] });
const stateOf = ({ doc: _doc, state: _state, ...rest }: StoredRecord): RecordState => rest;

/** What is in clear of a stored record: no document, no snapshot. */
export type RecordState = Omit<StoredRecord, "doc" | "state">;

// ---------- transactions ----------

type Op =
  | { op: "putRecord"; r: StoredRecord }
  | { op: "deleteRecord"; id: string }
  | { op: "setMeta"; k: string; v: unknown }
  | { op: "addSetAside"; s: SetAside }
  | { op: "addReport"; r: StoredReport }
  | { op: "purgeNotes"; id: string }
  | { op: "clear" };

/** One transaction: reads see the transaction's own writes; writes are stored together when
 * `fn` returns, or not at all when it throws. */
export class Tx {
  private ops: Op[] = [];
  private records = new Map<string, StoredRecord | null>();
  private metas = new Map<string, unknown>();
  private cleared = false;
  constructor(private readonly writable: boolean) {}

  private stage(op: Op): void {
    if (!this.writable) throw new Error("a read-only transaction cannot write");
    this.ops.push(op);
  }
  async getRecord(id: string): Promise<StoredRecord | undefined> {
    const staged = this.records.get(id);
    if (staged !== undefined) return staged === null ? undefined : copy(staged);
    if (this.cleared) return undefined;
    const row = await raw("records", (s) => s.get(id) as IDBRequest<StoredRecord | undefined>);
    return row && openRecord(dataKey(), row);
  }
  async putRecord(r: StoredRecord): Promise<void> {
    const c = copy(r);
    this.stage({ op: "putRecord", r: c });
    this.records.set(r.id, c);
  }
  async deleteRecord(id: string): Promise<void> {
    this.stage({ op: "deleteRecord", id });
    this.records.set(id, null);
  }
  async allRecords(): Promise<StoredRecord[]> {
    const rows = this.cleared ? [] : await raw("records", (s) => s.getAll() as IDBRequest<StoredRecord[]>);
    const mine = rows.filter((r) => !this.records.has(r.id));
    const out = mine.length ? await Promise.all(mine.map((r) => openRecord(dataKey(), r))) : [];
    for (const r of this.records.values()) if (r) out.push(copy(r));
    return this.records.size ? out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) : out;
  }
  /** Every record for the lists: those `wanted` picks by what is in clear with their snapshot
   * decrypted (their document only where they have none, see `Snapshot`); the others as
   * `RecordState`, nothing decrypted. */
  async snapshots(wanted: (r: RecordState) => boolean): Promise<(Snapshot | RecordState)[]> {
    const rows = this.cleared ? [] : await raw("records", (s) => s.getAll() as IDBRequest<StoredRecord[]>);
    const mine = rows.filter((r) => !this.records.has(r.id));
    const out: (Snapshot | RecordState)[] = await Promise.all(mine.map((r) => (wanted(r) ? openSnapshot(dataKey(), r) : stateOf(r))));
    for (const r of this.records.values()) if (r) out.push(copy(r));
    return this.records.size ? out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) : out;
  }
  /** Every record's id, kind, project, heads and times, without its document: no decryption. */
  async allRecordStates(): Promise<RecordState[]> {
    const rows = this.cleared ? [] : await raw("records", (s) => s.getAll() as IDBRequest<StoredRecord[]>);
    const out = rows.filter((r) => !this.records.has(r.id)).map(stateOf);
    for (const r of this.records.values()) if (r) out.push(stateOf(copy(r)));
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  async meta<K extends keyof Meta>(k: K): Promise<Meta[K]> {
    if (this.metas.has(k)) return structuredClone(this.metas.get(k)) as Meta[K];
    if (this.cleared) return undefined;
    const stored = await raw("meta", (s) => s.get(k));
    return (stored === undefined ? undefined : await openMeta(dataKey(), k, stored)) as Meta[K];
  }
  async setMeta<K extends keyof Meta>(k: K, v: Meta[K]): Promise<void> {
    const c = structuredClone(v);
    this.stage({ op: "setMeta", k, v: c });
    this.metas.set(k, c);
  }
  async addSetAside(s: SetAside): Promise<void> {
    this.stage({ op: "addSetAside", s: { ...s } });
  }
  async addReport(r: StoredReport): Promise<void> {
    this.stage({ op: "addReport", r: { ...r } });
  }
  /** Deletes a record with its set-aside copies and reports; says whether anything was held. */
  async purge(id: string): Promise<boolean> {
    let removed = (await this.getRecord(id)) !== undefined;
    await this.deleteRecord(id);
    const before = this.ops.length;
    this.ops = this.ops.filter((o) => !((o.op === "addSetAside" && o.s.recordId === id) || (o.op === "addReport" && o.r.recordId === id)));
    removed ||= this.ops.length < before;
    if (!this.cleared) {
      for (const s of ["setAside", "reports"] as const) removed ||= (await raw(s, (st) => st.index("recordId").count(id))) > 0;
    }
    this.stage({ op: "purgeNotes", id });
    return removed;
  }
  /** Deletes every record, set-aside copy, report and `meta` value; the PIN stays. */
  async clearAll(): Promise<void> {
    this.stage({ op: "clear" });
    this.cleared = true;
    this.records.clear();
    this.metas.clear();
  }

  /** Seals what was staged and stores it in one IndexedDB transaction. */
  async commit(): Promise<void> {
    if (this.ops.length === 0) return;
    const k = this.ops.some((o) => o.op === "putRecord" || o.op === "addSetAside" || o.op === "addReport" || (o.op === "setMeta" && o.v !== undefined)) ? dataKey() : undefined;
    const values = await Promise.all(
      this.ops.map((o): Promise<unknown> | undefined => {
        if (!k) return undefined;
        if (o.op === "putRecord") return sealRecord(k, o.r);
        if (o.op === "setMeta" && o.v !== undefined) return sealMeta(k, o.k, o.v);
        if (o.op === "addSetAside") return sealSetAside(k, o.s);
        if (o.op === "addReport") return sealReport(k, o.r);
        return undefined;
      }),
    );
    await writeAll((t) => {
      const store = (n: StoreName) => t.objectStore(n);
      this.ops.forEach((o, i) => {
        switch (o.op) {
          case "putRecord":
            store("records").put(values[i]);
            break;
          case "deleteRecord":
            store("records").delete(o.id);
            break;
          case "setMeta":
            if (o.v === undefined) store("meta").delete(o.k);
            else store("meta").put(values[i], o.k);
            break;
          case "addSetAside":
            store("setAside").add(values[i]);
            break;
          case "addReport":
            store("reports").add(values[i]);
            break;
          case "purgeNotes":
            for (const n of ["setAside", "reports"] as const) {
              const keys = store(n).index("recordId").getAllKeys(o.id);
              keys.onsuccess = () => keys.result.forEach((x) => store(n).delete(x));
            }
            break;
          case "clear": {
            for (const n of ["records", "setAside", "reports"] as const) store(n).clear();
            const keys = store("meta").getAllKeys();
            keys.onsuccess = () => keys.result.filter((x) => !CLEAR_META.includes(x)).forEach((x) => store("meta").delete(x));
            break;
          }
        }
      });
    });
    if (this.ops.some((o) => o.op === "putRecord" || o.op === "deleteRecord" || o.op === "clear")) written();
  }
}

/** Runs `fn` in one transaction. `fn` must not call `read` or `write` (the lock is not
 * re-entrant). Reading a sealed value while the app is locked throws `Locked`. */
export function transaction<T>(mode: IDBTransactionMode, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return locked(mode === "readwrite" ? "exclusive" : "shared", async () => {
    const tx = new Tx(mode === "readwrite");
    const result = await fn(tx);
    await tx.commit();
    return result;
  });
}

export const read = <T>(fn: (tx: Tx) => Promise<T>) => transaction("readonly", fn);
export const write = <T>(fn: (tx: Tx) => Promise<T>) => transaction("readwrite", fn);

export async function allReports(): Promise<StoredReport[]> {
  return locked("shared", async () => {
    const rows = await raw("reports", (s) => s.getAll() as IDBRequest<StoredReport[]>);
    return rows.length ? Promise.all(rows.map((r) => openReport(dataKey(), r))) : [];
  });
}
export async function allSetAside(): Promise<SetAside[]> {
  return locked("shared", async () => {
    const rows = await raw("setAside", (s) => s.getAll() as IDBRequest<SetAside[]>);
    return rows.length ? Promise.all(rows.map((r) => openSetAside(dataKey(), r))) : [];
  });
}

// ---------- the PIN: set, unlock, lock, change, forget ----------

/** The vault and the count of wrong PINs, in clear in `meta`. */
const vaultStore: VaultStore = {
  getVault: () => raw("meta", (s) => s.get(VAULT) as IDBRequest<VaultRecord | undefined>),
  putVault: async (v) => void (await raw("meta", (s) => s.put(v, VAULT), "readwrite")),
  getFailures: () => raw("meta", (s) => s.get(FAILURES) as IDBRequest<Failures | undefined>),
  putFailures: async (f) => void (await raw("meta", (s) => s.put(f, FAILURES), "readwrite")),
};

/** `new`: nothing stored, no PIN (enrol, choosing a PIN); `clear`: data stored before
 * encryption at rest, no PIN (choose one, and it is encrypted in place); `locked`: the PIN is
 * needed; `unlocked`. */
export type StoreState = "new" | "clear" | "locked" | "unlocked";

export async function storeState(): Promise<StoreState> {
  if (await vaultStore.getVault()) return key ? "unlocked" : "locked";
  const held = await Promise.all(STORES.map((s) => raw(s, (st) => st.count())));
  return held.some((n) => n > 0) ? "clear" : "new";
}

/** Sets the first PIN: a new data key; whatever the store holds in clear (a device enrolled
 * before encryption at rest) is sealed in place, and `identity` (at enrolment) stored, all in
 * one IndexedDB transaction, so nothing is lost and nothing is left in clear. The app is then
 * unlocked. */
export async function setPin(pin: string, identity?: Identity): Promise<void> {
  await locked("exclusive", async () => {
    if (await vaultStore.getVault()) throw new Error("this device already has a PIN");
    const { record, key: k } = await createVault(pin);
    const db = await open();
    const t = db.transaction([...STORES], "readonly");
    const [records, setAside, reports, metaKeys, metaValues] = await Promise.all([
      req(t.objectStore("records").getAll() as IDBRequest<StoredRecord[]>),
      req(t.objectStore("setAside").getAll() as IDBRequest<SetAside[]>),
      req(t.objectStore("reports").getAll() as IDBRequest<StoredReport[]>),
      req(t.objectStore("meta").getAllKeys()),
      req(t.objectStore("meta").getAll()),
    ]);
    const meta = new Map<string, unknown>();
    metaKeys.forEach((name, i) => {
      if (typeof name === "string" && !CLEAR_META.includes(name)) meta.set(name, metaValues[i]);
    });
    if (identity) meta.set("identity", identity);
    const [sRecords, sSetAside, sReports, sMeta] = await Promise.all([
      Promise.all(records.map((r) => sealRecord(k, r))),
      Promise.all(setAside.map((s) => sealSetAside(k, s))),
      Promise.all(reports.map((r) => sealReport(k, r))),
      Promise.all([...meta].map(async ([name, v]) => [name, await sealMeta(k, name, v)] as const)),
    ]);
    await writeAll((w) => {
      sRecords.forEach((r) => w.objectStore("records").put(r));
      sSetAside.forEach((s) => w.objectStore("setAside").put(s));
      sReports.forEach((r) => w.objectStore("reports").put(r));
      sMeta.forEach(([name, v]) => w.objectStore("meta").put(v, name));
      w.objectStore("meta").put({ count: 0, until: 0 } satisfies Failures, FAILURES);
      w.objectStore("meta").put(record, VAULT);
    });
    written();
    key = k;
  });
}

/** Opens the store with the PIN (`WrongPin` or `MustWait` from src/vault.ts otherwise). */
export async function unlockWith(pin: string): Promise<void> {
  key = await unlock(vaultStore, pin);
}

/** Drops the key from memory once the transactions under way are done. */
export async function lock(): Promise<void> {
  await locked("exclusive", async () => {
    key = undefined;
  });
  keyEvents.dispatchEvent(new Event("locked"));
}

/** Wraps the data key under a new PIN; the current PIN is checked as at unlocking. */
export async function changeStorePin(current: string, next: string): Promise<void> {
  await locked("exclusive", () => changePin(vaultStore, current, next));
}

/** Records with changes not yet synced, counted without the key (heads are in clear). */
export async function unsyncedWhileLocked(): Promise<number> {
  const rows = await raw("records", (s) => s.getAll() as IDBRequest<StoredRecord[]>);
  return rows.filter(unsynced).length;
}

/** A forgotten PIN: deletes everything on this device, the vault too, so it can be enrolled
 * again. What was not synced is lost. */
export async function forgetEverything(): Promise<void> {
  await locked("exclusive", async () => {
    await writeAll((t) => STORES.forEach((s) => t.objectStore(s).clear()));
    written();
    key = undefined;
  });
  keyEvents.dispatchEvent(new Event("locked"));
}
