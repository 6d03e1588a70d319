//! Questionnaires as data: an instrument is a [`Definition`] (its items, their answer scales
//! and how they are scored), and one engine, [`score`], scores any definition. The built-in
//! instruments (WEMWBS, SWEMWBS, ONS4, the three-item UCLA loneliness scale and the ONS direct
//! loneliness question) are JSON files embedded in the crate ([`builtins`]); the
//! [`crate::scoring`] API for WEMWBS, SWEMWBS and ONS4 is a view of these definitions.
//!
//! # A definition
//!
//! ```json
//! {
//!   "id": "UCLA3",
//!   "version": 1,
//!   "name": "Three-item loneliness scale (UCLA)",
//!   "items": [
//!     { "number": 1, "key": "lack_companionship",
//!       "scale": { "values": [{ "value": 1, "label": "Hardly ever or never" },
//!                             { "value": 2, "label": "Some of the time" },
//!                             { "value": 3, "label": "Often" }] },
//!       "text": "How often do you feel that you lack companionship?" }
//!   ],
//!   "scoring": { "method": "sum", "higher_is_better": false }
//! }
//! ```
//!
//! * `id`: upper-case letters, digits and `_`, starting with a letter, 2 to 32 characters.
//!   `version` starts at 1. An id and version, once a response uses them, never change meaning:
//!   [`compatible_change`] says which edits are still allowed.
//! * `items`: numbered 1 to n, each once. `scale` is either `min` and `max` (every whole number
//!   between is an answer; `values` may then label some of them) or `values` alone (exactly
//!   those answers). `reverse: true` scores an answer `v` as `min + max - v`. `text` is the
//!   public wording; it is left out when `licensed_wording` is true (the wording then comes
//!   from the project, see [`crate::wording`]).
//! * `scoring.method`: `sum` or `mean` of the items (or of `subset`, a list of item numbers),
//!   or `per_item`: each answer reported on its own, with bands per group of items
//!   (`per_item: [{ "items": [1, 2], "bands": [...] }]`).
//! * `scoring.lookup`: for a sum, a table from every possible raw total to the reported score
//!   (`[{ "raw": 7, "score": 7.00 }, ...]`), complete over the raw range.
//! * `scoring.complete`: `"all"` (the default: every scored item must be answered, or there is
//!   no score) or `{ "min_answered": n }` for a mean, which then averages the answered items.
//!   A sum has no such rule: a total of fewer items is not comparable.
//! * `scoring.bands`: named ranges of the score, inclusive (`{ "name": "low", "min": 0,
//!   "max": 4 }`), no overlaps; a score outside every band has none.
//! * `scoring.higher_is_better`: the direction of improvement.
//! * `scoring.reliable_change`: change thresholds in score points with their source; the first
//!   is the default. Only values a published source gives.
//! * `scoring.also`: further scores from the same form (a name plus the same fields), such as
//!   the SWEMWBS score of a WEMWBS form.
//! * `codes`: standard codes (SNOMED CT, LOINC) with what they code; `sources`: citations for
//!   the scoring facts.
//!
//! Unknown fields are refused rather than ignored, so a misspelt `"revers": true` cannot
//! silently change a score.
//!
//! # From a spreadsheet (CSV)
//!
//! [`Definition::from_csv`] reads one row per item, as a REDCap data dictionary has one row
//! per field, plus a small JSON sidecar for what does not fit a row (the scoring, and
//! optionally `description`, `licensed_wording`, `codes`, `sources`). The first row names the
//! columns, in any order, case-insensitively:
//!
//! | column       | required | meaning |
//! |--------------|----------|---------|
//! | `instrument` | yes      | the id; the same on every row (or blank after the first) |
//! | `version`    | yes      | as above |
//! | `name`       | yes      | as above |
//! | `item`       | yes      | the item number, 1 to n |
//! | `key`        | no       | a short name for the item, e.g. `life_satisfaction` |
//! | `min`, `max` | *        | the answer range |
//! | `choices`    | *        | REDCap style `1, Hardly ever \| 2, Some of the time`: the answers (without `min`/`max`) or labels for some of the range (with them) |
//! | `reverse`    | no       | `yes`/`no` (also `true`/`false`, `1`/`0`; blank is no) |
//! | `text`       | no       | the item's public wording |
//!
//! \* each row needs `min` and `max`, or `choices`.
//!
//! ```csv
//! instrument,version,name,item,key,choices,text
//! UCLA3,1,Three-item loneliness scale (UCLA),1,lack_companionship,"1, Hardly ever or never | 2, Some of the time | 3, Often",How often do you feel that you lack companionship?
//! ```
//!
//! with the sidecar `{ "scoring": { "method": "sum", "higher_is_better": false } }`. Errors
//! name the line and column (`line 4, column min: ...`); problems the checks of
//! [`Definition::validate`] find in an item name its line too.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, LazyLock, RwLock};

/// The widest answer scale allowed (max - min), which bounds raw ranges and lookup tables.
pub const MAX_SCALE_SPAN: i64 = 1000;

/// One questionnaire: its items and how they are scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// `WEMWBS`, `UCLA3`, or a project's own id.
    pub id: String,
    /// Starts at 1; a new version is published for any change that would reinterpret answers.
    pub version: u32,
    /// The instrument's name for people.
    pub name: String,
    /// What it measures and how, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The item wording is licensed, so no item carries `text`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub licensed_wording: bool,
    /// The questions.
    pub items: Vec<Item>,
    /// How answers become a score.
    pub scoring: Scoring,
    /// Standard codes for the instrument or its score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<Code>,
    /// Citations for the scoring facts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// 1-based; responses store answers under this number.
    pub number: u8,
    /// A short name (`life_satisfaction`), used in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The allowed answers.
    pub scale: Scale,
    /// The public wording; `None` when it is licensed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Reverse-scored: an answer `v` counts as `min + max - v`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reverse: bool,
}

/// The allowed answers of an item: a range (`min`..=`max`, optionally labelling some values),
/// or a list of `values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// Lowest answer of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// Highest answer of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// With a range: labels for some of its values. Without: the allowed answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ScaleValue>,
}

/// One answer value with its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleValue {
    /// The stored answer.
    pub value: i64,
    /// What the person sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// How a set of answers becomes a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    /// A name for this score; required for the scores in `also`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sum, mean, or each item reported separately.
    pub method: Method,
    /// The item numbers scored; all items when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<Vec<u8>>,
    /// Raw total to reported score, for every possible raw total (sums only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<Vec<LookupRow>>,
    /// When a form has a score.
    #[serde(default, skip_serializing_if = "Complete::is_all")]
    pub complete: Complete,
    /// Named ranges of the score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<Band>,
    /// Whether a higher score is an improvement.
    pub higher_is_better: bool,
    /// Published change thresholds, in score points; the first is the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reliable_change: Vec<ReliableChange>,
    /// For `per_item`: bands (and direction) for groups of items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_item: Vec<ItemGroup>,
    /// Further scores from the same form, each with a `name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Scoring>,
}

