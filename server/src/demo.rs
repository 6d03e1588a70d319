//! The demo programme (`bothy-server demo`): a project clearly marked as a demo, filled with a
//! synthetic year of a community programme, so that someone trying Bothy sees every report,
//! chart and export with figures that look real.
//!
//! [`generate`] is pure: a seeded generator (the same seed, start date and size always give
//! the same records, ids included) makes participants over four sites and six weekly
//! activities (about one in eight referred but never coming), their sessions with attendance
//! that falls away as people drop out, WEMWBS (or
//! SWEMWBS) and ONS4 questionnaires at baseline and after ten to fourteen weeks with a
//! realistic average improvement, referral dates, contact details that are plainly made up,
//! and stories in each consent scope. Every free-text value says the data is synthetic.
//!
//! [`create`] writes them as the server writes its own records: Automerge documents under the
//! server's actor, with their projections and change-log rows, in transactions of
//! [`BATCH`] records, so the devices of the project's members pull them like any other.
//! [`remove`] deletes a demo project and everything in it, and refuses any other project.

use crate::error::{ApiError, ApiResult};
use crate::storage::records::{Batch, LogEntry, RecordWrite};
use crate::storage::{self, Db};
use bothy_sync_core::{FieldValue, RecordDoc, RecordKind};
use chrono::{Datelike, Duration, NaiveDate};
use uuid::Uuid;

/// The default slug of the demo project.
pub const DEFAULT_SLUG: &str = "demo";
/// The default seed.
pub const DEFAULT_SEED: u64 = 2026;
/// The default number of participants.
pub const DEFAULT_PARTICIPANTS: usize = 300;
/// The most participants a demo may have.
pub const MAX_PARTICIPANTS: usize = 5_000;
/// The demo project's name: it says the people are synthetic.
pub const DEMO_NAME: &str = "Demo programme (synthetic people, not real data)";
/// Records written per transaction.
pub const BATCH: usize = 500;
/// Weeks in the demo year.
const WEEKS: i64 = 52;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// The project's slug.
    pub slug: String,
    /// The generator's seed.
    pub seed: u64,
    /// How many participants.
    pub participants: usize,
    /// The first day of the year of sessions (a Monday).
    pub start: NaiveDate,
}

impl DemoOptions {
    /// A demo whose year ends in the week of `today`: it starts on the Monday 51 weeks before
    /// that week's Monday.
    pub fn ending(slug: &str, seed: u64, participants: usize, today: NaiveDate) -> DemoOptions {
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        DemoOptions {
            slug: slug.to_owned(),
            seed,
            participants,
            start: monday - Duration::weeks(WEEKS - 1),
        }
    }
}

/// A site of the demo programme.
#[derive(Debug, Clone, Copy)]
pub struct DemoSite {
    /// Its slug.
    pub slug: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Whether most of its participants live in rural areas.
    pub rural: bool,
    /// Whether it uses the short WEMWBS (SWEMWBS) rather than the full scale.
    pub swemwbs: bool,
}

/// An activity of the demo programme: weekly at one site.
#[derive(Debug, Clone, Copy)]
pub struct DemoActivity {
    /// Its slug.
    pub slug: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its activity type.
    pub activity_type: &'static str,
    /// The site it runs at.
    pub site: &'static str,
    /// Its day of the week (0: Monday).
    pub weekday: i64,
    /// The hour it starts (UTC).
    pub hour: u32,
    /// How many of the programme's participants join it, relative to the others.
    pub popularity: f64,
}

/// The four sites.
pub const SITES: [DemoSite; 4] = [
    DemoSite {
        slug: "harbour-hall",
        name: "Harbour Hall",
        rural: true,
        swemwbs: false,
    },
    DemoSite {
        slug: "mill-street-library",
        name: "Mill Street Library",
        rural: false,
        swemwbs: false,
    },
    DemoSite {
        slug: "glen-garden",
        name: "Glen Community Garden",
        rural: true,
        swemwbs: false,
    },
    DemoSite {
        slug: "town-arts-centre",
        name: "Town Arts Centre",
        rural: false,
        swemwbs: true,
    },
];

