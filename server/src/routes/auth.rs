//! Login, token refresh, logout and password changes, and the rate limits on failed attempts.

use super::JsonBody;
use crate::access::audit;
use crate::access::auth::{
    UserAuth, hash_password, issue_access_token, random_secret, sha256_hex, verify_password,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::now;
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
    /// A new password (at least 10 characters) that replaces `password` as this login
    /// succeeds. Required after an admin has reset the password: without it such a login
    /// answers `403 password_change_required`.
    #[serde(default)]
    #[schema(schema_with = super::input::password_schema)]
    new_password: Option<String>,
}

/// The schema of a new password: text of at least [`super::input::PASSWORD_MIN`] characters.
pub fn new_password_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(super::input::PASSWORD_MIN))
        .build()
}

/// The `login_failures` key of an account: its username, trimmed and in lower case.
pub fn account_key(username: &str) -> String {
    format!("account:{}", username.trim().to_lowercase())
}

/// A name as given, cut to 100 characters for the audit log.
fn as_given(name: &str) -> String {
    name.chars().take(100).collect()
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

/// One limit on failed attempts: a key in `login_failures` (`account:<username>`,
/// `address:<ip>`, `refresh-address:<ip>`, `enrol-address:<ip>`), the failures allowed under it
/// within the window, and how the audit log names it.
pub(crate) struct Limit {
    key: String,
    max: u32,
    name: &'static str,
    /// What a refusal's audit entry names as its target.
    target: Option<String>,
}

impl Limit {
    /// A limit per client address (none when the address cannot be known).
    pub(crate) fn per_address(
        prefix: &'static str,
        max: u32,
        addr: Option<std::net::IpAddr>,
    ) -> Option<Limit> {
        addr.map(|ip| Limit {
            key: format!("{prefix}:{ip}"),
            max,
            name: prefix,
            target: Some(ip.to_string()),
        })
    }

    /// The two limits of a password check: the account's and the address's.
    fn login(state: &AppState, username: &str, addr: Option<std::net::IpAddr>) -> Vec<Limit> {
        let cfg = &state.config;
        let mut limits = vec![Limit {
            key: account_key(username),
            max: cfg.login_max_failures_per_account,
            name: "account",
            target: Some(as_given(username)),
        }];
        limits.extend(Limit::per_address(
            "address",
            cfg.login_max_failures_per_address,
            addr,
        ));
        limits
    }
}

/// Rate limiting of failed attempts (logins, password checks, token refreshes, enrolments),
/// kept in the database (`login_failures`) so that every server process on one database counts
/// the same failures. Each attempt is written down *before* its work is done, then counted:
/// once a key has reached its limit in the window, the attempt is refused (`429`, audited as
/// `auth.rate_limited`) without doing the work. A refused attempt is not counted (so it does
/// not extend the lock-out), nor is one that succeeded.
pub(crate) struct Throttle {
    attempt: String,
    keys: Vec<String>,
}

impl Throttle {
    /// Records this attempt under every limit, or refuses it with `refusal(minutes)` when one
    /// of them has been reached.
    pub(crate) async fn check(
        state: &AppState,
        limits: Vec<Limit>,
        addr: Option<std::net::IpAddr>,
        refusal: impl FnOnce(i64) -> String,
    ) -> ApiResult<Self> {
        let attempt = uuid::Uuid::new_v4().to_string();
        let throttle = Throttle {
            attempt,
            keys: limits.iter().map(|l| l.key.clone()).collect(),
        };
        if limits.is_empty() {
            return Ok(throttle);
        }
        let cfg = &state.config;
        let now = now();
        let since = now - cfg.login_failure_window;
        let pool = &state.db.pool;
        sqlx::query("DELETE FROM login_failures WHERE at <= $1")
            .bind(since)
            .execute(pool)
            .await?;
        for limit in &limits {
            sqlx::query("INSERT INTO login_failures (key, at, attempt) VALUES ($1, $2, $3)")
                .bind(&limit.key)
                .bind(now)
                .bind(&throttle.attempt)
                .execute(pool)
                .await?;
        }
        for limit in &limits {
            // Counts this attempt too: `max` earlier failures make this one the first refused.
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at > $2")
                    .bind(&limit.key)
                    .bind(since)
                    .fetch_one(pool)
                    .await?;
            if count > i64::from(limit.max) {
                throttle.forget_attempt(state).await?;
                tracing::warn!(key = %limit.key, "attempt refused: too many failures");
                audit::record(
                    pool,
                    &audit::Actor::anonymous(),
                    "auth.rate_limited",
                    None,
                    limit.target.as_deref(),
                    json!({
                        "limit": limit.name,
                        "address": addr.map(|a| a.to_string()),
                    }),
                )
                .await?;
                let minutes = (cfg.login_failure_window + 59) / 60;
                return Err(ApiError::TooManyRequests(refusal(minutes)));
            }
        }
        Ok(throttle)
    }

    async fn forget_attempt(&self, state: &AppState) -> ApiResult<()> {
        if self.keys.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM login_failures WHERE attempt = $1")
            .bind(&self.attempt)
            .execute(&state.db.pool)
            .await?;
        Ok(())
    }

    /// After the work: a refusal of the credential (`401`) stays counted as a failure; any
    /// other outcome (success, a malformed request, an unavailable database) is forgotten.
    pub(crate) async fn settle<T>(&self, state: &AppState, result: &ApiResult<T>) -> ApiResult<()> {
        match result {
            Err(ApiError::Unauthorized(_)) => Ok(()),
            _ => self.forget_attempt(state).await,
        }
    }

    /// After a right password: this attempt was no failure, and the account starts afresh.
    async fn succeeded(&self, state: &AppState, username: &str) -> ApiResult<()> {
        self.forget_attempt(state).await?;
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(account_key(username))
            .execute(&state.db.pool)
            .await?;
        Ok(())
    }
}

fn too_many_logins(minutes: i64) -> String {
    format!(
        "too many failed logins for this account or from this address: \
         wait up to {minutes} minutes and try again, or ask an admin"
    )
}

/// Replaces a user's password: stores the new argon2id hash, clears `must_change_password`,
/// revokes every refresh token of the user (their other logins end; device credentials are
/// separate and unaffected) and audits `user.password_change`. Returns the tokens revoked.
async fn replace_password(
    state: &AppState,
    actor: &audit::Actor<'_>,
    user_id: &str,
    username: &str,
    new_password: String,
    mut details: Value,
) -> ApiResult<u64> {
    let hash = hash_password(new_password).await?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 0 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let revoked =
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1 AND revoked = 0")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    details["refresh_tokens_revoked"] = json!(revoked);
    audit::record(
        &mut *tx,
        actor,
        "user.password_change",
        None,
        Some(username),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(revoked)
}

fn same_password() -> ApiError {
    ApiError::bad(
        "weak_password",
        "new_password must differ from the current password",
    )
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
    if let Some(new) = &body.new_password {
        super::admin::check_password("new_password", new)?;
    }
    let throttle = Throttle::check(
        &state,
        Limit::login(&state, &body.username, addr),
        addr,
        too_many_logins,
    )
    .await?;
    let row = sqlx::query(
        "SELECT id, password_hash, is_admin, active, must_change_password FROM users \
         WHERE username = $1",
    )
    .bind(&body.username)
    .fetch_optional(&state.db.pool)
    .await?;
    let wrong = || ApiError::Unauthorized("unknown user or wrong password".into());
    let address = addr.map(|a| a.to_string());
    let Some(row) = row else {
        // Spend the same time as a real check, so timing does not reveal which users exist.
        let dummy = DUMMY_HASH
            .get_or_init(|| async { hash_password(random_secret()).await.unwrap_or_default() })
            .await;
        verify_password(dummy.clone(), body.password).await;
        audit::record(
            &state.db.pool,
            &audit::Actor::anonymous(),
            "auth.login_failed",
            None,
            Some(&as_given(&body.username)),
            json!({"reason": "unknown_user", "address": address}),
        )
        .await?;
        return Err(wrong());
    };
    let user_id: String = row.get("id");
    let right = verify_password(row.get("password_hash"), body.password.clone()).await;
    if !right || row.get::<i64, _>("active") == 0 {
        let reason = if right {
            "removed_user"
        } else {
            "wrong_password"
        };
        audit::record(
            &state.db.pool,
            &audit::Actor::anonymous(),
            "auth.login_failed",
            None,
            Some(&body.username),
            json!({"reason": reason, "address": address}),
        )
        .await?;
        return Err(wrong());
    }
    throttle.succeeded(&state, &body.username).await?;
    let actor = audit::Actor {
        user_id: Some(&user_id),
        username: Some(&body.username),
        device_id: None,
    };
    match body.new_password {
        Some(new) if new == body.password => return Err(same_password()),
        Some(new) => {
            replace_password(
                &state,
                &actor,
                &user_id,
                &body.username,
                new,
                json!({"at_login": true}),
            )
            .await?;
        }
        None if row.get::<i64, _>("must_change_password") != 0 => {
            return Err(ApiError::ForbiddenUntil {
                code: "password_change_required",
                message: format!(
                    "an admin has reset this password: log in again with the temporary \
                     password and a new one of at least {} characters in `new_password` \
                     (`bothy password` does this)",
                    super::input::PASSWORD_MIN
                ),
            });
        }
        None => {}
    }
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

/// Password change body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The password now.
    current_password: String,
    /// The new password: at least 10 characters, not the current one.
    #[schema(schema_with = new_password_schema)]
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
    super::admin::check_password("new_password", &body.new_password)?;
    let throttle = Throttle::check(
        &state,
        Limit::login(&state, &user.username, addr),
        addr,
        too_many_logins,
    )
    .await?;
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(&user.user_id)
        .fetch_one(&state.db.pool)
        .await?;
    if !verify_password(hash, body.current_password.clone()).await {
        audit::record(
            &state.db.pool,
            &audit::Actor::user(&user),
            "auth.login_failed",
            None,
            Some(&user.username),
            json!({"reason": "wrong_current_password", "address": addr.map(|a| a.to_string())}),
        )
        .await?;
        return Err(ApiError::Unauthorized(
            "current_password is wrong: the password was not changed".into(),
        ));
    }
    throttle.succeeded(&state, &user.username).await?;
    if body.new_password == body.current_password {
        return Err(same_password());
    }
    replace_password(
        &state,
        &audit::Actor::user(&user),
        &user.user_id,
        &user.username,
        body.new_password,
        json!({}),
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
    let mut tx = state.db.begin_write().await?;
    let row = sqlx::query(
        "SELECT t.user_id, t.family, u.username FROM refresh_tokens t \
         JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(sha256_hex(&body.refresh_token))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = row {
        let family: String = row.get("family");
        let user_id: String = row.get("user_id");
        let username: String = row.get("username");
        let revoked =
            sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1 AND revoked = 0")
                .bind(&family)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        audit::record(
            &mut *tx,
            &audit::Actor {
                user_id: Some(&user_id),
                username: Some(&username),
                device_id: None,
            },
            "user.logout",
            None,
            Some(&username),
            json!({"refresh_tokens_revoked": revoked}),
        )
        .await?;
    }
    tx.commit().await?;
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
    let limit = Limit::per_address(
        "refresh-address",
        state.config.refresh_max_failures_per_address,
        addr,
    );
    let throttle = Throttle::check(&state, limit.into_iter().collect(), addr, |minutes| {
        format!(
            "too many failed token refreshes from this address: wait up to {minutes} minutes, \
             then log in again"
        )
    })
    .await?;
    let result = rotate(&state, &body.refresh_token).await;
    throttle.settle(&state, &result).await?;
    result
}

/// Rotates a refresh token: the work of [`refresh`].
async fn rotate(state: &AppState, token: &str) -> ApiResult<Json<Value>> {
    let hash = sha256_hex(token);
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
        state,
        &user_id,
        &username,
        row.get::<i64, _>("is_admin") != 0,
        &family,
    )
    .await
}
