//! Erasure of a participant (sync contract 8) and the tombstones that carry it to devices.
//!
//! Erasing a participant, in one write transaction: deletes the participant's record and every
//! wellbeing response and story about them (documents, change log rows, projections,
//! quarantine entries, conflicts, review flags); removes their attendance marks from sessions
//! with a change the server authors, stored and logged like any other so every device receives
//! it; and writes a tombstone per erased id. A tombstone holds the random ids only, never
//! personal data, and a `seq` taken from the change log's head, so a device whose cursor is
//! below it is told (`erased` in the sync response) and purges the record.
//!
//! Sync consults the tombstones: a push to an erased id, or a new wellbeing response or story
//! about an erased participant, is refused with a report of kind `erased` and stored nowhere
//! (not even in quarantine: the data is personal); a session pushed with an attendance mark for
//! an erased participant is merged and the mark removed by a server change.
//!
//! Deleting rows is not enough to take the data off the disk: SQLite keeps earlier page images
//! in its write-ahead log and PostgreSQL keeps dead row versions in the table files. After an
//! erasure commits, [`scrub`] checkpoints and truncates SQLite's log (every connection runs with
//! `secure_delete`, so the freed space in the database file is already zeroed), or rewrites
//! PostgreSQL's tables that held the rows (`VACUUM (FULL)`).

use crate::error::{ApiError, ApiResult};
use crate::storage::records::{self, LogEntry};
use crate::storage::{Backend, Db, Tx, erasure as stored};
use bothy_sync_core::{RecordDoc, RecordError};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub use crate::storage::erasure::Tombstone;

/// The tombstone of one record id, if it was erased.
pub async fn tombstone(
    db: impl sqlx::any::AnyExecutor<'_>,
    id: &str,
) -> Result<Option<Tombstone>, sqlx::Error> {
    stored::tombstone(db, id).await
}

/// Every tombstone written by erasing `participant` in `project`.
pub async fn tombstones_of(
    db: impl sqlx::any::AnyExecutor<'_>,
    project: &str,
    participant: &str,
) -> Result<Vec<Tombstone>, sqlx::Error> {
    stored::tombstones_of(db, participant, project).await
}

/// Whether a record id is tombstoned.
pub async fn is_erased(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    stored::is_erased(&mut **tx, id).await
}

/// The erased ids in projects where `user_id` holds a writing role, tombstoned after `since`
/// and up to `head` (both change log positions), for a sync response's `erased`. Every kind is
/// named, not only those the role may pull: a device may hold a set-aside copy of a record it
/// was not allowed to push (the ids are random and say nothing about anyone).
pub async fn erased_for(
    tx: &mut Tx,
    user_id: &str,
    since: u64,
    head: u64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    // The roles that write (and so hold records on devices), from the one table of rules.
    let writers: Vec<&str> = bothy_sync_core::roles::Role::ALL
        .into_iter()
        .filter(|r| r.writes())
        .map(|r| r.as_str())
        .collect();
    let ids = stored::erased_in_roles(
        &mut **tx,
        user_id,
        &writers,
        i64::try_from(since).unwrap_or(i64::MAX),
        i64::try_from(head).unwrap_or(i64::MAX),
    )
    .await?;
    Ok(ids
        .iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect())
}

/// What an erasure removed, for the answer and the audit log: counts only.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ErasureCounts {
    /// Participant records deleted (1, or 0 if the participant was only ever in quarantine).
    pub participants: u64,
    /// Wellbeing responses about them deleted.
    pub wellbeing_responses: u64,
    /// Stories about them deleted.
    pub stories: u64,
    /// Contact records (their direct identifiers) deleted.
    pub contacts: u64,
    /// Sessions whose attendance mark for them was removed by a server change.
    pub sessions_updated: u64,
    /// Change log rows deleted.
    pub change_log_rows: u64,
    /// Quarantine entries deleted.
    pub quarantine_entries: u64,
    /// Conflicts and review flags deleted.
    pub conflicts_and_flags: u64,
    /// Tombstones written (one per erased id).
    pub tombstones: u64,
}

