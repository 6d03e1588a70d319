//! Quarantine cannot be used to fill the server's disk: junk pushed by a device that may not
//! write is refused and kept nowhere; junk from a writing device leaves only a short compressed
//! sample; each device's quarantine has a quota, reported clearly when reached while the valid
//! records of the same sync are still stored; a decompression bomb is refused before it
//! expands; and a server admin sees every entry, including those that name no project.

use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, AutoCommit, ROOT};
use bothy_sync_core::protocol::{RecordPush, RecordReport, ReportKind, SyncRequest, SyncResponse};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_bytes::ByteBuf;
use serde_json::{Value, json};
use uuid::Uuid;

on_both_backends!(quarantine_cannot_fill_the_disk);

const NOW: i64 = 1_793_000_000;
/// The quota the scenario's server runs with.
const MAX_ENTRIES: u32 = 3;
const MAX_BYTES: u64 = 64 * 1024;
/// Junk that compresses to almost nothing on the wire and would be 32 MiB on disk.
const JUNK_BYTES: usize = 32 * 1024 * 1024;

fn junk() -> ByteBuf {
    ByteBuf::from(b"junk".repeat(JUNK_BYTES / 4))
}

/// A push of a whole "document" that is not Automerge at all.
fn junk_document(id: Uuid) -> RecordPush {
    RecordPush {
        id,
        changes: vec![],
        document: Some(junk()),
    }
}

/// Bytes that do not compress (a little generator, so the scenario needs no random crate).
fn noise(len: usize, mut seed: u64) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.push_str(&format!("{seed:016x}"));
    }
    out.truncate(len);
    out
}

fn valid_push(actor: &ActorId) -> (Uuid, RecordPush) {
    let id = Uuid::now_v7();
    let participant = Uuid::now_v7().to_string();
    let mut doc = bothy_tests::wemwbs_doc(actor, "p", &participant, NOW);
    (id, bothy_tests::push_history(id, &mut doc))
}

async fn sync(h: &Harness, token: &str, push: Vec<RecordPush>) -> SyncResponse {
    h.sync_raw(
        token,
        &SyncRequest {
            push,
            ..SyncRequest::default()
        },
    )
    .await
}

fn report_for(r: &SyncResponse, id: Uuid) -> &RecordReport {
    let found: Vec<&RecordReport> = r.reports.iter().filter(|x| x.id == id).collect();
    assert_eq!(found.len(), 1, "one report for {id}: {:?}", r.reports);
    assert_eq!(found[0].kind, ReportKind::Refused, "{:?}", found[0]);
    assert!(r.unacked.contains(&id), "{id} acknowledged");
    found[0]
}

async fn entries(h: &Harness) -> Vec<serde_json::Map<String, Value>> {
    h.sql(
        "SELECT record_id, project, code, CAST(COALESCE(LENGTH(changes), 0) AS BIGINT) AS kept \
         FROM quarantine ORDER BY id",
        &[],
    )
    .await
}

/// What the database occupies: the SQLite file and its write-ahead log, or the quarantine
/// table with its indexes and out-of-line storage on PostgreSQL.
async fn footprint(h: &Harness, backend: Backend) -> i64 {
    match backend {
        Backend::Sqlite => ["bothy.db", "bothy.db-wal"]
            .iter()
            .map(|f| std::fs::metadata(h.db.dir.path().join(f)).map_or(0, |m| m.len() as i64))
            .sum(),
        Backend::Postgres => h
            .sql(
                "SELECT CAST(pg_total_relation_size('quarantine') AS BIGINT) AS n",
                &[],
            )
            .await[0]["n"]
            .as_i64()
            .unwrap(),
    }
}

