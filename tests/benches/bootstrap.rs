//! A new device bootstrapping 100,000 records, end to end, through the device library.
//!
//! Run with `cargo bench -p bothy-tests --bench bootstrap` (or `ops/bench/bootstrap`). The
//! server runs as a separate process (the release build of the server binary), so the peak
//! memory measured here is the device's: the bench process's `VmHWM`, reset before the
//! bootstrap starts.
//!
//! 1. Seeding: a researcher's device, made with sync-core alone, pushes 100,000 records in
//!    sync requests of 5,000 records each, through the server's ordinary sync endpoint, so the
//!    database holds exactly what sync stores (documents, change log, projections): 10,000
//!    participants, 2,000 sessions with attendance marked in three changes, 83,000 WEMWBS
//!    responses and 5,000 stories of about 600 bytes.
//! 2. A new device of another researcher, with an encrypted store (a PIN), enrols through a
//!    byte-counting proxy and syncs until it holds everything. Printed: the total time, the
//!    time waiting for answers (network and server) against the time spent on the device
//!    (decoding and storing), the bytes both ways, the requests, and the peak memory of the
//!    process during the bootstrap. Then the device's record count and a sample of records'
//!    heads are checked against the server.
//!
//! Options (after `--`): `--records N` (default 100000), `--backend sqlite|postgres|both`
//! (default sqlite; PostgreSQL needs `BOTHY_TEST_POSTGRES_URL`), `--plain` (a store without a
//! PIN, for comparison).

use bothy_device::Device;
use bothy_device::bothy_sync_core::automerge::ActorId;
use bothy_device::bothy_sync_core::protocol::{
    self, Cursor, RecordPush, SyncRequest, SyncResponse,
};
use bothy_device::bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use bothy_tests::{Backend, ProcessServer, SyncProxy};
use serde_bytes::ByteBuf;
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

const PROJECT: &str = "bootstrap-bench";
const PIN: &str = "bench-pin-2026";
/// Records per seeding request.
const BATCH: usize = 5_000;

struct Options {
    records: usize,
    backends: Vec<Backend>,
    plain: bool,
}

fn options() -> Options {
    let mut o = Options {
        records: 100_000,
        backends: vec![Backend::Sqlite],
        plain: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => o.records = args.next().and_then(|n| n.parse().ok()).expect("N"),
            "--backend" => {
                o.backends = match args.next().as_deref() {
                    Some("sqlite") => vec![Backend::Sqlite],
                    Some("postgres") => vec![Backend::Postgres],
                    Some("both") => vec![Backend::Sqlite, Backend::Postgres],
                    other => panic!("--backend sqlite|postgres|both, not {other:?}"),
                }
            }
            "--plain" => o.plain = true,
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    o
}

/// The `VmHWM` (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets `VmHWM` to the current resident set (Linux: `clear_refs` value 5).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Enrols a device through the API without a local store: (device token, actor).
async fn raw_device(server: &ProcessServer, username: &str) -> (String, ActorId) {
    let code = server.enrolment_code(username).await;
    let v = server
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code, "name": "seeder"}),
        )
        .await
        .expect("enrols");
    let actor = v["actor"].as_str().expect("actor");
    (
        v["device_token"].as_str().expect("token").to_owned(),
        ActorId::try_from(actor).expect("hex actor"),
    )
}

