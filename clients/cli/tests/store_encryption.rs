//! The terminal client's store is encrypted at rest, on SQLite and PostgreSQL servers alike: a
//! researcher registers a participant with a name and phone, records a WEMWBS and a story, and
//! syncs; a copy of the store's files holds none of it in clear and no record's document loads
//! without the key; the copy unlocked with the PIN gives everything back; a wrong PIN is
//! refused, and after five in a row each try must wait; and the PIN can be changed.

mod common;

use bothy_device::bothy_sync_core::automerge::Automerge;
use bothy_tests::disk::{files_starting, holders};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::Value;
use sqlx::{Connection, Row};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

on_both_backends!(a_stolen_copy_of_the_store_reveals_nobody_without_the_pin);

const PROJECT: &str = "glen-affric";
const NAME: &str = "Morwenna Achnasheen";
const PHONE: &str = "07700 900314";
const TITLE: &str = "Peat smoke at Cannich";
const STORY: &str = "She remembered the peat smoke at Cannich and the dog called Brodie.";

/// `bothy` as Mairi against `server`; must succeed.
async fn run(store: &Path, server: &str, args: &[&str]) -> String {
    common::ok(&common::run_as(store, server, "mairi", "mairi-password", args).await)
}

/// `bothy --store STORE ARGS` with `pin` as `BOTHY_PIN` (and no server), as it ended.
fn with_pin(store: &Path, pin: &str, args: &[&str]) -> Output {
    common::with_pin(&mut Command::new(env!("CARGO_BIN_EXE_bothy")), store)
        .env("BOTHY_PIN", pin)
        .env_remove("BOTHY_SERVER")
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Checks a refusal: exit status 1 and one line on standard error containing `needle`.
#[track_caller]
fn refused(o: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    err
}

/// Copies the store's files (the database, and its -wal and -shm if present) into `to`.
fn copy_store(store: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    let name = store.file_name().unwrap().to_str().unwrap();
    for file in files_starting(store.parent().unwrap(), name) {
        std::fs::copy(&file, to.join(file.file_name().unwrap())).unwrap();
    }
    to.join(name)
}

async fn a_stolen_copy_of_the_store_reveals_nobody_without_the_pin(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let url = h.url();
    h.project(PROJECT).await;
    h.user("mairi", PROJECT, "researcher").await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device").join("mairi.db");
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();

    // Enrolment makes the store, encrypted with the PIN ($BOTHY_PIN in the tests' helper).
    let code = h.enrolment_code("mairi").await;
    run(&store, &url, &["enrol", "--server", &url, "--code", &code]).await;
    let added: Value = serde_json::from_str(
        &run(
            &store,
            &url,
            &[
                "--json",
                "participant",
                "add",
                "--name",
                NAME,
                "--phone",
                PHONE,
                "--age-band",
                "65-74",
                "--consent-data-use",
                "--consent-story-sharing",
            ],
        )
        .await,
    )
    .unwrap();
    let participant = added["code"].as_str().unwrap().to_owned();
    let recorded = run(
        &store,
        &url,
        &[
            "wellbeing",
            "record",
            "--participant",
            &participant,
            "--instrument",
            "WEMWBS",
            "--timepoint",
            "baseline",
            "--items",
            "4,3,4,3,3,4,4,3,4,3,4,4,3,4",
        ],
    )
    .await;
    assert!(recorded.contains("WEMWBS score 50"), "{recorded}");
    let story: Value = serde_json::from_str(
        &run(
            &store,
            &url,
            &[
                "--json",
                "story",
                "new",
                "--title",
                TITLE,
                "--participant",
                &participant,
                "--consent-scope",
                "project",
                "--text",
                STORY,
            ],
        )
        .await,
    )
    .unwrap();
    let story = story["id"].as_str().unwrap().to_owned();
    run(&store, &url, &["sync"]).await;
    let status = run(&store, &url, &["--json", "status"]).await;
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        status["records"], 4,
        "participant, contact, questionnaire, story"
    );
    assert_eq!(status["unsynced_records"], 0, "{status}");

    // A copy of the files, as a thief would take them.
    let copy = copy_store(&store, &dir.path().join("stolen"));
    let files = files_starting(copy.parent().unwrap(), "mairi.db");
    assert!(!files.is_empty());
    let secrets = [NAME, PHONE, STORY, TITLE, participant.as_str(), "bd1_"];
    for (secret, found) in holders(&files, &secrets) {
        assert!(found.is_empty(), "{secret:?} is in clear in {found:?}");
    }
    // No record's document loads as an Automerge document without the key.
    let raw = dir.path().join("raw");
    let raw_copy = copy_store(&store, &raw);
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", raw_copy.display()))
            .await
            .unwrap();
    let rows = sqlx::query("SELECT id, doc FROM records")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4, "participant, contact, questionnaire, story");
    for row in &rows {
        let doc: Vec<u8> = row.get(1);
        assert!(
            Automerge::load(&doc).is_err(),
            "record {} loads without the key",
            row.get::<String, _>(0)
        );
    }
    conn.close().await.unwrap();

    // Unlocked with the PIN, the copy gives everything back.
    let shown = common::ok(&with_pin(&copy, common::PIN, &["show", &story]));
    assert!(shown.contains(STORY) && shown.contains(TITLE), "{shown}");
    let shown = common::ok(&with_pin(&copy, common::PIN, &["show", &participant]));
    assert!(shown.contains(NAME) && shown.contains(PHONE), "{shown}");
    let listed = common::ok(&with_pin(&copy, common::PIN, &["list"]));
    assert!(
        listed.contains(&participant) && listed.contains(TITLE) && listed.contains("score 50"),
        "{listed}"
    );

    // Locked again, a wrong PIN is refused; after five in a row every try must wait, the right
    // PIN too, and the count is kept in the store across processes.
    common::ok(&with_pin(&copy, common::PIN, &["lock"]));
    for _ in 1..5 {
        let o = with_pin(&copy, "not-the-pin", &["list"]);
        let err = refused(&o, "error: wrong PIN for this store");
        assert!(!err.contains("wait"), "{err}");
        assert!(o.stdout.is_empty());
    }
    refused(
        &with_pin(&copy, "not-the-pin", &["list"]),
        "wrong PIN for this store; 5 wrong PINs in a row: wait 30 seconds before the next try",
    );
    let o = with_pin(&copy, common::PIN, &["show", &story]);
    refused(&o, "too many wrong PINs in a row: wait ");
    assert!(!String::from_utf8_lossy(&o.stdout).contains(STORY));
    // Without a PIN at all, and no terminal, the refusal says how to unlock.
    let o = common::with_pin(&mut Command::new(env!("CARGO_BIN_EXE_bothy")), &copy)
        .env_remove("BOTHY_PIN")
        .arg("--store")
        .arg(&copy)
        .arg("list")
        .output()
        .unwrap();
    refused(&o, "this store is locked: unlock it with your PIN");

    // Once the wait is over (moved to the past here), the right PIN unlocks it.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE meta SET value = '0' WHERE key = 'pin_wait_until'")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let said = common::ok(&with_pin(&copy, common::PIN, &["unlock"]));
    assert!(said.starts_with("unlocked this store"), "{said}");
    let shown = common::ok(&with_pin(&copy, common::PIN, &["show", &story]));
    assert!(shown.contains(STORY), "{shown}");

    // The PIN changes; the records are not rewritten, and the old PIN no longer unlocks.
    let o = common::with_pin(&mut Command::new(env!("CARGO_BIN_EXE_bothy")), &store)
        .env("BOTHY_NEW_PIN", "a-new-pin-for-mairi")
        .arg("--store")
        .arg(&store)
        .args(["pin", "change"])
        .output()
        .unwrap();
    let said = common::ok(&o);
    assert!(said.starts_with("changed the PIN of this store"), "{said}");
    common::ok(&with_pin(&store, common::PIN, &["lock"]));
    refused(
        &with_pin(&store, common::PIN, &["list"]),
        "wrong PIN for this store",
    );
    let listed = common::ok(&with_pin(&store, "a-new-pin-for-mairi", &["list"]));
    assert!(listed.contains(TITLE), "{listed}");
    h.finish().await;
}
