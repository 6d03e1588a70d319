//! Reading the store: lists, one record in full (with derived scores and true conflicts),
//! finding a record by a short id or a participant code, and the device's status.
//!
//! Lists read only the label and sync state kept beside each document, so they stay fast on a
//! device holding thousands of records; showing one record loads its document.

use crate::capture::not_found;
use crate::error::{DeviceError, Result};
use crate::identity::load_identity;
use crate::store::{self, key};
use crate::{Device, Membership};
use bothy_sync_core::automerge::ChangeHash;
use bothy_sync_core::protocol::Cursor;
use bothy_sync_core::{Conflict, FieldError, RecordData, RecordDoc, RecordKind, RecordView, Score};
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

/// One line of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    /// The record id.
    pub id: Uuid,
    /// Its kind.
    pub kind: RecordKind,
    /// Its project.
    pub project: String,
    /// A participant's code, a session's start, activity and site, a questionnaire's date and
    /// score, a story's title.
    pub label: String,
    /// A participant's code.
    pub code: Option<String>,
    /// True while the server has not acknowledged every change.
    pub unsynced: bool,
    /// When the device last wrote it (device clock, Unix seconds).
    pub updated_at: i64,
}

/// A record in full.
#[derive(Debug, Clone, Serialize)]
pub struct RecordDetails {
    /// The record id.
    pub id: Uuid,
    /// Its fields.
    pub view: RecordView,
    /// For a wellbeing response: the derived score, or why there is none.
    pub score: Option<Score>,
    /// Fields set to different values concurrently (by this or other devices). A winner is
    /// shown everywhere until someone resolves the conflict; every value is kept.
    pub conflicts: Vec<Conflict>,
    /// Problems of the record as it stands (after merging others' edits it may need review).
    pub problems: Vec<FieldError>,
    /// True while the server has not acknowledged every change.
    pub unsynced: bool,
    /// The document's heads, hex.
    pub heads: Vec<String>,
    /// For a participant: their contact details, if this device holds them (devices of roles
    /// that may not see direct identifiers never do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<(Uuid, bothy_sync_core::record::Contact)>,
}

/// The true conflicts of one record on this device.
#[derive(Debug, Clone, Serialize)]
pub struct RecordConflicts {
    /// The record id.
    pub id: Uuid,
    /// Its kind.
    pub kind: RecordKind,
    /// Its project.
    pub project: String,
    /// Its label, as lists show it.
    pub label: String,
    /// Its fields set to different values concurrently, with every value.
    pub conflicts: Vec<Conflict>,
}

/// A report the server made about one of this device's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredReport {
    /// The record.
    pub record_id: Uuid,
    /// `quarantined`, `refused`, `flagged`, or a reviewer's decision on a held-back change:
    /// `released` or `discarded`.
    pub kind: String,
    /// The server's machine-readable code.
    pub code: String,
    /// The field concerned, if one.
    pub field: Option<String>,
    /// The server's message.
    pub message: String,
    /// When the device received it (Unix seconds).
    pub at: i64,
}

/// A local copy of a record the server refused, kept on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetAsideRecord {
    /// The copy's number on this device (see [`Device::set_aside_document`]).
    pub id: i64,
    /// The record it is a copy of.
    pub record_id: Uuid,
    /// The record's kind, if readable.
    pub kind: Option<String>,
    /// The record's project, if readable.
    pub project: Option<String>,
    /// Why the server refused it.
    pub reason: String,
    /// When it was set aside (Unix seconds).
    pub at: i64,
}

/// Where the device stands.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The store's file.
    pub store: String,
    /// The server, once enrolled.
    pub server: Option<String>,
    /// The device's id, once enrolled.
    pub device_id: Option<String>,
    /// The device's user, once enrolled.
    pub username: Option<String>,
    /// The Automerge actor (hex) this device authors changes under.
    pub actor: Option<String>,
    /// Where capture goes when no project is named.
    pub default_project: Option<String>,
    /// The user's projects and roles.
    pub memberships: Vec<Membership>,
    /// Records on the device.
    pub records: u64,
    /// Records with changes the server has not acknowledged.
    pub unsynced_records: u64,
    /// When the last sync finished (device clock, Unix seconds).
    pub last_sync_at: Option<i64>,
    /// How far the device has read the server's log.
    pub cursor: Cursor,
    /// The server's clock minus the device's, in seconds, as of the last exchange.
    pub clock_offset_secs: Option<i64>,
    /// The latest reports from the server, newest first.
    pub recent_reports: Vec<StoredReport>,
    /// How many local copies of refused records are kept.
    pub set_aside_count: u64,
    /// The latest of those, newest first.
    pub set_aside: Vec<SetAsideRecord>,
}

