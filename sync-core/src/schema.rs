//! What each record kind may hold: field names, types and allowed values.
//!
//! One table drives validation, editing, conflict detection and compensation, so the four
//! record kinds cannot drift apart in how they are checked. Field names are the names used in
//! documents, exports and the protocol spec (docs/data-model.md).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The five kinds of record that devices capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A person taking part, by pseudonymous code.
    Participant,
    /// A participant's direct identifiers (name, phone, postcode district, contact notes): a
    /// record of its own, so devices whose role may not see them never receive them.
    Contact,
    /// One run of an activity, with its attendance.
    Session,
    /// One completed (or partly completed) questionnaire.
    Wellbeing,
    /// A participant's or worker's story, edited collaboratively.
    Story,
}

impl RecordKind {
    /// Every kind, in a fixed order.
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Participant,
        RecordKind::Contact,
        RecordKind::Session,
        RecordKind::Wellbeing,
        RecordKind::Story,
    ];

    /// The kind's name as stored in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Participant => "participant",
            RecordKind::Contact => "contact",
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
    /// Item number (as text) to an answer; the instrument's definition says which items and
    /// answers there are.
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
    /// What analysts see of it.
    pub analysts: Analysts,
    /// Its name on forms (`Room`); empty: the name with `_` as spaces, capitalised.
    pub label: &'static str,
    /// What it holds, for forms' hints and the data dictionary; may be empty.
    pub help: &'static str,
}

/// What analysts (and exports, reports and the dashboard) see of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Analysts {
    /// Its value as recorded.
    Show,
    /// Its value through the server's redaction of names, phone numbers and e-mail addresses.
    Redact,
    /// Nothing: its value is never shown (and a set's members are not named).
    Withhold,
}

/// A field: free text (and sets of words) is withheld from analysts unless the table says
/// otherwise, so a new text field cannot leak what a worker typed into it; coded values are
/// shown.
const fn f(name: &'static str, ty: FieldType, required: bool) -> Field {
    let analysts = match ty {
        FieldType::Str { .. } | FieldType::Text | FieldType::Set => Analysts::Withhold,
        _ => Analysts::Show,
    };
    Field {
        name,
        ty,
        required,
        analysts,
        label: "",
        help: "",
    }
}

impl Field {
    /// The field with another rule for analysts.
    const fn analysts(self, analysts: Analysts) -> Field {
        Field { analysts, ..self }
    }

    /// The field with its name on forms and what it holds.
    const fn about(self, label: &'static str, help: &'static str) -> Field {
        Field {
            label,
            help,
            ..self
        }
    }

    /// Its name on forms: `label`, else the name with `_` as spaces and a capital first letter.
    pub fn label(&self) -> String {
        if !self.label.is_empty() {
            return self.label.to_owned();
        }
        let words = self.name.replace('_', " ");
        let mut chars = words.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }
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
/// The longest instrument id (see [`crate::instrument`]).
pub const INSTRUMENT_ID_MAX: usize = 32;

static CONSENT: MapSpec = MapSpec::Fields(&[
    f("data_use", FieldType::Bool, false),
    f("story_sharing", FieldType::Bool, false),
    f("contact", FieldType::Bool, false),
    f("date", FieldType::Date, false),
    f("version", SHORT, false).analysts(Analysts::Redact),
]);
static REFERRAL: MapSpec = MapSpec::Fields(&[
    f("source", FieldType::Choice(REFERRAL_SOURCES), false),
    f("date", FieldType::Date, false),
    f("reason", LONG, false),
]);
static ATTENDANCE: MapSpec = MapSpec::Attendance;
static ITEMS: MapSpec = MapSpec::Items;

static PARTICIPANT: &[Field] = &[
    f("code", FieldType::Str { max: 40 }, true),
    f("consent", FieldType::Map(&CONSENT), true),
    f("age_band", FieldType::Choice(AGE_BANDS), false),
    f("gender", FieldType::Choice(GENDERS), false),
    f("ethnic_group", FieldType::Choice(ETHNIC_GROUPS), false),
    f("imd_decile", FieldType::Int { min: 1, max: 10 }, false),
    f("rurality", FieldType::Choice(RURALITY), false),
    f("referral", FieldType::Map(&REFERRAL), true),
    f("registered_on", FieldType::Date, false).about(
        "Registration date",
        "The day the person joined the programme (UK date)",
    ),
];
/// Direct identifiers: never shown to analysts, and sent only to the roles that may see them
/// ([`crate::roles`]).
static CONTACT: &[Field] = &[
    f("participant", FieldType::RecordRef, true)
        .analysts(Analysts::Withhold)
        .about(
            "Participant",
            "The participant these contact details belong to",
        ),
    f("name", SHORT, false),
    f("phone", SHORT, false),
    f("postcode_district", FieldType::Str { max: 4 }, false).about(
        "Postcode district",
        "The first half of the postcode (e.g. LA9)",
    ),
    f("notes", LONG, false).about(
        "Contact notes",
        "How and when to get in touch; nothing clinical",
    ),
];
static SESSION: &[Field] = &[
    f("site", SHORT, true).analysts(Analysts::Redact),
    f("activity", SHORT, true).analysts(Analysts::Redact),
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
    // A built-in's id or one of the project's own; checked against the definitions known.
    f(
        "instrument",
        FieldType::Str {
            max: INSTRUMENT_ID_MAX,
        },
        true,
    )
    .analysts(Analysts::Show),
    // The version of a project's own definition the form was shown from (absent: 1).
    f(
        "instrument_version",
        FieldType::Int {
            min: 1,
            max: 65_535,
        },
        false,
    ),
    f("timepoint", FieldType::Choice(TIMEPOINTS), true),
    f("date", FieldType::Date, true),
    f("session", FieldType::RecordRef, false),
    f("items", FieldType::Map(&ITEMS), true),
];
static STORY: &[Field] = &[
    f("title", SHORT, true).analysts(Analysts::Redact),
    f("body", FieldType::Text, true).analysts(Analysts::Redact),
    f("participant", FieldType::RecordRef, false),
    f("author", SHORT, true),
    f(
        "consent_scope",
        FieldType::Choice(STORY_CONSENT_SCOPES),
        true,
    ),
    f("themes", FieldType::Set, true).analysts(Analysts::Redact),
    f("session", FieldType::RecordRef, false),
    f("language", FieldType::Str { max: 35 }, false).analysts(Analysts::Redact),
];

/// Fields every record carries, set once at creation and never changed.
pub const ENVELOPE_FIELDS: &[&str] = &["kind", "project", "v", "created"];

/// The fields of a kind (not counting the envelope).
pub fn fields(kind: RecordKind) -> &'static [Field] {
    match kind {
        RecordKind::Participant => PARTICIPANT,
        RecordKind::Contact => CONTACT,
        RecordKind::Session => SESSION,
        RecordKind::Wellbeing => WELLBEING,
        RecordKind::Story => STORY,
    }
}

