//! Field-ready forms in the web app, in a real browser (Debian's Chromium driven by
//! tests/browser/webapp-forms.mjs, a 360 px touch screen whose clock is set to New York): the
//! project's sites and activities as pickers and as names, times entered and shown in UK time
//! and stored in UTC (a British Summer Time start stored an hour earlier), a WEMWBS answered by
//! taps on answers at least 48 px high with its progress announced and its height measured,
//! errors gone as soon as a field is corrected, a session's end, unregistered attendees and
//! notes edited, and a story written from a session, linked to it, with a visible "saved".
//! After the sync the server holds the session and story as entered. With
//! BOTHY_FORMS_BASELINE set to a directory holding a previous build's app.js and app.css, the
//! previous version's questionnaire height is measured too. Screenshots go to
//! target/artifacts/webapp-forms/<backend>/.

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;

on_both_backends!(web_app_forms_are_field_ready);

const PROJECT: &str = "loch-maree";

async fn web_app_forms_are_field_ready(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app forms check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("isla", PROJECT, "researcher").await;
    let sites = format!("/api/v1/admin/projects/{PROJECT}/sites");
    h.admin(&sites, json!({"slug": "hall", "name": "Village hall"}))
        .await;
    h.admin(&sites, json!({"slug": "shore", "name": "The shore"}))
        .await;
    h.admin(
        &format!("/api/v1/admin/projects/{PROJECT}/activities"),
        json!({"slug": "crafts", "name": "Heritage crafts", "activity_type": "heritage", "site": "hall"}),
    )
    .await;
    let code = h.enrolment_code("isla").await;
    let code2 = h.enrolment_code("isla").await;
    let out = bothy_tests::artifacts_dir("webapp-forms", backend);
    let summary = bothy_tests::run_browser_script(
        &browser_dir,
        "webapp-forms.mjs",
        &[&h.url(), &code, &code2, &out],
        std::time::Duration::from_secs(300),
    )
    .await;
    eprintln!("webapp-forms summary: {summary}");
    if let (Some(before), Some(after)) = (
        summary["before"]["form"].as_u64(),
        summary["after"]["form"].as_u64(),
    ) {
        eprintln!("questionnaire form at 360 px: {before} px before, {after} px now");
    }
    // The questionnaire is compact: one question at a time.
    assert!(
        summary["after"]["form"].as_u64().unwrap() < 1000,
        "the questionnaire form is {} px high at 360 px",
        summary["after"]["form"]
    );
    assert_eq!(
        summary["endError"], "The session cannot end before it starts.",
        "{summary}"
    );
    assert!(
        summary["dateError"].as_str().is_some_and(|m| !m.is_empty()),
        "{summary}"
    );
    assert_eq!(
        summary["countError"], "Must be from 0 to 10000.",
        "{summary}"
    );

    // The server holds the times in UTC, the edits, and the story's session.
    let session = summary["session"].as_str().unwrap();
    let rows = h
        .sql(
            "SELECT site, activity, starts_at, ends_at, unregistered_attendees, notes FROM sessions WHERE id = $1",
            &[session],
        )
        .await;
    assert_eq!(rows.len(), 1, "session {session} on the server: {rows:?}");
    let row = &rows[0];
    assert_eq!(row["site"], "hall", "{row:?}");
    assert_eq!(row["activity"], "crafts", "{row:?}");
    assert_eq!(row["starts_at"], "2026-06-15T09:00:00Z", "{row:?}");
    assert_eq!(row["ends_at"], "2026-06-15T12:30:00Z", "{row:?}");
    assert_eq!(row["unregistered_attendees"], 3, "{row:?}");
    assert_eq!(row["notes"], "Good turnout; the loom came out.", "{row:?}");
    let story = summary["story"].as_str().unwrap();
    let rows = h
        .sql("SELECT session_id FROM stories WHERE id = $1", &[story])
        .await;
    assert_eq!(rows.len(), 1, "story {story} on the server: {rows:?}");
    assert_eq!(rows[0]["session_id"], session, "{rows:?}");
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 10,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}
