//! Records as Automerge documents behind typed, validating accessors.
//!
//! A record is one Automerge document whose root map holds an envelope (`kind`, `project`, `v`,
//! `created`) and the kind's fields (see [`crate::schema`]). Nested maps, sets and text objects
//! are created once, when the record is created, and never replaced: two devices that edit a
//! record offline then write into the *same* attendance map or story text, so their edits merge
//! instead of one object hiding the other.
//!
//! Every write goes through [`RecordDoc::create`] or [`RecordDoc::edit`], which validate the
//! result and refuse (roll back) an edit that would make the record invalid, naming the field.

use crate::schema::{self, Field, FieldType, MapSpec, RecordKind};
use crate::validate::{self, FieldError};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The document schema version written into every record's `v` field.
pub const SCHEMA_VERSION: i64 = 1;

/// A value written into a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// True or false.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// Text: a plain string, or the whole new content of a collaborative text field.
    Str(String),
}

impl FieldValue {
    /// The value `text` means for the field at `path` of a `kind` record (paths as in
    /// [`Editor::set`]): a whole number for number fields and item answers, `true`/`false` for
    /// yes/no fields, text otherwise. Text that does not fit the field's type stays text, so
    /// the edit is refused naming the field. Conflicting values are shown as text; this turns
    /// a chosen one back into what the field holds.
    pub fn parse_for(kind: RecordKind, path: &str, text: &str) -> FieldValue {
        enum Want {
            Int,
            Bool,
            Text,
        }
        let want = |ty: &FieldType| match ty {
            FieldType::Int { .. } => Want::Int,
            FieldType::Bool => Want::Bool,
            _ => Want::Text,
        };
        let (top, sub) = match path.split_once('.') {
            Some((t, s)) => (t, Some(s)),
            None => (path, None),
        };
        let wanted = match (schema::field(kind, top).map(|f| &f.ty), sub) {
            (Some(FieldType::Map(MapSpec::Items)), Some(_)) => Want::Int,
            (Some(FieldType::Set), Some(_)) => Want::Bool,
            (Some(FieldType::Map(MapSpec::Fields(inner))), Some(key)) => inner
                .iter()
                .find(|f| f.name == key)
                .map_or(Want::Text, |f| want(&f.ty)),
            (Some(ty), None) => want(ty),
            _ => Want::Text,
        };
        let trimmed = text.trim();
        match wanted {
            Want::Int => trimmed
                .parse::<i64>()
                .map_or_else(|_| text.into(), FieldValue::Int),
            Want::Bool => match trimmed {
                "true" => FieldValue::Bool(true),
                "false" => FieldValue::Bool(false),
                _ => text.into(),
            },
            Want::Text => text.into(),
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Str(s.to_owned())
    }
}
impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Str(s)
    }
}
impl From<i64> for FieldValue {
    fn from(n: i64) -> Self {
        FieldValue::Int(n)
    }
}
impl From<bool> for FieldValue {
    fn from(b: bool) -> Self {
        FieldValue::Bool(b)
    }
}

/// Errors opening or changing a record document.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not an Automerge document.
    #[error("not a readable record document: {0}")]
    Corrupt(String),
    /// The document has no valid `kind` or `project`.
    #[error("record has no valid envelope: {0}")]
    Envelope(String),
    /// The edit or new record is invalid; nothing was written.
    #[error("{}", validate::describe(.0))]
    Invalid(Vec<FieldError>),
}

/// A record: one Automerge document with Bothy's schema.
#[derive(Debug, Clone)]
pub struct RecordDoc {
    doc: AutoCommit,
}

/// The envelope every record carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// What kind of record this is.
    pub kind: RecordKind,
    /// The project it belongs to (a slug). Never changes.
    pub project: String,
    /// Device clock at creation, seconds since the Unix epoch (advisory: clocks lie).
    pub created: i64,
}

