//! Analyst access end to end: a researcher's device records a quarter of fieldwork; an analyst
//! exports tidy CSV and JSON Lines (checked with Python's csv module and the Rust csv reader
//! against the data dictionary), reads outcome statistics (checked against values computed
//! with SciPy), equity breakdowns with disclosure control (no published count below 5, and
//! suppressed cells cannot be recovered from totals) and the quarterly report; stories without
//! sharing consent and direct identifiers never leave the server.

use bothy_device::{AttendanceMark, Device, WellbeingForm};
use bothy_sync_core::{FieldValue, Instrument};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

on_both_backends!(exports_reports_and_disclosure);

pub(super) const P: &str = "highland";
pub(super) const FIXTURE: &str = include_str!("../../data/analysis_outcomes.json");
const NAMES: [(&str, &str); 3] = [
    ("Catriona Mackenzie", "07700 900461"),
    ("Ewan Fraser", "07700 900462"),
    ("Morag Sinclair", "+44 7700 900463"),
];

pub(super) struct Seeded {
    people: Vec<Uuid>,
    no_consent: Vec<Uuid>,
    stories: HashMap<&'static str, Uuid>,
}

fn date(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

pub(super) async fn seed(d: &Device, fixture: &Value) -> Seeded {
    const SITES: [&str; 2] = ["achiltibuie-hall", "ullapool-library"];
    const ACTIVITIES: [(&str, &str); 2] = [("song-circle", "choir"), ("heritage-walk", "walking")];
    let mut sessions = Vec::new();
    for w in 0..8u32 {
        let day = date("2026-07-06") + chrono::Duration::weeks(i64::from(w));
        let (activity, kind) = ACTIVITIES[(w % 2) as usize];
        let id = d
            .create_session(
                Some(P),
                &[
                    ("site", SITES[(w / 4) as usize].into()),
                    ("activity", activity.into()),
                    ("activity_type", kind.into()),
                    ("start", format!("{day}T10:00:00Z").as_str().into()),
                    ("end", format!("{day}T12:00:00Z").as_str().into()),
                    ("unregistered_attendees", FieldValue::Int(2)),
                ],
            )
            .await
            .unwrap();
        sessions.push(id);
    }
    let eth = bothy_sync_core::schema::ETHNIC_GROUPS;
    let ages = bothy_sync_core::schema::AGE_BANDS;
    let genders = ["woman", "man", "non_binary", "woman", "man"];
    let sources = bothy_sync_core::schema::REFERRAL_SOURCES;
    let mut people = Vec::new();
    for i in 0..40usize {
        let mut fields: Vec<(&str, FieldValue)> = vec![
            ("consent.data_use", true.into()),
            ("consent.story_sharing", (i != 2).into()),
            ("consent.date", "2026-07-01".into()),
            ("imd_decile", FieldValue::Int((i % 10) as i64 + 1)),
            ("ethnic_group", eth[i % eth.len()].into()),
            ("age_band", ages[1 + i % 8].into()),
            ("gender", genders[i % genders.len()].into()),
            (
                "rurality",
                if i % 3 == 0 { "urban" } else { "rural" }.into(),
            ),
            ("contact.postcode_district", "IV26".into()),
            ("referral.reason", "lonely since moving to the croft".into()),
        ];
        if i % 9 != 0 {
            fields.push(("referral.source", sources[i % sources.len()].into()));
        }
        if let Some((name, phone)) = NAMES.get(i.wrapping_sub(1)) {
            fields.push(("contact.name", (*name).into()));
            fields.push(("contact.phone", (*phone).into()));
        }
        people.push(d.create_participant(Some(P), &fields).await.unwrap().id);
    }
    // Two people who did not consent to data use: recorded, never analysed.
    let mut no_consent = Vec::new();
    for _ in 0..2 {
        let p = d
            .create_participant(
                Some(P),
                &[
                    ("consent.data_use", false.into()),
                    ("contact.name", "Alasdair Nocontent".into()),
                ],
            )
            .await
            .unwrap()
            .id;
        no_consent.push(p);
    }
    for (i, p) in people.iter().chain(&no_consent).enumerate() {
        for (s, session) in sessions.iter().enumerate().take(i % 8) {
            let mark = if s == 1 {
                AttendanceMark::LeftEarly
            } else {
                AttendanceMark::Present
            };
            d.mark_attendance(*session, *p, mark).await.unwrap();
        }
    }
    // Questionnaires from the fixture: person k answers at baseline and at end.
    let answers = fixture["people"].as_array().unwrap();
    let respondents = people.iter().take(answers.len()).chain(&no_consent);
    for (p, a) in respondents.zip(answers.iter().cycle()) {
        let instrument = match a["instrument"].as_str().unwrap() {
            "WEMWBS" => Instrument::Wemwbs,
            _ => Instrument::Swemwbs,
        };
        for (timepoint, day) in [("baseline", "2026-07-06"), ("end", "2026-08-24")] {
            let items: BTreeMap<u8, i64> = a[timepoint]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, v)| (i as u8 + 1, v.as_i64().unwrap()))
                .collect();
            d.record_wellbeing(&WellbeingForm {
                participant: *p,
                instrument: instrument.to_string(),
                timepoint: timepoint.into(),
                date: date(day),
                session: None,
                items,
            })
            .await
            .unwrap();
        }
    }
    let mut stories = HashMap::new();
    let story =
        |title: &'static str, scope: &'static str, participant: Option<Uuid>, body: &str| {
            let mut f: Vec<(&str, FieldValue)> = vec![
                ("title", title.into()),
                ("consent_scope", scope.into()),
                ("body", body.into()),
                ("themes.garden", true.into()),
            ];
            if let Some(p) = participant {
                f.push(("participant", p.to_string().as_str().into()));
            }
            async move { d.create_story(Some(P), &f).await.unwrap() }
        };
    stories.insert(
        "private",
        story(
            "Private",
            "private",
            Some(people[0]),
            "Kept on the server only.",
        )
        .await,
    );
    stories.insert(
        "shared",
        story(
            "Catriona's garden",
            "project",
            Some(people[1]),
            "Catriona Mackenzie told us about her garden. Call Catriona on 07700 900461 or \
             +44 7700 900462; Ewan Fraser came too, and Morag's sister.",
        )
        .await,
    );
    stories.insert(
        "no_sharing_consent",
        story(
            "Not shareable",
            "public",
            Some(people[2]),
            "Consent to share was not given.",
        )
        .await,
    );
    stories.insert(
        "anonymous",
        story("The choir", "public", None, "Twelve voices, one song.").await,
    );
    d.sync().await.unwrap();
    Seeded {
        people,
        no_consent,
        stories,
    }
}