/// The six activities.
pub const ACTIVITIES: [DemoActivity; 6] = [
    DemoActivity {
        slug: "community-choir",
        name: "Community choir",
        activity_type: "choir",
        site: "harbour-hall",
        weekday: 1,
        hour: 18,
        popularity: 0.20,
    },
    DemoActivity {
        slug: "heritage-crafts",
        name: "Heritage crafts",
        activity_type: "heritage",
        site: "mill-street-library",
        weekday: 2,
        hour: 10,
        popularity: 0.15,
    },
    DemoActivity {
        slug: "green-walk",
        name: "Green walk",
        activity_type: "walking",
        site: "glen-garden",
        weekday: 3,
        hour: 10,
        popularity: 0.20,
    },
    DemoActivity {
        slug: "theatre-group",
        name: "Theatre group",
        activity_type: "theatre",
        site: "town-arts-centre",
        weekday: 0,
        hour: 18,
        popularity: 0.12,
    },
    DemoActivity {
        slug: "peer-support",
        name: "Peer support circle",
        activity_type: "peer_support",
        site: "mill-street-library",
        weekday: 4,
        hour: 13,
        popularity: 0.15,
    },
    DemoActivity {
        slug: "open-arts",
        name: "Open arts studio",
        activity_type: "arts",
        site: "town-arts-centre",
        weekday: 2,
        hour: 14,
        popularity: 0.18,
    },
];

/// One record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRecord {
    /// Its id.
    pub id: Uuid,
    /// Its kind.
    pub kind: RecordKind,
    /// Its fields (paths as in `Editor::set`).
    pub fields: Vec<(String, FieldValue)>,
    /// Its author's clock when it was made (Unix seconds).
    pub at: i64,
}

/// What [`generate`] makes.
#[derive(Debug, Clone, Default)]
pub struct DemoData {
    /// Every record, participants first, then contacts, sessions, questionnaires and stories.
    pub records: Vec<DemoRecord>,
}

impl DemoData {
    /// How many records of a kind.
    pub fn count(&self, kind: RecordKind) -> usize {
        self.records.iter().filter(|r| r.kind == kind).count()
    }
}

/// A small, fast generator (SplitMix64) whose sequence never changes with a dependency's
/// version: the same seed always gives the same demo.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// An index drawn with these weights.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as i64 - 1) as usize]
    }

    /// A version 7 id whose time is `at` (Unix seconds) and whose other bits are drawn.
    fn id(&mut self, at: i64) -> Uuid {
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes()[..2]);
        let millis = u64::try_from(at).unwrap_or(0) * 1000;
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }
}

