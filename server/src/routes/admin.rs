//! The admin API: projects, users, memberships, enrolment codes and devices.

use super::JsonBody;
use crate::access::audit;
use crate::access::auth::{UserAuth, hash_password, random_secret, sha256_hex};
use crate::access::roles::Role;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::now;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bothy_sync_core::validate::check_project_slug;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

/// New project.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Its slug, unique on the server.
    #[schema(schema_with = super::input::slug_schema)]
    slug: String,
    /// Its name (trimmed).
    #[schema(schema_with = super::input::name_schema)]
    name: String,
}

/// `POST /api/v1/admin/projects`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/projects",
    tag = "admin",
    security(("user_token" = [])),
    request_body = NewProject,
    responses(
        (status = 201, description = "Created: `{\"slug\",\"name\"}`"),
        (status = 400, description = "`invalid_json`, `invalid_slug` or `invalid_name`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 409, description = "the slug exists", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn create_project(
    State(state): State<AppState>,
    user: UserAuth,
    JsonBody(body): JsonBody<NewProject>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    user.require_admin()?;
    create_project_in(&state.db, &body.slug, &body.name).await?;
    audit::record(
        &state.db.pool,
        &audit::Actor::user(&user),
        "project.create",
        Some(&body.slug),
        None,
        json!({"name": body.name.trim()}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"slug": body.slug, "name": body.name.trim()})),
    ))
}

/// Creates a project (shared by the API and the server's own CLI).
pub async fn create_project_in(db: &crate::storage::Db, slug: &str, name: &str) -> ApiResult<()> {
    check_project_slug(slug).map_err(|e| ApiError::bad("invalid_slug", e.to_string()))?;
    let name = &super::input::text("project name", "invalid_name", name, super::input::NAME_MAX)?;
    let res = sqlx::query(
        "INSERT INTO projects (slug, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(slug)
    .bind(name)
    .bind(now())
    .execute(&db.pool)
    .await?;
    if res.rows_affected() == 0 {
        return Err(ApiError::Conflict(format!(
            "project `{slug}` already exists"
        )));
    }
    Ok(())
}

/// `GET /api/v1/admin/projects`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/projects",
    tag = "admin",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "`[{\"slug\",\"name\"}]`"),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn list_projects(
    State(state): State<AppState>,
    user: UserAuth,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let rows = sqlx::query("SELECT slug, name FROM projects ORDER BY slug")
        .fetch_all(&state.db.pool)
        .await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(
                |r| json!({"slug": r.get::<String, _>("slug"), "name": r.get::<String, _>("name")}),
            )
            .collect(),
    )))
}

/// New user.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Their username, unique on the server.
    #[schema(schema_with = super::input::username_schema)]
    username: String,
    /// Their password; left out or `null`, one is generated and answered once.
    #[serde(default)]
    #[schema(schema_with = super::input::password_schema)]
    password: Option<String>,
    /// A server admin.
    #[serde(default)]
    is_admin: bool,
}

