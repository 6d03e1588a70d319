//! Instrument definitions: the built-ins, the generic scoring engine, the checks on a
//! definition, which changes a definition in use may take, and reading one from CSV.

use bothy_sync_core::instrument::{
    self, Band, Complete, Definition, DefinitionError, LookupRow, Method, Scored, builtin,
    builtins, compatible_change,
};
use bothy_sync_core::scoring::{
    self, Instrument, ONS4_ITEMS, Ons4Band, SWEMWBS_ITEMS_IN_WEMWBS, Score, ons4_band,
    swemwbs_metric,
};
use bothy_sync_core::wording::ONS4_QUESTIONS;
use std::collections::BTreeMap;

fn form(values: &[i64]) -> BTreeMap<u8, i64> {
    (1u8..).zip(values.iter().copied()).collect()
}

fn def(id: &str) -> Definition {
    builtin(id)
        .unwrap_or_else(|| panic!("no built-in {id}"))
        .clone()
}

/// The paths of a refusal's errors, and the whole text for diagnostics.
fn refused(result: Result<(), Vec<DefinitionError>>) -> (Vec<String>, String) {
    let errs = result.expect_err("expected a refusal");
    let text = errs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    (errs.into_iter().map(|e| e.path).collect(), text)
}

fn total_of(scored: &Scored) -> (f64, f64) {
    match scored {
        Scored::Total { total, .. } => (total.raw, total.score),
        other => panic!("expected a total, got {other:?}"),
    }
}

// ----- Built-ins ------------------------------------------------------------------------------

#[test]
fn every_builtin_validates_and_has_a_unique_id() {
    let ids: Vec<&str> = builtins().iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        ["WEMWBS", "SWEMWBS", "ONS4", "UCLA3", "ONS_LONELINESS"]
    );
    for d in builtins() {
        assert_eq!(d.validate(), Ok(()), "{}", d.id);
        assert_eq!(d.version, 1, "{}", d.id);
        assert!(!d.sources.is_empty(), "{} cites no source", d.id);
    }
}

#[test]
fn licensed_instruments_carry_no_wording() {
    for id in ["WEMWBS", "SWEMWBS"] {
        let d = def(id);
        assert!(d.licensed_wording, "{id}");
        assert!(d.items.iter().all(|i| i.text.is_none()), "{id}");
        assert!(
            d.items.iter().all(|i| i.scale.values.is_empty()),
            "{id}: no answer labels"
        );
    }
    // And a licensed definition that carries text is refused, naming the item.
    let mut d = def("WEMWBS");
    d.items[4].text = Some("Some wording".to_owned());
    let (paths, _) = refused(d.validate());
    assert_eq!(paths, ["items[4].text"]);
}

#[test]
fn the_scoring_api_is_a_view_of_the_definitions() {
    let wemwbs = Instrument::Wemwbs.definition();
    let short = wemwbs.scoring.also_named("swemwbs").unwrap();
    assert_eq!(short.subset.as_deref(), Some(&SWEMWBS_ITEMS_IN_WEMWBS[..]));
    // The SWEMWBS table inside WEMWBS is the SWEMWBS definition's own table.
    assert_eq!(
        short.lookup,
        Instrument::Swemwbs.definition().scoring.lookup
    );

    let ons4 = Instrument::Ons4.definition();
    let keys: Vec<&str> = ons4
        .items
        .iter()
        .map(|i| i.key.as_deref().unwrap())
        .collect();
    assert_eq!(keys, ONS4_ITEMS);
    let texts: Vec<&str> = ons4
        .items
        .iter()
        .map(|i| i.text.as_deref().unwrap())
        .collect();
    assert_eq!(texts, ONS4_QUESTIONS);

    for (inst, count, range) in [
        (Instrument::Wemwbs, 14, (1, 5)),
        (Instrument::Swemwbs, 7, (1, 5)),
        (Instrument::Ons4, 4, (0, 10)),
    ] {
        assert_eq!(inst.item_count(), count, "{inst}");
        assert_eq!(inst.item_range(), range, "{inst}");
        assert_eq!(inst.definition().id, inst.as_str());
    }
}

