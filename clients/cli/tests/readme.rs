//! The README's "Five minutes with two devices", run as written: the commands are read from
//! README.md itself (so the walkthrough and this test cannot drift apart) and run in a fresh
//! folder with the real `bothy` binary and the real server, and the output the README shows
//! under a command (its `# ...` lines) must be what the command prints.
//!
//! How the README is read:
//!
//! * every ```` ```sh ```` block of the section, in order; a command may continue over lines
//!   (`\`, or an open quote);
//! * `# ` lines under a command are its output. `...` stands for anything; ids, codes and
//!   passwords shown are examples: the first output that shows one binds it to the value really
//!   printed, and later commands use that value where the README uses the example (as the reader
//!   is told to: "use the code printed for you"). A trailing `# ..., e.g. X` is output too;
//! * the prose says when the server goes: "stop the server" before a block stops it (with
//!   SIGINT, as Ctrl-C does), "start the server again" starts it on the same database;
//! * `cargo run -p bothy-server` is the server (this test's own executable, running the server's
//!   command line exactly as the `bothy-server` binary does), listening on a free port instead
//!   of 8080, which the README's URL is mapped to; `cargo build -p bothy-cli` is the `bothy`
//!   binary that cargo built for this test; `export`, `unset`, `alias` and `NAME=value` work as
//!   in a shell; `sqlite3` runs if installed. Any other command fails the test, so a new kind of
//!   step in the walkthrough is noticed.
//!
//! Run it with `cargo test -p bothy-cli --test readme`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TEST_NAME: &str = "readme_five_minutes_with_two_devices";
const SECTION: &str = "## Five minutes with two devices";
const README_SERVER: &str = "http://127.0.0.1:8080";
/// Set in the environment of this executable when it is to be the server.
const SERVE: &str = "BOTHY_README_TEST_SERVE";

fn main() -> ExitCode {
    if std::env::var_os(SERVE).is_some() {
        return bothy_server::cli::main();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{TEST_NAME}: test");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let selected = filters.is_empty()
        || filters.iter().any(|f| {
            if exact {
                f.as_str() == TEST_NAME
            } else {
                TEST_NAME.contains(f.as_str())
            }
        });
    if !selected || args.iter().any(|a| a == "--ignored") {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 1 filtered out\n");
        return ExitCode::SUCCESS;
    }
    println!("\nrunning 1 test");
    let started = Instant::now();
    let result = std::panic::catch_unwind(readme_five_minutes_with_two_devices);
    let took = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            println!("test {TEST_NAME} ... ok\n");
            println!("test result: ok. 1 passed; 0 failed; finished in {took:.2}s\n");
            ExitCode::SUCCESS
        }
        Err(_) => {
            println!("test {TEST_NAME} ... FAILED\n");
            println!("test result: FAILED. 0 passed; 1 failed; finished in {took:.2}s\n");
            ExitCode::FAILURE
        }
    }
}

fn readme_five_minutes_with_two_devices() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md is readable");
    let blocks = walkthrough(&readme);
    assert!(
        blocks.len() >= 8,
        "README.md's section {SECTION:?} has {} shell blocks; the walkthrough seems to be gone",
        blocks.len()
    );
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut walk = Walk::new(dir.path());
    for block in &blocks {
        if block.prose.contains("stop the server") {
            walk.note("(the prose says: stop the server)");
            walk.stop_server();
        }
        if block.prose.contains("start the server again") {
            walk.note("(the prose says: start the server again)");
            walk.start_server(&[]);
        }
        for command in &block.commands {
            walk.run(command);
        }
    }
    walk.check(walk.stops > 0 && walk.starts > 1, || {
        "the walkthrough should stop the server and start it again".to_owned()
    });
    walk.check(walk.ran_offline > 0, || {
        "no command ran while the server was stopped".to_owned()
    });
    walk.finish();
}

// ---------------------------------------------------------------------------------------------
// Reading the README

/// One ```sh block and the prose before it.
struct Block {
    prose: String,
    commands: Vec<Script>,
}

/// One command as written, with the output the README shows for it.
#[derive(Debug)]
struct Script {
    /// The command (continuation lines included), without a trailing comment.
    code: String,
    /// Its trailing comment, if any.
    comment: Option<String>,
    /// The `# ` lines under it.
    output: Vec<String>,
}

