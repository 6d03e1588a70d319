//! Reviewers' decisions on what sync could not settle on its own: resolving a true conflict,
//! and inspecting, releasing or discarding a quarantined change.
//!
//! Each decision runs inside the write transaction its caller began (and commits): it locks the
//! record, changes it like a sync would (so the result reaches every device through the change
//! log), refuses to leave the record pointing at an erased participant, and writes its audit
//! entry. A failed decision returns its error and the caller drops the transaction, so nothing
//! of it is kept.

use crate::access::audit::{self, Actor};
use crate::access::auth::UserAuth;
use crate::access::roles::may_push;
use crate::error::{ApiError, ApiResult};
use crate::review::records::actors;
use crate::storage::records::{self, LogEntry};
use crate::storage::review::{self as stored, EntryRow as Entry};
use crate::storage::{Db, Tx};
use crate::sync::memberships;
use bothy_sync_core::automerge::{ActorId, AutoCommit, ObjId, ObjType, ReadDoc, Value as AmValue};
use bothy_sync_core::merge::{self, ConflictValue, MergePolicy, QuarantinedValue, Verdict};
use bothy_sync_core::{FieldError, FieldValue, RecordDoc, RecordError, RecordKind};
use serde_bytes::ByteBuf;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The value a reviewer gave, typed for the field.
fn field_value(kind: RecordKind, field: &str, value: &Value) -> ApiResult<FieldValue> {
    match value {
        Value::String(s) => Ok(FieldValue::parse_for(kind, field, s)),
        Value::Bool(b) => Ok(FieldValue::Bool(*b)),
        Value::Number(n) => crate::input::as_whole(n)
            .map(FieldValue::Int)
            .ok_or_else(|| {
                ApiError::bad("invalid_value", format!("{field}: must be a whole number"))
            }),
        _ => Err(ApiError::bad(
            "invalid_value",
            format!("{field}: give the value as text, a whole number or true/false"),
        )),
    }
}

/// Loads a record of `project` under lock, as the server's actor.
async fn load_locked(db: &Db, tx: &mut Tx, project: &str, id: &str) -> ApiResult<RecordDoc> {
    crate::error::check_id("record_id", id)?;
    db.lock_record(tx, id).await?;
    let stored = records::load_record(tx, id)
        .await?
        .filter(|r| r.project == project)
        .ok_or_else(|| ApiError::NotFound(format!("no record {id} in project `{project}`")))?;
    let actor = crate::sync::server_actor(&mut **tx).await?;
    RecordDoc::load(&stored.doc, actor).map_err(|e| ApiError::Internal(e.into()))
}

/// Writes `value` into `field` as one change authored by the server and stores the record
/// (log, projections, conflicts, flags). Returns whether anything changed, or the field's
/// problem if the value is invalid.
async fn write_value(
    tx: &mut Tx,
    id: &str,
    doc: &mut RecordDoc,
    field: &str,
    value: FieldValue,
    now: i64,
) -> ApiResult<Result<bool, String>> {
    let project = doc
        .envelope()
        .map_err(|e| ApiError::Internal(e.into()))?
        .project;
    let hash = match doc.edit(now, |e| e.set(field, value)) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(Ok(false)),
        Err(RecordError::Invalid(errors)) => {
            return Ok(Err(bothy_sync_core::validate::describe(&errors)));
        }
        Err(e) => return Err(ApiError::Internal(e.into())),
    };
    let change = doc
        .automerge()
        .get_change_by_hash(&hash)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the new change is missing")))?;
    let flagged = doc.validate();
    records::store_merged(tx, id, doc, &flagged, now).await?;
    records::append_log(tx, vec![LogEntry::of(id, &project, None, &change)], now).await?;
    Ok(Ok(true))
}

/// A resolved conflict.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The value now kept, typed for the field.
    pub value: FieldValue,
    /// The record's heads after the resolution.
    pub heads: Vec<String>,
    /// The conflicting values the resolution replaced.
    pub replaced: Vec<ConflictValue>,
}

