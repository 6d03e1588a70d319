//! The sync client: one request carrying every unacknowledged change, one transaction
//! applying the answer.
//!
//! For each record the store keeps the heads the server is known to hold (`acked_heads`).
//! A sync sends, for every record whose heads differ, the changes since those acked heads (or,
//! for a record the server has never acknowledged, the whole saved document, which is smaller
//! than its change list), with the device's cursor in the server's log. The answer says which records were durably
//! stored (acknowledged), reports on the others, the changes the device lacks, ids to erase and
//! a new cursor. It is applied in one SQLite transaction, so:
//!
//! * nothing is marked acknowledged unless the server acknowledged it, and only up to the heads
//!   that were sent (edits made while the request was in flight stay unsynced);
//! * if the request fails, or the answer cannot be applied, nothing changes on the device and
//!   the next sync sends the same changes again, which the server de-duplicates;
//! * a refused record is set aside (kept, never deleted) and replaced by the server's copy;
//! * only erasure (a legal duty, decided on the server) removes data from the device.
//!
//! Pulled records the device does not hold yet (every record of a bootstrap) take a faster way
//! within the same transaction: one query finds which of an answer's records are held, the
//! others are decoded, checked, labelled and sealed on several threads, and inserted many rows
//! a statement, already acknowledged. Records the device holds are merged one by one, so its
//! own unsynced edits are kept.
//!
//! A sync normally takes one round trip; a very large push is split into several requests, and
//! the server pages a large bootstrap (`more`), so [`Device::sync`] repeats until both are done.
//!
//! When the server was restored from a backup since the last sync, it says `reconcile`: it may
//! have lost changes it had acknowledged, this device's and others' alike. The device then
//! forgets the acked heads of every record it holds and, within the same [`Device::sync`],
//! sends each whole again (the server keeps what it lacks and de-duplicates the rest). Changes
//! by other devices and by the server's lost timeline go too: a device that synced with the
//! restored database before may vouch for them while it reconciles (docs/protocol.md, section
//! 9.6), so whatever any live device holds comes back, even from a device that never syncs
//! again.

use crate::error::{DeviceError, Result};
use crate::identity::Identity;
use crate::store::{self, key};
use crate::vault::Vault;
use crate::{Device, now};
use bothy_sync_core::RecordDoc;
use bothy_sync_core::RecordKind;
use bothy_sync_core::automerge::{AutoCommit, Change, ChangeHash};
use bothy_sync_core::protocol::{
    self, Cursor, PullData, RecordPull, RecordPush, RecordReport, ReportKind, SyncRequest,
    SyncResponse,
};
use bothy_sync_core::roles::{may_pull, may_push};
use serde::Serialize;
use serde_bytes::ByteBuf;
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Above this many bytes of changes, the rest of the push waits for the next request, so one
/// request stays small enough to finish over a slow link.
const PUSH_BUDGET_BYTES: usize = 4 * 1024 * 1024;
/// A guard against a server that never stops saying `more`.
const MAX_ROUNDS: u32 = 10_000;
/// New records readied at once before they are inserted: bounds the rows held in memory.
const READY_CHUNK: usize = 2_048;
/// Below this many new records, readying them on other threads costs more than it saves.
const READY_ALONE_BELOW: usize = 64;
/// At most this many threads ready new records.
const READY_THREADS: usize = 8;

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncSummary {
    /// Requests made.
    pub requests: u32,
    /// Records whose changes were sent.
    pub pushed: u32,
    /// Records the server acknowledged.
    pub acked: u32,
    /// Records received from the server (new or changed).
    pub received: u32,
    /// Records set aside because the server refused them.
    pub set_aside: u32,
    /// Records erased from the device because they were erased on the server.
    pub erased: u32,
    /// Records deleted from the device because its user may no longer hold them (a story made
    /// private by someone else, a project left, a role that does not receive their kind, or
    /// contact details a peer worker registered, once the server holds them).
    pub withdrawn: u32,
    /// Of those, records that still held changes the server did not have (lost).
    pub withdrawn_unsynced: u32,
    /// Records replaced by the server's rewritten copy (participants whose direct identifiers
    /// moved to contact records).
    pub replaced: u32,
    /// Reports about pushed records.
    pub reports: Vec<RecordReport>,
    /// Whether there is more to do (after [`Device::sync_once`]: call it again).
    pub more: bool,
    /// The server's clock at the last answer (Unix seconds).
    pub server_time: Option<i64>,
    /// The server was restored from a backup since the last sync: every record this device
    /// holds was sent to it again.
    pub reconciled: bool,
    /// Time spent waiting for answers: from sending a request to having the whole answer (the
    /// network and the server's work).
    #[serde(skip)]
    pub on_wire: Duration,
    /// Time spent on the device: reading what to send, then decoding and storing answers.
    #[serde(skip)]
    pub on_device: Duration,
}

