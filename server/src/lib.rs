//! # bothy-server
//!
//! The central server of Bothy. Devices that were offline for days push their record changes
//! here in one request and receive what they lack; analysts and coordinators read merged data.
//!
//! A guided tour, by capability:
//! * [`sync`]: the sync endpoint, the heart of the server (see docs/protocol.md): pushes merged
//!   in parallel off the async threads, pulls and bootstraps paged, and the project set-up a
//!   device is sent.
//! * [`storage`]: every SQL statement, behind functions whose types say what is stored; one
//!   way to talk to SQLite and PostgreSQL; migrations run at start-up; batched writes of
//!   records, projections and the change log ([`storage::records`], [`storage::projection`]).
//! * [`access`]: argon2id passwords, short-lived JWTs, rotating refresh tokens, device
//!   credentials, roles, device wipes and the audit log.
//! * [`review`]: participants' contact records and erasure, conflicts and quarantine settled
//!   by coordinators.
//! * [`analysis`]: exports, reports, disclosure control, statistics and charts.
//! * [`instruments`]: a project's own questionnaire definitions, stored, checked for compatible
//!   changes and made known to the process that scores responses.
//! * [`routes`]: thin HTTP handlers, one module per area: they read the request, check who
//!   asks, call the capability and answer.
//! * [`input`]: the rules for the values requests carry, each with the JSON Schema the
//!   OpenAPI document declares for it.
//! * [`config`]: flags, environment and file; sane defaults (SQLite in `./data`).
//! * [`openapi`]: the OpenAPI document, generated from the handlers, at `/openapi.json`.
//! * [`cli`]: the `bothy-server` command (serve, backup, restore, and admin commands on the
//!   database).
//! * [`demo`]: the demo programme, a project of synthetic people made by a seeded generator
//!   (`bothy-server demo`), and its removal.
//! * [`backup`]: consistent online backups and restores that start a new data generation.
//! * [`listener`]: the accept loop, with header, body and idle timeouts and a connection limit.
//! * [`metrics`]: counts and timings for operators at `/metrics` (Prometheus), and the sync
//!   admission that answers `503 busy` rather than queueing without end ([`state`]).

pub mod access;
pub mod analysis;
pub mod backup;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod input;
pub mod instruments;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod review;
pub mod routes;
pub mod state;
pub mod storage;
pub mod sync;
pub mod telemetry;

use crate::access::auth::JwtKeys;
use crate::config::Config;
use crate::state::AppState;
use crate::storage::Db;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::handler::Handler;
use axum::http::{Method, Request};
use axum::routing::{MethodRouter, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionLayer, Predicate};
use tower_http::trace::TraceLayer;

/// Builds the router over a state.
pub fn app(state: AppState) -> Router {
    router().0.with_state(state)
}

/// Every (method, path) the router serves, from the same table [`app`] is built from (the
/// OpenAPI test compares it with the document).
pub fn routes() -> Vec<(Method, String)> {
    router().1
}

/// Routes added through [`RouteTable`] are both registered and listed.
struct RouteTable {
    prefix: &'static str,
    router: Router<AppState>,
    list: Vec<(Method, String)>,
}

impl RouteTable {
    fn new(prefix: &'static str) -> Self {
        RouteTable {
            prefix,
            router: Router::new(),
            list: Vec::new(),
        }
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::GET, path, get(handler))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::POST, path, post(handler))
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PUT, path, axum::routing::put(handler))
    }

    fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PATCH, path, axum::routing::patch(handler))
    }

    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<AppState>) -> Self {
        self.list.push((method, format!("{}{path}", self.prefix)));
        self.router = self.router.route(path, route);
        self
    }
}

