//! The dashboard: server-rendered HTML pages with inline SVG charts for analysts and
//! coordinators, behind a login form. No script runs on these pages: the Content-Security-Policy
//! forbids it, and nothing needs it.
//!
//! * `GET|POST /dashboard/login`: the login form; a successful login (the same password check,
//!   rate limits and audit entry as `POST /api/v1/auth/login`) sets an `HttpOnly`,
//!   `SameSite=Strict` cookie holding a short-lived access token, scoped to `/dashboard`.
//! * `POST /dashboard/logout`: clears the cookie.
//! * `GET /dashboard`: the projects the user may analyse.
//! * `GET /dashboard/projects/{slug}`: a project's figures, filtered by site, activity and
//!   dates. The figures come from [`sections`].
//! * `GET /dashboard/projects/{slug}/charts/{id}.csv`: one chart's table as CSV, from the same
//!   chart specifications ([`charts`]) as the page.
//! * `GET /dashboard/projects/{slug}/exports/{dataset}` and `…/data-package`: the project's
//!   exports and data package, as `/api/v1` serves them (the same checks and audit), linked
//!   from the project page with its filters ([`downloads`]).
//! * `GET|POST /dashboard/projects/{slug}/instruments`: the project's own instruments, and forms
//!   (JSON, or CSV with a JSON sidecar) that define one through [`crate::instruments`], for the
//!   project's admins and coordinators. A refusal shows the form again with every problem, each
//!   naming its field.

use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::analysis::charts::escape;
use crate::analysis::dashboard::{self, FilterOptions};
use crate::analysis::redact::Redactor;
use crate::error::ApiError;
use crate::routes::ClientAddr;
use crate::state::AppState;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::fmt::Write;

/// The name of the dashboard's session cookie.
pub const COOKIE: &str = "bothy_dashboard";

/// The Content-Security-Policy of every dashboard page: no script, no external anything.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "\
:root{color-scheme:light;--fg:#1f1f1f;--muted:#595959;--line:#c8c8c8;--accent:#0b5cad;--bg:#fff;--soft:#f3f5f7}\
*{box-sizing:border-box}\
body{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,Helvetica,Arial,sans-serif;\
font-size:1rem;line-height:1.5;color:var(--fg);background:var(--bg)}\
main,header>div{max-width:52rem;margin:0 auto;padding:0 1rem}\
header{border-bottom:1px solid var(--line);background:var(--soft)}\
header>div{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;padding-block:.6rem}\
header a.home{font-weight:700;color:var(--fg);text-decoration:none}\
h1{font-size:1.5rem;line-height:1.25;margin:1.2rem 0 .6rem}\
h2{font-size:1.2rem;margin:2rem 0 .5rem;padding-top:.5rem;border-top:1px solid var(--line)}\
h3{font-size:1rem;margin:1.2rem 0 .3rem}\
a{color:var(--accent)}\
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #d55e00;outline-offset:2px}\
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem 1rem;z-index:1}\
.skip:focus{left:.5rem;top:.5rem}\
form.filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.6rem 1rem;\
align-items:end;background:var(--soft);padding:.8rem;border-radius:.4rem}\
label{display:block;font-weight:600;font-size:.95rem}\
input,select,button{font:inherit;width:100%;padding:.45rem .5rem;border:1px solid #767676;border-radius:.3rem;background:#fff;color:var(--fg)}\
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer;font-weight:600}\
button.link{background:none;color:var(--accent);border:none;padding:0;width:auto;text-decoration:underline;font-weight:400}\
form.login{max-width:22rem;display:grid;gap:.8rem}\
.error{border-left:4px solid #b00020;background:#fdecee;padding:.6rem .8rem;margin:1rem 0}\
.saved{border-left:4px solid #1a7f37;background:#e9f6ec;padding:.6rem .8rem;margin:1rem 0}\
form.define{display:grid;gap:.8rem}\
textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem;width:100%;padding:.45rem .5rem;\
border:1px solid #767676;border-radius:.3rem;background:#fff;color:var(--fg)}\
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.95rem}\
caption{text-align:left}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}\
.scroll{overflow-x:auto}\
details{margin:.8rem 0}summary{cursor:pointer;color:var(--accent)}\
pre{background:var(--soft);padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem}\
figure{margin:.3rem 0 0}\
figcaption{color:var(--muted);font-size:.9rem;margin-top:.3rem}\
svg.chart{display:block;max-width:40rem;height:auto}\
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,22rem),1fr));gap:0 1.5rem}\
.fig{min-width:0;margin-bottom:1rem}.fig h3{margin:.8rem 0 .2rem}\
p.empty{color:var(--muted);margin:.3rem 0}p.csv{margin:.3rem 0 0;font-size:.9rem}\
.howto{background:var(--soft);border-radius:.4rem;padding:0 .8rem .2rem;margin-top:1rem}\
.howto h2{border:0;margin:0;padding-top:.6rem;font-size:1rem}.howto ul{margin:.3rem 0 .5rem;padding-left:1.2rem}\
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}\
.muted{color:var(--muted)}\
ul.projects{padding-left:1.2rem}ul.projects li{margin:.4rem 0}\
.demo{border-left:4px solid #8a4b00;background:#fff4e0;padding:.6rem .8rem;margin:1rem 0;font-weight:600}\
.tag{border:1px solid #8a4b00;color:#6b3a00;border-radius:.3rem;padding:0 .3rem;font-size:.85rem;font-weight:600}";

/// The banner at the head of every page of a demo programme, so that its figures are never
/// taken for real ones.
const DEMO_BANNER: &str =
    "<p class=\"demo\" role=\"note\">Demo programme: synthetic people, not real data.</p>";

/// The demo banner when the project is a demo programme, else nothing.
async fn demo_banner(state: &AppState, slug: &str) -> Result<&'static str, ApiError> {
    let demo = crate::storage::demo::is_demo(&state.db.pool, slug).await?;
    Ok(if demo == Some(true) { DEMO_BANNER } else { "" })
}

fn html_headers(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// A whole page: `title` and `body` (already HTML) in the common layout. `user` shows the
/// signed-in user and a log-out button.
fn page(status: StatusCode, title: &str, user: Option<&str>, body: &str) -> Response {
    let account = match user {
        Some(name) => format!(
            "<form method=\"post\" action=\"/dashboard/logout\"><span class=\"muted\">{}</span> \
             <button type=\"submit\" class=\"link\">Log out</button></form>",
            escape(name)
        ),
        None => String::new(),
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">\
         \
         <title>{} · Bothy dashboard</title><style>{STYLE}</style></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><div><a class=\"home\" href=\"/dashboard\">Bothy dashboard</a>{account}</div></header>\
         <main id=\"main\" tabindex=\"-1\">{body}</main></body></html>\n",
        escape(title)
    );
    html_headers(status, html)
}

fn error_page(status: StatusCode, user: Option<&str>, heading: &str, message: &str) -> Response {
    page(
        status,
        heading,
        user,
        &format!(
            "<h1>{}</h1><p>{}</p><p><a href=\"/dashboard\">Back to the dashboard</a></p>",
            escape(heading),
            escape(message)
        ),
    )
}

/// An [`ApiError`] as a dashboard page (with the same status; internal detail is logged, not
/// shown).
fn api_error_page(e: ApiError, user: Option<&str>) -> Response {
    let message = e.to_string();
    let status = e.into_response().status();
    let message = match status {
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong on the server. Try again, \
                                              and tell your administrator if it persists."
            .to_owned(),
        StatusCode::SERVICE_UNAVAILABLE => {
            "The database is unavailable. Try again shortly.".to_owned()
        }
        _ => message,
    };
    error_page(
        status,
        user,
        status.canonical_reason().unwrap_or("Error"),
        &message,
    )
}

fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/dashboard")),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The session cookie, or the header that clears it (`token` `None`).
fn cookie(token: Option<&str>, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = match token {
        Some(t) => format!(
            "{COOKIE}={t}; Path=/dashboard; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        ),
        None => format!("{COOKIE}=; Path=/dashboard; Max-Age=0; HttpOnly; SameSite=Strict{secure}"),
    };
    HeaderValue::from_str(&value).expect("a token is header-safe")
}

/// Whether the browser reached us over HTTPS, so the cookie must be `Secure`: the form was
/// posted from an `https:` origin, or a trusted reverse proxy says so in `X-Forwarded-Proto`.
fn over_https(state: &AppState, headers: &HeaderMap) -> bool {
    let origin_https = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| o.starts_with("https://"));
    let proxy_https = state.config.trust_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    origin_https || proxy_https
}

/// Refuses a form posted from another site (a browser always sends `Origin` with a POST): its
/// host must be the one the request was sent to. The pages' `Referrer-Policy: same-origin`
/// lets the browser name our own origin; an opaque `null` origin is refused.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        return false;
    }
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A user signed in to the dashboard by its cookie: the same identity (and the same checks:
/// signature, expiry, user still active) as the API's [`UserAuth`]. Without a valid cookie
/// the request is redirected to the login form.
pub struct DashboardUser(pub UserAuth);

impl FromRequestParts<AppState> for DashboardUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || see_other("/dashboard/login");
        let Some(token) = cookie_value(&parts.headers) else {
            return Err(to_login());
        };
        // Checked exactly as an `Authorization: Bearer` access token would be.
        let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            return Err(to_login());
        };
        let (mut token_parts, ()) = axum::http::Request::builder()
            .header(header::AUTHORIZATION, bearer)
            .body(())
            .expect("a request with one header")
            .into_parts();
        match UserAuth::from_request_parts(&mut token_parts, state).await {
            Ok(user) => Ok(DashboardUser(user)),
            Err(ApiError::Unauthorized(_)) => Err(to_login()),
            Err(e) => Err(api_error_page(e, None)),
        }
    }
}

