//! Accounts: a user changes their own password, an admin resets one (the user must choose a new
//! one at their next login), logging out ends a login, failed refreshes and enrolments are
//! limited per address, and failed or refused attempts leave audit entries.

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};
use std::net::IpAddr;

on_both_backends!(
    a_user_changes_their_password,
    an_admin_reset_makes_the_user_choose_a_new_password,
    logout_ends_the_login_and_its_successors,
    failed_refreshes_and_enrolments_are_limited_per_address,
    failed_logins_and_refusals_are_audited,
);

/// POSTs `body` to `path` (with a bearer token if given) from the default client; answers the
/// status and the JSON body.
async fn post(h: &Harness, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    post_with(&h.http, &h.url(), path, token, body).await
}

async fn post_with(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = http.post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A client whose requests come from `from` (any 127.x address reaches the server).
fn client(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(from.parse::<IpAddr>().unwrap()))
        .build()
        .unwrap()
}

async fn login(h: &Harness, user: &str, password: &str) -> (u16, Value) {
    post(
        h,
        "/api/v1/auth/login",
        None,
        json!({"username": user, "password": password}),
    )
    .await
}

async fn reset(h: &Harness, token: &str, user: &str, password: &str) -> (u16, Value) {
    post(
        h,
        &format!("/api/v1/admin/users/{user}/password"),
        Some(token),
        json!({"new_password": password}),
    )
    .await
}

async fn refresh_from(http: &reqwest::Client, base: &str, token: &str) -> (u16, Value) {
    post_with(
        http,
        base,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": token}),
    )
    .await
}

