//! `bothy-server backup` and `bothy-server restore`: a consistent copy of the whole database
//! taken while the server runs, checked before it is trusted, and a restore that keeps what it
//! replaces, refuses backups this binary cannot read, and starts a new generation of the data
//! (recorded in the audit log) so devices can tell the server went back in time.
//!
//! SQLite: `VACUUM INTO` (consistent under WAL, while the server writes) then
//! `PRAGMA integrity_check` on the copy; a restore moves the current files aside. PostgreSQL:
//! the documented tools, `pg_dump --format=custom` and `pg_restore`, run as child processes with
//! the password passed in the environment (never on a command line or in output); a restore
//! replaces the `public` schema in one transaction.

use crate::config::Config;
use crate::review::erasure::{self, Erasure};
use crate::storage::{self, Backend, Db, Generation, Superseded};
use anyhow::{Context, bail};
use sqlx::Connection;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupSummary {
    /// The backup file.
    pub file: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The generation of the data in it.
    pub generation: Generation,
    /// The newest migration applied to the data in it.
    pub migration: i64,
}

/// What a restore did.
#[derive(Debug)]
pub struct RestoreSummary {
    /// The generation of the database that was replaced, if it had one.
    pub replaced: Option<Generation>,
    /// The generation recorded in the backup, if it had one.
    pub backup: Option<Generation>,
    /// The generation the restored database now has.
    pub new: Generation,
    /// SQLite: where the replaced database files were moved.
    pub moved_aside: Option<PathBuf>,
    /// Erasures recorded in the replaced database that the backup lacked, made again in the
    /// restored one; `None` if the replaced database's erasures could not be read (there was
    /// none, or it was unreadable): then any made after the backup must be made again by hand.
    pub erasures: Option<CarriedErasures>,
}

/// Erasures carried over from the replaced database by a restore.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CarriedErasures {
    /// Participants the backup still held, erased again.
    pub participants_erased_again: u64,
    /// Tombstones the backup lacked, added (for records erased after the backup, including
    /// records the backup never had, so a device that still holds them cannot send them back).
    pub tombstones_added: u64,
}

/// What the replaced database knew that its backup may not.
#[derive(Debug, Default)]
struct Replaced {
    generation: Option<Generation>,
    /// The generations it had itself superseded.
    superseded: Vec<Superseded>,
    /// Its tombstones; `None` if they could not be read.
    erasures: Option<Vec<ErasedRecord>>,
}

/// One tombstone of the replaced database.
type ErasedRecord = storage::backup::ErasureRow;

/// Writes a consistent copy of the configured database to `file`. Refuses an existing `file`
/// unless `force`; the copy is written next to it, checked, and only then renamed into place.
pub async fn backup(config: &Config, file: &Path, force: bool) -> anyhow::Result<BackupSummary> {
    if file.exists() && !force {
        bail!(
            "{} already exists: choose a new file name, or pass --force to replace it",
            file.display()
        );
    }
    let db = Db::connect(&config.database_url).await?;
    let generation = storage::generation(&db).await?;
    let migration = storage::backup::newest_migration(&db.pool)
        .await?
        .context("the database has no applied migrations")?;
    let partial = partial_path(file);
    let _ = std::fs::remove_file(&partial);
    let written = async {
        match db.backend {
            Backend::Sqlite => {
                // VACUUM INTO accepts an existing empty file: make it private first.
                private_file(&partial)?;
                storage::backup::vacuum_into(&db.pool, &partial.to_string_lossy())
                    .await
                    .context("SQLite could not write the backup")?;
                check_sqlite_file(&partial).await?;
            }
            Backend::Postgres => {
                let (url, password) = libpq_url(&config.database_url);
                run_tool(
                    Command::new("pg_dump")
                        .arg("--format=custom")
                        .arg("--file")
                        .arg(&partial)
                        .arg("--dbname")
                        .arg(&url),
                    password.as_deref(),
                    "pg_dump",
                )?;
                restrict(&partial);
                run_tool(
                    Command::new("pg_restore").arg("--list").arg(&partial),
                    None,
                    "pg_restore",
                )
                .context("the backup pg_dump wrote cannot be read back")?;
            }
        }
        std::fs::rename(&partial, file)
            .with_context(|| format!("cannot move the backup into place at {}", file.display()))
    }
    .await;
    db.pool.close().await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let bytes = std::fs::metadata(file)?.len();
    Ok(BackupSummary {
        file: file.to_path_buf(),
        bytes,
        generation,
        migration,
    })
}

