//! The device's one error type.
//!
//! Every variant is written for the person holding the device: it says what went wrong and,
//! where there is one, what to do next. Callers (the CLI, a future app) show `to_string()` as
//! is and use the variant only to choose an exit code or a retry.

use bothy_sync_core::FieldError;
use bothy_sync_core::validate::describe;

/// What can go wrong on the device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Capture and sync need the identity the server assigns at enrolment.
    #[error("enrol this device first: bothy enrol --server URL --code CODE")]
    NotEnrolled,

    /// The input is invalid; nothing was written. Each error names its field.
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldError>),

    /// No record matches.
    #[error("{0}")]
    NotFound(String),

    /// More than one record matches a short id or code.
    #[error("`{query}` matches {} records ({}); give more of the id", .matches.len(), .matches.join(", "))]
    Ambiguous {
        /// What was looked up.
        query: String,
        /// The ids that match.
        matches: Vec<String>,
    },

    /// A request that cannot be carried out as asked (no project chosen, bad server URL...).
    #[error("{0}")]
    Usage(String),

    /// The server could not be reached; nothing changed on the device.
    #[error(
        "cannot reach the server at {server}: {detail}; your records are safe on this device and will sync later"
    )]
    Unreachable {
        /// The server's URL.
        server: String,
        /// What failed (connection refused, timed out...).
        detail: String,
    },

    /// Enrolment could not finish because the server was unreachable; nothing changed on the
    /// device, and the same command may be run again with the same code.
    #[error(
        "could not enrol this device: cannot reach the server at {server}: {detail}; your enrolment code still works for this device until it expires: run the same command again"
    )]
    EnrolmentUnreachable {
        /// The server's URL.
        server: String,
        /// What failed (connection refused, timed out...).
        detail: String,
    },

    /// Enrolment could not finish because the server failed; nothing changed on the device.
    #[error(
        "could not enrol this device: the server at {server} failed ({status}): {message}; your enrolment code still works for this device until it expires: run the same command again later"
    )]
    EnrolmentServerFault {
        /// The server's URL.
        server: String,
        /// The HTTP status.
        status: u16,
        /// The server's message, if it sent one.
        message: String,
    },

    /// The server refused the request (a 4xx answer).
    #[error("the server refused: {message} ({code})")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's machine-readable code.
        code: String,
        /// The server's message.
        message: String,
    },

    /// The server failed (a 5xx answer); nothing changed on the device.
    #[error(
        "the server at {server} failed ({status}): {message}; your records are safe on this device, try again later"
    )]
    ServerFault {
        /// The server's URL.
        server: String,
        /// The HTTP status.
        status: u16,
        /// The server's message, if it sent one.
        message: String,
        /// Seconds the server asked to wait before trying again (`Retry-After`, sent with a
        /// `503 busy`), if it said.
        retry_after: Option<u64>,
    },

    /// The server's answer could not be understood; nothing changed on the device.
    #[error("the server's answer could not be understood: {0}")]
    Protocol(String),

    /// The local store failed.
    #[error("the local store failed: {0}")]
    Store(String),

    /// The server withdrew this device (an admin revoked it or removed its user) and it has
    /// wiped itself: its records, documents set aside, reports, set-up and credential are gone.
    /// It must be enrolled again. Carries what was lost, without any field value.
    #[error("{0}")]
    Wiped(crate::wipe::Wiped),

    /// The store has a PIN and has not been unlocked; nothing was read or written.
    #[error("this store is locked: unlock it with your PIN")]
    Locked,

    /// The PIN given is not the store's; the attempt was counted.
    #[error("{}", wrong_pin(*.failures, *.wait_seconds))]
    WrongPin {
        /// Wrong PINs in a row, this one included.
        failures: u32,
        /// How long the next attempt must wait, in seconds, if it must.
        wait_seconds: Option<u64>,
    },

    /// Too many wrong PINs in a row: no attempt is accepted (nor counted) until the wait is
    /// over, whatever the PIN.
    #[error(
        "too many wrong PINs in a row: wait {} before trying again (a forgotten PIN cannot be recovered: enrol again with a new store)",
        crate::vault::in_words(*.seconds)
    )]
    PinWait {
        /// Seconds left to wait.
        seconds: u64,
    },
}

fn wrong_pin(failures: u32, wait: Option<u64>) -> String {
    match wait {
        None => "wrong PIN for this store".to_owned(),
        Some(w) => format!(
            "wrong PIN for this store; {failures} wrong PINs in a row: wait {} before the next try",
            crate::vault::in_words(w)
        ),
    }
}

impl DeviceError {
    /// True when trying again later may succeed without anyone changing anything (the server
    /// was unreachable or failed).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            DeviceError::Unreachable { .. }
                | DeviceError::ServerFault { .. }
                | DeviceError::EnrolmentUnreachable { .. }
                | DeviceError::EnrolmentServerFault { .. }
        )
    }
}

impl DeviceError {
    /// How long the server asked to wait before this is tried again (its `Retry-After`, as
    /// with `503 busy`): whoever retries waits at least this long.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            DeviceError::ServerFault {
                retry_after: Some(s),
                ..
            } => Some(std::time::Duration::from_secs(*s)),
            _ => None,
        }
    }

    /// The same failure, told as one of enrolment: an unreachable or failing server leaves the
    /// enrolment code usable by this device (there are no records yet to speak of).
    pub(crate) fn during_enrolment(self) -> Self {
        match self {
            DeviceError::Unreachable { server, detail } => {
                DeviceError::EnrolmentUnreachable { server, detail }
            }
            DeviceError::ServerFault {
                server,
                status,
                message,
                ..
            } => DeviceError::EnrolmentServerFault {
                server,
                status,
                message,
            },
            other => other,
        }
    }
}

impl From<sqlx::Error> for DeviceError {
    fn from(e: sqlx::Error) -> Self {
        DeviceError::Store(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for DeviceError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        DeviceError::Store(format!("could not prepare the store: {e}"))
    }
}

impl From<bothy_sync_core::RecordError> for DeviceError {
    fn from(e: bothy_sync_core::RecordError) -> Self {
        match e {
            bothy_sync_core::RecordError::Invalid(errors) => DeviceError::Invalid(errors),
            other => DeviceError::Store(other.to_string()),
        }
    }
}

/// Shorthand for a result with [`DeviceError`].
pub type Result<T, E = DeviceError> = std::result::Result<T, E>;
