//! Each device holds only what its user's role needs (docs/security.md, "What each device
//! holds"), checked on every document a device stores, with its history, and on the sync
//! answers it receives, not only through the app:
//! * a peer worker's device receives no name, phone or postcode district a researcher
//!   registered, and no story; what a peer worker registers themselves leaves the device once
//!   the server holds it;
//! * a `private` story reaches its author's devices and the coordinator's, no other
//!   researcher's; an analyst's device receives nothing;
//! * a story made private, and a user taken out of a project: the affected devices delete those
//!   records at their next sync, and nothing else changes;
//! * participants written before contact records are split, at start-up and when an old device
//!   pushes one, and devices holding the old documents replace them.

use bothy_device::Device;
use bothy_server::storage::records::{self, LogEntry};
use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};
use bothy_sync_core::protocol::{RecordPush, SyncRequest};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;
use std::collections::BTreeSet;
use uuid::Uuid;

on_both_backends!(
    each_device_holds_what_its_role_needs,
    old_participants_are_split_and_replaced
);

const P: &str = "glen-gathering";
/// Three people a researcher registers: name, phone, postcode district.
const PEOPLE: [(&str, &str, &str); 3] = [
    ("Isobel Drummond-Kerr", "07700 900311", "PH17"),
    ("Ewan Tavish Macrae", "07700 900322", "IV54"),
    ("Catriona Lindores", "07700 900333", "KW16"),
];
const PROJECT_STORY: &str = "The ceilidh band played until the generator ran out of diesel.";
const PRIVATE_STORY: &str = "She told me about the winter her brother left for Glasgow.";
const PEER_NAME: &str = "Alasdair Fionnlagh Peerie";

