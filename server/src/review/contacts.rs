//! Participants' direct identifiers as records of their own (kind `contact`), and the move of
//! participants written before them ([`bothy_sync_core::split`]).
//!
//! * At start-up, every participant document in the old format is retired: it is kept in
//!   `retired_documents` (on the server only), its change log rows are deleted, and two new
//!   documents authored by the server take its place: the participant without identifiers
//!   (same id) and a contact record holding them. Devices that hold the old document are told
//!   to replace it ([`bothy_sync_core::protocol::SyncResponse::replaced`]).
//! * A device that pushes changes of an old document (made offline before it heard) has them
//!   carried over: they are merged into the retired document and every value they changed is
//!   written to the new documents as the server's edit. A device that pushes a participant it
//!   created in the old format has it split on arrival.

use crate::error::{ApiError, ApiResult};
use crate::storage::records::{self, LogEntry};
use crate::storage::{Db, Tx, contacts as stored};
use bothy_sync_core::automerge::{ActorId, AutoCommit, Change, ChangeHash};
use bothy_sync_core::split::{self, changed_values, legacy_values};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use serde_bytes::ByteBuf;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Records retired in one transaction of the start-up move.
const BATCH: i64 = 200;

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("{what}: {e}"))
}

/// Moves every participant in the old format to a participant and a contact record, once
/// (`pending_data_migrations` says whether it is still to do). Returns how many were moved.
pub async fn migrate(db: &Db) -> anyhow::Result<u64> {
    let pending = stored::migration_pending(&db.pool).await?;
    if !pending {
        return Ok(0);
    }
    let mut moved = 0u64;
    let mut after = String::new();
    loop {
        let mut tx = db.begin_write().await?;
        // No sync stores a record while this runs (syncs share this lock).
        db.lock_erasures(&mut tx, true).await?;
        let rows = stored::participants_after(&mut *tx, &after, BATCH).await?;
        if rows.is_empty() {
            stored::migration_done(&mut *tx).await?;
            tx.commit().await?;
            break;
        }
        let actor = crate::sync::server_actor(&mut *tx)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let now = crate::storage::now();
        let mut log = Vec::new();
        for row in &rows {
            let id = &row.id;
            after.clone_from(id);
            let doc = RecordDoc::load(&row.doc, actor.clone())
                .map_err(|e| anyhow::anyhow!("participant {id} cannot be loaded: {e}"))?;
            if !split::is_legacy(&doc) {
                continue;
            }
            match retire(
                &mut tx,
                id,
                doc,
                row.owner_user.as_deref(),
                &actor,
                &mut log,
                now,
            )
            .await
            {
                Ok(()) => moved += 1,
                Err(e) => tracing::warn!(participant = %id, error = %e,
                    "a participant in the old format could not be split; it is left as it is"),
            }
        }
        let head = records::append_log(&mut tx, log, now).await?;
        date_retirements(&mut tx, head)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit().await?;
    }
    if moved > 0 {
        tracing::info!(
            participants = moved,
            "moved participants' direct identifiers to contact records"
        );
    }
    Ok(moved)
}

