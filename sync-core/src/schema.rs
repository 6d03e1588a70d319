//! What each record kind may hold: field names, types and allowed values.
//!
//! One table drives validation, editing, conflict detection and compensation, so the four
//! record kinds cannot drift apart in how they are checked. Field names are the names used in
//! documents, exports and the protocol spec (docs/data-model.md).

use crate::scoring::Instrument;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The four kinds of record that devices capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A person taking part, by pseudonymous code.
    Participant,
    /// One run of an activity, with its attendance.
    Session,
    /// One completed (or partly completed) questionnaire.
    Wellbeing,
    /// A participant's or worker's story, edited collaboratively.
    Story,
}

impl RecordKind {
    /// Every kind, in a fixed order.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Participant,
        RecordKind::Session,
        RecordKind::Wellbeing,
        RecordKind::Story,
    ];

    /// The kind's name as stored in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Participant => "participant",
            RecordKind::Session => "session",
            RecordKind::Wellbeing => "wellbeing",
            RecordKind::Story => "story",
        }
    }

    /// Parses a kind name.
    pub fn parse(s: &str) -> Option<Self> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shape of one field's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// Free text up to `max` characters.
    Str {
        /// Longest value allowed, in characters.
        max: usize,
    },
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A UTC instant, RFC 3339 (`2026-11-01T10:00:00Z`).
    DateTime,
    /// A whole number in a range.
    Int {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// True or false.
    Bool,
    /// A record id (UUID), possibly of a record this replica has not seen yet.
    RecordRef,
    /// Collaborative text (an Automerge text object): concurrent edits merge.
    Text,
    /// A map from keys to values of one type (attendance, item answers, consent...).
    Map(&'static MapSpec),
    /// A set of short words (stored as a map from word to `true`).
    Set,
}

/// What a nested map holds.
#[derive(Debug, PartialEq)]
pub enum MapSpec {
    /// Fixed named fields.
    Fields(&'static [Field]),
    /// Any participant id to an attendance mark.
    Attendance,
    /// Item number (as text) to an answer; range depends on the instrument.
    Items,
}

/// One field of a record kind.
#[derive(Debug, PartialEq)]
pub struct Field {
    /// Its name in the document.
    pub name: &'static str,
    /// Its type.
    pub ty: FieldType,
    /// Whether a valid record must have it.
    pub required: bool,
}

const fn f(name: &'static str, ty: FieldType, required: bool) -> Field {
    Field { name, ty, required }
}

const SHORT: FieldType = FieldType::Str { max: 200 };
const LONG: FieldType = FieldType::Str { max: 2000 };

/// Attendance marks.
pub const ATTENDANCE_MARKS: &[&str] = &["present", "absent", "left_early"];
/// Activity types.
pub const ACTIVITY_TYPES: &[&str] = &[
    "arts",
    "heritage",
    "nature",
    "choir",
    "music",
    "theatre",
    "walking",
    "peer_support",
    "other",
];
/// Questionnaire timepoints.
pub const TIMEPOINTS: &[&str] = &["baseline", "interim", "end", "follow_up"];
/// Age bands (years).
pub const AGE_BANDS: &[&str] = &[
    "0-15", "16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+",
];
/// Genders, as the person describes themselves.
pub const GENDERS: &[&str] = &["woman", "man", "non_binary", "other", "prefer_not_to_say"];
/// Ethnic groups: the five high-level groups of the ONS 2021 census classification.
pub const ETHNIC_GROUPS: &[&str] = &[
    "asian",
    "black",
    "mixed",
    "white",
    "other",
    "prefer_not_to_say",
];
/// Urban/rural classification of where the person lives.
pub const RURALITY: &[&str] = &["urban", "rural"];
/// Where a referral came from.
pub const REFERRAL_SOURCES: &[&str] = &[
    "gp",
    "link_worker",
    "self",
    "memory_support_worker",
    "mental_health_practitioner",
    "community_organisation",
    "other",
];
/// Who may see a story: `private` never leaves the server's project team, `project` may be
/// read by the project's analysts, `public` may be published.
pub const STORY_CONSENT_SCOPES: &[&str] = &["private", "project", "public"];
/// Instruments, as stored.
pub const INSTRUMENTS: &[&str] = &["WEMWBS", "SWEMWBS", "ONS4"];

static CONSENT: MapSpec = MapSpec::Fields(&[
    f("data_use", FieldType::Bool, false),
    f("story_sharing", FieldType::Bool, false),
    f("contact", FieldType::Bool, false),
    f("date", FieldType::Date, false),
    f("version", SHORT, false),
]);
static REFERRAL: MapSpec = MapSpec::Fields(&[
    f("source", FieldType::Choice(REFERRAL_SOURCES), false),
    f("date", FieldType::Date, false),
    f("reason", LONG, false),
]);
static IDENTIFIERS: MapSpec = MapSpec::Fields(&[f("name", SHORT, false), f("phone", SHORT, false)]);
static ATTENDANCE: MapSpec = MapSpec::Attendance;
static ITEMS: MapSpec = MapSpec::Items;

static PARTICIPANT: &[Field] = &[
    f("code", FieldType::Str { max: 40 }, true),
    f("consent", FieldType::Map(&CONSENT), true),
    f("age_band", FieldType::Choice(AGE_BANDS), false),
    f("gender", FieldType::Choice(GENDERS), false),
    f("ethnic_group", FieldType::Choice(ETHNIC_GROUPS), false),
    f("postcode_district", FieldType::Str { max: 4 }, false),
    f("imd_decile", FieldType::Int { min: 1, max: 10 }, false),
    f("rurality", FieldType::Choice(RURALITY), false),
    f("referral", FieldType::Map(&REFERRAL), true),
    f("identifiers", FieldType::Map(&IDENTIFIERS), true),
];
static SESSION: &[Field] = &[
    f("site", SHORT, true),
    f("activity", SHORT, true),
    f("activity_type", FieldType::Choice(ACTIVITY_TYPES), true),
    f("start", FieldType::DateTime, true),
    f("end", FieldType::DateTime, false),
    f("facilitators", FieldType::Set, true),
    f("location", SHORT, false),
    f("attendance", FieldType::Map(&ATTENDANCE), true),
    f(
        "unregistered_attendees",
        FieldType::Int {
            min: 0,
            max: 10_000,
        },
        false,
    ),
    f("notes", FieldType::Text, true),
];
static WELLBEING: &[Field] = &[
    f("participant", FieldType::RecordRef, true),
    f("instrument", FieldType::Choice(INSTRUMENTS), true),
    f("timepoint", FieldType::Choice(TIMEPOINTS), true),
    f("date", FieldType::Date, true),
    f("session", FieldType::RecordRef, false),
    f("items", FieldType::Map(&ITEMS), true),
];
static STORY: &[Field] = &[
    f("title", SHORT, true),
    f("body", FieldType::Text, true),
    f("participant", FieldType::RecordRef, false),
    f("author", SHORT, true),
    f(
        "consent_scope",
        FieldType::Choice(STORY_CONSENT_SCOPES),
        true,
    ),
    f("themes", FieldType::Set, true),
    f("session", FieldType::RecordRef, false),
    f("language", FieldType::Str { max: 35 }, false),
];

/// Fields every record carries, set once at creation and never changed.
pub const ENVELOPE_FIELDS: &[&str] = &["kind", "project", "v", "created"];

/// The fields of a kind (not counting the envelope).
pub fn fields(kind: RecordKind) -> &'static [Field] {
    match kind {
        RecordKind::Participant => PARTICIPANT,
        RecordKind::Session => SESSION,
        RecordKind::Wellbeing => WELLBEING,
        RecordKind::Story => STORY,
    }
}

/// Looks up a top-level field of a kind.
pub fn field(kind: RecordKind, name: &str) -> Option<&'static Field> {
    fields(kind).iter().find(|f| f.name == name)
}

/// The range of answers for an instrument name, if the name is known.
pub fn item_range(instrument: &str) -> Option<(u8, i64, i64)> {
    Instrument::parse(instrument).map(|i| {
        let (lo, hi) = i.item_range();
        (i.item_count(), lo, hi)
    })
}