/// Unix seconds of a day at an hour (UTC).
fn at(day: NaiveDate, hour: u32) -> i64 {
    day.and_hms_opt(hour, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

/// A participant as the generator sees them.
struct Person {
    id: Uuid,
    activities: Vec<usize>,
    /// The week of their first session.
    joined: i64,
    /// Weeks they keep coming (from `joined`).
    stays: i64,
    /// How often they come while they do.
    rate: f64,
    /// Referred and registered, but never came to a session (nor answered a questionnaire).
    never: bool,
    /// Their WEMWBS score at baseline (14-70 scale).
    baseline: f64,
    /// Their change at the end of their course, and at the later follow-up.
    change_end: f64,
    change_follow_up: f64,
    /// How their ONS4 answers sit relative to the mean (standard deviations).
    level: f64,
}

/// A week's day of an activity.
fn day_of(start: NaiveDate, activity: &DemoActivity, week: i64) -> NaiveDate {
    start + Duration::days(7 * week + activity.weekday)
}

/// Makes the demo: the same options always give the same records.
pub fn generate(opts: &DemoOptions) -> DemoData {
    let mut rng = Rng(opts.seed ^ 0x0062_6f74_6879_2d64);
    let slug_sites = |a: &DemoActivity| SITES.iter().position(|s| s.slug == a.site).unwrap_or(0);
    // Weeks an activity does not run: the two weeks around the new year, and a few others.
    let held: Vec<Vec<bool>> = ACTIVITIES
        .iter()
        .map(|a| {
            (0..WEEKS)
                .map(|w| {
                    let day = day_of(opts.start, a, w);
                    let holiday = (day.month() == 12 && day.day() >= 23)
                        || (day.month() == 1 && day.day() <= 3);
                    !holiday && !rng.chance(0.04)
                })
                .collect()
        })
        .collect();
    let popularity: Vec<f64> = ACTIVITIES.iter().map(|a| a.popularity).collect();
    let mut out = DemoData::default();
    let mut people = Vec::with_capacity(opts.participants);

    // Participants: a cohort at the launch, then a steady trickle until the autumn.
    for i in 0..opts.participants {
        let home = rng.weighted(&popularity);
        let mut activities = vec![home];
        if rng.chance(0.2) {
            let other = rng.weighted(&popularity);
            if other != home {
                activities.push(other);
            }
        }
        let mut joined = if rng.chance(0.35) {
            rng.range(0, 3)
        } else {
            rng.range(0, 40)
        };
        while joined < WEEKS - 1 && !held[home][joined as usize] {
            joined += 1;
        }
        let activity = &ACTIVITIES[home];
        let site = &SITES[slug_sites(activity)];
        let first = day_of(opts.start, activity, joined);
        let registered = at(first, activity.hour);
        // Weekly chance of dropping out, so about half stay beyond ten weeks.
        let hazard = 0.03 + 0.05 * rng.unit();
        let mut stays = 1;
        while stays < WEEKS && !rng.chance(hazard) {
            stays += 1;
        }
        let level = rng.normal();
        let baseline = (41.0 + 8.5 * level).clamp(16.0, 68.0);
        let change_end = 3.2 + 6.5 * rng.normal() + if stays >= 10 { 1.0 } else { -1.0 };
        let change_follow_up = 0.8 * change_end + 3.0 * rng.normal();
        let id = rng.id(registered);
        let contact_consent = rng.chance(0.7);
        let mut fields: Vec<(String, FieldValue)> = vec![
            ("code".into(), format!("DEMO-{:04}", i + 1).into()),
            ("consent.data_use".into(), rng.chance(0.95).into()),
            ("consent.story_sharing".into(), rng.chance(0.6).into()),
            ("consent.contact".into(), contact_consent.into()),
            ("consent.date".into(), first.to_string().into()),
            ("consent.version".into(), "Demo consent form v1".into()),
            (
                "age_band".into(),
                AGE_BANDS[rng.weighted(&AGE_WEIGHTS)].into(),
            ),
            (
                "gender".into(),
                GENDERS[rng.weighted(&GENDER_WEIGHTS)].into(),
            ),
            (
                "ethnic_group".into(),
                ETHNIC_GROUPS[rng.weighted(&ETHNIC_WEIGHTS)].into(),
            ),
            (
                "imd_decile".into(),
                FieldValue::Int(1 + rng.weighted(&IMD_WEIGHTS) as i64),
            ),
            (
                "rurality".into(),
                if rng.chance(if site.rural { 0.8 } else { 0.15 }) {
                    "rural"
                } else {
                    "urban"
                }
                .into(),
            ),
            (
                "referral.source".into(),
                REFERRAL_SOURCES[rng.weighted(&REFERRAL_WEIGHTS)].into(),
            ),
            (
                "referral.date".into(),
                (first - Duration::days(rng.range(0, 21)))
                    .to_string()
                    .into(),
            ),
            (
                "referral.reason".into(),
                "Synthetic referral for the demo programme".into(),
            ),
        ];
        // The registration date, where the schema records it.
        if bothy_sync_core::schema::field(RecordKind::Participant, "registered_on").is_some() {
            fields.push(("registered_on".into(), first.to_string().into()));
        }
        let contact = contact_consent && rng.chance(0.6);
        out.records.push(DemoRecord {
            id,
            kind: RecordKind::Participant,
            fields,
            at: registered,
        });
        if contact {
            out.records.push(DemoRecord {
                id: rng.id(registered),
                kind: RecordKind::Contact,
                fields: vec![
                    ("participant".into(), id.to_string().into()),
                    ("name".into(), format!("Demo Person {:04}", i + 1).into()),
                    // Ofcom's range of numbers for drama: never a real phone.
                    (
                        "phone".into(),
                        format!("07700 900{:03}", (i + 1) % 1000).into(),
                    ),
                    (
                        "postcode_district".into(),
                        (*rng.pick(&["ZZ1", "ZZ2", "ZZ3", "ZZ9"])).into(),
                    ),
                    (
                        "notes".into(),
                        "Synthetic contact details (demo programme): not a real person".into(),
                    ),
                ],
                at: registered,
            });
        }
        people.push(Person {
            id,
            activities,
            joined,
            stays,
            rate: 0.65 + 0.3 * rng.unit(),
            never: rng.chance(0.12),
            baseline,
            change_end,
            change_follow_up,
            level,
        });
    }

    // Sessions, week by week, with the attendance of everyone who still comes.
    let mut session_of = std::collections::HashMap::new();
    for (a, activity) in ACTIVITIES.iter().enumerate() {
        for w in 0..WEEKS {
            if !held[a][w as usize] {
                continue;
            }
            let day = day_of(opts.start, activity, w);
            let start = at(day, activity.hour);
            let id = rng.id(start);
            session_of.insert((a, w), id);
            let mut fields: Vec<(String, FieldValue)> = vec![
                ("site".into(), activity.site.into()),
                ("activity".into(), activity.slug.into()),
                ("activity_type".into(), activity.activity_type.into()),
                (
                    "start".into(),
                    format!("{day}T{:02}:00:00Z", activity.hour).into(),
                ),
                (
                    "end".into(),
                    format!("{day}T{:02}:00:00Z", activity.hour + 2).into(),
                ),
                ("location".into(), SITES[slug_sites(activity)].name.into()),
                (
                    "unregistered_attendees".into(),
                    FieldValue::Int(rng.weighted(&[0.45, 0.25, 0.15, 0.1, 0.05]) as i64),
                ),
                (
                    format!("facilitators.Demo facilitator {}", 1 + a % 3),
                    true.into(),
                ),
            ];
            if rng.chance(0.3) {
                fields.push((
                    format!("facilitators.Demo volunteer {}", 1 + rng.range(0, 4)),
                    true.into(),
                ));
            }
            for p in &people {
                if p.never || !p.activities.contains(&a) || w < p.joined {
                    continue;
                }
                let mark = if w == p.joined && p.activities[0] == a {
                    Some(if rng.chance(0.03) {
                        "left_early"
                    } else {
                        "present"
                    })
                } else if w < p.joined + p.stays {
                    if rng.chance(p.rate) {
                        Some(if rng.chance(0.04) {
                            "left_early"
                        } else {
                            "present"
                        })
                    } else {
                        rng.chance(0.5).then_some("absent")
                    }
                } else {
                    None
                };
                if let Some(mark) = mark {
                    fields.push((format!("attendance.{}", p.id), mark.into()));
                }
            }
            out.records.push(DemoRecord {
                id,
                kind: RecordKind::Session,
                fields,
                at: start,
            });
        }
    }

    // Questionnaires: a baseline at the first session; the end of the course ten to fourteen
    // weeks on for most of those still coming (and some who stopped); a later follow-up.
    let last_day = opts.start + Duration::days(7 * WEEKS - 1);
    for p in people.iter().filter(|p| !p.never) {
        let home = p.activities[0];
        let activity = &ACTIVITIES[home];
        let short = SITES[slug_sites(activity)].swemwbs;
        let first = day_of(opts.start, activity, p.joined);
        let session = session_of.get(&(home, p.joined)).copied();
        let mut times: Vec<(&str, NaiveDate, f64)> = vec![("baseline", first, 0.0)];
        if rng.chance(0.25) && p.stays > 6 {
            times.push((
                "interim",
                day_of(opts.start, activity, p.joined + 6),
                0.5 * p.change_end,
            ));
        }
        let end_week = p.joined + rng.range(10, 14);
        let still = end_week < p.joined + p.stays;
        let end = day_of(opts.start, activity, end_week);
        if end <= last_day && rng.chance(if still { 0.9 } else { 0.35 }) {
            times.push(("end", end, p.change_end));
            let later = day_of(opts.start, activity, p.joined + rng.range(26, 30));
            if later <= last_day && rng.chance(0.5) {
                times.push(("follow_up", later, p.change_follow_up));
            }
        }
        let with_ons4 = rng.chance(0.8);
        for (timepoint, day, change) in times {
            let when = at(day, activity.hour + 1);
            let score = (p.baseline + change).clamp(14.0, 70.0);
            let (instrument, items) = if short {
                ("SWEMWBS", 7)
            } else {
                ("WEMWBS", 14)
            };
            let mut fields: Vec<(String, FieldValue)> = vec![
                ("participant".into(), p.id.to_string().into()),
                ("instrument".into(), instrument.into()),
                ("timepoint".into(), timepoint.into()),
                ("date".into(), day.to_string().into()),
            ];
            if timepoint == "baseline"
                && let Some(s) = session
            {
                fields.push(("session".into(), s.to_string().into()));
            }
            let mut ons4 = fields.clone();
            for item in 1..=items {
                let answer = (score / 14.0 + 0.6 * rng.normal()).round().clamp(1.0, 5.0);
                fields.push((format!("items.{item}"), FieldValue::Int(answer as i64)));
            }
            out.records.push(DemoRecord {
                id: rng.id(when),
                kind: RecordKind::Wellbeing,
                fields,
                at: when,
            });
            if with_ons4 && (timepoint == "baseline" || rng.chance(0.8)) {
                ons4[1].1 = "ONS4".into();
                let lift = change / 4.0;
                let mut answer = |mean: f64, sign: f64, sd: f64| {
                    let v = mean + sign * (1.8 * p.level + lift) + sd * rng.normal();
                    FieldValue::Int(v.round().clamp(0.0, 10.0) as i64)
                };
                let items = [
                    answer(5.6, 1.0, 1.0),
                    answer(6.3, 1.0, 1.0),
                    answer(5.9, 1.0, 1.2),
                    answer(4.3, -0.9, 1.6),
                ];
                for (n, v) in items.into_iter().enumerate() {
                    ons4.push((format!("items.{}", n + 1), v));
                }
                out.records.push(DemoRecord {
                    id: rng.id(when + 60),
                    kind: RecordKind::Wellbeing,
                    fields: ons4,
                    at: when + 60,
                });
            }
        }
    }

    // Stories: as many in each consent scope, most about a participant (with or without their
    // consent to share stories), some about a session as a whole.
    let per_scope = if people.is_empty() {
        0
    } else {
        (opts.participants / 10).max(3)
    };
    for scope in bothy_sync_core::schema::STORY_CONSENT_SCOPES {
        for n in 0..per_scope {
            let p = &people[rng.range(0, people.len() as i64 - 1) as usize];
            let activity = &ACTIVITIES[p.activities[0]];
            let week = (p.joined + rng.range(1, 10)).min(WEEKS - 1);
            let day = day_of(opts.start, activity, week).min(last_day);
            let when = at(day, 16);
            let (title, line) = *rng.pick(&STORY_LINES);
            let mut fields: Vec<(String, FieldValue)> = vec![
                (
                    "title".into(),
                    format!("{title} ({}, demo)", activity.name.to_lowercase()).into(),
                ),
                (
                    "body".into(),
                    format!(
                        "A synthetic story written for the Bothy demo programme: no real person \
                         is described. {line} It was told at the {} and written down with the \
                         teller's words kept where possible.",
                        activity.name.to_lowercase()
                    )
                    .into(),
                ),
                (
                    "author".into(),
                    if n.is_multiple_of(2) {
                        "Demo peer worker"
                    } else {
                        "Demo facilitator"
                    }
                    .into(),
                ),
                ("consent_scope".into(), (*scope).into()),
                ("language".into(), "en".into()),
            ];
            for theme in STORY_THEMES {
                if rng.chance(0.35) {
                    fields.push((format!("themes.{theme}"), true.into()));
                }
            }
            if rng.chance(0.8) {
                fields.push(("participant".into(), p.id.to_string().into()));
            } else if let Some(s) = session_of.get(&(p.activities[0], p.joined)) {
                fields.push(("session".into(), s.to_string().into()));
            }
            out.records.push(DemoRecord {
                id: rng.id(when),
                kind: RecordKind::Story,
                fields,
                at: when,
            });
        }
    }
    out
}

const AGE_BANDS: [&str; 8] = [
    "16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+",
];
const AGE_WEIGHTS: [f64; 8] = [0.06, 0.09, 0.11, 0.15, 0.19, 0.21, 0.14, 0.05];
const GENDERS: [&str; 5] = ["woman", "man", "non_binary", "other", "prefer_not_to_say"];
const GENDER_WEIGHTS: [f64; 5] = [0.58, 0.36, 0.02, 0.01, 0.03];
const ETHNIC_GROUPS: [&str; 6] = [
    "asian",
    "black",
    "mixed",
    "white",
    "other",
    "prefer_not_to_say",
];
const ETHNIC_WEIGHTS: [f64; 6] = [0.07, 0.04, 0.03, 0.80, 0.02, 0.04];
/// Deciles 1 to 10: the programme reaches the most deprived areas most.
const IMD_WEIGHTS: [f64; 10] = [0.2, 0.17, 0.15, 0.11, 0.09, 0.08, 0.06, 0.05, 0.05, 0.04];
const REFERRAL_SOURCES: [&str; 7] = [
    "gp",
    "link_worker",
    "self",
    "memory_support_worker",
    "mental_health_practitioner",
    "community_organisation",
    "other",
];
const REFERRAL_WEIGHTS: [f64; 7] = [0.18, 0.32, 0.2, 0.04, 0.1, 0.12, 0.04];
const STORY_THEMES: [&str; 5] = [
    "connection",
    "confidence",
    "routine",
    "creativity",
    "outdoors",
];
const STORY_LINES: [(&str, &str); 6] = [
    (
        "Finding a voice again",
        "After months of hardly leaving the house, singing with others made the week feel \
         like it had a shape.",
    ),
    (
        "Something to get up for",
        "Having somewhere to be on the same morning each week helped more than expected.",
    ),
    (
        "Hands busy, mind quiet",
        "Learning an old craft alongside others made it easier to talk about harder things.",
    ),
    (
        "Out in all weathers",
        "Walking the same path through the seasons gave a sense of time passing kindly.",
    ),
    (
        "Not the only one",
        "Hearing others describe the same struggles made asking for help feel ordinary.",
    ),
    (
        "Trying something new",
        "Taking a small part in the play was frightening at first and then a real pleasure.",
    ),
];

/// What [`create`] wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Created {
    /// Participant records.
    pub participants: usize,
    /// Contact records.
    pub contacts: usize,
    /// Session records.
    pub sessions: usize,
    /// Questionnaire responses.
    pub responses: usize,
    /// Stories.
    pub stories: usize,
}

/// Creates the demo project `opts.slug`, marked as a demo, and fills it: sites, activities,
/// a follow-up schedule, and the generated records written as the server's own, with their
/// change-log rows, [`BATCH`] to a transaction. Refuses a slug already taken (`409`). Should
/// a write fail part way, the project is already marked as a demo: [`remove`] deletes it.
pub async fn create(db: &Db, opts: &DemoOptions) -> ApiResult<Created> {
    bothy_sync_core::validate::check_project_slug(&opts.slug)
        .map_err(|e| ApiError::bad("invalid_slug", e.to_string()))?;
    if opts.participants == 0 || opts.participants > MAX_PARTICIPANTS {
        return Err(ApiError::bad(
            "invalid_participants",
            format!("participants must be 1 to {MAX_PARTICIPANTS}"),
        ));
    }
    let now = storage::now();
    let mut tx = db.begin_write().await?;
    if !storage::projects::insert(&mut *tx, &opts.slug, DEMO_NAME, now).await? {
        return Err(ApiError::Conflict(format!(
            "project `{slug}` already exists: choose another --slug, or, if it is a demo, \
             remove it first (bothy-server demo --remove --yes --slug {slug})",
            slug = opts.slug
        )));
    }
    storage::demo::mark_demo(&mut *tx, &opts.slug).await?;
    for site in &SITES {
        storage::setup::insert_site(&mut *tx, &opts.slug, site.slug, site.name, now).await?;
    }
    for a in &ACTIVITIES {
        storage::setup::insert_activity(
            &mut *tx,
            &opts.slug,
            storage::setup::NewActivity {
                slug: a.slug,
                name: a.name,
                activity_type: a.activity_type,
                site: Some(a.site),
            },
            now,
        )
        .await?;
    }
    let schedule = [
        bothy_sync_core::followup::FollowUp {
            timepoint: "end".into(),
            after_weeks: Some(12),
            after_sessions: None,
        },
        bothy_sync_core::followup::FollowUp {
            timepoint: "follow_up".into(),
            after_weeks: Some(26),
            after_sessions: None,
        },
    ];
    storage::setup::replace_followup_schedule(&mut tx, &opts.slug, &schedule, now).await?;
    let actor = crate::sync::server_actor(&mut *tx).await?;
    tx.commit().await?;

    let data = {
        let opts = opts.clone();
        tokio::task::spawn_blocking(move || generate(&opts))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("the demo generator failed: {e}")))?
    };
    let created = Created {
        participants: data.count(RecordKind::Participant),
        contacts: data.count(RecordKind::Contact),
        sessions: data.count(RecordKind::Session),
        responses: data.count(RecordKind::Wellbeing),
        stories: data.count(RecordKind::Story),
    };
    let mut records = data.records;
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(BATCH));
        let chunk = std::mem::replace(&mut records, rest);
        let (slug, actor) = (opts.slug.clone(), actor.clone());
        let (batch, log) = tokio::task::spawn_blocking(move || documents(&slug, &actor, chunk))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("the demo generator failed: {e}")))??;
        let mut tx = db.begin_write().await?;
        batch.flush(&mut tx, now).await?;
        storage::records::append_log(&mut tx, log, now).await?;
        tx.commit().await?;
    }
    crate::access::audit::record(
        &db.pool,
        &crate::access::audit::Actor::system(),
        "demo.create",
        Some(&opts.slug),
        None,
        serde_json::json!({
            "via": "server command line",
            "seed": opts.seed,
            "start": opts.start.to_string(),
            "created": created,
        }),
    )
    .await?;
    Ok(created)
}