const RECENT: i64 = 10;

impl Device {
    /// Records on the device, optionally of one kind, by kind then label.
    pub async fn list(&self, kind: Option<RecordKind>) -> Result<Vec<RecordSummary>> {
        self.vault.check()?;
        let rows = sqlx::query(
            "SELECT id, kind, project, label, heads, acked_heads, updated_at, code FROM records
             WHERE (?1 IS NULL OR kind = ?1)",
        )
        .bind(kind.map(RecordKind::as_str))
        .fetch_all(&self.pool)
        .await?;
        let mut list = rows
            .into_iter()
            .map(|r| {
                let sid: String = r.get(0);
                let heads: Vec<u8> = r.get(4);
                let acked: Option<Vec<u8>> = r.get(5);
                Ok(RecordSummary {
                    id: parse_id(&sid)?,
                    kind: parse_kind(&r.get::<String, _>(1))?,
                    project: r.get(2),
                    label: store::open_label(&self.vault, &sid, r.get(3))?,
                    unsynced: acked.as_deref() != Some(heads.as_slice()),
                    updated_at: r.get(6),
                    code: store::open_code(&self.vault, &sid, r.get(7))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Labels may be sealed, so they are ordered here rather than by SQL.
        list.sort_by(|a, b| {
            (a.kind.as_str(), &a.label, a.id).cmp(&(b.kind.as_str(), &b.label, b.id))
        });
        Ok(list)
    }

    /// One record in full: fields, derived score, conflicts and problems.
    pub async fn get(&self, id: Uuid) -> Result<RecordDetails> {
        let mut conn = self.pool.acquire().await?;
        let row = store::get_record(&mut conn, &self.vault, id)
            .await?
            .ok_or_else(|| not_found(id, None))?;
        let unsynced = row.unsynced();
        let actor = bothy_sync_core::automerge::ActorId::random();
        let mut doc = RecordDoc::load(&row.doc, actor)?;
        let view = doc.view()?;
        let score = match &view.data {
            RecordData::Wellbeing(w) => Some(w.score_in(&view.project)),
            _ => None,
        };
        let contact = match view.kind {
            RecordKind::Participant => contact_of(&mut conn, &self.vault, id).await?,
            _ => None,
        };
        Ok(RecordDetails {
            contact,
            id,
            score,
            conflicts: bothy_sync_core::conflicts(doc.automerge_ref()),
            problems: doc.validate(),
            unsynced,
            heads: doc.heads().iter().map(ToString::to_string).collect(),
            view,
        })
    }

    /// A participant's contact record on this device, if any: its id and values.
    pub async fn contact_of(
        &self,
        participant: Uuid,
    ) -> Result<Option<(Uuid, bothy_sync_core::record::Contact)>> {
        let mut conn = self.pool.acquire().await?;
        contact_of(&mut conn, &self.vault, participant).await
    }

    /// Every record on this device that has true conflicts, as this device sees them (the
    /// server may know of more, or of resolutions this device has not received yet).
    pub async fn conflicts(&self) -> Result<Vec<RecordConflicts>> {
        self.vault.check()?;
        let rows = sqlx::query("SELECT id, kind, project, label, doc FROM records")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let sid: String = r.get(0);
            let doc = store::open_doc(&self.vault, &sid, r.get(4))?;
            let doc = RecordDoc::load(&doc, bothy_sync_core::automerge::ActorId::random())?;
            let conflicts = bothy_sync_core::conflicts(doc.automerge_ref());
            if conflicts.is_empty() {
                continue;
            }
            out.push(RecordConflicts {
                id: parse_id(&sid)?,
                kind: parse_kind(&r.get::<String, _>(1))?,
                project: r.get(2),
                label: store::open_label(&self.vault, &sid, r.get(3))?,
                conflicts,
            });
        }
        out.sort_by(|a, b| {
            (a.kind.as_str(), &a.label, a.id).cmp(&(b.kind.as_str(), &b.label, b.id))
        });
        Ok(out)
    }

    /// A record's document, to read or compare.
    pub async fn document(&self, id: Uuid) -> Result<RecordDoc> {
        let bytes = self.document_bytes(id).await?;
        let actor = match self.actor().await? {
            Some(a) => a,
            None => bothy_sync_core::automerge::ActorId::random(),
        };
        Ok(RecordDoc::load(&bytes, actor)?)
    }

    /// A record's document as stored (compacted Automerge bytes).
    pub async fn document_bytes(&self, id: Uuid) -> Result<Vec<u8>> {
        let mut conn = self.pool.acquire().await?;
        Ok(store::get_record(&mut conn, &self.vault, id)
            .await?
            .ok_or_else(|| not_found(id, None))?
            .doc)
    }

    /// A record's current heads. Two replicas that hold the same changes have the same heads.
    pub async fn heads(&self, id: Uuid) -> Result<Vec<ChangeHash>> {
        let mut conn = self.pool.acquire().await?;
        let row = store::get_record(&mut conn, &self.vault, id)
            .await?
            .ok_or_else(|| not_found(id, None))?;
        store::decode_heads(&row.heads)
    }

    /// Finds a record (of `kind`, if given) by its full id, a unique start or end of its id
    /// (at least 4 characters), or a participant's code.
    pub async fn find(&self, kind: Option<RecordKind>, query: &str) -> Result<Uuid> {
        self.vault.check()?;
        let q = query.trim().to_ascii_lowercase();
        let what = kind.map_or("record", RecordKind::as_str);
        let kind_str = kind.map(RecordKind::as_str);
        if q.is_empty() {
            return Err(DeviceError::Usage(format!("no {what} given")));
        }
        if let Ok(id) = Uuid::parse_str(&q) {
            let found: Option<(String,)> = sqlx::query_as(
                "SELECT kind FROM records WHERE id = ? AND (?2 IS NULL OR kind = ?2)",
            )
            .bind(id.to_string())
            .bind(kind_str)
            .fetch_optional(&self.pool)
            .await?;
            return match found {
                Some(_) => Ok(id),
                None => Err(not_found(id, kind)),
            };
        }
        if matches!(kind, None | Some(RecordKind::Participant)) {
            // Codes may be sealed, so they are compared here (ignoring ASCII case).
            let coded: Vec<(String, String)> =
                sqlx::query_as("SELECT id, code FROM records WHERE code IS NOT NULL")
                    .fetch_all(&self.pool)
                    .await?;
            let mut ids: Vec<(String,)> = Vec::new();
            for (id, code) in coded {
                let code = store::open_code(&self.vault, &id, Some(code))?.unwrap_or_default();
                if code.eq_ignore_ascii_case(query.trim()) {
                    ids.push((id,));
                }
            }
            ids.sort();
            match ids.as_slice() {
                [(one,)] => return parse_id(one),
                [] => {}
                many => {
                    return Err(DeviceError::Ambiguous {
                        query: query.trim().to_owned(),
                        matches: many.iter().map(|(s,)| s.clone()).collect(),
                    });
                }
            }
        }
        let looks_like_id = q.len() >= 4 && q.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !looks_like_id {
            return Err(DeviceError::NotFound(format!(
                "no {what} matches `{}` on this device (give an id, at least 4 characters of \
                 one, or a participant code)",
                query.trim()
            )));
        }
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM records WHERE (id LIKE ?1 || '%' OR id LIKE '%' || ?1)
             AND (?2 IS NULL OR kind = ?2) LIMIT 6",
        )
        .bind(&q)
        .bind(kind_str)
        .fetch_all(&self.pool)
        .await?;
        match ids.as_slice() {
            [(one,)] => parse_id(one),
            [] => Err(DeviceError::NotFound(format!(
                "no {what} matches `{}` on this device",
                query.trim()
            ))),
            many => Err(DeviceError::Ambiguous {
                query: query.trim().to_owned(),
                matches: many.iter().map(|(s,)| s.clone()).collect(),
            }),
        }
    }

    /// Where the device stands: identity, unsynced records, last sync, reports, set-aside
    /// copies.
    pub async fn status(&self) -> Result<Status> {
        self.vault.check()?;
        let mut conn = self.pool.acquire().await?;
        let identity = load_identity(&mut conn, &self.vault).await?;
        let (records, unsynced): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(acked_heads IS NULL OR acked_heads != heads), 0)
             FROM records",
        )
        .fetch_one(&mut *conn)
        .await?;
        let (set_aside_count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM set_aside")
            .fetch_one(&mut *conn)
            .await?;
        let cursor = store::meta_get(&mut conn, key::CURSOR)
            .await?
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default();
        let last_sync_at = store::meta_get(&mut conn, key::LAST_SYNC_AT)
            .await?
            .and_then(|v| v.parse().ok());
        let clock_offset_secs = store::meta_get(&mut conn, key::CLOCK_OFFSET)
            .await?
            .and_then(|v| v.parse().ok());
        drop(conn);
        Ok(Status {
            store: self.path.display().to_string(),
            server: identity.as_ref().map(|i| i.server.clone()),
            device_id: identity.as_ref().map(|i| i.device_id.clone()),
            username: identity
                .as_ref()
                .and_then(|i| i.username().map(str::to_owned)),
            actor: identity.as_ref().map(|i| i.actor.to_hex_string()),
            default_project: identity.as_ref().and_then(|i| i.default_project.clone()),
            memberships: identity.map(|i| i.memberships).unwrap_or_default(),
            records: records as u64,
            unsynced_records: unsynced as u64,
            last_sync_at,
            cursor,
            clock_offset_secs,
            recent_reports: self.reports(RECENT).await?,
            set_aside_count: set_aside_count as u64,
            set_aside: self.set_aside_records(RECENT).await?,
        })
    }

    /// The latest `limit` reports from the server, newest first.
    pub async fn reports(&self, limit: i64) -> Result<Vec<StoredReport>> {
        self.vault.check()?;
        let rows = sqlx::query(
            "SELECT record_id, kind, code, field, message, at, id FROM reports
             ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredReport {
                    record_id: parse_id(&r.get::<String, _>(0))?,
                    kind: r.get(1),
                    code: r.get(2),
                    field: r.get(3),
                    message: store::open_report_message(&self.vault, r.get(6), r.get(4))?,
                    at: r.get(5),
                })
            })
            .collect()
    }

    /// The latest `limit` local copies of refused records, newest first.
    pub async fn set_aside_records(&self, limit: i64) -> Result<Vec<SetAsideRecord>> {
        self.vault.check()?;
        let rows = sqlx::query(
            "SELECT id, record_id, kind, project, reason, at FROM set_aside
             ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(SetAsideRecord {
                    id: r.get(0),
                    record_id: parse_id(&r.get::<String, _>(1))?,
                    kind: r.get(2),
                    project: r.get(3),
                    reason: store::open_set_aside_reason(&self.vault, r.get(0), r.get(4))?,
                    at: r.get(5),
                })
            })
            .collect()
    }

    /// The document of a set-aside copy, to inspect or recover its values.
    pub async fn set_aside_document(&self, id: i64) -> Result<Vec<u8>> {
        self.vault.check()?;
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT doc FROM set_aside WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let (doc,) = row.ok_or_else(|| DeviceError::NotFound(format!("no set-aside copy {id}")))?;
        store::open_set_aside_doc(&self.vault, id, doc)
    }
}

fn parse_id(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| DeviceError::Store(format!("stored record id {s:?} is corrupt")))
}

fn parse_kind(s: &str) -> Result<RecordKind> {
    RecordKind::parse(s)
        .ok_or_else(|| DeviceError::Store(format!("stored record kind {s:?} is unknown")))
}

/// The first contact record (by id) that names `participant`.
async fn contact_of(
    conn: &mut sqlx::SqliteConnection,
    vault: &crate::vault::Vault,
    participant: Uuid,
) -> Result<Option<(Uuid, bothy_sync_core::record::Contact)>> {
    let ids: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM records WHERE kind = 'contact' ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    let wanted = participant.to_string();
    for (id,) in ids {
        let id = parse_id(&id)?;
        let Some(row) = store::get_record(conn, vault, id).await? else {
            continue;
        };
        let doc = RecordDoc::load(&row.doc, bothy_sync_core::automerge::ActorId::random())?;
        if let Ok(view) = doc.view()
            && let RecordData::Contact(c) = view.data
            && c.participant == wanted
        {
            return Ok(Some((id, c)));
        }
    }
    Ok(None)
}