fn walkthrough(readme: &str) -> Vec<Block> {
    let mut lines = readme.lines().skip_while(|l| l.trim_end() != SECTION);
    assert!(
        lines.next().is_some(),
        "README.md has no section {SECTION:?}"
    );
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut code: Option<Vec<&str>> = None;
    for line in lines {
        if code.is_none() && line.starts_with("## ") {
            break;
        }
        match &mut code {
            None if line.trim_start().starts_with("```sh") => code = Some(Vec::new()),
            None => {
                prose.push_str(line);
                prose.push('\n');
            }
            Some(body) if line.trim_start().starts_with("```") => {
                blocks.push(Block {
                    prose: std::mem::take(&mut prose).replace('\n', " "),
                    commands: scripts(body),
                });
                code = None;
            }
            Some(body) => body.push(line),
        }
    }
    blocks
}

fn scripts(lines: &[&str]) -> Vec<Script> {
    let mut out: Vec<Script> = Vec::new();
    let mut pending = String::new();
    for line in lines {
        if pending.is_empty() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(shown) = trimmed.strip_prefix('#') {
                let shown = shown.strip_prefix(' ').unwrap_or(shown);
                out.last_mut()
                    .expect("an output line follows a command")
                    .output
                    .push(shown.to_owned());
                continue;
            }
        }
        pending.push_str(line);
        pending.push('\n');
        if complete(&pending) {
            let (code, comment) = split_comment(&pending);
            out.push(Script {
                code: code.trim().to_owned(),
                comment,
                output: Vec::new(),
            });
            pending.clear();
        }
    }
    assert!(pending.is_empty(), "unfinished command: {pending}");
    out
}

/// Whether a command's text is complete: no open quote, no trailing backslash (a comment runs
/// to the end of its line, quotes in it included).
fn complete(text: &str) -> bool {
    let mut quote = None;
    let mut chars = text.chars().peekable();
    let mut escaped_newline = false;
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        escaped_newline = false;
        if quote.is_none() && c == '#' && prev.is_whitespace() {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            prev = '\n';
            continue;
        }
        prev = c;
        match (quote, c) {
            (None, '\\') => escaped_newline = chars.next() == Some('\n'),
            (None, '\'' | '"') => quote = Some(c),
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if q == c => quote = None,
            _ => {}
        }
    }
    quote.is_none() && !escaped_newline
}

/// Splits a trailing `# comment` (outside quotes, starting a word) from a command.
fn split_comment(text: &str) -> (String, Option<String>) {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if q == c => quote = None,
            (None, '#') if prev.is_whitespace() => {
                return (text[..i].to_owned(), Some(text[i + 1..].trim().to_owned()));
            }
            _ => {}
        }
        prev = c;
    }
    (text.to_owned(), None)
}

