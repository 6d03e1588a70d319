//! Reports for analysts and coordinators: wellbeing outcomes (baseline to end), attendance and
//! retention, the referral funnel, equity breakdowns and the quarterly programme report.
//!
//! Scope: person-level figures count participants who consented to data use; when a site or
//! activity filter is given, only those who attended a matching session. Attendance counts come
//! from the sessions matching the filters. Outcomes pair a participant's baseline (their
//! earliest complete `baseline` response for a measure) with their latest complete response at
//! the follow-up timepoint (`end` by default) dated on or after it; `from`/`to` select pairs by
//! the follow-up date. That pairing ([`paired`]) is the only one: the outcomes and equity reports
//! count its pairs and the `outcome_pairs` export lists them ([`outcome_pair_rows`]).
//!
//! Disclosure control ([`crate::analysis::disclosure`]): every published count of people is at least 5;
//! smaller counts and the cells that would let them be recovered from totals are suppressed
//! (`null`), and shares and statistics are given only where they derive from published counts.
//! Statistics ([`crate::analysis::stats`]) are withheld for groups whose count of pairs is suppressed.

use crate::analysis::disclosure::{self, Hidden, MIN_COUNT};
use crate::analysis::export::{Filters, Thresholds, Val};
use crate::analysis::redact::Redactor;
use crate::analysis::stats::{self, PairedStats};
use crate::error::ApiError;
use crate::storage::{self, Db};
use bothy_sync_core::instrument::{self, Complete, Definition, Method};
use bothy_sync_core::schema;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

/// A consenting participant.
#[derive(Debug, Clone)]
pub struct Person {
    pub(crate) id: String,
    /// The day they registered: as typed on the device, else their record's creation day.
    registered: Option<NaiveDate>,
    /// The day they were referred, if given.
    referred: Option<NaiveDate>,
    age_band: Option<String>,
    gender: Option<String>,
    ethnic_group: Option<String>,
    imd_decile: Option<i64>,
    rurality: Option<String>,
    referral_source: Option<String>,
    /// Sessions attended (present or left early) among the matching sessions.
    attended: u64,
}

/// A matching session.
#[derive(Debug, Clone)]
pub struct Session {
    date: NaiveDate,
    site: String,
    activity: String,
    activity_type: String,
    /// Registered attendees (every participant) plus unregistered ones.
    attendees: u64,
}

/// A complete wellbeing response of a person in scope.
#[derive(Debug, Clone)]
pub struct Response {
    participant: String,
    instrument: String,
    /// The version of its definition (1 for the built-ins).
    version: u32,
    timepoint: String,
    date: NaiveDate,
    id: String,
    raw: Option<i64>,
    metric: Option<f64>,
    /// The score analysed, as the projection stored it (any instrument with a total).
    score: Option<f64>,
    items: BTreeMap<u8, i64>,
}

/// What every report is computed from, loaded once per request. Memory is bounded by the
/// number of participants, sessions and responses in scope: attendance marks are streamed
/// from the database and counted per participant, never held.
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// The project's slug (its own instruments are looked up by it).
    project: String,
    people: Vec<Person>,
    /// Every consenting participant in scope before the date filter, by id: the groups of
    /// the people whose outcome pairs are counted.
    pub(crate) everyone: HashMap<String, Person>,
    sessions: Vec<Session>,
    responses: Vec<Response>,
    filters: Filters,
}

fn date_of(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

impl Data {
    /// Loads a project's data in scope of the filters. Sites and activities are typed in the
    /// field: they are shown as analysts see them ([`Redactor::redact`]).
    pub async fn load(db: &Db, project: &str, f: &Filters) -> Result<Data, sqlx::Error> {
        let redactor = Redactor::load(db, project).await?;
        let mut sessions = Vec::new();
        let mut session_ids = HashSet::new();
        for r in storage::analysis::report_sessions(&db.pool, project).await? {
            let Some(date) = date_of(&r.starts_at) else {
                continue;
            };
            let (site, activity) = (r.site, r.activity);
            if f.site.as_ref().is_some_and(|s| *s != site)
                || f.activity.as_ref().is_some_and(|a| *a != activity)
                || f.from.is_some_and(|d| date < d)
                || f.to.is_some_and(|d| date > d)
            {
                continue;
            }
            session_ids.insert(r.id);
            sessions.push(Session {
                date,
                site: redactor.redact(&site),
                activity: redactor.redact(&activity),
                activity_type: r.activity_type,
                attendees: (r.registered + r.unregistered_attendees).max(0) as u64,
            });
        }
        sessions.sort_by_key(|s| s.date);

        // Attendance per participant among matching sessions, counted as the rows stream by.
        let mut attended: HashMap<String, u64> = HashMap::new();
        use futures_util::TryStreamExt;
        let mut rows = storage::analysis::attended(db, project);
        while let Some(r) = rows.try_next().await? {
            if session_ids.contains(&r.session_id) {
                *attended.entry(r.participant_id).or_default() += 1;
            }
        }

        let narrowed = f.site.is_some() || f.activity.is_some();
        let mut people = Vec::new();
        for r in storage::analysis::report_participants(&db.pool, project).await? {
            let n = attended.get(&r.id).copied().unwrap_or(0);
            if narrowed && n == 0 {
                continue;
            }
            people.push(Person {
                registered: r.registered_on.as_deref().and_then(date_of).or_else(|| {
                    chrono::DateTime::from_timestamp(r.created_at, 0).map(|d| d.date_naive())
                }),
                referred: r.referral_date.as_deref().and_then(date_of),
                id: r.id,
                age_band: r.age_band,
                gender: r.gender,
                ethnic_group: r.ethnic_group,
                imd_decile: r.imd_decile,
                rurality: r.rurality,
                referral_source: r.referral_source,
                attended: n,
            });
        }
        let in_scope: HashSet<&str> = people.iter().map(|p| p.id.as_str()).collect();

        let mut responses = Vec::new();
        for r in storage::analysis::report_responses(&db.pool, project).await? {
            if !in_scope.contains(r.participant_id.as_str()) {
                continue;
            }
            let Some(date) = date_of(&r.response_date) else {
                continue;
            };
            if f.to.is_some_and(|d| date > d) {
                continue;
            }
            let items: BTreeMap<String, i64> = serde_json::from_str(&r.items).unwrap_or_default();
            let Ok(version) = u32::try_from(r.instrument_version) else {
                continue;
            };
            responses.push(Response {
                participant: r.participant_id,
                instrument: r.instrument,
                version,
                score: r.score,
                timepoint: r.timepoint,
                date,
                id: r.id,
                raw: r.raw_score,
                metric: r.metric_score,
                items: items
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                    .collect(),
            });
        }
        let everyone: HashMap<String, Person> =
            people.iter().map(|p| (p.id.clone(), p.clone())).collect();
        // The population of person-level figures: registered within the dates, when given.
        let people = people
            .into_iter()
            .filter(|p| {
                narrowed
                    || (f.from.is_none_or(|d| p.registered.is_some_and(|r| r >= d))
                        && f.to.is_none_or(|d| p.registered.is_some_and(|r| r <= d)))
                    || p.attended > 0
            })
            .collect();
        Ok(Data {
            project: project.to_owned(),
            people,
            everyone,
            sessions,
            responses,
            filters: f.clone(),
        })
    }
}

/// The follow-up timepoint paired with baseline.
pub fn follow_up_timepoint(t: Option<&str>) -> Result<&'static str, ApiError> {
    match t.unwrap_or("end") {
        "end" => Ok("end"),
        "interim" => Ok("interim"),
        "follow_up" => Ok("follow_up"),
        other => Err(ApiError::bad(
            "invalid_query",
            format!("`timepoint` for outcomes must be end, interim or follow_up, not `{other}`"),
        )),
    }
}

/// A measure outcomes are reported on.
#[derive(Debug, Clone)]
pub enum Measure {
    /// WEMWBS raw score.
    Wemwbs,
    /// SWEMWBS metric score, of SWEMWBS forms and of the SWEMWBS items of WEMWBS forms.
    Swemwbs,
    /// One ONS4 item (1 to 4).
    Ons4(u8),
    /// The total score of one version of another instrument with a total (a sum or a mean):
    /// UCLA3 or a project's own.
    Total(Arc<Definition>),
}

const MEASURES: [Measure; 6] = [
    Measure::Wemwbs,
    Measure::Swemwbs,
    Measure::Ons4(1),
    Measure::Ons4(2),
    Measure::Ons4(3),
    Measure::Ons4(4),
];

/// `3 points: the configured threshold`.
fn configured(t: f64) -> String {
    format!("{} points: the configured threshold", format_points(t))
}

impl Measure {
    pub(crate) fn name(&self) -> String {
        match self {
            Measure::Wemwbs => "wemwbs".into(),
            Measure::Swemwbs => "swemwbs".into(),
            Measure::Ons4(1) => "ons4_life_satisfaction".into(),
            Measure::Ons4(2) => "ons4_worthwhile".into(),
            Measure::Ons4(3) => "ons4_happiness".into(),
            Measure::Ons4(_) => "ons4_anxiety".into(),
            Measure::Total(d) if d.version == 1 => d.id.to_ascii_lowercase(),
            Measure::Total(d) => format!("{}_v{}", d.id.to_ascii_lowercase(), d.version),
        }
    }
    fn label(&self) -> String {
        match self {
            Measure::Wemwbs => "WEMWBS (raw score, 14-70)".into(),
            Measure::Swemwbs => {
                "SWEMWBS (metric score, 7-35; from SWEMWBS and WEMWBS forms)".into()
            }
            Measure::Ons4(1) => "ONS4 life satisfaction (0-10)".into(),
            Measure::Ons4(2) => "ONS4 worthwhile (0-10)".into(),
            Measure::Ons4(3) => "ONS4 happiness yesterday (0-10)".into(),
            Measure::Ons4(_) => "ONS4 anxiety yesterday (0-10; lower is better)".into(),
            Measure::Total(d) => total_label(d),
        }
    }
    /// +1 when a higher score is better, -1 when lower is.
    pub(crate) fn direction(&self) -> f64 {
        match self {
            Measure::Ons4(4) => -1.0,
            Measure::Total(d) if !d.scoring.higher_is_better => -1.0,
            _ => 1.0,
        }
    }
    fn score(&self, r: &Response) -> Option<f64> {
        match (self, r.instrument.as_str()) {
            (Measure::Wemwbs, "WEMWBS") => r.raw.map(|v| v as f64),
            (Measure::Swemwbs, "WEMWBS" | "SWEMWBS") => r.metric,
            (Measure::Ons4(i), "ONS4") => r.items.get(i).map(|v| *v as f64),
            (Measure::Total(d), id) if id == d.id && r.version == d.version => r.score,
            _ => None,
        }
    }
    /// The reliable-change threshold with where it comes from, and a second documented one:
    /// for WEMWBS and SWEMWBS the configured one and a published one, for another instrument
    /// the first two of its definition's `reliable_change`.
    pub(crate) fn thresholds(&self, t: Thresholds) -> Option<Thresholds2> {
        match self {
            Measure::Wemwbs => Some((
                (t.wemwbs, configured(t.wemwbs)),
                Some((
                    9.0,
                    "9 points: NHS Digital's reliable change (Maheswaran et al. 2012)".into(),
                )),
            )),
            Measure::Swemwbs => Some((
                (t.swemwbs, configured(t.swemwbs)),
                Some((2.87, "2.87 points: 2.77 SEM (Shah et al. 2018)".into())),
            )),
            Measure::Ons4(_) => None,
            Measure::Total(d) => {
                let mut list = d.scoring.reliable_change.iter().map(|c| {
                    let what = match (&c.label, &c.source) {
                        (Some(l), Some(s)) => format!("{l} ({s})"),
                        (Some(x), None) | (None, Some(x)) => x.clone(),
                        (None, None) => format!("{}'s definition", d.id),
                    };
                    (
                        c.points,
                        format!("{} points: {what}", format_points(c.points)),
                    )
                });
                let first = list.next()?;
                Some((first, list.next()))
            }
        }
    }
    /// The instrument and version of a measure of one instrument's own total score.
    fn instrument(&self) -> Option<(String, u32)> {
        match self {
            Measure::Total(d) => Some((d.id.clone(), d.version)),
            _ => None,
        }
    }
}

