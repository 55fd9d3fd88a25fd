//! The exact solve over a partial matrix: only some pupil-school pairs are given (typically
//! each pupil's `k` nearest schools), and every pair not given counts at a straight-line lower
//! bound of its walk ([`straight_line_bound`]).
//!
//! The pairs ([`Pairs`]: a [`Matrix`], dense or holding only the pairs given, with the
//! schools' seats and where pupils and schools lie) go to [`sparse::solve`] as its
//! [`PairSource`]: a pair it asks for that was not given is answered "not allowed", so the
//! solve is the optimum over the given pairs. Then [`sparse::verify`] checks the plan's school
//! prices against every pair: the given ones at their walk, the others at their bound. When no
//! bound beats a pupil's walk plus its school's price, the prices prove the plan optimal for
//! the full matrix (LP duality: a pair not given walks at least its bound), exactly as if every
//! pair had been known. Otherwise the pupils whose proof fails are counted, with how many
//! nearest schools would have covered the pairs that broke it. Nothing here holds pupils x
//! schools values: schools are found near a pupil through their latitudes, and the proof's
//! bounds are computed pair by pair.

use super::feasibility::{self, Diagnosis, Units};
use super::flow::PRUNE_K;
use super::sparse::{self, PairSource, SparseFinding, SparseStats};
use super::{Solution, SolveError};
use crate::routing::{Matrix, UNREACHABLE};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A pair not given walks at least this share of the straight line between its ends
/// (slack for the map projection and rounding of the coordinates a matrix was made from).
pub const BOUND_FACTOR: f64 = 0.98;
/// Meters taken off the bound: a routing engine walks from the nearest street point of each
/// end (its snap), which may shorten a walk below the straight line by as much.
pub const BOUND_MARGIN_M: f64 = 50.0;
/// The earth's polar radius, its smallest, so that the straight line is never overstated.
const EARTH_RADIUS_M: f64 = 6_356_752.0;

/// A point on the sphere of [`EARTH_RADIUS_M`]: its unit vector, and its latitude (radians).
#[derive(Debug, Clone, Copy)]
struct Point {
    xyz: [f64; 3],
    lat: f64,
}

impl Point {
    fn new((lat, lon): (f64, f64)) -> Self {
        let (lat, lon) = (lat.to_radians(), lon.to_radians());
        Point { xyz: [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()], lat }
    }
}

