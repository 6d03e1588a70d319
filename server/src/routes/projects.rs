//! Read access to a project's merged records, conflicts and quarantine for its members.

use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::analysis::redact::{self, FieldRule, Redactor};
use crate::error::{ApiError, ApiResult};
use crate::review::records::{actors, load_record, member_may_read};
use crate::state::AppState;
use crate::storage;
use axum::Json;
use axum::extract::{Path, State};
use bothy_sync_core::merge::ConflictValue;
use bothy_sync_core::{RecordData, RecordKind};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A conflict as a reader sees it: for an analyst (`Some` redactor), a withheld field's
/// conflict is left out and the values of free text are redacted.
fn conflict_json(
    kind: RecordKind,
    field: &str,
    values: &[ConflictValue],
    actors: &HashMap<String, (String, String)>,
    analyst: Option<&Redactor>,
) -> Option<Value> {
    let Some(r) = analyst else {
        return Some(json!({"field": field, "values": values_json(values, actors)}));
    };
    if redact::analyst_field(kind, field) == FieldRule::Withhold {
        return None;
    }
    let values: Vec<ConflictValue> = values
        .iter()
        .map(|v| ConflictValue {
            value: redact::analyst_value(kind, field, &v.value, r).unwrap_or_default(),
            ..v.clone()
        })
        .collect();
    Some(json!({"field": redact::analyst_path(kind, field, r),
                "values": values_json(&values, actors)}))
}

/// A validation flag as a reader sees it; for an analyst, as [`conflict_json`].
fn flag_json(
    kind: RecordKind,
    flag: &bothy_sync_core::FieldError,
    analyst: Option<&Redactor>,
) -> Option<Value> {
    let Some(r) = analyst else {
        return Some(json!({"field": flag.field, "message": flag.message}));
    };
    if redact::analyst_field(kind, &flag.field) == FieldRule::Withhold {
        return None;
    }
    Some(json!({"field": redact::analyst_path(kind, &flag.field, r),
                "message": r.redact(&flag.message)}))
}

fn values_json(values: &[ConflictValue], actors: &HashMap<String, (String, String)>) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| {
                let (device, user) = actors
                    .get(&v.actor)
                    .cloned()
                    .map(|(d, u)| (Value::from(d), Value::from(u)))
                    .unwrap_or((Value::Null, Value::Null));
                json!({"value": v.value, "actor": v.actor, "device_id": device, "username": user,
                       "time": v.time, "winner": v.winner})
            })
            .collect(),
    )
}

