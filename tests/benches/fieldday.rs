//! Field-day sync benchmark: bytes on the wire and times, on SQLite and PostgreSQL.
//!
//! Run with `cargo bench -p bothy-tests --bench fieldday` (or `ops/bench/run`). It starts a real
//! server on port 0, puts a byte-counting TCP proxy between devices and the server (so HTTP
//! headers count as well as bodies, both ways), and replays the shared workload in
//! `ops/bench/data/` through the device library, as a field researcher's phone would:
//!
//! 1. one field day (1 session with 15 attendance marks, 15 WEMWBS responses, 2 stories of
//!    about 2 KB) synced from a device that registered its participants on an earlier day;
//! 2. a new device bootstrapping that day;
//! 3. 100 field days (1,800 records) pushed from one device, and a new device bootstrapping them;
//!
//! and compares bytes with the same records as compact JSON compressed by gzip -9.
//! PostgreSQL runs when `BOTHY_TEST_POSTGRES_URL` is set. The figures also go, as JSON, to
//! `target/bench-fieldday/result.json` (read by `ops/bench/scale`). With `BOTHY_BENCH_PERF_DIR`
//! set, `perf record` (with DWARF call graphs) samples this process, device and in-process
//! server, during each backend's 100-day push and its new-device bootstrap, into
//! `<dir>/push-<backend>.data` and `<dir>/bootstrap-<backend>.data`.
//!
//! Beside Bothy it measures, in the same run:
//!
//! * the in-process ceiling: how fast Automerge itself, on one core and with no storage, loads
//!   the exact records the 100-day push sends into fresh documents, and Bothy's rate of
//!   records merged and durably stored as a fraction of it;
//! * automerge-repo on the same workload (`ops/bench/peer/`, Node.js): its sync server behind
//!   the same byte-counting proxy, a client pushing one field day and 100 field days (one
//!   document per record), and a new client fetching the 1,800 documents. Skipped, with the
//!   reason printed, when `node` or the packages (`npm ci --prefix ops/bench/peer`) are missing.

use bothy_device::{AttendanceMark, Device, WellbeingForm};
use bothy_sync_core::{FieldValue, Instrument};
use bothy_tests::{Backend, Harness};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;

const PROJECT: &str = "highland-heritage";

/// A TCP proxy that counts bytes in each direction.
struct CountingProxy {
    addr: std::net::SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    /// Connections open through the proxy.
    open: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(upstream: std::net::SocketAddr) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicU64::new(0));
        let (u, d, o) = (up.clone(), down.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (u, d, o) = (u.clone(), d.clone(), o.clone());
                o.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(server) = tokio::net::TcpStream::connect(upstream).await {
                        let (mut cr, mut cw) = client.into_split();
                        let (mut sr, mut sw) = server.into_split();
                        let a = pump(&mut cr, &mut sw, &u);
                        let b = pump(&mut sr, &mut cw, &d);
                        tokio::join!(a, b);
                    }
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        CountingProxy {
            addr,
            up,
            down,
            open,
        }
    }

    /// Waits until every connection through the proxy has closed both ways, so that the
    /// counts hold everything either side sent (at most 10 s).
    async fn closed(&self) {
        for _ in 0..1000 {
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn take(&self) -> (u64, u64) {
        (
            self.up.swap(0, Ordering::SeqCst),
            self.down.swap(0, Ordering::SeqCst),
        )
    }
}

/// Copies one direction, counting bytes as they pass (connections stay open between requests).
async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    counter: &AtomicU64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                counter.fetch_add(n as u64, Ordering::SeqCst);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

fn load(name: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ops/bench/data/");
    let text = std::fs::read_to_string(format!("{path}{name}")).expect("workload file");
    serde_json::from_str(&text).expect("workload JSON")
}

/// The floor: the records as compact JSON, gzip -9.
fn gzip_floor(records: &[Value]) -> usize {
    let json = serde_json::to_vec(records).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&json).unwrap();
    gz.finish().unwrap().len()
}

fn participants_of(records: &[Value]) -> Vec<String> {
    let mut ids = std::collections::BTreeSet::new();
    for r in records {
        if let Some(a) = r["attendance"].as_object() {
            ids.extend(a.keys().cloned());
        }
        if let Some(p) = r["participant"].as_str() {
            ids.insert(p.to_owned());
        }
    }
    ids.into_iter().collect()
}

