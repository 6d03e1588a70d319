//! `bothy export` and `bothy report` against a real server: a researcher records and syncs a
//! session from the terminal; an analyst exports CSV and JSON Lines to files and to standard
//! output, Parquet and a data package to files, and reads the quarterly report; a researcher is
//! refused in one clear line.

use std::path::Path;
use std::process::Output;

mod common;
use common::{ADMIN_PASSWORD, ok, run_as};

/// Runs the binary as `user` (the admin, or a user whose password is `<user>-long-password`).
async fn run(store: &Path, server: &str, user: &str, args: &[&str]) -> Output {
    let password = if user == "admin" {
        ADMIN_PASSWORD.to_owned()
    } else {
        format!("{user}-long-password")
    };
    run_as(store, server, user, &password, args).await
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// Runs `bothy export <args> <flag> <file>` as the analyst and returns what it wrote.
async fn export_to(store: &Path, server: &str, args: &[&str], flag: &str, file: &Path) -> Vec<u8> {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    all.extend([flag, file.to_str().unwrap()]);
    ok(&run(store, server, "ana", &all).await);
    std::fs::read(file).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_export_and_report_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let url = server.url();
    let admin = dir.path().join("admin.db");
    let field = dir.path().join("field.db");

    ok(&run(
        &admin,
        &url,
        "admin",
        &["admin", "project", "create", "isles", "--name", "Isles"],
    )
    .await);
    for (user, role) in [("rhona", "researcher"), ("ana", "analyst")] {
        let password = format!("{user}-long-password");
        ok(&run(
            &admin,
            &url,
            "admin",
            &["admin", "user", "add", user, "--new-password", &password],
        )
        .await);
        ok(&run(
            &admin,
            &url,
            "admin",
            &["admin", "member", "add", "isles", user, role],
        )
        .await);
    }
    let code = json(
        &run(
            &admin,
            &url,
            "admin",
            &["--json", "admin", "enrol", "rhona"],
        )
        .await,
    )["code"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&run(
        &field,
        &url,
        "rhona",
        &["enrol", "--server", &url, "--code", &code],
    )
    .await);
    let session = json(
        &run(
            &field,
            &url,
            "rhona",
            &[
                "--json",
                "session",
                "new",
                "--project",
                "isles",
                "--site",
                "barra-hall",
                "--activity",
                "ceilidh",
                "--type",
                "music",
                "--start",
                "2026-10-05T10:00:00Z",
            ],
        )
        .await,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..6 {
        let p = json(
            &run(
                &field,
                &url,
                "rhona",
                &[
                    "--json",
                    "participant",
                    "add",
                    "--project",
                    "isles",
                    "--age-band",
                    "65-74",
                    "--rurality",
                    "rural",
                    "--consent-data-use",
                ],
            )
            .await,
        );
        let code = p["code"].as_str().unwrap().to_owned();
        ok(&run(
            &field,
            &url,
            "rhona",
            &["session", "attend", &session, &code],
        )
        .await);
    }
    ok(&run(&field, &url, "rhona", &["sync"]).await);

    // To a file: CSV with the documented header and one row per mark.
    let file = dir.path().join("attendance.csv");
    let csv = export_to(
        &admin,
        &url,
        &["attendance", "--project", "isles"],
        "--output",
        &file,
    )
    .await;
    let csv = String::from_utf8(csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "session_id,participant_id,project,site,activity,activity_type,session_date,status"
    );
    assert_eq!(lines.count(), 6);
    assert!(!dir.path().join("attendance.partial").exists());

    // To standard output, as JSON Lines, filtered.
    let out = ok(&run(
        &admin,
        &url,
        "ana",
        &[
            "export",
            "sessions",
            "--project",
            "isles",
            "--format",
            "jsonl",
            "--site",
            "barra-hall",
        ],
    )
    .await);
    let row: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(row["registered_attendees"], 6);
    assert_eq!(row["session_date"], "2026-10-05");

    let md = ok(&run(
        &admin,
        &url,
        "ana",
        &[
            "report",
            "quarterly",
            "--project",
            "isles",
            "--quarter",
            "2026-Q4",
            "--format",
            "md",
        ],
    )
    .await);
    assert!(md.contains("quarterly report 2026-Q4"), "{md}");
    assert!(md.contains("| Sessions | 1 |"), "{md}");
    let outcomes: serde_json::Value = serde_json::from_str(&ok(&run(
        &admin,
        &url,
        "ana",
        &["report", "outcomes", "--project", "isles"],
    )
    .await))
    .unwrap();
    assert!(outcomes["measures"].is_array());

    // Several sites in one report (here the one site used): its sessions and attendances.
    let sites: serde_json::Value = serde_json::from_str(&ok(&run(
        &admin,
        &url,
        "ana",
        &[
            "report",
            "sites",
            "--project",
            "isles",
            "--sites",
            "barra-hall",
        ],
    )
    .await))
    .unwrap();
    assert_eq!(sites["sites"][0]["code"], "barra-hall", "{sites}");
    assert_eq!(sites["people"]["rows"][0]["group"], "barra-hall", "{sites}");
    assert_eq!(sites["activity"]["rows"][0]["attendances"], 6, "{sites}");
    assert_eq!(sites["activity"]["all"]["sessions"], 1, "{sites}");
    assert_eq!(sites["equity"].as_array().unwrap().len(), 5, "{sites}");
    let o = run(
        &admin,
        &url,
        "ana",
        &[
            "report",
            "sites",
            "--project",
            "isles",
            "--sites",
            "barra-hall,nowhere",
        ],
    )
    .await;
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nowhere"));
    let o = run(
        &admin,
        &url,
        "ana",
        &[
            "report",
            "equity",
            "--project",
            "isles",
            "--sites",
            "barra-hall",
        ],
    )
    .await;
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--sites is for the sites report"));

    // Typed: Parquet, and every dataset as a data package, to files.
    let parquet = dir.path().join("attendance.parquet");
    let bytes = export_to(
        &admin,
        &url,
        &["attendance", "--project", "isles", "--format", "parquet"],
        "-o",
        &parquet,
    )
    .await;
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let package = dir.path().join("data.zip");
    let bytes = export_to(
        &admin,
        &url,
        &["--format", "datapackage", "--project", "isles"],
        "-o",
        &package,
    )
    .await;
    assert!(bytes.starts_with(b"PK\x03\x04"));
    let has = |name: &str| bytes.windows(name.len()).any(|w| w == name.as_bytes());
    assert!(has("datapackage.json") && has("attendance.csv") && has("stories.csv"));
    let o = run(&admin, &url, "ana", &["export", "--project", "isles"]).await;
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--format datapackage"));

    // Refusals are one clear line, and leave no file behind.
    let refused = dir.path().join("refused.csv");
    let o = run(
        &admin,
        &url,
        "rhona",
        &[
            "export",
            "wellbeing",
            "--project",
            "isles",
            "-o",
            refused.to_str().unwrap(),
        ],
    )
    .await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("analyst"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!refused.exists() && !dir.path().join("refused.partial").exists());
    let o = run(
        &admin,
        &url,
        "ana",
        &["report", "equity", "--project", "isles", "--format", "md"],
    )
    .await;
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("only the quarterly report"));
    server.stop().await;
}
