//! The synthetic town's families (`catchment-dataset synthetic --family`) and the sparse solve
//! (pairs asked for on demand, straight-line bounds for the rest) against the dense solvers.

#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;
use catchment::routing::UNREACHABLE;
use catchment::solve::certificate::{certify, verify_prices};
use catchment::solve::sparse::{self, PairSource, SparseFinding};
use catchment::solve::{solve, Problem, SolveError, SolverKind};
use std::sync::atomic::{AtomicUsize, Ordering};
use synthetic::Family;

/// A town's pairs asked for one by one from its matrix; the bound is the straight line between
/// the generator's own coordinates (every synthetic walk is a street-grid walk, at least that).
struct TownPairs<'a> {
    town: &'a synthetic::Town,
    max_walk: Option<u32>,
    asked: AtomicUsize,
}

impl PairSource for TownPairs<'_> {
    fn n_units(&self) -> usize {
        self.town.instance.pupils.len()
    }
    fn n_schools(&self) -> usize {
        self.town.instance.schools.len()
    }
    fn lower(&self, u: usize, s: usize) -> u32 {
        let (a, b) = (self.town.pupil_xy[u], self.town.school_xy[s]);
        ((a.0 - b.0).hypot(a.1 - b.1) - 1.0).max(0.0) as u32
    }
    /// Exactly the schools below the radius, last first: a radius too small would miss a pair
    /// that prices out, and the plan would differ from the dense one.
    fn near(&self, u: usize, radius: i64, out: &mut Vec<u32>) {
        out.extend(
            (0..self.n_schools() as u32)
                .rev()
                .filter(|&s| (self.lower(u, s as usize) as i64) < radius),
        );
    }
    fn costs(&self, pairs: &[(u32, u32)]) -> Result<Vec<u32>, SolveError> {
        self.asked.fetch_add(pairs.len(), Ordering::Relaxed);
        Ok(pairs
            .iter()
            .map(|&(u, s)| {
                let c = self.town.matrix.row(u as usize)[s as usize];
                if self.max_walk.is_some_and(|w| c > w) {
                    UNREACHABLE
                } else {
                    c
                }
            })
            .collect())
    }
}

#[test]
fn families_have_what_they_say() {
    let n = 1200;
    for f in Family::ALL {
        let t = synthetic::generate_family(n, 15, 4, f);
        assert_eq!(t.instance.pupils.len(), n, "{f:?}");
        let seats = t.instance.seats() as f64 / n as f64;
        match f {
            Family::Tight => assert!((1.01..=1.051).contains(&seats), "{seats}"),
            Family::Loose => assert!((1.5..1.51).contains(&seats), "{seats}"),
            _ => assert!(seats >= 1.08, "{f:?}: {seats}"),
        }
        let mut places: Vec<(u64, u64)> =
            t.pupil_xy.iter().map(|p| (p.0.to_bits(), p.1.to_bits())).collect();
        places.sort_unstable();
        places.dedup();
        if f == Family::Blocks {
            assert!(places.len() <= n / 8, "{} places", places.len());
        } else {
            assert!(places.len() > n * 9 / 10, "{f:?}: {} places", places.len());
        }
        // Walks against the grid distance: only long-tail detours far beyond it.
        let stretched = (0..n)
            .flat_map(|u| (0..15).map(move |s| (u, s)))
            .filter(|&(u, s)| {
                let (a, b) = (t.pupil_xy[u], t.school_xy[s]);
                let l1 = (a.0 - b.0).abs() + (a.1 - b.1).abs();
                t.matrix.row(u)[s] as f64 > 2.0 * l1 + 1.0 && l1 > 1000.0
            })
            .count();
        if f == Family::LongTail {
            assert!(stretched > 0);
        }
        let caps: Vec<u32> = t.instance.schools.iter().map(|s| s.capacity).collect();
        let (lo, hi) = (caps.iter().min().unwrap(), caps.iter().max().unwrap());
        if f == Family::ManySmall {
            assert!(hi - lo <= 1, "{caps:?}");
        }
        if f == Family::FewLarge {
            let mut sorted = caps.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let big: u32 = sorted[..3].iter().sum();
            assert!(big as f64 >= 0.7 * t.instance.seats() as f64, "{caps:?}");
        }
    }
}

#[test]
fn every_family_flow_equals_lp_and_is_certified() {
    for f in Family::ALL {
        let t = synthetic::generate_family(400, 10, 2, f);
        let p = Problem::pupil_level(&t.instance, &t.matrix, None).unwrap();
        let flow = solve(&p, SolverKind::Flow).unwrap();
        let lp = solve(&p, SolverKind::Lp).unwrap();
        assert_eq!(flow.objective, lp.objective, "{f:?}");
        let c = certify(&p, &flow.assign).expect("optimal");
        assert_eq!(c.objective, flow.objective);
    }
}

/// The sparse solve's plan against the dense flow's: the same objective, certified by the
/// dense certificate, its prices checked against every pair, and its own proof checked.
fn sparse_equals_dense(t: &synthetic::Town, p: &Problem, max_walk: Option<u32>, k: usize) -> usize {
    let dense = solve(p, SolverKind::Flow).unwrap();
    let src = TownPairs { town: t, max_walk, asked: AtomicUsize::new(0) };
    let s = sparse::solve(&src, &p.cap, &p.min, &p.fixed, k).unwrap();
    assert_eq!(s.solution.objective, dense.objective);
    assert_eq!(p.objective(&s.solution.assign), Some(dense.objective));
    certify(p, &s.solution.assign).expect("the dense certificate holds");
    assert_eq!(verify_prices(p, &s.solution.assign, &s.prices), vec![]);
    let v = sparse::verify(&src, &p.cap, &p.min, &p.fixed, &s.known, &s.solution.assign, &s.prices);
    assert_eq!(v, vec![]);
    // Nothing asked twice, and the stats count what the source saw.
    assert_eq!(src.asked.load(Ordering::Relaxed), s.stats.asked);
    assert_eq!(s.known.iter().map(Vec::len).sum::<usize>(), s.stats.asked);
    s.stats.asked
}

