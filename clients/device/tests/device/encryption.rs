//! An encrypted store (one with a PIN) through enrolment, capture and sync against the
//! in-memory server: refused records set aside, reports kept, a second device bootstrapped and
//! an erasure purged, with no participant data or credential in clear in the store's files.

use crate::*;
use bothy_device::bothy_sync_core::RecordData;
use bothy_device::bothy_sync_core::protocol::{RecordReport, ReportKind};
use std::path::Path;
use uuid::Uuid;

const PIN: &str = "cairngorm-77";
const NAME: &str = "Euphemia Macgillivray";
const PHONE: &str = "07700 900777";
const STORY: &str = "We walked the drove road to Braemar and nobody spoke of the winter.";
const REFUSED_NAME: &str = "Torquil Beaton";

/// Every byte of the store's files (main, -wal, -shm).
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(&name) {
            all.extend(bytes);
        }
    }
    all
}

#[track_caller]
fn assert_absent(path: &Path, secrets: &[&str]) {
    let bytes = file_bytes(path);
    for secret in secrets {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret:?} is in the store's files in clear"
        );
    }
}

/// A new store with a PIN, enrolled on `server`.
async fn encrypted_device(server: &FakeServer, path: &Path) -> Device {
    let device = Device::open(path).await.unwrap();
    device.set_pin(PIN).await.unwrap();
    device
        .enrol(&server.url, &server.enrolment_code(), "field tablet")
        .await
        .unwrap();
    device
}

#[tokio::test]
async fn an_encrypted_store_syncs_and_keeps_nothing_in_clear() {
    let server = FakeServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let device = encrypted_device(&server, &path).await;
    let p = device
        .create_participant(
            None,
            &[
                ("contact.name", NAME.into()),
                ("contact.phone", PHONE.into()),
            ],
        )
        .await
        .unwrap();
    let story = device
        .create_story(
            None,
            &[
                ("title", "The drove road".into()),
                ("body", STORY.into()),
                ("consent_scope", "project".into()),
                ("participant", p.id.to_string().into()),
            ],
        )
        .await
        .unwrap();
    let refused = device
        .create_participant(None, &[("contact.name", REFUSED_NAME.into())])
        .await
        .unwrap();
    // The server refuses the new participant's contact record (their name).
    let refused_contact = refused.contact.expect("a contact record");
    server.with(|s| {
        s.refuse.insert(refused_contact);
        s.hook = Some(Box::new(move |_, response| {
            response.reports.push(RecordReport {
                id: story,
                kind: ReportKind::Flagged,
                code: "needs_review".into(),
                field: Some("body".into()),
                message: format!("The story names {NAME}."),
            });
        }));
    });
    let summary = device.sync().await.unwrap();
    assert_eq!(summary.set_aside, 1);
    assert_eq!(summary.acked, 4, "participants, contact and story");
    server.with(|s| s.hook = None);

    let status = device.status().await.unwrap();
    assert_eq!(status.unsynced_records, 0);
    assert_eq!(status.set_aside[0].record_id, refused_contact);
    assert!(
        status
            .recent_reports
            .iter()
            .any(|r| r.message == format!("The story names {NAME}."))
    );
    device.close().await;
    assert_absent(
        &path,
        &[
            NAME,
            PHONE,
            STORY,
            REFUSED_NAME,
            "The drove road",
            &p.code,
            "bd1_",
        ],
    );

    // Locked until the PIN is given; then everything is back.
    let device = Device::open(&path).await.unwrap();
    assert!(matches!(device.sync().await, Err(DeviceError::Locked)));
    assert!(matches!(
        device.unlock("cairngorm-78").await,
        Err(DeviceError::WrongPin { .. })
    ));
    device.unlock(PIN).await.unwrap();
    let RecordData::Story(s) = device.get(story).await.unwrap().view.data else {
        panic!("a story")
    };
    assert_eq!(s.body, STORY);
    assert_eq!(device.find(None, &p.code).await.unwrap(), p.id);
    let copy = device.set_aside_records(1).await.unwrap()[0].id;
    let doc = bothy_device::bothy_sync_core::RecordDoc::load(
        &device.set_aside_document(copy).await.unwrap(),
        bothy_device::bothy_sync_core::automerge::ActorId::random(),
    )
    .unwrap();
    let RecordData::Contact(r) = doc.view().unwrap().data else {
        panic!("a contact record")
    };
    assert_eq!(r.name.as_deref(), Some(REFUSED_NAME));

    // A second encrypted device bootstraps everything; an erasure reaches both.
    let other_path = dir.path().join("other.db");
    let other = encrypted_device(&server, &other_path).await;
    assert_eq!(other.sync().await.unwrap().received, 4);
    let (_, q) = other
        .get(p.id)
        .await
        .unwrap()
        .contact
        .expect("a contact record");
    assert_eq!(q.phone.as_deref(), Some(PHONE));
    server.erase(p.id);
    server.erase(story);
    for d in [&device, &other] {
        assert_eq!(d.sync().await.unwrap().erased, 2);
        let left: Vec<Uuid> = d.list(None).await.unwrap().iter().map(|r| r.id).collect();
        assert!(!left.contains(&p.id) && !left.contains(&story));
    }
    device.close().await;
    other.close().await;
    assert_absent(&other_path, &[NAME, PHONE, STORY, "bd1_"]);
}

/// A server that has withdrawn every device: each sync is answered `401 wipe`, and the wipe's
/// confirmation is taken.
async fn withdrawing_server() -> String {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::post;
    let wipe = || async {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": {"code": "wipe", "message": "withdrawn"}})),
        )
            .into_response()
    };
    let confirm = || async { axum::Json(serde_json::json!({"device_id": "d"})).into_response() };
    let app = axum::Router::new()
        .route("/api/v1/sync", post(wipe))
        .route("/api/v1/devices/wipe", post(confirm));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn a_wiped_encrypted_store_keeps_its_pin_and_counts_what_was_lost() {
    let url = withdrawing_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let device = Device::open(&path).await.unwrap();
    device.set_pin(PIN).await.unwrap();
    device
        .adopt_identity(&url, &offline_enrolment("researcher"))
        .await
        .unwrap();
    device
        .create_participant(None, &[("contact.name", NAME.into())])
        .await
        .unwrap();
    let Err(DeviceError::Wiped(wiped)) = device.sync().await else {
        panic!("the device is wiped")
    };
    // The sealed documents were read to count the changes lost.
    assert_eq!(
        wiped.lost.len(),
        2,
        "the participant and their contact record"
    );
    assert!(
        wiped.lost.iter().all(|l| l.unsynced_changes > 0),
        "{wiped:?}"
    );
    assert!(device.list(None).await.unwrap().is_empty());
    device.close().await;
    assert_absent(&path, &[NAME, "bd1_"]);

    // Still encrypted, with the same PIN, ready to be enrolled again.
    let device = Device::open(&path).await.unwrap();
    assert!(device.has_pin() && device.is_locked());
    device.unlock(PIN).await.unwrap();
    assert!(!device.is_enrolled().await.unwrap());
    device.close().await;
}
