//! Records through their public API: create, edit, validate and view for the four kinds, and
//! what happens when two replicas edit one record concurrently.

mod common;

use bothy_sync_core::record::RecordData;
use bothy_sync_core::scoring::Score;
use bothy_sync_core::{RecordDoc, RecordError, RecordKind, conflicts};
use common::*;

fn session_view(doc: &RecordDoc) -> bothy_sync_core::record::Session {
    match doc.view().unwrap().data {
        RecordData::Session(s) => s,
        other => panic!("not a session: {other:?}"),
    }
}

fn wellbeing_view(doc: &RecordDoc) -> bothy_sync_core::record::Wellbeing {
    match doc.view().unwrap().data {
        RecordData::Wellbeing(w) => w,
        other => panic!("not a wellbeing response: {other:?}"),
    }
}

fn story_view(doc: &RecordDoc) -> bothy_sync_core::record::Story {
    match doc.view().unwrap().data {
        RecordData::Story(s) => s,
        other => panic!("not a story: {other:?}"),
    }
}

// ---- create and view, each kind ----

#[test]
fn participant_is_created_and_viewed() {
    let doc = RecordDoc::create(
        device(1),
        RecordKind::Participant,
        PROJECT,
        &participant_fields(),
        T0,
    )
    .unwrap();
    assert!(doc.validate().is_empty());
    let view = doc.view().unwrap();
    assert_eq!(view.kind, RecordKind::Participant);
    assert_eq!(view.project, PROJECT);
    assert_eq!(view.created, T0);
    let RecordData::Participant(p) = view.data else {
        panic!("not a participant")
    };
    assert_eq!(p.code, "UL-A3-0001");
    assert!(p.consent_data_use);
    assert!(!p.consent_story_sharing);
    assert!(!p.consent_contact, "unset consent reads as no consent");
    assert_eq!(p.consent_date.as_deref(), Some("2026-10-30"));
    assert_eq!(p.consent_version.as_deref(), Some("v2"));
    assert_eq!(p.age_band.as_deref(), Some("65-74"));
    assert_eq!(p.gender.as_deref(), Some("woman"));
    assert_eq!(p.ethnic_group.as_deref(), Some("white"));
    assert_eq!(p.imd_decile, Some(2));
    assert_eq!(p.rurality.as_deref(), Some("rural"));
    assert_eq!(p.referral_source.as_deref(), Some("link_worker"));
    assert_eq!(p.referral_date.as_deref(), Some("2026-10-20"));
    assert_eq!(p.referral_reason, None);
}

#[test]
fn session_is_created_edited_and_viewed() {
    let mut doc = session(device(1));
    let v = doc.view().unwrap();
    assert_eq!(
        (v.kind, v.project.as_str(), v.created),
        (RecordKind::Session, PROJECT, T0)
    );
    let s = session_view(&doc);
    assert_eq!(s.site, "ullapool-hall");
    assert_eq!(s.activity_type, "heritage");
    assert_eq!(s.start, "2026-11-01T10:00:00Z");
    assert_eq!(s.end.as_deref(), Some("2026-11-01T12:00:00Z"));
    assert_eq!(s.facilitators.iter().collect::<Vec<_>>(), ["morag"]);
    assert!(s.attendance.is_empty());
    assert_eq!(s.unregistered_attendees, 0);
    assert_eq!(s.notes, "Wet day; six came by bus.");

    let (p1, p2) = (participant(1), participant(2));
    let hash = doc
        .edit(T0 + 60, |e| {
            e.set(&format!("attendance.{p1}"), "present");
            e.set(&format!("attendance.{p2}"), "left_early");
            e.set("unregistered_attendees", 3i64);
            e.add("facilitators", "ewan");
            e.remove("facilitators", "morag");
            e.clear("location");
            e.set("notes", "Wet day; seven came by bus.");
        })
        .unwrap();
    assert!(hash.is_some());
    let s = session_view(&doc);
    assert_eq!(s.attendance[&p1], "present");
    assert_eq!(s.attendance[&p2], "left_early");
    assert_eq!(s.unregistered_attendees, 3);
    assert_eq!(s.facilitators.iter().collect::<Vec<_>>(), ["ewan"]);
    assert_eq!(s.location, None);
    assert_eq!(s.notes, "Wet day; seven came by bus.");
    assert!(doc.validate().is_empty());

    // An edit that writes nothing new makes no change: re-saving an unchanged form is free.
    assert_eq!(doc.edit(T0 + 90, |_| {}).unwrap(), None);
    let same = doc
        .edit(T0 + 91, |e| {
            e.set("site", "ullapool-hall");
            e.set(&format!("attendance.{p1}"), "present");
            e.set("notes", "Wet day; seven came by bus.");
        })
        .unwrap();
    assert_eq!(same, None);

    // Saved and loaded, it is the same record.
    let bytes = doc.save();
    let loaded = RecordDoc::load(&bytes, device(9)).unwrap();
    assert_eq!(loaded.view().unwrap(), doc.view().unwrap());
}

