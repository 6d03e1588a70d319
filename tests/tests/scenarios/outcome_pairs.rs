//! The `outcome_pairs` export is the outcomes report's pairs, row for row: for every measure
//! (WEMWBS, SWEMWBS from both forms, the four ONS4 items, UCLA3) its rows count the report's
//! n, their mean change is the report's mean change, their reliable-change codes count the
//! report's reliable-change figures, with the default follow-up and with `timepoint`, `from`,
//! `to` and threshold parameters. The figures recomputed from the rows (n, mean change, paired
//! t, reliable improvement) also agree with SciPy's in the fixture. The same holds on the demo
//! programme (`bothy-server demo`): a year of a programme of 300 participants over four sites.

use super::analysis::{FIXTURE, get_jsonl, get_ok, researcher_and_analyst};
use bothy_device::{Device, WellbeingForm};
use bothy_sync_core::FieldValue;
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

on_both_backends!(outcome_pairs_match_the_report);
on_both_backends!(outcome_pairs_match_the_report_on_the_demo_programme);

const P: &str = "lochside";

fn date(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

async fn answer(d: &Device, p: Uuid, instrument: &str, timepoint: &str, day: &str, items: &[i64]) {
    d.record_wellbeing(&WellbeingForm {
        participant: p,
        instrument: instrument.into(),
        timepoint: timepoint.into(),
        date: date(day),
        session: None,
        items: items
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u8 + 1, *v))
            .collect(),
    })
    .await
    .unwrap();
}

