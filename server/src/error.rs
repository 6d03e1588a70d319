//! One error type for every HTTP handler: a stable machine-readable code, a message for
//! people, and the right status. Internal errors are logged with their detail and answered
//! with a generic message, so nothing about the server's insides leaks.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
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
    /// 503 with the code `busy` and a `Retry-After` header: the server has more work than it
    /// takes at once (every sync turn taken, or no database connection free in time). Nothing
    /// is wrong: the same request later will do.
    #[error(
        "the server is busy: try again in {retry_after} seconds (a device retries by itself; \
         its records stay safe on it meanwhile)"
    )]
    Busy {
        /// Seconds to wait before trying again (sent as `Retry-After`).
        retry_after: u64,
    },
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

    /// A `503 busy`, telling the client to come back in 2 to 5 seconds (jittered, so devices
    /// turned away together do not all come back together).
    pub fn busy() -> Self {
        ApiError::Busy {
            retry_after: rand::random_range(2..=5),
        }
    }

    /// True when this is answered `503 busy`.
    pub fn is_busy(&self) -> bool {
        matches!(self, ApiError::Busy { .. }) || self.is_pool_timeout()
    }

    /// The HTTP status and the stable code of this error, as answered.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        if self.is_pool_timeout() {
            return (StatusCode::SERVICE_UNAVAILABLE, "busy");
        }
        self.parts()
    }

    /// An internal error that is a database pool timeout wrapped on its way up (in an
    /// `anyhow::Error`): only load, answered `503 busy` like any other pool timeout.
    fn is_pool_timeout(&self) -> bool {
        match self {
            ApiError::Internal(e) => e
                .chain()
                .any(|c| matches!(c.downcast_ref(), Some(sqlx::Error::PoolTimedOut))),
            _ => false,
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
            ApiError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // Every connection was in use for the whole acquire timeout: the database is
            // there, the server is just busy.
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("no database connection came free in time: answering busy");
                ApiError::busy()
            }
            sqlx::Error::Io(_) | sqlx::Error::PoolClosed => ApiError::Unavailable(e.into()),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                ApiError::Conflict("that already exists".into())
            }
            _ => ApiError::Internal(e.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.is_pool_timeout() {
            tracing::warn!("no database connection came free in time: answering busy");
            return ApiError::busy().into_response();
        }
        let (status, code) = self.parts();
        match &self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "internal error"),
            ApiError::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        let body = json!({"error": {"code": code, "message": self.to_string()}});
        let mut response = (status, Json(body)).into_response();
        if let ApiError::Busy { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_timeout_is_busy_with_retry_after_and_a_lost_database_is_unavailable() {
        let busy = ApiError::from(sqlx::Error::PoolTimedOut);
        assert!(busy.is_busy(), "{busy:?}");
        let response = busy.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let after: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((2..=5).contains(&after), "{after}");

        let down = ApiError::from(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        )));
        assert_eq!(
            down.status_and_code(),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        );
        let response = down.into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(
            ApiError::from(sqlx::Error::PoolClosed).status_and_code().1,
            "unavailable"
        );
    }

    #[test]
    fn busy_says_when_to_come_back() {
        let e = ApiError::Busy { retry_after: 3 };
        assert_eq!(
            e.status_and_code(),
            (StatusCode::SERVICE_UNAVAILABLE, "busy")
        );
        assert!(
            e.to_string().contains("busy: try again in 3 seconds"),
            "{e}"
        );
    }

    #[test]
    fn a_pool_timeout_wrapped_on_its_way_up_is_still_busy() {
        let wrapped = ApiError::Internal(
            anyhow::Error::new(sqlx::Error::PoolTimedOut).context("cannot read the export"),
        );
        assert_eq!(wrapped.status_and_code().1, "busy");
        assert!(wrapped.is_busy());
        let response = wrapped.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().get(header::RETRY_AFTER).is_some());
        let other = ApiError::Internal(anyhow::anyhow!("something else"));
        assert_eq!(other.status_and_code().1, "internal");
    }
}
