//! The `catchment` command line: a thin shell over the library.

use catchment::app::{self, Source};
use catchment::check::check_plan;
use catchment::error::{exit, Setting};
use catchment::report::simulate;
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
  catchment solve --schools schools.csv --pupils pupils.csv --osrm http://127.0.0.1:5000 --osm city.osm.pbf --out plan/
  catchment sites --schools schools.csv --pupils pupils.csv --matrix matrix.csv --candidates candidates.csv --candidate-matrix candidates-matrix.csv --open 3 --out sites/
  catchment-dataset synthetic --pupils 2000 --schools 35 --seed 7 --out town/

Exit codes: 0 success; 1 error; 2 usage; 3 invalid input or policy; 4 infeasible instance;
5 check failed; 6 the MIP's time limit ran out; 7 batch: some scenarios failed (the comparison
says why; the others' plans are written).";

#[derive(Parser)]
#[command(name = "catchment", version, about = "Optimal school catchment areas: least total walking distance, no school over capacity, with a certificate of optimality.", after_help = EXAMPLES)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug). Logs never contain pupil data.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// The coordinate reference system of x,y (easting, northing) columns in the input files,
    /// as an EPSG code: EPSG:25832 / EPSG:25833 for German address registers (ALKIS house
    /// coordinates), EPSG:3067 / EPSG:3879 for Finnish ones. lat,lon columns are WGS84 always.
    #[arg(long, global = true, value_parser = parse_crs, value_name = "EPSG")]
    crs: Option<catchment::projection::Crs>,
    /// The log's format on stderr: `text` for people, `json` (one object a line) for a log
    /// collector.
    #[arg(long, global = true, env = "CATCHMENT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assign pupils to schools with the least total walking distance and write the plan.
    #[command(
        after_help = "Example:\n  catchment solve --schools schools.csv --pupils pupils.csv --matrix matrix.csv --out plan/\n\n\
Writes plan/summary.json, assignments.csv (internal: contains pupil ids), schools.csv, certificate.json.\n\
The directory is replaced only when the new plan is complete; on any error nothing is written."
    )]
    Solve {
        #[command(flatten)]
        input: InputArgs,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Replace --out even when it is not a catchment output directory (it is replaced whole).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        policy: PolicyArgs,
        #[command(flatten)]
        publish: PublishArgs,
        #[command(flatten)]
        stability: StabilityArgs,
        /// Blocks fixed to a school (CSV block_id,school_id): their pupils go there and the
        /// rest is optimised around them; the plan keeps them as pins.csv.
        #[arg(long)]
        pin: Option<PathBuf>,
    },
    /// Sweep the change cost against last year's districts: walk, changes and the price of
    /// stability per cost, as curve.csv and a chart curve.svg.
    #[command(
        name = "stability-curve",
        after_help = "Example:\n  catchment stability-curve --schools schools.csv --pupils pupils.csv --matrix matrix.csv --previous districts.csv --out curve/"
    )]
    StabilityCurve {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Last year's districts: CSV block_id,school_id.
        #[arg(long)]
        previous: PathBuf,
        /// Change costs to sweep, meters per pupil (default: 0,25,50,100,200,300,500,750,1000,1500,2000,3000,5000,10000).
        #[arg(long, value_delimiter = ',')]
        penalties: Vec<u32>,
        /// Output directory (curve.csv, curve.svg).
        #[arg(long)]
        out: PathBuf,
        /// Replace --out even when it is not a catchment output directory (it is replaced whole).
        #[arg(long)]
        force: bool,
    },
    /// Run the scenarios of a TOML file side by side: comparison.csv, comparison.md and each
    /// scenario's plan directory.
    #[command(
        after_help = "Example:\n  catchment batch data/magdeburg/scenarios.toml --out out/scenarios\n\n\
Writes OUT/comparison.csv, OUT/comparison.md, OUT/base/ and OUT/<scenario>/ (plan directories, each with the\n\
matrix.csv it was solved on: catchment check --pupils PUPILS --plan OUT/<scenario>). A mistake in the file or its\n\
inputs writes nothing; a scenario that cannot be solved is a row saying why (exit code 7), the others are written."
    )]
    Batch {
        /// The scenario file (TOML: [base] and [[scenario]] tables).
        file: PathBuf,
        /// Output directory: comparison.csv, comparison.md and one plan directory per scenario.
        #[arg(long)]
        out: PathBuf,
        /// Replace --out even when it is not a catchment output directory (it is replaced whole).
        #[arg(long)]
        force: bool,
        /// Scenarios solved at once.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
    /// Where to build: choose at most K candidate sites (within a budget) that shorten the
    /// total walk most, with a proved bound, the walk for k = 0..K and the runner-up sites.
    #[command(
        after_help = "Example:\n  catchment sites --schools schools.csv --pupils pupils.csv --matrix matrix.csv \\\n    \
--candidates candidates.csv --candidate-matrix candidates-matrix.csv --open 3 --out out/sites\n\n\
Candidates are read like schools (id,name,lat,lon,capacity | max_classes[,cost]); their matrix is a long CSV\n\
pupil_id,school_id,meters (or block_id,...) for the same pupils. Writes OUT/sites.csv, OUT/sites.md, OUT/sites.geojson,\n\
OUT/sites.html (the map) and OUT/plans/k<N>/ (each k's plan with the walks it was solved on: catchment check --pupils PUPILS --plan OUT/plans/k<N>).\n\n\
No school yet (a new town, or the p-median): give --schools a file with the header only and leave out --matrix;\n\
the sites chosen then seat every pupil, and k = 0 (no site) seats nobody: it has no walk and no plan."
    )]
    Sites(SitesArgs),
    /// Robustness of a plan: Monte Carlo draws of moves, newcomers and cohort size over its
    /// fixed districts; per school the overflow risk and the seats to hold back.
    #[command(
        after_help = "Examples:\n  catchment simulate --plan out/plan --draws 10000 --seed 1 --out out/simulation\n  \
catchment simulate --plan out/plan --buffer auto --schools schools.csv --pupils pupils.csv --matrix matrix.csv --blocks blocks.csv --out-plan out/robust\n\n\
Reads the plan's schools.csv, assignments.csv and districts.csv (solve with --blocks). Writes OUT/simulation.csv and\n\
OUT/simulation.json; with --buffer auto also OUT/robustness.json and OUT/robust-simulation.csv, and the robust plan to --out-plan."
    )]
    Simulate(SimulateArgs),
    /// What an edit of a plan's districts costs: blocks moved to other schools, evaluated on the
    /// plan's own walks (its edit.json) against the certified optimum.
    #[command(
        after_help = "Example:\n  catchment evaluate --plan out/demo --districts moves.csv\n\n\
Every block the districts file (block_id,school_id) lists is placed whole at its school; the other blocks stay as planned. \
Prints the total walk, the gap to the certified optimum, each school's pupils, seats, classes and mean walk, warnings \
(schools over their seats, districts in more pieces) and each move's cost."
    )]
    Evaluate {
        /// The plan directory written by `catchment solve`.
        #[arg(long)]
        plan: PathBuf,
        /// The blocks to move: CSV block_id,school_id.
        #[arg(long)]
        districts: PathBuf,
        /// Print the evaluation as JSON (the same as POST /v1/plans/{id}/evaluate answers).
        #[arg(long)]
        json: bool,
    },
    /// Why an address or block belongs to its school: from a plan's published districts.
    #[command(
        after_help = "Examples:\n  catchment explain --plan out/demo --address \"Hegelstraße\"\n  catchment explain --plan out/demo --block CRS3035RES100mN3226500E4433000 --json\n\n\
Reads the plan's districts.csv (and streets.csv for street names); the plan must have been solved with --blocks."
    )]
    Explain {
        /// The plan directory.
        #[arg(long)]
        plan: PathBuf,
        /// An address: "Street 12", or a street name alone.
        #[arg(long, required_unless_present = "block", conflicts_with = "block")]
        address: Option<String>,
        /// A block id.
        #[arg(long)]
        block: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Verify a plan from its files: feasibility, the objective, and optimality.
    #[command(
        after_help = "Examples:\n  catchment check --schools schools.csv --pupils pupils.csv --matrix matrix.csv --plan plan/\n  \
catchment check --pupils pupils.csv --plan plan/\n\n\
Without --schools the plan's schools.csv is read back as the schools; without --matrix and --osrm the plan's\n\
matrix.csv (kept when solve routed the walks itself, and by every scenario of batch) gives the walks, and the\n\
pupils its .meta.json names as left out by geocoding are left out again."
    )]
    Check {
        /// Schools: CSV or GeoJSON (default: the plan's schools.csv).
        #[arg(long)]
        schools: Option<PathBuf>,
        /// Pupils: CSV (id, lat,lon | street,house_number [,block][,fixed_school]) or GeoJSON points.
        #[arg(long)]
        pupils: PathBuf,
        /// Walking distances: long CSV (default: the plan's matrix.csv, when it keeps one).
        #[arg(long, conflicts_with = "osrm")]
        matrix: Option<PathBuf>,
        #[command(flatten)]
        routing: RoutingArgs,
        /// The plan directory written by `catchment solve`.
        #[arg(long)]
        plan: PathBuf,
        /// The maximum walk the plan was solved with (default: read from the plan's summary.json).
        #[arg(long)]
        max_walk: Option<u32>,
    },
    /// Compute the walking-distance matrix with OSRM and write it (long CSV or binary); or
    /// convert a matrix file between the two formats.
    #[command(
        after_help = "Examples:\n  catchment matrix --osrm http://127.0.0.1:5000 --osm city.osm.pbf --schools schools.csv --pupils pupils.csv --out matrix.csv\n  catchment matrix --osrm http://127.0.0.1:5000 --schools schools.csv --pupils pupils.csv --format binary --out matrix.cmx\n  catchment matrix convert matrix.csv matrix.cmx\n\n\
Every command that reads a matrix (--matrix, --block-matrix) reads either format: a binary matrix is told by its first bytes, not by its name.",
        subcommand_negates_reqs = true,
        args_conflicts_with_subcommands = true
    )]
    Matrix {
        #[command(subcommand)]
        action: Option<MatrixAction>,
        /// Schools file.
        #[arg(long, required = true)]
        schools: Option<PathBuf>,
        /// Pupils file.
        #[arg(long, required = true)]
        pupils: Option<PathBuf>,
        /// The matrix file to write (long CSV with a .meta.json sidecar, or binary).
        #[arg(long, required = true)]
        out: Option<PathBuf>,
        /// The format of --out: `csv` (long CSV) or `binary` (ids, checksums, little-endian u32
        /// meters; read many times faster).
        #[arg(long, value_enum, default_value_t = MatrixFormat::Csv)]
        format: MatrixFormat,
        #[command(flatten)]
        routing: RoutingArgs,
    },
    /// Serve plans over HTTP: jobs stored in SQLite or PostgreSQL, behind bearer tokens (see
    /// /openapi.json).
    #[command(
        after_help = "Example:\n  CATCHMENT_TOKENS=write:change-me-to-a-long-secret catchment serve --listen 127.0.0.1:8080 --db catchment.db\n\n\
Several machines on one PostgreSQL database:\n  catchment serve --db postgres://catchment@db/catchment --role api\n  catchment serve --db postgres://catchment@db/catchment --role worker\n\n\
Stops on SIGTERM/SIGINT: running solves get --shutdown-grace seconds to finish; unfinished jobs go back to the queue."
    )]
    Serve(catchment::server::Config),
    /// The service's database: apply its migrations.
    #[command(subcommand)]
    Db(DbCommand),
    /// Compare hand-drawn districts, optimised whole-block districts and the pupil-level
    /// optimum on a case shipped in data/ (e.g. `magdeburg`), as the city did.
    #[command(
        after_help = "Example:\n  catchment reproduce magdeburg\n  catchment reproduce magdeburg --baseline districts.csv\n\n\
Writes OUT/report.md, OUT/report.json and every plan under OUT/plans/."
    )]
    Reproduce {
        /// The case: a directory under data/ with schools.csv, pupils.csv, matrix.csv.
        case: String,
        /// The case directory (default: data/CASE).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Also evaluate these districts (CSV block_id,school_id).
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Output directory (default: out/reproduce-CASE).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace --out even when it is not a catchment output directory (it is replaced whole).
        #[arg(long)]
        force: bool,
    },
    /// Run the whole pipeline on the instance the repository ships and print a summary.
    Demo {
        /// The instance directory (schools.csv, pupils.csv, matrix.csv).
        #[arg(long, default_value = "data/magdeburg")]
        data: PathBuf,
        /// `pupil`: the certified pupil-level optimum; `block`: districts of whole blocks, as a
        /// council publishes them (a MIP, reported with its gap to the pupil level).
        #[arg(long, value_enum, default_value_t = catchment::Unit::Pupil)]
        unit: catchment::Unit,
        /// Where the plan is written.
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
        /// Replace --out even when it is not a catchment output directory (it is replaced whole).
        #[arg(long)]
        force: bool,
        /// Keep every street segment between two junctions in one district (see `solve
        /// --whole-segments`).
        #[arg(long)]
        whole_segments: bool,
        /// Publish contiguous districts: each one connected piece around its school, every
        /// block of the city decided (see `solve --contiguous`); `scripts/demo` asks for them.
        #[arg(long)]
        contiguous: bool,
        /// With --contiguous: meters of walk per extra district of a street (see `solve
        /// --split-street-cost`); `scripts/demo` gives 1000.
        #[arg(long, requires = "contiguous")]
        split_street_cost: Option<u32>,
    },
}