fn login_form(message: Option<&str>, username: &str) -> String {
    let error = message
        .map(|m| {
            format!(
                "<div class=\"error\" role=\"alert\" id=\"login-error\">{}</div>",
                escape(m)
            )
        })
        .unwrap_or_default();
    let described = if message.is_some() {
        " aria-describedby=\"login-error\""
    } else {
        ""
    };
    format!(
        "<h1>Log in</h1>{error}\
         <form class=\"login\" method=\"post\" action=\"/dashboard/login\">\
         <div><label for=\"username\">Username</label>\
         <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" \
         autocapitalize=\"none\" spellcheck=\"false\" required value=\"{}\"{described}></div>\
         <div><label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required{described}></div>\
         <div><button type=\"submit\">Log in</button></div></form>\
         <p class=\"muted\">For project admins, coordinators and analysts. Your session ends \
         after a short while; log in again then.</p>",
        escape(username)
    )
}

/// `GET /dashboard/login`: the login form.
#[utoipa::path(
    get,
    path = "/dashboard/login",
    tag = "dashboard",
    responses((status = 200, description = "The login form (HTML)", content_type = "text/html"))
)]
pub async fn login_page() -> Response {
    page(StatusCode::OK, "Log in", None, &login_form(None, ""))
}

/// The login form's fields.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginForm {
    /// Username.
    username: String,
    /// Password.
    password: String,
}

/// `POST /dashboard/login`: checks the password as `POST /api/v1/auth/login` does (same rate
/// limits and audit), then sets the session cookie and redirects to `/dashboard`.
#[utoipa::path(
    post,
    path = "/dashboard/login",
    tag = "dashboard",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged in: the session cookie is set and the browser is sent to `/dashboard`"),
        (status = 400, description = "The form is malformed (HTML)", content_type = "text/html"),
        (status = 401, description = "Unknown user or wrong password: the form again, with the message (HTML)", content_type = "text/html"),
        (status = 403, description = "Posted from another site (HTML)", content_type = "text/html"),
        (status = 429, description = "Too many failed logins for the account or the address: the form again, with the message (HTML)", content_type = "text/html"),
        (status = 500, description = "Internal error (HTML)", content_type = "text/html"),
        (status = 503, description = "The database is unavailable (HTML)", content_type = "text/html"),
    )
)]
pub async fn login_submit(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return error_page(
            StatusCode::FORBIDDEN,
            None,
            "Forbidden",
            "This form was sent from another site.",
        );
    }
    let Ok(Form(form)) = form else {
        return page(
            StatusCode::BAD_REQUEST,
            "Log in",
            None,
            &login_form(Some("Enter your username and password."), ""),
        );
    };
    // The JSON login's decision: the same password check, rate limits and audit entry.
    let answer =
        crate::access::auth::log_in(&state, addr.0, &form.username, &form.password, None).await;
    let tokens = match answer {
        Ok(t) => t,
        Err(ApiError::Unauthorized(_)) => {
            return page(
                StatusCode::UNAUTHORIZED,
                "Log in",
                None,
                &login_form(
                    Some("Unknown user or wrong password. Check them and try again."),
                    &form.username,
                ),
            );
        }
        Err(ApiError::TooManyRequests(m)) => {
            let mut m = m;
            if let Some(c) = m.get_mut(..1) {
                c.make_ascii_uppercase();
            }
            return page(
                StatusCode::TOO_MANY_REQUESTS,
                "Log in",
                None,
                &login_form(Some(&format!("{m}.")), &form.username),
            );
        }
        Err(e) => return api_error_page(e, None),
    };
    // The browser keeps only the short-lived access token; the refresh token the login made
    // is revoked at once, so no unheld credential stays valid.
    if let Err(e) = crate::storage::accounts::revoke_refresh_token(
        &state.db.pool,
        &crate::access::auth::sha256_hex(&tokens.refresh_token),
    )
    .await
    {
        return api_error_page(e.into(), None);
    }
    let access = tokens.access_token.as_str();
    let mut res = see_other("/dashboard");
    res.headers_mut().insert(
        header::SET_COOKIE,
        cookie(
            Some(access),
            state.config.access_token_ttl,
            over_https(&state, &headers),
        ),
    );
    res
}

/// `POST /dashboard/logout`: clears the session cookie and returns to the login form.
#[utoipa::path(
    post,
    path = "/dashboard/logout",
    tag = "dashboard",
    responses((status = 303, description = "The session cookie is cleared and the browser is sent to the login form"))
)]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut res = see_other("/dashboard/login");
    res.headers_mut().insert(
        header::SET_COOKIE,
        cookie(None, 0, over_https(&state, &headers)),
    );
    res
}

/// `GET /dashboard`: the projects the user may analyse.
#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "dashboard",
    security(("dashboard_cookie" = [])),
    responses(
        (status = 200, description = "The projects the user may analyse, with links (HTML)", content_type = "text/html"),
        (status = 303, description = "No valid session cookie: the browser is sent to the login form"),
        (status = 500, description = "Internal error (HTML)", content_type = "text/html"),
        (status = 503, description = "The database is unavailable (HTML)", content_type = "text/html"),
    )
)]
pub async fn home(State(state): State<AppState>, DashboardUser(user): DashboardUser) -> Response {
    let projects = match dashboard::analysable_projects(&state.db, &user).await {
        Ok(p) => p,
        Err(e) => return api_error_page(e.into(), Some(&user.username)),
    };
    let demos = match crate::storage::demo::demo_slugs(&state.db.pool).await {
        Ok(d) => d,
        Err(e) => return api_error_page(e.into(), Some(&user.username)),
    };
    let mut body = String::from("<h1>Projects</h1>");
    if projects.is_empty() {
        body.push_str(
            "<p>You do not analyse any project. Reports are for project admins, coordinators \
             and analysts: ask an admin to give you one of these roles.</p>",
        );
    } else {
        body.push_str("<ul class=\"projects\">");
        for project in &projects {
            let (slug, name) = (&project.slug, &project.name);
            let role = if project.role.is_empty() {
                "server admin".to_owned()
            } else {
                project.role.replace('_', " ")
            };
            let tag = if demos.contains(slug) {
                " <span class=\"tag\">Demo programme: synthetic people</span>"
            } else {
                ""
            };
            let _ = write!(
                body,
                "<li><a href=\"/dashboard/projects/{}\">{}</a>{tag} <span class=\"muted\">({})</span></li>",
                escape(&percent_encode(slug)),
                escape(name),
                escape(&role)
            );
        }
        body.push_str("</ul>");
    }
    page(StatusCode::OK, "Projects", Some(&user.username), &body)
}

/// Percent-encodes a path segment or query value (everything but unreserved characters).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A project the user may analyse.
#[derive(Debug, Clone)]
pub struct Project {
    /// Its slug.
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// The filters of the project page (all optional; the query string as sent by the form).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filters {
    /// Only sessions at this site (its slug, as sessions record it).
    pub site: Option<String>,
    /// Only sessions of this activity (its slug).
    pub activity: Option<String>,
    /// Only from this day on (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Only up to and including this day (`YYYY-MM-DD`).
    pub to: Option<String>,
}

impl Filters {
    /// Empty fields are no filter; dates that are not `YYYY-MM-DD` are dropped and named in
    /// the returned problems.
    fn clean(self) -> (Filters, Vec<String>) {
        let nonempty = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let mut problems = Vec::new();
        let mut date = |name: &str, s: Option<String>| {
            let s = nonempty(s)?;
            if chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok() && s.len() == 10 {
                Some(s)
            } else {
                problems.push(format!(
                    "“{s}” is not a date (YYYY-MM-DD): the {name} date was ignored."
                ));
                None
            }
        };
        let from = date("from", self.from);
        let to = date("to", self.to);
        (
            Filters {
                site: nonempty(self.site),
                activity: nonempty(self.activity),
                from,
                to,
            },
            problems,
        )
    }

    fn is_empty(&self) -> bool {
        self.site.is_none() && self.activity.is_none() && self.from.is_none() && self.to.is_none()
    }
}

/// `GET /dashboard/projects/{slug}`: the project's figures, with a filter form.
#[utoipa::path(
    get,
    path = "/dashboard/projects/{slug}",
    tag = "dashboard",
    security(("dashboard_cookie" = [])),
    params(("slug" = String, Path, description = "The project"), Filters),
    responses(
        (status = 200, description = "The project's figures: wellbeing change, attendance over time, retention and equity, as headed sections with SVG charts (HTML)", content_type = "text/html"),
        (status = 303, description = "No valid session cookie: the browser is sent to the login form"),
        (status = 403, description = "The user may not analyse this project (HTML)", content_type = "text/html"),
        (status = 404, description = "No such project (HTML; server admins only, others get 403)", content_type = "text/html"),
        (status = 500, description = "Internal error (HTML)", content_type = "text/html"),
        (status = 503, description = "The database is unavailable (HTML)", content_type = "text/html"),
    )
)]
pub async fn project_page(
    State(state): State<AppState>,
    DashboardUser(user): DashboardUser,
    Path(slug): Path<String>,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let who = Some(user.username.as_str());
    match project_page_body(&state, &user, &slug, filters).await {
        Ok(body) => body,
        Err(e) => api_error_page(e, who),
    }
}

