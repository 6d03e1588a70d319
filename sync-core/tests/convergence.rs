//! Convergence under random edits and random delivery.
//!
//! Three devices and one server hold the same three records (a session, a WEMWBS response and a
//! story), created on device 0 and handed out. Devices edit offline: attendance marks, WEMWBS
//! answers (now and then an out-of-range answer written straight into the document, as a buggy
//! client could), text edits of the story body and session notes, the session's end. Messages
//! carry "my changes since some point" between any two replicas and are delivered late, out of
//! order, twice or never (a later message retries). The server takes a device's changes only
//! through `merge_incoming`, under that device's actor, and compensates bad values; devices
//! merge plainly. At the end everyone gets everything, and then:
//!
//! * every replica has the same heads, the same view and the same conflicts;
//! * no edit is lost: every attendance mark, answer and end written is present with one of the
//!   values written for it (and exactly that value if only one was ever written, even when bad
//!   answers were written over it: a compensation puts back the last valid value in the
//!   history, never nothing); every text character inserted is present unless someone deleted
//!   it; text runs keep their order;
//! * bad answers are neutralised (the records are valid, no conflict shows a bad value) and
//!   each is reported at most once.
//!
//! An ordinary `cargo test` runs 1,024 cases; `BOTHY_PROPTEST_CASES` sets another number (the
//! soak, `ops/bench/soak`). Failures are kept in `convergence.proptest-regressions`, next to
//! this file, and replayed first.
//!
//! Text inserts use characters that occur once in the whole run, so a text edit made through
//! `Editor::set` (a character diff) means exactly the insertion or deletion intended.

mod common;

use bothy_sync_core::automerge::transaction::Transactable;
use bothy_sync_core::automerge::{ActorId, ChangeHash};
use bothy_sync_core::record::{RecordData, RecordView};
use bothy_sync_core::{
    FieldValue, RecordDoc, RecordKind, Verdict, conflicts, merge_incoming, server_actor,
};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::collections::{BTreeMap, BTreeSet};

const DEVICES: usize = 3;
/// The server is the replica after the devices.
const SERVER: usize = DEVICES;
const REPLICAS: usize = DEVICES + 1;
const SESSION: usize = 0;
const WELLBEING: usize = 1;
const STORY: usize = 2;
const PEOPLE: u8 = 6;
const MARKS: [&str; 3] = ["present", "absent", "left_early"];
const BAD_ANSWERS: [i64; 3] = [0, 6, 7];

