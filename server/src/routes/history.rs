//! A record's provenance: who changed which field, when, from which device.

use crate::access::auth::{UserAuth, authenticate_device};
use crate::access::roles::{Capability, ProjectAccess};
use crate::analysis::redact::{self, Redactor};
use crate::error::{ApiError, ApiResult};
use crate::review::records::{Authors, load_record, member_may_read};
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A signed-in user or an enrolled device.
pub enum Caller {
    /// A user access token.
    User(UserAuth),
    /// A device credential: the rights of the device's user, through memberships only.
    Device(crate::access::auth::DeviceAuth),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match token {
            Some(t) if t.starts_with("bd1_") => {
                Ok(Caller::Device(authenticate_device(&state.db, t).await?))
            }
            _ => Ok(Caller::User(
                UserAuth::from_request_parts(parts, state).await?,
            )),
        }
    }
}

/// `GET /api/v1/projects/{slug}/records/{id}/history`: every member, a server admin, or a device
/// of a member. Analysts get the pseudonymous view ([`crate::analysis::redact`]): withheld fields without
/// their values (and a set's members unnamed), free text redacted.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/records/{id}/history",
    tag = "projects",
    security(("user_token" = []), ("device_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), ("id" = String, Path, description = "The record id")),
    responses(
        (status = 200, description = "`{\"id\",\"project\",\"changes\":[...]}`: the record's changes in causal order"),
        (status = 401, description = "no valid credential; `wipe` for a device whose wipe was ordered and not yet confirmed", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a member of the project", body = crate::openapi::ErrorBody),
        (status = 400, description = "`invalid_value`: the id is not a UUID in lower case with hyphens", body = crate::openapi::ErrorBody),
        (status = 404, description = "the record is not in that project", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let read = Capability::ReadRecords;
    let access = match &caller {
        Caller::User(user) => ProjectAccess::require(&state, user, &slug, read).await?,
        Caller::Device(device) => ProjectAccess::require(&state, device, &slug, read).await?,
    };
    let mut doc = load_record(&state.db, &slug, &id).await?;
    let kind = doc
        .envelope()
        .map_err(|e| ApiError::Internal(e.into()))?
        .kind;
    let user_id = match &caller {
        Caller::User(user) => user.user_id.as_str(),
        Caller::Device(device) => device.user_id.as_str(),
    };
    if !member_may_read(&state.db, &access, user_id, &id, kind).await? {
        return Err(ApiError::NotFound(format!(
            "no record {id} in project `{slug}`"
        )));
    }
    // Analysts see the pseudonymous view of every field (crate::analysis::redact).
    let analyst = if access.analysts_view() {
        let view = doc.view().map_err(|e| ApiError::Internal(e.into()))?;
        if !crate::analysis::access::analyst_may_read(&state.db, &view).await? {
            return Err(ApiError::NotFound(format!(
                "no record {id} in project `{slug}`"
            )));
        }
        Some((view.kind, Redactor::load(&state.db, &slug).await?))
    } else {
        None
    };
    let entries = bothy_sync_core::history::history(doc.automerge());

    let authors = Authors::load(&state.db).await?;
    let received: HashMap<String, (i64, Option<String>)> =
        crate::storage::reads::received(&state.db.pool, &id)
            .await?
            .into_iter()
            .map(|r| (r.hash, (r.received_at, r.device_id)))
            .collect();
    let changes: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let (author, device_id, device_name, username) = authors.of(&e.actor);
            let (received_at, sent_by) = received
                .get(&e.hash)
                .cloned()
                .map(|(at, d)| (Some(at), d))
                .unwrap_or((None, None));
            let fields: Vec<Value> = e
                .fields
                .iter()
                .map(|f| match &analyst {
                    None => json!({"field": f.field, "op": f.op, "value": f.value}),
                    Some((kind, r)) => json!({
                        "field": redact::analyst_path(*kind, &f.field, r),
                        "op": f.op,
                        "value": f.value.as_deref()
                            .and_then(|v| redact::analyst_value(*kind, &f.field, v, r)),
                    }),
                })
                .collect();
            json!({
                "hash": e.hash, "actor": e.actor, "seq": e.seq, "deps": e.deps,
                "author": author, "device_id": device_id, "device_name": device_name,
                "username": username, "device_time": e.time, "received_at": received_at,
                "received_from": sent_by, "fields": fields,
            })
        })
        .collect();
    Ok(Json(json!({"id": id, "project": slug, "changes": changes})))
}
