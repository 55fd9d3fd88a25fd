//! Error types shared by every stage. Messages never contain a pupil's address or coordinates:
//! they name the file, the line, the field and, at most, a pupil id.

use std::fmt;

/// One problem found in the input: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputProblem {
    /// Which input the problem is in: a file name, or a label such as `schools.geojson feature`.
    pub file: String,
    /// 1-based line number in the file (the header is line 1), when the problem has one.
    pub line: Option<u64>,
    /// The column or property at fault, when the problem is about one field.
    pub field: Option<String>,
    /// What is wrong, in words free of addresses and coordinates.
    pub message: String,
}

impl InputProblem {
    /// A problem in `file` at `line` (1-based, if any), about `field` (if any).
    pub fn new(
        file: &str,
        line: Option<u64>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        InputProblem {
            file: file.to_string(),
            line,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            // JSON and GeoJSON inputs number their items instead of lines.
            if self.file.ends_with(" feature") || self.file.ends_with(" item") {
                write!(f, " {line}")?;
            } else {
                write!(f, ":{line}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field '{field}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why an instance has no feasible plan, found before any solver runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Infeasibility {
    /// Machine-readable kind: `seats`, `minimums`, `fixed_over_capacity`, `no_allowed_school`,
    /// `reachable_seats`, `reachable_minimums`.
    pub kind: String,
    /// The human-readable explanation: schools by id, pupils counted, never named.
    pub message: String,
    /// Ids of the schools involved (may be empty).
    pub schools: Vec<String>,
    /// Ids of the pupils involved (may be empty): pupil-level detail, for the pupils' owner
    /// only (the CLI prints it to its operator; the service answers it to the submitter's write
    /// token and keeps it out of anything stored or shown to a read token).
    pub pupils: Vec<String>,
    /// By how many pupils (or seats) the instance falls short.
    pub shortfall: u64,
}

impl fmt::Display for Infeasibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A setting a user can change, named independently of any shell: the CLI renders it as a
/// flag, the HTTP service as a request field, so library messages never name either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// The largest class allowed at every school (policy `max_class_size`).
    MaxClassSize,
    /// Districts of whole blocks (policy `unit = block`).
    UnitBlock,
    /// The change cost against last year's districts.
    ChangeCost,
    /// The city's blocks (for published districts).
    Blocks,
    /// The city's named streets (for the street list of grid blocks).
    Streets,
    /// Contiguous districts (policy `contiguous`).
    Contiguous,
    /// Leave unroutable pairs out instead of failing.
    AllowUnreachable,
    /// Leave pupils whose address was not found out instead of failing.
    SkipUngeocoded,
    /// The OSM extract (geocoding, cache key).
    Osm,
    /// Locations per OSRM request (the server's `--max-table-size`).
    OsrmTableSize,
    /// The OSRM servers the service allows (an operator setting).
    OsrmAllow,
    /// How many of each pupil's nearest schools a partial matrix gives (policy `nearest`).
    Nearest,
}

/// What a user can do about an error: a sentence free of flag names, and the setting it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The advice, one sentence that names no CLI flag or request field.
    pub text: String,
    /// The setting the advice is about, so each shell can name it its own way.
    pub setting: Option<Setting>,
}

impl Hint {
    /// A hint with `text` about `setting`.
    pub fn new(text: impl Into<String>, setting: Option<Setting>) -> Self {
        Hint { text: text.into(), setting }
    }
}

/// Every error of the library. The variant decides the CLI's exit code
/// ([`Error::exit_code`]) and the HTTP status ([`Error::http_status`]); user mistakes have
/// named variants, and `Internal` is only what no input can cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input files or fields are malformed (file, line, field, message).
    #[error("invalid input:\n{}", list(.0))]
    Input(Vec<InputProblem>),
    /// The rules contradict each other or the instance (e.g. a minimum class size above a
    /// school's class size).
    #[error("invalid policy: {message}")]
    Policy {
        /// Which rule is at fault and why.
        message: String,
        /// What the user can do about it, when known.
        hint: Option<Hint>,
    },
    /// Street addresses that could not be placed.
    #[error("geocoding: {message}")]
    Geocoding {
        /// Which addresses failed (by pupil id) and why.
        message: String,
        /// What the user can do about it, when known.
        hint: Option<Hint>,
    },
    /// No plan satisfies every rule (found before any solver runs, or by the MIP).
    #[error("infeasible instance: no plan can satisfy every rule:\n{}", list(.0))]
    Infeasible(Vec<Infeasibility>),
    /// The MIP solver did not prove an optimum within its time limit.
    #[error("{message} (time limit {seconds} s)")]
    TimeLimit {
        /// The time limit that ran out, in seconds.
        seconds: u32,
        /// Which solve did not finish in time.
        message: String,
        /// What the user can do about it, when known.
        hint: Option<Hint>,
    },
    /// The routing service failed or could not route every pupil (messages carry ids, never
    /// coordinates).
    #[error("{message}")]
    Routing {
        /// What failed, naming pupils and schools by id only.
        message: String,
        /// What the user can do about it, when known.
        hint: Option<Hint>,
    },
    /// A lookup (block, address, street, file of a plan) that matches nothing.
    #[error("{message}")]
    NotFound {
        /// What was looked up and not found.
        message: String,
        /// What the user can do about it, when known.
        hint: Option<Hint>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The solver failed in a way no input explains.
    #[error("solver failed: {0}")]
    Solver(String),
    /// A broken invariant: a bug, never the user's mistake.
    #[error("internal error: {0}")]
    Internal(String),
    /// The work was stopped at a cancellation point because its caller raised its flag
    /// (`cancel::Cancel`): the service stopping, or the request going away. Never the input's
    /// fault, and never raised where no flag was given (the CLI).
    #[error("cancelled: the work was stopped before it finished")]
    Cancelled,
}

/// Exit codes of the CLI, one per error class (documented in `catchment --help`).
pub mod exit {
    /// Any failure that is not the input's: I/O, routing service, solver, internal.
    pub const ERROR: u8 = 1;
    /// The command line is malformed.
    pub const USAGE: u8 = 2;
    /// Input, policy, geocoding or lookup mistakes.
    pub const INVALID: u8 = 3;
    /// No plan satisfies every rule.
    pub const INFEASIBLE: u8 = 4;
    /// `catchment check` found the plan wrong.
    pub const CHECK_FAILED: u8 = 5;
    /// The MIP solver's time limit ran out before it proved an optimum.
    pub const TIME_LIMIT: u8 = 6;
    /// `catchment batch`: some scenarios could not be solved; the comparison (written, with
    /// the others' plans) says why.
    pub const SCENARIOS_FAILED: u8 = 7;
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    const SHOWN: usize = 50;
    let mut out: Vec<String> = items.iter().take(SHOWN).map(|p| format!("  - {p}")).collect();
    if items.len() > SHOWN {
        out.push(format!("  ... and {} more", items.len() - SHOWN));
    }
    out.join("\n")
}

impl Error {
    /// An I/O error while reading or writing `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }
    /// An input error with a single problem (see [`InputProblem::new`]).
    pub fn input(
        file: &str,
        line: Option<u64>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::Input(vec![InputProblem::new(file, line, field, message)])
    }

    /// A CSV error of `file`: an I/O failure, or malformed content (an input problem with the
    /// line where the reader stopped).
    pub fn csv(file: &str, e: csv::Error) -> Self {
        let line = e.position().map(|p| p.line());
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(source) => Error::Io { path: file.to_string(), source },
            _ => Error::input(file, line, None, message),
        }
    }

    /// A policy mistake with what to change.
    pub fn policy(message: impl Into<String>, hint: Option<Hint>) -> Self {
        Error::Policy { message: message.into(), hint }
    }

    /// A lookup that matches nothing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound { message: message.into(), hint: None }
    }

