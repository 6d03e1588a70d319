//! Tidy exports for analysts: one row per participant, session, attendance mark, wellbeing
//! response, answered wellbeing item, outcome pair (a baseline and follow-up as the outcomes
//! report pairs them) or shareable story, as CSV or JSON Lines, with stable documented columns.
//!
//! Wellbeing responses of any instrument (the built-ins and a project's own) are exported from
//! their definitions ([`bothy_sync_core::instrument`]): `wellbeing` has one row per response
//! (wide: its score, band and an `item_n` column per item, as many as the longest instrument in
//! the export has), `wellbeing_items` one row per answered item (long: the answer given and the
//! value it is scored as).
//!
//! What never leaves the server this way: direct identifiers (name, phone), the participant
//! code, the postcode district, free-text referral reasons and session notes, story authors,
//! stories without sharing consent, and every row about a participant who has not consented to
//! data use. The columns below are the data dictionary: `docs/data-dictionary.md` is generated
//! from them ([`dictionary_markdown`]) and a test keeps the two equal.
//!
//! Participants, sessions and stories also get a column for each plain field of the record
//! schema that analysts may see and no column written here carries ([`Dataset::field_columns`]):
//! named after the field, typed from its type, described by its help text, redacted when the
//! schema says so, and read from the field's projection column. A field added to the schema is
//! exported, and listed in the dictionary, with no code here.
//!
//! Rows are read from the database as a stream and written out in chunks through a bounded
//! channel, so memory stays flat whatever the number of rows.

pub use crate::analysis::redact::Redactor;
use crate::storage::Db;
use bothy_sync_core::instrument::{self, Method};
use bothy_sync_core::schema::{self, Analysts, FieldType, RecordKind};
use chrono::NaiveDate;
use futures_util::StreamExt;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// A dataset that can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// One row per participant (pseudonymous).
    Participants,
    /// One row per session.
    Sessions,
    /// One row per attendance mark of a registered participant.
    Attendance,
    /// One row per wellbeing questionnaire response, with derived scores.
    Wellbeing,
    /// One row per answered item of a wellbeing response.
    WellbeingItems,
    /// One row per story whose consent allows sharing.
    Stories,
    /// One row per participant and outcome measure: baseline and follow-up, paired as the
    /// outcomes report pairs them (computed by [`crate::analysis::reports::outcome_pair_rows`]).
    OutcomePairs,
}

impl Dataset {
    /// Every dataset, in dictionary order.
    pub const ALL: [Dataset; 7] = [
        Dataset::Participants,
        Dataset::Sessions,
        Dataset::Attendance,
        Dataset::Wellbeing,
        Dataset::WellbeingItems,
        Dataset::OutcomePairs,
        Dataset::Stories,
    ];

    /// Its name in URLs and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Participants => "participants",
            Dataset::Sessions => "sessions",
            Dataset::Attendance => "attendance",
            Dataset::Wellbeing => "wellbeing",
            Dataset::WellbeingItems => "wellbeing_items",
            Dataset::Stories => "stories",
            Dataset::OutcomePairs => "outcome_pairs",
        }
    }

    /// Whether its rows are computed from the report data ([`crate::analysis::reports::Data`])
    /// rather than read by one query.
    pub fn is_computed(self) -> bool {
        self == Dataset::OutcomePairs
    }

    /// Parses a dataset name.
    pub fn parse(s: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// What one row is.
    pub fn row_meaning(self) -> &'static str {
        match self {
            Dataset::Participants => {
                "one participant who consented to data use (pseudonymous: no name, phone, code or postcode)"
            }
            Dataset::Sessions => "one session (an occurrence of an activity at a site)",
            Dataset::Attendance => {
                "one attendance mark: a registered participant (who consented to data use) at a session"
            }
            Dataset::Wellbeing => {
                "one wellbeing questionnaire response of a participant who consented to data use"
            }
            Dataset::WellbeingItems => {
                "one answered item of a wellbeing questionnaire response of a participant who consented to data use (the long form of `wellbeing`: a response has one row per item answered)"
            }
            Dataset::Stories => {
                "one story whose consent scope is `project` or `public` and, when it is about a participant, whose participant consented to story sharing; its text is redacted (see Privacy above)"
            }
            Dataset::OutcomePairs => {
                "one participant's baseline and follow-up on one outcome measure, paired as the outcomes report pairs them (docs/reports.md): the rows behind its n, statistics and reliable-change counts, in measure order then participant order. Only consenting participants in scope of the filters; `from`/`to` select pairs by the follow-up date, `timepoint` is the follow-up timepoint (`end` by default), and the reliable-change thresholds are the report's (the same `wemwbs_threshold` and `swemwbs_threshold` parameters)"
            }
        }
    }

    /// The columns, in order: the ones written here, then for participants, sessions and
    /// stories one per field of the schema analysts may see that none of those carries
    /// ([`Dataset::field_columns`]).
    pub fn columns(self) -> &'static [Column] {
        match self {
            Dataset::Participants => &PARTICIPANT_ALL,
            Dataset::Sessions => &SESSION_ALL,
            Dataset::Attendance => ATTENDANCE_COLUMNS,
            Dataset::Wellbeing => WELLBEING_COLUMNS,
            Dataset::WellbeingItems => WELLBEING_ITEM_COLUMNS,
            Dataset::Stories => &STORY_ALL,
            Dataset::OutcomePairs => OUTCOME_PAIR_COLUMNS,
        }
    }

    /// The record kind whose plain fields reach this dataset from the schema, with the alias
    /// of its table in [`crate::storage::analysis::export_statement`].
    pub fn kind(self) -> Option<(RecordKind, &'static str)> {
        match self {
            Dataset::Participants => Some((RecordKind::Participant, "p")),
            Dataset::Sessions => Some((RecordKind::Session, "s")),
            Dataset::Stories => Some((RecordKind::Story, "t")),
            Dataset::Attendance
            | Dataset::Wellbeing
            | Dataset::WellbeingItems
            | Dataset::OutcomePairs => None,
        }
    }

    /// The fields of the schema with a column of their own, after the columns written here:
    /// every plain field (text, choice, date, date and time, number, true or false, record id)
    /// of the dataset's kind that analysts may see ([`schema::Analysts::Show`] or
    /// [`schema::Analysts::Redact`]) and that no column written here carries ([`COVERED`]).
    /// Each column is named after its field and read from the field's projection column
    /// ([`crate::storage::projection::column`]), so a field added to the schema is exported with no
    /// code of its own.
    pub fn field_columns(self) -> Vec<&'static schema::Field> {
        let Some((kind, _)) = self.kind() else {
            return Vec::new();
        };
        crate::storage::projection::plain_columns(kind)
            .map(|(field, _)| field)
            .filter(|f| f.analysts != Analysts::Withhold)
            .filter(|f| covering(self, f.name).is_none())
            .collect()
    }

    /// Columns that follow the documented ones in some exports, described in words.
    pub fn more_columns(self) -> Option<&'static str> {
        match self {
            Dataset::Wellbeing => Some(
                "When an instrument in the export has more than 14 items, the columns \
                 `item_15`, `item_16`... up to its largest item number follow the columns \
                 above (integer, empty allowed): the answer to that item, as `item_1` to \
                 `item_14` are. Which instruments are in the export depends on its filters, so \
                 read these columns by name.",
            ),
            _ => None,
        }
    }
}

/// A column's type, as written in the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Free or identifier text.
    Text,
    /// A whole number.
    Integer,
    /// A decimal number (`.` separator).
    Decimal,
    /// `true` or `false`.
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 date and time, as recorded on the device (`2026-05-04T10:00:00Z`).
    Datetime,
    /// One of a fixed set of codes, listed with the column.
    Category,
}

impl ColumnType {
    /// Text or category: the columns whose CSV fields are guarded against spreadsheet
    /// formulas ([`csv_string_field`]).
    pub fn is_string(self) -> bool {
        matches!(self, ColumnType::Text | ColumnType::Category)
    }

    fn as_str(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "integer",
            ColumnType::Decimal => "decimal",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::Datetime => "datetime",
            ColumnType::Category => "category",
        }
    }
}

/// One documented column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Its stable name.
    pub name: &'static str,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether it may be empty (CSV: an empty field; JSON: `null`).
    pub nullable: bool,
    /// The allowed codes of a category column.
    pub values: &'static [&'static str],
    /// What it means.
    pub description: &'static str,
}

const fn col(
    name: &'static str,
    ty: ColumnType,
    nullable: bool,
    description: &'static str,
) -> Column {
    Column {
        name,
        ty,
        nullable,
        values: &[],
        description,
    }
}

const fn cat(
    name: &'static str,
    values: &'static [&'static str],
    nullable: bool,
    description: &'static str,
) -> Column {
    Column {
        name,
        ty: ColumnType::Category,
        nullable,
        values,
        description,
    }
}

use ColumnType::{Boolean, Date, Datetime, Decimal, Integer, Text};

