// Sync protocol version 1: framing, compression and messages (docs/protocol.md sections 4-6).
import { decode, encode } from "./cbor";
import type { Band, Code, Complete, Definition, Item, ItemGroup, LookupRow, Method, ReliableChange, Scale, ScaleValue, Scoring } from "./instrument";

export const PROTOCOL_VERSION = 1;
export const ENCODING_DEFLATE = 1;
export const MEDIA_TYPE = "application/vnd.bothy.sync";
export const MAX_DECODED = 256 * 1024 * 1024;
const MAGIC = [0x42, 0x54, 0x48, 0x59];

export interface Cursor {
  seq: number;
  snapshot?: { at: number; after: Uint8Array };
  scope?: number;
  /** The server database's generation the position belongs to (opaque; sent back as received). */
  generation?: Uint8Array;
}
export interface RecordPush {
  id: Uint8Array;
  changes?: Uint8Array[];
  document?: Uint8Array;
}
export interface SyncRequest {
  cursor: Cursor;
  push?: RecordPush[];
  app?: string;
  pending?: number;
  setup?: string;
}
export type ReportKind =
  | "quarantined"
  | "refused"
  | "resend"
  | "flagged"
  | "erased"
  | "released"
  | "discarded";
export interface RecordReport {
  id: Uint8Array;
  kind: ReportKind;
  code: string;
  field?: string;
  message: string;
}
export type PullData = { changes: Uint8Array[] } | { snapshot: Uint8Array };
export interface RecordPull {
  id: Uint8Array;
  kind: string;
  project: string;
  data: PullData;
}
export interface InstrumentWording {
  instrument: string;
  language: string;
  licence?: string;
  version: number;
  items: Record<string, string>;
  responses: Record<string, string>;
}
export interface ProjectSetup {
  project: string;
  sites?: { slug: string; name: string }[];
  activities?: { slug: string; name: string; activity_type: string; site?: string }[];
  instruments?: InstrumentWording[];
  /** The project's own instrument definitions, every version (the JSON of sync-core's
   * `instrument::Definition`): forms show them, and responses are checked and scored, offline. */
  definitions?: Definition[];
  /** The follow-up schedule: when each questionnaire after baseline is due, in weeks after the
   * participant's baseline or in sessions attended (exactly one of the two per step). */
  followups?: { timepoint: string; after_weeks?: number; after_sessions?: number }[];
}
export interface Setup {
  version: string;
  projects?: ProjectSetup[];
  /** The user's role in each of their projects (project slug to role); absent from older servers. */
  roles?: Record<string, string>;
}
export interface SyncResponse {
  unacked: Uint8Array[];
  reports: RecordReport[];
  records: RecordPull[];
  erased: Uint8Array[];
  /** Records the device may no longer hold (a story made private by someone else): it deletes
   * its copy, as after an erasure, though the server keeps them. Empty when absent. */
  withdrawn: Uint8Array[];
  /** Records the server rewrote as new documents (a participant whose direct identifiers moved
   * to a contact record): the device deletes its copy, history and all, before merging the
   * records of the same answer; the server's copy follows. Empty when absent. */
  replaced: Uint8Array[];
  cursor: Cursor;
  more: boolean;
  server_time: number;
  setup?: Setup;
  /** The server was restored from a backup since this device's cursor was handed out: the device
   * sends everything it holds again (section 9.6). False when absent. */
  reconcile: boolean;
}

export class ProtocolError extends Error {}

// ---- UUIDs ----

/** A record id's 16 bytes; only its one text form (lower case, hyphenated) is accepted. */
export function uuidBytes(text: string): Uint8Array {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text)) {
    throw new ProtocolError(`not a record id in lower case with hyphens: ${text}`);
  }
  const hex = text.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function uuidText(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new ProtocolError("a UUID must be 16 bytes");
  const h = toHex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A new record id: a version 7 UUID (time-ordered, 74 random bits). */
export function uuidv7(now = Date.now()): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  const ms = BigInt(now);
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return uuidText(b);
}

// ---- compression and framing ----

