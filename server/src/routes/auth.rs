//! Login and token refresh.

use super::JsonBody;
use crate::audit;
use crate::auth::{hash_password, issue_access_token, random_secret, sha256_hex, verify_password};
use crate::db::now;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use tokio::sync::OnceCell;

/// Login body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    username: String,
    password: String,
}

static DUMMY_HASH: OnceCell<String> = OnceCell::const_new();

/// The user's memberships as JSON.
pub async fn memberships_json(state: &AppState, user_id: &str) -> ApiResult<Value> {
    let rows =
        sqlx::query("SELECT project, role FROM memberships WHERE user_id = $1 ORDER BY project")
            .bind(user_id)
            .fetch_all(&state.db.pool)
            .await?;
    Ok(Value::Array(
        rows.into_iter()
            .map(|r| json!({"project": r.get::<String, _>("project"), "role": r.get::<String, _>("role")}))
            .collect(),
    ))
}

/// Issues an access token and a new refresh token in `family`.
async fn issue_tokens(
    state: &AppState,
    user_id: &str,
    username: &str,
    is_admin: bool,
    family: &str,
) -> ApiResult<Json<Value>> {
    let access = issue_access_token(
        &state.keys,
        user_id,
        username,
        state.config.access_token_ttl,
    );
    let refresh = random_secret();
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, family, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(&refresh))
    .bind(user_id)
    .bind(family)
    .bind(now() + state.config.refresh_token_ttl)
    .bind(now())
    .execute(&state.db.pool)
    .await?;
    Ok(Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": state.config.access_token_ttl,
        "user": {"id": user_id, "username": username, "is_admin": is_admin},
        "memberships": memberships_json(state, user_id).await?,
    })))
}

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

/// Login rate limiting, kept in the database (`login_failures`) so that every server process
/// on one database counts the same failures. Each attempt is written down *before* its
/// password is checked, then counted: once an account or an address has reached its limit in
/// the window, the attempt is refused without hashing anything. A refused attempt is not
/// counted (so it does not extend the lock-out); a successful login clears the account's
/// failures.
struct LoginThrottle {
    attempt: String,
    keys: Vec<String>,
}

impl LoginThrottle {
    async fn check(
        state: &AppState,
        username: &str,
        addr: Option<std::net::IpAddr>,
    ) -> ApiResult<Self> {
        let cfg = &state.config;
        let now = now();
        let since = now - cfg.login_failure_window;
        let pool = &state.db.pool;
        sqlx::query("DELETE FROM login_failures WHERE at <= $1")
            .bind(since)
            .execute(pool)
            .await?;
        let attempt = uuid::Uuid::new_v4().to_string();
        let mut keys = vec![(
            format!("account:{}", username.trim().to_lowercase()),
            i64::from(cfg.login_max_failures_per_account),
        )];
        if let Some(ip) = addr {
            keys.push((
                format!("address:{ip}"),
                i64::from(cfg.login_max_failures_per_address),
            ));
        }
        for (key, _) in &keys {
            sqlx::query("INSERT INTO login_failures (key, at, attempt) VALUES ($1, $2, $3)")
                .bind(key)
                .bind(now)
                .bind(&attempt)
                .execute(pool)
                .await?;
        }
        let throttle = LoginThrottle {
            attempt,
            keys: keys.iter().map(|(k, _)| k.clone()).collect(),
        };
        for (key, limit) in &keys {
            // Counts this attempt too: `limit` earlier failures make this one the first refused.
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at > $2")
                    .bind(key)
                    .bind(since)
                    .fetch_one(pool)
                    .await?;
            if count > *limit {
                throttle.forget_attempt(state).await?;
                tracing::warn!(key = %key, "login refused: too many failed attempts");
                let minutes = (cfg.login_failure_window + 59) / 60;
                return Err(ApiError::TooManyRequests(format!(
                    "too many failed logins for this account or from this address: \
                     wait up to {minutes} minutes and try again, or ask an admin"
                )));
            }
        }
        Ok(throttle)
    }

