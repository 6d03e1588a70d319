//! Devices as stored: their credentials (hashed) and Automerge actors, the enrolment codes that
//! make them, their revocation, and what the admin's list shows of them.

use sqlx::any::AnyExecutor;

/// A new device.
#[derive(Debug, Clone)]
pub struct NewDevice<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its user.
    pub user_id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// The Automerge actor bound to it (hex).
    pub actor: &'a str,
    /// The SHA-256 of its credential's secret.
    pub token_hash: &'a str,
    /// The app and its version, if it said.
    pub app: Option<&'a str>,
    /// When it was made (Unix seconds).
    pub created_at: i64,
}

/// A device presenting its credential, with its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialRow {
    /// The SHA-256 of the credential's secret.
    pub token_hash: String,
    /// The Automerge actor bound to the device (hex).
    pub actor: String,
    /// When an admin revoked the device.
    pub revoked_at: Option<i64>,
    /// The device's user.
    pub user_id: String,
    /// When a wipe was ordered.
    pub wipe_requested_at: Option<i64>,
    /// When the device was first told to wipe itself.
    pub wipe_sent_at: Option<i64>,
    /// When the device confirmed its wipe.
    pub wipe_confirmed_at: Option<i64>,
    /// The user's name.
    pub username: String,
    /// 0 once the user was removed.
    pub active: i64,
}

/// A device as the admin's list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceListing {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its user's name.
    pub username: String,
    /// 0 once its user was removed.
    pub active: i64,
    /// The app and its version it last said.
    pub app: Option<String>,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it last synced.
    pub last_sync_at: Option<i64>,
    /// When an admin revoked it.
    pub revoked_at: Option<i64>,
    /// How many records it said it had not yet pushed.
    pub pending_records: Option<i64>,
    /// When it last pushed.
    pub last_pushed: Option<i64>,
    /// When a wipe was ordered.
    pub wipe_requested_at: Option<i64>,
    /// When it was first told to wipe itself.
    pub wipe_sent_at: Option<i64>,
    /// When it confirmed its wipe.
    pub wipe_confirmed_at: Option<i64>,
}

/// A device as its revocation checks it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RevocationRow {
    /// Its name.
    pub name: String,
    /// When an admin revoked it, if one did.
    pub revoked_at: Option<i64>,
    /// When a wipe was ordered, if one was.
    pub wipe_requested_at: Option<i64>,
    /// Its user's name.
    pub username: String,
}

/// An enrolment code as its redemption checks it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrolmentRow {
    /// The user the device will belong to.
    pub user_id: String,
    /// When the code expires (Unix seconds).
    pub expires_at: i64,
    /// When the code was redeemed, if it was.
    pub used_at: Option<i64>,
    /// 0 once the user was removed.
    pub active: i64,
}

/// What a used enrolment code made.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrolmentUse {
    /// The hash of the enrolment id the device sent with the code, if it sent one.
    pub enrolment_id_hash: Option<String>,
    /// The device it made, once made.
    pub device_id: Option<String>,
    /// That device's Automerge actor (hex).
    pub actor: Option<String>,
    /// When that device was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// Stores a new device.