/// A threshold (points, where it comes from) and a second one.
pub(crate) type Thresholds2 = ((f64, String), Option<(f64, String)>);

/// `Three-item loneliness scale (UCLA) (UCLA3; sum, 3-9; lower is better)`.
fn total_label(d: &Definition) -> String {
    let mut parts = vec![if d.version == 1 {
        d.id.clone()
    } else {
        format!("{} version {}", d.id, d.version)
    }];
    let method = match d.scoring.method {
        Method::Mean => "mean",
        _ if d.scoring.lookup.is_some() => "score from a lookup table",
        _ => "sum",
    };
    match possible_scores(d).as_deref().and_then(range_of) {
        Some((lo, hi)) => parts.push(format!(
            "{method}, {}-{}",
            format_points(round4(lo)),
            format_points(round4(hi))
        )),
        None => parts.push(method.to_owned()),
    }
    if !d.scoring.higher_is_better {
        parts.push("lower is better".into());
    }
    format!("{} ({})", d.name, parts.join("; "))
}

fn range_of(scores: &[f64]) -> Option<(f64, f64)> {
    let lo = scores.iter().copied().reduce(f64::min)?;
    let hi = scores.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

/// The most (count of answers, sum) states [`possible_scores`] works through before giving up.
const MAX_SCORE_STATES: usize = 200_000;

/// Every score a complete form of a sum or mean instrument can have, or `None` when there are
/// too many to list (or the lookup table does not cover a total, which validation refuses).
fn possible_scores(d: &Definition) -> Option<Vec<f64>> {
    let rule = &d.scoring;
    if rule.method == Method::PerItem {
        return None;
    }
    let items = d.scored_items(rule);
    let n = items.len();
    let need = match rule.complete {
        Complete::All => n,
        Complete::MinAnswered(k) => usize::from(k.max(1)).min(n),
    };
    // reachable[c]: the sums of the scored values of c answered items.
    let mut reachable: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); n + 1];
    reachable[0].insert(0);
    for (done, item) in items.iter().enumerate() {
        let (lo, hi) = item.scale.bounds()?;
        let values: BTreeSet<i64> = (lo..=hi)
            .filter(|v| item.scale.allows(*v))
            .map(|v| item.scored_value(v))
            .collect();
        let states: usize = reachable.iter().map(BTreeSet::len).sum();
        if states.saturating_mul(values.len()) > MAX_SCORE_STATES * 10 {
            return None;
        }
        let mut next: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); n + 1];
        for c in 0..=done {
            for s in &reachable[c] {
                if need < n {
                    next[c].insert(*s);
                }
                for v in &values {
                    next[c + 1].insert(s.saturating_add(*v));
                }
            }
        }
        if next.iter().map(BTreeSet::len).sum::<usize>() > MAX_SCORE_STATES {
            return None;
        }
        reachable = next;
    }
    let mut out = Vec::new();
    for (c, sums) in reachable.iter().enumerate().skip(need.max(1)) {
        for s in sums {
            out.push(match (rule.method, &rule.lookup) {
                (Method::Mean, _) => *s as f64 / c as f64,
                (_, Some(_)) => rule.lookup_score(*s)?,
                _ => *s as f64,
            });
        }
    }
    Some(out)
}

/// Whether every score a complete form can have falls in one of the definition's bands.
fn bands_cover_every_score(d: &Definition) -> bool {
    possible_scores(d).is_some_and(|all| all.iter().all(|s| d.scoring.band(*s).is_some()))
}

/// Which measures an outcomes report covers.
#[derive(Debug, Clone, Default)]
pub struct Selection(pub(crate) Option<Vec<Measure>>);

impl Selection {
    /// Every measure: the built-in ones, and the total score of every other instrument with
    /// complete responses in scope.
    pub fn all() -> Selection {
        Selection(None)
    }

    /// The measures of one instrument of `project` (`instrument` and `instrument_version`
    /// of a request), or every measure when no instrument is named. The message names the
    /// parameter: an unknown instrument or version, or one scored item by item (which has no
    /// total score to compare), is refused rather than answered with nothing.
    pub fn parse(
        project: &str,
        instrument: Option<&str>,
        version: Option<u32>,
    ) -> Result<Selection, String> {
        let Some(id) = instrument.filter(|s| !s.is_empty()) else {
            if version.is_some() {
                return Err(
                    "`instrument_version` needs `instrument`, the instrument it is a \
                            version of"
                        .into(),
                );
            }
            return Ok(Selection::all());
        };
        let builtin = instrument::builtin(id);
        if let (Some(b), Some(v)) = (builtin, version)
            && v != b.version
        {
            return Err(format!(
                "`instrument_version`: {id} is built in and has only version {}, not {v}",
                b.version
            ));
        }
        let fixed: Vec<Measure> = match id {
            "WEMWBS" => vec![Measure::Wemwbs],
            "SWEMWBS" => vec![Measure::Swemwbs],
            "ONS4" => (1..=4).map(Measure::Ons4).collect(),
            _ => Vec::new(),
        };
        if !fixed.is_empty() {
            return Ok(Selection(Some(fixed)));
        }
        let defs: Vec<Arc<Definition>> = match builtin {
            Some(_) => instrument::lookup(project, id, None).into_iter().collect(),
            None => instrument::project_all(project)
                .into_iter()
                .filter(|d| d.id == id && version.is_none_or(|v| d.version == v))
                .collect(),
        };
        if defs.is_empty() {
            let versions: Vec<String> = instrument::project_all(project)
                .iter()
                .filter(|d| d.id == id)
                .map(|d| d.version.to_string())
                .collect();
            if let (Some(v), false) = (version, versions.is_empty()) {
                return Err(format!(
                    "`instrument_version`: project {project} has no version {v} of {id} \
                     (its versions: {})",
                    versions.join(", ")
                ));
            }
            return Err(format!(
                "`instrument`: `{id}` is not an instrument of project {project} (known: {})",
                instrument::known_ids(project).join(", ")
            ));
        }
        if let Some(d) = defs.iter().find(|d| d.scoring.method == Method::PerItem) {
            return Err(format!("`instrument`: {}", per_item_reason(d)));
        }
        Ok(Selection(Some(
            defs.into_iter().map(Measure::Total).collect(),
        )))
    }
}

/// Why a per-item instrument has no outcome measure.
fn per_item_reason(d: &Definition) -> String {
    format!(
        "{} reports each answer on its own (`per_item` scoring), so it has no total score \
         whose change from baseline could be measured; its answers are in the \
         `wellbeing_items` export",
        d.id
    )
}

/// An instrument with complete responses in scope that the outcomes report has no measure
/// for, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotReported {
    /// Its id.
    pub instrument: String,
    /// The version of its definition.
    pub instrument_version: u32,
    /// Why it has no measure.
    pub reason: String,
}

/// The measures of the instruments other than WEMWBS, SWEMWBS and ONS4 with complete
/// responses in scope (UCLA3, a project's own, one per version), in id and version order; and
/// those that cannot have one.
fn other_measures(data: &Data) -> (Vec<Measure>, Vec<NotReported>) {
    let found: BTreeSet<(&str, u32)> = data
        .responses
        .iter()
        .filter(|r| !matches!(r.instrument.as_str(), "WEMWBS" | "SWEMWBS" | "ONS4"))
        .map(|r| (r.instrument.as_str(), r.version))
        .collect();
    let mut measures = Vec::new();
    let mut skipped = Vec::new();
    for (id, version) in found {
        let reason = match instrument::lookup(&data.project, id, Some(version)) {
            Some(d) if d.scoring.method != Method::PerItem => {
                measures.push(Measure::Total(d));
                continue;
            }
            Some(d) => per_item_reason(&d),
            None => format!(
                "no definition of {id} version {version} is known for project {}, so its \
                 responses cannot be scored",
                data.project
            ),
        };
        skipped.push(NotReported {
            instrument: id.to_owned(),
            instrument_version: version,
            reason,
        });
    }
    (measures, skipped)
}

/// One participant's baseline and follow-up on a measure: the two responses and their scores.
#[derive(Debug, Clone)]
pub struct Pair<'d> {
    pub(crate) participant: &'d str,
    baseline: &'d Response,
    follow_up: &'d Response,
    pub(crate) before: f64,
    pub(crate) after: f64,
}

impl Pair<'_> {
    pub(crate) fn change(&self) -> f64 {
        self.after - self.before
    }
}

/// The pairs of one measure: each participant's earliest complete baseline (by date, then
/// id) with their latest complete response at `to` (by date, then id) dated on or after it and
/// not before the `from` filter; in participant id order. The only pairing: the outcomes and
/// equity reports and the `outcome_pairs` export all read it ([`paired`]).
fn pairs<'d>(data: &'d Data, measure: &Measure, to: &str) -> Vec<Pair<'d>> {
    let mut baseline: HashMap<&str, (&Response, f64)> = HashMap::new();
    for r in &data.responses {
        if r.timepoint != "baseline" {
            continue;
        }
        let Some(s) = measure.score(r) else { continue };
        let e = baseline.entry(&r.participant).or_insert((r, s));
        if (r.date, &r.id) < (e.0.date, &e.0.id) {
            *e = (r, s);
        }
    }
    let mut follow: HashMap<&str, (&Response, f64)> = HashMap::new();
    for r in &data.responses {
        if r.timepoint != to || data.filters.from.is_some_and(|d| r.date < d) {
            continue;
        }
        let Some(s) = measure.score(r) else { continue };
        let Some((b, _)) = baseline.get(r.participant.as_str()) else {
            continue;
        };
        if r.date < b.date {
            continue;
        }
        let e = follow.entry(&r.participant).or_insert((r, s));
        if (r.date, &r.id) > (e.0.date, &e.0.id) {
            *e = (r, s);
        }
    }
    let mut out: Vec<Pair> = follow
        .into_iter()
        .map(|(p, (f, after))| {
            let (b, before) = baseline[p];
            Pair {
                participant: p,
                baseline: b,
                follow_up: f,
                before,
                after,
            }
        })
        .collect();
    out.sort_by(|a, b| a.participant.cmp(b.participant));
    out
}

/// The pairs of every selected measure, in report order: what the outcomes report counts and
/// the `outcome_pairs` export lists.
#[derive(Debug, Clone)]
pub struct Paired<'d> {
    /// The follow-up timepoint paired with baseline.
    pub follow_up: &'static str,
    /// Each measure with its pairs (in participant id order).
    pub measures: Vec<(Measure, Vec<Pair<'d>>)>,
    /// Instruments with complete responses in scope that have no measure, and why.
    pub not_reported: Vec<NotReported>,
}

/// Pairs baseline and follow-up on the selected measures: WEMWBS, SWEMWBS, the four ONS4
/// items and the total score of every other instrument with complete responses in scope, or
/// the selection's.
pub fn paired<'d>(data: &'d Data, to: &'static str, selection: &Selection) -> Paired<'d> {
    let (measures, not_reported) = match &selection.0 {
        Some(list) => (list.clone(), Vec::new()),
        None => {
            let (more, skipped) = other_measures(data);
            (MEASURES.iter().cloned().chain(more).collect(), skipped)
        }
    };
    Paired {
        follow_up: to,
        measures: measures
            .into_iter()
            .map(|m| {
                let p = pairs(data, &m, to);
                (m, p)
            })
            .collect(),
        not_reported,
    }
}

/// Reliable change of one pair at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeClass {
    /// Better by at least the threshold.
    Improved,
    /// A smaller change either way.
    NoReliableChange,
    /// Worse by at least the threshold.
    Deteriorated,
}