#[test]
fn wellbeing_response_is_created_viewed_and_scored() {
    let doc = wemwbs(device(1));
    let w = wellbeing_view(&doc);
    assert_eq!(w.participant, participant(1));
    assert_eq!(w.instrument, "WEMWBS");
    assert_eq!(w.timepoint, "baseline");
    assert_eq!(w.date, "2026-11-01");
    assert_eq!(w.session, None);
    assert_eq!(w.items.len(), 14);
    match w.score() {
        Score::Wemwbs {
            total,
            swemwbs_raw,
            swemwbs_metric,
        } => {
            assert_eq!(total, 42);
            assert_eq!(swemwbs_raw, 21);
            assert_eq!(swemwbs_metric, 19.25);
        }
        other => panic!("unexpected {other:?}"),
    }

    // ONS4: answers run 0..10, each reported with its band, no composite.
    let mut fields = wemwbs_fields(&[Some(0), Some(10), Some(7), Some(6)]);
    fields[1].1 = "ONS4".into();
    let ons = create_with(device(1), RecordKind::Wellbeing, &fields).unwrap();
    match wellbeing_view(&ons).score() {
        Score::Ons4 { answers } => {
            let got: Vec<_> = answers.iter().map(|a| (a.value, a.band.as_str())).collect();
            assert_eq!(
                got,
                [(0, "low"), (10, "very_high"), (7, "high"), (6, "high")]
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    // SWEMWBS: 7 items, raw 7..35 and the metric score.
    let mut fields = wemwbs_fields(&[Some(5); 7]);
    fields[1].1 = "SWEMWBS".into();
    let short = create_with(device(1), RecordKind::Wellbeing, &fields).unwrap();
    let score = wellbeing_view(&short).score();
    assert_eq!(score.raw(), Some(35));
    assert_eq!(score.metric(), Some(35.0));
}

#[test]
fn story_is_created_edited_and_viewed() {
    let mut doc = story(device(1));
    let s = story_view(&doc);
    assert_eq!(s.title, "The walk to the broch");
    assert_eq!(s.body, "We set off late.\n\nThe rain held off.");
    assert_eq!(s.author, "peer worker A");
    assert_eq!(s.consent_scope, "project");
    assert_eq!(s.themes.iter().collect::<Vec<_>>(), ["belonging"]);
    assert_eq!(s.language.as_deref(), Some("en-GB"));
    assert_eq!((s.participant, s.session), (None, None));

    let sess = participant(40); // any record id
    doc.edit(T0 + 5, |e| {
        e.set("session", sess.as_str());
        e.add("themes", "nature");
        e.set("consent_scope", "public");
    })
    .unwrap();
    let s = story_view(&doc);
    assert_eq!(s.session.as_deref(), Some(sess.as_str()));
    assert_eq!(s.themes.len(), 2);
    assert_eq!(s.consent_scope, "public");
}

// ---- capture refuses bad input, naming the field ----

#[test]
fn wemwbs_answers_outside_1_to_5_are_refused() {
    let mut answers = [Some(3); 14];
    answers[3] = Some(0);
    let r = create_with(device(1), RecordKind::Wellbeing, &wemwbs_fields(&answers));
    assert_eq!(invalid_fields(r), ["items.4"]);

    answers[3] = Some(6);
    let r = create_with(device(1), RecordKind::Wellbeing, &wemwbs_fields(&answers));
    assert_eq!(invalid_fields(r), ["items.4"]);

    let mut doc = wemwbs(device(1));
    let heads = doc.heads();
    for bad in [0i64, 6, -1, 70] {
        let err = doc.edit(T0 + 1, |e| e.set("items.2", bad)).unwrap_err();
        assert!(err.to_string().starts_with("items.2:"), "{err}");
        assert_eq!(invalid_fields::<()>(Err(err)), ["items.2"]);
    }
    // Item numbers beyond the form are refused too.
    assert_eq!(
        invalid_fields(doc.edit(T0 + 1, |e| e.set("items.15", 3i64))),
        ["items.15"]
    );
    assert_eq!(
        invalid_fields(doc.edit(T0 + 1, |e| e.set("items.0", 3i64))),
        ["items.0"]
    );
    // Nothing was written.
    assert_eq!(doc.heads(), heads);
    assert_eq!(wellbeing_view(&doc).items[&2], 3);
}

#[test]
fn item_ranges_follow_the_instrument() {
    let mut fields = wemwbs_fields(&[Some(0), Some(10)]);
    fields[1].1 = "ONS4".into();
    assert!(create_with(device(1), RecordKind::Wellbeing, &fields).is_ok());
    let mut fields = wemwbs_fields(&[Some(-1), Some(11)]);
    fields[1].1 = "ONS4".into();
    assert_eq!(
        invalid_fields(create_with(device(1), RecordKind::Wellbeing, &fields)),
        ["items.1", "items.2"]
    );
    let mut fields = wemwbs_fields(&[Some(3); 8]);
    fields[1].1 = "SWEMWBS".into();
    assert_eq!(
        invalid_fields(create_with(device(1), RecordKind::Wellbeing, &fields)),
        ["items.8"]
    );
}

#[test]
fn session_ending_before_it_starts_is_refused() {
    let mut fields = session_fields();
    fields.retain(|(k, _)| *k != "end");
    fields.push(("end", "2026-11-01T09:59:59Z".into()));
    let r = RecordDoc::create(device(1), RecordKind::Session, PROJECT, &fields, T0);
    assert_eq!(invalid_fields(r), ["end"]);

    let mut doc = session(device(1));
    let err = doc
        .edit(T0 + 1, |e| e.set("end", "2026-11-01T09:00:00Z"))
        .unwrap_err();
    assert!(err.to_string().starts_with("end:"), "{err}");
    // Moving the start past the end is blamed on `end` too: the rule is "end not before start".
    assert_eq!(
        invalid_fields(doc.edit(T0 + 1, |e| e.set("start", "2026-11-01T13:00:00Z"))),
        ["end"]
    );
    // Ending exactly when it starts is allowed.
    doc.edit(T0 + 1, |e| e.set("end", "2026-11-01T10:00:00Z"))
        .unwrap();
    // Offsets are instants: 11:30+01:00 is 10:30Z, after the start.
    doc.edit(T0 + 2, |e| e.set("end", "2026-11-01T11:30:00+01:00"))
        .unwrap();
}

#[test]
fn wrong_types_are_refused() {
    let mut doc = session(device(1));
    let heads = doc.heads();
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("unregistered_attendees", "five"))),
        ["unregistered_attendees"]
    );
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("start", 1_793_527_200i64))),
        ["start"]
    );
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("site", true))),
        ["site"]
    );
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("notes", 5i64))),
        ["notes"]
    );
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("activity_type", "knitting"))),
        ["activity_type"]
    );
    let p = participant(3);
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set(&format!("attendance.{p}"), "here"))),
        [format!("attendance.{p}")]
    );
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("attendance.morag", "present"))),
        ["attendance.morag"],
        "attendance is keyed by participant id"
    );
    assert_eq!(doc.heads(), heads, "refused edits write nothing");

    let mut w = wemwbs(device(1));
    assert_eq!(
        invalid_fields(w.edit(T0, |e| e.set("items.3", "4"))),
        ["items.3"]
    );
    assert_eq!(
        invalid_fields(w.edit(T0, |e| e.set("participant", "not-a-uuid"))),
        ["participant"]
    );

    let mut fields = participant_fields();
    fields.push(("imd_decile", "2".into()));
    fields.push(("consent.contact", "yes".into()));
    let r = RecordDoc::create(device(1), RecordKind::Participant, PROJECT, &fields, T0);
    let mut got = invalid_fields(r);
    got.sort();
    assert_eq!(got, ["consent.contact", "imd_decile"]);
}

