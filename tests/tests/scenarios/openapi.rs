//! The OpenAPI document is served without a credential, is the one generated from the code,
//! and every route it lists answers on the running server (not the "no such endpoint" fallback).

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::Value;

on_both_backends!(openapi_document_is_served_and_matches_the_router);

async fn openapi_document_is_served_and_matches_the_router(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{}/openapi.json", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["components"]["securitySchemes"]["user_token"].is_object());
    assert!(doc["components"]["securitySchemes"]["device_token"].is_object());

    let routes = bothy_server::routes();
    assert!(!routes.is_empty());
    for (method, path) in routes {
        let op = &doc["paths"][&path][method.as_str().to_lowercase()];
        assert!(
            op.is_object(),
            "{method} {path} is not in the served document"
        );
        // Fill path parameters with something of the right shape; no credential is sent.
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let res = http
            .request(method.clone(), format!("{}{concrete}", h.url()))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert_ne!(status, 405, "{method} {path}: method not routed");
        let body = res.text().await.unwrap_or_default();
        assert!(
            !body.contains("no such endpoint"),
            "{method} {path}: the router does not serve it"
        );
        if status >= 400 {
            assert!(
                op["responses"].get(status.to_string()).is_some(),
                "{method} {path}: answered {status}, which the document does not list"
            );
        }
    }
}