impl ChangeClass {
    /// Its code in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeClass::Improved => "improved",
            ChangeClass::NoReliableChange => "no_reliable_change",
            ChangeClass::Deteriorated => "deteriorated",
        }
    }
}

/// The class of a change already signed so that positive is better (change x direction), at
/// threshold `t` (points; a change within 1e-9 of it counts as reaching it).
pub fn change_class(directed_change: f64, t: f64) -> ChangeClass {
    if directed_change >= t - 1e-9 {
        ChangeClass::Improved
    } else if directed_change <= -t + 1e-9 {
        ChangeClass::Deteriorated
    } else {
        ChangeClass::NoReliableChange
    }
}

/// A change as written in the `outcome_pairs` export: to 10 decimal places, so that the
/// difference of two scores shows no floating-point residue (`3.23`, not `3.2300000000000004`).
fn tidy(v: f64) -> f64 {
    (v * 1e10).round() / 1e10
}

/// The column of a pair's reliable-change class at threshold `t` in an outcome table:
/// improved, no reliable change, deteriorated (the equity and sites reports' tables).
pub(crate) fn class_column(p: &Pair, measure: &Measure, t: f64) -> usize {
    match change_class(p.change() * measure.direction(), t) {
        ChangeClass::Improved => 0,
        ChangeClass::NoReliableChange => 1,
        ChangeClass::Deteriorated => 2,
    }
}

/// The paired statistics of a group of pairs.
pub(crate) fn group_stats(pairs: &[&Pair]) -> Option<PairedStats> {
    let before: Vec<f64> = pairs.iter().map(|p| p.before).collect();
    let after: Vec<f64> = pairs.iter().map(|p| p.after).collect();
    stats::paired(&before, &after)
}

/// The rows of the `outcome_pairs` export ([`crate::analysis::export::Dataset::OutcomePairs`]),
/// one per pair, in measure order then participant id order, with the columns of
/// [`crate::analysis::export::OUTCOME_PAIR_COLUMNS`]. The thresholds and the classes are the
/// outcomes report's: its n is the number of rows of a measure, its mean change their mean
/// `change`, and its reliable-change counts the counts of `reliable_change` (and
/// `reliable_change_2`), before suppression.
pub fn outcome_pair_rows<'d>(
    paired: &Paired<'d>,
    thresholds: Thresholds,
    project: &'d str,
) -> Vec<Vec<Val<'d>>> {
    let mut rows = Vec::new();
    for (measure, pairs) in &paired.measures {
        let name = measure.name();
        let instrument = measure.instrument();
        let dir = measure.direction();
        // As the report: the second threshold only when it is larger than the first.
        let (first, second) = match measure.thresholds(thresholds) {
            Some(((t, source), second)) => {
                (Some((t, source)), second.filter(|(t2, _)| *t2 > t + 1e-9))
            }
            None => (None, None),
        };
        for p in pairs {
            let (b, f) = (p.baseline, p.follow_up);
            let directed = p.change() * dir;
            let mut row = vec![
                Val::from(p.participant),
                Val::from(project),
                Val::from(name.clone()),
                Val::from(instrument.as_ref().map(|i| i.0.clone())),
                Val::from(instrument.as_ref().map(|i| i64::from(i.1))),
                Val::from(paired.follow_up),
                Val::from(b.id.as_str()),
                Val::from(b.instrument.as_str()),
                Val::from(b.date.to_string()),
                Val::from(f.id.as_str()),
                Val::from(f.instrument.as_str()),
                Val::from(f.date.to_string()),
                Val::Int((f.date - b.date).num_days()),
                Val::Num(p.before),
                Val::Num(p.after),
                Val::Num(tidy(p.change())),
                Val::Int(dir as i64),
            ];
            for t in [&first, &second] {
                match t {
                    Some((t, source)) => row.extend([
                        Val::Num(*t),
                        Val::from(source.clone()),
                        Val::from(change_class(directed, *t).as_str()),
                    ]),
                    None => row.extend([Val::Null, Val::Null, Val::Null]),
                }
            }
            rows.push(row);
        }
    }
    rows
}

/// Shares of reliable change at one threshold.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeShares {
    /// Points of change counted as reliable.
    pub threshold: f64,
    /// Where the threshold comes from.
    pub source: String,
    /// Participants improved by at least the threshold (`null` if suppressed).
    pub improved: Option<u64>,
    /// Participants with a smaller change either way.
    pub no_reliable_change: Option<u64>,
    /// Participants worse by at least the threshold.
    pub deteriorated: Option<u64>,
    /// improved / n.
    pub improved_share: Option<f64>,
    /// deteriorated / n.
    pub deteriorated_share: Option<f64>,
}

/// One bin of the change distribution.
#[derive(Debug, Clone, Serialize)]
pub struct Bin {
    /// The range of change, in points.
    pub label: String,
    /// Participants (`null` if suppressed).
    pub count: Option<u64>,
    /// Why `count` is withheld: `small` (below 5) or `protecting` (hidden so that a small
    /// count cannot be worked out); absent when it is published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Hidden>,
}

/// How many of the pairs had their baseline, and their follow-up, in one band.
#[derive(Debug, Clone, Serialize)]
pub struct BandCount {
    /// The band's name in the definition (`none`: a score in no band).
    pub band: String,
    /// Its name for people.
    pub label: Option<String>,
    /// Pairs whose baseline score is in it (`null` if suppressed).
    pub baseline: Option<u64>,
    /// Pairs whose follow-up score is in it (`null` if suppressed).
    pub follow_up: Option<u64>,
}

/// The outcome on one measure.
#[derive(Debug, Clone, Serialize)]
pub struct MeasureOutcome {
    /// Stable name (`wemwbs`, `swemwbs`, `ons4_life_satisfaction`...; another instrument's
    /// id in lower case, `ucla3`, with `_v2` for its version 2 and so on).
    pub measure: String,
    /// What it is.
    pub label: String,
    /// The instrument whose total score this is (measures other than the built-in six).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instrument: Option<String>,
    /// The version of its definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instrument_version: Option<u32>,
    /// `1` when a higher score is better, `-1` when lower is (ONS4 anxiety, UCLA3).
    pub direction: i8,
    /// Pairs (`null` if fewer than 5).
    pub n: Option<u64>,
    /// The statistics of change (after - before), when n is published and at least 2.
    pub stats: Option<PairedStats>,
    /// Reliable change at the configured threshold and at a second documented one.
    pub reliable_change: Vec<ChangeShares>,
    /// Distribution of change in five bins around the threshold (for a measure with no
    /// threshold, such as ONS4, the bins are whole points: -3 or less, -2 to -1, 0, 1 to 2,
    /// 3 or more).
    pub distribution: Vec<Bin>,
    /// For an instrument whose definition names bands: the pairs by band at baseline and at
    /// follow-up, each a protected distribution.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<BandCount>,
    /// Why figures are missing, when they are.
    pub note: Option<String>,
}

