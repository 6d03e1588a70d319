//! The demo programme: `bothy-server demo` fills a project marked as a demo with a synthetic
//! year of a programme, written as the server's own records; the outcomes report has figures
//! for every measure; a member's device pulls the records like any other. Removing it deletes
//! the project and everything in it, the member's device deletes its copies at its next sync,
//! and other projects are untouched; removing it again, or removing a project that is not a
//! demo, is refused.

use bothy_server::demo::{self, DemoOptions};
use bothy_server::error::ApiError;
use bothy_sync_core::RecordKind;
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;

on_both_backends!(demo_fills_and_removes);

async fn count(h: &Harness, sql: &str, project: &str) -> i64 {
    h.db.sql(sql, &[project]).await[0]["n"].as_i64().unwrap()
}

async fn demo_fills_and_removes(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("real").await;
    h.user("ruth", "real", "coordinator").await;
    let ruth = h.device("ruth", "ruth-phone").await;
    let own = ruth.create_participant(Some("real"), &[]).await.unwrap().id;
    ruth.sync().await.unwrap();
    let records = "SELECT COUNT(*) AS n FROM records WHERE project = $1";
    let real_before = count(&h, records, "real").await;

    let db = bothy_server::storage::Db::connect(&h.db.url).await.unwrap();
    let opts = DemoOptions::ending("demo", 11, 60, chrono::Utc::now().date_naive());
    let started = std::time::Instant::now();
    let created = demo::create(&db, &opts).await.unwrap();
    let took = started.elapsed();
    assert!(took.as_secs() < 30, "{took:?}");
    assert_eq!(created.participants, 60);
    let total = created.participants
        + created.contacts
        + created.sessions
        + created.responses
        + created.stories;
    assert_eq!(count(&h, records, "demo").await, total as i64);
    // Every record has its whole history in the change log, as the server's.
    let logged = "SELECT COUNT(DISTINCT record_id) AS n FROM change_log \
                  WHERE project = $1 AND device_id IS NULL";
    assert_eq!(count(&h, logged, "demo").await, total as i64);
    let marked =
        h.db.sql("SELECT name, demo FROM projects WHERE slug = $1", &["demo"])
            .await;
    assert_eq!(marked[0]["demo"], json!(1));
    assert!(marked[0]["name"].as_str().unwrap().contains("synthetic"));
    // The slug is taken now.
    assert!(matches!(
        demo::create(&db, &opts).await,
        Err(ApiError::Conflict(_))
    ));

    // An analyst sees figures for every measure.
    h.user("ana", "demo", "analyst").await;
    let analyst = h.login("ana", "ana-password").await.unwrap();
    let outcomes = h
        .get_as("/api/v1/projects/demo/reports/outcomes", &analyst)
        .await
        .unwrap();
    let measures = outcomes["measures"].as_array().unwrap();
    for name in [
        "wemwbs",
        "swemwbs",
        "ons4_life_satisfaction",
        "ons4_anxiety",
    ] {
        let m = measures
            .iter()
            .find(|m| m["measure"] == name)
            .unwrap_or_else(|| panic!("{name}: {outcomes}"));
        assert!(m["n"].as_i64().unwrap_or(0) >= 5, "{name}: {m}");
    }
    let attendance = h
        .get_as("/api/v1/projects/demo/reports/attendance", &analyst)
        .await
        .unwrap();
    assert!(!attendance.is_null());

    // A member's device pulls the demo records.
    h.admin(
        "/api/v1/admin/projects/demo/members",
        json!({"username": "ruth", "role": "coordinator"}),
    )
    .await;
    ruth.sync().await.unwrap();
    let held = |list: &[bothy_device::RecordSummary], project: &str| {
        list.iter().filter(|r| r.project == project).count()
    };
    let on_ruth = ruth.list(None).await.unwrap();
    assert_eq!(
        held(&on_ruth, "demo"),
        total,
        "every demo record reaches the device"
    );
    let participant = on_ruth
        .iter()
        .find(|r| r.project == "demo" && r.kind == RecordKind::Participant)
        .unwrap();
    assert!(ruth.get(participant.id).await.is_ok());

    // Only a demo is removed.
    assert!(matches!(
        demo::remove(&db, "real").await,
        Err(ApiError::Conflict(_))
    ));
    assert_eq!(count(&h, records, "real").await, real_before);
    let removed = demo::remove(&db, "demo").await.unwrap();
    assert_eq!(removed.records, total as u64);
    assert_eq!(removed.memberships, 2);
    for table in [
        "SELECT COUNT(*) AS n FROM records WHERE project = $1",
        "SELECT COUNT(*) AS n FROM change_log WHERE project = $1",
        "SELECT COUNT(*) AS n FROM participants WHERE project = $1",
        "SELECT COUNT(*) AS n FROM sessions WHERE project = $1",
        "SELECT COUNT(*) AS n FROM attendance WHERE project = $1",
        "SELECT COUNT(*) AS n FROM wellbeing_responses WHERE project = $1",
        "SELECT COUNT(*) AS n FROM wellbeing_items WHERE project = $1",
        "SELECT COUNT(*) AS n FROM stories WHERE project = $1",
        "SELECT COUNT(*) AS n FROM contacts WHERE project = $1",
        "SELECT COUNT(*) AS n FROM sites WHERE project = $1",
        "SELECT COUNT(*) AS n FROM activities WHERE project = $1",
        "SELECT COUNT(*) AS n FROM memberships WHERE project = $1",
        "SELECT COUNT(*) AS n FROM projects WHERE slug = $1",
    ] {
        assert_eq!(count(&h, table, "demo").await, 0, "{table}");
    }
    assert!(matches!(
        demo::remove(&db, "demo").await,
        Err(ApiError::NotFound(_))
    ));
    let audit =
        h.db.sql(
            "SELECT action FROM audit_log WHERE project = $1 ORDER BY id",
            &["demo"],
        )
        .await;
    let actions: Vec<&str> = audit.iter().filter_map(|r| r["action"].as_str()).collect();
    assert!(
        actions.contains(&"demo.create") && actions.contains(&"demo.remove"),
        "{actions:?}"
    );

    // The member's device deletes its copies at its next sync, and keeps its own project's.
    let summary = ruth.sync().await.unwrap();
    assert!(summary.withdrawn as usize >= total, "{summary:?}");
    let on_ruth = ruth.list(None).await.unwrap();
    assert_eq!(held(&on_ruth, "demo"), 0);
    assert!(ruth.get(participant.id).await.is_err());
    assert!(ruth.get(own).await.is_ok());
    assert_eq!(count(&h, records, "real").await, real_before);
    db.pool.close().await;
    h.finish().await;
}
