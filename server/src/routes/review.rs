//! Review of what sync could not settle on its own: resolving true conflicts, and inspecting,
//! releasing or discarding quarantined changes. Every decision is one write transaction that
//! locks the record, changes it like a sync would (so the result reaches every device through
//! the change log), and writes its audit entry.

use crate::access::audit::{self, Actor};
use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess, may_push};
use crate::error::{ApiError, ApiResult};
use crate::routes::projects::actors;
use crate::routes::{JsonBody, PathParams};
use crate::state::AppState;
use crate::storage::records::{self, LogEntry};
use crate::storage::{Tx, now};
use crate::sync::memberships;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use bothy_sync_core::automerge::{ActorId, AutoCommit, ObjId, ObjType, ReadDoc, Value as AmValue};
use bothy_sync_core::merge::{self, MergePolicy, Verdict};
use bothy_sync_core::{FieldValue, RecordDoc, RecordError, RecordKind};
use serde::Deserialize;
use serde_bytes::ByteBuf;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::BTreeSet;

/// The value a reviewer gave, typed for the field.
fn field_value(kind: RecordKind, field: &str, value: &Value) -> ApiResult<FieldValue> {
    match value {
        Value::String(s) => Ok(FieldValue::parse_for(kind, field, s)),
        Value::Bool(b) => Ok(FieldValue::Bool(*b)),
        Value::Number(n) => super::input::as_whole(n)
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
async fn load_locked(
    state: &AppState,
    tx: &mut Tx,
    project: &str,
    id: &str,
) -> ApiResult<RecordDoc> {
    crate::error::check_id("record_id", id)?;
    state.db.lock_record(tx, id).await?;
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

/// A conflict resolution.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// The record.
    #[schema(format = "uuid")]
    pub record_id: String,
    /// The field in conflict (`items.3`, `end`, `attendance.<id>`...).
    pub field: String,
    /// The value to keep: one of the conflicting values or a new one.
    #[schema(schema_with = super::input::conflict_value_schema)]
    pub value: Value,
}

/// `POST /api/v1/projects/{slug}/conflicts/resolve`: admins, coordinators, researchers.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{slug}/conflicts/resolve",
    tag = "review",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug")),
    request_body = Resolve,
    responses(
        (status = 200, description = "`{\"record_id\",\"field\",\"value\",\"heads\",\"replaced\"}`"),
        (status = 400, description = "`invalid_json` or `invalid_value`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin, coordinator or researcher of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "the record is not in that project", body = crate::openapi::ErrorBody),
        (status = 409, description = "the field is not in conflict", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn resolve_conflict(
    State(state): State<AppState>,
    user: UserAuth,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<Resolve>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &slug, Capability::ResolveConflicts).await?;
    let now = now();
    let mut tx = state.db.begin_write().await?;
    state.db.lock_erasures(&mut tx, false).await?;
    let mut doc = load_locked(&state, &mut tx, &slug, &body.record_id).await?;
    let kind = doc
        .envelope()
        .map_err(|e| ApiError::Internal(e.into()))?
        .kind;
    let conflict = bothy_sync_core::conflicts(doc.automerge_ref())
        .into_iter()
        .find(|c| c.field == body.field)
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "{} has no conflict on record {} (it may have been resolved already)",
                body.field, body.record_id
            ))
        })?;
    let value = field_value(kind, &body.field, &body.value)?;
    if let Err(problem) = write_value(
        &mut tx,
        &body.record_id,
        &mut doc,
        &body.field,
        value.clone(),
        now,
    )
    .await?
    {
        return Err(ApiError::bad("invalid_value", problem));
    }
    refuse_erased_references(&mut tx, &body.record_id).await?;
    let replaced: Vec<Value> = conflict
        .values
        .iter()
        .map(|v| json!({"value": v.value, "actor": v.actor, "time": v.time}))
        .collect();
    audit::record(
        &mut *tx,
        &Actor::user(&user),
        "conflict.resolve",
        Some(&slug),
        Some(&body.record_id),
        // Values stay out of the audit log, which can never be changed: they may be personal
        // (a name, a phone number, a story) and must go when the record is erased.
        json!({"field": body.field, "replaced": replaced.len()}),
    )
    .await?;
    let heads: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
    tx.commit().await?;
    Ok(Json(json!({
        "record_id": body.record_id, "field": body.field, "value": value, "heads": heads,
        "replaced": replaced,
    })))
}

