//! The local SQLite store: opening it, its settings table, and reading and writing record rows.
//!
//! Every record row keeps the whole Automerge document, its current heads and the heads the
//! server is known to hold (`acked_heads`). A record is unsynced exactly when the two differ,
//! so finding what to push is one indexed query, not a load of every document. Every write of
//! a document goes through [`ready_row`], which also computes the heads and the one-line label
//! used by lists, so those can never go stale: [`put_record`] writes one row, and
//! [`insert_synced`] many new rows of records received from the server at once.
//!
//! Every value that can carry participant data or a credential is read and written here, and
//! sealed or opened by the store's [`Vault`] with its table, column and row (see `vault.rs`):
//! `records.doc`, `records.label`, `records.code`, `set_aside.doc`, `set_aside.reason`,
//! `reports.message` and the `meta` values listed in [`key::SEALED`]. In a store without a PIN
//! the vault passes values through as they are.

use crate::error::{DeviceError, Result};
use crate::vault::{Place, Vault};
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
    /// A wipe confirmation not yet sent (JSON: server, withdrawn credential, what was lost);
    /// the only thing a wiped store keeps.
    pub const PENDING_WIPE: &str = "pending_wipe";
    /// The store's wrapped data key, salt and PIN cost (JSON), when it has a PIN.
    pub const VAULT: &str = "vault";
    /// Wrong PINs in a row.
    pub const PIN_FAILURES: &str = "pin_failures";
    /// Until when (Unix seconds) the next PIN attempt must wait.
    pub const PIN_WAIT_UNTIL: &str = "pin_wait_until";
    /// The keys whose values are sealed in an encrypted store: credentials.
    pub const SEALED: &[&str] = &[DEVICE_TOKEN, PENDING_ENROLMENT];
    /// The keys a wipe keeps: the store's PIN and its count of wrong PINs.
    pub const KEPT_BY_WIPE: &[&str] = &[VAULT, PIN_FAILURES, PIN_WAIT_UNTIL];

    /// ` WHERE key NOT IN (...)` of [`KEPT_BY_WIPE`], for the wipe's `DELETE FROM meta`.
    pub fn kept_by_wipe_sql() -> String {
        let keys: Vec<String> = KEPT_BY_WIPE.iter().map(|k| format!("'{k}'")).collect();
        format!(" WHERE key NOT IN ({})", keys.join(", "))
    }
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

fn meta_place(key: &str) -> Place<'_> {
    Place {
        table: "meta",
        column: "value",
        row: key,
    }
}

/// A sealed `meta` value (one of [`key::SEALED`]) as read from its row.
pub(crate) fn open_meta(vault: &Vault, key: &str, stored: String) -> Result<String> {
    vault.open_text(meta_place(key), stored)
}

/// Reads a sealed `meta` value (one of [`key::SEALED`]).
pub(crate) async fn meta_get_sealed(
    conn: &mut SqliteConnection,
    vault: &Vault,
    key: &str,
) -> Result<Option<String>> {
    meta_get(conn, key)
        .await?
        .map(|v| open_meta(vault, key, v))
        .transpose()
}

/// Writes a sealed `meta` value (one of [`key::SEALED`]).
pub(crate) async fn meta_set_sealed(
    conn: &mut SqliteConnection,
    vault: &Vault,
    key: &str,
    value: &str,
) -> Result<()> {
    let sealed = vault.seal_text(meta_place(key), value)?;
    meta_set(conn, key, &sealed).await
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
    vault: &Vault,
    id: Uuid,
) -> Result<Option<StoredRecord>> {
    vault.check()?;
    let sid = id.to_string();
    let row =
        sqlx::query("SELECT kind, project, doc, heads, acked_heads FROM records WHERE id = ?")
            .bind(&sid)
            .fetch_optional(conn)
            .await?;
    row.map(|r| {
        Ok(StoredRecord {
            kind: r.get(0),
            project: r.get(1),
            doc: open_doc(vault, &sid, r.get(2))?,
            heads: r.get(3),
            acked: r.get(4),
        })
    })
    .transpose()
}

fn record_place<'a>(column: &'static str, id: &'a str) -> Place<'a> {
    Place {
        table: "records",
        column,
        row: id,
    }
}

