//! Storage of the move of participants' direct identifiers to contact records: the pending
//! move, the retired documents of the old format, and what the move reads and deletes.

use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

/// Whether the start-up move to contact records is still to do.
pub async fn migration_pending(db: impl AnyExecutor<'_>) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT name FROM pending_data_migrations WHERE name = 'contacts'")
            .fetch_optional(db)
            .await?
            .is_some(),
    )
}

/// Marks the start-up move to contact records done.
pub async fn migration_done(db: impl AnyExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM pending_data_migrations WHERE name = 'contacts'")
        .execute(db)
        .await?;
    Ok(())
}

/// A stored participant not yet retired, for the start-up move.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipantDoc {
    /// The record id.
    pub id: String,
    /// Its project.
    pub project: String,
    /// The compacted Automerge document.
    pub doc: Vec<u8>,
    /// The user who first stored it, if known.
    pub owner_user: Option<String>,
}

/// Up to `limit` stored participants with an id above `after` that were not retired, by id.
pub async fn participants_after(
    db: impl AnyExecutor<'_>,
    after: &str,
    limit: i64,
) -> Result<Vec<ParticipantDoc>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.project, r.doc, r.owner_user FROM records r \
         WHERE r.kind = 'participant' AND r.id > $1 \
           AND NOT EXISTS (SELECT 1 FROM retired_documents t WHERE t.record_id = r.id) \
         ORDER BY r.id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Keeps a participant's old-format document as retired (dated later, by
/// [`date_retirements`]), and takes its history out of the change log and its conflicts out
/// of the review list.
pub async fn retire(
    conn: &mut AnyConnection,
    id: &str,
    project: &str,
    doc: Vec<u8>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retired_documents (record_id, project, doc, retired_seq, retired_at) \
         VALUES ($1, $2, $3, 0, $4) \
         ON CONFLICT (record_id) DO UPDATE SET doc = excluded.doc, retired_seq = 0",
    )
    .bind(id)
    .bind(project)
    .bind(doc)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM change_log WHERE record_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM conflicts WHERE record_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A retired document of the old format.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RetiredDoc {
    /// Its project.
    pub project: String,
    /// The Automerge document.
    pub doc: Vec<u8>,
}

/// The retired document of a record id, if it was retired.
pub async fn retired(
    db: impl AnyExecutor<'_>,
    id: &str,
) -> Result<Option<RetiredDoc>, sqlx::Error> {
    sqlx::query_as("SELECT project, doc FROM retired_documents WHERE record_id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The document alone of a retired record id, if it was retired.
pub async fn retired_doc(
    db: impl AnyExecutor<'_>,
    id: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT doc FROM retired_documents WHERE record_id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Replaces a retired document (after carrying changes over into it).
pub async fn update_retired(
    db: impl AnyExecutor<'_>,
    id: &str,
    doc: Vec<u8>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE retired_documents SET doc = $1 WHERE record_id = $2")
        .bind(doc)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Dates the retirements written in this transaction (`retired_seq` 0) by the log's `head`.
pub async fn date_retirements(db: impl AnyExecutor<'_>, head: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE retired_documents SET retired_seq = $1 WHERE retired_seq = 0")
        .bind(head)
        .execute(db)
        .await?;
    Ok(())
}

/// The records of `project` retired after a position of the change log, by id.
pub async fn retired_since(
    db: impl AnyExecutor<'_>,
    project: &str,
    since: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT record_id FROM retired_documents \
         WHERE project = $1 AND retired_seq > $2 ORDER BY record_id",
    )
    .bind(project)
    .bind(since)
    .fetch_all(db)
    .await
}

/// Whether the server holds a record.
pub async fn record_exists(db: impl AnyExecutor<'_>, id: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 AS one FROM records WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .is_some())
}

/// The first contact record of `participant` in `project`, if there is one.
pub async fn first_contact_of(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM contacts WHERE participant_id = $1 AND project = $2 ORDER BY id LIMIT 1",
    )
    .bind(participant)
    .bind(project)
    .fetch_optional(db)
    .await
}
