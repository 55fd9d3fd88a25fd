//! `catchment-dataset`: the generators of the instances the project ships and benchmarks on —
//! a seeded synthetic town, and the Magdeburg case from the city's public data. A binary of its
//! own, so the library an embedder links carries no generator.

mod magdeburg;
mod osm_city;
mod synthetic;

use catchment::error::exit;
use catchment::Error;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "catchment-dataset",
    version,
    about = "Generate the instances catchment ships: a synthetic town, the Magdeburg case."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A seeded synthetic town: clustered population, a river with bridges, street-grid walks.
    #[command(
        after_help = "Examples:\n  catchment-dataset synthetic --pupils 2000 --schools 35 --seed 7 --out data/demo\n  catchment-dataset synthetic --pupils 20000 --schools 200 --family tight --out town-tight"
    )]
    Synthetic {
        /// Pupils to place (the intake cohort).
        #[arg(long, default_value_t = 2000)]
        pupils: usize,
        /// Schools (sited by k-means on the population).
        #[arg(long, default_value_t = 35)]
        schools: usize,
        /// Seed of the generator: the same seed writes the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The kind of town: clustered (the default), even, river (two bridges), tight (seats
        /// 1-5% above pupils), loose (50% above), few-large (a fifth of the schools hold 3/4 of
        /// the seats), many-small (equal seats), blocks (pupils at shared block points),
        /// long-tail (long-tailed detours per pair); or state: a 150 km square of 12 cities
        /// and countryside, seats 5% above pupils, written with the partial matrix only (give
        /// --sparse-matrix K).
        #[arg(long, default_value = "clustered", value_parser = parse_kind)]
        family: Kind,
        /// Output directory (schools.csv, pupils.csv, matrix.csv, README.md).
        #[arg(long)]
        out: PathBuf,
        /// Also write matrix-nearest-K.csv: only each pupil's K nearest schools by straight
        /// line, for `catchment solve --nearest K` (a state: instead of matrix.csv).
        #[arg(long, value_name = "K")]
        sparse_matrix: Option<usize>,
    },
    /// The Magdeburg case from the city's public data: schools, a sampled intake cohort on the
    /// Zensus 100 m grid, the populated cells as blocks, and an OSM street file.
    #[command(
        after_help = "Example:\n  catchment-dataset magdeburg --source ../shared/data/magdeburg --out data/magdeburg\n\n\
Writes schools.csv, pupils.csv, blocks.csv, network.osm (unless --osm is given) and README.md."
    )]
    Magdeburg {
        /// The directory of the source data (see its README.md).
        #[arg(long, default_value = "../shared/data/magdeburg")]
        source: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// A complete OpenStreetMap extract to route on instead of the assembled network.
        #[arg(long)]
        osm: Option<PathBuf>,
        /// Seed of the sampled cohort.
        #[arg(long, default_value_t = magdeburg::DEFAULT_SEED)]
        seed: u64,
        /// Also write the intakes of the coming N years (1-4), aged forward from the
        /// single-age table: pupils-<year>.csv, for `catchment sites --cohort`.
        #[arg(long, default_value_t = 0)]
        years: u32,
    },
    /// A city case from an OpenStreetMap extract alone: its named schools, every exactly
    /// mapped address as a block, and a seeded cohort of made-up pupils at those addresses (by
    /// street and house number).
    #[command(
        after_help = "Example:\n  catchment-dataset osm --osm tests/data/monaco.osm.pbf --pupils 300 --out data/monaco\n\n\
Writes schools.csv, pupils.csv, blocks.csv and README.md (with the extract's attribution)."
    )]
    Osm {
        /// The extract (.osm.pbf or .osm).
        #[arg(long)]
        osm: PathBuf,
        /// Pupils to draw.
        #[arg(long, default_value_t = 300)]
        pupils: usize,
        /// Seats as a multiple of the pupils, shared evenly by the schools.
        #[arg(long, default_value_t = 1.15)]
        slack: f64,
        /// Seed of the drawn cohort.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

/// What `synthetic --family` generates: a town of a family, or a state.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Town(synthetic::Family),
    State,
}

fn parse_kind(name: &str) -> Result<Kind, String> {
    if name == "state" {
        return Ok(Kind::State);
    }
    synthetic::Family::parse(name).map(Kind::Town).ok_or_else(|| {
        let names: Vec<&str> = synthetic::Family::ALL.iter().map(|f| f.name()).collect();
        format!("unknown family '{name}': one of {}, state", names.join(", "))
    })
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

fn run(cmd: Command) -> Result<ExitCode, Error> {
    match cmd {
        Command::Synthetic { pupils, schools, seed, family, out, sparse_matrix } => {
            if pupils == 0 || schools == 0 || sparse_matrix == Some(0) {
                eprintln!("error: --pupils, --schools and --sparse-matrix must be positive");
                return Ok(ExitCode::from(exit::USAGE));
            }
            let family = match family {
                Kind::Town(f) => f,
                Kind::State => {
                    let Some(k) = sparse_matrix else {
                        eprintln!(
                            "error: a state is written with each pupil's nearest schools only \
                             (a matrix of every pair would have {} rows): give --sparse-matrix K",
                            pupils as u64 * schools as u64
                        );
                        return Ok(ExitCode::from(exit::USAGE));
                    };
                    let pb = spinner("generating the synthetic state");
                    let state = synthetic::generate_state(pupils, schools, seed);
                    let path = synthetic::write_state(&out, &state, k);
                    pb.finish_and_clear();
                    let path = path?;
                    println!(
                        "Wrote a synthetic state ({pupils} pupils, {schools} schools, {} seats) to \
                         {}; its walks: {} (each pupil's {k} nearest schools)",
                        state.instance.seats(),
                        out.display(),
                        path.display()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let pb = spinner("generating the synthetic town");
            let town = synthetic::generate_family(pupils, schools, seed, family);
            synthetic::write(&out, &town)?;
            if let Some(k) = sparse_matrix {
                synthetic::write_nearest(&out, &town, k)?;
            }
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
        Command::Osm { osm, pupils, slack, seed, out } => {
            if pupils == 0 || slack.is_nan() || slack < 1.0 {
                eprintln!("error: --pupils must be positive and --slack at least 1");
                return Ok(ExitCode::from(exit::USAGE));
            }
            let city = osm_city::generate(&osm, pupils, seed, slack)?;
            osm_city::write(&out, &city, &osm, seed)?;
            println!(
                "Wrote a case from {} to {}: {} schools of {} seats, {} addresses, {} pupils",
                osm.display(),
                out.display(),
                city.schools.len(),
                city.capacity,
                city.blocks.len(),
                city.pupils.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Magdeburg { source, out, osm, seed, years } => {
            if let Some(f) = &osm {
                if !f.is_file() {
                    return Err(Error::not_found(format!("--osm {}: no such file", f.display())));
                }
            }
            let pb = spinner("building the Magdeburg case");
            let ds = magdeburg::generate(&magdeburg::Options { source, osm, seed, years });
            pb.finish_and_clear();
            let ds = ds?;
            magdeburg::write(&out, &ds)?;
            let approx = ds.schools.iter().filter(|s| s.approximate).count();
            println!(
                "Wrote the Magdeburg case to {}: {} schools ({} placed approximately), {} seats; {} pupils in {} blocks",
                out.display(),
                ds.schools.len(),
                approx,
                magdeburg::seats(&ds),
                ds.pupils.len(),
                ds.blocks.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
