//! Shared helpers for Bothy's end-to-end scenarios: a real server on port 0 over a fresh
//! database per test (SQLite in a temporary directory, or a new PostgreSQL database), an admin
//! session, and enrolled devices with their own local stores.
//!
//! PostgreSQL scenarios need `BOTHY_TEST_POSTGRES_URL` (a URL of a server where the user may
//! create databases). Without it they are skipped with a printed reason, unless
//! `BOTHY_REQUIRE_POSTGRES=1`, which turns the skip into a failure (CI sets it).

pub mod disk;

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

/// Prints, where the person running the tests sees it, that the running test is skipped and
/// why: `skipped: <test name>: <reason>`. The test harness keeps what `eprintln!` prints in a
/// passing test to itself and never shows it, so this writes to the process's standard error
/// directly, which it does not capture.
pub fn print_skip(reason: &str) {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .map(|n| format!("{n}: "))
        .unwrap_or_default();
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test}{reason}");
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
            print_skip(
                "PostgreSQL scenario (set BOTHY_TEST_POSTGRES_URL=postgres://user@host/db to run \
                 it)",
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
                    print_skip(&format!(
                        "PostgreSQL scenario: cannot create a database at {admin}: {e}"
                    ));
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

    /// Runs one SQL query on the database (in the dialect SQLite and PostgreSQL share, `$1`
    /// placeholders, text parameters) and returns its rows as JSON objects keyed by column
    /// name: integers, floats, text and booleans as such, NULL as `null`.
    pub async fn sql(&self, query: &str, binds: &[&str]) -> Vec<serde_json::Map<String, Value>> {
        use sqlx::{Column, Row};
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url)
            .await
            .expect("test database connects");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(query.to_owned()));
        for b in binds {
            q = q.bind(*b);
        }
        let rows = q
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("query {query:?} failed: {e}"));
        let _ = conn.close().await;
        rows.iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .map(|c| (c.name().to_owned(), any_value(row, c.ordinal())))
                    .collect()
            })
            .collect()
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

/// An admin's HTTP session with a test server, shared by [`Harness`] and [`ProcessServer`]
/// (both dereference to it).
pub struct Admin {
    /// An HTTP client (no idle connections kept: a server may close one after refusing an
    /// oversized body, or be killed).
    pub http: reqwest::Client,
    /// The server's base URL (stable across restarts).
    pub base: String,
    /// The admin's access token.
    pub admin_token: String,
    /// Where device stores go.
    pub dir: std::path::PathBuf,
}

impl Admin {
    fn new(base: String, dir: &std::path::Path, timeout: Option<std::time::Duration>) -> Admin {
        let mut http = reqwest::Client::builder().pool_max_idle_per_host(0);
        if let Some(t) = timeout {
            http = http.timeout(t);
        }
        Admin {
            http: http.build().expect("HTTP client"),
            base,
            admin_token: String::new(),
            dir: dir.to_path_buf(),
        }
    }

    /// Logs the first admin in and keeps the token.
    async fn log_admin_in(&mut self) {
        self.admin_token = self
            .login("admin", ADMIN_PASSWORD)
            .await
            .expect("admin logs in");
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
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
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
            .get(format!("{}{path}", self.base))
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
        self.device_at(username, name, &self.base).await
    }

    /// Enrols a new device for `username` with its own store in the test directory, talking
    /// to the server at `server` (this server's URL, or a proxy in front of it).
    pub async fn device_at(
        &self,
        username: &str,
        name: &str,
        server: &str,
    ) -> bothy_device::Device {
        let path = self.dir.join(format!("{name}.db"));
        let device = bothy_device::Device::open(&path)
            .await
            .expect("device store opens");
        let code = self.enrolment_code(username).await;
        device
            .enrol(server, &code, name)
            .await
            .expect("device enrols");
        device
    }
}

impl std::ops::Deref for Harness {
    type Target = Admin;
    fn deref(&self) -> &Admin {
        &self.api
    }
}

