//! A bootstrap sends a record whose whole history is one change as that change, smaller than
//! its saved document, and every other record as its saved document. A new device ends up with
//! exactly the server's documents (the same heads) whatever the records went through: written
//! once, edited, compensated by the server, touched by an erasure, moved to the contact-record
//! format, or held with a change log that lacks part of their history.

use bothy_device::{AttendanceMark, WellbeingForm};
use bothy_server::storage::records::{self, LogEntry};
use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc};
use bothy_sync_core::protocol::{
    self, ENCODING_BROTLI, PROTOCOL_VERSION, PullData, ReportKind, SyncRequest, SyncResponse,
};
use bothy_sync_core::{FieldValue, Instrument, RecordDoc};
use bothy_tests::{Backend, Harness, device_heads, on_both_backends};
use serde_json::json;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

on_both_backends!(bootstrap_sends_single_changes);

const P: &str = "braes";
const NOW: i64 = 1_793_000_000;

/// A participant as devices wrote them before contact records.
fn old_format(actor: ActorId, name: &str) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor);
    doc.put(ROOT, "kind", "participant").unwrap();
    doc.put(ROOT, "project", P).unwrap();
    doc.put(ROOT, "v", 1i64).unwrap();
    doc.put(ROOT, "created", NOW).unwrap();
    doc.put(ROOT, "code", "OLD-0001").unwrap();
    let consent = doc.put_object(ROOT, "consent", ObjType::Map).unwrap();
    doc.put(&consent, "data_use", true).unwrap();
    doc.put_object(ROOT, "referral", ObjType::Map).unwrap();
    doc.put(ROOT, "postcode_district", "HS2").unwrap();
    let ids = doc.put_object(ROOT, "identifiers", ObjType::Map).unwrap();
    doc.put(&ids, "name", name).unwrap();
    doc.put(&ids, "phone", "07700 900999").unwrap();
    doc.commit();
    doc
}

/// What the server holds of a record: its saved document, its heads, how many changes the
/// document holds and how many rows the change log holds for it.
struct Held {
    doc: Vec<u8>,
    heads: Vec<String>,
    changes: usize,
    logged: i64,
}

async fn server_records(db: &bothy_server::storage::Db) -> BTreeMap<Uuid, Held> {
    let rows = sqlx::query(
        "SELECT r.id, r.doc, (SELECT COUNT(*) FROM change_log c WHERE c.record_id = r.id) AS n \
         FROM records r",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            let doc: Vec<u8> = row.get("doc");
            let mut loaded = AutoCommit::load(&doc).unwrap();
            let mut heads: Vec<String> = loaded
                .get_heads()
                .iter()
                .map(ChangeHash::to_string)
                .collect();
            heads.sort();
            let changes = loaded.get_changes(&[]).len();
            let id = Uuid::parse_str(&row.get::<String, _>("id")).unwrap();
            let held = Held {
                doc,
                heads,
                changes,
                logged: row.get("n"),
            };
            (id, held)
        })
        .collect()
}

