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
//! PostgreSQL runs when `BOTHY_TEST_POSTGRES_URL` is set.

use bothy_device::{AttendanceMark, Device, WellbeingForm};
use bothy_sync_core::{FieldValue, Instrument};
use bothy_tests::{Backend, Harness};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const PROJECT: &str = "highland-heritage";

/// A TCP proxy that counts bytes in each direction.
struct CountingProxy {
    addr: std::net::SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(upstream: std::net::SocketAddr) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let (u, d) = (up.clone(), down.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (u, d) = (u.clone(), d.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let a = pump(&mut cr, &mut sw, &u);
                    let b = pump(&mut sr, &mut cw, &d);
                    tokio::join!(a, b);
                });
            }
        });
        CountingProxy { addr, up, down }
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

async fn run(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
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

    // 3. 100 field days from one device, then a new device bootstraps them.
    let days = load("fieldday-100.json");
    let floor100 = gzip_floor(&days);
    let c = enrol(&h, &proxy, "phone-c").await;
    let people = register_participants(&c, &participants_of(&days)).await;
    c.sync().await.unwrap();
    let t = Instant::now();
    capture(&c, &days, &people).await;
    let capture_secs = t.elapsed().as_secs_f64();
    proxy.take();
    let t = Instant::now();
    let summary = c.sync().await.unwrap();
    let push_secs = t.elapsed().as_secs_f64();
    let (up, down) = proxy.take();
    println!(
        "[{label}] 100 field days (1,800 records) captured in {capture_secs:.2} s; push: {} request(s), {:.2} s, {} B; gzip JSON floor {floor100} B; {}; server merged and stored {:.0} records/s",
        summary.requests,
        push_secs,
        up + down,
        ratio(up + down, floor100),
        1800.0 / push_secs
    );
    let d = enrol(&h, &proxy, "phone-d").await;
    proxy.take();
    let t = Instant::now();
    let summary = d.sync().await.unwrap();
    let boot_secs = t.elapsed().as_secs_f64();
    let (up, down) = proxy.take();
    println!(
        "[{label}] 100 field days, new-device bootstrap ({} records): {} request(s), {boot_secs:.2} s, {} B; {}",
        d.status().await.unwrap().records,
        summary.requests,
        up + down,
        ratio(up + down, floor100)
    );
    // 4. A peer worker's new device bootstraps the same project: participants and sessions only.
    let e = enrol_as(&h, &proxy, "pete", "phone-e").await;
    proxy.take();
    let t = Instant::now();
    let summary = e.sync().await.unwrap();
    let boot_secs = t.elapsed().as_secs_f64();
    let (up, down) = proxy.take();
    println!(
        "[{label}] 100 field days, a peer worker's new-device bootstrap ({} records): {} request(s), {boot_secs:.2} s, {} B",
        e.status().await.unwrap().records,
        summary.requests,
        up + down,
    );
    h.finish().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run(Backend::Sqlite).await;
        run(Backend::Postgres).await;
    });
}