impl RecordDoc {
    /// Creates a record of `kind` in `project` with `fields` (paths as in [`Editor::set`]),
    /// authored by `actor` at device time `now` (Unix seconds). Refuses invalid input, naming
    /// every bad field.
    pub fn create(
        actor: ActorId,
        kind: RecordKind,
        project: &str,
        fields: &[(&str, FieldValue)],
        now: i64,
    ) -> Result<Self, RecordError> {
        if let Err(e) = validate::check_project_slug(project) {
            return Err(RecordError::Invalid(vec![e]));
        }
        let mut doc = AutoCommit::new().with_actor(actor);
        let root = ObjId::Root;
        let put = |doc: &mut AutoCommit, k: &str, v: ScalarValue| {
            doc.put(&root, k, v)
                .map_err(|e| RecordError::Corrupt(e.to_string()))
        };
        put(&mut doc, "kind", kind.as_str().into())?;
        put(&mut doc, "project", project.into())?;
        put(&mut doc, "v", ScalarValue::Int(SCHEMA_VERSION))?;
        put(&mut doc, "created", ScalarValue::Int(now))?;
        for field in schema::fields(kind) {
            let ty = match field.ty {
                FieldType::Text => ObjType::Text,
                FieldType::Map(_) | FieldType::Set => ObjType::Map,
                _ => continue,
            };
            doc.put_object(&root, field.name, ty)
                .map_err(|e| RecordError::Corrupt(e.to_string()))?;
        }
        let mut rec = RecordDoc { doc };
        {
            let mut ed = Editor {
                doc: &mut rec.doc,
                kind,
                errors: Vec::new(),
            };
            for (path, value) in fields {
                ed.set(path, value.clone());
            }
            if !ed.errors.is_empty() {
                return Err(RecordError::Invalid(ed.errors));
            }
        }
        let errors = rec.validate();
        if !errors.is_empty() {
            return Err(RecordError::Invalid(errors));
        }
        rec.doc.commit_with(CommitOptions::default().with_time(now));
        Ok(rec)
    }

    /// Opens a stored document, writing future changes as `actor`.
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<Self, RecordError> {
        let doc = AutoCommit::load(bytes).map_err(|e| RecordError::Corrupt(e.to_string()))?;
        Ok(RecordDoc {
            doc: doc.with_actor(actor),
        })
    }

    /// Wraps an Automerge document (which may not be a valid record yet).
    pub fn from_automerge(doc: AutoCommit) -> Self {
        RecordDoc { doc }
    }

    /// An empty document, to which changes will be applied.
    pub fn empty(actor: ActorId) -> Self {
        RecordDoc {
            doc: AutoCommit::new().with_actor(actor),
        }
    }

    /// The underlying Automerge document.
    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// The underlying Automerge document, read-only.
    pub fn automerge_ref(&self) -> &AutoCommit {
        &self.doc
    }

    /// Saves the whole document (compacted).
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The document's current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The underlying Automerge document, taken out of the record.
    pub fn into_automerge(self) -> AutoCommit {
        self.doc
    }

    /// The envelope, or why it is missing or malformed.
    pub fn envelope(&self) -> Result<Envelope, RecordError> {
        envelope_of(&self.doc)
    }

    /// Checks the whole record against its schema. Empty means valid.
    pub fn validate(&self) -> Vec<FieldError> {
        validate::validate(&self.doc)
    }

