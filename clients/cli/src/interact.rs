//! Talking to the person at the terminal: asking for a password, opening their editor for a
//! story, and the defaults that depend on the machine (store path, device name).

use anyhow::{Context, Result, bail};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::Command;

/// The store used when `--store` and `$BOTHY_STORE` are not given.
pub fn default_store() -> PathBuf {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/bothy/device.db"),
        None => PathBuf::from("bothy-device.db"),
    }
}

/// A name for this device when none is given: the computer's name.
pub fn default_device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|h| !h.is_empty()));
    match host {
        Some(h) => format!("bothy on {h}"),
        None => "bothy".to_owned(),
    }
}

/// The password given, or one asked for at the terminal (not echoed), or read as one line from
/// standard input when that is not a terminal (for scripts).
pub fn password(given: Option<String>, username: &str) -> Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    secret(
        &format!("password for {username}"),
        "no password given: use --password, $BOTHY_PASSWORD, or type it when asked",
    )
}

/// A secret asked for at the terminal after `prompt` (not echoed), or read as one line from
/// standard input when that is not a terminal; `missing` is the error when none is given.
pub fn secret(prompt: &str, missing: &str) -> Result<String> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprint!("{prompt}: ");
        let _ = std::io::stderr().flush();
        set_echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if interactive {
        set_echo(true);
        eprintln!();
    }
    read.with_context(|| format!("cannot read the {prompt}"))?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    if secret.is_empty() {
        bail!("{missing}");
    }
    Ok(secret)
}

/// Turns terminal echo off or on (best effort: without `stty` the password is echoed).
fn set_echo(on: bool) {
    let _ = Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

/// The text of a story: `--text` as given, `--text -` read from standard input, or written in
/// the person's editor starting from `current`.
pub fn story_text(given: Option<String>, current: &str) -> Result<String> {
    match given.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the text from standard input")?;
            Ok(text)
        }
        Some(_) => Ok(given.unwrap_or_default()),
        None => edit_in_editor(current),
    }
}

fn edit_in_editor(current: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("no text given: use --text TEXT, or --text - to read it from standard input");
    }
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_owned());
    let mut file = tempfile::Builder::new()
        .prefix("bothy-story-")
        .suffix(".txt")
        .tempfile()
        .context("cannot create a file for the editor")?;
    file.write_all(current.as_bytes())
        .and_then(|()| file.flush())
        .context("cannot write the file for the editor")?;
    // Through the shell, so an editor given with arguments ("code --wait") works.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status()
        .with_context(|| format!("cannot start the editor `{editor}`"))?;
    if !status.success() {
        bail!("the editor `{editor}` did not finish cleanly; nothing was saved");
    }
    let mut text =
        std::fs::read_to_string(file.path()).context("cannot read back the edited text")?;
    // Editors end the file with a newline; that alone is not an edit.
    if !current.ends_with('\n') && text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}
