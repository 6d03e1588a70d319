//! The role matrix of docs/security.md, cell by cell: every role (plus a non-member and the
//! server admin) against every endpoint and every sync scope, including attempts on another
//! project. Then a peer worker's crafted pushes (editing a story, moving a record) are refused
//! and quarantined while the rest of its sync is stored, and record histories name their
//! authors.
//!
//! Endpoints that change state are checked for authorization only: an allowed caller gets past
//! the role check (its answer is a success, or a 404/409 about the target, never 401/403), and
//! everyone else gets 403.

use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, ROOT};
use bothy_sync_core::protocol::{RecordPush, ReportKind, SyncRequest, SyncResponse};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

on_both_backends!(
    role_matrix,
    peer_worker_crafted_pushes_are_quarantined,
    history_on_a_device
);

const NOW: i64 = 1_793_000_000;
const ROLES: [&str; 5] = [
    "admin",
    "coordinator",
    "researcher",
    "peer_worker",
    "analyst",
];

fn new_record(actor: &ActorId, kind: RecordKind, project: &str) -> RecordDoc {
    let fields: Vec<(&str, FieldValue)> = match kind {
        RecordKind::Participant => vec![("code", "T-1".into()), ("consent.data_use", true.into())],
        RecordKind::Contact => vec![
            ("participant", Uuid::nil().to_string().into()),
            ("name", "Ann".into()),
        ],
        RecordKind::Session => vec![
            ("site", "hall".into()),
            ("activity", "choir".into()),
            ("activity_type", "choir".into()),
            ("start", "2026-11-01T10:00:00Z".into()),
        ],
        RecordKind::Wellbeing => {
            let mut f: Vec<(&str, FieldValue)> = vec![
                ("participant", Uuid::nil().to_string().into()),
                ("instrument", "SWEMWBS".into()),
                ("timepoint", "baseline".into()),
                ("date", "2026-11-01".into()),
            ];
            for item in [
                "items.1", "items.2", "items.3", "items.4", "items.5", "items.6", "items.7",
            ] {
                f.push((item, FieldValue::Int(3)));
            }
            f
        }
        RecordKind::Story => vec![
            ("title", "t".into()),
            ("author", "ruth".into()),
            ("consent_scope", "project".into()),
        ],
    };
    RecordDoc::create(actor.clone(), kind, project, &fields, NOW).unwrap()
}

fn push(id: Uuid, doc: &mut RecordDoc) -> RecordPush {
    bothy_tests::push_history(id, doc)
}

