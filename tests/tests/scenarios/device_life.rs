//! A device's life in the field: its clock is wrong, it is offline for two months, it is
//! revoked, its user is removed, its store is enrolled again. Each gets the documented outcome
//! with a clear message. Nothing is lost on the device, except by a revoked device or one of a
//! removed user: it is wiped at its next contact, losing what it had not synced (lost_device.rs
//! shows that in full).
//!
//! Simulating time: the device library and the server read the system clock, which a test
//! cannot move. Sync never depends on the device's clock (the server orders changes by its own
//! log and stamps its own receipt time), so a wrong clock is shown with changes crafted with a
//! device time a day ahead and a day behind. Sixty days offline is shown by moving every time
//! the server keeps about the device (its enrolment, its last sync, the receipt times of its
//! changes) sixty days back while it captures offline: the device credential has no expiry,
//! so the only thing that could go stale is the device's position in the log, and the server
//! brings it up to date in one sync.

use bothy_device::DeviceError;
use bothy_sync_core::protocol::{RecordPush, SyncRequest};
use bothy_sync_core::{RecordDoc, RecordKind};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;
use uuid::Uuid;

on_both_backends!(
    a_wrong_device_clock_does_not_matter,
    sixty_days_offline_still_syncs,
    revoked_devices_and_removed_users_are_refused_and_wiped,
    a_store_enrolled_again_sends_what_the_server_lacks,
);

const DAY: i64 = 86_400;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn session(actor: &bothy_sync_core::automerge::ActorId, time: i64) -> (Uuid, RecordPush) {
    let mut doc = RecordDoc::create(
        actor.clone(),
        RecordKind::Session,
        "p",
        &[
            ("site", "hall".into()),
            ("activity", "crafts".into()),
            ("activity_type", "heritage".into()),
            ("start", "2026-11-01T10:00:00Z".into()),
        ],
        time,
    )
    .unwrap();
    let id = Uuid::now_v7();
    (id, bothy_tests::push_history(id, &mut doc))
}

fn int(row: &serde_json::Map<String, serde_json::Value>, key: &str) -> i64 {
    row[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} in {row:?}"))
}

async fn a_wrong_device_clock_does_not_matter(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    h.user("sam", "p", "researcher").await;
    let (token, actor) = h.raw_device("ruth").await;

    // A device whose clock runs a day fast, then one a day slow (the same device, reset).
    let (ahead, push_ahead) = session(&actor, now() + DAY);
    let (behind, push_behind) = session(&actor, now() - DAY);
    for (push, pending) in [(push_ahead, 3), (push_behind, 2)] {
        let answer = h
            .sync_raw(
                &token,
                &SyncRequest {
                    push: vec![push],
                    pending: Some(pending),
                    ..SyncRequest::default()
                },
            )
            .await;
        assert!(
            answer.unacked.is_empty() && answer.reports.is_empty(),
            "{answer:?}"
        );
        assert!((answer.server_time - now()).abs() < 60);
    }
    // The server keeps both times and orders by its own log: the change made "a day later"
    // by the device's clock comes first, because it arrived first.
    let rows = h
        .sql(
            "SELECT record_id, device_time, received_at FROM change_log \
             WHERE record_id IN ($1, $2) ORDER BY seq",
            &[&ahead.to_string(), &behind.to_string()],
        )
        .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["record_id"], json!(ahead.to_string()));
    assert!(int(&rows[0], "device_time") - int(&rows[0], "received_at") > DAY - 120);
    assert!(int(&rows[1], "received_at") - int(&rows[1], "device_time") > DAY - 120);
    assert!(int(&rows[0], "received_at") <= int(&rows[1], "received_at"));

    // Another device gets both, and its status shows how far its clock is from the server's.
    let sam = h.device("sam", "sam-phone").await;
    sam.sync().await.unwrap();
    assert!(sam.get(ahead).await.is_ok() && sam.get(behind).await.is_ok());
    let offset = sam
        .status()
        .await
        .unwrap()
        .clock_offset_secs
        .expect("known");
    assert!(offset.abs() < 60, "{offset}");

    // The hint the admin sees: 2 records pending at the last request, 1 acknowledged by it.
    let devices = h.get("/api/v1/admin/devices").await;
    let raw = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "raw")
        .unwrap();
    assert_eq!(raw["pending_records"], 1, "{raw}");
    assert_eq!(raw["last_pushed"], 1, "{raw}");
    assert!((raw["last_sync_at"].as_i64().unwrap() - now()).abs() < 60);
    h.finish().await;
}

