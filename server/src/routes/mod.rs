//! HTTP routes, one module per area. `docs/http-api.md` lists them all.

pub mod admin;
pub mod analysis;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod devices;
pub mod followups;
pub mod health;
pub mod history;

pub mod instruments;
pub mod projects;
pub mod review;
pub mod setup;
pub mod subjects;
pub mod webapp;
pub mod wipe;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::accounts::Membership;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The client's address: the TCP peer or, when `trust_proxy` is set, the last address in
/// `X-Forwarded-For` (the one the trusted proxy appended). `None` when it cannot be known (a
/// router driven without a socket, as in some tests).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        if state.config.trust_proxy
            && let Some(ip) = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
                .next_back()
        {
            return Ok(ClientAddr(Some(ip)));
        }
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Memberships as JSON: `[{"project","role"}]`.
pub fn memberships_json(memberships: &[Membership]) -> Value {
    Value::Array(
        memberships
            .iter()
            .map(|m| json!({"project": m.project, "role": m.role}))
            .collect(),
    )
}

/// The user's memberships as JSON.
pub async fn user_memberships_json(state: &AppState, user_id: &str) -> ApiResult<Value> {
    let memberships = crate::storage::accounts::memberships(&state.db.pool, user_id).await?;
    Ok(memberships_json(&memberships))
}

/// Path parameters whose rejection (a quarantine id that is not a number, say) is answered in
/// Bothy's own error format.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S>
    for PathParams<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(PathParams(v)),
            Err(e) => Err(ApiError::bad("invalid_path", e.body_text())),
        }
    }
}

/// A JSON body whose rejection is answered in Bothy's own error format. Every request body of
/// the API is a JSON object: anything else (an array, which serde would otherwise read as the
/// object's fields in order, a string, a number, `null`) is refused as `invalid_json`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(ApiError::UnsupportedMediaType(
                    "send JSON with Content-Type: application/json".into(),
                ));
            }
            Err(other) if other.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::TooLarge(
                    "the body is larger than 1 MiB (once decompressed)".into(),
                ));
            }
            Err(other) => return Err(ApiError::bad("invalid_json", other.body_text())),
        };
        if !value.is_object() {
            return Err(ApiError::bad(
                "invalid_json",
                format!("the body must be a JSON object, not {}", json_kind(&value)),
            ));
        }
        serde_json::from_value::<T>(value)
            .map(JsonBody)
            .map_err(|e| {
                ApiError::bad(
                    "invalid_json",
                    format!("Failed to deserialize the JSON body into the target type: {e}"),
                )
            })
    }
}

/// What kind of JSON value this is, for messages.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "true or false",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
