//! Storage of the demo project (`bothy-server demo`): its mark, and the removal of a demo
//! project with every row that belongs to it.

use crate::storage::Tx;
use sqlx::any::AnyExecutor;

/// Marks a project as a demo: filled with synthetic people, and removable as a whole.
pub async fn mark_demo(db: impl AnyExecutor<'_>, slug: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projects SET demo = 1 WHERE slug = $1")
        .bind(slug)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether a project is a demo: `None` when there is no project with this slug.
pub async fn is_demo(db: impl AnyExecutor<'_>, slug: &str) -> Result<Option<bool>, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT demo FROM projects WHERE slug = $1")
            .bind(slug)
            .fetch_optional(db)
            .await?
            .map(|d| d != 0),
    )
}

/// The slugs of every demo project, by slug.
pub async fn demo_slugs(db: impl AnyExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT slug FROM projects WHERE demo = 1 ORDER BY slug")
        .fetch_all(db)
        .await
}

/// What removing a demo project deleted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Removed {
    /// Records (documents) deleted.
    pub records: u64,
    /// Change log rows deleted.
    pub change_log_rows: u64,
    /// Memberships deleted: their users' devices delete the project's records at their next
    /// sync.
    pub memberships: u64,
    /// Rows of every other table of the project deleted (projections, set-up, review).
    pub other_rows: u64,
}

/// What [`remove`] came to.
#[derive(Debug, Clone)]
pub enum Removal {
    /// No project has this slug.
    NotFound,
    /// The project is not a demo: nothing was deleted.
    NotDemo,
    /// The demo project and all its rows are gone.
    Removed(Removed),
}

/// Deletes a demo project and every row that belongs to it, in the caller's transaction:
/// records, change log, projections, review rows, set-up, memberships and the project itself.
/// The audit log is kept, and so are erasure tombstones (never deleted). Refuses a project
/// that is not a demo.
pub async fn remove(tx: &mut Tx, slug: &str) -> Result<Removal, sqlx::Error> {
    match is_demo(&mut **tx, slug).await? {
        None => return Ok(Removal::NotFound),
        Some(false) => return Ok(Removal::NotDemo),
        Some(true) => {}
    }
    let mut removed = Removed::default();
    // Projections and review rows first, then the documents and their log, then the set-up
    // and memberships, and the project last (set-up and memberships refer to it).
    for statement in [
        "DELETE FROM attendance WHERE project = $1",
        "DELETE FROM wellbeing_items WHERE project = $1",
        "DELETE FROM wellbeing_responses WHERE project = $1",
        "DELETE FROM stories WHERE project = $1",
        "DELETE FROM sessions WHERE project = $1",
        "DELETE FROM contacts WHERE project = $1",
        "DELETE FROM participants WHERE project = $1",
        "DELETE FROM conflicts WHERE project = $1",
        "DELETE FROM record_flags WHERE project = $1",
        "DELETE FROM quarantine WHERE project = $1",
        "DELETE FROM withdrawals WHERE project = $1",
        "DELETE FROM retired_documents WHERE project = $1",
        "DELETE FROM device_wipe_losses WHERE project = $1",
        "DELETE FROM followup_steps WHERE project = $1",
        "DELETE FROM instrument_wording WHERE project = $1",
        "DELETE FROM instrument_definitions WHERE project = $1",
        "DELETE FROM activities WHERE project = $1",
        "DELETE FROM sites WHERE project = $1",
    ] {
        removed.other_rows += sqlx::query(statement)
            .bind(slug)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    removed.change_log_rows = sqlx::query("DELETE FROM change_log WHERE project = $1")
        .bind(slug)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    removed.records = sqlx::query("DELETE FROM records WHERE project = $1")
        .bind(slug)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    removed.memberships = sqlx::query("DELETE FROM memberships WHERE project = $1")
        .bind(slug)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM projects WHERE slug = $1 AND demo = 1")
        .bind(slug)
        .execute(&mut **tx)
        .await?;
    Ok(Removal::Removed(removed))
}
