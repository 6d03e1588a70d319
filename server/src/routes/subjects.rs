//! Participants' subject rights: an export of everything held about one participant (access),
//! and their erasure (sync contract 8; the work is done in [`crate::review::erasure`]). Project admins
//! and coordinators, and server admins, may do both; each is written to the audit log with
//! counts only.

use crate::access::audit::{self, Actor};
use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::error::{ApiError, ApiResult};
use crate::review::erasure::{self, Erasure, ErasureCounts};
use crate::review::records::Authors;
use crate::routes::PathParams;
use crate::state::AppState;
use crate::storage::{self, now, reads};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use bothy_sync_core::{RecordData, RecordDoc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Longest erasure reason kept.
const MAX_REASON: usize = 500;

/// One record as exported: its current values (direct identifiers included), derived score,
/// open conflicts, review flags and whole history. `None` if the server holds no such record.
async fn export_record(
    state: &AppState,
    slug: &str,
    id: &str,
    authors: &Authors,
) -> ApiResult<Option<Value>> {
    let Some(row) = reads::dated_doc(&state.db.pool, id, slug).await? else {
        return Ok(None);
    };
    let mut doc = RecordDoc::load(&row.doc, crate::sync::server_actor(&state.db.pool).await?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let view = doc.view().map_err(|e| ApiError::Internal(e.into()))?;
    let score = match &view.data {
        RecordData::Wellbeing(w) => Some(w.score_in(&view.project)),
        _ => None,
    };
    let conflicts: Vec<Value> = bothy_sync_core::conflicts(doc.automerge_ref())
        .iter()
        .map(|c| json!({"field": c.field, "values": c.values}))
        .collect();
    let flags: Vec<Value> = doc
        .validate()
        .iter()
        .map(|f| json!({"field": f.field, "message": f.message}))
        .collect();
    let received: HashMap<String, i64> = reads::received_at(&state.db.pool, id)
        .await?
        .into_iter()
        .map(|r| (r.hash, r.received_at))
        .collect();
    let history: Vec<Value> = bothy_sync_core::history::history(doc.automerge())
        .into_iter()
        .map(|e| {
            let (author, device_id, device_name, username) = authors.of(&e.actor);
            json!({
                "hash": e.hash, "actor": e.actor, "author": author, "device_id": device_id,
                "device_name": device_name, "username": username, "device_time": e.time,
                "received_at": received.get(&e.hash), "fields": e.fields,
            })
        })
        .collect();
    Ok(Some(json!({
        "id": id, "kind": view.kind, "created": view.created,
        "stored_at": row.created_at, "updated_at": row.updated_at,
        "record": view.data, "score": score, "conflicts": conflicts, "flags": flags,
        "history": history,
    })))
}

/// `GET /api/v1/projects/{slug}/participants/{id}/export`: project admins and coordinators,
/// server admins.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/participants/{id}/export",
    tag = "subjects",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), ("id" = String, Path, description = "The participant's record id")),
    responses(
        (status = 200, description = "`{\"participant_id\",\"project\",\"exported_at\",\"erased\",\"participant\",\"contacts\",\"retired_document\",\"wellbeing_responses\",\"stories\",\"sessions\",\"quarantine\",\"conflicts\"}`: everything held about the participant, direct identifiers (their contact records) included (after an erasure: the tombstones only)"),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin or coordinator of the project", body = crate::openapi::ErrorBody),
        (status = 400, description = "`invalid_value`: the id is not a UUID in lower case with hyphens", body = crate::openapi::ErrorBody),
        (status = 404, description = "the project holds no such participant and never did", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams((slug, id)): PathParams<(String, String)>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &slug, Capability::SubjectRights).await?;
    crate::error::check_id("id", &id)?;
    let authors = Authors::load(&state.db).await?;
    let tombstones = erasure::tombstones_of(&state.db.pool, &slug, &id).await?;
    let participant = export_record(&state, &slug, &id, &authors)
        .await?
        .filter(|p| p["kind"] == "participant");
    let mut wellbeing = Vec::new();
    for rid in reads::responses_about(&state.db.pool, &id, &slug).await? {
        wellbeing.extend(export_record(&state, &slug, &rid, &authors).await?);
    }
    let mut contacts = Vec::new();
    for rid in reads::contacts_of(&state.db.pool, &id, &slug).await? {
        contacts.extend(export_record(&state, &slug, &rid, &authors).await?);
    }
    let mut stories = Vec::new();
    for rid in reads::stories_about(&state.db.pool, &id, &slug).await? {
        stories.extend(export_record(&state, &slug, &rid, &authors).await?);
    }
    let sessions: Vec<Value> = reads::attended(&state.db.pool, &id, &slug)
        .await?
        .into_iter()
        .map(|a| {
            json!({
                "session_id": a.session_id, "mark": a.status, "site": a.site,
                "activity": a.activity, "activity_type": a.activity_type,
                "starts_at": a.starts_at, "ends_at": a.ends_at,
            })
        })
        .collect();
    // Their document in the format before contact records, kept on the server only.
    let retired = crate::review::contacts::retired_values(&state.db, &id).await?;
    // Their records' ids, for quarantine and conflicts.
    let mut own: Vec<String> = vec![id.clone()];
    for r in wellbeing.iter().chain(&stories).chain(&contacts) {
        if let Some(rid) = r["id"].as_str() {
            own.push(rid.to_owned());
        }
    }
    // Refused new responses and stories about them, kept only in quarantine.
    for (_, record, _) in erasure::refused_about(&state.db.pool, &slug, &id).await? {
        if !own.contains(&record) {
            own.push(record);
        }
    }
    let mark = format!("attendance.{id}");
    let mut quarantine = Vec::new();
    for rid in &own {
        quarantine
            .extend(storage::review::open_quarantine_of_record(&state.db.pool, rid, &slug).await?);
    }
    quarantine
        .extend(storage::review::open_quarantine_of_field(&state.db.pool, &mark, &slug).await?);
    let mut conflicts = Vec::new();
    for rid in &own {
        let rows = storage::review::conflicts_of_record(&state.db.pool, rid).await?;
        conflicts.extend(rows.iter().map(conflict_json));
    }
    let rows = storage::review::conflicts_of_field(&state.db.pool, &mark, &slug).await?;
    conflicts.extend(rows.iter().map(conflict_json));

    if participant.is_none() && tombstones.is_empty() && quarantine.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no participant {id} in project `{slug}`"
        )));
    }
    let erased = tombstones.first().map(|t| {
        json!({"seq": t.seq, "erased_at": t.erased_at, "erased_by": t.erased_by,
               "records": tombstones.iter().map(|t| json!({"record_id": t.record_id, "kind": t.kind})).collect::<Vec<_>>()})
    });
    let history_entries: usize = participant
        .iter()
        .chain(&contacts)
        .chain(&wellbeing)
        .chain(&stories)
        .map(|r| r["history"].as_array().map_or(0, Vec::len))
        .sum();
    audit::record(
        &state.db.pool,
        &Actor::user(&user),
        "participant.export",
        Some(&slug),
        Some(&id),
        json!({
            "participant": u8::from(participant.is_some()), "contacts": contacts.len(),
            "wellbeing_responses": wellbeing.len(), "stories": stories.len(), "sessions": sessions.len(), "history_entries": history_entries,
            "quarantine_entries": quarantine.len(), "conflicts": conflicts.len(),
            "erased": erased.is_some(),
        }),
    )
    .await?;
    Ok(Json(json!({
        "participant_id": id, "project": slug, "exported_at": now(), "erased": erased,
        "participant": participant, "contacts": contacts, "retired_document": retired,
        "wellbeing_responses": wellbeing, "stories": stories,
        "sessions": sessions, "quarantine": quarantine, "conflicts": conflicts,
    })))
}

