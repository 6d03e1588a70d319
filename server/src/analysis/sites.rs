//! The sites report: several sites (or all of them) in one report, with a per-site breakdown of
//! activity, reach and retention, equity groups and wellbeing outcomes.
//!
//! Selection: the sites named in the request (`sites=a,b`, matched against the site codes of the
//! project's set-up and of its sessions, as the `site` filter of the other reports is) or every
//! site that held a matching session (`sites=all`, the default), with the usual `activity`,
//! `from` and `to` filters on sessions and `timepoint` for outcomes.
//!
//! **Home site.** Every participant in scope is counted at exactly one selected site, their
//! home site: the selected site where they attended (present or leaving early) the most
//! matching sessions; a tie goes to the site of their earliest such attendance (by the
//! session's date), then to the first site code in alphabetical order. Participants who
//! attended none of the matching sessions at the selected sites are out of scope. So the
//! per-site counts of people add up to the all-sites count: the per-site rows and the `all` row
//! are one table with its margins. A participant's sessions attended are those at any selected
//! site; their outcome pairs (as [`reports::paired`] makes them) count at their home site.
//!
//! Disclosure control: attendances per site are one protected vector
//! ([`disclosure::protect_vector`]); sessions held are not counts of people and are not
//! protected. The people table (participants by home site and sessions attended) and the five
//! equity tables (participants by home site and group) have the same row totals (participants
//! per home site) and grand total, so they are protected together
//! ([`disclosure::protect_linked`]): a site's total hidden in one is hidden in all, and no hidden
//! value can be worked out from all the published tables at once. Each outcome table (pairs by
//! home site and reliable-change class) has other row totals and is protected on its own
//! ([`disclosure::protect_table`]); statistics are given only where a site's count of pairs is
//! published.

use crate::analysis::disclosure::{self, Hidden, MIN_COUNT, Protected};
use crate::analysis::export::{Filters, Thresholds};
use crate::analysis::redact::Redactor;
use crate::analysis::reports::{self, DIMENSIONS, Data, Measure, Pair, PeopleTable, Selection};
use crate::analysis::stats::PairedStats;
use crate::error::ApiError;
use crate::storage::{self, Db};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The attendance bands of the people table that are protected: everyone in scope attended at
/// least once, so the `none` band is always 0 and is left out of the protected table.
const ATTENDED_BANDS: usize = reports::ATTENDANCE_BANDS.len() - 1;

/// Which sites a report covers, as a request gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteSelection {
    /// Every site that held a matching session.
    All,
    /// These site codes, in this order (each once).
    Codes(Vec<String>),
}

impl SiteSelection {
    /// Reads `all` (or nothing) or a comma-separated list of site codes.
    pub fn parse(text: Option<&str>) -> Result<SiteSelection, ApiError> {
        let text = text.map(str::trim).unwrap_or("");
        if text.is_empty() || text == "all" {
            return Ok(SiteSelection::All);
        }
        let mut codes: Vec<String> = Vec::new();
        for code in text.split(',').map(str::trim) {
            if code.is_empty() {
                return Err(ApiError::bad(
                    "invalid_query",
                    format!(
                        "`sites` has an empty site code in `{text}`: give codes separated by commas, or `all`"
                    ),
                ));
            }
            if code == "all" {
                return Err(ApiError::bad(
                    "invalid_query",
                    "`sites` is either `all` or a list of site codes, not both",
                ));
            }
            if !codes.iter().any(|c| c == code) {
                codes.push(code.to_owned());
            }
        }
        Ok(SiteSelection::Codes(codes))
    }
}

/// One selected site as analysts see it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteRef {
    /// Site code.
    pub code: String,
    /// Its name from the project's set-up (its code when it has none).
    pub name: String,
}

/// A participant in scope: their home site and sessions attended at the selected sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Home {
    /// Index of the home site among the selected sites.
    pub site: usize,
    /// Matching sessions attended at any selected site.
    pub attended: u64,
}

