//! Statistical disclosure control for published count tables, such as health-inequality
//! breakdowns (participants by deprivation quintile and ethnic group, by site and age band).
//!
//! A small count in a published table can identify people ("the one participant aged 80+ at
//! this site"), so before a table leaves the server some counts are suppressed (shown as `None`,
//! usually printed as `*` or `[c]`). Suppressing the small counts alone is not enough: a reader
//! who has the row and column totals can often work a suppressed count out again by
//! subtraction. The rules applied here:
//!
//! 1. **Primary suppression.** Every interior cell and every margin (row totals, column totals,
//!    the grand total) whose value is below `min` is suppressed, zeros included: no published
//!    count is below `min`.
//! 2. **Secondary suppression (no exact recovery).** The table with its margins is an
//!    (R+1)×(C+1) table in which every line balances (the cells of a row add up to its row total,
//!    the column totals add up to the grand total, and so on). Suppressed entries are the edges
//!    of a bipartite graph whose nodes are the R+1 rows (the totals row included) and the C+1
//!    columns (the totals column included). The values that the suppressed entries could take
//!    without contradicting the published ones differ from the true values by a combination of
//!    cycles of that graph, so a suppressed entry is exactly recoverable by linear equations
//!    if and only if its edge is a *bridge* (lies on no cycle). Bridges are found with Tarjan's
//!    algorithm; for each one, say entry (a, b), a rectangle through it is completed by also
//!    suppressing (a, b′), (a′, b) and (a′, b′), choosing the rectangle that costs least:
//!    the smallest sum of newly suppressed values (already suppressed entries cost nothing),
//!    then the fewest newly suppressed margins (interior cells are preferred), then the fewest
//!    new suppressions, then the first (a′, b′) in row-major order. The rectangle's four-cycle
//!    puts (a, b) on a cycle. Bridges are handled one at a time, interior entries first, then
//!    in row-major order, and found anew after each rectangle.
//! 3. **Line sums.** In every line (row or column, the totals row and column included) whose
//!    margin is published and that has suppressed entries, a reader knows the sum of those
//!    entries by subtraction; that sum must be at least `min`. Otherwise the smallest published
//!    entry of the line (the first on a tie) is suppressed too, or the margin if none is left.
//!
//! 4. **Marks.** A suppressed value is published with the reason it is hidden (see [`Hidden`]):
//!    *small* (below `min`) or *protecting* (`min` or more, hidden so that a small one cannot
//!    be worked out). The marks tell a reader bounds: a small value lies in 0..`min`−1 and a
//!    protecting one is at least `min`. So that no line pins a small value with them, in
//!    every line whose margin is published and that hides `m` small values and `k` protecting
//!    ones, the hidden values add up to at least `k`·`min` + `min` − 1 when `k` > 0, and to at
//!    most (`m` − 1)·(`min` − 1) when `k` = 0: each small value of the line can then be
//!    anything from 0 to `min` − 1 as far as the line shows. Otherwise the smallest published
//!    entry of the line is hidden too, or the margin if none is left.
//!
//! Rules 2 to 4 are repeated until none changes anything. Suppression only ever grows, so
//! this ends. The result never publishes a value below `min`, never leaves a suppressed value
//! that equations over published values determine, and never lets a reader learn that a
//! group of suppressed entries in one line adds up to less than `min`.
//!
//! What this does not guarantee: the rules protect against exact recovery by equations and
//! against small line sums, not against every bound a reader can derive from counts being
//! non-negative. In rare tables, typically with a suppressed zero margin next to a published
//! cell, such bounds can still pin a suppressed value (for instance a row total that must be 0
//! because another row's published cell already uses up a sum). Protection intervals in the
//! style of dedicated disclosure-control software would need linear programming.
//!
//! Tables that share their rows ([`protect_linked`]), such as participants by site and IMD
//! quintile beside participants by site and age band, publish the same row totals: a row total
//! hidden in one is hidden in all, and the tables are protected again until that holds. Then
//! every hidden value of every table is checked against the equations of all the tables
//! together ([`determined_linked`]); one that they determine costs one more suppression beside
//! it, and the round repeats.
//!
//! The module is pure: no I/O, deterministic, and fast for the small tables of a report
//! (each round is linear in the table size, and each round suppresses at least one entry).

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The smallest count that may be published by default.
pub const MIN_COUNT: u64 = 5;

/// Why a value is withheld, as published beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hidden {
    /// Below the smallest count that may be published.
    Small,
    /// Large enough to publish, hidden so that a small count cannot be worked out.
    Protecting,
}

impl Hidden {
    /// `small` or `protecting`, as JSON and CSV say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Hidden::Small => "small",
            Hidden::Protecting => "protecting",
        }
    }
}

/// The mark of a figure whose true value is `value` and of which `shown` is published:
/// `None` when it is published, else why it is not.
pub fn withheld(value: u64, shown: Option<u64>, min: u64) -> Option<Hidden> {
    match shown {
        Some(_) => None,
        None if value < min => Some(Hidden::Small),
        None => Some(Hidden::Protecting),
    }
}

/// A table after disclosure control; `None` marks a suppressed value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Protected {
    /// The interior cells, rows × columns as given.
    pub cells: Vec<Vec<Option<u64>>>,
    /// The total of each row.
    pub row_totals: Vec<Option<u64>>,
    /// The total of each column.
    pub col_totals: Vec<Option<u64>>,
    /// The grand total.
    pub total: Option<u64>,
    /// How many cells and margins were below the minimum (primary suppressions).
    pub primary: usize,
    /// How many more cells and margins were suppressed to protect them.
    pub secondary: usize,
    /// Why each entry of the table with its margins is hidden, (rows + 1) × (columns + 1).
    #[serde(skip)]
    why: Vec<Vec<Option<Hidden>>>,
}

impl Protected {
    /// A table with no rows and `width` columns: its column totals and grand total are 0,
    /// below any positive minimum, so all hidden (and marked small).
    pub fn no_rows(width: usize) -> Protected {
        Protected {
            cells: Vec::new(),
            row_totals: Vec::new(),
            col_totals: vec![None; width],
            total: None,
            primary: width + 1,
            secondary: 0,
            why: vec![vec![Some(Hidden::Small); width + 1]],
        }
    }

    /// Why an entry is hidden (`None` when published): row `i`, column `j` of the table with
    /// its margins, where `i` = rows is the column totals and `j` = columns the row totals.
    pub fn why(&self, i: usize, j: usize) -> Option<Hidden> {
        self.why
            .get(i)
            .and_then(|row| row.get(j))
            .copied()
            .flatten()
    }

