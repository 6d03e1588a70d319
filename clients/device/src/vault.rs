//! Encryption at rest: the store's data key, the PIN that wraps it, and sealing values.
//!
//! A store may be *plain* (as every store was before PINs, and as tests and embedders that do
//! not ask for one still use) or *encrypted*. An encrypted store has a random 256-bit data key.
//! Every value that can carry participant data or a credential (a record's document, label and
//! code, a set-aside copy and its reason, a report's message, the device token, a pending
//! enrolment) is sealed with it by XChaCha20-Poly1305: a fresh random 24-byte nonce per value,
//! and associated data naming the table, the column and the row, so a value moved to another
//! row or column no longer opens. Ids, kinds, projects, heads, times and the project set-up
//! stay in clear, because queries need them and they say nothing about a person.
//!
//! The data key is stored only wrapped (sealed) by a key derived from the user's PIN with
//! argon2id, beside the salt and the cost parameters (the `meta` row `vault`). Changing the PIN
//! wraps the same data key again; nothing else is rewritten. Wrong PINs are counted in the
//! store: after [`FREE_ATTEMPTS`] in a row every further attempt must wait, longer each time
//! ([`wait_after`]), whatever process makes it.
//!
//! Setting the first PIN of a plain store encrypts it in place, in one transaction, then
//! rebuilds the file (`VACUUM`) and truncates the write-ahead log, so the plaintext pages are
//! gone from the store's files (`secure_delete` zeroes freed space as well). A wipe keeps the
//! key record ([`key::KEPT_BY_WIPE`]): the PIN then wraps the key of an empty store.
//!
//! Every read and write of sealed columns goes through `store.rs`, which passes the row and
//! column to [`Vault::seal`] and [`Vault::open`]; nothing else in the crate handles ciphertext.

use crate::error::{DeviceError, Result};
use crate::store::{self, key};
use crate::{Device, now};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use std::fmt;
use std::sync::{Arc, RwLock};
use zeroize::Zeroizing;

/// The shortest PIN or passphrase accepted, in characters.
pub const MIN_PIN_CHARS: usize = 6;
/// The longest accepted, in characters.
const MAX_PIN_CHARS: usize = 1024;
/// Wrong PINs in a row that cost nothing; each one after that makes the next attempt wait.
pub const FREE_ATTEMPTS: u32 = 5;

/// The first byte of every sealed value: the format (algorithm and layout).
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// How a sealed value starts in a text column (then URL-safe base64 of the sealed bytes).
const TEXT_PREFIX: &str = "bv1.";
/// Every associated data starts with this, so a value sealed for another purpose never opens.
const AD_PREFIX: &[u8] = b"bothy-device/v1";
/// What the check value holds: opening it proves a data key is this store's.
const CHECK_PLAINTEXT: &[u8] = b"bothy store data key";

/// The argon2id cost of deriving the key that wraps the data key from a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinCost {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes (parallelism).
    pub lanes: u32,
}

impl PinCost {
    /// What a new PIN gets: 64 MiB, 3 passes, 1 lane (docs/security.md gives the time it
    /// takes, measured).
    pub const DEFAULT: PinCost = PinCost {
        memory_kib: 64 * 1024,
        iterations: 3,
        lanes: 1,
    };
}

/// The unwrapped data key of an unlocked store, for an app to keep for a while (the terminal
/// client keeps it in a per-user runtime file) so that the PIN is not asked for every action.
/// Whoever holds it can read the store: keep it where only its user can read it, and not for
/// long. Zeroed when dropped.
#[derive(Clone)]
pub struct SessionKey(Zeroizing<[u8; 32]>);

impl SessionKey {
    /// As 64 hex digits.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(*self.0))
    }

    /// From 64 hex digits; `None` if it is not that.
    pub fn from_hex(text: &str) -> Option<SessionKey> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), &mut *key).ok()?;
        Some(SessionKey(key))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(secret)")
    }
}

/// Where a sealed value lives: it is bound to its table, column and row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub table: &'static str,
    pub column: &'static str,
    pub row: &'a str,
}

impl Place<'_> {
    fn associated_data(&self) -> Vec<u8> {
        let mut ad = Vec::with_capacity(AD_PREFIX.len() + 40 + self.row.len());
        for part in [
            AD_PREFIX,
            self.table.as_bytes(),
            self.column.as_bytes(),
            self.row.as_bytes(),
        ] {
            ad.extend_from_slice(part);
            ad.push(0);
        }
        ad
    }

    fn damaged(&self) -> DeviceError {
        DeviceError::Store(format!(
            "{}.{} of {} failed its integrity check: the store was changed outside Bothy or \
             is damaged",
            self.table, self.column, self.row
        ))
    }
}