/// A record's document as read from the `doc` column of its row (`id` as stored).
pub(crate) fn open_doc(vault: &Vault, id: &str, stored: Vec<u8>) -> Result<Vec<u8>> {
    vault.open(record_place("doc", id), stored)
}

/// A record's label as read from the `label` column of its row.
pub(crate) fn open_label(vault: &Vault, id: &str, stored: String) -> Result<String> {
    vault.open_text(record_place("label", id), stored)
}

/// A participant's code as read from the `code` column of its row.
pub(crate) fn open_code(vault: &Vault, id: &str, stored: Option<String>) -> Result<Option<String>> {
    stored
        .map(|c| vault.open_text(record_place("code", id), c))
        .transpose()
}

/// A record row as it is to be written: the document saved and sealed, its heads, and its
/// label and code computed from the document and sealed. Made by [`ready_row`] alone, so the
/// heads and label written always match the document.
pub(crate) struct ReadyRow {
    id: String,
    kind: &'static str,
    project: String,
    doc: Vec<u8>,
    heads: Vec<u8>,
    label: String,
    code: Option<String>,
}

/// Readies a record's row from its document: saves it, computes its heads and label, and seals
/// what is sealed. Needs no connection, so many records can be readied on several threads.
pub(crate) fn ready_row(vault: &Vault, id: Uuid, doc: &mut RecordDoc) -> Result<ReadyRow> {
    let env = doc.envelope()?;
    let (label, code) = label_of(&env.project, &label_data(doc, env.kind));
    let heads = encode_heads(&doc.heads());
    let sid = id.to_string();
    let bytes = vault.seal(record_place("doc", &sid), &doc.save())?;
    let label = vault.seal_text(record_place("label", &sid), &label)?;
    let code = code
        .map(|c| vault.seal_text(record_place("code", &sid), &c))
        .transpose()?;
    Ok(ReadyRow {
        id: sid,
        kind: env.kind.as_str(),
        project: env.project,
        doc: bytes,
        heads,
        label,
        code,
    })
}

/// Writes a record's document (inserting the row if new), refreshing heads and label. The
/// acknowledged heads are left as they are (none for a new row).
pub(crate) async fn put_record(
    conn: &mut SqliteConnection,
    vault: &Vault,
    id: Uuid,
    doc: &mut RecordDoc,
    now: i64,
) -> Result<()> {
    let row = ready_row(vault, id, doc)?;
    sqlx::query(
        "INSERT INTO records (id, kind, project, doc, heads, acked_heads, label, code, updated_at)
         VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, heads = excluded.heads,
             label = excluded.label, code = excluded.code, updated_at = excluded.updated_at",
    )
    .bind(row.id)
    .bind(row.kind)
    .bind(row.project)
    .bind(row.doc)
    .bind(row.heads)
    .bind(row.label)
    .bind(row.code)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rows in one statement of [`insert_synced`]: 9 values a row, well within SQLite's limit of
/// bound parameters (999 in the oldest versions still met).
const INSERT_ROWS: usize = 64;
/// Ids in one `IN` list of [`held_among`].
const IN_LIST: usize = 500;

/// Which of `ids` the store holds a record row for.
pub(crate) async fn held_among(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>> {
    let mut held = std::collections::HashSet::new();
    for part in ids.chunks(IN_LIST) {
        let marks = vec!["?"; part.len()].join(", ");
        let sql = format!("SELECT id FROM records WHERE id IN ({marks})");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in part {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut *conn).await? {
            if let Ok(id) = Uuid::parse_str(&row.get::<String, _>(0)) {
                held.insert(id);
            }
        }
    }
    Ok(held)
}

/// Inserts rows of records the store does not hold yet, as the server holds them: their
/// acknowledged heads are their heads. Many rows a statement; a row whose id is already held
/// fails the statement (the caller has checked with [`held_among`] in the same transaction).
pub(crate) async fn insert_synced(
    conn: &mut SqliteConnection,
    rows: Vec<ReadyRow>,
    now: i64,
) -> Result<()> {
    const COLUMNS: &str = "INSERT INTO records (id, kind, project, doc, heads, acked_heads, label, code, updated_at) VALUES ";
    let values = |n: usize| {
        let mut sql = String::from(COLUMNS);
        sql.push_str(&vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", "));
        sql
    };
    // The full-size statement is the same text every time, so it is prepared once.
    let full = values(INSERT_ROWS);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let part: Vec<ReadyRow> = rows.by_ref().take(INSERT_ROWS).collect();
        let sql = if part.len() == INSERT_ROWS {
            full.clone()
        } else {
            values(part.len())
        };
        // Only placeholders are put together here; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in part {
            query = query
                .bind(row.id)
                .bind(row.kind)
                .bind(row.project)
                .bind(row.doc)
                .bind(row.heads.clone())
                .bind(row.heads)
                .bind(row.label)
                .bind(row.code)
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
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

fn row_place<'a>(table: &'static str, column: &'static str, id: &'a str) -> Place<'a> {
    Place {
        table,
        column,
        row: id,
    }
}

