//! The sync endpoint: one request, one response, whatever the number of records.
//!
//! A device sends its unacknowledged changes and its cursor in the server's change log; the
//! server, in one transaction per request, authorises and merges every pushed record (load,
//! merge, store, drop: no document outlives the request), appends the new changes to the log,
//! rewrites projections, then reads back what the device lacks and commits. The response is
//! sent only after the commit, so an acknowledged change is durable (sync contract 1); any
//! request may be repeated, because changes are deduplicated by hash (contract 2).

use crate::auth::DeviceAuth;
use crate::db::{Db, Tx, now};
use crate::erasure;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{self, Filed, Kept, LogEntry, QuarantineEntry, QuarantineQuota};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bothy_sync_core::merge::{self, MergePolicy, RefusalCode, Relay, Verdict};
use bothy_sync_core::protocol::{
    self, Cursor, ProtocolError, PullData, RecordPull, RecordPush, RecordReport, ReportKind,
    SnapshotCursor, SyncRequest, SyncResponse,
};
use bothy_sync_core::{RecordData, RecordDoc, RecordKind};
use serde_bytes::ByteBuf;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

use crate::roles::{may_pull, may_push, pullable_sql};
/// Most log rows sent in one response.
const PAGE_ROWS: i64 = 20_000;
/// Most snapshots sent in one response.
const PAGE_SNAPSHOTS: i64 = 20_000;
/// Stop adding to a response past this many bytes of documents and changes.
const PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Most records in one push.
const MAX_PUSH_RECORDS: usize = 50_000;

/// `POST /api/v1/sync`.
#[utoipa::path(
    post,
    path = "/api/v1/sync",
    tag = "sync",
    security(("device_token" = [])),
    request_body(content = crate::openapi::SyncBody, content_type = "application/vnd.bothy.sync", description = "A binary sync request (docs/protocol.md)"),
    responses(
        (status = 200, description = "The binary sync response, in the request's protocol version and body encoding", body = crate::openapi::SyncBody, content_type = "application/vnd.bothy.sync"),
        (status = 400, description = "`malformed_sync_body` (also for an unknown encoding)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid device credential, or the device is revoked or its user removed; `wipe` when its wipe was ordered and not yet confirmed (docs/protocol.md, \"Wipe\")", body = crate::openapi::ErrorBody),
        (status = 413, description = "the body is too large", body = crate::openapi::ErrorBody),
        (status = 415, description = "not `application/vnd.bothy.sync`", body = crate::openapi::ErrorBody),
        (status = 426, description = "`unsupported_protocol_version`", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn sync(
    State(state): State<AppState>,
    device: DeviceAuth,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.starts_with(protocol::MEDIA_TYPE) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "sync bodies must be {} (got {ct:?})",
                protocol::MEDIA_TYPE
            )));
        }
    }
    let bytes = axum::body::to_bytes(body, state.config.max_sync_bytes)
        .await
        .map_err(|_| {
            ApiError::TooLarge(format!(
                "the sync body is larger than {} bytes: sync more often, or ask the operator to \
                 raise BOTHY_MAX_SYNC_BYTES",
                state.config.max_sync_bytes
            ))
        })?;
    let (request, version): (SyncRequest, u16) = protocol::decode(&bytes).map_err(|e| match e {
        ProtocolError::UnsupportedVersion { .. } => {
            ApiError::UpgradeRequired(format!("{e}: update the app"))
        }
        ProtocolError::TooLarge => ApiError::TooLarge(e.to_string()),
        other => ApiError::bad("malformed_sync_body", other.to_string()),
    })?;
    if request.push.len() > MAX_PUSH_RECORDS {
        return Err(ApiError::TooLarge(format!(
            "at most {MAX_PUSH_RECORDS} records may be pushed at once"
        )));
    }
    let quota = QuarantineQuota {
        max_entries: state.config.quarantine_max_entries_per_device,
        max_bytes: state.config.quarantine_max_bytes_per_device,
    };
    let response = run_sync(&state.db, &device, request, quota).await?;
    let body = protocol::encode_with(&response, version, protocol::peek_encoding(&bytes));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, protocol::MEDIA_TYPE)],
        body,
    )
        .into_response())
}

/// The actor the server writes its own changes (compensations, erasure changes, conflict
/// resolutions) under in the database's current generation (`server_actor_for` in sync-core):
/// a restored database writes under a new one, so it never reuses sequence numbers that
/// devices saw from the timeline it lost.
pub async fn server_actor<'c, E>(executor: E) -> ApiResult<bothy_sync_core::automerge::ActorId>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let id: String =
        sqlx::query_scalar("SELECT generation_id FROM database_generation WHERE id = 1")
            .fetch_one(executor)
            .await?;
    let id = Uuid::parse_str(&id).map_err(|_| {
        ApiError::Internal(anyhow::anyhow!(
            "the database's generation_id {id:?} is not a UUID"
        ))
    })?;
    Ok(bothy_sync_core::server_actor_for(id.as_bytes()))
}