/// The plain fields of the schema that columns written here already carry, with those columns
/// (by dataset). Every other plain field analysts may see gets a column of its own
/// ([`Dataset::field_columns`]).
pub const COVERED: &[(Dataset, &str, &[&str])] = &[
    (Dataset::Participants, "registered_on", &["registered_on"]),
    (Dataset::Participants, "age_band", &["age_band"]),
    (Dataset::Participants, "gender", &["gender"]),
    (Dataset::Participants, "ethnic_group", &["ethnic_group"]),
    (
        Dataset::Participants,
        "imd_decile",
        &["imd_decile", "imd_quintile"],
    ),
    (Dataset::Participants, "rurality", &["rurality"]),
    (Dataset::Sessions, "site", &["site"]),
    (Dataset::Sessions, "activity", &["activity"]),
    (Dataset::Sessions, "activity_type", &["activity_type"]),
    (
        Dataset::Sessions,
        "start",
        &["session_date", "starts_at", "duration_minutes"],
    ),
    (Dataset::Sessions, "end", &["ends_at", "duration_minutes"]),
    (
        Dataset::Sessions,
        "unregistered_attendees",
        &["unregistered_attendees", "total_attendees"],
    ),
    (Dataset::Stories, "title", &["title"]),
    (Dataset::Stories, "participant", &["participant_id"]),
    (Dataset::Stories, "session", &["session_id"]),
    (Dataset::Stories, "consent_scope", &["consent_scope"]),
    (Dataset::Stories, "language", &["language"]),
];

/// The columns written here that carry a plain field of a dataset's kind, if any do.
pub fn covering(dataset: Dataset, field: &str) -> Option<&'static [&'static str]> {
    COVERED
        .iter()
        .find(|(d, f, _)| *d == dataset && *f == field)
        .map(|(_, _, columns)| *columns)
}

/// A dataset's columns: those written here, then one per [`Dataset::field_columns`].
fn with_field_columns(dataset: Dataset, written: &'static [Column]) -> Vec<Column> {
    let mut all = written.to_vec();
    all.extend(dataset.field_columns().into_iter().map(field_column));
    all
}

/// The column of a field of the schema: named after it, typed from its type, described by its
/// `help` (else its label); empty when the record has no value (records made before the field
/// existed have none).
fn field_column(field: &'static schema::Field) -> Column {
    let (ty, values): (ColumnType, &'static [&'static str]) = match field.ty {
        FieldType::Choice(values) => (ColumnType::Category, values),
        FieldType::Int { .. } => (Integer, &[]),
        FieldType::Date => (Date, &[]),
        FieldType::DateTime => (Datetime, &[]),
        FieldType::Bool => (Boolean, &[]),
        FieldType::Str { .. }
        | FieldType::RecordRef
        | FieldType::Text
        | FieldType::Map(_)
        | FieldType::Set => (Text, &[]),
    };
    let mut description = if field.help.is_empty() {
        format!("{}.", field.label())
    } else {
        field.help.to_owned()
    };
    if field.analysts == Analysts::Redact {
        description.push_str(" Redacted (see Privacy above).");
    }
    Column {
        name: field.name,
        ty,
        nullable: true,
        values,
        // Made once per process, for the dictionary's static columns.
        description: Box::leak(description.into_boxed_str()),
    }
}

static PARTICIPANT_ALL: LazyLock<Vec<Column>> =
    LazyLock::new(|| with_field_columns(Dataset::Participants, PARTICIPANT_COLUMNS));
static SESSION_ALL: LazyLock<Vec<Column>> =
    LazyLock::new(|| with_field_columns(Dataset::Sessions, SESSION_COLUMNS));
static STORY_ALL: LazyLock<Vec<Column>> =
    LazyLock::new(|| with_field_columns(Dataset::Stories, STORY_COLUMNS));

const IMD_QUINTILES: &[&str] = &["1", "2", "3", "4", "5"];
const WEMWBS_BANDS: &[&str] = &[
    "probable_depression",
    "possible_depression",
    "average",
    "high",
];

static PARTICIPANT_COLUMNS: &[Column] = &[
    col(
        "participant_id",
        Text,
        false,
        "Random identifier (UUID) of the participant record; the key other datasets join on.",
    ),
    col("project", Text, false, "Project slug."),
    col(
        "registered_on",
        Date,
        false,
        "Date the participant registered, as entered on the device (a UK date, today's unless \
         changed); for records made before that field existed, the date their record was \
         created by the registering device's clock.",
    ),
    col(
        "consent_story_sharing",
        Boolean,
        false,
        "Consented to their stories being shared.",
    ),
    col(
        "consent_contact",
        Boolean,
        false,
        "Consented to be contacted.",
    ),
    col("consent_date", Date, true, "Date consent was given."),
    col(
        "consent_version",
        Text,
        true,
        "Version of the consent form.",
    ),
    cat("age_band", schema::AGE_BANDS, true, "Age band in years."),
    cat(
        "gender",
        schema::GENDERS,
        true,
        "Gender, as the person describes themselves.",
    ),
    cat(
        "ethnic_group",
        schema::ETHNIC_GROUPS,
        true,
        "Ethnic group, the five high-level groups of the ONS 2021 census classification.",
    ),
    col(
        "imd_decile",
        Integer,
        true,
        "Index of Multiple Deprivation decile of where they live, 1 (most deprived) to 10 (least).",
    ),
    cat(
        "imd_quintile",
        IMD_QUINTILES,
        true,
        "IMD quintile, 1 (most deprived) to 5 (least): deciles 1-2 are quintile 1, and so on.",
    ),
    cat(
        "rurality",
        schema::RURALITY,
        true,
        "Urban or rural classification of where they live.",
    ),
    cat(
        "referral_source",
        schema::REFERRAL_SOURCES,
        true,
        "Who referred them.",
    ),
    col("referral_date", Date, true, "Date of the referral."),
    col(
        "sessions_attended",
        Integer,
        false,
        "Sessions marked `present` or `left_early`.",
    ),
    col(
        "first_attended",
        Date,
        true,
        "Date of the first session attended.",
    ),
    col(
        "last_attended",
        Date,
        true,
        "Date of the latest session attended.",
    ),
];

static SESSION_COLUMNS: &[Column] = &[
    col(
        "session_id",
        Text,
        false,
        "Random identifier (UUID) of the session record.",
    ),
    col("project", Text, false, "Project slug."),
    col("site", Text, false, "Site code."),
    col("activity", Text, false, "Activity code."),
    cat(
        "activity_type",
        schema::ACTIVITY_TYPES,
        false,
        "Kind of activity.",
    ),
    col("session_date", Date, false, "Date the session started."),
    col("starts_at", Datetime, false, "Start, as recorded."),
    col("ends_at", Datetime, true, "End, as recorded."),
    col(
        "duration_minutes",
        Integer,
        true,
        "Minutes from start to end.",
    ),
    col(
        "facilitator_count",
        Integer,
        false,
        "Number of facilitators recorded.",
    ),
    col(
        "registered_attendees",
        Integer,
        false,
        "Registered participants marked `present` or `left_early` (all participants, with or without data-use consent).",
    ),
    col(
        "unregistered_attendees",
        Integer,
        false,
        "People who attended without being registered.",
    ),
    col(
        "total_attendees",
        Integer,
        false,
        "registered_attendees + unregistered_attendees.",
    ),
    col(
        "needs_review",
        Boolean,
        false,
        "The merged session is flagged for review (for example its end is before its start).",
    ),
];

static ATTENDANCE_COLUMNS: &[Column] = &[
    col(
        "session_id",
        Text,
        false,
        "The session (joins sessions.session_id).",
    ),
    col(
        "participant_id",
        Text,
        false,
        "The participant (joins participants.participant_id).",
    ),
    col("project", Text, false, "Project slug."),
    col("site", Text, false, "Site code of the session."),
    col("activity", Text, false, "Activity code of the session."),
    cat(
        "activity_type",
        schema::ACTIVITY_TYPES,
        false,
        "Kind of activity.",
    ),
    col("session_date", Date, false, "Date of the session."),
    cat("status", schema::ATTENDANCE_MARKS, false, "The mark."),
];