/// Resolves the conflict on `field` of record `record_id` in `project` by writing `value` as
/// the server, and writes the audit entry. Refuses a field not in conflict, an invalid value,
/// and a value that would refer to an erased participant.
#[allow(clippy::too_many_arguments)]
pub async fn resolve_conflict(
    db: &Db,
    tx: &mut Tx,
    reviewer: &UserAuth,
    project: &str,
    record_id: &str,
    field: &str,
    value: &Value,
    now: i64,
) -> ApiResult<Resolved> {
    db.lock_erasures(tx, false).await?;
    let mut doc = load_locked(db, tx, project, record_id).await?;
    let kind = doc
        .envelope()
        .map_err(|e| ApiError::Internal(e.into()))?
        .kind;
    let conflict = bothy_sync_core::conflicts(doc.automerge_ref())
        .into_iter()
        .find(|c| c.field == field)
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "{field} has no conflict on record {record_id} (it may have been resolved already)"
            ))
        })?;
    let value = field_value(kind, field, value)?;
    if let Err(problem) = write_value(tx, record_id, &mut doc, field, value.clone(), now).await? {
        return Err(ApiError::bad("invalid_value", problem));
    }
    refuse_erased_references(tx, record_id).await?;
    audit::record(
        &mut **tx,
        &Actor::user(reviewer),
        "conflict.resolve",
        Some(project),
        Some(record_id),
        // Values stay out of the audit log, which can never be changed: they may be personal
        // (a name, a phone number, a story) and must go when the record is erased.
        json!({"field": field, "replaced": conflict.values.len()}),
    )
    .await?;
    let heads: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
    Ok(Resolved {
        value,
        heads,
        replaced: conflict.values,
    })
}

/// A quarantine entry of a project, or 404.
pub async fn entry(
    db: impl sqlx::any::AnyExecutor<'_>,
    project: &str,
    id: i64,
) -> ApiResult<Entry> {
    stored::entry(db, id, project).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no quarantine entry {id} in project `{project}`"))
    })
}

