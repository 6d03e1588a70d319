// A record's current values in plain form, stored (sealed) beside its Automerge document so the
// lists read a typed view without loading every document: loading thousands of documents is
// what made a phone slow to start and to show its lists. The document stays the truth; the
// snapshot is rewritten from it whenever the record is stored (`storedFrom` in src/device.ts).
//
// Encoding (CBOR, src/cbor.ts), value by value: a scalar string (Automerge ImmutableString) as
// a string; a text field (collaborative text) as a one-element array holding its text; a number
// or a boolean as itself; a map as a map of the same. Anything else the typed view never shows
// (lists, counters, dates, bytes, null) is left out.
import * as A from "@automerge/automerge/slim";
import { decode, encode } from "./cbor";
import { isKind } from "./schema";
import type { Doc, View } from "./records";

/** A value of the plain form: see the encoding above. */
export type Plain = string | [string] | number | boolean | { [k: string]: Plain };
export type PlainState = Record<string, Plain>;

function plainOf(v: unknown): Plain | undefined {
  if (A.isImmutableString(v)) return (v as A.ImmutableString).val;
  if (typeof v === "string") return [v];
  if (typeof v === "number" || typeof v === "boolean") return v;
  if (v === null || typeof v !== "object" || Array.isArray(v) || A.isCounter(v) || v instanceof Date || v instanceof Uint8Array) return undefined;
  const out: Record<string, Plain> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const p = plainOf(x);
    if (p !== undefined) out[k] = p;
  }
  return out;
}

/** The document's current values in plain form. */
export function plainState(doc: Doc): PlainState {
  return plainOf(doc) as PlainState;
}

export const encodeState = (s: PlainState): Uint8Array => encode(s);
export function decodeState(bytes: Uint8Array): PlainState {
  const s = decode(bytes);
  if (s === null || typeof s !== "object" || Array.isArray(s)) throw new Error("a stored record snapshot is not a map of values");
  return s as PlainState;
}

const isText = (v: unknown): v is [string] => Array.isArray(v) && v.length === 1 && typeof v[0] === "string";
const isScalar = (v: unknown): v is string => typeof v === "string";
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isMap = (v: unknown): v is Record<string, Plain> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The typed view over a plain state: the same answers as `view(doc)` (src/records.ts) gives
 * over the document it was taken from. */
export function viewOfState(d: PlainState): View | undefined {
  const kind = isScalar(d.kind) ? d.kind : undefined;
  const project = isScalar(d.project) ? d.project : undefined;
  if (!isKind(kind) || project === undefined) return undefined;
  return {
    kind,
    project,
    created: isInt(d.created) ? d.created : 0,
    s: (n) => (isScalar(d[n]) ? (d[n] as string) : undefined),
    i: (n) => (isInt(d[n]) ? (d[n] as number) : undefined),
    b: (n) => (typeof d[n] === "boolean" ? (d[n] as boolean) : undefined),
    text: (n) => (isText(d[n]) ? (d[n] as [string])[0] : ""),
    map: (n) => {
      const m = d[n];
      const out: Record<string, string | number | boolean> = {};
      if (!isMap(m)) return out;
      for (const [k, x] of Object.entries(m)) {
        if (typeof x === "string" || typeof x === "number" || typeof x === "boolean") out[k] = x;
      }
      return out;
    },
    set: (n) => {
      const m = d[n];
      return isMap(m) ? Object.keys(m).filter((k) => m[k] === true).sort() : [];
    },
  };
}