/// The chord between two points (through the earth), never longer than the great circle; the
/// bound is [`BOUND_FACTOR`] of it less [`BOUND_MARGIN_M`]. Three multiplications and a square
/// root: cheap enough for every pair of a state.
#[inline]
fn bound(a: &Point, b: &Point) -> u32 {
    let d = [a.xyz[0] - b.xyz[0], a.xyz[1] - b.xyz[1], a.xyz[2] - b.xyz[2]];
    let chord = EARTH_RADIUS_M * (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    (chord * BOUND_FACTOR - BOUND_MARGIN_M).max(0.0).floor() as u32
}

/// The lower bound of the walk between two points (lat, lon) for a pair not given, in whole
/// meters: [`BOUND_FACTOR`] x the straight line (the chord, at most the great-circle distance,
/// on the earth's polar radius) less [`BOUND_MARGIN_M`], at least 0.
pub fn straight_line_bound(a: (f64, f64), b: (f64, f64)) -> u32 {
    bound(&Point::new(a), &Point::new(b))
}

/// Where pupils and schools lie: the straight-line bound of any pair, and the schools whose
/// bound for a pupil may be below a radius, found through a band of latitudes without
/// looking at every school.
pub struct StraightLine {
    units: Vec<Point>,
    schools: Vec<Point>,
    /// (latitude, school) ascending.
    by_lat: Vec<(f64, u32)>,
}

impl StraightLine {
    /// Pupils and schools at (lat, lon).
    pub fn new(units: &[(f64, f64)], schools: &[(f64, f64)]) -> Self {
        let schools: Vec<Point> = schools.iter().copied().map(Point::new).collect();
        let mut by_lat: Vec<(f64, u32)> =
            schools.iter().enumerate().map(|(s, q)| (q.lat, s as u32)).collect();
        by_lat.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        StraightLine { units: units.iter().copied().map(Point::new).collect(), schools, by_lat }
    }

    /// [`straight_line_bound`] of pupil `u` and school `s`.
    #[inline]
    pub fn bound(&self, u: usize, s: usize) -> u32 {
        bound(&self.units[u], &self.schools[s])
    }

    /// Append to `out` every school whose bound for pupil `u` is below `radius` (and some
    /// more): a bound below `radius` needs a chord below (radius + margin) / factor, and the
    /// chord is at least 2 R sin(|difference of latitudes| / 2), so only a band of latitudes
    /// can; within the band, the chord is at least R times the difference of each coordinate
    /// of the unit vectors, so only a cube around the pupil can.
    pub fn near(&self, u: usize, radius: i64, out: &mut Vec<u32>) {
        let chord = (radius.max(0) as f64 + BOUND_MARGIN_M) / BOUND_FACTOR;
        let half = (chord / (2.0 * EARTH_RADIUS_M)).min(1.0).asin() * 2.0 + 1e-9;
        let side = chord / EARTH_RADIUS_M + 1e-9;
        let p = &self.units[u];
        let from = self.by_lat.partition_point(|e| e.0 < p.lat - half);
        let to = self.by_lat.partition_point(|e| e.0 <= p.lat + half);
        out.extend(self.by_lat[from..to].iter().map(|e| e.1).filter(|&s| {
            let q = &self.schools[s as usize].xyz;
            (0..3).all(|i| (q[i] - p.xyz[i]).abs() <= side)
        }));
    }
}

/// The pupil-level problem over a matrix that may give only some pairs: what [`Pairs::solve`]
/// solves and [`Pairs::verify`] checks.
#[derive(Debug, Clone, Copy)]
pub struct Pairs<'a> {
    /// The walks given (a partial matrix, or a dense one: every pair given).
    pub matrix: &'a Matrix,
    /// Seats per school.
    pub cap: &'a [u32],
    /// Pupils each school must at least get.
    pub min: &'a [u32],
    /// A school the pupil must attend.
    pub fixed: &'a [Option<u32>],
    /// Where each pupil lives (lat, lon).
    pub units: &'a [(f64, f64)],
    /// Where each school stands (lat, lon).
    pub schools: &'a [(f64, f64)],
    /// A maximum walk: longer pairs (given, or bounded beyond it) are not allowed, except a
    /// pupil's fixed school.
    pub max_walk: Option<u32>,
}

/// The given pairs of a pupil-level problem, and the bound of the others.
struct Given<'a> {
    p: Pairs<'a>,
    line: StraightLine,
    /// Pairs asked for that were not given.
    missing: AtomicUsize,
    /// How a pair asked for and not given is answered: `false`, not allowed (the solve over
    /// the pairs given); `true`, at its bound (the solve of the least walk any matrix agreeing
    /// with the pairs given could have: a lower bound of the full problem).
    bounded: bool,
}

impl<'a> Given<'a> {
    fn new(p: Pairs<'a>, bounded: bool) -> Result<Self, SolveError> {
        let m = p.matrix;
        if p.units.len() != m.n_pupils
            || p.schools.len() != m.n_schools
            || p.cap.len() != m.n_schools
            || p.min.len() != m.n_schools
            || p.fixed.len() != m.n_pupils
        {
            return Err(SolveError::Solver(
                "a partial matrix is solved at the pupil level, with every pupil and school placed"
                    .into(),
            ));
        }
        Ok(Given {
            p,
            line: StraightLine::new(p.units, p.schools),
            missing: AtomicUsize::new(0),
            bounded,
        })
    }

