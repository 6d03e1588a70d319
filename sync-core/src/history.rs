//! A record's provenance: every change in its Automerge history, in causal order, with the
//! fields it set or deleted. Devices and the server both read histories with this.

use automerge::{AutoCommit, PatchAction, Prop};
use serde::{Deserialize, Serialize};

/// What one change did to one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field: a top-level key, or `map.key` for one level of nesting
    /// (`identifiers.name`, `attendance.<participant>`).
    pub field: String,
    /// `set`, `deleted` or `edited` (text or list edits).
    pub op: String,
    /// The value set, as text (`None` for deletions and edits).
    pub value: Option<String>,
}

/// One change in a record's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The change hash, hex.
    pub hash: String,
    /// The authoring actor, hex.
    pub actor: String,
    /// The change's sequence number for its actor.
    pub seq: u64,
    /// The author's clock when it was made (Unix seconds; devices' clocks can be wrong).
    pub time: i64,
    /// The changes it builds on, hex.
    pub deps: Vec<String>,
    /// The fields it set, deleted or edited.
    pub fields: Vec<FieldChange>,
}

/// A document's history in causal order (every change after the changes it depends on).
pub fn history(doc: &mut AutoCommit) -> Vec<HistoryEntry> {
    let am = doc.document();
    am.get_changes(&[])
        .into_iter()
        .map(|c| {
            let deps = c.deps().to_vec();
            let mut fields: Vec<FieldChange> = Vec::new();
            for patch in am.diff(&deps, &[c.hash()]) {
                let mut names: Vec<String> = patch
                    .path
                    .iter()
                    .map_while(|(_, p)| match p {
                        Prop::Map(k) => Some(k.clone()),
                        Prop::Seq(_) => None,
                    })
                    .collect();
                let nested = names.len() < patch.path.len();
                let (op, value) = match &patch.action {
                    PatchAction::PutMap { key, value, .. } if !nested => {
                        names.push(key.clone());
                        let v = match &value.0 {
                            automerge::Value::Scalar(_) => Some(crate::merge::display(&value.0)),
                            automerge::Value::Object(_) => None,
                        };
                        ("set", v)
                    }
                    PatchAction::DeleteMap { key } if !nested => {
                        names.push(key.clone());
                        ("deleted", None)
                    }
                    PatchAction::Conflict {
                        prop: Prop::Map(key),
                    } if !nested => {
                        names.push(key.clone());
                        ("set", None)
                    }
                    _ => ("edited", None),
                };
                if names.is_empty() {
                    continue;
                }
                names.truncate(2);
                let field = names.join(".");
                // An object put and the keys set inside it: keep the keys.
                if value.is_none() && op == "set" && fields.iter().any(|f| f.field == field) {
                    continue;
                }
                fields.retain(|f| !(f.field == field && f.op == op));
                fields.push(FieldChange {
                    field,
                    op: op.to_owned(),
                    value,
                });
            }
            HistoryEntry {
                hash: c.hash().to_string(),
                actor: c.actor_id().to_hex_string(),
                seq: c.seq(),
                time: c.timestamp(),
                deps: deps.iter().map(|d| d.to_string()).collect(),
                fields,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT};

    #[test]
    fn lists_fields_per_change_in_causal_order() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "kind", "participant").unwrap();
        let ids = doc.put_object(ROOT, "identifiers", ObjType::Map).unwrap();
        doc.put(&ids, "name", "Ann").unwrap();
        doc.commit();
        doc.put(ROOT, "status", "active").unwrap();
        doc.delete(ROOT, "kind").unwrap();
        doc.commit();
        let h = history(&mut doc);
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].deps, vec![h[0].hash.clone()]);
        let f0: Vec<(&str, &str, Option<&str>)> = h[0]
            .fields
            .iter()
            .map(|f| (f.field.as_str(), f.op.as_str(), f.value.as_deref()))
            .collect();
        assert!(f0.contains(&("kind", "set", Some("participant"))), "{f0:?}");
        assert!(
            f0.contains(&("identifiers.name", "set", Some("Ann"))),
            "{f0:?}"
        );
        let f1: Vec<(&str, &str)> = h[1]
            .fields
            .iter()
            .map(|f| (f.field.as_str(), f.op.as_str()))
            .collect();
        assert!(
            f1.contains(&("status", "set")) && f1.contains(&("kind", "deleted")),
            "{f1:?}"
        );
    }
}
