//! What a bootstrap costs the server: records sent as their only change or as saved documents.
//!
//! Run with `cargo bench -p bothy-tests --bench bootstrap_pages` (options after `--`:
//! `--records N` to measure N records instead of 1,800 and 100,000; `--backend
//! sqlite|postgres|both`, by default SQLite, and PostgreSQL too when `BOTHY_TEST_POSTGRES_URL`
//! is set). For each count, a fresh database is seeded straight through the server's store
//! functions with what sync stores for such records (documents saved uncompressed, one change-log
//! row per change): 10% participants, 2% sessions with attendance marked in three changes, 5%
//! stories of about 600 bytes, the rest WEMWBS responses. Then:
//!
//! 1. a new device's bootstrap through the sync endpoint, as raw requests (no device store):
//!    the server's answer time summed over the pages, the requests, the body bytes, and how many
//!    records came as a change or as a document;
//! 2. the bootstrap page statement alone, over every page: the statement that reads documents
//!    only (as before records were sent as changes) against the one that also reads each
//!    record's change-log row when it has exactly one;
//! 3. the same pages encoded (CBOR and Brotli, as the server answers) with every record as its
//!    saved document against as sent: bytes and time.

use bothy_server::storage::records::{self, LogEntry};
use bothy_sync_core::automerge::ActorId;
use bothy_sync_core::protocol::{
    self, Cursor, ENCODING_BROTLI, PROTOCOL_VERSION, PullData, SyncRequest, SyncResponse,
};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use bothy_tests::{Backend, Harness};
use sqlx::Row;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

const P: &str = "bootstrap-pages";
/// Records written per seeding transaction.
const SEED_BATCH: usize = 5_000;

fn options() -> (Vec<usize>, Vec<Backend>) {
    let mut counts = vec![1_800, 100_000];
    let mut backends = vec![Backend::Sqlite];
    if std::env::var("BOTHY_TEST_POSTGRES_URL").is_ok() {
        backends.push(Backend::Postgres);
    }
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => {
                counts = vec![
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .expect("--records N"),
                ];
            }
            "--backend" => {
                backends = match args.next().as_deref() {
                    Some("sqlite") => vec![Backend::Sqlite],
                    Some("postgres") => vec![Backend::Postgres],
                    Some("both") => vec![Backend::Sqlite, Backend::Postgres],
                    other => panic!("--backend sqlite|postgres|both, not {other:?}"),
                }
            }
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    (counts, backends)
}

