//! A project's follow-up schedule through the `bothy` binary against a real server: a
//! coordinator sets it (`interim:8w end:12w`, then `end:10s`), shows it, clears it; a bad step
//! is named before anything is sent; a researcher is refused by the server.

use std::path::Path;
use std::process::Output;

mod common;
use common::{ADMIN_PASSWORD, ok, run_as};

#[track_caller]
fn fails_with(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "it succeeded: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
}

async fn json(store: &Path, url: &str, user: &str, args: &[&str]) -> serde_json::Value {
    let password = format!("{user}-long-password");
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&run_as(store, url, user, &password, &all).await)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_set_show_and_clear_the_follow_up_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let url = server.url();
    let store = dir.path().join("admin.db");
    let admin = |args: &'static [&'static str]| run_as(&store, &url, "admin", ADMIN_PASSWORD, args);

    ok(&admin(&["admin", "project", "create", "isles", "--name", "Isles"]).await);
    for (user, role) in [("cora", "coordinator"), ("rita", "researcher")] {
        let password = format!("{user}-long-password");
        ok(&run_as(
            &store,
            &url,
            "admin",
            ADMIN_PASSWORD,
            &["admin", "user", "add", user, "--new-password", &password],
        )
        .await);
        ok(&run_as(
            &store,
            &url,
            "admin",
            ADMIN_PASSWORD,
            &["admin", "member", "add", "isles", user, role],
        )
        .await);
    }
    let cora =
        |args: &'static [&'static str]| run_as(&store, &url, "cora", "cora-long-password", args);

    // Nothing is set yet.
    let shown = ok(&cora(&["admin", "followups", "show", "isles"]).await);
    assert_eq!(shown.trim(), "isles: no follow-up schedule");

    // Set, in weeks, and shown in order.
    let set = ok(&cora(&[
        "admin",
        "followups",
        "set",
        "isles",
        "interim:8w",
        "end:12w",
    ])
    .await);
    assert!(
        set.starts_with("set: isles: follow-ups after baseline"),
        "{set}"
    );
    let shown = ok(&cora(&["admin", "followups", "show", "isles"]).await);
    assert!(
        shown.contains("interim    8w       8 weeks after baseline")
            && shown.contains("end        12w      12 weeks after baseline")
            && shown.find("interim") < shown.find("end"),
        "{shown}"
    );
    let v = json(
        &store,
        &url,
        "cora",
        &["admin", "followups", "show", "isles"],
    )
    .await;
    assert_eq!(
        v["followups"],
        serde_json::json!([
            {"timepoint": "interim", "after_weeks": 8},
            {"timepoint": "end", "after_weeks": 12}
        ])
    );

    // Replaced by a schedule in sessions.
    ok(&cora(&["admin", "followups", "set", "isles", "end:10s"]).await);
    let v = json(
        &store,
        &url,
        "cora",
        &["admin", "followups", "show", "isles"],
    )
    .await;
    assert_eq!(
        v["followups"],
        serde_json::json!([{"timepoint": "end", "after_sessions": 10}])
    );

    // A bad step is named, and nothing changes.
    fails_with(
        &cora(&["admin", "followups", "set", "isles", "interim:8x"]).await,
        "interim:8x: `x` is not a unit",
    );
    fails_with(
        &cora(&["admin", "followups", "set", "isles", "end:8w", "end:300w"]).await,
        "end:300w: timepoint: end is already step 1",
    );
    fails_with(
        &cora(&["admin", "followups", "set", "isles", "baseline:2w"]).await,
        "baseline:2w: timepoint: baseline is where the schedule starts",
    );
    let v = json(
        &store,
        &url,
        "cora",
        &["admin", "followups", "show", "isles"],
    )
    .await;
    assert_eq!(
        v["followups"],
        serde_json::json!([{"timepoint": "end", "after_sessions": 10}])
    );

    // A researcher reads the schedule but may not set it.
    let v = json(
        &store,
        &url,
        "rita",
        &["admin", "followups", "show", "isles"],
    )
    .await;
    assert_eq!(v["followups"][0]["timepoint"], "end");
    fails_with(
        &run_as(
            &store,
            &url,
            "rita",
            "rita-long-password",
            &["admin", "followups", "set", "isles", "end:4w"],
        )
        .await,
        "may not manage its set-up",
    );

    // Cleared.
    let cleared = ok(&cora(&["admin", "followups", "clear", "isles"]).await);
    assert_eq!(cleared.trim(), "cleared the follow-up schedule of isles");
    let v = json(
        &store,
        &url,
        "cora",
        &["admin", "followups", "show", "isles"],
    )
    .await;
    assert_eq!(v["followups"], serde_json::json!([]));
    server.stop().await;
}
