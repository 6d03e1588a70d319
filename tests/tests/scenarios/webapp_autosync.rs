//! The web app syncs by itself, in a real browser (Debian's Chromium driven by
//! tests/browser/webapp-autosync.mjs): a phone enrols, records a session and a participant and
//! unticks an attendee of another device's session offline, reloads twice offline (nothing lost,
//! the header says it is offline with the count waiting), and comes back online: without a click
//! the header reaches "All synced" and the server holds the records. An edit made online is synced
//! after the debounce with no click. Meanwhile another device marked the same attendee "left
//! early": the phone lists the conflict in words and the user keeps "left early"; the choice
//! syncs by itself, and the server, the other device and the phone agree. Screenshots go to
//! target/artifacts/webapp-autosync/<backend>/.

use bothy_device::AttendanceMark;
use bothy_tests::{Backend, Harness, device_heads, on_both_backends, server_heads};
use uuid::Uuid;

on_both_backends!(web_app_syncs_by_itself_and_resolves_a_conflict);

const PROJECT: &str = "strathpeffer";

async fn web_app_syncs_by_itself_and_resolves_a_conflict(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app automatic sync check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("eilidh", PROJECT, "researcher").await;
    h.user("fergus", PROJECT, "researcher").await;
    // The other device: a session with one attendee, synced before the phone enrols.
    let cli = h.device("fergus", "fergus-laptop").await;
    let attendee = cli
        .create_participant(Some(PROJECT), &[("consent.data_use", true.into())])
        .await
        .unwrap()
        .id;
    let session = cli
        .create_session(
            Some(PROJECT),
            &[
                ("site", "spa-pavilion".into()),
                ("activity", "peat-stories".into()),
                ("activity_type", "heritage".into()),
                ("start", "2026-12-03T10:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    cli.mark_attendance(session, attendee, AttendanceMark::Present)
        .await
        .unwrap();
    cli.sync().await.unwrap();

    let code = h.enrolment_code("eilidh").await;
    let out = bothy_tests::artifacts_dir("webapp-autosync", backend);
    let mut script = bothy_tests::BrowserScript::spawn(
        &browser_dir,
        "webapp-autosync.mjs",
        &[
            &h.url(),
            &code,
            &session.to_string(),
            &attendee.to_string(),
            &out,
        ],
        &[],
    );
    let first = script
        .next_line(std::time::Duration::from_secs(240), "its offline work")
        .await;
    assert_eq!(first, "OFFLINE_WORK_DONE", "webapp-autosync.mjs said");

    // Nothing the phone recorded offline reached the server yet.
    let held = h
        .sql(
            "SELECT id FROM records WHERE kind = 'session' AND id <> $1",
            &[&session.to_string()],
        )
        .await;
    assert!(
        held.is_empty(),
        "an offline record reached the server: {held:?}"
    );

    // Meanwhile on the other device: the same attendee marked "left early", synced.
    cli.mark_attendance(session, attendee, AttendanceMark::LeftEarly)
        .await
        .unwrap();
    cli.sync().await.unwrap();
    script.go_on().await;
    let summary = script
        .next_json(std::time::Duration::from_secs(180), "its online work")
        .await;
    script.finish(&summary).await;
    eprintln!(
        "webapp-autosync: status {} syncs {}",
        summary["status"], summary["syncs"]
    );

    // The header said where things stood at each step.
    assert_eq!(
        summary["status"]["conflicts"], "1 conflict to resolve",
        "{summary}"
    );
    for step in ["offline", "reload1", "reload2"] {
        assert!(
            summary["status"][step]
                .as_str()
                .unwrap()
                .starts_with("Offline · "),
            "{step}: {summary}"
        );
    }

    // The server holds the phone's session, with its two participants present, and the other
    // device's session with the mark the user kept.
    let phone_session: Uuid = summary["session"].as_str().unwrap().parse().unwrap();
    let marks = h
        .sql(
            "SELECT participant_id, status FROM attendance WHERE session_id = $1",
            &[&phone_session.to_string()],
        )
        .await;
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert!(marks.iter().all(|r| r["status"] == "present"), "{marks:?}");
    let kept = h
        .sql(
            "SELECT status FROM attendance WHERE session_id = $1 AND participant_id = $2",
            &[&session.to_string(), &attendee.to_string()],
        )
        .await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["status"], "left_early", "{kept:?}");

    // The phone, the server and the other device hold the same documents.
    cli.sync().await.unwrap();
    let web = summary["heads"].as_object().unwrap();
    assert!(web.len() >= 6, "{summary}");
    for (id, heads) in web {
        let id: Uuid = id.parse().unwrap();
        let mut web_heads: Vec<String> = heads
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        web_heads.sort();
        let mut server = server_heads(&h.record(PROJECT, id).await);
        server.sort();
        assert_eq!(web_heads, server, "record {id}: web app and server differ");
    }
    let mut rust = device_heads(&cli, session).await;
    rust.sort();
    let mut server = server_heads(&h.record(PROJECT, session).await);
    server.sort();
    assert_eq!(rust, server, "the other device has not got the choice");
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 6,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}