/// The project `slug` if `user` may analyse it, else the page that refuses (a `403` page), or
/// the error (`404` for no such project).
async fn analysable_project(
    state: &AppState,
    user: &UserAuth,
    slug: &str,
) -> Result<Result<(Project, ProjectAccess), Response>, ApiError> {
    let access = match ProjectAccess::require(state, user, slug, Capability::Analyse).await {
        Ok(access) => access,
        Err(ApiError::Forbidden(_)) => {
            return Ok(Err(error_page(
                StatusCode::FORBIDDEN,
                Some(&user.username),
                "Not available to you",
                &format!(
                    "Reports are for the project's {}. Ask an admin if you need one of these \
                     roles.",
                    Capability::Analyse.roles_in_words()
                ),
            )));
        }
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::NotFound(format!("There is no project “{slug}”.")));
        }
        Err(e) => return Err(e),
    };
    let name = crate::storage::projects::name(&state.db.pool, slug).await?;
    let Some(name) = name else {
        return Err(ApiError::NotFound(format!("There is no project “{slug}”.")));
    };
    let project = Project {
        slug: slug.to_owned(),
        name,
    };
    Ok(Ok((project, access)))
}

async fn project_page_body(
    state: &AppState,
    user: &UserAuth,
    slug: &str,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (project, access) = match analysable_project(state, user, slug).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let (filters, mut problems) = match filters {
        Ok(Query(f)) => f.clean(),
        Err(_) => (
            Filters::default(),
            vec!["The filters could not be read and were ignored.".to_owned()],
        ),
    };
    let options = dashboard::filter_options(&state.db, &project.slug).await?;
    let mut body = demo_banner(state, slug).await?.to_owned();
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"muted\">Figures from the records synced so far.</p>",
        escape(&project.name)
    );
    if access.may(Capability::ManageSetup) {
        let _ = write!(
            body,
            "<p><a href=\"{}\">The project's instruments</a>: define its own questionnaires.</p>",
            escape(&instruments_path(&project.slug))
        );
    }
    body.push_str(&filter_form(&project, &filters, &options, &mut problems));
    body.push_str(HOW_TO_READ);
    body.push_str(&sections(state, &project, &filters).await?);
    body.push_str(&downloads(&project, &filters));
    crate::access::audit::record(
        &state.db.pool,
        &crate::access::audit::Actor::user(user),
        "report",
        Some(&project.slug),
        Some("dashboard"),
        serde_json::json!({"report": "dashboard", "site": filters.site, "activity": filters.activity,
                           "from": filters.from, "to": filters.to}),
    )
    .await?;
    Ok(page(
        StatusCode::OK,
        &project.name,
        Some(&user.username),
        &body,
    ))
}

// ------------------------------------------------------------------------------------------
// Downloads: the exports and the data package, behind the dashboard's cookie.
// ------------------------------------------------------------------------------------------

/// The project page's "Download the data" section: each dataset as CSV and Parquet, and the
/// data package of them all, filtered as the page is.
fn downloads(project: &Project, filters: &Filters) -> String {
    use crate::analysis::export::Dataset;
    let query = filter_query(filters);
    let base = format!("/dashboard/projects/{}", percent_encode(&project.slug));
    let mut html = String::from(
        "<section aria-labelledby=\"s-downloads\"><h2 id=\"s-downloads\">Download the data</h2>\
         <p>One row per record, pseudonymous, filtered as above; the columns are described in \
         the data dictionary. CSV opens in a spreadsheet; Parquet keeps each column's type \
         for R, Python or Stata; the data package holds every CSV with a description of each \
         column (Frictionless <code>datapackage.json</code>).</p><ul>",
    );
    for d in Dataset::ALL {
        let name = d.as_str();
        let _ = write!(
            html,
            "<li>{name}: <a href=\"{}\">CSV</a>, <a href=\"{}\">Parquet</a></li>",
            escape(&format!("{base}/exports/{name}?format=csv{query}")),
            escape(&format!("{base}/exports/{name}?format=parquet{query}")),
        );
    }
    let _ = write!(
        html,
        "</ul><p><a href=\"{}\">Every dataset as a data package (zip)</a></p></section>",
        escape(&format!(
            "{base}/data-package?{}",
            query.trim_start_matches('&')
        )),
    );
    html
}

/// `GET /dashboard/projects/{slug}/exports/{dataset}`: an export, as
/// `GET /api/v1/projects/{slug}/exports/{dataset}` serves it, for the dashboard's cookie.
#[utoipa::path(
    get,
    path = "/dashboard/projects/{slug}/exports/{dataset}",
    tag = "dashboard",
    security(("dashboard_cookie" = [])),
    params(
        ("slug" = String, Path, description = "The project's slug"),
        ("dataset" = String, Path, description = "As for `GET /api/v1/projects/{slug}/exports/{dataset}`"),
        crate::routes::analysis::AnalysisQuery,
    ),
    responses(
        (status = 200, description = "The export, as `GET /api/v1/projects/{slug}/exports/{dataset}` streams it"),
        (status = 303, description = "No valid session cookie: the browser is sent to the login form"),
        (status = 400, description = "A bad dataset, format or filter (HTML)", content_type = "text/html"),
        (status = 403, description = "The user may not analyse this project (HTML)", content_type = "text/html"),
        (status = 404, description = "No such project (HTML; server admins only, others get 403)", content_type = "text/html"),
        (status = 500, description = "Internal error (HTML)", content_type = "text/html"),
        (status = 503, description = "The database is unavailable (HTML)", content_type = "text/html"),
    )
)]
pub async fn export_download(
    State(state): State<AppState>,
    DashboardUser(user): DashboardUser,
    Path(params): Path<(String, String)>,
    q: Result<Query<crate::routes::analysis::AnalysisQuery>, QueryRejection>,
) -> Response {
    let who = user.username.clone();
    let path = crate::routes::PathParams(params);
    match crate::routes::analysis::export(State(state), user, path, q).await {
        Ok(r) => r,
        Err(e) => api_error_page(e, Some(&who)),
    }
}

/// `GET /dashboard/projects/{slug}/data-package`: the data package, as
/// `GET /api/v1/projects/{slug}/data-package` serves it, for the dashboard's cookie.
#[utoipa::path(
    get,
    path = "/dashboard/projects/{slug}/data-package",
    tag = "dashboard",
    security(("dashboard_cookie" = [])),
    params(
        ("slug" = String, Path, description = "The project's slug"),
        crate::routes::analysis::AnalysisQuery,
        crate::routes::analysis::PackageQuery,
    ),
    responses(
        (status = 200, description = "The data package, as `GET /api/v1/projects/{slug}/data-package` streams it"),
        (status = 303, description = "No valid session cookie: the browser is sent to the login form"),
        (status = 400, description = "A bad dataset or filter (HTML)", content_type = "text/html"),
        (status = 403, description = "The user may not analyse this project (HTML)", content_type = "text/html"),
        (status = 404, description = "No such project (HTML; server admins only, others get 403)", content_type = "text/html"),
        (status = 500, description = "Internal error (HTML)", content_type = "text/html"),
        (status = 503, description = "The database is unavailable (HTML)", content_type = "text/html"),
    )
)]
pub async fn package_download(
    State(state): State<AppState>,
    DashboardUser(user): DashboardUser,
    Path(slug): Path<String>,
    q: Result<Query<crate::routes::analysis::AnalysisQuery>, QueryRejection>,
    datasets: Result<Query<crate::routes::analysis::PackageQuery>, QueryRejection>,
) -> Response {
    let who = user.username.clone();
    let path = crate::routes::PathParams(slug);
    match crate::routes::analysis::data_package(State(state), user, path, q, datasets).await {
        Ok(r) => r,
        Err(e) => api_error_page(e, Some(&who)),
    }
}

// ------------------------------------------------------------------------------------------
// The project's own instruments: a page listing them, with forms to define one.
// ------------------------------------------------------------------------------------------

/// The example the instruments page shows.
const EXAMPLE_DEFINITION: &str = r#"{
  "id": "GARDEN3",
  "version": 1,
  "name": "Garden group check-in",
  "items": [
    { "number": 1, "key": "outdoors", "text": "I have enjoyed being outdoors",
      "scale": { "min": 1, "max": 5,
                 "values": [{ "value": 1, "label": "Not at all" },
                            { "value": 5, "label": "Very much" }] } },
    { "number": 2, "key": "belonging", "text": "I have felt part of the group",
      "scale": { "min": 1, "max": 5 } },
    { "number": 3, "key": "lonely", "text": "I have felt lonely",
      "scale": { "min": 1, "max": 5 }, "reverse": true }
  ],
  "scoring": {
    "method": "sum",
    "higher_is_better": true,
    "bands": [{ "name": "low", "min": 3, "max": 7 },
              { "name": "middle", "min": 8, "max": 11 },
              { "name": "high", "min": 12, "max": 15 }]
  }
}"#;

