//! What analysis reads: the rows of exports (statements built from a dataset and its
//! filters), the data reports are computed from, and what the dashboard lists.
//!
//! Export statements are built at run time: the filters add conditions with bound values, the
//! projection columns of the schema's plain fields are selected by name, and a placeholder for
//! a Unix-seconds column's date is replaced with each backend's own function. Exports read a
//! million rows as a stream; their rows are given as the database sends them, in the column
//! order each dataset's statement documents, for [`crate::analysis::export::RowMaker`] to read.

use super::{Backend, Db};
use crate::analysis::export::{Dataset, Filters};
use bothy_sync_core::schema;
use futures_util::stream::BoxStream;
use sqlx::any::{AnyExecutor, AnyRow};
use sqlx::{FromRow, Row};
use std::fmt::Write as _;

/// The `AND ...` conditions of an export query and their bind values (`$1` is the project).
struct Conditions<'f> {
    filters: &'f Filters,
    binds: Vec<String>,
    conds: Vec<String>,
}

impl<'f> Conditions<'f> {
    fn new(project: &str, filters: &'f Filters) -> Self {
        Conditions {
            filters,
            binds: vec![project.to_owned()],
            conds: Vec::new(),
        }
    }

    /// Binds a value, giving its placeholder.
    fn bind(&mut self, v: &str) -> String {
        self.binds.push(v.to_owned());
        format!("${}", self.binds.len())
    }

    /// The `from`/`to` filters on a date expression.
    fn dates(&mut self, expr: &str) {
        for (op, d) in [(">=", self.filters.from), ("<=", self.filters.to)] {
            if let Some(d) = d {
                let p = self.bind(&d.to_string());
                self.conds.push(format!("{expr} {op} {p}"));
            }
        }
    }

    /// The `site`/`activity` filters on a sessions table alias, as separate conditions.
    fn session_conditions(&mut self, alias: &str) -> Vec<String> {
        let f = self.filters;
        let mut out = Vec::new();
        for (column, v) in [("site", &f.site), ("activity", &f.activity)] {
            if let Some(v) = v {
                let p = self.bind(v);
                out.push(format!("{alias}.{column} = {p}"));
            }
        }
        out
    }

    /// The `site`/`activity` filters on a sessions table alias.
    fn session(&mut self, alias: &str) {
        let more = self.session_conditions(alias);
        self.conds.extend(more);
    }

    /// The filters a session of an export must pass (sessions, attendance, and the sessions
    /// read alongside attendance: both must select the same sessions).
    fn sessions(&mut self) {
        self.dates("substr(s.starts_at, 1, 10)");
        self.session("s");
    }

    /// The filters of wellbeing responses `w` (and their session `s`): dates, site and
    /// activity, timepoint.
    fn wellbeing(&mut self) {
        self.dates("w.response_date");
        self.session("s");
        if let Some(tp) = &self.filters.timepoint {
            let p = self.bind(tp);
            self.conds.push(format!("w.timepoint = {p}"));
        }
    }

    /// ` AND c1 AND c2...`.
    fn sql(&self) -> String {
        self.conds.iter().map(|c| format!(" AND {c}")).collect()
    }
}

