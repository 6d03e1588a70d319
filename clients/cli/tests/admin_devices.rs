//! Device life cycle through the `bothy` binary against a real server: an admin makes an
//! enrolment code (printed, and written as SVG and PNG QR codes), a device enrols from the QR
//! payload, syncs, shows up in `bothy admin devices` with its unsynced-change hint; then the
//! admin revokes it (or removes its user) and the device's next sync wipes it: it lists what it
//! lost, says in one line that it was withdrawn and wiped and must be enrolled again, and
//! `bothy admin device list` shows the wipe confirmed with the lost record.

use std::path::Path;
use std::process::Output;

mod common;
use common::{ADMIN_PASSWORD, ok, run_as};

async fn run(store: &Path, server: &str, args: &[&str]) -> Output {
    run_as(store, server, "admin", ADMIN_PASSWORD, args).await
}

#[track_caller]
fn fails_in_one_line(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_devices_and_removed_users_are_wiped_at_their_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let url = server.url();
    let admin_store = dir.path().join("admin.db");
    let a = |args: &'static [&'static str]| run(&admin_store, &url, args);

    ok(&a(&["admin", "project", "create", "isles", "--name", "Isles"]).await);
    for user in ["ruth", "sam"] {
        ok(&run(
            &admin_store,
            &url,
            &[
                "admin",
                "user",
                "add",
                user,
                "--new-password",
                "a-long-password",
            ],
        )
        .await);
        ok(&run(
            &admin_store,
            &url,
            &["admin", "member", "add", "isles", user, "researcher"],
        )
        .await);
    }

    // Enrolment code, with QR codes in the terminal, as SVG and as PNG.
    let svg = dir.path().join("code.svg");
    let png = dir.path().join("code.png");
    let o = run(
        &admin_store,
        &url,
        &[
            "--json",
            "admin",
            "enrol",
            "ruth",
            "--qr-svg",
            svg.to_str().unwrap(),
            "--qr-png",
            png.to_str().unwrap(),
        ],
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    let payload = v["qr_payload"].as_str().unwrap().to_owned();
    assert!(
        payload.starts_with("http://127.0.0.1:") && payload.contains("/app/#/enrol?code="),
        "{payload}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    let o = run(&admin_store, &url, &["admin", "enrol", "sam"]).await;
    let sam_code = ok(&o).trim().to_owned();
    let drawn = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(drawn.contains('█') || drawn.contains('▀'), "{drawn}");

    // Ruth's device enrols from the QR payload; Sam's with the typed code.
    let ruth = dir.path().join("ruth.db");
    ok(&run(
        &ruth,
        "http://127.0.0.1:9",
        &["enrol", "--qr-payload", &payload, "--name", "ruth-phone"],
    )
    .await);
    let sam = dir.path().join("sam.db");
    ok(&run(
        &sam,
        &url,
        &[
            "enrol",
            "--server",
            &url,
            "--code",
            &sam_code,
            "--name",
            "sam-phone",
        ],
    )
    .await);
    let mut unsynced = Vec::new();
    for store in [&ruth, &sam] {
        ok(&run(store, &url, &["participant", "add", "--project", "isles"]).await);
        ok(&run(store, &url, &["sync"]).await);
        let added = ok(&run(
            store,
            &url,
            &["--json", "participant", "add", "--project", "isles"],
        )
        .await);
        let added: serde_json::Value = serde_json::from_str(&added).unwrap();
        unsynced.push(added["id"].as_str().unwrap().to_owned());
    }

    // The hint is what each device reported at its last sync, less what that sync
    // acknowledged: 0 here (the record added since is not known to the server yet).
    let listed = ok(&a(&["--json", "admin", "devices"]).await);
    let devices: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(devices.len(), 2, "{listed}");
    for d in &devices {
        assert_eq!(d["pending_records"], 0, "{d}");
        assert!(d["last_sync_at"].is_i64(), "{d}");
        assert!(d["app"].as_str().unwrap().starts_with("bothy-cli/"), "{d}");
        assert_eq!(d["revoked"], false);
    }
    let text = ok(&a(&["admin", "devices"]).await);
    assert!(
        text.contains("ruth-phone") && text.contains("0 unsynced"),
        "{text}"
    );
    let ruth_id = devices.iter().find(|d| d["name"] == "ruth-phone").unwrap()["device_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Revoke Ruth's phone: its next sync lists what it lost, says in one line that it was
    // withdrawn and wiped, and leaves no record on it.
    let o = run(
        &admin_store,
        &url,
        &[
            "admin",
            "device",
            "revoke",
            &ruth_id,
            "--reason",
            "lost on the ferry",
        ],
    )
    .await;
    assert!(ok(&o).contains("revoked device") && ok(&o).contains("wiped"));
    let o = run(
        &admin_store,
        &url,
        &["admin", "device", "revoke", &ruth_id, "--reason", "again"],
    )
    .await;
    fails_in_one_line(&o, 4, "already revoked");
    let text = ok(&a(&["admin", "device", "list"]).await);
    assert!(text.contains("WIPE ORDERED"), "{text}");
    let o = run(&ruth, &url, &["sync"]).await;
    fails_in_one_line(
        &o,
        4,
        "this device was withdrawn by an admin and has been wiped",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1 record with 1 change not yet on the server was lost")
            && err.contains("the server has been told")
            && err.contains("bothy enrol"),
        "{err}"
    );
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(
        listed.contains("lost participant") && listed.contains(&unsynced[0]),
        "{listed}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(&run(&ruth, &url, &["--json", "status"]).await)).unwrap();
    assert_eq!(status["records"], 0, "{status}");
    assert_eq!(status["server"], serde_json::Value::Null, "{status}");
    let o = run(&ruth, &url, &["sync"]).await;
    fails_in_one_line(&o, 1, "enrol this device first");

    // The admin sees the wipe confirmed and the record lost.
    let text = ok(&a(&["admin", "device", "list"]).await);
    assert!(
        text.contains("WIPED") && text.contains("lost 1 records, 1 unsynced changes"),
        "{text}"
    );
    assert!(
        text.contains(&format!("lost participant {}", unsynced[0])),
        "{text}"
    );
    let listed = ok(&a(&["--json", "admin", "device", "list"]).await);
    let devices: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let row = devices
        .iter()
        .find(|d| d["device_id"] == ruth_id.as_str())
        .unwrap();
    assert!(row["wipe_confirmed_at"].is_i64(), "{row}");
    assert_eq!(row["lost"][0]["record_id"], unsynced[0].as_str(), "{row}");

    // Remove Sam: no more logins, and Sam's device is wiped at its next sync.
    ok(&a(&[
        "admin",
        "user",
        "remove",
        "sam",
        "--reason",
        "left the project",
    ])
    .await);
    let o = run(&sam, &url, &["--json", "sync"]).await;
    fails_in_one_line(&o, 4, "has been wiped");
    let lost: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(lost["lost"][0]["record_id"], unsynced[1].as_str(), "{lost}");
    assert_eq!(lost["confirmation"], "confirmed", "{lost}");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&run(&sam, &url, &["--json", "status"]).await)).unwrap();
    assert_eq!(status["records"], 0, "{status}");
    let text = ok(&a(&["admin", "devices"]).await);
    assert!(
        text.contains("REVOKED") && text.contains("USER REMOVED"),
        "{text}"
    );
    let o = run(
        &admin_store,
        &url,
        &["admin", "user", "remove", "nobody", "--reason", "x"],
    )
    .await;
    fails_in_one_line(&o, 4, "no user `nobody`");

    server.stop().await;
}