impl SyncSummary {
    fn absorb(&mut self, round: SyncSummary) {
        self.requests += round.requests;
        self.pushed += round.pushed;
        self.acked += round.acked;
        self.received += round.received;
        self.set_aside += round.set_aside;
        self.erased += round.erased;
        self.withdrawn += round.withdrawn;
        self.withdrawn_unsynced += round.withdrawn_unsynced;
        self.replaced += round.replaced;
        self.reports.extend(round.reports);
        self.more = round.more;
        self.server_time = round.server_time.or(self.server_time);
        self.reconciled |= round.reconciled;
        self.on_wire += round.on_wire;
        self.on_device += round.on_device;
    }
}

/// A request being built, with what it will take to apply its answer.
struct Outgoing {
    request: SyncRequest,
    /// For each pushed record, the heads it had when its changes were read.
    pushed_heads: BTreeMap<Uuid, Vec<ChangeHash>>,
    /// True if some unsynced records did not fit in this request.
    truncated: bool,
}

impl Device {
    /// Syncs until the device has sent everything and received everything (usually one
    /// request). Progress made by earlier requests is kept if a later one fails.
    #[tracing::instrument(skip_all)]
    pub async fn sync(&self) -> Result<SyncSummary> {
        let mut total = SyncSummary::default();
        let mut resent = false;
        for _ in 0..MAX_ROUNDS {
            let round = self.sync_once().await?;
            let resend = round.reports.iter().any(|r| r.kind == ReportKind::Resend);
            // After `reconcile`, the next request re-sends this device's changes at once.
            let again = round.more || round.reconciled || (resend && !resent);
            resent |= resend;
            total.absorb(round);
            if !again {
                break;
            }
        }
        Ok(total)
    }

    /// Makes one sync request and applies its answer.
    #[tracing::instrument(skip_all)]
    pub async fn sync_once(&self) -> Result<SyncSummary> {
        // A wiped device's confirmation not yet sent goes first (crate::wipe).
        if let Some(wiped) = self.retry_wipe_confirmation().await?
            && self.identity().await?.is_none()
        {
            return Err(DeviceError::Wiped(wiped));
        }
        let started = Instant::now();
        let identity = self.require_identity().await?;
        let out = self.build_request(&identity).await?;
        let api = self.api(&identity.server)?;
        tracing::debug!(records = out.request.push.len(), "sending sync request");
        let body = protocol::encode(&out.request);
        let sent = Instant::now();
        let answer = match api.sync(&identity.token, body).await {
            // Withdrawn by an admin: nothing is sent, everything is deleted (crate::wipe).
            Err(e) if crate::wipe::is_order(&e) => return Err(self.wipe(&identity).await),
            other => other?,
        };
        let received = Instant::now();
        let (response, _version): (SyncResponse, u16) =
            protocol::decode(&answer).map_err(|e| DeviceError::Protocol(e.to_string()))?;
        drop(answer);
        let mut summary = self.apply_response(&identity, &out, response).await?;
        summary.more |= out.truncated || summary.reconciled;
        summary.on_wire = received - sent;
        summary.on_device = (sent - started) + received.elapsed();
        Ok(summary)
    }

