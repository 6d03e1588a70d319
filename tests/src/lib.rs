//! Shared helpers for Bothy's end-to-end scenarios: a real server on port 0 over a fresh
//! database per test (SQLite in a temporary directory, or a new PostgreSQL database), an admin
//! session, and enrolled devices with their own local stores.
//!
//! PostgreSQL scenarios need `BOTHY_TEST_POSTGRES_URL` (a URL of a server where the user may
//! create databases). Without it they are skipped with a printed reason, unless
//! `BOTHY_REQUIRE_POSTGRES=1`, which turns the skip into a failure (CI sets it).

use anyhow::Context;
use bothy_server::config::{Config, sqlite_url};
use bothy_server::{RunningServer, start};
use serde_json::{Value, json};
use sqlx::Connection;
use std::net::SocketAddr;

/// Which database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A database made for one test.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// Temporary directory holding SQLite files and device stores.
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

/// The PostgreSQL admin URL for tests, or why PostgreSQL tests are skipped. Panics when
/// PostgreSQL is required but missing.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("BOTHY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("BOTHY_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("BOTHY_REQUIRE_POSTGRES=1 but BOTHY_TEST_POSTGRES_URL is not set");
            }
            eprintln!(
                "skipped: PostgreSQL scenario (set BOTHY_TEST_POSTGRES_URL=postgres://user@host/db \
                 to run it)"
            );
            None
        }
    }
}

