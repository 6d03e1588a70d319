//! Devices after the server is restored from a backup, with the real server binary and its
//! `backup` and `restore` commands, on SQLite and PostgreSQL: the server tells every device it
//! has gone back in time (its cursor names another generation), the devices send again what it
//! lost, a device whose position lies behind the restored log's new end still receives
//! everything; erasures made after the backup are made again by the restore when the database
//! it replaces is readable, and by hand when that database is lost, and in both cases the
//! erased participant's data leaves every file of the server and of the devices (searched byte
//! by byte) while devices keep syncing.

use bothy_device::{AttendanceMark, Device, WellbeingForm};
use bothy_sync_core::protocol::ReportKind;
use bothy_sync_core::{FieldValue, Instrument, RecordData, RecordKind};
use bothy_tests::disk::{assert_found, assert_gone, server_files, server_files_with, store_files};
use bothy_tests::{Backend, ProcessServer, device_heads, on_both_backends, server_heads};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use uuid::Uuid;

on_both_backends!(
    restore_devices_resend_what_the_server_lost,
    restore_device_behind_the_new_log_end_receives_everything,
    erasure_repeated_after_restore_keeps_devices_syncing,
    restore_makes_again_erasures_made_after_the_backup,
);

pub(crate) const PROJECT: &str = "strath-walks";

/// A participant's name, phone and story text that must leave the disk once they are erased.
const NAME: &str = "Morag Strachan-Lindores";
const PHONE: &str = "07700 900733";
const STORY: &str =
    "The ospreys came back to the loch above Kinlochewe in the second week of April.";
const NEEDLES: [&str; 3] = [NAME, PHONE, STORY];

pub(crate) fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bothy-test-server"))
}

/// Runs `bothy-server ARGS` on the server's database; panics with its output if it fails, and
/// returns what it printed (standard output, then standard error).
async fn server_command(server: &ProcessServer, args: &[&str]) -> String {
    let (ok, out, err) = bothy_tests::server_command(bin(), &server.db, args).await;
    assert!(ok, "bothy-server {args:?} failed: {out}{err}");
    format!("{out}{err}")
}

/// Takes a backup of the running server into its test directory.
pub(crate) async fn backup(server: &ProcessServer, name: &str) -> String {
    let file = server.db.dir.path().join(name);
    let file = file.to_str().unwrap().to_owned();
    server_command(server, &["backup", &file]).await;
    file
}

/// Stops the server, restores `file` and starts it again; returns what `restore` printed.
pub(crate) async fn restore(server: &mut ProcessServer, file: &str) -> String {
    server.kill().await;
    let out = server_command(server, &["restore", file, "--yes"]).await;
    server.restart().await;
    out
}

/// Loses the stopped server's database, as when its disk fails: on SQLite its files are
/// deleted, on PostgreSQL its schema is emptied. Only backups are left.
async fn lose_database(server: &mut ProcessServer, backend: Backend) {
    server.kill().await;
    match backend {
        Backend::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let file = server.db.dir.path().join(format!("bothy.db{suffix}"));
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => panic!("cannot delete {}: {e}", file.display()),
                }
            }
            assert!(!server.db.dir.path().join("bothy.db").exists());
        }
        Backend::Postgres => {
            server.db.sql("DROP SCHEMA public CASCADE", &[]).await;
            server.db.sql("CREATE SCHEMA public", &[]).await;
            let tables = server
                .db
                .sql(
                    "SELECT COUNT(*) AS n FROM pg_tables WHERE schemaname = 'public'",
                    &[],
                )
                .await;
            assert_eq!(tables[0]["n"], 0, "the schema is empty");
        }
    }
}

pub(crate) async fn participant(device: &Device, age_band: &str) -> Uuid {
    device
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("age_band", age_band.into()),
            ],
        )
        .await
        .expect("participant created")
        .id
}

/// A participant with a name and phone number (the strings searched for on the disk).
async fn identified_participant(device: &Device) -> Uuid {
    bothy_tests::disk::identified_participant(device, NAME, PHONE).await
}

