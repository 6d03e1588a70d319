//! App start with an encrypted device store of 5,000 records: unlocking with the PIN (argon2id
//! at the default cost), unlocking and listing every record, and the same with a kept session
//! key and with a store without a PIN, for comparison. Also the one-off cost of encrypting a
//! store of that size in place when its first PIN is set.
//!
//! Run with `cargo bench -p bothy-tests --bench unlock` (or `ops/bench/unlock`). No server is
//! involved: the store is filled offline through the device library, as a researcher's
//! captures would fill it (1,000 participants, each with a contact record holding a name and
//! phone, 250 sessions, 2,500 WEMWBS responses, 250 stories of about 1 KB), then copied before
//! its PIN is set.
//! Each figure is the median of `RUNS` runs on a fresh handle (a cold process but a warm
//! page cache), on a single-threaded runtime as the terminal client uses.

use bothy_device::bothy_sync_core::FieldValue;
use bothy_device::bothy_sync_core::automerge::ActorId;
use bothy_device::{Device, Enrolment, Membership, PinCost, User, WellbeingForm};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const PROJECT: &str = "bench";
const PIN: &str = "bench-pin-2026";
const RUNS: usize = 7;
const PARTICIPANTS: usize = 1_000;
const SESSIONS: usize = 250;
const RESPONSES: usize = 2_500;
const STORIES: usize = 250;

async fn fill(path: &Path) {
    let device = Device::open(path).await.unwrap();
    let enrolment = Enrolment {
        device_id: "0190a7e2-1111-7000-8000-000000000001".into(),
        device_token: "bd1_0190a7e211117000800000000000001_benchsecret".into(),
        actor: ActorId::random().to_hex_string(),
        user: User {
            id: "u-bench".into(),
            username: "bench".into(),
            is_admin: false,
        },
        memberships: vec![Membership {
            project: PROJECT.into(),
            role: "researcher".into(),
        }],
        server_time: 0,
    };
    device
        .adopt_identity("http://127.0.0.1:9", &enrolment)
        .await
        .unwrap();
    let mut people = Vec::with_capacity(PARTICIPANTS);
    for n in 0..PARTICIPANTS {
        let p = device
            .create_participant(
                None,
                &[
                    ("contact.name", format!("Participant Number{n}").into()),
                    ("contact.phone", format!("07700 9{n:05}").into()),
                    ("age_band", "45-54".into()),
                    ("consent.data_use", true.into()),
                ],
            )
            .await
            .unwrap();
        people.push(p.id);
    }
    for n in 0..SESSIONS {
        let mut fields: Vec<(String, FieldValue)> = vec![
            ("site".into(), "ullapool-hall".into()),
            ("activity".into(), "heritage-crafts".into()),
            ("activity_type".into(), "heritage".into()),
            (
                "start".into(),
                format!("2026-{:02}-{:02}T10:00:00Z", 1 + n % 12, 1 + n % 28).into(),
            ),
        ];
        for p in people.iter().skip(n * 6 % PARTICIPANTS).take(6) {
            fields.push((format!("attendance.{p}"), "present".into()));
        }
        let fields: Vec<(&str, FieldValue)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        device.create_session(None, &fields).await.unwrap();
    }
    for n in 0..RESPONSES {
        let items: BTreeMap<u8, i64> = (1..=14)
            .map(|i| (i, 1 + ((n + i as usize) % 5) as i64))
            .collect();
        device
            .record_wellbeing(&WellbeingForm {
                participant: people[n % PARTICIPANTS],
                instrument: "WEMWBS".into(),
                timepoint: if n < PARTICIPANTS { "baseline" } else { "end" }.into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 3, 1 + (n % 28) as u32).unwrap(),
                session: None,
                items,
            })
            .await
            .unwrap();
    }
    let body = "We walked along the shore and talked about the old ferry. ".repeat(17);
    for (n, person) in people.iter().take(STORIES).enumerate() {
        device
            .create_story(
                None,
                &[
                    ("title", format!("Story {n}").into()),
                    ("body", body.clone().into()),
                    ("consent_scope", "project".into()),
                    ("participant", person.to_string().into()),
                ],
            )
            .await
            .unwrap();
    }
    device.close().await;
}

fn size(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| {
            let mut name = path.as_os_str().to_owned();
            name.push(s);
            std::fs::metadata(name).ok().map(|m| m.len())
        })
        .sum()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn measure<F, Fut>(what: &str, mut run: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut times = Vec::with_capacity(RUNS);
    let mut listed = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        listed = run().await;
        times.push(started.elapsed());
    }
    let (min, max) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    println!(
        "{what:<52} median {:>9}  (min {}, max {}; {listed} records listed)",
        ms(median(times)),
        ms(min),
        ms(max)
    );
}

async fn bench() {
    let dir = tempfile::tempdir().unwrap();
    let encrypted = dir.path().join("encrypted.db");
    let plain = dir.path().join("plain.db");
    let started = Instant::now();
    fill(&encrypted).await;
    println!(
        "filled a store with {} records in {:.1} s ({} bytes)",
        2 * PARTICIPANTS + SESSIONS + RESPONSES + STORIES,
        started.elapsed().as_secs_f64(),
        size(&encrypted)
    );
    std::fs::copy(&encrypted, &plain).unwrap();

    let device = Device::open(&encrypted).await.unwrap();
    let started = Instant::now();
    device.set_pin(PIN).await.unwrap();
    println!(
        "set the first PIN (encrypt 5,000 records in place, VACUUM, truncate the log): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let key = device.session_key().unwrap();
    device.close().await;
    println!(
        "store size: {} bytes without a PIN, {} bytes encrypted",
        size(&plain),
        size(&encrypted)
    );
    let cost = PinCost::DEFAULT;
    println!(
        "PIN cost: argon2id, m = {} MiB, t = {}, p = {}\n",
        cost.memory_kib / 1024,
        cost.iterations,
        cost.lanes
    );

    let path = encrypted.clone();
    measure("open + unlock with the PIN", || {
        let path = path.clone();
        async move {
            let d = Device::open_with_pin(&path, PIN).await.unwrap();
            d.close().await;
            0
        }
    })
    .await;
    measure("open + unlock with the PIN + list every record", || {
        let path = path.clone();
        async move {
            let d = Device::open_with_pin(&path, PIN).await.unwrap();
            let n = d.list(None).await.unwrap().len();
            d.close().await;
            n
        }
    })
    .await;
    measure("open + unlock with a kept session key + list", || {
        let (path, key) = (path.clone(), key.clone());
        async move {
            let d = Device::open(&path).await.unwrap();
            d.unlock_with_key(&key).await.unwrap();
            let n = d.list(None).await.unwrap().len();
            d.close().await;
            n
        }
    })
    .await;
    let plain_path = plain.clone();
    measure("open + list, the same store without a PIN", || {
        let path = plain_path.clone();
        async move {
            let d = Device::open(&path).await.unwrap();
            let n = d.list(None).await.unwrap().len();
            d.close().await;
            n
        }
    })
    .await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench());
}
