//! Exports and outcome reports for any instrument: a project defines its own five-item
//! questionnaire (one reverse-scored item, bands, a reliable-change threshold) and a sixteen-item
//! one; responses to them, to UCLA3 and to the ONS loneliness question are pushed at baseline
//! and end. The long export has one row per answered item with the value scored; the wide
//! export has the score, band and version, and as many item columns as the longest instrument
//! in it; the outcome report pairs baseline and end on the project's instrument with the
//! definition's direction, threshold and bands, and refuses, naming the parameter, an unknown
//! instrument or one scored item by item. Expected figures are worked out here by hand.

use bothy_sync_core::automerge::ActorId;
use bothy_sync_core::instrument::{self, Definition};
use bothy_sync_core::protocol::SyncRequest;
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use bothy_tests::{Backend, Harness, on_both_backends, push_history};
use serde_json::{Value, json};
use uuid::Uuid;

on_both_backends!(exports_and_outcomes_follow_the_definitions);

/// Used by this scenario alone: definitions are known process-wide, by project.
const P: &str = "instrument-exports";
const NOW: i64 = 1_780_000_000;
const BASELINE: &str = "2026-03-02";
const END: &str = "2026-06-01";

/// Five items answered 1 to 5; item 3 is worded the other way and reverse-scored (6 - answer).
/// The score is the sum, 5 to 25, in three bands that cover it.
const CONNECT5: &str = r#"{
  "id": "CONNECT5",
  "version": 1,
  "name": "Community connection (five items)",
  "items": [
    { "number": 1, "key": "belong", "scale": { "min": 1, "max": 5, "values": [{ "value": 1, "label": "Never" }, { "value": 5, "label": "Always" }] }, "text": "I feel I belong in my community." },
    { "number": 2, "key": "talk", "scale": { "min": 1, "max": 5 }, "text": "I have someone to talk to." },
    { "number": 3, "key": "cut_off", "scale": { "min": 1, "max": 5 }, "text": "I feel cut off from others.", "reverse": true },
    { "number": 4, "key": "welcome", "scale": { "min": 1, "max": 5 }, "text": "I feel welcome at local groups." },
    { "number": 5, "key": "help", "scale": { "min": 1, "max": 5 }, "text": "I could ask a neighbour for help." }
  ],
  "scoring": {
    "method": "sum",
    "higher_is_better": true,
    "bands": [
      { "name": "low", "label": "Low", "min": 5, "max": 11 },
      { "name": "moderate", "label": "Moderate", "min": 12, "max": 18 },
      { "name": "high", "label": "High", "min": 19, "max": 25 }
    ],
    "reliable_change": [
      { "points": 3, "label": "meaningful change", "source": "the project's pilot" }
    ]
  }
}"#;

/// Sixteen items answered 0 to 3, scored as their mean.
fn longform() -> Definition {
    let items: Vec<Value> = (1..=16)
        .map(|n| json!({"number": n, "scale": {"min": 0, "max": 3}, "text": format!("Question {n}.")}))
        .collect();
    Definition::from_json(
        &json!({
            "id": "LONGFORM",
            "version": 1,
            "name": "A long form",
            "items": items,
            "scoring": {"method": "mean", "higher_is_better": true}
        })
        .to_string(),
    )
    .expect("a valid definition")
}

/// The score of a CONNECT5 form, worked out by hand: item 3 counts as 6 - answer.
fn connect5_score(a: &[i64; 5]) -> i64 {
    a[0] + a[1] + (6 - a[2]) + a[3] + a[4]
}

/// The band of a CONNECT5 score, by the cut points above.
fn connect5_band(score: i64) -> &'static str {
    match score {
        5..=11 => "low",
        12..=18 => "moderate",
        _ => "high",
    }
}

/// Answers whose CONNECT5 score is `total` (5 to 25), spread over the items, item 3 written
/// the way it is asked.
fn answers_scoring(total: i64) -> [i64; 5] {
    let mut scored = [1i64; 5];
    let mut left = total - 5;
    for s in scored.iter_mut() {
        let add = left.min(4);
        *s += add;
        left -= add;
    }
    assert_eq!(left, 0, "{total} is out of range");
    [scored[0], scored[1], 6 - scored[2], scored[3], scored[4]]
}

