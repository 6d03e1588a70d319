//! Capture with no server at all: the store, refusals that name the field, incomplete forms,
//! participant codes, and a sync that cannot reach the server losing nothing.

use crate::*;
use bothy_device::bothy_sync_core::{RecordData, RecordKind, Score};
use bothy_device::{AttendanceMark, WellbeingForm};
use uuid::Uuid;

fn wemwbs(participant: Uuid, answers: &[(u8, i64)]) -> WellbeingForm {
    WellbeingForm {
        participant,
        instrument: "WEMWBS".into(),
        timepoint: "baseline".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        session: None,
        items: answers.iter().copied().collect(),
    }
}

fn all_items(n: u8, answer: i64) -> Vec<(u8, i64)> {
    (1..=n).map(|i| (i, answer)).collect()
}

#[tokio::test]
async fn the_store_opens_and_capture_waits_for_enrolment() {
    let (device, dir) = fresh_device().await;
    let status = device.status().await.unwrap();
    assert_eq!(status.server, None);
    assert_eq!(status.records, 0);

    let err = device.create_participant(None, &[]).await.unwrap_err();
    assert!(matches!(err, DeviceError::NotEnrolled));
    assert_eq!(
        err.to_string(),
        "enrol this device first: bothy enrol --server URL --code CODE"
    );
    let err = device.sync().await.unwrap_err();
    assert!(matches!(err, DeviceError::NotEnrolled));

    // Reopening an existing store runs no migration twice.
    device.close().await;
    let again = Device::open(dir.path().join("device.db")).await.unwrap();
    assert!(!again.is_enrolled().await.unwrap());
}

#[tokio::test]
async fn wemwbs_answers_out_of_range_are_refused_naming_the_item() {
    let (device, _dir) = offline_device().await;
    let p = device.create_participant(None, &[]).await.unwrap();

    let mut answers = all_items(14, 3);
    answers[2] = (3, 6);
    let err = device
        .record_wellbeing(&wemwbs(p.id, &answers))
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["items.3"]);
    assert!(
        err.to_string().starts_with("items.3: must be 1 to 5"),
        "{err}"
    );

    answers[2] = (3, 0);
    let err = device
        .record_wellbeing(&wemwbs(p.id, &answers))
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["items.3"]);

    let mut answers = all_items(14, 3);
    answers.push((0, 3));
    let err = device
        .record_wellbeing(&wemwbs(p.id, &answers))
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["items.0"]);
    assert!(
        err.to_string().contains("WEMWBS has items 1 to 14"),
        "{err}"
    );

    // Nothing was stored.
    let stored = device.list(Some(RecordKind::Wellbeing)).await.unwrap();
    assert!(stored.is_empty());
}

#[tokio::test]
async fn a_session_ending_before_it_starts_is_refused_naming_end() {
    let (device, _dir) = offline_device().await;
    let fields = session_fields("2026-11-01T10:00:00Z", Some("2026-11-01T09:00:00Z"));
    let err = device.create_session(None, &fields).await.unwrap_err();
    assert_eq!(fields_named(&err), ["end"]);

    // Editing an existing session into the same state is refused too, and changes nothing.
    let session = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    let heads = device.heads(session).await.unwrap();
    let err = device
        .edit(session, |e| e.set("end", "2026-11-01T09:30:00Z"))
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["end"]);
    assert_eq!(device.heads(session).await.unwrap(), heads);
}

