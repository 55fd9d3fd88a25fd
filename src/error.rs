//! Error types shared by every stage. Messages never contain a pupil's address or coordinates:
//! they name the file, the line, the field and, at most, a pupil id.

use std::fmt;

/// One problem found in the input: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputProblem {
    pub file: String,
    /// 1-based line number in the file (the header is line 1), when the problem has one.
    pub line: Option<u64>,
    pub field: Option<String>,
    pub message: String,
}

impl InputProblem {
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
    pub message: String,
    pub schools: Vec<String>,
    pub pupils: Vec<String>,
    /// By how many pupils (or seats) the instance falls short.
    pub shortfall: u64,
}

impl fmt::Display for Infeasibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input:\n{}", list(.0))]
    Input(Vec<InputProblem>),
    #[error("infeasible instance: no plan can satisfy every rule:\n{}", list(.0))]
    Infeasible(Vec<Infeasibility>),
    /// The routing service failed or could not route every pupil (messages carry ids, never
    /// coordinates).
    #[error("{0}")]
    Routing(String),
    #[error("solver failed: {0}")]
    Solver(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A lookup (block, address, street) that matches nothing.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
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
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }
    pub fn input(
        file: &str,
        line: Option<u64>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::Input(vec![InputProblem::new(file, line, field, message)])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
