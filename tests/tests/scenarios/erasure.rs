//! Participants' subject rights: a coordinator exports everything held about a participant,
//! then erases them. The erasure removes their records and history from the server, reaches
//! every device at its next sync, refuses the old changes a device made offline (storing none
//! of them), takes their attendance mark off a session while the session and its other
//! attendees stay, never reaches a device bootstrapping afterwards, and is audited. Researchers
//! and analysts may do neither.

use bothy_device::{AttendanceMark, Device, DeviceError, WellbeingForm};
use bothy_sync_core::protocol::ReportKind;
use bothy_sync_core::{FieldValue, Instrument, RecordData};
use bothy_tests::{Backend, Harness, device_heads, on_both_backends, server_heads};
use serde_json::{Value, json};
use uuid::Uuid;

on_both_backends!(export_then_erase_reaches_every_device);

const P: &str = "glen-walks";
const NAME: &str = "Morag MacLeod";
const PHONE: &str = "07700 900123";

fn wemwbs(participant: Uuid, timepoint: &str, answer: i64) -> WellbeingForm {
    WellbeingForm {
        participant,
        instrument: Instrument::Wemwbs.to_string(),
        timepoint: timepoint.into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
        session: None,
        items: (1..=14u8).map(|i| (i, answer)).collect(),
    }
}

async fn ids_on(device: &Device) -> Vec<Uuid> {
    device
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
}

async fn attendance_on(device: &Device, session: Uuid) -> Vec<String> {
    let RecordData::Session(s) = device.get(session).await.unwrap().view.data else {
        panic!("not a session")
    };
    s.attendance.keys().cloned().collect()
}

async fn count(h: &Harness, sql: &str, id: &str) -> i64 {
    h.sql(sql, &[id]).await[0]["n"].as_i64().unwrap()
}

/// Nothing of `ids` (records about participant `x`) is left on the server.
async fn nothing_left(h: &Harness, x: &str, ids: &[String]) {
    for id in ids {
        for sql in [
            "SELECT COUNT(*) AS n FROM records WHERE id = $1",
            "SELECT COUNT(*) AS n FROM change_log WHERE record_id = $1",
            "SELECT COUNT(*) AS n FROM quarantine WHERE record_id = $1",
            "SELECT COUNT(*) AS n FROM conflicts WHERE record_id = $1",
            "SELECT COUNT(*) AS n FROM record_flags WHERE record_id = $1",
            "SELECT COUNT(*) AS n FROM participants WHERE id = $1",
            "SELECT COUNT(*) AS n FROM wellbeing_responses WHERE id = $1",
            "SELECT COUNT(*) AS n FROM stories WHERE id = $1",
        ] {
            assert_eq!(count(h, sql, id).await, 0, "{sql} for {id}");
        }
    }
    for sql in [
        "SELECT COUNT(*) AS n FROM contacts WHERE participant_id = $1",
        "SELECT COUNT(*) AS n FROM wellbeing_responses WHERE participant_id = $1",
        "SELECT COUNT(*) AS n FROM stories WHERE participant_id = $1",
        "SELECT COUNT(*) AS n FROM attendance WHERE participant_id = $1",
    ] {
        assert_eq!(count(h, sql, x).await, 0, "{sql}");
    }
    let everywhere = h
        .sql(
            "SELECT COUNT(*) AS n FROM contacts WHERE name = $1",
            &[NAME],
        )
        .await;
    assert_eq!(everywhere[0]["n"], 0);
}

