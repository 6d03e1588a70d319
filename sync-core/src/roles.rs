//! Project roles and what each may do: one table ([`Role::may`]), used by the server when it
//! checks a pushed change or a request to a project's endpoints, and by devices when they refuse
//! a capture, so a device never accepts offline what the server will refuse at sync.
//!
//! * `admin`, `coordinator`: everything a researcher may do, and they run the project: review
//!   quarantine, read its audit log, manage its sites and activities, answer participants'
//!   subject-rights requests, read its exports and reports.
//! * `researcher`: writes and receives every record kind, resolves conflicts; receives another
//!   user's `private` story only if it was theirs ([`Role::may_pull_record`]).
//! * `peer_worker`: participants and sessions (they log sessions and attendance), and may
//!   write a new participant's contact details but never receives any: once the server holds
//!   them the device deletes its copy. Wellbeing questionnaires and stories are neither
//!   accepted from nor sent to them.
//! * `analyst`: never writes, and receives nothing by sync; reads the project's merged records
//!   through the API in the analysts' (redacted) view, and its exports and reports.
//!
//! Server admins (a flag on the user, not a project role) are not in this table: the server
//! decides what they may.

use crate::schema::RecordKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's role in one project. On the wire and in the database, the lower-case names of
/// [`Role::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the project (not the server admin flag).
    Admin,
    /// Runs the project.
    Coordinator,
    /// Captures every record kind.
    Researcher,
    /// Logs sessions and attendance.
    PeerWorker,
    /// Reads pseudonymous data; never writes.
    Analyst,
}

/// Something a project role may or may not do in its project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Write records of a kind: push them by sync, record them on a device.
    Write(RecordKind),
    /// Receive records of a kind by sync.
    Receive(RecordKind),
    /// Receive records restricted to their author (a `private` story) that another user wrote.
    ReceiveOthersPrivate,
    /// Read the project's merged records, their histories and conflicts through the API.
    ReadRecords,
    /// Read them whole; without this, in the analysts' view (withheld fields left out, free
    /// text redacted).
    ReadFullData,
    /// Choose the value of a field in conflict.
    ResolveConflicts,
    /// See, release and discard the project's quarantined changes.
    ReviewQuarantine,
    /// Read the project's audit log.
    ReadAudit,
    /// Create, change and archive the project's sites and activities, define its own
    /// instruments, and set its follow-up schedule.
    ManageSetup,
    /// Answer a participant's subject-rights requests: export everything held about them, and
    /// erase them.
    SubjectRights,
    /// Read the project's exports, reports and dashboard.
    Analyse,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Coordinator,
        Role::Researcher,
        Role::PeerWorker,
        Role::Analyst,
    ];

    /// Every role's name, in the order of [`Role::ALL`].
    pub const NAMES: [&'static str; 5] = {
        let mut names = [""; 5];
        let mut i = 0;
        while i < names.len() {
            names[i] = Role::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// The role's name as stored and sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Coordinator => "coordinator",
            Role::Researcher => "researcher",
            Role::PeerWorker => "peer_worker",
            Role::Analyst => "analyst",
        }
    }

    /// Parses a role's name; the error names the roles there are.
    pub fn parse(name: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| UnknownRole(name.to_owned()))
    }

    /// The role in words, for people: `peer_worker` is "peer worker".
    pub const fn in_words(self) -> &'static str {
        match self {
            Role::PeerWorker => "peer worker",
            other => other.as_str(),
        }
    }

    /// The role in words, plural ("peer workers").
    pub const fn in_words_plural(self) -> &'static str {
        match self {
            Role::Admin => "admins",
            Role::Coordinator => "coordinators",
            Role::Researcher => "researchers",
            Role::PeerWorker => "peer workers",
            Role::Analyst => "analysts",
        }
    }

    /// Whether the role may do this in its project: the table of every rule.
    pub const fn may(self, capability: Capability) -> bool {
        use Capability as C;
        use Role as R;
        match capability {
            C::Write(kind) => match self {
                R::Admin | R::Coordinator | R::Researcher => true,
                R::PeerWorker => matches!(
                    kind,
                    RecordKind::Participant | RecordKind::Contact | RecordKind::Session
                ),
                R::Analyst => false,
            },
            // A device is sent what it may write, except direct identifiers to peer workers.
            C::Receive(kind) => match self {
                R::Admin | R::Coordinator | R::Researcher => true,
                R::PeerWorker => matches!(kind, RecordKind::Participant | RecordKind::Session),
                R::Analyst => false,
            },
            C::ReceiveOthersPrivate => matches!(self, R::Admin | R::Coordinator),
            C::ReadRecords => true,
            C::ReadFullData => !matches!(self, R::Analyst),
            C::ResolveConflicts => matches!(self, R::Admin | R::Coordinator | R::Researcher),
            C::ReviewQuarantine | C::ReadAudit | C::ManageSetup | C::SubjectRights => {
                matches!(self, R::Admin | R::Coordinator)
            }
            C::Analyse => matches!(self, R::Admin | R::Coordinator | R::Analyst),
        }
    }

    /// Whether the role may write records of this kind.
    pub const fn may_push(self, kind: RecordKind) -> bool {
        self.may(Capability::Write(kind))
    }

    /// Whether the role receives records of this kind by sync.
    pub const fn may_pull(self, kind: RecordKind) -> bool {
        self.may(Capability::Receive(kind))
    }

    /// Whether the role receives one record by sync: one of a kind it receives, and, if the
    /// record is restricted to its author (a `private` story), only if the user wrote it or the
    /// role receives others' private records.
    pub const fn may_pull_record(self, kind: RecordKind, restricted: bool, own: bool) -> bool {
        self.may_pull(kind) && (!restricted || own || self.may(Capability::ReceiveOthersPrivate))
    }

    /// Whether the role may write records of any kind at all.
    pub fn writes(self) -> bool {
        RecordKind::ALL.into_iter().any(|k| self.may_push(k))
    }

    /// The record kinds the role receives by sync, in the order of [`RecordKind::ALL`].
    pub fn pulled_kinds(self) -> Vec<RecordKind> {
        RecordKind::ALL
            .into_iter()
            .filter(|k| self.may_pull(*k))
            .collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Role, UnknownRole> {
        Role::parse(name)
    }
}