    /// Pair (`u`, `s`) as given, with the maximum walk applied; `None` when not given.
    #[inline]
    fn given(&self, u: usize, s: usize) -> Option<u32> {
        let c = self.p.matrix.pair(u, s)?;
        Some(self.limited(u, s, c))
    }

    /// `c` for pair (`u`, `s`), or [`UNREACHABLE`] beyond the maximum walk (a fixed school is
    /// always allowed).
    #[inline]
    fn limited(&self, u: usize, s: usize, c: u32) -> u32 {
        match self.p.max_walk {
            Some(w) if c != UNREACHABLE && c > w && self.p.fixed[u] != Some(s as u32) => {
                UNREACHABLE
            }
            _ => c,
        }
    }

    /// Every pupil's given pairs (school, meters) with the maximum walk applied.
    fn rows(&self) -> Vec<Vec<(u32, u32)>> {
        (0..self.p.matrix.n_pupils)
            .map(|u| {
                self.p.matrix.given_row(u).map(|(s, c)| (s as u32, self.limited(u, s, c))).collect()
            })
            .collect()
    }
}

impl PairSource for Given<'_> {
    fn n_units(&self) -> usize {
        self.p.matrix.n_pupils
    }
    fn n_schools(&self) -> usize {
        self.p.matrix.n_schools
    }
    fn lower(&self, u: usize, s: usize) -> u32 {
        // Known exactly: its own bound (UNREACHABLE when not allowed).
        if let Some(c) = self.given(u, s) {
            return c;
        }
        let b = self.line.bound(u, s);
        self.limited(u, s, b)
    }
    fn costs(&self, pairs: &[(u32, u32)]) -> Result<Vec<u32>, SolveError> {
        Ok(pairs
            .iter()
            .map(|&(u, s)| {
                let (u, s) = (u as usize, s as usize);
                self.given(u, s).unwrap_or_else(|| {
                    self.missing.fetch_add(1, Ordering::Relaxed);
                    if self.bounded {
                        self.limited(u, s, self.line.bound(u, s))
                    } else {
                        UNREACHABLE
                    }
                })
            })
            .collect())
    }
    fn near(&self, u: usize, radius: i64, out: &mut Vec<u32>) {
        self.line.near(u, radius, out);
        // The pairs given count at their walk, whatever their straight line.
        out.extend(self.p.matrix.given_row(u).map(|(s, _)| s as u32));
    }
    fn start(&self, u: usize, out: &mut Vec<u32>) -> bool {
        // With the pairs not given at their bound (the least walk), every pair is allowed: the
        // `k` of least bound (a pair given at its walk), and pricing adds the rest it needs.
        // Over the pairs given only, a partial matrix starts from every pair it gives: the
        // pairs not given are not allowed there, so the pairs of least bound would be fewer
        // (and the flow might find no plan where one exists). A dense matrix starts from the
        // pairs of least bound.
        if !self.p.matrix.is_partial() || self.bounded {
            return false;
        }
        out.extend(self.p.matrix.given_row(u).map(|(s, _)| s as u32));
        true
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
        /// Seconds of the solve, then of the proof's check over every pair.
        seconds: (f64, f64),
    },
    /// The optimum over the given pairs, which no prices prove for the full matrix: some
    /// matrix agreeing with the pairs given (every other pair at its bound) has a better plan.
    Unproved {
        /// Pupils whom the least walk over such matrices sends along a pair not given.
        pupils: usize,
        /// The most nearest schools (by straight line, the pupil's own school counted) any of
        /// them needs for that pair to be among them.
        needed_k: usize,
        /// The plan's total walk over the pairs given (meters).
        objective: u64,
        /// The least total walk any plan can have (meters): the pairs not given at their
        /// bound. The full optimum lies between the two.
        lower_bound: u64,
    },
}

