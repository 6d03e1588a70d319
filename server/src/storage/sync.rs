//! What the sync endpoint reads and writes besides records: the database's generation, the
//! actors whose changes a device may relay, a device's row as a sync leaves it, reviewers'
//! decisions to tell a device of, and the pages of snapshots and change-log rows a device
//! pulls, with the records withdrawn from it.

use crate::access::roles::pullable_sql;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

/// The database's current generation id (text; a UUID).
pub async fn generation_id(db: impl AnyExecutor<'_>) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT generation_id FROM database_generation WHERE id = 1")
        .fetch_one(db)
        .await
}

/// The actors (hex) of the user's devices other than `device_id`.
pub async fn other_device_actors(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    device_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar::<_, String>("SELECT actor FROM devices WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(device_id)
        .fetch_all(db)
        .await
}

/// The ids (text) of every generation a restore replaced.
pub async fn superseded_generation_ids(
    db: impl AnyExecutor<'_>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT generation_id FROM superseded_generations")
        .fetch_all(db)
        .await
}

/// A user's role in one project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRoleRow {
    /// The project.
    pub project: String,
    /// The user's role in it.
    pub role: String,
}

/// The user's role in each project they are a member of.
pub async fn project_roles(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<Vec<ProjectRoleRow>, sqlx::Error> {
    sqlx::query_as("SELECT project, role FROM memberships WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(db)
        .await
}

/// The change log's head: the last position written.
pub async fn log_head(db: impl AnyExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT seq FROM log_head WHERE id = 1")
        .fetch_one(db)
        .await
}

/// Waits for, then holds until the transaction ends, the device's turn to store a push
/// (PostgreSQL only: SQLite's single writer already orders them).
pub async fn lock_device_pushes(
    db: impl AnyExecutor<'_>,
    device_id: &str,
) -> Result<(), sqlx::Error> {
    // sql: postgres only
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 9))::text")
        .bind(device_id)
        .execute(db)
        .await?;
    Ok(())
}

/// A reviewer's decision on a device's quarantined change.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DecisionRow {
    /// The quarantine entry's id.
    pub id: i64,
    /// The record.
    pub record_id: String,
    /// `released` or `discarded`.
    pub status: String,
    /// The field held back, if one was.
    pub field: Option<String>,
    /// The value held back, if one was.
    pub value: Option<String>,
    /// Why the reviewer decided so, if they said.
    pub decision_reason: Option<String>,
}

/// Reviewers' decisions on the device's quarantined changes that it has not been told of, in
/// order.
pub async fn untold_decisions(
    db: impl AnyExecutor<'_>,
    device_id: &str,
) -> Result<Vec<DecisionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, record_id, status, field, value, decision_reason FROM quarantine \
         WHERE device_id = $1 AND status IN ('released', 'discarded') AND notified_at IS NULL \
         ORDER BY id",
    )
    .bind(device_id)
    .fetch_all(db)
    .await
}

/// Marks the decisions of these quarantine ids as told to their device at `now`.
pub async fn mark_decisions_told(
    conn: &mut AnyConnection,
    ids: &[i64],
    now: i64,
) -> Result<(), sqlx::Error> {
    for id in ids {
        sqlx::query("UPDATE quarantine SET notified_at = $1 WHERE id = $2 AND notified_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What a sync reads and writes of a device's row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceSyncRow {
    /// When it last synced (seconds since 1970).
    pub last_sync_at: Option<i64>,
    /// The app it last reported.
    pub app: Option<String>,
    /// How many records it last said it holds unsent.
    pub pending_records: Option<i64>,
    /// How many records its last sync pushed.
    pub last_pushed: Option<i64>,
    /// The superseded generation it reconciles from, while it does.
    pub relay_from: Option<String>,
}

/// The device's row as the last sync left it.
pub async fn device_sync_row(
    db: impl AnyExecutor<'_>,
    device_id: &str,
) -> Result<DeviceSyncRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT last_sync_at, app, pending_records, last_pushed, relay_from \
         FROM devices WHERE id = $1",
    )
    .bind(device_id)
    .fetch_one(db)
    .await
}

/// Writes the device's row as a sync leaves it.
pub async fn save_device_sync_row(
    db: impl AnyExecutor<'_>,
    device_id: &str,
    row: &DeviceSyncRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE devices SET last_sync_at = $1, app = $2, \
         pending_records = $3, last_pushed = $4, relay_from = $5 WHERE id = $6",
    )
    .bind(row.last_sync_at)
    .bind(&row.app)
    .bind(row.pending_records)
    .bind(row.last_pushed)
    .bind(&row.relay_from)
    .bind(device_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A record a user may pull, for a bootstrap, with its change-log row when the log holds
/// exactly one.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SnapshotRow {
    /// The record's id.
    pub id: String,
    /// Its project.
    pub project: String,
    /// Its kind.
    pub kind: String,
    /// Its saved document.
    pub doc: Vec<u8>,
    /// The hash of its only change-log row, if it has exactly one.
    pub only_hash: Option<String>,
    /// That change, if it has exactly one.
    pub only_change: Option<Vec<u8>>,
}

/// The records user `$1` may pull (the condition of [`pullable_sql`], checked below), with ids
/// after `$2`, at most `$3`, each with its change-log row when the log holds exactly one.
const SNAPSHOT_ROWS: &str = "SELECT records.id, records.project, records.kind, records.doc, \
            c.hash AS only_hash, c.change AS only_change \
     FROM records LEFT JOIN change_log c ON c.record_id = records.id \
       AND NOT EXISTS (SELECT 1 FROM change_log o \
                       WHERE o.record_id = c.record_id AND o.seq <> c.seq) \
     WHERE EXISTS (SELECT 1 FROM memberships pm WHERE pm.user_id = $1 \
       AND pm.project = records.project \
       AND (pm.role IN ('admin', 'coordinator') \
         OR ((records.restricted = 0 OR records.owner_user = $1) \
           AND (pm.role = 'researcher' \
             OR (pm.role = 'peer_worker' AND records.kind IN ('participant', 'session')))))) \
     AND records.id > $2 ORDER BY records.id LIMIT $3";

