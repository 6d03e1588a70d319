//! Questionnaires through the `bothy` binary: the built-ins recorded and shown offline, and a
//! project's own defined by a coordinator from a CSV file, received by a device on sync, then
//! shown, checked and scored offline.

mod common;
use bothy_device::bothy_sync_core::automerge::ActorId;
use bothy_device::{Device, Enrolment, Membership, User};
use common::{ADMIN_PASSWORD, ok, run_as as run};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Checks a failure: the exit code and one line on standard error containing `needle`.
#[track_caller]
fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}

/// `bothy --store STORE ARGS` with no server, user or password in the environment.
fn offline(store: &Path, args: &[&str]) -> Output {
    common::with_pin(&mut Command::new(env!("CARGO_BIN_EXE_bothy")), store)
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("BOTHY_STORE")
        .env_remove("BOTHY_SERVER")
        .env_remove("BOTHY_USER")
        .env_remove("BOTHY_PASSWORD")
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn built_in_questionnaires_are_recorded_and_shown_offline() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device.db");
    let device = Device::open(&store).await.unwrap();
    let enrolment = Enrolment {
        device_id: "0190a7e2-1111-7000-8000-000000000001".into(),
        device_token: "bd1_0190a7e211117000800000000000001_secret".into(),
        actor: ActorId::random().to_hex_string(),
        user: User {
            id: "u-ana".into(),
            username: "ana".into(),
            is_admin: false,
        },
        memberships: vec![Membership {
            project: "highland-heritage".into(),
            role: "researcher".into(),
        }],
        server_time: 0,
    };
    device
        .adopt_identity("http://127.0.0.1:9", &enrolment)
        .await
        .unwrap();
    device.close().await;

    let listed = ok(&offline(&store, &["wellbeing", "instruments"]));
    for id in ["WEMWBS", "SWEMWBS", "ONS4", "UCLA3", "ONS_LONELINESS"] {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(id) && l.contains("built-in")),
            "{listed}"
        );
    }
    let items = ok(&offline(
        &store,
        &["wellbeing", "items", "--instrument", "ucla3"],
    ));
    assert!(
        items.starts_with("UCLA3 version 1: ")
            && items.contains(
                "  1. How often do you feel that you lack companionship? [lack_companionship]\n"
            )
            && items.contains("answers: 1 Hardly ever or never, 2 Some of the time, 3 Often"),
        "{items}"
    );
    let items = ok(&offline(
        &store,
        &["wellbeing", "items", "--instrument", "WEMWBS"],
    ));
    assert!(items.contains(" 14. WEMWBS item 14\n"), "{items}");
    let o = offline(&store, &["wellbeing", "items", "--instrument", "K10"]);
    assert_fails(
        &o,
        1,
        "--instrument: `K10` is not an instrument of project highland-heritage",
    );

    let code = ok(&offline(&store, &["--json", "participant", "add"]));
    let code = serde_json::from_str::<Value>(&code).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = |instrument: &str, items: &str| {
        offline(
            &store,
            &[
                "wellbeing",
                "record",
                "--participant",
                &code,
                "--instrument",
                instrument,
                "--timepoint",
                "baseline",
                "--items",
                items,
            ],
        )
    };
    let out = ok(&record("UCLA3", "2,3,1"));
    assert!(out.starts_with("recorded UCLA3 baseline ("), "{out}");
    assert!(out.contains("\nscore 6"), "{out}");
    let out = ok(&record("ons_loneliness", "4"));
    assert!(out.contains("\nlonely 4 (Hardly ever)"), "{out}");
    assert_fails(
        &record("UCLA3", "2,3,4"),
        1,
        "items.3: must be one of 1, 2, 3 (got 4)",
    );
    assert_fails(
        &record("K10", "1"),
        1,
        "instrument: `K10` is not an instrument of project highland-heritage on this device; \
         known: WEMWBS, SWEMWBS, ONS4, UCLA3, ONS_LONELINESS",
    );
}

const ITEMS_CSV: &str = "\
instrument,version,name,item,key,min,max,choices,reverse,text
FEEDBACK5,1,Session feedback,1,enjoyed,1,5,\"1, Not at all | 5, Very much\",,I enjoyed the session
,,,2,connected,1,5,,,I felt connected to others
,,,3,tired,1,5,,yes,I felt worn out afterwards
,,,4,learned,1,5,,,I learned something
,,,5,again,1,5,,,I would come again
";

