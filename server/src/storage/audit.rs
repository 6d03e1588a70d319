//! The audit log's rows: entries are appended and read, never changed (the database refuses
//! updates and deletes of `audit_log` rows).

use sqlx::any::AnyExecutor;

/// An entry to append to the audit log.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// When it happened (Unix seconds).
    pub at: i64,
    /// The user who acted, if a user did.
    pub actor_user_id: Option<&'a str>,
    /// That user's name as it was at the time.
    pub actor_username: Option<&'a str>,
    /// The device the action came from, if any.
    pub device_id: Option<&'a str>,
    /// The action's stable dotted name (`device.enrol`).
    pub action: &'a str,
    /// The project it concerns, if any.
    pub project: Option<&'a str>,
    /// What it acted on (a user, device or record id), if anything.
    pub target: Option<&'a str>,
    /// A JSON object, as text.
    pub details: &'a str,
}

/// One entry of the audit log as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    /// The entry's id, rising with every entry.
    pub id: i64,
    /// When it happened (Unix seconds).
    pub at: i64,
    /// The user who acted, if a user did.
    pub actor_user_id: Option<String>,
    /// That user's name as it was at the time.
    pub actor_username: Option<String>,
    /// The device the action came from, if any.
    pub device_id: Option<String>,
    /// The action's stable dotted name.
    pub action: String,
    /// The project it concerns, if any.
    pub project: Option<String>,
    /// What it acted on, if anything.
    pub target: Option<String>,
    /// A JSON object, as text.
    pub details: String,
}

/// Which entries to read, and how many.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    /// Only entries about this project.
    pub project: Option<String>,
    /// Only this action, or the actions of this family (`device` for `device.enrol`...).
    pub action: Option<String>,
    /// Entries with a larger id, oldest first.
    pub after_id: Option<i64>,
    /// Entries with a smaller id (newest first unless `after_id` is given too).
    pub before_id: Option<i64>,
    /// At most this many entries.
    pub limit: i64,
}

/// Appends one entry.
pub async fn append(db: impl AnyExecutor<'_>, entry: &NewEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, actor_username, device_id, action, project, target, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.at)
    .bind(entry.actor_user_id)
    .bind(entry.actor_username)
    .bind(entry.device_id)
    .bind(entry.action)
    .bind(entry.project)
    .bind(entry.target)
    .bind(entry.details)
    .execute(db)
    .await?;
    Ok(())
}

/// The statement reading the entries `filter` selects, and its bind values.
fn entries_statement(filter: &EntryFilter) -> (String, Vec<String>) {
    let mut sql = String::from(
        "SELECT id, at, actor_user_id, actor_username, device_id, action, project, target, details \
         FROM audit_log WHERE 1 = 1",
    );
    let mut binds: Vec<String> = Vec::new();
    let param = |sql: &mut String, binds: &mut Vec<String>, clause: &str, v: String| {
        binds.push(v);
        sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
    };
    if let Some(p) = &filter.project {
        param(&mut sql, &mut binds, " AND project = ?", p.clone());
    }
    if let Some(a) = &filter.action {
        param(&mut sql, &mut binds, " AND (action = ?", a.clone());
        param(&mut sql, &mut binds, " OR action LIKE ?)", format!("{a}.%"));
    }
    // Ids are compared as numbers: bound as text they would not be on PostgreSQL.
    let order = match (filter.after_id, filter.before_id) {
        (Some(after), _) => {
            sql.push_str(&format!(" AND id > {after}"));
            if let Some(before) = filter.before_id {
                sql.push_str(&format!(" AND id < {before}"));
            }
            "ASC"
        }
        (None, Some(before)) => {
            sql.push_str(&format!(" AND id < {before}"));
            "DESC"
        }
        (None, None) => "DESC",
    };
    sql.push_str(&format!(" ORDER BY id {order} LIMIT {}", filter.limit));
    (sql, binds)
}

/// The entries `filter` selects: oldest first after `after_id`, newest first otherwise.
pub async fn entries(
    db: impl AnyExecutor<'_>,
    filter: &EntryFilter,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    let (sql, binds) = entries_statement(filter);
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b);
    }
    query.fetch_all(db).await
}
