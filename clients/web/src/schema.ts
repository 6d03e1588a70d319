// What each record kind may hold: the server's schema (docs/data-model.md), as sync-core emits it.

import generated from "./generated/schema.json";

export type RecordKind = "participant" | "contact" | "session" | "wellbeing" | "story";
/** Every kind, in sync-core's order (`RecordKind::ALL`). */
export const KINDS: RecordKind[] = ["participant", "contact", "session", "wellbeing", "story"];

export type FieldType =
  | { t: "str"; max: number }
  | { t: "choice"; options: readonly string[] }
  | { t: "date" }
  | { t: "datetime" }
  | { t: "int"; min: number; max: number }
  | { t: "bool" }
  | { t: "ref" }
  | { t: "text" }
  | { t: "map"; spec: MapSpec }
  | { t: "set" };

export type MapSpec = { fields: Field[] } | "attendance" | "items";

export interface Field {
  name: string;
  ty: FieldType;
  required: boolean;
  /** Its name on forms. */
  label: string;
  /** What it holds, for forms' hints (absent: nothing to say). */
  help?: string;
  /** What analysts see of it. */
  analysts: "show" | "redact" | "withhold";
}

// The table itself is generated from sync-core (clients/web/src/generated/schema.json, written
// by `BOTHY_WRITE_GENERATED=1 cargo test -p bothy-sync-core --test generated`): never typed here.
const TABLE = generated as unknown as {
  envelope: string[];
  attendance_marks: string[];
  kinds: Record<RecordKind, Field[]>;
};
if (KINDS.length !== Object.keys(TABLE.kinds).length || !KINDS.every((k) => k in TABLE.kinds)) {
  throw new Error(`the generated schema's kinds (${Object.keys(TABLE.kinds).join(", ")}) are not this app's`);
}

export const SCHEMA: Record<RecordKind, Field[]> = TABLE.kinds;
export const ENVELOPE_FIELDS: string[] = TABLE.envelope;
export const ATTENDANCE_MARKS: readonly string[] = TABLE.attendance_marks;

/** The allowed values of a choice field (`path` may name a field of a nested map: `referral.source`). */
function choices(kind: RecordKind, path: string): readonly string[] {
  const [top, sub] = path.split(".");
  let ty = TABLE.kinds[kind].find((x) => x.name === top)?.ty;
  if (sub !== undefined && ty?.t === "map" && typeof ty.spec === "object") ty = ty.spec.fields.find((x) => x.name === sub)?.ty;
  if (ty?.t !== "choice") throw new Error(`the generated schema has no choice field ${kind}.${path}`);
  return ty.options;
}

export const ACTIVITY_TYPES = choices("session", "activity_type");
export const TIMEPOINTS = choices("wellbeing", "timepoint");
export const AGE_BANDS = choices("participant", "age_band");
export const GENDERS = choices("participant", "gender");
export const ETHNIC_GROUPS = choices("participant", "ethnic_group");
export const RURALITY = choices("participant", "rurality");
export const REFERRAL_SOURCES = choices("participant", "referral.source");
export const STORY_CONSENT_SCOPES = choices("story", "consent_scope");

export function field(kind: RecordKind, name: string): Field | undefined {
  return SCHEMA[kind].find((x) => x.name === name);
}

export function isKind(s: unknown): s is RecordKind {
  return typeof s === "string" && (KINDS as string[]).includes(s);
}
