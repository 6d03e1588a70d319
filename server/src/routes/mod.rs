//! HTTP routes, one module per area. `docs/http-api.md` lists them all.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod devices;
pub mod health;
pub mod history;
pub mod projects;
pub mod review;

use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

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
