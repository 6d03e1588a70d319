//! One round trip: a device with 50 changed records (new ones and edits to records the server
//! knows) meets a server holding 50 new records for it (and edits to some of the same records
//! from another device). One sync request, counted by a proxy on the wire, pushes everything,
//! pulls everything, and leaves the device with exactly the server's documents. The same holds
//! for a device's very first sync, when it bootstraps from snapshots.

use bothy_device::{AttendanceMark, Device};
use bothy_sync_core::RecordData;
use bothy_tests::{Backend, Harness, SyncProxy, device_heads, on_both_backends, server_heads};
use std::collections::BTreeSet;
use uuid::Uuid;

on_both_backends!(one_round_trip, first_sync_round_trip);

const PROJECT: &str = "strath-walks";

async fn participant(device: &Device) -> Uuid {
    device
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("age_band", "65-74".into()),
                ("rurality", "rural".into()),
            ],
        )
        .await
        .unwrap()
        .id
}

async fn one_round_trip(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("ada", PROJECT, "researcher").await;
    h.user("ben", PROJECT, "researcher").await;
    let proxy = SyncProxy::start(h.addr).await;
    let a = h.device_at("ada", "phone-a", &proxy.url()).await;
    let b = h.device("ben", "phone-b").await;

    // Ten participants both devices know.
    let mut known = Vec::new();
    for _ in 0..10 {
        known.push(participant(&a).await);
    }
    assert_eq!(a.sync().await.unwrap().acked, 10);
    assert_eq!(b.sync().await.unwrap().received, 10);

    // B puts 50 new records on the server (30 participants, 10 responses, 5 sessions with
    // attendance, 5 stories) and edits 5 of the known participants.
    let mut from_b = BTreeSet::new();
    for _ in 0..30 {
        from_b.insert(participant(&b).await);
    }
    from_b.extend(
        bothy_tests::field_days(&b, &known, known.len(), 5, "strathpeffer-square", "2026-10").await,
    );
    for p in &known[..5] {
        b.edit(*p, |e| e.set("gender", "woman")).await.unwrap();
    }
    let pushed = b.sync().await.unwrap();
    assert_eq!((pushed.pushed, pushed.acked), (55, 55));
    assert_eq!(from_b.len(), 50);

    // A, offline meanwhile: 40 new participants and an edit to each known participant.
    let mut from_a = BTreeSet::new();
    for _ in 0..40 {
        from_a.insert(participant(&a).await);
    }
    for p in &known {
        assert!(a.edit(*p, |e| e.set("age_band", "75-84")).await.unwrap());
    }
    assert_eq!(a.status().await.unwrap().unsynced_records, 50);

    // One request.
    let before = proxy.sync_requests();
    let summary = a.sync_once().await.unwrap();
    assert_eq!(
        proxy.sync_requests() - before,
        1,
        "one sync request on the wire"
    );
    assert_eq!(summary.requests, 1);
    assert!(!summary.more, "nothing left for a second request");
    assert_eq!(summary.pushed, 50, "every changed record pushed");
    assert_eq!(summary.acked, 50, "every pushed record acknowledged");
    assert_eq!(
        summary.received, 55,
        "B's 50 new records and its 5 edits pulled, and nothing of A's own sent back"
    );
    assert!(summary.reports.is_empty(), "{:?}", summary.reports);
    let status = a.status().await.unwrap();
    assert_eq!(status.records, 100);
    assert_eq!(status.unsynced_records, 0);

    // A holds every record, each exactly as the server holds it.
    let on_a: BTreeSet<Uuid> = a.list(None).await.unwrap().iter().map(|r| r.id).collect();
    let all: BTreeSet<Uuid> = known
        .iter()
        .copied()
        .chain(from_a.iter().copied())
        .chain(from_b.iter().copied())
        .collect();
    assert_eq!(all.len(), 100);
    assert_eq!(on_a, all);
    for id in &all {
        let server = h.record(PROJECT, *id).await;
        assert_eq!(
            device_heads(&a, *id).await,
            server_heads(&server),
            "heads of {id}"
        );
        let details = a.get(*id).await.unwrap();
        assert_eq!(
            serde_json::to_value(&details.view.data).unwrap(),
            server["record"],
            "view of {id}"
        );
    }
    // The records both edited carry both edits.
    for (i, p) in known.iter().enumerate() {
        let RecordData::Participant(view) = a.get(*p).await.unwrap().view.data else {
            panic!("{p} is a participant");
        };
        assert_eq!(view.age_band.as_deref(), Some("75-84"));
        let gender = if i < 5 { Some("woman") } else { None };
        assert_eq!(view.gender.as_deref(), gender);
    }

    // Codes made offline on two devices do not collide.
    let codes = h
        .sql(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT code) AS codes FROM participants \
             WHERE project = $1",
            &[PROJECT],
        )
        .await;
    assert_eq!(codes[0]["n"], 80);
    assert_eq!(codes[0]["codes"], 80, "participant codes are unique");

    // Nothing left: the next request moves no records.
    let again = a.sync_once().await.unwrap();
    assert_eq!((again.pushed, again.received, again.more), (0, 0, false));
    assert_eq!(proxy.sync_requests() - before, 2);

    // B too converges in one request.
    let b_sync = b.sync_once().await.unwrap();
    assert_eq!((b_sync.requests, b_sync.pushed, b_sync.more), (1, 0, false));
    assert_eq!(b_sync.received, 50, "A's 40 new records and 10 edits");
    for id in &all {
        assert_eq!(device_heads(&b, *id).await, device_heads(&a, *id).await);
    }
    h.finish().await;
}