#[derive(Args)]
struct SimulateArgs {
    /// The plan directory (written by `catchment solve ... --blocks blocks.csv`).
    #[arg(long)]
    plan: PathBuf,
    /// Monte Carlo draws.
    #[arg(long, default_value_t = simulate::DEFAULT_DRAWS)]
    draws: usize,
    /// Seed of the random draws: the same seed gives the same result on any number of threads.
    #[arg(long, default_value_t = simulate::DEFAULT_SEED)]
    seed: u64,
    /// Probability that a planned pupil moves away before enrolment (newcomers replace them in
    /// expectation, in blocks in proportion to residents).
    #[arg(long, default_value_t = simulate::DEFAULT_MOVE_PROB, allow_hyphen_values = true)]
    move_prob: f64,
    /// Standard deviation of the cohort's relative size.
    #[arg(long, default_value_t = simulate::DEFAULT_COHORT_SD, allow_hyphen_values = true)]
    cohort_sd: f64,
    /// Expected relative change of the cohort's size (e.g. -0.03).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    cohort_change: f64,
    /// The overflow probability a school's buffer keeps under.
    #[arg(long, default_value_t = simulate::DEFAULT_TARGET, allow_hyphen_values = true)]
    target: f64,
    /// Worker threads (default: all cores); the result does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Output directory for simulation.csv and simulation.json.
    #[arg(long, default_value = "out/simulation")]
    out: PathBuf,
    /// `auto`: re-solve with each school's capacity reduced by its buffer and report the price in
    /// walking distance (needs --schools, --pupils, --matrix, --blocks, --out-plan).
    #[arg(long, value_enum)]
    buffer: Option<BufferMode>,
    /// Schools file the plan was solved from (for --buffer auto).
    #[arg(long, requires = "buffer")]
    schools: Option<PathBuf>,
    /// Pupils file the plan was solved from (for --buffer auto).
    #[arg(long, requires = "buffer")]
    pupils: Option<PathBuf>,
    /// Walking distances the plan was solved with (for --buffer auto).
    #[arg(long, requires = "buffer")]
    matrix: Option<PathBuf>,
    /// Blocks of the whole city, for the robust plan's districts (for --buffer auto).
    #[arg(long, requires = "buffer")]
    blocks: Option<PathBuf>,
    /// Walks from every block to every school (default: --matrix, then keyed by block).
    #[arg(long, requires = "blocks")]
    block_matrix: Option<PathBuf>,
    /// Named streets for the robust plan's street list (OSM or GeoJSON lines).
    #[arg(long, requires = "blocks")]
    streets: Option<PathBuf>,
    /// Where the robust plan is written (for --buffer auto).
    #[arg(long, requires = "buffer")]
    out_plan: Option<PathBuf>,
    /// Replace --out (and --out-plan) even when not a catchment output directory (replaced whole).
    #[arg(long)]
    force: bool,
    /// The policy of the robust re-solve: give the flags the plan was solved with.
    #[command(flatten)]
    policy: PolicyArgs,
}

#[derive(Subcommand)]
enum MatrixAction {
    /// Convert a matrix file: long CSV to binary, or binary to long CSV (the input's format is
    /// told from its content). Rows and schools are written in id order; a CSV must give every
    /// pair of its rows and schools once.
    Convert {
        /// The matrix file to read (CSV or binary).
        input: PathBuf,
        /// The matrix file to write.
        output: PathBuf,
        /// The format to write (default: the other one).
        #[arg(long, value_enum)]
        format: Option<MatrixFormat>,
    },
}

