//! The exact solve when only some pupil-school pairs have a known cost: each unit's `k` pairs
//! of least lower bound (for walks, the straight line) are asked for first, then pricing
//! ([`super::pricing`]) asks only for the pairs whose lower bound could still price out.
//!
//! A pair whose cost is unknown has a lower bound `lower(u, t) <= cost(u, t)`. With the school
//! prices of a pruned solution, a unit `u` at school `s` is at a best school when every other
//! pair has `cost(u, t) + price[t] >= cost(u, s) + price[s]`; for an unknown pair it is enough
//! that `lower(u, t) + price[t] >= cost(u, s) + price[s]`. Pairs where the bound is not enough
//! are asked for ([`PairSource::costs`]: routed, or looked up), the violating ones join the
//! arcs, and the flow re-solves warm, until no pair can price out: then the prices prove the
//! plan optimal for the full problem, exactly as if every pair had been known (LP duality; a
//! pair never asked for is at least its bound). [`verify`] checks that proof again from the
//! known pairs and the bounds alone.

use super::flow::SparseArcs;
use super::pricing::{self, ArcSource, PricingStats};
use super::{Solution, SolveError};
use crate::routing::UNREACHABLE;
use rayon::prelude::*;
use std::cell::RefCell;

/// Pairs whose cost is asked for on demand, with a lower bound for every pair.
pub trait PairSource: Sync {
    /// Number of units (pupils).
    fn n_units(&self) -> usize;
    /// Number of schools.
    fn n_schools(&self) -> usize;
    /// A lower bound of unit `u`'s cost at school `s` (meters): never above the cost.
    fn lower(&self, u: usize, s: usize) -> u32;
    /// The costs of the given pairs (unit, school), [`UNREACHABLE`] where the pair is not
    /// allowed (no route, beyond a maximum walk).
    fn costs(&self, pairs: &[(u32, u32)]) -> Result<Vec<u32>, SolveError>;
    /// Append to `out` every school whose lower bound for unit `u` is below `radius` (more
    /// schools are fine, in any order): a source with a spatial index answers without looking
    /// at every school. By default every school.
    fn near(&self, u: usize, radius: i64, out: &mut Vec<u32>) {
        let _ = (u, radius);
        out.extend(0..self.n_schools() as u32);
    }
    /// The schools unit `u` starts with instead of its `k` of least bound, appended to `out`
    /// (`true`), or `false` (by default) for those: a source that knows which pairs it has (a
    /// partial matrix: the pairs it gives) starts from all of them.
    fn start(&self, u: usize, out: &mut Vec<u32>) -> bool {
        let _ = (u, out);
        false
    }
}

/// What a sparse solve did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseStats {
    /// The pricing solve's own statistics (final `k`, rounds, arcs).
    pub pricing: PricingStats,
    /// Pairs whose cost was asked for, over all rounds.
    pub asked: usize,
    /// Calls of [`PairSource::costs`].
    pub batches: usize,
}

/// The known pairs of every unit, sorted by school: (school, cost), cost possibly UNREACHABLE.
struct Known<'a, S: PairSource> {
    src: &'a S,
    rows: RefCell<Vec<Vec<(u32, u32)>>>,
    asked: RefCell<(usize, usize)>,
}

impl<S: PairSource> Known<'_, S> {
    /// Ask for the pairs not known yet and record them.
    fn ask(&self, mut pairs: Vec<(u32, u32)>) -> Result<(), SolveError> {
        pairs.sort_unstable();
        pairs.dedup();
        let rows = self.rows.borrow();
        pairs.retain(|&(u, s)| rows[u as usize].binary_search_by_key(&s, |e| e.0).is_err());
        drop(rows);
        if pairs.is_empty() {
            return Ok(());
        }
        let costs = self.src.costs(&pairs)?;
        if costs.len() != pairs.len() {
            return Err(SolveError::Solver(format!(
                "asked for {} pairs, got {} costs",
                pairs.len(),
                costs.len()
            )));
        }
        let mut a = self.asked.borrow_mut();
        a.0 += pairs.len();
        a.1 += 1;
        let mut rows = self.rows.borrow_mut();
        for (&(u, s), &c) in pairs.iter().zip(&costs) {
            let row = &mut rows[u as usize];
            let pos = row.partition_point(|e| e.0 < s);
            row.insert(pos, (s, c));
        }
        Ok(())
    }

    fn cost(rows: &[Vec<(u32, u32)>], u: usize, s: u32) -> Option<u32> {
        let row = &rows[u];
        row.binary_search_by_key(&s, |e| e.0).ok().map(|i| row[i].1)
    }
}

