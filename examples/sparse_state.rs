//! A state-wide instance solved exactly without its dense matrix: several cities and the
//! countryside between them (`catchment-dataset synthetic --family state`'s generator), pupils x
//! schools far beyond the input limit of a dense matrix (200,000 x 3,000 = 600 million pairs by
//! default). Walks are computed on demand (the generator's street-grid walks with a detour per
//! pair, never below the straight line), so only the pairs the sparse solve asks for are ever
//! computed; the straight line is the bound that rules out the rest. Schools are indexed by
//! 5 km grid cells, so pricing looks only at the schools near enough to matter. Prints the
//! stages' times, the pairs asked for and the process's peak memory, and checks the plan's
//! proof with `sparse::verify` (over every pair, no index). `catchment solve --nearest` runs
//! the same state from its files (docs/src/benchmarks.md).
//!
//!     cargo run --release --example sparse_state -- [PUPILS] [SCHOOLS] [K]
//!
//! `RUST_LOG=catchment=debug` also logs each flow's paths and each pricing round.

#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use catchment::solve::sparse::{self, PairSource};
use catchment::solve::SolveError;
use rayon::prelude::*;
use std::time::Instant;

struct State {
    state: synthetic::State,
    /// Schools by grid cell of [`CELL`] meters (a spatial index for [`PairSource::near`]).
    cells: Vec<Vec<u32>>,
    side_cells: usize,
}

const CELL: f64 = 5000.0;
const SIDE: f64 = 150_000.0;

impl PairSource for State {
    fn n_units(&self) -> usize {
        self.state.pupil_xy.len()
    }
    fn n_schools(&self) -> usize {
        self.state.school_xy.len()
    }
    fn lower(&self, u: usize, s: usize) -> u32 {
        // The street grid never walks less than the straight line in the generator's plane.
        let (a, b) = (self.state.pupil_xy[u], self.state.school_xy[s]);
        ((a.0 - b.0).hypot(a.1 - b.1) - 1.0).max(0.0) as u32
    }
    fn costs(&self, pairs: &[(u32, u32)]) -> Result<Vec<u32>, SolveError> {
        Ok(pairs.par_iter().map(|&(u, s)| self.state.walk(u as usize, s as usize)).collect())
    }
    fn near(&self, u: usize, radius: i64, out: &mut Vec<u32>) {
        // The cells of the square around the pupil: every school within `radius` (a superset).
        let (x, y) = self.state.pupil_xy[u];
        let r = radius as f64 + 1.0;
        let cell = |v: f64| ((v / CELL).floor().max(0.0) as usize).min(self.side_cells - 1);
        for cy in cell(y - r)..=cell(y + r) {
            for cx in cell(x - r)..=cell(x + r) {
                out.extend_from_slice(&self.cells[cy * self.side_cells + cx]);
            }
        }
    }
}

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(200_000);
    let m = args.get(1).copied().unwrap_or(3_000);
    let k = args.get(2).copied().unwrap_or(8);
    let t0 = Instant::now();
    let state = synthetic::generate_state(n, m, 1);
    let cap: Vec<u32> = state.instance.schools.iter().map(|s| s.capacity).collect();
    let side_cells = (SIDE / CELL).ceil() as usize;
    let mut cells = vec![Vec::new(); side_cells * side_cells];
    for (s, &(x, y)) in state.school_xy.iter().enumerate() {
        let c = |v: f64| ((v / CELL).floor().max(0.0) as usize).min(side_cells - 1);
        cells[c(y) * side_cells + c(x)].push(s as u32);
    }
    let state = State { state, cells, side_cells };
    let t_gen = t0.elapsed().as_secs_f64();
    let (min, fixed) = (vec![0u32; m], vec![None; n]);
    let t1 = Instant::now();
    let sol = sparse::solve(&state, &cap, &min, &fixed, k).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let t_solve = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let findings =
        sparse::verify(&state, &cap, &min, &fixed, &sol.known, &sol.solution.assign, &sol.prices);
    anyhow::ensure!(findings.is_empty(), "the proof does not hold: {:?}", &findings[..1]);
    let t_verify = t2.elapsed().as_secs_f64();
    println!(
        "{{\"pupils\":{n},\"schools\":{m},\"k\":{},\"objective\":{},\"pricing_rounds\":{},\
         \"pairs_asked\":{},\"pairs\":{},\"arcs\":{},\"generate_seconds\":{t_gen:.2},\
         \"solve_seconds\":{t_solve:.2},\"verify_seconds\":{t_verify:.2},\"peak_mib\":{:.0}}}",
        sol.stats.pricing.k,
        sol.solution.objective,
        sol.stats.pricing.rounds,
        sol.stats.asked,
        n * m,
        sol.stats.pricing.arcs,
        peak_mib()
    );
    Ok(())
}