pub(crate) async fn questionnaire(
    device: &Device,
    participant: Uuid,
    timepoint: &str,
    answer: i64,
) -> Uuid {
    device
        .record_wellbeing(&WellbeingForm {
            participant,
            instrument: Instrument::Swemwbs.to_string(),
            timepoint: timepoint.into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            session: None,
            items: (1..=7u8).map(|i| (i, answer)).collect(),
        })
        .await
        .expect("questionnaire recorded")
}

pub(crate) async fn story(device: &Device, participant: Uuid, body: &str) -> Uuid {
    device
        .create_story(
            None,
            &[
                ("title", "By the burn".into()),
                ("body", body.into()),
                ("consent_scope", "project".into()),
                ("participant", FieldValue::from(participant.to_string())),
            ],
        )
        .await
        .expect("story created")
}

/// A walk at Strath hall.
pub(crate) async fn session(device: &Device) -> Uuid {
    device
        .create_session(
            None,
            &[
                ("site", "strath-hall".into()),
                ("activity", "walk".into()),
                ("activity_type", "walking".into()),
                ("start", "2026-11-03T10:00:00Z".into()),
            ],
        )
        .await
        .expect("session created")
}

pub(crate) async fn sync(device: &Device) -> bothy_device::SyncSummary {
    device.sync().await.expect("sync succeeds")
}

/// The server's copy of a record, or None if it has none.
pub(crate) async fn on_server(server: &ProcessServer, id: Uuid) -> Option<Value> {
    server
        .get_as(
            &format!("/api/v1/projects/{PROJECT}/records/{id}"),
            &server.admin_token,
        )
        .await
        .ok()
}

