//! Export benchmark: 1,000,000 attendance rows streamed as CSV, JSON Lines, Parquet and a
//! Frictionless data package (the attendance dataset alone) from a real server process, on
//! SQLite and PostgreSQL: rows per second, and the server's peak resident memory (VmHWM from
//! `/proc`) after a 100,000-row export and after each 1,000,000-row one, to show memory does
//! not grow with the row count. The Parquet file's rows are read from its footer, and the
//! package's from its CSV, so every format is checked to hold every row.
//!
//! Run with `cargo bench -p bothy-tests --bench export` (or `ops/bench/export`). PostgreSQL runs
//! when `BOTHY_TEST_POSTGRES_URL` is set. The projection tables are filled directly with SQL
//! (50,000 sessions of 20 registered participants each, 5,000 participants), since the
//! benchmark is of reading, not of syncing.

use bothy_tests::{Backend, ProcessServer};
use sqlx::Connection;
use std::time::Instant;

const PROJECT: &str = "bench";
const SESSIONS: u64 = 50_000;
const PER_SESSION: u64 = 20;
const PARTICIPANTS: u64 = 5_000;

fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn seed(url: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let statements = [
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             INSERT INTO participants (id, project, code, consent_data_use, consent_story_sharing, \
             consent_contact, age_band, gender, ethnic_group, imd_decile, rurality, \
             referral_source, created_at) \
             SELECT 'p' || CAST(i AS TEXT), '{PROJECT}', 'C' || CAST(i AS TEXT), 1, 1, 0, '65-74', \
             'woman', 'white', 1 + i % 10, 'rural', 'gp', 1780000000 FROM n",
            PARTICIPANTS - 1
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             INSERT INTO sessions (id, project, site, activity, activity_type, starts_at, ends_at, \
             location, facilitators, unregistered_attendees, notes, needs_review) \
             SELECT 's' || CAST(i AS TEXT), '{PROJECT}', 'site-' || CAST(i % 10 AS TEXT), \
             'song-circle', 'choir', '2026-05-04T10:00:00Z', '2026-05-04T12:00:00Z', NULL, \
             'Ailsa;Rory', 2, '', 0 FROM n",
            SESSIONS - 1
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}), \
             k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < {}) \
             INSERT INTO attendance (session_id, participant_id, project, status) \
             SELECT 's' || CAST(i AS TEXT), 'p' || CAST((i * 7 + j) % {PARTICIPANTS} AS TEXT), \
             '{PROJECT}', 'present' FROM n, k",
            SESSIONS - 1,
            PER_SESSION - 1
        ),
    ];
    for s in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let _ = sqlx::raw_sql("ANALYZE").execute(&mut conn).await;
    conn.close().await.unwrap();
}

/// Streams one export, returning (newlines, bytes, seconds).
async fn export(s: &ProcessServer, query: &str) -> (u64, u64, f64) {
    let (lines, body, secs) = download(s, &format!("exports/attendance{query}"), false).await;
    (lines, body.len() as u64, secs)
}

/// Streams `path` under the project, returning (newlines, the body if `keep`, else as many
/// bytes as it had but empty, seconds).
async fn download(s: &ProcessServer, path: &str, keep: bool) -> (u64, Vec<u8>, f64) {
    let start = Instant::now();
    let mut res = s
        .api
        .http
        .get(format!("{}/api/v1/projects/{PROJECT}/{path}", s.url()))
        .bearer_auth(&s.api.admin_token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let (mut lines, mut body, mut bytes) = (0u64, Vec::new(), 0usize);
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if keep {
            body.extend_from_slice(&chunk);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if !keep {
        body.resize(bytes, 0);
    }
    (lines, body, secs)
}

/// Rows of a Parquet file, from its footer.
fn parquet_rows(file: Vec<u8>) -> u64 {
    use parquet::file::reader::FileReader;
    let reader =
        parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(file))
            .expect("a Parquet file");
    reader.metadata().file_metadata().num_rows() as u64
}

/// Data rows of `attendance.csv` in a data package.
fn package_rows(file: Vec<u8>) -> u64 {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(file)).expect("a zip");
    let mut csv = Vec::new();
    zip.by_name("attendance.csv")
        .expect("attendance.csv in the package")
        .read_to_end(&mut csv)
        .unwrap();
    csv.iter().filter(|b| **b == b'\n').count() as u64 - 1
}

async fn run(backend: Backend) {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_bothy-test-server"));
    let Some(s) = ProcessServer::start(backend, bin).await else {
        println!("{backend:?}: skipped");
        return;
    };
    s.api
        .admin(
            "/api/v1/admin/projects",
            serde_json::json!({"slug": PROJECT, "name": "Benchmark"}),
        )
        .await;
    let t = Instant::now();
    seed(&s.db.url).await;
    println!(
        "{backend:?}: seeded {} attendance rows in {:.1} s",
        SESSIONS * PER_SESSION,
        t.elapsed().as_secs_f64()
    );
    let pid = s.pid().expect("server runs");
    let idle = peak_kib(pid);
    let (rows, bytes, secs) = export(&s, "?site=site-3").await;
    let after_small = peak_kib(pid);
    println!(
        "{backend:?}: CSV {} rows, {} bytes in {secs:.2} s = {:.0} rows/s; peak RSS {} KiB (idle {} KiB)",
        rows - 1,
        bytes,
        (rows - 1) as f64 / secs,
        after_small,
        idle
    );
    for (label, query) in [
        ("CSV", ""),
        ("CSV (again)", ""),
        ("JSON Lines", "?format=jsonl"),
    ] {
        let (rows, bytes, secs) = export(&s, query).await;
        let data_rows = if label.starts_with("CSV") {
            rows - 1
        } else {
            rows
        };
        assert_eq!(data_rows, SESSIONS * PER_SESSION);
        println!(
            "{backend:?}: {label} {data_rows} rows, {bytes} bytes in {secs:.2} s = {:.0} rows/s; peak RSS {} KiB",
            data_rows as f64 / secs,
            peak_kib(pid)
        );
    }
    for (label, path) in [
        ("Parquet", "exports/attendance?format=parquet"),
        ("data package", "data-package?datasets=attendance"),
    ] {
        let (_, body, secs) = download(&s, path, true).await;
        let bytes = body.len();
        let peak = peak_kib(pid);
        let data_rows = if label == "Parquet" {
            parquet_rows(body)
        } else {
            package_rows(body)
        };
        assert_eq!(data_rows, SESSIONS * PER_SESSION, "{label}");
        println!(
            "{backend:?}: {label} {data_rows} rows, {bytes} bytes in {secs:.2} s = {:.0} rows/s; peak RSS {peak} KiB",
            data_rows as f64 / secs,
        );
    }
    s.finish().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run(Backend::Sqlite).await;
        run(Backend::Postgres).await;
    });
}