static WELLBEING_COLUMNS: &[Column] = &[
    col(
        "response_id",
        Text,
        false,
        "Random identifier (UUID) of the response record.",
    ),
    col(
        "participant_id",
        Text,
        false,
        "The participant (joins participants.participant_id).",
    ),
    col("project", Text, false, "Project slug."),
    col(
        "instrument",
        Text,
        false,
        "The questionnaire: a built-in id (WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS) or one of the project's own.",
    ),
    cat(
        "timepoint",
        schema::TIMEPOINTS,
        false,
        "When in the participant's journey it was taken.",
    ),
    col("response_date", Date, false, "Date it was answered."),
    col(
        "session_id",
        Text,
        true,
        "The session it was taken at, if any.",
    ),
    col("site", Text, true, "Site code of that session."),
    col("activity", Text, true, "Activity code of that session."),
    col(
        "complete",
        Boolean,
        false,
        "Every item answered. Incomplete forms are never scored.",
    ),
    col(
        "items_answered",
        Integer,
        false,
        "Number of items answered.",
    ),
    col(
        "incomplete_reason",
        Text,
        true,
        "Why an incomplete form is not scored.",
    ),
    col(
        "raw_score",
        Integer,
        true,
        "WEMWBS: sum of 14 items (14-70). SWEMWBS: sum of 7 items (7-35). Another instrument scored as a sum (UCLA3, a project's own): the sum of its scored items, after reversing. Empty for ONS4 (no composite score), instruments scored item by item or as a mean, and incomplete forms.",
    ),
    col(
        "swemwbs_raw",
        Integer,
        true,
        "SWEMWBS raw score (7-35): of a SWEMWBS form, or of items 1, 2, 3, 6, 7, 9 and 11 of a complete WEMWBS form.",
    ),
    col(
        "swemwbs_metric",
        Decimal,
        true,
        "SWEMWBS metric (Rasch-transformed) score, 7.00-35.00, from the published conversion table.",
    ),
    cat(
        "wemwbs_band",
        WEMWBS_BANDS,
        true,
        "WEMWBS band (not official; a commonly used banding): probable depression <= 40, possible depression 41-44, average 45-59, high >= 60.",
    ),
    col(
        "score",
        Decimal,
        true,
        "The score changes are measured on: WEMWBS raw score, SWEMWBS metric score, and for any other instrument with a total (UCLA3, a project's own) the score its definition reports (after any lookup table). Empty for ONS4 and other instruments scored item by item, and for incomplete forms.",
    ),
    col(
        "baseline_response_id",
        Text,
        true,
        "The participant's baseline for this instrument and version: the earliest complete `baseline` response.",
    ),
    col("baseline_date", Date, true, "Date of that baseline."),
    col("baseline_score", Decimal, true, "Score of that baseline."),
    col(
        "change_from_baseline",
        Decimal,
        true,
        "score - baseline_score, for responses at a later timepoint dated on or after the baseline. Positive is better for WEMWBS, SWEMWBS and every instrument whose `higher_is_better` is true; negative is better where it is false (UCLA3: lonelier is worse). Empty for baseline responses, instruments without a total score (ONS4) and incomplete forms.",
    ),
    col(
        "reliable_improvement",
        Boolean,
        true,
        "The change, in the better direction, is at least `reliable_change_threshold` (a setting for WEMWBS and SWEMWBS, 3 points by default; another instrument's first `reliable_change` in its definition). Empty when the instrument has no threshold (UCLA3 has none).",
    ),
    col(
        "reliable_deterioration",
        Boolean,
        true,
        "The change, in the worse direction, is at least `reliable_change_threshold`.",
    ),
    col(
        "item_1",
        Integer,
        true,
        "Answer to item 1, as given (before any reversing; `wellbeing_items.scored` has the value scored). WEMWBS/SWEMWBS 1-5, ONS4 0-10: life satisfaction; other instruments as their definitions say.",
    ),
    col(
        "item_2",
        Integer,
        true,
        "Answer to item 2 (ONS4: worthwhile).",
    ),
    col(
        "item_3",
        Integer,
        true,
        "Answer to item 3 (ONS4: happy yesterday).",
    ),
    col(
        "item_4",
        Integer,
        true,
        "Answer to item 4 (ONS4: anxious yesterday; higher is worse).",
    ),
    col("item_5", Integer, true, "Answer to item 5."),
    col("item_6", Integer, true, "Answer to item 6."),
    col(
        "item_7",
        Integer,
        true,
        "Answer to item 7. SWEMWBS forms number their items 1-7.",
    ),
    col(
        "item_8",
        Integer,
        true,
        "Answer to item 8 (of the built-ins, WEMWBS only).",
    ),
    col(
        "item_9",
        Integer,
        true,
        "Answer to item 9 (of the built-ins, WEMWBS only).",
    ),
    col(
        "item_10",
        Integer,
        true,
        "Answer to item 10 (of the built-ins, WEMWBS only).",
    ),
    col(
        "item_11",
        Integer,
        true,
        "Answer to item 11 (of the built-ins, WEMWBS only).",
    ),
    col(
        "item_12",
        Integer,
        true,
        "Answer to item 12 (of the built-ins, WEMWBS only).",
    ),
    col(
        "item_13",
        Integer,
        true,
        "Answer to item 13 (of the built-ins, WEMWBS only).",
    ),
    col(
        "item_14",
        Integer,
        true,
        "Answer to item 14 (of the built-ins, WEMWBS only).",
    ),
    col(
        "instrument_version",
        Integer,
        false,
        "Version of the instrument's definition the form was answered with: 1 for the built-ins; a project's own instrument starts at 1 and gets a new version for any change that would reinterpret answers. Baselines and changes pair responses of one version.",
    ),
    col(
        "band",
        Text,
        true,
        "The band `score` falls in, named as in the instrument's definition (for a project's own instrument, say `low`, `moderate`, `high`). Empty when the definition names no bands (WEMWBS's commonly used banding is in `wemwbs_band`), the score is in none of them, or there is no score.",
    ),
    col(
        "higher_is_better",
        Boolean,
        true,
        "Whether a higher `score` is better (the instrument's definition; true for WEMWBS and SWEMWBS, false for UCLA3). Empty for instruments without a total score (ONS4).",
    ),
    col(
        "reliable_change_threshold",
        Decimal,
        true,
        "The change, in points of `score`, that `reliable_improvement` and `reliable_deterioration` count: the setting for WEMWBS and SWEMWBS, the first `reliable_change` of another instrument's definition. Empty when the instrument has none.",
    ),
];

static WELLBEING_ITEM_COLUMNS: &[Column] = &[
    col(
        "response_id",
        Text,
        false,
        "The response (joins wellbeing.response_id).",
    ),
    col(
        "participant_id",
        Text,
        false,
        "The participant (joins participants.participant_id).",
    ),
    col("project", Text, false, "Project slug."),
    col(
        "instrument",
        Text,
        false,
        "The questionnaire, as in `wellbeing.instrument`.",
    ),
    col(
        "instrument_version",
        Integer,
        false,
        "Version of its definition, as in `wellbeing.instrument_version`.",
    ),
    cat(
        "timepoint",
        schema::TIMEPOINTS,
        false,
        "When in the participant's journey it was taken.",
    ),
    col("response_date", Date, false, "Date it was answered."),
    col(
        "item",
        Integer,
        false,
        "The item's number in the instrument, from 1.",
    ),
    col(
        "item_key",
        Text,
        true,
        "The item's short name in the definition (`life_satisfaction`, `lack_companionship`), when it has one.",
    ),
    col("answer", Integer, false, "The answer given."),
    col(
        "scored",
        Integer,
        false,
        "The value the answer counts as in the score: the answer itself, or for a reverse-scored item min + max - answer of the item's scale.",
    ),
];

/// The columns of the `outcome_pairs` dataset.
pub static OUTCOME_PAIR_COLUMNS: &[Column] = &[
    col(
        "participant_id",
        Text,
        false,
        "The participant (joins participants.participant_id).",
    ),
    col("project", Text, false, "Project slug."),
    col(
        "measure",
        Text,
        false,
        "The outcome measure, named as in the outcomes report: `wemwbs` (raw score), `swemwbs` (metric score, from SWEMWBS forms and the SWEMWBS items of WEMWBS forms), `ons4_life_satisfaction`, `ons4_worthwhile`, `ons4_happiness`, `ons4_anxiety`, and for any other instrument with a total score its id in lower case (`ucla3`), with `_v2` for its version 2 and so on.",
    ),
    col(
        "instrument",
        Text,
        true,
        "The instrument whose total score the measure is (UCLA3, a project's own). Empty for the built-in measures (WEMWBS, SWEMWBS, ONS4).",
    ),
    col(
        "instrument_version",
        Integer,
        true,
        "The version of that instrument's definition; both responses of a pair are of it. Empty for the built-in measures.",
    ),
    cat(
        "follow_up_timepoint",
        &["end", "interim", "follow_up"],
        false,
        "The timepoint paired with baseline: the `timepoint` filter, `end` by default.",
    ),
    col(
        "baseline_response_id",
        Text,
        false,
        "The baseline (joins wellbeing.response_id): the participant's earliest complete `baseline` response scored on the measure (by date, then id).",
    ),
    col(
        "baseline_instrument",
        Text,
        false,
        "The questionnaire of the baseline: `WEMWBS` on the `swemwbs` measure is a SWEMWBS score from the seven SWEMWBS items of a WEMWBS form.",
    ),
    col("baseline_date", Date, false, "Date of the baseline."),
    col(
        "follow_up_response_id",
        Text,
        false,
        "The follow-up (joins wellbeing.response_id): the participant's latest complete response at the follow-up timepoint scored on the measure (by date, then id), dated on or after the baseline and within `from`/`to`.",
    ),
    col(
        "follow_up_instrument",
        Text,
        false,
        "The questionnaire of the follow-up, as `baseline_instrument`.",
    ),
    col("follow_up_date", Date, false, "Date of the follow-up."),
    col(
        "days_between",
        Integer,
        false,
        "Days from the baseline to the follow-up (0 or more).",
    ),
    col(
        "baseline_score",
        Decimal,
        false,
        "The baseline's score on the measure: WEMWBS raw score, SWEMWBS metric score, the ONS4 item's answer (0-10), or the instrument's total score.",
    ),
    col(
        "follow_up_score",
        Decimal,
        false,
        "The follow-up's score on the measure.",
    ),
    col(
        "change",
        Decimal,
        false,
        "follow_up_score - baseline_score, not adjusted for direction (for `ons4_anxiety` and UCLA3 a fall is an improvement). The outcomes report's mean change is the mean of this column over a measure's rows.",
    ),
    col(
        "direction",
        Integer,
        false,
        "`1` when a higher score is better, `-1` when lower is (`ons4_anxiety`, UCLA3 and any instrument whose `higher_is_better` is false).",
    ),
    col(
        "threshold",
        Decimal,
        true,
        "The reliable-change threshold, in points, that `reliable_change` applies: for WEMWBS and SWEMWBS the request's or the server's setting (3 by default), for another instrument the first `reliable_change` of its definition. Empty when the measure has none (ONS4).",
    ),
    col(
        "threshold_source",
        Text,
        true,
        "Where that threshold comes from, as the outcomes report words it.",
    ),
    cat(
        "reliable_change",
        &["improved", "no_reliable_change", "deteriorated"],
        true,
        "`improved`: `change` x `direction` is at least `threshold`; `deteriorated`: at most minus `threshold`; else `no_reliable_change`. The outcomes report's first `reliable_change` counts are the counts of these codes (before suppression). Empty when there is no threshold.",
    ),
    col(
        "threshold_2",
        Decimal,
        true,
        "The second, larger, documented threshold the outcomes report also applies: 9 for WEMWBS (NHS Digital), 2.87 for SWEMWBS (Shah et al. 2018), another instrument's second `reliable_change`. Empty when there is none or it is not larger than `threshold`.",
    ),
    col(
        "threshold_2_source",
        Text,
        true,
        "Where `threshold_2` comes from.",
    ),
    cat(
        "reliable_change_2",
        &["improved", "no_reliable_change", "deteriorated"],
        true,
        "As `reliable_change`, at `threshold_2`.",
    ),
];

