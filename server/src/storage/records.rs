//! Storage of records, the change log, quarantine, conflicts and flags: the SQL behind a merge.
//! Every function takes the open transaction, so a merge and everything it implies commit
//! together or not at all.
//!
//! Refused pushes are kept in quarantine compressed (Brotli), under a per-device quota; of bytes
//! that are not Automerge at all only a short sample is kept. The stored form names itself (a
//! four-byte tag), so entries written before compression are still read as they were.

use crate::error::{ApiError, ApiResult};
use crate::storage::Tx;
use crate::storage::projection;
use bothy_sync_core::RecordDoc;
use bothy_sync_core::automerge::Change;
use bothy_sync_core::merge::{Accepted, Conflict, QuarantinedValue};
use serde_bytes::ByteBuf;
use sqlx::Row;
use std::io::{Read, Write};

/// A record as stored.
pub struct StoredRecord {
    /// Its project.
    pub project: String,
    /// Its kind.
    pub kind: String,
    /// The compacted Automerge document.
    pub doc: Vec<u8>,
    /// Whether it is restricted to its owner and those who run the project (a private story).
    pub restricted: bool,
    /// The user who first stored it, if known.
    pub owner: Option<String>,
}

/// Loads a record.
pub async fn load_record(tx: &mut Tx, id: &str) -> Result<Option<StoredRecord>, sqlx::Error> {
    let row =
        sqlx::query("SELECT project, kind, doc, restricted, owner_user FROM records WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|r| StoredRecord {
        project: r.get("project"),
        kind: r.get("kind"),
        doc: r.get("doc"),
        restricted: r.get::<i64, _>("restricted") != 0,
        owner: r.get("owner_user"),
    }))
}

/// Loads records by id, in few statements; absent ids are left out.
pub async fn load_records(
    tx: &mut Tx,
    ids: &[String],
) -> Result<std::collections::HashMap<String, StoredRecord>, sqlx::Error> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        // Only numbered placeholders are formatted into the text; the ids are bound.
        let sql = format!(
            "SELECT id, project, kind, doc, restricted, owner_user FROM records WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id);
        }
        for r in query.fetch_all(&mut **tx).await? {
            out.insert(
                r.get("id"),
                StoredRecord {
                    project: r.get("project"),
                    kind: r.get("kind"),
                    doc: r.get("doc"),
                    restricted: r.get::<i64, _>("restricted") != 0,
                    owner: r.get("owner_user"),
                },
            );
        }
    }
    Ok(out)
}

