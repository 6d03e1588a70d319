//! Several server processes over one PostgreSQL database (the national deployment: stateless
//! servers behind a load balancer). Three devices make concurrent, partly conflicting edits and
//! sync through proxies that send each sync to one server or the other, some syncs at the same
//! time, and one device sends the same request to both servers at once (a retry while the
//! first is still in flight). The outcome must be the one the same script gives on a single
//! server: every replica converges, the analysts' tables show the merged state, two valid
//! edits that merge into an invalid session flag it for review, and both servers list the same
//! conflicts.

use bothy_device::{AttendanceMark, Device, SyncSummary, WellbeingForm};
use bothy_sync_core::{FieldValue, Instrument, RecordData};
use bothy_tests::{Backend, Harness, SyncProxy, device_heads, server_heads};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use uuid::Uuid;

const PROJECT: &str = "glen-voices";

const PARAGRAPHS: [&str; 3] = [
    "I had not left the croft for a month when the nurse told me about the choir.",
    "The first song was one my mother used to sing at the fank.",
    "We sang it three times and by the end I knew the words again.",
];
const A_PARAGRAPH_1: &str = "I had not been further than the end of the track since the winter.";
const C_PARAGRAPH_2: &str = "The first song was the waulking song my mother sang at the fank.";
const B_PARAGRAPH_4: &str = "In June we sang at the show, and my grandson came to listen.";

/// WEMWBS: total 51, SWEMWBS raw 24, metric 21.54.
const WEMWBS_1: [i64; 14] = [4, 3, 5, 2, 4, 3, 4, 5, 3, 4, 2, 3, 4, 5];
/// WEMWBS: total 28, SWEMWBS raw 16, metric 16.36.
const WEMWBS_2: [i64; 14] = [2, 2, 3, 1, 2, 3, 2, 1, 2, 3, 2, 2, 1, 2];
/// SWEMWBS: raw 32, metric 29.31.
const SWEMWBS_1: [i64; 7] = [5, 4, 5, 4, 5, 4, 5];

/// A true conflict: (record, field, [(value, device)]).
type NamedConflict = (String, String, Vec<(String, String)>);

/// What the script leaves behind, in names that do not depend on random ids.
#[derive(Debug, PartialEq)]
struct Outcome {
    records: usize,
    /// Participant name to status; a contested mark reads `conflict: a|b`.
    attendance: BTreeMap<String, String>,
    /// Participant name to (instrument, raw score, SWEMWBS raw, metric to 2 places).
    wellbeing: BTreeMap<String, (String, i64, i64, String)>,
    /// Story title to body.
    stories: BTreeMap<String, String>,
    /// (record, field, [(value, device)]), field paths with participant names.
    conflicts: BTreeSet<NamedConflict>,
    /// Session name to (start, end, needs review), from the sessions table.
    sessions: BTreeMap<String, (String, String, bool)>,
    /// (record, field) of every problem the server's record API reports.
    flags: BTreeSet<(String, String)>,
}

