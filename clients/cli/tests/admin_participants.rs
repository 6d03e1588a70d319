//! A participant's subject rights through the `bothy` binary against a real server: a
//! coordinator exports everything held about a participant to a file, then erases them
//! (asking for confirmation unless told `--yes`); the device that recorded them drops them at
//! its next sync; a researcher may do neither.

mod common;
use common::{ADMIN_PASSWORD, ok, run_as as run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_exports_then_erases_a_participant() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let url = server.url();
    let admin_store = dir.path().join("admin.db");
    let admin = |args: Vec<&str>| {
        let (store, url) = (admin_store.clone(), url.clone());
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&store, &url, "admin", ADMIN_PASSWORD, &args).await
        }
    };
    ok(&admin(vec![
        "admin", "project", "create", "isles", "--name", "Isles",
    ])
    .await);
    for (user, role) in [("ruth", "researcher"), ("cora", "coordinator")] {
        ok(&admin(vec![
            "admin",
            "user",
            "add",
            user,
            "--new-password",
            "a-long-password",
        ])
        .await);
        ok(&admin(vec!["admin", "member", "add", "isles", user, role]).await);
    }
    let code = ok(&admin(vec!["admin", "enrol", "ruth", "--no-qr"]).await)
        .trim()
        .to_owned();
    let ruth = dir.path().join("ruth.db");
    let device = |args: Vec<&str>| {
        let (store, url) = (ruth.clone(), url.clone());
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&store, &url, "ruth", "a-long-password", &args).await
        }
    };
    ok(&device(vec![
        "enrol",
        "--server",
        &url,
        "--code",
        &code,
        "--name",
        "ruth-phone",
    ])
    .await);
    let added = ok(&device(vec![
        "--json",
        "participant",
        "add",
        "--project",
        "isles",
        "--consent-data-use",
        "--name",
        "Morag MacLeod",
        "--phone",
        "07700 900123",
    ])
    .await);
    let id = serde_json::from_str::<serde_json::Value>(&added).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&device(vec!["sync"]).await);

    // A researcher may neither export nor erase.
    let o = device(vec!["admin", "participant", "export", "isles", &id]).await;
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("admins and coordinators"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The coordinator's export, to a file readable by its owner only.
    let coordinator = |args: Vec<&str>| {
        let (store, url) = (admin_store.clone(), url.clone());
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&store, &url, "cora", "a-long-password", &args).await
        }
    };
    let file = dir.path().join("morag.json");
    ok(&coordinator(vec![
        "admin",
        "participant",
        "export",
        "isles",
        &id,
        "--output",
        file.to_str().unwrap(),
    ])
    .await);
    let export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(export["contacts"][0]["record"]["name"], "Morag MacLeod");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    // Erasure asks for confirmation; without a terminal it needs --yes.
    let o = coordinator(vec!["admin", "participant", "erase", "isles", &id]).await;
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--yes"));
    let out = ok(&coordinator(vec![
        "admin",
        "participant",
        "erase",
        "isles",
        &id,
        "--reason",
        "withdrew consent",
        "--yes",
    ])
    .await);
    assert!(out.contains("erased participant"), "{out}");
    let out = ok(&coordinator(vec!["admin", "participant", "erase", "isles", &id, "--yes"]).await);
    assert!(out.contains("already erased"), "{out}");

    // The device drops them at its next sync.
    ok(&device(vec!["sync"]).await);
    let listed = ok(&device(vec!["--json", "list"]).await);
    assert!(!listed.contains(&id), "{listed}");
    server.stop().await;
}
