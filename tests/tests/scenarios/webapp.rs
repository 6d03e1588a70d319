//! The mobile web app served at `/app/`: over plain HTTP, the redirect, the page with its
//! security headers, ETags answered with `304`, compression and clear 404s. Then in a real
//! browser (Debian's Chromium driven by tests/browser/webapp.mjs, 360 px wide): enrol, go
//! offline, reload, capture a session, a participant, attendance, a WEMWBS, a SWEMWBS, an ONS4
//! and a story, edit a
//! session and a story made by a Rust device, close and reopen the browser offline, come back
//! online and sync, while the Rust device edits the same story and session offline. Afterwards
//! the web app, the Rust device and the server hold identical documents and the projection
//! tables are right. Screenshots go to target/artifacts/webapp/<backend>/.
//!
//! Each phone holds only what its user's role may see (tests/browser/webapp-scope.mjs): a peer
//! worker's phone never holds a name, phone, postcode district or story, and a contact record
//! it registers leaves it once the server has it; a researcher's phone shows the names, and
//! loses a story made private by its author.

use bothy_device::AttendanceMark;
use bothy_sync_core::FieldValue;
use bothy_tests::{Backend, Harness, device_heads, on_both_backends, server_heads};
use serde_json::Value;
use uuid::Uuid;

on_both_backends!(
    web_app_is_served,
    web_app_offline_and_merging_in_a_browser,
    web_app_explains_a_refusal,
    web_app_records_a_project_instrument_offline,
    web_app_holds_only_what_its_role_may_see
);

const PROJECT: &str = "highland-heritage";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

