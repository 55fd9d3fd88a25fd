//! The `catchment` command line: a thin shell over the library.

use catchment::check::check_plan;
use catchment::dataset::synthetic;
use catchment::report::Summary;
use catchment::{read_instance, routing, Error, Policy, SolverKind};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  catchment demo
  catchment solve --schools schools.csv --pupils pupils.csv --matrix matrix.csv --out plan/
  catchment check --schools schools.csv --pupils pupils.csv --matrix matrix.csv --plan plan/
  catchment dataset synthetic --pupils 2000 --schools 35 --seed 7 --out town/

Exit codes: 0 success; 1 error; 2 usage; 3 invalid input; 4 infeasible instance; 5 check failed.";

#[derive(Parser)]
#[command(name = "catchment", version, about = "Optimal school catchment areas: least total walking distance, no school over capacity, with a certificate of optimality.", after_help = EXAMPLES)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug). Logs never contain pupil data.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assign pupils to schools with the least total walking distance and write the plan.
    #[command(after_help = "Example:\n  catchment solve --schools schools.csv --pupils pupils.csv --matrix matrix.csv --out plan/\n\n\
Writes plan/summary.json, assignments.csv (internal: contains pupil ids), schools.csv, certificate.json.\n\
The directory is replaced only when the new plan is complete; on any error nothing is written.")]
    Solve {
        #[command(flatten)]
        input: InputArgs,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Verify a plan from its files: feasibility, the objective, and optimality.
    #[command(after_help = "Example:\n  catchment check --schools schools.csv --pupils pupils.csv --matrix matrix.csv --plan plan/")]
    Check {
        #[command(flatten)]
        input: InputArgs,
        /// The plan directory written by `catchment solve`.
        #[arg(long)]
        plan: PathBuf,
        /// The maximum walk the plan was solved with (default: read from the plan's summary.json).
        #[arg(long)]
        max_walk: Option<u32>,
    },
    /// Serve plans over HTTP: jobs stored in SQLite, behind bearer tokens (see /openapi.json).
    #[command(after_help = "Example:\n  CATCHMENT_TOKENS=write:change-me-to-a-long-secret catchment serve --listen 127.0.0.1:8080 --db catchment.db\n\n\
Stops on SIGTERM/SIGINT: running solves get --shutdown-grace seconds to finish; unfinished jobs resume at the next start.")]
    Serve(catchment::server::Config),
    /// Generate instances.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Run the whole pipeline on the instance the repository ships and print a summary.
    Demo {
        /// The instance directory (schools.csv, pupils.csv, matrix.csv).
        #[arg(long, default_value = "data/demo")]
        data: PathBuf,
        /// Where the plan is written.
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// A seeded synthetic town: clustered population, a river with bridges, street-grid walks.
    #[command(after_help = "Example:\n  catchment dataset synthetic --pupils 2000 --schools 35 --seed 7 --out data/demo")]
    Synthetic {
        #[arg(long, default_value_t = 2000)]
        pupils: usize,
        #[arg(long, default_value_t = 35)]
        schools: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct InputArgs {
    /// Schools: CSV (id,name,lat,lon,capacity | max_classes[,class_size][,min_pupils]) or GeoJSON points.
    #[arg(long)]
    schools: PathBuf,
    /// Pupils: CSV (id, lat,lon | street,house_number [,block][,fixed_school]) or GeoJSON points.
    #[arg(long)]
    pupils: PathBuf,
    /// Walking distances: long CSV pupil_id,school_id,meters[,seconds] (or block_id,...).
    #[arg(long)]
    matrix: PathBuf,
}

#[derive(Args)]
struct PolicyArgs {
    /// The solver for the pupil-level problem.
    #[arg(long, value_enum, default_value_t = SolverKind::Lp)]
    solver: SolverKind,
    /// Leave out every pupil-school pair longer than this many meters (fixed schools excepted).
    #[arg(long)]
    max_walk: Option<u32>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            let code = match e.downcast_ref::<Error>() {
                Some(Error::Input(_)) => 3,
                Some(Error::Infeasible(_)) => 4,
                _ => 1,
            };
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

fn load(input: &InputArgs) -> anyhow::Result<(catchment::Instance, catchment::Matrix)> {
    let pb = spinner("reading schools and pupils");
    let inst = read_instance(&input.schools, &input.pupils)?;
    pb.set_message("reading the matrix");
    let m = routing::read_matrix(&input.matrix, &inst)?;
    pb.finish_and_clear();
    tracing::info!(pupils = inst.pupils.len(), schools = inst.schools.len(), "instance read");
    Ok((inst, m))
}

fn solve_to(input: &InputArgs, policy: Policy, out: &Path) -> anyhow::Result<Summary> {
    let (inst, m) = load(input)?;
    let pb = spinner(&format!("solving {} pupils x {} schools", inst.pupils.len(), inst.schools.len()));
    let plan = catchment::solve_plan(&inst, &m, &policy);
    pb.finish_and_clear();
    let plan = plan?;
    let summary = catchment::output::write_plan(out, &inst, &m, &plan)?;
    Ok(summary)
}

fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Solve { input, out, policy } => {
            let summary = solve_to(&input, Policy { solver: policy.solver, max_walk: policy.max_walk }, &out)?;
            print_summary(&summary, &out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(config) => {
            catchment::server::serve(config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { input, plan, max_walk } => {
            let (inst, m) = load(&input)?;
            let r = check_plan(&inst, &m, &plan, max_walk)?;
            let mark = |b: bool| if b { "ok" } else { "FAILED" };
            println!("feasible:   {}", mark(r.feasible));
            println!("objective:  {}{}", mark(r.objective_ok), r.objective_m.map(|o| format!(" ({o} m)")).unwrap_or_default());
            println!("optimal:    {}", mark(r.optimal));
            println!("prices:     {}", mark(r.prices_ok));
            for f in &r.failures {
                println!("  - {f}");
            }
            if r.ok() {
                println!("The plan is feasible and optimal.");
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(5))
            }
        }
        Command::Dataset(DatasetCommand::Synthetic { pupils, schools, seed, out }) => {
            anyhow::ensure!(pupils > 0 && schools > 0, "--pupils and --schools must be positive");
            let pb = spinner("generating the synthetic town");
            let town = synthetic::generate(pupils, schools, seed);
            synthetic::write(&out, &town)?;
            pb.finish_and_clear();
            println!(
                "Wrote a synthetic town ({} pupils, {} schools, {} seats) to {}",
                pupils,
                schools,
                town.instance.seats(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { data, out } => {
            let data = find_data(&data)?;
            let input = InputArgs {
                schools: data.join("schools.csv"),
                pupils: data.join("pupils.csv"),
                matrix: data.join("matrix.csv"),
            };
            println!("catchment demo: {}", data.display());
            let summary = solve_to(&input, Policy::default(), &out)?;
            print_summary(&summary, &out);
            let (inst, m) = load(&input)?;
            let r = check_plan(&inst, &m, &out, None)?;
            println!(
                "Independent check (catchment check): {}",
                if r.ok() { "feasible and optimal" } else { "FAILED" }
            );
            Ok(if r.ok() { ExitCode::SUCCESS } else { ExitCode::from(5) })
        }
    }
}

/// Look for a data directory relative to the working directory, then to the source tree.
fn find_data(data: &Path) -> anyhow::Result<PathBuf> {
    if data.is_dir() {
        return Ok(data.to_path_buf());
    }
    let alt = Path::new(env!("CARGO_MANIFEST_DIR")).join(data);
    if alt.is_dir() {
        return Ok(alt);
    }
    anyhow::bail!("data directory {} not found (run from the repository root or pass --data)", data.display())
}

fn print_summary(s: &Summary, out: &Path) {
    let km = |m: u64| m as f64 / 1000.0;
    println!("Distances: {}", s.distance_source);
    println!(
        "{} pupils, {} schools, {} seats; solver {} in {:.2} s",
        s.pupils, s.schools, s.seats, s.solver.name, s.timing.solve_seconds
    );
    println!(
        "Total walk {:.1} km; mean {:.0} m, median {} m, 95th percentile {} m, max {} m; {} pupils over 2 km",
        km(s.walk.total_m),
        s.walk.mean_m,
        s.walk.median_m,
        s.walk.p95_m,
        s.walk.max_m,
        s.walk.over_2km
    );
    println!(
        "{} pupils not at their nearest school ({:.0} m extra on average); full schools: {}",
        s.not_at_nearest.pupils,
        s.not_at_nearest.extra_m_mean,
        s.per_school.iter().filter(|l| l.load >= l.capacity as u64).count()
    );
    println!("Plan written to {}/ (summary.json, assignments.csv, schools.csv, certificate.json)", out.display());
}

