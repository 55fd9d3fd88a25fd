//! Solve times: the demo instance (2,000 x 35, shipped in data/demo) and a 10,000 x 100
//! synthetic town. Run: `cargo bench --bench solve`.

#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;
use catchment::solve::{solve, Problem, SolverKind};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;

fn demo_problem() -> Problem {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let inst = catchment::read_instance(&dir.join("schools.csv"), &dir.join("pupils.csv"))
        .expect("demo instance");
    let m = catchment::routing::read_matrix(&dir.join("matrix.csv"), &inst).expect("demo matrix");
    Problem::pupil_level(&inst, &m, None).unwrap()
}

fn town_problem(pupils: usize, schools: usize) -> Problem {
    let t = synthetic::generate(pupils, schools, 1);
    Problem::pupil_level(&t.instance, &t.matrix, None).unwrap()
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("solve");
    g.sample_size(10);
    let demo = demo_problem();
    g.bench_function("demo_2000x35/lp", |b| b.iter(|| solve(&demo, SolverKind::Lp).unwrap()));
    let big = town_problem(10_000, 100);
    g.bench_function("synthetic_10000x100/lp", |b| b.iter(|| solve(&big, SolverKind::Lp).unwrap()));
    g.finish();
}

criterion_group!(solve_benches, benches);
criterion_main!(solve_benches);
