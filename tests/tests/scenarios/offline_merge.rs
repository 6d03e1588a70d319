//! The acceptance test of offline-first sync. Two researchers share a session and a story, the
//! server goes away, both keep working on the same records, the server comes back and both
//! sync. Afterwards every replica holds identical documents; different attendees and different
//! paragraphs merged silently; the one attendee marked differently on each device is a true
//! conflict that keeps both values, names both devices and is visible everywhere; and the
//! analysts' tables (attendance, wellbeing scores, story bodies) show the merged state.
//! Edits made while a sync's answer is still on its way are neither lost nor taken as synced.

use bothy_device::{AttendanceMark, Device, DeviceError, WellbeingForm};
use bothy_sync_core::{FieldValue, Instrument, RecordData, Score};
use bothy_tests::{Backend, Harness, SyncProxy, device_heads, on_both_backends, server_heads};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

on_both_backends!(
    offline_merge_a_syncs_first,
    offline_merge_b_syncs_first,
    edits_during_a_sync_are_kept
);

const PROJECT: &str = "isle-song";

const PARAGRAPHS: [&str; 3] = [
    "When I first came to the hall I sat at the back and said nothing.",
    "By the third week Morag had me singing the harmony line in the chorus.",
    "Now I walk down on Tuesdays whatever the weather does.",
];
const A_FIRST_PARAGRAPH: &str =
    "The first time I came to the hall I hid at the back, sure I could not sing a note.";
const B_LAST_PARAGRAPH: &str = "Next spring we are taking the songs to the care home at Lochinver.";

/// A's WEMWBS answers: total 51; SWEMWBS items (1, 2, 3, 6, 7, 9, 11) sum to 24, metric 21.54.
const A_ITEMS: [i64; 14] = [4, 3, 5, 2, 4, 3, 4, 5, 3, 4, 2, 3, 4, 5];
/// B's WEMWBS answers: total 28; SWEMWBS raw 16, metric 16.36.
const B_ITEMS: [i64; 14] = [2, 2, 3, 1, 2, 3, 2, 1, 2, 3, 2, 2, 1, 2];

#[derive(Clone, Copy, Debug)]
enum Order {
    AFirst,
    BFirst,
}

async fn offline_merge_a_syncs_first(backend: Backend) {
    offline_merge(backend, Order::AFirst).await;
}

async fn offline_merge_b_syncs_first(backend: Backend) {
    offline_merge(backend, Order::BFirst).await;
}

fn wemwbs(participant: Uuid, session: Uuid, answers: [i64; 14]) -> WellbeingForm {
    WellbeingForm {
        participant,
        instrument: Instrument::Wemwbs.to_string(),
        timepoint: "baseline".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
        session: Some(session),
        items: (1..=14u8).zip(answers).collect(),
    }
}

/// Everything a failed sync must leave untouched: each record's heads, and which are unsynced.
async fn local_state(device: &Device) -> (BTreeMap<Uuid, (Vec<String>, bool)>, u64) {
    let mut out = BTreeMap::new();
    for r in device.list(None).await.unwrap() {
        out.insert(r.id, (device_heads(device, r.id).await, r.unsynced));
    }
    (out, device.status().await.unwrap().unsynced_records)
}