/// `POST /api/v1/admin/users`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users",
    tag = "admin",
    security(("user_token" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created: `{\"id\",\"username\",\"password\"?}` (a generated password is returned once)"),
        (status = 400, description = "`invalid_json`, `invalid_username` or `weak_password`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 409, description = "the user exists", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    user: UserAuth,
    JsonBody(body): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    user.require_admin()?;
    let generated = body.password.is_none();
    let password = body
        .password
        .unwrap_or_else(|| random_secret()[..16].to_owned());
    let id = create_user_in(&state.db, &body.username, &password, body.is_admin).await?;
    audit::record(
        &state.db.pool,
        &audit::Actor::user(&user),
        "user.create",
        None,
        Some(&body.username),
        json!({"is_admin": body.is_admin}),
    )
    .await?;
    let mut answer = json!({"id": id, "username": body.username});
    if generated {
        answer["password"] = json!(password);
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Creates a user (shared by the API, first start and the server's CLI). Returns the id.
pub async fn create_user_in(
    db: &crate::storage::Db,
    username: &str,
    password: &str,
    is_admin: bool,
) -> ApiResult<String> {
    let ok = !username.is_empty()
        && username.len() <= super::input::USERNAME_MAX
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
    let res = sqlx::query(
        "INSERT INTO users (id, username, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(username)
    .bind(hash)
    .bind(i64::from(is_admin))
    .bind(now())
    .execute(&db.pool)
    .await?;
    if res.rows_affected() == 0 {
        return Err(ApiError::Conflict(format!(
            "user `{username}` already exists"
        )));
    }
    Ok(id)
}

/// The rules of every new password (an account's first, a change, a reset): `400
/// weak_password` naming `field` otherwise.
pub fn check_password(field: &str, password: &str) -> ApiResult<()> {
    let min = super::input::PASSWORD_MIN;
    if password.chars().count() < min {
        return Err(ApiError::bad(
            "weak_password",
            format!("{field} must be at least {min} characters"),
        ));
    }
    Ok(())
}

/// Membership.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The user.
    #[schema(schema_with = super::input::username_schema)]
    username: String,
    /// Their role in the project.
    #[schema(schema_with = super::input::role_schema)]
    role: String,
}

/// `POST /api/v1/admin/projects/{slug}/members`: adds a user to a project or changes their role.
#[utoipa::path(
    post,
    path = "/api/v1/admin/projects/{slug}/members",
    tag = "admin",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "The project's slug")),
    request_body = Member,
    responses(
        (status = 200, description = "`{\"project\",\"username\",\"role\"}`"),
        (status = 400, description = "`invalid_json` or `invalid_role`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 404, description = "unknown project or user", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn add_member(
    State(state): State<AppState>,
    user: UserAuth,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<Member>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    add_member_in(&state.db, &slug, &body.username, &body.role).await?;
    audit::record(
        &state.db.pool,
        &audit::Actor::user(&user),
        "member.set",
        Some(&slug),
        Some(&body.username),
        json!({"role": body.role}),
    )
    .await?;
    Ok(Json(
        json!({"project": slug, "username": body.username, "role": body.role}),
    ))
}

/// `POST /api/v1/admin/projects/{slug}/members/{username}/remove`: takes a user out of a
/// project. Their devices stop receiving its records and, at their next sync, delete the ones
/// they hold (docs/security.md, "What each device holds").
#[utoipa::path(
    post,
    path = "/api/v1/admin/projects/{slug}/members/{username}/remove",
    tag = "admin",
    security(("user_token" = [])),
    params(
        ("slug" = String, Path, description = "The project's slug"),
        ("username" = String, Path, description = "The user"),
    ),
    responses(
        (status = 200, description = "`{\"project\",\"username\",\"removed\":true,\"role\"}`: the role they had"),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 404, description = "unknown project or user, or the user is not a member", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    user: UserAuth,
    Path((slug, username)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let user_id = user_id_of(&state.db, &username).await?;
    let mut tx = state.db.begin_write().await?;
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE project = $1 AND user_id = $2")
            .bind(&slug)
            .bind(&user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(role) = role else {
        return Err(ApiError::NotFound(format!(
            "`{username}` is not a member of project `{slug}`"
        )));
    };
    sqlx::query("DELETE FROM memberships WHERE project = $1 AND user_id = $2")
        .bind(&slug)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "member.remove",
        Some(&slug),
        Some(&username),
        json!({"role": role}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(
        json!({"project": slug, "username": username, "removed": true, "role": role}),
    ))
}

/// Adds a membership (shared with the server's CLI).
pub async fn add_member_in(
    db: &crate::storage::Db,
    slug: &str,
    username: &str,
    role: &str,
) -> ApiResult<()> {
    let role = Role::parse(role).map_err(|e| ApiError::bad("invalid_role", e.to_string()))?;
    let project = sqlx::query("SELECT slug FROM projects WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&db.pool)
        .await?;
    if project.is_none() {
        return Err(ApiError::NotFound(format!("no project `{slug}`")));
    }
    let user_id = user_id_of(db, username).await?;
    sqlx::query(
        "INSERT INTO memberships (project, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (project, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(slug)
    .bind(user_id)
    .bind(role.as_str())
    .execute(&db.pool)
    .await?;
    Ok(())
}

async fn user_id_of(db: &crate::storage::Db, username: &str) -> ApiResult<String> {
    sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.get("id"))
        .ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))
}

/// New enrolment code.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnrolment {
    /// The user the device will belong to.
    #[schema(schema_with = super::input::username_schema)]
    username: String,
    /// Hours until the code expires: 1 to 720 (default 72).
    #[serde(default, deserialize_with = "super::input::whole_number")]
    #[schema(schema_with = super::input::enrolment_hours_schema)]
    expires_in_hours: Option<i64>,
}

/// `POST /api/v1/admin/enrolments`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/enrolments",
    tag = "admin",
    security(("user_token" = [])),
    request_body = NewEnrolment,
    responses(
        (status = 201, description = "`{\"code\",\"username\",\"expires_at\"}`"),
        (status = 400, description = "`invalid_json` or `invalid_expiry`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 404, description = "unknown user", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn create_enrolment(
    State(state): State<AppState>,
    user: UserAuth,
    JsonBody(body): JsonBody<NewEnrolment>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    user.require_admin()?;
    let hours = body.expires_in_hours.unwrap_or(72);
    if !(1..=super::input::ENROLMENT_HOURS_MAX).contains(&hours) {
        return Err(ApiError::bad(
            "invalid_expiry",
            "expires_in_hours must be 1 to 720",
        ));
    }
    let (code, expires_at) =
        create_enrolment_in(&state.db, &body.username, Some(&user.user_id), hours).await?;
    audit::record(
        &state.db.pool,
        &audit::Actor::user(&user),
        "enrolment.create",
        None,
        Some(&body.username),
        json!({"expires_at": expires_at}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"code": code, "username": body.username, "expires_at": expires_at})),
    ))
}

/// Makes a single-use enrolment code (shared with the server's CLI).
pub async fn create_enrolment_in(
    db: &crate::storage::Db,
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
    sqlx::query(
        "INSERT INTO enrolments (code_hash, user_id, created_by, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(&raw))
    .bind(user_id)
    .bind(created_by)
    .bind(expires_at)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok((code, expires_at))
}

/// `GET /api/v1/admin/devices`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/devices",
    tag = "admin",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "`[{\"device_id\",\"name\",\"username\",\"user_active\",\"app\",\"created_at\",\"last_sync_at\",\"revoked\",\"revoked_at\",\"pending_records\",\"last_pushed\",\"wipe_requested_at\",\"wipe_sent_at\",\"wipe_confirmed_at\",\"lost_records\",\"lost_changes\",\"lost\"}]`: `lost` lists `{\"record_id\",\"kind\",\"project\",\"unsynced_changes\",\"last_edited_at\"}` for each record whose changes a wiped device never delivered (`lost_records` and `lost_changes` are `null` until the wipe is confirmed)"),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn list_devices(State(state): State<AppState>, user: UserAuth) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let rows = sqlx::query(
        "SELECT d.id, d.name, u.username, u.active, d.app, d.created_at, d.last_sync_at, \
         d.revoked_at, d.pending_records, d.last_pushed, d.wipe_requested_at, d.wipe_sent_at, \
         d.wipe_confirmed_at \
         FROM devices d JOIN users u ON u.id = d.user_id ORDER BY d.created_at",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let mut losses = crate::access::wipe::losses_by_device(&state.db).await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(|r| {
                let id: String = r.get("id");
                let confirmed = r.get::<Option<i64>, _>("wipe_confirmed_at");
                let lost = losses.remove(&id).unwrap_or_default();
                let (lost_records, lost_changes) = match confirmed {
                    Some(_) => (
                        Some(lost.len() as i64),
                        Some(lost.iter().map(|l| l.unsynced_changes).sum::<i64>()),
                    ),
                    None => (None, None),
                };
                json!({
                    "device_id": id,
                    "name": r.get::<String, _>("name"),
                    "username": r.get::<String, _>("username"),
                    "app": r.get::<Option<String>, _>("app"),
                    "created_at": r.get::<i64, _>("created_at"),
                    "last_sync_at": r.get::<Option<i64>, _>("last_sync_at"),
                    "revoked": r.get::<Option<i64>, _>("revoked_at").is_some(),
                    "revoked_at": r.get::<Option<i64>, _>("revoked_at"),
                    "user_active": r.get::<i64, _>("active") != 0,
                    "pending_records": r.get::<Option<i64>, _>("pending_records"),
                    "last_pushed": r.get::<Option<i64>, _>("last_pushed"),
                    "wipe_requested_at": r.get::<Option<i64>, _>("wipe_requested_at"),
                    "wipe_sent_at": r.get::<Option<i64>, _>("wipe_sent_at"),
                    "wipe_confirmed_at": confirmed,
                    "lost_records": lost_records,
                    "lost_changes": lost_changes,
                    "lost": lost,
                })
            })
            .collect(),
    )))
}

