//! The sync protocol's messages: one request and one response per sync, binary and compressed.
//!
//! A message on the wire is an 8-byte header followed by a body:
//!
//! ```text
//! "BTHY" | version: u16 big-endian | encoding: u8 | reserved: u8 (0)
//! ```
//!
//! The body is the CBOR encoding of [`SyncRequest`] or [`SyncResponse`], compressed with
//! Brotli (RFC 7932; encoding 2, what Bothy's own clients send) or raw DEFLATE (RFC 1951;
//! encoding 1, for clients whose platform has DEFLATE built in, such as browsers). A server
//! answers in the encoding and version of the request ([`encode_response`], which compresses
//! less hard than a request's [`encode_with`]: it runs for every sync of every device).
//! docs/protocol.md is the normative description; this module is its
//! reference implementation. Decoding never panics on hostile bytes and never inflates more
//! than [`MAX_DECODED_BYTES`].

pub use crate::followup::FollowUp;
use crate::schema::RecordKind;
use flate2::Compression;
use flate2::read::{DeflateDecoder, DeflateEncoder};
use serde::{Deserialize, Serialize};
use std::io::Read;
use uuid::Uuid;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The oldest version a server still accepts.
pub const MIN_PROTOCOL_VERSION: u16 = 1;
/// The media type of sync messages.
pub const MEDIA_TYPE: &str = "application/vnd.bothy.sync";
/// The largest decompressed body accepted (a guard against compression bombs).
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;

const MAGIC: &[u8; 4] = b"BTHY";
/// Body encoding: raw DEFLATE of CBOR.
pub const ENCODING_DEFLATE: u8 = 1;
/// Body encoding: Brotli of CBOR (smaller; the default).
pub const ENCODING_BROTLI: u8 = 2;
const HEADER_LEN: usize = 8;

/// Where a replica is in the server's change log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The server log sequence number up to which this replica has every change it may see.
    pub seq: u64,
    /// Set while a new device is being bootstrapped from snapshots over several pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotCursor>,
    /// A fingerprint of the projects this position covers. When the device's projects change
    /// (a user joins a project), the server sees a different fingerprint and bootstraps the
    /// device again, so records logged before it joined are not skipped. Opaque to devices.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scope: u32,
    /// The generation of the server's database this position belongs to (its `generation_id`,
    /// 16 bytes). A restore starts a new generation: a cursor of another generation points
    /// into a timeline the server no longer has, so the server starts the device again from
    /// snapshots and asks it to reconcile ([`SyncResponse::reconcile`]). Opaque to devices;
    /// absent from cursors of servers and devices that predate it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire_generation"
    )]
    pub generation: Option<Uuid>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A cursor's generation: 16 bytes on the wire; also read back from text, the form a device
/// that keeps its cursor as JSON stores it in.
fn wire_generation<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
    struct WireGeneration;
    impl<'de> serde::de::Visitor<'de> for WireGeneration {
        type Value = Option<Uuid>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a generation id as a byte string of 16 bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            Uuid::from_slice(v)
                .map(Some)
                .map_err(|_| E::invalid_length(v.len(), &self))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Uuid::parse_str(v)
                .map(Some)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(WireGeneration)
}

/// The fingerprint of a set of project slugs (FNV-1a over the sorted names); never zero.
pub fn scope_of(projects: &[String]) -> u32 {
    let mut sorted: Vec<&str> = projects.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut h: u32 = 0x811c_9dc5;
    for p in sorted {
        for b in p.bytes().chain(std::iter::once(b'\n')) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h.max(1)
}

/// Progress through a paged bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotCursor {
    /// The log position the snapshot was taken at.
    pub at: u64,
    /// The last record id already sent.
    #[serde(deserialize_with = "wire_id")]
    pub after: Uuid,
}

/// Changes a device pushes for one record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPush {
    /// The record's id.
    #[serde(deserialize_with = "wire_id")]
    pub id: Uuid,
    /// Raw Automerge changes the server may not have yet, in causal order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<serde_bytes::ByteBuf>,
    /// The whole document instead of (or as well as) changes: a compact way to send a record
    /// the server has never acknowledged, since a saved document does not repeat every change's
    /// dependency hashes. The server takes every change in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<serde_bytes::ByteBuf>,
}