/// Whose changes a device may relay: its user's other devices always, and while it reconciles
/// after a restore (`reconciling`), any device's and the server's of superseded generations
/// (docs/protocol.md, section 9.6).
async fn relay_for(db: &Db, device: &DeviceAuth, reconciling: bool) -> ApiResult<Relay> {
    let parse = |hex: String| bothy_sync_core::automerge::ActorId::try_from(hex.as_str()).ok();
    let always = sqlx::query_scalar::<_, String>(
        "SELECT actor FROM devices WHERE user_id = $1 AND id <> $2",
    )
    .bind(&device.user_id)
    .bind(&device.device_id)
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .filter_map(parse)
    .collect();
    let reconciling = if reconciling {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT generation_id FROM superseded_generations")
                .fetch_all(&db.pool)
                .await?;
        Some(
            ids.iter()
                .filter_map(|id| Uuid::parse_str(id).ok())
                .map(|g| bothy_sync_core::server_actor_for(g.as_bytes()))
                .collect(),
        )
    } else {
        None
    };
    Ok(Relay {
        always,
        reconciling,
    })
}

/// The user's role in each project.
pub(crate) async fn memberships(
    db: &Db,
    user_id: &str,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT project, role FROM memberships WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.get("project"), r.get("role")))
        .collect())
}

/// What happened to one pushed record.
struct Pushed {
    acked: bool,
    /// Changes under other actors accepted from this device (relayed).
    relayed: usize,
    /// Created by this push and stored exactly as sent: the device needs nothing back.
    created_as_sent: bool,
    reports: Vec<RecordReport>,
    /// Send the server's copy back (after a refusal, or when the server changed it).
    send_back: bool,
}

