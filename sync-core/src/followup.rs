//! A project's follow-up schedule: when a participant's questionnaires after baseline are due.
//!
//! A programme takes a baseline questionnaire from each participant and follow-ups later. The
//! schedule is an ordered list of steps ([`FollowUp`]); each names a timepoint other than
//! `baseline` (one of [`crate::schema::TIMEPOINTS`]) and exactly one of `after_weeks` (weeks
//! after the participant's baseline, 1 to [`MAX_WEEKS`]) or `after_sessions` (sessions
//! attended, 1 to [`MAX_SESSIONS`]). Each timepoint appears at most once. An empty schedule is
//! no schedule.
//!
//! Coordinators set it on the server; devices receive it in the project's set-up
//! ([`crate::protocol::ProjectSetup::followups`]) and work out offline who is due.
//!
//! ```
//! use bothy_sync_core::followup::{self, FollowUp};
//!
//! let steps = vec![FollowUp::parse("interim:8w").unwrap(), FollowUp::parse("end:10s").unwrap()];
//! assert!(followup::validate(&steps).is_ok());
//! assert_eq!(steps[1].to_string(), "end:10s");
//! let errors = followup::validate(&[FollowUp::weeks("baseline", 4)]).unwrap_err();
//! assert_eq!(
//!     errors[0].to_string(),
//!     "step 1 (baseline): timepoint: baseline is where the schedule starts, not a follow-up; \
//!      use one of interim, end, follow_up"
//! );
//! ```

use crate::schema::TIMEPOINTS;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The most weeks after baseline a step may name (five years).
pub const MAX_WEEKS: u32 = 260;
/// The most sessions attended a step may name.
pub const MAX_SESSIONS: u32 = 500;
/// The timepoint every schedule counts from; no step may name it.
pub const BASELINE: &str = "baseline";

/// One step of a follow-up schedule: a timepoint and when it is due.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FollowUp {
    /// The timepoint (`interim`, `end` or `follow_up`).
    pub timepoint: String,
    /// Due this many weeks after the participant's baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_weeks: Option<u32>,
    /// Due once the participant has attended this many sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_sessions: Option<u32>,
}

impl FollowUp {
    /// A step due `weeks` after baseline.
    pub fn weeks(timepoint: &str, weeks: u32) -> FollowUp {
        FollowUp {
            timepoint: timepoint.to_owned(),
            after_weeks: Some(weeks),
            after_sessions: None,
        }
    }

    /// A step due after `sessions` sessions attended.
    pub fn sessions(timepoint: &str, sessions: u32) -> FollowUp {
        FollowUp {
            timepoint: timepoint.to_owned(),
            after_weeks: None,
            after_sessions: Some(sessions),
        }
    }

    /// Reads the short form `timepoint:Nw` (weeks) or `timepoint:Ns` (sessions), e.g.
    /// `end:12w`, `interim:6s`. The message of an error starts with the text given
    /// (`interim:8x: ...`). The step is only read here: [`validate`] checks it.
    pub fn parse(text: &str) -> Result<FollowUp, String> {
        let fail = |problem: String| format!("{text}: {problem}");
        let (timepoint, when) = text.split_once(':').ok_or_else(|| {
            fail(
                "write a step as timepoint:WEEKSw or timepoint:SESSIONSs, e.g. end:12w or end:10s"
                    .into(),
            )
        })?;
        let timepoint = timepoint.trim();
        if timepoint.is_empty() {
            return Err(fail(format!(
                "the timepoint is missing before `:`; use one of {}",
                follow_up_timepoints().join(", ")
            )));
        }
        let when = when.trim();
        let (digits, unit) = when.split_at(
            when.char_indices()
                .find(|(_, c)| !c.is_ascii_digit())
                .map_or(when.len(), |(i, _)| i),
        );
        if digits.is_empty() {
            return Err(fail(
                "give a number then w (weeks after baseline) or s (sessions attended), e.g. 12w"
                    .into(),
            ));
        }
        let n: u32 = digits
            .parse()
            .map_err(|_| fail(format!("{digits} is far too large a number")))?;
        match unit {
            "w" | "W" => Ok(FollowUp::weeks(timepoint, n)),
            "s" | "S" => Ok(FollowUp::sessions(timepoint, n)),
            "" => Err(fail(format!(
                "say whether {n} is weeks or sessions: {timepoint}:{n}w or {timepoint}:{n}s"
            ))),
            other => Err(fail(format!(
                "`{other}` is not a unit: use w (weeks after baseline) or s (sessions attended)"
            ))),
        }
    }
}

