//! Score vectors for the web app: sync-core's scores for a fixed set of answers to every built-in
//! instrument, and to a few further definitions that use what the built-ins do not (means, a
//! completeness minimum, reversed items, bands, subsets, gaps in a list of answers). The web app's
//! tests score the same answers with its own engine and must give the same results.
//! `BOTHY_WRITE_GENERATED=1` writes the file again instead of comparing.

mod common;

use bothy_sync_core::instrument::{Definition, Item, builtins, score};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clients/web/test/data/score_vectors.json")
}

/// Definitions that exercise the rest of the engine; they are not built-ins.
fn further_definitions() -> Vec<Definition> {
    let mean = json!({
        "id": "VECTOR_MEAN",
        "version": 1,
        "name": "A mean with reversed items, a completeness minimum, bands and further scores",
        "items": [
            { "number": 1, "key": "a", "scale": { "min": 0, "max": 4 } },
            { "number": 2, "key": "b", "scale": { "min": 0, "max": 4 }, "reverse": true },
            { "number": 3, "key": "c", "scale": { "min": 0, "max": 4 } },
            { "number": 4, "key": "d", "scale": { "min": 0, "max": 4 }, "reverse": true },
            { "number": 5, "key": "e", "scale": { "min": 0, "max": 4 } }
        ],
        "scoring": {
            "method": "mean",
            "complete": { "min_answered": 3 },
            "bands": [
                { "name": "low", "label": "Low", "min": 0, "max": 1.5 },
                { "name": "middle", "min": 2, "max": 2.5 },
                { "name": "high", "min": 3, "max": 4 }
            ],
            "higher_is_better": true,
            "also": [
                {
                    "name": "odd_sum",
                    "method": "sum",
                    "subset": [5, 1, 3],
                    "bands": [{ "name": "some", "min": 4, "max": 8 }],
                    "higher_is_better": true
                },
                {
                    "name": "reversed_mean",
                    "method": "mean",
                    "subset": [2, 4],
                    "complete": { "min_answered": 1 },
                    "higher_is_better": false
                }
            ]
        }
    });
    let lookup = json!({
        "id": "VECTOR_LOOKUP",
        "version": 1,
        "name": "A sum with a lookup table, a reversed item and bands of the looked-up score",
        "items": [
            { "number": 1, "scale": { "values": [{ "value": 1, "label": "One" }, { "value": 2 }, { "value": 3, "label": "Three" }] } },
            { "number": 2, "scale": { "min": 1, "max": 3 } },
            { "number": 3, "scale": { "min": 1, "max": 3 }, "reverse": true }
        ],
        "scoring": {
            "method": "sum",
            "lookup": [
                { "raw": 3, "score": 0 },
                { "raw": 4, "score": 12.5 },
                { "raw": 5, "score": 25 },
                { "raw": 6, "score": 50 },
                { "raw": 7, "score": 75 },
                { "raw": 8, "score": 87.5 },
                { "raw": 9, "score": 100 }
            ],
            "bands": [
                { "name": "bottom", "min": 0, "max": 20 },
                { "name": "top", "min": 80, "max": 100 }
            ],
            "higher_is_better": false
        }
    });
    let per_item = json!({
        "id": "VECTOR_PER_ITEM",
        "version": 1,
        "name": "Answers reported one by one, from a list with gaps, some items in banded groups",
        "items": [
            { "number": 1, "key": "first", "scale": { "values": [{ "value": 0, "label": "None" }, { "value": 2, "label": "Some" }, { "value": 5, "label": "All" }] } },
            { "number": 2, "key": "second", "scale": { "min": -2, "max": 2, "values": [{ "value": 0, "label": "Neutral" }] } },
            { "number": 3, "scale": { "values": [{ "value": 0 }, { "value": 2 }, { "value": 5 }] } }
        ],
        "scoring": {
            "method": "per_item",
            "higher_is_better": true,
            "per_item": [
                { "items": [1], "bands": [{ "name": "few", "min": 0, "max": 2 }, { "name": "many", "min": 5, "max": 5 }] },
                { "items": [2], "higher_is_better": false, "bands": [{ "name": "negative", "min": -2, "max": -1 }, { "name": "positive", "min": 1, "max": 2 }] }
            ]
        }
    });
    [mean, lookup, per_item]
        .into_iter()
        .map(|v| Definition::from_json(&v.to_string()).expect("a vector definition is valid"))
        .collect()
}

/// An item's allowed answers, in order.
fn allowed(item: &Item) -> Vec<i64> {
    match (item.scale.min, item.scale.max) {
        (Some(lo), Some(hi)) => (lo..=hi).collect(),
        _ => item
            .scale
            .values
            .iter()
            .map(|v| v.value)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    }
}

type Answers = BTreeMap<u8, i64>;