/// Splits a command into words as a shell would: quotes, backslash-newline, `$NAME` and
/// `${NAME}` (looked up with `var`).
fn words(code: &str, var: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    let expand = |i: &mut usize, word: &mut String| {
        // At `$`: reads a name and appends its value.
        let braced = chars.get(*i + 1) == Some(&'{');
        let start = *i + 1 + usize::from(braced);
        let mut end = start;
        while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
            end += 1;
        }
        let name: String = chars[start..end].iter().collect();
        word.push_str(&var(&name));
        *i = end + usize::from(braced);
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
            '\\' => {
                if let Some(n) = chars.get(i + 1) {
                    word.push(*n);
                }
                in_word = true;
                i += 2;
            }
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && matches!(chars.get(i + 1), Some('"' | '\\' | '$')) {
                        word.push(chars[i + 1]);
                        i += 2;
                    } else if chars[i] == '$' {
                        expand(&mut i, &mut word);
                    } else {
                        word.push(chars[i]);
                        i += 1;
                    }
                }
                i += 1;
            }
            '$' => {
                in_word = true;
                expand(&mut i, &mut word);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
                i += 1;
            }
            c => {
                word.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Matching shown output

/// A piece of a shown output line.
#[derive(Debug, Clone)]
enum Piece {
    /// Text that must be there as written.
    Text(String),
    /// `...`: anything.
    Anything,
    /// A value shaped like the example, e.g. an id; `bind`: remember which value it was.
    Value {
        example: String,
        shape: Shape,
        bind: bool,
    },
}

#[derive(Debug, Clone)]
enum Shape {
    /// One pattern per character.
    Fixed(Vec<Class>),
    /// One or more non-space characters.
    Word,
}

#[derive(Debug, Clone, Copy)]
enum Class {
    Hex,
    UpperOrDigit,
    Digit,
    Exactly(char),
}

impl Class {
    fn accepts(self, c: char) -> bool {
        match self {
            Class::Hex => c.is_ascii_digit() || ('a'..='f').contains(&c),
            Class::UpperOrDigit => c.is_ascii_uppercase() || c.is_ascii_digit(),
            Class::Digit => c.is_ascii_digit(),
            Class::Exactly(x) => c == x,
        }
    }
}

/// The shape of a value at the start of `s`, with its length, if it looks like a generated
/// value: an id (UUID), an enrolment code, a participant code, a password, or a hex group
/// (a device or id prefix).
fn value_at(s: &[char], at: usize) -> Option<(usize, Shape, bool)> {
    let boundary_before = at == 0 || !s[at - 1].is_ascii_alphanumeric();
    if !boundary_before {
        return None;
    }
    let fits = |classes: &[Class]| {
        at + classes.len() <= s.len()
            && classes.iter().zip(&s[at..]).all(|(k, c)| k.accepts(*c))
            && s.get(at + classes.len())
                .is_none_or(|c| !c.is_ascii_alphanumeric())
    };
    let group = |class: Class, n: usize| std::iter::repeat_n(class, n);
    let dash = std::iter::once(Class::Exactly('-'));
    let uuid: Vec<Class> = group(Class::Hex, 8)
        .chain(dash.clone())
        .chain(group(Class::Hex, 4))
        .chain(dash.clone())
        .chain(group(Class::Hex, 4))
        .chain(dash.clone())
        .chain(group(Class::Hex, 4))
        .chain(dash.clone())
        .chain(group(Class::Hex, 12))
        .collect();
    let enrolment: Vec<Class> = group(Class::UpperOrDigit, 5)
        .chain(dash.clone())
        .chain(group(Class::UpperOrDigit, 5))
        .collect();
    let participant: Vec<Class> = group(Class::UpperOrDigit, 4)
        .chain(dash)
        .chain(group(Class::Digit, 4))
        .collect();
    for (classes, bind) in [(uuid, true), (enrolment, true), (participant, true)] {
        if fits(&classes) {
            return Some((classes.len(), Shape::Fixed(classes), bind));
        }
    }
    // A password: a word mixing upper and lower case letters and digits.
    let word_len = s[at..].iter().take_while(|c| !c.is_whitespace()).count();
    let word = &s[at..at + word_len];
    if word.iter().any(char::is_ascii_uppercase)
        && word.iter().any(char::is_ascii_lowercase)
        && word.iter().any(char::is_ascii_digit)
    {
        return Some((word_len, Shape::Word, true));
    }
    // A hex group with letters and digits (`000670f1`, `3f25`).
    let hex_len = s[at..]
        .iter()
        .take_while(|c| Class::Hex.accepts(**c))
        .count();
    let hex = &s[at..at + hex_len];
    if (4..=12).contains(&hex_len)
        && hex.iter().any(char::is_ascii_digit)
        && hex.iter().any(|c| c.is_ascii_lowercase())
        && s.get(at + hex_len)
            .is_none_or(|c| !c.is_ascii_alphanumeric())
    {
        return Some((hex_len, Shape::Fixed(vec![Class::Hex; hex_len]), false));
    }
    None
}

/// Spaces collapsed, ends trimmed.
fn normalise(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pieces(template: &str, bound: &BTreeMap<String, String>) -> Vec<Piece> {
    let s: Vec<char> = normalise(template).chars().collect();
    let mut out = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(&['.', '.', '.']) {
            out.push(Piece::Text(std::mem::take(&mut text)));
            out.push(Piece::Anything);
            i += 3;
        } else if let Some((len, shape, bind)) = value_at(&s, i) {
            let example: String = s[i..i + len].iter().collect();
            match bound.get(&example) {
                Some(real) => text.push_str(real),
                None => {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                    out.push(Piece::Value {
                        example,
                        shape,
                        bind,
                    });
                }
            }
            i += len;
        } else {
            text.push(s[i]);
            i += 1;
        }
    }
    out.push(Piece::Text(text));
    out.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
    out
}

/// Matches a whole line; on success, the values bound (example -> real).
fn match_line(pieces: &[Piece], line: &[char]) -> Option<Vec<(String, String)>> {
    let Some((first, rest)) = pieces.split_first() else {
        return line.is_empty().then(Vec::new);
    };
    match first {
        Piece::Text(t) => {
            let t: Vec<char> = t.chars().collect();
            if line.starts_with(&t) {
                match_line(rest, &line[t.len()..])
            } else {
                None
            }
        }
        Piece::Anything => (0..=line.len()).find_map(|n| match_line(rest, &line[n..])),
        Piece::Value {
            example,
            shape,
            bind,
        } => {
            let lengths: Vec<usize> = match shape {
                Shape::Fixed(classes) => {
                    let ok = classes.len() <= line.len()
                        && classes.iter().zip(line).all(|(k, c)| k.accepts(*c));
                    if ok { vec![classes.len()] } else { vec![] }
                }
                Shape::Word => {
                    let max = line.iter().take_while(|c| !c.is_whitespace()).count();
                    (1..=max).rev().collect()
                }
            };
            lengths.into_iter().find_map(|n| {
                let mut found = match_line(rest, &line[n..])?;
                if *bind {
                    found.push((example.clone(), line[..n].iter().collect()));
                }
                Some(found)
            })
        }
    }
}

/// Finds the shown lines in the printed ones: the first anywhere, each next one on the next
/// printed line (blank lines aside), a `...` line skipping any number of lines.
fn match_output(
    shown: &[String],
    printed: &[String],
    bound: &BTreeMap<String, String>,
) -> Option<Vec<(String, String)>> {
    let printed: Vec<Vec<char>> = printed
        .iter()
        .map(|l| normalise(l))
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().collect())
        .collect();
    let shown: Vec<String> = shown.iter().map(|l| normalise(l)).collect();
    fn from(
        shown: &[String],
        printed: &[Vec<char>],
        at: usize,
        skipping: bool,
        bound: &BTreeMap<String, String>,
    ) -> Option<Vec<(String, String)>> {
        let Some((line, rest)) = shown.split_first() else {
            return Some(Vec::new());
        };
        if line == "..." {
            return from(rest, printed, at, true, bound);
        }
        let candidates: Vec<usize> = if skipping {
            (at..printed.len()).collect()
        } else {
            (at..printed.len().min(at + 1)).collect()
        };
        candidates.into_iter().find_map(|i| {
            let mut found = match_line(&pieces(line, bound), &printed[i])?;
            let mut more = bound.clone();
            more.extend(found.iter().cloned());
            found.extend(from(rest, printed, i + 1, false, &more)?);
            Some(found)
        })
    }
    from(&shown, &printed, 0, true, bound)
}

