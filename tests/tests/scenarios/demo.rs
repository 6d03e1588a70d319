//! The demo programme: `bothy-server demo` fills a project marked as a demo with a synthetic
//! year of a programme, written as the server's own records; the outcomes report has figures
//! for every measure; a member's device pulls the records like any other. Removing it deletes
//! the project and everything in it, the member's device deletes its copies at its next sync,
//! and other projects are untouched; removing it again, or removing a project that is not a
//! demo, is refused. Wherever an analyst or coordinator sees the demo, it says so: every
//! report (`demo` in the JSON, a notice in the quarterly report's Markdown, HTML and CSV), the
//! dashboard (a banner on its pages, a tag in the project list), the downloads' file names
//! (`bothy-demo-…`), the Parquet files' and the data package's metadata, and the admin's
//! project list; a real project's do not.

use bothy_server::demo::{self, DemoOptions};
use bothy_server::error::ApiError;
use bothy_sync_core::RecordKind;
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;

on_both_backends!(demo_fills_and_removes);
on_both_backends!(demo_dashboard_in_a_browser);

/// A GET with a bearer token or a dashboard cookie: (status, headers, body).
async fn fetch(
    h: &Harness,
    path: &str,
    token: Option<&str>,
    cookie: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = h.http.get(format!("{}{path}", h.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

/// The file name a download is saved as.
fn file_name(headers: &reqwest::header::HeaderMap) -> String {
    let v = headers["content-disposition"].to_str().unwrap();
    v.split("filename=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"')
        .to_owned()
}

/// The dashboard's session cookie.
async fn dashboard_cookie(h: &Harness, username: &str) -> String {
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/dashboard/login", h.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username={username}&password={username}-password"))
        .send()
        .await
        .unwrap();
    login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// What a Parquet file's schema metadata says under `bothy:demo`.
fn parquet_demo(file: Vec<u8>) -> Option<String> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(file),
    )
    .unwrap();
    reader.schema().metadata().get("bothy:demo").cloned()
}

/// The `datapackage.json` of a data package.
fn package_descriptor(file: Vec<u8>) -> serde_json::Value {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(file)).unwrap();
    let mut text = String::new();
    z.by_name("datapackage.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Everything an analyst or coordinator sees of the demo says it is a demo; nothing of the
/// real project does.
async fn demo_is_marked(h: &Harness) {
    const NOTICE: &str = "Demo programme: synthetic data, not real people";
    const BANNER: &str = "Demo programme: synthetic people, not real data";
    let analyst = h.login("ana", "ana-password").await.unwrap();
    let ruth = h.login("ruth", "ruth-password").await.unwrap();
    for (project, token, demo) in [("demo", &analyst, true), ("real", &ruth, false)] {
        for report in ["outcomes", "attendance", "equity", "quarterly"] {
            let path = format!("/api/v1/projects/{project}/reports/{report}");
            let v = h.get_as(&path, token).await.unwrap();
            assert_eq!(v["demo"], json!(demo), "{path}");
        }
        for format in ["md", "html", "csv"] {
            let path = format!("/api/v1/projects/{project}/reports/quarterly?format={format}");
            let (status, _, body) = fetch(h, &path, Some(token), None).await;
            assert_eq!(status, 200, "{path}");
            let body = String::from_utf8(body).unwrap();
            let head: String = body.chars().take(1500).collect();
            assert_eq!(head.contains(NOTICE), demo, "{path}: {head}");
        }
        let stem = if demo {
            "bothy-demo-demo-"
        } else {
            "bothy-real-"
        };
        for format in ["csv", "parquet"] {
            let path = format!("/api/v1/projects/{project}/exports/participants?format={format}");
            let (status, headers, body) = fetch(h, &path, Some(token), None).await;
            assert_eq!(status, 200, "{path}");
            let name = file_name(&headers);
            assert!(name.starts_with(&format!("{stem}participants-")), "{name}");
            if format == "parquet" {
                let want = demo.then(|| "true".to_owned());
                assert_eq!(parquet_demo(body), want, "{path}");
            }
        }
        let path = format!("/api/v1/projects/{project}/data-package?datasets=participants");
        let (status, headers, body) = fetch(h, &path, Some(token), None).await;
        assert_eq!(status, 200, "{path}");
        let name = file_name(&headers);
        assert!(name.starts_with(&format!("{stem}data-package-")), "{name}");
        assert_eq!(package_descriptor(body)["bothy:demo"], json!(demo));
    }

    // The dashboard: a banner on each of the demo's pages, a tag in the project list; the
    // real project's pages have neither.
    let cookie = dashboard_cookie(h, "ruth").await;
    for (path, banner) in [
        ("/dashboard/projects/demo", true),
        ("/dashboard/projects/demo/instruments", true),
        ("/dashboard/projects/real", false),
        ("/dashboard/projects/real/instruments", false),
    ] {
        let (status, _, page) = fetch(h, path, None, Some(&cookie)).await;
        assert_eq!(status, 200, "{path}");
        let page = String::from_utf8(page).unwrap();
        assert_eq!(page.contains(BANNER), banner, "{path}: {page}");
    }
    let (status, _, home) = fetch(h, "/dashboard", None, Some(&cookie)).await;
    assert_eq!(status, 200);
    let home = String::from_utf8(home).unwrap();
    let item = |slug: &str| {
        let at = home.find(&format!("/dashboard/projects/{slug}\"")).unwrap();
        home[at..].split("</li>").next().unwrap().to_owned()
    };
    assert!(item("demo").contains("Demo programme"), "{home}");
    assert!(!item("real").contains("Demo programme"), "{home}");

    // The admin's project list.
    let listed = h.get("/api/v1/admin/projects").await;
    let flag = |slug: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["slug"] == slug)
            .map(|p| p["demo"].clone())
    };
    assert_eq!(flag("demo"), Some(json!(true)), "{listed}");
    assert_eq!(flag("real"), Some(json!(false)), "{listed}");
}

/// Fills the project `demo` as `bothy-server demo` does (default seed and size, the year ending
/// this week) and adds the analyst `ana` (password `ana-password`) to it.
pub(super) async fn fill_default_demo(h: &Harness) {
    let db = bothy_server::storage::Db::connect(&h.db.url).await.unwrap();
    let opts = DemoOptions::ending(
        "demo",
        demo::DEFAULT_SEED,
        demo::DEFAULT_PARTICIPANTS,
        chrono::Utc::now().date_naive(),
    );
    demo::create(&db, &opts).await.unwrap();
    db.pool.close().await;
    h.user("ana", "demo", "analyst").await;
}

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
    demo_is_marked(&h).await;
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

/// The demo's dashboard page, with its banner, passes the dashboard's browser check (charts,
/// no sideways scrolling, WCAG 2.2 A and AA with axe).
async fn demo_dashboard_in_a_browser(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("demo dashboard browser check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    // The demo as `bothy-server demo` makes it, so the screenshots show what a newcomer sees.
    fill_default_demo(&h).await;
    let out = bothy_tests::artifacts_dir("demo-dashboard", backend);
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .args([h.url().as_str(), "ana", "ana-password", "demo"])
        .arg(&out)
        .current_dir(&browser_dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), output)
        .await
        .expect("the browser check finished within 3 minutes")
        .expect("node runs");
    assert!(
        output.status.success(),
        "the browser check failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    h.finish().await;
}
