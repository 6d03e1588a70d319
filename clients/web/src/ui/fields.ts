// Fields of the schema that the screens do not name one by one. Every plain field of a record
// kind (text, a choice, a date, a time, a number, yes/no, a record id) gets a control chosen by
// its type and labelled with its messages (`field.<kind>.<name>`, its `.hint`, and
// `choice.<kind>.<name>.<value>`; the schema's English label and help only if a message is
// missing, which test/schema-messages.test.ts refuses), is read back typed for its field, and is
// shown on the record's screen; so a field added to sync-core's schema reaches the app by
// regenerating src/generated/schema.json and adding its words to src/i18n/en.ts, with no code
// of its own.
import { has, t } from "../i18n";
import type { FieldError, FieldValue, View } from "../records";
import { ACTIVITY_TYPES, SCHEMA, type Field, type RecordKind } from "../schema";
import type { FieldOpts } from "./dom";
import { ukLocalToUtc } from "../time";
import { formatDateTime } from "../i18n/format";

/** Types of the fields that hold one plain value. */
const PLAIN: ReadonlySet<string> = new Set(["str", "choice", "date", "datetime", "int", "bool", "ref"]);

export const isPlain = (f: Field): boolean => PLAIN.has(f.ty.t);

/** The plain fields of a kind, in schema order. */
export const plainFields = (kind: RecordKind): Field[] => SCHEMA[kind].filter(isPlain);

/** The plain fields of a kind that a screen does not handle by hand. */
export const otherFields = (kind: RecordKind, handled: readonly string[]): Field[] => plainFields(kind).filter((f) => !handled.includes(f.name));

/** Fields the session screen shows by hand: its title and times. */
export const SESSION_VIEW: readonly string[] = ["site", "activity", "start", "end"];

