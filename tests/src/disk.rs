//! Searching the disk byte by byte, for scenarios that check data has left it (erasure): the
//! files of the server's database and of device stores, and which of them hold given strings.
//!
//! On SQLite the server's database is `bothy.db` with its `-wal` and `-shm` (and any copy a
//! restore moved aside next to it, `bothy.db.before-restore-...`); on PostgreSQL it is every
//! heap, TOAST and index file of the test database's tables (write-ahead log segments in
//! `pg_wal` are not searched: they keep the bytes until recycled, as documented). A device's
//! store is `NAME.db` with its `-wal` and `-shm` in the test directory.

use crate::{Backend, TestDb};
use std::path::{Path, PathBuf};

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// For each of `needles`, the files (among `files`) holding it.
pub fn holders<'n>(files: &[PathBuf], needles: &[&'n str]) -> Vec<(&'n str, Vec<PathBuf>)> {
    needles
        .iter()
        .map(|needle| {
            let found = files
                .iter()
                .filter(|f| match std::fs::read(f) {
                    Ok(bytes) => contains(&bytes, needle),
                    // A file dropped since it was listed holds nothing.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(e) => panic!("cannot read {}: {e}", f.display()),
                })
                .cloned()
                .collect();
            (*needle, found)
        })
        .collect()
}

/// Every file in `dir` whose name starts with `prefix` (a store and its `-wal` and `-shm`).
pub fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("directory lists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    out
}

/// The files of the server's database `db`: on SQLite the database, `-wal` and `-shm` (and
/// copies a restore moved aside); on PostgreSQL, after a checkpoint (so what is in shared
/// buffers is on disk, and the files of dropped tables are gone), every segment of every
/// table, TOAST table and index in the test database's `public` and `pg_toast` schemas.
pub async fn server_files(db: &TestDb, backend: Backend) -> Vec<PathBuf> {
    match backend {
        Backend::Sqlite => {
            let files = files_starting(db.dir.path(), "bothy.db");
            assert!(
                files.iter().any(|f| f.ends_with("bothy.db")),
                "the server's database file is in the test directory: {files:?}"
            );
            files
        }
        Backend::Postgres => {
            db.sql("CHECKPOINT", &[]).await;
            let rows = db
                .sql(
                    "SELECT current_setting('data_directory') AS dir, \
                     pg_relation_filepath(c.oid) AS path \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't') \
                     AND pg_relation_filepath(c.oid) IS NOT NULL",
                    &[],
                )
                .await;
            let mut files = Vec::new();
            for row in rows {
                let dir = PathBuf::from(row["dir"].as_str().expect("data directory"));
                let main = dir.join(row["path"].as_str().expect("relation path"));
                let parent = main.parent().expect("relation directory").to_owned();
                let node = main
                    .file_name()
                    .and_then(|n| n.to_str())
                    .expect("file node")
                    .to_owned();
                // The main file and its 1 GiB segments `node.1`, `node.2`...
                files.extend(files_starting(&parent, &node).into_iter().filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name == node
                        || name
                            .strip_prefix(&format!("{node}."))
                            .is_some_and(|s| s.chars().all(|c| c.is_ascii_digit()))
                }));
            }
            assert!(
                files.len() > 20,
                "the test database's relation files are readable: {files:?}"
            );
            files
        }
    }
}

/// [`server_files`] now, with the files listed `earlier` (on PostgreSQL, the files tables were
/// in before a rewrite or a drop, if they are still there).
pub async fn server_files_with(db: &TestDb, backend: Backend, earlier: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = server_files(db, backend).await;
    files.extend_from_slice(earlier);
    files.sort();
    files.dedup();
    files
}

/// The files of the store of the device named `device` (enrolled by the test's [`crate::Admin`]
/// in `db`'s directory).
pub fn store_files(db: &TestDb, device: &str) -> Vec<PathBuf> {
    let files = files_starting(db.dir.path(), &format!("{device}.db"));
    assert!(!files.is_empty(), "device {device} has a store");
    files
}

/// Asserts that each of `needles` is in some file of every place (a name for messages and its
/// files): a search that finds them, before they are meant to leave.
pub fn assert_found<S: AsRef<str>>(places: &[(S, Vec<PathBuf>)], needles: &[&str], when: &str) {
    for (place, files) in places {
        let place = place.as_ref();
        for (needle, found) in holders(files, needles) {
            assert!(
                !found.is_empty(),
                "{when} {needle:?} is in {place} ({files:?})"
            );
        }
    }
}

/// Asserts that none of `needles` is in any file of any place.
pub fn assert_gone<S: AsRef<str>>(places: &[(S, Vec<PathBuf>)], needles: &[&str], when: &str) {
    for (place, files) in places {
        let place = place.as_ref();
        for (needle, found) in holders(files, needles) {
            assert!(
                found.is_empty(),
                "{when} {needle:?} is still in {place}: {found:?}"
            );
        }
    }
}

/// A participant with a name and phone number (strings to search the disk for), and consent to
/// share stories, made on `device` in its default project.
pub async fn identified_participant(
    device: &bothy_device::Device,
    name: &str,
    phone: &str,
) -> uuid::Uuid {
    device
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("consent.story_sharing", true.into()),
                ("contact.name", name.into()),
                ("contact.phone", phone.into()),
                ("age_band", "65-74".into()),
            ],
        )
        .await
        .expect("participant created")
        .id
}