/// Builds the SQL of an export and its bind values.
pub fn export_statement(dataset: Dataset, project: &str, f: &Filters) -> (String, Vec<String>) {
    let mut w = Conditions::new(project, f);
    let sql = match dataset {
        Dataset::Participants => {
            w.dates("p.registered_day");
            let attended_at = w.session_conditions("s2");
            if !attended_at.is_empty() {
                w.conds.push(format!(
                    "EXISTS (SELECT 1 FROM attendance a2 JOIN sessions s2 ON s2.id = a2.session_id \
                     WHERE a2.participant_id = p.id AND a2.status IN ('present', 'left_early') AND {})",
                    attended_at.join(" AND ")
                ));
            }
            format!(
                "SELECT p.id, p.project, p.registered_day, p.consent_story_sharing, p.consent_contact, \
                 p.consent_date, p.consent_version, p.age_band, p.gender, p.ethnic_group, \
                 p.imd_decile, p.rurality, p.referral_source, p.referral_date, \
                 COALESCE(x.n, 0) AS n, x.first, x.last{fields} \
                 FROM (SELECT participants.*, {registered} AS registered_day FROM participants) p \
                 LEFT JOIN (SELECT a.participant_id, COUNT(*) AS n, \
                   MIN(substr(s.starts_at, 1, 10)) AS first, MAX(substr(s.starts_at, 1, 10)) AS last \
                   FROM attendance a JOIN sessions s ON s.id = a.session_id \
                   WHERE a.project = $1 AND a.status IN ('present', 'left_early') \
                   GROUP BY a.participant_id) x ON x.participant_id = p.id \
                 WHERE p.project = $1 AND p.consent_data_use = 1{extra} ORDER BY p.registered_day, p.id",
                registered = registered_date_sql(),
                fields = field_selects(dataset),
                extra = w.sql(),
            )
        }
        Dataset::Sessions => {
            w.sessions();
            format!(
                "SELECT s.id, s.project, s.site, s.activity, s.activity_type, s.starts_at, s.ends_at, \
                 s.facilitators, s.unregistered_attendees, s.needs_review, \
                 (SELECT COUNT(*) FROM attendance a WHERE a.session_id = s.id \
                  AND a.status IN ('present', 'left_early')) AS registered{} \
                 FROM sessions s WHERE s.project = $1{} ORDER BY s.starts_at, s.id",
                field_selects(dataset),
                w.sql()
            )
        }
        Dataset::Attendance => {
            unreachable!("attendance marks are read a session at a time (attendance_mark_groups)")
        }
        Dataset::Wellbeing => {
            w.wellbeing();
            format!(
                "SELECT w.id, w.participant_id, w.project, w.instrument, w.timepoint, \
                 w.response_date, w.session_id, s.site, s.activity, w.complete, w.items_answered, \
                 w.incomplete_reason, w.raw_score, w.swemwbs_raw, w.metric_score, w.items, \
                 b.id AS b_id, b.response_date AS b_date, b.raw_score AS b_raw, \
                 b.metric_score AS b_metric, COALESCE(w.instrument_version, 1) AS version, \
                 w.score, w.band, b.score AS b_score \
                 FROM wellbeing_responses w \
                 JOIN participants p ON p.id = w.participant_id AND p.consent_data_use = 1 \
                 LEFT JOIN sessions s ON s.id = w.session_id \
                 LEFT JOIN wellbeing_responses b ON b.id = (SELECT b2.id FROM wellbeing_responses b2 \
                   WHERE b2.participant_id = w.participant_id AND b2.instrument = w.instrument \
                   AND COALESCE(b2.instrument_version, 1) = COALESCE(w.instrument_version, 1) \
                   AND b2.timepoint = 'baseline' AND b2.complete = 1 \
                   ORDER BY b2.response_date, b2.id LIMIT 1) \
                 WHERE w.project = $1{} ORDER BY w.participant_id, w.instrument, w.response_date, w.id",
                w.sql()
            )
        }
        Dataset::WellbeingItems => {
            w.wellbeing();
            format!(
                "SELECT w.id, w.participant_id, w.project, w.instrument, \
                 COALESCE(w.instrument_version, 1) AS version, w.timepoint, w.response_date, \
                 i.item, i.answer, i.scored \
                 FROM wellbeing_responses w \
                 JOIN participants p ON p.id = w.participant_id AND p.consent_data_use = 1 \
                 JOIN wellbeing_items i ON i.response_id = w.id \
                 LEFT JOIN sessions s ON s.id = w.session_id \
                 WHERE w.project = $1{} \
                 ORDER BY w.participant_id, w.instrument, w.response_date, w.id, i.item",
                w.sql()
            )
        }
        Dataset::Stories => {
            w.dates("r.created_on");
            w.session("s");
            format!(
                "SELECT t.id, t.project, t.participant_id, t.session_id, t.consent_scope, \
                 t.language, t.themes, t.title, t.body, r.created_on{fields} \
                 FROM stories t \
                 JOIN (SELECT id, {created} AS created_on FROM records) r ON r.id = t.id \
                 LEFT JOIN participants p ON p.id = t.participant_id \
                 LEFT JOIN sessions s ON s.id = t.session_id \
                 WHERE t.project = $1 AND t.consent_scope IN ('project', 'public') \
                 AND (t.participant_id IS NULL OR (p.consent_story_sharing = 1 AND p.consent_data_use = 1)){} \
                 ORDER BY r.created_on, t.id",
                w.sql(),
                created = date_of_millis_sql("records.created_at"),
                fields = field_selects(dataset),
            )
        }
        Dataset::OutcomePairs => unreachable!(
            "outcome_pairs is computed from the report data (Dataset::is_computed), never read by one query"
        ),
    };
    (sql, w.binds)
}