/// Every string of `needles` found in any document a device holds (each with its whole
/// history, saved without compression so every value ever written is in the bytes).
async fn held(device: &Device, needles: &[&str]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for summary in device.list(None).await.unwrap() {
        let mut doc = device.document(summary.id).await.unwrap();
        let bytes = doc.automerge().save_nocompress();
        for n in needles {
            if contains(&bytes, n) {
                found.insert((*n).to_owned());
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every identifier and story text the researcher wrote.
fn all_needles() -> Vec<&'static str> {
    let mut v: Vec<&str> = PEOPLE.iter().flat_map(|(n, p, d)| [*n, *p, *d]).collect();
    v.extend([PROJECT_STORY, PRIVATE_STORY, PEER_NAME]);
    v
}

async fn kinds(device: &Device) -> BTreeSet<RecordKind> {
    device
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.kind)
        .collect()
}

async fn ids(device: &Device) -> BTreeSet<Uuid> {
    device
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

async fn each_device_holds_what_its_role_needs(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    h.user("sam", P, "researcher").await;
    h.user("cora", P, "coordinator").await;
    h.user("pete", P, "peer_worker").await;
    h.user("ana", P, "analyst").await;
    let ruth = h.device("ruth", "ruth").await;

    // The researcher registers three people, runs a session and writes two stories.
    let mut people = Vec::new();
    for (name, phone, district) in PEOPLE {
        let p = ruth
            .create_participant(
                None,
                &[
                    ("consent.data_use", true.into()),
                    ("consent.story_sharing", true.into()),
                    ("age_band", "65-74".into()),
                    ("contact.name", name.into()),
                    ("contact.phone", phone.into()),
                    ("contact.postcode_district", district.into()),
                ],
            )
            .await
            .unwrap();
        assert!(p.contact.is_some(), "a contact record is written");
        people.push(p.id);
    }
    let session = ruth
        .create_session(
            None,
            &[
                ("site", "community-hall".into()),
                ("activity", "ceilidh".into()),
                ("activity_type", "music".into()),
                ("start", "2026-11-20T18:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    for p in &people {
        ruth.mark_attendance(session, *p, bothy_device::AttendanceMark::Present)
            .await
            .unwrap();
    }
    let story = |scope: &'static str, body: &'static str, p: Uuid| {
        let ruth = &ruth;
        async move {
            ruth.create_story(
                None,
                &[
                    ("title", "An evening".into()),
                    ("consent_scope", scope.into()),
                    ("participant", FieldValue::from(p.to_string())),
                    ("body", body.into()),
                ],
            )
            .await
            .unwrap()
        }
    };
    let open_story = story("project", PROJECT_STORY, people[0]).await;
    let private_story = story("private", PRIVATE_STORY, people[1]).await;
    ruth.sync().await.unwrap();

    // The peer worker's device: participants (by code) and the session, nothing else.
    let pete = h.device("pete", "pete").await;
    pete.sync().await.unwrap();
    assert_eq!(
        kinds(&pete).await,
        [RecordKind::Participant, RecordKind::Session].into()
    );
    assert!(held(&pete, &all_needles()).await.is_empty());
    for p in &people {
        let d = pete.get(*p).await.unwrap();
        assert!(
            d.contact.is_none(),
            "no contact details on a peer worker's device"
        );
    }
    // ... and the sync answers it receives say the same, byte for byte.
    let (pete_raw, _) = h.raw_device("pete").await;
    let answer = h.sync_raw(&pete_raw, &SyncRequest::default()).await;
    assert_eq!(answer.records.len(), 4, "three participants and a session");
    for pull in &answer.records {
        assert!(matches!(
            pull.kind,
            RecordKind::Participant | RecordKind::Session
        ));
        let bytes = match &pull.data {
            bothy_sync_core::protocol::PullData::Snapshot(b) => b.to_vec(),
            bothy_sync_core::protocol::PullData::Changes(list) => {
                list.iter().flat_map(|c| c.to_vec()).collect()
            }
        };
        let mut doc = AutoCommit::load(&bytes).unwrap_or_default();
        let mut all = bytes.clone();
        all.extend(doc.save_nocompress());
        for n in all_needles() {
            assert!(
                !contains(&all, n),
                "a sync answer to a peer worker holds {n:?}"
            );
        }
    }

    // A person the peer worker registers: the name goes up, and leaves the phone once the
    // server holds it.
    let newcomer = pete
        .create_participant(
            None,
            &[
                ("consent.data_use", true.into()),
                ("contact.name", PEER_NAME.into()),
            ],
        )
        .await
        .unwrap();
    assert!(!held(&pete, &[PEER_NAME]).await.is_empty());
    let s = pete.sync().await.unwrap();
    assert_eq!(s.withdrawn, 1, "{s:?}");
    assert_eq!(s.withdrawn_unsynced, 0);
    assert!(held(&pete, &[PEER_NAME]).await.is_empty());
    assert!(pete.get(newcomer.id).await.is_ok(), "the participant stays");
    let contact = newcomer.contact.unwrap();
    assert_eq!(h.record(P, contact).await["record"]["name"], PEER_NAME);

    // Another researcher: names and the project story, not the private story.
    let sam = h.device("sam", "sam").await;
    sam.sync().await.unwrap();
    let sam_holds = held(&sam, &all_needles()).await;
    for (name, phone, district) in PEOPLE {
        for n in [name, phone, district] {
            assert!(sam_holds.contains(n), "{n}");
        }
    }
    assert!(sam_holds.contains(PROJECT_STORY) && sam_holds.contains(PEER_NAME));
    assert!(!sam_holds.contains(PRIVATE_STORY));
    assert!(sam.get(private_story).await.is_err());
    // The coordinator and the author hold the private story; the author sees the names.
    let cora = h.device("cora", "cora").await;
    cora.sync().await.unwrap();
    assert!(held(&cora, &[PRIVATE_STORY]).await.len() == 1);
    ruth.sync().await.unwrap();
    assert!(held(&ruth, &[PRIVATE_STORY, PEER_NAME]).await.len() == 2);
    let shown = ruth.get(people[0]).await.unwrap();
    assert_eq!(shown.contact.unwrap().1.name.as_deref(), Some(PEOPLE[0].0));
    // Through the API too: a peer worker reads no contact record, another researcher not the
    // private story (with a user token or the device's credential); the coordinator reads both.
    let record = |id: Uuid| format!("/api/v1/projects/{P}/records/{id}");
    let pete_token = h.login("pete", "pete-password").await.unwrap();
    let sam_token = h.login("sam", "sam-password").await.unwrap();
    let cora_token = h.login("cora", "cora-password").await.unwrap();
    assert!(h.get_as(&record(contact), &pete_token).await.is_err());
    assert!(
        h.get_as(&format!("{}/history", record(contact)), &pete_raw)
            .await
            .is_err()
    );
    assert!(h.get_as(&record(people[0]), &pete_token).await.is_ok());
    assert!(h.get_as(&record(private_story), &sam_token).await.is_err());
    assert!(h.get_as(&record(open_story), &sam_token).await.is_ok());
    assert!(h.get_as(&record(private_story), &cora_token).await.is_ok());
    assert!(h.get_as(&record(contact), &cora_token).await.is_ok());
    // An analyst's device receives nothing.
    let (ana_raw, _) = h.raw_device("ana").await;
    let answer = h.sync_raw(&ana_raw, &SyncRequest::default()).await;
    assert!(answer.records.is_empty(), "{:?}", answer.records.len());

    // The author makes the open story private: the other researcher's device deletes it at its
    // next sync, and nothing else on it changes.
    let before = ids(&sam).await;
    ruth.edit(open_story, |e| e.set("consent_scope", "private"))
        .await
        .unwrap();
    ruth.sync().await.unwrap();
    let s = sam.sync().await.unwrap();
    assert_eq!(s.withdrawn, 1, "{s:?}");
    let after = ids(&sam).await;
    let mut expected = before.clone();
    expected.remove(&open_story);
    assert_eq!(after, expected);
    assert!(held(&sam, &[PROJECT_STORY]).await.is_empty());
    // The coordinator keeps it; it is private, not erased.
    cora.sync().await.unwrap();
    assert!(cora.get(open_story).await.is_ok());
    assert_eq!(
        h.record(P, open_story).await["record"]["consent_scope"],
        "private"
    );
    // Made shareable again, it comes back whole.
    ruth.edit(open_story, |e| e.set("consent_scope", "project"))
        .await
        .unwrap();
    ruth.sync().await.unwrap();
    sam.sync().await.unwrap();
    let d = sam.get(open_story).await.unwrap();
    assert_eq!(
        d.heads,
        ruth.get(open_story).await.unwrap().heads,
        "the whole history"
    );

    // The researcher is taken out of the project: every record of it leaves their device at its
    // next sync; the server and the others keep everything.
    let ruth_before = ids(&ruth).await;
    let records_before = h.sql("SELECT COUNT(*) AS n FROM records", &[]).await;
    let removed = h
        .admin(
            &format!("/api/v1/admin/projects/{P}/members/sam/remove"),
            json!({}),
        )
        .await;
    assert_eq!(removed["removed"], true);
    assert_eq!(removed["role"], "researcher");
    let s = sam.sync().await.unwrap();
    assert_eq!(s.withdrawn as usize, after.len() + 1, "{s:?}");
    assert!(ids(&sam).await.is_empty());
    assert!(held(&sam, &all_needles()).await.is_empty());
    ruth.sync().await.unwrap();
    assert_eq!(ids(&ruth).await, ruth_before);
    assert_eq!(
        h.sql("SELECT COUNT(*) AS n FROM records", &[]).await,
        records_before
    );
    let audit = h.get("/api/v1/admin/audit?action=member").await;
    assert!(audit.to_string().contains("member.remove"), "{audit}");
    h.finish().await;
}

/// A participant as devices wrote them before contact records.
fn old_format(actor: ActorId, name: &str) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(actor);
    doc.put(ROOT, "kind", "participant").unwrap();
    doc.put(ROOT, "project", P).unwrap();
    doc.put(ROOT, "v", 1i64).unwrap();
    doc.put(ROOT, "created", 1_790_000_000i64).unwrap();
    doc.put(ROOT, "code", "OLD-0001").unwrap();
    let consent = doc.put_object(ROOT, "consent", ObjType::Map).unwrap();
    doc.put(&consent, "data_use", true).unwrap();
    doc.put_object(ROOT, "referral", ObjType::Map).unwrap();
    doc.put(ROOT, "postcode_district", "HS2").unwrap();
    let ids = doc.put_object(ROOT, "identifiers", ObjType::Map).unwrap();
    doc.put(&ids, "name", name).unwrap();
    doc.put(&ids, "phone", "07700 900999").unwrap();
    doc.commit();
    doc
}

async fn old_participants_are_split_and_replaced(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project(P).await;
    h.user("ruth", P, "researcher").await;
    h.user("pete", P, "peer_worker").await;
    let ruth = h.device("ruth", "ruth").await;
    let pete = h.device("pete", "pete").await;

    // A participant stored before contact records (written straight into the database, as an
    // older server did), which both devices then receive whole.
    const OLD_NAME: &str = "Morag Seonag Stornoway";
    let old_id = Uuid::now_v7();
    let db = bothy_server::storage::Db::connect(&h.db.url).await.unwrap();
    let mut old = old_format(ActorId::random(), OLD_NAME);
    {
        let mut tx = db.begin_write().await.unwrap();
        records::save_record(
            &mut tx,
            &old_id.to_string(),
            P,
            "participant",
            old.save_nocompress(),
            1_790_000_000,
        )
        .await
        .unwrap();
        let log: Vec<LogEntry> = old
            .get_changes(&[])
            .iter()
            .map(|c| LogEntry::of(&old_id.to_string(), P, None, c))
            .collect();
        records::append_log(&mut tx, log, 1_790_000_000)
            .await
            .unwrap();
        sqlx::query("INSERT INTO pending_data_migrations (name) VALUES ('contacts')")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    ruth.sync().await.unwrap();
    pete.sync().await.unwrap();
    assert_eq!(
        held(&pete, &[OLD_NAME]).await.len(),
        1,
        "the old format leaks"
    );

    // The move (as at start-up): the participant without identifiers, a contact record.
    assert_eq!(
        bothy_server::review::contacts::migrate(&db).await.unwrap(),
        1
    );
    assert_eq!(
        bothy_server::review::contacts::migrate(&db).await.unwrap(),
        0,
        "once"
    );
    let record = h.record(P, old_id).await;
    assert_eq!(record["record"]["code"], "OLD-0001");
    assert!(record["record"]["name"].is_null(), "{record}");
    let contacts = h
        .sql(
            "SELECT id, name, phone, postcode_district FROM contacts WHERE participant_id = $1",
            &[&old_id.to_string()],
        )
        .await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["name"], OLD_NAME);
    assert_eq!(contacts[0]["postcode_district"], "HS2");

    // Devices holding the old document replace it: the peer worker's keeps no trace of the
    // name, the researcher's has it in the contact record.
    let s = pete.sync().await.unwrap();
    assert_eq!(s.replaced, 1, "{s:?}");
    assert!(held(&pete, &[OLD_NAME, "07700 900999"]).await.is_empty());
    assert_eq!(pete.get(old_id).await.unwrap().view.project, P);
    let s = ruth.sync().await.unwrap();
    assert_eq!(s.replaced, 1, "{s:?}");
    let shown = ruth.get(old_id).await.unwrap();
    assert_eq!(shown.contact.unwrap().1.name.as_deref(), Some(OLD_NAME));
    let mut participant = ruth.document(old_id).await.unwrap();
    assert!(!contains(
        &participant.automerge().save_nocompress(),
        OLD_NAME
    ));

    // An old device that edited the old document offline: its change is carried over.
    let (raw, actor) = h.raw_device("ruth").await;
    let mut edited = old.fork();
    edited.set_actor(actor.clone());
    let ids_obj = edited.get(ROOT, "identifiers").unwrap().unwrap().1;
    edited.put(&ids_obj, "phone", "07700 900888").unwrap();
    edited.put(ROOT, "age_band", "75-84").unwrap();
    edited.commit();
    let mut edited = RecordDoc::from_automerge(edited);
    let answer = h
        .sync_raw(
            &raw,
            &SyncRequest {
                push: vec![bothy_tests::push_history(old_id, &mut edited)],
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(answer.unacked.is_empty(), "{answer:?}");
    assert!(answer.replaced.contains(&old_id));
    assert_eq!(h.record(P, old_id).await["record"]["age_band"], "75-84");
    let phone = h
        .sql(
            "SELECT phone FROM contacts WHERE participant_id = $1",
            &[&old_id.to_string()],
        )
        .await;
    assert_eq!(phone[0]["phone"], "07700 900888");

    // A participant an old device created offline in the old format: split on arrival.
    const NEW_OLD_NAME: &str = "Donald Iain Benbecula";
    let fresh_id = Uuid::now_v7();
    let mut fresh = RecordDoc::from_automerge(old_format(actor, NEW_OLD_NAME));
    let answer = h
        .sync_raw(
            &raw,
            &SyncRequest {
                push: vec![RecordPush {
                    id: fresh_id,
                    changes: fresh
                        .automerge()
                        .get_changes(&[])
                        .iter()
                        .map(|c| serde_bytes::ByteBuf::from(c.raw_bytes().to_vec()))
                        .collect(),
                    document: None,
                }],
                ..SyncRequest::default()
            },
        )
        .await;
    assert!(
        answer.unacked.is_empty() && answer.reports.is_empty(),
        "{answer:?}"
    );
    assert!(answer.replaced.contains(&fresh_id));
    assert!(h.record(P, fresh_id).await["record"]["name"].is_null());
    pete.sync().await.unwrap();
    assert!(pete.get(fresh_id).await.is_ok());
    assert!(held(&pete, &[NEW_OLD_NAME]).await.is_empty());
    ruth.sync().await.unwrap();
    let shown = ruth.get(fresh_id).await.unwrap();
    assert_eq!(shown.contact.unwrap().1.name.as_deref(), Some(NEW_OLD_NAME));
    // The old documents stay on the server only, and a subject-rights export includes them.
    let export = h
        .get(&format!(
            "/api/v1/projects/{P}/participants/{old_id}/export"
        ))
        .await;
    assert_eq!(export["retired_document"]["contact.name"], OLD_NAME);
    assert_eq!(export["contacts"][0]["record"]["name"], OLD_NAME);
    db.pool.close().await;
    h.finish().await;
}