/// One quarantine entry as stored.
struct Entry {
    id: i64,
    project: Option<String>,
    record_id: String,
    device_id: Option<String>,
    action: String,
    code: String,
    field: Option<String>,
    value: Option<String>,
    message: String,
    changes: Option<Vec<u8>>,
    status: String,
    received_at: i64,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    decision_reason: Option<String>,
    notified_at: Option<i64>,
}

impl Entry {
    fn json(&self) -> Value {
        json!({
            "id": self.id, "record_id": self.record_id, "device_id": self.device_id,
            "action": self.action, "code": self.code, "field": self.field, "value": self.value,
            "message": self.message, "status": self.status, "received_at": self.received_at,
            "decided_by": self.decided_by, "decided_at": self.decided_at,
            "decision_reason": self.decision_reason, "notified_at": self.notified_at,
        })
    }

    fn changes(&self) -> Option<Vec<ByteBuf>> {
        records::Kept::changes(self.changes.as_deref()?)
    }

    /// For an entry that kept only a sample of unreadable bytes: how many bytes it kept.
    fn sample_len(&self) -> Option<usize> {
        match records::Kept::unpack(self.changes.as_deref()?)? {
            records::Kept::Sample(bytes) => Some(bytes.len()),
            records::Kept::Changes(_) => None,
        }
    }
}

const ENTRY_COLUMNS: &str = "SELECT id, project, record_id, device_id, action, code, field, \
     value, message, changes, status, received_at, decided_by, decided_at, decision_reason, \
     notified_at FROM quarantine";

async fn load_entry<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    slug: &str,
    id: i64,
) -> ApiResult<Entry> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ENTRY_COLUMNS} WHERE id = $1 AND project = $2"
    )))
    .bind(id)
    .bind(slug)
    .fetch_optional(executor)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no quarantine entry {id} in project `{slug}`")))?;
    Ok(entry_of(&r))
}

/// An entry of any project, or of none (for server admins).
async fn load_any_entry<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    id: i64,
) -> ApiResult<Entry> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ENTRY_COLUMNS} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(executor)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no quarantine entry {id}")))?;
    Ok(entry_of(&r))
}

fn entry_of(r: &sqlx::any::AnyRow) -> Entry {
    Entry {
        id: r.get("id"),
        project: r.get("project"),
        record_id: r.get("record_id"),
        device_id: r.get("device_id"),
        action: r.get("action"),
        code: r.get("code"),
        field: r.get("field"),
        value: r.get("value"),
        message: r.get("message"),
        changes: r.get("changes"),
        status: r.get("status"),
        received_at: r.get("received_at"),
        decided_by: r.get("decided_by"),
        decided_at: r.get("decided_at"),
        decision_reason: r.get("decision_reason"),
        notified_at: r.get("notified_at"),
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

/// `GET /api/v1/projects/{slug}/quarantine/{id}`: coordinators and admins.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/quarantine/{id}",
    tag = "review",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), ("id" = i64, Path, description = "The quarantine entry id")),
    responses(
        (status = 200, description = "The entry, with its decision and, for refused changes, a summary of them"),
        (status = 400, description = "`invalid_path`: the entry id is not a number", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a coordinator or admin of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "the entry is not in that project", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn quarantine_entry(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams((slug, id)): PathParams<(String, i64)>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &slug, Capability::ReviewQuarantine).await?;
    let entry = load_entry(&state.db.pool, &slug, id).await?;
    let mut out = entry.json();
    if let Some(n) = entry.sample_len() {
        out["sample_bytes"] = Value::from(n);
    }
    if let Some(raw) = entry.changes() {
        let stored: Option<(Vec<u8>,)> = sqlx::query_as("SELECT doc FROM records WHERE id = $1")
            .bind(&entry.record_id)
            .fetch_optional(&state.db.pool)
            .await?;
        out["changes"] = summarise(stored.as_ref().map(|(d,)| d.as_slice()), &raw);
    }
    if let Some(device) = &entry.device_id {
        let actors = actors(&state).await?;
        if let Some((_, username)) = actors.values().find(|(d, _)| d == device) {
            out["username"] = Value::from(username.clone());
        }
    }
    Ok(Json(out))
}

/// A reviewer's reason.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Why (required, kept in the quarantine entry and the audit log; trimmed).
    #[serde(default)]
    #[schema(required = true, schema_with = super::input::decision_reason_schema)]
    pub reason: String,
}

