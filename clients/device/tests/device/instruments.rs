//! Questionnaires beyond WEMWBS: the other built-ins recorded offline, an unknown instrument
//! refused, and a project's own instrument received in the set-up, known before the records of
//! the same answer are stored and again after the store is reopened in a new process.
//!
//! Which instruments a process knows is process-wide state (sync-core's catalogue), so the
//! steps that must start from a process that knows nothing run in a fresh process: the test
//! runs this test binary again, once per step, with the step named in the environment.

use crate::*;
use bothy_device::WellbeingForm;
use bothy_device::bothy_sync_core::automerge::ActorId;
use bothy_device::bothy_sync_core::instrument::{self, Definition};
use bothy_device::bothy_sync_core::protocol::{
    ProjectSetup, PullData, RecordPull, Setup, SetupSite,
};
use bothy_device::bothy_sync_core::{RecordData, RecordDoc, RecordKind, Score};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Only this binary's project instrument tests use this id, so tests running in parallel in
/// one process cannot see each other's definitions.
const ID: &str = "GARDEN_FEEDBACK";

/// Five items answered 1 to 5, the third reverse-scored, summed, with bands.
fn garden_feedback() -> Definition {
    Definition::from_json(
        r#"{
          "id": "GARDEN_FEEDBACK", "version": 1, "name": "Garden session feedback",
          "items": [
            { "number": 1, "key": "enjoyed", "text": "I enjoyed the session",
              "scale": { "min": 1, "max": 5, "values": [{ "value": 1, "label": "Not at all" },
                                                        { "value": 5, "label": "Very much" }] } },
            { "number": 2, "key": "connected", "text": "I felt connected to others",
              "scale": { "min": 1, "max": 5 } },
            { "number": 3, "key": "tired", "text": "I felt worn out afterwards",
              "scale": { "min": 1, "max": 5 }, "reverse": true },
            { "number": 4, "key": "learned", "text": "I learned something",
              "scale": { "min": 1, "max": 5 } },
            { "number": 5, "key": "again", "text": "I would come again",
              "scale": { "min": 1, "max": 5 } }
          ],
          "scoring": {
            "method": "sum", "higher_is_better": true,
            "bands": [{ "name": "low", "min": 5, "max": 11 },
                      { "name": "medium", "min": 12, "max": 18 },
                      { "name": "high", "min": 19, "max": 25 }]
          }
        }"#,
    )
    .expect("the test definition is valid")
}

/// Answers scoring 4 + 5 + (6 - 2) + 3 + 4 = 20, band high.
const ANSWERS: [(u8, i64); 5] = [(1, 4), (2, 5), (3, 2), (4, 3), (5, 4)];

fn form(participant: Uuid, instrument: &str, answers: &[(u8, i64)]) -> WellbeingForm {
    WellbeingForm {
        participant,
        instrument: instrument.into(),
        timepoint: "baseline".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
        session: None,
        items: answers.iter().copied().collect(),
    }
}

