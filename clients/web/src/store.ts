// The device's local database (IndexedDB). Every record is kept as a saved Automerge document
// with its current heads and the heads the server is known to hold (`acked`, null when the
// server has acknowledged nothing). A record is unsynced while the two differ. Nothing is
// deleted except as the server decides: an erasure, a record the user may no longer hold, or
// one the server rewrote (src/sync.ts).
import type { Cursor, Setup } from "./protocol";

export interface StoredRecord {
  id: string;
  kind: string;
  project: string;
  doc: Uint8Array;
  heads: string[];
  acked: string[] | null;
  updated: number;
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
}

const DB = "bothy";
const STORES = ["records", "setAside", "reports", "meta"] as const;
export type StoreName = (typeof STORES)[number];

export function unsynced(r: StoredRecord): boolean {
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

/** One transaction. `fn` may await requests on `tx` but nothing else, or the transaction ends. */
export class Tx {
  constructor(public tx: IDBTransaction) {}
  store(name: StoreName) {
    return this.tx.objectStore(name);
  }
  getRecord(id: string): Promise<StoredRecord | undefined> {
    return req(this.store("records").get(id));
  }
  putRecord(r: StoredRecord): Promise<unknown> {
    return req(this.store("records").put(r));
  }
  deleteRecord(id: string): Promise<unknown> {
    return req(this.store("records").delete(id));
  }
  allRecords(): Promise<StoredRecord[]> {
    return req(this.store("records").getAll());
  }
  async meta<K extends keyof Meta>(k: K): Promise<Meta[K]> {
    return (await req(this.store("meta").get(k))) as Meta[K];
  }
  setMeta<K extends keyof Meta>(k: K, v: Meta[K]): Promise<unknown> {
    return v === undefined ? req(this.store("meta").delete(k)) : req(this.store("meta").put(v, k));
  }
  addSetAside(s: SetAside): Promise<unknown> {
    return req(this.store("setAside").add(s));
  }
  addReport(r: StoredReport): Promise<unknown> {
    return req(this.store("reports").add(r));
  }
  async purge(id: string): Promise<boolean> {
    let removed = (await this.getRecord(id)) !== undefined;
    await this.deleteRecord(id);
    for (const s of ["setAside", "reports"] as const) {
      const keys = await req(this.store(s).index("recordId").getAllKeys(id));
      for (const k of keys) await req(this.store(s).delete(k));
      removed ||= keys.length > 0;
    }
    return removed;
  }
}

export async function transaction<T>(stores: StoreName[], mode: IDBTransactionMode, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const db = await open();
  const t = db.transaction(stores, mode, { durability: "strict" } as IDBTransactionOptions);
  const done = new Promise<void>((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error ?? new Error("transaction aborted"));
  });
  let result: T;
  try {
    result = await fn(new Tx(t));
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
  return result;
}

export const read = <T>(fn: (tx: Tx) => Promise<T>) => transaction([...STORES], "readonly", fn);
export const write = <T>(fn: (tx: Tx) => Promise<T>) => transaction([...STORES], "readwrite", fn);

export async function allReports(): Promise<StoredReport[]> {
  return read((tx) => req(tx.store("reports").getAll()));
}
export async function allSetAside(): Promise<SetAside[]> {
  return read((tx) => req(tx.store("setAside").getAll()));
}
