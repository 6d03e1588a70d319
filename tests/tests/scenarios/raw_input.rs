//! Bad input crafted past the device's own validation and sent raw to the server: each bad
//! record is quarantined or refused with a clear report, the valid records of the same sync are
//! stored, and the server keeps running.

use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, ObjId, ROOT};
use bothy_sync_core::protocol::{RecordPush, ReportKind, SyncRequest};
use bothy_sync_core::{RecordDoc, RecordKind};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_bytes::ByteBuf;
use uuid::Uuid;

on_both_backends!(crafted_bad_records);

const NOW: i64 = 1_793_000_000;

fn wemwbs(actor: &ActorId, participant: &str) -> RecordDoc {
    bothy_tests::wemwbs_doc(actor, "p", participant, NOW)
}

fn push(id: Uuid, doc: &mut RecordDoc) -> RecordPush {
    bothy_tests::push_history(id, doc)
}

/// Makes a raw, unvalidated edit and commits it.
fn craft(doc: &mut RecordDoc, f: impl FnOnce(&mut bothy_sync_core::automerge::AutoCommit)) {
    let am = doc.automerge();
    f(am);
    am.commit();
}

fn items(doc: &RecordDoc) -> ObjId {
    use bothy_sync_core::automerge::ReadDoc;
    doc.automerge_ref().get(ROOT, "items").unwrap().unwrap().1
}

async fn crafted_bad_records(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    let (token, actor) = h.raw_device("ruth").await;
    // A participant the server has never seen: not an error, it may come from another device.
    let unseen = Uuid::now_v7().to_string();

    let good_id = Uuid::now_v7();
    let mut good = wemwbs(&actor, &unseen);

    let out_of_range_id = Uuid::now_v7();
    let mut out_of_range = wemwbs(&actor, &unseen);
    let obj = items(&out_of_range);
    craft(&mut out_of_range, |d| d.put(&obj, "3", 7i64).unwrap());

    let wrong_type_id = Uuid::now_v7();
    let mut wrong_type = wemwbs(&actor, &unseen);
    let obj = items(&wrong_type);
    craft(&mut wrong_type, |d| d.put(&obj, "5", "five").unwrap());

    let bad_date_id = Uuid::now_v7();
    let mut bad_date = wemwbs(&actor, &unseen);
    craft(&mut bad_date, |d| {
        d.put(ROOT, "date", "2026-02-30").unwrap()
    });

    let backwards_id = Uuid::now_v7();
    let mut backwards = RecordDoc::create(
        actor.clone(),
        RecordKind::Session,
        "p",
        &[
            ("site", "hall".into()),
            ("activity", "crafts".into()),
            ("activity_type", "heritage".into()),
            ("start", "2026-11-01T10:00:00Z".into()),
        ],
        NOW,
    )
    .unwrap();
    craft(&mut backwards, |d| {
        d.put(ROOT, "end", "2026-11-01T08:00:00Z").unwrap()
    });

    let other_project_id = Uuid::now_v7();
    let mut other_project = RecordDoc::create(
        actor.clone(),
        RecordKind::Story,
        "not-my-project",
        &[
            ("title", "t".into()),
            ("author", "ruth".into()),
            ("consent_scope", "private".into()),
        ],
        NOW,
    )
    .unwrap();

    let request = SyncRequest {
        push: vec![
            push(good_id, &mut good),
            push(out_of_range_id, &mut out_of_range),
            push(wrong_type_id, &mut wrong_type),
            push(bad_date_id, &mut bad_date),
            push(backwards_id, &mut backwards),
            push(other_project_id, &mut other_project),
            RecordPush {
                id: Uuid::now_v7(),
                changes: vec![ByteBuf::from(
                    b"definitely not an automerge change".to_vec(),
                )],
                document: None,
            },
        ],
        ..SyncRequest::default()
    };
    let response = h.sync_raw(&token, &request).await;
    let report = |id: Uuid| {
        response
            .reports
            .iter()
            .filter(|r| r.id == id)
            .cloned()
            .collect::<Vec<_>>()
    };

    assert!(!response.unacked.contains(&good_id));
    assert!(report(good_id).is_empty());

    // An out-of-range answer and a wrong type are quarantined: accepted into the history,
    // neutralised by the server (the answer goes back to its last valid value, the 3 the
    // response was created with), reported with the field named.
    for (id, field) in [(out_of_range_id, "items.3"), (wrong_type_id, "items.5")] {
        assert!(!response.unacked.contains(&id));
        let r = report(id);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].kind, ReportKind::Quarantined);
        assert_eq!(r[0].field.as_deref(), Some(field));
        assert!(r[0].message.contains(field));
        let v = h.get(&format!("/api/v1/projects/p/records/{id}")).await;
        let key = field.trim_start_matches("items.");
        assert_eq!(
            v["record"]["items"][key], 3,
            "{field} back to its last valid value: {v}"
        );
        assert_eq!(v["score"]["total"], 42);
    }
    // An impossible date written over a valid one before the first push: the date goes back
    // to the valid one.
    let r = report(bad_date_id);
    assert_eq!(r[0].kind, ReportKind::Quarantined, "{r:?}");
    assert_eq!(r[0].field.as_deref(), Some("date"));
    let v = h
        .get(&format!("/api/v1/projects/p/records/{bad_date_id}"))
        .await;
    assert_eq!(v["record"]["date"], "2026-11-01");
    // A session that ends before it starts: the end is removed and reported.
    let r = report(backwards_id);
    assert_eq!(r[0].kind, ReportKind::Quarantined);
    assert_eq!(r[0].field.as_deref(), Some("end"));
    // Another project: refused outright.
    let r = report(other_project_id);
    assert_eq!(r[0].kind, ReportKind::Refused);
    assert_eq!(r[0].code, "not_allowed");
    assert_eq!(
        response
            .reports
            .iter()
            .filter(|r| r.code == "malformed")
            .count(),
        1
    );

    // The compensations come back to the device.
    let pulled: Vec<Uuid> = response.records.iter().map(|r| r.id).collect();
    assert!(pulled.contains(&out_of_range_id) && pulled.contains(&backwards_id));

    // Quarantine keeps everything for review; the valid record's score is in the projection.
    let q = h.get("/api/v1/projects/p/quarantine").await;
    assert!(q.as_array().unwrap().len() >= 4, "{q}");
    let v = h
        .get(&format!("/api/v1/projects/p/records/{good_id}"))
        .await;
    assert_eq!(v["score"]["total"], 42);
    assert!(h.healthy().await);
    h.finish().await;
}
