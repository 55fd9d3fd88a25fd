//! Reading a 20,000 x 200 matrix (4 million pairs, meters and seconds) from a long CSV file and
//! from the binary format, the way every command reads it (`routing::read_matrix`). Run:
//! `cargo bench --bench matrix_read`. The files are written once into a temporary directory.

#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;
use catchment::routing::{matrix::write_matrix_binary, read_matrix, write_matrix};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn benches(c: &mut Criterion) {
    let town = synthetic::generate(20_000, 200, 1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (csv, bin) = (dir.path().join("matrix.csv"), dir.path().join("matrix.cmx"));
    write_matrix(&csv, &town.instance, &town.matrix).expect("write CSV");
    write_matrix_binary(&bin, &town.instance, &town.matrix).expect("write binary");
    let inst = &town.instance;
    assert_eq!(read_matrix(&bin, inst).unwrap().meters, read_matrix(&csv, inst).unwrap().meters);

    let mut g = c.benchmark_group("matrix_read");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    g.bench_function("csv_20000x200", |b| b.iter(|| read_matrix(&csv, inst).unwrap()));
    g.bench_function("binary_20000x200", |b| b.iter(|| read_matrix(&bin, inst).unwrap()));
    g.finish();
}

criterion_group!(matrix_read, benches);
criterion_main!(matrix_read);
