//! Projects as stored: their slugs and names.

use sqlx::any::AnyExecutor;

/// A project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    /// Its slug, unique on the server.
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// Adds a project unless the slug is taken: `false` when it is.
pub async fn insert(
    db: impl AnyExecutor<'_>,
    slug: &str,
    name: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "INSERT INTO projects (slug, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(slug)
    .bind(name)
    .bind(at)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// Every project, by slug.
pub async fn list(db: impl AnyExecutor<'_>) -> Result<Vec<ProjectRow>, sqlx::Error> {
    sqlx::query_as("SELECT slug, name FROM projects ORDER BY slug")
        .fetch_all(db)
        .await
}

/// Whether a project with this slug exists.
pub async fn exists(db: impl AnyExecutor<'_>, slug: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 AS one FROM projects WHERE slug = $1")
        .bind(slug)
        .fetch_optional(db)
        .await?
        .is_some())
}

/// A project's name, if there is a project with this slug.
pub async fn name(db: impl AnyExecutor<'_>, slug: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM projects WHERE slug = $1")
        .bind(slug)
        .fetch_optional(db)
        .await
}