impl TestDb {
    /// A fresh database, or `None` if the backend is unavailable and not required.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => Some(TestDb {
                url: sqlite_url(&dir.path().join("bothy.db")),
                dir,
                pg: None,
            }),
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let name = format!("bothy_t_{}", uuid::Uuid::new_v4().simple());
                let made = async {
                    let mut conn = sqlx::PgConnection::connect(&admin).await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await?;
                    Ok::<_, sqlx::Error>(())
                }
                .await;
                if let Err(e) = made {
                    if std::env::var("BOTHY_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                        panic!("PostgreSQL is required but unreachable at {admin}: {e}");
                    }
                    eprintln!(
                        "skipped: PostgreSQL scenario: cannot create a database at {admin}: {e}"
                    );
                    return None;
                }
                let url = replace_db_name(&admin, &name);
                Some(TestDb {
                    url,
                    dir,
                    pg: Some((admin, name)),
                })
            }
        }
    }

    /// Drops a PostgreSQL test database (SQLite files go with the directory).
    pub async fn drop_database(&self) {
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = sqlx::PgConnection::connect(admin).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The first admin's password in every test server.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A server under test with an admin session.
pub struct Harness {
    /// The database.
    pub db: TestDb,
    /// The running server (none while stopped).
    pub server: Option<RunningServer>,
    /// Where it listens (kept across restarts so devices keep their URL).
    pub addr: SocketAddr,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The admin's access token.
    pub admin_token: String,
}

/// The server configuration used in tests.
pub fn test_config(url: &str, addr: SocketAddr) -> Config {
    let mut cfg = Config::for_database(url);
    cfg.listen = addr;
    cfg.admin_password = Some(bothy_server::config::Secret::new(ADMIN_PASSWORD));
    cfg
}

impl Harness {
    /// Starts a server on a fresh database, or `None` if the backend is skipped.
    pub async fn start(backend: Backend) -> Option<Harness> {
        Self::start_with(backend, |_| {}).await
    }

    /// Like [`Harness::start`], adjusting the configuration first.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Harness> {
        let db = TestDb::new(backend).await?;
        let mut cfg = test_config(&db.url, "127.0.0.1:0".parse().unwrap());
        adjust(&mut cfg);
        let server = start(cfg).await.expect("server starts");
        let addr = server.addr;
        // No idle connections kept: a server may close one after refusing an oversized body.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client");
        let mut h = Harness {
            db,
            server: Some(server),
            addr,
            http,
            admin_token: String::new(),
        };
        h.admin_token = h
            .login("admin", ADMIN_PASSWORD)
            .await
            .expect("admin logs in");
        Some(h)
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server: devices now find it unreachable.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// Starts the server again on the same address and database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut tries = 0;
        loop {
            match start(test_config(&self.db.url, self.addr)).await {
                Ok(s) => {
                    self.server = Some(s);
                    return;
                }
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("server did not restart: {e:#}"),
            }
        }
    }

    /// Logs in; returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let v = self
            .post_json(
                "/api/v1/auth/login",
                None,
                json!({"username": username, "password": password}),
            )
            .await?;
        v["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access token")
    }

    /// POSTs JSON, returning the JSON answer or an error with the status and body.
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.post(format!("{}{path}", self.url())).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "{path} answered {status}: {v}");
        Ok(v)
    }

    /// GETs JSON as the admin.
    pub async fn get(&self, path: &str) -> Value {
        self.get_as(path, &self.admin_token)
            .await
            .expect("GET succeeds")
    }

    /// GETs JSON with a token.
    pub async fn get_as(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        let res = self
            .http
            .get(format!("{}{path}", self.url()))
            .bearer_auth(token)
            .send()
            .await?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "{path} answered {status}: {v}");
        Ok(v)
    }

    /// POSTs JSON as the admin.
    pub async fn admin(&self, path: &str, body: Value) -> Value {
        self.post_json(path, Some(&self.admin_token), body)
            .await
            .expect("admin request succeeds")
    }

    /// Creates a project.
    pub async fn project(&self, slug: &str) {
        self.admin(
            "/api/v1/admin/projects",
            json!({"slug": slug, "name": slug}),
        )
        .await;
    }

    /// Creates a user with a role in a project.
    pub async fn user(&self, username: &str, project: &str, role: &str) {
        self.admin(
            "/api/v1/admin/users",
            json!({"username": username, "password": format!("{username}-password")}),
        )
        .await;
        self.admin(
            &format!("/api/v1/admin/projects/{project}/members"),
            json!({"username": username, "role": role}),
        )
        .await;
    }

    /// A fresh enrolment code for a user.
    pub async fn enrolment_code(&self, username: &str) -> String {
        self.admin("/api/v1/admin/enrolments", json!({"username": username}))
            .await["code"]
            .as_str()
            .expect("code")
            .to_owned()
    }

    /// Enrols a new device for `username` with its own store in the test directory.
    pub async fn device(&self, username: &str, name: &str) -> bothy_device::Device {
        let path = self.db.dir.path().join(format!("{name}.db"));
        let device = bothy_device::Device::open(&path)
            .await
            .expect("device store opens");
        let code = self.enrolment_code(username).await;
        device
            .enrol(&self.url(), &code, name)
            .await
            .expect("device enrols");
        device
    }

    /// Enrols a device through the API without a local store: returns (device token, actor).
    /// For scenarios that craft protocol messages by hand.
    pub async fn raw_device(
        &self,
        username: &str,
    ) -> (String, bothy_sync_core::automerge::ActorId) {
        let code = self.enrolment_code(username).await;
        let v = self
            .post_json(
                "/api/v1/devices/enrol",
                None,
                json!({"code": code, "name": "raw"}),
            )
            .await
            .expect("enrols");
        let actor = v["actor"].as_str().expect("actor");
        (
            v["device_token"].as_str().expect("token").to_owned(),
            bothy_sync_core::automerge::ActorId::try_from(actor).expect("hex actor"),
        )
    }

    /// Posts raw bytes to the sync endpoint: (status, body bytes).
    pub async fn post_sync(&self, token: &str, body: Vec<u8>) -> (reqwest::StatusCode, Vec<u8>) {
        let res = self
            .http
            .post(format!("{}/api/v1/sync", self.url()))
            .bearer_auth(token)
            .header("content-type", bothy_sync_core::protocol::MEDIA_TYPE)
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = res.status();
        (status, res.bytes().await.expect("body").to_vec())
    }

    /// Sends a sync request and decodes the response (panics on an error status).
    pub async fn sync_raw(
        &self,
        token: &str,
        request: &bothy_sync_core::protocol::SyncRequest,
    ) -> bothy_sync_core::protocol::SyncResponse {
        let (status, body) = self
            .post_sync(token, bothy_sync_core::protocol::encode(request))
            .await;
        assert!(
            status.is_success(),
            "sync answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        bothy_sync_core::protocol::decode(&body)
            .expect("response decodes")
            .0
    }

    /// Whether the server still answers its health check.
    pub async fn healthy(&self) -> bool {
        match self
            .http
            .get(format!("{}/healthz", self.url()))
            .send()
            .await
        {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }

    /// Stops the server and drops the database.
    pub async fn finish(mut self) {
        self.stop().await;
        self.db.drop_database().await;
    }
}

/// Declares a scenario `async fn name(backend: Backend)` as two tests, `sqlite` and `postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await;
                }
            }
        )*
    };
}
