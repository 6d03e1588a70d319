//! Accounts and who holds what: projects, users, memberships, enrolment codes and the devices
//! they enrol, and what an admin does to them (revoking a device, removing a user, resetting a
//! password). The admin API, first start and the server's command line all make them here, with
//! the same checks.

use crate::access::audit;
use crate::access::auth::{
    Limit, Throttle, UserAuth, device_token, hash_password, random_secret, sha256_hex,
};
use crate::access::roles::Role;
use crate::error::{ApiError, ApiResult};
use crate::input;
use crate::state::AppState;
use crate::storage::{self, Db, now};
use bothy_sync_core::validate::check_project_slug;
use rand::Rng;
use serde_json::json;

/// Creates a project: `400 invalid_slug` or `invalid_name`, `409` when the slug is taken.
pub async fn create_project_in(db: &Db, slug: &str, name: &str) -> ApiResult<()> {
    check_project_slug(slug).map_err(|e| ApiError::bad("invalid_slug", e.to_string()))?;
    let name = &input::text("project name", "invalid_name", name, input::NAME_MAX)?;
    if !storage::projects::insert(&db.pool, slug, name, now()).await? {
        return Err(ApiError::Conflict(format!(
            "project `{slug}` already exists"
        )));
    }
    Ok(())
}

/// Creates a user: `400 invalid_username` or `weak_password`, `409` when the username is
/// taken. Returns the id.
pub async fn create_user_in(
    db: &Db,
    username: &str,
    password: &str,
    is_admin: bool,
) -> ApiResult<String> {
    let ok = !username.is_empty()
        && username.len() <= input::USERNAME_MAX
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if !ok {
        return Err(ApiError::bad(
            "invalid_username",
            "username must be 1-64 letters, digits or . _ - @",
        ));
    }
    check_password("password", password)?;
    let hash = hash_password(password.to_owned()).await?;
    let id = uuid::Uuid::new_v4().to_string();
    if !storage::accounts::insert_user(&db.pool, &id, username, &hash, is_admin, now()).await? {
        return Err(ApiError::Conflict(format!(
            "user `{username}` already exists"
        )));
    }
    Ok(id)
}

/// The rules of every new password (an account's first, a change, a reset): `400
/// weak_password` naming `field` otherwise.
pub fn check_password(field: &str, password: &str) -> ApiResult<()> {
    let min = input::PASSWORD_MIN;
    if password.chars().count() < min {
        return Err(ApiError::bad(
            "weak_password",
            format!("{field} must be at least {min} characters"),
        ));
    }
    Ok(())
}

/// Gives a user a role in a project, or changes it: `400 invalid_role`, `404` for an unknown
/// project or user.
pub async fn add_member_in(db: &Db, slug: &str, username: &str, role: &str) -> ApiResult<()> {
    let role = Role::parse(role).map_err(|e| ApiError::bad("invalid_role", e.to_string()))?;
    if !storage::projects::exists(&db.pool, slug).await? {
        return Err(ApiError::NotFound(format!("no project `{slug}`")));
    }
    let user_id = user_id_of(db, username).await?;
    storage::accounts::set_membership(&db.pool, slug, &user_id, role.as_str()).await?;
    Ok(())
}

/// Takes a user out of a project and audits `member.remove`: `404` for an unknown user or one
/// who is not a member. Returns the role they had.
pub async fn remove_member(
    db: &Db,
    actor: &audit::Actor<'_>,
    slug: &str,
    username: &str,
) -> ApiResult<String> {
    let user_id = user_id_of(db, username).await?;
    let mut tx = db.begin_write().await?;
    let Some(role) = storage::accounts::role_in(&mut *tx, slug, &user_id).await? else {
        return Err(ApiError::NotFound(format!(
            "`{username}` is not a member of project `{slug}`"
        )));
    };
    storage::accounts::remove_membership(&mut *tx, slug, &user_id).await?;
    audit::record(
        &mut *tx,
        actor,
        "member.remove",
        Some(slug),
        Some(username),
        json!({"role": role}),
    )
    .await?;
    tx.commit().await?;
    Ok(role)
}

/// The id of the user with this username: `404` when there is none.
pub async fn user_id_of(db: &Db, username: &str) -> ApiResult<String> {
    storage::accounts::user_id_by_username(&db.pool, username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))
}

