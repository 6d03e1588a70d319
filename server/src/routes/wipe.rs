//! `POST /api/v1/devices/wipe`: a withdrawn device confirms that it wiped itself and lists what
//! it lost. The work is in [`crate::access::wipe`].
//!
//! The list may be long (a device that was offline for weeks), so this route takes bodies of up
//! to [`BODY_MAX`] bytes rather than the API's usual 1 MiB, and reads its JSON itself.

use crate::access::auth::PresentedDevice;
use crate::access::wipe::{self, Confirmation};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, header};
use serde_json::Value;

/// The largest confirmation body, once decompressed: about 100,000 lost records.
pub const BODY_MAX: usize = 16 * 1024 * 1024;

/// `POST /api/v1/devices/wipe`.
#[utoipa::path(
    post,
    path = "/api/v1/devices/wipe",
    tag = "devices",
    security(("device_token" = [])),
    request_body = Confirmation,
    responses(
        (status = 200, description = "Recorded: `{\"device_id\",\"wipe_confirmed_at\",\"lost_records\",\"lost_changes\"}`. Audit: `device.wipe_confirmed`; from now on the credential gets the plain `401 unauthorized`"),
        (status = 400, description = "`invalid_json` (also for a field other than those listed: the list may carry no personal data) or `invalid_value` (a record id that is not a lower-case hyphenated UUID, a record listed twice, an unknown kind or project, a negative count)", body = crate::openapi::ErrorBody),
        (status = 401, description = "not a device credential this server issued", body = crate::openapi::ErrorBody),
        (status = 409, description = "`no_wipe_ordered`, or `wipe_already_confirmed` (an earlier confirmation was recorded: its answer may have been lost)", body = crate::openapi::ErrorBody),
        (status = 413, description = "the body is larger than 16 MiB (once decompressed)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    device: PresentedDevice,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<wipe::Confirmed>> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "send JSON with Content-Type: application/json".into(),
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge("the body is larger than 16 MiB (once decompressed)".into())
        } else {
            ApiError::bad("invalid_json", e.body_text())
        }
    })?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad("invalid_json", format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad(
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    let confirmation: Confirmation = serde_json::from_value(value).map_err(|e| {
        ApiError::bad(
            "invalid_json",
            format!("Failed to deserialize the JSON body into the target type: {e}"),
        )
    })?;
    Ok(Json(wipe::confirm(&state.db, &device, confirmation).await?))
}