/// What the sites report is computed from, loaded once per request.
#[derive(Debug, Clone)]
pub struct SitesData {
    /// The project's data in scope of the activity and date filters (every site).
    pub data: Data,
    /// The selected sites, in report order.
    pub sites: Vec<SiteRef>,
    /// Each participant in scope, by id.
    pub homes: HashMap<String, Home>,
    /// Matching sessions held per selected site.
    pub sessions: Vec<u64>,
    /// Attendances (registered and unregistered) at them per selected site.
    pub attendances: Vec<u64>,
}

/// One participant's matching attendances at one selected site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteVisits {
    /// Sessions attended there.
    pub sessions: u64,
    /// The date of the earliest of them.
    pub first: Option<NaiveDate>,
}

/// The home site among `visits` (one entry per selected site, with its code): most sessions,
/// then the earliest attendance, then the first code in alphabetical order. `None` when no
/// session was attended.
pub fn home_site(visits: &[SiteVisits], codes: &[String]) -> Option<usize> {
    (0..visits.len())
        .filter(|&i| visits[i].sessions > 0)
        .min_by(|&a, &b| {
            let (x, y) = (&visits[a], &visits[b]);
            y.sessions
                .cmp(&x.sessions)
                .then(x.first.cmp(&y.first))
                .then(codes[a].cmp(&codes[b]))
        })
}