async fn enrol(h: &Harness, proxy: &CountingProxy, name: &str) -> Device {
    enrol_as(h, proxy, "ruth", name).await
}

async fn enrol_as(h: &Harness, proxy: &CountingProxy, user: &str, name: &str) -> Device {
    let path = h.db.dir.path().join(format!("{name}.db"));
    let device = Device::open(&path).await.unwrap();
    let code = h.enrolment_code(user).await;
    device.enrol(&proxy.url(), &code, name).await.unwrap();
    device
}

async fn register_participants(device: &Device, ids: &[String]) -> BTreeMap<String, Uuid> {
    let mut map = BTreeMap::new();
    for pid in ids {
        let p = device
            .create_participant(
                None,
                &[
                    ("consent.data_use", true.into()),
                    ("age_band", "65-74".into()),
                ],
            )
            .await
            .unwrap();
        map.insert(pid.clone(), p.id);
    }
    map
}

/// Captures workload records on a device as a researcher would (attendance one mark at a time).
async fn capture(device: &Device, records: &[Value], people: &BTreeMap<String, Uuid>) {
    let mut sessions: BTreeMap<String, Uuid> = BTreeMap::new();
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    for r in records.iter().filter(|r| r["kind"] == "session") {
        let mut fields: Vec<(String, FieldValue)> = vec![
            ("site".into(), s(&r["site"]).into()),
            ("activity".into(), s(&r["activity"]).into()),
            ("activity_type".into(), s(&r["activity_type"]).into()),
            ("start".into(), s(&r["start"]).into()),
            ("end".into(), s(&r["end"]).into()),
            ("location".into(), s(&r["location"]).into()),
            ("notes".into(), s(&r["notes"]).into()),
            (
                "unregistered_attendees".into(),
                FieldValue::Int(r["unregistered_attendees"].as_i64().unwrap_or(0)),
            ),
        ];
        for f in r["facilitators"].as_array().into_iter().flatten() {
            fields.push((format!("facilitators.{}", s(f)), true.into()));
        }
        let refs: Vec<(&str, FieldValue)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let id = device.create_session(None, &refs).await.unwrap();
        for (pid, mark) in r["attendance"].as_object().into_iter().flatten() {
            let mark = match mark.as_str() {
                Some("absent") => AttendanceMark::Absent,
                Some("left_early") => AttendanceMark::LeftEarly,
                _ => AttendanceMark::Present,
            };
            device.mark_attendance(id, people[pid], mark).await.unwrap();
        }
        sessions.insert(s(&r["id"]), id);
    }
    for r in records.iter().filter(|r| r["kind"] == "wellbeing") {
        let items = r["items"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u8 + 1, v.as_i64().unwrap()))
            .collect();
        device
            .record_wellbeing(&WellbeingForm {
                participant: people[&s(&r["participant"])],
                instrument: Instrument::parse(&s(&r["instrument"])).unwrap().to_string(),
                timepoint: s(&r["timepoint"]),
                date: chrono::NaiveDate::parse_from_str(&s(&r["date"]), "%Y-%m-%d").unwrap(),
                session: sessions.get(&s(&r["session"])).copied(),
                items,
            })
            .await
            .unwrap();
    }
    for r in records.iter().filter(|r| r["kind"] == "story") {
        let mut fields: Vec<(String, FieldValue)> = vec![
            ("title".into(), s(&r["title"]).into()),
            ("body".into(), s(&r["body"]).into()),
            ("author".into(), s(&r["author"]).into()),
            ("consent_scope".into(), "project".into()),
            ("language".into(), s(&r["language"]).into()),
            (
                "participant".into(),
                people[&s(&r["participant"])].to_string().into(),
            ),
        ];
        if let Some(sid) = sessions.get(&s(&r["session"])) {
            fields.push(("session".into(), sid.to_string().into()));
        }
        for t in r["themes"].as_array().into_iter().flatten() {
            fields.push((format!("themes.{}", s(t)), true.into()));
        }
        let refs: Vec<(&str, FieldValue)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        device.create_story(None, &refs).await.unwrap();
    }
}

fn ratio(bytes: u64, floor: usize) -> String {
    format!("{:.2}x", bytes as f64 / floor as f64)
}