#[test]
fn builtin_codes_are_the_cited_ones() {
    let codes = |id: &str| -> Vec<(String, String)> {
        def(id)
            .codes
            .into_iter()
            .map(|c| (c.system, c.code))
            .collect()
    };
    let pair = |s: &str, c: &str| (s.to_owned(), c.to_owned());
    assert_eq!(codes("WEMWBS"), [pair("SNOMED CT", "718426000")]);
    assert_eq!(codes("SWEMWBS"), [pair("SNOMED CT", "718466001")]);
    assert_eq!(codes("UCLA3"), [pair("LOINC", "106418-7")]);
    assert!(codes("ONS4").is_empty());
    assert!(codes("ONS_LONELINESS").is_empty());
}

#[test]
fn reliable_change_thresholds_are_the_published_ones() {
    let points = |id: &str| -> Vec<f64> {
        def(id)
            .scoring
            .reliable_change
            .iter()
            .map(|r| r.points)
            .collect()
    };
    // WEMWBS: about 3 points (Warwick FAQ, the default), 9 (NHS Digital, from 8.55).
    assert_eq!(points("WEMWBS"), [3.0, 9.0]);
    // SWEMWBS: 3 metric points (NHS Digital, the default), 1 (Shah et al. 2018, SEM 1.03).
    assert_eq!(points("SWEMWBS"), [3.0, 1.0]);
    assert!(points("UCLA3").is_empty());
}

// ----- The engine -----------------------------------------------------------------------------

