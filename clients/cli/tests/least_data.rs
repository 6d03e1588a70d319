//! Least data through the `bothy` binary: a researcher registers a person with a name, phone and
//! postcode district; a peer worker's device shows the person by code with no contact details,
//! and a name the peer worker registers leaves their device once synced; taken out of the
//! project, a researcher's device deletes its records at the next sync and says so.

use std::path::Path;
use std::process::Output;

mod common;
use common::{ADMIN_PASSWORD, ok, run_as};

const NAME: &str = "Seonaid Mairead Ferguson";
const PHONE: &str = "07700 900512";

async fn as_user(store: &Path, url: &str, user: &str, args: &[&str]) -> Output {
    let password = if user == "admin" {
        ADMIN_PASSWORD
    } else {
        "a-long-password"
    };
    run_as(store, url, user, password, args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_workers_see_codes_and_removed_members_lose_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let url = server.url();
    let admin = dir.path().join("admin.db");
    ok(&as_user(
        &admin,
        &url,
        "admin",
        &["admin", "project", "create", "glen", "--name", "Glen"],
    )
    .await);
    for (user, role) in [("ruth", "researcher"), ("pete", "peer_worker")] {
        ok(&as_user(
            &admin,
            &url,
            "admin",
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
        ok(&as_user(
            &admin,
            &url,
            "admin",
            &["admin", "member", "add", "glen", user, role],
        )
        .await);
    }
    let ruth = dir.path().join("ruth.db");
    let pete = dir.path().join("pete.db");
    ok(&as_user(&ruth, &url, "ruth", &["login", "--name", "ruths-phone"]).await);
    ok(&as_user(&pete, &url, "pete", &["login", "--name", "petes-phone"]).await);

    let added = ok(&as_user(
        &ruth,
        &url,
        "ruth",
        &[
            "--json",
            "participant",
            "add",
            "--consent-data-use",
            "--name",
            NAME,
            "--phone",
            PHONE,
            "--postcode-district",
            "ph17",
        ],
    )
    .await);
    let added: serde_json::Value = serde_json::from_str(&added).unwrap();
    let code = added["code"].as_str().unwrap().to_owned();
    assert!(added["contact"].is_string(), "{added}");
    ok(&as_user(&ruth, &url, "ruth", &["sync"]).await);
    let shown = ok(&as_user(&ruth, &url, "ruth", &["show", &code]).await);
    assert!(shown.contains(NAME) && shown.contains("PH17"), "{shown}");

    // The peer worker's device: the person by code, no contact details anywhere.
    ok(&as_user(&pete, &url, "pete", &["sync"]).await);
    let shown = ok(&as_user(&pete, &url, "pete", &["show", &code]).await);
    assert!(shown.contains("contact details") && shown.contains("not on this device"));
    assert!(!shown.contains(NAME) && !shown.contains(PHONE), "{shown}");
    let listed = ok(&as_user(&pete, &url, "pete", &["list"]).await);
    assert!(
        !listed.contains(NAME) && !listed.contains("contact"),
        "{listed}"
    );

    // A person the peer worker registers with a name: sent, then gone from the device.
    ok(&as_user(
        &pete,
        &url,
        "pete",
        &[
            "participant",
            "add",
            "--consent-data-use",
            "--name",
            "Peter Peerie",
        ],
    )
    .await);
    let synced = ok(&as_user(&pete, &url, "pete", &["sync"]).await);
    assert!(
        synced.contains("1 records no longer shared with this device were removed"),
        "{synced}"
    );
    let listed = ok(&as_user(&pete, &url, "pete", &["list"]).await);
    assert!(!listed.contains("Peter Peerie"), "{listed}");
    ok(&as_user(&ruth, &url, "ruth", &["sync"]).await);
    let listed = ok(&as_user(&ruth, &url, "ruth", &["list"]).await);
    assert!(listed.contains("Peter Peerie"), "{listed}");

    // Taken out of the project: the researcher's device deletes its records and says so.
    let removed = ok(&as_user(
        &admin,
        &url,
        "admin",
        &["admin", "member", "remove", "glen", "ruth"],
    )
    .await);
    assert!(
        removed.contains("no longer a member of project glen"),
        "{removed}"
    );
    let synced = ok(&as_user(&ruth, &url, "ruth", &["sync"]).await);
    assert!(
        synced.contains("4 records no longer shared with this device were removed"),
        "{synced}"
    );
    let listed = ok(&as_user(&ruth, &url, "ruth", &["list"]).await);
    assert!(
        !listed.contains(NAME) && !listed.contains("Peter Peerie"),
        "{listed}"
    );
    server.stop().await;
}
