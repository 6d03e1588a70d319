//! The sync endpoint: one request, one response, whatever the number of records.
//!
//! A device sends its unacknowledged changes and its cursor in the server's change log; the
//! server, in one transaction per request, authorises and merges every pushed record, appends
//! the new changes to the log, rewrites projections, then reads back what the device lacks and
//! commits. The response is sent only after the commit, so an acknowledged change is durable
//! (sync contract 1); any request may be repeated, because changes are deduplicated by hash
//! (contract 2).
//!
//! A push is handled in chunks of [`MERGE_CHUNK`] records, in id order: each chunk's records are
//! loaded in one query, merged and prepared for storage (documents saved, projection rows
//! built) on blocking threads, in parallel across records, then checked against erasures in
//! one query and written together ([`records::Batch`]: a few multi-row statements per table). No
//! merged document outlives its chunk. A sync that pushes nothing reads in a read transaction
//! (on SQLite beside the one writer) and writes afterwards, in a short transaction of its own,
//! only what changed: reviewers' decisions it reported, and the device's row (its
//! `last_sync_at` at most [`LAST_SYNC_RESOLUTION`] seconds stale).

pub mod setup;

use crate::access::auth::DeviceAuth;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{BusyCause, SyncTally};
use crate::review::erasure;
use crate::state::AppState;
use crate::storage::records::{self, Filed, Kept, LogEntry, QuarantineEntry, QuarantineQuota};
use crate::storage::sync::DeviceSyncRow as DeviceRow;
use crate::storage::{self, Db, Tx, now};
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
use futures_util::TryStreamExt;
use serde_bytes::ByteBuf;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

use crate::access::roles::{may_pull, may_push};
/// Most log rows sent in one response.
const PAGE_ROWS: i64 = 20_000;
/// Stop adding to a response past this many bytes of documents and changes.
const PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Most records in one push.
const MAX_PUSH_RECORDS: usize = 50_000;
/// Log rows behind the head past which a sync may answer with a large page.
const BIG_PAGE_BEHIND: u64 = 2_000;
/// Large pages built at once (each at most [`PAGE_BYTES`] of documents and changes, held with
/// their encoded answer until it is sent).
pub const BIG_PAGES_AT_ONCE: usize = 4;
/// Records of a push merged together (in parallel) and written together; bounds the merged
/// documents held at once.
const MERGE_CHUNK: usize = 512;

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
        (status = 503, description = "`busy`: the server has more syncs than it takes at once, or no database connection came free in time; the answer has a `Retry-After` header (seconds) and the device tries again after it, its records safe meanwhile (docs/protocol.md, \"Errors\"). `unavailable`: the database cannot be reached", body = crate::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "With `busy`: seconds to wait before trying again"))),
    )
)]
pub async fn sync(
    State(state): State<AppState>,
    device: Result<DeviceAuth, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let mut tally = SyncTally::default();
    let answer = match device {
        Ok(device) => answer_sync(&state, &device, &headers, body, &mut tally).await,
        Err(e) => Err(e),
    };
    let metrics = &state.metrics;
    match answer {
        Ok(response) => {
            metrics.sync_answered(StatusCode::OK, "ok", started.elapsed(), &tally);
            response
        }
        Err(e) => {
            let (status, code) = e.status_and_code();
            if e.is_busy() {
                metrics.sync_busy(if tally.turned_away {
                    BusyCause::Queue
                } else {
                    BusyCause::Pool
                });
            }
            metrics.sync_answered(status, code, started.elapsed(), &tally);
            e.into_response()
        }
    }
}

