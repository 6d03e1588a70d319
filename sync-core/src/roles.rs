//! Project roles and which record kinds each may write and receive: one table, used by the
//! server when it checks a pushed change and by devices when they refuse a capture, so a device
//! never accepts offline what the server will refuse at sync.
//!
//! * `admin`, `coordinator`, `researcher`: write and receive every record kind of their projects.
//! * `peer_worker`: participants and sessions only (they log sessions and attendance);
//!   wellbeing questionnaires and stories are neither accepted from nor sent to them.
//! * `analyst`: never writes, and receives nothing by sync (merged data is read through the API).

use crate::schema::RecordKind;

/// Every project role.
pub const ROLES: &[&str] = &[
    "admin",
    "coordinator",
    "researcher",
    "peer_worker",
    "analyst",
];

/// Roles that may write and receive every record kind.
pub const FULL_ROLES: &[&str] = &["admin", "coordinator", "researcher"];

/// The record kinds a peer worker may write and receive.
pub const PEER_WORKER_KINDS: &[RecordKind] = &[RecordKind::Participant, RecordKind::Session];

/// Roles that may write at least some records into a project.
pub const WRITING_ROLES: &[&str] = &["admin", "coordinator", "researcher", "peer_worker"];

/// Whether a role may write records of this kind.
pub fn may_push(role: &str, kind: RecordKind) -> bool {
    FULL_ROLES.contains(&role) || (role == "peer_worker" && PEER_WORKER_KINDS.contains(&kind))
}

/// Whether a role receives records of this kind by sync. The same rule as [`may_push`]: a
/// device is sent exactly what it may write.
pub fn may_pull(role: &str, kind: RecordKind) -> bool {
    may_push(role, kind)
}

/// Whether a role may write any record at all.
pub fn may_write(role: &str) -> bool {
    WRITING_ROLES.contains(&role)
}

/// A role in words (`peer_worker` is "peer worker").
pub fn role_in_words(role: &str) -> String {
    role.replace('_', " ")
}

/// Records of a kind in words, plural ("wellbeing questionnaires").
pub fn kind_in_words(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Participant => "participants",
        RecordKind::Session => "sessions",
        RecordKind::Wellbeing => "wellbeing questionnaires",
        RecordKind::Story => "stories",
    }
}

/// Why a user holding `role` in `project` may not record `kind` there, for the person holding
/// the device; `None` when they may. `role` is `None` when the user is not a member.
pub fn capture_refusal(project: &str, role: Option<&str>, kind: RecordKind) -> Option<String> {
    match role {
        Some(role) if may_push(role, kind) => None,
        Some(role) if may_write(role) => Some(format!(
            "your role in project {project} ({}) may not record {}; ask a coordinator",
            role_in_words(role),
            kind_in_words(kind)
        )),
        Some(role) => Some(format!(
            "your role in project {project} ({}) may not record data; ask a coordinator",
            role_in_words(role)
        )),
        None => Some(format!(
            "you are not a member of project {project}; ask a coordinator"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_roles_are_those_that_may_push_something() {
        let writers: Vec<&str> = ROLES
            .iter()
            .copied()
            .filter(|r| RecordKind::ALL.iter().any(|k| may_push(r, *k)))
            .collect();
        assert_eq!(writers, WRITING_ROLES);
        assert!(RecordKind::ALL.iter().all(|k| !may_pull("analyst", *k)));
    }

    #[test]
    fn refusals_name_the_project_role_and_kind() {
        assert_eq!(
            capture_refusal("p", Some("peer_worker"), RecordKind::Wellbeing).as_deref(),
            Some(
                "your role in project p (peer worker) may not record wellbeing questionnaires; \
                 ask a coordinator"
            )
        );
        assert_eq!(
            capture_refusal("p", Some("peer_worker"), RecordKind::Session),
            None
        );
        assert_eq!(
            capture_refusal("p", Some("researcher"), RecordKind::Story),
            None
        );
        assert!(
            capture_refusal("p", Some("analyst"), RecordKind::Participant)
                .unwrap()
                .contains("(analyst) may not record data")
        );
        assert!(
            capture_refusal("p", None, RecordKind::Story)
                .unwrap()
                .contains("not a member of project p")
        );
    }
}