pub async fn insert(db: impl AnyExecutor<'_>, device: &NewDevice<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO devices (id, user_id, name, actor, token_hash, app, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(device.id)
    .bind(device.user_id)
    .bind(device.name)
    .bind(device.actor)
    .bind(device.token_hash)
    .bind(device.app)
    .bind(device.created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The device with this id, with its user, as its credential is checked.
pub async fn credential(
    db: impl AnyExecutor<'_>,
    device_id: &str,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.token_hash, d.actor, d.revoked_at, d.user_id, d.wipe_requested_at, \
         d.wipe_sent_at, d.wipe_confirmed_at, u.username, u.active \
         FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $1",
    )
    .bind(device_id)
    .fetch_optional(db)
    .await
}

/// Gives a device that is not revoked a new credential (and the app it now says, if it
/// says).
pub async fn renew_credential(
    db: impl AnyExecutor<'_>,
    device_id: &str,
    token_hash: &str,
    app: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE devices SET token_hash = $1, app = COALESCE($2, app) \
         WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .bind(app)
    .bind(device_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Every device with its user, oldest first.
pub async fn listing(db: impl AnyExecutor<'_>) -> Result<Vec<DeviceListing>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.name, u.username, u.active, d.app, d.created_at, d.last_sync_at, \
         d.revoked_at, d.pending_records, d.last_pushed, d.wipe_requested_at, d.wipe_sent_at, \
         d.wipe_confirmed_at \
         FROM devices d JOIN users u ON u.id = d.user_id ORDER BY d.created_at",
    )
    .fetch_all(db)
    .await
}

/// The device with this id, as its revocation checks it.
pub async fn revocation_row(
    db: impl AnyExecutor<'_>,
    device_id: &str,
) -> Result<Option<RevocationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.name, d.revoked_at, d.wipe_requested_at, u.username FROM devices d \
         JOIN users u ON u.id = d.user_id WHERE d.id = $1",
    )
    .bind(device_id)
    .fetch_optional(db)
    .await
}

/// Revokes a device not yet revoked.
pub async fn revoke(db: impl AnyExecutor<'_>, device_id: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(at)
        .bind(device_id)
        .execute(db)
        .await?;
    Ok(())
}

/// When a wipe of the device (which must exist) was ordered, if one was.
pub async fn wipe_requested_at(
    db: impl AnyExecutor<'_>,
    device_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT wipe_requested_at FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_one(db)
        .await
}

/// How many devices of a user are not revoked.
pub async fn count_unrevoked(db: impl AnyExecutor<'_>, user_id: &str) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM devices WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .fetch_one(db)
            .await?;
    Ok(count)
}

/// The devices of a user not yet told to wipe, revoked ones included, by id.
pub async fn unwiped_of_user(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM devices WHERE user_id = $1 AND wipe_requested_at IS NULL ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Stores a new enrolment code (its hash).
pub async fn insert_enrolment(
    db: impl AnyExecutor<'_>,
    code_hash: &str,
    user_id: &str,
    created_by: Option<&str>,
    expires_at: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrolments (code_hash, user_id, created_by, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(code_hash)
    .bind(user_id)
    .bind(created_by)
    .bind(expires_at)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// The enrolment code with this hash, with its user.
pub async fn enrolment(
    db: impl AnyExecutor<'_>,
    code_hash: &str,
) -> Result<Option<EnrolmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.user_id, e.expires_at, e.used_at, u.active FROM enrolments e \
         JOIN users u ON u.id = e.user_id WHERE e.code_hash = $1",
    )
    .bind(code_hash)
    .fetch_optional(db)
    .await
}

/// Marks an enrolment code used, with the hash of the enrolment id sent with it, unless it was
/// used before: `false` when it was.
pub async fn claim_enrolment(
    db: impl AnyExecutor<'_>,
    code_hash: &str,
    enrolment_id_hash: Option<&str>,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE enrolments SET used_at = $1, enrolment_id_hash = $2 \
         WHERE code_hash = $3 AND used_at IS NULL",
    )
    .bind(at)
    .bind(enrolment_id_hash)
    .bind(code_hash)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// Records the device an enrolment code made.
pub async fn set_enrolment_device(
    db: impl AnyExecutor<'_>,
    code_hash: &str,
    device_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE enrolments SET device_id = $1 WHERE code_hash = $2")
        .bind(device_id)
        .bind(code_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// What the enrolment code with this hash (which must exist) made.
pub async fn enrolment_use(
    db: impl AnyExecutor<'_>,
    code_hash: &str,
) -> Result<EnrolmentUse, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.enrolment_id_hash, e.device_id, d.actor, d.revoked_at FROM enrolments e \
         LEFT JOIN devices d ON d.id = e.device_id WHERE e.code_hash = $1",
    )
    .bind(code_hash)
    .fetch_one(db)
    .await
}
