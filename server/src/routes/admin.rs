//! The admin API: projects, users, memberships, enrolment codes and devices.

use super::JsonBody;
use crate::access::accounts;
use crate::access::audit;
use crate::access::auth::{UserAuth, random_secret};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// New project.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Its slug, unique on the server.
    #[schema(schema_with = crate::input::slug_schema)]
    slug: String,
    /// Its name (trimmed).
    #[schema(schema_with = crate::input::name_schema)]
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
    accounts::create_project_in(&state.db, &body.slug, &body.name).await?;
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

/// `GET /api/v1/admin/projects`.
#[utoipa::path(
    get,
    path = "/api/v1/admin/projects",
    tag = "admin",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "`[{\"slug\",\"name\",\"demo\"}]`: `demo` is `true` for a demo programme (synthetic people, made by `bothy-server demo`), else `false`"),
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
    let projects = crate::storage::projects::list(&state.db.pool).await?;
    let demos = crate::storage::demo::demo_slugs(&state.db.pool).await?;
    Ok(Json(Value::Array(
        projects
            .into_iter()
            .map(|p| {
                let demo = demos.contains(&p.slug);
                json!({"slug": p.slug, "name": p.name, "demo": demo})
            })
            .collect(),
    )))
}

/// New user.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Their username, unique on the server.
    #[schema(schema_with = crate::input::username_schema)]
    username: String,
    /// Their password; left out or `null`, one is generated and answered once.
    #[serde(default)]
    #[schema(schema_with = crate::input::password_schema)]
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
    let id = accounts::create_user_in(&state.db, &body.username, &password, body.is_admin).await?;
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

/// Membership.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The user.
    #[schema(schema_with = crate::input::username_schema)]
    username: String,
    /// Their role in the project.
    #[schema(schema_with = crate::input::role_schema)]
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
    accounts::add_member_in(&state.db, &slug, &body.username, &body.role).await?;
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
    let role =
        accounts::remove_member(&state.db, &audit::Actor::user(&user), &slug, &username).await?;
    Ok(Json(
        json!({"project": slug, "username": username, "removed": true, "role": role}),
    ))
}

/// New enrolment code.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnrolment {
    /// The user the device will belong to.
    #[schema(schema_with = crate::input::username_schema)]
    username: String,
    /// Hours until the code expires: 1 to 720 (default 72).
    #[serde(default, deserialize_with = "crate::input::whole_number")]
    #[schema(schema_with = crate::input::enrolment_hours_schema)]
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
    if !(1..=crate::input::ENROLMENT_HOURS_MAX).contains(&hours) {
        return Err(ApiError::bad(
            "invalid_expiry",
            "expires_in_hours must be 1 to 720",
        ));
    }
    let (code, expires_at) =
        accounts::create_enrolment_in(&state.db, &body.username, Some(&user.user_id), hours)
            .await?;
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
    let devices = crate::storage::devices::listing(&state.db.pool).await?;
    let mut losses = crate::access::wipe::losses_by_device(&state.db).await?;
    Ok(Json(Value::Array(
        devices
            .into_iter()
            .map(|d| {
                let confirmed = d.wipe_confirmed_at;
                let lost = losses.remove(&d.id).unwrap_or_default();
                let (lost_records, lost_changes) = match confirmed {
                    Some(_) => (
                        Some(lost.len() as i64),
                        Some(lost.iter().map(|l| l.unsynced_changes).sum::<i64>()),
                    ),
                    None => (None, None),
                };
                json!({
                    "device_id": d.id,
                    "name": d.name,
                    "username": d.username,
                    "app": d.app,
                    "created_at": d.created_at,
                    "last_sync_at": d.last_sync_at,
                    "revoked": d.revoked_at.is_some(),
                    "revoked_at": d.revoked_at,
                    "user_active": d.active != 0,
                    "pending_records": d.pending_records,
                    "last_pushed": d.last_pushed,
                    "wipe_requested_at": d.wipe_requested_at,
                    "wipe_sent_at": d.wipe_sent_at,
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
    #[schema(schema_with = crate::input::reason_schema)]
    reason: String,
}

fn check_reason(reason: &str) -> ApiResult<String> {
    let max = crate::input::REASON_MAX;
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
    let revoked =
        accounts::revoke_device(&state.db, &audit::Actor::user(&user), &id, &reason).await?;
    Ok(Json(json!({
        "device_id": id, "name": revoked.name, "username": revoked.username, "revoked": true,
        "revoked_at": revoked.revoked_at, "wipe_requested_at": revoked.wipe_requested_at,
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
    let removed = accounts::remove_user(
        &state.db,
        &audit::Actor::user(&user),
        &user.user_id,
        &username,
        &reason,
    )
    .await?;
    Ok(Json(json!({
        "username": username, "active": false,
        "refresh_tokens_revoked": removed.refresh_tokens_revoked,
        "devices_stopped": removed.devices_stopped, "wipes_ordered": removed.wipes_ordered,
    })))
}

/// An admin's password reset.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// A temporary password (at least 10 characters) to pass on to the user, who must replace
    /// it at their next login.
    #[schema(schema_with = crate::input::new_password_schema)]
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
    let tokens = accounts::reset_password(
        &state.db,
        &audit::Actor::user(&user),
        &user.user_id,
        &username,
        body.new_password,
    )
    .await?;
    Ok(Json(json!({
        "username": username, "must_change_password": true, "refresh_tokens_revoked": tokens,
    })))
}
