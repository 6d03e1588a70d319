//! Unlocking the encrypted store: the PIN (asked for at a terminal, or `$BOTHY_PIN`), a new
//! PIN for a store without one, and the session that keeps a store unlocked for a while.
//!
//! A session is the store's unwrapped data key in a file only its user can read, under the
//! per-user runtime directory (`$XDG_RUNTIME_DIR/bothy/<key id>.unlocked`, a folder of mode
//! 0700 and a file of mode 0600; the runtime directory is in memory and goes at logout). Each
//! command that uses it writes the time again, and a session idle for longer than the lock
//! time (15 minutes, `--lock-after`, `$BOTHY_LOCK_AFTER`) is deleted and not used. Without a
//! runtime directory nothing is kept: every command asks for the PIN or uses `$BOTHY_PIN`.

use crate::interact;
use anyhow::{Context, Result, anyhow, bail};
use bothy_device::{Device, MIN_PIN_CHARS, SessionKey};
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long an unlocked store stays unlocked without use, unless told otherwise.
pub const DEFAULT_LOCK_AFTER: Duration = Duration::from_secs(15 * 60);

/// The PIN of scripts and tests.
const PIN_VAR: &str = "BOTHY_PIN";
/// A new PIN for `bothy pin change`, for scripts.
const NEW_PIN_VAR: &str = "BOTHY_NEW_PIN";

/// What a session file holds.
#[derive(Serialize, Deserialize)]
struct Session {
    /// The data key, hex.
    key: String,
    /// Seconds of idleness after which it is no longer used.
    lock_after: u64,
    /// When it was last used (Unix seconds).
    used: i64,
}

/// How the store was unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlocked {
    /// By a session kept from an earlier command.
    Session,
    /// With the PIN.
    Pin,
    /// A PIN was chosen for the store just now.
    NewPin,
}

/// Opens the store and unlocks it: with the session kept for it, else with the PIN (asked for
/// at a terminal, or `$BOTHY_PIN`). A store without a PIN gets one first (a new store, or one
/// made before stores had PINs, which is encrypted in place). Keeps or refreshes the session.
pub async fn open_unlocked(store: &Path, lock_after: Option<Duration>) -> Result<Device> {
    Ok(open_unlocked_as(store, lock_after).await?.0)
}

/// [`open_unlocked`], also telling how and for how long (the idle time kept, if any).
pub async fn open_unlocked_as(
    store: &Path,
    lock_after: Option<Duration>,
) -> Result<(Device, Unlocked, Option<Duration>)> {
    let device = crate::commands::open(store).await?;
    match unlock(&device, lock_after).await {
        Ok((how, kept)) => Ok((device, how, kept)),
        Err(e) => {
            device.close().await;
            Err(e)
        }
    }
}

async fn unlock(
    device: &Device,
    lock_after: Option<Duration>,
) -> Result<(Unlocked, Option<Duration>)> {
    if !device.has_pin() {
        let pin = new_pin_for_store(device).await?;
        device.set_pin(&pin).await?;
        let kept = keep(device, lock_after, None).await;
        return Ok((Unlocked::NewPin, kept));
    }
    let id = device
        .key_id()
        .await?
        .ok_or_else(|| anyhow!("this store's key record is missing"))?;
    if let Some((key, stored)) = read_session(&id, lock_after)
        && device.unlock_with_key(&key).await.is_ok()
    {
        let kept = keep(device, lock_after, Some(stored)).await;
        return Ok((Unlocked::Session, kept));
    }
    let pin = current_pin()?;
    device.unlock(&pin).await?;
    let kept = keep(device, lock_after, None).await;
    Ok((Unlocked::Pin, kept))
}

/// The store's PIN: `$BOTHY_PIN`, else asked for at a terminal.
pub fn current_pin() -> Result<Zeroizing<String>> {
    if let Some(pin) = from_env(PIN_VAR) {
        return Ok(pin);
    }
    if std::io::stdin().is_terminal() {
        return Ok(Zeroizing::new(interact::secret(
            "PIN for this store",
            "no PIN given: the store stays locked",
        )?));
    }
    bail!(
        "this store is locked: unlock it with your PIN (run `bothy unlock` at a terminal, or set \
         ${PIN_VAR})"
    )
}

/// A new PIN for a store that has none: `$BOTHY_PIN`, else chosen at a terminal (twice).
async fn new_pin_for_store(device: &Device) -> Result<Zeroizing<String>> {
    if let Some(pin) = from_env(PIN_VAR) {
        return Ok(pin);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "this store has no PIN yet: choose one at a terminal, or set ${PIN_VAR} (at least \
             {MIN_PIN_CHARS} characters)"
        );
    }
    let holds = if device.is_enrolled().await.unwrap_or(false) {
        "This store is not encrypted yet: choose a PIN to encrypt it now (nothing is lost)."
    } else {
        "Choose a PIN for this device's store: it encrypts the records kept here."
    };
    eprintln!(
        "{holds} At least {MIN_PIN_CHARS} characters; a passphrase is safer. A forgotten PIN \
         cannot be recovered: you would enrol again with a new store, and changes not yet \
         synced would be lost."
    );
    new_pin_twice("new PIN")
}