/// An AEAD keyed with a data key (or a key derived from a PIN), and the raw key.
struct Cipher {
    aead: XChaCha20Poly1305,
    key: SessionKey,
}

impl Cipher {
    fn new(key: SessionKey) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new(&(*key.0).into()),
            key,
        }
    }

    fn random() -> Cipher {
        Cipher::new(SessionKey(Zeroizing::new(<[u8; 32]>::generate())))
    }

    fn seal(&self, place: &Place<'_>, plain: &[u8]) -> Vec<u8> {
        let nonce = XNonce::generate();
        let aad = place.associated_data();
        let sealed = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any value that fits in memory");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn open(&self, place: &Place<'_>, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != FORMAT {
            return Err(place.damaged());
        }
        let nonce = XNonce::try_from(&sealed[1..1 + NONCE_LEN]).map_err(|_| place.damaged())?;
        let aad = place.associated_data();
        self.aead
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| place.damaged())
    }
}

enum State {
    /// No PIN: values are stored as they are.
    Plain,
    /// A PIN is set and this handle has not been unlocked.
    Locked,
    /// Unlocked: the data key is in memory.
    Open(Arc<Cipher>),
}

/// The encryption state of one open store. Sealing and opening values goes through it.
pub(crate) struct Vault {
    state: RwLock<State>,
}

impl Vault {
    pub(crate) fn plain() -> Vault {
        Vault {
            state: RwLock::new(State::Plain),
        }
    }

    pub(crate) fn locked() -> Vault {
        Vault {
            state: RwLock::new(State::Locked),
        }
    }

    fn cipher(&self) -> Result<Option<Arc<Cipher>>> {
        match &*self.state.read().unwrap_or_else(|e| e.into_inner()) {
            State::Plain => Ok(None),
            State::Locked => Err(DeviceError::Locked),
            State::Open(c) => Ok(Some(c.clone())),
        }
    }

    fn set(&self, state: State) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = state;
    }

    fn is_plain(&self) -> bool {
        matches!(
            *self.state.read().unwrap_or_else(|e| e.into_inner()),
            State::Plain
        )
    }

    fn is_locked(&self) -> bool {
        matches!(
            *self.state.read().unwrap_or_else(|e| e.into_inner()),
            State::Locked
        )
    }

    /// Refuses while the store is locked. Reads that may find no sealed value to open (an
    /// empty list, a missing row) check first, so a locked store never answers as if empty.
    pub(crate) fn check(&self) -> Result<()> {
        self.cipher().map(|_| ())
    }

    /// A value as it is to be stored at `place`: sealed in an encrypted store, as is in a plain
    /// one. Refused while the store is locked.
    pub(crate) fn seal(&self, place: Place<'_>, plain: &[u8]) -> Result<Vec<u8>> {
        Ok(match self.cipher()? {
            None => plain.to_vec(),
            Some(c) => c.seal(&place, plain),
        })
    }

    /// A stored value read back from `place`.
    pub(crate) fn open(&self, place: Place<'_>, stored: Vec<u8>) -> Result<Vec<u8>> {
        match self.cipher()? {
            None => Ok(stored),
            Some(c) => c.open(&place, &stored),
        }
    }

    /// [`Vault::seal`] for a text column: sealed text is `bv1.` and base64.
    pub(crate) fn seal_text(&self, place: Place<'_>, plain: &str) -> Result<String> {
        Ok(match self.cipher()? {
            None => plain.to_owned(),
            Some(c) => format!(
                "{TEXT_PREFIX}{}",
                B64.encode(c.seal(&place, plain.as_bytes()))
            ),
        })
    }

    /// [`Vault::open`] for a text column.
    pub(crate) fn open_text(&self, place: Place<'_>, stored: String) -> Result<String> {
        let Some(c) = self.cipher()? else {
            return Ok(stored);
        };
        let sealed = stored
            .strip_prefix(TEXT_PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(|| place.damaged())?;
        String::from_utf8(c.open(&place, &sealed)?).map_err(|_| place.damaged())
    }
}

/// What the store keeps about its data key (the `meta` row `vault`, JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    /// The layout of this record and of sealed values.
    pub version: u32,
    /// A random id for the store's key, which names its sessions.
    pub id: String,
    /// Always `argon2id` (version 0x13).
    pub kdf: String,
    /// The cost of deriving the wrapping key.
    #[serde(flatten)]
    pub cost: PinCost,
    /// The salt, hex (16 random bytes).
    pub salt: String,
    /// The data key sealed with the key derived from the PIN.
    pub wrapped_key: String,
    /// A constant sealed with the data key, to recognise the store's data key.
    pub check: String,
}

