//! `catchment check`: verify a plan from its files alone — feasibility, the objective, and
//! optimality — independent of whichever solver made it.

use crate::error::Result;
use crate::instance::Instance;
use crate::output::read_plan;
use crate::routing::Matrix;
use crate::solve::certificate::{certify, check_feasible, verify_prices};
use crate::solve::Problem;
use crate::{describe_findings, report::Summary};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckReport {
    pub feasible: bool,
    /// The objective recomputed from the matrix equals the one in certificate.json.
    pub objective_ok: bool,
    pub optimal: bool,
    /// The prices in certificate.json prove optimality on their own.
    pub prices_ok: bool,
    pub objective_m: Option<u64>,
    pub failures: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.feasible && self.objective_ok && self.optimal && self.prices_ok && self.failures.is_empty()
    }
}

/// Check the plan in `dir` against the instance and matrix. The maximum walk the plan was
/// solved with is read from its summary.json (or given).
pub fn check_plan(inst: &Instance, m: &Matrix, dir: &Path, max_walk: Option<u32>) -> Result<CheckReport> {
    let files = read_plan(dir, inst)?;
    let max_walk = max_walk.or_else(|| {
        let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
        serde_json::from_str::<Summary>(&text).ok()?.solver.max_walk_m
    });
    let problem = Problem::pupil_level(inst, m, max_walk)?;
    let mut failures = files.problems.clone();
    let mut report =
        CheckReport { feasible: false, objective_ok: false, optimal: false, prices_ok: false, objective_m: None, failures: vec![] };
    if files.assign.iter().any(Option::is_none) {
        report.failures = failures;
        return Ok(report);
    }
    let assign: Vec<u32> = files.assign.iter().map(|a| a.unwrap()).collect();
    let findings = check_feasible(&problem, &assign);
    report.feasible = findings.is_empty();
    failures.extend(describe_findings(inst, &findings));
    report.objective_m = problem.objective(&assign);
    match (&files.certificate, report.objective_m) {
        (Some(c), Some(obj)) if c.objective_m == obj => report.objective_ok = true,
        (Some(c), Some(obj)) => failures.push(format!(
            "certificate.json states an objective of {} m but the assignments add up to {obj} m",
            c.objective_m
        )),
        (None, _) => failures.push("certificate.json is missing".into()),
        (Some(_), None) => {}
    }
    if report.feasible {
        match certify(&problem, &assign) {
            Ok(_) => report.optimal = true,
            Err(f) => failures.extend(describe_findings(inst, &f)),
        }
        if let Some(c) = &files.certificate {
            let mut prices = vec![0i64; inst.schools.len()];
            let mut missing = Vec::new();
            for (s, school) in inst.schools.iter().enumerate() {
                match c.prices.iter().find(|p| p.school_id == school.id) {
                    Some(p) => prices[s] = p.price_m,
                    None => missing.push(school.id.clone()),
                }
            }
            if !missing.is_empty() {
                failures.push(format!("certificate.json has no price for school(s) {}", missing.join(", ")));
            } else {
                let f = verify_prices(&problem, &assign, &prices);
                report.prices_ok = f.is_empty();
                failures.extend(describe_findings(inst, &f));
            }
        }
    }
    report.failures = failures;
    Ok(report)
}
