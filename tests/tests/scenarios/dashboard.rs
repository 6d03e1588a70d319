//! The dashboard: HTML pages behind a login form. Over plain HTTP: the login form, a wrong
//! password, forged cookies, a researcher refused, an analyst's figures, the security headers
//! and escaping of hostile names. Then in a real browser (Debian's Chromium driven by
//! tests/browser/dashboard.mjs) on a phone-sized and a desktop-sized screen, with screenshots
//! saved under target/artifacts/dashboard/<backend>/.
//!
//! The browser part needs `node`, `tests/browser/node_modules` (`npm ci` there) and
//! `/usr/bin/chromium`; without them it is skipped with a printed reason, unless
//! `BOTHY_REQUIRE_BROWSER=1`, which turns the skip into a failure (CI sets it).

use bothy_device::{AttendanceMark, Device, WellbeingForm};
use bothy_sync_core::Instrument;
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;
use uuid::Uuid;

on_both_backends!(dashboard_over_http, dashboard_in_a_browser);

const PROJECT: &str = "moray-wellbeing";
const HOSTILE: &str = "<script>alert(1)</script>";
/// A project with no records.
const EMPTY: &str = "nairn-new";

/// A client that keeps no cookies and follows no redirects, so each answer is seen as sent.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client")
}

async fn participant(device: &Device, age: &str, decile: i64) -> Uuid {
    device
        .create_participant(
            Some(PROJECT),
            &[
                ("consent.data_use", true.into()),
                ("age_band", age.into()),
                ("imd_decile", decile.into()),
            ],
        )
        .await
        .expect("participant registered")
        .id
}

/// A project with an analyst, a researcher and a coordinator's device holding 30 participants,
/// 6 sessions at two sites (one with a hostile name) with attendance, and WEMWBS baselines and
/// end responses.
async fn seed(h: &Harness) {
    h.project(PROJECT).await;
    h.user("ana", PROJECT, "analyst").await;
    h.user("rhys", PROJECT, "researcher").await;
    h.user("cora", PROJECT, "coordinator").await;
    for (slug, name) in [("elgin-hall", HOSTILE), ("forres-park", "Forres Park")] {
        h.admin(
            &format!("/api/v1/admin/projects/{PROJECT}/sites"),
            json!({"slug": slug, "name": name}),
        )
        .await;
    }
    h.admin(
        &format!("/api/v1/admin/projects/{PROJECT}/activities"),
        json!({"slug": "walking-group", "name": "Walking group", "activity_type": "walking"}),
    )
    .await;
    let device = h.device("cora", "cora-phone").await;
    device.sync().await.expect("first sync");
    // 30 participants: four aged 75-84 (a band too small to show), the others in three bands.
    let mut people = Vec::new();
    for i in 0..30i64 {
        let age = if i < 4 {
            "75-84"
        } else {
            ["16-24", "25-34", "65-74"][(i % 3) as usize]
        };
        people.push(participant(&device, age, 1 + i % 10).await);
    }
    // Sessions attended: five people each attend none, 1, 2 or 3, and 4 or 5; ten attend all 6.
    let attends = |i: usize| match i {
        0..5 => 0,
        5..10 => 1,
        10..15 => 2 + i % 2,
        15..20 => 4 + i % 2,
        _ => 6,
    };
    for day in 0..6usize {
        let site = if day % 2 == 0 {
            "elgin-hall"
        } else {
            "forres-park"
        };
        let session = device
            .create_session(
                Some(PROJECT),
                &[
                    ("site", site.into()),
                    ("activity", "walking-group".into()),
                    ("activity_type", "walking".into()),
                    (
                        "start",
                        format!("2026-09-{:02}T10:00:00Z", 1 + 5 * day).into(),
                    ),
                    ("unregistered_attendees", (day as i64).into()),
                ],
            )
            .await
            .expect("session recorded");
        for (i, p) in people.iter().enumerate() {
            if day < attends(i) {
                device
                    .mark_attendance(session, *p, AttendanceMark::Present)
                    .await
                    .expect("attendance marked");
            }
        }
    }
    // WEMWBS at baseline (every item 3) and end: changes of -10, -5, 0, +5 and +10 points, six
    // people each, so that every bin of the change distribution is shown.
    for (i, p) in people.iter().enumerate() {
        let change = [-10i64, -5, 0, 5, 10][i % 5];
        for (timepoint, month, delta) in [("baseline", 9, 0i64), ("end", 11, change)] {
            device
                .record_wellbeing(&WellbeingForm {
                    participant: *p,
                    instrument: Instrument::Wemwbs.to_string(),
                    timepoint: timepoint.into(),
                    date: chrono::NaiveDate::from_ymd_opt(2026, month, 1).unwrap(),
                    session: None,
                    items: (1..=14u8)
                        .map(|n| {
                            (
                                n,
                                3 + delta.signum() * i64::from(i64::from(n) <= delta.abs()),
                            )
                        })
                        .collect(),
                })
                .await
                .expect("questionnaire recorded");
        }
    }
    let report = device.sync().await.expect("sync");
    assert!(report.acked > 0, "records pushed: {report:?}");
}

