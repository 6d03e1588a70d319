//! What analysts receive, end to end: exports and reports read through gzip and Brotli (as
//! browsers, Python `requests`, R and Node send by default) are the same bytes as without
//! compression and the server does not panic; CSV fields a spreadsheet would run as formulas
//! are neutralised while numbers stay numbers; every analyst path (exports, reports, the
//! dashboard, and the record, conflicts and history endpoints) shows the same redacted,
//! pseudonymous view; and names in the Markdown quarterly report cannot add formatting, links
//! or table cells.

use bothy_device::{AttendanceMark, Device, WellbeingForm};
use bothy_sync_core::{FieldValue, Instrument};
use bothy_tests::{Admin, Backend, Harness, ProcessServer, on_both_backends};
use serde_json::{Value, json};
use std::io::Read;
use uuid::Uuid;

on_both_backends!(
    compressed_exports_match_identity,
    csv_injection_is_neutralised,
    identifiers_in_analyst_views_are_redacted,
    markdown_report_escapes_names,
);

const P: &str = "assynt";
const DATASETS: [&str; 5] = [
    "participants",
    "sessions",
    "attendance",
    "wellbeing",
    "stories",
];

fn date(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

/// Records `n` participants who each answer WEMWBS at baseline (every item 4) and at the end
/// of the summer (every item 3: 14 points worse), and attend `sessions`.
async fn participants_with_wellbeing(
    d: &Device,
    n: usize,
    consent_version: &str,
    sessions: &[Uuid],
) -> Vec<Uuid> {
    let mut people = Vec::new();
    for i in 0..n {
        let p = d
            .create_participant(
                Some(P),
                &[
                    ("consent.data_use", true.into()),
                    ("consent.story_sharing", true.into()),
                    ("consent.date", "2026-07-01".into()),
                    ("consent.version", consent_version.into()),
                    ("age_band", "65-74".into()),
                    ("imd_decile", FieldValue::Int(1 + i as i64 % 10)),
                ],
            )
            .await
            .unwrap()
            .id;
        for (timepoint, day, answer) in [("baseline", "2026-07-06", 4), ("end", "2026-08-24", 3)] {
            d.record_wellbeing(&WellbeingForm {
                participant: p,
                instrument: Instrument::Wemwbs.to_string(),
                timepoint: timepoint.into(),
                date: date(day),
                session: None,
                items: (1..=14u8).map(|item| (item, answer)).collect(),
            })
            .await
            .unwrap();
        }
        for s in sessions {
            d.mark_attendance(*s, p, AttendanceMark::Present)
                .await
                .unwrap();
        }
        people.push(p);
    }
    people
}

async fn session(d: &Device, site: &str, activity: &str, day: &str) -> Uuid {
    d.create_session(
        Some(P),
        &[
            ("site", site.into()),
            ("activity", activity.into()),
            ("activity_type", "choir".into()),
            ("start", format!("{day}T10:00:00Z").as_str().into()),
            ("end", format!("{day}T12:00:00Z").as_str().into()),
        ],
    )
    .await
    .unwrap()
}

/// A plain HTTP client: it decompresses nothing by itself, so the test sees the bytes sent.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GETs a path with an `Accept-Encoding` (none: the header is not sent): status,
/// `Content-Encoding` and body bytes as received.
async fn fetch(
    base: &str,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> (u16, Option<String>, Vec<u8>) {
    let mut req = raw_client().get(format!("{base}{path}")).bearer_auth(token);
    if let Some(a) = accept {
        req = req.header("accept-encoding", a);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path} ({accept:?}): no complete answer: {e}"));
    let status = res.status().as_u16();
    let encoding = res
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{path} ({accept:?}): the body was cut off: {e}"));
    (status, encoding, body.to_vec())
}

/// Decompresses a body the way a browser would, from its `Content-Encoding`.
fn decode(path: &str, encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        None | Some("identity") => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap_or_else(|e| panic!("{path}: gzip body does not decompress: {e}"));
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap_or_else(|e| panic!("{path}: Brotli body does not decompress: {e}"));
        }
        Some(other) => panic!("{path}: unexpected Content-Encoding {other}"),
    }
    out
}

