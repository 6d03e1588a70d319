//! Authentication: password hashing, access tokens, refresh tokens, device credentials, and
//! the extractors that turn an `Authorization` header into a known user or device.
//!
//! * Passwords are hashed with argon2id on a blocking thread, never on the async runtime.
//! * Access tokens are short-lived HS256 JWTs; the algorithm is pinned when verifying.
//! * Refresh tokens and device credentials are random 256-bit secrets stored only as SHA-256
//!   hashes (a fast hash is right for high-entropy secrets; argon2 is for passwords).
//! * A device credential is `bd1_<device id>_<secret>`: one string a device keeps for weeks
//!   offline, revocable by an admin.
//! * Logins, password changes, token refreshes and enrolments are rate limited by their
//!   failures ([`Throttle`]); [`log_in`] is the one login decision, for the API and the
//!   dashboard alike.

use crate::access::audit;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::accounts;
use crate::storage::{Db, now};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Hashes a password with argon2id, off the async runtime.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// Checks a password against a stored argon2 hash, off the async runtime.
pub async fn verify_password(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A random secret of 32 bytes, URL-safe base64.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a secret, hex.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Signing and verifying keys for access tokens.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    /// Keys from a shared secret.
    pub fn from_secret(secret: &[u8]) -> Self {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// Claims in an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Username.
    pub name: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
}

/// Issues an access token.
pub fn issue_access_token(keys: &JwtKeys, user_id: &str, username: &str, ttl: i64) -> String {
    let now = now();
    let claims = Claims {
        sub: user_id.to_owned(),
        name: username.to_owned(),
        iat: now,
        exp: now + ttl,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .expect("HS256 signing cannot fail")
}

/// Seconds of clock difference between server processes that token times tolerate.
const CLOCK_LEEWAY: i64 = 30;

/// Checks an access token: signature, expiry, and times that this server could have issued.
/// A token is refused when it claims to be issued in the future, or to live longer than the
/// configured lifetime (`max_ttl`): a leaked signing key, or a token made elsewhere, cannot
/// mint a credential that outlives the setting.
fn verify_access_token(keys: &JwtKeys, token: &str, max_ttl: i64) -> Result<Claims, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256];
    validation.leeway = CLOCK_LEEWAY as u64;
    validation.set_required_spec_claims(&["exp", "iat", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                ApiError::Unauthorized("access token expired: log in again or refresh it".into())
            }
            _ => ApiError::Unauthorized("access token is not valid".into()),
        })?;
    let now = now();
    if claims.iat > now + CLOCK_LEEWAY {
        return Err(ApiError::Unauthorized(
            "access token is not valid: issued in the future".into(),
        ));
    }
    if claims.exp - claims.iat > max_ttl + CLOCK_LEEWAY || claims.exp > now + max_ttl + CLOCK_LEEWAY
    {
        return Err(ApiError::Unauthorized(
            "access token is not valid: it lives longer than this server issues".into(),
        ));
    }
    Ok(claims)
}

/// Makes a device credential.
pub fn device_token(device_id: &uuid::Uuid, secret: &str) -> String {
    format!("bd1_{}_{secret}", device_id.simple())
}

fn parse_device_token(token: &str) -> Option<(uuid::Uuid, &str)> {
    let rest = token.strip_prefix("bd1_")?;
    let (id, secret) = rest.split_once('_')?;
    Some((uuid::Uuid::parse_str(id).ok()?, secret))
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization header".into()))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("Authorization header is not text".into()))?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(|| ApiError::Unauthorized("Authorization must be `Bearer <token>`".into()))
}

/// A signed-in user (from an access token).
#[derive(Debug, Clone)]
pub struct UserAuth {
    /// User id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Whether the user administers the whole server.
    pub is_admin: bool,
}

impl UserAuth {
    /// Refuses anyone but a server admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden("only an admin may do this".into()))
        }
    }
}