/// An entry of any project, or of none (for server admins), or 404.
pub async fn any_entry(db: impl sqlx::any::AnyExecutor<'_>, id: i64) -> ApiResult<Entry> {
    stored::any_entry(db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no quarantine entry {id}")))
}

/// The changes an entry keeps, if it kept readable ones.
fn kept_changes(entry: &Entry) -> Option<Vec<ByteBuf>> {
    records::Kept::changes(entry.changes.as_deref()?)
}

/// For an entry that kept only a sample of unreadable bytes: how many bytes it kept.
fn sample_len(entry: &Entry) -> Option<usize> {
    match records::Kept::unpack(entry.changes.as_deref()?)? {
        records::Kept::Sample(bytes) => Some(bytes.len()),
        records::Kept::Changes(_) => None,
    }
}

/// The map at a root key, if there is one.
fn map_obj(doc: &AutoCommit, key: &str) -> Option<ObjId> {
    match doc.get(ObjId::Root, key).ok().flatten() {
        Some((AmValue::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    }
}

/// Every field path of a document with its value, for comparing two states.
fn field_values(doc: &AutoCommit) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for key in doc.keys(ObjId::Root) {
        if let Some(obj) = map_obj(doc, &key) {
            for sub in doc.keys(&obj) {
                let path = format!("{key}.{sub}");
                if let Some(v) = merge::value_at(doc, &path) {
                    out.push((path, v));
                }
            }
        } else if let Some(v) = merge::value_at(doc, &key) {
            let v = match doc.get(ObjId::Root, key.as_str()).ok().flatten() {
                Some((_, id)) if doc.text(&id).is_ok() => doc.text(&id).unwrap_or(v),
                _ => v,
            };
            out.push((key, v));
        }
    }
    out
}

/// What kept (refused) changes contain: how many, by which actors, and the values they set
/// where they can be replayed on the record as the server has it.
fn summarise(stored: Option<&[u8]>, raw: &[ByteBuf]) -> Value {
    let changes = match merge::decode_changes(raw) {
        Ok(c) => c,
        Err(e) => return json!({"count": raw.len(), "decodable": false, "error": e}),
    };
    let actors: BTreeSet<String> = changes
        .iter()
        .map(|c| c.actor_id().to_hex_string())
        .collect();
    let before = stored
        .and_then(|b| AutoCommit::load(b).ok())
        .unwrap_or_default();
    let mut after = before.clone();
    let values = match after.apply_changes(changes.iter().cloned()) {
        Ok(()) if after.get_missing_deps(&[]).is_empty() => {
            let old: BTreeSet<(String, String)> = field_values(&before).into_iter().collect();
            let set: Vec<Value> = field_values(&after)
                .into_iter()
                .filter(|fv| !old.contains(fv))
                .map(|(field, value)| json!({"field": field, "value": value}))
                .collect();
            Value::Array(set)
        }
        _ => Value::Null,
    };
    json!({
        "count": changes.len(),
        "decodable": true,
        "actors": actors,
        "project": merge::value_at(&after, "project"),
        "kind": merge::value_at(&after, "kind"),
        "values": values,
    })
}

/// A quarantine entry as a reviewer inspects it.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The entry.
    pub entry: Entry,
    /// For an entry that kept only a sample of unreadable bytes: how many bytes it kept.
    pub sample_bytes: Option<usize>,
    /// For an entry that kept readable changes: what they contain (how many, by which actors,
    /// and the values they set where they can be replayed on the record as the server has it).
    pub changes: Option<Value>,
    /// The username of the device that sent it, if the device is still known.
    pub username: Option<String>,
}

/// Entry `id` of `project` with what it keeps and who sent it, or 404.
pub async fn inspect(db: &Db, project: &str, id: i64) -> ApiResult<Inspection> {
    let entry = entry(&db.pool, project, id).await?;
    let sample_bytes = sample_len(&entry);
    let mut changes = None;
    if let Some(raw) = kept_changes(&entry) {
        let doc = crate::storage::reads::doc(&db.pool, &entry.record_id).await?;
        changes = Some(summarise(doc.as_deref(), &raw));
    }
    let mut username = None;
    if let Some(device) = &entry.device_id {
        let actors = actors(db).await?;
        if let Some((_, name)) = actors.values().find(|(d, _)| d == device) {
            username = Some(name.clone());
        }
    }
    Ok(Inspection {
        entry,
        sample_bytes,
        changes,
        username,
    })
}

/// Marks an open entry decided; refuses one already decided.
async fn decide(
    tx: &mut Tx,
    entry: &Entry,
    status: &str,
    reviewer: &UserAuth,
    reason: &str,
    now: i64,
) -> ApiResult<()> {
    let done = stored::decide(&mut **tx, entry.id, status, &reviewer.username, now, reason).await?;
    if !done {
        return Err(ApiError::Conflict(format!(
            "quarantine entry {} was already decided",
            entry.id
        )));
    }
    Ok(())
}

/// Refuses an entry that is no longer open.
fn require_open(entry: &Entry) -> ApiResult<()> {
    if entry.status != "open" {
        return Err(ApiError::Conflict(format!(
            "quarantine entry {} was already {}",
            entry.id, entry.status
        )));
    }
    Ok(())
}

/// What releasing a quarantine entry did.
#[derive(Debug, Clone)]
pub enum Released {
    /// A neutralised value was written back (or was already there).
    Value {
        /// Whether the record changed.
        written: bool,
        /// The field.
        field: String,
        /// The value as the device wrote it.
        value: String,
    },
    /// The record already had the kept changes.
    AlreadyHad,
    /// The kept changes were merged as if their device sent them now.
    Merged {
        /// How many changes were new to the record.
        merged: usize,
        /// Values set aside again as invalid (and quarantined anew).
        neutralised: Vec<QuarantinedValue>,
        /// Fields flagged for review.
        flagged: Vec<FieldError>,
    },
}

impl Released {
    /// The outcome as the answer and the audit entry show it.
    pub fn to_json(&self) -> Value {
        match self {
            Released::Value {
                written,
                field,
                value,
            } => json!({"written": written, "field": field, "value": value}),
            Released::AlreadyHad => {
                json!({"merged": 0, "note": "the record already has these changes"})
            }
            Released::Merged {
                merged,
                neutralised,
                flagged,
            } => json!({
                "merged": merged,
                "neutralised": neutralised.iter().map(|q| json!({"field": q.field, "value": q.value, "message": q.message})).collect::<Vec<_>>(),
                "flagged": flagged.iter().map(|f| json!({"field": f.field, "message": f.message})).collect::<Vec<_>>(),
            }),
        }
    }
}

/// Releases entry `id` of `project`: writes a neutralised value back, or merges kept changes as
/// if their device sent them now (re-checking its user's roles); marks the entry released with
/// the reviewer's reason and writes the audit entry. Refuses an entry already decided, a value
/// still invalid, changes still refused or not allowed, and a result that would refer to an
/// erased participant.
pub async fn release(
    db: &Db,
    tx: &mut Tx,
    reviewer: &UserAuth,
    project: &str,
    id: i64,
    reason: &str,
    now: i64,
) -> ApiResult<Released> {
    db.lock_erasures(tx, false).await?;
    let record_id = entry(&mut **tx, project, id).await?.record_id;
    db.lock_record(tx, &record_id).await?;
    // Read again under the record's lock: a concurrent decision has committed or waits.
    let entry = entry(&mut **tx, project, id).await?;
    require_open(&entry)?;
    let outcome = if entry.action == "compensated" {
        release_value(db, tx, project, &entry, now).await?
    } else {
        release_changes(db, tx, &entry, now).await?
    };
    refuse_erased_references(tx, &entry.record_id).await?;
    decide(tx, &entry, "released", reviewer, reason, now).await?;
    audit::record(
        &mut **tx,
        &Actor::user(reviewer),
        "quarantine.release",
        Some(project),
        Some(&entry.record_id),
        json!({"entry": entry.id, "action": entry.action, "code": entry.code,
               "field": entry.field, "device_id": entry.device_id,
               "reason": reason, "outcome": outcome.to_json()}),
    )
    .await?;
    Ok(outcome)
}

/// Writes a neutralised value back, if it is valid now.
async fn release_value(
    db: &Db,
    tx: &mut Tx,
    project: &str,
    entry: &Entry,
    now: i64,
) -> ApiResult<Released> {
    let (Some(field), Some(value)) = (&entry.field, &entry.value) else {
        return Err(ApiError::Conflict(format!(
            "quarantine entry {} names no field and value to write back",
            entry.id
        )));
    };
    let mut doc = load_locked(db, tx, project, &entry.record_id).await?;
    let kind = doc
        .envelope()
        .map_err(|e| ApiError::Internal(e.into()))?
        .kind;
    let typed = FieldValue::parse_for(kind, field, value);
    match write_value(tx, &entry.record_id, &mut doc, field, typed, now).await? {
        Ok(changed) => Ok(Released::Value {
            written: changed,
            field: field.clone(),
            value: value.clone(),
        }),
        Err(problem) => Err(ApiError::Conflict(format!(
            "the value {value:?} for {field} is still invalid ({problem}): fix it first (correct \
             the record or its set-up), or discard the entry"
        ))),
    }
}

/// Merges kept changes as if their device sent them now, re-checking its user's roles.
async fn release_changes(db: &Db, tx: &mut Tx, entry: &Entry, now: i64) -> ApiResult<Released> {
    let raw = kept_changes(entry).ok_or_else(|| {
        ApiError::Conflict(match sample_len(entry) {
            Some(n) => format!(
                "quarantine entry {} kept only the first {n} bytes of a push that was not \
                 Automerge changes: there is nothing to release; discard it",
                entry.id
            ),
            None => format!(
                "quarantine entry {} kept no readable changes to release",
                entry.id
            ),
        })
    })?;
    let device_id = entry.device_id.clone().unwrap_or_default();
    let device = stored::sender(&mut **tx, &device_id)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "the device that sent entry {} is no longer known",
                entry.id
            ))
        })?;
    let actor = ActorId::try_from(device.actor.as_str())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored actor is not hex: {e}")))?;
    let username = device.username;
    let roles = memberships(db, &device.user_id).await?;
    // The same rule as a sync: the user's role now, for this kind of record.
    let may_write = |project: &str, kind: Option<RecordKind>| {
        roles
            .get(project)
            .is_some_and(|r| kind.is_some_and(|k| may_push(r, k)))
    };
    let stored = records::load_record(tx, &entry.record_id).await?;
    if let Some(s) = &stored
        && !may_write(&s.project, RecordKind::parse(&s.kind))
    {
        return Err(ApiError::Conflict(format!(
            "{username} still may not write records in project `{}`: grant a role first",
            s.project
        )));
    }
    let server = crate::sync::server_actor(&mut **tx).await?;
    let doc = stored
        .as_ref()
        .map(|s| RecordDoc::load(&s.doc, server.clone()))
        .transpose()
        .map_err(|e| ApiError::Internal(e.into()))?;
    let policy = MergePolicy {
        sender_actor: actor,
        compensating_actor: server,
        now,
        relay: Default::default(),
    };
    match merge::merge_incoming(doc, &raw, &policy) {
        Verdict::AlreadyHave => Ok(Released::AlreadyHad),
        Verdict::MissingDependencies(_) => Err(ApiError::Conflict(
            "the kept changes depend on changes the server does not have: the device must sync \
             the whole record again"
                .into(),
        )),
        Verdict::Refused { code, message } => Err(ApiError::Conflict(format!(
            "the changes are still refused ({}): {message}",
            code.as_str()
        ))),
        Verdict::Accepted(acc) => {
            let mut acc = *acc;
            let env = acc
                .doc
                .envelope()
                .map_err(|e| ApiError::Internal(e.into()))?;
            let project = env.project;
            if !may_write(&project, Some(env.kind)) {
                return Err(ApiError::Conflict(format!(
                    "{username} still may not write {} records in project `{project}`: grant a \
                     role first",
                    env.kind.as_str()
                )));
            }
            let mut log = Vec::new();
            // Logged without a sending device, so the device that set its copy aside receives
            // the record back too.
            let quarantined = records::store_accepted(
                tx,
                &entry.record_id,
                &device_id,
                None,
                &mut acc,
                &mut log,
                now,
            )
            .await?;
            records::append_log(tx, log, now).await?;
            Ok(Released::Merged {
                merged: acc.new_changes.len(),
                neutralised: quarantined,
                flagged: acc.flagged,
            })
        }
    }
}

