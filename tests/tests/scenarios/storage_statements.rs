//! The server keeps all its SQL in `server/src/storage/`, and every statement there is valid on
//! both databases. sqlx's compile-time macros check a statement against one database type, but
//! the server runs one set of statements on SQLite and PostgreSQL through the `Any` driver, so
//! these checks read the server's source instead: each SQL string literal under
//! `server/src/storage/` is prepared on a freshly migrated SQLite and PostgreSQL database, and no
//! other file of the server may hold SQL or call sqlx's query functions.
//!
//! A literal is SQL when its first word is `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`,
//! `CREATE`, `DROP`, `ALTER`, `PRAGMA` or `VACUUM` (upper case, followed by more words). A
//! literal holding `{` is the template of a statement built at run time (`format!`) and is
//! counted, not prepared. A comment `// sql: postgres only` or `// sql: sqlite only` on the line
//! before a literal limits it to that database.
//!
//! Statements are prepared through the `Any` driver, as the server runs them, so a result column
//! of a type that driver cannot read fails here too. PostgreSQL prepares them without parameter
//! types and infers each from its use; at run time sqlx sends the type of the bound value
//! (text, integer, float, boolean or bytes). A parameter whose type PostgreSQL cannot infer
//! ("could not determine data type of parameter") fails here: a cast in the statement
//! (`$1::text`) says which type the server binds. No statement needs one today.

use bothy_tests::{Backend, TestDb, workspace_root};
use sqlx::{AnyConnection, AssertSqlSafe, Executor, SqlSafeStr};
use std::path::{Path, PathBuf};

/// The words a SQL literal may begin with.
const SQL_VERBS: [&str; 10] = [
    "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "CREATE", "DROP", "ALTER", "PRAGMA", "VACUUM",
];

/// Fewest statements the storage layer is expected to hold: finding fewer means the detector
/// no longer sees them.
const FEWEST_STATEMENTS: usize = 100;

/// A string literal of the server's source, decoded.
struct Literal {
    /// The line it starts on (from 1).
    line: usize,
    /// Its value, escapes and line continuations resolved.
    text: String,
}

/// A `// sql: ... only` comment.
struct Marker {
    /// Its line (from 1).
    line: usize,
    /// The database it names, or `None` when the comment names neither.
    backend: Option<Backend>,
}

/// One Rust file taken apart: its string literals, its `// sql:` markers, and its code with
/// comments and literals blanked out (lines kept, so offsets still give line numbers).
struct Scanned {
    literals: Vec<Literal>,
    markers: Vec<Marker>,
    code: String,
}

/// Splits Rust source into literals, markers and code. Handles nested block comments, char
/// literals and lifetimes, byte and C strings, and raw strings with any number of `#`.
fn scan(src: &str) -> Scanned {
    let s: Vec<char> = src.chars().collect();
    let at = |i: usize| s.get(i).copied().unwrap_or('\0');
    let mut out = Scanned {
        literals: Vec::new(),
        markers: Vec::new(),
        code: String::with_capacity(src.len()),
    };
    let mut line = 1;
    let mut i = 0;
    while i < s.len() {
        let start = i;
        let c = s[i];
        if c == '/' && at(i + 1) == '/' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
            let comment: String = s[start..i].iter().collect();
            if let Some(rest) = comment.strip_prefix("// sql:") {
                let backend = match rest.trim() {
                    r if r.starts_with("postgres only") => Some(Backend::Postgres),
                    r if r.starts_with("sqlite only") => Some(Backend::Sqlite),
                    _ => None,
                };
                out.markers.push(Marker { line, backend });
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            let (text, end) = cooked_string(&s, i + 1);
            out.literals.push(Literal { line, text });
            i = end;
        } else if c == '\'' {
            // A char literal ('a', '\n', '\u{2014}') or a lifetime or label ('a, 'static).
            if at(i + 1) == '\\' {
                i += 3;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                out.code.push(c);
                i += 1;
                continue;
            }
        } else if c.is_alphabetic() || c == '_' {
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            let hashes = s[i..].iter().take_while(|&&h| h == '#').count();
            if matches!(word.as_str(), "r" | "br" | "cr") && at(i + hashes) == '"' {
                let body = i + hashes + 1;
                let closes = |j: usize| at(j) == '"' && (1..=hashes).all(|h| at(j + h) == '#');
                let end = (body..s.len()).find(|&j| closes(j)).unwrap_or(s.len());
                let text = s[body..end].iter().collect();
                out.literals.push(Literal { line, text });
                i = (end + 1 + hashes).min(s.len());
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                let (text, end) = cooked_string(&s, i + 1);
                out.literals.push(Literal { line, text });
                i = end;
            } else {
                out.code.push_str(&word);
                continue;
            }
        } else {
            out.code.push(c);
            if c == '\n' {
                line += 1;
            }
            i += 1;
            continue;
        }
        // A comment or literal: keep its line breaks only.
        for &skipped in &s[start..i] {
            if skipped == '\n' {
                line += 1;
                out.code.push('\n');
            } else {
                out.code.push(' ');
            }
        }
    }
    out
}