impl FromRequestParts<AppState> for UserAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if token.starts_with("bd1_") {
            return Err(ApiError::Unauthorized(
                "a device credential cannot be used here: log in as a user".into(),
            ));
        }
        let claims = verify_access_token(&state.keys, token, state.config.access_token_ttl)?;
        let row = accounts::user_by_id(&state.db.pool, &claims.sub).await?;
        let row = row.ok_or_else(|| ApiError::Unauthorized("user no longer exists".into()))?;
        if row.active == 0 {
            return Err(ApiError::Unauthorized("this user has been removed".into()));
        }
        Ok(UserAuth {
            user_id: claims.sub,
            username: row.username,
            is_admin: row.is_admin != 0,
        })
    }
}

/// An enrolled device (from a device credential).
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// Device id.
    pub device_id: String,
    /// The device's user.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// The Automerge actor bound to the device.
    pub actor: automerge::ActorId,
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        authenticate_device(&state.db, token).await
    }
}

/// A device credential the server issued (a known device, the right secret), whatever the
/// device's standing: [`authenticate_device`] decides whether it may still do anything, and the
/// wipe confirmation (`POST /api/v1/devices/wipe`) takes one whose wipe was ordered.
#[derive(Debug, Clone)]
pub struct PresentedDevice {
    /// Device id.
    pub device_id: String,
    /// The device's user.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// The Automerge actor bound to the device (hex).
    pub actor: String,
    /// When an admin revoked the device.
    pub revoked_at: Option<i64>,
    /// Whether the device's user is still active (not removed).
    pub user_active: bool,
    /// When a wipe was ordered (by a revocation or the user's removal).
    pub wipe_requested_at: Option<i64>,
    /// When the device was first told to wipe itself.
    pub wipe_sent_at: Option<i64>,
    /// When the device confirmed its wipe.
    pub wipe_confirmed_at: Option<i64>,
}

impl PresentedDevice {
    /// A wipe was ordered and the device has not confirmed it yet.
    pub fn wipe_pending(&self) -> bool {
        self.wipe_requested_at.is_some() && self.wipe_confirmed_at.is_none()
    }
}

impl FromRequestParts<AppState> for PresentedDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        presented_device(&state.db, token).await
    }
}

/// Checks that a device credential is one this server issued, without deciding what the
/// device may do.
pub async fn presented_device(db: &Db, token: &str) -> Result<PresentedDevice, ApiError> {
    let (id, secret) = parse_device_token(token).ok_or_else(|| {
        ApiError::Unauthorized("sync needs a device credential: enrol this device first".into())
    })?;
    let row = crate::storage::devices::credential(&db.pool, &id.to_string()).await?;
    let Some(row) = row else {
        return Err(ApiError::Unauthorized(
            "this device is not enrolled on this server (if the server was restored from a \
             backup taken before the device enrolled, ask your coordinator for a new enrolment \
             code and enrol again with the same store: everything on the device is kept and \
             sent back)"
                .into(),
        ));
    };
    if !bool::from(
        row.token_hash
            .as_bytes()
            .ct_eq(sha256_hex(secret).as_bytes()),
    ) {
        return Err(ApiError::Unauthorized(
            "device credential is not valid".into(),
        ));
    }
    Ok(PresentedDevice {
        device_id: id.to_string(),
        user_id: row.user_id,
        username: row.username,
        actor: row.actor,
        revoked_at: row.revoked_at,
        user_active: row.active != 0,
        wipe_requested_at: row.wipe_requested_at,
        wipe_sent_at: row.wipe_sent_at,
        wipe_confirmed_at: row.wipe_confirmed_at,
    })
}

