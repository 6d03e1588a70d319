//! The local SQLite store: opening it, its settings table, and reading and writing record rows.
//!
//! Every record row keeps the whole Automerge document, its current heads and the heads the
//! server is known to hold (`acked_heads`). A record is unsynced exactly when the two differ,
//! so finding what to push is one indexed query, not a load of every document. Every write of
//! a document goes through [`put_record`], which also refreshes the heads and the one-line label
//! used by lists, so those can never go stale.

use crate::error::{DeviceError, Result};
use bothy_sync_core::automerge::ChangeHash;
use bothy_sync_core::{RecordData, RecordDoc, RecordKind};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

/// Keys of the `meta` table.
pub(crate) mod key {
    pub const SERVER: &str = "server";
    pub const DEVICE_ID: &str = "device_id";
    pub const DEVICE_TOKEN: &str = "device_token";
    pub const ACTOR: &str = "actor";
    pub const USER: &str = "user";
    pub const MEMBERSHIPS: &str = "memberships";
    pub const DEFAULT_PROJECT: &str = "default_project";
    pub const CURSOR: &str = "cursor";
    pub const LAST_SYNC_AT: &str = "last_sync_at";
    pub const CLOCK_OFFSET: &str = "clock_offset";
    pub const PARTICIPANT_COUNTER: &str = "participant_counter";
    /// The app name and version the server last acknowledged hearing.
    pub const REPORTED_APP: &str = "reported_app";
    /// The project set-up last received on sync (JSON of the protocol's `Setup`).
    pub const SETUP: &str = "setup";
    /// An enrolment sent but not yet answered (JSON: server, code, enrolment id), so asking
    /// again reuses its id and the server recognises the same device.
    pub const PENDING_ENROLMENT: &str = "pending_enrolment";
}

