// Competing values: fields two devices set to different values at the same time. Automerge
// keeps every competing value and shows one; text fields (a story's body, notes) merge
// character by character and never conflict. The sync screen lists them (src/ui/conflicts.ts);
// each stored record carries a flag saying whether it has any (src/snapshot.ts).
import * as A from "@automerge/automerge/slim";
import { scalarStr, type Doc, type FieldValue } from "./records";

/** One competing value of a field, and the actor that wrote it. */
export interface Competing {
  value: FieldValue;
  actor: string;
}

/** A field (`site`, `attendance.<participant id>`, `referral.source`) with its competing values,
 * the one the document shows first. */
export interface FieldConflict {
  path: string;
  values: Competing[];
}

/** Text fields merge and never conflict. */
const TEXT_FIELDS = new Set(["notes", "body"]);

function plain(v: unknown): FieldValue | undefined {
  const s = scalarStr(v);
  if (s !== undefined) return s;
  // `A.getConflicts` gives a scalar string as a plain string.
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  return undefined;
}

function competing(obj: unknown, key: string, shown: unknown): Competing[] | undefined {
  const c = A.getConflicts(obj as Doc, key);
  if (!c || Object.keys(c).length < 2) return undefined;
  const out: Competing[] = [];
  for (const [op, v] of Object.entries(c)) {
    const value = plain(v);
    if (value === undefined) continue;
    out.push({ value, actor: op.slice(op.indexOf("@") + 1) });
  }
  // The value the document shows first, then the others in a fixed order.
  const first = plain(shown);
  out.sort((a, b) => Number(b.value === first) - Number(a.value === first) || (String(a.value) < String(b.value) ? -1 : String(a.value) > String(b.value) ? 1 : a.actor < b.actor ? -1 : 1));
  // Two devices that wrote the same value do not disagree.
  return new Set(out.map((x) => JSON.stringify(x.value))).size > 1 ? out : undefined;
}

/** Every field of a document with competing values (the fields `dev.conflicts` names). */
export function conflictsOf(doc: Doc): FieldConflict[] {
  const out: FieldConflict[] = [];
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d).sort()) {
    if (TEXT_FIELDS.has(k)) continue;
    const top = competing(doc, k, d[k]);
    if (top) out.push({ path: k, values: top });
    const v = d[k];
    if (v && typeof v === "object" && !A.isImmutableString(v) && !A.isCounter(v)) {
      const m = v as Record<string, unknown>;
      for (const sub of Object.keys(m).sort()) {
        const c = competing(v, sub, m[sub]);
        if (c) out.push({ path: `${k}.${sub}`, values: c });
      }
    }
  }
  return out;
}

