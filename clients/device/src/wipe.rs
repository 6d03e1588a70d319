//! Wiping this device when the server withdraws it.
//!
//! When an admin revokes a device, or removes its user, the server answers the device's next
//! request with `401 wipe` (docs/protocol.md, "Wipe"). The device then, in this order:
//!
//! 1. lists what it is about to lose: each record holding changes the server was not known to
//!    hold, by id, kind and project, with the number of those changes and the time of its last
//!    local edit (never a field value or a name: [`LostRecord`]);
//! 2. deletes, in one transaction, every record, document set aside, report, cursor, set-up and
//!    its credential, keeping only the confirmation still to send (the server's address, the
//!    withdrawn credential, which the server accepts for nothing but this confirmation, and the
//!    list);
//! 3. rebuilds the store file and empties its write-ahead log, so the deleted bytes leave the
//!    disk (with `secure_delete`, freed pages are zeroed too);
//! 4. confirms to the server with the list (`POST /api/v1/devices/wipe`). If that cannot be
//!    sent, the confirmation is kept and sent again at the next sync;
//! 5. tells the user: [`DeviceError::Wiped`] says the device was withdrawn and wiped, what was
//!    lost, and that it must be enrolled again.
//!
//! The changes listed are lost: the server accepts nothing from a withdrawn device.

use crate::error::{DeviceError, Result};
use crate::identity::Identity;
use crate::store::{self, key};
use crate::{Device, now};
use bothy_sync_core::automerge::{ActorId, AutoCommit};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;
use std::fmt;
use uuid::Uuid;

/// One record whose changes had not reached the server when the device was wiped. It holds no
/// field value and no name: only what a coordinator needs to know what was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostRecord {
    /// The record's id.
    pub record_id: Uuid,
    /// Its kind (`participant`, `session`, `wellbeing`, `story`).
    pub kind: String,
    /// Its project's slug.
    pub project: String,
    /// How many of its changes the server was not known to hold (0 if the record could not be
    /// read to count them).
    pub unsynced_changes: u64,
    /// When it was last edited on this device (the device's clock, Unix seconds).
    pub last_edited_at: Option<i64>,
}

/// Whether the server has been told what the wipe lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WipeConfirmation {
    /// The server recorded the confirmation and the list.
    Confirmed,
    /// The server could not be reached; the confirmation is kept and sent at the next sync.
    Pending,
    /// The server refused the confirmation (its message); nothing more will be sent.
    Refused(String),
}

/// What a wipe did.
#[derive(Debug, Clone, Serialize)]
pub struct Wiped {
    /// When the device wiped itself (its own clock, Unix seconds).
    pub wiped_at: i64,
    /// The records whose unsynced changes were lost.
    pub lost: Vec<LostRecord>,
    /// Whether the server has been told.
    pub confirmation: WipeConfirmation,
}

impl Wiped {
    /// The unsynced changes lost, added up.
    pub fn lost_changes(&self) -> u64 {
        self.lost.iter().map(|l| l.unsynced_changes).sum()
    }
}

impl fmt::Display for Wiped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "this device was withdrawn by an admin and has been wiped: its records, reports and \
             credential were deleted",
        )?;
        match self.lost.len() {
            0 => {
                f.write_str("; nothing was lost: everything recorded on it had reached the server")?
            }
            n => write!(
                f,
                "; {n} record{} with {} change{} not yet on the server {} lost",
                plural(n as u64),
                self.lost_changes(),
                plural(self.lost_changes()),
                if n == 1 { "was" } else { "were" }
            )?,
        }
        match &self.confirmation {
            WipeConfirmation::Confirmed => f.write_str("; the server has been told")?,
            WipeConfirmation::Pending => f.write_str(
                "; the server could not be told yet: the next sync tells it (nothing else is sent)",
            )?,
            WipeConfirmation::Refused(why) => {
                write!(f, "; the server did not take the confirmation ({why})")?
            }
        }
        f.write_str(
            "; to record again, ask your coordinator for a new enrolment code and enrol this \
             device again: bothy enrol --server URL --code CODE",
        )
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The confirmation still to send, kept in the store's `meta` table until it is sent.
#[derive(Serialize, Deserialize)]
struct PendingWipe {
    server: String,
    /// The withdrawn credential: the server accepts it for this confirmation only.
    token: String,
    wiped_at: i64,
    lost: Vec<LostRecord>,
}