/// A device's sync request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The device's position in the server log (zero for a new device).
    pub cursor: Cursor,
    /// Records with changes the server has not acknowledged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push: Vec<RecordPush>,
    /// The app's name and version, for operators (e.g. `bothy-cli/0.1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// A hint for operators: how many records on the device held changes the server had not
    /// acknowledged when this request was made, including any left out of it by its size
    /// budget. Informational only; the server never relies on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u32>,
    /// The version of the project set-up the device holds (from [`Setup::version`]), so the
    /// server sends [`SyncResponse::setup`] only when it differs. Absent when it holds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
}

/// What the server did with one pushed record, when it is not a plain success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Accepted, but some values were invalid and the server neutralised them with a
    /// compensating change (which comes back in `records`); the values await review.
    Quarantined,
    /// Refused: the changes are not in the server's history. The device must set its copy
    /// aside (nothing is deleted) and take the server's copy, which comes back in `records`
    /// when the server has one.
    Refused,
    /// The server lacks changes these depend on: send the record's whole history next time.
    Resend,
    /// Accepted; the merged record needs review (e.g. two valid edits merged into an invalid
    /// session). Informational.
    Flagged,
    /// The record was erased on the server and must be purged from the device.
    Erased,
    /// A coordinator or admin released a change of this device's that was quarantined: the
    /// value or changes are now in the record (they come back through the log). Sent once.
    Released,
    /// A coordinator or admin discarded a change of this device's that was quarantined; the
    /// message gives the reason. It stays in the server's quarantine, never deleted. Sent once.
    Discarded,
}

/// A report about one pushed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReport {
    /// The record.
    pub id: Uuid,
    /// What happened.
    pub kind: ReportKind,
    /// Machine-readable code (e.g. `foreign_actor`, `not_allowed`, `invalid_value`).
    pub code: String,
    /// The field concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A message for the person holding the device.
    pub message: String,
}

/// What the server sends for one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullData {
    /// Changes to apply (the device may already have some; applying twice is harmless).
    Changes(Vec<serde_bytes::ByteBuf>),
    /// The whole document, compacted: replaces nothing, merges into whatever the device has.
    Snapshot(serde_bytes::ByteBuf),
}

/// One record the device should merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPull {
    /// The record's id.
    pub id: Uuid,
    /// Its kind.
    pub kind: RecordKind,
    /// Its project.
    pub project: String,
    /// The data.
    pub data: PullData,
}

/// The server's sync response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Pushed records that were NOT stored (refused, or to be resent: see `reports`). Every
    /// other record in the request was durably stored before this response was sent, including
    /// quarantined and flagged ones. Naming the exceptions rather than the successes keeps the
    /// common answer tiny.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unacked: Vec<Uuid>,
    /// Reports about pushed records that were not a plain success.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<RecordReport>,
    /// Records the device lacks changes for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordPull>,
    /// Ids the device must purge (erased on the server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<Uuid>,
    /// Records the device may no longer hold (a story made `private` by someone else): it
    /// deletes its copy, as after an erasure, though the server keeps the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawn: Vec<Uuid>,
    /// Records the server has rewritten as new documents (a participant whose direct
    /// identifiers moved to a contact record): the device deletes its copy, history and all,
    /// before merging the records of this answer; the server's copy follows, in this answer or a
    /// later page, if the device may hold it. Changes the device made to its copy and pushed
    /// have been carried over by the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<Uuid>,
    /// The device's new position.
    pub cursor: Cursor,
    /// True if the server has more for the device: sync again straight away.
    pub more: bool,
    /// The server's clock (Unix seconds), so devices can show how wrong theirs is.
    pub server_time: i64,
    /// The project set-up (sites, activities, instrument wording), sent only when it differs
    /// from the version named in the request. It replaces whatever set-up the device held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<Setup>,
    /// True when the request's cursor belongs to another generation of the server's database
    /// (it was restored from a backup since the device last synced): the server may have lost
    /// changes it had acknowledged. The device must treat every record holding changes of its
    /// own as unacknowledged and push them again at once (docs/protocol.md, section 9.6).
    /// Omitted when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reconcile: bool,
}