    /// The published entry at (`i`, `j`) of the table with its margins, as [`Protected::why`]
    /// numbers them.
    pub fn entry(&self, i: usize, j: usize) -> Option<u64> {
        let (r, c) = (self.cells.len(), self.col_totals.len());
        match (i == r, j == c) {
            (true, true) => self.total,
            (true, false) => self.col_totals.get(j).copied().flatten(),
            (false, true) => self.row_totals.get(i).copied().flatten(),
            (false, false) => self
                .cells
                .get(i)
                .and_then(|row| row.get(j))
                .copied()
                .flatten(),
        }
    }
}

/// Protects a rows × columns table of counts (every row must have the same length); the row,
/// column and grand totals are computed here. See the module documentation for the rules.
pub fn protect_table(counts: &[Vec<u64>], min: u64) -> Protected {
    protect_with(counts, min, &[])
}

/// [`protect_table`] with some entries of the table with its margins hidden from the start.
fn protect_with(counts: &[Vec<u64>], min: u64, forced: &[(usize, usize)]) -> Protected {
    let mut grid = Grid::new(counts);
    let primary = grid.suppress_below(min);
    for &(i, j) in forced {
        grid.hide(i, j);
    }
    grid.secondary(min);
    let suppressed = grid.hidden.iter().filter(|h| **h).count();
    let (r, c) = (grid.r, grid.c);
    Protected {
        why: (0..=r)
            .map(|i| {
                (0..=c)
                    .map(|j| {
                        grid.is_hidden(i, j).then(|| {
                            if grid.value(i, j) < min {
                                Hidden::Small
                            } else {
                                Hidden::Protecting
                            }
                        })
                    })
                    .collect()
            })
            .collect(),
        cells: (0..r)
            .map(|i| (0..c).map(|j| grid.published(i, j)).collect())
            .collect(),
        row_totals: (0..r).map(|i| grid.published(i, c)).collect(),
        col_totals: (0..c).map(|j| grid.published(r, j)).collect(),
        total: grid.published(r, c),
        primary,
        secondary: suppressed - primary,
    }
}

/// Protects counts of groups and their total, as a table with one column: one small group
/// forces a second suppression, so that it cannot be recovered from the total.
pub fn protect_vector(counts: &[u64], min: u64) -> (Vec<Option<u64>>, Option<u64>) {
    let table: Vec<Vec<u64>> = counts.iter().map(|&n| vec![n]).collect();
    let p = protect_table(&table, min);
    let groups: Vec<Option<u64>> = p.cells.iter().map(|row| row[0]).collect();
    debug_assert_eq!(groups, p.row_totals);
    debug_assert_eq!(p.col_totals.first().copied().unwrap_or(p.total), p.total);
    (groups, p.total)
}

/// Protects tables that share their rows: each row's sum is the same in every table (the row
/// totals and the grand total are common to all, as participants per site are in a table by
/// site and age band and one by site and gender). Returns one [`Protected`] per table; a row
/// total or the grand total is published in all of them or hidden in all, and no hidden entry
/// of any table is determined by the published values of all of them together.
///
/// # Panics
/// If the tables differ in their number of rows or their row totals.
pub fn protect_linked(tables: &[Vec<Vec<u64>>], min: u64) -> Vec<Protected> {
    let r = tables.first().map_or(0, Vec::len);
    let sums: Vec<Vec<u64>> = tables
        .iter()
        .map(|t| t.iter().map(|row| row.iter().sum()).collect())
        .collect();
    assert!(
        tables.iter().all(|t| t.len() == r) && sums.windows(2).all(|w| w[0] == w[1]),
        "linked tables must have the same rows and row totals"
    );
    let cols = |t: usize| tables[t].first().map_or(0, Vec::len);
    // Rows whose total is hidden in every table (r: the grand total), and more entries hidden
    // in one table because the equations of all of them determined one beside it.
    let mut shared: BTreeSet<usize> = BTreeSet::new();
    let mut extra: Vec<BTreeSet<(usize, usize)>> = vec![BTreeSet::new(); tables.len()];
    loop {
        let out: Vec<Protected> = (0..tables.len())
            .map(|t| {
                let forced: Vec<(usize, usize)> = shared
                    .iter()
                    .map(|&i| (i, cols(t)))
                    .chain(extra[t].iter().copied())
                    .collect();
                protect_with(&tables[t], min, &forced)
            })
            .collect();
        let hidden_totals: BTreeSet<usize> = (0..tables.len())
            .flat_map(|t| {
                let out = &out;
                (0..=r).filter(move |&i| out[t].why(i, cols(t)).is_some())
            })
            .collect();
        if hidden_totals != shared {
            shared = hidden_totals;
            continue;
        }
        let Some(&(t, i, j)) = determined_linked(&out).first() else {
            return out;
        };
        // The cheapest published entry of a line through it, else of its table, else of any.
        let (rt, ct) = (tables[t].len(), cols(t));
        let through = |e: &(usize, usize, usize)| e.0 == t && (e.1 == i || e.2 == j);
        let mut published: Vec<(usize, usize, usize)> = (0..tables.len())
            .flat_map(|u| {
                let c = cols(u);
                (0..=r).flat_map(move |a| (0..=c).map(move |b| (u, a, b)))
            })
            .filter(|&(u, a, b)| out[u].entry(a, b).is_some())
            .collect();
        published.sort_by_key(|e| {
            let value = out[e.0].entry(e.1, e.2).unwrap_or(0);
            (!through(e), e.0 != t, value, e.1 == rt || e.2 == ct)
        });
        let Some(&(u, a, b)) = published.first() else {
            debug_assert!(false, "every entry is hidden and one is still determined");
            return out;
        };
        if b == cols(u) {
            shared.insert(a);
        } else {
            extra[u].insert((a, b));
        }
    }
}

/// The hidden entries of linked tables (as [`protect_linked`] takes them) that the published
/// values of all of them determine exactly, as (table, row, column) of each table with its
/// margins: row = rows for the column totals, column = columns for the row totals (a hidden
/// row total, common to all, is listed for each table). Empty when the protection holds.
///
/// The check is linear algebra: the hidden entries are unknowns (a row total is one unknown
/// for all the tables), every line of every table an equation, and an unknown is determined
/// when its unit vector lies in the equations' row space. Elimination is done modulo the prime
/// 2⁶¹ − 1, exact for these equations of small integer coefficients.
pub fn determined_linked(tables: &[Protected]) -> Vec<(usize, usize, usize)> {
    // Unknowns: (None, row) for a shared row total, (Some(table), cell) for the others.
    let mut ids: BTreeMap<(Option<usize>, usize, usize), usize> = BTreeMap::new();
    let key = |t: usize, i: usize, j: usize| {
        if j == tables[t].col_totals.len() {
            (None, i, 0)
        } else {
            (Some(t), i, j)
        }
    };
    for (t, p) in tables.iter().enumerate() {
        let (r, c) = (p.cells.len(), p.col_totals.len());
        for i in 0..=r {
            for j in 0..=c {
                if p.entry(i, j).is_none() {
                    let n = ids.len();
                    ids.entry(key(t, i, j)).or_insert(n);
                }
            }
        }
    }
    let n = ids.len();
    let mut equations: Vec<Vec<u64>> = Vec::new();
    for (t, p) in tables.iter().enumerate() {
        let (r, c) = (p.cells.len(), p.col_totals.len());
        for line in lines(r, c) {
            let mut eq = vec![0u64; n];
            let mut any = false;
            for (e, sign) in line
                .members
                .iter()
                .map(|&m| (m, 1))
                .chain([(line.margin, MODULUS - 1)])
            {
                if let Some(&x) = ids.get(&key(t, e.0, e.1)) {
                    eq[x] = (eq[x] + sign) % MODULUS;
                    any = true;
                }
            }
            if any {
                equations.push(eq);
            }
        }
    }
    let determined = determined_unknowns(equations, n);
    let mut out = Vec::new();
    for (t, p) in tables.iter().enumerate() {
        let (r, c) = (p.cells.len(), p.col_totals.len());
        for i in 0..=r {
            for j in 0..=c {
                if let Some(&x) = ids.get(&key(t, i, j))
                    && p.entry(i, j).is_none()
                    && determined[x]
                {
                    out.push((t, i, j));
                }
            }
        }
    }
    out
}