/// (baseline, end) CONNECT5 scores of the sixteen participants: six low, five moderate and
/// five high at baseline; five low, five moderate and six high at the end.
const TOTALS: [(i64, i64); 16] = [
    (6, 9),
    (8, 8),
    (9, 14),
    (10, 10),
    (11, 16),
    (7, 11),
    (12, 11),
    (13, 19),
    (15, 17),
    (17, 21),
    (18, 18),
    (19, 23),
    (20, 16),
    (22, 25),
    (24, 24),
    (25, 22),
];

struct Pushed {
    token: String,
    actor: ActorId,
}

impl Pushed {
    /// Pushes new records and checks the server took every one.
    async fn push(&self, h: &Harness, records: Vec<(Uuid, RecordDoc)>) {
        let mut push = Vec::new();
        for (id, mut doc) in records {
            push.push(push_history(id, &mut doc));
        }
        let response = h
            .sync_raw(
                &self.token,
                &SyncRequest {
                    push,
                    ..SyncRequest::default()
                },
            )
            .await;
        assert!(response.reports.is_empty(), "{:?}", response.reports);
    }

    fn participant(&self, k: usize, consent: bool) -> (Uuid, RecordDoc) {
        let doc = RecordDoc::create(
            self.actor.clone(),
            RecordKind::Participant,
            P,
            &[
                ("code", format!("CX12-{:04}", k + 1).as_str().into()),
                ("consent.data_use", consent.into()),
                ("consent.date", "2026-03-01".into()),
            ],
            NOW,
        )
        .unwrap();
        (Uuid::now_v7(), doc)
    }

    fn response(
        &self,
        participant: Uuid,
        instrument: &str,
        timepoint: &str,
        date: &str,
        answers: &[(u8, i64)],
    ) -> (Uuid, RecordDoc) {
        let participant = participant.to_string();
        let mut fields: Vec<(String, FieldValue)> = vec![
            ("participant".into(), participant.as_str().into()),
            ("instrument".into(), instrument.into()),
            ("timepoint".into(), timepoint.into()),
            ("date".into(), date.into()),
        ];
        if instrument::builtin(instrument).is_none() {
            fields.push(("instrument_version".into(), FieldValue::Int(1)));
        }
        for (n, a) in answers {
            fields.push((format!("items.{n}"), FieldValue::Int(*a)));
        }
        let refs: Vec<(&str, FieldValue)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let doc = RecordDoc::create(self.actor.clone(), RecordKind::Wellbeing, P, &refs, NOW)
            .unwrap_or_else(|e| panic!("{instrument} {timepoint}: {e}"));
        (Uuid::now_v7(), doc)
    }
}

fn numbered(answers: &[i64]) -> Vec<(u8, i64)> {
    answers
        .iter()
        .enumerate()
        .map(|(i, a)| (i as u8 + 1, *a))
        .collect()
}

