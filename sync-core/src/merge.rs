//! The merge logic the server and devices share: taking in another replica's changes to a
//! record, deciding what to do with them, and finding true conflicts.
//!
//! Automerge cannot take a change back out of a history, so refusing a change that the sending
//! device keeps would stop the two replicas from ever converging again. The rules:
//!
//! * **Refused**: changes the sender may not make at all (under an actor that is not the
//!   sender's, changing a record's immutable `kind`/`project`/`v`/`created`, undecodable, or a
//!   new record that cannot be made valid) never enter the record's history. The caller keeps
//!   them outside the history (quarantine) and tells the device, which sets its copy aside.
//! * **Compensated**: a change the sender may make but that leaves a field invalid *as the
//!   sender saw the record* is accepted into the history, so every replica converges, and then
//!   neutralised by a compensating change authored by the server that restores the field's last
//!   valid value (or removes it). The original values are reported for review.
//! * **Flagged**: two valid changes that merge into an invalid record (one device moves a
//!   session's start later, another its end earlier) are both kept; the record is flagged for
//!   review, not rejected.

use crate::record::{RecordDoc, map_obj};
use crate::schema::ENVELOPE_FIELDS;
use crate::validate::{FieldError, validate};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Who may author the incoming changes, and who authors compensations.
#[derive(Debug, Clone)]
pub struct MergePolicy {
    /// The only actor the sender may author new changes under.
    pub sender_actor: ActorId,
    /// The actor the server writes compensating changes as.
    pub compensating_actor: ActorId,
    /// Now, in Unix seconds, for the compensating change's timestamp.
    pub now: i64,
}

/// Why changes were refused outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// The bytes are not Automerge changes.
    Malformed,
    /// A change was authored under an actor that is not the sender's.
    ForeignActor,
    /// A change alters `kind`, `project`, `v` or `created`.
    ImmutableField,
    /// A new record that is not a valid record even after removing its invalid values.
    InvalidRecord,
    /// The sender may not write this record (decided by the caller, e.g. project scope).
    NotAllowed,
}

impl RefusalCode {
    /// The code as it appears on the wire and in the quarantine table.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::Malformed => "malformed",
            RefusalCode::ForeignActor => "foreign_actor",
            RefusalCode::ImmutableField => "immutable_field",
            RefusalCode::InvalidRecord => "invalid_record",
            RefusalCode::NotAllowed => "not_allowed",
        }
    }
}

/// A value that was taken out of a record by a compensating change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedValue {
    /// The field path.
    pub field: String,
    /// The value as the sender wrote it, for display.
    pub value: String,
    /// Why it is invalid.
    pub message: String,
}

/// A record after incoming changes were accepted.
#[derive(Debug)]
pub struct Accepted {
    /// The merged record (including any compensation).
    pub doc: RecordDoc,
    /// The incoming changes that were new to this replica, in application order.
    pub new_changes: Vec<Change>,
    /// The compensating change authored here, if any value had to be neutralised.
    pub compensation: Option<Change>,
    /// Values neutralised by the compensation.
    pub quarantined: Vec<QuarantinedValue>,
    /// Problems of the merged record that no single change caused: it needs review.
    pub flagged: Vec<FieldError>,
    /// True if this replica did not have the record before.
    pub created: bool,
}

/// The outcome of [`merge_incoming`].
#[derive(Debug)]
pub enum Verdict {
    /// Every incoming change was already here.
    AlreadyHave,
    /// New changes were merged.
    Accepted(Box<Accepted>),
    /// The changes were refused; the record is unchanged.
    Refused {
        /// Machine-readable reason.
        code: RefusalCode,
        /// Human-readable reason.
        message: String,
    },
    /// Changes depend on changes this replica lacks: the sender must send the record's whole
    /// history.
    MissingDependencies(Vec<ChangeHash>),
}

fn refuse(code: RefusalCode, message: impl Into<String>) -> Verdict {
    Verdict::Refused {
        code,
        message: message.into(),
    }
}

/// Decodes raw change bytes.
pub fn decode_changes(raw: &[impl AsRef<[u8]>]) -> Result<Vec<Change>, String> {
    raw.iter()
        .enumerate()
        .map(|(i, b)| {
            Change::from_bytes(b.as_ref().to_vec())
                .map_err(|e| format!("change {i} is not an Automerge change: {e}"))
        })
        .collect()
}