/// How items combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The sum of the scored answers (after reversing).
    Sum,
    /// Their mean.
    Mean,
    /// No total: each answer is reported with its band.
    PerItem,
}

/// When a form has a score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Complete {
    /// Every scored item answered (the only rule for sums: WEMWBS and SWEMWBS give no rule
    /// for missing answers).
    #[default]
    All,
    /// At least this many scored items answered (means only).
    MinAnswered(u8),
}

impl Complete {
    fn is_all(&self) -> bool {
        *self == Complete::All
    }
}

/// One row of a lookup table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRow {
    /// The raw total.
    pub raw: i64,
    /// The score reported for it.
    pub score: f64,
}

/// A named range of scores, both ends included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Its name in exports (`very_high`).
    pub name: String,
    /// Its name for people (`Very high`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Lowest score in the band.
    pub min: f64,
    /// Highest score in the band.
    pub max: f64,
}

/// A published change threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReliableChange {
    /// The change, in score points, that counts.
    pub points: f64,
    /// What it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Where it comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Bands and direction for some items of a `per_item` instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemGroup {
    /// The item numbers.
    pub items: Vec<u8>,
    /// Named ranges of the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<Band>,
    /// Overrides the instrument's direction for these items (ONS4 anxiety).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub higher_is_better: Option<bool>,
}

/// A standard code for the instrument or its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// `SNOMED CT` or `LOINC`.
    pub system: String,
    /// The code.
    pub code: String,
    /// The code's name in its system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// What exactly it codes, where that needs saying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A problem with a definition; `path` names the field (`items[3].scale`,
/// `scoring.lookup`, `line 4, column min`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// Where.
    pub path: String,
    /// What, in a sentence.
    pub message: String,
}

impl DefinitionError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        DefinitionError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for DefinitionError {}

impl Scale {
    /// The lowest and highest allowed answer, if the scale has any.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => Some((lo, hi)),
            _ => {
                let lo = self.values.iter().map(|v| v.value).min()?;
                let hi = self.values.iter().map(|v| v.value).max()?;
                Some((lo, hi))
            }
        }
    }

    /// Whether `v` is an allowed answer.
    pub fn allows(&self, v: i64) -> bool {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => (lo..=hi).contains(&v),
            _ => self.values.iter().any(|x| x.value == v),
        }
    }

    /// The label of answer `v`, if it has one.
    pub fn label(&self, v: i64) -> Option<&str> {
        self.values
            .iter()
            .find(|x| x.value == v)
            .and_then(|x| x.label.as_deref())
    }

    /// The allowed answers as a list, or `None` when the range is too wide to list.
    fn allowed(&self) -> Option<Vec<i64>> {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) if hi.checked_sub(lo)? <= MAX_SCALE_SPAN => {
                Some((lo..=hi).collect())
            }
            (Some(_), Some(_)) => None,
            _ => {
                let set: BTreeSet<i64> = self.values.iter().map(|v| v.value).collect();
                Some(set.into_iter().collect())
            }
        }
    }

    fn describe(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => span(lo, hi),
            (None, None) => {
                let list: Vec<String> = self.values.iter().map(|v| v.value.to_string()).collect();
                if list.is_empty() {
                    "no answers".to_owned()
                } else {
                    list.join(", ")
                }
            }
            (lo, hi) => format!("min {lo:?}, max {hi:?}"),
        }
    }
}

impl Item {
    /// The value an answer counts as (reversed if the item is reverse-scored).
    pub fn scored_value(&self, answer: i64) -> i64 {
        match (self.reverse, self.scale.bounds()) {
            (true, Some((lo, hi))) => lo.saturating_add(hi).saturating_sub(answer),
            _ => answer,
        }
    }
}

impl Scoring {
    /// The reported score for a raw total, from the lookup table.
    pub fn lookup_score(&self, raw: i64) -> Option<f64> {
        self.lookup
            .as_ref()?
            .iter()
            .find(|r| r.raw == raw)
            .map(|r| r.score)
    }

    /// The further score named `name`.
    pub fn also_named(&self, name: &str) -> Option<&Scoring> {
        self.also.iter().find(|s| s.name.as_deref() == Some(name))
    }

    /// The band of a score.
    pub fn band(&self, score: f64) -> Option<&Band> {
        band_of(&self.bands, score)
    }

    /// For `per_item`: the group an item belongs to.
    pub fn group_of(&self, item: u8) -> Option<&ItemGroup> {
        self.per_item.iter().find(|g| g.items.contains(&item))
    }
}

fn band_of(bands: &[Band], score: f64) -> Option<&Band> {
    bands.iter().find(|b| b.min <= score && score <= b.max)
}

impl Definition {
    /// The item numbered `number`.
    pub fn item(&self, number: u8) -> Option<&Item> {
        self.items.iter().find(|i| i.number == number)
    }

    /// The items a scoring rule uses, in item-number order (unknown numbers are skipped).
    pub fn scored_items(&self, rule: &Scoring) -> Vec<&Item> {
        let mut items: Vec<&Item> = match &rule.subset {
            Some(subset) => subset.iter().filter_map(|n| self.item(*n)).collect(),
            None => self.items.iter().collect(),
        };
        items.sort_by_key(|i| i.number);
        items.dedup_by_key(|i| i.number);
        items
    }

    /// Parses a definition from JSON and checks it.
    pub fn from_json(json: &str) -> Result<Definition, Vec<DefinitionError>> {
        let def: Definition = serde_json::from_str(json).map_err(|e| vec![json_error(&e)])?;
        def.validate()?;
        Ok(def)
    }

