//! The merge logic the server and devices share: taking in another replica's changes to a
//! record, deciding what to do with them, and finding true conflicts.
//!
//! Automerge cannot take a change back out of a history, so refusing a change that the sending
//! device keeps would stop the two replicas from ever converging again. The rules:
//!
//! * **Refused**: changes the sender may not make at all (under an actor that is neither the
//!   sender's nor one it may relay ([`Relay`]), changing a record's immutable
//!   `kind`/`project`/`v`/`created`, undecodable, or a new record that cannot be made valid)
//!   never enter the record's history. The caller keeps
//!   them outside the history (quarantine) and tells the device, which sets its copy aside.
//! * **Compensated**: a change the sender may make but that leaves a field invalid *as the
//!   sender saw the record* is accepted into the history, so every replica converges, and then
//!   neutralised by a compensating change authored by the server that puts back the field's
//!   last valid value, or removes the field if it never had one. The last valid value is read
//!   from the history: the field's value in the latest state in which it was valid, stepping
//!   back from the sender's last change one change at a time (each state merged with what this
//!   replica held), and failing that, its value here before the sender's changes. So an answer
//!   given and then overwritten by a bad one in the same push keeps the answer given. The
//!   original values are reported for review. "As the sender saw it" is judged change by
//!   change, the way `RecordDoc::edit` judges an edit: a problem is
//!   the sender's if one of its changes introduced it into the state that change was made on. A
//!   problem the device merely received (a flagged record, a value the server already
//!   neutralised) is not blamed on its later, unrelated changes. A neutralised value is taken
//!   out even if it lost a conflict, so that it cannot resurface later.
//! * **Flagged**: two valid changes that merge into an invalid record (one device moves a
//!   session's start later, another its end earlier) are both kept; the record is flagged for
//!   review, not rejected.

use crate::record::{RecordDoc, map_obj, str_at};
use crate::schema::{ENVELOPE_FIELDS, RecordKind};
use crate::validate::{FieldError, cross_field, validate};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, AutomergeError, Change, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue,
    Value,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Who may author the incoming changes, and who authors compensations.
#[derive(Debug, Clone)]
pub struct MergePolicy {
    /// The only actor the sender may author new changes under.
    pub sender_actor: ActorId,
    /// The actor the server writes compensating changes as.
    pub compensating_actor: ActorId,
    /// Now, in Unix seconds, for the compensating change's timestamp.
    pub now: i64,
    /// Other authors whose changes the sender may relay.
    pub relay: Relay,
}

/// Whose changes, besides its own, a sender may relay: the authors it may vouch for
/// (docs/protocol.md, section 9.6). Every change keeps its author; relaying only decides whether
/// a change under another actor is accepted from this sender.
#[derive(Debug, Clone, Default)]
pub struct Relay {
    /// Actors the sender may always relay (its user's other devices: the same person's work).
    pub always: BTreeSet<ActorId>,
    /// Set while the sender reconciles with a server restored from a backup it had synced
    /// with: it may then relay any device's changes, known to the server or not (a device
    /// enrolled after the backup), and the server's own changes under these actors (the server
    /// actors of the superseded generations), never under any other server actor.
    pub reconciling: Option<BTreeSet<ActorId>>,
}

impl Relay {
    /// Whether a change authored by `actor` may be accepted from the sender (the sender's own
    /// actor is checked by the caller).
    pub fn allows(&self, actor: &ActorId) -> bool {
        if self.always.contains(actor) {
            return true;
        }
        match &self.reconciling {
            Some(servers) if crate::is_server_actor(actor) => servers.contains(actor),
            Some(_) => true,
            None => false,
        }
    }
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
    /// Values neutralised by the compensation (empty when there is none), each with the value
    /// the sender wrote and why it is invalid.
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

/// Every change of a saved document, as raw change bytes.
/// A document that would expand past [`crate::inflate::MAX_RECORD_BYTES`] is refused unloaded.
pub fn document_changes(document: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    crate::inflate::inflated_size(document, crate::inflate::MAX_RECORD_BYTES)
        .map_err(|e| format!("the document is not readable: {e}"))?;
    let mut doc =
        AutoCommit::load(document).map_err(|e| format!("the document is not readable: {e}"))?;
    Ok(doc
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect())
}

/// Decodes raw change bytes; changes that together would expand past
/// [`crate::inflate::MAX_RECORD_BYTES`] are refused undecoded.
pub fn decode_changes(raw: &[impl AsRef<[u8]>]) -> Result<Vec<Change>, String> {
    crate::inflate::check_all(raw, crate::inflate::MAX_RECORD_BYTES)?;
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
        Some(d) => d.into_automerge(),
        None => AutoCommit::new(),
    };
    before.set_actor(policy.compensating_actor.clone());

