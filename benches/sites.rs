//! Where to build on Magdeburg: `catchment sites` (the choice, its proved bound, the
//! alternatives and every k's certified plan; files not written) for at most k = 1, 2, 3 new
//! schools among the 60 committed candidate sites (`data/magdeburg/candidates.csv`), 2,159
//! pupils, 33 schools. The blocks' walks to the candidates are routed by OSRM on the case's
//! network, as `matrix.csv` was: run `scripts/sites-magdeburg` once (it keeps them in
//! `out/sites-magdeburg-walks.csv`), or point `CATCHMENT_SITES_WALKS` at such a file.
//!
//! Run: `cargo bench --bench sites`. The heuristic with its Lagrangian bound is always
//! measured; `CATCHMENT_BENCH_EXACT=1` adds the exact MIP (Cbc, 120 s limit per k).

use catchment::sites::{self, Method};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::{Path, PathBuf};

fn walks() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = std::env::var_os("CATCHMENT_SITES_WALKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("out/sites-magdeburg-walks.csv"));
    path.exists().then_some(path)
}

fn benches(c: &mut Criterion) {
    let Some(walks) = walks() else {
        eprintln!(
            "sites bench skipped: no walks to the candidate sites; run scripts/sites-magdeburg \
             (OSRM) first or set CATCHMENT_SITES_WALKS"
        );
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    let input = sites::load(
        &dir.join("schools.csv"),
        &dir.join("pupils.csv"),
        &dir.join("matrix.csv"),
        &dir.join("candidates.csv"),
        &walks,
    )
    .expect("Magdeburg's sites inputs");
    assert!(input.candidates.len() >= 50);
    let mut methods = vec![("heuristic", Method::Heuristic)];
    if std::env::var_os("CATCHMENT_BENCH_EXACT").is_some() {
        methods.push(("exact", Method::Exact));
    }
    let mut g = c.benchmark_group("sites_magdeburg");
    g.sample_size(10);
    for (name, method) in methods {
        for k in 1..=3usize {
            // Once outside the timing: the answer and its proved gap, for the README.
            let s = sites::choose(&input, k, None, method, 120).unwrap();
            let r = &s.rows[k];
            let (walk, bound) = (r.walk_m.unwrap(), r.bound_m.unwrap());
            assert!(bound <= walk);
            eprintln!(
                "{name} k={k}: sites {} walk {walk} m, proved bound {bound} m, gap {:.2}%",
                r.sites.join(" "),
                100.0 * r.gap.unwrap()
            );
            g.bench_function(format!("{name}/k{k}"), |b| {
                b.iter(|| sites::choose(&input, k, None, method, 120).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(sites_benches, benches);
criterion_main!(sites_benches);