/// Records who first stored a record (kept if already known).
pub async fn set_owner(tx: &mut Tx, id: &str, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE records SET owner_user = $1 WHERE id = $2 AND owner_user IS NULL")
        .bind(user_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether a record's current values restrict it to its owner and those who run the project:
/// a story whose consent scope is `private`.
pub fn is_restricted(view: &bothy_sync_core::RecordView) -> bool {
    matches!(&view.data, bothy_sync_core::RecordData::Story(s) if s.consent_scope == "private")
}

/// Keeps a record's `restricted` mark in step with its values. When it narrows, devices that
/// may no longer hold the record are told to delete it (`withdrawals`, at a position of its own
/// in the change log's numbering); when it widens, the record's whole history is logged again
/// so devices that now may hold it receive all of it.
/// `before` is the record's stored mark when the caller already read it (`Some(None)`: not
/// stored yet); `None` reads it.
pub async fn update_audience(
    tx: &mut Tx,
    id: &str,
    project: &str,
    restricted: bool,
    before: Option<Option<bool>>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let before = match before {
        Some(known) => known,
        None => sqlx::query_scalar::<_, i64>("SELECT restricted FROM records WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r != 0),
    };
    let Some(was) = before else {
        return Ok(());
    };
    if was == restricted {
        return Ok(());
    }
    sqlx::query("UPDATE records SET restricted = $1 WHERE id = $2")
        .bind(i64::from(restricted))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if restricted {
        let seq: i64 = sqlx::query("UPDATE log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
            .fetch_one(&mut **tx)
            .await?
            .get("seq");
        sqlx::query(
            "INSERT INTO withdrawals (seq, record_id, project, withdrawn_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(seq)
        .bind(id)
        .bind(project)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    } else {
        relog(tx, id, now).await?;
    }
    Ok(())
}

/// Logs every change of a record again, at new positions (the rows keep their authors).
async fn relog(tx: &mut Tx, id: &str, now: i64) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT record_id, project, device_id, actor, hash, change, device_time          FROM change_log WHERE record_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let entries: Vec<LogEntry> = rows
        .iter()
        .map(|r| LogEntry {
            record_id: r.get("record_id"),
            project: r.get("project"),
            device_id: r.get("device_id"),
            actor: r.get("actor"),
            hash: r.get("hash"),
            change: r.get("change"),
            device_time: r.get("device_time"),
        })
        .collect();
    sqlx::query("DELETE FROM change_log WHERE record_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    append_log(tx, entries, now).await?;
    Ok(())
}

/// Inserts or replaces a record's document.
pub async fn save_record(
    tx: &mut Tx,
    id: &str,
    project: &str,
    kind: &str,
    doc: Vec<u8>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO records (id, project, kind, doc, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(project)
    .bind(kind)
    .bind(doc)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One row of the change log, before it has a sequence number.
pub struct LogEntry {
    /// Record id.
    pub record_id: String,
    /// Project.
    pub project: String,
    /// The device that sent it (`None` for changes the server authored).
    pub device_id: Option<String>,
    /// Actor hex.
    pub actor: String,
    /// Change hash hex.
    pub hash: String,
    /// Raw change bytes.
    pub change: Vec<u8>,
    /// The author's clock (Unix seconds; advisory).
    pub device_time: i64,
}

/// Appends entries to the log, numbering them after everything committed before. Taking the
/// `log_head` row lock here (last in the transaction) orders commits by sequence number.
/// Returns the new head.
pub async fn append_log(tx: &mut Tx, entries: Vec<LogEntry>, now: i64) -> Result<i64, sqlx::Error> {
    if entries.is_empty() {
        return log_head(tx).await;
    }
    let n = entries.len() as i64;
    let head: i64 = sqlx::query("UPDATE log_head SET seq = seq + $1 WHERE id = 1 RETURNING seq")
        .bind(n)
        .fetch_one(&mut **tx)
        .await?
        .get("seq");
    let mut seq = head - n;
    let rows: Vec<projection::Insert> = entries
        .into_iter()
        .map(|e| {
            seq += 1;
            projection::Insert::new("change_log")
                .int("seq", seq)
                .text("record_id", Some(&e.record_id))
                .text("project", Some(&e.project))
                .text("device_id", e.device_id.as_deref())
                .text("actor", Some(&e.actor))
                .text("hash", Some(&e.hash))
                .bytes("change", e.change)
                .int("device_time", e.device_time)
                .int("received_at", now)
                .suffix("ON CONFLICT (record_id, hash) DO NOTHING")
        })
        .collect();
    projection::insert_all(tx, rows).await?;
    Ok(head)
}

/// The highest sequence number committed (as this transaction sees it).
pub async fn log_head(tx: &mut Tx) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query("SELECT seq FROM log_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?
        .get("seq"))
}

/// A quarantine entry.
pub struct QuarantineEntry<'a> {
    /// Record id.
    pub record_id: &'a str,
    /// Project, when known.
    pub project: Option<&'a str>,
    /// Sending device.
    pub device_id: &'a str,
    /// `refused` (kept outside the history) or `compensated` (neutralised in the history).
    pub action: &'a str,
    /// Machine code.
    pub code: &'a str,
    /// Field path.
    pub field: Option<&'a str>,
    /// The offending value, for display.
    pub value: Option<&'a str>,
    /// Why.
    pub message: &'a str,
    /// What was kept of a refused push ([`Kept::pack`]), so nothing valid is lost.
    pub changes: Option<Vec<u8>>,
}

/// Most bytes of an unreadable push kept for an admin to look at.
pub const SAMPLE_BYTES: usize = 4096;
/// Tag of kept changes: Brotli-compressed CBOR array of change byte strings.
const KEPT_CHANGES: &[u8; 4] = b"BQC1";
/// Tag of a kept sample: the Brotli-compressed first [`SAMPLE_BYTES`] of an unreadable push.
const KEPT_SAMPLE: &[u8; 4] = b"BQS1";
/// Most bytes a kept entry may inflate to when read back (kept changes passed the per-record
/// bound of sync-core when they were pushed; this guards against anything else in the column).
const MAX_KEPT_INFLATED: u64 = 2 * bothy_sync_core::inflate::MAX_RECORD_BYTES;

/// What a refused push leaves in quarantine.
pub enum Kept {
    /// The refused changes themselves, so a reviewer may release them.
    Changes(Vec<ByteBuf>),
    /// Bytes that are not Automerge changes or documents: only their start is kept.
    Sample(Vec<u8>),
}

impl Kept {
    /// A sample of unreadable bytes: at most [`SAMPLE_BYTES`] of them.
    pub fn sample_of(bytes: &[u8]) -> Kept {
        Kept::Sample(bytes[..bytes.len().min(SAMPLE_BYTES)].to_vec())
    }

    /// A sample of unreadable changes: the start of their bytes, one after another.
    pub fn sample_of_all(list: &[ByteBuf]) -> Kept {
        let mut out = Vec::new();
        for b in list {
            let room = SAMPLE_BYTES - out.len();
            out.extend_from_slice(&b[..b.len().min(room)]);
            if out.len() == SAMPLE_BYTES {
                break;
            }
        }
        Kept::Sample(out)
    }

    /// The stored form: tag, then Brotli.
    pub fn pack(&self) -> Vec<u8> {
        let (tag, plain) = match self {
            Kept::Changes(list) => {
                let mut cbor = Vec::new();
                ciborium::into_writer(list, &mut cbor).expect("serialising to memory cannot fail");
                (KEPT_CHANGES, cbor)
            }
            Kept::Sample(bytes) => (KEPT_SAMPLE, bytes.clone()),
        };
        let mut out = tag.to_vec();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, 9, 22);
            w.write_all(&plain)
                .expect("compressing in memory cannot fail");
        }
        out
    }

    /// Reads a stored entry back: compressed changes or sample, or (written before entries
    /// were compressed) a plain CBOR array of changes. `None` when it is none of these.
    pub fn unpack(stored: &[u8]) -> Option<Kept> {
        let inflate = |body: &[u8]| {
            let mut out = Vec::new();
            brotli::Decompressor::new(body, 64 * 1024)
                .take(MAX_KEPT_INFLATED + 1)
                .read_to_end(&mut out)
                .ok()?;
            (out.len() as u64 <= MAX_KEPT_INFLATED).then_some(out)
        };
        if let Some(body) = stored.strip_prefix(KEPT_CHANGES) {
            let cbor = inflate(body)?;
            ciborium::from_reader(cbor.as_slice())
                .ok()
                .map(Kept::Changes)
        } else if let Some(body) = stored.strip_prefix(KEPT_SAMPLE) {
            inflate(body).map(Kept::Sample)
        } else {
            ciborium::from_reader(stored).ok().map(Kept::Changes)
        }
    }

    /// The kept changes, if whole changes were kept.
    pub fn changes(stored: &[u8]) -> Option<Vec<ByteBuf>> {
        match Kept::unpack(stored)? {
            Kept::Changes(list) => Some(list),
            Kept::Sample(_) => None,
        }
    }
}

/// How much one device may keep waiting in quarantine.
#[derive(Debug, Clone, Copy)]
pub struct QuarantineQuota {
    /// Most open refused entries.
    pub max_entries: u32,
    /// Most bytes of them, as stored.
    pub max_bytes: u64,
}

/// What filing a refused push came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filed {
    /// Kept (or already kept by an earlier try of the same push).
    Kept,
    /// Not kept: the device's quarantine is full.
    OverQuota {
        /// Its open refused entries.
        entries: i64,
        /// Their stored bytes.
        bytes: i64,
        /// What this entry would have added.
        adding: i64,
    },
}

/// Files a refused push under the sending device's quota: kept compressed, unless an identical
/// entry is already open (a retried push) or the device's open entries would then exceed the
/// quota.
pub async fn quarantine_refused(
    tx: &mut Tx,
    q: QuarantineEntry<'_>,
    quota: QuarantineQuota,
    now: i64,
) -> Result<Filed, sqlx::Error> {
    let adding = q.changes.as_ref().map_or(0, |c| c.len()) as i64;
    let already = sqlx::query(
        "SELECT 1 AS x FROM quarantine WHERE record_id = $1 AND device_id = $2 AND code = $3 \
         AND status = 'open' AND action = 'refused' AND changes = $4",
    )
    .bind(q.record_id)
    .bind(q.device_id)
    .bind(q.code)
    .bind(q.changes.as_deref())
    .fetch_optional(&mut **tx)
    .await?;
    if already.is_some() {
        return Ok(Filed::Kept);
    }
    let used = sqlx::query(
        "SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(changes)), 0) AS bytes FROM quarantine \
         WHERE device_id = $1 AND status = 'open' AND action = 'refused'",
    )
    .bind(q.device_id)
    .fetch_one(&mut **tx)
    .await?;
    let (entries, bytes): (i64, i64) = (used.get("n"), used.get("bytes"));
    if entries >= i64::from(quota.max_entries)
        || bytes.saturating_add(adding) > i64::try_from(quota.max_bytes).unwrap_or(i64::MAX)
    {
        return Ok(Filed::OverQuota {
            entries,
            bytes,
            adding,
        });
    }
    quarantine(tx, q, now).await?;
    Ok(Filed::Kept)
}

/// Records a quarantined change or value.
pub async fn quarantine(tx: &mut Tx, q: QuarantineEntry<'_>, now: i64) -> Result<(), sqlx::Error> {
    // A retried push must not file the same problem twice.
    sqlx::query(
        "INSERT INTO quarantine \
         (record_id, project, device_id, action, code, field, value, message, changes, received_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
         WHERE NOT EXISTS (SELECT 1 FROM quarantine WHERE record_id = $1 AND device_id = $3 \
           AND code = $5 AND COALESCE(field, '') = COALESCE($6, '') \
           AND COALESCE(value, '') = COALESCE($7, '') \
           AND (changes = $9 OR (changes IS NULL AND $9 IS NULL)) AND status = 'open')",
    )
    .bind(q.record_id)
    .bind(q.project)
    .bind(q.device_id)
    .bind(q.action)
    .bind(q.code)
    .bind(q.field)
    .bind(q.value)
    .bind(q.message)
    .bind(q.changes)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl LogEntry {
    /// The log row for one change of a record; `device_id` is `None` for a change the server
    /// authored or wrote on a reviewer's behalf, which every device then receives.
    pub fn of(record_id: &str, project: &str, device_id: Option<&str>, change: &Change) -> Self {
        LogEntry {
            record_id: record_id.to_owned(),
            project: project.to_owned(),
            device_id: device_id.map(str::to_owned),
            actor: change.actor_id().to_hex_string(),
            hash: change.hash().to_string(),
            change: change.raw_bytes().to_vec(),
            device_time: change.timestamp(),
        }
    }
}

/// What storing one merged record writes: its document, conflicts, review flags and
/// projection rows. Computed from the document alone (no database), so the records of a push
/// are prepared in parallel, off the request's async threads, and written together by a
/// [`Batch`].
pub struct RecordWrite {
    id: String,
    /// The record's project.
    pub project: String,
    /// The record's kind.
    pub kind: bothy_sync_core::RecordKind,
    doc: Vec<u8>,
    /// Whether its current values restrict it (a private story).
    pub restricted: bool,
    owner: Option<String>,
    conflicts: Vec<Conflict>,
    flags: Vec<bothy_sync_core::FieldError>,
    rows: projection::Rows,
}

impl RecordWrite {
    /// Prepares the writes for a merged record.
    pub fn of(
        id: &str,
        doc: &mut RecordDoc,
        flagged: &[bothy_sync_core::FieldError],
    ) -> ApiResult<RecordWrite> {
        Ok(Self::with_view(id, doc, flagged)?.0)
    }

    /// [`RecordWrite::of`], with the record's view it was made from.
    pub fn with_view(
        id: &str,
        doc: &mut RecordDoc,
        flagged: &[bothy_sync_core::FieldError],
    ) -> ApiResult<(RecordWrite, bothy_sync_core::RecordView)> {
        let view = doc
            .view()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("merged record unreadable: {e}")))?;
        let conflicts = bothy_sync_core::conflicts(doc.automerge_ref());
        let rows = projection::rows(id, &view, &doc.scalars(), !flagged.is_empty());
        // Saved without per-column compression: a bootstrap compresses many documents together,
        // which does far better than compressing each on its own.
        let bytes = doc.automerge().save_nocompress();
        let write = RecordWrite {
            id: id.to_owned(),
            project: view.project.clone(),
            kind: view.kind,
            doc: bytes,
            restricted: is_restricted(&view),
            owner: None,
            conflicts,
            flags: flagged.to_vec(),
            rows,
        };
        Ok((write, view))
    }

    /// Records `user_id` as the record's owner if it has none yet.
    pub fn owned_by(mut self, user_id: &str) -> Self {
        self.owner = Some(user_id.to_owned());
        self
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Merged records waiting to be written, at most one write per record (a later write of a
/// record replaces an earlier one). [`Batch::flush`] writes them all in a few multi-row
/// statements per table: old rows deleted by record id, then the new ones inserted.
#[derive(Default)]
pub struct Batch {
    writes: std::collections::BTreeMap<String, RecordWrite>,
}

impl Batch {
    /// Adds (or replaces) a record's write.
    pub fn add(&mut self, write: RecordWrite) {
        self.writes.insert(write.id.clone(), write);
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Writes everything in the transaction.
    pub async fn flush(self, tx: &mut Tx, now: i64) -> Result<(), sqlx::Error> {
        if self.writes.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = self.writes.keys().map(String::as_str).collect();
        projection::delete_all(tx, "conflicts", "record_id", &ids).await?;
        projection::delete_all(tx, "record_flags", "record_id", &ids).await?;
        let mut by_table: std::collections::BTreeMap<(&str, &str), Vec<&str>> =
            std::collections::BTreeMap::new();
        for w in self.writes.values() {
            for key in w.rows.deletes {
                by_table.entry(*key).or_default().push(&w.id);
            }
        }
        for ((table, column), ids) in &by_table {
            projection::delete_all(tx, table, column, ids).await?;
        }
        let mut conflicts = Vec::new();
        let mut flags = Vec::new();
        let mut rows = Vec::new();
        let mut records = Vec::new();
        for w in self.writes.into_values() {
            for c in &w.conflicts {
                conflicts.push(
                    projection::Insert::new("conflicts")
                        .text("record_id", Some(&w.id))
                        .text("project", Some(&w.project))
                        .text("kind", Some(w.kind.as_str()))
                        .text("field", Some(&c.field))
                        .text(
                            "conflict_values",
                            Some(&serde_json::to_string(&c.values).unwrap_or_default()),
                        ),
                );
            }
            for f in &w.flags {
                flags.push(
                    projection::Insert::new("record_flags")
                        .text("record_id", Some(&w.id))
                        .text("project", Some(&w.project))
                        .text("field", Some(&f.field))
                        .text("message", Some(&f.message))
                        .suffix("ON CONFLICT DO NOTHING"),
                );
            }
            rows.extend(w.rows.inserts);
            records.push(
                projection::Insert::new("records")
                    .text("id", Some(&w.id))
                    .text("project", Some(&w.project))
                    .text("kind", Some(w.kind.as_str()))
                    .bytes("doc", w.doc)
                    .int("created_at", now)
                    .int("updated_at", now)
                    .text("owner_user", w.owner.as_deref())
                    .int("restricted", i64::from(w.restricted))
                    // A record stored for the first time already private is restricted; for
                    // one that existed, `update_audience` has already set the mark.
                    .suffix(
                        "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, \
                         updated_at = excluded.updated_at, \
                         owner_user = COALESCE(records.owner_user, excluded.owner_user), \
                         restricted = CASE WHEN excluded.restricted = 1 THEN 1 \
                         ELSE records.restricted END",
                    ),
            );
        }
        projection::insert_all(tx, conflicts).await?;
        projection::insert_all(tx, flags).await?;
        projection::insert_grouped(tx, rows).await?;
        projection::insert_all(tx, records).await?;
        Ok(())
    }
}

/// Stores a merged record: rewrites its conflicts, review flags and projections, then saves the
/// document. The caller holds the record's lock and appends the new changes to the log.
pub async fn store_merged(
    tx: &mut Tx,
    id: &str,
    doc: &mut RecordDoc,
    flagged: &[bothy_sync_core::FieldError],
    now: i64,
) -> ApiResult<()> {
    let write = RecordWrite::of(id, doc, flagged)?;
    // Only stories are ever restricted: other kinds skip the look-up.
    if write.kind == bothy_sync_core::RecordKind::Story {
        update_audience(tx, id, &write.project, write.restricted, None, now).await?;
    }
    let mut batch = Batch::default();
    batch.add(write);
    batch.flush(tx, now).await?;
    Ok(())
}

/// Logs what an accepted merge brought (the new changes as sent by `log_device`, any
/// compensation as the server's) and files each neutralised value in quarantine under
/// `sender_device`.
#[allow(clippy::too_many_arguments)]
pub async fn log_accepted(
    tx: &mut Tx,
    id: &str,
    project: &str,
    sender_device: &str,
    log_device: Option<&str>,
    acc: &Accepted,
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<()> {
    for c in &acc.new_changes {
        log.push(LogEntry::of(id, project, log_device, c));
    }
    if let Some(c) = &acc.compensation {
        log.push(LogEntry::of(id, project, None, c));
    }
    for q in &acc.quarantined {
        quarantine(
            tx,
            QuarantineEntry {
                record_id: id,
                project: Some(project),
                device_id: sender_device,
                action: "compensated",
                code: "invalid_value",
                field: Some(&q.field),
                value: Some(&q.value),
                message: &q.message,
                changes: None,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// Stores a record after [`bothy_sync_core::merge_incoming`] accepted a device's changes: logs
/// the new changes (as sent by `log_device`) and any compensation (as the server's), files each
/// neutralised value in quarantine under `sender_device`, and stores the merged record. Returns
/// the neutralised values, for the caller to report.
pub async fn store_accepted(
    tx: &mut Tx,
    id: &str,
    sender_device: &str,
    log_device: Option<&str>,
    acc: &mut Accepted,
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<Vec<QuarantinedValue>> {
    let env = acc
        .doc
        .envelope()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("merged record lost its envelope: {e}")))?;
    log_accepted(
        tx,
        id,
        &env.project,
        sender_device,
        log_device,
        acc,
        log,
        now,
    )
    .await?;
    store_merged(tx, id, &mut acc.doc, &acc.flagged, now).await?;
    Ok(acc.quarantined.clone())
}