/// The documents of some generated records, as the server writes its own: their writes and
/// change-log rows.
fn documents(
    project: &str,
    actor: &bothy_sync_core::automerge::ActorId,
    records: Vec<DemoRecord>,
) -> ApiResult<(Batch, Vec<LogEntry>)> {
    let mut batch = Batch::default();
    let mut log = Vec::new();
    for r in records {
        let fields: Vec<(&str, FieldValue)> = r
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let id = r.id.to_string();
        let mut doc = RecordDoc::create(actor.clone(), r.kind, project, &fields, r.at)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("demo {} {id}: {e}", r.kind)))?;
        for c in doc.automerge().get_changes(&[]) {
            log.push(LogEntry::of(&id, project, None, &c));
        }
        batch.add(RecordWrite::of(&id, &mut doc, &[])?);
    }
    Ok((batch, log))
}

/// Removes the demo project `slug` and everything in it, in one transaction, and notes it in
/// the audit log. `404` when there is no such project; `409` when it is not a demo (nothing
/// is deleted). The project's members lose their membership, so at their next sync their
/// devices delete every record of it (a project their roles no longer include).
pub async fn remove(db: &Db, slug: &str) -> ApiResult<storage::demo::Removed> {
    let mut tx = db.begin_write().await?;
    // No sync stores a record while the project's rows go (syncs share this lock).
    db.lock_erasures(&mut tx, true).await?;
    match storage::demo::remove(&mut tx, slug).await? {
        storage::demo::Removal::NotFound => Err(ApiError::NotFound(format!("no project `{slug}`"))),
        storage::demo::Removal::NotDemo => Err(ApiError::Conflict(format!(
            "project `{slug}` is not a demo project: only a project made by `bothy-server demo` \
             can be removed this way"
        ))),
        storage::demo::Removal::Removed(removed) => {
            crate::access::audit::record(
                &mut *tx,
                &crate::access::audit::Actor::system(),
                "demo.remove",
                Some(slug),
                None,
                serde_json::json!({"via": "server command line", "removed": removed}),
            )
            .await?;
            tx.commit().await?;
            Ok(removed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn options(seed: u64, participants: usize) -> DemoOptions {
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        DemoOptions::ending("demo", seed, participants, today)
    }

    fn text<'a>(r: &'a DemoRecord, key: &str) -> Option<&'a str> {
        r.fields
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                FieldValue::Str(s) => Some(s.as_str()),
                _ => None,
            })
    }

    #[test]
    fn the_year_ends_in_the_week_of_today() {
        let o = options(1, 10);
        assert_eq!(o.start.weekday(), chrono::Weekday::Mon);
        let last = o.start + Duration::days(7 * WEEKS - 1);
        assert!(last >= NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
        assert!(last < NaiveDate::from_ymd_opt(2026, 12, 12).unwrap());
    }

    #[test]
    fn the_same_seed_gives_the_same_demo() {
        let a = generate(&options(2026, 120));
        let b = generate(&options(2026, 120));
        assert_eq!(a.records, b.records);
        let c = generate(&options(2027, 120));
        assert_ne!(a.records, c.records);
        let ids: std::collections::HashSet<Uuid> = a.records.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), a.records.len(), "ids are unique");
    }

    #[test]
    fn a_year_of_a_programme_over_four_sites_and_six_activities() {
        let d = generate(&options(DEFAULT_SEED, DEFAULT_PARTICIPANTS));
        assert_eq!(d.count(RecordKind::Participant), DEFAULT_PARTICIPANTS);
        let sessions: Vec<&DemoRecord> = d
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::Session)
            .collect();
        // Six weekly activities, less holidays and a few cancellations.
        assert!((250..=312).contains(&sessions.len()), "{}", sessions.len());
        let sites: std::collections::BTreeSet<&str> =
            sessions.iter().filter_map(|s| text(s, "site")).collect();
        assert_eq!(sites.len(), 4);
        let activities: std::collections::BTreeSet<&str> = sessions
            .iter()
            .filter_map(|s| text(s, "activity"))
            .collect();
        assert_eq!(activities.len(), 6);
        // Attendance falls away: more marks in the first half of a person's weeks than later,
        // and some sessions have people who were not registered.
        let marks: usize = sessions
            .iter()
            .map(|s| {
                s.fields
                    .iter()
                    .filter(|(k, _)| k.starts_with("attendance."))
                    .count()
            })
            .sum();
        assert!(marks > 3 * DEFAULT_PARTICIPANTS, "{marks}");
        assert!(d.count(RecordKind::Contact) > 50);
        // Every participant has a referral date before (or on) their consent date.
        for p in d
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::Participant)
        {
            let referral = text(p, "referral.date").unwrap();
            let consent = text(p, "consent.date").unwrap();
            assert!(referral <= consent, "{referral} {consent}");
            assert!(text(p, "code").unwrap().starts_with("DEMO-"));
        }
    }

    #[test]
    fn stories_in_every_consent_scope_with_and_without_sharing_consent() {
        let d = generate(&options(DEFAULT_SEED, DEFAULT_PARTICIPANTS));
        let sharing: HashMap<String, bool> = d
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::Participant)
            .map(|r| {
                let ok = r
                    .fields
                    .iter()
                    .any(|(k, v)| k == "consent.story_sharing" && *v == FieldValue::Bool(true));
                (r.id.to_string(), ok)
            })
            .collect();
        for scope in bothy_sync_core::schema::STORY_CONSENT_SCOPES {
            let stories: Vec<&DemoRecord> = d
                .records
                .iter()
                .filter(|r| r.kind == RecordKind::Story && text(r, "consent_scope") == Some(*scope))
                .collect();
            assert!(stories.len() >= 20, "{scope}: {}", stories.len());
            let about: Vec<bool> = stories
                .iter()
                .filter_map(|s| text(s, "participant").map(|p| sharing[p]))
                .collect();
            assert!(about.contains(&true), "{scope}");
            assert!(about.contains(&false), "{scope}");
            assert!(
                stories
                    .iter()
                    .all(|s| text(s, "body").unwrap().contains("synthetic"))
            );
        }
    }

    /// Baseline and end WEMWBS totals, by participant.
    fn wemwbs_pairs(d: &DemoData, instrument: &str) -> Vec<(i64, i64)> {
        let mut by: HashMap<(&str, &str), i64> = HashMap::new();
        for r in d.records.iter().filter(|r| r.kind == RecordKind::Wellbeing) {
            if text(r, "instrument") != Some(instrument) {
                continue;
            }
            let total: i64 = r
                .fields
                .iter()
                .filter(|(k, _)| k.starts_with("items."))
                .map(|(_, v)| match v {
                    FieldValue::Int(n) => *n,
                    _ => 0,
                })
                .sum();
            by.insert(
                (
                    text(r, "participant").unwrap(),
                    text(r, "timepoint").unwrap(),
                ),
                total,
            );
        }
        by.iter()
            .filter(|((_, t), _)| *t == "baseline")
            .filter_map(|((p, _), before)| by.get(&(*p, "end")).map(|after| (*before, *after)))
            .collect()
    }

    #[test]
    fn enough_pairs_with_a_realistic_improvement() {
        let d = generate(&options(DEFAULT_SEED, DEFAULT_PARTICIPANTS));
        let pairs = wemwbs_pairs(&d, "WEMWBS");
        assert!(pairs.len() >= 100, "{} WEMWBS pairs", pairs.len());
        let n = pairs.len() as f64;
        let mean_before = pairs.iter().map(|p| p.0 as f64).sum::<f64>() / n;
        let mean_change = pairs.iter().map(|p| (p.1 - p.0) as f64).sum::<f64>() / n;
        assert!((35.0..48.0).contains(&mean_before), "{mean_before}");
        assert!((1.0..6.0).contains(&mean_change), "{mean_change}");
        // Not everyone improves.
        assert!(pairs.iter().any(|p| p.1 < p.0));
        assert!(wemwbs_pairs(&d, "SWEMWBS").len() >= 20);
        let ons4_ends = d
            .records
            .iter()
            .filter(|r| {
                text(r, "instrument") == Some("ONS4") && text(r, "timepoint") == Some("end")
            })
            .count();
        assert!(ons4_ends >= 50, "{ons4_ends}");
    }

    #[test]
    fn every_record_validates() {
        let d = generate(&options(7, 150));
        let actor = bothy_sync_core::server_actor_for(&[7; 16]);
        for r in &d.records {
            let fields: Vec<(&str, FieldValue)> = r
                .fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            let doc = RecordDoc::create(actor.clone(), r.kind, "demo", &fields, r.at)
                .unwrap_or_else(|e| panic!("{} {}: {e}", r.kind, r.id));
            assert!(doc.validate().is_empty(), "{} {}", r.kind, r.id);
            assert_eq!(doc.envelope().unwrap().created, r.at);
        }
    }
}