/// The short form: `end:12w`, `interim:6s` (a step with neither or both shows what it has).
impl fmt::Display for FollowUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.timepoint)?;
        match (self.after_weeks, self.after_sessions) {
            (Some(w), None) => write!(f, "{w}w"),
            (None, Some(s)) => write!(f, "{s}s"),
            (Some(w), Some(s)) => write!(f, "{w}w+{s}s"),
            (None, None) => write!(f, "?"),
        }
    }
}

/// The timepoints a step may name: every timepoint but baseline.
pub fn follow_up_timepoints() -> Vec<&'static str> {
    TIMEPOINTS
        .iter()
        .copied()
        .filter(|t| *t != BASELINE)
        .collect()
}

/// What is wrong with one step of a schedule (or with the schedule as a whole, `step` 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// The step, counting from 1; 0 when the problem is the schedule itself.
    pub step: usize,
    /// The step's timepoint as given, if it had one.
    pub timepoint: Option<String>,
    /// What is wrong, starting with the field concerned (`after_weeks: ...`).
    pub problem: String,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.step, &self.timepoint) {
            (0, _) => write!(f, "{}", self.problem),
            (n, Some(t)) if !t.is_empty() => write!(f, "step {n} ({t}): {}", self.problem),
            (n, _) => write!(f, "step {n}: {}", self.problem),
        }
    }
}

impl std::error::Error for StepError {}