async fn post_sync(server: &ProcessServer, token: &str, request: &SyncRequest) -> SyncResponse {
    let res = server
        .http
        .post(format!("{}/api/v1/sync", server.url()))
        .bearer_auth(token)
        .header("content-type", protocol::MEDIA_TYPE)
        .body(protocol::encode(request))
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .expect("sync request sent");
    let status = res.status();
    let body = res.bytes().await.expect("sync answer");
    assert!(
        status.is_success(),
        "sync answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    protocol::decode(&body).expect("sync answer decodes").0
}

/// The `n`th seeded record: its id and changes. Kinds by share: 10% participants, 2%
/// sessions (three changes each), 5% stories, the rest WEMWBS responses.
fn make_record(n: usize, actor: &ActorId, participants: &[Uuid]) -> (Uuid, RecordDoc) {
    let now = 1_790_000_000 + n as i64;
    let id = Uuid::new_v4();
    let participant = participants[n % participants.len()].to_string();
    let doc = match n % 50 {
        0..=4 => {
            let fields: Vec<(&str, FieldValue)> = vec![
                ("code", format!("P-{n:06}").into()),
                (
                    "age_band",
                    ["16-24", "25-34", "45-54", "65-74"][n % 4].into(),
                ),
                ("consent.data_use", true.into()),
            ];
            RecordDoc::create(
                actor.clone(),
                RecordKind::Participant,
                PROJECT,
                &fields,
                now,
            )
        }
        5 => {
            let start = format!("2026-{:02}-{:02}T10:00:00Z", 1 + n % 12, 1 + n % 28);
            let mut fields: Vec<(String, FieldValue)> = vec![
                ("site".into(), "ullapool-hall".into()),
                ("activity".into(), "heritage-crafts".into()),
                ("activity_type".into(), "heritage".into()),
                ("start".into(), start.into()),
            ];
            for k in 0..10 {
                let p = participants[(n + k) % participants.len()];
                fields.push((format!("attendance.{p}"), "present".into()));
            }
            let refs: Vec<(&str, FieldValue)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            RecordDoc::create(actor.clone(), RecordKind::Session, PROJECT, &refs, now).map(
                |mut doc| {
                    for (k, mark) in [(10, "present"), (11, "left_early")] {
                        let p = participants[(n + k) % participants.len()];
                        doc.edit(now + k as i64, |ed| {
                            ed.set(&format!("attendance.{p}"), mark);
                        })
                        .expect("an attendance mark");
                    }
                    doc
                },
            )
        }
        6 | 7 if n % 100 < 50 => {
            let body = format!(
                "Story {n}. We walked along the shore and talked about the old ferry, and who \
                 ran it before the bridge. {}",
                "The tide was out and the light was long over the water. ".repeat(8)
            );
            let fields: Vec<(&str, FieldValue)> = vec![
                ("title", format!("Story {n}").into()),
                ("body", body.into()),
                ("author", "bench".into()),
                ("consent_scope", "project".into()),
                ("participant", participant.clone().into()),
            ];
            RecordDoc::create(actor.clone(), RecordKind::Story, PROJECT, &fields, now)
        }
        _ => {
            let mut fields: Vec<(String, FieldValue)> = vec![
                ("participant".into(), participant.clone().into()),
                ("instrument".into(), "WEMWBS".into()),
                ("timepoint".into(), ["baseline", "end"][n % 2].into()),
                (
                    "date".into(),
                    format!("2026-{:02}-{:02}", 1 + n % 12, 1 + n % 28).into(),
                ),
            ];
            for i in 1..=14usize {
                fields.push((
                    format!("items.{i}"),
                    FieldValue::Int(1 + ((n + i) % 5) as i64),
                ));
            }
            let refs: Vec<(&str, FieldValue)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            RecordDoc::create(actor.clone(), RecordKind::Wellbeing, PROJECT, &refs, now)
        }
    };
    (id, doc.expect("a valid record"))
}

/// Pushes `records` records through the sync endpoint in requests of [`BATCH`].
async fn seed(server: &ProcessServer, records: usize) {
    let (token, actor) = raw_device(server, "seeder").await;
    let participants: Vec<Uuid> = (0..1_000).map(|_| Uuid::new_v4()).collect();
    let mut cursor = Cursor::default();
    let mut done = 0;
    let started = Instant::now();
    while done < records {
        let n = BATCH.min(records - done);
        let push: Vec<RecordPush> = (done..done + n)
            .map(|i| {
                let (id, mut doc) = make_record(i, &actor, &participants);
                RecordPush {
                    id,
                    changes: doc
                        .automerge()
                        .get_changes(&[])
                        .iter()
                        .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                        .collect(),
                    document: None,
                }
            })
            .collect();
        let request = SyncRequest {
            cursor,
            push,
            app: None,
            pending: Some(n as u32),
            setup: None,
        };
        let response = post_sync(server, &token, &request).await;
        assert!(
            response.unacked.is_empty(),
            "the server left {} seeded records unacknowledged: {:?}",
            response.unacked.len(),
            response.reports.first()
        );
        cursor = response.cursor;
        done += n;
    }
    println!(
        "seeded {records} records through the sync endpoint in {:.1} s ({} per request)",
        started.elapsed().as_secs_f64(),
        BATCH
    );
}

async fn bench(backend: Backend, o: &Options) {
    // `BOTHY_SERVER_BIN` measures another build of the server (an earlier commit's, say).
    let bin = std::env::var_os("BOTHY_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_bothy-test-server").into());
    let bin = bin.as_path();
    let Some(server) = ProcessServer::start(backend, bin).await else {
        return;
    };
    println!(
        "\n== {backend:?}: a new device bootstrapping {} records ==",
        o.records
    );
    server.project(PROJECT).await;
    server.user("seeder", PROJECT, "researcher").await;
    server.user("reader", PROJECT, "researcher").await;
    seed(&server, o.records).await;

    let proxy = SyncProxy::start(server.addr).await;
    let path = server.dir.join("new-device.db");
    let device = Device::open(&path).await.expect("device store opens");
    if !o.plain {
        device.set_pin(PIN).await.expect("a PIN");
    }
    let code = server.enrolment_code("reader").await;
    device
        .enrol(&proxy.url(), &code, "new device")
        .await
        .expect("device enrols");
    let (up0, down0) = proxy.bytes();
    let requests0 = proxy.sync_requests();
    let rss_before = rss_kib();
    let reset = reset_peak_rss();

    let started = Instant::now();
    let summary = device.sync().await.expect("bootstrap");
    let total = started.elapsed();

    let peak = peak_rss_kib();
    let (up, down) = proxy.bytes();
    let requests = proxy.sync_requests() - requests0;
    let other = total.saturating_sub(summary.on_wire + summary.on_device);
    println!(
        "store: {}",
        if o.plain { "no PIN" } else { "encrypted (PIN)" }
    );
    println!("records received: {}", summary.received);
    println!("total:            {:.2} s", total.as_secs_f64());
    println!(
        "  on the wire:    {:.2} s (from sending each request to having its whole answer)",
        summary.on_wire.as_secs_f64()
    );
    println!(
        "  on the device:  {:.2} s (building requests, decoding and storing answers)",
        summary.on_device.as_secs_f64()
    );
    println!("  other:          {:.2} s", other.as_secs_f64());
    println!(
        "bytes:            {} down, {} up ({:.1} MB down)",
        down - down0,
        up - up0,
        (down - down0) as f64 / 1e6
    );
    println!("requests:         {requests}");
    match (peak, reset) {
        (Some(p), true) => println!(
            "peak memory (VmHWM) of the device process during the bootstrap: {} (resident \
             before: {})",
            mib(p),
            rss_before.map_or("?".into(), mib)
        ),
        (Some(p), false) => println!(
            "peak memory (VmHWM, not reset: includes seeding) of the device process: {}",
            mib(p)
        ),
        _ => println!("peak memory: unavailable (no /proc)"),
    }
    println!(
        "store file: {:.1} MB",
        ["", "-wal"]
            .iter()
            .filter_map(|s| {
                let mut name = path.as_os_str().to_owned();
                name.push(s);
                std::fs::metadata(name).ok().map(|m| m.len())
            })
            .sum::<u64>() as f64
            / 1e6
    );

    // The device holds everything, as the server has it.
    let status = device.status().await.expect("status");
    assert_eq!(
        status.records, o.records as u64,
        "the device holds every record"
    );
    assert_eq!(status.unsynced_records, 0, "nothing is left to push");
    let sample = device.list(None).await.expect("list");
    for r in sample.iter().step_by((sample.len() / 20).max(1)) {
        let on_server = server
            .get(&format!("/api/v1/projects/{PROJECT}/records/{}", r.id))
            .await;
        assert_eq!(
            bothy_tests::device_heads(&device, r.id).await,
            bothy_tests::server_heads(&on_server),
            "record {} has the server's heads",
            r.id
        );
    }
    println!(
        "checked: {} records on the device, 20 sampled heads equal the server's",
        status.records
    );
    device.close().await;
    server.finish().await;
}

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for backend in o.backends.clone() {
        rt.block_on(bench(backend, &o));
    }
}