    /// Reads the changes the server lacks for every unsynced record.
    async fn build_request(&self, identity: &Identity) -> Result<Outgoing> {
        let mut conn = self.pool.acquire().await?;
        let cursor: Cursor = store::meta_get(&mut conn, key::CURSOR)
            .await?
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default();
        // The server keeps the app version it last heard; say it again only when it changes.
        let reported = store::meta_get(&mut conn, key::REPORTED_APP).await?;
        let app = (reported.as_deref() != Some(self.app.as_str())).then(|| self.app.clone());
        let setup = crate::setup::stored(&mut conn).await?.version;
        let rows = sqlx::query(
            "SELECT id, doc, acked_heads FROM records
             WHERE acked_heads IS NULL OR acked_heads != heads ORDER BY updated_at, id",
        )
        .fetch_all(&mut *conn)
        .await?;
        let pending = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        let mut push = Vec::new();
        let mut pushed_heads = BTreeMap::new();
        let mut bytes = 0usize;
        let mut truncated = false;
        for row in rows {
            if bytes >= PUSH_BUDGET_BYTES {
                truncated = true;
                break;
            }
            let id: String = row.get(0);
            let id = Uuid::parse_str(&id)
                .map_err(|_| DeviceError::Store(format!("stored record id {id:?} is corrupt")))?;
            let doc = store::open_doc(&self.vault, &id.to_string(), row.get(1))?;
            let acked: Option<Vec<u8>> = row.get(2);
            let acked = acked.as_deref().map(store::decode_heads).transpose()?;
            let mut doc = RecordDoc::load(&doc, identity.actor.clone())?;
            let heads = doc.heads();
            let never_acked = acked.as_deref().is_none_or(<[ChangeHash]>::is_empty);
            let changes: Vec<ByteBuf> = doc
                .automerge()
                .get_changes(acked.as_deref().unwrap_or(&[]))
                .iter()
                .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                .collect();
            if changes.is_empty() {
                continue;
            }
            let mut item = RecordPush {
                id,
                changes,
                document: None,
            };
            if never_acked && item.changes.len() > 1 {
                // A record the server has never acknowledged may go as one saved document,
                // which does not repeat a dependency hash per change: smaller once a record
                // has a few changes (a session with its attendance marks).
                let document = doc.automerge().save_nocompress();
                if document.len() < item.changes.iter().map(|c| c.len()).sum::<usize>() {
                    item.changes = Vec::new();
                    item.document = Some(ByteBuf::from(document));
                }
            }
            bytes += item.changes.iter().map(|c| c.len()).sum::<usize>()
                + item.document.as_ref().map_or(0, |d| d.len());
            pushed_heads.insert(id, heads);
            push.push(item);
        }
        Ok(Outgoing {
            request: SyncRequest {
                cursor,
                push,
                app,
                pending: Some(pending),
                setup: (!setup.is_empty()).then_some(setup),
            },
            pushed_heads,
            truncated,
        })
    }