/// A fixed set of answers for a definition: each end of every scale, every answer of every item
/// (in a staircase), every raw total reachable by raising one item at a time, some mixed answers
/// from a fixed pseudo-random sequence, each item and pairs of items left out, answers no scale
/// allows, and numbers that are not items.
fn answer_sets(def: &Definition) -> Vec<Answers> {
    let items: Vec<(u8, Vec<i64>)> = def.items.iter().map(|i| (i.number, allowed(i))).collect();
    let pick = |choose: &dyn Fn(usize, &[i64]) -> i64| -> Answers {
        items
            .iter()
            .enumerate()
            .map(|(k, (n, vs))| (*n, choose(k, vs)))
            .collect()
    };
    let mut sets = vec![pick(&|_, vs| vs[0]), pick(&|_, vs| vs[vs.len() - 1])];
    let widest = items.iter().map(|(_, vs)| vs.len()).max().unwrap_or(0);
    for step in 0..widest {
        sets.push(pick(&|k, vs| vs[(k + step) % vs.len()]));
    }
    // Every total: from the lowest answers, raise one item a step at a time.
    let mut at = vec![0usize; items.len()];
    while let Some(k) = (0..items.len()).find(|k| at[*k] + 1 < items[*k].1.len()) {
        at[k] += 1;
        sets.push(pick(&|k, vs| vs[at[k]]));
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..16 {
        let draws: Vec<usize> = (0..items.len())
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                usize::try_from(state % 1024).unwrap_or(0)
            })
            .collect();
        sets.push(pick(&|k, vs| vs[draws[k] % vs.len()]));
    }
    let base = pick(&|k, vs| vs[k % vs.len()]);
    for (n, _) in &items {
        let mut s = base.clone();
        s.remove(n);
        sets.push(s);
    }
    for pair in items.windows(2) {
        let mut s = base.clone();
        s.remove(&pair[0].0);
        s.remove(&pair[1].0);
        sets.push(s);
    }
    let mut s = base.clone();
    s.retain(|n, _| *n == items[0].0);
    sets.push(s);
    sets.push(Answers::new());
    for (n, vs) in &items {
        for bad in [vs[0] - 1, vs[vs.len() - 1] + 1] {
            let mut s = base.clone();
            s.insert(*n, bad);
            sets.push(s);
        }
        if let Some(gap) = (vs[0]..vs[vs.len() - 1]).find(|v| !vs.contains(v)) {
            let mut s = base.clone();
            s.insert(*n, gap);
            sets.push(s);
        }
    }
    let last = items.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut s = base.clone();
    s.insert(0, 1);
    s.insert(last + 1, items[0].1[0]);
    sets.push(s);

    let mut seen = BTreeSet::new();
    sets.retain(|s| seen.insert(s.clone()));
    sets
}

/// The file: the further definitions (pretty), then one case per line.
fn document() -> String {
    let further = further_definitions();
    let mut cases = Vec::new();
    for def in builtins().iter().chain(&further) {
        for answers in answer_sets(def) {
            let scored = serde_json::to_value(score(def, &answers)).expect("a score serialises");
            cases.push(json!({ "instrument": def.id, "answers": answers, "scored": scored }));
        }
    }
    let definitions = serde_json::to_string_pretty(&further).expect("the definitions serialise");
    let lines: Vec<String> = cases
        .iter()
        .map(|c| format!("    {}", Value::to_string(c)))
        .collect();
    format!(
        "{{\n  \"generated_by\": \"bothy-sync-core (sync-core/tests/web_vectors.rs): do not edit by hand\",\n  \
         \"definitions\": {},\n  \"cases\": [\n{}\n  ]\n}}\n",
        definitions.replace('\n', "\n  "),
        lines.join(",\n")
    )
}

#[test]
fn the_web_apps_score_vectors_are_generated_from_sync_core() {
    let text = document();
    let parsed: Value = serde_json::from_str(&text).expect("the vectors file is JSON");
    let cases = parsed["cases"].as_array().expect("cases");
    // Every built-in and every further definition has cases, including scored and unscored ones.
    for def in builtins().iter().chain(&further_definitions()) {
        let of = |status: &str| {
            cases
                .iter()
                .filter(|c| c["instrument"] == def.id.as_str() && c["scored"]["status"] == status)
                .count()
        };
        assert!(
            of("total") + of("per_item") > 0 && of("incomplete") > 0,
            "{}",
            def.id
        );
    }
    common::generated_file_is_current(&vectors_path(), &text, "web_vectors");
}

#[test]
fn the_answer_sets_reach_every_total_of_a_sum() {
    // UCLA3: totals 3 to 9; SWEMWBS: all 29 raw totals of its table.
    for (id, lo, hi) in [("UCLA3", 3, 9), ("SWEMWBS", 7, 35), ("WEMWBS", 14, 70)] {
        let def = builtins().iter().find(|d| d.id == id).unwrap();
        let totals: BTreeSet<i64> = answer_sets(def)
            .iter()
            .filter(|a| {
                a.len() == def.items.len()
                    && a.iter()
                        .all(|(n, v)| def.item(*n).is_some_and(|i| i.scale.allows(*v)))
            })
            .map(|a| a.values().sum())
            .collect();
        assert_eq!(totals, (lo..=hi).collect(), "{id}");
    }
}
