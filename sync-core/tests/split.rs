//! Old-format participants (identifiers in the participant's own document) become a participant
//! and a contact record, and later edits of the old document carry over.

mod common;

use bothy_sync_core::automerge::{AutoCommit, ObjType, ROOT, ReadDoc, transaction::Transactable};
use bothy_sync_core::record::RecordData;
use bothy_sync_core::split::{changed_values, is_legacy, legacy_values, split};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use common::*;

/// A participant as devices wrote them before contact records.
fn old_format(name: &str) -> RecordDoc {
    let mut doc = AutoCommit::new().with_actor(device(1));
    doc.put(ROOT, "kind", "participant").unwrap();
    doc.put(ROOT, "project", "hills").unwrap();
    doc.put(ROOT, "v", 1i64).unwrap();
    doc.put(ROOT, "created", 1_790_000_000i64).unwrap();
    doc.put(ROOT, "code", "HL-0001").unwrap();
    let consent = doc.put_object(ROOT, "consent", ObjType::Map).unwrap();
    doc.put(&consent, "data_use", true).unwrap();
    doc.put(&consent, "date", "2026-10-30").unwrap();
    let referral = doc.put_object(ROOT, "referral", ObjType::Map).unwrap();
    doc.put(&referral, "source", "gp").unwrap();
    doc.put(ROOT, "age_band", "65-74").unwrap();
    doc.put(ROOT, "postcode_district", "IV26").unwrap();
    let ids = doc.put_object(ROOT, "identifiers", ObjType::Map).unwrap();
    doc.put(&ids, "name", name).unwrap();
    doc.put(&ids, "phone", "07700 900123").unwrap();
    doc.commit();
    RecordDoc::from_automerge(doc)
}

#[test]
fn an_old_participant_splits_into_a_participant_and_its_contact() {
    let old = old_format("Morag Lennox");
    assert!(is_legacy(&old));
    let id = "0192f0c4-5e6a-7b3c-8d9e-0123456789ab";
    let mut out = split(&old, id, device(9)).unwrap();
    assert!(!is_legacy(&out.participant));
    let RecordData::Participant(p) = out.participant.view().unwrap().data else {
        panic!("not a participant")
    };
    assert_eq!(p.code, "HL-0001");
    assert!(p.consent_data_use);
    assert_eq!(p.consent_date.as_deref(), Some("2026-10-30"));
    assert_eq!(p.referral_source.as_deref(), Some("gp"));
    assert_eq!(p.age_band.as_deref(), Some("65-74"));
    assert!(out.participant.validate().is_empty());
    assert_eq!(out.participant.envelope().unwrap().created, 1_790_000_000);
    // No change in the new participant's whole history names the person.
    let saved = out.participant.save();
    assert!(!saved.windows(5).any(|w| w == b"Morag"));
    let changes = out.participant.automerge().get_changes(&[]);
    assert!(
        changes
            .iter()
            .all(|c| !c.raw_bytes().windows(5).any(|w| w == b"Morag"))
    );
    let contact = out.contact.as_mut().expect("a contact record");
    assert_eq!(contact.envelope().unwrap().kind, RecordKind::Contact);
    let RecordData::Contact(c) = contact.view().unwrap().data else {
        panic!("not a contact")
    };
    assert_eq!(c.participant, id);
    assert_eq!(c.name.as_deref(), Some("Morag Lennox"));
    assert_eq!(c.phone.as_deref(), Some("07700 900123"));
    assert_eq!(c.postcode_district.as_deref(), Some("IV26"));
    assert!(contact.validate().is_empty());
}

#[test]
fn a_participant_without_identifiers_gets_no_contact_record() {
    let mut old = old_format("x");
    let d = old.automerge();
    d.delete(ROOT, "identifiers").unwrap();
    d.delete(ROOT, "postcode_district").unwrap();
    d.commit();
    // Still old-format in its history, but nothing to move.
    let out = split(&old, "0192f0c4-5e6a-7b3c-8d9e-0123456789ab", device(9)).unwrap();
    assert!(out.contact.is_none());
}

#[test]
fn edits_of_the_old_document_are_the_changed_values() {
    let old = old_format("Morag");
    let before = legacy_values(&old);
    // A device edits its copy (same history).
    let mut fork = old.automerge_ref().clone();
    fork.set_actor(device(2));
    let ids = fork.get(ROOT, "identifiers").unwrap().unwrap().1;
    fork.put(&ids, "phone", "07700 900999").unwrap();
    fork.put(ROOT, "age_band", "75-84").unwrap();
    fork.delete(ROOT, "postcode_district").unwrap();
    fork.commit();
    let edited = RecordDoc::from_automerge(fork);
    let after = legacy_values(&edited);
    let changed = changed_values(&before, &after);
    assert_eq!(
        changed.get("contact.phone"),
        Some(&Some(FieldValue::from("07700 900999")))
    );
    assert_eq!(
        changed.get("age_band"),
        Some(&Some(FieldValue::from("75-84")))
    );
    assert_eq!(changed.get("contact.postcode_district"), Some(&None));
    assert_eq!(changed.len(), 3, "{changed:?}");
}