    /// Applies `edits` as one change authored at device time `now`. If the edit leaves any
    /// field invalid that was valid before, nothing is written and the errors name the fields.
    /// Returns the new change's hash, or `None` if nothing changed.
    pub fn edit(
        &mut self,
        now: i64,
        edits: impl FnOnce(&mut Editor<'_>),
    ) -> Result<Option<ChangeHash>, RecordError> {
        let kind = self.envelope()?.kind;
        let before: BTreeSet<FieldError> = self.validate().into_iter().collect();
        let mut ed = Editor {
            doc: &mut self.doc,
            kind,
            errors: Vec::new(),
        };
        edits(&mut ed);
        let mut errors = std::mem::take(&mut ed.errors);
        errors.extend(self.validate().into_iter().filter(|e| !before.contains(e)));
        if !errors.is_empty() {
            self.doc.rollback();
            return Err(RecordError::Invalid(errors));
        }
        Ok(self
            .doc
            .commit_with(CommitOptions::default().with_time(now)))
    }

    /// The current value of every top-level field of the record's kind that holds one plain
    /// value (text, a choice, a date, a number, true or false, a record id), by field name, in
    /// schema order; absent fields and values of the wrong type are left out. Layers that treat
    /// fields alike (projections, exports, forms) read fields through this, so a new field of
    /// the schema reaches them without code of its own.
    pub fn scalars(&self) -> Vec<(&'static str, FieldValue)> {
        let Ok(env) = self.envelope() else {
            return Vec::new();
        };
        let d = &self.doc;
        let r = ObjId::Root;
        crate::schema::fields(env.kind)
            .iter()
            .filter_map(|field| {
                let (value, _) = d.get(&r, field.name).ok().flatten()?;
                let value = match field.ty {
                    FieldType::Int { .. } => FieldValue::Int(scalar_int(&value)?),
                    FieldType::Bool => match value {
                        Value::Scalar(s) => match s.as_ref() {
                            ScalarValue::Boolean(b) => FieldValue::Bool(*b),
                            _ => return None,
                        },
                        _ => return None,
                    },
                    FieldType::Str { .. }
                    | FieldType::Choice(_)
                    | FieldType::Date
                    | FieldType::DateTime
                    | FieldType::RecordRef => FieldValue::Str(scalar_str(&value)?),
                    FieldType::Text | FieldType::Map(_) | FieldType::Set => return None,
                };
                Some((field.name, value))
            })
            .collect()
    }

    /// A typed, best-effort view of the record's current values (invalid values read as absent).
    pub fn view(&self) -> Result<RecordView, RecordError> {
        let env = self.envelope()?;
        let d = &self.doc;
        let r = ObjId::Root;
        let s = |k: &str| str_at(d, &r, k);
        let data = match env.kind {
            RecordKind::Participant => {
                let consent = map_obj(d, &r, "consent");
                let referral = map_obj(d, &r, "referral");
                let cs = |k: &str| consent.as_ref().and_then(|o| str_at(d, o, k));
                let cb = |k: &str| consent.as_ref().and_then(|o| bool_at(d, o, k));
                let rs = |k: &str| referral.as_ref().and_then(|o| str_at(d, o, k));
                RecordData::Participant(Participant {
                    code: s("code").unwrap_or_default(),
                    consent_data_use: cb("data_use").unwrap_or(false),
                    consent_story_sharing: cb("story_sharing").unwrap_or(false),
                    consent_contact: cb("contact").unwrap_or(false),
                    consent_date: cs("date"),
                    consent_version: cs("version"),
                    age_band: s("age_band"),
                    gender: s("gender"),
                    ethnic_group: s("ethnic_group"),
                    imd_decile: int_at(d, &r, "imd_decile"),
                    rurality: s("rurality"),
                    referral_source: rs("source"),
                    referral_date: rs("date"),
                    referral_reason: rs("reason"),
                    more: BTreeMap::new(),
                })
            }
            RecordKind::Contact => RecordData::Contact(Contact {
                participant: s("participant").unwrap_or_default(),
                name: s("name"),
                phone: s("phone"),
                postcode_district: s("postcode_district"),
                notes: s("notes"),
                more: BTreeMap::new(),
            }),
            RecordKind::Session => RecordData::Session(Session {
                site: s("site").unwrap_or_default(),
                activity: s("activity").unwrap_or_default(),
                activity_type: s("activity_type").unwrap_or_default(),
                start: s("start").unwrap_or_default(),
                end: s("end"),
                facilitators: set_at(d, &r, "facilitators"),
                location: s("location"),
                attendance: map_obj(d, &r, "attendance")
                    .map(|o| {
                        map_entries(d, &o)
                            .into_iter()
                            .filter_map(|(k, v)| Some((k, scalar_str(&v)?)))
                            .collect()
                    })
                    .unwrap_or_default(),
                unregistered_attendees: int_at(d, &r, "unregistered_attendees").unwrap_or(0),
                notes: text_at(d, &r, "notes").unwrap_or_default(),
                more: BTreeMap::new(),
            }),
            RecordKind::Wellbeing => RecordData::Wellbeing(Wellbeing {
                participant: s("participant").unwrap_or_default(),
                instrument: s("instrument").unwrap_or_default(),
                instrument_version: int_at(d, &r, "instrument_version")
                    .and_then(|v| u32::try_from(v).ok()),
                timepoint: s("timepoint").unwrap_or_default(),
                date: s("date").unwrap_or_default(),
                session: s("session"),
                items: map_obj(d, &r, "items")
                    .map(|o| {
                        map_entries(d, &o)
                            .into_iter()
                            .filter_map(|(k, v)| Some((k.parse().ok()?, scalar_int(&v)?)))
                            .collect()
                    })
                    .unwrap_or_default(),
                more: BTreeMap::new(),
            }),
            RecordKind::Story => RecordData::Story(Story {
                title: s("title").unwrap_or_default(),
                body: text_at(d, &r, "body").unwrap_or_default(),
                participant: s("participant"),
                author: s("author").unwrap_or_default(),
                consent_scope: s("consent_scope").unwrap_or_default(),
                themes: set_at(d, &r, "themes"),
                session: s("session"),
                language: s("language"),
                more: BTreeMap::new(),
            }),
        };
        let mut data = data;
        let more = self.more_than(&data);
        match &mut data {
            RecordData::Participant(p) => p.more = more,
            RecordData::Contact(c) => c.more = more,
            RecordData::Session(x) => x.more = more,
            RecordData::Wellbeing(w) => w.more = more,
            RecordData::Story(x) => x.more = more,
        }
        Ok(RecordView {
            kind: env.kind,
            project: env.project,
            created: env.created,
            data,
        })
    }

    /// The plain fields a typed view does not name (its JSON has no such key).
    fn more_than(&self, data: &RecordData) -> BTreeMap<String, FieldValue> {
        let named = serde_json::to_value(data).unwrap_or_default();
        self.scalars()
            .into_iter()
            .filter(|(name, _)| named.get(name).is_none())
            .map(|(name, v)| (name.to_owned(), v))
            .collect()
    }
}

/// Writes fields of one record inside [`RecordDoc::edit`] or [`RecordDoc::create`].
///
/// Paths name a top-level field (`end`, `notes`) or a key inside a map field
/// (`attendance.<participant id>`, `items.3`, `consent.date`). Type errors are collected and
/// reported when the edit finishes.
pub struct Editor<'a> {
    doc: &'a mut AutoCommit,
    kind: RecordKind,
    errors: Vec<FieldError>,
}

