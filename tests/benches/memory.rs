//! Server memory under load: the resident memory of a release `bothy-server` process while many
//! devices sync at once, and how much of it the process gives back once they stop.
//!
//! Run with `ops/bench/memory` (it builds the release server first). For each backend (SQLite,
//! and PostgreSQL when `BOTHY_TEST_POSTGRES_URL` is set) it:
//!
//! 1. starts the server binary as a separate process on a fresh database and reads its idle
//!    resident memory (VmRSS from `/proc/<pid>/status`);
//! 2. seeds records (WEMWBS responses and stories with a 1.5 KB body, pushed raw by one device
//!    in batches of 500);
//! 3. enrols many devices through the admin API and runs one task per device for a fixed time:
//!    a bootstrap (every page, as a new phone does), then a sync about once a second, one in ten
//!    of them pushing a new record that every other device then pulls;
//! 4. reads VmRSS throughout (its maximum, and the process's own peak VmHWM), at the end of the
//!    load, and after 10 s and 30 s idle.
//!
//! Settings (environment): `BOTHY_MEM_RECORDS` (default 5000), `BOTHY_MEM_DEVICES` (default
//! 200), `BOTHY_MEM_SECONDS` of load (default 30), `BOTHY_MEM_BACKENDS` (`sqlite,postgres`),
//! `BOTHY_SERVER_BIN` (the server binary; default `target/release/bothy-server`). The server
//! inherits the environment, so `MALLOC_ARENA_MAX=2` or `BOTHY_MAX_CONNECTIONS=2048` can be
//! tried without a rebuild.
//!
//! The figures also go, as JSON, to `target/bench-memory/<backend>.json` (read by
//! `ops/bench/scale`).

use bothy_sync_core::automerge::ActorId;
use bothy_sync_core::protocol::{self, Cursor, RecordPush, SyncRequest, SyncResponse};
use bothy_sync_core::{RecordDoc, RecordKind};
use bothy_tests::{Backend, ProcessServer};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

