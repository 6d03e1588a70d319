//! Hostile bytes on the sync endpoint: every malformed body gets a 4xx with a clear JSON
//! error, never a panic or a 5xx, and the server keeps serving.

use bothy_sync_core::protocol::{self, SyncRequest};
use bothy_tests::{Backend, Harness, on_both_backends};
use std::io::Read;

on_both_backends!(hostile_sync_bodies);

fn error_of(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
    (
        v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn hostile_sync_bodies(backend: Backend) {
    let Some(h) = Harness::start_with(backend, |c| c.max_sync_bytes = 1024 * 1024).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    let (token, _actor) = h.raw_device("ruth").await;
    let good = protocol::encode(&SyncRequest::default());

    let mut wrong_version = good.clone();
    wrong_version[4..6].copy_from_slice(&99u16.to_be_bytes());
    let mut flipped = good.clone();
    for b in flipped[8..].iter_mut() {
        *b ^= 0xa5;
    }
    // Valid framing, but CBOR of the wrong shape.
    let mut wrong_shape = b"BTHY\x00\x01\x01\x00".to_vec();
    let mut cbor = Vec::new();
    ciborium::into_writer(&vec!["not", "a", "request"], &mut cbor).unwrap();
    flate2::read::DeflateEncoder::new(cbor.as_slice(), flate2::Compression::fast())
        .read_to_end(&mut wrong_shape)
        .unwrap();
    // A compression bomb: tiny on the wire, enormous inflated.
    let mut bomb = b"BTHY\x00\x01\x01\x00".to_vec();
    flate2::read::DeflateEncoder::new(
        std::io::repeat(0).take(protocol::MAX_DECODED_BYTES + 1),
        flate2::Compression::fast(),
    )
    .read_to_end(&mut bomb)
    .unwrap();

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("empty", vec![], 400, "truncated"),
        (
            "garbage",
            b"this is not a sync message at all".to_vec(),
            400,
            "bad magic",
        ),
        ("truncated header", good[..5].to_vec(), 400, "truncated"),
        (
            "truncated body",
            good[..good.len() - 2].to_vec(),
            400,
            "corrupt",
        ),
        ("wrong version", wrong_version, 426, "version 99"),
        ("corrupt body", flipped, 400, "corrupt"),
        ("wrong shape", wrong_shape, 400, "corrupt"),
        ("oversized", vec![b'B'; 2 * 1024 * 1024], 413, "larger than"),
        ("compression bomb", bomb, 413, "larger than"),
    ];
    for (name, body, status, needle) in cases {
        let (got, answer) = h.post_sync(&token, body).await;
        assert_eq!(
            got.as_u16(),
            status,
            "{name}: {}",
            String::from_utf8_lossy(&answer)
        );
        let (code, message) = error_of(&answer);
        assert!(!code.is_empty(), "{name}: error has a code");
        assert!(
            message.to_lowercase().contains(needle),
            "{name}: message {message:?} should mention {needle:?}"
        );
    }

    // Wrong media type, no credential, a forged credential, a user token instead of a device's.
    let res = h
        .http
        .post(format!("{}/api/v1/sync", h.url()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    let res = h
        .http
        .post(format!("{}/api/v1/sync", h.url()))
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let forged = format!("{}x", &token[..token.len() - 1]);
    let (status, body) = h.post_sync(&forged, good.clone()).await;
    assert_eq!(status.as_u16(), 401, "{}", String::from_utf8_lossy(&body));
    let (status, _) = h.post_sync(&h.admin_token, good.clone()).await;
    assert_eq!(status.as_u16(), 401);

    // Still serving, and a good request still works.
    assert!(h.healthy().await);
    let (status, _) = h.post_sync(&token, good).await;
    assert_eq!(status.as_u16(), 200);
    h.finish().await;
}
