//! Participants in the format before contact records: their direct identifiers (`identifiers`:
//! `name`, `phone`; and `postcode_district`) sat in the participant's own document, so every
//! device that held the participant held them, history and all.
//!
//! A server moves them out by writing two new documents from the old one's current values: the
//! participant without them (same id, new history) and a [`RecordKind::Contact`] record holding
//! them. The old document is kept on the server only. A device that still holds the old document
//! deletes it and takes the new one ([`crate::protocol::SyncResponse::replaced`]); changes it
//! made to the old one, pushed later, are carried over as edits of the new ones
//! ([`changed_values`]).

use crate::record::{FieldValue, RecordDoc, RecordError, map_obj, str_at};
use crate::schema::{self, FieldType, MapSpec, RecordKind};
use automerge::{ActorId, ObjId, ReadDoc, ScalarValue, Value};
use std::collections::BTreeMap;

/// Paths of the old format's identifiers, and the contact field each moves to.
const MOVED: [(&str, &str); 3] = [
    ("identifiers.name", "name"),
    ("identifiers.phone", "phone"),
    ("postcode_district", "postcode_district"),
];

/// Whether a participant document is in the old format (holds identifiers of its own).
pub fn is_legacy(doc: &RecordDoc) -> bool {
    let d = doc.automerge_ref();
    let participant = str_at(d, &ObjId::Root, "kind").as_deref() == Some("participant");
    participant
        && (d.get(ObjId::Root, "identifiers").ok().flatten().is_some()
            || d.get(ObjId::Root, "postcode_district")
                .ok()
                .flatten()
                .is_some())
}

/// Every value an old-format participant holds, by path: the participant's own fields as in
/// [`crate::Editor::set`] (`code`, `consent.date`...) and its identifiers under `contact.`
/// (`contact.name`, `contact.phone`, `contact.postcode_district`).
pub fn legacy_values(doc: &RecordDoc) -> BTreeMap<String, FieldValue> {
    let d = doc.automerge_ref();
    let mut out = BTreeMap::new();
    for field in schema::fields(RecordKind::Participant) {
        match field.ty {
            FieldType::Map(MapSpec::Fields(inner)) => {
                let Some(obj) = map_obj(d, &ObjId::Root, field.name) else {
                    continue;
                };
                for f in inner.iter() {
                    if let Some(v) = value_at(d, &obj, f.name) {
                        out.insert(format!("{}.{}", field.name, f.name), v);
                    }
                }
            }
            FieldType::Text | FieldType::Set | FieldType::Map(_) => {}
            _ => {
                if let Some(v) = value_at(d, &ObjId::Root, field.name) {
                    out.insert(field.name.to_owned(), v);
                }
            }
        }
    }
    let ids = map_obj(d, &ObjId::Root, "identifiers");
    for (from, to) in MOVED {
        let value = match from.split_once('.') {
            Some((_, key)) => ids.as_ref().and_then(|o| value_at(d, o, key)),
            None => value_at(d, &ObjId::Root, from),
        };
        if let Some(FieldValue::Str(s)) = value
            && !s.trim().is_empty()
        {
            out.insert(format!("contact.{to}"), FieldValue::Str(s));
        }
    }
    out
}

/// One plain value of a map: text, a whole number or true/false.
fn value_at(d: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<FieldValue> {
    match d.get(obj, key).ok().flatten()?.0 {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(t) => Some(FieldValue::Str(t.to_string())),
            ScalarValue::Int(i) => Some(FieldValue::Int(*i)),
            ScalarValue::Uint(u) => i64::try_from(*u).ok().map(FieldValue::Int),
            ScalarValue::Boolean(b) => Some(FieldValue::Bool(*b)),
            _ => None,
        },
        Value::Object(_) => None,
    }
}

/// The values that changed from `before` to `after` (`None`: the value was removed).
pub fn changed_values(
    before: &BTreeMap<String, FieldValue>,
    after: &BTreeMap<String, FieldValue>,
) -> BTreeMap<String, Option<FieldValue>> {
    let mut out = BTreeMap::new();
    for (path, value) in after {
        if before.get(path) != Some(value) {
            out.insert(path.clone(), Some(value.clone()));
        }
    }
    for path in before.keys() {
        if !after.contains_key(path) {
            out.insert(path.clone(), None);
        }
    }
    out
}

/// The two documents an old-format participant becomes.
pub struct Split {
    /// The participant, without identifiers.
    pub participant: RecordDoc,
    /// Its contact record, if it had any identifiers: its fields as [`Split::contact_fields`].
    pub contact: Option<RecordDoc>,
}

/// Writes an old-format participant as new documents authored by `actor`: the participant
/// (same envelope) and, if it held identifiers, a contact record naming `participant_id`.
/// Values the current schema refuses are left out rather than failing the whole record.
pub fn split(old: &RecordDoc, participant_id: &str, actor: ActorId) -> Result<Split, RecordError> {
    let env = old.envelope()?;
    let values = legacy_values(old);
    let (contact, own): (Vec<_>, Vec<_>) = values
        .into_iter()
        .partition(|(path, _)| path.starts_with("contact."));
    let participant = create_leniently(
        actor.clone(),
        RecordKind::Participant,
        &env.project,
        own,
        env.created,
    )?;
    let contact = if contact.is_empty() {
        None
    } else {
        let mut fields: Vec<(String, FieldValue)> = contact
            .into_iter()
            .map(|(path, v)| (path["contact.".len()..].to_owned(), v))
            .collect();
        fields.push(("participant".into(), participant_id.into()));
        Some(create_leniently(
            actor,
            RecordKind::Contact,
            &env.project,
            fields,
            env.created,
        )?)
    };
    Ok(Split {
        participant,
        contact,
    })
}

/// [`RecordDoc::create`], dropping the fields it names as invalid (once).
fn create_leniently(
    actor: ActorId,
    kind: RecordKind,
    project: &str,
    mut fields: Vec<(String, FieldValue)>,
    created: i64,
) -> Result<RecordDoc, RecordError> {
    let attempt = |fields: &[(String, FieldValue)]| {
        let borrowed: Vec<(&str, FieldValue)> = fields
            .iter()
            .map(|(p, v)| (p.as_str(), v.clone()))
            .collect();
        RecordDoc::create(actor.clone(), kind, project, &borrowed, created)
    };
    match attempt(&fields) {
        Err(RecordError::Invalid(errors)) => {
            fields.retain(|(path, _)| !errors.iter().any(|e| e.field == *path));
            attempt(&fields)
        }
        other => other,
    }
}
