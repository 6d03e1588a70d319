//! Wiping a withdrawn device: a lost phone loses its data as soon as it next reaches the server.
//!
//! Revoking a device, or removing its user, orders a wipe ([`order`]). From then on every
//! request made with the device's credential is answered `401 wipe` ([`instruct`]) until the
//! device confirms, with `POST /api/v1/devices/wipe` ([`confirm`]), that it deleted everything it
//! held, listing the records whose changes never reached the server: those changes are lost,
//! because the server accepts nothing from a withdrawn device. After the confirmation the
//! credential gets the plain refusal. The list names records by their random ids, kinds and
//! projects, with counts and times: never a field value or a name (docs/security.md, "Lost
//! devices"). Coordinators see it in the admin device list ([`losses_by_device`]).

use crate::access::audit;
use crate::access::auth::PresentedDevice;
use crate::error::{ApiError, ApiResult};
use crate::storage::{self, Db, Tx, now};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

/// What a withdrawn device is told, in words for a person as well as the `wipe` code, since an
/// app that does not know the code shows the message as it is.
const INSTRUCTION: &str = "this device has been withdrawn by an admin: it must delete every \
     record and its credential, then confirm with POST /api/v1/devices/wipe; ask your \
     coordinator to enrol it again";

/// Orders a wipe of a device, once, in the caller's transaction; audits `device.wipe_ordered`
/// (`because` names the action that ordered it). Returns whether this call ordered it.
pub async fn order(
    tx: &mut Tx,
    actor: &audit::Actor<'_>,
    device_id: &str,
    because: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let ordered = storage::wipe::order(&mut **tx, device_id, at).await?;
    if ordered {
        audit::record(
            &mut **tx,
            actor,
            "device.wipe_ordered",
            None,
            Some(device_id),
            json!({"because": because}),
        )
        .await?;
    }
    Ok(ordered)
}

/// The answer to a request made with the credential of a device whose wipe is pending: `401
/// wipe`. The first time, when it was sent is kept on the device's row and audited
/// (`device.wipe_sent`); later requests write nothing.
pub async fn instruct(db: &Db, device: &PresentedDevice) -> ApiError {
    if device.wipe_sent_at.is_some() {
        return ApiError::Wipe(INSTRUCTION.into());
    }
    match note_sent(db, device).await {
        Ok(()) => ApiError::Wipe(INSTRUCTION.into()),
        Err(e) => e.into(),
    }
}

async fn note_sent(db: &Db, device: &PresentedDevice) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let first = storage::wipe::note_sent(&mut *tx, &device.device_id, now()).await?;
    if first {
        audit::record(
            &mut *tx,
            &device_actor(device),
            "device.wipe_sent",
            None,
            Some(&device.device_id),
            json!({}),
        )
        .await?;
    }
    tx.commit().await
}

fn device_actor(device: &PresentedDevice) -> audit::Actor<'_> {
    audit::Actor {
        user_id: Some(&device.user_id),
        username: Some(&device.username),
        device_id: Some(&device.device_id),
    }
}

/// One record whose changes had not reached the server when the device deleted it. Only ids,
/// kinds, projects, counts and times: no other field is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LostRecord {
    /// The record's id (a lower-case hyphenated UUID, made on the device).
    #[schema(schema_with = record_id_schema)]
    pub record_id: String,
    /// Its kind (`participant`, `session`, `wellbeing`, `story`...).
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    /// Its project's slug (a project on this server).
    #[schema(schema_with = crate::input::slug_schema)]
    pub project: String,
    /// How many of its changes the server was not known to hold (0 when the device could not
    /// read the record to count them).
    #[schema(minimum = 0)]
    pub unsynced_changes: i64,
    /// When it was last edited on the device (the device's clock, Unix seconds).
    #[serde(default)]
    pub last_edited_at: Option<i64>,
}

fn record_id_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".into())))
        .pattern(Some(
            "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        ))
        .build()
}

fn kind_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            bothy_sync_core::RecordKind::ALL
                .into_iter()
                .map(|k| k.as_str()),
        ))
        .build()
}

/// A device's confirmation that it wiped itself.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// When the device wiped itself (its own clock, Unix seconds; kept in the audit entry).
    #[serde(default)]
    pub wiped_at: Option<i64>,
    /// Every record the device held with changes the server was not known to hold.
    pub lost: Vec<LostRecord>,
}