async fn status_of(h: &Harness, method: &str, path: &str, token: &str) -> (u16, Value) {
    let url = format!("{}{path}", h.url());
    let req = match method {
        "GET" => h.http.get(url),
        _ => h.http.post(url).json(&json!({})),
    };
    let res = req.bearer_auth(token).send().await.expect("request sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn export_then_erase_reaches_every_device(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    h.user("sam", P, "researcher").await;
    h.user("cora", P, "coordinator").await;
    h.user("ann", P, "analyst").await;
    h.user("dan", P, "researcher").await;
    h.user("pat", P, "researcher").await;
    h.project("elsewhere").await;
    h.user("olga", "elsewhere", "coordinator").await;
    let a = h.device("ruth", "a").await;
    let b = h.device("sam", "b").await;

    // On A: the participant X (with direct identifiers), another participant Y, a session both
    // attended, X's baseline WEMWBS and a story about X.
    let x = a
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("consent.story_sharing", true.into()),
                ("contact.name", NAME.into()),
                ("contact.phone", PHONE.into()),
                ("age_band", "65-74".into()),
                ("referral.source", "gp".into()),
            ],
        )
        .await
        .unwrap()
        .id;
    let y = a
        .create_participant(None, &[("consent.data_use", true.into())])
        .await
        .unwrap()
        .id;
    let s = a
        .create_session(
            None,
            &[
                ("site", "glen-hall".into()),
                ("activity", "walk".into()),
                ("activity_type", "walking".into()),
                ("start", "2026-11-03T10:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    a.mark_attendance(s, x, AttendanceMark::Present)
        .await
        .unwrap();
    a.mark_attendance(s, y, AttendanceMark::Present)
        .await
        .unwrap();
    let w1 = a.record_wellbeing(&wemwbs(x, "baseline", 3)).await.unwrap();
    let t1 = a
        .create_story(
            None,
            &[
                ("title", "The glen again".into()),
                ("consent_scope", "project".into()),
                ("participant", FieldValue::from(x.to_string())),
                (
                    "body",
                    "I had not walked up the glen since my husband died.".into(),
                ),
            ],
        )
        .await
        .unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    for id in [x, y, s, w1, t1] {
        assert!(ids_on(&b).await.contains(&id));
    }

    // A peer worker's device records a questionnaire for X, which it may not push: refused,
    // kept in the server's quarantine, set aside on the device.
    // (Pat is made a peer worker after the device last synced, so it cannot know yet and
    // accepts the questionnaire at capture.)
    let pd = h.device("pat", "pd").await;
    pd.sync().await.unwrap();
    h.admin(
        &format!("/api/v1/admin/projects/{P}/members"),
        serde_json::json!({"username": "pat", "role": "peer_worker"}),
    )
    .await;
    let w3 = pd.record_wellbeing(&wemwbs(x, "interim", 2)).await.unwrap();
    let summary = pd.sync().await.unwrap();
    assert_eq!(summary.set_aside, 1, "{summary:?}");
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) AS n FROM quarantine WHERE record_id = $1",
            &w3.to_string()
        )
        .await,
        1
    );

    // B goes out of reach and keeps working on X.
    b.edit(x, |e| e.set("age_band", "75-84")).await.unwrap();
    let w2 = b
        .record_wellbeing(&wemwbs(x, "follow_up", 4))
        .await
        .unwrap();
    b.mark_attendance(s, x, AttendanceMark::LeftEarly)
        .await
        .unwrap();
    assert_eq!(b.status().await.unwrap().unsynced_records, 3);

    // Researchers, peer workers, analysts and other projects' coordinators may neither export
    // nor erase.
    let export_path = format!("/api/v1/projects/{P}/participants/{x}/export");
    let erase_path = format!("/api/v1/projects/{P}/participants/{x}/erase");
    for who in ["ruth", "ann", "pat", "olga"] {
        let token = h.login(who, &format!("{who}-password")).await.unwrap();
        for (method, path) in [("GET", &export_path), ("POST", &erase_path)] {
            let (status, body) = status_of(&h, method, path, &token).await;
            assert_eq!(status, 403, "{who} {method} {path}: {body}");
        }
    }
    let cora = h.login("cora", "cora-password").await.unwrap();
    let (status, _) = status_of(
        &h,
        "GET",
        &format!(
            "/api/v1/projects/{P}/participants/{}/export",
            Uuid::new_v4()
        ),
        &cora,
    )
    .await;
    assert_eq!(status, 404, "an unknown participant");

    // The coordinator's export holds everything, direct identifiers included.
    let export = h.get_as(&export_path, &cora).await.unwrap();
    let contact = &export["contacts"][0]["record"];
    assert_eq!(contact["name"], NAME, "{export}");
    assert_eq!(contact["phone"], PHONE);
    let record = &export["participant"]["record"];
    assert_eq!(record["age_band"], "65-74");
    assert_eq!(record["referral_source"], "gp");
    assert_eq!(record["consent_data_use"], true);
    assert!(
        !export["participant"]["history"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(export["participant"]["history"][0]["username"], "ruth");
    let responses = export["wellbeing_responses"].as_array().unwrap();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["id"], w1.to_string());
    assert!(!responses[0]["score"].is_null(), "{}", responses[0]);
    assert_eq!(export["stories"][0]["id"], t1.to_string());
    assert_eq!(export["sessions"][0]["session_id"], s.to_string());
    assert_eq!(export["sessions"][0]["mark"], "present");
    let held: Vec<&str> = export["quarantine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(held, [w3.to_string()], "{export}");
    assert!(export["erased"].is_null());

    // The erasure.
    let erased = h
        .post_json(
            &erase_path,
            Some(&cora),
            json!({"reason": "withdrew consent"}),
        )
        .await
        .unwrap();
    assert_eq!(erased["already_erased"], false, "{erased}");
    let counts = &erased["counts"];
    assert_eq!(counts["participants"], 1, "{erased}");
    assert_eq!(counts["wellbeing_responses"], 1);
    assert_eq!(counts["stories"], 1);
    assert_eq!(counts["contacts"], 1);
    assert_eq!(counts["sessions_updated"], 1);
    assert_eq!(
        counts["tombstones"], 5,
        "X, their contact record, W1, T1 and the refused W3"
    );
    assert_eq!(counts["quarantine_entries"], 1);
    assert!(counts["change_log_rows"].as_u64().unwrap() >= 3);
    let again = h
        .post_json(&erase_path, Some(&cora), json!({}))
        .await
        .unwrap();
    assert_eq!(again["already_erased"], true, "idempotent: {again}");
    assert_eq!(again["counts"]["tombstones"], 0);

    let xs = x.to_string();
    let gone: Vec<String> = [x, w1, t1, w2, w3].iter().map(Uuid::to_string).collect();
    nothing_left(&h, &xs, &gone).await;
    let tombstones = h
        .sql(
            "SELECT record_id, kind FROM erasures WHERE participant_id = $1 ORDER BY kind",
            &[&xs],
        )
        .await;
    assert_eq!(tombstones.len(), 5, "{tombstones:?}");
    assert_eq!(tombstones[0]["kind"], "contact");
    for id in [x, w1, t1] {
        let err = h
            .get_as(&format!("/api/v1/projects/{P}/records/{id}"), &cora)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
    }
    // After the erasure the export shows the tombstones only.
    let export = h.get_as(&export_path, &cora).await.unwrap();
    assert!(export["participant"].is_null(), "{export}");
    assert_eq!(export["erased"]["records"].as_array().unwrap().len(), 5);
    assert_eq!(export["contacts"], json!([]));
    assert!(!export.to_string().contains(NAME));
    // The session stays, with Y only.
    let session = h.record(P, s).await;
    let marks: Vec<&String> = session["record"]["attendance"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(marks, [&y.to_string()], "{session}");
    let attendance = h
        .sql(
            "SELECT participant_id FROM attendance WHERE session_id = $1",
            &[&s.to_string()],
        )
        .await;
    assert_eq!(attendance.len(), 1);
    assert_eq!(attendance[0]["participant_id"], y.to_string());

    // A syncs: X, their contact record, the response and the story leave it; the session loses
    // X's mark.
    let summary = a.sync().await.unwrap();
    assert_eq!(summary.erased, 4, "{summary:?}");
    for id in [x, w1, t1] {
        assert!(matches!(a.get(id).await, Err(DeviceError::NotFound(_))));
    }
    assert_eq!(attendance_on(&a, s).await, [y.to_string()]);

    // B syncs its old changes: X and the new response are refused as erased and stored
    // nowhere; the session's mark is merged and taken off again; B purges everything of X.
    let summary = b.sync().await.unwrap();
    let erased_reports: Vec<Uuid> = summary
        .reports
        .iter()
        .filter(|r| r.kind == ReportKind::Erased)
        .map(|r| r.id)
        .collect();
    assert!(erased_reports.contains(&x), "{summary:?}");
    assert!(erased_reports.contains(&w2), "{summary:?}");
    assert_eq!(summary.set_aside, 0);
    let on_b = ids_on(&b).await;
    for id in [x, w1, t1, w2] {
        assert!(!on_b.contains(&id), "{id} is still on B");
    }
    assert_eq!(b.set_aside_records(100).await.unwrap().len(), 0);
    assert!(
        b.reports(100)
            .await
            .unwrap()
            .iter()
            .all(|r| ![x, w2].contains(&r.record_id)),
    );
    assert_eq!(b.status().await.unwrap().unsynced_records, 0);
    assert_eq!(attendance_on(&b, s).await, [y.to_string()]);
    nothing_left(&h, &xs, &gone).await;
    let server_marks = h
        .sql(
            "SELECT COUNT(*) AS n FROM attendance WHERE session_id = $1",
            &[&s.to_string()],
        )
        .await;
    assert_eq!(server_marks[0]["n"], 1);
    let again = b.sync().await.unwrap();
    assert_eq!(again.pushed, 0, "nothing of X is pushed again: {again:?}");

    // The peer worker's device purges X and its set-aside copy of W3.
    let summary = pd.sync().await.unwrap();
    assert!(summary.erased >= 2, "{summary:?}");
    assert!(pd.set_aside_records(100).await.unwrap().is_empty());
    assert!(!ids_on(&pd).await.contains(&x));

    // Every replica agrees on the session.
    a.sync().await.unwrap();
    let heads = server_heads(&h.record(P, s).await);
    assert_eq!(device_heads(&a, s).await, heads);
    assert_eq!(device_heads(&b, s).await, heads);
    assert_eq!(attendance_on(&a, s).await, [y.to_string()]);

    // A device bootstrapping now never sees X.
    let c = h.device("dan", "c").await;
    let summary = c.sync().await.unwrap();
    assert_eq!(summary.erased, 0);
    let on_c = ids_on(&c).await;
    assert!(on_c.contains(&y) && on_c.contains(&s), "{on_c:?}");
    for id in [x, w1, t1, w2] {
        assert!(!on_c.contains(&id));
    }
    assert_eq!(attendance_on(&c, s).await, [y.to_string()]);

    // Both actions are audited, with counts and no personal data.
    let audit = h
        .sql(
            "SELECT action, target, details FROM audit_log \
             WHERE action IN ('participant.export', 'participant.erase') ORDER BY id",
            &[],
        )
        .await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "participant.export",
            "participant.erase",
            "participant.export"
        ]
    );
    for row in &audit {
        assert_eq!(row["target"], xs.as_str());
        let details = row["details"].as_str().unwrap();
        assert!(
            !details.contains(NAME) && !details.contains(PHONE),
            "{details}"
        );
    }
    let erase_details: Value = serde_json::from_str(audit[1]["details"].as_str().unwrap()).unwrap();
    assert_eq!(erase_details["counts"]["tombstones"], 5);
    h.finish().await;
}
