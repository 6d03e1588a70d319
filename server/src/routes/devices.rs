//! Device enrolment and registration: how a phone or laptop gets its own credential and
//! Automerge actor, bound on the server to the device and its user.

use super::JsonBody;
use super::auth::memberships_json;
use crate::audit;
use crate::auth::{DeviceAuth, UserAuth, device_token, random_secret, sha256_hex};
use crate::db::now;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

/// Enrolment body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Enrol {
    code: String,
    name: String,
    #[serde(default)]
    app: Option<String>,
}

/// Registration body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Register {
    name: String,
    #[serde(default)]
    app: Option<String>,
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad(
            "invalid_name",
            "device name must be 1-100 characters",
        ));
    }
    Ok(name.to_owned())
}

/// Normalises a typed enrolment code: case and separators do not matter.
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

async fn create_device(
    state: &AppState,
    tx: &mut crate::db::Tx,
    user_id: &str,
    name: String,
    app: Option<String>,
) -> ApiResult<(uuid::Uuid, String, String)> {
    let device_id = uuid::Uuid::new_v4();
    let secret = random_secret();
    let actor = automerge::ActorId::random().to_hex_string();
    sqlx::query(
        "INSERT INTO devices (id, user_id, name, actor, token_hash, app, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(device_id.to_string())
    .bind(user_id)
    .bind(name)
    .bind(&actor)
    .bind(sha256_hex(&secret))
    .bind(app)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    let _ = state;
    Ok((device_id, device_token(&device_id, &secret), actor))
}

async fn device_answer(
    state: &AppState,
    user_id: &str,
    (device_id, token, actor): (uuid::Uuid, String, String),
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = sqlx::query("SELECT username, is_admin FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "device_id": device_id.to_string(),
            "device_token": token,
            "actor": actor,
            "user": {"id": user_id, "username": user.get::<String, _>("username"),
                     "is_admin": user.get::<i64, _>("is_admin") != 0},
            "memberships": memberships_json(state, user_id).await?,
            "server_time": now(),
        })),
    ))
}

/// `POST /api/v1/devices/enrol`: redeems a single-use enrolment code.
#[utoipa::path(
    post,
    path = "/api/v1/devices/enrol",
    tag = "devices",
    request_body = Enrol,
    responses(
        (status = 201, description = "The device's credential: `{\"device_id\",\"device_token\",\"actor\",\"user\",\"memberships\",\"server_time\"}`"),
        (status = 400, description = "`invalid_json` or `invalid_name`", body = crate::openapi::ErrorBody),
        (status = 401, description = "the code is unknown, used, expired or its user removed", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn enrol(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Enrol>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = check_name(&body.name)?;
    let code_hash = sha256_hex(&normalise_code(&body.code));
    let mut tx = state.db.begin_write().await?;
    let row = sqlx::query(
        "SELECT e.user_id, e.expires_at, e.used_at, u.active FROM enrolments e \
         JOIN users u ON u.id = e.user_id WHERE e.code_hash = $1",
    )
    .bind(&code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let invalid = |why: &str| {
        ApiError::Unauthorized(format!(
            "enrolment code {why}: ask your coordinator for a new one"
        ))
    };
    let Some(row) = row else {
        return Err(invalid("is not valid"));
    };
    if row.get::<Option<i64>, _>("used_at").is_some() {
        return Err(invalid("has already been used"));
    }
    if row.get::<i64, _>("expires_at") < now() {
        return Err(invalid("has expired"));
    }
    if row.get::<i64, _>("active") == 0 {
        return Err(invalid("belongs to a removed user"));
    }
    let user_id: String = row.get("user_id");
    // Conditional, so a code redeemed twice at once makes one device, not two.
    let claimed =
        sqlx::query("UPDATE enrolments SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(now())
            .bind(&code_hash)
            .execute(&mut *tx)
            .await?;
    if claimed.rows_affected() == 0 {
        return Err(invalid("has already been used"));
    }
    let created = create_device(&state, &mut tx, &user_id, name, body.app).await?;
    audit::record(
        &mut *tx,
        &audit::Actor {
            user_id: Some(&user_id),
            username: None,
            device_id: Some(&created.0.to_string()),
        },
        "device.enrol",
        None,
        Some(&created.0.to_string()),
        serde_json::json!({"by": "enrolment code"}),
    )
    .await?;
    tx.commit().await?;
    device_answer(&state, &user_id, created).await
}

/// `POST /api/v1/devices/register`: a signed-in user registers the device they are on.
#[utoipa::path(
    post,
    path = "/api/v1/devices/register",
    tag = "devices",
    security(("user_token" = [])),
    request_body = Register,
    responses(
        (status = 201, description = "The device's credential, as enrol"),
        (status = 400, description = "`invalid_json` or `invalid_name`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    user: UserAuth,
    JsonBody(body): JsonBody<Register>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = check_name(&body.name)?;
    let mut tx = state.db.begin_write().await?;
    let created = create_device(&state, &mut tx, &user.user_id, name, body.app).await?;
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "device.enrol",
        None,
        Some(&created.0.to_string()),
        serde_json::json!({"by": "password login"}),
    )
    .await?;
    tx.commit().await?;
    device_answer(&state, &user.user_id, created).await
}

/// `GET /api/v1/me`: who a user or device token belongs to.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "devices",
    security(("user_token" = []), ("device_token" = [])),
    responses(
        (status = 200, description = "Who the token belongs to: `{\"user\",\"memberships\"}` (and `device_id` for a device)"),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if token.starts_with("bd1_") {
        let d: DeviceAuth = crate::auth::authenticate_device(&state.db, token).await?;
        return Ok(Json(json!({
            "user": {"id": d.user_id, "username": d.username},
            "device_id": d.device_id,
            "memberships": memberships_json(&state, &d.user_id).await?,
        })));
    }
    let mut parts = axum::http::Request::builder()
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .map_err(|e| ApiError::Internal(e.into()))?
        .into_parts()
        .0;
    let u = <UserAuth as axum::extract::FromRequestParts<AppState>>::from_request_parts(
        &mut parts, &state,
    )
    .await?;
    Ok(Json(json!({
        "user": {"id": u.user_id, "username": u.username, "is_admin": u.is_admin},
        "memberships": memberships_json(&state, &u.user_id).await?,
    })))
}