impl Editor<'_> {
    fn resolve(&mut self, path: &str) -> Option<(ObjId, String, FieldType)> {
        let (top, sub) = match path.split_once('.') {
            Some((t, s)) => (t, Some(s)),
            None => (path, None),
        };
        let Some(field) = schema::field(self.kind, top) else {
            self.errors.push(FieldError::new(
                path,
                format!("no such field on a {} record", self.kind),
            ));
            return None;
        };
        match (sub, field.ty) {
            (None, FieldType::Map(_)) | (None, FieldType::Set) => {
                self.errors.push(FieldError::new(
                    path,
                    "is a group of values: name one entry, e.g. `field.key`",
                ));
                None
            }
            (None, ty) => Some((ObjId::Root, top.to_owned(), ty)),
            (Some(key), FieldType::Map(spec)) => {
                let Some(obj) = map_obj(self.doc, &ObjId::Root, top) else {
                    self.errors.push(FieldError::new(
                        path,
                        format!("`{top}` is missing from the record"),
                    ));
                    return None;
                };
                let ty = match spec {
                    MapSpec::Fields(inner) => match inner.iter().find(|f| f.name == key) {
                        Some(Field { ty, .. }) => *ty,
                        None => {
                            self.errors
                                .push(FieldError::new(path, format!("no such field in `{top}`")));
                            return None;
                        }
                    },
                    MapSpec::Attendance => FieldType::Choice(schema::ATTENDANCE_MARKS),
                    MapSpec::Items => FieldType::Int { min: 0, max: 10 },
                };
                Some((obj, key.to_owned(), ty))
            }
            (Some(key), FieldType::Set) => {
                let Some(obj) = map_obj(self.doc, &ObjId::Root, top) else {
                    self.errors.push(FieldError::new(
                        path,
                        format!("`{top}` is missing from the record"),
                    ));
                    return None;
                };
                Some((obj, key.to_owned(), FieldType::Bool))
            }
            (Some(_), _) => {
                self.errors.push(FieldError::new(
                    path,
                    format!("`{top}` has no entries; set it directly"),
                ));
                None
            }
        }
    }

    /// Sets a field (or map entry) to a value. Text fields take their whole new content and
    /// are updated by a character diff, so concurrent edits elsewhere in the text survive.
    pub fn set(&mut self, path: &str, value: impl Into<FieldValue>) {
        let value = value.into();
        let Some((obj, key, ty)) = self.resolve(path) else {
            return;
        };
        let res = match (ty, value) {
            (FieldType::Text, FieldValue::Str(s)) => match self.doc.get(&obj, key.as_str()) {
                Ok(Some((Value::Object(ObjType::Text), text))) => self.doc.update_text(&text, s),
                _ => {
                    self.errors.push(FieldError::new(
                        path,
                        "text field is missing from the record",
                    ));
                    return;
                }
            },
            (FieldType::Text, other) => {
                self.errors.push(FieldError::new(
                    path,
                    format!("must be text, got {}", describe_value(&other)),
                ));
                return;
            }
            (FieldType::Set, _) => unreachable!("sets are resolved to their entries"),
            (_, FieldValue::Str(s)) => self.doc.put(&obj, key.as_str(), s),
            (_, FieldValue::Int(n)) => self.doc.put(&obj, key.as_str(), n),
            (_, FieldValue::Bool(b)) => self.doc.put(&obj, key.as_str(), b),
        };
        if let Err(e) = res {
            self.errors.push(FieldError::new(path, e.to_string()));
        }
    }

    /// Removes a field's value, or one entry of a map or set.
    pub fn clear(&mut self, path: &str) {
        let Some((obj, key, ty)) = self.resolve(path) else {
            return;
        };
        if ty == FieldType::Text {
            self.set(path, "");
            return;
        }
        if let Err(e) = self.doc.delete(&obj, key.as_str()) {
            self.errors.push(FieldError::new(path, e.to_string()));
        }
    }

    /// Adds a word to a set field (`themes`, `facilitators`).
    pub fn add(&mut self, set: &str, word: &str) {
        self.set(&format!("{set}.{word}"), true);
    }

    /// Removes a word from a set field.
    pub fn remove(&mut self, set: &str, word: &str) {
        self.clear(&format!("{set}.{word}"));
    }
}