/// The prime modulus of [`determined_unknowns`]' arithmetic.
const MODULUS: u64 = (1 << 61) - 1;

fn mul_mod(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(MODULUS)) as u64
}

fn inverse_mod(a: u64) -> u64 {
    // Fermat: a^(p-2).
    let (mut base, mut exp, mut acc) = (a, MODULUS - 2, 1u64);
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul_mod(acc, base);
        }
        base = mul_mod(base, base);
        exp >>= 1;
    }
    acc
}

/// For each of `n` unknowns, whether the homogeneous equations (coefficients modulo
/// [`MODULUS`]) fix it: reduced row echelon form, in which an unknown is fixed when it is a
/// pivot whose row has no other non-zero coefficient.
fn determined_unknowns(mut rows: Vec<Vec<u64>>, n: usize) -> Vec<bool> {
    let mut pivots: Vec<(usize, usize)> = Vec::new();
    let mut next = 0;
    for col in 0..n {
        let Some(p) = (next..rows.len()).find(|&k| rows[k][col] != 0) else {
            continue;
        };
        rows.swap(next, p);
        let inv = inverse_mod(rows[next][col]);
        for x in rows[next].iter_mut() {
            *x = mul_mod(*x, inv);
        }
        let pivot = rows[next].clone();
        for (k, row) in rows.iter_mut().enumerate() {
            if k != next && row[col] != 0 {
                let f = row[col];
                for (x, &pv) in row.iter_mut().zip(&pivot) {
                    *x = (*x + MODULUS - mul_mod(f, pv)) % MODULUS;
                }
            }
        }
        pivots.push((next, col));
        next += 1;
    }
    let mut fixed = vec![false; n];
    for (row, col) in pivots {
        fixed[col] = rows[row].iter().filter(|&&x| x != 0).count() == 1;
    }
    fixed
}

/// The table with its margins: (r+1) × (c+1) values, row r holding the column totals and
/// column c the row totals.
struct Grid {
    r: usize,
    c: usize,
    values: Vec<u64>,
    hidden: Vec<bool>,
}

/// What completing a rectangle costs, compared in order: the sum of the newly suppressed
/// values, how many of them are margins, how many there are.
type RectangleCost = (u64, usize, usize);

/// One balancing line: its entries add up to its margin.
struct Line {
    members: Vec<(usize, usize)>,
    margin: (usize, usize),
}

impl Grid {
    fn new(counts: &[Vec<u64>]) -> Self {
        let r = counts.len();
        let c = counts.first().map_or(0, Vec::len);
        assert!(
            counts.iter().all(|row| row.len() == c),
            "every row of a count table must have the same number of columns"
        );
        let w = c + 1;
        let mut values = vec![0u64; (r + 1) * w];
        for (i, row) in counts.iter().enumerate() {
            for (j, &n) in row.iter().enumerate() {
                values[i * w + j] = n;
                values[i * w + c] += n;
                values[r * w + j] += n;
                values[r * w + c] += n;
            }
        }
        Grid {
            r,
            c,
            values,
            hidden: vec![false; (r + 1) * w],
        }
    }

    fn idx(&self, i: usize, j: usize) -> usize {
        i * (self.c + 1) + j
    }

    fn value(&self, i: usize, j: usize) -> u64 {
        self.values[self.idx(i, j)]
    }

    fn is_hidden(&self, i: usize, j: usize) -> bool {
        self.hidden[self.idx(i, j)]
    }

    fn hide(&mut self, i: usize, j: usize) {
        let k = self.idx(i, j);
        self.hidden[k] = true;
    }

    fn published(&self, i: usize, j: usize) -> Option<u64> {
        (!self.is_hidden(i, j)).then(|| self.value(i, j))
    }

    fn is_margin(&self, i: usize, j: usize) -> bool {
        i == self.r || j == self.c
    }

    /// Rule 1; returns how many entries it suppressed.
    fn suppress_below(&mut self, min: u64) -> usize {
        let mut n = 0;
        for k in 0..self.values.len() {
            if self.values[k] < min {
                self.hidden[k] = true;
                n += 1;
            }
        }
        n
    }

    /// Rules 2 and 3 until stable.
    fn secondary(&mut self, min: u64) {
        loop {
            while let Some((a, b)) = self.first_bridge() {
                if !self.complete_rectangle(a, b) {
                    // No other row or column exists: nothing can be paired (only possible for a
                    // table without rows or columns, whose entries are all zero and hidden).
                    break;
                }
            }
            if !self.enforce_line_sums(min) {
                return;
            }
        }
    }

    /// The first suppressed entry that lies on no cycle (interior entries first, then
    /// row-major), by Tarjan's bridge-finding algorithm.
    fn first_bridge(&self) -> Option<(usize, usize)> {
        let (nr, nc) = (self.r + 1, self.c + 1);
        let mut edges = Vec::new();
        let mut adjacent: Vec<Vec<(usize, usize)>> = vec![Vec::new(); nr + nc];
        for i in 0..nr {
            for j in 0..nc {
                if self.is_hidden(i, j) {
                    let e = edges.len();
                    edges.push((i, j));
                    adjacent[i].push((nr + j, e));
                    adjacent[nr + j].push((i, e));
                }
            }
        }
        let bridges = bridges(&adjacent, edges.len());
        edges
            .iter()
            .enumerate()
            .filter(|(e, _)| bridges[*e])
            .map(|(_, &(i, j))| (self.is_margin(i, j), i, j))
            .min()
            .map(|(_, i, j)| (i, j))
    }

