//! Time reading matrix files, the way every command reads them (`routing::read_matrix`; files
//! named `block-matrix*` through `districts::read_block_matrix`):
//!
//! ```text
//! cargo run --release --example read_matrix -- DIR [MATRIX...]
//! ```
//!
//! reads `DIR/schools.csv` and `DIR/pupils.csv`, then each matrix file (default
//! `DIR/matrix.csv`) three times and prints the fastest read. A measurement, not a test.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: read_matrix DIR [MATRIX...]")?);
    let mut files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if files.is_empty() {
        files.push(dir.join("matrix.csv"));
    }
    let t = Instant::now();
    let inst = catchment::read_instance(&dir.join("schools.csv"), &dir.join("pupils.csv"))?;
    println!(
        "instance: {} pupils x {} schools read in {:.3} s",
        inst.pupils.len(),
        inst.schools.len(),
        t.elapsed().as_secs_f64()
    );
    for f in &files {
        let bytes = std::fs::metadata(f)?.len();
        let block = f.file_name().is_some_and(|n| n.to_string_lossy().starts_with("block-matrix"));
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            if block {
                let bm = catchment::districts::read_block_matrix(f, &inst.schools)?;
                std::hint::black_box(bm.meters.len());
            } else {
                let m = catchment::routing::read_matrix(f, &inst)?;
                std::hint::black_box(m.meters.len());
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{}: {:.1} MB read in {:.3} s (best of 3)", f.display(), bytes as f64 / 1e6, best);
    }
    Ok(())
}
