//! A withdrawn device wipes itself: against a small server that answers every sync with `401
//! wipe` and takes (or fails to take) the confirmation. The store keeps nothing but the
//! confirmation while it cannot be sent, sends it at the next sync, and then keeps nothing.

use super::{PROJECT, fresh_device, offline_enrolment};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bothy_device::{Device, DeviceError, WipeConfirmation, Wiped};
use serde_json::{Value, json};
use sqlx::Row;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Withdrawing {
    /// What the confirmation is answered: 200 when `None`.
    refuse_with: Option<(StatusCode, &'static str)>,
    confirmations: Vec<Value>,
    syncs: u32,
}

type Shared = Arc<Mutex<Withdrawing>>;

async fn sync(State(s): State<Shared>) -> Response {
    s.lock().unwrap().syncs += 1;
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"code": "wipe", "message": "this device has been withdrawn"}})),
    )
        .into_response()
}

async fn confirm(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut s = s.lock().unwrap();
    if let Some((status, code)) = s.refuse_with {
        return (
            status,
            Json(json!({"error": {"code": code, "message": "not now"}})),
        )
            .into_response();
    }
    s.confirmations.push(body);
    Json(json!({"device_id": "d", "wipe_confirmed_at": 1, "lost_records": 0, "lost_changes": 0}))
        .into_response()
}

async fn withdrawing_server() -> (String, Shared) {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/api/v1/sync", post(sync))
        .route("/api/v1/devices/wipe", post(confirm))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

/// Every table's rows but the migrations', as (table, rows); and the `meta` keys left.
async fn left_in(device: &Device) -> (Vec<(String, i64)>, Vec<String>) {
    let url = format!("sqlite://{}?mode=ro", device.path().display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut rows = Vec::new();
    for t in tables {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{t}\"")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        rows.push((t, n));
    }
    let keys = sqlx::query("SELECT key FROM meta ORDER BY key")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    (rows, keys)
}

async fn wiped(device: &Device) -> Wiped {
    match device.sync().await {
        Err(DeviceError::Wiped(w)) => w,
        other => panic!("expected a wipe, got {other:?}"),
    }
}

#[tokio::test]
async fn a_confirmation_that_cannot_be_sent_is_the_only_thing_kept_and_goes_at_the_next_sync() {
    let (url, server) = withdrawing_server().await;
    let (device, _dir) = fresh_device().await;
    device
        .adopt_identity(&url, &offline_enrolment("researcher"))
        .await
        .unwrap();
    let ana = device.create_participant(None, &[]).await.unwrap().id;
    device
        .edit(ana, |e| e.set("age_band", "25-34"))
        .await
        .unwrap();
    let story = device
        .create_story(
            None,
            &[
                ("title", "Seals at Ardtoe".into()),
                ("consent_scope", "project".into()),
            ],
        )
        .await
        .unwrap();

    // The server is withdrawing the device but cannot take the confirmation yet.
    server.lock().unwrap().refuse_with = Some((StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    let first = wiped(&device).await;
    assert_eq!(first.confirmation, WipeConfirmation::Pending);
    let mut lost: Vec<_> = first
        .lost
        .iter()
        .map(|l| {
            (
                l.record_id,
                l.kind.as_str(),
                l.project.as_str(),
                l.unsynced_changes,
            )
        })
        .collect();
    lost.sort();
    let mut expected = vec![
        (ana, "participant", PROJECT, 2),
        (story, "story", PROJECT, 1),
    ];
    expected.sort();
    assert_eq!(lost, expected);
    assert!(
        first.to_string().contains("the next sync tells it"),
        "{first}"
    );
    // Nothing but the confirmation is left.
    let (rows, keys) = left_in(&device).await;
    for (table, n) in &rows {
        let want = i64::from(table == "meta");
        assert_eq!(*n, want, "{table}: {rows:?}");
    }
    assert_eq!(keys, ["pending_wipe"]);
    assert_eq!(device.status().await.unwrap().device_id, None);

    // The next sync sends it (and nothing else), and the store is empty.
    server.lock().unwrap().refuse_with = None;
    let second = wiped(&device).await;
    assert_eq!(second.confirmation, WipeConfirmation::Confirmed);
    assert_eq!(second.lost, first.lost);
    let (rows, keys) = left_in(&device).await;
    assert!(rows.iter().all(|(_, n)| *n == 0), "{rows:?}");
    assert!(keys.is_empty());
    {
        let s = server.lock().unwrap();
        assert_eq!(s.syncs, 1, "no sync request after the wipe");
        assert_eq!(s.confirmations.len(), 1);
        let sent = &s.confirmations[0];
        assert_eq!(sent["lost"].as_array().unwrap().len(), 2, "{sent}");
        for l in sent["lost"].as_array().unwrap() {
            let mut fields: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
            fields.sort();
            assert_eq!(
                fields,
                [
                    "kind",
                    "last_edited_at",
                    "project",
                    "record_id",
                    "unsynced_changes"
                ],
                "only ids, kinds, projects, counts and times: {l}"
            );
        }
        assert!(!sent.to_string().contains("Seals"), "{sent}");
    }
    assert!(matches!(device.sync().await, Err(DeviceError::NotEnrolled)));
}

#[tokio::test]
async fn a_confirmation_the_server_refuses_is_not_sent_again() {
    let (url, server) = withdrawing_server().await;
    let (device, _dir) = fresh_device().await;
    device
        .adopt_identity(&url, &offline_enrolment("researcher"))
        .await
        .unwrap();
    server.lock().unwrap().refuse_with = Some((StatusCode::CONFLICT, "no_wipe_ordered"));
    let w = wiped(&device).await;
    assert!(
        matches!(&w.confirmation, WipeConfirmation::Refused(why) if why.contains("no_wipe_ordered")),
        "{w:?}"
    );
    assert!(w.lost.is_empty());
    let (_, keys) = left_in(&device).await;
    assert!(keys.is_empty(), "{keys:?}");
    assert!(matches!(device.sync().await, Err(DeviceError::NotEnrolled)));
    assert!(server.lock().unwrap().confirmations.is_empty());
}
