//! `catchment check`: verify a plan from its files alone — feasibility, the objective, and
//! optimality — independent of whichever solver made it.

use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::output::read_plan;
use crate::routing::Matrix;
use crate::solve::certificate::{certify, check_feasible, verify_prices};
use crate::solve::Problem;
use crate::{describe_findings, report::Summary, Unit};
use std::path::Path;

/// The outcome of [`check_plan`]: which checks passed, and a message per failure.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckReport {
    /// Every pupil has a school, and capacities, minimums and fixed schools hold.
    pub feasible: bool,
    /// The objective recomputed from the matrix equals the one in certificate.json.
    pub objective_ok: bool,
    /// The independent certificate check found the plan optimal (pupil-level plans only).
    pub optimal: bool,
    /// The prices in certificate.json prove optimality on their own.
    pub prices_ok: bool,
    /// Total walk of the plan recomputed from the matrix, in meters (`None` if a pair is not
    /// allowed or a pupil has no school).
    pub objective_m: Option<u64>,
    /// A whole-block or class plan (a MIP): optimality is not certified, only feasibility,
    /// whole blocks, whole classes and the objective are checked.
    pub mip: bool,
    /// One human-readable message per problem found, with pupil and school ids.
    pub failures: Vec<String>,
}

impl CheckReport {
    /// Whether the plan passed every check that applies to it (optimality not for MIP plans).
    pub fn ok(&self) -> bool {
        self.feasible
            && self.objective_ok
            && (self.mip || (self.optimal && self.prices_ok))
            && self.failures.is_empty()
    }
}

/// Check the plan in `dir` against the instance and matrix. The maximum walk the plan was
/// solved with is read from its summary.json (or given).
pub fn check_plan(
    inst: &Instance,
    m: &Matrix,
    dir: &Path,
    max_walk: Option<u32>,
) -> Result<CheckReport> {
    let files = read_plan(dir, inst)?;
    // The policy the plan was solved under: without it optimality cannot be judged.
    let summary_path = dir.join("summary.json");
    let text = std::fs::read_to_string(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
    let summary: Summary = serde_json::from_str(&text).map_err(|e| {
        Error::input(
            "summary.json",
            Some(e.line() as u64),
            None,
            format!("cannot be read ({e}): the plan's policy is unknown"),
        )
    })?;
    let solver = Some(summary.solver);
    let max_walk = max_walk.or_else(|| solver.as_ref()?.max_walk_m);
    let unit = solver.as_ref().map(|s| s.unit).unwrap_or_default();
    let min_class_size = solver.as_ref().and_then(|s| s.min_class_size);
    let adjusted;
    let inst = match solver.as_ref().and_then(|s| s.max_class_size) {
        Some(size) => {
            adjusted = crate::with_class_size(inst, size);
            &adjusted
        }
        None => inst,
    };
    let mip = unit == Unit::Block || min_class_size.is_some();
    let walk_problem = Problem::pupil_level(inst, m, max_walk)?;
    // A plan kept close to last year's districts: optimal on walk + change cost.
    let stability = summary.stability;
    let previous = match &stability {
        Some(_) => Some(crate::stability::read_previous(&dir.join(crate::output::PREVIOUS_FILE))?),
        None => None,
    };
    let problem = match (&stability, &previous) {
        (Some(st), Some(prev)) => match st.change_cost_m {
            Some(c) => {
                crate::stability::penalise(&walk_problem, &crate::stability::before(inst, prev), c)
            }
            None => walk_problem.clone(),
        },
        _ => walk_problem.clone(),
    };
    let mut failures = files.problems.clone();
    let mut report = CheckReport {
        feasible: false,
        objective_ok: false,
        optimal: false,
        prices_ok: false,
        objective_m: None,
        mip,
        failures: vec![],
    };
    if files.assign.iter().any(Option::is_none) {
        report.failures = failures;
        return Ok(report);
    }
    let assign: Vec<u32> = files.assign.iter().map(|a| a.unwrap()).collect();
    let findings = check_feasible(&problem, &assign);
    report.feasible = findings.is_empty();
    failures.extend(describe_findings(inst, &findings));
    report.objective_m = walk_problem.objective(&assign);
    if let (Some(st), Some(prev)) = (&stability, &previous) {
        if let Some(cap) = st.max_changed_blocks {
            let (_, changed, _) =
                crate::stability::changes(inst, &crate::stability::before(inst, prev), &assign);
            if changed > cap as usize {
                failures.push(format!("{changed} blocks change school against last year's districts, more than the cap of {cap}"));
            }
        }
    }
    match (&files.certificate, report.objective_m) {
        (Some(c), Some(obj)) if c.objective_m == obj => report.objective_ok = true,
        (Some(c), Some(obj)) => failures.push(format!(
            "certificate.json states an objective of {} m but the assignments add up to {obj} m",
            c.objective_m
        )),
        (None, _) => failures.push("certificate.json is missing".into()),
        (Some(_), None) => {}
    }
    if mip {
        let before = failures.len();
        if unit == Unit::Block {
            let mut school_of: std::collections::HashMap<&str, (u32, &str)> =
                std::collections::HashMap::new();
            for (p, pupil) in inst.pupils.iter().enumerate() {
                if pupil.fixed_school.is_some() {
                    continue;
                }
                let Some(b) = pupil.block.as_deref() else { continue };
                match school_of.get(b) {
                    Some(&(s, other)) if s != assign[p] => failures.push(format!(
                        "block '{b}' is split: pupil '{}' goes to '{}', pupil '{other}' to '{}'",
                        pupil.id, inst.schools[assign[p] as usize].id, inst.schools[s as usize].id
                    )),
                    Some(_) => {}
                    None => {
                        school_of.insert(b, (assign[p], &pupil.id));
                    }
                }
            }
        }
        if let Some(min) = min_class_size {
            let load = problem.loads(&assign);
            for (s, school) in inst.schools.iter().enumerate() {
                let l = load[s];
                if !crate::plan::fits_whole_classes(school, l, min) {
                    failures.push(format!(
                        "school '{}' has {l} pupils: no number of classes of {min} to {} pupils fits",
                        school.id, school.class_size
                    ));
                }
            }
        }
        report.feasible = report.feasible && failures.len() == before;
    } else if report.feasible {
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
                failures.push(format!(
                    "certificate.json has no price for school(s) {}",
                    missing.join(", ")
                ));
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