fn router() -> (Router<AppState>, Vec<(Method, String)>) {
    use routes::{admin, auth, devices, health, projects, review};
    let json_limit = DefaultBodyLimit::max(1024 * 1024);
    let api = RouteTable::new("/api/v1")
        .get("/info", health::info)
        .post("/auth/login", auth::login)
        .post("/auth/refresh", auth::refresh)
        .post("/auth/logout", auth::logout)
        .post("/auth/password", auth::change_password)
        .post("/devices/enrol", devices::enrol)
        .post("/devices/register", devices::register)
        .get("/me", devices::me)
        .post("/admin/projects", admin::create_project)
        .get("/admin/projects", admin::list_projects)
        .post("/admin/users", admin::create_user)
        .post("/admin/projects/{slug}/members", admin::add_member)
        .post(
            "/admin/projects/{slug}/members/{username}/remove",
            admin::remove_member,
        )
        .post("/admin/enrolments", admin::create_enrolment)
        .get("/admin/devices", admin::list_devices)
        .post("/admin/devices/{id}/revoke", admin::revoke_device)
        .post("/admin/users/{username}/remove", admin::remove_user)
        .post("/admin/users/{username}/password", admin::reset_password)
        .get("/projects/{slug}/records/{id}", projects::record)
        .get(
            "/projects/{slug}/records/{id}/history",
            routes::history::history,
        )
        .get("/projects/{slug}/audit", routes::audit::project_audit)
        .get("/admin/audit", routes::audit::admin_audit)
        .get("/projects/{slug}/conflicts", projects::conflicts)
        .get("/projects/{slug}/quarantine", projects::quarantine)
        .post(
            "/projects/{slug}/conflicts/resolve",
            review::resolve_conflict,
        )
        .get("/projects/{slug}/quarantine/{id}", review::quarantine_entry)
        .post("/projects/{slug}/quarantine/{id}/release", review::release)
        .post("/projects/{slug}/quarantine/{id}/discard", review::discard)
        .get("/admin/quarantine", review::admin_quarantine)
        .post("/admin/quarantine/{id}/discard", review::admin_discard)
        .get(
            "/projects/{slug}/participants/{id}/export",
            routes::subjects::export,
        )
        .post(
            "/projects/{slug}/participants/{id}/erase",
            routes::subjects::erase,
        )
        .get("/data-dictionary", routes::analysis::data_dictionary)
        .get(
            "/projects/{slug}/exports/{dataset}",
            routes::analysis::export,
        )
        .get(
            "/projects/{slug}/data-package",
            routes::analysis::data_package,
        )
        .get(
            "/projects/{slug}/reports/outcomes",
            routes::analysis::outcomes,
        )
        .get(
            "/projects/{slug}/reports/attendance",
            routes::analysis::attendance,
        )
        .get("/projects/{slug}/reports/equity", routes::analysis::equity)
        .get("/projects/{slug}/reports/sites", routes::analysis::sites)
        .get(
            "/projects/{slug}/reports/quarterly",
            routes::analysis::quarterly,
        )
        .post("/admin/projects/{slug}/sites", routes::setup::create_site)
        .get("/admin/projects/{slug}/sites", routes::setup::list_sites)
        .patch(
            "/admin/projects/{slug}/sites/{site}",
            routes::setup::update_site,
        )
        .post(
            "/admin/projects/{slug}/activities",
            routes::setup::create_activity,
        )
        .get(
            "/admin/projects/{slug}/activities",
            routes::setup::list_activities,
        )
        .patch(
            "/admin/projects/{slug}/activities/{activity}",
            routes::setup::update_activity,
        )
        .put(
            "/admin/instruments/{instrument}",
            routes::setup::put_instrument,
        )
        .get("/admin/instruments", routes::setup::list_instruments)
        .put("/projects/{slug}/instruments", routes::instruments::define)
        .get("/projects/{slug}/instruments", routes::instruments::list)
        .get("/projects/{slug}/followups", routes::followups::get)
        .put("/projects/{slug}/followups", routes::followups::put);
    // Sync bodies are already compressed and limited inside the handler.
    let sync_routes = RouteTable::new("/api/v1").post("/sync", sync::sync);
    // A wipe confirmation lists every record a device lost: it may exceed the usual 1 MiB.
    let wipe_routes = RouteTable::new("/api/v1").post("/devices/wipe", routes::wipe::confirm);
    let top = RouteTable::new("")
        .get("/healthz", health::healthz)
        .get("/openapi.json", openapi::openapi_json)
        .get("/metrics", metrics::metrics)
        .get("/dashboard", routes::dashboard::home)
        .get("/dashboard/login", routes::dashboard::login_page)
        .post("/dashboard/login", routes::dashboard::login_submit)
        .post("/dashboard/logout", routes::dashboard::logout)
        .get(
            "/dashboard/projects/{slug}",
            routes::dashboard::project_page,
        )
        .get(
            "/dashboard/projects/{slug}/exports/{dataset}",
            routes::dashboard::export_download,
        )
        .get(
            "/dashboard/projects/{slug}/data-package",
            routes::dashboard::package_download,
        )
        .get(
            "/dashboard/projects/{slug}/charts/{chart}",
            routes::dashboard::chart_csv,
        )
        .get(
            "/dashboard/projects/{slug}/instruments",
            routes::dashboard::instruments_page,
        )
        .post(
            "/dashboard/projects/{slug}/instruments",
            routes::dashboard::instruments_submit,
        );
    let app = RouteTable::new("")
        .get("/app", routes::webapp::redirect)
        .get("/app/", routes::webapp::index)
        .get("/app/{file}", routes::webapp::file);
    let list = [
        top.list,
        api.list,
        sync_routes.list,
        wipe_routes.list,
        app.list,
    ]
    .concat();
    let api = api
        .router
        .layer(json_limit)
        // A JSON body may come gzip-compressed (`Content-Encoding: gzip`), as scripts send large
        // ones; the size limit applies to it decompressed. Another encoding is refused with 415.
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .merge(sync_routes.router.layer(DefaultBodyLimit::disable()))
        .merge(
            wipe_routes
                .router
                .layer(DefaultBodyLimit::max(routes::wipe::BODY_MAX))
                .layer(tower_http::decompression::RequestDecompressionLayer::new()),
        )
        .layer(CompressionLayer::new().compress_when(
            tower_http::compression::predicate::DefaultPredicate::new().and(
                tower_http::compression::predicate::NotForContentType::const_new(
                    bothy_sync_core::protocol::MEDIA_TYPE,
                ),
            ),
        ));
    let router = top
        .router
        .merge(app.router.layer(CompressionLayer::new()))
        .nest("/api/v1", api)
        .fallback(|| async {
            error::ApiError::NotFound("no such endpoint: see docs/http-api.md".into())
        })
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("unmatched");
                tracing::info_span!("request", method = %req.method(), route)
            }),
        )
        .layer(CatchPanicLayer::custom(|_| {
            error::ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response_impl()
        }));
    (router, list)
}

