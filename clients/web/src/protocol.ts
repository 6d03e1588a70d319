// Sync protocol version 1: framing, compression and messages (docs/protocol.md sections 4-6).
import { decode, encode } from "./cbor";

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
    erased: list<Uint8Array>(m.erased),
    cursor: cursorFrom(m.cursor),
    more: m.more,
    server_time: m.server_time,
    reconcile: m.reconcile === true,
  };
  if (m.setup && typeof m.setup === "object") {
    const s = m.setup as Record<string, unknown>;
    out.setup = { version: String(s.version ?? ""), projects: list<ProjectSetup>(s.projects) };
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

export async function decodeResponse(message: Uint8Array): Promise<SyncResponse> {
  return responseFromCbor(await inflateRaw(unframe(message)));
}