/// Replaces the configured database with the backup in `file`, then starts a new generation and
/// records `server.restore` in the audit log. Every server on the database must be stopped
/// first; `yes` confirms the operator means it.
pub async fn restore(config: &Config, file: &Path, yes: bool) -> anyhow::Result<RestoreSummary> {
    let url = &config.database_url;
    if !file.is_file() {
        bail!("no backup file at {}", file.display());
    }
    let backend = if url.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    // Check the backup before touching anything.
    let (migration, backup_generation) = match backend {
        Backend::Sqlite => inspect_sqlite_backup(file).await?,
        Backend::Postgres => inspect_postgres_backup(file)?,
    };
    let latest = storage::latest_migration(backend);
    if migration > latest {
        bail!(
            "{} was taken by a newer bothy-server (migration {migration}; this binary knows \
             migrations up to {latest}): restore it with that version or newer",
            file.display()
        );
    }
    if !yes {
        bail!(
            "restore replaces the database at {} with {}: stop every bothy-server using it, \
             then run again with --yes",
            storage::redact(url),
            file.display()
        );
    }
    let (old, moved_aside) = match backend {
        Backend::Sqlite => {
            let (old, moved) = restore_sqlite(url, file).await?;
            (old, Some(moved))
        }
        Backend::Postgres => (restore_postgres(url, file).await?, None),
    };
    let replaced = old.generation;
    let db = Db::connect(url).await.with_context(|| match &moved_aside {
        Some(m) => format!(
            "the restored database does not open (the replaced one is kept at {})",
            m.display()
        ),
        None => "the restored database does not open".to_owned(),
    })?;
    let floor = [replaced, backup_generation]
        .iter()
        .flatten()
        .map(|g| g.generation)
        .max()
        .unwrap_or(0);
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut superseded = old.superseded.clone();
    superseded.extend(replaced.map(|g| Superseded {
        generation_id: g.generation_id,
        generation: g.generation,
    }));
    let (_, new) = storage::start_new_generation(
        &db,
        "server.restore",
        "restored from a backup",
        floor,
        &superseded,
        serde_json::json!({
            "via": "server command line",
            "backup": file_name,
            "backup_generation": backup_generation,
            "replaced_generation": replaced,
            "moved_aside": moved_aside.as_ref().map(|p| p.display().to_string()),
        }),
    )
    .await?;
    let erasures = match &old.erasures {
        Some(list) => Some(carry_erasures(&db, list).await?),
        None => None,
    };
    db.pool.close().await;
    Ok(RestoreSummary {
        replaced,
        backup: backup_generation,
        new,
        moved_aside,
        erasures,
    })
}