    /// Applies a sync answer in one transaction.
    async fn apply_response(
        &self,
        identity: &Identity,
        out: &Outgoing,
        response: SyncResponse,
    ) -> Result<SyncSummary> {
        let at = now();
        let mut summary = SyncSummary {
            requests: 1,
            pushed: out.request.push.len() as u32,
            more: response.more,
            server_time: Some(response.server_time),
            ..SyncSummary::default()
        };
        let mut tx = store::begin_write(&self.pool).await?;
        let mut cursor = response.cursor;

        // 1. Acknowledgements: the server holds exactly what was sent, for every pushed record
        //    it does not name as unacknowledged.
        let unacked: BTreeSet<Uuid> = response.unacked.iter().copied().collect();
        for (id, heads) in &out.pushed_heads {
            if !unacked.contains(id) {
                store::set_acked(&mut tx, *id, Some(heads)).await?;
                summary.acked += 1;
            }
        }

        // 2. Reports. A refused record is set aside before the server's copy comes in.
        let erased: BTreeSet<Uuid> = response
            .erased
            .iter()
            .copied()
            .chain(
                response
                    .reports
                    .iter()
                    .filter(|r| r.kind == ReportKind::Erased)
                    .map(|r| r.id),
            )
            .collect();
        for report in &response.reports {
            match report.kind {
                ReportKind::Refused => {
                    if set_aside(&mut tx, &self.vault, report, at).await? {
                        summary.set_aside += 1;
                    }
                    store_report(&mut tx, &self.vault, report, at).await?;
                }
                ReportKind::Resend => {
                    tracing::info!(record = %report.id, "server asks for the whole history");
                    store::set_acked(&mut tx, report.id, None).await?;
                }
                ReportKind::Quarantined
                | ReportKind::Flagged
                | ReportKind::Released
                | ReportKind::Discarded => {
                    store_report(&mut tx, &self.vault, report, at).await?;
                }
                ReportKind::Erased => {}
            }
        }

        // 3. Records the device lacks changes for. The set-up's instrument definitions are
        //    known first, so responses of a project's new instrument are read with them.
        if let Some(setup) = &response.setup {
            crate::setup::keep(&mut tx, setup).await?;
            if let Some(roles) = &setup.roles {
                crate::identity::adopt_roles(&mut tx, roles).await?;
            }
        }
        // Records the server rewrote: the old copy goes, history and all, before the new one
        // comes in (the device's changes to it were acknowledged above, and carried over).
        for id in &response.replaced {
            if store::get_record(&mut tx, &self.vault, *id)
                .await?
                .is_some()
            {
                store::delete_record(&mut tx, *id).await?;
                summary.replaced += 1;
            }
        }
        // Records the device does not hold yet (all of them in a bootstrap) are readied on
        // several threads and inserted many rows a statement; the others are merged one by one.
        let pulled: Vec<&RecordPull> = response
            .records
            .iter()
            .filter(|p| !erased.contains(&p.id))
            .collect();
        let ids: Vec<Uuid> = pulled.iter().map(|p| p.id).collect();
        let held = store::held_among(&mut tx, &ids).await?;
        let mut fresh = Vec::new();
        let mut merged = Vec::new();
        let mut first = HashSet::new();
        for pull in pulled {
            // An id named twice in one answer: the second merges into what the first stored.
            if held.contains(&pull.id) || !first.insert(pull.id) {
                merged.push(pull);
            } else {
                fresh.push(pull);
            }
        }
        for part in fresh.chunks(READY_CHUNK) {
            let mut rows = Vec::with_capacity(part.len());
            let readied = ready_new(&self.vault, identity, part)?;
            for (pull, ready) in part.iter().zip(readied) {
                match ready? {
                    Some(row) => rows.push(row),
                    None => {
                        tracing::warn!(record = %pull.id, "pulled changes lack their dependencies");
                        cursor = Cursor {
                            generation: cursor.generation,
                            ..Cursor::default()
                        };
                    }
                }
                summary.received += 1;
            }
            store::insert_synced(&mut tx, rows, at).await?;
        }
        for pull in merged {
            match merge_pull(&mut tx, &self.vault, identity, pull, at).await? {
                Merged::Complete => summary.received += 1,
                Merged::MissingDependencies => {
                    // The server sent changes whose history we lack: read the log again from
                    // the start next time rather than hold a half-applied record.
                    tracing::warn!(record = %pull.id, "pulled changes lack their dependencies");
                    summary.received += 1;
                    cursor = Cursor {
                        generation: cursor.generation,
                        ..Cursor::default()
                    };
                }
            }
        }

        // 4. Erasure: the record, any set-aside copy and its reports leave the device.
        for id in &erased {
            let sid = id.to_string();
            let mut removed = 0;
            for statement in [
                "DELETE FROM records WHERE id = ?",
                "DELETE FROM set_aside WHERE record_id = ?",
                "DELETE FROM reports WHERE record_id = ?",
            ] {
                let done = sqlx::query(statement).bind(&sid).execute(&mut *tx).await?;
                removed += done.rows_affected();
            }
            if removed > 0 {
                summary.erased += 1;
            }
        }

        // 4b. Records the device's user may no longer hold: named by the server, or of a
        //     project or kind their roles do not receive.
        let withdrawn: BTreeSet<Uuid> = response.withdrawn.iter().copied().collect();
        let roles = crate::identity::roles(&mut tx).await?;
        let (gone, lost) = purge_unreceivable(&mut tx, &withdrawn, roles.as_ref()).await?;
        summary.withdrawn += gone;
        summary.withdrawn_unsynced += lost;

        // 5. Reconciling with a restored server: everything held is unacknowledged until sent
        //    again (last, so records this answer acknowledged or brought in go too).
        if response.reconcile {
            summary.reconciled = true;
            let marked = sqlx::query("UPDATE records SET acked_heads = NULL")
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tracing::warn!(
                records = marked,
                "the server was restored from a backup: sending it everything this device holds"
            );
        }

        // 6. Where the device now is.
        let cursor_json = serde_json::to_string(&cursor).expect("a cursor always serialises");
        store::meta_set(&mut tx, key::CURSOR, &cursor_json).await?;
        store::meta_set(&mut tx, key::LAST_SYNC_AT, &at.to_string()).await?;
        if let Some(app) = &out.request.app {
            store::meta_set(&mut tx, key::REPORTED_APP, app).await?;
        }
        if response.server_time > 0 {
            let offset = response.server_time - at;
            store::meta_set(&mut tx, key::CLOCK_OFFSET, &offset.to_string()).await?;
        }
        tx.commit().await?;
        if summary.erased > 0 || summary.withdrawn > 0 || summary.replaced > 0 {
            // The purged records' earlier page images are still in the write-ahead log.
            // The sync itself has committed: a failure here is logged, not returned.
            if let Err(e) = store::scrub_log(&self.pool).await {
                tracing::warn!(error = %e, "cannot checkpoint the store after purging erased records");
            }
        }
        summary.reports = response.reports;
        Ok(summary)
    }
}