#[test]
fn swemwbs_table_through_the_generic_engine_matches_the_published_table() {
    let swemwbs = def("SWEMWBS");
    let wemwbs = def("WEMWBS");
    let csv = include_str!("data/swemwbs_metric.csv");
    let mut rows = 0;
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let (raw, metric) = line.split_once(',').unwrap();
        let raw: i64 = raw.trim().parse().unwrap();
        let metric: f64 = metric.trim().parse().unwrap();
        // A SWEMWBS form whose answers sum to `raw`.
        let mut answers = [1i64; 7];
        let mut left = raw - 7;
        for a in answers.iter_mut() {
            let add = left.min(4);
            *a += add;
            left -= add;
        }
        assert_eq!(
            total_of(&instrument::score(&swemwbs, &form(&answers))),
            (raw as f64, metric),
            "raw {raw}"
        );
        // The same answers in a WEMWBS form's SWEMWBS items (the rest answered 5).
        let mut long = [5i64; 14];
        for (n, a) in SWEMWBS_ITEMS_IN_WEMWBS.iter().zip(answers) {
            long[usize::from(*n) - 1] = a;
        }
        match instrument::score(&wemwbs, &form(&long)) {
            Scored::Total { total, also } => {
                assert_eq!(total.raw, (raw + 35) as f64);
                assert_eq!(also.len(), 1);
                assert_eq!((also[0].raw, also[0].score), (raw as f64, metric));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(swemwbs_metric(raw), Some(metric));
        rows += 1;
    }
    assert_eq!(rows, 29);
}

/// UCLA three-item loneliness scale. Scoring as published by Hughes, Waite, Hawkley and
/// Cacioppo (2004), "A short scale for measuring loneliness in large surveys", Research on
/// Aging 26(6), and as LOINC 106418-7 describes it: each answer 1 (hardly ever or never),
/// 2 (some of the time) or 3 (often); the three are summed, 3 to 9; higher is lonelier. No item
/// is reverse-scored. The questions and answers are those ONS recommends (Measuring loneliness:
/// guidance for use of the national indicators on surveys, 2018).
#[test]
fn ucla3_totals_are_the_sum_of_the_three_answers() {
    let d = def("UCLA3");
    assert_eq!(d.scoring.method, Method::Sum);
    assert!(!d.scoring.higher_is_better);
    assert!(d.items.iter().all(|i| !i.reverse));
    assert!(
        d.scoring.bands.is_empty(),
        "published cut-offs differ, so none is built in"
    );
    let table: [([i64; 3], f64); 9] = [
        ([1, 1, 1], 3.0),
        ([2, 1, 1], 4.0),
        ([1, 2, 2], 5.0),
        ([3, 2, 1], 6.0),
        ([2, 2, 3], 7.0),
        ([3, 3, 2], 8.0),
        ([3, 3, 3], 9.0),
        ([1, 3, 1], 5.0),
        ([1, 1, 3], 5.0),
    ];
    for (answers, want) in table {
        assert_eq!(
            total_of(&instrument::score(&d, &form(&answers))),
            (want, want),
            "{answers:?}"
        );
    }
    // Every combination: the total is the plain sum, and every total 3..=9 occurs.
    let mut seen = std::collections::BTreeSet::new();
    for a in 1..=3 {
        for b in 1..=3 {
            for c in 1..=3 {
                let (raw, score) = total_of(&instrument::score(&d, &form(&[a, b, c])));
                assert_eq!((raw, score), ((a + b + c) as f64, (a + b + c) as f64));
                seen.insert(a + b + c);
            }
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        (3..=9).collect::<Vec<_>>()
    );
    // The wording is public and carried by the definition.
    assert_eq!(
        d.items[1].text.as_deref(),
        Some("How often do you feel left out?")
    );
    assert_eq!(d.items[0].scale.label(3), Some("Often"));
}

#[test]
fn ucla3_with_an_answer_missing_or_out_of_range_is_not_scored() {
    let d = def("UCLA3");
    for answers in [form(&[1, 2]), form(&[1, 4, 2]), form(&[0, 2, 2])] {
        match instrument::score(&d, &answers) {
            Scored::Incomplete { missing, reason } => {
                assert_eq!(missing.len(), 1, "{answers:?}");
                assert!(
                    reason.starts_with("UCLA3 is not scored: 2 of 3"),
                    "{reason}"
                );
            }
            other => panic!("{answers:?} must not be scored: {other:?}"),
        }
    }
}

/// ONS direct measure of loneliness, "How often do you feel lonely?". The five answers and
/// their order are ONS's (Measuring loneliness: guidance for use of the national indicators on
/// surveys, 2018); ONS reports the share of people giving each answer (e.g. "Loneliness - what
/// characteristics and circumstances are associated with feeling lonely?", 2018: 5% often or
/// always) and publishes no score, so the answer is reported as its category. Answers are
/// numbered in ONS's order, so a higher number means less lonely.
#[test]
fn ons_loneliness_answers_are_reported_as_their_category() {
    let d = def("ONS_LONELINESS");
    assert_eq!(d.scoring.method, Method::PerItem);
    assert!(d.scoring.higher_is_better);
    let table = [
        (1, "Often/always"),
        (2, "Some of the time"),
        (3, "Occasionally"),
        (4, "Hardly ever"),
        (5, "Never"),
    ];
    for (value, category) in table {
        match instrument::score(&d, &form(&[value])) {
            Scored::PerItem { answers } => {
                assert_eq!(answers.len(), 1);
                assert_eq!(answers[0].value, value);
                assert_eq!(answers[0].label.as_deref(), Some(category), "{value}");
                assert_eq!(answers[0].key.as_deref(), Some("lonely"));
                assert_eq!(answers[0].band, None);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    for bad in [0, 6] {
        assert!(!instrument::score(&d, &form(&[bad])).is_complete(), "{bad}");
    }
}

#[test]
fn ons4_bands_through_the_engine_match_the_published_thresholds() {
    // Satisfaction, worthwhile, happy: 0-4 low, 5-6 medium, 7-8 high, 9-10 very high.
    // Anxiety: 0-1 very low, 2-3 low, 4-5 medium, 6-10 high.
    let positive = |v: i64| match v {
        0..=4 => Ons4Band::Low,
        5..=6 => Ons4Band::Medium,
        7..=8 => Ons4Band::High,
        _ => Ons4Band::VeryHigh,
    };
    let anxiety = |v: i64| match v {
        0..=1 => Ons4Band::VeryLow,
        2..=3 => Ons4Band::Low,
        4..=5 => Ons4Band::Medium,
        _ => Ons4Band::High,
    };
    for item in 0..=6u8 {
        for value in -2..=12 {
            let want = match item {
                1..=3 if (0..=10).contains(&value) => Some(positive(value)),
                4 if (0..=10).contains(&value) => Some(anxiety(value)),
                _ => None,
            };
            assert_eq!(ons4_band(item, value), want, "item {item} value {value}");
        }
    }
    let d = def("ONS4");
    assert_eq!(d.scoring.group_of(4).unwrap().higher_is_better, Some(false));
    match instrument::score(&d, &form(&[9, 5, 7, 1])) {
        Scored::PerItem { answers } => {
            let got: Vec<(&str, Option<&str>)> = answers
                .iter()
                .map(|a| (a.key.as_deref().unwrap(), a.band.as_deref()))
                .collect();
            assert_eq!(
                got,
                [
                    ("life_satisfaction", Some("very_high")),
                    ("worthwhile", Some("medium")),
                    ("happy", Some("high")),
                    ("anxious", Some("very_low")),
                ]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn legacy_scores_equal_direct_sums_for_many_forms() {
    // A simple deterministic generator: every form differs, answers cover the whole scale.
    let mut seed = 0x2545_f491_u64;
    let mut next = |lo: i64, hi: i64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + (seed % ((hi - lo + 1) as u64)) as i64
    };
    for _ in 0..500 {
        let answers: Vec<i64> = (0..14).map(|_| next(1, 5)).collect();
        let total: i64 = answers.iter().sum();
        let short: i64 = SWEMWBS_ITEMS_IN_WEMWBS
            .iter()
            .map(|n| answers[usize::from(*n) - 1])
            .sum();
        assert_eq!(
            scoring::score(Instrument::Wemwbs, &form(&answers)),
            Score::Wemwbs {
                total,
                swemwbs_raw: short,
                swemwbs_metric: swemwbs_metric(short).unwrap(),
            }
        );
        let seven = &answers[..7];
        let raw: i64 = seven.iter().sum();
        assert_eq!(
            scoring::score(Instrument::Swemwbs, &form(seven)),
            Score::Swemwbs {
                raw,
                metric: swemwbs_metric(raw).unwrap(),
            }
        );
    }
    // Incomplete forms say so in the same words as before.
    match scoring::score(Instrument::Swemwbs, &form(&[3, 3, 3, 9, 3])) {
        Score::Incomplete { missing, reason } => {
            assert_eq!(missing, [4, 6, 7]);
            assert_eq!(
                reason,
                "SWEMWBS is not scored: 4 of 7 items answered; missing items 4, 6, 7. The \
                 scale gives no rule for missing answers, so an incomplete form has no score."
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn reversed_items_mean_scores_and_bands() {
    let json = r#"{
        "id": "MOOD_CHECK",
        "version": 1,
        "name": "Mood check",
        "items": [
            { "number": 1, "scale": { "min": 0, "max": 4 } },
            { "number": 2, "scale": { "min": 0, "max": 4 }, "reverse": true },
            { "number": 3, "scale": { "min": 0, "max": 4 } },
            { "number": 4, "scale": { "min": 0, "max": 4 } }
        ],
        "scoring": {
            "method": "mean",
            "complete": { "min_answered": 3 },
            "higher_is_better": true,
            "bands": [
                { "name": "low", "min": 0, "max": 1.5 },
                { "name": "high", "min": 2.5, "max": 4 }
            ]
        }
    }"#;
    let d = Definition::from_json(json).unwrap();
    assert_eq!(d.scoring.complete, Complete::MinAnswered(3));
    // Item 2 answered 0 counts as 4: (4 + 4 + 4 + 4) / 4.
    match instrument::score(&d, &form(&[4, 0, 4, 4])) {
        Scored::Total { total, .. } => {
            assert_eq!((total.raw, total.answered), (4.0, 4));
            assert_eq!(total.band.as_deref(), Some("high"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Three of four answered is enough for a mean of the three; the gap is reported.
    let mut three = form(&[1, 4, 1, 0]);
    three.remove(&4);
    match instrument::score(&d, &three) {
        Scored::Total { total, .. } => {
            assert_eq!((total.raw, total.answered), (2.0 / 3.0, 3));
            assert_eq!(total.missing, [4]);
            assert_eq!(total.band.as_deref(), Some("low"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Between the bands: no band rather than a wrong one.
    match instrument::score(&d, &form(&[2, 2, 2, 2])) {
        Scored::Total { total, .. } => assert_eq!(total.band, None),
        other => panic!("unexpected {other:?}"),
    }
    // Two answers are too few.
    let two: BTreeMap<u8, i64> = [(1, 3), (2, 3)].into();
    match instrument::score(&d, &two) {
        Scored::Incomplete { missing, reason } => {
            assert_eq!(missing, [3, 4]);
            assert!(reason.contains("At least 3 answers"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ----- Checks on a definition -----------------------------------------------------------------

#[test]
fn a_duplicate_item_is_refused_naming_the_field() {
    let mut d = def("UCLA3");
    d.items[2].number = 2;
    let (paths, text) = refused(d.validate());
    assert!(paths.contains(&"items[2].number".to_owned()), "{text}");
    assert!(text.contains("items[2].number: duplicate item 2"), "{text}");
    // Item 3 is now missing, which is said too.
    assert!(text.contains("item 3 is missing"), "{text}");
}

#[test]
fn an_empty_scale_is_refused_naming_the_field() {
    let mut d = def("UCLA3");
    d.items[1].scale.values.clear();
    let mut e = def("WEMWBS");
    e.items[3].scale.min = Some(5);
    e.items[3].scale.max = Some(1);
    let (_, text) = refused(d.validate());
    assert!(text.contains("items[1].scale: empty scale"), "{text}");
    let (_, text) = refused(e.validate());
    assert!(text.contains("items[3].scale: empty scale"), "{text}");
}

#[test]
fn a_lookup_with_a_gap_is_refused_naming_the_raw_total() {
    let mut d = def("SWEMWBS");
    d.scoring.lookup.as_mut().unwrap().retain(|r| r.raw != 12);
    let (paths, text) = refused(d.validate());
    assert_eq!(paths, ["scoring.lookup"]);
    assert_eq!(text, "scoring.lookup: no value for raw total 12");

    // Outside the raw range, and twice: each named.
    let mut d = def("SWEMWBS");
    let rows = d.scoring.lookup.as_mut().unwrap();
    rows.push(LookupRow {
        raw: 36,
        score: 36.0,
    });
    rows.push(LookupRow {
        raw: 9,
        score: 11.25,
    });
    let (paths, text) = refused(d.validate());
    assert_eq!(
        paths,
        ["scoring.lookup[29].raw", "scoring.lookup[30].raw"],
        "{text}"
    );
    assert!(text.contains("outside the raw range 7-35"), "{text}");
    assert!(text.contains("duplicate raw total 9"), "{text}");
}

#[test]
fn a_subset_naming_a_missing_item_is_refused() {
    let mut d = def("WEMWBS");
    d.scoring.also[0].subset = Some(vec![1, 2, 3, 6, 7, 99, 11]);
    let (_, text) = refused(d.validate());
    assert!(
        text.contains("scoring.also[0].subset[5]: item 99 does not exist"),
        "{text}"
    );
    let mut d = def("UCLA3");
    d.scoring.subset = Some(vec![1, 9]);
    let (paths, text) = refused(d.validate());
    assert_eq!(paths, ["scoring.subset[1]"]);
    assert_eq!(text, "scoring.subset[1]: item 9 does not exist");
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut d = def("ONS4");
    d.id = "ons4".to_owned();
    d.version = 0;
    d.items[0].key = Some("worthwhile".to_owned());
    d.items[3].scale.values.push(instrument::ScaleValue {
        value: 11,
        label: None,
    });
    d.scoring.per_item[0].bands[1] = Band {
        name: "medium".to_owned(),
        label: None,
        min: 4.0,
        max: 6.0,
    };
    d.scoring.per_item[1].items.push(7);
    let (paths, text) = refused(d.validate());
    for want in [
        "id",
        "version",
        "items[1].key",
        "items[3].scale.values[2]",
        "scoring.per_item[0].bands[1]",
        "scoring.per_item[1].items[1]",
    ] {
        assert!(paths.contains(&want.to_owned()), "{want} in\n{text}");
    }
    assert!(text.contains("overlaps bands[0] `low`"), "{text}");
}

#[test]
fn rules_that_would_misreport_are_refused() {
    // A minimum count with a sum would compare short totals with full ones.
    let mut d = def("UCLA3");
    d.scoring.complete = Complete::MinAnswered(2);
    let (paths, _) = refused(d.validate());
    assert_eq!(paths, ["scoring.complete"]);
    // A lookup converts a raw total, so not a mean.
    let mut d = def("SWEMWBS");
    d.scoring.method = Method::Mean;
    let (paths, _) = refused(d.validate());
    assert_eq!(paths, ["scoring.lookup"]);
    // Bands outside the possible totals.
    let mut d = def("UCLA3");
    d.scoring.bands = vec![Band {
        name: "lonely".to_owned(),
        label: None,
        min: 6.0,
        max: 12.0,
    }];
    let (_, text) = refused(d.validate());
    assert!(text.contains("outside the possible scores 3-9"), "{text}");
    // Unknown fields are refused rather than ignored.
    let json =
        def("UCLA3")
            .to_json()
            .replacen("\"number\": 1,", "\"number\": 1, \"revers\": true,", 1);
    let errs = Definition::from_json(&json).unwrap_err();
    assert!(
        errs[0].message.contains("unknown field `revers`"),
        "{errs:?}"
    );
    assert!(errs[0].path.starts_with("line "), "{errs:?}");
}

#[test]
fn extreme_numbers_are_refused_without_panicking() {
    let json = format!(
        r#"{{
        "id": "WIDE",
        "version": 1,
        "name": "Too wide",
        "items": [
            {{ "number": 1, "scale": {{ "min": {min}, "max": {max} }}, "reverse": true }},
            {{ "number": 2, "scale": {{ "values": [{{ "value": {min} }}, {{ "value": {max} }}] }} }}
        ],
        "scoring": {{
            "method": "sum",
            "higher_is_better": true,
            "lookup": [{{ "raw": 0, "score": 0 }}],
            "bands": [{{ "name": "all", "min": -1e300, "max": 1e300 }}]
        }}
    }}"#,
        min = i64::MIN,
        max = i64::MAX
    );
    let errs = Definition::from_json(&json).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["items[0].scale", "items[1].scale"], "{errs:?}");
    assert!(errs[0].message.contains("too wide"), "{errs:?}");
    // Scoring such a definition anyway neither panics nor wraps around.
    let d: Definition = serde_json::from_str(&json).unwrap();
    let answers: BTreeMap<u8, i64> = [(1, i64::MIN), (2, i64::MAX)].into();
    assert!(instrument::score(&d, &answers).is_complete());
}

// ----- Compatible changes ---------------------------------------------------------------------

#[test]
fn wording_changes_are_compatible() {
    let old = def("UCLA3");
    let mut new = old.clone();
    new.name = "UCLA loneliness (three items)".to_owned();
    new.description = Some("Shorter description.".to_owned());
    new.items[0].text = Some("How often do you feel you lack companionship?".to_owned());
    new.items[2].scale.values[0].label = Some("Hardly ever".to_owned());
    new.sources.push("Another citation".to_owned());
    assert_eq!(compatible_change(&old, &new), Ok(()));

    let old = def("ONS4");
    let mut new = old.clone();
    new.scoring.per_item[1].bands[0].label = Some("Very low anxiety".to_owned());
    assert_eq!(compatible_change(&old, &new), Ok(()));
}

#[test]
fn a_scale_change_is_refused() {
    let old = def("WEMWBS");
    let mut new = old.clone();
    new.items[4].scale.max = Some(7);
    let (paths, text) = refused(compatible_change(&old, &new));
    assert_eq!(paths, ["items[4].scale"]);
    assert!(
        text.contains("item 5's answers change from 1-5 to 1-7"),
        "{text}"
    );
    assert!(text.contains("publish a new version instead"), "{text}");
    // Widening an item of the SWEMWBS subset also leaves its table short, which is said too.
    let mut new = old.clone();
    new.items[6].scale.max = Some(7);
    let (paths, text) = refused(compatible_change(&old, &new));
    assert!(paths.contains(&"items[6].scale".to_owned()), "{text}");
    assert!(
        text.contains("scoring.also[0].lookup: no value for raw total 36"),
        "{text}"
    );
    // Listing the same answers another way is not a change.
    let old = def("UCLA3");
    let mut new = old.clone();
    new.items[0].scale.min = Some(1);
    new.items[0].scale.max = Some(3);
    assert_eq!(compatible_change(&old, &new), Ok(()));
}

#[test]
fn a_removed_item_is_refused() {
    let old = def("UCLA3");
    let mut new = old.clone();
    new.items.pop();
    let (paths, text) = refused(compatible_change(&old, &new));
    assert_eq!(paths, ["items[2]"]);
    assert!(text.contains("item 3 is removed"), "{text}");
    assert!(text.contains("publish a new version instead"), "{text}");
}

#[test]
fn a_reverse_flag_change_is_refused() {
    let old = def("WEMWBS");
    let mut new = old.clone();
    new.items[9].reverse = true;
    let (paths, text) = refused(compatible_change(&old, &new));
    assert_eq!(paths, ["items[9].reverse"]);
    assert!(text.contains("item 10 becomes reverse-scored"), "{text}");
}

#[test]
fn a_lookup_change_is_refused() {
    let old = def("SWEMWBS");
    let mut new = old.clone();
    // The outlier source's 29 -> 25.99 (26.02 is right).
    let row = new
        .scoring
        .lookup
        .as_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r.raw == 29)
        .unwrap();
    row.score = 25.99;
    let (paths, text) = refused(compatible_change(&old, &new));
    assert_eq!(paths, ["scoring.lookup"]);
    assert!(
        text.contains("raw total 29 changes from 26.02 to 25.99"),
        "{text}"
    );
    // The same inside WEMWBS's further score.
    let old = def("WEMWBS");
    let mut new = old.clone();
    new.scoring.also[0].lookup.as_mut().unwrap()[0].score = 7.5;
    let (paths, _) = refused(compatible_change(&old, &new));
    assert_eq!(paths, ["scoring.also[0].lookup"]);
}

#[test]
fn rule_and_direction_changes_are_refused() {
    let old = def("ONS4");
    let mut new = old.clone();
    new.scoring.per_item[1].higher_is_better = None;
    new.scoring.per_item[0].bands[0].max = 3.0;
    new.scoring.per_item[0].bands[1].min = 4.0;
    new.items[3].key = Some("anxiety".to_owned());
    let (paths, text) = refused(compatible_change(&old, &new));
    assert_eq!(
        paths,
        [
            "items[3].key",
            "scoring.per_item[0].bands",
            "scoring.per_item[1].higher_is_better"
        ],
        "{text}"
    );
    let old = def("UCLA3");
    let mut new = old.clone();
    new.scoring.higher_is_better = true;
    new.scoring.method = Method::Mean;
    let (paths, _) = refused(compatible_change(&old, &new));
    assert_eq!(paths, ["scoring.method", "scoring.higher_is_better"]);
    // A new version is not a change of this one.
    let mut new = old.clone();
    new.version = 2;
    let (paths, _) = refused(compatible_change(&old, &new));
    assert_eq!(paths, ["version"]);
}

// ----- CSV ------------------------------------------------------------------------------------

const UCLA3_CSV: &str = "\
instrument,version,name,item,key,choices,reverse,text
UCLA3,1,Three-item loneliness scale (UCLA),1,lack_companionship,\"1, Hardly ever or never | 2, Some of the time | 3, Often\",no,How often do you feel that you lack companionship?
,,,2,left_out,\"1, Hardly ever or never | 2, Some of the time | 3, Often\",,How often do you feel left out?
UCLA3,1,Three-item loneliness scale (UCLA),3,isolated,\"1, Hardly ever or never | 2, Some of the time | 3, Often\",no,How often do you feel isolated from others?
";

fn ucla3_sidecar() -> String {
    let d = def("UCLA3");
    serde_json::json!({
        "scoring": d.scoring,
        "description": d.description,
        "codes": d.codes,
        "sources": d.sources,
    })
    .to_string()
}

#[test]
fn a_csv_definition_reads_as_the_same_definition_as_json() {
    let d = Definition::from_csv(UCLA3_CSV, &ucla3_sidecar()).unwrap();
    assert_eq!(d, def("UCLA3"));
    // Column order and case are free; a range with labels for its ends is a scale too.
    let csv = "Item,MIN,max,Instrument,Version,Name,Choices\n\
               1,0,10,LIFE_SAT,1,Life satisfaction,\"0, Not at all | 10, Completely\"\n";
    let sidecar = r#"{ "scoring": { "method": "per_item", "higher_is_better": true } }"#;
    let d = Definition::from_csv(csv, sidecar).unwrap();
    assert_eq!(
        (d.items[0].scale.min, d.items[0].scale.max),
        (Some(0), Some(10))
    );
    assert_eq!(d.items[0].scale.label(10), Some("Completely"));
}

#[test]
fn csv_errors_name_the_line_and_column() {
    let sidecar = ucla3_sidecar();
    let cases: [(String, &str, &str); 6] = [
        (
            UCLA3_CSV.replace(",3,isolated,", ",three,isolated,"),
            "line 4, column item",
            "`three` is not an item number",
        ),
        (
            UCLA3_CSV.replace(
                "\"1, Hardly ever or never | 2, Some of the time | 3, Often\",,",
                "\"1, Hardly ever or never | two, Some of the time\",,",
            ),
            "line 3, column choices",
            "`two, Some of the time` does not start with a whole number",
        ),
        (
            UCLA3_CSV.replacen(",no,", ",maybe,", 1),
            "line 2, column reverse",
            "`maybe` is not yes or no",
        ),
        (
            UCLA3_CSV.replace(
                "UCLA3,1,Three-item loneliness scale (UCLA),3",
                "UCLA4,1,Three-item loneliness scale (UCLA),3",
            ),
            "line 4, column instrument",
            "`UCLA4` differs from `UCLA3`",
        ),
        (
            UCLA3_CSV.replace("reverse,text", "reverse,wording"),
            "line 1, column 8",
            "`wording` is not a column",
        ),
        (
            UCLA3_CSV.replace(",2,left_out,", ",1,left_out,"),
            "line 3, items[1].number",
            "duplicate item 1",
        ),
    ];
    for (csv, path, message) in cases {
        let errs = Definition::from_csv(&csv, &sidecar).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.path == path && e.message.contains(message)),
            "expected `{path}: {message}` in {errs:?}"
        );
    }
    // The sidecar's errors name its line.
    let errs = Definition::from_csv(UCLA3_CSV, "{\n  \"scoring\": {\n    \"method\": \"total\"")
        .unwrap_err();
    assert!(errs[0].path.starts_with("sidecar line 3"), "{errs:?}");
    // A bad id is reported on the instrument column of the first row.
    let errs = Definition::from_csv(&UCLA3_CSV.replace("UCLA3,", "ucla3,"), &sidecar).unwrap_err();
    assert_eq!(errs[0].path, "line 2, column instrument", "{errs:?}");
    // No rows.
    let errs = Definition::from_csv("instrument,version,name,item\n", &sidecar).unwrap_err();
    assert_eq!(errs[0].path, "line 2", "{errs:?}");
}
