//! Whole-block districts and class rules: the MIP against brute force, blocks stay whole, the
//! MIP is never better than the pupil level, no class over its size.

mod common;
#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use catchment::instance::{Instance, Pupil, School};
use catchment::routing::Matrix;
use catchment::solve::lp::{solve_mip, ClassRule};
use catchment::solve::{feasibility, Problem};
use catchment::{solve_plan, Policy, Unit};
use proptest::prelude::*;

/// Brute force over units with weights and an optional class rule.
fn brute(p: &Problem, rule: Option<&ClassRule>) -> Option<u64> {
    let n = p.n_units();
    let mut assign = vec![0u32; n];
    let mut best: Option<u64> = None;
    'all: loop {
        let ok = (0..n).all(|u| {
            p.cost(u, assign[u] as usize).is_some() && p.fixed[u].is_none_or(|f| f == assign[u])
        }) && {
            let load = p.loads(&assign);
            (0..p.n_schools).all(|s| {
                load[s] >= p.min[s] as u64
                    && load[s] <= p.cap[s] as u64
                    && rule.is_none_or(|r| {
                        load[s] == 0
                            || (1..=r.max[s] as u64).any(|k| {
                                r.min_size as u64 * k <= load[s] && load[s] <= r.size[s] as u64 * k
                            })
                    })
            })
        };
        if ok {
            let o = p.objective(&assign).unwrap();
            best = Some(best.map_or(o, |b| b.min(o)));
        }
        let mut i = 0;
        loop {
            if i == n {
                break 'all;
            }
            assign[i] += 1;
            if (assign[i] as usize) < p.n_schools {
                break;
            }
            assign[i] = 0;
            i += 1;
        }
    }
    best
}

