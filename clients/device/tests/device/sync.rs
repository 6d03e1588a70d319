//! Sync against the in-memory server: acknowledgement, convergence of two devices, conflicts,
//! refusals, erasure, failures at every point, resends and paging.

use crate::fake_server::PASSWORD;
use crate::*;
use bothy_device::AttendanceMark;
use bothy_device::bothy_sync_core::protocol::{RecordReport, ReportKind};
use bothy_device::bothy_sync_core::{RecordData, RecordKind};
use uuid::Uuid;

async fn sorted_heads(
    device: &Device,
    id: Uuid,
) -> Vec<bothy_device::bothy_sync_core::automerge::ChangeHash> {
    let mut h = device.heads(id).await.unwrap();
    h.sort();
    h
}

#[tokio::test]
async fn enrolment_then_one_request_pushes_everything_and_it_is_acknowledged() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let status = device.status().await.unwrap();
    assert_eq!(status.server.as_deref(), Some(server.url.as_str()));
    assert_eq!(status.username.as_deref(), Some("ana"));
    assert_eq!(status.default_project.as_deref(), Some(PROJECT));

    let p = device.create_participant(None, &[]).await.unwrap();
    let s = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    device
        .mark_attendance(s, p.id, AttendanceMark::Present)
        .await
        .unwrap();

    let summary = device.sync().await.unwrap();
    assert_eq!(summary.requests, 1);
    assert_eq!(summary.pushed, 2);
    assert_eq!(summary.acked, 2);
    assert_eq!(summary.received, 0, "nothing new for this device");
    let status = device.status().await.unwrap();
    assert_eq!(status.unsynced_records, 0);
    assert!(status.last_sync_at.is_some());
    assert_eq!(server.heads(s), sorted_heads(&device, s).await);

    // Nothing left to send.
    let summary = device.sync().await.unwrap();
    assert_eq!(summary.pushed, 0);
    assert_eq!(server.requests().last().unwrap().push.len(), 0);

    // A new edit sends only the new change.
    device.edit(s, |e| e.set("notes", "Rain.")).await.unwrap();
    device.sync().await.unwrap();
    let last = server.requests().last().unwrap().clone();
    assert_eq!(last.push.len(), 1);
    assert_eq!(last.push[0].changes.len(), 1);
}

#[tokio::test]
async fn two_devices_editing_offline_converge() {
    let server = FakeServer::start().await;
    let (a, _da) = enrolled_device(&server).await;
    let (b, _db) = enrolled_device(&server).await;

    let p = a.create_participant(None, &[]).await.unwrap();
    let s = a
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    let story = a
        .create_story(
            None,
            &[
                ("title", "Harbour".into()),
                ("consent_scope", "project".into()),
                ("body", "The boats came in.".into()),
            ],
        )
        .await
        .unwrap();
    a.sync().await.unwrap();
    let received = b.sync().await.unwrap();
    assert_eq!(received.received, 3);
    assert_eq!(b.status().await.unwrap().unsynced_records, 0);
    // B's device can refer to A's participant now.
    assert_eq!(b.find(None, &p.code).await.unwrap(), p.id);

    // Offline on both: different fields, different attendees, both ends of the story.
    a.mark_attendance(s, p.id, AttendanceMark::Present)
        .await
        .unwrap();
    a.edit_story_body(story, "Early: the boats came in.")
        .await
        .unwrap();
    let q = b.create_participant(None, &[]).await.unwrap();
    b.mark_attendance(s, q.id, AttendanceMark::Absent)
        .await
        .unwrap();
    b.edit(s, |e| e.set("notes", "Wind from the west."))
        .await
        .unwrap();
    b.edit_story_body(story, "The boats came in. Late.")
        .await
        .unwrap();

    a.sync().await.unwrap();
    b.sync().await.unwrap();
    a.sync().await.unwrap();

    for id in [s, story, p.id, q.id] {
        assert_eq!(sorted_heads(&a, id).await, sorted_heads(&b, id).await);
        assert_eq!(sorted_heads(&a, id).await, server.heads(id));
        assert_eq!(a.get(id).await.unwrap().view, b.get(id).await.unwrap().view);
    }
    let RecordData::Session(session) = a.get(s).await.unwrap().view.data else {
        panic!()
    };
    assert_eq!(session.attendance.len(), 2);
    assert_eq!(session.notes, "Wind from the west.");
    let RecordData::Story(text) = a.get(story).await.unwrap().view.data else {
        panic!()
    };
    assert_eq!(text.body, "Early: the boats came in. Late.");
    assert_eq!(a.status().await.unwrap().unsynced_records, 0);
    assert_eq!(b.status().await.unwrap().unsynced_records, 0);
}

