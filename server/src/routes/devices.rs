//! Device enrolment and registration: how a phone or laptop gets its own credential and
//! Automerge actor, bound on the server to the device and its user.

use super::JsonBody;
use super::auth::{ClientAddr, Limit, Throttle, memberships_json};
use crate::access::audit;
use crate::access::auth::{DeviceAuth, UserAuth, device_token, random_secret, sha256_hex};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::now;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

/// Enrolment body. Fields a newer device sends that this server does not know are ignored,
/// so devices can be updated before their server.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Enrol {
    /// The single-use enrolment code (case and separators do not matter).
    code: String,
    /// The device's name (trimmed).
    #[schema(schema_with = super::input::device_name_schema)]
    name: String,
    /// The app and its version (`bothy-cli/0.1.0`).
    #[serde(default)]
    #[schema(schema_with = super::input::app_schema)]
    app: Option<String>,
    /// An id the device made for this enrolment and kept before sending it (16 to 128
    /// letters, digits, `-` or `_`; a random UUID will do). If the answer is lost, the same
    /// code with the same id, while the code is valid, returns the same device with a fresh
    /// token; without it a used code is refused.
    #[serde(default)]
    #[schema(min_length = 16, max_length = 128, pattern = "^[A-Za-z0-9_-]+$")]
    enrolment_id: Option<String>,
}

/// Registration body (unknown fields are ignored, as for enrolment).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Register {
    /// The device's name (trimmed).
    #[schema(schema_with = super::input::device_name_schema)]
    name: String,
    /// The app and its version.
    #[serde(default)]
    #[schema(schema_with = super::input::app_schema)]
    app: Option<String>,
}

fn check_name(name: &str) -> ApiResult<String> {
    super::input::text(
        "device name",
        "invalid_name",
        name,
        super::input::DEVICE_NAME_MAX,
    )
}

fn check_app(app: Option<String>) -> ApiResult<Option<String>> {
    let max = super::input::APP_MAX;
    if app.as_ref().is_some_and(|a| a.chars().count() > max) {
        return Err(ApiError::bad(
            "invalid_app",
            format!("app: at most {max} characters"),
        ));
    }
    Ok(app)
}

fn check_enrolment_id(id: Option<String>) -> ApiResult<Option<String>> {
    match id {
        Some(id)
            if !(16..=128).contains(&id.len())
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Err(ApiError::bad(
                "invalid_enrolment_id",
                "enrolment_id: 16 to 128 letters, digits, `-` or `_` (a random UUID will do)",
            ))
        }
        other => Ok(other),
    }
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
    tx: &mut crate::storage::Tx,
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
        (status = 201, description = "The device's credential: `{\"device_id\",\"device_token\",\"actor\",\"user\",\"memberships\",\"server_time\"}`; for a repeat of this code's enrolment with the same `enrolment_id`, the same device and actor with a fresh token (the earlier token stops working)"),
        (status = 400, description = "`invalid_json`, `invalid_name`, `invalid_app` or `invalid_enrolment_id`", body = crate::openapi::ErrorBody),
        (status = 401, description = "the code is unknown, expired, used by another device (or by this one, since revoked) or its user removed", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many recent failed enrolments from this address", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn enrol(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(body): JsonBody<Enrol>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = check_name(&body.name)?;
    let app = check_app(body.app)?;
    let enrolment_id = check_enrolment_id(body.enrolment_id)?;
    // Failed codes are counted per address: past the limit, codes are not even looked up.
    let limit = Limit::per_address(
        "enrol-address",
        state.config.enrol_max_failures_per_address,
        addr,
    );
    let throttle = Throttle::check(&state, limit.into_iter().collect(), addr, |minutes| {
        format!(
            "too many failed enrolment attempts from this address: wait up to {minutes} \
             minutes, check the code and try again"
        )
    })
    .await?;
    let result = redeem(&state, &body.code, name, app, enrolment_id).await;
    throttle.settle(&state, &result).await?;
    result
}