    /// Suppresses the cheapest rectangle through (a, b); false when there is none.
    fn complete_rectangle(&mut self, a: usize, b: usize) -> bool {
        // (new value sum, new margins, new entries) and the far corner (a′, b′).
        let mut best: Option<(RectangleCost, (usize, usize))> = None;
        for a2 in (0..=self.r).filter(|&x| x != a) {
            for b2 in (0..=self.c).filter(|&y| y != b) {
                let mut cost: RectangleCost = (0, 0, 0);
                for (i, j) in [(a, b2), (a2, b), (a2, b2)] {
                    if !self.is_hidden(i, j) {
                        cost.0 = cost.0.saturating_add(self.value(i, j));
                        cost.1 += usize::from(self.is_margin(i, j));
                        cost.2 += 1;
                    }
                }
                if best.is_none_or(|(c, _)| cost < c) {
                    best = Some((cost, (a2, b2)));
                }
            }
        }
        let Some((_, (a2, b2))) = best else {
            return false;
        };
        self.hide(a, b2);
        self.hide(a2, b);
        self.hide(a2, b2);
        true
    }

    /// Rules 3 and 4 for every line; true when it suppressed anything.
    fn enforce_line_sums(&mut self, min: u64) -> bool {
        let mut changed = false;
        for line in lines(self.r, self.c) {
            let (mi, mj) = line.margin;
            if self.is_hidden(mi, mj) {
                continue;
            }
            let hidden: Vec<u64> = line
                .members
                .iter()
                .filter(|&&(i, j)| self.is_hidden(i, j))
                .map(|&(i, j)| self.value(i, j))
                .collect();
            if line_is_safe(&hidden, min) {
                continue;
            }
            let smallest = line
                .members
                .iter()
                .filter(|&&(i, j)| !self.is_hidden(i, j))
                .min_by_key(|&&(i, j)| self.value(i, j))
                .copied();
            let (i, j) = smallest.unwrap_or(line.margin);
            self.hide(i, j);
            changed = true;
        }
        changed
    }
}

/// Rules 3 and 4 for the hidden values of a line whose margin is published: their sum is at
/// least `min`, and it leaves every small one its whole range 0..`min`−1: beside the
/// protecting ones' least values, or, with no protecting one, within what the other small ones
/// can make up.
fn line_is_safe(hidden: &[u64], min: u64) -> bool {
    if hidden.is_empty() {
        return true;
    }
    let sum: u64 = hidden.iter().sum();
    let protecting = hidden.iter().filter(|&&v| v >= min).count() as u64;
    let small = hidden.len() as u64 - protecting;
    let most = min.saturating_sub(1);
    sum >= min
        && (small == 0
            || if protecting == 0 {
                // Small ones alone: the others can make up the sum whatever one of them is.
                sum <= (small - 1).saturating_mul(most)
            } else {
                sum >= protecting.saturating_mul(min).saturating_add(most)
            })
}

/// The balancing lines of an r × c table with margins: each row (the totals row included),
/// then each column (the totals column included).
fn lines(r: usize, c: usize) -> Vec<Line> {
    let rows = (0..=r).map(|i| Line {
        members: (0..c).map(|j| (i, j)).collect(),
        margin: (i, c),
    });
    let cols = (0..=c).map(|j| Line {
        members: (0..r).map(|i| (i, j)).collect(),
        margin: (r, j),
    });
    rows.chain(cols).collect()
}