/// Opens (creating if missing) the store at `path` and brings its tables up to date.
pub(crate) async fn open(path: &Path) -> Result<SqlitePool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            DeviceError::Store(format!("cannot create the folder {}: {e}", dir.display()))
        })?;
    }
    create_private(path)?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a capture that returned is on disk even if the battery dies straight after.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // Deleted content is overwritten with zeros rather than left in free space, so a
        // record purged after an erasure leaves the file (see `scrub_log`).
        .pragma("secure_delete", "ON");
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|e| DeviceError::Store(format!("cannot open {}: {e}", path.display())))?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Copies every page image in the write-ahead log into the store and truncates the log, so
/// earlier copies of purged records (kept in the log's older page images) are gone too. Run
/// after a sync that purged erased records. Waits briefly, a few times, for readers holding
/// older snapshots; returns whether the log was truncated.
pub(crate) async fn scrub_log(pool: &SqlitePool) -> Result<bool> {
    for attempt in 1..=5u64 {
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(pool)
            .await?;
        let busy: i64 = row.try_get(0)?;
        if busy == 0 {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
    }
    tracing::warn!(
        "the store's write-ahead log could not be truncated after purging erased records: \
         another reader held an older snapshot; the next purge or checkpoint will retry"
    );
    Ok(false)
}

/// Creates the store file readable by its owner only: it holds the device's credential.
fn create_private(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(DeviceError::Store(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Begins a write transaction that takes the write lock at once, so two processes capturing
/// at the same time queue instead of failing on a lock upgrade.
pub(crate) async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

pub(crate) async fn meta_get(conn: &mut SqliteConnection, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = ?")
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

pub(crate) async fn meta_set(conn: &mut SqliteConnection, key: &str, value: &str) -> Result<()> {
    sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn meta_delete(conn: &mut SqliteConnection, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM meta WHERE key = ?")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Heads as stored: sorted, concatenated 32-byte hashes.
pub(crate) fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted = heads.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted.iter().flat_map(|h| h.0).collect()
}

pub(crate) fn decode_heads(bytes: &[u8]) -> Result<Vec<ChangeHash>> {
    if !bytes.len().is_multiple_of(32) {
        return Err(DeviceError::Store("stored heads are corrupt".into()));
    }
    bytes
        .chunks_exact(32)
        .map(|c| {
            ChangeHash::try_from(c).map_err(|e| DeviceError::Store(format!("stored heads: {e}")))
        })
        .collect()
}

/// One stored record.
pub(crate) struct StoredRecord {
    pub kind: String,
    pub project: String,
    pub doc: Vec<u8>,
    pub heads: Vec<u8>,
    pub acked: Option<Vec<u8>>,
}

impl StoredRecord {
    pub fn kind(&self) -> Option<RecordKind> {
        RecordKind::parse(&self.kind)
    }

    pub fn acked_heads(&self) -> Result<Vec<ChangeHash>> {
        self.acked
            .as_deref()
            .map(decode_heads)
            .unwrap_or(Ok(Vec::new()))
    }

    pub fn unsynced(&self) -> bool {
        self.acked.as_deref() != Some(self.heads.as_slice())
    }
}

pub(crate) async fn get_record(
    conn: &mut SqliteConnection,
    id: Uuid,
) -> Result<Option<StoredRecord>> {
    let row =
        sqlx::query("SELECT kind, project, doc, heads, acked_heads FROM records WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| StoredRecord {
        kind: r.get(0),
        project: r.get(1),
        doc: r.get(2),
        heads: r.get(3),
        acked: r.get(4),
    }))
}

/// Writes a record's document (inserting the row if new), refreshing heads and label. The
/// acknowledged heads are left as they are (none for a new row).
pub(crate) async fn put_record(
    conn: &mut SqliteConnection,
    id: Uuid,
    doc: &mut RecordDoc,
    now: i64,
) -> Result<()> {
    let env = doc.envelope()?;
    let (label, code) = match doc.view() {
        Ok(view) => label_of(&view.project, &view.data),
        Err(_) => (String::from("(unreadable)"), None),
    };
    let heads = encode_heads(&doc.heads());
    let bytes = doc.save();
    sqlx::query(
        "INSERT INTO records (id, kind, project, doc, heads, acked_heads, label, code, updated_at)
         VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, heads = excluded.heads,
             label = excluded.label, code = excluded.code, updated_at = excluded.updated_at",
    )
    .bind(id.to_string())
    .bind(env.kind.as_str())
    .bind(&env.project)
    .bind(bytes)
    .bind(heads)
    .bind(label)
    .bind(code)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records which heads the server holds for a record (`None`: nothing known).
pub(crate) async fn set_acked(
    conn: &mut SqliteConnection,
    id: Uuid,
    heads: Option<&[ChangeHash]>,
) -> Result<()> {
    sqlx::query("UPDATE records SET acked_heads = ? WHERE id = ?")
        .bind(heads.map(encode_heads))
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn delete_record(conn: &mut SqliteConnection, id: Uuid) -> Result<()> {
    sqlx::query("DELETE FROM records WHERE id = ?")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// A one-line description of a record for lists, and a participant's code.
fn label_of(project: &str, data: &RecordData) -> (String, Option<String>) {
    match data {
        RecordData::Participant(p) => {
            let mut parts = vec![p.code.clone()];
            parts.extend(p.age_band.clone());
            parts.extend(p.gender.clone());
            (parts.join(" "), Some(p.code.clone()))
        }
        RecordData::Session(s) => {
            let present = s.attendance.values().filter(|m| *m != "absent").count();
            (
                format!(
                    "{} {} at {} ({} attending)",
                    s.start, s.activity, s.site, present
                ),
                None,
            )
        }
        RecordData::Wellbeing(w) => {
            let score = w.score_in(project);
            let shown = match score.raw() {
                Some(n) => format!("score {n}"),
                None if score.is_complete() => "complete".to_owned(),
                None => "incomplete".to_owned(),
            };
            (
                format!("{} {} {}: {shown}", w.date, w.instrument, w.timepoint),
                None,
            )
        }
        RecordData::Story(s) => (s.title.clone(), None),
        RecordData::Contact(c) => {
            let mut parts: Vec<String> = c.name.iter().cloned().collect();
            parts.extend(c.postcode_district.clone());
            if parts.is_empty() {
                parts.push("contact details".to_owned());
            }
            (parts.join(" "), None)
        }
    }
}