async function pipe(bytes: Uint8Array, stream: TransformStream<Uint8Array, Uint8Array>, limit?: number): Promise<Uint8Array> {
  const input = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  const reader = input.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (limit !== undefined && total > limit) {
      await reader.cancel();
      throw new ProtocolError("the message decompresses to more than 256 MiB");
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const deflateRaw = (b: Uint8Array) =>
  pipe(b, new CompressionStream("deflate-raw") as unknown as TransformStream<Uint8Array, Uint8Array>);
export const inflateRaw = (b: Uint8Array) =>
  pipe(b, new DecompressionStream("deflate-raw") as unknown as TransformStream<Uint8Array, Uint8Array>, MAX_DECODED);

export function frame(body: Uint8Array, encoding = ENCODING_DEFLATE): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  out.set([...MAGIC, PROTOCOL_VERSION >> 8, PROTOCOL_VERSION & 0xff, encoding, 0]);
  out.set(body, 8);
  return out;
}

/** Checks the header (section 4, in its order) and returns the compressed body. */
export function unframe(message: Uint8Array): Uint8Array {
  if (message.length < 8) throw new ProtocolError("the sync message is truncated");
  if (!MAGIC.every((m, i) => message[i] === m)) throw new ProtocolError("not a sync message");
  const version = (message[4]! << 8) | message[5]!;
  if (version !== PROTOCOL_VERSION) throw new ProtocolError(`unsupported protocol version ${version}`);
  if (message[6] !== ENCODING_DEFLATE) throw new ProtocolError(`unexpected body encoding ${message[6]}`);
  return message.subarray(8);
}

// ---- messages ----

/** The CBOR of a request: empty lists and absent optional fields are left out (section 5). */
export function requestCbor(req: SyncRequest): Uint8Array {
  const cursor: Record<string, unknown> = { seq: req.cursor.seq };
  if (req.cursor.snapshot) cursor.snapshot = { at: req.cursor.snapshot.at, after: req.cursor.snapshot.after };
  if (req.cursor.scope) cursor.scope = req.cursor.scope;
  if (req.cursor.generation) cursor.generation = req.cursor.generation;
  const msg: Record<string, unknown> = { cursor };
  if (req.push && req.push.length > 0) {
    msg.push = req.push.map((p) => {
      const e: Record<string, unknown> = { id: p.id };
      if (p.changes && p.changes.length > 0) e.changes = p.changes;
      if (p.document) e.document = p.document;
      return e;
    });
  }
  if (req.app !== undefined) msg.app = req.app;
  if (req.pending !== undefined) msg.pending = req.pending;
  if (req.setup) msg.setup = req.setup;
  return encode(msg);
}

export async function encodeRequest(req: SyncRequest): Promise<Uint8Array> {
  return frame(await deflateRaw(requestCbor(req)));
}

const list = <T>(v: unknown): T[] => (v === undefined || v === null ? [] : Array.isArray(v) ? (v as T[]) : bad("a list"));
function bad(what: string): never {
  throw new ProtocolError(`the sync response is malformed: expected ${what}`);
}

/** A list of record ids (16 bytes each); absent or `null` is empty. */
function ids(v: unknown, what: string): Uint8Array[] {
  const out = list<unknown>(v);
  for (const id of out) if (!(id instanceof Uint8Array) || id.length !== 16) bad(`${what} to hold record ids (16 bytes each)`);
  return out as Uint8Array[];
}

function cursorFrom(v: unknown): Cursor {
  if (!v || typeof v !== "object") bad("a cursor");
  const c = v as Record<string, unknown>;
  if (typeof c.seq !== "number") bad("cursor.seq");
  const out: Cursor = { seq: c.seq };
  if (c.snapshot && typeof c.snapshot === "object") {
    const s = c.snapshot as Record<string, unknown>;
    out.snapshot = { at: s.at as number, after: s.after as Uint8Array };
  }
  if (typeof c.scope === "number" && c.scope !== 0) out.scope = c.scope;
  if (c.generation instanceof Uint8Array) out.generation = c.generation;
  return out;
}

/** Decodes a response's CBOR; missing lists are empty, `null` optional fields absent. */
export function responseFromCbor(cbor: Uint8Array): SyncResponse {
  const v = decode(cbor);
  if (!v || typeof v !== "object" || Array.isArray(v)) bad("a map");
  const m = v as Record<string, unknown>;
  if (typeof m.more !== "boolean") bad("more");
  if (typeof m.server_time !== "number") bad("server_time");
  if (m.reconcile !== undefined && m.reconcile !== null && typeof m.reconcile !== "boolean") bad("reconcile");
  const reports = list<Record<string, unknown>>(m.reports).map((r) => {
    const rep: RecordReport = {
      id: r.id as Uint8Array,
      kind: r.kind as ReportKind,
      code: String(r.code ?? ""),
      message: String(r.message ?? ""),
    };
    if (typeof r.field === "string") rep.field = r.field;
    return rep;
  });
  const records = list<Record<string, unknown>>(m.records).map((r) => {
    const data = r.data as Record<string, unknown>;
    let pd: PullData;
    if (data && data.snapshot instanceof Uint8Array) pd = { snapshot: data.snapshot };
    else if (data && Array.isArray(data.changes)) pd = { changes: data.changes as Uint8Array[] };
    else bad("records[].data");
    return { id: r.id as Uint8Array, kind: String(r.kind), project: String(r.project), data: pd };
  });
  const out: SyncResponse = {
    unacked: list<Uint8Array>(m.unacked),
    reports,
    records,
    erased: ids(m.erased, "erased"),
    withdrawn: ids(m.withdrawn, "withdrawn"),
    replaced: ids(m.replaced, "replaced"),
    cursor: cursorFrom(m.cursor),
    more: m.more,
    server_time: m.server_time,
    reconcile: m.reconcile === true,
  };
  if (m.setup && typeof m.setup === "object") {
    const s = m.setup as Record<string, unknown>;
    out.setup = { version: String(s.version ?? ""), projects: list<unknown>(s.projects).map((p, i) => projectSetupFrom(p, `setup.projects[${i}]`)) };
    if (s.roles !== undefined) {
      const entries = s.roles instanceof Map ? [...s.roles.entries()] : s.roles && typeof s.roles === "object" ? Object.entries(s.roles) : bad("setup.roles");
      out.setup.roles = {};
      for (const [project, role] of entries) {
        if (typeof project !== "string" || typeof role !== "string") bad("setup.roles");
        out.setup.roles[project] = role;
      }
    }
  }
  return out;
}

// ---- the set-up ----

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
function obj(v: unknown, path: string): Obj {
  return isObj(v) ? v : bad(`${path} to be a map`);
}
function str(v: unknown, path: string): string {
  return typeof v === "string" ? v : bad(`${path} to be text`);
}
function int(v: unknown, path: string): number {
  return typeof v === "number" && Number.isSafeInteger(v) ? v : bad(`${path} to be a whole number`);
}
function num(v: unknown, path: string): number {
  return typeof v === "number" && Number.isFinite(v) ? v : bad(`${path} to be a number`);
}
function bool(v: unknown, path: string): boolean {
  return typeof v === "boolean" ? v : bad(`${path} to be true or false`);
}
function arr<T>(v: unknown, path: string, each: (x: unknown, path: string) => T): T[] {
  if (!Array.isArray(v)) bad(`${path} to be a list`);
  return v.map((x, i) => each(x, `${path}[${i}]`));
}
/** Copies the optional field `k` of `m` through `read` when it is present (`null` is absent). */
function opt<T, K extends string>(m: Obj, k: K, path: string, read: (v: unknown, path: string) => T): { [P in K]?: T } {
  const v = m[k];
  return (v === undefined || v === null ? {} : { [k]: read(v, `${path}.${k}`) }) as { [P in K]?: T };
}
const ints = (v: unknown, path: string) => arr(v, path, int);

function scaleFrom(v: unknown, path: string): Scale {
  const m = obj(v, path);
  const values = (x: unknown, p: string): ScaleValue[] =>
    arr(x, p, (y, q) => {
      const e = obj(y, q);
      return { value: int(e.value, `${q}.value`), ...opt(e, "label", q, str) };
    });
  const out: Scale = { ...opt(m, "min", path, int), ...opt(m, "max", path, int), ...opt(m, "values", path, values) };
  const ranged = out.min !== undefined && out.max !== undefined;
  if ((out.min === undefined) !== (out.max === undefined)) bad(`${path} to give both min and max, or neither`);
  if (ranged ? out.min! > out.max! : !out.values?.length) bad(`${path} to allow some answers (min to max, or values)`);
  return out;
}

function itemFrom(v: unknown, path: string): Item {
  const m = obj(v, path);
  const n = int(m.number, `${path}.number`);
  if (n < 1 || n > 255) bad(`${path}.number to be 1 to 255`);
  return { number: n, ...opt(m, "key", path, str), scale: scaleFrom(m.scale, `${path}.scale`), ...opt(m, "text", path, str), ...opt(m, "reverse", path, bool) };
}

function bandFrom(v: unknown, path: string): Band {
  const m = obj(v, path);
  return { name: str(m.name, `${path}.name`), ...opt(m, "label", path, str), min: num(m.min, `${path}.min`), max: num(m.max, `${path}.max`) };
}
const bands = (v: unknown, path: string) => arr(v, path, bandFrom);

const METHODS: readonly Method[] = ["sum", "mean", "per_item"];
function scoringFrom(v: unknown, path: string): Scoring {
  const m = obj(v, path);
  const method = str(m.method, `${path}.method`) as Method;
  if (!METHODS.includes(method)) bad(`${path}.method to be one of ${METHODS.join(", ")}`);
  const complete = (x: unknown, p: string): Complete => (x === "all" ? "all" : { min_answered: int(obj(x, p).min_answered, `${p}.min_answered`) });
  const lookup = (x: unknown, p: string): LookupRow[] =>
    arr(x, p, (y, q) => {
      const e = obj(y, q);
      return { raw: int(e.raw, `${q}.raw`), score: num(e.score, `${q}.score`) };
    });
  const change = (x: unknown, p: string): ReliableChange[] =>
    arr(x, p, (y, q) => {
      const e = obj(y, q);
      return { points: num(e.points, `${q}.points`), ...opt(e, "label", q, str), ...opt(e, "source", q, str) };
    });
  const groups = (x: unknown, p: string): ItemGroup[] =>
    arr(x, p, (y, q) => {
      const e = obj(y, q);
      return { items: ints(e.items, `${q}.items`), ...opt(e, "bands", q, bands), ...opt(e, "higher_is_better", q, bool) };
    });
  return {
    ...opt(m, "name", path, str),
    method,
    ...opt(m, "subset", path, ints),
    ...opt(m, "lookup", path, lookup),
    ...opt(m, "complete", path, complete),
    ...opt(m, "bands", path, bands),
    higher_is_better: bool(m.higher_is_better, `${path}.higher_is_better`),
    ...opt(m, "reliable_change", path, change),
    ...opt(m, "per_item", path, groups),
    ...opt(m, "also", path, (x, p) => arr(x, p, scoringFrom)),
  };
}

/**
 * A project's instrument definition from the set-up, checked for every field the forms and the
 * scoring engine read (the server sends only definitions that passed sync-core's checks; this
 * refuses anything else naming the field, rather than failing later in a form).
 */
export function definitionFrom(v: unknown, path = "definition"): Definition {
  const m = obj(v, path);
  const version = int(m.version, `${path}.version`);
  if (version < 1 || version > 65535) bad(`${path}.version to be 1 to 65535`);
  const items = arr(m.items, `${path}.items`, itemFrom);
  if (items.length === 0) bad(`${path}.items to hold some items`);
  const numbers = new Set(items.map((i) => i.number));
  if (numbers.size !== items.length) bad(`${path}.items to number each item once`);
  const codes = (x: unknown, p: string): Code[] =>
    arr(x, p, (y, q) => {
      const e = obj(y, q);
      return { system: str(e.system, `${q}.system`), code: str(e.code, `${q}.code`), ...opt(e, "display", q, str), ...opt(e, "note", q, str) };
    });
  return {
    id: str(m.id, `${path}.id`),
    version,
    name: str(m.name, `${path}.name`),
    ...opt(m, "description", path, str),
    ...opt(m, "licensed_wording", path, bool),
    items,
    scoring: scoringFrom(m.scoring, `${path}.scoring`),
    ...opt(m, "codes", path, codes),
    ...opt(m, "sources", path, (x, p) => arr(x, p, str)),
  };
}

/** One project's set-up: its slug, sites, activities and instrument wording as sent, and its
 * instrument definitions checked. */
function projectSetupFrom(v: unknown, path: string): ProjectSetup {
  const m = obj(v, path);
  const out = { ...m, project: str(m.project, `${path}.project`) } as ProjectSetup;
  if (m.definitions === undefined || m.definitions === null) delete out.definitions;
  else out.definitions = arr(m.definitions, `${path}.definitions`, definitionFrom);
  return out;
}

export async function decodeResponse(message: Uint8Array): Promise<SyncResponse> {
  return responseFromCbor(await inflateRaw(unframe(message)));
}
