//! Ids have one text form, lower-case hyphenated UUIDs, everywhere: another spelling of a
//! participant's id must not count them twice. Records are crafted past the device's own
//! validation and pushed raw; ids in URLs are sent by hand.

use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc};
use bothy_sync_core::protocol::{self, ReportKind, SyncRequest};
use bothy_sync_core::{RecordDoc, RecordKind};
use bothy_tests::{Backend, Harness, on_both_backends, push_history};
use serde_json::Value;
use uuid::Uuid;

on_both_backends!(non_canonical_ids_are_refused);

const NOW: i64 = 1_793_000_000;

/// Pushes one record's whole history and returns the reports about it.
async fn push(
    h: &Harness,
    token: &str,
    id: Uuid,
    doc: &mut RecordDoc,
) -> Vec<protocol::RecordReport> {
    let response = h
        .sync_raw(
            token,
            &SyncRequest {
                push: vec![push_history(id, doc)],
                ..SyncRequest::default()
            },
        )
        .await;
    response
        .reports
        .into_iter()
        .filter(|r| r.id == id)
        .collect()
}

/// Writes `value` at `key` of the map field `map` (or at the root) without validation.
fn craft(doc: &mut RecordDoc, map: Option<&str>, key: &str, value: &str) {
    let obj = match map {
        Some(m) => doc.automerge_ref().get(ROOT, m).unwrap().unwrap().1,
        None => ObjId::Root,
    };
    let am = doc.automerge();
    am.put(&obj, key, value).unwrap();
    am.commit();
}