/// Runs one sync for an authenticated device; what it refuses is kept in quarantine within
/// `quota`.
pub async fn run_sync(
    db: &Db,
    device: &DeviceAuth,
    request: SyncRequest,
    quota: QuarantineQuota,
) -> ApiResult<SyncResponse> {
    let roles = memberships(db, &device.user_id).await?;
    let now = now();
    let generation = crate::db::generation(db).await?;
    // A cursor naming a generation a restore replaced comes from a device that synced with the
    // lost timeline: it reconciles, and may vouch for what it received there.
    let from_superseded = match request.cursor.generation {
        Some(g) if g != generation.generation_id => {
            crate::db::is_superseded(&db.pool, g).await?.then_some(g)
        }
        _ => None,
    };
    let relay_from: Option<String> = match from_superseded {
        Some(g) => Some(g.to_string()),
        None => {
            sqlx::query_scalar("SELECT relay_from FROM devices WHERE id = $1")
                .bind(&device.device_id)
                .fetch_one(&db.pool)
                .await?
        }
    };
    // Several server processes may share one PostgreSQL database, and another may have stored
    // an instrument definition since this one last read them: pushed responses are checked
    // against the definitions the database holds.
    if !request.push.is_empty() && db.backend == crate::db::Backend::Postgres {
        for project in roles.keys() {
            crate::instruments::refresh(db, project).await?;
        }
    }
    let relay = if request.push.is_empty() {
        Relay::default()
    } else {
        relay_for(db, device, relay_from.is_some()).await?
    };
    let policy = MergePolicy {
        sender_actor: device.actor.clone(),
        compensating_actor: bothy_sync_core::server_actor_for(generation.generation_id.as_bytes()),
        now,
        relay,
    };
    let closes_relay = request
        .pending
        .is_none_or(|p| request.push.len() >= p as usize);

    // Merge duplicate pushes of one record, then handle records in id order (lock order).
    // Whole documents are opened one record at a time, inside the loop, so no more than one
    // record's expanded bytes are held at once.
    let mut pushes: BTreeMap<Uuid, (Vec<ByteBuf>, Vec<ByteBuf>)> = BTreeMap::new();
    for RecordPush {
        id,
        changes,
        document,
    } in request.push
    {
        let (list, documents) = pushes.entry(id).or_default();
        list.extend(changes);
        documents.extend(document);
    }
    let quarantine = Quarantine {
        roles: &roles,
        quota,
    };

    let pushed_count = pushes.len();
    let mut tx = db.begin_write().await?;
    // An erasure does not run while this sync stores records (see `erasure`).
    db.lock_erasures(&mut tx, false).await?;
    // Syncs of one device take turns, so two at once cannot both fill its quarantine quota.
    // (SQLite's single writer already does.) Taken before any record's lock.
    if db.backend == crate::db::Backend::Postgres && pushed_count > 0 {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 9))::text")
            .bind(&device.device_id)
            .execute(&mut *tx)
            .await?;
    }
    let mut response = SyncResponse {
        server_time: now,
        ..SyncResponse::default()
    };
    let mut log = Vec::new();
    let mut clean: BTreeSet<Uuid> = BTreeSet::new();
    let mut send_back: BTreeSet<Uuid> = BTreeSet::new();
    let mut relayed = (0usize, 0usize);
    let mut replaced: BTreeSet<Uuid> = BTreeSet::new();
    let pushed_ids: Vec<String> = pushes.keys().map(Uuid::to_string).collect();
    let tombstoned = erasure::erased_among(&mut tx, &pushed_ids).await?;
    for (id, (mut changes, documents)) in pushes {
        db.lock_record(&mut tx, &id.to_string()).await?;
        if tombstoned.contains(&id.to_string()) {
            // Erased: refused, and kept nowhere (the data is personal). The device purges it.
            response.unacked.push(id);
            response.reports.push(erased_report(id, None));
            continue;
        }
        let mut unreadable = None;
        for doc in documents {
            match merge::document_changes(&doc) {
                Ok(list) => changes.extend(list.into_iter().map(ByteBuf::from)),
                Err(e) => {
                    unreadable = Some((e, doc));
                    break;
                }
            }
        }
        if let Some((why, document)) = unreadable {
            drop(changes);
            let stored = store::load_record(&mut tx, &id.to_string()).await?;
            let out = refused(
                &mut tx,
                device,
                &quarantine,
                id,
                stored.as_ref().map(|s| s.project.as_str()),
                RefusalCode::Malformed,
                why,
                Kept::sample_of(&document),
                stored.is_some(),
                now,
            )
            .await?;
            if out.send_back {
                send_back.insert(id);
            }
            response.unacked.push(id);
            response.reports.extend(out.reports);
            continue;
        }
        // Changes of a participant's document from before contact records are carried over to
        // its new documents, and the device is told to replace its copy.
        let may_write =
            |project: &str, kind: RecordKind| roles.get(project).is_some_and(|r| may_push(r, kind));
        match crate::contacts::intercept(
            &mut tx,
            &id.to_string(),
            &changes,
            &device.user_id,
            &device.actor,
            &policy.compensating_actor,
            may_write,
            &mut log,
            now,
        )
        .await?
        {
            crate::contacts::Intercepted::No => {}
            crate::contacts::Intercepted::Yes { remaining } => {
                replaced.insert(id);
                if remaining.is_empty() {
                    continue;
                }
                changes = remaining;
            }
        }
        let out = push_record(
            &mut tx,
            device,
            &quarantine,
            &policy,
            id,
            &changes,
            &mut log,
            now,
        )
        .await?;
        if !out.acked {
            response.unacked.push(id);
        }
        if out.relayed > 0 {
            relayed.0 += 1;
            relayed.1 += out.relayed;
        }
        if out.send_back {
            send_back.insert(id);
        } else if out.created_as_sent {
            clean.insert(id);
        }
        response.reports.extend(out.reports);
    }
    response
        .reports
        .extend(decisions_for(&mut tx, &device.device_id, now).await?);
    let head = store::append_log(&mut tx, log, now).await?;
    if !replaced.is_empty() {
        // Participants this sync retired are dated by the log position their new documents end at.
        crate::contacts::date_retirements(&mut tx, head).await?;
    }
    let head = head as u64;

    // What the device lacks.
    let scopes: Vec<String> = roles
        .iter()
        .filter_map(|(p, role)| crate::roles::scope_name(p, role))
        .collect();
    let scope = protocol::scope_of(&scopes);
    let mut cursor = request.cursor;
    let started = cursor.seq > 0 || cursor.snapshot.is_some();
    // A position in another generation of this database (restored from a backup since the
    // device last synced) points into a timeline the server no longer has: the device must
    // start again from snapshots and push again what it holds (`reconcile`). A cursor without
    // a generation comes from a server or device that predates it: once this database has
    // been restored, a started one cannot be trusted either (docs/protocol.md, section 9.6).
    let reconcile = match cursor.generation {
        Some(g) => g != generation.generation_id,
        None => started && generation.generation > 1,
    };
    let reset = reconcile || cursor.seq > head || (started && cursor.scope != scope);
    // Erasures the device has not heard of: those after its position. A device starting from
    // nothing holds nothing to purge; one whose position is reset may hold anything, so it
    // hears of every erasure it may see.
    let erased_since = if reconcile {
        Some(0)
    } else if !started {
        None
    } else if reset {
        Some(0)
    } else if cursor.seq > 0 {
        Some(cursor.seq)
    } else {
        cursor.snapshot.map(|s| s.at)
    };
    if let Some(since) = erased_since {
        response.erased = erasure::erased_for(&mut tx, &device.user_id, since, head).await?;
        response.withdrawn = withdrawn_since(&mut tx, &device.user_id, &roles, since).await?;
        let projects: Vec<String> = roles
            .iter()
            .filter(|(_, role)| may_pull(role, RecordKind::Participant))
            .map(|(p, _)| p.clone())
            .collect();
        replaced.extend(crate::contacts::replaced_since(&mut tx, &projects, since).await?);
    }
    response.replaced = replaced.into_iter().collect();
    if reset {
        // Either the device has seen a future this database does not have (restored from a
        // backup), or its projects changed since its position was set (records logged before
        // it joined a project lie behind its cursor). Start it again from snapshots: merging
        // what it already has is harmless.
        cursor = Cursor::default();
    }
    if cursor.seq == 0 && cursor.snapshot.is_none() && head > 0 {
        cursor.snapshot = Some(SnapshotCursor {
            at: head,
            after: Uuid::nil(),
        });
    }
    let mut budget = PAGE_BYTES;
    if let Some(snap) = cursor.snapshot {
        let (pulls, last, more) =
            snapshot_page(&mut tx, &device.user_id, snap.after, &clean, &mut budget).await?;
        response.records = pulls;
        if more {
            response.cursor = Cursor {
                seq: 0,
                snapshot: Some(SnapshotCursor {
                    at: snap.at,
                    after: last.unwrap_or(snap.after),
                }),
                scope,
                generation: Some(generation.generation_id),
            };
            response.more = true;
        } else {
            response.cursor = Cursor {
                seq: snap.at,
                snapshot: None,
                scope,
                generation: Some(generation.generation_id),
            };
            response.more = head > snap.at;
        }
    } else {
        let (pulls, last, more) = log_page(
            &mut tx,
            &device.user_id,
            &device.device_id,
            cursor.seq,
            head,
            &mut budget,
        )
        .await?;
        response.records = pulls;
        response.cursor = Cursor {
            seq: if more { last } else { head },
            snapshot: None,
            scope,
            generation: Some(generation.generation_id),
        };
        response.more = more;
    }
    response.reconcile = reconcile;
    // Records the device must replace or rebase (refused, compensated) get the server's whole
    // copy, replacing any changes already listed for them.
    for id in &send_back {
        if let Some(rec) = store::load_record(&mut tx, &id.to_string()).await?
            && let Some(kind) = RecordKind::parse(&rec.kind)
            && roles.get(&rec.project).is_some_and(|role| {
                crate::roles::may_pull_record(
                    role,
                    kind,
                    rec.restricted,
                    rec.owner.as_deref() == Some(device.user_id.as_str()),
                )
            })
        {
            response.records.retain(|r| r.id != *id);
            response.records.push(RecordPull {
                id: *id,
                kind,
                project: rec.project,
                data: PullData::Snapshot(ByteBuf::from(rec.doc)),
            });
        }
    }
    // The device's hint of what it still holds unsynced, less what this sync acknowledged.
    let acked = pushed_count.saturating_sub(response.unacked.len());
    let pending = request.pending.map(|p| {
        i64::from(p)
            .saturating_sub(i64::try_from(acked).unwrap_or(i64::MAX))
            .max(0)
    });
    // The device may relay until a request of its holds everything it had left to send (the
    // request that starts the reconcile does not: the device sends everything after it).
    let relay_from = match from_superseded {
        Some(g) if reconcile => Some(g.to_string()),
        _ if closes_relay => None,
        _ => relay_from,
    };
    if relayed.1 > 0 {
        crate::audit::record(
            &mut *tx,
            &crate::audit::Actor {
                user_id: Some(&device.user_id),
                username: Some(&device.username),
                device_id: Some(&device.device_id),
            },
            "sync.relay",
            None,
            Some(&device.device_id),
            serde_json::json!({
                "records": relayed.0,
                "changes": relayed.1,
                "reconciling_from_generation": relay_from,
            }),
        )
        .await?;
    }
    sqlx::query(
        "UPDATE devices SET last_sync_at = $1, app = COALESCE($2, app), \
         pending_records = $3, last_pushed = $4, relay_from = $5 WHERE id = $6",
    )
    .bind(now)
    .bind(request.app.map(|a| a.chars().take(100).collect::<String>()))
    .bind(pending)
    .bind(i64::try_from(pushed_count).unwrap_or(i64::MAX))
    .bind(relay_from)
    .bind(&device.device_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // The project set-up with the user's roles, only when it differs from what the device
    // holds (a device that holds none, as on its first sync, always gets it).
    let roles: BTreeMap<String, String> =
        roles.iter().map(|(p, r)| (p.clone(), r.clone())).collect();
    let setup = crate::routes::setup::setup_for(db, &roles).await?;
    if request.setup.as_deref().unwrap_or("") != setup.version {
        response.setup = Some(setup);
    }
    tracing::info!(
        device = %device.device_id,
        pushed = pushed_count,
        unacked = response.unacked.len(),
        reports = response.reports.len(),
        pulled = response.records.len(),
        more = response.more,
        reconcile = response.reconcile,
        "sync"
    );
    Ok(response)
}

