//! A project's set-up as stored: its sites and activities, the instrument wording loaded for it
//! (or server-wide), its follow-up schedule, and the set-up epoch that moves whenever any of
//! these change.

use bothy_sync_core::followup::FollowUp;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

/// A site of a project, as the admin API lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteRow {
    /// Its slug, unique in the project.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// 1 when archived (hidden from new sessions), else 0.
    pub archived: i64,
}

/// Whether the project has a site with this slug (archived or not).
pub async fn site_exists(
    db: impl AnyExecutor<'_>,
    project: &str,
    site: &str,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM sites WHERE project = $1 AND slug = $2")
            .bind(project)
            .bind(site)
            .fetch_optional(db)
            .await?
            .is_some(),
    )
}

/// Adds a site, not archived, made at `at`. A site of that slug already in the project is a
/// unique violation.
pub async fn insert_site(
    db: impl AnyExecutor<'_>,
    project: &str,
    slug: &str,
    name: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sites (project, slug, name, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $4)",
    )
    .bind(project)
    .bind(slug)
    .bind(name)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// Every site of a project, archived ones too, by slug.
pub async fn sites(db: impl AnyExecutor<'_>, project: &str) -> Result<Vec<SiteRow>, sqlx::Error> {
    sqlx::query_as("SELECT slug, name, archived FROM sites WHERE project = $1 ORDER BY slug")
        .bind(project)
        .fetch_all(db)
        .await
}

/// Renames, archives or restores a site (`None` leaves a field as it is). False when the
/// project has no such site.
pub async fn update_site(
    db: impl AnyExecutor<'_>,
    project: &str,
    slug: &str,
    name: Option<&str>,
    archived: Option<bool>,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sites SET name = COALESCE($1, name), archived = COALESCE($2, archived), \
         updated_at = $3 WHERE project = $4 AND slug = $5",
    )
    .bind(name)
    .bind(archived.map(i64::from))
    .bind(at)
    .bind(project)
    .bind(slug)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// An activity of a project, as the admin API lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    /// Its slug, unique in the project.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// Its activity type.
    pub activity_type: String,
    /// The site it runs at, if any.
    pub site: Option<String>,
    /// 1 when archived (hidden from new sessions), else 0.
    pub archived: i64,
}

/// A new activity.
#[derive(Debug, Clone, Copy)]
pub struct NewActivity<'a> {
    /// Its slug, unique in the project.
    pub slug: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its activity type.
    pub activity_type: &'a str,
    /// The site it runs at, if any.
    pub site: Option<&'a str>,
}

/// Adds an activity, not archived, made at `at`. An activity of that slug already in the
/// project is a unique violation.
pub async fn insert_activity(
    db: impl AnyExecutor<'_>,
    project: &str,
    activity: NewActivity<'_>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO activities (project, slug, name, activity_type, site, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(project)
    .bind(activity.slug)
    .bind(activity.name)
    .bind(activity.activity_type)
    .bind(activity.site)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// Every activity of a project, archived ones too, by slug.
pub async fn activities(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<ActivityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT slug, name, activity_type, site, archived FROM activities WHERE project = $1 ORDER BY slug",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// A change to an activity: fields left `None` stay as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivityChange<'a> {
    /// The new name.
    pub name: Option<&'a str>,
    /// The new activity type.
    pub activity_type: Option<&'a str>,
    /// The new site (`""` clears it).
    pub site: Option<&'a str>,
    /// Archived or restored.
    pub archived: Option<bool>,
}

/// Changes an activity. False when the project has no such activity.
pub async fn update_activity(
    db: impl AnyExecutor<'_>,
    project: &str,
    slug: &str,
    change: ActivityChange<'_>,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE activities SET name = COALESCE($1, name), activity_type = COALESCE($2, activity_type), \
         site = CASE WHEN $3 = 0 THEN site WHEN $4 = '' THEN NULL ELSE $4 END, \
         archived = COALESCE($5, archived), updated_at = $6 WHERE project = $7 AND slug = $8",
    )
    .bind(change.name)
    .bind(change.activity_type)
    .bind(i64::from(change.site.is_some()))
    .bind(change.site.unwrap_or(""))
    .bind(change.archived.map(i64::from))
    .bind(at)
    .bind(project)
    .bind(slug)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A site as devices receive it (live sites only).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveSiteRow {
    /// Its slug.
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// The project's sites that are not archived, by slug.
pub async fn live_sites(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<LiveSiteRow>, sqlx::Error> {
    sqlx::query_as("SELECT slug, name FROM sites WHERE project = $1 AND archived = 0 ORDER BY slug")
        .bind(project)
        .fetch_all(db)
        .await
}

/// An activity as devices receive it (live activities only).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveActivityRow {
    /// Its slug.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// Its activity type.
    pub activity_type: String,
    /// The site it runs at, if any.
    pub site: Option<String>,
}

/// The project's activities that are not archived, by slug.
pub async fn live_activities(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<LiveActivityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT slug, name, activity_type, site FROM activities \
         WHERE project = $1 AND archived = 0 ORDER BY slug",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// The version of an instrument's wording in one language, server-wide (`project` empty) or
/// for one project, if any is loaded.
pub async fn wording_version(
    db: impl AnyExecutor<'_>,
    project: &str,
    instrument: &str,
    language: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT version FROM instrument_wording WHERE project = $1 AND instrument = $2 AND language = $3",
    )
    .bind(project)
    .bind(instrument)
    .bind(language)
    .fetch_optional(db)
    .await
}

/// An instrument's wording in one language, as loaded.
#[derive(Debug, Clone, Copy)]
pub struct NewWording<'a> {
    /// The project (empty: server-wide).
    pub project: &'a str,
    /// The instrument's id.
    pub instrument: &'a str,
    /// The language tag.
    pub language: &'a str,
    /// The licence under which it is used, if any.
    pub licence: Option<&'a str>,
    /// Item number to its text, as a JSON object.
    pub items: &'a str,
    /// Answer value to its label, as a JSON object.
    pub responses: &'a str,
    /// Its version.
    pub version: i64,
}

/// Stores (replaces) an instrument's wording in one language.
pub async fn put_wording(
    db: impl AnyExecutor<'_>,
    wording: NewWording<'_>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instrument_wording (project, instrument, language, licence, items, responses, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (project, instrument, language) DO UPDATE SET licence = excluded.licence, \
         items = excluded.items, responses = excluded.responses, version = excluded.version, \
         updated_at = excluded.updated_at",
    )
    .bind(wording.project)
    .bind(wording.instrument)
    .bind(wording.language)
    .bind(wording.licence)
    .bind(wording.items)
    .bind(wording.responses)
    .bind(wording.version)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// A loaded wording, without its text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WordingSummaryRow {
    /// The project (empty: server-wide).
    pub project: String,
    /// The instrument's id.
    pub instrument: String,
    /// The language tag.
    pub language: String,
    /// The licence under which it is used, if any.
    pub licence: Option<String>,
    /// Its version.
    pub version: i64,
    /// When it was loaded (seconds since 1970).
    pub updated_at: i64,
}

