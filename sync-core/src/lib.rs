//! # bothy-sync-core
//!
//! Everything Bothy knows about what a record *means*, with no I/O: the server and the device
//! move bytes and call this crate.
//!
//! * [`schema`]: the four record kinds (participant, session with attendance, wellbeing
//!   response, story) and their fields; [`schema_export`] writes them out as data for the
//!   web app.
//! * [`record`]: records as Automerge documents behind typed, validating accessors
//!   ([`RecordDoc`]): create, edit (refusing invalid input with the field named), read.
//! * [`validate`]: the checks, shared by capture on the device and merge on the server.
//! * [`scoring`]: WEMWBS, SWEMWBS (raw and metric) and ONS4 scoring as pure functions.
//! * [`merge`]: taking in another replica's changes: refuse, compensate or flag; and finding
//!   true conflicts (one field set to two values concurrently) so they are surfaced.
//! * [`protocol`]: the versioned, binary, compressed sync messages.
//! * [`inflate`]: how far Automerge bytes from elsewhere expand, measured before loading them.
//! * [`followup`]: a project's follow-up schedule (when questionnaires after baseline are due).
//! * [`roles`]: which record kinds each project role may write and receive, for the server's
//!   checks and the devices' capture alike.
//! * [`time`]: the UK date of an instant (British Summer Time included), which dates typed on
//!   a device default to.
//!
//! A typical device-side flow:
//!
//! ```
//! use bothy_sync_core::{RecordDoc, RecordKind, FieldValue};
//! use automerge::ActorId;
//!
//! let actor = ActorId::random();
//! let mut session = RecordDoc::create(actor, RecordKind::Session, "highland-heritage", &[
//!     ("site", "ullapool-hall".into()),
//!     ("activity", "heritage-crafts".into()),
//!     ("activity_type", "heritage".into()),
//!     ("start", "2026-11-01T10:00:00Z".into()),
//! ], 1_761_991_200).unwrap();
//! let participant = uuid::Uuid::now_v7().to_string();
//! session.edit(1_761_991_260, |e| e.set(&format!("attendance.{participant}"), "present")).unwrap();
//! // An end before the start is refused, and the message names the field.
//! let err = session.edit(1_761_991_300, |e| e.set("end", "2026-11-01T09:00:00Z")).unwrap_err();
//! assert!(err.to_string().starts_with("end:"));
//! ```

#![warn(missing_docs)]

pub mod followup;
pub mod history;
pub mod inflate;
pub mod instrument;
pub mod merge;
pub mod protocol;
pub mod record;
pub mod roles;
pub mod schema;
pub mod schema_export;
pub mod scoring;
pub mod split;
pub mod time;
pub mod validate;
pub mod wording;

pub use merge::{
    Conflict, ConflictValue, MergePolicy, RefusalCode, Verdict, conflicts, merge_incoming,
};
pub use record::{Editor, Envelope, FieldValue, RecordData, RecordDoc, RecordError, RecordView};
pub use schema::RecordKind;
pub use scoring::{Instrument, Score};
pub use validate::FieldError;

/// The first 8 bytes of every actor id the server writes under (`bothy-se`, hex
/// `626f7468792d7365`).
pub const SERVER_ACTOR_PREFIX: &[u8; 8] = b"bothy-se";

/// The actor id servers wrote their changes under before actors were tied to the database's
/// generation; still recognised as the server's by [`is_server_actor`].
pub fn server_actor() -> automerge::ActorId {
    automerge::ActorId::from(*b"bothy-server\0\0\0\x01")
}

/// The actor id the server writes compensations, erasure changes and conflict resolutions
/// under in one generation of its database: [`SERVER_ACTOR_PREFIX`] followed by the first 8
/// bytes of the generation id. A restored database starts a new generation, so it never reuses
/// the sequence numbers its lost timeline gave out (devices refuse a change that reuses one).
/// Safe to share between server processes because every merge into a record is serialised by
/// the database.
pub fn server_actor_for(generation_id: &[u8; 16]) -> automerge::ActorId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(SERVER_ACTOR_PREFIX);
    bytes[8..].copy_from_slice(&generation_id[..8]);
    automerge::ActorId::from(bytes)
}

/// Whether a change under this actor was written by a server (of any generation).
pub fn is_server_actor(actor: &automerge::ActorId) -> bool {
    let bytes = actor.to_bytes();
    bytes.len() == 16 && bytes.starts_with(SERVER_ACTOR_PREFIX)
}

/// [`is_server_actor`] for an actor id in lowercase hex, as history entries carry it.
pub fn is_server_actor_hex(actor: &str) -> bool {
    actor.len() == 32 && actor.starts_with("626f7468792d7365")
}

/// Re-exported so dependants use the same Automerge version.
pub use automerge;
pub use uuid;
