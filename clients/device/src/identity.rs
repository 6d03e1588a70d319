//! Who this device is: enrolment, login, and the projects its user may record in.
//!
//! The user's role in each project arrives with enrolment (so a device that has not synced yet
//! already knows it) and again on every sync whose set-up differs from the one held (a role
//! changed on the server reaches the device then). Capture checks it with the same per-kind
//! rules the server applies.
//!
//! The server assigns each device an id, a revocable token and the Automerge actor its changes
//! must be authored under (a change under any other actor is refused as forged provenance).
//! All three are kept in the store's `meta` table; a password never is. Capture needs the
//! actor, so it waits for enrolment, which happens once, in the office, before fieldwork.
//!
//! Enrolment survives a lost answer: before asking, the device makes an enrolment id and keeps
//! it with the server and code; asking again with the same code sends the same id, and the
//! server answers with the same device (and a fresh token) instead of "already used".

use crate::api::{Enrolment, Membership, User};
use crate::error::{DeviceError, Result};
use crate::store::{self, key};
use crate::{Device, now};
use bothy_sync_core::RecordKind;
use bothy_sync_core::automerge::ActorId;
use bothy_sync_core::protocol::Cursor;
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;
use std::collections::BTreeMap;

/// The identity a device holds after enrolment.
#[derive(Clone)]
pub(crate) struct Identity {
    pub server: String,
    pub device_id: String,
    pub token: String,
    pub actor: ActorId,
    pub user: Option<User>,
    pub memberships: Vec<Membership>,
    pub default_project: Option<String>,
}

/// What enrolment or login set up.
#[derive(Debug, Clone, Serialize)]
pub struct Enrolled {
    /// The server this device syncs with.
    pub server: String,
    /// The device's id on the server.
    pub device_id: String,
    /// The user the device belongs to.
    pub username: String,
    /// The project capture goes to when none is named.
    pub default_project: Option<String>,
    /// The user's projects and roles.
    pub memberships: Vec<Membership>,
}

impl Identity {
    /// The project to record into: `requested` if the user may write there, else the default.
    pub fn writable_project(&self, requested: Option<&str>) -> Result<String> {
        match requested {
            Some(p) => {
                self.check_writable(p)?;
                Ok(p.to_owned())
            }
            None => match &self.default_project {
                Some(p) => {
                    self.check_writable(p)?;
                    Ok(p.clone())
                }
                None => Err(DeviceError::Usage(self.no_default_message())),
            },
        }
    }

    /// Refuses if the user may not record data in `project`.
    pub fn check_writable(&self, project: &str) -> Result<()> {
        match self.memberships.iter().find(|m| m.project == project) {
            Some(m) if m.can_write() => Ok(()),
            Some(m) => Err(DeviceError::Usage(format!(
                "your role in project `{project}` is {}, which cannot record data",
                m.role
            ))),
            None => Err(DeviceError::Usage(format!(
                "you are not a member of project `{project}`; {}",
                self.projects_sentence()
            ))),
        }
    }

    /// Refuses if the user's role in `project` may not record `kind` there: the same rule the
    /// server applies at sync (sync-core's `roles`), so nothing is captured offline only to be
    /// refused later. The roles come with enrolment and are refreshed on every sync.
    pub fn check_may_record(&self, project: &str, kind: RecordKind) -> Result<()> {
        self.check_writable(project)?;
        let role = self
            .memberships
            .iter()
            .find(|m| m.project == project)
            .map(|m| m.role.as_str());
        match bothy_sync_core::roles::capture_refusal(project, role, kind) {
            None => Ok(()),
            Some(reason) => Err(DeviceError::Usage(reason)),
        }
    }

    fn no_default_message(&self) -> String {
        let writable: Vec<&str> = self
            .memberships
            .iter()
            .filter(|m| m.can_write())
            .map(|m| m.project.as_str())
            .collect();
        if writable.is_empty() {
            format!(
                "you cannot record data in any project; {}",
                self.projects_sentence()
            )
        } else {
            format!(
                "choose a project with --project: you can record in {}",
                writable.join(", ")
            )
        }
    }

    fn projects_sentence(&self) -> String {
        if self.memberships.is_empty() {
            "you are not a member of any project yet: ask a project admin to add you, then run \
             `bothy status --refresh`"
                .to_owned()
        } else {
            let list: Vec<String> = self
                .memberships
                .iter()
                .map(|m| format!("{} ({})", m.project, m.role))
                .collect();
            format!("your projects: {}", list.join(", "))
        }
    }