#[test]
fn impossible_dates_are_refused() {
    for bad in [
        "2026-02-30",
        "2026-13-01",
        "2026-00-10",
        "01/11/2026",
        "2026-2-3",
    ] {
        let mut fields = wemwbs_fields(&[Some(3); 14]);
        fields[3].1 = bad.into();
        assert_eq!(
            invalid_fields(create_with(device(1), RecordKind::Wellbeing, &fields)),
            ["date"],
            "{bad}"
        );
    }
    // 2028 is a leap year.
    let mut fields = wemwbs_fields(&[Some(3); 14]);
    fields[3].1 = "2028-02-29".into();
    assert!(create_with(device(1), RecordKind::Wellbeing, &fields).is_ok());

    let mut doc = session(device(1));
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("end", "2026-11-31T12:00:00Z"))),
        ["end"]
    );
    let mut fields = participant_fields();
    fields.push(("consent.date", "2026-02-29".into()));
    let r = RecordDoc::create(device(1), RecordKind::Participant, PROJECT, &fields, T0);
    assert_eq!(invalid_fields(r), ["consent.date"]);
}

#[test]
fn unknown_fields_are_refused() {
    let mut fields = session_fields();
    fields.push(("colour", "blue".into()));
    let r = RecordDoc::create(device(1), RecordKind::Session, PROJECT, &fields, T0);
    assert_eq!(invalid_fields(r), ["colour"]);

    let mut doc = session(device(1));
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("weather", "wet"))),
        ["weather"]
    );
    // A field of another kind is unknown here.
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("title", "A day out"))),
        ["title"]
    );
    // A group is written one entry at a time.
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("attendance", "present"))),
        ["attendance"]
    );
    // Plain fields have no entries.
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("site.name", "hall"))),
        ["site.name"]
    );
    // The envelope is not a field anyone edits.
    assert_eq!(
        invalid_fields(doc.edit(T0, |e| e.set("project", "elsewhere"))),
        ["project"]
    );
    let mut fields = participant_fields();
    fields.push(("consent.favourite_colour", "blue".into()));
    let r = RecordDoc::create(device(1), RecordKind::Participant, PROJECT, &fields, T0);
    assert_eq!(invalid_fields(r), ["consent.favourite_colour"]);
}