impl KeyRecord {
    fn wrap_place(&self) -> Place<'_> {
        Place {
            table: "vault",
            column: "data_key",
            row: &self.id,
        }
    }

    fn check_place(&self) -> Place<'_> {
        Place {
            table: "vault",
            column: "check",
            row: &self.id,
        }
    }

    /// The data key, if `wrapping` is the key derived from the right PIN.
    fn unwrap_with(&self, wrapping: &Cipher) -> Option<Cipher> {
        let sealed = B64.decode(&self.wrapped_key).ok()?;
        let raw = Zeroizing::new(wrapping.open(&self.wrap_place(), &sealed).ok()?);
        let mut key = Zeroizing::new([0u8; 32]);
        if raw.len() != key.len() {
            return None;
        }
        key.copy_from_slice(&raw);
        Some(Cipher::new(SessionKey(key)))
    }

    /// Whether `data` is this store's data key.
    fn accepts(&self, data: &Cipher) -> bool {
        B64.decode(&self.check)
            .ok()
            .and_then(|sealed| data.open(&self.check_place(), &sealed).ok())
            .is_some_and(|plain| plain == CHECK_PLAINTEXT)
    }

    /// Wraps `data` under a new salt with the key derived from `pin`.
    async fn wrap(&mut self, data: &Cipher, pin: &str, cost: PinCost) -> Result<()> {
        let salt = <[u8; 16]>::generate();
        let wrapping = derive(pin, &salt, cost).await?;
        self.kdf = "argon2id".into();
        self.cost = cost;
        self.salt = hex::encode(salt);
        self.wrapped_key = B64.encode(wrapping.seal(&self.wrap_place(), &data.key.0[..]));
        Ok(())
    }

    async fn read(conn: &mut SqliteConnection) -> Result<Option<KeyRecord>> {
        match store::meta_get(conn, key::VAULT).await? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| DeviceError::Store(format!("the store's key record is damaged: {e}"))),
        }
    }

    async fn write(&self, conn: &mut SqliteConnection) -> Result<()> {
        let json = serde_json::to_string(self).expect("a key record always serialises");
        store::meta_set(conn, key::VAULT, &json).await
    }
}

