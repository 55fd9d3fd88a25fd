//! `catchment serve` settings: flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `catchment serve` settings: each a command-line flag with an environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on (port 0: any free port; the address is printed on stdout).
    #[arg(long, env = "CATCHMENT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file for jobs and plans (created if missing).
    #[arg(long, env = "CATCHMENT_DB", default_value = "catchment.db")]
    pub db: PathBuf,
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
    /// A job interrupted this many times (crashes while it ran) is failed instead of resumed.
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