/// The set-up of every project a device syncs: what forms offer offline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// An opaque version of this content (a hash): the device sends it back in
    /// [`SyncRequest::setup`]. Empty when there is no set-up at all.
    pub version: String,
    /// One entry per project, in slug order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<ProjectSetup>,
    /// The device user's role in each of their projects (project slug to `admin`,
    /// `coordinator`, `researcher`, `peer_worker` or `analyst`), so the device refuses at
    /// capture what its role may not record ([`crate::roles`]). `version` covers it, so a change
    /// of role reaches the device at its next sync. Absent (from a server that predates it):
    /// the device keeps the roles it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<std::collections::BTreeMap<String, String>>,
}

/// One project's set-up. Archived sites and activities are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectSetup {
    /// The project's slug.
    pub project: String,
    /// Its sites, in slug order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<SetupSite>,
    /// Its activities, in slug order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<SetupActivity>,
    /// The instrument wording that applies to it (the project's own, else the server-wide).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instruments: Vec<InstrumentWording>,
    /// The project's own instrument definitions, every version, by id then version: devices
    /// show their forms, and check and score their responses, offline
    /// ([`crate::instrument::define`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub definitions: Vec<crate::instrument::Definition>,
    /// The project's follow-up schedule, in order: when each questionnaire after baseline is
    /// due, in weeks after the participant's baseline or in sessions attended
    /// ([`crate::followup`]). Empty: no schedule. Devices that predate it ignore it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followups: Vec<FollowUp>,
}

/// A site where sessions take place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupSite {
    /// Its slug (what a session's `site` holds).
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// An activity sessions are logged under.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupActivity {
    /// Its slug (what a session's `activity` holds).
    pub slug: String,
    /// Its name.
    pub name: String,
    /// Its activity type (one of the schema's).
    pub activity_type: String,
    /// The site it usually takes place at, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

/// The wording of an instrument in one language, as supplied by the deploying organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentWording {
    /// `WEMWBS`, `SWEMWBS` or `ONS4`.
    pub instrument: String,
    /// The language (e.g. `en`).
    pub language: String,
    /// The licence under which the wording is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    /// Increases every time this wording is replaced.
    pub version: u32,
    /// Item number to item text.
    pub items: std::collections::BTreeMap<u8, String>,
    /// Answer value to its label.
    pub responses: std::collections::BTreeMap<i64, String>,
}

/// Why a message could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// Fewer bytes than a header.
    #[error("the message is truncated: {0} bytes is shorter than the 8-byte header")]
    Truncated(usize),
    /// The bytes do not start with `BTHY`.
    #[error("not a Bothy sync message (bad magic bytes)")]
    BadMagic,
    /// A version this build does not speak.
    #[error("protocol version {got} is not supported; this side speaks versions {min} to {max}")]
    UnsupportedVersion {
        /// The version received.
        got: u16,
        /// The oldest accepted.
        min: u16,
        /// The newest accepted.
        max: u16,
    },
    /// An unknown body encoding.
    #[error("unknown body encoding {0}")]
    UnknownEncoding(u8),
    /// The body decompresses to more than the limit.
    #[error("the message body is larger than {MAX_DECODED_BYTES} bytes when decompressed")]
    TooLarge,
    /// The body is not valid compressed CBOR of the expected message.
    #[error("the message body is corrupt: {0}")]
    Corrupt(String),
}

/// Encodes a message with the current protocol version and the default (Brotli) encoding.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    encode_with(msg, PROTOCOL_VERSION, ENCODING_BROTLI)
}

/// Encodes a message with a given version header and body encoding, compressing as hard as a
/// request deserves (see [`encode_response`] for a server's answers).
pub fn encode_with<T: Serialize>(msg: &T, version: u16, encoding: u8) -> Vec<u8> {
    encode_as(msg, version, encoding, Sender::Request)
}

/// Encodes a server's answer in the request's version and body encoding.
pub fn encode_response<T: Serialize>(msg: &T, version: u16, encoding: u8) -> Vec<u8> {
    encode_as(msg, version, encoding, Sender::Response)
}

/// Which side a body is compressed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    Request,
    Response,
}