/// A typed view of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    /// The record's kind.
    pub kind: RecordKind,
    /// Its project.
    pub project: String,
    /// Device clock at creation (Unix seconds).
    pub created: i64,
    /// The kind's fields.
    pub data: RecordData,
}

/// The fields of one record kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordData {
    /// A participant.
    Participant(Participant),
    /// A participant's contact details.
    Contact(Contact),
    /// A session with attendance.
    Session(Session),
    /// A wellbeing response.
    Wellbeing(Wellbeing),
    /// A story.
    Story(Story),
}

/// A participant (pseudonymous: their direct identifiers are in a [`Contact`] record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Participant {
    pub code: String,
    pub consent_data_use: bool,
    pub consent_story_sharing: bool,
    pub consent_contact: bool,
    pub consent_date: Option<String>,
    pub consent_version: Option<String>,
    pub age_band: Option<String>,
    pub gender: Option<String>,
    pub ethnic_group: Option<String>,
    pub imd_decile: Option<i64>,
    pub rurality: Option<String>,
    pub referral_source: Option<String>,
    pub referral_date: Option<String>,
    pub referral_reason: Option<String>,
    /// Plain fields of the schema this struct does not name (see [`RecordDoc::scalars`]), by
    /// name: a field added to the schema appears here, and in the record's JSON, with no code
    /// of its own.
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub more: BTreeMap<String, FieldValue>,
}

