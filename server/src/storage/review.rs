//! Storage of what review settles by hand: open conflicts, quarantine entries and the
//! decisions taken on them.

use sqlx::any::AnyExecutor;

/// A quarantine entry as listed to reviewers, without what it keeps.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct QuarantineRow {
    /// The entry's id.
    pub id: i64,
    /// The record the refused or neutralised change was for.
    pub record_id: String,
    /// The device that sent it.
    pub device_id: Option<String>,
    /// What the server did: `compensated` (a value neutralised) or `refused`.
    pub action: String,
    /// Why, as a code.
    pub code: String,
    /// The field concerned, if one.
    pub field: Option<String>,
    /// The value refused, if one.
    pub value: Option<String>,
    /// Why, in words.
    pub message: String,
    /// `open`, `released` or `discarded`.
    pub status: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
}

/// Every quarantine entry of `project`, by id.
pub async fn quarantine_of_project(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<QuarantineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, record_id, device_id, action, code, field, value, message, status, received_at \
         FROM quarantine WHERE project = $1 ORDER BY id",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// The open quarantine entries of one record of `project`, by id.
pub async fn open_quarantine_of_record(
    db: impl AnyExecutor<'_>,
    record_id: &str,
    project: &str,
) -> Result<Vec<QuarantineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, record_id, device_id, action, code, field, value, message, status, received_at \
         FROM quarantine WHERE record_id = $1 AND project = $2 AND status = 'open' ORDER BY id",
    )
    .bind(record_id)
    .bind(project)
    .fetch_all(db)
    .await
}

/// The open quarantine entries of `project` on one field path (any record), by id.
pub async fn open_quarantine_of_field(
    db: impl AnyExecutor<'_>,
    field: &str,
    project: &str,
) -> Result<Vec<QuarantineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, record_id, device_id, action, code, field, value, message, status, received_at \
         FROM quarantine WHERE field = $1 AND project = $2 AND status = 'open' ORDER BY id",
    )
    .bind(field)
    .bind(project)
    .fetch_all(db)
    .await
}

/// An open conflict as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConflictRow {
    /// The record.
    pub record_id: String,
    /// The record's kind.
    pub kind: String,
    /// The field in conflict.
    pub field: String,
    /// The conflicting values, as JSON.
    pub conflict_values: String,
}

/// Every open conflict of `project`, by record and field.
pub async fn conflicts_of_project(
    db: impl AnyExecutor<'_>,
    project: &str,
) -> Result<Vec<ConflictRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT record_id, kind, field, conflict_values FROM conflicts WHERE project = $1 ORDER BY record_id, field",
    )
    .bind(project)
    .fetch_all(db)
    .await
}

/// The open conflicts of one record, by field.
pub async fn conflicts_of_record(
    db: impl AnyExecutor<'_>,
    record_id: &str,
) -> Result<Vec<ConflictRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT record_id, kind, field, conflict_values FROM conflicts WHERE record_id = $1 ORDER BY field",
    )
    .bind(record_id)
    .fetch_all(db)
    .await
}

/// The open conflicts of `project` on one field path (any record), by record.
pub async fn conflicts_of_field(
    db: impl AnyExecutor<'_>,
    field: &str,
    project: &str,
) -> Result<Vec<ConflictRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT record_id, kind, field, conflict_values FROM conflicts WHERE field = $1 AND project = $2 ORDER BY record_id",
    )
    .bind(field)
    .bind(project)
    .fetch_all(db)
    .await
}

/// A quarantine entry as stored, with what it keeps and its decision.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    /// The entry's id.
    pub id: i64,
    /// Its project (none for pushes whose bytes named none).
    pub project: Option<String>,
    /// The record the refused or neutralised change was for.
    pub record_id: String,
    /// The device that sent it.
    pub device_id: Option<String>,
    /// What the server did: `compensated` (a value neutralised) or `refused`.
    pub action: String,
    /// Why, as a code.
    pub code: String,
    /// The field concerned, if one.
    pub field: Option<String>,
    /// The value refused, if one.
    pub value: Option<String>,
    /// Why, in words.
    pub message: String,
    /// The kept changes or sample, in their stored form ([`super::records::Kept`]).
    pub changes: Option<Vec<u8>>,
    /// `open`, `released` or `discarded`.
    pub status: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
    /// Who decided it.
    pub decided_by: Option<String>,
    /// When it was decided (Unix seconds).
    pub decided_at: Option<i64>,
    /// The reviewer's reason.
    pub decision_reason: Option<String>,
    /// When the sending device was told of the decision (Unix seconds).
    pub notified_at: Option<i64>,
}

