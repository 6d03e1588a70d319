//! Wellbeing scoring: pure functions from item answers to scores.
//!
//! Scores are always derived, never typed in. The facts (ranges, the SWEMWBS raw-to-metric
//! conversion table, the ONS4 thresholds) come from the instruments' published scoring guidance
//! and live in the built-in instrument definitions ([`crate::instrument`]); everything here is
//! a view of those definitions, scored by the one generic engine. WEMWBS and SWEMWBS item
//! wording is licensed and never appears in this crate.
//!
//! An incomplete form is never scored: Warwick's guidance gives no imputation rule for missing
//! WEMWBS/SWEMWBS answers, and counting a missing answer as zero (a bug seen in public code)
//! would report a false fall in wellbeing. Instead the score says which items are missing.

use crate::instrument::{self, Definition, Scored};
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

/// The WEMWBS item numbers that make up SWEMWBS (the WEMWBS definition's `swemwbs` score
/// scores these; a test keeps the two equal).
pub const SWEMWBS_ITEMS_IN_WEMWBS: [u8; 7] = [1, 2, 3, 6, 7, 9, 11];

/// The name of the further score a WEMWBS definition gives for its SWEMWBS items.
const SWEMWBS_IN_WEMWBS: &str = "swemwbs";

/// Names of the four ONS4 items, in item order (the ONS4 definition's item keys; a test keeps
/// the two equal).
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

    /// The instrument's built-in definition.
    pub fn definition(self) -> &'static Definition {
        instrument::builtin(self.as_str())
            .expect("every Instrument has a built-in definition (checked by tests)")
    }

    /// How many items the form has.
    pub fn item_count(self) -> u8 {
        u8::try_from(self.definition().items.len()).unwrap_or(u8::MAX)
    }

    /// The lowest and highest answer allowed for every item (these instruments' items all
    /// share one scale).
    pub fn item_range(self) -> (i64, i64) {
        self.definition()
            .items
            .first()
            .and_then(|i| i.scale.bounds())
            .unwrap_or((0, 0))
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SWEMWBS metric score for a raw score, or `None` outside 7..=35: the SWEMWBS
/// definition's lookup table.
pub fn swemwbs_metric(raw: i64) -> Option<f64> {
    Instrument::Swemwbs.definition().scoring.lookup_score(raw)
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
    const ALL: [Ons4Band; 5] = [
        Ons4Band::Low,
        Ons4Band::Medium,
        Ons4Band::High,
        Ons4Band::VeryHigh,
        Ons4Band::VeryLow,
    ];

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

    fn from_name(name: &str) -> Option<Self> {
        Ons4Band::ALL.into_iter().find(|b| b.as_str() == name)
    }
}

/// The ONS band of one answer. `item` is 1..=4 (4 is anxiety, whose scale runs the other way):
/// the ONS4 definition's per-item bands.
pub fn ons4_band(item: u8, value: i64) -> Option<Ons4Band> {
    let def = Instrument::Ons4.definition();
    if !def.item(item)?.scale.allows(value) {
        return None;
    }
    let group = def.scoring.group_of(item)?;
    let band = group
        .bands
        .iter()
        .find(|b| b.min <= value as f64 && value as f64 <= b.max)?;
    Ons4Band::from_name(&band.name)
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
    /// A complete form of another instrument with a total (UCLA3, a project's own): scored
    /// from its definition.
    Total {
        /// The instrument's score and its further scores.
        #[serde(flatten)]
        total: instrument::Total,
        /// Further scores (`scoring.also`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<instrument::Total>,
    },
    /// A complete form of another instrument whose answers are reported one by one (the ONS
    /// loneliness question, a project's own per-item form).
    PerItem {
        /// Each answer with its label and band.
        answers: Vec<instrument::ItemAnswer>,
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
    /// A generic engine result in this shape (for instruments other than the three above).
    pub fn from_scored(scored: Scored) -> Score {
        match scored {
            Scored::Total { total, also } => Score::Total { total, also },
            Scored::PerItem { answers } => Score::PerItem { answers },
            Scored::Incomplete { missing, reason } => Score::Incomplete { missing, reason },
        }
    }

    /// The headline raw score when it is a whole number: WEMWBS total, SWEMWBS raw, another
    /// instrument's sum; none for a mean, per-item answers or an incomplete form.
    pub fn raw(&self) -> Option<i64> {
        match self {
            Score::Wemwbs { total, .. } => Some(*total),
            Score::Swemwbs { raw, .. } => Some(*raw),
            // Sums of whole answers are whole numbers, so `as i64` is exact.
            Score::Total { total, .. } if total.raw.fract() == 0.0 => Some(total.raw as i64),
            _ => None,
        }
    }

    /// The score analysed: WEMWBS total, SWEMWBS metric, another instrument's reported score
    /// (after any lookup); none for per-item answers or an incomplete form.
    pub fn value(&self) -> Option<f64> {
        match self {
            Score::Wemwbs { total, .. } => Some(*total as f64),
            Score::Swemwbs { metric, .. } => Some(*metric),
            Score::Total { total, .. } => Some(total.score),
            _ => None,
        }
    }

    /// The band of the analysed score, where the definition names bands.
    pub fn band(&self) -> Option<&str> {
        match self {
            Score::Total { total, .. } => total.band.as_deref(),
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
/// missing here (validation refuses them before they are stored). The instrument's definition
/// is scored by [`instrument::score`] and the result given in this module's shape.
pub fn score(instrument: Instrument, items: &BTreeMap<u8, i64>) -> Score {
    match instrument::score(instrument.definition(), items) {
        Scored::Incomplete { missing, reason } => Score::Incomplete { missing, reason },
        // Sums of whole answers are whole numbers, so `as i64` is exact.
        Scored::Total { total, also } => match instrument {
            Instrument::Wemwbs => {
                let short = also
                    .iter()
                    .find(|t| t.name.as_deref() == Some(SWEMWBS_IN_WEMWBS));
                Score::Wemwbs {
                    total: total.raw as i64,
                    swemwbs_raw: short.map_or(0, |t| t.raw as i64),
                    swemwbs_metric: short.map_or(f64::NAN, |t| t.score),
                }
            }
            _ => Score::Swemwbs {
                raw: total.raw as i64,
                metric: total.score,
            },
        },
        Scored::PerItem { answers } => Score::Ons4 {
            answers: answers
                .into_iter()
                .map(|a| Ons4Answer {
                    item: a.key.unwrap_or_else(|| a.number.to_string()),
                    value: a.value,
                    band: a
                        .band
                        .as_deref()
                        .and_then(Ons4Band::from_name)
                        .unwrap_or(Ons4Band::Low),
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
