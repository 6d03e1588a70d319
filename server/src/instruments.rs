//! A project's own instruments (docs/instruments.md): questionnaire definitions
//! ([`Definition`]) that a project's coordinators and admins publish through the API or the
//! dashboard. They are stored in `instrument_definitions`, one row per id and version, and made
//! known to this process's catalogue ([`bothy_sync_core::instrument::define`]), which is what
//! sync uses to check and score responses: [`load_all`] loads every stored definition when the
//! server starts, [`define`] adds or changes one. Devices receive a project's definitions in
//! their set-up ([`crate::sync::setup::setup_for`]).
//!
//! An id and version that responses use never change meaning: [`define`] then accepts only a
//! [`compatible_change`] (wording, labels, codes, sources) and refuses anything that would
//! reinterpret stored answers, asking for a new version instead.

use crate::access::audit;
use crate::error::ApiError;
use crate::storage::{self, Db, now};
use bothy_sync_core::instrument::{self, Definition, DefinitionError, compatible_change};
use serde::Serialize;
use std::fmt::Write;

/// What [`define`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Defined {
    /// The instrument's id.
    pub instrument: String,
    /// The version defined.
    pub version: u32,
    /// The project.
    pub project: String,
    /// How many items it has.
    pub items: usize,
    /// True when this id and version were not stored before.
    pub created: bool,
    /// False when the same definition was stored already (nothing was written).
    pub changed: bool,
}

/// Why a definition was refused: every problem found, each naming its field.
#[derive(Debug)]
pub enum Refusal {
    /// The definition is not valid (`400 invalid_definition`).
    Invalid(Vec<DefinitionError>),
    /// The id and version have responses and the change would reinterpret them (`400
    /// incompatible_change`).
    Incompatible(Vec<DefinitionError>),
    /// Anything else (no such project, the database).
    Other(ApiError),
}

impl Refusal {
    /// The problems, for a person: one per field.
    pub fn problems(&self) -> Vec<String> {
        match self {
            Refusal::Invalid(errs) | Refusal::Incompatible(errs) => {
                errs.iter().map(ToString::to_string).collect()
            }
            Refusal::Other(e) => vec![e.to_string()],
        }
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Refusal::Other(e.into())
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid(errs) => ApiError::bad("invalid_definition", list(&errs)),
            Refusal::Incompatible(errs) => ApiError::bad(
                "incompatible_change",
                format!(
                    "this version already has responses, so it may change only in wording, \
                     labels, codes and sources: {}",
                    list(&errs)
                ),
            ),
            Refusal::Other(e) => e,
        }
    }
}

/// `path: message; path: message`.
pub fn list(errs: &[DefinitionError]) -> String {
    let mut out = String::new();
    for (i, e) in errs.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let _ = write!(out, "{e}");
    }
    out
}

/// Reads a definition sent as JSON text (the dashboard's form, a file): refused fields are
/// named by their path (`items[2].scale: unknown field ...`) and located by line and column.
pub fn from_json_text(text: &str) -> Result<Definition, Vec<DefinitionError>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let def: Definition = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        let message = inner
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned();
        let location = format!("line {}, column {}", inner.line(), inner.column());
        let path = path_or(e.path(), "");
        vec![if inner.is_syntax() || inner.is_eof() || path.is_empty() {
            DefinitionError {
                path: location,
                message,
            }
        } else {
            DefinitionError {
                path,
                message: format!("{message} ({location})"),
            }
        }]
    })?;
    de.end().map_err(|e| {
        vec![DefinitionError {
            path: format!("line {}, column {}", e.line(), e.column()),
            message: "text follows the definition: send one JSON object".to_owned(),
        }]
    })?;
    Ok(def)
}

/// Reads a definition from a JSON value (an API request's body): refused fields are named by
/// their path.
pub fn from_json_value(value: serde_json::Value) -> Result<Definition, Vec<DefinitionError>> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        vec![DefinitionError {
            path: path_or(e.path(), "definition"),
            message: e.inner().to_string(),
        }]
    })
}

/// The path of a serde error, or `whole` when it is about the whole object (or nowhere known).
fn path_or(path: &serde_path_to_error::Path, whole: &str) -> String {
    let p = path.to_string();
    if p.is_empty() || p == "." || p == "?" {
        whole.to_owned()
    } else {
        p
    }
}

/// Every stored definition of a project, every version, by id then version.
pub async fn stored(db: &Db, project: &str) -> Result<Vec<Definition>, sqlx::Error> {
    let rows = storage::instruments::definitions(&db.pool, project).await?;
    Ok(rows
        .iter()
        .filter_map(|r| parse_row(project, &r.instrument, r.version, &r.definition))
        .collect())
}

/// A stored definition, or `None` (logged) if the row cannot be read, which only a hand edit of
/// the database makes happen.
fn parse_row(project: &str, instrument: &str, version: i64, text: &str) -> Option<Definition> {
    match serde_json::from_str::<Definition>(text) {
        Ok(def) => Some(def),
        Err(e) => {
            tracing::error!(
                project,
                instrument,
                version,
                error = %e,
                "a stored instrument definition cannot be read; it is ignored"
            );
            None
        }
    }
}