/// The `k` schools of least lower bound of unit `u` (ties by school), or its fixed one: the
/// schools [`PairSource::near`] gives within a radius growing fourfold from 1 km, until `k` of
/// them are within it (every school outside has a bound at least the radius).
fn nearest_by_bound<S: PairSource>(
    src: &S,
    u: usize,
    k: usize,
    fixed: Option<u32>,
    near: &mut Vec<u32>,
) -> Vec<u32> {
    if let Some(f) = fixed {
        return vec![f];
    }
    near.clear();
    if src.start(u, near) {
        return near.clone();
    }
    let m = src.n_schools();
    let mut radius: i64 = 1000;
    loop {
        near.clear();
        src.near(u, radius, near);
        near.sort_unstable();
        near.dedup();
        let row: Vec<(u32, u32)> = near.iter().map(|&s| (s, src.lower(u, s as usize))).collect();
        let within = row.iter().filter(|&&(_, l)| (l as i64) < radius).count();
        if within >= k.min(m) || near.len() >= m {
            return pricing::nearest_in_row(row.into_iter(), k, None)
                .into_iter()
                .map(|(s, _)| s)
                .collect();
        }
        radius *= 4;
    }
}

impl<S: PairSource> ArcSource for Known<'_, S> {
    type Error = SolveError;
    fn n_units(&self) -> usize {
        self.src.n_units()
    }
    fn n_schools(&self) -> usize {
        self.src.n_schools()
    }
    fn nearest(&self, k: usize, fixed: &[Option<u32>]) -> Result<SparseArcs, SolveError> {
        let src = self.src;
        let want: Vec<Vec<u32>> = (0..self.n_units())
            .into_par_iter()
            .map_init(Vec::new, |near, u| nearest_by_bound(src, u, k, fixed[u], near))
            .collect();
        let pairs = want
            .iter()
            .enumerate()
            .flat_map(|(u, ss)| ss.iter().map(move |&s| (u as u32, s)))
            .collect();
        self.ask(pairs)?;
        let rows = self.rows.borrow();
        let arcs = want
            .into_iter()
            .enumerate()
            .map(|(u, ss)| {
                ss.into_iter()
                    .filter_map(|s| {
                        Self::cost(&rows, u, s).filter(|&c| c != UNREACHABLE).map(|c| (s, c))
                    })
                    .collect()
            })
            .collect();
        Ok(SparseArcs::from_rows(self.n_schools(), arcs))
    }
    fn violations(
        &self,
        level: &[i64],
        prices: &[i64],
        fixed: &[Option<u32>],
    ) -> Result<Vec<(u32, u32, u32)>, SolveError> {
        let src = self.src;
        // Unknown pairs whose bound could price out: ask for them first. Only schools whose
        // bound is below the unit's level less the least price can.
        let least = prices.iter().copied().min().unwrap_or(0);
        let unknown: Vec<(u32, u32)> = {
            let rows = self.rows.borrow();
            let rows: &Vec<Vec<(u32, u32)>> = &rows;
            (0..self.n_units())
                .into_par_iter()
                .filter(|&u| fixed[u].is_none() && level[u].saturating_sub(least) > 0)
                .map_init(Vec::new, |near, u| {
                    near.clear();
                    src.near(u, level[u].saturating_sub(least), near);
                    let row = &rows[u];
                    near.iter()
                        .filter(|&&t| {
                            row.binary_search_by_key(&t, |e| e.0).is_err()
                                && (src.lower(u, t as usize) as i64 + prices[t as usize]) < level[u]
                        })
                        .map(|&t| (u as u32, t))
                        .collect::<Vec<_>>()
                })
                .flatten_iter()
                .collect()
        };
        self.ask(unknown)?;
        let rows = self.rows.borrow();
        let rows: &Vec<Vec<(u32, u32)>> = &rows;
        Ok((0..self.n_units())
            .into_par_iter()
            .filter(|&u| fixed[u].is_none())
            .flat_map_iter(|u| {
                rows[u].iter().filter_map(move |&(t, c)| {
                    (c != UNREACHABLE && (c as i64 + prices[t as usize]) < level[u])
                        .then_some((u as u32, t, c))
                })
            })
            .collect())
    }
    fn dense(&self) -> Result<Vec<u32>, SolveError> {
        let (n, m) = (self.n_units(), self.n_schools());
        let all = (0..n as u32).flat_map(|u| (0..m as u32).map(move |s| (u, s))).collect();
        self.ask(all)?;
        let rows = self.rows.borrow();
        let mut cost = vec![UNREACHABLE; n * m];
        for (u, row) in rows.iter().enumerate() {
            for &(s, c) in row {
                cost[u * m + s as usize] = c;
            }
        }
        Ok(cost)
    }
}

/// The solution of a sparse solve: the plan, its prices, and every pair asked for.
#[derive(Debug, Clone)]
pub struct SparseSolution {
    /// The assignment and its objective.
    pub solution: Solution,
    /// School prices proving it optimal.
    pub prices: Vec<i64>,
    /// The known pairs of every unit: (school, cost) sorted by school; UNREACHABLE where asked
    /// and not allowed.
    pub known: Vec<Vec<(u32, u32)>>,
    /// What it took.
    pub stats: SparseStats,
}