#[tokio::test]
async fn the_same_field_set_twice_offline_is_a_conflict_with_both_values_kept() {
    let server = FakeServer::start().await;
    let (a, _da) = enrolled_device(&server).await;
    let (b, _db) = enrolled_device(&server).await;
    let s = a
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();

    a.edit(s, |e| e.set("end", "2026-11-01T12:00:00Z"))
        .await
        .unwrap();
    b.edit(s, |e| e.set("end", "2026-11-01T12:30:00Z"))
        .await
        .unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    a.sync().await.unwrap();

    let details = a.get(s).await.unwrap();
    assert_eq!(details.conflicts.len(), 1);
    let conflict = &details.conflicts[0];
    assert_eq!(conflict.field, "end");
    let values: Vec<&str> = conflict.values.iter().map(|v| v.value.as_str()).collect();
    assert!(values.contains(&"2026-11-01T12:00:00Z") && values.contains(&"2026-11-01T12:30:00Z"));
    let a_actor = a.actor().await.unwrap().unwrap().to_hex_string();
    assert!(conflict.values.iter().any(|v| v.actor == a_actor));
    assert_eq!(conflict.values.iter().filter(|v| v.winner).count(), 1);
    assert_eq!(b.get(s).await.unwrap().conflicts, details.conflicts);
}

#[tokio::test]
async fn a_refused_record_is_set_aside_not_deleted() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let kept = device.create_participant(None, &[]).await.unwrap();
    let refused = device.create_participant(None, &[]).await.unwrap();
    server.with(|s| s.refuse.insert(refused.id));

    let summary = device.sync().await.unwrap();
    assert_eq!(summary.set_aside, 1);
    assert_eq!(summary.acked, 1);
    assert!(
        summary
            .reports
            .iter()
            .any(|r| r.id == refused.id && r.kind == ReportKind::Refused)
    );

    let ids: Vec<Uuid> = device
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [kept.id]);
    let status = device.status().await.unwrap();
    assert_eq!(status.unsynced_records, 0);
    assert_eq!(status.set_aside_count, 1);
    assert_eq!(status.set_aside[0].record_id, refused.id);
    assert!(status.set_aside[0].reason.starts_with("not_allowed"));
    assert_eq!(status.recent_reports[0].kind, "refused");
    // The local copy is intact.
    let bytes = device
        .set_aside_document(status.set_aside[0].id)
        .await
        .unwrap();
    let doc = bothy_device::bothy_sync_core::RecordDoc::load(
        &bytes,
        bothy_device::bothy_sync_core::automerge::ActorId::random(),
    )
    .unwrap();
    assert_eq!(doc.envelope().unwrap().kind, RecordKind::Participant);
}

#[tokio::test]
async fn a_refused_edit_is_set_aside_and_replaced_by_the_servers_copy() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let s = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    device.sync().await.unwrap();
    device
        .edit(s, |e| e.set("notes", "refused words"))
        .await
        .unwrap();
    server.with(|st| st.refuse.insert(s));
    let summary = device.sync().await.unwrap();
    assert_eq!(summary.set_aside, 1);
    assert_eq!(summary.received, 1);
    let RecordData::Session(session) = device.get(s).await.unwrap().view.data else {
        panic!()
    };
    assert_eq!(
        session.notes, "",
        "the server's copy replaced the refused one"
    );
    assert_eq!(sorted_heads(&device, s).await, server.heads(s));
    assert_eq!(device.status().await.unwrap().unsynced_records, 0);
}

#[tokio::test]
async fn erasure_on_the_server_purges_the_device() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let p = device.create_participant(None, &[]).await.unwrap();
    let other = device.create_participant(None, &[]).await.unwrap();
    device.sync().await.unwrap();
    server.erase(p.id);
    let summary = device.sync().await.unwrap();
    assert_eq!(summary.erased, 1);
    let ids: Vec<Uuid> = device
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [other.id]);
    assert!(matches!(
        device.get(p.id).await,
        Err(DeviceError::NotFound(_))
    ));
}

