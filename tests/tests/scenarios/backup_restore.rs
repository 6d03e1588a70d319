//! Backup and restore with the real server binary, on SQLite and PostgreSQL: a backup taken
//! while the server runs holds what was there then and nothing later; a restore refuses a
//! running server and a corrupt file, keeps the identity of the database and starts a new
//! generation recorded in the audit log. Also: a start that cannot listen leaves the one-time
//! admin password for the next start, and an older binary on a newer database says what to do.

use bothy_device::Device;
use bothy_tests::{Backend, ProcessServer, TestDb, free_local_addr, on_both_backends};
use serde_json::Value;
use sqlx::{Connection, Row};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use uuid::Uuid;

on_both_backends!(
    backup_and_restore_start_a_new_generation,
    restore_refuses_a_corrupt_backup_and_changes_nothing,
    a_start_that_cannot_listen_keeps_the_one_time_password_for_the_next,
    an_older_binary_on_a_newer_database_says_what_to_do,
);

const PROJECT: &str = "glen-walks";

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bothy-test-server"))
}

/// Runs `bothy-server ARGS` on the test database: (success, stdout, stderr).
async fn run(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    bothy_tests::server_command(bin(), db, args).await
}

/// One-value SQL query on the test database (None if it fails, e.g. no such table).
async fn sql_i64(url: &str, query: &str) -> Option<i64> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.ok()?;
    let v = sqlx::query(sqlx::AssertSqlSafe(query.to_owned()))
        .fetch_one(&mut conn)
        .await
        .ok()
        .and_then(|r| r.try_get::<i64, _>(0).ok());
    let _ = conn.close().await;
    v
}

async fn sql_text(url: &str, query: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .expect("test database connects");
    let rows = sqlx::query(sqlx::AssertSqlSafe(query.to_owned()))
        .fetch_all(&mut conn)
        .await
        .expect("query runs");
    let _ = conn.close().await;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).expect("text column"))
        .collect()
}

async fn participant(device: &Device) -> Uuid {
    let id = device
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("age_band", "65-74".into()),
                ("rurality", "rural".into()),
            ],
        )
        .await
        .expect("participant created")
        .id;
    assert_eq!(device.sync().await.expect("sync").acked, 1);
    id
}

async fn on_server(server: &ProcessServer, id: Uuid) -> anyhow::Result<Value> {
    server
        .get_as(
            &format!("/api/v1/projects/{PROJECT}/records/{id}"),
            &server.admin_token,
        )
        .await
}

fn backup_path(server: &ProcessServer, name: &str) -> PathBuf {
    server.db.dir.path().join(name)
}

async fn backup_and_restore_start_a_new_generation(backend: Backend) {
    let Some(mut server) = ProcessServer::start(backend, bin()).await else {
        return;
    };
    server.project(PROJECT).await;
    server.user("isla", PROJECT, "researcher").await;
    let device = server.device("isla", "tablet").await;
    let kept = participant(&device).await;
    let database_id = sql_text(
        &server.db.url,
        "SELECT database_id FROM database_generation",
    )
    .await;
    assert_eq!(database_id.len(), 1, "one identity row");

    // A backup while the server runs.
    let file = backup_path(&server, "nightly.bak");
    let file_arg = file.to_str().unwrap();
    let (ok, out, err) = run(&server.db, &["backup", file_arg]).await;
    assert!(ok, "backup fails: {err}");
    assert!(out.contains("generation 1"), "backup output: {out}");
    assert!(!out.contains("password"), "backup prints no secrets: {out}");
    let written = std::fs::read(&file).expect("backup file written");

    // It refuses to overwrite, and leaves the file as it was.
    let (ok, _, err) = run(&server.db, &["backup", file_arg]).await;
    assert!(!ok, "a second backup to the same file must be refused");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), written);

    // Later work, not in the backup.
    let later = participant(&device).await;

    // A restore under a running server is refused.
    let (ok, _, err) = run(&server.db, &["restore", file_arg, "--yes"]).await;
    assert!(!ok, "restore must refuse while the server runs");
    assert!(err.contains("in use"), "{err}");
    assert!(on_server(&server, later).await.is_ok());

    // Without --yes it explains and does nothing.
    server.kill().await;
    let (ok, _, err) = run(&server.db, &["restore", file_arg]).await;
    assert!(!ok);
    assert!(
        err.contains("--yes") && err.contains("stop every bothy-server"),
        "{err}"
    );

    let (ok, out, err) = run(&server.db, &["restore", file_arg, "--yes"]).await;
    assert!(ok, "restore fails: {err}");
    assert!(out.contains("generation 2"), "restore output: {out}");
    if backend == Backend::Sqlite {
        let aside: Vec<_> = std::fs::read_dir(server.db.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("bothy.db.before-restore-")
            })
            .collect();
        assert!(!aside.is_empty(), "the replaced database is kept aside");
    }

    server.restart().await;
    assert!(
        on_server(&server, kept).await.is_ok(),
        "the backup's record is back"
    );
    let err = on_server(&server, later).await.unwrap_err().to_string();
    assert!(err.contains("404"), "the later record is gone: {err}");

    assert_eq!(
        sql_text(
            &server.db.url,
            "SELECT database_id FROM database_generation"
        )
        .await,
        database_id,
        "a restored database is the same database"
    );
    assert_eq!(
        sql_i64(&server.db.url, "SELECT generation FROM database_generation").await,
        Some(2)
    );
    let audit = sql_text(
        &server.db.url,
        "SELECT details FROM audit_log WHERE action = 'server.restore'",
    )
    .await;
    assert_eq!(audit.len(), 1, "one restore entry: {audit:?}");
    let details: Value = serde_json::from_str(&audit[0]).unwrap();
    assert_eq!(details["backup"], "nightly.bak");
    assert_eq!(details["previous_generation"]["generation"], 1);
    assert_eq!(details["new_generation"]["generation"], 2);
    assert_ne!(
        details["new_generation"]["generation_id"],
        details["backup_generation"]["generation_id"]
    );

    // A second restore of the same backup starts yet another generation.
    server.kill().await;
    let (ok, _, err) = run(&server.db, &["restore", file_arg, "--yes"]).await;
    assert!(ok, "second restore fails: {err}");
    assert_eq!(
        sql_i64(&server.db.url, "SELECT generation FROM database_generation").await,
        Some(3)
    );
    server.finish().await;
}