pub(crate) fn share(num: Option<u64>, den: Option<u64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0 => Some(round4(n as f64 / d as f64)),
        _ => None,
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

fn format_points(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn outcome_of(measure: &Measure, pairs: &[Pair], thresholds: Thresholds) -> MeasureOutcome {
    let n_raw = pairs.len() as u64;
    let (shown_n, _) = disclosure::protect_vector(&[n_raw], MIN_COUNT);
    let n = shown_n[0];
    let dir = measure.direction();
    let changes: Vec<f64> = pairs.iter().map(|p| p.change() * dir).collect();
    let mut reliable = Vec::new();
    let distribution: Vec<Bin>;
    let threshold = measure.thresholds(thresholds);
    let has_threshold = threshold.is_some();
    if let Some(((t, configured), second)) = threshold {
        // One protected distribution, cut at the configured threshold t and at the second one
        // (or at 2t when there is no larger second threshold); every reliable-change count is
        // a sum of its bins, derived only from what is published, so neither can reveal the
        // other's suppressed cells.
        let strict = second.filter(|(t2, _)| *t2 > t + 1e-9);
        let t2 = strict.as_ref().map_or(2.0 * t, |(t2, _)| *t2);
        let labels = [
            format!("{} or less", format_points(-t2)),
            format!("{} to {}", format_points(-t2), format_points(-t)),
            format!("between {} and {}", format_points(-t), format_points(t)),
            format!("{} to {}", format_points(t), format_points(t2)),
            format!("{} or more", format_points(t2)),
        ];
        let mut counts = [0u64; 5];
        for c in &changes {
            // The classes of the `outcome_pairs` export, at t and at t2.
            let bin = match (change_class(*c, t), change_class(*c, t2)) {
                (_, ChangeClass::Deteriorated) => 0,
                (ChangeClass::Deteriorated, _) => 1,
                (ChangeClass::NoReliableChange, _) => 2,
                (_, ChangeClass::Improved) => 4,
                _ => 3,
            };
            counts[bin] += 1;
        }
        let (cells, total) = disclosure::protect_vector(&counts, MIN_COUNT);
        let shares =
            |t: f64, source: String, improved: &[usize], unchanged: &[usize], worse: &[usize]| {
                let improved = derived_sum(&cells, total, improved);
                let deteriorated = derived_sum(&cells, total, worse);
                ChangeShares {
                    threshold: t,
                    source,
                    improved,
                    no_reliable_change: derived_sum(&cells, total, unchanged),
                    deteriorated,
                    improved_share: share(improved, total),
                    deteriorated_share: share(deteriorated, total),
                }
            };
        reliable.push(shares(t, configured, &[3, 4], &[2], &[0, 1]));
        if let Some((t2, source)) = strict {
            reliable.push(shares(t2, source, &[4], &[1, 2, 3], &[0]));
        }
        distribution = labels
            .into_iter()
            .zip(cells.iter().copied().zip(counts))
            .map(|(label, (count, raw))| Bin {
                label,
                count,
                withheld: disclosure::withheld(raw, count, MIN_COUNT),
            })
            .collect();
    } else {
        let labels = ["-3 or less", "-2 to -1", "0", "1 to 2", "3 or more"];
        let mut counts = [0u64; 5];
        for c in &changes {
            let bin = match c.round() as i64 {
                i64::MIN..=-3 => 0,
                -2..=-1 => 1,
                0 => 2,
                1..=2 => 3,
                _ => 4,
            };
            counts[bin] += 1;
        }
        let (cells, _) = disclosure::protect_vector(&counts, MIN_COUNT);
        distribution = labels
            .into_iter()
            .zip(cells.into_iter().zip(counts))
            .map(|(l, (count, raw))| Bin {
                label: l.to_owned(),
                count,
                withheld: disclosure::withheld(raw, count, MIN_COUNT),
            })
            .collect();
    }
    let stats = n.and_then(|_| {
        let before: Vec<f64> = pairs.iter().map(|p| p.before).collect();
        let after: Vec<f64> = pairs.iter().map(|p| p.after).collect();
        stats::paired(&before, &after)
    });
    let mut notes = Vec::new();
    if n.is_none() {
        notes.push(format!(
            "fewer than {MIN_COUNT} participants have both a baseline and a follow-up: figures are suppressed"
        ));
    }
    if let Measure::Total(d) = measure
        && !has_threshold
    {
        notes.push(format!(
            "{}'s definition gives no reliable-change threshold, so none is applied",
            d.id
        ));
    }
    let bands = match measure {
        Measure::Total(d) if !d.scoring.bands.is_empty() => band_counts(d, pairs),
        _ => Vec::new(),
    };
    let instrument = measure.instrument();
    MeasureOutcome {
        measure: measure.name(),
        label: measure.label(),
        instrument_version: instrument.as_ref().map(|i| i.1),
        instrument: instrument.map(|i| i.0),
        direction: dir as i8,
        n,
        stats,
        reliable_change: reliable,
        distribution,
        bands,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// The pairs by the band of their baseline and of their follow-up score, each protected as
/// one distribution. A row `none` counts scores in no band, listed when a complete form can
/// score outside every band: whether it is listed depends on the definition, not the data.
fn band_counts(d: &Definition, pairs: &[Pair]) -> Vec<BandCount> {
    let bands = &d.scoring.bands;
    let index = |score: f64| {
        d.scoring
            .band(score)
            .and_then(|b| bands.iter().position(|x| x.name == b.name))
            .unwrap_or(bands.len())
    };
    let outside = !bands_cover_every_score(d)
        || pairs
            .iter()
            .any(|p| index(p.before) == bands.len() || index(p.after) == bands.len());
    let slots = bands.len() + usize::from(outside);
    let mut before = vec![0u64; slots];
    let mut after = vec![0u64; slots];
    for p in pairs {
        before[index(p.before)] += 1;
        after[index(p.after)] += 1;
    }
    let (before, _) = disclosure::protect_vector(&before, MIN_COUNT);
    let (after, _) = disclosure::protect_vector(&after, MIN_COUNT);
    bands
        .iter()
        .map(|b| (b.name.clone(), b.label.clone()))
        .chain(outside.then(|| ("none".to_owned(), Some("No band".to_owned()))))
        .zip(before.into_iter().zip(after))
        .map(|((band, label), (baseline, follow_up))| BandCount {
            band,
            label,
            baseline,
            follow_up,
        })
        .collect()
}

/// The outcomes report.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomesReport {
    /// The follow-up timepoint paired with baseline.
    pub follow_up: &'static str,
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// One entry per measure.
    pub measures: Vec<MeasureOutcome>,
    /// Instruments with complete responses in scope that have no measure (scored item by
    /// item, or with no definition known), each with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_reported: Vec<NotReported>,
}

/// Baseline-to-follow-up change on every measure: WEMWBS, SWEMWBS, the four ONS4 items, and
/// the total score of every other instrument with complete responses in scope.
pub fn outcomes(data: &Data, to: &'static str, thresholds: Thresholds) -> OutcomesReport {
    outcomes_of(data, to, thresholds, &Selection::all())
}

/// Baseline-to-follow-up change on the selected measures.
pub fn outcomes_of(
    data: &Data,
    to: &'static str,
    thresholds: Thresholds,
    selection: &Selection,
) -> OutcomesReport {
    outcomes_of_pairs(paired(data, to, selection), thresholds)
}

/// The outcomes report of pairs already made ([`paired`]).
pub fn outcomes_of_pairs(paired: Paired, thresholds: Thresholds) -> OutcomesReport {
    OutcomesReport {
        follow_up: paired.follow_up,
        thresholds,
        measures: paired
            .measures
            .iter()
            .map(|(m, pairs)| outcome_of(m, pairs, thresholds))
            .collect(),
        not_reported: paired.not_reported,
    }
}

/// Attendance bands of the people table: never attended, 1, 2-3, 4-5, 6 or more sessions.
pub const ATTENDANCE_BANDS: [&str; 5] = ["none", "1", "2-3", "4-5", "6+"];

fn band_of(n: u64) -> usize {
    match n {
        0 => 0,
        1 => 1,
        2..=3 => 2,
        4..=5 => 3,
        _ => 4,
    }
}

/// A sum over some cells of a protected row, if it derives from published values: all those
/// cells published, or the row total and all the other cells published.
fn derived_sum(cells: &[Option<u64>], total: Option<u64>, which: &[usize]) -> Option<u64> {
    let inside: Option<u64> = which.iter().map(|i| cells[*i]).sum();
    if inside.is_some() {
        return inside;
    }
    let outside: Option<u64> = (0..cells.len())
        .filter(|i| !which.contains(i))
        .map(|i| cells[i])
        .sum();
    Some(total? - outside?)
}

/// One row of a people table: attendance bands, with the funnel and retention derived.
#[derive(Debug, Clone, Serialize)]
pub struct PeopleRow {
    /// The group (`all` for the overall row).
    pub group: String,
    /// Participants in the group (referred and registered).
    pub participants: Option<u64>,
    /// Participants by sessions attended, in [`ATTENDANCE_BANDS`] order.
    pub by_sessions_attended: Vec<Option<u64>>,
    /// Participants who attended at least once.
    pub attended: Option<u64>,
    /// Participants who attended 4 or more sessions.
    pub attended_4_plus: Option<u64>,
    /// attended / participants.
    pub first_attendance_rate: Option<f64>,
    /// Of those who attended, the share attending at least 2 sessions.
    pub retained_2_plus: Option<f64>,
    /// ... at least 4.
    pub retained_4_plus: Option<f64>,
    /// ... at least 6.
    pub retained_6_plus: Option<f64>,
    /// Why each withheld count (`participants`, `attended`, `attended_4_plus`) is withheld:
    /// `small` or `protecting`; a withheld share takes the mark of its counts. Absent when
    /// every count is published.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub withheld: BTreeMap<&'static str, Hidden>,
}

impl PeopleRow {
    /// Marks the row's withheld counts, given its true counts by attendance band.
    pub(crate) fn marked(mut self, bands: &[u64]) -> PeopleRow {
        let sum = |from: usize| bands.iter().skip(from).sum::<u64>();
        for (name, shown, value) in [
            ("participants", self.participants, sum(0)),
            ("attended", self.attended, sum(1)),
            ("attended_4_plus", self.attended_4_plus, sum(3)),
        ] {
            if let Some(mark) = disclosure::withheld(value, shown, MIN_COUNT) {
                self.withheld.insert(name, mark);
            }
        }
        self
    }
}

pub(crate) fn people_row(group: String, cells: Vec<Option<u64>>, total: Option<u64>) -> PeopleRow {
    let attended = derived_sum(&cells, total, &[1, 2, 3, 4]);
    let two = derived_sum(&cells, total, &[2, 3, 4]);
    let four = derived_sum(&cells, total, &[3, 4]);
    let six = derived_sum(&cells, total, &[4]);
    PeopleRow {
        group,
        participants: total,
        first_attendance_rate: share(attended, total),
        retained_2_plus: share(two, attended),
        retained_4_plus: share(four, attended),
        retained_6_plus: share(six, attended),
        attended,
        attended_4_plus: four,
        by_sessions_attended: cells,
        withheld: BTreeMap::new(),
    }
}

/// A protected table of people by group and sessions attended: the referral funnel and
/// retention of each group.
#[derive(Debug, Clone, Serialize)]
pub struct PeopleTable {
    /// One row per group, every group listed (including `not_recorded`).
    pub rows: Vec<PeopleRow>,
    /// The column totals and grand total as one row named `all`.
    pub all: PeopleRow,
    /// Cells suppressed because they were below 5, and to protect those.
    pub suppressed_primary: usize,
    /// Cells suppressed to protect the primary ones.
    pub suppressed_secondary: usize,
}

fn people_table(groups: &[String], people: &[(usize, u64)]) -> PeopleTable {
    let mut counts = vec![vec![0u64; ATTENDANCE_BANDS.len()]; groups.len()];
    for (g, attended) in people {
        counts[*g][band_of(*attended)] += 1;
    }
    let p = disclosure::protect_table(&counts, MIN_COUNT);
    let rows = groups
        .iter()
        .zip(p.cells.iter().zip(&p.row_totals).zip(&counts))
        .map(|(g, ((cells, total), raw))| people_row(g.clone(), cells.clone(), *total).marked(raw))
        .collect();
    let column_totals: Vec<u64> = (0..ATTENDANCE_BANDS.len())
        .map(|j| counts.iter().map(|row| row[j]).sum())
        .collect();
    PeopleTable {
        rows,
        all: people_row("all".into(), p.col_totals.clone(), p.total).marked(&column_totals),
        suppressed_primary: p.primary,
        suppressed_secondary: p.secondary,
    }
}

/// A count per month.
#[derive(Debug, Clone, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Sessions held.
    pub sessions: u64,
    /// Attendances (registered and unregistered), `null` if suppressed.
    pub attendances: Option<u64>,
    /// Mean attendees per session.
    pub mean_attendees_per_session: Option<f64>,
    /// Why `attendances` is withheld (`small` or `protecting`); absent when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Hidden>,
}

/// Sessions and attendances of one activity.
#[derive(Debug, Clone, Serialize)]
pub struct ActivityRow {
    /// Activity code.
    pub activity: String,
    /// Activity type.
    pub activity_type: String,
    /// Sessions held.
    pub sessions: u64,
    /// Attendances, `null` if suppressed.
    pub attendances: Option<u64>,
    /// Why `attendances` is withheld (`small` or `protecting`); absent when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Hidden>,
}

/// The attendance report.
#[derive(Debug, Clone, Serialize)]
pub struct AttendanceReport {
    /// Sessions matching the filters.
    pub sessions: u64,
    /// Attendances at them (registered and unregistered), `null` if suppressed.
    pub attendances: Option<u64>,
    /// Per activity.
    pub activities: Vec<ActivityRow>,
    /// Per month: sessions, attendances and attendees per session.
    pub months: Vec<Month>,
    /// Retention and first attendance of all participants in scope.
    pub retention: PeopleTable,
    /// The referral funnel (referred, first attendance, 4 or more sessions) by referral source.
    pub referral_funnel: PeopleTable,
}

/// Per key: the keys, sessions held, attendances as published with why they are withheld,
/// and the protected total of attendances.
type ByKey<K> = (
    Vec<K>,
    Vec<u64>,
    Vec<(Option<u64>, Option<Hidden>)>,
    Option<u64>,
);

fn by_key<K: Ord + Clone>(sessions: &[Session], key: impl Fn(&Session) -> K) -> ByKey<K> {
    let mut map: BTreeMap<K, (u64, u64)> = BTreeMap::new();
    for s in sessions {
        let e = map.entry(key(s)).or_default();
        e.0 += 1;
        e.1 += s.attendees;
    }
    let keys: Vec<K> = map.keys().cloned().collect();
    let n: Vec<u64> = map.values().map(|v| v.0).collect();
    let raw: Vec<u64> = map.values().map(|v| v.1).collect();
    let (att, total) = disclosure::protect_vector(&raw, MIN_COUNT);
    let att = att
        .into_iter()
        .zip(raw)
        .map(|(shown, value)| (shown, disclosure::withheld(value, shown, MIN_COUNT)))
        .collect();
    (keys, n, att, total)
}

/// Sessions, attendance over time, retention and the referral funnel.
pub fn attendance(data: &Data) -> AttendanceReport {
    let (acts, n, att, total) = by_key(&data.sessions, |s| {
        (s.activity.clone(), s.activity_type.clone())
    });
    let activities = acts
        .into_iter()
        .zip(n.iter().zip(att))
        .map(
            |((activity, activity_type), (n, (a, withheld)))| ActivityRow {
                activity,
                activity_type,
                sessions: *n,
                attendances: a,
                withheld,
            },
        )
        .collect();
    let (months, n, att, _) = by_key(&data.sessions, |s| {
        format!("{:04}-{:02}", s.date.year(), s.date.month())
    });
    let months = months
        .into_iter()
        .zip(n.iter().zip(att))
        .map(|(month, (n, (a, withheld)))| Month {
            month,
            sessions: *n,
            attendances: a,
            mean_attendees_per_session: a.map(|a| (a as f64 / *n as f64 * 100.0).round() / 100.0),
            withheld,
        })
        .collect();
    let sources: Vec<String> = schema::REFERRAL_SOURCES
        .iter()
        .map(|s| s.to_string())
        .chain(["not_recorded".to_owned()])
        .collect();
    let funnel: Vec<(usize, u64)> = data
        .people
        .iter()
        .map(|p| {
            (
                group_index(&sources, p.referral_source.as_deref()),
                p.attended,
            )
        })
        .collect();
    let everyone: Vec<(usize, u64)> = data.people.iter().map(|p| (0, p.attended)).collect();
    AttendanceReport {
        sessions: data.sessions.len() as u64,
        attendances: total,
        activities,
        months,
        retention: people_table(&["all".to_owned()], &everyone),
        referral_funnel: people_table(&sources, &funnel),
    }
}

fn group_index(groups: &[String], value: Option<&str>) -> usize {
    value
        .and_then(|v| groups.iter().position(|g| g == v))
        .unwrap_or(groups.len() - 1)
}

/// A dimension of equity breakdowns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dimension {
    ImdQuintile,
    EthnicGroup,
    AgeBand,
    Gender,
    Rurality,
}

pub(crate) const DIMENSIONS: [Dimension; 5] = [
    Dimension::ImdQuintile,
    Dimension::EthnicGroup,
    Dimension::AgeBand,
    Dimension::Gender,
    Dimension::Rurality,
];

impl Dimension {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dimension::ImdQuintile => "imd_quintile",
            Dimension::EthnicGroup => "ethnic_group",
            Dimension::AgeBand => "age_band",
            Dimension::Gender => "gender",
            Dimension::Rurality => "rurality",
        }
    }
    pub(crate) fn groups(self) -> Vec<String> {
        let codes: Vec<String> = match self {
            Dimension::ImdQuintile => (1..=5)
                .map(|q| match q {
                    1 => "1_most_deprived".to_owned(),
                    5 => "5_least_deprived".to_owned(),
                    q => q.to_string(),
                })
                .collect(),
            Dimension::EthnicGroup => schema::ETHNIC_GROUPS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Dimension::AgeBand => schema::AGE_BANDS.iter().map(|s| s.to_string()).collect(),
            Dimension::Gender => schema::GENDERS.iter().map(|s| s.to_string()).collect(),
            Dimension::Rurality => schema::RURALITY.iter().map(|s| s.to_string()).collect(),
        };
        codes
            .into_iter()
            .chain(["not_recorded".to_owned()])
            .collect()
    }
    pub(crate) fn group_of(self, p: &Person, groups: &[String]) -> usize {
        match self {
            Dimension::ImdQuintile => p
                .imd_decile
                .filter(|d| (1..=10).contains(d))
                .map_or(groups.len() - 1, |d| ((d + 1) / 2 - 1) as usize),
            Dimension::EthnicGroup => group_index(groups, p.ethnic_group.as_deref()),
            Dimension::AgeBand => group_index(groups, p.age_band.as_deref()),
            Dimension::Gender => group_index(groups, p.gender.as_deref()),
            Dimension::Rurality => group_index(groups, p.rurality.as_deref()),
        }
    }
}

