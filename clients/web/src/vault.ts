// Encryption at rest for the device's IndexedDB, with the browser's WebCrypto and nothing else.
//
// A random AES-256-GCM data key encrypts every stored value that can carry participant data or
// a credential. Each value gets a fresh random 96-bit IV, and additional data naming the store,
// the record and the field, so a value moved to another record or field no longer opens. The
// data key is kept on the device only wrapped (AES-KW) by a key derived from the user's PIN with
// PBKDF2-SHA-256 and a random salt; unwrapped, it is non-extractable and lives in memory only.
//
// Wrong PINs are counted in the store (a reload does not reset the count): after
// `FREE_TRIES` in a row every further try must wait, twice as long each time.
import { t } from "./i18n";

/** PBKDF2-SHA-256 iterations for a new vault (OWASP's 2023 figure for PBKDF2-HMAC-SHA256). */
export const PBKDF2_ITERATIONS = 600_000;
/** The shortest PIN accepted, in characters. */
export const MIN_PIN_LENGTH = 6;
/** Wrong PINs in a row allowed before a wait. */
export const FREE_TRIES = 5;
/** The first wait (after `FREE_TRIES` wrong PINs), doubled by each further wrong PIN. */
export const FIRST_WAIT_MS = 30_000;
/** The longest wait. */
export const MAX_WAIT_MS = 60 * 60_000;

/** The vault as stored, in clear: nothing in it opens without the PIN. */
export interface VaultRecord {
  version: 1;
  kdf: "PBKDF2-SHA-256";
  iterations: number;
  salt: Uint8Array;
  /** The data key (raw AES-256) wrapped with AES-KW (RFC 3394) by the key the PIN derives. */
  wrapped: Uint8Array;
}

/** Wrong PINs in a row, and until when (ms since the epoch) the next try must wait. */
export interface Failures {
  count: number;
  until: number;
}

/** Where the vault and the count of wrong PINs are kept (IndexedDB's `meta` in the app). */
export interface VaultStore {
  getVault(): Promise<VaultRecord | undefined>;
  putVault(v: VaultRecord): Promise<void>;
  getFailures(): Promise<Failures | undefined>;
  putFailures(f: Failures): Promise<void>;
}

export class WrongPin extends Error {
  constructor(
    /** Wrong PINs in a row, this one included. */
    public failures: number,
    /** How long the next try must wait (0: it may follow at once). */
    public waitMs: number,
  ) {
    super(waitMs > 0 ? t("lock.err.wrongWait", { wait: duration(waitMs) }) : t("lock.err.wrong", { left: Math.max(FREE_TRIES - failures, 0) }));
  }
}

export class MustWait extends Error {
  constructor(public waitMs: number) {
    super(t("lock.err.wait", { wait: duration(waitMs) }));
  }
}

/** A stored value that does not open with the data key: changed, damaged or moved. */
export class Tampered extends Error {
  constructor(what: string) {
    super(t("lock.err.tampered", { what }));
  }
}

/** A wait in words: "30 seconds", "2 minutes", "1 minute 15 seconds", "1 hour". */
export function duration(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts: string[] = [];
  if (h) parts.push(t("time.hours", { count: h }));
  if (m) parts.push(t("time.minutes", { count: m }));
  if (sec && !h) parts.push(t("time.seconds", { count: sec }));
  return parts.join(" ");
}

/** The wait that follows the `count`-th wrong PIN in a row. */
export function waitAfter(count: number): number {
  if (count < FREE_TRIES) return 0;
  return Math.min(FIRST_WAIT_MS * 2 ** (count - FREE_TRIES), MAX_WAIT_MS);
}

/** Why a new PIN is refused (an error code for `err.<code>`), or undefined. */
export function pinProblem(pin: string, confirm: string): { code: string; field: string; params?: Record<string, number> } | undefined {
  if ([...pin].length < MIN_PIN_LENGTH) return { code: "pin_too_short", field: "pin", params: { min: MIN_PIN_LENGTH } };
  if (pin !== confirm) return { code: "pin_mismatch", field: "pin-confirm" };
  return undefined;
}

const SEALED_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
// TypeScript's DOM types want ArrayBuffer-backed views; every view here is one.
const buf = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

async function pinKey(pin: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", utf8.encode(pin.normalize("NFC")), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: buf(salt), iterations }, base, { name: "AES-KW", length: 256 }, false, ["wrapKey", "unwrapKey"]);
}

async function wrapNew(dataKey: CryptoKey, pin: string, iterations: number): Promise<VaultRecord> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const kek = await pinKey(pin, salt, iterations);
  const wrapped = new Uint8Array(await crypto.subtle.wrapKey("raw", dataKey, kek, "AES-KW"));
  return { version: 1, kdf: "PBKDF2-SHA-256", iterations, salt, wrapped };
}