fn date_of(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

impl SitesData {
    /// Loads the data of the selected sites. `filters.site` is ignored (the selection replaces
    /// it). A site code the project does not know is refused with `invalid_query`.
    pub async fn load(
        db: &Db,
        project: &str,
        filters: &Filters,
        selection: &SiteSelection,
    ) -> Result<SitesData, ApiError> {
        let redactor = Redactor::load(db, project).await?;
        let mut names: HashMap<String, String> = HashMap::new();
        for s in storage::analysis::sites(&db.pool, project).await? {
            names.insert(s.slug, s.name);
        }
        let all_sessions = storage::analysis::report_sessions(&db.pool, project).await?;
        let known: BTreeSet<&str> = names
            .keys()
            .map(String::as_str)
            .chain(all_sessions.iter().map(|s| s.site.as_str()))
            .collect();
        let matching: Vec<(&storage::analysis::ReportSession, NaiveDate)> = all_sessions
            .iter()
            .filter_map(|s| Some((s, date_of(&s.starts_at)?)))
            .filter(|(s, date)| {
                filters.activity.as_ref().is_none_or(|a| *a == s.activity)
                    && filters.from.is_none_or(|d| *date >= d)
                    && filters.to.is_none_or(|d| *date <= d)
            })
            .collect();
        let codes: Vec<String> = match selection {
            SiteSelection::All => matching
                .iter()
                .map(|(s, _)| s.site.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            SiteSelection::Codes(list) => {
                if let Some(unknown) = list.iter().find(|c| !known.contains(c.as_str())) {
                    return Err(ApiError::bad(
                        "invalid_query",
                        format!("no site `{unknown}` in this project (in `sites`)"),
                    ));
                }
                list.clone()
            }
        };
        let index: HashMap<&str, usize> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut sessions = vec![0u64; codes.len()];
        let mut attendances = vec![0u64; codes.len()];
        let mut session_site: HashMap<&str, (usize, NaiveDate)> = HashMap::new();
        for (s, date) in &matching {
            let Some(&i) = index.get(s.site.as_str()) else {
                continue;
            };
            sessions[i] += 1;
            attendances[i] += (s.registered + s.unregistered_attendees).max(0) as u64;
            session_site.insert(s.id.as_str(), (i, *date));
        }

        // Each participant's attendances per selected site, counted as the rows stream by.
        let mut visits: HashMap<String, Vec<SiteVisits>> = HashMap::new();
        {
            use futures_util::TryStreamExt;
            let mut rows = storage::analysis::attended(db, project);
            while let Some(r) = rows.try_next().await? {
                let Some(&(i, date)) = session_site.get(r.session_id.as_str()) else {
                    continue;
                };
                let v = &mut visits
                    .entry(r.participant_id)
                    .or_insert_with(|| vec![SiteVisits::default(); codes.len()])[i];
                v.sessions += 1;
                v.first = Some(v.first.map_or(date, |f| f.min(date)));
            }
        }

        let mut unfiltered = filters.clone();
        unfiltered.site = None;
        let data = Data::load(db, project, &unfiltered).await?;
        let homes = visits
            .into_iter()
            .filter(|(id, _)| data.everyone.contains_key(id))
            .filter_map(|(id, v)| {
                let site = home_site(&v, &codes)?;
                let attended = v.iter().map(|s| s.sessions).sum();
                Some((id, Home { site, attended }))
            })
            .collect();
        let sites = codes
            .iter()
            .map(|c| SiteRef {
                code: redactor.redact(c),
                name: redactor.redact(names.get(c).unwrap_or(c)),
            })
            .collect();
        Ok(SitesData {
            data,
            sites,
            homes,
            sessions,
            attendances,
        })
    }
}

/// Sessions and attendances of one site.
#[derive(Debug, Clone, Serialize)]
pub struct SiteActivity {
    /// Site code (`all` for the selected sites together).
    pub site: String,
    /// Matching sessions held (not a count of people: not suppressed).
    pub sessions: u64,
    /// Attendances (registered and unregistered), `null` if suppressed.
    pub attendances: Option<u64>,
    /// Why `attendances` is withheld (`small` or `protecting`); absent when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Hidden>,
}

/// Activity per site with the all-sites figures.
#[derive(Debug, Clone, Serialize)]
pub struct ActivityBySite {
    /// One row per selected site.
    pub rows: Vec<SiteActivity>,
    /// The selected sites together.
    pub all: SiteActivity,
}

/// One site's participants by group of one equity dimension.
#[derive(Debug, Clone, Serialize)]
pub struct EquityRow {
    /// Site code (`all` for the column totals).
    pub site: String,
    /// Participants whose home site it is (the row total), `null` if suppressed.
    pub participants: Option<u64>,
    /// Participants per group, in the order of `groups`, `null` where suppressed.
    pub counts: Vec<Option<u64>>,
    /// Why each withheld value is withheld, by `participants` or group: `small` (below 5) or
    /// `protecting` (hidden so that a small count cannot be worked out). Absent when every
    /// value is published.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub withheld: BTreeMap<String, Hidden>,
}

/// Participants by home site and group of one equity dimension: one protected table.
#[derive(Debug, Clone, Serialize)]
pub struct SiteEquity {
    /// `imd_quintile`, `ethnic_group`, `age_band`, `gender` or `rurality`.
    pub dimension: &'static str,
    /// The groups (columns), `not_recorded` last.
    pub groups: Vec<String>,
    /// One row per selected site.
    pub rows: Vec<EquityRow>,
    /// The all-sites figures per group (column totals) and in all (grand total).
    pub all: EquityRow,
    /// Entries suppressed because they were below 5.
    pub suppressed_primary: usize,
    /// Entries suppressed to protect those.
    pub suppressed_secondary: usize,
}

/// The wellbeing outcome of one site on one measure.
#[derive(Debug, Clone, Serialize)]
pub struct SiteOutcome {
    /// Site code (`all` for the selected sites together).
    pub site: String,
    /// Pairs, `null` if suppressed.
    pub n: Option<u64>,
    /// Improved by at least the threshold.
    pub improved: Option<u64>,
    /// A smaller change either way.
    pub no_reliable_change: Option<u64>,
    /// Worse by at least the threshold.
    pub deteriorated: Option<u64>,
    /// improved / n.
    pub improved_share: Option<f64>,
    /// Statistics of change, when n is published (and at least 2).
    pub stats: Option<PairedStats>,
    /// Why each withheld count (`n`, `improved`, `no_reliable_change`, `deteriorated`) is
    /// withheld: `small` or `protecting`. Absent when every count is published.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub withheld: BTreeMap<String, Hidden>,
}

/// Outcomes per site on one measure: pairs by home site and reliable-change class, one
/// protected table.
#[derive(Debug, Clone, Serialize)]
pub struct MeasureBySite {
    /// `wemwbs` or `swemwbs`.
    pub measure: String,
    /// The reliable-change threshold (points).
    pub threshold: f64,
    /// One row per selected site.
    pub rows: Vec<SiteOutcome>,
    /// The selected sites together (column totals and grand total).
    pub all: SiteOutcome,
}

/// The sites report.
#[derive(Debug, Clone, Serialize)]
pub struct SitesReport {
    /// The smallest published count.
    pub min_count: u64,
    /// The follow-up timepoint paired with baseline.
    pub follow_up: &'static str,
    /// The selected sites, in report order.
    pub sites: Vec<SiteRef>,
    /// Sessions held and attendances per site.
    pub activity: ActivityBySite,
    /// Participants by home site and sessions attended, with first attendance and retention
    /// (rows named by site code; `all` holds the column totals). The `none` band is always 0.
    pub people: PeopleTable,
    /// Participants by home site and group, per equity dimension.
    pub equity: Vec<SiteEquity>,
    /// Wellbeing outcomes by home site (WEMWBS and SWEMWBS).
    pub outcomes: Vec<MeasureBySite>,
}

/// A participant as the linked tables count them: home site, sessions attended, and their
/// group in each equity dimension (in the equity report's order of dimensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Index of the home site.
    pub site: usize,
    /// Sessions attended at the selected sites (at least 1).
    pub attended: u64,
    /// Group index per equity dimension.
    pub groups: Vec<usize>,
}

/// The count tables that share their rows (sites): people by attendance band (without the
/// always-empty `none` band), then one per equity dimension with `widths[d]` groups.
pub fn linked_counts(sites: usize, widths: &[usize], members: &[Member]) -> Vec<Vec<Vec<u64>>> {
    let mut tables = vec![vec![vec![0u64; ATTENDED_BANDS]; sites]];
    tables.extend(widths.iter().map(|w| vec![vec![0u64; *w]; sites]));
    for m in members {
        let band = band_of(m.attended);
        tables[0][m.site][band] += 1;
        for (d, g) in m.groups.iter().enumerate() {
            tables[d + 1][m.site][*g] += 1;
        }
    }
    tables
}

/// The column of `n` sessions in the people table without its `none` band.
fn band_of(n: u64) -> usize {
    match n {
        0 | 1 => 0,
        2..=3 => 1,
        4..=5 => 2,
        _ => 3,
    }
}

/// Protects tables that share their row totals together; `widths[t]` is table `t`'s number of
/// columns (a table with no rows has all its totals 0, so all suppressed).
fn protect_linked(tables: &[Vec<Vec<u64>>], widths: &[usize]) -> Vec<Protected> {
    if tables.first().is_none_or(Vec::is_empty) {
        return widths.iter().map(|w| Protected::no_rows(*w)).collect();
    }
    disclosure::protect_linked(tables, MIN_COUNT)
}

/// Protects one table of `width` columns.
fn protect_table(counts: &[Vec<u64>], width: usize) -> Protected {
    if counts.is_empty() {
        return Protected::no_rows(width);
    }
    disclosure::protect_table(counts, MIN_COUNT)
}

/// The people table from its protected counts (bands without `none`).
/// `counts` are the true counts (sites × bands without `none`), to mark what is withheld.
fn people_table(codes: &[String], p: &Protected, counts: &[Vec<u64>]) -> PeopleTable {
    fn with_none<T: Copy>(none: T, cells: &[T]) -> Vec<T> {
        std::iter::once(none).chain(cells.iter().copied()).collect()
    }
    let column_totals = column_sums(counts, ATTENDED_BANDS);
    PeopleTable {
        rows: codes
            .iter()
            .zip(p.cells.iter().zip(&p.row_totals).zip(counts))
            .map(|(c, ((cells, total), raw))| {
                reports::people_row(c.clone(), with_none(Some(0), cells), *total)
                    .marked(&with_none(0, raw))
            })
            .collect(),
        all: reports::people_row("all".into(), with_none(Some(0), &p.col_totals), p.total)
            .marked(&with_none(0, &column_totals)),
        suppressed_primary: p.primary,
        suppressed_secondary: p.secondary,
    }
}

/// Why each value of a line is withheld: `names[i]` for `shown[i]`, whose true value is
/// `raw[i]`; only the withheld ones.
fn marks<'a>(
    names: impl IntoIterator<Item = &'a str>,
    raw: &[u64],
    shown: &[Option<u64>],
) -> BTreeMap<String, Hidden> {
    names
        .into_iter()
        .zip(raw.iter().zip(shown))
        .filter_map(|(name, (v, s))| {
            Some((name.to_owned(), disclosure::withheld(*v, *s, MIN_COUNT)?))
        })
        .collect()
}

