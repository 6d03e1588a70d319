//! The `bothy` binary as a person uses it: bad input gets one clear line and a non-zero exit
//! code (never a panic or a backtrace), and offline capture works once the device has an
//! identity.

mod common;

use bothy_device::bothy_sync_core::automerge::ActorId;
use bothy_device::{Device, Enrolment, Membership, User};
use std::path::Path;
use std::process::{Command, Output};

const PROJECT: &str = "highland-heritage";
const NOWHERE: &str = "http://127.0.0.1:9";

fn bothy(store: &Path, args: &[&str]) -> Output {
    common::with_pin(&mut Command::new(env!("CARGO_BIN_EXE_bothy")), store)
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("BOTHY_STORE")
        .env_remove("BOTHY_SERVER")
        .env_remove("BOTHY_USER")
        .env_remove("BOTHY_PASSWORD")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Checks a failure: the exit code, one line on stderr starting `error:` and containing
/// `needle`, and no panic.
#[track_caller]
fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

/// A store with an identity, as enrolment would leave it (the server is never contacted).
async fn enrolled_store(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("device.db");
    let device = Device::open(&path).await.unwrap();
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
            project: PROJECT.into(),
            role: "researcher".into(),
        }],
        server_time: 0,
    };
    device.adopt_identity(NOWHERE, &enrolment).await.unwrap();
    device.close().await;
    path
}

#[test]
fn bad_command_lines_get_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device.db");
    let o = bothy(&store, &["frobnicate"]);
    assert_fails(&o, 2, "unrecognized subcommand 'frobnicate'");
    let o = bothy(&store, &["participant", "add", "--age-band", "200"]);
    assert_fails(&o, 2, "invalid value '200' for '--age-band");
    let o = bothy(&store, &["session", "new", "--site", "hall"]);
    assert_fails(&o, 2, "--activity");
    let o = bothy(
        &store,
        &["session", "attend", "s", "p", "--absent", "--left-early"],
    );
    assert_fails(&o, 2, "cannot be used with");
}

#[test]
fn capture_before_enrolment_says_how_to_enrol() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device.db");
    let o = bothy(&store, &["participant", "add"]);
    assert_fails(
        &o,
        1,
        "enrol this device first: bothy enrol --server URL --code CODE",
    );
    let o = bothy(&store, &["sync"]);
    assert_fails(&o, 1, "enrol this device first");
    let o = bothy(&store, &["status"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("not enrolled"), "{}", stdout(&o));
}

#[test]
fn enrolment_input_is_checked_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device.db");
    let o = bothy(
        &store,
        &["enrol", "--server", "bothy.example.org", "--code", "X"],
    );
    assert_fails(&o, 1, "must start with http:// or https://");
    let o = bothy(&store, &["enrol", "--server", NOWHERE, "--code", "X"]);
    assert_fails(&o, 3, "cannot reach the server at http://127.0.0.1:9");
    // A failed enrolment speaks of enrolment: the same command may simply be run again.
    assert_fails(&o, 3, "could not enrol this device");
    assert_fails(&o, 3, "your enrolment code still works for this device");
    assert!(!stderr(&o).contains("records"), "{}", stderr(&o));
    let o = bothy(&store, &["admin", "devices"]);
    assert_fails(&o, 1, "--server");
}