/// The first column of the first row of a query on the server's database, as text (numbers
/// written out), or None for SQL NULL.
pub(crate) async fn sql_one(server: &ProcessServer, query: &str, binds: &[&str]) -> Option<String> {
    let rows = server.db.sql(query, binds).await;
    let row = rows.first().expect("the query returns a row");
    match row.values().next().expect("the row has a column") {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

pub(crate) async fn count(server: &ProcessServer, query: &str, binds: &[&str]) -> i64 {
    sql_one(server, query, binds)
        .await
        .map_or(0, |n| n.parse().expect("a number"))
}

/// The newest position in the server's change log.
async fn log_head(server: &ProcessServer) -> i64 {
    count(server, "SELECT MAX(seq) AS n FROM change_log", &[]).await
}

/// The ids of every record the server holds in the project.
pub(crate) async fn server_ids(server: &ProcessServer) -> BTreeSet<Uuid> {
    server
        .db
        .sql("SELECT id FROM records WHERE project = $1", &[PROJECT])
        .await
        .iter()
        .map(|r| r["id"].as_str().expect("text id").parse().expect("a uuid"))
        .collect()
}

/// The ids of every record a device holds.
pub(crate) async fn device_ids(device: &Device) -> BTreeSet<Uuid> {
    device
        .list(None)
        .await
        .expect("the device lists its records")
        .iter()
        .map(|r| r.id)
        .collect()
}

/// Where the erased strings are searched: the server's database files (with `earlier` ones)
/// and the stores of the devices named `devices`.
async fn disk_places(
    server: &ProcessServer,
    backend: Backend,
    earlier: &[PathBuf],
    devices: &[&str],
) -> Vec<(String, Vec<PathBuf>)> {
    let mut places = vec![(
        "the server's database".to_owned(),
        server_files_with(&server.db, backend, earlier).await,
    )];
    for d in devices {
        places.push((format!("device {d}'s store"), store_files(&server.db, d)));
    }
    places
}

async fn restore_devices_resend_what_the_server_lost(backend: Backend) {
    let Some(mut server) = ProcessServer::start(backend, bin()).await else {
        return;
    };
    server.project(PROJECT).await;
    server.user("isla", PROJECT, "researcher").await;
    server.user("rory", PROJECT, "researcher").await;
    let a = server.device("isla", "tablet").await;
    let b = server.device("rory", "phone").await;

    // Before the backup: each device records and syncs; each holds the other's records.
    let pa1 = participant(&a, "65-74").await;
    let qa1 = questionnaire(&a, pa1, "baseline", 3).await;
    let sa1 = story(&a, pa1, "We walked to the falls.").await;
    let pb1 = participant(&b, "25-34").await;
    let qb1 = questionnaire(&b, pb1, "baseline", 4).await;
    sync(&a).await;
    sync(&b).await;
    sync(&a).await;
    let file = backup(&server, "before.bak").await;

    // After it: more on both, synced and acknowledged, then lost by the restore.
    let pa2 = participant(&a, "45-54").await;
    let qa2 = questionnaire(&a, pb1, "interim", 5).await;
    assert!(
        a.edit_story_body(sa1, "We walked to the falls and back.")
            .await
            .unwrap()
    );
    let pb2 = participant(&b, "75-84").await;
    let sb2 = story(&b, pb2, "The heron stood still.").await;
    a.edit(pb1, |e| e.set("age_band", "35-44")).await.unwrap();
    for d in [&a, &b, &a, &b] {
        sync(d).await;
    }
    for d in [&a, &b] {
        assert_eq!(d.status().await.unwrap().unsynced_records, 0);
    }
    restore(&mut server, &file).await;
    assert!(on_server(&server, pa2).await.is_none(), "pa2 was lost");
    assert!(on_server(&server, sb2).await.is_none(), "sb2 was lost");

    // Each device hears the server was restored and sends again what the server lost.
    let first_a = sync(&a).await;
    assert!(first_a.reconciled, "{first_a:?}");
    assert_eq!(first_a.set_aside, 0, "{first_a:?}");
    let first_b = sync(&b).await;
    assert!(first_b.reconciled, "{first_b:?}");
    assert_eq!(first_b.set_aside, 0, "{first_b:?}");
    // A receives what B sent again (and B what A did, on its first sync already).
    let again_a = sync(&a).await;
    assert!(!again_a.reconciled);

    let all = [pa1, qa1, sa1, pb1, qb1, pa2, qa2, pb2, sb2];
    for id in all {
        let record = on_server(&server, id)
            .await
            .unwrap_or_else(|| panic!("the server lacks {id} after reconciling"));
        for d in [&a, &b] {
            assert_eq!(
                device_heads(d, id).await,
                server_heads(&record),
                "record {id}: the device and the server hold the same history"
            );
        }
    }
    // The projected values are those recorded after the backup.
    let body = sql_one(
        &server,
        "SELECT body FROM stories WHERE id = $1",
        &[&sa1.to_string()],
    )
    .await;
    assert_eq!(body.as_deref(), Some("We walked to the falls and back."));
    let band = sql_one(
        &server,
        "SELECT age_band FROM participants WHERE id = $1",
        &[&pb1.to_string()],
    )
    .await;
    assert_eq!(
        band.as_deref(),
        Some("35-44"),
        "A's edit of B's participant"
    );
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) AS n FROM participants WHERE project = $1",
            &[PROJECT]
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) AS n FROM wellbeing_responses WHERE project = $1",
            &[PROJECT]
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) AS n FROM stories WHERE project = $1",
            &[PROJECT]
        )
        .await,
        2
    );
    for d in [&a, &b] {
        let status = d.status().await.unwrap();
        assert_eq!(status.unsynced_records, 0, "{status:?}");
        assert!(d.set_aside_records(10).await.unwrap().is_empty());
        assert_eq!(d.list(None).await.unwrap().len(), all.len());
    }
    // And then it is quiet.
    for d in [&a, &b] {
        let quiet = sync(d).await;
        assert_eq!(
            (
                quiet.pushed,
                quiet.received,
                quiet.reconciled,
                quiet.requests
            ),
            (0, 0, false, 1),
            "{quiet:?}"
        );
    }
    server.finish().await;
}

