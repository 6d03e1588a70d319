//! A project's own instrument definitions as stored (`instrument_definitions`, one row per
//! project, id and version, the definition kept as JSON text), and how many responses use each.

use sqlx::any::AnyExecutor;

/// One stored definition of a project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DefinitionRow {
    /// The instrument's id.
    pub instrument: String,
    /// The version.
    pub version: i64,
    /// The definition, as JSON text.
    pub definition: String,
}

/// Every stored definition of a project, every version, by id then version.
pub async fn definitions(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<DefinitionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT instrument, version, definition FROM instrument_definitions \
         WHERE project = $1 ORDER BY instrument, version",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// One stored definition with its project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectDefinitionRow {
    /// The project.
    pub project: String,
    /// The instrument's id.
    pub instrument: String,
    /// The version.
    pub version: i64,
    /// The definition, as JSON text.
    pub definition: String,
}

/// Every stored definition of every project, by project, id and version.
pub async fn all_definitions(
    db: impl AnyExecutor<'_>,
) -> Result<Vec<ProjectDefinitionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT project, instrument, version, definition FROM instrument_definitions \
         ORDER BY project, instrument, version",
    )
    .fetch_all(db)
    .await
}

/// The stored definition (JSON text) of one id and version of a project, if any.
pub async fn definition_text(
    db: impl AnyExecutor<'_>,
    project: &str,
    instrument: &str,
    version: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT definition FROM instrument_definitions \
         WHERE project = $1 AND instrument = $2 AND version = $3",
    )
    .bind(project)
    .bind(instrument)
    .bind(version)
    .fetch_optional(db)
    .await
}

/// How many of the project's responses use this id and version (a response that names no
/// version uses version 1).
pub async fn responses_of_version(
    db: impl AnyExecutor<'_>,
    project: &str,
    instrument: &str,
    version: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM wellbeing_responses \
         WHERE project = $1 AND instrument = $2 AND COALESCE(instrument_version, 1) = $3",
    )
    .bind(project)
    .bind(instrument)
    .bind(version)
    .fetch_one(db)
    .await
}

/// A definition to store.
#[derive(Debug, Clone, Copy)]
pub struct NewDefinition<'a> {
    /// The project.
    pub project: &'a str,
    /// The instrument's id.
    pub instrument: &'a str,
    /// The version.
    pub version: i64,
    /// The definition, as JSON text.
    pub definition: &'a str,
    /// The username of who stores it, if a user does.
    pub defined_by: Option<&'a str>,
}

/// Stores a definition, replacing the one of the same project, id and version.
pub async fn put_definition(
    db: impl AnyExecutor<'_>,
    def: NewDefinition<'_>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instrument_definitions (project, instrument, version, definition, \
         defined_by, defined_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (project, instrument, version) DO UPDATE SET \
         definition = excluded.definition, defined_by = excluded.defined_by, \
         defined_at = excluded.defined_at",
    )
    .bind(def.project)
    .bind(def.instrument)
    .bind(def.version)
    .bind(def.definition)
    .bind(def.defined_by)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// One stored definition of a project with who stored it and when.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedDefinitionRow {
    /// The instrument's id.
    pub instrument: String,
    /// The version.
    pub version: i64,
    /// The definition, as JSON text.
    pub definition: String,
    /// The username of who stored it last, if known.
    pub defined_by: Option<String>,
    /// When (seconds since 1970).
    pub defined_at: i64,
}

/// Every stored definition of a project with who stored it and when, by id then version.
pub async fn listed_definitions(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<ListedDefinitionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT instrument, version, definition, defined_by, defined_at \
         FROM instrument_definitions WHERE project = $1 ORDER BY instrument, version",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// How many of a project's responses use one id and version.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResponseCountRow {
    /// The instrument's id.
    pub instrument: String,
    /// The version (1 for responses that name none).
    pub version: i64,
    /// How many responses.
    pub n: i64,
}

/// How many responses the project holds of each id and version.
pub async fn response_counts(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<ResponseCountRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT instrument, COALESCE(instrument_version, 1) AS version, COUNT(*) AS n \
         FROM wellbeing_responses WHERE project = $1 \
         GROUP BY instrument, COALESCE(instrument_version, 1)",
    )
    .bind(project)
    .fetch_all(db)
    .await
}