async fn quarantine_cannot_fill_the_disk(backend: Backend) {
    let Some(h) = Harness::start_with(backend, |cfg| {
        cfg.quarantine_max_entries_per_device = MAX_ENTRIES;
        cfg.quarantine_max_bytes_per_device = MAX_BYTES;
    })
    .await
    else {
        return;
    };
    h.project("p").await;
    h.user("ana", "p", "analyst").await;
    h.user("rory", "p", "researcher").await;
    let (ana, ana_actor) = h.raw_device("ana").await;
    let (rory, rory_actor) = h.raw_device("rory").await;
    let before = footprint(&h, backend).await;

    // An analyst's device pushes junk, and a real record it may not write: both are refused
    // with a report saying nothing was kept, and nothing is stored.
    let junk_id = Uuid::now_v7();
    let (record_id, record) = valid_push(&ana_actor);
    let r = sync(&h, &ana, vec![junk_document(junk_id), record]).await;
    let junk_report = report_for(&r, junk_id);
    assert_eq!(junk_report.code, "malformed");
    assert!(
        junk_report.message.contains("kept nothing"),
        "{junk_report:?}"
    );
    let refused = report_for(&r, record_id);
    assert_eq!(refused.code, "not_allowed");
    assert!(refused.message.contains("kept nothing"), "{refused:?}");
    assert!(entries(&h).await.is_empty(), "{:?}", entries(&h).await);

    // A researcher's junk leaves only a compressed sample of its start, in an entry with no
    // project; the valid record pushed with it is stored.
    let first = Uuid::now_v7();
    let (good_id, good) = valid_push(&rory_actor);
    let r = sync(&h, &rory, vec![junk_document(first), good]).await;
    let sample_report = report_for(&r, first);
    assert!(
        sample_report.message.contains("first 4096 bytes"),
        "{sample_report:?}"
    );
    assert!(!r.unacked.contains(&good_id));
    assert!(h.record("p", good_id).await["record"].is_object());
    let kept = entries(&h).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["project"], Value::Null);
    let sample_size = kept[0]["kept"].as_i64().unwrap();
    assert!(
        sample_size > 0 && sample_size < 4096 / 4,
        "the 4 KiB sample is kept compressed: {sample_size} bytes"
    );

    // A decompression bomb: a real Automerge document whose compressed columns inflate past
    // the bound. Refused without being expanded; only its sample is kept.
    let bomb_id = Uuid::now_v7();
    let mut bomb = AutoCommit::new();
    bomb.put(ROOT, "notes", "a".repeat(40 * 1024 * 1024))
        .unwrap();
    let bomb_bytes = bomb.save();
    drop(bomb);
    assert!(bomb_bytes.len() < 1024 * 1024, "{}", bomb_bytes.len());
    let r = sync(
        &h,
        &rory,
        vec![RecordPush {
            id: bomb_id,
            changes: vec![],
            document: Some(ByteBuf::from(bomb_bytes)),
        }],
    )
    .await;
    let bomb_report = report_for(&r, bomb_id);
    assert_eq!(bomb_report.code, "malformed");
    assert!(
        bomb_report.message.contains("when decompressed"),
        "{bomb_report:?}"
    );
    assert_eq!(entries(&h).await.len(), 2);

    // Readable refused changes are kept whole, compressed, within the byte quota: changes
    // under another device's actor, too big for what is left, are refused with a clear report.
    let forged_id = Uuid::now_v7();
    let mut forged =
        bothy_tests::wemwbs_doc(&ActorId::random(), "p", &Uuid::now_v7().to_string(), NOW);
    forged
        .automerge()
        .put(ROOT, "notes", noise(200 * 1024, 7))
        .unwrap();
    forged.automerge().commit();
    let r = sync(
        &h,
        &rory,
        vec![bothy_tests::push_history(forged_id, &mut forged)],
    )
    .await;
    let over = report_for(&r, forged_id);
    assert_eq!(over.code, "foreign_actor");
    assert!(
        over.message.contains("quota") && over.message.contains("kept nothing"),
        "{over:?}"
    );
    assert_eq!(entries(&h).await.len(), 2);

    // The count quota: a third entry is kept, a fourth is refused with the quota named, and
    // the valid record of the same sync is stored.
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    // Records are handled in id order.
    let (third, fourth) = (a.min(b), a.max(b));
    let (also_good_id, also_good) = valid_push(&rory_actor);
    let r = sync(
        &h,
        &rory,
        vec![junk_document(third), junk_document(fourth), also_good],
    )
    .await;
    assert!(
        report_for(&r, third).message.contains("first 4096 bytes"),
        "{r:?}"
    );
    let full = report_for(&r, fourth);
    assert!(
        full.message.contains("quota")
            && full
                .message
                .contains(&format!("{MAX_ENTRIES} refused pushes")),
        "{full:?}"
    );
    assert!(!r.unacked.contains(&also_good_id));
    assert!(h.record("p", also_good_id).await["record"].is_object());
    let kept = entries(&h).await;
    assert_eq!(kept.len(), MAX_ENTRIES as usize, "{kept:?}");
    let ids: Vec<String> = kept
        .iter()
        .map(|e| e["record_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [first, bomb_id, third].map(|i| i.to_string()).to_vec());

    // The server admin sees every entry, with who sent it and what it keeps; no other
    // credential does.
    let listed = h.get("/api/v1/admin/quarantine").await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), MAX_ENTRIES as usize, "{listed:?}");
    for e in listed {
        assert_eq!(e["project"], Value::Null, "{e}");
        assert_eq!(e["username"], "rory", "{e}");
        assert_eq!(e["status"], "open", "{e}");
        // At most the sample (compressed: a sample of bytes that do not compress may gain a
        // few bytes of framing).
        assert!(e["kept_bytes"].as_i64().unwrap() <= 4096 + 64, "{e}");
    }
    assert!(h.get_as("/api/v1/admin/quarantine", &rory).await.is_err());
    h.admin(
        "/api/v1/admin/users",
        json!({"username": "cora", "password": "a long password for cora"}),
    )
    .await;
    let cora = h.login("cora", "a long password for cora").await.unwrap();
    assert!(h.get_as("/api/v1/admin/quarantine", &cora).await.is_err());

    // Discarding an entry makes room: the refused push, sent again, is kept.
    let entry = listed[0]["id"].as_i64().unwrap();
    h.admin(
        &format!("/api/v1/admin/quarantine/{entry}/discard"),
        json!({"reason": "junk from a broken app"}),
    )
    .await;
    let r = sync(&h, &rory, vec![junk_document(fourth)]).await;
    assert!(
        report_for(&r, fourth).message.contains("first 4096 bytes"),
        "{r:?}"
    );
    assert_eq!(
        h.get("/api/v1/admin/quarantine?status=open")
            .await
            .as_array()
            .unwrap()
            .len(),
        MAX_ENTRIES as usize
    );

    // Five pushes of 32 MiB of junk each and a 40 MiB bomb later, the database has barely
    // grown.
    let growth = footprint(&h, backend).await - before;
    assert!(
        growth < 2 * 1024 * 1024,
        "the database grew by {growth} bytes"
    );
    assert!(h.healthy().await);
    h.finish().await;
}
