//! Project roles and what each may do on the server, in one place: the per-kind record rules
//! (shared with devices, from sync-core's `roles`), the SQL used to scope pulls, which a test
//! ties to those rules, and who may manage set-up, subjects and reports.
//!
//! * `admin`, `coordinator`, `researcher`: push and pull every record kind of their projects.
//! * `peer_worker`: pushes and pulls participants and sessions only (they log sessions and
//!   attendance); wellbeing responses and stories are neither accepted from nor sent to them.
//! * `analyst`: never writes, and receives nothing by sync (merged data is read through the API).

/// The per-kind rules live in sync-core, so devices refuse at capture exactly what the server
/// refuses at sync.
pub use bothy_sync_core::roles::{
    FULL_ROLES, PEER_WORKER_KINDS, ROLES, WRITING_ROLES, may_pull, may_push,
};

/// Project roles that may manage the project's sites and activities (server admins may too).
pub const SETUP_ROLES: &[&str] = &["admin", "coordinator"];

/// Whether a user (a server admin or not, holding `role` in the project) may create, change
/// and archive the project's sites and activities.
pub fn may_manage_setup(server_admin: bool, role: &str) -> bool {
    server_admin || SETUP_ROLES.contains(&role)
}

/// Project roles that may export everything held about a participant and erase them (server
/// admins may too).
pub const SUBJECT_RIGHTS_ROLES: &[&str] = &["admin", "coordinator"];

/// Whether a user (a server admin or not, holding `role` in the project) may answer a
/// participant's subject-rights requests: export everything held about them, and erase them.
pub fn may_manage_subjects(server_admin: bool, role: &str) -> bool {
    server_admin || SUBJECT_RIGHTS_ROLES.contains(&role)
}

/// Project roles that may read a project's reports on the dashboard (server admins may too).
pub const ANALYSING_ROLES: &[&str] = &["admin", "coordinator", "analyst"];

/// Whether a user (a server admin or not, holding `role` in the project, `""` for none) may
/// read the project's aggregate reports on the dashboard.
pub fn may_analyse(server_admin: bool, role: &str) -> bool {
    server_admin || ANALYSING_ROLES.contains(&role)
}

/// Whether a user may load instrument wording: server admins only, because the wording is
/// licensed text that applies across projects.
pub fn may_load_wording(server_admin: bool) -> bool {
    server_admin
}

/// A scope name for one project and role: the device's cursor is tied to the set of these, so a
/// change of role (for example a peer worker made a researcher) starts the device again from
/// snapshots and it receives what it could not see before.
pub fn scope_name(project: &str, role: &str) -> Option<String> {
    if FULL_ROLES.contains(&role) {
        Some(project.to_owned())
    } else if role == "peer_worker" {
        let kinds: Vec<&str> = PEER_WORKER_KINDS.iter().map(|k| k.as_str()).collect();
        Some(format!("{project}:{}", kinds.join(",")))
    } else {
        None
    }
}

/// An SQL condition that is true when the user (a parameter) may pull a record, given the SQL
/// expressions for the record's project and kind. Mirrors [`may_pull`]; a test checks every
/// role and kind against it.
macro_rules! pullable_sql {
    ($user:literal, $project:literal, $kind:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM memberships pm WHERE pm.user_id = ",
            $user,
            " AND pm.project = ",
            $project,
            " AND (pm.role IN ('admin', 'coordinator', 'researcher') OR (pm.role = 'peer_worker' AND ",
            $kind,
            " IN ('participant', 'session'))))"
        )
    };
}
pub(crate) use pullable_sql;

#[cfg(test)]
mod tests {
    use super::*;
    use bothy_sync_core::RecordKind;
    use sqlx::Row;

    #[test]
    fn who_may_analyse() {
        for role in ROLES {
            assert_eq!(
                may_analyse(false, role),
                ["admin", "coordinator", "analyst"].contains(role),
                "{role}"
            );
            assert!(may_analyse(true, role));
        }
        assert!(!may_analyse(false, ""));
        assert!(may_analyse(true, ""));
    }

    #[test]
    fn who_may_manage_subjects() {
        for role in ROLES {
            assert_eq!(
                may_manage_subjects(false, role),
                ["admin", "coordinator"].contains(role),
                "{role}"
            );
            assert!(may_manage_subjects(true, role));
        }
        assert!(!may_manage_subjects(false, ""));
    }

    /// Runs the pull condition in SQLite for every (role, kind) and compares it with `may_pull`.
    #[tokio::test]
    async fn pullable_sql_agrees_with_may_pull() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE memberships (user_id TEXT, project TEXT, role TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        for role in ROLES {
            sqlx::query("INSERT INTO memberships VALUES ($1, 'p', $1)")
                .bind(role)
                .execute(&pool)
                .await
                .unwrap();
        }
        for role in ROLES.iter().chain(&["stranger"]) {
            for kind in RecordKind::ALL {
                for project in ["p", "other"] {
                    let row = sqlx::query(concat!(
                        "SELECT CASE WHEN ",
                        pullable_sql!("$1", "$2", "$3"),
                        " THEN 1 ELSE 0 END AS ok"
                    ))
                    .bind(role)
                    .bind(project)
                    .bind(kind.as_str())
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    let expected = project == "p" && may_pull(role, kind);
                    assert_eq!(
                        row.get::<i64, _>("ok") == 1,
                        expected,
                        "{role} {kind:?} {project}"
                    );
                }
            }
        }
    }
}