/// The new PIN of `bothy pin change`: `$BOTHY_NEW_PIN`, else asked for twice at a terminal.
pub fn changed_pin() -> Result<Zeroizing<String>> {
    if let Some(pin) = from_env(NEW_PIN_VAR) {
        return Ok(pin);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no new PIN given: type it at a terminal, or set ${NEW_PIN_VAR}");
    }
    new_pin_twice("new PIN")
}

fn new_pin_twice(prompt: &str) -> Result<Zeroizing<String>> {
    let missing = "no PIN given: nothing was changed";
    let first = Zeroizing::new(interact::secret(prompt, missing)?);
    if first.chars().count() < MIN_PIN_CHARS {
        bail!("the PIN is too short: use at least {MIN_PIN_CHARS} characters");
    }
    let again = Zeroizing::new(interact::secret(&format!("{prompt} again"), missing)?);
    if again != first {
        bail!("the two PINs differ: nothing was changed");
    }
    Ok(first)
}

fn from_env(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Zeroizing::new)
}

/// The folder of sessions, made if missing (mode 0700); `None` without a usable runtime
/// directory.
fn sessions_dir() -> Option<PathBuf> {
    let runtime = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    if !runtime.is_absolute() || !runtime.is_dir() {
        return None;
    }
    let dir = runtime.join("bothy");
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    private(&dir, true).then_some(dir)
}

/// Whether `path` is a directory (or a regular file) of this user that nobody else may read.
fn private(path: &Path, dir: bool) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if (dir && !meta.is_dir()) || (!dir && !meta.is_file()) {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mine = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        if meta.mode() & 0o077 != 0 || mine.is_some_and(|uid| uid != meta.uid()) {
            return false;
        }
    }
    true
}

fn session_path(key_id: &str) -> Option<PathBuf> {
    // The id is the store's (hex); anything else never names a file.
    if key_id.is_empty() || !key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(sessions_dir()?.join(format!("{key_id}.unlocked")))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The session kept for the store with key `key_id`, if one is there and not idle for longer
/// than `lock_after` (or the time it was kept with); an expired one is deleted.
fn read_session(key_id: &str, lock_after: Option<Duration>) -> Option<(SessionKey, Duration)> {
    let path = session_path(key_id)?;
    if !private(&path, false) {
        return None;
    }
    let text = Zeroizing::new(std::fs::read_to_string(&path).ok()?);
    let session: Session = serde_json::from_str(&text).ok()?;
    let session_key = Zeroizing::new(session.key);
    let stored = Duration::from_secs(session.lock_after);
    let limit = lock_after.unwrap_or(stored).as_secs() as i64;
    let idle = now() - session.used;
    if idle < -60 || idle >= limit {
        remove(&path);
        return None;
    }
    Some((SessionKey::from_hex(&session_key)?, stored))
}

/// Keeps (or refreshes) the session of an unlocked store, for `lock_after`, else the time it
/// was kept with, else the default. Returns the idle time kept, or `None` if nothing is kept
/// (no runtime directory, or a lock time of 0). Failing to keep it is not an error: the next
/// command asks again.
async fn keep(
    device: &Device,
    lock_after: Option<Duration>,
    stored: Option<Duration>,
) -> Option<Duration> {
    let lock_after = lock_after.or(stored).unwrap_or(DEFAULT_LOCK_AFTER);
    let id = device.key_id().await.ok()??;
    let path = session_path(&id)?;
    if lock_after.is_zero() {
        remove(&path);
        return None;
    }
    let key = device.session_key().ok()?;
    let session = Session {
        key: key.to_hex().to_string(),
        lock_after: lock_after.as_secs(),
        used: now(),
    };
    let text = Zeroizing::new(serde_json::to_string(&session).ok()?);
    drop(Zeroizing::new(session.key));
    match write_private(&path, text.as_bytes()) {
        Ok(()) => Some(lock_after),
        Err(e) => {
            tracing::warn!(error = %e, "cannot keep the store unlocked");
            None
        }
    }
}

/// Writes `bytes` to `path` through a new file of mode 0600 renamed over it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = std::fs::remove_file(&tmp);
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        remove(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// Deletes a session file, overwriting it first (best effort).
fn remove(path: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.is_file()
    {
        let _ = std::fs::write(path, vec![0u8; meta.len() as usize]);
    }
    let _ = std::fs::remove_file(path);
}

/// Deletes the session of the store with key `key_id`. Returns whether there was one, or
/// `None` without a runtime directory.
pub fn end_session(key_id: &str) -> Option<bool> {
    let path = session_path(key_id)?;
    let existed = path.exists();
    remove(&path);
    Some(existed)
}

/// Whether sessions can be kept here.
pub fn sessions_kept() -> bool {
    sessions_dir().is_some()
}
