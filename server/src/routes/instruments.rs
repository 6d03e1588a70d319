//! A project's own instruments through the API: `PUT /api/v1/projects/{slug}/instruments`
//! defines one (a project's admins and coordinators, and server admins:
//! [`Capability::ManageSetup`]), `GET` lists the built-in ones and every version of the
//! project's (any member). The rules are in [`crate::instruments`]; docs/instruments.md
//! describes the format.

use super::JsonBody;
use crate::access::audit;
use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::error::{ApiError, ApiResult};
use crate::instruments;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use std::borrow::Cow;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

/// The body of `PUT /api/v1/projects/{slug}/instruments`: an instrument definition
/// (docs/instruments.md). Its schema here gives the top level; the server checks every field.
pub struct DefinitionBody;

impl utoipa::PartialSchema for DefinitionBody {
    fn schema() -> RefOr<Schema> {
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let object = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An instrument definition (docs/instruments.md). Unknown fields are refused.",
            ))
            .property(
                "id",
                string("2-32 upper-case letters, digits and `_`, starting with a letter; not a built-in id")
                    .min_length(Some(2))
                    .max_length(Some(32))
                    .pattern(Some("^[A-Z][A-Z0-9_]{1,31}$")),
            )
            .property(
                "version",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(u32::MAX))
                    .description(Some("Starts at 1")),
            )
            .property("name", string("The instrument's name, 1-200 characters").min_length(Some(1)).max_length(Some(200)))
            .property("description", string("What it measures, 1-2000 characters").min_length(Some(1)).max_length(Some(2000)))
            .property(
                "licensed_wording",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("The wording is licensed: no item carries `text`")),
            )
            .property(
                "items",
                ArrayBuilder::new()
                    .items(object("`{\"number\",\"key\"?,\"scale\":{\"min\"?,\"max\"?,\"values\"?},\"text\"?,\"reverse\"?}`"))
                    .min_items(Some(1))
                    .max_items(Some(255))
                    .description(Some("The items, numbered 1 to n, each once")),
            )
            .property(
                "scoring",
                object("`{\"method\":\"sum\"|\"mean\"|\"per_item\",\"higher_is_better\",\"subset\"?,\"lookup\"?,\"complete\"?,\"bands\"?,\"reliable_change\"?,\"per_item\"?,\"also\"?}`"),
            )
            .property(
                "codes",
                ArrayBuilder::new().items(object("`{\"system\",\"code\",\"display\"?,\"note\"?}`")),
            )
            .property("sources", ArrayBuilder::new().items(string("A citation")))
            .required("id")
            .required("version")
            .required("name")
            .required("items")
            .required("scoring")
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ))
            .into()
    }
}

impl utoipa::ToSchema for DefinitionBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("InstrumentDefinition")
    }
}

/// `PUT /api/v1/projects/{slug}/instruments`: defines one of the project's own instruments
/// (a new id, a new version, or a change to a version).
#[utoipa::path(
    put,
    path = "/api/v1/projects/{slug}/instruments",
    tag = "projects",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project")),
    request_body = DefinitionBody,
    responses(
        (status = 200, description = "Stored: `{\"instrument\",\"version\",\"project\",\"items\",\"created\",\"changed\"}` (`created`: this id and version are new; `changed`: false when the same definition was stored already)"),
        (status = 400, description = "`invalid_definition` listing every problem as `path: message` (a field refused, a built-in id), `incompatible_change` when the version has responses and the change would reinterpret them (each field named), or `invalid_json`", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin, nor the project's admin or coordinator", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn define(
    State(state): State<AppState>,
    user: UserAuth,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    ProjectAccess::require(&state, &user, &project, Capability::ManageSetup).await?;
    let def = instruments::from_json_value(body)
        .map_err(|errs| ApiError::bad("invalid_definition", instruments::list(&errs)))?;
    let done = instruments::define(&state.db, &project, def, &audit::Actor::user(&user)).await?;
    Ok(Json(json!(done)))
}

/// `GET /api/v1/projects/{slug}/instruments`: the instruments a response of the project may
/// use.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/instruments",
    tag = "projects",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project")),
    responses(
        (status = 200, description = "`{\"builtin\":[definition...],\"project\":[definition...]}`: the built-in definitions, and every version of the project's own, by id then version"),
        (status = 403, description = "not a member of the project (nor a server admin)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    let access = ProjectAccess::require(&state, &user, &project, Capability::ReadRecords).await?;
    if access.role.is_none() && !crate::storage::projects::exists(&state.db.pool, &project).await? {
        return Err(ApiError::NotFound(format!("no project `{project}`")));
    }
    let own = instruments::stored(&state.db, &project).await?;
    Ok(Json(json!({
        "builtin": bothy_sync_core::instrument::builtins(),
        "project": own,
    })))
}