    /// The definition as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a definition always serialises")
    }

    /// Checks the definition, returning every problem found, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<DefinitionError>> {
        let mut errs = Vec::new();
        self.check(&mut errs);
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    fn check(&self, errs: &mut Vec<DefinitionError>) {
        if !is_id(&self.id) {
            push(
                errs,
                "id",
                format!(
                    "`{}` is not an instrument id: use 2-32 upper-case letters, digits and `_`, \
                     starting with a letter",
                    self.id
                ),
            );
        }
        if self.version == 0 {
            push(errs, "version", "versions start at 1");
        }
        check_text(errs, "name", Some(&self.name), 200);
        check_text(errs, "description", self.description.as_deref(), 2000);
        for (i, s) in self.sources.iter().enumerate() {
            check_text(errs, &format!("sources[{i}]"), Some(s), 1000);
        }
        for (i, c) in self.codes.iter().enumerate() {
            check_text(errs, &format!("codes[{i}].system"), Some(&c.system), 40);
            check_text(errs, &format!("codes[{i}].code"), Some(&c.code), 40);
            check_text(
                errs,
                &format!("codes[{i}].display"),
                c.display.as_deref(),
                200,
            );
            check_text(errs, &format!("codes[{i}].note"), c.note.as_deref(), 1000);
        }
        self.check_items(errs);
        let numbers: BTreeSet<u8> = self.items.iter().map(|i| i.number).collect();
        self.check_rule(errs, "scoring", &self.scoring, &numbers, true);
    }

    fn check_items(&self, errs: &mut Vec<DefinitionError>) {
        if self.items.is_empty() {
            errs.push(DefinitionError::new(
                "items",
                "an instrument needs at least one item",
            ));
            return;
        }
        let mut seen = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for (i, item) in self.items.iter().enumerate() {
            let p = format!("items[{i}]");
            if item.number == 0 {
                errs.push(DefinitionError::new(
                    format!("{p}.number"),
                    "items are numbered from 1",
                ));
            } else if !seen.insert(item.number) {
                errs.push(DefinitionError::new(
                    format!("{p}.number"),
                    format!("duplicate item {}", item.number),
                ));
            }
            if let Some(key) = &item.key {
                if !is_name(key) {
                    errs.push(DefinitionError::new(
                        format!("{p}.key"),
                        format!(
                            "`{key}` is not a key: use 1-40 lower-case letters, digits and `_`, \
                             starting with a letter"
                        ),
                    ));
                } else if !keys.insert(key.as_str()) {
                    errs.push(DefinitionError::new(
                        format!("{p}.key"),
                        format!("duplicate key `{key}`"),
                    ));
                }
            }
            if self.licensed_wording && item.text.is_some() {
                errs.push(DefinitionError::new(
                    format!("{p}.text"),
                    "the wording is licensed (`licensed_wording`), so items carry no text",
                ));
            } else {
                check_text(errs, &format!("{p}.text"), item.text.as_deref(), 1000);
            }
            check_scale(errs, &format!("{p}.scale"), &item.scale);
            if item.reverse && self.scoring.method == Method::PerItem {
                errs.push(DefinitionError::new(
                    format!("{p}.reverse"),
                    "per-item scoring reports each answer as given, so an item cannot be \
                     reverse-scored",
                ));
            }
        }
        // Numbered 1 to n with no gaps: responses store answers by number.
        let n = self.items.len();
        if let Some(gap) = (1..=n).find(|k| u8::try_from(*k).is_ok_and(|k| !seen.contains(&k))) {
            errs.push(DefinitionError::new(
                "items",
                format!("item {gap} is missing: items are numbered 1 to {n}, each once"),
            ));
        }
        if n > usize::from(u8::MAX) {
            errs.push(DefinitionError::new(
                "items",
                format!("{n} items; at most {} are allowed", u8::MAX),
            ));
        }
    }

    fn check_rule(
        &self,
        errs: &mut Vec<DefinitionError>,
        p: &str,
        rule: &Scoring,
        numbers: &BTreeSet<u8>,
        top: bool,
    ) {
        match (&rule.name, top) {
            (Some(name), _) if !is_name(name) => push(
                errs,
                format!("{p}.name"),
                format!(
                    "`{name}` is not a score name: use 1-40 lower-case letters, digits and \
                     `_`, starting with a letter"
                ),
            ),
            (None, false) => push(errs, format!("{p}.name"), "a further score needs a name"),
            _ => {}
        }
        let mut subset_ok = true;
        if let Some(subset) = &rule.subset {
            if subset.is_empty() {
                push(
                    errs,
                    format!("{p}.subset"),
                    "an empty subset scores nothing",
                );
                subset_ok = false;
            }
            let mut seen = BTreeSet::new();
            for (j, n) in subset.iter().enumerate() {
                if !numbers.contains(n) {
                    push(
                        errs,
                        format!("{p}.subset[{j}]"),
                        format!("item {n} does not exist"),
                    );
                    subset_ok = false;
                } else if !seen.insert(*n) {
                    push(
                        errs,
                        format!("{p}.subset[{j}]"),
                        format!("item {n} is listed twice"),
                    );
                }
            }
        }
        let items = self.scored_items(rule);
        // Ranges need every scored item's scale; a broken scale is reported on its item.
        let bounds: Option<Vec<(i64, i64)>> = items
            .iter()
            .map(|i| {
                i.scale.bounds().filter(|(lo, hi)| {
                    lo <= hi && hi.checked_sub(*lo).is_some_and(|s| s <= MAX_SCALE_SPAN)
                })
            })
            .collect();
        let bounds = bounds.filter(|b| subset_ok && !b.is_empty());

        if let Complete::MinAnswered(k) = rule.complete {
            if rule.method != Method::Mean {
                push(
                    errs,
                    format!("{p}.complete"),
                    "a minimum count of answers needs method `mean`: a sum of fewer items is \
                     not comparable with a full one",
                );
            } else if k == 0 || usize::from(k) > items.len() {
                push(
                    errs,
                    format!("{p}.complete"),
                    format!(
                        "min_answered must be 1 to {} (the items scored)",
                        items.len()
                    ),
                );
            }
        }

        if rule.method == Method::PerItem {
            if !top {
                push(
                    errs,
                    format!("{p}.method"),
                    "a further score is a sum or a mean",
                );
            }
            if rule.lookup.is_some() {
                push(
                    errs,
                    format!("{p}.lookup"),
                    "per-item scoring has no total to look up",
                );
            }
            if !rule.bands.is_empty() {
                push(
                    errs,
                    format!("{p}.bands"),
                    "per-item scoring has no total to band: give bands in `per_item` groups",
                );
            }
            if !rule.reliable_change.is_empty() {
                push(
                    errs,
                    format!("{p}.reliable_change"),
                    "per-item scoring has no total to change",
                );
            }
            if !rule.also.is_empty() {
                push(
                    errs,
                    format!("{p}.also"),
                    "further scores need a sum or mean instrument",
                );
            }
            self.check_groups(errs, p, rule, numbers);
            return;
        }

        if !rule.per_item.is_empty() {
            push(
                errs,
                format!("{p}.per_item"),
                "groups of items are for method `per_item`",
            );
        }
        if let Some(lookup) = &rule.lookup {
            if rule.method != Method::Sum {
                push(
                    errs,
                    format!("{p}.lookup"),
                    "a lookup table converts a raw total, so it needs method `sum`",
                );
            } else if let Some(b) = &bounds {
                check_lookup(errs, p, lookup, raw_range(b));
            }
        }
        // The range of the reported score: the lookup's scores, or the raw range.
        let range = match (&rule.lookup, rule.method) {
            (Some(l), Method::Sum) if !l.is_empty() && bounds.is_some() => Some(
                l.iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                        (lo.min(r.score), hi.max(r.score))
                    }),
            ),
            _ => bounds.as_ref().map(|b| score_range(rule.method, b)),
        };
        check_bands(errs, &format!("{p}.bands"), &rule.bands, range);
        for (j, rc) in rule.reliable_change.iter().enumerate() {
            let q = format!("{p}.reliable_change[{j}]");
            if !(rc.points.is_finite() && rc.points > 0.0) {
                push(
                    errs,
                    format!("{q}.points"),
                    "a change threshold is a positive number of points",
                );
            }
            check_text(errs, &format!("{q}.label"), rc.label.as_deref(), 200);
            check_text(errs, &format!("{q}.source"), rc.source.as_deref(), 1000);
        }
        let mut names = BTreeSet::new();
        for (j, sub) in rule.also.iter().enumerate() {
            let q = format!("{p}.also[{j}]");
            if !top {
                push(
                    errs,
                    q,
                    "further scores cannot have further scores of their own",
                );
                continue;
            }
            if let Some(name) = &sub.name
                && !names.insert(name.as_str())
            {
                push(
                    errs,
                    format!("{q}.name"),
                    format!("duplicate score name `{name}`"),
                );
            }
            self.check_rule(errs, &q, sub, numbers, false);
        }
    }

    fn check_groups(
        &self,
        errs: &mut Vec<DefinitionError>,
        p: &str,
        rule: &Scoring,
        numbers: &BTreeSet<u8>,
    ) {
        let mut grouped = BTreeSet::new();
        for (g, group) in rule.per_item.iter().enumerate() {
            let q = format!("{p}.per_item[{g}]");
            if group.items.is_empty() {
                errs.push(DefinitionError::new(
                    format!("{q}.items"),
                    "a group needs at least one item",
                ));
            }
            let mut ok = true;
            for (j, n) in group.items.iter().enumerate() {
                if !numbers.contains(n) {
                    errs.push(DefinitionError::new(
                        format!("{q}.items[{j}]"),
                        format!("item {n} does not exist"),
                    ));
                    ok = false;
                } else if !grouped.insert(*n) {
                    errs.push(DefinitionError::new(
                        format!("{q}.items[{j}]"),
                        format!("item {n} is already in a group"),
                    ));
                }
            }
            let range = if ok {
                group
                    .items
                    .iter()
                    .filter_map(|n| self.item(*n)?.scale.bounds())
                    .fold(None, |acc: Option<(f64, f64)>, (lo, hi)| {
                        let (lo, hi) = (lo as f64, hi as f64);
                        Some(acc.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))))
                    })
            } else {
                None
            };
            check_bands(errs, &format!("{q}.bands"), &group.bands, range);
        }
    }
}