/// The report for a record that was erased on the server (or is about an erased participant).
fn erased_report(id: Uuid, participant: Option<&str>) -> RecordReport {
    let message = match participant {
        Some(_) => "this record is about a participant who was erased on the server: it was \
                    not stored, and this device must delete it"
            .to_owned(),
        None => "this record was erased on the server (a participant's erasure): it was not \
                 stored, and this device must delete it"
            .to_owned(),
    };
    report(
        id,
        ReportKind::Erased,
        if participant.is_some() {
            "participant_erased"
        } else {
            "erased"
        },
        participant.map(|_| "participant".to_owned()),
        message,
    )
}

/// A push refused because it is erased or about an erased participant: stored nowhere.
fn erased_push(id: Uuid, participant: Option<&str>) -> Pushed {
    Pushed {
        acked: false,
        relayed: 0,
        created_as_sent: false,
        reports: vec![erased_report(id, participant)],
        send_back: false,
    }
}

/// The erased participant a record pushed for the first time is about, if any.
async fn erased_participant(tx: &mut Tx, changes: &[ByteBuf]) -> ApiResult<Option<String>> {
    match erasure::claimed_participant(changes) {
        Some((p, _)) if erasure::is_erased(tx, &p).await? => Ok(Some(p)),
        _ => Ok(None),
    }
}

