//! Project set-up: sites, activities and instrument wording, managed through the admin API, and
//! the project's own instrument definitions ([`crate::instruments`]), delivered to devices on
//! sync ([`setup_for`]) so forms show them offline, together with the user's role in each
//! project, so devices refuse at capture what that role may not record.
//!
//! Server admins and a project's admins and coordinators manage its sites and activities
//! ([`Capability::ManageSetup`]); only server admins load instrument wording, which is licensed
//! text ([`crate::access::roles::may_load_wording`]). Every change is audited.

use super::JsonBody;
use crate::access::audit;
use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::{Db, now};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bothy_sync_core::Instrument;
use bothy_sync_core::protocol::{InstrumentWording, ProjectSetup, Setup, SetupActivity, SetupSite};
use bothy_sync_core::schema::ACTIVITY_TYPES;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::BTreeMap;

fn check_slug(what: &'static str, slug: &str) -> ApiResult<()> {
    if super::input::is_slug(slug) {
        Ok(())
    } else {
        Err(ApiError::bad(
            "invalid_slug",
            format!("{what}: a slug is 1-64 lowercase letters, digits and hyphens"),
        ))
    }
}

fn check_name(name: &str) -> ApiResult<String> {
    super::input::text("name", "invalid_name", name, super::input::NAME_MAX)
}

fn check_activity_type(t: &str) -> ApiResult<()> {
    if ACTIVITY_TYPES.contains(&t) {
        Ok(())
    } else {
        Err(ApiError::bad(
            "invalid_value",
            format!(
                "activity_type: `{t}` is not one of {}",
                ACTIVITY_TYPES.join(", ")
            ),
        ))
    }
}

/// A new site.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    /// Its slug, unique in the project.
    #[schema(schema_with = super::input::slug_schema)]
    slug: String,
    /// Its name (trimmed).
    #[schema(schema_with = super::input::name_schema)]
    name: String,
}

/// A change to a site: its name, whether it is archived, or both. Fields left out (or `null`)
/// stay as they are.
#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SiteChange {
    /// The new name (trimmed).
    #[serde(default)]
    #[schema(schema_with = super::input::name_change_schema)]
    name: Option<String>,
    /// Archived (hidden from new sessions) or restored.
    #[serde(default)]
    archived: Option<bool>,
}

/// A change to an activity: any of its name, type, site, and whether it is archived. Fields
/// left out (or `null`) stay as they are.
#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ActivityChange {
    /// The new name (trimmed).
    #[serde(default)]
    #[schema(schema_with = super::input::name_change_schema)]
    name: Option<String>,
    /// The new activity type.
    #[serde(default)]
    #[schema(schema_with = super::input::activity_type_change_schema)]
    activity_type: Option<String>,
    /// The site (`""` clears it); it must exist in the project.
    #[serde(default)]
    #[schema(schema_with = super::input::site_ref_schema)]
    site: Option<String>,
    /// Archived (hidden from new sessions) or restored.
    #[serde(default)]
    archived: Option<bool>,
}

/// A new activity.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    /// Its slug, unique in the project.
    #[schema(schema_with = super::input::slug_schema)]
    slug: String,
    /// Its name (trimmed).
    #[schema(schema_with = super::input::name_schema)]
    name: String,
    /// Its type.
    #[schema(schema_with = super::input::activity_type_schema)]
    activity_type: String,
    /// The site it runs at (`""` or `null`: none); it must exist in the project.
    #[serde(default)]
    #[schema(schema_with = super::input::site_ref_schema)]
    site: Option<String>,
}

/// Checks an activity's site: a slug of a site of the project (404 when there is none).
async fn check_site(db: &Db, project: &str, site: &str) -> ApiResult<()> {
    if !super::input::is_slug(site) {
        return Err(ApiError::bad(
            "invalid_slug",
            "site: a slug is 1-64 lowercase letters, digits and hyphens",
        ));
    }
    if !site_exists(db, project, site).await? {
        return Err(ApiError::NotFound(format!(
            "site: no site `{site}` in project `{project}`"
        )));
    }
    Ok(())
}

fn conflict_or(e: sqlx::Error, what: &str) -> ApiError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            ApiError::Conflict(format!("{what} already exists"))
        }
        _ => e.into(),
    }
}

async fn site_exists(db: &Db, project: &str, site: &str) -> ApiResult<bool> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM sites WHERE project = $1 AND slug = $2")
            .bind(project)
            .bind(site)
            .fetch_optional(&db.pool)
            .await?
            .is_some(),
    )
}