/// Discards an open quarantine entry: marks it discarded with the reviewer's reason and writes
/// the audit entry. With a `project`, only an entry of that project (else 404); without, any
/// entry, including those that name no project (for server admins). Returns the entry as it was
/// before the decision.
pub async fn discard(
    tx: &mut Tx,
    reviewer: &UserAuth,
    project: Option<&str>,
    id: i64,
    reason: &str,
    now: i64,
) -> ApiResult<Entry> {
    let entry = match project {
        Some(project) => entry(&mut **tx, project, id).await?,
        None => any_entry(&mut **tx, id).await?,
    };
    require_open(&entry)?;
    decide(tx, &entry, "discarded", reviewer, reason, now).await?;
    audit::record(
        &mut **tx,
        &Actor::user(reviewer),
        "quarantine.discard",
        project.or(entry.project.as_deref()),
        Some(&entry.record_id),
        json!({"entry": entry.id, "action": entry.action, "code": entry.code,
               "field": entry.field, "device_id": entry.device_id,
               "reason": reason}),
    )
    .await?;
    Ok(entry)
}

/// Refuses (and so rolls back) a review decision that would leave a record pointing at an
/// erased participant: a response or story about them, or an attendance mark.
async fn refuse_erased_references(tx: &mut Tx, record_id: &str) -> ApiResult<()> {
    use bothy_sync_core::record::RecordData;
    let Some(stored) = crate::storage::reads::doc(&mut **tx, record_id).await? else {
        return Ok(());
    };
    let doc = RecordDoc::load(&stored, crate::sync::server_actor(&mut **tx).await?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let view = doc.view().map_err(|e| ApiError::Internal(e.into()))?;
    let referenced: Vec<String> = match &view.data {
        RecordData::Wellbeing(w) => vec![w.participant.clone()],
        RecordData::Contact(c) => vec![c.participant.clone()],
        RecordData::Story(s) => s.participant.iter().cloned().collect(),
        RecordData::Session(s) => s.attendance.keys().cloned().collect(),
        RecordData::Participant(_) => Vec::new(),
    };
    for id in referenced {
        if crate::review::erasure::is_erased(tx, &id).await? {
            return Err(ApiError::Conflict(format!(
                "this would refer to participant {id}, who was erased; discard it instead"
            )));
        }
    }
    Ok(())
}
