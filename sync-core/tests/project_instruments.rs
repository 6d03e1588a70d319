//! Responses of a project's own instrument: once a process knows the definition
//! ([`instrument::define`]), records of it are checked against its items and scales and scored
//! by the same engine as the built-ins; a project that has not defined it refuses it, naming
//! the field.

mod common;

use bothy_sync_core::instrument::{self, Definition};
use bothy_sync_core::record::RecordData;
use bothy_sync_core::scoring::Score;
use bothy_sync_core::{FieldValue, RecordDoc, RecordError, RecordKind};
use common::*;

/// Five items answered 1 to 5, item 3 reverse-scored, summed, with three bands.
const FEEDBACK5: &str = r#"{
  "id": "FEEDBACK5", "version": 1, "name": "Session feedback",
  "items": [
    { "number": 1, "key": "welcome", "scale": { "min": 1, "max": 5 }, "text": "I felt welcome" },
    { "number": 2, "key": "enjoyed", "scale": { "min": 1, "max": 5 }, "text": "I enjoyed it" },
    { "number": 3, "key": "anxious", "scale": { "min": 1, "max": 5 }, "reverse": true,
      "text": "I felt anxious" },
    { "number": 4, "key": "learned", "scale": { "min": 1, "max": 5 }, "text": "I learned something" },
    { "number": 5, "key": "return", "scale": { "min": 1, "max": 5 }, "text": "I will come again" }
  ],
  "scoring": { "method": "sum", "higher_is_better": true,
    "bands": [ { "name": "low", "min": 5, "max": 11 }, { "name": "middle", "min": 12, "max": 18 },
               { "name": "high", "min": 19, "max": 25 } ] }
}"#;

fn feedback5() -> Definition {
    Definition::from_json(FEEDBACK5).expect("the example definition is valid")
}

fn response(
    project: &str,
    instrument: &str,
    answers: &[(u8, i64)],
) -> Result<RecordDoc, RecordError> {
    let mut fields: Vec<(String, FieldValue)> = vec![
        ("participant".into(), participant(1).into()),
        ("instrument".into(), instrument.into()),
        ("timepoint".into(), "baseline".into()),
        ("date".into(), "2026-11-01".into()),
    ];
    for (n, v) in answers {
        fields.push((format!("items.{n}"), (*v).into()));
    }
    let borrowed: Vec<(&str, FieldValue)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    RecordDoc::create(device(1), RecordKind::Wellbeing, project, &borrowed, T0)
}

fn errors(result: Result<RecordDoc, RecordError>) -> Vec<String> {
    match result {
        Err(RecordError::Invalid(errs)) => errs.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("an invalid response was accepted"),
    }
}

#[test]
fn a_defined_instrument_is_recorded_checked_and_scored() {
    let project = "feedback-scored";
    instrument::define(project, feedback5());
    let doc = response(
        project,
        "FEEDBACK5",
        &[(1, 4), (2, 5), (3, 2), (4, 3), (5, 5)],
    )
    .unwrap();
    let view = doc.view().unwrap();
    let RecordData::Wellbeing(w) = view.data else {
        panic!("not a wellbeing response")
    };
    // Item 3 answered 2 counts as 1 + 5 - 2 = 4: 4 + 5 + 4 + 3 + 5 = 21, in the `high` band.
    match w.score_in(project) {
        Score::Total { total, also } => {
            assert_eq!(total.raw, 21.0);
            assert_eq!(total.score, 21.0);
            assert_eq!(total.band.as_deref(), Some("high"));
            assert!(also.is_empty());
        }
        other => panic!("not a total: {other:?}"),
    }
    assert_eq!(w.score_in(project).value(), Some(21.0));
    assert_eq!(w.score_in(project).band(), Some("high"));
    assert_eq!(w.score_in(project).raw(), Some(21));
}

#[test]
fn an_answer_outside_an_items_scale_is_refused_naming_the_item() {
    let project = "feedback-checked";
    instrument::define(project, feedback5());
    assert_eq!(
        errors(response(project, "FEEDBACK5", &[(1, 4), (3, 6)])),
        ["items.3: must be 1 to 5 (got 6)"]
    );
    assert_eq!(
        errors(response(project, "FEEDBACK5", &[(6, 1)])),
        ["items.6: FEEDBACK5 has items 1 to 5"]
    );
}

#[test]
fn a_partly_answered_sum_is_stored_but_not_scored() {
    let project = "feedback-partial";
    instrument::define(project, feedback5());
    let doc = response(project, "FEEDBACK5", &[(1, 4), (2, 5)]).unwrap();
    let RecordData::Wellbeing(w) = doc.view().unwrap().data else {
        panic!("not a wellbeing response")
    };
    match w.score_in(project) {
        Score::Incomplete { missing, .. } => assert_eq!(missing, [3, 4, 5]),
        other => panic!("an incomplete form was scored: {other:?}"),
    }
}

#[test]
fn another_projects_instrument_is_refused_naming_the_known_ones() {
    instrument::define("feedback-owner", feedback5());
    let shown = errors(response("feedback-stranger", "FEEDBACK5", &[(1, 4)]));
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with(
            "instrument: `FEEDBACK5` is not an instrument of project feedback-stranger (known: \
             WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS"
        ),
        "{shown:?}"
    );
}

#[test]
fn a_version_the_project_has_not_defined_is_refused_naming_the_version_field() {
    let project = "feedback-versions";
    instrument::define(project, feedback5());
    let mut fields: Vec<(&str, FieldValue)> = vec![
        ("participant", participant(1).into()),
        ("instrument", "FEEDBACK5".into()),
        ("instrument_version", 2i64.into()),
        ("timepoint", "baseline".into()),
        ("date", "2026-11-01".into()),
    ];
    let refused = RecordDoc::create(device(1), RecordKind::Wellbeing, project, &fields, T0);
    assert_eq!(
        errors(refused),
        ["instrument_version: FEEDBACK5 has no version 2 in project feedback-versions"]
    );
    // Once version 2 is known, responses of both versions are accepted.
    let mut v2 = feedback5();
    v2.version = 2;
    v2.items[0].scale.max = Some(7);
    instrument::define(project, v2);
    fields.push(("items.1", 7i64.into()));
    assert!(RecordDoc::create(device(1), RecordKind::Wellbeing, project, &fields, T0).is_ok());
    assert_eq!(
        errors(response(project, "FEEDBACK5", &[(1, 7)])),
        ["items.1: must be 1 to 5 (got 7)"],
        "a response without a version is of version 1"
    );
}

#[test]
fn built_in_ids_cannot_be_replaced_by_a_project() {
    let project = "feedback-builtin";
    let mut fake = feedback5();
    fake.id = "UCLA3".into();
    instrument::define(project, fake);
    // UCLA3 answers are 1 to 3 whatever the project loaded.
    assert_eq!(
        errors(response(project, "UCLA3", &[(1, 5)])),
        ["items.1: must be one of 1, 2, 3 (got 5)"]
    );
}