#[derive(Debug, Clone)]
enum Step {
    Mark {
        device: usize,
        person: u8,
        mark: usize,
    },
    Answer {
        device: usize,
        item: u8,
        value: i64,
    },
    BadAnswer {
        device: usize,
        item: u8,
        value: usize,
    },
    Text {
        device: usize,
        story: bool,
        at: u16,
        delete: usize,
        insert: usize,
    },
    End {
        device: usize,
        minutes: i64,
    },
    Send {
        from: usize,
        to: usize,
        since: u16,
    },
    Deliver {
        pick: u16,
        keep: bool,
    },
    Drop {
        pick: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let device = 0..DEVICES;
    prop_oneof![
        3 => (device.clone(), 0..PEOPLE, 0..MARKS.len())
            .prop_map(|(device, person, mark)| Step::Mark { device, person, mark }),
        3 => (device.clone(), 1..=14u8, 1..=5i64)
            .prop_map(|(device, item, value)| Step::Answer { device, item, value }),
        1 => (device.clone(), 1..=14u8, 0..BAD_ANSWERS.len())
            .prop_map(|(device, item, value)| Step::BadAnswer { device, item, value }),
        3 => (device.clone(), any::<bool>(), any::<u16>(), 0..4usize, 0..4usize).prop_map(
            |(device, story, at, delete, insert)| Step::Text { device, story, at, delete, insert }
        ),
        1 => (device, 0..480i64).prop_map(|(device, minutes)| Step::End { device, minutes }),
        5 => (0..REPLICAS, 1..REPLICAS, any::<u16>()).prop_map(|(from, hop, since)| Step::Send {
            from,
            to: (from + hop) % REPLICAS,
            since,
        }),
        5 => (any::<u16>(), any::<bool>()).prop_map(|(pick, keep)| Step::Deliver { pick, keep }),
        1 => any::<u16>().prop_map(|pick| Step::Drop { pick }),
    ]
}

struct Replica {
    actor: ActorId,
    docs: Vec<RecordDoc>,
    /// Heads each record had after each step, so a message can start from any earlier point.
    history: Vec<Vec<Vec<ChangeHash>>>,
}

impl Replica {
    fn snapshot(&mut self) {
        for (doc, hist) in self.docs.iter_mut().zip(&mut self.history) {
            let heads = doc.heads();
            if hist.last() != Some(&heads) {
                hist.push(heads);
            }
        }
    }
}

struct Message {
    from: usize,
    to: usize,
    /// Raw changes for each record.
    records: Vec<Vec<Vec<u8>>>,
}

/// Everything written, to check that nothing was lost.
#[derive(Default)]
struct Written {
    marks: BTreeMap<u8, BTreeSet<&'static str>>,
    answers: BTreeMap<u8, BTreeSet<i64>>,
    bad_answers: BTreeMap<(String, String), usize>,
    ends: BTreeSet<String>,
    /// Each insertion into the story body (`true`) or the session notes (`false`), in order,
    /// the initial texts first.
    runs: Vec<(bool, Vec<char>)>,
    deleted: BTreeSet<char>,
    next_char: u32,
}

impl Written {
    fn fresh(&mut self, story: bool, n: usize) -> Vec<char> {
        let run: Vec<char> = (0..n)
            .map(|_| {
                self.next_char += 1;
                char::from_u32(0x4E00 + self.next_char).unwrap()
            })
            .collect();
        self.runs.push((story, run.clone()));
        run
    }
}

/// Scales a random `x` to an index below `len` (`len` > 0).
fn scale(x: u16, len: usize) -> usize {
    x as usize * len / (u16::MAX as usize + 1)
}

fn end_at(minutes: i64) -> String {
    format!(
        "2026-11-01T{:02}:{:02}:00Z",
        10 + minutes / 60,
        minutes % 60
    )
}

struct World {
    replicas: Vec<Replica>,
    network: Vec<Message>,
    written: Written,
    quarantined: Vec<(String, String)>,
    clock: i64,
}

impl World {
    fn new() -> World {
        let mut written = Written::default();
        let body: String = written.fresh(true, 8).into_iter().collect();
        let notes: String = written.fresh(false, 8).into_iter().collect();
        let creator = device(1);
        let mut session_fields = session_fields();
        session_fields.retain(|(k, _)| *k != "notes");
        session_fields.push(("notes", notes.into()));
        let session = RecordDoc::create(
            creator.clone(),
            RecordKind::Session,
            PROJECT,
            &session_fields,
            T0,
        )
        .unwrap();
        written.ends.insert("2026-11-01T12:00:00Z".into());
        // Items 1..=13 answered 3, item 14 not yet.
        let answers: Vec<Option<i64>> = (1..=14).map(|i| (i < 14).then_some(3)).collect();
        for item in 1..14u8 {
            written.answers.entry(item).or_default().insert(3);
        }
        let wellbeing = create_with(
            creator.clone(),
            RecordKind::Wellbeing,
            &wemwbs_fields(&answers),
        )
        .unwrap();
        let mut story_fields = story_fields();
        story_fields.retain(|(k, _)| *k != "body");
        story_fields.push(("body", FieldValue::from(body)));
        let story = RecordDoc::create(
            creator.clone(),
            RecordKind::Story,
            PROJECT,
            &story_fields,
            T0,
        )
        .unwrap();
        let mut originals = [session, wellbeing, story];

        let mut replicas = Vec::new();
        for r in 0..REPLICAS {
            let actor = if r == SERVER {
                server_actor()
            } else {
                device(r as u8 + 1)
            };
            let docs = originals
                .iter_mut()
                .map(|doc| {
                    if r == SERVER {
                        let v = merge_incoming(
                            None,
                            &raw(&changes_since(doc, &[])),
                            &policy(creator.clone()),
                        );
                        match v {
                            Verdict::Accepted(a) => {
                                assert!(a.compensation.is_none() && a.flagged.is_empty());
                                a.doc
                            }
                            other => panic!("the server refused a new record: {other:?}"),
                        }
                    } else {
                        RecordDoc::load(&doc.save(), actor.clone()).unwrap()
                    }
                })
                .collect();
            let mut rep = Replica {
                actor,
                docs,
                history: vec![Vec::new(); 3],
            };
            rep.snapshot();
            replicas.push(rep);
        }
        World {
            replicas,
            network: Vec::new(),
            written,
            quarantined: Vec::new(),
            clock: T0,
        }
    }