#[test]
fn required_fields_and_project_are_checked() {
    let mut fields = session_fields();
    fields.retain(|(k, _)| *k != "start");
    let r = RecordDoc::create(device(1), RecordKind::Session, PROJECT, &fields, T0);
    assert_eq!(invalid_fields(r), ["start"]);

    let r = RecordDoc::create(
        device(1),
        RecordKind::Session,
        "Highland Heritage",
        &session_fields(),
        T0,
    );
    assert_eq!(invalid_fields(r), ["project"]);

    let mut doc = session(device(1));
    assert_eq!(invalid_fields(doc.edit(T0, |e| e.clear("site"))), ["site"]);
    doc.edit(T0, |e| e.clear("end")).unwrap();
    assert_eq!(session_view(&doc).end, None);
}

#[test]
fn incomplete_wemwbs_form_is_stored_but_not_scored() {
    let mut answers = [Some(4); 14];
    answers[8] = None; // item 9 left blank
    let mut doc = create_with(device(1), RecordKind::Wellbeing, &wemwbs_fields(&answers)).unwrap();
    assert!(
        doc.validate().is_empty(),
        "an incomplete form is a valid record"
    );
    let w = wellbeing_view(&doc);
    assert_eq!(w.items.len(), 13);
    assert!(!w.items.contains_key(&9));
    match w.score() {
        Score::Incomplete { missing, reason } => {
            assert_eq!(missing, [9]);
            assert!(reason.contains("item 9"), "{reason}");
            assert!(reason.contains("13 of 14"), "{reason}");
        }
        other => panic!("an incomplete form must not be scored: {other:?}"),
    }
    // Answering the missing item makes it scoreable.
    doc.edit(T0 + 1, |e| e.set("items.9", 2i64)).unwrap();
    assert_eq!(wellbeing_view(&doc).score().raw(), Some(13 * 4 + 2));
}