/// Wellbeing outcome of one group on one measure.
#[derive(Debug, Clone, Serialize)]
pub struct GroupOutcome {
    /// The group.
    pub group: String,
    /// Pairs, `null` if suppressed.
    pub n: Option<u64>,
    /// Improved by at least the configured threshold.
    pub improved: Option<u64>,
    /// Neither.
    pub no_reliable_change: Option<u64>,
    /// Worse by at least the threshold.
    pub deteriorated: Option<u64>,
    /// improved / n.
    pub improved_share: Option<f64>,
    /// Statistics of change, when n is published.
    pub stats: Option<PairedStats>,
    /// Why `n` is withheld (`small` or `protecting`); absent when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Hidden>,
}

/// Outcomes of every group on one measure.
#[derive(Debug, Clone, Serialize)]
pub struct MeasureByGroup {
    /// The measure.
    pub measure: String,
    /// The threshold of reliable change (points).
    pub threshold: f64,
    /// Per group.
    pub groups: Vec<GroupOutcome>,
}

/// One dimension of the equity report.
#[derive(Debug, Clone, Serialize)]
pub struct EquityDimension {
    /// `imd_quintile`, `ethnic_group`, `age_band`, `gender` or `rurality`.
    pub dimension: &'static str,
    /// Reach, the referral funnel and retention per group (one protected table).
    pub people: PeopleTable,
    /// Attendances per group (sessions attended by its participants), protected.
    pub attendances: Vec<(String, Option<u64>)>,
    /// Wellbeing outcomes per group (WEMWBS and SWEMWBS).
    pub outcomes: Vec<MeasureByGroup>,
}

/// The equity report.
#[derive(Debug, Clone, Serialize)]
pub struct EquityReport {
    /// The smallest published count.
    pub min_count: u64,
    /// The follow-up timepoint paired with baseline.
    pub follow_up: &'static str,
    /// Per dimension.
    pub dimensions: Vec<EquityDimension>,
}

/// Every figure broken down by IMD quintile, ethnic group, age band, gender and rurality.
pub fn equity(data: &Data, to: &'static str, thresholds: Thresholds) -> EquityReport {
    let measure_pairs = paired(
        data,
        to,
        &Selection(Some(vec![Measure::Wemwbs, Measure::Swemwbs])),
    )
    .measures;
    let index = &data.everyone;
    let dimensions = DIMENSIONS
        .iter()
        .map(|d| {
            let groups = d.groups();
            let members: Vec<(usize, u64)> = data
                .people
                .iter()
                .map(|p| (d.group_of(p, &groups), p.attended))
                .collect();
            let mut att = vec![0u64; groups.len()];
            for (g, n) in &members {
                att[*g] += n;
            }
            let (att, _) = disclosure::protect_vector(&att, MIN_COUNT);
            let outcomes = measure_pairs
                .iter()
                .map(|(m, pairs)| {
                    let ((t, _), _) = m
                        .thresholds(thresholds)
                        .expect("WEMWBS and SWEMWBS have thresholds");
                    let mut counts = vec![vec![0u64; 3]; groups.len()];
                    let mut by_group: Vec<Vec<&Pair>> = vec![Vec::new(); groups.len()];
                    for p in pairs {
                        let Some(person) = index.get(p.participant) else {
                            continue;
                        };
                        let g = d.group_of(person, &groups);
                        counts[g][class_column(p, m, t)] += 1;
                        by_group[g].push(p);
                    }
                    let prot = disclosure::protect_table(&counts, MIN_COUNT);
                    let groups = groups
                        .iter()
                        .enumerate()
                        .map(|(i, name)| {
                            let n = prot.row_totals[i];
                            let cells = &prot.cells[i];
                            GroupOutcome {
                                group: name.clone(),
                                n,
                                improved: cells[0],
                                no_reliable_change: cells[1],
                                deteriorated: cells[2],
                                improved_share: share(cells[0], n),
                                withheld: prot.why(i, 3),
                                stats: n.and_then(|_| group_stats(&by_group[i])),
                            }
                        })
                        .collect();
                    MeasureByGroup {
                        measure: m.name(),
                        threshold: t,
                        groups,
                    }
                })
                .collect();
            let people = people_table(&groups, &members);
            // A group's attendances only beside its published count of people.
            let attendances = groups
                .iter()
                .cloned()
                .zip(att)
                .zip(&people.rows)
                .map(|((g, a), row)| (g, a.filter(|_| row.participants.is_some())))
                .collect();
            EquityDimension {
                dimension: d.name(),
                people,
                attendances,
                outcomes,
            }
        })
        .collect();
    EquityReport {
        min_count: MIN_COUNT,
        follow_up: to,
        dimensions,
    }
}

/// A calendar quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quarter {
    /// Year.
    pub year: i32,
    /// 1 to 4.
    pub quarter: u32,
}

impl Quarter {
    /// Parses `YYYY-Qn`, or gives the current quarter.
    pub fn parse_or_current(s: Option<&str>) -> Result<Quarter, ApiError> {
        let Some(s) = s else {
            let today = chrono::Utc::now().date_naive();
            return Ok(Quarter {
                year: today.year(),
                quarter: (today.month() - 1) / 3 + 1,
            });
        };
        let bad = || {
            ApiError::bad(
                "invalid_query",
                format!("`quarter` must look like 2026-Q3, not `{s}`"),
            )
        };
        let (y, q) = s.split_once(['-', ' ']).ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let quarter: u32 = q
            .strip_prefix(['Q', 'q'])
            .and_then(|q| q.parse().ok())
            .filter(|q| (1..=4).contains(q))
            .ok_or_else(bad)?;
        if !(2000..=2200).contains(&year) {
            return Err(bad());
        }
        Ok(Quarter { year, quarter })
    }
    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, (self.quarter - 1) * 3 + 1, 1).expect("valid date")
    }
    /// Its last day.
    pub fn last_day(self) -> NaiveDate {
        let next = if self.quarter == 4 {
            NaiveDate::from_ymd_opt(self.year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.year, self.quarter * 3 + 1, 1)
        };
        next.expect("valid date").pred_opt().expect("valid date")
    }
    /// `2026-Q3`.
    pub fn label(self) -> String {
        format!("{}-Q{}", self.year, self.quarter)
    }
}

/// A site used in the quarter.
#[derive(Debug, Clone, Serialize)]
pub struct SiteRow {
    /// Site code.
    pub site: String,
    /// Its name, from the project's set-up.
    pub name: Option<String>,
    /// Sessions held there.
    pub sessions: u64,
}

/// Wellbeing summary line of the quarterly report.
#[derive(Debug, Clone, Serialize)]
pub struct WellbeingLine {
    /// Measure.
    pub measure: String,
    /// Label.
    pub label: String,
    /// Pairs completed in the quarter.
    pub n: Option<u64>,
    /// Mean baseline.
    pub mean_baseline: Option<f64>,
    /// Mean at end.
    pub mean_end: Option<f64>,
    /// Mean change (positive is better except ONS4 anxiety).
    pub mean_change: Option<f64>,
    /// 95% CI low.
    pub ci95_low: Option<f64>,
    /// 95% CI high.
    pub ci95_high: Option<f64>,
    /// Two-sided p of the paired t test.
    pub p: Option<f64>,
    /// Cohen's d_z.
    pub cohens_dz: Option<f64>,
    /// Share improved by at least the configured threshold.
    pub improved_share: Option<f64>,
}

/// The quarterly programme report.
#[derive(Debug, Clone, Serialize)]
pub struct QuarterlyReport {
    /// Project slug.
    pub project: String,
    /// Project name.
    pub project_name: String,
    /// The quarter.
    pub quarter: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// When it was made (UTC, RFC 3339).
    pub generated_at: String,
    /// Activities run, with sessions and attendances.
    pub activities: Vec<ActivityRow>,
    /// Sessions held.
    pub sessions: u64,
    /// Attendances (registered and unregistered), `null` if suppressed.
    pub attendances: Option<u64>,
    /// Participants registered in the quarter (with data-use consent), by the registration date
    /// typed on the device (else their record's creation day), `null` if suppressed.
    pub new_participants: Option<u64>,
    /// Participants whose referral date is in the quarter (with data-use consent), `null` if
    /// suppressed.
    pub new_referrals: Option<u64>,
    /// New participants by referral source, protected.
    pub referral_sources: Vec<(String, Option<u64>)>,
    /// Sites (delivery partners' venues) used.
    pub sites: Vec<SiteRow>,
    /// Wellbeing: pairs whose follow-up fell in the quarter.
    pub wellbeing: Vec<WellbeingLine>,
    /// The smallest published count.
    pub min_count: u64,
    /// A demo programme's report: synthetic people, not real data (set by the caller).
    pub demo: bool,
}

/// The notice a demo programme's quarterly report carries at its head.
pub const DEMO_NOTICE: &str = "Demo programme: synthetic data, not real people";

