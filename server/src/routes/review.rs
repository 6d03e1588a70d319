//! Review of what sync could not settle on its own: resolving true conflicts, and inspecting,
//! releasing or discarding quarantined changes. Every decision is one write transaction, made
//! in [`crate::review::decisions`]: it locks the record, changes it like a sync would (so the
//! result reaches every device through the change log), and writes its audit entry.

use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::error::{ApiError, ApiResult};
use crate::review::decisions;
use crate::routes::{JsonBody, PathParams};
use crate::state::AppState;
use crate::storage::now;
use crate::storage::review::{self as stored, EntryRow as Entry};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

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
    #[schema(schema_with = crate::input::conflict_value_schema)]
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
    let resolved = decisions::resolve_conflict(
        &state.db,
        &mut tx,
        &user,
        &slug,
        &body.record_id,
        &body.field,
        &body.value,
        now,
    )
    .await?;
    tx.commit().await?;
    let replaced: Vec<Value> = resolved
        .replaced
        .iter()
        .map(|v| json!({"value": v.value, "actor": v.actor, "time": v.time}))
        .collect();
    Ok(Json(json!({
        "record_id": body.record_id, "field": body.field, "value": resolved.value,
        "heads": resolved.heads, "replaced": replaced,
    })))
}

/// A quarantine entry as reviewers see it.
fn entry_json(entry: &Entry) -> Value {
    json!({
        "id": entry.id, "record_id": entry.record_id, "device_id": entry.device_id,
        "action": entry.action, "code": entry.code, "field": entry.field, "value": entry.value,
        "message": entry.message, "status": entry.status, "received_at": entry.received_at,
        "decided_by": entry.decided_by, "decided_at": entry.decided_at,
        "decision_reason": entry.decision_reason, "notified_at": entry.notified_at,
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
    let inspection = decisions::inspect(&state.db, &slug, id).await?;
    let mut out = entry_json(&inspection.entry);
    if let Some(n) = inspection.sample_bytes {
        out["sample_bytes"] = Value::from(n);
    }
    if let Some(changes) = inspection.changes {
        out["changes"] = changes;
    }
    if let Some(username) = inspection.username {
        out["username"] = Value::from(username);
    }
    Ok(Json(out))
}

/// A reviewer's reason.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Why (required, kept in the quarantine entry and the audit log; trimmed).
    #[serde(default)]
    #[schema(required = true, schema_with = crate::input::decision_reason_schema)]
    pub reason: String,
}

/// The reviewer's reason, trimmed; refuses an empty or overlong one.
fn reason_of(d: &Decision) -> ApiResult<String> {
    let reason = d.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::bad(
            "reason_required",
            "reason: say why (it is kept with the decision and shown to the device)",
        ));
    }
    let max = crate::input::DECISION_REASON_MAX;
    if d.reason.chars().count() > max {
        return Err(ApiError::bad(
            "invalid_reason",
            format!("reason: at most {max} characters"),
        ));
    }
    Ok(reason.to_owned())
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
    let outcome = decisions::release(&state.db, &mut tx, &user, &slug, id, &reason, now).await?;
    tx.commit().await?;
    let mut out = entry_json(&decisions::entry(&state.db.pool, &slug, id).await?);
    out["outcome"] = outcome.to_json();
    Ok(Json(out))
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
    decisions::discard(&mut tx, &user, Some(&slug), id, &reason, now).await?;
    tx.commit().await?;
    Ok(Json(entry_json(
        &decisions::entry(&state.db.pool, &slug, id).await?,
    )))
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
    let rows = stored::all_entries(
        &state.db.pool,
        q.after_id.unwrap_or(0),
        q.status.as_deref().unwrap_or_default(),
        limit,
    )
    .await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(|r| {
                json!({
                    "id": r.id, "project": r.project, "record_id": r.record_id,
                    "device_id": r.device_id, "username": r.username, "action": r.action,
                    "code": r.code, "field": r.field, "value": r.value, "message": r.message,
                    "status": r.status, "received_at": r.received_at, "kept_bytes": r.kept_bytes,
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
    let entry = decisions::discard(&mut tx, &user, None, id, &reason, now).await?;
    tx.commit().await?;
    let mut out = entry_json(&decisions::any_entry(&state.db.pool, id).await?);
    out["project"] = Value::from(entry.project);
    Ok(Json(out))
}