fn reason_of(d: &Decision) -> ApiResult<String> {
    let reason = d.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::bad(
            "reason_required",
            "reason: say why (it is kept with the decision and shown to the device)",
        ));
    }
    let max = super::input::DECISION_REASON_MAX;
    if d.reason.chars().count() > max {
        return Err(ApiError::bad(
            "invalid_reason",
            format!("reason: at most {max} characters"),
        ));
    }
    Ok(reason.to_owned())
}

/// Marks an open entry decided; refuses one already decided.
async fn decide(
    tx: &mut Tx,
    entry: &Entry,
    status: &str,
    user: &UserAuth,
    reason: &str,
    now: i64,
) -> ApiResult<()> {
    let done = sqlx::query(
        "UPDATE quarantine SET status = $1, decided_by = $2, decided_at = $3, \
         decision_reason = $4 WHERE id = $5 AND status = 'open'",
    )
    .bind(status)
    .bind(&user.username)
    .bind(now)
    .bind(reason)
    .bind(entry.id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::Conflict(format!(
            "quarantine entry {} was already decided",
            entry.id
        )));
    }
    Ok(())
}

fn require_open(entry: &Entry) -> ApiResult<()> {
    if entry.status != "open" {
        return Err(ApiError::Conflict(format!(
            "quarantine entry {} was already {}",
            entry.id, entry.status
        )));
    }
    Ok(())
}