/// Solve exactly with unit weights, asking `src` only for the pairs it needs: each unit's `k`
/// pairs of least lower bound, then those pricing cannot rule out by their bound. Feasibility
/// is the caller's to diagnose (an infeasible instance asks for every pair to say why).
pub fn solve<S: PairSource>(
    src: &S,
    cap: &[u32],
    min: &[u32],
    fixed: &[Option<u32>],
    k: usize,
) -> Result<SparseSolution, SolveError> {
    let known = Known {
        src,
        rows: RefCell::new(vec![Vec::new(); src.n_units()]),
        asked: RefCell::new((0, 0)),
    };
    let (solution, prices, pricing) = pricing::solve(&known, cap, min, fixed, k)?;
    let (asked, batches) = *known.asked.borrow();
    Ok(SparseSolution {
        solution,
        prices,
        known: known.rows.into_inner(),
        stats: SparseStats { pricing, asked, batches },
    })
}

/// Why a sparse plan's proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SparseFinding {
    /// A unit sits at a pair not known or not allowed (or a fixed unit elsewhere).
    PairNotAllowed {
        /// The unit (index).
        unit: usize,
        /// Its school (index).
        school: usize,
    },
    /// A school over its seats or under its minimum.
    Load {
        /// The school (index).
        school: usize,
        /// Its load (pupils).
        load: u64,
    },
    /// A known pair, or a bound of an unknown one, beats the unit's school by `by` meters.
    PriceViolated {
        /// The unit (index).
        unit: usize,
        /// Its school (index).
        school: usize,
        /// The school of the better pair.
        better: usize,
        /// Meters of cost + price saved by the better pair.
        by: i64,
    },
    /// A positive price at a school with free seats, or a negative one above its minimum.
    PriceAtSlackSchool {
        /// The school (index).
        school: usize,
        /// Its price.
        price: i64,
    },
}

/// Check a sparse plan's optimality proof from the known pairs and the bounds alone (no
/// solver code): feasible loads, every free unit at a school minimising cost + price over its
/// known pairs and over the bounds of the others, prices of the right sign. Empty = proved.
/// Only the schools [`PairSource::near`] gives within a unit's cost + price (less the least
/// price) are looked at: no school farther can beat it.
pub fn verify<S: PairSource>(
    src: &S,
    cap: &[u32],
    min: &[u32],
    fixed: &[Option<u32>],
    known: &[Vec<(u32, u32)>],
    assign: &[u32],
    prices: &[i64],
) -> Vec<SparseFinding> {
    let m = src.n_schools();
    let mut out = Vec::new();
    let mut load = vec![0u64; m];
    for (u, &s) in assign.iter().enumerate() {
        let c = known[u].binary_search_by_key(&s, |e| e.0).ok().map(|i| known[u][i].1);
        if c.is_none_or(|c| c == UNREACHABLE) || fixed[u].is_some_and(|f| f != s) {
            out.push(SparseFinding::PairNotAllowed { unit: u, school: s as usize });
        }
        load[s as usize] += 1;
    }
    for s in 0..m {
        if load[s] > cap[s] as u64 || load[s] < min[s] as u64 {
            out.push(SparseFinding::Load { school: s, load: load[s] });
        }
        let full = load[s] >= cap[s] as u64;
        let at_min = load[s] <= min[s] as u64;
        if (prices[s] > 0 && !full) || (prices[s] < 0 && !at_min) {
            out.push(SparseFinding::PriceAtSlackSchool { school: s, price: prices[s] });
        }
    }
    if !out.is_empty() {
        return out;
    }
    // A school beats a unit's own only if its cost (known, or the bound) is below the unit's
    // cost + price less the least price: the known pairs, and the schools `near` gives within
    // that radius (every school, by default), are all that can.
    let least = prices.iter().copied().min().unwrap_or(0);
    let violated: Vec<SparseFinding> = (0..assign.len())
        .into_par_iter()
        .filter(|&u| fixed[u].is_none())
        .map_init(Vec::new, |near: &mut Vec<u32>, u| {
            let s = assign[u] as usize;
            let row = &known[u];
            let here = row[row.binary_search_by_key(&(s as u32), |e| e.0).ok()?].1;
            let mine = here as i64 + prices[s];
            near.clear();
            src.near(u, mine.saturating_sub(least), near);
            near.extend(row.iter().map(|e| e.0));
            near.sort_unstable();
            near.dedup();
            let mut best = (mine, s);
            for &t in near.iter() {
                let t = t as usize;
                let c = match row.binary_search_by_key(&(t as u32), |e| e.0) {
                    Ok(i) => row[i].1,
                    Err(_) => src.lower(u, t),
                };
                if c != UNREACHABLE && (c as i64 + prices[t]) < best.0 {
                    best = (c as i64 + prices[t], t);
                }
            }
            (best.0 < mine).then_some(SparseFinding::PriceViolated {
                unit: u,
                school: s,
                better: best.1,
                by: mine - best.0,
            })
        })
        .flatten()
        .collect();
    out.extend(violated);
    out
}