/// Builds the quarterly report.
pub async fn quarterly(
    db: &Db,
    project: &str,
    project_name: &str,
    quarter: Quarter,
    filters: &Filters,
    thresholds: Thresholds,
) -> Result<QuarterlyReport, ApiError> {
    let data = Data::load(db, project, filters).await?;
    let att = attendance(&data);
    let from = quarter.first_day();
    let to = quarter.last_day();
    let new: Vec<&Person> = data
        .people
        .iter()
        .filter(|p| p.registered.is_some_and(|r| r >= from && r <= to))
        .collect();
    let sources: Vec<String> = schema::REFERRAL_SOURCES
        .iter()
        .map(|s| s.to_string())
        .chain(["not_recorded".to_owned()])
        .collect();
    let mut by_source = vec![0u64; sources.len()];
    for p in &new {
        by_source[group_index(&sources, p.referral_source.as_deref())] += 1;
    }
    let (by_source, new_total) = disclosure::protect_vector(&by_source, MIN_COUNT);
    // Referred in the quarter: among everyone in scope, whenever they registered.
    let referred = data
        .everyone
        .values()
        .filter(|p| p.referred.is_some_and(|r| r >= from && r <= to))
        .count() as u64;
    let (_, new_referrals) = disclosure::protect_vector(&[referred], MIN_COUNT);
    // Site names by code, keyed as the sessions' (redacted) site codes are.
    let redactor = Redactor::load(db, project).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    for site in storage::analysis::sites(&db.pool, project).await? {
        names.insert(redactor.redact(&site.slug), redactor.redact(&site.name));
    }
    let mut sites: BTreeMap<String, u64> = BTreeMap::new();
    for s in &data.sessions {
        *sites.entry(s.site.clone()).or_default() += 1;
    }
    let out = outcomes(&data, "end", thresholds);
    let wellbeing = out
        .measures
        .iter()
        .map(|m| {
            let s = m.stats.as_ref();
            WellbeingLine {
                measure: m.measure.clone(),
                label: m.label.clone(),
                n: m.n,
                mean_baseline: s.map(|s| s.mean_before),
                mean_end: s.map(|s| s.mean_after),
                mean_change: s.map(|s| s.mean_change),
                ci95_low: s.and_then(|s| s.ci95_low),
                ci95_high: s.and_then(|s| s.ci95_high),
                p: s.and_then(|s| s.p),
                cohens_dz: s.and_then(|s| s.cohens_dz),
                improved_share: m.reliable_change.first().and_then(|r| r.improved_share),
            }
        })
        .collect();
    Ok(QuarterlyReport {
        project: project.to_owned(),
        project_name: project_name.to_owned(),
        quarter: quarter.label(),
        from,
        to,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        activities: att.activities,
        sessions: att.sessions,
        attendances: att.attendances,
        new_participants: new_total,
        new_referrals,
        referral_sources: sources.into_iter().zip(by_source).collect(),
        sites: sites
            .into_iter()
            .map(|(site, sessions)| SiteRow {
                name: names.get(&site).cloned(),
                site,
                sessions,
            })
            .collect(),
        wellbeing,
        min_count: MIN_COUNT,
        demo: false,
    })
}

fn cell(v: Option<u64>) -> String {
    v.map_or_else(|| "suppressed".to_owned(), |v| v.to_string())
}