/// One record as a push sends it: its changes, or its whole saved document.
enum Pushed {
    Changes(Vec<Vec<u8>>),
    Document(Vec<u8>),
}

/// The records a device's next push sends, built as the device builds them for records the
/// server has never acknowledged: the record's changes or, when it has several and its saved
/// document is smaller, that document.
async fn unsynced_as_pushed(device: &Device) -> Vec<Pushed> {
    let mut out = Vec::new();
    for r in device.list(None).await.unwrap() {
        if !r.unsynced {
            continue;
        }
        let bytes = device.document_bytes(r.id).await.unwrap();
        let doc = automerge::Automerge::load(&bytes).unwrap();
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let document = doc.save_nocompress();
        if changes.len() > 1 && document.len() < changes.iter().map(Vec::len).sum() {
            out.push(Pushed::Document(document));
        } else {
            out.push(Pushed::Changes(changes));
        }
    }
    out
}

/// The in-process ceiling: records per second at which Automerge, on this thread and with no
/// storage, decodes `records` and loads each into a fresh document (the best of 5 passes).
fn ceiling(records: &[Pushed]) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for r in records {
            let mut doc = automerge::Automerge::new();
            match r {
                Pushed::Document(d) => {
                    doc.load_incremental(d).unwrap();
                }
                Pushed::Changes(raw) => {
                    let changes = raw
                        .iter()
                        .map(|c| automerge::Change::from_bytes(c.clone()).unwrap())
                        .collect::<Vec<_>>();
                    doc.apply_changes(changes).unwrap();
                }
            }
            assert!(!doc.get_heads().is_empty());
            std::hint::black_box(&doc);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    records.len() as f64 / best
}

/// Bothy's figures from one backend, to set beside automerge-repo's.
struct BothyRun {
    label: String,
    day_bytes: u64,
    days_bytes: u64,
    push_secs: f64,
    boot_secs: f64,
    boot_bytes: u64,
    /// Every figure printed, for the JSON result.
    figures: Value,
}

/// Starts `perf record` with DWARF call graphs on this process into
/// `<BOTHY_BENCH_PERF_DIR>/<name>.data`, when that variable is set and `perf` runs; stop it
/// with [`perf_stop`].
async fn perf_start(name: &str) -> Option<tokio::process::Child> {
    let dir = PathBuf::from(std::env::var_os("BOTHY_BENCH_PERF_DIR")?);
    std::fs::create_dir_all(&dir).ok()?;
    let child = tokio::process::Command::new("perf")
        .args(["record", "--call-graph", "dwarf,32768", "-F", "499", "-p"])
        .arg(std::process::id().to_string())
        .arg("-o")
        .arg(dir.join(format!("{name}.data")))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| println!("perf did not start: {e}"))
        .ok()?;
    // perf needs a moment to attach to every thread.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    Some(child)
}

/// Stops a `perf record` started by [`perf_start`] (SIGINT, so it writes its file) and waits.
async fn perf_stop(perf: Option<tokio::process::Child>) {
    if let Some(mut child) = perf {
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
        let _ = child.wait().await;
    }
}

/// Where the JSON result goes: `target/bench-fieldday/` (or under `CARGO_TARGET_DIR`).
fn out_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| bothy_tests::workspace_root().join("target"))
        .join("bench-fieldday")
}

