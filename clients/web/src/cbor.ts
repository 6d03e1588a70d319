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

/** Decodes CBOR; byte strings come back as Uint8Array, 64-bit integers as numbers. A message
 * with a tag is refused, as the server refuses one (docs/protocol.md section 5). */
export function decode(bytes: Uint8Array): unknown {
  const tag = firstTag(bytes);
  if (tag) throw new Error(`CBOR tag ${tag.tag} at byte ${tag.at} of the body: sync messages carry no tags`);
  return fix(codec.decode(bytes));
}

/** The first tag (major type 6) in CBOR, by walking item heads and skipping string contents;
 * malformed CBOR is left to the decoder. */
export function firstTag(b: Uint8Array): { tag: number; at: number } | undefined {
  let at = 0;
  while (at < b.length) {
    const head = b[at]!;
    const major = head >> 5;
    const info = head & 0x1f;
    const extra = info < 24 || info === 31 ? 0 : info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
    if (extra < 0 || at + 1 + extra > b.length) return undefined;
    let arg = info < 24 ? info : 0;
    for (let i = 1; i <= extra; i++) arg = arg * 256 + b[at + i]!;
    if (major === 6) return { tag: arg, at };
    at += 1 + extra;
    if ((major === 2 || major === 3) && info !== 31) at += arg;
  }
  return undefined;
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