    fn edit(
        &mut self,
        device: usize,
        record: usize,
        edits: impl FnOnce(&mut bothy_sync_core::Editor<'_>),
    ) {
        self.clock += 1;
        let doc = &mut self.replicas[device].docs[record];
        if let Err(e) = doc.edit(self.clock, edits) {
            panic!("a valid edit was refused on device {device}: {e}");
        }
        self.replicas[device].snapshot();
    }

    fn run(&mut self, step: &Step) {
        match *step {
            Step::Mark {
                device,
                person,
                mark,
            } => {
                self.written
                    .marks
                    .entry(person)
                    .or_default()
                    .insert(MARKS[mark]);
                let path = format!("attendance.{}", participant(person));
                self.edit(device, SESSION, |e| e.set(&path, MARKS[mark]));
            }
            Step::Answer {
                device,
                item,
                value,
            } => {
                self.written.answers.entry(item).or_default().insert(value);
                self.edit(device, WELLBEING, |e| {
                    e.set(&format!("items.{item}"), value)
                });
            }
            Step::BadAnswer {
                device,
                item,
                value,
            } => {
                let value = BAD_ANSWERS[value];
                let doc = &mut self.replicas[device].docs[WELLBEING];
                let items = map_id(doc, "items");
                doc.automerge()
                    .put(&items, item.to_string(), value)
                    .unwrap();
                self.clock += 1;
                if doc
                    .automerge()
                    .commit_with(
                        bothy_sync_core::automerge::transaction::CommitOptions::default()
                            .with_time(self.clock),
                    )
                    .is_some()
                {
                    *self
                        .written
                        .bad_answers
                        .entry((format!("items.{item}"), value.to_string()))
                        .or_default() += 1;
                }
                self.replicas[device].snapshot();
            }
            Step::Text {
                device,
                story,
                at,
                delete,
                insert,
            } => {
                let (record, field) = if story {
                    (STORY, "body")
                } else {
                    (SESSION, "notes")
                };
                let current: Vec<char> =
                    text(&self.replicas[device].docs[record].view().unwrap(), story)
                        .chars()
                        .collect();
                let at = scale(at, current.len() + 1);
                let delete = delete.min(current.len() - at);
                self.written.deleted.extend(&current[at..at + delete]);
                let fresh = self.written.fresh(story, insert);
                let new: String = current[..at]
                    .iter()
                    .chain(&fresh)
                    .chain(&current[at + delete..])
                    .collect();
                self.edit(device, record, |e| e.set(field, new));
            }
            Step::End { device, minutes } => {
                let end = end_at(minutes);
                self.written.ends.insert(end.clone());
                self.edit(device, SESSION, |e| e.set("end", end));
            }
            Step::Send { from, to, since } => {
                let rep = &mut self.replicas[from];
                let records = (0..3)
                    .map(|r| {
                        let hist = &rep.history[r];
                        let point = hist[scale(since, hist.len())].clone();
                        let mut changes = changes_since(&mut rep.docs[r], &point);
                        if to == SERVER {
                            // A device pushes only what it wrote itself.
                            changes.retain(|c| c.actor_id() == &rep.actor);
                        }
                        raw(&changes)
                    })
                    .collect();
                self.network.push(Message { from, to, records });
            }
            Step::Deliver { pick, keep } => {
                if self.network.is_empty() {
                    return;
                }
                let i = scale(pick, self.network.len());
                let msg = if keep {
                    let m = &self.network[i];
                    Message {
                        from: m.from,
                        to: m.to,
                        records: m.records.clone(),
                    }
                } else {
                    self.network.remove(i)
                };
                self.deliver(&msg);
            }
            Step::Drop { pick } => {
                if !self.network.is_empty() {
                    let i = scale(pick, self.network.len());
                    self.network.remove(i);
                }
            }
        }
    }

    fn deliver(&mut self, msg: &Message) {
        for (record, changes) in msg.records.iter().enumerate() {
            if msg.to == SERVER {
                self.push_to_server(msg.from, record, changes);
            } else {
                let decoded = bothy_sync_core::merge::decode_changes(changes).unwrap();
                self.replicas[msg.to].docs[record]
                    .automerge()
                    .apply_changes(decoded)
                    .unwrap();
            }
        }
        self.replicas[msg.to].snapshot();
    }

    /// Returns whether the server now has every change sent.
    fn push_to_server(&mut self, from: usize, record: usize, changes: &[Vec<u8>]) -> bool {
        if changes.is_empty() {
            return true;
        }
        let sender = self.replicas[from].actor.clone();
        let stored = self.replicas[SERVER].docs[record].clone();
        match merge_incoming(Some(stored), changes, &policy(sender)) {
            Verdict::AlreadyHave => true,
            Verdict::MissingDependencies(_) => false,
            Verdict::Accepted(a) => {
                if let Some(c) = &a.compensation {
                    assert_eq!(c.actor_id(), &server_actor());
                }
                assert!(a.flagged.is_empty(), "flagged: {:?}", a.flagged);
                for q in &a.quarantined {
                    self.quarantined.push((q.field.clone(), q.value.clone()));
                }
                self.replicas[SERVER].docs[record] = a.doc;
                self.replicas[SERVER].snapshot();
                true
            }
            Verdict::Refused { code, message } => {
                panic!("the server refused device {from}'s changes: {code:?} {message}")
            }
        }
    }

    /// Every device pushes everything it wrote, one change at a time in order, until the
    /// server has it all; then every device takes everything the server has.
    fn settle(&mut self) {
        loop {
            let mut progress = false;
            let mut complete = true;
            for d in 0..DEVICES {
                for record in 0..3 {
                    let actor = self.replicas[d].actor.clone();
                    let own: Vec<_> = changes_since(&mut self.replicas[d].docs[record], &[])
                        .into_iter()
                        .filter(|c| c.actor_id() == &actor)
                        .collect();
                    for c in own {
                        let hash = c.hash();
                        if self.replicas[SERVER].docs[record]
                            .automerge()
                            .get_change_by_hash(&hash)
                            .is_some()
                        {
                            continue;
                        }
                        if self.push_to_server(d, record, &raw(&[c])) {
                            progress = true;
                        } else {
                            complete = false;
                            break;
                        }
                    }
                }
            }
            if complete {
                break;
            }
            assert!(progress, "pushing stalled");
        }
        for record in 0..3 {
            let all = changes_since(&mut self.replicas[SERVER].docs[record], &[]);
            for d in 0..DEVICES {
                self.replicas[d].docs[record]
                    .automerge()
                    .apply_changes(all.clone())
                    .unwrap();
            }
        }
    }
}

fn text(view: &RecordView, story: bool) -> String {
    match (&view.data, story) {
        (RecordData::Story(s), true) => s.body.clone(),
        (RecordData::Session(s), false) => s.notes.clone(),
        _ => panic!("wrong record"),
    }
}

fn check(world: &mut World) {
    // Identical everywhere.
    for record in 0..3 {
        let server = &mut world.replicas[SERVER].docs[record];
        let heads = sorted_heads(server);
        let view = server.view().unwrap();
        let conf = conflicts(server.automerge_ref());
        assert!(
            server.validate().is_empty(),
            "record {record}: {:?}",
            server.validate()
        );
        for c in &conf {
            assert_eq!(c.values.iter().filter(|v| v.winner).count(), 1, "{c:?}");
            assert!(c.values.len() >= 2);
        }
        for d in 0..DEVICES {
            let doc = &mut world.replicas[d].docs[record];
            assert_eq!(
                sorted_heads(doc),
                heads,
                "heads of record {record} on device {d}"
            );
            assert_eq!(
                doc.view().unwrap(),
                view,
                "view of record {record} on device {d}"
            );
            assert_eq!(
                conflicts(doc.automerge_ref()),
                conf,
                "conflicts of record {record} on device {d}"
            );
        }
    }
    let w = &world.written;
    let session = world.replicas[SERVER].docs[SESSION].view().unwrap();
    let wellbeing = world.replicas[SERVER].docs[WELLBEING].view().unwrap();
    let story = world.replicas[SERVER].docs[STORY].view().unwrap();

    // Attendance and the end.
    let RecordData::Session(s) = &session.data else {
        unreachable!()
    };
    for person in 0..PEOPLE {
        let got = s.attendance.get(&participant(person)).map(String::as_str);
        match w.marks.get(&person) {
            None => assert_eq!(got, None),
            Some(written) => {
                let got = got.unwrap_or_else(|| panic!("attendance of {person} lost"));
                assert!(
                    written.contains(got),
                    "{got} was never written for {person}"
                );
                if written.len() == 1 {
                    assert_eq!(written.first(), Some(&got));
                }
            }
        }
    }
    assert!(
        w.ends.contains(s.end.as_deref().unwrap()),
        "end {:?}",
        s.end
    );

    // Answers: valid, written by someone, never lost.
    let RecordData::Wellbeing(wb) = &wellbeing.data else {
        unreachable!()
    };
    for item in 1..=14u8 {
        let got = wb.items.get(&item);
        match w.answers.get(&item) {
            None => assert_eq!(got, None, "item {item} was only ever given bad answers"),
            Some(written) => {
                let got = *got.unwrap_or_else(|| panic!("answer to item {item} lost"));
                assert!(written.contains(&got), "item {item}: {got} never written");
                // One valid answer ever written is the answer, bad answers or not: a
                // compensation puts back the last valid value, never nothing.
                if written.len() == 1 {
                    assert_eq!(Some(&got), written.first(), "item {item}");
                }
            }
        }
    }
    let conf = conflicts(world.replicas[SERVER].docs[WELLBEING].automerge_ref());
    for c in &conf {
        for v in &c.values {
            assert!(
                !["0", "6", "7"].contains(&v.value.as_str()),
                "bad value lingers: {c:?}"
            );
        }
    }
    // Each bad answer is reported at most once, and only bad answers are reported; without
    // bad answers the server never writes.
    if w.bad_answers.is_empty() {
        assert!(world.quarantined.is_empty());
        for record in 0..3 {
            let doc = &mut world.replicas[SERVER].docs[record];
            assert!(
                changes_since(doc, &[])
                    .iter()
                    .all(|c| c.actor_id() != &server_actor())
            );
        }
    }
    let mut reported: BTreeMap<(String, String), usize> = BTreeMap::new();
    for q in &world.quarantined {
        *reported.entry(q.clone()).or_default() += 1;
    }
    for (q, n) in &reported {
        let written = w.bad_answers.get(q).copied().unwrap_or(0);
        assert!(
            *n <= written,
            "{q:?} reported {n} times, written {written} times"
        );
    }

    // Text: exactly the characters inserted and not deleted, each run in order.
    for (view, is_story) in [(&story, true), (&session, false)] {
        let t: Vec<char> = text(view, is_story).chars().collect();
        let pos: BTreeMap<char, usize> = t.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        assert_eq!(pos.len(), t.len(), "a character appears twice");
        let mut expected = BTreeSet::new();
        for (i, (_, run)) in w
            .runs
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| *s == is_story)
        {
            let surviving: Vec<usize> = run.iter().filter_map(|c| pos.get(c).copied()).collect();
            assert!(
                surviving.windows(2).all(|p| p[0] < p[1]),
                "run {i} out of order"
            );
            expected.extend(run.iter().copied().filter(|c| !w.deleted.contains(c)));
        }
        let present: BTreeSet<char> = t.into_iter().collect();
        assert_eq!(present, expected, "story: {is_story}");
    }
}

/// Where proptest keeps the inputs of past failures, replayed before any new case. Named
/// directly: proptest's default looks for a `lib.rs` beside the test, which an integration test
/// does not have.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/convergence.proptest-regressions"
);

