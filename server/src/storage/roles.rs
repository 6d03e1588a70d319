//! The roles' table in SQL: the condition that scopes what a user's devices pull, which a test
//! ties to [`crate::access::roles`].

/// An SQL condition that is true when the user (a parameter) may pull a record, given the SQL
/// expressions for the record's project, kind, `restricted` mark and owner
/// ([`crate::access::roles::Role::may_pull_record`]). The roles are compared as stored text, so
/// they are written out here; a test checks every role, kind and audience against the table.
macro_rules! pullable_sql {
    ($user:literal, $project:literal, $kind:literal, $restricted:literal, $owner:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM memberships pm WHERE pm.user_id = ",
            $user,
            " AND pm.project = ",
            $project,
            " AND (pm.role IN ('admin', 'coordinator') OR ((",
            $restricted,
            " = 0 OR ",
            $owner,
            " = ",
            $user,
            ") AND (pm.role = 'researcher' OR (pm.role = 'peer_worker' AND ",
            $kind,
            " IN ('participant', 'session'))))))"
        )
    };
}
pub(crate) use pullable_sql;

#[cfg(test)]
mod tests {
    use crate::access::roles::Role;
    use bothy_sync_core::RecordKind;
    use sqlx::Row;

    /// Runs the pull condition for every role, kind and audience on a fresh SQLite database
    /// and compares it with the table.
    #[tokio::test]
    async fn pullable_sql_agrees_with_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::config::sqlite_url(&dir.path().join("bothy.db"));
        let db = crate::storage::Db::connect(&url).await.unwrap();
        assert!(
            crate::storage::projects::insert(&db.pool, "p", "P", 0)
                .await
                .unwrap()
        );
        // Each role's member is a user whose id is the role's name.
        for role in Role::NAMES {
            assert!(
                crate::storage::accounts::insert_user(&db.pool, role, role, "", false, 0)
                    .await
                    .unwrap()
            );
            crate::storage::accounts::set_membership(&db.pool, "p", role, role)
                .await
                .unwrap();
        }
        // Built at run time, as the statements that hold the condition are.
        let condition = format!(
            "SELECT CASE WHEN {} THEN 1 ELSE 0 END AS ok",
            pullable_sql!("$1", "$2", "$3", "$4", "$5")
        );
        for role in Role::NAMES.iter().chain(&["stranger"]) {
            for kind in RecordKind::ALL {
                for project in ["p", "other"] {
                    for (restricted, owner) in [(0i64, "someone"), (1, "someone"), (1, *role)] {
                        let row = sqlx::query(sqlx::AssertSqlSafe(condition.clone()))
                            .bind(*role)
                            .bind(project)
                            .bind(kind.as_str())
                            .bind(restricted)
                            .bind(owner)
                            .fetch_one(&db.pool)
                            .await
                            .unwrap();
                        let expected = project == "p"
                            && Role::parse(role).is_ok_and(|r| {
                                r.may_pull_record(kind, restricted == 1, owner == *role)
                            });
                        assert_eq!(
                            row.get::<i64, _>("ok") == 1,
                            expected,
                            "{role} {kind:?} {project} restricted {restricted} owner {owner}"
                        );
                    }
                }
            }
        }
    }
}
