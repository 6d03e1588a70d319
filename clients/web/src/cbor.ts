// CBOR as the sync protocol uses it (docs/protocol.md section 5): maps with text keys, definite
// lengths, byte strings for bytes and UUIDs, integers in their shortest form, no tags.
import { Encoder } from "cbor-x";

const codec = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  tagUint8Array: false,
  useTag259ForMaps: false,
  bundleStrings: false,
  pack: false,
  int64AsType: "number",
} as ConstructorParameters<typeof Encoder>[0]);

/** Integers beyond 32 bits go as CBOR integers too (the encoder would write them as floats). */
function normalise(v: unknown): unknown {
  if (typeof v === "number") {
    if (Number.isInteger(v) && (v > 0xffffffff || v < -0x100000000)) return BigInt(v);
    return v;
  }
  if (v instanceof Uint8Array || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(normalise);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x !== undefined) out[k] = normalise(x);
  }
  return out;
}

export function encode(value: unknown): Uint8Array {
  const b = codec.encode(normalise(value));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Decodes CBOR; byte strings come back as Uint8Array, 64-bit integers as numbers. */
export function decode(bytes: Uint8Array): unknown {
  return fix(codec.decode(bytes));
}

function fix(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(fix);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = fix(x);
  return out;
}