impl Pairs<'_> {
    /// Why no plan exists over the pairs given (and allowed), in index space; empty when one
    /// does. Exact, like [`feasibility::diagnose`], without a dense row.
    pub fn diagnose(&self) -> Vec<Diagnosis> {
        let weight = vec![1u32; self.matrix.n_pupils];
        let units = Units {
            n_schools: self.matrix.n_schools,
            cap: self.cap,
            min: self.min,
            weight: &weight,
            fixed: self.fixed,
        };
        diagnose_allowed_pairs(&units, self.matrix, self.fixed, self.max_walk)
    }

    /// The walk of an assignment over the pairs given, `None` if it uses a pair not given or
    /// not allowed.
    pub fn objective(&self, assign: &[u32]) -> Option<u64> {
        assign.iter().enumerate().try_fold(0u64, |acc, (u, &s)| {
            let c = self.matrix.pair(u, s as usize)?;
            let allowed = match self.max_walk {
                Some(w) => c <= w || self.fixed[u] == Some(s),
                None => true,
            };
            (c != UNREACHABLE && allowed).then_some(acc + c as u64)
        })
    }

    /// Solve over the pairs given and prove the plan for the full matrix from the straight-line
    /// bound of the others. Feasibility over the given pairs is the caller's to diagnose first
    /// ([`Pairs::diagnose`]).
    ///
    /// What is solved first is the least walk any matrix agreeing with the pairs given could
    /// have (the pairs not given at their bound), from each pupil's `k` (at most
    /// [`PRUNE_K`]) pairs of least bound, pricing in the others it needs. When its plan walks
    /// only pairs given, that is
    /// the plan, proved by its prices. Otherwise the best plan over the pairs given is solved
    /// too: if it walks no more, the least walk's prices prove it (an optimal dual proves
    /// every optimal plan); if it walks more, no prices can prove it from these pairs, and the
    /// outcome says by how much at most it may be off, and which pairs it would take.
    pub fn solve(&self, k: usize) -> Result<Partial, SolveError> {
        let src = Given::new(*self, false)?;
        let low = Given::new(*self, true)?;
        let started = std::time::Instant::now();
        // The least walk of any matrix that agrees with the pairs given (the others at their
        // bound): when its plan walks only pairs given, it is the plan, and its prices its proof.
        let least = sparse::solve(&low, self.cap, self.min, self.fixed, k.min(PRUNE_K))?;
        let off: Vec<(usize, u32)> = least
            .solution
            .assign
            .iter()
            .enumerate()
            .filter(|&(u, &t)| src.given(u, t as usize).is_none())
            .map(|(u, &t)| (u, t))
            .collect();
        let lower_bound = least.solution.objective;
        let (plan, stats) = if off.is_empty() {
            (least.solution, least.stats)
        } else {
            // The best plan over the pairs given: proved by the least walk's prices if it walks
            // no more (an optimal dual proves every optimal plan).
            crate::cancel::check().map_err(|_| SolveError::Cancelled)?;
            let sol = sparse::solve(&src, self.cap, self.min, self.fixed, k)?;
            (sol.solution, sol.stats)
        };
        let solved = started.elapsed().as_secs_f64();
        let known = src.rows();
        let findings = sparse::verify(
            &src,
            self.cap,
            self.min,
            self.fixed,
            &known,
            &plan.assign,
            &least.prices,
        );
        // The least walk's own plan must pass its own proof; the plan over the pairs given may
        // fail it any way (a full school of the least walk has seats left in it).
        let own = off.is_empty();
        if let Some(f) = findings.iter().find(|_| own) {
            return Err(SolveError::Solver(format!(
                "the sparse solve's plan failed its own check: {f:?}"
            )));
        }
        let objective = plan.objective;
        if findings.is_empty() && objective <= lower_bound {
            return Ok(Partial::Proved {
                solution: plan,
                prices: least.prices,
                stats,
                asked_not_given: low.missing.load(Ordering::Relaxed),
                seconds: (solved, started.elapsed().as_secs_f64() - solved),
            });
        }
        // No prices prove it: the pupils the least walk sends along pairs not given, and the
        // farthest such school's straight-line rank.
        let mut needed_k = 0;
        for &(u, t) in &off {
            let b = src.line.bound(u, t as usize);
            let rank = (0..self.matrix.n_schools).filter(|&s| src.line.bound(u, s) <= b).count();
            needed_k = needed_k.max(rank);
        }
        Ok(Partial::Unproved { pupils: off.len(), needed_k, objective, lower_bound })
    }

    /// Check a plan's optimality proof from the pairs given and the bounds of the others
    /// ([`sparse::verify`]: seats and minimums, every pupil at a pair given and allowed, no
    /// pair — given at its walk, not given at its bound — beating a pupil's walk plus its
    /// school's price, prices of the right sign). Empty = proved optimal for every matrix
    /// that agrees with the pairs given and walks no pair below its bound.
    pub fn verify(&self, assign: &[u32], prices: &[i64]) -> Result<Vec<SparseFinding>, SolveError> {
        let src = Given::new(*self, false)?;
        if assign.len() != self.matrix.n_pupils || prices.len() != self.matrix.n_schools {
            return Err(SolveError::Solver("the plan does not fit the matrix".into()));
        }
        let known = src.rows();
        Ok(sparse::verify(&src, self.cap, self.min, self.fixed, &known, assign, prices))
    }
}