/// `, s.room AS field_room...`: the projection column of each of a dataset's
/// [`Dataset::field_columns`], named for [`RowMaker`] to read by name.
fn field_selects(dataset: Dataset) -> String {
    let Some((kind, alias)) = dataset.kind() else {
        return String::new();
    };
    dataset
        .field_columns()
        .into_iter()
        .map(|f| {
            format!(
                ", {alias}.{} AS {}",
                crate::storage::projection::column(kind, f.name),
                field_alias(f)
            )
        })
        .collect()
}

/// The name a field column is selected as.
pub fn field_alias(field: &schema::Field) -> String {
    format!("field_{}", field.name)
}

/// The instruments (id, version) of a wellbeing export's responses with the largest item
/// number answered in each: `instrument, version, max_item`.
fn wellbeing_instruments_statement(project: &str, f: &Filters) -> (String, Vec<String>) {
    let mut w = Conditions::new(project, f);
    w.wellbeing();
    (
        format!(
            "SELECT w.instrument, COALESCE(w.instrument_version, 1) AS version, \
             MAX(i.item) AS max_item \
             FROM wellbeing_responses w \
             JOIN participants p ON p.id = w.participant_id AND p.consent_data_use = 1 \
             LEFT JOIN sessions s ON s.id = w.session_id \
             LEFT JOIN wellbeing_items i ON i.response_id = w.id \
             WHERE w.project = $1{} GROUP BY w.instrument, COALESCE(w.instrument_version, 1)",
            w.sql()
        ),
        w.binds,
    )
}

/// The sessions of an attendance export, in the order of its marks: `id, project, site,
/// activity, activity_type, starts_at`.
fn attendance_sessions_statement(project: &str, f: &Filters) -> (String, Vec<String>) {
    let mut w = Conditions::new(project, f);
    w.sessions();
    (
        format!(
            "SELECT s.id, s.project, s.site, s.activity, s.activity_type, s.starts_at \
             FROM sessions s WHERE s.project = $1{} ORDER BY s.starts_at, s.id",
            w.sql()
        ),
        w.binds,
    )
}

/// The marks of an attendance export a session at a time (see [`attendance_mark_groups`]).
fn attendance_mark_groups_statement(
    project: &str,
    f: &Filters,
    postgres: bool,
) -> (String, Vec<String>) {
    let mut w = Conditions::new(project, f);
    w.sessions();
    let (concat, chr) = if postgres {
        ("string_agg", "chr")
    } else {
        ("group_concat", "char")
    };
    (
        format!(
            "SELECT s.id, {concat}(a.participant_id || {chr}(31) || a.status, {chr}(30) \
             ORDER BY a.participant_id) AS marks, s.starts_at \
             FROM sessions s JOIN attendance a ON a.session_id = s.id \
             JOIN participants p ON p.id = a.participant_id AND p.consent_data_use = 1 \
             WHERE s.project = $1 AND a.project = $1{} \
             GROUP BY s.starts_at, s.id ORDER BY s.starts_at, s.id",
            w.sql()
        ),
        w.binds,
    )
}

