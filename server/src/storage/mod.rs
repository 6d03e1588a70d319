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

pub mod accounts;
pub mod analysis;
pub mod audit;
pub mod backup;
pub mod contacts;
pub mod demo;
pub mod devices;
pub mod erasure;
pub mod health;
pub mod instruments;
pub mod projection;
pub mod projects;
pub mod reads;
pub mod records;
pub mod review;
pub mod roles;
pub mod setup;
pub mod sync;
pub mod wipe;

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
    /// Project set-ups computed for each set of roles (see [`SetupCache`]).
    pub setup_cache: std::sync::Arc<SetupCache>,
}

/// Project set-ups this process computed, by the set of roles they were computed for, each
/// with the database generation and `setup_epoch` it was computed at: a set-up is used again
/// only while both are unchanged (triggers move the epoch whenever a table a set-up is made of
/// changes, whichever process writes it).
#[derive(Debug, Default)]
pub struct SetupCache {
    entries: std::sync::Mutex<
        std::collections::HashMap<String, (String, i64, bothy_sync_core::protocol::Setup)>,
    >,
}

/// Most set-ups kept (one per distinct set of roles; few in practice).
const SETUP_CACHE_ENTRIES: usize = 1024;

impl SetupCache {
    /// The set-up kept for `key`, if it was computed at `generation` and `epoch`.
    pub fn get(
        &self,
        key: &str,
        generation: &str,
        epoch: i64,
    ) -> Option<bothy_sync_core::protocol::Setup> {
        let entries = self.entries.lock().ok()?;
        match entries.get(key) {
            Some((g, e, setup)) if g == generation && *e == epoch => Some(setup.clone()),
            _ => None,
        }
    }

    /// Keeps a set-up computed at `generation` and `epoch` (read before computing it).
    pub fn put(
        &self,
        key: String,
        generation: String,
        epoch: i64,
        setup: bothy_sync_core::protocol::Setup,
    ) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= SETUP_CACHE_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (generation, epoch, setup));
        }
    }
}

/// The `ids` found in `column` of `table` (names fixed by the caller), in statements of at
/// most 500 ids.
pub async fn present_among(
    tx: &mut Tx,
    table: &'static str,
    column: &'static str,
    ids: &[String],
) -> Result<std::collections::BTreeSet<String>, sqlx::Error> {
    use sqlx::Row;
    let mut out = std::collections::BTreeSet::new();
    for chunk in ids.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        // Only the caller's fixed names and numbered placeholders are formatted into the
        // text; the ids are bound.
        let sql = format!(
            "SELECT {column} AS id FROM {table} WHERE {column} IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id);
        }
        for row in query.fetch_all(&mut **tx).await? {
            out.insert(row.get::<String, _>("id"));
        }
    }
    Ok(out)
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
                            // sql: sqlite only
                            "PRAGMA journal_mode = WAL",
                            // sql: sqlite only
                            "PRAGMA synchronous = FULL",
                            // sql: sqlite only
                            "PRAGMA busy_timeout = 30000",
                            // sql: sqlite only
                            "PRAGMA foreign_keys = ON",
                            // Deleted content is overwritten with zeros, not left in free
                            // space: an erased participant's data leaves the file.
                            // sql: sqlite only
                            "PRAGMA secure_delete = ON",
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
        match migrator(backend).run(&pool).await {
            Ok(()) => {}
            Err(sqlx::migrate::MigrateError::VersionMissing(version)) => {
                anyhow::bail!("{}", newer_database_message(version, backend))
            }
            Err(e) => return Err(e).context("cannot apply database migrations"),
        }
        if backend == Backend::Sqlite {
            restrict_sqlite_files(url);
        }
        let db = Db {
            pool,
            backend,
            setup_cache: Default::default(),
        };
        ensure_identity(&db).await?;
        crate::review::contacts::migrate(&db)
            .await
            .context("cannot move participants' direct identifiers to contact records")?;
        Ok(db)
    }

    /// Begins a transaction that will write.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Begins a transaction that only reads: on SQLite a deferred one, which runs beside the
    /// writer (write-ahead log) instead of waiting for it.
    pub async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }

    /// Serialises writers of one record until the transaction ends. Call in ascending id order.
    pub async fn lock_record(&self, tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            // sql: postgres only
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))::text")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// [`Db::lock_record`] for many records at once, in ascending id order (`ids` sorted as
    /// byte strings), in few statements.
    pub async fn lock_records(&self, tx: &mut Tx, ids: &[String]) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        for chunk in ids.chunks(500) {
            let values: Vec<String> = (1..=chunk.len()).map(|i| format!("(${i})")).collect();
            // The sorted subquery hands rows to the aggregate in order, so the locks are taken
            // in byte order ("C" collation), as one at a time would; only placeholders are
            // formatted into the text.
            let sql = format!(
                "SELECT count(pg_advisory_xact_lock(hashtextextended(id, 7)))::text \
                 FROM (SELECT id FROM (VALUES {}) AS t(id) ORDER BY id COLLATE \"C\") s",
                values.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(&mut **tx).await?;
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
                // sql: postgres only
                "SELECT pg_advisory_xact_lock(hashtextextended('bothy.erasure', 8))::text"
            } else {
                // sql: postgres only
                "SELECT pg_advisory_xact_lock_shared(hashtextextended('bothy.erasure', 8))::text"
            };
            sqlx::query(sql).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// The migrations embedded in this binary for a backend.
pub fn migrator(backend: Backend) -> sqlx::migrate::Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    }
}

