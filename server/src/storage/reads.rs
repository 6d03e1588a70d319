//! Reads of merged records for the API: a record's document, who may read it, the devices that
//! wrote its changes, and what is held about one participant (for subject-rights exports).

use sqlx::any::AnyExecutor;

/// An enrolled device's actor, with the device's id and its user's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceActor {
    /// The device's Automerge actor (hex).
    pub actor: String,
    /// The device's id.
    pub id: String,
    /// The username of the device's user.
    pub username: String,
}

/// Every enrolled device's actor, with the device and its user.
pub async fn device_actors(db: impl AnyExecutor<'_>) -> Result<Vec<DeviceActor>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.actor, d.id, u.username FROM devices d JOIN users u ON u.id = d.user_id",
    )
    .fetch_all(db)
    .await
}

/// An enrolled device's actor, with the device's id and name and its user's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceAuthor {
    /// The device's Automerge actor (hex).
    pub actor: String,
    /// The device's id.
    pub id: String,
    /// The device's name.
    pub name: String,
    /// The username of the device's user.
    pub username: String,
}

/// Every enrolled device's actor, with the device's id and name and its user.
pub async fn device_authors(db: impl AnyExecutor<'_>) -> Result<Vec<DeviceAuthor>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.actor, d.id, d.name, u.username FROM devices d \
         JOIN users u ON u.id = d.user_id",
    )
    .fetch_all(db)
    .await
}

/// Who a record is kept for: whether it is restricted, and the user who first stored it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Audience {
    /// 1 if the record is restricted to its owner and those who run the project, else 0.
    pub restricted: i64,
    /// The user who first stored it, if known.
    pub owner_user: Option<String>,
}

/// Who a record is kept for, if the server holds it.
pub async fn audience(db: impl AnyExecutor<'_>, id: &str) -> Result<Option<Audience>, sqlx::Error> {
    sqlx::query_as("SELECT restricted, owner_user FROM records WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The stored document of a record of `project`, if the project holds it.
pub async fn doc_in_project(
    db: impl AnyExecutor<'_>,
    id: &str,
    project: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT doc FROM records WHERE id = $1 AND project = $2")
        .bind(id)
        .bind(project)
        .fetch_optional(db)
        .await
}

/// The stored document of a record, whatever its project, if the server holds it.
pub async fn doc(db: impl AnyExecutor<'_>, id: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT doc FROM records WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// When the server received one change of a record, and from which device.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Received {
    /// The change's hash.
    pub hash: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
    /// The device that sent it (none for the server's own changes).
    pub device_id: Option<String>,
}

/// When each logged change of a record was received, and from which device.
pub async fn received(
    db: impl AnyExecutor<'_>,
    record_id: &str,
) -> Result<Vec<Received>, sqlx::Error> {
    sqlx::query_as("SELECT hash, received_at, device_id FROM change_log WHERE record_id = $1")
        .bind(record_id)
        .fetch_all(db)
        .await
}

/// When the server received one change of a record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceivedAt {
    /// The change's hash.
    pub hash: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
}

/// When each logged change of a record was received.
pub async fn received_at(
    db: impl AnyExecutor<'_>,
    record_id: &str,
) -> Result<Vec<ReceivedAt>, sqlx::Error> {
    sqlx::query_as("SELECT hash, received_at FROM change_log WHERE record_id = $1")
        .bind(record_id)
        .fetch_all(db)
        .await
}

/// A record's document with when the server first stored it and last changed it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DatedDoc {
    /// The compacted Automerge document.
    pub doc: Vec<u8>,
    /// When the server first stored it (Unix seconds).
    pub created_at: i64,
    /// When the server last changed it (Unix seconds).
    pub updated_at: i64,
}

/// A record of `project` with its dates, if the project holds it.
pub async fn dated_doc(
    db: impl AnyExecutor<'_>,
    id: &str,
    project: &str,
) -> Result<Option<DatedDoc>, sqlx::Error> {
    sqlx::query_as("SELECT doc, created_at, updated_at FROM records WHERE id = $1 AND project = $2")
        .bind(id)
        .bind(project)
        .fetch_optional(db)
        .await
}

/// The wellbeing responses about `participant` in `project`, by response date.
pub async fn responses_about(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM wellbeing_responses WHERE participant_id = $1 AND project = $2 ORDER BY response_date, id",
    )
    .bind(participant)
    .bind(project)
    .fetch_all(db)
    .await
}

/// The contact records of `participant` in `project`, by id.
pub async fn contacts_of(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM contacts WHERE participant_id = $1 AND project = $2 ORDER BY id",
    )
    .bind(participant)
    .bind(project)
    .fetch_all(db)
    .await
}

/// The stories about `participant` in `project`, by id.
pub async fn stories_about(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM stories WHERE participant_id = $1 AND project = $2 ORDER BY id",
    )
    .bind(participant)
    .bind(project)
    .fetch_all(db)
    .await
}

/// A participant's attendance mark with the session it is on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attended {
    /// The session record.
    pub session_id: String,
    /// The mark.
    pub status: String,
    /// The session's site.
    pub site: String,
    /// The session's activity.
    pub activity: String,
    /// The session's type of activity.
    pub activity_type: String,
    /// When the session began.
    pub starts_at: String,
    /// When it ended, if known.
    pub ends_at: Option<String>,
}

/// The attendance marks of `participant` in `project`, by the sessions' start.
pub async fn attended(
    db: impl AnyExecutor<'_>,
    participant: &str,
    project: &str,
) -> Result<Vec<Attended>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.session_id, a.status, s.site, s.activity, s.activity_type, s.starts_at, s.ends_at \
         FROM attendance a JOIN sessions s ON s.id = a.session_id \
         WHERE a.participant_id = $1 AND a.project = $2 ORDER BY s.starts_at, a.session_id",
    )
    .bind(participant)
    .bind(project)
    .fetch_all(db)
    .await
}