/// What the server recorded.
#[derive(Debug, Serialize)]
pub struct Confirmed {
    /// The device.
    pub device_id: String,
    /// When the confirmation was recorded (server clock).
    pub wipe_confirmed_at: i64,
    /// Records listed as lost.
    pub lost_records: i64,
    /// Their unsynced changes, added up.
    pub lost_changes: i64,
}

/// Records a device's wipe confirmation: accepted only from a device whose wipe is pending, and
/// only once (`409` otherwise). Checks every listed record first (`400 invalid_value`).
pub async fn confirm(
    db: &Db,
    device: &PresentedDevice,
    confirmation: Confirmation,
) -> ApiResult<Confirmed> {
    let lost = confirmation.lost;
    check_losses(db, &lost).await?;
    let at = now();
    let mut tx = db.begin_write().await?;
    let claimed = storage::wipe::claim_confirmation(&mut *tx, &device.device_id, at).await?;
    if !claimed {
        let state = storage::wipe::state(&mut *tx, &device.device_id).await?;
        return Err(match state.wipe_confirmed_at {
            Some(when) => ApiError::ConflictWith {
                code: "wipe_already_confirmed",
                message: format!("this device's wipe was already confirmed (at {when})"),
            },
            None => ApiError::ConflictWith {
                code: "no_wipe_ordered",
                message: "no wipe was ordered for this device: it keeps its records".into(),
            },
        });
    }
    let rows: Vec<storage::wipe::NewLoss<'_>> = lost
        .iter()
        .map(|l| storage::wipe::NewLoss {
            record_id: &l.record_id,
            kind: &l.kind,
            project: &l.project,
            unsynced_changes: l.unsynced_changes,
            last_edited_at: l.last_edited_at,
        })
        .collect();
    storage::wipe::insert_losses(&mut tx, &device.device_id, &rows).await?;
    let lost_records = lost.len() as i64;
    let lost_changes = lost.iter().map(|l| l.unsynced_changes).sum::<i64>();
    audit::record(
        &mut *tx,
        &device_actor(device),
        "device.wipe_confirmed",
        None,
        Some(&device.device_id),
        json!({
            "lost_records": lost_records,
            "lost_changes": lost_changes,
            "device_time": confirmation.wiped_at,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Confirmed {
        device_id: device.device_id.clone(),
        wipe_confirmed_at: at,
        lost_records,
        lost_changes,
    })
}

/// Every listed record must be a record id, kind and project this server knows the form of,
/// listed once, with a count that is not negative.
async fn check_losses(db: &Db, lost: &[LostRecord]) -> ApiResult<()> {
    let bad = |i: usize, what: String| ApiError::bad("invalid_value", format!("lost[{i}]: {what}"));
    let mut seen = BTreeSet::new();
    let mut projects = BTreeSet::new();
    for (i, l) in lost.iter().enumerate() {
        crate::error::check_id(&format!("lost[{i}].record_id"), &l.record_id)?;
        if !seen.insert(l.record_id.as_str()) {
            return Err(bad(i, format!("record {} is listed twice", l.record_id)));
        }
        if bothy_sync_core::RecordKind::parse(&l.kind).is_none() {
            return Err(bad(i, format!("{:?} is not a record kind", l.kind)));
        }
        if l.unsynced_changes < 0 {
            return Err(bad(i, "unsynced_changes must not be negative".into()));
        }
        projects.insert(l.project.as_str());
    }
    for project in projects {
        let known = storage::projects::exists(&db.pool, project).await?;
        if !known {
            return Err(ApiError::bad(
                "invalid_value",
                format!("lost: there is no project {project:?} on this server"),
            ));
        }
    }
    Ok(())
}

/// The records each device lost to its wipe, by device id, in record id order.
pub async fn losses_by_device(db: &Db) -> Result<HashMap<String, Vec<LostRecord>>, sqlx::Error> {
    let mut by_device: HashMap<String, Vec<LostRecord>> = HashMap::new();
    for r in storage::wipe::losses(&db.pool).await? {
        by_device.entry(r.device_id).or_default().push(LostRecord {
            record_id: r.record_id,
            kind: r.kind,
            project: r.project,
            unsynced_changes: r.unsynced_changes,
            last_edited_at: r.last_edited_at,
        });
    }
    Ok(by_device)
}