/// The `n`th seeded record.
fn make_record(n: usize, actor: &ActorId, participants: &[Uuid]) -> (RecordKind, RecordDoc) {
    let now = 1_790_000_000 + n as i64;
    let participant = participants[n % participants.len()].to_string();
    let create = |kind, fields: &[(String, FieldValue)]| {
        let refs: Vec<(&str, FieldValue)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        (
            kind,
            RecordDoc::create(actor.clone(), kind, P, &refs, now).expect("a valid record"),
        )
    };
    match n % 100 {
        0..=9 => create(
            RecordKind::Participant,
            &[
                ("code".into(), format!("P-{n:06}").into()),
                (
                    "age_band".into(),
                    ["16-24", "25-34", "45-54", "65-74"][n % 4].into(),
                ),
                ("consent.data_use".into(), true.into()),
            ],
        ),
        10 | 11 => {
            let mut fields: Vec<(String, FieldValue)> = vec![
                ("site".into(), "ullapool-hall".into()),
                ("activity".into(), "heritage-crafts".into()),
                ("activity_type".into(), "heritage".into()),
                (
                    "start".into(),
                    format!("2026-{:02}-{:02}T10:00:00Z", 1 + n % 12, 1 + n % 28).into(),
                ),
            ];
            for k in 0..10 {
                let p = participants[(n + k) % participants.len()];
                fields.push((format!("attendance.{p}"), "present".into()));
            }
            let (kind, mut doc) = create(RecordKind::Session, &fields);
            for (k, mark) in [(10, "present"), (11, "left_early")] {
                let p = participants[(n + k) % participants.len()];
                doc.edit(now + k as i64, |ed| {
                    ed.set(&format!("attendance.{p}"), mark)
                })
                .expect("an attendance mark");
            }
            (kind, doc)
        }
        12..=16 => create(
            RecordKind::Story,
            &[
                ("title".into(), format!("Story {n}").into()),
                (
                    "body".into(),
                    format!(
                        "Story {n}. We walked along the shore and talked about the old ferry. {}",
                        "The tide was out and the light was long over the water. ".repeat(8)
                    )
                    .into(),
                ),
                ("author".into(), "bench".into()),
                ("consent_scope".into(), "project".into()),
                ("participant".into(), participant.into()),
            ],
        ),
        _ => {
            let mut fields: Vec<(String, FieldValue)> = vec![
                ("participant".into(), participant.into()),
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
            create(RecordKind::Wellbeing, &fields)
        }
    }
}

/// Writes `records` records as sync stores them: documents and their change-log rows.
async fn seed(db: &bothy_server::storage::Db, records: usize) -> Duration {
    let started = Instant::now();
    let actor = ActorId::random();
    let participants: Vec<Uuid> = (0..1_000).map(|_| Uuid::now_v7()).collect();
    let mut done = 0;
    while done < records {
        let n = SEED_BATCH.min(records - done);
        let mut tx = db.begin_write().await.expect("a transaction");
        let mut log = Vec::new();
        for i in done..done + n {
            let (kind, mut doc) = make_record(i, &actor, &participants);
            let id = Uuid::now_v7().to_string();
            records::save_record(
                &mut tx,
                &id,
                P,
                kind.as_str(),
                doc.automerge().save_nocompress(),
                1_790_000_000,
            )
            .await
            .expect("a record");
            for c in doc.automerge().get_changes(&[]) {
                log.push(LogEntry::of(&id, P, None, &c));
            }
        }
        records::append_log(&mut tx, log, 1_790_000_000)
            .await
            .expect("log rows");
        tx.commit().await.expect("commit");
        done += n;
    }
    started.elapsed()
}

/// A new device's bootstrap as raw requests: the answers, and the time spent waiting for them.
async fn bootstrap(h: &Harness, token: &str) -> (Vec<SyncResponse>, Duration, usize) {
    let mut cursor = Cursor::default();
    let mut pages = Vec::new();
    let mut waited = Duration::ZERO;
    let mut bytes = 0;
    loop {
        let request = SyncRequest {
            cursor,
            ..SyncRequest::default()
        };
        let body = protocol::encode(&request);
        let started = Instant::now();
        let (status, answer) = h.post_sync(token, body).await;
        waited += started.elapsed();
        assert!(status.is_success(), "sync answered {status}");
        bytes += answer.len();
        let response: SyncResponse = protocol::decode(&answer).expect("an answer").0;
        cursor = response.cursor;
        let more = response.more;
        pages.push(response);
        if !more {
            return (pages, waited, bytes);
        }
    }
}

/// Runs a bootstrap page statement over every page (20,000 records each): its time.
async fn statement_time(db: &bothy_server::storage::Db, sql: &'static str) -> Duration {
    let started = Instant::now();
    let mut after = String::new();
    loop {
        let rows = sqlx::query(sql)
            .bind(&after)
            .bind(20_000i64)
            .fetch_all(&db.pool)
            .await
            .expect("the statement runs");
        let Some(last) = rows.last() else {
            return started.elapsed();
        };
        after = last.get("id");
    }
}

const DOCUMENTS_ONLY: &str = "SELECT id, project, kind, doc FROM records \
    WHERE project = 'bootstrap-pages' AND id > $1 ORDER BY id LIMIT $2";
const WITH_ONLY_CHANGE: &str = "SELECT records.id, records.project, records.kind, records.doc, \
        c.hash AS only_hash, c.change AS only_change \
    FROM records LEFT JOIN change_log c ON c.record_id = records.id \
      AND NOT EXISTS (SELECT 1 FROM change_log o \
                      WHERE o.record_id = c.record_id AND o.seq <> c.seq) \
    WHERE records.project = 'bootstrap-pages' AND records.id > $1 ORDER BY records.id LIMIT $2";

async fn measure(backend: Backend, records: usize) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let label = format!("{backend:?}");
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    let db = bothy_server::storage::Db::connect(&h.db.url)
        .await
        .expect("the database");
    let seeded = seed(&db, records).await;
    println!(
        "[{label}] {records} records seeded in {:.1} s",
        seeded.as_secs_f64()
    );
    let (token, _) = h.raw_device("ruth").await;
    let (pages, waited, bytes) = bootstrap(&h, &token).await;
    let sent: usize = pages.iter().map(|p| p.records.len()).sum();
    let changes = pages
        .iter()
        .flat_map(|p| &p.records)
        .filter(|r| matches!(r.data, PullData::Changes(_)))
        .count();
    assert_eq!(sent, records, "every record sent once");
    println!(
        "[{label}] {records} records, new-device bootstrap: {} request(s), server answered in \
         {:.2} s in all, {bytes} B of bodies; {changes} records as their change, {} as documents",
        pages.len(),
        waited.as_secs_f64(),
        sent - changes
    );

    let mut old = Duration::ZERO;
    let mut new = Duration::ZERO;
    for _ in 0..3 {
        old += statement_time(&db, DOCUMENTS_ONLY).await;
        new += statement_time(&db, WITH_ONLY_CHANGE).await;
    }
    println!(
        "[{label}] {records} records, the page statement over every page (mean of 3): documents \
         only {:.3} s; with the change-log row {:.3} s",
        old.as_secs_f64() / 3.0,
        new.as_secs_f64() / 3.0
    );

    let docs: HashMap<Uuid, Vec<u8>> = sqlx::query("SELECT id, doc FROM records")
        .fetch_all(&db.pool)
        .await
        .expect("documents")
        .iter()
        .map(|r| {
            (
                Uuid::parse_str(&r.get::<String, _>("id")).expect("an id"),
                r.get("doc"),
            )
        })
        .collect();
    let as_documents: Vec<SyncResponse> = pages
        .iter()
        .map(|p| {
            let mut p = p.clone();
            for r in &mut p.records {
                r.data = PullData::Snapshot(serde_bytes::ByteBuf::from(docs[&r.id].clone()));
            }
            p
        })
        .collect();
    let encode = |pages: &[SyncResponse]| {
        let started = Instant::now();
        let bytes: usize = pages
            .iter()
            .map(|p| protocol::encode_response(p, PROTOCOL_VERSION, ENCODING_BROTLI).len())
            .sum();
        (bytes, started.elapsed())
    };
    let (doc_bytes, doc_time) = encode(&as_documents);
    let (sent_bytes, sent_time) = encode(&pages);
    println!(
        "[{label}] {records} records, the pages encoded: as documents {doc_bytes} B in {:.2} s; \
         as sent {sent_bytes} B in {:.2} s ({:.0}%)",
        doc_time.as_secs_f64(),
        sent_time.as_secs_f64(),
        100.0 * sent_bytes as f64 / doc_bytes as f64
    );
    h.finish().await;
}

fn main() {
    let (counts, backends) = options();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    for backend in backends {
        for &n in &counts {
            rt.block_on(measure(backend, n));
        }
    }
}