// ---- concurrent edits ----

#[test]
fn different_attendees_marked_concurrently_merge_silently() {
    let mut a = session(device(1));
    let mut b = replica(&mut a, device(2));
    let (p1, p2) = (participant(1), participant(2));
    a.edit(T0 + 10, |e| e.set(&format!("attendance.{p1}"), "present"))
        .unwrap();
    b.edit(T0 + 11, |e| e.set(&format!("attendance.{p2}"), "absent"))
        .unwrap();
    // And a different field on each side.
    a.edit(T0 + 12, |e| e.set("unregistered_attendees", 2i64))
        .unwrap();
    b.edit(T0 + 13, |e| e.set("location", "Free church hall"))
        .unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(sorted_heads(&mut a), sorted_heads(&mut b));
    let s = session_view(&a);
    assert_eq!(s.attendance[&p1], "present");
    assert_eq!(s.attendance[&p2], "absent");
    assert_eq!(s.unregistered_attendees, 2);
    assert_eq!(s.location.as_deref(), Some("Free church hall"));
    assert_eq!(a.view().unwrap(), b.view().unwrap());
    assert!(conflicts(a.automerge_ref()).is_empty());
    assert!(conflicts(b.automerge_ref()).is_empty());
}

#[test]
fn same_attendee_marked_differently_is_one_surfaced_conflict() {
    let mut a = session(device(1));
    let mut b = replica(&mut a, device(2));
    let p = participant(7);
    let path = format!("attendance.{p}");
    a.edit(T0 + 100, |e| e.set(&path, "present")).unwrap();
    b.edit(T0 + 200, |e| e.set(&path, "absent")).unwrap();

    // Merge one way into a, the other way into b.
    let mut a2 = replica(&mut a, device(1));
    let mut b2 = replica(&mut b, device(2));
    sync_into(&mut a2, &mut b);
    sync_into(&mut b2, &mut a);

    let ca = conflicts(a2.automerge_ref());
    let cb = conflicts(b2.automerge_ref());
    assert_eq!(ca, cb, "both replicas surface the same conflict");
    assert_eq!(ca.len(), 1);
    let c = &ca[0];
    assert_eq!(c.field, path);
    assert_eq!(c.values.len(), 2);
    let mut got: Vec<_> = c
        .values
        .iter()
        .map(|v| (v.value.as_str(), v.actor.clone(), v.time))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("absent", device(2).to_hex_string(), T0 + 200),
            ("present", device(1).to_hex_string(), T0 + 100),
        ]
    );
    let winners: Vec<_> = c.values.iter().filter(|v| v.winner).collect();
    assert_eq!(winners.len(), 1);
    // Every replica shows the winner.
    assert_eq!(session_view(&a2).attendance[&p], winners[0].value);
    assert_eq!(a2.view().unwrap(), b2.view().unwrap());
    assert_eq!(sorted_heads(&mut a2), sorted_heads(&mut b2));

    // Resolving it (a write that has seen both) ends the conflict everywhere.
    a2.edit(T0 + 300, |e| e.set(&path, "left_early")).unwrap();
    sync_both(&mut a2, &mut b2);
    assert!(conflicts(a2.automerge_ref()).is_empty());
    assert_eq!(session_view(&b2).attendance[&p], "left_early");
}

