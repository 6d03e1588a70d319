// In-memory stand-ins for the IndexedDB transaction the sync client uses and for the vault's
// place in `meta`; values are copied in and out with structuredClone, as IndexedDB stores them.
import type { Meta, SetAside, StoredRecord, StoredReport } from "../src/store";
import type { SyncStore } from "../src/sync";
import type { Failures, VaultRecord, VaultStore } from "../src/vault";

export class MemoryStore implements SyncStore {
  records = new Map<string, StoredRecord>();
  metas = new Map<string, unknown>();
  setAside: SetAside[] = [];
  reports: StoredReport[] = [];
  async getRecord(id: string) {
    const r = this.records.get(id);
    return r && structuredClone(r);
  }
  async putRecord(r: StoredRecord) {
    this.records.set(r.id, structuredClone(r));
  }
  async deleteRecord(id: string) {
    this.records.delete(id);
  }
  async allRecords() {
    return [...this.records.values()].map((r) => structuredClone(r));
  }
  async meta<K extends keyof Meta>(k: K): Promise<Meta[K]> {
    return this.metas.get(k) as Meta[K];
  }
  async setMeta<K extends keyof Meta>(k: K, v: Meta[K]) {
    if (v === undefined) this.metas.delete(k);
    else this.metas.set(k, structuredClone(v));
  }
  async addSetAside(s: SetAside) {
    this.setAside.push(s);
  }
  async addReport(r: StoredReport) {
    this.reports.push(r);
  }
  async purge(id: string) {
    let removed = this.records.delete(id);
    const before = this.setAside.length + this.reports.length;
    this.setAside = this.setAside.filter((s) => s.recordId !== id);
    this.reports = this.reports.filter((r) => r.recordId !== id);
    removed ||= this.setAside.length + this.reports.length < before;
    return removed;
  }
  /** Deletes every record, set-aside copy, report and `meta` value, as a wipe does. */
  async clearAll() {
    this.records.clear();
    this.metas.clear();
    this.setAside = [];
    this.reports = [];
  }
}

/** The vault and the count of wrong PINs, kept as IndexedDB's `meta` keeps them: a new
 * `unlock` over the same store is a reload of the page. */
export class MemoryVaultStore implements VaultStore {
  vault?: VaultRecord;
  failures?: Failures;
  async getVault() {
    return this.vault && structuredClone(this.vault);
  }
  async putVault(v: VaultRecord) {
    this.vault = structuredClone(v);
  }
  async getFailures() {
    return this.failures && structuredClone(this.failures);
  }
  async putFailures(f: Failures) {
    this.failures = structuredClone(f);
  }
}