/// Deletes the records named in `withdrawn`, and those whose project or kind the user's
/// `roles` (project to role) do not receive: a record with changes the server lacks stays
/// while the role may still write it (it is sent first). Returns how many were deleted, and
/// how many of those held unsent changes.
async fn purge_unreceivable(
    conn: &mut SqliteConnection,
    withdrawn: &BTreeSet<Uuid>,
    roles: Option<&BTreeMap<String, String>>,
) -> Result<(u32, u32)> {
    let mut gone = Vec::new();
    let mut lost = 0u32;
    // Read a page of rows at a time: a device may hold a great many records.
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT rowid, id, kind, project, heads, acked_heads FROM records
             WHERE rowid > ? ORDER BY rowid LIMIT 1024",
        )
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.get(0);
        for row in rows {
            let Ok(id) = Uuid::parse_str(&row.get::<String, _>(1)) else {
                continue;
            };
            let kind = RecordKind::parse(&row.get::<String, _>(2));
            let project: String = row.get(3);
            let heads: Vec<u8> = row.get(4);
            let acked: Option<Vec<u8>> = row.get(5);
            let unsynced = acked.as_deref() != Some(heads.as_slice());
            let role = roles.map(|r| r.get(&project).map(String::as_str));
            let receives =
                kind.is_some_and(|k| role.is_some_and(|r| r.is_some_and(|r| may_pull(r, k))));
            let writes =
                kind.is_some_and(|k| role.is_some_and(|r| r.is_some_and(|r| may_push(r, k))));
            let purge = if withdrawn.contains(&id) {
                true
            } else if receives || role.is_none() {
                // Roles never heard: nothing is purged on their account.
                false
            } else {
                // Held back while it still has something to send that the server will take.
                !(unsynced && writes)
            };
            if purge {
                if unsynced {
                    lost += 1;
                    tracing::warn!(record = %id, "a record this device may no longer hold had unsent changes; they are lost");
                }
                gone.push(id);
            }
        }
    }
    for id in &gone {
        let sid = id.to_string();
        for statement in [
            "DELETE FROM records WHERE id = ?",
            "DELETE FROM set_aside WHERE record_id = ?",
            "DELETE FROM reports WHERE record_id = ?",
        ] {
            sqlx::query(statement)
                .bind(&sid)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok((u32::try_from(gone.len()).unwrap_or(u32::MAX), lost))
}

/// Moves the local copy of a refused record to `set_aside`. Returns whether there was one.
async fn set_aside(
    conn: &mut SqliteConnection,
    vault: &Vault,
    report: &RecordReport,
    at: i64,
) -> Result<bool> {
    let Some(row) = store::get_record(conn, vault, report.id).await? else {
        return Ok(false);
    };
    let reason = match &report.field {
        Some(f) => format!("{} ({f}): {}", report.code, report.message),
        None => format!("{}: {}", report.code, report.message),
    };
    store::insert_set_aside(
        conn,
        vault,
        report.id,
        &row.kind,
        &row.project,
        &row.doc,
        &reason,
        at,
    )
    .await?;
    store::delete_record(conn, report.id).await?;
    tracing::warn!(record = %report.id, code = %report.code, "record refused by the server; local copy set aside");
    Ok(true)
}

async fn store_report(
    conn: &mut SqliteConnection,
    vault: &Vault,
    report: &RecordReport,
    at: i64,
) -> Result<()> {
    let kind = match report.kind {
        ReportKind::Quarantined => "quarantined",
        ReportKind::Refused => "refused",
        ReportKind::Resend => "resend",
        ReportKind::Flagged => "flagged",
        ReportKind::Erased => "erased",
        ReportKind::Released => "released",
        ReportKind::Discarded => "discarded",
    };
    store::insert_report(
        conn,
        vault,
        report.id,
        kind,
        &report.code,
        report.field.as_deref(),
        &report.message,
        at,
    )
    .await
}

enum Merged {
    Complete,
    MissingDependencies,
}

/// The pulled data in a form that can be applied to more than one document.
enum Incoming {
    Changes(Vec<Change>),
    Snapshot(Box<AutoCommit>),
}

impl Incoming {
    fn decode(pull: &RecordPull) -> Result<Self> {
        let bad = |e: String| DeviceError::Protocol(format!("record {}: {e}", pull.id));
        Ok(match &pull.data {
            PullData::Changes(raw) => {
                Incoming::Changes(bothy_sync_core::merge::decode_changes(raw).map_err(bad)?)
            }
            PullData::Snapshot(bytes) => Incoming::Snapshot(Box::new(
                AutoCommit::load(bytes).map_err(|e| bad(format!("snapshot unreadable: {e}")))?,
            )),
        })
    }

    fn apply_to(&mut self, doc: &mut AutoCommit) -> Result<()> {
        let res = match self {
            Incoming::Changes(changes) => doc.apply_changes(changes.iter().cloned()),
            Incoming::Snapshot(snapshot) => doc.merge(snapshot).map(|_| ()),
        };
        res.map_err(|e| DeviceError::Protocol(format!("changes could not be applied: {e}")))
    }
}

/// Readies the rows of pulled records the device does not hold, in order, on several threads
/// when there are many: each is decoded, built, checked, labelled and sealed. `None` for a
/// record whose changes lack their dependencies (it is not stored).
fn ready_new(
    vault: &Vault,
    identity: &Identity,
    pulls: &[&RecordPull],
) -> Result<Vec<Result<Option<store::ReadyRow>>>> {
    let ready_all = |part: &[&RecordPull]| -> Vec<Result<Option<store::ReadyRow>>> {
        part.iter()
            .map(|pull| ready_one(vault, identity, pull))
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(READY_THREADS);
    if threads < 2 || pulls.len() < READY_ALONE_BELOW {
        return Ok(ready_all(pulls));
    }
    let per_thread = pulls.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = pulls
            .chunks(per_thread)
            .map(|part| scope.spawn(move || ready_all(part)))
            .collect();
        let mut out = Vec::with_capacity(pulls.len());
        for worker in workers {
            let readied = worker.join().map_err(|_| {
                DeviceError::Protocol("a pulled record could not be read".to_owned())
            })?;
            out.extend(readied);
        }
        Ok(out)
    })
}

