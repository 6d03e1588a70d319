//! Merged records as members read them through the API: loading a record of a project,
//! whether a member may read it, and who wrote its values and changes.

use crate::access::roles::ProjectAccess;
use crate::error::{ApiError, ApiResult};
use crate::storage::{Db, reads};
use bothy_sync_core::{RecordDoc, RecordKind};
use std::collections::HashMap;

/// Maps actor hex to (device id, username).
pub async fn actors(db: &Db) -> Result<HashMap<String, (String, String)>, sqlx::Error> {
    Ok(reads::device_actors(&db.pool)
        .await?
        .into_iter()
        .map(|d| (d.actor, (d.id, d.username)))
        .collect())
}

/// Whether a member reads a record through the API in the full view: what their devices may hold
/// of it (`Role::may_pull_record`: no contact details for peer workers, another user's private
/// story only for admins and coordinators). Server admins and analysts (who have a view of
/// their own, `analyst_may_read`) are not decided here.
pub async fn member_may_read(
    db: &Db,
    access: &ProjectAccess,
    user_id: &str,
    id: &str,
    kind: RecordKind,
) -> ApiResult<bool> {
    let Some(role) = access.role.filter(|_| !access.server_admin) else {
        return Ok(true);
    };
    if access.analysts_view() {
        return Ok(true);
    }
    let audience = reads::audience(&db.pool, id).await?;
    Ok(audience.is_some_and(|a| {
        role.may_pull_record(
            kind,
            a.restricted != 0,
            a.owner_user.as_deref() == Some(user_id),
        )
    }))
}

/// Loads a record of a project, or 404.
pub async fn load_record(db: &Db, slug: &str, id: &str) -> ApiResult<RecordDoc> {
    crate::error::check_id("id", id)?;
    let doc = reads::doc_in_project(&db.pool, id, slug)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no record {id} in project `{slug}`")))?;
    RecordDoc::load(&doc, crate::sync::server_actor(&db.pool).await?)
        .map_err(|e| ApiError::Internal(e.into()))
}

/// Who wrote each change of a record: the server (under any generation's actor), an enrolled
/// device (its id, name and user), or an actor the server does not know.
pub struct Authors(HashMap<String, (String, String, String)>);

impl Authors {
    /// Every device's actor, with its id, name and user.
    pub async fn load(db: &Db) -> Result<Authors, sqlx::Error> {
        Ok(Authors(
            reads::device_authors(&db.pool)
                .await?
                .into_iter()
                .map(|d| (d.actor, (d.id, d.name, d.username)))
                .collect(),
        ))
    }

    /// `(author, device_id, device_name, username)` of an actor (hex): `author` is `server`,
    /// `device` or `unknown`.
    pub fn of(&self, actor: &str) -> (&'static str, Option<&str>, Option<&str>, Option<&str>) {
        if bothy_sync_core::is_server_actor_hex(actor) {
            ("server", None, None, None)
        } else if let Some((d, n, u)) = self.0.get(actor) {
            (
                "device",
                Some(d.as_str()),
                Some(n.as_str()),
                Some(u.as_str()),
            )
        } else {
            ("unknown", None, None, None)
        }
    }
}
