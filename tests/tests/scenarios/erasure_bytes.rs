//! Erasure takes the data off the disk, not only out of the tables: after a participant is
//! erased and the devices have synced, their name, phone and story text are found in none of
//! the files that held them, searched byte by byte. On SQLite: every file of the server's
//! database (including the write-ahead log and its index) and of both device stores. On
//! PostgreSQL: every heap, TOAST and index file of the test database's tables (write-ahead log
//! segments in `pg_wal` are not searched: they keep the bytes until recycled, as documented),
//! and both device stores. Each search is first shown to find the data before the erasure.

use bothy_device::Device;
use bothy_sync_core::FieldValue;
use bothy_tests::disk::{assert_found, assert_gone, server_files, server_files_with, store_files};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;

on_both_backends!(erasure_leaves_no_bytes_behind);

const P: &str = "strath-stories";
const NAME: &str = "Euphemia Quarrington-Blaikie";
const PHONE: &str = "07700 900461";
const STORY: &str = "The quillwort grew thick by the lochan at Achnashellach that summer.";

/// The three strings that must leave the disk.
const NEEDLES: [&str; 3] = [NAME, PHONE, STORY];

async fn erasure_leaves_no_bytes_behind(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    h.user("sam", P, "researcher").await;
    h.user("cora", P, "coordinator").await;
    let a: Device = h.device("ruth", "a").await;
    let b: Device = h.device("sam", "b").await;

    // On A: the participant with direct identifiers, edited once (so older versions of the
    // rows exist too), and a story about them.
    let x = bothy_tests::disk::identified_participant(&a, NAME, PHONE).await;
    let story = a
        .create_story(
            None,
            &[
                ("title", "A summer at the lochan".into()),
                ("consent_scope", "project".into()),
                ("participant", FieldValue::from(x.to_string())),
                ("body", STORY.into()),
            ],
        )
        .await
        .unwrap();
    a.sync().await.unwrap();
    a.edit(x, |e| e.set("age_band", "75-84")).await.unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    for id in [x, story] {
        assert!(b.get(id).await.is_ok(), "B holds {id}");
    }

    // Before the erasure every search finds every string: it is not vacuous.
    let server_before = server_files(&h.db, backend).await;
    assert_found(
        &[
            ("the server's database", server_before.clone()),
            ("device A's store", store_files(&h.db, "a")),
            ("device B's store", store_files(&h.db, "b")),
        ],
        &NEEDLES,
        "before the erasure",
    );

    // A coordinator erases the participant; both devices sync and purge.
    let cora = h.login("cora", "cora-password").await.unwrap();
    let answer = h
        .post_json(
            &format!("/api/v1/projects/{P}/participants/{x}/erase"),
            Some(&cora),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(answer["already_erased"], false, "{answer}");
    for (name, device) in [("A", &a), ("B", &b)] {
        let summary = device.sync().await.unwrap();
        assert_eq!(
            summary.erased, 3,
            "{name} purges the participant, their contact record and the story"
        );
        assert!(device.get(x).await.is_err(), "{name} no longer holds {x}");
    }

    // Now no file holds any of them: the server's (including, on PostgreSQL, the files the
    // tables were in before, if they are still there) and both stores.
    assert_gone(
        &[
            (
                "the server's database",
                server_files_with(&h.db, backend, &server_before).await,
            ),
            ("device A's store", store_files(&h.db, "a")),
            ("device B's store", store_files(&h.db, "b")),
        ],
        &NEEDLES,
        "after the erasure",
    );
    h.finish().await;
}