/// Derives the wrapping key from a PIN with argon2id, on a blocking thread.
async fn derive(pin: &str, salt: &[u8], cost: PinCost) -> Result<Cipher> {
    let pin = Zeroizing::new(pin.as_bytes().to_vec());
    let salt = salt.to_vec();
    tokio::task::spawn_blocking(move || {
        let params = argon2::Params::new(cost.memory_kib, cost.iterations, cost.lanes, Some(32))
            .map_err(|e| DeviceError::Store(format!("the store's PIN cost is invalid: {e}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(&pin, &salt, &mut *key)
            .map_err(|e| DeviceError::Store(format!("cannot derive a key from the PIN: {e}")))?;
        Ok(Cipher::new(SessionKey(key)))
    })
    .await
    .map_err(|e| DeviceError::Store(format!("the key derivation stopped: {e}")))?
}

/// Refuses a PIN that is too short or too long.
fn check_new_pin(pin: &str) -> Result<()> {
    let chars = pin.chars().count();
    if chars < MIN_PIN_CHARS {
        return Err(DeviceError::Usage(format!(
            "the PIN is too short: use at least {MIN_PIN_CHARS} characters (a passphrase is \
             safer than digits)"
        )));
    }
    if chars > MAX_PIN_CHARS {
        return Err(DeviceError::Usage(format!(
            "the PIN is too long: use at most {MAX_PIN_CHARS} characters"
        )));
    }
    Ok(())
}

/// How long an attempt must wait after `failures` wrong PINs in a row: nothing for the first
/// [`FREE_ATTEMPTS`], then 30 seconds, doubling each time, up to an hour.
pub fn wait_after(failures: u32) -> Option<u64> {
    let past = failures.checked_sub(FREE_ATTEMPTS)?;
    Some(30u64.saturating_mul(1 << past.min(20)).min(3600))
}

/// A wait in words: `45 seconds`, `4 minutes`, `2 hours`.
pub(crate) fn in_words(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match seconds {
        0..=119 => plural(seconds.max(1), "second"),
        120..=7199 => plural(seconds.div_ceil(60), "minute"),
        _ => plural(seconds.div_ceil(3600), "hour"),
    }
}

/// Wrong PINs counted so far, and until when the next attempt must wait (Unix seconds).
async fn attempts(conn: &mut SqliteConnection) -> Result<(u32, i64)> {
    let failures = store::meta_get(conn, key::PIN_FAILURES)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let until = store::meta_get(conn, key::PIN_WAIT_UNTIL)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok((failures, until))
}

impl Device {
    /// Opens the store at `path` and unlocks it with `pin` ([`Device::open`], then
    /// [`Device::unlock`]).
    pub async fn open_with_pin(path: impl AsRef<std::path::Path>, pin: &str) -> Result<Device> {
        let device = Device::open(path).await?;
        if let Err(e) = device.unlock(pin).await {
            device.close().await;
            return Err(e);
        }
        Ok(device)
    }

    /// Whether the store is encrypted (has a PIN).
    pub fn has_pin(&self) -> bool {
        !self.vault.is_plain()
    }

    /// Whether the store has a PIN and this handle has not been unlocked: reading or writing
    /// records is refused with [`DeviceError::Locked`] until [`Device::unlock`].
    pub fn is_locked(&self) -> bool {
        self.vault.is_locked()
    }

    /// The argon2id cost of the store's PIN, if it has one.
    pub async fn pin_cost(&self) -> Result<Option<PinCost>> {
        let mut conn = self.pool.acquire().await?;
        Ok(KeyRecord::read(&mut conn).await?.map(|r| r.cost))
    }

    /// A random id of the store's data key (in clear), to name what an app keeps about an
    /// unlocked store (the terminal client's session file); `None` for a store without a PIN.
    pub async fn key_id(&self) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        Ok(KeyRecord::read(&mut conn).await?.map(|r| r.id))
    }

    /// Unlocks the store with its PIN. A wrong PIN is refused ([`DeviceError::WrongPin`]);
    /// after [`FREE_ATTEMPTS`] wrong PINs in a row each further attempt must wait, longer
    /// each time ([`DeviceError::PinWait`]). The count is kept in the store, so it survives a
    /// restart, and an attempt is counted before its PIN is checked. A right PIN clears it.
    pub async fn unlock(&self, pin: &str) -> Result<()> {
        let (_, data) = self.check_pin(pin).await?;
        self.vault.set(State::Open(Arc::new(data)));
        Ok(())
    }

    /// Unlocks the store with its data key, as kept from an earlier unlock
    /// ([`Device::session_key`]). Refused, changing nothing, if it is not this store's key.
    pub async fn unlock_with_key(&self, key: &SessionKey) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let record = KeyRecord::read(&mut conn).await?.ok_or_else(no_pin)?;
        let data = Cipher::new(key.clone());
        if !record.accepts(&data) {
            return Err(DeviceError::Usage(
                "that key does not unlock this store".into(),
            ));
        }
        self.vault.set(State::Open(Arc::new(data)));
        Ok(())
    }

    /// The data key of the unlocked store, to keep for a while (see [`SessionKey`]).
    pub fn session_key(&self) -> Result<SessionKey> {
        match self.vault.cipher()? {
            Some(c) => Ok(c.key.clone()),
            None => Err(no_pin()),
        }
    }

    /// Forgets the data key in memory: the store is locked again for this handle.
    pub fn lock(&self) {
        if !self.vault.is_plain() {
            self.vault.set(State::Locked);
        }
    }

    /// Gives a store without a PIN one (at least [`MIN_PIN_CHARS`] characters): a random data
    /// key is made and wrapped with a key derived from `pin`, everything held is encrypted in
    /// place in one transaction (nothing is lost), and the store's files are rebuilt so that
    /// no plaintext page is left in them. The store is then unlocked for this handle.
    /// Another handle or process that has the store open without a PIN must open it again.
    pub async fn set_pin(&self, pin: &str) -> Result<()> {
        self.set_pin_with_cost(pin, PinCost::DEFAULT).await
    }

    pub(crate) async fn set_pin_with_cost(&self, pin: &str, cost: PinCost) -> Result<()> {
        check_new_pin(pin)?;
        if !self.vault.is_plain() {
            return Err(already_has_pin());
        }
        let data = Cipher::random();
        let mut record = KeyRecord {
            version: 1,
            id: uuid::Uuid::new_v4().simple().to_string(),
            kdf: String::new(),
            cost,
            salt: String::new(),
            wrapped_key: String::new(),
            check: String::new(),
        };
        record.wrap(&data, pin, cost).await?;
        record.check = B64.encode(data.seal(&record.check_place(), CHECK_PLAINTEXT));
        let data = Arc::new(data);
        let sealing = Vault {
            state: RwLock::new(State::Open(data.clone())),
        };
        let mut tx = store::begin_write(&self.pool).await?;
        if KeyRecord::read(&mut tx).await?.is_some() {
            return Err(already_has_pin());
        }
        let counts = store::encrypt_everything(&mut tx, &sealing).await?;
        record.write(&mut tx).await?;
        store::meta_delete(&mut tx, key::PIN_FAILURES).await?;
        store::meta_delete(&mut tx, key::PIN_WAIT_UNTIL).await?;
        tx.commit().await?;
        self.vault.set(State::Open(data));
        tracing::info!(records = counts, "the store is now encrypted");
        // The plaintext is out of the tables; now out of the files: rebuild the database
        // (secure_delete zeroes what it frees) and empty the write-ahead log.
        sqlx::query("VACUUM").execute(&self.pool).await?;
        store::scrub_log(&self.pool).await?;
        Ok(())
    }

    /// Changes the store's PIN: `current` is checked as [`Device::unlock`] checks it (and
    /// counted the same way), then the same data key is wrapped with a key derived from `new`
    /// under a new salt. Nothing else in the store changes. The store is unlocked after.
    pub async fn change_pin(&self, current: &str, new: &str) -> Result<()> {
        check_new_pin(new)?;
        if current == new {
            return Err(DeviceError::Usage(
                "the new PIN is the same as the current one: the PIN was not changed".into(),
            ));
        }
        let (mut record, data) = self.check_pin(current).await?;
        let before = record.wrapped_key.clone();
        let cost = record.cost.max_with(PinCost::DEFAULT);
        record.wrap(&data, new, cost).await?;
        let mut tx = store::begin_write(&self.pool).await?;
        match KeyRecord::read(&mut tx).await? {
            Some(held) if held.wrapped_key == before => {}
            // Another program changed the PIN meanwhile: keep its PIN, not this one.
            Some(_) => {
                return Err(DeviceError::Usage(
                    "the PIN was changed by another program meanwhile: the PIN was not changed"
                        .into(),
                ));
            }
            None => return Err(no_pin()),
        }
        record.write(&mut tx).await?;
        tx.commit().await?;
        self.vault.set(State::Open(Arc::new(data)));
        Ok(())
    }

    /// Checks `pin` against the store's key record, counting the attempt; returns the record
    /// (as read before the attempt) and the data key.
    async fn check_pin(&self, pin: &str) -> Result<(KeyRecord, Cipher)> {
        let at = now();
        let mut tx = store::begin_write(&self.pool).await?;
        let record = KeyRecord::read(&mut tx).await?.ok_or_else(no_pin)?;
        let (failures, until) = attempts(&mut tx).await?;
        if at < until {
            return Err(DeviceError::PinWait {
                seconds: (until - at) as u64,
            });
        }
        // Counted before it is checked: killing the process mid-check does not undo it.
        let failures = failures.saturating_add(1);
        store::meta_set(&mut tx, key::PIN_FAILURES, &failures.to_string()).await?;
        let wait = wait_after(failures);
        if let Some(w) = wait {
            store::meta_set(&mut tx, key::PIN_WAIT_UNTIL, &(at + w as i64).to_string()).await?;
        }
        tx.commit().await?;

        let salt = hex::decode(&record.salt)
            .map_err(|_| DeviceError::Store("the store's key record is damaged".into()))?;
        let wrapping = derive(pin, &salt, record.cost).await?;
        let Some(data) = record.unwrap_with(&wrapping) else {
            return Err(DeviceError::WrongPin {
                failures,
                wait_seconds: wait,
            });
        };
        let mut conn = self.pool.acquire().await?;
        store::meta_delete(&mut conn, key::PIN_FAILURES).await?;
        store::meta_delete(&mut conn, key::PIN_WAIT_UNTIL).await?;
        Ok((record, data))
    }
}

impl PinCost {
    /// The stronger of two costs, parameter by parameter.
    fn max_with(self, other: PinCost) -> PinCost {
        PinCost {
            memory_kib: self.memory_kib.max(other.memory_kib),
            iterations: self.iterations.max(other.iterations),
            lanes: self.lanes.max(other.lanes),
        }
    }
}

fn no_pin() -> DeviceError {
    DeviceError::Usage("this store has no PIN: it is not encrypted".into())
}

fn already_has_pin() -> DeviceError {
    DeviceError::Usage(
        "this store already has a PIN: change it (bothy pin change) rather than set it".into(),
    )
}

#[cfg(test)]
mod tests;
