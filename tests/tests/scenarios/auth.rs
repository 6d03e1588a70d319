//! Login, token rotation and enrolment codes: the credentials a lost phone or a copied token
//! must not outlive.

use bothy_tests::{ADMIN_PASSWORD, Backend, Harness, on_both_backends};
use serde_json::json;

on_both_backends!(
    tokens_and_enrolment_codes,
    token_lifetimes_beyond_the_setting_are_refused
);

async fn status_of(h: &Harness, path: &str, token: Option<&str>, body: serde_json::Value) -> u16 {
    let mut req = h.http.post(format!("{}{path}", h.url())).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn tokens_and_enrolment_codes(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;

    // Unknown user and wrong password get the same answer.
    let wrong = h
        .login("ruth", "not-her-password")
        .await
        .unwrap_err()
        .to_string();
    let unknown = h
        .login("nobody", "not-her-password")
        .await
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("401") && unknown.contains("401"));
    assert_eq!(
        wrong.split_once(':').unwrap().1,
        unknown.split_once(':').unwrap().1
    );

    // Refresh tokens rotate; a replayed one revokes its whole family.
    let login = h
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await
        .unwrap();
    let first = login["refresh_token"].as_str().unwrap().to_owned();
    let rotated = h
        .post_json(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first}),
        )
        .await
        .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert!(rotated["access_token"].as_str().is_some());
    assert_eq!(
        status_of(
            &h,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first})
        )
        .await,
        401
    );
    assert_eq!(
        status_of(
            &h,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": second})
        )
        .await,
        401
    );

    // A tampered or unsigned access token is refused.
    let token = h.admin_token.clone();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let tampered = parts.join(".");
    let unsigned = format!("{}.{}.", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", parts[1]);
    for bad in [tampered.as_str(), unsigned.as_str(), "not-a-token"] {
        assert!(
            h.get_as("/api/v1/admin/projects", bad).await.is_err(),
            "{bad}"
        );
    }
    // An expired token signed with the server's own key, and a fresh one signed with another
    // key, are both refused; the expired one says so.
    let me = h.get("/api/v1/me").await;
    let admin_id = me["user"]["id"].as_str().unwrap().to_owned();
    let secret = h
        .sql("SELECT value FROM settings WHERE key = 'jwt_secret'", &[])
        .await[0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    let sign = |key: &[u8], exp: i64| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"sub": admin_id, "name": "admin", "iat": exp - 900, "exp": exp, "jti": "t"}),
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    let expired = sign(secret.as_bytes(), now - 3600);
    let err = h
        .get_as("/api/v1/admin/projects", &expired)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401") && err.contains("expired"), "{err}");
    let other_key = sign(b"some-other-key-that-is-long-enough-000", now + 600);
    let err = h
        .get_as("/api/v1/admin/projects", &other_key)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401") && err.contains("not valid"), "{err}");
    // The same claims signed with the right key work, so the refusals above are about the key
    // and the expiry, not the claims.
    let good = sign(secret.as_bytes(), now + 600);
    assert!(h.get_as("/api/v1/admin/projects", &good).await.is_ok());

    // A non-admin may not use the admin API.
    let ruth = h.login("ruth", "ruth-password").await.unwrap();
    assert_eq!(
        status_of(
            &h,
            "/api/v1/admin/projects",
            Some(&ruth),
            json!({"slug": "x", "name": "x"})
        )
        .await,
        403
    );

    // Enrolment codes are single use, and case and dashes do not matter.
    let code = h.enrolment_code("ruth").await;
    let typed = code.replace('-', "").to_lowercase();
    assert_eq!(
        status_of(
            &h,
            "/api/v1/devices/enrol",
            None,
            json!({"code": typed, "name": "phone"})
        )
        .await,
        201
    );
    assert_eq!(
        status_of(
            &h,
            "/api/v1/devices/enrol",
            None,
            json!({"code": code, "name": "again"})
        )
        .await,
        401
    );
    h.finish().await;
}

/// A token signed with the server's key but claiming a lifetime the server never issues (an
/// `exp` far beyond the configured lifetime, or an `iat` in the future) is refused.
async fn token_lifetimes_beyond_the_setting_are_refused(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let me = h.get("/api/v1/me").await;
    let admin_id = me["user"]["id"].as_str().unwrap().to_owned();
    let secret = h
        .sql("SELECT value FROM settings WHERE key = 'jwt_secret'", &[])
        .await[0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let sign = |iat: i64, exp: i64| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"sub": admin_id, "name": "admin", "iat": iat, "exp": exp, "jti": "t"}),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let ttl = 900; // the configured default
    let now = chrono::Utc::now().timestamp();
    let refused = [
        ("a ten-year token", sign(now, now + 10 * 365 * 86_400)),
        ("a token living twice the setting", sign(now, now + 2 * ttl)),
        (
            "a token issued in the future",
            sign(now + 3600, now + 3600 + ttl),
        ),
        ("a token with no iat", {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &json!({"sub": admin_id, "name": "admin", "exp": now + 600, "jti": "t"}),
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        }),
    ];
    for (what, token) in refused {
        let err = h
            .get_as("/api/v1/admin/projects", &token)
            .await
            .expect_err(what)
            .to_string();
        assert!(
            err.contains("401") && err.contains("not valid"),
            "{what}: {err}"
        );
    }
    // What the server itself issues, and the same lifetime signed here, are accepted.
    assert!(
        h.get_as("/api/v1/admin/projects", &sign(now, now + ttl))
            .await
            .is_ok()
    );
    assert!(
        h.get_as("/api/v1/admin/projects", &h.admin_token)
            .await
            .is_ok()
    );
    h.finish().await;
}