/// The newest migration this binary knows for a backend.
pub fn latest_migration(backend: Backend) -> i64 {
    migrator(backend)
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// What an operator reads when this binary is older than the database it was pointed at.
pub fn newer_database_message(version: i64, backend: Backend) -> String {
    format!(
        "this database was written by a newer bothy-server (migration {version}; this binary \
         knows migrations up to {}): upgrade the binary, or restore a backup taken with this \
         version (docs/operations.md, \"Backup and restore\")",
        latest_migration(backend)
    )
}

/// Which database this is and which generation of its data.
///
/// `database_id` is made once, at random, when the database is created, and is kept by backups
/// and restores (a restored database is the same database, taken back in time). `generation`
/// counts the database's lives: it is 1 for a new database and a restore raises it (above both
/// the backup's and the replaced database's), and `generation_id` is a fresh random id with every
/// generation, so two restores of one backup never share a generation even if their counters
/// are equal. Devices compare these to notice that the server went back in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Generation {
    /// Made once when the database is created.
    pub database_id: uuid::Uuid,
    /// 1 for a new database; raised by every restore.
    pub generation: i64,
    /// Random, new with every generation.
    pub generation_id: uuid::Uuid,
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "database {} generation {} ({})",
            self.database_id, self.generation, self.generation_id
        )
    }
}

/// A generation of this database's data that a restore replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Superseded {
    /// Its random id.
    pub generation_id: uuid::Uuid,
    /// Its counter.
    pub generation: i64,
}

/// Whether `generation_id` names a generation of this database that a restore replaced.
pub async fn is_superseded<'c, E>(
    executor: E,
    generation_id: uuid::Uuid,
) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    Ok(
        sqlx::query("SELECT 1 AS x FROM superseded_generations WHERE generation_id = $1")
            .bind(generation_id.to_string())
            .fetch_optional(executor)
            .await?
            .is_some(),
    )
}

/// Makes the database's identity the first time a server starts on it (two processes starting
/// at once agree: the second insert does nothing).
async fn ensure_identity(db: &Db) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO database_generation (id, database_id, generation, generation_id, started_at) \
         VALUES (1, $1, 1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(now())
    .execute(&db.pool)
    .await
    .context("cannot record the database's identity")?;
    Ok(())
}

/// The database's identity and current generation.
pub async fn generation(db: &Db) -> anyhow::Result<Generation> {
    let row: (String, i64, String) = sqlx::query_as(
        "SELECT database_id, generation, generation_id FROM database_generation WHERE id = 1",
    )
    .fetch_one(&db.pool)
    .await
    .context("cannot read the database's generation")?;
    Ok(Generation {
        database_id: row.0.parse().context("database_id is not a UUID")?,
        generation: row.1,
        generation_id: row.2.parse().context("generation_id is not a UUID")?,
    })
}

/// Starts a new generation of the data (after a restore): the counter becomes one more than
/// both the current one and `at_least_above`, and the generation id is new. The current
/// generation and `also_superseded` (the replaced database's, say) are recorded as superseded.
/// Records `action` in the audit log in the same transaction, with `reason`, the previous and
/// the new generation added to `details` (an object). Returns (previous, new).
pub async fn start_new_generation(
    db: &Db,
    action: &str,
    reason: &str,
    at_least_above: i64,
    also_superseded: &[Superseded],
    details: serde_json::Value,
) -> anyhow::Result<(Generation, Generation)> {
    let before = generation(db).await?;
    let mut tx = db.begin_write().await?;
    let next = before.generation.max(at_least_above) + 1;
    let current = Superseded {
        generation_id: before.generation_id,
        generation: before.generation,
    };
    for old in std::iter::once(&current).chain(also_superseded) {
        sqlx::query(
            "INSERT INTO superseded_generations (generation_id, generation, superseded_at) \
             VALUES ($1, $2, $3) ON CONFLICT (generation_id) DO NOTHING",
        )
        .bind(old.generation_id.to_string())
        .bind(old.generation)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "UPDATE database_generation SET generation = $1, generation_id = $2, started_at = $3 \
         WHERE id = 1",
    )
    .bind(next)
    .bind(id.to_string())
    .bind(now())
    .execute(&mut *tx)
    .await?;
    let after = Generation {
        database_id: before.database_id,
        generation: next,
        generation_id: id,
    };
    let mut details = match details {
        serde_json::Value::Object(map) => map,
        other => {
            let mut map = serde_json::Map::new();
            map.insert("details".into(), other);
            map
        }
    };
    details.insert("reason".into(), reason.into());
    details.insert("previous_generation".into(), serde_json::json!(before));
    details.insert("new_generation".into(), serde_json::json!(after));
    crate::access::audit::record(
        &mut *tx,
        &crate::access::audit::Actor::system(),
        action,
        None,
        Some(&before.database_id.to_string()),
        serde_json::Value::Object(details),
    )
    .await?;
    tx.commit().await?;
    Ok((before, after))
}

/// The file behind a `sqlite://` URL.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .filter(|p| !p.is_empty() && *p != ":memory:")
        .map(std::path::PathBuf::from)
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
