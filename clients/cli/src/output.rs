//! What commands print: plain lines for people, or one JSON document with `--json` for
//! scripts. Commands hand both forms to [`Output::emit`] so the two never drift apart in what
//! they report.
//!
//! Everything meant for standard output goes through [`print_line`] or [`stdout`], which end
//! the program quietly (status 0) when the reader has gone, as in `bothy --json list | head`:
//! the command's work is done and nobody is reading the rest, so that is no failure.

use bothy_sync_core::Score;
use serde::Serialize;
use std::io::{self, Write};

/// Writes `text` and a newline to standard output (see the module's note on closed pipes).
pub fn print_line(text: &str) {
    let mut out = io::stdout().lock();
    let written = writeln!(out, "{text}").and_then(|()| out.flush());
    if let Err(e) = written {
        stdout_failed(&e);
    }
}

/// Standard output as a writer for long answers streamed as they arrive (an export without
/// `--output`), with the same handling of a closed pipe as [`print_line`].
pub fn stdout() -> impl Write + Send {
    Stdout(io::stdout())
}

struct Stdout(io::Stdout);

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).inspect_err(stdout_failed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().inspect_err(stdout_failed)
    }
}

/// A write to standard output failed: a reader that has gone ends the program quietly with
/// status 0; any other failure (a full disk) is reported and ends it with status 1.
fn stdout_failed(e: &io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    if e.kind() == io::ErrorKind::Interrupted {
        return;
    }
    let _ = writeln!(io::stderr(), "error: cannot write to standard output: {e}");
    std::process::exit(1);
}

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
                Ok(s) => print_line(&s),
                Err(e) => eprintln!("error: cannot print as JSON: {e}"),
            }
        } else {
            let t = text();
            if !t.is_empty() {
                print_line(t.trim_end());
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
        Score::Total { total, also } => {
            let mut line = format!("score {}", number(total.score));
            if total.raw != total.score {
                line.push_str(&format!(" (raw {})", number(total.raw)));
            }
            if let Some(band) = &total.band {
                line.push_str(&format!(", band {band}"));
            }
            for t in also {
                line.push_str(&format!(
                    "; {} {}",
                    t.name.as_deref().unwrap_or("also"),
                    number(t.score)
                ));
            }
            line
        }
        Score::PerItem { answers } => {
            let parts: Vec<String> = answers
                .iter()
                .map(|a| {
                    let name = a
                        .key
                        .clone()
                        .unwrap_or_else(|| format!("item {}", a.number));
                    let mut part = format!("{name} {}", a.value);
                    if let Some(label) = a.label.as_deref().or(a.band.as_deref()) {
                        part.push_str(&format!(" ({label})"));
                    }
                    part
                })
                .collect();
            parts.join(", ")
        }
        Score::Incomplete { reason, .. } => format!("incomplete: {reason}"),
    }
}

/// A score for people: whole numbers without decimals, others to two places.
fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}
