//! What commands print: plain lines for people, or one JSON document with `--json` for
//! scripts. Commands hand both forms to [`Output::emit`] so the two never drift apart in what
//! they report.

use bothy_sync_core::Score;
use serde::Serialize;

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Print JSON instead of text.
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON, or the text form.
    pub fn emit<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot print as JSON: {e}"),
            }
        } else {
            let t = text();
            if !t.is_empty() {
                println!("{}", t.trim_end());
            }
        }
    }
}

/// A time (Unix seconds) for people: `2026-11-01 10:00 UTC`.
pub fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// A score on one line, or why there is none.
pub fn score(score: &Score) -> String {
    match score {
        Score::Wemwbs {
            total,
            swemwbs_raw,
            swemwbs_metric,
        } => format!(
            "WEMWBS score {total} (of 14-70); SWEMWBS raw {swemwbs_raw}, metric {swemwbs_metric:.2}"
        ),
        Score::Swemwbs { raw, metric } => {
            format!("SWEMWBS raw score {raw} (of 7-35), metric {metric:.2}")
        }
        Score::Ons4 { answers } => {
            let parts: Vec<String> = answers
                .iter()
                .map(|a| format!("{} {} ({})", a.item, a.value, a.band.as_str()))
                .collect();
            format!("ONS4: {}", parts.join(", "))
        }
        Score::Incomplete { reason, .. } => format!("incomplete: {reason}"),
    }
}
