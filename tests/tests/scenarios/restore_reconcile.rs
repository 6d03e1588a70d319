//! Devices after the server is restored from a backup, with the real server binary and its
//! `backup` and `restore` commands, on SQLite and PostgreSQL: the server tells every device it
//! has gone back in time (its cursor names another generation), the devices send again what it
//! lost, a device whose position lies behind the restored log's new end still receives
//! everything, and an erasure repeated after restoring a pre-erasure backup does not break
//! devices (the server writes under a new actor in each generation).

use bothy_device::{AttendanceMark, Device, WellbeingForm};
use bothy_sync_core::{FieldValue, Instrument, RecordData, RecordKind};
use bothy_tests::{Backend, ProcessServer, device_heads, on_both_backends, server_heads};
use serde_json::{Value, json};
use std::path::Path;
use uuid::Uuid;

on_both_backends!(
    restore_devices_resend_what_the_server_lost,
    restore_device_behind_the_new_log_end_receives_everything,
    erasure_repeated_after_restore_keeps_devices_syncing,
);

const PROJECT: &str = "strath-walks";

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bothy-test-server"))
}

/// Runs `bothy-server ARGS` on the server's database; panics with its output if it fails.
async fn server_command(server: &ProcessServer, args: &[&str]) {
    let (ok, out, err) = bothy_tests::server_command(bin(), &server.db, args).await;
    assert!(ok, "bothy-server {args:?} failed: {out}{err}");
}

/// Takes a backup of the running server into its test directory.
async fn backup(server: &ProcessServer, name: &str) -> String {
    let file = server.db.dir.path().join(name);
    let file = file.to_str().unwrap().to_owned();
    server_command(server, &["backup", &file]).await;
    file
}

/// Stops the server, restores `file` and starts it again.
async fn restore(server: &mut ProcessServer, file: &str) {
    server.kill().await;
    server_command(server, &["restore", file, "--yes"]).await;
    server.restart().await;
}

async fn participant(device: &Device, age_band: &str) -> Uuid {
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

async fn questionnaire(device: &Device, participant: Uuid, timepoint: &str, answer: i64) -> Uuid {
    device
        .record_wellbeing(&WellbeingForm {
            participant,
            instrument: Instrument::Swemwbs,
            timepoint: timepoint.into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            session: None,
            items: (1..=7u8).map(|i| (i, answer)).collect(),
        })
        .await
        .expect("questionnaire recorded")
}

async fn story(device: &Device, participant: Uuid, body: &str) -> Uuid {
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

async fn sync(device: &Device) -> bothy_device::SyncSummary {
    device.sync().await.expect("sync succeeds")
}

/// The server's copy of a record, or None if it has none.
async fn on_server(server: &ProcessServer, id: Uuid) -> Option<Value> {
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
async fn sql_one(server: &ProcessServer, query: &str, binds: &[&str]) -> Option<String> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&server.db.url)
        .await
        .expect("test database connects");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(query.to_owned()));
    for b in binds {
        q = q.bind(*b);
    }
    let row = q.fetch_one(&mut conn).await.expect("query runs");
    let _ = conn.close().await;
    match row.try_get::<Option<i64>, _>(0) {
        Ok(n) => n.map(|n| n.to_string()),
        Err(_) => row
            .try_get::<Option<String>, _>(0)
            .expect("text or integer"),
    }
}

async fn count(server: &ProcessServer, query: &str, binds: &[&str]) -> i64 {
    sql_one(server, query, binds)
        .await
        .map_or(0, |n| n.parse().expect("a number"))
}

/// The newest position in the server's change log.
async fn log_head(server: &ProcessServer) -> i64 {
    count(server, "SELECT MAX(seq) AS n FROM change_log", &[]).await
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

    // Each device hears the server was restored and sends its own changes again.
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
    assert!(b_sync.reconciled);
    assert_eq!(b_sync.acked, 15);
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
    let x = participant(&a, "65-74").await;
    let y = participant(&a, "25-34").await;
    let s = a
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
        .unwrap();
    a.mark_attendance(s, x, AttendanceMark::Present)
        .await
        .unwrap();
    a.mark_attendance(s, y, AttendanceMark::Present)
        .await
        .unwrap();
    let w = questionnaire(&a, x, "baseline", 3).await;
    sync(&a).await;
    sync(&c).await;
    let file = backup(&server, "before-erasure.bak").await;

    let erase = format!("/api/v1/projects/{PROJECT}/participants/{x}/erase");
    let erased = server.admin(&erase, json!({"reason": "withdrew"})).await;
    assert_eq!(erased["counts"]["sessions_updated"], 1, "{erased}");
    for d in [&a, &c] {
        sync(d).await;
        assert!(d.get(x).await.is_err(), "x purged");
        assert_eq!(marked(d, s).await, vec![y.to_string()]);
    }

    // The pre-erasure backup brings x back; the devices reconcile with it.
    restore(&mut server, &file).await;
    assert!(on_server(&server, x).await.is_some());
    for d in [&a, &c] {
        let summary = sync(d).await;
        assert!(summary.reconciled, "{summary:?}");
    }

    // Erased again: the server's change to the session is under a new actor, so devices that
    // hold the first erasure's change still take it.
    let erased = server.admin(&erase, json!({"reason": "withdrew"})).await;
    assert_eq!(erased["already_erased"], false, "{erased}");
    for d in [&a, &c] {
        sync(d).await;
        sync(d).await;
        for id in [x, w] {
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
    server.finish().await;
}