// ---------------------------------------------------------------------------------------------
// Running the walkthrough

/// The server, running as a separate process.
struct Server {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
}

struct Walk {
    dir: PathBuf,
    addr: std::net::SocketAddr,
    server: Option<Server>,
    /// Shell variables, and which are exported.
    vars: BTreeMap<String, String>,
    exported: Vec<String>,
    aliases: BTreeMap<String, String>,
    /// Example values in the README -> what was really printed.
    bound: BTreeMap<String, String>,
    transcript: String,
    starts: u32,
    stops: u32,
    ran_offline: u32,
}

impl Drop for Walk {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}

impl Walk {
    fn new(dir: &Path) -> Walk {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let mut bound = BTreeMap::new();
        bound.insert(README_SERVER.to_owned(), format!("http://{addr}"));
        Walk {
            dir: dir.to_path_buf(),
            addr,
            server: None,
            vars: BTreeMap::new(),
            exported: Vec::new(),
            aliases: BTreeMap::new(),
            bound,
            transcript: String::new(),
            starts: 0,
            stops: 0,
            ran_offline: 0,
        }
    }

    fn note(&mut self, line: &str) {
        self.transcript.push_str(line);
        self.transcript.push('\n');
    }

    /// Fails the test with the transcript so far.
    fn fail(&self, message: &str) -> ! {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let log: Vec<&str> = log.lines().rev().take(20).collect();
        let log: Vec<&str> = log.into_iter().rev().collect();
        panic!(
            "{message}\n\n--- the walkthrough so far ---\n{}\n--- the server's log (last lines) ---\n{}",
            self.transcript,
            log.join("\n")
        );
    }

