//! Liveness and capability endpoints for operators and clients.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bothy_sync_core::protocol;
use serde_json::{Value, json};

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses(
        (status = 200, description = "The database answers: `{\"status\":\"ok\",\"database\":\"ok\",\"version\"}`"),
        (status = 503, description = "The database does not answer: the same report with `\"status\":\"degraded\",\"database\":\"unreachable\"`"),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db_ok = crate::storage::health::ping(&state.db.pool).await.is_ok();
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if db_ok { "ok" } else { "degraded" },
            "database": if db_ok { "ok" } else { "unreachable" },
            "version": env!("CARGO_PKG_VERSION"),
        })),
    )
}

/// `GET /api/v1/info`: what this server speaks.
#[utoipa::path(
    get,
    path = "/api/v1/info",
    tag = "health",
    responses(
        (status = 200, description = "What this server speaks: `{\"name\",\"version\",\"protocol\":{\"min\",\"max\"},\"media_type\"}`"),
    )
)]
pub async fn info() -> Json<Value> {
    Json(json!({
        "name": "bothy",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": {"min": protocol::MIN_PROTOCOL_VERSION, "max": protocol::PROTOCOL_VERSION},
        "media_type": protocol::MEDIA_TYPE,
    }))
}