async fn enrol_from(http: &reqwest::Client, base: &str, code: &str) -> (u16, Value) {
    post_with(
        http,
        base,
        "/api/v1/devices/enrol",
        None,
        json!({"code": code, "name": "phone"}),
    )
    .await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn audit(h: &Harness, action: &str) -> Vec<serde_json::Map<String, Value>> {
    h.sql(
        "SELECT actor_username, target, details FROM audit_log WHERE action = $1 ORDER BY id",
        &[action],
    )
    .await
}

fn details(row: &serde_json::Map<String, Value>) -> Value {
    serde_json::from_str(row["details"].as_str().unwrap()).unwrap()
}

async fn a_user_changes_their_password(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    let (status, tokens) = login(&h, "ruth", "ruth-password").await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let change = |current: &'static str, new: &'static str| {
        post(
            &h,
            "/api/v1/auth/password",
            Some(&access),
            json!({"current_password": current, "new_password": new}),
        )
    };

    // A wrong current password is refused and counted as a failed login of the account.
    let (status, body) = change("not-her-password", "ruths-new-password").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("current_password"),
        "{body}"
    );
    let failures = h
        .sql(
            "SELECT COUNT(*) AS n FROM login_failures WHERE key = 'account:ruth'",
            &[],
        )
        .await;
    assert_eq!(failures[0]["n"].as_i64(), Some(1), "{failures:?}");
    // The new password follows the rules of account creation, and must be new.
    let (status, body) = change("ruth-password", "short").await;
    assert_eq!((status, code(&body)), (400, "weak_password"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new_password")
    );
    let (status, body) = change("ruth-password", "ruth-password").await;
    assert_eq!((status, code(&body)), (400, "weak_password"), "{body}");
    // No credential, no change.
    let (status, _) = post(
        &h,
        "/api/v1/auth/password",
        None,
        json!({"current_password": "ruth-password", "new_password": "ruths-new-password"}),
    )
    .await;
    assert_eq!(status, 401);

    let (status, body) = change("ruth-password", "ruths-new-password").await;
    assert_eq!((status, &body), (200, &json!({"changed": true})));
    // The right password cleared the account's failures.
    let failures = h
        .sql(
            "SELECT COUNT(*) AS n FROM login_failures WHERE key = 'account:ruth'",
            &[],
        )
        .await;
    assert_eq!(failures[0]["n"].as_i64(), Some(0), "{failures:?}");

    // The old password no longer works, the new one does, and the earlier login has ended.
    assert_eq!(login(&h, "ruth", "ruth-password").await.0, 401);
    assert_eq!(login(&h, "ruth", "ruths-new-password").await.0, 200);
    let (status, body) = post(
        &h,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(status, 401, "{body}");

    let entries = audit(&h, "user.password_change").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor_username"], "ruth");
    assert_eq!(details(&entries[0])["refresh_tokens_revoked"], 1);
    h.finish().await;
}

async fn an_admin_reset_makes_the_user_choose_a_new_password(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("sam", "p", "researcher").await;
    h.user("ruth", "p", "coordinator").await;
    let phone = h.device("sam", "sams-phone").await;
    let (_, tokens) = login(&h, "sam", "sam-password").await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let sam_access = tokens["access_token"].as_str().unwrap().to_owned();
    let admin = h.admin_token.clone();

    // Only a server admin resets, with a password that follows the rules, of someone else.
    let (status, _) = reset(&h, &sam_access, "ruth", "temporary-password").await;
    assert_eq!(status, 403);
    let (status, body) = reset(&h, &admin, "sam", "short").await;
    assert_eq!((status, code(&body)), (400, "weak_password"), "{body}");
    let (status, body) = reset(&h, &admin, "nobody", "temporary-password").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = reset(&h, &admin, "admin", "temporary-password").await;
    assert_eq!((status, code(&body)), (400, "cannot_reset_self"), "{body}");

    let (status, body) = reset(&h, &admin, "sam", "temporary-password").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["must_change_password"], true);
    assert_eq!(body["refresh_tokens_revoked"], 1);
    let entries = audit(&h, "user.password_reset").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor_username"], "admin");
    assert_eq!(entries[0]["target"], "sam");

    // Sam's earlier login has ended; the old password is gone.
    let (status, _) = post(
        &h,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(login(&h, "sam", "sam-password").await.0, 401);

    // The temporary password alone is not enough: a new one must come with it.
    let (status, body) = login(&h, "sam", "temporary-password").await;
    assert_eq!(
        (status, code(&body)),
        (403, "password_change_required"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new_password"),
        "{body}"
    );
    let flag = "SELECT must_change_password AS f FROM users WHERE username = 'sam'";
    assert_eq!(h.sql(flag, &[]).await[0]["f"].as_i64(), Some(1));
    let with_new = |new: &'static str| {
        post(
            &h,
            "/api/v1/auth/login",
            None,
            json!({"username": "sam", "password": "temporary-password", "new_password": new}),
        )
    };
    let (status, body) = with_new("short").await;
    assert_eq!((status, code(&body)), (400, "weak_password"), "{body}");
    let (status, body) = with_new("temporary-password").await;
    assert_eq!((status, code(&body)), (400, "weak_password"), "{body}");
    let (status, body) = with_new("sams-own-password").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().is_some());
    assert_eq!(h.sql(flag, &[]).await[0]["f"].as_i64(), Some(0));

    // From now on only the new password works, without any more ado.
    assert_eq!(login(&h, "sam", "temporary-password").await.0, 401);
    assert_eq!(login(&h, "sam", "sams-own-password").await.0, 200);
    let changes = audit(&h, "user.password_change").await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(details(&changes[0])["at_login"], true);

    // Sam's device has its own credential: it kept syncing throughout.
    phone.sync().await.expect("the device still syncs");
    h.finish().await;
}

async fn logout_ends_the_login_and_its_successors(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    let refresh = |token: String| {
        post(
            &h,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": token}),
        )
    };
    let logout = |token: String| {
        post(
            &h,
            "/api/v1/auth/logout",
            None,
            json!({"refresh_token": token}),
        )
    };

    // Logging out with the token at hand: it stops working.
    let (_, first) = login(&h, "ruth", "ruth-password").await;
    let token = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = logout(token.clone()).await;
    assert_eq!((status, &body), (200, &json!({"logged_out": true})));
    assert_eq!(refresh(token.clone()).await.0, 401);
    // Logging out again, or with a token nobody issued, answers the same.
    assert_eq!(logout(token).await, (200, json!({"logged_out": true})));
    assert_eq!(
        logout("never-issued".into()).await,
        (200, json!({"logged_out": true}))
    );

    // An earlier token of a login ends its successors too (the whole family), and another
    // login of the same user carries on.
    let (_, second) = login(&h, "ruth", "ruth-password").await;
    let (_, other) = login(&h, "ruth", "ruth-password").await;
    let earlier = second["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = refresh(earlier.clone()).await;
    assert_eq!(status, 200, "{rotated}");
    let later = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(logout(earlier).await.0, 200);
    assert_eq!(refresh(later).await.0, 401);
    let (status, body) = refresh(other["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, 200, "{body}");

    // Known tokens are audited; the unknown one is not.
    let entries = audit(&h, "user.logout").await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(entries.iter().all(|e| e["actor_username"] == "ruth"));
    assert_eq!(details(&entries[0])["refresh_tokens_revoked"], 1);
    assert_eq!(details(&entries[1])["refresh_tokens_revoked"], 0);
    assert_eq!(details(&entries[2])["refresh_tokens_revoked"], 2);
    h.finish().await;
}

async fn failed_refreshes_and_enrolments_are_limited_per_address(backend: Backend) {
    let Some(h) = Harness::start_with(backend, |c| {
        c.refresh_max_failures_per_address = 3;
        c.enrol_max_failures_per_address = 2;
    })
    .await
    else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    let base = h.url();
    let attacker = client("127.0.0.2");
    let elsewhere = client("127.0.0.3");

    // Refresh: three failures from one address, then refused before any token is looked at.
    let (_, tokens) = login(&h, "ruth", "ruth-password").await;
    let good = tokens["refresh_token"].as_str().unwrap().to_owned();
    for i in 0..3 {
        let (status, body) = refresh_from(&attacker, &base, &format!("guess-{i}")).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = refresh_from(&attacker, &base, "guess-3").await;
    assert_eq!((status, code(&body)), (429, "too_many_attempts"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many failed token refreshes"),
        "{body}"
    );
    // Even a good token is refused from there, and is not used up by the refusal.
    assert_eq!(refresh_from(&attacker, &base, &good).await.0, 429);
    let (status, body) = refresh_from(&elsewhere, &base, &good).await;
    assert_eq!(status, 200, "{body}");
    let counted = h
        .sql(
            "SELECT COUNT(*) AS n FROM login_failures WHERE key = 'refresh-address:127.0.0.2'",
            &[],
        )
        .await;
    assert_eq!(counted[0]["n"].as_i64(), Some(3), "{counted:?}");

    // Enrolment: two bad codes from one address, then refused; a good code is kept for a
    // device elsewhere.
    assert_eq!(enrol_from(&attacker, &base, "AAAAA-AAAAA").await.0, 401);
    assert_eq!(enrol_from(&attacker, &base, "BBBBB-BBBBB").await.0, 401);
    let (status, body) = enrol_from(&attacker, &base, "CCCCC-CCCCC").await;
    assert_eq!((status, code(&body)), (429, "too_many_attempts"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many failed enrolment attempts"),
        "{body}"
    );
    let good_code = h.enrolment_code("ruth").await;
    assert_eq!(enrol_from(&attacker, &base, &good_code).await.0, 429);
    let unused = h
        .sql(
            "SELECT COUNT(*) AS n FROM enrolments WHERE used_at IS NULL",
            &[],
        )
        .await;
    assert_eq!(unused[0]["n"].as_i64(), Some(1), "{unused:?}");
    let (status, body) = enrol_from(&elsewhere, &base, &good_code).await;
    assert_eq!(status, 201, "{body}");
    // Malformed requests are not failures of a code: they are not counted.
    let (status, _) = post_with(
        &elsewhere,
        &base,
        "/api/v1/devices/enrol",
        None,
        json!({"code": "AAAAA-AAAAA", "name": "   "}),
    )
    .await;
    assert_eq!(status, 400);
    let counted = h
        .sql(
            "SELECT key, COUNT(*) AS n FROM login_failures WHERE key LIKE 'enrol-address:%' \
             GROUP BY key ORDER BY key",
            &[],
        )
        .await;
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0]["key"], "enrol-address:127.0.0.2");
    assert_eq!(counted[0]["n"].as_i64(), Some(2));

    // Each refusal is in the audit log, with the limit and the address.
    let refusals: Vec<Value> = audit(&h, "auth.rate_limited")
        .await
        .iter()
        .map(details)
        .collect();
    assert_eq!(
        refusals,
        vec![
            json!({"limit": "refresh-address", "address": "127.0.0.2"}),
            json!({"limit": "refresh-address", "address": "127.0.0.2"}),
            json!({"limit": "enrol-address", "address": "127.0.0.2"}),
            json!({"limit": "enrol-address", "address": "127.0.0.2"}),
        ]
    );
    h.finish().await;
}

async fn failed_logins_and_refusals_are_audited(backend: Backend) {
    let Some(h) = Harness::start_with(backend, |c| {
        c.login_max_failures_per_address = 2;
    })
    .await
    else {
        return;
    };
    let base = h.url();
    let from = client("127.0.0.2");
    let long_name = "x".repeat(150);
    let attempt = |user: String| {
        post_with(
            &from,
            &base,
            "/api/v1/auth/login",
            None,
            json!({"username": user, "password": "guess-guess"}),
        )
    };
    assert_eq!(attempt(long_name.clone()).await.0, 401);
    assert_eq!(attempt("admin".into()).await.0, 401);
    let (status, body) = attempt("nobody".into()).await;
    assert_eq!((status, code(&body)), (429, "too_many_attempts"), "{body}");

    let failed = audit(&h, "auth.login_failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    // An unknown user: the name as given (cut to 100 characters) and the address.
    assert_eq!(failed[0]["target"].as_str(), Some(&long_name[..100]));
    assert_eq!(failed[0]["actor_username"], Value::Null);
    assert_eq!(
        details(&failed[0]),
        json!({"reason": "unknown_user", "address": "127.0.0.2"})
    );
    assert_eq!(failed[1]["target"], "admin");
    assert_eq!(
        details(&failed[1]),
        json!({"reason": "wrong_password", "address": "127.0.0.2"})
    );
    let refused = audit(&h, "auth.rate_limited").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["target"], "127.0.0.2");
    assert_eq!(
        details(&refused[0]),
        json!({"limit": "address", "address": "127.0.0.2"})
    );
    h.finish().await;
}