/// A login form's body, as a browser encodes it.
fn form_body(username: &str, password: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!("username={}&password={}", enc(username), enc(password))
}

/// Posts the login form.
async fn form_login(h: &Harness, username: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{}/dashboard/login", h.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(username, password))
        .send()
        .await
        .expect("login form posted")
}

fn session_cookie(res: &reqwest::Response) -> String {
    let set = res
        .headers()
        .get("set-cookie")
        .expect("a cookie is set")
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/dashboard"] {
        assert!(set.contains(part), "cookie lacks {part}: {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: no Secure flag: {set}");
    set.split(';').next().unwrap().to_owned()
}

async fn get(
    h: &Harness,
    path: &str,
    cookie: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = client().get(format!("{}{path}", h.url()));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap_or_default())
}

async fn dashboard_over_http(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    seed(&h).await;
    let page = format!("/dashboard/projects/{PROJECT}");

    // The login form.
    let (status, headers, body) = get(&h, "/dashboard/login", None).await;
    assert_eq!(status, 200);
    assert!(body.contains("<html lang=\"en\">"));
    assert!(
        body.contains("autocomplete=\"username\"")
            && body.contains("autocomplete=\"current-password\"")
    );
    assert!(body.contains("<label for=\"password\">"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!body.contains("<script"));

    // A wrong password: the form again, 401, with a message and no cookie.
    let res = form_login(&h, "ana", "not-her-password").await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("set-cookie").is_none());
    let body = res.text().await.unwrap();
    assert!(body.contains("Unknown user or wrong password"), "{body}");
    assert!(body.contains("value=\"ana\""), "the username is kept");

    // No cookie, a forged one, one signed with another key: back to the login form.
    let forged = {
        let claims =
            json!({"sub": "x", "name": "ana", "iat": 0, "exp": 4_000_000_000i64, "jti": "j"});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"not the server's secret"),
        )
        .unwrap()
    };
    for cookie in [
        None,
        Some("bothy_dashboard=garbage".to_owned()),
        Some(format!("bothy_dashboard={forged}")),
    ] {
        for path in ["/dashboard", page.as_str()] {
            let (status, headers, _) = get(&h, path, cookie.as_deref()).await;
            assert_eq!(status, 303, "{path} with {cookie:?}");
            assert_eq!(headers["location"], "/dashboard/login");
        }
    }

    // A researcher may log in but not read reports.
    let res = form_login(&h, "rhys", "rhys-password").await;
    assert_eq!(res.status(), 303);
    let rhys = session_cookie(&res);
    let (status, _, body) = get(&h, "/dashboard", Some(&rhys)).await;
    assert_eq!(status, 200);
    assert!(
        !body.contains(&format!("/dashboard/projects/{PROJECT}")),
        "{body}"
    );
    let (status, headers, body) = get(&h, &page, Some(&rhys)).await;
    assert_eq!(status, 403, "{body}");
    assert!(headers.contains_key("content-security-policy"));
    assert!(body.contains("Not available to you"));

    // An analyst sees the project and its figures.
    let res = form_login(&h, "ana", "ana-password").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard");
    let ana = session_cookie(&res);
    let (status, _, body) = get(&h, "/dashboard", Some(&ana)).await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("href=\"/dashboard/projects/{PROJECT}\"")),
        "{body}"
    );
    let (status, headers, body) = get(&h, &page, Some(&ana)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(headers["cache-control"], "no-store");
    for heading in [
        "Wellbeing change",
        "Attendance over time",
        "Retention",
        "Equity",
    ] {
        assert!(
            body.contains(&format!(">{heading}</h2>")),
            "section {heading}"
        );
    }
    assert!(body.matches("role=\"img\"").count() >= 4, "{body}");
    assert!(body.contains("Attendees per session"));
    assert!(
        !body.contains(">no data<") || body.matches(">no data<").count() < 2,
        "{body}"
    );
    // Every chart has a visible heading naming its unit and a link to its table; the two marks
    // of a withheld figure are explained once, near the top.
    assert!(body.contains(">How to read these figures</h2>"), "{body}");
    assert_eq!(body.matches("hidden \u{2021}</strong>").count(), 1);
    assert!(!body.contains("suppressed (&lt;5)"), "the old mark is gone");
    assert!(
        body.contains(
            ">WEMWBS: change from baseline to end (participants by points of change)</h3>"
        ),
        "{body}"
    );
    assert_eq!(
        body.matches("<h3 ").count(),
        body.matches("role=\"img\"").count() + body.matches("<p class=\"empty\">").count(),
        "one heading per chart or empty chart"
    );
    assert_eq!(
        body.matches(">Table as CSV<").count(),
        body.matches("role=\"img\"").count()
    );
    assert!(body.contains(&format!(
        "href=\"/dashboard/projects/{PROJECT}/charts/attendance-by-month.csv\""
    )));
    // The hostile site name is shown escaped, never as markup.
    assert!(!body.contains("<script"), "unescaped markup in the page");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // Filters narrow the figures; a bad date is named and ignored.
    let (status, _, body) = get(
        &h,
        &format!("{page}?site=forres-park&activity=&from=2026-09-01&to=not-a-date"),
        Some(&ana),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("is not a date"));
    assert!(body.contains("<option value=\"forres-park\" selected>"));
    assert!(
        body.contains("3 sessions in all."),
        "three sessions at Forres Park"
    );
    assert!(
        body.contains("/charts/sessions-by-activity.csv?site=forres-park&amp;from=2026-09-01\"")
    );
    // Filters injected through the query string are escaped too.
    let (status, _, body) = get(&h, &format!("{page}?site=%3Cscript%3E"), Some(&ana)).await;
    assert_eq!(status, 200);
    assert!(!body.contains("<script"));

    charts_as_csv(&h, &ana, &rhys).await;

    // Logging out clears the cookie.
    let res = client()
        .post(format!("{}/dashboard/logout", h.url()))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("bothy_dashboard=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    // A form posted from another site is refused.
    let res = client()
        .post(format!("{}/dashboard/login", h.url()))
        .header("origin", "https://elsewhere.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body("ana", "ana-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Failed form logins count towards the same rate limit as the JSON login.
    for _ in 0..10 {
        assert_eq!(form_login(&h, "cora", "wrong").await.status(), 401);
    }
    let res = form_login(&h, "cora", "cora-password").await;
    assert_eq!(res.status(), 429);
    assert!(res.text().await.unwrap().contains("Too many failed logins"));
    h.finish().await;
}

/// The rows of a chart's table: `group,series,value,unit,withheld`.
fn csv_rows(body: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, ["group", "series", "value", "unit", "withheld"]);
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Each chart's table as CSV: the chart's numbers (equal to the JSON report's), the marks of
/// withheld figures, the page's filters, the file name, a 404 naming an unknown chart, and the
/// page's login and access check.
async fn charts_as_csv(h: &Harness, ana: &str, rhys: &str) {
    let base = format!("/dashboard/projects/{PROJECT}/charts");
    let (status, headers, body) = get(h, &format!("{base}/wellbeing-wemwbs.csv"), Some(ana)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"bothy-{PROJECT}-wellbeing-wemwbs.csv\"")
    );
    assert_eq!(headers["cache-control"], "no-store");
    let rows = csv_rows(&body);
    let token = h.login("ana", "ana-password").await.unwrap();
    let report = h
        .get_as(
            &format!("/api/v1/projects/{PROJECT}/reports/outcomes"),
            &token,
        )
        .await
        .unwrap();
    let wemwbs = report["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["measure"] == "wemwbs")
        .expect("WEMWBS in the report");
    let bins = wemwbs["distribution"].as_array().unwrap();
    assert_eq!(rows.len(), bins.len(), "{body}");
    assert!(bins.iter().any(|b| b["count"].is_u64()), "{wemwbs}");
    for (row, bin) in rows.iter().zip(bins) {
        assert_eq!(
            row[0].trim_start_matches('\''),
            bin["label"].as_str().unwrap()
        );
        assert_eq!(
            (row[1].as_str(), row[3].as_str()),
            ("participants", "participants")
        );
        match bin["count"].as_u64() {
            Some(n) => assert_eq!((row[2].clone(), row[4].as_str()), (n.to_string(), "")),
            None => {
                assert_eq!(row[2], "");
                assert!(
                    ["small", "protecting"].contains(&row[4].as_str()),
                    "{row:?}"
                );
            }
        }
    }

    // Four participants aged 75-84: the band's count is withheld as small.
    let (status, _, body) = get(h, &format!("{base}/equity-age_band-reach.csv"), Some(ana)).await;
    assert_eq!(status, 200, "{body}");
    let rows = csv_rows(&body);
    let band = rows
        .iter()
        .find(|r| r[0] == "75-84" && r[1] == "participants")
        .unwrap_or_else(|| panic!("the 75-84 band: {body}"));
    assert_eq!(
        (band[2].as_str(), band[4].as_str()),
        ("", "small"),
        "{body}"
    );
    assert!(
        !rows.iter().any(|r| r[2].is_empty() && r[4].is_empty()),
        "every missing value says why: {body}"
    );

    // The page's filters apply: three walking-group sessions at Forres Park.
    let (status, _, body) = get(
        h,
        &format!("{base}/sessions-by-activity.csv?site=forres-park"),
        Some(ana),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        csv_rows(&body),
        [["Walking group", "sessions", "3", "sessions", ""]]
    );
    let (status, _, body) = get(h, &format!("{base}/retention.csv?from=soon"), Some(ana)).await;
    assert_eq!(status, 400);
    assert!(body.contains("is not a date"), "{body}");

    // An unknown chart is a 404 page naming it; without a session, the login form; a
    // researcher is refused as on the page.
    let (status, headers, body) = get(h, &format!("{base}/no-such-chart.csv"), Some(ana)).await;
    assert_eq!(status, 404);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("no-such-chart"), "{body}");
    let (status, headers, _) = get(h, &format!("{base}/retention.csv"), None).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/dashboard/login");
    let (status, _, body) = get(h, &format!("{base}/retention.csv"), Some(rhys)).await;
    assert_eq!(status, 403, "{body}");
}

async fn dashboard_in_a_browser(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("dashboard browser check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    seed(&h).await;
    // A project with nothing recorded yet: its page must stay short.
    h.project(EMPTY).await;
    h.admin(
        &format!("/api/v1/admin/projects/{EMPTY}/members"),
        json!({"username": "ana", "role": "analyst"}),
    )
    .await;
    let out = bothy_tests::artifacts_dir("dashboard", backend);
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .args([h.url().as_str(), "ana", "ana-password", PROJECT])
        .arg(&out)
        .arg(EMPTY)
        .current_dir(&browser_dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), output)
        .await
        .expect("the browser check finished within 3 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser check failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for shot in [
        "dashboard-phone-360x800.png",
        "dashboard-desktop-1280x900.png",
    ] {
        let len = std::fs::metadata(out.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 1000, "screenshot {shot} saved in {}", out.display());
    }
    h.finish().await;
}