/// A placeholder for the `YYYY-MM-DD` (UTC) date of a Unix-seconds column, replaced per
/// backend by [`for_backend`].
fn date_of_millis_sql(column: &str) -> String {
    format!("{{date_of_millis:{column}}}")
}

/// The day a participant registered: the date typed on the device, else (a record made before
/// that field existed) the date of the record's creation by the device's clock.
fn registered_date_sql() -> String {
    format!(
        "COALESCE(participants.registered_on, {})",
        date_of_millis_sql("participants.created_at")
    )
}

/// Replaces the portable placeholders in export SQL for a backend.
fn for_backend(sql: &str, postgres: bool) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find("{date_of_millis:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "{date_of_millis:".len()..];
        let end = after.find('}').expect("placeholder is closed");
        let column = &after[..end];
        if postgres {
            let _ = write!(
                out,
                "to_char(to_timestamp({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            );
        } else {
            let _ = write!(out, "date({column}, 'unixepoch')");
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Runs a built statement, rows as they come.
fn fetch_built(
    db: &Db,
    (sql, binds): (String, Vec<String>),
) -> BoxStream<'_, Result<AnyRow, sqlx::Error>> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(for_backend(
        &sql,
        db.backend == Backend::Postgres,
    )));
    for b in binds {
        query = query.bind(b);
    }
    query.fetch(&db.pool)
}

/// The rows of an export, in its order (see [`export_statement`] for each dataset's columns).
pub fn export_rows<'e>(
    db: &'e Db,
    dataset: Dataset,
    project: &str,
    f: &Filters,
) -> BoxStream<'e, Result<AnyRow, sqlx::Error>> {
    fetch_built(db, export_statement(dataset, project, f))
}

/// The sessions of an attendance export, in the order of its marks: `id, project, site,
/// activity, activity_type, starts_at`.
pub fn attendance_session_rows<'e>(
    db: &'e Db,
    project: &str,
    f: &Filters,
) -> BoxStream<'e, Result<AnyRow, sqlx::Error>> {
    fetch_built(db, attendance_sessions_statement(project, f))
}

/// The marks of an attendance export, one row per session in the order of
/// [`attendance_session_rows`]: `id, marks, starts_at`, where `marks` holds each mark's
/// `participant_id` and `status` joined by U+001F, the marks joined by U+001E in participant
/// order (ids are UUIDs and statuses codes: neither holds a control character). A row per
/// session rather than per mark: the drivers' cost of handing over a row is several times
/// that of reading it (SQLite's hands each over from the database's thread), and a session
/// holds tens of marks (docs/benchmarks.md, "Marks read a session at a time").
pub fn attendance_mark_groups<'e>(
    db: &'e Db,
    project: &str,
    f: &Filters,
) -> BoxStream<'e, Result<AnyRow, sqlx::Error>> {
    fetch_built(
        db,
        attendance_mark_groups_statement(project, f, db.backend == Backend::Postgres),
    )
}

/// An instrument (and version) of a wellbeing export's responses, with the largest item
/// number answered in it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstrumentItems {
    /// The instrument's id.
    pub instrument: String,
    /// Its version (1 when the response named none).
    pub version: i64,
    /// The largest item number answered, if any item was.
    pub max_item: Option<i64>,
}

/// The instruments of the responses a wellbeing export holds.
pub async fn wellbeing_instruments(
    db: &Db,
    project: &str,
    f: &Filters,
) -> Result<Vec<InstrumentItems>, sqlx::Error> {
    let (sql, binds) = wellbeing_instruments_statement(project, f);
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(for_backend(
        &sql,
        db.backend == Backend::Postgres,
    )));
    for b in binds {
        query = query.bind(b);
    }
    query.fetch_all(&db.pool).await
}