/// The column sums of a table of counts with `width` columns.
fn column_sums(counts: &[Vec<u64>], width: usize) -> Vec<u64> {
    (0..width)
        .map(|j| counts.iter().map(|row| row[j]).sum())
        .collect()
}

/// One row of an outcome table; `raw` holds its true counts by class.
fn site_outcome(
    site: String,
    cells: &[Option<u64>],
    n: Option<u64>,
    raw: &[u64],
    pairs: &[&Pair],
) -> SiteOutcome {
    let names = ["improved", "no_reliable_change", "deteriorated", "n"];
    let raw: Vec<u64> = raw.iter().copied().chain([raw.iter().sum()]).collect();
    let shown: Vec<Option<u64>> = cells.iter().copied().chain([n]).collect();
    SiteOutcome {
        withheld: marks(names, &raw, &shown),
        site,
        n,
        improved: cells[0],
        no_reliable_change: cells[1],
        deteriorated: cells[2],
        improved_share: reports::share(cells[0], n),
        stats: n.and_then(|_| reports::group_stats(pairs)),
    }
}

/// Outcomes on one measure by home site.
fn outcomes_by_site(
    codes: &[String],
    homes: &HashMap<String, Home>,
    measure: &Measure,
    pairs: &[Pair],
    thresholds: Thresholds,
) -> MeasureBySite {
    let ((t, _), _) = measure
        .thresholds(thresholds)
        .expect("WEMWBS and SWEMWBS have thresholds");
    let mut counts = vec![vec![0u64; 3]; codes.len()];
    let mut by_site: Vec<Vec<&Pair>> = vec![Vec::new(); codes.len()];
    for p in pairs {
        let Some(home) = homes.get(p.participant) else {
            continue;
        };
        counts[home.site][reports::class_column(p, measure, t)] += 1;
        by_site[home.site].push(p);
    }
    let prot = protect_table(&counts, 3);
    let rows = codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            site_outcome(
                c.clone(),
                &prot.cells[i],
                prot.row_totals[i],
                &counts[i],
                &by_site[i],
            )
        })
        .collect();
    let everyone: Vec<&Pair> = by_site.iter().flatten().copied().collect();
    MeasureBySite {
        measure: measure.name(),
        threshold: t,
        rows,
        all: site_outcome(
            "all".into(),
            &prot.col_totals,
            prot.total,
            &column_sums(&counts, 3),
            &everyone,
        ),
    }
}

