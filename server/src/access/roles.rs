//! Who may do what on the server, in one place: the project roles' table (shared with devices,
//! from sync-core's `roles`), what server admins may, and [`ProjectAccess`], the one check every
//! project route makes. The SQL that scopes pulls by the table is kept in
//! [`crate::storage::roles`], with a test that ties it to the table.
//!
//! * `admin`, `coordinator`, `researcher`: push and pull every record kind of their projects.
//! * `peer_worker`: pushes and pulls participants and sessions only (they log sessions and
//!   attendance); wellbeing responses and stories are neither accepted from nor sent to them.
//! * `analyst`: never writes, and receives nothing by sync (merged data is read through the API).
//! * Server admins may do everything a project's `admin` may, on every project, whatever their
//!   membership; through a device credential they have their memberships' rights only.

use crate::access::auth::{DeviceAuth, UserAuth};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The table lives in sync-core, so devices refuse at capture exactly what the server refuses
/// at sync.
pub use bothy_sync_core::roles::{
    Capability, ROLES, Role, may_pull, may_pull_record, may_push, may_write,
};

/// Whether a user (a server admin or not, holding `role` in the project, `None` for no
/// membership) may do this in the project. Server admins may do everything.
pub fn allows(server_admin: bool, role: Option<Role>, capability: Capability) -> bool {
    server_admin || role.is_some_and(|r| r.may(capability))
}

/// Whether a user may load instrument wording: server admins only, because the wording is
/// licensed text that applies across projects.
pub fn may_load_wording(server_admin: bool) -> bool {
    server_admin
}

/// Whether a server admin naming a project that does not exist is told so (`404`). Set-up and
/// analysis act on the project itself; the other project routes read what it holds, and for a
/// project that does not exist find nothing (an empty list, or `404` for the record or entry
/// named).
fn needs_the_project(capability: Capability) -> bool {
    matches!(capability, Capability::ManageSetup | Capability::Analyse)
}

/// Who asks a project route: a signed-in user, or an enrolled device, which has its user's
/// memberships but never the server admin's rights.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// The user.
    pub user_id: &'a str,
    /// Whether the server admin's rights apply.
    pub server_admin: bool,
}

impl<'a> From<&'a UserAuth> for Asker<'a> {
    fn from(user: &'a UserAuth) -> Self {
        Asker {
            user_id: &user.user_id,
            server_admin: user.is_admin,
        }
    }
}

impl<'a> From<&'a DeviceAuth> for Asker<'a> {
    fn from(device: &'a DeviceAuth) -> Self {
        Asker {
            user_id: &device.user_id,
            server_admin: false,
        }
    }
}

/// What the caller of a project route may do there, once [`ProjectAccess::require`] let them
/// in.
#[derive(Debug, Clone, Copy)]
pub struct ProjectAccess {
    /// The caller's role in the project (`None`: a server admin who is not a member).
    pub role: Option<Role>,
    /// Whether the server admin's rights apply.
    pub server_admin: bool,
}

impl ProjectAccess {
    /// Lets the caller in to do `capability` in project `slug`, or answers for every project
    /// route alike:
    ///
    /// * a server admin (through a user token) is let in to every project, whatever their
    ///   membership, with every right; for set-up and analysis, a project that does not exist
    ///   is `404 not_found`;
    /// * anyone else who is not a member is `403` "you are not a member of project `slug`",
    ///   whether or not the project exists, so the answer does not tell which projects exist;
    /// * a member whose role may not do this is `403` naming the role, what it may not do, and
    ///   who may.
    pub async fn require(
        state: &AppState,
        asker: impl Into<Asker<'_>>,
        slug: &str,
        capability: Capability,
    ) -> ApiResult<ProjectAccess> {
        let asker = asker.into();
        let role = crate::storage::accounts::role_in(&state.db.pool, slug, asker.user_id)
            .await?
            .map(|name| {
                Role::parse(&name).map_err(|_| {
                    ApiError::Internal(anyhow::anyhow!(
                        "the membership of user {} in project {slug} holds `{name}`, which is \
                         not a role",
                        asker.user_id
                    ))
                })
            })
            .transpose()?;
        let access = ProjectAccess {
            role,
            server_admin: asker.server_admin,
        };
        if asker.server_admin {
            if role.is_none() && needs_the_project(capability) && !exists(state, slug).await? {
                return Err(ApiError::NotFound(format!("no project `{slug}`")));
            }
            return Ok(access);
        }
        match role {
            None => Err(ApiError::Forbidden(format!(
                "you are not a member of project `{slug}`"
            ))),
            Some(role) if role.may(capability) => Ok(access),
            Some(role) => Err(ApiError::Forbidden(format!(
                "your role in project `{slug}` ({}) may not {}: that is for its {}",
                role.in_words(),
                capability.in_words(),
                capability.roles_in_words()
            ))),
        }
    }

