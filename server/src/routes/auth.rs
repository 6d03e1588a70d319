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
#[derive(Deserialize)]
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

/// `POST /api/v1/auth/login`.
pub async fn login(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Login>,
) -> ApiResult<Json<Value>> {
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
#[derive(Deserialize)]
pub struct Refresh {
    refresh_token: String,
}

/// `POST /api/v1/auth/refresh`: rotates the refresh token. A token used twice revokes its whole
/// family (someone copied it).
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