#[tokio::test]
async fn offline_capture_names_bad_fields_and_keeps_incomplete_forms() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled_store(dir.path()).await;

    let o = bothy(
        &store,
        &[
            "--json",
            "participant",
            "add",
            "--age-band",
            "25-34",
            "--consent-data-use",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let code = p["code"].as_str().unwrap().to_owned();
    assert!(code.ends_with("-0001"), "{code}");

    let o = bothy(
        &store,
        &[
            "--json",
            "session",
            "new",
            "--site",
            "ullapool-hall",
            "--activity",
            "crafts",
            "--type",
            "heritage",
            "--start",
            "2026-11-01T10:00:00Z",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let session = s["id"].as_str().unwrap().to_owned();

    // An end before the start is refused, naming the field.
    let o = bothy(
        &store,
        &["session", "edit", &session, "--end", "2026-11-01T09:00:00Z"],
    );
    assert_fails(&o, 1, "end: session ends");
    let o = bothy(&store, &["session", "edit", &session]);
    assert_fails(&o, 1, "nothing to change");

    // Attendance by code, and by an unknown participant.
    let o = bothy(&store, &["session", "attend", &session, &code]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("marked {code} present")),
        "{}",
        stdout(&o)
    );
    let o = bothy(
        &store,
        &[
            "session",
            "attend",
            &session,
            "0190aaaa-0000-7000-8000-000000000000",
        ],
    );
    assert_fails(&o, 1, "no participant 0190aaaa-0000-7000-8000-000000000000");

    // Answers: a typo, an answer out of range, then 13 of 14.
    let base = [
        "wellbeing",
        "record",
        "--participant",
        code.as_str(),
        "--instrument",
        "WEMWBS",
        "--timepoint",
        "baseline",
        "--items",
    ];
    let o = bothy(&store, &[&base[..], &["4,x"]].concat());
    assert_fails(&o, 1, "--items: answer 2 (\"x\") is not a whole number");
    let o = bothy(&store, &[&base[..], &["4,3,6"]].concat());
    assert_fails(&o, 1, "items.3: must be 1 to 5 (got 6)");
    let o = bothy(
        &store,
        &[&base[..], &["4,3,4,3,4,3,4,3,,3,4,3,4,3"]].concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .contains("incomplete: WEMWBS is not scored: 13 of 14 items answered; missing item 9"),
        "{}",
        stdout(&o)
    );
    let o = bothy(
        &store,
        &[
            "wellbeing",
            "record",
            "--participant",
            &code,
            "--instrument",
            "wemwbs",
            "--timepoint",
            "end",
            "--date",
            "2026-13-01",
            "--items",
            "4",
        ],
    );
    assert_fails(&o, 1, "--date: \"2026-13-01\" is not a date");

    // A story without text from a non-terminal is refused with a hint.
    let o = bothy(&store, &["story", "new", "--title", "Harbour"]);
    assert_fails(&o, 1, "--text");
    let o = bothy(
        &store,
        &[
            "story", "new", "--title", "Harbour", "--theme", "sea", "--text", "Boats.",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let o = bothy(&store, &["list"]);
    assert!(o.status.success());
    let listed = stdout(&o);
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert!(listed.contains("WEMWBS baseline: incomplete"), "{listed}");

    let o = bothy(&store, &["show", &code]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("age band               25-34"),
        "{}",
        stdout(&o)
    );
    let o = bothy(&store, &["show", "nothing-like-this"]);
    assert_fails(&o, 1, "no record matches `nothing-like-this`");

    // Sync with no server: one line, exit code 3, and nothing lost.
    let o = bothy(&store, &["sync"]);
    assert_fails(
        &o,
        3,
        "your records are safe on this device and will sync later",
    );
    let o = bothy(&store, &["--json", "status"]);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["unsynced_records"], 4);
    assert_eq!(status["records"], 4);
}

/// `--set FIELD=VALUE` writes any field of the schema by its name, typed for the field (so a
/// field added to the schema needs no option of its own), and refuses an unknown field, a
/// value that does not fit and a field given twice, naming the field.
#[tokio::test]
async fn set_writes_any_field_by_name_typed_for_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled_store(dir.path()).await;
    let new_session = [
        "--json",
        "session",
        "new",
        "--site",
        "ullapool-hall",
        "--activity",
        "crafts",
        "--type",
        "heritage",
        "--start",
        "2026-11-01T10:00:00Z",
    ];
    let show = |id: &str| -> serde_json::Value {
        let o = bothy(&store, &["--json", "show", id]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };

    let o = bothy(
        &store,
        &[
            &new_session[..],
            &[
                "--set",
                "location=Back room",
                "--set",
                "unregistered_attendees=3",
                "--set",
                "end=2026-11-01T12:00:00Z",
            ],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let id: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let session = id["id"].as_str().unwrap().to_owned();
    let data = &show(&session)["view"]["data"];
    assert_eq!(data["location"], "Back room");
    // A number field gets a number, not the text "3".
    assert_eq!(data["unregistered_attendees"], 3);
    assert_eq!(data["end"], "2026-11-01T12:00:00Z");

    // Refused before anything is written: an unknown field, a map, no `=`.
    let o = bothy(
        &store,
        &[&new_session[..], &["--set", "rooom=Back room"]].concat(),
    );
    assert_fails(&o, 2, "a session has no field `rooom`");
    assert!(
        stderr(&o).contains("--set takes one of: site,"),
        "{}",
        stderr(&o)
    );
    let o = bothy(
        &store,
        &[&new_session[..], &["--set", "attendance=x"]].concat(),
    );
    assert_fails(&o, 2, "`attendance` holds several values");
    let o = bothy(&store, &[&new_session[..], &["--set", "location"]].concat());
    assert_fails(&o, 2, "`location` is not FIELD=VALUE");
    // A value that does not fit its field, named by the record's validation.
    let o = bothy(
        &store,
        &[&new_session[..], &["--set", "unregistered_attendees=lots"]].concat(),
    );
    assert_fails(&o, 1, "unregistered_attendees");
    let o = bothy(&store, &[&new_session[..], &["--set", "end=noon"]].concat());
    assert_fails(&o, 1, "end:");
    // A field given twice, by its option and by --set.
    let o = bothy(
        &store,
        &[
            &new_session[..],
            &["--location", "Hall", "--set", "location=Back room"],
        ]
        .concat(),
    );
    assert_fails(&o, 1, "--set location: `location` is given twice");
    let o = bothy(
        &store,
        &[&new_session[..], &["--set", "location="]].concat(),
    );
    assert_fails(&o, 1, "--set location=: no value given");
    let o = bothy(&store, &["--json", "list", "sessions"]);
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // Edit: set one field, remove another's value (`FIELD=`).
    let o = bothy(
        &store,
        &[
            "session",
            "edit",
            &session,
            "--set",
            "unregistered_attendees=5",
            "--set",
            "location=",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let data = &show(&session)["view"]["data"];
    assert_eq!(data["unregistered_attendees"], 5);
    assert!(data["location"].is_null(), "{data}");
    let o = bothy(
        &store,
        &["session", "edit", &session, "--clear-end", "--set", "end="],
    );
    assert_fails(&o, 1, "`end` is given twice");
    let o = bothy(&store, &["session", "edit", &session, "--set", "site="]);
    assert_fails(&o, 1, "site");

    // Participants and stories take --set too.
    let o = bothy(
        &store,
        &["--json", "participant", "add", "--set", "imd_decile=3"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let o = bothy(&store, &["show", p["code"].as_str().unwrap()]);
    assert!(
        stdout(&o).contains("IMD decile             3"),
        "{}",
        stdout(&o)
    );
    let o = bothy(
        &store,
        &[
            "--json",
            "story",
            "new",
            "--title",
            "Harbour",
            "--text",
            "Boats.",
            "--set",
            "language=gd",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        show(s["id"].as_str().unwrap())["view"]["data"]["language"],
        "gd"
    );
}

/// `participant add` gives the registration date as typed, else today's UK date, and the
/// referral's date likewise when a referral source is given.
#[tokio::test]
async fn participant_add_keeps_typed_dates_and_defaults_to_the_uk_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled_store(dir.path()).await;
    let add = |args: &[&str]| -> serde_json::Value {
        let o = bothy(&store, &[&["--json", "participant", "add"], args].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let o = bothy(&store, &["--json", "show", p["id"].as_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        shown["view"]["data"].clone()
    };

    let data = add(&[
        "--registered-on",
        "2026-01-05",
        "--referral-source",
        "gp",
        "--referral-date",
        "2025-12-19",
    ]);
    assert_eq!(data["registered_on"], "2026-01-05", "{data}");
    assert_eq!(data["referral_date"], "2025-12-19", "{data}");

    let before = bothy_sync_core::time::uk_today().to_string();
    let data = add(&["--referral-source", "self"]);
    let after = bothy_sync_core::time::uk_today().to_string();
    let day = data["registered_on"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(day == before || day == after, "{data}");
    assert_eq!(data["referral_date"], day.as_str(), "{data}");

    let o = bothy(
        &store,
        &["participant", "add", "--registered-on", "5 January"],
    );
    assert_fails(&o, 1, "registered_on");
}