/// `POST /api/v1/admin/projects/{slug}/sites`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/projects/{slug}/sites",
    tag = "admin",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project")),
    request_body = NewSite,
    responses(
        (status = 201, description = "Created: `{\"slug\",\"name\",\"archived\"}`"),
        (status = 400, description = "`invalid_json` (not an object, or an unknown field), `invalid_slug`, `invalid_name` or `invalid_value`", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin, nor the project's admin or coordinator", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (or site, activity)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the site exists", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn create_site(
    State(state): State<AppState>,
    user: UserAuth,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<NewSite>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ProjectAccess::require(&state, &user, &project, Capability::ManageSetup).await?;
    check_slug("slug", &body.slug)?;
    let name = check_name(&body.name)?;
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO sites (project, slug, name, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $4)",
    )
    .bind(&project)
    .bind(&body.slug)
    .bind(&name)
    .bind(now())
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_or(e, &format!("site `{}`", body.slug)))?;
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "site.create",
        Some(&project),
        Some(&body.slug),
        json!({"name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"slug": body.slug, "name": name, "archived": false})),
    ))
}

/// `GET /api/v1/admin/projects/{slug}/sites` (archived ones too, marked).
#[utoipa::path(
    get,
    path = "/api/v1/admin/projects/{slug}/sites",
    tag = "admin",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project")),
    responses(
        (status = 200, description = "`[{\"slug\",\"name\",\"archived\"}]`"),
        (status = 403, description = "not a server admin, nor the project's admin or coordinator", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (or site, activity)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn list_sites(
    State(state): State<AppState>,
    user: UserAuth,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &project, Capability::ManageSetup).await?;
    let rows =
        sqlx::query("SELECT slug, name, archived FROM sites WHERE project = $1 ORDER BY slug")
            .bind(&project)
            .fetch_all(&state.db.pool)
            .await?;
    Ok(Json(Value::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "slug": r.get::<String, _>("slug"),
                    "name": r.get::<String, _>("name"),
                    "archived": r.get::<i64, _>("archived") != 0,
                })
            })
            .collect(),
    )))
}

/// `PATCH /api/v1/admin/projects/{slug}/sites/{site}`: rename, archive or restore.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/projects/{slug}/sites/{site}",
    tag = "admin",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project"), ("site" = String, Path, description = "the site")),
    request_body = SiteChange,
    responses(
        (status = 200, description = "Updated"),
        (status = 400, description = "`invalid_json` (not an object, or an unknown field), `invalid_slug`, `invalid_name` or `invalid_value`", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin, nor the project's admin or coordinator", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (or site, activity)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn update_site(
    State(state): State<AppState>,
    user: UserAuth,
    Path((project, site)): Path<(String, String)>,
    JsonBody(body): JsonBody<SiteChange>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &project, Capability::ManageSetup).await?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    let mut tx = state.db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE sites SET name = COALESCE($1, name), archived = COALESCE($2, archived), \
         updated_at = $3 WHERE project = $4 AND slug = $5",
    )
    .bind(name.as_deref())
    .bind(body.archived.map(i64::from))
    .bind(now())
    .bind(&project)
    .bind(&site)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound(format!(
            "no site `{site}` in project `{project}`"
        )));
    }
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "site.update",
        Some(&project),
        Some(&site),
        json!({"name": name, "archived": body.archived}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({"slug": site, "updated": true})))
}

/// `POST /api/v1/admin/projects/{slug}/activities`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/projects/{slug}/activities",
    tag = "admin",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project")),
    request_body = NewActivity,
    responses(
        (status = 201, description = "Created: the activity"),
        (status = 400, description = "`invalid_json` (not an object, or an unknown field), `invalid_slug`, `invalid_name` or `invalid_value`", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin, nor the project's admin or coordinator", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (or site, activity)", body = crate::openapi::ErrorBody),
        (status = 409, description = "the activity exists", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn create_activity(
    State(state): State<AppState>,
    user: UserAuth,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<NewActivity>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ProjectAccess::require(&state, &user, &project, Capability::ManageSetup).await?;
    check_slug("slug", &body.slug)?;
    let name = check_name(&body.name)?;
    check_activity_type(&body.activity_type)?;
    let site = body.site.filter(|s| !s.is_empty());
    if let Some(s) = &site {
        check_site(&state.db, &project, s).await?;
    }
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO activities (project, slug, name, activity_type, site, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(&project)
    .bind(&body.slug)
    .bind(&name)
    .bind(&body.activity_type)
    .bind(site.as_deref())
    .bind(now())
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_or(e, &format!("activity `{}`", body.slug)))?;
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "activity.create",
        Some(&project),
        Some(&body.slug),
        json!({"name": name, "activity_type": body.activity_type, "site": site}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"slug": body.slug, "name": name, "activity_type": body.activity_type,
                    "site": site, "archived": false}),
        ),
    ))
}