async fn sixty_days_offline_still_syncs(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    h.user("sam", "p", "researcher").await;
    let ruth = h.device("ruth", "ruth-phone").await;
    let sam = h.device("sam", "sam-phone").await;
    let first = ruth.create_participant(Some("p"), &[]).await.unwrap().id;
    ruth.sync().await.unwrap();
    let ruth_id = ruth.status().await.unwrap().device_id.unwrap();

    // Ruth goes to the islands: she captures offline while Sam keeps syncing.
    let mut offline = Vec::new();
    for _ in 0..3 {
        offline.push(ruth.create_participant(Some("p"), &[]).await.unwrap().id);
    }
    let mut sams = Vec::new();
    for _ in 0..4 {
        sams.push(sam.create_participant(Some("p"), &[]).await.unwrap().id);
        sam.sync().await.unwrap();
    }
    // Sixty days pass for everything the server knows about Ruth's device.
    let back = (60 * DAY).to_string();
    h.sql(
        "UPDATE devices SET created_at = created_at - CAST($1 AS BIGINT), \
         last_sync_at = last_sync_at - CAST($1 AS BIGINT) WHERE id = $2",
        &[&back, &ruth_id],
    )
    .await;
    h.sql(
        "UPDATE change_log SET received_at = received_at - CAST($1 AS BIGINT), \
         device_time = device_time - CAST($1 AS BIGINT) WHERE device_id = $2",
        &[&back, &ruth_id],
    )
    .await;
    let before = h.get("/api/v1/admin/devices").await;
    let row = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|d| d["device_id"] == json!(ruth_id))
            .unwrap()
            .clone()
    };
    assert!(now() - row(&before)["last_sync_at"].as_i64().unwrap() >= 60 * DAY);

    // Back in signal: one sync sends her records and brings her Sam's.
    let summary = ruth.sync().await.unwrap();
    assert_eq!(summary.pushed, 3, "{summary:?}");
    for id in offline.iter().chain(&sams).chain([&first]) {
        assert!(ruth.get(*id).await.is_ok(), "{id} on ruth's device");
    }
    for id in &offline {
        h.record("p", *id).await;
    }
    let status = ruth.status().await.unwrap();
    assert_eq!(status.unsynced_records, 0);
    assert_eq!(status.records, 8);
    let after = row(&h.get("/api/v1/admin/devices").await);
    assert!(
        (after["last_sync_at"].as_i64().unwrap() - now()).abs() < 60,
        "{after}"
    );
    assert_eq!(after["pending_records"], 0, "{after}");
    h.finish().await;
}

