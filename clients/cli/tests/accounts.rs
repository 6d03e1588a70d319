//! A user's own password through the `bothy` binary: an admin resets it, the user replaces the
//! temporary one with `bothy password`, changes it again, and only the newest works; `bothy
//! logout` says there is nothing to end, or ends the login whose refresh token it is given.

use std::path::Path;
use std::process::Output;

mod common;
use common::{ADMIN_PASSWORD, ok, run_as};

#[track_caller]
fn refused(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected a failure: {err}");
    assert!(err.contains(needle), "{err}");
}

async fn login(store: &Path, url: &str, password: &str) -> Output {
    run_as(
        store,
        url,
        "ruth",
        password,
        &["login", "--name", "ruths-laptop"],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_password_is_replaced_then_changed_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let url = server.url();
    let admin_store = dir.path().join("admin.db");
    let ruth_store = dir.path().join("ruth.db");
    let admin =
        |args: &'static [&'static str]| run_as(&admin_store, &url, "admin", ADMIN_PASSWORD, args);
    ok(&admin(&[
        "admin",
        "user",
        "add",
        "ruth",
        "--new-password",
        "first-password",
    ])
    .await);

    let text = ok(&admin(&[
        "admin",
        "user",
        "reset-password",
        "ruth",
        "--new-password",
        "temporary-password",
    ])
    .await);
    assert!(text.contains("reset the password of ruth"), "{text}");
    // The temporary password alone does not log in.
    refused(
        &login(&ruth_store, &url, "temporary-password").await,
        "password_change_required",
    );

    // `bothy password` with the temporary password as the current one replaces it.
    let text = ok(&run_as(
        &ruth_store,
        &url,
        "ruth",
        "temporary-password",
        &["password", "--new-password", "second-password"],
    )
    .await);
    assert!(text.contains("changed the password of ruth"), "{text}");
    // And again, the ordinary way; a short one is refused, naming the field.
    refused(
        &run_as(
            &ruth_store,
            &url,
            "ruth",
            "second-password",
            &["password", "--new-password", "short"],
        )
        .await,
        "new_password must be at least 10 characters",
    );
    ok(&run_as(
        &ruth_store,
        &url,
        "ruth",
        "second-password",
        &["password", "--new-password", "third-password"],
    )
    .await);
    for old in ["first-password", "temporary-password", "second-password"] {
        refused(&login(&ruth_store, &url, old).await, "wrong password");
    }
    ok(&login(&ruth_store, &url, "third-password").await);

    // This tool keeps no login, so there is nothing to end without a token.
    let text = ok(&run_as(&ruth_store, &url, "ruth", "third-password", &["logout"]).await);
    assert!(text.contains("nothing to log out"), "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_login_of_a_refresh_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let url = server.url();
    let api = bothy_device::ServerApi::new(&url, "accounts-test").unwrap();
    let tokens: serde_json::Value = api
        .post_json(
            "/api/v1/auth/login",
            None,
            &serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let store = dir.path().join("admin.db");
    let text = ok(&run_as(
        &store,
        &url,
        "admin",
        ADMIN_PASSWORD,
        &["logout", "--refresh-token", &refresh],
    )
    .await);
    assert!(text.contains("logged out on"), "{text}");
    let refused = api
        .post_json::<serde_json::Value>(
            "/api/v1/auth/refresh",
            None,
            &serde_json::json!({"refresh_token": refresh}),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(bothy_device::DeviceError::Rejected { status: 401, .. })
        ),
        "{refused:?}"
    );
    server.stop().await;
}
