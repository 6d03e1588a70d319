//! A bootstrap over several pages. With the server's bootstrap page set to 50 records, a new
//! device receives 180 records in four answers: after each, its cursor names the last record
//! of the page and it holds exactly the records of the pages so far, every one as the server
//! holds it and acknowledged. A second sync moves nothing. Then records it holds and new ones
//! arrive in the same answer: edits it made offline to records another device also edited keep
//! both sides.

use bothy_device::Device;
use bothy_sync_core::RecordData;
use bothy_sync_core::protocol::Cursor;
use bothy_tests::{Backend, Harness, device_heads, on_both_backends, server_heads};
use sqlx::Row;
use std::collections::BTreeSet;
use uuid::Uuid;

on_both_backends!(bootstrap_over_several_pages);

const PROJECT: &str = "glen-paths";
const PAGE: usize = 50;

async fn participant(device: &Device) -> Uuid {
    device
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("age_band", "45-54".into()),
            ],
        )
        .await
        .unwrap()
        .id
}

/// The cursor a device keeps between syncs, read from its store.
async fn stored_cursor(device: &Device) -> Cursor {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(device.path())
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let row = sqlx::query("SELECT value FROM meta WHERE key = 'cursor'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let cursor = serde_json::from_str(&row.get::<String, _>(0)).unwrap();
    pool.close().await;
    cursor
}

async fn held(device: &Device) -> BTreeSet<Uuid> {
    device
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
}

/// Checks that `device` holds each of `ids` exactly as the server does.
async fn same_as_server(h: &Harness, device: &Device, ids: &BTreeSet<Uuid>) {
    for id in ids {
        let server = h.record(PROJECT, *id).await;
        assert_eq!(
            device_heads(device, *id).await,
            server_heads(&server),
            "heads of {id}"
        );
        let details = device.get(*id).await.unwrap();
        assert_eq!(
            serde_json::to_value(&details.view.data).unwrap(),
            server["record"],
            "view of {id}"
        );
    }
}

async fn bootstrap_over_several_pages(backend: Backend) {
    let Some(h) =
        Harness::start_with(backend, |cfg| cfg.bootstrap_page_records = PAGE as u32).await
    else {
        return;
    };
    h.project(PROJECT).await;
    h.user("isla", PROJECT, "researcher").await;
    h.user("calum", PROJECT, "researcher").await;
    let a = h.device("isla", "phone-a").await;

    // 180 records: 110 participants, 40 questionnaires, 15 sessions with attendance (records
    // of several changes, sent as saved documents) and 15 stories.
    let mut all = BTreeSet::new();
    let mut people = Vec::new();
    for _ in 0..110 {
        let p = participant(&a).await;
        people.push(p);
        all.insert(p);
    }
    all.extend(
        bothy_tests::field_days(&a, &people, 40, 15, "glen-affric-car-park", "2026-11").await,
    );
    assert_eq!(all.len(), 180);
    let pushed = a.sync().await.unwrap();
    assert_eq!(pushed.acked, 180);

    // A new device bootstraps: four answers of 50, 50, 50 and 30 records, in id order, its
    // cursor advancing page by page.
    let b = h.device("calum", "phone-b").await;
    let ordered: Vec<Uuid> = all.iter().copied().collect();
    let mut pages = Vec::new();
    loop {
        let round = b.sync_once().await.unwrap();
        assert_eq!(round.pushed, 0);
        pages.push(round.received as usize);
        let so_far: usize = pages.iter().sum();
        let cursor = stored_cursor(&b).await;
        assert_eq!(
            held(&b).await,
            ordered[..so_far].iter().copied().collect::<BTreeSet<_>>(),
            "after answer {}",
            pages.len()
        );
        if round.more {
            let snapshot = cursor.snapshot.expect("a cursor inside the bootstrap");
            assert_eq!(
                snapshot.after,
                ordered[so_far - 1],
                "after answer {}",
                pages.len()
            );
            assert_eq!(cursor.seq, 0);
        } else {
            assert!(cursor.snapshot.is_none(), "{cursor:?}");
            assert!(cursor.seq > 0);
            break;
        }
        assert!(pages.len() < 10, "the bootstrap does not end: {pages:?}");
    }
    assert_eq!(pages, vec![PAGE, PAGE, PAGE, 30]);
    let status = b.status().await.unwrap();
    assert_eq!(status.records, 180);
    assert_eq!(
        status.unsynced_records, 0,
        "every received record is acknowledged"
    );
    same_as_server(&h, &b, &all).await;

    // Nothing moves again.
    let again = b.sync_once().await.unwrap();
    assert_eq!((again.pushed, again.received, again.more), (0, 0, false));

    // Records the device holds and new ones in one answer. A edits five participants and adds
    // five; B, offline, edits three of the same participants and adds one of its own.
    for p in &people[..5] {
        assert!(a.edit(*p, |e| e.set("age_band", "55-64")).await.unwrap());
    }
    let mut new_from_a = BTreeSet::new();
    for _ in 0..5 {
        new_from_a.insert(participant(&a).await);
    }
    assert_eq!(a.sync().await.unwrap().acked, 10);
    for p in &people[..3] {
        assert!(b.edit(*p, |e| e.set("gender", "man")).await.unwrap());
    }
    let from_b = participant(&b).await;
    let summary = b.sync().await.unwrap();
    assert_eq!((summary.pushed, summary.acked), (4, 4));
    assert_eq!(summary.received, 10, "A's five edits and five new records");
    assert!(summary.reports.is_empty(), "{:?}", summary.reports);
    for (i, p) in people[..5].iter().enumerate() {
        let RecordData::Participant(view) = b.get(*p).await.unwrap().view.data else {
            panic!("{p} is a participant");
        };
        assert_eq!(view.age_band.as_deref(), Some("55-64"));
        let gender = if i < 3 { Some("man") } else { None };
        assert_eq!(
            view.gender.as_deref(),
            gender,
            "B's offline edit of {p} kept"
        );
    }
    let mut everything = all.clone();
    everything.extend(new_from_a);
    everything.insert(from_b);
    assert_eq!(held(&b).await, everything);
    assert_eq!(b.status().await.unwrap().unsynced_records, 0);
    same_as_server(&h, &b, &everything).await;
    h.finish().await;
}