#[tokio::test]
async fn erasure_purges_unsynced_changes_set_aside_copies_and_reports() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let p = device.create_participant(None, &[]).await.unwrap();
    let other = device.create_participant(None, &[]).await.unwrap();
    device.sync().await.unwrap();
    // Offline, the device edits the participant; meanwhile the server erases them. The push of
    // the edit is refused (this server refuses erased ids), so the copy would be set aside and
    // a report stored, but the same answer names the id as erased: all of it goes.
    device
        .edit(p.id, |e| e.set("age_band", "25-34"))
        .await
        .unwrap();
    assert_eq!(device.status().await.unwrap().unsynced_records, 1);
    server.erase(p.id);
    let summary = device.sync().await.unwrap();
    assert_eq!(summary.erased, 1);
    let ids: Vec<Uuid> = device
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [other.id]);
    let status = device.status().await.unwrap();
    assert_eq!(status.unsynced_records, 0);
    assert!(device.set_aside_records(100).await.unwrap().is_empty());
    assert!(
        device
            .reports(100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.record_id != p.id)
    );
    // Nothing of it is ever pushed again.
    device.sync().await.unwrap();
    let last = server.requests().pop().unwrap();
    assert!(last.push.iter().all(|r| r.id != p.id), "{last:?}");
}

#[tokio::test]
async fn a_failed_request_changes_nothing_and_a_retry_finishes_the_job() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let s = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();

    server.with(|st| st.fail_next = 1);
    let err = device.sync().await.unwrap_err();
    assert!(
        matches!(err, DeviceError::ServerFault { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_temporary());
    assert!(
        err.to_string().contains("The database is unreachable."),
        "{err}"
    );
    assert_eq!(device.status().await.unwrap().unsynced_records, 1);
    assert!(server.doc(s).is_none());

    // The server stores the changes but the answer is lost: the device still holds them as
    // unsynced, and the retry is acknowledged without duplicating anything.
    server.with(|st| st.lose_next_answer = true);
    assert!(device.sync().await.is_err());
    assert_eq!(device.status().await.unwrap().unsynced_records, 1);
    assert!(server.doc(s).is_some());
    let summary = device.sync().await.unwrap();
    assert_eq!(summary.acked, 1);
    assert_eq!(device.status().await.unwrap().unsynced_records, 0);
    assert_eq!(server.heads(s), sorted_heads(&device, s).await);
    assert_eq!(server.doc(s).unwrap().automerge().get_changes(&[]).len(), 1);
}

#[tokio::test]
async fn nothing_is_marked_acknowledged_unless_the_server_says_so() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    device.create_participant(None, &[]).await.unwrap();
    server.with(|st| {
        st.hook = Some(Box::new(|request, response| {
            response.unacked = request.push.iter().map(|p| p.id).collect();
        }));
    });
    let summary = device.sync().await.unwrap();
    assert_eq!(summary.acked, 0);
    assert_eq!(device.status().await.unwrap().unsynced_records, 1);
}

#[tokio::test]
async fn a_resend_request_pushes_the_whole_history_in_the_same_sync() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let s = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    device.sync().await.unwrap();
    device.edit(s, |e| e.set("notes", "one")).await.unwrap();
    let mut first = true;
    server.with(|st| {
        st.hook = Some(Box::new(move |request, response| {
            if first && !request.push.is_empty() {
                first = false;
                let id = request.push[0].id;
                response.unacked.push(id);
                response.reports.push(RecordReport {
                    id,
                    kind: ReportKind::Resend,
                    code: "missing_dependencies".into(),
                    field: None,
                    message: "Send the whole history.".into(),
                });
            }
        }));
    });
    let summary = device.sync().await.unwrap();
    assert_eq!(summary.requests, 2);
    let requests = server.requests();
    let last = requests.last().unwrap();
    assert_eq!(last.push.len(), 1);
    // The whole history goes again, as changes or as one saved document (whichever is
    // smaller): creation and edit.
    let mut sent = last.push[0].changes.len();
    if let Some(document) = &last.push[0].document {
        let mut doc = bothy_device::bothy_sync_core::automerge::AutoCommit::load(document).unwrap();
        sent += doc.get_changes(&[]).len();
    }
    assert_eq!(sent, 2, "creation and edit");
    assert_eq!(device.status().await.unwrap().unsynced_records, 0);
}