async fn revoked_devices_and_removed_users_are_refused_and_wiped(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    h.user("sam", "p", "researcher").await;
    let ruth = h.device("ruth", "ruth-phone").await;
    let sam = h.device("sam", "sam-phone").await;
    for d in [&ruth, &sam] {
        d.create_participant(Some("p"), &[]).await.unwrap();
        d.sync().await.unwrap();
        d.create_participant(Some("p"), &[]).await.unwrap();
    }
    let ruth_id = ruth.status().await.unwrap().device_id.unwrap();
    let sam_refresh = h
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({"username": "sam", "password": "sam-password"}),
        )
        .await
        .unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Only a server admin may revoke or remove, with a reason, and only what exists.
    let sam_token = h.login("sam", "sam-password").await.unwrap();
    let path = format!("/api/v1/admin/devices/{ruth_id}/revoke");
    let err = h
        .post_json(&path, Some(&sam_token), json!({"reason": "x"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("403"), "{err}");
    let err = h
        .post_json(&path, Some(&h.admin_token), json!({"reason": " "}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid_reason"), "{err}");
    let err = h
        .post_json(
            &format!("/api/v1/admin/devices/{}/revoke", Uuid::new_v4()),
            Some(&h.admin_token),
            json!({"reason": "lost"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("404"), "{err}");

    // Revoke Ruth's phone.
    let v = h.admin(&path, json!({"reason": "lost on the ferry"})).await;
    assert_eq!(v["revoked"], true);
    let err = h
        .post_json(&path, Some(&h.admin_token), json!({"reason": "again"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("409"), "{err}");
    match ruth.sync().await {
        Err(DeviceError::Wiped(wiped)) => assert_eq!(wiped.lost.len(), 1, "{wiped:?}"),
        other => panic!("expected the revoked phone to be wiped, got {other:?}"),
    }
    let status = ruth.status().await.unwrap();
    assert_eq!((status.records, status.unsynced_records), (0, 0));
    assert!(matches!(ruth.sync().await, Err(DeviceError::NotEnrolled)));

    // Remove Sam: his device and his tokens stop working; his device is wiped too.
    let v = h
        .admin(
            "/api/v1/admin/users/sam/remove",
            json!({"reason": "left the project"}),
        )
        .await;
    assert_eq!(v["devices_stopped"], 1, "{v}");
    assert_eq!(v["wipes_ordered"], 1, "{v}");
    match sam.sync().await {
        Err(DeviceError::Wiped(wiped)) => assert_eq!(wiped.lost.len(), 1, "{wiped:?}"),
        other => panic!("expected the removed user's device to be wiped, got {other:?}"),
    }
    let status = sam.status().await.unwrap();
    assert_eq!((status.records, status.unsynced_records), (0, 0));
    let err = h
        .login("sam", "sam-password")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown user or wrong password"), "{err}");
    let err = h
        .post_json(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": sam_refresh}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401"), "{err}");
    let err = h
        .get_as("/api/v1/me", &sam_token)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("removed"), "{err}");
    let err = h
        .post_json(
            "/api/v1/admin/users/sam/remove",
            Some(&h.admin_token),
            json!({"reason": "again"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("409"), "{err}");
    let err = h
        .post_json(
            "/api/v1/admin/users/admin/remove",
            Some(&h.admin_token),
            json!({"reason": "oops"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot_remove_self"), "{err}");

    // The list shows both, and the audit log has both actions with their reasons.
    let devices = h.get("/api/v1/admin/devices").await;
    for d in devices.as_array().unwrap() {
        if d["name"] == "ruth-phone" {
            assert_eq!(d["revoked"], true);
        } else {
            assert_eq!(d["user_active"], false);
        }
    }
    let audit = h
        .sql(
            "SELECT action, target, details FROM audit_log \
             WHERE action IN ('device.revoke', 'user.remove') ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["target"], json!(ruth_id));
    assert!(
        audit[0]["details"]
            .as_str()
            .unwrap()
            .contains("lost on the ferry")
    );
    assert_eq!(audit[1]["target"], json!("sam"));
    h.finish().await;
}

/// A phone revoked when it was lost and later found, before its next contact with the server
/// (which would have wiped it): its user enrols the same store again with a new code. What it recorded offline under its old credential reaches the server (the same
/// user's other device may be vouched for), authored by the old device and received from the
/// new one; another user's device cannot do the same.
async fn a_store_enrolled_again_sends_what_the_server_lacks(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    h.user("sam", "p", "researcher").await;
    let ruth = h.device("ruth", "ruth-phone").await;
    let synced = ruth.create_participant(Some("p"), &[]).await.unwrap().id;
    ruth.sync().await.unwrap();
    let offline = ruth.create_participant(Some("p"), &[]).await.unwrap().id;
    let old_device = ruth.status().await.unwrap().device_id.unwrap();
    h.admin(
        &format!("/api/v1/admin/devices/{old_device}/revoke"),
        json!({"reason": "lost on the ferry"}),
    )
    .await;

    // Found again before it reached the server (its next contact would have wiped it):
    // enrolled anew, keeping its store.
    let code = h.enrolment_code("ruth").await;
    ruth.enrol(&h.url(), &code, "ruth-phone (found)")
        .await
        .expect("the store enrols again");
    let new_device = ruth.status().await.unwrap().device_id.unwrap();
    assert_ne!(new_device, old_device);
    let summary = ruth.sync().await.unwrap();
    assert_eq!(summary.set_aside, 0, "{summary:?}");
    let status = ruth.status().await.unwrap();
    assert_eq!((status.records, status.unsynced_records), (2, 0));
    for id in [synced, offline] {
        h.record("p", id).await;
    }
    let history = h
        .get(&format!("/api/v1/projects/p/records/{offline}/history"))
        .await;
    let change = &history["changes"][0];
    assert_eq!(change["device_id"], old_device.as_str(), "{history}");
    assert_eq!(change["received_from"], new_device.as_str(), "{history}");

    // Sam holds a change made under Ruth's old actor that the server lacks: outside a
    // restore he may not vouch for another user's device.
    let old_actor = bothy_sync_core::automerge::ActorId::try_from(
        history["changes"][0]["actor"].as_str().unwrap(),
    )
    .unwrap();
    let mut doc = ruth.document(synced).await.unwrap();
    let before = doc.heads();
    let mut fork = doc.automerge().fork();
    fork.set_actor(old_actor);
    let mut fork = RecordDoc::from_automerge(fork);
    fork.edit(now(), |e| e.set("age_band", "25-34")).unwrap();
    let changes = fork
        .automerge()
        .get_changes(&before)
        .iter()
        .map(|c| serde_bytes::ByteBuf::from(c.raw_bytes().to_vec()))
        .collect::<Vec<_>>();
    assert_eq!(changes.len(), 1);
    let (sam, _) = h.raw_device("sam").await;
    let answer = h
        .sync_raw(
            &sam,
            &SyncRequest {
                push: vec![RecordPush {
                    id: synced,
                    changes,
                    document: None,
                }],
                ..SyncRequest::default()
            },
        )
        .await;
    assert_eq!(answer.unacked, vec![synced]);
    assert_eq!(
        answer.reports[0].code, "foreign_actor",
        "{:?}",
        answer.reports
    );
}