static STORY_COLUMNS: &[Column] = &[
    col(
        "story_id",
        Text,
        false,
        "Random identifier (UUID) of the story record.",
    ),
    col("project", Text, false, "Project slug."),
    col(
        "participant_id",
        Text,
        true,
        "The participant it is about, if any.",
    ),
    col(
        "session_id",
        Text,
        true,
        "The session it is linked to, if any.",
    ),
    cat(
        "consent_scope",
        &["project", "public"],
        false,
        "`project`: for the project's analysts; `public`: may be published.",
    ),
    col(
        "language",
        Text,
        true,
        "Language tag (BCP 47), when recorded.",
    ),
    col(
        "themes",
        Text,
        false,
        "Themes, redacted, separated by `;`, sorted.",
    ),
    col("title", Text, false, "Title, redacted."),
    col("body", Text, false, "The story, redacted."),
    col("word_count", Integer, false, "Words in the body."),
    col(
        "recorded_on",
        Date,
        false,
        "Date the server first stored the story (UTC).",
    ),
];

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row, UTF-8.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet, typed from the dictionary ([`crate::analysis::typed`]).
    Parquet,
}

impl Format {
    /// Parses `csv`, `jsonl` or `parquet`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }
    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
            Format::Parquet => crate::analysis::typed::MEDIA_TYPE,
        }
    }
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// Row filters. Dates are inclusive; a date filter applies to the session date (sessions,
/// attendance), the response date (wellbeing), the registration date (participants) and the
/// record date (stories).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only this site (sessions, attendance, and wellbeing taken at a session there;
    /// participants who attended there; stories linked to a session there).
    pub site: Option<String>,
    /// Only this activity (as for `site`).
    pub activity: Option<String>,
    /// From this date.
    pub from: Option<NaiveDate>,
    /// Up to and including this date.
    pub to: Option<NaiveDate>,
    /// Only this timepoint (wellbeing and wellbeing items only).
    pub timepoint: Option<String>,
}

impl Filters {
    /// The filters as JSON (`null` for those not set), as the audit log and typed exports'
    /// metadata record them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "site": self.site, "activity": self.activity,
            "from": self.from, "to": self.to, "timepoint": self.timepoint,
        })
    }

    /// Checks the filters make sense for a dataset; the message names the problem.
    pub fn check(&self, dataset: Dataset) -> Result<(), String> {
        if let (Some(f), Some(t)) = (self.from, self.to)
            && f > t
        {
            return Err(format!("`from` ({f}) is after `to` ({t})"));
        }
        if let Some(tp) = &self.timepoint {
            if dataset == Dataset::OutcomePairs {
                return crate::analysis::reports::follow_up_timepoint(Some(tp))
                    .map(|_| ())
                    .map_err(|_| {
                        format!(
                            "`timepoint` for outcome_pairs is the follow-up timepoint: end, interim or follow_up, not `{tp}`"
                        )
                    });
            }
            if !matches!(dataset, Dataset::Wellbeing | Dataset::WellbeingItems) {
                return Err(
                    "`timepoint` applies only to the wellbeing, wellbeing_items and outcome_pairs datasets".into(),
                );
            }
            if !schema::TIMEPOINTS.contains(&tp.as_str()) {
                return Err(format!(
                    "`timepoint` must be one of {}",
                    schema::TIMEPOINTS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Reliable-change thresholds, in points of each instrument's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// WEMWBS (raw score): default 3, the "meaningful change" of the scale's authors.
    pub wemwbs: f64,
    /// SWEMWBS (metric score): default 3, as NHS Digital uses.
    pub swemwbs: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            wemwbs: 3.0,
            swemwbs: 3.0,
        }
    }
}

/// A value in a row; text borrows from the database row where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'r> {
    /// Missing.
    Null,
    /// Text.
    Text(Cow<'r, str>),
    /// Whole number.
    Int(i64),
    /// Decimal.
    Num(f64),
    /// Boolean.
    Bool(bool),
}

impl From<Option<String>> for Val<'_> {
    fn from(v: Option<String>) -> Self {
        v.map_or(Val::Null, |s| Val::Text(Cow::Owned(s)))
    }
}
impl From<String> for Val<'_> {
    fn from(v: String) -> Self {
        Val::Text(Cow::Owned(v))
    }
}
impl<'r> From<&'r str> for Val<'r> {
    fn from(v: &'r str) -> Self {
        Val::Text(Cow::Borrowed(v))
    }
}
impl From<Option<i64>> for Val<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Val::Null, Val::Int)
    }
}
impl From<Option<f64>> for Val<'_> {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Val::Null, Val::Num)
    }
}
impl From<Option<bool>> for Val<'_> {
    fn from(v: Option<bool>) -> Self {
        v.map_or(Val::Null, Val::Bool)
    }
}

/// Column `i` of a row as text, borrowed.
fn text(r: &AnyRow, i: usize) -> Result<Val<'_>, sqlx::Error> {
    Ok(Val::Text(Cow::Borrowed(r.try_get::<&str, _>(i)?)))
}

/// Column `i` of a row as text or missing, borrowed.
fn opt_text(r: &AnyRow, i: usize) -> Result<Val<'_>, sqlx::Error> {
    Ok(r.try_get::<Option<&str>, _>(i)?
        .map_or(Val::Null, |s| Val::Text(Cow::Borrowed(s))))
}

/// The number of `item_n` columns of a wellbeing export: 14 (WEMWBS's items, the columns the
/// dictionary lists), or more when an instrument in the export has more items (from its
/// definition) or a response answered a higher item number.
pub async fn wellbeing_item_columns(
    db: &Db,
    project: &str,
    f: &Filters,
) -> Result<u8, sqlx::Error> {
    let mut n = WELLBEING_ITEM_COLUMNS_LISTED;
    for r in crate::storage::analysis::wellbeing_instruments(db, project, f).await? {
        let answered = r.max_item;
        let defined = u32::try_from(r.version)
            .ok()
            .and_then(|v| instrument::lookup(project, &r.instrument, Some(v)))
            .and_then(|d| d.items.iter().map(|i| i.number).max());
        let answered = answered.and_then(|a| u8::try_from(a).ok());
        n = n.max(defined.unwrap_or(0)).max(answered.unwrap_or(0));
    }
    Ok(n)
}

/// The `item_n` columns the dictionary lists for the wellbeing dataset.
pub const WELLBEING_ITEM_COLUMNS_LISTED: u8 = 14;

/// Runs the export query on a task, sending chunks of output through a bounded channel: the
/// database is read only as fast as the client takes the bytes, so memory stays flat.
pub fn stream_rows(
    db: Db,
    project: String,
    dataset: Dataset,
    format: Format,
    filters: Filters,
    maker: RowMaker,
) -> tokio::sync::mpsc::Receiver<Result<Vec<u8>, sqlx::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        if dataset.is_computed() {
            return send_computed(db, project, dataset, format, filters, maker, tx).await;
        }
        // Attendance: the marks a session at a time (one database row per session).
        let mut rows = if dataset == Dataset::Attendance {
            crate::storage::analysis::attendance_mark_groups(&db, &project, &filters)
        } else {
            crate::storage::analysis::export_rows(&db, dataset, &project, &filters)
        };
        // Attendance: the sessions, in the marks' order, read alongside.
        let mut sessions = (dataset == Dataset::Attendance).then(|| SessionCursor {
            rows: crate::storage::analysis::attendance_session_rows(&db, &project, &filters).fuse(),
            current: None,
        });
        let mut writer = maker.writer(format);
        writer.describe_export(dataset, &filters);
        let mut sent_header = false;
        loop {
            let row = match rows.next().await {
                Some(Ok(row)) => row,
                Some(Err(e)) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                None => break,
            };
            let made = match &mut sessions {
                None => maker.row(&row).map(|values| writer.row(&values)),
                // A mark whose session the sessions query did not see (a sync committed
                // between the two reads) is left out, as if read a moment earlier.
                Some(sessions) => match sessions.seek(order_key(&row, 2), &maker).await {
                    Ok(Some((s, codes))) => write_mark_group(&mut writer, s, codes, &row),
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = made {
                let _ = tx.send(Err(e)).await;
                return;
            }
            if writer.ready() || !sent_header {
                sent_header = true;
                if tx.send(Ok(writer.take())).await.is_err() {
                    return; // the client went away
                }
            }
        }
        let last = writer
            .finish()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)));
        let _ = tx.send(last).await;
    });
    rx
}

/// Writes the attendance rows of one session from its group of marks (see
/// [`crate::storage::analysis::attendance_mark_groups`]).
fn write_mark_group(
    writer: &mut Writer,
    session: &AnyRow,
    codes: &(String, String),
    group: &AnyRow,
) -> Result<(), sqlx::Error> {
    let marks: &str = group.try_get(1)?;
    for mark in marks.split('\u{1e}') {
        let (participant, status) = mark.split_once('\u{1f}').ok_or_else(|| {
            sqlx::Error::Decode(format!("an attendance mark without its status: {mark:?}").into())
        })?;
        writer.row(&RowMaker::attendance_mark_row(
            session,
            codes,
            participant,
            status,
        )?);
    }
    Ok(())
}