    pub fn username(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.username.as_str())
    }
}

/// The project capture should default to: the previous default if still writable, else the
/// only project, else the first writable one.
fn pick_default(previous: Option<&str>, memberships: &[Membership]) -> Option<String> {
    if let Some(p) = previous
        && memberships.iter().any(|m| m.project == p && m.can_write())
    {
        return Some(p.to_owned());
    }
    if let [only] = memberships {
        return Some(only.project.clone());
    }
    memberships
        .iter()
        .find(|m| m.can_write())
        .map(|m| m.project.clone())
}

pub(crate) async fn load_identity(
    conn: &mut SqliteConnection,
    vault: &crate::vault::Vault,
) -> Result<Option<Identity>> {
    vault.check()?;
    let rows = sqlx::query("SELECT key, value FROM meta")
        .fetch_all(&mut *conn)
        .await?;
    let get = |k: &str| {
        rows.iter()
            .find(|r| r.get::<String, _>(0) == k)
            .map(|r| r.get::<String, _>(1))
    };
    let (Some(server), Some(device_id), Some(token), Some(actor)) = (
        get(key::SERVER),
        get(key::DEVICE_ID),
        get(key::DEVICE_TOKEN),
        get(key::ACTOR),
    ) else {
        return Ok(None);
    };
    let token = store::open_meta(vault, key::DEVICE_TOKEN, token)?;
    let actor = ActorId::try_from(actor.as_str())
        .map_err(|e| DeviceError::Store(format!("stored actor is corrupt: {e}")))?;
    let user = get(key::USER).and_then(|u| serde_json::from_str(&u).ok());
    let memberships = get(key::MEMBERSHIPS)
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or_default();
    Ok(Some(Identity {
        server,
        device_id,
        token,
        actor,
        user,
        memberships,
        default_project: get(key::DEFAULT_PROJECT),
    }))
}

/// Takes on the user's roles as the server sent them on sync (project slug to role), replacing
/// the memberships held, and picks the default project again. Part of applying a sync answer.
pub(crate) async fn adopt_roles(
    conn: &mut SqliteConnection,
    roles: &BTreeMap<String, String>,
) -> Result<()> {
    let memberships: Vec<Membership> = roles
        .iter()
        .map(|(project, role)| Membership {
            project: project.clone(),
            role: role.clone(),
        })
        .collect();
    let previous = store::meta_get(conn, key::DEFAULT_PROJECT).await?;
    let default = pick_default(previous.as_deref(), &memberships);
    store::meta_set(conn, key::MEMBERSHIPS, &json(&memberships)).await?;
    match &default {
        Some(p) => store::meta_set(conn, key::DEFAULT_PROJECT, p).await,
        None => store::meta_delete(conn, key::DEFAULT_PROJECT).await,
    }
}

/// The user's role in each of their projects as last heard from the server; `None` when the
/// store has never held them.
pub(crate) async fn roles(conn: &mut SqliteConnection) -> Result<Option<BTreeMap<String, String>>> {
    let Some(stored) = store::meta_get(conn, key::MEMBERSHIPS).await? else {
        return Ok(None);
    };
    let memberships: Vec<Membership> = match serde_json::from_str(&stored) {
        Ok(m) => m,
        Err(_) => return Ok(None),
    };
    Ok(Some(
        memberships
            .into_iter()
            .map(|m| (m.project, m.role))
            .collect(),
    ))
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data always serialises")
}

impl Device {
    pub(crate) async fn identity(&self) -> Result<Option<Identity>> {
        let mut conn = self.pool.acquire().await?;
        load_identity(&mut conn, &self.vault).await
    }

    pub(crate) async fn require_identity(&self) -> Result<Identity> {
        self.identity().await?.ok_or(DeviceError::NotEnrolled)
    }

    /// Whether this device has been enrolled.
    pub async fn is_enrolled(&self) -> Result<bool> {
        Ok(self.identity().await?.is_some())
    }

    /// The Automerge actor this device authors changes under, once enrolled.
    pub async fn actor(&self) -> Result<Option<ActorId>> {
        Ok(self.identity().await?.map(|i| i.actor))
    }

