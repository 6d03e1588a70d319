//! A whole programme on the phone app, in a real browser (Debian's Chromium driven by
//! tests/browser/webapp-programme.mjs, 360 px wide): the project has a site, an activity and a
//! follow-up schedule (the end questionnaire 8 weeks after the baseline) set over HTTP by the
//! admin. With the browser's clock 8 weeks in the past, a researcher enrols a phone, registers
//! 5 participants with every field, creates a session from the site and activity pickers, marks
//! them present, takes 5 WEMWBS baselines by tapping answers, writes a story linked to the
//! session, then goes offline, reloads and records a second session; back online, the app syncs
//! by itself. With the clock at today, the due list on the home screen names the 5, each end
//! questionnaire is taken from it, and a second baseline needs confirming. Afterwards the server
//! holds all of it and its outcome report pairs 5 baselines with their end questionnaires.
//! Every screen is checked with axe and saved to target/artifacts/webapp-programme/<backend>/
//! (`BOTHY_SCREENSHOTS=docs/screenshots` copies the ones the README shows there too).

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(web_app_carries_a_programme_from_baseline_to_end);

const PROJECT: &str = "strath-arts";

async fn web_app_carries_a_programme_from_baseline_to_end(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app programme check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.admin(
        &format!("/api/v1/admin/projects/{PROJECT}/sites"),
        json!({"slug": "dingwall-hall", "name": "Dingwall community hall"}),
    )
    .await;
    h.admin(
        &format!("/api/v1/admin/projects/{PROJECT}/activities"),
        json!({"slug": "printmaking", "name": "Printmaking circle", "activity_type": "arts", "site": "dingwall-hall"}),
    )
    .await;
    h.user("eilidh", PROJECT, "researcher").await;
    // The follow-up schedule: the end questionnaire 8 weeks after the baseline.
    let res = h
        .http
        .put(format!("{}/api/v1/projects/{PROJECT}/followups", h.url()))
        .bearer_auth(&h.admin_token)
        .json(&json!({"followups": [{"timepoint": "end", "after_weeks": 8}]}))
        .send()
        .await
        .expect("the schedule request is answered");
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "setting the follow-up schedule answered {status}: {body}"
    );
    let code = h.enrolment_code("eilidh").await;
    let out = bothy_tests::artifacts_dir("webapp-programme", backend);
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(browser_dir.join("webapp-programme.mjs"))
        .args([h.url().as_str(), code.as_str(), PROJECT])
        .arg(&out)
        .current_dir(&browser_dir)
        .kill_on_drop(true);
    // The README's screenshots come from one backend's run only; a relative directory is the
    // workspace's.
    cmd.env_remove("BOTHY_SCREENSHOTS");
    if let Some(dir) = std::env::var_os("BOTHY_SCREENSHOTS")
        && backend == Backend::Sqlite
    {
        cmd.env("BOTHY_SCREENSHOTS", bothy_tests::workspace_root().join(dir));
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(600), cmd.output())
        .await
        .expect("the programme finished within 10 minutes")
        .expect("node runs");
    let said = String::from_utf8_lossy(&output.stderr);
    eprint!("{said}");
    assert!(
        output.status.success(),
        "webapp-programme.mjs failed: {said}"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let summary: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    // Everything recorded on the phone is on the server, nothing set aside.
    let ids = |key: &str| -> Vec<String> {
        summary[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {summary}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let people = ids("participants");
    assert_eq!(people.len(), 5, "{summary}");
    let rows = h
        .sql(
            "SELECT id, age_band, gender, ethnic_group, rurality, referral_source, referral_date \
             FROM participants WHERE project = $1",
            &[PROJECT],
        )
        .await;
    assert_eq!(rows.len(), 5, "{rows:?}");
    for row in &rows {
        assert!(
            people.contains(&row["id"].as_str().unwrap().to_owned()),
            "{row:?}"
        );
        for column in [
            "age_band",
            "gender",
            "ethnic_group",
            "rurality",
            "referral_source",
            "referral_date",
        ] {
            assert!(row[column].is_string(), "{column} missing: {row:?}");
        }
    }
    let contacts = h
        .sql(
            "SELECT participant_id, name, phone, postcode_district FROM contacts WHERE project = $1",
            &[PROJECT],
        )
        .await;
    assert_eq!(contacts.len(), 5, "{contacts:?}");
    for c in &contacts {
        for column in ["name", "phone", "postcode_district"] {
            assert!(c[column].is_string(), "{column} missing: {c:?}");
        }
    }
    let sessions = h
        .sql(
            "SELECT id, site, activity FROM sessions WHERE project = $1",
            &[PROJECT],
        )
        .await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    for s in &sessions {
        assert_eq!(s["site"], "dingwall-hall", "{s:?}");
        assert_eq!(s["activity"], "printmaking", "{s:?}");
    }
    let first = summary["session"].as_str().unwrap();
    let present = h
        .sql(
            "SELECT participant_id FROM attendance WHERE session_id = $1 AND status = 'present'",
            &[first],
        )
        .await;
    assert_eq!(present.len(), 5, "{present:?}");
    let second = summary["offlineSession"].as_str().unwrap();
    let present = h
        .sql(
            "SELECT participant_id FROM attendance WHERE session_id = $1 AND status = 'present'",
            &[second],
        )
        .await;
    assert!(
        !present.is_empty(),
        "the session recorded offline has no attendance"
    );
    let answers = h
        .sql(
            "SELECT participant_id, timepoint, response_date FROM wellbeing_responses \
             WHERE project = $1 AND instrument = 'WEMWBS'",
            &[PROJECT],
        )
        .await;
    let at = |tp: &str| answers.iter().filter(|r| r["timepoint"] == tp).count();
    assert_eq!(
        (at("baseline"), at("end"), answers.len()),
        (5, 5, 10),
        "{answers:?}"
    );
    // Dated by the phone's clock: the baselines 8 weeks before the end questionnaires.
    for r in &answers {
        let date = if r["timepoint"] == "baseline" {
            &summary["baselineDate"]
        } else {
            &summary["endDate"]
        };
        assert_eq!(&r["response_date"], date, "{r:?}");
        assert!(
            people.contains(&r["participant_id"].as_str().unwrap().to_owned()),
            "{r:?}"
        );
    }
    let story = summary["story"].as_str().unwrap();
    let stories = h
        .sql("SELECT session_id FROM stories WHERE id = $1", &[story])
        .await;
    assert_eq!(stories.len(), 1, "the story is not on the server");
    assert_eq!(stories[0]["session_id"], first, "{stories:?}");
    assert!(
        h.sql("SELECT record_id FROM quarantine", &[])
            .await
            .is_empty(),
        "nothing the phone recorded was set aside"
    );

    // The outcome report pairs each baseline with its end questionnaire.
    let outcomes = h
        .get(&format!("/api/v1/projects/{PROJECT}/reports/outcomes"))
        .await;
    assert_eq!(outcomes["follow_up"], "end", "{outcomes}");
    let wemwbs = outcomes["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["measure"] == "wemwbs")
        .unwrap_or_else(|| panic!("no WEMWBS in {outcomes}"));
    assert_eq!(wemwbs["n"], 5, "{wemwbs}");

    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 15,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}
