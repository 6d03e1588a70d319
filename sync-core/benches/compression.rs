//! Sync body compression: bytes and CPU time of each compression setting, by body size.
//!
//! Run with `cargo bench -p bothy-sync-core --bench compression`. It builds realistic sync
//! bodies from the shared field-day workload (`ops/bench/data/fieldday-*.json`) as Automerge
//! records made with [`RecordDoc`], the way a phone captures them (a session's attendance
//! marks one change at a time), then compresses the CBOR of each body with every Brotli
//! quality (0..=11, window 22, and smaller windows for the qualities that matter) and every
//! DEFLATE level (1..=9), and prints, for each, the compressed bytes, the time of one
//! compression (the best of several runs, on one thread) and the marginal cost: microseconds
//! spent per kilobyte saved against the next cheaper setting of the same encoding that is not
//! worse on both counts. Settings that are slower and no smaller than a cheaper one are marked
//! "dominated". Finally it prints what the reference encoder does for each body, as a request
//! ([`protocol::encode_with`]) and as a server's response ([`protocol::encode_response`]).
//!
//! The bodies:
//!
//! - an empty response (nothing to pull: the answer to most syncs);
//! - the answer to a push that names one record to resend, with its report;
//! - one field day's push (18 records: a session with 15 attendance marks, 15 WEMWBS responses,
//!   2 stories of about 2 KB), what a phone sends;
//! - log pages of 1, 5, 50, 500 and 5,000 records' changes, what the server fans out to the
//!   other devices of a project (one questionnaire made elsewhere since the last sync, up to
//!   a page after days offline);
//! - bootstrap pages of saved documents: one field day with its 15 participants, and 100 field
//!   days with their participants.
//!
//! `BOTHY_COMPRESSION_BODIES=empty,push` runs only the named bodies (`empty`, `ack`, `push`, `log1`,
//! `log5`, `log50`, `log500`, `log5000`, `boot1`, `boot100`). `BOTHY_COMPRESSION_DUMP=DIR` also writes each
//! body's CBOR to `DIR/<name>.cbor`, to try other compressors on the same bytes.

use bothy_sync_core::automerge::ActorId;
use bothy_sync_core::protocol::{
    self, Cursor, PullData, RecordPull, RecordPush, RecordReport, ReportKind, SyncRequest,
    SyncResponse,
};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use flate2::Compression;
use flate2::read::DeflateEncoder;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use uuid::Uuid;

const PROJECT: &str = "highland-heritage";
/// 2026-11-01T10:00:00Z.
const T0: i64 = 1_793_527_200;

fn load(name: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ops/bench/data/");
    let text = std::fs::read_to_string(format!("{path}{name}")).expect("workload file");
    serde_json::from_str(&text).expect("workload JSON")
}

/// A record as a device holds it.
struct Made {
    id: Uuid,
    kind: RecordKind,
    doc: RecordDoc,
}

impl Made {
    fn changes(&mut self) -> Vec<serde_bytes::ByteBuf> {
        self.doc
            .automerge()
            .get_changes(&[])
            .iter()
            .map(|c| serde_bytes::ByteBuf::from(c.raw_bytes().to_vec()))
            .collect()
    }

    fn snapshot(&mut self) -> serde_bytes::ByteBuf {
        serde_bytes::ByteBuf::from(self.doc.automerge().save_nocompress())
    }

    /// What a device pushes for a record the server has never acknowledged: its changes, or
    /// its saved document when that is smaller (the device library's rule).
    fn push(&mut self) -> RecordPush {
        let changes = self.changes();
        let document = self.snapshot();
        if changes.len() > 1 && document.len() < changes.iter().map(|c| c.len()).sum::<usize>() {
            RecordPush {
                id: self.id,
                changes: Vec::new(),
                document: Some(document),
            }
        } else {
            RecordPush {
                id: self.id,
                changes,
                document: None,
            }
        }
    }

    fn pull(&mut self, data: PullData) -> RecordPull {
        RecordPull {
            id: self.id,
            kind: self.kind,
            project: PROJECT.into(),
            data,
        }
    }
}

fn actor() -> ActorId {
    ActorId::from(*Uuid::new_v4().as_bytes())
}

fn create(actor: &ActorId, kind: RecordKind, fields: &[(String, FieldValue)], at: i64) -> Made {
    let refs: Vec<(&str, FieldValue)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    Made {
        id: Uuid::now_v7(),
        kind,
        doc: RecordDoc::create(actor.clone(), kind, PROJECT, &refs, at).expect("valid record"),
    }
}