/// Cases in an ordinary `cargo test`.
const CASES: u32 = 1024;

/// The property's configuration: [`CASES`] cases, or as many as `BOTHY_PROPTEST_CASES` says (a
/// soak run, `ops/bench/soak`), with failures kept in [`REGRESSIONS`].
fn config() -> ProptestConfig {
    let cases = match std::env::var("BOTHY_PROPTEST_CASES") {
        Ok(v) => match v.trim().parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => panic!("BOTHY_PROPTEST_CASES must be a whole number of cases above 0, got {v:?}"),
        },
        Err(_) => CASES,
    };
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn replicas_converge_and_lose_nothing(steps in prop::collection::vec(step(), 10..70)) {
        let mut world = World::new();
        for s in &steps {
            world.run(s);
        }
        world.settle();
        check(&mut world);
    }
}

#[test]
fn a_fixed_busy_day_converges() {
    // A deterministic run with every kind of step, as a check of the harness itself.
    let mut world = World::new();
    let steps = [
        Step::Mark {
            device: 0,
            person: 1,
            mark: 0,
        },
        Step::Mark {
            device: 1,
            person: 1,
            mark: 1,
        },
        Step::Answer {
            device: 2,
            item: 14,
            value: 4,
        },
        Step::BadAnswer {
            device: 1,
            item: 14,
            value: 2,
        },
        Step::Text {
            device: 0,
            story: true,
            at: 0,
            delete: 2,
            insert: 3,
        },
        Step::Text {
            device: 1,
            story: true,
            at: u16::MAX,
            delete: 0,
            insert: 2,
        },
        Step::Text {
            device: 2,
            story: false,
            at: 30_000,
            delete: 3,
            insert: 1,
        },
        Step::End {
            device: 2,
            minutes: 90,
        },
        Step::Send {
            from: 1,
            to: SERVER,
            since: 0,
        },
        Step::Send {
            from: SERVER,
            to: 0,
            since: 0,
        },
        Step::Send {
            from: 2,
            to: 0,
            since: 0,
        },
        Step::Deliver {
            pick: 0,
            keep: true,
        },
        Step::Deliver {
            pick: 0,
            keep: false,
        },
        Step::Drop { pick: 0 },
        Step::Deliver {
            pick: 0,
            keep: false,
        },
    ];
    for s in &steps {
        world.run(s);
    }
    world.settle();
    check(&mut world);
    assert_eq!(
        world.quarantined,
        [("items.14".to_string(), "7".to_string())]
    );
    let RecordData::Wellbeing(w) = world.replicas[0].docs[WELLBEING].view().unwrap().data else {
        unreachable!()
    };
    assert_eq!(
        w.items.get(&14),
        Some(&4),
        "the good answer survives the bad one's removal"
    );
}