/// Makes again, in the restored database, the erasures the replaced database recorded that the
/// backup lacks: a participant the backup still holds is erased again (a new server change
/// removes their attendance marks; their records are deleted and scrubbed from the files), and
/// every tombstone the backup lacks is added at the restored log's head, so devices are told to
/// purge and their re-sends are refused.
async fn carry_erasures(db: &Db, erased: &[ErasedRecord]) -> anyhow::Result<CarriedErasures> {
    let mut carried = CarriedErasures::default();
    let now = storage::now();
    let mut scrub_for = None;
    for p in erased.iter().filter(|r| r.kind == "participant") {
        let mut tx = db.begin_write().await?;
        let outcome = erasure::erase_participant(
            db,
            &mut tx,
            &p.project,
            &p.participant_id,
            p.erased_by.as_deref(),
            now,
        )
        .await;
        match outcome {
            Ok(Erasure::Done { counts, seq }) => {
                crate::access::audit::record(
                    &mut *tx,
                    &crate::access::audit::Actor::system(),
                    "participant.erase",
                    Some(&p.project),
                    Some(&p.participant_id),
                    serde_json::json!({
                        "counts": counts,
                        "seq": seq,
                        "reason": "made again by a restore: erased after the backup was taken",
                        "first_erased_at": p.erased_at,
                        "first_erased_by": p.erased_by,
                    }),
                )
                .await?;
                tx.commit().await?;
                carried.participants_erased_again += 1;
                scrub_for = Some(p.participant_id.as_str());
            }
            // Already erased in the backup, or created after it (tombstones only, below).
            Ok(Erasure::AlreadyErased(_)) | Err(crate::error::ApiError::NotFound(_)) => {
                tx.rollback().await?;
            }
            Err(e) => anyhow::bail!(
                "cannot erase participant {} again in the restored database: {e}",
                p.participant_id
            ),
        }
    }
    let mut tx = db.begin_write().await?;
    let seq = storage::backup::advance_log_head(&mut *tx).await?;
    for r in erased {
        if storage::backup::add_tombstone(&mut *tx, r, seq).await? {
            carried.tombstones_added += 1;
        }
    }
    tx.commit().await?;
    if let Some(participant) = scrub_for
        && let Err(e) = erasure::scrub(db, participant).await
    {
        tracing::error!(error = %e, "erased data could not be scrubbed from the database files");
    }
    Ok(carried)
}

/// `.NAME.partial-PID` next to `file`.
fn partial_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    file.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Creates an empty file readable by this user only (a backup holds everything).
fn private_file(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(())
}

fn restrict(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

/// Opens a SQLite file read-only (never creating it).
async fn open_sqlite_read_only(path: &Path) -> anyhow::Result<sqlx::AnyConnection> {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .with_context(|| format!("cannot open {} as a SQLite database", path.display()))
}

/// `PRAGMA integrity_check` must answer `ok`.
async fn check_sqlite_file(path: &Path) -> anyhow::Result<()> {
    let mut conn = open_sqlite_read_only(path).await?;
    let answers = storage::backup::integrity_check(&mut conn)
        .await
        .with_context(|| format!("{} is not a readable SQLite database", path.display()))?;
    let _ = conn.close().await;
    if answers != ["ok"] {
        bail!(
            "{} fails SQLite's integrity check: {}",
            path.display(),
            answers.join("; ")
        );
    }
    Ok(())
}

/// Checks a SQLite backup and reads its newest migration and its generation (if it has one).
async fn inspect_sqlite_backup(file: &Path) -> anyhow::Result<(i64, Option<Generation>)> {
    check_sqlite_file(file)
        .await
        .with_context(|| format!("{} is not a usable backup", file.display()))?;
    let mut conn = open_sqlite_read_only(file).await?;
    let migration = storage::backup::newest_migration(&mut conn)
        .await
        .ok()
        .flatten();
    let Some(migration) = migration else {
        bail!(
            "{} is a SQLite database but not a bothy-server backup (it has no migrations table)",
            file.display()
        );
    };
    let generation = read_generation(&mut conn).await;
    let _ = conn.close().await;
    Ok((migration, generation))
}

/// What a database about to be replaced knows that its backup may not.
async fn read_replaced(conn: &mut sqlx::AnyConnection) -> Replaced {
    let generation = read_generation(conn).await;
    let superseded = storage::backup::superseded(&mut *conn)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| {
            Some(Superseded {
                generation_id: r.generation_id.parse().ok()?,
                generation: r.generation,
            })
        })
        .collect();
    let erasures = storage::backup::erasures(&mut *conn).await.ok();
    Replaced {
        generation,
        superseded,
        erasures,
    }
}

/// The generation stored in a database, if it has the table and the row.
async fn read_generation(conn: &mut sqlx::AnyConnection) -> Option<Generation> {
    let row = storage::backup::generation(&mut *conn).await.ok()?;
    Some(Generation {
        database_id: row.database_id.parse().ok()?,
        generation: row.generation,
        generation_id: row.generation_id.parse().ok()?,
    })
}