const SIDECAR: &str = r#"{ "scoring": { "method": "sum", "higher_is_better": true,
    "bands": [{ "name": "low", "min": 5, "max": 11 }, { "name": "medium", "min": 12, "max": 18 },
              { "name": "high", "min": 19, "max": 25 }] } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_defines_a_questionnaire_that_devices_record_offline() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let url = server.url();
    let admin_store = dir.path().join("admin.db");
    let as_user = |user: &'static str, password: &'static str, store: std::path::PathBuf| {
        let url = url.clone();
        move |args: Vec<&str>| {
            let (store, url) = (store.clone(), url.clone());
            let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&store, &url, user, password, &args).await
            }
        }
    };
    let admin = as_user("admin", ADMIN_PASSWORD, admin_store.clone());
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
    let cora = as_user("cora", "a-long-password", admin_store.clone());
    let ruth_store = dir.path().join("ruth.db");
    let ruth = as_user("ruth", "a-long-password", ruth_store.clone());

    let items = dir.path().join("feedback.csv");
    let scoring = dir.path().join("scoring.json");
    std::fs::write(&items, ITEMS_CSV).unwrap();
    std::fs::write(&scoring, SIDECAR).unwrap();
    let (items_arg, scoring_arg) = (items.to_str().unwrap(), scoring.to_str().unwrap());

    // A mistake in the file is reported before anything is sent.
    let broken = dir.path().join("broken.csv");
    std::fs::write(
        &broken,
        ITEMS_CSV.replace(",,,4,learned,1,5", ",,,4,learned,1,five"),
    )
    .unwrap();
    let o = cora(vec![
        "admin",
        "instrument",
        "define",
        broken.to_str().unwrap(),
        "--scoring",
        scoring_arg,
        "--project",
        "isles",
    ])
    .await;
    assert_fails(
        &o,
        1,
        "broken.csv: line 5, column max: `five` is not a whole number",
    );

    // A researcher may not define; the server's refusal is shown.
    let define = vec![
        "admin",
        "instrument",
        "define",
        items_arg,
        "--scoring",
        scoring_arg,
        "--project",
        "isles",
    ];
    let o = ruth(define.clone()).await;
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let out = ok(&cora(define.clone()).await);
    assert_eq!(
        out.trim(),
        "defined FEEDBACK5 version 1 for project isles (5 items)"
    );
    let listed = ok(&cora(vec!["admin", "instrument", "list", "--project", "isles"]).await);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("FEEDBACK5") && l.contains("project")),
        "{listed}"
    );
    assert!(listed.lines().any(|l| l.starts_with("UCLA3")), "{listed}");

    // The device receives it on sync and uses it offline.
    let code = ok(&admin(vec!["admin", "enrol", "ruth", "--no-qr"]).await)
        .trim()
        .to_owned();
    ok(&ruth(vec![
        "enrol",
        "--server",
        &url,
        "--code",
        &code,
        "--name",
        "ruth-phone",
    ])
    .await);
    ok(&ruth(vec!["sync"]).await);
    let known = ok(&offline(
        &ruth_store,
        &["wellbeing", "instruments", "--project", "isles"],
    ));
    assert!(
        known.lines().any(|l| l.starts_with("FEEDBACK5")
            && l.contains("project")
            && l.contains("Session feedback")),
        "{known}"
    );
    let shown = ok(&offline(
        &ruth_store,
        &[
            "wellbeing",
            "items",
            "--instrument",
            "feedback5",
            "--project",
            "isles",
        ],
    ));
    assert!(
        shown.contains("  3. I felt worn out afterwards [tired] (reverse-scored)\n")
            && shown.contains("answers: 1 to 5 (1 Not at all, 5 Very much)"),
        "{shown}"
    );

    let participant = ok(&offline(
        &ruth_store,
        &["--json", "participant", "add", "--project", "isles"],
    ));
    let participant = serde_json::from_str::<Value>(&participant).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = |answers: &str| {
        offline(
            &ruth_store,
            &[
                "wellbeing",
                "record",
                "--participant",
                &participant,
                "--instrument",
                "FEEDBACK5",
                "--timepoint",
                "baseline",
                "--items",
                answers,
            ],
        )
    };
    assert_fails(&record("4,5,6,3,4"), 1, "items.3: must be 1 to 5 (got 6)");
    let out = ok(&record("4,5,2,3,4"));
    assert!(
        out.starts_with("recorded FEEDBACK5 version 1 baseline ("),
        "{out}"
    );
    assert!(out.contains("\nscore 20, band high"), "{out}");

    // The server accepts the response at the next sync.
    let synced = ok(&ruth(vec!["--json", "sync"]).await);
    let synced: Value = serde_json::from_str(&synced).unwrap();
    assert_eq!(synced["set_aside"], 0, "{synced}");
    assert_eq!(synced["acked"], 2, "{synced}");
    assert_eq!(synced["reports"], serde_json::json!([]), "{synced}");

    // Now that a response uses version 1, the server refuses to change what its answers mean,
    // and says why.
    std::fs::write(
        &items,
        ITEMS_CSV.replace("1,5,,yes,I felt", "1,5,,no,I felt"),
    )
    .unwrap();
    let o = cora(define).await;
    assert_fails(
        &o,
        4,
        "items[2].reverse: item 3 is no longer reverse-scored",
    );
}