    /// Whether the caller may also do this in the project.
    pub fn may(&self, capability: Capability) -> bool {
        allows(self.server_admin, self.role, capability)
    }

    /// Whether the caller reads the project's records in the analysts' view (withheld fields
    /// left out, free text redacted: [`crate::analysis::redact`]).
    pub fn analysts_view(&self) -> bool {
        !self.may(Capability::ReadFullData)
    }
}

async fn exists(state: &AppState, slug: &str) -> ApiResult<bool> {
    Ok(crate::storage::projects::exists(&state.db.pool, slug).await?)
}

/// A scope name for one project and role (as stored): the device's cursor is tied to the set
/// of these, so a change of role (for example a peer worker made a researcher) starts the device
/// again from snapshots and it receives what it could not see before. `None` for a role that
/// receives nothing.
pub fn scope_name(project: &str, role: &str) -> Option<String> {
    let kinds = Role::parse(role).ok()?.pulled_kinds();
    if kinds.is_empty() {
        None
    } else if kinds.len() == bothy_sync_core::RecordKind::ALL.len() {
        Some(project.to_owned())
    } else {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        Some(format!("{project}:{}", kinds.join(",")))
    }
}

/// The SQL condition that scopes pulls to what a user may receive, kept with the other SQL.
pub(crate) use crate::storage::roles::pullable_sql;

#[cfg(test)]
mod tests {
    use super::*;
    use bothy_sync_core::RecordKind;

    /// Every capability that is not about one record kind.
    const PROJECT_WIDE: [Capability; 8] = [
        Capability::ReadRecords,
        Capability::ReadFullData,
        Capability::ResolveConflicts,
        Capability::ReviewQuarantine,
        Capability::ReadAudit,
        Capability::ManageSetup,
        Capability::SubjectRights,
        Capability::Analyse,
    ];

    #[test]
    fn server_admins_may_everything_and_others_what_their_role_may() {
        let capabilities = PROJECT_WIDE
            .into_iter()
            .chain([Capability::Write(RecordKind::Story)]);
        for capability in capabilities {
            assert!(allows(true, None, capability), "{capability:?}");
            assert!(!allows(false, None, capability), "{capability:?}");
            for role in Role::ALL {
                assert!(allows(true, Some(role), capability));
                assert_eq!(
                    allows(false, Some(role), capability),
                    role.may(capability),
                    "{role} {capability:?}"
                );
            }
        }
        assert!(may_load_wording(true));
        assert!(!may_load_wording(false));
    }

    #[test]
    fn who_may_analyse_and_answer_subject_rights() {
        for role in Role::ALL {
            assert_eq!(
                allows(false, Some(role), Capability::Analyse),
                ["admin", "coordinator", "analyst"].contains(&role.as_str()),
                "{role}"
            );
            assert_eq!(
                allows(false, Some(role), Capability::SubjectRights),
                ["admin", "coordinator"].contains(&role.as_str()),
                "{role}"
            );
        }
    }

    /// A server on a fresh SQLite database.
    async fn state(dir: &tempfile::TempDir) -> AppState {
        let url = crate::config::sqlite_url(&dir.path().join("bothy.db"));
        AppState::new(
            crate::storage::Db::connect(&url).await.unwrap(),
            crate::access::auth::JwtKeys::from_secret(b"a secret of thirty-two characters"),
            crate::config::Config::for_database(url),
        )
    }

    /// A user, a server admin or not, with a role in a project or none.
    async fn user(
        state: &AppState,
        name: &str,
        server_admin: bool,
        role: Option<(&str, Role)>,
    ) -> UserAuth {
        use crate::access::accounts::{add_member_in, create_user_in};
        let id = create_user_in(&state.db, name, "0123456789ab", server_admin)
            .await
            .unwrap();
        if let Some((project, role)) = role {
            add_member_in(&state.db, project, name, role.as_str())
                .await
                .unwrap();
        }
        UserAuth {
            user_id: id,
            username: name.to_owned(),
            is_admin: server_admin,
        }
    }

