//! Pruned arcs with pricing: the exact optimum without the dense matrix in memory.
//!
//! Solve with each pupil's `k` nearest schools only (plus its fixed school), then price every
//! pair of the full matrix with the school prices of that solution: a pair `(p, t)` with
//! `d[p][t] + price[t] < d[p][s] + price[s]` (s: p's school) has a negative reduced cost and
//! joins the arcs; the flow restarts warm from the previous potentials. When no pair prices out
//! negative, the prices prove the pruned solution optimal for the full problem (LP duality), so
//! the result equals the dense solve. Pricing runs in parallel (rayon) over an in-memory
//! problem; a matrix file is streamed pair by pair ([`super::stream`]), never held.
//! If the pruned arcs admit no feasible assignment, `k` doubles.

use super::feasibility;
use super::flow::{self, Bounds, FlowError, FlowState, SparseArcs};
use super::{Problem, Solution, SolveError};
use crate::routing::UNREACHABLE;
use rayon::prelude::*;

/// Where the pairs come from: an in-memory [`Problem`], or a streamed matrix file.
pub trait ArcSource {
    /// The source's error type (a solve error converts into it).
    type Error: From<SolveError>;
    /// Number of units (rows).
    fn n_units(&self) -> usize;
    /// Number of schools (columns).
    fn n_schools(&self) -> usize;
    /// The `k` cheapest allowed pairs of every unit (ties by school index), and its fixed pair.
    fn nearest(&self, k: usize, fixed: &[Option<u32>]) -> Result<SparseArcs, Self::Error>;
    /// Every allowed pair (unit, school, cost) of a free unit with
    /// `cost + price[school] < level[unit]`.
    fn violations(
        &self,
        level: &[i64],
        prices: &[i64],
        fixed: &[Option<u32>],
    ) -> Result<Vec<(u32, u32, u32)>, Self::Error>;
    /// The whole problem, dense (used only to diagnose an infeasible instance).
    fn dense(&self) -> Result<Vec<u32>, Self::Error>;
}

/// What a pruned solve did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingStats {
    /// The `k` the final solve used.
    pub k: usize,
    /// Pricing passes over the full matrix (the last one finds nothing).
    pub rounds: usize,
    /// Arcs the solver saw at the end.
    pub arcs: usize,
}

/// Solve exactly with `k` nearest schools per unit and pricing; returns the solution, the
/// school prices of the final flow, and what it took.
pub fn solve<S: ArcSource>(
    src: &S,
    cap: &[u32],
    min: &[u32],
    fixed: &[Option<u32>],
    k: usize,
) -> Result<(Solution, Vec<i64>, PricingStats), S::Error> {
    let m = src.n_schools();
    let bounds = Bounds { cap, min, fixed };
    let mut k = k.clamp(1, m.max(1));
    'grow: loop {
        let mut arcs = src.nearest(k, fixed)?;
        let mut warm: Option<FlowState> = None;
        let mut rounds = 0;
        loop {
            let state = match flow::run(&arcs, bounds, warm.take()) {
                Ok(s) => s,
                Err(FlowError::Infeasible) if k < m => {
                    k = (k * 2).min(m);
                    continue 'grow;
                }
                Err(FlowError::Infeasible) => {
                    let p = Problem {
                        n_schools: m,
                        cap: cap.to_vec(),
                        min: min.to_vec(),
                        cost: src.dense()?,
                        weight: vec![1; src.n_units()],
                        fixed: fixed.to_vec(),
                    };
                    let d = feasibility::diagnose(&p);
                    return Err(if d.is_empty() {
                        SolveError::Solver("the flow found no feasible assignment although the feasibility check passed".into())
                    } else {
                        SolveError::Infeasible(d)
                    }
                    .into());
                }
                Err(FlowError::Cancelled) => return Err(SolveError::Cancelled.into()),
                Err(FlowError::CostTooLarge) => {
                    return Err(SolveError::Solver(
                        "a distance of 2^31 m or more is not supported by the pruned solve".into(),
                    )
                    .into())
                }
            };
            rounds += 1;
            let prices = state.prices();
            let level: Vec<i64> = state
                .assign
                .iter()
                .enumerate()
                .map(|(u, &s)| {
                    use flow::Arcs;
                    arcs.cost(u, s as usize)
                        .map(|c| c as i64 + prices[s as usize])
                        .unwrap_or(i64::MIN)
                })
                .collect();
            let extra = src.violations(&level, &prices, fixed)?;
            if extra.is_empty() {
                let objective = state
                    .assign
                    .iter()
                    .enumerate()
                    .map(|(u, &s)| {
                        use flow::Arcs;
                        arcs.cost(u, s as usize).unwrap_or(0) as u64
                    })
                    .sum();
                let stats = PricingStats { k, rounds, arcs: arcs.n_arcs() };
                return Ok((Solution { assign: state.assign, objective }, prices, stats));
            }
            tracing::debug!(round = rounds, added = extra.len(), "pricing added arcs");
            if crate::cancel::cancelled() {
                return Err(SolveError::Cancelled.into());
            }
            arcs = arcs.with_extra(extra);
            warm = Some(state);
        }
    }
}

