//! Wellbeing scoring: pure functions from item answers to scores.
//!
//! Scores are always derived, never typed in. The facts (ranges, the SWEMWBS raw-to-metric
//! conversion table, the ONS4 thresholds) come from the instruments' published scoring guidance;
//! item wording is licensed and never appears here.
//!
//! An incomplete form is never scored: Warwick's guidance gives no imputation rule for missing
//! WEMWBS/SWEMWBS answers, and counting a missing answer as zero (a bug seen in public code)
//! would report a false fall in wellbeing. Instead the score says which items are missing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The questionnaires Bothy scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Instrument {
    /// Warwick-Edinburgh Mental Wellbeing Scale: 14 items, each 1..5; score 14..70.
    Wemwbs,
    /// Short WEMWBS: 7 items, each 1..5; raw 7..35, converted to a metric score.
    Swemwbs,
    /// ONS personal wellbeing: 4 items, each 0..10, reported separately.
    Ons4,
}

/// The WEMWBS item numbers that make up SWEMWBS.
pub const SWEMWBS_ITEMS_IN_WEMWBS: [u8; 7] = [1, 2, 3, 6, 7, 9, 11];

/// SWEMWBS raw score (7..=35) to metric score, from the published conversion table.
const SWEMWBS_METRIC: [f64; 29] = [
    7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36, 16.88, 17.43, 17.98, 18.59,
    19.25, 19.98, 20.73, 21.54, 22.35, 23.21, 24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.70,
    32.55, 35.00,
];

/// Names of the four ONS4 items, in item order.
pub const ONS4_ITEMS: [&str; 4] = ["life_satisfaction", "worthwhile", "happy", "anxious"];

impl Instrument {
    /// The instrument's name as stored in documents and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Instrument::Wemwbs => "WEMWBS",
            Instrument::Swemwbs => "SWEMWBS",
            Instrument::Ons4 => "ONS4",
        }
    }

    /// Parses an instrument name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "WEMWBS" => Some(Instrument::Wemwbs),
            "SWEMWBS" => Some(Instrument::Swemwbs),
            "ONS4" => Some(Instrument::Ons4),
            _ => None,
        }
    }

    /// How many items the form has.
    pub fn item_count(self) -> u8 {
        match self {
            Instrument::Wemwbs => 14,
            Instrument::Swemwbs => 7,
            Instrument::Ons4 => 4,
        }
    }

    /// The lowest and highest answer allowed for every item.
    pub fn item_range(self) -> (i64, i64) {
        match self {
            Instrument::Wemwbs | Instrument::Swemwbs => (1, 5),
            Instrument::Ons4 => (0, 10),
        }
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SWEMWBS metric score for a raw score, or `None` outside 7..=35.
pub fn swemwbs_metric(raw: i64) -> Option<f64> {
    if (7..=35).contains(&raw) {
        Some(SWEMWBS_METRIC[(raw - 7) as usize])
    } else {
        None
    }
}

/// An ONS4 threshold band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ons4Band {
    /// Satisfaction, worthwhile, happy 0-4; anxiety 2-3.
    Low,
    /// Satisfaction, worthwhile, happy 5-6; anxiety 4-5.
    Medium,
    /// Satisfaction, worthwhile, happy 7-8; anxiety 6-10.
    High,
    /// Satisfaction, worthwhile, happy 9-10.
    VeryHigh,
    /// Anxiety 0-1.
    VeryLow,
}

impl Ons4Band {
    /// The band's name as used in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Ons4Band::Low => "low",
            Ons4Band::Medium => "medium",
            Ons4Band::High => "high",
            Ons4Band::VeryHigh => "very_high",
            Ons4Band::VeryLow => "very_low",
        }
    }
}

/// The ONS band of one answer. `item` is 1..=4 (4 is anxiety, whose scale runs the other way).
pub fn ons4_band(item: u8, value: i64) -> Option<Ons4Band> {
    if !(0..=10).contains(&value) {
        return None;
    }
    match item {
        1..=3 => Some(match value {
            0..=4 => Ons4Band::Low,
            5..=6 => Ons4Band::Medium,
            7..=8 => Ons4Band::High,
            _ => Ons4Band::VeryHigh,
        }),
        4 => Some(match value {
            0..=1 => Ons4Band::VeryLow,
            2..=3 => Ons4Band::Low,
            4..=5 => Ons4Band::Medium,
            _ => Ons4Band::High,
        }),
        _ => None,
    }
}