const _: () = assert!(holds(
    SNAPSHOT_ROWS,
    pullable_sql!(
        "$1",
        "records.project",
        "records.kind",
        "records.restricted",
        "records.owner_user"
    )
));

/// The change-log rows after `$1` up to `$2`, other than those device `$3` sent, that user `$4`
/// may pull (the condition of [`pullable_sql`], checked below), in order, at most `$5`.
const LOG_ROWS: &str = "SELECT c.seq, c.record_id, c.project, r.kind, c.change FROM change_log c \
     JOIN records r ON r.id = c.record_id \
     WHERE c.seq > $1 AND c.seq <= $2 \
       AND (c.device_id IS NULL OR c.device_id <> $3) \
       AND EXISTS (SELECT 1 FROM memberships pm WHERE pm.user_id = $4 \
       AND pm.project = c.project \
       AND (pm.role IN ('admin', 'coordinator') \
         OR ((r.restricted = 0 OR r.owner_user = $4) \
           AND (pm.role = 'researcher' \
             OR (pm.role = 'peer_worker' AND r.kind IN ('participant', 'session')))))) \
     ORDER BY c.seq LIMIT $5";

const _: () = assert!(holds(
    LOG_ROWS,
    pullable_sql!("$4", "c.project", "r.kind", "r.restricted", "r.owner_user")
));

/// Whether `text` holds `part`, at compile time: the pull statements above are written out
/// whole, and must hold the roles' pull condition exactly as [`pullable_sql`] writes it.
const fn holds(text: &str, part: &str) -> bool {
    let (text, part) = (text.as_bytes(), part.as_bytes());
    let mut start = 0;
    while start + part.len() <= text.len() {
        let mut i = 0;
        while i < part.len() && text[start + i] == part[i] {
            i += 1;
        }
        if i == part.len() {
            return true;
        }
        start += 1;
    }
    false
}

/// The records `user_id` may pull with ids after `after` (`""`: from the first), by id, at most
/// `limit`, as they are read: a page that fills its byte budget stops reading without holding
/// the rest of the rows.
pub fn snapshot_rows<'e>(
    db: impl AnyExecutor<'e> + 'e,
    user_id: &'e str,
    after: &'e str,
    limit: i64,
) -> futures_util::stream::BoxStream<'e, Result<SnapshotRow, sqlx::Error>> {
    sqlx::query_as(SNAPSHOT_ROWS)
        .bind(user_id)
        .bind(after)
        .bind(limit)
        .fetch(db)
}

/// One change-log row a device pulls.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogRow {
    /// Its position in the log.
    pub seq: i64,
    /// The record.
    pub record_id: String,
    /// The record's project.
    pub project: String,
    /// The record's kind.
    pub kind: String,
    /// The change.
    pub change: Vec<u8>,
}

/// The change-log rows after `since` up to `head` that `user_id` may pull, other than those
/// `device_id` sent, in order, at most `limit`.
pub async fn log_rows(
    db: impl AnyExecutor<'_>,
    since: i64,
    head: i64,
    device_id: &str,
    user_id: &str,
    limit: i64,
) -> Result<Vec<LogRow>, sqlx::Error> {
    sqlx::query_as(LOG_ROWS)
        .bind(since)
        .bind(head)
        .bind(device_id)
        .bind(user_id)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// A record whose audience narrowed, with what decides who may pull it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WithdrawnRow {
    /// The record.
    pub record_id: String,
    /// Its project.
    pub project: String,
    /// Its kind.
    pub kind: String,
    /// 1 when restricted to its owner (and the project's admins and coordinators), else 0.
    pub restricted: i64,
    /// The user who owns it, if any.
    pub owner_user: Option<String>,
}

/// Every restricted record, by id.
const RESTRICTED_RECORDS: &str = "SELECT id AS record_id, project, kind, restricted, owner_user FROM records \
         WHERE restricted = 1 AND $1 = 0 ORDER BY id";

/// The records withdrawn after a log position, by id.
const WITHDRAWN_AFTER: &str = "SELECT DISTINCT w.record_id, r.project, r.kind, r.restricted, r.owner_user \
         FROM withdrawals w JOIN records r ON r.id = w.record_id \
         WHERE w.seq > $1 ORDER BY w.record_id";

/// The records whose audience narrowed after log position `since`, or with `since` 0, every
/// restricted record.
pub async fn withdrawn_rows(
    db: impl AnyExecutor<'_>,
    since: i64,
) -> Result<Vec<WithdrawnRow>, sqlx::Error> {
    let sql = if since == 0 {
        RESTRICTED_RECORDS
    } else {
        WITHDRAWN_AFTER
    };
    sqlx::query_as(sql).bind(since).fetch_all(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_finds_a_part_only_where_it_is_whole() {
        assert!(holds("one two three", "two"));
        assert!(holds("abc", "abc") && holds("abc", ""));
        assert!(!holds("abc", "abd") && !holds("ab", "abc"));
        let condition = pullable_sql!("$4", "c.project", "r.kind", "r.restricted", "r.owner_user");
        assert!(!holds(SNAPSHOT_ROWS, condition));
        assert!(holds(LOG_ROWS, condition));
    }
}