/// A participant's direct identifiers (never shown to analysts; sent only to the roles that may
/// see them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Contact {
    /// The participant record these details belong to.
    pub participant: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub postcode_district: Option<String>,
    pub notes: Option<String>,
    /// Plain fields of the schema this struct does not name (see [`Participant::more`]).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub more: BTreeMap<String, FieldValue>,
}

/// A session of an activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Session {
    pub site: String,
    pub activity: String,
    pub activity_type: String,
    pub start: String,
    pub end: Option<String>,
    pub facilitators: BTreeSet<String>,
    pub location: Option<String>,
    /// Participant id to `present`, `absent` or `left_early`.
    pub attendance: BTreeMap<String, String>,
    pub unregistered_attendees: i64,
    pub notes: String,
    /// Plain fields of the schema this struct does not name (see [`RecordDoc::scalars`]), by
    /// name: a field added to the schema appears here, and in the record's JSON, with no code
    /// of its own.
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub more: BTreeMap<String, FieldValue>,
}

/// A wellbeing questionnaire response. Scores are derived: see [`Wellbeing::score`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Wellbeing {
    pub participant: String,
    pub instrument: String,
    /// The version of a project's own definition (absent: 1; built-ins have only 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument_version: Option<u32>,
    pub timepoint: String,
    pub date: String,
    pub session: Option<String>,
    /// Item number to answer.
    pub items: BTreeMap<u8, i64>,
    /// Plain fields of the schema this struct does not name (see [`RecordDoc::scalars`]), by
    /// name: a field added to the schema appears here, and in the record's JSON, with no code
    /// of its own.
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub more: BTreeMap<String, FieldValue>,
}

impl Wellbeing {
    /// The definition the response was made with: a built-in, or `project`'s own (as this
    /// process knows them, see [`crate::instrument::lookup`]).
    pub fn definition(
        &self,
        project: &str,
    ) -> Option<std::sync::Arc<crate::instrument::Definition>> {
        crate::instrument::lookup(project, &self.instrument, self.instrument_version)
    }

    /// The derived score (or why there is none) of a response of a built-in instrument; see
    /// [`Wellbeing::score_in`] for a project's own.
    pub fn score(&self) -> crate::scoring::Score {
        self.score_in("")
    }

    /// The derived score (or why there is none) of a response in `project`.
    pub fn score_in(&self, project: &str) -> crate::scoring::Score {
        if let Some(i) = crate::scoring::Instrument::parse(&self.instrument) {
            return crate::scoring::score(i, &self.items);
        }
        match self.definition(project) {
            Some(def) => {
                crate::scoring::Score::from_scored(crate::instrument::score(&def, &self.items))
            }
            None => crate::scoring::Score::Incomplete {
                missing: Vec::new(),
                reason: format!(
                    "`{}` version {} is not an instrument this server knows for project {project}",
                    self.instrument,
                    self.instrument_version.unwrap_or(1)
                ),
            },
        }
    }
}

/// A story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Story {
    pub title: String,
    pub body: String,
    pub participant: Option<String>,
    pub author: String,
    pub consent_scope: String,
    pub themes: BTreeSet<String>,
    pub session: Option<String>,
    pub language: Option<String>,
    /// Plain fields of the schema this struct does not name (see [`RecordDoc::scalars`]), by
    /// name: a field added to the schema appears here, and in the record's JSON, with no code
    /// of its own.
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub more: BTreeMap<String, FieldValue>,
}

