//! Wipes of withdrawn devices: when a wipe was ordered, sent and confirmed (columns of
//! `devices`), and the records each device lost to its wipe (`device_wipe_losses`).

use sqlx::any::AnyExecutor;

/// Where a device's wipe stands.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WipeState {
    /// When a wipe was ordered (Unix seconds), if one was.
    pub wipe_requested_at: Option<i64>,
    /// When the device confirmed it (Unix seconds), if it did.
    pub wipe_confirmed_at: Option<i64>,
}

/// One record a device lost to its wipe, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LossRow {
    /// The device that lost it.
    pub device_id: String,
    /// The record's id.
    pub record_id: String,
    /// Its kind.
    pub kind: String,
    /// Its project's slug.
    pub project: String,
    /// How many of its changes the server was not known to hold.
    pub unsynced_changes: i64,
    /// When it was last edited on the device (the device's clock), if known.
    pub last_edited_at: Option<i64>,
}

/// A lost record to store for a device (the device is given apart).
#[derive(Debug, Clone, Copy)]
pub struct NewLoss<'a> {
    /// The record's id.
    pub record_id: &'a str,
    /// Its kind.
    pub kind: &'a str,
    /// Its project's slug.
    pub project: &'a str,
    /// How many of its changes the server was not known to hold.
    pub unsynced_changes: i64,
    /// When it was last edited on the device, if known.
    pub last_edited_at: Option<i64>,
}

/// Orders a wipe of a device at `at`, unless one was already ordered. Returns whether this
/// call ordered it.
pub async fn order(
    db: impl AnyExecutor<'_>,
    device_id: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE devices SET wipe_requested_at = $1 WHERE id = $2 AND wipe_requested_at IS NULL",
    )
    .bind(at)
    .bind(device_id)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Keeps when a device was first told to wipe itself. Returns whether this was the first time.
pub async fn note_sent(
    db: impl AnyExecutor<'_>,
    device_id: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE devices SET wipe_sent_at = $1 WHERE id = $2 AND wipe_sent_at IS NULL")
            .bind(at)
            .bind(device_id)
            .execute(db)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Records a device's wipe confirmation at `at`, if a wipe was ordered and not yet confirmed
/// (a device never told keeps `at` as when it was told). Returns whether it was recorded.
pub async fn claim_confirmation(
    db: impl AnyExecutor<'_>,
    device_id: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE devices SET wipe_confirmed_at = $1, wipe_sent_at = COALESCE(wipe_sent_at, $1) \
         WHERE id = $2 AND wipe_requested_at IS NOT NULL AND wipe_confirmed_at IS NULL",
    )
    .bind(at)
    .bind(device_id)
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

/// Where a device's wipe stands.
pub async fn state(db: impl AnyExecutor<'_>, device_id: &str) -> Result<WipeState, sqlx::Error> {
    sqlx::query_as("SELECT wipe_requested_at, wipe_confirmed_at FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_one(db)
        .await
}

/// Rows inserted per statement.
const LOSS_BATCH: usize = 200;

/// The statement inserting `rows` lost records (six values each).
fn insert_losses_statement(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let p = i * 6;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6
            )
        })
        .collect();
    format!(
        "INSERT INTO device_wipe_losses \
         (device_id, record_id, kind, project, unsynced_changes, last_edited_at) VALUES {}",
        values.join(", ")
    )
}

/// Stores the records a device lost, in statements of at most 200 rows.
pub async fn insert_losses(
    conn: &mut sqlx::AnyConnection,
    device_id: &str,
    lost: &[NewLoss<'_>],
) -> Result<(), sqlx::Error> {
    for chunk in lost.chunks(LOSS_BATCH) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_losses_statement(chunk.len())));
        for l in chunk {
            query = query
                .bind(device_id)
                .bind(l.record_id)
                .bind(l.kind)
                .bind(l.project)
                .bind(l.unsynced_changes)
                .bind(l.last_edited_at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Every record lost to a wipe, in device then record id order.
pub async fn losses(db: impl AnyExecutor<'_>) -> Result<Vec<LossRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT device_id, record_id, kind, project, unsynced_changes, last_edited_at \
         FROM device_wipe_losses ORDER BY device_id, record_id",
    )
    .fetch_all(db)
    .await
}
