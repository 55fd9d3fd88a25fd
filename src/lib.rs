//! catchment: optimal school catchment areas.
//!
//! The pipeline runs one way: input -> [`instance::Instance`]; routing -> [`routing::Matrix`];
//! [`solve`] -> [`Plan`] (with a [`solve::certificate::Certificate`]); [`report`] and
//! [`output`] turn a plan into files. The CLI (`src/main.rs`) is a thin shell over these
//! functions.

pub mod check;
pub mod dataset;
pub mod error;
pub mod instance;
pub mod output;
pub mod report;
pub mod routing;
pub mod server;
pub mod solve;

pub use error::{Error, Result};
pub use instance::{read_instance, Instance, Pupil, School};
pub use routing::Matrix;
pub use solve::SolverKind;

use error::Infeasibility;
use solve::certificate::{self, Certificate, Finding};
use solve::feasibility::Diagnosis;
use solve::{Problem, SolveError};

/// Objective and rules of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    pub solver: SolverKind,
    /// Pairs longer than this many meters are left out (a hard maximum walk).
    pub max_walk: Option<u32>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { solver: SolverKind::Lp, max_walk: None }
    }
}

/// The result of a run: every pupil's school (index into `Instance::schools`), the certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub assign: Vec<u32>,
    pub certificate: Certificate,
    pub solver: String,
    pub max_walk: Option<u32>,
    pub solve_seconds: f64,
}

/// Solve an instance: diagnose feasibility, solve, and certify the result.
pub fn solve_plan(inst: &Instance, m: &Matrix, policy: &Policy) -> Result<Plan> {
    let problem = Problem::pupil_level(inst, m, policy.max_walk)?;
    let started = std::time::Instant::now();
    let sol = solve::solve(&problem, policy.solver).map_err(|e| match e {
        SolveError::Infeasible(d) => Error::Infeasible(describe_infeasibility(inst, &d)),
        SolveError::Solver(msg) => Error::Solver(msg),
    })?;
    let solve_seconds = started.elapsed().as_secs_f64();
    let certificate = certificate::certify(&problem, &sol.assign).map_err(|f| {
        Error::Solver(format!(
            "the solver's plan failed the independent certificate check: {}",
            describe_findings(inst, &f).join("; ")
        ))
    })?;
    tracing::info!(solver = policy.solver.name(), objective = certificate.objective, seconds = solve_seconds, "solved");
    Ok(Plan { assign: sol.assign, certificate, solver: policy.solver.name().to_string(), max_walk: policy.max_walk, solve_seconds })
}

fn ids<T>(items: &[usize], all: &[T], id: impl Fn(&T) -> &str) -> String {
    const SHOWN: usize = 20;
    let mut v: Vec<String> = items.iter().take(SHOWN).map(|&i| format!("'{}'", id(&all[i]))).collect();
    if items.len() > SHOWN {
        v.push(format!("and {} more", items.len() - SHOWN));
    }
    v.join(", ")
}