    /// Enrols this device on `server` with a single-use code from an admin, naming the device
    /// `name` (e.g. "field tablet 3").
    pub async fn enrol(&self, server: &str, code: &str, name: &str) -> Result<Enrolled> {
        let code = code.trim();
        if code.is_empty() {
            return Err(DeviceError::Usage("the enrolment code is empty".into()));
        }
        let api = self.api(server)?;
        self.check_can_adopt(api.server()).await?;
        let enrolment_id = self.pending_enrolment(api.server(), code).await?;
        let enrolment = match api.enrol(code, &device_name(name), &enrolment_id).await {
            Ok(e) => e,
            Err(e) if e.is_temporary() => return Err(e.during_enrolment()),
            Err(e) => {
                // Refused: this code will not work again, so nor will its id.
                self.forget_pending_enrolment().await?;
                return Err(e);
            }
        };
        let enrolled = self.adopt_identity(api.server(), &enrolment).await?;
        self.forget_pending_enrolment().await?;
        Ok(enrolled)
    }

    /// The enrolment id to send with `code` to `server`: the one kept from an earlier try of
    /// the same enrolment (whose answer never arrived), or a new one, kept before it is sent.
    async fn pending_enrolment(&self, server: &str, code: &str) -> Result<String> {
        let code = normalise_code(code);
        let mut tx = store::begin_write(&self.pool).await?;
        let kept = store::meta_get_sealed(&mut tx, &self.vault, key::PENDING_ENROLMENT)
            .await?
            .and_then(|v| serde_json::from_str::<PendingEnrolment>(&v).ok());
        if let Some(p) = kept
            && p.server == server
            && p.code == code
        {
            return Ok(p.enrolment_id);
        }
        let pending = PendingEnrolment {
            server: server.to_owned(),
            code,
            enrolment_id: uuid::Uuid::new_v4().to_string(),
        };
        store::meta_set_sealed(
            &mut tx,
            &self.vault,
            key::PENDING_ENROLMENT,
            &json(&pending),
        )
        .await?;
        tx.commit().await?;
        Ok(pending.enrolment_id)
    }

    async fn forget_pending_enrolment(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        store::meta_delete(&mut conn, key::PENDING_ENROLMENT).await
    }

    /// Logs in as `username` and registers this device for that user. The password is used for
    /// this exchange only and never stored; the device keeps its own token.
    pub async fn login(
        &self,
        server: &str,
        username: &str,
        password: &str,
        name: &str,
    ) -> Result<Enrolled> {
        let api = self.api(server)?;
        self.check_can_adopt(api.server()).await?;
        let login = api.login(username, password).await?;
        let enrolment = api
            .register(&login.access_token, &device_name(name))
            .await?;
        self.adopt_identity(api.server(), &enrolment).await
    }

    async fn check_can_adopt(&self, server: &str) -> Result<()> {
        let Some(old) = self.identity().await? else {
            return Ok(());
        };
        if old.server == server {
            return Ok(());
        }
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM records")
            .fetch_one(&self.pool)
            .await?;
        if count > 0 {
            return Err(DeviceError::Usage(format!(
                "this store holds {count} records of the server at {}; use a separate store \
                 (--store) for {server}",
                old.server
            )));
        }
        Ok(())
    }

    /// Takes on the identity the server assigned (the answer to enrolment or registration):
    /// stores the device id, token and actor, the user and their memberships, and picks a
    /// default project. Enrolment and login end here; a test or an app that enrols by other
    /// means can call it directly.
    pub async fn adopt_identity(&self, server: &str, enrolment: &Enrolment) -> Result<Enrolled> {
        let server = crate::api::normalise_server_url(server)?;
        if enrolment.device_id.trim().is_empty() || enrolment.device_token.trim().is_empty() {
            return Err(DeviceError::Protocol(
                "the enrolment has no device id or token".into(),
            ));
        }
        let actor = ActorId::try_from(enrolment.actor.as_str())
            .ok()
            .filter(|a| !a.to_bytes().is_empty())
            .ok_or_else(|| {
                DeviceError::Protocol(format!(
                    "the enrolment's actor {:?} is not a hex actor id",
                    enrolment.actor
                ))
            })?;
        let mut tx = store::begin_write(&self.pool).await?;
        let old = load_identity(&mut tx, &self.vault).await?;
        let same_user = old.as_ref().is_some_and(|o| {
            o.server == server && o.user.as_ref().map(|u| &u.id) == Some(&enrolment.user.id)
        });
        let default = pick_default(
            old.as_ref().and_then(|o| o.default_project.as_deref()),
            &enrolment.memberships,
        );
        store::meta_set(&mut tx, key::SERVER, &server).await?;
        store::meta_set(&mut tx, key::DEVICE_ID, &enrolment.device_id).await?;
        store::meta_set_sealed(
            &mut tx,
            &self.vault,
            key::DEVICE_TOKEN,
            &enrolment.device_token,
        )
        .await?;
        store::meta_set(&mut tx, key::ACTOR, &actor.to_hex_string()).await?;
        store::meta_set(&mut tx, key::USER, &json(&enrolment.user)).await?;
        store::meta_set(&mut tx, key::MEMBERSHIPS, &json(&enrolment.memberships)).await?;
        match &default {
            Some(p) => store::meta_set(&mut tx, key::DEFAULT_PROJECT, p).await?,
            None => store::meta_delete(&mut tx, key::DEFAULT_PROJECT).await?,
        }
        if !same_user {
            // Another user may see other projects: start from the beginning of the log.
            store::meta_set(&mut tx, key::CURSOR, &json(&Cursor::default())).await?;
        }
        if enrolment.server_time > 0 {
            let offset = enrolment.server_time - now();
            store::meta_set(&mut tx, key::CLOCK_OFFSET, &offset.to_string()).await?;
        }
        tx.commit().await?;
        tracing::info!(device_id = %enrolment.device_id, %server, "device identity adopted");
        Ok(Enrolled {
            server,
            device_id: enrolment.device_id.clone(),
            username: enrolment.user.username.clone(),
            default_project: default,
            memberships: enrolment.memberships.clone(),
        })
    }