fn encode_as<T: Serialize>(msg: &T, version: u16, encoding: u8, sender: Sender) -> Vec<u8> {
    let mut cbor = Vec::new();
    ciborium::into_writer(msg, &mut cbor).expect("serialising to memory cannot fail");
    let mut out = Vec::with_capacity(cbor.len() / 2 + HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_be_bytes());
    if encoding == ENCODING_DEFLATE {
        out.push(ENCODING_DEFLATE);
        out.push(0);
        DeflateEncoder::new(cbor.as_slice(), deflate_level(cbor.len(), sender))
            .read_to_end(&mut out)
            .expect("compressing in memory cannot fail");
    } else {
        out.push(ENCODING_BROTLI);
        out.push(0);
        let (quality, lgwin) = brotli_params(cbor.len(), sender);
        let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, lgwin);
        std::io::Write::write_all(&mut w, &cbor).expect("compressing in memory cannot fail");
        drop(w);
    }
    out
}

/// The DEFLATE level for a body of `len` bytes of CBOR. A request is compressed once, on a
/// phone that may be on a weak link: best compression. A server answers every sync, so its
/// responses use level 5, past which a level costs more than a millisecond of CPU per
/// kilobyte it saves (docs/benchmarks.md, "Sync body compression: cost per byte saved").
fn deflate_level(_len: usize, sender: Sender) -> Compression {
    match sender {
        Sender::Request => Compression::best(),
        Sender::Response => Compression::new(5),
    }
}

/// The Brotli quality and window (`lgwin`) for a body of `len` bytes of CBOR.
///
/// Requests: quality 11 below 256 KiB (a field day's push: about 10% smaller than quality 9),
/// 9 below 2 MiB, 5 above, with a 22-bit window. Responses, the server's hot path: quality 5,
/// past which a quality costs more than a millisecond of CPU per kilobyte it saves (quality 11
/// saves 5-15% for 20 to 200 times the time), and quality 1 below 128 bytes (an empty answer,
/// the commonest), where every quality makes the same bytes and quality 1 is the quickest; the
/// window is the smallest that holds the body (at least 18 bits, below which qualities 5 to 9
/// turn slow), which makes the same bytes with less memory and a little less time.
fn brotli_params(len: usize, sender: Sender) -> (u32, u32) {
    match sender {
        Sender::Request => {
            let quality = match len {
                0..=262_143 => 11,
                262_144..=2_097_151 => 9,
                _ => 5,
            };
            (quality, 22)
        }
        Sender::Response => {
            let quality = if len < 128 { 1 } else { 5 };
            // Brotli's window holds 2^lgwin - 16 bytes.
            let lgwin = (usize::BITS - (len + 16).leading_zeros()).clamp(18, 22);
            (quality, lgwin)
        }
    }
}

/// The body encoding named in a message header (check the header with [`peek_version`] first).
pub fn peek_encoding(bytes: &[u8]) -> u8 {
    bytes.get(6).copied().unwrap_or(0)
}

/// Reads the version from a message header, checking magic and supported range.
pub fn peek_version(bytes: &[u8]) -> Result<u16, ProtocolError> {
    if bytes.len() < HEADER_LEN {
        return Err(ProtocolError::Truncated(bytes.len()));
    }
    if &bytes[..4] != MAGIC {
        return Err(ProtocolError::BadMagic);
    }
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
        return Err(ProtocolError::UnsupportedVersion {
            got: version,
            min: MIN_PROTOCOL_VERSION,
            max: PROTOCOL_VERSION,
        });
    }
    Ok(version)
}

/// Decodes a message, returning it with the version it was sent in.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<(T, u16), ProtocolError> {
    let version = peek_version(bytes)?;
    let body = &bytes[HEADER_LEN..];
    let mut cbor = Vec::new();
    let read = match bytes[6] {
        ENCODING_DEFLATE => DeflateDecoder::new(body)
            .take(MAX_DECODED_BYTES + 1)
            .read_to_end(&mut cbor),
        ENCODING_BROTLI => brotli::Decompressor::new(body, 64 * 1024)
            .take(MAX_DECODED_BYTES + 1)
            .read_to_end(&mut cbor),
        other => return Err(ProtocolError::UnknownEncoding(other)),
    };
    read.map_err(|e| ProtocolError::Corrupt(format!("decompression failed: {e}")))?;
    if cbor.len() as u64 > MAX_DECODED_BYTES {
        return Err(ProtocolError::TooLarge);
    }
    if let Some((tag, at)) = first_tag(&cbor) {
        return Err(ProtocolError::Corrupt(format!(
            "CBOR tag {tag} at byte {at} of the body: sync messages carry no tags"
        )));
    }
    let msg = ciborium::from_reader(cbor.as_slice())
        .map_err(|e| ProtocolError::Corrupt(e.to_string()))?;
    Ok((msg, version))
}