/// A name that is not a role's (the name given is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "role must be one of {}", Role::NAMES.join(", "))
    }
}

impl std::error::Error for UnknownRole {}

impl Capability {
    /// The roles that may do this, in the order of [`Role::ALL`].
    pub fn roles(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| r.may(self)).collect()
    }

    /// What it is, in words that follow "may" or "may not" ("review quarantine").
    pub fn in_words(self) -> String {
        match self {
            Capability::Write(kind) => format!("record {}", kind_in_words(kind)),
            Capability::Receive(kind) => format!("receive {}", kind_in_words(kind)),
            Capability::ReceiveOthersPrivate => "receive private stories others wrote".into(),
            Capability::ReadRecords => "read its records".into(),
            Capability::ReadFullData => "read its records unredacted".into(),
            Capability::ResolveConflicts => "resolve conflicts".into(),
            Capability::ReviewQuarantine => "review quarantine".into(),
            Capability::ReadAudit => "read its audit log".into(),
            Capability::ManageSetup => {
                "manage its set-up (sites, activities, instruments and follow-up schedule)".into()
            }
            Capability::SubjectRights => "export or erase a participant".into(),
            Capability::Analyse => "read its exports and reports".into(),
        }
    }

    /// The roles that may do this, in words ("admins and coordinators").
    pub fn roles_in_words(self) -> String {
        let words: Vec<&str> = self
            .roles()
            .into_iter()
            .map(Role::in_words_plural)
            .collect();
        match words.as_slice() {
            [] => "nobody".into(),
            [one] => (*one).into(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }
}

/// Every role's name, in the order of [`Role::ALL`].
pub const ROLES: [&str; 5] = Role::NAMES;

/// Whether a role, as stored or sent (text), may write records of this kind. An unknown role
/// may not.
pub fn may_push(role: &str, kind: RecordKind) -> bool {
    Role::parse(role).is_ok_and(|r| r.may_push(kind))
}

/// Whether a role, as stored or sent (text), receives records of this kind by sync. An unknown
/// role receives nothing.
pub fn may_pull(role: &str, kind: RecordKind) -> bool {
    Role::parse(role).is_ok_and(|r| r.may_pull(kind))
}

/// Whether a role, as stored or sent (text), receives one record by sync (see
/// [`Role::may_pull_record`]). An unknown role receives nothing.
pub fn may_pull_record(role: &str, kind: RecordKind, restricted: bool, own: bool) -> bool {
    Role::parse(role).is_ok_and(|r| r.may_pull_record(kind, restricted, own))
}

/// Whether a role, as stored or sent (text), may write any record at all.
pub fn may_write(role: &str) -> bool {
    Role::parse(role).is_ok_and(Role::writes)
}

/// A role (as text) in words: `peer_worker` is "peer worker".
pub fn role_in_words(role: &str) -> String {
    match Role::parse(role) {
        Ok(r) => r.in_words().to_owned(),
        Err(_) => role.replace('_', " "),
    }
}

/// Records of a kind in words, plural ("wellbeing questionnaires").
pub fn kind_in_words(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Participant => "participants",
        RecordKind::Contact => "participants' contact details",
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
    fn names_parse_back_and_are_the_wire_strings() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::Value::from(role.as_str())
            );
            assert_eq!(
                serde_json::from_value::<Role>(role.as_str().into()).unwrap(),
                role
            );
            assert_eq!(role.to_string(), role.as_str());
        }
        assert_eq!(
            ROLES,
            [
                "admin",
                "coordinator",
                "researcher",
                "peer_worker",
                "analyst"
            ]
        );
        assert_eq!(Role::PeerWorker.in_words(), "peer worker");
    }

    #[test]
    fn an_unknown_role_is_refused_naming_the_roles() {
        for name in ["Admin", "peer worker", "", "owner"] {
            let err = Role::parse(name).unwrap_err();
            assert_eq!(err.0, name);
            assert_eq!(
                err.to_string(),
                "role must be one of admin, coordinator, researcher, peer_worker, analyst"
            );
        }
        assert!(serde_json::from_value::<Role>("owner".into()).is_err());
        assert!(!may_push("owner", RecordKind::Participant));
        assert!(!may_write("owner"));
    }

    /// The table, written out: a change to any rule must change this test too.
    #[test]
    fn the_table() {
        use Capability as C;
        use Role as R;
        let cases: &[(Capability, &[Role])] = &[
            (C::ReadRecords, &Role::ALL),
            (
                C::ReadFullData,
                &[R::Admin, R::Coordinator, R::Researcher, R::PeerWorker],
            ),
            (
                C::ResolveConflicts,
                &[R::Admin, R::Coordinator, R::Researcher],
            ),
            (C::ReviewQuarantine, &[R::Admin, R::Coordinator]),
            (C::ReadAudit, &[R::Admin, R::Coordinator]),
            (C::ManageSetup, &[R::Admin, R::Coordinator]),
            (C::SubjectRights, &[R::Admin, R::Coordinator]),
            (C::Analyse, &[R::Admin, R::Coordinator, R::Analyst]),
            (C::ReceiveOthersPrivate, &[R::Admin, R::Coordinator]),
        ];
        for (capability, roles) in cases {
            assert_eq!(capability.roles(), roles.to_vec(), "{capability:?}");
        }
        let full = [R::Admin, R::Coordinator, R::Researcher];
        for kind in RecordKind::ALL {
            let mut writers = full.to_vec();
            let mut receivers = full.to_vec();
            if matches!(kind, RecordKind::Participant | RecordKind::Session) {
                writers.push(R::PeerWorker);
                receivers.push(R::PeerWorker);
            }
            // Peer workers may register a person's contact details but never receive any.
            if kind == RecordKind::Contact {
                writers.push(R::PeerWorker);
            }
            assert_eq!(C::Write(kind).roles(), writers, "{kind}");
            assert_eq!(C::Receive(kind).roles(), receivers, "{kind}");
        }
        // A private story reaches its author and those who run the project.
        for role in Role::ALL {
            let story = RecordKind::Story;
            assert_eq!(
                role.may_pull_record(story, true, false),
                matches!(role, R::Admin | R::Coordinator),
                "{role}"
            );
            assert_eq!(
                role.may_pull_record(story, true, true),
                role.may_pull(story),
                "{role}"
            );
            assert_eq!(
                role.may_pull_record(story, false, false),
                role.may_pull(story),
                "{role}"
            );
        }
        assert_eq!(
            C::ReviewQuarantine.roles_in_words(),
            "admins and coordinators"
        );
        assert_eq!(
            C::ResolveConflicts.roles_in_words(),
            "admins, coordinators and researchers"
        );
    }

    #[test]
    fn writing_roles_are_those_that_may_push_something() {
        let writers: Vec<&str> = ROLES
            .iter()
            .copied()
            .filter(|r| RecordKind::ALL.iter().any(|k| may_push(r, *k)))
            .collect();
        assert_eq!(
            writers,
            ["admin", "coordinator", "researcher", "peer_worker"]
        );
        for role in Role::ALL {
            assert_eq!(may_write(role.as_str()), role.writes(), "{role}");
            assert_eq!(
                role.pulled_kinds(),
                RecordKind::ALL
                    .into_iter()
                    .filter(|k| may_pull(role.as_str(), *k))
                    .collect::<Vec<_>>()
            );
        }
        assert!(Role::Analyst.pulled_kinds().is_empty());
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
