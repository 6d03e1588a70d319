//! The `bothy` binary writing into a pipe whose reader stops early (`bothy --json list | head`):
//! it ends quietly, with no panic message, whatever it was printing.

mod common;

use bothy_device::bothy_sync_core::automerge::ActorId;
use bothy_device::{Device, Enrolment, Membership, User};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PROJECT: &str = "highland-heritage";

/// A store holding `n` participants, enrolled as enrolment would leave it (offline).
async fn store_with_participants(dir: &Path, n: usize) -> PathBuf {
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
    device
        .adopt_identity("http://127.0.0.1:9", &enrolment)
        .await
        .unwrap();
    for _ in 0..n {
        device
            .create_participant(None, &[("age_band", "45-54".into())])
            .await
            .unwrap();
    }
    device.close().await;
    path
}

/// Runs `bothy --store STORE ARGS`, reads one line of its output and closes the pipe while it
/// is still writing (its output is larger than a pipe's buffer, so it must be). Returns the
/// line read, the exit status and what it wrote on standard error.
fn read_one_line_then_close(
    store: &Path,
    args: &[&str],
) -> (String, std::process::ExitStatus, String) {
    let mut child = common::with_pin(&mut Command::new(env!("CARGO_BIN_EXE_bothy")), store)
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("BOTHY_STORE")
        .env_remove("BOTHY_SERVER")
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut first = String::new();
    {
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        reader.read_line(&mut first).unwrap();
        // The reader goes here, as `head` would.
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (first, status, stderr)
}

/// Exit status 0, or death by SIGPIPE (141 in a shell): both are how Unix tools end when
/// their reader goes.
fn quiet_end(status: std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if status.signal() == Some(13) {
            return true;
        }
    }
    status.success()
}

#[tokio::test]
async fn closed_pipe_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Enough records that either form of the list is several times a pipe's 64 KiB buffer.
    let store = store_with_participants(dir.path(), 1500).await;
    for args in [&["--json", "list"][..], &["list"][..]] {
        let (first, status, stderr) = read_one_line_then_close(&store, args);
        assert!(!first.is_empty(), "bothy {args:?} printed nothing");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "bothy {args:?}: {stderr}"
        );
        assert!(stderr.trim().is_empty(), "bothy {args:?}: {stderr}");
        assert!(
            quiet_end(status),
            "bothy {args:?} ended with {status}: {stderr}"
        );
    }
}