/// A matrix file's format.
/// `catchment db ...`.
#[derive(Subcommand)]
enum DbCommand {
    /// Apply the schema migrations the database lacks (`catchment serve` does at start too)
    /// and print the schema version.
    Migrate {
        /// A SQLite file or a PostgreSQL URL, as `catchment serve --db`.
        #[arg(long, env = "CATCHMENT_DB", default_value = "catchment.db")]
        db: String,
    },
}

/// The log's format (`--log-format`).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line.
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MatrixFormat {
    /// Long CSV `pupil_id,school_id,meters[,seconds]` (or `block_id,...`).
    Csv,
    /// The binary matrix format (docs: input formats).
    Binary,
}

impl MatrixFormat {
    fn of(self) -> routing::binary::Format {
        match self {
            MatrixFormat::Csv => routing::binary::Format::Csv,
            MatrixFormat::Binary => routing::binary::Format::Binary,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BufferMode {
    /// Each school's simulated buffer.
    Auto,
}

#[derive(Args)]
struct InputArgs {
    /// Schools: CSV (id,name,lat,lon,capacity | max_classes[,class_size][,min_pupils]) or GeoJSON points.
    #[arg(long)]
    schools: PathBuf,
    /// Pupils: CSV (id, lat,lon | street,house_number [,block][,fixed_school]) or GeoJSON points.
    #[arg(long)]
    pupils: PathBuf,
    /// Walking distances: long CSV pupil_id,school_id,meters[,seconds] (or block_id,...), or a
    /// binary matrix file (told by its content).
    #[arg(long, required_unless_present = "osrm", conflicts_with = "osrm")]
    matrix: Option<PathBuf>,
    #[command(flatten)]
    routing: RoutingArgs,
}

/// `catchment sites`: the current schools and pupils with their matrix, the candidates with
/// theirs, and what to choose.
#[derive(Args)]
struct SitesArgs {
    /// Current schools: CSV (id,name,lat,lon,capacity | max_classes[,class_size][,min_pupils]) or GeoJSON points.
    /// A header without rows when there is no school yet: the sites chosen then seat every pupil.
    #[arg(long)]
    schools: PathBuf,
    /// Pupils: CSV or GeoJSON, as `solve` takes them.
    #[arg(long)]
    pupils: PathBuf,
    /// Walking distances to the current schools: a matrix file as `solve` takes it (not needed
    /// when --schools lists no school).
    #[arg(long)]
    matrix: Option<PathBuf>,
    /// Candidate sites: CSV id,name,lat,lon,capacity | max_classes[,class_size][,cost].
    #[arg(
        long,
        requires = "candidate_matrix",
        required_unless_present_any = ["extensions", "closures"]
    )]
    candidates: Option<PathBuf>,
    /// Walking distances to the candidates: long CSV pupil_id,school_id,meters (or block_id,...), or binary.
    #[arg(long, requires = "candidates")]
    candidate_matrix: Option<PathBuf>,
    /// Extensions of current schools: CSV school_id,classes[,cost] — up to `classes` more
    /// classes there, each one option (cost per class).
    #[arg(long)]
    extensions: Option<PathBuf>,
    /// Current schools that may close: CSV school_id[,saving] (what closing it saves, freeing
    /// budget). With --close N exactly N of them close; without, any number (only to free budget).
    #[arg(long)]
    closures: Option<PathBuf>,
    /// Exactly this many of the --closures schools close: the ones whose closing costs the
    /// least walk.
    #[arg(long, requires = "closures")]
    close: Option<usize>,
    /// What to make least: the total walk, or the longest walk of any pupil (then the total
    /// walk within it).
    #[arg(long, value_enum, default_value = "walk")]
    objective: catchment::sites::Objective,
    /// Another year's pupils (repeat for more years): the sites chosen serve every cohort, the
    /// walk is summed over them and reported year by year. Read with the same matrices (keyed
    /// by block, or holding these pupils' rows).
    #[arg(long = "cohort", value_name = "PUPILS")]
    cohorts: Vec<PathBuf>,
    /// Most options to take: new sites and extra classes (the table runs k = 0, 1, ..., this).
    #[arg(long)]
    open: usize,
    /// Most the opened sites may cost together (the candidates' cost column).
    #[arg(long)]
    budget: Option<f64>,
    /// How to choose: exact (Cbc) where pupils x candidates is small, else the heuristic.
    #[arg(long, value_enum, default_value = "auto")]
    method: catchment::sites::Method,
    /// Cbc's time limit per k, seconds (the best choice found and the proved bound are kept).
    #[arg(long, default_value_t = 120)]
    mip_seconds: u32,
    /// No pupil may walk farther (meters): the table then shows the fewest options that
    /// bring every pupil within it, and the least walk with them.
    #[arg(long)]
    max_walk: Option<u32>,
    /// Output directory: sites.csv, sites.md, sites.geojson, sites.html, plans/k<N>/.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out even when it is not a catchment output directory (it is replaced whole).
    #[arg(long)]
    force: bool,
}

/// Walking distances from an OSRM server instead of a matrix file.
#[derive(Args, Default)]
struct RoutingArgs {
    /// OSRM server (foot profile) for the walking distances, e.g. http://127.0.0.1:5000; several
    /// servers of the same data comma-separated (or the flag repeated): the requests are
    /// shared out among them.
    #[arg(long, value_delimiter = ',', value_name = "URL")]
    osrm: Vec<String>,
    /// The OSM extract the server was prepared from: geocodes street addresses and keys the cache.
    #[arg(long)]
    osm: Option<PathBuf>,
    /// Profile name in OSRM URLs.
    #[arg(long, default_value = "foot")]
    osrm_profile: String,
    /// Locations per OSRM request: the server's --max-table-size.
    #[arg(long, default_value_t = 100)]
    osrm_table_size: usize,
    /// OSRM requests in flight at once.
    #[arg(long, default_value_t = 4)]
    osrm_concurrency: usize,
    /// Give up on the whole OSRM table after this many seconds.
    #[arg(long, default_value_t = 600)]
    osrm_deadline: u64,
    /// Directory of cached OSRM tables (keyed by coordinates, profile and the --osm extract).
    #[arg(long, default_value = ".catchment-cache")]
    cache_dir: PathBuf,
    /// Do not read or write the table cache.
    #[arg(long)]
    no_cache: bool,
    /// Report pupils farther than this many meters from the nearest street.
    #[arg(long, default_value_t = 300.0)]
    snap_limit: f64,
    /// Leave far-snapped pupils' pairs and pairs without a route out instead of failing.
    #[arg(long)]
    allow_unreachable: bool,
    /// Leave pupils whose address is not found or ambiguous out instead of failing.
    #[arg(long)]
    skip_ungeocoded: bool,
    /// Where the ids of pupils whose address could not be placed are written.
    #[arg(long, default_value = "geocoding-report.csv")]
    geocode_report: PathBuf,
}

impl RoutingArgs {
    fn source(&self, urls: &[String]) -> routing::OsrmSource {
        let mut route = routing::osrm::RouteOptions {
            snap_limit_m: self.snap_limit,
            allow_unreachable: self.allow_unreachable,
            ..Default::default()
        };
        route.table.max_table_size = self.osrm_table_size;
        route.table.concurrency = self.osrm_concurrency;
        route.table.deadline = std::time::Duration::from_secs(self.osrm_deadline);
        routing::OsrmSource {
            urls: urls.iter().map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect(),
            profile: self.osrm_profile.clone(),
            route,
            osm: self.osm.clone(),
            cache_dir: (!self.no_cache).then(|| self.cache_dir.clone()),
            index: None,
            skip_ungeocoded: self.skip_ungeocoded,
            geocode_report: Some(self.geocode_report.clone()),
        }
    }
}

/// The city for the published districts: every block, not only this year's pupils'.
#[derive(Args, Default)]
struct PublishArgs {
    /// Blocks of the whole city (CSV block_id,lat,lon[,residents][,street,house_number]): writes
    /// districts.csv (every block), districts.geojson (the map), streets.csv/.html.
    #[arg(long)]
    blocks: Option<PathBuf>,
    /// Walks from every block to every school (long CSV block_id,school_id,meters, or a binary
    /// matrix keyed by block); default: the --matrix file, which then must be keyed by block.
    #[arg(long, requires = "blocks")]
    block_matrix: Option<PathBuf>,
    /// Named streets for the street list of grid blocks: OSM (.osm, .osm.pbf) or GeoJSON lines.
    #[arg(long, requires = "blocks")]
    streets: Option<PathBuf>,
    /// The area the districts divide: GeoJSON polygons (e.g. the city boundary); default: the
    /// blocks with a margin of 300 m (grid cells within 300 m; for address blocks, their convex
    /// hull widened by 300 m). districts.geojson then tiles it.
    #[arg(long, requires = "blocks")]
    area: Option<PathBuf>,
    /// Districts to compare with in report.html (CSV block_id,school_id: last year's or the
    /// hand-drawn ones), evaluated on the same walking distances.
    #[arg(long, requires = "blocks")]
    compare: Option<PathBuf>,
    /// Blocks whose walks are not trusted (CSV with a block_id column, e.g. a plan's
    /// routing-check.csv): left out of the published districts; their pupils left out of the
    /// plan unless they have a fixed_school.
    #[arg(long, requires = "blocks")]
    exclude_blocks: Option<PathBuf>,
    /// Compare with the hand-drawn proxy (nearest school by straight line, border blocks moved).
    #[arg(skip)]
    compare_proxy: bool,
}

impl PublishArgs {
    /// The city for published districts, when `--blocks` is given.
    fn city_spec(&self) -> Option<app::CitySpec> {
        self.blocks.as_ref().map(|blocks| app::CitySpec {
            blocks: Source::Path(blocks.clone()),
            block_matrix: self.block_matrix.clone().map(Source::Path),
            streets: self.streets.clone().map(Source::Path),
            area: self.area.clone().map(Source::Path),
            exclude_blocks: self.exclude_blocks.clone().map(Source::Path),
        })
    }