/// The outcome of [`erase_participant`].
pub enum Erasure {
    /// Erased now.
    Done {
        /// What was removed.
        counts: ErasureCounts,
        /// The tombstones' change log position.
        seq: i64,
    },
    /// Erased before: nothing left to do.
    AlreadyErased(Tombstone),
}

/// Erases `participant` of `project` inside `tx` (which the caller commits, with its audit
/// entry). `NotFound` if the project holds no such participant.
pub async fn erase_participant(
    db: &Db,
    tx: &mut Tx,
    project: &str,
    participant: &str,
    erased_by: Option<&str>,
    now: i64,
) -> ApiResult<Erasure> {
    db.lock_erasures(tx, true).await?;
    if let Some(t) = tombstone(&mut **tx, participant).await?
        && t.kind == "participant"
    {
        return Ok(Erasure::AlreadyErased(t));
    }
    let exists = match stored::project_kind(&mut **tx, participant).await? {
        Some(r) => r.project == project && r.kind == "participant",
        // A participant refused at creation exists only in quarantine.
        None => stored::in_quarantine(&mut **tx, participant, project).await?,
    };
    if !exists {
        return Err(ApiError::NotFound(format!(
            "no participant {participant} in project `{project}`"
        )));
    }
    let mut responses = stored::responses_about(&mut **tx, participant, project).await?;
    let mut stories = stored::stories_about(&mut **tx, participant, project).await?;
    let mut contacts = stored::contacts_of(&mut **tx, participant, project).await?;
    // Refused new responses and stories about them, kept only in quarantine.
    for (_, record, kind) in refused_about(&mut **tx, project, participant).await? {
        if record == participant
            || responses.contains(&record)
            || stories.contains(&record)
            || contacts.contains(&record)
            || records::load_record(tx, &record).await?.is_some()
        {
            continue;
        }
        match kind.as_deref() {
            Some("story") => stories.push(record),
            Some("contact") => contacts.push(record),
            _ => responses.push(record),
        }
    }
    let sessions = stored::sessions_attended(&mut **tx, participant, project).await?;
    let mut locks: BTreeSet<&str> = BTreeSet::new();
    locks.insert(participant);
    locks.extend(responses.iter().map(String::as_str));
    locks.extend(stories.iter().map(String::as_str));
    locks.extend(contacts.iter().map(String::as_str));
    locks.extend(sessions.iter().map(String::as_str));
    for id in &locks {
        db.lock_record(tx, id).await?;
    }

    let mut counts = ErasureCounts::default();
    // Attendance marks: removed by a server change every device receives.
    let mark = format!("attendance.{participant}");
    let mut log = Vec::new();
    let actor = crate::sync::server_actor(&mut **tx).await?;
    for session in &sessions {
        let Some(stored) = records::load_record(tx, session).await? else {
            continue;
        };
        let mut doc = RecordDoc::load(&stored.doc, actor.clone())
            .map_err(|e| ApiError::Internal(e.into()))?;
        if let Some(change) = remove_marks(&mut doc, &[participant.to_owned()], now)? {
            let flagged = doc.validate();
            records::store_merged(tx, session, &mut doc, &flagged, now).await?;
            log.push(LogEntry::of(session, &stored.project, None, &change));
            counts.sessions_updated += 1;
        }
    }
    records::append_log(tx, log, now).await?;
    stored::delete_attendance_of(&mut **tx, participant).await?;
    // Quarantined attendance marks for them on sessions (the mark itself is about them).
    counts.quarantine_entries += stored::delete_quarantine_of_field(&mut **tx, &mark).await?;
    counts.conflicts_and_flags += stored::delete_conflicts_of_field(&mut **tx, &mark).await?;

    // The records themselves, everywhere they are kept.
    let mut erased: Vec<(&str, &str)> = vec![(participant, "participant")];
    erased.extend(responses.iter().map(|id| (id.as_str(), "wellbeing")));
    erased.extend(stories.iter().map(|id| (id.as_str(), "story")));
    erased.extend(contacts.iter().map(|id| (id.as_str(), "contact")));
    for (id, kind) in &erased {
        let deleted = stored::delete_record(tx, id).await?;
        match *kind {
            "participant" => counts.participants += deleted.records,
            "contact" => counts.contacts += deleted.records,
            "wellbeing" => counts.wellbeing_responses += deleted.records,
            _ => counts.stories += deleted.records,
        }
        counts.change_log_rows += deleted.change_log_rows;
        counts.quarantine_entries += deleted.quarantine_entries;
        counts.conflicts_and_flags += deleted.conflicts + deleted.flags;
    }

    // Tombstones, at a position of their own in the change log's numbering (taken last: it
    // orders this commit among the syncs', as appending to the log does).
    let seq = stored::next_seq(&mut **tx).await?;
    for (id, kind) in &erased {
        let written = stored::write_tombstone(
            &mut **tx,
            id,
            project,
            kind,
            participant,
            seq,
            now,
            erased_by,
        )
        .await?;
        counts.tombstones += u64::from(written);
    }
    Ok(Erasure::Done { counts, seq })
}