#[tokio::test]
async fn attendance_for_an_unknown_participant_is_refused_naming_it() {
    let (device, _dir) = offline_device().await;
    let session = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    let stranger = Uuid::now_v7();
    let err = device
        .mark_attendance(session, stranger, AttendanceMark::Present)
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), [format!("attendance.{stranger}")]);
    assert!(
        err.to_string().contains("not known on this device"),
        "{err}"
    );

    let ana = device.create_participant(None, &[]).await.unwrap();
    device
        .mark_attendance(session, ana.id, AttendanceMark::LeftEarly)
        .await
        .unwrap();
    let RecordData::Session(s) = device.get(session).await.unwrap().view.data else {
        panic!("not a session");
    };
    assert_eq!(s.attendance[&ana.id.to_string()], "left_early");

    // A participant is not a session.
    let err = device
        .mark_attendance(ana.id, ana.id, AttendanceMark::Present)
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn an_incomplete_form_is_stored_and_shown_unscored_with_the_reason() {
    let (device, _dir) = offline_device().await;
    let p = device.create_participant(None, &[]).await.unwrap();
    let answers: Vec<(u8, i64)> = all_items(14, 4)
        .into_iter()
        .filter(|(i, _)| *i != 9)
        .collect();
    let id = device
        .record_wellbeing(&wemwbs(p.id, &answers))
        .await
        .unwrap();

    let details = device.get(id).await.unwrap();
    match details.score {
        Some(Score::Incomplete { missing, reason }) => {
            assert_eq!(missing, [9]);
            assert!(reason.contains("13 of 14"), "{reason}");
        }
        other => panic!("expected an incomplete score, got {other:?}"),
    }
    assert!(
        details.problems.is_empty(),
        "an incomplete form is still a valid record"
    );
    let listed = device.list(Some(RecordKind::Wellbeing)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].label.ends_with("incomplete"),
        "{}",
        listed[0].label
    );

    // A complete form is scored.
    let id = device
        .record_wellbeing(&wemwbs(p.id, &all_items(14, 4)))
        .await
        .unwrap();
    let score = device.get(id).await.unwrap().score.unwrap();
    assert_eq!(score.raw(), Some(56));
}

#[tokio::test]
async fn wellbeing_needs_a_known_participant() {
    let (device, _dir) = offline_device().await;
    let err = device
        .record_wellbeing(&wemwbs(Uuid::now_v7(), &all_items(14, 3)))
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["participant"]);
}

#[tokio::test]
async fn a_sync_that_cannot_reach_the_server_loses_nothing() {
    let (device, dir) = offline_device().await;
    let p = device
        .create_participant(None, &[("age_band", "25-34".into())])
        .await
        .unwrap();
    let session = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    device
        .mark_attendance(session, p.id, AttendanceMark::Present)
        .await
        .unwrap();
    let before = device.heads(session).await.unwrap();

    let err = device.sync().await.unwrap_err();
    assert!(matches!(err, DeviceError::Unreachable { .. }), "{err:?}");
    assert!(err.is_temporary());
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot reach the server at http://127.0.0.1:9: "),
        "{msg}"
    );
    assert!(
        msg.ends_with("your records are safe on this device and will sync later"),
        "{msg}"
    );

    let status = device.status().await.unwrap();
    assert_eq!(status.unsynced_records, 2);
    assert_eq!(status.last_sync_at, None);

    // Still there after the app is closed and reopened.
    device.close().await;
    let device = Device::open(dir.path().join("device.db")).await.unwrap();
    assert_eq!(device.status().await.unwrap().unsynced_records, 2);
    assert_eq!(device.heads(session).await.unwrap(), before);
    assert!(device.list(None).await.unwrap().iter().all(|r| r.unsynced));
}

#[tokio::test]
async fn participant_codes_carry_a_device_prefix_and_a_counter() {
    let (device, _dir) = offline_device().await;
    let first = device.create_participant(None, &[]).await.unwrap();
    // A refused capture does not use up a number.
    let err = device
        .create_participant(None, &[("age_band", "ancient".into())])
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["age_band"]);
    let second = device.create_participant(None, &[]).await.unwrap();

    let (prefix, n) = first.code.split_once('-').unwrap();
    assert_eq!(prefix.len(), 4);
    assert_eq!(n, "0001");
    assert_eq!(second.code, format!("{prefix}-0002"));

    let err = device
        .create_participant(None, &[("code", "MINE-1".into())])
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["code"]);

    // Found by code (any case), full id, or a unique end of the id.
    let lower = second.code.to_lowercase();
    assert_eq!(device.find(None, &lower).await.unwrap(), second.id);
    let full = second.id.to_string();
    assert_eq!(
        device
            .find(Some(RecordKind::Participant), &full)
            .await
            .unwrap(),
        second.id
    );
    assert_eq!(
        device.find(None, &full[full.len() - 8..]).await.unwrap(),
        second.id
    );
    // Both ids start with the same timestamp digits: a short start is ambiguous.
    let err = device.find(None, &full[..4]).await.unwrap_err();
    assert!(matches!(err, DeviceError::Ambiguous { .. }), "{err:?}");
    let err = device
        .find(Some(RecordKind::Session), &full)
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn capture_goes_only_to_projects_the_user_may_write() {
    let (device, _dir) = fresh_device().await;
    device
        .adopt_identity(NOWHERE, &offline_enrolment("analyst"))
        .await
        .unwrap();
    let err = device.create_participant(None, &[]).await.unwrap_err();
    assert!(matches!(err, DeviceError::Usage(_)));
    assert!(err.to_string().contains("analyst"), "{err}");

    let (device, _dir) = offline_device().await;
    let err = device
        .create_participant(Some("other-project"), &[])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not a member of project `other-project`"),
        "{err}"
    );
}

