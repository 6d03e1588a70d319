//! HTTP routes, one module per area. `docs/http-api.md` lists them all.

pub mod admin;
pub mod analysis;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod devices;
pub mod health;
pub mod history;
pub mod projects;
pub mod review;
pub mod setup;
pub mod subjects;
pub mod webapp;

use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

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

/// A JSON body whose rejection is answered in Bothy's own error format.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(match e {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                    "send JSON with Content-Type: application/json".into(),
                ),
                other => ApiError::bad("invalid_json", other.body_text()),
            }),
        }
    }
}