// ---- small readers shared with validation and merging ----

pub(crate) fn scalar_str(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn scalar_int(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Int(n) => Some(*n),
            ScalarValue::Uint(n) => i64::try_from(*n).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// The current (winning) value of every key of a map object.
pub(crate) fn map_entries<'a>(d: &'a impl ReadDoc, obj: &ObjId) -> Vec<(String, Value<'a>)> {
    d.keys(obj)
        .filter_map(|k| {
            let (v, _) = d.get(obj, k.as_str()).ok().flatten()?;
            Some((k, v))
        })
        .collect()
}

pub(crate) fn str_at(d: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<String> {
    d.get(obj, key)
        .ok()
        .flatten()
        .and_then(|(v, _)| scalar_str(&v))
}

pub(crate) fn int_at(d: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<i64> {
    d.get(obj, key)
        .ok()
        .flatten()
        .and_then(|(v, _)| scalar_int(&v))
}

fn bool_at(d: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<bool> {
    match d.get(obj, key).ok().flatten() {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Boolean(b) => Some(*b),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn map_obj(d: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<ObjId> {
    match d.get(obj, key).ok().flatten() {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    }
}

fn text_at(d: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<String> {
    match d.get(obj, key).ok().flatten() {
        Some((Value::Object(ObjType::Text), id)) => d.text(&id).ok(),
        _ => None,
    }
}

fn set_at(d: &impl ReadDoc, obj: &ObjId, key: &str) -> BTreeSet<String> {
    map_obj(d, obj, key)
        .map(|o| {
            map_entries(d, &o)
                .into_iter()
                .filter(|(_, v)| matches!(v, Value::Scalar(s) if matches!(s.as_ref(), ScalarValue::Boolean(true))))
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default()
}

fn describe_value(v: &FieldValue) -> String {
    match v {
        FieldValue::Bool(b) => format!("true/false ({b})"),
        FieldValue::Int(n) => format!("a number ({n})"),
        FieldValue::Str(s) => format!("text ({s:?})"),
    }
}

/// The envelope of a record's document, or why it is missing or malformed (read in place: a
/// merge checks it without wrapping the document in a [`RecordDoc`]).
pub fn envelope_of(doc: &impl ReadDoc) -> Result<Envelope, RecordError> {
    let kind = str_at(doc, &ObjId::Root, "kind")
        .and_then(|k| RecordKind::parse(&k))
        .ok_or_else(|| RecordError::Envelope("missing or unknown `kind`".into()))?;
    let project = str_at(doc, &ObjId::Root, "project")
        .ok_or_else(|| RecordError::Envelope("missing `project`".into()))?;
    let created = int_at(doc, &ObjId::Root, "created").unwrap_or(0);
    Ok(Envelope {
        kind,
        project,
        created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_shown_as_text_are_typed_for_their_field() {
        let parse = FieldValue::parse_for;
        assert_eq!(
            parse(RecordKind::Wellbeing, "items.3", "4"),
            FieldValue::Int(4)
        );
        assert_eq!(
            parse(RecordKind::Participant, "imd_decile", " 7 "),
            FieldValue::Int(7)
        );
        assert_eq!(
            parse(RecordKind::Participant, "consent.data_use", "true"),
            FieldValue::Bool(true)
        );
        assert_eq!(
            parse(RecordKind::Session, "end", "2026-11-01T12:00:00Z"),
            FieldValue::Str("2026-11-01T12:00:00Z".into())
        );
        assert_eq!(
            parse(RecordKind::Session, "attendance.x", "present"),
            FieldValue::Str("present".into())
        );
        // Text that does not fit stays text, so the edit is refused naming the field.
        assert_eq!(
            parse(RecordKind::Wellbeing, "items.3", "four"),
            FieldValue::Str("four".into())
        );
    }
}
