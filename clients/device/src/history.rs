//! A record's provenance: its change history as this device holds it, and the server's view
//! (with the names of users and devices) when the server can be reached.

use crate::{Device, Result};
use bothy_sync_core::history::HistoryEntry;
use serde::Serialize;
use uuid::Uuid;

/// A record's history as this device holds it.
#[derive(Debug, Clone, Serialize)]
pub struct LocalHistory {
    /// The record.
    pub id: Uuid,
    /// Its project.
    pub project: String,
    /// The changes, in causal order.
    pub changes: Vec<LocalChange>,
}

/// One change in a record's history on the device.
#[derive(Debug, Clone, Serialize)]
pub struct LocalChange {
    /// The change.
    #[serde(flatten)]
    pub entry: HistoryEntry,
    /// `this device`, `server` or `other device`.
    pub author: String,
}

impl Device {
    /// A record's history as this device holds it: who (this device, the server, another
    /// device), the author's clock, and the fields each change set or deleted.
    pub async fn local_history(&self, id: Uuid) -> Result<LocalHistory> {
        let mut doc = self.document(id).await?;
        let project = doc.envelope()?.project;
        let ours = self.actor().await?.map(|a| a.to_hex_string());
        let changes = bothy_sync_core::history::history(doc.automerge())
            .into_iter()
            .map(|entry| {
                let author = if Some(&entry.actor) == ours.as_ref() {
                    "this device"
                } else if bothy_sync_core::is_server_actor_hex(&entry.actor) {
                    "server"
                } else {
                    "other device"
                };
                LocalChange {
                    entry,
                    author: author.to_owned(),
                }
            })
            .collect();
        Ok(LocalHistory {
            id,
            project,
            changes,
        })
    }

    /// The server's history of a record (users, devices, receipt times), asked with this
    /// device's credential.
    pub async fn server_history(&self, id: Uuid, project: &str) -> Result<serde_json::Value> {
        let identity = self.require_identity().await?;
        let answer = self
            .api(&identity.server)?
            .get_json(
                &format!("/api/v1/projects/{project}/records/{id}/history"),
                Some(&identity.token),
            )
            .await;
        match answer {
            Err(e) if crate::wipe::is_order(&e) => Err(self.wipe(&identity).await),
            other => other,
        }
    }
}