/// Writes a computed dataset ([`Dataset::is_computed`]: `outcome_pairs`) into the channel:
/// its rows come from the report data, loaded and paired as the outcomes report does
/// ([`crate::analysis::reports::paired`]), so memory is what that report holds.
async fn send_computed(
    db: Db,
    project: String,
    dataset: Dataset,
    format: Format,
    filters: Filters,
    maker: RowMaker,
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, sqlx::Error>>,
) {
    use crate::analysis::reports;
    let data = match reports::Data::load(&db, &project, &filters).await {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.send(Err(e)).await;
            return;
        }
    };
    // Checked by `Filters::check`: end, interim or follow_up.
    let to = reports::follow_up_timepoint(filters.timepoint.as_deref()).unwrap_or("end");
    let paired = reports::paired(&data, to, &reports::Selection::all());
    let rows = reports::outcome_pair_rows(&paired, maker.thresholds, &project);
    let mut writer = maker.writer(format);
    writer.describe_export(dataset, &filters);
    for row in &rows {
        writer.row(row);
        if writer.ready() && tx.send(Ok(writer.take())).await.is_err() {
            return; // the client went away
        }
    }
    let last = writer
        .finish()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)));
    let _ = tx.send(last).await;
}

/// The (start, session id) of a row whose session id is column 0 and start column `start`:
/// the order both streams of an attendance export (sessions, and marks grouped by session)
/// are read in.
fn order_key(row: &AnyRow, start: usize) -> (&str, &str) {
    (
        row.try_get(start).unwrap_or_default(),
        row.try_get(0).unwrap_or_default(),
    )
}

/// The sessions of an attendance export, read alongside its marks; the current one with its
/// site and activity as analysts see them.
struct SessionCursor<'a> {
    rows: futures_util::stream::Fuse<
        futures_util::stream::BoxStream<'a, Result<AnyRow, sqlx::Error>>,
    >,
    current: Option<(AnyRow, (String, String))>,
}

impl SessionCursor<'_> {
    /// Advances to the session with this (start, id), if there is one: both streams are in
    /// that order, so sessions before it are passed and a later one is kept for later marks.
    async fn seek(
        &mut self,
        wanted: (&str, &str),
        maker: &RowMaker,
    ) -> Result<Option<(&AnyRow, &(String, String))>, sqlx::Error> {
        while self
            .current
            .as_ref()
            .is_none_or(|(s, _)| order_key(s, 5) < wanted)
        {
            match self.rows.next().await {
                Some(Ok(s)) => {
                    let codes = maker.session_codes(&s)?;
                    self.current = Some((s, codes));
                }
                Some(Err(e)) => return Err(e),
                None => {
                    self.current = None;
                    break;
                }
            }
        }
        Ok(self
            .current
            .as_ref()
            .filter(|(s, _)| order_key(s, 5) == wanted)
            .map(|(s, codes)| (s, codes)))
    }
}

/// Turns database rows into output rows; keeps what a row needs (the redaction list).
pub struct RowMaker {
    dataset: Dataset,
    thresholds: Thresholds,
    redactor: Redactor,
    /// How many `item_n` columns a wellbeing row has (at least the 14 listed).
    item_columns: u8,
    /// The dataset's [`Dataset::field_columns`], with the names they are selected as.
    fields: Vec<(&'static schema::Field, String)>,
    /// A demo programme's rows: Parquet files say so in their metadata.
    demo: bool,
}

impl RowMaker {
    /// A row maker for a dataset.
    pub fn new(dataset: Dataset, thresholds: Thresholds, redactor: Redactor) -> Self {
        RowMaker {
            dataset,
            thresholds,
            redactor,
            item_columns: WELLBEING_ITEM_COLUMNS_LISTED,
            fields: dataset
                .field_columns()
                .into_iter()
                .map(|f| (f, crate::storage::analysis::field_alias(f)))
                .collect(),
            demo: false,
        }
    }

    /// The same, for a demo programme when `demo` (synthetic people): its Parquet files carry
    /// `bothy:demo` = `"true"`.
    pub fn for_demo(mut self, demo: bool) -> Self {
        self.demo = demo;
        self
    }

    /// The same, writing `n` item columns in wellbeing rows ([`wellbeing_item_columns`]);
    /// never fewer than the 14 the dictionary lists.
    pub fn with_item_columns(mut self, n: u8) -> Self {
        self.item_columns = n.max(WELLBEING_ITEM_COLUMNS_LISTED);
        self
    }

    /// The columns of this row maker's rows.
    pub fn output_columns(&self) -> Vec<OutputColumn> {
        output_columns(self.dataset, self.item_columns)
    }

    /// A writer whose columns are this row maker's.
    pub fn writer(&self, format: Format) -> Writer {
        let mut w = Writer::of_dataset(
            format,
            self.dataset,
            output_columns(self.dataset, self.item_columns),
        );
        if self.demo
            && let Some(sink) = &mut w.parquet
        {
            sink.mark_demo();
        }
        w
    }

