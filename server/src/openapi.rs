//! The OpenAPI description of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /openapi.json`. A test compares it with the router's route
//! table ([`crate::routes`]), so a route cannot be added without being described, nor described
//! without existing.
//!
//! The document declares what the handlers enforce: request bodies' fields carry their rules
//! from [`crate::input`]; path parameters and the query parameters whose values depend
//! on the operation get theirs from [`Constraints`] here. `ops/fuzz/api` fuzzes the running
//! server against the document.

use crate::input;
use crate::routes;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::LazyLock;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{Modify, OpenApi, ToSchema};

/// The body of every error answer: `{"error":{"code","message"}}`.
#[derive(ToSchema)]
#[schema(as = ApiError)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`invalid_json`, `unauthorized`, `wipe`, `forbidden`, ...).
    pub code: String,
    /// A sentence for a person.
    pub message: String,
}

/// A binary sync request or response (`application/vnd.bothy.sync`, docs/protocol.md).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct SyncBody(pub Vec<u8>);

/// The name of the user access token's security scheme.
pub const USER_TOKEN: &str = "user_token";
/// The name of the device credential's security scheme.
pub const DEVICE_TOKEN: &str = "device_token";
/// The name of the metrics token's security scheme (`GET /metrics`).
pub const METRICS_TOKEN: &str = "metrics_token";
/// The name of the dashboard's session cookie scheme (HTML pages under `/dashboard`).
pub const DASHBOARD_COOKIE: &str = "dashboard_cookie";

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            USER_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A short-lived user access token from `POST /api/v1/auth/login`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            DEVICE_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("bd1_<device id, 32 hex>_<secret>")
                    .description(Some(
                        "The long-lived, revocable credential of one enrolled device.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            METRICS_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator's metrics token (`BOTHY_METRICS_TOKEN`), for the scraper.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            DASHBOARD_COOKIE,
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    routes::dashboard::COOKIE,
                    "The dashboard's session cookie (a short-lived access token), set by \
                     `POST /dashboard/login`.",
                ),
            )),
        );
    }
}

/// The rules of path parameters (by name, the same everywhere: `{slug}` is always a project)
/// and of query parameters whose values depend on the operation.
struct Constraints;

/// The instrument in a path: WEMWBS, SWEMWBS or ONS4, in any case.
const INSTRUMENT_PATTERN: &str = "^([Ss]?[Ww][Ee][Mm][Ww][Bb][Ss]|[Oo][Nn][Ss]4)$";

fn enumeration<'a>(values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// A record or device id: a UUID written in lower case with hyphens, the only form accepted.
fn uuid() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".into())))
        .pattern(Some(
            "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        ))
        .build()
}

/// The schema of path parameter `name` of the operation at `path`, if it has a rule.
fn path_parameter(path: &str, name: &str) -> Option<Object> {
    Some(match name {
        "slug" | "site" | "activity" => input::slug_schema(),
        "username" => input::username_schema(),
        "dataset" => enumeration(
            crate::analysis::export::Dataset::ALL
                .iter()
                .map(|d| d.as_str()),
        ),
        "instrument" => ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(INSTRUMENT_PATTERN))
            .build(),
        "id" if path.contains("/quarantine/") => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .build(),
        "id" => uuid(),
        _ => return None,
    })
}

