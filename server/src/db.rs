//! The database handle: one way to talk to both SQLite (the embedded default) and PostgreSQL.
//!
//! We use sqlx's `Any` driver with one set of SQL statements written in the dialect both
//! databases share (`$1` placeholders, `ON CONFLICT`, `RETURNING`), and one migrations folder
//! per backend, embedded in the binary and run at start-up. The few places where the backends
//! differ (how a writing transaction begins, per-record locks) are methods here.
//!
//! Writers are serialised per record: on PostgreSQL by transaction-scoped advisory locks taken
//! in record-id order (so any number of server processes may share one database), on SQLite by
//! `BEGIN IMMEDIATE`, which takes the database's single write lock up front.

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Transaction};
use std::time::Duration;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A cheap, cloneable handle to the database.
#[derive(Debug, Clone)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// The backend.
    pub backend: Backend,
}

/// A transaction on either backend.
pub type Tx = Transaction<'static, Any>;

impl Db {
    /// Connects (creating the SQLite file and its directory if needed) and runs migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            anyhow::bail!("database URL must start with sqlite:// or postgres:// (got {url:?})");
        };
        if backend == Backend::Sqlite
            && let Some(path) = url
                .strip_prefix("sqlite://")
                .map(|p| p.split('?').next().unwrap_or(p))
            && let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(15))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 30000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .with_context(|| format!("cannot connect to the database at {}", redact(url)))?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&pool)
            .await
            .context("cannot apply database migrations")?;
        if backend == Backend::Sqlite {
            restrict_sqlite_files(url);
        }
        Ok(Db { pool, backend })
    }

    /// Begins a transaction that will write.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Serialises writers of one record until the transaction ends. Call in ascending id order.
    pub async fn lock_record(&self, tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))::text")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Orders erasures against syncs until the transaction ends: an erasure takes this
    /// exclusively, every sync shares it, so a sync never stores a record about a participant
    /// whose erasure commits while the sync is in flight. On SQLite `BEGIN IMMEDIATE` already
    /// serialises every writer, so this does nothing there. Take it before any record lock.
    pub async fn lock_erasures(&self, tx: &mut Tx, exclusive: bool) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            let sql = if exclusive {
                "SELECT pg_advisory_xact_lock(hashtextextended('bothy.erasure', 8))::text"
            } else {
                "SELECT pg_advisory_xact_lock_shared(hashtextextended('bothy.erasure', 8))::text"
            };
            sqlx::query(sql).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// Health data: the SQLite files are readable by the server's user only.
fn restrict_sqlite_files(url: &str) {
    #[cfg(unix)]
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .map(|p| p.split('?').next().unwrap_or(p))
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{path}{suffix}");
            if std::path::Path::new(&file).exists()
                && let Err(e) =
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            {
                tracing::warn!(file = %file, error = %e, "cannot restrict database file permissions");
            }
        }
    }
}

/// A database URL with any password replaced, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