async fn get_text(h: &Harness, path: &str, token: &str) -> (u16, String) {
    let res = h
        .http
        .get(format!("{}/api/v1/projects/{P}/{path}", h.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn get_json(h: &Harness, path: &str, token: &str) -> Value {
    let (status, body) = get_text(h, path, token).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn jsonl(h: &Harness, path: &str, token: &str) -> Vec<Value> {
    let (status, body) = get_text(h, path, token).await;
    assert_eq!(status, 200, "{path}: {body}");
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The CSV header and rows of an export, as text fields.
async fn csv_export(h: &Harness, path: &str, token: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let (status, body) = get_text(h, path, token).await;
    assert_eq!(status, 200, "{path}: {body}");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
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

fn close(got: &Value, want: f64, what: &str) {
    let g = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no number in {got}"));
    assert!((g - want).abs() < 1e-9, "{what}: got {g}, expected {want}");
}

async fn exports_and_outcomes_follow_the_definitions(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    instrument::define(
        P,
        Definition::from_json(CONNECT5).expect("a valid definition"),
    );
    instrument::define(P, longform());
    h.project(P).await;
    h.user("rita", P, "researcher").await;
    h.user("ana", P, "analyst").await;
    let analyst = h.login("ana", "ana-password").await.unwrap();
    let (token, actor) = h.raw_device("rita").await;
    let device = Pushed { token, actor };

    // Sixteen consenting participants and one who did not consent to data use.
    let mut people = Vec::new();
    let mut records = Vec::new();
    for k in 0..17 {
        let (id, doc) = device.participant(k, k < 16);
        people.push(id);
        records.push((id, doc));
    }
    device.push(&h, records).await;
    let refused_consent = people[16];

    // CONNECT5 at baseline and end; one incomplete interim form; the unconsenting person too.
    let mut records = Vec::new();
    let mut ids = Vec::new();
    for (k, (before, after)) in TOTALS.iter().enumerate() {
        let b = device.response(
            people[k],
            "CONNECT5",
            "baseline",
            BASELINE,
            &numbered(&answers_scoring(*before)),
        );
        let e = device.response(
            people[k],
            "CONNECT5",
            "end",
            END,
            &numbered(&answers_scoring(*after)),
        );
        ids.push((b.0, e.0));
        records.push(b);
        records.push(e);
    }
    let interim = device.response(
        people[0],
        "CONNECT5",
        "interim",
        "2026-04-13",
        &[(1, 2), (2, 3), (3, 4), (5, 1)],
    );
    let interim_id = interim.0;
    records.push(interim);
    records.push(device.response(
        refused_consent,
        "CONNECT5",
        "baseline",
        BASELINE,
        &numbered(&[5, 5, 1, 5, 5]),
    ));
    // UCLA3 (sum 3-9, lower is better) for one participant; the ONS loneliness question
    // (answers reported one by one) for another; the sixteen-item form at baseline only.
    let ucla_b = device.response(
        people[0],
        "UCLA3",
        "baseline",
        BASELINE,
        &numbered(&[3, 2, 3]),
    );
    let ucla_e = device.response(people[0], "UCLA3", "end", END, &numbered(&[2, 1, 2]));
    let (ucla_b_id, ucla_e_id) = (ucla_b.0, ucla_e.0);
    records.extend([ucla_b, ucla_e]);
    records.push(device.response(people[1], "ONS_LONELINESS", "baseline", BASELINE, &[(1, 2)]));
    let long_answers: Vec<i64> = (0..16).map(|i| i % 4).collect();
    records.push(device.response(
        people[2],
        "LONGFORM",
        "baseline",
        BASELINE,
        &numbered(&long_answers),
    ));
    device.push(&h, records).await;

    // The long export: one row per answered item, with the value scored.
    let long = jsonl(&h, "exports/wellbeing_items?format=jsonl", &analyst).await;
    // 16 x 2 CONNECT5 forms of 5 items, the interim's 4, UCLA3 2 x 3, ONS 1, LONGFORM 16.
    assert_eq!(long.len(), 16 * 2 * 5 + 4 + 6 + 1 + 16);
    assert!(
        long.iter()
            .all(|r| r["participant_id"] != refused_consent.to_string()),
        "a participant without consent to data use is exported"
    );
    let first_baseline = answers_scoring(TOTALS[0].0);
    assert_eq!(first_baseline, [2, 1, 5, 1, 1]);
    let rows: Vec<&Value> = long
        .iter()
        .filter(|r| r["response_id"] == ids[0].0.to_string())
        .collect();
    let keys = ["belong", "talk", "cut_off", "welcome", "help"];
    let expected: Vec<Value> = (0..5)
        .map(|i| {
            let answer = first_baseline[i];
            json!({
                "response_id": ids[0].0.to_string(),
                "participant_id": people[0].to_string(),
                "project": P,
                "instrument": "CONNECT5",
                "instrument_version": 1,
                "timepoint": "baseline",
                "response_date": BASELINE,
                "item": i + 1,
                "item_key": keys[i],
                "answer": answer,
                "scored": if i == 2 { 6 - answer } else { answer },
            })
        })
        .collect();
    let rows: Vec<Value> = rows.into_iter().cloned().collect();
    assert_eq!(rows, expected);
    // Item 3 answered 5 counts 1: the scored values add up to the score.
    let scored: i64 = expected.iter().map(|r| r["scored"].as_i64().unwrap()).sum();
    assert_eq!(scored, 6);
    let interim_items: Vec<(i64, i64, i64)> = long
        .iter()
        .filter(|r| r["response_id"] == interim_id.to_string())
        .map(|r| {
            (
                r["item"].as_i64().unwrap(),
                r["answer"].as_i64().unwrap(),
                r["scored"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(interim_items, [(1, 2, 2), (2, 3, 3), (3, 4, 2), (5, 1, 1)]);
    let ucla_items: Vec<Value> = long
        .iter()
        .filter(|r| r["response_id"] == ucla_b_id.to_string())
        .map(|r| json!([r["item"], r["item_key"], r["answer"], r["scored"]]))
        .collect();
    assert_eq!(
        ucla_items,
        [
            json!([1, "lack_companionship", 3, 3]),
            json!([2, "left_out", 2, 2]),
            json!([3, "isolated", 3, 3])
        ]
    );
    // Filters apply as to the wide export.
    let ends = jsonl(
        &h,
        "exports/wellbeing_items?format=jsonl&timepoint=end",
        &analyst,
    )
    .await;
    assert_eq!(ends.len(), 16 * 5 + 3);
    let (status, body) = get_text(&h, "exports/wellbeing_items?timepoint=later", &analyst).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("`timepoint`"), "{body}");

    // The wide export: the dictionary's columns, then item_15 and item_16 for LONGFORM.
    let dictionary = h.get("/api/v1/data-dictionary").await;
    let listed: Vec<String> = dictionary
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dataset"] == "wellbeing")
        .unwrap()["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed[listed.len() - 4..],
        [
            "instrument_version",
            "band",
            "higher_is_better",
            "reliable_change_threshold"
        ]
    );
    let (header, rows) = csv_export(&h, "exports/wellbeing", &analyst).await;
    let mut want = listed.clone();
    want.extend(["item_15".to_owned(), "item_16".to_owned()]);
    assert_eq!(header, want);
    assert_eq!(rows.len(), 16 * 2 + 1 + 2 + 1 + 1);
    let col = |name: &str| header.iter().position(|c| c == name).unwrap();
    let long_row = rows
        .iter()
        .find(|r| r[col("instrument")] == "LONGFORM")
        .unwrap();
    assert_eq!(long_row[col("item_15")], "2");
    assert_eq!(long_row[col("item_16")], "3");
    // Mean of 0,1,2,3 repeated four times.
    assert_eq!(long_row[col("score")], "1.5");
    // Without LONGFORM in it (end forms only) the export has the dictionary's columns alone.
    let (header, _) = csv_export(&h, "exports/wellbeing?timepoint=end", &analyst).await;
    assert_eq!(header, listed);

    let wide = jsonl(&h, "exports/wellbeing?format=jsonl", &analyst).await;
    let by_id = |id: Uuid| {
        wide.iter()
            .find(|r| r["response_id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} is not exported"))
            .clone()
    };
    for (k, (before, after)) in TOTALS.iter().enumerate() {
        let (b_id, e_id) = ids[k];
        let b = by_id(b_id);
        let e = by_id(e_id);
        let (b_answers, e_answers) = (answers_scoring(*before), answers_scoring(*after));
        assert_eq!(connect5_score(&b_answers), *before);
        assert_eq!(connect5_score(&e_answers), *after);
        let change = after - before;
        // Numbers are written as they are: a whole score without a decimal point.
        assert_eq!(b["score"], json!(before), "{b}");
        assert_eq!(b["raw_score"], json!(before), "{b}");
        assert_eq!(b["band"], connect5_band(*before), "{b}");
        assert!(b["change_from_baseline"].is_null(), "{b}");
        assert_eq!(
            [
                &e["score"],
                &e["band"],
                &e["baseline_response_id"],
                &e["baseline_score"],
                &e["change_from_baseline"],
                &e["reliable_improvement"],
                &e["reliable_deterioration"],
                &e["instrument_version"],
                &e["higher_is_better"],
                &e["reliable_change_threshold"],
            ],
            [
                &json!(after),
                &json!(connect5_band(*after)),
                &json!(b_id.to_string()),
                &json!(before),
                &json!(change),
                &json!(change >= 3),
                &json!(change <= -3),
                &json!(1),
                &json!(true),
                &json!(3),
            ],
            "participant {k}: {e}"
        );
        for (i, a) in e_answers.iter().enumerate() {
            assert_eq!(e[format!("item_{}", i + 1).as_str()], json!(a), "{e}");
        }
        assert!(e["item_6"].is_null() && e["item_16"].is_null(), "{e}");
        assert!(e["wemwbs_band"].is_null() && e["swemwbs_metric"].is_null());
    }
    let interim = by_id(interim_id);
    assert_eq!(interim["complete"], false);
    assert_eq!(interim["items_answered"], 4);
    assert!(interim["score"].is_null() && interim["band"].is_null());
    assert!(
        interim["incomplete_reason"]
            .as_str()
            .unwrap()
            .contains("missing item 4"),
        "{interim}"
    );
    // UCLA3: its score is the sum; lower is better, and its definition gives no threshold.
    let ucla = by_id(ucla_e_id);
    assert_eq!(
        [
            &ucla["score"],
            &ucla["raw_score"],
            &ucla["baseline_response_id"],
            &ucla["baseline_score"],
            &ucla["change_from_baseline"],
            &ucla["higher_is_better"],
            &ucla["reliable_improvement"],
            &ucla["reliable_change_threshold"],
            &ucla["band"],
        ],
        [
            &json!(5),
            &json!(5),
            &json!(ucla_b_id.to_string()),
            &json!(8),
            &json!(-3),
            &json!(false),
            &Value::Null,
            &Value::Null,
            &Value::Null,
        ],
        "{ucla}"
    );
    let ons = wide
        .iter()
        .find(|r| r["instrument"] == "ONS_LONELINESS")
        .unwrap();
    assert_eq!(ons["complete"], true);
    assert!(ons["score"].is_null() && ons["higher_is_better"].is_null());
    assert_eq!(ons["item_1"], 2);

    // The outcome report pairs baseline and end on the project's instrument.
    let before: Vec<f64> = TOTALS.iter().map(|t| t.0 as f64).collect();
    let after: Vec<f64> = TOTALS.iter().map(|t| t.1 as f64).collect();
    let n = TOTALS.len() as f64;
    let changes: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let mean_change = changes.iter().sum::<f64>() / n;
    // 28 points of change over 16 pairs; 236 and 264 points in all before and after.
    assert_eq!(mean_change, 1.75);
    let sd = (changes
        .iter()
        .map(|c| (c - mean_change).powi(2))
        .sum::<f64>()
        / (n - 1.0))
        .sqrt();
    let report = get_json(&h, "reports/outcomes", &analyst).await;
    let measures = report["measures"].as_array().unwrap();
    let names: Vec<&str> = measures
        .iter()
        .map(|m| m["measure"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "wemwbs",
            "swemwbs",
            "ons4_life_satisfaction",
            "ons4_worthwhile",
            "ons4_happiness",
            "ons4_anxiety",
            "connect5",
            "longform",
            "ucla3"
        ]
    );
    let connect = &measures[6];
    assert_eq!(connect["instrument"], "CONNECT5");
    assert_eq!(connect["instrument_version"], 1);
    assert_eq!(connect["direction"], 1);
    assert_eq!(connect["n"], 16);
    assert_eq!(
        connect["label"],
        "Community connection (five items) (CONNECT5; sum, 5-25)"
    );
    close(
        &connect["stats"]["mean_before"],
        236.0 / 16.0,
        "mean_before",
    );
    close(&connect["stats"]["mean_after"], 264.0 / 16.0, "mean_after");
    close(&connect["stats"]["mean_change"], mean_change, "mean_change");
    close(&connect["stats"]["sd_change"], sd, "sd_change");
    close(&connect["stats"]["df"], 15.0, "df");
    close(&connect["stats"]["t"], mean_change / (sd / n.sqrt()), "t");
    let threshold = &connect["reliable_change"][0];
    assert_eq!(threshold["threshold"], 3.0);
    assert_eq!(
        threshold["source"],
        "3 points: meaningful change (the project's pilot)"
    );
    assert_eq!(connect["reliable_change"].as_array().unwrap().len(), 1);
    // Bands by hand: six, five and five at baseline; five, five and six at the end.
    let count = |scores: &[f64], band: &str| {
        scores
            .iter()
            .filter(|s| connect5_band(**s as i64) == band)
            .count()
    };
    let bands: Vec<Value> = ["low", "moderate", "high"]
        .iter()
        .map(|b| {
            json!({
                "band": b,
                "label": format!("{}{}", b[..1].to_uppercase(), &b[1..]),
                "baseline": count(&before, b),
                "follow_up": count(&after, b),
            })
        })
        .collect();
    assert_eq!(connect["bands"], json!(bands));
    assert_eq!(
        connect["bands"],
        json!([
            {"band": "low", "label": "Low", "baseline": 6, "follow_up": 5},
            {"band": "moderate", "label": "Moderate", "baseline": 5, "follow_up": 5},
            {"band": "high", "label": "High", "baseline": 5, "follow_up": 6},
        ])
    );
    assert!(connect["note"].is_null(), "{connect}");
    // UCLA3: one pair, so suppressed; lower is better; no threshold, said so.
    let ucla = &measures[8];
    assert_eq!(ucla["direction"], -1);
    assert!(ucla["n"].is_null() && ucla["stats"].is_null());
    assert!(ucla.get("bands").is_none());
    let note = ucla["note"].as_str().unwrap();
    assert!(note.contains("fewer than 5"), "{note}");
    assert!(note.contains("no reliable-change threshold"), "{note}");
    // The built-in measures keep their shape: no instrument or band fields.
    assert!(measures[0].get("instrument").is_none() && measures[0].get("bands").is_none());
    // The ONS loneliness question has no total: listed with the reason, not left out.
    assert_eq!(report["not_reported"][0]["instrument"], "ONS_LONELINESS");
    assert!(
        report["not_reported"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("per_item"),
        "{report}"
    );

    // One instrument on request.
    let only = get_json(&h, "reports/outcomes?instrument=CONNECT5", &analyst).await;
    assert_eq!(only["measures"].as_array().unwrap().len(), 1);
    assert_eq!(only["measures"][0], *connect);
    let versioned = get_json(
        &h,
        "reports/outcomes?instrument=CONNECT5&instrument_version=1",
        &analyst,
    )
    .await;
    assert_eq!(versioned["measures"][0]["n"], 16);
    let ons4 = get_json(&h, "reports/outcomes?instrument=ONS4", &analyst).await;
    assert_eq!(ons4["measures"].as_array().unwrap().len(), 4);
    // Refusals name the parameter.
    for (query, needles) in [
        (
            "instrument=NOPE",
            vec![
                "`instrument`",
                "`NOPE` is not an instrument of project instrument-exports",
                "CONNECT5",
            ],
        ),
        (
            "instrument=ONS_LONELINESS",
            vec![
                "`instrument`",
                "ONS_LONELINESS",
                "per_item",
                "wellbeing_items",
            ],
        ),
        (
            "instrument=CONNECT5&instrument_version=2",
            vec!["`instrument_version`", "no version 2 of CONNECT5"],
        ),
        (
            "instrument=UCLA3&instrument_version=2",
            vec!["`instrument_version`", "only version 1"],
        ),
        (
            "instrument_version=1",
            vec!["`instrument_version` needs `instrument`"],
        ),
        ("instrument=", vec!["`instrument` is empty"]),
    ] {
        let (status, body) = get_text(&h, &format!("reports/outcomes?{query}"), &analyst).await;
        assert_eq!(status, 400, "{query}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "invalid_query", "{query}: {body}");
        for needle in needles {
            assert!(body.contains(needle), "{query}: {needle} not in {body}");
        }
    }

    // The quarterly report summarises the project's instrument beside the built-ins.
    let q = get_json(&h, "reports/quarterly?quarter=2026-Q2", &analyst).await;
    let line = q["wellbeing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["measure"] == "connect5")
        .unwrap_or_else(|| panic!("{q}"));
    assert_eq!(line["n"], 16);
    close(&line["mean_change"], mean_change, "quarterly mean_change");
    h.finish().await;
}