/// A session as reports count it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportSession {
    /// Its id.
    pub id: String,
    /// When it started (RFC 3339 text, as recorded).
    pub starts_at: String,
    /// Its site's code.
    pub site: String,
    /// Its activity's code.
    pub activity: String,
    /// Its activity's type.
    pub activity_type: String,
    /// People who attended without being registered.
    pub unregistered_attendees: i64,
    /// Registered participants marked present or leaving early.
    pub registered: i64,
}

/// Every session of a project, with its count of registered attendees.
pub async fn report_sessions(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<ReportSession>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.starts_at, s.site, s.activity, s.activity_type, s.unregistered_attendees, \
         (SELECT COUNT(*) FROM attendance a WHERE a.session_id = s.id \
          AND a.status IN ('present', 'left_early')) AS registered \
         FROM sessions s WHERE s.project = $1",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// A participant's attendance at a session (present or leaving early).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attended {
    /// The participant.
    pub participant_id: String,
    /// The session.
    pub session_id: String,
}

/// Every attendance of a project's participants, as a stream (a project may have a great
/// many).
pub fn attended<'e>(db: &'e Db, project: &str) -> BoxStream<'e, Result<Attended, sqlx::Error>> {
    sqlx::query_as(
        "SELECT a.participant_id, a.session_id FROM attendance a \
         WHERE a.project = $1 AND a.status IN ('present', 'left_early')",
    )
    .bind(project.to_owned())
    .fetch(&db.pool)
}

/// A consenting participant as reports count them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportParticipant {
    /// Their id.
    pub id: String,
    /// When their record was created, by the registering device's clock (Unix seconds).
    pub created_at: i64,
    /// The day they registered, as typed on the device (`YYYY-MM-DD`), if given: records made
    /// before the field existed have none.
    pub registered_on: Option<String>,
    /// Their age band, if given.
    pub age_band: Option<String>,
    /// Their gender, if given.
    pub gender: Option<String>,
    /// Their ethnic group, if given.
    pub ethnic_group: Option<String>,
    /// Their area's deprivation decile, if known.
    pub imd_decile: Option<i64>,
    /// Their area's rurality, if known.
    pub rurality: Option<String>,
    /// Where they were referred from, if given.
    pub referral_source: Option<String>,
    /// When they were referred, if given.
    pub referral_date: Option<String>,
}

/// A project's participants who consented to data use, in id order.
pub async fn report_participants(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<ReportParticipant>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, created_at, registered_on, age_band, gender, ethnic_group, imd_decile, \
         rurality, referral_source, referral_date FROM participants \
         WHERE project = $1 AND consent_data_use = 1 ORDER BY id",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// A complete wellbeing response as reports use it.
#[derive(Debug, Clone)]
pub struct ReportResponse {
    /// The participant who answered.
    pub participant_id: String,
    /// The instrument's id.
    pub instrument: String,
    /// The timepoint (`baseline`, `end`...).
    pub timepoint: String,
    /// When it was answered (`YYYY-MM-DD`).
    pub response_date: String,
    /// The response's id.
    pub id: String,
    /// Its raw score, if scored so.
    pub raw_score: Option<i64>,
    /// Its metric score, if scored so.
    pub metric_score: Option<f64>,
    /// Its answers by item number, as a JSON object.
    pub items: String,
    /// The instrument's version (1 when the response named none).
    pub instrument_version: i64,
    /// Its score by the instrument's definition, if it has one.
    pub score: Option<f64>,
}

// Read by position: the version's column is an expression without a name.
impl FromRow<'_, AnyRow> for ReportResponse {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(ReportResponse {
            participant_id: r.try_get(0)?,
            instrument: r.try_get(1)?,
            timepoint: r.try_get(2)?,
            response_date: r.try_get(3)?,
            id: r.try_get(4)?,
            raw_score: r.try_get(5)?,
            metric_score: r.try_get(6)?,
            items: r.try_get(7)?,
            instrument_version: r.try_get(8)?,
            score: r.try_get(9)?,
        })
    }
}