/// Every loaded wording, without its text, by instrument, project and language.
pub async fn wording_summaries(
    db: impl AnyExecutor<'_>,
) -> Result<Vec<WordingSummaryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT project, instrument, language, licence, version, updated_at FROM instrument_wording \
         ORDER BY instrument, project, language",
    )
    .fetch_all(db)
    .await
}

/// A loaded wording with its text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WordingRow {
    /// The project (empty: server-wide).
    pub project: String,
    /// The instrument's id.
    pub instrument: String,
    /// The language tag.
    pub language: String,
    /// The licence under which it is used, if any.
    pub licence: Option<String>,
    /// Item number to its text, as a JSON object.
    pub items: String,
    /// Answer value to its label, as a JSON object.
    pub responses: String,
    /// Its version.
    pub version: i64,
}

/// Every loaded wording with its text, by instrument and language.
pub async fn wordings(db: impl AnyExecutor<'_>) -> Result<Vec<WordingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT project, instrument, language, licence, items, responses, version \
         FROM instrument_wording ORDER BY instrument, language",
    )
    .fetch_all(db)
    .await
}

/// The set-up epoch with the database's generation id, read together.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SetupEpochRow {
    /// The epoch: moved by triggers whenever a table a set-up is made of changes.
    pub n: i64,
    /// The database's current generation id.
    pub generation: Option<String>,
}

/// The set-up epoch and the generation id, if the epoch's row exists.
pub async fn setup_epoch(db: impl AnyExecutor<'_>) -> Result<Option<SetupEpochRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n, (SELECT generation_id FROM database_generation WHERE id = 1) AS generation \
         FROM setup_epoch WHERE id = 1",
    )
    .fetch_optional(db)
    .await
}

/// One stored step of a follow-up schedule.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FollowUpStepRow {
    /// The timepoint.
    pub timepoint: String,
    /// Due this many weeks after baseline, if so.
    pub after_weeks: Option<i64>,
    /// Due after this many sessions, if so.
    pub after_sessions: Option<i64>,
}

impl FollowUpStepRow {
    /// The step (a count that does not fit is read as absent).
    pub fn step(&self) -> FollowUp {
        let count = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
        FollowUp {
            timepoint: self.timepoint.clone(),
            after_weeks: count(self.after_weeks),
            after_sessions: count(self.after_sessions),
        }
    }
}

/// A project's stored follow-up schedule, in order.
pub async fn followup_schedule(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<FollowUp>, sqlx::Error> {
    let rows: Vec<FollowUpStepRow> = sqlx::query_as(
        "SELECT timepoint, after_weeks, after_sessions FROM followup_steps \
         WHERE project = $1 ORDER BY position",
    )
    .bind(project)
    .fetch_all(db)
    .await?;
    Ok(rows.iter().map(FollowUpStepRow::step).collect())
}

/// Replaces a project's follow-up schedule with `steps`, in order, stored at `at`.
pub async fn replace_followup_schedule(
    conn: &mut AnyConnection,
    project: &str,
    steps: &[FollowUp],
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM followup_steps WHERE project = $1")
        .bind(project)
        .execute(&mut *conn)
        .await?;
    for (position, step) in steps.iter().enumerate() {
        sqlx::query(
            "INSERT INTO followup_steps (project, position, timepoint, after_weeks, \
             after_sessions, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(project)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&step.timepoint)
        .bind(step.after_weeks.map(i64::from))
        .bind(step.after_sessions.map(i64::from))
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