/// One row of an equity table; `raw` holds its true counts by group.
fn equity_row(
    site: String,
    groups: &[String],
    cells: &[Option<u64>],
    total: Option<u64>,
    raw: &[u64],
) -> EquityRow {
    let names = groups.iter().map(String::as_str).chain(["participants"]);
    let raw: Vec<u64> = raw.iter().copied().chain([raw.iter().sum()]).collect();
    let shown: Vec<Option<u64>> = cells.iter().copied().chain([total]).collect();
    EquityRow {
        site,
        participants: total,
        counts: cells.to_vec(),
        withheld: marks(names, &raw, &shown),
    }
}

/// The people table and the equity tables of the members, protected together.
fn people_and_equity(
    codes: &[String],
    groups: Vec<Vec<String>>,
    members: &[Member],
) -> (PeopleTable, Vec<SiteEquity>) {
    let widths: Vec<usize> = groups.iter().map(Vec::len).collect();
    let all_widths: Vec<usize> = std::iter::once(ATTENDED_BANDS)
        .chain(widths.iter().copied())
        .collect();
    let counts = linked_counts(codes.len(), &widths, members);
    let protected = protect_linked(&counts, &all_widths);
    let people = people_table(codes, &protected[0], &counts[0]);
    let equity = DIMENSIONS
        .iter()
        .zip(groups)
        .zip(protected[1..].iter().zip(&counts[1..]))
        .map(|((d, groups), (p, raw))| SiteEquity {
            dimension: d.name(),
            rows: codes
                .iter()
                .zip(p.cells.iter().zip(&p.row_totals).zip(raw))
                .map(|(c, ((cells, total), raw))| {
                    equity_row(c.clone(), &groups, cells, *total, raw)
                })
                .collect(),
            all: equity_row(
                "all".into(),
                &groups,
                &p.col_totals,
                p.total,
                &column_sums(raw, groups.len()),
            ),
            groups,
            suppressed_primary: p.primary,
            suppressed_secondary: p.secondary,
        })
        .collect();
    (people, equity)
}