    async fn forget_attempt(&self, state: &AppState) -> ApiResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE attempt = $1")
            .bind(&self.attempt)
            .execute(&state.db.pool)
            .await?;
        Ok(())
    }

    /// After a successful login: this attempt was no failure, and the account starts afresh.
    async fn succeeded(&self, state: &AppState) -> ApiResult<()> {
        self.forget_attempt(state).await?;
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(&self.keys[0])
            .execute(&state.db.pool)
            .await?;
        Ok(())
    }
}

/// `POST /api/v1/auth/login`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = Login,
    responses(
        (status = 200, description = "Tokens: `{\"access_token\",\"refresh_token\",\"token_type\",\"expires_in\",\"user\",\"memberships\"}`"),
        (status = 400, description = "`invalid_json`", body = crate::openapi::ErrorBody),
        (status = 401, description = "unknown user, wrong password or removed user (one message for all three)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many recent failures for the account or the address", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(body): JsonBody<Login>,
) -> ApiResult<Json<Value>> {
    let throttle = LoginThrottle::check(&state, &body.username, addr).await?;
    let row =
        sqlx::query("SELECT id, password_hash, is_admin, active FROM users WHERE username = $1")
            .bind(&body.username)
            .fetch_optional(&state.db.pool)
            .await?;
    let wrong = || ApiError::Unauthorized("unknown user or wrong password".into());
    let Some(row) = row else {
        // Spend the same time as a real check, so timing does not reveal which users exist.
        let dummy = DUMMY_HASH
            .get_or_init(|| async { hash_password(random_secret()).await.unwrap_or_default() })
            .await;
        verify_password(dummy.clone(), body.password).await;
        return Err(wrong());
    };
    let user_id: String = row.get("id");
    if !verify_password(row.get("password_hash"), body.password).await
        || row.get::<i64, _>("active") == 0
    {
        audit::record(
            &state.db.pool,
            &audit::Actor::system(),
            "auth.login_failed",
            None,
            Some(&body.username),
            serde_json::json!({}),
        )
        .await?;
        return Err(wrong());
    }
    throttle.succeeded(&state).await?;
    let actor = audit::Actor {
        user_id: Some(&user_id),
        username: Some(&body.username),
        device_id: None,
    };
    audit::record(
        &state.db.pool,
        &actor,
        "auth.login",
        None,
        None,
        serde_json::json!({}),
    )
    .await?;
    let family = uuid::Uuid::new_v4().to_string();
    issue_tokens(
        &state,
        &user_id,
        &body.username,
        row.get::<i64, _>("is_admin") != 0,
        &family,
    )
    .await
}

/// Refresh body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Refresh {
    refresh_token: String,
}

/// `POST /api/v1/auth/refresh`: rotates the refresh token. A token used twice revokes its whole
/// family (someone copied it).
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = Refresh,
    responses(
        (status = 200, description = "New tokens, as login; the refresh token is rotated"),
        (status = 400, description = "`invalid_json`", body = crate::openapi::ErrorBody),
        (status = 401, description = "the refresh token is unknown, expired, revoked or was used before (which revokes its family)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Refresh>,
) -> ApiResult<Json<Value>> {
    let hash = sha256_hex(&body.refresh_token);
    let mut tx = state.db.begin_write().await?;
    let row = sqlx::query(
        "SELECT t.user_id, t.family, t.expires_at, t.revoked, u.username, u.is_admin, u.active \
         FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let invalid = || ApiError::Unauthorized("refresh token is not valid: log in again".into());
    let Some(row) = row else {
        return Err(invalid());
    };
    let family: String = row.get("family");
    if row.get::<i64, _>("revoked") != 0
        || row.get::<i64, _>("expires_at") < now()
        || row.get::<i64, _>("active") == 0
    {
        return Err(invalid());
    }
    // Claim the token; the condition makes two concurrent uses unable to both succeed. A token
    // that was already used has been copied: revoke its whole family.
    let claimed = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now())
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1")
            .bind(&family)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(family = %family, "refresh token reused: family revoked");
        return Err(invalid());
    }
    tx.commit().await?;
    let user_id: String = row.get("user_id");
    let username: String = row.get("username");
    issue_tokens(
        &state,
        &user_id,
        &username,
        row.get::<i64, _>("is_admin") != 0,
        &family,
    )
    .await
}