/// One ONS4 answer with its band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ons4Answer {
    /// Which question (see [`ONS4_ITEMS`]).
    pub item: String,
    /// The answer, 0..10.
    pub value: i64,
    /// Its ONS threshold band.
    pub band: Ons4Band,
}

/// The derived score of a wellbeing response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Score {
    /// A complete WEMWBS form: the 14-item total and the SWEMWBS score of its 7 items.
    Wemwbs {
        /// Sum of the 14 items, 14..70.
        total: i64,
        /// Sum of the 7 SWEMWBS items, 7..35.
        swemwbs_raw: i64,
        /// SWEMWBS metric score from the conversion table.
        swemwbs_metric: f64,
    },
    /// A complete SWEMWBS form.
    Swemwbs {
        /// Sum of the 7 items, 7..35.
        raw: i64,
        /// Metric score from the conversion table.
        metric: f64,
    },
    /// A complete ONS4 form: four separate answers (ONS publishes no composite score).
    Ons4 {
        /// The four answers with their bands.
        answers: Vec<Ons4Answer>,
    },
    /// The form is stored but not scored.
    Incomplete {
        /// Item numbers with no valid answer.
        missing: Vec<u8>,
        /// A sentence saying why there is no score.
        reason: String,
    },
}

impl Score {
    /// The headline score: WEMWBS total, SWEMWBS raw; none for ONS4 or an incomplete form.
    pub fn raw(&self) -> Option<i64> {
        match self {
            Score::Wemwbs { total, .. } => Some(*total),
            Score::Swemwbs { raw, .. } => Some(*raw),
            _ => None,
        }
    }

    /// The SWEMWBS metric score (also derived from a full WEMWBS form).
    pub fn metric(&self) -> Option<f64> {
        match self {
            Score::Wemwbs { swemwbs_metric, .. } => Some(*swemwbs_metric),
            Score::Swemwbs { metric, .. } => Some(*metric),
            _ => None,
        }
    }

    /// True when the form had every item answered within range.
    pub fn is_complete(&self) -> bool {
        !matches!(self, Score::Incomplete { .. })
    }
}