    /// Asks the server for the user's current projects and roles (after an admin added the
    /// user to a project, say). One small request with the device token.
    pub async fn refresh_memberships(&self) -> Result<Vec<Membership>> {
        let id = self.require_identity().await?;
        let me = match self.api(&id.server)?.me(&id.token).await {
            Err(e) if crate::wipe::is_order(&e) => return Err(self.wipe(&id).await),
            other => other?,
        };
        let default = pick_default(id.default_project.as_deref(), &me.memberships);
        let mut tx = store::begin_write(&self.pool).await?;
        store::meta_set(&mut tx, key::USER, &json(&me.user)).await?;
        store::meta_set(&mut tx, key::MEMBERSHIPS, &json(&me.memberships)).await?;
        match &default {
            Some(p) => store::meta_set(&mut tx, key::DEFAULT_PROJECT, p).await?,
            None => store::meta_delete(&mut tx, key::DEFAULT_PROJECT).await?,
        }
        tx.commit().await?;
        Ok(me.memberships)
    }

    /// Makes `project` the one capture goes to when none is named.
    pub async fn set_default_project(&self, project: &str) -> Result<()> {
        let id = self.require_identity().await?;
        id.check_writable(project)?;
        let mut conn = self.pool.acquire().await?;
        store::meta_set(&mut conn, key::DEFAULT_PROJECT, project).await
    }
}

/// An enrolment sent whose answer has not arrived.
#[derive(Serialize, serde::Deserialize)]
struct PendingEnrolment {
    server: String,
    /// The code as the server reads it (case and separators removed).
    code: String,
    enrolment_id: String,
}

/// A typed code as the server reads it: case and separators do not matter.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn device_name(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        "bothy device".to_owned()
    } else {
        name.chars().take(100).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bothy_sync_core::roles::Role;

    fn m(project: &str, role: Role) -> Membership {
        Membership {
            project: project.into(),
            role: role.as_str().into(),
        }
    }

    #[test]
    fn a_role_this_device_does_not_know_records_nothing() {
        let unknown = Membership {
            project: "z".into(),
            role: "owner".into(),
        };
        assert_eq!(unknown.role(), None);
        assert!(!unknown.can_write());
        assert!(m("z", Role::PeerWorker).can_write());
        assert!(!m("z", Role::Analyst).can_write());
    }

    #[test]
    fn default_project_is_the_only_or_first_writable() {
        assert_eq!(
            pick_default(None, &[m("a", Role::Analyst)]).as_deref(),
            Some("a")
        );
        assert_eq!(
            pick_default(None, &[m("a", Role::Analyst), m("b", Role::Researcher)]).as_deref(),
            Some("b")
        );
        assert_eq!(
            pick_default(
                Some("c"),
                &[m("b", Role::Researcher), m("c", Role::PeerWorker)]
            )
            .as_deref(),
            Some("c")
        );
        assert_eq!(
            pick_default(None, &[m("a", Role::Analyst), m("b", Role::Analyst)]),
            None
        );
        assert_eq!(pick_default(None, &[]), None);
    }
}