    let mut seen = BTreeSet::new();
    let new: Vec<Change> = changes
        .into_iter()
        .filter(|c| before.get_change_by_hash(&c.hash()).is_none() && seen.insert(c.hash()))
        .collect();
    if new.is_empty() {
        // Nothing new for a record this replica does not have: the sender believes it was
        // stored earlier (this replica may have been restored from a backup). Acknowledging
        // would lose it; ask for the whole history instead.
        if created {
            return Verdict::MissingDependencies(Vec::new());
        }
        return Verdict::AlreadyHave;
    }
    if let Some(c) = new
        .iter()
        .find(|c| c.actor_id() != &policy.sender_actor && !policy.relay.allows(c.actor_id()))
    {
        return refuse(
            RefusalCode::ForeignActor,
            format!(
                "change {} was authored by actor {}, which is not this device's nor one it may \
                 relay",
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
        if let Err(e) = crate::record::envelope_of(&after) {
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

    // The record as the sender saw it (the heads of its changes), and which of its problems
    // the sender's own changes introduced, judged change by change as `RecordDoc::edit` judges
    // an edit on a device. Problems the sender only received (a flag raised by two valid
    // changes, a value already neutralised here) are not its fault.
    let kind = str_at(&after, &ObjId::Root, "kind").and_then(|k| RecordKind::parse(&k));
    let sender_heads = heads_of(&new);
    let mut same_heads = sender_heads.clone();
    same_heads.sort_unstable();
    let mut after_heads = after.get_heads();
    after_heads.sort_unstable();
    // Usually the sender had everything this replica has: its view is the merged record, read
    // in place (rebuilding it with fork_at replays the history, and a copy is only needed to
    // look into faults, which are rare).
    let sender_saw_all = same_heads == after_heads;
    let inconsistent = |e: AutomergeError| {
        refuse(
            RefusalCode::Malformed,
            format!("changes are inconsistent: {e}"),
        )
    };
    let sender_view = if sender_saw_all {
        None
    } else {
        match after.fork_at(&sender_heads) {
            Ok(view) => Some(view),
            Err(e) => return inconsistent(e),
        }
    };
    let errors = validate(sender_view.as_ref().unwrap_or(&after));
    // Valid as merged: unless a value is put back below, no need to validate it again.
    let merged_valid = sender_saw_all && errors.is_empty();
    let mut faults = Vec::new();
    if !errors.is_empty() {
        let view = sender_view.unwrap_or_else(|| after.clone());
        let introduced = match introduced_by(&mut after, &new) {
            Ok(fields) => fields,
            Err(e) => return inconsistent(e),
        };
        for e in errors.into_iter().filter(|e| introduced.contains(&e.field)) {
            let mut fields = vec![e.field.clone()];
            if let Some(kind) = kind {
                fields.extend(cross_field(kind, &e.field).iter().map(|f| f.to_string()));
            }
            let values = fields
                .iter()
                .map(|f| value_at(&view, f).unwrap_or_else(|| "(absent)".into()))
                .collect::<Vec<_>>();
            faults.push((e, fields.into_iter().zip(values).collect::<Vec<_>>()));
        }
    }

    // Where each fault's fields get their last valid value from (read before any value is
    // put back: forking would commit the compensation half-made).
    let sources = match last_valid_states(
        &mut after,
        &mut before,
        &new,
        faults.iter().map(|(e, _)| e.field.as_str()),
    ) {
        Ok(s) => s,
        Err(e) => {
            return refuse(
                RefusalCode::Malformed,
                format!("changes are inconsistent: {e}"),
            );
        }
    };

    // Neutralise each fault where the sender's changes touched it: first the field itself,
    // then, if the record is still invalid there, the other fields its check reads (a start
    // moved past the end). A value is neutralised even when it lost a conflict, so it cannot
    // resurface when the winning value is later overwritten by a device that never saw it.
    let mut quarantined = Vec::new();
    let mut restored = BTreeSet::new();
    for pass in 0..2 {
        let still_invalid: BTreeSet<String> = if pass == 0 {
            BTreeSet::new()
        } else {
            validate(&after).into_iter().map(|e| e.field).collect()
        };
        for (e, fields) in &faults {
            if pass == 1 && !still_invalid.contains(&e.field) {
                continue;
            }
            let candidates = if pass == 0 {
                &fields[..1]
            } else {
                &fields[1..]
            };
            for (field, value) in candidates {
                if !restored.contains(field) && live_ops(&after, field) != live_ops(&before, field)
                {
                    restore(&mut after, sources.source(&e.field, &before), field);
                    restored.insert(field.clone());
                    quarantined.push(QuarantinedValue {
                        field: field.clone(),
                        value: value.clone(),
                        message: e.message.clone(),
                    });
                }
            }
        }
    }
    let compensation = after
        .commit_with(CommitOptions::default().with_time(policy.now))
        .and_then(|h| after.get_change_by_hash(&h));
    if compensation.is_none() {
        quarantined.clear(); // nothing was taken out after all
    }
    let flagged = if merged_valid && compensation.is_none() {
        Vec::new()
    } else {
        validate(&after)
    };
    if created && !flagged.is_empty() {
        // Say what was wrong with what was sent, not what taking it out left: a required field
        // that held the wrong type is reported as the wrong type, not as missing.
        let reasons: Vec<FieldError> = flagged
            .iter()
            .map(|f| {
                quarantined
                    .iter()
                    .find(|q| q.field == f.field)
                    .map_or_else(|| f.clone(), |q| FieldError::new(&q.field, &q.message))
            })
            .collect();
        return refuse(
            RefusalCode::InvalidRecord,
            format!(
                "the new record is not valid: {}",
                crate::validate::describe(&reasons)
            ),
        );
    }
    Verdict::Accepted(Box::new(Accepted {
        doc: RecordDoc::from_automerge(after),
        new_changes: new,
        compensation,
        quarantined,
        flagged,
        created,
    }))
}

/// The project a set of changes claims for a new record, read by replaying them on an empty
/// document; `None` if they do not say. For filing refused changes where people will look.
pub fn claimed_project(raw: &[impl AsRef<[u8]>]) -> Option<String> {
    let changes = decode_changes(raw).ok()?;
    let mut doc = AutoCommit::new();
    doc.apply_changes(changes).ok()?;
    crate::record::str_at(&doc, &ObjId::Root, "project")
}

/// Fields on which one of `changes` introduced a problem: an error present after the change
/// that was not present, with the same message, in the state the change was made on.
fn introduced_by(
    doc: &mut AutoCommit,
    changes: &[Change],
) -> Result<BTreeSet<String>, AutomergeError> {
    let mut fields = BTreeSet::new();
    for c in changes {
        let made_on: BTreeSet<FieldError> = if c.deps().is_empty() {
            BTreeSet::new()
        } else {
            validate(&doc.fork_at(c.deps())?).into_iter().collect()
        };
        let made = doc.fork_at(&[c.hash()])?;
        fields.extend(
            validate(&made)
                .into_iter()
                .filter(|e| !made_on.contains(e))
                .map(|e| e.field),
        );
    }
    Ok(fields)
}

/// Earlier states of a record, from which a compensation reads fields' last valid values.
struct LastValid {
    /// Each state some field's last valid value is read from.
    states: Vec<AutoCommit>,
    /// A field with a fault to its state in `states`.
    by_field: BTreeMap<String, usize>,
}

impl LastValid {
    /// The state to read the fields of a fault on `field` from: `before` (the record as this
    /// replica held it) when no state of the sender's made `field` valid.
    fn source<'a>(&'a self, field: &str, before: &'a AutoCommit) -> &'a AutoCommit {
        self.by_field
            .get(field)
            .map_or(before, |i| &self.states[*i])
    }
}

/// Finds, for each field in `fields`, the latest state of the record in which it was valid,
/// stepping back through the sender's new changes (`new`, all under the sender's one actor, so
/// a chain): the record after the sender's last change, then after the one before it, and so
/// on. Each state is the sender's changes up to that point merged with everything this
/// replica held (`before`), so a value another device wrote concurrently still counts. A field
/// valid in none of them is left to `before`.
fn last_valid_states<'f>(
    after: &mut AutoCommit,
    before: &mut AutoCommit,
    new: &[Change],
    fields: impl Iterator<Item = &'f str>,
) -> Result<LastValid, AutomergeError> {
    let mut open: BTreeSet<&str> = fields.collect();
    let mut found = LastValid {
        states: Vec::new(),
        by_field: BTreeMap::new(),
    };
    if open.is_empty() {
        return Ok(found);
    }
    let base = before.get_heads();
    let mut chain: Vec<&Change> = new.iter().collect();
    chain.sort_by_key(|c| c.seq());
    for change in chain.into_iter().rev() {
        let mut heads = base.clone();
        heads.push(change.hash());
        let state = after.fork_at(&heads)?;
        let invalid: BTreeSet<String> = validate(&state).into_iter().map(|e| e.field).collect();
        let valid: Vec<&str> = open
            .iter()
            .copied()
            .filter(|f| !invalid.contains(*f))
            .collect();
        if valid.is_empty() {
            continue;
        }
        for field in valid {
            open.remove(field);
            found.by_field.insert(field.to_owned(), found.states.len());
        }
        found.states.push(state);
        if open.is_empty() {
            break;
        }
    }
    Ok(found)
}

/// The operations currently holding a value at a field path (several in a conflict).
fn live_ops(d: &AutoCommit, path: &str) -> Vec<ObjId> {
    let Some((obj, key)) = locate(d, path) else {
        return Vec::new();
    };
    let mut ids: Vec<ObjId> = d
        .get_all(&obj, key.as_str())
        .unwrap_or_default()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    ids.sort_by_key(|id| match id {
        ObjId::Root => (0, Vec::new()),
        ObjId::Id(counter, actor, _) => (*counter, actor.to_bytes().to_vec()),
    });
    ids
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
