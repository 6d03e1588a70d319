//! The server process is killed with SIGKILL in the middle of syncs, as a crash or an
//! out-of-memory kill would end it: before the request arrives, while a request is on its way
//! in or being merged, and after the server committed but before its answer reached the device.
//! (A process kill keeps what the operating system has buffered; it does not test power loss.)
//!
//! Sync contract 1 and 2: every kill leaves the device with all its records, acknowledged only
//! where the server durably stored exactly what was sent; one request commits all or nothing;
//! after restarts and retries the server holds every record once, with the device's heads, the
//! projections and the change log hold no duplicates, and a new device receives the same
//! documents.

use bothy_device::{AttendanceMark, Device, DeviceError, SyncSummary, WellbeingForm};
use bothy_sync_core::automerge::ActorId;
use bothy_sync_core::{FieldValue, Instrument, RecordData, RecordDoc, RecordKind};
use bothy_tests::{Backend, ProcessServer, on_both_backends};
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

on_both_backends!(server_killed_mid_sync);

const PROJECT: &str = "island-walks";

/// A TCP proxy between the device and the server. It counts request bytes (so a test knows a
/// request is on its way) and, when asked, holds back the server's answers: the server has
/// committed and answered, but the device never hears it.
struct Proxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct ProxyShared {
    /// Bytes passed from devices to the server.
    up: AtomicU64,
    /// While set, the server's answers are swallowed.
    hold_answers: AtomicBool,
    /// Chunks of answers swallowed so far.
    answers_held: AtomicU64,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(ProxyShared::default());
        let state = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    // With the server down, the device's connection is closed unanswered.
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                            state.up.fetch_add(n as u64, Ordering::SeqCst);
                            if to_server.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = to_server.shutdown().await;
                    };
                    let down = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n @ 1..) = from_server.read(&mut buf).await {
                            if state.hold_answers.load(Ordering::SeqCst) {
                                state.answers_held.fetch_add(1, Ordering::SeqCst);
                                continue;
                            }
                            if to_client.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = to_client.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Proxy { addr, shared, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn up(&self) -> u64 {
        self.shared.up.load(Ordering::SeqCst)
    }

    fn held(&self) -> u64 {
        self.shared.answers_held.load(Ordering::SeqCst)
    }

    fn hold_answers(&self, hold: bool) {
        self.shared.hold_answers.store(hold, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// When, in a round, the server is killed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Right after the sync starts: the device is still reading its store, so the request
    /// finds no server.
    BeforeRequest,
    /// This many milliseconds after the request's first bytes passed the proxy.
    InFlight(u64),
    /// As soon as the server's answer reaches the proxy (it has committed), holding the answer
    /// back from the device.
    AtAnswer,
}

/// What a killed sync came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The sync finished before the kill.
    Completed,
    /// The sync failed and the server stored nothing of it.
    FailedNothingStored,
    /// The sync failed after the server durably stored everything it sent (the answer lost).
    FailedAfterCommit,
}

/// What the test captured, to compare with both sides.
#[derive(Default)]
struct Captured {
    participants: Vec<Uuid>,
    sessions: Vec<Uuid>,
    stories: Vec<Uuid>,
    wellbeing: usize,
    attendance: BTreeSet<(Uuid, Uuid)>,
    serial: usize,
}

const AGE_BANDS: &[&str] = &["16-24", "25-34", "45-54", "65-74", "75-84"];
const GENDERS: &[&str] = &["woman", "man", "non_binary", "prefer_not_to_say"];
const ETHNIC: &[&str] = &["white", "asian", "black", "mixed", "other"];
const SOURCES: &[&str] = &["gp", "link_worker", "self", "community_organisation"];
const ACTIVITIES: &[(&str, &str)] = &[
    ("shore-walk", "walking"),
    ("gaelic-choir", "choir"),
    ("croft-garden", "nature"),
    ("weaving-circle", "heritage"),
];
const MARKS: &[AttendanceMark] = &[
    AttendanceMark::Present,
    AttendanceMark::Present,
    AttendanceMark::LeftEarly,
    AttendanceMark::Absent,
];

fn fields(list: &[(String, FieldValue)]) -> Vec<(&str, FieldValue)> {
    list.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

async fn mark(device: &Device, c: &mut Captured, session: Uuid, participant: Uuid) {
    let m = MARKS[c.attendance.len() % MARKS.len()];
    device
        .mark_attendance(session, participant, m)
        .await
        .expect("attendance is marked");
    c.attendance.insert((session, participant));
}

/// Captures a batch of field work: `10 * scale` participants with a WEMWBS baseline each,
/// `2 * scale` sessions with five attendance marks each, `3 * scale` stories; and, once there
/// are earlier (already synced) records, edits to them: late attendance marks, an end-of-
/// programme questionnaire, a story's body rewritten.
async fn capture_batch(device: &Device, c: &mut Captured, scale: usize) {
    let earlier_sessions = c.sessions.clone();
    let earlier_participants = c.participants.clone();
    let earlier_stories = c.stories.clone();
    let mut new_participants = Vec::new();
    for _ in 0..10 * scale {
        c.serial += 1;
        let n = c.serial;
        let p = device
            .create_participant(
                None,
                &fields(&[
                    ("consent.data_use".into(), true.into()),
                    (
                        "consent.story_sharing".into(),
                        (!n.is_multiple_of(3)).into(),
                    ),
                    ("consent.date".into(), "2026-10-01".into()),
                    ("age_band".into(), AGE_BANDS[n % AGE_BANDS.len()].into()),
                    ("gender".into(), GENDERS[n % GENDERS.len()].into()),
                    ("ethnic_group".into(), ETHNIC[n % ETHNIC.len()].into()),
                    ("imd_decile".into(), FieldValue::Int((n % 10) as i64 + 1)),
                    ("rurality".into(), "rural".into()),
                    ("referral.source".into(), SOURCES[n % SOURCES.len()].into()),
                ]),
            )
            .await
            .expect("participant is registered");
        new_participants.push(p.id);
        c.participants.push(p.id);
    }
    let mut new_sessions = Vec::new();
    for s in 0..2 * scale {
        c.serial += 1;
        let n = c.serial;
        let (activity, kind) = ACTIVITIES[n % ACTIVITIES.len()];
        let day = 1 + n % 28;
        let id = device
            .create_session(
                None,
                &fields(&[
                    ("site".into(), "north-uist-hall".into()),
                    ("activity".into(), activity.into()),
                    ("activity_type".into(), kind.into()),
                    ("start".into(), format!("2026-11-{day:02}T10:00:00Z").into()),
                    ("end".into(), format!("2026-11-{day:02}T12:00:00Z").into()),
                    ("location".into(), "Lochmaddy".into()),
                    ("facilitators.morag".into(), true.into()),
                    (
                        "notes".into(),
                        format!("Session {n}: dry, windy, tea after.").into(),
                    ),
                    (
                        "unregistered_attendees".into(),
                        FieldValue::Int((n % 4) as i64),
                    ),
                ]),
            )
            .await
            .expect("session is recorded");
        for k in 0..5 {
            let who = new_participants[(s * 5 + k) % new_participants.len()];
            mark(device, c, id, who).await;
        }
        new_sessions.push(id);
        c.sessions.push(id);
    }
    for (i, who) in new_participants.iter().enumerate() {
        c.serial += 1;
        let n = c.serial;
        device
            .record_wellbeing(&WellbeingForm {
                participant: *who,
                instrument: Instrument::Wemwbs.to_string(),
                timepoint: "baseline".into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1 + (n % 28) as u32).unwrap(),
                session: Some(new_sessions[i % new_sessions.len()]),
                items: (1..=14u8)
                    .map(|k| (k, 1 + (n + k as usize) as i64 % 5))
                    .collect(),
            })
            .await
            .expect("questionnaire is stored");
        c.wellbeing += 1;
    }
    for i in 0..3 * scale {
        c.serial += 1;
        let n = c.serial;
        let body = format!(
            "Story {n}. We walked from the pier along the machair while the tide went out; \
             {} talked about the old shielings and the year the ferry did not come. ",
            if i % 2 == 0 { "she" } else { "he" }
        )
        .repeat(6);
        let id = device
            .create_story(
                None,
                &fields(&[
                    ("title".into(), format!("Machair walk {n}").into()),
                    ("body".into(), body.into()),
                    ("consent_scope".into(), "project".into()),
                    ("language".into(), "en".into()),
                    ("themes.belonging".into(), true.into()),
                    ("themes.landscape".into(), true.into()),
                    (
                        "participant".into(),
                        new_participants[i % new_participants.len()]
                            .to_string()
                            .into(),
                    ),
                    (
                        "session".into(),
                        new_sessions[i % new_sessions.len()].to_string().into(),
                    ),
                ]),
            )
            .await
            .expect("story is written");
        c.stories.push(id);
    }
    // Edits to records the server already holds: these travel as changes, not documents.
    if let (Some(&old_session), Some(&old_story), Some(&old_person)) = (
        earlier_sessions.last(),
        earlier_stories.first(),
        earlier_participants.first(),
    ) {
        mark(device, c, old_session, new_participants[0]).await;
        mark(device, c, earlier_sessions[0], new_participants[1]).await;
        c.serial += 1;
        let text = format!(
            "Rewritten after round {}: the ferry came in the end.",
            c.serial
        );
        assert!(
            device
                .edit_story_body(old_story, &text)
                .await
                .expect("story body is edited"),
            "the edit changed the story"
        );
        device
            .record_wellbeing(&WellbeingForm {
                participant: old_person,
                instrument: Instrument::Wemwbs.to_string(),
                timepoint: "end".into(),
                date: chrono::NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(),
                session: None,
                items: (1..=14u8).map(|k| (k, 2 + i64::from(k % 4))).collect(),
            })
            .await
            .expect("questionnaire is stored");
        c.wellbeing += 1;
    }
}

/// Every record on a device: kind, heads (sorted hex) and whether it is unsynced.
async fn device_records(device: &Device) -> BTreeMap<Uuid, (RecordKind, Vec<String>, bool)> {
    let mut out = BTreeMap::new();
    for r in device.list(None).await.expect("device lists its records") {
        let heads = device.heads(r.id).await.expect("device reads heads");
        out.insert(r.id, (r.kind, hex_sorted(&heads), r.unsynced));
    }
    out
}

fn hex_sorted(heads: &[bothy_sync_core::automerge::ChangeHash]) -> Vec<String> {
    let mut v: Vec<String> = heads.iter().map(ToString::to_string).collect();
    v.sort();
    v
}

/// What the server's database durably holds (read directly, even while the server is dead):
/// each record's kind, heads (sorted hex) and number of changes.
async fn server_records(pool: &AnyPool) -> BTreeMap<Uuid, (String, Vec<String>, usize)> {
    let rows = sqlx::query("SELECT id, kind, doc FROM records")
        .fetch_all(pool)
        .await
        .expect("server records are readable");
    let mut out = BTreeMap::new();
    for row in rows {
        let id: String = row.get("id");
        let doc: Vec<u8> = row.get("doc");
        let mut doc = RecordDoc::load(&doc, ActorId::random()).expect("stored document loads");
        let changes = doc.automerge().get_changes(&[]).len();
        out.insert(
            Uuid::parse_str(&id).expect("record id"),
            (row.get("kind"), hex_sorted(&doc.heads()), changes),
        );
    }
    out
}

async fn count(pool: &AnyPool, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get::<i64, _>(0)
}

/// Waits (bounded) until `ready` holds, or the sync task has ended.
async fn wait_for(
    what: &str,
    sync: &tokio::task::JoinHandle<Result<SyncSummary, DeviceError>>,
    ready: impl Fn() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() && !sync.is_finished() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Syncs until the device has nothing left to send, retrying while the server is still coming
/// up. Asserts the server made no report: nothing refused, quarantined, flagged or asked to be
/// resent.
async fn sync_to_completion(device: &Device) {
    let mut tries = 0;
    loop {
        match device.sync().await {
            Ok(summary) => {
                assert!(
                    summary.reports.is_empty(),
                    "unexpected reports after a restart: {:?}",
                    summary.reports
                );
                let status = device.status().await.expect("status");
                if !summary.more && status.unsynced_records == 0 {
                    return;
                }
            }
            Err(e) if e.is_temporary() => {}
            Err(e) => panic!("sync after a restart failed: {e}"),
        }
        tries += 1;
        assert!(
            tries < 20,
            "the device did not finish syncing after a restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that every record the device counts as synced is on the server with the device's
/// heads (what `server` read from the database).
fn assert_synced_means_stored(
    when: &str,
    device: &BTreeMap<Uuid, (RecordKind, Vec<String>, bool)>,
    server: &BTreeMap<Uuid, (String, Vec<String>, usize)>,
) {
    for (id, (kind, heads, unsynced)) in device {
        if *unsynced {
            continue;
        }
        let stored = server.get(id).unwrap_or_else(|| {
            panic!("{when}: the device counts {kind} {id} as synced; the server lacks it")
        });
        assert_eq!(
            &stored.1, heads,
            "{when}: the device counts {kind} {id} as synced; the server holds other heads"
        );
    }
}

/// Runs one sync and kills the server at the point `kill` names. Returns the sync's result and
/// how long after its start the kill came.
async fn sync_and_kill(
    device: &Arc<Device>,
    server: &mut ProcessServer,
    proxy: &Proxy,
    kill: Kill,
) -> (Result<SyncSummary, DeviceError>, Duration) {
    let (up_before, held_before) = (proxy.up(), proxy.held());
    proxy.hold_answers(matches!(kill, Kill::AtAnswer));
    let started = Instant::now();
    let syncing = device.clone();
    let sync = tokio::spawn(async move { syncing.sync().await });
    match kill {
        Kill::BeforeRequest => {}
        Kill::InFlight(ms) => {
            wait_for("the request", &sync, || proxy.up() > up_before).await;
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Kill::AtAnswer => {
            wait_for("the answer", &sync, || proxy.held() > held_before).await;
        }
    }
    server.kill().await;
    let killed_after = started.elapsed();
    let result = tokio::time::timeout(Duration::from_secs(60), sync)
        .await
        .expect("the sync ends once the server is dead")
        .unwrap_or_else(|e| panic!("the sync panicked: {e}"));
    proxy.hold_answers(false);
    (result, killed_after)
}

async fn server_killed_mid_sync(backend: Backend) {
    let began = Instant::now();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_bothy-test-server"));
    let Some(mut server) = ProcessServer::start(backend, bin).await else {
        return;
    };
    server.project(PROJECT).await;
    server.user("morag", PROJECT, "researcher").await;
    let proxy = Proxy::start(server.addr).await;
    let device = Arc::new(server.device_at("morag", "tablet", &proxy.url()).await);
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&server.db.url)
        .await
        .expect("test reads the server's database");

    let plan = [
        Kill::BeforeRequest,
        Kill::InFlight(0),
        Kill::AtAnswer,
        Kill::InFlight(30),
        Kill::InFlight(120),
    ];
    let mut captured = Captured::default();
    let mut outcomes = Vec::new();
    for (round, kill) in plan.into_iter().enumerate() {
        capture_batch(&device, &mut captured, if round == 0 { 4 } else { 2 }).await;
        let when = format!("[{backend:?}] round {round}");
        let device_before = device_records(&device).await;
        let server_before = server_records(&pool).await;
        // The previous round's retry finished the job.
        assert_synced_means_stored(&format!("{when}, before"), &device_before, &server_before);
        let pending: BTreeMap<Uuid, Vec<String>> = device_before
            .iter()
            .filter(|(_, (_, _, unsynced))| *unsynced)
            .map(|(id, (_, heads, _))| (*id, heads.clone()))
            .collect();
        let unsynced_before = device.status().await.expect("status").unsynced_records;
        assert_eq!(unsynced_before, pending.len() as u64, "{when}");
        assert!(!pending.is_empty(), "{when}: nothing to sync");

        let (result, killed_after) = sync_and_kill(&device, &mut server, &proxy, kill).await;

        // What each side holds now, with the server dead.
        let server_after = server_records(&pool).await;
        let device_after = device_records(&device).await;
        assert_eq!(
            device_after.keys().collect::<Vec<_>>(),
            device_before.keys().collect::<Vec<_>>(),
            "{when}: the device lost or gained records"
        );
        for (id, (_, heads, _)) in &device_after {
            assert_eq!(
                heads, &device_before[id].1,
                "{when}: {id} changed on the device"
            );
        }
        assert_synced_means_stored(
            &format!("{when}, after the kill"),
            &device_after,
            &server_after,
        );
        let unsynced_after = device.status().await.expect("status").unsynced_records;
        assert!(unsynced_after <= unsynced_before, "{when}");
        // The server changed only pending records, each to exactly what the device sent.
        assert!(
            server_before.keys().all(|id| server_after.contains_key(id)),
            "{when}: the server lost records"
        );
        let changed: BTreeSet<Uuid> = server_after
            .iter()
            .filter(|(id, now)| server_before.get(id).map(|b| &b.1) != Some(&now.1))
            .map(|(id, _)| *id)
            .collect();
        for id in &changed {
            assert_eq!(
                pending.get(id),
                Some(&server_after[id].1),
                "{when}: the server holds {id} in a state the device never sent"
            );
        }
        let pending_ids: BTreeSet<Uuid> = pending.keys().copied().collect();
        let outcome = match &result {
            Ok(summary) => {
                assert_eq!(
                    unsynced_after, 0,
                    "{when}: a finished sync left records unsynced"
                );
                assert_eq!(
                    changed, pending_ids,
                    "{when}: a finished sync did not store all"
                );
                assert!(summary.reports.is_empty(), "{when}: {:?}", summary.reports);
                Outcome::Completed
            }
            Err(e) => {
                assert!(
                    e.is_temporary(),
                    "{when}: a killed server must give a temporary error, got {e:?}"
                );
                assert!(
                    e.to_string().contains("safe on this device"),
                    "{when}: unclear error: {e}"
                );
                if changed.is_empty() {
                    Outcome::FailedNothingStored
                } else {
                    assert_eq!(
                        changed, pending_ids,
                        "{when}: one sync request must commit all or nothing"
                    );
                    Outcome::FailedAfterCommit
                }
            }
        };
        match kill {
            Kill::BeforeRequest => assert_eq!(outcome, Outcome::FailedNothingStored, "{when}"),
            Kill::AtAnswer => assert_eq!(outcome, Outcome::FailedAfterCommit, "{when}"),
            Kill::InFlight(_) => {}
        }
        println!(
            "{when}: {} records to send, kill {kill:?} {killed_after:?} after the sync began: \
             {outcome:?} ({}); {unsynced_after} still unsynced",
            pending.len(),
            match &result {
                Ok(s) => format!("{} request(s)", s.requests),
                Err(e) => e.to_string(),
            }
        );
        outcomes.push(outcome);

        // Restart on the same database and port; a retry finishes the job.
        server.restart().await;
        sync_to_completion(&device).await;
    }
    let failed_in_flight = plan
        .iter()
        .zip(&outcomes)
        .filter(|(k, o)| matches!(k, Kill::InFlight(_)) && **o != Outcome::Completed)
        .count();
    assert!(
        failed_in_flight >= 1,
        "no kill landed while a request was in flight: {outcomes:?}"
    );

    // Nothing missing: every record the device holds is on the server, with the same heads.
    let on_device = device_records(&device).await;
    let server_now = server_records(&pool).await;
    assert_synced_means_stored("at the end", &on_device, &server_now);
    let mut reads = tokio::task::JoinSet::new();
    for (n, chunk) in on_device
        .keys()
        .copied()
        .collect::<Vec<_>>()
        .chunks(100)
        .enumerate()
    {
        let (http, token, url) = (
            server.http.clone(),
            server.admin_token.clone(),
            server.url(),
        );
        let chunk = chunk.to_vec();
        reads.spawn(async move {
            let mut got = BTreeMap::new();
            for id in chunk {
                let res = http
                    .get(format!("{url}/api/v1/projects/{PROJECT}/records/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("record read");
                assert!(
                    res.status().is_success(),
                    "chunk {n}: {id}: {}",
                    res.status()
                );
                let v: serde_json::Value = res.json().await.expect("record JSON");
                got.insert(id, v);
            }
            got
        });
    }
    let mut from_api = BTreeMap::new();
    while let Some(part) = reads.join_next().await {
        from_api.extend(part.expect("record reads finish"));
    }
    assert_eq!(from_api.len(), on_device.len());
    for (id, (kind, heads, unsynced)) in &on_device {
        assert!(!unsynced, "{id} is still unsynced");
        let v = &from_api[id];
        assert_eq!(v["kind"].as_str(), Some(kind.as_str()), "{id}");
        assert_eq!(v["project"].as_str(), Some(PROJECT), "{id}");
        let mut got: Vec<String> = v["heads"]
            .as_array()
            .expect("heads")
            .iter()
            .map(|h| h.as_str().expect("hex").to_owned())
            .collect();
        got.sort();
        assert_eq!(
            &got, heads,
            "{kind} {id}: heads differ between device and server"
        );
    }

    // Nothing duplicated: the server's tables hold each record, mark and change once.
    let of_kind = |k: RecordKind| on_device.values().filter(|r| r.0 == k).count() as i64;
    let mut attendance_on_device = 0;
    let mut changes_on_device = 0;
    for (id, (kind, _, _)) in &on_device {
        if *kind == RecordKind::Session
            && let RecordData::Session(s) = device.get(*id).await.expect("session").view.data
        {
            attendance_on_device += s.attendance.len() as i64;
        }
        let mut doc = device.document(*id).await.expect("document");
        changes_on_device += doc.automerge().get_changes(&[]).len();
    }
    assert_eq!(attendance_on_device, captured.attendance.len() as i64);
    assert_eq!(
        of_kind(RecordKind::Participant),
        captured.participants.len() as i64
    );
    assert_eq!(of_kind(RecordKind::Session), captured.sessions.len() as i64);
    assert_eq!(of_kind(RecordKind::Wellbeing), captured.wellbeing as i64);
    assert_eq!(of_kind(RecordKind::Story), captured.stories.len() as i64);
    let changes_on_server: usize = server_now.values().map(|r| r.2).sum();
    assert_eq!(changes_on_server, changes_on_device);
    let total = on_device.len() as i64;
    for (sql, want) in [
        ("SELECT COUNT(*) FROM records", total),
        (
            "SELECT COUNT(*) FROM participants",
            of_kind(RecordKind::Participant),
        ),
        (
            "SELECT COUNT(*) FROM sessions",
            of_kind(RecordKind::Session),
        ),
        ("SELECT COUNT(*) FROM attendance", attendance_on_device),
        (
            "SELECT COUNT(*) FROM wellbeing_responses",
            of_kind(RecordKind::Wellbeing),
        ),
        ("SELECT COUNT(*) FROM stories", of_kind(RecordKind::Story)),
        ("SELECT COUNT(*) FROM quarantine", 0),
        (
            "SELECT COUNT(*) FROM (SELECT record_id, hash FROM change_log \
             GROUP BY record_id, hash HAVING COUNT(*) > 1) AS dup",
            0,
        ),
        ("SELECT COUNT(*) FROM change_log", changes_on_server as i64),
    ] {
        assert_eq!(count(&pool, sql).await, want, "[{backend:?}] {sql}");
    }
    let status = device.status().await.expect("status");
    assert_eq!(status.unsynced_records, 0);
    assert_eq!(status.set_aside_count, 0);

    // A new device receives exactly the same records, with the same heads.
    let fresh = server
        .device_at("morag", "second-tablet", &server.url())
        .await;
    sync_to_completion(&fresh).await;
    let received = device_records(&fresh).await;
    assert_eq!(
        received.keys().collect::<Vec<_>>(),
        on_device.keys().collect::<Vec<_>>(),
        "the new device received other records"
    );
    for (id, (kind, heads, unsynced)) in &received {
        assert!(!unsynced, "{id}");
        assert_eq!((kind, heads), (&on_device[id].0, &on_device[id].1), "{id}");
    }

    println!(
        "[{backend:?}] {} records, {changes_on_server} changes, kills: {outcomes:?}; {:.1} s",
        on_device.len(),
        began.elapsed().as_secs_f64()
    );
    fresh.close().await;
    pool.close().await;
    drop(proxy);
    server.finish().await;
}
