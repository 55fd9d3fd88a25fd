//! `catchment serve` settings: flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `catchment serve` settings: each a command-line flag with an environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on (port 0: any free port; the address is printed on stdout).
    #[arg(long, env = "CATCHMENT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where jobs and plans are kept: a SQLite file (created if missing; one server), or a
    /// PostgreSQL URL `postgres://USER:PASSWORD@HOST/DB` (several API nodes and workers on one
    /// database). Migrations are applied at start.
    #[arg(long, env = "CATCHMENT_DB", default_value = "catchment.db")]
    pub db: String,
    /// What this process does: `api` answers requests and leaves jobs to workers, `worker`
    /// runs jobs (and answers requests too: health, metrics, plans), `all` both. `api` and
    /// `worker` need a PostgreSQL `--db`.
    #[arg(long, env = "CATCHMENT_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,
    /// A worker holds a job for this many seconds and renews the hold every third of it; a job
    /// whose worker stopped renewing (it died) is taken over by another worker after this time.
    #[arg(long, env = "CATCHMENT_LEASE_SECONDS", default_value_t = 30)]
    pub lease_seconds: u64,
    /// How often a worker looks for queued jobs, and an API node for a job's end
    /// (`?wait=true`), in milliseconds.
    #[arg(long, env = "CATCHMENT_POLL_MS", default_value_t = 200)]
    pub poll_ms: u64,
    /// Scratch space for plan files being written before they are stored (default: next to a
    /// SQLite database, `<db>.work`; with PostgreSQL a directory under the system's temporary
    /// directory). Plans themselves are kept in the database.
    #[arg(long, env = "CATCHMENT_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// Connections to a PostgreSQL database this process opens.
    #[arg(long, env = "CATCHMENT_DB_CONNECTIONS", default_value_t = 4)]
    pub db_connections: usize,
    /// Bearer tokens, `read:SECRET` / `write:SECRET`, or `write:sha256:HEX` to give only the
    /// secret's SHA-256. Repeat the flag, or separate with commas in the environment variable.
    #[arg(long = "token", env = "CATCHMENT_TOKENS", value_delimiter = ',', hide_env_values = true)]
    pub tokens: Vec<String>,
    /// OSRM servers a request may name in `routing.osrm` (repeatable); none by default, so the
    /// service never fetches from an address a request chooses.
    #[arg(long = "osrm-allow", env = "CATCHMENT_OSRM_ALLOW", value_delimiter = ',')]
    pub osrm_allow: Vec<String>,
    /// The OSM extract (.osm.pbf) the allowed OSRM servers were prepared from: requests may
    /// then give pupils and blocks by street address (`street,house_number`), placed by the
    /// extract's address index (built once at start).
    #[arg(long, env = "CATCHMENT_OSM")]
    pub osm: Option<PathBuf>,
    /// Serve the publishable artefacts (summary, schools.csv, certificate.json) without a token.
    #[arg(long, env = "CATCHMENT_PUBLIC_ARTEFACTS")]
    pub public_artefacts: bool,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "CATCHMENT_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Time limit for one request, in seconds (`?wait=true` waits at most this long).
    #[arg(long, env = "CATCHMENT_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout: u64,
    /// Solves run at the same time (default: the number of CPU cores).
    #[arg(long, env = "CATCHMENT_MAX_SOLVES")]
    pub max_solves: Option<usize>,
    /// A job interrupted this many times (crashes while it ran, leases that ran out) is failed
    /// instead of resumed or taken over.
    #[arg(long, env = "CATCHMENT_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: u32,
    /// On SIGTERM/SIGINT, running solves get this many seconds to finish; the rest are put back
    /// in the queue and resumed at the next start.
    #[arg(long, env = "CATCHMENT_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// A job that cannot start because the store cannot write (disk full, the work directory
    /// not writable) is tried again this many times, waiting 1, 2, 4, ... (at most 30) seconds
    /// between tries, and then failed with the reason.
    #[arg(long, env = "CATCHMENT_START_RETRIES", default_value_t = 5)]
    pub start_retries: u32,
    /// Delete finished jobs, their plans and simulations, and finished scenario sets this many
    /// days after they finished (checked at start and every hour; freed pages are returned to
    /// the file system). Unset: kept until deleted by hand.
    #[arg(long, env = "CATCHMENT_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
}

/// What a `catchment serve` process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Answer requests; jobs are run by workers.
    Api,
    /// Run jobs (claimed from the database); answer requests too.
    Worker,
    /// Both (the single-machine set-up).
    All,
}

impl Role {
    /// The role's name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::Worker => "worker",
            Role::All => "all",
        }
    }
}

impl Config {
    /// Where the store is: `--db` read as a SQLite file or a PostgreSQL URL.
    pub fn target(&self) -> super::db::Target {
        super::db::Target::parse(&self.db)
    }
}