fn report(
    id: Uuid,
    kind: ReportKind,
    code: &str,
    field: Option<String>,
    message: String,
) -> RecordReport {
    RecordReport {
        id,
        kind,
        code: code.to_owned(),
        field,
        message,
    }
}

#[allow(clippy::too_many_arguments)]
async fn push_record(
    tx: &mut Tx,
    device: &DeviceAuth,
    quarantine: &Quarantine<'_>,
    policy: &MergePolicy,
    id: Uuid,
    changes: &[ByteBuf],
    log: &mut Vec<LogEntry>,
    now: i64,
) -> ApiResult<Pushed> {
    let id_text = id.to_string();
    let roles = quarantine.roles;
    let stored = store::load_record(tx, &id_text).await?;
    let may_write = |project: &str, kind: Option<RecordKind>| {
        roles.get(project).is_some_and(|r| match kind {
            Some(kind) => may_push(r, kind),
            None => crate::roles::may_write(r),
        })
    };
    let not_allowed = |project: &str, kind: Option<RecordKind>| match (roles.get(project), kind) {
        (Some(role), Some(kind)) if crate::roles::may_write(role) => format!(
            "a {role} may not write {} records in project `{project}`",
            kind.as_str()
        ),
        _ => format!("you may not write records in project `{project}`"),
    };
    let existed = stored.is_some();
    let stored_project = stored.as_ref().map(|s| s.project.clone());
    let stored_kind = stored.as_ref().and_then(|s| RecordKind::parse(&s.kind));

    // Unreadable changes leave only a sample; any others are kept whole for review.
    let refuse = |code: RefusalCode, message: String| {
        let kept = if code == RefusalCode::Malformed {
            Kept::sample_of_all(changes)
        } else {
            Kept::Changes(changes.to_vec())
        };
        (code, message, kept)
    };

    if let Some(project) = &stored_project
        && !may_write(project, stored_kind)
    {
        let (code, message, encoded) =
            refuse(RefusalCode::NotAllowed, not_allowed(project, stored_kind));
        return refused(
            tx,
            device,
            quarantine,
            id,
            Some(project),
            code,
            message,
            encoded,
            existed,
            now,
        )
        .await;
    }

    let doc = match stored {
        Some(s) => match RecordDoc::load(&s.doc, policy.compensating_actor.clone()) {
            Ok(d) => Some(d),
            Err(e) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "stored record {id} cannot be loaded: {e}"
                )));
            }
        },
        None => None,
    };
    let participant_before = doc.as_ref().and_then(participant_of);
    match merge::merge_incoming(doc, changes, policy) {
        Verdict::AlreadyHave => Ok(Pushed {
            acked: true,
            relayed: 0,
            created_as_sent: false,
            reports: vec![],
            send_back: false,
        }),
        Verdict::MissingDependencies(missing) => Ok(Pushed {
            acked: false,
            relayed: 0,
            created_as_sent: false,
            reports: vec![report(
                id,
                ReportKind::Resend,
                "missing_dependencies",
                None,
                format!(
                    "the server lacks {} earlier change(s) of this record; the whole record will be sent next time",
                    missing.len()
                ),
            )],
            send_back: false,
        }),
        Verdict::Refused { code, message } => {
            if !existed && let Some(p) = erased_participant(tx, changes).await? {
                return Ok(erased_push(id, Some(&p)));
            }
            let (code, message, encoded) = refuse(code, message);
            let project = stored_project.or_else(|| merge::claimed_project(changes));
            refused(
                tx,
                device,
                quarantine,
                id,
                project.as_deref(),
                code,
                message,
                encoded,
                existed,
                now,
            )
            .await
        }
        Verdict::Accepted(acc) => {
            let mut acc = *acc;
            let env = acc.doc.envelope().map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("merged record lost its envelope: {e}"))
            })?;
            let view = acc.doc.view().map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("merged record unreadable: {e}"))
            })?;
            // About an erased participant: a new record is refused and kept nowhere; an
            // existing one pointed at them gets its participant back by a server change.
            let mut neutralised = None;
            if let Some(p) = participant_of(&acc.doc)
                && erasure::is_erased(tx, &p).await?
            {
                if acc.created {
                    return Ok(erased_push(id, Some(&p)));
                }
                neutralised = restore_participant(&mut acc.doc, participant_before, now)?;
            }
            // Attendance marks for erased participants: merged, then removed by a server
            // change, so no replica keeps the mark.
            if let RecordData::Session(session) = &view.data {
                let marked: Vec<String> = session.attendance.keys().cloned().collect();
                let erased = erasure::erased_among(tx, &marked).await?;
                if !erased.is_empty() {
                    let erased: Vec<String> = erased.into_iter().collect();
                    neutralised = erasure::remove_marks(&mut acc.doc, &erased, now)?;
                }
            }
            if acc.created && !may_write(&env.project, Some(env.kind)) {
                let (code, message, encoded) = refuse(
                    RefusalCode::NotAllowed,
                    not_allowed(&env.project, Some(env.kind)),
                );
                return refused(
                    tx,
                    device,
                    quarantine,
                    id,
                    Some(&env.project),
                    code,
                    message,
                    encoded,
                    false,
                    now,
                )
                .await;
            }
            let quarantined = store::store_accepted(
                tx,
                &id_text,
                &device.device_id,
                Some(&device.device_id),
                &mut acc,
                log,
                now,
            )
            .await?;
            if let Some(change) = &neutralised {
                log.push(LogEntry::of(&id_text, &env.project, None, change));
            }
            if acc.created {
                store::set_owner(tx, &id_text, &device.user_id).await?;
            }
            let mut reports = Vec::new();
            for q in &quarantined {
                reports.push(report(
                    id,
                    ReportKind::Quarantined,
                    "invalid_value",
                    Some(q.field.clone()),
                    format!(
                        "{}: {} (value {:?} was set aside for review and the last valid value kept)",
                        q.field, q.message, q.value
                    ),
                ));
            }
            for f in &acc.flagged {
                reports.push(report(
                    id,
                    ReportKind::Flagged,
                    "needs_review",
                    Some(f.field.clone()),
                    format!(
                        "{}: {} (kept; flagged for a coordinator to review)",
                        f.field, f.message
                    ),
                ));
            }
            Ok(Pushed {
                acked: true,
                relayed: acc
                    .new_changes
                    .iter()
                    .filter(|c| c.actor_id() != &device.actor)
                    .count(),
                created_as_sent: acc.created && acc.compensation.is_none() && neutralised.is_none(),
                reports,
                send_back: acc.compensation.is_some() || neutralised.is_some(),
            })
        }
    }
}

