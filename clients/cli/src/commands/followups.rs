//! `bothy admin followups`: a project's follow-up schedule, through
//! `GET`/`PUT /api/v1/projects/{slug}/followups`. Steps are written short (`interim:8w`,
//! `end:10s`) and checked here before anything is sent, so a typo needs no server and no
//! password.

use crate::args::AdminFollowupsCommand;
use crate::output::Output;
use anyhow::{Result, anyhow};
use bothy_device::ServerApi;
use bothy_sync_core::followup::{self, FollowUp};
use serde_json::{Value, json};

/// Reads and checks the steps of `bothy admin followups set`, naming the step at fault
/// (`interim:8x: ...`).
pub fn schedule(steps: &[String]) -> Result<Vec<FollowUp>> {
    let parsed = steps
        .iter()
        .map(|s| FollowUp::parse(s))
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| anyhow!(e))?;
    followup::validate(&parsed).map_err(|errors| {
        anyhow!(
            errors
                .iter()
                .map(|e| match parsed.get(e.step.wrapping_sub(1)) {
                    Some(step) => format!("{step}: {}", e.problem),
                    None => e.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    Ok(parsed)
}

/// Checks a command before logging in: the steps of `set`.
pub fn precheck(command: &AdminFollowupsCommand) -> Result<Option<Vec<FollowUp>>> {
    match command {
        AdminFollowupsCommand::Set { steps, .. } => schedule(steps).map(Some),
        _ => Ok(None),
    }
}

/// The schedule in words, one step a line.
fn describe(v: &Value) -> String {
    let project = v["project"].as_str().unwrap_or_default();
    let steps: Vec<FollowUp> = serde_json::from_value(v["followups"].clone()).unwrap_or_default();
    if steps.is_empty() {
        return format!("{project}: no follow-up schedule");
    }
    let mut lines = vec![format!("{project}: follow-ups after baseline")];
    for step in &steps {
        let when = match (step.after_weeks, step.after_sessions) {
            (Some(1), _) => "1 week after baseline".to_owned(),
            (Some(w), _) => format!("{w} weeks after baseline"),
            (None, Some(1)) => "after 1 session attended".to_owned(),
            (None, Some(s)) => format!("after {s} sessions attended"),
            (None, None) => "(no time given)".to_owned(),
        };
        lines.push(format!(
            "  {:<10} {:<8} {when}",
            step.timepoint,
            step.to_string().split_once(':').map_or("", |(_, w)| w)
        ));
    }
    lines.join("\n")
}

/// Runs `bothy admin followups ...`; `checked` is what [`precheck`] returned.
pub async fn run(
    api: &ServerApi,
    token: Option<&str>,
    command: AdminFollowupsCommand,
    checked: Option<Vec<FollowUp>>,
    out: Output,
) -> Result<()> {
    let path = |project: &str| {
        format!(
            "/api/v1/projects/{}/followups",
            super::admin::query_value(project)
        )
    };
    match command {
        AdminFollowupsCommand::Set { project, .. } => {
            let steps = checked.expect("checked before logging in");
            let v: Value = api
                .put_json(&path(&project), token, &json!({"followups": steps}))
                .await?;
            out.emit(&v, || format!("set: {}", describe(&v)));
        }
        AdminFollowupsCommand::Show { project } => {
            let v: Value = api.get_json(&path(&project), token).await?;
            out.emit(&v, || describe(&v));
        }
        AdminFollowupsCommand::Clear { project } => {
            let v: Value = api
                .put_json(&path(&project), token, &json!({"followups": []}))
                .await?;
            out.emit(&v, || {
                format!("cleared the follow-up schedule of {project}")
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(s: &[&str]) -> Result<Vec<FollowUp>> {
        schedule(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn steps_are_read_in_order() {
        assert_eq!(
            steps(&["interim:8w", "end:12w"]).unwrap(),
            [FollowUp::weeks("interim", 8), FollowUp::weeks("end", 12)]
        );
        assert_eq!(
            steps(&["end:10s"]).unwrap(),
            [FollowUp::sessions("end", 10)]
        );
    }

    #[test]
    fn a_bad_step_is_named() {
        let err = |s: &[&str]| steps(s).unwrap_err().to_string();
        assert_eq!(
            err(&["interim:8x"]),
            "interim:8x: `x` is not a unit: use w (weeks after baseline) or s (sessions attended)"
        );
        assert_eq!(
            err(&["end:0w"]),
            "end:0w: after_weeks: 0 is out of range; give 1 to 260 weeks"
        );
        assert_eq!(
            err(&["interim:8w", "interim:10s"]),
            "interim:10s: timepoint: interim is already step 1; each timepoint may appear once"
        );
        assert!(err(&["baseline:2w"]).starts_with("baseline:2w: timepoint: baseline is where"));
        assert!(err(&["later:2w"]).starts_with("later:2w: timepoint: `later` is not a timepoint"));
    }

    #[test]
    fn the_schedule_reads_as_words() {
        let v = json!({"project": "p", "followups": [
            {"timepoint": "interim", "after_weeks": 8},
            {"timepoint": "end", "after_sessions": 1},
        ]});
        assert_eq!(
            describe(&v),
            "p: follow-ups after baseline\n  interim    8w       8 weeks after baseline\n  \
             end        1s       after 1 session attended"
        );
        assert_eq!(
            describe(&json!({"project": "p", "followups": []})),
            "p: no follow-up schedule"
        );
    }
}
