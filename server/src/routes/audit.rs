//! Reading the audit log. There is deliberately no route that changes or deletes an entry, and
//! the database refuses updates and deletes of `audit_log` rows.

use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

/// Filters and paging for audit reads.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this project.
    pub project: Option<String>,
    /// Only this action (`device.enrol`), or a family of actions (`device`).
    pub action: Option<String>,
    /// Entries with a larger id, oldest first (paging forward through the whole log).
    pub after_id: Option<i64>,
    /// Entries with a smaller id, newest first (paging back from the newest).
    pub before_id: Option<i64>,
    /// At most this many entries (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// `GET /api/v1/admin/audit`: server admins only.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "audit",
    security(("user_token" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "`[{\"id\",\"at\",\"user_id\",\"username\",\"device_id\",\"action\",\"project\",\"target\",\"details\"}]`"),
        (status = 400, description = "`invalid_limit` or `invalid_query`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn admin_audit(
    State(state): State<AppState>,
    user: UserAuth,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let q = query(q)?;
    let project = q.project.clone();
    entries(&state, q, project).await
}

/// `GET /api/v1/projects/{slug}/audit`: the project's admins and coordinators (and server
/// admins who are not members).
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/audit",
    tag = "audit",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), ("action" = Option<String>, Query, description = "One action (`device.enrol`) or a family (`device`)"), ("after_id" = Option<i64>, Query, description = "Entries after this id, oldest first"), ("before_id" = Option<i64>, Query, description = "Entries before this id, newest first"), ("limit" = Option<i64>, Query, description = "At most this many (default 100, 1 to 1000)", minimum = 1, maximum = 1000)),
    responses(
        (status = 200, description = "The project's audit entries, as `GET /api/v1/admin/audit`"),
        (status = 400, description = "`invalid_limit` or `invalid_query`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a coordinator or admin of the project", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn project_audit(
    State(state): State<AppState>,
    user: UserAuth,
    Path(slug): Path<String>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &slug, Capability::ReadAudit).await?;
    entries(&state, query(q)?, Some(slug)).await
}

fn query(q: Result<Query<AuditQuery>, QueryRejection>) -> ApiResult<AuditQuery> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad("invalid_query", e.body_text()))
}

async fn entries(
    state: &AppState,
    q: AuditQuery,
    project: Option<String>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad("invalid_limit", "limit must be 1 to 1000"));
    }
    let filter = crate::storage::audit::EntryFilter {
        project,
        action: q.action,
        after_id: q.after_id,
        before_id: q.before_id,
        limit,
    };
    let rows = crate::storage::audit::entries(&state.db.pool, &filter).await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(|r| {
                json!({
                    "id": r.id, "at": r.at,
                    "user_id": r.actor_user_id,
                    "username": r.actor_username,
                    "device_id": r.device_id,
                    "action": r.action,
                    "project": r.project,
                    "target": r.target,
                    "details": serde_json::from_str::<Value>(&r.details).unwrap_or(Value::String(r.details)),
                })
            })
            .collect(),
    )))
}