/// The participants a workload refers to, registered on an earlier day by their own device.
fn participants(records: &[Value]) -> (BTreeMap<String, Uuid>, Vec<Made>) {
    let mut ids = std::collections::BTreeSet::new();
    for r in records {
        if let Some(a) = r["attendance"].as_object() {
            ids.extend(a.keys().cloned());
        }
        if let Some(p) = r["participant"].as_str() {
            ids.insert(p.to_owned());
        }
    }
    let who = actor();
    let mut map = BTreeMap::new();
    let mut made = Vec::new();
    for (n, pid) in ids.into_iter().enumerate() {
        let fields: Vec<(String, FieldValue)> = vec![
            ("code".into(), format!("J2A5-{:04}", n + 1).into()),
            ("consent.data_use".into(), true.into()),
            ("age_band".into(), "65-74".into()),
        ];
        let p = create(&who, RecordKind::Participant, &fields, T0 - 86_400);
        map.insert(pid, p.id);
        made.push(p);
    }
    (map, made)
}

/// Captures workload records on one device as a researcher would, day by day (a day starts at
/// each session), so that the records come out in the order they were made.
fn capture(records: &[Value], people: &BTreeMap<String, Uuid>) -> Vec<Made> {
    let who = actor();
    let mut clock = T0;
    let mut out = Vec::new();
    let mut day = Vec::new();
    for r in records {
        if r["kind"] == "session" && !day.is_empty() {
            out.extend(capture_day(&who, &mut clock, &day, people));
            day.clear();
        }
        day.push(r.clone());
    }
    out.extend(capture_day(&who, &mut clock, &day, people));
    out
}

fn capture_day(
    who: &ActorId,
    clock: &mut i64,
    records: &[Value],
    people: &BTreeMap<String, Uuid>,
) -> Vec<Made> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut sessions: BTreeMap<String, Uuid> = BTreeMap::new();
    let mut out = Vec::new();
    for r in records.iter().filter(|r| r["kind"] == "session") {
        let mut fields: Vec<(String, FieldValue)> = [
            "site",
            "activity",
            "activity_type",
            "start",
            "end",
            "location",
            "notes",
        ]
        .iter()
        .map(|k| ((*k).to_owned(), s(&r[*k]).into()))
        .collect();
        fields.push((
            "unregistered_attendees".into(),
            FieldValue::Int(r["unregistered_attendees"].as_i64().unwrap_or(0)),
        ));
        for f in r["facilitators"].as_array().into_iter().flatten() {
            fields.push((format!("facilitators.{}", s(f)), true.into()));
        }
        let mut session = create(who, RecordKind::Session, &fields, *clock);
        for (pid, mark) in r["attendance"].as_object().into_iter().flatten() {
            *clock += 20;
            let path = format!("attendance.{}", people[pid]);
            let mark = s(mark);
            session
                .doc
                .edit(*clock, |e| e.set(&path, mark.as_str()))
                .expect("valid mark");
        }
        sessions.insert(s(&r["id"]), session.id);
        out.push(session);
    }
    for r in records.iter().filter(|r| r["kind"] == "wellbeing") {
        *clock += 60;
        let mut fields: Vec<(String, FieldValue)> = vec![
            (
                "participant".into(),
                people[&s(&r["participant"])].to_string().into(),
            ),
            ("instrument".into(), s(&r["instrument"]).into()),
            ("timepoint".into(), s(&r["timepoint"]).into()),
            ("date".into(), s(&r["date"]).into()),
        ];
        if let Some(sid) = sessions.get(&s(&r["session"])) {
            fields.push(("session".into(), sid.to_string().into()));
        }
        for (i, v) in r["items"].as_array().into_iter().flatten().enumerate() {
            fields.push((format!("items.{}", i + 1), v.as_i64().unwrap_or(1).into()));
        }
        out.push(create(who, RecordKind::Wellbeing, &fields, *clock));
    }
    for r in records.iter().filter(|r| r["kind"] == "story") {
        *clock += 300;
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
        out.push(create(who, RecordKind::Story, &fields, *clock));
    }
    out
}

fn cursor(seq: u64) -> Cursor {
    Cursor {
        seq,
        snapshot: None,
        scope: protocol::scope_of(&[PROJECT.to_owned()]),
        generation: Some(Uuid::new_v4()),
    }
}

fn response(seq: u64, records: Vec<RecordPull>) -> SyncResponse {
    SyncResponse {
        records,
        cursor: cursor(seq),
        more: false,
        server_time: T0 + 7200,
        ..SyncResponse::default()
    }
}