async fn restore_device_behind_the_new_log_end_receives_everything(backend: Backend) {
    let Some(mut server) = ProcessServer::start(backend, bin()).await else {
        return;
    };
    server.project(PROJECT).await;
    server.user("isla", PROJECT, "researcher").await;
    server.user("rory", PROJECT, "researcher").await;
    let a = server.device("isla", "tablet").await;
    let b = server.device("rory", "phone").await;
    let mut a_ids = Vec::new();
    for _ in 0..2 {
        a_ids.push(participant(&a, "65-74").await);
    }
    sync(&a).await;
    sync(&b).await;
    let file = backup(&server, "at-two.bak").await;
    for _ in 0..10 {
        a_ids.push(participant(&a, "45-54").await);
    }
    sync(&a).await;
    let position = log_head(&server).await;
    assert!(position >= 12, "A's position is {position}");
    restore(&mut server, &file).await;

    // B records 15 after the restore: the restored log passes A's old position.
    let mut b_ids = Vec::new();
    for _ in 0..15 {
        b_ids.push(participant(&b, "25-34").await);
    }
    let b_sync = sync(&b).await;
    assert!(b_sync.reconciled, "{b_sync:?}");
    assert_eq!(b.status().await.unwrap().unsynced_records, 0, "{b_sync:?}");
    for id in &b_ids {
        assert!(
            on_server(&server, *id).await.is_some(),
            "B's {id} is stored: {b_sync:?}"
        );
    }
    let head = log_head(&server).await;
    assert!(
        head > position,
        "the restored log's end ({head}) is past A's position ({position})"
    );

    let a_sync = sync(&a).await;
    assert!(a_sync.reconciled, "{a_sync:?}");
    let held: std::collections::BTreeSet<Uuid> = a
        .list(Some(RecordKind::Participant))
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    for id in &b_ids {
        assert!(held.contains(id), "A never received B's {id}");
    }
    sync(&b).await;
    for id in a_ids.iter().chain(&b_ids) {
        assert!(
            on_server(&server, *id).await.is_some(),
            "the server lacks {id}"
        );
    }
    for d in [&a, &b] {
        assert_eq!(d.list(None).await.unwrap().len(), 27);
        assert_eq!(d.status().await.unwrap().unsynced_records, 0);
    }
    server.finish().await;
}

/// The participants marked in a session on a device.
async fn marked(device: &Device, session: Uuid) -> Vec<String> {
    match device.get(session).await.unwrap().view.data {
        RecordData::Session(s) => s.attendance.keys().cloned().collect(),
        other => panic!("not a session: {other:?}"),
    }
}

async fn erasure_repeated_after_restore_keeps_devices_syncing(backend: Backend) {
    let Some(mut server) = ProcessServer::start(backend, bin()).await else {
        return;
    };
    server.project(PROJECT).await;
    server.user("isla", PROJECT, "researcher").await;
    server.user("cora", PROJECT, "coordinator").await;
    let a = server.device("isla", "tablet").await;
    let c = server.device("cora", "laptop").await;
    let x = identified_participant(&a).await;
    let y = participant(&a, "25-34").await;
    let s = session(&a).await;
    a.mark_attendance(s, x, AttendanceMark::Present)
        .await
        .unwrap();
    a.mark_attendance(s, y, AttendanceMark::Present)
        .await
        .unwrap();
    let w = questionnaire(&a, x, "baseline", 3).await;
    let t = story(&a, x, STORY).await;
    sync(&a).await;
    sync(&c).await;
    let devices = ["tablet", "laptop"];
    assert_found(
        &disk_places(&server, backend, &[], &devices).await,
        &NEEDLES,
        "before the erasure",
    );
    let file = backup(&server, "before-erasure.bak").await;

    let erase = format!("/api/v1/projects/{PROJECT}/participants/{x}/erase");
    let erased = server.admin(&erase, json!({"reason": "withdrew"})).await;
    assert_eq!(erased["counts"]["sessions_updated"], 1, "{erased}");
    for d in [&a, &c] {
        sync(d).await;
        assert!(d.get(x).await.is_err(), "x purged");
        assert_eq!(marked(d, s).await, vec![y.to_string()]);
    }

    // The database that recorded the erasure is lost: only the pre-erasure backup is left,
    // and it brings x back. The devices reconcile with it and receive x again.
    let lost_files = server_files(&server.db, backend).await;
    lose_database(&mut server, backend).await;
    restore(&mut server, &file).await;
    assert!(on_server(&server, x).await.is_some());
    for d in [&a, &c] {
        let summary = sync(d).await;
        assert!(summary.reconciled, "{summary:?}");
    }
    let restored_files = server_files(&server.db, backend).await;
    assert_found(
        &disk_places(&server, backend, &[], &devices).await,
        &NEEDLES,
        "after the restore, before erasing again,",
    );

    // Erased again by hand: the server's change to the session is under a new actor, so
    // devices that hold the first erasure's change still take it.
    let erased = server.admin(&erase, json!({"reason": "withdrew"})).await;
    assert_eq!(erased["already_erased"], false, "{erased}");
    for d in [&a, &c] {
        sync(d).await;
        sync(d).await;
        for id in [x, w, t] {
            assert!(d.get(id).await.is_err(), "{id} is gone from the device");
        }
        assert_eq!(marked(d, s).await, vec![y.to_string()]);
        assert_eq!(d.status().await.unwrap().unsynced_records, 0);
        assert!(d.set_aside_records(10).await.unwrap().is_empty());
    }
    let marks = count(
        &server,
        "SELECT COUNT(*) AS n FROM attendance WHERE participant_id = $1",
        &[&x.to_string()],
    )
    .await;
    assert_eq!(marks, 0, "no attendance of x is projected");

    // Nothing of x is left on the disk: not in the restored database's files (nor in those
    // of the lost one, if any are still there), nor in either store.
    let earlier: Vec<PathBuf> = lost_files.into_iter().chain(restored_files).collect();
    assert_gone(
        &disk_places(&server, backend, &earlier, &devices).await,
        &NEEDLES,
        "after erasing again",
    );

    // Every device still records and syncs.
    every_device_keeps_syncing(&server, &[&a, &c]).await;
    server.finish().await;
}

