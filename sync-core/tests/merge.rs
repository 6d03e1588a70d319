//! `merge_incoming`: what the server does with a device's changes to one record. Refused changes
//! never enter the history; invalid values a device may write are accepted and then neutralised
//! by a compensating change; valid changes that merge into an invalid record are flagged.

mod common;

use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, AutoCommit, Change, ObjId, ObjType};
use bothy_sync_core::merge::Accepted;
use bothy_sync_core::record::RecordData;
use bothy_sync_core::{
    RecordDoc, RecordKind, RefusalCode, Verdict, conflicts, merge_incoming, server_actor,
};
use common::*;

fn accepted(v: Verdict) -> Box<Accepted> {
    match v {
        Verdict::Accepted(a) => a,
        other => panic!("expected Accepted, got {other:?}"),
    }
}

fn refused(v: Verdict) -> RefusalCode {
    match v {
        Verdict::Refused { code, message } => {
            assert!(!message.is_empty());
            code
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

/// Everything `doc` has, pushed by `sender` to a server that holds `stored`.
fn push_all(stored: Option<&RecordDoc>, doc: &mut RecordDoc, sender: ActorId) -> Verdict {
    let changes = changes_since(doc, &[]);
    merge_incoming(stored.cloned(), &raw(&changes), &policy(sender))
}

/// The server's copy of a record that `doc` (written by `sender`) created.
fn on_server(doc: &mut RecordDoc, sender: ActorId) -> RecordDoc {
    let a = accepted(push_all(None, doc, sender));
    assert!(a.created);
    assert!(a.compensation.is_none());
    assert!(a.quarantined.is_empty() && a.flagged.is_empty());
    a.doc
}

fn items(doc: &RecordDoc) -> std::collections::BTreeMap<u8, i64> {
    match doc.view().unwrap().data {
        RecordData::Wellbeing(w) => w.items,
        other => panic!("not a wellbeing response: {other:?}"),
    }
}

fn session_of(doc: &RecordDoc) -> bothy_sync_core::record::Session {
    match doc.view().unwrap().data {
        RecordData::Session(s) => s,
        other => panic!("not a session: {other:?}"),
    }
}

/// Writes `value` at `items.<item>` straight into the Automerge document, as a buggy or hostile
/// client could, bypassing validation. Returns the change.
fn craft_item(doc: &mut RecordDoc, item: &str, value: i64) -> Change {
    let obj = map_id(doc, "items");
    doc.automerge().put(&obj, item, value).unwrap();
    doc.automerge().commit().unwrap();
    doc.automerge().get_last_local_change().unwrap()
}

fn craft_root(doc: &mut RecordDoc, key: &str, value: &str) -> Change {
    doc.automerge().put(ObjId::Root, key, value).unwrap();
    doc.automerge().commit().unwrap();
    doc.automerge().get_last_local_change().unwrap()
}

#[test]
fn new_record_is_accepted_and_duplicates_are_already_had() {
    let dev = device(1);
    let mut doc = session(dev.clone());
    let all = changes_since(&mut doc, &[]);

    // The same change twice in one push is stored once.
    let twice = [raw(&all), raw(&all)].concat();
    let a = accepted(merge_incoming(None, &twice, &policy(dev.clone())));
    assert!(a.created);
    assert_eq!(a.new_changes.len(), 1);
    assert!(a.compensation.is_none());
    assert_eq!(a.doc.view().unwrap(), doc.view().unwrap());
    let mut stored = a.doc;

    // Pushed again (a retry after a lost response): nothing to do.
    assert!(matches!(
        merge_incoming(Some(stored.clone()), &raw(&all), &policy(dev.clone())),
        Verdict::AlreadyHave
    ));

    // A later edit is new; resending the whole history with it is fine.
    doc.edit(T0 + 60, |e| {
        e.set(&format!("attendance.{}", participant(1)), "present")
    })
    .unwrap();
    let a = accepted(push_all(Some(&stored), &mut doc, dev.clone()));
    assert!(!a.created);
    assert_eq!(a.new_changes.len(), 1);
    stored = a.doc;
    assert_eq!(sorted_heads(&mut stored), sorted_heads(&mut doc));
    assert!(matches!(
        push_all(Some(&stored), &mut doc, dev),
        Verdict::AlreadyHave
    ));
}

#[test]
fn changes_under_another_actor_are_refused_but_relaying_known_ones_is_fine() {
    let (d1, d2) = (device(1), device(2));
    let mut doc = session(d1.clone());
    let stored = on_server(&mut doc, d1.clone());

    let mut other = replica(&mut doc, d2.clone());
    other
        .edit(T0 + 60, |e| e.set("location", "Church hall"))
        .unwrap();
    // Device 1 pushing device 2's new change: refused, whatever it contains.
    let code = refused(push_all(Some(&stored), &mut other, d1.clone()));
    assert_eq!(code, RefusalCode::ForeignActor);
    assert_eq!(code.as_str(), "foreign_actor");

    // Device 2 pushing its own change along with device 1's creation (which the server has).
    let a = accepted(push_all(Some(&stored), &mut other, d2));
    assert_eq!(a.new_changes.len(), 1);
    assert_eq!(session_of(&a.doc).location.as_deref(), Some("Church hall"));

    // A brand-new record must be the sender's own work too.
    let mut fresh = story(d1);
    let code = refused(push_all(None, &mut fresh, device(3)));
    assert_eq!(code, RefusalCode::ForeignActor);
}

/// What a sender may relay: its user's other devices always; while it reconciles with a
/// restored server, any device's changes and the server's of the superseded generations only.
#[test]
fn relayed_changes_are_accepted_only_from_a_sender_that_may_vouch_for_them() {
    use bothy_sync_core::merge::Relay;
    let (d1, d2) = (device(1), device(2));
    let old_server = bothy_sync_core::server_actor_for(&[7; 16]);
    let forged_server = bothy_sync_core::server_actor_for(&[9; 16]);
    // A record device 2 made and device 1 holds, with a later change by an old server
    // generation and one by a server generation that never existed.
    let mut by_d2 = story(d2.clone());
    let mut with_old_server = replica(&mut by_d2, old_server.clone());
    with_old_server
        .edit(T0 + 60, |e| e.set("title", "Mended by the server"))
        .unwrap();
    let mut with_forged = replica(&mut by_d2, forged_server.clone());
    with_forged
        .edit(T0 + 60, |e| e.set("title", "Forged"))
        .unwrap();
    let push = |doc: &mut RecordDoc, relay: Relay| {
        let changes = changes_since(doc, &[]);
        let mut p = policy(d1.clone());
        p.relay = relay;
        merge_incoming(None, &raw(&changes), &p)
    };

    assert_eq!(
        refused(push(&mut by_d2, Relay::default())),
        RefusalCode::ForeignActor
    );
    let same_user = Relay {
        always: [d2.clone()].into(),
        reconciling: None,
    };
    let a = accepted(push(&mut by_d2, same_user.clone()));
    assert_eq!(a.new_changes.len(), 1);
    assert_eq!(
        a.new_changes[0].actor_id(),
        &d2,
        "the change keeps its author"
    );
    assert_eq!(
        refused(push(&mut with_old_server, same_user)),
        RefusalCode::ForeignActor,
        "a server change is relayed only while reconciling"
    );

    let reconciling = Relay {
        always: Default::default(),
        reconciling: Some([old_server].into()),
    };
    accepted(push(&mut by_d2, reconciling.clone()));
    let a = accepted(push(&mut with_old_server, reconciling.clone()));
    assert_eq!(a.new_changes.len(), 2);
    assert_eq!(
        refused(push(&mut with_forged, reconciling)),
        RefusalCode::ForeignActor,
        "no server change under a generation the server does not list"
    );
}

#[test]
fn changing_project_or_kind_is_refused() {
    let dev = device(1);
    let mut doc = session(dev.clone());
    let stored = on_server(&mut doc, dev.clone());
    let heads = doc.heads();

    for (key, value) in [("project", "another-project"), ("kind", "story")] {
        let mut d = replica(&mut doc, dev.clone());
        let change = craft_root(&mut d, key, value);
        let code = refused(merge_incoming(
            Some(stored.clone()),
            &raw(&[change]),
            &policy(dev.clone()),
        ));
        assert_eq!(code, RefusalCode::ImmutableField, "{key}");
    }
    // Deleting them is changing them.
    let mut d = replica(&mut doc, dev.clone());
    d.automerge().delete(ObjId::Root, "project").unwrap();
    d.automerge().commit();
    let code = refused(merge_incoming(
        Some(stored.clone()),
        &raw(&changes_since(&mut d, &heads)),
        &policy(dev.clone()),
    ));
    assert_eq!(code, RefusalCode::ImmutableField);
    // And so is the creation time.
    let mut d = replica(&mut doc, dev.clone());
    d.automerge().put(ObjId::Root, "created", 0i64).unwrap();
    d.automerge().commit();
    let code = refused(merge_incoming(
        Some(stored),
        &raw(&changes_since(&mut d, &heads)),
        &policy(dev),
    ));
    assert_eq!(code, RefusalCode::ImmutableField);
}

#[test]
fn out_of_range_item_is_accepted_then_compensated() {
    let dev = device(1);
    let mut answers = [Some(3); 14];
    answers[13] = None; // item 14 not answered yet
    let mut doc =
        create_with(dev.clone(), RecordKind::Wellbeing, &wemwbs_fields(&answers)).unwrap();
    let stored = on_server(&mut doc, dev.clone());

    // One change sets an answered item and an unanswered one to 7, bypassing `edit`.
    let obj = map_id(&doc, "items");
    doc.automerge().put(&obj, "3", 7i64).unwrap();
    doc.automerge().put(&obj, "14", 7i64).unwrap();
    doc.automerge().commit().unwrap();
    let change = doc.automerge().get_last_local_change().unwrap();
    assert!(!doc.validate().is_empty());

    let a = accepted(merge_incoming(
        Some(stored),
        &raw(std::slice::from_ref(&change)),
        &policy(dev.clone()),
    ));
    assert_eq!(a.new_changes.len(), 1);
    assert_eq!(a.new_changes[0].hash(), change.hash());
    let comp = a.compensation.clone().expect("a compensating change");
    assert_eq!(comp.actor_id(), &server_actor());
    assert_eq!(comp.timestamp(), T0 + 3600);
    assert!(
        comp.deps().contains(&change.hash()),
        "it follows the device's change"
    );

    let mut got: Vec<_> = a
        .quarantined
        .iter()
        .map(|q| (q.field.as_str(), q.value.as_str()))
        .collect();
    got.sort();
    assert_eq!(got, [("items.14", "7"), ("items.3", "7")]);
    assert!(a.quarantined.iter().all(|q| !q.message.is_empty()));
    assert!(a.flagged.is_empty());

    let mut server = a.doc;
    assert!(server.validate().is_empty());
    let it = items(&server);
    assert_eq!(it[&3], 3, "the answer is restored");
    assert!(!it.contains_key(&14), "a new answer is removed");
    assert!(conflicts(server.automerge_ref()).is_empty());
    assert!(
        server
            .automerge()
            .get_change_by_hash(&change.hash())
            .is_some(),
        "the change is kept in the history"
    );

    // The device takes the compensation and both replicas agree.
    doc.automerge().apply_changes([comp]).unwrap();
    assert_eq!(sorted_heads(&mut doc), sorted_heads(&mut server));
    assert_eq!(doc.view().unwrap(), server.view().unwrap());
    assert!(doc.validate().is_empty());
}

#[test]
fn new_record_with_an_out_of_range_item_is_accepted_without_it() {
    let dev = device(1);
    let mut doc = create_with(
        dev.clone(),
        RecordKind::Wellbeing,
        &wemwbs_fields(&[Some(2); 13]),
    )
    .unwrap();
    craft_item(&mut doc, "14", 6);
    let a = accepted(push_all(None, &mut doc, dev));
    assert!(a.created);
    assert!(a.compensation.is_some());
    assert_eq!(a.quarantined.len(), 1);
    assert_eq!(
        (
            a.quarantined[0].field.as_str(),
            a.quarantined[0].value.as_str()
        ),
        ("items.14", "6")
    );
    assert!(a.flagged.is_empty());
    assert_eq!(items(&a.doc).len(), 13);
}

#[test]
fn two_valid_edits_merging_into_an_invalid_session_are_flagged() {
    let (d1, d2) = (device(1), device(2));
    let mut a = session(d1.clone()); // 10:00 to 12:00
    let mut stored = on_server(&mut a, d1.clone());
    let mut b = replica(&mut a, d2.clone());
    let base = a.heads();

    a.edit(T0 + 60, |e| e.set("start", "2026-11-01T11:30:00Z"))
        .unwrap();
    b.edit(T0 + 61, |e| e.set("end", "2026-11-01T11:00:00Z"))
        .unwrap();

    let first = accepted(merge_incoming(
        Some(stored),
        &raw(&changes_since(&mut a, &base)),
        &policy(d1.clone()),
    ));
    assert!(first.flagged.is_empty() && first.compensation.is_none());
    let second = accepted(merge_incoming(
        Some(first.doc),
        &raw(&changes_since(&mut b, &base)),
        &policy(d2.clone()),
    ));
    assert!(
        second.compensation.is_none(),
        "neither change is wrong on its own"
    );
    assert!(second.quarantined.is_empty());
    let flagged: Vec<_> = second.flagged.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(flagged, ["end"]);
    stored = second.doc;
    let s = session_of(&stored);
    assert_eq!(
        (s.start.as_str(), s.end.as_deref()),
        ("2026-11-01T11:30:00Z", Some("2026-11-01T11:00:00Z"))
    );

    // Device 1 syncs, sees the flagged record, and goes on marking attendance: its later,
    // unrelated changes are not blamed for the flag.
    sync_into(&mut a, &mut stored);
    let seen = a.heads();
    a.edit(T0 + 120, |e| {
        e.set(&format!("attendance.{}", participant(4)), "present")
    })
    .unwrap();
    let third = accepted(merge_incoming(
        Some(stored),
        &raw(&changes_since(&mut a, &seen)),
        &policy(d1),
    ));
    assert!(third.compensation.is_none(), "{:?}", third.quarantined);
    assert!(third.quarantined.is_empty());
    assert_eq!(
        third.flagged.len(),
        1,
        "still flagged until someone fixes the times"
    );
    let mut stored = third.doc;

    // Fixing it clears the flag.
    sync_into(&mut b, &mut stored);
    let seen = b.heads();
    b.edit(T0 + 180, |e| e.set("end", "2026-11-01T12:30:00Z"))
        .unwrap();
    let fourth = accepted(merge_incoming(
        Some(stored),
        &raw(&changes_since(&mut b, &seen)),
        &policy(d2),
    ));
    assert!(fourth.flagged.is_empty() && fourth.compensation.is_none());
}

#[test]
fn a_device_that_merges_then_edits_in_one_push_is_not_blamed_for_the_merge() {
    // Device 2 moves the start later and syncs. Device 1, offline, moves the end earlier (valid
    // for it), then receives device 2's change (now flagged on its own screen), marks someone
    // present, and pushes both of its changes at once.
    let (d1, d2) = (device(1), device(2));
    let mut a = session(d1.clone());
    let stored = on_server(&mut a, d1.clone());
    let mut b = replica(&mut a, d2.clone());
    let base = a.heads();

    b.edit(T0 + 60, |e| e.set("start", "2026-11-01T11:30:00Z"))
        .unwrap();
    let mut stored = accepted(merge_incoming(
        Some(stored),
        &raw(&changes_since(&mut b, &base)),
        &policy(d2),
    ))
    .doc;

    a.edit(T0 + 61, |e| e.set("end", "2026-11-01T11:00:00Z"))
        .unwrap();
    sync_into(&mut a, &mut stored);
    assert_eq!(a.validate().len(), 1);
    a.edit(T0 + 62, |e| {
        e.set(&format!("attendance.{}", participant(4)), "present")
    })
    .unwrap();
    let own: Vec<Change> = changes_since(&mut a, &base)
        .into_iter()
        .filter(|c| c.actor_id() == &d1)
        .collect();
    assert_eq!(own.len(), 2);
    let v = accepted(merge_incoming(Some(stored), &raw(&own), &policy(d1)));
    assert!(v.compensation.is_none(), "{:?}", v.quarantined);
    assert!(v.quarantined.is_empty());
    assert_eq!(
        v.flagged
            .iter()
            .map(|e| e.field.as_str())
            .collect::<Vec<_>>(),
        ["end"]
    );
}

#[test]
fn a_start_moved_past_the_end_by_one_device_is_compensated_on_start() {
    let dev = device(1);
    let mut doc = session(dev.clone()); // 10:00 to 12:00
    let stored = on_server(&mut doc, dev.clone());
    let change = craft_root(&mut doc, "start", "2026-11-01T13:00:00Z");
    let a = accepted(merge_incoming(Some(stored), &raw(&[change]), &policy(dev)));
    assert!(a.compensation.is_some());
    assert!(a.flagged.is_empty());
    let s = session_of(&a.doc);
    assert_eq!(s.start, "2026-11-01T10:00:00Z");
    assert_eq!(s.end.as_deref(), Some("2026-11-01T12:00:00Z"));
    let q: Vec<_> = a
        .quarantined
        .iter()
        .map(|q| (q.field.as_str(), q.value.as_str()))
        .collect();
    assert_eq!(q, [("start", "2026-11-01T13:00:00Z")]);
}

#[test]
fn a_neutralised_value_is_reported_once() {
    let dev = device(1);
    let mut doc = wemwbs(dev.clone());
    let stored = on_server(&mut doc, dev.clone());
    let bad = craft_item(&mut doc, "3", 7);
    let a = accepted(merge_incoming(
        Some(stored),
        &raw(&[bad]),
        &policy(dev.clone()),
    ));
    assert_eq!(a.quarantined.len(), 1);
    let stored = a.doc;

    // The device has not received the compensation yet and answers another item.
    let seen = doc.heads();
    doc.edit(T0 + 100, |e| e.set("items.5", 5i64)).unwrap();
    let b = accepted(merge_incoming(
        Some(stored),
        &raw(&changes_since(&mut doc, &seen)),
        &policy(dev.clone()),
    ));
    assert!(
        b.quarantined.is_empty(),
        "reported again: {:?}",
        b.quarantined
    );
    assert!(b.compensation.is_none());
    assert!(b.flagged.is_empty());
    let stored = b.doc;
    assert_eq!(items(&stored)[&3], 3);
    assert_eq!(items(&stored)[&5], 5);

    // Another bad value, still without the compensation, is a new bad write: it is neutralised
    // too, although it is concurrent with the compensation. (Writing 7 again would write
    // nothing: Automerge skips a write of the value already shown.)
    let again = craft_item(&mut doc, "3", 6);
    let c = accepted(merge_incoming(
        Some(stored.clone()),
        &raw(&[again]),
        &policy(dev),
    ));
    assert_eq!(c.quarantined.len(), 1);
    assert!(c.doc.validate().is_empty());
    assert_eq!(items(&c.doc)[&3], 3);
    assert!(conflicts(c.doc.automerge_ref()).is_empty());
}

#[test]
fn a_bad_value_that_loses_a_conflict_is_still_neutralised() {
    // Automerge shows the write with the higher (counter, actor): with equal counters the
    // actor decides, so try both orders; then let the bad device make more changes first, so
    // its write outranks later writes by devices that never saw it.
    let cases = [
        (device(0x11), device(0xee), 0),
        (device(0xee), device(0x11), 0),
        (device(0xee), device(0x11), 5),
    ];
    for (good, bad, earlier_edits) in cases {
        let mut creator = wemwbs(device(1));
        let stored = on_server(&mut creator, device(1));
        let base = creator.heads();
        let mut g = replica(&mut creator, good.clone());
        let mut b = replica(&mut creator, bad.clone());
        g.edit(T0 + 10, |e| e.set("items.3", 4i64)).unwrap();
        for i in 0..earlier_edits {
            b.edit(T0 + 11, |e| e.set(&format!("items.{}", 6 + i), 4i64))
                .unwrap();
        }
        craft_item(&mut b, "3", 7);

        let stored = accepted(merge_incoming(
            Some(stored),
            &raw(&changes_since(&mut g, &base)),
            &policy(good.clone()),
        ))
        .doc;
        let a = accepted(merge_incoming(
            Some(stored),
            &raw(&changes_since(&mut b, &base)),
            &policy(bad.clone()),
        ));
        let q: Vec<_> = a
            .quarantined
            .iter()
            .map(|q| (q.field.as_str(), q.value.as_str()))
            .collect();
        assert_eq!(q, [("items.3", "7")]);
        assert!(a.compensation.is_some());
        let server = a.doc;
        assert_eq!(items(&server)[&3], 4, "the other device's answer stands");
        assert!(server.validate().is_empty());
        assert!(
            conflicts(server.automerge_ref()).is_empty(),
            "the bad value must not linger as a conflict: {:?}",
            conflicts(server.automerge_ref())
        );

        // A third device that saw only the good answer overwrites it later: the bad value does
        // not resurface. (The new answer is concurrent with the compensation, so the two are
        // a conflict between valid values.)
        let mut third = replica(&mut g, device(0x01));
        third.edit(T0 + 20, |e| e.set("items.3", 2i64)).unwrap();
        let seen = g.heads();
        let t = accepted(merge_incoming(
            Some(server.clone()),
            &raw(&changes_since(&mut third, &seen)),
            &policy(device(0x01)),
        ));
        assert!(t.doc.validate().is_empty());
        assert!(t.flagged.is_empty());
        assert!(t.compensation.is_none());
        assert!([2, 4].contains(&items(&t.doc)[&3]));
        assert!(
            conflicts(t.doc.automerge_ref())
                .iter()
                .flat_map(|c| &c.values)
                .all(|v| v.value != "7")
        );
    }
}

#[test]
fn changes_with_missing_dependencies_ask_for_the_history() {
    let dev = device(1);
    let mut doc = session(dev.clone());
    let stored = on_server(&mut doc, dev.clone());
    let base = doc.heads();
    doc.edit(T0 + 1, |e| e.set("location", "Hall")).unwrap();
    doc.edit(T0 + 2, |e| e.set("unregistered_attendees", 4i64))
        .unwrap();
    let changes = changes_since(&mut doc, &base);
    assert_eq!(changes.len(), 2);
    match merge_incoming(
        Some(stored.clone()),
        &raw(&changes[1..]),
        &policy(dev.clone()),
    ) {
        Verdict::MissingDependencies(missing) => assert_eq!(missing, [changes[0].hash()]),
        other => panic!("expected MissingDependencies, got {other:?}"),
    }
    // A brand-new record pushed without its creation change.
    assert!(matches!(
        merge_incoming(None, &raw(&changes), &policy(dev.clone())),
        Verdict::MissingDependencies(_)
    ));
    // With the whole history it goes in.
    let a = accepted(merge_incoming(Some(stored), &raw(&changes), &policy(dev)));
    assert_eq!(a.new_changes.len(), 2);
}

#[test]
fn garbage_is_refused_as_malformed() {
    let dev = device(1);
    let mut doc = session(dev.clone());
    let stored = on_server(&mut doc, dev.clone());
    let garbage = vec![b"definitely not an automerge change".to_vec()];
    assert_eq!(
        refused(merge_incoming(
            Some(stored.clone()),
            &garbage,
            &policy(dev.clone())
        )),
        RefusalCode::Malformed
    );
    assert_eq!(
        refused(merge_incoming(
            None,
            &[Vec::<u8>::new()],
            &policy(dev.clone())
        )),
        RefusalCode::Malformed
    );
    // One bad change spoils the push; nothing in it is taken.
    doc.edit(T0 + 1, |e| e.set("location", "Hall")).unwrap();
    let mut mixed = raw(&changes_since(&mut doc, &[]));
    mixed.push(vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]);
    assert_eq!(
        refused(merge_incoming(Some(stored), &mixed, &policy(dev))),
        RefusalCode::Malformed
    );
}

/// A new record written in one change straight into Automerge, as a buggy or hostile client
/// could: the envelope, then whatever `fields` puts.
fn crafted_new(dev: ActorId, kind: &str, fields: impl FnOnce(&mut AutoCommit)) -> RecordDoc {
    let mut d = AutoCommit::new().with_actor(dev);
    d.put(ObjId::Root, "kind", kind).unwrap();
    d.put(ObjId::Root, "project", PROJECT).unwrap();
    d.put(ObjId::Root, "v", 1i64).unwrap();
    d.put(ObjId::Root, "created", T0).unwrap();
    fields(&mut d);
    d.commit();
    RecordDoc::from_automerge(d)
}

#[test]
fn a_new_record_that_cannot_be_made_valid_is_refused() {
    let dev = device(1);
    // A brand-new session whose start was a number from the first change: it never had a valid
    // start, and removing it leaves none.
    let mut doc = crafted_new(dev.clone(), "session", |d| {
        for (k, v) in [
            ("site", "hall"),
            ("activity", "crafts"),
            ("activity_type", "heritage"),
        ] {
            d.put(ObjId::Root, k, v).unwrap();
        }
        d.put(ObjId::Root, "start", 1_793_527_200i64).unwrap();
        d.put_object(ObjId::Root, "facilitators", ObjType::Map)
            .unwrap();
        d.put_object(ObjId::Root, "attendance", ObjType::Map)
            .unwrap();
        d.put_object(ObjId::Root, "notes", ObjType::Text).unwrap();
    });
    let code = refused(push_all(None, &mut doc, dev.clone()));
    assert_eq!(code, RefusalCode::InvalidRecord);
    assert_eq!(code.as_str(), "invalid_record");

    // Made valid, then given a bad start in a later change before its first push: the start
    // goes back to its last valid value, and the record is accepted.
    let mut doc = session(dev.clone());
    doc.automerge()
        .put(ObjId::Root, "start", 1_793_527_200i64)
        .unwrap();
    doc.automerge().commit();
    let a = accepted(push_all(None, &mut doc, dev.clone()));
    assert!(a.created && a.flagged.is_empty());
    assert_eq!(session_of(&a.doc).start, "2026-11-01T10:00:00Z");
    assert_eq!(a.quarantined.len(), 1);
    assert_eq!(a.quarantined[0].field, "start");

    // Not a record at all.
    let mut blank = RecordDoc::empty(dev.clone());
    blank
        .automerge()
        .put(ObjId::Root, "colour", "blue")
        .unwrap();
    blank.automerge().commit();
    assert_eq!(
        refused(push_all(None, &mut blank, dev.clone())),
        RefusalCode::InvalidRecord
    );

    // An unknown kind.
    let mut odd = RecordDoc::empty(dev.clone());
    odd.automerge().put(ObjId::Root, "kind", "invoice").unwrap();
    odd.automerge()
        .put(ObjId::Root, "project", PROJECT)
        .unwrap();
    odd.automerge().commit();
    assert_eq!(
        refused(push_all(None, &mut odd, dev)),
        RefusalCode::InvalidRecord
    );
}

#[test]
fn text_object_where_scalar_expected_is_wrong_type() {
    let dev = device(1);
    // Validation names the wrong type, not a missing value.
    let mut doc = crafted_new(dev.clone(), "wellbeing", |d| {
        let text = d
            .put_object(ObjId::Root, "participant", ObjType::Text)
            .unwrap();
        d.splice_text(&text, 0, 0, &participant(1)).unwrap();
        d.put(ObjId::Root, "instrument", "WEMWBS").unwrap();
        d.put(ObjId::Root, "timepoint", "baseline").unwrap();
        d.put(ObjId::Root, "date", "2026-11-01").unwrap();
        let items = d.put_object(ObjId::Root, "items", ObjType::Map).unwrap();
        d.put(&items, "1", 3i64).unwrap();
        let item = d.put_object(&items, "2", ObjType::Text).unwrap();
        d.splice_text(&item, 0, 0, "4").unwrap();
    });
    let errors = doc.validate();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "participant: expected a record id, found a text object",
            "items.2: expected a whole number, found a text object",
        ]
    );

    // A new record whose required field is a text object is refused, and the message says
    // why: the wrong type, not "is required" (which is what removing it would leave).
    match push_all(None, &mut doc, dev.clone()) {
        Verdict::Refused { code, message } => {
            assert_eq!(code, RefusalCode::InvalidRecord);
            assert!(
                message.contains("participant: expected a record id, found a text object"),
                "{message}"
            );
            assert!(!message.contains("is required"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // On a record the server has, the text object is taken out and the last valid value kept,
    // reported as the wrong type.
    let mut device_copy = session(dev.clone());
    let stored = on_server(&mut device_copy, dev.clone());
    let before = changes_since(&mut device_copy, &[]);
    let text = device_copy
        .automerge()
        .put_object(ObjId::Root, "site", ObjType::Text)
        .unwrap();
    device_copy
        .automerge()
        .splice_text(&text, 0, 0, "ullapool-hall")
        .unwrap();
    device_copy.automerge().commit();
    let new: Vec<Change> = changes_since(&mut device_copy, &[])
        .into_iter()
        .filter(|c| !before.iter().any(|b| b.hash() == c.hash()))
        .collect();
    let a = accepted(merge_incoming(Some(stored), &raw(&new), &policy(dev)));
    assert_eq!(a.quarantined.len(), 1, "{:?}", a.quarantined);
    assert_eq!(a.quarantined[0].field, "site");
    assert_eq!(
        a.quarantined[0].message,
        "expected a string, found a text object"
    );
    assert_eq!(session_of(&a.doc).site, "ullapool-hall");
    assert!(a.doc.validate().is_empty());
}
