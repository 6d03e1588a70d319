//! Validation of whole records against [`crate::schema`].
//!
//! The same checks run on the device at capture (to refuse bad input with a message naming the
//! field) and on the server after every merge (to quarantine an invalid change, or flag a record
//! that two valid changes merged into an invalid state). Every error names its field path.

use crate::instrument::{self, Definition};
use crate::record::{map_entries, map_obj, scalar_int, scalar_str, str_at};
use crate::schema::{self, FieldType, MapSpec, RecordKind};
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A problem with one field. `field` is a path: `end`, `items.3`, `attendance.<id>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FieldError {
    /// The field path.
    pub field: String,
    /// What is wrong, in words a field researcher understands.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Joins errors into one sentence-per-field message.
pub fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks a project slug: 1-64 lowercase letters, digits and hyphens.
pub fn check_project_slug(s: &str) -> Result<(), FieldError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "project",
            format!("must be 1-64 lowercase letters, digits or hyphens (got {s:?})"),
        ))
    }
}

/// An example of a record id in its one accepted text form, for messages.
pub const ID_EXAMPLE: &str = "0192f0c4-5e6a-7b3c-8d9e-0123456789ab";

/// Whether `s` is an id in the one text form Bothy accepts: a UUID as 36 characters,
/// lower-case hexadecimal digits in groups of 8, 4, 4, 4 and 12 joined by hyphens (what
/// `Uuid::to_string` writes). Upper case, missing hyphens, braces and `urn:uuid:` prefixes are
/// other spellings of the same UUID, and would make one participant two keys.
pub fn is_canonical_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// Checks an id given as text (a reference inside a record, an attendance key, an id in a
/// URL), naming `field` in the error.
pub fn check_id(field: &str, s: &str) -> Result<(), FieldError> {
    if is_canonical_id(s) {
        Ok(())
    } else {
        Err(FieldError::new(field, id_problem("must be", s)))
    }
}

/// Why `s` is not an id in its accepted form, after `lead` ("must be").
fn id_problem(lead: &str, s: &str) -> String {
    match uuid::Uuid::try_parse(s) {
        Ok(u) => format!("{lead} a record id written in lower case with hyphens: {u} (got {s:?})"),
        Err(_) => format!(
            "{lead} a record id: a UUID written in lower case with hyphens, like {ID_EXAMPLE} \
             (got {s:?})"
        ),
    }
}

/// Validates a record document. Empty means valid.
pub fn validate(d: &impl ReadDoc) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let root = ObjId::Root;
    let kind = match str_at(d, &root, "kind").map(|k| (RecordKind::parse(&k), k)) {
        Some((Some(kind), _)) => kind,
        Some((None, k)) => {
            errs.push(FieldError::new(
                "kind",
                format!("unknown record kind {k:?}"),
            ));
            return errs;
        }
        None => {
            errs.push(FieldError::new("kind", "is missing"));
            return errs;
        }
    };
    match str_at(d, &root, "project") {
        Some(p) => {
            if let Err(e) = check_project_slug(&p) {
                errs.push(e);
            }
        }
        None => errs.push(FieldError::new("project", "is missing")),
    }
    match d
        .get(&root, "v")
        .ok()
        .flatten()
        .and_then(|(v, _)| scalar_int(&v))
    {
        Some(v) if v == crate::record::SCHEMA_VERSION => {}
        Some(v) => errs.push(FieldError::new(
            "v",
            format!("unsupported schema version {v}"),
        )),
        None => errs.push(FieldError::new("v", "is missing")),
    }
    if d.get(&root, "created")
        .ok()
        .flatten()
        .and_then(|(v, _)| scalar_int(&v))
        .is_none()
    {
        errs.push(FieldError::new("created", "is missing"));
    }

    for key in d.keys(&root) {
        if schema::ENVELOPE_FIELDS.contains(&key.as_str()) {
            continue;
        }
        if schema::field(kind, &key).is_none() {
            errs.push(FieldError::new(
                key.clone(),
                format!("is not a field of a {kind} record"),
            ));
        }
    }

    let instrument = if kind == RecordKind::Wellbeing {
        let project = str_at(d, &root, "project").unwrap_or_default();
        response_definition(d, &project).unwrap_or_else(|e| {
            errs.push(e);
            None
        })
    } else {
        None
    };
    for field in schema::fields(kind) {
        let value = d.get(&root, field.name).ok().flatten();
        let Some((value, _)) = value else {
            if field.required {
                errs.push(FieldError::new(field.name, "is required"));
            }
            continue;
        };
        match field.ty {
            FieldType::Map(spec) => {
                let Some(obj) = map_obj(d, &root, field.name) else {
                    errs.push(FieldError::new(field.name, "must be a group of values"));
                    continue;
                };
                check_map(d, &obj, field.name, spec, instrument.as_deref(), &mut errs);
            }
            FieldType::Set => {
                let Some(obj) = map_obj(d, &root, field.name) else {
                    errs.push(FieldError::new(field.name, "must be a set"));
                    continue;
                };
                for (k, v) in map_entries(d, &obj) {
                    let path = format!("{}.{k}", field.name);
                    if !matches!(&v, Value::Scalar(s) if matches!(s.as_ref(), ScalarValue::Boolean(_)))
                    {
                        errs.push(FieldError::new(path, "set entries must be true or false"));
                    } else if k.is_empty() || k.chars().count() > 100 {
                        errs.push(FieldError::new(path, "must be 1-100 characters"));
                    }
                }
            }
            FieldType::Text => {
                if !matches!(value, Value::Object(ObjType::Text)) {
                    errs.push(FieldError::new(field.name, "must be collaborative text"));
                } else if let Some(Ok(text)) = d
                    .get(&root, field.name)
                    .ok()
                    .flatten()
                    .map(|(_, id)| d.text(&id))
                    && text.len() > 1_000_000
                {
                    errs.push(FieldError::new(
                        field.name,
                        "is longer than 1,000,000 bytes",
                    ));
                }
            }
            ty => {
                if let Err(msg) = check_scalar(ty, &value) {
                    errs.push(FieldError::new(field.name, msg));
                }
            }
        }
    }

    if kind == RecordKind::Session
        && let (Some(start), Some(end)) = (str_at(d, &root, "start"), str_at(d, &root, "end"))
        && let (Ok(s), Ok(e)) = (
            chrono::DateTime::parse_from_rfc3339(&start),
            chrono::DateTime::parse_from_rfc3339(&end),
        )
        && e < s
    {
        errs.push(FieldError::new(
            "end",
            format!("session ends ({end}) before it starts ({start})"),
        ));
    }
    errs
}

/// The other fields a field's check reads, for rules that span fields: a session's `end` must
/// not be before its `start`. Merging uses this to neutralise the field a device actually
/// changed when the error is reported on another.
pub(crate) fn cross_field(kind: RecordKind, field: &str) -> &'static [&'static str] {
    match (kind, field) {
        (RecordKind::Session, "end") => &["start"],
        _ => &[],
    }
}

fn check_map(
    d: &impl ReadDoc,
    obj: &ObjId,
    name: &str,
    spec: &MapSpec,
    instrument: Option<&Definition>,
    errs: &mut Vec<FieldError>,
) {
    let entries = map_entries(d, obj);
    match spec {
        MapSpec::Fields(fields) => {
            for (k, v) in &entries {
                let path = format!("{name}.{k}");
                match fields.iter().find(|f| f.name == k) {
                    None => errs.push(FieldError::new(path, format!("is not a field of `{name}`"))),
                    Some(f) => {
                        if let Err(msg) = check_scalar(f.ty, v) {
                            errs.push(FieldError::new(path, msg));
                        }
                    }
                }
            }
        }
        MapSpec::Attendance => {
            for (k, v) in &entries {
                let path = format!("{name}.{k}");
                if !is_canonical_id(k) {
                    errs.push(FieldError::new(
                        path,
                        id_problem("attendance must be keyed by", k),
                    ));
                } else if let Err(msg) =
                    check_scalar(FieldType::Choice(schema::ATTENDANCE_MARKS), v)
                {
                    errs.push(FieldError::new(path, msg));
                }
            }
        }
        MapSpec::Items => {
            let Some(def) = instrument else {
                // The instrument error is reported on its own field.
                return;
            };
            for (k, v) in &entries {
                let path = format!("{name}.{k}");
                let item = k
                    .parse::<u8>()
                    .ok()
                    .filter(|n| k == &n.to_string())
                    .and_then(|n| def.item(n));
                match item {
                    Some(item) => match scalar_int(v) {
                        Some(n) if item.scale.allows(n) => {}
                        Some(n) => errs.push(FieldError::new(
                            path,
                            format!("must be {} (got {n})", answers_of(&item.scale)),
                        )),
                        None => {
                            let any = FieldType::Int {
                                min: i64::MIN,
                                max: i64::MAX,
                            };
                            if let Err(msg) = check_scalar(any, v) {
                                errs.push(FieldError::new(path, msg));
                            }
                        }
                    },
                    None => errs.push(FieldError::new(
                        path,
                        format!("{} has items 1 to {}", def.id, def.items.len()),
                    )),
                }
            }
        }
    }
}

/// The answers a scale allows, in words: `1 to 5` or `one of 1, 2, 4`.
fn answers_of(scale: &crate::instrument::Scale) -> String {
    match (scale.min, scale.max) {
        (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
        _ => {
            let values: Vec<String> = scale.values.iter().map(|v| v.value.to_string()).collect();
            format!("one of {}", values.join(", "))
        }
    }
}

/// The definition a wellbeing response names, or the error saying why there is none.
fn response_definition(
    d: &impl ReadDoc,
    project: &str,
) -> Result<Option<std::sync::Arc<Definition>>, FieldError> {
    let root = ObjId::Root;
    let Some(id) = str_at(d, &root, "instrument") else {
        // Missing or of the wrong type: reported on the field itself.
        return Ok(None);
    };
    let version = d
        .get(&root, "instrument_version")
        .ok()
        .flatten()
        .and_then(|(v, _)| scalar_int(&v))
        .and_then(|v| u32::try_from(v).ok());
    if let Some(def) = instrument::lookup(project, &id, version) {
        return Ok(Some(def));
    }
    let known = instrument::known_ids(project);
    if known.contains(&id) {
        return Err(FieldError::new(
            "instrument_version",
            format!(
                "{id} has no version {} in project {project}",
                version.unwrap_or(1)
            ),
        ));
    }
    Err(FieldError::new(
        "instrument",
        format!(
            "`{id}` is not an instrument of project {project} (known: {})",
            known.join(", ")
        ),
    ))
}

fn check_scalar(ty: FieldType, v: &Value<'_>) -> Result<(), String> {
    // An object (collaborative text, a map, a list) where one value belongs is the wrong type,
    // whatever the field: say so, rather than reading it as absent.
    if let Value::Object(t) = v {
        return Err(format!(
            "expected {}, found {}",
            expected(ty),
            object_name(*t)
        ));
    }
    let s = scalar_str(v);
    match ty {
        FieldType::Str { max } => match s {
            Some(s) if s.chars().count() <= max => Ok(()),
            Some(_) => Err(format!("is longer than {max} characters")),
            None => Err(format!("must be text, got {}", type_name(v))),
        },
        FieldType::Choice(options) => match s {
            Some(s) if options.contains(&s.as_str()) => Ok(()),
            Some(s) => Err(format!("must be one of {} (got {s:?})", options.join(", "))),
            None => Err(format!(
                "must be one of {}, got {}",
                options.join(", "),
                type_name(v)
            )),
        },
        FieldType::Date => match s {
            // Only the canonical form: chrono also reads `2026-2-3`, which would sort and
            // export wrongly next to `2026-02-03`.
            Some(s) => match chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
                Ok(d) if d.format("%Y-%m-%d").to_string() == s => Ok(()),
                _ => Err(format!("must be a real date YYYY-MM-DD (got {s:?})")),
            },
            None => Err(format!("must be a date, got {}", type_name(v))),
        },
        FieldType::DateTime => match s {
            Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
                .map(|_| ())
                .map_err(|_| {
                    format!("must be a date and time like 2026-11-01T10:00:00Z (got {s:?})")
                }),
            None => Err(format!("must be a date and time, got {}", type_name(v))),
        },
        FieldType::Int { min, max } => match scalar_int(v) {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            Some(n) => Err(format!("must be {min} to {max} (got {n})")),
            None => Err(format!("must be a whole number, got {}", type_name(v))),
        },
        FieldType::Bool => match v {
            Value::Scalar(sv) if matches!(sv.as_ref(), ScalarValue::Boolean(_)) => Ok(()),
            _ => Err(format!("must be true or false, got {}", type_name(v))),
        },
        FieldType::RecordRef => match s {
            Some(s) if is_canonical_id(&s) => Ok(()),
            Some(s) => Err(id_problem("must be", &s)),
            None => Err(format!("must be a record id, got {}", type_name(v))),
        },
        FieldType::Text | FieldType::Map(_) | FieldType::Set => Err("unexpected value".into()),
    }
}

/// What a field of type `ty` holds, for "expected ..." messages.
fn expected(ty: FieldType) -> String {
    match ty {
        FieldType::Str { .. } => "a string".into(),
        FieldType::Choice(options) => format!("one of {}", options.join(", ")),
        FieldType::Date => "a date".into(),
        FieldType::DateTime => "a date and time".into(),
        FieldType::Int { .. } => "a whole number".into(),
        FieldType::Bool => "true or false".into(),
        FieldType::RecordRef => "a record id".into(),
        FieldType::Text => "collaborative text".into(),
        FieldType::Map(_) | FieldType::Set => "a group of values".into(),
    }
}

/// An Automerge object's type in words.
fn object_name(t: ObjType) -> &'static str {
    match t {
        ObjType::Text => "a text object",
        ObjType::Map => "a map object",
        ObjType::List => "a list object",
        ObjType::Table => "a table object",
    }
}

fn type_name(v: &Value<'_>) -> String {
    match v {
        Value::Object(t) => object_name(*t).into(),
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => format!("text {s:?}"),
            ScalarValue::Int(n) => format!("the number {n}"),
            ScalarValue::Uint(n) => format!("the number {n}"),
            ScalarValue::F64(x) => format!("the fraction {x}"),
            ScalarValue::Boolean(b) => format!("{b}"),
            ScalarValue::Null => "nothing (null)".into(),
            ScalarValue::Timestamp(_) => "a timestamp".into(),
            ScalarValue::Counter(_) => "a counter".into(),
            ScalarValue::Bytes(_) => "bytes".into(),
            ScalarValue::Unknown { .. } => "an unknown value".into(),
        },
    }
}
