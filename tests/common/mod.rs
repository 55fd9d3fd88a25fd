#![allow(dead_code)]
//! Helpers shared by the integration tests.

pub mod cdp;
pub mod http;
#[allow(unused_imports)]
mod osrm;
pub mod server;
#[allow(unused_imports)]
pub use osrm::*;

use catchment::routing::UNREACHABLE;
use catchment::solve::Problem;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_catchment"))
}

/// The generators' binary.
pub fn dataset_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_catchment-dataset"))
}

pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Every feasible assignment enumerated; the least objective, or None when infeasible.
pub fn brute_force(p: &Problem) -> Option<u64> {
    let n = p.n_units();
    let s = p.n_schools;
    let mut assign = vec![0u32; n];
    let mut best: Option<u64> = None;
    loop {
        let ok = (0..n).all(|u| {
            p.cost(u, assign[u] as usize).is_some() && p.fixed[u].is_none_or(|f| f == assign[u])
        }) && {
            let load = p.loads(&assign);
            (0..s).all(|k| load[k] >= p.min[k] as u64 && load[k] <= p.cap[k] as u64)
        };
        if ok {
            let obj = p.objective(&assign).unwrap();
            best = Some(best.map_or(obj, |b| b.min(obj)));
        }
        // next assignment (odometer)
        let mut i = 0;
        loop {
            if i == n {
                return best;
            }
            assign[i] += 1;
            if (assign[i] as usize) < s {
                break;
            }
            assign[i] = 0;
            i += 1;
        }
    }
}

/// A small random problem from a seed-like parameter set.
pub fn problem(
    cap: Vec<u32>,
    min: Vec<u32>,
    cost: Vec<Vec<Option<u32>>>,
    fixed: Vec<Option<u32>>,
) -> Problem {
    Problem {
        n_schools: cap.len(),
        cap,
        min,
        weight: vec![1; cost.len()],
        cost: cost
            .into_iter()
            .flat_map(|r| r.into_iter().map(|c| c.unwrap_or(UNREACHABLE)))
            .collect(),
        fixed,
    }
}

pub const SCHOOLS: &str = "id,name,lat,lon,capacity\nA,School A,52.10,11.60,2\nB,School B,52.11,11.61,2\nC,School C,52.12,11.62,2\n";
pub const PUPILS: &str = "id,lat,lon\n1,52.100,11.600\n2,52.101,11.601\n3,52.102,11.602\n4,52.103,11.603\n5,52.104,11.604\n";

/// A matrix for SCHOOLS x PUPILS where school A is nearest for everyone.
pub fn matrix() -> String {
    let mut s = String::from("pupil_id,school_id,meters\n");
    for p in 1..=5 {
        for (k, sc) in ["A", "B", "C"].iter().enumerate() {
            s.push_str(&format!(
                "{p},{sc},{}\n",
                100 * p + 300 * k as u32 + 10 * (p % 2) * k as u32
            ));
        }
    }
    s
}

/// Write the small instance into `dir` and return (schools, pupils, matrix) paths.
pub fn small_instance(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        write(dir, "schools.csv", SCHOOLS),
        write(dir, "pupils.csv", PUPILS),
        write(dir, "matrix.csv", &matrix()),
    )
}
