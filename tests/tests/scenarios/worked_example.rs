//! The worked example of docs/protocol.md section 18, replayed against the real server as a
//! client written from the document alone would send it: the sizes the document states, and the
//! cursor (with its `scope`) that such a client must echo back unchanged.

use bothy_sync_core::automerge::ROOT;
use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::protocol::{self, Cursor, RecordPush, SyncRequest, SyncResponse};
use bothy_sync_core::{RecordDoc, RecordKind};
use bothy_tests::{Backend, Harness, on_both_backends};
use ciborium::Value;
use serde_bytes::ByteBuf;
use uuid::Uuid;

on_both_backends!(protocol_worked_example_cursor_carries_scope);

const PROJECT: &str = "highland-heritage";

/// The map keys of a CBOR map, in order.
fn keys(v: &Value) -> Vec<String> {
    v.as_map()
        .expect("a map")
        .iter()
        .map(|(k, _)| k.as_text().expect("text key").to_owned())
        .collect()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.as_map()
        .expect("a map")
        .iter()
        .find(|(k, _)| k.as_text() == Some(name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no `{name}` in {v:?}"))
}

/// The body of an answer as CBOR (the 8-byte header removed, Brotli undone).
fn cbor_of(answer: &[u8]) -> Value {
    let (v, _) = protocol::decode::<Value>(answer).expect("the answer decodes");
    v
}

async fn protocol_worked_example_cursor_carries_scope(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(PROJECT).await;
    h.user("ruth", PROJECT, "researcher").await;
    let (token, actor) = h.raw_device("ruth").await;
    let now = chrono::Utc::now().timestamp();

    // Request 1: a session made offline in two changes, sent as a saved document.
    let id = Uuid::now_v7();
    let mut session = RecordDoc::create(
        actor.clone(),
        RecordKind::Session,
        PROJECT,
        &[
            ("site", "strathpeffer-hall".into()),
            ("activity", "memory-café".into()),
            ("activity_type", "heritage".into()),
            ("start", "2026-11-01T10:00:00Z".into()),
        ],
        now,
    )
    .unwrap();
    let participant = Uuid::now_v7().to_string();
    session
        .edit(now, |e| {
            e.set(&format!("attendance.{participant}"), "present")
        })
        .unwrap();
    let request = SyncRequest {
        cursor: Cursor::default(),
        push: vec![RecordPush {
            id,
            changes: Vec::new(),
            document: Some(ByteBuf::from(session.automerge().save_nocompress())),
        }],
        app: Some("bothy-cli/0.1.0".into()),
        pending: None,
        setup: None,
    };
    let (status, answer) = h.post_sync(&token, protocol::encode(&request)).await;
    assert!(status.is_success(), "{status}");
    let body = cbor_of(&answer);
    // The cursor carries the position, the scope fingerprint and the database's generation
    // (16 bytes), and nothing else.
    let cursor = field(&body, "cursor");
    assert_eq!(keys(cursor), ["seq", "scope", "generation"], "{cursor:?}");
    assert_eq!(
        field(cursor, "generation").as_bytes().map(Vec::len),
        Some(16)
    );
    assert_eq!(field(cursor, "seq").as_integer(), Some(2.into()));
    assert_eq!(
        keys(&body),
        ["cursor", "more", "server_time", "setup"],
        "{body:?}"
    );
    // The set-up carries the user's role (nothing else is set up in this project).
    let setup = field(&body, "setup");
    assert_eq!(keys(setup), ["version", "roles"], "{setup:?}");
    assert_eq!(
        field(field(setup, "roles"), PROJECT).as_text(),
        Some("researcher")
    );
    // The size docs/protocol.md section 18 states for this answer.
    // The size docs/protocol.md section 18 states for this answer's CBOR (its Brotli form varies by
    // a few bytes with the clock).
    let mut cbor = Vec::new();
    ciborium::into_writer(&body, &mut cbor).unwrap();
    assert_eq!(cbor.len(), 144, "the worked example's first answer");
    let setup_version = field(setup, "version").as_text().unwrap().to_owned();

    // Echoed back unchanged (scope included), the cursor is a plain position: a sync with
    // nothing new brings nothing back.
    let echoed: Cursor = protocol::decode::<SyncResponse>(&answer).unwrap().0.cursor;
    let again = h
        .sync_raw(
            &token,
            &SyncRequest {
                cursor: echoed,
                push: Vec::new(),
                app: None,
                pending: None,
                setup: None,
            },
        )
        .await;
    assert!(again.records.is_empty(), "{again:?}");
    assert_eq!(again.cursor.seq, 2);
    // Without its scope (as a client that drops unknown fields would send it), the server
    // cannot tell what the position covers and starts the device again from snapshots.
    let stripped = Cursor {
        seq: echoed.seq,
        ..Cursor::default()
    };
    let rebooted = h
        .sync_raw(
            &token,
            &SyncRequest {
                cursor: stripped,
                push: Vec::new(),
                app: None,
                pending: None,
                setup: None,
            },
        )
        .await;
    assert_eq!(rebooted.records.len(), 1, "{rebooted:?}");

    // Request 2: an end before the start, pushed as one change past the acked heads.
    let acked = session.heads();
    session
        .automerge()
        .put(ROOT, "end", "2026-11-01T09:00:00Z")
        .unwrap();
    session.automerge().commit();
    let change = session.automerge().get_changes(&acked);
    assert_eq!(change.len(), 1);
    let request = SyncRequest {
        cursor: echoed,
        push: vec![RecordPush {
            id,
            changes: vec![ByteBuf::from(change[0].raw_bytes().to_vec())],
            document: None,
        }],
        app: Some("bothy-cli/0.1.0".into()),
        pending: None,
        setup: Some(setup_version),
    };
    let (status, answer) = h.post_sync(&token, protocol::encode(&request)).await;
    assert!(status.is_success(), "{status}");
    let body = cbor_of(&answer);
    let reports = field(&body, "reports").as_array().unwrap();
    assert_eq!(field(&reports[0], "kind").as_text(), Some("quarantined"));
    assert_eq!(field(&reports[0], "field").as_text(), Some("end"));
    // The device holds the set-up: it is not sent again.
    assert_eq!(
        keys(&body),
        ["reports", "records", "cursor", "more", "server_time"]
    );
    let cursor = field(&body, "cursor");
    assert_eq!(keys(cursor), ["seq", "scope", "generation"], "{cursor:?}");
    assert_eq!(field(cursor, "seq").as_integer(), Some(4.into()));
    h.finish().await;
}