/// Keeps a local copy of a record the server refused (its document as held, and why).
/// Returns the copy's number.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_set_aside(
    conn: &mut SqliteConnection,
    vault: &Vault,
    record_id: Uuid,
    kind: &str,
    project: &str,
    doc: &[u8],
    reason: &str,
    at: i64,
) -> Result<i64> {
    // The values are bound to the copy's number, which exists once the row does.
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO set_aside (record_id, kind, project, doc, reason, at)
         VALUES (?, ?, ?, X'', '', ?) RETURNING id",
    )
    .bind(record_id.to_string())
    .bind(kind)
    .bind(project)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    let sid = id.to_string();
    sqlx::query("UPDATE set_aside SET doc = ?, reason = ? WHERE id = ?")
        .bind(vault.seal(row_place("set_aside", "doc", &sid), doc)?)
        .bind(vault.seal_text(row_place("set_aside", "reason", &sid), reason)?)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(id)
}

/// A set-aside copy's document as read from its row.
pub(crate) fn open_set_aside_doc(vault: &Vault, id: i64, stored: Vec<u8>) -> Result<Vec<u8>> {
    vault.open(row_place("set_aside", "doc", &id.to_string()), stored)
}

/// A set-aside copy's reason as read from its row.
pub(crate) fn open_set_aside_reason(vault: &Vault, id: i64, stored: String) -> Result<String> {
    vault.open_text(row_place("set_aside", "reason", &id.to_string()), stored)
}

/// Keeps a report the server made about a record.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_report(
    conn: &mut SqliteConnection,
    vault: &Vault,
    record_id: Uuid,
    kind: &str,
    code: &str,
    field: Option<&str>,
    message: &str,
    at: i64,
) -> Result<()> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO reports (record_id, kind, code, field, message, at)
         VALUES (?, ?, ?, ?, '', ?) RETURNING id",
    )
    .bind(record_id.to_string())
    .bind(kind)
    .bind(code)
    .bind(field)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("UPDATE reports SET message = ? WHERE id = ?")
        .bind(vault.seal_text(row_place("reports", "message", &id.to_string()), message)?)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A report's message as read from its row.
pub(crate) fn open_report_message(vault: &Vault, id: i64, stored: String) -> Result<String> {
    vault.open_text(row_place("reports", "message", &id.to_string()), stored)
}