fn cbor<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(msg, &mut out).unwrap();
    out
}

/// One body to measure: its CBOR, and the reference encoder's request and response encodings.
struct Body {
    key: &'static str,
    what: String,
    cbor: Vec<u8>,
    request: Box<dyn Fn(u8) -> Vec<u8>>,
    response: Box<dyn Fn(u8) -> Vec<u8>>,
}

fn body<T: Serialize + 'static>(key: &'static str, what: String, msg: T) -> Body {
    let msg = std::rc::Rc::new(msg);
    let m = msg.clone();
    Body {
        key,
        what,
        cbor: cbor(&*msg),
        request: Box::new(move |e| protocol::encode_with(&*m, protocol::PROTOCOL_VERSION, e)),
        response: Box::new(move |e| {
            protocol::encode_response(&*msg, protocol::PROTOCOL_VERSION, e)
        }),
    }
}

fn bodies(wanted: &dyn Fn(&str) -> bool) -> Vec<Body> {
    let mut out = Vec::new();
    if wanted("empty") {
        out.push(body(
            "empty",
            "empty response".into(),
            response(48_213, Vec::new()),
        ));
    }
    if wanted("ack") {
        let refused = Uuid::now_v7();
        let mut answer = response(48_231, Vec::new());
        answer.unacked = vec![refused];
        answer.reports = vec![RecordReport {
            id: refused,
            kind: ReportKind::Resend,
            code: "missing_dependencies".into(),
            field: None,
            message: "The server lacks earlier changes to this record: it will be sent whole \
                      at the next sync."
                .into(),
        }];
        out.push(body(
            "ack",
            "answer to a push, one record to resend".into(),
            answer,
        ));
    }
    let day = load("fieldday-1.json");
    let (people, mut day_people) = participants(&day);
    let mut day_records = capture(&day, &people);
    if wanted("push") {
        let request = SyncRequest {
            cursor: cursor(48_213),
            push: day_records.iter_mut().map(Made::push).collect(),
            app: None,
            pending: Some(day_records.len() as u32),
            setup: Some("5f1c0a7e9b2d4c68".into()),
        };
        out.push(body("push", "field day push (18 records)".into(), request));
    }
    if wanted("boot1") {
        let records = day_people
            .iter_mut()
            .chain(day_records.iter_mut())
            .map(|m| {
                let d = PullData::Snapshot(m.snapshot());
                m.pull(d)
            })
            .collect();
        out.push(body(
            "boot1",
            "bootstrap, one field day (33 documents)".into(),
            response(48_213, records),
        ));
    }
    let logs: Vec<usize> = [1, 5, 50, 500, 5_000]
        .into_iter()
        .filter(|n| wanted(&format!("log{n}")))
        .collect();
    if logs.is_empty() && !wanted("boot100") {
        return out;
    }
    let days = load("fieldday-100.json");
    let (people, mut days_people) = participants(&days);
    let mut days_records = capture(&days, &people);
    if !logs.is_empty() {
        // The changes of the 100 days, in capture order, then those of 100 more days captured
        // on another phone, so that 5,000 records are distinct.
        let mut more = capture(&days, &people);
        let all: Vec<RecordPull> = days_records
            .iter_mut()
            .chain(more.iter_mut())
            .chain(days_people.iter_mut())
            .map(|m| {
                let d = PullData::Changes(m.changes());
                m.pull(d)
            })
            .collect();
        for n in logs {
            let key = match n {
                1 => "log1",
                5 => "log5",
                50 => "log50",
                500 => "log500",
                _ => "log5000",
            };
            // One record: a questionnaire (one change), the commonest thing to pull.
            let skip = usize::from(n == 1);
            let records: Vec<RecordPull> = all.iter().skip(skip).take(n).cloned().collect();
            out.push(body(
                key,
                format!("log page, {} records' changes", records.len()),
                response(48_213 + n as u64, records),
            ));
        }
    }
    if wanted("boot100") {
        let records: Vec<RecordPull> = days_people
            .iter_mut()
            .chain(days_records.iter_mut())
            .map(|m| {
                let d = PullData::Snapshot(m.snapshot());
                m.pull(d)
            })
            .collect();
        out.push(body(
            "boot100",
            format!("bootstrap, 100 field days ({} documents)", records.len()),
            response(48_213, records),
        ));
    }
    out
}

fn brotli(cbor: &[u8], quality: u32, lgwin: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(cbor.len() / 2);
    let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, lgwin);
    w.write_all(cbor).unwrap();
    drop(w);
    out
}