/// A quarantine entry of `project`, if there is one with that id.
pub async fn entry(
    db: impl AnyExecutor<'_>,
    id: i64,
    project: &str,
) -> Result<Option<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, project, record_id, device_id, action, code, field, \
         value, message, changes, status, received_at, decided_by, decided_at, decision_reason, \
         notified_at FROM quarantine WHERE id = $1 AND project = $2",
    )
    .bind(id)
    .bind(project)
    .fetch_optional(db)
    .await
}

/// A quarantine entry of any project, or of none, if there is one with that id.
pub async fn any_entry(db: impl AnyExecutor<'_>, id: i64) -> Result<Option<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, project, record_id, device_id, action, code, field, \
         value, message, changes, status, received_at, decided_by, decided_at, decision_reason, \
         notified_at FROM quarantine WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Marks an open entry decided. Returns whether it was still open (and so is now decided).
pub async fn decide(
    db: impl AnyExecutor<'_>,
    id: i64,
    status: &str,
    decided_by: &str,
    decided_at: i64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE quarantine SET status = $1, decided_by = $2, decided_at = $3, \
         decision_reason = $4 WHERE id = $5 AND status = 'open'",
    )
    .bind(status)
    .bind(decided_by)
    .bind(decided_at)
    .bind(reason)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The device that sent a quarantine entry: its actor and its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Sender {
    /// The device's Automerge actor (hex).
    pub actor: String,
    /// The device's user.
    pub user_id: String,
    /// That user's name.
    pub username: String,
}

/// The actor and user of a device, if it is still known.
pub async fn sender(
    db: impl AnyExecutor<'_>,
    device_id: &str,
) -> Result<Option<Sender>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.actor, d.user_id, u.username FROM devices d JOIN users u ON u.id = d.user_id \
         WHERE d.id = $1",
    )
    .bind(device_id)
    .fetch_optional(db)
    .await
}

/// A quarantine entry of any project as the server admin lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminEntryRow {
    /// The entry's id.
    pub id: i64,
    /// Its project (none for pushes whose bytes named none).
    pub project: Option<String>,
    /// The record the refused or neutralised change was for.
    pub record_id: String,
    /// The device that sent it.
    pub device_id: Option<String>,
    /// The username of the device's user, if the device is still known.
    pub username: Option<String>,
    /// What the server did: `compensated` (a value neutralised) or `refused`.
    pub action: String,
    /// Why, as a code.
    pub code: String,
    /// The field concerned, if one.
    pub field: Option<String>,
    /// The value refused, if one.
    pub value: Option<String>,
    /// Why, in words.
    pub message: String,
    /// `open`, `released` or `discarded`.
    pub status: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
    /// How many bytes the entry keeps, compressed.
    pub kept_bytes: i64,
}

/// Up to `limit` entries of any project with an id above `after_id`, oldest first, in
/// `status` only unless it is empty.
pub async fn all_entries(
    db: impl AnyExecutor<'_>,
    after_id: i64,
    status: &str,
    limit: i64,
) -> Result<Vec<AdminEntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT q.id, q.project, q.record_id, q.device_id, u.username, q.action, q.code, \
         q.field, q.value, q.message, q.status, q.received_at, \
         CAST(COALESCE(LENGTH(q.changes), 0) AS BIGINT) AS kept_bytes \
         FROM quarantine q LEFT JOIN devices d ON d.id = q.device_id \
         LEFT JOIN users u ON u.id = d.user_id \
         WHERE q.id > $1 AND ($2 = '' OR q.status = $2) ORDER BY q.id LIMIT $3",
    )
    .bind(after_id)
    .bind(status)
    .bind(limit)
    .fetch_all(db)
    .await
}