/// What analysts see of a field, by its path in a record (`notes`, `referral.reason`,
/// `consent.version`, `attendance.<id>`, `facilitators.<name>`): a named field of a group has its
/// own rule; the members of a set or map of ids have their field's.
pub fn analysts(kind: RecordKind, path: &str) -> Analysts {
    let (top, rest) = path.split_once('.').unwrap_or((path, ""));
    let Some(field) = field(kind, top) else {
        // Not a field of the kind: nothing to show.
        return Analysts::Withhold;
    };
    match field.ty {
        FieldType::Map(MapSpec::Fields(inner)) if !rest.is_empty() => inner
            .iter()
            .find(|f| f.name == rest)
            .map_or(Analysts::Withhold, |f| match field.analysts {
                Analysts::Withhold => Analysts::Withhold,
                _ => f.analysts,
            }),
        _ => field.analysts,
    }
}

/// Looks up a top-level field of a kind.
pub fn field(kind: RecordKind, name: &str) -> Option<&'static Field> {
    fields(kind).iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_analysts_see_of_each_field() {
        use Analysts::{Redact, Show, Withhold};
        use RecordKind::{Contact, Participant, Session, Story, Wellbeing};
        let cases: &[(RecordKind, &str, Analysts)] = &[
            (Participant, "code", Withhold),
            (Contact, "postcode_district", Withhold),
            (Contact, "name", Withhold),
            (Contact, "phone", Withhold),
            (Contact, "notes", Withhold),
            (Contact, "participant", Withhold),
            // Moved to the contact record: no longer a participant's field.
            (Participant, "postcode_district", Withhold),
            (Participant, "identifiers.name", Withhold),
            (Participant, "referral.reason", Withhold),
            (Participant, "referral.source", Show),
            (Participant, "referral.date", Show),
            (Participant, "consent.version", Redact),
            (Participant, "consent.data_use", Show),
            (Participant, "consent.date", Show),
            (Participant, "age_band", Show),
            (Participant, "imd_decile", Show),
            (Participant, "registered_on", Show),
            (Session, "notes", Withhold),
            (Session, "facilitators", Withhold),
            (Session, "facilitators.Jo", Withhold),
            (Session, "location", Withhold),
            (Session, "site", Redact),
            (Session, "activity", Redact),
            (Session, "start", Show),
            (
                Session,
                "attendance.0192f0c4-5e6a-7b3c-8d9e-0123456789ab",
                Show,
            ),
            (Session, "unregistered_attendees", Show),
            (Wellbeing, "instrument", Show),
            (Wellbeing, "items.3", Show),
            (Wellbeing, "participant", Show),
            (Story, "author", Withhold),
            (Story, "title", Redact),
            (Story, "body", Redact),
            (Story, "themes.belonging", Redact),
            (Story, "language", Redact),
            (Story, "consent_scope", Show),
            // Not a field: nothing is shown.
            (Session, "no_such_field", Withhold),
            (Participant, "consent.no_such_part", Withhold),
        ];
        for (kind, path, want) in cases {
            assert_eq!(analysts(*kind, path), *want, "{kind} {path}");
        }
    }

    #[test]
    fn the_registration_date_is_a_plain_optional_date() {
        let registered = field(RecordKind::Participant, "registered_on").expect("a field");
        assert!(matches!(registered.ty, FieldType::Date));
        assert!(
            !registered.required,
            "older records have no registration date"
        );
        assert_eq!(registered.label(), "Registration date");
    }
}