/// `POST /api/v1/projects/{slug}/quarantine/{id}/release`: coordinators and admins.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{slug}/quarantine/{id}/release",
    tag = "review",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), ("id" = i64, Path, description = "The quarantine entry id")),
    request_body = Decision,
    responses(
        (status = 200, description = "The entry, now `released`, with `outcome`"),
        (status = 400, description = "`invalid_json`, `reason_required` or `invalid_reason` (over 2000 characters)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a coordinator or admin of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "the entry is not in that project", body = crate::openapi::ErrorBody),
        (status = 409, description = "already decided, or still invalid or not allowed", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams((slug, id)): PathParams<(String, i64)>,
    JsonBody(body): JsonBody<Decision>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &slug, Capability::ReviewQuarantine).await?;
    let reason = reason_of(&body)?;
    let now = now();
    let mut tx = state.db.begin_write().await?;
    state.db.lock_erasures(&mut tx, false).await?;
    let record_id = load_entry(&mut *tx, &slug, id).await?.record_id;
    state.db.lock_record(&mut tx, &record_id).await?;
    // Read again under the record's lock: a concurrent decision has committed or waits.
    let entry = load_entry(&mut *tx, &slug, id).await?;
    require_open(&entry)?;
    let outcome = if entry.action == "compensated" {
        release_value(&state, &mut tx, &slug, &entry, now).await?
    } else {
        release_changes(&state, &mut tx, &entry, now).await?
    };
    refuse_erased_references(&mut tx, &entry.record_id).await?;
    decide(&mut tx, &entry, "released", &user, &reason, now).await?;
    audit::record(
        &mut *tx,
        &Actor::user(&user),
        "quarantine.release",
        Some(&slug),
        Some(&entry.record_id),
        json!({"entry": entry.id, "action": entry.action, "code": entry.code,
               "field": entry.field, "device_id": entry.device_id,
               "reason": reason, "outcome": outcome}),
    )
    .await?;
    tx.commit().await?;
    let mut out = load_entry(&state.db.pool, &slug, id).await?.json();
    out["outcome"] = outcome;
    Ok(Json(out))
}

/// Writes a neutralised value back, if it is valid now.
async fn release_value(
    state: &AppState,
    tx: &mut Tx,
    slug: &str,
    entry: &Entry,
    now: i64,
) -> ApiResult<Value> {
    let (Some(field), Some(value)) = (&entry.field, &entry.value) else {
        return Err(ApiError::Conflict(format!(
            "quarantine entry {} names no field and value to write back",
            entry.id
        )));
    };
    let mut doc = load_locked(state, tx, slug, &entry.record_id).await?;
    let kind = doc
        .envelope()
        .map_err(|e| ApiError::Internal(e.into()))?
        .kind;
    let typed = FieldValue::parse_for(kind, field, value);
    match write_value(tx, &entry.record_id, &mut doc, field, typed, now).await? {
        Ok(changed) => Ok(json!({"written": changed, "field": field, "value": value})),
        Err(problem) => Err(ApiError::Conflict(format!(
            "the value {value:?} for {field} is still invalid ({problem}): fix it first (correct \
             the record or its set-up), or discard the entry"
        ))),
    }
}

/// Merges kept changes as if their device sent them now, re-checking its user's roles.
async fn release_changes(
    state: &AppState,
    tx: &mut Tx,
    entry: &Entry,
    now: i64,
) -> ApiResult<Value> {
    let raw = entry.changes().ok_or_else(|| {
        ApiError::Conflict(match entry.sample_len() {
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
    let device = sqlx::query(
        "SELECT d.actor, d.user_id, u.username FROM devices d JOIN users u ON u.id = d.user_id \
         WHERE d.id = $1",
    )
    .bind(&device_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| {
        ApiError::Conflict(format!(
            "the device that sent entry {} is no longer known",
            entry.id
        ))
    })?;
    let actor = ActorId::try_from(device.get::<String, _>("actor").as_str())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored actor is not hex: {e}")))?;
    let username: String = device.get("username");
    let roles = memberships(&state.db, &device.get::<String, _>("user_id")).await?;
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
        Verdict::AlreadyHave => {
            Ok(json!({"merged": 0, "note": "the record already has these changes"}))
        }
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
            Ok(json!({
                "merged": acc.new_changes.len(),
                "neutralised": quarantined.iter().map(|q| json!({"field": q.field, "value": q.value, "message": q.message})).collect::<Vec<_>>(),
                "flagged": acc.flagged.iter().map(|f| json!({"field": f.field, "message": f.message})).collect::<Vec<_>>(),
            }))
        }
    }
}

/// `POST /api/v1/projects/{slug}/quarantine/{id}/discard`: coordinators and admins. The entry
/// is kept, marked discarded.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{slug}/quarantine/{id}/discard",
    tag = "review",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), ("id" = i64, Path, description = "The quarantine entry id")),
    request_body = Decision,
    responses(
        (status = 200, description = "The entry, now `discarded`"),
        (status = 400, description = "`invalid_json`, `reason_required` or `invalid_reason` (over 2000 characters)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a coordinator or admin of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "the entry is not in that project", body = crate::openapi::ErrorBody),
        (status = 409, description = "already decided", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn discard(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams((slug, id)): PathParams<(String, i64)>,
    JsonBody(body): JsonBody<Decision>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &slug, Capability::ReviewQuarantine).await?;
    let reason = reason_of(&body)?;
    let now = now();
    let mut tx = state.db.begin_write().await?;
    let entry = load_entry(&mut *tx, &slug, id).await?;
    require_open(&entry)?;
    decide(&mut tx, &entry, "discarded", &user, &reason, now).await?;
    audit::record(
        &mut *tx,
        &Actor::user(&user),
        "quarantine.discard",
        Some(&slug),
        Some(&entry.record_id),
        json!({"entry": entry.id, "action": entry.action, "code": entry.code,
               "field": entry.field, "device_id": entry.device_id,
               "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(load_entry(&state.db.pool, &slug, id).await?.json()))
}

/// Filters and paging for the server admin's quarantine list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminQuarantineQuery {
    /// Only entries in this status: `open`, `released` or `discarded`.
    #[param(pattern = "^(open|released|discarded)$")]
    pub status: Option<String>,
    /// Entries with a larger id, oldest first (paging forward).
    pub after_id: Option<i64>,
    /// At most this many entries (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// `GET /api/v1/admin/quarantine`: server admins only. Every entry, whatever its project, and
/// those that name no project (pushes whose bytes named none), with who sent it and what it
/// keeps.
#[utoipa::path(
    get,
    path = "/api/v1/admin/quarantine",
    tag = "review",
    security(("user_token" = [])),
    params(AdminQuarantineQuery),
    responses(
        (status = 200, description = "`[{\"id\",\"project\",\"record_id\",\"device_id\",\"username\",\"action\",\"code\",\"field\",\"value\",\"message\",\"status\",\"received_at\",\"kept_bytes\"}]` oldest first; `project` is null for entries that name none; `kept_bytes` is what the entry stores, compressed"),
        (status = 400, description = "`invalid_limit`, `invalid_status` or `invalid_query`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn admin_quarantine(
    State(state): State<AppState>,
    user: UserAuth,
    q: Result<Query<AdminQuarantineQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let Query(q) = q.map_err(|e| ApiError::bad("invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad("invalid_limit", "limit must be 1 to 1000"));
    }
    if let Some(status) = &q.status
        && !["open", "released", "discarded"].contains(&status.as_str())
    {
        return Err(ApiError::bad(
            "invalid_status",
            "status must be open, released or discarded",
        ));
    }
    let rows = sqlx::query(
        "SELECT q.id, q.project, q.record_id, q.device_id, u.username, q.action, q.code, \
         q.field, q.value, q.message, q.status, q.received_at, \
         CAST(COALESCE(LENGTH(q.changes), 0) AS BIGINT) AS kept_bytes \
         FROM quarantine q LEFT JOIN devices d ON d.id = q.device_id \
         LEFT JOIN users u ON u.id = d.user_id \
         WHERE q.id > $1 AND ($2 = '' OR q.status = $2) ORDER BY q.id LIMIT $3",
    )
    .bind(q.after_id.unwrap_or(0))
    .bind(q.status.unwrap_or_default())
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(Value::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "id": r.get::<i64, _>("id"), "project": r.get::<Option<String>, _>("project"),
                    "record_id": r.get::<String, _>("record_id"),
                    "device_id": r.get::<Option<String>, _>("device_id"),
                    "username": r.get::<Option<String>, _>("username"),
                    "action": r.get::<String, _>("action"), "code": r.get::<String, _>("code"),
                    "field": r.get::<Option<String>, _>("field"),
                    "value": r.get::<Option<String>, _>("value"),
                    "message": r.get::<String, _>("message"), "status": r.get::<String, _>("status"),
                    "received_at": r.get::<i64, _>("received_at"),
                    "kept_bytes": r.get::<i64, _>("kept_bytes"),
                })
            })
            .collect(),
    )))
}

/// `POST /api/v1/admin/quarantine/{id}/discard`: server admins only; any entry, including
/// those that name no project. The entry is kept, marked discarded, and no longer counts
/// against its device's quota.
#[utoipa::path(
    post,
    path = "/api/v1/admin/quarantine/{id}/discard",
    tag = "review",
    security(("user_token" = [])),
    params(("id" = i64, Path, description = "The quarantine entry id")),
    request_body = Decision,
    responses(
        (status = 200, description = "The entry, now `discarded`"),
        (status = 400, description = "`invalid_json`, `invalid_path` or `reason_required`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such entry", body = crate::openapi::ErrorBody),
        (status = 409, description = "already decided", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn admin_discard(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams(id): PathParams<i64>,
    JsonBody(body): JsonBody<Decision>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let reason = reason_of(&body)?;
    let now = now();
    let mut tx = state.db.begin_write().await?;
    let entry = load_any_entry(&mut *tx, id).await?;
    require_open(&entry)?;
    decide(&mut tx, &entry, "discarded", &user, &reason, now).await?;
    audit::record(
        &mut *tx,
        &Actor::user(&user),
        "quarantine.discard",
        entry.project.as_deref(),
        Some(&entry.record_id),
        json!({"entry": entry.id, "action": entry.action, "code": entry.code,
               "field": entry.field, "device_id": entry.device_id,
               "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    let mut out = load_any_entry(&state.db.pool, id).await?.json();
    out["project"] = Value::from(entry.project);
    Ok(Json(out))
}

/// Refuses (and so rolls back) a review decision that would leave a record pointing at an
/// erased participant: a response or story about them, or an attendance mark.
async fn refuse_erased_references(tx: &mut crate::storage::Tx, record_id: &str) -> ApiResult<()> {
    use bothy_sync_core::record::RecordData;
    let Some(row) = sqlx::query("SELECT doc FROM records WHERE id = $1")
        .bind(record_id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(());
    };
    let doc = RecordDoc::load(
        &row.get::<Vec<u8>, _>("doc"),
        crate::sync::server_actor(&mut **tx).await?,
    )
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
