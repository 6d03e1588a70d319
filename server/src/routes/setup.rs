//! Project set-up: sites, activities and instrument wording, managed through the admin API.
//! Devices receive them on sync, with the project's own instrument definitions
//! ([`crate::instruments`]) and its follow-up schedule ([`crate::sync::setup::setup_for`]).
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
use crate::storage::{self, Db, now};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bothy_sync_core::Instrument;
use bothy_sync_core::schema::ACTIVITY_TYPES;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn check_slug(what: &'static str, slug: &str) -> ApiResult<()> {
    if crate::input::is_slug(slug) {
        Ok(())
    } else {
        Err(ApiError::bad(
            "invalid_slug",
            format!("{what}: a slug is 1-64 lowercase letters, digits and hyphens"),
        ))
    }
}

fn check_name(name: &str) -> ApiResult<String> {
    crate::input::text("name", "invalid_name", name, crate::input::NAME_MAX)
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
    #[schema(schema_with = crate::input::slug_schema)]
    slug: String,
    /// Its name (trimmed).
    #[schema(schema_with = crate::input::name_schema)]
    name: String,
}

/// A change to a site: its name, whether it is archived, or both. Fields left out (or `null`)
/// stay as they are.
#[derive(utoipa::ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SiteChange {
    /// The new name (trimmed).
    #[serde(default)]
    #[schema(schema_with = crate::input::name_change_schema)]
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
    #[schema(schema_with = crate::input::name_change_schema)]
    name: Option<String>,
    /// The new activity type.
    #[serde(default)]
    #[schema(schema_with = crate::input::activity_type_change_schema)]
    activity_type: Option<String>,
    /// The site (`""` clears it); it must exist in the project.
    #[serde(default)]
    #[schema(schema_with = crate::input::site_ref_schema)]
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
    #[schema(schema_with = crate::input::slug_schema)]
    slug: String,
    /// Its name (trimmed).
    #[schema(schema_with = crate::input::name_schema)]
    name: String,
    /// Its type.
    #[schema(schema_with = crate::input::activity_type_schema)]
    activity_type: String,
    /// The site it runs at (`""` or `null`: none); it must exist in the project.
    #[serde(default)]
    #[schema(schema_with = crate::input::site_ref_schema)]
    site: Option<String>,
}

/// Checks an activity's site: a slug of a site of the project (404 when there is none).
async fn check_site(db: &Db, project: &str, site: &str) -> ApiResult<()> {
    if !crate::input::is_slug(site) {
        return Err(ApiError::bad(
            "invalid_slug",
            "site: a slug is 1-64 lowercase letters, digits and hyphens",
        ));
    }
    if !storage::setup::site_exists(&db.pool, project, site).await? {
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
    storage::setup::insert_site(&mut *tx, &project, &body.slug, &name, now())
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
    let rows = storage::setup::sites(&state.db.pool, &project).await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(|r| {
                json!({
                    "slug": r.slug,
                    "name": r.name,
                    "archived": r.archived != 0,
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
    let found = storage::setup::update_site(
        &mut *tx,
        &project,
        &site,
        name.as_deref(),
        body.archived,
        now(),
    )
    .await?;
    if !found {
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
    let activity = storage::setup::NewActivity {
        slug: &body.slug,
        name: &name,
        activity_type: &body.activity_type,
        site: site.as_deref(),
    };
    storage::setup::insert_activity(&mut *tx, &project, activity, now())
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
    let rows = storage::setup::activities(&state.db.pool, &project).await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(|r| {
                json!({
                    "slug": r.slug,
                    "name": r.name,
                    "activity_type": r.activity_type,
                    "site": r.site,
                    "archived": r.archived != 0,
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
    let change = storage::setup::ActivityChange {
        name: name.as_deref(),
        activity_type: body.activity_type.as_deref(),
        site: body.site.as_deref(),
        archived: body.archived,
    };
    let found =
        storage::setup::update_activity(&mut *tx, &project, &activity, change, now()).await?;
    if !found {
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
    #[schema(schema_with = crate::input::language_schema)]
    language: String,
    /// The licence under which the wording is used (trimmed; empty: none).
    #[serde(default)]
    #[schema(schema_with = crate::input::licence_schema)]
    licence: Option<String>,
    /// Item number (`"1"`...) to its text: every item of the instrument, 1-1000 characters.
    #[schema(schema_with = crate::input::wording_items_schema)]
    items: BTreeMap<String, String>,
    /// Answer value (`"1"`...) to its label, 1-200 characters, for answers in the
    /// instrument's range.
    #[serde(default)]
    #[schema(schema_with = crate::input::wording_responses_schema)]
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
    if !project.is_empty() && !storage::projects::exists(&state.db.pool, &project).await? {
        return Err(ApiError::NotFound(format!("no project `{project}`")));
    }
    let language = body.language;
    let lang_ok = !language.is_empty()
        && language.len() <= crate::input::LANGUAGE_MAX
        && language
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !lang_ok {
        return Err(ApiError::bad(
            "invalid_wording",
            "language: give a language tag such as `en` or `cy`",
        ));
    }
    let licence = crate::input::optional_text(
        "licence",
        "invalid_wording",
        body.licence.as_deref(),
        crate::input::LICENCE_MAX,
    )?;
    let (items, responses) = bothy_sync_core::wording::check(inst, &body.items, &body.responses)
        .map_err(|e| ApiError::bad("invalid_wording", e))?;
    let items_json = serde_json::to_string(&items).map_err(anyhow::Error::from)?;
    let responses_json = serde_json::to_string(&responses).map_err(anyhow::Error::from)?;
    let mut tx = state.db.begin_write().await?;
    let previous =
        storage::setup::wording_version(&mut *tx, &project, inst.as_str(), &language).await?;
    let version = previous.unwrap_or(0) + 1;
    let wording = storage::setup::NewWording {
        project: &project,
        instrument: inst.as_str(),
        language: &language,
        licence: licence.as_deref(),
        items: &items_json,
        responses: &responses_json,
        version,
    };
    storage::setup::put_wording(&mut *tx, wording, now()).await?;
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
    let rows = storage::setup::wording_summaries(&state.db.pool).await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(|r| {
                json!({
                    "instrument": r.instrument,
                    "project": (!r.project.is_empty()).then_some(r.project),
                    "language": r.language,
                    "licence": r.licence,
                    "version": r.version,
                    "updated_at": r.updated_at,
                })
            })
            .collect(),
    )))
}
