//! The OpenAPI document is served without a credential, is the one generated from the code,
//! and every route it lists answers on the running server (not the "no such endpoint" fallback);
//! the rules it declares for requests are the ones the server enforces.

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};

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

on_both_backends!(openapi_constraints_are_enforced);

/// The document declares the rules the handlers enforce (lengths, patterns, lists of values,
/// date formats, required fields, no unknown fields), and the handlers refuse what the document
/// excludes, in the API's error format: a JSON array where an object is required is not read as
/// the object's fields in order, an empty change.
async fn openapi_constraints_are_enforced(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let api = &h.api;
    let http = &api.http;
    let token = api.admin_token.clone();
    api.project("hebrides").await;
    let setup = "/api/v1/admin/projects/hebrides";
    api.admin(
        &format!("{setup}/sites"),
        json!({"slug": "harbour", "name": "Harbour hall"}),
    )
    .await;
    let created = http
        .post(format!("{}{setup}/activities", api.base))
        .bearer_auth(&token)
        .json(&json!({"slug": "shore-walk", "name": "Shore walk", "activity_type": "walking"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let send = |method: &str, path: &str, body: &str| {
        http.request(method.parse().unwrap(), format!("{}{path}", api.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let refused = |status: u16, code: &str, v: &Value| {
        v["error"]["code"] == code && v["error"]["message"].is_string() && status == 400
    };

    // Bodies that are not objects, on a change (which has no required field) and elsewhere.
    let activity = format!("{setup}/activities/shore-walk");
    for body in [
        "[]",
        "[null, null]",
        "[\"Renamed\"]",
        "\"x\"",
        "1",
        "null",
        "true",
    ] {
        for path in [activity.as_str(), &format!("{setup}/sites/harbour")] {
            let res = send("PATCH", path, body).await.unwrap();
            let status = res.status().as_u16();
            let v: Value = res.json().await.unwrap();
            assert!(
                refused(status, "invalid_json", &v),
                "PATCH {path} {body}: {status} {v}"
            );
        }
    }
    let res = send(
        "POST",
        &format!(
            "/api/v1/projects/hebrides/participants/{}/erase",
            uuid::Uuid::new_v4()
        ),
        "[]",
    )
    .await
    .unwrap();
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap();
    assert!(
        refused(status, "invalid_json", &v),
        "erase []: {status} {v}"
    );
    // White space alone is not an empty body, and not JSON either.
    let res = send(
        "POST",
        &format!(
            "/api/v1/projects/hebrides/participants/{}/erase",
            uuid::Uuid::new_v4()
        ),
        "\t",
    )
    .await
    .unwrap();
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap();
    assert!(
        refused(status, "invalid_json", &v),
        "erase with a tab: {status} {v}"
    );
    // Nothing was changed nor audited by the refused requests.
    let listed = api.get(&format!("{setup}/activities")).await;
    assert_eq!(listed[0]["name"], "Shore walk", "{listed}");
    let audit = api.get("/api/v1/admin/audit?action=activity.update").await;
    assert_eq!(audit, json!([]), "refused changes are not audited");

    // Unknown fields (a typo would otherwise change nothing and answer 200), blank names,
    // names longer than allowed counting the spaces sent, an unknown site.
    for (method, path, body, code) in [
        (
            "PATCH",
            activity.as_str(),
            json!({"archive": true}),
            "invalid_json",
        ),
        (
            "PATCH",
            &format!("{setup}/sites/harbour"),
            json!({"site": "harbour"}),
            "invalid_json",
        ),
        (
            "PATCH",
            activity.as_str(),
            json!({"name": " \u{3000} "}),
            "invalid_name",
        ),
        (
            "PATCH",
            activity.as_str(),
            json!({"name": format!("Walk{}", " ".repeat(197))}),
            "invalid_name",
        ),
        (
            "POST",
            "/api/v1/admin/projects",
            json!({"slug": "skye", "name": "Skye", "owner": "x"}),
            "invalid_json",
        ),
        (
            "POST",
            "/api/v1/admin/enrolments",
            json!({"username": "admin", "expires_in_hours": 1.5}),
            "invalid_json",
        ),
        (
            "POST",
            "/api/v1/admin/enrolments",
            json!({"username": "admin", "expires_in_hours": 721}),
            "invalid_expiry",
        ),
        (
            "POST",
            "/api/v1/admin/users/nobody/remove",
            json!({"reason": "x".repeat(501)}),
            "invalid_reason",
        ),
        (
            "POST",
            "/api/v1/devices/register",
            json!({"name": "Phone", "app": "a".repeat(201)}),
            "invalid_app",
        ),
    ] {
        let res = send(method, path, &body.to_string()).await.unwrap();
        let status = res.status().as_u16();
        let v: Value = res.json().await.unwrap();
        assert!(
            refused(status, code, &v),
            "{method} {path} {body}: {status} {v}"
        );
    }
    let res = send(
        "PATCH",
        &activity,
        &json!({"site": "no-such-site"}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404, "an unknown site is not found");
    // A whole number written with a zero fraction is a whole number, as JSON Schema says.
    let res = send(
        "POST",
        "/api/v1/admin/enrolments",
        &json!({"username": "admin", "expires_in_hours": 24.0}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);

    // Query parameters: dates exactly as YYYY-MM-DD, a quarter as the document writes it.
    // A timepoint given empty is refused too, not read as "all".
    for (dataset, query) in [
        ("sessions", "from=2026-1-5"),
        ("sessions", "to=%2B2026-01-05"),
        ("sessions", "quarter=2026-Q5"),
        ("sessions", "quarter=2026-Q%2B3"),
        ("wellbeing", "timepoint="),
        ("wellbeing", "timepoint=sometime"),
        ("outcome_pairs", "timepoint="),
        ("sessions", "format="),
    ] {
        let res = http
            .get(format!(
                "{}/api/v1/projects/hebrides/exports/{dataset}?{query}",
                api.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let v: Value = res.json().await.unwrap();
        assert!(
            refused(status, "invalid_query", &v),
            "{query}: {status} {v}"
        );
    }

    // The document declares these rules, so they cannot silently disappear from it.
    let doc: Value = http
        .get(format!("{}/openapi.json", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let project = schema("NewProject");
    assert_eq!(project["properties"]["slug"]["pattern"], "^[a-z0-9-]+$");
    assert_eq!(project["properties"]["slug"]["maxLength"], 64);
    assert_eq!(project["properties"]["name"]["maxLength"], 200);
    assert_eq!(project["additionalProperties"], false);
    let roles = schema("Member")["properties"]["role"]["enum"].clone();
    assert!(
        roles.as_array().unwrap().contains(&json!("analyst")),
        "{roles}"
    );
    let types = schema("NewActivity")["properties"]["activity_type"]["enum"].clone();
    assert!(
        types.as_array().unwrap().contains(&json!("walking")),
        "{types}"
    );
    assert_eq!(schema("ActivityChange")["additionalProperties"], false);
    assert_eq!(schema("SiteChange")["additionalProperties"], false);
    let decision = schema("Decision");
    assert_eq!(decision["required"], json!(["reason"]));
    assert_eq!(decision["properties"]["reason"]["maxLength"], 2000);
    let hours = schema("NewEnrolment")["properties"]["expires_in_hours"].clone();
    assert_eq!(
        (hours["minimum"].clone(), hours["maximum"].clone()),
        (json!(1), json!(720))
    );
    assert_eq!(
        schema("Resolve")["properties"]["record_id"]["format"],
        "uuid"
    );
    let param = |path: &str, method: &str, name: &str| {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has parameters"))
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has `{name}`"))["schema"]
            .clone()
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.contains("{slug}") {
            for method in item.as_object().unwrap().keys() {
                assert_eq!(
                    param(path, method, "slug")["pattern"],
                    "^[a-z0-9-]+$",
                    "{method} {path}"
                );
            }
        }
    }
    let entry = param("/api/v1/projects/{slug}/quarantine/{id}", "get", "id");
    assert_eq!(
        (entry["type"].clone(), entry["minimum"].clone()),
        (json!("integer"), json!(1))
    );
    let export = "/api/v1/projects/{slug}/exports/{dataset}";
    assert_eq!(param(export, "get", "from")["format"], "date");
    assert_eq!(
        param(export, "get", "format")["enum"],
        json!(["csv", "jsonl", "ndjson", "parquet"])
    );
    assert_eq!(
        param(export, "get", "dataset")["enum"],
        json!([
            "participants",
            "sessions",
            "attendance",
            "wellbeing",
            "wellbeing_items",
            "outcome_pairs",
            "stories"
        ])
    );
    let limit = param("/api/v1/admin/audit", "get", "limit");
    assert_eq!(
        (limit["minimum"].clone(), limit["maximum"].clone()),
        (json!(1), json!(1000))
    );
    h.finish().await;
}