/// What the instruments page says after a definition was saved (the page's own redirect).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Saved {
    /// The instrument just saved.
    pub defined: Option<String>,
    /// Its version.
    pub version: Option<u32>,
}

/// The instrument form's fields: a definition as JSON, or as items in CSV with a JSON sidecar.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DefineForm {
    /// `json` (the default) or `csv`.
    #[serde(default)]
    format: Option<String>,
    /// The definition as JSON (`format=json`).
    #[serde(default)]
    definition: Option<String>,
    /// The items as CSV, one row per item (`format=csv`).
    #[serde(default)]
    csv: Option<String>,
    /// The CSV's sidecar: the scoring, as JSON (`format=csv`).
    #[serde(default)]
    sidecar: Option<String>,
}

/// What the forms show again after a refusal: the text sent and every problem found.
#[derive(Default)]
struct Attempt {
    json: String,
    csv: String,
    sidecar: String,
    /// Which form was sent (`csv` or `json`).
    csv_form: bool,
    problems: Vec<String>,
}

fn instruments_path(slug: &str) -> String {
    format!("/dashboard/projects/{}/instruments", percent_encode(slug))
}

/// Lets in the project's admins and coordinators (and server admins), or answers the page that
/// says why not.
async fn may_define(state: &AppState, user: &UserAuth, slug: &str) -> Result<(), Response> {
    match ProjectAccess::require(state, user, slug, Capability::ManageSetup).await {
        Ok(_) => Ok(()),
        Err(ApiError::Forbidden(_)) => Err(error_page(
            StatusCode::FORBIDDEN,
            Some(&user.username),
            "Not available to you",
            &format!(
                "A project's instruments are defined by its {}. Ask an admin if you need one \
                 of these roles.",
                Capability::ManageSetup.roles_in_words()
            ),
        )),
        Err(ApiError::NotFound(_)) => Err(error_page(
            StatusCode::NOT_FOUND,
            Some(&user.username),
            "Not Found",
            &format!("There is no project “{slug}”."),
        )),
        Err(e) => Err(api_error_page(e, Some(&user.username))),
    }
}

/// `GET /dashboard/projects/{slug}/instruments`: the project's own instruments, with the forms
/// that define one.
#[utoipa::path(
    get,
    path = "/dashboard/projects/{slug}/instruments",
    tag = "dashboard",
    security(("dashboard_cookie" = [])),
    params(("slug" = String, Path, description = "The project"), Saved),
    responses(
        (status = 200, description = "The project's instruments (every version, with its responses) and the forms to define one (HTML)", content_type = "text/html"),
        (status = 303, description = "No valid session cookie: the browser is sent to the login form"),
        (status = 403, description = "The user is not a server admin, nor the project's admin or coordinator (HTML)", content_type = "text/html"),
        (status = 404, description = "No such project (HTML; server admins only, others get 403)", content_type = "text/html"),
        (status = 500, description = "Internal error (HTML)", content_type = "text/html"),
        (status = 503, description = "The database is unavailable (HTML)", content_type = "text/html"),
    )
)]
pub async fn instruments_page(
    State(state): State<AppState>,
    DashboardUser(user): DashboardUser,
    Path(slug): Path<String>,
    saved: Result<Query<Saved>, QueryRejection>,
) -> Response {
    if let Err(page) = may_define(&state, &user, &slug).await {
        return page;
    }
    let saved = saved.map(|Query(s)| s).unwrap_or_default();
    match instruments_body(&state, &slug, &saved, &Attempt::default()).await {
        Ok((title, body)) => page(StatusCode::OK, &title, Some(&user.username), &body),
        Err(e) => api_error_page(e, Some(&user.username)),
    }
}

/// `POST /dashboard/projects/{slug}/instruments`: defines an instrument from the form, as
/// `PUT /api/v1/projects/{slug}/instruments` does.
#[utoipa::path(
    post,
    path = "/dashboard/projects/{slug}/instruments",
    tag = "dashboard",
    security(("dashboard_cookie" = [])),
    params(("slug" = String, Path, description = "The project")),
    request_body(content = DefineForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Saved: the browser is sent back to the instruments page, which says so. Or no valid session cookie: the browser is sent to the login form"),
        (status = 400, description = "Refused: the page again, with the text sent and every problem, each naming its field (HTML)", content_type = "text/html"),
        (status = 403, description = "Posted from another site, or the user may not define the project's instruments (HTML)", content_type = "text/html"),
        (status = 404, description = "No such project (HTML; server admins only, others get 403)", content_type = "text/html"),
        (status = 500, description = "Internal error (HTML)", content_type = "text/html"),
        (status = 503, description = "The database is unavailable (HTML)", content_type = "text/html"),
    )
)]
pub async fn instruments_submit(
    State(state): State<AppState>,
    DashboardUser(user): DashboardUser,
    Path(slug): Path<String>,
    headers: HeaderMap,
    form: Result<Form<DefineForm>, FormRejection>,
) -> Response {
    let who = Some(user.username.as_str());
    if !same_origin(&headers) {
        return error_page(
            StatusCode::FORBIDDEN,
            who,
            "Forbidden",
            "This form was sent from another site.",
        );
    }
    if let Err(page) = may_define(&state, &user, &slug).await {
        return page;
    }
    let mut attempt = Attempt::default();
    let parsed = match form {
        Err(_) => Err(vec![
            "The form could not be read: send it again.".to_owned(),
        ]),
        Ok(Form(form)) => {
            attempt.csv_form = form.format.as_deref() == Some("csv");
            // Browsers send a textarea's line breaks as CR LF.
            let text = |t: Option<String>| t.unwrap_or_default().replace("\r\n", "\n");
            attempt.json = text(form.definition);
            attempt.csv = text(form.csv);
            attempt.sidecar = text(form.sidecar);
            let parsed = if attempt.csv_form {
                bothy_sync_core::instrument::Definition::from_csv(&attempt.csv, &attempt.sidecar)
            } else if attempt.json.trim().is_empty() {
                Err(vec![bothy_sync_core::instrument::DefinitionError {
                    path: "definition".to_owned(),
                    message: "paste the definition's JSON in the box".to_owned(),
                }])
            } else {
                crate::instruments::from_json_text(&attempt.json)
            };
            parsed.map_err(|errs| errs.iter().map(ToString::to_string).collect())
        }
    };
    let refusal = match parsed {
        Err(problems) => problems,
        Ok(def) => {
            let actor = crate::access::audit::Actor::user(&user);
            match crate::instruments::try_define(&state.db, &slug, def, &actor).await {
                Ok(done) => {
                    return see_other(&format!(
                        "{}?defined={}&version={}",
                        instruments_path(&slug),
                        percent_encode(&done.instrument),
                        done.version
                    ));
                }
                Err(crate::instruments::Refusal::Other(e)) => return api_error_page(e, who),
                Err(refusal @ crate::instruments::Refusal::Incompatible(_)) => {
                    let mut problems = vec![
                        "This version already has responses, so it may change only in wording, \
                         labels, codes and sources. Publish the change as a new version."
                            .to_owned(),
                    ];
                    problems.extend(refusal.problems());
                    problems
                }
                Err(refusal) => refusal.problems(),
            }
        }
    };
    attempt.problems = refusal;
    match instruments_body(&state, &slug, &Saved::default(), &attempt).await {
        Ok((title, body)) => page(StatusCode::BAD_REQUEST, &title, who, &body),
        Err(e) => api_error_page(e, who),
    }
}