/// One sync of an authenticated device, counting in `tally` what it carries.
async fn answer_sync(
    state: &AppState,
    device: &DeviceAuth,
    headers: &HeaderMap,
    body: Body,
    tally: &mut SyncTally,
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
    tally.bytes_in = bytes.len() as u64;
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
    tally.pushed = request.push.len() as u64;
    // A turn is taken only now: a slow upload holds none.
    let Some(_turn) = state.admission.admit().await else {
        tally.turned_away = true;
        return Err(ApiError::busy());
    };
    let quota = QuarantineQuota {
        max_entries: state.config.quarantine_max_entries_per_device,
        max_bytes: state.config.quarantine_max_bytes_per_device,
    };
    let page_records = state.config.bootstrap_page_records.into();
    let (response, _page) = run_sync(
        &state.db,
        device,
        request,
        quota,
        page_records,
        &state.pages,
    )
    .await?;
    tally.answered(&response);
    let encoding = protocol::peek_encoding(&bytes);
    drop(bytes);
    // Compressing an answer that carries records is CPU work: off the async threads, like the
    // merge. An empty answer takes microseconds and is encoded in place.
    let body = if response.records.is_empty() && response.setup.is_none() {
        protocol::encode_response(&response, version, encoding)
    } else {
        tokio::task::spawn_blocking(move || protocol::encode_response(&response, version, encoding))
            .await
            .map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("encoding a sync answer failed: {e}"))
            })?
    };
    tally.bytes_out = body.len() as u64;
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
    let id = storage::sync::generation_id(executor).await?;
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
    let always = storage::sync::other_device_actors(&db.pool, &device.user_id, &device.device_id)
        .await?
        .into_iter()
        .filter_map(parse)
        .collect();
    let reconciling = if reconciling {
        let ids = storage::sync::superseded_generation_ids(&db.pool).await?;
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
    let rows = storage::sync::project_roles(&db.pool, user_id).await?;
    Ok(rows.into_iter().map(|r| (r.project, r.role)).collect())
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
/// `quota`, and a bootstrap sends at most `page_records` records an answer.
pub async fn run_sync(
    db: &Db,
    device: &DeviceAuth,
    request: SyncRequest,
    quota: QuarantineQuota,
    page_records: i64,
    pages: &std::sync::Arc<tokio::sync::Semaphore>,
) -> ApiResult<(SyncResponse, Option<tokio::sync::OwnedSemaphorePermit>)> {
    let sync_started = std::time::Instant::now();
    let mut merging = std::time::Duration::ZERO;
    let mut flushing = std::time::Duration::ZERO;
    let mut finishing = std::time::Duration::ZERO;
    let roles = memberships(db, &device.user_id).await?;
    let now = now();
    let generation = crate::storage::generation(db).await?;
    // A cursor naming a generation a restore replaced comes from a device that synced with the
    // lost timeline: it reconciles, and may vouch for what it received there.
    let from_superseded = match request.cursor.generation {
        Some(g) if g != generation.generation_id => crate::storage::is_superseded(&db.pool, g)
            .await?
            .then_some(g),
        _ => None,
    };
    let device_before = storage::sync::device_sync_row(&db.pool, &device.device_id).await?;
    let relay_from: Option<String> = match from_superseded {
        Some(g) => Some(g.to_string()),
        None => device_before.relay_from.clone(),
    };
    // Several server processes may share one PostgreSQL database, and another may have stored
    // an instrument definition since this one last read them: pushed responses are checked
    // against the definitions the database holds.
    if !request.push.is_empty() && db.backend == crate::storage::Backend::Postgres {
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
    // A sync that may answer with a large page (a bootstrap, or a device far behind) waits for
    // one of a few turns to build one, held until the answer is encoded: the memory big answers
    // take at once stays bounded however many devices bootstrap together.
    let behind = if request.cursor.seq == 0 || request.cursor.snapshot.is_some() {
        u64::MAX
    } else {
        let head = storage::sync::log_head(&db.pool).await?;
        (head as u64).saturating_sub(request.cursor.seq)
    };
    let page =
        if behind > BIG_PAGE_BEHIND {
            Some(pages.clone().acquire_owned().await.map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("the page turns were closed: {e}"))
            })?)
        } else {
            None
        };
    let closes_relay = request
        .pending
        .is_none_or(|p| request.push.len() >= p as usize);

    // Merge duplicate pushes of one record, then handle records in id order (lock order), a
    // chunk at a time, so no more than a chunk's merged documents are held at once.
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
    // A sync that pushes nothing reads in a read transaction (on SQLite, beside the one writer)
    // and writes only what changed afterwards, in a short transaction of its own.
    let read_only = pushed_count == 0;
    let mut tx = if read_only {
        db.begin_read().await?
    } else {
        db.begin_write().await?
    };
    // An erasure does not run while this sync stores records (see `erasure`).
    db.lock_erasures(&mut tx, false).await?;
    // Syncs of one device take turns, so two at once cannot both fill its quarantine quota.
    // (SQLite's single writer already does.) Taken before any record's lock.
    if db.backend == crate::storage::Backend::Postgres && pushed_count > 0 {
        storage::sync::lock_device_pushes(&mut *tx, &device.device_id).await?;
    }
    let mut response = SyncResponse {
        server_time: now,
        ..SyncResponse::default()
    };
    let mut out = PushOutcome::default();
    let pushed_ids: Vec<String> = pushes.keys().map(Uuid::to_string).collect();
    // Every pushed record's lock, in id order, before any is read.
    db.lock_records(&mut tx, &pushed_ids).await?;
    let tombstoned = erasure::erased_among(&mut tx, &pushed_ids).await?;
    let retired = crate::review::contacts::retired_among(&mut tx, &pushed_ids).await?;
    let mut fast: Vec<(Uuid, Vec<ByteBuf>, Vec<ByteBuf>)> = Vec::new();
    for (id, (changes, documents)) in pushes {
        let text = id.to_string();
        if tombstoned.contains(&text) {
            // Erased: refused, and kept nowhere (the data is personal). The device purges it.
            response.unacked.push(id);
            response.reports.push(erased_report(id, None));
        } else if retired.contains(&text) {
            // A participant's document from before contact records: its own, slower path.
            let ctx = PushContext {
                device,
                quarantine: &quarantine,
                policy: &policy,
                roles: &roles,
                now,
            };
            push_one(
                &mut tx,
                &ctx,
                id,
                changes,
                documents,
                &mut response,
                &mut out,
            )
            .await?;
        } else {
            fast.push((id, changes, documents));
        }
    }
    // The rest in chunks: each chunk's records are loaded in one query, merged in parallel off
    // the async threads, and written together; a chunk bounds the documents held at once.
    let policy_arc = std::sync::Arc::new(policy.clone());
    let roles_arc = std::sync::Arc::new(roles.clone());
    let mut fast = fast.into_iter().peekable();
    while fast.peek().is_some() {
        let chunk: Vec<(Uuid, Vec<ByteBuf>, Vec<ByteBuf>)> =
            fast.by_ref().take(MERGE_CHUNK).collect();
        let ids: Vec<String> = chunk.iter().map(|(id, _, _)| id.to_string()).collect();
        let mut stored = records::load_records(&mut tx, &ids).await?;
        let inputs: Vec<Prepare> = chunk
            .into_iter()
            .map(|(id, changes, documents)| {
                let stored = stored.get_mut(&id.to_string()).map(|s| StoredBrief {
                    project: s.project.clone(),
                    kind: RecordKind::parse(&s.kind),
                    restricted: s.restricted,
                    doc: std::mem::take(&mut s.doc),
                });
                Prepare {
                    id,
                    changes,
                    documents,
                    stored,
                }
            })
            .collect();
        let (p, r) = (policy_arc.clone(), roles_arc.clone());
        let device_actor = device.actor.clone();
        let merge_started = std::time::Instant::now();
        let prepared = tokio::task::spawn_blocking(move || {
            in_parallel(inputs, |input| prepare(input, &p, &r, Some(&device_actor)))
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("merging a push failed: {e}")))?;
        merging += merge_started.elapsed();
        // Participants the merged records name, checked against erasures in one query.
        let mut named: Vec<String> = Vec::new();
        for p in &prepared {
            if let Prepared::Merged { ready: Some(r), .. } = p {
                named.extend(r.participant.iter().cloned());
                named.extend(r.attendance.iter().cloned());
            }
        }
        named.sort();
        named.dedup();
        let erased = erasure::erased_among(&mut tx, &named).await?;
        let ctx = PushContext {
            device,
            quarantine: &quarantine,
            policy: &policy,
            roles: &roles,
            now,
        };
        let mut batch = records::Batch::default();
        let mut slow = Vec::new();
        let finish_started = std::time::Instant::now();
        for p in prepared {
            slow.extend(
                finish(
                    &mut tx,
                    &ctx,
                    p,
                    &erased,
                    &mut batch,
                    &mut response,
                    &mut out,
                )
                .await?,
            );
        }
        finishing += finish_started.elapsed();
        let flush_started = std::time::Instant::now();
        batch.flush(&mut tx, now).await?;
        flushing += flush_started.elapsed();
        // Participants created in the old format, after the chunk is written (their move may
        // touch other records).
        for (id, changes) in slow {
            push_one(
                &mut tx,
                &ctx,
                id,
                changes,
                Vec::new(),
                &mut response,
                &mut out,
            )
            .await?;
        }
    }
    let pushed_in = sync_started.elapsed();
    let PushOutcome {
        log,
        clean,
        send_back,
        relayed,
        mut replaced,
    } = out;
    let (decisions, decided) = decisions_for(&mut tx, &device.device_id).await?;
    response.reports.extend(decisions);
    if !read_only {
        mark_decisions(&mut tx, &decided, now).await?;
    }
    let head = records::append_log(&mut tx, log, now).await?;
    if !replaced.is_empty() {
        // Participants this sync retired are dated by the log position their new documents end at.
        crate::review::contacts::date_retirements(&mut tx, head).await?;
    }
    let head = head as u64;

    // What the device lacks.
    let scopes: Vec<String> = roles
        .iter()
        .filter_map(|(p, role)| crate::access::roles::scope_name(p, role))
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
        replaced.extend(crate::review::contacts::replaced_since(&mut tx, &projects, since).await?);
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
        let (pulls, last, more) = snapshot_page(
            &mut tx,
            &device.user_id,
            snap.after,
            &clean,
            page_records,
            &mut budget,
        )
        .await?;
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
        if let Some(rec) = records::load_record(&mut tx, &id.to_string()).await?
            && let Some(kind) = RecordKind::parse(&rec.kind)
            && roles.get(&rec.project).is_some_and(|role| {
                crate::access::roles::may_pull_record(
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
        crate::access::audit::record(
            &mut *tx,
            &crate::access::audit::Actor {
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
    let device_after = DeviceRow {
        last_sync_at: Some(now),
        app: request
            .app
            .map(|a| a.chars().take(100).collect::<String>())
            .or_else(|| device_before.app.clone()),
        pending_records: pending,
        last_pushed: Some(i64::try_from(pushed_count).unwrap_or(i64::MAX)),
        relay_from,
    };
    let write_device = must_write(&device_after, &device_before, now);
    if read_only {
        tx.commit().await?;
        if write_device || !decided.is_empty() {
            let mut tx = db.begin_write().await?;
            mark_decisions(&mut tx, &decided, now).await?;
            if write_device {
                storage::sync::save_device_sync_row(&mut *tx, &device.device_id, &device_after)
                    .await?;
            }
            tx.commit().await?;
        }
    } else {
        storage::sync::save_device_sync_row(&mut *tx, &device.device_id, &device_after).await?;
        tx.commit().await?;
    }
    // The project set-up with the user's roles, only when it differs from what the device
    // holds (a device that holds none, as on its first sync, always gets it).
    let roles: BTreeMap<String, String> =
        roles.iter().map(|(p, r)| (p.clone(), r.clone())).collect();
    let setup_started = std::time::Instant::now();
    let setup = setup::setup_for(db, &roles).await?;
    let setup_us = setup_started.elapsed().as_micros() as u64;
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
        merge_ms = merging.as_millis() as u64,
        finish_ms = finishing.as_millis() as u64,
        flush_ms = flushing.as_millis() as u64,
        push_ms = pushed_in.as_millis() as u64,
        setup_us,
        total_ms = sync_started.elapsed().as_millis() as u64,
        "sync"
    );
    Ok((response, page))
}

/// What a push did so far, across its records.
#[derive(Default)]
struct PushOutcome {
    log: Vec<LogEntry>,
    /// Created by this push and stored exactly as sent.
    clean: BTreeSet<Uuid>,
    /// Records whose server copy is sent back.
    send_back: BTreeSet<Uuid>,
    /// Records with relayed changes, and how many changes.
    relayed: (usize, usize),
    /// Participants' documents the device must replace.
    replaced: BTreeSet<Uuid>,
}

impl PushOutcome {
    /// Takes in what happened to one record.
    fn note(&mut self, response: &mut SyncResponse, id: Uuid, pushed: Pushed) {
        if !pushed.acked {
            response.unacked.push(id);
        }
        if pushed.relayed > 0 {
            self.relayed.0 += 1;
            self.relayed.1 += pushed.relayed;
        }
        if pushed.send_back {
            self.send_back.insert(id);
        } else if pushed.created_as_sent {
            self.clean.insert(id);
        }
        response.reports.extend(pushed.reports);
    }
}

/// Who pushes, under what rules.
struct PushContext<'a> {
    device: &'a DeviceAuth,
    quarantine: &'a Quarantine<'a>,
    policy: &'a MergePolicy,
    roles: &'a HashMap<String, String>,
    now: i64,
}

/// Pushes one record the slow way, one statement at a time: for participants' documents from
/// before contact records (and records that turn out to be created in that old format), whose
/// changes are carried over to new documents.
async fn push_one(
    tx: &mut Tx,
    ctx: &PushContext<'_>,
    id: Uuid,
    mut changes: Vec<ByteBuf>,
    documents: Vec<ByteBuf>,
    response: &mut SyncResponse,
    out: &mut PushOutcome,
) -> ApiResult<()> {
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
        let stored = records::load_record(tx, &id.to_string()).await?;
        let pushed = refused(
            tx,
            ctx.device,
            ctx.quarantine,
            id,
            stored.as_ref().map(|s| s.project.as_str()),
            RefusalCode::Malformed,
            why,
            Kept::sample_of(&document),
            stored.is_some(),
            ctx.now,
        )
        .await?;
        out.note(response, id, pushed);
        return Ok(());
    }
    // Changes of a participant's document from before contact records are carried over to
    // its new documents, and the device is told to replace its copy.
    let roles = ctx.roles;
    let may_write =
        |project: &str, kind: RecordKind| roles.get(project).is_some_and(|r| may_push(r, kind));
    match crate::review::contacts::intercept(
        tx,
        &id.to_string(),
        &changes,
        &ctx.device.user_id,
        &ctx.device.actor,
        &ctx.policy.compensating_actor,
        may_write,
        &mut out.log,
        ctx.now,
    )
    .await?
    {
        crate::review::contacts::Intercepted::No => {}
        crate::review::contacts::Intercepted::Yes { remaining } => {
            out.replaced.insert(id);
            if remaining.is_empty() {
                return Ok(());
            }
            changes = remaining;
        }
    }
    push_record(tx, ctx, id, changes, response, out).await
}

/// What the server holds of a pushed record, for the merge.
struct StoredBrief {
    project: String,
    kind: Option<RecordKind>,
    restricted: bool,
    doc: Vec<u8>,
}

/// One pushed record, with what the server holds of it.
struct Prepare {
    id: Uuid,
    changes: Vec<ByteBuf>,
    documents: Vec<ByteBuf>,
    stored: Option<StoredBrief>,
}

/// A merged record's writes and what must be checked against the database before they are
/// made.
struct Ready {
    project: String,
    kind: RecordKind,
    /// The participant it names (a response, a story, a contact record).
    participant: Option<String>,
    /// The participants a session marks.
    attendance: Vec<String>,
    write: records::RecordWrite,
}

/// A pushed record after the work that needs no database.
enum Prepared {
    /// A saved document in the push could not be read.
    Unreadable {
        id: Uuid,
        why: String,
        document: ByteBuf,
        stored_project: Option<String>,
    },
    /// The sender may not write the stored record.
    NotAllowed {
        id: Uuid,
        changes: Vec<ByteBuf>,
        project: String,
        kind: Option<RecordKind>,
    },
    /// A participant created in the format from before contact records: the slow path.
    OldFormat { id: Uuid, changes: Vec<ByteBuf> },
    /// Merged.
    Merged {
        id: Uuid,
        changes: Vec<ByteBuf>,
        existed: bool,
        stored_project: Option<String>,
        stored_restricted: Option<bool>,
        participant_before: Option<String>,
        verdict: Verdict,
        ready: Option<Box<Ready>>,
    },
    /// The stored document could not be loaded or the merged one read.
    Failed(String),
}

/// Runs `f` on every input on all cores (the calling thread and scoped helpers), keeping the
/// inputs' order. For CPU work only: call it from a blocking thread.
fn in_parallel<I: Send, O: Send>(inputs: Vec<I>, f: impl Fn(I) -> O + Sync) -> Vec<O> {
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(inputs.len());
    if threads <= 1 {
        return inputs.into_iter().map(f).collect();
    }
    let n = inputs.len();
    let queue = std::sync::Mutex::new(inputs.into_iter().enumerate());
    let results = std::sync::Mutex::new(Vec::with_capacity(n));
    let work = || {
        loop {
            let next = queue.lock().map(|mut q| q.next()).ok().flatten();
            let Some((i, input)) = next else { break };
            let output = f(input);
            if let Ok(mut r) = results.lock() {
                r.push((i, output));
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, o)| o).collect()
}

/// The work on one pushed record that needs no database: read any saved documents, check the
/// sender may write the stored record, merge, and prepare the writes.
fn prepare(
    input: Prepare,
    policy: &MergePolicy,
    roles: &HashMap<String, String>,
    old_format_from: Option<&bothy_sync_core::automerge::ActorId>,
) -> Prepared {
    let Prepare {
        id,
        mut changes,
        documents,
        stored,
    } = input;
    for doc in documents {
        match merge::document_changes(&doc) {
            Ok(list) => changes.extend(list.into_iter().map(ByteBuf::from)),
            Err(why) => {
                return Prepared::Unreadable {
                    id,
                    why,
                    document: doc,
                    stored_project: stored.map(|s| s.project),
                };
            }
        }
    }
    let may_write = |project: &str, kind: Option<RecordKind>| {
        roles.get(project).is_some_and(|r| match kind {
            Some(kind) => may_push(r, kind),
            None => crate::access::roles::may_write(r),
        })
    };
    let existed = stored.is_some();
    let (doc, stored_project, stored_restricted) = match stored {
        Some(s) => {
            if !may_write(&s.project, s.kind) {
                return Prepared::NotAllowed {
                    id,
                    changes,
                    project: s.project,
                    kind: s.kind,
                };
            }
            match RecordDoc::load(&s.doc, policy.compensating_actor.clone()) {
                Ok(d) => (Some(d), Some(s.project), Some(s.restricted)),
                Err(e) => {
                    return Prepared::Failed(format!("stored record {id} cannot be loaded: {e}"));
                }
            }
        }
        None => (None, None, None),
    };
    let participant_before = doc.as_ref().and_then(participant_of);
    let mut verdict = merge::merge_incoming(doc, &changes, policy);
    // A new participant in the format from before contact records takes the slow path. Only a
    // participant can be one: a record merged as another kind skips the check (which replays
    // the changes again).
    if !existed && let Some(sender) = old_format_from {
        let maybe = match &verdict {
            Verdict::Accepted(acc) => acc
                .doc
                .envelope()
                .map_or(true, |e| e.kind == RecordKind::Participant),
            _ => true,
        };
        if maybe && crate::review::contacts::created_in_old_format_by(&changes, sender) {
            return Prepared::OldFormat { id, changes };
        }
    }
    let ready = match &mut verdict {
        Verdict::Accepted(acc) => {
            match records::RecordWrite::with_view(&id.to_string(), &mut acc.doc, &acc.flagged) {
                Ok((write, view)) => Some(Box::new(Ready {
                    project: view.project.clone(),
                    kind: view.kind,
                    participant: participant_in(&view),
                    attendance: match &view.data {
                        RecordData::Session(session) => {
                            session.attendance.keys().cloned().collect()
                        }
                        _ => Vec::new(),
                    },
                    write,
                })),
                Err(e) => return Prepared::Failed(e.to_string()),
            }
        }
        _ => None,
    };
    Prepared::Merged {
        id,
        changes,
        existed,
        stored_project,
        stored_restricted,
        participant_before,
        verdict,
        ready,
    }
}

/// Finishes one prepared record in the transaction: refusals, erasure checks against `erased`
/// (the erased participants among those the chunk's records name), quarantine, and its writes
/// into `batch`.
async fn finish(
    tx: &mut Tx,
    ctx: &PushContext<'_>,
    prepared: Prepared,
    erased: &BTreeSet<String>,
    batch: &mut records::Batch,
    response: &mut SyncResponse,
    out: &mut PushOutcome,
) -> ApiResult<Option<(Uuid, Vec<ByteBuf>)>> {
    let now = ctx.now;
    let device = ctx.device;
    let roles = ctx.roles;
    let not_allowed = |project: &str, kind: Option<RecordKind>| match (roles.get(project), kind) {
        (Some(role), Some(kind)) if crate::access::roles::may_write(role) => format!(
            "a {role} may not write {} records in project `{project}`",
            kind.as_str()
        ),
        _ => format!("you may not write records in project `{project}`"),
    };
    let refuse = |code: RefusalCode, changes: &[ByteBuf]| {
        if code == RefusalCode::Malformed {
            Kept::sample_of_all(changes)
        } else {
            Kept::Changes(changes.to_vec())
        }
    };
    let (id, pushed) = match prepared {
        Prepared::Failed(why) => return Err(ApiError::Internal(anyhow::anyhow!(why))),
        Prepared::OldFormat { id, changes } => return Ok(Some((id, changes))),
        Prepared::Unreadable {
            id,
            why,
            document,
            stored_project,
        } => {
            let pushed = refused(
                tx,
                device,
                ctx.quarantine,
                id,
                stored_project.as_deref(),
                RefusalCode::Malformed,
                why,
                Kept::sample_of(&document),
                stored_project.is_some(),
                now,
            )
            .await?;
            (id, pushed)
        }
        Prepared::NotAllowed {
            id,
            changes,
            project,
            kind,
        } => {
            let pushed = refused(
                tx,
                device,
                ctx.quarantine,
                id,
                Some(&project),
                RefusalCode::NotAllowed,
                not_allowed(&project, kind),
                refuse(RefusalCode::NotAllowed, &changes),
                true,
                now,
            )
            .await?;
            (id, pushed)
        }
        Prepared::Merged {
            id,
            changes,
            existed,
            stored_project,
            stored_restricted,
            participant_before,
            verdict,
            ready,
        } => {
            let pushed = match verdict {
                Verdict::AlreadyHave => Pushed {
                    acked: true,
                    relayed: 0,
                    created_as_sent: false,
                    reports: vec![],
                    send_back: false,
                },
                Verdict::MissingDependencies(missing) => Pushed {
                    acked: false,
                    relayed: 0,
                    created_as_sent: false,
                    reports: vec![missing_dependencies(id, missing.len())],
                    send_back: false,
                },
                Verdict::Refused { code, message } => {
                    if !existed && let Some(p) = erased_participant(tx, &changes).await? {
                        erased_push(id, Some(&p))
                    } else {
                        let project = stored_project.or_else(|| merge::claimed_project(&changes));
                        refused(
                            tx,
                            device,
                            ctx.quarantine,
                            id,
                            project.as_deref(),
                            code,
                            message,
                            refuse(code, &changes),
                            existed,
                            now,
                        )
                        .await?
                    }
                }
                Verdict::Accepted(acc) => {
                    let Some(ready) = ready else {
                        return Err(ApiError::Internal(anyhow::anyhow!(
                            "merged record {id} was not prepared"
                        )));
                    };
                    accepted(
                        tx,
                        ctx,
                        id,
                        *acc,
                        *ready,
                        participant_before,
                        stored_restricted,
                        &changes,
                        erased,
                        batch,
                        &mut out.log,
                    )
                    .await?
                }
            };
            (id, pushed)
        }
    };
    out.note(response, id, pushed);
    Ok(None)
}

/// The report asking a device to send a record whole.
fn missing_dependencies(id: Uuid, missing: usize) -> RecordReport {
    report(
        id,
        ReportKind::Resend,
        "missing_dependencies",
        None,
        format!(
            "the server lacks {missing} earlier change(s) of this record; the whole record will be sent next time"
        ),
    )
}

/// Stores a record whose push was accepted: erased participants are neutralised, the writes go
/// into `batch` and the new changes into `log`.
#[allow(clippy::too_many_arguments)]
async fn accepted(
    tx: &mut Tx,
    ctx: &PushContext<'_>,
    id: Uuid,
    mut acc: merge::Accepted,
    ready: Ready,
    participant_before: Option<String>,
    stored_restricted: Option<bool>,
    changes: &[ByteBuf],
    erased: &BTreeSet<String>,
    batch: &mut records::Batch,
    log: &mut Vec<LogEntry>,
) -> ApiResult<Pushed> {
    let now = ctx.now;
    let device = ctx.device;
    let id_text = id.to_string();
    let Ready {
        project,
        kind,
        participant,
        attendance,
        mut write,
    } = ready;
    // About an erased participant: a new record is refused and kept nowhere; an existing one
    // pointed at them gets its participant back by a server change.
    let mut neutralised = None;
    if let Some(p) = &participant
        && erased.contains(p)
    {
        if acc.created {
            return Ok(erased_push(id, Some(p)));
        }
        neutralised = restore_participant(&mut acc.doc, participant_before, now)?;
    }
    // Attendance marks for erased participants: merged, then removed by a server change, so no
    // replica keeps the mark.
    let marked: Vec<String> = attendance
        .into_iter()
        .filter(|p| erased.contains(p))
        .collect();
    if !marked.is_empty() {
        neutralised = erasure::remove_marks(&mut acc.doc, &marked, now)?;
    }
    let may_write = ctx.roles.get(&project).is_some_and(|r| may_push(r, kind));
    if acc.created && !may_write {
        let message = match ctx.roles.get(&project) {
            Some(role) if crate::access::roles::may_write(role) => format!(
                "a {role} may not write {} records in project `{project}`",
                kind.as_str()
            ),
            _ => format!("you may not write records in project `{project}`"),
        };
        return refused(
            tx,
            device,
            ctx.quarantine,
            id,
            Some(&project),
            RefusalCode::NotAllowed,
            message,
            Kept::Changes(changes.to_vec()),
            false,
            now,
        )
        .await;
    }
    records::log_accepted(
        tx,
        &id_text,
        &project,
        &device.device_id,
        Some(&device.device_id),
        &acc,
        log,
        now,
    )
    .await?;
    if let Some(change) = &neutralised {
        // The document changed after it was prepared: prepare its writes again.
        write = records::RecordWrite::of(&id_text, &mut acc.doc, &acc.flagged)?;
        log.push(LogEntry::of(&id_text, &project, None, change));
    }
    if kind == RecordKind::Story {
        records::update_audience(
            tx,
            &id_text,
            &project,
            write.restricted,
            Some(stored_restricted),
            now,
        )
        .await?;
    }
    if acc.created {
        write = write.owned_by(&device.user_id);
    }
    batch.add(write);
    Ok(Pushed {
        acked: true,
        relayed: acc
            .new_changes
            .iter()
            .filter(|c| c.actor_id() != &device.actor)
            .count(),
        created_as_sent: acc.created && acc.compensation.is_none() && neutralised.is_none(),
        reports: accepted_reports(id, &acc),
        send_back: acc.compensation.is_some() || neutralised.is_some(),
    })
}

/// The reports on values an accepted push had set aside or flagged.
fn accepted_reports(id: Uuid, acc: &merge::Accepted) -> Vec<RecordReport> {
    let mut reports = Vec::new();
    for q in &acc.quarantined {
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
    reports
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

/// Pushes one record on its own (the slow path's records, after their old-format changes were
/// carried over): loaded, merged and written as the chunks of [`run_sync`] are.
async fn push_record(
    tx: &mut Tx,
    ctx: &PushContext<'_>,
    id: Uuid,
    changes: Vec<ByteBuf>,
    response: &mut SyncResponse,
    out: &mut PushOutcome,
) -> ApiResult<()> {
    let text = id.to_string();
    let stored = records::load_records(tx, std::slice::from_ref(&text))
        .await?
        .remove(&text)
        .map(|s| StoredBrief {
            project: s.project,
            kind: RecordKind::parse(&s.kind),
            restricted: s.restricted,
            doc: s.doc,
        });
    let input = Prepare {
        id,
        changes,
        documents: Vec::new(),
        stored,
    };
    let prepared = prepare(input, ctx.policy, ctx.roles, None);
    let mut named = Vec::new();
    if let Prepared::Merged { ready: Some(r), .. } = &prepared {
        named.extend(r.participant.iter().cloned());
        named.extend(r.attendance.iter().cloned());
    }
    let erased = erasure::erased_among(tx, &named).await?;
    let mut batch = records::Batch::default();
    let slow = finish(tx, ctx, prepared, &erased, &mut batch, response, out).await?;
    batch.flush(tx, ctx.now).await?;
    if slow.is_some() {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "record {id} was sent back to the old-format path twice"
        )));
    }
    Ok(())
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
        let writes = |role: &String| crate::access::roles::may_write(role);
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
            let filed = records::quarantine_refused(
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
/// reports, with their quarantine ids: each is sent once (marked by [`mark_decisions`] in the
/// sync's write transaction).
async fn decisions_for(tx: &mut Tx, device_id: &str) -> ApiResult<(Vec<RecordReport>, Vec<i64>)> {
    let rows = storage::sync::untold_decisions(&mut **tx, device_id).await?;
    let mut reports = Vec::new();
    let mut ids = Vec::new();
    for row in rows {
        let Ok(record) = Uuid::parse_str(&row.record_id) else {
            continue;
        };
        let status = row.status;
        let field = row.field;
        let value = row.value;
        let reason = row.decision_reason;
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
        ids.push(row.id);
    }
    Ok((reports, ids))
}

/// Marks reviewers' decisions as told to their device.
async fn mark_decisions(tx: &mut Tx, ids: &[i64], now: i64) -> ApiResult<()> {
    storage::sync::mark_decisions_told(tx, ids, now).await?;
    Ok(())
}

/// How stale `last_sync_at` may get before a sync that changes nothing else rewrites it: a
/// sync that pushes nothing then needs no write at all.
const LAST_SYNC_RESOLUTION: i64 = 30;

/// Whether a device's row as a sync leaves it (`after`) must be written over `before`.
fn must_write(after: &DeviceRow, before: &DeviceRow, now: i64) -> bool {
    after.app != before.app
        || after.pending_records != before.pending_records
        || after.last_pushed != before.last_pushed
        || after.relay_from != before.relay_from
        || before
            .last_sync_at
            .is_none_or(|at| now - at >= LAST_SYNC_RESOLUTION || at > now)
}

async fn snapshot_page(
    tx: &mut Tx,
    user_id: &str,
    after: Uuid,
    skip: &BTreeSet<Uuid>,
    page_records: i64,
    budget: &mut usize,
) -> ApiResult<(Vec<RecordPull>, Option<Uuid>, bool)> {
    // With each record, its change-log row when the log holds exactly one (see `only_change`).
    let after = if after.is_nil() {
        String::new()
    } else {
        after.to_string()
    };
    let mut rows = storage::sync::snapshot_rows(&mut **tx, user_id, &after, page_records);
    let mut read = 0i64;
    let mut out = Vec::new();
    let mut last = None;
    while let Some(row) = rows.try_next().await? {
        read += 1;
        let Ok(id) = Uuid::parse_str(&row.id) else {
            continue;
        };
        let doc = row.doc;
        // A record whose whole history is one change goes as that change: smaller.
        let (data, size) = match only_change(&doc, row.only_hash.as_deref(), row.only_change) {
            Some(change) => {
                let size = change.len();
                (PullData::Changes(vec![ByteBuf::from(change)]), size)
            }
            None => {
                let size = doc.len();
                (PullData::Snapshot(ByteBuf::from(doc)), size)
            }
        };
        if *budget < size && !out.is_empty() {
            return Ok((out, last, true));
        }
        last = Some(id);
        if skip.contains(&id) {
            continue;
        }
        let Some(kind) = RecordKind::parse(&row.kind) else {
            continue;
        };
        *budget = budget.saturating_sub(size);
        out.push(RecordPull {
            id,
            kind,
            project: row.project,
            data,
        });
    }
    Ok((out, last, read == page_records))
}

async fn log_page(
    tx: &mut Tx,
    user_id: &str,
    device_id: &str,
    since: u64,
    head: u64,
    budget: &mut usize,
) -> ApiResult<(Vec<RecordPull>, u64, bool)> {
    let rows = storage::sync::log_rows(
        &mut **tx,
        since as i64,
        head as i64,
        device_id,
        user_id,
        PAGE_ROWS,
    )
    .await?;
    let mut more = rows.len() as i64 == PAGE_ROWS;
    let mut last = since;
    let mut order: Vec<Uuid> = Vec::new();
    let mut by_record: HashMap<Uuid, RecordPull> = HashMap::new();
    for row in rows {
        let change = row.change;
        if *budget < change.len() && last > since {
            more = true;
            break;
        }
        *budget = budget.saturating_sub(change.len());
        last = row.seq as u64;
        let Ok(id) = Uuid::parse_str(&row.record_id) else {
            continue;
        };
        let Some(kind) = RecordKind::parse(&row.kind) else {
            continue;
        };
        let project = row.project;
        let entry = by_record.entry(id).or_insert_with(|| {
            order.push(id);
            RecordPull {
                id,
                kind,
                project,
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
    let rows = storage::sync::withdrawn_rows(&mut **tx, since).await?;
    let mut out = Vec::new();
    for row in rows {
        let Some(role) = roles.get(&row.project) else {
            continue;
        };
        let Some(kind) = RecordKind::parse(&row.kind) else {
            continue;
        };
        let visible = crate::access::roles::may_pull_record(
            role,
            kind,
            row.restricted != 0,
            row.owner_user.as_deref() == Some(user_id),
        );
        if !visible && let Ok(id) = Uuid::parse_str(&row.record_id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The participant a wellbeing response or story is about.
fn participant_of(doc: &RecordDoc) -> Option<String> {
    participant_in(&doc.view().ok()?)
}

/// The participant a record's view names (a response, a contact record, a story).
fn participant_in(view: &bothy_sync_core::RecordView) -> Option<String> {
    match &view.data {
        RecordData::Wellbeing(w) => Some(w.participant.clone()),
        RecordData::Contact(c) => Some(c.participant.clone()),
        RecordData::Story(s) => s.participant.clone(),
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

/// The magic bytes that begin every Automerge chunk.
const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a saved document.
const CHUNK_DOCUMENT: u8 = 0;
/// The chunk type of an uncompressed change (what the change log holds).
const CHUNK_CHANGE: u8 = 1;

/// A record's only change, to send in a snapshot page in place of its saved document when that
/// is provably the same document and smaller. `doc` is the record's saved document; `hash` and
/// `change` are its change-log row when the log holds exactly one for it. The proof reads only
/// chunk headers (nothing is loaded): the saved document is one chunk whose header names a
/// single head, that head is the logged change's hash (its checksum agrees), and the change
/// depends on nothing, so the document holds that change and no other. A record whose history
/// was rewritten (a migrated participant), or whose log lacks part of its history, fails the
/// proof and goes as its document.
fn only_change(doc: &[u8], hash: Option<&str>, change: Option<Vec<u8>>) -> Option<Vec<u8>> {
    let (hash, change) = (hash?, change?);
    if change.len() >= doc.len() {
        return None;
    }
    let hash: bothy_sync_core::automerge::ChangeHash = hash.parse().ok()?;
    let (_, saved) = single_chunk(doc, CHUNK_DOCUMENT)?;
    if saved_heads(saved)? != [hash.0] {
        return None;
    }
    let (checksum, mut body) = single_chunk(&change, CHUNK_CHANGE)?;
    // A change begins with its dependencies: a count, then their hashes.
    if checksum != &hash.0[..4] || uleb(&mut body)? != 0 {
        return None;
    }
    Some(change)
}

/// The checksum and body of `bytes` when they are exactly one chunk of type `kind`.
fn single_chunk(bytes: &[u8], kind: u8) -> Option<(&[u8], &[u8])> {
    let (magic, rest) = bytes.split_at_checked(4)?;
    let (checksum, rest) = rest.split_at_checked(4)?;
    let (&chunk, mut rest) = rest.split_first()?;
    if magic != CHUNK_MAGIC || chunk != kind {
        return None;
    }
    let len = usize::try_from(uleb(&mut rest)?).ok()?;
    (rest.len() == len).then_some((checksum, rest))
}

/// The heads a document chunk's body names (after its actors, before its columns).
fn saved_heads(mut body: &[u8]) -> Option<Vec<[u8; 32]>> {
    for _ in 0..uleb(&mut body)? {
        let len = usize::try_from(uleb(&mut body)?).ok()?;
        body = body.get(len..)?;
    }
    let n = usize::try_from(uleb(&mut body)?).ok()?;
    let hashes = body.get(..n.checked_mul(32)?)?;
    Some(
        hashes
            .chunks_exact(32)
            .map(|h| <[u8; 32]>::try_from(h).expect("32 bytes"))
            .collect(),
    )
}

/// Reads an unsigned LEB128 number off the front of `bytes`.
fn uleb(bytes: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod only_change_tests {
    use super::only_change;
    use bothy_sync_core::automerge::{AutoCommit, Change, ROOT, transaction::Transactable};

    fn logged(doc: &mut AutoCommit, i: usize) -> (String, Vec<u8>) {
        let changes: Vec<Change> = doc.get_changes(&[]);
        let c = &changes[i];
        (c.hash().to_string(), c.raw_bytes().to_vec())
    }

    fn one_change() -> AutoCommit {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "kind", "participant").unwrap();
        doc.put(ROOT, "code", "ABC-0001").unwrap();
        doc.put(ROOT, "note", "a walk up the brae").unwrap();
        doc.commit();
        doc
    }

    #[test]
    fn a_single_change_document_is_its_change() {
        let mut doc = one_change();
        let saved = doc.save();
        let (hash, change) = logged(&mut doc, 0);
        let sent =
            only_change(&saved, Some(&hash), Some(change.clone())).expect("sent as a change");
        assert_eq!(sent, change);
        assert!(sent.len() < saved.len());
        let mut rebuilt = AutoCommit::new();
        rebuilt
            .apply_changes([Change::from_bytes(sent.clone()).unwrap()])
            .unwrap();
        assert_eq!(rebuilt.get_heads(), doc.get_heads());
        // Loading the change's bytes gives the same document too.
        assert_eq!(
            AutoCommit::load(&sent).unwrap().get_heads(),
            doc.get_heads()
        );
        // Uncompressed saves (what the server stores) name the same heads.
        assert!(only_change(&doc.save_nocompress(), Some(&hash), Some(change.clone())).is_some());
        // A document that compresses to less than its change goes as the document.
        let mut long = AutoCommit::new();
        long.put(ROOT, "note", "the tide was out ".repeat(40))
            .unwrap();
        long.commit();
        let (long_hash, long_change) = logged(&mut long, 0);
        let compressed = long.save();
        assert!(compressed.len() <= long_change.len());
        assert!(only_change(&compressed, Some(&long_hash), Some(long_change.clone())).is_none());
        let plain = long.save_nocompress();
        assert!(only_change(&plain, Some(&long_hash), Some(long_change)).is_some());
        // Without a log row, or with another change's hash, it stays a document.
        assert!(only_change(&saved, None, Some(change.clone())).is_none());
        assert!(only_change(&saved, Some(&hash), None).is_none());
        let (other, _) = logged(&mut one_change(), 0);
        assert!(only_change(&saved, Some(&other), Some(change)).is_none());
    }

    #[test]
    fn a_document_with_more_history_than_its_log_row_stays_a_document() {
        let mut doc = one_change();
        doc.put(ROOT, "code", "ABC-0002").unwrap();
        doc.commit();
        let saved = doc.save();
        // The log lost the first change: the second (the only head) depends on it.
        let (hash, change) = logged(&mut doc, 1);
        assert!(only_change(&saved, Some(&hash), Some(change)).is_none());
        // The log lost the second change: the first is not the head.
        let (hash, change) = logged(&mut doc, 0);
        assert!(only_change(&saved, Some(&hash), Some(change)).is_none());
        // A saved document with a change appended after it: more than one chunk.
        let mut single = one_change();
        let (hash, change) = logged(&mut single, 0);
        let mut grown = single.save();
        let mut fork = single.fork();
        fork.put(ROOT, "code", "ABC-0003").unwrap();
        fork.commit();
        grown.extend(fork.save_after(&single.get_heads()));
        assert!(only_change(&grown, Some(&hash), Some(change)).is_none());
    }

    #[test]
    fn concurrent_first_changes_make_two_heads() {
        let mut a = one_change();
        let mut b = one_change();
        a.merge(&mut b).unwrap();
        let saved = a.save();
        for i in 0..2 {
            let (hash, change) = logged(&mut a, i);
            assert!(only_change(&saved, Some(&hash), Some(change)).is_none());
        }
    }
}