#[test]
fn same_value_written_concurrently_is_not_a_conflict() {
    let mut a = session(device(1));
    let mut b = replica(&mut a, device(2));
    let path = format!("attendance.{}", participant(7));
    a.edit(T0 + 1, |e| e.set(&path, "present")).unwrap();
    b.edit(T0 + 2, |e| e.set(&path, "present")).unwrap();
    sync_both(&mut a, &mut b);
    assert!(conflicts(a.automerge_ref()).is_empty());
}

#[test]
fn concurrent_wemwbs_answers_to_one_item_are_a_conflict() {
    let mut a = wemwbs(device(1));
    let mut b = replica(&mut a, device(2));
    a.edit(T0 + 1, |e| e.set("items.5", 4i64)).unwrap();
    b.edit(T0 + 2, |e| e.set("items.5", 2i64)).unwrap();
    b.edit(T0 + 3, |e| e.set("items.6", 5i64)).unwrap();
    sync_both(&mut a, &mut b);
    let c = conflicts(a.automerge_ref());
    assert_eq!(c, conflicts(b.automerge_ref()));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].field, "items.5");
    let w = wellbeing_view(&a);
    assert_eq!(w.items[&6], 5);
    assert!([2, 4].contains(&w.items[&5]));
    assert_eq!(
        c[0].values.iter().find(|v| v.winner).unwrap().value,
        w.items[&5].to_string()
    );
}

#[test]
fn concurrent_story_edits_keep_both() {
    let mut a = story(device(1));
    let mut b = replica(&mut a, device(2));
    // One rewrites the first paragraph...
    a.edit(T0 + 10, |e| {
        e.set(
            "body",
            "We set off at dawn, late as ever.\n\nThe rain held off.",
        )
    })
    .unwrap();
    // ...the other appends a paragraph.
    b.edit(T0 + 20, |e| {
        e.set(
            "body",
            "We set off late.\n\nThe rain held off.\n\nWe got home dry.",
        )
    })
    .unwrap();
    sync_both(&mut a, &mut b);
    let body = story_view(&a).body;
    assert_eq!(
        body,
        "We set off at dawn, late as ever.\n\nThe rain held off.\n\nWe got home dry."
    );
    assert_eq!(story_view(&b).body, body);
    assert!(conflicts(a.automerge_ref()).is_empty());

    // Session notes are collaborative text too.
    let mut s = session(device(1));
    let mut t = replica(&mut s, device(2));
    s.edit(T0, |e| e.set("notes", "Dry day; six came by bus."))
        .unwrap();
    t.edit(T0, |e| {
        e.set("notes", "Wet day; six came by bus. Tea ran out.")
    })
    .unwrap();
    sync_both(&mut s, &mut t);
    assert_eq!(
        session_view(&t).notes,
        "Dry day; six came by bus. Tea ran out."
    );
}

#[test]
fn a_refused_edit_leaves_no_trace() {
    let mut doc = session(device(1));
    let before = doc.view().unwrap();
    let heads = doc.heads();
    let p = participant(1);
    // One good write and one bad write in the same edit: neither is kept.
    let err = doc
        .edit(T0 + 1, |e| {
            e.set(&format!("attendance.{p}"), "present");
            e.set("end", "2026-11-01T08:00:00Z");
        })
        .unwrap_err();
    assert!(matches!(err, RecordError::Invalid(_)));
    assert_eq!(doc.view().unwrap(), before);
    assert_eq!(doc.heads(), heads);
    // The document still takes good edits afterwards.
    doc.edit(T0 + 2, |e| e.set(&format!("attendance.{p}"), "present"))
        .unwrap();
    assert_eq!(session_view(&doc).attendance[&p], "present");
}