    /// A routing failure.
    pub fn routing(message: impl Into<String>) -> Self {
        Error::Routing { message: message.into(), hint: None }
    }

    /// A broken invariant.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// A machine-readable kind, the `error` field of the HTTP service's answers.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Input(_) => "invalid_input",
            Error::Policy { .. } => "invalid_policy",
            Error::Geocoding { .. } => "geocoding",
            Error::Infeasible(_) => "infeasible",
            Error::TimeLimit { .. } => "time_limit",
            Error::Routing { .. } => "routing",
            Error::NotFound { .. } => "not_found",
            Error::Io { .. } | Error::Solver(_) | Error::Internal(_) => "internal",
            Error::Cancelled => "cancelled",
        }
    }

    /// Whether the error is the user's to fix (input, policy, geocoding, infeasibility, time
    /// limit, lookup) rather than the system's or the routing service's.
    pub fn is_user_error(&self) -> bool {
        self.exit_code() == exit::INVALID
            || matches!(self, Error::Infeasible(_) | Error::TimeLimit { .. })
    }

    /// The CLI's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_)
            | Error::Policy { .. }
            | Error::Geocoding { .. }
            | Error::NotFound { .. } => exit::INVALID,
            Error::Infeasible(_) => exit::INFEASIBLE,
            Error::TimeLimit { .. } => exit::TIME_LIMIT,
            Error::Routing { .. }
            | Error::Io { .. }
            | Error::Solver(_)
            | Error::Internal(_)
            | Error::Cancelled => exit::ERROR,
        }
    }

    /// The HTTP status for this error: 422 for the request's mistakes, 404 for lookups, 502
    /// for the routing service, 500 for the rest.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Input(_)
            | Error::Policy { .. }
            | Error::Geocoding { .. }
            | Error::Infeasible(_)
            | Error::TimeLimit { .. } => 422,
            Error::NotFound { .. } => 404,
            Error::Routing { .. } => 502,
            Error::Io { .. } | Error::Solver(_) | Error::Internal(_) => 500,
            Error::Cancelled => 503,
        }
    }

    /// What the user can do, when the library knows.
    pub fn hint(&self) -> Option<&Hint> {
        match self {
            Error::Policy { hint, .. }
            | Error::Geocoding { hint, .. }
            | Error::TimeLimit { hint, .. }
            | Error::Routing { hint, .. }
            | Error::NotFound { hint, .. } => hint.as_ref(),
            _ => None,
        }
    }

    /// The same error with `prefix: ` before its message (e.g. the scenario it happened in),
    /// keeping its variant and so its exit code and HTTP status.
    pub fn context(self, prefix: &str) -> Self {
        let pre = |m: String| format!("{prefix}: {m}");
        match self {
            Error::Input(v) => Error::Input(
                v.into_iter()
                    .map(|mut p| {
                        p.message = pre(p.message);
                        p
                    })
                    .collect(),
            ),
            Error::Infeasible(v) => Error::Infeasible(
                v.into_iter()
                    .map(|mut i| {
                        i.message = pre(i.message);
                        i
                    })
                    .collect(),
            ),
            Error::Policy { message, hint } => Error::Policy { message: pre(message), hint },
            Error::Geocoding { message, hint } => Error::Geocoding { message: pre(message), hint },
            Error::TimeLimit { seconds, message, hint } => {
                Error::TimeLimit { seconds, message: pre(message), hint }
            }
            Error::Routing { message, hint } => Error::Routing { message: pre(message), hint },
            Error::NotFound { message, hint } => Error::NotFound { message: pre(message), hint },
            Error::Io { path, source } => Error::Io { path: pre(path), source },
            Error::Solver(m) => Error::Solver(pre(m)),
            Error::Internal(m) => Error::Internal(pre(m)),
            Error::Cancelled => Error::Cancelled,
        }
    }
}

/// The library's result type, with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
