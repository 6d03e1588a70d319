//! Server configuration: command-line flags, environment variables (`BOTHY_*`) and an optional
//! TOML file, in that order of precedence, with defaults that need no set-up at all: an
//! embedded SQLite database in `./data`, listening on 127.0.0.1:8080.
//!
//! Secrets (the JWT signing key, the first admin's password) never appear in `Debug` output.

use clap::Args;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A secret string that prints as `[redacted]`.
#[derive(Clone, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Flags and environment variables of `bothy-server serve`.
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (keys as in the flags, with underscores).
    #[arg(long, global = true, env = "BOTHY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, global = true, env = "BOTHY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the embedded database and other state.
    #[arg(long, global = true, env = "BOTHY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: `sqlite://FILE` or `postgres://...`. Default: SQLite in the data directory.
    #[arg(long, global = true, env = "BOTHY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Key for signing access tokens (at least 32 characters). Default: generated once and kept
    /// in the database, so every server process on one database agrees.
    #[arg(long, global = true, env = "BOTHY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Password for the first admin user, created on first start. Default: a random one-time
    /// password, printed once.
    #[arg(
        long,
        global = true,
        env = "BOTHY_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, global = true, env = "BOTHY_ACCESS_TOKEN_TTL")]
    pub access_token_ttl: Option<i64>,
    /// Largest accepted sync request body, in bytes.
    #[arg(long, global = true, env = "BOTHY_MAX_SYNC_BYTES")]
    pub max_sync_bytes: Option<usize>,
    /// Log format: `pretty` or `json`.
    #[arg(long, global = true, env = "BOTHY_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Failed logins allowed per account within the login window; more are refused (429).
    #[arg(long, global = true, env = "BOTHY_LOGIN_MAX_FAILURES_PER_ACCOUNT")]
    pub login_max_failures_per_account: Option<u32>,
    /// Failed logins allowed per client address within the login window.
    #[arg(long, global = true, env = "BOTHY_LOGIN_MAX_FAILURES_PER_ADDRESS")]
    pub login_max_failures_per_address: Option<u32>,
    /// The login window, in seconds: failures older than this no longer count.
    #[arg(long, global = true, env = "BOTHY_LOGIN_FAILURE_WINDOW")]
    pub login_failure_window: Option<i64>,
    /// Failed token refreshes allowed per client address within the login window.
    #[arg(long, global = true, env = "BOTHY_REFRESH_MAX_FAILURES_PER_ADDRESS")]
    pub refresh_max_failures_per_address: Option<u32>,
    /// Failed enrolments (bad codes) allowed per client address within the login window.
    #[arg(long, global = true, env = "BOTHY_ENROL_MAX_FAILURES_PER_ADDRESS")]
    pub enrol_max_failures_per_address: Option<u32>,
    /// Take the client address from the `X-Forwarded-For` header (only behind a reverse proxy
    /// that sets it; otherwise clients could claim any address).
    #[arg(long, global = true, env = "BOTHY_TRUST_PROXY")]
    pub trust_proxy: Option<bool>,
    /// Reliable-change threshold for WEMWBS raw scores, in points (reports and exports; a
    /// request may override it).
    #[arg(long, global = true, env = "BOTHY_WEMWBS_THRESHOLD")]
    pub wemwbs_threshold: Option<f64>,
    /// Reliable-change threshold for SWEMWBS metric scores, in points.
    #[arg(long, global = true, env = "BOTHY_SWEMWBS_THRESHOLD")]
    pub swemwbs_threshold: Option<f64>,
    /// Most refused pushes one device may have waiting in quarantine for review; more are
    /// refused and not kept.
    #[arg(long, global = true, env = "BOTHY_QUARANTINE_MAX_ENTRIES_PER_DEVICE")]
    pub quarantine_max_entries_per_device: Option<u32>,
    /// Most bytes (as stored, compressed) of refused pushes one device may have waiting in
    /// quarantine for review.
    #[arg(long, global = true, env = "BOTHY_QUARANTINE_MAX_BYTES_PER_DEVICE")]
    pub quarantine_max_bytes_per_device: Option<u64>,
    /// Most records in one answer of a new device's bootstrap; the device asks again for the
    /// rest.
    #[arg(long, global = true, env = "BOTHY_BOOTSTRAP_PAGE_RECORDS")]
    pub bootstrap_page_records: Option<u32>,
    /// Seconds a client has to send a request's headers (also how long a new connection may
    /// stay silent).
    #[arg(long, global = true, env = "BOTHY_HEADER_TIMEOUT")]
    pub header_timeout: Option<u64>,
    /// Seconds a client has to send a request's whole body; slower ones get `408`.
    #[arg(long, global = true, env = "BOTHY_BODY_TIMEOUT")]
    pub body_timeout: Option<u64>,
    /// Seconds a connection may stay open with no request in flight, or stall a response.
    #[arg(long, global = true, env = "BOTHY_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// Connections served at once; more are answered `503` and closed.
    #[arg(long, global = true, env = "BOTHY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Syncs handled at once; more wait for a turn. Default: twice the database pool's
    /// connections.
    #[arg(long, global = true, env = "BOTHY_MAX_SYNCS_IN_FLIGHT")]
    pub max_syncs_in_flight: Option<usize>,
    /// Seconds a sync waits for a turn before it is answered `503 busy` with `Retry-After`
    /// (0: answer at once).
    #[arg(long, global = true, env = "BOTHY_SYNC_QUEUE_TIMEOUT")]
    pub sync_queue_timeout: Option<u64>,
    /// Bearer token that `GET /metrics` requires (at least 16 characters). Unset, the
    /// endpoint answers 404.
    #[arg(
        long,
        global = true,
        env = "BOTHY_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    jwt_secret: Option<String>,
    admin_password: Option<String>,
    access_token_ttl: Option<i64>,
    max_sync_bytes: Option<usize>,
    log_format: Option<String>,
    login_max_failures_per_account: Option<u32>,
    login_max_failures_per_address: Option<u32>,
    login_failure_window: Option<i64>,
    refresh_max_failures_per_address: Option<u32>,
    enrol_max_failures_per_address: Option<u32>,
    trust_proxy: Option<bool>,
    wemwbs_threshold: Option<f64>,
    swemwbs_threshold: Option<f64>,
    quarantine_max_entries_per_device: Option<u32>,
    quarantine_max_bytes_per_device: Option<u64>,
    bootstrap_page_records: Option<u32>,
    header_timeout: Option<u64>,
    body_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    max_syncs_in_flight: Option<usize>,
    sync_queue_timeout: Option<u64>,
    metrics_token: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database_url: String,
    /// Explicit JWT secret, if configured.
    pub jwt_secret: Option<Secret>,
    /// First admin's password, if configured.
    pub admin_password: Option<Secret>,
    /// Access token lifetime (seconds).
    pub access_token_ttl: i64,
    /// Refresh token lifetime (seconds).
    pub refresh_token_ttl: i64,
    /// Sync body limit (bytes).
    pub max_sync_bytes: usize,
    /// `pretty` or `json`.
    pub log_format: String,
    /// Failed logins allowed per account within the window (default 10).
    pub login_max_failures_per_account: u32,
    /// Failed logins allowed per client address within the window (default 50).
    pub login_max_failures_per_address: u32,
    /// The login failure window, in seconds (default 900); refresh and enrolment failures
    /// are counted over the same window.
    pub login_failure_window: i64,
    /// Failed token refreshes allowed per client address within the window (default 50).
    pub refresh_max_failures_per_address: u32,
    /// Failed enrolments (unknown, expired or used codes) allowed per client address within
    /// the window (default 20).
    pub enrol_max_failures_per_address: u32,
    /// Whether to trust `X-Forwarded-For` for the client address (default off).
    pub trust_proxy: bool,
    /// Reliable-change threshold for WEMWBS (default 3 points, the scale authors' meaningful
    /// change; reports also show NHS Digital's 9).
    pub wemwbs_threshold: f64,
    /// Reliable-change threshold for SWEMWBS metric scores (default 3 points, as NHS Digital).
    pub swemwbs_threshold: f64,
    /// Most refused pushes of one device waiting in quarantine (default 1000).
    pub quarantine_max_entries_per_device: u32,
    /// Most bytes, stored compressed, of one device's refused pushes waiting in quarantine
    /// (default 16 MiB).
    pub quarantine_max_bytes_per_device: u64,
    /// Most records in one answer of a bootstrap (default 20,000).
    pub bootstrap_page_records: u32,
    /// Seconds allowed for a request's headers (default 15).
    pub header_timeout: u64,
    /// Seconds allowed for a request's whole body (default 60).
    pub body_timeout: u64,
    /// Seconds a connection may be idle or stall a response (default 60).
    pub idle_timeout: u64,
    /// Connections served at once (default 512).
    pub max_connections: usize,
    /// Syncs handled at once (default: twice the database pool's connections).
    pub max_syncs_in_flight: Option<usize>,
    /// Seconds a sync waits for a turn before `503 busy` (default 5).
    pub sync_queue_timeout: u64,
    /// The bearer token `GET /metrics` requires; without one the endpoint is off (404).
    pub metrics_token: Option<Secret>,
}