/// Makes a project's stored definitions known to this process again: another server process
/// on the same database may have defined one since this process last read them.
pub async fn refresh(db: &Db, project: &str) -> Result<(), sqlx::Error> {
    for def in stored(db, project).await? {
        instrument::define(project, def);
    }
    Ok(())
}

/// Makes every stored definition known to this process; run when the server starts. Returns
/// how many there are.
pub async fn load_all(db: &Db) -> Result<usize, sqlx::Error> {
    let rows = storage::instruments::all_definitions(&db.pool).await?;
    let mut loaded = 0;
    for r in &rows {
        if let Some(def) = parse_row(&r.project, &r.instrument, r.version, &r.definition) {
            instrument::define(&r.project, def);
            loaded += 1;
        }
    }
    if loaded > 0 {
        tracing::info!(
            definitions = loaded,
            "project instrument definitions loaded"
        );
    }
    Ok(loaded)
}

/// Stores a project's definition (a new id, a new version, or a change to a version) and makes
/// it known to this process. Refused with `400 invalid_definition` when it is not valid or its
/// id is a built-in's, and with `400 incompatible_change` when the project has responses of
/// this id and version and the change would reinterpret them; each message lists every
/// problem as `path: message`. Audited as `instrument.define`.
pub async fn define(
    db: &Db,
    project: &str,
    def: Definition,
    actor: &audit::Actor<'_>,
) -> Result<Defined, ApiError> {
    try_define(db, project, def, actor)
        .await
        .map_err(Into::into)
}

/// [`define`], with the problems kept apart (for the dashboard's list).
pub async fn try_define(
    db: &Db,
    project: &str,
    def: Definition,
    actor: &audit::Actor<'_>,
) -> Result<Defined, Refusal> {
    def.validate().map_err(Refusal::Invalid)?;
    if instrument::builtin(&def.id).is_some() {
        return Err(Refusal::Invalid(vec![DefinitionError {
            path: "id".to_owned(),
            message: format!(
                "`{}` is a built-in instrument, which a project cannot redefine: give your \
                 instrument an id of its own",
                def.id
            ),
        }]));
    }
    if !storage::projects::exists(&db.pool, project).await? {
        return Err(Refusal::Other(ApiError::NotFound(format!(
            "no project `{project}`"
        ))));
    }
    let json =
        serde_json::to_string(&def).map_err(|e| Refusal::Other(anyhow::Error::from(e).into()))?;
    let version = i64::from(def.version);
    let mut tx = db.begin_write().await?;
    // Whether a version has responses is checked while no sync stores any: every sync holds
    // this lock shared (on SQLite the single writer already orders them).
    db.lock_erasures(&mut tx, true).await?;
    let previous =
        storage::instruments::definition_text(&mut *tx, project, &def.id, version).await?;
    let previous = match previous {
        Some(text) => Some(serde_json::from_str::<Definition>(&text).map_err(|e| {
            Refusal::Other(
                anyhow::anyhow!(
                    "the stored definition of {} version {} in project {project} cannot be \
                     read: {e}",
                    def.id,
                    def.version
                )
                .into(),
            )
        })?),
        None => None,
    };
    let outcome = Defined {
        instrument: def.id.clone(),
        version: def.version,
        project: project.to_owned(),
        items: def.items.len(),
        created: previous.is_none(),
        changed: previous.as_ref() != Some(&def),
    };
    if !outcome.changed {
        tx.commit().await?;
        instrument::define(project, def);
        return Ok(outcome);
    }
    let mut responses = 0i64;
    if let Some(old) = &previous {
        responses =
            storage::instruments::responses_of_version(&mut *tx, project, &def.id, version).await?;
        if responses > 0 {
            compatible_change(old, &def).map_err(Refusal::Incompatible)?;
        }
    }
    let stored = storage::instruments::NewDefinition {
        project,
        instrument: &def.id,
        version,
        definition: &json,
        defined_by: actor.username,
    };
    storage::instruments::put_definition(&mut *tx, stored, now()).await?;
    audit::record(
        &mut *tx,
        actor,
        "instrument.define",
        Some(project),
        Some(&def.id),
        serde_json::json!({
            "version": def.version,
            "name": def.name,
            "items": def.items.len(),
            "created": outcome.created,
            "responses": responses,
        }),
    )
    .await?;
    tx.commit().await?;
    instrument::define(project, def);
    Ok(outcome)
}

/// One stored definition with who defined it, when, and how many responses use it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The definition.
    pub definition: Definition,
    /// The username of who stored it last.
    pub defined_by: Option<String>,
    /// When (seconds since 1970).
    pub defined_at: i64,
    /// The project's responses of this id and version.
    pub responses: i64,
}