#[tokio::test]
async fn quarantine_and_flag_reports_are_kept_for_the_user() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let s = device
        .create_session(None, &session_fields("2026-11-01T10:00:00Z", None))
        .await
        .unwrap();
    server.with(|st| {
        st.hook = Some(Box::new(move |_, response| {
            response.reports.push(RecordReport {
                id: s,
                kind: ReportKind::Flagged,
                code: "needs_review".into(),
                field: Some("end".into()),
                message: "The merged session ends before it starts.".into(),
            });
        }));
    });
    device.sync().await.unwrap();
    let status = device.status().await.unwrap();
    assert_eq!(status.recent_reports.len(), 1);
    assert_eq!(status.recent_reports[0].kind, "flagged");
    assert_eq!(status.recent_reports[0].field.as_deref(), Some("end"));
    assert_eq!(
        status.unsynced_records, 0,
        "a flagged record is still acknowledged"
    );
}

#[tokio::test]
async fn a_new_device_is_bootstrapped_over_several_pages() {
    let server = FakeServer::start().await;
    let (a, _da) = enrolled_device(&server).await;
    for _ in 0..5 {
        a.create_participant(None, &[]).await.unwrap();
    }
    a.sync().await.unwrap();
    server.with(|st| st.page_size = 2);
    let (b, _db) = enrolled_device(&server).await;
    let summary = b.sync().await.unwrap();
    assert_eq!(summary.received, 5);
    assert_eq!(summary.requests, 3);
    assert!(!summary.more);
    assert_eq!(
        b.list(Some(RecordKind::Participant)).await.unwrap().len(),
        5
    );
    let status = b.status().await.unwrap();
    assert_eq!(status.unsynced_records, 0);
    assert!(status.cursor.seq > 0);
}

#[tokio::test]
async fn login_registers_the_device_and_keeps_no_password() {
    let server = FakeServer::start().await;
    let (device, dir) = fresh_device().await;
    let err = device
        .login(&server.url, "ana", "wrong", "tablet")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeviceError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the server refused: Wrong username or password. (bad_credentials)"
    );
    let enrolled = device
        .login(&server.url, "ana", PASSWORD, "tablet")
        .await
        .unwrap();
    assert_eq!(enrolled.username, "ana");
    assert_eq!(enrolled.default_project.as_deref(), Some(PROJECT));
    device.close().await;
    let mut stored = std::fs::read(dir.path().join("device.db")).unwrap();
    stored.extend(std::fs::read(dir.path().join("device.db-wal")).unwrap_or_default());
    let needle = PASSWORD.as_bytes();
    assert!(
        !stored.windows(needle.len()).any(|w| w == needle),
        "the password was stored"
    );
    let device = Device::open(dir.path().join("device.db")).await.unwrap();
    assert!(device.is_enrolled().await.unwrap());
}

#[tokio::test]
async fn a_revoked_device_is_told_and_keeps_its_records() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    device.create_participant(None, &[]).await.unwrap();
    server.revoke_all();
    let err = device.sync().await.unwrap_err();
    assert!(
        matches!(err, DeviceError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("enrol it again"), "{err}");
    assert_eq!(device.status().await.unwrap().unsynced_records, 1);
}

#[tokio::test]
async fn memberships_can_be_refreshed() {
    let server = FakeServer::start().await;
    let (device, _dir) = enrolled_device(&server).await;
    let memberships = device.refresh_memberships().await.unwrap();
    assert_eq!(memberships.len(), 2);
    let err = device
        .set_default_project("island-choirs")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("analyst"), "{err}");
    assert_eq!(
        device.status().await.unwrap().default_project.as_deref(),
        Some(PROJECT)
    );
}

#[tokio::test]
async fn an_enrolment_code_is_checked_by_the_server() {
    let server = FakeServer::start().await;
    let (device, _dir) = fresh_device().await;
    let err = device
        .enrol(&server.url, "NOT-A-CODE", "tablet")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not valid"), "{err}");
    assert!(!device.is_enrolled().await.unwrap());
    let err = device.enrol("not a url", "X", "tablet").await.unwrap_err();
    assert!(matches!(err, DeviceError::Usage(_)), "{err:?}");
}
