//! Questionnaires: `bothy wellbeing instruments` and `bothy wellbeing items` show what this
//! device knows (offline); `bothy admin instrument define | list` define a project's own on
//! the server and list what a project may use.
//!
//! A definition is checked here before anything is sent, so a mistake in a file is reported
//! with its line and column (CSV) or field (JSON) without a round trip, and the same checks
//! run again on the server.

use crate::args::AdminInstrumentDefineArgs;
use crate::output::Output;
use anyhow::{Result, anyhow, bail};
use bothy_device::bothy_sync_core::instrument::{self, Definition, DefinitionError, Scale};
use bothy_device::{Device, FormItem, InstrumentForm, ServerApi};
use serde_json::{Value, json};
use std::path::Path;

/// `bothy wellbeing instruments`: the questionnaires this device knows for a project.
pub async fn known(device: &Device, project: Option<&str>, out: Output) -> Result<()> {
    let forms = device.project_setup(project).await?;
    let list: Vec<Value> = forms
        .definitions
        .iter()
        .map(|d| {
            json!({
                "instrument": d.id,
                "version": d.version,
                "name": d.name,
                "builtin": instrument::builtin(&d.id).is_some(),
                "items": d.items.len(),
            })
        })
        .collect();
    out.emit(&list, || {
        let mut text = format!("questionnaires for {}:\n", forms.project);
        for d in &forms.definitions {
            let origin = if instrument::builtin(&d.id).is_some() {
                "built-in"
            } else {
                "project"
            };
            text.push_str(&format!(
                "{:<16} version {:<3} {:<8} {:>3} items  {}\n",
                d.id,
                d.version,
                origin,
                d.items.len(),
                d.name
            ));
        }
        text
    });
    Ok(())
}

/// `bothy wellbeing items`: one questionnaire's items, answers and labels.
pub async fn items(
    device: &Device,
    instrument: &str,
    project: Option<&str>,
    out: Output,
) -> Result<()> {
    let forms = device.project_setup(project).await?;
    let form = forms.form(instrument).ok_or_else(|| {
        anyhow!(
            "--instrument: `{}` is not an instrument of project {} on this device; known: {} \
             (sync to receive the project's newest)",
            instrument.trim(),
            forms.project,
            forms.instrument_ids().join(", ")
        )
    })?;
    out.emit(&form, || form_text(&form));
    Ok(())
}

/// A questionnaire for people: a heading, one line per item, the answers (once when every
/// item has the same), the licence.
fn form_text(form: &InstrumentForm) -> String {
    let mut text = format!(
        "{} version {}: {}\n",
        form.instrument, form.version, form.name
    );
    let shared = form
        .items
        .first()
        .map(answers)
        .filter(|first| form.items.iter().all(|i| &answers(i) == first));
    for item in &form.items {
        text.push_str(&format!("{:>3}. {}", item.number, item.text));
        if let Some(key) = &item.key {
            text.push_str(&format!(" [{key}]"));
        }
        if item.reverse {
            text.push_str(" (reverse-scored)");
        }
        text.push('\n');
        if shared.is_none() {
            text.push_str(&format!("     answers: {}\n", answers(item)));
        }
    }
    if let Some(a) = shared {
        text.push_str(&format!("answers: {a}\n"));
    }
    if let Some(l) = &form.licence {
        text.push_str(&format!("licence: {l}\n"));
    }
    text
}

/// An item's answers in words: `1 to 5 (1 Not at all, 5 Very much)`, or the listed answers
/// with their labels (`1 Often/always, 2 Some of the time`).
fn answers(item: &FormItem) -> String {
    // Neutral wording labels an answer with its own number: that is no label.
    let label_of = |v: i64| item.labels.get(&v).filter(|l| **l != v.to_string());
    let label = |v: i64| match label_of(v) {
        Some(l) => format!("{v} {l}"),
        None => v.to_string(),
    };
    match scale_range(&item.scale) {
        Some((lo, hi)) => {
            let labelled: Vec<String> = item
                .labels
                .keys()
                .filter(|v| (lo..=hi).contains(*v) && label_of(**v).is_some())
                .map(|v| label(*v))
                .collect();
            if labelled.is_empty() {
                format!("{lo} to {hi}")
            } else {
                format!("{lo} to {hi} ({})", labelled.join(", "))
            }
        }
        None => {
            let mut values: Vec<i64> = item.scale.values.iter().map(|v| v.value).collect();
            values.sort_unstable();
            values.dedup();
            values.into_iter().map(label).collect::<Vec<_>>().join(", ")
        }
    }
}