/// Moves the current database files aside (after making sure no process has the database open)
/// and puts a copy of the backup in place. Returns what the replaced database knew and where the old
/// files went.
async fn restore_sqlite(url: &str, file: &Path) -> anyhow::Result<(Replaced, PathBuf)> {
    let path = storage::sqlite_path(url)
        .with_context(|| format!("cannot tell the database file from {url:?}"))?;
    let mut replaced = Replaced::default();
    if path.exists() {
        // A process with the database open holds a shared lock on it: an exclusive lock taken
        // without waiting fails while any server is running on it.
        sqlx::any::install_default_drivers();
        let mut conn =
            sqlx::AnyConnection::connect(&format!("sqlite://{}?mode=rw", path.display()))
                .await
                .with_context(|| format!("cannot open the current database {}", path.display()))?;
        let locked = storage::backup::lock_sqlite_exclusively(&mut conn).await;
        if let Err(e) = locked {
            let _ = conn.close().await;
            bail!(
                "the database {} is in use ({e}): stop every bothy-server using it, then restore",
                path.display()
            );
        }
        replaced = read_replaced(&mut conn).await;
        let _ = storage::backup::rollback(&mut conn).await;
        conn.close().await?;
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = PathBuf::from(format!("{}.before-restore-{stamp}", path.display()));
    // Copy first (next to the database, so the final rename is atomic), then move aside.
    let incoming = PathBuf::from(format!(
        "{}.restoring-{}",
        path.display(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&incoming);
    std::fs::copy(file, &incoming).with_context(|| {
        format!(
            "cannot copy {} next to the database {}",
            file.display(),
            path.display()
        )
    })?;
    restrict(&incoming);
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        if from.exists() {
            let to = PathBuf::from(format!("{}{suffix}", aside.display()));
            std::fs::rename(&from, &to).with_context(|| {
                format!("cannot move {} aside to {}", from.display(), to.display())
            })?;
        }
    }
    std::fs::rename(&incoming, &path).with_context(|| {
        format!(
            "cannot put the backup in place at {} (the replaced database is at {})",
            path.display(),
            aside.display()
        )
    })?;
    Ok((replaced, aside))
}

/// Checks a PostgreSQL backup is a readable custom-format archive and reads its newest
/// migration and generation from the archived table data.
fn inspect_postgres_backup(file: &Path) -> anyhow::Result<(i64, Option<Generation>)> {
    run_tool(
        Command::new("pg_restore").arg("--list").arg(file),
        None,
        "pg_restore",
    )
    .with_context(|| {
        format!(
            "{} is not a readable PostgreSQL backup (pg_dump --format=custom)",
            file.display()
        )
    })?;
    let table = |name: &str| -> anyhow::Result<Vec<Vec<String>>> {
        let out = run_tool(
            Command::new("pg_restore")
                .arg("--data-only")
                .arg(format!("--table={name}"))
                .arg("--file=-")
                .arg(file),
            None,
            "pg_restore",
        )?;
        Ok(copy_rows(&out))
    };
    let migration = table("_sqlx_migrations")?
        .iter()
        .filter_map(|r| r.first()?.parse::<i64>().ok())
        .max();
    let Some(migration) = migration else {
        bail!(
            "{} is a PostgreSQL backup but not of a bothy-server database (it has no migrations)",
            file.display()
        );
    };
    // Columns as created: id, database_id, generation, generation_id, started_at.
    let generation = table("database_generation")?.first().and_then(|r| {
        Some(Generation {
            database_id: r.get(1)?.parse().ok()?,
            generation: r.get(2)?.parse().ok()?,
            generation_id: r.get(3)?.parse().ok()?,
        })
    });
    Ok((migration, generation))
}

/// The rows of the `COPY ... FROM stdin` blocks in a plain SQL script, split on tabs.
fn copy_rows(script: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in script.lines() {
        if inside {
            if line == "\\." {
                inside = false;
            } else {
                rows.push(line.split('\t').map(str::to_owned).collect());
            }
        } else if line.starts_with("COPY ") && line.ends_with("FROM stdin;") {
            inside = true;
        }
    }
    rows
}

/// Replaces the `public` schema with the backup's in one transaction: `pg_restore` writes the
/// backup as SQL, and `psql --single-transaction` runs `DROP SCHEMA public CASCADE; CREATE
/// SCHEMA public;` followed by it, so a failed restore leaves the database as it was.
async fn restore_postgres(url: &str, file: &Path) -> anyhow::Result<Replaced> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .with_context(|| format!("cannot connect to the database at {}", storage::redact(url)))?;
    let others = storage::backup::other_connections(&mut conn).await?;
    if others > 0 {
        let _ = conn.close().await;
        bail!(
            "the database at {} is in use ({others} other connection(s)): stop every \
             bothy-server using it, then restore",
            storage::redact(url)
        );
    }
    let replaced = read_replaced(&mut conn).await;
    conn.close().await?;
    let (libpq, password) = libpq_url(url);
    let mut dump = spawn(
        Command::new("pg_restore")
            .arg("--no-owner")
            .arg("--no-acl")
            .arg("--file=-")
            .arg(file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "pg_restore",
    )?;
    let mut psql_command = Command::new("psql");
    psql_command
        .arg("--no-psqlrc")
        .arg("--quiet")
        .arg("--single-transaction")
        .arg("--set=ON_ERROR_STOP=1")
        .arg("--dbname")
        .arg(&libpq)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = &password {
        psql_command.env("PGPASSWORD", p);
    }
    let mut psql = spawn(&mut psql_command, "psql")?;
    let mut input = psql.stdin.take().context("psql's input")?;
    let mut script = dump.stdout.take().context("pg_restore's output")?;
    let feeder = std::thread::spawn(move || -> std::io::Result<()> {
        input.write_all(storage::backup::reset_public_schema_script().as_bytes())?;
        std::io::copy(&mut script, &mut input)?;
        Ok(())
    });
    let psql_out = psql.wait_with_output()?;
    let fed = feeder.join();
    let dump_out = dump.wait_with_output()?;
    if !dump_out.status.success() {
        bail!(
            "pg_restore could not read {} (nothing was changed): {}",
            file.display(),
            String::from_utf8_lossy(&dump_out.stderr).trim()
        );
    }
    if !psql_out.status.success() || !matches!(fed, Ok(Ok(()))) {
        bail!(
            "the restore failed and was rolled back (nothing was changed): {}",
            String::from_utf8_lossy(&psql_out.stderr).trim()
        );
    }
    Ok(replaced)
}

/// A URL libpq understands without the password, and the password (percent-decoded) to pass
/// in `PGPASSWORD`, so it never appears in a process list.
fn libpq_url(url: &str) -> (String, Option<String>) {
    if let (Some(scheme), Some(at)) = (url.find("://"), url.rfind('@'))
        && at > scheme
        && let Some((user, password)) = url[scheme + 3..at].split_once(':')
    {
        let stripped = format!("{}{user}{}", &url[..scheme + 3], &url[at..]);
        return (stripped, Some(percent_decode(password)));
    }
    (url.to_owned(), None)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn spawn(command: &mut Command, tool: &str) -> anyhow::Result<std::process::Child> {
    command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "{tool} is not installed or not on PATH: install the PostgreSQL client tools \
                 (the same major version as the server or newer)"
            )
        } else {
            anyhow::anyhow!("cannot run {tool}: {e}")
        }
    })
}

/// Runs a PostgreSQL client tool to completion; its standard output, or its error output in
/// the error.
fn run_tool(command: &mut Command, password: Option<&str>, tool: &str) -> anyhow::Result<String> {
    if let Some(p) = password {
        command.env("PGPASSWORD", p);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = spawn(command, tool)?.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{tool} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        let (url, password) = libpq_url("postgres://bothy:s%40cret@db.example:5432/bothy");
        assert_eq!(url, "postgres://bothy@db.example:5432/bothy");
        assert_eq!(password.as_deref(), Some("s@cret"));
        let (url, password) = libpq_url("postgres://bothy@db/bothy");
        assert_eq!(url, "postgres://bothy@db/bothy");
        assert_eq!(password, None);
    }

    #[test]
    fn copy_blocks_are_read_as_rows() {
        let script = "SET x = 1;\nCOPY public.t (a, b) FROM stdin;\n1\tone\n2\ttwo\n\\.\n";
        assert_eq!(
            copy_rows(script),
            vec![
                vec!["1".to_owned(), "one".into()],
                vec!["2".into(), "two".into()]
            ]
        );
    }
}
