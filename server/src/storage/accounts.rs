//! Accounts as stored: users and their password hashes, refresh tokens, failed login attempts,
//! project memberships, and the secret access tokens are signed with.

use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

/// A user as a login checks them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginRow {
    /// The user's id.
    pub id: String,
    /// The argon2id hash of their password.
    pub password_hash: String,
    /// 1 for a server admin.
    pub is_admin: i64,
    /// 0 once the user was removed.
    pub active: i64,
    /// 1 after an admin reset the password, until the user replaces it.
    pub must_change_password: i64,
}

/// A user as an access token names them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Their username.
    pub username: String,
    /// 1 for a server admin.
    pub is_admin: i64,
    /// 0 once the user was removed.
    pub active: i64,
}

/// A user's name and whether they administer the server.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserName {
    /// Their username.
    pub username: String,
    /// 1 for a server admin.
    pub is_admin: i64,
}

/// A user's id and whether they may still log in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserStanding {
    /// The user's id.
    pub id: String,
    /// 0 once the user was removed.
    pub active: i64,
}

/// One membership of a user: a project and their role in it (as stored).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Membership {
    /// The project's slug.
    pub project: String,
    /// The role's name.
    pub role: String,
}

/// Whose login a refresh token belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenOwner {
    /// The user's id.
    pub user_id: String,
    /// The login the token was rotated from (every token of one login shares it).
    pub family: String,
    /// The user's name.
    pub username: String,
}

/// A refresh token and its user, as a refresh checks them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    /// The user's id.
    pub user_id: String,
    /// The login the token was rotated from.
    pub family: String,
    /// When the token expires (Unix seconds).
    pub expires_at: i64,
    /// 1 once the token was revoked.
    pub revoked: i64,
    /// The user's name.
    pub username: String,
    /// 1 for a server admin.
    pub is_admin: i64,
    /// 0 once the user was removed.
    pub active: i64,
}

