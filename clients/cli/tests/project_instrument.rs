//! A project's own questionnaire from definition to analysis, on SQLite and PostgreSQL: a
//! coordinator defines a five-item instrument with one reverse-scored item and bands with
//! `bothy admin instrument define` (two versions); a field worker's `bothy` device and the web
//! app in a real browser (tests/browser/webapp-instrument.mjs) receive it on sync and record it
//! offline; after they sync, the server's scores, the long and wide exports and the outcome
//! report's paired change are the ones worked out here by hand.

mod common;

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

on_both_backends!(a_project_instrument_from_definition_to_outcome);

const PROJECT: &str = "glen-connect";

/// The instrument, as a coordinator writes it: five items answered 1 (Never) to 5 (Always),
/// the fourth reverse-scored, a sum banded low, medium and high. Version 2 words item 5
/// differently, which the web app's check expects.
fn definition(version: u32) -> Value {
    let labels = json!([
        {"value": 1, "label": "Never"}, {"value": 2, "label": "Rarely"},
        {"value": 3, "label": "Sometimes"}, {"value": 4, "label": "Often"},
        {"value": 5, "label": "Always"}
    ]);
    let item = |n: u8, key: &str, text: &str, reverse: bool| {
        let mut item = json!({"number": n, "key": key,
                              "scale": {"min": 1, "max": 5, "values": labels}, "text": text});
        if reverse {
            item["reverse"] = true.into();
        }
        item
    };
    let useful = if version == 1 {
        "I feel useful to others"
    } else {
        "I feel useful to others in the group"
    };
    json!({
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
}

/// The score by hand: the fourth answer `a` counts as 1 + 5 - a.
fn score(answers: [i64; 5]) -> i64 {
    answers[0] + answers[1] + answers[2] + (6 - answers[3]) + answers[4]
}

fn band(score: i64) -> &'static str {
    match score {
        ..=11 => "low",
        12..=18 => "medium",
        _ => "high",
    }
}

/// Baseline and end answers of the six participants the terminal device registers.
const PAIRS: [([i64; 5], [i64; 5]); 6] = [
    ([2, 2, 2, 4, 2], [3, 3, 3, 3, 3]),
    ([3, 3, 3, 3, 3], [4, 4, 4, 2, 4]),
    ([1, 1, 1, 5, 1], [1, 2, 1, 5, 1]),
    ([4, 4, 4, 2, 4], [5, 5, 5, 1, 5]),
    ([3, 2, 3, 3, 2], [3, 3, 3, 3, 2]),
    ([5, 5, 5, 1, 5], [4, 4, 4, 2, 4]),
];
/// What the web app answers (tests/browser/webapp-instrument.mjs), and the end answers the
/// terminal device records later for the same participant.
const WEB_BASELINE: [i64; 5] = [4, 5, 3, 2, 4];
const WEB_PARTICIPANT_END: [i64; 5] = [5, 5, 4, 1, 5];

/// `bothy --store STORE ARGS` as `user` (password `<user>-password`) against `server`, which
/// must succeed.
async fn run(store: &Path, server: &str, user: &str, args: &[&str]) -> String {
    let o = common::run_as(store, server, user, &format!("{user}-password"), args).await;
    common::ok(&o)
}

/// A device command that needs no server: run with an address nothing listens on, so any
/// attempt to reach the server would fail the command.
async fn offline(store: &Path, args: &[&str]) -> String {
    run(store, "http://127.0.0.1:9", "ruth", args).await
}

fn items_arg(answers: [i64; 5]) -> String {
    answers.map(|a| a.to_string()).join(",")
}

async fn get(h: &Harness, path: &str, token: &str) -> String {
    let res = h
        .http
        .get(format!("{}/api/v1/projects/{PROJECT}/{path}", h.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn a_project_instrument_from_definition_to_outcome(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("project instrument browser check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let url = h.url();
    h.project(PROJECT).await;
    for (user, role) in [
        ("cora", "coordinator"),
        ("ruth", "researcher"),
        ("mairi", "researcher"),
        ("ana", "analyst"),
    ] {
        h.user(user, PROJECT, role).await;
    }
    let dir = tempfile::tempdir().unwrap();

    // 1. The coordinator defines the instrument from files, in two versions.
    let admin_store = dir.path().join("cora.db");
    for version in [1, 2] {
        let file = dir.path().join(format!("connect-v{version}.json"));
        std::fs::write(&file, definition(version).to_string()).unwrap();
        let said = run(
            &admin_store,
            &url,
            "cora",
            &[
                "admin",
                "instrument",
                "define",
                file.to_str().unwrap(),
                "--project",
                PROJECT,
            ],
        )
        .await;
        assert_eq!(
            said.trim(),
            format!("defined CONNECT version {version} for project {PROJECT} (5 items)")
        );
    }

    // 2. The terminal device enrols and syncs, then records offline: six participants, each
    // at baseline and at the end.
    let store: PathBuf = dir.path().join("ruth.db");
    let code = h.enrolment_code("ruth").await;
    run(
        &store,
        &url,
        "ruth",
        &[
            "enrol",
            "--server",
            &url,
            "--code",
            &code,
            "--name",
            "ruth-laptop",
        ],
    )
    .await;
    run(&store, &url, "ruth", &["sync"]).await;
    offline(&store, &["use", PROJECT]).await;
    let known = offline(&store, &["wellbeing", "instruments"]).await;
    assert!(
        known.lines().any(|l| l.starts_with("CONNECT")),
        "the device received the definition: {known}"
    );
    let mut cli_participants = Vec::new();
    for (baseline, end) in PAIRS {
        let added = offline(
            &store,
            &["--json", "participant", "add", "--consent-data-use"],
        )
        .await;
        let added: Value = serde_json::from_str(&added).unwrap();
        let code = added["code"].as_str().unwrap().to_owned();
        for (timepoint, answers) in [("baseline", baseline), ("end", end)] {
            let said = offline(
                &store,
                &[
                    "wellbeing",
                    "record",
                    "--participant",
                    &code,
                    "--instrument",
                    "CONNECT",
                    "--timepoint",
                    timepoint,
                    "--items",
                    &items_arg(answers),
                ],
            )
            .await;
            let s = score(answers);
            assert!(
                said.starts_with(&format!("recorded CONNECT version 2 {timepoint} ("))
                    && said.contains(&format!("\nscore {s}, band {}", band(s))),
                "{said}"
            );
        }
        cli_participants.push(added["id"].as_str().unwrap().to_owned());
    }
    run(&store, &url, "ruth", &["sync"]).await;

    // 3. The web app records a participant's baseline offline and syncs when back online.
    let code = h.enrolment_code("mairi").await;
    let out = bothy_tests::artifacts_dir("project-instrument", backend);
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(240),
        tokio::process::Command::new("node")
            .arg(browser_dir.join("webapp-instrument.mjs"))
            .args([url.as_str(), code.as_str()])
            .arg(&out)
            .current_dir(&browser_dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the web app finished within 4 minutes")
    .expect("node runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "webapp-instrument.mjs failed: {said}"
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["score"], "CONNECT score 20. Band: High.");
    let web_participant = summary["participant"].as_str().unwrap().to_owned();
    let web_response = summary["wellbeing"].as_str().unwrap().to_owned();

    // 4. The terminal device receives that participant and records their end form offline.
    run(&store, &url, "ruth", &["sync"]).await;
    offline(
        &store,
        &[
            "wellbeing",
            "record",
            "--participant",
            &web_participant,
            "--instrument",
            "CONNECT",
            "--timepoint",
            "end",
            "--items",
            &items_arg(WEB_PARTICIPANT_END),
        ],
    )
    .await;
    let synced: Value =
        serde_json::from_str(&run(&store, &url, "ruth", &["--json", "sync"]).await).unwrap();
    assert_eq!(synced["set_aside"], 0, "{synced}");
    assert_eq!(synced["reports"], json!([]), "{synced}");

    // 5. The server's scores: every form complete, version 2, scored as by hand.
    let mut pairs: Vec<(String, [i64; 5], [i64; 5])> = cli_participants
        .iter()
        .zip(PAIRS)
        .map(|(p, (b, e))| (p.clone(), b, e))
        .collect();
    pairs.push((web_participant.clone(), WEB_BASELINE, WEB_PARTICIPANT_END));
    let rows = h
        .sql(
            "SELECT participant_id, timepoint, instrument_version, complete, score, band \
             FROM wellbeing_responses WHERE instrument = 'CONNECT' ORDER BY participant_id",
            &[],
        )
        .await;
    assert_eq!(rows.len(), 14, "{rows:?}");
    for (participant, baseline, end) in &pairs {
        for (timepoint, answers) in [("baseline", baseline), ("end", end)] {
            let row = rows
                .iter()
                .find(|r| r["participant_id"] == *participant && r["timepoint"] == timepoint)
                .unwrap_or_else(|| panic!("no {timepoint} form of {participant}: {rows:?}"));
            let s = score(*answers);
            assert_eq!(row["instrument_version"], 2, "{row:?}");
            assert_eq!(row["score"].as_f64(), Some(s as f64), "{row:?}");
            assert_eq!(row["band"], band(s), "{row:?}");
            assert_eq!(row["complete"], 1, "{row:?}");
        }
    }

    // 6. The exports an analyst downloads. Long: one row per answered item, the fourth scored
    // reversed.
    let ana = h.login("ana", "ana-password").await.unwrap();
    let long: Vec<Value> = get(&h, "exports/wellbeing_items?format=jsonl", &ana)
        .await
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(long.len(), 14 * 5);
    let web_items: Vec<(i64, i64, i64, String)> = long
        .iter()
        .filter(|r| r["response_id"] == web_response.as_str())
        .map(|r| {
            assert_eq!(r["instrument"], "CONNECT");
            assert_eq!(r["instrument_version"], 2);
            assert_eq!(r["participant_id"], web_participant.as_str());
            (
                r["item"].as_i64().unwrap(),
                r["answer"].as_i64().unwrap(),
                r["scored"].as_i64().unwrap(),
                r["item_key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let keys = ["belong", "talk", "welcome", "left_out", "useful"];
    let expected: Vec<(i64, i64, i64, String)> = (0..5)
        .map(|i| {
            let a = WEB_BASELINE[i];
            let scored = if i == 3 { 6 - a } else { a };
            (i as i64 + 1, a, scored, keys[i].to_owned())
        })
        .collect();
    assert_eq!(web_items, expected);

    // Wide: one row per form with its score, band, answers and change from baseline.
    let wide: Vec<Value> = get(&h, "exports/wellbeing?format=jsonl", &ana)
        .await
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(wide.len(), 14);
    for (participant, baseline, end) in &pairs {
        let of = |timepoint: &str| {
            wide.iter()
                .find(|r| r["participant_id"] == *participant && r["timepoint"] == timepoint)
                .unwrap_or_else(|| panic!("no {timepoint} row of {participant}"))
        };
        for (timepoint, answers) in [("baseline", baseline), ("end", end)] {
            let row = of(timepoint);
            assert_eq!(row["score"].as_f64(), Some(score(*answers) as f64), "{row}");
            assert_eq!(row["band"], band(score(*answers)), "{row}");
            assert_eq!(row["instrument_version"], 2, "{row}");
            for (i, a) in answers.iter().enumerate() {
                assert_eq!(row[format!("item_{}", i + 1)], *a, "{row}");
            }
        }
        assert_eq!(
            of("end")["change_from_baseline"].as_f64(),
            Some((score(*end) - score(*baseline)) as f64),
            "{}",
            of("end")
        );
    }

    // 7. The outcome report: the paired change from baseline to end over the seven pairs.
    let report: Value = serde_json::from_str(
        &get(
            &h,
            "reports/outcomes?instrument=CONNECT&instrument_version=2",
            &ana,
        )
        .await,
    )
    .unwrap();
    let measures = report["measures"].as_array().unwrap();
    assert_eq!(measures.len(), 1, "{report}");
    let m = &measures[0];
    assert_eq!(m["instrument"], "CONNECT", "{m}");
    assert_eq!(m["instrument_version"], 2, "{m}");
    assert_eq!(m["n"], 7, "{m}");
    let before: Vec<f64> = pairs.iter().map(|(_, b, _)| score(*b) as f64).collect();
    let after: Vec<f64> = pairs.iter().map(|(_, _, e)| score(*e) as f64).collect();
    let changes: Vec<f64> = before.iter().zip(&after).map(|(b, a)| a - b).collect();
    let n = changes.len() as f64;
    let mean = changes.iter().sum::<f64>() / n;
    let sd = (changes.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // By hand: before 108 / 7, after 124 / 7, change 16 / 7.
    assert_eq!(before.iter().sum::<f64>(), 108.0);
    assert_eq!(after.iter().sum::<f64>(), 124.0);
    let close = |got: &Value, want: f64, what: &str| {
        let got = got
            .as_f64()
            .unwrap_or_else(|| panic!("{what} is not a number: {m}"));
        assert!((got - want).abs() < 1e-9, "{what}: {got} != {want}");
    };
    close(&m["stats"]["mean_before"], 108.0 / 7.0, "mean_before");
    close(&m["stats"]["mean_after"], 124.0 / 7.0, "mean_after");
    close(&m["stats"]["mean_change"], 16.0 / 7.0, "mean_change");
    close(&m["stats"]["sd_change"], sd, "sd_change");
    close(&m["stats"]["t"], mean / (sd / n.sqrt()), "t");
    assert_eq!(m["direction"], 1, "higher is better: {m}");
    h.finish().await;
}