/// Writes a record straight into the database with only the change at `logged` of its
/// history in the change log (as a log that lost rows would hold it).
async fn with_partial_log(
    db: &bothy_server::storage::Db,
    id: Uuid,
    doc: &mut RecordDoc,
    logged: usize,
) {
    let mut tx = db.begin_write().await.unwrap();
    let saved = doc.save();
    records::save_record(&mut tx, &id.to_string(), P, "wellbeing", saved, NOW)
        .await
        .unwrap();
    let change = doc.automerge().get_changes(&[])[logged].clone();
    records::append_log(
        &mut tx,
        vec![LogEntry::of(&id.to_string(), P, None, &change)],
        NOW,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn bootstrap_sends_single_changes(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    let a = h.device("ruth", "a").await;

    // Written once: participants, a questionnaire, a story.
    let mut once = BTreeSet::new();
    let mut people = Vec::new();
    for _ in 0..4 {
        let p = a
            .create_participant(None, &[("consent.data_use", true.into())])
            .await
            .unwrap()
            .id;
        people.push(p);
        once.insert(p);
    }
    let wellbeing = |participant: Uuid| WellbeingForm {
        participant,
        instrument: Instrument::Wemwbs.to_string(),
        timepoint: "baseline".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
        session: None,
        items: (1..=14u8).map(|i| (i, 3)).collect(),
    };
    once.insert(a.record_wellbeing(&wellbeing(people[0])).await.unwrap());
    let story = a
        .create_story(
            None,
            &[
                ("title", "Up the brae".into()),
                ("consent_scope", "project".into()),
                (
                    "body",
                    FieldValue::from("We walked up the brae ".repeat(40)),
                ),
                ("participant", people[1].to_string().into()),
            ],
        )
        .await
        .unwrap();
    once.insert(story);

    // Many changes: an edited participant, a session with attendance marks.
    let mut many = BTreeSet::new();
    a.edit(people[2], |e| e.set("age_band", "65-74"))
        .await
        .unwrap();
    once.remove(&people[2]);
    many.insert(people[2]);
    let session = a
        .create_session(
            None,
            &[
                ("site", "strathpeffer-square".into()),
                ("activity", "health-walk".into()),
                ("activity_type", "walking".into()),
                ("start", "2026-11-03T10:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    // The last participant is erased below: the server removes their mark with a change.
    for p in [people[0], people[3]] {
        a.mark_attendance(session, p, AttendanceMark::Present)
            .await
            .unwrap();
    }
    many.insert(session);
    let erased_response = a.record_wellbeing(&wellbeing(people[3])).await.unwrap();
    a.sync().await.unwrap();

    // A server compensation: an out-of-range answer neutralised by a change of the server's.
    let (raw, actor) = h.raw_device("ruth").await;
    let compensated = Uuid::now_v7();
    let mut doc = bothy_tests::wemwbs_doc(&actor, P, &people[1].to_string(), NOW);
    let items = doc.automerge_ref().get(ROOT, "items").unwrap().unwrap().1;
    doc.automerge().put(&items, "3", 12i64).unwrap();
    doc.automerge().commit();
    let answer = h
        .sync_raw(
            &raw,
            &SyncRequest {
                push: vec![bothy_tests::push_history(compensated, &mut doc)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert_eq!(
        answer.reports[0].kind,
        ReportKind::Quarantined,
        "{answer:?}"
    );
    many.insert(compensated);

    // An erasure: the participant's records go, the session gets a change removing the mark.
    let erased = people[3];
    let path = format!("/api/v1/projects/{P}/participants/{erased}/erase");
    let done = h
        .post_json(
            &path,
            Some(&h.admin_token),
            json!({"reason": "withdrew consent"}),
        )
        .await
        .unwrap();
    assert_eq!(done["counts"]["sessions_updated"], 1, "{done}");
    once.remove(&erased);

    // Migrated participants: one stored in the old format and moved at start-up (its log rows
    // deleted, new documents written by the server), one an old device pushes in the old
    // format, split on arrival.
    let db = bothy_server::storage::Db::connect(&h.db.url).await.unwrap();
    let moved = Uuid::now_v7();
    {
        let mut old = old_format(ActorId::random(), "Morag Seonag Stornoway");
        let mut tx = db.begin_write().await.unwrap();
        records::save_record(
            &mut tx,
            &moved.to_string(),
            P,
            "participant",
            old.save_nocompress(),
            NOW,
        )
        .await
        .unwrap();
        let log: Vec<LogEntry> = old
            .get_changes(&[])
            .iter()
            .map(|c| LogEntry::of(&moved.to_string(), P, None, c))
            .collect();
        records::append_log(&mut tx, log, NOW).await.unwrap();
        sqlx::query("INSERT INTO pending_data_migrations (name) VALUES ('contacts')")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        bothy_server::review::contacts::migrate(&db).await.unwrap(),
        1
    );
    let split_on_arrival = Uuid::now_v7();
    let mut fresh_old = RecordDoc::from_automerge(old_format(actor, "Donald Iain Benbecula"));
    let answer = h
        .sync_raw(
            &raw,
            &SyncRequest {
                push: vec![bothy_tests::push_history(split_on_arrival, &mut fresh_old)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(answer.unacked.is_empty(), "{answer:?}");

    // Change logs that lack part of a record's history: only its second change logged, or
    // only its first. Neither log row alone is the document.
    let mut partial = BTreeSet::new();
    for logged in [1, 0] {
        let id = Uuid::now_v7();
        let mut doc = bothy_tests::wemwbs_doc(&ActorId::random(), P, &people[0].to_string(), NOW);
        doc.edit(NOW + 60, |e| e.set("items.5", 4i64)).unwrap();
        with_partial_log(&db, id, &mut doc, logged).await;
        partial.insert(id);
        many.insert(id);
    }

    // What the server holds, and what a bootstrap sends of it.
    let held = server_records(&db).await;
    assert!(!held.contains_key(&erased) && !held.contains_key(&erased_response));
    assert!(held.contains_key(&moved) && held.contains_key(&split_on_arrival));
    for id in &once {
        assert_eq!(
            (held[id].changes, held[id].logged),
            (1, 1),
            "{id} was written once"
        );
    }
    for id in &many {
        assert!(held[id].changes > 1, "{id} has more than one change");
    }
    let (fresh_raw, _) = h.raw_device("ruth").await;
    let boot: SyncResponse = h.sync_raw(&fresh_raw, &SyncRequest::default()).await;
    assert!(!boot.more, "one page");
    let sent: BTreeMap<Uuid, &PullData> = boot.records.iter().map(|r| (r.id, &r.data)).collect();
    assert_eq!(
        sent.keys().copied().collect::<BTreeSet<_>>(),
        held.keys().copied().collect::<BTreeSet<_>>(),
        "every record, once"
    );
    let mut as_changes = 0;
    for (id, data) in &sent {
        let server = &held[id];
        match data {
            PullData::Changes(list) => {
                as_changes += 1;
                assert_eq!(list.len(), 1, "{id}: one change");
                assert_eq!(server.changes, 1, "{id}: sent as a change but has more");
                assert!(
                    list[0].len() < server.doc.len(),
                    "{id}: the change ({} B) is smaller than the document ({} B)",
                    list[0].len(),
                    server.doc.len()
                );
                let mut rebuilt = AutoCommit::new();
                rebuilt
                    .apply_changes([bothy_sync_core::automerge::Change::from_bytes(
                        list[0].to_vec(),
                    )
                    .unwrap()])
                    .unwrap();
                let mut heads: Vec<String> = rebuilt
                    .get_heads()
                    .iter()
                    .map(ChangeHash::to_string)
                    .collect();
                heads.sort();
                assert_eq!(heads, server.heads, "{id}: the change is the document");
            }
            PullData::Snapshot(doc) => {
                assert_eq!(
                    doc.as_slice(),
                    server.doc.as_slice(),
                    "{id}: the saved document"
                );
                assert!(
                    !once.contains(id),
                    "{id} was written once and should go as its change"
                );
            }
        }
    }
    for id in &many {
        assert!(
            matches!(sent[id], PullData::Snapshot(_)),
            "{id} has more history than one change: sent whole"
        );
    }
    assert!(
        as_changes >= once.len(),
        "{as_changes} records sent as changes"
    );

    // Smaller on the wire than the same page of saved documents.
    let mut as_documents = boot.clone();
    for r in &mut as_documents.records {
        r.data = PullData::Snapshot(serde_bytes::ByteBuf::from(held[&r.id].doc.clone()));
    }
    let now_bytes = protocol::encode_response(&boot, PROTOCOL_VERSION, ENCODING_BROTLI).len();
    let before_bytes =
        protocol::encode_response(&as_documents, PROTOCOL_VERSION, ENCODING_BROTLI).len();
    assert!(
        now_bytes < before_bytes,
        "{now_bytes} B with changes, {before_bytes} B as documents"
    );

    // A new device: the same documents as the server, record by record.
    let fresh = h.device("ruth", "fresh").await;
    let summary = fresh.sync().await.unwrap();
    assert_eq!(summary.received as usize, held.len(), "{summary:?}");
    for (id, server) in &held {
        assert_eq!(
            device_heads(&fresh, *id).await,
            server.heads,
            "heads of {id}"
        );
        let mut doc = fresh.document(*id).await.unwrap();
        let mut heads: Vec<String> = doc.heads().iter().map(ChangeHash::to_string).collect();
        heads.sort();
        assert_eq!(heads, server.heads, "the stored document of {id}");
    }
    for id in [erased, erased_response] {
        assert!(fresh.heads(id).await.is_err(), "{id} was erased");
    }
    // The device that wrote them converges too (from the log: it cannot be sent what the log
    // lacks of the records written straight into the database), and both stay in step.
    a.sync().await.unwrap();
    for id in held.keys().filter(|id| !partial.contains(id)) {
        if let Ok(heads) = a.heads(*id).await {
            let mut heads: Vec<String> = heads.iter().map(ToString::to_string).collect();
            heads.sort();
            assert_eq!(heads, held[id].heads, "heads of {id} on the first device");
        }
    }
    fresh
        .edit(people[0], |e| e.set("age_band", "75-84"))
        .await
        .unwrap();
    fresh.sync().await.unwrap();
    a.sync().await.unwrap();
    assert_eq!(
        device_heads(&a, people[0]).await,
        device_heads(&fresh, people[0]).await
    );
    h.finish().await;
}