/// Checks a device credential. A device whose wipe was ordered and not yet confirmed is
/// answered `401 wipe`, the order to wipe itself (docs/protocol.md, "Wipe"); after its
/// confirmation, and for a device revoked before wipes existed, the plain refusal.
pub async fn authenticate_device(db: &Db, token: &str) -> Result<DeviceAuth, ApiError> {
    let device = presented_device(db, token).await?;
    if device.wipe_pending() {
        return Err(crate::access::wipe::instruct(db, &device).await);
    }
    if device.revoked_at.is_some() {
        return Err(ApiError::Unauthorized(
            if device.wipe_confirmed_at.is_some() {
                "this device has been revoked by an admin and was wiped: ask your coordinator \
                 for a new enrolment code"
            } else {
                "this device has been revoked by an admin; its records stay on it: ask your \
                 coordinator"
            }
            .into(),
        ));
    }
    if !device.user_active {
        return Err(ApiError::Unauthorized(
            "this device's user has been removed".into(),
        ));
    }
    let actor = automerge::ActorId::try_from(device.actor.as_str())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored actor is not hex: {e}")))?;
    Ok(DeviceAuth {
        device_id: device.device_id,
        user_id: device.user_id,
        username: device.username,
        actor,
    })
}

/// The `login_failures` key of an account: its username, trimmed and in lower case.
pub fn account_key(username: &str) -> String {
    format!("account:{}", username.trim().to_lowercase())
}

/// A name as given, cut to 100 characters for the audit log.
fn as_given(name: &str) -> String {
    name.chars().take(100).collect()
}

/// One limit on failed attempts: a key in `login_failures` (`account:<username>`,
/// `address:<ip>`, `refresh-address:<ip>`, `enrol-address:<ip>`), the failures allowed under it
/// within the window, and how the audit log names it.
pub struct Limit {
    key: String,
    max: u32,
    name: &'static str,
    /// What a refusal's audit entry names as its target.
    target: Option<String>,
}