/// The row of one pulled record the device does not hold: as the server holds it, so its
/// acknowledged heads are its heads. `None` if its changes lack their dependencies.
fn ready_one(
    vault: &Vault,
    identity: &Identity,
    pull: &RecordPull,
) -> Result<Option<store::ReadyRow>> {
    let mut doc = match Incoming::decode(pull)? {
        Incoming::Snapshot(snapshot) => {
            RecordDoc::from_automerge(snapshot.with_actor(identity.actor.clone()))
        }
        mut incoming => {
            let mut doc = RecordDoc::empty(identity.actor.clone());
            incoming.apply_to(doc.automerge())?;
            doc
        }
    };
    if !doc.automerge().get_missing_deps(&[]).is_empty() {
        return Ok(None);
    }
    if let Err(e) = doc.envelope() {
        return Err(DeviceError::Protocol(format!(
            "record {} ({} in {}) has no valid envelope: {e}",
            pull.id, pull.kind, pull.project
        )));
    }
    store::ready_row(vault, pull.id, &mut doc).map(Some)
}

/// Merges one pulled record into the store and records what the server now holds of it: its
/// acknowledged heads plus everything it just sent.
async fn merge_pull(
    conn: &mut SqliteConnection,
    vault: &Vault,
    identity: &Identity,
    pull: &RecordPull,
    at: i64,
) -> Result<Merged> {
    let mut incoming = Incoming::decode(pull)?;
    let existing = store::get_record(conn, vault, pull.id).await?;
    let (mut doc, acked, was_synced) = match &existing {
        Some(row) => (
            RecordDoc::load(&row.doc, identity.actor.clone())?,
            row.acked_heads()?,
            !row.unsynced(),
        ),
        None => (RecordDoc::empty(identity.actor.clone()), Vec::new(), true),
    };
    incoming.apply_to(doc.automerge())?;
    if !doc.automerge().get_missing_deps(&[]).is_empty() {
        return Ok(Merged::MissingDependencies);
    }
    if let Err(e) = doc.envelope() {
        return Err(DeviceError::Protocol(format!(
            "record {} ({} in {}) has no valid envelope: {e}",
            pull.id, pull.kind, pull.project
        )));
    }
    // What the server holds: with nothing unacknowledged here, everything; otherwise the
    // acknowledged state plus what it sent, computed on a copy of the acknowledged state.
    let server_heads = if was_synced {
        doc.heads()
    } else {
        let mut server = if acked.is_empty() {
            AutoCommit::new()
        } else {
            match doc.automerge().fork_at(&acked) {
                Ok(fork) => fork,
                // Should not happen; pushing the whole history again is always safe.
                Err(_) => AutoCommit::new(),
            }
        };
        incoming.apply_to(&mut server)?;
        server.get_heads()
    };
    store::put_record(conn, vault, pull.id, &mut doc, at).await?;
    store::set_acked(conn, pull.id, Some(&server_heads)).await?;
    Ok(Merged::Complete)
}
