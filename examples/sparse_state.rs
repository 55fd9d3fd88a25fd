//! A state-wide instance solved exactly without its dense matrix: several cities and the
//! countryside between them, pupils x schools far beyond the input limit of a dense matrix
//! (200,000 x 3,000 = 600 million pairs by default). Walks are computed on demand (street-grid
//! walks with a detour per pair, never below the straight line), so only the pairs the sparse
//! solve asks for are ever computed; the straight line is the bound that rules out the rest.
//! Schools are indexed by 5 km grid cells, so pricing looks only at the schools near enough to
//! matter. Prints the stages' times, the pairs asked for and the process's peak memory, and
//! checks the plan's proof with `sparse::verify` (over every pair, no index).
//!
//!     cargo run --release --example sparse_state -- [PUPILS] [SCHOOLS] [K]
//!
//! `RUST_LOG=catchment=debug` also logs each flow's paths and each pricing round.

use catchment::solve::sparse::{self, PairSource};
use catchment::solve::SolveError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use std::time::Instant;

struct State {
    pupils: Vec<(f64, f64)>,
    schools: Vec<(f64, f64)>,
    seed: u64,
    /// Schools by grid cell of [`CELL`] meters (a spatial index for [`PairSource::near`]).
    cells: Vec<Vec<u32>>,
    side_cells: usize,
}

const CELL: f64 = 5000.0;

impl State {
    /// A street-grid walk with a detour of up to 30% per pair (from a hash of the pair).
    fn walk(&self, u: usize, s: usize) -> u32 {
        let (a, b) = (self.pupils[u], self.schools[s]);
        let l1 = (a.0 - b.0).abs() + (a.1 - b.1).abs();
        let mut z = self.seed ^ (u as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (s as u64) << 40;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let detour = 1.0 + 0.3 * ((z >> 11) as f64 / (1u64 << 53) as f64);
        (l1 * detour).round() as u32
    }
}

impl PairSource for State {
    fn n_units(&self) -> usize {
        self.pupils.len()
    }
    fn n_schools(&self) -> usize {
        self.schools.len()
    }
    fn lower(&self, u: usize, s: usize) -> u32 {
        let (a, b) = (self.pupils[u], self.schools[s]);
        ((a.0 - b.0).hypot(a.1 - b.1) - 1.0).max(0.0) as u32
    }
    fn costs(&self, pairs: &[(u32, u32)]) -> Result<Vec<u32>, SolveError> {
        Ok(pairs.par_iter().map(|&(u, s)| self.walk(u as usize, s as usize)).collect())
    }
    fn near(&self, u: usize, radius: i64, out: &mut Vec<u32>) {
        // The cells of the square around the pupil: every school within `radius` (a superset).
        let (x, y) = self.pupils[u];
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
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // A state 150 km square: 12 cities (Gaussian, 2-8 km spread) with 80% of the pupils, the
    // rest spread over the countryside.
    let side = 150_000.0;
    let cities: Vec<((f64, f64), f64, f64)> = (0..12)
        .map(|_| {
            let c = (rng.random_range(0.1..0.9) * side, rng.random_range(0.1..0.9) * side);
            (c, rng.random_range(2000.0..8000.0), rng.random_range(0.2..1.0f64).powi(2))
        })
        .collect();
    let total_w: f64 = cities.iter().map(|c| c.2).sum();
    let std = Normal::new(0.0, 1.0)?;
    let mut pupils = Vec::with_capacity(n);
    while pupils.len() < n {
        if rng.random_range(0.0..1.0) < 0.2 {
            pupils.push((rng.random_range(0.0..side), rng.random_range(0.0..side)));
            continue;
        }
        let mut r = rng.random_range(0.0..total_w);
        let mut c = 0;
        while r > cities[c].2 && c + 1 < cities.len() {
            r -= cities[c].2;
            c += 1;
        }
        let ((x, y), sigma, _) = cities[c];
        let p = (x + sigma * std.sample(&mut rng), y + sigma * std.sample(&mut rng));
        if (0.0..=side).contains(&p.0) && (0.0..=side).contains(&p.1) {
            pupils.push(p);
        }
    }
    // Schools where pupils live; seats from the pupils nearest each, x 0.8-1.3, 5% above in all.
    let schools: Vec<(f64, f64)> = (0..m).map(|_| pupils[rng.random_range(0..n)]).collect();
    let nearest: Vec<usize> = pupils
        .par_iter()
        .map(|&p| {
            (0..m)
                .min_by(|&a, &b| {
                    let d = |s: usize| (p.0 - schools[s].0).hypot(p.1 - schools[s].1);
                    d(a).total_cmp(&d(b))
                })
                .unwrap_or(0)
        })
        .collect();
    let mut count = vec![0u32; m];
    for &s in &nearest {
        count[s] += 1;
    }
    let mut cap: Vec<u32> =
        count.iter().map(|&c| ((c as f64 * rng.random_range(0.8..1.3)) as u32).max(1)).collect();
    let target = (n as f64 * 1.05).ceil() as u32;
    let mut s = 0;
    while cap.iter().sum::<u32>() < target {
        cap[s % m] += 1;
        s += 1;
    }
    let side_cells = (side / CELL).ceil() as usize;
    let mut cells = vec![Vec::new(); side_cells * side_cells];
    for (s, &(x, y)) in schools.iter().enumerate() {
        let c = |v: f64| ((v / CELL).floor().max(0.0) as usize).min(side_cells - 1);
        cells[c(y) * side_cells + c(x)].push(s as u32);
    }
    let state = State { pupils, schools, seed: 1, cells, side_cells };
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