/// Every version of a project's definitions, by id then version, with their responses.
pub async fn listing(db: &Db, project: &str) -> Result<Vec<Listed>, sqlx::Error> {
    let counts = response_counts(db, project).await?;
    let rows = storage::instruments::listed_definitions(&db.pool, project).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let definition = parse_row(project, &r.instrument, r.version, &r.definition)?;
            let responses = counts
                .iter()
                .find(|(id, v, _)| *id == definition.id && *v == definition.version)
                .map_or(0, |(_, _, n)| *n);
            Some(Listed {
                defined_by: r.defined_by,
                defined_at: r.defined_at,
                responses,
                definition,
            })
        })
        .collect())
}

/// How many responses the project holds of each of its definitions: (id, version, count).
pub async fn response_counts(
    db: &Db,
    project: &str,
) -> Result<Vec<(String, u32, i64)>, sqlx::Error> {
    let rows = storage::instruments::response_counts(&db.pool, project).await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.instrument, u32::try_from(r.version).unwrap_or(0), r.n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCALE: &str = r#"{
  "id": "MOOD",
  "version": 1,
  "name": "Mood",
  "items": [
    { "number": 1, "scale": { "min": 1, "max": 5 } },
    { "number": 2, "scale": { "min": 1, "max": 5 }, "revers": true }
  ],
  "scoring": { "method": "sum", "higher_is_better": true }
}"#;

    #[test]
    fn json_errors_name_the_field_and_the_line() {
        let errs = from_json_text(SCALE).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "items[1].revers");
        assert!(
            errs[0].message.contains("unknown field `revers`"),
            "{:?}",
            errs[0]
        );
        assert!(errs[0].message.contains("(line 7, column"), "{:?}", errs[0]);

        let value: serde_json::Value =
            serde_json::from_str(&SCALE.replace("\"revers\"", "\"x\"")).unwrap();
        let errs = from_json_value(value).unwrap_err();
        assert_eq!(errs[0].path, "items[1].x");
        assert!(
            errs[0].message.contains("unknown field `x`"),
            "{:?}",
            errs[0]
        );
        let missing: serde_json::Value = serde_json::from_str(&SCALE.replace(
            r#""scale": { "min": 1, "max": 5 }, "revers": true"#,
            r#""key": "b""#,
        ))
        .unwrap();
        let errs = from_json_value(missing).unwrap_err();
        assert_eq!(errs[0].path, "items[1]");
        assert!(
            errs[0].message.contains("missing field `scale`"),
            "{:?}",
            errs[0]
        );

        let errs = from_json_text("{ \"id\": \"MOOD\" ").unwrap_err();
        assert!(errs[0].path.starts_with("line 1"), "{:?}", errs[0]);
        let errs = from_json_text(&format!("{} {{}}", SCALE.replace(", \"revers\": true", "")))
            .unwrap_err();
        assert!(errs[0].message.contains("text follows"), "{:?}", errs[0]);
        assert!(from_json_text(&SCALE.replace(", \"revers\": true", "")).is_ok());
    }

    /// The fenced code blocks of a Markdown text: (info string, content), in order.
    fn code_blocks(md: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut open: Option<(String, String)> = None;
        for line in md.lines() {
            match (&mut open, line.strip_prefix("```")) {
                (None, Some(info)) => open = Some((info.trim().to_owned(), String::new())),
                (Some(_), Some(_)) => out.extend(open.take()),
                (Some((_, body)), None) => {
                    body.push_str(line);
                    body.push('\n');
                }
                (None, None) => {}
            }
        }
        out
    }

    #[test]
    fn the_documented_example_is_valid_and_its_csv_matches() {
        let blocks = code_blocks(include_str!("../../docs/instruments.md"));
        let json = blocks
            .iter()
            .find(|(info, body)| info == "json" && body.contains("\"id\": \"GARDEN5\""))
            .map(|(_, b)| b.as_str())
            .expect("the example definition");
        let at = blocks
            .iter()
            .position(|(info, _)| info == "csv")
            .expect("the example CSV");
        let csv = &blocks[at].1;
        let sidecar = blocks[at + 1..]
            .iter()
            .find(|(info, _)| info == "json")
            .map(|(_, b)| b.as_str())
            .expect("the example sidecar");
        let def = from_json_text(json).expect("the example reads");
        assert_eq!(def.validate(), Ok(()));
        assert!(instrument::builtin(&def.id).is_none());
        assert_eq!(Definition::from_csv(csv, sidecar).as_ref(), Ok(&def));
        // The worked score on the page.
        let answers = [(1, 4), (2, 3), (3, 5), (4, 2), (5, 4)]
            .into_iter()
            .collect();
        match instrument::score(&def, &answers) {
            instrument::Scored::Total { total, .. } => {
                assert_eq!((total.score, total.band.as_deref()), (20.0, Some("high")));
            }
            other => panic!("not a total: {other:?}"),
        }
    }

    #[test]
    fn refusals_list_every_problem() {
        let errs = vec![
            DefinitionError {
                path: "items[1].number".into(),
                message: "duplicate item 1".into(),
            },
            DefinitionError {
                path: "items".into(),
                message: "item 2 is missing".into(),
            },
        ];
        let e: ApiError = Refusal::Invalid(errs).into();
        assert_eq!(
            e.to_string(),
            "items[1].number: duplicate item 1; items: item 2 is missing"
        );
    }
}
