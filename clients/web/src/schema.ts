// What each record kind may hold: the same table as the server's schema (docs/data-model.md).

export type RecordKind = "participant" | "session" | "wellbeing" | "story";
export const KINDS: RecordKind[] = ["participant", "session", "wellbeing", "story"];

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
}

const f = (name: string, ty: FieldType, required = false): Field => ({ name, ty, required });
const SHORT: FieldType = { t: "str", max: 200 };
const LONG: FieldType = { t: "str", max: 2000 };
const choice = (options: readonly string[]): FieldType => ({ t: "choice", options });

export const ATTENDANCE_MARKS = ["present", "absent", "left_early"] as const;
export const ACTIVITY_TYPES = ["arts", "heritage", "nature", "choir", "music", "theatre", "walking", "peer_support", "other"] as const;
export const TIMEPOINTS = ["baseline", "interim", "end", "follow_up"] as const;
export const AGE_BANDS = ["0-15", "16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+"] as const;
export const GENDERS = ["woman", "man", "non_binary", "other", "prefer_not_to_say"] as const;
export const ETHNIC_GROUPS = ["asian", "black", "mixed", "white", "other", "prefer_not_to_say"] as const;
export const RURALITY = ["urban", "rural"] as const;
export const REFERRAL_SOURCES = ["gp", "link_worker", "self", "memory_support_worker", "mental_health_practitioner", "community_organisation", "other"] as const;
export const STORY_CONSENT_SCOPES = ["private", "project", "public"] as const;
export const INSTRUMENTS = ["WEMWBS", "SWEMWBS", "ONS4"] as const;
export type InstrumentName = (typeof INSTRUMENTS)[number];

const CONSENT: MapSpec = {
  fields: [f("data_use", { t: "bool" }), f("story_sharing", { t: "bool" }), f("contact", { t: "bool" }), f("date", { t: "date" }), f("version", SHORT)],
};
const REFERRAL: MapSpec = { fields: [f("source", choice(REFERRAL_SOURCES)), f("date", { t: "date" }), f("reason", LONG)] };
const IDENTIFIERS: MapSpec = { fields: [f("name", SHORT), f("phone", SHORT)] };

export const SCHEMA: Record<RecordKind, Field[]> = {
  participant: [
    f("code", { t: "str", max: 40 }, true),
    f("consent", { t: "map", spec: CONSENT }, true),
    f("age_band", choice(AGE_BANDS)),
    f("gender", choice(GENDERS)),
    f("ethnic_group", choice(ETHNIC_GROUPS)),
    f("postcode_district", { t: "str", max: 4 }),
    f("imd_decile", { t: "int", min: 1, max: 10 }),
    f("rurality", choice(RURALITY)),
    f("referral", { t: "map", spec: REFERRAL }, true),
    f("identifiers", { t: "map", spec: IDENTIFIERS }, true),
  ],
  session: [
    f("site", SHORT, true),
    f("activity", SHORT, true),
    f("activity_type", choice(ACTIVITY_TYPES), true),
    f("start", { t: "datetime" }, true),
    f("end", { t: "datetime" }),
    f("facilitators", { t: "set" }, true),
    f("location", SHORT),
    f("attendance", { t: "map", spec: "attendance" }, true),
    f("unregistered_attendees", { t: "int", min: 0, max: 10_000 }),
    f("notes", { t: "text" }, true),
  ],
  wellbeing: [
    f("participant", { t: "ref" }, true),
    f("instrument", choice(INSTRUMENTS), true),
    f("timepoint", choice(TIMEPOINTS), true),
    f("date", { t: "date" }, true),
    f("session", { t: "ref" }),
    f("items", { t: "map", spec: "items" }, true),
  ],
  story: [
    f("title", SHORT, true),
    f("body", { t: "text" }, true),
    f("participant", { t: "ref" }),
    f("author", SHORT, true),
    f("consent_scope", choice(STORY_CONSENT_SCOPES), true),
    f("themes", { t: "set" }, true),
    f("session", { t: "ref" }),
    f("language", { t: "str", max: 35 }),
  ],
};

export const ENVELOPE_FIELDS = ["kind", "project", "v", "created"];

export function field(kind: RecordKind, name: string): Field | undefined {
  return SCHEMA[kind].find((x) => x.name === name);
}

/** Item count and answer range of an instrument. */
export function itemRange(instrument: string): { count: number; lo: number; hi: number } | undefined {
  switch (instrument.toUpperCase()) {
    case "WEMWBS":
      return { count: 14, lo: 1, hi: 5 };
    case "SWEMWBS":
      return { count: 7, lo: 1, hi: 5 };
    case "ONS4":
      return { count: 4, lo: 0, hi: 10 };
    default:
      return undefined;
  }
}

export function isKind(s: unknown): s is RecordKind {
  return typeof s === "string" && (KINDS as string[]).includes(s);
}
