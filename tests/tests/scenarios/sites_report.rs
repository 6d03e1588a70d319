//! The sites report on the demo programme, for every site and for two of them: per-site figures
//! add up to the all-sites figures wherever both are published; each published participant
//! count per site is the count recomputed here from the participants and attendance exports
//! with the home-site rule (most matching sessions attended at a selected site, then the
//! earliest attendance, then the first code); and no suppressed value of the people table and
//! the five equity tables is determined by all their published values together, checked by
//! exact Gaussian elimination over the rationals written here. A researcher is refused, and an
//! unknown site code is named in a 400.

use super::analysis::{get_jsonl, get_ok, get_text};
use bothy_server::demo::{self, DemoOptions};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

on_both_backends!(sites_report_adds_up_and_protects_across_tables);

const P: &str = "demo";

fn opt(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn opts(v: &Value) -> Vec<Option<u64>> {
    v.as_array().unwrap().iter().map(opt).collect()
}

/// One table of a report as the reader sees it: cells, row totals, column totals, grand total.
#[derive(Debug, Clone)]
struct Published {
    name: String,
    cells: Vec<Vec<Option<u64>>>,
    row_totals: Vec<Option<u64>>,
    col_totals: Vec<Option<u64>>,
    total: Option<u64>,
}

/// The people table (without the `none` band, always 0) and the five equity tables.
fn linked_tables(report: &Value) -> Vec<Published> {
    let people = &report["people"];
    let bands = |row: &Value| opts(&row["by_sessions_attended"])[1..].to_vec();
    let mut tables = vec![Published {
        name: "people".into(),
        cells: people["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(bands)
            .collect(),
        row_totals: people["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| opt(&r["participants"]))
            .collect(),
        col_totals: bands(&people["all"]),
        total: opt(&people["all"]["participants"]),
    }];
    for e in report["equity"].as_array().unwrap() {
        let rows = e["rows"].as_array().unwrap();
        tables.push(Published {
            name: e["dimension"].as_str().unwrap().to_owned(),
            cells: rows.iter().map(|r| opts(&r["counts"])).collect(),
            row_totals: rows.iter().map(|r| opt(&r["participants"])).collect(),
            col_totals: opts(&e["all"]["counts"]),
            total: opt(&e["all"]["participants"]),
        });
    }
    assert_eq!(tables.len(), 6, "{report}");
    tables
}

/// Wherever a line's entries and its total are all published, they add up.
fn check_line(cells: &[Option<u64>], total: Option<u64>, what: &str) {
    if let (Some(t), Some(sum)) = (total, cells.iter().copied().sum::<Option<u64>>()) {
        assert_eq!(sum, t, "{what}: {cells:?} against {t}");
    }
}

/// (a): per-site figures add up to the all-sites figures where published; nothing published
/// is below 5.
fn check_sums(report: &Value, sites: usize) {
    let min = report["min_count"].as_u64().unwrap();
    for t in linked_tables(report) {
        assert_eq!(t.cells.len(), sites, "{}", t.name);
        for (i, row) in t.cells.iter().enumerate() {
            check_line(row, t.row_totals[i], &format!("{} row {i}", t.name));
        }
        for j in 0..t.col_totals.len() {
            let col: Vec<Option<u64>> = t.cells.iter().map(|r| r[j]).collect();
            check_line(&col, t.col_totals[j], &format!("{} column {j}", t.name));
        }
        check_line(&t.row_totals, t.total, &format!("{} row totals", t.name));
        check_line(&t.col_totals, t.total, &format!("{} column totals", t.name));
        let all = t
            .cells
            .iter()
            .flatten()
            .chain(&t.row_totals)
            .chain(&t.col_totals);
        for v in all.chain([&t.total]).flatten() {
            assert!(*v >= min, "{}: {v} published", t.name);
        }
    }
    // Every withheld value of the equity tables says why.
    for e in report["equity"].as_array().unwrap() {
        for row in e["rows"].as_array().unwrap().iter().chain([&e["all"]]) {
            for (g, v) in e["groups"]
                .as_array()
                .unwrap()
                .iter()
                .zip(opts(&row["counts"]))
            {
                let why = &row["withheld"][g.as_str().unwrap()];
                match v {
                    Some(_) => assert!(why.is_null(), "{row}"),
                    None => assert!(why == "small" || why == "protecting", "{row}"),
                }
            }
        }
    }
    let activity = &report["activity"];
    let rows = activity["rows"].as_array().unwrap();
    assert_eq!(rows.len(), sites);
    let sessions: u64 = rows.iter().map(|r| r["sessions"].as_u64().unwrap()).sum();
    assert_eq!(sessions, activity["all"]["sessions"].as_u64().unwrap());
    let att: Vec<Option<u64>> = rows.iter().map(|r| opt(&r["attendances"])).collect();
    check_line(&att, opt(&activity["all"]["attendances"]), "attendances");
    for m in report["outcomes"].as_array().unwrap() {
        let rows = m["rows"].as_array().unwrap();
        assert_eq!(rows.len(), sites);
        let classes = ["improved", "no_reliable_change", "deteriorated"];
        for r in rows.iter().chain([&m["all"]]) {
            let cells: Vec<Option<u64>> = classes.iter().map(|c| opt(&r[*c])).collect();
            check_line(&cells, opt(&r["n"]), "outcome row");
            assert!(r["stats"].is_null() || opt(&r["n"]).is_some(), "{r}");
        }
        for c in classes.iter().chain(&["n"]) {
            let col: Vec<Option<u64>> = rows.iter().map(|r| opt(&r[*c])).collect();
            check_line(&col, opt(&m["all"][*c]), c);
        }
    }
}

/// A rational number p/q in lowest terms with q > 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Q(i128, i128);

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

impl Q {
    fn new(p: i128, q: i128) -> Q {
        assert!(q != 0);
        let g = gcd(p, q).max(1);
        let s = if q < 0 { -1 } else { 1 };
        Q(s * p / g, s * q / g)
    }
    fn zero(self) -> bool {
        self.0 == 0
    }
    fn sub_mul(self, k: Q, x: Q) -> Q {
        // self - k * x
        Q::new(self.0 * k.1 * x.1 - k.0 * x.0 * self.1, self.1 * k.1 * x.1)
    }
    fn div(self, d: Q) -> Q {
        Q::new(self.0 * d.1, self.1 * d.0)
    }
}

/// The hidden unknowns of linked tables that their published values determine, found by
/// reducing the equations (restricted to hidden unknowns) to row echelon form over the
/// rationals: a hidden unknown is determined exactly when its pivot row has no other entry.
fn determined(tables: &[Published]) -> Vec<String> {
    // Unknowns: every cell and column total of every table, then the shared row totals and the
    // shared grand total. A published one is a known value.
    let r = tables[0].cells.len();
    let mut names: Vec<String> = Vec::new();
    let mut known: Vec<Option<u64>> = Vec::new();
    let mut cell = Vec::new();
    let mut col = Vec::new();
    for t in tables {
        let c = t.col_totals.len();
        let mut ids = vec![vec![0usize; c]; r];
        for (i, row) in ids.iter_mut().enumerate() {
            for (j, id) in row.iter_mut().enumerate() {
                *id = names.len();
                names.push(format!("{}[{i}][{j}]", t.name));
                known.push(t.cells[i][j]);
            }
        }
        let mut cols = vec![0usize; c];
        for (j, id) in cols.iter_mut().enumerate() {
            *id = names.len();
            names.push(format!("{} total of column {j}", t.name));
            known.push(t.col_totals[j]);
        }
        cell.push(ids);
        col.push(cols);
    }
    let mut row_total = Vec::new();
    for i in 0..r {
        // The tables agree on the shared totals (published in all or none).
        let shown: HashSet<Option<u64>> = tables.iter().map(|t| t.row_totals[i]).collect();
        assert_eq!(
            shown.len(),
            1,
            "row {i} total differs between tables: {shown:?}"
        );
        row_total.push(names.len());
        names.push(format!("participants of site {i}"));
        known.push(tables[0].row_totals[i]);
    }
    let shown: HashSet<Option<u64>> = tables.iter().map(|t| t.total).collect();
    assert_eq!(shown.len(), 1, "the grand total differs between tables");
    let grand = names.len();
    names.push("all participants".into());
    known.push(tables[0].total);

    // Every line: its members minus its margin is 0.
    let mut lines: Vec<(Vec<usize>, usize)> = Vec::new();
    for (t, table) in tables.iter().enumerate() {
        let c = table.col_totals.len();
        for i in 0..r {
            lines.push(((0..c).map(|j| cell[t][i][j]).collect(), row_total[i]));
        }
        for j in 0..c {
            lines.push(((0..r).map(|i| cell[t][i][j]).collect(), col[t][j]));
        }
        lines.push((col[t].clone(), grand));
    }
    lines.push((row_total.clone(), grand));

    let hidden: Vec<usize> = (0..names.len()).filter(|k| known[*k].is_none()).collect();
    let column_of: HashMap<usize, usize> =
        hidden.iter().enumerate().map(|(c, k)| (*k, c)).collect();
    let n = hidden.len();
    let mut rows: Vec<Vec<Q>> = lines
        .iter()
        .map(|(members, margin)| {
            let mut row = vec![Q(0, 1); n];
            for m in members {
                if let Some(c) = column_of.get(m) {
                    row[*c] = Q::new(row[*c].0 + row[*c].1, row[*c].1);
                }
            }
            if let Some(c) = column_of.get(margin) {
                row[*c] = Q::new(row[*c].0 - row[*c].1, row[*c].1);
            }
            row
        })
        .filter(|row| row.iter().any(|v| !v.zero()))
        .collect();

    // Reduced row echelon form.
    let mut pivots: Vec<(usize, usize)> = Vec::new();
    let mut top = 0;
    for c in 0..n {
        let Some(p) = (top..rows.len()).find(|i| !rows[*i][c].zero()) else {
            continue;
        };
        rows.swap(top, p);
        let lead = rows[top][c];
        for v in rows[top].iter_mut() {
            *v = v.div(lead);
        }
        let pivot_row = rows[top].clone();
        for (i, row) in rows.iter_mut().enumerate() {
            if i != top && !row[c].zero() {
                let k = row[c];
                for (v, pv) in row.iter_mut().zip(&pivot_row) {
                    if !pv.zero() {
                        *v = v.sub_mul(k, *pv);
                    }
                }
            }
        }
        pivots.push((top, c));
        top += 1;
        if top == rows.len() {
            break;
        }
    }
    pivots
        .into_iter()
        .filter(|(i, c)| (0..n).all(|j| j == *c || rows[*i][j].zero()))
        .map(|(_, c)| names[hidden[c]].clone())
        .collect()
}

/// The solver finds what it should: a small table with one hidden cell is solved, and a
/// rectangle of four hidden cells is not.
fn solver_finds_what_it_should() {
    let t =
        |cells: Vec<Vec<Option<u64>>>, rows: Vec<Option<u64>>, cols: Vec<Option<u64>>| Published {
            name: "t".into(),
            cells,
            row_totals: rows,
            col_totals: cols,
            total: Some(30),
        };
    let one = t(
        vec![vec![None, Some(5)], vec![Some(10), Some(10)]],
        vec![Some(10), Some(20)],
        vec![Some(15), Some(15)],
    );
    assert_eq!(determined(&[one]), vec!["t[0][0]".to_owned()]);
    let four = t(
        vec![vec![None, None], vec![None, None]],
        vec![Some(10), Some(20)],
        vec![Some(15), Some(15)],
    );
    assert!(determined(std::slice::from_ref(&four)).is_empty());
    // A second table sharing the rows does not give the rectangle away by itself...
    let other = t(
        vec![vec![Some(10)], vec![Some(20)]],
        vec![Some(10), Some(20)],
        vec![Some(30)],
    );
    assert!(determined(&[four.clone(), other]).is_empty());
    // ...but hiding a row total that the other table still lets be worked out is caught.
    let mut hidden_total = four;
    hidden_total.cells[1] = vec![Some(10), Some(10)];
    hidden_total.row_totals[0] = None;
    hidden_total.cells[0] = vec![None, Some(5)];
    assert!(!determined(&[hidden_total]).is_empty());
}

/// Each participant's home site among `sites` from the attendance export: most sessions, then
/// the earliest session date, then the first code.
fn homes(attendance: &[Value], sites: &[&str]) -> HashMap<String, String> {
    // participant -> site -> (sessions, first date)
    let mut visits: HashMap<String, BTreeMap<String, (u64, String)>> = HashMap::new();
    for a in attendance {
        let status = a["status"].as_str().unwrap();
        let site = a["site"].as_str().unwrap();
        if !matches!(status, "present" | "left_early") || !sites.contains(&site) {
            continue;
        }
        let date = a["session_date"].as_str().unwrap().to_owned();
        let e = visits
            .entry(a["participant_id"].as_str().unwrap().to_owned())
            .or_default()
            .entry(site.to_owned())
            .or_insert((0, date.clone()));
        e.0 += 1;
        e.1 = e.1.clone().min(date);
    }
    visits
        .into_iter()
        .map(|(p, by_site)| {
            let home = by_site
                .iter()
                .min_by(|a, b| {
                    (b.1.0)
                        .cmp(&a.1.0)
                        .then(a.1.1.cmp(&b.1.1))
                        .then(a.0.cmp(b.0))
                })
                .unwrap()
                .0
                .clone();
            (p, home)
        })
        .collect()
}

/// (b): each published participant count per site (and per site and gender) is the one
/// recomputed from the exports.
fn check_against_exports(
    report: &Value,
    sites: &[&str],
    participants: &[Value],
    attendance: &[Value],
) {
    let consenting: HashMap<&str, &Value> = participants
        .iter()
        .map(|p| (p["participant_id"].as_str().unwrap(), p))
        .collect();
    let home = homes(attendance, sites);
    let mut per_site: HashMap<&str, u64> = HashMap::new();
    let mut per_gender: HashMap<(&str, String), u64> = HashMap::new();
    for (p, site) in &home {
        let Some(row) = consenting.get(p.as_str()) else {
            continue;
        };
        let site = *sites.iter().find(|s| **s == site.as_str()).unwrap();
        *per_site.entry(site).or_default() += 1;
        let gender = row["gender"].as_str().unwrap_or("not_recorded").to_owned();
        *per_gender.entry((site, gender)).or_default() += 1;
    }
    let listed: Vec<&str> = report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(listed, sites);
    let mut published = 0;
    for row in report["people"]["rows"].as_array().unwrap() {
        let site = row["group"].as_str().unwrap();
        if let Some(n) = opt(&row["participants"]) {
            assert_eq!(n, per_site.get(site).copied().unwrap_or(0), "{site}");
            published += 1;
        }
    }
    assert!(
        published > 0,
        "no site's count published: {}",
        report["people"]
    );
    if let Some(all) = opt(&report["people"]["all"]["participants"]) {
        assert_eq!(all, per_site.values().sum::<u64>());
    }
    let gender = report["equity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["dimension"] == "gender")
        .unwrap();
    let groups: Vec<&str> = gender["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    for row in gender["rows"].as_array().unwrap() {
        let site = row["site"].as_str().unwrap();
        for (g, v) in groups.iter().zip(opts(&row["counts"])) {
            if let Some(v) = v {
                let want = per_gender.get(&(site, g.to_string())).copied().unwrap_or(0);
                assert_eq!(v, want, "{site} {g}");
            }
        }
    }
}

async fn sites_report_adds_up_and_protects_across_tables(backend: Backend) {
    solver_finds_what_it_should();
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    let db = bothy_server::storage::Db::connect(&h.db.url).await.unwrap();
    let options = DemoOptions::ending(P, 7, 120, chrono::Utc::now().date_naive());
    demo::create(&db, &options).await.unwrap();
    h.user("ana", P, "analyst").await;
    h.user("rita", P, "researcher").await;
    let ana = h.login("ana", "ana-password").await.unwrap();
    let rita = h.login("rita", "rita-password").await.unwrap();

    let participants: Vec<Value> = get_jsonl(
        &h,
        &format!("/api/v1/projects/{P}/exports/participants?format=jsonl"),
        &ana,
    )
    .await;

    let mut every: Vec<&str> = demo::SITES.iter().map(|s| s.slug).collect();
    every.sort_unstable();
    let two = [demo::SITES[1].slug, demo::SITES[0].slug];
    let three = [
        demo::SITES[2].slug,
        demo::SITES[3].slug,
        demo::SITES[0].slug,
    ];
    let late = options.start + chrono::Duration::weeks(36);
    let activity = demo::ACTIVITIES[0];
    // (the report's query, the sites it covers, the same filters for the attendance export)
    let cases: Vec<(String, Vec<&str>, String)> = vec![
        (String::new(), every.clone(), String::new()),
        ("sites=all".into(), every.clone(), String::new()),
        (
            format!("sites={},{}", two[0], two[1]),
            two.to_vec(),
            String::new(),
        ),
        (
            format!("sites={}&from={late}", three.join(",")),
            three.to_vec(),
            format!("from={late}"),
        ),
        (
            format!("activity={}", activity.slug),
            vec![activity.site],
            format!("activity={}", activity.slug),
        ),
    ];
    for (query, sites, filters) in cases {
        let attendance: Vec<Value> = get_jsonl(
            &h,
            &format!("/api/v1/projects/{P}/exports/attendance?format=jsonl&{filters}"),
            &ana,
        )
        .await;
        let path = format!("/api/v1/projects/{P}/reports/sites?{query}");
        let report: Value = serde_json::from_str(&get_ok(&h, &path, &ana).await).unwrap();
        assert_eq!(report["demo"], true);
        assert_eq!(report["follow_up"], "end");
        check_sums(&report, sites.len());
        check_against_exports(&report, &sites, &participants, &attendance);
        let tables = linked_tables(&report);
        let found = determined(&tables);
        assert!(found.is_empty(), "{path}: determined {found:?}");
        // Something was hidden, so the check above had work to do.
        let hidden = tables
            .iter()
            .flat_map(|t| t.cells.iter().flatten())
            .filter(|v| v.is_none())
            .count();
        assert!(hidden > 0, "{path}");
        let names: Vec<&str> = report["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        if sites.contains(&"harbour-hall") {
            assert!(names.contains(&"Harbour Hall"), "{names:?}");
        }
    }

    // Refusals: not an analyst, no credential, an unknown site, `site` for `sites`.
    let path = format!("/api/v1/projects/{P}/reports/sites");
    let (status, body) = get_text(&h, &path, &rita).await;
    assert_eq!(status, 403, "{body}");
    let res = h
        .http
        .get(format!("{}{path}", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let (status, body) = get_text(&h, &format!("{path}?sites=harbour-hall,atlantis"), &ana).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("invalid_query") && body.contains("`atlantis`"),
        "{body}"
    );
    let (status, body) = get_text(&h, &format!("{path}?site=harbour-hall"), &ana).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("`sites`"), "{body}");
    h.finish().await;
}