async fn run(backend: Backend) -> Option<BothyRun> {
    let h = Harness::start(backend).await?;
    h.project(PROJECT).await;
    h.user("ruth", PROJECT, "researcher").await;
    h.user("pete", PROJECT, "peer_worker").await;
    let proxy = CountingProxy::start(h.addr).await;
    let label = format!("{backend:?}");

    // 1. One field day from a device whose participants were registered on an earlier day.
    let day = load("fieldday-1.json");
    let floor1 = gzip_floor(&day);
    let a = enrol(&h, &proxy, "phone-a").await;
    let people = register_participants(&a, &participants_of(&day)).await;
    a.sync().await.unwrap();
    capture(&a, &day, &people).await;
    proxy.take();
    let summary = a.sync().await.unwrap();
    let (up, down) = proxy.take();
    println!(
        "[{label}] one field day, push: {} request(s), {up} B up + {down} B down = {} B; gzip JSON floor {floor1} B; {}",
        summary.requests,
        up + down,
        ratio(up + down, floor1)
    );
    let day_bytes = up + down;
    let (day_up, day_down) = (up, down);

    // 2. A new device bootstraps that day (and its 15 participants).
    let b = enrol(&h, &proxy, "phone-b").await;
    proxy.take();
    let summary = b.sync().await.unwrap();
    let (up, down) = proxy.take();
    println!(
        "[{label}] one field day, new-device bootstrap (18 records + 15 participants): {} request(s), {} B; {}",
        summary.requests,
        up + down,
        ratio(up + down, floor1)
    );
    let day_boot_bytes = up + down;

    // 3. 100 field days from one device, then a new device bootstraps them.
    let days = load("fieldday-100.json");
    let floor100 = gzip_floor(&days);
    let c = enrol(&h, &proxy, "phone-c").await;
    let people = register_participants(&c, &participants_of(&days)).await;
    c.sync().await.unwrap();
    let t = Instant::now();
    capture(&c, &days, &people).await;
    let capture_secs = t.elapsed().as_secs_f64();
    let pushed = unsynced_as_pushed(&c).await;
    assert_eq!(pushed.len(), 1800, "the push holds the 1,800 records");
    let ceiling = ceiling(&pushed);
    let perf = perf_start(&format!("push-{}", label.to_lowercase())).await;
    proxy.take();
    let t = Instant::now();
    let summary = c.sync().await.unwrap();
    let push_secs = t.elapsed().as_secs_f64();
    perf_stop(perf).await;
    let (up, down) = proxy.take();
    println!(
        "[{label}] 100 field days (1,800 records) captured in {capture_secs:.2} s; push: {} request(s), {:.2} s, {} B; gzip JSON floor {floor100} B; {}; server merged and stored {:.0} records/s",
        summary.requests,
        push_secs,
        up + down,
        ratio(up + down, floor100),
        1800.0 / push_secs
    );
    let days_bytes = up + down;
    let documents = pushed
        .iter()
        .filter(|p| matches!(p, Pushed::Document(_)))
        .count();
    // From sending the request to having the answer: the link and the server's merge and store.
    let wire_secs = summary.on_wire.as_secs_f64();
    println!(
        "[{label}] in-process ceiling: Automerge alone loads the same 1,800 pushed records ({documents} as saved documents, {} as changes) into fresh documents at {ceiling:.0} records/s (one core, no storage); Bothy's merged-and-stored rate is {:.0}% of it over the whole push, {:.0}% over the {wire_secs:.2} s waiting for the server's answer ({:.0} records/s)",
        pushed.len() - documents,
        100.0 * (1800.0 / push_secs) / ceiling,
        100.0 * (1800.0 / wire_secs) / ceiling,
        1800.0 / wire_secs
    );
    let d = enrol(&h, &proxy, "phone-d").await;
    proxy.take();
    let perf = perf_start(&format!("bootstrap-{}", label.to_lowercase())).await;
    let t = Instant::now();
    let summary = d.sync().await.unwrap();
    let boot_secs = t.elapsed().as_secs_f64();
    perf_stop(perf).await;
    let (up, down) = proxy.take();
    println!(
        "[{label}] 100 field days, new-device bootstrap ({} records): {} request(s), {boot_secs:.2} s, {} B; {}",
        d.status().await.unwrap().records,
        summary.requests,
        up + down,
        ratio(up + down, floor100)
    );
    let (boot, boot_bytes) = (boot_secs, up + down);
    let boot_records = d.status().await.unwrap().records;
    // 4. A peer worker's new device bootstraps the same project: participants and sessions only.
    let e = enrol_as(&h, &proxy, "pete", "phone-e").await;
    proxy.take();
    let t = Instant::now();
    let summary = e.sync().await.unwrap();
    let boot_secs = t.elapsed().as_secs_f64();
    let (up, down) = proxy.take();
    let peer_records = e.status().await.unwrap().records;
    println!(
        "[{label}] 100 field days, a peer worker's new-device bootstrap ({peer_records} records): {} request(s), {boot_secs:.2} s, {} B",
        summary.requests,
        up + down,
    );
    h.finish().await;
    let figures = json!({
        "backend": label.to_lowercase(),
        "one_day": {
            "records": 18,
            "bytes": day_bytes,
            "up": day_up,
            "down": day_down,
            "floor": floor1,
            "ratio": day_bytes as f64 / floor1 as f64,
            "new_device_bootstrap_bytes": day_boot_bytes,
        },
        "hundred_days_push": {
            "records": 1800,
            "seconds": push_secs,
            "on_wire_seconds": wire_secs,
            "bytes": days_bytes,
            "floor": floor100,
            "ratio": days_bytes as f64 / floor100 as f64,
            "records_per_second": 1800.0 / push_secs,
            "ceiling_records_per_second": ceiling,
            "share_of_ceiling": (1800.0 / push_secs) / ceiling,
            "share_of_ceiling_on_wire": (1800.0 / wire_secs) / ceiling,
        },
        "hundred_days_bootstrap": {
            "records": boot_records,
            "seconds": boot,
            "bytes": boot_bytes,
            "floor": floor100,
            "ratio": boot_bytes as f64 / floor100 as f64,
        },
        "peer_worker_bootstrap": {
            "records": peer_records,
            "seconds": boot_secs,
            "bytes": up + down,
        },
    });
    Some(BothyRun {
        label,
        day_bytes,
        days_bytes,
        push_secs,
        boot_secs: boot,
        boot_bytes,
        figures,
    })
}