    /// One output row from one database row, in column order.
    pub fn row<'r>(&self, r: &'r AnyRow) -> Result<Vec<Val<'r>>, sqlx::Error> {
        let mut row = self.written_row(r)?;
        for (field, alias) in &self.fields {
            let alias = alias.as_str();
            let value = match field.ty {
                FieldType::Int { .. } => r.try_get::<Option<i64>, _>(alias)?.into(),
                FieldType::Bool => r.try_get::<Option<i64>, _>(alias)?.map(|v| v == 1).into(),
                _ => r
                    .try_get::<Option<&str>, _>(alias)?
                    .map_or(Val::Null, |s| Val::Text(Cow::Borrowed(s))),
            };
            row.push(match field.analysts {
                Analysts::Redact => self.free_text(value),
                Analysts::Show | Analysts::Withhold => value,
            });
        }
        Ok(row)
    }

    /// The values of the columns written here ([`RowMaker::row`] adds the field columns).
    fn written_row<'r>(&self, r: &'r AnyRow) -> Result<Vec<Val<'r>>, sqlx::Error> {
        Ok(match self.dataset {
            Dataset::OutcomePairs => unreachable!("outcome_pairs rows are computed, not read"),
            Dataset::Participants => {
                let decile: Option<i64> = r.try_get(10)?;
                vec![
                    text(r, 0)?,
                    text(r, 1)?,
                    text(r, 2)?,
                    Val::Bool(r.try_get::<i64, _>(3)? == 1),
                    Val::Bool(r.try_get::<i64, _>(4)? == 1),
                    opt_text(r, 5)?,
                    self.free_text(opt_text(r, 6)?),
                    opt_text(r, 7)?,
                    opt_text(r, 8)?,
                    opt_text(r, 9)?,
                    decile.into(),
                    decile.map(|d| ((d + 1) / 2).to_string()).into(),
                    opt_text(r, 11)?,
                    opt_text(r, 12)?,
                    opt_text(r, 13)?,
                    Val::Int(r.try_get(14)?),
                    opt_text(r, 15)?,
                    opt_text(r, 16)?,
                ]
            }
            Dataset::Sessions => {
                let start: String = r.try_get(5)?;
                let end: Option<String> = r.try_get(6)?;
                let facilitators: String = r.try_get(7)?;
                let unregistered: i64 = r.try_get(8)?;
                let registered: i64 = r.try_get(10)?;
                let minutes = duration_minutes(&start, end.as_deref());
                vec![
                    text(r, 0)?,
                    text(r, 1)?,
                    self.free_text(text(r, 2)?),
                    self.free_text(text(r, 3)?),
                    text(r, 4)?,
                    Val::from(start.get(..10).unwrap_or(&start).to_owned()),
                    Val::from(start),
                    end.into(),
                    minutes.into(),
                    Val::Int(facilitators.split(';').filter(|f| !f.is_empty()).count() as i64),
                    Val::Int(registered),
                    Val::Int(unregistered),
                    Val::Int(registered + unregistered),
                    Val::Bool(r.try_get::<i64, _>(9)? == 1),
                ]
            }
            Dataset::Attendance => {
                // Attendance rows are made by merging two streams: see `attendance_mark_row`.
                return Err(sqlx::Error::Protocol(
                    "attendance rows are made by attendance_mark_row".into(),
                ));
            }
            Dataset::Wellbeing => self.wellbeing_row(r)?,
            Dataset::WellbeingItems => {
                let project: &str = r.try_get(2)?;
                let instrument: &str = r.try_get(3)?;
                let version: i64 = r.try_get(4)?;
                let item: i64 = r.try_get(7)?;
                let key = u32::try_from(version)
                    .ok()
                    .and_then(|v| instrument::lookup(project, instrument, Some(v)))
                    .and_then(|d| d.item(u8::try_from(item).ok()?)?.key.clone());
                vec![
                    text(r, 0)?,
                    text(r, 1)?,
                    Val::from(project),
                    Val::from(instrument),
                    Val::Int(version),
                    text(r, 5)?,
                    text(r, 6)?,
                    Val::Int(item),
                    key.into(),
                    Val::Int(r.try_get(8)?),
                    Val::Int(r.try_get(9)?),
                ]
            }
            Dataset::Stories => {
                let themes: String = r.try_get(6)?;
                let mut themes: Vec<String> = themes
                    .split(';')
                    .filter(|t| !t.is_empty())
                    .map(|t| self.redactor.redact(t))
                    .collect();
                themes.sort_unstable();
                let title: String = r.try_get(7)?;
                let body = self.redactor.redact(&r.try_get::<String, _>(8)?);
                let words = body.split_whitespace().count() as i64;
                vec![
                    text(r, 0)?,
                    text(r, 1)?,
                    opt_text(r, 2)?,
                    opt_text(r, 3)?,
                    text(r, 4)?,
                    opt_text(r, 5)?,
                    Val::from(themes.join(";")),
                    Val::from(self.redactor.redact(&title)),
                    Val::from(body),
                    Val::Int(words),
                    text(r, 9)?,
                ]
            }
        })
    }

    /// Free text as analysts see it ([`Redactor::redact`]); borrowed when nothing changes.
    pub fn free_text<'r>(&self, v: Val<'r>) -> Val<'r> {
        match v {
            Val::Text(s) => {
                let redacted = self.redactor.redact(&s);
                if redacted == *s {
                    Val::Text(s)
                } else {
                    Val::Text(Cow::Owned(redacted))
                }
            }
            other => other,
        }
    }

    /// The (site, activity) of a session row (of [`crate::storage::analysis::attendance_session_rows`]) as analysts
    /// see them: worked out once per session, not once per mark.
    pub fn session_codes(&self, session: &AnyRow) -> Result<(String, String), sqlx::Error> {
        Ok((
            self.redactor.redact(session.try_get(2)?),
            self.redactor.redact(session.try_get(3)?),
        ))
    }

    /// One attendance row from a session row (of
    /// [`crate::storage::analysis::attendance_session_rows`]) with its
    /// [`RowMaker::session_codes`], and a mark's participant and status (of
    /// [`crate::storage::analysis::attendance_mark_groups`]).
    pub fn attendance_mark_row<'r>(
        session: &'r AnyRow,
        (site, activity): &'r (String, String),
        participant: &'r str,
        status: &'r str,
    ) -> Result<Vec<Val<'r>>, sqlx::Error> {
        let start: &str = session.try_get(5)?;
        Ok(vec![
            text(session, 0)?,
            Val::from(participant),
            text(session, 1)?,
            Val::from(site.as_str()),
            Val::from(activity.as_str()),
            text(session, 4)?,
            Val::from(start.get(..10).unwrap_or(start)),
            Val::from(status),
        ])
    }

    fn wellbeing_row<'r>(&self, r: &'r AnyRow) -> Result<Vec<Val<'r>>, sqlx::Error> {
        let id: String = r.try_get(0)?;
        let project: &str = r.try_get(2)?;
        let instrument: String = r.try_get(3)?;
        let complete = r.try_get::<i64, _>(9)? == 1;
        let raw: Option<i64> = r.try_get(12)?;
        let swemwbs_raw: Option<i64> = r.try_get(13)?;
        let metric: Option<f64> = r.try_get(14)?;
        let items: String = r.try_get(15)?;
        let items: HashMap<String, i64> = serde_json::from_str(&items).unwrap_or_default();
        let b_id: Option<String> = r.try_get(16)?;
        let b_date: Option<String> = r.try_get(17)?;
        let b_raw: Option<i64> = r.try_get(18)?;
        let b_metric: Option<f64> = r.try_get(19)?;
        let version: i64 = r.try_get(20)?;
        let stored_score: Option<f64> = r.try_get(21)?;
        let stored_band: Option<String> = r.try_get(22)?;
        let b_stored_score: Option<f64> = r.try_get(23)?;
        // The definition's total score, if it has one (not for per-item instruments).
        let definition = u32::try_from(version)
            .ok()
            .and_then(|v| instrument::lookup(project, &instrument, Some(v)));
        let total = definition
            .as_deref()
            .map(|d| &d.scoring)
            .filter(|s| s.method != Method::PerItem);
        let (score, b_score, threshold, higher_is_better) = match instrument.as_str() {
            "WEMWBS" => (
                raw.map(|v| v as f64),
                b_raw.map(|v| v as f64),
                Some(self.thresholds.wemwbs),
                Some(true),
            ),
            "SWEMWBS" => (metric, b_metric, Some(self.thresholds.swemwbs), Some(true)),
            _ => (
                stored_score,
                b_stored_score,
                total
                    .and_then(|s| s.reliable_change.first())
                    .map(|c| c.points),
                total.map(|s| s.higher_is_better),
            ),
        };
        let score = score.filter(|_| complete);
        let timepoint: String = r.try_get(4)?;
        let date: String = r.try_get(5)?;
        // Change is measured for later timepoints on or after the baseline, as in the reports.
        let comparable = timepoint != "baseline" && b_date.as_deref().is_some_and(|b| *b <= *date);
        let change = match (score, b_score) {
            (Some(s), Some(b)) if comparable => Some(round2(s - b)),
            _ => None,
        };
        // Change in the better direction.
        let gain = change.map(|c| {
            if higher_is_better == Some(false) {
                -c
            } else {
                c
            }
        });
        let band = if instrument == "WEMWBS" && complete {
            raw.map(|v| wemwbs_band(v).to_owned())
        } else {
            None
        };
        let mut row = vec![
            Val::from(id),
            text(r, 1)?,
            Val::from(project),
            Val::from(instrument),
            Val::from(timepoint),
            Val::from(date),
            opt_text(r, 6)?,
            self.free_text(opt_text(r, 7)?),
            self.free_text(opt_text(r, 8)?),
            Val::Bool(complete),
            Val::Int(r.try_get(10)?),
            opt_text(r, 11)?,
            raw.filter(|_| complete).into(),
            swemwbs_raw.into(),
            metric.into(),
            band.into(),
            score.into(),
            b_id.into(),
            b_date.into(),
            b_score.into(),
            change.into(),
            gain.zip(threshold).map(|(c, t)| c >= t).into(),
            gain.zip(threshold).map(|(c, t)| c <= -t).into(),
        ];
        let answer = |i: u8| Val::from(items.get(&i.to_string()).copied());
        for i in 1..=WELLBEING_ITEM_COLUMNS_LISTED {
            row.push(answer(i));
        }
        row.extend([
            Val::Int(version),
            stored_band.filter(|_| complete).into(),
            higher_is_better.into(),
            threshold.into(),
        ]);
        for i in WELLBEING_ITEM_COLUMNS_LISTED + 1..=self.item_columns {
            row.push(answer(i));
        }
        Ok(row)
    }
}

/// The WEMWBS band of a raw score (not official; see the dictionary).
pub fn wemwbs_band(raw: i64) -> &'static str {
    match raw {
        i64::MIN..=40 => "probable_depression",
        41..=44 => "possible_depression",
        45..=59 => "average",
        _ => "high",
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn duration_minutes(start: &str, end: Option<&str>) -> Option<i64> {
    let s = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let e = chrono::DateTime::parse_from_rfc3339(end?).ok()?;
    Some((e - s).num_minutes())
}

/// A column as written: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// Its name.
    pub name: Cow<'static, str>,
    /// Its type.
    pub ty: ColumnType,
}

/// The columns of a dataset's rows: the dictionary's, then for wellbeing the `item_n` columns
/// past the 14 it lists, up to `item_columns`.
pub fn output_columns(dataset: Dataset, item_columns: u8) -> Vec<OutputColumn> {
    let mut out: Vec<OutputColumn> = dataset
        .columns()
        .iter()
        .map(|c| OutputColumn {
            name: Cow::Borrowed(c.name),
            ty: c.ty,
        })
        .collect();
    if dataset == Dataset::Wellbeing {
        out.extend(
            (WELLBEING_ITEM_COLUMNS_LISTED + 1..=item_columns).map(|i| OutputColumn {
                name: Cow::Owned(format!("item_{i}")),
                ty: ColumnType::Integer,
            }),
        );
    }
    out
}

/// Writes rows in a format, buffering into chunks. CSV and JSON Lines are written here;
/// Parquet by a [`ParquetSink`](crate::analysis::typed::ParquetSink), which needs
/// [`Writer::finish`] to write its footer.
pub struct Writer {
    format: Format,
    columns: Vec<OutputColumn>,
    buf: Vec<u8>,
    parquet: Option<Box<crate::analysis::typed::ParquetSink>>,
    /// Why the Parquet writer could not be made, if it could not.
    failed: Option<crate::analysis::typed::TypedError>,
}

impl Writer {
    /// A writer of a dataset's documented columns; the CSV header is written at once.
    pub fn new(format: Format, dataset: Dataset) -> Writer {
        Writer::of_dataset(
            format,
            dataset,
            output_columns(dataset, WELLBEING_ITEM_COLUMNS_LISTED),
        )
    }

    /// A writer of these columns of a dataset: Parquet types them as its dictionary says.
    pub fn of_dataset(format: Format, dataset: Dataset, columns: Vec<OutputColumn>) -> Writer {
        Writer::typed(format, Some(dataset), columns)
    }

    /// A writer of these columns; the CSV header is written at once.
    pub fn with_columns(format: Format, columns: Vec<OutputColumn>) -> Writer {
        Writer::typed(format, None, columns)
    }

    fn typed(format: Format, dataset: Option<Dataset>, columns: Vec<OutputColumn>) -> Writer {
        let mut w = Writer {
            format,
            columns,
            buf: Vec::with_capacity(CHUNK + 4096),
            parquet: None,
            failed: None,
        };
        if format == Format::Parquet {
            use crate::analysis::typed::{ParquetSink, typed_columns};
            match ParquetSink::new(dataset, typed_columns(dataset, &w.columns)) {
                Ok(sink) => w.parquet = Some(Box::new(sink)),
                Err(e) => w.failed = Some(e),
            }
        }
        if format == Format::Csv {
            let mut header = Vec::new();
            for (i, c) in w.columns.iter().enumerate() {
                if i > 0 {
                    header.push(b',');
                }
                csv_field(&mut header, &c.name);
            }
            header.extend_from_slice(b"\r\n");
            w.buf.extend_from_slice(&header);
        }
        w
    }

