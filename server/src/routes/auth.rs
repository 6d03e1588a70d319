//! Login, token refresh, logout and password changes: the HTTP side of
//! [`crate::access::auth`], which decides them and keeps the rate limits on failed attempts.

use super::{ClientAddr, JsonBody, memberships_json};
use crate::access::auth::{Tokens, UserAuth};
use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

/// Login body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    username: String,
    password: String,
    /// A new password (at least 10 characters) that replaces `password` as this login
    /// succeeds. Required after an admin has reset the password: without it such a login
    /// answers `403 password_change_required`.
    #[serde(default)]
    #[schema(schema_with = crate::input::password_schema)]
    new_password: Option<String>,
}

/// The answer of a login or a refresh.
fn tokens_json(tokens: Tokens) -> Json<Value> {
    Json(json!({
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "user": {"id": tokens.user_id, "username": tokens.username, "is_admin": tokens.is_admin},
        "memberships": memberships_json(&tokens.memberships),
    }))
}

/// `POST /api/v1/auth/login`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = Login,
    responses(
        (status = 200, description = "Tokens: `{\"access_token\",\"refresh_token\",\"token_type\",\"expires_in\",\"user\",\"memberships\"}`; with `new_password`, the password has been replaced"),
        (status = 400, description = "`invalid_json`, or `weak_password`: `new_password` is shorter than 10 characters or the same as `password`", body = crate::openapi::ErrorBody),
        (status = 401, description = "unknown user, wrong password or removed user (one message for all three)", body = crate::openapi::ErrorBody),
        (status = 403, description = "`password_change_required`: an admin reset the password; log in again with `new_password`", body = crate::openapi::ErrorBody),
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
    let tokens = crate::access::auth::log_in(
        &state,
        addr,
        &body.username,
        &body.password,
        body.new_password,
    )
    .await?;
    Ok(tokens_json(tokens))
}

/// Password change body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The password now.
    current_password: String,
    /// The new password: at least 10 characters, not the current one.
    #[schema(schema_with = crate::input::new_password_schema)]
    new_password: String,
}

/// `POST /api/v1/auth/password`: a signed-in user changes their own password. Every refresh
/// token of theirs is revoked (log in again everywhere); device credentials are unaffected.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    security(("user_token" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "`{\"changed\":true}`"),
        (status = 400, description = "`invalid_json`, or `weak_password`: `new_password` is shorter than 10 characters or the same as the current one", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential, or `current_password` is wrong (counted as a failed login of the account)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many recent failed logins for the account or the address", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    user: UserAuth,
    ClientAddr(addr): ClientAddr,
    JsonBody(body): JsonBody<PasswordChange>,
) -> ApiResult<Json<Value>> {
    crate::access::auth::change_password(
        &state,
        &user,
        addr,
        &body.current_password,
        body.new_password,
    )
    .await?;
    Ok(Json(json!({"changed": true})))
}

/// Logout body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Logout {
    /// The refresh token of the login to end.
    refresh_token: String,
}

/// `POST /api/v1/auth/logout`: ends a login: its refresh token, and every token rotated from
/// the same login, stop working. Always `200`, whether or not the token was known.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    request_body = Logout,
    responses(
        (status = 200, description = "`{\"logged_out\":true}`, also for a token that is unknown, expired or already revoked (nothing is revealed)"),
        (status = 400, description = "`invalid_json`", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Logout>,
) -> ApiResult<Json<Value>> {
    crate::access::auth::log_out(&state.db, &body.refresh_token).await?;
    Ok(Json(json!({"logged_out": true})))
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
        (status = 429, description = "`too_many_attempts`: too many recent failed refreshes from this address", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(body): JsonBody<Refresh>,
) -> ApiResult<Json<Value>> {
    let tokens = crate::access::auth::refresh(&state, addr, &body.refresh_token).await?;
    Ok(tokens_json(tokens))
}