const humanise = (name: string) => {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/** A field's name on forms: the app's own words (`field.<kind>.<name>`) if it has them, else the schema's label. */
export function labelOf(kind: RecordKind, f: Field): string {
  const key = `field.${kind}.${f.name}`;
  return has(key) ? t(key) : f.label || humanise(f.name);
}

/** What a field holds, as a form's hint: the app's words (`field.<kind>.<name>.hint`), else the schema's help. */
export function hintOf(kind: RecordKind, f: Field): string | undefined {
  const key = `field.${kind}.${f.name}.hint`;
  return has(key) ? t(key) : f.help || undefined;
}

/** The app's words for the choices of fields it had before this table (`activityType.arts`...). */
const CHOICE_WORDS: Record<string, string> = {
  "session.activity_type": "activityType",
  "wellbeing.timepoint": "timepoint",
  "story.consent_scope": "scope",
};

/** The message that names a choice: `choice.<kind>.<name>.<value>`, else the older key of the
 * fields in CHOICE_WORDS (`activityType.arts`); undefined when en.ts has neither. `name` may be a
 * map's field by its path (`referral.source`). */
export function choiceKey(kind: RecordKind, name: string, v: string): string | undefined {
  const own = `choice.${kind}.${name}.${v}`;
  if (has(own)) return own;
  const prefix = CHOICE_WORDS[`${kind}.${name}`];
  return prefix && has(`${prefix}.${v}`) ? `${prefix}.${v}` : undefined;
}

/** A choice in words: the app's own (`choiceKey`), else the value with spaces. */
export function choiceLabel(kind: RecordKind, f: Field, v: string): string {
  const key = choiceKey(kind, f.name, v);
  return key ? t(key) : humanise(v);
}

/** The control of a field, by its type: text with its longest length, a list of its choices, a
 * whole number within its range, a date, a date and time, a tick box, or a record's id. */
export function controlOpts(kind: RecordKind, f: Field, value?: string): FieldOpts {
  const base = { label: labelOf(kind, f), name: f.name, hint: hintOf(kind, f), required: f.required, value };
  const ty = f.ty;
  switch (ty.t) {
    case "str":
      return { ...base, attrs: { maxlength: ty.max } };
    case "choice":
      return { ...base, options: [["", t("common.choose")], ...ty.options.map((o) => [o, choiceLabel(kind, f, o)] as [string, string])] };
    case "int":
      return { ...base, type: "number", attrs: { inputmode: "numeric", min: ty.min, max: ty.max, step: 1 } };
    case "date":
      return { ...base, type: "date" };
    case "datetime":
      return { ...base, label: t("time.ukLabel", { label: base.label }), type: "datetime-local" };
    case "bool":
      return { ...base, type: "checkbox" };
    case "ref":
      return { ...base, attrs: { autocomplete: "off", spellcheck: "false" } };
    default:
      throw new Error(`${kind}.${f.name} holds ${ty.t}, not one plain value`);
  }
}

/** `datetime-local` value, read as UK time (Europe/London, whatever the phone's zone), to
 * RFC 3339 UTC; or the raw text if it is not a date and time. */
export function toUtc(local: string): string {
  return ukLocalToUtc(local);
}

/**
 * What a control holds, typed for its field: the text (a time in UTC), a whole number, or
 * true/false for a tick box (unticked: false if the field is required, else nothing). Empty
 * is nothing, or an error if the field is required; a number that is not whole is an error.
 */
export function readField(f: Field, raw: string | boolean): { value?: FieldValue; error?: FieldError } {
  if (f.ty.t === "bool") return raw === true || f.required ? { value: raw === true } : {};
  const text = String(raw).trim();
  if (text === "") return f.required ? { error: { field: f.name, code: "required" } } : {};
  switch (f.ty.t) {
    case "int": {
      const n = Number(text);
      return Number.isInteger(n) ? { value: n } : { error: { field: f.name, code: "must_be_whole_number", params: { got: text } } };
    }
    case "datetime":
      return { value: toUtc(text) };
    default:
      return { value: text };
  }
}

/** A field's current value on a record, if it has one of the field's type. */
export function valueOf(v: View, f: Field): FieldValue | undefined {
  switch (f.ty.t) {
    case "int":
      return v.i(f.name);
    case "bool":
      return v.b(f.name);
    default:
      return v.s(f.name);
  }
}

/** A value for people: yes/no, a time in local time, a choice in words. */
export function shown(kind: RecordKind, f: Field, value: FieldValue): string {
  if (typeof value === "boolean") return t(value ? "common.yes" : "common.no");
  if (typeof value === "number") return String(value);
  if (f.ty.t === "datetime") {
    return formatDateTime(value);
  }
  if (f.ty.t === "choice") return choiceLabel(kind, f, value);
  return value;
}

/** The label and value of each field a screen does not show by hand that the record holds. */
export function details(v: View, handled: readonly string[]): [string, string][] {
  return otherFields(v.kind, handled).flatMap((f) => {
    const x = valueOf(v, f);
    return x === undefined ? [] : [[labelOf(v.kind, f), shown(v.kind, f, x)] as [string, string]];
  });
}

/** Where the new session is recorded: the project's sites and activities (if set up), who runs it and when it starts. */
export interface SessionFormContext {
  sites: { slug: string; name: string }[];
  activities: { slug: string; name: string }[];
  facilitator: string;
  /** `datetime-local` value. */
  start: string;
}

/** The new-session form: its own controls, then one for every other plain field of the schema
 * (`others`, read back with `readField`). */
export function sessionForm(c: SessionFormContext): { controls: FieldOpts[]; others: Field[] } {
  const pick = (items: { slug: string; name: string }[]): [string, string][] => [["", t("common.choose")], ...items.map((x) => [x.slug, x.name] as [string, string])];
  const own: FieldOpts[] = [
    c.sites.length ? { label: t("session.site"), name: "site", required: true, options: pick(c.sites) } : { label: t("session.site"), name: "site", required: true },
    c.activities.length ? { label: t("session.activity"), name: "activity", required: true, options: pick(c.activities) } : { label: t("session.activity"), name: "activity", required: true },
    { label: t("session.activityType"), name: "activity_type", required: true, options: [["", t("common.choose")], ...ACTIVITY_TYPES.map((a) => [a, t(`activityType.${a}`)] as [string, string])] },
    { label: t("time.ukLabel", { label: t("session.start") }), name: "start", type: "datetime-local", value: c.start, required: true },
    { label: t("time.ukLabel", { label: t("session.end") }), name: "end", type: "datetime-local" },
    { label: t("session.facilitators"), name: "facilitators", hint: t("session.facilitatorsHint"), value: c.facilitator },
    { label: t("session.location"), name: "location" },
  ];
  const others = otherFields("session", own.map((o) => o.name));
  return { controls: [...own, ...others.map((f) => controlOpts("session", f))], others };
}