async fn compressed_exports_match_identity(backend: Backend) {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_bothy-test-server"));
    let Some(s) = ProcessServer::start(backend, bin).await else {
        return;
    };
    s.project(P).await;
    s.user("rhona", P, "researcher").await;
    s.user("ana", P, "analyst").await;
    let d = s.device("rhona", "rhona-tablet").await;
    let sessions = [
        session(&d, "lochinver-hall", "song-circle", "2026-07-06").await,
        session(&d, "stoer-bothy", "song-circle", "2026-07-13").await,
    ];
    let people = participants_with_wellbeing(&d, 6, "v2", &sessions).await;
    // Long stories make the stories export several chunks of the stream (64 KiB each).
    let long: String = "The choir sang by the loch until the light went. ".repeat(1_000);
    for title in [
        "First evening",
        "Second evening",
        "Third evening",
        "Fourth evening",
        "Short",
    ] {
        let body = if title == "Short" {
            "Twelve voices."
        } else {
            &long
        };
        d.create_story(
            Some(P),
            &[
                ("title", title.into()),
                ("consent_scope", "project".into()),
                ("body", body.into()),
                ("participant", people[0].to_string().as_str().into()),
                ("themes.music", true.into()),
            ],
        )
        .await
        .unwrap();
    }
    d.sync().await.unwrap();
    let ana = s.login("ana", "ana-password").await.unwrap();

    let mut paths: Vec<String> = Vec::new();
    for dataset in DATASETS {
        for format in ["csv", "jsonl"] {
            paths.push(format!(
                "/api/v1/projects/{P}/exports/{dataset}?format={format}"
            ));
        }
    }
    for report in ["outcomes", "attendance", "equity"] {
        paths.push(format!("/api/v1/projects/{P}/reports/{report}"));
    }
    for format in ["json", "md", "csv", "html"] {
        paths.push(format!(
            "/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format={format}"
        ));
    }
    paths.push("/api/v1/data-dictionary".into());

    let base = s.url();
    for path in &paths {
        // Reports carry the time they were made, to the second: compare answers made within
        // one second of each other (the plain answer before and after is the same).
        let mut attempts = 0;
        let (plain, answers) = loop {
            let before = fetch(&base, path, &ana, None).await;
            let mut answers = Vec::new();
            for accept in ["identity", "gzip", "br", "gzip, deflate, br, zstd"] {
                answers.push((accept, fetch(&base, path, &ana, Some(accept)).await));
            }
            let after = fetch(&base, path, &ana, None).await;
            attempts += 1;
            if before.2 == after.2 || attempts == 5 {
                break (before, answers);
            }
        };
        assert_eq!(
            plain.0,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&plain.2)
        );
        assert_eq!(plain.1, None, "{path}: no compression unless asked");
        for (accept, (status, encoding, body)) in answers {
            assert_eq!(status, 200, "{path} with {accept}");
            let expected = match accept {
                "identity" => None,
                "gzip" => Some("gzip"),
                _ => Some("br"),
            };
            assert_eq!(encoding.as_deref(), expected, "{path} with {accept}");
            if expected.is_some() {
                assert_ne!(body, plain.2, "{path} with {accept}: compressed");
            }
            let decoded = decode(path, encoding.as_deref(), &body);
            // A report says when it was made, to the second; on a busy machine the answers
            // compared may straddle a second, so instants are masked (in both alike).
            assert!(
                mask_instants(&decoded) == mask_instants(&plain.2),
                "{path} with {accept}: {} bytes after decompression, {} without compression",
                decoded.len(),
                plain.2.len()
            );
        }
        if path.contains("/exports/stories") {
            assert!(
                plain.2.len() > 3 * 64 * 1024,
                "{path}: several chunks, not {}",
                plain.2.len()
            );
        }
    }

    let log = std::fs::read_to_string(s.db.dir.path().join("server.log")).unwrap_or_default();
    assert!(
        !log.contains("panicked") && !log.contains("Unfold"),
        "the server panicked:\n{}",
        s.log_tail()
    );
    s.finish().await;
}