/// A project's complete wellbeing responses.
pub async fn report_responses(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<ReportResponse>, sqlx::Error> {
    sqlx::query_as(
        "SELECT participant_id, instrument, timepoint, response_date, id, raw_score, \
         metric_score, items, COALESCE(instrument_version, 1), score \
         FROM wellbeing_responses WHERE project = $1 AND complete = 1",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// A site or an activity of a project: its code and its name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Named {
    /// Its code.
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// A project's sites.
pub async fn sites(db: impl AnyExecutor<'_>, project: &str) -> Result<Vec<Named>, sqlx::Error> {
    sqlx::query_as("SELECT slug, name FROM sites WHERE project = $1")
        .bind(project)
        .fetch_all(db)
        .await
}

/// A project's activities.
pub async fn activities(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<Named>, sqlx::Error> {
    sqlx::query_as("SELECT slug, name FROM activities WHERE project = $1")
        .bind(project)
        .fetch_all(db)
        .await
}

/// A (site, activity) pair that a project's sessions were recorded with.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteActivity {
    /// The site's code, as typed.
    pub site: String,
    /// The activity's code, as typed.
    pub activity: String,
}

/// Each (site, activity) pair a project's sessions were recorded with, once.
pub async fn session_sites_and_activities(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<SiteActivity>, sqlx::Error> {
    sqlx::query_as("SELECT DISTINCT site, activity FROM sessions WHERE project = $1")
        .bind(project)
        .fetch_all(db)
        .await
}

/// A project with the role a user holds in it, if any.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRole {
    /// The project's slug.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// The user's role in it, if they are a member.
    pub role: Option<String>,
}

/// Every project, by name, with the role `user_id` holds in each.
pub async fn projects_with_role(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<Vec<ProjectRole>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.slug, p.name, m.role FROM projects p \
         LEFT JOIN memberships m ON m.project = p.slug AND m.user_id = $1 ORDER BY p.name, p.slug",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// What a participant consented to.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Consents {
    /// To the use of their data (1) or not (0).
    pub consent_data_use: i64,
    /// To the sharing of their stories (1) or not (0).
    pub consent_story_sharing: i64,
}

/// What a participant consented to, if there is such a participant.
pub async fn consents(
    db: impl AnyExecutor<'_>,
    participant_id: &str,
) -> Result<Option<Consents>, sqlx::Error> {
    sqlx::query_as("SELECT consent_data_use, consent_story_sharing FROM participants WHERE id = $1")
        .bind(participant_id)
        .fetch_optional(db)
        .await
}

/// A participant's direct identifiers, as their contact record holds them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactIdentifiers {
    /// Their name, if recorded.
    pub name: Option<String>,
    /// Their phone number, if recorded.
    pub phone: Option<String>,
}

/// The direct identifiers of a project's participants (to redact them from what analysts
/// read).
pub async fn contact_identifiers(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<ContactIdentifiers>, sqlx::Error> {
    sqlx::query_as("SELECT name, phone FROM contacts WHERE project = $1")
        .bind(project)
        .fetch_all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timepoint_filter_reaches_both_wellbeing_statements() {
        let f = Filters {
            timepoint: Some("end".into()),
            ..Filters::default()
        };
        let (sql, binds) = export_statement(Dataset::WellbeingItems, "p", &f);
        assert!(sql.contains("w.timepoint = $2"), "{sql}");
        assert_eq!(binds, ["p", "end"]);
        let (sql, _) = wellbeing_instruments_statement("p", &f);
        assert!(sql.contains("w.timepoint = $2"), "{sql}");
    }

    #[test]
    fn date_placeholders_become_backend_sql() {
        let (sql, _) = export_statement(Dataset::Participants, "p", &Filters::default());
        assert!(for_backend(&sql, false).contains("date(participants.created_at, 'unixepoch')"));
        assert!(for_backend(&sql, true).contains("to_char(to_timestamp(participants.created_at"));
        assert!(!for_backend(&sql, true).contains("{date_of_millis"));
    }
}
