//! Relational projections of merged records: plain tables (participants, sessions, attendance,
//! wellbeing_responses with computed scores, wellbeing_items with each answer and the value it
//! is scored as, stories) that analysts and plain SQL can read. Responses are scored from their
//! instrument's definition, built-in or the project's own ([`crate::instruments`]).
//! They are rewritten for a record in the same transaction as its merge, so they never lag.
//!
//! Participants, sessions and stories are written from the schema: every plain field of the
//! kind ([`RecordDoc::scalars`](bothy_sync_core::RecordDoc::scalars): text, a choice, a date, a
//! date and time, a number, true or false, a record id) goes to the column of the same name in
//! the kind's table (a few older columns are named otherwise: [`column()`]), so a field added to
//! the schema needs only a migration adding its column: `TEXT` for text, choices, dates, times
//! and record ids; `INTEGER` on SQLite and `BIGINT` on PostgreSQL for numbers and for true or
//! false (stored as 1 or 0). An absent field is NULL. The columns that are not one plain field
//! each (consent and referral details, facilitators, notes, themes, a story's body, review
//! flags) are written here by hand.

use crate::storage::Tx;
use bothy_sync_core::FieldValue;
use bothy_sync_core::record::{RecordData, RecordView};
use bothy_sync_core::schema::{self, FieldType, RecordKind};

fn b(v: bool) -> i64 {
    i64::from(v)
}

/// The kinds whose table gets every plain field of the kind from the schema.
pub const FROM_SCHEMA: [RecordKind; 4] = [
    RecordKind::Participant,
    RecordKind::Contact,
    RecordKind::Session,
    RecordKind::Story,
];

/// The table a kind is projected to.
pub fn table(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Participant => "participants",
        RecordKind::Contact => "contacts",
        RecordKind::Session => "sessions",
        RecordKind::Wellbeing => "wellbeing_responses",
        RecordKind::Story => "stories",
    }
}

/// Plain fields whose column is not named after them.
const RENAMED: &[(RecordKind, &str, &str)] = &[
    (RecordKind::Session, "start", "starts_at"),
    (RecordKind::Session, "end", "ends_at"),
    (RecordKind::Contact, "participant", "participant_id"),
    (RecordKind::Wellbeing, "participant", "participant_id"),
    (RecordKind::Wellbeing, "date", "response_date"),
    (RecordKind::Wellbeing, "session", "session_id"),
    (RecordKind::Story, "participant", "participant_id"),
    (RecordKind::Story, "session", "session_id"),
];

/// What an absent field is written as in a column that never holds NULL (a merged record can
/// lack a required field while it waits for review): the empty text or zero.
const WHEN_ABSENT: &[(RecordKind, &str, Param)] = &[
    (RecordKind::Participant, "code", Param::EMPTY),
    (RecordKind::Contact, "participant", Param::EMPTY),
    (RecordKind::Session, "site", Param::EMPTY),
    (RecordKind::Session, "activity", Param::EMPTY),
    (RecordKind::Session, "activity_type", Param::EMPTY),
    (RecordKind::Session, "start", Param::EMPTY),
    (
        RecordKind::Session,
        "unregistered_attendees",
        Param::Int(Some(0)),
    ),
    (RecordKind::Story, "title", Param::EMPTY),
    (RecordKind::Story, "author", Param::EMPTY),
    (RecordKind::Story, "consent_scope", Param::EMPTY),
];

/// The column of a field of a kind in the kind's table: its name, or the older name it has.
pub fn column(kind: RecordKind, field: &'static str) -> &'static str {
    RENAMED
        .iter()
        .find(|(k, f, _)| *k == kind && *f == field)
        .map_or(field, |(_, _, column)| column)
}

/// Whether a field holds one plain value (see [`bothy_sync_core::RecordDoc::scalars`]).
pub fn is_plain(ty: &FieldType) -> bool {
    match ty {
        FieldType::Str { .. }
        | FieldType::Choice(_)
        | FieldType::Date
        | FieldType::DateTime
        | FieldType::Int { .. }
        | FieldType::Bool
        | FieldType::RecordRef => true,
        FieldType::Text | FieldType::Map(_) | FieldType::Set => false,
    }
}

/// The plain fields of a kind with their columns, in schema order.
pub fn plain_columns(
    kind: RecordKind,
) -> impl Iterator<Item = (&'static schema::Field, &'static str)> {
    schema::fields(kind)
        .iter()
        .filter(|f| is_plain(&f.ty))
        .map(move |f| (f, column(kind, f.name)))
}

/// A value bound to a column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(Option<String>),
    Int(Option<i64>),
    /// A number that may be absent: written as `CASE WHEN <flag> = 1 THEN <value> END`, with the
    /// number always bound. sqlx's `Any` driver sends a NULL `f64` to PostgreSQL typed as
    /// `real`, and a statement first prepared with that refuses a number later on the same
    /// connection.
    Real(Option<f64>),
    /// Raw bytes (a document, a change).
    Bytes(Vec<u8>),
}