/// The instruments page: (title, body).
async fn instruments_body(
    state: &AppState,
    slug: &str,
    saved: &Saved,
    attempt: &Attempt,
) -> Result<(String, String), ApiError> {
    let name = crate::storage::projects::name(&state.db.pool, slug).await?;
    let Some(name) = name else {
        return Err(ApiError::NotFound(format!("There is no project “{slug}”.")));
    };
    let listed = crate::instruments::listing(&state.db, slug).await?;
    let title = format!("Instruments: {name}");
    let mut body = demo_banner(state, slug).await?.to_owned();
    let _ = write!(
        body,
        "<p><a href=\"/dashboard/projects/{}\">Back to {}</a></p><h1>{}</h1>\
         <p>The questionnaires this project records besides the built-in ones ({}). Devices \
         receive them at their next sync.</p>",
        escape(&percent_encode(slug)),
        escape(&name),
        escape(&title),
        escape(
            &bothy_sync_core::instrument::builtins()
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    if let (Some(id), Some(version)) = (&saved.defined, saved.version)
        && listed
            .iter()
            .any(|l| l.definition.id == *id && l.definition.version == version)
    {
        let _ = write!(
            body,
            "<div class=\"saved\" role=\"status\">Saved {} version {version}.</div>",
            escape(id)
        );
    }
    body.push_str("<h2>This project's instruments</h2>");
    if listed.is_empty() {
        body.push_str("<p>None yet.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\" role=\"region\" aria-label=\"This project's instruments\" \
             tabindex=\"0\"><table><caption class=\"muted\">Every version, oldest first</caption>\
             <thead><tr>\
             <th scope=\"col\">Id</th><th scope=\"col\">Version</th><th scope=\"col\">Name</th>\
             <th scope=\"col\">Items</th><th scope=\"col\">Scoring</th>\
             <th scope=\"col\">Responses</th><th scope=\"col\">Defined</th></tr></thead><tbody>",
        );
        for l in &listed {
            let d = &l.definition;
            let method = match d.scoring.method {
                bothy_sync_core::instrument::Method::Sum => "sum",
                bothy_sync_core::instrument::Method::Mean => "mean",
                bothy_sync_core::instrument::Method::PerItem => "per item",
            };
            let bands = if d.scoring.bands.is_empty() {
                String::new()
            } else {
                format!(", {} bands", d.scoring.bands.len())
            };
            let reversed = d.items.iter().filter(|i| i.reverse).count();
            let reversed = if reversed == 0 {
                String::new()
            } else {
                format!(" ({reversed} reversed)")
            };
            let when = chrono::DateTime::from_timestamp(l.defined_at, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            let by = l
                .defined_by
                .as_deref()
                .map(|u| format!(" by {}", escape(u)))
                .unwrap_or_default();
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}{}</td><td>{}{}</td>\
                 <td>{}</td><td>{}{}</td></tr>",
                escape(&d.id),
                d.version,
                escape(&d.name),
                d.items.len(),
                reversed,
                method,
                bands,
                l.responses,
                escape(&when),
                by
            );
        }
        body.push_str("</tbody></table></div>");
    }

    body.push_str(
        "<h2>Define an instrument</h2><p>A new id, or a new version of one, is added. The same \
         id and version again replaces it while no response uses it; once responses do, only \
         its wording may change (names, item text, labels, codes and sources): publish any \
         other change as a new version.</p>",
    );
    let _ = write!(
        body,
        "<details><summary>The format, with an example</summary><p>A definition gives the \
         instrument's <code>id</code> (2-32 capital letters, digits and <code>_</code>), \
         <code>version</code> (from 1), <code>name</code>, its <code>items</code> (numbered 1 \
         to n, each with a <code>scale</code>: <code>min</code> and <code>max</code>, or the \
         allowed <code>values</code>; <code>reverse</code> scores an answer the other way \
         round) and its <code>scoring</code> (<code>sum</code>, <code>mean</code> or \
         <code>per_item</code>, the direction of improvement, optional <code>bands</code>). \
         Unknown fields are refused. As a spreadsheet, each row is an item (columns \
         <code>instrument</code>, <code>version</code>, <code>name</code>, <code>item</code>, \
         <code>key</code>, <code>min</code>, <code>max</code>, <code>choices</code>, \
         <code>reverse</code>, <code>text</code>) and the sidecar holds \
         <code>{{\"scoring\": ...}}</code>.</p><pre>{}</pre></details>",
        escape(EXAMPLE_DEFINITION)
    );
    if !attempt.problems.is_empty() {
        body.push_str(
            "<div class=\"error\" role=\"alert\" id=\"define-errors\"><p>The definition was \
             not saved:</p><ul>",
        );
        for p in &attempt.problems {
            let _ = write!(body, "<li>{}</li>", escape(p));
        }
        body.push_str("</ul></div>");
    }
    let described = |csv: bool| {
        if !attempt.problems.is_empty() && attempt.csv_form == csv {
            " aria-describedby=\"define-errors\""
        } else {
            ""
        }
    };
    let action = escape(&instruments_path(slug));
    let _ = write!(
        body,
        "<h3>As JSON</h3>\
         <form class=\"define\" method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"format\" value=\"json\">\
         <div><label for=\"definition\">Definition (JSON)</label>\
         <textarea id=\"definition\" name=\"definition\" rows=\"18\" spellcheck=\"false\" \
         autocapitalize=\"none\" required{}>{}</textarea></div>\
         <div><button type=\"submit\">Save the definition</button></div></form>\
         <h3>As a spreadsheet (CSV)</h3>\
         <form class=\"define\" method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"format\" value=\"csv\">\
         <div><label for=\"csv\">Items (CSV: one row per item, the first row naming the \
         columns)</label>\
         <textarea id=\"csv\" name=\"csv\" rows=\"10\" spellcheck=\"false\" autocapitalize=\"none\" \
         required{}>{}</textarea></div>\
         <div><label for=\"sidecar\">Scoring (the JSON sidecar)</label>\
         <textarea id=\"sidecar\" name=\"sidecar\" rows=\"8\" spellcheck=\"false\" \
         autocapitalize=\"none\" required{}>{}</textarea></div>\
         <div><button type=\"submit\">Save the definition</button></div></form>",
        described(false),
        escape(&attempt.json),
        described(true),
        escape(&attempt.csv),
        described(true),
        escape(&attempt.sidecar),
    );
    Ok((title, body))
}

fn filter_form(
    project: &Project,
    filters: &Filters,
    options: &FilterOptions,
    problems: &mut Vec<String>,
) -> String {
    let select = |id: &str,
                  label: &str,
                  all: &str,
                  opts: &[(String, String)],
                  current: &Option<String>| {
        let mut s = format!(
            "<div><label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{id}\"><option value=\"\">{all}</option>"
        );
        let mut found = false;
        for (value, name) in opts {
            let selected = current.as_deref() == Some(value.as_str());
            found |= selected;
            let _ = write!(
                s,
                "<option value=\"{}\"{}>{}</option>",
                escape(value),
                if selected { " selected" } else { "" },
                escape(name)
            );
        }
        if let (Some(c), false) = (current, found) {
            let _ = write!(s, "<option value=\"{0}\" selected>{0}</option>", escape(c));
        }
        s.push_str("</select></div>");
        s
    };
    let mut out = String::new();
    for p in problems.drain(..) {
        let _ = write!(
            out,
            "<div class=\"error\" role=\"alert\">{}</div>",
            escape(&p)
        );
    }
    let _ = write!(
        out,
        "<form class=\"filters\" method=\"get\" action=\"/dashboard/projects/{}\" aria-label=\"Filters\">{}{}\
         <div><label for=\"from\">From</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{}\"></div>\
         <div><label for=\"to\">To</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{}\"></div>\
         <div><button type=\"submit\">Apply filters</button></div></form>",
        escape(&percent_encode(&project.slug)),
        select("site", "Site", "All sites", &options.sites, &filters.site),
        select(
            "activity",
            "Activity",
            "All activities",
            &options.activities,
            &filters.activity
        ),
        escape(filters.from.as_deref().unwrap_or("")),
        escape(filters.to.as_deref().unwrap_or("")),
    );
    if !filters.is_empty() {
        let _ = write!(
            out,
            "<p><a href=\"/dashboard/projects/{}\">Clear the filters</a></p>",
            escape(&percent_encode(&project.slug))
        );
    }
    out
}

// ------------------------------------------------------------------------------------------
// The figures. Everything the project page shows below its filter form is made here: one list
// of chart specifications ([`charts`]) drives both the page's sections ([`sections`]) and each
// chart's table as CSV ([`chart_csv`]), so the two always show the same numbers.
// ------------------------------------------------------------------------------------------

use crate::analysis::charts::{Mark, Value};
use crate::analysis::disclosure::Hidden;

/// The project page's sections of figures, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Change from baseline to end on each measure.
    Wellbeing,
    /// Attendance by month and sessions per activity.
    Attendance,
    /// Retention and the referral pathway.
    Retention,
    /// Reach, retention and wellbeing change by group.
    Equity,
}

impl Section {
    /// Every section, in the page's order.
    pub const ALL: [Section; 4] = [
        Section::Wellbeing,
        Section::Attendance,
        Section::Retention,
        Section::Equity,
    ];

    fn id(self) -> &'static str {
        match self {
            Section::Wellbeing => "wellbeing",
            Section::Attendance => "attendance",
            Section::Retention => "retention",
            Section::Equity => "equity",
        }
    }

    /// The section's `<h2>`.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Wellbeing => "Wellbeing change",
            Section::Attendance => "Attendance over time",
            Section::Retention => "Retention",
            Section::Equity => "Equity",
        }
    }

    /// What the section says when it has no data at all.
    fn nothing(self) -> &'static str {
        match self {
            Section::Wellbeing => "No pairs of baseline and end questionnaires yet.",
            Section::Attendance => "No sessions recorded yet.",
            Section::Retention => "No participants have attended a session yet.",
            Section::Equity => "No participants recorded yet.",
        }
    }
}

/// How a chart is drawn.
#[derive(Debug, Clone)]
pub enum ChartKind {
    /// Vertical bars over bins ([`crate::analysis::charts::histogram`]), the bins measured in
    /// `x_label`.
    Histogram {
        /// What the bins measure.
        x_label: String,
    },
    /// One horizontal bar per row ([`crate::analysis::charts::bar_chart`]).
    Bars,
    /// A bar per series in each row ([`crate::analysis::charts::grouped_bar_chart`]).
    Grouped {
        /// The end of the scale, if fixed.
        max: Option<f64>,
    },
    /// A line through the rows in order ([`crate::analysis::charts::line_chart`]).
    Line,
}

/// One row of a chart: a group (a bin, a month, an activity...) and a value per series.
#[derive(Debug, Clone)]
pub struct ChartRow {
    /// The group, as the chart labels it.
    pub group: String,
    /// One value per series.
    pub values: Vec<Value>,
    /// A short note written after the value (e.g. "n = 12").
    pub note: Option<String>,
}

