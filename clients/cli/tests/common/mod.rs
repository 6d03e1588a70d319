//! What the `bothy` binary's integration tests share: a server on a fresh embedded database with
//! a known admin password, running the binary as a user, and checking its answers.

#![allow(dead_code)] // each test file uses a part

use std::path::Path;
use std::process::{Command, Output};

/// The first admin's password on the test server.
pub const ADMIN_PASSWORD: &str = "admin-password-for-cli-tests";

/// The PIN of every store the tests make: the first command on a store encrypts it with it.
pub const PIN: &str = "pin-for-cli-tests";

/// Gives a `bothy` command the stores' PIN (`BOTHY_PIN`) and a runtime directory of its own
/// beside the store (`XDG_RUNTIME_DIR`, made if missing), where an unlocked store is kept
/// unlocked between commands as on a person's computer.
pub fn with_pin<'a>(command: &'a mut Command, store: &Path) -> &'a mut Command {
    let run = store
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("run");
    std::fs::create_dir_all(&run).expect("a runtime directory");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))
            .expect("a private runtime directory");
    }
    command
        .env("BOTHY_PIN", PIN)
        .env("XDG_RUNTIME_DIR", run)
        .env_remove("BOTHY_NEW_PIN")
        .env_remove("BOTHY_LOCK_AFTER")
}

/// A server on an embedded database in `dir`, with the admin's password set.
pub async fn server(dir: &Path) -> bothy_server::RunningServer {
    let mut cfg = bothy_server::config::Config::for_database(bothy_server::config::sqlite_url(
        &dir.join("server.db"),
    ));
    cfg.admin_password = Some(bothy_server::config::Secret::new(ADMIN_PASSWORD));
    bothy_server::start(cfg).await.expect("the server starts")
}

/// Runs `bothy --store STORE ARGS` with the server, user and password in its environment (and
/// the PIN, see [`with_pin`]).
pub fn bothy(store: &Path, server: &str, user: &str, password: &str, args: &[&str]) -> Output {
    with_pin(&mut Command::new(env!("CARGO_BIN_EXE_bothy")), store)
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("BOTHY_STORE")
        .env("BOTHY_SERVER", server)
        .env("BOTHY_USER", user)
        .env("BOTHY_PASSWORD", password)
        .output()
        .expect("the binary runs")
}

/// [`bothy`] on a blocking thread, so the in-process server keeps answering.
pub async fn run_as(
    store: &Path,
    server: &str,
    user: &str,
    password: &str,
    args: &[&str],
) -> Output {
    let (store, server) = (store.to_path_buf(), server.to_owned());
    let (user, password) = (user.to_owned(), password.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bothy(&store, &server, &user, &password, &args)
    })
    .await
    .expect("the binary's thread")
}

/// Its standard output, after checking it succeeded.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