/// `GET /api/v1/admin/projects/{slug}/activities` (archived ones too, marked).
#[utoipa::path(
    get,
    path = "/api/v1/admin/projects/{slug}/activities",
    tag = "admin",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project")),
    responses(
        (status = 200, description = "`[{\"slug\",\"name\",\"activity_type\",\"site\",\"archived\"}]`"),
        (status = 403, description = "not a server admin, nor the project's admin or coordinator", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (or site, activity)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn list_activities(
    State(state): State<AppState>,
    user: UserAuth,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &project, Capability::ManageSetup).await?;
    let rows = sqlx::query(
        "SELECT slug, name, activity_type, site, archived FROM activities WHERE project = $1 ORDER BY slug",
    )
    .bind(&project)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(Value::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "slug": r.get::<String, _>("slug"),
                    "name": r.get::<String, _>("name"),
                    "activity_type": r.get::<String, _>("activity_type"),
                    "site": r.get::<Option<String>, _>("site"),
                    "archived": r.get::<i64, _>("archived") != 0,
                })
            })
            .collect(),
    )))
}

/// `PATCH /api/v1/admin/projects/{slug}/activities/{activity}`.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/projects/{slug}/activities/{activity}",
    tag = "admin",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project"), ("activity" = String, Path, description = "the activity")),
    request_body = ActivityChange,
    responses(
        (status = 200, description = "Updated"),
        (status = 400, description = "`invalid_json` (not an object, or an unknown field), `invalid_slug`, `invalid_name` or `invalid_value`", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin, nor the project's admin or coordinator", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (or site, activity)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn update_activity(
    State(state): State<AppState>,
    user: UserAuth,
    Path((project, activity)): Path<(String, String)>,
    JsonBody(body): JsonBody<ActivityChange>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &project, Capability::ManageSetup).await?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    if let Some(t) = &body.activity_type {
        check_activity_type(t)?;
    }
    if let Some(s) = body.site.as_deref().filter(|s| !s.is_empty()) {
        check_site(&state.db, &project, s).await?;
    }
    let mut tx = state.db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE activities SET name = COALESCE($1, name), activity_type = COALESCE($2, activity_type), \
         site = CASE WHEN $3 = 0 THEN site WHEN $4 = '' THEN NULL ELSE $4 END, \
         archived = COALESCE($5, archived), updated_at = $6 WHERE project = $7 AND slug = $8",
    )
    .bind(name.as_deref())
    .bind(body.activity_type.as_deref())
    .bind(i64::from(body.site.is_some()))
    .bind(body.site.as_deref().unwrap_or(""))
    .bind(body.archived.map(i64::from))
    .bind(now())
    .bind(&project)
    .bind(&activity)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound(format!(
            "no activity `{activity}` in project `{project}`"
        )));
    }
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "activity.update",
        Some(&project),
        Some(&activity),
        json!({"name": name, "activity_type": body.activity_type, "site": body.site,
               "archived": body.archived}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({"slug": activity, "updated": true})))
}

/// A wording file.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordingFile {
    /// The language tag (`en`, `cy`).
    #[schema(schema_with = super::input::language_schema)]
    language: String,
    /// The licence under which the wording is used (trimmed; empty: none).
    #[serde(default)]
    #[schema(schema_with = super::input::licence_schema)]
    licence: Option<String>,
    /// Item number (`"1"`...) to its text: every item of the instrument, 1-1000 characters.
    #[schema(schema_with = super::input::wording_items_schema)]
    items: BTreeMap<String, String>,
    /// Answer value (`"1"`...) to its label, 1-200 characters, for answers in the
    /// instrument's range.
    #[serde(default)]
    #[schema(schema_with = super::input::wording_responses_schema)]
    responses: BTreeMap<String, String>,
}

/// Which project a wording is for.
#[derive(Deserialize)]
pub struct WordingScope {
    #[serde(default)]
    project: Option<String>,
}