    fn forbidden(answer: ApiResult<ProjectAccess>) -> String {
        match answer {
            Err(ApiError::Forbidden(message)) => message,
            other => panic!("expected 403, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn project_access_is_decided_alike_for_every_route() {
        use crate::access::accounts::create_project_in;
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        create_project_in(&state.db, "p", "P").await.unwrap();
        create_project_in(&state.db, "q", "Q").await.unwrap();
        let cora = user(&state, "cora", false, Some(("p", Role::Coordinator))).await;
        let ana = user(&state, "ana", false, Some(("p", Role::Analyst))).await;
        let rita = user(&state, "rita", false, Some(("q", Role::Researcher))).await;
        let sam = user(&state, "sam", true, Some(("p", Role::Analyst))).await;
        let root = user(&state, "root", true, None).await;
        let every = PROJECT_WIDE;

        // Not a member: the same 403 whether or not the project exists, whatever is asked.
        for slug in ["p", "nowhere"] {
            for capability in every {
                assert_eq!(
                    forbidden(ProjectAccess::require(&state, &rita, slug, capability).await),
                    format!("you are not a member of project `{slug}`"),
                    "{capability:?}"
                );
            }
        }

        // A member: what the table allows, else 403 naming the role, what it may not do and
        // who may.
        for capability in every {
            let answer = ProjectAccess::require(&state, &ana, "p", capability).await;
            assert_eq!(
                answer.is_ok(),
                Role::Analyst.may(capability),
                "{capability:?}"
            );
        }
        assert_eq!(
            forbidden(
                ProjectAccess::require(&state, &ana, "p", Capability::ReviewQuarantine).await
            ),
            "your role in project `p` (analyst) may not review quarantine: that is for its admins \
             and coordinators"
        );
        let analyst = ProjectAccess::require(&state, &ana, "p", Capability::Analyse)
            .await
            .unwrap();
        assert_eq!(analyst.role, Some(Role::Analyst));
        assert!(analyst.analysts_view());
        let coordinator = ProjectAccess::require(&state, &cora, "p", Capability::SubjectRights)
            .await
            .unwrap();
        assert!(!coordinator.analysts_view());

        // A server admin: every right and the full view, whatever their membership.
        for capability in every {
            for admin in [&sam, &root] {
                let access = ProjectAccess::require(&state, admin, "p", capability)
                    .await
                    .unwrap();
                assert!(!access.analysts_view(), "{capability:?}");
            }
        }
        // For a project that does not exist: 404 where the route acts on the project itself,
        // elsewhere nothing to find.
        for capability in every {
            let answer = ProjectAccess::require(&state, &root, "nowhere", capability).await;
            match capability {
                Capability::ManageSetup | Capability::Analyse => match answer {
                    Err(ApiError::NotFound(m)) => assert_eq!(m, "no project `nowhere`"),
                    other => panic!("{capability:?}: {other:?}"),
                },
                _ => assert!(answer.is_ok(), "{capability:?}: {answer:?}"),
            }
        }

        // Through a device, a server admin has their membership's rights only.
        let device = DeviceAuth {
            device_id: "d".into(),
            user_id: sam.user_id.clone(),
            username: sam.username.clone(),
            actor: bothy_sync_core::automerge::ActorId::random(),
        };
        let read = ProjectAccess::require(&state, &device, "p", Capability::ReadRecords)
            .await
            .unwrap();
        assert!(read.analysts_view());
        assert!(
            forbidden(
                ProjectAccess::require(&state, &device, "p", Capability::ReviewQuarantine).await
            )
            .contains("(analyst) may not review quarantine")
        );
        assert_eq!(
            forbidden(ProjectAccess::require(&state, &device, "q", Capability::ReadRecords).await),
            "you are not a member of project `q`"
        );
    }

    /// Scope names are kept in devices' cursors: a change to them restarts every device.
    #[test]
    fn scope_names_are_unchanged() {
        for role in ["admin", "coordinator", "researcher"] {
            assert_eq!(scope_name("p", role).as_deref(), Some("p"), "{role}");
        }
        assert_eq!(
            scope_name("p", "peer_worker").as_deref(),
            Some("p:participant,session")
        );
        assert_eq!(scope_name("p", "analyst"), None);
        assert_eq!(scope_name("p", "stranger"), None);
    }
}
