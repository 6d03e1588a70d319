//! Participants and follow-ups in the web app, in a real browser (Debian's Chromium driven by
//! tests/browser/webapp-people.mjs at 360 px): a coordinator sets the project's follow-up
//! schedule (the end questionnaire 8 weeks after the baseline) over HTTP; a researcher's phone
//! enrols, registers three people with every field of the participant and contact records
//! (an IMD decile of 11 refused beside its field), edits one, finds them by name and
//! by code in the people list, takes a WEMWBS baseline from a person's page, is stopped by a
//! warning before saving a second baseline, and sees who is due on the home screen and at a
//! session's attendance (where registering asks for every field too); with the
//! page's clock 8 weeks on, the first person is due their end questionnaire and the others are
//! overdue their baseline. Every screen passes axe (WCAG 2.2 A/AA). Screenshots go to
//! target/artifacts/webapp-people/<backend>/.

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;

on_both_backends!(web_app_lists_people_and_who_is_due);

const PROJECT: &str = "loch-arkaig";

async fn web_app_lists_people_and_who_is_due(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app people check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("catriona", PROJECT, "researcher").await;
    h.user("mairi", PROJECT, "coordinator").await;
    let coordinator = h
        .login("mairi", "mairi-password")
        .await
        .expect("the coordinator logs in");
    let res = h
        .http
        .put(format!("{}/api/v1/projects/{PROJECT}/followups", h.url()))
        .bearer_auth(&coordinator)
        .json(&json!({"followups": [{"timepoint": "end", "after_weeks": 8}]}))
        .send()
        .await
        .expect("the schedule request is answered");
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    // A server without the schedule route: the people screens are still checked, the 8 weeks not.
    let schedule = status != reqwest::StatusCode::NOT_FOUND
        && status != reqwest::StatusCode::METHOD_NOT_ALLOWED;
    if schedule {
        assert!(
            status.is_success(),
            "setting the follow-up schedule answered {status}: {body}"
        );
    } else {
        bothy_tests::print_skip("the server has no follow-up schedule route: the 8-week check");
    }
    let code = h.enrolment_code("catriona").await;
    let out = bothy_tests::artifacts_dir("webapp-people", backend);
    let summary = bothy_tests::run_browser_script(
        &browser_dir,
        "webapp-people.mjs",
        &[
            &h.url(),
            &code,
            &PROJECT,
            &out,
            &if schedule { "schedule" } else { "no-schedule" },
        ],
        std::time::Duration::from_secs(300),
    )
    .await;
    assert_eq!(
        summary["people"].as_array().map(Vec::len),
        Some(3),
        "{summary}"
    );
    assert_eq!(
        summary["unconfirmed"],
        "Tick this box to save a second baseline, or choose another timepoint.",
        "{summary}"
    );
    assert_eq!(summary["noMatch"], "0 matches.", "{summary}");
    if schedule {
        assert_eq!(summary["secondDefault"], "end", "{summary}");
        assert_eq!(
            summary["dueLater"].as_array().map(Vec::len),
            Some(4),
            "{summary}"
        );
    }
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 10,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}