/// The sites report: activity, people, equity and outcomes by home site, with the all-sites
/// figures, under disclosure control (see the module documentation).
pub fn sites(input: &SitesData, to: &'static str, thresholds: Thresholds) -> SitesReport {
    let codes: Vec<String> = input.sites.iter().map(|s| s.code.clone()).collect();

    let (att, att_total) = disclosure::protect_vector(&input.attendances, MIN_COUNT);
    let all_attendances: u64 = input.attendances.iter().sum();
    let activity = ActivityBySite {
        rows: codes
            .iter()
            .zip(input.sessions.iter().zip(att))
            .zip(&input.attendances)
            .map(|((c, (n, a)), raw)| SiteActivity {
                site: c.clone(),
                sessions: *n,
                attendances: a,
                withheld: disclosure::withheld(*raw, a, MIN_COUNT),
            })
            .collect(),
        all: SiteActivity {
            site: "all".into(),
            sessions: input.sessions.iter().sum(),
            attendances: att_total,
            withheld: disclosure::withheld(all_attendances, att_total, MIN_COUNT),
        },
    };

    let groups: Vec<Vec<String>> = DIMENSIONS.iter().map(|d| d.groups()).collect();
    let mut ids: Vec<&String> = input.homes.keys().collect();
    ids.sort();
    let members: Vec<Member> = ids
        .into_iter()
        .filter_map(|id| {
            let person = input.data.everyone.get(id)?;
            let home = input.homes[id];
            Some(Member {
                site: home.site,
                attended: home.attended,
                groups: DIMENSIONS
                    .iter()
                    .zip(&groups)
                    .map(|(d, g)| d.group_of(person, g))
                    .collect(),
            })
        })
        .collect();
    let (people, equity) = people_and_equity(&codes, groups, &members);

    let paired = reports::paired(
        &input.data,
        to,
        &Selection(Some(vec![Measure::Wemwbs, Measure::Swemwbs])),
    );
    let outcomes = paired
        .measures
        .iter()
        .map(|(m, pairs)| outcomes_by_site(&codes, &input.homes, m, pairs, thresholds))
        .collect();

    SitesReport {
        min_count: MIN_COUNT,
        follow_up: to,
        sites: input.sites.clone(),
        activity,
        people,
        equity,
        outcomes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 3, d)
    }

    fn visits(list: &[(u64, Option<NaiveDate>)]) -> Vec<SiteVisits> {
        list.iter()
            .map(|&(sessions, first)| SiteVisits { sessions, first })
            .collect()
    }

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_home_site_is_where_most_sessions_were_attended() {
        let c = codes(&["north", "south", "west"]);
        let v = visits(&[(2, day(1)), (5, day(9)), (0, None)]);
        assert_eq!(home_site(&v, &c), Some(1));
    }

    #[test]
    fn a_tie_goes_to_the_earliest_attendance_then_the_first_code() {
        let c = codes(&["west", "north", "south"]);
        // Equal sessions: the earliest first attendance wins, wherever it is listed.
        let v = visits(&[(3, day(4)), (3, day(2)), (1, day(1))]);
        assert_eq!(home_site(&v, &c), Some(1));
        // Equal sessions and the same first day: the first code alphabetically (north, not
        // west, although west is selected first).
        let v = visits(&[(3, day(2)), (3, day(2)), (2, day(1))]);
        assert_eq!(home_site(&v, &c), Some(1));
        let v = visits(&[(3, day(2)), (0, None), (3, day(2))]);
        assert_eq!(home_site(&v, &c), Some(2));
    }

    #[test]
    fn no_attendance_at_a_selected_site_means_out_of_scope() {
        let c = codes(&["a", "b"]);
        assert_eq!(home_site(&visits(&[(0, None), (0, None)]), &c), None);
    }

    #[test]
    fn site_lists_are_read_and_checked() {
        assert_eq!(SiteSelection::parse(None).unwrap(), SiteSelection::All);
        assert_eq!(
            SiteSelection::parse(Some("all")).unwrap(),
            SiteSelection::All
        );
        assert_eq!(
            SiteSelection::parse(Some("b, a,b")).unwrap(),
            SiteSelection::Codes(codes(&["b", "a"]))
        );
        for bad in ["a,,b", "a,all", "a,"] {
            assert!(SiteSelection::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    /// Members spread over `sites` sites with a pattern that leaves some small cells.
    fn members(sites: usize, n: usize, widths: &[usize]) -> Vec<Member> {
        (0..n)
            .map(|i| Member {
                site: (i * 7 + i / 3) % sites,
                attended: 1 + (i as u64 * 5) % 9,
                groups: widths
                    .iter()
                    .enumerate()
                    .map(|(d, w)| (i * (d + 2) + i / 5) % w)
                    .collect(),
            })
            .collect()
    }

    fn check_sum(cells: &[Option<u64>], total: Option<u64>, what: &str) {
        if let (Some(t), Some(sum)) = (total, cells.iter().copied().sum::<Option<u64>>()) {
            assert_eq!(sum, t, "{what}");
        }
    }

    #[test]
    fn per_site_tables_add_up_to_the_all_row_where_published() {
        let groups: Vec<Vec<String>> = DIMENSIONS.iter().map(|d| d.groups()).collect();
        let widths: Vec<usize> = groups.iter().map(Vec::len).collect();
        for (sites, n) in [(2, 40), (3, 90), (4, 300), (5, 23)] {
            let c: Vec<String> = (0..sites).map(|i| format!("site{i}")).collect();
            let m = members(sites, n, &widths);
            let (people, equity) = people_and_equity(&c, groups.clone(), &m);
            assert_eq!(people.rows.len(), sites);
            assert_eq!(people.all.by_sessions_attended[0], Some(0));
            // Row totals are common to every table: published in all or hidden in all.
            for (i, row) in people.rows.iter().enumerate() {
                for e in &equity {
                    assert_eq!(e.rows[i].participants, row.participants, "{}", e.dimension);
                }
            }
            for e in &equity {
                assert_eq!(e.all.participants, people.all.participants);
            }
            // Published values never below the minimum, zeros included (except `none`).
            let mut published: Vec<u64> = Vec::new();
            for row in people.rows.iter().chain([&people.all]) {
                published.extend(row.by_sessions_attended[1..].iter().flatten());
                published.extend(row.participants);
            }
            for e in &equity {
                for row in e.rows.iter().chain([&e.all]) {
                    published.extend(row.counts.iter().flatten());
                    published.extend(row.participants);
                }
            }
            assert!(published.iter().all(|v| *v >= MIN_COUNT), "{published:?}");
            // Sites add up to the all row in every column where all are published.
            let per_site: Vec<Option<u64>> = people.rows.iter().map(|r| r.participants).collect();
            check_sum(&per_site, people.all.participants, "participants");
            for band in 1..reports::ATTENDANCE_BANDS.len() {
                let col: Vec<Option<u64>> = people
                    .rows
                    .iter()
                    .map(|r| r.by_sessions_attended[band])
                    .collect();
                check_sum(&col, people.all.by_sessions_attended[band], "band");
            }
            for e in &equity {
                for (g, name) in e.groups.iter().enumerate() {
                    let col: Vec<Option<u64>> = e.rows.iter().map(|r| r.counts[g]).collect();
                    check_sum(&col, e.all.counts[g], name);
                }
                for row in e.rows.iter().chain([&e.all]) {
                    check_sum(&row.counts, row.participants, e.dimension);
                }
            }
            // The counts behind them: each site's members.
            let mut per_site = vec![0u64; sites];
            for x in &m {
                per_site[x.site] += 1;
            }
            for (row, n) in people.rows.iter().zip(&per_site) {
                if let Some(p) = row.participants {
                    assert_eq!(p, *n);
                }
            }
            if let Some(all) = people.all.participants {
                assert_eq!(all, n as u64);
            }
            if sites == 4 {
                assert_eq!(people.all.participants, Some(n as u64), "{people:?}");
            }
            // Nothing hidden is determined by all the tables together.
            let tables = disclosure::protect_linked(&linked_counts(sites, &widths, &m), MIN_COUNT);
            assert!(disclosure::determined_linked(&tables).is_empty());
        }
    }

    #[test]
    fn no_sites_gives_empty_tables() {
        let groups: Vec<Vec<String>> = DIMENSIONS.iter().map(|d| d.groups()).collect();
        let (people, equity) = people_and_equity(&[], groups.clone(), &[]);
        assert!(people.rows.is_empty());
        assert_eq!(people.all.participants, None);
        for (e, g) in equity.iter().zip(&groups) {
            assert!(e.rows.is_empty());
            assert_eq!(e.all.counts, vec![None; g.len()]);
        }
    }

    #[test]
    fn a_small_site_is_hidden_in_every_table() {
        let groups: Vec<Vec<String>> = DIMENSIONS.iter().map(|d| d.groups()).collect();
        let widths: Vec<usize> = groups.iter().map(Vec::len).collect();
        let c = codes(&["big", "tiny", "other"]);
        let mut m = members(3, 60, &widths);
        for x in &mut m {
            if x.site == 1 {
                x.site = 0;
            }
        }
        m.truncate(59);
        m.push(Member {
            site: 1,
            attended: 3,
            groups: vec![0; widths.len()],
        });
        let (people, equity) = people_and_equity(&c, groups, &m);
        assert_eq!(people.rows[1].participants, None);
        assert!(equity.iter().all(|e| e.rows[1].participants.is_none()));
        // Marked as small, everywhere; a large count hidden beside it as protecting.
        assert_eq!(
            people.rows[1].withheld.get("participants"),
            Some(&Hidden::Small)
        );
        for e in &equity {
            assert_eq!(e.rows[1].withheld.get("participants"), Some(&Hidden::Small));
            for row in e.rows.iter().chain([&e.all]) {
                for (g, v) in e.groups.iter().zip(&row.counts) {
                    assert_eq!(v.is_none(), row.withheld.contains_key(g), "{g}");
                }
            }
        }
        let protecting = people
            .rows
            .iter()
            .chain([&people.all])
            .filter(|r| r.withheld.get("participants") == Some(&Hidden::Protecting))
            .count();
        assert!(protecting >= 1, "{people:?}");
        // Another site is hidden too, so the small one cannot be taken from the total.
        let hidden = people
            .rows
            .iter()
            .filter(|r| r.participants.is_none())
            .count();
        assert!(hidden >= 2 || people.all.participants.is_none());
    }
}