/// The `k` cheapest allowed (school, cost) of one row, ties by school index, plus `fixed`.
pub fn nearest_in_row(
    row: impl Iterator<Item = (u32, u32)>,
    k: usize,
    fixed: Option<u32>,
) -> Vec<(u32, u32)> {
    let mut best: Vec<(u32, u32)> = Vec::with_capacity(k + 1);
    let mut fixed_pair = None;
    for (s, c) in row {
        if c == UNREACHABLE {
            continue;
        }
        if Some(s) == fixed {
            fixed_pair = Some((s, c));
        }
        if best.len() < k || (c, s) < (best[best.len() - 1].1, best[best.len() - 1].0) {
            let pos = best.partition_point(|&(bs, bc)| (bc, bs) < (c, s));
            best.insert(pos, (s, c));
            best.truncate(k);
        }
    }
    if let Some(f) = fixed_pair {
        if fixed.is_some() {
            // A fixed unit needs only its fixed pair.
            return vec![f];
        }
    }
    best
}

impl ArcSource for Problem {
    type Error = SolveError;
    fn n_units(&self) -> usize {
        self.weight.len()
    }
    fn n_schools(&self) -> usize {
        self.n_schools
    }
    fn nearest(&self, k: usize, fixed: &[Option<u32>]) -> Result<SparseArcs, SolveError> {
        let rows: Vec<Vec<(u32, u32)>> = (0..self.n_units())
            .into_par_iter()
            .map(|u| {
                nearest_in_row(
                    self.row(u).iter().enumerate().map(|(s, &c)| (s as u32, c)),
                    k,
                    fixed[u],
                )
            })
            .collect();
        Ok(SparseArcs::from_rows(self.n_schools, rows))
    }
    fn violations(
        &self,
        level: &[i64],
        prices: &[i64],
        fixed: &[Option<u32>],
    ) -> Result<Vec<(u32, u32, u32)>, SolveError> {
        Ok((0..self.n_units())
            .into_par_iter()
            .filter(|&u| fixed[u].is_none())
            .flat_map_iter(|u| {
                self.row(u).iter().enumerate().filter_map(move |(t, &c)| {
                    (c != UNREACHABLE && (c as i64 + prices[t]) < level[u])
                        .then_some((u as u32, t as u32, c))
                })
            })
            .collect())
    }
    fn dense(&self) -> Result<Vec<u32>, SolveError> {
        Ok(self.cost.clone())
    }
}

/// Solve an in-memory pupil-level problem by pruning and pricing (diagnosing feasibility first,
/// like every solver).
pub fn solve_problem(
    p: &Problem,
    k: usize,
) -> Result<(Solution, Vec<i64>, PricingStats), SolveError> {
    if !p.unit_weights() {
        return Err(SolveError::Solver(
            "pruning with pricing applies to pupil-level problems only".into(),
        ));
    }
    let d = feasibility::diagnose(p);
    if !d.is_empty() {
        return Err(SolveError::Infeasible(d));
    }
    solve(p, &p.cap, &p.min, &p.fixed, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_keeps_the_k_cheapest_with_ties_by_school() {
        let row = [(0, 5), (1, 3), (2, 3), (3, UNREACHABLE), (4, 1)];
        assert_eq!(nearest_in_row(row.into_iter(), 3, None), vec![(4, 1), (1, 3), (2, 3)]);
        assert_eq!(nearest_in_row(row.into_iter(), 2, Some(0)), vec![(0, 5)]);
    }
}