/// The peer measured beside Bothy.
const PEER: &str = "automerge-repo 2.5.6";

/// automerge-repo's figures on the same workload.
struct PeerRun {
    day_bytes: u64,
    days_bytes: u64,
    push_secs: f64,
    boot_secs: f64,
    boot_bytes: u64,
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/bench/peer")
}

fn workload_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ops/bench/data")
        .join(name)
        .display()
        .to_string()
}

/// Runs the peer's client script and returns its line of JSON results.
async fn peer_client(dir: &Path, args: &[&str]) -> Result<Value, String> {
    let out = tokio::process::Command::new("node")
        .arg("client.mjs")
        .args(args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("node could not run the client: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the client failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("the client printed {line:?}: {e}"))
}

fn ms(v: &Value, key: &str) -> Result<f64, String> {
    v[key]
        .as_f64()
        .map(|m| m / 1000.0)
        .ok_or_else(|| format!("the client's results lack {key}: {v}"))
}

/// automerge-repo's sync server behind the byte-counting proxy: one field day pushed, 100 field
/// days pushed, and a new client fetching the 1,800 documents.
async fn peer(floor1: usize, floor100: usize) -> Result<PeerRun, String> {
    let dir = peer_dir();
    match std::process::Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(format!("`node --version` failed ({})", o.status)),
        Err(e) => return Err(format!("node is not available ({e})")),
    }
    if !dir
        .join("node_modules/@automerge/automerge-repo/package.json")
        .exists()
    {
        return Err("its packages are not installed (npm ci --prefix ops/bench/peer)".into());
    }
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let at = |name: &str| tmp.path().join(name).display().to_string();
    let mut server = tokio::process::Command::new("node")
        .arg("server.mjs")
        .arg(at("server"))
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("node could not start the server: {e}"))?;
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let ports: Value = match lines.next_line().await {
        Ok(Some(line)) => serde_json::from_str(&line).map_err(|e| format!("{line:?}: {e}"))?,
        other => return Err(format!("the server did not start: {other:?}")),
    };
    let (Some(ws), Some(control)) = (ports["ws"].as_u64(), ports["control"].as_u64()) else {
        return Err(format!("the server printed {ports}"));
    };
    let proxy = CountingProxy::start(([127, 0, 0, 1], ws as u16).into()).await;
    let ws = format!("ws://{}", proxy.addr);
    let control = format!("http://127.0.0.1:{control}");

    proxy.take();
    let day1 = workload_path("fieldday-1.json");
    let (store1, manifest1) = (at("client-1"), at("manifest-1.json"));
    peer_client(&dir, &["push", &ws, &control, &day1, &store1, &manifest1]).await?;
    proxy.closed().await;
    let (up, down) = proxy.take();
    let day_bytes = up + down;
    println!(
        "[{PEER}] one field day, push (18 documents): {up} B up + {down} B down = {day_bytes} B; gzip JSON floor {floor1} B; {}",
        ratio(day_bytes, floor1)
    );

    let days = workload_path("fieldday-100.json");
    let (store100, manifest100) = (at("client-100"), at("manifest-100.json"));
    let pushed = peer_client(
        &dir,
        &["push", &ws, &control, &days, &store100, &manifest100],
    )
    .await?;
    proxy.closed().await;
    let (up, down) = proxy.take();
    let days_bytes = up + down;
    let push_secs = ms(&pushed, "sync_ms")?;
    println!(
        "[{PEER}] 100 field days (1,800 documents) captured in {:.2} s; push: {push_secs:.2} s, {days_bytes} B; gzip JSON floor {floor100} B; {}; server stored {:.0} records/s; server memory {} MB",
        ms(&pushed, "capture_ms")?,
        ratio(days_bytes, floor100),
        1800.0 / push_secs,
        pushed["server_rss"].as_u64().unwrap_or(0) / 1_000_000
    );

    let fetched = peer_client(
        &dir,
        &["fetch", &ws, &control, &manifest100, &at("client-new")],
    )
    .await?;
    proxy.closed().await;
    let (up, down) = proxy.take();
    let boot_bytes = up + down;
    let boot_secs = ms(&fetched, "fetch_ms")?;
    println!(
        "[{PEER}] 100 field days, a new client fetching the 1,800 documents: {boot_secs:.2} s, {boot_bytes} B; {}; client memory {} MB",
        ratio(boot_bytes, floor100),
        fetched["client_rss"].as_u64().unwrap_or(0) / 1_000_000
    );
    let _ = server.kill().await;
    Ok(PeerRun {
        day_bytes,
        days_bytes,
        push_secs,
        boot_secs,
        boot_bytes,
    })
}