#[tokio::test]
async fn ucla3_and_the_ons_loneliness_question_are_recorded_offline() {
    let (device, _dir) = offline_device().await;
    let p = device.create_participant(None, &[]).await.unwrap();

    let id = device
        .record_wellbeing(&form(p.id, "ucla3", &[(1, 2), (2, 3), (3, 1)]))
        .await
        .unwrap();
    let got = device.get(id).await.unwrap();
    let RecordData::Wellbeing(w) = &got.view.data else {
        panic!("not a questionnaire: {:?}", got.view.data)
    };
    // Stored under the id as defined; a built-in carries no version.
    assert_eq!(w.instrument, "UCLA3");
    assert_eq!(w.instrument_version, None);
    match got.score.unwrap() {
        Score::Total { total, .. } => assert_eq!(total.score, 6.0),
        other => panic!("UCLA3 has a total: {other:?}"),
    }

    let err = device
        .record_wellbeing(&form(p.id, "UCLA3", &[(1, 4)]))
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["items.1"]);

    let id = device
        .record_wellbeing(&form(p.id, "ONS_LONELINESS", &[(1, 1)]))
        .await
        .unwrap();
    match device.get(id).await.unwrap().score.unwrap() {
        Score::PerItem { answers } => {
            assert_eq!(answers.len(), 1);
            assert_eq!(answers[0].label.as_deref(), Some("Often/always"));
        }
        other => panic!("the ONS question is reported per item: {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_instrument_is_refused_naming_it_and_listing_the_known_ones() {
    let (device, _dir) = offline_device().await;
    let p = device.create_participant(None, &[]).await.unwrap();
    let err = device
        .record_wellbeing(&form(p.id, "KESSLER10", &[(1, 1)]))
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["instrument"]);
    let message = err.to_string();
    assert!(
        message.contains("`KESSLER10` is not an instrument of project highland-heritage")
            && message.contains("known: WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS"),
        "{message}"
    );
    assert_eq!(device.list(None).await.unwrap().len(), 1, "nothing stored");

    // The forms offer the built-ins before any set-up arrives.
    let forms = device.project_setup(None).await.unwrap();
    assert_eq!(
        forms.instrument_ids(),
        ["WEMWBS", "SWEMWBS", "ONS4", "UCLA3", "ONS_LONELINESS"]
    );
    // Licensed wording falls back to neutral labels; public wording is shown.
    let wemwbs = forms.form("WEMWBS").unwrap();
    assert_eq!(wemwbs.items[13].text, "WEMWBS item 14");
    let ucla = forms.form("UCLA3").unwrap();
    assert_eq!(
        ucla.items[0].text,
        "How often do you feel that you lack companionship?"
    );
    assert_eq!(ucla.items[0].labels[&1], "Hardly ever or never");
}

/// The environment variables a step reads.
const STEP: &str = "BOTHY_DEVICE_TEST_STEP";
const STORE: &str = "BOTHY_DEVICE_TEST_STORE";
const SERVER: &str = "BOTHY_DEVICE_TEST_SERVER";
const CODE: &str = "BOTHY_DEVICE_TEST_CODE";

#[tokio::test]
async fn a_project_instrument_in_the_setup_is_known_on_receipt_and_after_a_restart() {
    // A response of the project's instrument, as another device would have recorded it.
    let def = garden_feedback();
    instrument::define(PROJECT, def.clone());
    let participant = Uuid::now_v7();
    let mut fields: Vec<(String, bothy_device::bothy_sync_core::FieldValue)> = vec![
        ("participant".into(), participant.to_string().into()),
        ("instrument".into(), ID.into()),
        ("instrument_version".into(), 1i64.into()),
        ("timepoint".into(), "baseline".into()),
        ("date".into(), "2026-11-09".into()),
    ];
    for (n, a) in ANSWERS {
        fields.push((format!("items.{n}"), a.into()));
    }
    let fields: Vec<(&str, _)> = fields
        .iter()
        .map(|(p, v)| (p.as_str(), v.clone()))
        .collect();
    let mut doc = RecordDoc::create(
        ActorId::random(),
        RecordKind::Wellbeing,
        PROJECT,
        &fields,
        1_794_000_000,
    )
    .unwrap();
    let pulled = RecordPull {
        id: Uuid::now_v7(),
        kind: RecordKind::Wellbeing,
        project: PROJECT.into(),
        data: PullData::Snapshot(doc.automerge().save().into()),
    };

    // The server sends the set-up holding the definition and that response in one answer.
    let server = FakeServer::start().await;
    let setup = Setup {
        version: "setup-1".into(),
        projects: vec![ProjectSetup {
            project: PROJECT.into(),
            sites: vec![SetupSite {
                slug: "walled-garden".into(),
                name: "The walled garden".into(),
            }],
            definitions: vec![def],
            ..ProjectSetup::default()
        }],
        roles: None,
    };
    server.with(|st| {
        st.hook = Some(Box::new(move |_, response| {
            response.setup = Some(setup.clone());
            response.records.push(pulled.clone());
        }));
    });

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device.db");
    let env = [
        (STORE, store.display().to_string()),
        (SERVER, server.url.clone()),
        (CODE, server.enrolment_code()),
    ];
    for step in ["receive", "restart"] {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "instruments::step_in_a_fresh_process",
                "--nocapture",
            ])
            .env(STEP, step)
            .envs(env.iter().map(|(k, v)| (k, v)));
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "step {step} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One step of the test above, in a process of its own (it does nothing when run on its own).
#[tokio::test]
async fn step_in_a_fresh_process() {
    let Ok(step) = std::env::var(STEP) else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    assert!(
        instrument::lookup(PROJECT, ID, Some(1)).is_none(),
        "a fresh process knows only the built-ins"
    );
    let device = Device::open(var(STORE)).await.unwrap();
    match step.as_str() {
        "receive" => {
            device
                .enrol(&var(SERVER), &var(CODE), "test tablet")
                .await
                .unwrap();
            let summary = device.sync().await.unwrap();
            assert_eq!(summary.received, 1);
            // The response was stored knowing its definition: its list label has the score.
            let listed = device.list(Some(RecordKind::Wellbeing)).await.unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(
                listed[0].label,
                "2026-11-09 GARDEN_FEEDBACK baseline: score 20"
            );
        }
        "restart" => restart(&device).await,
        other => panic!("no step {other}"),
    }
    device.close().await;
}