/// [`feasibility::diagnose_allowed`] over the pairs `m` gives: a pair is allowed when it has a
/// route and is within `max_walk` (a fixed school always).
fn diagnose_allowed_pairs(
    units: &Units,
    m: &Matrix,
    fixed: &[Option<u32>],
    max_walk: Option<u32>,
) -> Vec<Diagnosis> {
    feasibility::diagnose_allowed(units, |u, out| {
        out.extend(
            m.given_row(u)
                .filter(|&(s, c)| {
                    c != UNREACHABLE
                        && max_walk.is_none_or(|w| c <= w || fixed[u] == Some(s as u32))
                })
                .map(|(s, _)| s as u32),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::PartialRows;

    #[test]
    fn the_bound_is_below_the_great_circle() {
        // One degree of latitude is about 111 km on any radius from the polar to the equatorial.
        let b = straight_line_bound((52.0, 11.0), (53.0, 11.0)) as f64;
        assert!(b < 0.98 * 110_950.0 && b > 0.97 * 110_000.0, "{b}");
        assert_eq!(straight_line_bound((52.0, 11.0), (52.0, 11.0)), 0);
    }

    /// `near` gives every school whose bound is below the radius, from towns to continents
    /// (and, at a small radius, not every school).
    #[test]
    fn near_finds_every_school_below_the_radius() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut point = |spread: f64| {
            let lat = 52.0 + spread * (rng.below(2001) as f64 / 1000.0 - 1.0);
            let lon = 11.0 + spread * (rng.below(2001) as f64 / 1000.0 - 1.0);
            (lat.clamp(-89.0, 89.0), lon)
        };
        let mut schools: Vec<(f64, f64)> = (0..300).map(|_| point(1.0)).collect();
        schools.extend((0..30).map(|_| point(60.0)));
        let units: Vec<(f64, f64)> = (0..60).map(|_| point(1.5)).collect();
        let line = StraightLine::new(&units, &schools);
        let mut out = Vec::new();
        let mut fewer = false;
        for u in 0..units.len() {
            for radius in [0, 500, 3_000, 20_000, 150_000, 3_000_000] {
                out.clear();
                line.near(u, radius, &mut out);
                for s in 0..schools.len() {
                    if (line.bound(u, s) as i64) < radius {
                        assert!(
                            out.contains(&(s as u32)),
                            "pupil {u}, school {s}, radius {radius}"
                        );
                    }
                }
                fewer |= radius == 3_000 && out.len() < schools.len() / 10;
            }
        }
        assert!(fewer, "a 3 km radius looked at most schools");
        // Schools along one parallel all share the pupil's band of latitudes: only the few
        // within reach come back.
        let row: Vec<(f64, f64)> = (0..100).map(|i| (52.0, 11.0 + i as f64 * 0.01)).collect();
        let line = StraightLine::new(&[(52.0, 11.0)], &row);
        out.clear();
        line.near(0, 3_000, &mut out);
        assert!(out.len() < 20 && out.contains(&0), "{} schools", out.len());
    }

    /// The matrix of `dense` (pupils x 2 schools) giving only the pairs `given` (u, s).
    fn partial(dense: &[u32], given: &[(usize, usize)]) -> Matrix {
        let rows = (0..dense.len() / 2).map(|u| {
            given
                .iter()
                .filter(|g| g.0 == u)
                .map(|&(_, s)| (s as u32, dense[u * 2 + s], 0))
                .collect()
        });
        Matrix::from_partial(2, PartialRows::from_rows(rows, false), "test")
    }

    /// Four pupils on a line, two schools of two seats at the ends; only each pupil's nearest
    /// school is given. The bound of the far school proves the plan.
    #[test]
    fn a_nearest_pair_matrix_is_proved_or_counted() {
        let units = [(52.0, 11.0), (52.0, 11.001), (52.0, 11.1), (52.0, 11.101)];
        let schools = [(52.0, 11.0005), (52.0, 11.1005)];
        let walk = |u: usize, s: usize| straight_line_bound(units[u], schools[s]) * 2 + 100;
        let dense: Vec<u32> = (0..4).flat_map(|u| (0..2).map(move |s| walk(u, s))).collect();
        let near = [(0, 0), (1, 0), (2, 1), (3, 1)];
        let fixed = [None; 4];
        let pairs = |m, cap| Pairs {
            matrix: m,
            cap,
            min: &[0, 0],
            fixed: &fixed,
            units: &units,
            schools: &schools,
            max_walk: None,
        };
        let m = partial(&dense, &near);
        assert!(m.is_partial() && m.n_given() == 4);
        assert!(pairs(&m, &[2, 2]).diagnose().is_empty());
        match pairs(&m, &[2, 2]).solve(1).unwrap() {
            Partial::Proved { solution, prices, .. } => {
                assert_eq!(solution.assign, vec![0, 0, 1, 1]);
                let want: u64 = (0..4).map(|u| walk(u, u / 2) as u64).sum();
                assert_eq!(solution.objective, want);
                assert!(pairs(&m, &[2, 2]).verify(&solution.assign, &prices).unwrap().is_empty());
                // Pupil 1 moved east is not proved: its pair there is not even given.
                let moved = [0, 1, 1, 1];
                assert!(!pairs(&m, &[2, 4]).verify(&moved, &prices).unwrap().is_empty());
            }
            other => panic!("{other:?}"),
        }
        // One seat at the west school: a west pupil walks east, at a price on the west school
        // that the bounds of the pairs not given cannot beat: proved, the full optimum.
        let both = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 1), (3, 1)];
        let tight = partial(&dense, &both);
        let full = crate::solve::Problem {
            n_schools: 2,
            cap: vec![1, 3],
            min: vec![0, 0],
            cost: dense.clone(),
            weight: vec![1; 4],
            fixed: vec![None; 4],
        };
        let best = crate::solve::solve(&full, crate::solve::SolverKind::Flow).unwrap();
        match pairs(&tight, &[1, 3]).solve(1).unwrap() {
            Partial::Proved { solution, .. } => assert_eq!(solution.objective, best.objective),
            other => panic!("{other:?}"),
        }
        // The first pupil given only the far school: the bound of the near one beats it.
        let far = partial(&dense, &[(0, 1), (1, 0), (2, 1), (3, 1)]);
        match pairs(&far, &[2, 4]).solve(1).unwrap() {
            Partial::Unproved { pupils, needed_k, objective, lower_bound } => {
                assert_eq!((pupils, needed_k), (1, 1));
                // The plan walks pupil 0 to the far school; the bound walks it to the near one.
                let plan: u64 =
                    walk(0, 1) as u64 + (1..4).map(|u| walk(u, u / 2) as u64).sum::<u64>();
                let least = straight_line_bound(units[0], schools[0]) as u64
                    + (1..4).map(|u| walk(u, u / 2) as u64).sum::<u64>();
                assert_eq!((objective, lower_bound), (plan, least));
            }
            other => panic!("{other:?}"),
        }
        // No pair at all for a pupil: no plan, diagnosed without a dense row.
        let none = partial(&dense, &[(1, 0), (2, 1), (3, 1)]);
        assert_eq!(pairs(&none, &[2, 2]).diagnose().len(), 1);
    }

    /// A little xorshift generator for the random instances.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Random small instances whose walks are never below the bound, each pupil's nearest
    /// schools given (one to all): a proved plan is the full optimum (checked by the dense flow); an
    /// unproved one brackets the full optimum, and only when no prices can prove it (the least
    /// walk with the pairs not given at their bound is below the plan's).
    #[test]
    fn a_partial_solve_is_proved_unless_no_prices_can() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (mut proved, mut unproved) = (0, 0);
        for _ in 0..300 {
            let n = 3 + rng.below(12) as usize;
            let m = 2 + rng.below(4) as usize;
            let mut at =
                || (52.0 + rng.below(3000) as f64 * 1e-5, 11.0 + rng.below(5000) as f64 * 1e-5);
            let units: Vec<(f64, f64)> = (0..n).map(|_| at()).collect();
            let schools: Vec<(f64, f64)> = (0..m).map(|_| at()).collect();
            let dense: Vec<u32> = (0..n * m)
                .map(|i| {
                    let b = straight_line_bound(units[i / m], schools[i % m]);
                    b + (rng.below(3) * rng.below(800)) as u32
                })
                .collect();
            let mut cap: Vec<u32> =
                (0..m).map(|_| 1 + rng.below(n as u64 / 2 + 1) as u32).collect();
            while cap.iter().sum::<u32>() < n as u32 {
                cap[rng.below(m as u64) as usize] += 1;
            }
            // Each pupil's nearest schools by bound, one to all of them.
            let rows: Vec<Vec<(u32, u32, u32)>> = (0..n)
                .map(|u| {
                    let mut order: Vec<usize> = (0..m).collect();
                    order.sort_by_key(|&s| (straight_line_bound(units[u], schools[s]), s));
                    order.truncate(1 + rng.below(m as u64) as usize);
                    order.sort_unstable();
                    order.into_iter().map(|s| (s as u32, dense[u * m + s], 0)).collect()
                })
                .collect();
            let matrix = Matrix::from_partial(m, PartialRows::from_rows(rows, false), "test");
            let (min, fixed) = (vec![0; m], vec![None; n]);
            let pairs = Pairs {
                matrix: &matrix,
                cap: &cap,
                min: &min,
                fixed: &fixed,
                units: &units,
                schools: &schools,
                max_walk: None,
            };
            if !pairs.diagnose().is_empty() {
                continue;
            }
            let full = crate::solve::Problem {
                n_schools: m,
                cap: cap.clone(),
                min: min.clone(),
                cost: dense.clone(),
                weight: vec![1; n],
                fixed: fixed.clone(),
            };
            let best = crate::solve::solve(&full, crate::solve::SolverKind::Flow).unwrap();
            match pairs.solve(1).unwrap() {
                Partial::Proved { solution, prices, .. } => {
                    proved += 1;
                    assert_eq!(solution.objective, best.objective);
                    assert!(pairs.verify(&solution.assign, &prices).unwrap().is_empty());
                }
                Partial::Unproved { objective, lower_bound, pupils, .. } => {
                    unproved += 1;
                    assert!(pupils > 0);
                    assert!(lower_bound < objective, "{lower_bound} {objective}");
                    assert!(lower_bound <= best.objective && best.objective <= objective);
                }
            }
        }
        assert!(proved > 20 && unproved > 20, "{proved} proved, {unproved} unproved");
    }
}