/// Scores a form. `items` maps item number (1-based) to answer; answers out of range count as
/// missing here (validation refuses them before they are stored).
pub fn score(instrument: Instrument, items: &BTreeMap<u8, i64>) -> Score {
    let (lo, hi) = instrument.item_range();
    let n = instrument.item_count();
    let missing: Vec<u8> = (1..=n)
        .filter(|i| !items.get(i).is_some_and(|v| (lo..=hi).contains(v)))
        .collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(u8::to_string).collect();
        let reason = format!(
            "{instrument} is not scored: {} of {n} items answered; missing item{} {}. \
             The scale gives no rule for missing answers, so an incomplete form has no score.",
            n as usize - missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            list.join(", ")
        );
        return Score::Incomplete { missing, reason };
    }
    let sum_of = |ids: &mut dyn Iterator<Item = u8>| ids.map(|i| items[&i]).sum::<i64>();
    match instrument {
        Instrument::Wemwbs => {
            let total = sum_of(&mut (1..=14));
            let swemwbs_raw = sum_of(&mut SWEMWBS_ITEMS_IN_WEMWBS.into_iter());
            Score::Wemwbs {
                total,
                swemwbs_raw,
                swemwbs_metric: swemwbs_metric(swemwbs_raw).unwrap_or(f64::NAN),
            }
        }
        Instrument::Swemwbs => {
            let raw = sum_of(&mut (1..=7));
            Score::Swemwbs {
                raw,
                metric: swemwbs_metric(raw).unwrap_or(f64::NAN),
            }
        }
        Instrument::Ons4 => Score::Ons4 {
            answers: (1..=4u8)
                .map(|i| {
                    let value = items[&i];
                    Ons4Answer {
                        item: ONS4_ITEMS[(i - 1) as usize].to_owned(),
                        value,
                        band: ons4_band(i, value).unwrap_or(Ons4Band::Low),
                    }
                })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(values: &[i64]) -> BTreeMap<u8, i64> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u8 + 1, *v))
            .collect()
    }

    #[test]
    fn swemwbs_metric_matches_published_table() {
        let csv = include_str!("../tests/data/swemwbs_metric.csv");
        let mut rows = 0;
        for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let (raw, metric) = line.split_once(',').unwrap();
            let raw: i64 = raw.parse().unwrap();
            let metric: f64 = metric.trim().parse().unwrap();
            assert_eq!(swemwbs_metric(raw), Some(metric), "raw {raw}");
            // The same through a complete SWEMWBS form whose items sum to `raw`.
            let mut items = vec![1i64; 7];
            let mut left = raw - 7;
            for v in items.iter_mut() {
                let add = left.min(4);
                *v += add;
                left -= add;
            }
            assert_eq!(
                score(Instrument::Swemwbs, &form(&items)).metric(),
                Some(metric)
            );
            rows += 1;
        }
        assert_eq!(rows, 29);
        assert_eq!(swemwbs_metric(6), None);
        assert_eq!(swemwbs_metric(36), None);
    }

    #[test]
    fn wemwbs_range_ends() {
        let low = score(Instrument::Wemwbs, &form(&[1; 14]));
        assert_eq!(low.raw(), Some(14));
        assert_eq!(low.metric(), Some(7.00));
        let high = score(Instrument::Wemwbs, &form(&[5; 14]));
        assert_eq!(high.raw(), Some(70));
        assert_eq!(high.metric(), Some(35.00));
    }

    #[test]
    fn wemwbs_yields_swemwbs_from_its_seven_items() {
        // Items 1,2,3,6,7,9,11 set to 3 (=21), the others to 5.
        let mut items = [5i64; 14];
        for i in SWEMWBS_ITEMS_IN_WEMWBS {
            items[(i - 1) as usize] = 3;
        }
        match score(Instrument::Wemwbs, &form(&items)) {
            Score::Wemwbs {
                total,
                swemwbs_raw,
                swemwbs_metric,
            } => {
                assert_eq!(total, 21 + 7 * 5);
                assert_eq!(swemwbs_raw, 21);
                assert_eq!(swemwbs_metric, 19.25);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn incomplete_form_is_not_scored_and_says_why() {
        let mut items = form(&[4; 14]);
        items.remove(&9);
        let s = score(Instrument::Wemwbs, &items);
        assert!(!s.is_complete());
        assert_eq!(s.raw(), None);
        match s {
            Score::Incomplete { missing, reason } => {
                assert_eq!(missing, vec![9]);
                assert!(reason.contains("13 of 14"), "{reason}");
                assert!(reason.contains("item 9"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ons4_bands() {
        let cases = [
            (1, 0, Ons4Band::Low),
            (1, 4, Ons4Band::Low),
            (1, 5, Ons4Band::Medium),
            (2, 6, Ons4Band::Medium),
            (2, 7, Ons4Band::High),
            (3, 8, Ons4Band::High),
            (3, 9, Ons4Band::VeryHigh),
            (3, 10, Ons4Band::VeryHigh),
            (4, 0, Ons4Band::VeryLow),
            (4, 1, Ons4Band::VeryLow),
            (4, 2, Ons4Band::Low),
            (4, 3, Ons4Band::Low),
            (4, 4, Ons4Band::Medium),
            (4, 5, Ons4Band::Medium),
            (4, 6, Ons4Band::High),
            (4, 10, Ons4Band::High),
        ];
        for (item, value, band) in cases {
            assert_eq!(
                ons4_band(item, value),
                Some(band),
                "item {item} value {value}"
            );
        }
        assert_eq!(ons4_band(1, 11), None);
        assert_eq!(ons4_band(5, 3), None);
        match score(Instrument::Ons4, &form(&[9, 5, 7, 1])) {
            Score::Ons4 { answers } => {
                let bands: Vec<_> = answers.iter().map(|a| a.band).collect();
                assert_eq!(
                    bands,
                    [
                        Ons4Band::VeryHigh,
                        Ons4Band::Medium,
                        Ons4Band::High,
                        Ons4Band::VeryLow
                    ]
                );
                assert_eq!(answers[3].item, "anxious");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