impl Param {
    const EMPTY: Param = Param::Text(Some(String::new()));

    /// How many placeholders the value takes.
    fn width(&self) -> usize {
        match self {
            Param::Real(_) => 2,
            _ => 1,
        }
    }
}

/// One row to insert, its columns in the order they are added.
pub(crate) struct Insert {
    table: &'static str,
    columns: Vec<&'static str>,
    params: Vec<Param>,
    /// What follows the values (`ON CONFLICT ...`); the same for every row of a statement.
    suffix: &'static str,
}

impl Insert {
    pub(crate) fn new(table: &'static str) -> Self {
        Insert {
            table,
            columns: Vec::new(),
            params: Vec::new(),
            suffix: "",
        }
    }

    pub(crate) fn text(mut self, column: &'static str, value: Option<&str>) -> Self {
        self.columns.push(column);
        self.params.push(Param::Text(value.map(str::to_owned)));
        self
    }

    pub(crate) fn int(mut self, column: &'static str, value: i64) -> Self {
        self.columns.push(column);
        self.params.push(Param::Int(Some(value)));
        self
    }

    pub(crate) fn opt_int(mut self, column: &'static str, value: Option<i64>) -> Self {
        self.columns.push(column);
        self.params.push(Param::Int(value));
        self
    }

    pub(crate) fn real(mut self, column: &'static str, value: Option<f64>) -> Self {
        self.columns.push(column);
        self.params.push(Param::Real(value));
        self
    }

    pub(crate) fn bytes(mut self, column: &'static str, value: Vec<u8>) -> Self {
        self.columns.push(column);
        self.params.push(Param::Bytes(value));
        self
    }

    pub(crate) fn suffix(mut self, suffix: &'static str) -> Self {
        self.suffix = suffix;
        self
    }

