//! Flow vs LP on synthetic towns (`catchment-dataset synthetic`, same seed): solve time only,
//! the matrix already in memory. `cargo bench --bench flow`.
//!
//! The LP runs at 2,000 x 40 and 10,000 x 100 only: at 20,000 x 200 one CBC solve takes ~30 s
//! and 50,000 x 400 does not finish in reasonable time.

#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;
use catchment::solve::{pricing, solve, Problem, SolverKind};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn town(n: usize, m: usize) -> Problem {
    let t = synthetic::generate(n, m, 1);
    Problem::pupil_level(&t.instance, &t.matrix, None).expect("consistent")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("solve");
    g.sample_size(10);
    for (n, m, lp) in [(2_000, 40, true), (10_000, 100, true), (50_000, 400, false)] {
        let p = town(n, m);
        let size = format!("{n}x{m}");
        g.bench_with_input(BenchmarkId::new("flow", &size), &p, |b, p| {
            b.iter(|| solve(black_box(p), SolverKind::Flow).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("pruned_k8", &size), &p, |b, p| {
            b.iter(|| pricing::solve_problem(black_box(p), 8).unwrap())
        });
        if lp {
            g.bench_with_input(BenchmarkId::new("lp", &size), &p, |b, p| {
                b.iter(|| solve(black_box(p), SolverKind::Lp).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