impl Config {
    /// Defaults for a database URL (used by tests and embedding).
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Config {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir: PathBuf::from("data"),
            database_url: database_url.into(),
            jwt_secret: None,
            admin_password: None,
            access_token_ttl: 900,
            refresh_token_ttl: 30 * 24 * 3600,
            max_sync_bytes: 64 * 1024 * 1024,
            log_format: "pretty".into(),
            login_max_failures_per_account: 10,
            login_max_failures_per_address: 50,
            login_failure_window: 900,
            refresh_max_failures_per_address: 50,
            enrol_max_failures_per_address: 20,
            trust_proxy: false,
            wemwbs_threshold: 3.0,
            swemwbs_threshold: 3.0,
            quarantine_max_entries_per_device: 1000,
            quarantine_max_bytes_per_device: 16 * 1024 * 1024,
            bootstrap_page_records: 20_000,
            header_timeout: 15,
            body_timeout: 60,
            idle_timeout: 60,
            max_connections: 512,
            max_syncs_in_flight: None,
            sync_queue_timeout: 5,
            metrics_token: None,
        }
    }

    /// Resolves flags/env over the file over defaults.
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("cannot read config file {}: {e}", path.display())
                })?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = args
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| sqlite_url(&data_dir.join("bothy.db")));
        let jwt_secret = args
            .jwt_secret
            .or(file.jwt_secret)
            .filter(|s| !s.is_empty())
            .map(Secret);
        if let Some(s) = &jwt_secret
            && s.expose().len() < 32
        {
            anyhow::bail!("BOTHY_JWT_SECRET must be at least 32 characters long");
        }
        let mut cfg = Config::for_database(database_url);
        cfg.listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid address"));
        cfg.data_dir = data_dir;
        cfg.jwt_secret = jwt_secret;
        cfg.admin_password = args
            .admin_password
            .or(file.admin_password)
            .filter(|p| !p.is_empty())
            .map(Secret);
        if let Some(ttl) = args.access_token_ttl.or(file.access_token_ttl) {
            anyhow::ensure!(
                (60..=86_400).contains(&ttl),
                "access token lifetime must be 60 to 86400 seconds"
            );
            cfg.access_token_ttl = ttl;
        }
        if let Some(n) = args.max_sync_bytes.or(file.max_sync_bytes) {
            anyhow::ensure!(
                (4096..=1 << 30).contains(&n),
                "max_sync_bytes must be 4096 to 1073741824 bytes"
            );
            cfg.max_sync_bytes = n;
        }
        if let Some(f) = args.log_format.or(file.log_format) {
            anyhow::ensure!(
                f == "pretty" || f == "json",
                "log format must be `pretty` or `json`"
            );
            cfg.log_format = f;
        }
        if let Some(n) = args
            .login_max_failures_per_account
            .or(file.login_max_failures_per_account)
        {
            anyhow::ensure!(n >= 1, "login_max_failures_per_account must be at least 1");
            cfg.login_max_failures_per_account = n;
        }
        if let Some(n) = args
            .login_max_failures_per_address
            .or(file.login_max_failures_per_address)
        {
            anyhow::ensure!(n >= 1, "login_max_failures_per_address must be at least 1");
            cfg.login_max_failures_per_address = n;
        }
        if let Some(w) = args.login_failure_window.or(file.login_failure_window) {
            anyhow::ensure!(
                (1..=7 * 86_400).contains(&w),
                "login_failure_window must be 1 to 604800 seconds"
            );
            cfg.login_failure_window = w;
        }
        for (name, arg, from_file, slot) in [
            (
                "refresh_max_failures_per_address",
                args.refresh_max_failures_per_address,
                file.refresh_max_failures_per_address,
                &mut cfg.refresh_max_failures_per_address,
            ),
            (
                "enrol_max_failures_per_address",
                args.enrol_max_failures_per_address,
                file.enrol_max_failures_per_address,
                &mut cfg.enrol_max_failures_per_address,
            ),
        ] {
            if let Some(n) = arg.or(from_file) {
                anyhow::ensure!(n >= 1, "{name} must be at least 1");
                *slot = n;
            }
        }
        if let Some(t) = args.trust_proxy.or(file.trust_proxy) {
            cfg.trust_proxy = t;
        }
        if let Some(n) = args
            .quarantine_max_entries_per_device
            .or(file.quarantine_max_entries_per_device)
        {
            anyhow::ensure!(
                n >= 1,
                "quarantine_max_entries_per_device must be at least 1"
            );
            cfg.quarantine_max_entries_per_device = n;
        }
        if let Some(n) = args
            .quarantine_max_bytes_per_device
            .or(file.quarantine_max_bytes_per_device)
        {
            anyhow::ensure!(
                n >= 64 * 1024,
                "quarantine_max_bytes_per_device must be at least 65536 bytes"
            );
            cfg.quarantine_max_bytes_per_device = n;
        }
        if let Some(n) = args.bootstrap_page_records.or(file.bootstrap_page_records) {
            anyhow::ensure!(n >= 1, "bootstrap_page_records must be at least 1");
            cfg.bootstrap_page_records = n;
        }
        for (name, arg, from_file, slot) in [
            (
                "wemwbs_threshold",
                args.wemwbs_threshold,
                file.wemwbs_threshold,
                &mut cfg.wemwbs_threshold,
            ),
            (
                "swemwbs_threshold",
                args.swemwbs_threshold,
                file.swemwbs_threshold,
                &mut cfg.swemwbs_threshold,
            ),
        ] {
            if let Some(t) = arg.or(from_file) {
                anyhow::ensure!(
                    t.is_finite() && t > 0.0 && t <= 56.0,
                    "{name} must be a number of points above 0 and at most 56"
                );
                *slot = t;
            }
        }
        for (name, arg, from_file, slot) in [
            (
                "header_timeout",
                args.header_timeout,
                file.header_timeout,
                &mut cfg.header_timeout,
            ),
            (
                "body_timeout",
                args.body_timeout,
                file.body_timeout,
                &mut cfg.body_timeout,
            ),
            (
                "idle_timeout",
                args.idle_timeout,
                file.idle_timeout,
                &mut cfg.idle_timeout,
            ),
        ] {
            if let Some(t) = arg.or(from_file) {
                anyhow::ensure!((1..=3600).contains(&t), "{name} must be 1 to 3600 seconds");
                *slot = t;
            }
        }
        if let Some(n) = args.max_connections.or(file.max_connections) {
            anyhow::ensure!(
                (1..=100_000).contains(&n),
                "max_connections must be 1 to 100000"
            );
            cfg.max_connections = n;
        }
        if let Some(n) = args.max_syncs_in_flight.or(file.max_syncs_in_flight) {
            anyhow::ensure!(
                (1..=100_000).contains(&n),
                "max_syncs_in_flight must be 1 to 100000"
            );
            cfg.max_syncs_in_flight = Some(n);
        }
        if let Some(t) = args.sync_queue_timeout.or(file.sync_queue_timeout) {
            anyhow::ensure!(t <= 600, "sync_queue_timeout must be 0 to 600 seconds");
            cfg.sync_queue_timeout = t;
        }
        cfg.metrics_token = args
            .metrics_token
            .or(file.metrics_token)
            .filter(|t| !t.is_empty())
            .map(Secret);
        if let Some(t) = &cfg.metrics_token
            && t.expose().len() < 16
        {
            anyhow::bail!("BOTHY_METRICS_TOKEN must be at least 16 characters long");
        }
        Ok(cfg)
    }
}

