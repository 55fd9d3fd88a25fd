//! The solver against brute force, and the certificate on everything.

mod common;

use catchment::solve::certificate::{certify, verify_prices};
use catchment::solve::{feasibility, solve, SolveError, SolverKind};
use common::{brute_force, problem};
use proptest::prelude::*;

#[test]
fn tiny_instances_equal_brute_force() {
    // Two schools of one seat each: the pupil nearer to A must yield to the one who gains more.
    let p = problem(
        vec![1, 1],
        vec![0, 0],
        vec![vec![Some(100), Some(200)], vec![Some(100), Some(500)]],
        vec![None, None],
    );
    let s = solve(&p, SolverKind::Lp).unwrap();
    assert_eq!(Some(s.objective), brute_force(&p));
    assert_eq!(s.assign, vec![1, 0]);
    assert_eq!(s.objective, 300);
}

#[test]
fn minimum_forces_a_longer_walk() {
    let p = problem(
        vec![3, 3],
        vec![0, 1],
        vec![vec![Some(10), Some(50)], vec![Some(10), Some(20)], vec![Some(10), Some(90)]],
        vec![None; 3],
    );
    let s = solve(&p, SolverKind::Lp).unwrap();
    assert_eq!(s.assign, vec![0, 1, 0]);
    assert_eq!(Some(s.objective), brute_force(&p));
    let c = certify(&p, &s.assign).unwrap();
    // School 1 is held at its minimum: a negative price attracts pupil 1 there.
    assert!(c.prices[1] < 0, "prices {:?}", c.prices);
}

#[test]
fn fixed_pupil_keeps_its_school_and_uses_a_seat() {
    let p = problem(
        vec![1, 2],
        vec![0, 0],
        vec![vec![Some(10), Some(50)], vec![Some(10), Some(20)]],
        vec![None, Some(0)],
    );
    let s = solve(&p, SolverKind::Lp).unwrap();
    assert_eq!(s.assign, vec![1, 0]);
    assert_eq!(s.objective, 60);
}

/// A random problem: 1..=3 schools, 1..=6 pupils, some pairs not allowed, minimums, fixed.
fn arb_problem() -> impl Strategy<Value = catchment::solve::Problem> {
    (1usize..=3, 1usize..=6).prop_flat_map(|(ns, np)| {
        (
            prop::collection::vec(0u32..=4, ns),
            prop::collection::vec(0u32..=2, ns),
            prop::collection::vec(
                prop::collection::vec(prop::option::weighted(0.85, 0u32..1000), ns),
                np,
            ),
            prop::collection::vec(prop::option::weighted(0.15, 0u32..ns as u32), np),
        )
            .prop_map(|(cap, min, cost, fixed)| {
                let min = min.iter().zip(&cap).map(|(&m, &c)| m.min(c)).collect();
                problem(cap, min, cost, fixed)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn lp_equals_brute_force_and_certifies(p in arb_problem()) {
        let brute = brute_force(&p);
        match solve(&p, SolverKind::Lp) {
            Ok(s) => {
                prop_assert_eq!(Some(s.objective), brute);
                let c = certify(&p, &s.assign).map_err(|f| TestCaseError::fail(format!("{f:?}")))?;
                prop_assert_eq!(c.objective, s.objective);
                prop_assert!(verify_prices(&p, &s.assign, &c.prices).is_empty());
            }
            Err(SolveError::Infeasible(d)) => {
                prop_assert!(brute.is_none(), "diagnosed infeasible but brute force found {:?}: {:?}", brute, d);
            }
            Err(e) => prop_assert!(false, "solver error {:?}", e),
        }
        // The diagnosis alone decides feasibility exactly.
        prop_assert_eq!(feasibility::diagnose(&p).is_empty(), brute.is_some());
    }

    #[test]
    fn certificate_rejects_suboptimal_plans(p in arb_problem()) {
        // Any feasible plan worse than the optimum must be rejected with an improving cycle.
        let Some(best) = brute_force(&p) else { return Ok(()) };
        let n = p.n_units();
        let s = p.n_schools;
        let mut assign = vec![0u32; n];
        'all: loop {
            if catchment::solve::certificate::check_feasible(&p, &assign).is_empty() {
                let obj = p.objective(&assign).unwrap();
                let r = certify(&p, &assign);
                prop_assert_eq!(r.is_ok(), obj == best, "objective {} best {}", obj, best);
            }
            let mut i = 0;
            loop {
                if i == n { break 'all; }
                assign[i] += 1;
                if (assign[i] as usize) < s { break; }
                assign[i] = 0;
                i += 1;
            }
        }
    }
}