    /// Every plain field of `kind`, from the record's current values, in schema order: the
    /// statement's text is the same for every record of the kind.
    fn plain(mut self, kind: RecordKind, scalars: &[(&'static str, FieldValue)]) -> Self {
        for (field, column) in plain_columns(kind) {
            let value = scalars
                .iter()
                .find(|(name, _)| *name == field.name)
                .map(|(_, v)| v);
            let param = match (value, &field.ty) {
                (Some(FieldValue::Str(s)), _) => Param::Text(Some(s.clone())),
                (Some(FieldValue::Int(n)), _) => Param::Int(Some(*n)),
                (Some(FieldValue::Bool(v)), _) => Param::Int(Some(b(*v))),
                (None, ty) => WHEN_ABSENT
                    .iter()
                    .find(|(k, f, _)| *k == kind && *f == field.name)
                    .map(|(_, _, p)| p.clone())
                    .unwrap_or(match ty {
                        FieldType::Int { .. } | FieldType::Bool => Param::Int(None),
                        _ => Param::Text(None),
                    }),
            };
            self.columns.push(column);
            self.params.push(param);
        }
        self
    }

    /// What rows may share one statement: the same table, columns, kinds of value and suffix.
    fn shape(&self) -> String {
        let kinds: String = self
            .params
            .iter()
            .map(|p| {
                if matches!(p, Param::Real(_)) {
                    'r'
                } else {
                    'v'
                }
            })
            .collect();
        format!(
            "{}|{}|{}|{}",
            self.table,
            self.columns.join(","),
            kinds,
            self.suffix
        )
    }
}

/// Rows written per statement, largest first: a batch is cut into statements of these sizes,
/// so each table's inserts use a handful of statement texts (and prepared statements) however
/// many rows there are.
const ROWS_PER_STATEMENT: [usize; 4] = [512, 64, 8, 1];
/// Most placeholders in one statement (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;

/// How many rows of `width` placeholders each the next statement takes out of `left`.
fn statement_rows(left: usize, width: usize) -> usize {
    ROWS_PER_STATEMENT
        .into_iter()
        .find(|&n| n <= left && n * width.max(1) <= MAX_PARAMS)
        .unwrap_or(1)
}

/// Placeholders for `n` values in order: `?` on SQLite, whose driver looks a numbered
/// placeholder up by name among all of a statement's (slow in a statement of thousands), and
/// `$1`, `$2`... on PostgreSQL.
struct Placeholders {
    positional: bool,
    next: usize,
}

impl Placeholders {
    fn new(tx: &mut Tx) -> Self {
        Placeholders {
            positional: tx.backend_name() == "SQLite",
            next: 1,
        }
    }

    fn next(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        if self.positional {
            "?".to_owned()
        } else {
            format!("${n}")
        }
    }

    fn restart(&mut self) {
        self.next = 1;
    }
}

/// Inserts rows that share one shape, in as few statements as [`ROWS_PER_STATEMENT`] allows.
pub(crate) async fn insert_all(tx: &mut Tx, rows: Vec<Insert>) -> Result<(), sqlx::Error> {
    let mut rows = rows.into_iter().peekable();
    let Some(first) = rows.peek() else {
        return Ok(());
    };
    let (table, columns, suffix) = (first.table, first.columns.join(", "), first.suffix);
    let kinds: Vec<bool> = first
        .params
        .iter()
        .map(|p| matches!(p, Param::Real(_)))
        .collect();
    let width: usize = first.params.iter().map(Param::width).sum();
    let mut left = rows.len();
    let mut marks = Placeholders::new(tx);
    while left > 0 {
        let n = statement_rows(left, width);
        let mut values = Vec::with_capacity(n);
        marks.restart();
        for _ in 0..n {
            let mut row = Vec::with_capacity(kinds.len());
            for real in &kinds {
                if *real {
                    let (flag, value) = (marks.next(), marks.next());
                    row.push(format!("CASE WHEN {flag} = 1 THEN {value} END"));
                } else {
                    row.push(marks.next());
                }
            }
            values.push(format!("({})", row.join(", ")));
        }
        // The table and column names come from the schema and the tables here, never from a
        // record; values are bound.
        let sql = format!(
            "INSERT INTO {table} ({columns}) VALUES {}{}{suffix}",
            values.join(", "),
            if suffix.is_empty() { "" } else { " " }
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in rows.by_ref().take(n) {
            for p in row.params {
                query = match p {
                    Param::Text(v) => query.bind(v),
                    Param::Int(v) => query.bind(v),
                    Param::Real(v) => query
                        .bind(i64::from(v.is_some()))
                        .bind(v.unwrap_or_default()),
                    Param::Bytes(v) => query.bind(v),
                };
            }
        }
        query.execute(&mut **tx).await?;
        left -= n;
    }
    Ok(())
}

/// Deletes the rows of `table` whose `column` is one of `ids`, in few statements.
pub(crate) async fn delete_all(
    tx: &mut Tx,
    table: &'static str,
    column: &'static str,
    ids: &[&str],
) -> Result<(), sqlx::Error> {
    let mut rest = ids;
    let mut marks = Placeholders::new(tx);
    while !rest.is_empty() {
        let n = statement_rows(rest.len(), 1);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        marks.restart();
        let placeholders: Vec<String> = (0..n).map(|_| marks.next()).collect();
        // Table and column names are fixed by the caller; the ids are bound.
        let sql = format!(
            "DELETE FROM {table} WHERE {column} IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Groups rows by shape and inserts each group with [`insert_all`], groups in first-seen order.
pub(crate) async fn insert_grouped(tx: &mut Tx, rows: Vec<Insert>) -> Result<(), sqlx::Error> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: std::collections::HashMap<String, Vec<Insert>> =
        std::collections::HashMap::new();
    for row in rows {
        let shape = row.shape();
        if !groups.contains_key(&shape) {
            order.push(shape.clone());
        }
        groups.entry(shape).or_default().push(row);
    }
    for shape in order {
        if let Some(group) = groups.remove(&shape) {
            insert_all(tx, group).await?;
        }
    }
    Ok(())
}

/// The projection rows of one record: the tables (and key columns) its old rows are deleted
/// from, and the rows that replace them.
pub struct Rows {
    /// `(table, column)` pairs: rows whose `column` is the record's id are deleted.
    pub deletes: &'static [(&'static str, &'static str)],
    pub(crate) inserts: Vec<Insert>,
}

/// The projection rows of one record, from its typed view and its plain fields
/// ([`RecordDoc::scalars`](bothy_sync_core::RecordDoc::scalars)). Computed without the
/// database, so a batch of records can be projected off the request's async threads and
/// written together.
pub fn rows(
    id: &str,
    view: &RecordView,
    scalars: &[(&'static str, FieldValue)],
    needs_review: bool,
) -> Rows {
    let project = view.project.as_str();
    match &view.data {
        RecordData::Participant(p) => Rows {
            deletes: &[("participants", "id")],
            inserts: vec![
                Insert::new(table(view.kind))
                    .text("id", Some(id))
                    .text("project", Some(project))
                    .plain(view.kind, scalars)
                    .int("consent_data_use", b(p.consent_data_use))
                    .int("consent_story_sharing", b(p.consent_story_sharing))
                    .int("consent_contact", b(p.consent_contact))
                    .text("consent_date", p.consent_date.as_deref())
                    .text("consent_version", p.consent_version.as_deref())
                    .text("referral_source", p.referral_source.as_deref())
                    .text("referral_date", p.referral_date.as_deref())
                    .text("referral_reason", p.referral_reason.as_deref())
                    .int("created_at", view.created),
            ],
        },
        RecordData::Contact(_) => Rows {
            deletes: &[("contacts", "id")],
            inserts: vec![
                Insert::new(table(view.kind))
                    .text("id", Some(id))
                    .text("project", Some(project))
                    .plain(view.kind, scalars)
                    .int("created_at", view.created),
            ],
        },
        RecordData::Session(s) => {
            let mut inserts = vec![
                Insert::new(table(view.kind))
                    .text("id", Some(id))
                    .text("project", Some(project))
                    .plain(view.kind, scalars)
                    .text(
                        "facilitators",
                        Some(&s.facilitators.iter().cloned().collect::<Vec<_>>().join(";")),
                    )
                    .text("notes", Some(&s.notes))
                    .int("needs_review", b(needs_review)),
            ];
            for (participant, status) in &s.attendance {
                inserts.push(
                    Insert::new("attendance")
                        .text("session_id", Some(id))
                        .text("participant_id", Some(participant))
                        .text("project", Some(project))
                        .text("status", Some(status)),
                );
            }
            Rows {
                deletes: &[("sessions", "id"), ("attendance", "session_id")],
                inserts,
            }
        }
        RecordData::Wellbeing(w) => {
            let score = w.score_in(&view.project);
            let (swemwbs_raw, incomplete_reason) = match &score {
                bothy_sync_core::Score::Wemwbs { swemwbs_raw, .. } => (Some(*swemwbs_raw), None),
                bothy_sync_core::Score::Swemwbs { raw, .. } => (Some(*raw), None),
                bothy_sync_core::Score::Incomplete { reason, .. } => (None, Some(reason.clone())),
                bothy_sync_core::Score::Ons4 { .. }
                | bothy_sync_core::Score::Total { .. }
                | bothy_sync_core::Score::PerItem { .. } => (None, None),
            };
            let items: serde_json::Map<String, serde_json::Value> = w
                .items
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect();
            let mut inserts = vec![
                Insert::new("wellbeing_responses")
                    .text("id", Some(id))
                    .text("project", Some(project))
                    .text("participant_id", Some(&w.participant))
                    .text("instrument", Some(&w.instrument))
                    .text("timepoint", Some(&w.timepoint))
                    .text("response_date", Some(&w.date))
                    .text("session_id", w.session.as_deref())
                    .int("complete", b(score.is_complete()))
                    .int("items_answered", w.items.len() as i64)
                    .opt_int("raw_score", score.raw())
                    .opt_int("swemwbs_raw", swemwbs_raw)
                    .real("metric_score", score.metric())
                    .text("incomplete_reason", incomplete_reason.as_deref())
                    .text("items", Some(&serde_json::Value::Object(items).to_string()))
                    .int(
                        "instrument_version",
                        i64::from(w.instrument_version.unwrap_or(1)),
                    )
                    .real("score", score.value())
                    .text("band", score.band()),
            ];
            // One row per answer, with the value it is scored as (reversed where the item is
            // reverse-scored; as given when the definition is not known here).
            let definition = w.definition(project);
            for (number, answer) in &w.items {
                let scored = definition
                    .as_ref()
                    .and_then(|d| d.item(*number))
                    .map_or(*answer, |item| item.scored_value(*answer));
                inserts.push(
                    Insert::new("wellbeing_items")
                        .text("response_id", Some(id))
                        .text("project", Some(project))
                        .int("item", i64::from(*number))
                        .int("answer", *answer)
                        .int("scored", scored),
                );
            }
            Rows {
                deletes: &[
                    ("wellbeing_responses", "id"),
                    ("wellbeing_items", "response_id"),
                ],
                inserts,
            }
        }
        RecordData::Story(s) => Rows {
            deletes: &[("stories", "id")],
            inserts: vec![
                Insert::new(table(view.kind))
                    .text("id", Some(id))
                    .text("project", Some(project))
                    .plain(view.kind, scalars)
                    .text("body", Some(&s.body))
                    .text(
                        "themes",
                        Some(&s.themes.iter().cloned().collect::<Vec<_>>().join(";")),
                    ),
            ],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_fields_keep_the_columns_they_had() {
        use RecordKind::{Participant, Session, Story};
        let had: &[(RecordKind, &str, &str)] = &[
            (Participant, "code", "code"),
            (Participant, "age_band", "age_band"),
            (Participant, "gender", "gender"),
            (Participant, "ethnic_group", "ethnic_group"),
            (Participant, "imd_decile", "imd_decile"),
            (Participant, "rurality", "rurality"),
            (Session, "site", "site"),
            (Session, "activity", "activity"),
            (Session, "activity_type", "activity_type"),
            (Session, "start", "starts_at"),
            (Session, "end", "ends_at"),
            (Session, "location", "location"),
            (Session, "unregistered_attendees", "unregistered_attendees"),
            (Story, "title", "title"),
            (Story, "participant", "participant_id"),
            (Story, "author", "author"),
            (Story, "consent_scope", "consent_scope"),
            (Story, "session", "session_id"),
            (Story, "language", "language"),
        ];
        for (kind, field, column) in had {
            assert!(
                plain_columns(*kind).any(|(f, c)| f.name == *field && c == *column),
                "{kind} `{field}` is no longer written to `{column}`"
            );
        }
    }

    #[test]
    fn renames_and_defaults_name_plain_fields_of_their_kind() {
        for (kind, field, column) in RENAMED {
            let f = schema::field(*kind, field)
                .unwrap_or_else(|| panic!("{kind} has no field `{field}` (renamed to {column})"));
            assert!(is_plain(&f.ty), "{kind} `{field}` is not a plain field");
        }
        for (kind, field, param) in WHEN_ABSENT {
            let f = schema::field(*kind, field)
                .unwrap_or_else(|| panic!("{kind} has no field `{field}`"));
            let numeric = matches!(f.ty, FieldType::Int { .. } | FieldType::Bool);
            assert_eq!(
                numeric,
                matches!(param, Param::Int(_)),
                "{kind} `{field}`: the value written when absent has the wrong type"
            );
            assert!(
                FROM_SCHEMA.contains(kind),
                "{kind} is not written from the schema"
            );
        }
    }

    #[test]
    fn absent_fields_are_null_or_the_column_default() {
        let insert = Insert::new("sessions").plain(
            RecordKind::Session,
            &[
                ("site", FieldValue::from("Hall")),
                ("end", FieldValue::from("2026-11-01T12:00:00Z")),
            ],
        );
        let by_column: Vec<(&str, Param)> = insert.columns.into_iter().zip(insert.params).collect();
        let get = |c: &str| {
            by_column
                .iter()
                .find(|(k, _)| *k == c)
                .map(|(_, p)| p.clone())
        };
        assert_eq!(get("site"), Some(Param::Text(Some("Hall".into()))));
        assert_eq!(
            get("ends_at"),
            Some(Param::Text(Some("2026-11-01T12:00:00Z".into())))
        );
        assert_eq!(get("activity"), Some(Param::EMPTY));
        assert_eq!(get("location"), Some(Param::Text(None)));
        assert_eq!(get("unregistered_attendees"), Some(Param::Int(Some(0))));
    }
}