/// Render diagnoses with school and pupil ids (never addresses).
pub fn describe_infeasibility(inst: &Instance, diagnoses: &[Diagnosis]) -> Vec<Infeasibility> {
    let pids = |u: &[usize]| ids(u, &inst.pupils, |p| &p.id);
    let sids = |s: &[usize]| ids(s, &inst.schools, |s| &s.id);
    let pid_list = |u: &[usize]| u.iter().map(|&i| inst.pupils[i].id.clone()).collect::<Vec<_>>();
    let sid_list = |s: &[usize]| s.iter().map(|&i| inst.schools[i].id.clone()).collect::<Vec<_>>();
    diagnoses
        .iter()
        .map(|d| {
            let (message, schools, pupils, shortfall) = match d {
                Diagnosis::NoAllowedSchool { units } => (
                    format!("{} pupil(s) have no allowed school (no route, or every school beyond the maximum walk): {}", units.len(), pids(units)),
                    vec![],
                    pid_list(units),
                    units.len() as u64,
                ),
                Diagnosis::FixedUnreachable { units } => (
                    format!("{} pupil(s) have a fixed school with no route to it: {}", units.len(), pids(units)),
                    vec![],
                    pid_list(units),
                    units.len() as u64,
                ),
                Diagnosis::FixedOverCapacity { school, fixed, capacity } => (
                    format!(
                        "school '{}' has {fixed} pupils with it as fixed school but only {capacity} seats: over by {}",
                        inst.schools[*school].id,
                        fixed - capacity
                    ),
                    sid_list(&[*school]),
                    vec![],
                    fixed - capacity,
                ),
                Diagnosis::Seats { pupils, seats } => (
                    format!("{pupils} pupils but only {seats} seats in all schools: short by {}", pupils - seats),
                    vec![],
                    vec![],
                    pupils - seats,
                ),
                Diagnosis::Minimums { pupils, minimums } => (
                    format!("the schools' minimums add up to {minimums} pupils but there are only {pupils}: over by {}", minimums - pupils),
                    vec![],
                    vec![],
                    minimums - pupils,
                ),
                Diagnosis::ReachableSeats { units, schools, pupils, seats } => (
                    format!(
                        "{pupils} pupil(s) ({}) can only reach school(s) {} with {seats} free seat(s): short by {}",
                        pids(units),
                        sids(schools),
                        pupils - seats
                    ),
                    sid_list(schools),
                    pid_list(units),
                    pupils - seats,
                ),
                Diagnosis::ReachableMinimums { schools, units, needed, available } => (
                    format!(
                        "school(s) {} need {needed} more pupil(s) to reach their minimums, but only {available} pupil(s) may go there{}: short by {}",
                        sids(schools),
                        if units.is_empty() { String::new() } else { format!(" ({})", pids(units)) },
                        needed - available
                    ),
                    sid_list(schools),
                    pid_list(units),
                    needed - available,
                ),
            };
            Infeasibility { kind: d.kind().to_string(), message, schools, pupils, shortfall }
        })
        .collect()
}

/// Render certificate findings with ids.
pub fn describe_findings(inst: &Instance, findings: &[Finding]) -> Vec<String> {
    let pid = |u: usize| inst.pupils.get(u).map(|p| p.id.as_str()).unwrap_or("?");
    let sid = |s: usize| inst.schools.get(s).map(|s| s.id.as_str()).unwrap_or("?");
    findings
        .iter()
        .map(|f| match f {
            Finding::WrongLength { expected, got } => format!("the plan assigns {got} pupils but the instance has {expected}"),
            Finding::UnknownSchool { unit, school } => format!("pupil '{}' is assigned to an unknown school #{school}", pid(*unit)),
            Finding::NotAllowed { unit, school } => {
                format!("pupil '{}' is assigned to school '{}', a pair with no route or beyond the maximum walk", pid(*unit), sid(*school))
            }
            Finding::FixedMoved { unit, fixed, school } => {
                format!("pupil '{}' must attend school '{}' but is assigned to '{}'", pid(*unit), sid(*fixed), sid(*school))
            }
            Finding::OverCapacity { school, load, capacity } => {
                format!("school '{}' is over capacity: {load} pupils for {capacity} seats", sid(*school))
            }
            Finding::UnderMinimum { school, load, minimum } => {
                format!("school '{}' is below its minimum: {load} pupils, minimum {minimum}", sid(*school))
            }
            Finding::Improvable { moves, saving } => {
                let m: Vec<String> =
                    moves.iter().map(|&(u, a, b)| format!("pupil '{}' from '{}' to '{}'", pid(u), sid(a), sid(b))).collect();
                format!("the plan is not optimal: moving {} saves {saving} m", m.join(", then "))
            }
            Finding::PriceViolated { unit, school, better, by } => format!(
                "price check: pupil '{}' at school '{}' would be {by} m better off (walk + price) at '{}'",
                pid(*unit),
                sid(*school),
                sid(*better)
            ),
            Finding::PriceAtSlackSchool { school, price } => format!(
                "price check: school '{}' has price {price} m but is neither full (positive) nor at its minimum (negative)",
                sid(*school)
            ),
            Finding::WrongPriceCount { expected, got } => format!("the certificate has {got} prices for {expected} schools"),
            Finding::NotUnitWeights => "the certificate applies to pupil-level plans only".to_string(),
        })
        .collect()
}
