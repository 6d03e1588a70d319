//! Tests of the on-device replica: capture offline (`capture`), and sync against an in-memory
//! server that speaks the real protocol (`sync`), questionnaires beyond WEMWBS
//! (`instruments`), and a device withdrawn by its server wiping itself (`wipe`). One test
//! binary with shared helpers.

mod capture;
mod encryption;
mod fake_server;
mod instruments;
mod sync;
mod wipe;

use bothy_device::bothy_sync_core::FieldValue;
use bothy_device::bothy_sync_core::automerge::ActorId;
use bothy_device::{Device, DeviceError, Enrolment, Membership, User};
use tempfile::TempDir;

pub use fake_server::{FakeServer, PROJECT};

/// A fresh store in its own folder (the folder lives as long as the returned guard).
pub async fn fresh_device() -> (Device, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::open(dir.path().join("device.db")).await.unwrap();
    (device, dir)
}

/// The identity an enrolment would give, for capture without a server. The server URL is a
/// port nothing listens on.
pub fn offline_enrolment(role: &str) -> Enrolment {
    Enrolment {
        device_id: "0190a7e2-1111-7000-8000-000000000001".into(),
        device_token: "bd1_0190a7e211117000800000000000001_secret".into(),
        actor: ActorId::random().to_hex_string(),
        user: User {
            id: "u-ana".into(),
            username: "ana".into(),
            is_admin: false,
        },
        memberships: vec![Membership {
            project: PROJECT.into(),
            role: role.into(),
        }],
        server_time: 0,
    }
}

pub const NOWHERE: &str = "http://127.0.0.1:9";

/// A device enrolled for offline capture (as a researcher in [`PROJECT`]).
pub async fn offline_device() -> (Device, TempDir) {
    let (device, dir) = fresh_device().await;
    device
        .adopt_identity(NOWHERE, &offline_enrolment("researcher"))
        .await
        .unwrap();
    (device, dir)
}

/// A device enrolled on `server` with a real enrolment exchange.
pub async fn enrolled_device(server: &FakeServer) -> (Device, TempDir) {
    let (device, dir) = fresh_device().await;
    device
        .enrol(&server.url, &server.enrolment_code(), "test tablet")
        .await
        .unwrap();
    (device, dir)
}

pub fn session_fields(start: &str, end: Option<&str>) -> Vec<(&'static str, FieldValue)> {
    let mut f = vec![
        ("site", "ullapool-hall".into()),
        ("activity", "heritage-crafts".into()),
        ("activity_type", "heritage".into()),
        ("start", start.to_owned().into()),
    ];
    if let Some(e) = end {
        f.push(("end", e.to_owned().into()));
    }
    f
}

/// The field paths an error names, or a panic if it is not a validation error.
pub fn fields_named(err: &DeviceError) -> Vec<String> {
    match err {
        DeviceError::Invalid(errors) => errors.iter().map(|e| e.field.clone()).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}