/// Removes the attendance marks of `participants` from a session as one change authored by
/// the document's actor (the server's). Returns the change, or `None` if there was no mark.
pub fn remove_marks(
    doc: &mut RecordDoc,
    participants: &[String],
    now: i64,
) -> ApiResult<Option<bothy_sync_core::automerge::Change>> {
    let present: Vec<&String> = match doc.view() {
        Ok(bothy_sync_core::RecordView {
            data: bothy_sync_core::RecordData::Session(s),
            ..
        }) => participants
            .iter()
            .filter(|p| s.attendance.contains_key(p.as_str()))
            .collect(),
        _ => Vec::new(),
    };
    if present.is_empty() {
        return Ok(None);
    }
    let hash = match doc.edit(now, |e| {
        for p in present {
            e.clear(&format!("attendance.{p}"));
        }
    }) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(None),
        Err(RecordError::Invalid(errors)) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "removing an attendance mark left the session invalid: {}",
                bothy_sync_core::validate::describe(&errors)
            )));
        }
        Err(e) => return Err(ApiError::Internal(e.into())),
    };
    doc.automerge()
        .get_change_by_hash(&hash)
        .map(Some)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the new change is missing")))
}

/// The ids among `ids` that are tombstoned, looked up a few hundred at a time.
pub async fn erased_among(tx: &mut Tx, ids: &[String]) -> Result<BTreeSet<String>, sqlx::Error> {
    crate::storage::present_among(tx, "erasures", "record_id", ids).await
}

/// The participant a set of changes names (a new wellbeing response or story), and the kind
/// they claim, read by replaying them on an empty document.
pub fn claimed_participant(changes: &[impl AsRef<[u8]>]) -> Option<(String, Option<String>)> {
    use bothy_sync_core::automerge::{AutoCommit, ROOT, ReadDoc, ScalarValue, Value};
    let decoded = bothy_sync_core::merge::decode_changes(changes).ok()?;
    let mut doc = AutoCommit::new();
    doc.apply_changes(decoded).ok()?;
    let text = |key: &str| match doc.get(ROOT, key).ok().flatten() {
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    };
    Some((text("participant")?, text("kind")))
}