/// The SQLite URL of a file, created if missing.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bothy.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\ndata_dir = \"/srv/bothy\"\naccess_token_ttl = 600\nlog_format = \"json\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            listen: Some("0.0.0.0:8081".parse().unwrap()),
            ..ServeArgs::default()
        };
        let cfg = Config::resolve(args).unwrap();
        assert_eq!(cfg.listen.to_string(), "0.0.0.0:8081");
        assert_eq!(cfg.data_dir, PathBuf::from("/srv/bothy"));
        assert_eq!(cfg.database_url, "sqlite:///srv/bothy/bothy.db?mode=rwc");
        assert_eq!(cfg.access_token_ttl, 600);
        assert_eq!(cfg.log_format, "json");

        let defaults = Config::resolve(ServeArgs::default()).unwrap();
        assert_eq!(defaults.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(defaults.database_url, "sqlite://data/bothy.db?mode=rwc");
    }

    #[test]
    fn the_example_file_parses_and_login_limits_resolve() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../ops/config.example.toml");
        let cfg = Config::resolve(ServeArgs {
            config: Some(PathBuf::from(example)),
            login_max_failures_per_address: Some(5),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(cfg.login_max_failures_per_account, 10);
        assert_eq!(cfg.login_max_failures_per_address, 5);
        assert_eq!(cfg.login_failure_window, 900);
        assert!(!cfg.trust_proxy);
        assert_eq!(cfg.quarantine_max_entries_per_device, 1000);
        assert_eq!(cfg.quarantine_max_bytes_per_device, 16 * 1024 * 1024);
        let err = Config::resolve(ServeArgs {
            quarantine_max_bytes_per_device: Some(10),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("quarantine_max_bytes_per_device"), "{err}");
        let err = Config::resolve(ServeArgs {
            login_max_failures_per_account: Some(0),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("login_max_failures_per_account"), "{err}");
        assert_eq!(cfg.refresh_max_failures_per_address, 50);
        assert_eq!(cfg.enrol_max_failures_per_address, 20);
        let cfg = Config::resolve(ServeArgs {
            refresh_max_failures_per_address: Some(7),
            enrol_max_failures_per_address: Some(3),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(
            (
                cfg.refresh_max_failures_per_address,
                cfg.enrol_max_failures_per_address
            ),
            (7, 3)
        );
        let err = Config::resolve(ServeArgs {
            enrol_max_failures_per_address: Some(0),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("enrol_max_failures_per_address"), "{err}");
    }

    #[test]
    fn sync_admission_and_the_metrics_token_resolve() {
        let cfg = Config::resolve(ServeArgs::default()).unwrap();
        assert_eq!(cfg.max_syncs_in_flight, None);
        assert_eq!(cfg.sync_queue_timeout, 5);
        assert!(cfg.metrics_token.is_none());
        let cfg = Config::resolve(ServeArgs {
            max_syncs_in_flight: Some(4),
            sync_queue_timeout: Some(0),
            metrics_token: Some("sixteen-characters".into()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(cfg.max_syncs_in_flight, Some(4));
        assert_eq!(cfg.sync_queue_timeout, 0);
        assert_eq!(
            cfg.metrics_token.as_ref().map(Secret::expose),
            Some("sixteen-characters")
        );
        assert!(!format!("{cfg:?}").contains("sixteen-characters"));
        for (args, name) in [
            (
                ServeArgs {
                    max_syncs_in_flight: Some(0),
                    ..ServeArgs::default()
                },
                "max_syncs_in_flight",
            ),
            (
                ServeArgs {
                    sync_queue_timeout: Some(601),
                    ..ServeArgs::default()
                },
                "sync_queue_timeout",
            ),
            (
                ServeArgs {
                    metrics_token: Some("short".into()),
                    ..ServeArgs::default()
                },
                "BOTHY_METRICS_TOKEN",
            ),
        ] {
            let err = Config::resolve(args).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bothy.toml");
        std::fs::write(&file, "listne = \"x\"\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("listne"), "{err}");
        let err = Config::resolve(ServeArgs {
            jwt_secret: Some("short".into()),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("BOTHY_JWT_SECRET"), "{err}");
        for bad in [0, 4095, (1 << 30) + 1] {
            let err = Config::resolve(ServeArgs {
                max_sync_bytes: Some(bad),
                ..ServeArgs::default()
            })
            .unwrap_err()
            .to_string();
            assert!(err.contains("max_sync_bytes"), "{bad}: {err}");
        }
        // An empty secret or admin password means "not set", not "empty".
        let cfg = Config::resolve(ServeArgs {
            jwt_secret: Some(String::new()),
            admin_password: Some(String::new()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert!(cfg.jwt_secret.is_none() && cfg.admin_password.is_none());
        // Secrets never print.
        let shown = format!("{:?}", Secret::new("hunter2-hunter2"));
        assert!(!shown.contains("hunter2"));
    }
}
