//! Project set-up: admins and coordinators manage sites and activities, server admins load
//! instrument wording (test wording here, never a licensed text); devices receive it on sync,
//! show it offline, and check sessions against it; an unchanged set-up is not sent again; bad
//! wording files and other roles are refused.

use bothy_device::{Device, DeviceError};
use bothy_sync_core::Instrument;
use bothy_sync_core::protocol::SyncRequest;
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(project_setup);

const P: &str = "p";

async fn call(h: &Harness, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", h.url());
    let req = match method {
        "GET" => h.http.get(url),
        "PUT" => h.http.put(url).json(&body),
        "PATCH" => h.http.patch(url).json(&body),
        _ => h.http.post(url).json(&body),
    };
    let res = req.bearer_auth(token).send().await.expect("request sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn wording(count: u8, prefix: &str) -> Value {
    let items: serde_json::Map<String, Value> = (1..=count)
        .map(|n| (n.to_string(), json!(format!("{prefix} {n}"))))
        .collect();
    json!({"language": "en", "licence": "test licence", "items": items,
           "responses": {"1": "Test answer 1", "5": "Test answer 5"}})
}

async fn session(device: &Device, site: &str, activity: &str) -> Result<uuid::Uuid, DeviceError> {
    device
        .create_session(
            Some(P),
            &[
                ("site", site.into()),
                ("activity", activity.into()),
                ("activity_type", "heritage".into()),
                ("start", "2026-11-01T10:00:00Z".into()),
            ],
        )
        .await
}

async fn project_setup(backend: Backend) {
    let Some(mut h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.project("q").await;
    for (user, role) in [
        ("cora", "coordinator"),
        ("rita", "researcher"),
        ("pete", "peer_worker"),
        ("anna", "analyst"),
    ] {
        h.user(user, P, role).await;
    }
    h.user("quinn", "q", "coordinator").await;
    let admin = h.admin_token.clone();
    let cora = h.login("cora", "cora-password").await.unwrap();
    let sites = format!("/api/v1/admin/projects/{P}/sites");
    let activities = format!("/api/v1/admin/projects/{P}/activities");

    // A coordinator and a server admin manage sites and activities; nobody else does.
    let (s, v) = call(
        &h,
        "POST",
        &sites,
        &cora,
        json!({"slug": "hall", "name": "Village hall"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        &h,
        "POST",
        &sites,
        &admin,
        json!({"slug": "shore", "name": "The shore"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, _) = call(
        &h,
        "POST",
        &sites,
        &cora,
        json!({"slug": "hall", "name": "Again"}),
    )
    .await;
    assert_eq!(s, 409);
    let (s, v) = call(
        &h,
        "POST",
        &activities,
        &cora,
        json!({"slug": "crafts", "name": "Heritage crafts", "activity_type": "heritage", "site": "hall"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        &h,
        "POST",
        &activities,
        &cora,
        json!({"slug": "walk", "name": "Walk", "activity_type": "no-such-type"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_value")),
        "{v}"
    );
    for user in ["rita", "pete", "anna", "quinn"] {
        let token = h.login(user, &format!("{user}-password")).await.unwrap();
        let (s, _) = call(
            &h,
            "POST",
            &sites,
            &token,
            json!({"slug": "x", "name": "X"}),
        )
        .await;
        assert_eq!(s, 403, "{user} creates a site");
        let (s, _) = call(&h, "GET", &activities, &token, Value::Null).await;
        assert_eq!(s, 403, "{user} lists activities");
        let (s, _) = call(
            &h,
            "PATCH",
            &format!("{sites}/hall"),
            &token,
            json!({"archived": true}),
        )
        .await;
        assert_eq!(s, 403, "{user} archives a site");
    }
    let (s, _) = call(
        &h,
        "PUT",
        "/api/v1/admin/instruments/WEMWBS",
        &cora,
        wording(14, "Test item"),
    )
    .await;
    assert_eq!(s, 403, "only server admins load wording");

    // Wording files are checked against the instrument.
    let (s, v) = call(
        &h,
        "PUT",
        "/api/v1/admin/instruments/WEMWBS",
        &admin,
        wording(13, "Test item"),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_wording")),
        "{v}"
    );
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("14 items") && message.contains("missing: 14"),
        "{message}"
    );
    let (s, v) = call(
        &h,
        "PUT",
        "/api/v1/admin/instruments/PHQ9",
        &admin,
        wording(9, "Test item"),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("unknown_instrument")),
        "{v}"
    );
    let mut out_of_range = wording(14, "Test item");
    out_of_range["responses"]["6"] = json!("Test answer 6");
    let (s, v) = call(
        &h,
        "PUT",
        "/api/v1/admin/instruments/WEMWBS",
        &admin,
        out_of_range,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("1 to 5"),
        "{v}"
    );
    let (s, v) = call(
        &h,
        "PUT",
        "/api/v1/admin/instruments/WEMWBS",
        &admin,
        wording(14, "Test item"),
    )
    .await;
    assert_eq!((s, v["version"].as_i64()), (200, Some(1)), "{v}");
    let (s, v) = call(
        &h,
        "PUT",
        "/api/v1/admin/instruments/SWEMWBS?project=q",
        &admin,
        wording(7, "Q item"),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // A device receives the set-up and shows it with the server stopped.
    let device = h.device("rita", "tablet").await;
    device.sync().await.unwrap();
    h.stop().await;
    let forms = device.project_setup(Some(P)).await.unwrap();
    let slugs: Vec<&str> = forms.sites.iter().map(|s| s.slug.as_str()).collect();
    assert_eq!(slugs, ["hall", "shore"]);
    assert_eq!(forms.activities[0].slug, "crafts");
    assert_eq!(forms.activities[0].site.as_deref(), Some("hall"));
    let wemwbs = forms.wording(Instrument::Wemwbs);
    assert_eq!(wemwbs.items.len(), 14);
    assert_eq!(wemwbs.items[&1], "Test item 1");
    assert_eq!(wemwbs.responses[&5], "Test answer 5");
    // No SWEMWBS wording for this project (the other project's is not sent): neutral labels.
    assert_eq!(
        forms.wording(Instrument::Swemwbs).items[&1],
        "SWEMWBS item 1"
    );
    assert_eq!(forms.wording(Instrument::Ons4).items.len(), 4);
    // Sessions are checked against the set-up, naming the field.
    match session(&device, "nowhere", "crafts").await {
        Err(DeviceError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "site");
            assert!(
                errors[0].message.contains("hall, shore"),
                "{}",
                errors[0].message
            );
        }
        other => panic!("an unknown site is refused: {other:?}"),
    }
    match session(&device, "hall", "juggling").await {
        Err(DeviceError::Invalid(errors)) => assert_eq!(errors[0].field, "activity"),
        other => panic!("an unknown activity is refused: {other:?}"),
    }
    session(&device, "hall", "crafts").await.unwrap();
    h.restart().await;

    // An unchanged set-up is not sent again.
    let (token, _) = h.raw_device("rita").await;
    let first = h.sync_raw(&token, &SyncRequest::default()).await;
    let setup = first
        .setup
        .expect("a device without the set-up receives it");
    assert!(!setup.version.is_empty());
    assert!(setup.projects.iter().all(|p| p.project == P), "{setup:?}");
    let again = SyncRequest {
        cursor: first.cursor,
        setup: Some(setup.version.clone()),
        ..SyncRequest::default()
    };
    let (status, bytes) = h
        .post_sync(&token, bothy_sync_core::protocol::encode(&again))
        .await;
    assert!(status.is_success());
    let (second, _): (bothy_sync_core::protocol::SyncResponse, u16) =
        bothy_sync_core::protocol::decode(&bytes).unwrap();
    assert!(second.setup.is_none(), "{second:?}");
    let without = bothy_sync_core::protocol::SyncResponse {
        setup: None,
        ..second.clone()
    };
    assert_eq!(
        bytes,
        bothy_sync_core::protocol::encode_response(
            &without,
            bothy_sync_core::protocol::PROTOCOL_VERSION,
            bothy_sync_core::protocol::ENCODING_BROTLI
        )
    );

    // A change reaches the device on its next sync, and a raw device sees a new version.
    let (s, v) = call(
        &h,
        "PATCH",
        &format!("{sites}/shore"),
        &cora,
        json!({"archived": true}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = call(
        &h,
        "PATCH",
        &format!("{sites}/nope"),
        &cora,
        json!({"archived": true}),
    )
    .await;
    assert_eq!(s, 404);
    let (s, v) = call(
        &h,
        "POST",
        &sites,
        &cora,
        json!({"slug": "bothy", "name": "The bothy"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        &h,
        "PUT",
        "/api/v1/admin/instruments/WEMWBS",
        &admin,
        wording(14, "Changed item"),
    )
    .await;
    assert_eq!((s, v["version"].as_i64()), (200, Some(2)), "{v}");
    let listed = h.get(&sites).await;
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    let third = h.sync_raw(&token, &again).await;
    let changed = third.setup.expect("a changed set-up is sent");
    assert_ne!(changed.version, setup.version);
    device.sync().await.unwrap();
    let forms = device.project_setup(Some(P)).await.unwrap();
    let slugs: Vec<&str> = forms.sites.iter().map(|s| s.slug.as_str()).collect();
    assert_eq!(slugs, ["bothy", "hall"]);
    assert_eq!(
        forms.wording(Instrument::Wemwbs).items[&1],
        "Changed item 1"
    );
    assert!(matches!(
        session(&device, "shore", "crafts").await,
        Err(DeviceError::Invalid(_))
    ));

    // Every change is in the audit log.
    let audit = h.get("/api/v1/admin/audit").await.to_string();
    for action in [
        "site.create",
        "site.update",
        "activity.create",
        "instrument.load",
    ] {
        assert!(audit.contains(action), "{action} audited");
    }
    assert!(
        !audit.contains("Test item 1"),
        "wording is not copied into the log"
    );
    device.close().await;
    h.finish().await;
}