/// Makes a single-use enrolment code for a user's device, valid for `hours`: `404` for an
/// unknown user. Returns the code and when it expires.
pub async fn create_enrolment_in(
    db: &Db,
    username: &str,
    created_by: Option<&str>,
    hours: i64,
) -> ApiResult<(String, i64)> {
    let user_id = user_id_of(db, username).await?;
    // 10 characters from 31 unambiguous ones: about 50 bits, single use, expiring.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ2345679";
    let raw: String = {
        let mut rng = rand::rng();
        (0..10)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    };
    let code = format!("{}-{}", &raw[..5], &raw[5..]);
    let expires_at = now() + hours * 3600;
    storage::devices::insert_enrolment(
        &db.pool,
        &sha256_hex(&raw),
        &user_id,
        created_by,
        expires_at,
        now(),
    )
    .await?;
    Ok((code, expires_at))
}

/// A device once revoked.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// The device's name.
    pub name: String,
    /// Its user's name.
    pub username: String,
    /// When it was revoked (earlier, for a device revoked before wipes existed).
    pub revoked_at: i64,
    /// When its wipe was ordered.
    pub wipe_requested_at: Option<i64>,
}

/// Revokes a device and orders its wipe, auditing `device.revoke` (with `reason`) and
/// `device.wipe_ordered`: `404` for an unknown device, `409` when it was revoked and its wipe
/// ordered already. A device revoked before wipes existed gets its wipe ordered.
pub async fn revoke_device(
    db: &Db,
    actor: &audit::Actor<'_>,
    id: &str,
    reason: &str,
) -> ApiResult<Revoked> {
    let mut tx = db.begin_write().await?;
    let row = storage::devices::revocation_row(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no device `{id}`")))?;
    let at = now();
    let revoked_at = match row.revoked_at {
        Some(before) if row.wipe_requested_at.is_some() => {
            return Err(ApiError::Conflict(format!(
                "device `{id}` was already revoked (at {before}) and its wipe ordered"
            )));
        }
        // Revoked before wipes existed: this revocation orders its wipe.
        Some(before) => before,
        None => {
            storage::devices::revoke(&mut *tx, id, at).await?;
            audit::record(
                &mut *tx,
                actor,
                "device.revoke",
                None,
                Some(id),
                json!({"reason": reason, "device_name": row.name, "username": row.username}),
            )
            .await?;
            at
        }
    };
    crate::access::wipe::order(&mut tx, actor, id, "device.revoke", at).await?;
    let wipe_requested_at = storage::devices::wipe_requested_at(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(Revoked {
        name: row.name,
        username: row.username,
        revoked_at,
        wipe_requested_at,
    })
}

/// What removing a user stopped.
#[derive(Debug, Clone, Copy)]
pub struct Removed {
    /// Their refresh tokens revoked.
    pub refresh_tokens_revoked: u64,
    /// Their devices that were not revoked.
    pub devices_stopped: i64,
    /// The wipes ordered for their devices.
    pub wipes_ordered: i64,
}

/// Removes a user: they can no longer log in, their refresh tokens are revoked and a wipe is
/// ordered for each of their devices, auditing `user.remove` (with `reason`) and
/// `device.wipe_ordered`. `400 cannot_remove_self` when `by_user_id` is theirs, `404` for an
/// unknown user, `409` when they were removed already.
pub async fn remove_user(
    db: &Db,
    actor: &audit::Actor<'_>,
    by_user_id: &str,
    username: &str,
    reason: &str,
) -> ApiResult<Removed> {
    let mut tx = db.begin_write().await?;
    let row = storage::accounts::standing_by_username(&mut *tx, username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    let user_id = row.id;
    if user_id == by_user_id {
        return Err(ApiError::bad(
            "cannot_remove_self",
            "an admin cannot remove their own account: ask another admin",
        ));
    }
    if row.active == 0 {
        return Err(ApiError::Conflict(format!(
            "user `{username}` was already removed"
        )));
    }
    storage::accounts::deactivate_user(&mut *tx, &user_id).await?;
    let tokens = storage::accounts::revoke_user_refresh_tokens(&mut *tx, &user_id).await?;
    let devices = storage::devices::count_unrevoked(&mut *tx, &user_id).await?;
    audit::record(
        &mut *tx,
        actor,
        "user.remove",
        None,
        Some(username),
        json!({"reason": reason, "refresh_tokens_revoked": tokens, "devices_stopped": devices}),
    )
    .await?;
    // Every device of theirs not yet told to wipe, revoked ones included.
    let unwiped = storage::devices::unwiped_of_user(&mut *tx, &user_id).await?;
    let at = now();
    let mut wipes = 0;
    for device in &unwiped {
        if crate::access::wipe::order(&mut tx, actor, device, "user.remove", at).await? {
            wipes += 1;
        }
    }
    tx.commit().await?;
    Ok(Removed {
        refresh_tokens_revoked: tokens,
        devices_stopped: devices,
        wipes_ordered: wipes,
    })
}

/// Sets a temporary password that the user must replace at their next login, ends their logins
/// (refresh tokens), forgets their account's failed logins (lifting a lock-out) and audits
/// `user.password_reset`. `400 weak_password`, `400 cannot_reset_self` when `by_user_id` is
/// theirs, `404` for an unknown user, `409` for a removed one. Returns the refresh tokens
/// revoked.
pub async fn reset_password(
    db: &Db,
    actor: &audit::Actor<'_>,
    by_user_id: &str,
    username: &str,
    new_password: String,
) -> ApiResult<u64> {
    check_password("new_password", &new_password)?;
    let row = storage::accounts::standing_by_username(&db.pool, username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    let user_id = row.id;
    if user_id == by_user_id {
        return Err(ApiError::bad(
            "cannot_reset_self",
            "an admin cannot reset their own password: change it with POST \
             /api/v1/auth/password (`bothy password`), which asks for the current one",
        ));
    }
    if row.active == 0 {
        return Err(ApiError::Conflict(format!(
            "user `{username}` was removed: a password would not let them log in"
        )));
    }
    let hash = hash_password(new_password).await?;
    let mut tx = db.begin_write().await?;
    storage::accounts::set_temporary_password(&mut *tx, &user_id, &hash).await?;
    let tokens = storage::accounts::revoke_user_refresh_tokens(&mut *tx, &user_id).await?;
    // A reset is also how an admin lifts a lock-out: the account's failed logins are forgotten.
    storage::accounts::forget_failures(&mut *tx, &crate::access::auth::account_key(username))
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "user.password_reset",
        None,
        Some(username),
        json!({"refresh_tokens_revoked": tokens}),
    )
    .await?;
    tx.commit().await?;
    Ok(tokens)
}

/// A device's new credential, as enrolment or registration hands it out once.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The device's id.
    pub device_id: uuid::Uuid,
    /// Its credential (`bd1_...`); only the secret's hash is kept.
    pub device_token: String,
    /// The Automerge actor bound to it (hex).
    pub actor: String,
}

/// Normalises a typed enrolment code: case and separators do not matter.
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Makes a device of a user, with a new credential and actor, in the transaction.
async fn create_device(
    tx: &mut storage::Tx,
    user_id: &str,
    name: String,
    app: Option<String>,
) -> ApiResult<Enrolled> {
    let device_id = uuid::Uuid::new_v4();
    let secret = random_secret();
    let actor = automerge::ActorId::random().to_hex_string();
    storage::devices::insert(
        &mut **tx,
        &storage::devices::NewDevice {
            id: &device_id.to_string(),
            user_id,
            name: &name,
            actor: &actor,
            token_hash: &sha256_hex(&secret),
            app: app.as_deref(),
            created_at: now(),
        },
    )
    .await?;
    Ok(Enrolled {
        device_id,
        device_token: device_token(&device_id, &secret),
        actor,
    })
}

/// Registers the device a signed-in user is on (`name` and `app` checked), auditing
/// `device.enrol`.
pub async fn register_device(
    db: &Db,
    user: &UserAuth,
    name: String,
    app: Option<String>,
) -> ApiResult<Enrolled> {
    let mut tx = db.begin_write().await?;
    let created = create_device(&mut tx, &user.user_id, name, app).await?;
    audit::record(
        &mut *tx,
        &audit::Actor::user(user),
        "device.enrol",
        None,
        Some(&created.device_id.to_string()),
        serde_json::json!({"by": "password login"}),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Enrols a device with a single-use enrolment code, from `addr` when it is known (`name`,
/// `app` and `enrolment_id` checked), auditing `device.enrol`. Failed codes are counted per
/// address: past the limit (`429`), codes are not even looked up. `401` for a code that is
/// unknown, expired, its user removed, or used (except by the same device asking again with
/// the same enrolment id, which gets that device back with a fresh credential). Returns the
/// user's id and the device.
pub async fn enrol(
    state: &AppState,
    addr: Option<std::net::IpAddr>,
    code: &str,
    name: String,
    app: Option<String>,
    enrolment_id: Option<String>,
) -> ApiResult<(String, Enrolled)> {
    let limit = Limit::per_address(
        "enrol-address",
        state.config.enrol_max_failures_per_address,
        addr,
    );
    let throttle = Throttle::check(state, limit.into_iter().collect(), addr, |minutes| {
        format!(
            "too many failed enrolment attempts from this address: wait up to {minutes} \
             minutes, check the code and try again"
        )
    })
    .await?;
    let result = redeem(&state.db, code, name, app, enrolment_id).await;
    throttle.settle(state, &result).await?;
    result
}

/// Redeems a code: the work of [`enrol`].
async fn redeem(
    db: &Db,
    code: &str,
    name: String,
    app: Option<String>,
    enrolment_id: Option<String>,
) -> ApiResult<(String, Enrolled)> {
    let code_hash = sha256_hex(&normalise_code(code));
    // Kept hashed: with the code, it is what lets a device take its enrolment up again.
    let id_hash = enrolment_id.map(|id| sha256_hex(&format!("bothy enrolment {id}")));
    let mut tx = db.begin_write().await?;
    let row = storage::devices::enrolment(&mut *tx, &code_hash).await?;
    let Some(row) = row else {
        return Err(invalid_code("is not valid"));
    };
    if row.expires_at < now() {
        return Err(invalid_code("has expired"));
    }
    if row.active == 0 {
        return Err(invalid_code("belongs to a removed user"));
    }
    let user_id = row.user_id;
    if row.used_at.is_some() {
        let again = enrol_again(tx, &code_hash, id_hash.as_deref(), &user_id, app).await?;
        return Ok((user_id, again));
    }
    // Conditional, so a code redeemed twice at once makes one device, not two.
    let claimed =
        storage::devices::claim_enrolment(&mut *tx, &code_hash, id_hash.as_deref(), now()).await?;
    if !claimed {
        // Another request claimed it first (perhaps this device's own earlier try).
        let again = enrol_again(tx, &code_hash, id_hash.as_deref(), &user_id, app).await?;
        return Ok((user_id, again));
    }
    let created = create_device(&mut tx, &user_id, name, app).await?;
    let device_id = created.device_id.to_string();
    storage::devices::set_enrolment_device(&mut *tx, &code_hash, &device_id).await?;
    audit::record(
        &mut *tx,
        &audit::Actor {
            user_id: Some(&user_id),
            username: None,
            device_id: Some(&device_id),
        },
        "device.enrol",
        None,
        Some(&device_id),
        serde_json::json!({"by": "enrolment code"}),
    )
    .await?;
    tx.commit().await?;
    Ok((user_id, created))
}

fn invalid_code(why: &str) -> ApiError {
    ApiError::Unauthorized(format!(
        "enrolment code {why}: ask your coordinator for a new one"
    ))
}

/// A used code presented again: the device that used it, asking again with the same
/// enrolment id (its answer was lost), gets that device back with a fresh token, which
/// replaces the one in the lost answer. Anyone else is refused.
async fn enrol_again(
    mut tx: storage::Tx,
    code_hash: &str,
    id_hash: Option<&str>,
    user_id: &str,
    app: Option<String>,
) -> ApiResult<Enrolled> {
    let used = storage::devices::enrolment_use(&mut *tx, code_hash).await?;
    let same = matches!((id_hash, used.enrolment_id_hash.as_deref()), (Some(a), Some(b))
        if bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes())));
    let (Some(device_id), Some(actor)) = (used.device_id, used.actor) else {
        return Err(invalid_code("has already been used"));
    };
    if !same {
        return Err(invalid_code("has already been used by another device"));
    }
    if used.revoked_at.is_some() {
        return Err(invalid_code(
            "was used by this device, which has since been revoked",
        ));
    }
    let device = uuid::Uuid::parse_str(&device_id)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored device id {device_id}: {e}")))?;
    let secret = random_secret();
    storage::devices::renew_credential(&mut *tx, &device_id, &sha256_hex(&secret), app.as_deref())
        .await?;
    audit::record(
        &mut *tx,
        &audit::Actor {
            user_id: Some(user_id),
            username: None,
            device_id: Some(&device_id),
        },
        "device.enrol",
        None,
        Some(&device_id),
        serde_json::json!({"by": "enrolment code", "repeated": true}),
    )
    .await?;
    tx.commit().await?;
    Ok(Enrolled {
        device_id: device,
        device_token: device_token(&device, &secret),
        actor,
    })
}