/// A JSON Lines export, one value per row.
async fn export(h: &Harness, dataset: &str) -> Vec<Value> {
    let res = h
        .http
        .get(format!(
            "{}/api/v1/projects/p/exports/{dataset}?format=jsonl",
            h.url()
        ))
        .bearer_auth(&h.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// GETs a path as the admin: (status, JSON body).
async fn get(h: &Harness, path: &str) -> (u16, Value) {
    let res = h
        .http
        .get(format!("{}{path}", h.url()))
        .bearer_auth(&h.admin_token)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

fn participant_record(actor: &ActorId) -> RecordDoc {
    RecordDoc::create(
        actor.clone(),
        RecordKind::Participant,
        "p",
        &[
            ("code", "AB12-0001".into()),
            ("consent.data_use", true.into()),
            ("consent.date", "2026-10-30".into()),
        ],
        NOW,
    )
    .unwrap()
}

async fn non_canonical_ids_are_refused(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    let (token, actor) = h.raw_device("ruth").await;

    let person = Uuid::now_v7();
    let upper = person.to_string().to_uppercase();
    let mut participant = participant_record(&actor);
    assert!(push(&h, &token, person, &mut participant).await.is_empty());

    // A session with the participant marked present, then a second mark under an upper-case
    // spelling of the same id: the second is taken out and reported, naming the entry.
    let session_id = Uuid::now_v7();
    let mut session = RecordDoc::create(
        actor.clone(),
        RecordKind::Session,
        "p",
        &[
            ("site", "hall".into()),
            ("activity", "crafts".into()),
            ("activity_type", "heritage".into()),
            ("start", "2026-11-01T10:00:00Z".into()),
            (format!("attendance.{person}").as_str(), "present".into()),
        ],
        NOW,
    )
    .unwrap();
    assert!(push(&h, &token, session_id, &mut session).await.is_empty());
    craft(&mut session, Some("attendance"), &upper, "present");
    let r = push(&h, &token, session_id, &mut session).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].kind, ReportKind::Quarantined);
    assert_eq!(r[0].code, "invalid_value");
    let field = format!("attendance.{upper}");
    assert_eq!(r[0].field.as_deref(), Some(field.as_str()));
    assert!(r[0].message.contains("lower case with hyphens"), "{r:?}");
    assert!(r[0].message.contains(&person.to_string()), "{r:?}");

    // The exports agree: one registered attendee, one attendance row.
    let sessions = export(&h, "sessions").await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["registered_attendees"], 1, "{sessions:?}");
    let attendance = export(&h, "attendance").await;
    assert_eq!(attendance.len(), 1, "{attendance:?}");
    assert_eq!(attendance[0]["participant_id"], person.to_string());

    // A reference to another record, respelled on a response the server holds: the last
    // valid reference is kept.
    let response_id = Uuid::now_v7();
    let mut response = bothy_tests::wemwbs_doc(&actor, "p", &person.to_string(), NOW);
    assert!(
        push(&h, &token, response_id, &mut response)
            .await
            .is_empty()
    );
    let no_hyphens = person.simple().to_string();
    craft(&mut response, None, "participant", &no_hyphens);
    let r = push(&h, &token, response_id, &mut response).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].kind, r[0].code.as_str(), r[0].field.as_deref()),
        (
            ReportKind::Quarantined,
            "invalid_value",
            Some("participant")
        )
    );
    let (status, v) = get(&h, &format!("/api/v1/projects/p/records/{response_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["record"]["participant"], person.to_string());

    // A new response that never had a valid participant is refused, and the message names
    // the field. The device refuses it at capture...
    let refused = RecordDoc::create(
        actor.clone(),
        RecordKind::Wellbeing,
        "p",
        &[
            ("participant", upper.as_str().into()),
            ("instrument", "SWEMWBS".into()),
            ("timepoint", "baseline".into()),
            ("date", "2026-11-01".into()),
        ],
        NOW,
    );
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().starts_with("participant:")),
        "{refused:?}"
    );
    // ...and the server refuses it crafted in one change.
    let bad_new = Uuid::now_v7();
    let mut fresh = AutoCommit::new().with_actor(actor.clone());
    for (k, v) in [
        ("kind", "wellbeing"),
        ("project", "p"),
        ("participant", upper.as_str()),
        ("instrument", "SWEMWBS"),
        ("timepoint", "baseline"),
        ("date", "2026-11-01"),
    ] {
        fresh.put(ROOT, k, v).unwrap();
    }
    fresh.put(ROOT, "v", 1i64).unwrap();
    fresh.put(ROOT, "created", NOW).unwrap();
    fresh.put_object(ROOT, "items", ObjType::Map).unwrap();
    fresh.commit();
    let response = h
        .sync_raw(
            &token,
            &SyncRequest {
                push: vec![protocol::RecordPush {
                    id: bad_new,
                    changes: Vec::new(),
                    document: Some(serde_bytes::ByteBuf::from(fresh.save())),
                }],
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(response.unacked.contains(&bad_new));
    let r: Vec<_> = response
        .reports
        .iter()
        .filter(|r| r.id == bad_new)
        .collect();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].kind, ReportKind::Refused);
    assert!(
        r[0].message.contains("participant: must be a record id"),
        "{r:?}"
    );

    // A record id on the wire is 16 bytes; as text (any spelling) or as an array the whole
    // request is refused, naming the problem, and nothing is stored.
    for id in [
        ciborium::Value::Text(Uuid::now_v7().to_string().to_uppercase()),
        ciborium::Value::Array(
            Uuid::now_v7()
                .as_bytes()
                .iter()
                .map(|b| ciborium::Value::Integer((*b).into()))
                .collect(),
        ),
        ciborium::Value::Tag(
            37,
            Box::new(ciborium::Value::Bytes(Uuid::now_v7().as_bytes().to_vec())),
        ),
    ] {
        let mut participant = participant_record(&actor);
        let changes: Vec<ciborium::Value> = participant
            .automerge()
            .get_changes(&[])
            .iter()
            .map(|c| ciborium::Value::Bytes(c.raw_bytes().to_vec()))
            .collect();
        let t = |s: &str| ciborium::Value::Text(s.into());
        let request = ciborium::Value::Map(vec![
            (
                t("cursor"),
                ciborium::Value::Map(vec![(t("seq"), ciborium::Value::Integer(0.into()))]),
            ),
            (
                t("push"),
                ciborium::Value::Array(vec![ciborium::Value::Map(vec![
                    (t("id"), id),
                    (t("changes"), ciborium::Value::Array(changes)),
                ])]),
            ),
        ]);
        let (status, body) = h.post_sync(&token, protocol::encode(&request)).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "malformed_sync_body", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("byte string of 16 bytes") || message.contains("CBOR tag 37"),
            "{message}"
        );
    }
    assert_eq!(export(&h, "participants").await.len(), 1);

    // Ids in URLs: another spelling is a 400 naming the id, not a 404.
    for path in [
        format!(
            "/api/v1/projects/p/records/{}",
            response_id.to_string().to_uppercase()
        ),
        format!(
            "/api/v1/projects/p/records/{}/history",
            response_id.simple()
        ),
        format!("/api/v1/projects/p/participants/{upper}/export"),
    ] {
        let (status, body) = get(&h, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_value", "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("lower case with hyphens"),
            "{path}: {body}"
        );
    }
    let (status, _) = get(&h, &format!("/api/v1/projects/p/records/{response_id}")).await;
    assert_eq!(status, 200);
    assert!(h.healthy().await);
    h.finish().await;
}
