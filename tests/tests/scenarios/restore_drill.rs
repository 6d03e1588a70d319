//! A restore drill, with the real server binary and its `backup` and `restore` commands, on
//! SQLite and PostgreSQL: two devices record and sync, a backup is taken, both record more and
//! edit one shared record (with a true conflict on one field), a third device enrolled after the
//! backup receives everything, records and edits too; then the server is restored from the
//! backup. Each device syncs (the one enrolled after the backup enrols again on the same store
//! first) until nothing changes, and then the server and every device hold the union of
//! everything recorded, with the same history of every record, the conflict kept, nothing set
//! aside and nothing left to send.

use super::restore_reconcile::{
    PROJECT, backup, bin, device_ids, on_server, participant, questionnaire, restore, server_ids,
    session, story, sync,
};
use bothy_device::{AttendanceMark, Device};
use bothy_sync_core::scoring::swemwbs_metric;
use bothy_sync_core::{RecordData, Score};
use bothy_tests::{Backend, ProcessServer, device_heads, on_both_backends, server_heads};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

on_both_backends!(restore_drill_every_device_and_the_server_hold_the_union);

/// The two values set concurrently on the shared session's `location`.
const LOCATION_A: &str = "Strath hall, back room";
const LOCATION_B: &str = "Strath hall, garden";

/// Syncs a device after the restore for the first time: it hears the server was restored and
/// sends back everything it holds, with nothing set aside.
async fn reconcile(name: &str, device: &Device) {
    let summary = sync(device).await;
    assert!(summary.reconciled, "{name}: {summary:?}");
    assert_eq!(summary.set_aside, 0, "{name}: {summary:?}");
}

/// The SWEMWBS score of a form answered `answer` to every item.
fn swemwbs(answer: i64) -> Score {
    let raw = 7 * answer;
    Score::Swemwbs {
        raw,
        metric: swemwbs_metric(raw).expect("a complete SWEMWBS raw score"),
    }
}

