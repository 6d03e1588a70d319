//! A lost device is wiped at its next contact. A researcher's phone records, syncs, then records
//! more offline; an admin revokes it; at its next sync the server answers `401 wipe`, the phone
//! lists the records whose changes the server never received, deletes everything it holds (the
//! store's files no longer contain a story written on it, nor its credential), and confirms with
//! that list. The admin's device list shows when the wipe was ordered, sent and confirmed, and
//! exactly the records lost; the audit log has each step; a second contact gets the plain
//! refusal and a second confirmation is refused; everything the phone had synced is still on
//! the server. Removing a user orders the same for each of their devices, and a device revoked
//! before wipes existed gets its wipe ordered by revoking it again. In a real browser
//! (tests/browser/webapp-wipe.mjs), the web app does the same when it comes back online and
//! says so on its enrolment screen.

use bothy_device::{Device, DeviceError, WipeConfirmation, Wiped};
use bothy_sync_core::FieldValue;
use bothy_tests::disk::{assert_found, assert_gone, store_files};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::path::Path;
use uuid::Uuid;

on_both_backends!(
    a_lost_device_is_wiped_at_its_next_contact,
    removing_a_user_wipes_their_devices,
    the_web_app_is_wiped_when_withdrawn,
);

const P: &str = "strath-stories";
/// Written on the phone and synced: stays on the server.
const SYNCED_STORY: &str = "Curlews over the machair at Balranald, heard before they were seen.";
/// Written on the phone offline, never synced: lost with the phone.
const OFFLINE_STORY: &str = "The heron stood all morning at the mouth of the Abhainn Dubh.";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn session_fields() -> Vec<(&'static str, FieldValue)> {
    vec![
        ("site", "balranald-hall".into()),
        ("activity", "shore-walk".into()),
        ("activity_type", "walking".into()),
        ("start", "2026-11-03T10:00:00Z".into()),
    ]
}

fn story_fields(title: &str, body: &str) -> Vec<(&'static str, FieldValue)> {
    vec![
        ("title", title.to_owned().into()),
        ("consent_scope", "project".into()),
        ("body", body.to_owned().into()),
    ]
}

/// Opens a device's store file on its own connection (as someone holding the phone would).
async fn open_store(path: &Path) -> sqlx::SqliteConnection {
    let url = format!("sqlite://{}?mode=ro", path.display());
    sqlx::SqliteConnection::connect(&url)
        .await
        .expect("the store opens")
}

/// The rows of every table of a store but the migrations' own, by table.
async fn store_rows(path: &Path) -> BTreeMap<String, i64> {
    let mut conn = open_store(path).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut rows = BTreeMap::new();
    for t in tables {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{t}\"")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        rows.insert(t, n);
    }
    rows
}

/// The device credential kept in a store.
async fn device_token(path: &Path) -> String {
    let mut conn = open_store(path).await;
    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'device_token'")
        .fetch_one(&mut conn)
        .await
        .expect("an enrolled store keeps its credential")
}

/// A device's row in the admin's device list.
async fn listed(h: &Harness, device_id: &str) -> Value {
    let devices = h.get("/api/v1/admin/devices").await;
    devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == json!(device_id))
        .unwrap_or_else(|| panic!("{device_id} in {devices}"))
        .clone()
}

/// A wipe confirmation the server refuses: the error, with its status and body.
async fn refused_confirmation(h: &Harness, token: &str, body: Value) -> String {
    h.post_json("/api/v1/devices/wipe", Some(token), body)
        .await
        .expect_err("the confirmation is refused")
        .to_string()
}

/// What a sync answered with a wipe, or a panic.
async fn wiped_by_sync(device: &Device) -> Wiped {
    match device.sync().await {
        Err(DeviceError::Wiped(w)) => w,
        other => panic!("expected the device to be wiped, got {other:?}"),
    }
}