async fn web_app_is_served(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let c = client();
    let res = c.get(format!("{}/app", h.url())).send().await.unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/app/");

    let res = c.get(format!("{}/app/", h.url())).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    let page = res.text().await.unwrap();
    assert!(page.contains("manifest.webmanifest"), "{page}");
    assert!(page.contains("<html lang="), "{page}");

    // A cached copy is confirmed in a few bytes.
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let res = c
        .get(format!("{}/app/", h.url()))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert!(res.bytes().await.unwrap().is_empty());

    // Every file the page and the service worker need is served with its type, compressed.
    for (file, ctype) in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("sw.js", "text/javascript"),
        ("manifest.webmanifest", "application/manifest+json"),
        ("automerge.wasm", "application/wasm"),
        ("icon-192.png", "image/png"),
    ] {
        let res = c
            .get(format!("{}/app/{file}", h.url()))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{file}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype),
            "{file}"
        );
        if file != "icon-192.png" {
            assert_eq!(res.headers()["content-encoding"], "gzip", "{file}");
        }
    }
    // Browsers that take Brotli get the copies compressed at build time (the WebAssembly is
    // most of a first load), with an ETag of their own.
    for file in ["app.js", "automerge.wasm"] {
        let res = c
            .get(format!("{}/app/{file}", h.url()))
            .header("accept-encoding", "gzip, deflate, br")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{file}");
        assert_eq!(res.headers()["content-encoding"], "br", "{file}");
        assert_eq!(res.headers()["vary"], "accept-encoding");
        let plain = c
            .get(format!("{}/app/{file}", h.url()))
            .send()
            .await
            .unwrap();
        assert_ne!(res.headers()["etag"], plain.headers()["etag"]);
        let (br, raw) = (res.bytes().await.unwrap(), plain.bytes().await.unwrap());
        assert!(
            br.len() * 2 < raw.len(),
            "{file}: {} of {}",
            br.len(),
            raw.len()
        );
    }
    let res = c
        .get(format!("{}/app/app.js.br", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let manifest: serde_json::Value = serde_json::from_slice(
        &c.get(format!("{}/app/manifest.webmanifest", h.url()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(manifest["icons"].as_array().is_some_and(|i| !i.is_empty()));

    let res = c
        .get(format!("{}/app/no-such-file.js", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("no such file"));
    h.finish().await;
}

async fn web_app_offline_and_merging_in_a_browser(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app browser check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("morag", PROJECT, "researcher").await;
    h.user("ruth", PROJECT, "researcher").await;
    // The Rust device: a session with one attendee and a story, synced before the phone
    // enrols.
    let cli = h.device("ruth", "ruth-laptop").await;
    let elder = cli
        .create_participant(Some(PROJECT), &[("consent.data_use", true.into())])
        .await
        .unwrap()
        .id;
    let late = cli
        .create_participant(Some(PROJECT), &[("consent.data_use", true.into())])
        .await
        .unwrap()
        .id;
    let session = cli
        .create_session(
            Some(PROJECT),
            &[
                ("site", "ullapool-hall".into()),
                ("activity", "heritage-crafts".into()),
                ("activity_type", "heritage".into()),
                ("start", "2026-11-25T10:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    cli.mark_attendance(session, elder, AttendanceMark::Present)
        .await
        .unwrap();
    let story = cli
        .create_story(
            Some(PROJECT),
            &[
                ("title", "Back at the loom".into()),
                ("consent_scope", "project".into()),
                (
                    "body",
                    FieldValue::from("She had not woven since her mother died."),
                ),
            ],
        )
        .await
        .unwrap();
    cli.sync().await.unwrap();

    let code = h.enrolment_code("morag").await;
    let out = bothy_tests::artifacts_dir("webapp", backend);
    let mut script = bothy_tests::BrowserScript::spawn(
        &browser_dir,
        "webapp.mjs",
        &[
            &h.url(),
            &code,
            &PROJECT,
            &story.to_string(),
            &session.to_string(),
            &out,
        ],
        &[
            ("BOTHY_PAUSE_BEFORE_SYNC", "1"),
            ("BOTHY_PAUSE_AFTER_SYNC", "1"),
        ],
    );
    let first = script
        .next_line(std::time::Duration::from_secs(240), "its offline work")
        .await;
    assert_eq!(first, "OFFLINE_WORK_DONE", "webapp.mjs said");

    // Meanwhile, offline on the Rust device: the same story and session edited, then synced.
    cli.edit_story_body(
        story,
        "She had not woven since her mother died. Now she teaches the others.",
    )
    .await
    .unwrap();
    cli.mark_attendance(session, late, AttendanceMark::LeftEarly)
        .await
        .unwrap();
    cli.sync().await.unwrap();
    script.go_on().await;
    let wait = std::time::Duration::from_secs(120);
    let summary = script.next_json(wait, "its sync").await;
    cli.sync().await.unwrap();
    // Identical documents everywhere: the web app's heads (after its sync), the Rust
    // device's and the server's. The story written on the phone is `private` (the form's
    // default): the other researcher's device is not sent it.
    let web = summary["heads"].as_object().unwrap();
    assert!(web.len() >= 8, "{summary}");
    let private_story: Uuid = summary["created"]["story"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
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
        if id == private_story {
            assert!(
                cli.get(id).await.is_err(),
                "another user's private story {id} reached the Rust device"
            );
            continue;
        }
        let mut rust = device_heads(&cli, id).await;
        rust.sort();
        assert_eq!(rust, server, "record {id}: Rust device and server differ");
    }

    // Both offline edits merged, and the projections show them.
    let created = &summary["created"];
    let web_person = created["participant"].as_str().unwrap().to_owned();
    let marks = h
        .sql(
            "SELECT participant_id, status FROM attendance WHERE session_id = $1 ORDER BY participant_id",
            &[&session.to_string()],
        )
        .await;
    let marked: Vec<(String, String)> = marks
        .iter()
        .map(|r| {
            (
                r["participant_id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        (elder.to_string(), "present".to_owned()),
        (late.to_string(), "left_early".to_owned()),
        (web_person.clone(), "present".to_owned()),
    ] {
        assert!(marked.contains(&want), "{want:?} not in {marked:?}");
    }
    let body = &h
        .sql(
            "SELECT body FROM stories WHERE id = $1",
            &[&story.to_string()],
        )
        .await[0]["body"];
    let body = body.as_str().unwrap();
    assert!(body.contains("Now she teaches the others."), "{body}");
    assert!(body.contains("Edited on the web app, offline."), "{body}");
    let wellbeing = created["wellbeing"].as_str().unwrap();
    let row = &h
        .sql(
            "SELECT participant_id, instrument, complete, raw_score FROM wellbeing_responses WHERE id = $1",
            &[wellbeing],
        )
        .await[0];
    assert_eq!(row["participant_id"], web_person.as_str());
    assert_eq!(row["instrument"], "WEMWBS");
    assert_eq!(row["complete"], 1);
    assert_eq!(row["raw_score"], 53);
    for (key, instrument, raw, metric, items) in [
        (
            "swemwbs",
            "SWEMWBS",
            Some(28),
            Some(25.03),
            "{\"1\":4,\"2\":4,\"3\":4,\"4\":4,\"5\":4,\"6\":4,\"7\":4}",
        ),
        (
            "ons4",
            "ONS4",
            None,
            None,
            "{\"1\":7,\"2\":8,\"3\":6,\"4\":2}",
        ),
    ] {
        let id = created[key].as_str().unwrap();
        let row = &h
            .sql(
                "SELECT instrument, complete, raw_score, metric_score, items FROM wellbeing_responses WHERE id = $1",
                &[id],
            )
            .await[0];
        assert_eq!(row["instrument"], instrument);
        assert_eq!(row["complete"], 1);
        assert_eq!(row["raw_score"].as_i64(), raw, "{row:?}");
        assert_eq!(row["metric_score"].as_f64(), metric, "{row:?}");
        let stored: Value = serde_json::from_str(row["items"].as_str().unwrap()).unwrap();
        let want: Value = serde_json::from_str(items).unwrap();
        assert_eq!(stored, want);
    }
    let new_session = created["session"].as_str().unwrap();
    let rows = h
        .sql(
            "SELECT site, activity, activity_type, unregistered_attendees FROM sessions \
             WHERE id = $1",
            &[new_session],
        )
        .await;
    assert_eq!(rows[0]["activity"], "weaving");
    // Typed into the control the schema gave the form.
    assert_eq!(rows[0]["unregistered_attendees"], 2, "{:?}", rows[0]);

    // The participant registered on the phone is erased on the server; at its next sync the
    // web app purges them, their questionnaire and their attendance mark, and says so.
    let erased = h
        .admin(
            &format!("/api/v1/projects/{PROJECT}/participants/{web_person}/erase"),
            serde_json::json!({"reason": "withdrew consent"}),
        )
        .await;
    assert_eq!(erased["counts"]["wellbeing_responses"], 3, "{erased}");
    assert_eq!(erased["counts"]["contacts"], 1, "{erased}");
    script.go_on().await;
    let after = script.next_json(wait, "the erasure").await;
    script.finish(&after).await;
    let message = after["after_erasure"]["message"].as_str().unwrap();
    assert!(
        message.contains("erased at a participant's request"),
        "{message}"
    );
    let held = after["after_erasure"]["heads"].as_object().unwrap();
    assert!(!held.contains_key(&web_person), "{after}");
    for key in ["contact", "wellbeing", "swemwbs", "ons4"] {
        let id = created[key].as_str().unwrap();
        assert!(!held.contains_key(id), "{key} {id} still held: {after}");
    }
    cli.sync().await.unwrap();
    for id in [session, story] {
        let server = h.record(PROJECT, id).await;
        let mut want = server_heads(&server);
        want.sort();
        let mut web: Vec<String> = held[&id.to_string()]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        web.sort();
        assert_eq!(web, want, "record {id} after the erasure");
    }
    let session_now = h.record(PROJECT, session).await;
    assert!(
        session_now["record"]["attendance"]
            .get(&web_person)
            .is_none(),
        "{session_now}"
    );
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 10,
        "screenshots of every screen in {}",
        out.display()
    );
    h.finish().await;
}

/// A researcher's phone records a session, a participant and a questionnaire; before it syncs,
/// the user is made a peer worker (who may not push questionnaires). The server keeps the
/// session and the participant and refuses the questionnaire, which the app sets aside and
/// explains. The participant's contact record is sent too, then removed from the phone (a peer
/// worker is never sent contact details).
async fn web_app_explains_a_refusal(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app browser check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("iain", PROJECT, "researcher").await;
    let code = h.enrolment_code("iain").await;
    let out = bothy_tests::artifacts_dir("webapp-refusal", backend);
    let mut script = bothy_tests::BrowserScript::spawn(
        &browser_dir,
        "webapp-refusal.mjs",
        &[&h.url(), &code, &out],
        &[],
    );
    let wait = std::time::Duration::from_secs(180);
    assert_eq!(script.next_line(wait, "the capture").await, "CAPTURED");
    h.admin(
        &format!("/api/v1/admin/projects/{PROJECT}/members"),
        serde_json::json!({"username": "iain", "role": "peer_worker"}),
    )
    .await;
    script.go_on().await;
    let summary = script.next_json(wait, "the sync").await;
    script.finish(&summary).await;
    let wellbeing = summary["wellbeing"].as_str().unwrap();
    let session = summary["session"].as_str().unwrap();
    assert_eq!(
        h.sql("SELECT id FROM sessions WHERE id = $1", &[session])
            .await
            .len(),
        1
    );
    assert!(
        h.sql(
            "SELECT id FROM wellbeing_responses WHERE id = $1",
            &[wellbeing]
        )
        .await
        .is_empty()
    );
    let kept = h
        .sql(
            "SELECT code FROM quarantine WHERE record_id = $1",
            &[wellbeing],
        )
        .await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["code"], "not_allowed");
    h.finish().await;
}

/// The project's own questionnaire `CONNECT` (five items answered 1 to 5, the fourth
/// reverse-scored, a banded sum), defined by a coordinator in two versions. The web app
/// receives both in its set-up, then offline offers the newest, records a response with it and
/// scores it (20, high); back online it syncs, and the server holds the response as recorded,
/// scored the same, each answer with the value it is scored as.
async fn web_app_records_a_project_instrument_offline(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app browser check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("fiona", PROJECT, "coordinator").await;
    h.user("mairi", PROJECT, "researcher").await;
    let coordinator = h.login("fiona", "fiona-password").await.unwrap();
    let labels = serde_json::json!([
        {"value": 1, "label": "Never"}, {"value": 2, "label": "Rarely"},
        {"value": 3, "label": "Sometimes"}, {"value": 4, "label": "Often"},
        {"value": 5, "label": "Always"}
    ]);
    let definition = |version: u32, useful: &str| {
        let item = |n: u8, key: &str, text: &str, reverse: bool| {
            let mut item = serde_json::json!({
                "number": n, "key": key, "scale": {"min": 1, "max": 5, "values": labels},
                "text": text,
            });
            if reverse {
                item["reverse"] = true.into();
            }
            item
        };
        serde_json::json!({
            "id": "CONNECT",
            "version": version,
            "name": "Feeling connected",
            "items": [
                item(1, "belong", "I feel I belong in my community", false),
                item(2, "talk", "I have someone to talk to", false),
                item(3, "welcome", "I feel welcome at the group", false),
                item(4, "left_out", "I feel left out", true),
                item(5, "useful", useful, false),
            ],
            "scoring": {
                "method": "sum",
                "higher_is_better": true,
                "bands": [
                    {"name": "low", "label": "Low", "min": 5, "max": 11},
                    {"name": "medium", "label": "Medium", "min": 12, "max": 18},
                    {"name": "high", "label": "High", "min": 19, "max": 25}
                ]
            }
        })
    };
    for (version, useful) in [
        (1, "I feel useful to others"),
        (2, "I feel useful to others in the group"),
    ] {
        let res = h
            .http
            .put(format!("{}/api/v1/projects/{PROJECT}/instruments", h.url()))
            .bearer_auth(&coordinator)
            .json(&definition(version, useful))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "defining CONNECT version {version}: {body}");
        assert_eq!(body["created"], true, "{body}");
    }

    let code = h.enrolment_code("mairi").await;
    let out = bothy_tests::artifacts_dir("webapp-instrument", backend);
    let summary = bothy_tests::run_browser_script(
        &browser_dir,
        "webapp-instrument.mjs",
        &[&h.url(), &code, &out],
        std::time::Duration::from_secs(240),
    )
    .await;
    assert_eq!(
        summary["score"], "CONNECT score 20. Band: High.",
        "{summary}"
    );

    // The server holds the response as the phone recorded it, offline, with the newest version.
    let wellbeing: Uuid = summary["wellbeing"].as_str().unwrap().parse().unwrap();
    let record = h.record(PROJECT, wellbeing).await;
    let fields = &record["record"];
    assert_eq!(fields["instrument"], "CONNECT", "{record}");
    assert_eq!(fields["instrument_version"], 2, "{record}");
    assert_eq!(fields["participant"], summary["participant"], "{record}");
    assert_eq!(fields["session"], summary["session"], "{record}");
    assert_eq!(
        fields["items"],
        serde_json::json!({"1": 4, "2": 5, "3": 3, "4": 2, "5": 4}),
        "{record}"
    );
    assert!(
        h.sql(
            "SELECT record_id FROM quarantine WHERE record_id = $1",
            &[&wellbeing.to_string()]
        )
        .await
        .is_empty(),
        "nothing the phone recorded was set aside"
    );
    // Scored on the server as on the phone: 4 + 5 + 3 + (6 - 2) + 4 = 20, high.
    let row = &h
        .sql(
            "SELECT instrument, instrument_version, complete, score, band \
             FROM wellbeing_responses WHERE id = $1",
            &[&wellbeing.to_string()],
        )
        .await[0];
    assert_eq!(row["instrument"], "CONNECT", "{row:?}");
    assert_eq!(row["instrument_version"], 2, "{row:?}");
    assert_eq!(row["complete"], 1, "{row:?}");
    assert_eq!(row["score"].as_f64(), Some(20.0), "{row:?}");
    assert_eq!(row["band"], "high", "{row:?}");
    let items = h
        .sql(
            "SELECT item, answer, scored FROM wellbeing_items WHERE response_id = $1 ORDER BY item",
            &[&wellbeing.to_string()],
        )
        .await;
    let items: Vec<(i64, i64, i64)> = items
        .iter()
        .map(|r| {
            (
                r["item"].as_i64().unwrap(),
                r["answer"].as_i64().unwrap(),
                r["scored"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [(1, 4, 4), (2, 5, 5), (3, 3, 3), (4, 2, 4), (5, 4, 4)],
        "the fourth answer is scored reversed"
    );
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 3,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}

/// A researcher's device registers two participants with names, phones and postcode districts,
/// marks them present at a session, and writes a private story and a shared one. A peer worker's
/// phone then enrols: its IndexedDB (every document decoded, its whole history, and the raw
/// bytes) holds none of the names, phones, districts or stories, and its attendance shows codes.
/// The peer worker registers a person with contact details: the server stores them, and the
/// phone deletes its copy once they are acknowledged. Another researcher's phone shows every
/// name, holds the shared story and not the private one; when the author makes the shared story
/// private, that phone deletes it at its next sync and says so.
async fn web_app_holds_only_what_its_role_may_see(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app browser check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("morag", PROJECT, "researcher").await;
    h.user("ruth", PROJECT, "peer_worker").await;
    h.user("iain", PROJECT, "researcher").await;
    let cli = h.device("morag", "morag-laptop").await;
    let session = cli
        .create_session(
            Some(PROJECT),
            &[
                ("site", "ullapool-hall".into()),
                ("activity", "heritage-crafts".into()),
                ("activity_type", "heritage".into()),
                ("start", "2026-11-25T10:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    let mut people = Vec::new();
    for (name, phone, district) in [
        ("Catriona Vexley", "07700 900417", "KW17"),
        ("Alasdair Quenby", "07700 900853", "PA78"),
    ] {
        let person = cli
            .create_participant(
                Some(PROJECT),
                &[
                    ("consent.data_use", true.into()),
                    ("contact.name", name.into()),
                    ("contact.phone", phone.into()),
                    ("contact.postcode_district", district.into()),
                ],
            )
            .await
            .unwrap();
        assert!(person.contact.is_some(), "{name}'s contact record");
        cli.mark_attendance(session, person.id, AttendanceMark::Present)
            .await
            .unwrap();
        people.push(serde_json::json!({
            "id": person.id, "name": name, "phone": phone, "district": district,
        }));
    }
    let mut stories = Vec::new();
    let mut shared = None;
    for (title, body, scope) in [
        (
            "The quiet croft",
            "Only the team may read how she came back to the croft.",
            "private",
        ),
        (
            "Back at the loom together",
            "She had not woven since the winter of the big snow.",
            "project",
        ),
    ] {
        let id = cli
            .create_story(
                Some(PROJECT),
                &[
                    ("title", title.into()),
                    ("consent_scope", scope.into()),
                    ("body", FieldValue::from(body)),
                ],
            )
            .await
            .unwrap();
        if scope != "private" {
            shared = Some(id);
        }
        stories.push(serde_json::json!({
            "id": id, "title": title, "body": body, "private": scope == "private",
        }));
    }
    let shared = shared.unwrap();
    let summary = cli.sync().await.unwrap();
    assert!(summary.reports.is_empty(), "{:?}", summary.reports);
    let held = serde_json::json!({"people": people, "stories": stories, "shared_story": shared});

    let peer_code = h.enrolment_code("ruth").await;
    let researcher_code = h.enrolment_code("iain").await;
    let out = bothy_tests::artifacts_dir("webapp-scope", backend);
    let mut script = bothy_tests::BrowserScript::spawn(
        &browser_dir,
        "webapp-scope.mjs",
        &[
            &h.url(),
            &peer_code,
            &researcher_code,
            &session.to_string(),
            &held.to_string(),
            &out,
        ],
        &[],
    );
    let line = script
        .next_line(std::time::Duration::from_secs(240), "checking both phones")
        .await;
    let checked: Value = serde_json::from_str(
        line.strip_prefix("SCOPE_CHECKED ")
            .unwrap_or_else(|| panic!("not SCOPE_CHECKED: {line}")),
    )
    .unwrap();

    // The contact details the peer worker registered reached the server before they left the
    // phone, and name the participant registered with them.
    let participant = checked["participant"].as_str().unwrap();
    let contact = checked["contact"].as_str().unwrap();
    let rows = h
        .sql(
            "SELECT participant_id, name, phone, postcode_district, notes FROM contacts WHERE id = $1",
            &[contact],
        )
        .await;
    assert_eq!(
        rows.len(),
        1,
        "the peer worker's contact record on the server"
    );
    assert_eq!(rows[0]["participant_id"], participant, "{:?}", rows[0]);
    assert_eq!(rows[0]["name"], "Peigi Ruthven-Holm", "{:?}", rows[0]);
    assert_eq!(rows[0]["phone"], "07700 900288", "{:?}", rows[0]);
    assert_eq!(rows[0]["postcode_district"], "IV41", "{:?}", rows[0]);
    assert_eq!(
        rows[0]["notes"], "Ring after six on weekdays",
        "{:?}",
        rows[0]
    );
    let marks = h
        .sql(
            "SELECT status FROM attendance WHERE session_id = $1 AND participant_id = $2",
            &[&session.to_string(), participant],
        )
        .await;
    assert_eq!(
        marks.len(),
        1,
        "the peer worker marked their person present"
    );
    assert_eq!(marks[0]["status"], "present");

    // The author makes the shared story private: the other researcher's phone loses it.
    cli.edit(shared, |e| e.set("consent_scope", "private"))
        .await
        .unwrap();
    let summary = cli.sync().await.unwrap();
    assert!(summary.reports.is_empty(), "{:?}", summary.reports);
    script.go_on().await;
    let last = script
        .next_json(
            std::time::Duration::from_secs(120),
            "the researcher's phone's sync",
        )
        .await;
    script.finish(&last).await;
    assert!(
        last["withdrawn"]
            .as_str()
            .is_some_and(|m| m.contains("no longer shared with you")),
        "{last}"
    );
    // The author still has it.
    assert!(cli.get(shared).await.is_ok());
    assert!(
        std::fs::read_dir(&out).unwrap().count() >= 6,
        "screenshots in {}",
        out.display()
    );
    h.finish().await;
}
