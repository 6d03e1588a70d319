//! Storage of participants' erasures: the tombstones, the rows an erasure deletes, and the
//! statements that take deleted rows off the disk afterwards.

use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

/// A tombstone as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Tombstone {
    /// The erased record.
    pub record_id: String,
    /// Its kind when erased.
    pub kind: String,
    /// The participant whose erasure removed it.
    pub participant_id: String,
    /// The change log position of the erasure.
    pub seq: i64,
    /// When (Unix seconds).
    pub erased_at: i64,
    /// The user who erased it.
    pub erased_by: Option<String>,
}

/// The tombstone of one record id, if it was erased.
pub async fn tombstone(
    db: impl AnyExecutor<'_>,
    id: &str,
) -> Result<Option<Tombstone>, sqlx::Error> {
    sqlx::query_as(
        "SELECT record_id, kind, participant_id, seq, erased_at, erased_by FROM erasures \
         WHERE record_id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Every tombstone written by erasing `participant` in `project`.
pub async fn tombstones_of(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<Tombstone>, sqlx::Error> {
    sqlx::query_as(
        "SELECT record_id, kind, participant_id, seq, erased_at, erased_by FROM erasures \
         WHERE participant_id = $1 AND project = $2 ORDER BY kind, record_id",
    )
    .bind(participant)
    .bind(project)
    .fetch_all(db)
    .await
}

/// Whether a record id is tombstoned.
pub async fn is_erased(db: impl AnyExecutor<'_>, id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS x FROM erasures WHERE record_id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?
            .is_some(),
    )
}

/// The ids tombstoned after `since` and up to `head` (both change log positions) in projects
/// where `user_id` holds one of `roles`. The roles are fixed identifiers of the one table of
/// rules (never input), so they are written into the statement rather than bound one by one.
pub async fn erased_in_roles(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    roles: &[&str],
    since: i64,
    head: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let roles: Vec<String> = roles.iter().map(|r| format!("'{r}'")).collect();
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT record_id FROM erasures WHERE seq > $1 AND seq <= $2 AND EXISTS (\
           SELECT 1 FROM memberships pm WHERE pm.user_id = $3 AND pm.project = erasures.project \
           AND pm.role IN ({})) \
         ORDER BY seq, record_id",
        roles.join(", ")
    )))
    .bind(since)
    .bind(head)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// A stored record's project and kind.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectKind {
    /// The record's project.
    pub project: String,
    /// The record's kind.
    pub kind: String,
}

/// The project and kind of a stored record, if the server holds it.
pub async fn project_kind(
    db: impl AnyExecutor<'_>,
    id: &str,
) -> Result<Option<ProjectKind>, sqlx::Error> {
    sqlx::query_as("SELECT project, kind FROM records WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Whether `project`'s quarantine keeps anything for a record id.
pub async fn in_quarantine(
    db: impl AnyExecutor<'_>,
    record_id: &str,
    project: &str,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS x FROM quarantine WHERE record_id = $1 AND project = $2")
            .bind(record_id)
            .bind(project)
            .fetch_optional(db)
            .await?
            .is_some(),
    )
}

/// The wellbeing responses about `participant` in `project`.
pub async fn responses_about(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM wellbeing_responses WHERE participant_id = $1 AND project = $2",
    )
    .bind(participant)
    .bind(project)
    .fetch_all(db)
    .await
}

/// The stories about `participant` in `project`.
pub async fn stories_about(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM stories WHERE participant_id = $1 AND project = $2")
        .bind(participant)
        .bind(project)
        .fetch_all(db)
        .await
}

/// The contact records of `participant` in `project`.
pub async fn contacts_of(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM contacts WHERE participant_id = $1 AND project = $2")
        .bind(participant)
        .bind(project)
        .fetch_all(db)
        .await
}

/// The sessions of `project` that hold an attendance mark for `participant`.
pub async fn sessions_attended(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT session_id AS id FROM attendance WHERE participant_id = $1 AND project = $2",
    )
    .bind(participant)
    .bind(project)
    .fetch_all(db)
    .await
}

/// Deletes the attendance projection's rows for `participant`. Returns how many.
pub async fn delete_attendance_of(
    db: impl AnyExecutor<'_>,
    participant: &str,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM attendance WHERE participant_id = $1")
            .bind(participant)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Deletes the quarantine entries on one field path (of any record). Returns how many.
pub async fn delete_quarantine_of_field(
    db: impl AnyExecutor<'_>,
    field: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM quarantine WHERE field = $1")
        .bind(field)
        .execute(db)
        .await?
        .rows_affected())
}

/// Deletes the conflicts on one field path (of any record). Returns how many.
pub async fn delete_conflicts_of_field(
    db: impl AnyExecutor<'_>,
    field: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM conflicts WHERE field = $1")
        .bind(field)
        .execute(db)
        .await?
        .rows_affected())
}

/// How many rows of each kind erasing one record deleted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deleted {
    /// The record itself (0 or 1).
    pub records: u64,
    /// Its change log rows.
    pub change_log_rows: u64,
    /// Its quarantine entries.
    pub quarantine_entries: u64,
    /// Its conflicts.
    pub conflicts: u64,
    /// Its review flags.
    pub flags: u64,
}