const PROJECT: &str = "mem";
const NOW: i64 = 1_793_000_000;
const SEED_BATCH: usize = 500;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A number field of `/proc/<pid>/status` (`VmRSS:` in KiB, `Threads:`); 0 if unreadable.
fn proc_field(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// (VmRSS, VmHWM) of a process in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    (proc_field(pid, "VmRSS:"), proc_field(pid, "VmHWM:"))
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// The server binary: `BOTHY_SERVER_BIN`, or `bothy-server` in the release directory this
/// benchmark was built in (`target/release/deps/memory-*` → `target/release/bothy-server`).
fn server_bin() -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os("BOTHY_SERVER_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("current executable");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/release")
        .join("bothy-server");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --release -p bothy-server` (ops/bench/memory \
         does) or set BOTHY_SERVER_BIN",
        bin.display()
    );
    bin
}

/// One record to seed or push: a WEMWBS response, or (one in five) a story of about 1.5 KB.
fn record(actor: &ActorId, n: u64) -> RecordPush {
    let participant = Uuid::now_v7().to_string();
    let mut doc = if n % 5 == 4 {
        let body = format!("Story {n}. ").repeat(1500 / 12);
        RecordDoc::create(
            actor.clone(),
            RecordKind::Story,
            PROJECT,
            &[
                ("title", format!("Story {n}").into()),
                ("body", body.into()),
                ("author", "ruth".into()),
                ("consent_scope", "project".into()),
                ("language", "en".into()),
                ("participant", participant.into()),
            ],
            NOW,
        )
        .expect("a valid story")
    } else {
        bothy_tests::wemwbs_doc(actor, PROJECT, &participant, NOW)
    };
    bothy_tests::push_history(Uuid::now_v7(), &mut doc)
}

/// A device enrolled through the API, without a local store: (device token, actor).
async fn enrol(s: &ProcessServer, n: u64) -> (String, ActorId) {
    let code = s.enrolment_code("ruth").await;
    let v = s
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code, "name": format!("load-{n}")}),
        )
        .await
        .expect("device enrols");
    let actor = ActorId::try_from(v["actor"].as_str().expect("actor")).expect("hex actor");
    (v["device_token"].as_str().expect("token").to_owned(), actor)
}

#[derive(Default)]
struct Counters {
    syncs: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    pulled: AtomicU64,
    bytes_down: AtomicU64,
    bootstrapped: AtomicU64,
}

/// Sends one sync; `None` when the server refused it (503 at its connection limit) or the
/// request failed, after which the device waits and tries again.
async fn sync(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    request: &SyncRequest,
    c: &Counters,
) -> Option<SyncResponse> {
    let res = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", protocol::MEDIA_TYPE)
        .body(protocol::encode(request))
        .send()
        .await;
    let res = match res {
        Ok(r) if r.status().is_success() => r,
        Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
            c.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Ok(r) => {
            if c.failed.fetch_add(1, Ordering::Relaxed) < 3 {
                eprintln!("sync answered {}", r.status());
            }
            return None;
        }
        Err(e) => {
            if c.failed.fetch_add(1, Ordering::Relaxed) < 3 {
                eprintln!("sync failed: {e}");
            }
            return None;
        }
    };
    let body = res.bytes().await.ok()?;
    c.syncs.fetch_add(1, Ordering::Relaxed);
    c.bytes_down.fetch_add(body.len() as u64, Ordering::Relaxed);
    let (response, _): (SyncResponse, u16) = protocol::decode(&body).expect("response decodes");
    c.pulled
        .fetch_add(response.records.len() as u64, Ordering::Relaxed);
    Some(response)
}

/// One device until `until`: bootstrap, then a sync about once a second, pushing a new record
/// every tenth.
async fn device(
    http: reqwest::Client,
    url: String,
    (token, actor): (String, ActorId),
    n: u64,
    until: Instant,
    c: Arc<Counters>,
) {
    let mut cursor = Cursor::default();
    let mut booted = false;
    let mut round = n;
    // Spread the devices' first syncs over the first second.
    tokio::time::sleep(Duration::from_millis(n * 7 % 1000)).await;
    while Instant::now() < until {
        round += 1;
        let push = if booted && round.is_multiple_of(10) {
            vec![record(&actor, round)]
        } else {
            Vec::new()
        };
        let request = SyncRequest {
            cursor,
            push,
            app: Some("bothy-memory-bench".into()),
            ..SyncRequest::default()
        };
        let Some(response) = sync(&http, &url, &token, &request, &c).await else {
            tokio::time::sleep(Duration::from_millis(500 + n % 500)).await;
            continue;
        };
        cursor = response.cursor;
        if response.more {
            continue;
        }
        if !booted {
            booted = true;
            c.bootstrapped.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(900 + n % 200)).await;
    }
}

/// Samples the process's VmRSS every 100 ms until told to stop; returns the highest seen.
fn sampler(pid: u32, stop: Arc<std::sync::atomic::AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut max = 0;
        while !stop.load(Ordering::Relaxed) {
            max = max.max(memory_kib(pid).0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        max
    })
}

async fn run(backend: Backend, bin: &std::path::Path) {
    let records = setting("BOTHY_MEM_RECORDS", 5000);
    let devices = setting("BOTHY_MEM_DEVICES", 200);
    let seconds = setting("BOTHY_MEM_SECONDS", 30);
    let Some(mut s) = ProcessServer::start(backend, bin).await else {
        println!("[{backend:?}] skipped");
        return;
    };
    let pid = s.pid().expect("server runs");
    let label = format!("{backend:?}");
    s.project(PROJECT).await;
    s.user("ruth", PROJECT, "researcher").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle, _) = memory_kib(pid);

    // Seed.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let url = format!("{}/api/v1/sync", s.url());
    let c = Counters::default();
    let (token, actor) = enrol(&s, 0).await;
    let t = Instant::now();
    let mut seeded = 0;
    while seeded < records {
        let n = (records - seeded).min(SEED_BATCH as u64);
        let push = (seeded..seeded + n).map(|i| record(&actor, i)).collect();
        let request = SyncRequest {
            push,
            ..SyncRequest::default()
        };
        let response = sync(&http, &url, &token, &request, &c)
            .await
            .expect("seed push accepted");
        assert!(
            response.unacked.is_empty(),
            "seed records refused: {:?}",
            response.reports.first()
        );
        seeded += n;
    }
    let seed_secs = t.elapsed().as_secs_f64();
    let (after_seed, hwm_seed) = memory_kib(pid);
    println!(
        "[{label}] idle empty {}; seeded {records} records in {seed_secs:.1} s; then {} (peak {})",
        mib(idle),
        mib(after_seed),
        mib(hwm_seed)
    );

    // Enrol the devices, then load.
    let mut creds = Vec::new();
    for n in 0..devices {
        creds.push(enrol(&s, n + 1).await);
    }
    let c = Arc::new(Counters::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let max_rss = sampler(pid, stop.clone());
    let load_http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let t = Instant::now();
    let until = t + Duration::from_secs(seconds);
    let tasks: Vec<_> = creds
        .into_iter()
        .enumerate()
        .map(|(n, cred)| {
            tokio::spawn(device(
                load_http.clone(),
                url.clone(),
                cred,
                n as u64,
                until,
                c.clone(),
            ))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let load_secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let max_rss = max_rss.await.unwrap();
    drop(load_http);
    let (end, hwm) = memory_kib(pid);
    let threads = proc_field(pid, "Threads:");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (idle10, _) = memory_kib(pid);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let (idle30, _) = memory_kib(pid);
    let anon30 = proc_field(pid, "RssAnon:");
    let syncs = c.syncs.load(Ordering::Relaxed);
    println!(
        "[{label}] {devices} devices for {load_secs:.0} s: {syncs} syncs ({:.0}/s), {} bootstrapped, \
         {} records and {:.0} MiB pulled, {} refused at the connection limit, {} failed",
        syncs as f64 / load_secs,
        c.bootstrapped.load(Ordering::Relaxed),
        c.pulled.load(Ordering::Relaxed),
        c.bytes_down.load(Ordering::Relaxed) as f64 / 1048576.0,
        c.refused.load(Ordering::Relaxed),
        c.failed.load(Ordering::Relaxed),
    );
    println!(
        "[{label}] RSS: max sampled {}, peak (VmHWM) {}, end of load {} ({threads} threads), \
         10 s idle {}, 30 s idle {} (anonymous {})",
        mib(max_rss),
        mib(hwm),
        mib(end),
        mib(idle10),
        mib(idle30),
        mib(anon30)
    );
    assert!(s.is_running(), "the server died under load");
    s.finish().await;
    let result = json!({
        "backend": label.to_lowercase(),
        "records": records,
        "devices": devices,
        "load_seconds": load_secs,
        "seed_seconds": seed_secs,
        "syncs": syncs,
        "bootstrapped": c.bootstrapped.load(Ordering::Relaxed),
        "refused": c.refused.load(Ordering::Relaxed),
        "failed": c.failed.load(Ordering::Relaxed),
        "rss_mib": {
            "idle_empty": kib_to_mib(idle),
            "after_seed": kib_to_mib(after_seed),
            "max_sampled": kib_to_mib(max_rss),
            "peak": kib_to_mib(hwm),
            "end_of_load": kib_to_mib(end),
            "idle_10s": kib_to_mib(idle10),
            "idle_30s": kib_to_mib(idle30),
            "anonymous_30s": kib_to_mib(anon30),
        },
    });
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| bothy_tests::workspace_root().join("target"))
        .join("bench-memory");
    std::fs::create_dir_all(&dir).expect("output directory");
    let path = dir.join(format!("{}.json", label.to_lowercase()));
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap()).expect("results written");
    println!("[{label}] results in {}", path.display());
}

/// KiB as MiB, to one decimal place.
fn kib_to_mib(kib: u64) -> f64 {
    (kib as f64 / 102.4).round() / 10.0
}

fn main() {
    let bin = server_bin();
    let backends = std::env::var("BOTHY_MEM_BACKENDS").unwrap_or("sqlite,postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if backends.contains("sqlite") {
            run(Backend::Sqlite, &bin).await;
        }
        if backends.contains("postgres") {
            run(Backend::Postgres, &bin).await;
        }
    });
}