/// Retires an old-format participant `id`: keeps `old`, writes its two new documents and logs
/// their changes in `log`. The caller holds the record's lock.
async fn retire(
    tx: &mut Tx,
    id: &str,
    mut old: RecordDoc,
    owner: Option<&str>,
    actor: &ActorId,
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<()> {
    let env = old.envelope().map_err(|e| internal("participant", e))?;
    let split::Split {
        mut participant,
        contact,
    } = split::split(&old, id, actor.clone()).map_err(|e| internal("splitting", e))?;
    // The old history leaves the log: no device is sent it again.
    stored::retire(tx, id, &env.project, old.automerge().save_nocompress(), now).await?;
    store_new(tx, id, &env.project, &mut participant, owner, log, now).await?;
    if let Some(mut contact) = contact {
        let cid = Uuid::now_v7().to_string();
        store_new(tx, &cid, &env.project, &mut contact, owner, log, now).await?;
    }
    Ok(())
}

/// Stores a document the server wrote whole, logging every change of it.
async fn store_new(
    tx: &mut Tx,
    id: &str,
    project: &str,
    doc: &mut RecordDoc,
    owner: Option<&str>,
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<()> {
    let flagged = doc.validate();
    records::store_merged(tx, id, doc, &flagged, now).await?;
    if let Some(owner) = owner {
        records::set_owner(tx, id, owner).await?;
    }
    for c in doc.automerge().get_changes(&[]) {
        log.push(LogEntry::of(id, project, None, &c));
    }
    Ok(())
}

/// What a push of one record turned out to be.
pub enum Intercepted {
    /// Nothing to do with the old format: merge it as usual.
    No,
    /// Changes of an old-format document were carried over (or a new one split): merge the
    /// `remaining` changes as usual; the device must replace its copy.
    Yes {
        /// The pushed changes that belong to the new document.
        remaining: Vec<ByteBuf>,
    },
}

/// Takes out of a push what belongs to a participant's old-format document, and carries it over.
/// `may_write` says whether the device's user may write a kind in a project.
#[allow(clippy::too_many_arguments)]
pub async fn intercept(
    tx: &mut Tx,
    id: &str,
    changes: &[ByteBuf],
    owner: &str,
    sender: &ActorId,
    actor: &ActorId,
    may_write: impl Fn(&str, RecordKind) -> bool,
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<Intercepted> {
    let retired = stored::retired(&mut **tx, id).await?;
    let Some(retired) = retired else {
        return created_in_old_format(tx, id, changes, owner, sender, actor, may_write, log, now)
            .await;
    };
    let Ok(decoded) = bothy_sync_core::merge::decode_changes(changes) else {
        return Ok(Intercepted::No);
    };
    let project = retired.project;
    let mut old = AutoCommit::load(&retired.doc).map_err(|e| internal("a retired document", e))?;
    let (mine, remaining) = partition(&mut old, decoded);
    if mine.is_empty() {
        return Ok(Intercepted::No);
    }
    // Of the old document's changes new to the server, only the sender's own are carried over.
    let mine: Vec<Change> = mine
        .into_iter()
        .filter(|c| old.get_change_by_hash(&c.hash()).is_none() && c.actor_id() == sender)
        .collect();
    let raw_remaining = remaining
        .iter()
        .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
        .collect();
    if !may_write(&project, RecordKind::Participant) {
        // Not theirs to change: dropped, as the push of a record they may not write would be.
        return Ok(Intercepted::Yes {
            remaining: raw_remaining,
        });
    }
    let before = legacy_values(&RecordDoc::from_automerge(old.clone()));
    old.apply_changes(mine)
        .map_err(|e| internal("merging into a retired document", e))?;
    let after = legacy_values(&RecordDoc::from_automerge(old.clone()));
    stored::update_retired(&mut **tx, id, old.save_nocompress()).await?;
    let changed = changed_values(&before, &after);
    carry_over(
        tx, id, &project, &changed, owner, actor, &may_write, log, now,
    )
    .await?;
    Ok(Intercepted::Yes {
        remaining: raw_remaining,
    })
}

/// Splits pushed changes into those of the old document (already in it, or depending only on
/// changes that are) and the rest.
fn partition(old: &mut AutoCommit, changes: Vec<Change>) -> (Vec<Change>, Vec<Change>) {
    let mut known: HashSet<ChangeHash> = old.get_heads().into_iter().collect();
    let mut pending = changes;
    let mut mine = Vec::new();
    loop {
        let before = pending.len();
        let (take, keep): (Vec<Change>, Vec<Change>) = pending.into_iter().partition(|c| {
            old.get_change_by_hash(&c.hash()).is_some()
                || (!c.deps().is_empty()
                    && c.deps()
                        .iter()
                        .all(|d| known.contains(d) || old.get_change_by_hash(d).is_some()))
        });
        known.extend(take.iter().map(Change::hash));
        mine.extend(take);
        pending = keep;
        if pending.len() == before {
            break;
        }
    }
    (mine, pending)
}

/// The pushed ids that name a participant's document retired at the move to contact records.
pub async fn retired_among(
    tx: &mut Tx,
    ids: &[String],
) -> Result<std::collections::BTreeSet<String>, sqlx::Error> {
    crate::storage::present_among(tx, "retired_documents", "record_id", ids).await
}

/// Whether changes for a record the server does not hold create, by `sender` alone, a
/// participant in the format from before contact records (the check [`intercept`] makes, with
/// no database: the caller knows the record is new).
pub fn created_in_old_format_by(changes: &[ByteBuf], sender: &ActorId) -> bool {
    let Ok(decoded) = bothy_sync_core::merge::decode_changes(changes) else {
        return false;
    };
    if decoded.iter().any(|c| c.actor_id() != sender) {
        return false;
    }
    let mut doc = AutoCommit::new();
    if doc.apply_changes(decoded).is_err() {
        return false;
    }
    let doc = RecordDoc::from_automerge(doc);
    split::is_legacy(&doc) && doc.envelope().is_ok()
}

/// A participant pushed whole in the old format by a device that created it offline: split on
/// arrival.
#[allow(clippy::too_many_arguments)]
async fn created_in_old_format(
    tx: &mut Tx,
    id: &str,
    changes: &[ByteBuf],
    owner: &str,
    sender: &ActorId,
    actor: &ActorId,
    may_write: impl Fn(&str, RecordKind) -> bool,
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<Intercepted> {
    let exists = stored::record_exists(&mut **tx, id).await?;
    if exists {
        return Ok(Intercepted::No);
    }
    let Ok(decoded) = bothy_sync_core::merge::decode_changes(changes) else {
        return Ok(Intercepted::No);
    };
    // Another actor's record is refused as usual.
    if decoded.iter().any(|c| c.actor_id() != sender) {
        return Ok(Intercepted::No);
    }
    let mut doc = AutoCommit::new();
    if doc.apply_changes(decoded).is_err() {
        return Ok(Intercepted::No);
    }
    let doc = RecordDoc::from_automerge(doc);
    if !split::is_legacy(&doc) {
        return Ok(Intercepted::No);
    }
    let Ok(env) = doc.envelope() else {
        return Ok(Intercepted::No);
    };
    if !may_write(&env.project, RecordKind::Participant) {
        return Ok(Intercepted::No);
    }
    retire(tx, id, doc, Some(owner), actor, log, now).await?;
    Ok(Intercepted::Yes {
        remaining: Vec::new(),
    })
}

/// Writes values changed in an old document to the participant and its contact record.
#[allow(clippy::too_many_arguments)]
async fn carry_over(
    tx: &mut Tx,
    id: &str,
    project: &str,
    changed: &BTreeMap<String, Option<FieldValue>>,
    owner: &str,
    actor: &ActorId,
    may_write: &impl Fn(&str, RecordKind) -> bool,
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<()> {
    let (contact, own): (BTreeMap<_, _>, BTreeMap<_, _>) = changed
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(path, _)| path.starts_with("contact."));
    if !own.is_empty() {
        edit_stored(tx, id, project, &own, actor, log, now).await?;
    }
    if contact.is_empty() || !may_write(project, RecordKind::Contact) {
        return Ok(());
    }
    let contact: BTreeMap<String, Option<FieldValue>> = contact
        .into_iter()
        .map(|(k, v)| (k["contact.".len()..].to_owned(), v))
        .collect();
    let existing = stored::first_contact_of(&mut **tx, id, project).await?;
    match existing {
        Some(cid) => edit_stored(tx, &cid, project, &contact, actor, log, now).await,
        None => {
            let mut fields: Vec<(&str, FieldValue)> = contact
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.clone()?)))
                .collect();
            if fields.is_empty() {
                return Ok(());
            }
            fields.push(("participant", id.into()));
            let Ok(mut doc) =
                RecordDoc::create(actor.clone(), RecordKind::Contact, project, &fields, now)
            else {
                return Ok(());
            };
            let cid = Uuid::now_v7().to_string();
            store_new(tx, &cid, project, &mut doc, Some(owner), log, now).await
        }
    }
}

/// Applies values to a stored record as the server's edit, leaving out any its schema refuses.
async fn edit_stored(
    tx: &mut Tx,
    id: &str,
    project: &str,
    values: &BTreeMap<String, Option<FieldValue>>,
    actor: &ActorId,
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<()> {
    let Some(stored) = records::load_record(tx, id).await? else {
        return Ok(());
    };
    let mut doc =
        RecordDoc::load(&stored.doc, actor.clone()).map_err(|e| internal("a stored record", e))?;
    let mut changes = Vec::new();
    for (path, value) in values {
        let edited = doc.edit(now, |e| match value {
            Some(v) => e.set(path, v.clone()),
            None => e.clear(path),
        });
        if let Ok(Some(hash)) = edited
            && let Some(change) = doc.automerge().get_change_by_hash(&hash)
        {
            changes.push(change.clone());
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let flagged = doc.validate();
    records::store_merged(tx, id, &mut doc, &flagged, now).await?;
    for c in &changes {
        log.push(LogEntry::of(id, project, None, c));
    }
    Ok(())
}

/// Dates the retirements written in this transaction by the log's new head (call after
/// [`records::append_log`]).
pub async fn date_retirements(tx: &mut Tx, head: i64) -> ApiResult<()> {
    stored::date_retirements(&mut **tx, head).await?;
    Ok(())
}

/// The values of a participant's retired document (from before contact records), if any, by
/// path: for subject-rights exports.
pub async fn retired_values(db: &Db, id: &str) -> ApiResult<Option<serde_json::Value>> {
    let Some(bytes) = stored::retired_doc(&db.pool, id).await? else {
        return Ok(None);
    };
    let doc = AutoCommit::load(&bytes).map_err(|e| internal("a retired document", e))?;
    let values = legacy_values(&RecordDoc::from_automerge(doc));
    Ok(Some(serde_json::to_value(values).unwrap_or_default()))
}

/// Records retired after a position of the change log in projects where a user receives
/// participants (`projects`), for [`bothy_sync_core::protocol::SyncResponse::replaced`];
/// `since` 0 lists every one.
pub async fn replaced_since(tx: &mut Tx, projects: &[String], since: u64) -> ApiResult<Vec<Uuid>> {
    let mut out = Vec::new();
    for project in projects {
        let rows =
            stored::retired_since(&mut **tx, project, i64::try_from(since).unwrap_or(i64::MAX))
                .await?;
        out.extend(rows.iter().filter_map(|r| Uuid::parse_str(r).ok()));
    }
    Ok(out)
}