/// `GET /api/v1/projects/{slug}/records/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/records/{id}",
    tag = "projects",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug"), ("id" = String, Path, description = "The record id")),
    responses(
        (status = 200, description = "`{\"id\",\"kind\",\"project\",\"heads\",\"record\",\"score\",\"conflicts\",\"flags\"}`"),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a member of the project", body = crate::openapi::ErrorBody),
        (status = 400, description = "`invalid_value`: the id is not a UUID in lower case with hyphens", body = crate::openapi::ErrorBody),
        (status = 404, description = "the record is not in that project", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn record(
    State(state): State<AppState>,
    user: UserAuth,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let access = ProjectAccess::require(&state, &user, &slug, Capability::ReadRecords).await?;
    let mut doc = load_record(&state.db, &slug, &id).await?;
    let view = doc.view().map_err(|e| ApiError::Internal(e.into()))?;
    if !member_may_read(&state.db, &access, &user.user_id, &id, view.kind).await? {
        return Err(ApiError::NotFound(format!(
            "no record {id} in project `{slug}`"
        )));
    }
    // Analysts see the pseudonymous view (crate::analysis::redact): withheld fields are null and their
    // conflicts and flags left out, free text is redacted.
    let analyst = if access.analysts_view() {
        if !crate::analysis::access::analyst_may_read(&state.db, &view).await? {
            return Err(ApiError::NotFound(format!(
                "no record {id} in project `{slug}`"
            )));
        }
        Some(Redactor::load(&state.db, &slug).await?)
    } else {
        None
    };
    let score = match &view.data {
        RecordData::Wellbeing(w) => Some(w.score_in(&view.project)),
        _ => None,
    };
    let actors = actors(&state.db).await?;
    let conflicts: Vec<Value> = bothy_sync_core::conflicts(doc.automerge_ref())
        .iter()
        .filter_map(|c| conflict_json(view.kind, &c.field, &c.values, &actors, analyst.as_ref()))
        .collect();
    let flags: Vec<Value> = doc
        .validate()
        .iter()
        .filter_map(|f| flag_json(view.kind, f, analyst.as_ref()))
        .collect();
    let record = match &analyst {
        None => json!(view.data),
        Some(r) => redact::analyst_record(&view, r),
    };
    let heads: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
    Ok(Json(json!({
        "id": id, "kind": view.kind, "project": view.project, "heads": heads,
        "record": record, "score": score, "conflicts": conflicts, "flags": flags,
    })))
}

/// `GET /api/v1/projects/{slug}/conflicts`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/conflicts",
    tag = "projects",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug")),
    responses(
        (status = 200, description = "`[{\"record_id\",\"kind\",\"field\",\"values\"}]`"),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a member of the project", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn conflicts(
    State(state): State<AppState>,
    user: UserAuth,
    Path(slug): Path<String>,
) -> ApiResult<Json<Value>> {
    let access = ProjectAccess::require(&state, &user, &slug, Capability::ReadRecords).await?;
    let rows = storage::review::conflicts_of_project(&state.db.pool, &slug).await?;
    let actors = actors(&state.db).await?;
    // Analysts get the pseudonymous view (crate::analysis::redact), and only the conflicts of records
    // they may read.
    let analyst = if access.analysts_view() {
        Some(Redactor::load(&state.db, &slug).await?)
    } else {
        None
    };
    let mut readable: HashMap<String, bool> = HashMap::new();
    let mut out = Vec::new();
    for r in rows {
        let storage::review::ConflictRow {
            record_id,
            kind,
            field,
            conflict_values,
        } = r;
        let Some(kind_of) = RecordKind::parse(&kind) else {
            continue;
        };
        if analyst.is_none() {
            let may = match readable.get(&record_id) {
                Some(may) => *may,
                None => {
                    let may =
                        member_may_read(&state.db, &access, &user.user_id, &record_id, kind_of)
                            .await?;
                    readable.insert(record_id.clone(), may);
                    may
                }
            };
            if !may {
                continue;
            }
        }
        if analyst.is_some() {
            let may = match readable.get(&record_id) {
                Some(may) => *may,
                None => {
                    let view = load_record(&state.db, &slug, &record_id)
                        .await?
                        .view()
                        .map_err(|e| ApiError::Internal(e.into()))?;
                    let may = crate::analysis::access::analyst_may_read(&state.db, &view).await?;
                    readable.insert(record_id.clone(), may);
                    may
                }
            };
            if !may {
                continue;
            }
        }
        let values: Vec<ConflictValue> = serde_json::from_str(&conflict_values).unwrap_or_default();
        if let Some(Value::Object(mut c)) =
            conflict_json(kind_of, &field, &values, &actors, analyst.as_ref())
        {
            c.insert("record_id".into(), record_id.into());
            c.insert("kind".into(), kind.into());
            out.push(Value::Object(c));
        }
    }
    Ok(Json(Value::Array(out)))
}

/// `GET /api/v1/projects/{slug}/quarantine`: coordinators and admins only.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/quarantine",
    tag = "review",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug")),
    responses(
        (status = 200, description = "`[{\"id\",\"record_id\",\"device_id\",\"action\",\"code\",\"field\",\"value\",\"message\",\"status\",\"received_at\"}]`"),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a coordinator or admin of the project", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn quarantine(
    State(state): State<AppState>,
    user: UserAuth,
    Path(slug): Path<String>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &slug, Capability::ReviewQuarantine).await?;
    let rows = storage::review::quarantine_of_project(&state.db.pool, &slug).await?;
    Ok(Json(json!(rows)))
}
