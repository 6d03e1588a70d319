//! Load generator: many devices syncing at once against a real server process.
//!
//! Run with `ops/bench/load` (which builds the release `bothy-server` binary first), or
//! `cargo bench -p bothy-tests --bench load -- [options]`:
//!
//! ```text
//! --devices 50,100,200,500   concurrent devices at each step of the ramp
//! --seconds 30               length of each step
//! --backend sqlite|postgres|both|none   (none: only redraw the chart from saved results)
//! --seed-days 100            field days in the database before the ramp (about 33 records each)
//! --think-ms 1000            mean pause between two syncs of a device (jittered +-50%)
//! --idle 10                  seconds idle after the last step before memory is read again
//! --encoding brotli|deflate|mixed   body encoding devices send (mixed: every other device)
//! --chart                    also write docs/load-latency.svg
//! ```
//!
//! The server runs as a separate process (`BOTHY_LOAD_SERVER_BIN`, else
//! `target/release/bothy-server`) so its memory (`VmRSS`, `VmHWM`) and CPU (`utime + stime`)
//! are read from `/proc/<pid>`. PostgreSQL runs when `BOTHY_TEST_POSTGRES_URL` is set.
//!
//! Devices are light: each holds its credential, its actor, its cursor, the set-up version and
//! at most a few of its own records as Automerge documents, and speaks the protocol with
//! sync-core directly (no device store). Each loops: a pause of about `--think-ms`, then one
//! sync, which is, at random,
//!
//! * 78%: a pull only (the cursor; the answer carries what others pushed since);
//! * 20%: a small push: 1 to 3 new records (a questionnaire, a participant or a session) or
//!   edits of the device's own records (an attendance mark, an answer);
//! * 1.9%: a whole field day (`ops/bench/data/fieldday-1.json`: a session with 15 attendance
//!   marks made one at a time, 15 WEMWBS responses and 2 stories; a peer worker's day is the
//!   session and its marks, as peer workers record nothing else);
//! * 0.1%: a bootstrap: the device forgets its cursor and pages through everything it may hold.
//!
//! Before the ramp a seeding device pushes `--seed-days` field days of
//! `ops/bench/data/fieldday-100.json` with their participants (3,333 records for 100 days)
//! into two projects, and one device per user bootstraps; the user's other devices start from
//! that position, as phones that have synced before. A device joining at a later step starts
//! from the newest position its user's devices reached.
//!
//! With `--projects N` (N above 2) the devices are spread over N projects of five users each
//! (three researchers, two peer workers) and the seeded days round the projects: a programme of
//! many small teams, where a push reaches the few devices of its own project rather than a
//! third of all devices. The results then go to `target/bench-load/<backend>-projects-N.json`.
//!
//! For each step it prints and writes (`target/bench-load/<backend>.json`): latency of each
//! sync request (p50, p95, p99, max; by kind in the JSON), syncs per second, answers by HTTP
//! status (503 apart) and transport errors, bytes of sync bodies up and down, the server's RSS
//! (peak during the step and after it) and CPU (as % of one core), the load generator's own CPU,
//! and the whole machine's.

use bothy_sync_core::automerge::{ActorId, ChangeHash};
use bothy_sync_core::protocol::{self, Cursor, RecordPush, ReportKind, SyncRequest, SyncResponse};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use bothy_tests::{Backend, ProcessServer};
use serde_bytes::ByteBuf;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const PROJECTS: [&str; 2] = ["highland-heritage", "coastal-voices"];
/// The users devices belong to: (username, project index, role).
const USERS: [(&str, usize, &str); 8] = [
    ("ruth", 0, "researcher"),
    ("ewan", 0, "researcher"),
    ("morag", 0, "researcher"),
    ("pete", 0, "peer_worker"),
    ("isla", 0, "peer_worker"),
    ("calum", 1, "researcher"),
    ("fiona", 1, "researcher"),
    ("donald", 1, "peer_worker"),
];
/// The projects and users of a run: [`PROJECTS`] and [`USERS`] for two projects; for more,
/// projects `project-01`, `project-02`, ... each with three researchers and two peer workers.
struct Team {
    projects: Vec<&'static str>,
    users: Vec<(&'static str, usize, &'static str)>,
}

impl Team {
    fn new(projects: usize) -> Team {
        if projects == PROJECTS.len() {
            return Team {
                projects: PROJECTS.to_vec(),
                users: USERS.to_vec(),
            };
        }
        // Leaked: a bench run's few hundred names live as long as the run.
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let mut team = Team {
            projects: Vec::new(),
            users: Vec::new(),
        };
        for p in 0..projects {
            team.projects.push(leak(format!("project-{:02}", p + 1)));
            for (u, role) in [
                "researcher",
                "researcher",
                "researcher",
                "peer_worker",
                "peer_worker",
            ]
            .into_iter()
            .enumerate()
            {
                team.users
                    .push((leak(format!("p{:02}u{u}", p + 1)), p, role));
            }
        }
        team
    }

    /// The project a seeded day goes to: every third day in the second of two projects, else
    /// round the projects.
    fn day_project(&self, day: usize) -> usize {
        if self.projects.len() == PROJECTS.len() {
            usize::from(day % 3 == 2)
        } else {
            day % self.projects.len()
        }
    }
}

/// Chances of each kind of sync, per mille (the rest are pulls only).
const BOOTSTRAP_PER_MILLE: u64 = 1;
const FIELDDAY_PER_MILLE: u64 = 19;
const SMALL_PER_MILLE: u64 = 200;
/// Own records a device keeps in memory to edit.
const OWN_RECORDS: usize = 3;
/// Records per request while seeding.
const SEED_BATCH: usize = 400;

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
    devices: Vec<usize>,
    seconds: u64,
    backends: Vec<Backend>,
    seed_days: usize,
    think_ms: u64,
    idle: u64,
    encoding: String,
    chart: bool,
    /// Projects the devices are spread over: 2 is one programme's two teams (every device of a
    /// team pulls every other's work); more gives each project five users of its own.
    projects: usize,
}