/// Who may file refused pushes in quarantine, and how much each device may keep there.
struct Quarantine<'a> {
    /// The sending user's role in each project.
    roles: &'a HashMap<String, String>,
    quota: QuarantineQuota,
}

impl Quarantine<'_> {
    /// Why nothing of a push refused in `project` (or naming none) is kept: only a user with a
    /// writing role there (anywhere, when the push names no project) files quarantine entries.
    fn not_kept_because(&self, project: Option<&str>) -> Option<String> {
        let writes = |role: &String| crate::roles::may_write(role);
        match project {
            Some(p) if !self.roles.get(p).is_some_and(writes) => Some(format!(
                "you have no role that records data in project `{p}`"
            )),
            None if !self.roles.values().any(writes) => {
                Some("you have no role that records data in any project".to_owned())
            }
            _ => None,
        }
    }
}

/// Refuses a push: files what it keeps in quarantine (if its user may, and within the device's
/// quota) and reports to the device what was refused and what, if anything, the server kept.
#[allow(clippy::too_many_arguments)]
async fn refused(
    tx: &mut Tx,
    device: &DeviceAuth,
    quarantine: &Quarantine<'_>,
    id: Uuid,
    project: Option<&str>,
    code: RefusalCode,
    message: String,
    kept: Kept,
    existed: bool,
    now: i64,
) -> ApiResult<Pushed> {
    let id_text = id.to_string();
    let what = match &kept {
        Kept::Changes(_) => "the refused changes".to_owned(),
        Kept::Sample(bytes) => format!(
            "only the first {} bytes (they are not Automerge changes, so nothing could be \
             released)",
            bytes.len()
        ),
    };
    let outcome = match quarantine.not_kept_because(project) {
        Some(why) => format!("The server kept nothing of it ({why})"),
        None => {
            let filed = store::quarantine_refused(
                tx,
                QuarantineEntry {
                    record_id: &id_text,
                    project,
                    device_id: &device.device_id,
                    action: "refused",
                    code: code.as_str(),
                    field: None,
                    value: None,
                    message: &message,
                    changes: Some(kept.pack()),
                },
                quarantine.quota,
                now,
            )
            .await?;
            match filed {
                Filed::Kept => format!("The server kept {what} for an admin to review"),
                Filed::OverQuota {
                    entries,
                    bytes,
                    adding,
                } => format!(
                    "The server kept nothing of it: this device's quarantine quota is full \
                     ({entries} refused pushes, {bytes} bytes waiting for review; this one \
                     needs {adding} bytes more, and at most {} pushes or {} bytes are kept per \
                     device). Ask a coordinator to review this device's refused pushes",
                    quarantine.quota.max_entries, quarantine.quota.max_bytes
                ),
            }
        }
    };
    Ok(Pushed {
        acked: false,
        relayed: 0,
        created_as_sent: false,
        reports: vec![report(
            id,
            ReportKind::Refused,
            code.as_str(),
            None,
            format!(
                "{message}. {outcome}; this device set its copy aside{}",
                if existed {
                    " and took the server's copy"
                } else {
                    ""
                }
            ),
        )],
        send_back: existed,
    })
}