fn items(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// The fixture's 22 people (WEMWBS or SWEMWBS at baseline and end), some also at interim and
/// follow-up and one with an earlier second end; 9 more with ONS4 and UCLA3; one person who
/// did not consent, with pairs that must not appear.
async fn seed(d: &Device, fixture: &Value) {
    let consent = |yes: bool| -> Vec<(&'static str, FieldValue)> {
        vec![
            ("consent.data_use", yes.into()),
            ("consent.date", "2026-07-01".into()),
        ]
    };
    let people = fixture["people"].as_array().unwrap();
    for (i, a) in people.iter().enumerate() {
        let p = d
            .create_participant(Some(P), &consent(true))
            .await
            .unwrap()
            .id;
        let instrument = a["instrument"].as_str().unwrap();
        let (b, e) = (items(&a["baseline"]), items(&a["end"]));
        answer(d, p, instrument, "baseline", "2026-07-06", &b).await;
        answer(d, p, instrument, "end", "2026-08-24", &e).await;
        if i < 12 {
            answer(d, p, instrument, "interim", "2026-07-27", &e).await;
        }
        if i % 3 == 0 {
            answer(d, p, instrument, "follow_up", "2026-10-05", &b).await;
        }
        if i % 4 == 1 {
            // An earlier end: paired only when `to` falls before the later one.
            answer(d, p, instrument, "end", "2026-08-03", &b).await;
        }
    }
    for i in 0..9i64 {
        let p = d
            .create_participant(Some(P), &consent(true))
            .await
            .unwrap()
            .id;
        let ons = |k: i64| {
            [
                (k + i) % 11,
                (2 * k + i) % 11,
                (k * i) % 11,
                (10 - k + i) % 11,
            ]
        };
        answer(d, p, "ONS4", "baseline", "2026-07-06", &ons(4)).await;
        answer(d, p, "ONS4", "end", "2026-08-24", &ons(7)).await;
        answer(d, p, "UCLA3", "baseline", "2026-07-07", &[1 + i % 3, 2, 3]).await;
        answer(d, p, "UCLA3", "end", "2026-08-25", &[1, 1 + (i * 2) % 3, 2]).await;
    }
    let p = d
        .create_participant(Some(P), &consent(false))
        .await
        .unwrap()
        .id;
    answer(d, p, "ONS4", "baseline", "2026-07-06", &[1, 2, 3, 4]).await;
    answer(d, p, "ONS4", "end", "2026-08-24", &[5, 6, 7, 8]).await;
    d.sync().await.unwrap();
}

async fn get(h: &Harness, path: &str, token: &str) -> String {
    get_ok(h, &format!("/api/v1/projects/{P}/{path}"), token).await
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Checks the rows against the report, measure by measure; returns the rows by measure.
fn same_pairs(report: &Value, rows: &[Value], what: &str) -> BTreeMap<String, Vec<Value>> {
    let mut by_measure: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in rows {
        by_measure
            .entry(r["measure"].as_str().unwrap().to_owned())
            .or_default()
            .push(r.clone());
    }
    let measures = report["measures"].as_array().unwrap();
    for name in by_measure.keys() {
        assert!(
            measures.iter().any(|m| m["measure"] == name.as_str()),
            "{what}: {name} is not in the report"
        );
    }
    for m in measures {
        let name = m["measure"].as_str().unwrap();
        let mine = by_measure.get(name).cloned().unwrap_or_default();
        let context = format!("{what}: {name}");
        match m["n"].as_u64() {
            Some(n) => assert_eq!(mine.len() as u64, n, "{context}"),
            None => assert!(mine.len() < 5, "{context}: {} rows", mine.len()),
        }
        for r in &mine {
            assert_eq!(r["follow_up_timepoint"], report["follow_up"], "{context}");
            assert_eq!(r["direction"], m["direction"], "{context}");
            let change =
                r["follow_up_score"].as_f64().unwrap() - r["baseline_score"].as_f64().unwrap();
            assert!(
                (change - r["change"].as_f64().unwrap()).abs() < 1e-9,
                "{context}"
            );
            assert!(r["days_between"].as_i64().unwrap() >= 0, "{context}");
        }
        if let Some(stats) = m["stats"].as_object() {
            let changes: Vec<f64> = mine.iter().map(|r| r["change"].as_f64().unwrap()).collect();
            let got = mean(&changes);
            let want = stats["mean_change"].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-9,
                "{context}: mean change {got} vs {want}"
            );
        }
        let shares = m["reliable_change"].as_array().unwrap();
        for (k, (t, class)) in [
            ("threshold", "reliable_change"),
            ("threshold_2", "reliable_change_2"),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(s) = shares.get(k) else {
                assert!(
                    mine.iter().all(|r| r[t].is_null() && r[class].is_null()),
                    "{context}"
                );
                continue;
            };
            for code in ["improved", "no_reliable_change", "deteriorated"] {
                let count = mine.iter().filter(|r| r[class] == code).count() as u64;
                assert!(
                    mine.iter()
                        .all(|r| r[t].as_f64() == s["threshold"].as_f64()),
                    "{context}"
                );
                if let Some(published) = s[code].as_u64() {
                    assert_eq!(count, published, "{context}: {class} {code}");
                }
            }
        }
    }
    by_measure
}

async fn outcome_pairs_match_the_report(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let (d, analyst) = researcher_and_analyst(&h, P).await;
    seed(&d, &fixture).await;

    let mut default_rows = BTreeMap::new();
    for q in [
        "",
        "timepoint=end",
        "timepoint=interim",
        "timepoint=follow_up",
        "to=2026-08-10",
        "from=2026-08-01&to=2026-08-20",
        "from=2026-08-25",
        "wemwbs_threshold=9&swemwbs_threshold=2",
    ] {
        let report: Value =
            serde_json::from_str(&get(&h, &format!("reports/outcomes?{q}"), &analyst).await)
                .unwrap();
        let rows: Vec<Value> = get_jsonl(
            &h,
            &format!("/api/v1/projects/{P}/exports/outcome_pairs?format=jsonl&{q}"),
            &analyst,
        )
        .await;
        let csv = get(&h, &format!("exports/outcome_pairs?{q}"), &analyst).await;
        assert_eq!(csv.lines().count(), rows.len() + 1, "{q}");
        let by_measure = same_pairs(&report, &rows, q);
        if q.is_empty() {
            default_rows = by_measure;
        } else if q == "to=2026-08-10" {
            // The earlier end of five fixture people, changed by nothing from baseline.
            let n = default_rows.get("wemwbs").map_or(0, Vec::len);
            let early = by_measure.values().flatten().count();
            assert!(early > 0 && n > 0);
            assert!(
                by_measure
                    .values()
                    .flatten()
                    .all(|r| r["follow_up_date"] == "2026-08-03")
            );
        } else if q == "timepoint=follow_up" {
            assert!(rows.iter().all(|r| r["follow_up_timepoint"] == "follow_up"));
            assert!(rows.iter().all(|r| r["change"].as_f64() == Some(0.0)));
        }
    }

    // The rows' figures are SciPy's: n, mean change, paired t, reliable improvement.
    for (name, want) in fixture["expected"].as_object().unwrap() {
        let rows = &default_rows[name];
        assert_eq!(rows.len() as u64, want["n"].as_u64().unwrap(), "{name}");
        let changes: Vec<f64> = rows.iter().map(|r| r["change"].as_f64().unwrap()).collect();
        let m = mean(&changes);
        let sd = (changes.iter().map(|c| (c - m).powi(2)).sum::<f64>()
            / (changes.len() - 1) as f64)
            .sqrt();
        let t = m / (sd / (changes.len() as f64).sqrt());
        assert!(
            (m - want["mean_change"].as_f64().unwrap()).abs() < 1e-9,
            "{name}"
        );
        assert!(
            (sd - want["sd_change"].as_f64().unwrap()).abs() < 1e-9,
            "{name}"
        );
        assert!((t - want["t"].as_f64().unwrap()).abs() < 1e-9, "{name}");
        let count =
            |class: &str, code: &str| rows.iter().filter(|r| r[class] == code).count() as u64;
        assert_eq!(
            count("reliable_change", "improved"),
            want["improved"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            count("reliable_change", "deteriorated"),
            want["deteriorated"].as_u64().unwrap(),
            "{name}"
        );
        if name == "wemwbs" {
            assert_eq!(
                count("reliable_change_2", "improved"),
                want["improved_strict"].as_u64().unwrap()
            );
        }
    }
    // SWEMWBS pairs come from both forms; ONS4 and UCLA3 are there; no unconsented person.
    let swemwbs = &default_rows["swemwbs"];
    assert!(swemwbs.iter().any(|r| r["baseline_instrument"] == "WEMWBS"));
    assert!(
        swemwbs
            .iter()
            .any(|r| r["baseline_instrument"] == "SWEMWBS")
    );
    assert_eq!(default_rows["ons4_anxiety"].len(), 9);
    assert!(
        default_rows["ons4_anxiety"]
            .iter()
            .all(|r| r["threshold"].is_null())
    );
    let ucla = &default_rows["ucla3"];
    assert_eq!(ucla.len(), 9);
    assert!(
        ucla.iter()
            .all(|r| r["instrument"] == "UCLA3" && r["direction"] == -1)
    );

    // Bad input is named.
    for (q, needle) in [
        ("timepoint=baseline", "follow-up timepoint"),
        ("timepoint=later", "follow-up timepoint"),
        ("from=2026-09-01&to=2026-08-01", "after"),
    ] {
        let res = h
            .http
            .get(format!(
                "{}/api/v1/projects/{P}/exports/outcome_pairs?{q}",
                h.url()
            ))
            .bearer_auth(&analyst)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "{q}");
        assert!(res.text().await.unwrap().contains(needle), "{q}");
    }
}

/// On the demo programme as `bothy-server demo` makes it: every measure's rows count the
/// report's n, average its mean change and count its reliable-change figures, for the whole
/// programme, each follow-up timepoint, and one site.
async fn outcome_pairs_match_the_report_on_the_demo_programme(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    super::demo::fill_default_demo(&h).await;
    let analyst = h.login("ana", "ana-password").await.unwrap();
    let mut pairs = 0;
    for q in [
        "",
        "timepoint=interim",
        "timepoint=follow_up",
        "site=harbour-hall",
    ] {
        let report: Value = serde_json::from_str(
            &get_ok(
                &h,
                &format!("/api/v1/projects/demo/reports/outcomes?{q}"),
                &analyst,
            )
            .await,
        )
        .unwrap();
        let rows: Vec<Value> = get_jsonl(
            &h,
            &format!("/api/v1/projects/demo/exports/outcome_pairs?format=jsonl&{q}"),
            &analyst,
        )
        .await;
        let by_measure = same_pairs(&report, &rows, &format!("demo {q}"));
        if q.is_empty() {
            pairs = by_measure.values().map(Vec::len).sum();
            // Real-looking figures: WEMWBS and SWEMWBS pairs, published with statistics.
            for name in ["wemwbs", "swemwbs"] {
                let m = report["measures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["measure"] == name)
                    .unwrap();
                assert!(m["n"].as_u64().unwrap() >= 20, "{name}: {m}");
                assert!(m["stats"].is_object(), "{name}: {m}");
            }
        }
    }
    assert!(pairs > 100, "{pairs} pairs in the demo");
}