    /// Appends one row. (A Parquet value that does not fit its column fails the export at
    /// [`Writer::finish`].)
    pub fn row(&mut self, row: &[Val]) {
        debug_assert_eq!(row.len(), self.columns.len());
        match self.format {
            Format::Parquet => {
                if let Some(sink) = &mut self.parquet {
                    sink.row(row);
                }
            }
            Format::Csv => {
                let mut num = String::new();
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(b',');
                    }
                    match v {
                        Val::Null => {}
                        Val::Text(s) if self.columns[i].ty.is_string() => {
                            csv_string_field(&mut self.buf, s)
                        }
                        Val::Text(s) => csv_field(&mut self.buf, s),
                        Val::Int(n) => {
                            num.clear();
                            let _ = write!(num, "{n}");
                            self.buf.extend_from_slice(num.as_bytes());
                        }
                        Val::Num(n) => {
                            num.clear();
                            let _ = write!(num, "{n}");
                            self.buf.extend_from_slice(num.as_bytes());
                        }
                        Val::Bool(b) => {
                            self.buf
                                .extend_from_slice(if *b { b"true" } else { b"false" })
                        }
                    }
                }
                self.buf.extend_from_slice(b"\r\n");
            }
            Format::Jsonl => {
                self.buf.push(b'{');
                for (i, (c, v)) in self.columns.iter().zip(row).enumerate() {
                    if i > 0 {
                        self.buf.push(b',');
                    }
                    self.buf.push(b'"');
                    self.buf.extend_from_slice(c.name.as_bytes());
                    self.buf.extend_from_slice(b"\":");
                    match v {
                        Val::Null => self.buf.extend_from_slice(b"null"),
                        Val::Text(s) => {
                            serde_json::to_writer(&mut self.buf, s).expect("writing to a Vec")
                        }
                        Val::Int(n) => {
                            let _ = std::io::Write::write_fmt(&mut self.buf, format_args!("{n}"));
                        }
                        Val::Num(n) if n.is_finite() => {
                            let _ = std::io::Write::write_fmt(&mut self.buf, format_args!("{n}"));
                        }
                        Val::Num(_) => self.buf.extend_from_slice(b"null"),
                        Val::Bool(b) => {
                            self.buf
                                .extend_from_slice(if *b { b"true" } else { b"false" })
                        }
                    }
                }
                self.buf.extend_from_slice(b"}\n");
            }
        }
    }

    /// Whether a chunk is ready to send.
    pub fn ready(&self) -> bool {
        match &self.parquet {
            Some(sink) => sink.ready(),
            None => self.buf.len() >= CHUNK,
        }
    }

    /// Takes what is buffered.
    pub fn take(&mut self) -> Vec<u8> {
        match &mut self.parquet {
            Some(sink) => sink.take(),
            None => std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096)),
        }
    }

    /// Records what the file holds in its own metadata (Parquet only: CSV and JSON Lines have
    /// nowhere to say it): the dataset, the filters and the time of the export.
    pub fn describe_export(&mut self, dataset: Dataset, filters: &Filters) {
        if let Some(sink) = &mut self.parquet {
            sink.describe("bothy:dataset", dataset.as_str().to_owned());
            sink.describe("bothy:filters", filters.to_json().to_string());
            sink.describe(
                "bothy:exported_at",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
        }
    }

    /// Takes the rest: what is buffered and, for Parquet, the last row group and the footer;
    /// or why the file could not be written.
    pub fn finish(mut self) -> Result<Vec<u8>, crate::analysis::typed::TypedError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match self.parquet.take() {
            Some(sink) => sink.finish(),
            None => Ok(self.take()),
        }
    }
}

/// Bytes per streamed chunk.
const CHUNK: usize = 64 * 1024;

/// The characters that make a spreadsheet read a cell as a formula when it begins with one
/// (OWASP's list for CSV injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet would run this text as a formula.
pub fn formula_like(s: &str) -> bool {
    s.starts_with(FORMULA_STARTS)
}

/// Writes a field of a text or category column: text that a spreadsheet would run as a
/// formula gets a single quote `'` in front and is quoted, as OWASP recommends, so that it is
/// shown as text. Number, date and boolean columns never go through this (a negative change
/// from baseline stays `-3`).
pub fn csv_string_field(buf: &mut Vec<u8>, s: &str) {
    if formula_like(s) {
        csv_quoted(buf, &format!("'{s}"));
    } else {
        csv_field(buf, s);
    }
}

