//! # bothy-device
//!
//! The on-device replica: a local SQLite store of record documents, capture that refuses bad
//! input with the field named, and the sync client. It is embeddable: the terminal client
//! `bothy` is one front end, native apps can be others. sync-core decides what records mean;
//! this crate keeps them safe on the device and moves their changes to and from the server.
//!
//! A tour, in the order data flows:
//!
//! * [`Device::open`] opens (or creates) the store and runs its migrations, and makes the
//!   project instruments of the set-up it holds known (see [`Device::setup`]).
//! * [`Device::set_pin`] encrypts the store at rest (in place, if it holds records already):
//!   record data and credentials are sealed with a random data key, which is kept only wrapped
//!   by a key derived from the PIN. A store with a PIN is opened locked; [`Device::unlock`]
//!   (or [`Device::open_with_pin`]) unlocks it, and [`Device::change_pin`] changes the PIN.
//!   A store without a PIN works as before.
//! * [`Device::enrol`] or [`Device::login`] give the device its identity: a device id and
//!   token, and the Automerge actor the server expects this device's changes to be authored
//!   under. Capture before enrolment is refused ([`DeviceError::NotEnrolled`]): enrolment happens
//!   once, in the office, before going to the field; after that the device works offline for
//!   as long as it must.
//! * Capture ([`Device::create_participant`], [`Device::create_session`],
//!   [`Device::mark_attendance`], [`Device::record_wellbeing`], [`Device::create_story`],
//!   [`Device::edit`]) is one SQLite transaction each: load the document, edit, validate, save.
//! * Reading ([`Device::list`], [`Device::get`], [`Device::status`]) shows records with their
//!   derived scores and any true conflicts.
//! * [`Device::sync`] sends every unacknowledged change in one request and applies the answer
//!   in one transaction. Nothing is marked acknowledged unless the server acknowledged it, and
//!   nothing is deleted: a record the server refuses is set aside, not dropped. Only erasure
//!   (a legal duty) and a wipe (below) remove data from the device.
//! * A device withdrawn by an admin (revoked, or its user removed) is told so at its next
//!   request and wipes itself: every record, report and its credential leave the store, and
//!   the server is told which records held changes it never received
//!   ([`DeviceError::Wiped`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), bothy_device::DeviceError> {
//! use bothy_device::{AttendanceMark, Device};
//!
//! let device = Device::open("device.db").await?;
//! device.enrol("https://bothy.example.org", "ENROL-CODE", "field tablet 3").await?;
//! let ana = device.create_participant(None, &[("age_band", "25-34".into())]).await?;
//! let session = device
//!     .create_session(None, &[
//!         ("site", "ullapool-hall".into()),
//!         ("activity", "heritage-crafts".into()),
//!         ("activity_type", "heritage".into()),
//!         ("start", "2026-11-01T10:00:00Z".into()),
//!     ])
//!     .await?;
//! device.mark_attendance(session, ana.id, AttendanceMark::Present).await?;
//! let summary = device.sync().await?; // later, when there is signal
//! println!("pushed {} records", summary.pushed);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod api;
mod capture;
mod code;
mod error;
mod history;
mod identity;
mod read;
mod setup;
mod store;
mod sync;
mod vault;
mod wipe;

pub use api::{Enrolment, Login, Membership, ServerApi, User};
pub use capture::{AttendanceMark, NewParticipant, WellbeingForm};
pub use error::{DeviceError, Result};
pub use history::{LocalChange, LocalHistory};
pub use identity::Enrolled;
pub use read::{
    RecordConflicts, RecordDetails, RecordSummary, SetAsideRecord, Status, StoredReport,
};
pub use setup::{FormItem, InstrumentForm, ProjectForms};
pub use sync::SyncSummary;
pub use vault::{FREE_ATTEMPTS, MIN_PIN_CHARS, PinCost, SessionKey, wait_after};
pub use wipe::{LostRecord, WipeConfirmation, Wiped};

/// Re-exported so callers name records, fields and conflicts with the same types.
pub use bothy_sync_core;

use sqlx::SqlitePool;
use std::fmt;
use std::path::{Path, PathBuf};

/// A handle on one device's local store. Cheap to share by reference; every method is one
/// short transaction or one network exchange, so two handles (or two processes) on the same
/// store queue on SQLite's lock rather than interfering.
pub struct Device {
    pool: SqlitePool,
    path: PathBuf,
    app: String,
    /// Whether the store is encrypted, and the data key once unlocked.
    vault: vault::Vault,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("path", &self.path)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Opens the store at `path`, creating it (readable by its owner only) if missing, and
    /// brings its tables up to date. The project instrument definitions of the set-up it holds
    /// become known to this process, so responses of them are checked and scored offline.
    ///
    /// A store with a PIN opens locked: records and credentials cannot be read or written
    /// ([`DeviceError::Locked`]) until [`Device::unlock`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Device> {
        let path = path.as_ref().to_path_buf();
        let pool = store::open(&path).await?;
        let mut conn = pool.acquire().await?;
        setup::register_stored(&mut conn).await?;
        let vault = match store::meta_get(&mut conn, store::key::VAULT).await? {
            Some(_) => vault::Vault::locked(),
            None => vault::Vault::plain(),
        };
        drop(conn);
        Ok(Device {
            pool,
            path,
            app: format!("bothy-device/{}", env!("CARGO_PKG_VERSION")),
            vault,
        })
    }

    /// Names the app using this store (e.g. `bothy-cli/0.1.0`), as reported to the server.
    pub fn with_app(mut self, app: impl Into<String>) -> Self {
        self.app = app.into();
        self
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The server this device is enrolled with, if it is; readable while the store is locked.
    pub async fn enrolled_server(&self) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        store::meta_get(&mut conn, store::key::SERVER).await
    }

    /// Closes the store, waiting for pending writes.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// A client for `server` that identifies itself as this device's app.
    pub fn api(&self, server: &str) -> Result<ServerApi> {
        ServerApi::new(server, &self.app)
    }
}

/// Now on the device clock, in Unix seconds (advisory: device clocks lie).
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