/// A chart of the project page: its stable id, its visible heading, and the values it plots.
#[derive(Debug, Clone)]
pub struct ChartSpec {
    /// The stable id: `wellbeing-wemwbs`, `attendance-by-month`, `equity-age_band-reach`...
    pub id: String,
    /// The section it belongs to.
    pub section: Section,
    /// The visible heading: what the chart shows, and its unit.
    pub heading: String,
    /// A longer description, for screen readers.
    pub desc: String,
    /// A caption under the chart (may be empty).
    pub caption: String,
    /// The sentence shown instead of the chart when it has nothing to draw.
    pub empty: String,
    /// How it is drawn.
    pub kind: ChartKind,
    /// The unit of its values (`participants`, `%`, `points`...).
    pub unit: &'static str,
    /// Whether the unit is written after each value on the chart (else the heading names it).
    pub unit_on_values: bool,
    /// The series' names (one for a single-series chart).
    pub series: Vec<String>,
    /// The plotted rows.
    pub rows: Vec<ChartRow>,
}

impl ChartSpec {
    /// Whether the chart has no value to draw: no rows, or every value withheld.
    pub fn is_empty(&self) -> bool {
        self.rows
            .iter()
            .flat_map(|r| &r.values)
            .all(|v| v.number().is_none())
    }

    /// The chart as an SVG.
    fn svg(&self) -> String {
        use crate::analysis::charts::{Bar, bar_chart, grouped_bar_chart, histogram, line_chart};
        let first = |r: &ChartRow| {
            r.values
                .first()
                .copied()
                .unwrap_or(Value::Withheld(Mark::Small))
        };
        let unit = if self.unit_on_values { self.unit } else { "" };
        match &self.kind {
            ChartKind::Histogram { x_label } => {
                let bins: Vec<(String, Value)> = self
                    .rows
                    .iter()
                    .map(|r| (r.group.clone(), first(r)))
                    .collect();
                histogram(&self.heading, &self.desc, &bins, x_label)
            }
            ChartKind::Bars => {
                let bars: Vec<Bar> = self
                    .rows
                    .iter()
                    .map(|r| Bar {
                        label: r.group.clone(),
                        value: first(r),
                        note: r.note.clone(),
                    })
                    .collect();
                bar_chart(&self.heading, &self.desc, &bars, unit)
            }
            ChartKind::Grouped { max } => {
                let groups: Vec<(String, Vec<Value>)> = self
                    .rows
                    .iter()
                    .map(|r| (r.group.clone(), r.values.clone()))
                    .collect();
                grouped_bar_chart(&self.heading, &self.desc, &self.series, &groups, *max, unit)
            }
            ChartKind::Line => {
                let points: Vec<(String, Value)> = self
                    .rows
                    .iter()
                    .map(|r| (r.group.clone(), first(r)))
                    .collect();
                line_chart(&self.heading, &self.desc, &points, self.unit)
            }
        }
    }

