//! Review: true conflicts listed on devices and the server and resolved on either, converging
//! everywhere; quarantined values and refused records inspected, released or discarded with a
//! reason, the sending device told; every decision in the audit log.

use bothy_device::{Device, WellbeingForm};
use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, ROOT, ReadDoc};
use bothy_sync_core::protocol::{RecordPush, ReportKind, SyncRequest};
use bothy_sync_core::{Instrument, RecordDoc};
use bothy_tests::{Backend, Harness, device_heads, on_both_backends, server_heads};
use serde_json::{Value, json};
use uuid::Uuid;

on_both_backends!(conflicts_resolve_and_converge, quarantine_review);

const P: &str = "p";

async fn post(h: &Harness, path: &str, body: Value) -> (u16, Value) {
    let res = h
        .http
        .post(format!("{}{path}", h.url()))
        .bearer_auth(&h.admin_token)
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn sync_all(devices: &[&Device]) {
    for _ in 0..2 {
        for d in devices {
            d.sync().await.expect("sync");
        }
    }
}

/// Every replica holds the same changes of `id`, shows no conflict, and has `value` at `field`.
async fn converged(h: &Harness, devices: &[&Device], id: Uuid, item: &str, value: i64) {
    let server = h.record(P, id).await;
    let heads = server_heads(&server);
    assert!(
        server["conflicts"].as_array().unwrap().is_empty(),
        "{server}"
    );
    assert_eq!(server["record"]["items"][item], value, "{server}");
    for d in devices {
        assert_eq!(device_heads(d, id).await, heads);
        let details = d.get(id).await.unwrap();
        assert!(details.conflicts.is_empty(), "{:?}", details.conflicts);
        assert!(d.conflicts().await.unwrap().is_empty());
    }
    let listed = h.get(&format!("/api/v1/projects/{P}/conflicts")).await;
    assert_eq!(listed, json!([]));
    let row = h
        .sql(
            "SELECT items FROM wellbeing_responses WHERE id = $1",
            &[&id.to_string()],
        )
        .await;
    let items: Value = serde_json::from_str(row[0]["items"].as_str().unwrap()).unwrap();
    assert_eq!(items[item], value, "projection: {items}");
}

/// Two devices answer the same item differently while apart; both sync.
async fn make_conflict(a: &Device, b: &Device, id: Uuid, field: &str, (va, vb): (i64, i64)) {
    a.edit(id, |e| e.set(field, va)).await.unwrap();
    b.edit(id, |e| e.set(field, vb)).await.unwrap();
    sync_all(&[a, b]).await;
    for d in [a, b] {
        let listed = d.conflicts().await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].id, id);
        assert_eq!(listed[0].conflicts.len(), 1);
        let c = &listed[0].conflicts[0];
        assert_eq!(c.field, field);
        let mut values: Vec<&str> = c.values.iter().map(|v| v.value.as_str()).collect();
        values.sort();
        let mut want = vec![va.to_string(), vb.to_string()];
        want.sort();
        assert_eq!(values, want);
    }
}