async fn restore_refuses_a_corrupt_backup_and_changes_nothing(backend: Backend) {
    let Some(mut server) = ProcessServer::start(backend, bin()).await else {
        return;
    };
    server.project(PROJECT).await;
    server.user("isla", PROJECT, "researcher").await;
    let device = server.device("isla", "tablet").await;
    let kept = participant(&device).await;
    server.kill().await;

    let file = backup_path(&server, "damaged.bak");
    let mut bytes = b"PGDMP".to_vec();
    bytes.extend((0..4096u32).map(|i| (i * 7919 % 251) as u8));
    std::fs::write(&file, &bytes).unwrap();
    let (ok, out, err) = run(&server.db, &["restore", file.to_str().unwrap(), "--yes"]).await;
    assert!(!ok, "a corrupt backup must be refused: {out}");
    let expected = match backend {
        Backend::Sqlite => "is not a usable backup",
        Backend::Postgres => "is not a readable PostgreSQL backup",
    };
    assert!(
        err.contains(expected) && err.contains("damaged.bak"),
        "{err}"
    );
    if backend == Backend::Sqlite {
        let moved = std::fs::read_dir(server.db.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().contains("before-restore"));
        assert!(!moved, "nothing was moved aside");
    }

    server.restart().await;
    assert!(
        on_server(&server, kept).await.is_ok(),
        "the data is untouched"
    );
    assert_eq!(
        sql_i64(&server.db.url, "SELECT generation FROM database_generation").await,
        Some(1)
    );
    assert_eq!(
        sql_i64(
            &server.db.url,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'server.restore'"
        )
        .await,
        Some(0)
    );
    server.finish().await;
}

async fn a_start_that_cannot_listen_keeps_the_one_time_password_for_the_next(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = occupied.local_addr().unwrap().to_string();
    let (ok, out, err) = run(&db, &["--listen", &busy]).await;
    assert!(!ok, "a start on an occupied port must fail");
    assert!(err.contains("cannot listen"), "{err}");
    assert!(
        !out.contains("one-time password"),
        "no password consumed: {out}"
    );
    // No admin was made (on a new database there may be no tables at all).
    let users = sql_i64(&db.url, "SELECT COUNT(*) FROM users").await;
    assert!(
        matches!(users, None | Some(0)),
        "users after a failed start: {users:?}"
    );
    drop(occupied);

    let free = free_local_addr().to_string();
    let mut child = tokio::process::Command::new(bin())
        .args(["--listen", &free])
        .env("BOTHY_DATABASE_URL", &db.url)
        .env("BOTHY_DATA_DIR", db.dir.path())
        .env("RUST_LOG", "warn")
        .env_remove("BOTHY_CONFIG")
        .env_remove("BOTHY_ADMIN_PASSWORD")
        .env_remove("BOTHY_JWT_SECRET")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let printed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("one-time password") {
                return true;
            }
        }
        false
    })
    .await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    assert_eq!(
        printed.ok(),
        Some(true),
        "the next start prints the password"
    );
    assert_eq!(
        sql_i64(&db.url, "SELECT COUNT(*) FROM users").await,
        Some(1)
    );
    db.drop_database().await;
}

async fn an_older_binary_on_a_newer_database_says_what_to_do(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let made = bothy_server::storage::Db::connect(&db.url).await.unwrap();
    let checksum = match backend {
        Backend::Sqlite => "X'00'",
        Backend::Postgres => "'\\x00'::bytea",
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer release', TRUE, {checksum}, 0)"
    )))
    .execute(&made.pool)
    .await
    .unwrap();
    made.pool.close().await;
    let err = bothy_server::storage::Db::connect(&db.url)
        .await
        .expect_err("an older binary must refuse a newer database")
        .to_string();
    assert!(
        err.contains("written by a newer bothy-server (migration 9999")
            && err.contains("upgrade the binary")
            && err.contains("restore a backup taken with this version"),
        "{err}"
    );
    db.drop_database().await;
}