fn scale_range(scale: &Scale) -> Option<(i64, i64)> {
    Some((scale.min?, scale.max?))
}

/// Reads a definition from `file`: JSON, or CSV items (a name ending in `.csv`) with the JSON
/// scoring sidecar, and checks it. The error names the file and every problem with its line
/// and column or field.
pub fn load_definition(file: &Path, scoring: Option<&Path>) -> Result<Definition> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))
    };
    let is_csv = file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let parsed = if is_csv {
        let Some(sidecar) = scoring else {
            bail!(
                "--scoring: {} is a CSV of items; give its scoring with --scoring SIDECAR.json \
                 (e.g. {{\"scoring\": {{\"method\": \"sum\", \"higher_is_better\": true}}}})",
                file.display()
            );
        };
        let items = read(file)?;
        let sidecar_text = read(sidecar)?;
        Definition::from_csv(&items, &sidecar_text).map_err(|errs| {
            // Sidecar problems name the sidecar; the rest are in the CSV.
            let (side, rows): (Vec<_>, Vec<_>) = errs
                .into_iter()
                .partition(|e| e.path.starts_with("sidecar"));
            let mut parts = Vec::new();
            if !rows.is_empty() {
                parts.push(format!("{}: {}", file.display(), list(&rows)));
            }
            if !side.is_empty() {
                let side: Vec<DefinitionError> = side
                    .into_iter()
                    .map(|mut e| {
                        e.path = e.path.trim_start_matches("sidecar").trim_start().to_owned();
                        e
                    })
                    .collect();
                parts.push(format!("{}: {}", sidecar.display(), list(&side)));
            }
            anyhow!("not a valid definition: {}", parts.join("; "))
        })?
    } else {
        if let Some(sidecar) = scoring {
            bail!(
                "--scoring: {} is for a CSV definition; {} is JSON and holds its own scoring",
                sidecar.display(),
                file.display()
            );
        }
        Definition::from_json(&read(file)?).map_err(|errs| {
            anyhow!(
                "not a valid definition: {}: {}",
                file.display(),
                list(&errs)
            )
        })?
    };
    if instrument::builtin(&parsed.id).is_some() {
        bail!(
            "not a valid definition: {}: id: {} is a built-in instrument; give the project's \
             questionnaire an id of its own",
            file.display(),
            parsed.id
        );
    }
    Ok(parsed)
}