fn arb_blocks() -> impl Strategy<Value = Problem> {
    (1usize..=3, 1usize..=5).prop_flat_map(|(ns, nu)| {
        (
            prop::collection::vec(0u32..=8, ns),
            prop::collection::vec(1u32..=4, nu),
            prop::collection::vec(
                prop::collection::vec(prop::option::weighted(0.85, 0u32..1000), ns),
                nu,
            ),
        )
            .prop_map(move |(cap, weight, cost)| Problem {
                n_schools: ns,
                cap,
                min: vec![0; ns],
                cost: cost
                    .iter()
                    .zip(&weight)
                    .flat_map(|(r, &w)| r.iter().map(move |c| c.map_or(u32::MAX, |c| c * w)))
                    .collect(),
                fixed: vec![None; weight.len()],
                weight,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn block_mip_equals_brute_force(p in arb_blocks()) {
        let b = brute(&p, None);
        let diagnosed = feasibility::diagnose(&p);
        match solve_mip(&p, None, None) {
            Ok((s, _)) => {
                prop_assert!(diagnosed.is_empty());
                prop_assert_eq!(Some(s.objective), b);
            }
            Err(_) => prop_assert!(b.is_none()),
        }
    }

    #[test]
    fn class_rule_equals_brute_force(p in arb_blocks(), min_size in 1u32..=3, size in 3u32..=5) {
        let rule = ClassRule { size: vec![size; p.n_schools], max: vec![2; p.n_schools], min_size };
        let b = brute(&p, Some(&rule));
        match solve_mip(&p, Some(&rule), None) {
            Ok((s, k)) => {
                prop_assert_eq!(Some(s.objective), b);
                let k = k.unwrap();
                let load = p.loads(&s.assign);
                for sc in 0..p.n_schools {
                    prop_assert!(load[sc] <= size as u64 * k[sc] as u64);
                    prop_assert!(load[sc] >= min_size as u64 * k[sc] as u64);
                }
            }
            Err(_) => prop_assert!(b.is_none()),
        }
    }
}

/// A town whose blocks hold several pupils each.
fn town() -> (Instance, Matrix) {
    let t = synthetic::generate(400, 10, 5);
    // Coarser blocks (300 m) so that most blocks hold several pupils.
    let mut inst = t.instance.clone();
    for (p, pupil) in inst.pupils.iter_mut().enumerate() {
        let (x, y) = t.pupil_xy[p];
        pupil.block = Some(format!("b{}_{}", (x / 300.0) as i64, (y / 300.0) as i64));
    }
    (inst, t.matrix)
}

#[test]
fn blocks_stay_whole_and_cost_at_least_the_pupil_optimum() {
    let (inst, m) = town();
    let pupil = solve_plan(&inst, &m, &Policy::default(), None).unwrap();
    let block =
        solve_plan(&inst, &m, &Policy { unit: Unit::Block, ..Policy::default() }, None).unwrap();
    assert!(block.objective >= pupil.objective);
    assert_eq!(block.pupil_optimum, Some(pupil.objective));
    assert!(block.certificate.is_none() && pupil.certificate.is_some());
    let mut school_of = std::collections::HashMap::new();
    for (p, pupil) in inst.pupils.iter().enumerate() {
        let s = *school_of.entry(pupil.block.clone().unwrap()).or_insert(block.assign[p]);
        assert_eq!(s, block.assign[p], "block {:?} split", pupil.block);
    }
    // Capacities hold.
    let mut load = vec![0u32; inst.schools.len()];
    for &s in &block.assign {
        load[s as usize] += 1;
    }
    for (s, school) in inst.schools.iter().enumerate() {
        assert!(load[s] <= school.capacity);
    }
}

#[test]
fn no_class_exceeds_its_size_and_minimum_class_size_holds() {
    let (inst, m) = town();
    for policy in [Policy::default(), Policy { min_class_size: Some(15), ..Policy::default() }] {
        let plan = solve_plan(&inst, &m, &policy, None).unwrap();
        let summary = catchment::report::summarize(&inst, &m, &plan);
        assert_eq!(summary.classes.over_size, 0);
        for (s, l) in summary.per_school.iter().enumerate() {
            assert!(l.largest_class <= inst.schools[s].class_size, "{l:?}");
            assert!(l.classes <= inst.schools[s].max_classes.unwrap());
            if let Some(min) = policy.min_class_size {
                assert!(l.load == 0 || l.load >= min as u64 * l.classes as u64, "{l:?}");
            }
        }
    }
}

#[test]
fn a_school_too_small_for_the_minimum_class_gets_no_class() {
    // School B is nearest for one pupil only; with classes of at least 2, B cannot open.
    let school = |id: &str, cap| School {
        id: id.into(),
        name: id.into(),
        lat: 52.0,
        lon: 11.0,
        capacity: cap,
        class_size: 22,
        max_classes: Some(1),
        min_pupils: 0,
        min_classes: None,
        extra: vec![],
    };
    let pupil = |id: &str| Pupil {
        id: id.into(),
        location: Some((52.0, 11.0)),
        street: None,
        house_number: None,
        postcode: None,
        block: None,
        fixed_school: None,
        extra: vec![],
    };
    let inst = Instance::new(
        vec![school("A", 22), school("B", 22)],
        vec![pupil("1"), pupil("2"), pupil("3")],
    )
    .unwrap();
    let mut m = Matrix::new(3, 2, "test");
    m.meters = vec![100, 900, 100, 900, 900, 100];
    let plan =
        solve_plan(&inst, &m, &Policy { min_class_size: Some(2), ..Policy::default() }, None)
            .unwrap();
    assert_eq!(plan.assign, vec![0, 0, 0]);
    assert_eq!(plan.classes, vec![1, 0]);
    let summary = catchment::report::summarize(&inst, &m, &plan);
    assert_eq!(summary.classes.schools_without_class, vec!["B".to_string()]);
    let free = solve_plan(&inst, &m, &Policy::default(), None).unwrap();
    assert_eq!(free.assign, vec![0, 0, 1]);
}

#[test]
fn a_minimum_above_the_class_size_needs_a_larger_class() {
    let (inst, m) = town();
    let err =
        solve_plan(&inst, &m, &Policy { min_class_size: Some(25), ..Policy::default() }, None)
            .unwrap_err();
    // A user's mistake, named by its variant: exit code 3 and HTTP 422, the setting to change.
    assert_eq!((err.kind(), err.exit_code(), err.http_status()), ("invalid_policy", 3, 422));
    assert_eq!(err.hint().and_then(|h| h.setting), Some(catchment::error::Setting::MaxClassSize));
    let e = err.to_string();
    assert!(e.contains("the minimum class size 25 is above the class size"), "{e}");
    assert!(!e.contains("--"), "library messages name no CLI flag: {e}");
    let policy = Policy { min_class_size: Some(25), max_class_size: Some(28), ..Policy::default() };
    let plan = solve_plan(&inst, &m, &policy, None).unwrap();
    let summary = catchment::report::summarize(&inst, &m, &plan);
    assert_eq!(summary.classes.over_size, 0);
    for l in &summary.per_school {
        assert_eq!(l.class_size, 28);
        assert!(
            l.load == 0 || (l.load >= 25 * l.classes as u64 && l.load <= 28 * l.classes as u64),
            "{l:?}"
        );
    }
}

#[test]
fn a_class_size_of_zero_is_a_policy_mistake() {
    let (inst, m) = town();
    for policy in [
        Policy { max_class_size: Some(0), ..Policy::default() },
        Policy { min_class_size: Some(0), ..Policy::default() },
    ] {
        let e = solve_plan(&inst, &m, &policy, None).unwrap_err();
        assert_eq!((e.kind(), e.exit_code()), ("invalid_policy", 3), "{e}");
        assert!(e.to_string().contains("class size is 0"), "{e}");
    }
}