async fn restore_drill_every_device_and_the_server_hold_the_union(backend: Backend) {
    let Some(mut server) = ProcessServer::start(backend, bin()).await else {
        return;
    };
    server.project(PROJECT).await;
    server.user("isla", PROJECT, "researcher").await;
    server.user("eilidh", PROJECT, "researcher").await;
    server.user("cora", PROJECT, "researcher").await;
    let a = server.device("isla", "tablet").await;
    let b = server.device("eilidh", "phone").await;
    // What each record should hold at the end: questionnaires' answers, stories' bodies.
    let mut answers: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut bodies: BTreeMap<Uuid, &str> = BTreeMap::new();

    // Before the backup: participants, a session with attendance, questionnaires and stories
    // on both devices, synced until each holds the other's.
    let pa1 = participant(&a, "65-74").await;
    let pa2 = participant(&a, "45-54").await;
    let s = session(&a).await;
    for p in [pa1, pa2] {
        a.mark_attendance(s, p, AttendanceMark::Present)
            .await
            .unwrap();
    }
    let qa1 = questionnaire(&a, pa1, "baseline", 3).await;
    answers.insert(qa1, 3);
    let sa1 = story(&a, pa1, "We walked to the falls.").await;
    bodies.insert(sa1, "We walked to the falls.");
    let pb1 = participant(&b, "25-34").await;
    let qb1 = questionnaire(&b, pb1, "baseline", 4).await;
    answers.insert(qb1, 4);
    let sb1 = story(&b, pb1, "The heron stood still.").await;
    bodies.insert(sb1, "The heron stood still.");
    for d in [&a, &b, &a] {
        sync(d).await;
    }
    let before = [pa1, pa2, s, qa1, sa1, pb1, qb1, sb1];
    for d in [&a, &b] {
        assert_eq!(device_ids(d).await, before.into_iter().collect());
    }
    let file = backup(&server, "drill.bak").await;

    // After the backup: more on both, and both edit the session made before it: `location` by
    // both (a true conflict), `end` by A only, `unregistered_attendees` and B's participant's
    // attendance by B only. Synced A, B, A: both hold both edits, acknowledged.
    let pa3 = participant(&a, "35-44").await;
    let qa2 = questionnaire(&a, pa3, "baseline", 2).await;
    answers.insert(qa2, 2);
    let sa2 = story(&a, pa3, "Rain on the loch all morning.").await;
    bodies.insert(sa2, "Rain on the loch all morning.");
    let pb2 = participant(&b, "75-84").await;
    let qb2 = questionnaire(&b, pb1, "interim", 5).await;
    answers.insert(qb2, 5);
    let sb2 = story(&b, pb2, "Bog cotton along the path.").await;
    bodies.insert(sb2, "Bog cotton along the path.");
    assert!(
        a.edit(s, |e| {
            e.set("location", LOCATION_A);
            e.set("end", "2026-11-03T12:00:00Z");
        })
        .await
        .unwrap()
    );
    assert!(
        b.edit(s, |e| {
            e.set("location", LOCATION_B);
            e.set("unregistered_attendees", 3i64);
        })
        .await
        .unwrap()
    );
    b.mark_attendance(s, pb1, AttendanceMark::Present)
        .await
        .unwrap();
    for d in [&a, &b, &a] {
        sync(d).await;
    }
    for d in [&a, &b] {
        assert_eq!(d.status().await.unwrap().unsynced_records, 0);
    }

    // C, enrolled after the backup, receives everything, records and edits the session too.
    let c = server.device("cora", "laptop").await;
    sync(&c).await;
    let after = [pa3, qa2, sa2, pb2, qb2, sb2];
    assert_eq!(
        device_ids(&c).await,
        before.into_iter().chain(after).collect()
    );
    let pc1 = participant(&c, "55-64").await;
    let qc1 = questionnaire(&c, pc1, "baseline", 1).await;
    answers.insert(qc1, 1);
    c.mark_attendance(s, pc1, AttendanceMark::Present)
        .await
        .unwrap();
    assert!(
        c.edit(s, |e| e.set("facilitators.cora", true))
            .await
            .unwrap()
    );
    sync(&c).await;
    assert_eq!(c.status().await.unwrap().unsynced_records, 0);
    let union: BTreeSet<Uuid> = before.into_iter().chain(after).chain([pc1, qc1]).collect();
    assert_eq!(server_ids(&server).await, union);

    // The restore loses everything after the backup.
    restore(&mut server, &file).await;
    assert_eq!(
        server_ids(&server).await,
        before.into_iter().collect(),
        "the restored server holds what the backup held"
    );

    // A and B reconcile; C is unknown to the restored server until it enrols again, on the
    // same store, and then reconciles too.
    reconcile("A", &a).await;
    reconcile("B", &b).await;
    let refused = c
        .sync()
        .await
        .expect_err("a device enrolled after the backup is unknown to the restored server");
    assert!(
        refused.to_string().contains("enrol"),
        "the error tells the device to enrol again: {refused}"
    );
    let code = server.enrolment_code("cora").await;
    c.enrol(&server.url(), &code, "laptop")
        .await
        .expect("the device enrols again on the same store");
    reconcile("C", &c).await;

    // Every device syncs until a round changes nothing.
    let mut quiet = false;
    for _ in 0..4 {
        let mut changed = false;
        for d in [&a, &b, &c] {
            let summary = sync(d).await;
            assert_eq!(summary.set_aside, 0, "{summary:?}");
            changed |= summary.pushed > 0 || summary.received > 0 || summary.reconciled;
        }
        if !changed {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "the devices and the server converge");

    // The server and every device hold the union, with the same history of each record.
    assert_eq!(
        server_ids(&server).await,
        union,
        "the server holds the union"
    );
    let devices = [("A", &a), ("B", &b), ("C", &c)];
    for (name, d) in devices {
        assert_eq!(device_ids(d).await, union, "{name} holds the union");
        let status = d.status().await.unwrap();
        assert_eq!(status.unsynced_records, 0, "{name}: {status:?}");
        assert_eq!(status.set_aside_count, 0, "{name}: {status:?}");
        assert!(d.set_aside_records(10).await.unwrap().is_empty(), "{name}");
    }
    let mut records: BTreeMap<Uuid, Value> = BTreeMap::new();
    for id in &union {
        let record = on_server(&server, *id)
            .await
            .unwrap_or_else(|| panic!("the admin sees {id} on the server"));
        for (name, d) in devices {
            assert_eq!(
                device_heads(d, *id).await,
                server_heads(&record),
                "{name} and the server hold the same history of {id}"
            );
        }
        records.insert(*id, record);
    }

    // The shared session: every edit kept, the conflict on `location` listed by the server and
    // by every device, with both values.
    let session = &records[&s]["record"];
    assert_eq!(session["end"], "2026-11-03T12:00:00Z", "{session}");
    assert_eq!(session["unregistered_attendees"], 3, "{session}");
    assert_eq!(session["facilitators"], json!(["cora"]), "{session}");
    let present: BTreeSet<String> = [pa1, pa2, pb1, pc1].iter().map(Uuid::to_string).collect();
    let attendance: BTreeSet<String> = session["attendance"]
        .as_object()
        .expect("attendance")
        .iter()
        .map(|(p, mark)| {
            assert_eq!(mark, "present", "{p}");
            p.clone()
        })
        .collect();
    assert_eq!(attendance, present);
    let both: BTreeSet<String> = [LOCATION_A, LOCATION_B].map(str::to_owned).into();
    let listed = server
        .get(&format!("/api/v1/projects/{PROJECT}/conflicts"))
        .await;
    let listed = listed.as_array().expect("a list of conflicts");
    assert_eq!(listed.len(), 1, "one conflict: {listed:?}");
    assert_eq!(listed[0]["record_id"], s.to_string());
    assert_eq!(listed[0]["field"], "location");
    let values: BTreeSet<String> = listed[0]["values"]
        .as_array()
        .expect("conflicting values")
        .iter()
        .map(|v| v["value"].as_str().expect("text value").to_owned())
        .collect();
    assert_eq!(values, both);
    for (name, d) in devices {
        let conflicts = d.conflicts().await.unwrap();
        assert_eq!(conflicts.len(), 1, "{name}: {conflicts:?}");
        assert_eq!(conflicts[0].id, s, "{name}");
        assert_eq!(conflicts[0].conflicts.len(), 1, "{name}: {conflicts:?}");
        assert_eq!(conflicts[0].conflicts[0].field, "location", "{name}");
        let values: BTreeSet<String> = conflicts[0].conflicts[0]
            .values
            .iter()
            .map(|v| v.value.clone())
            .collect();
        assert_eq!(values, both, "{name}");
    }

    // The questionnaires' scores and the stories' text are those recorded.
    for (id, answer) in &answers {
        let want = swemwbs(*answer);
        assert_eq!(
            records[id]["score"],
            serde_json::to_value(&want).unwrap(),
            "the server's score of {id}"
        );
        for (name, d) in devices {
            assert_eq!(
                d.get(*id).await.unwrap().score,
                Some(want.clone()),
                "{name}"
            );
        }
    }
    for (id, body) in &bodies {
        assert_eq!(
            records[id]["record"]["body"], *body,
            "the server's story {id}"
        );
        for (name, d) in devices {
            let RecordData::Story(story) = d.get(*id).await.unwrap().view.data else {
                panic!("{id} is a story");
            };
            assert_eq!(story.body, *body, "{name}'s story {id}");
        }
    }

    // The restore is in the audit log.
    let audit = server
        .get("/api/v1/admin/audit?action=server.restore")
        .await;
    let entries = audit.as_array().expect("audit entries");
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["action"], "server.restore", "{audit}");
    server.finish().await;
}