/// The commit the bench runs on (short hash), or an empty string.
fn commit() -> String {
    std::process::Command::new("git")
        .args(["log", "-1", "--format=%h"])
        .current_dir(bothy_tests::workspace_root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn main() {
    // `RUST_LOG=warn,bothy_server::sync=info` prints each sync's phase times (merge, writes).
    if std::env::var_os("RUST_LOG").is_some() {
        bothy_server::telemetry::init("pretty");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut runs = Vec::new();
        runs.extend(run(Backend::Sqlite).await);
        runs.extend(run(Backend::Postgres).await);
        let floor1 = gzip_floor(&load("fieldday-1.json"));
        let floor100 = gzip_floor(&load("fieldday-100.json"));
        let peer_run = peer(floor1, floor100).await;
        let peer_json = match &peer_run {
            Ok(p) => json!({
                "name": PEER,
                "one_day_bytes": p.day_bytes,
                "hundred_days_bytes": p.days_bytes,
                "hundred_days_push_seconds": p.push_secs,
                "bootstrap_seconds": p.boot_secs,
                "bootstrap_bytes": p.boot_bytes,
            }),
            Err(why) => json!({"name": PEER, "skipped": why}),
        };
        let result = json!({
            "commit": commit(),
            "bothy": runs.iter().map(|r| r.figures.clone()).collect::<Vec<_>>(),
            "peer": peer_json,
        });
        let path = out_dir().join("result.json");
        std::fs::create_dir_all(out_dir()).expect("output directory");
        std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap())
            .expect("results written");
        println!("results in {}", path.display());
        let p = match peer_run {
            Ok(p) => p,
            Err(why) => {
                println!("[{PEER}] skipped: {why}");
                return;
            }
        };
        for b in &runs {
            println!(
                "[{} / {PEER}] one field day: {} B / {} B = {:.2}; 100 field days: {} B / {} B = {:.2}, push {:.2} s / {:.2} s = {:.2}; new-device bootstrap: {:.2} s / {:.2} s = {:.2}, {} B / {} B = {:.2} (Bothy's includes the participants)",
                b.label,
                b.day_bytes,
                p.day_bytes,
                b.day_bytes as f64 / p.day_bytes as f64,
                b.days_bytes,
                p.days_bytes,
                b.days_bytes as f64 / p.days_bytes as f64,
                b.push_secs,
                p.push_secs,
                b.push_secs / p.push_secs,
                b.boot_secs,
                p.boot_secs,
                b.boot_secs / p.boot_secs,
                b.boot_bytes,
                p.boot_bytes,
                b.boot_bytes as f64 / p.boot_bytes as f64,
            );
        }
    });
}