/// The values of query parameter `name` of the operation at `path`, when they are a list.
fn query_values(path: &str, name: &str) -> Option<Vec<&'static str>> {
    // The quarterly report reads no timepoint: it reports every one.
    let report = path.contains("/reports/") && !path.ends_with("/quarterly");
    match name {
        "format" if path.ends_with("/exports/{dataset}") => {
            Some(vec!["csv", "jsonl", "ndjson", "parquet"])
        }
        "format" if path.ends_with("/reports/quarterly") => Some(vec!["json", "md", "csv", "html"]),
        "timepoint" if path.ends_with("/exports/{dataset}") => {
            Some(bothy_sync_core::schema::TIMEPOINTS.to_vec())
        }
        "timepoint" if report => Some(vec!["end", "interim", "follow_up"]),
        _ => None,
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

impl Modify for Constraints {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in operations(item) {
                for param in op.parameters.iter_mut().flatten() {
                    let RefOr::T(param) = param else { continue };
                    let schema = match param.parameter_in {
                        ParameterIn::Path => path_parameter(path, &param.name),
                        ParameterIn::Query => query_values(path, &param.name).map(enumeration),
                        _ => None,
                    };
                    if let Some(schema) = schema {
                        param.schema = Some(RefOr::T(Schema::Object(schema)));
                    }
                }
            }
        }
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bothy HTTP API",
        description = "The HTTP API of the Bothy server. Errors are always \
                       `{\"error\":{\"code\",\"message\"}}`; docs/http-api.md explains each \
                       endpoint in prose, docs/protocol.md the binary sync body."
    ),
    paths(
        routes::health::healthz,
        routes::health::info,
        openapi_json,
        crate::metrics::metrics,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::change_password,
        routes::devices::enrol,
        routes::devices::register,
        routes::devices::me,
        routes::wipe::confirm,
        crate::sync::sync,
        routes::admin::create_project,
        routes::admin::list_projects,
        routes::admin::create_user,
        routes::admin::add_member,
        routes::admin::remove_member,
        routes::admin::create_enrolment,
        routes::admin::list_devices,
        routes::admin::revoke_device,
        routes::admin::remove_user,
        routes::admin::reset_password,
        routes::audit::admin_audit,
        routes::audit::project_audit,
        routes::projects::record,
        routes::history::history,
        routes::projects::conflicts,
        routes::projects::quarantine,
        routes::review::resolve_conflict,
        routes::review::quarantine_entry,
        routes::review::release,
        routes::review::discard,
        routes::review::admin_quarantine,
        routes::review::admin_discard,
        routes::subjects::export,
        routes::subjects::erase,
        routes::analysis::data_dictionary,
        routes::analysis::export,
        routes::analysis::data_package,
        routes::analysis::outcomes,
        routes::analysis::attendance,
        routes::analysis::equity,
        routes::analysis::sites,
        routes::analysis::quarterly,
        routes::setup::create_site,
        routes::setup::list_sites,
        routes::setup::update_site,
        routes::setup::create_activity,
        routes::setup::list_activities,
        routes::setup::update_activity,
        routes::setup::put_instrument,
        routes::setup::list_instruments,
        routes::instruments::define,
        routes::instruments::list,
        routes::followups::get,
        routes::followups::put,
        routes::dashboard::login_page,
        routes::dashboard::login_submit,
        routes::dashboard::logout,
        routes::dashboard::home,
        routes::dashboard::project_page,
        routes::dashboard::export_download,
        routes::dashboard::package_download,
        routes::dashboard::chart_csv,
        routes::dashboard::instruments_page,
        routes::dashboard::instruments_submit,
        routes::webapp::redirect,
        routes::webapp::index,
        routes::webapp::file,
    ),
    components(schemas(ErrorBody, ErrorDetail, SyncBody)),
    modifiers(&SecuritySchemes, &Constraints),
    tags(
        (name = "health", description = "Liveness and capabilities"),
        (name = "auth", description = "Login, token refresh, logout and password changes"),
        (name = "devices", description = "Device enrolment and identity"),
        (name = "sync", description = "The sync endpoint (docs/protocol.md)"),
        (name = "admin", description = "Server administration (server admins only)"),
        (name = "projects", description = "Reading a project's merged data"),
        (name = "review", description = "Conflict resolution and quarantine review"),
        (name = "audit", description = "The append-only audit log"),
        (name = "dashboard", description = "The dashboard: HTML pages for people, not an API \
                                             (docs/dashboard.md)"),
        (name = "subjects", description = "Participants' subject rights: export and erasure"),
        (name = "app", description = "The mobile web app's files (clients/web), served at /app/"),
    )
)]
pub struct ApiDoc;

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":{{\"code\":\"internal\",\"message\":\"{e}\"}}}}"))
});

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// Error answers that are deliberately not `ApiError` bodies.
    const OTHER_ERROR_BODIES: &[(&str, &str, &str)] = &[
        // The health check answers its own report, with `"database":"unreachable"`.
        ("get", "/healthz", "503"),
    ];

    /// The dashboard's pages answer HTML, errors included, and redirect to the login form.
    fn is_dashboard_page(path: &str) -> bool {
        path == "/dashboard" || path.starts_with("/dashboard/")
    }

    /// The web app's files answer files (or a plain-text 404), not JSON.
    fn is_app_file(path: &str) -> bool {
        path == "/app" || path.starts_with("/app/")
    }

    fn document() -> Value {
        serde_json::from_str(&DOCUMENT).expect("the document is JSON")
    }

    #[test]
    fn document_and_router_list_the_same_routes() {
        let served: BTreeSet<(String, String)> = crate::routes()
            .into_iter()
            .map(|(m, p)| (m.as_str().to_lowercase(), p))
            .collect();
        let doc = document();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty() && unserved.is_empty(),
            "routes served but not in the OpenAPI document (annotate the handler with \
             #[utoipa::path] and list it in ApiDoc): {undocumented:?}\n\
             routes in the document but not served: {unserved:?}"
        );
    }

    #[test]
    fn every_error_answer_has_the_error_schema() {
        let doc = document();
        assert!(doc["components"]["schemas"]["ApiError"].is_object());
        let schemes = &doc["components"]["securitySchemes"];
        let mut problems = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')
                        || (is_dashboard_page(path) && s == "303")
                        || (is_app_file(path) && s == "308")),
                    "{method} {path} documents no success"
                );
                for (status, response) in responses {
                    if status.starts_with('2')
                        || is_app_file(path)
                        || OTHER_ERROR_BODIES.contains(&(method.as_str(), path.as_str(), status))
                    {
                        continue;
                    }
                    if is_dashboard_page(path) {
                        let html = response["content"]["text/html"].is_object();
                        if !(html || status == "303") {
                            problems.push(format!("{method} {path} {status} (not HTML)"));
                        }
                        continue;
                    }
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    if schema != "#/components/schemas/ApiError" {
                        problems.push(format!("{method} {path} {status}"));
                    }
                }
                for requirement in op["security"].as_array().into_iter().flatten() {
                    for name in requirement.as_object().expect("requirement").keys() {
                        assert!(
                            schemes[name].is_object(),
                            "{method} {path}: no security scheme {name}"
                        );
                    }
                }
            }
        }
        assert!(
            problems.is_empty(),
            "error answers without the ApiError schema: {problems:?}"
        );
    }

    #[test]
    fn every_path_parameter_is_described() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, op) in item.as_object().expect("path item") {
                let described: BTreeSet<&str> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                assert_eq!(in_path, described, "{method} {path}: path parameters");
            }
        }
    }

    #[test]
    fn every_authenticated_route_says_which_credential() {
        let doc = document();
        let open = [
            "/healthz",
            "/openapi.json",
            "/api/v1/info",
            "/api/v1/auth/login",
            "/api/v1/auth/refresh",
            "/api/v1/auth/logout",
            "/api/v1/devices/enrol",
            "/api/v1/data-dictionary",
            "/app",
            "/app/",
            "/app/{file}",
            "/dashboard/login",
            "/dashboard/logout",
        ];
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let has_security = op["security"].as_array().is_some_and(|s| !s.is_empty());
                assert_eq!(
                    has_security,
                    !open.contains(&path.as_str()),
                    "{method} {path}: security requirement"
                );
                if is_dashboard_page(path) {
                    // Without a valid cookie a page redirects to the login form.
                    assert!(
                        !has_security || op["responses"].get("303").is_some(),
                        "{method} {path}: redirect documented"
                    );
                    continue;
                }
                let answers_401 = op["responses"].get("401").is_some();
                assert_eq!(
                    answers_401,
                    has_security
                        || [
                            "/api/v1/auth/login",
                            "/api/v1/auth/refresh",
                            "/api/v1/devices/enrol"
                        ]
                        .contains(&path.as_str()),
                    "{method} {path}: 401 documented"
                );
            }
        }
    }
}