/// Refused pushes of records the server never stored (so in no projection) that are about
/// `participant`, kept in `project`'s quarantine: (entry id, record id, claimed kind).
pub async fn refused_about<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    project: &str,
    participant: &str,
) -> Result<Vec<(i64, String, Option<String>)>, sqlx::Error> {
    let rows = stored::refused_in(executor, project).await?;
    let mut out = Vec::new();
    for row in rows {
        let Some(changes) = records::Kept::changes(&row.changes) else {
            continue;
        };
        if let Some((p, kind)) = claimed_participant(&changes)
            && p == participant
        {
            out.push((row.id, row.record_id, kind));
        }
    }
    Ok(out)
}

/// How many times a SQLite checkpoint is tried while readers hold older snapshots.
const CHECKPOINT_ATTEMPTS: u32 = 5;

/// How long [`scrub`] waits on PostgreSQL for transactions older than the erasure.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(10);

/// What [`scrub`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scrub {
    /// The old copies are gone from the database's files.
    Done,
    /// SQLite: readers kept older snapshots through every attempt, so the write-ahead log
    /// still holds earlier page images until the next checkpoint that completes.
    Busy,
}

/// Takes an erasure's data off the disk once it has committed (see the module's comment).
/// Runs after the commit because neither step can run inside a transaction. Errors are
/// returned for the caller to log: the erasure itself stands.
pub async fn scrub(db: &Db, participant: &str) -> Result<Scrub, sqlx::Error> {
    let started = Instant::now();
    let outcome = match db.backend {
        Backend::Sqlite => checkpoint_sqlite(db).await?,
        Backend::Postgres => {
            wait_for_older_snapshots(db, participant).await?;
            // Plain VACUUM marks the space reusable but leaves the bytes in the pages; FULL
            // writes each table (and its TOAST table and indexes) to a new file and drops the
            // old one. Each table is locked exclusively while it is rewritten.
            stored::vacuum_erased(&db.pool).await?;
            Scrub::Done
        }
    };
    tracing::info!(
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        outcome = ?outcome,
        "erased data scrubbed from the database files"
    );
    Ok(outcome)
}

/// `VACUUM (FULL)` copies every row version some transaction may still see, so a deleted row
/// is copied to the new file while a transaction that began before the erasure committed (an
/// export, an autovacuum's analyse, a connection being set up) is running. Waits, for a
/// while, until no other backend of the PostgreSQL server (of any database: with the check
/// limited to this one, rows were now and then still kept in tests) holds a snapshot
/// or transaction id from before the erasure (the tombstones' `xmin` is the erasure's
/// transaction id). Other database users' transactions are only seen with the
/// `pg_read_all_stats` role; the table locks `VACUUM (FULL)` takes wait for those that read
/// the erased tables.
async fn wait_for_older_snapshots(db: &Db, participant: &str) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + SNAPSHOT_WAIT;
    loop {
        let older = stored::older_transactions(&db.pool, participant).await?;
        if older == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                transactions = older,
                "transactions older than the erasure are still running: the rewrite may keep \
                 the erased rows in the table files until the next VACUUM (FULL)"
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `wal_checkpoint(TRUNCATE)`: copies every page image in the write-ahead log into the
/// database file and truncates the log to nothing. It cannot finish while a reader still uses
/// an older snapshot, so it waits briefly, a few times, rather than for the pool's long busy
/// timeout.
async fn checkpoint_sqlite(db: &Db) -> Result<Scrub, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    // This connection's busy timeout is changed: it is closed, not returned to the pool.
    conn.close_on_drop();
    stored::short_busy_timeout(&mut *conn).await?;
    for attempt in 1..=CHECKPOINT_ATTEMPTS {
        if !stored::checkpoint_truncate(&mut *conn).await? {
            return Ok(Scrub::Done);
        }
        tracing::info!(attempt, "checkpoint after an erasure waits for readers");
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
    }
    tracing::warn!(
        "after an erasure the write-ahead log could not be truncated: readers held older \
         snapshots; earlier copies of the erased data stay in the -wal file until a later \
         checkpoint completes (run `PRAGMA wal_checkpoint(TRUNCATE)` when the server is idle)"
    );
    Ok(Scrub::Busy)
}
