//! Device enrolment and registration: how a phone or laptop gets its own credential and
//! Automerge actor, bound on the server to the device and its user.

use super::JsonBody;
use super::{ClientAddr, user_memberships_json};
use crate::access::accounts::{self, Enrolled};
use crate::access::auth::{DeviceAuth, UserAuth};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::now;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

/// Enrolment body. Fields a newer device sends that this server does not know are ignored,
/// so devices can be updated before their server.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Enrol {
    /// The single-use enrolment code (case and separators do not matter).
    code: String,
    /// The device's name (trimmed).
    #[schema(schema_with = crate::input::device_name_schema)]
    name: String,
    /// The app and its version (`bothy-cli/0.1.0`).
    #[serde(default)]
    #[schema(schema_with = crate::input::app_schema)]
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
    #[schema(schema_with = crate::input::device_name_schema)]
    name: String,
    /// The app and its version.
    #[serde(default)]
    #[schema(schema_with = crate::input::app_schema)]
    app: Option<String>,
}

fn check_name(name: &str) -> ApiResult<String> {
    crate::input::text(
        "device name",
        "invalid_name",
        name,
        crate::input::DEVICE_NAME_MAX,
    )
}

fn check_app(app: Option<String>) -> ApiResult<Option<String>> {
    let max = crate::input::APP_MAX;
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

async fn device_answer(
    state: &AppState,
    user_id: &str,
    device: Enrolled,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = crate::storage::accounts::user_name(&state.db.pool, user_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "device_id": device.device_id.to_string(),
            "device_token": device.device_token,
            "actor": device.actor,
            "user": {"id": user_id, "username": user.username, "is_admin": user.is_admin != 0},
            "memberships": user_memberships_json(state, user_id).await?,
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
    let (user_id, device) =
        accounts::enrol(&state, addr, &body.code, name, app, enrolment_id).await?;
    device_answer(&state, &user_id, device).await
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
    let device = accounts::register_device(&state.db, &user, name, app).await?;
    device_answer(&state, &user.user_id, device).await
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
            "memberships": user_memberships_json(&state, &d.user_id).await?,
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
        "memberships": user_memberships_json(&state, &u.user_id).await?,
    })))
}
