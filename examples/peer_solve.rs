//! Solve one instance directory (`schools.csv`, `pupils.csv`, `matrix.csv`) and print one JSON
//! line with the objective and the times (flow and lp: the certificate's time too); used by `benches/peers/run.py` so every solver runs
//! in its own process on the same files.
//!
//!     cargo run --release --example peer_solve -- DIR flow|lp|stream [K]

use catchment::solve::{solve, Problem, SolverKind};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 3, "usage: peer_solve DIR flow|lp|stream [K]");
    let dir = std::path::Path::new(&args[1]);
    let mode = args[2].as_str();
    let k: usize = args.get(3).map(|k| k.parse()).transpose()?.unwrap_or(8);
    let t0 = Instant::now();
    let inst = catchment::read_instance(&dir.join("schools.csv"), &dir.join("pupils.csv"))?;
    let (objective, read_s, solve_s, extra) = if mode == "stream" {
        let read_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let (sol, _, stats) =
            catchment::solve::stream::solve_streamed(&inst, &dir.join("matrix.csv"), None, k)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        (
            sol.objective,
            read_s,
            t1.elapsed().as_secs_f64(),
            format!(",\"k\":{},\"rounds\":{},\"arcs\":{}", stats.k, stats.rounds, stats.arcs),
        )
    } else {
        let kind = if mode == "lp" { SolverKind::Lp } else { SolverKind::Flow };
        let m = catchment::routing::read_matrix(&dir.join("matrix.csv"), &inst)?;
        let p = Problem::pupil_level(&inst, &m, None)?;
        let read_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let sol = solve(&p, kind).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let solve_s = t1.elapsed().as_secs_f64();
        // The certificate, as `solve_plan` computes it for every plan: independent of the solver.
        let t2 = Instant::now();
        let cert = catchment::solve::certificate::certify(&p, &sol.assign)
            .map_err(|f| anyhow::anyhow!("not certified: {f:?}"))?;
        anyhow::ensure!(cert.objective == sol.objective, "the certificate's objective differs");
        let cert_s = t2.elapsed().as_secs_f64();
        (sol.objective, read_s, solve_s, format!(",\"certify_seconds\":{cert_s:.4}"))
    };
    println!("{{\"objective\":{objective},\"read_seconds\":{read_s:.4},\"solve_seconds\":{solve_s:.4}{extra}}}");
    Ok(())
}
