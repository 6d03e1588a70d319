//! What backups and restores read and write in a database: the newest migration, the data's
//! generation, the generations and tombstones a replaced database knew, SQLite's own copy and
//! check, and the statements that make sure no server has a database open before a restore.

use sqlx::any::AnyExecutor;

/// The generation row of a database (`database_generation`), as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GenerationRow {
    /// Made once when the database was created (a UUID, as text).
    pub database_id: String,
    /// 1 for a new database; raised by every restore.
    pub generation: i64,
    /// Random, new with every generation (a UUID, as text).
    pub generation_id: String,
}

/// A generation a database superseded (`superseded_generations`), as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SupersededRow {
    /// Its random id (a UUID, as text).
    pub generation_id: String,
    /// Its counter.
    pub generation: i64,
}

/// One tombstone (`erasures`): a record erased, and when and by whom.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErasureRow {
    /// The erased record.
    pub record_id: String,
    /// Its project.
    pub project: String,
    /// Its kind.
    pub kind: String,
    /// The participant whose erasure removed it.
    pub participant_id: String,
    /// When it was erased (Unix seconds).
    pub erased_at: i64,
    /// Who erased it, if a user did.
    pub erased_by: Option<String>,
}

// sql: postgres only
const DROP_PUBLIC_SCHEMA: &str = "DROP SCHEMA IF EXISTS public CASCADE";

// sql: postgres only
const CREATE_PUBLIC_SCHEMA: &str = "CREATE SCHEMA public";

/// What `psql` runs before a PostgreSQL backup's SQL in a restore, as a script: the `public`
/// schema is replaced whole (in the same transaction as the backup's statements).
pub fn reset_public_schema_script() -> String {
    format!("{DROP_PUBLIC_SCHEMA};\n{CREATE_PUBLIC_SCHEMA};\n")
}

/// The newest migration applied to a database (`None` when none is).
pub async fn newest_migration(db: impl AnyExecutor<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(db)
        .await
}

/// The generation row of a database.
pub async fn generation(db: impl AnyExecutor<'_>) -> Result<GenerationRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT database_id, generation, generation_id FROM database_generation WHERE id = 1",
    )
    .fetch_one(db)
    .await
}

/// The generations a database superseded.
pub async fn superseded(db: impl AnyExecutor<'_>) -> Result<Vec<SupersededRow>, sqlx::Error> {
    sqlx::query_as("SELECT generation_id, generation FROM superseded_generations")
        .fetch_all(db)
        .await
}

/// Every tombstone of a database.
pub async fn erasures(db: impl AnyExecutor<'_>) -> Result<Vec<ErasureRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT record_id, project, kind, participant_id, erased_at, erased_by FROM erasures",
    )
    .fetch_all(db)
    .await
}

/// Moves the change log's head on by one and gives the new position.
pub async fn advance_log_head(db: impl AnyExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("UPDATE log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(db)
        .await
}

/// Adds a tombstone at log position `seq`, unless the record has one. Returns whether it was
/// added.
pub async fn add_tombstone(
    db: impl AnyExecutor<'_>,
    erasure: &ErasureRow,
    seq: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO erasures (record_id, project, kind, participant_id, seq, erased_at, \
         erased_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (record_id) DO NOTHING",
    )
    .bind(&erasure.record_id)
    .bind(&erasure.project)
    .bind(&erasure.kind)
    .bind(&erasure.participant_id)
    .bind(seq)
    .bind(erasure.erased_at)
    .bind(erasure.erased_by.as_deref())
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

/// Writes a consistent copy of a SQLite database into the file at `path` (which must not
/// exist or be empty), while others write to it.
pub async fn vacuum_into(db: impl AnyExecutor<'_>, path: &str) -> Result<(), sqlx::Error> {
    // sql: sqlite only
    sqlx::query("VACUUM INTO $1").bind(path).execute(db).await?;
    Ok(())
}

/// SQLite's integrity check of a database: `["ok"]` when it is sound, the problems otherwise.
pub async fn integrity_check(db: impl AnyExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
    // sql: sqlite only
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(db)
        .await
}

/// Takes a SQLite database's exclusive lock without waiting, in a transaction left open: fails
/// while any other process has the database open. End it with [`rollback`].
pub async fn lock_sqlite_exclusively(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    // sql: sqlite only
    sqlx::query("PRAGMA busy_timeout = 0")
        .execute(&mut *conn)
        .await?;
    // sql: sqlite only
    sqlx::query("PRAGMA locking_mode = EXCLUSIVE")
        .execute(&mut *conn)
        .await?;
    // sql: sqlite only
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut *conn).await?;
    // sql: sqlite only
    sqlx::query("SELECT COUNT(*) FROM sqlite_master")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends the transaction [`lock_sqlite_exclusively`] began, changing nothing.
pub async fn rollback(db: impl AnyExecutor<'_>) -> Result<(), sqlx::Error> {
    // sql: sqlite only
    sqlx::query("ROLLBACK").execute(db).await?;
    Ok(())
}

/// How many other client connections a PostgreSQL database has.
pub async fn other_connections(db: impl AnyExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        // sql: postgres only
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    .fetch_one(db)
    .await
}
