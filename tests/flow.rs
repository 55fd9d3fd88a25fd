//! The flow solver against the LP reference, the certificate and itself.

#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;
use catchment::routing::UNREACHABLE;
use catchment::solve::certificate::{certify, verify_prices};
use catchment::solve::flow::{self, Bounds};
use catchment::solve::{pricing, solve, Problem, SolveError, SolverKind};
use proptest::prelude::*;

/// Random pupil-level problems: holes (no route or beyond a max walk), minimums, fixed pupils;
/// some infeasible on purpose.
fn problems() -> impl Strategy<Value = Problem> {
    (1usize..7, 1usize..40).prop_flat_map(|(m, n)| {
        (
            prop::collection::vec(0u32..12, m),
            prop::collection::vec(prop_oneof![4 => Just(0u32), 1 => 0u32..6], m),
            prop::collection::vec(prop_oneof![8 => 0u32..3000, 1 => Just(UNREACHABLE)], n * m),
            prop::collection::vec(
                prop_oneof![12 => Just(None), 1 => (0..m as u32).prop_map(Some)],
                n,
            ),
            0u32..3000,
        )
            .prop_map(move |(mut cap, mut min, mut cost, fixed, max_walk)| {
                // Instances never have a minimum above the capacity (validation rejects it).
                for s in 0..m {
                    min[s] = min[s].min(cap[s]);
                }
                // Mostly enough seats, sometimes not.
                let seats: u32 = cap.iter().sum();
                if seats < n as u32 && max_walk % 4 != 0 {
                    cap[0] += n as u32 - seats;
                }
                // A max walk now and then: pairs above it are left out (fixed pairs kept).
                if max_walk % 3 == 0 {
                    for u in 0..n {
                        for s in 0..m {
                            let c = &mut cost[u * m + s];
                            if *c != UNREACHABLE && *c > max_walk && fixed[u] != Some(s as u32) {
                                *c = UNREACHABLE;
                            }
                        }
                    }
                }
                Problem { n_schools: m, cap, min, cost, weight: vec![1; n], fixed }
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn flow_equals_lp_and_is_certified(p in problems()) {
        let f = solve(&p, SolverKind::Flow);
        let l = solve(&p, SolverKind::Lp);
        match (&f, &l) {
            (Ok(f), Ok(l)) => {
                prop_assert_eq!(f.objective, l.objective);
                let cert = certify(&p, &f.assign).expect("the flow plan is optimal");
                prop_assert_eq!(cert.objective, f.objective);
                let st = flow::run(&p, Bounds { cap: &p.cap, min: &p.min, fixed: &p.fixed }, None).unwrap();
                prop_assert_eq!(&st.assign, &f.assign);
                prop_assert_eq!(verify_prices(&p, &st.assign, &st.prices()), vec![]);
                // Pruned to a few schools per pupil, then priced: the same optimum.
                for k in [1, 2] {
                    let (s, prices, _) = pricing::solve_problem(&p, k).expect("feasible");
                    prop_assert_eq!(s.objective, f.objective);
                    prop_assert!(certify(&p, &s.assign).is_ok());
                    prop_assert_eq!(verify_prices(&p, &s.assign, &prices), vec![]);
                }
            }
            (Err(SolveError::Infeasible(a)), Err(SolveError::Infeasible(b))) => {
                prop_assert_eq!(a, b);
                prop_assert_eq!(pricing::solve_problem(&p, 1).unwrap_err(), SolveError::Infeasible(a.clone()));
            }
            _ => prop_assert!(false, "flow {:?} but lp {:?}", f, l),
        }
    }
}

fn town(n: usize, m: usize, seed: u64) -> Problem {
    let t = synthetic::generate(n, m, seed);
    Problem::pupil_level(&t.instance, &t.matrix, None).unwrap()
}

#[test]
fn synthetic_town_flow_equals_lp_pruned_and_dense() {
    let mut p = town(600, 12, 3);
    // A minimum that binds and a few fixed pupils.
    p.min[5] = p.cap[5];
    for u in (0..p.n_units()).step_by(97) {
        p.fixed[u] = Some((u % 12) as u32);
    }
    let f = solve(&p, SolverKind::Flow).unwrap();
    let l = solve(&p, SolverKind::Lp).unwrap();
    assert_eq!(f.objective, l.objective);
    certify(&p, &f.assign).expect("optimal");
    let (s, prices, stats) = pricing::solve_problem(&p, 3).unwrap();
    assert_eq!(s.objective, f.objective);
    assert_eq!(verify_prices(&p, &s.assign, &prices), vec![]);
    assert!(stats.arcs < p.n_units() * 12);
}

#[test]
fn deterministic() {
    let p = town(1500, 20, 11);
    let a = solve(&p, SolverKind::Flow).unwrap();
    let b = solve(&p, SolverKind::Flow).unwrap();
    assert_eq!(a, b);
    let (x, _, _) = pricing::solve_problem(&p, 4).unwrap();
    let (y, _, _) = pricing::solve_problem(&p, 4).unwrap();
    assert_eq!(x, y);
}

#[test]
fn streamed_file_equals_dense_solve() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = synthetic::generate(800, 15, 5);
    // A fixed pupil and a hard maximum walk.
    t.instance.pupils[3].fixed_school = Some(t.instance.schools[7].id.clone());
    let path = dir.path().join("matrix.csv");
    catchment::routing::write_matrix(&path, &t.instance, &t.matrix).unwrap();
    let p = Problem::pupil_level(&t.instance, &t.matrix, Some(4000)).unwrap();
    let dense = solve(&p, SolverKind::Flow).unwrap();
    let (s, prices, stats) =
        catchment::solve::stream::solve_streamed(&t.instance, &path, Some(4000), 3).unwrap();
    assert_eq!(s.objective, dense.objective);
    assert_eq!(s.assign[3], 7);
    certify(&p, &s.assign).expect("optimal");
    assert_eq!(verify_prices(&p, &s.assign, &prices), vec![]);
    assert!(stats.rounds >= 1);
}

#[test]
fn infeasible_instances_get_the_same_diagnosis_from_every_path() {
    let x = UNREACHABLE;
    // Pupils 0..2 can only reach school 0 (2 seats); school 1 needs 2 pupils.
    let p = Problem {
        n_schools: 2,
        cap: vec![2, 5],
        min: vec![0, 2],
        cost: vec![1, x, 1, x, 1, x, 4, 2],
        weight: vec![1; 4],
        fixed: vec![None; 4],
    };
    let f = solve(&p, SolverKind::Flow).unwrap_err();
    let l = solve(&p, SolverKind::Lp).unwrap_err();
    assert!(matches!(&f, SolveError::Infeasible(d) if d.len() == 2), "{f:?}");
    assert_eq!(f, l);
    assert_eq!(pricing::solve_problem(&p, 1).unwrap_err(), f);
}

#[test]
fn weighted_units_go_to_the_lp() {
    // Blocks of 3 and 2 pupils; school 0 has 4 seats: a block cannot be split.
    let p = Problem {
        n_schools: 2,
        cap: vec![4, 5],
        min: vec![0, 0],
        cost: vec![1, 10, 1, 5],
        weight: vec![3, 2],
        fixed: vec![None; 2],
    };
    let s = solve(&p, SolverKind::Flow).unwrap();
    assert_eq!(s, solve(&p, SolverKind::Lp).unwrap());
    assert_eq!(s.assign, vec![0, 1]);
}

#[test]
fn many_schools_take_the_pruned_path_and_match_the_dense_flow() {
    let mut p = town(1200, flow::PRUNE_FROM_SCHOOLS + 20, 9);
    p.min[4] = p.cap[4];
    p.fixed[10] = Some(3);
    let s = solve(&p, SolverKind::Flow).unwrap();
    let dense = flow::run(&p, Bounds { cap: &p.cap, min: &p.min, fixed: &p.fixed }, None).unwrap();
    assert_eq!(Some(s.objective), p.objective(&dense.assign));
    certify(&p, &s.assign).expect("optimal");
}
