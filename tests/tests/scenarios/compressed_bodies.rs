//! JSON request bodies as scripts send them: gzip-compressed (`Content-Encoding: gzip`) bodies
//! are read like plain ones, the 1 MiB limit applies to what they decompress to, and an encoding
//! the server does not read is refused with 415 rather than misread as bad JSON.

use bothy_tests::{Backend, Harness, on_both_backends};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::io::Write;

on_both_backends!(gzip_request_bodies);

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

async fn put(h: &Harness, path: &str, encoding: &str, body: Vec<u8>) -> (u16, Value) {
    let res = h
        .http
        .put(format!("{}{path}", h.url()))
        .bearer_auth(&h.admin_token)
        .header("content-type", "application/json")
        .header("content-encoding", encoding)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn gzip_request_bodies(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("glen").await;
    let path = "/api/v1/projects/glen/instruments";
    let def = json!({
        "id": "FEEDBACK3", "version": 1, "name": "Feedback",
        "items": [
            {"number": 1, "scale": {"min": 1, "max": 5}},
            {"number": 2, "scale": {"min": 1, "max": 5}, "reverse": true},
            {"number": 3, "scale": {"min": 1, "max": 5}}
        ],
        "scoring": {"method": "sum", "higher_is_better": true}
    });

    let (status, body) = put(&h, path, "gzip", gzip(def.to_string().as_bytes())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["instrument"], "FEEDBACK3", "{body}");
    assert_eq!(body["items"], 3, "{body}");

    // A compressed body with a mistake is refused naming the field, as a plain one is.
    let mut bad = def.clone();
    bad["items"][1]["number"] = json!(1);
    let (status, body) = put(&h, path, "gzip", gzip(bad.to_string().as_bytes())).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("items[1].number: duplicate item 1"),
        "{body}"
    );

    // A small body that decompresses past the limit is refused, not read into memory whole.
    let mut huge = def.clone();
    huge["description"] = json!(" ".repeat(4 * 1024 * 1024));
    let packed = gzip(huge.to_string().as_bytes());
    assert!(packed.len() < 64 * 1024);
    let (status, _) = put(&h, path, "gzip", packed).await;
    assert_eq!(status, 413);

    // An encoding the server does not read is said to be unsupported.
    let (status, _) = put(&h, path, "zstd", def.to_string().into_bytes()).await;
    assert_eq!(status, 415);

    // Nothing refused was stored: the one definition is there.
    let listed = h.get("/api/v1/projects/glen/instruments").await;
    assert_eq!(listed["project"].as_array().unwrap().len(), 1, "{listed}");
    h.finish().await;
}