/// Redeems a code: the work of [`enrol`].
async fn redeem(
    state: &AppState,
    code: &str,
    name: String,
    app: Option<String>,
    enrolment_id: Option<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let code_hash = sha256_hex(&normalise_code(code));
    // Kept hashed: with the code, it is what lets a device take its enrolment up again.
    let id_hash = enrolment_id.map(|id| sha256_hex(&format!("bothy enrolment {id}")));
    let mut tx = state.db.begin_write().await?;
    let row = sqlx::query(
        "SELECT e.user_id, e.expires_at, e.used_at, u.active FROM enrolments e \
         JOIN users u ON u.id = e.user_id WHERE e.code_hash = $1",
    )
    .bind(&code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(invalid_code("is not valid"));
    };
    if row.get::<i64, _>("expires_at") < now() {
        return Err(invalid_code("has expired"));
    }
    if row.get::<i64, _>("active") == 0 {
        return Err(invalid_code("belongs to a removed user"));
    }
    let user_id: String = row.get("user_id");
    if row.get::<Option<i64>, _>("used_at").is_some() {
        return enrol_again(state, tx, &code_hash, id_hash.as_deref(), &user_id, app).await;
    }
    // Conditional, so a code redeemed twice at once makes one device, not two.
    let claimed = sqlx::query(
        "UPDATE enrolments SET used_at = $1, enrolment_id_hash = $2 \
         WHERE code_hash = $3 AND used_at IS NULL",
    )
    .bind(now())
    .bind(id_hash.as_deref())
    .bind(&code_hash)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        // Another request claimed it first (perhaps this device's own earlier try).
        return enrol_again(state, tx, &code_hash, id_hash.as_deref(), &user_id, app).await;
    }
    let created = create_device(state, &mut tx, &user_id, name, app).await?;
    sqlx::query("UPDATE enrolments SET device_id = $1 WHERE code_hash = $2")
        .bind(created.0.to_string())
        .bind(&code_hash)
        .execute(&mut *tx)
        .await?;
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
    device_answer(state, &user_id, created).await
}

fn invalid_code(why: &str) -> ApiError {
    ApiError::Unauthorized(format!(
        "enrolment code {why}: ask your coordinator for a new one"
    ))
}

/// A used code presented again: the device that used it, asking again with the same
/// enrolment id (its answer was lost), gets that device back with a fresh token, which
/// replaces the one in the lost answer. Anyone else is refused.
async fn enrol_again(
    state: &AppState,
    mut tx: crate::storage::Tx,
    code_hash: &str,
    id_hash: Option<&str>,
    user_id: &str,
    app: Option<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let used = sqlx::query(
        "SELECT e.enrolment_id_hash, e.device_id, d.actor, d.revoked_at FROM enrolments e \
         LEFT JOIN devices d ON d.id = e.device_id WHERE e.code_hash = $1",
    )
    .bind(code_hash)
    .fetch_one(&mut *tx)
    .await?;
    let kept: Option<String> = used.get("enrolment_id_hash");
    let same = matches!((id_hash, kept.as_deref()), (Some(a), Some(b))
        if bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes())));
    let (Some(device_id), Some(actor)) = (
        used.get::<Option<String>, _>("device_id"),
        used.get::<Option<String>, _>("actor"),
    ) else {
        return Err(invalid_code("has already been used"));
    };
    if !same {
        return Err(invalid_code("has already been used by another device"));
    }
    if used.get::<Option<i64>, _>("revoked_at").is_some() {
        return Err(invalid_code(
            "was used by this device, which has since been revoked",
        ));
    }
    let device = uuid::Uuid::parse_str(&device_id)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored device id {device_id}: {e}")))?;
    let secret = random_secret();
    sqlx::query(
        "UPDATE devices SET token_hash = $1, app = COALESCE($2, app) \
         WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(sha256_hex(&secret))
    .bind(app)
    .bind(&device_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &audit::Actor {
            user_id: Some(user_id),
            username: None,
            device_id: Some(&device_id),
        },
        "device.enrol",
        None,
        Some(&device_id),
        serde_json::json!({"by": "enrolment code", "repeated": true}),
    )
    .await?;
    tx.commit().await?;
    device_answer(
        state,
        user_id,
        (device, device_token(&device, &secret), actor),
    )
    .await
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
        (status = 400, description = "`invalid_json`, `invalid_name` or `invalid_app`", body = crate::openapi::ErrorBody),
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
    let app = check_app(body.app)?;
    let mut tx = state.db.begin_write().await?;
    let created = create_device(&state, &mut tx, &user.user_id, name, app).await?;
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
        (status = 401, description = "no valid credential; `wipe` for a device whose wipe was ordered and not yet confirmed", body = crate::openapi::ErrorBody),
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
        let d: DeviceAuth = crate::access::auth::authenticate_device(&state.db, token).await?;
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