fn conflict_json(r: &storage::review::ConflictRow) -> Value {
    let values: Value = serde_json::from_str(&r.conflict_values).unwrap_or(Value::Null);
    json!({"record_id": r.record_id, "kind": r.kind, "field": r.field, "values": values})
}

/// An erasure request.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// Why (e.g. "withdrew consent, request of 3 November"); kept in the audit log, so it must
    /// not name or describe the person. At most 500 characters.
    #[serde(default)]
    #[schema(schema_with = erase_reason_schema)]
    pub reason: Option<String>,
}

fn erase_reason_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ]))
        .max_length(Some(MAX_REASON))
        .build()
}

/// `POST /api/v1/projects/{slug}/participants/{id}/erase`: project admins and coordinators,
/// server admins. Idempotent: erasing an erased participant answers 200 with
/// `already_erased: true` and zero counts.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{slug}/participants/{id}/erase",
    tag = "subjects",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), ("id" = String, Path, description = "The participant's record id")),
    request_body(content = Option<EraseRequest>, description = "Optional: `{\"reason\"}`; an empty body will do"),
    responses(
        (status = 200, description = "`{\"participant_id\",\"project\",\"already_erased\",\"seq\",\"erased_at\",\"counts\"}`"),
        (status = 400, description = "`invalid_json`, `invalid_reason`, or `invalid_value`: the id is not a UUID in lower case with hyphens", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not an admin or coordinator of the project", body = crate::openapi::ErrorBody),
        (status = 404, description = "the project holds no such participant", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn erase(
    State(state): State<AppState>,
    user: UserAuth,
    PathParams((slug, id)): PathParams<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &slug, Capability::SubjectRights).await?;
    crate::error::check_id("id", &id)?;
    // Only a body with nothing in it means "no reason"; white space alone is not JSON.
    let request: EraseRequest = if body.is_empty() {
        EraseRequest::default()
    } else {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad("invalid_json", e.to_string()))?;
        match value {
            // `null` says no more than an empty body.
            Value::Null => EraseRequest::default(),
            Value::Object(_) => serde_json::from_value(value)
                .map_err(|e| ApiError::bad("invalid_json", e.to_string()))?,
            _ => {
                return Err(ApiError::bad(
                    "invalid_json",
                    "the body must be a JSON object, `null` or empty",
                ));
            }
        }
    };
    let reason = crate::input::optional_text(
        "reason",
        "invalid_reason",
        request.reason.as_deref(),
        MAX_REASON,
    )?;
    let now = now();
    let mut tx = state.db.begin_write().await?;
    match erasure::erase_participant(&state.db, &mut tx, &slug, &id, Some(&user.user_id), now)
        .await?
    {
        Erasure::Done { counts, seq } => {
            audit::record(
                &mut *tx,
                &Actor::user(&user),
                "participant.erase",
                Some(&slug),
                Some(&id),
                json!({"counts": counts, "seq": seq, "reason": reason}),
            )
            .await?;
            tx.commit().await?;
            tracing::info!(project = %slug, tombstones = counts.tombstones, "participant erased");
            if let Err(e) = erasure::scrub(&state.db, &id).await {
                tracing::error!(error = %e, "erased data could not be scrubbed from the database files");
            }
            Ok(Json(json!({
                "participant_id": id, "project": slug, "already_erased": false, "seq": seq,
                "erased_at": now, "counts": counts,
            })))
        }
        Erasure::AlreadyErased(t) => {
            tx.rollback().await?;
            Ok(Json(json!({
                "participant_id": id, "project": slug, "already_erased": true, "seq": t.seq,
                "erased_at": t.erased_at, "counts": ErasureCounts::default(),
            })))
        }
    }
}