    fn check(&self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.fail(&message());
        }
    }

    /// The README's text with every example value replaced by the real one.
    fn substitute(&self, text: &str) -> String {
        let mut pairs: Vec<(&String, &String)> = self.bound.iter().collect();
        pairs.sort_by_key(|(example, _)| std::cmp::Reverse(example.len()));
        let mut out = text.to_owned();
        for (example, real) in pairs {
            out = out.replace(example.as_str(), real);
        }
        out
    }

    fn var(&self, name: &str) -> String {
        match name {
            "PWD" => self.dir.display().to_string(),
            _ => self
                .vars
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
                .unwrap_or_default(),
        }
    }

    fn words(&self, code: &str) -> Vec<String> {
        words(code, &|name| self.var(name))
    }

    fn run(&mut self, script: &Script) {
        let code = self.substitute(&script.code);
        self.note(&format!("$ {code}"));
        let mut argv = self.words(&code);
        if let Some(expansion) = argv.first().and_then(|w| self.aliases.get(w)).cloned() {
            let mut expanded = self.words(&expansion);
            expanded.extend(argv.drain(1..));
            argv = expanded;
        }
        let mut shown = script.output.clone();
        if let Some(example) = script
            .comment
            .as_deref()
            .and_then(|c| c.split_once("e.g. "))
            .map(|(_, e)| e.trim().to_owned())
        {
            shown.push(example);
        }
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let printed: Vec<String> = match words.as_slice() {
            [] => Vec::new(),
            ["cargo", "run", "-p", "bothy-server"] => {
                self.start_server(&shown);
                return;
            }
            ["cargo", "build", "-p", "bothy-cli"] => {
                // Cargo built the `bothy` binary for this test.
                let bin = Path::new(env!("CARGO_BIN_EXE_bothy"));
                self.check(bin.is_file(), || format!("{} is missing", bin.display()));
                Vec::new()
            }
            ["export", assignments @ ..] => {
                for a in assignments {
                    let (name, value) = a.split_once('=').unwrap_or((a, ""));
                    self.vars.insert(name.to_owned(), value.to_owned());
                    self.exported.push(name.to_owned());
                }
                Vec::new()
            }
            ["unset", names @ ..] => {
                for n in names {
                    self.vars.remove(*n);
                    self.exported.retain(|e| e != n);
                }
                Vec::new()
            }
            ["alias", definitions @ ..] => {
                for d in definitions {
                    let (name, value) = d.split_once('=').unwrap_or((d, ""));
                    self.aliases.insert(name.to_owned(), value.to_owned());
                }
                Vec::new()
            }
            [assignment] if is_assignment(assignment) => {
                let (name, value) = assignment.split_once('=').expect("an assignment");
                self.vars.insert(name.to_owned(), value.to_owned());
                Vec::new()
            }
            ["bothy", args @ ..] => self.program(Path::new(env!("CARGO_BIN_EXE_bothy")), args),
            ["sqlite3", args @ ..] => {
                let installed = Command::new("sqlite3").arg("-version").output();
                if installed.is_ok_and(|o| o.status.success()) {
                    self.program(Path::new("sqlite3"), args)
                } else {
                    let _ = writeln!(
                        std::io::stderr(),
                        "note: {TEST_NAME}: `sqlite3` is not installed, so its step is left out"
                    );
                    self.note("(sqlite3 is not installed: left out)");
                    return;
                }
            }
            other => self.fail(&format!(
                "the walkthrough runs {other:?}, which this test does not know how to run"
            )),
        };
        self.expect(&shown, &printed);
    }

    /// Runs a program in the walkthrough's folder with the exported variables; it must succeed.
    fn program(&mut self, program: &Path, args: &[&str]) -> Vec<String> {
        let mut command = Command::new(program);
        command.args(args).current_dir(&self.dir);
        for (name, _) in std::env::vars() {
            if name.starts_with("BOTHY_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        // The reader's runtime directory, where an unlocked store stays unlocked between
        // commands, is one of the walkthrough's own (so nothing is left in this machine's).
        let run = self.dir.join("run");
        let _ = std::fs::create_dir_all(&run);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700));
        }
        command.env("XDG_RUNTIME_DIR", &run);
        for name in &self.exported {
            if let Some(value) = self.vars.get(name) {
                command.env(name, value);
            }
        }
        if self.server.is_none() {
            self.ran_offline += 1;
        }
        let out = command
            .output()
            .unwrap_or_else(|e| self.fail(&format!("cannot run {}: {e}", program.display())));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        for line in stdout.lines() {
            self.note(&format!("  | {line}"));
        }
        for line in stderr
            .lines()
            .filter(|l| !l.contains('█') && !l.contains('▀'))
        {
            self.note(&format!("  ! {line}"));
        }
        self.check(out.status.success(), || {
            format!("the command failed ({})", out.status)
        });
        stdout
            .lines()
            .chain(stderr.lines())
            .map(str::to_owned)
            .collect()
    }

    /// Checks the output shown in the README against what was printed, and binds the example
    /// values it shows to the real ones.
    fn expect(&mut self, shown: &[String], printed: &[String]) {
        if shown.is_empty() {
            return;
        }
        match match_output(shown, printed, &self.bound) {
            Some(found) => {
                for (example, real) in found {
                    self.bound.entry(example).or_insert(real);
                }
            }
            None => self.fail(&format!(
                "the README shows this output:\n{}\nbut the command printed something else",
                shown.join("\n")
            )),
        }
    }

    fn start_server(&mut self, shown: &[String]) {
        self.check(self.server.is_none(), || {
            "the walkthrough starts the server while it is running".to_owned()
        });
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("the server's log file");
        let mut command = Command::new(std::env::current_exe().expect("this executable"));
        for (name, _) in std::env::vars() {
            if name.starts_with("BOTHY_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        let mut child = command
            .env(SERVE, "1")
            .env("BOTHY_LISTEN", self.addr.to_string())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the server starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let reader = BufReader::new(child.stdout.take().expect("its output"));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        self.server = Some(Server {
            child,
            stdout: lines,
        });
        self.starts += 1;
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(self.addr).is_err() {
            let exited = self
                .server
                .as_mut()
                .and_then(|s| s.child.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.fail(&format!("the server stopped at start ({status})"));
            }
            if Instant::now() > deadline {
                self.fail("the server did not listen within a minute");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // What it printed before listening may still be on its way through the pipe.
        let deadline = Instant::now() + Duration::from_secs(10);
        let printed = loop {
            let printed = self
                .server
                .as_ref()
                .map(|s| s.stdout.lock().unwrap().clone())
                .unwrap_or_default();
            if shown.is_empty()
                || match_output(shown, &printed, &self.bound).is_some()
                || Instant::now() > deadline
            {
                break printed;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        for line in &printed {
            self.note(&format!("  | {line}"));
        }
        self.expect(shown, &printed);
    }

    /// Stops the server as Ctrl-C does, and waits for it to finish.
    fn stop_server(&mut self) {
        let Some(mut server) = self.server.take() else {
            self.fail("the walkthrough stops a server that is not running");
        };
        let pid = server.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        self.check(sent.is_ok_and(|s| s.success()), || {
            format!("cannot send SIGINT to the server ({pid})")
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = server.child.try_wait().expect("the server's status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = server.child.kill();
                self.fail("the server did not stop within 30 s of Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.check(status.success(), || {
            format!("the server ended with {status} after Ctrl-C")
        });
        self.stops += 1;
    }

    fn finish(mut self) {
        if self.server.is_some() {
            self.stop_server();
        }
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}