    /// The chart's table as CSV: `group,series,value,unit,withheld`, one line per plotted
    /// value; `withheld` is `small`, `protecting` or empty.
    pub fn csv(&self) -> String {
        use crate::analysis::export::csv_string_field;
        let mut out = b"group,series,value,unit,withheld\r\n".to_vec();
        for row in &self.rows {
            for (i, v) in row.values.iter().enumerate() {
                let series = self.series.get(i).map_or("", String::as_str);
                csv_string_field(&mut out, &row.group);
                out.push(b',');
                csv_string_field(&mut out, series);
                out.push(b',');
                if let Some(x) = v.number() {
                    out.extend_from_slice(x.to_string().as_bytes());
                }
                out.push(b',');
                csv_string_field(&mut out, self.unit);
                out.push(b',');
                if let Some(m) = v.mark() {
                    out.extend_from_slice(m.as_str().as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The chart mark of a reason for withholding.
fn mark(h: Hidden) -> Mark {
    match h {
        Hidden::Small => Mark::Small,
        Hidden::Protecting => Mark::Protecting,
    }
}

/// A count as a plotted value: the number, or withheld with `why` (a small count when the
/// report does not say).
fn count_value(v: Option<u64>, why: Option<Hidden>) -> Value {
    match v {
        Some(v) => Value::Shown(v as f64),
        None => Value::Withheld(why.map_or(Mark::Small, mark)),
    }
}

/// A share or rate as a plotted value: the number, or withheld with the mark of the count it
/// is computed from (`why`), else hidden.
fn derived_value(v: Option<f64>, why: Option<Hidden>) -> Value {
    match v {
        Some(v) => Value::Shown(v),
        None => Value::Withheld(why.map_or(Mark::Protecting, mark)),
    }
}

/// Why a people row's count `field` (`participants`, `attended`, `attended_4_plus`) is
/// withheld, as the report says.
fn people_mark(row: &crate::analysis::reports::PeopleRow, field: &str) -> Option<Hidden> {
    row.withheld.get(field).copied()
}

/// An id's part made of lowercase letters, digits, `-` and `_`.
fn id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// `2026-03` as `Mar 2026`.
fn month_label(m: &str) -> String {
    chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
        .map(|d| d.format("%b %Y").to_string())
        .unwrap_or_else(|_| m.to_owned())
}

/// **The dashboard's charts**, in the page's order, computed from
/// [`crate::analysis::reports`] (the same computations as the JSON reports, with the same
/// disclosure control) for the project and filters. Each withheld figure carries its mark: a
/// count below 5, or a figure hidden to protect one.
pub async fn charts(
    state: &AppState,
    project: &Project,
    filters: &Filters,
) -> Result<Vec<ChartSpec>, ApiError> {
    use crate::analysis::reports;
    let date = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let f = crate::analysis::export::Filters {
        site: filters.site.clone(),
        activity: filters.activity.clone(),
        from: date(&filters.from),
        to: date(&filters.to),
        timepoint: None,
    };
    let thresholds = crate::analysis::export::Thresholds {
        wemwbs: state.config.wemwbs_threshold,
        swemwbs: state.config.swemwbs_threshold,
    };
    let data = reports::Data::load(&state.db, &project.slug, &f).await?;
    // With no participant at all, every count about people is a withheld zero: such charts
    // say that nothing is recorded yet, not that their figures are withheld.
    let no_people = data.everyone.is_empty();
    let outcomes = reports::outcomes(&data, "end", thresholds);
    let attendance = reports::attendance(&data);
    let equity = reports::equity(&data, "end", thresholds);
    let redactor = Redactor::load(&state.db, &project.slug).await?;
    let activity_names = dashboard::activity_names(&state.db, &project.slug, &redactor).await?;
    let activity_name = |s: &str| {
        activity_names
            .get(s)
            .cloned()
            .unwrap_or_else(|| s.to_owned())
    };
    let one = |group: String, value: Value| ChartRow {
        group,
        values: vec![value],
        note: None,
    };
    let mut out = Vec::new();

    // Wellbeing change: every measure with a total score (WEMWBS, SWEMWBS, UCLA3, the
    // project's own); ONS4's four answers are reported one by one, in the outcome report.
    for m in outcomes
        .measures
        .iter()
        .filter(|m| !m.measure.starts_with("ons4_"))
    {
        let caption = match (&m.n, &m.stats) {
            (Some(n), Some(st)) => format!(
                "{n} participants with a baseline and an end score: mean change {:+.2} points \
                 (95% CI {} to {}), Cohen's d_z {}, p {}.",
                st.mean_change,
                st.ci95_low.map_or("-".into(), |v| format!("{v:.2}")),
                st.ci95_high.map_or("-".into(), |v| format!("{v:.2}")),
                st.cohens_dz.map_or("-".into(), |v| format!("{v:.2}")),
                st.p.map_or("-".into(), |v| {
                    // Three decimals, and below 0.001 as such: never "0.000".
                    if v < 0.001 {
                        "< 0.001".to_owned()
                    } else {
                        format!("{v:.3}")
                    }
                }),
            ),
            _ => String::new(),
        };
        let rows: Vec<ChartRow> = if m.n == Some(0) {
            Vec::new()
        } else {
            m.distribution
                .iter()
                .map(|b| one(b.label.clone(), count_value(b.count, b.withheld)))
                .collect()
        };
        let empty = if rows.is_empty() {
            "No pairs of baseline and end questionnaires yet."
        } else {
            "Fewer than 5 participants have a baseline and an end questionnaire."
        };
        out.push(ChartSpec {
            id: format!("wellbeing-{}", id_part(&m.measure)),
            section: Section::Wellbeing,
            heading: format!(
                "{}: change from baseline to end (participants by points of change)",
                short_label(&m.label)
            ),
            desc: "Participants by points of change between their baseline and end \
                   questionnaires."
                .into(),
            caption,
            empty: empty.into(),
            kind: ChartKind::Histogram {
                x_label: "change in points (positive is better)".into(),
            },
            unit: "participants",
            unit_on_values: false,
            series: vec!["participants".into()],
            rows,
        });
    }

    // Attendance over time.
    out.push(ChartSpec {
        id: "attendance-by-month".into(),
        section: Section::Attendance,
        heading: "Attendees per session, by month".into(),
        desc: "Mean attendees per session (registered and unregistered) in each month.".into(),
        caption: format!("{} sessions in all.", attendance.sessions),
        empty: "No sessions recorded yet.".into(),
        kind: ChartKind::Line,
        unit: "attendees per session",
        unit_on_values: true,
        series: vec!["mean attendees per session".into()],
        rows: attendance
            .months
            .iter()
            .map(|m| {
                one(
                    month_label(&m.month),
                    derived_value(m.mean_attendees_per_session, m.withheld),
                )
            })
            .collect(),
    });
    out.push(ChartSpec {
        id: "sessions-by-activity".into(),
        section: Section::Attendance,
        heading: "Sessions per activity (sessions)".into(),
        desc: "Number of sessions held for each activity.".into(),
        caption: String::new(),
        empty: "No sessions recorded yet.".into(),
        kind: ChartKind::Bars,
        unit: "sessions",
        unit_on_values: true,
        series: vec!["sessions".into()],
        rows: attendance
            .activities
            .iter()
            .map(|a| one(activity_name(&a.activity), Value::Shown(a.sessions as f64)))
            .collect(),
    });

    // Retention.
    let all = &attendance.retention.all;
    // A share takes the mark of the counts it is computed from (those who attended, and for
    // 4 or more sessions those who did), else it is hidden.
    let pct = |v: Option<f64>, counts: &[&str]| {
        derived_value(
            v.map(|v| (v * 1000.0).round() / 10.0),
            counts.iter().find_map(|c| people_mark(all, c)),
        )
    };
    let retention_rows = if all.participants == Some(0) || all.attended == Some(0) {
        Vec::new()
    } else {
        vec![
            one(
                "2 or more sessions".into(),
                pct(all.retained_2_plus, &["attended"]),
            ),
            one(
                "4 or more sessions".into(),
                pct(all.retained_4_plus, &["attended_4_plus", "attended"]),
            ),
            one(
                "6 or more sessions".into(),
                pct(all.retained_6_plus, &["attended"]),
            ),
        ]
    };
    out.push(ChartSpec {
        id: "retention".into(),
        section: Section::Retention,
        heading: "Participants who kept coming (% of those who attended once or more)".into(),
        desc: "Of participants who attended at least once, the percentage attending at least \
               2, 4 and 6 sessions."
            .into(),
        caption: String::new(),
        empty: "No participants have attended a session yet.".into(),
        kind: ChartKind::Bars,
        unit: "%",
        unit_on_values: true,
        series: vec!["share of attenders".into()],
        rows: retention_rows,
    });
    out.push(ChartSpec {
        id: "referral-pathway".into(),
        section: Section::Retention,
        heading: "Referral pathway by source (participants)".into(),
        desc: "Participants referred, who attended once or more, and who attended 4 or more \
               sessions, by referral source."
            .into(),
        caption: String::new(),
        empty: "No referrals recorded yet.".into(),
        kind: ChartKind::Grouped { max: None },
        unit: "participants",
        unit_on_values: false,
        series: vec!["referred".into(), "attended".into(), "4+ sessions".into()],
        rows: attendance
            .referral_funnel
            .rows
            .iter()
            .filter(|r| r.participants != Some(0))
            .map(|r| ChartRow {
                group: r.group.replace('_', " "),
                values: vec![
                    count_value(r.participants, people_mark(r, "participants")),
                    count_value(r.attended, people_mark(r, "attended")),
                    count_value(r.attended_4_plus, people_mark(r, "attended_4_plus")),
                ],
                note: None,
            })
            .collect(),
    });

    // Equity.
    for d in &equity.dimensions {
        let title = match d.dimension {
            "imd_quintile" => "Deprivation (IMD quintile)",
            "ethnic_group" => "Ethnic group",
            "age_band" => "Age band",
            "gender" => "Gender",
            _ => "Urban or rural",
        };
        out.push(ChartSpec {
            id: format!("equity-{}-reach", d.dimension),
            section: Section::Equity,
            heading: format!("{title}: participants, and those attending 4+ sessions"),
            desc: format!(
                "Participants, and participants attending 4 or more sessions, by {}.",
                title.to_lowercase()
            ),
            caption: String::new(),
            empty: "No participants recorded yet.".into(),
            kind: ChartKind::Grouped { max: None },
            unit: "participants",
            unit_on_values: false,
            series: vec!["participants".into(), "4+ sessions".into()],
            rows: d
                .people
                .rows
                .iter()
                .filter(|r| r.participants != Some(0))
                .map(|r| ChartRow {
                    group: r.group.replace('_', " "),
                    values: vec![
                        count_value(r.participants, people_mark(r, "participants")),
                        count_value(r.attended_4_plus, people_mark(r, "attended_4_plus")),
                    ],
                    note: None,
                })
                .collect(),
        });
        if let Some(w) = d.outcomes.iter().find(|o| o.measure == "wemwbs") {
            out.push(ChartSpec {
                id: format!("equity-{}-wemwbs-change", d.dimension),
                section: Section::Equity,
                heading: format!("{title}: mean WEMWBS change (points)"),
                desc: "Mean change in WEMWBS score from baseline to end, by group.".into(),
                caption: String::new(),
                empty: "No pairs of baseline and end questionnaires yet.".into(),
                kind: ChartKind::Bars,
                unit: "points",
                unit_on_values: true,
                series: vec!["mean change".into()],
                rows: w
                    .groups
                    .iter()
                    .filter(|g| g.n != Some(0))
                    .map(|g| ChartRow {
                        group: g.group.replace('_', " "),
                        values: vec![match &g.stats {
                            Some(s) => Value::Shown((s.mean_change * 100.0).round() / 100.0),
                            None => Value::Withheld(g.withheld.map_or(Mark::Small, mark)),
                        }],
                        note: g.n.map(|n| format!("n = {n}")),
                    })
                    .collect(),
            });
        }
    }
    if no_people {
        for spec in out.iter_mut().filter(|s| s.section != Section::Attendance) {
            spec.rows.clear();
        }
    }
    Ok(out)
}

/// A measure's label without what follows its first parenthesis or semicolon (`WEMWBS`, not
/// the whole scoring note).
fn short_label(label: &str) -> String {
    let cut = label.find([';', '(']).unwrap_or(label.len());
    let s = label[..cut].trim();
    if s.is_empty() {
        label.to_owned()
    } else {
        s.to_owned()
    }
}

/// The page's query string for `filters` (`&site=...`), percent-encoded.
fn filter_query(filters: &Filters) -> String {
    let mut query = String::new();
    for (name, v) in [
        ("site", &filters.site),
        ("activity", &filters.activity),
        ("from", &filters.from),
        ("to", &filters.to),
    ] {
        if let Some(v) = v {
            let _ = write!(query, "&{name}={}", percent_encode(v));
        }
    }
    query
}

/// What a chart, or a section, all of whose figures are withheld says instead.
const WITHHELD_ALL: &str =
    "Too few people for any figure here: every count is below 5, or hidden to protect one.";

/// The short note near the top of the project page that explains the two marks of a withheld
/// figure, once.
pub const HOW_TO_READ: &str = "<section class=\"howto\" aria-labelledby=\"s-howto\">\
     <h2 id=\"s-howto\">How to read these figures</h2><ul>\
     <li><strong>&lt;5</strong>: a count of fewer than 5 people (or a figure computed from \
     one), not shown so that no one can be recognised.</li>\
     <li><strong>hidden \u{2021}</strong>: a figure hidden because, with the totals shown, it \
     would reveal a count of fewer than 5 elsewhere.</li>\
     <li>Each chart's numbers can be downloaded as a table (CSV) from the link under it.</li>\
     </ul></section>";

/// **The dashboard's figures.** Renders the project page's sections, in this order and with
/// these `<h2>` headings: "Wellbeing change", "Attendance over time", "Retention", "Equity".
/// Each chart of [`charts`] is a figure with an `<h3>` heading naming what it shows and its
/// unit, the chart (or, when it has nothing to draw, one sentence), a caption and a link to its
/// table as CSV; a section with nothing to draw at all says so once. All text from the
/// database goes through [`escape`] (the charts escape their own inputs).
pub async fn sections(
    state: &AppState,
    project: &Project,
    filters: &Filters,
) -> Result<String, ApiError> {
    let specs = charts(state, project, filters).await?;
    Ok(render_sections(&specs, project, filters))
}

fn render_sections(specs: &[ChartSpec], project: &Project, filters: &Filters) -> String {
    let query = filter_query(filters);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", &query[1..])
    };
    let base = format!(
        "/dashboard/projects/{}/charts",
        percent_encode(&project.slug)
    );
    let mut html = String::new();
    for section in Section::ALL {
        let _ = write!(
            html,
            "<section aria-labelledby=\"s-{0}\"><h2 id=\"s-{0}\">{1}</h2>",
            section.id(),
            section.heading()
        );
        let mine: Vec<&ChartSpec> = specs.iter().filter(|s| s.section == section).collect();
        if mine.iter().all(|s| s.is_empty()) {
            let text = if mine.iter().any(|s| !s.rows.is_empty()) {
                WITHHELD_ALL
            } else {
                section.nothing()
            };
            let _ = write!(html, "<p class=\"empty none\">{text}</p></section>");
            continue;
        }
        html.push_str("<div class=\"figures\">");
        for spec in mine {
            html.push_str(&figure(spec, &base, &query));
        }
        html.push_str("</div></section>");
    }
    html
}

/// One chart: its heading, the chart or a sentence, its caption and the link to its table.
fn figure(spec: &ChartSpec, base: &str, query: &str) -> String {
    let id = escape(&spec.id);
    let mut html = format!(
        "<div class=\"fig\" id=\"chart-{id}\"><h3 id=\"h-{id}\">{}</h3>",
        escape(&spec.heading)
    );
    if spec.is_empty() {
        let text = if spec.rows.is_empty() {
            spec.empty.as_str()
        } else {
            WITHHELD_ALL
        };
        let _ = write!(html, "<p class=\"empty\">{}</p></div>", escape(text));
        return html;
    }
    let caption = if spec.caption.is_empty() {
        String::new()
    } else {
        format!("<figcaption>{}</figcaption>", escape(&spec.caption))
    };
    let _ = write!(
        html,
        "<figure>{}{caption}</figure><p class=\"csv\"><a href=\"{}\">Table as CSV\
         <span class=\"vh\">: {}</span></a></p></div>",
        spec.svg(),
        escape(&format!("{base}/{}.csv{query}", spec.id)),
        escape(&spec.heading),
    );
    html
}

/// `GET /dashboard/projects/{slug}/charts/{chart}`: one chart's table as CSV (`{chart}` is the
/// chart's id followed by `.csv`), filtered as the project page is.
#[utoipa::path(
    get,
    path = "/dashboard/projects/{slug}/charts/{chart}",
    tag = "dashboard",
    security(("dashboard_cookie" = [])),
    params(
        ("slug" = String, Path, description = "The project"),
        ("chart" = String, Path, description = "The chart's id followed by `.csv`, e.g. `attendance-by-month.csv` (docs/dashboard.md lists them)"),
        Filters,
    ),
    responses(
        (status = 200, description = "The chart's table: `group,series,value,unit,withheld`, one line per plotted value (`withheld` is `small`, `protecting` or empty)", content_type = "text/csv"),
        (status = 303, description = "No valid session cookie: the browser is sent to the login form"),
        (status = 400, description = "A filter is not valid (HTML)", content_type = "text/html"),
        (status = 403, description = "The user may not analyse this project (HTML)", content_type = "text/html"),
        (status = 404, description = "No such project, or no chart with this id (HTML)", content_type = "text/html"),
        (status = 500, description = "Internal error (HTML)", content_type = "text/html"),
        (status = 503, description = "The database is unavailable (HTML)", content_type = "text/html"),
    )
)]
pub async fn chart_csv(
    State(state): State<AppState>,
    DashboardUser(user): DashboardUser,
    Path((slug, chart)): Path<(String, String)>,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let who = Some(user.username.as_str());
    match chart_csv_response(&state, &user, &slug, &chart, filters).await {
        Ok(res) => res,
        Err(e) => api_error_page(e, who),
    }
}

async fn chart_csv_response(
    state: &AppState,
    user: &UserAuth,
    slug: &str,
    chart: &str,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, ApiError> {
    let project = match analysable_project(state, user, slug).await? {
        Ok((project, _)) => project,
        Err(refused) => return Ok(refused),
    };
    let filters = match filters {
        Ok(Query(f)) => {
            let (f, problems) = f.clean();
            if let Some(p) = problems.into_iter().next() {
                return Err(ApiError::bad("invalid_filter", p));
            }
            f
        }
        Err(_) => {
            return Err(ApiError::bad(
                "invalid_filter",
                "The filters could not be read.",
            ));
        }
    };
    let id = chart.strip_suffix(".csv").unwrap_or(chart);
    let not_found = || {
        ApiError::NotFound(format!(
            "There is no chart “{id}” on this project's page (a chart's table is \
             /dashboard/projects/{slug}/charts/<id>.csv)."
        ))
    };
    if !chart.ends_with(".csv") {
        return Err(not_found());
    }
    let specs = charts(state, &project, &filters).await?;
    let spec = specs
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(not_found)?;
    crate::access::audit::record(
        &state.db.pool,
        &crate::access::audit::Actor::user(user),
        "report",
        Some(&project.slug),
        Some("dashboard"),
        serde_json::json!({"report": "dashboard-chart", "chart": spec.id, "site": filters.site,
                           "activity": filters.activity, "from": filters.from, "to": filters.to}),
    )
    .await?;
    let demo = crate::storage::demo::is_demo(&state.db.pool, &project.slug).await? == Some(true);
    let stem = if demo {
        format!("bothy-demo-{}", project.slug)
    } else {
        format!("bothy-{}", project.slug)
    };
    let file = format!("{stem}-{}.csv", spec.id);
    let mut res = (StatusCode::OK, spec.csv()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_and_written_safely() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; bothy_dashboard=abc.def; x=y"),
        );
        assert_eq!(cookie_value(&h).as_deref(), Some("abc.def"));
        let set = cookie(Some("t"), 900, true);
        let set = set.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/dashboard",
            "Secure",
            "Max-Age=900",
        ] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!cookie(None, 0, false).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("bothy.example"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://bothy.example"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn the_instruments_page_example_is_valid() {
        let def = crate::instruments::from_json_text(EXAMPLE_DEFINITION).expect("it reads");
        assert_eq!(def.validate(), Ok(()));
        assert_eq!(def.items.iter().filter(|i| i.reverse).count(), 1);
    }

    fn spec(section: Section, id: &str, rows: Vec<ChartRow>) -> ChartSpec {
        ChartSpec {
            id: id.into(),
            section,
            heading: format!("{id} (participants)"),
            desc: "d".into(),
            caption: String::new(),
            empty: format!("Nothing for {id} yet."),
            kind: ChartKind::Grouped { max: None },
            unit: "participants",
            unit_on_values: false,
            series: vec!["referred".into(), "4+ sessions".into()],
            rows,
        }
    }

    fn project() -> Project {
        Project {
            slug: "moray".into(),
            name: "Moray".into(),
        }
    }

    #[test]
    fn a_project_without_data_gets_a_short_page() {
        let specs: Vec<ChartSpec> = Section::ALL
            .iter()
            .enumerate()
            .flat_map(|(i, s)| (0..4).map(move |k| spec(*s, &format!("c{i}-{k}"), Vec::new())))
            .collect();
        let html = render_sections(&specs, &project(), &Filters::default());
        assert!(!html.contains("<svg"), "{html}");
        assert!(
            !html.contains("<h3"),
            "no heading for a chart not drawn: {html}"
        );
        assert_eq!(html.matches("<h2 ").count(), 4);
        for s in Section::ALL {
            assert_eq!(html.matches(s.nothing()).count(), 1, "said once: {html}");
        }
        assert!(html.len() < 1500, "{} bytes: {html}", html.len());

        // Some rows, every value withheld: one sentence under the chart's heading.
        let withheld = ChartRow {
            group: "g".into(),
            values: vec![
                Value::Withheld(Mark::Small),
                Value::Withheld(Mark::Protecting),
            ],
            note: None,
        };
        let mut specs = vec![
            spec(
                Section::Equity,
                "shown",
                vec![ChartRow {
                    group: "g".into(),
                    values: vec![Value::Shown(12.0), Value::Withheld(Mark::Protecting)],
                    note: None,
                }],
            ),
            spec(Section::Equity, "hidden", vec![withheld.clone()]),
        ];
        let html = render_sections(&specs, &project(), &Filters::default());
        assert_eq!(html.matches("<svg").count(), 1);
        assert!(html.contains(&format!("<p class=\"empty\">{WITHHELD_ALL}</p>")));
        assert!(html.contains(">shown (participants)</h3>"));
        assert!(html.contains("href=\"/dashboard/projects/moray/charts/shown.csv\""));
        let html = render_sections(&specs[1..], &project(), &Filters::default());
        assert!(
            html.contains("Too few people for any figure here"),
            "{html}"
        );
        specs.truncate(1);
        let filters = Filters {
            site: Some("a b".into()),
            ..Filters::default()
        };
        let html = render_sections(&specs, &project(), &filters);
        assert!(html.contains("charts/shown.csv?site=a%20b\""), "{html}");
    }

    #[test]
    fn a_chart_table_has_one_line_per_value_with_its_mark() {
        let s = spec(
            Section::Retention,
            "referral-pathway",
            vec![
                ChartRow {
                    group: "=GP".into(),
                    values: vec![Value::Shown(12.5), Value::Withheld(Mark::Protecting)],
                    note: None,
                },
                ChartRow {
                    group: "self".into(),
                    values: vec![Value::Withheld(Mark::Small)],
                    note: None,
                },
            ],
        );
        assert_eq!(
            s.csv(),
            "group,series,value,unit,withheld\r\n\
             \"'=GP\",referred,12.5,participants,\r\n\
             \"'=GP\",4+ sessions,,participants,protecting\r\n\
             self,referred,,participants,small\r\n"
        );
        assert_eq!(id_part("My Scale 2"), "my-scale-2");
        assert_eq!(month_label("2026-03"), "Mar 2026");
        assert_eq!(
            short_label("Warwick-Edinburgh (WEMWBS; sum)"),
            "Warwick-Edinburgh"
        );
    }

    #[test]
    fn filters_are_cleaned() {
        let (f, problems) = Filters {
            site: Some(" ".into()),
            activity: Some("walk".into()),
            from: Some("2026-02-30".into()),
            to: Some("2026-03-01".into()),
        }
        .clean();
        assert_eq!(f.site, None);
        assert_eq!(f.activity.as_deref(), Some("walk"));
        assert_eq!(f.from, None);
        assert_eq!(f.to.as_deref(), Some("2026-03-01"));
        assert_eq!(problems.len(), 1);
        assert_eq!(percent_encode("a b/<"), "a%20b%2F%3C");
    }
}