fn csv_field(buf: &mut Vec<u8>, s: &str) {
    // Quote when needed (RFC 4180); otherwise the value is written as it is.
    let needs = s.contains([',', '"', '\r', '\n']) || s.starts_with(' ') || s.ends_with(' ');
    if needs {
        csv_quoted(buf, s);
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

fn csv_quoted(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}

/// The data dictionary as Markdown (the content of `docs/data-dictionary.md`).
pub fn dictionary_markdown() -> String {
    let mut s = String::new();
    s.push_str(
        "# Data dictionary\n\n\
         <!-- Generated from server/src/analysis/export.rs by `bothy-server data-dictionary`; a test \
         keeps this file equal to it. Do not edit by hand. -->\n\n\
         Exports are served by \
         `GET /api/v1/projects/{slug}/exports/{dataset}?format=csv|jsonl|parquet`, and all of \
         them at once as a data package by `GET /api/v1/projects/{slug}/data-package` (and \
         `bothy export`), to a project's admins, coordinators and analysts. The same \
         dictionary is served as JSON by `GET /api/v1/data-dictionary`.\n\n\
         - **CSV**: RFC 4180, UTF-8, comma-separated, a header row of the column names below, \
         CRLF line ends, fields quoted when they contain a comma, quote or line break. An empty \
         field is a missing value (R's `read.csv`/`readr` read it as `NA` for non-text columns). \
         A `text` or `category` field that begins with `=`, `+`, `-`, `@`, a tab or a carriage \
         return is written with a single quote `'` in front, in quotes (`\"'=SUM(A1)\"`), so \
         that spreadsheets show it as text instead of running it as a formula (OWASP's advice \
         on CSV injection): strip one leading `'` from such fields to get the value recorded. \
         `integer`, `decimal`, `date`, `datetime` and `boolean` fields are never changed, so a \
         negative number such as a `change_from_baseline` of `-3` stays `-3`.\n\
         - **JSON Lines**: one object per line with the same names; a missing value is `null`. \
         Values are written as recorded (no leading `'`): it is data, not a spreadsheet.\n\
         - **Parquet**: the same rows and names, typed from this dictionary so that no reader \
         guesses: `text` as UTF-8 strings, `integer` as 64-bit integers, `decimal` as doubles, \
         `boolean` as booleans, `date` as dates, `datetime` as UTC timestamps (microseconds), \
         `category` as dictionary-encoded strings (R and pandas read them as factors and \
         categoricals); a missing value is null, and only columns that may be empty are \
         nullable. Each field's metadata holds its `description` and a category's codes \
         (`bothy:values`); the file's holds `bothy:dataset`, `bothy:filters` and \
         `bothy:exported_at`, and a demo programme's (synthetic people) `bothy:demo` = \
         `true`. Written a row group of 65,536 rows at a time, values as recorded \
         (no leading `'`).\n\
         - **Data package**: a zip of one CSV per dataset (as above) and a `datapackage.json` \
         (a Frictionless tabular data package, read by R's and Python's `frictionless`): per \
         column its type (`string`, `integer`, `number`, `boolean`, `date`, `datetime`), \
         whether it is required, a category's codes (`enum`) and, where the app names them, \
         their labels (`categories`); `missingValues` `[\"\"]`; and the filters, thresholds and \
         export time (`created`, `bothy:filters`, `bothy:thresholds`). Its \
         `bothy:formula_guard` describes the leading `'` above; `bothy:demo` is `true` for a \
         demo programme (synthetic people), else `false`. A demo programme's downloads are \
         named `bothy-demo-…`. `datasets=a,b` chooses \
         datasets (default all); `timepoint` is refused unless every dataset chosen takes it.\n\
         - **Types**: `text`, `integer`, `decimal` (`.` separator), `boolean` (`true`/`false`), \
         `date` (`YYYY-MM-DD`), `datetime` (RFC 3339), `category` (one of the listed codes).\n\
         - **Filters** (query parameters): `site`, `activity`, `from` and `to` (dates, \
         inclusive), and `timepoint` (`wellbeing` and `wellbeing_items` only; for \
         `outcome_pairs` the follow-up timepoint). Dates filter \
         the session date (sessions, attendance), the response date (wellbeing, wellbeing \
         items), the registration date (participants), the record date (stories) and the \
         follow-up date (outcome pairs). Site and \
         activity filter sessions and attendance directly, wellbeing responses and their items \
         through the session a response was taken at, participants (and their outcome pairs) by \
         a session they attended, and stories by their linked session.\n\
         - **Instruments**: wellbeing responses of every instrument are exported, the built-ins \
         (WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS) and a project's own, scored from their \
         definitions (docs/instruments.md). `wellbeing` is the wide form, one row per response; \
         `wellbeing_items` the long form, one row per answered item.\n\
         - **Privacy**: analysts get pseudonymous data only. Never exported: names, phone \
         numbers, participant codes, postcode districts, referral reasons, session notes, \
         facilitator names, story authors; no row about a participant who has not consented \
         to data use; no story whose consent scope is `private` or whose participant has not \
         consented to story sharing. Text typed in the field (story titles, bodies and themes, \
         site and activity codes, consent versions) is redacted, in CSV and JSON Lines alike, as \
         everywhere analysts read data: the names and phone numbers of the project's \
         participants become `[name]` and `[phone]`, UK postcodes and postcode districts \
         `[postcode]`, other phone-like numbers `[phone]` and e-mail addresses `[email]`. Every \
         export is recorded in the audit log.\n\n",
    );
    for d in Dataset::ALL {
        let _ = write!(
            s,
            "## `{}`\n\nOne row is {}.\n\n| Column | Type | Empty allowed | Meaning |\n|---|---|---|---|\n",
            d.as_str(),
            d.row_meaning()
        );
        for c in d.columns() {
            let mut meaning = c.description.to_owned();
            if !c.values.is_empty() {
                let _ = write!(
                    meaning,
                    " Codes: {}.",
                    c.values
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} |",
                c.name,
                c.ty.as_str(),
                if c.nullable { "yes" } else { "no" },
                meaning.replace('|', "\\|")
            );
        }
        if let Some(more) = d.more_columns() {
            let _ = write!(s, "\n{more}\n");
        }
        s.push('\n');
    }
    s
}

/// The data dictionary as JSON.
pub fn dictionary_json() -> serde_json::Value {
    serde_json::Value::Array(
        Dataset::ALL
            .iter()
            .map(|d| {
                serde_json::json!({
                    "dataset": d.as_str(),
                    "row": d.row_meaning(),
                    "columns": d.columns(),
                    "more_columns": d.more_columns(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_dictionary_is_current() {
        let committed = include_str!("../../../docs/data-dictionary.md");
        assert!(
            committed == dictionary_markdown(),
            "docs/data-dictionary.md is out of date: run `cargo run -p bothy-server -- data-dictionary > docs/data-dictionary.md`"
        );
    }

    #[test]
    fn column_names_are_unique_snake_case() {
        for d in Dataset::ALL {
            let mut seen = std::collections::HashSet::new();
            for c in d.columns() {
                assert!(seen.insert(c.name), "{} repeats {}", d.as_str(), c.name);
                assert!(
                    c.name
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                    "{}",
                    c.name
                );
            }
        }
    }

    #[test]
    fn every_field_analysts_may_see_has_a_column_and_no_other_does() {
        for d in Dataset::ALL {
            let Some((kind, _)) = d.kind() else {
                assert!(d.field_columns().is_empty());
                continue;
            };
            let names: Vec<&str> = d.columns().iter().map(|c| c.name).collect();
            for (field, _) in crate::storage::projection::plain_columns(kind) {
                let carried: Vec<&str> = match covering(d, field.name) {
                    Some(columns) => columns.to_vec(),
                    None => vec![field.name],
                };
                let shown = carried.iter().all(|c| names.contains(c));
                match field.analysts {
                    Analysts::Show | Analysts::Redact => assert!(
                        shown,
                        "{} has no column for the {kind} field `{}` (looked for {carried:?})",
                        d.as_str(),
                        field.name
                    ),
                    Analysts::Withhold => {
                        assert!(
                            covering(d, field.name).is_none() && !names.contains(&field.name),
                            "{} exports the withheld {kind} field `{}`",
                            d.as_str(),
                            field.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn covered_fields_are_fields_the_written_columns_carry() {
        for (d, field, columns) in COVERED {
            let (kind, _) = d.kind().expect("a dataset of a record kind");
            assert!(
                crate::storage::projection::plain_columns(kind).any(|(f, _)| f.name == *field),
                "{} lists `{field}`, not a plain {kind} field",
                d.as_str()
            );
            let written = match d {
                Dataset::Participants => PARTICIPANT_COLUMNS,
                Dataset::Sessions => SESSION_COLUMNS,
                Dataset::Stories => STORY_COLUMNS,
                _ => unreachable!(),
            };
            for c in *columns {
                assert!(
                    written.iter().any(|w| w.name == *c),
                    "{} has no column `{c}` (said to carry `{field}`)",
                    d.as_str()
                );
            }
        }
        // The columns written here stay first and unchanged.
        for (d, written) in [
            (Dataset::Participants, PARTICIPANT_COLUMNS),
            (Dataset::Sessions, SESSION_COLUMNS),
            (Dataset::Stories, STORY_COLUMNS),
        ] {
            let all = d.columns();
            assert_eq!(all.len(), written.len() + d.field_columns().len());
            for (a, w) in all.iter().zip(written) {
                assert_eq!(a.name, w.name);
            }
        }
    }

    #[test]
    fn field_columns_are_typed_from_the_field() {
        use schema::Field;
        static FIELDS: [Field; 6] = [
            Field {
                name: "room",
                ty: FieldType::Str { max: 200 },
                required: false,
                analysts: Analysts::Redact,
                label: "Room",
                help: "The room within the site.",
            },
            Field {
                name: "weather",
                ty: FieldType::Choice(&["dry", "wet"]),
                required: false,
                analysts: Analysts::Show,
                label: "",
                help: "",
            },
            Field {
                name: "volunteers",
                ty: FieldType::Int { min: 0, max: 50 },
                required: true,
                analysts: Analysts::Show,
                label: "",
                help: "Volunteers who helped.",
            },
            Field {
                name: "booked_on",
                ty: FieldType::Date,
                required: false,
                analysts: Analysts::Show,
                label: "",
                help: "",
            },
            Field {
                name: "doors_open",
                ty: FieldType::DateTime,
                required: false,
                analysts: Analysts::Show,
                label: "",
                help: "",
            },
            Field {
                name: "step_free",
                ty: FieldType::Bool,
                required: false,
                analysts: Analysts::Show,
                label: "",
                help: "",
            },
        ];
        let columns: Vec<Column> = FIELDS.iter().map(field_column).collect();
        let got: Vec<(&str, ColumnType, &[&str], &str)> = columns
            .iter()
            .map(|c| (c.name, c.ty, c.values, c.description))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "room",
                    Text,
                    &[][..],
                    "The room within the site. Redacted (see Privacy above)."
                ),
                (
                    "weather",
                    ColumnType::Category,
                    &["dry", "wet"][..],
                    "Weather."
                ),
                ("volunteers", Integer, &[][..], "Volunteers who helped."),
                ("booked_on", Date, &[][..], "Booked on."),
                ("doors_open", Datetime, &[][..], "Doors open."),
                ("step_free", Boolean, &[][..], "Step free."),
            ]
        );
        assert!(columns.iter().all(|c| c.nullable));
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut buf = Vec::new();
        csv_field(&mut buf, "a,\"b\"\nc");
        assert_eq!(String::from_utf8(buf).unwrap(), "\"a,\"\"b\"\"\nc\"");
    }

    #[test]
    fn csv_text_that_looks_like_a_formula_is_neutralised() {
        for (text, written) in [
            (
                "=HYPERLINK(\"http://e\")",
                "\"'=HYPERLINK(\"\"http://e\"\")\"",
            ),
            ("+44", "\"'+44\""),
            ("-1", "\"'-1\""),
            ("@SUM(A1)", "\"'@SUM(A1)\""),
            ("\tx", "\"'\tx\""),
            ("\rx", "\"'\rx\""),
            ("a=b", "a=b"),
        ] {
            let mut buf = Vec::new();
            csv_string_field(&mut buf, text);
            assert_eq!(String::from_utf8(buf).unwrap(), written, "{text:?}");
        }
    }

    #[test]
    fn bands_match_the_documented_cut_points() {
        assert_eq!(wemwbs_band(40), "probable_depression");
        assert_eq!(wemwbs_band(41), "possible_depression");
        assert_eq!(wemwbs_band(44), "possible_depression");
        assert_eq!(wemwbs_band(45), "average");
        assert_eq!(wemwbs_band(59), "average");
        assert_eq!(wemwbs_band(60), "high");
    }

    #[test]
    fn wellbeing_rows_get_item_columns_past_the_listed_ones() {
        let names = |d: Dataset, n: u8| -> Vec<String> {
            output_columns(d, n)
                .into_iter()
                .map(|c| c.name.into_owned())
                .collect()
        };
        let listed: Vec<String> = Dataset::Wellbeing
            .columns()
            .iter()
            .map(|c| c.name.to_owned())
            .collect();
        assert_eq!(names(Dataset::Wellbeing, 14), listed);
        let wide = output_columns(Dataset::Wellbeing, 16);
        assert_eq!(wide.len(), listed.len() + 2);
        assert_eq!(wide[listed.len()].name, "item_15");
        assert_eq!(wide[listed.len() + 1].name, "item_16");
        assert!(wide[listed.len()..].iter().all(|c| c.ty == Integer));
        assert_eq!(
            names(Dataset::WellbeingItems, 16).len(),
            WELLBEING_ITEM_COLUMNS.len()
        );
        // A row maker never writes fewer item columns than the dictionary lists.
        let maker = RowMaker::new(
            Dataset::Wellbeing,
            Thresholds::default(),
            Redactor::default(),
        )
        .with_item_columns(5);
        assert_eq!(maker.item_columns, 14);
        let mut w = maker.writer(Format::Csv);
        let header = String::from_utf8(w.take()).unwrap();
        assert_eq!(header, format!("{}\r\n", listed.join(",")));
    }

    #[test]
    fn timepoint_filters_both_wellbeing_datasets() {
        let f = Filters {
            timepoint: Some("end".into()),
            ..Filters::default()
        };
        assert!(f.check(Dataset::Wellbeing).is_ok());
        assert!(f.check(Dataset::WellbeingItems).is_ok());
        let err = f.check(Dataset::Sessions).unwrap_err();
        assert!(err.contains("wellbeing_items"), "{err}");
    }
}