impl std::ops::Deref for ProcessServer {
    type Target = Admin;
    fn deref(&self) -> &Admin {
        &self.api
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
    /// The admin's session.
    pub api: Admin,
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
        let api = Admin::new(format!("http://{addr}"), db.dir.path(), None);
        let mut h = Harness {
            db,
            server: Some(server),
            addr,
            api,
        };
        h.api.log_admin_in().await;
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

/// A server running as a separate operating-system process, so a scenario can kill it with
/// SIGKILL (no graceful shutdown, no destructors) and start it again on the same database and
/// port. The process is killed when this is dropped, so a failing test leaves none behind.
pub struct ProcessServer {
    /// The database.
    pub db: TestDb,
    /// Where it listens (the same across restarts, so devices keep their URL).
    pub addr: SocketAddr,
    /// The admin's session (the signing key is in the database, so it survives restarts).
    pub api: Admin,
    bin: std::path::PathBuf,
    log: std::path::PathBuf,
    child: Option<tokio::process::Child>,
}

/// A free TCP port on 127.0.0.1 (bound, read and released).
pub fn free_local_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address")
}

impl ProcessServer {
    /// Starts the server binary `bin` on a fresh database, waits until it is healthy and logs
    /// the admin in; `None` if the backend is skipped.
    pub async fn start(backend: Backend, bin: &std::path::Path) -> Option<ProcessServer> {
        let db = TestDb::new(backend).await?;
        let log = db.dir.path().join("server.log");
        let addr = free_local_addr();
        let api = Admin::new(
            format!("http://{addr}"),
            db.dir.path(),
            Some(std::time::Duration::from_secs(30)),
        );
        let mut s = ProcessServer {
            addr,
            log,
            db,
            api,
            bin: bin.to_path_buf(),
            child: None,
        };
        s.restart().await;
        s.api.log_admin_in().await;
        Some(s)
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id, while it runs (to read its memory use from `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the process with SIGKILL and reaps it. Does nothing if it is not running.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// The end of the server's log (stdout and stderr of every start), for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn spawn(&self) -> tokio::process::Child {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log file");
        let err = out.try_clone().expect("server log file");
        tokio::process::Command::new(&self.bin)
            .env("BOTHY_DATABASE_URL", &self.db.url)
            .env("BOTHY_LISTEN", self.addr.to_string())
            .env("BOTHY_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("BOTHY_DATA_DIR", self.db.dir.path())
            .env("RUST_LOG", "warn,bothy_server=info")
            .env_remove("BOTHY_CONFIG")
            .env_remove("BOTHY_JWT_SECRET")
            .env_remove("BOTHY_MAX_SYNC_BYTES")
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("server process starts")
    }

    /// Starts the process (killing any running one first) on the same database and address,
    /// and waits, for a bounded time, until `GET /healthz` answers 200. A start that fails
    /// (the port not yet free, say) is retried a few times.
    pub async fn restart(&mut self) {
        self.kill().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut child = self.spawn();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the server process keeps exiting ({status}); its log:\n{}",
                    self.log_tail()
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                child = self.spawn();
                continue;
            }
            let healthy = self
                .http
                .get(format!("{}/healthz", self.url()))
                .timeout(std::time::Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                self.child = Some(child);
                return;
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.start_kill();
                let _ = child.wait().await;
                panic!(
                    "the server process did not become healthy in 30 s; its log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Kills the server and drops the database.
    pub async fn finish(mut self) {
        self.kill().await;
        self.db.drop_database().await;
    }
}

// ---- helpers for multi-device scenarios: SQL on the test database, devices enrolled at a
// ---- given address, a second server on the same database, a counting proxy ----

impl Harness {
    /// Runs one SQL query on the test database ([`TestDb::sql`]).
    pub async fn sql(&self, query: &str, binds: &[&str]) -> Vec<serde_json::Map<String, Value>> {
        self.db.sql(query, binds).await
    }

    /// Starts another server process's worth of state (its own pool, router and listener on a
    /// new port) over this harness's database: several servers sharing one database.
    pub async fn start_replica(&self) -> RunningServer {
        start(test_config(&self.db.url, "127.0.0.1:0".parse().unwrap()))
            .await
            .expect("second server starts")
    }

    /// GETs JSON as the admin from the server at `base` (e.g. a replica's URL).
    pub async fn get_at(&self, base: &str, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("GET sent");
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{base}{path} answered {status}: {v}");
        v
    }

    /// A record as the server at `base` shows it (`GET /api/v1/projects/{project}/records/{id}`).
    pub async fn record_at(&self, base: &str, project: &str, id: uuid::Uuid) -> Value {
        self.get_at(base, &format!("/api/v1/projects/{project}/records/{id}"))
            .await
    }

    /// A record as this harness's server shows it.
    pub async fn record(&self, project: &str, id: uuid::Uuid) -> Value {
        self.record_at(&self.url(), project, id).await
    }
}

/// Field days on `device`, as researchers record them: a SWEMWBS baseline for each of the first
/// `responding` of `people` (dated `{month}-01`), then for each of `days` days a walk at `site`
/// (starting `{month}-{day}`) with two of `people` present and a story about one of them.
/// Returns the ids of the records made (`people` needs at least `2 * days` participants).
pub async fn field_days(
    device: &bothy_device::Device,
    people: &[uuid::Uuid],
    responding: usize,
    days: usize,
    site: &str,
    month: &str,
) -> std::collections::BTreeSet<uuid::Uuid> {
    use bothy_device::{AttendanceMark, WellbeingForm};
    use bothy_sync_core::{FieldValue, Instrument};
    let mut made = std::collections::BTreeSet::new();
    let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .expect("month is YYYY-MM");
    for (i, p) in people.iter().take(responding).enumerate() {
        let form = WellbeingForm {
            participant: *p,
            instrument: Instrument::Swemwbs.to_string(),
            timepoint: "baseline".into(),
            date: first,
            session: None,
            items: (1..=7u8)
                .map(|n| (n, 1 + (i as i64 + n as i64) % 5))
                .collect(),
        };
        made.insert(device.record_wellbeing(&form).await.unwrap());
    }
    for day in 0..days {
        let start = format!("{month}-{:02}T10:00:00Z", day + 1);
        let fields = [
            ("site", site.into()),
            ("activity", "health-walk".into()),
            ("activity_type", "walking".into()),
            ("start", start.into()),
        ];
        let session = device.create_session(None, &fields).await.unwrap();
        for p in &people[day * 2..day * 2 + 2] {
            device
                .mark_attendance(session, *p, AttendanceMark::Present)
                .await
                .unwrap();
        }
        made.insert(session);
        let story: [(&str, FieldValue); 4] = [
            ("title", format!("Walk {day}").into()),
            ("consent_scope", "project".into()),
            ("body", format!("We walked together on day {day}.").into()),
            ("participant", people[day].to_string().into()),
        ];
        made.insert(device.create_story(None, &story).await.unwrap());
    }
    made
}

/// A record's heads on a device, as sorted hex strings.
pub async fn device_heads(device: &bothy_device::Device, id: uuid::Uuid) -> Vec<String> {
    let mut heads: Vec<String> = device
        .heads(id)
        .await
        .expect("record is on the device")
        .iter()
        .map(ToString::to_string)
        .collect();
    heads.sort();
    heads
}

/// The `heads` of a record as the server's record API shows it, sorted.
pub fn server_heads(record: &Value) -> Vec<String> {
    let mut heads: Vec<String> = record["heads"]
        .as_array()
        .expect("record has heads")
        .iter()
        .map(|h| h.as_str().expect("hex head").to_owned())
        .collect();
    heads.sort();
    heads
}

fn any_value(row: &sqlx::any::AnyRow, i: usize) -> Value {
    use sqlx::Row;
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return v.map_or(Value::Null, |b| Value::from(format!("{} bytes", b.len())));
    }
    Value::Null
}

/// A TCP proxy between devices and a server that counts the sync requests passing through
/// (occurrences of `POST /api/v1/sync ` in what clients send) and the bytes each way. Its
/// upstream can be switched: each new connection goes to the upstream of the moment, so a
/// device enrolled through the proxy can be sent to another server sharing the database. Given
/// several upstreams it takes them in turn, one per connection, like a load balancer.
pub struct SyncProxy {
    addr: SocketAddr,
    upstream: std::sync::Arc<std::sync::Mutex<Upstreams>>,
    syncs: std::sync::Arc<std::sync::atomic::AtomicU64>,
    up: std::sync::Arc<std::sync::atomic::AtomicU64>,
    down: std::sync::Arc<std::sync::atomic::AtomicU64>,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

const SYNC_REQUEST_LINE: &[u8] = b"POST /api/v1/sync ";

/// Where a proxy sends new connections: in turn, starting at `next`.
struct Upstreams {
    addrs: Vec<SocketAddr>,
    next: usize,
}

impl Upstreams {
    fn take(&mut self) -> SocketAddr {
        let addr = self.addrs[self.next % self.addrs.len()];
        self.next = (self.next + 1) % self.addrs.len();
        addr
    }
}

impl SyncProxy {
    /// Starts a proxy on a free local port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> SyncProxy {
        use std::sync::Arc;
        use std::sync::atomic::AtomicU64;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let upstream = Arc::new(std::sync::Mutex::new(Upstreams {
            addrs: vec![upstream],
            next: 0,
        }));
        let syncs = Arc::new(AtomicU64::new(0));
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (target, s, u, d) = (upstream.clone(), syncs.clone(), up.clone(), down.clone());
        let delay = delay_ms.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let to = target.lock().expect("upstream lock").take();
                let (s, u, d, delay) = (s.clone(), u.clone(), d.clone(), delay.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(to).await else {
                        return; // the client sees the connection close: server unreachable
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    tokio::join!(
                        pump(&mut cr, &mut sw, &u, Some(&s), None),
                        pump(&mut sr, &mut cw, &d, None, Some(&delay))
                    );
                });
            }
        });
        SyncProxy {
            addr,
            upstream,
            syncs,
            up,
            down,
            delay_ms,
            task,
        }
    }

    /// The URL to enrol devices at.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends new connections to `upstream` from now on.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        self.set_upstreams(&[upstream]);
    }

    /// Sends new connections to each of `upstreams` in turn from now on, starting with the
    /// first.
    pub fn set_upstreams(&self, upstreams: &[SocketAddr]) {
        assert!(!upstreams.is_empty(), "a proxy needs an upstream");
        *self.upstream.lock().expect("upstream lock") = Upstreams {
            addrs: upstreams.to_vec(),
            next: 0,
        };
    }

    /// Holds back everything servers send by `delay` from now on (a slow link, or an answer
    /// still on its way while the device carries on).
    pub fn set_response_delay(&self, delay: std::time::Duration) {
        self.delay_ms.store(
            delay.as_millis() as u64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// Sync requests seen so far.
    pub fn sync_requests(&self) -> u64 {
        self.syncs.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Bytes sent by clients and by servers so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.up.load(std::sync::atomic::Ordering::SeqCst),
            self.down.load(std::sync::atomic::Ordering::SeqCst),
        )
    }
}

impl Drop for SyncProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction of a connection, counting bytes and (client to server) sync request
/// lines, including one split between two reads; waits `delay_ms` before passing data on.
async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    bytes: &std::sync::atomic::AtomicU64,
    syncs: Option<&std::sync::atomic::AtomicU64>,
    delay_ms: Option<&std::sync::atomic::AtomicU64>,
) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        bytes.fetch_add(n as u64, Ordering::SeqCst);
        if let Some(counter) = syncs {
            carry.extend_from_slice(&buf[..n]);
            let found = carry
                .windows(SYNC_REQUEST_LINE.len())
                .filter(|w| *w == SYNC_REQUEST_LINE)
                .count();
            counter.fetch_add(found as u64, Ordering::SeqCst);
            let keep = carry.len().min(SYNC_REQUEST_LINE.len() - 1);
            carry.drain(..carry.len() - keep);
        }
        if let Some(ms) = delay_ms.map(|d| d.load(Ordering::SeqCst))
            && ms > 0
        {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

// ---- crafting protocol messages by hand ----

/// A push of a record's whole history, as raw changes (for scenarios that bypass the device).
pub fn push_history(
    id: uuid::Uuid,
    doc: &mut bothy_sync_core::RecordDoc,
) -> bothy_sync_core::protocol::RecordPush {
    bothy_sync_core::protocol::RecordPush {
        id,
        changes: doc
            .automerge()
            .get_changes(&[])
            .iter()
            .map(|c| serde_bytes::ByteBuf::from(c.raw_bytes().to_vec()))
            .collect(),
        document: None,
    }
}

/// A complete WEMWBS response (every item answered 3) authored by `actor`, made directly with
/// sync-core (no device), at device time `now`.
pub fn wemwbs_doc(
    actor: &bothy_sync_core::automerge::ActorId,
    project: &str,
    participant: &str,
    now: i64,
) -> bothy_sync_core::RecordDoc {
    use bothy_sync_core::FieldValue;
    let mut fields: Vec<(String, FieldValue)> = vec![
        ("participant".into(), participant.into()),
        ("instrument".into(), "WEMWBS".into()),
        ("timepoint".into(), "baseline".into()),
        ("date".into(), "2026-11-01".into()),
    ];
    for i in 1..=14 {
        fields.push((format!("items.{i}"), FieldValue::Int(3)));
    }
    let refs: Vec<(&str, FieldValue)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    bothy_sync_core::RecordDoc::create(
        actor.clone(),
        bothy_sync_core::RecordKind::Wellbeing,
        project,
        &refs,
        now,
    )
    .expect("a valid WEMWBS response")
}

/// The repository's root.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

/// `tests/browser/`, when a browser check can run here: `node`, that folder's `node_modules`
/// (`npm ci` there) and Debian's `/usr/bin/chromium`. Otherwise prints why `what` is skipped
/// and gives `None`, or panics when `BOTHY_REQUIRE_BROWSER=1` (CI sets it).
pub fn browser_dir(what: &str) -> Option<std::path::PathBuf> {
    let dir = workspace_root().join("tests/browser");
    let node = std::process::Command::new("node").arg("--version").output();
    let missing = if !node.is_ok_and(|o| o.status.success()) {
        Some("`node` is not installed".to_owned())
    } else if !dir.join("node_modules/playwright-core").is_dir() {
        Some(format!(
            "{} has no node_modules (run `npm ci` there)",
            dir.display()
        ))
    } else if !std::path::Path::new("/usr/bin/chromium").exists() {
        Some("/usr/bin/chromium is not installed (apt-get install chromium)".to_owned())
    } else {
        None
    };
    match missing {
        None => Some(dir),
        Some(reason) if std::env::var("BOTHY_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!("BOTHY_REQUIRE_BROWSER=1 but the {what} cannot run: {reason}")
        }
        Some(reason) => {
            print_skip(&format!(
                "{what}: {reason} (set BOTHY_REQUIRE_BROWSER=1 to fail instead)"
            ));
            None
        }
    }
}

/// An empty `target/artifacts/<name>/<backend>/` for screenshots a test saves.
pub fn artifacts_dir(name: &str, backend: Backend) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let backend = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let out = target.join("artifacts").join(name).join(backend);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("artifacts directory");
    out
}

/// Runs a `bothy-server` command (`bin`, the server binary) on a test database, as an operator
/// would on the server machine: (success, stdout, stderr). Settings that could leak in from the
/// environment are removed.
pub async fn server_command(
    bin: &std::path::Path,
    db: &TestDb,
    args: &[&str],
) -> (bool, String, String) {
    let out = tokio::process::Command::new(bin)
        .args(args)
        .env("BOTHY_DATABASE_URL", &db.url)
        .env("BOTHY_DATA_DIR", db.dir.path())
        .env("RUST_LOG", "warn")
        .env_remove("BOTHY_CONFIG")
        .env_remove("BOTHY_JWT_SECRET")
        .env_remove("BOTHY_ADMIN_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the server binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `node <script> <args…>` in `browser_dir` (see [`browser_dir`]), killed with the test.
fn browser_command(
    browser_dir: &std::path::Path,
    script: &str,
    args: &[&dyn AsRef<std::ffi::OsStr>],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(browser_dir.join(script))
        .args(args.iter().map(|a| a.as_ref()))
        .current_dir(browser_dir)
        .kill_on_drop(true);
    command
}

/// Runs the browser check `script` (a file of `tests/browser/`) with `args` and gives the JSON
/// summary it prints on stdout. What it says on stderr is printed; the test fails, naming the
/// script, if it does not finish within `timeout`, exits with a failure, or prints no JSON.
pub async fn run_browser_script(
    browser_dir: &std::path::Path,
    script: &str,
    args: &[&dyn AsRef<std::ffi::OsStr>],
    timeout: std::time::Duration,
) -> Value {
    let output = tokio::time::timeout(timeout, browser_command(browser_dir, script, args).output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {timeout:?}"))
        .unwrap_or_else(|e| panic!("`node {script}` could not run: {e}"));
    let said = String::from_utf8_lossy(&output.stderr);
    eprint!("{said}");
    assert!(
        output.status.success(),
        "{script} failed ({}): {said}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} printed no JSON summary ({e}): {stdout}"))
}

/// A browser check that takes turns with the test: it prints lines on stdout (a step reached,
/// then its JSON summary) and waits for a line on stdin to go on. Its stderr goes straight to
/// the test's.
pub struct BrowserScript {
    script: String,
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl BrowserScript {
    /// Starts `node <script> <args…>` in `browser_dir` with the environment `envs` added.
    pub fn spawn(
        browser_dir: &std::path::Path,
        script: &str,
        args: &[&dyn AsRef<std::ffi::OsStr>],
        envs: &[(&str, &str)],
    ) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut child = browser_command(browser_dir, script, args)
            .envs(envs.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("`node {script}` could not run: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let lines = tokio::io::BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        Self {
            script: script.to_owned(),
            child,
            stdin,
            lines,
        }
    }

    /// The next line the script prints, within `timeout`; `step` says what it was doing, for
    /// the message when it takes longer or stops early.
    pub async fn next_line(&mut self, timeout: std::time::Duration, step: &str) -> String {
        let script = &self.script;
        tokio::time::timeout(timeout, self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{script} did not finish {step} within {timeout:?}"))
            .unwrap_or_else(|e| panic!("reading what {script} prints: {e}"))
            .unwrap_or_else(|| {
                panic!("{script} stopped before finishing {step} (its messages are above)")
            })
    }

    /// The next line the script prints, within `timeout`, as JSON (its summary).
    pub async fn next_json(&mut self, timeout: std::time::Duration, step: &str) -> Value {
        let line = self.next_line(timeout, step).await;
        serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("{} printed no JSON after {step} ({e}): {line}", self.script)
        })
    }

    /// Tells the script to go on: a line on its stdin.
    pub async fn go_on(&mut self) {
        use tokio::io::AsyncWriteExt;
        self.stdin.write_all(b"go\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Waits for the script to exit; fails, naming it and `summary`, unless it succeeded.
    pub async fn finish(mut self, summary: &Value) {
        let status = self.child.wait().await.unwrap();
        assert!(
            status.success(),
            "{} failed ({status}): {summary}",
            self.script
        );
    }
}