/// After reopening the store, offline: the definition is known, offered, checked and scored.
async fn restart(device: &Device) {
    let def = instrument::lookup(PROJECT, ID, Some(1)).expect("registered when the store opened");
    assert_eq!(def.items.len(), 5);

    let forms = device.project_setup(Some(PROJECT)).await.unwrap();
    assert_eq!(
        forms.instrument_ids(),
        ["WEMWBS", "SWEMWBS", "ONS4", "UCLA3", "ONS_LONELINESS", ID]
    );
    let shown = forms.form(ID).unwrap();
    assert!(!shown.builtin);
    assert_eq!(shown.items[0].text, "I enjoyed the session");
    assert_eq!(shown.items[0].labels[&5], "Very much");
    let reversed: Vec<u8> = shown
        .items
        .iter()
        .filter(|i| i.reverse)
        .map(|i| i.number)
        .collect();
    assert_eq!(reversed, [3]);

    // The response received before the restart is still scored.
    let stored = device.list(Some(RecordKind::Wellbeing)).await.unwrap();
    let got = device.get(stored[0].id).await.unwrap();
    assert!(
        matches!(got.score, Some(Score::Total { .. })),
        "{:?}",
        got.score
    );

    // A new response: an answer outside the item's scale is refused naming the item.
    let p = device.create_participant(Some(PROJECT), &[]).await.unwrap();
    let mut answers: BTreeMap<u8, i64> = ANSWERS.into_iter().collect();
    answers.insert(3, 6);
    let answers: Vec<(u8, i64)> = answers.into_iter().collect();
    let err = device
        .record_wellbeing(&form(p.id, ID, &answers))
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["items.3"]);
    assert_eq!(err.to_string(), "items.3: must be 1 to 5 (got 6)");

    // A complete one is stored with the version it was shown from, and scored.
    let id = device
        .record_wellbeing(&form(p.id, "garden_feedback", &ANSWERS))
        .await
        .unwrap();
    let got = device.get(id).await.unwrap();
    let RecordData::Wellbeing(w) = &got.view.data else {
        panic!("not a questionnaire: {:?}", got.view.data)
    };
    assert_eq!(w.instrument, ID);
    assert_eq!(w.instrument_version, Some(1));
    match got.score.unwrap() {
        Score::Total { total, also } => {
            assert_eq!(total.raw, 20.0);
            assert_eq!(total.score, 20.0);
            assert_eq!(total.band.as_deref(), Some("high"));
            assert!(also.is_empty());
        }
        other => panic!("a summed instrument has a total: {other:?}"),
    }
}