/// Each device records a participant and syncs; the server stores each, and then every device
/// holds what the server holds, all acknowledged, nothing set aside.
async fn every_device_keeps_syncing(server: &ProcessServer, devices: &[&Device]) {
    for d in devices {
        let p = participant(d, "35-44").await;
        let summary = sync(d).await;
        assert_eq!(summary.set_aside, 0, "{summary:?}");
        assert!(
            on_server(server, p).await.is_some(),
            "the server stores {p}: {summary:?}"
        );
    }
    for d in devices {
        sync(d).await;
    }
    let held = server_ids(server).await;
    for d in devices {
        assert_eq!(
            device_ids(d).await,
            held,
            "the device holds what the server holds"
        );
        let status = d.status().await.unwrap();
        assert_eq!(status.unsynced_records, 0, "{status:?}");
        assert!(d.set_aside_records(10).await.unwrap().is_empty());
    }
}

async fn restore_makes_again_erasures_made_after_the_backup(backend: Backend) {
    let Some(mut server) = ProcessServer::start(backend, bin()).await else {
        return;
    };
    server.project(PROJECT).await;
    server.user("isla", PROJECT, "researcher").await;
    server.user("rory", PROJECT, "researcher").await;
    server.user("cora", PROJECT, "coordinator").await;
    let a = server.device("isla", "tablet").await;
    let b = server.device("rory", "phone").await;
    let c = server.device("cora", "laptop").await;
    let devices = ["tablet", "phone", "laptop"];
    let x = identified_participant(&a).await;
    let y = participant(&a, "25-34").await;
    let s = session(&a).await;
    a.mark_attendance(s, x, AttendanceMark::Present)
        .await
        .unwrap();
    a.mark_attendance(s, y, AttendanceMark::Present)
        .await
        .unwrap();
    let w = questionnaire(&a, x, "baseline", 3).await;
    let t = story(&a, x, STORY).await;
    for d in [&a, &b, &c] {
        sync(d).await;
    }
    for d in [&b, &c] {
        for id in [x, w, t] {
            assert!(d.get(id).await.is_ok(), "{id} reached every device");
        }
    }
    let file = backup(&server, "before-erasure.bak").await;
    assert_found(
        &disk_places(&server, backend, &[], &devices).await,
        &NEEDLES,
        "before the erasure",
    );
    let files_before = server_files(&server.db, backend).await;

    // B, offline, edits x and records another questionnaire about them.
    assert!(b.edit(x, |e| e.set("age_band", "75-84")).await.unwrap());
    let w2 = questionnaire(&b, x, "interim", 4).await;

    // x is erased after the backup; A and C sync and purge, B does not sync.
    let erase = format!("/api/v1/projects/{PROJECT}/participants/{x}/erase");
    let erased = server.admin(&erase, json!({"reason": "withdrew"})).await;
    assert_eq!(erased["already_erased"], false, "{erased}");
    for d in [&a, &c] {
        let summary = sync(d).await;
        assert_eq!(
            summary.erased, 4,
            "x, their contact record, w and t purged: {summary:?}"
        );
        for id in [x, w, t] {
            assert!(d.get(id).await.is_err(), "{id} purged");
        }
        assert_eq!(marked(d, s).await, vec![y.to_string()]);
    }
    for id in [x, w, t, w2] {
        assert!(b.get(id).await.is_ok(), "B, not synced, still holds {id}");
    }

    // Restoring the pre-erasure backup over the live database makes the erasure again.
    let out = restore(&mut server, &file).await;
    let names_one = |line: &str| {
        line.split(|ch: char| !ch.is_ascii_digit())
            .any(|n| n == "1")
    };
    assert!(
        out.lines()
            .any(|line| line.contains("made again") && names_one(line)),
        "the restore says it made one erasure again: {out}"
    );
    for id in [x, w, t] {
        assert!(
            on_server(&server, id).await.is_none(),
            "the restored server does not hold {id}"
        );
    }
    for (table, id) in [
        ("participants", x),
        ("wellbeing_responses", w),
        ("stories", t),
    ] {
        let rows = count(
            &server,
            &format!("SELECT COUNT(*) AS n FROM {table} WHERE id = $1"),
            &[&id.to_string()],
        )
        .await;
        assert_eq!(rows, 0, "{table} has no row of {id}");
    }
    let held = server_ids(&server).await;
    for id in [x, w, t] {
        assert!(!held.contains(&id), "no document of {id}");
        let logged = count(
            &server,
            "SELECT COUNT(*) AS n FROM change_log WHERE record_id = $1",
            &[&id.to_string()],
        )
        .await;
        assert_eq!(logged, 0, "no change of {id} in the log");
    }
    let tombstones = count(
        &server,
        "SELECT COUNT(*) AS n FROM erasures WHERE participant_id = $1",
        &[&x.to_string()],
    )
    .await;
    assert_eq!(
        tombstones, 4,
        "x, their contact record, w and t are tombstoned"
    );
    let marks = count(
        &server,
        "SELECT COUNT(*) AS n FROM attendance WHERE participant_id = $1",
        &[&x.to_string()],
    )
    .await;
    assert_eq!(marks, 0, "no attendance of x is projected");
    let again = server.admin(&erase, json!({})).await;
    assert_eq!(again["already_erased"], true, "{again}");

    // A and C reconcile without x coming back.
    for d in [&a, &c] {
        let summary = sync(d).await;
        assert!(summary.reconciled, "{summary:?}");
        assert_eq!(summary.set_aside, 0, "{summary:?}");
        for id in [x, w, t] {
            assert!(d.get(id).await.is_err(), "{id} did not come back");
        }
    }

    // B's first sync since the erasure: it is told, and what it sends of x is refused as
    // erased, stored nowhere.
    let summary = sync(&b).await;
    assert!(summary.reconciled, "{summary:?}");
    assert_eq!(summary.set_aside, 0, "{summary:?}");
    assert_eq!(
        summary.erased, 5,
        "x, their contact record, w, t and w2 purged: {summary:?}"
    );
    for id in [x, w2] {
        assert!(
            summary
                .reports
                .iter()
                .any(|r| r.id == id && r.kind == ReportKind::Erased),
            "B's push of {id} is refused as erased: {summary:?}"
        );
    }
    for id in [x, w, t, w2] {
        assert!(b.get(id).await.is_err(), "B no longer holds {id}");
        assert!(
            on_server(&server, id).await.is_none(),
            "the server did not store {id} from B"
        );
        let quarantined = count(
            &server,
            "SELECT COUNT(*) AS n FROM quarantine WHERE record_id = $1",
            &[&id.to_string()],
        )
        .await;
        assert_eq!(quarantined, 0, "nothing of {id} is kept in quarantine");
    }
    for d in [&a, &b, &c] {
        assert_eq!(marked(d, s).await, vec![y.to_string()]);
    }

    every_device_keeps_syncing(&server, &[&a, &b, &c]).await;

    // Nothing of x is left on the disk: not in the restored database (nor in the files of
    // the database it replaced, if any are still there), nor in any store.
    assert_gone(
        &disk_places(&server, backend, &files_before, &devices).await,
        &NEEDLES,
        "after the restore made the erasure again and the devices synced",
    );
    server.finish().await;
}