/// Adds a user unless the username is taken: `false` when it is.
pub async fn insert_user(
    db: impl AnyExecutor<'_>,
    id: &str,
    username: &str,
    password_hash: &str,
    is_admin: bool,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "INSERT INTO users (id, username, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(username)
    .bind(password_hash)
    .bind(i64::from(is_admin))
    .bind(at)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// How many users there are, removed ones included.
pub async fn count_users(db: impl AnyExecutor<'_>) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await?;
    Ok(count)
}

/// The id of the user with this username.
pub async fn user_id_by_username(
    db: impl AnyExecutor<'_>,
    username: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// The id of the user with this username and whether they are active.
pub async fn standing_by_username(
    db: impl AnyExecutor<'_>,
    username: &str,
) -> Result<Option<UserStanding>, sqlx::Error> {
    sqlx::query_as("SELECT id, active FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// What a login checks of the user with this username.
pub async fn login_row(
    db: impl AnyExecutor<'_>,
    username: &str,
) -> Result<Option<LoginRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, password_hash, is_admin, active, must_change_password FROM users \
         WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(db)
    .await
}

/// The user with this id, as an access token names them.
pub async fn user_by_id(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT username, is_admin, active FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// The name of the user with this id (who must exist) and whether they administer the server.
pub async fn user_name(db: impl AnyExecutor<'_>, user_id: &str) -> Result<UserName, sqlx::Error> {
    sqlx::query_as("SELECT username, is_admin FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// The password hash of the user with this id (who must exist).
pub async fn password_hash(db: impl AnyExecutor<'_>, user_id: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Stores a password the user chose: the hash, and no change required.
pub async fn set_password(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 0 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Stores a temporary password an admin set: the hash, and a change required at the next
/// login.
pub async fn set_temporary_password(
    db: impl AnyExecutor<'_>,
    user_id: &str,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, must_change_password = 1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks a user removed: they can no longer log in.
pub async fn deactivate_user(db: impl AnyExecutor<'_>, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Stores a new refresh token (its hash).
pub async fn insert_refresh_token(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    user_id: &str,
    family: &str,
    expires_at: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, family, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(family)
    .bind(expires_at)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes every refresh token of a user not yet revoked; returns how many.
pub async fn revoke_user_refresh_tokens(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1 AND revoked = 0")
            .bind(user_id)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Revokes the refresh tokens of one login not yet revoked; returns how many.
pub async fn revoke_family(db: impl AnyExecutor<'_>, family: &str) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1 AND revoked = 0")
            .bind(family)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Revokes every refresh token of one login (a token of it was used twice).
pub async fn revoke_whole_family(
    db: impl AnyExecutor<'_>,
    family: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1")
        .bind(family)
        .execute(db)
        .await?;
    Ok(())
}

/// Revokes one refresh token (by its hash).
pub async fn revoke_refresh_token(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Whose login the refresh token with this hash belongs to.
pub async fn token_owner(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
) -> Result<Option<TokenOwner>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.user_id, t.family, u.username FROM refresh_tokens t \
         JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// The refresh token with this hash and its user, as a refresh checks them.
pub async fn refresh_row(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
) -> Result<Option<RefreshRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.user_id, t.family, t.expires_at, t.revoked, u.username, u.is_admin, u.active \
         FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Marks a refresh token used unless it was used before: `false` when it was.
pub async fn claim_refresh_token(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(at)
    .bind(token_hash)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// Forgets the failed attempts recorded at or before `since`.
pub async fn forget_failures_before(
    db: impl AnyExecutor<'_>,
    since: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE at <= $1")
        .bind(since)
        .execute(db)
        .await?;
    Ok(())
}

/// Records one attempt under one key.
pub async fn record_failure(
    db: impl AnyExecutor<'_>,
    key: &str,
    at: i64,
    attempt: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (key, at, attempt) VALUES ($1, $2, $3)")
        .bind(key)
        .bind(at)
        .bind(attempt)
        .execute(db)
        .await?;
    Ok(())
}

/// How many attempts were recorded under a key after `since`.
pub async fn count_failures(
    db: impl AnyExecutor<'_>,
    key: &str,
    since: i64,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at > $2")
            .bind(key)
            .bind(since)
            .fetch_one(db)
            .await?;
    Ok(count)
}

/// Forgets one attempt, under every key it was recorded.
pub async fn forget_attempt(db: impl AnyExecutor<'_>, attempt: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE attempt = $1")
        .bind(attempt)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets every attempt recorded under a key.
pub async fn forget_failures(db: impl AnyExecutor<'_>, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// A user's memberships, by project.
pub async fn memberships(
    db: impl AnyExecutor<'_>,
    user_id: &str,
) -> Result<Vec<Membership>, sqlx::Error> {
    sqlx::query_as("SELECT project, role FROM memberships WHERE user_id = $1 ORDER BY project")
        .bind(user_id)
        .fetch_all(db)
        .await
}

/// A user's role in a project (as stored), if they are a member.
pub async fn role_in(
    db: impl AnyExecutor<'_>,
    project: &str,
    user_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT role FROM memberships WHERE project = $1 AND user_id = $2")
        .bind(project)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Makes a user a member of a project with a role, or changes their role.
pub async fn set_membership(
    db: impl AnyExecutor<'_>,
    project: &str,
    user_id: &str,
    role: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO memberships (project, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (project, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(project)
    .bind(user_id)
    .bind(role)
    .execute(db)
    .await?;
    Ok(())
}

/// Takes a user out of a project.
pub async fn remove_membership(
    db: impl AnyExecutor<'_>,
    project: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM memberships WHERE project = $1 AND user_id = $2")
        .bind(project)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The secret access tokens are signed with: `candidate` is kept the first time, and every
/// process on the database reads the one kept.
pub async fn signing_secret(
    conn: &mut AnyConnection,
    candidate: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('jwt_secret', $1) ON CONFLICT DO NOTHING",
    )
    .bind(candidate)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("SELECT value FROM settings WHERE key = 'jwt_secret'")
        .fetch_one(&mut *conn)
        .await
}