/// Reads a UUID in its one wire form: a byte string of exactly 16 bytes. (The `uuid` crate
/// would also take an array of 16 integers, a second spelling of the same id.) A
/// human-readable format (JSON, in which a device keeps its cursor between syncs) writes a
/// UUID as text, and is read as text; CBOR, the wire, never is.
fn wire_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
    if d.is_human_readable() {
        return Uuid::deserialize(d);
    }
    struct WireId;
    impl serde::de::Visitor<'_> for WireId {
        type Value = Uuid;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a UUID as a byte string of 16 bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Uuid, E> {
            Uuid::from_slice(v).map_err(|_| E::invalid_length(v.len(), &self))
        }
    }
    // `deserialize_any`, so that text or an array is refused by name rather than read.
    d.deserialize_any(WireId)
}

/// The first CBOR tag (major type 6) in a CBOR item sequence, with its byte offset, if any.
/// Sync messages carry no tags (docs/protocol.md, section 5): a receiver refuses a message
/// with one rather than guess what the tag was meant to change. Scans item heads only, skipping
/// the contents of byte and text strings; malformed CBOR is left for the decoder to report.
fn first_tag(cbor: &[u8]) -> Option<(u64, usize)> {
    let mut at = 0usize;
    while at < cbor.len() {
        let head = cbor[at];
        let (major, info) = (head >> 5, head & 0x1f);
        let extra = match info {
            0..=23 => 0,
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => 0, // indefinite length, or a break
            _ => return None,
        };
        let arg_bytes = cbor.get(at + 1..at + 1 + extra)?;
        let arg = if extra == 0 {
            u64::from(info)
        } else {
            arg_bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))
        };
        if major == 6 {
            return Some((arg, at));
        }
        at += 1 + extra;
        // A definite byte or text string: skip its contents. (Floats and simple values are
        // wholly in their head; arrays and maps are followed by their items' heads.)
        if (major == 2 || major == 3) && info != 31 {
            at = at.checked_add(usize::try_from(arg).ok()?)?;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_kept_as_json_reads_back_with_its_snapshot_position() {
        // A device keeps its cursor as JSON between syncs; one taken mid-bootstrap must read
        // back as it was, or the bootstrap starts again from the first page at every request.
        let cursor = Cursor {
            seq: 0,
            snapshot: Some(SnapshotCursor {
                at: 46_800,
                after: Uuid::parse_str("72191f69-4c19-4aae-8029-c461483ed5d1").unwrap(),
            }),
            scope: 3_672_722_536,
            generation: Some(Uuid::new_v4()),
        };
        let json = serde_json::to_string(&cursor).unwrap();
        let back: Cursor = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cursor);
        // On the wire the id is still only ever a 16-byte string: text is refused.
        let mut cbor = Vec::new();
        ciborium::into_writer(
            &serde_json::json!({"at": 1, "after": "72191f69-4c19-4aae-8029-c461483ed5d1"}),
            &mut cbor,
        )
        .unwrap();
        assert!(ciborium::from_reader::<SnapshotCursor, _>(cbor.as_slice()).is_err());
    }

    fn sample() -> SyncRequest {
        SyncRequest {
            cursor: Cursor {
                seq: 42,
                snapshot: None,
                scope: 7,
                generation: None,
            },
            push: vec![RecordPush {
                id: Uuid::now_v7(),
                changes: vec![serde_bytes::ByteBuf::from(vec![1, 2, 3])],
                document: None,
            }],
            app: Some("test/1".into()),
            pending: Some(5),
            setup: Some("v1".into()),
        }
    }

    #[test]
    fn round_trip_in_both_encodings() {
        let req = sample();
        for encoding in [ENCODING_BROTLI, ENCODING_DEFLATE] {
            let bytes = encode_with(&req, PROTOCOL_VERSION, encoding);
            assert_eq!(peek_encoding(&bytes), encoding);
            let (back, v): (SyncRequest, u16) = decode(&bytes).unwrap();
            assert_eq!(back, req);
            assert_eq!(v, PROTOCOL_VERSION);
        }
        let mut unknown = encode(&req);
        unknown[6] = 9;
        assert_eq!(
            decode::<SyncRequest>(&unknown).unwrap_err(),
            ProtocolError::UnknownEncoding(9)
        );
    }

    /// A response whose CBOR is about `len` bytes: records whose changes are text-like bytes
    /// (words from a small vocabulary, as in notes and stories) and a random id each.
    fn response_of_about(len: usize) -> SyncResponse {
        const WORDS: [&str; 12] = [
            "the ", "walk ", "to ", "broch ", "rain ", "held ", "off ", "we ", "sang ", "at ",
            "hall ", "tea ",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut records = Vec::new();
        let mut size = 80;
        while size < len {
            let mut change = Vec::new();
            while change.len() < 600.min(len - size + 1) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                change.extend_from_slice(WORDS[(seed >> 60) as usize % WORDS.len()].as_bytes());
            }
            size += change.len() + 60;
            records.push(RecordPull {
                id: Uuid::new_v4(),
                kind: RecordKind::Story,
                project: "highland-heritage".into(),
                data: PullData::Changes(vec![serde_bytes::ByteBuf::from(change)]),
            });
        }
        SyncResponse {
            records,
            cursor: Cursor {
                seq: 48_213,
                ..Cursor::default()
            },
            server_time: 1_793_527_200,
            ..SyncResponse::default()
        }
    }

    #[test]
    fn every_size_class_round_trips_as_request_and_response_in_both_encodings() {
        // Each class of both rules: an empty answer (under 128 bytes), a small answer, a field
        // day's size, past 256 KiB and past 2 MiB (the request's quality steps).
        for len in [0, 300, 12_000, 300_000, 2_200_000] {
            let msg = response_of_about(len);
            let mut cbor = Vec::new();
            ciborium::into_writer(&msg, &mut cbor).unwrap();
            assert!(
                cbor.len() >= len && cbor.len() <= len + len / 8 + 700,
                "{} bytes of CBOR for {len}",
                cbor.len()
            );
            for encoding in [ENCODING_BROTLI, ENCODING_DEFLATE] {
                let request = encode_with(&msg, PROTOCOL_VERSION, encoding);
                let response = encode_response(&msg, PROTOCOL_VERSION, encoding);
                for (what, bytes) in [("request", &request), ("response", &response)] {
                    assert_eq!(peek_encoding(bytes), encoding, "{what} of {len}");
                    let (back, v): (SyncResponse, u16) = decode(bytes).unwrap();
                    assert_eq!(back, msg, "{what} of {len} in encoding {encoding}");
                    assert_eq!(v, PROTOCOL_VERSION);
                    if len >= 12_000 {
                        assert!(
                            bytes.len() < cbor.len() / 3,
                            "{what} of {len} in encoding {encoding}: {} bytes",
                            bytes.len()
                        );
                    }
                }
                // A request is compressed at least as hard as a response.
                assert!(
                    request.len() <= response.len() + 8,
                    "{len} in encoding {encoding}: request {}, response {}",
                    request.len(),
                    response.len()
                );
            }
        }
        // `encode` is the request's Brotli.
        let msg = response_of_about(12_000);
        assert_eq!(
            encode(&msg),
            encode_with(&msg, PROTOCOL_VERSION, ENCODING_BROTLI)
        );
    }

    #[test]
    fn compression_settings_follow_the_size_rules() {
        use Sender::{Request, Response};
        for (len, request, response) in [
            (0, (11, 22), (1, 18)),
            (127, (11, 22), (1, 18)),
            (128, (11, 22), (5, 18)),
            (12_000, (11, 22), (5, 18)),
            (262_127, (11, 22), (5, 18)),
            (262_128, (11, 22), (5, 19)),
            (262_144, (9, 22), (5, 19)),
            (1_048_560, (9, 22), (5, 21)),
            (2_097_151, (9, 22), (5, 22)),
            (2_097_152, (5, 22), (5, 22)),
            (64 << 20, (5, 22), (5, 22)),
        ] {
            assert_eq!(brotli_params(len, Request), request, "request of {len}");
            assert_eq!(brotli_params(len, Response), response, "response of {len}");
            // A response's window holds the whole body, up to Brotli's largest (22 bits).
            let lgwin = response.1;
            assert!(
                (1usize << lgwin) - 16 >= len || lgwin == 22,
                "window {lgwin} for {len}"
            );
        }
        assert_eq!(deflate_level(10, Request), Compression::best());
        assert_eq!(deflate_level(10, Response), Compression::new(5));
        // The Brotli stream says its window in its first bits (RFC 7932, section 9.1): 18 bits
        // for a small response ("0011"), 22 for a request ("1011").
        let msg = response_of_about(12_000);
        let response = encode_response(&msg, PROTOCOL_VERSION, ENCODING_BROTLI);
        let request = encode_with(&msg, PROTOCOL_VERSION, ENCODING_BROTLI);
        assert_eq!(response[HEADER_LEN] & 0x0f, 0b0011);
        assert_eq!(request[HEADER_LEN] & 0x0f, 0b1011);
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        let good = encode(&sample());
        assert_eq!(
            decode::<SyncRequest>(&good[..3]).unwrap_err(),
            ProtocolError::Truncated(3)
        );
        assert_eq!(
            decode::<SyncRequest>(b"GARBAGE!!!").unwrap_err(),
            ProtocolError::BadMagic
        );
        let mut wrong = good.clone();
        wrong[5] = 99;
        assert!(matches!(
            decode::<SyncRequest>(&wrong).unwrap_err(),
            ProtocolError::UnsupportedVersion { got: 99, .. }
        ));
        for cut in [9, good.len() / 2, good.len() - 1] {
            assert!(decode::<SyncRequest>(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = good.clone();
        for b in flipped[8..].iter_mut() {
            *b ^= 0x5a;
        }
        assert!(decode::<SyncRequest>(&flipped).is_err());
    }

    /// A request whose only pushed record has `id`, built as generic CBOR.
    fn push_with_id(id: ciborium::Value) -> Vec<u8> {
        use ciborium::Value;
        let request = Value::Map(vec![
            (
                Value::Text("cursor".into()),
                Value::Map(vec![(Value::Text("seq".into()), Value::Integer(0.into()))]),
            ),
            (
                Value::Text("push".into()),
                Value::Array(vec![Value::Map(vec![(Value::Text("id".into()), id)])]),
            ),
        ]);
        encode(&request)
    }

    #[test]
    fn non_canonical_ids_are_refused() {
        use ciborium::Value;
        let id = Uuid::now_v7();
        let (ok, _): (SyncRequest, u16) =
            decode(&push_with_id(Value::Bytes(id.as_bytes().to_vec()))).unwrap();
        assert_eq!(ok.push[0].id, id);
        let text = id.to_string();
        for (what, bad) in [
            ("text", Value::Text(text.clone())),
            ("upper-case text", Value::Text(text.to_uppercase())),
            ("text without hyphens", Value::Text(text.replace('-', ""))),
            (
                "an array of 16 integers",
                Value::Array(
                    id.as_bytes()
                        .iter()
                        .map(|b| Value::Integer((*b).into()))
                        .collect(),
                ),
            ),
            ("15 bytes", Value::Bytes(id.as_bytes()[..15].to_vec())),
        ] {
            match decode::<SyncRequest>(&push_with_id(bad)) {
                Err(ProtocolError::Corrupt(m)) => {
                    assert!(m.contains("byte string of 16 bytes"), "{what}: {m}")
                }
                other => panic!("{what} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn cbor_tags_are_refused() {
        use ciborium::Value;
        let id = Uuid::now_v7();
        // Tag 37 (a UUID) around the id's bytes: readable, but not the one form.
        let tagged = push_with_id(Value::Tag(
            37,
            Box::new(Value::Bytes(id.as_bytes().to_vec())),
        ));
        match decode::<SyncRequest>(&tagged) {
            Err(ProtocolError::Corrupt(m)) => {
                assert!(m.contains("CBOR tag 37") && m.contains("no tags"), "{m}")
            }
            other => panic!("a tag was not refused: {other:?}"),
        }
        // Bytes that look like tag heads inside a byte string are content, not tags.
        let mut req = sample();
        req.push[0].changes = vec![serde_bytes::ByteBuf::from(vec![
            0xd8, 0x25, 0xc0, 0xdb, 0xff,
        ])];
        req.push[0].document = Some(serde_bytes::ByteBuf::from(vec![0xc6; 40]));
        req.app = Some("\u{c6}\u{d8}".into());
        let (back, _): (SyncRequest, u16) = decode(&encode(&req)).unwrap();
        assert_eq!(back, req);
        assert_eq!(first_tag(&[0x82, 0x01, 0xc1, 0x01]), Some((1, 2)));
        assert_eq!(
            first_tag(&[0x5f, 0x41, 0xc6, 0xff, 0xd9, 0x01, 0x00]),
            Some((256, 4))
        );
        assert_eq!(
            first_tag(&[0xfb, 0xc6, 0xc6, 0xc6, 0xc6, 0xc6, 0xc6, 0xc6, 0xc6]),
            None
        );
    }

    #[test]
    fn compression_bomb_is_refused() {
        // 300 MiB of zeros compresses to well under a megabyte.
        let mut body = Vec::new();
        let zeros = std::io::repeat(0).take(MAX_DECODED_BYTES + 1024);
        DeflateEncoder::new(zeros, Compression::fast())
            .read_to_end(&mut body)
            .unwrap();
        let mut msg = b"BTHY\x00\x01\x01\x00".to_vec();
        msg.extend_from_slice(&body);
        assert_eq!(
            decode::<SyncRequest>(&msg).unwrap_err(),
            ProtocolError::TooLarge
        );
    }

    #[test]
    fn cursor_generation_is_16_bytes_on_the_wire_and_text_in_json() {
        let generation = Uuid::parse_str("0192f0c4-5e6a-7b3c-8d9e-0123456789ab").unwrap();
        let cursor = Cursor {
            seq: 3,
            generation: Some(generation),
            ..Cursor::default()
        };
        let mut cbor = Vec::new();
        ciborium::into_writer(&cursor, &mut cbor).unwrap();
        // "generation" followed by a 16-byte byte string (0x50) holding the id.
        let mut expected = b"jgeneration".to_vec();
        expected.push(0x50);
        expected.extend_from_slice(generation.as_bytes());
        assert!(
            cbor.windows(expected.len()).any(|w| w == expected),
            "{cbor:02x?}"
        );
        let back: Cursor = ciborium::from_reader(cbor.as_slice()).unwrap();
        assert_eq!(back, cursor);
        let json = serde_json::to_string(&cursor).unwrap();
        assert_eq!(serde_json::from_str::<Cursor>(&json).unwrap(), cursor);
        // A cursor without it (from a server or device that predates it) still reads.
        let old: Cursor = serde_json::from_str(r#"{"seq":3}"#).unwrap();
        assert_eq!(old.generation, None);
        // Fifteen bytes are refused by name.
        let mut short = Vec::new();
        let value = ciborium::Value::Map(vec![
            ("seq".into(), 1.into()),
            ("generation".into(), ciborium::Value::Bytes(vec![0u8; 15])),
        ]);
        ciborium::into_writer(&value, &mut short).unwrap();
        let err = ciborium::from_reader::<Cursor, _>(short.as_slice()).unwrap_err();
        assert!(err.to_string().contains("generation id"), "{err}");
    }

    #[test]
    fn a_follow_up_schedule_travels_in_the_setup_and_old_devices_ignore_it() {
        let setup = Setup {
            version: "v2".into(),
            projects: vec![ProjectSetup {
                project: "p".into(),
                followups: vec![FollowUp::weeks("interim", 8), FollowUp::sessions("end", 10)],
                ..ProjectSetup::default()
            }],
            roles: None,
        };
        let response = SyncResponse {
            setup: Some(setup.clone()),
            ..SyncResponse::default()
        };
        let (back, _): (SyncResponse, u16) = decode(&encode(&response)).unwrap();
        assert_eq!(back.setup, Some(setup.clone()));
        let json = serde_json::to_value(&setup.projects[0]).unwrap();
        assert_eq!(
            json["followups"],
            serde_json::json!([
                {"timepoint": "interim", "after_weeks": 8},
                {"timepoint": "end", "after_sessions": 10}
            ])
        );
        // No schedule: the field is left out, as servers that predate it send.
        let none = serde_json::to_value(ProjectSetup {
            project: "p".into(),
            ..ProjectSetup::default()
        })
        .unwrap();
        assert!(none.get("followups").is_none(), "{none}");
        // A device that predates the field reads a set-up holding it.
        #[derive(Deserialize)]
        struct OldProjectSetup {
            project: String,
        }
        let old: OldProjectSetup = serde_json::from_value(json).unwrap();
        assert_eq!(old.project, "p");
    }
}
