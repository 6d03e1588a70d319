//! Erasure takes the data off the disk, not only out of the tables: after a participant is
//! erased and the devices have synced, their name, phone and story text are found in none of
//! the files that held them, searched byte by byte. On SQLite: every file of the server's
//! database (including the write-ahead log and its index) and of both device stores. On
//! PostgreSQL: every heap, TOAST and index file of the test database's tables (write-ahead log
//! segments in `pg_wal` are not searched: they keep the bytes until recycled, as documented),
//! and both device stores. Each search is first shown to find the data before the erasure.

use bothy_device::Device;
use bothy_sync_core::FieldValue;
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;
use std::path::{Path, PathBuf};

on_both_backends!(erasure_leaves_no_bytes_behind);

const P: &str = "strath-stories";
const NAME: &str = "Euphemia Quarrington-Blaikie";
const PHONE: &str = "07700 900461";
const STORY: &str = "The quillwort grew thick by the lochan at Achnashellach that summer.";

/// The three strings that must leave the disk.
const NEEDLES: [&str; 3] = [NAME, PHONE, STORY];

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// For each needle, the files (among `files`) holding it.
fn holders(files: &[PathBuf]) -> Vec<(&'static str, Vec<PathBuf>)> {
    NEEDLES
        .iter()
        .map(|needle| {
            let found = files
                .iter()
                .filter(|f| match std::fs::read(f) {
                    Ok(bytes) => contains(&bytes, needle),
                    // A file dropped since it was listed holds nothing.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(e) => panic!("cannot read {}: {e}", f.display()),
                })
                .cloned()
                .collect();
            (*needle, found)
        })
        .collect()
}

/// Every file in `dir` whose name starts with `prefix` (a store and its `-wal` and `-shm`).
fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("test directory lists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    out
}

/// The files of the server's database: on SQLite the database, `-wal` and `-shm`; on
/// PostgreSQL, after a checkpoint (so what is in shared buffers is on disk), every segment
/// of every table, TOAST table and index in the test database's `public` and `pg_toast`
/// schemas.
async fn server_files(h: &Harness, backend: Backend) -> Vec<PathBuf> {
    match backend {
        Backend::Sqlite => {
            let files = files_starting(h.db.dir.path(), "bothy.db");
            assert!(
                files.iter().any(|f| f.ends_with("bothy.db")),
                "the server's database file is in the test directory: {files:?}"
            );
            files
        }
        Backend::Postgres => {
            h.sql("CHECKPOINT", &[]).await;
            let rows = h
                .sql(
                    "SELECT current_setting('data_directory') AS dir, \
                     pg_relation_filepath(c.oid) AS path \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't') \
                     AND pg_relation_filepath(c.oid) IS NOT NULL",
                    &[],
                )
                .await;
            let mut files = Vec::new();
            for row in rows {
                let dir = PathBuf::from(row["dir"].as_str().expect("data directory"));
                let main = dir.join(row["path"].as_str().expect("relation path"));
                let parent = main.parent().expect("relation directory").to_owned();
                let node = main
                    .file_name()
                    .and_then(|n| n.to_str())
                    .expect("file node")
                    .to_owned();
                // The main file and its 1 GiB segments `node.1`, `node.2`...
                files.extend(files_starting(&parent, &node).into_iter().filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name == node
                        || name
                            .strip_prefix(&format!("{node}."))
                            .is_some_and(|s| s.chars().all(|c| c.is_ascii_digit()))
                }));
            }
            assert!(
                files.len() > 20,
                "the test database's relation files are readable: {files:?}"
            );
            files
        }
    }
}

fn store_files(h: &Harness, device: &str) -> Vec<PathBuf> {
    let files = files_starting(h.db.dir.path(), &format!("{device}.db"));
    assert!(!files.is_empty(), "device {device} has a store");
    files
}

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
    let x = a
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("consent.story_sharing", true.into()),
                ("identifiers.name", NAME.into()),
                ("identifiers.phone", PHONE.into()),
                ("age_band", "65-74".into()),
            ],
        )
        .await
        .unwrap()
        .id;
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
    let server_before = server_files(&h, backend).await;
    for (place, files) in [
        ("the server's database", server_before.clone()),
        ("device A's store", store_files(&h, "a")),
        ("device B's store", store_files(&h, "b")),
    ] {
        for (needle, found) in holders(&files) {
            assert!(
                !found.is_empty(),
                "before the erasure {needle:?} is in {place} ({files:?})"
            );
        }
    }

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
            summary.erased, 2,
            "{name} purges the participant and the story"
        );
        assert!(device.get(x).await.is_err(), "{name} no longer holds {x}");
    }

    // Now no file holds any of them: the server's (including, on PostgreSQL, the files the
    // tables were in before, if they are still there) and both stores.
    let mut server_after = server_files(&h, backend).await;
    server_after.extend(server_before);
    server_after.sort();
    server_after.dedup();
    for (place, files) in [
        ("the server's database", server_after),
        ("device A's store", store_files(&h, "a")),
        ("device B's store", store_files(&h, "b")),
    ] {
        for (needle, found) in holders(&files) {
            assert!(
                found.is_empty(),
                "after the erasure {needle:?} is still in {place}: {found:?}"
            );
        }
    }
    h.finish().await;
}