/// `PUT /api/v1/admin/instruments/{instrument}[?project=P]`: loads (replaces) an instrument's
/// wording in one language, server-wide or for one project.
#[utoipa::path(
    put,
    path = "/api/v1/admin/instruments/{instrument}",
    tag = "admin",
    security(("user_token" = [])),
    params(("instrument" = String, Path, description = "WEMWBS, SWEMWBS or ONS4"), ("project" = Option<String>, Query, description = "the project (default: server-wide)")),
    request_body = WordingFile,
    responses(
        (status = 200, description = "Loaded: `{\"instrument\",\"project\",\"language\",\"version\",\"items\"}`"),
        (status = 400, description = "`unknown_instrument`, `invalid_wording` (names the item, answer or field) or `invalid_json`", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn put_instrument(
    State(state): State<AppState>,
    user: UserAuth,
    Path(instrument): Path<String>,
    Query(scope): Query<WordingScope>,
    JsonBody(body): JsonBody<WordingFile>,
) -> ApiResult<Json<Value>> {
    if !crate::access::roles::may_load_wording(user.is_admin) {
        return Err(ApiError::Forbidden(
            "only a server admin may load instrument wording".into(),
        ));
    }
    let inst = Instrument::parse(&instrument).ok_or_else(|| {
        ApiError::bad(
            "unknown_instrument",
            format!("instrument: `{instrument}` is not one of WEMWBS, SWEMWBS, ONS4"),
        )
    })?;
    let project = scope.project.unwrap_or_default();
    if !project.is_empty()
        && sqlx::query("SELECT 1 AS one FROM projects WHERE slug = $1")
            .bind(&project)
            .fetch_optional(&state.db.pool)
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound(format!("no project `{project}`")));
    }
    let language = body.language;
    let lang_ok = !language.is_empty()
        && language.len() <= super::input::LANGUAGE_MAX
        && language
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !lang_ok {
        return Err(ApiError::bad(
            "invalid_wording",
            "language: give a language tag such as `en` or `cy`",
        ));
    }
    let licence = super::input::optional_text(
        "licence",
        "invalid_wording",
        body.licence.as_deref(),
        super::input::LICENCE_MAX,
    )?;
    let (items, responses) = bothy_sync_core::wording::check(inst, &body.items, &body.responses)
        .map_err(|e| ApiError::bad("invalid_wording", e))?;
    let items_json = serde_json::to_string(&items).map_err(anyhow::Error::from)?;
    let responses_json = serde_json::to_string(&responses).map_err(anyhow::Error::from)?;
    let mut tx = state.db.begin_write().await?;
    let previous: Option<i64> = sqlx::query(
        "SELECT version FROM instrument_wording WHERE project = $1 AND instrument = $2 AND language = $3",
    )
    .bind(&project)
    .bind(inst.as_str())
    .bind(&language)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.get("version"));
    let version = previous.unwrap_or(0) + 1;
    sqlx::query(
        "INSERT INTO instrument_wording (project, instrument, language, licence, items, responses, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (project, instrument, language) DO UPDATE SET licence = excluded.licence, \
         items = excluded.items, responses = excluded.responses, version = excluded.version, \
         updated_at = excluded.updated_at",
    )
    .bind(&project)
    .bind(inst.as_str())
    .bind(&language)
    .bind(licence.as_deref())
    .bind(&items_json)
    .bind(&responses_json)
    .bind(version)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    // The wording itself is not copied into the log: it is licensed text, kept in one place.
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "instrument.load",
        (!project.is_empty()).then_some(project.as_str()),
        Some(inst.as_str()),
        json!({"language": language, "version": version, "items": items.len(),
               "licence": licence}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({
        "instrument": inst.as_str(),
        "project": (!project.is_empty()).then_some(project),
        "language": language,
        "version": version,
        "items": items.len(),
    })))
}

/// `GET /api/v1/admin/instruments`: which wordings are loaded (not their text).
#[utoipa::path(
    get,
    path = "/api/v1/admin/instruments",
    tag = "admin",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "`[{\"instrument\",\"project\",\"language\",\"licence\",\"version\",\"updated_at\"}]`"),
        (status = 403, description = "not a server admin", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn list_instruments(
    State(state): State<AppState>,
    user: UserAuth,
) -> ApiResult<Json<Value>> {
    if !crate::access::roles::may_load_wording(user.is_admin) {
        return Err(ApiError::Forbidden(
            "only a server admin may list instrument wording".into(),
        ));
    }
    let rows = sqlx::query(
        "SELECT project, instrument, language, licence, version, updated_at FROM instrument_wording \
         ORDER BY instrument, project, language",
    )
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(Value::Array(
        rows.iter()
            .map(|r| {
                let project: String = r.get("project");
                json!({
                    "instrument": r.get::<String, _>("instrument"),
                    "project": (!project.is_empty()).then_some(project),
                    "language": r.get::<String, _>("language"),
                    "licence": r.get::<Option<String>, _>("licence"),
                    "version": r.get::<i64, _>("version"),
                    "updated_at": r.get::<i64, _>("updated_at"),
                })
            })
            .collect(),
    )))
}