impl Limit {
    /// A limit per client address (none when the address cannot be known).
    pub fn per_address(
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
pub struct Throttle {
    attempt: String,
    keys: Vec<String>,
}

impl Throttle {
    /// Records this attempt under every limit, or refuses it with `refusal(minutes)` when one
    /// of them has been reached.
    pub async fn check(
        state: &AppState,
        limits: Vec<Limit>,
        addr: Option<std::net::IpAddr>,
        refusal: impl FnOnce(i64) -> String,
    ) -> Result<Self, ApiError> {
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
        accounts::forget_failures_before(pool, since).await?;
        for limit in &limits {
            accounts::record_failure(pool, &limit.key, now, &throttle.attempt).await?;
        }
        for limit in &limits {
            // Counts this attempt too: `max` earlier failures make this one the first refused.
            let count = accounts::count_failures(pool, &limit.key, since).await?;
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

    async fn forget_attempt(&self, state: &AppState) -> Result<(), ApiError> {
        if self.keys.is_empty() {
            return Ok(());
        }
        accounts::forget_attempt(&state.db.pool, &self.attempt).await?;
        Ok(())
    }

    /// After the work: a refusal of the credential (`401`) stays counted as a failure; any
    /// other outcome (success, a malformed request, an unavailable database) is forgotten.
    pub async fn settle<T>(
        &self,
        state: &AppState,
        result: &Result<T, ApiError>,
    ) -> Result<(), ApiError> {
        match result {
            Err(ApiError::Unauthorized(_)) => Ok(()),
            _ => self.forget_attempt(state).await,
        }
    }

    /// After a right password: this attempt was no failure, and the account starts afresh.
    async fn succeeded(&self, state: &AppState, username: &str) -> Result<(), ApiError> {
        self.forget_attempt(state).await?;
        accounts::forget_failures(&state.db.pool, &account_key(username)).await?;
        Ok(())
    }
}

fn too_many_logins(minutes: i64) -> String {
    format!(
        "too many failed logins for this account or from this address: \
         wait up to {minutes} minutes and try again, or ask an admin"
    )
}

fn same_password() -> ApiError {
    ApiError::bad(
        "weak_password",
        "new_password must differ from the current password",
    )
}

/// What a login or a refresh hands out: an access token, a refresh token, and who they are
/// for.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token (a JWT).
    pub access_token: String,
    /// The refresh token (given out once; only its hash is kept).
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The user's id.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// Whether the user administers the whole server.
    pub is_admin: bool,
    /// The user's memberships.
    pub memberships: Vec<accounts::Membership>,
}

/// Issues an access token and a new refresh token in `family`.
async fn issue_tokens(
    state: &AppState,
    user_id: &str,
    username: &str,
    is_admin: bool,
    family: &str,
) -> Result<Tokens, ApiError> {
    let access = issue_access_token(
        &state.keys,
        user_id,
        username,
        state.config.access_token_ttl,
    );
    let refresh = random_secret();
    accounts::insert_refresh_token(
        &state.db.pool,
        &sha256_hex(&refresh),
        user_id,
        family,
        now() + state.config.refresh_token_ttl,
        now(),
    )
    .await?;
    Ok(Tokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: state.config.access_token_ttl,
        user_id: user_id.to_owned(),
        username: username.to_owned(),
        is_admin,
        memberships: accounts::memberships(&state.db.pool, user_id).await?,
    })
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
    mut details: serde_json::Value,
) -> Result<u64, ApiError> {
    let hash = hash_password(new_password).await?;
    let mut tx = state.db.begin_write().await?;
    accounts::set_password(&mut *tx, user_id, &hash).await?;
    let revoked = accounts::revoke_user_refresh_tokens(&mut *tx, user_id).await?;
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

static DUMMY_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// Logs a user in with their password, from `addr` when it is known: counts the attempt
/// against the account's and the address's limits (`429` past them), checks the password
/// (`401` for an unknown user, a wrong password or a removed user, audited
/// `auth.login_failed`), replaces the password with `new_password` when one is given (`400
/// weak_password` when it is short or the same) and otherwise refuses a password an admin reset
/// (`403 password_change_required`), audits `auth.login` and issues tokens for a new login.
pub async fn log_in(
    state: &AppState,
    addr: Option<std::net::IpAddr>,
    username: &str,
    password: &str,
    new_password: Option<String>,
) -> Result<Tokens, ApiError> {
    if let Some(new) = &new_password {
        crate::access::accounts::check_password("new_password", new)?;
    }
    let throttle = Throttle::check(
        state,
        Limit::login(state, username, addr),
        addr,
        too_many_logins,
    )
    .await?;
    let row = accounts::login_row(&state.db.pool, username).await?;
    let wrong = || ApiError::Unauthorized("unknown user or wrong password".into());
    let address = addr.map(|a| a.to_string());
    let Some(row) = row else {
        // Spend the same time as a real check, so timing does not reveal which users exist.
        let dummy = DUMMY_HASH
            .get_or_init(|| async { hash_password(random_secret()).await.unwrap_or_default() })
            .await;
        verify_password(dummy.clone(), password.to_owned()).await;
        audit::record(
            &state.db.pool,
            &audit::Actor::anonymous(),
            "auth.login_failed",
            None,
            Some(&as_given(username)),
            json!({"reason": "unknown_user", "address": address}),
        )
        .await?;
        return Err(wrong());
    };
    let user_id = row.id;
    let right = verify_password(row.password_hash, password.to_owned()).await;
    if !right || row.active == 0 {
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
            Some(username),
            json!({"reason": reason, "address": address}),
        )
        .await?;
        return Err(wrong());
    }
    throttle.succeeded(state, username).await?;
    let actor = audit::Actor {
        user_id: Some(&user_id),
        username: Some(username),
        device_id: None,
    };
    match new_password {
        Some(new) if new == password => return Err(same_password()),
        Some(new) => {
            replace_password(
                state,
                &actor,
                &user_id,
                username,
                new,
                json!({"at_login": true}),
            )
            .await?;
        }
        None if row.must_change_password != 0 => {
            return Err(ApiError::ForbiddenUntil {
                code: "password_change_required",
                message: format!(
                    "an admin has reset this password: log in again with the temporary \
                     password and a new one of at least {} characters in `new_password` \
                     (`bothy password` does this)",
                    crate::input::PASSWORD_MIN
                ),
            });
        }
        None => {}
    }
    audit::record(&state.db.pool, &actor, "auth.login", None, None, json!({})).await?;
    let family = uuid::Uuid::new_v4().to_string();
    issue_tokens(state, &user_id, username, row.is_admin != 0, &family).await
}

/// A signed-in user changes their own password, from `addr` when it is known: the current
/// password is checked as a login is (the same limits; a wrong one is `401`, audited
/// `auth.login_failed`), the new one must be long enough and differ (`400 weak_password`), and
/// every refresh token of theirs is revoked. Device credentials are unaffected.
pub async fn change_password(
    state: &AppState,
    user: &UserAuth,
    addr: Option<std::net::IpAddr>,
    current_password: &str,
    new_password: String,
) -> Result<(), ApiError> {
    crate::access::accounts::check_password("new_password", &new_password)?;
    let throttle = Throttle::check(
        state,
        Limit::login(state, &user.username, addr),
        addr,
        too_many_logins,
    )
    .await?;
    let hash = accounts::password_hash(&state.db.pool, &user.user_id).await?;
    if !verify_password(hash, current_password.to_owned()).await {
        audit::record(
            &state.db.pool,
            &audit::Actor::user(user),
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
    throttle.succeeded(state, &user.username).await?;
    if new_password == current_password {
        return Err(same_password());
    }
    replace_password(
        state,
        &audit::Actor::user(user),
        &user.user_id,
        &user.username,
        new_password,
        json!({}),
    )
    .await?;
    Ok(())
}

/// Ends the login a refresh token belongs to: it, and every token rotated from the same login,
/// stop working, audited `user.logout`. An unknown token does nothing.
pub async fn log_out(db: &Db, refresh_token: &str) -> Result<(), ApiError> {
    let mut tx = db.begin_write().await?;
    let owner = accounts::token_owner(&mut *tx, &sha256_hex(refresh_token)).await?;
    if let Some(owner) = owner {
        let revoked = accounts::revoke_family(&mut *tx, &owner.family).await?;
        audit::record(
            &mut *tx,
            &audit::Actor {
                user_id: Some(&owner.user_id),
                username: Some(&owner.username),
                device_id: None,
            },
            "user.logout",
            None,
            Some(&owner.username),
            json!({"refresh_tokens_revoked": revoked}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Refreshes a login, from `addr` when it is known: failed refreshes are counted per address
/// (`429` past the limit, without looking the token up), and the token is rotated.
pub async fn refresh(
    state: &AppState,
    addr: Option<std::net::IpAddr>,
    token: &str,
) -> Result<Tokens, ApiError> {
    let limit = Limit::per_address(
        "refresh-address",
        state.config.refresh_max_failures_per_address,
        addr,
    );
    let throttle = Throttle::check(state, limit.into_iter().collect(), addr, |minutes| {
        format!(
            "too many failed token refreshes from this address: wait up to {minutes} minutes, \
             then log in again"
        )
    })
    .await?;
    let result = rotate(state, token).await;
    throttle.settle(state, &result).await?;
    result
}

/// Rotates a refresh token: new tokens in the same login, `401` for a token that is unknown,
/// expired, revoked or its user removed. A token used twice revokes its whole login (someone
/// copied it).
async fn rotate(state: &AppState, token: &str) -> Result<Tokens, ApiError> {
    let hash = sha256_hex(token);
    let mut tx = state.db.begin_write().await?;
    let row = accounts::refresh_row(&mut *tx, &hash).await?;
    let invalid = || ApiError::Unauthorized("refresh token is not valid: log in again".into());
    let Some(row) = row else {
        return Err(invalid());
    };
    if row.revoked != 0 || row.expires_at < now() || row.active == 0 {
        return Err(invalid());
    }
    // Claim the token; the condition makes two concurrent uses unable to both succeed. A token
    // that was already used has been copied: revoke its whole family.
    if !accounts::claim_refresh_token(&mut *tx, &hash, now()).await? {
        accounts::revoke_whole_family(&mut *tx, &row.family).await?;
        tx.commit().await?;
        tracing::warn!(family = %row.family, "refresh token reused: family revoked");
        return Err(invalid());
    }
    tx.commit().await?;
    issue_tokens(
        state,
        &row.user_id,
        &row.username,
        row.is_admin != 0,
        &row.family,
    )
    .await
}
