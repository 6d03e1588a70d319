//! One error type for every HTTP handler: a stable machine-readable code, a message for
//! people, and the right status. Internal errors are logged with their detail and answered
//! with a generic message, so nothing about the server's insides leaks.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or invalid.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// 401: no valid credential.
    #[error("{0}")]
    Unauthorized(String),
    /// 401 with the code `wipe`: a withdrawn device's credential, answered with the order to
    /// wipe itself and confirm (docs/protocol.md, "Wipe").
    #[error("{0}")]
    Wipe(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 403 with its own code: the caller must do something first (`password_change_required`).
    #[error("{message}")]
    ForbiddenUntil {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: clashes with existing data.
    #[error("{0}")]
    Conflict(String),
    /// 409 with its own code (`no_wipe_ordered`, `wipe_already_confirmed`).
    #[error("{message}")]
    ConflictWith {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 422 with its own code: well-formed JSON whose content is refused (`invalid_followups`),
    /// the message naming every problem.
    #[error("{message}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: too many attempts; try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// 426: protocol version not supported.
    #[error("{0}")]
    UpgradeRequired(String),
    /// 503: the database cannot be reached.
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] anyhow::Error),
    /// 500: anything else; detail is logged, not sent.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 400 with a code.
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Wipe(_) => (StatusCode::UNAUTHORIZED, "wipe"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::ForbiddenUntil { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::ConflictWith { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            ApiError::UpgradeRequired(_) => {
                (StatusCode::UPGRADE_REQUIRED, "unsupported_protocol_version")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                ApiError::Unavailable(e.into())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                ApiError::Conflict("that already exists".into())
            }
            _ => ApiError::Internal(e.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        match &self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "internal error"),
            ApiError::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        let body = json!({"error": {"code": code, "message": self.to_string()}});
        (status, Json(body)).into_response()
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// Checks an id the caller gave as text (a record or device id in a URL path or a JSON body):
/// ids are lower-case hyphenated UUIDs everywhere, and any other spelling is a `400
/// invalid_value` naming `field`, never a lookup that quietly finds nothing.
pub fn check_id(field: &str, id: &str) -> ApiResult<()> {
    bothy_sync_core::validate::check_id(field, id)
        .map_err(|e| ApiError::bad("invalid_value", e.to_string()))
}
