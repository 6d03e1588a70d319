//! Authentication: password hashing, access tokens, refresh tokens, device credentials, and
//! the extractors that turn an `Authorization` header into a known user or device.
//!
//! * Passwords are hashed with argon2id on a blocking thread, never on the async runtime.
//! * Access tokens are short-lived HS256 JWTs; the algorithm is pinned when verifying.
//! * Refresh tokens and device credentials are random 256-bit secrets stored only as SHA-256
//!   hashes (a fast hash is right for high-entropy secrets; argon2 is for passwords).
//! * A device credential is `bd1_<device id>_<secret>`: one string a device keeps for weeks
//!   offline, revocable by an admin.

use crate::error::ApiError;
use crate::state::AppState;
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
use sha2::{Digest, Sha256};
use sqlx::Row;
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
        let row = sqlx::query("SELECT username, is_admin, active FROM users WHERE id = $1")
            .bind(&claims.sub)
            .fetch_optional(&state.db.pool)
            .await?;
        let row = row.ok_or_else(|| ApiError::Unauthorized("user no longer exists".into()))?;
        if row.get::<i64, _>("active") == 0 {
            return Err(ApiError::Unauthorized("this user has been removed".into()));
        }
        Ok(UserAuth {
            user_id: claims.sub,
            username: row.get("username"),
            is_admin: row.get::<i64, _>("is_admin") != 0,
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
    let row = sqlx::query(
        "SELECT d.token_hash, d.actor, d.revoked_at, d.user_id, d.wipe_requested_at, \
         d.wipe_sent_at, d.wipe_confirmed_at, u.username, u.active \
         FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Err(ApiError::Unauthorized(
            "this device is not enrolled on this server (if the server was restored from a \
             backup taken before the device enrolled, ask your coordinator for a new enrolment \
             code and enrol again with the same store: everything on the device is kept and \
             sent back)"
                .into(),
        ));
    };
    let stored: String = row.get("token_hash");
    if !bool::from(stored.as_bytes().ct_eq(sha256_hex(secret).as_bytes())) {
        return Err(ApiError::Unauthorized(
            "device credential is not valid".into(),
        ));
    }
    Ok(PresentedDevice {
        device_id: id.to_string(),
        user_id: row.get("user_id"),
        username: row.get("username"),
        actor: row.get("actor"),
        revoked_at: row.get("revoked_at"),
        user_active: row.get::<i64, _>("active") != 0,
        wipe_requested_at: row.get("wipe_requested_at"),
        wipe_sent_at: row.get("wipe_sent_at"),
        wipe_confirmed_at: row.get("wipe_confirmed_at"),
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