/// The answer to a GET of `path` (from the server's root) with `token`.
pub(super) async fn get_response(h: &Harness, path: &str, token: &str) -> reqwest::Response {
    h.http
        .get(format!("{}{path}", h.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

pub(super) async fn get_text(h: &Harness, path: &str, token: &str) -> (u16, String) {
    let res = get_response(h, path, token).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The body of a GET that must answer 200.
pub(super) async fn get_ok(h: &Harness, path: &str, token: &str) -> String {
    let (status, body) = get_text(h, path, token).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn get_json(h: &Harness, path: &str, token: &str) -> Value {
    serde_json::from_str(&get_ok(h, path, token).await).unwrap()
}

/// The rows of a JSON Lines body.
pub(super) fn jsonl_rows<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The rows of a JSON Lines export that must answer 200.
pub(super) async fn get_jsonl<T: serde::de::DeserializeOwned>(
    h: &Harness,
    path: &str,
    token: &str,
) -> Vec<T> {
    jsonl_rows(&get_ok(h, path, token).await)
}

/// `project` with a researcher, rita, and an analyst, ana: rita's phone and ana's token.
pub(super) async fn researcher_and_analyst(h: &Harness, project: &str) -> (Device, String) {
    h.project(project).await;
    h.user("rita", project, "researcher").await;
    h.user("ana", project, "analyst").await;
    let d = h.device("rita", "rita-phone").await;
    let analyst = h.login("ana", "ana-password").await.unwrap();
    (d, analyst)
}

fn close(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_f64(), want.as_f64().unwrap());
    let g = g.unwrap_or_else(|| panic!("{what}: no value in {got}"));
    assert!((g - w).abs() < 5e-4, "{what}: got {g}, expected {w}");
}

/// Walks a report and checks every published count of people is at least 5.
fn no_small_counts(v: &Value, path: &str) {
    const COUNT_KEYS: &[&str] = &[
        "n",
        "participants",
        "attended",
        "attended_4_plus",
        "improved",
        "no_reliable_change",
        "deteriorated",
        "count",
        "attendances",
        "new_participants",
    ];
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{path}.{k}");
                if COUNT_KEYS.contains(&k.as_str())
                    && let Some(n) = x.as_u64()
                {
                    assert!(n >= 5, "{here} publishes {n}");
                }
                if k == "by_sessions_attended" {
                    for c in x.as_array().unwrap() {
                        if let Some(n) = c.as_u64() {
                            assert!(n >= 5, "{here} publishes {n}");
                        }
                    }
                }
                if (k == "attendances" || k == "referral_sources") && x.is_array() {
                    for pair in x.as_array().unwrap() {
                        if let Some(n) = pair[1].as_u64() {
                            assert!(n >= 5, "{here} publishes {n}");
                        }
                    }
                }
                no_small_counts(x, &here);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                no_small_counts(x, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

/// An attacker's attempt on a published people table: repeatedly solve any row or column
/// (interior cells plus their total) with exactly one unknown. Returns the cells recovered.
fn recover(table: &Value) -> Vec<(usize, usize)> {
    let rows = table["rows"].as_array().unwrap();
    let mut grid: Vec<Vec<Option<i64>>> = rows
        .iter()
        .map(|r| {
            r["by_sessions_attended"]
                .as_array()
                .unwrap()
                .iter()
                .map(Value::as_i64)
                .collect()
        })
        .collect();
    let mut row_totals: Vec<Option<i64>> =
        rows.iter().map(|r| r["participants"].as_i64()).collect();
    let mut col_totals: Vec<Option<i64>> = table["all"]["by_sessions_attended"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::as_i64)
        .collect();
    let grand = table["all"]["participants"].as_i64();
    let hidden: Vec<(usize, usize)> = (0..grid.len())
        .flat_map(|r| (0..grid[r].len()).map(move |c| (r, c)))
        .filter(|(r, c)| grid[*r][*c].is_none())
        .collect();
    loop {
        let mut progress = false;
        for r in 0..grid.len() {
            // Row: cells and the row total.
            let unknown: Vec<usize> = (0..grid[r].len())
                .filter(|c| grid[r][*c].is_none())
                .collect();
            let known: i64 = grid[r].iter().flatten().sum();
            match (unknown.as_slice(), row_totals[r]) {
                ([c], Some(t)) => {
                    grid[r][*c] = Some(t - known);
                    progress = true;
                }
                ([], None) => {
                    row_totals[r] = Some(known);
                    progress = true;
                }
                _ => {}
            }
        }
        for c in 0..col_totals.len() {
            let unknown: Vec<usize> = (0..grid.len()).filter(|r| grid[*r][c].is_none()).collect();
            let known: i64 = grid.iter().filter_map(|row| row[c]).sum();
            match (unknown.as_slice(), col_totals[c]) {
                ([r], Some(t)) => {
                    grid[*r][c] = Some(t - known);
                    progress = true;
                }
                ([], None) => {
                    col_totals[c] = Some(known);
                    progress = true;
                }
                _ => {}
            }
        }
        // Margins against the grand total.
        for totals in [&mut row_totals, &mut col_totals] {
            let unknown: Vec<usize> = (0..totals.len()).filter(|i| totals[*i].is_none()).collect();
            if let ([i], Some(g)) = (unknown.as_slice(), grand) {
                let known: i64 = totals.iter().flatten().sum();
                totals[*i] = Some(g - known);
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    hidden
        .into_iter()
        .filter(|(r, c)| grid[*r][*c].is_some())
        .collect()
}

fn parse_with_rust_csv(text: &str, columns: &[Value]) -> usize {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(header, names);
    let mut n = 0;
    for record in reader.records() {
        let record = record.unwrap();
        assert_eq!(record.len(), columns.len());
        for (v, c) in record.iter().zip(columns) {
            let name = c["name"].as_str().unwrap();
            if v.is_empty() {
                assert!(c["nullable"].as_bool().unwrap(), "{name} is empty");
                continue;
            }
            let ok = match c["type"].as_str().unwrap() {
                "integer" => v.parse::<i64>().is_ok(),
                "decimal" => v.parse::<f64>().is_ok(),
                "boolean" => v == "true" || v == "false",
                "date" => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
                "datetime" => chrono::DateTime::parse_from_rfc3339(v).is_ok(),
                "category" => c["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x.as_str() == Some(v)),
                _ => true,
            };
            assert!(ok, "{name}: `{v}` is not a {}", c["type"]);
        }
        n += 1;
    }
    n
}

const PYTHON_CHECK: &str = r#"
import csv, datetime, json, sys
columns = json.load(open(sys.argv[2]))
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    reader = csv.DictReader(f)
    assert reader.fieldnames == [c["name"] for c in columns], reader.fieldnames
    n = 0
    for row in reader:
        for c in columns:
            v = row[c["name"]]
            if v == "":
                assert c["nullable"], c["name"]
                continue
            t = c["type"]
            if t == "integer": int(v)
            elif t == "decimal": float(v)
            elif t == "boolean": assert v in ("true", "false"), v
            elif t == "date": datetime.date.fromisoformat(v)
            elif t == "datetime": datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
            elif t == "category": assert v in c["values"], (c["name"], v)
        n += 1
print(n)
"#;

async fn exports_reports_and_disclosure(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let (d, analyst) = researcher_and_analyst(&h, P).await;
    h.user("pete", P, "peer_worker").await;
    let seeded = seed(&d, &fixture).await;
    let researcher = h.login("rita", "rita-password").await.unwrap();
    let peer = h.login("pete", "pete-password").await.unwrap();

    // Who may read: analysts, coordinators, admins; not researchers or peer workers.
    for token in [&researcher, &peer] {
        for path in [
            "exports/attendance",
            "reports/outcomes",
            "reports/equity",
            "reports/quarterly?quarter=2026-Q3",
        ] {
            let (status, body) = get_text(&h, &format!("/api/v1/projects/{P}/{path}"), token).await;
            assert_eq!(status, 403, "{path}: {body}");
        }
    }
    // Bad input is named.
    for (path, needle) in [
        ("exports/visits", "no dataset `visits`"),
        ("exports/sessions?format=xlsx", "`format`"),
        ("exports/sessions?from=2026-13-01", "`from`"),
        ("exports/sessions?from=2026-09-01&to=2026-07-01", "after"),
        ("exports/sessions?timepoint=end", "only to the wellbeing"),
        ("exports/wellbeing?timepoint=later", "`timepoint`"),
        ("reports/outcomes?wemwbs_threshold=-1", "wemwbs_threshold"),
        ("reports/quarterly?quarter=2026-Q7", "`quarter`"),
        ("reports/quarterly?format=pdf", "`format`"),
    ] {
        let (status, body) = get_text(&h, &format!("/api/v1/projects/{P}/{path}"), &analyst).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    let (status, _) = get_text(&h, "/api/v1/projects/nowhere/exports/sessions", &analyst).await;
    assert!(status == 403 || status == 404);

    // Exports parse, with the documented columns and types, in Python and in Rust.
    let dictionary = get_json(&h, "/api/v1/data-dictionary", &analyst).await;
    let dir = tempfile::tempdir().unwrap();
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok();
    let mut counts = HashMap::new();
    for entry in dictionary.as_array().unwrap() {
        let dataset = entry["dataset"].as_str().unwrap();
        let columns = entry["columns"].as_array().unwrap();
        let (status, csv_text) = get_text(
            &h,
            &format!("/api/v1/projects/{P}/exports/{dataset}"),
            &analyst,
        )
        .await;
        assert_eq!(status, 200, "{dataset}: {csv_text}");
        let rows = parse_with_rust_csv(&csv_text, columns);
        counts.insert(dataset.to_owned(), rows);
        let file = dir.path().join(format!("{dataset}.csv"));
        std::fs::write(&file, &csv_text).unwrap();
        let cols = dir.path().join(format!("{dataset}.columns.json"));
        std::fs::write(&cols, serde_json::to_vec(columns).unwrap()).unwrap();
        if python {
            let out = std::process::Command::new("python3")
                .args(["-c", PYTHON_CHECK])
                .arg(&file)
                .arg(&cols)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{dataset}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                rows.to_string()
            );
        } else {
            bothy_tests::print_skip(&format!(
                "the Python csv check of {dataset} (python3 is not installed)"
            ));
        }
        // JSON Lines: the same rows, the same names.
        let lines: Vec<Value> = get_jsonl(
            &h,
            &format!("/api/v1/projects/{P}/exports/{dataset}?format=jsonl"),
            &analyst,
        )
        .await;
        assert_eq!(lines.len(), rows, "{dataset}");
        for l in &lines {
            let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), columns.len());
        }
    }
    // Only consenting participants: 40 of 42; their attendance and answers only.
    assert_eq!(counts["participants"], 40);
    assert_eq!(counts["sessions"], 8);
    let expected_marks: usize = (0..40).map(|i| i % 8).sum();
    assert_eq!(counts["attendance"], expected_marks);
    assert_eq!(counts["wellbeing"], 44);
    assert_eq!(counts["stories"], 2);

    // No direct identifier, no unconsented person, no unshareable story.
    let mut everything = String::new();
    for dataset in [
        "participants",
        "sessions",
        "attendance",
        "wellbeing",
        "stories",
    ] {
        for format in ["csv", "jsonl"] {
            everything.push_str(
                &get_text(
                    &h,
                    &format!("/api/v1/projects/{P}/exports/{dataset}?format={format}"),
                    &analyst,
                )
                .await
                .1,
            );
        }
    }
    for (name, phone) in NAMES {
        for part in name.split(' ') {
            assert!(!everything.contains(part), "{part} leaked");
        }
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let national = digits.trim_start_matches("44").trim_start_matches('0');
        assert!(
            !everything.replace([' ', '-'], "").contains(national),
            "{phone} leaked"
        );
    }
    for needle in [
        "Alasdair",
        "Nocontent",
        "IV26",
        "lonely",
        "croft",
        "Kept on the server",
    ] {
        assert!(!everything.contains(needle), "{needle} leaked");
    }
    for p in &seeded.no_consent {
        assert!(!everything.contains(&p.to_string()));
    }
    for (kind, id) in &seeded.stories {
        let shown = everything.contains(&id.to_string());
        assert_eq!(shown, *kind == "shared" || *kind == "anonymous", "{kind}");
    }
    assert!(everything.contains("[name] told us about her garden. Call [name] on [phone]"));

    // Filters.
    let (_, site) = get_text(
        &h,
        &format!("/api/v1/projects/{P}/exports/sessions?site=ullapool-library"),
        &analyst,
    )
    .await;
    assert_eq!(site.lines().count(), 1 + 4);
    let (_, july) = get_text(
        &h,
        &format!("/api/v1/projects/{P}/exports/attendance?from=2026-07-01&to=2026-07-12"),
        &analyst,
    )
    .await;
    let first_week: usize = (0..40).filter(|i| i % 8 >= 1).count();
    assert_eq!(july.lines().count(), 1 + first_week);
    let (_, baseline) = get_text(
        &h,
        &format!("/api/v1/projects/{P}/exports/wellbeing?timepoint=baseline&format=jsonl"),
        &analyst,
    )
    .await;
    assert_eq!(baseline.lines().count(), 22);
    let (_, ends) = get_text(
        &h,
        &format!("/api/v1/projects/{P}/exports/wellbeing?timepoint=end&format=jsonl"),
        &analyst,
    )
    .await;
    let expected_changes: Vec<Value> = fixture["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let b: i64 = p["baseline"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .sum();
            let e: i64 = p["end"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .sum();
            Value::from(e - b)
        })
        .collect();
    let wemwbs_changes: Vec<i64> = jsonl_rows::<Value>(&ends)
        .iter()
        .filter(|r| r["instrument"] == "WEMWBS")
        .map(|r| r["change_from_baseline"].as_f64().unwrap() as i64)
        .collect();
    let mut want: Vec<i64> = expected_changes[..14]
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let mut got = wemwbs_changes.clone();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);

    // Outcomes against SciPy's figures, to 3 decimal places.
    let outcomes = get_json(
        &h,
        &format!("/api/v1/projects/{P}/reports/outcomes"),
        &analyst,
    )
    .await;
    for (name, expected) in fixture["expected"].as_object().unwrap() {
        let m = outcomes["measures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["measure"] == name.as_str())
            .unwrap();
        assert_eq!(m["n"], expected["n"], "{name}");
        for key in [
            "mean_before",
            "mean_after",
            "mean_change",
            "sd_change",
            "ci95_low",
            "ci95_high",
            "t",
            "df",
            "p",
            "cohens_dz",
        ] {
            close(&m["stats"][key], &expected[key], &format!("{name}.{key}"));
        }
        let configured = &m["reliable_change"][0];
        let improved = expected["improved"].as_u64().unwrap();
        // Reliable-change counts are sums of the protected distribution's bins: each is
        // published only when it follows from published bins (here, with 14 pairs spread over
        // five bins, small bins can withhold it), and then it is right.
        let bins: Vec<Option<u64>> = m["distribution"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64())
            .collect();
        let published: u64 = bins.iter().flatten().sum();
        let hidden = bins.iter().filter(|b| b.is_none()).count();
        assert!(
            hidden == 0 || hidden >= 2,
            "{name}: one hidden bin: {bins:?}"
        );
        if hidden > 0 {
            let n = expected["n"].as_u64().unwrap();
            assert!(
                n - published >= 5,
                "{name}: hidden bins sum below 5: {bins:?}"
            );
        }
        if improved >= 5 && !configured["improved"].is_null() {
            assert_eq!(configured["improved"], improved, "{name}");
            close(
                &configured["improved_share"],
                &Value::from(improved as f64 / expected["n"].as_f64().unwrap()),
                name,
            );
        } else {
            assert!(configured["improved"].is_null());
        }
        if expected["deteriorated"].as_u64().unwrap() < 5 {
            assert!(configured["deteriorated"].is_null(), "{name}: {configured}");
            assert!(configured["deteriorated_share"].is_null());
        }
    }
    no_small_counts(&outcomes, "outcomes");
    // The threshold is a setting a request may override.
    let strict = get_json(
        &h,
        &format!("/api/v1/projects/{P}/reports/outcomes?wemwbs_threshold=9"),
        &analyst,
    )
    .await;
    assert_eq!(strict["thresholds"]["wemwbs"], 9.0);

    // Attendance and equity: nothing below 5, nothing recoverable.
    let attendance = get_json(
        &h,
        &format!("/api/v1/projects/{P}/reports/attendance"),
        &analyst,
    )
    .await;
    assert_eq!(attendance["sessions"], 8);
    no_small_counts(&attendance, "attendance");
    assert!(recover(&attendance["referral_funnel"]).is_empty());
    let equity = get_json(
        &h,
        &format!("/api/v1/projects/{P}/reports/equity"),
        &analyst,
    )
    .await;
    no_small_counts(&equity, "equity");
    let dims: Vec<&str> = equity["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dimension"].as_str().unwrap())
        .collect();
    assert_eq!(
        dims,
        [
            "imd_quintile",
            "ethnic_group",
            "age_band",
            "gender",
            "rurality"
        ]
    );
    let mut suppressed_somewhere = false;
    for d in equity["dimensions"].as_array().unwrap() {
        let table = &d["people"];
        assert!(recover(table).is_empty(), "{}: recoverable", d["dimension"]);
        suppressed_somewhere |= table["suppressed_primary"].as_u64().unwrap() > 0;
    }
    assert!(
        suppressed_somewhere,
        "the fixture has small groups to protect"
    );

    // The quarterly report in every format.
    let q = get_json(
        &h,
        &format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3"),
        &analyst,
    )
    .await;
    assert_eq!(q["sessions"], 8);
    assert_eq!(q["quarter"], "2026-Q3");
    no_small_counts(&q, "quarterly");
    let (_, md) = get_text(
        &h,
        &format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=md"),
        &analyst,
    )
    .await;
    assert!(
        md.starts_with("# highland – quarterly report 2026-Q3"),
        "{md}"
    );
    assert!(md.contains("| Sessions | 8 |"));
    let (_, csv_text) = get_text(
        &h,
        &format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=csv"),
        &analyst,
    )
    .await;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["project", "quarter", "section", "item", "value"]
    );
    assert!(reader.records().count() > 10);
    let (_, html) = get_text(
        &h,
        &format!("/api/v1/projects/{P}/reports/quarterly?quarter=2026-Q3&format=html"),
        &analyst,
    )
    .await;
    assert!(html.starts_with("<!doctype html>") && html.contains("<table>"));
    let (_, empty) = get_text(
        &h,
        &format!("/api/v1/projects/{P}/reports/quarterly?quarter=2025-Q1&format=json"),
        &analyst,
    )
    .await;
    let empty: Value = serde_json::from_str(&empty).unwrap();
    assert_eq!(empty["sessions"], 0);
    assert!(empty["new_participants"].is_null());

    // The record and history endpoints apply the same rule to analysts.
    for (kind, id) in &seeded.stories {
        let shareable = *kind == "shared" || *kind == "anonymous";
        for path in [
            format!("/api/v1/projects/{P}/records/{id}"),
            format!("/api/v1/projects/{P}/records/{id}/history"),
        ] {
            let (status, _) = get_text(&h, &path, &analyst).await;
            assert_eq!(status, if shareable { 200 } else { 404 }, "{kind}: {path}");
            let (status, _) = get_text(&h, &path, &researcher).await;
            assert_eq!(status, 200, "{kind}: researchers keep their access");
        }
    }
    for p in &seeded.no_consent {
        let (status, _) =
            get_text(&h, &format!("/api/v1/projects/{P}/records/{p}"), &analyst).await;
        assert_eq!(status, 404);
    }

    // Every export and report is audited.
    let audit = h
        .get(&format!(
            "/api/v1/projects/{P}/audit?action=export&limit=1000"
        ))
        .await;
    assert!(audit.as_array().unwrap().len() >= 20, "{audit}");
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["username"] == "ana")
    );
    let reports = h
        .get(&format!(
            "/api/v1/projects/{P}/audit?action=report&limit=1000"
        ))
        .await;
    assert!(!reports.as_array().unwrap().is_empty());
    let _ = seeded.people;
    h.finish().await;
}