/// Decodes a `"..."` literal whose text starts at `i`: its value and the index after its
/// closing quote.
fn cooked_string(s: &[char], mut i: usize) -> (String, usize) {
    let mut text = String::new();
    while i < s.len() && s[i] != '"' {
        if s[i] != '\\' {
            text.push(s[i]);
            i += 1;
            continue;
        }
        let escape = s.get(i + 1).copied().unwrap_or('\\');
        i += 2;
        match escape {
            'n' => text.push('\n'),
            't' => text.push('\t'),
            'r' => text.push('\r'),
            '0' => text.push('\0'),
            'x' => {
                let hex: String = s[i..(i + 2).min(s.len())].iter().collect();
                text.extend(u8::from_str_radix(&hex, 16).ok().map(char::from));
                i += 2;
            }
            'u' => {
                let close = s[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .map_or(s.len(), |p| i + p);
                let hex: String = s[i + 1..close].iter().collect();
                text.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                i = close + 1;
            }
            // A line continuation: the line break and the next line's leading space vanish.
            '\n' | '\r' => {
                while i < s.len() && s[i].is_whitespace() {
                    i += 1;
                }
            }
            other => text.push(other),
        }
    }
    (text, (i + 1).min(s.len()))
}

/// Whether a literal holds a SQL statement (or the template of one).
fn is_sql(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or("");
    SQL_VERBS.contains(&first) && words.next().is_some()
}

/// The `.rs` files under `dir`, sorted, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Where a statement or an offender is: its file (from the repository's root) and line.
fn place(file: &Path, line: usize) -> String {
    let root = workspace_root();
    format!(
        "{}:{line}",
        file.strip_prefix(&root).unwrap_or(file).display()
    )
}

/// Prints where the person running the tests sees it, even when the test passes (the harness
/// keeps what `println!` prints in a passing test to itself).
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// A SQL statement of the storage layer.
struct Statement {
    /// `file:line` of its literal.
    place: String,
    /// Its text.
    sql: String,
    /// The one database it is written for, if it is marked so.
    only: Option<Backend>,
}

/// The statements in the storage layer's source, and how many literals there are templates of
/// statements built at run time. Misplaced or unreadable `// sql:` markers are returned as
/// problems.
fn storage_statements() -> (Vec<Statement>, usize, Vec<String>) {
    let mut statements = Vec::new();
    let mut built_at_run_time = 0;
    let mut problems = Vec::new();
    for file in rust_files(&workspace_root().join("server/src/storage")) {
        let src = std::fs::read_to_string(&file).expect("storage source");
        let scanned = scan(&src);
        let mut only = vec![None; scanned.literals.len()];
        for marker in &scanned.markers {
            // A marker belongs to the literal that starts on the line after it.
            let next = scanned
                .literals
                .iter()
                .position(|l| l.line == marker.line + 1);
            match (marker.backend, next) {
                (Some(backend), Some(n)) => only[n] = Some(backend),
                (None, _) => problems.push(format!(
                    "{}: a `// sql:` comment must say `postgres only` or `sqlite only`",
                    place(&file, marker.line)
                )),
                (Some(_), None) => problems.push(format!(
                    "{}: a `// sql:` marker must be on the line before the literal it marks",
                    place(&file, marker.line)
                )),
            }
        }
        let sql = scanned
            .literals
            .iter()
            .zip(only)
            .filter(|(l, _)| is_sql(&l.text));
        for (literal, only) in sql {
            if literal.text.contains('{') {
                built_at_run_time += 1;
            } else {
                statements.push(Statement {
                    place: place(&file, literal.line),
                    sql: literal.text.clone(),
                    only,
                });
            }
        }
    }
    (statements, built_at_run_time, problems)
}

/// Prepares a statement on `conn` (the database checks its syntax, tables, columns and types).
async fn prepare(conn: &mut AnyConnection, sql: &str) -> Result<(), sqlx::Error> {
    conn.prepare(AssertSqlSafe(sql.to_owned()).into_sql_str())
        .await
        .map(drop)
}

/// Every SQL literal under `server/src/storage/` prepares on a freshly migrated SQLite and
/// PostgreSQL database (or the one its marker names).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_storage_statement_prepares_on_both_backends() {
    let (statements, built_at_run_time, mut failures) = storage_statements();
    say(&format!(
        "storage statements: {} found, {built_at_run_time} more built at run time (not prepared)",
        statements.len()
    ));
    assert!(
        statements.len() >= FEWEST_STATEMENTS,
        "only {} SQL statements found under server/src/storage; expected at least \
         {FEWEST_STATEMENTS}",
        statements.len()
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(test_db) = TestDb::new(backend).await else {
            continue;
        };
        let db = bothy_server::storage::Db::connect(&test_db.url)
            .await
            .expect("a fresh database connects and migrates");
        let mut conn = db.pool.acquire().await.expect("a connection");
        let mut checked = 0;
        for statement in statements
            .iter()
            .filter(|s| s.only.is_none_or(|only| only == backend))
        {
            checked += 1;
            if let Err(e) = prepare(&mut conn, &statement.sql).await {
                let error = e
                    .as_database_error()
                    .map_or(e.to_string(), |d| d.message().into());
                failures.push(format!(
                    "{} on {backend:?}: {error}\n    {}",
                    statement.place,
                    statement
                        .sql
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        }
        say(&format!(
            "storage statements prepared on {backend:?}: {checked}"
        ));
        drop(conn);
        db.pool.close().await;
        test_db.drop_database().await;
    }
    assert!(
        failures.is_empty(),
        "{} storage statement problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Calls of sqlx's query functions, as written in code.
const SQLX_CALLS: [&str; 2] = ["sqlx::query", "sqlx::raw_sql"];

/// The same functions called by their bare names after a `use sqlx::...` brings them in.
const BARE_CALLS: [&str; 4] = ["query", "query_as", "query_scalar", "raw_sql"];

/// No file of the server outside `server/src/storage/` holds SQL or calls sqlx's query functions.
#[test]
fn no_sql_outside_storage() {
    let server = workspace_root().join("server/src");
    let storage = server.join("storage");
    let mut offenders = Vec::new();
    for file in rust_files(&server)
        .into_iter()
        .filter(|f| !f.starts_with(&storage))
    {
        let src = std::fs::read_to_string(&file).expect("server source");
        for (line, what) in offences(&src) {
            offenders.push(format!("{}: {what}", place(&file, line)));
        }
    }
    say(&format!(
        "SQL outside server/src/storage: {} places",
        offenders.len()
    ));
    assert!(
        offenders.is_empty(),
        "SQL belongs in server/src/storage; found elsewhere:\n{}",
        offenders.join("\n")
    );
}

/// Where a file holds SQL or calls sqlx's query functions: (line, what).
fn offences(src: &str) -> Vec<(usize, String)> {
    let scanned = scan(src);
    let mut found: Vec<(usize, String)> = scanned
        .literals
        .iter()
        .filter(|l| is_sql(&l.text))
        .map(|l| (l.line, "SQL literal".to_owned()))
        .collect();
    let imports = bare_imports(&scanned.code);
    for (n, code) in scanned.code.lines().enumerate() {
        let calls = SQLX_CALLS.iter().filter(|call| code.contains(*call));
        let bare = imports.iter().filter(|name| calls_bare(code, name));
        found.extend(calls.chain(bare).map(|call| (n + 1, call.to_string())));
    }
    found.sort();
    found
}

/// Which of sqlx's query functions a file's `use sqlx::...` lines bring in by name.
fn bare_imports(code: &str) -> Vec<&'static str> {
    let uses: String = code
        .split(';')
        .filter_map(|item| item.split_once("use sqlx::").map(|(_, names)| names))
        .collect();
    let names: Vec<&str> = uses
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    BARE_CALLS
        .into_iter()
        .filter(|name| names.contains(name))
        .collect()
}

/// Whether a line of code calls `name(` as a function of its own (not a method, not part of a
/// longer name).
fn calls_bare(code: &str, name: &str) -> bool {
    code.match_indices(&format!("{name}(")).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == ':')
    })
}

/// The scanner finds literals, their lines and markers as the compiler reads them.
#[test]
fn the_scanner_reads_literals_as_rust_does() {
    let src = r####"
        // sql: postgres only
        let a = "SELECT 1 \
                 AS x"; /* "not /* nested */ a literal" */
        let b = r#"INSERT INTO t (c) VALUES ('"')"#; let c = '"'; fn f<'a>(x: &'a str) {}
        let d = b"DELETE FROM t"; let e = '\''; let f = "say \"hi\"\n";
    "####;
    let scanned = scan(src);
    let texts: Vec<(usize, &str)> = scanned
        .literals
        .iter()
        .map(|l| (l.line, l.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (3, "SELECT 1 AS x"),
            (5, "INSERT INTO t (c) VALUES ('\"')"),
            (6, "DELETE FROM t"),
            (6, "say \"hi\"\n"),
        ]
    );
    assert_eq!(scanned.markers.len(), 1);
    assert_eq!(scanned.markers[0].line, 2);
    assert_eq!(scanned.markers[0].backend, Some(Backend::Postgres));
    assert!(scanned.code.contains("fn f<'a>(x: &'a str) {}"));
    assert_eq!(scanned.code.lines().count(), src.lines().count());
}

/// The guard sees SQL literals and calls of sqlx's query functions, by path or imported name.
#[test]
fn the_guard_sees_sql_and_sqlx_calls() {
    let src = "use sqlx::{Row, query};\n\
               fn f() {\n\
                   query(\"x\"); sqlx::query_as::<_, (i64,)>(\"y\"); db.query(1);\n\
                   let s = \"UPDATE t SET a = 1\"; // sqlx::query(\n\
                   let label = \"Delete this record\";\n\
               }\n";
    assert_eq!(
        offences(src),
        [
            (3, "query".to_owned()),
            (3, "sqlx::query".to_owned()),
            (4, "SQL literal".to_owned()),
        ]
    );
}