const DELETE_PARTICIPANT_ROW: &str = "DELETE FROM participants WHERE id = $1";
const DELETE_CONTACT_ROW: &str = "DELETE FROM contacts WHERE id = $1";
/// The participant's document from before contact records, with its history.
const DELETE_RETIRED_DOCUMENT: &str = "DELETE FROM retired_documents WHERE record_id = $1";
const DELETE_WITHDRAWALS: &str = "DELETE FROM withdrawals WHERE record_id = $1";
const DELETE_RESPONSE_ROW: &str = "DELETE FROM wellbeing_responses WHERE id = $1";
const DELETE_RESPONSE_ITEMS: &str = "DELETE FROM wellbeing_items WHERE response_id = $1";
const DELETE_STORY_ROW: &str = "DELETE FROM stories WHERE id = $1";

/// Deletes a record everywhere it is kept: its document, change log rows, quarantine entries,
/// conflicts, review flags and projection rows.
pub async fn delete_record(conn: &mut AnyConnection, id: &str) -> Result<Deleted, sqlx::Error> {
    let mut deleted = Deleted {
        records: sqlx::query("DELETE FROM records WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        ..Deleted::default()
    };
    deleted.change_log_rows = sqlx::query("DELETE FROM change_log WHERE record_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    deleted.quarantine_entries = sqlx::query("DELETE FROM quarantine WHERE record_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    deleted.conflicts = sqlx::query("DELETE FROM conflicts WHERE record_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    deleted.flags = sqlx::query("DELETE FROM record_flags WHERE record_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    for sql in [
        DELETE_PARTICIPANT_ROW,
        DELETE_CONTACT_ROW,
        DELETE_RETIRED_DOCUMENT,
        DELETE_WITHDRAWALS,
        DELETE_RESPONSE_ROW,
        DELETE_RESPONSE_ITEMS,
        DELETE_STORY_ROW,
    ] {
        sqlx::query(sql).bind(id).execute(&mut *conn).await?;
    }
    Ok(deleted)
}

/// Takes the next position of the change log's numbering for tombstones and returns it.
pub async fn next_seq(db: impl AnyExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("UPDATE log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(db)
        .await
}

/// Writes the tombstone of an erased record, unless it has one. Returns whether it wrote it.
#[allow(clippy::too_many_arguments)]
pub async fn write_tombstone(
    db: impl AnyExecutor<'_>,
    record_id: &str,
    project: &str,
    kind: &str,
    participant: &str,
    seq: i64,
    erased_at: i64,
    erased_by: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO erasures (record_id, project, kind, participant_id, seq, erased_at, erased_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (record_id) DO NOTHING",
    )
    .bind(record_id)
    .bind(project)
    .bind(kind)
    .bind(participant)
    .bind(seq)
    .bind(erased_at)
    .bind(erased_by)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A refused push kept in quarantine with its changes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefusedRow {
    /// The entry's id.
    pub id: i64,
    /// The record the push was for.
    pub record_id: String,
    /// The kept changes, in their stored form ([`super::records::Kept`]).
    pub changes: Vec<u8>,
}

/// Every refused push `project`'s quarantine keeps changes of, by id.
pub async fn refused_in(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<RefusedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, record_id, changes FROM quarantine \
         WHERE project = $1 AND action = 'refused' AND changes IS NOT NULL ORDER BY id",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// Every table an erasure deletes from or rewrites a row of, rewritten to new files: their
/// dead row versions (heap, TOAST and index entries) still hold the erased data until then.
// sql: postgres only
const VACUUM_ERASED: &str = "VACUUM (FULL) records, change_log, quarantine, conflicts, record_flags, \
     participants, contacts, retired_documents, withdrawals, wellbeing_responses, wellbeing_items, stories, \
     attendance, sessions";

/// Rewrites every table an erasure touched (PostgreSQL only; not inside a transaction).
pub async fn vacuum_erased(db: impl AnyExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(VACUUM_ERASED).execute(db).await?;
    Ok(())
}

/// How many other backends of the PostgreSQL server hold a snapshot or transaction id older
/// than `participant`'s erasure (PostgreSQL only).
pub async fn older_transactions(
    db: impl AnyExecutor<'_>,
    participant: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        // sql: postgres only
        "SELECT COUNT(*) AS n FROM pg_stat_activity a, \
           (SELECT MAX(age(e.xmin)) AS erasure FROM erasures e WHERE e.participant_id = $1) t \
         WHERE a.pid <> pg_backend_pid() \
         AND (age(a.backend_xmin) >= t.erasure OR age(a.backend_xid) >= t.erasure)",
    )
    .bind(participant)
    .fetch_one(db)
    .await
}

/// Sets a connection's busy timeout to one second (SQLite only).
pub async fn short_busy_timeout(db: impl AnyExecutor<'_>) -> Result<(), sqlx::Error> {
    // sql: sqlite only
    sqlx::query("PRAGMA busy_timeout = 1000")
        .execute(db)
        .await?;
    Ok(())
}

/// Checkpoints the write-ahead log and truncates it (SQLite only). Returns whether readers
/// kept it from finishing (`wal_checkpoint`'s first column: 1 if busy).
pub async fn checkpoint_truncate(db: impl AnyExecutor<'_>) -> Result<bool, sqlx::Error> {
    // sql: sqlite only
    let busy: i64 = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(db)
        .await?;
    Ok(busy != 0)
}