async fn a_lost_device_is_wiped_at_its_next_contact(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    let phone = h.device("ruth", "ruth-phone").await;
    let store = phone.path().to_path_buf();

    // Recorded and synced: a participant, a session and a story.
    let synced_participant = phone.create_participant(Some(P), &[]).await.unwrap().id;
    let session = phone
        .create_session(Some(P), &session_fields())
        .await
        .unwrap();
    let synced_story = phone
        .create_story(Some(P), &story_fields("Curlews", SYNCED_STORY))
        .await
        .unwrap();
    phone.sync().await.unwrap();

    // Then offline: a new participant (one change), the session's end (one change on a synced
    // record), a new story edited once (two changes).
    let offline_participant = phone.create_participant(Some(P), &[]).await.unwrap().id;
    phone
        .edit(session, |e| e.set("end", "2026-11-03T12:00:00Z"))
        .await
        .unwrap();
    let offline_story = phone
        .create_story(Some(P), &story_fields("The heron", OFFLINE_STORY))
        .await
        .unwrap();
    phone
        .edit(offline_story, |e| {
            e.set("title", "The heron at the river mouth")
        })
        .await
        .unwrap();
    let status = phone.status().await.unwrap();
    assert_eq!((status.records, status.unsynced_records), (5, 3));
    let device_id = status.device_id.unwrap();
    let token = device_token(&store).await;
    // The search finds the story and the credential before the wipe: it is not vacuous.
    assert_found(
        &[("the phone's store", store_files(&h.db, "ruth-phone"))],
        &[OFFLINE_STORY, SYNCED_STORY, &token],
        "before the wipe",
    );

    // A device with no wipe ordered cannot confirm one; a user's token is not a device's.
    let err = refused_confirmation(&h, &token, json!({"lost": []})).await;
    assert!(
        err.contains("409") && err.contains("no_wipe_ordered"),
        "{err}"
    );
    let err = refused_confirmation(&h, &h.admin_token, json!({"lost": []})).await;
    assert!(err.contains("401"), "{err}");

    // The admin revokes the lost phone: a wipe is ordered, not yet sent.
    let revoked = h
        .admin(
            &format!("/api/v1/admin/devices/{device_id}/revoke"),
            json!({"reason": "lost on the ferry to Lochmaddy"}),
        )
        .await;
    assert_eq!(revoked["revoked"], true, "{revoked}");
    assert!(revoked["wipe_requested_at"].is_i64(), "{revoked}");
    let row = listed(&h, &device_id).await;
    assert!(row["wipe_requested_at"].is_i64(), "{row}");
    assert_eq!(row["wipe_sent_at"], Value::Null, "{row}");
    assert_eq!(row["wipe_confirmed_at"], Value::Null, "{row}");
    assert_eq!(row["lost_records"], Value::Null, "{row}");
    assert_eq!(row["lost"], json!([]), "{row}");

    // A confirmation that carries anything but ids, kinds, projects, counts and times, or names
    // a project the server does not have, is refused and does not use up the one allowed.
    let lost = |extra: Value| {
        let mut entry = json!({"record_id": offline_story.to_string(), "kind": "story",
                               "project": P, "unsynced_changes": 2});
        entry
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"lost": [entry]})
    };
    let err = refused_confirmation(&h, &token, lost(json!({"title": "The heron"}))).await;
    assert!(err.contains("400") && err.contains("invalid_json"), "{err}");
    let err = refused_confirmation(&h, &token, lost(json!({"project": "morag-macleod"}))).await;
    assert!(
        err.contains("400") && err.contains("invalid_value"),
        "{err}"
    );
    let err = refused_confirmation(&h, &token, lost(json!({"record_id": "Not-A-UUID"}))).await;
    assert!(
        err.contains("400") && err.contains("invalid_value"),
        "{err}"
    );

    // Any request with the credential is told to wipe, and nothing it carries is read; the
    // first time is kept. (Here someone else holds the credential: the order changes nothing.)
    let (status, body) = h
        .post_sync(
            &token,
            bothy_sync_core::protocol::encode(&bothy_sync_core::protocol::SyncRequest::default()),
        )
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "wipe", "{body}");
    let first_sent = listed(&h, &device_id).await["wipe_sent_at"].clone();
    assert!(first_sent.is_i64(), "{first_sent}");
    let me = h
        .get_as("/api/v1/me", &token)
        .await
        .unwrap_err()
        .to_string();
    assert!(me.contains("401") && me.contains("\"wipe\""), "{me}");

    // The phone's next sync: wiped, and the server told.
    let wiped = wiped_by_sync(&phone).await;
    assert_eq!(wiped.confirmation, WipeConfirmation::Confirmed, "{wiped}");
    let lost: BTreeMap<Uuid, (String, u64)> = wiped
        .lost
        .iter()
        .map(|l| (l.record_id, (l.kind.clone(), l.unsynced_changes)))
        .collect();
    let expected: BTreeMap<Uuid, (String, u64)> = [
        (offline_participant, ("participant".to_owned(), 1)),
        (session, ("session".to_owned(), 1)),
        (offline_story, ("story".to_owned(), 2)),
    ]
    .into_iter()
    .collect();
    assert_eq!(lost, expected, "{wiped:?}");
    for l in &wiped.lost {
        assert_eq!(l.project, P);
        let at = l.last_edited_at.expect("a local edit time");
        assert!((at - now()).abs() < 120, "{l:?}");
    }
    let said = wiped.to_string();
    assert!(
        said.contains("withdrawn") && said.contains("wiped") && said.contains("enrol"),
        "{said}"
    );
    assert!(said.contains("3 records with 4 changes"), "{said}");

    // The store: not enrolled, no row left in any table, and neither story nor the credential
    // anywhere in its files.
    let status = phone.status().await.unwrap();
    assert_eq!(status.device_id, None);
    assert_eq!((status.records, status.unsynced_records), (0, 0));
    let rows = store_rows(&store).await;
    assert!(rows.contains_key("records"), "{rows:?}");
    assert!(rows.values().all(|n| *n == 0), "{rows:?}");
    assert_gone(
        &[("the phone's store", store_files(&h.db, "ruth-phone"))],
        &[OFFLINE_STORY, SYNCED_STORY, &token],
        "after the wipe",
    );
    assert!(
        matches!(phone.sync().await, Err(DeviceError::NotEnrolled)),
        "a wiped store must be enrolled again"
    );

    // The admin's list: ordered, sent, confirmed, and exactly the records lost.
    let row = listed(&h, &device_id).await;
    let (ordered, sent, confirmed) = (
        row["wipe_requested_at"].as_i64().unwrap(),
        row["wipe_sent_at"].as_i64().unwrap(),
        row["wipe_confirmed_at"].as_i64().unwrap(),
    );
    assert!(ordered <= sent && sent <= confirmed, "{row}");
    assert_eq!(
        row["wipe_sent_at"], first_sent,
        "the first order is the one kept"
    );
    assert_eq!(row["lost_records"], 3, "{row}");
    assert_eq!(row["lost_changes"], 4, "{row}");
    let listed_lost: BTreeMap<Uuid, (String, u64)> = row["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["project"], P, "{l}");
            assert!(l["last_edited_at"].is_i64(), "{l}");
            (
                Uuid::parse_str(l["record_id"].as_str().unwrap()).unwrap(),
                (
                    l["kind"].as_str().unwrap().to_owned(),
                    l["unsynced_changes"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(listed_lost, expected, "{row}");
    let entry = serde_json::to_string(&row["lost"]).unwrap();
    assert!(
        !entry.contains("heron") && !entry.contains("Curlew"),
        "{entry}"
    );

    // The audit log, in order.
    let audit = h
        .sql(
            "SELECT action, target, details FROM audit_log WHERE target = $1 ORDER BY id",
            &[&device_id],
        )
        .await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "device.enrol",
            "device.revoke",
            "device.wipe_ordered",
            "device.wipe_sent",
            "device.wipe_confirmed"
        ],
        "{audit:?}"
    );
    let details: Value = serde_json::from_str(audit[4]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["lost_records"], 3, "{details}");
    assert_eq!(details["lost_changes"], 4, "{details}");

    // A second contact with the withdrawn credential: the plain refusal. A second confirmation:
    // refused. Nothing from the phone was accepted.
    let (status, body) = h
        .post_sync(
            &token,
            bothy_sync_core::protocol::encode(&bothy_sync_core::protocol::SyncRequest::default()),
        )
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("wiped"),
        "{body}"
    );
    let again = h
        .post_json("/api/v1/devices/wipe", Some(&token), json!({"lost": []}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        again.contains("409") && again.contains("wipe_already_confirmed"),
        "{again}"
    );

    // Everything the phone synced is on the server as it was; what it recorded offline is not.
    for id in [synced_participant, session, synced_story] {
        h.record(P, id).await;
    }
    let story = h.record(P, synced_story).await;
    assert!(
        story.to_string().contains("Curlews over the machair"),
        "{story}"
    );
    let session_row = h.record(P, session).await;
    assert!(
        !session_row.to_string().contains("2026-11-03T12:00:00Z"),
        "the session's offline end never reached the server: {session_row}"
    );
    for id in [offline_participant, offline_story] {
        let missing = h
            .get_as(
                &format!("/api/v1/projects/{P}/records/{id}"),
                &h.admin_token,
            )
            .await;
        assert!(missing.is_err(), "{id} was never on the server");
    }
    h.finish().await;
}

async fn removing_a_user_wipes_their_devices(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("sam", P, "researcher").await;
    h.user("ruth", P, "researcher").await;
    let sam = h.device("sam", "sam-phone").await;
    let sam_tablet = h.device("sam", "sam-tablet").await;
    let ruth = h.device("ruth", "ruth-phone").await;
    sam.create_participant(Some(P), &[]).await.unwrap();
    sam.sync().await.unwrap();
    let unsynced = sam.create_participant(Some(P), &[]).await.unwrap().id;
    ruth.create_participant(Some(P), &[]).await.unwrap();
    ruth.sync().await.unwrap();
    let ruth_id = ruth.status().await.unwrap().device_id.unwrap();

    // Ruth's phone was revoked before wipes existed: revoked, no wipe ordered. Its sync gets
    // the old refusal and it keeps its records.
    h.sql(
        "UPDATE devices SET revoked_at = CAST($1 AS BIGINT) WHERE id = $2",
        &[&now().to_string(), &ruth_id],
    )
    .await;
    match ruth.sync().await {
        Err(DeviceError::Rejected {
            status: 401,
            code,
            message,
        }) => assert!(
            code == "unauthorized" && message.contains("records stay on it"),
            "{code}: {message}"
        ),
        other => panic!("expected the plain refusal, got {other:?}"),
    }
    // Her own participant and Sam's first, received at her sync.
    assert_eq!(ruth.status().await.unwrap().records, 2);
    // Revoking it again orders its wipe; a third time is refused.
    let path = format!("/api/v1/admin/devices/{ruth_id}/revoke");
    let v = h.admin(&path, json!({"reason": "wipe it"})).await;
    assert!(v["wipe_requested_at"].is_i64(), "{v}");
    let err = h
        .post_json(&path, Some(&h.admin_token), json!({"reason": "again"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("409"), "{err}");
    let wiped = wiped_by_sync(&ruth).await;
    assert!(wiped.lost.is_empty(), "{wiped:?}");
    assert!(wiped.to_string().contains("nothing was lost"), "{wiped}");

    // Removing Sam orders a wipe of both his devices.
    let v = h
        .admin(
            "/api/v1/admin/users/sam/remove",
            json!({"reason": "left the project"}),
        )
        .await;
    assert_eq!(v["wipes_ordered"], 2, "{v}");
    let wiped = wiped_by_sync(&sam).await;
    assert_eq!(wiped.confirmation, WipeConfirmation::Confirmed);
    assert_eq!(
        wiped.lost.iter().map(|l| l.record_id).collect::<Vec<_>>(),
        [unsynced]
    );
    // A device-authenticated request other than a sync is told too.
    match sam_tablet.refresh_memberships().await {
        Err(DeviceError::Wiped(w)) => assert!(w.lost.is_empty(), "{w:?}"),
        other => panic!("expected the tablet to be wiped, got {other:?}"),
    }
    let devices = h.get("/api/v1/admin/devices").await;
    for d in devices.as_array().unwrap() {
        assert!(d["wipe_confirmed_at"].is_i64(), "{d}");
    }
    let sam_row = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sam-phone")
        .unwrap();
    assert_eq!(sam_row["lost_records"], 1, "{sam_row}");
    assert_eq!(sam_row["lost"][0]["record_id"], json!(unsynced.to_string()));
    let ordered = h
        .sql(
            "SELECT details FROM audit_log WHERE action = 'device.wipe_ordered' ORDER BY id",
            &[],
        )
        .await;
    let because: Vec<String> = ordered
        .iter()
        .map(|e| {
            let d: Value = serde_json::from_str(e["details"].as_str().unwrap()).unwrap();
            d["because"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(because, ["device.revoke", "user.remove", "user.remove"]);
    h.finish().await;
}

async fn the_web_app_is_wiped_when_withdrawn(backend: Backend) {
    let Some(browser_dir) = bothy_tests::browser_dir("web app browser check") else {
        return;
    };
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("morag", P, "researcher").await;
    let code = h.enrolment_code("morag").await;
    let out = bothy_tests::artifacts_dir("webapp-wipe", backend);
    let mut script = bothy_tests::BrowserScript::spawn(
        &browser_dir,
        "webapp-wipe.mjs",
        &[&h.url(), &code, &out],
        &[],
    );
    let wait = std::time::Duration::from_secs(180);
    assert_eq!(script.next_line(wait, "the capture").await, "CAPTURED");
    let ids = script.next_json(wait, "the capture").await;
    let (synced, offline) = (
        ids["synced"].as_str().unwrap().to_owned(),
        ids["offline"].as_str().unwrap().to_owned(),
    );

    // The phone is lost: the admin revokes it while it is offline.
    let devices = h.get("/api/v1/admin/devices").await;
    let device_id = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Lost phone")
        .unwrap_or_else(|| panic!("the phone in {devices}"))["device_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.admin(
        &format!("/api/v1/admin/devices/{device_id}/revoke"),
        json!({"reason": "left on the bus"}),
    )
    .await;
    script.go_on().await;
    let summary = script.next_json(wait, "the wipe").await;
    script.finish(&summary).await;

    // The admin sees the wipe confirmed, and exactly the offline story lost.
    let row = listed(&h, &device_id).await;
    assert!(row["wipe_sent_at"].is_i64(), "{row}");
    assert!(row["wipe_confirmed_at"].is_i64(), "{row}");
    assert_eq!(row["lost_records"], 1, "{row}");
    assert_eq!(row["lost"][0]["record_id"], json!(offline), "{row}");
    assert_eq!(row["lost"][0]["kind"], "story", "{row}");
    assert_eq!(row["lost"][0]["project"], P, "{row}");
    assert!(
        row["lost"][0]["unsynced_changes"].as_i64().unwrap() >= 1,
        "{row}"
    );
    // The synced story is on the server; the offline one never reached it.
    let kept = h.record(P, Uuid::parse_str(&synced).unwrap()).await;
    assert!(kept.to_string().contains("Balranald"), "{kept}");
    assert!(
        h.get_as(
            &format!("/api/v1/projects/{P}/records/{offline}"),
            &h.admin_token
        )
        .await
        .is_err()
    );
    h.finish().await;
}