/// Seals, in place, every value of a store that had no PIN with `sealing` (an open vault of
/// the new data key). Part of setting the first PIN, inside its transaction. Returns how many
/// records were sealed.
pub(crate) async fn encrypt_everything(
    conn: &mut SqliteConnection,
    sealing: &Vault,
) -> Result<u64> {
    let plain = Vault::plain();
    let mut done = 0u64;
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT rowid, id, doc, label, code FROM records WHERE rowid > ? ORDER BY rowid LIMIT 256",
        )
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.get(0);
        for r in rows {
            let id: String = r.get(1);
            let doc: Vec<u8> = r.get(2);
            let label: String = r.get(3);
            let code: Option<String> = r.get(4);
            let code = code
                .map(|c| sealing.seal_text(record_place("code", &id), &c))
                .transpose()?;
            sqlx::query("UPDATE records SET doc = ?, label = ?, code = ? WHERE rowid = ?")
                .bind(sealing.seal(record_place("doc", &id), &doc)?)
                .bind(sealing.seal_text(record_place("label", &id), &label)?)
                .bind(code)
                .bind(r.get::<i64, _>(0))
                .execute(&mut *conn)
                .await?;
            done += 1;
        }
    }
    let copies = sqlx::query("SELECT id, doc, reason FROM set_aside")
        .fetch_all(&mut *conn)
        .await?;
    for r in copies {
        let id: i64 = r.get(0);
        let sid = id.to_string();
        let doc: Vec<u8> = r.get(1);
        let reason: String = r.get(2);
        sqlx::query("UPDATE set_aside SET doc = ?, reason = ? WHERE id = ?")
            .bind(sealing.seal(row_place("set_aside", "doc", &sid), &doc)?)
            .bind(sealing.seal_text(row_place("set_aside", "reason", &sid), &reason)?)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let reports = sqlx::query("SELECT id, message FROM reports")
        .fetch_all(&mut *conn)
        .await?;
    for r in reports {
        let id: i64 = r.get(0);
        let message: String = r.get(1);
        sqlx::query("UPDATE reports SET message = ? WHERE id = ?")
            .bind(sealing.seal_text(row_place("reports", "message", &id.to_string()), &message)?)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    for k in key::SEALED {
        if let Some(value) = meta_get_sealed(conn, &plain, k).await? {
            meta_set_sealed(conn, sealing, k, &value).await?;
        }
    }
    Ok(done)
}

/// The fields of a record that [`label_of`] reads, read straight from its document, the others
/// left empty: the same label as from the record's whole view, without reading every field.
fn label_data(doc: &RecordDoc, kind: RecordKind) -> RecordData {
    use bothy_sync_core::automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
    use bothy_sync_core::record::{Contact, Participant, Session, Story, Wellbeing};
    let d = doc.automerge_ref();
    let root = ObjId::Root;
    let get = |obj: &ObjId, key: &str| d.get(obj, key).ok().flatten().map(|(v, _)| v);
    let text = |v: Option<Value<'_>>| match v {
        Some(Value::Scalar(s)) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    };
    let int = |v: Option<Value<'_>>| match v {
        Some(Value::Scalar(s)) => match s.as_ref() {
            ScalarValue::Int(n) => Some(*n),
            ScalarValue::Uint(n) => i64::try_from(*n).ok(),
            _ => None,
        },
        _ => None,
    };
    let s = |key: &str| text(get(&root, key));
    let map = |key: &str| match d.get(&root, key).ok().flatten() {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    };
    let entries = |obj: ObjId| -> Vec<(String, Option<Value<'_>>)> {
        d.keys(&obj)
            .map(|k| {
                let v = get(&obj, &k);
                (k, v)
            })
            .collect()
    };
    match kind {
        RecordKind::Participant => RecordData::Participant(Participant {
            code: s("code").unwrap_or_default(),
            consent_data_use: false,
            consent_story_sharing: false,
            consent_contact: false,
            consent_date: None,
            consent_version: None,
            age_band: s("age_band"),
            gender: s("gender"),
            ethnic_group: None,
            imd_decile: None,
            rurality: None,
            referral_source: None,
            referral_date: None,
            referral_reason: None,
            more: Default::default(),
        }),
        RecordKind::Contact => RecordData::Contact(Contact {
            participant: String::new(),
            name: s("name"),
            phone: None,
            postcode_district: s("postcode_district"),
            notes: None,
            more: Default::default(),
        }),
        RecordKind::Session => RecordData::Session(Session {
            site: s("site").unwrap_or_default(),
            activity: s("activity").unwrap_or_default(),
            activity_type: String::new(),
            start: s("start").unwrap_or_default(),
            end: None,
            facilitators: Default::default(),
            location: None,
            attendance: map("attendance")
                .map(|o| {
                    entries(o)
                        .into_iter()
                        .filter_map(|(k, v)| Some((k, text(v)?)))
                        .collect()
                })
                .unwrap_or_default(),
            unregistered_attendees: 0,
            notes: String::new(),
            more: Default::default(),
        }),
        RecordKind::Wellbeing => RecordData::Wellbeing(Wellbeing {
            participant: String::new(),
            instrument: s("instrument").unwrap_or_default(),
            instrument_version: int(get(&root, "instrument_version"))
                .and_then(|v| u32::try_from(v).ok()),
            timepoint: s("timepoint").unwrap_or_default(),
            date: s("date").unwrap_or_default(),
            session: None,
            items: map("items")
                .map(|o| {
                    entries(o)
                        .into_iter()
                        .filter_map(|(k, v)| Some((k.parse().ok()?, int(v)?)))
                        .collect()
                })
                .unwrap_or_default(),
            more: Default::default(),
        }),
        RecordKind::Story => RecordData::Story(Story {
            title: s("title").unwrap_or_default(),
            body: String::new(),
            participant: None,
            author: String::new(),
            consent_scope: String::new(),
            themes: Default::default(),
            session: None,
            language: None,
            more: Default::default(),
        }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use bothy_sync_core::FieldValue;
    use bothy_sync_core::automerge::ActorId;

    fn doc(kind: RecordKind, fields: &[(&str, FieldValue)]) -> RecordDoc {
        RecordDoc::create(ActorId::random(), kind, "glen", fields, 1_793_000_000).unwrap()
    }

    /// The label read from the label's fields alone is the label of the whole view.
    #[test]
    fn labels_from_fields_match_labels_from_views() {
        let participant = "0190a3c2-7e11-7000-8000-000000000001";
        let mut session = doc(
            RecordKind::Session,
            &[
                ("site", "glen-hall".into()),
                ("activity", "health-walk".into()),
                ("activity_type", "walking".into()),
                ("start", "2026-11-02T10:00:00Z".into()),
            ],
        );
        session
            .edit(1_793_000_100, |e| {
                e.set(&format!("attendance.{participant}"), "present");
                e.set("attendance.0190a3c2-7e11-7000-8000-000000000002", "absent");
            })
            .unwrap();
        let docs = vec![
            doc(
                RecordKind::Participant,
                &[
                    ("code", "GLN-0001".into()),
                    ("consent.data_use", true.into()),
                    ("age_band", "45-54".into()),
                    ("gender", "woman".into()),
                ],
            ),
            doc(
                RecordKind::Participant,
                &[
                    ("code", "GLN-0002".into()),
                    ("consent.data_use", true.into()),
                ],
            ),
            session,
            doc(
                RecordKind::Wellbeing,
                &[
                    ("participant", participant.into()),
                    ("instrument", "SWEMWBS".into()),
                    ("timepoint", "baseline".into()),
                    ("date", "2026-11-02".into()),
                    ("items.1", 3i64.into()),
                    ("items.2", 4i64.into()),
                ],
            ),
            doc(
                RecordKind::Wellbeing,
                &[
                    ("participant", participant.into()),
                    ("instrument", "SWEMWBS".into()),
                    ("timepoint", "end".into()),
                    ("date", "2026-12-02".into()),
                    ("items.1", 3i64.into()),
                    ("items.2", 4i64.into()),
                    ("items.3", 2i64.into()),
                    ("items.4", 5i64.into()),
                    ("items.5", 1i64.into()),
                    ("items.6", 3i64.into()),
                    ("items.7", 4i64.into()),
                ],
            ),
            doc(
                RecordKind::Story,
                &[
                    ("title", "Along the loch".into()),
                    ("author", "isla".into()),
                    ("consent_scope", "project".into()),
                    ("body", "We walked.".into()),
                ],
            ),
            doc(
                RecordKind::Contact,
                &[
                    ("participant", participant.into()),
                    ("name", "Morag".into()),
                    ("postcode_district", "IV63".into()),
                ],
            ),
            doc(RecordKind::Contact, &[("participant", participant.into())]),
        ];
        for d in &docs {
            let view = d.view().unwrap();
            let from_view = label_of(&view.project, &view.data);
            let from_fields = label_of(&view.project, &label_data(d, view.kind));
            assert_eq!(from_fields, from_view, "{:?}", view.data);
        }
    }
}