impl error::ApiError {
    fn into_response_impl(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}

/// Connects to the database, prepares first-start state and returns the app state.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    let db = Db::connect(&config.database_url).await?;
    let secret = match &config.jwt_secret {
        Some(s) => s.expose().to_owned(),
        None => stored_secret(&db).await?,
    };
    ensure_first_admin(&db, &config).await?;
    // Responses of a project's own instruments are checked and scored from these.
    instruments::load_all(&db).await?;
    Ok(AppState::new(
        db,
        JwtKeys::from_secret(secret.as_bytes()),
        config,
    ))
}

/// The signing secret kept in the database (made on first start), shared by every process.
async fn stored_secret(db: &Db) -> anyhow::Result<String> {
    let mut conn = db.pool.acquire().await?;
    Ok(storage::accounts::signing_secret(&mut conn, &access::auth::random_secret()).await?)
}

/// Creates the first admin if there are no users: with BOTHY_ADMIN_PASSWORD, or a one-time
/// password printed once.
async fn ensure_first_admin(db: &Db, config: &Config) -> anyhow::Result<()> {
    if storage::accounts::count_users(&db.pool).await? > 0 {
        return Ok(());
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.expose().to_owned(), false),
        None => (access::auth::random_secret()[..20].to_owned(), true),
    };
    match access::accounts::create_user_in(db, "admin", &password, true).await {
        Ok(_) => {}
        // Another server process on the same database created it first.
        Err(error::ApiError::Conflict(_)) => return Ok(()),
        Err(e) => anyhow::bail!("cannot create the first admin: {e}"),
    }
    if generated {
        println!(
            "\nFirst start: created the admin user `admin` with this one-time password:\n\n    {password}\n\n\
             It is shown only now. Log in with it and keep it safe, or set BOTHY_ADMIN_PASSWORD \
             before the first start next time.\n"
        );
    } else {
        tracing::info!("first start: created the admin user `admin` from BOTHY_ADMIN_PASSWORD");
    }
    Ok(())
}

/// A running server (for tests and embedding).
pub struct RunningServer {
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    /// The state it serves.
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// The base URL, e.g. `http://127.0.0.1:43210`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.handle).await;
    }
}

/// Starts serving on `config.listen` (port 0 picks a free port) in the background.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let listen = config.listen;
    // Bind first: a start that cannot listen must not create the first admin.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let state = prepare(config).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = app(state.clone());
    let limits = listener::Limits::of(&state.config);
    let handle = tokio::spawn(listener::serve(listener, router, limits, async {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        state,
        shutdown: Some(tx),
        handle,
    })
}
