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

use crate::db::Tx;
use bothy_sync_core::FieldValue;
use bothy_sync_core::record::{RecordData, RecordView};
use bothy_sync_core::schema::{self, FieldType, RecordKind};

/// Item rows written by one statement (five parameters each, well within every backend's
/// limit on parameters).
const ITEM_ROWS_PER_INSERT: usize = 100;

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
enum Param {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Param {
    const EMPTY: Param = Param::Text(Some(String::new()));
}

/// One row to insert, its columns in the order they are added.
struct Insert {
    table: &'static str,
    columns: Vec<&'static str>,
    params: Vec<Param>,
}

impl Insert {
    fn new(table: &'static str) -> Self {
        Insert {
            table,
            columns: Vec::new(),
            params: Vec::new(),
        }
    }

    fn text(mut self, column: &'static str, value: Option<&str>) -> Self {
        self.columns.push(column);
        self.params.push(Param::Text(value.map(str::to_owned)));
        self
    }

    fn int(mut self, column: &'static str, value: i64) -> Self {
        self.columns.push(column);
        self.params.push(Param::Int(Some(value)));
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

    async fn execute(self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        let placeholders: Vec<String> = (1..=self.params.len()).map(|i| format!("${i}")).collect();
        // The table and column names come from the schema and the tables above, never from
        // a record; values are bound.
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table,
            self.columns.join(", "),
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in self.params {
            query = match p {
                Param::Text(v) => query.bind(v),
                Param::Int(v) => query.bind(v),
            };
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }
}

/// Rewrites the projection rows of one record, from its typed view and its plain fields
/// ([`RecordDoc::scalars`](bothy_sync_core::RecordDoc::scalars)).
pub async fn project(
    tx: &mut Tx,
    id: &str,
    view: &RecordView,
    scalars: &[(&'static str, FieldValue)],
    needs_review: bool,
) -> Result<(), sqlx::Error> {
    let project = view.project.as_str();
    match &view.data {
        RecordData::Participant(p) => {
            sqlx::query("DELETE FROM participants WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
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
                .int("created_at", view.created)
                .execute(tx)
                .await?;
        }
        RecordData::Contact(_) => {
            sqlx::query("DELETE FROM contacts WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            Insert::new(table(view.kind))
                .text("id", Some(id))
                .text("project", Some(project))
                .plain(view.kind, scalars)
                .int("created_at", view.created)
                .execute(tx)
                .await?;
        }
        RecordData::Session(s) => {
            for table in [
                "DELETE FROM sessions WHERE id = $1",
                "DELETE FROM attendance WHERE session_id = $1",
            ] {
                sqlx::query(table).bind(id).execute(&mut **tx).await?;
            }
            Insert::new(table(view.kind))
                .text("id", Some(id))
                .text("project", Some(project))
                .plain(view.kind, scalars)
                .text(
                    "facilitators",
                    Some(&s.facilitators.iter().cloned().collect::<Vec<_>>().join(";")),
                )
                .text("notes", Some(&s.notes))
                .int("needs_review", b(needs_review))
                .execute(tx)
                .await?;
            for (participant, status) in &s.attendance {
                sqlx::query(
                    "INSERT INTO attendance (session_id, participant_id, project, status) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(participant)
                .bind(project)
                .bind(status)
                .execute(&mut **tx)
                .await?;
            }
        }
        RecordData::Wellbeing(w) => {
            for table in [
                "DELETE FROM wellbeing_responses WHERE id = $1",
                "DELETE FROM wellbeing_items WHERE response_id = $1",
            ] {
                sqlx::query(table).bind(id).execute(&mut **tx).await?;
            }
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
            // The two scores that may be absent are bound as numbers, always, with a flag for
            // NULL: sqlx's `Any` driver sends a NULL `f64` to PostgreSQL typed as `real`, and a
            // statement first prepared with that refuses a number later on the same connection.
            sqlx::query(
                "INSERT INTO wellbeing_responses (id, project, participant_id, instrument, \
                 timepoint, response_date, session_id, complete, items_answered, raw_score, \
                 swemwbs_raw, metric_score, incomplete_reason, items, instrument_version, \
                 score, band) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                 CASE WHEN $18 = 1 THEN $12 END, $13, $14, $15, CASE WHEN $19 = 1 THEN $16 END, \
                 $17)",
            )
            .bind(id)
            .bind(project)
            .bind(&w.participant)
            .bind(&w.instrument)
            .bind(&w.timepoint)
            .bind(&w.date)
            .bind(&w.session)
            .bind(b(score.is_complete()))
            .bind(w.items.len() as i64)
            .bind(score.raw())
            .bind(swemwbs_raw)
            .bind(score.metric().unwrap_or_default())
            .bind(incomplete_reason)
            .bind(serde_json::Value::Object(items).to_string())
            .bind(i64::from(w.instrument_version.unwrap_or(1)))
            .bind(score.value().unwrap_or_default())
            .bind(score.band())
            .bind(b(score.metric().is_some()))
            .bind(b(score.value().is_some()))
            .execute(&mut **tx)
            .await?;
            // One row per answer, with the value it is scored as (reversed where the item is
            // reverse-scored; as given when the definition is not known here).
            let definition = w.definition(project);
            let rows: Vec<(i64, i64, i64)> = w
                .items
                .iter()
                .map(|(number, answer)| {
                    let scored = definition
                        .as_ref()
                        .and_then(|d| d.item(*number))
                        .map_or(*answer, |item| item.scored_value(*answer));
                    (i64::from(*number), *answer, scored)
                })
                .collect();
            for chunk in rows.chunks(ITEM_ROWS_PER_INSERT) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let p = 5 * i;
                        format!(
                            "(${}, ${}, ${}, ${}, ${})",
                            p + 1,
                            p + 2,
                            p + 3,
                            p + 4,
                            p + 5
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO wellbeing_items (response_id, project, item, answer, scored) \
                     VALUES {}",
                    values.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (item, answer, scored) in chunk {
                    query = query
                        .bind(id)
                        .bind(project)
                        .bind(*item)
                        .bind(*answer)
                        .bind(*scored);
                }
                query.execute(&mut **tx).await?;
            }
        }
        RecordData::Story(s) => {
            sqlx::query("DELETE FROM stories WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            Insert::new(table(view.kind))
                .text("id", Some(id))
                .text("project", Some(project))
                .plain(view.kind, scalars)
                .text("body", Some(&s.body))
                .text(
                    "themes",
                    Some(&s.themes.iter().cloned().collect::<Vec<_>>().join(";")),
                )
                .execute(tx)
                .await?;
        }
    }
    Ok(())
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