/** The data key, opened with the PIN; `extractable` only to wrap it again under a new PIN. */
async function unwrap(v: VaultRecord, pin: string, extractable = false): Promise<CryptoKey | undefined> {
  if (v.version !== 1 || v.kdf !== "PBKDF2-SHA-256") throw new Error(`unknown vault version ${v.version} (${v.kdf})`);
  const kek = await pinKey(pin, v.salt, v.iterations);
  try {
    return await crypto.subtle.unwrapKey("raw", buf(v.wrapped), kek, "AES-KW", { name: "AES-GCM", length: 256 }, extractable, ["encrypt", "decrypt"]);
  } catch {
    return undefined; // AES-KW's integrity check failed: another PIN
  }
}

/** A new vault for `pin`: a random data key, returned non-extractable, and its wrapped form. */
export async function createVault(pin: string, iterations = PBKDF2_ITERATIONS): Promise<{ record: VaultRecord; key: CryptoKey }> {
  const fresh = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
  const record = await wrapNew(fresh, pin, iterations);
  const key = await unwrap(record, pin);
  if (!key) throw new Error("a new vault did not open with its own PIN");
  return { record, key };
}

/** Counts a try before the key is derived (closing the page meanwhile does not undo it), and
 * refuses one made during a wait. Returns the count to record on failure. */
async function countTry(store: VaultStore, now: number): Promise<{ count: number; wait: number }> {
  const f = (await store.getFailures()) ?? { count: 0, until: 0 };
  // A clock set back does not make the wait longer than the rule gives.
  const until = Math.min(f.until, now + waitAfter(f.count));
  if (now < until) throw new MustWait(until - now);
  const count = f.count + 1;
  const wait = waitAfter(count);
  await store.putFailures({ count, until: wait ? now + wait : 0 });
  return { count, wait };
}

/** Opens the vault with the PIN: the data key, or `WrongPin` / `MustWait`. */
export async function unlock(store: VaultStore, pin: string, now = Date.now()): Promise<CryptoKey> {
  const v = await store.getVault();
  if (!v) throw new Error("this device has no PIN yet");
  const { count, wait } = await countTry(store, now);
  const key = await unwrap(v, pin);
  if (!key) throw new WrongPin(count, wait);
  await store.putFailures({ count: 0, until: 0 });
  return key;
}

/** Wraps the same data key under a new PIN (and a new salt); the old PIN counts as a try. */
export async function changePin(store: VaultStore, oldPin: string, newPin: string, now = Date.now()): Promise<void> {
  const v = await store.getVault();
  if (!v) throw new Error("this device has no PIN yet");
  const { count, wait } = await countTry(store, now);
  const key = await unwrap(v, oldPin, true);
  if (!key) throw new WrongPin(count, wait);
  await store.putFailures({ count: 0, until: 0 });
  await store.putVault(await wrapNew(key, newPin, Math.max(v.iterations, PBKDF2_ITERATIONS)));
}

/** The additional data that binds a value to its place: store, record (or meta key), field. */
export const placeOf = (store: string, id: string, field: string) => `bothy/1/${store}/${id}/${field}`;

/** Encrypts `plain` for its place: version byte, 12-byte IV, ciphertext with a 16-byte tag. */
export async function seal(key: CryptoKey, plain: Uint8Array, place: string): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8.encode(place), tagLength: TAG_BYTES * 8 }, key, buf(plain));
  const out = new Uint8Array(1 + IV_BYTES + ct.byteLength);
  out[0] = SEALED_V1;
  out.set(iv, 1);
  out.set(new Uint8Array(ct), 1 + IV_BYTES);
  return out;
}

/** Decrypts a value sealed for `place`; `Tampered` if it was changed or belongs elsewhere. */
export async function unseal(key: CryptoKey, sealed: unknown, place: string): Promise<Uint8Array> {
  if (!(sealed instanceof Uint8Array) || sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== SEALED_V1) throw new Tampered(place);
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: buf(sealed.subarray(1, 1 + IV_BYTES)), additionalData: utf8.encode(place), tagLength: TAG_BYTES * 8 },
      key,
      buf(sealed.subarray(1 + IV_BYTES)),
    );
    return new Uint8Array(plain);
  } catch {
    throw new Tampered(place);
  }
}

/** Whether a stored value is in the sealed form (for checks; it says nothing of who sealed it). */
export const isSealed = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length >= 1 + IV_BYTES + TAG_BYTES && v[0] === SEALED_V1;