fn num(v: Option<f64>, places: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.places$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

impl QuarterlyReport {
    /// Rows of (section, item, value) for the tidy CSV form.
    fn lines(&self) -> Vec<(&'static str, String, String)> {
        let mut l = vec![
            ("summary", "sessions".to_owned(), self.sessions.to_string()),
            ("summary", "attendances".to_owned(), cell(self.attendances)),
            (
                "summary",
                "new_participants".to_owned(),
                cell(self.new_participants),
            ),
            (
                "summary",
                "new_referrals".to_owned(),
                cell(self.new_referrals),
            ),
            (
                "summary",
                "activities_run".to_owned(),
                self.activities.len().to_string(),
            ),
        ];
        for a in &self.activities {
            l.push((
                "activity_sessions",
                a.activity.clone(),
                a.sessions.to_string(),
            ));
            l.push((
                "activity_attendances",
                a.activity.clone(),
                cell(a.attendances),
            ));
        }
        for (s, n) in &self.referral_sources {
            l.push(("new_participants_by_referral_source", s.clone(), cell(*n)));
        }
        for s in &self.sites {
            l.push(("site_sessions", s.site.clone(), s.sessions.to_string()));
        }
        for w in &self.wellbeing {
            l.push(("wellbeing_pairs", w.measure.clone(), cell(w.n)));
            if w.n.is_some() {
                for (k, v) in [
                    ("mean_baseline", w.mean_baseline),
                    ("mean_end", w.mean_end),
                    ("mean_change", w.mean_change),
                    ("ci95_low", w.ci95_low),
                    ("ci95_high", w.ci95_high),
                    ("p", w.p),
                    ("cohens_dz", w.cohens_dz),
                    ("improved_share", w.improved_share),
                ] {
                    if let Some(v) = v {
                        l.push(("wellbeing", format!("{}.{k}", w.measure), format!("{v:.4}")));
                    }
                }
            }
        }
        l
    }

    /// Tidy CSV: `project,quarter,section,item,value` (value `suppressed` where withheld).
    /// The text columns are guarded against spreadsheet formulas as the exports are
    /// ([`crate::analysis::export::csv_string_field`]); `value`, a number or `suppressed`, is not (a
    /// negative mean change stays `-1.2500`).
    pub fn csv(&self) -> String {
        let mut s = String::from("project,quarter,section,item,value\r\n");
        let mut lines = self.lines();
        if self.demo {
            lines.insert(0, ("notice", "demo".to_owned(), DEMO_NOTICE.to_owned()));
        }
        for (section, item, value) in lines {
            let mut line = Vec::new();
            for f in [self.project.as_str(), &self.quarter, section, &item] {
                let mut b = Vec::new();
                crate::analysis::export::csv_string_field(&mut b, f);
                line.push(String::from_utf8(b).expect("utf-8 in, utf-8 out"));
            }
            let mut b = Vec::new();
            csv_escape(&mut b, &value);
            line.push(String::from_utf8(b).expect("utf-8 in, utf-8 out"));
            s.push_str(&line.join(","));
            s.push_str("\r\n");
        }
        s
    }

    /// Markdown for a programme report.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# {} – quarterly report {}\n\n{} to {}. Generated {}. Counts below {} are suppressed \
             (shown as \"suppressed\"), with further cells suppressed where they would reveal them.\n",
            md(&self.project_name),
            self.quarter,
            self.from,
            self.to,
            self.generated_at,
            self.min_count
        );
        if self.demo {
            let _ = writeln!(s, "> **{DEMO_NOTICE}.**\n");
        }
        let _ = writeln!(
            s,
            "## Summary\n\n| | |\n|---|---|\n| Activities run | {} |\n| Sessions | {} |\n| Attendances | {} |\n| New participants | {} |\n| New referrals | {} |\n",
            self.activities.len(),
            self.sessions,
            cell(self.attendances),
            cell(self.new_participants),
            cell(self.new_referrals)
        );
        s.push_str(
            "## Activities\n\n| Activity | Type | Sessions | Attendances |\n|---|---|---|---|\n",
        );
        for a in &self.activities {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                md(&a.activity),
                md(&a.activity_type),
                a.sessions,
                cell(a.attendances)
            );
        }
        s.push_str("\n## Sites and partners\n\n| Site | Name | Sessions |\n|---|---|---|\n");
        for site in &self.sites {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                md(&site.site),
                md(site.name.as_deref().unwrap_or("")),
                site.sessions
            );
        }
        s.push_str(
            "\n## New participants by referral source\n\n| Source | Participants |\n|---|---|\n",
        );
        for (src, n) in &self.referral_sources {
            let _ = writeln!(s, "| {} | {} |", md(src), cell(*n));
        }
        s.push_str(
            "\n## Wellbeing (baseline to end, pairs completed this quarter)\n\n\
             | Measure | Pairs | Baseline | End | Change | 95% CI | p | d_z | Improved |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        for w in &self.wellbeing {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} to {} | {} | {} | {} |",
                md(&w.label),
                cell(w.n),
                num(w.mean_baseline, 2),
                num(w.mean_end, 2),
                num(w.mean_change, 2),
                num(w.ci95_low, 2),
                num(w.ci95_high, 2),
                num(w.p, 3),
                num(w.cohens_dz, 2),
                pct(w.improved_share)
            );
        }
        s
    }

    /// A standalone HTML page (no scripts, inline styles).
    pub fn html(&self) -> String {
        let e = crate::analysis::charts::escape;
        let mut s = String::new();
        let _ = write!(
            s,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{} – quarterly report {}</title><style>\
             body{{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.4}}\
             table{{border-collapse:collapse;margin:0 0 1.5rem;width:100%}}\
             th,td{{border:1px solid #767676;padding:.3rem .5rem;text-align:left}}\
             td.n{{text-align:right;font-variant-numeric:tabular-nums}}\
             .s{{color:#595959;font-style:italic}}\
             .wrap{{overflow-x:auto}}</style></head><body><main>\
             <h1>{} – quarterly report {}</h1><p>{} to {}. Generated {}. Counts below {} are \
             suppressed, with further cells suppressed where they would reveal them.</p>",
            e(&self.project_name),
            e(&self.quarter),
            e(&self.project_name),
            e(&self.quarter),
            self.from,
            self.to,
            e(&self.generated_at),
            self.min_count
        );
        if self.demo {
            let _ = write!(s, "<p role=\"note\"><strong>{DEMO_NOTICE}.</strong></p>");
        }
        let td = |v: String| {
            if v == "suppressed" {
                "<td class=\"n s\">suppressed</td>".to_owned()
            } else {
                format!("<td class=\"n\">{}</td>", e(&v))
            }
        };
        let _ = write!(
            s,
            "<h2>Summary</h2><table><tbody><tr><th scope=\"row\">Activities run</th>{}</tr>\
             <tr><th scope=\"row\">Sessions</th>{}</tr><tr><th scope=\"row\">Attendances</th>{}</tr>\
             <tr><th scope=\"row\">New participants</th>{}</tr>\
             <tr><th scope=\"row\">New referrals</th>{}</tr></tbody></table>",
            td(self.activities.len().to_string()),
            td(self.sessions.to_string()),
            td(cell(self.attendances)),
            td(cell(self.new_participants)),
            td(cell(self.new_referrals))
        );
        s.push_str("<h2>Activities</h2><div class=\"wrap\"><table><thead><tr><th scope=\"col\">Activity</th><th scope=\"col\">Type</th><th scope=\"col\">Sessions</th><th scope=\"col\">Attendances</th></tr></thead><tbody>");
        for a in &self.activities {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td>{}{}</tr>",
                e(&a.activity),
                e(&a.activity_type),
                td(a.sessions.to_string()),
                td(cell(a.attendances))
            );
        }
        s.push_str("</tbody></table></div><h2>Sites and partners</h2><div class=\"wrap\"><table><thead><tr><th scope=\"col\">Site</th><th scope=\"col\">Name</th><th scope=\"col\">Sessions</th></tr></thead><tbody>");
        for site in &self.sites {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td>{}</tr>",
                e(&site.site),
                e(site.name.as_deref().unwrap_or("")),
                td(site.sessions.to_string())
            );
        }
        s.push_str("</tbody></table></div><h2>New participants by referral source</h2><div class=\"wrap\"><table><thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Participants</th></tr></thead><tbody>");
        for (src, n) in &self.referral_sources {
            let _ = write!(s, "<tr><td>{}</td>{}</tr>", e(src), td(cell(*n)));
        }
        s.push_str("</tbody></table></div><h2>Wellbeing (baseline to end, pairs completed this quarter)</h2><div class=\"wrap\"><table><thead><tr><th scope=\"col\">Measure</th><th scope=\"col\">Pairs</th><th scope=\"col\">Baseline</th><th scope=\"col\">End</th><th scope=\"col\">Change</th><th scope=\"col\">95% CI</th><th scope=\"col\">p</th><th scope=\"col\">d<sub>z</sub></th><th scope=\"col\">Improved</th></tr></thead><tbody>");
        for w in &self.wellbeing {
            let _ = write!(
                s,
                "<tr><td>{}</td>{}{}{}{}{}{}{}{}</tr>",
                e(&w.label),
                td(cell(w.n)),
                td(num(w.mean_baseline, 2)),
                td(num(w.mean_end, 2)),
                td(num(w.mean_change, 2)),
                td(format!("{} to {}", num(w.ci95_low, 2), num(w.ci95_high, 2))),
                td(num(w.p, 3)),
                td(num(w.cohens_dz, 2)),
                td(pct(w.improved_share))
            );
        }
        s.push_str("</tbody></table></div></main></body></html>\n");
        s
    }
}

/// Text as literal Markdown, as [`crate::analysis::charts::escape`] makes it literal HTML: every ASCII
/// punctuation character is backslash-escaped (CommonMark shows any of them as itself when
/// escaped), so a name cannot make emphasis, code, links, images, raw HTML or autolinks, nor
/// end a table cell; line breaks become spaces, so it cannot end a table row or a heading.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn csv_escape(buf: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\r', '\n']) {
        buf.push(b'"');
        buf.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_parse_and_span() {
        let q = Quarter::parse_or_current(Some("2026-Q3")).unwrap();
        assert_eq!(q.first_day().to_string(), "2026-07-01");
        assert_eq!(q.last_day().to_string(), "2026-09-30");
        let q4 = Quarter::parse_or_current(Some("2025-Q4")).unwrap();
        assert_eq!(q4.last_day().to_string(), "2025-12-31");
        for bad in ["2026", "2026-Q5", "Q1-2026", "2026-Q0", "abcd-Q1"] {
            assert!(Quarter::parse_or_current(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_sums_use_only_published_values() {
        let cells = [Some(7), None, None, Some(9), Some(12)];
        // cells 1 and 2 suppressed: their sum is derivable from the total, each alone is not.
        assert_eq!(derived_sum(&cells, Some(40), &[1, 2]), Some(12));
        assert_eq!(derived_sum(&cells, Some(40), &[1]), None);
        assert_eq!(derived_sum(&cells, Some(40), &[3, 4]), Some(21));
        assert_eq!(derived_sum(&cells, None, &[1, 2, 3, 4]), None);
        assert_eq!(derived_sum(&cells, Some(40), &[1, 2, 3, 4]), Some(33));
    }

    #[test]
    fn markdown_text_is_literal() {
        assert_eq!(
            md("*x* | [a](http://e) <b>\n# `c`"),
            "\\*x\\* \\| \\[a\\]\\(http\\:\\/\\/e\\) \\<b\\> \\# \\`c\\`"
        );
        assert_eq!(md("Ullapool Hall"), "Ullapool Hall");
    }

    fn definition(json: serde_json::Value) -> Definition {
        Definition::from_json(&json.to_string()).expect("a valid definition")
    }

    fn two_band_sum(bands: serde_json::Value) -> Definition {
        definition(serde_json::json!({
            "id": "TWO", "version": 1, "name": "Two items",
            "items": [
                {"number": 1, "scale": {"min": 1, "max": 5}},
                {"number": 2, "scale": {"min": 1, "max": 5}, "reverse": true}
            ],
            "scoring": {"method": "sum", "higher_is_better": true, "bands": bands}
        }))
    }

    #[test]
    fn possible_scores_follow_scales_reversal_and_lookups() {
        let ucla = instrument::builtin("UCLA3").unwrap();
        assert_eq!(
            possible_scores(ucla).unwrap(),
            [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
        );
        // SWEMWBS: every raw total 7..35 through the conversion table.
        let swemwbs = instrument::builtin("SWEMWBS").unwrap();
        let scores = possible_scores(swemwbs).unwrap();
        assert_eq!(scores.len(), 29);
        assert_eq!(scores[0], swemwbs.scoring.lookup_score(7).unwrap());
        assert_eq!(scores[28], 35.0);
        // Answers 0, 5 or 10 on two items: totals in steps of 5 only.
        let steps = definition(serde_json::json!({
            "id": "STEPS", "version": 1, "name": "Steps",
            "items": [
                {"number": 1, "scale": {"values": [{"value": 0}, {"value": 5}, {"value": 10}]}},
                {"number": 2, "scale": {"values": [{"value": 0}, {"value": 5}, {"value": 10}]}}
            ],
            "scoring": {"method": "sum", "higher_is_better": true,
                        "bands": [{"name": "low", "min": 0, "max": 10}, {"name": "high", "min": 15, "max": 20}]}
        }));
        assert_eq!(
            possible_scores(&steps).unwrap(),
            [0.0, 5.0, 10.0, 15.0, 20.0]
        );
        assert!(bands_cover_every_score(&steps), "11 to 14 cannot be scored");
    }

    #[test]
    fn bands_cover_or_leave_a_gap() {
        let covered = two_band_sum(serde_json::json!([
            {"name": "low", "min": 2, "max": 5}, {"name": "high", "min": 6, "max": 10}
        ]));
        assert!(bands_cover_every_score(&covered));
        let gap = two_band_sum(serde_json::json!([
            {"name": "low", "min": 2, "max": 5}, {"name": "high", "min": 7, "max": 10}
        ]));
        assert!(!bands_cover_every_score(&gap));
        // A mean of at least 2 of 3 items: halves and thirds; 2.67 falls between the bands.
        let mean = definition(serde_json::json!({
            "id": "MEAN3", "version": 1, "name": "Mean of three",
            "items": [
                {"number": 1, "scale": {"min": 1, "max": 5}},
                {"number": 2, "scale": {"min": 1, "max": 5}},
                {"number": 3, "scale": {"min": 1, "max": 5}}
            ],
            "scoring": {"method": "mean", "complete": {"min_answered": 2}, "higher_is_better": true,
                        "bands": [{"name": "low", "min": 1, "max": 2.5}, {"name": "high", "min": 3, "max": 5}]}
        }));
        let scores = possible_scores(&mean).unwrap();
        assert!(scores.contains(&1.5) && scores.iter().any(|s| (s - 8.0 / 3.0).abs() < 1e-12));
        assert!(!bands_cover_every_score(&mean));
    }

    static RESPONSE: Response = Response {
        participant: String::new(),
        instrument: String::new(),
        version: 1,
        timepoint: String::new(),
        date: NaiveDate::MIN,
        id: String::new(),
        raw: None,
        metric: None,
        score: None,
        items: BTreeMap::new(),
    };

    fn pair(before: f64, after: f64) -> Pair<'static> {
        Pair {
            participant: "p",
            baseline: &RESPONSE,
            follow_up: &RESPONSE,
            before,
            after,
        }
    }

    #[test]
    fn band_counts_are_protected_and_list_no_band_when_it_can_happen() {
        let covered = two_band_sum(serde_json::json!([
            {"name": "low", "label": "Low", "min": 2, "max": 5}, {"name": "high", "min": 6, "max": 10}
        ]));
        let pairs: Vec<Pair> = (0..12)
            .map(|i| {
                if i < 7 {
                    pair(4.0, 8.0)
                } else {
                    pair(8.0, 3.0)
                }
            })
            .collect();
        let got = band_counts(&covered, &pairs);
        let rows = serde_json::to_value(&got).unwrap();
        assert_eq!(
            rows,
            serde_json::json!([
                {"band": "low", "label": "Low", "baseline": 7, "follow_up": 5},
                {"band": "high", "label": null, "baseline": 5, "follow_up": 7}
            ])
        );
        // A gap at 6: the `none` row is listed, even though no pair falls in it, and its 0
        // is suppressed with the other cells: with a second alone (5, marked protecting) the
        // total 12 would pin both.
        let gap = two_band_sum(serde_json::json!([
            {"name": "low", "min": 2, "max": 5}, {"name": "high", "min": 7, "max": 10}
        ]));
        let got = band_counts(&gap, &pairs);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].band, "none");
        assert_eq!(got[2].baseline, None);
        assert_eq!(got.iter().filter(|b| b.baseline.is_none()).count(), 3);
    }

    #[test]
    fn an_instrument_where_lower_is_better_counts_a_fall_as_improvement() {
        let def = Arc::new(definition(serde_json::json!({
            "id": "LONELY", "version": 2, "name": "Loneliness",
            "items": [{"number": 1, "scale": {"min": 1, "max": 9}}],
            "scoring": {"method": "sum", "higher_is_better": false,
                        "reliable_change": [{"points": 2, "label": "reliable change", "source": "a study"}]}
        })));
        let measure = Measure::Total(def);
        // Changes of -5 (six people), -3, 0, +3 and +5 (five each).
        let pairs: Vec<Pair> = [(-5.0, 6), (-3.0, 5), (0.0, 5), (3.0, 5), (5.0, 5)]
            .into_iter()
            .flat_map(|(change, n)| (0..n).map(move |_| pair(6.0, 6.0 + change)))
            .collect();
        let out = outcome_of(&measure, &pairs, Thresholds::default());
        assert_eq!(out.measure, "lonely_v2");
        assert_eq!(
            out.label,
            "Loneliness (LONELY version 2; sum, 1-9; lower is better)"
        );
        assert_eq!(
            (out.instrument.as_deref(), out.instrument_version),
            (Some("LONELY"), Some(2))
        );
        assert_eq!(out.direction, -1);
        assert_eq!(out.n, Some(26));
        let mean = out.stats.as_ref().unwrap().mean_change;
        assert!((mean - -5.0 / 26.0).abs() < 1e-12, "{mean}");
        let rc = &out.reliable_change[0];
        assert_eq!(rc.threshold, 2.0);
        assert_eq!(rc.source, "2 points: reliable change (a study)");
        // A fall is an improvement: eleven fell by 3 or more, ten rose by 3 or more.
        assert_eq!(
            (rc.improved, rc.no_reliable_change, rc.deteriorated),
            (Some(11), Some(5), Some(10))
        );
        let bins: Vec<(&str, Option<u64>)> = out
            .distribution
            .iter()
            .map(|b| (b.label.as_str(), b.count))
            .collect();
        assert_eq!(
            bins,
            [
                ("-4 or less", Some(5)),
                ("-4 to -2", Some(5)),
                ("between -2 and 2", Some(5)),
                ("2 to 4", Some(5)),
                ("4 or more", Some(6))
            ]
        );
        assert!(out.note.is_none());
    }

    #[test]
    fn an_outcome_request_names_what_is_wrong() {
        let project = "reports-selection";
        instrument::define(
            project,
            definition(serde_json::json!({
                "id": "MOOD", "version": 1, "name": "Mood",
                "items": [{"number": 1, "scale": {"min": 0, "max": 4}}],
                "scoring": {"method": "per_item", "higher_is_better": true}
            })),
        );
        let err = |i: Option<&str>, v: Option<u32>| Selection::parse(project, i, v).unwrap_err();
        let unknown = err(Some("NOPE"), None);
        assert!(
            unknown.starts_with("`instrument`: `NOPE` is not an instrument of project reports-selection (known: WEMWBS"),
            "{unknown}"
        );
        assert!(unknown.contains("MOOD"), "{unknown}");
        for id in ["MOOD", "ONS_LONELINESS"] {
            let per_item = err(Some(id), None);
            assert!(
                per_item.starts_with(&format!("`instrument`: {id} reports each answer")),
                "{per_item}"
            );
        }
        assert!(err(Some("MOOD"), Some(3)).starts_with("`instrument_version`: project reports-selection has no version 3 of MOOD (its versions: 1)"));
        assert!(err(Some("UCLA3"), Some(2)).starts_with("`instrument_version`: UCLA3 is built in"));
        assert!(err(None, Some(1)).starts_with("`instrument_version` needs `instrument`"));
        let names =
            |s: Selection| -> Vec<String> { s.0.unwrap().iter().map(Measure::name).collect() };
        assert_eq!(
            names(Selection::parse(project, Some("ONS4"), None).unwrap()).len(),
            4
        );
        assert_eq!(
            names(Selection::parse(project, Some("UCLA3"), Some(1)).unwrap()),
            ["ucla3"]
        );
        assert!(Selection::parse(project, None, None).unwrap().0.is_none());
    }

    #[allow(clippy::too_many_arguments)]
    fn response(
        participant: &str,
        instrument: &str,
        timepoint: &str,
        date: &str,
        id: &str,
        raw: Option<i64>,
        metric: Option<f64>,
        score: Option<f64>,
        items: &[(u8, i64)],
    ) -> Response {
        Response {
            participant: participant.into(),
            instrument: instrument.into(),
            version: 1,
            timepoint: timepoint.into(),
            date: date.parse().unwrap(),
            id: id.into(),
            raw,
            metric,
            score,
            items: items.iter().copied().collect(),
        }
    }

    /// WEMWBS forms for a dozen people (their SWEMWBS items give SWEMWBS scores too), SWEMWBS
    /// forms for four more, ONS4 and UCLA3 for the dozen; one person with two baselines, one
    /// whose end is dated before their baseline, one whose end is before `from`.
    fn paired_data() -> Data {
        let mut responses = Vec::new();
        for i in 0..12i64 {
            let p = format!("p{i:02}");
            let (b, e) = (
                40 + i,
                40 + i + [-6, -3, -1, 0, 2, 3, 3, 4, 5, 7, 9, 12][i as usize],
            );
            let (mb, me) = (17.0 + i as f64 * 0.43, 17.0 + i as f64 * 0.61);
            responses.push(response(
                &p,
                "WEMWBS",
                "baseline",
                "2026-01-10",
                &format!("{p}-wb"),
                Some(b),
                Some(mb),
                Some(b as f64),
                &[],
            ));
            responses.push(response(
                &p,
                "WEMWBS",
                "end",
                "2026-04-10",
                &format!("{p}-we"),
                Some(e),
                Some(me),
                Some(e as f64),
                &[],
            ));
            let ons = |k: i64| {
                [
                    (1, (k + i) % 11),
                    (2, (k + 2 * i) % 11),
                    (3, 5),
                    (4, (k * i) % 11),
                ]
            };
            responses.push(response(
                &p,
                "ONS4",
                "baseline",
                "2026-01-10",
                &format!("{p}-ob"),
                None,
                None,
                None,
                &ons(3),
            ));
            responses.push(response(
                &p,
                "ONS4",
                "end",
                "2026-04-11",
                &format!("{p}-oe"),
                None,
                None,
                None,
                &ons(5),
            ));
            responses.push(response(
                &p,
                "UCLA3",
                "baseline",
                "2026-01-10",
                &format!("{p}-ub"),
                None,
                None,
                Some(3.0 + (i % 6) as f64),
                &[],
            ));
            responses.push(response(
                &p,
                "UCLA3",
                "end",
                "2026-04-12",
                &format!("{p}-ue"),
                None,
                None,
                Some(3.0 + ((i * 5) % 7) as f64),
                &[],
            ));
        }
        for i in 0..4 {
            let p = format!("s{i}");
            responses.push(response(
                &p,
                "SWEMWBS",
                "baseline",
                "2026-02-01",
                &format!("{p}-b"),
                None,
                Some(20.0 + i as f64),
                None,
                &[],
            ));
            responses.push(response(
                &p,
                "SWEMWBS",
                "end",
                "2026-05-01",
                &format!("{p}-e"),
                None,
                Some(23.21 + i as f64),
                None,
                &[],
            ));
        }
        // Two baselines: the earliest counts, whatever the order they come in.
        responses.push(response(
            "twice",
            "WEMWBS",
            "baseline",
            "2026-01-20",
            "twice-late",
            Some(60),
            None,
            None,
            &[],
        ));
        responses.push(response(
            "twice",
            "WEMWBS",
            "baseline",
            "2026-01-05",
            "twice-early",
            Some(30),
            None,
            None,
            &[],
        ));
        responses.push(response(
            "twice",
            "WEMWBS",
            "end",
            "2026-03-01",
            "twice-end",
            Some(41),
            None,
            None,
            &[],
        ));
        // An end before the baseline is no pair.
        responses.push(response(
            "early",
            "WEMWBS",
            "baseline",
            "2026-02-10",
            "early-b",
            Some(40),
            None,
            None,
            &[],
        ));
        responses.push(response(
            "early",
            "WEMWBS",
            "end",
            "2026-02-01",
            "early-e",
            Some(50),
            None,
            None,
            &[],
        ));
        // An end before `from` is no pair.
        responses.push(response(
            "old",
            "WEMWBS",
            "baseline",
            "2025-11-01",
            "old-b",
            Some(40),
            None,
            None,
            &[],
        ));
        responses.push(response(
            "old",
            "WEMWBS",
            "end",
            "2025-12-01",
            "old-e",
            Some(50),
            None,
            None,
            &[],
        ));
        Data {
            project: "reports-pairs".into(),
            responses,
            filters: Filters {
                from: Some("2026-01-01".parse().unwrap()),
                ..Filters::default()
            },
            ..Data::default()
        }
    }

    #[test]
    fn dataset_rows_are_the_report_pairs() {
        use crate::analysis::export::OUTCOME_PAIR_COLUMNS;
        let data = paired_data();
        let thresholds = Thresholds::default();
        let pairs = paired(&data, "end", &Selection::all());
        let rows = outcome_pair_rows(&pairs, thresholds, "reports-pairs");
        let report = outcomes_of_pairs(pairs.clone(), thresholds);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::to_value(outcomes(&data, "end", thresholds)).unwrap()
        );
        let col = |name: &str| {
            OUTCOME_PAIR_COLUMNS
                .iter()
                .position(|c| c.name == name)
                .unwrap()
        };
        let text = |v: &Val| match v {
            Val::Text(s) => s.to_string(),
            other => panic!("not text: {other:?}"),
        };
        let num = |v: &Val| match v {
            Val::Num(n) => *n,
            Val::Int(n) => *n as f64,
            other => panic!("not a number: {other:?}"),
        };
        assert!(rows.iter().all(|r| r.len() == OUTCOME_PAIR_COLUMNS.len()));
        let names: Vec<&str> = report.measures.iter().map(|m| m.measure.as_str()).collect();
        assert_eq!(
            names,
            [
                "wemwbs",
                "swemwbs",
                "ons4_life_satisfaction",
                "ons4_worthwhile",
                "ons4_happiness",
                "ons4_anxiety",
                "ucla3"
            ]
        );
        for m in &report.measures {
            let mine: Vec<&Vec<Val>> = rows
                .iter()
                .filter(|r| text(&r[col("measure")]) == m.measure)
                .collect();
            assert_eq!(Some(mine.len() as u64), m.n, "{}", m.measure);
            let ids: Vec<String> = mine
                .iter()
                .map(|r| text(&r[col("participant_id")]))
                .collect();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "{}: {ids:?}",
                m.measure
            );
            let stats = m.stats.as_ref().unwrap();
            let mean = mine.iter().map(|r| num(&r[col("change")])).sum::<f64>() / mine.len() as f64;
            assert!((mean - stats.mean_change).abs() < 1e-9, "{}", m.measure);
            for (k, (t, class, source)) in [
                ("threshold", "reliable_change", "threshold_source"),
                ("threshold_2", "reliable_change_2", "threshold_2_source"),
            ]
            .into_iter()
            .enumerate()
            {
                let Some(shares) = m.reliable_change.get(k) else {
                    assert!(
                        mine.iter()
                            .all(|r| r[col(t)] == Val::Null && r[col(class)] == Val::Null)
                    );
                    continue;
                };
                for r in &mine {
                    assert_eq!(num(&r[col(t)]), shares.threshold);
                    assert_eq!(text(&r[col(source)]), shares.source);
                }
                let count = |c: ChangeClass| {
                    Some(
                        mine.iter()
                            .filter(|r| text(&r[col(class)]) == c.as_str())
                            .count() as u64,
                    )
                };
                for (published, c) in [
                    (shares.improved, ChangeClass::Improved),
                    (shares.no_reliable_change, ChangeClass::NoReliableChange),
                    (shares.deteriorated, ChangeClass::Deteriorated),
                ] {
                    if published.is_some() {
                        assert_eq!(published, count(c), "{} {class}", m.measure);
                    }
                }
            }
        }
        // The counts before suppression: recomputed from the rows' changes, bin by bin.
        let wemwbs: Vec<&Vec<Val>> = rows
            .iter()
            .filter(|r| text(&r[col("measure")]) == "wemwbs")
            .collect();
        let improved = wemwbs
            .iter()
            .filter(|r| text(&r[col("reliable_change")]) == "improved")
            .count();
        assert_eq!(
            improved,
            wemwbs
                .iter()
                .filter(|r| num(&r[col("change")]) >= 3.0)
                .count()
        );
        let at9 = wemwbs
            .iter()
            .filter(|r| text(&r[col("reliable_change_2")]) == "improved")
            .count();
        assert_eq!(
            at9,
            wemwbs
                .iter()
                .filter(|r| num(&r[col("change")]) >= 9.0)
                .count()
        );
        // The earliest of two baselines; no pair with an end before the baseline or `from`.
        let twice = wemwbs
            .iter()
            .find(|r| text(&r[col("participant_id")]) == "twice")
            .unwrap();
        assert_eq!(text(&twice[col("baseline_response_id")]), "twice-early");
        assert_eq!(
            (
                num(&twice[col("baseline_score")]),
                num(&twice[col("change")])
            ),
            (30.0, 11.0)
        );
        assert_eq!(num(&twice[col("days_between")]), 55.0);
        for who in ["early", "old"] {
            assert!(
                rows.iter().all(|r| text(&r[col("participant_id")]) != who),
                "{who}"
            );
        }
        // SWEMWBS from WEMWBS forms and from SWEMWBS forms; changes written without residue.
        let swemwbs: Vec<&Vec<Val>> = rows
            .iter()
            .filter(|r| text(&r[col("measure")]) == "swemwbs")
            .collect();
        assert_eq!(swemwbs.len(), 16);
        assert_eq!(
            swemwbs
                .iter()
                .filter(|r| text(&r[col("baseline_instrument")]) == "WEMWBS")
                .count(),
            12
        );
        let s0 = swemwbs
            .iter()
            .find(|r| text(&r[col("participant_id")]) == "s0")
            .unwrap();
        assert_eq!(num(&s0[col("change")]), 3.21);
        // ONS4 has no thresholds; anxiety and UCLA3 count a fall as better.
        let anxiety = rows
            .iter()
            .find(|r| text(&r[col("measure")]) == "ons4_anxiety")
            .unwrap();
        assert_eq!(anxiety[col("threshold")], Val::Null);
        assert_eq!(anxiety[col("reliable_change")], Val::Null);
        assert_eq!(anxiety[col("direction")], Val::Int(-1));
        let ucla = rows
            .iter()
            .find(|r| text(&r[col("measure")]) == "ucla3")
            .unwrap();
        assert_eq!(ucla[col("instrument")], Val::from("UCLA3"));
        assert_eq!(ucla[col("instrument_version")], Val::Int(1));
        assert_eq!(ucla[col("follow_up_timepoint")], Val::from("end"));
    }

    #[test]
    fn classes_are_the_report_bins() {
        for t in [0.5, 2.87, 3.0, 9.0] {
            for k in -40..=40 {
                let c = f64::from(k) * 0.25 + 1e-12 * f64::from(k % 3);
                let class = change_class(c, t);
                assert_eq!(class == ChangeClass::Improved, c >= t - 1e-9, "{c} {t}");
                assert_eq!(
                    class == ChangeClass::Deteriorated,
                    c <= -t + 1e-9,
                    "{c} {t}"
                );
            }
        }
    }

    #[test]
    fn attendance_bands() {
        let got: Vec<usize> = [0, 1, 2, 3, 4, 5, 6, 40]
            .iter()
            .map(|n| band_of(*n))
            .collect();
        assert_eq!(got, [0, 1, 2, 2, 3, 3, 4, 4]);
    }
}