#[test]
fn non_canonical_ids_are_refused() {
    use bothy_sync_core::validate::{check_id, is_canonical_id};
    let p = participant(0xab);
    assert_eq!(p, "abababab-abab-abab-abab-abababababab");
    assert!(is_canonical_id(&p));
    let spellings = [
        p.to_uppercase(),
        p.replace('-', ""),
        format!("{{{p}}}"),
        format!("urn:uuid:{p}"),
        format!(" {p}"),
        "Abababab-abab-abab-abab-abababababab".to_string(),
        "not-a-uuid".to_string(),
        String::new(),
    ];
    for s in &spellings {
        assert!(!is_canonical_id(s), "{s:?}");
        let e = check_id("id", s).unwrap_err();
        assert_eq!(e.field, "id");
        assert!(e.message.contains("lower case with hyphens"), "{e}");
    }
    // A spelling of a real UUID is answered with its accepted form.
    let e = check_id("participant", &p.to_uppercase()).unwrap_err();
    assert!(e.message.contains(&p), "{e}");

    // Attendance keys: an upper-case key for a participant already marked would count them
    // twice, so it is refused at capture, naming the entry.
    let mut doc = session(device(1));
    doc.edit(T0, |e| e.set(&format!("attendance.{p}"), "present"))
        .unwrap();
    let heads = doc.heads();
    for s in &spellings[..3] {
        let path = format!("attendance.{s}");
        assert_eq!(
            invalid_fields(doc.edit(T0, |e| e.set(&path, "present"))),
            [path]
        );
    }
    assert_eq!(doc.heads(), heads, "refused edits write nothing");
    assert_eq!(session_view(&doc).attendance.len(), 1);

    // References to other records.
    let mut w = wemwbs(device(1));
    for s in &spellings {
        assert_eq!(
            invalid_fields(w.edit(T0, |e| e.set("participant", s.as_str()))),
            ["participant"],
            "{s:?}"
        );
        assert_eq!(
            invalid_fields(w.edit(T0, |e| e.set("session", s.as_str()))),
            ["session"],
            "{s:?}"
        );
    }
    let mut fields = story_fields();
    fields.push(("participant", p.to_uppercase().into()));
    assert_eq!(
        invalid_fields(RecordDoc::create(
            device(1),
            RecordKind::Story,
            PROJECT,
            &fields,
            T0
        )),
        ["participant"]
    );
    // Lower case with hyphens is accepted everywhere.
    w.edit(T0, |e| e.set("session", p.as_str())).unwrap();
}

#[test]
fn plain_fields_are_read_alike_in_schema_order() {
    let doc = create_with(device(1), RecordKind::Session, &{
        let mut f: Vec<(String, bothy_sync_core::FieldValue)> = session_fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        f.push(("location".into(), "the back room".into()));
        f.push(("unregistered_attendees".into(), 2i64.into()));
        f
    })
    .unwrap();
    let names: Vec<&str> = doc.scalars().iter().map(|(k, _)| *k).collect();
    // Text, sets and maps (notes, facilitators, attendance) are not plain values.
    assert_eq!(
        names,
        [
            "site",
            "activity",
            "activity_type",
            "start",
            "end",
            "location",
            "unregistered_attendees"
        ]
    );
    let values: std::collections::BTreeMap<&str, bothy_sync_core::FieldValue> =
        doc.scalars().into_iter().collect();
    assert_eq!(values["location"], "the back room".into());
    assert_eq!(values["unregistered_attendees"], 2i64.into());
}