/// A device's first sync: 50 records captured since enrolment go up, the 50 the server holds
/// come down as snapshots, in one request, without the device's own records sent back.
async fn first_sync_round_trip(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("ada", PROJECT, "researcher").await;
    h.user("ben", PROJECT, "researcher").await;
    let b = h.device("ben", "phone-b").await;
    let mut from_b = BTreeSet::new();
    for _ in 0..40 {
        from_b.insert(participant(&b).await);
    }
    let first: Vec<Uuid> = from_b.iter().copied().take(10).collect();
    for p in &first {
        let s = b
            .create_session(
                None,
                &[
                    ("site", "dingwall-park".into()),
                    ("activity", "health-walk".into()),
                    ("activity_type", "walking".into()),
                    ("start", "2026-09-01T10:00:00Z".into()),
                ],
            )
            .await
            .unwrap();
        b.mark_attendance(s, *p, AttendanceMark::LeftEarly)
            .await
            .unwrap();
        from_b.insert(s);
    }
    assert_eq!(b.sync().await.unwrap().acked, 50);

    let proxy = SyncProxy::start(h.addr).await;
    let a = h.device_at("ada", "phone-a", &proxy.url()).await;
    let mut from_a = BTreeSet::new();
    for _ in 0..50 {
        from_a.insert(participant(&a).await);
    }
    let summary = a.sync_once().await.unwrap();
    assert_eq!(proxy.sync_requests(), 1, "one sync request on the wire");
    assert_eq!(summary.requests, 1);
    assert!(!summary.more, "nothing left for a second request");
    assert_eq!((summary.pushed, summary.acked), (50, 50));
    assert_eq!(
        summary.received, 50,
        "B's 50 records, and none of A's own sent back"
    );
    let status = a.status().await.unwrap();
    assert_eq!((status.records, status.unsynced_records), (100, 0));
    for id in from_a.iter().chain(from_b.iter()) {
        let server = h.record(PROJECT, *id).await;
        assert_eq!(
            device_heads(&a, *id).await,
            server_heads(&server),
            "heads of {id}"
        );
    }
    let again = a.sync_once().await.unwrap();
    assert_eq!((again.pushed, again.received, again.more), (0, 0, false));
    h.finish().await;
}