/// Why an admin revokes a device or removes a user (kept in the audit log).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// The reason (trimmed).
    #[schema(schema_with = super::input::reason_schema)]
    reason: String,
}

fn check_reason(reason: &str) -> ApiResult<String> {
    let max = super::input::REASON_MAX;
    if reason.trim().is_empty() || reason.chars().count() > max {
        return Err(ApiError::bad(
            "invalid_reason",
            format!("give a reason of 1-{max} characters (it is kept in the audit log)"),
        ));
    }
    Ok(reason.trim().to_owned())
}

/// `POST /api/v1/admin/devices/{id}/revoke`: a lost or retired device stops syncing at once,
/// and a wipe is ordered: at its next request it is told to delete everything it holds
/// ([`crate::access::wipe`]). What it synced stays on the server. A device revoked before wipes
/// existed, which was never told to wipe, gets its wipe ordered by revoking it again.
#[utoipa::path(
    post,
    path = "/api/v1/admin/devices/{id}/revoke",
    tag = "admin",
    security(("user_token" = [])),
    params(("id" = String, Path, description = "The device id")),
    request_body = Reason,
    responses(
        (status = 200, description = "`{\"device_id\",\"name\",\"username\",\"revoked\":true,\"revoked_at\",\"wipe_requested_at\"}`. Audit: `device.revoke` and `device.wipe_ordered`"),
        (status = 400, description = "`invalid_json`, `invalid_reason`, or `invalid_value`: the id is not a UUID in lower case with hyphens", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 404, description = "unknown device", body = crate::openapi::ErrorBody),
        (status = 409, description = "already revoked (and its wipe ordered)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn revoke_device(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Reason>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let reason = check_reason(&body.reason)?;
    crate::error::check_id("id", &id)?;
    let mut tx = state.db.begin_write().await?;
    let row = sqlx::query(
        "SELECT d.name, d.revoked_at, d.wipe_requested_at, u.username FROM devices d \
         JOIN users u ON u.id = d.user_id WHERE d.id = $1",
    )
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no device `{id}`")))?;
    let at = now();
    let name: String = row.get("name");
    let username: String = row.get("username");
    let revoked_at = match row.get::<Option<i64>, _>("revoked_at") {
        Some(before) if row.get::<Option<i64>, _>("wipe_requested_at").is_some() => {
            return Err(ApiError::Conflict(format!(
                "device `{id}` was already revoked (at {before}) and its wipe ordered"
            )));
        }
        // Revoked before wipes existed: this revocation orders its wipe.
        Some(before) => before,
        None => {
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            audit::record(
                &mut *tx,
                &audit::Actor::user(&user),
                "device.revoke",
                None,
                Some(&id),
                json!({"reason": reason, "device_name": name, "username": username}),
            )
            .await?;
            at
        }
    };
    crate::access::wipe::order(
        &mut tx,
        &audit::Actor::user(&user),
        &id,
        "device.revoke",
        at,
    )
    .await?;
    let wipe_requested_at: Option<i64> =
        sqlx::query_scalar("SELECT wipe_requested_at FROM devices WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(Json(json!({
        "device_id": id, "name": name, "username": username, "revoked": true,
        "revoked_at": revoked_at, "wipe_requested_at": wipe_requested_at,
    })))
}

