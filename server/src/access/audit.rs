//! The audit log: an append-only record of who did what: logins, enrolments, revocations, role
//! changes, exports, erasures, conflict resolutions and quarantine actions. Entries are written
//! in the same transaction as the action where there is one, so an action and its entry commit
//! together. The database refuses updates and deletes (triggers), and the API offers none.

use sqlx::{Any, Executor};

/// Who did it.
#[derive(Debug, Clone, Default)]
pub struct Actor<'a> {
    /// The user's id, if a user acted.
    pub user_id: Option<&'a str>,
    /// The user's name (kept as it was at the time).
    pub username: Option<&'a str>,
    /// The device, if the action came from one.
    pub device_id: Option<&'a str>,
}

impl<'a> Actor<'a> {
    /// A signed-in user.
    pub fn user(user: &'a crate::access::auth::UserAuth) -> Self {
        Actor {
            user_id: Some(&user.user_id),
            username: Some(&user.username),
            device_id: None,
        }
    }

    /// The server itself, or an operator at the server's command line.
    pub fn system() -> Self {
        Actor::default()
    }

    /// Someone not signed in (a failed login, a refused attempt): no user, no device. Such
    /// entries name the client's address in their details.
    pub fn anonymous() -> Self {
        Actor::default()
    }
}

/// Appends one entry. `action` is a stable dotted name (`auth.login`, `device.enrol`,
/// `device.revoke`, `member.set`, `conflict.resolve`, `quarantine.release`...); `details` is a
/// JSON object with whatever else matters.
pub async fn record<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    actor: &Actor<'_>,
    action: &str,
    project: Option<&str>,
    target: Option<&str>,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let details = details.to_string();
    crate::storage::audit::append(
        executor,
        &crate::storage::audit::NewEntry {
            at: crate::storage::now(),
            actor_user_id: actor.user_id,
            actor_username: actor.username,
            device_id: actor.device_id,
            action,
            project,
            target,
            details: &details,
        },
    )
    .await?;
    Ok(())
}