/// Merges a sender's changes into a stored record (`None` if this replica has no such record),
/// applying the rules in the module documentation.
pub fn merge_incoming(
    stored: Option<RecordDoc>,
    raw: &[impl AsRef<[u8]>],
    policy: &MergePolicy,
) -> Verdict {
    let changes = match decode_changes(raw) {
        Ok(c) => c,
        Err(e) => return refuse(RefusalCode::Malformed, e),
    };
    let created = stored.is_none();
    let mut before = match stored {
        Some(d) => d.automerge_ref().clone(),
        None => AutoCommit::new(),
    };
    before.set_actor(policy.compensating_actor.clone());

    let mut seen = BTreeSet::new();
    let new: Vec<Change> = changes
        .into_iter()
        .filter(|c| before.get_change_by_hash(&c.hash()).is_none() && seen.insert(c.hash()))
        .collect();
    if new.is_empty() {
        return Verdict::AlreadyHave;
    }
    if let Some(c) = new.iter().find(|c| c.actor_id() != &policy.sender_actor) {
        return refuse(
            RefusalCode::ForeignActor,
            format!(
                "change {} was authored by actor {}, which is not this device's",
                c.hash(),
                c.actor_id()
            ),
        );
    }

    let mut after = before.clone();
    if let Err(e) = after.apply_changes(new.clone()) {
        return refuse(
            RefusalCode::Malformed,
            format!("changes could not be applied: {e}"),
        );
    }
    let missing = after.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Verdict::MissingDependencies(missing);
    }

    // Immutable envelope: every value now present must equal the one before.
    if !created {
        for key in ENVELOPE_FIELDS {
            let old = before
                .get(ObjId::Root, *key)
                .ok()
                .flatten()
                .map(|(v, _)| display(&v));
            let now: Vec<String> = after
                .get_all(ObjId::Root, *key)
                .unwrap_or_default()
                .iter()
                .map(|(v, _)| display(v))
                .collect();
            if now.len() != 1 || Some(&now[0]) != old.as_ref() {
                return refuse(
                    RefusalCode::ImmutableField,
                    format!("`{key}` cannot be changed once a record exists"),
                );
            }
        }
    } else {
        let env = RecordDoc::from_automerge(after.clone()).envelope();
        if let Err(e) = env {
            return refuse(RefusalCode::InvalidRecord, e.to_string());
        }
        for key in ENVELOPE_FIELDS {
            if after
                .get_all(ObjId::Root, *key)
                .map(|v| v.len())
                .unwrap_or(0)
                > 1
            {
                return refuse(
                    RefusalCode::ImmutableField,
                    format!("`{key}` has two values"),
                );
            }
        }
    }

    // The record as the sender saw it: the heads of the incoming changes.
    let sender_heads = heads_of(&new);
    let view_errors = match after.fork_at(&sender_heads) {
        Ok(view) => {
            let errs = validate(&view);
            errs.into_iter()
                .map(|e| {
                    let value = value_at(&view, &e.field).unwrap_or_else(|| "(absent)".into());
                    (e, value)
                })
                .collect::<Vec<_>>()
        }
        Err(e) => {
            return refuse(
                RefusalCode::Malformed,
                format!("changes are inconsistent: {e}"),
            );
        }
    };
    let merged_errors = validate(&after);

    let sender_fault: BTreeSet<&str> = view_errors.iter().map(|(e, _)| e.field.as_str()).collect();
    let mut compensated = false;
    for e in &merged_errors {
        if sender_fault.contains(e.field.as_str()) {
            restore(&mut after, &before, &e.field);
            compensated = true;
        }
    }
    let compensation = if compensated {
        after
            .commit_with(CommitOptions::default().with_time(policy.now))
            .and_then(|h| after.get_change_by_hash(&h))
    } else {
        None
    };
    let flagged = validate(&after);
    if created && !flagged.is_empty() {
        return refuse(
            RefusalCode::InvalidRecord,
            format!(
                "the new record is not valid: {}",
                crate::validate::describe(&flagged)
            ),
        );
    }
    let quarantined = view_errors
        .into_iter()
        .map(|(e, value)| QuarantinedValue {
            field: e.field,
            value,
            message: e.message,
        })
        .collect();
    Verdict::Accepted(Box::new(Accepted {
        doc: RecordDoc::from_automerge(after),
        new_changes: new,
        compensation,
        quarantined,
        flagged,
        created,
    }))
}

/// Splits a field path into the object holding it and the key.
fn locate(d: &impl ReadDoc, path: &str) -> Option<(ObjId, String)> {
    match path.split_once('.') {
        None => Some((ObjId::Root, path.to_owned())),
        Some((top, key)) => map_obj(d, &ObjId::Root, top).map(|o| (o, key.to_owned())),
    }
}

