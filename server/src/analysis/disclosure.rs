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
//! Rules 2 and 3 are repeated until neither changes anything. Suppression only ever grows, so
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
//! The module is pure: no I/O, deterministic, and fast for the small tables of a report
//! (each round is linear in the table size, and each round suppresses at least one entry).

use serde::Serialize;

/// The smallest count that may be published by default.
pub const MIN_COUNT: u64 = 5;

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
}

/// Protects a rows × columns table of counts (every row must have the same length); the row,
/// column and grand totals are computed here. See the module documentation for the rules.
pub fn protect_table(counts: &[Vec<u64>], min: u64) -> Protected {
    let mut grid = Grid::new(counts);
    let primary = grid.suppress_below(min);
    grid.secondary(min);
    let suppressed = grid.hidden.iter().filter(|h| **h).count();
    let (r, c) = (grid.r, grid.c);
    Protected {
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

    /// Rule 3 for every line; true when it suppressed anything.
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
            if hidden.is_empty() || hidden.iter().sum::<u64>() >= min {
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
        }
        p
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
            .map(|u| unknowns[u])
            .collect()
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
    fn vector_with_two_small_groups_needs_nothing_more() {
        let (groups, total) = protect_vector(&[40, 3, 25, 4], MIN_COUNT);
        assert_eq!(groups, vec![Some(40), None, Some(25), None]);
        assert_eq!(total, Some(72));
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
            cases: 400,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_tables_are_protected((counts, min) in table()) {
            check_invariants(&counts, min);
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