/// `1-5`, or `-3 to 3` where a dash would read as a minus sign.
fn span<T: fmt::Display + PartialOrd + Default>(lo: T, hi: T) -> String {
    if lo < T::default() || hi < T::default() {
        format!("{lo} to {hi}")
    } else {
        format!("{lo}-{hi}")
    }
}

fn push(errs: &mut Vec<DefinitionError>, path: impl Into<String>, message: impl Into<String>) {
    errs.push(DefinitionError::new(path, message));
}

fn json_error(e: &serde_json::Error) -> DefinitionError {
    DefinitionError::new(
        format!("line {}, column {}", e.line(), e.column()),
        e.to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn is_id(s: &str) -> bool {
    (2..=32).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_name(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_text(errs: &mut Vec<DefinitionError>, path: &str, text: Option<&str>, max: usize) {
    if let Some(t) = text
        && (t.trim().is_empty() || t.chars().count() > max)
    {
        errs.push(DefinitionError::new(
            path,
            format!("must be 1-{max} characters"),
        ));
    }
}

fn check_scale(errs: &mut Vec<DefinitionError>, p: &str, scale: &Scale) {
    let mut err = |path: String, m: String| errs.push(DefinitionError::new(path, m));
    let range = match (scale.min, scale.max) {
        (Some(lo), Some(hi)) if lo > hi => {
            err(
                p.to_owned(),
                format!("empty scale: min {lo} is above max {hi}"),
            );
            None
        }
        (Some(lo), Some(hi)) => Some((lo, hi)),
        (None, None) if scale.values.is_empty() => {
            err(
                p.to_owned(),
                "empty scale: give `min` and `max`, or the allowed `values`".to_owned(),
            );
            None
        }
        (None, None) => None,
        _ => {
            err(
                p.to_owned(),
                "give both `min` and `max`, or neither (and the allowed `values`)".to_owned(),
            );
            None
        }
    };
    if let Some((lo, hi)) = scale.bounds()
        && lo <= hi
        && hi.checked_sub(lo).is_none_or(|span| span > MAX_SCALE_SPAN)
    {
        err(
            p.to_owned(),
            format!(
                "{} is too wide: a scale spans at most {MAX_SCALE_SPAN}",
                span(lo, hi)
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (j, v) in scale.values.iter().enumerate() {
        let q = format!("{p}.values[{j}]");
        if !seen.insert(v.value) {
            err(q.clone(), format!("duplicate value {}", v.value));
        }
        if let Some((lo, hi)) = range
            && !(lo..=hi).contains(&v.value)
        {
            err(
                q.clone(),
                format!("{} is outside {}", v.value, span(lo, hi)),
            );
        }
        if let Some(label) = &v.label
            && (label.trim().is_empty() || label.chars().count() > 200)
        {
            err(format!("{q}.label"), "must be 1-200 characters".to_owned());
        }
    }
}

/// The smallest and largest possible raw total of some items.
fn raw_range(bounds: &[(i64, i64)]) -> (i64, i64) {
    bounds.iter().fold((0i64, 0i64), |(lo, hi), (a, b)| {
        (lo.saturating_add(*a), hi.saturating_add(*b))
    })
}

fn score_range(method: Method, bounds: &[(i64, i64)]) -> (f64, f64) {
    let (lo, hi) = raw_range(bounds);
    match method {
        Method::Mean => {
            let n = bounds.len() as f64;
            (lo as f64 / n, hi as f64 / n)
        }
        _ => (lo as f64, hi as f64),
    }
}

fn check_lookup(errs: &mut Vec<DefinitionError>, p: &str, lookup: &[LookupRow], range: (i64, i64)) {
    let (lo, hi) = range;
    let mut seen = BTreeSet::new();
    for (j, row) in lookup.iter().enumerate() {
        let q = format!("{p}.lookup[{j}]");
        if !seen.insert(row.raw) {
            errs.push(DefinitionError::new(
                format!("{q}.raw"),
                format!("duplicate raw total {}", row.raw),
            ));
        }
        if !(lo..=hi).contains(&row.raw) {
            errs.push(DefinitionError::new(
                format!("{q}.raw"),
                format!(
                    "raw total {} is outside the raw range {}",
                    row.raw,
                    span(lo, hi)
                ),
            ));
        }
        if !row.score.is_finite() {
            errs.push(DefinitionError::new(
                format!("{q}.score"),
                "must be a number",
            ));
        }
    }
    let gaps: Vec<i64> = (lo..=hi).filter(|r| !seen.contains(r)).collect();
    const SHOWN: usize = 10;
    for raw in gaps.iter().take(SHOWN) {
        errs.push(DefinitionError::new(
            format!("{p}.lookup"),
            format!("no value for raw total {raw}"),
        ));
    }
    if gaps.len() > SHOWN {
        errs.push(DefinitionError::new(
            format!("{p}.lookup"),
            format!(
                "and {} more raw totals have no value: the table must cover {}",
                gaps.len() - SHOWN,
                span(lo, hi)
            ),
        ));
    }
}

fn check_bands(
    errs: &mut Vec<DefinitionError>,
    p: &str,
    bands: &[Band],
    range: Option<(f64, f64)>,
) {
    let mut names = BTreeSet::new();
    for (j, b) in bands.iter().enumerate() {
        let q = format!("{p}[{j}]");
        if !is_name(&b.name) {
            errs.push(DefinitionError::new(
                format!("{q}.name"),
                format!(
                    "`{}` is not a band name: use 1-40 lower-case letters, digits and `_`, \
                     starting with a letter",
                    b.name
                ),
            ));
        } else if !names.insert(b.name.as_str()) {
            errs.push(DefinitionError::new(
                format!("{q}.name"),
                format!("duplicate band `{}`", b.name),
            ));
        }
        check_text(errs, &format!("{q}.label"), b.label.as_deref(), 200);
        if !(b.min.is_finite() && b.max.is_finite() && b.min <= b.max) {
            errs.push(DefinitionError::new(
                q,
                format!(
                    "min {} must be a number no greater than max {}",
                    b.min, b.max
                ),
            ));
            continue;
        }
        if let Some((lo, hi)) = range
            && (b.min < lo || b.max > hi)
        {
            errs.push(DefinitionError::new(
                q.clone(),
                format!(
                    "{} lies outside the possible scores {}",
                    span(b.min, b.max),
                    span(lo, hi)
                ),
            ));
        }
        for (k, other) in bands.iter().enumerate().take(j) {
            if b.min <= other.max && other.min <= b.max {
                errs.push(DefinitionError::new(
                    q.clone(),
                    format!(
                        "{} overlaps bands[{k}] `{}` ({})",
                        span(b.min, b.max),
                        other.name,
                        span(other.min, other.max)
                    ),
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compatible changes

/// Whether a definition that already has responses may change from `old` to `new` under the
/// same id and version. Wording may change (name, description, item text, labels of answers
/// and bands, codes, sources); anything that would reinterpret stored answers may not:
/// removing, adding or renumbering items, item keys, scales, reverse flags, the scoring rule,
/// lookup values, band ranges, change thresholds or the direction. Every refusal names the
/// field and says to publish a new version instead. `new` must also be valid.
pub fn compatible_change(old: &Definition, new: &Definition) -> Result<(), Vec<DefinitionError>> {
    let mut errs = match new.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e,
    };
    let mut refuse =
        |path: String, what: String| errs.push(DefinitionError::new(path, refused(&what)));
    if old.id != new.id {
        refuse(
            "id".to_owned(),
            format!("the id changes from `{}` to `{}`", old.id, new.id),
        );
    }
    if old.version != new.version {
        refuse(
            "version".to_owned(),
            format!(
                "the version changes from {} to {}: a change is compared within one version",
                old.version, new.version
            ),
        );
    }
    for (i, o) in old.items.iter().enumerate() {
        let Some((j, n)) = new
            .items
            .iter()
            .enumerate()
            .find(|(_, n)| n.number == o.number)
        else {
            refuse(
                format!("items[{i}]"),
                format!("item {} is removed", o.number),
            );
            continue;
        };
        if o.key != n.key {
            refuse(
                format!("items[{j}].key"),
                format!(
                    "item {}'s key changes from {:?} to {:?}",
                    o.number, o.key, n.key
                ),
            );
        }
        let same_scale = match (o.scale.allowed(), n.scale.allowed()) {
            (Some(a), Some(b)) => a == b,
            _ => (o.scale.min, o.scale.max) == (n.scale.min, n.scale.max),
        };
        if !same_scale {
            refuse(
                format!("items[{j}].scale"),
                format!(
                    "item {}'s answers change from {} to {}",
                    o.number,
                    o.scale.describe(),
                    n.scale.describe()
                ),
            );
        }
        if o.reverse != n.reverse {
            refuse(
                format!("items[{j}].reverse"),
                format!(
                    "item {} {} reverse-scored",
                    o.number,
                    if n.reverse { "becomes" } else { "is no longer" }
                ),
            );
        }
    }
    for (j, n) in new.items.iter().enumerate() {
        if old.item(n.number).is_none() {
            refuse(format!("items[{j}]"), format!("item {} is added", n.number));
        }
    }
    compare_rules(&mut errs, "scoring", &old.scoring, &new.scoring);
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

fn refused(what: &str) -> String {
    format!("{what}, which would reinterpret stored answers; publish a new version instead")
}

fn compare_rules(errs: &mut Vec<DefinitionError>, p: &str, old: &Scoring, new: &Scoring) {
    let mut refuse =
        |path: String, what: String| errs.push(DefinitionError::new(path, refused(&what)));
    if old.name != new.name {
        refuse(
            format!("{p}.name"),
            format!(
                "the score's name changes from {:?} to {:?}",
                old.name, new.name
            ),
        );
    }
    if old.method != new.method {
        refuse(
            format!("{p}.method"),
            format!(
                "the method changes from {:?} to {:?}",
                old.method, new.method
            ),
        );
    }
    if old.subset != new.subset {
        refuse(
            format!("{p}.subset"),
            format!(
                "the items scored change from {:?} to {:?}",
                old.subset, new.subset
            ),
        );
    }
    if old.complete != new.complete {
        refuse(
            format!("{p}.complete"),
            format!(
                "the completeness rule changes from {:?} to {:?}",
                old.complete, new.complete
            ),
        );
    }
    if old.higher_is_better != new.higher_is_better {
        refuse(
            format!("{p}.higher_is_better"),
            "the direction of improvement changes".to_owned(),
        );
    }
    match (&old.lookup, &new.lookup) {
        (None, None) => {}
        (Some(a), Some(b)) => {
            let a: BTreeMap<i64, f64> = a.iter().map(|r| (r.raw, r.score)).collect();
            let b: BTreeMap<i64, f64> = b.iter().map(|r| (r.raw, r.score)).collect();
            let raws: BTreeSet<i64> = a.keys().chain(b.keys()).copied().collect();
            for raw in raws {
                let (x, y) = (a.get(&raw), b.get(&raw));
                if x != y {
                    refuse(
                        format!("{p}.lookup"),
                        format!(
                            "the score for raw total {raw} changes from {} to {}",
                            show(x),
                            show(y)
                        ),
                    );
                }
            }
        }
        (a, _) => refuse(
            format!("{p}.lookup"),
            format!(
                "the lookup table is {}",
                if a.is_some() { "removed" } else { "added" }
            ),
        ),
    }
    compare_bands(errs, &format!("{p}.bands"), &old.bands, &new.bands);
    let mut refuse =
        |path: String, what: String| errs.push(DefinitionError::new(path, refused(&what)));
    let points = |r: &[ReliableChange]| r.iter().map(|c| c.points).collect::<Vec<_>>();
    if points(&old.reliable_change) != points(&new.reliable_change) {
        refuse(
            format!("{p}.reliable_change"),
            format!(
                "the change thresholds change from {:?} to {:?} points",
                points(&old.reliable_change),
                points(&new.reliable_change)
            ),
        );
    }
    if old.per_item.len() != new.per_item.len() {
        refuse(
            format!("{p}.per_item"),
            format!(
                "the item groups change from {} to {}",
                old.per_item.len(),
                new.per_item.len()
            ),
        );
    } else {
        for (g, (a, b)) in old.per_item.iter().zip(&new.per_item).enumerate() {
            let q = format!("{p}.per_item[{g}]");
            if a.items != b.items {
                errs.push(DefinitionError::new(
                    format!("{q}.items"),
                    refused(&format!(
                        "the group's items change from {:?} to {:?}",
                        a.items, b.items
                    )),
                ));
            }
            if a.higher_is_better != b.higher_is_better {
                errs.push(DefinitionError::new(
                    format!("{q}.higher_is_better"),
                    refused("the group's direction of improvement changes"),
                ));
            }
            compare_bands(errs, &format!("{q}.bands"), &a.bands, &b.bands);
        }
    }
    if old.also.len() != new.also.len() {
        errs.push(DefinitionError::new(
            format!("{p}.also"),
            refused(&format!(
                "the further scores change from {} to {}",
                old.also.len(),
                new.also.len()
            )),
        ));
    } else {
        for (j, (a, b)) in old.also.iter().zip(&new.also).enumerate() {
            compare_rules(errs, &format!("{p}.also[{j}]"), a, b);
        }
    }
}

fn compare_bands(errs: &mut Vec<DefinitionError>, p: &str, old: &[Band], new: &[Band]) {
    let shape = |b: &[Band]| {
        b.iter()
            .map(|b| format!("{} {}", b.name, span(b.min, b.max)))
            .collect::<Vec<_>>()
    };
    if shape(old) != shape(new) {
        errs.push(DefinitionError::new(
            p,
            refused(&format!(
                "the bands change from [{}] to [{}] (only their labels may change)",
                shape(old).join(", "),
                shape(new).join(", ")
            )),
        ));
    }
}

fn show(x: Option<&f64>) -> String {
    x.map_or_else(|| "none".to_owned(), f64::to_string)
}

// ---------------------------------------------------------------------------------------------
// Scoring

/// The result of scoring one response against a definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Scored {
    /// A sum or mean instrument with enough answers.
    Total {
        /// The instrument's score.
        total: Total,
        /// Its further scores (`scoring.also`) whose items were answered.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<Total>,
    },
    /// A per-item instrument, every item answered.
    PerItem {
        /// Each answer, in item order.
        answers: Vec<ItemAnswer>,
    },
    /// The form is stored but not scored.
    Incomplete {
        /// Item numbers with no valid answer.
        missing: Vec<u8>,
        /// A sentence saying why there is no score.
        reason: String,
    },
}

/// One total score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// The score's name (`swemwbs` for a further score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The sum (a whole number) or mean of the scored answers, after reversing.
    pub raw: f64,
    /// The reported score: looked up from `raw`, or `raw` itself.
    pub score: f64,
    /// The band `score` falls in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<String>,
    /// How many items were answered.
    pub answered: u8,
    /// Scored items left unanswered (only where the rule allows some).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u8>,
}

/// One answer of a per-item instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemAnswer {
    /// The item number.
    pub number: u8,
    /// The item's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The answer.
    pub value: i64,
    /// The answer's label (the category, for a question like ONS's direct loneliness one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The answer's band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<String>,
}

impl Scored {
    /// True unless the form was incomplete.
    pub fn is_complete(&self) -> bool {
        !matches!(self, Scored::Incomplete { .. })
    }
}

/// Scores a response. `answers` maps item number to answer; an answer the item's scale does
/// not allow counts as missing (validation refuses it before it is stored), and numbers that
/// are not items are ignored. A form missing answers the rule needs is not scored, and the
/// result says which items are missing: a missing answer never counts as zero.
pub fn score(def: &Definition, answers: &BTreeMap<u8, i64>) -> Scored {
    let rule = &def.scoring;
    let items = def.scored_items(rule);
    let missing = missing_of(&items, answers);
    let n = items.len();
    let answered = n - missing.len();
    let enough = match rule.complete {
        Complete::All => missing.is_empty(),
        Complete::MinAnswered(k) => answered >= usize::from(k.max(1)),
    };
    if !enough {
        let list: Vec<String> = missing.iter().map(u8::to_string).collect();
        let plural = if missing.len() == 1 { "" } else { "s" };
        let reason = match rule.complete {
            Complete::All => format!(
                "{} is not scored: {answered} of {n} items answered; missing item{plural} {}. \
                 The scale gives no rule for missing answers, so an incomplete form has no score.",
                def.id,
                list.join(", ")
            ),
            Complete::MinAnswered(k) => format!(
                "{} is not scored: {answered} of {n} items answered; missing item{plural} {}. \
                 At least {k} answers are needed for a score.",
                def.id,
                list.join(", ")
            ),
        };
        return Scored::Incomplete { missing, reason };
    }
    match rule.method {
        Method::PerItem => Scored::PerItem {
            answers: items
                .iter()
                .filter(|item| !missing.contains(&item.number))
                .map(|item| {
                    let value = answers[&item.number];
                    let band = rule
                        .group_of(item.number)
                        .and_then(|g| band_of(&g.bands, value as f64))
                        .map(|b| b.name.clone());
                    ItemAnswer {
                        number: item.number,
                        key: item.key.clone(),
                        value,
                        label: item.scale.label(value).map(str::to_owned),
                        band,
                    }
                })
                .collect(),
        },
        Method::Sum | Method::Mean => Scored::Total {
            total: total(rule, &items, answers, missing),
            also: rule
                .also
                .iter()
                .filter_map(|sub| {
                    let items = def.scored_items(sub);
                    let missing = missing_of(&items, answers);
                    let enough = match sub.complete {
                        Complete::All => missing.is_empty(),
                        Complete::MinAnswered(k) => {
                            items.len() - missing.len() >= usize::from(k.max(1))
                        }
                    };
                    enough.then(|| total(sub, &items, answers, missing))
                })
                .collect(),
        },
    }
}

fn missing_of(items: &[&Item], answers: &BTreeMap<u8, i64>) -> Vec<u8> {
    items
        .iter()
        .filter(|i| !answers.get(&i.number).is_some_and(|v| i.scale.allows(*v)))
        .map(|i| i.number)
        .collect()
}

fn total(rule: &Scoring, items: &[&Item], answers: &BTreeMap<u8, i64>, missing: Vec<u8>) -> Total {
    let values: Vec<i64> = items
        .iter()
        .filter(|i| !missing.contains(&i.number))
        .map(|i| i.scored_value(answers[&i.number]))
        .collect();
    let sum = values.iter().fold(0i64, |a, v| a.saturating_add(*v));
    let raw = match rule.method {
        Method::Mean if !values.is_empty() => sum as f64 / values.len() as f64,
        _ => sum as f64,
    };
    let score = match (&rule.lookup, rule.method) {
        // A validated table covers every possible total.
        (Some(_), Method::Sum) => rule.lookup_score(sum).unwrap_or(f64::NAN),
        _ => raw,
    };
    Total {
        name: rule.name.clone(),
        raw,
        score,
        band: rule.band(score).map(|b| b.name.clone()),
        answered: u8::try_from(values.len()).unwrap_or(u8::MAX),
        missing,
    }
}

// ---------------------------------------------------------------------------------------------
// Built-ins

const BUILTIN_FILES: [(&str, &str); 5] = [
    ("wemwbs.json", include_str!("../instruments/wemwbs.json")),
    ("swemwbs.json", include_str!("../instruments/swemwbs.json")),
    ("ons4.json", include_str!("../instruments/ons4.json")),
    ("ucla3.json", include_str!("../instruments/ucla3.json")),
    (
        "ons_loneliness.json",
        include_str!("../instruments/ons_loneliness.json"),
    ),
];

static BUILTINS: LazyLock<Vec<Definition>> = LazyLock::new(|| {
    BUILTIN_FILES
        .iter()
        .map(|(file, json)| {
            Definition::from_json(json).unwrap_or_else(|errs| {
                let list: Vec<String> = errs.iter().map(ToString::to_string).collect();
                panic!("built-in instrument {file} is invalid: {}", list.join("; "))
            })
        })
        .collect()
});

/// The built-in definitions: WEMWBS, SWEMWBS, ONS4, UCLA3 and ONS_LONELINESS.
pub fn builtins() -> &'static [Definition] {
    &BUILTINS
}

/// The built-in definition with this id.
pub fn builtin(id: &str) -> Option<&'static Definition> {
    builtins().iter().find(|d| d.id == id)
}

// ---------------------------------------------------------------------------------------------
// The catalogue: built-ins plus the definitions each project has loaded

/// A project's own definitions, by (project, id, version), as this process knows them: the
/// server loads them from its database and as they are defined, a device from the set-up it
/// receives on sync. A definition that has responses only ever changes compatibly
/// ([`compatible_change`]), so every process that holds some version of it checks and scores
/// a response the same way.
type ProjectDefinitions = BTreeMap<(String, String, u32), Arc<Definition>>;

static PROJECT_DEFINITIONS: LazyLock<RwLock<ProjectDefinitions>> =
    LazyLock::new(|| RwLock::new(BTreeMap::new()));

static BUILTIN_ARCS: LazyLock<BTreeMap<String, Arc<Definition>>> = LazyLock::new(|| {
    builtins()
        .iter()
        .map(|d| (d.id.clone(), Arc::new(d.clone())))
        .collect()
});

fn project_definitions() -> std::sync::RwLockReadGuard<'static, ProjectDefinitions> {
    PROJECT_DEFINITIONS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes a project's definition known to this process (replacing the same id and version).
/// Built-in ids are never replaced: [`lookup`] finds the built-in first.
pub fn define(project: &str, def: Definition) {
    PROJECT_DEFINITIONS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(
            (project.to_owned(), def.id.clone(), def.version),
            Arc::new(def),
        );
}

/// The definition a response of `project` names: a built-in by its id (whose only version is
/// 1), else the project's own definition of that id and `version` (1 when the response gives
/// none).
pub fn lookup(project: &str, id: &str, version: Option<u32>) -> Option<Arc<Definition>> {
    if let Some(def) = BUILTIN_ARCS.get(id) {
        return (version.unwrap_or(def.version) == def.version).then(|| def.clone());
    }
    project_definitions()
        .get(&(project.to_owned(), id.to_owned(), version.unwrap_or(1)))
        .cloned()
}

/// The newest version of each of a project's own definitions, by id.
pub fn project_latest(project: &str) -> Vec<Arc<Definition>> {
    let mut out: BTreeMap<String, Arc<Definition>> = BTreeMap::new();
    for ((p, id, _), def) in project_definitions().iter() {
        if p == project {
            // Keys are ordered by version, so the last one seen is the newest.
            out.insert(id.clone(), def.clone());
        }
    }
    out.into_values().collect()
}

/// Every version of every definition a project has loaded, oldest first within an id.
pub fn project_all(project: &str) -> Vec<Arc<Definition>> {
    project_definitions()
        .iter()
        .filter(|((p, _, _), _)| p == project)
        .map(|(_, d)| d.clone())
        .collect()
}

/// The instrument ids a response of `project` may name, built-ins first.
pub fn known_ids(project: &str) -> Vec<String> {
    let mut ids: Vec<String> = builtins().iter().map(|d| d.id.clone()).collect();
    ids.extend(project_latest(project).iter().map(|d| d.id.clone()));
    ids
}

// ---------------------------------------------------------------------------------------------
// CSV

/// What a CSV definition's JSON sidecar holds: everything that is not one row per item.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    scoring: Scoring,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    licensed_wording: bool,
    #[serde(default)]
    codes: Vec<Code>,
    #[serde(default)]
    sources: Vec<String>,
}

const CSV_COLUMNS: [&str; 10] = [
    "instrument",
    "version",
    "name",
    "item",
    "key",
    "min",
    "max",
    "choices",
    "reverse",
    "text",
];

impl Definition {
    /// Reads a definition from items as CSV (one row per item) and a JSON sidecar holding the
    /// scoring; see the module documentation for the layout. Errors name the line and column
    /// of the CSV, or the line of the sidecar.
    pub fn from_csv(
        items_csv: &str,
        sidecar_json: &str,
    ) -> Result<Definition, Vec<DefinitionError>> {
        let mut errs = Vec::new();
        let sidecar: Option<Sidecar> = match serde_json::from_str(sidecar_json) {
            Ok(s) => Some(s),
            Err(e) => {
                let mut e = json_error(&e);
                e.path = format!("sidecar {}", e.path);
                errs.push(e);
                None
            }
        };
        let rows = read_csv_items(items_csv, &mut errs);
        let (Some(sidecar), Some((head, lines, items))) = (sidecar, rows) else {
            return Err(errs);
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        let def = Definition {
            id: head.id,
            version: head.version,
            name: head.name,
            description: sidecar.description,
            licensed_wording: sidecar.licensed_wording,
            items,
            scoring: sidecar.scoring,
            codes: sidecar.codes,
            sources: sidecar.sources,
        };
        def.validate().map_err(|errs| {
            errs.into_iter()
                .map(|mut e| {
                    if let Some(line) = item_index(&e.path).and_then(|i| lines.get(i)) {
                        e.path = format!("line {line}, {}", e.path);
                    } else if ["id", "version", "name"].contains(&e.path.as_str()) {
                        let column = if e.path == "id" {
                            "instrument"
                        } else {
                            &e.path
                        };
                        e.path = format!("line {}, column {column}", lines[0]);
                    }
                    e
                })
                .collect::<Vec<_>>()
        })?;
        Ok(def)
    }
}

/// The index `i` of an error path starting `items[i]`.
fn item_index(path: &str) -> Option<usize> {
    path.strip_prefix("items[")?.split(']').next()?.parse().ok()
}

struct CsvHead {
    id: String,
    version: u32,
    name: String,
}

/// Reads the item rows: the instrument's id, version and name, each item's line, the items.
fn read_csv_items(
    text: &str,
    errs: &mut Vec<DefinitionError>,
) -> Option<(CsvHead, Vec<u64>, Vec<Item>)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => {
            errs.push(DefinitionError::new(
                "line 1",
                "the file is empty: the first row names the columns",
            ));
            return None;
        }
        Some(Err(e)) => {
            errs.push(csv_error(&e));
            return None;
        }
        Some(Ok(h)) => h,
    };
    let header_line = header.position().map_or(1, csv::Position::line);
    let mut columns: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (c, name) in header.iter().enumerate() {
        let lower = name.to_ascii_lowercase();
        match CSV_COLUMNS.iter().find(|k| **k == lower) {
            Some(k) if columns.contains_key(k) => errs.push(DefinitionError::new(
                format!("line {header_line}, column {}", c + 1),
                format!("`{name}` appears twice"),
            )),
            Some(k) => {
                columns.insert(k, c);
            }
            None => errs.push(DefinitionError::new(
                format!("line {header_line}, column {}", c + 1),
                format!(
                    "`{name}` is not a column; the columns are {}",
                    CSV_COLUMNS.join(", ")
                ),
            )),
        }
    }
    for required in ["instrument", "version", "name", "item"] {
        if !columns.contains_key(required) {
            errs.push(DefinitionError::new(
                format!("line {header_line}"),
                format!("no `{required}` column"),
            ));
        }
    }
    if !errs.is_empty() {
        return None;
    }

    let mut head: Option<(CsvHead, [String; 3])> = None;
    let mut lines = Vec::new();
    let mut items = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errs.push(csv_error(&e));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let cell = |name: &str| -> &str {
            columns
                .get(name)
                .and_then(|c| record.get(*c))
                .unwrap_or_default()
        };
        let mut bad = |column: &str, message: String| {
            errs.push(DefinitionError::new(
                format!("line {line}, column {column}"),
                message,
            ));
        };
        // The instrument's own columns: set on the first row, the same (or blank) after.
        let given = [cell("instrument"), cell("version"), cell("name")];
        match &head {
            None => {
                let version = match given[1].parse::<u32>() {
                    Ok(v) => v,
                    Err(_) => {
                        bad("version", format!("`{}` is not a version number", given[1]));
                        0
                    }
                };
                head = Some((
                    CsvHead {
                        id: given[0].to_owned(),
                        version,
                        name: given[2].to_owned(),
                    },
                    given.map(str::to_owned),
                ));
            }
            Some((_, first)) => {
                for ((column, value), first_value) in ["instrument", "version", "name"]
                    .iter()
                    .zip(given)
                    .zip(first)
                {
                    if !value.is_empty() && value != first_value {
                        bad(
                            column,
                            format!(
                                "`{value}` differs from `{first_value}` on the first row: one \
                                 file defines one instrument"
                            ),
                        );
                    }
                }
            }
        }
        let number = match cell("item").parse::<u8>() {
            Ok(n) => n,
            Err(_) => {
                bad(
                    "item",
                    format!("`{}` is not an item number (1-255)", cell("item")),
                );
                0
            }
        };
        let mut int = |column: &str| -> Option<i64> {
            let v = cell(column);
            if v.is_empty() {
                return None;
            }
            v.parse::<i64>().map_or_else(
                |_| {
                    bad(column, format!("`{v}` is not a whole number"));
                    None
                },
                Some,
            )
        };
        let (min, max) = (int("min"), int("max"));
        let values = match parse_choices(cell("choices")) {
            Ok(v) => v,
            Err(m) => {
                bad("choices", m);
                Vec::new()
            }
        };
        let reverse = match cell("reverse").to_ascii_lowercase().as_str() {
            "" | "no" | "n" | "false" | "0" => false,
            "yes" | "y" | "true" | "1" => true,
            other => {
                bad("reverse", format!("`{other}` is not yes or no"));
                false
            }
        };
        let optional = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        lines.push(line);
        items.push(Item {
            number,
            key: optional(cell("key")),
            scale: Scale { min, max, values },
            text: optional(cell("text")),
            reverse,
        });
    }
    let Some((head, _)) = head else {
        errs.push(DefinitionError::new(
            format!("line {}", header_line + 1),
            "no item rows: one row per item follows the column names",
        ));
        return None;
    };
    Some((head, lines, items))
}

/// REDCap-style choices: `1, Hardly ever | 2, Some of the time`.
fn parse_choices(s: &str) -> Result<Vec<ScaleValue>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split('|')
        .map(|choice| {
            let choice = choice.trim();
            let (value, label) = choice.split_once(',').unwrap_or((choice, ""));
            let value = value.trim().parse::<i64>().map_err(|_| {
                format!(
                    "`{choice}` does not start with a whole number: write choices as \
                     `1, Label | 2, Label`"
                )
            })?;
            let label = label.trim();
            Ok(ScaleValue {
                value,
                label: (!label.is_empty()).then(|| label.to_owned()),
            })
        })
        .collect()
}

fn csv_error(e: &csv::Error) -> DefinitionError {
    let path = e
        .position()
        .map_or_else(|| "CSV".to_owned(), |p| format!("line {}", p.line()));
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the text is not UTF-8".to_owned(),
        _ => e.to_string(),
    };
    DefinitionError::new(path, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_validate() {
        let ids: Vec<&str> = builtins().iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            ["WEMWBS", "SWEMWBS", "ONS4", "UCLA3", "ONS_LONELINESS"]
        );
        for def in builtins() {
            assert_eq!(def.validate(), Ok(()), "{}", def.id);
            // Serialised and read back, it is the same definition.
            assert_eq!(Definition::from_json(&def.to_json()).as_ref(), Ok(def));
        }
    }

    #[test]
    fn ids_and_names_follow_their_patterns() {
        for ok in ["WEMWBS", "UCLA3", "ONS_LONELINESS", "AB"] {
            assert!(is_id(ok), "{ok}");
        }
        for bad in ["A", "wemwbs", "3UCLA", "_X", "ONS-4", &"A".repeat(33)] {
            assert!(!is_id(bad), "{bad}");
        }
        assert!(is_name("life_satisfaction") && !is_name("Life") && !is_name(""));
    }
}