fn expected() -> Outcome {
    let conflict = |r: &str, f: &str, v: &[(&str, &str)]| {
        (
            r.to_owned(),
            f.to_owned(),
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect::<Vec<_>>(),
        )
    };
    Outcome {
        records: 11,
        attendance: [
            ("p0", "conflict: absent|present"),
            ("p1", "conflict: absent|present"),
            ("p2", "present"),
            ("p3", "left_early"),
            ("p5", "present"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        wellbeing: [
            ("p0", ("WEMWBS", 51, 24, "21.54")),
            ("p2", ("WEMWBS", 28, 16, "16.36")),
            ("p4", ("SWEMWBS", 32, 32, "29.31")),
        ]
        .into_iter()
        .map(|(k, (i, r, s, m))| (k.to_owned(), (i.to_owned(), r, s, m.to_owned())))
        .collect(),
        stories: [(
            "Singing again".to_owned(),
            format!(
                "{A_PARAGRAPH_1}\n\n{C_PARAGRAPH_2}\n\n{}\n\n{B_PARAGRAPH_4}",
                PARAGRAPHS[2]
            ),
        )]
        .into_iter()
        .collect(),
        conflicts: [
            conflict("S", "attendance.p0", &[("absent", "B"), ("present", "A")]),
            conflict("S", "attendance.p1", &[("absent", "C"), ("present", "A")]),
            conflict(
                "S",
                "location",
                &[("Church hall", "B"), ("Village hall", "A")],
            ),
            conflict("T", "language", &[("en", "B"), ("gd", "C")]),
        ]
        .into_iter()
        .collect(),
        sessions: [(
            "S".to_owned(),
            (
                "2026-11-10T15:30:00Z".to_owned(),
                "2026-11-10T15:00:00Z".to_owned(),
                true,
            ),
        )]
        .into_iter()
        .collect(),
        flags: [("S".to_owned(), "end".to_owned())].into_iter().collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_database() {
    if bothy_tests::postgres_admin_url().is_none() {
        bothy_tests::print_skip("two servers on one database need PostgreSQL");
        return;
    }
    // The script on one server, on each backend.
    let Some(h) = Harness::start(Backend::Postgres).await else {
        return;
    };
    let single = run_script(&h, None).await;
    h.finish().await;
    let h = Harness::start(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let single_sqlite = run_script(&h, None).await;
    h.finish().await;

    // The same script with two servers on one database.
    let Some(h) = Harness::start(Backend::Postgres).await else {
        return;
    };
    let second = h.start_replica().await;
    assert_ne!(second.addr, h.addr);
    let double = run_script(&h, Some(second.addr)).await;
    second.stop().await;
    h.finish().await;

    assert_eq!(single, expected(), "the script on one server");
    assert_eq!(single_sqlite, single, "the script on one SQLite server");
    assert_eq!(double, single, "two servers give the outcome of one");
}

/// A device in the field with the proxy it syncs through.
struct FieldDevice {
    name: &'static str,
    device: Device,
    proxy: SyncProxy,
    servers: [SocketAddr; 2],
}

impl FieldDevice {
    /// Syncs through server `n` (0 or 1).
    async fn sync_via(&self, n: usize) -> SyncSummary {
        self.proxy.set_upstream(self.servers[n]);
        self.device
            .sync()
            .await
            .unwrap_or_else(|e| panic!("{} syncing via server {n}: {e}", self.name))
    }
}

fn wellbeing(
    participant: Uuid,
    session: Uuid,
    instrument: Instrument,
    items: &[i64],
) -> WellbeingForm {
    WellbeingForm {
        participant,
        instrument: instrument.to_string(),
        timepoint: "baseline".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
        session: Some(session),
        items: (1..=items.len() as u8).zip(items.iter().copied()).collect(),
    }
}

/// Runs the script with devices syncing to the harness's server and, if given, a second server
/// on the same database; checks convergence and agreement between servers; returns the outcome.
async fn run_script(h: &Harness, second: Option<SocketAddr>) -> Outcome {
    let servers = [h.addr, second.unwrap_or(h.addr)];
    let urls: Vec<String> = servers
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|a| format!("http://{a}"))
        .collect();
    h.project(PROJECT).await;
    let mut fields = Vec::new();
    for (i, (name, user)) in [("A", "ada"), ("B", "ben"), ("C", "cat")]
        .into_iter()
        .enumerate()
    {
        h.user(user, PROJECT, "researcher").await;
        // Enrol through either server too.
        let proxy = SyncProxy::start(servers[i % 2]).await;
        let device = h
            .device_at(user, &format!("tablet-{name}"), &proxy.url())
            .await;
        fields.push(FieldDevice {
            name,
            device,
            proxy,
            servers,
        });
    }
    let [a, b, c] = &fields[..] else {
        unreachable!()
    };
    let mut device_names: BTreeMap<String, String> = BTreeMap::new();
    for f in &fields {
        let status = f.device.status().await.unwrap();
        device_names.insert(status.device_id.unwrap(), f.name.to_owned());
    }

    // A sets up: six participants, the session, the story.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut people = Vec::new();
    for i in 0..6 {
        let p = a
            .device
            .create_participant(
                None,
                &[
                    ("consent.data_use", true.into()),
                    ("age_band", "75-84".into()),
                ],
            )
            .await
            .unwrap();
        names.insert(p.id.to_string(), format!("p{i}"));
        people.push(p.id);
    }
    let s = a
        .device
        .create_session(
            None,
            &[
                ("site", "glenelg-hall".into()),
                ("activity", "gaelic-choir".into()),
                ("activity_type", "choir".into()),
                ("start", "2026-11-10T14:00:00Z".into()),
                ("end", "2026-11-10T16:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    names.insert(s.to_string(), "S".into());
    let t = a
        .device
        .create_story(
            None,
            &[
                ("title", "Singing again".into()),
                ("consent_scope", "project".into()),
                ("body", FieldValue::from(PARAGRAPHS.join("\n\n"))),
            ],
        )
        .await
        .unwrap();
    names.insert(t.to_string(), "T".into());
    assert_eq!(a.sync_via(0).await.acked, 8);
    let (rb, rc) = tokio::join!(b.sync_via(1), c.sync_via(0));
    assert_eq!((rb.received, rc.received), (8, 8), "B and C bootstrap");

    // Concurrent edits on all three devices.
    let (ad, bd, cd) = (&a.device, &b.device, &c.device);
    ad.mark_attendance(s, people[0], AttendanceMark::Present)
        .await
        .unwrap();
    ad.mark_attendance(s, people[1], AttendanceMark::Present)
        .await
        .unwrap();
    ad.edit(s, |e| e.set("location", "Village hall"))
        .await
        .unwrap();
    let text = |p: [&str; 3]| p.join("\n\n");
    ad.edit_story_body(t, &text([A_PARAGRAPH_1, PARAGRAPHS[1], PARAGRAPHS[2]]))
        .await
        .unwrap();
    let w0 = ad
        .record_wellbeing(&wellbeing(people[0], s, Instrument::Wemwbs, &WEMWBS_1))
        .await
        .unwrap();

    bd.mark_attendance(s, people[2], AttendanceMark::Present)
        .await
        .unwrap();
    bd.mark_attendance(s, people[0], AttendanceMark::Absent)
        .await
        .unwrap();
    bd.edit(s, |e| e.set("location", "Church hall"))
        .await
        .unwrap();
    // B starts the session later, C ends it earlier: each valid, together invalid.
    bd.edit(s, |e| e.set("start", "2026-11-10T15:30:00Z"))
        .await
        .unwrap();
    bd.edit_story_body(
        t,
        &format!("{}\n\n{B_PARAGRAPH_4}", PARAGRAPHS.join("\n\n")),
    )
    .await
    .unwrap();
    let w2 = bd
        .record_wellbeing(&wellbeing(people[2], s, Instrument::Wemwbs, &WEMWBS_2))
        .await
        .unwrap();

    cd.mark_attendance(s, people[3], AttendanceMark::LeftEarly)
        .await
        .unwrap();
    cd.mark_attendance(s, people[1], AttendanceMark::Absent)
        .await
        .unwrap();
    cd.edit(s, |e| e.set("end", "2026-11-10T15:00:00Z"))
        .await
        .unwrap();
    cd.edit_story_body(t, &text([PARAGRAPHS[0], C_PARAGRAPH_2, PARAGRAPHS[2]]))
        .await
        .unwrap();
    let w4 = cd
        .record_wellbeing(&wellbeing(people[4], s, Instrument::Swemwbs, &SWEMWBS_1))
        .await
        .unwrap();
    for (w, p) in [(w0, 0), (w2, 2), (w4, 4)] {
        names.insert(w.to_string(), format!("w-p{p}"));
    }

    // Syncs alternating between servers, some at the same time.
    let (ra, rb) = tokio::join!(a.sync_via(0), b.sync_via(1));
    assert_eq!((ra.acked, rb.acked), (3, 3));
    for r in [&ra, &rb] {
        assert!(r.reports.is_empty(), "{:?}", r.reports);
    }
    let rc = c.sync_via(1).await;
    assert_eq!(rc.acked, 3);
    assert!(
        rc.reports.iter().all(|r| r.id == s
            && r.kind == bothy_sync_core::protocol::ReportKind::Flagged
            && r.field.as_deref() == Some("end")),
        "C hears that S needs review, and nothing else: {:?}",
        rc.reports
    );
    assert_eq!(rc.reports.len(), 1, "{:?}", rc.reports);
    let (ra, rb, rc) = tokio::join!(a.sync_via(1), b.sync_via(0), c.sync_via(0));
    for r in [&ra, &rb, &rc] {
        assert_eq!(r.pushed, 0, "nothing new to push");
        assert!(r.reports.is_empty(), "{:?}", r.reports);
    }

    // More concurrent edits after partial syncs.
    ad.mark_attendance(s, people[5], AttendanceMark::Present)
        .await
        .unwrap();
    bd.edit(t, |e| e.set("language", "en")).await.unwrap();
    cd.edit(t, |e| e.set("language", "gd")).await.unwrap();
    let (ra, rb) = tokio::join!(a.sync_via(1), b.sync_via(1));
    assert_eq!((ra.acked, rb.acked), (1, 1));
    // C's request goes to both servers at once, as a retry through a load balancer would.
    c.proxy.set_upstreams(&servers);
    let (r1, r2) = tokio::join!(cd.sync_once(), cd.sync_once());
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!((r1.pushed, r1.acked), (1, 1), "{r1:?}");
    assert_eq!((r2.pushed, r2.acked), (1, 1), "{r2:?}");
    assert_eq!(cd.status().await.unwrap().unsynced_records, 0);
    // Everyone catches up, then a last round finds nothing to move.
    for (f, n) in [(a, 0), (b, 1), (c, 0)] {
        f.sync_via(n).await;
    }
    for (f, n) in [(a, 1), (b, 0), (c, 1)] {
        let r = f.sync_via(n).await;
        assert_eq!((r.pushed, r.received), (0, 0), "{}: converged", f.name);
    }

    // Every replica holds identical documents; every server shows the same.
    let ids: Vec<Uuid> = ad.list(None).await.unwrap().iter().map(|r| r.id).collect();
    let mut flags = BTreeSet::new();
    for f in [b, c] {
        let theirs: BTreeSet<Uuid> = f
            .device
            .list(None)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            theirs,
            ids.iter().copied().collect(),
            "{} holds every record",
            f.name
        );
    }
    for id in &ids {
        let heads = device_heads(ad, *id).await;
        let view = ad.get(*id).await.unwrap();
        for f in [b, c] {
            assert_eq!(
                device_heads(&f.device, *id).await,
                heads,
                "{}: heads of {id}",
                f.name
            );
            let theirs = f.device.get(*id).await.unwrap();
            assert_eq!(theirs.view, view.view, "{}: view of {id}", f.name);
            assert_eq!(
                theirs.conflicts, view.conflicts,
                "{}: conflicts of {id}",
                f.name
            );
            assert_eq!(
                theirs.problems, view.problems,
                "{}: problems of {id}",
                f.name
            );
        }
        for url in &urls {
            let server = h.record_at(url, PROJECT, *id).await;
            assert_eq!(server_heads(&server), heads, "{url}: heads of {id}");
            let flagged: Vec<&str> = server["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["field"].as_str().unwrap())
                .collect();
            let problems: Vec<&str> = view.problems.iter().map(|p| p.field.as_str()).collect();
            assert_eq!(flagged, problems, "{url}: flags of {id} as on the devices");
            for f in flagged {
                flags.insert((names[&id.to_string()].clone(), f.to_owned()));
            }
            assert_eq!(
                server["record"],
                serde_json::to_value(&view.view.data).unwrap(),
                "{url}: view of {id}"
            );
        }
    }
    let conflict_lists: Vec<Value> = {
        let mut out = Vec::new();
        for url in &urls {
            out.push(
                h.get_at(url, &format!("/api/v1/projects/{PROJECT}/conflicts"))
                    .await,
            );
        }
        out
    };
    for other in &conflict_lists[1..] {
        assert_eq!(
            other, &conflict_lists[0],
            "both servers list the same conflicts"
        );
    }

    // Readable outcome.
    let rename = |field: &str| -> String {
        match field.split_once('.') {
            Some((top, key)) => format!("{top}.{}", names.get(key).map_or(key, String::as_str)),
            None => field.to_owned(),
        }
    };
    let mut conflicts = BTreeSet::new();
    let mut winners: BTreeMap<(String, String), String> = BTreeMap::new();
    for c in conflict_lists[0].as_array().unwrap() {
        let record = names[c["record_id"].as_str().unwrap()].clone();
        let field = rename(c["field"].as_str().unwrap());
        let mut values: Vec<(String, String)> = Vec::new();
        let mut won = Vec::new();
        for v in c["values"].as_array().unwrap() {
            let value = v["value"].as_str().unwrap().to_owned();
            let device = device_names[v["device_id"].as_str().expect("a device's value")].clone();
            if v["winner"] == true {
                won.push(value.clone());
            }
            values.push((value, device));
        }
        values.sort();
        assert_eq!(won.len(), 1, "one winner in {c}");
        winners.insert((record.clone(), field.clone()), won.remove(0));
        conflicts.insert((record, field, values));
    }

    let RecordData::Session(session) = ad.get(s).await.unwrap().view.data else {
        panic!("S is a session");
    };
    let rows = h
        .sql(
            "SELECT participant_id, status FROM attendance WHERE session_id = $1",
            &[&s.to_string()],
        )
        .await;
    let projected: BTreeMap<String, String> = rows
        .iter()
        .map(|r| {
            (
                r["participant_id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(rows.len(), projected.len());
    assert_eq!(
        projected, session.attendance,
        "attendance rows match the merged record"
    );
    let mut attendance = BTreeMap::new();
    for (pid, status) in &projected {
        let name = names[pid].clone();
        let key = ("S".to_owned(), format!("attendance.{name}"));
        let shown = match winners.get(&key) {
            Some(winner) => {
                assert_eq!(
                    status, winner,
                    "the winner is what the table shows for {name}"
                );
                let values = conflicts
                    .iter()
                    .find(|(r, f, _)| (r, f) == (&key.0, &key.1))
                    .map(|(_, _, v)| v.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>())
                    .unwrap();
                format!("conflict: {}", values.join("|"))
            }
            None => status.clone(),
        };
        attendance.insert(name, shown);
    }
    if let Some(location) = winners.get(&("S".to_owned(), "location".to_owned())) {
        assert_eq!(session.location.as_deref(), Some(location.as_str()));
    }

    let mut wellbeing_out = BTreeMap::new();
    for row in h
        .sql(
            "SELECT participant_id, instrument, raw_score, swemwbs_raw, metric_score, complete \
             FROM wellbeing_responses WHERE project = $1",
            &[PROJECT],
        )
        .await
    {
        assert_eq!(row["complete"], 1);
        wellbeing_out.insert(
            names[row["participant_id"].as_str().unwrap()].clone(),
            (
                row["instrument"].as_str().unwrap().to_owned(),
                row["raw_score"].as_i64().unwrap(),
                row["swemwbs_raw"].as_i64().unwrap(),
                format!("{:.2}", row["metric_score"].as_f64().unwrap()),
            ),
        );
    }
    let stories = h
        .sql(
            "SELECT title, body FROM stories WHERE project = $1",
            &[PROJECT],
        )
        .await
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap().to_owned(),
                r["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let sessions = h
        .sql(
            "SELECT id, starts_at, ends_at, needs_review FROM sessions WHERE project = $1",
            &[PROJECT],
        )
        .await
        .iter()
        .map(|r| {
            (
                names[r["id"].as_str().unwrap()].clone(),
                (
                    r["starts_at"].as_str().unwrap().to_owned(),
                    r["ends_at"].as_str().unwrap().to_owned(),
                    r["needs_review"].as_i64().unwrap() != 0,
                ),
            )
        })
        .collect();
    let records = h
        .sql(
            "SELECT COUNT(*) AS n FROM records WHERE project = $1",
            &[PROJECT],
        )
        .await[0]["n"]
        .as_i64()
        .unwrap() as usize;
    assert_eq!(records, ids.len(), "the server holds what the devices hold");
    Outcome {
        records,
        attendance,
        wellbeing: wellbeing_out,
        stories,
        conflicts,
        sessions,
        flags,
    }
}

/// Many devices pushing edits to the same two records at the same moment, half through each
/// server, for several rounds: every push is serialised per record, nothing is lost or logged
/// twice, and every replica ends with the same documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_pushes_to_one_record_through_two_servers() {
    const DEVICES: usize = 6;
    const ROUNDS: usize = 3;
    let Some(h) = Harness::start(Backend::Postgres).await else {
        return;
    };
    let second = h.start_replica().await;
    let servers = [h.addr, second.addr];
    h.project(PROJECT).await;
    let mut devices = Vec::new();
    for i in 0..DEVICES {
        let user = format!("worker{i}");
        h.user(&user, PROJECT, "researcher").await;
        let proxy = SyncProxy::start(servers[i % 2]).await;
        let device = h
            .device_at(&user, &format!("tablet-{i}"), &proxy.url())
            .await;
        devices.push(std::sync::Arc::new((device, proxy)));
    }
    let first = &devices[0].0;
    let s = first
        .create_session(
            None,
            &[
                ("site", "glenelg-hall".into()),
                ("activity", "gaelic-choir".into()),
                ("activity_type", "choir".into()),
                ("start", "2026-11-10T14:00:00Z".into()),
            ],
        )
        .await
        .unwrap();
    let t = first
        .create_story(
            None,
            &[
                ("title", "Many hands".into()),
                ("consent_scope", "project".into()),
                ("body", "".into()),
            ],
        )
        .await
        .unwrap();
    first.sync().await.unwrap();
    let mut people: Vec<Vec<Uuid>> = Vec::new();
    for d in &devices {
        d.0.sync().await.unwrap();
        let mut mine = Vec::new();
        for _ in 0..ROUNDS {
            mine.push(
                d.0.create_participant(None, &[("consent.data_use", true.into())])
                    .await
                    .unwrap()
                    .id,
            );
        }
        people.push(mine);
    }
    for round in 0..ROUNDS {
        for (i, d) in devices.iter().enumerate() {
            let (device, _) = &**d;
            device
                .mark_attendance(s, people[i][round], AttendanceMark::Present)
                .await
                .unwrap();
            let RecordData::Story(story) = device.get(t).await.unwrap().view.data else {
                panic!("a story");
            };
            device
                .edit_story_body(t, &format!("{}line {i}.{round}\n", story.body))
                .await
                .unwrap();
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (i, d) in devices.iter().enumerate() {
            let d = d.clone();
            d.1.set_upstream(servers[(i + round) % 2]);
            tasks.spawn(async move { d.0.sync().await });
        }
        while let Some(done) = tasks.join_next().await {
            let summary = done.unwrap().expect("sync succeeds");
            assert!(summary.reports.is_empty(), "{:?}", summary.reports);
        }
    }
    for round in 0..2 {
        for (i, d) in devices.iter().enumerate() {
            d.1.set_upstream(servers[(i + round) % 2]);
            d.0.sync().await.unwrap();
        }
    }

    let base: Vec<String> = servers.iter().map(|a| format!("http://{a}")).collect();
    let ids: Vec<Uuid> = first
        .list(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len(), 2 + DEVICES * ROUNDS);
    for id in &ids {
        let heads = device_heads(first, *id).await;
        for (i, d) in devices.iter().enumerate() {
            assert_eq!(device_heads(&d.0, *id).await, heads, "device {i}: {id}");
        }
        for url in &base {
            let server = h.record_at(url, PROJECT, *id).await;
            assert_eq!(server_heads(&server), heads, "{url}: {id}");
        }
    }
    let RecordData::Story(story) = first.get(t).await.unwrap().view.data else {
        panic!("a story");
    };
    for i in 0..DEVICES {
        for round in 0..ROUNDS {
            let line = format!("line {i}.{round}\n");
            assert_eq!(
                story.body.matches(&line).count(),
                1,
                "{line:?} in {:?}",
                story.body
            );
        }
    }
    assert_eq!(story.body.len(), DEVICES * ROUNDS * "line 0.0\n".len());
    let rows = h
        .sql(
            "SELECT COUNT(*) AS n FROM attendance WHERE session_id = $1",
            &[&s.to_string()],
        )
        .await;
    assert_eq!(rows[0]["n"], (DEVICES * ROUNDS) as i64);
    let stored = h
        .sql("SELECT body FROM stories WHERE id = $1", &[&t.to_string()])
        .await;
    assert_eq!(stored[0]["body"], story.body.as_str());
    // One log row per change, sequence numbers without duplicates.
    let log = h
        .sql(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT seq) AS seqs, COUNT(DISTINCT hash) AS hashes \
             FROM change_log WHERE record_id = $1",
            &[&s.to_string()],
        )
        .await;
    assert_eq!(log[0]["n"], log[0]["hashes"]);
    assert_eq!(log[0]["n"], log[0]["seqs"]);
    assert_eq!(
        log[0]["n"],
        (1 + DEVICES * ROUNDS) as i64,
        "creation and every mark"
    );
    second.stop().await;
    h.finish().await;
}