/// A request's status code (no body checks).
async fn status(h: &Harness, method: &str, path: &str, token: Option<&str>, body: Value) -> u16 {
    let url = format!("{}{path}", h.url());
    let mut req = match method {
        "GET" => h.http.get(url),
        other => h
            .http
            .request(other.parse().expect("an HTTP method"), url)
            .json(&body),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

struct Seeded {
    /// One record of each kind in project `p`.
    p: Vec<(RecordKind, Uuid, Vec<u8>)>,
    /// A record in project `q`.
    q: Uuid,
}

/// The member of `p` holding a role.
fn member(role: &str) -> String {
    format!("{role}-of-p")
}

/// Projects `p` and `q`; a user per role in `p` (named after the role); `outsider`, a
/// researcher of `q` only; `ruth`, a researcher of `p` who seeds a record of each kind.
async fn setup(h: &Harness) -> Seeded {
    h.project("p").await;
    h.project("q").await;
    for role in ROLES {
        h.user(&member(role), "p", role).await;
    }
    h.user("outsider", "q", "researcher").await;
    h.user("ruth", "p", "researcher").await;
    let (ruth, ruth_actor) = h.raw_device("ruth").await;
    let mut p = Vec::new();
    let mut pushes = Vec::new();
    for kind in RecordKind::ALL {
        let id = Uuid::now_v7();
        let mut doc = new_record(&ruth_actor, kind, "p");
        pushes.push(push(id, &mut doc));
        p.push((kind, id, doc.save()));
    }
    let r = h
        .sync_raw(
            &ruth,
            &SyncRequest {
                push: pushes,
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(r.unacked.is_empty() && r.reports.is_empty(), "{r:?}");
    let (outsider, outsider_actor) = h.raw_device("outsider").await;
    let q = Uuid::now_v7();
    let mut doc = new_record(&outsider_actor, RecordKind::Session, "q");
    let r = h
        .sync_raw(
            &outsider,
            &SyncRequest {
                push: vec![push(q, &mut doc)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(r.unacked.is_empty(), "{r:?}");
    Seeded { p, q }
}

async fn role_matrix(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let seeded = setup(&h).await;
    let participant = seeded.p[0].1;
    let q_record = seeded.q;

    // Callers: each project role, a non-member (a member of another project), the server admin.
    let mut callers: Vec<(&str, String)> = Vec::new();
    for role in ROLES {
        callers.push((
            role,
            h.login(&member(role), &format!("{}-password", member(role)))
                .await
                .unwrap(),
        ));
    }
    callers.push((
        "non-member",
        h.login("outsider", "outsider-password").await.unwrap(),
    ));
    callers.push(("server-admin", h.admin_token.clone()));

    // (method, path, body, who gets 2xx); everyone else gets 403.
    let members: &[&str] = &[
        "admin",
        "coordinator",
        "researcher",
        "peer_worker",
        "analyst",
        "server-admin",
    ];
    let reviewers: &[&str] = &["admin", "coordinator", "server-admin"];
    let analysts: &[&str] = &["admin", "coordinator", "analyst", "server-admin"];
    let server_admin: &[&str] = &["server-admin"];
    let everyone: &[&str] = &[
        "admin",
        "coordinator",
        "researcher",
        "peer_worker",
        "analyst",
        "non-member",
        "server-admin",
    ];
    let none: &[&str] = &[];
    h.admin(
        "/api/v1/admin/users",
        json!({"username": "spare", "password": "spare-password"}),
    )
    .await;
    let mut n = 0;
    for (caller, token) in &callers {
        n += 1;
        let cells: Vec<(&str, String, Value, &[&str])> = vec![
            ("GET", "/api/v1/me".into(), json!(null), everyone),
            (
                "POST",
                "/api/v1/devices/register".into(),
                json!({"name": "x"}),
                everyone,
            ),
            (
                "GET",
                "/api/v1/admin/projects".into(),
                json!(null),
                server_admin,
            ),
            (
                "POST",
                "/api/v1/admin/projects".into(),
                json!({"slug": format!("new-{n}"), "name": "n"}),
                server_admin,
            ),
            (
                "POST",
                "/api/v1/admin/users".into(),
                json!({"username": format!("u{n}"), "password": "0123456789ab"}),
                server_admin,
            ),
            (
                "POST",
                "/api/v1/admin/projects/p/members".into(),
                json!({"username": "spare", "role": "analyst"}),
                server_admin,
            ),
            (
                "POST",
                "/api/v1/admin/enrolments".into(),
                json!({"username": "spare"}),
                server_admin,
            ),
            (
                "GET",
                "/api/v1/admin/devices".into(),
                json!(null),
                server_admin,
            ),
            (
                "GET",
                "/api/v1/admin/audit".into(),
                json!(null),
                server_admin,
            ),
            (
                "GET",
                format!("/api/v1/projects/p/records/{participant}"),
                json!(null),
                members,
            ),
            (
                "GET",
                format!("/api/v1/projects/p/records/{participant}/history"),
                json!(null),
                members,
            ),
            (
                "GET",
                "/api/v1/projects/p/exports/attendance".into(),
                json!(null),
                analysts,
            ),
            (
                "GET",
                "/api/v1/projects/p/exports/stories?format=jsonl".into(),
                json!(null),
                analysts,
            ),
            (
                "GET",
                "/api/v1/projects/p/reports/outcomes".into(),
                json!(null),
                analysts,
            ),
            (
                "GET",
                "/api/v1/projects/p/reports/attendance".into(),
                json!(null),
                analysts,
            ),
            (
                "GET",
                "/api/v1/projects/p/reports/equity".into(),
                json!(null),
                analysts,
            ),
            (
                "GET",
                "/api/v1/projects/p/reports/sites".into(),
                json!(null),
                analysts,
            ),
            (
                "GET",
                "/api/v1/projects/p/reports/quarterly?format=md".into(),
                json!(null),
                analysts,
            ),
            (
                "GET",
                "/api/v1/projects/p/conflicts".into(),
                json!(null),
                members,
            ),
            (
                "GET",
                "/api/v1/projects/p/quarantine".into(),
                json!(null),
                reviewers,
            ),
            (
                "GET",
                "/api/v1/projects/p/audit".into(),
                json!(null),
                reviewers,
            ),
            (
                "GET",
                "/api/v1/projects/p/followups".into(),
                json!(null),
                members,
            ),
            (
                "GET",
                "/api/v1/projects/q/followups".into(),
                json!(null),
                &["non-member", "server-admin"],
            ),
            // Another project: only its own members and the server admin.
            (
                "GET",
                format!("/api/v1/projects/q/records/{q_record}"),
                json!(null),
                &["non-member", "server-admin"],
            ),
            (
                "GET",
                format!("/api/v1/projects/q/records/{q_record}/history"),
                json!(null),
                &["non-member", "server-admin"],
            ),
            (
                "GET",
                "/api/v1/projects/q/conflicts".into(),
                json!(null),
                &["non-member", "server-admin"],
            ),
            (
                "GET",
                "/api/v1/projects/q/quarantine".into(),
                json!(null),
                server_admin,
            ),
            (
                "GET",
                "/api/v1/projects/q/audit".into(),
                json!(null),
                server_admin,
            ),
            (
                "GET",
                "/api/v1/projects/nowhere/conflicts".into(),
                json!(null),
                server_admin,
            ),
            // A record of `p` named under `q`: found nowhere.
            (
                "GET",
                format!("/api/v1/projects/q/records/{participant}"),
                json!(null),
                none,
            ),
        ];
        let resolvers: &[&str] = &["admin", "coordinator", "researcher", "server-admin"];
        let missing = Uuid::new_v4();
        let ons4: serde_json::Map<String, Value> = (1..=4)
            .map(|i| (i.to_string(), json!(format!("Test item {i}"))))
            .collect();
        let authz_cells: Vec<(&str, String, Value, &[&str])> = vec![
            (
                "POST",
                format!("/api/v1/admin/devices/{missing}/revoke"),
                json!({"reason": "lost"}),
                server_admin,
            ),
            (
                "POST",
                "/api/v1/admin/users/nobody/remove".into(),
                json!({"reason": "left"}),
                server_admin,
            ),
            (
                "POST",
                "/api/v1/projects/p/conflicts/resolve".into(),
                json!({"record_id": participant, "field": "age_band", "value": "65-74"}),
                resolvers,
            ),
            (
                "GET",
                "/api/v1/projects/p/quarantine/999999".into(),
                json!(null),
                reviewers,
            ),
            (
                "POST",
                "/api/v1/projects/p/quarantine/999999/release".into(),
                json!({"reason": "fixed"}),
                reviewers,
            ),
            (
                "POST",
                "/api/v1/projects/p/quarantine/999999/discard".into(),
                json!({"reason": "wrong"}),
                reviewers,
            ),
            (
                "POST",
                "/api/v1/admin/projects/p/sites".into(),
                json!({"slug": format!("site-{n}"), "name": "hall"}),
                reviewers,
            ),
            (
                "GET",
                "/api/v1/admin/projects/p/sites".into(),
                json!(null),
                reviewers,
            ),
            (
                "PUT",
                "/api/v1/projects/p/followups".into(),
                json!({"followups": []}),
                reviewers,
            ),
            (
                "PUT",
                "/api/v1/projects/q/followups".into(),
                json!({"followups": []}),
                server_admin,
            ),
            (
                "PATCH",
                "/api/v1/admin/projects/p/sites/no-such-site".into(),
                json!({"name": "x"}),
                reviewers,
            ),
            (
                "POST",
                "/api/v1/admin/projects/p/activities".into(),
                json!({"slug": format!("act-{n}"), "name": "crafts", "activity_type": "arts"}),
                reviewers,
            ),
            (
                "GET",
                "/api/v1/admin/projects/p/activities".into(),
                json!(null),
                reviewers,
            ),
            (
                "PATCH",
                "/api/v1/admin/projects/p/activities/no-such-activity".into(),
                json!({"name": "x"}),
                reviewers,
            ),
            (
                "PUT",
                "/api/v1/admin/instruments/ONS4".into(),
                json!({"language": "en", "licence": "public", "items": ons4}),
                server_admin,
            ),
            (
                "GET",
                "/api/v1/admin/instruments".into(),
                json!(null),
                server_admin,
            ),
            // Another project's review and set-up: only the server admin gets past the check.
            (
                "POST",
                "/api/v1/projects/q/conflicts/resolve".into(),
                json!({"record_id": q_record, "field": "location", "value": "x"}),
                &["non-member", "server-admin"],
            ),
            (
                "GET",
                "/api/v1/projects/q/quarantine/999999".into(),
                json!(null),
                server_admin,
            ),
            (
                "POST",
                "/api/v1/admin/projects/q/sites".into(),
                json!({"slug": format!("q-site-{n}"), "name": "hall"}),
                server_admin,
            ),
        ];
        for (method, path, body, allowed) in authz_cells {
            let got = status(&h, method, &path, Some(token), body).await;
            if allowed.contains(caller) {
                assert!(
                    got != 401 && got != 403 && got < 500,
                    "{caller} {method} {path}: {got}"
                );
            } else {
                assert_eq!(got, 403, "{caller} {method} {path}");
            }
        }
        for (method, path, body, allowed) in cells {
            let got = status(&h, method, &path, Some(token), body).await;
            let want_ok = allowed.contains(caller);
            let expected_deny = if path
                .starts_with(&format!("/api/v1/projects/q/records/{participant}"))
                && ["non-member", "server-admin"].contains(caller)
            {
                404
            } else {
                403
            };
            if want_ok {
                assert!((200..300).contains(&got), "{caller} {method} {path}: {got}");
            } else {
                assert_eq!(got, expected_deny, "{caller} {method} {path}");
            }
        }
    }
    // Anonymous: public endpoints only.
    assert_eq!(status(&h, "GET", "/healthz", None, json!(null)).await, 200);
    assert_eq!(
        status(&h, "GET", "/api/v1/info", None, json!(null)).await,
        200
    );
    for path in [
        "/api/v1/me".to_owned(),
        "/api/v1/admin/audit".into(),
        format!("/api/v1/projects/p/records/{participant}/history"),
        "/api/v1/projects/p/audit".into(),
    ] {
        assert_eq!(
            status(&h, "GET", &path, None, json!(null)).await,
            401,
            "{path}"
        );
    }
    // The audit log cannot be changed through the API.
    for method in ["DELETE", "PUT", "PATCH"] {
        let res = h
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/api/v1/admin/audit", h.url()),
            )
            .bearer_auth(&h.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 405, "{method}");
    }

    // Sync: each role pushes a new record of every kind into `p`, then pulls from scratch.
    let all: BTreeSet<RecordKind> = RecordKind::ALL.into_iter().collect();
    let people_and_sessions: BTreeSet<RecordKind> = [RecordKind::Participant, RecordKind::Session]
        .into_iter()
        .collect();
    // Peer workers may register a person's contact details, and never receive any.
    let mut peer_writes = people_and_sessions.clone();
    peer_writes.insert(RecordKind::Contact);
    for (user, writes, may) in [
        ("admin", all.clone(), all.clone()),
        ("coordinator", all.clone(), all.clone()),
        ("researcher", all.clone(), all.clone()),
        ("peer_worker", peer_writes, people_and_sessions.clone()),
        ("analyst", BTreeSet::new(), BTreeSet::new()),
        ("outsider", BTreeSet::new(), BTreeSet::new()),
    ] {
        let (token, actor) = h
            .raw_device(&if user == "outsider" {
                user.to_owned()
            } else {
                member(user)
            })
            .await;
        let mut ids = Vec::new();
        let mut pushes = Vec::new();
        for kind in RecordKind::ALL {
            let id = Uuid::now_v7();
            pushes.push(push(id, &mut new_record(&actor, kind, "p")));
            ids.push((kind, id));
        }
        let r: SyncResponse = h
            .sync_raw(
                &token,
                &SyncRequest {
                    push: pushes,
                    ..SyncRequest::default()
                },
            )
            .await;
        for (kind, id) in &ids {
            let refused: Vec<_> = r.reports.iter().filter(|x| x.id == *id).collect();
            if writes.contains(kind) {
                assert!(
                    !r.unacked.contains(id) && refused.is_empty(),
                    "{user} {kind:?}: {refused:?}"
                );
            } else {
                assert!(r.unacked.contains(id), "{user} {kind:?} acknowledged");
                assert_eq!(refused.len(), 1, "{user} {kind:?}: {refused:?}");
                assert_eq!(refused[0].kind, ReportKind::Refused);
                assert_eq!(refused[0].code, "not_allowed", "{user} {kind:?}");
            }
        }
        // Pulled: the seeded records (and its own new ones) of exactly the kinds it may pull,
        // never anything of project `q` unless a member of it.
        let r = h.sync_raw(&token, &SyncRequest::default()).await;
        let pulled: BTreeSet<Uuid> = r.records.iter().map(|x| x.id).collect();
        for (kind, id, _) in &seeded.p {
            assert_eq!(
                pulled.contains(id),
                may.contains(kind),
                "{user} pulls {kind:?}"
            );
        }
        assert_eq!(
            pulled.contains(&q_record),
            user == "outsider",
            "{user} pulls q"
        );
        for x in &r.records {
            assert!(
                x.project == "q" || may.contains(&x.kind),
                "{user} got {:?}",
                x.kind
            );
        }
        // A device reads histories in its user's projects only.
        let history = status(
            &h,
            "GET",
            &format!("/api/v1/projects/p/records/{participant}/history"),
            Some(&token),
            json!(null),
        )
        .await;
        assert_eq!(
            history,
            if user == "outsider" { 403 } else { 200 },
            "{user} device history"
        );
    }
    h.finish().await;
}

async fn peer_worker_crafted_pushes_are_quarantined(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let seeded = setup(&h).await;
    let (token, actor) = h.raw_device(&member("peer_worker")).await;
    // The peer worker's device holds copies it crafted changes on (as a modified app could).
    let copy = |kind: RecordKind| {
        let (_, id, saved) = seeded.p.iter().find(|(k, _, _)| *k == kind).unwrap();
        (*id, RecordDoc::load(saved, actor.clone()).unwrap())
    };
    let (story, mut story_doc) = copy(RecordKind::Story);
    story_doc
        .automerge()
        .put(ROOT, "title", "rewritten")
        .unwrap();
    story_doc.automerge().commit();
    let (participant, mut moved) = copy(RecordKind::Participant);
    moved.automerge().put(ROOT, "project", "q").unwrap();
    moved.automerge().commit();
    let (session, mut session_doc) = copy(RecordKind::Session);
    session_doc
        .automerge()
        .put(ROOT, "site", "library")
        .unwrap();
    session_doc.automerge().commit();
    let new_session = Uuid::now_v7();
    let mut fresh = new_record(&actor, RecordKind::Session, "p");

    let r = h
        .sync_raw(
            &token,
            &SyncRequest {
                push: vec![
                    push(story, &mut story_doc),
                    push(participant, &mut moved),
                    push(session, &mut session_doc),
                    push(new_session, &mut fresh),
                ],
                ..SyncRequest::default()
            },
        )
        .await;
    let code = |id: Uuid| {
        r.reports
            .iter()
            .find(|x| x.id == id && x.kind == ReportKind::Refused)
            .map(|x| x.code.clone())
    };
    assert_eq!(code(story).as_deref(), Some("not_allowed"), "{r:?}");
    assert_eq!(
        code(participant).as_deref(),
        Some("immutable_field"),
        "{r:?}"
    );
    assert!(r.unacked.contains(&story) && r.unacked.contains(&participant));
    // The rest of the sync is stored.
    assert!(
        !r.unacked.contains(&session) && !r.unacked.contains(&new_session),
        "{r:?}"
    );
    assert_eq!(h.record("p", session).await["record"]["site"], "library");
    assert!(h.record("p", new_session).await["record"].is_object());
    // Nothing refused reached the records.
    assert_eq!(h.record("p", story).await["record"]["title"], "t");
    assert_eq!(h.record("p", participant).await["project"], "p");
    // The admin sees both refusals.
    let q = h.get("/api/v1/projects/p/quarantine").await;
    let listed: Vec<(String, String)> = q
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["record_id"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        listed.contains(&(story.to_string(), "not_allowed".into())),
        "{q}"
    );
    assert!(
        listed.contains(&(participant.to_string(), "immutable_field".into())),
        "{q}"
    );

    // History: causal order, authors named, fields listed; analysts do not see identifiers.
    let hist = h
        .get(&format!("/api/v1/projects/p/records/{session}/history"))
        .await;
    let changes = hist["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{hist}");
    assert_eq!(changes[0]["username"], "ruth");
    assert_eq!(changes[1]["username"], member("peer_worker"));
    assert_eq!(changes[1]["deps"][0], changes[0]["hash"]);
    assert!(changes[1]["received_at"].is_i64());
    assert_eq!(
        changes[1]["fields"],
        json!([{"field": "site", "op": "set", "value": "library"}])
    );
    let analyst = h
        .login(&member("analyst"), "analyst-of-p-password")
        .await
        .unwrap();
    let contact = seeded
        .p
        .iter()
        .find(|(k, _, _)| *k == RecordKind::Contact)
        .unwrap()
        .1;
    let participant_history = |token: String| {
        let h = &h;
        async move {
            h.get_as(
                &format!("/api/v1/projects/p/records/{contact}/history"),
                &token,
            )
            .await
            .unwrap()["changes"][0]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["field"] == "name")
                .cloned()
                .unwrap()
        }
    };
    assert_eq!(
        participant_history(h.admin_token.clone()).await["value"],
        "Ann"
    );
    // Analysts are given no contact record at all.
    assert!(
        h.get_as(
            &format!("/api/v1/projects/p/records/{contact}/history"),
            &analyst
        )
        .await
        .is_err()
    );

    // Audit: newest first, filtered by action family, paged forward by id.
    let all = h.get("/api/v1/admin/audit").await;
    let ids: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.len() > 3 && ids.windows(2).all(|w| w[0] > w[1]),
        "{all}"
    );
    let logins = h.get("/api/v1/admin/audit?action=auth&limit=1000").await;
    assert!(
        logins
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"].as_str().unwrap().starts_with("auth."))
    );
    let page = h
        .get(&format!(
            "/api/v1/admin/audit?after_id={}&limit=2",
            ids[ids.len() - 1]
        ))
        .await;
    let page: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page, vec![ids[ids.len() - 2], ids[ids.len() - 3]]);
    assert!(all[0]["details"].is_object(), "{all}");
    for bad in ["limit=0", "limit=5000", "after_id=soon"] {
        let res = h
            .http
            .get(format!("{}/api/v1/admin/audit?{bad}", h.url()))
            .bearer_auth(&h.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{bad}: {body}");
    }
    h.finish().await;
}

/// A field device reads a record's history: its own copy, and the server's with names.
async fn history_on_a_device(backend: Backend) {
    let Some(mut h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "peer_worker").await;
    let phone = h.device("ruth", "ruth-phone").await;
    let id = phone.create_participant(Some("p"), &[]).await.unwrap().id;
    phone.sync().await.unwrap();
    let local = phone.local_history(id).await.unwrap();
    assert_eq!(local.changes.len(), 1);
    assert_eq!(local.changes[0].author, "this device");
    assert!(
        local.changes[0]
            .entry
            .fields
            .iter()
            .any(|f| f.field == "code")
    );
    let server = phone.server_history(id, "p").await.unwrap();
    assert_eq!(server["changes"][0]["username"], "ruth");
    assert_eq!(server["changes"][0]["device_name"], "ruth-phone");
    assert_eq!(
        server["changes"][0]["hash"],
        local.changes[0].entry.hash.as_str()
    );
    h.stop().await;
    let offline = phone.server_history(id, "p").await.unwrap_err();
    assert!(
        matches!(offline, bothy_device::DeviceError::Unreachable { .. }),
        "{offline}"
    );
    h.finish().await;
}
