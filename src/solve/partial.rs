//! The exact solve over a partial matrix: only some pupil-school pairs are given (typically
//! each pupil's `k` nearest schools), and every pair not given counts at a straight-line lower
//! bound of its walk ([`straight_line_bound`]).
//!
//! The given pairs go to [`sparse::solve`] as its [`PairSource`]: a pair it asks for that was
//! not given is answered "not allowed", so the solve is the optimum over the given pairs. Then
//! [`sparse::verify`] checks the plan's school prices against every pair: the given ones at
//! their walk, the others at their bound. When no bound beats a pupil's walk plus its school's
//! price, the prices prove the plan optimal for the full matrix (LP duality: a pair not given
//! walks at least its bound), exactly as if every pair had been known. Otherwise the pupils
//! whose proof fails are counted, with how many nearest schools would have covered the pairs
//! that broke it.

use super::sparse::{self, PairSource, SparseFinding, SparseStats};
use super::{Problem, Solution, SolveError};
use crate::routing::UNREACHABLE;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A pair not given walks at least this share of the great-circle distance between its ends
/// (slack for the map projection and rounding of the coordinates a matrix was made from).
pub const BOUND_FACTOR: f64 = 0.98;
/// Meters taken off the bound: a routing engine walks from the nearest street point of each
/// end (its snap), which may shorten a walk below the straight line by as much.
pub const BOUND_MARGIN_M: f64 = 50.0;
/// The earth's polar radius, its smallest, so that the great circle is never overstated.
const EARTH_RADIUS_M: f64 = 6_356_752.0;

/// A point prepared for great-circle distances: latitude and longitude in radians, cos(lat).
#[derive(Debug, Clone, Copy)]
struct Point {
    lat: f64,
    lon: f64,
    cos_lat: f64,
}

impl Point {
    fn new((lat, lon): (f64, f64)) -> Self {
        let (lat, lon) = (lat.to_radians(), lon.to_radians());
        Point { lat, lon, cos_lat: lat.cos() }
    }
}

fn bound(a: &Point, b: &Point) -> u32 {
    let h = ((b.lat - a.lat) / 2.0).sin().powi(2)
        + a.cos_lat * b.cos_lat * ((b.lon - a.lon) / 2.0).sin().powi(2);
    let d = 2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin();
    (d * BOUND_FACTOR - BOUND_MARGIN_M).max(0.0).floor() as u32
}

/// The lower bound of the walk between two points (lat, lon) for a pair not given, in whole
/// meters: [`BOUND_FACTOR`] x the great-circle distance less [`BOUND_MARGIN_M`], at least 0.
pub fn straight_line_bound(a: (f64, f64), b: (f64, f64)) -> u32 {
    bound(&Point::new(a), &Point::new(b))
}

/// The given pairs of a pupil-level problem, and the bound of the others.
struct Given<'a> {
    problem: &'a Problem,
    given: Option<&'a [u64]>,
    units: Vec<Point>,
    schools: Vec<Point>,
    max_walk: Option<u32>,
    /// Pairs asked for that were not given.
    missing: AtomicUsize,
}

impl Given<'_> {
    fn is_given(&self, u: usize, s: usize) -> bool {
        let i = u * self.problem.n_schools + s;
        self.given.is_none_or(|g| g[i / 64] >> (i % 64) & 1 == 1)
    }
}

impl PairSource for Given<'_> {
    fn n_units(&self) -> usize {
        self.problem.n_units()
    }
    fn n_schools(&self) -> usize {
        self.problem.n_schools
    }
    fn lower(&self, u: usize, s: usize) -> u32 {
        if self.is_given(u, s) {
            // Known exactly: its own bound (UNREACHABLE when not allowed).
            return self.problem.cost[u * self.problem.n_schools + s];
        }
        let b = bound(&self.units[u], &self.schools[s]);
        // Beyond a maximum walk a pair is not allowed (a fixed school always is).
        match self.max_walk {
            Some(w) if b > w && self.problem.fixed[u] != Some(s as u32) => UNREACHABLE,
            _ => b,
        }
    }
    fn costs(&self, pairs: &[(u32, u32)]) -> Result<Vec<u32>, SolveError> {
        let m = self.problem.n_schools;
        Ok(pairs
            .iter()
            .map(|&(u, s)| {
                let (u, s) = (u as usize, s as usize);
                if self.is_given(u, s) {
                    self.problem.cost[u * m + s]
                } else {
                    self.missing.fetch_add(1, Ordering::Relaxed);
                    UNREACHABLE
                }
            })
            .collect())
    }
}

/// The outcome of a solve over a partial matrix.
#[derive(Debug, Clone)]
pub enum Partial {
    /// The plan, proved optimal for the full matrix by `prices`.
    Proved {
        /// The assignment and its objective.
        solution: Solution,
        /// School prices: no pair, given or bounded, beats a pupil's walk plus its price.
        prices: Vec<i64>,
        /// What the sparse solve did.
        stats: SparseStats,
        /// Pairs the pricing asked for that were not given (their bound ruled them out).
        asked_not_given: usize,
    },
    /// The optimum over the given pairs, not proved for the full matrix.
    Unproved {
        /// Pupils for whom the bound of a pair not given beats their walk plus their price.
        pupils: usize,
        /// The most nearest schools (by straight line, the pupil's own school counted) any of
        /// them needs for the pair that broke its proof to be among them.
        needed_k: usize,
    },
}

