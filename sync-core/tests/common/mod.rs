//! Fixtures shared by the integration tests: actors, valid records of each kind, and small
//! helpers to move changes between replicas the way the sync protocol does.

#![allow(dead_code)]

use bothy_sync_core::automerge::{ActorId, Change, ChangeHash, ObjId, ReadDoc};
use bothy_sync_core::merge::MergePolicy;
use bothy_sync_core::{FieldError, FieldValue, RecordDoc, RecordError, RecordKind};

pub const PROJECT: &str = "highland-heritage";
/// 2026-11-01T10:00:00Z, the device clock at creation in most tests.
pub const T0: i64 = 1_793_527_200;

/// A device actor, distinct for each `n`.
pub fn device(n: u8) -> ActorId {
    ActorId::from([n; 16])
}

/// A participant id (stable for each `n`, a valid UUID).
pub fn participant(n: u8) -> String {
    bothy_sync_core::uuid::Uuid::from_bytes([n; 16]).to_string()
}

pub fn session_fields() -> Vec<(&'static str, FieldValue)> {
    vec![
        ("site", "ullapool-hall".into()),
        ("activity", "heritage-crafts".into()),
        ("activity_type", "heritage".into()),
        ("start", "2026-11-01T10:00:00Z".into()),
        ("end", "2026-11-01T12:00:00Z".into()),
        ("location", "Village hall, back room".into()),
        ("facilitators.morag", true.into()),
        ("notes", "Wet day; six came by bus.".into()),
    ]
}

pub fn session(actor: ActorId) -> RecordDoc {
    RecordDoc::create(actor, RecordKind::Session, PROJECT, &session_fields(), T0).unwrap()
}

/// WEMWBS fields with the given answers for items 1..=answers.len() (item n gets answers[n-1];
/// a `None` leaves the item unanswered).
pub fn wemwbs_fields(answers: &[Option<i64>]) -> Vec<(String, FieldValue)> {
    let mut f: Vec<(String, FieldValue)> = vec![
        ("participant".into(), participant(1).into()),
        ("instrument".into(), "WEMWBS".into()),
        ("timepoint".into(), "baseline".into()),
        ("date".into(), "2026-11-01".into()),
    ];
    for (i, a) in answers.iter().enumerate() {
        if let Some(v) = a {
            f.push((format!("items.{}", i + 1), (*v).into()));
        }
    }
    f
}

pub fn create_with(
    actor: ActorId,
    kind: RecordKind,
    fields: &[(String, FieldValue)],
) -> Result<RecordDoc, RecordError> {
    let borrowed: Vec<(&str, FieldValue)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    RecordDoc::create(actor, kind, PROJECT, &borrowed, T0)
}

/// A complete WEMWBS response, every item answered 3.
pub fn wemwbs(actor: ActorId) -> RecordDoc {
    create_with(actor, RecordKind::Wellbeing, &wemwbs_fields(&[Some(3); 14])).unwrap()
}

pub fn story_fields() -> Vec<(&'static str, FieldValue)> {
    vec![
        ("title", "The walk to the broch".into()),
        ("body", "We set off late.\n\nThe rain held off.".into()),
        ("author", "peer worker A".into()),
        ("consent_scope", "project".into()),
        ("themes.belonging", true.into()),
        ("language", "en-GB".into()),
    ]
}

pub fn story(actor: ActorId) -> RecordDoc {
    RecordDoc::create(actor, RecordKind::Story, PROJECT, &story_fields(), T0).unwrap()
}

pub fn participant_fields() -> Vec<(&'static str, FieldValue)> {
    vec![
        ("code", "UL-A3-0001".into()),
        ("consent.data_use", true.into()),
        ("consent.story_sharing", false.into()),
        ("consent.date", "2026-10-30".into()),
        ("consent.version", "v2".into()),
        ("age_band", "65-74".into()),
        ("gender", "woman".into()),
        ("ethnic_group", "white".into()),
        ("imd_decile", 2i64.into()),
        ("rurality", "rural".into()),
        ("referral.source", "link_worker".into()),
        ("referral.date", "2026-10-20".into()),
    ]
}

/// A copy of `doc` (same history) that writes as `actor`.
pub fn replica(doc: &mut RecordDoc, actor: ActorId) -> RecordDoc {
    let mut fork = doc.automerge().fork();
    fork.set_actor(actor);
    RecordDoc::from_automerge(fork)
}

/// Gives `to` every change `from` has (plain Automerge merge, as a device does).
pub fn sync_into(to: &mut RecordDoc, from: &mut RecordDoc) {
    to.automerge().merge(from.automerge()).unwrap();
}

/// Merges both ways.
pub fn sync_both(a: &mut RecordDoc, b: &mut RecordDoc) {
    sync_into(a, b);
    sync_into(b, a);
}

/// Raw bytes of changes, as they travel in a push.
pub fn raw(changes: &[Change]) -> Vec<Vec<u8>> {
    changes.iter().map(|c| c.raw_bytes().to_vec()).collect()
}

/// The changes `doc` has since `heads`.
pub fn changes_since(doc: &mut RecordDoc, heads: &[ChangeHash]) -> Vec<Change> {
    doc.automerge().get_changes(heads)
}

pub fn policy(sender: ActorId) -> MergePolicy {
    MergePolicy {
        sender_actor: sender,
        compensating_actor: bothy_sync_core::server_actor(),
        now: T0 + 3600,
        relay: Default::default(),
    }
}

/// The field paths of a refusal, or a panic if it was not one.
pub fn invalid_fields<T: std::fmt::Debug>(r: Result<T, RecordError>) -> Vec<String> {
    match r {
        Err(RecordError::Invalid(errs)) => errs.into_iter().map(|e: FieldError| e.field).collect(),
        other => panic!("expected a refusal naming fields, got {other:?}"),
    }
}

/// The object id of a top-level map field (attendance, items...).
pub fn map_id(doc: &RecordDoc, field: &str) -> ObjId {
    match doc.automerge_ref().get(ObjId::Root, field).unwrap() {
        Some((_, id)) => id,
        None => panic!("record has no `{field}`"),
    }
}

pub fn sorted_heads(doc: &mut RecordDoc) -> Vec<ChangeHash> {
    let mut h = doc.heads();
    h.sort();
    h
}

/// Checks a file generated for another language is current, or (with
/// `BOTHY_WRITE_GENERATED=1`) writes it again. `test` names the test target that writes it.
pub fn generated_file_is_current(path: &std::path::Path, text: &str, test: &str) {
    if std::env::var_os("BOTHY_WRITE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: run `BOTHY_WRITE_GENERATED=1 cargo test -p bothy-sync-core --test {test}` \
         and commit it (and for files the web app bundles, rebuild it: `npm run build` in \
         clients/web)",
        path.display()
    );
}