#[test]
fn sparse_plan_equals_dense_plan_on_every_family() {
    for f in Family::ALL {
        let (n, m) = (900, 24);
        let t = synthetic::generate_family(n, m, 6, f);
        let p = Problem::pupil_level(&t.instance, &t.matrix, None).unwrap();
        let asked = sparse_equals_dense(&t, &p, None, 4);
        assert!(asked < n * m, "{f:?}: asked for every pair");
    }
}

#[test]
fn sparse_plan_with_minimums_fixed_pupils_and_a_maximum_walk() {
    let mut t = synthetic::generate_family(700, 16, 9, Family::Tight);
    t.instance.pupils[5].fixed_school = Some(t.instance.schools[11].id.clone());
    t.instance.pupils[77].fixed_school = Some(t.instance.schools[0].id.clone());
    let mut p = Problem::pupil_level(&t.instance, &t.matrix, Some(6000)).unwrap();
    p.min[3] = p.cap[3];
    assert!(catchment::solve::feasibility::diagnose(&p).is_empty());
    sparse_equals_dense(&t, &p, Some(6000), 2);
    // k = 1: a unit whose one pair is out of reach widens k.
    sparse_equals_dense(&t, &p, Some(6000), 1);
}

#[test]
fn sparse_proof_fails_with_wrong_prices_or_a_bound_above_a_walk() {
    let t = synthetic::generate_family(600, 12, 3, Family::Tight);
    let p = Problem::pupil_level(&t.instance, &t.matrix, None).unwrap();
    let src = TownPairs { town: &t, max_walk: None, asked: AtomicUsize::new(0) };
    let s = sparse::solve(&src, &p.cap, &p.min, &p.fixed, 3).unwrap();
    assert!(s.prices.iter().any(|&x| x != 0), "a tight town has prices");
    let zero = vec![0; p.n_schools];
    let v = sparse::verify(&src, &p.cap, &p.min, &p.fixed, &s.known, &s.solution.assign, &zero);
    assert!(v.iter().any(|f| matches!(
        f,
        SparseFinding::PriceAtSlackSchool { .. } | SparseFinding::PriceViolated { .. }
    )));
    // A unit moved to another school: the loads or the prices say so.
    let mut moved = s.solution.assign.clone();
    moved[0] = (moved[0] + 1) % p.n_schools as u32;
    let v = sparse::verify(&src, &p.cap, &p.min, &p.fixed, &s.known, &moved, &s.prices);
    assert!(!v.is_empty());
}

/// From `flow::SAMPLE_FROM` units on, a cold flow starts from a sample's prices when that start
/// leaves fewer pupils to move (few large schools: it does); the plan is still optimal.
#[test]
fn the_sampled_start_is_exact_with_minimums_fixed_pupils_and_holes() {
    use catchment::solve::flow::{self, Bounds};
    let n = flow::SAMPLE_FROM + 800;
    for (f, max_walk) in [(Family::FewLarge, None), (Family::ManySmall, Some(5000))] {
        let mut t = synthetic::generate_family(n, 14, 8, f);
        for u in (0..n).step_by(331) {
            t.instance.pupils[u].fixed_school = Some(t.instance.schools[u % 14].id.clone());
        }
        let mut p = Problem::pupil_level(&t.instance, &t.matrix, max_walk).unwrap();
        p.min[2] = p.cap[2] / 2;
        assert!(catchment::solve::feasibility::diagnose(&p).is_empty());
        let b = Bounds { cap: &p.cap, min: &p.min, fixed: &p.fixed };
        if f == Family::FewLarge {
            assert!(flow::sampled_start(&p, b).is_some(), "the sample's prices are the start");
        }
        let st = flow::run(&p, b, None).unwrap();
        let c = certify(&p, &st.assign).expect("optimal");
        assert_eq!(verify_prices(&p, &st.assign, &st.prices()), vec![]);
        let lp = solve(&p, SolverKind::Lp).unwrap();
        assert_eq!(c.objective, lp.objective, "{f:?}");
    }
}

/// Where the nearest school leaves no more pupils to move than a sample would hold, the flow
/// skips the sample (its solve would cost about what it saves) and is still exact.
#[test]
fn the_sample_is_skipped_when_few_pupils_must_move() {
    use catchment::solve::flow::{self, Bounds};
    let n = flow::SAMPLE_FROM + 800;
    let t = synthetic::generate_family(n, 14, 8, Family::Loose);
    let p = Problem::pupil_level(&t.instance, &t.matrix, None).unwrap();
    let b = Bounds { cap: &p.cap, min: &p.min, fixed: &p.fixed };
    let mut load = vec![0usize; p.n_schools];
    for u in 0..n {
        let row = p.row(u);
        let nearest = (0..p.n_schools).min_by_key(|&s| (row[s], s)).unwrap();
        load[nearest] += 1;
    }
    let over: usize = load.iter().zip(&p.cap).map(|(&l, &c)| l.saturating_sub(c as usize)).sum();
    assert!(over * flow::SAMPLE_STEP <= n, "{over} of {n} pupils over a nearest school's seats");
    assert!(flow::sampled_start(&p, b).is_none());
    let st = flow::run(&p, b, None).unwrap();
    let c = certify(&p, &st.assign).expect("optimal");
    assert_eq!(c.objective, solve(&p, SolverKind::Lp).unwrap().objective);
}