/// `POST /api/v1/admin/users/{username}/remove`: the user can no longer log in, refresh a
/// token, enrol or sync from any of their devices, and a wipe is ordered for each of their
/// devices ([`crate::access::wipe`]). Nothing they synced is deleted from the server.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{username}/remove",
    tag = "admin",
    security(("user_token" = [])),
    params(("username" = String, Path, description = "The user to remove")),
    request_body = Reason,
    responses(
        (status = 200, description = "`{\"username\",\"active\":false,\"refresh_tokens_revoked\",\"devices_stopped\",\"wipes_ordered\"}`. Audit: `user.remove`, and `device.wipe_ordered` for each device"),
        (status = 400, description = "`invalid_json`, `invalid_reason` or `cannot_remove_self`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 404, description = "unknown user", body = crate::openapi::ErrorBody),
        (status = 409, description = "already removed", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn remove_user(
    State(state): State<AppState>,
    user: UserAuth,
    Path(username): Path<String>,
    JsonBody(body): JsonBody<Reason>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let reason = check_reason(&body.reason)?;
    let mut tx = state.db.begin_write().await?;
    let row = sqlx::query("SELECT id, active FROM users WHERE username = $1")
        .bind(&username)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    let user_id: String = row.get("id");
    if user_id == user.user_id {
        return Err(ApiError::bad(
            "cannot_remove_self",
            "an admin cannot remove their own account: ask another admin",
        ));
    }
    if row.get::<i64, _>("active") == 0 {
        return Err(ApiError::Conflict(format!(
            "user `{username}` was already removed"
        )));
    }
    sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    let tokens =
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1 AND revoked = 0")
            .bind(&user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let (devices,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM devices WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(&user_id)
            .fetch_one(&mut *tx)
            .await?;
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "user.remove",
        None,
        Some(&username),
        json!({"reason": reason, "refresh_tokens_revoked": tokens, "devices_stopped": devices}),
    )
    .await?;
    // Every device of theirs not yet told to wipe, revoked ones included.
    let unwiped: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM devices WHERE user_id = $1 AND wipe_requested_at IS NULL ORDER BY id",
    )
    .bind(&user_id)
    .fetch_all(&mut *tx)
    .await?;
    let at = now();
    let mut wipes = 0;
    for device in &unwiped {
        if crate::access::wipe::order(
            &mut tx,
            &audit::Actor::user(&user),
            device,
            "user.remove",
            at,
        )
        .await?
        {
            wipes += 1;
        }
    }
    tx.commit().await?;
    Ok(Json(json!({
        "username": username, "active": false, "refresh_tokens_revoked": tokens,
        "devices_stopped": devices, "wipes_ordered": wipes,
    })))
}

/// An admin's password reset.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// A temporary password (at least 10 characters) to pass on to the user, who must replace
    /// it at their next login.
    #[schema(schema_with = super::auth::new_password_schema)]
    new_password: String,
}

/// `POST /api/v1/admin/users/{username}/password`: sets a temporary password that the user
/// must replace at their next login, and ends the user's logins (refresh tokens). Their
/// devices' credentials are separate and keep working.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{username}/password",
    tag = "admin",
    security(("user_token" = [])),
    params(("username" = String, Path, description = "The user whose password is reset")),
    request_body = PasswordReset,
    responses(
        (status = 200, description = "`{\"username\",\"must_change_password\":true,\"refresh_tokens_revoked\"}`"),
        (status = 400, description = "`invalid_json`, `weak_password` or `cannot_reset_self`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 404, description = "unknown user", body = crate::openapi::ErrorBody),
        (status = 409, description = "the user was removed", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    user: UserAuth,
    Path(username): Path<String>,
    JsonBody(body): JsonBody<PasswordReset>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    check_password("new_password", &body.new_password)?;
    let row = sqlx::query("SELECT id, active FROM users WHERE username = $1")
        .bind(&username)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user `{username}`")))?;
    let user_id: String = row.get("id");
    if user_id == user.user_id {
        return Err(ApiError::bad(
            "cannot_reset_self",
            "an admin cannot reset their own password: change it with POST \
             /api/v1/auth/password (`bothy password`), which asks for the current one",
        ));
    }
    if row.get::<i64, _>("active") == 0 {
        return Err(ApiError::Conflict(format!(
            "user `{username}` was removed: a password would not let them log in"
        )));
    }
    let hash = hash_password(body.new_password).await?;
    let mut tx = state.db.begin_write().await?;
    sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 1 WHERE id = $2")
        .bind(hash)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    let tokens =
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1 AND revoked = 0")
            .bind(&user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    // A reset is also how an admin lifts a lock-out: the account's failed logins are forgotten.
    sqlx::query("DELETE FROM login_failures WHERE key = $1")
        .bind(super::auth::account_key(&username))
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "user.password_reset",
        None,
        Some(&username),
        json!({"refresh_tokens_revoked": tokens}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({
        "username": username, "must_change_password": true, "refresh_tokens_revoked": tokens,
    })))
}