/// Reviewers' decisions on this device's quarantined changes that it has not been told of, as
/// reports; each is sent once (marked in the same transaction as the rest of the sync).
async fn decisions_for(tx: &mut Tx, device_id: &str, now: i64) -> ApiResult<Vec<RecordReport>> {
    let rows = sqlx::query(
        "SELECT id, record_id, status, field, value, decision_reason FROM quarantine \
         WHERE device_id = $1 AND status IN ('released', 'discarded') AND notified_at IS NULL \
         ORDER BY id",
    )
    .bind(device_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut reports = Vec::new();
    for row in rows {
        let Ok(record) = Uuid::parse_str(&row.get::<String, _>("record_id")) else {
            continue;
        };
        let status: String = row.get("status");
        let field: Option<String> = row.get("field");
        let value: Option<String> = row.get("value");
        let reason: Option<String> = row.get("decision_reason");
        let what = match (&field, &value) {
            (Some(f), Some(v)) => format!("the value {v:?} for {f}"),
            _ => "the changes to this record".to_owned(),
        };
        let (kind, message) = if status == "released" {
            (
                ReportKind::Released,
                format!("a reviewer released {what}, which the server had held back"),
            )
        } else {
            (
                ReportKind::Discarded,
                format!("a reviewer discarded {what}, which the server had held back"),
            )
        };
        let message = match reason.filter(|r| !r.is_empty()) {
            Some(r) => format!("{message}: {r}"),
            None => message,
        };
        reports.push(report(record, kind, &status, field, message));
        sqlx::query("UPDATE quarantine SET notified_at = $1 WHERE id = $2")
            .bind(now)
            .bind(row.get::<i64, _>("id"))
            .execute(&mut **tx)
            .await?;
    }
    Ok(reports)
}

async fn snapshot_page(
    tx: &mut Tx,
    user_id: &str,
    after: Uuid,
    skip: &BTreeSet<Uuid>,
    budget: &mut usize,
) -> ApiResult<(Vec<RecordPull>, Option<Uuid>, bool)> {
    let rows = sqlx::query(concat!(
        "SELECT id, project, kind, doc FROM records WHERE ",
        pullable_sql!(
            "$1",
            "records.project",
            "records.kind",
            "records.restricted",
            "records.owner_user"
        ),
        " AND id > $2 ORDER BY id LIMIT $3",
    ))
    .bind(user_id)
    .bind(if after.is_nil() {
        String::new()
    } else {
        after.to_string()
    })
    .bind(PAGE_SNAPSHOTS)
    .fetch_all(&mut **tx)
    .await?;
    let full = rows.len() as i64 == PAGE_SNAPSHOTS;
    let mut out = Vec::new();
    let mut last = None;
    for row in rows {
        let id: String = row.get("id");
        let Ok(id) = Uuid::parse_str(&id) else {
            continue;
        };
        let doc: Vec<u8> = row.get("doc");
        if *budget < doc.len() && !out.is_empty() {
            return Ok((out, last, true));
        }
        last = Some(id);
        if skip.contains(&id) {
            continue;
        }
        let Some(kind) = RecordKind::parse(&row.get::<String, _>("kind")) else {
            continue;
        };
        *budget = budget.saturating_sub(doc.len());
        out.push(RecordPull {
            id,
            kind,
            project: row.get("project"),
            data: PullData::Snapshot(ByteBuf::from(doc)),
        });
    }
    Ok((out, last, full))
}

async fn log_page(
    tx: &mut Tx,
    user_id: &str,
    device_id: &str,
    since: u64,
    head: u64,
    budget: &mut usize,
) -> ApiResult<(Vec<RecordPull>, u64, bool)> {
    let rows = sqlx::query(concat!(
        "SELECT c.seq, c.record_id, c.project, r.kind, c.change FROM change_log c \
         JOIN records r ON r.id = c.record_id \
         WHERE c.seq > $1 AND c.seq <= $2 \
           AND (c.device_id IS NULL OR c.device_id <> $3) \
           AND ",
        pullable_sql!("$4", "c.project", "r.kind", "r.restricted", "r.owner_user"),
        " ORDER BY c.seq LIMIT $5",
    ))
    .bind(since as i64)
    .bind(head as i64)
    .bind(device_id)
    .bind(user_id)
    .bind(PAGE_ROWS)
    .fetch_all(&mut **tx)
    .await?;
    let mut more = rows.len() as i64 == PAGE_ROWS;
    let mut last = since;
    let mut order: Vec<Uuid> = Vec::new();
    let mut by_record: HashMap<Uuid, RecordPull> = HashMap::new();
    for row in rows {
        let change: Vec<u8> = row.get("change");
        if *budget < change.len() && last > since {
            more = true;
            break;
        }
        *budget = budget.saturating_sub(change.len());
        last = row.get::<i64, _>("seq") as u64;
        let Ok(id) = Uuid::parse_str(&row.get::<String, _>("record_id")) else {
            continue;
        };
        let Some(kind) = RecordKind::parse(&row.get::<String, _>("kind")) else {
            continue;
        };
        let entry = by_record.entry(id).or_insert_with(|| {
            order.push(id);
            RecordPull {
                id,
                kind,
                project: row.get("project"),
                data: PullData::Changes(Vec::new()),
            }
        });
        if let PullData::Changes(list) = &mut entry.data {
            list.push(ByteBuf::from(change));
        }
    }
    let pulls = order
        .into_iter()
        .filter_map(|id| by_record.remove(&id))
        .collect();
    Ok((pulls, last, more))
}

/// Records whose audience narrowed after position `since` (0: any time; for a device whose
/// position was reset, every record restricted from the user) that the user may no longer pull.
async fn withdrawn_since(
    tx: &mut Tx,
    user_id: &str,
    roles: &HashMap<String, String>,
    since: u64,
) -> ApiResult<Vec<Uuid>> {
    let since = i64::try_from(since).unwrap_or(i64::MAX);
    let sql = if since == 0 {
        "SELECT id AS record_id, project, kind, restricted, owner_user FROM records \
         WHERE restricted = 1 AND $1 = 0 ORDER BY id"
    } else {
        "SELECT DISTINCT w.record_id, r.project, r.kind, r.restricted, r.owner_user \
         FROM withdrawals w JOIN records r ON r.id = w.record_id \
         WHERE w.seq > $1 ORDER BY w.record_id"
    };
    let rows = sqlx::query(sql).bind(since).fetch_all(&mut **tx).await?;
    let mut out = Vec::new();
    for row in rows {
        let project: String = row.get("project");
        let Some(role) = roles.get(&project) else {
            continue;
        };
        let Some(kind) = RecordKind::parse(&row.get::<String, _>("kind")) else {
            continue;
        };
        let owner: Option<String> = row.get("owner_user");
        let visible = crate::roles::may_pull_record(
            role,
            kind,
            row.get::<i64, _>("restricted") != 0,
            owner.as_deref() == Some(user_id),
        );
        if !visible && let Ok(id) = Uuid::parse_str(&row.get::<String, _>("record_id")) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The participant a wellbeing response or story is about.
fn participant_of(doc: &RecordDoc) -> Option<String> {
    match doc.view().ok()?.data {
        RecordData::Wellbeing(w) => Some(w.participant),
        RecordData::Contact(c) => Some(c.participant),
        RecordData::Story(s) => s.participant,
        _ => None,
    }
}

/// Puts back the participant a record named before a device pointed it at an erased one (or
/// clears a story's, if it named none), as a change authored by the document's actor (the
/// server's). A response that cannot be given its participant back is left as merged.
fn restore_participant(
    doc: &mut RecordDoc,
    before: Option<String>,
    now: i64,
) -> ApiResult<Option<bothy_sync_core::automerge::Change>> {
    let res = match before {
        Some(p) => doc.edit(now, |e| e.set("participant", p)),
        None => doc.edit(now, |e| e.clear("participant")),
    };
    match res {
        Ok(Some(hash)) => Ok(doc.automerge().get_change_by_hash(&hash)),
        Ok(None) | Err(bothy_sync_core::RecordError::Invalid(_)) => Ok(None),
        Err(e) => Err(ApiError::Internal(anyhow::anyhow!(
            "restoring the participant failed: {e}"
        ))),
    }
}
