// Records as Automerge documents, laid out exactly as the server's record module lays them out:
// root `kind`, `project` (string scalars), `v`, `created` (ints), every map, set and text field
// created once in the first change and never replaced; scalar strings are never text objects.
import * as A from "@automerge/automerge/slim";
import { has, t } from "./i18n";
import { allows, answersOf, knownIds, lookup, type Definition } from "./instrument";
import { field, isKind, SCHEMA, ENVELOPE_FIELDS, ATTENDANCE_MARKS, type FieldType, type RecordKind } from "./schema";

export const SCHEMA_VERSION = 1;
export type FieldValue = string | number | boolean;
export type Doc = A.Doc<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Draft = Record<string, any>;

/** A problem with one field: `field` is a path such as `end`, `items.3`, `attendance.<id>`. */
export interface FieldError {
  field: string;
  code: string;
  params?: Record<string, string | number>;
}

/** What an error says, in the current language (a role and a kind of record in words). */
export function errorMessage(e: FieldError): string {
  const params = { ...(e.params ?? {}) };
  if (typeof params.role === "string" && has(`role.${params.role}`)) params.role = t(`role.${params.role}`);
  if (typeof params.kinds === "string" && has(`kinds.${params.kinds}`)) params.kinds = t(`kinds.${params.kinds}`);
  return t(`err.${e.code}`, params);
}