async fn conflicts_resolve_and_converge(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    h.user("sam", P, "researcher").await;
    let a = h.device("ruth", "a").await;
    let b = h.device("sam", "b").await;
    let person = a
        .create_participant(None, &[("consent.data_use", true.into())])
        .await
        .unwrap();
    let id = a
        .record_wellbeing(&WellbeingForm {
            participant: person.id,
            instrument: Instrument::Wemwbs.to_string(),
            timepoint: "baseline".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            session: None,
            items: (1..=14u8).map(|i| (i, 3)).collect(),
        })
        .await
        .unwrap();
    sync_all(&[&a, &b]).await;

    // On the server: the conflict is listed with both values; an invalid choice is refused
    // naming the field; a valid one converges everywhere.
    make_conflict(&a, &b, id, "items.3", (2, 5)).await;
    let listed = h.get(&format!("/api/v1/projects/{P}/conflicts")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["field"], "items.3");
    let path = format!("/api/v1/projects/{P}/conflicts/resolve");
    let (status, body) = post(
        &h,
        &path,
        json!({"record_id": id, "field": "items.3", "value": 9}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("items.3"), "{body}");
    let (status, body) = post(
        &h,
        &path,
        json!({"record_id": id, "field": "items.3", "value": "4"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(
        &h,
        &path,
        json!({"record_id": id, "field": "items.3", "value": "4"}),
    )
    .await;
    assert_eq!(status, 409, "nothing left to resolve");
    sync_all(&[&a, &b]).await;
    converged(&h, &[&a, &b], id, "3", 4).await;

    // On a device, offline: choosing a value is an ordinary edit that supersedes both.
    make_conflict(&a, &b, id, "items.5", (1, 4)).await;
    let err = b.resolve_conflict(id, "items.5", "7").await.unwrap_err();
    assert!(err.to_string().contains("items.5"), "{err}");
    b.resolve_conflict(id, "items.5", "1").await.unwrap();
    assert!(b.conflicts().await.unwrap().is_empty());
    sync_all(&[&b, &a]).await;
    converged(&h, &[&a, &b], id, "5", 1).await;

    let actions = h
        .sql(
            "SELECT action, details FROM audit_log WHERE action = 'conflict.resolve'",
            &[],
        )
        .await;
    assert_eq!(actions.len(), 1, "{actions:?}");
    let details: Value = serde_json::from_str(actions[0]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["field"], "items.3");
    // No value reaches the audit log (values may be personal; the log cannot be erased).
    assert!(details.get("value").is_none(), "{details}");
    assert_eq!(details["replaced"], 2);
    h.finish().await;
}

const NOW: i64 = 1_793_000_000;

fn wemwbs(actor: &ActorId) -> RecordDoc {
    bothy_tests::wemwbs_doc(actor, P, &Uuid::now_v7().to_string(), NOW)
}

fn push(id: Uuid, doc: &mut RecordDoc) -> RecordPush {
    bothy_tests::push_history(id, doc)
}

async fn quarantine_review(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    h.user("cora", P, "coordinator").await;
    let cora = h.login("cora", "cora-password").await.unwrap();

    // (b) A crafted out-of-range answer is neutralised and quarantined.
    let (token, actor) = h.raw_device("ruth").await;
    let id = Uuid::now_v7();
    let mut doc = wemwbs(&actor);
    let items = doc.automerge_ref().get(ROOT, "items").unwrap().unwrap().1;
    doc.automerge().put(&items, "3", 12i64).unwrap();
    doc.automerge().commit();
    let response = h
        .sync_raw(
            &token,
            &SyncRequest {
                push: vec![push(id, &mut doc)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert_eq!(response.reports[0].kind, ReportKind::Quarantined);
    let list = h
        .get_as(&format!("/api/v1/projects/{P}/quarantine"), &cora)
        .await
        .unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["record_id"] == id.to_string())
        .expect("listed")
        .clone();
    assert_eq!(entry["action"], "compensated");
    assert_eq!(entry["field"], "items.3");
    let qid = entry["id"].as_i64().unwrap();
    let seen = h
        .get_as(&format!("/api/v1/projects/{P}/quarantine/{qid}"), &cora)
        .await
        .unwrap();
    assert_eq!(seen["status"], "open");
    assert_eq!(seen["username"], "ruth");
    let base = format!("/api/v1/projects/{P}/quarantine/{qid}");
    let (status, body) = post(&h, &format!("{base}/release"), json!({})).await;
    assert_eq!(status, 400, "a reason is required: {body}");
    let (status, body) = post(
        &h,
        &format!("{base}/release"),
        json!({"reason": "looks fine"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("fix it first"), "{body}");
    let ruth = h.login("ruth", "ruth-password").await.unwrap();
    let res = h
        .http
        .post(format!("{}{base}/discard", h.url()))
        .bearer_auth(&ruth)
        .json(&json!({"reason": "no"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        403,
        "researchers do not review quarantine"
    );
    let (status, body) = post(
        &h,
        &format!("{base}/discard"),
        json!({"reason": "answers only go up to 5"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "discarded");
    assert_eq!(body["decided_by"], "admin");
    let (status, _) = post(&h, &format!("{base}/discard"), json!({"reason": "again"})).await;
    assert_eq!(status, 409, "decided once");
    let next = h.sync_raw(&token, &SyncRequest::default()).await;
    let told: Vec<_> = next
        .reports
        .iter()
        .filter(|r| r.kind == ReportKind::Discarded)
        .collect();
    assert_eq!(told.len(), 1, "{:?}", next.reports);
    assert_eq!(told[0].id, id);
    assert!(told[0].message.contains("answers only go up to 5"));
    let again = h.sync_raw(&token, &SyncRequest::default()).await;
    assert!(again.reports.is_empty(), "told once: {:?}", again.reports);
    let kept = h
        .sql(
            "SELECT status FROM quarantine WHERE status = 'discarded'",
            &[],
        )
        .await;
    assert_eq!(kept.len(), 1, "the entry is kept");

    // (c) A device whose user lost the right to write questionnaires (made a peer worker, who
    // still records participants and sessions) pushes one: refused and kept. The admin grants
    // the role back and releases it; it reaches the server and other devices. (A user with no
    // writing role left in the project would have nothing kept: docs/security.md.)
    let d = h.device("ruth", "ruths-phone").await;
    let other = h.device("cora", "coras-phone").await;
    h.admin(
        &format!("/api/v1/admin/projects/{P}/members"),
        json!({"username": "ruth", "role": "peer_worker"}),
    )
    .await;
    let subject = d
        .create_participant(Some(P), &[("consent.data_use", true.into())])
        .await
        .unwrap();
    let response = d
        .record_wellbeing(&WellbeingForm {
            participant: subject.id,
            instrument: Instrument::Wemwbs.to_string(),
            timepoint: "baseline".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            session: None,
            items: (1..=14u8).map(|i| (i, 4)).collect(),
        })
        .await
        .unwrap();
    let out = d.sync().await.unwrap();
    assert!(
        out.reports
            .iter()
            .any(|r| r.id == response && r.kind == ReportKind::Refused),
        "{:?}",
        out.reports
    );
    let list = h.get(&format!("/api/v1/projects/{P}/quarantine")).await;
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["record_id"] == response.to_string())
        .expect("refused record listed")
        .clone();
    assert_eq!(entry["action"], "refused");
    let rid = entry["id"].as_i64().unwrap();
    let base = format!("/api/v1/projects/{P}/quarantine/{rid}");
    let seen = h.get(&base).await;
    assert_eq!(seen["changes"]["count"], 1, "{seen}");
    assert_eq!(seen["changes"]["project"], P, "{seen}");
    assert!(
        seen["changes"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["field"] == "timepoint" && v["value"] == "baseline"),
        "{seen}"
    );
    let (status, body) = post(&h, &format!("{base}/release"), json!({"reason": "ok"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("grant a role"), "{body}");
    h.admin(
        &format!("/api/v1/admin/projects/{P}/members"),
        json!({"username": "ruth", "role": "researcher"}),
    )
    .await;
    let (status, body) = post(
        &h,
        &format!("{base}/release"),
        json!({"reason": "ruth is back on the team"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "released");
    let server = h.record(P, response).await;
    sync_all(&[&d, &other]).await;
    for device in [&d, &other] {
        assert_eq!(device_heads(device, response).await, server_heads(&server));
    }
    let status = d.status().await.unwrap();
    assert!(
        status
            .recent_reports
            .iter()
            .any(|r| r.kind == "released" && r.record_id == response),
        "{:?}",
        status.recent_reports
    );

    // (d) Every decision is audited.
    let actions: Vec<String> = h
        .sql("SELECT action FROM audit_log ORDER BY id", &[])
        .await
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    for want in ["quarantine.discard", "quarantine.release"] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
    h.finish().await;
}