/// Whether an error is the server's order to wipe this device.
pub(crate) fn is_order(e: &DeviceError) -> bool {
    matches!(e, DeviceError::Rejected { status: 401, code, .. } if code == "wipe")
}

impl Device {
    /// Obeys the server's order to wipe this device (see the module documentation). Returns
    /// the error to give the caller: [`DeviceError::Wiped`], or what stopped the wipe (then
    /// nothing was deleted, and the next request is answered with the same order).
    pub(crate) async fn wipe(&self, identity: &Identity) -> DeviceError {
        tracing::info!(device_id = %identity.device_id, "the server withdrew this device: wiping it");
        let pending = match self.wipe_store(identity).await {
            Ok(p) => p,
            Err(e) => return e,
        };
        let confirmation = self.send_confirmation(&pending).await;
        DeviceError::Wiped(Wiped {
            wiped_at: pending.wiped_at,
            lost: pending.lost,
            confirmation,
        })
    }

    /// Sends a confirmation kept from an earlier wipe, if there is one. Returns what that wipe
    /// did, with the outcome of this attempt.
    pub(crate) async fn retry_wipe_confirmation(&self) -> Result<Option<Wiped>> {
        let mut conn = self.pool.acquire().await?;
        let kept = store::meta_get(&mut conn, key::PENDING_WIPE).await?;
        drop(conn);
        let Some(kept) = kept else {
            return Ok(None);
        };
        let pending: PendingWipe = serde_json::from_str(&kept).map_err(|e| {
            DeviceError::Store(format!("the kept wipe confirmation is unreadable: {e}"))
        })?;
        let confirmation = self.send_confirmation(&pending).await;
        Ok(Some(Wiped {
            wiped_at: pending.wiped_at,
            lost: pending.lost,
            confirmation,
        }))
    }

    /// Lists what is lost, deletes everything, keeps the confirmation, then scrubs the file.
    async fn wipe_store(&self, identity: &Identity) -> Result<PendingWipe> {
        let mut tx = store::begin_write(&self.pool).await?;
        let lost = lost_records(&mut tx, &self.vault, &identity.actor).await?;
        // Every table but the migrations' own: the records and their copies set aside, the
        // reports, and `meta` (credential, user, cursor, set-up, default project...).
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations' ORDER BY name",
        )
        .fetch_all(&mut *tx)
        .await?;
        for table in &tables {
            let mut statement = format!("DELETE FROM \"{}\"", table.replace('"', "\"\""));
            if table == "meta" {
                // A store with a PIN keeps it: it wraps the key of an empty store.
                statement.push_str(&store::key::kept_by_wipe_sql());
            }
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        let pending = PendingWipe {
            server: identity.server.clone(),
            token: identity.token.clone(),
            wiped_at: now(),
            lost,
        };
        store::meta_set(&mut tx, key::PENDING_WIPE, &json(&pending)).await?;
        tx.commit().await?;
        self.scrub().await;
        tracing::info!(lost = pending.lost.len(), "this device has been wiped");
        Ok(pending)
    }

    /// Rebuilds the store file (so no page keeps deleted bytes) and empties its write-ahead
    /// log. Failures are logged: the deletion itself has committed.
    async fn scrub(&self) {
        if let Err(e) = sqlx::query("VACUUM").execute(&self.pool).await {
            tracing::warn!(error = %e, "cannot rebuild the store after wiping it");
        }
        if let Err(e) = store::scrub_log(&self.pool).await {
            tracing::warn!(error = %e, "cannot checkpoint the store after wiping it");
        }
    }