#[tokio::test]
async fn stories_take_their_author_and_edit_their_body() {
    let (device, _dir) = offline_device().await;
    let p = device.create_participant(None, &[]).await.unwrap();
    let story = device
        .create_story(
            None,
            &[
                ("title", "The walk to the broch".into()),
                ("consent_scope", "project".into()),
                ("participant", p.id.to_string().into()),
                ("body", "We walked.".into()),
                ("themes.belonging", true.into()),
            ],
        )
        .await
        .unwrap();
    assert!(
        device
            .edit_story_body(story, "We walked in the rain.")
            .await
            .unwrap()
    );
    assert!(
        !device
            .edit_story_body(story, "We walked in the rain.")
            .await
            .unwrap()
    );
    let RecordData::Story(s) = device.get(story).await.unwrap().view.data else {
        panic!("not a story");
    };
    assert_eq!(s.author, "ana");
    assert_eq!(s.body, "We walked in the rain.");
    assert!(s.themes.contains("belonging"));

    let err = device
        .create_story(
            None,
            &[("title", "x".into()), ("consent_scope", "everyone".into())],
        )
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["consent_scope"]);
}

#[tokio::test]
async fn every_capture_is_its_own_change_authored_by_the_device() {
    let (device, _dir) = offline_device().await;
    let actor = device.actor().await.unwrap().unwrap();
    let session = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    device
        .edit(session, |e| {
            e.set("notes", "Wet day; good turnout.");
            e.set("unregistered_attendees", 3i64);
        })
        .await
        .unwrap();
    let mut doc = device.document(session).await.unwrap();
    let changes = doc.automerge().get_changes(&[]);
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| c.actor_id() == &actor));
}

#[tokio::test]
async fn registration_and_referral_dates_default_to_the_uk_day_and_given_ones_are_kept() {
    use bothy_device::bothy_sync_core::{FieldValue, time::uk_today};
    let (device, _dir) = offline_device().await;
    let participant = |id| {
        let device = &device;
        async move {
            let RecordData::Participant(p) = device.get(id).await.unwrap().view.data else {
                panic!("a participant");
            };
            p
        }
    };
    // Today is read before and after: a capture across midnight gets either day.
    let before = uk_today().to_string();
    let plain = device.create_participant(None, &[]).await.unwrap();
    let referred = device
        .create_participant(None, &[("referral.source", "gp".into())])
        .await
        .unwrap();
    let after = uk_today().to_string();
    let today = |v: Option<&FieldValue>| {
        let Some(FieldValue::Str(day)) = v else {
            panic!("a date, not {v:?}");
        };
        assert!(*day == before || *day == after, "{day} is not today");
        day.clone()
    };

    let p = participant(plain.id).await;
    today(p.more.get("registered_on"));
    assert_eq!(p.referral_date, None, "no referral, no referral date");
    let p = participant(referred.id).await;
    let day = today(p.more.get("registered_on"));
    assert_eq!(p.referral_date.as_deref(), Some(day.as_str()));

    let typed = device
        .create_participant(
            None,
            &[
                ("registered_on", "2026-03-30".into()),
                ("referral.source", "self".into()),
                ("referral.date", "2026-03-02".into()),
            ],
        )
        .await
        .unwrap();
    let p = participant(typed.id).await;
    assert_eq!(
        p.more.get("registered_on"),
        Some(&FieldValue::Str("2026-03-30".into()))
    );
    assert_eq!(p.referral_date.as_deref(), Some("2026-03-02"));

    // A registration date that is not a date is refused, naming the field.
    let err = device
        .create_participant(None, &[("registered_on", "30/03/2026".into())])
        .await
        .unwrap_err();
    assert_eq!(fields_named(&err), ["registered_on"]);
}