    fn compare_spec(&self) -> app::CompareSpec {
        app::CompareSpec {
            proxy: self.compare_proxy,
            districts: self.compare.clone().map(Source::Path),
        }
    }
}

impl InputArgs {
    fn distances(&self) -> anyhow::Result<app::Distances> {
        match (&self.matrix, self.routing.osrm.as_slice()) {
            (Some(path), _) => Ok(app::Distances::Matrix(Source::Path(path.clone()))),
            (None, []) => Err(usage("give --matrix FILE or --osrm URL")),
            (None, urls) => Ok(app::Distances::Osrm(self.routing.source(urls))),
        }
    }

    /// The plan request of these inputs (no stability, no city, no comparison).
    fn request(&self, policy: Policy) -> anyhow::Result<app::PlanRequest> {
        Ok(app::PlanRequest {
            schools: Source::Path(self.schools.clone()),
            pupils: Source::Path(self.pupils.clone()),
            distances: self.distances()?,
            policy,
            stability: None,
            city: None,
            compare: app::CompareSpec::default(),
            pins: None,
        })
    }
}

#[derive(Args)]
struct PolicyArgs {
    /// The solver for the pupil-level problem.
    #[arg(long, value_enum, default_value_t = SolverKind::Flow)]
    solver: SolverKind,
    /// Leave out every pupil-school pair longer than this many meters (fixed schools excepted).
    #[arg(long)]
    max_walk: Option<u32>,
    /// `pupil`: every pupil placed on their own (certified LP). `block`: all pupils of a block
    /// to one school (districts of whole blocks; a MIP, reported with its gap to the pupil level).
    #[arg(long, value_enum, default_value_t = catchment::Unit::Pupil)]
    unit: catchment::Unit,
    /// Every class needs at least this many pupils (the draft law: 25 from 2027); schools form
    /// whole classes of at most their class size, or none.
    #[arg(long)]
    min_class_size: Option<u32>,
    /// The largest class allowed, replacing every school's class_size (schools given by
    /// max_classes then seat max_classes x this).
    #[arg(long)]
    max_class_size: Option<u32>,
    /// Every school's district one connected piece of the blocks' adjacency (edge-neighbouring
    /// grid cells, Delaunay neighbours of address points) holding the school's own block; whole
    /// blocks, every block of the city decided (needs --blocks). Exact where the size allows,
    /// else a local search; the gap to the certified pupil-level optimum is reported.
    #[arg(long)]
    contiguous: bool,
    /// Every block a street segment between two consecutive junctions runs through longest goes
    /// to one school, so the street list names whole segments; whole blocks (needs --blocks with
    /// grid cells and --streets). Reports the walk it costs against the plan without the rule.
    #[arg(long)]
    whole_segments: bool,
    /// With --contiguous: meters added to the total walk for every district a street falls
    /// into beyond its first; parts of split streets move to a neighbouring district while
    /// walk + this price falls (fewer split streets for a little more walk; needs --streets
    /// for grid blocks). The walk's gap to the certified optimum is still reported.
    #[arg(long, requires = "contiguous")]
    split_street_cost: Option<u32>,
    /// --matrix may leave pairs out, giving at least each pupil's K nearest schools: the exact
    /// solve proves, from the straight line as a lower bound of every pair not given, that no
    /// other school was needed (pupil-level plans, pupils with coordinates), or fails with the
    /// least walk any full matrix could have (the gap the plan may have), how many pupils it
    /// sends along pairs not given, and a K that may do.
    #[arg(long, value_name = "K")]
    nearest: Option<u32>,
}

/// Stability against last year's districts.
#[derive(Args)]
struct StabilityArgs {
    /// Last year's districts: CSV block_id,school_id.
    #[arg(long)]
    previous: Option<PathBuf>,
    /// Meters added per pupil whose school differs from last year's school of their block
    /// (keeps the plan certified; the prices are on walk + this cost).
    #[arg(long, requires = "previous", conflicts_with = "max_changed_blocks")]
    change_cost: Option<u32>,
    /// At most this many blocks change school against last year (whole blocks: a MIP; implies --unit block).
    #[arg(long, requires = "previous")]
    max_changed_blocks: Option<u32>,
}

impl StabilityArgs {
    fn spec(&self) -> anyhow::Result<Option<app::StabilitySpec>> {
        use catchment::stability::Rule;
        let Some(path) = &self.previous else { return Ok(None) };
        let rule = match (self.change_cost, self.max_changed_blocks) {
            (Some(c), _) => Rule::ChangeCost(c),
            (None, Some(n)) => Rule::MaxChangedBlocks(n),
            (None, None) => {
                return Err(usage(
                    "--previous needs --change-cost METERS or --max-changed-blocks N",
                ))
            }
        };
        Ok(Some(app::StabilitySpec { previous: Source::Path(path.clone()), rule }))
    }
}

impl PolicyArgs {
    fn policy(&self) -> Policy {
        Policy {
            solver: self.solver,
            max_walk: self.max_walk,
            unit: self.unit,
            min_class_size: self.min_class_size,
            max_class_size: self.max_class_size,
            contiguous: self.contiguous,
            whole_segments: self.whole_segments,
            split_street_cost: self.split_street_cost,
            nearest: self.nearest,
        }
    }
}

fn parse_crs(text: &str) -> Result<catchment::projection::Crs, String> {
    catchment::projection::Crs::parse(text)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into());
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match cli.log_format {
        LogFormat::Text => log.init(),
        LogFormat::Json => log.json().init(),
    }
    let crs = cli.crs;
    match catchment::instance::table::with_crs(crs.as_ref(), || run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            if let Some(Usage(msg)) = e.downcast_ref::<Usage>() {
                eprintln!("error: {msg}\n\nFor more information, try '--help'.");
                return ExitCode::from(exit::USAGE);
            }
            if let Some(Refused { error, hint }) = e.downcast_ref::<Refused>() {
                eprintln!("error: {error}");
                eprintln!("hint: {hint}");
                return ExitCode::from(error.exit_code());
            }
            let code = e.downcast_ref::<Error>().map(Error::exit_code).unwrap_or(exit::ERROR);
            eprintln!("error: {}", chain(&e));
            // The pupils at fault, by id, for the operator (the messages only count them).
            if let Some(Error::Infeasible(reasons)) = e.downcast_ref::<Error>() {
                for r in reasons.iter().filter(|r| !r.pupils.is_empty()) {
                    eprintln!("pupils ({}): {}", r.kind, quoted_ids(&r.pupils));
                }
            }
            if let Some(hint) = e.downcast_ref::<Error>().and_then(Error::hint) {
                eprintln!("hint: {}", render_hint(hint));
            }
            ExitCode::from(code)
        }
    }
}