/// Solve `problem` (pupil level) over the pairs `given` (bit `u * n_schools + s`; `None`: all)
/// and prove the plan for the full matrix from the straight-line bound of the others.
/// `units` and `schools` are (lat, lon); `max_walk` the problem's maximum walk (a pair not given
/// whose bound is beyond it is not allowed); `k` the nearest pairs each pupil starts with.
/// Feasibility over the given pairs is the caller's to diagnose first.
pub fn solve(
    problem: &Problem,
    given: Option<&[u64]>,
    units: &[(f64, f64)],
    schools: &[(f64, f64)],
    max_walk: Option<u32>,
    k: usize,
) -> Result<Partial, SolveError> {
    if !problem.unit_weights()
        || units.len() != problem.n_units()
        || schools.len() != problem.n_schools
    {
        return Err(SolveError::Solver(
            "a partial matrix is solved at the pupil level, with every pupil and school placed"
                .into(),
        ));
    }
    let src = Given {
        problem,
        given,
        units: units.iter().copied().map(Point::new).collect(),
        schools: schools.iter().copied().map(Point::new).collect(),
        max_walk,
        missing: AtomicUsize::new(0),
    };
    let (cap, min, fixed) = (&problem.cap, &problem.min, &problem.fixed);
    let sol = sparse::solve(&src, cap, min, fixed, k)?;
    // The proof may use only what was given: pairs asked for and not given count at their
    // bound, not as "not allowed".
    let known: Vec<Vec<(u32, u32)>> = sol
        .known
        .into_iter()
        .enumerate()
        .map(|(u, row)| row.into_iter().filter(|&(s, _)| src.is_given(u, s as usize)).collect())
        .collect();
    let assign = &sol.solution.assign;
    let findings = sparse::verify(&src, cap, min, fixed, &known, assign, &sol.prices);
    let mut pupils = 0;
    let mut needed_k = 0;
    for f in &findings {
        match *f {
            SparseFinding::PriceViolated { unit, better, .. } => {
                pupils += 1;
                // The straight-line rank of the school that broke the proof.
                let b = bound(&src.units[unit], &src.schools[better]);
                let rank = (0..problem.n_schools)
                    .filter(|&t| bound(&src.units[unit], &src.schools[t]) <= b)
                    .count();
                needed_k = needed_k.max(rank);
            }
            _ => {
                return Err(SolveError::Solver(format!(
                    "the sparse solve's plan failed its own check: {f:?}"
                )))
            }
        }
    }
    if pupils > 0 {
        return Ok(Partial::Unproved { pupils, needed_k });
    }
    Ok(Partial::Proved {
        solution: sol.solution,
        prices: sol.prices,
        stats: sol.stats,
        asked_not_given: src.missing.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_below_the_great_circle() {
        // One degree of latitude is about 111 km on any radius from the polar to the equatorial.
        let b = straight_line_bound((52.0, 11.0), (53.0, 11.0)) as f64;
        assert!(b < 0.98 * 110_950.0 && b > 0.97 * 110_000.0, "{b}");
        assert_eq!(straight_line_bound((52.0, 11.0), (52.0, 11.0)), 0);
    }

    /// Four pupils on a line, two schools of two seats at the ends; only each pupil's nearest
    /// school is given. The bound of the far school proves the plan.
    #[test]
    fn a_nearest_pair_matrix_is_proved_or_counted() {
        let units = [(52.0, 11.0), (52.0, 11.001), (52.0, 11.1), (52.0, 11.101)];
        let schools = [(52.0, 11.0005), (52.0, 11.1005)];
        let walk = |u: usize, s: usize| straight_line_bound(units[u], schools[s]) * 2 + 100;
        let dense: Vec<u32> = (0..4).flat_map(|u| (0..2).map(move |s| walk(u, s))).collect();
        let mut given = vec![0u64; 1];
        for (u, s) in [(0, 0), (1, 0), (2, 1), (3, 1)] {
            given[0] |= 1 << (u * 2 + s);
        }
        let p = Problem {
            n_schools: 2,
            cap: vec![2, 2],
            min: vec![0, 0],
            cost: (0..8)
                .map(|i| if given[0] >> i & 1 == 1 { dense[i] } else { UNREACHABLE })
                .collect(),
            weight: vec![1; 4],
            fixed: vec![None; 4],
        };
        match solve(&p, Some(&given), &units, &schools, None, 1).unwrap() {
            Partial::Proved { solution, .. } => {
                assert_eq!(solution.assign, vec![0, 0, 1, 1]);
                let want: u64 = (0..4).map(|u| walk(u, u / 2) as u64).sum();
                assert_eq!(solution.objective, want);
            }
            other => panic!("{other:?}"),
        }
        // One seat at the west school: a west pupil walks east, at a price on the west school
        // that the bounds of the pairs not given cannot beat: proved, the full optimum.
        let mut both = given.clone();
        both[0] |= 1 << 1 | 1 << 3;
        let masked = |g: &[u64]| -> Vec<u32> {
            (0..8).map(|i| if g[0] >> i & 1 == 1 { dense[i] } else { UNREACHABLE }).collect()
        };
        let tight = Problem { cap: vec![1, 3], cost: masked(&both), ..p.clone() };
        let full = Problem { cost: dense.clone(), ..tight.clone() };
        let best = crate::solve::solve(&full, crate::solve::SolverKind::Flow).unwrap();
        match solve(&tight, Some(&both), &units, &schools, None, 1).unwrap() {
            Partial::Proved { solution, .. } => assert_eq!(solution.objective, best.objective),
            other => panic!("{other:?}"),
        }
        // The first pupil given only the far school: the bound of the near one beats it.
        let far = vec![given[0] & !1 | 1 << 1];
        let p = Problem { cap: vec![2, 4], cost: masked(&far), ..p };
        match solve(&p, Some(&far), &units, &schools, None, 1).unwrap() {
            Partial::Unproved { pupils, needed_k } => assert_eq!((pupils, needed_k), (1, 1)),
            other => panic!("{other:?}"),
        }
    }
}