/// A CSV export parsed with the Rust csv reader: the header and the rows.
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The values of one column of a parsed CSV.
fn column(csv: &(Vec<String>, Vec<Vec<String>>), name: &str) -> Vec<String> {
    let i = csv
        .0
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    csv.1.iter().map(|r| r[i].clone()).collect()
}

/// GETs a text body as a user.
async fn text(admin: &Admin, path: &str, token: &str) -> String {
    let res = admin
        .http
        .get(format!("{}{path}", admin.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(status.is_success(), "{path} answered {status}: {body}");
    body
}

async fn csv_injection_is_neutralised(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("rhona", P, "researcher").await;
    h.user("ana", P, "analyst").await;
    let d = h.device("rhona", "rhona-tablet").await;
    const ACTIVITY: &str = "=cmd|' /C calc'!A0";
    const TITLE: &str = "=HYPERLINK(\"http://evil.example\",\"click\")";
    const BODY: &str = "@SUM(1+1)*cmd";
    let s = session(&d, "+site", ACTIVITY, "2026-07-06").await;
    let people = participants_with_wellbeing(&d, 6, "-v2", &[s]).await;
    d.create_story(
        Some(P),
        &[
            ("title", TITLE.into()),
            ("consent_scope", "project".into()),
            ("body", BODY.into()),
            ("participant", people[0].to_string().as_str().into()),
            ("themes.-minus", true.into()),
            ("themes.+plus", true.into()),
        ],
    )
    .await
    .unwrap();
    d.sync().await.unwrap();
    let ana = h.login("ana", "ana-password").await.unwrap();
    let export = |dataset: &str, format: &str| {
        format!("/api/v1/projects/{P}/exports/{dataset}?format={format}")
    };

    // Text and category fields: a leading quote, and quoted.
    let raw = text(&h, &export("stories", "csv"), &ana).await;
    for field in [
        "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\"",
        "\"'@SUM(1+1)*cmd\"",
        "\"'+plus;-minus\"",
    ] {
        assert!(raw.contains(field), "{field} in {raw}");
    }
    let stories = parse_csv(&raw);
    assert_eq!(column(&stories, "title"), [format!("'{TITLE}")]);
    assert_eq!(column(&stories, "body"), [format!("'{BODY}")]);
    assert_eq!(column(&stories, "word_count"), ["1"]);
    let sessions = parse_csv(&text(&h, &export("sessions", "csv"), &ana).await);
    assert_eq!(column(&sessions, "site"), ["'+site"]);
    assert_eq!(column(&sessions, "activity"), [format!("'{ACTIVITY}")]);
    let attendance = parse_csv(&text(&h, &export("attendance", "csv"), &ana).await);
    assert!(
        column(&attendance, "activity")
            .iter()
            .all(|a| *a == format!("'{ACTIVITY}"))
    );
    let participants = parse_csv(&text(&h, &export("participants", "csv"), &ana).await);
    assert_eq!(column(&participants, "consent_version"), ["'-v2"; 6]);

    // Numbers are never touched: the change from baseline is a negative number.
    let wellbeing = parse_csv(&text(&h, &export("wellbeing", "csv"), &ana).await);
    let mut changes = column(&wellbeing, "change_from_baseline");
    changes.retain(|c| !c.is_empty());
    assert_eq!(changes, ["-14"; 6]);

    // JSON Lines is data: written as recorded.
    let jsonl = text(&h, &export("stories", "jsonl"), &ana).await;
    let story: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(story["title"], TITLE);
    assert_eq!(story["body"], BODY);
    assert_eq!(story["themes"], "+plus;-minus");
    let jsonl = text(&h, &export("participants", "jsonl"), &ana).await;
    let person: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(person["consent_version"], "-v2");

    // The quarterly report's CSV: text columns guarded, values not.
    let q = parse_csv(
        &text(
            &h,
            &format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=csv"),
            &ana,
        )
        .await,
    );
    let (items, values) = (column(&q, "item"), column(&q, "value"));
    let at = |item: &str| {
        items
            .iter()
            .position(|i| i == item)
            .unwrap_or_else(|| panic!("no {item} in {items:?}"))
    };
    assert_eq!(values[at(&format!("'{ACTIVITY}"))], "1");
    assert_eq!(values[at("'+site")], "1");
    assert_eq!(values[at("wemwbs.mean_change")], "-14.0000");
    h.finish().await;
}

/// What must never reach an analyst, in lower case (none of it could be part of a random id
/// or a hash).
const IDENTIFYING: [&str; 10] = [
    "morag",
    "macleod",
    "iv27",
    "4xx",
    "07700 900123",
    "01571 844",
    "example.org",
    "bloggs",
    "neighbour",
    "kept on the server",
];

fn assert_pseudonymous(what: &str, text: &str, code: &str) {
    let lower = text.to_lowercase();
    for needle in IDENTIFYING.iter().copied().chain([code]) {
        assert!(
            !lower.contains(&needle.to_lowercase()),
            "{what} shows `{needle}`: {text}"
        );
    }
}

async fn identifiers_in_analyst_views_are_redacted(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("rhona", P, "researcher").await;
    h.user("ana", P, "analyst").await;
    let d = h.device("rhona", "rhona-tablet").await;
    let croft = d
        .create_session(
            Some(P),
            &[
                ("site", "morag-croft".into()),
                ("activity", "song-circle".into()),
                ("activity_type", "choir".into()),
                ("start", "2026-07-06T10:00:00Z".into()),
                ("location", "Morag's croft, IV27 4XX".into()),
                ("facilitators.Jo Bloggs", true.into()),
                (
                    "notes",
                    "Morag came with her neighbour; ring 01571 844999".into(),
                ),
            ],
        )
        .await
        .unwrap();
    let morag = d
        .create_participant(
            Some(P),
            &[
                ("consent.data_use", true.into()),
                ("consent.story_sharing", true.into()),
                ("contact.postcode_district", "IV27".into()),
                ("referral.reason", "her neighbour asked".into()),
                ("contact.name", "Morag MacLeod".into()),
                ("contact.phone", "07700 900123".into()),
            ],
        )
        .await
        .unwrap();
    d.mark_attendance(croft, morag.id, AttendanceMark::Present)
        .await
        .unwrap();
    let others = participants_with_wellbeing(&d, 5, "v1", &[croft]).await;
    let story = |title: &'static str, scope: &'static str, body: &'static str| {
        let fields: Vec<(&str, FieldValue)> = vec![
            ("title", title.into()),
            ("consent_scope", scope.into()),
            ("body", body.into()),
            ("participant", morag.id.to_string().as_str().into()),
            ("themes.Morag", true.into()),
            ("session", croft.to_string().as_str().into()),
        ];
        let d = &d;
        async move { d.create_story(Some(P), &fields).await.unwrap() }
    };
    let shared = story(
        "Morag's walk",
        "project",
        "Morag lives in IV27 4XX, near Lochinver (IV27). Call 01571 844123 or 07700 900123, \
         or e-mail morag.macleod@example.org.",
    )
    .await;
    let private = story("Private", "private", "Kept on the server.").await;
    d.sync().await.unwrap();
    let ana = h.login("ana", "ana-password").await.unwrap();
    let code = morag.code.as_str();

    // Exports: the story's text redacted, the site code too, in both formats.
    let expected_body = "[name] lives in [postcode], near Lochinver ([postcode]). Call [phone] \
                         or [phone], or e-mail [email].";
    let jsonl = text(
        &h,
        &format!("/api/v1/projects/{P}/exports/stories?format=jsonl"),
        &ana,
    )
    .await;
    let rows: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "the private story is not exported: {jsonl}");
    assert_eq!(rows[0]["body"], expected_body);
    assert_eq!(rows[0]["title"], "[name]'s walk");
    assert_eq!(rows[0]["themes"], "[name]");
    for dataset in DATASETS {
        for format in ["csv", "jsonl"] {
            let path = format!("/api/v1/projects/{P}/exports/{dataset}?format={format}");
            let body = text(&h, &path, &ana).await;
            assert_pseudonymous(&path, &body, code);
            if dataset == "sessions" {
                assert!(body.contains("[name]-croft"), "{path}: {body}");
            }
        }
    }

    // Reports: the same site code.
    for path in [
        format!("/api/v1/projects/{P}/reports/attendance"),
        format!("/api/v1/projects/{P}/reports/outcomes"),
        format!("/api/v1/projects/{P}/reports/equity"),
        format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=json"),
        format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=md"),
        format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=csv"),
        format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=html"),
    ] {
        assert_pseudonymous(&path, &text(&h, &path, &ana).await, code);
    }
    let q = h
        .get_as(
            &format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3"),
            &ana,
        )
        .await
        .unwrap();
    assert_eq!(q["sites"][0]["site"], "[name]-croft");

    // The record endpoint: identifiers withheld, free text redacted.
    let record = |id: Uuid| format!("/api/v1/projects/{P}/records/{id}");
    let person = h.get_as(&record(morag.id), &ana).await.unwrap();
    let r = &person["record"];
    for withheld in [
        "name",
        "phone",
        "code",
        "postcode_district",
        "referral_reason",
    ] {
        assert!(r[withheld].is_null(), "{withheld}: {person}");
    }
    assert_eq!(r["consent_data_use"], true);
    let sess = h.get_as(&record(croft), &ana).await.unwrap();
    for withheld in ["notes", "facilitators", "location"] {
        assert!(sess["record"][withheld].is_null(), "{withheld}: {sess}");
    }
    assert_eq!(sess["record"]["site"], "[name]-croft");
    assert_eq!(sess["record"]["activity"], "song-circle");
    let told = h.get_as(&record(shared), &ana).await.unwrap();
    assert_eq!(told["record"]["body"], expected_body);
    assert_eq!(told["record"]["title"], "[name]'s walk");
    assert!(told["record"]["author"].is_null(), "{told}");
    for (what, v) in [
        ("participant", &person),
        ("session", &sess),
        ("story", &told),
    ] {
        assert_pseudonymous(&format!("the {what} record"), &v.to_string(), code);
    }
    // The people who run the project still see everything.
    let contact = morag.contact.expect("a contact record");
    let full = h.record(P, contact).await;
    assert_eq!(full["record"]["postcode_district"], "IV27");
    assert_eq!(full["record"]["name"], "Morag MacLeod");
    assert_eq!(full["record"]["participant"], morag.id.to_string());
    // Analysts are never given a contact record.
    assert!(h.get_as(&record(contact), &ana).await.is_err());
    assert_eq!(
        h.record(P, croft).await["record"]["facilitators"],
        json!(["Jo Bloggs"])
    );

    // The history endpoint: who changed which field when, without the identifying values.
    for id in [morag.id, croft, shared, others[0]] {
        let path = format!("/api/v1/projects/{P}/records/{id}/history");
        let history = h.get_as(&path, &ana).await.unwrap();
        assert!(
            !history["changes"].as_array().unwrap().is_empty(),
            "{history}"
        );
        assert_pseudonymous(&path, &history.to_string(), code);
    }
    let history = h
        .get_as(&format!("{}/history", record(croft)), &ana)
        .await
        .unwrap();
    let fields: Vec<&Value> = history["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["fields"].as_array().unwrap())
        .collect();
    assert!(
        fields
            .iter()
            .any(|f| f["field"] == "facilitators" && f["value"].is_null()),
        "{history}"
    );
    assert!(
        fields
            .iter()
            .any(|f| f["field"] == "site" && f["value"] == "[name]-croft")
    );
    let admin_history = h.get(&format!("{}/history", record(croft))).await;
    assert!(admin_history.to_string().contains("Jo Bloggs"));

    // Conflicts, as the analyst sees them.
    let conflicts = text(&h, &format!("/api/v1/projects/{P}/conflicts"), &ana).await;
    assert_pseudonymous("conflicts", &conflicts, code);

    // A story without sharing consent stays out of sight.
    for path in [record(private), format!("{}/history", record(private))] {
        let res = h
            .http
            .get(format!("{}{path}", h.url()))
            .bearer_auth(&ana)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }

    // The dashboard, signed in through its form.
    let client = raw_client();
    let login = client
        .post(format!("{}/dashboard/login", h.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=ana&password=ana-password")
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = client
        .get(format!("{}/dashboard/projects/{P}", h.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("[name]-croft"), "{page}");
    assert_pseudonymous("the dashboard", &page, code);
    h.finish().await;
}

/// The table cells of a Markdown table row: its `|` separators not escaped by a backslash.
fn cells(line: &str) -> usize {
    let mut n: usize = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '|' => n += 1,
            _ => {}
        }
    }
    n.saturating_sub(1)
}

async fn markdown_report_escapes_names(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    const PROJECT_NAME: &str = "*x* | [a](http://e)";
    const SITE_NAME: &str = "<b>Hall</b> | _y_ [z](javascript:alert(1)) `c` www.e.org";
    h.admin(
        "/api/v1/admin/projects",
        json!({"slug": P, "name": PROJECT_NAME}),
    )
    .await;
    h.admin(
        &format!("/api/v1/admin/projects/{P}/sites"),
        json!({"slug": "hall", "name": SITE_NAME}),
    )
    .await;
    h.user("rhona", P, "researcher").await;
    h.user("ana", P, "analyst").await;
    let d = h.device("rhona", "rhona-tablet").await;
    session(&d, "hall", "song|circle", "2026-07-06").await;
    d.sync().await.unwrap();
    let ana = h.login("ana", "ana-password").await.unwrap();
    let md = text(
        &h,
        &format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=md"),
        &ana,
    )
    .await;
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(
        lines[0],
        "# \\*x\\* \\| \\[a\\]\\(http\\:\\/\\/e\\) – quarterly report 2026-Q3"
    );
    let site = lines
        .iter()
        .find(|l| l.starts_with("| hall |"))
        .unwrap_or_else(|| panic!("no site row in {md}"));
    assert_eq!(
        *site,
        "| hall | \\<b\\>Hall\\<\\/b\\> \\| \\_y\\_ \\[z\\]\\(javascript\\:alert\\(1\\)\\) \\`c\\` \
         www\\.e\\.org | 1 |"
    );
    let activity = lines
        .iter()
        .find(|l| l.starts_with("| song\\|circle |"))
        .unwrap_or_else(|| panic!("no activity row in {md}"));
    assert_eq!(cells(activity), 4, "{activity}");
    // Every row of every table has as many cells as its header.
    let mut header_cells = None;
    for line in &lines {
        if line.starts_with('|') {
            let n = cells(line);
            let want = *header_cells.get_or_insert(n);
            assert_eq!(n, want, "{line}");
        } else {
            header_cells = None;
        }
    }
    for raw in ["](", "<b>", "`c`", "*x*", "_y_"] {
        assert!(!md.contains(raw), "`{raw}` is not escaped: {md}");
    }
    h.finish().await;
}

/// `bytes` with every UTC instant to the second (`2026-12-05T01:20:33Z`) replaced by `#`s.
fn mask_instants(bytes: &[u8]) -> Vec<u8> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:ddZ";
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + SHAPE.len() <= out.len() {
        let window = &out[i..i + SHAPE.len()];
        let fits = window.iter().zip(SHAPE).all(|(b, s)| match s {
            b'd' => b.is_ascii_digit(),
            other => b == other,
        });
        if fits {
            out[i..i + SHAPE.len()].fill(b'#');
            i += SHAPE.len();
        } else {
            i += 1;
        }
    }
    out
}