/// The value at a field path, for display.
pub fn value_at(d: &impl ReadDoc, path: &str) -> Option<String> {
    let (obj, key) = locate(d, path)?;
    d.get(&obj, key.as_str())
        .ok()
        .flatten()
        .map(|(v, _)| display(&v))
}

/// Puts the value `before` had at `path` back into `after` (or removes it if `before` had none).
fn restore(after: &mut AutoCommit, before: &AutoCommit, path: &str) {
    let Some((obj, key)) = locate(after, path) else {
        return;
    };
    let old = locate(before, path).and_then(|(bobj, _)| {
        before
            .get(&bobj, key.as_str())
            .ok()
            .flatten()
            .map(|(v, id)| (v.to_owned(), id))
    });
    let _ = match old {
        Some((Value::Scalar(s), _)) => after.put(&obj, key.as_str(), s.into_owned()),
        Some((Value::Object(ObjType::Text), id)) => {
            let text = before.text(&id).unwrap_or_default();
            after
                .put_object(&obj, key.as_str(), ObjType::Text)
                .and_then(|t| after.update_text(&t, text))
        }
        Some((Value::Object(_), id)) => {
            let entries: Vec<(String, ScalarValue)> = before
                .keys(&id)
                .filter_map(|k| match before.get(&id, k.as_str()).ok().flatten() {
                    Some((Value::Scalar(s), _)) => Some((k, s.into_owned())),
                    _ => None,
                })
                .collect();
            after
                .put_object(&obj, key.as_str(), ObjType::Map)
                .and_then(|m| {
                    entries
                        .into_iter()
                        .try_for_each(|(k, v)| after.put(&m, k.as_str(), v))
                })
        }
        None => after.delete(&obj, key.as_str()),
    };
}

/// A value shown to people: scalars as text, objects by type.
pub fn display(v: &Value<'_>) -> String {
    match v {
        Value::Object(t) => format!("({t:?})").to_lowercase(),
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            ScalarValue::Null => "(null)".into(),
            other => other.to_string(),
        },
    }
}

/// One of the values a field holds in a true conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictValue {
    /// The value, for display.
    pub value: String,
    /// The actor (device) that wrote it, hex.
    pub actor: String,
    /// The device clock when it was written (Unix seconds; advisory).
    pub time: i64,
    /// Whether this is the value every replica shows until someone resolves the conflict.
    pub winner: bool,
}

/// A field set to different values concurrently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The field path (`attendance.<id>`, `items.3`, `end`...).
    pub field: String,
    /// Every concurrent value.
    pub values: Vec<ConflictValue>,
}

/// Every true conflict in a record: fields whose concurrent writes disagree.
pub fn conflicts(doc: &AutoCommit) -> Vec<Conflict> {
    let mut out = Vec::new();
    let visit = |obj: &ObjId, prefix: &str, out: &mut Vec<Conflict>| {
        for key in doc.keys(obj) {
            let all = doc.get_all(obj, key.as_str()).unwrap_or_default();
            if all.len() < 2 {
                continue;
            }
            let shown: BTreeSet<String> = all.iter().map(|(v, _)| display(v)).collect();
            if shown.len() < 2 {
                continue; // both wrote the same value: nothing to resolve
            }
            let winner = doc.get(obj, key.as_str()).ok().flatten().map(|(_, id)| id);
            let values = all
                .iter()
                .map(|(v, id)| {
                    let (actor, time) = match id {
                        ObjId::Id(_, actor, _) => {
                            let time = doc
                                .hash_for_opid(id)
                                .and_then(|h| doc.get_change_by_hash(&h))
                                .map(|c| c.timestamp())
                                .unwrap_or(0);
                            (actor.to_hex_string(), time)
                        }
                        ObjId::Root => (String::new(), 0),
                    };
                    ConflictValue {
                        value: display(v),
                        actor,
                        time,
                        winner: winner.as_ref() == Some(id),
                    }
                })
                .collect();
            out.push(Conflict {
                field: format!("{prefix}{key}"),
                values,
            });
        }
    };
    visit(&ObjId::Root, "", &mut out);
    for key in doc.keys(ObjId::Root) {
        if let Some(obj) = map_obj(doc, &ObjId::Root, &key) {
            visit(&obj, &format!("{key}."), &mut out);
        }
    }
    out
}

/// The hashes of a set of changes that no other change in the set depends on.
pub fn heads_of(changes: &[Change]) -> Vec<ChangeHash> {
    let deps: BTreeSet<ChangeHash> = changes
        .iter()
        .flat_map(|c| c.deps().iter().copied())
        .collect();
    changes
        .iter()
        .map(Change::hash)
        .filter(|h| !deps.contains(h))
        .collect()
}