#[test]
fn compensated_invalid_answer_keeps_last_valid_value() {
    // A device answers item 14, then writes an out-of-range answer over it, and pushes both
    // changes at once: the server's compensation puts back the answer the device gave before
    // the bad one, not the server's own earlier state (where item 14 was unanswered).
    let mut world = World::new();
    let steps = [
        Step::Answer {
            device: 1,
            item: 14,
            value: 1,
        },
        Step::BadAnswer {
            device: 1,
            item: 14,
            value: 0,
        },
        Step::Send {
            from: 1,
            to: SERVER,
            since: 0,
        },
        Step::Deliver {
            pick: 0,
            keep: false,
        },
        Step::Mark {
            device: 0,
            person: 2,
            mark: 1,
        },
        Step::Send {
            from: 0,
            to: 2,
            since: 0,
        },
    ];
    for s in &steps {
        world.run(s);
    }
    // The server compensated on delivery, before anyone settled.
    let RecordData::Wellbeing(w) = world.replicas[SERVER].docs[WELLBEING].view().unwrap().data
    else {
        unreachable!()
    };
    assert_eq!(
        w.items.get(&14),
        Some(&1),
        "the compensation restores the last valid answer"
    );
    assert_eq!(
        world.quarantined,
        [("items.14".to_string(), "0".to_string())]
    );
    world.settle();
    check(&mut world);
    for d in 0..DEVICES {
        let RecordData::Wellbeing(w) = world.replicas[d].docs[WELLBEING].view().unwrap().data
        else {
            unreachable!()
        };
        assert_eq!(w.items.get(&14), Some(&1), "device {d}");
    }
}