fn options() -> Options {
    let mut o = Options {
        devices: vec![50, 100, 200, 500],
        seconds: 30,
        backends: vec![Backend::Sqlite, Backend::Postgres],
        seed_days: 100,
        think_ms: 1000,
        idle: 10,
        encoding: "brotli".into(),
        chart: false,
        projects: PROJECTS.len(),
    };
    let mut args = std::env::args().skip(1);
    let usage = "options: --devices 50,100,200,500 --seconds 30 --backend sqlite|postgres|both \
                 --seed-days 100 --think-ms 1000 --idle 10 --encoding brotli|deflate|mixed --projects 2 \
                 --chart";
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value; {usage}"))
        };
        match a.as_str() {
            "--bench" => {}
            "--chart" => o.chart = true,
            "--devices" => {
                o.devices = value("--devices")
                    .split(',')
                    .map(|n| n.trim().parse().expect("--devices: numbers"))
                    .collect();
                assert!(
                    !o.devices.is_empty() && o.devices.iter().all(|n| *n > 0),
                    "--devices: at least one step, each above zero"
                );
            }
            "--seconds" => o.seconds = value("--seconds").parse().expect("--seconds: a number"),
            "--seed-days" => {
                o.seed_days = value("--seed-days").parse().expect("--seed-days: a number")
            }
            "--think-ms" => o.think_ms = value("--think-ms").parse().expect("--think-ms: a number"),
            "--idle" => o.idle = value("--idle").parse().expect("--idle: a number"),
            "--projects" => {
                o.projects = value("--projects").parse().expect("--projects: a number");
                assert!(o.projects >= 2, "--projects: at least 2");
            }
            "--encoding" => {
                o.encoding = value("--encoding");
                assert!(
                    ["brotli", "deflate", "mixed"].contains(&o.encoding.as_str()),
                    "--encoding: brotli, deflate or mixed"
                );
            }
            "--backend" => {
                o.backends = match value("--backend").as_str() {
                    "sqlite" => vec![Backend::Sqlite],
                    "postgres" => vec![Backend::Postgres],
                    "both" => vec![Backend::Sqlite, Backend::Postgres],
                    // Only redraws the chart from the results already written.
                    "none" => Vec::new(),
                    other => panic!("--backend {other}: sqlite, postgres, both or none"),
                }
            }
            other => panic!("unknown option {other}; {usage}"),
        }
    }
    o
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn backend_label(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

// ---------------------------------------------------------------------------------------------
// A small random number generator (SplitMix64): enough for jitter and choices.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// /proc readings

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks.
fn proc_cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of the whole line, so utime (14) and stime (15) are 11 and 12.
    let at = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    at(11) + at(12)
}

/// CPU ticks of every PostgreSQL process on the machine (the database's own work).
fn postgres_cpu_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| proc_cpu_ticks(&pid))
        .sum()
}

/// (busy, total) ticks of the whole machine, from the first line of /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resets the process's peak resident set (`VmHWM`) to its current one; false if refused.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

// ---------------------------------------------------------------------------------------------
// Statistics of one step

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Pull,
    Small,
    FieldDay,
    Bootstrap,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Pull => "pull",
            Kind::Small => "small",
            Kind::FieldDay => "fieldday",
            Kind::Bootstrap => "bootstrap",
        }
    }
}

#[derive(Default)]
struct Stats {
    /// (kind, microseconds) of every answered request.
    latencies: Vec<(Kind, u32)>,
    /// Answers by HTTP status.
    statuses: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer (connection refused or reset, timeout).
    transport: u64,
    /// Bytes of request and response bodies.
    up: u64,
    down: u64,
    /// Records pushed, acknowledged, and received.
    pushed: u64,
    acked: u64,
    pulled: u64,
    /// Reports about pushed records, by kind.
    reports: BTreeMap<String, u64>,
    /// Whole bootstraps finished: (pages, records, seconds).
    bootstraps: Vec<(u32, u64, f64)>,
    /// Error messages, the first few.
    samples: Vec<String>,
}