async fn offline_merge(backend: Backend, order: Order) {
    let began = chrono::Utc::now().timestamp();
    let Some(mut h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("ada", PROJECT, "researcher").await;
    h.user("ben", PROJECT, "researcher").await;
    let a = h.device("ada", "tablet-a").await;
    let b = h.device("ben", "tablet-b").await;
    let (a_status, b_status) = (a.status().await.unwrap(), b.status().await.unwrap());
    let a_device = a_status.device_id.clone().unwrap();
    let b_device = b_status.device_id.clone().unwrap();
    let a_actor = a_status.actor.clone().unwrap();
    let b_actor = b_status.actor.clone().unwrap();
    assert_ne!(a_device, b_device);

    // On A, in the office: six registered participants, the session, the story.
    let mut people = Vec::new();
    for _ in 0..6 {
        let p = a
            .create_participant(
                None,
                &[
                    ("consent.data_use", true.into()),
                    ("age_band", "55-64".into()),
                ],
            )
            .await
            .unwrap();
        people.push(p.id);
    }
    let s = a
        .create_session(
            None,
            &[
                ("site", "achiltibuie-hall".into()),
                ("activity", "song-circle".into()),
                ("activity_type", "choir".into()),
                ("start", "2026-11-03T10:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    let t = a
        .create_story(
            None,
            &[
                ("title", "Finding my voice".into()),
                ("consent_scope", "project".into()),
                ("body", FieldValue::from(PARAGRAPHS.join("\n\n"))),
            ],
        )
        .await
        .unwrap();
    let up = a.sync().await.unwrap();
    assert_eq!((up.pushed, up.acked), (8, 8), "A pushes its 8 records");
    let down = b.sync().await.unwrap();
    assert_eq!(down.received, 8, "B pulls the participants, S and T");
    assert_eq!(b.status().await.unwrap().records, 8);
    assert_eq!(b.get(s).await.unwrap().view, a.get(s).await.unwrap().view);

    // The server becomes unreachable; both keep working.
    h.stop().await;
    for p in &people[..3] {
        a.mark_attendance(s, *p, AttendanceMark::Present)
            .await
            .unwrap();
    }
    let rewritten = format!(
        "{A_FIRST_PARAGRAPH}\n\n{}\n\n{}",
        PARAGRAPHS[1], PARAGRAPHS[2]
    );
    assert!(a.edit_story_body(t, &rewritten).await.unwrap());
    let wa = a
        .record_wellbeing(&wemwbs(people[0], s, A_ITEMS))
        .await
        .unwrap();

    b.mark_attendance(s, people[3], AttendanceMark::Present)
        .await
        .unwrap();
    b.mark_attendance(s, people[4], AttendanceMark::Present)
        .await
        .unwrap();
    b.mark_attendance(s, people[0], AttendanceMark::Absent)
        .await
        .unwrap();
    let appended = format!("{}\n\n{B_LAST_PARAGRAPH}", PARAGRAPHS.join("\n\n"));
    assert!(b.edit_story_body(t, &appended).await.unwrap());
    let wb = b
        .record_wellbeing(&wemwbs(people[3], s, B_ITEMS))
        .await
        .unwrap();

    // A sync now fails as unreachable, and loses nothing.
    for (name, device) in [("A", &a), ("B", &b)] {
        let before = local_state(device).await;
        assert_eq!(before.1, 3, "{name}: S, T and a new response are unsynced");
        match device.sync().await {
            Err(e @ DeviceError::Unreachable { .. }) => assert!(e.is_temporary()),
            other => panic!("{name}: sync with the server down gave {other:?}"),
        }
        assert_eq!(
            local_state(device).await,
            before,
            "{name}: a failed sync changed the store"
        );
    }
    let RecordData::Story(story) = a.get(t).await.unwrap().view.data else {
        panic!("T is a story");
    };
    assert_eq!(story.body, rewritten, "A's offline edit is still there");

    // The server returns; each device syncs twice.
    h.restart().await;
    assert!(h.healthy().await);
    let (first, second) = match order {
        Order::AFirst => (&a, &b),
        Order::BFirst => (&b, &a),
    };
    let r1 = first.sync().await.unwrap();
    assert_eq!((r1.pushed, r1.acked, r1.received), (3, 3, 0), "first sync");
    let r2 = second.sync().await.unwrap();
    assert_eq!(
        (r2.pushed, r2.acked, r2.received),
        (3, 3, 3),
        "second sync: pushes its 3 records and pulls the other's 3"
    );
    let r3 = first.sync().await.unwrap();
    assert_eq!(
        (r3.pushed, r3.received),
        (0, 3),
        "third sync: nothing to push (pulled changes are not sent back), the other's 3 pulled"
    );
    let r4 = second.sync().await.unwrap();
    assert_eq!(
        (r4.pushed, r4.received),
        (0, 0),
        "fourth sync: nothing left"
    );
    for r in [&r1, &r2, &r3, &r4] {
        assert_eq!(r.requests, 1, "one round trip each");
        assert!(r.reports.is_empty(), "no reports: {:?}", r.reports);
    }

    // A, B and the server hold identical documents for every record.
    let ids: Vec<Uuid> = a.list(None).await.unwrap().iter().map(|r| r.id).collect();
    let b_ids: Vec<Uuid> = b.list(None).await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 10, "6 participants, S, T and 2 responses");
    let mut sorted = ids.clone();
    sorted.sort();
    let mut b_sorted = b_ids;
    b_sorted.sort();
    assert_eq!(sorted, b_sorted, "A and B hold the same records");
    let count = h
        .sql(
            "SELECT COUNT(*) AS n FROM records WHERE project = $1",
            &[PROJECT],
        )
        .await;
    assert_eq!(count[0]["n"], 10, "the server holds the same 10 records");
    for id in &ids {
        let server = h.record(PROJECT, *id).await;
        let heads = server_heads(&server);
        assert_eq!(device_heads(&a, *id).await, heads, "A's heads of {id}");
        assert_eq!(device_heads(&b, *id).await, heads, "B's heads of {id}");
        let (da, db) = (a.get(*id).await.unwrap(), b.get(*id).await.unwrap());
        assert_eq!(da.view, db.view, "A's and B's views of {id}");
        assert_eq!(
            serde_json::to_value(&da.view.data).unwrap(),
            server["record"],
            "device and server views of {id}"
        );
        assert!(!da.unsynced && !db.unsynced, "{id} is synced on both");
        assert!(da.problems.is_empty(), "{id}: {:?}", da.problems);
    }
    for device in [&a, &b] {
        assert_eq!(device.status().await.unwrap().unsynced_records, 0);
    }

    // S: five attendees; the contested one is a true conflict with both values and devices.
    let contested = format!("attendance.{}", people[0]);
    let conflicts = h
        .get(&format!("/api/v1/projects/{PROJECT}/conflicts"))
        .await;
    let conflicts = conflicts.as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "exactly one conflict: {conflicts:?}");
    let c = &conflicts[0];
    assert_eq!(c["record_id"], s.to_string());
    assert_eq!(c["kind"], "session");
    assert_eq!(c["field"], contested);
    let values = c["values"].as_array().unwrap();
    assert_eq!(values.len(), 2, "both values kept: {values:?}");
    let by_value: BTreeMap<&str, &Value> = values
        .iter()
        .map(|v| (v["value"].as_str().unwrap(), v))
        .collect();
    assert_eq!(by_value["present"]["device_id"], a_device.as_str());
    assert_eq!(by_value["present"]["username"], "ada");
    assert_eq!(by_value["present"]["actor"], a_actor.as_str());
    assert_eq!(by_value["absent"]["device_id"], b_device.as_str());
    assert_eq!(by_value["absent"]["username"], "ben");
    assert_eq!(by_value["absent"]["actor"], b_actor.as_str());
    let now = chrono::Utc::now().timestamp();
    for v in values {
        let time = v["time"].as_i64().expect("when it was written");
        assert!(
            (began..=now).contains(&time),
            "a conflicting value's time is the device's clock when it was written: {v}"
        );
    }
    let winners: Vec<&str> = values
        .iter()
        .filter(|v| v["winner"] == true)
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(winners.len(), 1, "one deterministic winner: {values:?}");
    let winner = winners[0];

    let server_s = h.record(PROJECT, s).await;
    let server_conflicts = server_s["conflicts"].as_array().unwrap();
    assert_eq!(server_conflicts.len(), 1);
    assert_eq!(server_conflicts[0]["field"], contested);
    assert_eq!(server_conflicts[0]["values"], c["values"]);

    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    expected.insert(people[0].to_string(), winner.to_owned());
    for p in &people[1..5] {
        expected.insert(p.to_string(), "present".into());
    }
    for (name, device, actor) in [("A", &a, &a_actor), ("B", &b, &b_actor)] {
        let d = device.get(s).await.unwrap();
        let RecordData::Session(session) = &d.view.data else {
            panic!("S is a session");
        };
        assert_eq!(session.attendance, expected, "{name}: attendance of S");
        assert_eq!(d.conflicts.len(), 1, "{name}: {:?}", d.conflicts);
        let dc = &d.conflicts[0];
        assert_eq!(dc.field, contested, "{name}");
        let mut seen: Vec<(String, String, bool)> = dc
            .values
            .iter()
            .map(|v| (v.value.clone(), v.actor.clone(), v.winner))
            .collect();
        seen.sort();
        let mut want = vec![
            ("absent".to_owned(), b_actor.clone(), winner == "absent"),
            ("present".to_owned(), a_actor.clone(), winner == "present"),
        ];
        want.sort();
        assert_eq!(seen, want, "{name}: conflict values (as device {actor})");
    }

    // T: A's rewritten first paragraph and B's new last paragraph, both kept.
    let body = format!(
        "{A_FIRST_PARAGRAPH}\n\n{}\n\n{}\n\n{B_LAST_PARAGRAPH}",
        PARAGRAPHS[1], PARAGRAPHS[2]
    );
    assert_eq!(
        server_s["record"]["attendance"],
        serde_json::json!(expected)
    );
    let server_t = h.record(PROJECT, t).await;
    assert_eq!(server_t["record"]["body"], body.as_str());
    assert!(server_t["conflicts"].as_array().unwrap().is_empty());

    // Scores, derived on each side.
    for (w, total, sw_raw, metric) in [(wa, 51, 24, 21.54), (wb, 28, 16, 16.36)] {
        let want = Score::Wemwbs {
            total,
            swemwbs_raw: sw_raw,
            swemwbs_metric: metric,
        };
        assert_eq!(a.get(w).await.unwrap().score, Some(want.clone()));
        assert_eq!(b.get(w).await.unwrap().score, Some(want.clone()));
        assert_eq!(
            h.record(PROJECT, w).await["score"],
            serde_json::to_value(&want).unwrap()
        );
    }

    // The analysts' tables.
    let rows = h
        .sql(
            "SELECT participant_id, status, project FROM attendance WHERE session_id = $1 \
             ORDER BY participant_id",
            &[&s.to_string()],
        )
        .await;
    assert_eq!(rows.len(), 5, "exactly 5 attendance rows: {rows:?}");
    let projected: BTreeMap<String, String> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["project"], PROJECT);
            (
                r["participant_id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(projected, expected, "attendance rows show the merged state");

    let session_rows = h
        .sql(
            "SELECT needs_review, activity_type FROM sessions WHERE id = $1",
            &[&s.to_string()],
        )
        .await;
    assert_eq!(session_rows.len(), 1);
    assert_eq!(session_rows[0]["needs_review"], 0);
    assert_eq!(session_rows[0]["activity_type"], "choir");

    for (w, participant, total, sw_raw, metric) in [
        (wa, people[0], 51, 24, 21.54),
        (wb, people[3], 28, 16, 16.36),
    ] {
        let rows = h
            .sql(
                "SELECT participant_id, instrument, complete, items_answered, raw_score, \
                 swemwbs_raw, metric_score, session_id FROM wellbeing_responses WHERE id = $1",
                &[&w.to_string()],
            )
            .await;
        assert_eq!(rows.len(), 1, "one row for response {w}");
        let r = &rows[0];
        assert_eq!(r["participant_id"], participant.to_string());
        assert_eq!(r["instrument"], "WEMWBS");
        assert_eq!(r["session_id"], s.to_string());
        assert_eq!(r["complete"], 1);
        assert_eq!(r["items_answered"], 14);
        assert_eq!(r["raw_score"], total, "raw score of {w}");
        assert_eq!(r["swemwbs_raw"], sw_raw, "SWEMWBS raw of {w}");
        let got = r["metric_score"].as_f64().expect("metric score");
        assert!((got - metric).abs() < 1e-9, "metric of {w}: {got}");
    }

    let stories = h
        .sql(
            "SELECT title, body FROM stories WHERE id = $1",
            &[&t.to_string()],
        )
        .await;
    assert_eq!(stories.len(), 1);
    assert_eq!(stories[0]["body"], body.as_str());
    assert_eq!(stories[0]["title"], "Finding my voice");

    h.finish().await;
}

/// A sync whose answer arrives after the device recorded more: the answer acknowledges only
/// what was sent and merges what it brings, the later edit stays unsynced and goes up next
/// time, and every replica converges.
async fn edits_during_a_sync_are_kept(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("ada", PROJECT, "researcher").await;
    h.user("ben", PROJECT, "researcher").await;
    let proxy = SyncProxy::start(h.addr).await;
    let a = h.device_at("ada", "tablet-a", &proxy.url()).await;
    let b = h.device("ben", "tablet-b").await;
    let mut people = Vec::new();
    for _ in 0..3 {
        let p = a
            .create_participant(None, &[("consent.data_use", true.into())])
            .await
            .unwrap();
        people.push(p.id);
    }
    let s = a
        .create_session(
            None,
            &[
                ("site", "achiltibuie-hall".into()),
                ("activity", "song-circle".into()),
                ("activity_type", "choir".into()),
                ("start", "2026-11-17T10:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    // The server has B's mark; A has one of its own, unsynced.
    b.mark_attendance(s, people[0], AttendanceMark::Absent)
        .await
        .unwrap();
    b.sync().await.unwrap();
    a.mark_attendance(s, people[1], AttendanceMark::Present)
        .await
        .unwrap();

    // A's answer is held back; A records another mark while it is on its way.
    proxy.set_response_delay(std::time::Duration::from_millis(800));
    let before = proxy.sync_requests();
    let (summary, ()) = tokio::join!(a.sync_once(), async {
        while proxy.sync_requests() == before {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        a.mark_attendance(s, people[2], AttendanceMark::LeftEarly)
            .await
            .unwrap();
    });
    proxy.set_response_delay(std::time::Duration::ZERO);
    let summary = summary.unwrap();
    assert_eq!((summary.pushed, summary.acked, summary.received), (1, 1, 1));
    let d = a.get(s).await.unwrap();
    assert!(
        d.unsynced,
        "the mark made during the sync is not acknowledged"
    );
    assert_eq!(a.status().await.unwrap().unsynced_records, 1);
    let RecordData::Session(on_a) = &d.view.data else {
        panic!("S is a session");
    };
    let want: BTreeMap<String, String> = [
        (people[0], "absent"),
        (people[1], "present"),
        (people[2], "left_early"),
    ]
    .into_iter()
    .map(|(p, m)| (p.to_string(), m.to_owned()))
    .collect();
    assert_eq!(on_a.attendance, want, "B's mark merged under A's later one");
    let server = h.record(PROJECT, s).await;
    assert_eq!(
        server["record"]["attendance"].as_object().unwrap().len(),
        2,
        "the server has what was sent, not the later mark: {}",
        server["record"]
    );

    // The next sync sends just the later mark; all three replicas agree.
    let next = a.sync_once().await.unwrap();
    assert_eq!((next.pushed, next.acked, next.received), (1, 1, 0));
    assert!(next.reports.is_empty(), "{:?}", next.reports);
    assert_eq!(a.status().await.unwrap().unsynced_records, 0);
    b.sync().await.unwrap();
    let server = h.record(PROJECT, s).await;
    assert_eq!(server["record"]["attendance"], serde_json::json!(want));
    assert_eq!(device_heads(&a, s).await, server_heads(&server));
    assert_eq!(device_heads(&b, s).await, server_heads(&server));
    let rows = h
        .sql(
            "SELECT COUNT(*) AS n FROM attendance WHERE session_id = $1",
            &[&s.to_string()],
        )
        .await;
    assert_eq!(rows[0]["n"], 3);
    h.finish().await;
}