fn deflate(cbor: &[u8], level: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(cbor.len() / 2);
    DeflateEncoder::new(cbor, Compression::new(level))
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The bytes `f` makes and the time of one call: the best of several runs (at least 3, and
/// about a quarter of a second in all, or one run of anything slower than a second and a half).
fn measure(f: &dyn Fn() -> Vec<u8>) -> (usize, Duration) {
    let start = Instant::now();
    let bytes = f().len();
    let mut best = start.elapsed();
    let mut runs = 1;
    let budget = Duration::from_millis(250);
    let started = Instant::now();
    while best < Duration::from_millis(1500) && (runs < 3 || started.elapsed() < budget) {
        let t = Instant::now();
        let again = f().len();
        best = best.min(t.elapsed());
        assert_eq!(again, bytes, "compression is deterministic");
        runs += 1;
    }
    (bytes, best)
}

struct Row {
    setting: String,
    bytes: usize,
    micros: f64,
}

/// Prints one encoding's settings, cheapest first, with the marginal cost of each.
fn table(name: &str, cbor_len: usize, mut rows: Vec<Row>) {
    rows.sort_by(|a, b| a.micros.total_cmp(&b.micros));
    println!("  {name}: setting, bytes (% of CBOR), µs, µs per KB saved vs. the next cheaper");
    let mut frontier: Option<(usize, f64)> = None;
    for r in &rows {
        let pct = 100.0 * r.bytes as f64 / cbor_len.max(1) as f64;
        let marginal = match frontier {
            None => "first".to_owned(),
            Some((bytes, _)) if r.bytes >= bytes => "dominated".to_owned(),
            Some((bytes, micros)) => {
                let saved_kb = (bytes - r.bytes) as f64 / 1000.0;
                format!("{:.0}", (r.micros - micros) / saved_kb)
            }
        };
        if frontier.is_none_or(|(bytes, _)| r.bytes < bytes) {
            frontier = Some((r.bytes, r.micros));
        }
        println!(
            "    {:<10} {:>10} ({:>5.1}%) {:>12.1} {:>12}",
            r.setting, r.bytes, pct, r.micros, marginal
        );
    }
}

fn main() {
    let only = std::env::var("BOTHY_COMPRESSION_BODIES").ok();
    let wanted = |key: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|k| k.trim() == key))
    };
    // `cargo bench` passes `--bench`; anything else is ignored.
    let bodies = bodies(&wanted);
    let dump = std::env::var_os("BOTHY_COMPRESSION_DUMP").map(std::path::PathBuf::from);
    for b in &bodies {
        let cbor = &b.cbor;
        if let Some(dir) = &dump {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(format!("{}.cbor", b.key)), cbor).unwrap();
        }
        println!("\n{} [{}]: {} B of CBOR", b.what, b.key, cbor.len());
        let mut rows = Vec::new();
        for q in 0..=11 {
            let (bytes, t) = measure(&|| brotli(cbor, q, 22));
            rows.push(Row {
                setting: format!("q{q}/w22"),
                bytes,
                micros: t.as_secs_f64() * 1e6,
            });
        }
        for q in [4, 5, 6, 9, 11] {
            for w in [16, 18, 20] {
                let (bytes, t) = measure(&|| brotli(cbor, q, w));
                rows.push(Row {
                    setting: format!("q{q}/w{w}"),
                    bytes,
                    micros: t.as_secs_f64() * 1e6,
                });
            }
        }
        table("Brotli", cbor.len(), rows);
        let mut rows = Vec::new();
        for level in 1..=9 {
            let (bytes, t) = measure(&|| deflate(cbor, level));
            rows.push(Row {
                setting: format!("level {level}"),
                bytes,
                micros: t.as_secs_f64() * 1e6,
            });
        }
        table("DEFLATE", cbor.len(), rows);
        println!("  the reference encoder (header included), bytes and µs:");
        for (name, e) in [
            ("Brotli", protocol::ENCODING_BROTLI),
            ("DEFLATE", protocol::ENCODING_DEFLATE),
        ] {
            let (rq, rq_t) = measure(&|| (b.request)(e));
            let (rs, rs_t) = measure(&|| (b.response)(e));
            println!(
                "    {name:<8} as a request {rq:>10} B {:>12.1} µs; as a response {rs:>10} B {:>12.1} µs",
                rq_t.as_secs_f64() * 1e6,
                rs_t.as_secs_f64() * 1e6
            );
        }
    }
}
