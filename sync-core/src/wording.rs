//! Instrument wording: checking a wording file against an instrument's structure, ONS4's public
//! wording, and the neutral labels forms show when no wording was supplied.
//!
//! WEMWBS and SWEMWBS wording is licensed and never part of this code: a deploying organisation
//! loads it onto its server under its own licence, and devices receive it by sync. Without it,
//! forms show "WEMWBS item 1" and so on. ONS4's wording is public and free to use, so it is
//! built in as the default.

use crate::protocol::InstrumentWording;
use crate::scoring::Instrument;
use std::collections::BTreeMap;

/// ONS4's public question wording, in item order.
pub const ONS4_QUESTIONS: [&str; 4] = [
    "Overall, how satisfied are you with your life nowadays?",
    "Overall, to what extent do you feel that the things you do in your life are worthwhile?",
    "Overall, how happy did you feel yesterday?",
    "Overall, how anxious did you feel yesterday?",
];

/// The built-in ONS4 wording (English): 0 "not at all" .. 10 "completely".
pub fn ons4_default() -> InstrumentWording {
    let mut responses = BTreeMap::new();
    responses.insert(0, "Not at all".to_owned());
    responses.insert(10, "Completely".to_owned());
    InstrumentWording {
        instrument: Instrument::Ons4.as_str().to_owned(),
        language: "en".to_owned(),
        licence: Some("ONS personal wellbeing questions: free to use".to_owned()),
        version: 0,
        items: (1u8..)
            .zip(ONS4_QUESTIONS)
            .map(|(n, q)| (n, q.to_owned()))
            .collect(),
        responses,
    }
}

/// Neutral labels when no wording was supplied: "WEMWBS item 1" and so on.
pub fn fallback(instrument: Instrument) -> InstrumentWording {
    if instrument == Instrument::Ons4 {
        return ons4_default();
    }
    let (lo, hi) = instrument.item_range();
    InstrumentWording {
        instrument: instrument.as_str().to_owned(),
        language: String::new(),
        licence: None,
        version: 0,
        items: (1..=instrument.item_count())
            .map(|n| (n, format!("{} item {n}", instrument.as_str())))
            .collect(),
        responses: (lo..=hi).map(|v| (v, v.to_string())).collect(),
    }
}

/// Item texts by item number, and answer labels by answer value.
pub type CheckedWording = (BTreeMap<u8, String>, BTreeMap<i64, String>);

/// Checks a wording file's items and responses against the instrument: every item number from
/// 1 to the item count exactly once with non-empty text, and response labels only for answer
/// values in the instrument's range. The error names the problem.
pub fn check(
    instrument: Instrument,
    items: &BTreeMap<String, String>,
    responses: &BTreeMap<String, String>,
) -> Result<CheckedWording, String> {
    let count = instrument.item_count();
    let mut out_items = BTreeMap::new();
    for (k, text) in items {
        let n: u8 = k
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=count).contains(n))
            .ok_or_else(|| {
                format!("items: `{k}` is not an item of {instrument}, whose items are numbered 1 to {count}")
            })?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 1000 {
            return Err(format!("items.{n}: the text must be 1-1000 characters"));
        }
        out_items.insert(n, text.to_owned());
    }
    if out_items.len() != usize::from(count) {
        let missing: Vec<String> = (1..=count)
            .filter(|n| !out_items.contains_key(n))
            .map(|n| n.to_string())
            .collect();
        return Err(format!(
            "items: {instrument} has {count} items but the file gives {} (missing: {})",
            out_items.len(),
            missing.join(", ")
        ));
    }
    let (lo, hi) = instrument.item_range();
    let mut out_responses = BTreeMap::new();
    for (k, label) in responses {
        let v: i64 = k
            .trim()
            .parse()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .ok_or_else(|| {
                format!("responses: `{k}` is not an answer of {instrument}, whose answers are {lo} to {hi}")
            })?;
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 200 {
            return Err(format!("responses.{v}: the label must be 1-200 characters"));
        }
        out_responses.insert(v, label.to_owned());
    }
    Ok((out_items, out_responses))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn checks_item_count_and_ranges() {
        let items: Vec<(String, String)> = (1..=7)
            .map(|n| (n.to_string(), format!("Test item {n}")))
            .collect();
        let items: BTreeMap<String, String> = items.into_iter().collect();
        let ok = check(
            Instrument::Swemwbs,
            &items,
            &map(&[("1", "None"), ("5", "All")]),
        );
        assert_eq!(ok.unwrap().0.len(), 7);
        let e = check(Instrument::Wemwbs, &items, &BTreeMap::new()).unwrap_err();
        assert!(e.contains("14 items") && e.contains("missing: 8"), "{e}");
        let e = check(Instrument::Swemwbs, &items, &map(&[("6", "x")])).unwrap_err();
        assert!(e.contains("1 to 5"), "{e}");
        let e = check(Instrument::Ons4, &items, &BTreeMap::new()).unwrap_err();
        assert!(e.contains("`5` is not an item"), "{e}");
        assert_eq!(fallback(Instrument::Wemwbs).items[&14], "WEMWBS item 14");
        assert_eq!(ons4_default().items.len(), 4);
    }
}