/// Joins errors into one message, one after another.
pub fn describe(errors: &[StepError]) -> String {
    errors
        .iter()
        .map(StepError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn check_count(field: &str, n: u32, max: u32, what: &str) -> Option<String> {
    (!(1..=max).contains(&n))
        .then(|| format!("{field}: {n} is out of range; give 1 to {max} {what}"))
}

/// Checks a schedule: every problem of every step, in step order, each naming the step.
pub fn validate(steps: &[FollowUp]) -> Result<(), Vec<StepError>> {
    let numbered: Vec<(usize, &FollowUp)> =
        steps.iter().enumerate().map(|(i, s)| (i + 1, s)).collect();
    let errors = check(&numbered);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The problems of steps numbered as they were given.
fn check(steps: &[(usize, &FollowUp)]) -> Vec<StepError> {
    let mut errors = Vec::new();
    let allowed = follow_up_timepoints();
    for (i, &(number, step)) in steps.iter().enumerate() {
        let mut problem = |p: String| {
            errors.push(StepError {
                step: number,
                timepoint: Some(step.timepoint.clone()),
                problem: p,
            })
        };
        let t = step.timepoint.as_str();
        if t == BASELINE {
            problem(format!(
                "timepoint: baseline is where the schedule starts, not a follow-up; use one of {}",
                allowed.join(", ")
            ));
        } else if !allowed.contains(&t) {
            problem(format!(
                "timepoint: `{t}` is not a timepoint; use one of {}",
                allowed.join(", ")
            ));
        } else if let Some((first, _)) = steps[..i].iter().find(|(_, s)| s.timepoint == t) {
            problem(format!(
                "timepoint: {t} is already step {first}; each timepoint may appear once"
            ));
        }
        match (step.after_weeks, step.after_sessions) {
            (None, None) => problem(
                "give after_weeks (weeks after baseline) or after_sessions (sessions attended)"
                    .into(),
            ),
            (Some(_), Some(_)) => problem(
                "give after_weeks or after_sessions, not both: a step is due by one measure".into(),
            ),
            (Some(w), None) => {
                if let Some(p) = check_count("after_weeks", w, MAX_WEEKS, "weeks") {
                    problem(p);
                }
            }
            (None, Some(s)) => {
                if let Some(p) = check_count("after_sessions", s, MAX_SESSIONS, "sessions") {
                    problem(p);
                }
            }
        }
    }
    errors
}

/// Reads a schedule from JSON (an array of `{"timepoint","after_weeks"?,"after_sessions"?}`,
/// as an API receives it) and checks it ([`validate`]). Every problem is named: a step that
/// is not an object, a field that is not of its type, an unknown field, and what [`validate`]
/// finds. `null` counts as a field left out.
pub fn from_json(value: &serde_json::Value) -> Result<Vec<FollowUp>, Vec<StepError>> {
    use serde_json::Value;
    let Some(items) = value.as_array() else {
        return Err(vec![StepError {
            step: 0,
            timepoint: None,
            problem: "followups: give a list of steps such as \
                      [{\"timepoint\":\"end\",\"after_weeks\":12}] ([] clears the schedule)"
                .into(),
        }]);
    };
    let mut errors = Vec::new();
    let mut steps = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut fail = |timepoint: Option<String>, problem: String| {
            errors.push(StepError {
                step: i + 1,
                timepoint,
                problem,
            })
        };
        let Some(fields) = item.as_object() else {
            fail(
                None,
                "a step is an object such as {\"timepoint\":\"end\",\"after_weeks\":12}".into(),
            );
            continue;
        };
        let timepoint = match fields.get("timepoint") {
            Some(Value::String(t)) => Some(t.clone()),
            None | Some(Value::Null) => {
                fail(
                    None,
                    format!(
                        "timepoint: missing; use one of {}",
                        follow_up_timepoints().join(", ")
                    ),
                );
                None
            }
            Some(_) => {
                fail(
                    None,
                    format!(
                        "timepoint: give it as text, one of {}",
                        follow_up_timepoints().join(", ")
                    ),
                );
                None
            }
        };
        let mut count = |field: &str, max: u32, what: &str| -> Result<Option<u32>, ()> {
            match fields.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(v) => match u32::try_from(v) {
                        Ok(v) if (1..=max).contains(&v) => Ok(Some(v)),
                        _ => {
                            fail(
                                timepoint.clone(),
                                format!("{field}: {v} is out of range; give 1 to {max} {what}"),
                            );
                            Err(())
                        }
                    },
                    None => {
                        fail(
                            timepoint.clone(),
                            format!(
                                "{field}: {n} is not a whole number of {what}; give 1 to {max}"
                            ),
                        );
                        Err(())
                    }
                },
                Some(_) => {
                    fail(
                        timepoint.clone(),
                        format!("{field}: give a whole number of {what}, 1 to {max}"),
                    );
                    Err(())
                }
            }
        };
        let weeks = count("after_weeks", MAX_WEEKS, "weeks");
        let sessions = count("after_sessions", MAX_SESSIONS, "sessions");
        for key in fields.keys() {
            if !matches!(key.as_str(), "timepoint" | "after_weeks" | "after_sessions") {
                fail(
                    timepoint.clone(),
                    format!(
                        "{key}: not a field of a step; a step has timepoint, and after_weeks or \
                         after_sessions"
                    ),
                );
            }
        }
        if let (Some(t), Ok(w), Ok(s)) = (timepoint, weeks, sessions) {
            steps.push((
                i + 1,
                FollowUp {
                    timepoint: t,
                    after_weeks: w,
                    after_sessions: s,
                },
            ));
        }
    }
    // The well-formed steps are checked as a schedule, numbered as they were given.
    let numbered: Vec<(usize, &FollowUp)> = steps.iter().map(|(n, s)| (*n, s)).collect();
    errors.extend(check(&numbered));
    if errors.is_empty() {
        Ok(steps.into_iter().map(|(_, s)| s).collect())
    } else {
        errors.sort_by_key(|e| e.step);
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(steps: &[FollowUp]) -> Vec<String> {
        validate(steps)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn good_schedules_pass() {
        assert!(validate(&[]).is_ok());
        assert!(validate(&[FollowUp::weeks("end", 8)]).is_ok());
        assert!(
            validate(&[
                FollowUp::weeks("interim", 8),
                FollowUp::weeks("end", 12),
                FollowUp::sessions("follow_up", 500),
            ])
            .is_ok()
        );
        assert!(validate(&[FollowUp::weeks("end", 1), FollowUp::weeks("interim", 260)]).is_ok());
    }

    #[test]
    fn each_problem_names_its_step() {
        assert_eq!(
            messages(&[FollowUp::weeks("end", 8), FollowUp::weeks("midway", 4)]),
            [
                "step 2 (midway): timepoint: `midway` is not a timepoint; use one of interim, end, follow_up"
            ]
        );
        assert_eq!(
            messages(&[FollowUp::sessions("baseline", 1)]),
            [
                "step 1 (baseline): timepoint: baseline is where the schedule starts, not a \
              follow-up; use one of interim, end, follow_up"
            ]
        );
        assert_eq!(
            messages(&[FollowUp::weeks("end", 8), FollowUp::sessions("end", 10)]),
            ["step 2 (end): timepoint: end is already step 1; each timepoint may appear once"]
        );
        let both = FollowUp {
            after_sessions: Some(3),
            ..FollowUp::weeks("end", 8)
        };
        assert_eq!(
            messages(&[both]),
            [
                "step 1 (end): give after_weeks or after_sessions, not both: a step is due by one measure"
            ]
        );
        let neither = FollowUp {
            timepoint: "interim".into(),
            ..FollowUp::default()
        };
        assert_eq!(
            messages(&[neither]),
            [
                "step 1 (interim): give after_weeks (weeks after baseline) or after_sessions \
              (sessions attended)"
            ]
        );
        assert_eq!(
            messages(&[FollowUp::weeks("end", 0)]),
            ["step 1 (end): after_weeks: 0 is out of range; give 1 to 260 weeks"]
        );
        assert_eq!(
            messages(&[FollowUp::weeks("end", 261)]),
            ["step 1 (end): after_weeks: 261 is out of range; give 1 to 260 weeks"]
        );
        assert_eq!(
            messages(&[FollowUp::sessions("end", 501)]),
            ["step 1 (end): after_sessions: 501 is out of range; give 1 to 500 sessions"]
        );
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let errors = validate(&[
            FollowUp::weeks("baseline", 0),
            FollowUp::weeks("end", 4),
            FollowUp::sessions("end", 600),
        ])
        .unwrap_err();
        let steps: Vec<usize> = errors.iter().map(|e| e.step).collect();
        assert_eq!(steps, [1, 1, 3, 3]);
    }

    #[test]
    fn the_short_form_reads_and_writes_back() {
        assert_eq!(FollowUp::parse("end:12w"), Ok(FollowUp::weeks("end", 12)));
        assert_eq!(
            FollowUp::parse("interim:6s"),
            Ok(FollowUp::sessions("interim", 6))
        );
        for text in ["end:12w", "interim:6s", "follow_up:260w"] {
            assert_eq!(FollowUp::parse(text).unwrap().to_string(), text);
        }
        // What is read is checked by `validate`, not by `parse`.
        assert_eq!(FollowUp::parse("end:0w"), Ok(FollowUp::weeks("end", 0)));
    }

    #[test]
    fn a_bad_short_form_is_named() {
        let err = |t: &str| FollowUp::parse(t).unwrap_err();
        assert_eq!(
            err("interim:8x"),
            "interim:8x: `x` is not a unit: use w (weeks after baseline) or s (sessions attended)"
        );
        assert_eq!(
            err("interim:8"),
            "interim:8: say whether 8 is weeks or sessions: interim:8w or interim:8s"
        );
        assert!(err("end").starts_with("end: write a step as timepoint:WEEKSw"));
        assert!(err(":8w").starts_with(":8w: the timepoint is missing"));
        assert!(err("end:w").starts_with("end:w: give a number then w"));
        assert!(
            err("end:99999999999w").starts_with("end:99999999999w: 99999999999 is far too large")
        );
    }

    #[test]
    fn json_is_read_and_checked() {
        let steps = from_json(&json!([
            {"timepoint": "interim", "after_weeks": 8},
            {"timepoint": "end", "after_sessions": 10, "after_weeks": null},
        ]))
        .unwrap();
        assert_eq!(
            steps,
            [FollowUp::weeks("interim", 8), FollowUp::sessions("end", 10)]
        );
        assert_eq!(from_json(&json!([])).unwrap(), []);
    }

    #[test]
    fn json_problems_name_the_step_and_field() {
        let errors = |v: serde_json::Value| -> Vec<String> {
            from_json(&v)
                .unwrap_err()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            errors(json!({"timepoint": "end"})),
            [
                "followups: give a list of steps such as [{\"timepoint\":\"end\",\"after_weeks\":12}] \
              ([] clears the schedule)"
            ]
        );
        assert_eq!(
            errors(json!([{"timepoint": "end", "after_weeks": 8}, "end:8w"])),
            ["step 2: a step is an object such as {\"timepoint\":\"end\",\"after_weeks\":12}"]
        );
        assert_eq!(
            errors(json!([{"after_weeks": 8}])),
            ["step 1: timepoint: missing; use one of interim, end, follow_up"]
        );
        assert_eq!(
            errors(json!([{"timepoint": "end", "after_weeks": -1}])),
            ["step 1 (end): after_weeks: -1 is out of range; give 1 to 260 weeks"]
        );
        assert_eq!(
            errors(json!([{"timepoint": "end", "after_weeks": 4294967296_i64}])),
            ["step 1 (end): after_weeks: 4294967296 is out of range; give 1 to 260 weeks"]
        );
        assert_eq!(
            errors(json!([{"timepoint": "end", "after_weeks": 2.5}])),
            ["step 1 (end): after_weeks: 2.5 is not a whole number of weeks; give 1 to 260"]
        );
        assert_eq!(
            errors(json!([{"timepoint": "end", "after_sessions": "10"}])),
            ["step 1 (end): after_sessions: give a whole number of sessions, 1 to 500"]
        );
        assert_eq!(
            errors(json!([{"timepoint": "end", "after_days": 10}])),
            [
                "step 1 (end): after_days: not a field of a step; a step has timepoint, and \
                 after_weeks or after_sessions",
                "step 1 (end): give after_weeks (weeks after baseline) or after_sessions \
                 (sessions attended)"
            ]
        );
        assert_eq!(
            errors(
                json!([{"timepoint": "end"}, {"timepoint": "end", "after_weeks": 8}, {"timepoint": "end", "after_sessions": 2}])
            ),
            [
                "step 1 (end): give after_weeks (weeks after baseline) or after_sessions \
                 (sessions attended)",
                "step 2 (end): timepoint: end is already step 1; each timepoint may appear once",
                "step 3 (end): timepoint: end is already step 1; each timepoint may appear once",
            ]
        );
        assert_eq!(
            errors(
                json!([{"timepoint": 1, "after_weeks": 4}, {"timepoint": "end", "after_weeks": 8}, {"timepoint": "end", "after_sessions": 2}])
            ),
            [
                "step 1: timepoint: give it as text, one of interim, end, follow_up",
                "step 3 (end): timepoint: end is already step 2; each timepoint may appear once",
            ]
        );
        // A malformed step does not hide a duplicate or a bad timepoint further on, and the
        // step numbers stay those given.
        assert_eq!(
            errors(json!([
                {"timepoint": "end", "after_weeks": 8},
                {"timepoint": 3},
                {"timepoint": "end", "after_weeks": 12},
                {"timepoint": "baseline", "after_weeks": 1},
            ])),
            [
                "step 2: timepoint: give it as text, one of interim, end, follow_up",
                "step 3 (end): timepoint: end is already step 1; each timepoint may appear once",
                "step 4 (baseline): timepoint: baseline is where the schedule starts, not a \
                 follow-up; use one of interim, end, follow_up",
            ]
        );
    }

    #[test]
    fn the_wire_form_leaves_out_what_is_unset() {
        let json = serde_json::to_string(&FollowUp::weeks("end", 8)).unwrap();
        assert_eq!(json, r#"{"timepoint":"end","after_weeks":8}"#);
        let back: FollowUp =
            serde_json::from_str(r#"{"timepoint":"end","after_sessions":3}"#).unwrap();
        assert_eq!(back, FollowUp::sessions("end", 3));
    }
}