/// Marks the bridges of an undirected graph given as adjacency lists of (neighbour, edge id):
/// Tarjan's low-link method, an edge to a child being a bridge when nothing below the child
/// reaches back above it. Iterative, so deep graphs cannot overflow the stack.
fn bridges(adjacent: &[Vec<(usize, usize)>], edge_count: usize) -> Vec<bool> {
    let n = adjacent.len();
    let mut is_bridge = vec![false; edge_count];
    let mut order = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut next = 0usize;
    for root in 0..n {
        if order[root] != usize::MAX {
            continue;
        }
        // (node, edge that reached it, position in its adjacency list)
        let mut stack: Vec<(usize, usize, usize)> = vec![(root, usize::MAX, 0)];
        order[root] = next;
        low[root] = next;
        next += 1;
        while let Some(top) = stack.last_mut() {
            let (v, via, pos) = *top;
            if let Some(&(w, e)) = adjacent[v].get(pos) {
                top.2 += 1;
                if e == via {
                    continue;
                }
                if order[w] == usize::MAX {
                    order[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push((w, e, 0));
                } else {
                    low[v] = low[v].min(order[w]);
                }
            } else {
                stack.pop();
                if let Some(&(parent, _, _)) = stack.last() {
                    low[parent] = low[parent].min(low[v]);
                    if low[v] > order[parent] {
                        is_bridge[via] = true;
                    }
                }
            }
        }
    }
    is_bridge
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The published table with margins, (r+1) × (c+1), as a reader sees it.
    fn augmented(p: &Protected) -> Vec<Vec<Option<u64>>> {
        let mut rows: Vec<Vec<Option<u64>>> = p
            .cells
            .iter()
            .zip(&p.row_totals)
            .map(|(row, t)| row.iter().copied().chain([*t]).collect())
            .collect();
        rows.push(p.col_totals.iter().copied().chain([p.total]).collect());
        rows
    }

    /// The true table with margins.
    fn truth(counts: &[Vec<u64>]) -> Vec<Vec<u64>> {
        let g = Grid::new(counts);
        (0..=g.r)
            .map(|i| (0..=g.c).map(|j| g.value(i, j)).collect())
            .collect()
    }

    fn suppressed(pub_: &[Vec<Option<u64>>]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (i, row) in pub_.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                if v.is_none() {
                    out.push((i, j));
                }
            }
        }
        out
    }

    /// Everything every protected table must satisfy, whatever the input.
    fn check_invariants(counts: &[Vec<u64>], min: u64) -> Protected {
        let p = protect_table(counts, min);
        let pub_ = augmented(&p);
        let real = truth(counts);
        let mut below = 0;
        for (prow, rrow) in pub_.iter().zip(&real) {
            for (v, &t) in prow.iter().zip(rrow) {
                below += usize::from(t < min);
                if let Some(v) = v {
                    assert_eq!(*v, t, "a published value differs from the truth");
                    assert!(*v >= min, "published {v} < {min} in {counts:?}");
                }
            }
        }
        let hidden = suppressed(&pub_);
        assert_eq!(p.primary, below);
        assert_eq!(p.primary + p.secondary, hidden.len());
        if counts.is_empty() || counts[0].is_empty() {
            // No cells: every margin is an empty sum, zero and suppressed, and known anyway.
            assert!(pub_.iter().flatten().all(Option::is_none) || min == 0);
            return p;
        }
        assert_eq!(
            line_attack(&pub_, &real),
            Vec::<(usize, usize)>::new(),
            "the line attack recovered values in {counts:?} -> {pub_:?}"
        );
        assert_eq!(
            determined_by_equations(&pub_),
            Vec::<(usize, usize)>::new(),
            "equations determine values in {counts:?} -> {pub_:?}"
        );
        // Rule 3: the known sum of the suppressed entries of a line is never below min.
        let r = p.cells.len();
        let c = p.col_totals.len();
        for line in lines(r, c) {
            let (mi, mj) = line.margin;
            if pub_[mi][mj].is_none() {
                continue;
            }
            let hidden: Vec<u64> = line
                .members
                .iter()
                .filter(|&&(i, j)| pub_[i][j].is_none())
                .map(|&(i, j)| real[i][j])
                .collect();
            if !hidden.is_empty() {
                assert!(hidden.iter().sum::<u64>() >= min, "{counts:?} -> {pub_:?}");
            }
            // Rule 4: with the marks, every small value of the line keeps its whole range.
            assert!(
                single_line_ranges_hold(&hidden, min),
                "a line pins a small value with the marks: {counts:?} -> {pub_:?}"
            );
        }
        // The marks are the truth: small below min, protecting at min or more.
        for (i, row) in real.iter().enumerate() {
            for (j, &t) in row.iter().enumerate() {
                let expected = pub_[i][j].is_none().then_some(if t < min {
                    Hidden::Small
                } else {
                    Hidden::Protecting
                });
                assert_eq!(p.why(i, j), expected, "mark of ({i}, {j}) in {counts:?}");
            }
        }
        p
    }

    /// What a reader of one line learns from the marks, worked out by enumeration: every
    /// small value can take each of 0..min-1 while the line balances, each small value
    /// staying below min and each protecting one at min or more.
    fn single_line_ranges_hold(hidden: &[u64], min: u64) -> bool {
        let small: Vec<usize> = (0..hidden.len()).filter(|&k| hidden[k] < min).collect();
        let k = (hidden.len() - small.len()) as u64;
        let sum: u64 = hidden.iter().sum();
        small.iter().all(|_| {
            (0..min).all(|v| {
                // The others: small ones in 0..min-1, protecting ones min or more (no upper bound).
                let rest = sum as i128 - v as i128;
                let others_small = (small.len() - 1) as i128;
                let lo = (k * min) as i128;
                let hi = if k > 0 {
                    i128::MAX
                } else {
                    others_small * (min as i128 - 1)
                };
                rest >= lo && rest <= hi
            })
        })
    }

    /// An attacker who repeatedly fills in any line (row or column, margins included) with one
    /// unknown left. Returns the suppressed entries it recovered.
    fn line_attack(pub_: &[Vec<Option<u64>>], real: &[Vec<u64>]) -> Vec<(usize, usize)> {
        let r = pub_.len() - 1;
        let c = pub_[0].len() - 1;
        let mut known: Vec<Vec<Option<i128>>> = pub_
            .iter()
            .map(|row| row.iter().map(|v| v.map(i128::from)).collect())
            .collect();
        loop {
            let mut progress = false;
            for line in lines(r, c) {
                let entries: Vec<((usize, usize), i128)> = line
                    .members
                    .iter()
                    .map(|&e| (e, 1))
                    .chain([(line.margin, -1)])
                    .collect();
                let unknown: Vec<_> = entries
                    .iter()
                    .filter(|((i, j), _)| known[*i][*j].is_none())
                    .collect();
                if unknown.len() != 1 {
                    continue;
                }
                let ((ui, uj), sign) = *unknown[0];
                let rest: i128 = entries
                    .iter()
                    .filter_map(|((i, j), s)| known[*i][*j].map(|v| v * s))
                    .sum();
                let value = -rest * sign;
                assert_eq!(value, i128::from(real[ui][uj]));
                known[ui][uj] = Some(value);
                progress = true;
            }
            if !progress {
                break;
            }
        }
        suppressed(pub_)
            .into_iter()
            .filter(|&(i, j)| known[i][j].is_some())
            .collect()
    }

    fn gcd(a: i128, b: i128) -> i128 {
        if b == 0 { a.abs() } else { gcd(b, a % b) }
    }

    fn normalise(row: &mut [i128]) {
        let g = row.iter().fold(0, |g, &x| gcd(g, x));
        if g > 1 {
            row.iter_mut().for_each(|x| *x /= g);
        }
    }

    /// The suppressed entries fixed by the line equations: exact (integer, fraction-free)
    /// Gaussian elimination on the equations restricted to the suppressed unknowns; an entry is
    /// determined when its unit vector lies in their row space.
    fn determined_by_equations(pub_: &[Vec<Option<u64>>]) -> Vec<(usize, usize)> {
        let r = pub_.len() - 1;
        let c = pub_[0].len() - 1;
        let unknowns = suppressed(pub_);
        let col_of = |e: (usize, usize)| unknowns.iter().position(|&u| u == e);
        let k = unknowns.len();
        let mut rows: Vec<Vec<i128>> = Vec::new();
        for line in lines(r, c) {
            let mut eq = vec![0i128; k];
            for &m in &line.members {
                if let Some(x) = col_of(m) {
                    eq[x] += 1;
                }
            }
            if let Some(x) = col_of(line.margin) {
                eq[x] -= 1;
            }
            rows.push(eq);
        }
        fixed_by(rows, k)
            .into_iter()
            .zip(unknowns)
            .filter(|(fixed, _)| *fixed)
            .map(|(_, u)| u)
            .collect()
    }

    /// Which of `k` unknowns the homogeneous integer equations fix: fraction-free Gaussian
    /// elimination, an unknown being fixed when its unit vector lies in the row space.
    fn fixed_by(rows: Vec<Vec<i128>>, k: usize) -> Vec<bool> {
        // Forward elimination to echelon form.
        let mut echelon: Vec<(usize, Vec<i128>)> = Vec::new();
        let mut pending = rows;
        for col in 0..k {
            let Some(p) = pending.iter().position(|row| row[col] != 0) else {
                continue;
            };
            let pivot = pending.swap_remove(p);
            for row in pending.iter_mut() {
                if row[col] != 0 {
                    let f = row[col];
                    for x in 0..k {
                        row[x] = row[x] * pivot[col] - pivot[x] * f;
                    }
                    normalise(row);
                }
            }
            echelon.push((col, pivot));
        }
        (0..k)
            .filter(|&u| {
                let mut v = vec![0i128; k];
                v[u] = 1;
                for (col, pivot) in &echelon {
                    if v[*col] != 0 {
                        let f = v[*col];
                        for x in 0..k {
                            v[x] = v[x] * pivot[*col] - pivot[x] * f;
                        }
                        normalise(&mut v);
                    }
                }
                v.iter().all(|&x| x == 0)
            })
            .fold(vec![false; k], |mut fixed, u| {
                fixed[u] = true;
                fixed
            })
    }

    /// The hidden entries of linked tables that their equations together fix, by [`fixed_by`].
    fn jointly_determined(tables: &[Protected]) -> Vec<(usize, usize, usize)> {
        let mut unknowns: Vec<(Option<usize>, usize, usize)> = Vec::new();
        let key = |t: usize, p: &Protected, i: usize, j: usize| {
            if j == p.col_totals.len() {
                (None, i, 0)
            } else {
                (Some(t), i, j)
            }
        };
        for (t, p) in tables.iter().enumerate() {
            for (i, row) in augmented(p).iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    if v.is_none() && !unknowns.contains(&key(t, p, i, j)) {
                        unknowns.push(key(t, p, i, j));
                    }
                }
            }
        }
        let mut rows = Vec::new();
        for (t, p) in tables.iter().enumerate() {
            for line in lines(p.cells.len(), p.col_totals.len()) {
                let mut eq = vec![0i128; unknowns.len()];
                for (e, sign) in line
                    .members
                    .iter()
                    .map(|&m| (m, 1))
                    .chain([(line.margin, -1)])
                {
                    if let Some(x) = unknowns.iter().position(|&u| u == key(t, p, e.0, e.1))
                        && augmented(p)[e.0][e.1].is_none()
                    {
                        eq[x] += sign;
                    }
                }
                rows.push(eq);
            }
        }
        let fixed = fixed_by(rows, unknowns.len());
        let mut out = Vec::new();
        for (t, p) in tables.iter().enumerate() {
            for (i, row) in augmented(p).iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    if v.is_none() {
                        let x = unknowns.iter().position(|&u| u == key(t, p, i, j)).unwrap();
                        if fixed[x] {
                            out.push((t, i, j));
                        }
                    }
                }
            }
        }
        out
    }

    /// Enumerates the non-negative integer fillings of the suppressed entries that agree with
    /// every published value and balance every line, and returns the values each suppressed
    /// entry takes across them. Stops early once every entry has shown two values. The grand
    /// total must be published (it bounds everything).
    fn exhaustive_attack(pub_: &[Vec<Option<u64>>]) -> Vec<((usize, usize), BTreeSet<i64>)> {
        let r = pub_.len() - 1;
        let c = pub_[0].len() - 1;
        let grand = pub_[r][c].expect("the grand total is published") as i64;
        // Margins first (bounded by the grand total), then interior cells.
        let mut unknowns = suppressed(pub_);
        unknowns.sort_by_key(|&(i, j)| (i != r && j != c, i, j));
        let mut filled: Vec<Vec<Option<i64>>> = pub_
            .iter()
            .map(|row| row.iter().map(|v| v.map(|x| x as i64)).collect())
            .collect();
        let all = lines(r, c);
        let mut seen: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); unknowns.len()];
        let mut nodes = 0u64;
        search(
            0,
            &unknowns,
            &all,
            grand,
            &mut filled,
            &mut seen,
            &mut nodes,
        );
        assert!(nodes < 50_000_000, "the search was not bounded");
        unknowns.into_iter().zip(seen).collect()
    }

    /// The (lo, hi) range that line `line` leaves for entry `e`, given the entries filled so far.
    fn line_range(line: &Line, e: (usize, usize), filled: &[Vec<Option<i64>>]) -> (i64, i64) {
        let get = |(i, j): (usize, usize)| filled[i][j];
        let others: Vec<Option<i64>> = line
            .members
            .iter()
            .filter(|&&m| m != e)
            .map(|&m| get(m))
            .collect();
        let sum: i64 = others.iter().flatten().sum();
        let complete = others.iter().all(Option::is_some);
        if line.margin == e {
            // The margin is at least the members filled so far, and equal once all are.
            if complete {
                (sum, sum)
            } else {
                (sum, i64::MAX)
            }
        } else {
            match get(line.margin) {
                Some(m) if complete => (m - sum, m - sum),
                Some(m) => (0, m - sum),
                None => (0, i64::MAX),
            }
        }
    }

    fn search(
        at: usize,
        unknowns: &[(usize, usize)],
        all: &[Line],
        grand: i64,
        filled: &mut Vec<Vec<Option<i64>>>,
        seen: &mut Vec<BTreeSet<i64>>,
        nodes: &mut u64,
    ) -> bool {
        *nodes += 1;
        if *nodes >= 50_000_000 {
            return true;
        }
        if at == unknowns.len() {
            // Every line must balance.
            for line in all {
                let sum: i64 = line
                    .members
                    .iter()
                    .map(|&(i, j)| filled[i][j].unwrap())
                    .sum();
                if Some(sum) != filled[line.margin.0][line.margin.1] {
                    return false;
                }
            }
            for (s, &(i, j)) in seen.iter_mut().zip(unknowns) {
                s.insert(filled[i][j].unwrap());
            }
            return seen.iter().all(|s| s.len() >= 2);
        }
        let e = unknowns[at];
        let (mut lo, mut hi) = (0i64, grand);
        for line in all
            .iter()
            .filter(|l| l.margin == e || l.members.contains(&e))
        {
            let (l, h) = line_range(line, e, filled);
            lo = lo.max(l);
            hi = hi.min(h);
        }
        for v in lo..=hi {
            filled[e.0][e.1] = Some(v);
            if search(at + 1, unknowns, all, grand, filled, seen, nodes) {
                filled[e.0][e.1] = None;
                return true;
            }
        }
        filled[e.0][e.1] = None;
        false
    }

    fn assert_exhaustive_attack_fails(counts: &[Vec<u64>], min: u64) {
        let p = check_invariants(counts, min);
        let pub_ = augmented(&p);
        let result = exhaustive_attack(&pub_);
        assert!(!result.is_empty());
        for (e, values) in result {
            assert!(
                values.len() >= 2,
                "suppressed entry {e:?} can only be {values:?} in {pub_:?}"
            );
        }
    }

    #[test]
    fn three_by_three_with_small_cells() {
        // Participants by deprivation quintile (rows) and age band (columns).
        let counts = vec![vec![12, 3, 20], vec![8, 15, 2], vec![30, 9, 11]];
        let p = check_invariants(&counts, MIN_COUNT);
        assert_eq!(p.primary, 2);
        assert_eq!(p.cells[0][1], None);
        assert_eq!(p.cells[1][2], None);
        assert!(p.secondary >= 2);
        assert_eq!(p.total, Some(110));
        assert_exhaustive_attack_fails(&counts, MIN_COUNT);
    }

    #[test]
    fn four_by_three_with_a_small_row() {
        // Row 1 has a zero, a one and a small total (8 is fine, but the row's cells are not).
        let counts = vec![
            vec![25, 4, 18],
            vec![1, 0, 7],
            vec![14, 22, 3],
            vec![40, 11, 9],
        ];
        let p = check_invariants(&counts, MIN_COUNT);
        assert_eq!(p.primary, 4);
        for (i, j) in [(0, 1), (1, 0), (1, 1), (2, 2)] {
            assert_eq!(p.cells[i][j], None);
        }
        assert_exhaustive_attack_fails(&counts, MIN_COUNT);
    }

    #[test]
    fn small_margin_is_suppressed_with_a_partner() {
        // Row 1 totals 4: its total and all its cells are below 5.
        let counts = vec![vec![20, 30, 25], vec![1, 2, 1], vec![18, 12, 40]];
        let p = check_invariants(&counts, MIN_COUNT);
        assert_eq!(p.row_totals[1], None);
        assert_eq!(p.primary, 4);
        // Another row total must go too, or the column of row totals gives it away.
        assert!(p.row_totals.iter().filter(|t| t.is_none()).count() >= 2);
        assert_exhaustive_attack_fails(&counts, MIN_COUNT);
    }

    #[test]
    fn exhaustive_attack_on_more_fixtures() {
        let fixtures: Vec<Vec<Vec<u64>>> = vec![
            vec![vec![0, 6, 9], vec![7, 0, 12], vec![5, 8, 2]],
            vec![vec![3, 3, 3], vec![10, 10, 10], vec![10, 10, 10]],
            vec![vec![1, 40, 40], vec![40, 40, 40], vec![40, 40, 40]],
            vec![
                vec![6, 2, 7],
                vec![9, 14, 1],
                vec![4, 21, 30],
                vec![11, 0, 8],
            ],
        ];
        for counts in fixtures {
            assert_exhaustive_attack_fails(&counts, MIN_COUNT);
        }
    }

    #[test]
    fn a_single_small_cell_costs_a_rectangle_of_the_smallest_partners() {
        let counts = vec![vec![2, 50, 7], vec![60, 70, 80], vec![9, 90, 6]];
        let p = check_invariants(&counts, MIN_COUNT);
        assert_eq!(p.primary, 1);
        assert_eq!(p.secondary, 3);
        // The cheapest rectangle through (0, 0) uses the 7, the 9 and the 6.
        assert_eq!(
            p.cells,
            vec![
                vec![None, Some(50), None],
                vec![Some(60), Some(70), Some(80)],
                vec![None, Some(90), None],
            ]
        );
        assert_eq!(p.row_totals, vec![Some(59), Some(210), Some(105)]);
    }

    #[test]
    fn a_table_without_small_values_is_untouched() {
        let counts = vec![vec![10, 20], vec![30, 40]];
        let p = protect_table(&counts, MIN_COUNT);
        assert_eq!(
            p,
            Protected {
                cells: vec![vec![Some(10), Some(20)], vec![Some(30), Some(40)]],
                row_totals: vec![Some(30), Some(70)],
                col_totals: vec![Some(40), Some(60)],
                total: Some(100),
                primary: 0,
                secondary: 0,
                why: vec![vec![None; 3]; 3],
            }
        );
    }

    #[test]
    fn degenerate_tables() {
        let empty = protect_table(&[], MIN_COUNT);
        assert_eq!(empty.total, None);
        assert!(empty.cells.is_empty() && empty.row_totals.is_empty());
        let no_columns = protect_table(&[vec![], vec![]], MIN_COUNT);
        assert_eq!(no_columns.row_totals, vec![None, None]);
        assert_eq!(no_columns.total, None);
        // A single cell: it is also its row total, column total and grand total.
        let one = check_invariants(&[vec![3]], MIN_COUNT);
        assert_eq!(one.cells, vec![vec![None]]);
        assert_eq!(one.total, None);
        let big = check_invariants(&[vec![30]], MIN_COUNT);
        assert_eq!(big.cells, vec![vec![Some(30)]]);
        // min 0 suppresses nothing, even zeros.
        let open = check_invariants(&[vec![0, 1], vec![2, 0]], 0);
        assert_eq!((open.primary, open.secondary), (0, 0));
    }

    #[test]
    #[should_panic(expected = "same number of columns")]
    fn ragged_rows_are_rejected() {
        let _ = protect_table(&[vec![1, 2], vec![3]], MIN_COUNT);
    }

    #[test]
    fn line_sum_rule_protects_small_groups_of_suppressed_cells() {
        // Row 0: 0 and 1 are suppressed; with the row total published, a reader would know
        // that they add up to 1, so a third cell of the row goes too.
        let counts = vec![
            vec![0, 1, 30, 40],
            vec![50, 60, 70, 80],
            vec![90, 55, 65, 75],
        ];
        let p = check_invariants(&counts, MIN_COUNT);
        if p.row_totals[0].is_some() {
            assert!(p.cells[0].iter().filter(|c| c.is_none()).count() >= 3);
        }
    }

    #[test]
    fn vector_single_small_group_forces_a_second_suppression() {
        let (groups, total) = protect_vector(&[40, 3, 25, 12], MIN_COUNT);
        assert_eq!(groups, vec![Some(40), None, Some(25), None]);
        assert_eq!(total, Some(80));
    }

    #[test]
    fn vector_with_two_small_groups_hides_a_protecting_one_too() {
        // Marked small, 3 and 4 would be narrowed by their sum 7 (each below 5, so each at
        // least 3): the smallest large group goes too, so that each could be anything 0 to 4.
        let (groups, total) = protect_vector(&[40, 3, 25, 4], MIN_COUNT);
        assert_eq!(groups, vec![Some(40), None, None, None]);
        assert_eq!(total, Some(72));
        let p = protect_table(&[vec![40], vec![3], vec![25], vec![4]], MIN_COUNT);
        assert_eq!(p.why(1, 1), Some(Hidden::Small));
        assert_eq!(p.why(2, 1), Some(Hidden::Protecting));
        assert_eq!(p.why(0, 1), None);
    }

    #[test]
    fn a_small_and_a_protecting_value_that_would_pin_each_other_take_a_third() {
        // 0 (small) and 5 (protecting) add up to 5: marked, the 5 can only be 5 and the 0 only
        // 0, so a third value is hidden.
        let (groups, total) = protect_vector(&[0, 5, 30, 40], MIN_COUNT);
        assert_eq!(groups.iter().filter(|g| g.is_none()).count(), 3);
        assert_eq!(total, Some(75));
    }

    #[test]
    fn small_groups_that_cannot_pin_each_other_need_no_more() {
        // Eight small groups adding up to 5: each could still be anything from 0 to 4.
        let (groups, total) = protect_vector(&[2, 3, 0, 0, 0, 0, 0, 0], MIN_COUNT);
        assert_eq!(groups, vec![None; 8]);
        assert_eq!(total, Some(5));
    }

    #[test]
    fn withheld_marks_follow_the_value() {
        assert_eq!(withheld(3, None, MIN_COUNT), Some(Hidden::Small));
        assert_eq!(withheld(30, None, MIN_COUNT), Some(Hidden::Protecting));
        assert_eq!(withheld(30, Some(30), MIN_COUNT), None);
        assert_eq!(Hidden::Small.as_str(), "small");
        assert_eq!(
            serde_json::to_value(Hidden::Protecting).unwrap(),
            serde_json::json!("protecting")
        );
    }

    /// Linked tables, as the sites report builds them: the same rows (sites), each a
    /// different breakdown of the same people.
    fn linked() -> impl Strategy<Value = Vec<Vec<Vec<u64>>>> {
        (1usize..=4, proptest::collection::vec(1usize..=4, 1..=3)).prop_flat_map(|(r, widths)| {
            // Row totals first, then each table splits them over its columns.
            proptest::collection::vec(prop_oneof![0u64..12, 0u64..60], r).prop_flat_map(
                move |totals| {
                    let tables: Vec<_> = widths
                        .iter()
                        .map(|&c| totals.iter().map(|&n| split(n, c)).collect::<Vec<_>>())
                        .collect();
                    tables
                },
            )
        })
    }

    /// `n` split into `c` non-negative parts.
    fn split(n: u64, c: usize) -> impl Strategy<Value = Vec<u64>> {
        proptest::collection::vec(0u64..=n, c.saturating_sub(1)).prop_map(move |mut cuts| {
            cuts.sort_unstable();
            let mut parts = Vec::with_capacity(c);
            let mut last = 0;
            for cut in cuts {
                parts.push(cut - last);
                last = cut;
            }
            parts.push(n - last);
            parts
        })
    }

    #[test]
    fn linked_tables_share_their_hidden_totals() {
        // Sites × age band and sites × gender: site 1 has 3 people.
        let a = vec![vec![10, 12, 8], vec![1, 2, 0], vec![20, 9, 11]];
        let b = vec![vec![15, 15], vec![3, 0], vec![25, 15]];
        let out = protect_linked(&[a.clone(), b.clone()], MIN_COUNT);
        assert_eq!(out[0].row_totals, out[1].row_totals);
        assert_eq!(out[0].total, out[1].total);
        assert_eq!(out[0].row_totals[1], None);
        assert!(determined_linked(&out).is_empty());
        // Separately, each alone is protected but a total hidden in one may show in the other.
        for (p, t) in out.iter().zip([&a, &b]) {
            for (i, row) in t.iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    if let Some(shown) = p.cells[i][j] {
                        assert_eq!(shown, v);
                        assert!(shown >= MIN_COUNT);
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "same rows and row totals")]
    fn linked_tables_must_share_their_rows() {
        let _ = protect_linked(&[vec![vec![1, 2]], vec![vec![4]]], MIN_COUNT);
    }

    #[test]
    fn the_equation_check_finds_a_value_given_away() {
        // A 2 × 2 table with one hidden cell and every margin published: the cell is the
        // row total less the other cell.
        let mut p = protect_table(&[vec![10, 20], vec![30, 40]], MIN_COUNT);
        p.cells[0][0] = None;
        p.why[0][0] = Some(Hidden::Protecting);
        assert_eq!(determined_linked(&[p.clone()]), vec![(0, 0, 0)]);
        // Hidden in a rectangle, nothing is determined.
        for (i, j) in [(0, 1), (1, 0), (1, 1)] {
            p.cells[i][j] = None;
        }
        assert!(determined_linked(&[p]).is_empty());
    }

    #[test]
    fn vector_all_large_is_untouched() {
        let (groups, total) = protect_vector(&[40, 5, 25, 12], MIN_COUNT);
        assert_eq!(groups, vec![Some(40), Some(5), Some(25), Some(12)]);
        assert_eq!(total, Some(82));
    }

    #[test]
    fn vector_zero_total_is_fully_suppressed() {
        let (groups, total) = protect_vector(&[0, 0, 0], MIN_COUNT);
        assert_eq!(groups, vec![None, None, None]);
        assert_eq!(total, None);
        assert_eq!(protect_vector(&[], MIN_COUNT), (vec![], None));
    }

    #[test]
    fn vector_small_total_suppresses_everything() {
        let (groups, total) = protect_vector(&[1, 2], MIN_COUNT);
        assert_eq!(groups, vec![None, None]);
        assert_eq!(total, None);
    }

    #[test]
    fn vector_single_group() {
        assert_eq!(protect_vector(&[9], MIN_COUNT), (vec![Some(9)], Some(9)));
        assert_eq!(protect_vector(&[2], MIN_COUNT), (vec![None], None));
    }

    #[test]
    fn bridges_of_small_graphs() {
        // A path 0-1-2 plus a triangle 2-3-4: the two path edges are bridges.
        let edges = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 2)];
        let mut adj = vec![Vec::new(); 5];
        for (e, &(a, b)) in edges.iter().enumerate() {
            adj[a].push((b, e));
            adj[b].push((a, e));
        }
        assert_eq!(bridges(&adj, 5), vec![true, true, false, false, false]);
    }

    fn table() -> impl Strategy<Value = (Vec<Vec<u64>>, u64)> {
        (1usize..=4, 1usize..=4).prop_flat_map(|(r, c)| {
            let cell = prop_oneof![0u64..6, 0u64..40];
            (
                proptest::collection::vec(proptest::collection::vec(cell, c), r),
                prop_oneof![Just(MIN_COUNT), 1u64..=10],
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 4000,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_tables_are_protected((counts, min) in table()) {
            check_invariants(&counts, min);
        }

        #[test]
        fn random_linked_tables_are_protected(tables in linked()) {
            let out = protect_linked(&tables, MIN_COUNT);
            prop_assert!(determined_linked(&out).is_empty());
            for (p, t) in out.iter().zip(&tables) {
                prop_assert_eq!(&p.row_totals, &out[0].row_totals);
                prop_assert_eq!(p.total, out[0].total);
                // Each table alone meets every rule, the independent checks included.
                let pub_ = augmented(p);
                let real = truth(t);
                for (prow, rrow) in pub_.iter().zip(&real) {
                    for (v, &x) in prow.iter().zip(rrow) {
                        if let Some(v) = v {
                            prop_assert_eq!(*v, x);
                            prop_assert!(*v >= MIN_COUNT);
                        }
                    }
                }
                prop_assert!(determined_by_equations(&pub_).is_empty());
            }
            // The tables together, by the test's own exact elimination: one system whose
            // unknowns are every hidden entry, a hidden row total being one unknown for all.
            prop_assert!(jointly_determined(&out).is_empty(), "{:?} -> {:?}", tables, out);
        }

        #[test]
        fn random_vectors_are_protected(
            counts in proptest::collection::vec(prop_oneof![0u64..6, 0u64..40], 0..8),
        ) {
            let (groups, total) = protect_vector(&counts, MIN_COUNT);
            let table: Vec<Vec<u64>> = counts.iter().map(|&n| vec![n]).collect();
            let p = check_invariants(&table, MIN_COUNT);
            prop_assert_eq!(&groups, &p.row_totals);
            prop_assert_eq!(total, p.total);
            // Never exactly one suppressed group next to a published total.
            if total.is_some() {
                prop_assert_ne!(groups.iter().filter(|g| g.is_none()).count(), 1);
            }
        }
    }
}