impl Stats {
    fn note(&mut self, what: String) {
        if self.samples.len() < 5 {
            self.samples.push(what);
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn latency_json(mut micros: Vec<u32>) -> Value {
    micros.sort_unstable();
    json!({
        "count": micros.len(),
        "p50_ms": percentile(&micros, 50.0),
        "p95_ms": percentile(&micros, 95.0),
        "p99_ms": percentile(&micros, 99.0),
        "max_ms": micros.last().map_or(f64::NAN, |m| *m as f64 / 1000.0),
    })
}

// ---------------------------------------------------------------------------------------------
// Talking to the server

struct Shared {
    http: reqwest::Client,
    sync_url: String,
    /// Participants of each project (seeded), for questionnaires and attendance.
    people: Vec<Vec<Uuid>>,
    /// The shared field day.
    day: Vec<Value>,
    stats: Mutex<Stats>,
    /// The newest cursor (and set-up version) any device of each user reached.
    newest: Mutex<HashMap<usize, (Cursor, Option<String>)>>,
}

/// One sync request's outcome.
enum Answer {
    Ok(Box<SyncResponse>),
    Status(u16),
    Failed,
}

impl Shared {
    /// Sends one request; records its latency, bytes and status in the step's statistics when
    /// `kind` is given.
    async fn send(
        &self,
        token: &str,
        request: &SyncRequest,
        encoding: u8,
        kind: Option<Kind>,
    ) -> Answer {
        let body = protocol::encode_with(request, protocol::PROTOCOL_VERSION, encoding);
        let up = body.len() as u64;
        let started = Instant::now();
        let sent = self
            .http
            .post(&self.sync_url)
            .bearer_auth(token)
            .header("content-type", protocol::MEDIA_TYPE)
            .body(body)
            .send()
            .await;
        let result = match sent {
            Ok(res) => {
                let status = res.status().as_u16();
                res.bytes().await.map(|b| (status, b))
            }
            Err(e) => Err(e),
        };
        let elapsed = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        let (status, bytes) = match result {
            Ok(ok) => ok,
            Err(e) => {
                if kind.is_some() {
                    let mut s = self.stats.lock().unwrap();
                    s.transport += 1;
                    s.up += up;
                    s.note(format!("transport: {e}"));
                }
                return Answer::Failed;
            }
        };
        let decoded = if status == 200 {
            protocol::decode::<SyncResponse>(&bytes)
                .map(|(r, _)| r)
                .ok()
        } else {
            None
        };
        if let Some(kind) = kind {
            let mut s = self.stats.lock().unwrap();
            s.latencies.push((kind, elapsed));
            *s.statuses.entry(status).or_default() += 1;
            s.up += up;
            s.down += bytes.len() as u64;
            if status != 200 {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
                s.note(format!("{status}: {text}"));
            } else if let Some(r) = &decoded {
                s.pushed += request.push.len() as u64;
                s.acked += request.push.len().saturating_sub(r.unacked.len()) as u64;
                s.pulled += r.records.len() as u64;
                for report in &r.reports {
                    *s.reports
                        .entry(format!("{:?}:{}", report.kind, report.code))
                        .or_default() += 1;
                    if report.kind == ReportKind::Refused {
                        s.note(format!("refused: {}", report.message));
                    }
                }
            } else {
                s.note("an answer that does not decode".into());
            }
        }
        match (status, decoded) {
            (200, Some(r)) => Answer::Ok(Box::new(r)),
            (200, None) => Answer::Failed,
            (other, _) => Answer::Status(other),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Records

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn fields(list: &[(String, FieldValue)]) -> Vec<(&str, FieldValue)> {
    list.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn participant(actor: &ActorId, project: &str, code: &str, rng: &mut Rng) -> RecordDoc {
    let bands = ["55-64", "65-74", "75-84"];
    let list = vec![
        ("code".to_owned(), FieldValue::from(code)),
        ("consent.data_use".to_owned(), true.into()),
        ("age_band".to_owned(), (*rng.pick(&bands)).into()),
    ];
    RecordDoc::create(
        actor.clone(),
        RecordKind::Participant,
        project,
        &fields(&list),
        now(),
    )
    .expect("a valid participant")
}

/// A session from a workload record; attendance as one change with it (`marks_inline`) or as
/// one edit per mark, as a phone records it.
fn session(
    actor: &ActorId,
    project: &str,
    r: &Value,
    people: &HashMap<String, Uuid>,
    marks_inline: bool,
) -> RecordDoc {
    let mut list: Vec<(String, FieldValue)> = vec![
        ("site".into(), text(&r["site"]).into()),
        ("activity".into(), text(&r["activity"]).into()),
        ("activity_type".into(), text(&r["activity_type"]).into()),
        ("start".into(), text(&r["start"]).into()),
        ("end".into(), text(&r["end"]).into()),
        ("location".into(), text(&r["location"]).into()),
        ("notes".into(), text(&r["notes"]).into()),
        (
            "unregistered_attendees".into(),
            FieldValue::Int(r["unregistered_attendees"].as_i64().unwrap_or(0)),
        ),
    ];
    for f in r["facilitators"].as_array().into_iter().flatten() {
        list.push((format!("facilitators.{}", text(f)), true.into()));
    }
    let marks: Vec<(String, String)> = r["attendance"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(pid, mark)| Some((people.get(pid)?.to_string(), text(mark))))
        .collect();
    if marks_inline {
        for (p, mark) in &marks {
            list.push((format!("attendance.{p}"), mark.as_str().into()));
        }
    }
    let mut doc = RecordDoc::create(
        actor.clone(),
        RecordKind::Session,
        project,
        &fields(&list),
        now(),
    )
    .expect("a valid session");
    if !marks_inline {
        for (p, mark) in marks {
            doc.edit(now(), |e| e.set(&format!("attendance.{p}"), mark.as_str()))
                .expect("a valid attendance mark");
        }
    }
    doc
}

fn wellbeing(
    actor: &ActorId,
    project: &str,
    participant: Uuid,
    session: Option<Uuid>,
    items: &[i64],
) -> RecordDoc {
    let mut list: Vec<(String, FieldValue)> = vec![
        ("participant".into(), participant.to_string().into()),
        ("instrument".into(), "WEMWBS".into()),
        ("timepoint".into(), "baseline".into()),
        ("date".into(), "2026-11-01".into()),
    ];
    if let Some(s) = session {
        list.push(("session".into(), s.to_string().into()));
    }
    for (i, v) in items.iter().enumerate() {
        list.push((format!("items.{}", i + 1), FieldValue::Int(*v)));
    }
    RecordDoc::create(
        actor.clone(),
        RecordKind::Wellbeing,
        project,
        &fields(&list),
        now(),
    )
    .expect("a valid WEMWBS response")
}

fn story(
    actor: &ActorId,
    project: &str,
    r: &Value,
    participant: Option<Uuid>,
    session: Option<Uuid>,
) -> RecordDoc {
    let mut list: Vec<(String, FieldValue)> = vec![
        ("title".into(), text(&r["title"]).into()),
        ("body".into(), text(&r["body"]).into()),
        ("author".into(), text(&r["author"]).into()),
        ("consent_scope".into(), "project".into()),
        ("language".into(), text(&r["language"]).into()),
    ];
    if let Some(p) = participant {
        list.push(("participant".into(), p.to_string().into()));
    }
    if let Some(s) = session {
        list.push(("session".into(), s.to_string().into()));
    }
    for t in r["themes"].as_array().into_iter().flatten() {
        list.push((format!("themes.{}", text(t)), true.into()));
    }
    RecordDoc::create(
        actor.clone(),
        RecordKind::Story,
        project,
        &fields(&list),
        now(),
    )
    .expect("a valid story")
}

/// The records of workload days (`records`) as documents: sessions, questionnaires and (when
/// `researcher`) stories, with workload participant ids mapped through `people`.
fn day_records(
    actor: &ActorId,
    project: &str,
    records: &[&Value],
    people: &HashMap<String, Uuid>,
    researcher: bool,
    marks_inline: bool,
) -> Vec<(Uuid, RecordDoc)> {
    let mut out = Vec::new();
    let mut sessions: HashMap<String, Uuid> = HashMap::new();
    for r in records.iter().filter(|r| r["kind"] == "session") {
        let id = Uuid::now_v7();
        sessions.insert(text(&r["id"]), id);
        out.push((id, session(actor, project, r, people, marks_inline)));
    }
    if !researcher {
        return out;
    }
    for r in records.iter().filter(|r| r["kind"] == "wellbeing") {
        let Some(p) = people.get(&text(&r["participant"])) else {
            continue;
        };
        let items: Vec<i64> = r["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .collect();
        let s = sessions.get(&text(&r["session"])).copied();
        out.push((Uuid::now_v7(), wellbeing(actor, project, *p, s, &items)));
    }
    for r in records.iter().filter(|r| r["kind"] == "story") {
        let p = people.get(&text(&r["participant"])).copied();
        let s = sessions.get(&text(&r["session"])).copied();
        out.push((Uuid::now_v7(), story(actor, project, r, p, s)));
    }
    out
}

/// What a device sends for a record the server has never acknowledged: its changes, or the
/// saved document when that is smaller (as the device library does).
fn first_push(id: Uuid, doc: &mut RecordDoc) -> RecordPush {
    let changes: Vec<ByteBuf> = doc
        .automerge()
        .get_changes(&[])
        .iter()
        .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
        .collect();
    if changes.len() > 1 {
        let document = doc.automerge().save_nocompress();
        if document.len() < changes.iter().map(|c| c.len()).sum::<usize>() {
            return RecordPush {
                id,
                changes: Vec::new(),
                document: Some(ByteBuf::from(document)),
            };
        }
    }
    RecordPush {
        id,
        changes,
        document: None,
    }
}

fn workload(name: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ops/bench/data/");
    let text = std::fs::read_to_string(format!("{path}{name}")).expect("workload file");
    serde_json::from_str(&text).expect("workload JSON")
}

fn workload_participants(records: &[&Value]) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------------
// Devices

struct Own {
    id: Uuid,
    kind: RecordKind,
    doc: RecordDoc,
    /// The heads the server acknowledged (empty: never).
    acked: Vec<ChangeHash>,
}

struct Device {
    user: usize,
    project: usize,
    slug: &'static str,
    researcher: bool,
    token: String,
    actor: ActorId,
    cursor: Cursor,
    setup: Option<String>,
    encoding: u8,
    own: VecDeque<Own>,
    rng: Rng,
    created: u64,
}

impl Device {
    fn project_slug(&self) -> &'static str {
        self.slug
    }

    fn request(&self, push: Vec<RecordPush>) -> SyncRequest {
        SyncRequest {
            cursor: self.cursor,
            pending: Some(push.len() as u32),
            push,
            app: None,
            setup: self.setup.clone(),
        }
    }

    /// Takes in an answer: new cursor and set-up version.
    fn absorb(&mut self, r: &SyncResponse) {
        self.cursor = r.cursor;
        if let Some(setup) = &r.setup {
            self.setup = (!setup.version.is_empty()).then(|| setup.version.clone());
        }
    }

    /// One sync: push `push` (with `heads` to mark acknowledged), then pull pages while the
    /// server says `more`.
    async fn sync(
        &mut self,
        shared: &Shared,
        kind: Kind,
        push: Vec<RecordPush>,
        mut fresh: Vec<Own>,
    ) {
        let pushed_heads: Vec<(Uuid, Vec<ChangeHash>)> =
            self.own.iter_mut().map(|o| (o.id, o.doc.heads())).collect();
        let request = self.request(push);
        let answer = shared
            .send(&self.token, &request, self.encoding, Some(kind))
            .await;
        let Answer::Ok(r) = answer else {
            // Not stored: the records stay unacknowledged and go again with a later sync.
            self.keep(fresh);
            return;
        };
        self.absorb(&r);
        let sent: Vec<Uuid> = request.push.iter().map(|p| p.id).collect();
        for o in self.own.iter_mut() {
            if sent.contains(&o.id)
                && !r.unacked.contains(&o.id)
                && let Some((_, h)) = pushed_heads.iter().find(|(id, _)| *id == o.id)
            {
                o.acked = h.clone();
            }
        }
        for o in fresh.iter_mut() {
            if !r.unacked.contains(&o.id) {
                o.acked = o.doc.heads();
            }
        }
        self.keep(fresh);
        let mut more = r.more;
        let mut pages = 0;
        while more && pages < 100 {
            pages += 1;
            let request = self.request(Vec::new());
            match shared
                .send(&self.token, &request, self.encoding, Some(Kind::Pull))
                .await
            {
                Answer::Ok(r) => {
                    self.absorb(&r);
                    more = r.more;
                }
                _ => return,
            }
        }
        self.publish(shared);
    }

    /// Keeps the newest of its own records to edit later.
    fn keep(&mut self, fresh: Vec<Own>) {
        for o in fresh {
            self.own.push_back(o);
        }
        // Only acknowledged records are forgotten, so nothing unsent is lost.
        while self.own.len() > OWN_RECORDS {
            match self.own.iter().position(|o| !o.acked.is_empty()) {
                Some(i) => {
                    self.own.remove(i);
                }
                None => break,
            }
        }
    }

    /// Makes the device's position the newest of its user's (for devices joining later).
    fn publish(&self, shared: &Shared) {
        let mut newest = shared.newest.lock().unwrap();
        let entry = newest
            .entry(self.user)
            .or_insert((self.cursor, self.setup.clone()));
        if self.cursor.snapshot.is_none() && self.cursor.seq > entry.0.seq {
            *entry = (self.cursor, self.setup.clone());
        }
    }

    /// Records with changes the server has not acknowledged, as pushes.
    fn unsynced(&mut self) -> Vec<RecordPush> {
        let mut out = Vec::new();
        for o in self.own.iter_mut() {
            if o.acked.is_empty() {
                out.push(first_push(o.id, &mut o.doc));
            } else if o.doc.heads() != o.acked {
                let changes = o
                    .doc
                    .automerge()
                    .get_changes(&o.acked)
                    .iter()
                    .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                    .collect();
                out.push(RecordPush {
                    id: o.id,
                    changes,
                    document: None,
                });
            }
        }
        out
    }

    async fn pull(&mut self, shared: &Shared) {
        let push = self.unsynced();
        self.sync(shared, Kind::Pull, push, Vec::new()).await;
    }

    /// 1 to 3 new records or edits of its own.
    async fn small(&mut self, shared: &Shared) {
        let people = &shared.people[self.project];
        let project = self.project_slug();
        let mut fresh = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            let choice = self.rng.below(10);
            if choice < 4 && !self.own.is_empty() {
                // An edit of one of its own records.
                let i = self.rng.below(self.own.len() as u64) as usize;
                let p = *self.rng.pick(people);
                let answer = 1 + self.rng.below(5) as i64;
                let item = 1 + self.rng.below(14);
                let mark = *self.rng.pick(&["present", "absent", "left_early"]);
                let o = &mut self.own[i];
                let kind = o.kind;
                if kind == RecordKind::Story {
                    continue;
                }
                let _ = o.doc.edit(now(), |e| match kind {
                    RecordKind::Session => e.set(&format!("attendance.{p}"), mark),
                    RecordKind::Wellbeing => e.set(&format!("items.{item}"), answer),
                    _ => e.set("age_band", "75-84"),
                });
                continue;
            }
            let actor = self.actor.clone();
            let (kind, doc) = if self.researcher && choice < 8 {
                let items: Vec<i64> = (0..14).map(|_| 1 + self.rng.below(5) as i64).collect();
                let p = *self.rng.pick(people);
                (
                    RecordKind::Wellbeing,
                    wellbeing(&actor, project, p, None, &items),
                )
            } else if choice < 9 {
                self.created += 1;
                let code = format!("L{}-{}", &self.token[self.token.len() - 6..], self.created);
                (
                    RecordKind::Participant,
                    participant(&actor, project, &code, &mut self.rng),
                )
            } else {
                let day = &shared.day;
                let r = day
                    .iter()
                    .find(|r| r["kind"] == "session")
                    .expect("a session");
                let map = HashMap::new();
                (RecordKind::Session, session(&actor, project, r, &map, true))
            };
            fresh.push(Own {
                id: Uuid::now_v7(),
                kind,
                doc,
                acked: Vec::new(),
            });
        }
        let mut push = self.unsynced();
        for o in fresh.iter_mut() {
            push.push(first_push(o.id, &mut o.doc));
        }
        self.sync(shared, Kind::Small, push, fresh).await;
    }

    /// A whole field day.
    async fn field_day(&mut self, shared: &Shared) {
        let records: Vec<&Value> = shared.day.iter().collect();
        let mut map = HashMap::new();
        for pid in workload_participants(&records) {
            map.insert(pid, *self.rng.pick(&shared.people[self.project]));
        }
        let docs = day_records(
            &self.actor,
            self.project_slug(),
            &records,
            &map,
            self.researcher,
            false,
        );
        let mut push = self.unsynced();
        let mut fresh = Vec::new();
        for (id, mut doc) in docs {
            push.push(first_push(id, &mut doc));
            // Kept until acknowledged (sent again after a refused sync), then only the newest.
            let kind = doc.envelope().map_or(RecordKind::Story, |e| e.kind);
            fresh.push(Own {
                id,
                kind,
                doc,
                acked: Vec::new(),
            });
        }
        self.sync(shared, Kind::FieldDay, push, fresh).await;
    }

    /// Starts from nothing: pages through everything the device may hold.
    async fn bootstrap(&mut self, shared: &Shared) {
        let started = Instant::now();
        self.cursor = Cursor::default();
        let (mut pages, mut records) = (0u32, 0u64);
        loop {
            pages += 1;
            let request = self.request(Vec::new());
            match shared
                .send(&self.token, &request, self.encoding, Some(Kind::Bootstrap))
                .await
            {
                Answer::Ok(r) => {
                    records += r.records.len() as u64;
                    self.absorb(&r);
                    if !r.more || pages >= 1000 {
                        break;
                    }
                }
                // The position is kept: the next sync carries on from it.
                _ => return,
            }
        }
        shared.stats.lock().unwrap().bootstraps.push((
            pages,
            records,
            started.elapsed().as_secs_f64(),
        ));
        self.publish(shared);
    }

    /// Syncs with pauses until `until`.
    async fn run(mut self, shared: Arc<Shared>, think: Duration, until: Instant) -> Device {
        // Devices start out of step, as phones do.
        let first = Duration::from_millis(self.rng.below(think.as_millis() as u64 + 1));
        tokio::time::sleep(first).await;
        while Instant::now() < until {
            let roll = self.rng.below(1000);
            if roll < BOOTSTRAP_PER_MILLE {
                self.bootstrap(&shared).await;
            } else if roll < BOOTSTRAP_PER_MILLE + FIELDDAY_PER_MILLE {
                self.field_day(&shared).await;
            } else if roll < BOOTSTRAP_PER_MILLE + FIELDDAY_PER_MILLE + SMALL_PER_MILLE {
                self.small(&shared).await;
            } else {
                self.pull(&shared).await;
            }
            let ms = think.as_millis() as u64;
            let pause = Duration::from_millis(ms / 2 + self.rng.below(ms + 1));
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(pause.min(left)).await;
        }
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Setting up: users, devices, seed data

/// Enrols a device through the API: (device token, actor).
async fn enrol(s: &ProcessServer, username: &str, name: &str) -> (String, ActorId) {
    let code = s.enrolment_code(username).await;
    let v = s
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code, "name": name, "app": "bothy-load/0.1"}),
        )
        .await
        .expect("device enrols");
    (
        v["device_token"].as_str().expect("token").to_owned(),
        ActorId::try_from(v["actor"].as_str().expect("actor")).expect("hex actor"),
    )
}

/// Pushes `docs` from the seeding device, `SEED_BATCH` records a request.
async fn push_all(shared: &Shared, token: &str, docs: Vec<(Uuid, RecordDoc)>) -> u64 {
    let mut stored = 0u64;
    let mut cursor = Cursor::default();
    let mut docs = docs;
    while !docs.is_empty() {
        let rest = docs.split_off(docs.len().min(SEED_BATCH));
        let push: Vec<RecordPush> = docs
            .iter_mut()
            .map(|(id, doc)| first_push(*id, doc))
            .collect();
        let n = push.len();
        let request = SyncRequest {
            cursor,
            pending: Some(n as u32),
            push,
            ..SyncRequest::default()
        };
        match shared
            .send(token, &request, protocol::ENCODING_BROTLI, None)
            .await
        {
            Answer::Ok(r) => {
                assert!(
                    r.unacked.is_empty(),
                    "seed records refused: {:?}",
                    r.reports.first()
                );
                stored += n as u64;
                cursor = r.cursor;
            }
            Answer::Status(st) => panic!("seeding answered {st}"),
            Answer::Failed => panic!("seeding failed"),
        }
        docs = rest;
    }
    stored
}

/// Seeds `days` field days of the 100-day workload into the team's projects
/// ([`Team::day_project`]); returns each project's participants.
async fn seed(
    s: &ProcessServer,
    shared: &Shared,
    team: &Team,
    days: usize,
) -> (Vec<Vec<Uuid>>, u64) {
    s.user("seeder", team.projects[0], "researcher").await;
    for slug in &team.projects[1..] {
        s.admin(
            &format!("/api/v1/admin/projects/{slug}/members"),
            json!({"username": "seeder", "role": "researcher"}),
        )
        .await;
    }
    let (token, actor) = enrol(s, "seeder", "seeder").await;
    let all = workload("fieldday-100.json");
    // Group records by day: a day starts at each session.
    let mut by_day: Vec<Vec<&Value>> = Vec::new();
    for r in &all {
        if r["kind"] == "session" || by_day.is_empty() {
            by_day.push(Vec::new());
        }
        by_day.last_mut().unwrap().push(r);
    }
    let mut rng = Rng(7);
    let mut people = vec![Vec::new(); team.projects.len()];
    let mut stored = 0;
    for (p, slug) in team.projects.iter().enumerate() {
        let records: Vec<&Value> = by_day
            .iter()
            .take(days)
            .enumerate()
            .filter(|(i, _)| team.day_project(*i) == p)
            .flat_map(|(_, d)| d.iter().copied())
            .collect();
        let mut map = HashMap::new();
        let mut docs = Vec::new();
        for pid in workload_participants(&records) {
            let id = Uuid::now_v7();
            map.insert(pid.clone(), id);
            people[p].push(id);
            docs.push((id, participant(&actor, slug, &pid, &mut rng)));
        }
        docs.extend(day_records(&actor, slug, &records, &map, true, true));
        stored += push_all(shared, &token, docs).await;
    }
    (people, stored)
}

// ---------------------------------------------------------------------------------------------
// One backend's ramp

fn now_rss(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn run(backend: Backend, o: &Options, bin: &std::path::Path) -> Option<Value> {
    let label = backend_label(backend);
    let Some(s) = ProcessServer::start(backend, bin).await else {
        println!("{label}: skipped");
        return None;
    };
    let pid = s.pid().expect("server runs");
    let tick = clock_ticks_per_second();
    let idle_start = now_rss(pid);
    let team = Team::new(o.projects);
    for slug in &team.projects {
        s.project(slug).await;
    }
    for &(name, p, role) in &team.users {
        s.user(name, team.projects[p], role).await;
    }
    // Below the server's 15 s header timeout, as the device library: an idle connection is
    // dropped before the server closes it, never reused as it closes.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
        .expect("HTTP client");
    let mut shared = Shared {
        http,
        sync_url: format!("{}/api/v1/sync", s.url()),
        people: Vec::new(),
        day: workload("fieldday-1.json"),
        stats: Mutex::new(Stats::default()),
        newest: Mutex::new(HashMap::new()),
    };
    let t = Instant::now();
    let (people, seeded) = seed(&s, &shared, &team, o.seed_days).await;
    shared.people = people;
    let seed_secs = t.elapsed().as_secs_f64();
    println!(
        "{label}: seeded {seeded} records ({} participants in {} projects) in {seed_secs:.1} s; \
         server RSS {:.1} MiB",
        shared.people.iter().map(Vec::len).sum::<usize>(),
        team.projects.len(),
        mib(now_rss(pid))
    );

    // Enrol every device of the largest step.
    let total = *o.devices.iter().max().unwrap();
    let t = Instant::now();
    let mut devices = Vec::with_capacity(total);
    for i in 0..total {
        let user = i % team.users.len();
        let (name, project, role) = team.users[user];
        let (token, actor) = enrol(&s, name, &format!("load-{i}")).await;
        let encoding = match o.encoding.as_str() {
            "deflate" => protocol::ENCODING_DEFLATE,
            "mixed" if i % 2 == 1 => protocol::ENCODING_DEFLATE,
            _ => protocol::ENCODING_BROTLI,
        };
        devices.push(Device {
            user,
            project,
            slug: team.projects[project],
            researcher: role == "researcher",
            token,
            actor,
            cursor: Cursor::default(),
            setup: None,
            encoding,
            own: VecDeque::new(),
            rng: Rng(0x5eed ^ (i as u64).wrapping_mul(0x9e37_79b9)),
            created: 0,
        });
    }
    println!(
        "{label}: enrolled {total} devices in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // One device per user bootstraps; the user's other devices start where it ended.
    let shared = Arc::new(shared);
    let mut first_bootstraps = Vec::new();
    for d in devices.iter_mut().take(team.users.len()) {
        d.bootstrap(&shared).await;
        let done = shared.stats.lock().unwrap().bootstraps.pop();
        let (pages, records, seconds) = done.expect("a user's first bootstrap finishes");
        first_bootstraps.push(json!({
            "user": team.users[d.user].0,
            "role": team.users[d.user].2,
            "pages": pages,
            "records": records,
            "seconds": seconds,
        }));
    }
    let said: Vec<String> = first_bootstraps
        .iter()
        .map(|b| {
            format!(
                "{} ({}) {} records in {} page(s), {:.2} s",
                b["user"].as_str().unwrap_or("?"),
                b["role"].as_str().unwrap_or("?"),
                b["records"],
                b["pages"],
                b["seconds"].as_f64().unwrap_or(f64::NAN)
            )
        })
        .collect();
    println!("{label}: first bootstraps: {}", said.join("; "));
    *shared.stats.lock().unwrap() = Stats::default();
    let after_setup = now_rss(pid);

    let mut steps = Vec::new();
    let mut first_after: Option<u64> = None;
    let mut last_after = 0;
    let mut running = 0usize;
    println!(
        "{label}: {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9} {:>9} {:>8} {:>8} {:>7} {:>7}",
        "devices",
        "syncs/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "503",
        "up KB",
        "down KB",
        "RSS pk",
        "RSS aft",
        "srv CPU",
        "db CPU"
    );
    for &n in &o.devices {
        // Devices joining now start from their user's newest position.
        {
            let newest = shared.newest.lock().unwrap();
            for d in devices.iter_mut().take(n).skip(running) {
                if let Some((c, setup)) = newest.get(&d.user) {
                    d.cursor = *c;
                    d.setup = setup.clone();
                }
            }
        }
        running = running.max(n);
        *shared.stats.lock().unwrap() = Stats::default();
        let peak_reset = reset_peak(pid);
        let cpu0 = proc_cpu_ticks(&pid.to_string());
        let self0 = proc_cpu_ticks("self");
        let pg0 = postgres_cpu_ticks();
        let (busy0, all0) = machine_ticks();
        let started = Instant::now();
        let until = started + Duration::from_secs(o.seconds);
        let think = Duration::from_millis(o.think_ms);
        let mut tasks = Vec::with_capacity(n);
        let rest = devices.split_off(n.min(devices.len()));
        for d in devices.drain(..) {
            tasks.push(tokio::spawn(d.run(shared.clone(), think, until)));
        }
        // Sample RSS while the step runs (the peak, if /proc refuses to reset VmHWM).
        let mut sampled_peak = 0;
        while Instant::now() < until {
            sampled_peak = sampled_peak.max(now_rss(pid));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        for t in tasks {
            devices.push(t.await.expect("device task"));
        }
        let wall = started.elapsed().as_secs_f64();
        devices.extend(rest);
        let cpu = (proc_cpu_ticks(&pid.to_string()) - cpu0) as f64 / tick / wall * 100.0;
        let own_cpu = (proc_cpu_ticks("self") - self0) as f64 / tick / wall * 100.0;
        let pg_cpu = if backend == Backend::Postgres {
            Some((postgres_cpu_ticks().saturating_sub(pg0)) as f64 / tick / wall * 100.0)
        } else {
            None
        };
        let (busy1, all1) = machine_ticks();
        let machine = (busy1 - busy0) as f64 / (all1 - all0).max(1) as f64 * 100.0;
        let hwm = proc_status_kib(pid, "VmHWM:");
        let peak = if peak_reset {
            hwm.max(sampled_peak)
        } else {
            sampled_peak
        };
        let after = now_rss(pid);
        first_after.get_or_insert(after);
        last_after = after;
        let stats = std::mem::take(&mut *shared.stats.lock().unwrap());
        let mut all: Vec<u32> = stats.latencies.iter().map(|(_, m)| *m).collect();
        all.sort_unstable();
        let mut by_kind: BTreeMap<Kind, Vec<u32>> = BTreeMap::new();
        for (k, m) in &stats.latencies {
            by_kind.entry(*k).or_default().push(*m);
        }
        let answered: u64 = stats.statuses.values().sum();
        let ok = stats.statuses.get(&200).copied().unwrap_or(0);
        let e503 = stats.statuses.get(&503).copied().unwrap_or(0);
        let errors = answered - ok + stats.transport;
        println!(
            "{label}: {n:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>6} {:>6} {:>9.0} {:>9.0} {:>8.1} {:>8.1} {:>6.0}% {:>7}",
            ok as f64 / wall,
            percentile(&all, 50.0),
            percentile(&all, 95.0),
            percentile(&all, 99.0),
            all.last().map_or(f64::NAN, |m| *m as f64 / 1000.0),
            errors,
            e503,
            stats.up as f64 / 1000.0,
            stats.down as f64 / 1000.0,
            mib(peak),
            mib(after),
            cpu,
            pg_cpu.map_or("-".to_owned(), |c| format!("{c:.0}%")),
        );
        for sample in &stats.samples {
            println!("{label}:   e.g. {sample}");
        }
        if !stats.reports.is_empty() {
            println!("{label}:   reports: {:?}", stats.reports);
        }
        steps.push(json!({
            "devices": n,
            "seconds": wall,
            "requests": answered + stats.transport,
            "syncs_ok": ok,
            "syncs_per_second": ok as f64 / wall,
            "latency": latency_json(all.clone()),
            "latency_by_kind": by_kind
                .into_iter()
                .map(|(k, v)| (k.name().to_owned(), latency_json(v)))
                .collect::<serde_json::Map<String, Value>>(),
            "errors": {
                "total": errors,
                "by_status": stats.statuses.iter()
                    .filter(|(st, _)| **st != 200)
                    .map(|(st, c)| (st.to_string(), json!(c)))
                    .collect::<serde_json::Map<String, Value>>(),
                "status_503": e503,
                "transport": stats.transport,
                "examples": stats.samples,
            },
            "bytes": {"up": stats.up, "down": stats.down},
            "records": {"pushed": stats.pushed, "acked": stats.acked, "pulled": stats.pulled},
            "reports": stats.reports,
            "bootstraps": stats.bootstraps.iter()
                .map(|(p, r, s)| json!({"pages": p, "records": r, "seconds": s}))
                .collect::<Vec<_>>(),
            "server_rss_mib": {"peak": mib(peak), "after": mib(after), "peak_from": if peak_reset { "VmHWM reset at the step's start, and samples every 250 ms" } else { "samples every 250 ms" }},
            "server_cpu_pct_of_one_core": cpu,
            "postgres_cpu_pct_of_one_core": pg_cpu,
            "load_generator_cpu_pct_of_one_core": own_cpu,
            "machine_busy_pct": machine,
        }));
        println!(
            "{label}:   load generator CPU {own_cpu:.0}% of a core; machine busy {machine:.0}% (both cores); records pushed {}, acknowledged {}, received {}; {} bootstrap(s)",
            stats.pushed,
            stats.acked,
            stats.pulled,
            stats.bootstraps.len()
        );
    }
    tokio::time::sleep(Duration::from_secs(o.idle)).await;
    let idle_after = now_rss(pid);
    let first = first_after.unwrap_or(0);
    println!(
        "{label}: memory flat? RSS after the first step {:.1} MiB, after the last {:.1} MiB, after {} s idle {:.1} MiB ({:+.1} MiB against the first step); idle before seeding {:.1} MiB, after setting up {:.1} MiB",
        mib(first),
        mib(last_after),
        o.idle,
        mib(idle_after),
        mib(idle_after) - mib(first),
        mib(idle_start),
        mib(after_setup),
    );
    let commit = std::process::Command::new("git")
        .args(["log", "-1", "--format=%h"])
        .current_dir(bothy_tests::workspace_root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let result = json!({
        "backend": backend_name(backend),
        "commit": commit,
        "server_binary": bin.display().to_string(),
        "options": {
            "devices": o.devices,
            "seconds_per_step": o.seconds,
            "think_ms": o.think_ms,
            "seed_days": o.seed_days,
            "encoding": o.encoding,
            "projects": o.projects,
            "users": team.users.len(),
            "mix_per_mille": {
                "bootstrap": BOOTSTRAP_PER_MILLE,
                "fieldday": FIELDDAY_PER_MILLE,
                "small": SMALL_PER_MILLE,
                "pull": 1000 - BOOTSTRAP_PER_MILLE - FIELDDAY_PER_MILLE - SMALL_PER_MILLE,
            },
        },
        "seed": {"records": seeded, "seconds": seed_secs},
        "first_bootstraps": first_bootstraps,
        "steps": steps,
        "memory": {
            "idle_before_seed_mib": mib(idle_start),
            "after_setup_mib": mib(after_setup),
            "after_first_step_mib": mib(first),
            "after_last_step_mib": mib(last_after),
            "idle_seconds": o.idle,
            "after_idle_mib": mib(idle_after),
        },
    });
    s.finish().await;
    Some(result)
}

// ---------------------------------------------------------------------------------------------
// Output

fn out_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| bothy_tests::workspace_root().join("target"))
        .join("bench-load")
}

/// A grouped bar chart of p50 and p99 latency against devices, for each backend whose results
/// are in `target/bench-load/`.
fn chart() -> String {
    let mut series = Vec::new();
    let mut by_devices: BTreeMap<u64, Vec<Option<f64>>> = BTreeMap::new();
    let mut commits = Vec::new();
    let mut runs = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let path = out_dir().join(format!("{}.json", backend_name(backend)));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        commits.push(format!(
            "{} at {}",
            backend_label(backend),
            v["commit"].as_str().unwrap_or("?")
        ));
        runs.push(v);
        series.push(format!("{} p50", backend_label(backend)));
        series.push(format!("{} p99", backend_label(backend)));
    }
    let n = series.len();
    for (r, v) in runs.iter().enumerate() {
        for step in v["steps"].as_array().into_iter().flatten() {
            let devices = step["devices"].as_u64().unwrap_or(0);
            let row = by_devices.entry(devices).or_insert_with(|| vec![None; n]);
            row[2 * r] = step["latency"]["p50_ms"].as_f64();
            row[2 * r + 1] = step["latency"]["p99_ms"].as_f64();
        }
    }
    use bothy_server::analysis::charts::Value as Bar;
    let groups: Vec<(String, Vec<Bar>)> = by_devices
        .into_iter()
        .map(|(d, row)| {
            let row = row
                .into_iter()
                .map(|v| v.map_or(Bar::Missing, Bar::Shown))
                .collect();
            (format!("{d} devices"), row)
        })
        .collect();
    bothy_server::analysis::charts::grouped_bar_chart(
        "Sync latency against devices syncing at once (ms)",
        &format!(
            "Median (p50) and 99th percentile (p99) latency of a sync request, in milliseconds, \
             with each number of devices syncing about once a second (ops/bench/load; {}).",
            commits.join(", ")
        ),
        &series,
        &groups,
        None,
        "ms",
    )
}

fn main() {
    let o = options();
    let bin = std::env::var_os("BOTHY_LOAD_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| bothy_tests::workspace_root().join("target"))
                .join("release/bothy-server")
        });
    assert!(
        bin.exists() || o.backends.is_empty(),
        "no server binary at {} (build it with `cargo build --release -p bothy-server`, or run \
         ops/bench/load)",
        bin.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        std::fs::create_dir_all(out_dir()).expect("output directory");
        for &backend in &o.backends {
            if let Some(result) = run(backend, &o, &bin).await {
                // The chart and `ops/bench/scale` read the two-project results.
                let name = if o.projects == PROJECTS.len() {
                    format!("{}.json", backend_name(backend))
                } else {
                    format!("{}-projects-{}.json", backend_name(backend), o.projects)
                };
                let path = out_dir().join(name);
                std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap())
                    .expect("results written");
                println!("{}: results in {}", backend_label(backend), path.display());
            }
        }
    });
    if o.chart {
        let path = bothy_tests::workspace_root().join("docs/load-latency.svg");
        std::fs::write(&path, chart() + "\n").expect("chart written");
        println!("chart in {}", path.display());
    }
}