/** Refused input; the message names each field: `items.3: Must be 1 to 5 (got 7); date: ...`. */
export class InvalidRecord extends Error {
  constructor(public errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${errorMessage(e).replace(/\.$/, "")}`).join("; "));
  }
}

// Ids have one text form (docs/data-model.md): lower-case hexadecimal with hyphens. Upper case
// or no hyphens would make one participant two attendance keys.
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SLUG_RE = /^[a-z0-9-]{1,64}$/;
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export const isUuid = (s: string) => UUID_RE.test(s);

export function isDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!));
  return d.getUTCFullYear() === +m[1]! && d.getUTCMonth() === +m[2]! - 1 && d.getUTCDate() === +m[3]!;
}

export function parseDateTime(s: string): number | undefined {
  const m = RFC3339_RE.exec(s);
  if (!m || !isDate(`${m[1]}-${m[2]}-${m[3]}`) || +m[4]! > 23 || +m[5]! > 59 || +m[6]! > 60) return undefined;
  const t = Date.parse(s.replace(" ", "T").replace("t", "T").replace("z", "Z"));
  return Number.isNaN(t) ? undefined : t;
}

// ---- reading values ----

export function scalarStr(v: unknown): string | undefined {
  return A.isImmutableString(v) ? (v as A.ImmutableString).val : undefined;
}
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !A.isImmutableString(v) && !A.isCounter(v) && !(v instanceof Date) && !(v instanceof Uint8Array);

function typeName(v: unknown): string {
  if (typeof v === "string") return "text";
  if (A.isImmutableString(v)) return `text "${scalarStr(v)}"`;
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return String(v);
  if (v === null) return "nothing";
  return "a group of values";
}

function checkScalar(ty: FieldType, v: unknown): Omit<FieldError, "field"> | undefined {
  const s = scalarStr(v);
  switch (ty.t) {
    case "str":
      if (s === undefined) return { code: "must_be_text", params: { got: typeName(v) } };
      return [...s].length <= ty.max ? undefined : { code: "too_long", params: { max: ty.max } };
    case "choice":
      return s !== undefined && ty.options.includes(s) ? undefined : { code: "must_be_one_of", params: { options: ty.options.join(", ") } };
    case "date":
      return s !== undefined && isDate(s) ? undefined : { code: "must_be_date", params: { got: s ?? typeName(v) } };
    case "datetime":
      return s !== undefined && parseDateTime(s) !== undefined ? undefined : { code: "must_be_datetime", params: { got: s ?? typeName(v) } };
    case "int":
      if (!isInt(v)) return { code: "must_be_whole_number", params: { got: typeName(v) } };
      return v >= ty.min && v <= ty.max ? undefined : { code: "out_of_range", params: { min: ty.min, max: ty.max, got: v } };
    case "bool":
      return typeof v === "boolean" ? undefined : { code: "must_be_bool" };
    case "ref":
      return s !== undefined && isUuid(s) ? undefined : { code: "must_be_record_id" };
    default:
      return { code: "unexpected_value" };
  }
}

/** Checks a record document against its schema (the server's checks). Empty means valid. */
export function validate(d: Doc): FieldError[] {
  const errs: FieldError[] = [];
  const kind = scalarStr(d.kind);
  if (kind === undefined) return [{ field: "kind", code: "required" }];
  if (!isKind(kind)) return [{ field: "kind", code: "unknown_kind" }];
  const project = scalarStr(d.project);
  if (project === undefined) errs.push({ field: "project", code: "required" });
  else if (!SLUG_RE.test(project)) errs.push({ field: "project", code: "bad_slug" });
  if (!isInt(d.v)) errs.push({ field: "v", code: "required" });
  else if (d.v !== SCHEMA_VERSION) errs.push({ field: "v", code: "unsupported_version" });
  if (!isInt(d.created)) errs.push({ field: "created", code: "required" });
  for (const key of Object.keys(d)) {
    if (!ENVELOPE_FIELDS.includes(key) && !field(kind, key)) errs.push({ field: key, code: "not_a_field" });
  }
  const instrument = kind === "wellbeing" ? responseDefinition(d, project ?? "", errs) : undefined;
  for (const fd of SCHEMA[kind]) {
    const v = d[fd.name];
    if (v === undefined) {
      if (fd.required) errs.push({ field: fd.name, code: "required" });
      continue;
    }
    const ty = fd.ty;
    if (ty.t === "map") {
      if (!isMap(v)) {
        errs.push({ field: fd.name, code: "must_be_group" });
        continue;
      }
      for (const [k, x] of Object.entries(v)) {
        const path = `${fd.name}.${k}`;
        if (ty.spec === "attendance") {
          if (!isUuid(k)) errs.push({ field: path, code: "attendance_key" });
          else {
            const e = checkScalar({ t: "choice", options: ATTENDANCE_MARKS }, x);
            if (e) errs.push({ field: path, ...e });
          }
        } else if (ty.spec === "items") {
          // The instrument's own error is reported on its field.
          if (!instrument) continue;
          const n = Number(k);
          const item = /^[1-9][0-9]{0,2}$/.test(k) && n <= 255 ? instrument.items.find((i) => i.number === n) : undefined;
          if (!item) errs.push({ field: path, code: "no_such_item", params: { instrument: instrument.id, count: instrument.items.length } });
          else if (!isInt(x)) errs.push({ field: path, code: "must_be_whole_number", params: { got: typeName(x) } });
          else if (!allows(item.scale, x)) errs.push({ field: path, code: "not_an_answer", params: { answers: answersOf(item.scale), got: x } });
        } else {
          const inner = ty.spec.fields.find((x) => x.name === k);
          if (!inner) errs.push({ field: path, code: "not_a_field" });
          else {
            const e = checkScalar(inner.ty, x);
            if (e) errs.push({ field: path, ...e });
          }
        }
      }
    } else if (ty.t === "set") {
      if (!isMap(v)) {
        errs.push({ field: fd.name, code: "must_be_set" });
        continue;
      }
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== "boolean") errs.push({ field: `${fd.name}.${k}`, code: "must_be_bool" });
        else if (k.length === 0 || [...k].length > 100) errs.push({ field: `${fd.name}.${k}`, code: "word_length" });
      }
    } else if (ty.t === "text") {
      if (typeof v !== "string") errs.push({ field: fd.name, code: "must_be_collaborative_text" });
      else if (new TextEncoder().encode(v).length > 1_000_000) errs.push({ field: fd.name, code: "text_too_long" });
    } else {
      const e = checkScalar(ty, v);
      if (e) errs.push({ field: fd.name, ...e });
    }
  }
  if (kind === "session") {
    const start = scalarStr(d.start), end = scalarStr(d.end);
    const s = start === undefined ? undefined : parseDateTime(start);
    const e = end === undefined ? undefined : parseDateTime(end);
    if (s !== undefined && e !== undefined && e < s) errs.push({ field: "end", code: "end_before_start", params: { start: start!, end: end! } });
  }
  return errs;
}

/**
 * The definition a wellbeing response names (see `lookup`), or undefined with the error saying
 * why there is none: an id the project does not know, or a version it lacks.
 */
function responseDefinition(d: Doc, project: string, errs: FieldError[]): Definition | undefined {
  const id = scalarStr(d.instrument);
  // Missing or of the wrong type: reported on the field itself.
  if (id === undefined) return undefined;
  // As sync-core reads it: a whole number that fits 32 bits unsigned, else absent (version 1).
  const version = isInt(d.instrument_version) && d.instrument_version >= 0 && d.instrument_version <= 0xffff_ffff ? d.instrument_version : undefined;
  const def = lookup(project, id, version);
  if (def) return def;
  const known = knownIds(project);
  if (known.includes(id)) errs.push({ field: "instrument_version", code: "no_such_version", params: { instrument: id, version: version ?? 1, project } });
  else errs.push({ field: "instrument", code: "not_an_instrument", params: { instrument: id, project, known: known.join(", ") } });
  return undefined;
}

// ---- writing ----

/** Writes fields of one record inside a change. Paths: `end`, `attendance.<id>`, `items.3`, `themes.<word>`. */
export class Editor {
  errors: FieldError[] = [];
  constructor(private d: Draft, private kind: RecordKind) {}

  private resolve(path: string): { obj: Record<string, unknown>; key: string; ty: FieldType } | undefined {
    const dot = path.indexOf(".");
    const top = dot < 0 ? path : path.slice(0, dot);
    const sub = dot < 0 ? undefined : path.slice(dot + 1);
    const fd = field(this.kind, top);
    if (!fd) {
      this.errors.push({ field: path, code: "not_a_field" });
      return undefined;
    }
    if (sub === undefined) {
      if (fd.ty.t === "map" || fd.ty.t === "set") {
        this.errors.push({ field: path, code: "name_an_entry" });
        return undefined;
      }
      return { obj: this.d, key: top, ty: fd.ty };
    }
    if (fd.ty.t !== "map" && fd.ty.t !== "set") {
      this.errors.push({ field: path, code: "no_entries" });
      return undefined;
    }
    const obj = this.d[top];
    if (!isMap(obj)) {
      this.errors.push({ field: path, code: "required" });
      return undefined;
    }
    let ty: FieldType = { t: "bool" };
    if (fd.ty.t === "map") {
      const spec = fd.ty.spec;
      if (spec === "attendance") ty = { t: "choice", options: ATTENDANCE_MARKS };
      else if (spec === "items") ty = { t: "int", min: 0, max: 10 };
      else {
        const inner = spec.fields.find((x) => x.name === sub);
        if (!inner) {
          this.errors.push({ field: path, code: "not_a_field" });
          return undefined;
        }
        ty = inner.ty;
      }
    }
    return { obj, key: sub, ty };
  }

  set(path: string, value: FieldValue): void {
    const r = this.resolve(path);
    if (!r) return;
    if (r.ty.t === "text") {
      if (typeof value !== "string") {
        this.errors.push({ field: path, code: "must_be_text", params: { got: typeName(value) } });
        return;
      }
      if (typeof r.obj[r.key] !== "string") {
        this.errors.push({ field: path, code: "must_be_collaborative_text" });
        return;
      }
      A.updateText(this.d, [r.key], value);
      return;
    }
    if (typeof value === "string") r.obj[r.key] = new A.ImmutableString(value);
    else if (typeof value === "number") r.obj[r.key] = Number.isInteger(value) ? new A.Int(value) : value;
    else r.obj[r.key] = value;
  }

  clear(path: string): void {
    const r = this.resolve(path);
    if (!r) return;
    if (r.ty.t === "text") this.set(path, "");
    else if (r.obj[r.key] !== undefined) delete r.obj[r.key];
  }

  add(set: string, word: string): void {
    this.set(`${set}.${word}`, true);
  }
}

/** Creates a record in one change authored by `actor` at device time `now` (Unix seconds). */
export function createRecord(actor: string, kind: RecordKind, project: string, fields: [string, FieldValue][], now: number): Doc {
  if (!SLUG_RE.test(project)) throw new InvalidRecord([{ field: "project", code: "bad_slug" }]);
  let errors: FieldError[] = [];
  const doc = A.change(A.init<Record<string, unknown>>({ actor }), { time: now }, (d: Draft) => {
    d.kind = new A.ImmutableString(kind);
    d.project = new A.ImmutableString(project);
    d.v = new A.Int(SCHEMA_VERSION);
    d.created = new A.Int(now);
    for (const fd of SCHEMA[kind]) {
      if (fd.ty.t === "text") d[fd.name] = "";
      else if (fd.ty.t === "map" || fd.ty.t === "set") d[fd.name] = {};
    }
    const ed = new Editor(d, kind);
    for (const [path, value] of fields) ed.set(path, value);
    errors = ed.errors;
  });
  errors = dedupe([...errors, ...validate(doc)]);
  if (errors.length > 0) throw new InvalidRecord(errors);
  return doc;
}

/**
 * Applies `edits` as one change. If the edit leaves a field invalid that was valid before, it
 * throws and the caller keeps its stored copy (the returned document replaces `doc`).
 */
export function editRecord(doc: Doc, now: number, edits: (ed: Editor) => void): { doc: Doc; changed: boolean } {
  const kind = scalarStr(doc.kind);
  if (!isKind(kind)) throw new InvalidRecord([{ field: "kind", code: "unknown_kind" }]);
  const before = new Set(validate(doc).map(key));
  const heads = A.getHeads(doc).join();
  let errors: FieldError[] = [];
  const next = A.change(doc, { time: now }, (d: Draft) => {
    const ed = new Editor(d, kind);
    edits(ed);
    errors = ed.errors;
  });
  errors = dedupe([...errors, ...validate(next).filter((e) => !before.has(key(e)))]);
  if (errors.length > 0) throw new InvalidRecord(errors);
  return { doc: next, changed: A.getHeads(next).join() !== heads };
}

const key = (e: FieldError) => `${e.field}\u0000${e.code}`;
function dedupe(errs: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errs.filter((e) => (seen.has(key(e)) ? false : (seen.add(key(e)), true)));
}

// ---- a typed, best-effort view ----

export interface View {
  kind: RecordKind;
  project: string;
  created: number;
  s: (name: string) => string | undefined;
  i: (name: string) => number | undefined;
  b: (name: string) => boolean | undefined;
  text: (name: string) => string;
  map: (name: string) => Record<string, string | number | boolean>;
  set: (name: string) => string[];
}

export function view(d: Doc): View | undefined {
  const kind = scalarStr(d.kind);
  const project = scalarStr(d.project);
  if (!isKind(kind) || project === undefined) return undefined;
  return {
    kind,
    project,
    created: isInt(d.created) ? d.created : 0,
    s: (n) => scalarStr(d[n]),
    i: (n) => (isInt(d[n]) ? d[n] : undefined),
    b: (n) => (typeof d[n] === "boolean" ? d[n] : undefined),
    text: (n) => (typeof d[n] === "string" ? d[n] : ""),
    map: (n) => {
      const m = d[n];
      const out: Record<string, string | number | boolean> = {};
      if (!isMap(m)) return out;
      for (const [k, x] of Object.entries(m)) {
        const s = scalarStr(x);
        if (s !== undefined) out[k] = s;
        else if (typeof x === "number" || typeof x === "boolean") out[k] = x;
      }
      return out;
    },
    set: (n) => {
      const m = d[n];
      return isMap(m) ? Object.keys(m).filter((k) => m[k] === true).sort() : [];
    },
  };
}

/** Items of a wellbeing response as numbers by item number. */
export function items(v: View): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [k, x] of Object.entries(v.map("items"))) if (typeof x === "number") out[Number(k)] = x;
  return out;
}