fn list(errs: &[DefinitionError]) -> String {
    errs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `bothy admin instrument define`: sends a checked definition to the project.
pub async fn define(
    api: &ServerApi,
    token: Option<&str>,
    args: &AdminInstrumentDefineArgs,
    definition: &Definition,
    out: Output,
) -> Result<()> {
    let path = format!(
        "/api/v1/projects/{}/instruments",
        super::admin::query_value(&args.project)
    );
    let v: Value = api
        .put_json(&path, token, &serde_json::to_value(definition)?)
        .await?;
    out.emit(&v, || defined_line(&v));
    Ok(())
}

/// The server's answer to a definition, for people.
fn defined_line(v: &Value) -> String {
    let mut line = format!(
        "defined {} version {} for project {} ({} items)",
        plain(&v["instrument"]),
        plain(&v["version"]),
        plain(&v["project"]),
        plain(&v["items"])
    );
    if v["created"] == json!(false) {
        line.push_str(", replacing the stored definition of that version");
    }
    line
}

/// `bothy admin instrument list --project`: what the server says the project may use.
pub async fn list_project(
    api: &ServerApi,
    token: Option<&str>,
    project: &str,
    out: Output,
) -> Result<()> {
    let path = format!(
        "/api/v1/projects/{}/instruments",
        super::admin::query_value(project)
    );
    let v: Value = api.get_json(&path, token).await?;
    out.emit(&v, || project_list_text(project, &v));
    Ok(())
}

fn project_list_text(project: &str, v: &Value) -> String {
    let row = |d: &Value, origin: &str| {
        format!(
            "{:<16} version {:<3} {:<8} {:>3} items  {}",
            plain(&d["id"]),
            plain(&d["version"]),
            origin,
            d["items"].as_array().map_or(0, Vec::len),
            plain(&d["name"])
        )
    };
    let mut lines: Vec<String> = Vec::new();
    for d in v["builtin"].as_array().into_iter().flatten() {
        lines.push(row(d, "built-in"));
    }
    let own: Vec<&Value> = v["project"].as_array().into_iter().flatten().collect();
    for d in &own {
        lines.push(row(d, "project"));
    }
    if own.is_empty() {
        lines.push(format!(
            "(project {project} has no questionnaires of its own: define one with \
             `bothy admin instrument define FILE --project {project}`)"
        ));
    }
    lines.join("\n")
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "?".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bothy_device::ProjectForms;
    use std::path::PathBuf;

    const ITEMS_CSV: &str = "\
instrument,version,name,item,key,min,max,choices,reverse,text
FEEDBACK5,1,Session feedback,1,enjoyed,1,5,\"1, Not at all | 5, Very much\",,I enjoyed the session
,,,2,connected,1,5,,,I felt connected to others
,,,3,tired,1,5,,yes,I felt worn out afterwards
,,,4,learned,1,5,,,I learned something
,,,5,again,1,5,,,I would come again
";

    const SIDECAR: &str = r#"{ "scoring": { "method": "sum", "higher_is_better": true,
        "bands": [{ "name": "low", "min": 5, "max": 15 }, { "name": "high", "min": 16, "max": 25 }] } }"#;

    /// Writes files into a fresh folder; returns the folder (kept alive) and their paths.
    fn files(named: &[(&str, &str)]) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let paths = named
            .iter()
            .map(|(name, text)| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).unwrap();
                path
            })
            .collect();
        (dir, paths)
    }

    fn error_of(file: &Path, scoring: Option<&Path>) -> String {
        load_definition(file, scoring).unwrap_err().to_string()
    }

    #[test]
    fn a_csv_with_its_scoring_sidecar_loads() {
        let (_dir, p) = files(&[("feedback.csv", ITEMS_CSV), ("scoring.json", SIDECAR)]);
        let def = load_definition(&p[0], Some(&p[1])).unwrap();
        assert_eq!((def.id.as_str(), def.version), ("FEEDBACK5", 1));
        assert_eq!(def.items.len(), 5);
        assert!(def.items[2].reverse);
        assert_eq!(def.items[0].scale.label(5), Some("Very much"));
        assert_eq!(def.scoring.bands.len(), 2);
    }

    #[test]
    fn a_csv_needs_its_scoring_and_json_has_its_own() {
        let (_dir, p) = files(&[
            ("feedback.CSV", ITEMS_CSV),
            ("scoring.json", SIDECAR),
            ("def.json", "{}"),
        ]);
        let e = error_of(&p[0], None);
        assert!(e.starts_with("--scoring: "), "{e}");
        assert!(
            e.contains("give its scoring with --scoring SIDECAR.json"),
            "{e}"
        );
        let e = error_of(&p[2], Some(&p[1]));
        assert!(e.contains("is for a CSV definition"), "{e}");
        let e = error_of(&p[1].with_file_name("missing.json"), None);
        assert!(e.starts_with("cannot read "), "{e}");
    }

    #[test]
    fn csv_errors_name_the_file_line_and_column() {
        let bad_min = ITEMS_CSV.replace(",,,4,learned,1,5,", ",,,4,learned,one,5,");
        let (_dir, p) = files(&[("feedback.csv", &bad_min), ("scoring.json", SIDECAR)]);
        let e = error_of(&p[0], Some(&p[1]));
        assert!(e.starts_with("not a valid definition: "), "{e}");
        assert!(
            e.contains(&format!("{}: line 5, column min: ", p[0].display())),
            "{e}"
        );

        // A problem the definition's own checks find in an item names its line too.
        let dup = ITEMS_CSV.replace(",,,4,learned", ",,,3,learned");
        let (_dir, p) = files(&[("feedback.csv", &dup), ("scoring.json", SIDECAR)]);
        let e = error_of(&p[0], Some(&p[1]));
        assert!(e.contains("line 5, "), "{e}");
        assert!(e.contains("duplicate item 3"), "{e}");
    }

    #[test]
    fn sidecar_errors_name_the_sidecar() {
        let (_dir, p) = files(&[
            ("feedback.csv", ITEMS_CSV),
            (
                "scoring.json",
                "{ \"scoring\": { \"method\": \"median\" } }",
            ),
        ]);
        let e = error_of(&p[0], Some(&p[1]));
        assert!(
            e.contains(&format!("{}: line 1, column ", p[1].display())),
            "{e}"
        );
        assert!(e.contains("median"), "{e}");
        assert!(!e.contains("sidecar line"), "{e}");
    }

    #[test]
    fn json_errors_name_the_field_and_built_in_ids_are_refused() {
        let def = load_definition_from_csv_text();
        let mut json: Value = serde_json::from_str(&def.to_json()).unwrap();
        json["items"][1]["scale"] = json!({});
        let (_dir, p) = files(&[("feedback.json", &json.to_string())]);
        let e = error_of(&p[0], None);
        assert!(e.contains("items[1].scale: "), "{e}");

        let (_dir, p) = files(&[("bad.json", "{ \"id\": \"X1\", ")]);
        let e = error_of(&p[0], None);
        assert!(e.contains("bad.json: line 1, column "), "{e}");

        let mut json: Value = serde_json::from_str(&def.to_json()).unwrap();
        json["id"] = json!("UCLA3");
        let (_dir, p) = files(&[("ucla.json", &json.to_string())]);
        let e = error_of(&p[0], None);
        assert!(e.contains("id: UCLA3 is a built-in instrument"), "{e}");
    }

    fn load_definition_from_csv_text() -> Definition {
        Definition::from_csv(ITEMS_CSV, SIDECAR).unwrap()
    }

    fn forms_with(def: Definition) -> ProjectForms {
        ProjectForms {
            project: "p".into(),
            sites: Vec::new(),
            activities: Vec::new(),
            instruments: Vec::new(),
            definitions: instrument::builtins()
                .iter()
                .cloned()
                .chain([def])
                .collect(),
        }
    }

    #[test]
    fn a_form_shows_items_keys_shared_answers_and_reversed_items() {
        let forms = forms_with(load_definition_from_csv_text());
        let text = form_text(&forms.form("feedback5").unwrap());
        assert_eq!(
            text,
            "FEEDBACK5 version 1: Session feedback\n  \
               1. I enjoyed the session [enjoyed]\n     answers: 1 to 5 (1 Not at all, 5 Very much)\n  \
               2. I felt connected to others [connected]\n     answers: 1 to 5\n  \
               3. I felt worn out afterwards [tired] (reverse-scored)\n     answers: 1 to 5\n  \
               4. I learned something [learned]\n     answers: 1 to 5\n  \
               5. I would come again [again]\n     answers: 1 to 5\n"
        );
        // Licensed wording without a supplied text: neutral labels, one shared answer line.
        let text = form_text(&forms.form("SWEMWBS").unwrap());
        assert!(
            text.starts_with("SWEMWBS version 1: ") && text.contains("  7. SWEMWBS item 7\n"),
            "{text}"
        );
        assert!(text.ends_with("answers: 1 to 5\n"), "{text}");
        // A list of answers with their labels.
        let text = form_text(&forms.form("ONS_LONELINESS").unwrap());
        assert!(
            text.contains("  1. How often do you feel lonely? [lonely]\n")
                && text.contains("answers: 1 Often/always, 2 Some of the time, 3 Occasionally"),
            "{text}"
        );
    }

    #[test]
    fn the_servers_answers_read_as_sentences() {
        let v = json!({"instrument": "FEEDBACK5", "version": 1, "project": "p", "items": 5,
                       "created": true});
        assert_eq!(
            defined_line(&v),
            "defined FEEDBACK5 version 1 for project p (5 items)"
        );
        let v = json!({"instrument": "FEEDBACK5", "version": 1, "project": "p", "items": 5,
                       "created": false});
        assert!(defined_line(&v).ends_with(", replacing the stored definition of that version"));

        let def = load_definition_from_csv_text();
        let listed = json!({
            "builtin": [serde_json::to_value(instrument::builtin("UCLA3").unwrap()).unwrap()],
            "project": [serde_json::to_value(&def).unwrap()],
        });
        let text = project_list_text("p", &listed);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with("UCLA3 ") && lines[0].contains("built-in"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("FEEDBACK5 ")
                && lines[1].contains("project")
                && lines[1].contains("5 items  Session feedback"),
            "{text}"
        );
        let text = project_list_text("p", &json!({"builtin": [], "project": []}));
        assert!(text.contains("no questionnaires of its own"), "{text}");
    }
}