    /// Sends the confirmation. Once the server has it, or refuses it for good, the kept copy
    /// (and with it the withdrawn credential) is deleted; if the server cannot be reached or
    /// fails, it is kept for the next sync.
    async fn send_confirmation(&self, pending: &PendingWipe) -> WipeConfirmation {
        let body = serde_json::json!({"wiped_at": pending.wiped_at, "lost": pending.lost});
        let sent = match self.api(&pending.server) {
            Ok(api) => {
                api.post_json::<serde_json::Value>(
                    "/api/v1/devices/wipe",
                    Some(&pending.token),
                    &body,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let outcome = match sent {
            Ok(_) => WipeConfirmation::Confirmed,
            // An earlier attempt reached the server; its answer was lost.
            Err(DeviceError::Rejected { code, .. }) if code == "wipe_already_confirmed" => {
                WipeConfirmation::Confirmed
            }
            Err(e) if e.is_temporary() => {
                tracing::info!(error = %e, "the wipe confirmation could not be sent: kept for the next sync");
                return WipeConfirmation::Pending;
            }
            Err(e) => {
                tracing::info!(error = %e, "the server refused the wipe confirmation");
                WipeConfirmation::Refused(match e {
                    DeviceError::Rejected { message, code, .. } => format!("{message} ({code})"),
                    other => other.to_string(),
                })
            }
        };
        match self.forget_confirmation().await {
            Ok(()) => outcome,
            Err(e) => {
                tracing::warn!(error = %e, "cannot delete the sent wipe confirmation");
                outcome
            }
        }
    }

    async fn forget_confirmation(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        store::meta_delete(&mut conn, key::PENDING_WIPE).await?;
        drop(conn);
        self.scrub().await;
        Ok(())
    }
}

/// Each record with changes the server is not known to hold: how many, and when this device
/// last edited it (its newest such change by this device's actor, else the row's last write).
async fn lost_records(
    conn: &mut SqliteConnection,
    vault: &crate::vault::Vault,
    actor: &ActorId,
) -> Result<Vec<LostRecord>> {
    let rows = sqlx::query(
        "SELECT id, kind, project, doc, acked_heads, updated_at FROM records
         WHERE acked_heads IS NULL OR acked_heads != heads ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut lost = Vec::new();
    for row in rows {
        let id: String = row.get(0);
        let Ok(record_id) = Uuid::parse_str(&id) else {
            tracing::warn!(record = %id, "a stored record id is not a UUID: left out of the list");
            continue;
        };
        let doc = store::open_doc(vault, &id, row.get(3)).map_err(|e| e.to_string());
        let acked: Option<Vec<u8>> = row.get(4);
        let updated_at: i64 = row.get(5);
        let acked = acked
            .as_deref()
            .map(store::decode_heads)
            .transpose()
            .unwrap_or(None)
            .unwrap_or_default();
        let doc = doc.and_then(|d| AutoCommit::load(&d).map_err(|e| e.to_string()));
        let (unsynced_changes, last_edit) = match doc {
            Ok(mut doc) => {
                let changes = doc.get_changes(&acked);
                if changes.is_empty() {
                    continue;
                }
                let last = changes
                    .iter()
                    .filter(|c| c.actor_id() == actor && c.timestamp() > 0)
                    .map(|c| c.timestamp())
                    .max();
                (changes.len() as u64, last)
            }
            Err(e) => {
                tracing::warn!(record = %record_id, error = %e, "an unreadable record is lost uncounted");
                (0, None)
            }
        };
        lost.push(LostRecord {
            record_id,
            kind: row.get(1),
            project: row.get(2),
            unsynced_changes,
            last_edited_at: Some(last_edit.unwrap_or(updated_at)),
        });
    }
    Ok(lost)
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data always serialises")
}