/// Ids quoted and joined, the first 50 and how many more.
fn quoted_ids(ids: &[String]) -> String {
    const SHOWN: usize = 50;
    let mut v: Vec<String> = ids.iter().take(SHOWN).map(|id| format!("'{id}'")).collect();
    if ids.len() > SHOWN {
        v.push(format!("and {} more", ids.len() - SHOWN));
    }
    v.join(", ")
}

/// An error and its causes joined by ": ", each cause only when its text is not already in the
/// message (a file's I/O error names the OS error once, not once per layer).
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A malformed command line that clap cannot see (exit code 2, as clap's own).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn usage(msg: &str) -> anyhow::Error {
    Usage(msg.to_string()).into()
}

/// An output directory refused before any work, with what the user can do (naming a flag).
#[derive(Debug)]
struct Refused {
    error: Error,
    hint: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Refused {}

/// The output directory of a command. Checked before any work: it must be absent, empty or one
/// of catchment's outputs (`instance::output_state`), unless `--force`; and never the working
/// directory (or one above it) or a directory holding the run's own inputs, even with
/// `--force`. Outputs are written atomically; with `--force` over a directory that is not
/// catchment's, into a staging directory beside it that replaces it at the end ([`finish`]).
///
/// [`finish`]: OutDir::finish
struct OutDir {
    out: PathBuf,
    staged: Option<PathBuf>,
}

impl OutDir {
    fn new(out: &Path, force: bool, inputs: &[Option<&Path>]) -> anyhow::Result<OutDir> {
        use catchment::instance::OutputState;
        let refuse = |why: String, hint: &'static str| -> anyhow::Error {
            Refused { error: Error::input(&out.display().to_string(), None, None, why), hint }
                .into()
        };
        if let Ok(o) = out.canonicalize() {
            if std::env::current_dir()
                .and_then(|c| c.canonicalize())
                .is_ok_and(|c| c.starts_with(&o))
            {
                return Err(refuse(
                    "is the working directory or holds it: nothing was written".into(),
                    "give a new directory for the output",
                ));
            }
            for input in inputs.iter().flatten() {
                if input.canonicalize().is_ok_and(|i| i.starts_with(&o)) {
                    return Err(refuse(
                        format!(
                            "holds {}, an input of this run, which replacing the directory would \
                             delete: nothing was written",
                            input.display()
                        ),
                        "give another output directory",
                    ));
                }
            }
        }
        match catchment::instance::output_state(out)? {
            OutputState::Foreign(why) if !force => Err(refuse(
                why,
                "give a new or empty directory, or --force to replace this one whole",
            )),
            OutputState::Foreign(_) if !out.is_dir() => Err(refuse(
                "exists and is not a directory: --force replaces directories only".into(),
                "give a new or empty directory",
            )),
            OutputState::Foreign(_) => Ok(OutDir {
                out: out.to_path_buf(),
                staged: Some(catchment::instance::sibling(out, "force")),
            }),
            _ => Ok(OutDir { out: out.to_path_buf(), staged: None }),
        }
    }

    /// Where the command writes its output.
    fn path(&self) -> &Path {
        self.staged.as_deref().unwrap_or(&self.out)
    }

    /// With `--force`: the complete output replaces the directory.
    fn finish(self) -> anyhow::Result<()> {
        if let Some(staged) = &self.staged {
            catchment::instance::replace_dir(staged, &self.out)?;
        }
        Ok(())
    }
}

/// The command-line flag of a setting the library names in a hint.
pub fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::MaxClassSize => "--max-class-size",
        Setting::UnitBlock => "--unit block",
        Setting::ChangeCost => "--change-cost",
        Setting::Blocks => "--blocks",
        Setting::Streets => "--streets",
        Setting::Contiguous => "--contiguous",
        Setting::Nearest => "--nearest",
        Setting::AllowUnreachable => "--allow-unreachable",
        Setting::SkipUngeocoded => "--skip-ungeocoded",
        Setting::Osm => "--osm",
        Setting::OsrmTableSize => "--osrm-table-size",
        Setting::OsrmAllow => "serve --osrm-allow",
    }
}

fn render_hint(h: &catchment::error::Hint) -> String {
    match h.setting {
        Some(s) => format!("{} ({})", h.text, flag(s)),
        None => h.text.clone(),
    }
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// Read schools, pupils and walks (from the matrix file or OSRM).
fn load(input: &InputArgs) -> anyhow::Result<(catchment::Instance, catchment::Matrix)> {
    let loaded = load_request(&input.request(Policy::default())?)?;
    Ok((loaded.inst, loaded.matrix))
}

/// Load a plan request with a spinner naming the stage.
fn load_request(req: &app::PlanRequest) -> anyhow::Result<app::Loaded> {
    load_request_timed(req, &Stages::new())
}

fn load_request_timed(req: &app::PlanRequest, stages: &Stages) -> anyhow::Result<app::Loaded> {
    let pb = spinner("reading schools and pupils");
    let loaded = req.load(&|s| {
        stages.enter(Some(s));
        pb.set_message(stage_message(s))
    });
    pb.finish_and_clear();
    Ok(loaded?)
}

/// Each stage's wall time and the process's peak memory, logged (`-v`) when the next stage
/// begins: where a large run spends its time and memory.
struct Stages {
    current: std::cell::Cell<Option<(app::Stage, std::time::Instant)>>,
}

impl Stages {
    fn new() -> Stages {
        Stages { current: std::cell::Cell::new(None) }
    }

    /// The stage `next` begins (None: the last one ended).
    fn enter(&self, next: Option<app::Stage>) {
        let now = std::time::Instant::now();
        if let Some((stage, since)) = self.current.get() {
            if Some(stage) == next {
                return;
            }
            tracing::info!(
                stage = stage.describe(),
                seconds = format!("{:.3}", (now - since).as_secs_f64()),
                peak_memory_mib = peak_memory_mib().map(|m| format!("{m:.0}")).unwrap_or_default(),
                "stage done"
            );
        }
        self.current.set(next.map(|s| (s, now)));
    }
}

/// The process's peak resident memory in MiB (Linux: `VmHWM` of /proc/self/status).
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn stage_message(s: app::Stage) -> &'static str {
    match s {
        app::Stage::Reading => "reading schools, pupils, walks and the city's blocks",
        app::Stage::Routing => "routing every pupil to every school (OSRM)",
        app::Stage::Solving => "solving",
        app::Stage::Writing => "writing the plan",
    }
}

/// Load, solve and write a plan request (`catchment solve` and the demo).
fn solve_to(req: &app::PlanRequest, out: OutDir) -> anyhow::Result<Summary> {
    let stages = Stages::new();
    let loaded = load_request_timed(req, &stages)?;
    stages.enter(Some(app::Stage::Solving));
    let pb = spinner(&format!(
        "solving {} pupils x {} schools{}",
        loaded.inst.pupils.len(),
        loaded.inst.schools.len(),
        if loaded.stability.is_some() {
            " (and without last year's districts, to compare)"
        } else {
            ""
        }
    ));
    let result = loaded.solve(&|_| ());
    pb.set_message(if loaded.city.is_some() {
        "writing the plan and its districts"
    } else {
        "writing the plan"
    });
    stages.enter(Some(app::Stage::Writing));
    let written = result.and_then(|r| r.write(&loaded, out.path(), &|_| ()));
    stages.enter(None);
    pb.finish_and_clear();
    let written = written?;
    out.finish()?;
    for note in &written.notes {
        eprintln!("note: {note}");
    }
    Ok(written.summary)
}

fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Simulate(args) => run_simulate(args),
        Command::Evaluate { plan, districts, json } => {
            let model = catchment::output::read_edit_model(&plan)?;
            let moves = model.moves_from_csv(
                &catchment::instance::file_name(&districts),
                &catchment::instance::read_input(&districts)?,
            )?;
            let e = catchment::districts::edit::evaluate(&model, &moves)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
                return Ok(ExitCode::SUCCESS);
            }
            let km = |m: u64| m as f64 / 1000.0;
            println!(
                "Total walk {:.3} km ({}), {:.3} km ({:.2}%) above the certified optimum of {:.3} km",
                km(e.total_m),
                e.status,
                km(e.gap_m),
                e.gap_pct,
                km(e.optimum_m)
            );
            println!("{} pupils, {} over 2 km", e.pupils, e.over_2km);
            println!("school      pupils  seats  classes  over  mean walk m  over 2 km  pieces");
            for s in &e.per_school {
                println!(
                    "{:<10} {:>7} {:>6} {:>8} {:>5} {:>12} {:>10} {:>7}",
                    s.id,
                    s.pupils,
                    s.seats,
                    s.classes,
                    s.over_capacity,
                    s.mean_walk_m,
                    s.over_2km,
                    s.pieces
                );
            }
            for m in &e.moves {
                println!(
                    "move {} {} -> {}: {} pupils, {:+} m{}",
                    m.block_id,
                    m.from.as_deref().unwrap_or("-"),
                    m.to,
                    m.pupils,
                    m.cost_m,
                    if m.room { "" } else { " (no room)" }
                );
            }
            for w in &e.warnings {
                println!("warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { plan, address, block, json } => {
            let query = match (address, block) {
                (Some(a), _) => catchment::districts::files::Query::Address(a),
                (None, Some(b)) => catchment::districts::files::Query::Block(b),
                (None, None) => return Err(usage("give --address or --block")),
            };
            let answer = catchment::output::explain_plan(&plan, &query)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                println!("{}", answer.note);
                for e in &answer.explanations {
                    println!(
                        "\nblock {}: school {} ({} m); nearest school {} ({} m)",
                        e.block, e.school, e.walk_m, e.nearest_school, e.nearest_walk_m
                    );
                    println!("  EN: {}", e.english);
                    println!("  DE: {}", e.german);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Solve { input, out, force, policy, publish, stability, pin } => {
            let dir = OutDir::new(
                &out,
                force,
                &[
                    Some(&input.schools),
                    Some(&input.pupils),
                    input.matrix.as_deref(),
                    input.routing.osm.as_deref(),
                    publish.blocks.as_deref(),
                    publish.block_matrix.as_deref(),
                    publish.streets.as_deref(),
                    publish.area.as_deref(),
                    publish.compare.as_deref(),
                    publish.exclude_blocks.as_deref(),
                    stability.previous.as_deref(),
                    pin.as_deref(),
                ],
            )?;
            let req = app::PlanRequest {
                stability: stability.spec()?,
                city: publish.city_spec(),
                compare: publish.compare_spec(),
                pins: pin.map(Source::Path),
                ..input.request(policy.policy())?
            };
            let summary = solve_to(&req, dir)?;
            print_summary(&summary, &out);
            if out.join(catchment::output::MATRIX_FILE).exists() {
                println!(
                    "Walks kept (internal, not for publication): {}{}; catchment check --plan {} uses them",
                    catchment::output::MATRIX_FILE,
                    if out.join(catchment::output::BLOCK_MATRIX_FILE).exists() {
                        format!(", {}", catchment::output::BLOCK_MATRIX_FILE)
                    } else {
                        String::new()
                    },
                    out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::StabilityCurve { input, policy, previous, penalties, out, force } => {
            if policy.whole_segments {
                return Err(usage(
                    "--whole-segments needs the city's streets: use catchment solve",
                ));
            }
            let dir = OutDir::new(
                &out,
                force,
                &[
                    Some(&input.schools),
                    Some(&input.pupils),
                    input.matrix.as_deref(),
                    input.routing.osm.as_deref(),
                    Some(&previous),
                ],
            )?;
            let previous = catchment::stability::read_previous(&previous)?;
            let penalties = if penalties.is_empty() {
                catchment::stability::DEFAULT_PENALTIES.to_vec()
            } else {
                penalties
            };
            let (inst, m) = load(&input)?;
            let pb = spinner(&format!("solving for {} change costs", penalties.len()));
            let points = catchment::pipeline::stability_curve(
                &inst,
                &m,
                &policy.policy(),
                &previous,
                &penalties,
            );
            pb.finish_and_clear();
            let points = points?;
            let csv = catchment::stability::curve_csv(&points);
            let svg = catchment::stability::curve_svg(
                &points,
                "Price of stability: extra walking vs blocks that change school",
            );
            catchment::output::write_atomically(dir.path(), |dir| {
                std::fs::write(dir.join("curve.csv"), &csv)
                    .map_err(|e| Error::io(dir.join("curve.csv"), e))?;
                std::fs::write(dir.join("curve.svg"), &svg)
                    .map_err(|e| Error::io(dir.join("curve.svg"), e))?;
                Ok(())
            })?;
            dir.finish()?;
            println!(
                "{:>10} {:>14} {:>14} {:>14} {:>12}",
                "penalty_m", "total_walk_km", "changed_blocks", "changed_pupils", "price_km"
            );
            for p in &points {
                println!(
                    "{:>10} {:>14.1} {:>14} {:>14} {:>12.1}",
                    p.penalty_m,
                    p.total_walk_m as f64 / 1000.0,
                    p.changed_blocks,
                    p.changed_pupils,
                    p.price_m as f64 / 1000.0
                );
            }
            println!("Curve written to {}/ (curve.csv, curve.svg)", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Batch { file, out, force, jobs } => {
            let dir = OutDir::new(&out, force, &[Some(&file)])?;
            let pb = spinner("solving the scenarios");
            let rows = catchment::scenario::batch(&file, dir.path(), jobs);
            pb.finish_and_clear();
            let rows = rows?;
            dir.finish()?;
            print!("{}", catchment::scenario::comparison_markdown(&rows));
            println!("\nComparison and plans written to {}/ (comparison.csv, comparison.md, one directory per solved scenario)", out.display());
            let failed: Vec<&catchment::scenario::Row> =
                rows.iter().filter(|r| !r.solved()).collect();
            if failed.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "error: {} of {} scenario(s) failed; the others are solved:",
                failed.len(),
                rows.len()
            );
            for r in failed {
                eprintln!("  {}: {}", r.scenario, r.error);
            }
            Ok(ExitCode::from(exit::SCENARIOS_FAILED))
        }
        Command::Sites(a) => {
            let dir = OutDir::new(
                &a.out,
                a.force,
                &[
                    Some(&a.schools),
                    Some(&a.pupils),
                    a.matrix.as_deref(),
                    a.candidates.as_deref(),
                    a.candidate_matrix.as_deref(),
                    a.extensions.as_deref(),
                    a.closures.as_deref(),
                ],
            )?;
            let pb = spinner("reading the inputs");
            let input = catchment::sites::load_inputs(
                &a.schools,
                &a.pupils,
                a.matrix.as_deref(),
                a.candidates.as_deref().zip(a.candidate_matrix.as_deref()),
                catchment::sites::Options {
                    extensions: a.extensions.as_deref(),
                    closures: a.closures.as_deref(),
                    close: a.close,
                },
                &a.cohorts,
            );
            pb.finish_and_clear();
            let mut input = input?;
            input.max_walk = a.max_walk;
            input.objective = a.objective;
            let pb = spinner(&format!(
                "choosing up to {} of {} options",
                a.open,
                input.candidates.len()
            ));
            let sites = catchment::sites::choose(&input, a.open, a.budget, a.method, a.mip_seconds);
            pb.finish_and_clear();
            let sites = sites?;
            sites.write(dir.path())?;
            dir.finish()?;
            print!("{}", sites.markdown());
            println!(
                "\nWritten to {}/ (sites.csv, sites.md, sites.geojson, sites.html, plans/k<N>/)",
                a.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(config) => {
            catchment::server::serve(config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(DbCommand::Migrate { db }) => {
            let (shown, applied, version) = catchment::server::migrate(&db)?;
            match applied.as_slice() {
                [] => println!("{shown}: schema version {version}, nothing to do"),
                a => println!(
                    "{shown}: schema version {version} (applied {})",
                    a.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { schools, pupils, matrix, routing, plan, max_walk } => {
            let kept = plan.join(catchment::output::MATRIX_FILE);
            let routed = !routing.osrm.is_empty();
            let matrix = match (matrix, routed) {
                (Some(m), _) => Some(m),
                (None, true) => None,
                (None, false) if kept.is_file() => Some(kept),
                (None, false) => {
                    return Err(usage(&format!(
                        "give --matrix FILE or --osrm URL: the plan keeps no {}",
                        catchment::output::MATRIX_FILE
                    )))
                }
            };
            let input = InputArgs {
                schools: schools.unwrap_or_else(|| plan.join("schools.csv")),
                pupils,
                matrix,
                routing,
            };
            // A plan solved over each pupil's nearest schools: the matrix may give only those.
            // Routed here, every pair is (the pairs a plan routed on demand are in its matrix).
            let nearest = catchment::check::read_summary(&plan)
                .ok()
                .and_then(|s| s.solver.nearest)
                .filter(|_| input.matrix.is_some());
            let loaded = load_request(&input.request(Policy { nearest, ..Policy::default() })?)?;
            let (inst, m) = (loaded.inst, loaded.matrix);
            let r = check_plan(&inst, &m, &plan, max_walk)?;
            let mark = |b: bool| if b { "ok" } else { "FAILED" };
            // Nothing else is judged when the rows themselves are wrong.
            let judged = |b: bool| if r.rows_ok { mark(b) } else { "not checked" };
            println!("policy:     {}", r.policy);
            println!(
                "rows:       {}",
                if r.rows_ok {
                    "ok"
                } else {
                    "FAILED (assignments.csv: unknown, repeated or missing pupils)"
                }
            );
            println!("feasible:   {}", judged(r.feasible));
            println!(
                "objective:  {}{}",
                judged(r.objective_ok),
                r.objective_m.map(|o| format!(" ({o} m)")).unwrap_or_default()
            );
            if r.mip {
                println!("optimal:    not certified (whole blocks or classes: a MIP, optimal by Cbc's branch and bound)");
            } else {
                println!("optimal:    {} (under the policy above)", judged(r.optimal));
                println!("prices:     {}", judged(r.prices_ok));
            }
            println!(
                "figures:    {} (summary.json, schools.csv, certificate.json, assignments.csv recomputed)",
                judged(r.figures_ok)
            );
            for f in &r.failures {
                println!("  - {f}");
            }
            if r.ok() && r.mip {
                println!(
                    "The plan is feasible, its objective and figures add up (policy: {}).",
                    r.policy
                );
                Ok(ExitCode::SUCCESS)
            } else if r.ok() {
                println!(
                    "The plan is feasible and optimal under its policy ({}): its {} m are the least walk that policy allows.",
                    r.policy,
                    r.objective_m.unwrap_or(0)
                );
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(exit::CHECK_FAILED))
            }
        }
        Command::Matrix {
            action: Some(MatrixAction::Convert { input, output, format }), ..
        } => {
            use routing::binary::Format;
            let pb = spinner("reading the matrix");
            let read = routing::matrix::read_matrix_table(&input);
            pb.finish_and_clear();
            let (table, from) = read?;
            let to = match format {
                Some(f) => f.of(),
                None if from == Format::Csv => Format::Binary,
                None => Format::Csv,
            };
            table.write(&output, to)?;
            let name = |f: Format| if f == Format::Csv { "long CSV" } else { "binary" };
            let partial = match table.partial {
                Some(_) => format!(", partial: {} pairs given", table.n_given()),
                None => String::new(),
            };
            println!(
                "Wrote {} {} x {} schools to {} ({}, from {}{partial})",
                table.header.rows.len(),
                if table.header.blocks { "blocks" } else { "pupils" },
                table.header.schools.len(),
                output.display(),
                name(to),
                name(from)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Matrix { action: None, schools, pupils, out, format, routing: r } => {
            let (Some(schools), Some(pupils), Some(out)) = (schools, pupils, out) else {
                return Err(usage("give --schools, --pupils and --out"));
            };
            if r.osrm.is_empty() {
                return Err(usage("--osrm URL is required"));
            }
            let inst = read_instance(&schools, &pupils)?;
            let before = inst.clone();
            let pb = spinner("routing every pupil to every school (OSRM)");
            let res = routing::osrm_matrix(inst, &r.source(&r.osrm));
            pb.finish_and_clear();
            let (routed, m, report) = res?;
            // Pupils left out by geocoding are named in the CSV's sidecar, so the matrix reads
            // back against the same pupils file.
            let left_out = app::left_out_ids(&before, &routed);
            let inst = routed;
            match format {
                MatrixFormat::Csv => {
                    routing::matrix::write_matrix_with(&out, &inst, &m, &left_out)?
                }
                MatrixFormat::Binary => {
                    routing::matrix::write_matrix_binary(&out, &inst, &m)?;
                    if !left_out.is_empty() {
                        routing::matrix::write_meta(&out, &m.source, &left_out)?;
                    }
                }
            }
            println!(
                "Wrote {} pupils x {} schools to {} ({} far from a street and {} pairs without a route left out)",
                inst.pupils.len(),
                inst.schools.len(),
                out.display(),
                report.far_snapped.len(),
                report.unreachable.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Reproduce { case, data, baseline, out, force } => {
            let data = find_data(&data.unwrap_or_else(|| PathBuf::from("data").join(&case)))?;
            let out = out.unwrap_or_else(|| PathBuf::from(format!("out/reproduce-{case}")));
            let dir = OutDir::new(&out, force, &[Some(&data), baseline.as_deref()])?;
            let input = InputArgs {
                schools: data.join("schools.csv"),
                pupils: data.join("pupils.csv"),
                matrix: Some(data.join("matrix.csv")),
                routing: RoutingArgs::default(),
            };
            let existing = |name: &str| Some(data.join(name)).filter(|p| p.exists());
            let publish = PublishArgs {
                blocks: existing("blocks.csv"),
                block_matrix: None,
                streets: existing("network.osm"),
                area: existing("area.geojson"),
                compare: None,
                exclude_blocks: None,
                compare_proxy: false,
            };
            let req =
                app::PlanRequest { city: publish.city_spec(), ..input.request(Policy::default())? };
            let pb = spinner(
                "solving the baseline, whole-block districts, the pupil-level optimum and, with \
                 the city's blocks, contiguous districts",
            );
            let reported = catchment::report::reproduce::read_reported(&data)?;
            let result = app::reproduce(&req, &case, baseline.as_deref(), reported, &|_| ());
            pb.finish_and_clear();
            let md = result?.write(dir.path())?;
            dir.finish()?;
            print!("{md}");
            println!("\nReport and plans written to {}/", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { data, out, force, unit, whole_segments, contiguous, split_street_cost } => {
            let data = find_data(&data)?;
            let dir = OutDir::new(&out, force, &[Some(&data)])?;
            let input = InputArgs {
                schools: data.join("schools.csv"),
                pupils: data.join("pupils.csv"),
                matrix: Some(data.join("matrix.csv")),
                routing: RoutingArgs::default(),
            };
            println!("catchment demo: {}", data.display());
            let existing = |name: &str| Some(data.join(name)).filter(|p| p.exists());
            let publish = PublishArgs {
                blocks: existing("blocks.csv"),
                block_matrix: None,
                streets: existing("network.osm"),
                area: existing("area.geojson"),
                compare: None,
                exclude_blocks: None,
                compare_proxy: true,
            };
            let req = app::PlanRequest {
                city: publish.city_spec(),
                compare: publish.compare_spec(),
                ..input.request(Policy {
                    unit,
                    whole_segments,
                    contiguous,
                    split_street_cost,
                    ..Policy::default()
                })?
            };
            let summary = solve_to(&req, dir)?;
            print_summary(&summary, &out);
            for f in [
                "districts.csv",
                "districts.geojson",
                "streets.csv",
                "split-streets.csv",
                "streets.html",
                "report.html",
            ] {
                if out.join(f).exists() {
                    println!("Published: {}", out.join(f).display());
                }
            }
            let (inst, m) = load(&input)?;
            let r = check_plan(&inst, &m, &out, None)?;
            println!(
                "Independent check (catchment check): {}",
                match (r.ok(), r.mip) {
                    (true, false) => format!("feasible and optimal under its policy ({})", r.policy),
                    (true, true) => "feasible, blocks whole, objective and figures add up (the pupil-level bound is certified)".into(),
                    _ => "FAILED".into(),
                }
            );
            Ok(if r.ok() { ExitCode::SUCCESS } else { ExitCode::from(exit::CHECK_FAILED) })
        }
    }
}

fn run_simulate(a: SimulateArgs) -> anyhow::Result<ExitCode> {
    if a.policy.whole_segments {
        return Err(usage("--whole-segments is not yet part of the robust re-solve"));
    }
    let model = simulate::Model {
        move_prob: a.move_prob,
        cohort_change: a.cohort_change,
        cohort_sd: a.cohort_sd,
    };
    let opts = simulate::Options { draws: a.draws, seed: a.seed, target: a.target };
    let robust_input = match a.buffer {
        Some(BufferMode::Auto) => {
            let (Some(schools), Some(pupils), Some(matrix), Some(out_plan)) =
                (&a.schools, &a.pupils, &a.matrix, &a.out_plan)
            else {
                return Err(usage(
                    "--buffer auto re-solves the plan: give --schools, --pupils, --matrix, \
                     --blocks and --out-plan",
                ));
            };
            let Some(blocks) = &a.blocks else {
                return Err(usage(
                    "--buffer auto draws the robust plan's districts: give --blocks FILE",
                ));
            };
            let req = app::PlanRequest {
                schools: Source::Path(schools.clone()),
                pupils: Source::Path(pupils.clone()),
                distances: app::Distances::Matrix(Source::Path(matrix.clone())),
                policy: a.policy.policy(),
                stability: None,
                city: Some(app::CitySpec {
                    blocks: Source::Path(blocks.clone()),
                    block_matrix: a.block_matrix.clone().map(Source::Path),
                    streets: a.streets.clone().map(Source::Path),
                    area: None,
                    exclude_blocks: None,
                }),
                compare: app::CompareSpec::default(),
                pins: None,
            };
            Some((req, out_plan.clone()))
        }
        None => None,
    };
    let inputs = [
        Some(a.plan.as_path()),
        a.schools.as_deref(),
        a.pupils.as_deref(),
        a.matrix.as_deref(),
        a.blocks.as_deref(),
        a.block_matrix.as_deref(),
        a.streets.as_deref(),
    ];
    let out_dir = OutDir::new(&a.out, a.force, &inputs)?;
    let robust_dir = match &robust_input {
        Some((_, out_plan)) => Some(OutDir::new(out_plan, a.force, &inputs)?),
        None => None,
    };
    let schools = catchment::report::simulate_files::read_plan_inputs(&a.plan)?;
    simulate::validate(&schools, &model, &opts)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(a.threads.unwrap_or(0)).build()?;
    let bar = |len: usize, msg: &str| {
        let pb = indicatif::ProgressBar::new(len as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} draws ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(msg.to_string());
        pb
    };
    let pb = bar(opts.draws, "simulating");
    let sim = pool.install(|| simulate::simulate(&schools, &model, &opts, &|n| pb.inc(n as u64)));
    pb.finish_and_clear();
    let sim = sim?;
    print!("{}", simulate::table(&sim));
    let (Some((input, out_plan)), Some(robust_dir)) = (robust_input, robust_dir) else {
        catchment::report::simulate_files::write_simulation(out_dir.path(), &sim, None)?;
        out_dir.finish()?;
        println!("Simulation written to {}/ (simulation.csv, simulation.json)", a.out.display());
        return Ok(ExitCode::SUCCESS);
    };
    let loaded = load_request(&input)?;
    let (inst, m) = (&loaded.inst, &loaded.matrix);
    let city = loaded.city.clone().expect("--blocks checked");
    let given = catchment::output::read_plan(&a.plan, inst)?;
    if !given.problems.is_empty() {
        anyhow::bail!(
            "the plan does not match --schools/--pupils: {}",
            given.problems.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        );
    }
    let walk_before: u64 = given
        .assign
        .iter()
        .enumerate()
        .map(|(p, s)| {
            m.get(p, s.expect("checked") as usize).map(u64::from).ok_or_else(|| {
                anyhow::anyhow!(
                    "pupil '{}' is assigned to a school without a route",
                    inst.pupils[p].id
                )
            })
        })
        .sum::<anyhow::Result<u64>>()?;
    let policy = a.policy.policy();
    let pb = bar(
        opts.draws * simulate::MAX_ROUNDS as usize,
        "re-solving with buffers, simulating the robust plan",
    );
    let robust = pool.install(|| {
        simulate::robust_plan(inst, m, &policy, &city, sim, walk_before, &|n| pb.inc(n as u64))
    });
    pb.finish_and_clear();
    let (plan, reduced, robustness) = robust?;
    println!();
    print!("{}", simulate::robustness_table(&robustness));
    let extras = catchment::output::Extras { city: Some(&city), ..Default::default() };
    catchment::output::write_plan(robust_dir.path(), &reduced, m, &plan, &extras)?;
    robust_dir.finish()?;
    catchment::report::simulate_files::write_simulation(
        out_dir.path(),
        &robustness.before,
        Some(&robustness),
    )?;
    out_dir.finish()?;
    println!(
        "Simulation written to {}/ (simulation.csv, simulation.json, robust-simulation.csv, robustness.json); robust plan (capacities less the buffers) to {}/",
        a.out.display(),
        out_plan.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The data directory, relative to the working directory.
fn find_data(data: &Path) -> anyhow::Result<PathBuf> {
    if data.is_dir() {
        return Ok(data.to_path_buf());
    }
    Err(Error::not_found(format!(
        "data directory {} not found (run from the repository root or pass --data)",
        data.display()
    ))
    .into())
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
    if let (Some(opt), Some(gap)) = (s.solver.pupil_optimum_m, s.solver.gap_pct) {
        println!(
            "{} walk {:.1} km, {gap:.2}% more than the certified pupil-level optimum without them ({:.1} km)",
            if s.solver.contiguous && s.solver.min_class_size.is_some() {
                "Contiguous districts of whole classes"
            } else if s.solver.contiguous {
                "Contiguous districts"
            } else if s.solver.whole_segments {
                "Whole street segments"
            } else if s.solver.unit == catchment::Unit::Block {
                "Whole-block districts"
            } else {
                "Whole classes"
            },
            km(s.solver.objective_m),
            km(opt)
        );
    }
    if let Some(p) = &s.pins {
        println!(
            "Pins: {} block(s), {} pupils fixed; they cost {:.1} km of walk (certified optimum {:.1} km with them, {:.1} km without)",
            p.blocks,
            p.pupils,
            km(p.cost_m),
            km(p.pinned_optimum_m),
            km(p.unpinned_optimum_m)
        );
    }
    println!(
        "{} classes; largest class {} pupils; {} classes over their size",
        s.classes.total, s.classes.largest, s.classes.over_size
    );
    if !s.classes.schools_without_class.is_empty() {
        println!("Schools that form no class: {}", s.classes.schools_without_class.join(", "));
    }
    if let Some(st) = &s.stability {
        println!(
            "Against last year's districts: {} of {} blocks and {} pupils change school (without stability: {} blocks, {} pupils); \
             price of stability {:.1} km of walking",
            st.changed_blocks,
            st.blocks_compared,
            st.changed_pupils,
            st.unconstrained_changed_blocks,
            st.unconstrained_changed_pupils,
            st.price_m as f64 / 1000.0
        );
    }
    if let Some(rc) = &s.routing_check {
        let unit = if rc.unit == "block" { "blocks" } else { "pupils" };
        if let Some(e) = &rc.excluded {
            println!(
                "Excluded: {} blocks; {} of their pupils left out of the plan, {} kept at their fixed school",
                e.blocks, e.pupils_left_out, e.pupils_kept_fixed
            );
        }
        if rc.flagged > 0 {
            println!(
                "Routing check: {} of {} {unit} have walks that look like artefacts of the street network \
                 ({} detours to their own school, {} to the school nearest in a straight line, {} far from the network, {} with unreachable schools){}",
                rc.flagged,
                rc.checked,
                rc.detour_assigned,
                rc.detour_nearest,
                rc.far_snap,
                rc.unreachable,
                if rc.unit == "block" { "; see routing-check.csv and report.html" } else { "" }
            );
            for h in &rc.hints {
                println!("  hint: {h}");
            }
        } else {
            println!("Routing check: no {unit} flagged");
        }
    }
    if let Some(st) = &s.streets {
        print!(
            "Street list: {} streets, {} in two or more districts (at most {})",
            st.total, st.split, st.districts_max
        );
        match (st.segments, st.split_segments) {
            (Some(t), Some(sp)) => {
                println!("; {sp} of {t} street segments between junctions in more than one")
            }
            _ => println!(),
        }
    }
    if let Some(w) = &s.whole_segments {
        println!(
            "Whole street segments ({} groups of blocks, the largest {} blocks): walk {:.1} km, {:+.1} km ({:+.2}%) against \
             {:.1} km without the rule; streets in two or more districts {} instead of {}, segments {} instead of {}",
            w.groups,
            w.largest_group_blocks,
            km(w.walk_m),
            w.extra_m as f64 / 1000.0,
            w.extra_pct,
            km(w.without_rule_walk_m),
            w.split_streets,
            w.split_streets_without_rule,
            w.split_segments,
            w.split_segments_without_rule
        );
        if w.groups_not_whole > 0 {
            println!(
                "{} group(s) of blocks not kept whole: a block without a walk to the school of the rest of its segment",
                w.groups_not_whole
            );
        }
    }
    println!(
        "Plan written to {}/ (summary.json, assignments.csv, schools.csv, certificate.json)",
        out.display()
    );
}