/// The set-up of the projects in `roles` (project slug to the user's role) as devices receive
/// it, with the roles and its version: sites, activities, instrument wording, every version
/// of the project's own instrument definitions, and its follow-up schedule
/// ([`super::followups`]). The version is a hash of all of it, so any change reaches devices.
/// Projects with nothing set up are left out of `projects`; when the user has no project at
/// all, the version is empty.
pub async fn setup_for(db: &Db, roles: &BTreeMap<String, String>) -> Result<Setup, sqlx::Error> {
    // Read before computing: a change made meanwhile moves the epoch past what is kept.
    let row = sqlx::query(
        "SELECT n, (SELECT generation_id FROM database_generation WHERE id = 1) AS generation \
         FROM setup_epoch WHERE id = 1",
    )
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return compute_setup(db, roles).await;
    };
    let epoch: i64 = row.get("n");
    let generation: String = row
        .get::<Option<String>, _>("generation")
        .unwrap_or_default();
    let key = serde_json::to_string(roles).unwrap_or_default();
    if let Some(setup) = db.setup_cache.get(&key, &generation, epoch) {
        return Ok(setup);
    }
    let setup = compute_setup(db, roles).await?;
    db.setup_cache.put(key, generation, epoch, setup.clone());
    Ok(setup)
}

/// Computes the set-up for a user with `roles`, from the database.
async fn compute_setup(db: &Db, roles: &BTreeMap<String, String>) -> Result<Setup, sqlx::Error> {
    let sorted: Vec<&String> = roles.keys().collect();
    let mut out = Vec::new();
    let wording = sqlx::query(
        "SELECT project, instrument, language, licence, items, responses, version \
         FROM instrument_wording ORDER BY instrument, language",
    )
    .fetch_all(&db.pool)
    .await?;
    for project in sorted {
        let sites = sqlx::query(
            "SELECT slug, name FROM sites WHERE project = $1 AND archived = 0 ORDER BY slug",
        )
        .bind(project)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| SetupSite {
            slug: r.get("slug"),
            name: r.get("name"),
        })
        .collect::<Vec<_>>();
        let activities = sqlx::query(
            "SELECT slug, name, activity_type, site FROM activities \
             WHERE project = $1 AND archived = 0 ORDER BY slug",
        )
        .bind(project)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| SetupActivity {
            slug: r.get("slug"),
            name: r.get("name"),
            activity_type: r.get("activity_type"),
            site: r.get("site"),
        })
        .collect::<Vec<_>>();
        let mut instruments = Vec::new();
        for inst in [Instrument::Wemwbs, Instrument::Swemwbs, Instrument::Ons4] {
            let of = |p: &str| {
                wording
                    .iter()
                    .filter(|r| {
                        r.get::<String, _>("instrument") == inst.as_str()
                            && r.get::<String, _>("project") == p
                    })
                    .collect::<Vec<_>>()
            };
            let mut rows = of(project);
            if rows.is_empty() {
                rows = of("");
            }
            for r in rows {
                instruments.push(InstrumentWording {
                    instrument: inst.as_str().to_owned(),
                    language: r.get("language"),
                    licence: r.get("licence"),
                    version: u32::try_from(r.get::<i64, _>("version")).unwrap_or(u32::MAX),
                    items: serde_json::from_str(&r.get::<String, _>("items")).unwrap_or_default(),
                    responses: serde_json::from_str(&r.get::<String, _>("responses"))
                        .unwrap_or_default(),
                });
            }
        }
        let definitions = crate::instruments::stored(db, project).await?;
        // A definition stored by another server process on the same database becomes known to
        // this one here, at the latest at the next sync of one of the project's devices.
        for def in &definitions {
            if bothy_sync_core::instrument::lookup(project, &def.id, Some(def.version)).as_deref()
                != Some(def)
            {
                bothy_sync_core::instrument::define(project, def.clone());
            }
        }
        let followups = super::followups::stored(db, project).await?;
        if !(sites.is_empty()
            && activities.is_empty()
            && instruments.is_empty()
            && definitions.is_empty()
            && followups.is_empty())
        {
            out.push(ProjectSetup {
                project: project.clone(),
                sites,
                activities,
                instruments,
                definitions,
                followups,
            });
        }
    }
    let version = if out.is_empty() && roles.is_empty() {
        String::new()
    } else {
        let canonical = serde_json::to_string(&(&out, roles)).unwrap_or_default();
        crate::access::auth::sha256_hex(&canonical)[..16].to_owned()
    };
    Ok(Setup {
        version,
        projects: out,
        roles: Some(roles.clone()),
    })
}
