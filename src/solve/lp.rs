//! The transportation problem as an LP through good_lp with Clp/Cbc (`coin_cbc`): the
//! reference solver, and the home of side constraints.
//!
//! At pupil level the constraint matrix is totally unimodular, so the basic optimal solution
//! the simplex returns is integral; we still verify integrality and fail loudly otherwise.
//! With weighted units (whole blocks) the variables are binary and Cbc runs branch and bound.

use super::{Problem, Solution, SolveError};
use good_lp::{
    coin_cbc, variable, Expression, ProblemVariables, Solution as _, SolverModel, Variable,
};

const INTEGRALITY_TOL: f64 = 1e-6;

/// Time limit for Cbc's branch and bound on whole-block and class models.
pub const MIP_SECONDS: u32 = 300;

/// Whole classes: `min_size * k[s] <= load[s] <= size[s] * k[s]`, `k[s] <= max[s]`, integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRule {
    /// Largest class per school (its class size, in pupils), one entry per school.
    pub size: Vec<u32>,
    /// Most classes per school (its rooms, or as many classes as its seats hold).
    pub max: Vec<u32>,
    /// Smallest class allowed at every school, in pupils (0 for no minimum).
    pub min_size: u32,
}

/// The pupil-level (or block-level) problem without side constraints.
pub fn solve(p: &Problem) -> Result<Solution, SolveError> {
    solve_mip(p, None, None).map(|(s, _)| s)
}

/// Stability as a side constraint: of the units with a school last year (`previous[u]`), at
/// most `max_changed` are at another school; `forced` more units must change in any plan (their
/// school is gone) and count against the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepRule {
    /// Each unit's school last year (index into the problem's schools), `None` if it had none.
    pub previous: Vec<Option<u32>>,
    /// Units that must change school in any plan (their school is gone); they count against
    /// `max_changed`.
    pub forced: u32,
    /// The most units that may change school, `forced` ones included.
    pub max_changed: u32,
}

/// Solve with optional class rules and an optional cap on units that change school; returns
/// the solution and, with class rules, the classes per school. With weighted units, class rules
/// or a cap this is a MIP solved by Cbc's branch and bound.
pub fn solve_mip(
    p: &Problem,
    classes: Option<&ClassRule>,
    keep: Option<&KeepRule>,
) -> Result<(Solution, Option<Vec<u32>>), SolveError> {
    let n_s = p.n_schools;
    let integer = !p.unit_weights() || keep.is_some();
    let mut vars = ProblemVariables::new();
    // x[u] = list of (school, variable) for free units.
    let mut x: Vec<Vec<(usize, Variable)>> = Vec::with_capacity(p.n_units());
    let mut objective = Expression::with_capacity(p.cost.len());
    let mut fixed_load = vec![0u64; n_s];
    let mut school_terms: Vec<Vec<(f64, Variable)>> = vec![Vec::new(); n_s];
    for u in 0..p.n_units() {
        let w = p.weight[u] as f64;
        if let Some(s) = p.fixed[u] {
            fixed_load[s as usize] += p.weight[u] as u64;
            x.push(Vec::new());
            continue;
        }
        let mut row = Vec::new();
        for s in 0..n_s {
            if let Some(c) = p.cost(u, s) {
                let v = if integer {
                    vars.add(variable().binary())
                } else {
                    vars.add(variable().min(0.0).max(1.0))
                };
                objective.add_mul(c as f64, v);
                school_terms[s].push((w, v));
                row.push((s, v));
            }
        }
        x.push(row);
    }
    let k: Option<Vec<Variable>> = classes.map(|rule| {
        (0..n_s).map(|s| vars.add(variable().integer().min(0).max(rule.max[s] as f64))).collect()
    });
    let mut model = vars.minimise(objective).using(coin_cbc);
    model.set_parameter("log", "0");
    model.set_parameter("slogLevel", "0");
    if integer || classes.is_some() {
        // The LP relaxation of these models is nearly integral (it splits at most
        // #schools - 1 blocks), so plain branch and bound is fastest: measured on the demo's
        // whole-block model, 30.8 s of CPU with Cbc's defaults, 3.1 s without preprocessing,
        // cuts and heuristics — same optimum. These settings change speed, never the result.
        model.set_parameter("preprocess", "off");
        model.set_parameter("cuts", "off");
        model.set_parameter("heuristics", "off");
        model.set_parameter("seconds", &MIP_SECONDS.to_string());
    }
    if let Some(rule) = keep {
        // kept = units at last year's school; changed = counted - kept + forced <= max.
        let mut kept = Expression::with_capacity(p.n_units());
        let mut counted = 0u64;
        for (u, row) in x.iter().enumerate() {
            let Some(t) = rule.previous.get(u).copied().flatten() else { continue };
            if p.fixed[u].is_some() {
                continue;
            }
            counted += 1;
            if let Some(&(_, v)) = row.iter().find(|&&(s, _)| s as u32 == t) {
                kept.add_mul(1.0, v);
            }
        }
        let need = counted as f64 + rule.forced as f64 - rule.max_changed as f64;
        if need > 0.0 {
            model.add_constraint(kept.geq(need));
        }
    }
    for row in &x {
        if !row.is_empty() {
            let e: Expression = row.iter().map(|&(_, v)| v).sum();
            model.add_constraint(e.eq(1.0));
        }
    }
    for s in 0..n_s {
        let terms = &school_terms[s];
        let free_cap = p.cap[s] as f64 - fixed_load[s] as f64;
        let free_min = p.min[s] as f64 - fixed_load[s] as f64;
        let mut e = Expression::with_capacity(terms.len());
        for &(w, v) in terms {
            e.add_mul(w, v);
        }
        if free_min > 0.0 {
            model.add_constraint(e.clone().geq(free_min));
        }
        if let (Some(rule), Some(k)) = (classes, &k) {
            // load = e + fixed_load within [min_size * k, size * k].
            let load = e.clone() + fixed_load[s] as f64;
            model.add_constraint((load.clone() - rule.size[s] as f64 * k[s]).leq(0.0));
            if rule.min_size > 0 {
                model.add_constraint((load - rule.min_size as f64 * k[s]).geq(0.0));
            }
        }
        model.add_constraint(e.leq(free_cap));
    }
    // Cbc cannot be interrupted once it runs (see `crate::cancel`): the last point before it.
    if crate::cancel::cancelled() {
        return Err(SolveError::Cancelled);
    }
    let sol = model.solve().map_err(|e| match e {
        good_lp::ResolutionError::Infeasible if integer || classes.is_some() => {
            SolveError::Infeasible(vec![super::feasibility::Diagnosis::WholeUnits])
        }
        e => SolveError::Solver(format!("Cbc: {e}")),
    })?;
    if matches!(sol.status(), good_lp::solvers::SolutionStatus::TimeLimit) {
        return Err(SolveError::TimeLimit { seconds: MIP_SECONDS });
    }
    let mut assign = Vec::with_capacity(p.n_units());
    for (u, row) in x.iter().enumerate() {
        if let Some(s) = p.fixed[u] {
            assign.push(s);
            continue;
        }
        let mut chosen = None;
        for &(s, v) in row {
            let val = sol.value(v);
            if (val - val.round()).abs() > INTEGRALITY_TOL {
                return Err(SolveError::Solver(format!(
                    "the LP returned a fractional value {val:.6} for unit {u}"
                )));
            }
            if val.round() == 1.0 {
                chosen = Some(s as u32);
            }
        }
        match chosen {
            Some(s) => assign.push(s),
            None => return Err(SolveError::Solver(format!("the LP left unit {u} unassigned"))),
        }
    }
    let objective = p
        .objective(&assign)
        .ok_or_else(|| SolveError::Solver("the LP used a pair that is not allowed".into()))?;
    let k = k.map(|k| k.iter().map(|&v| sol.value(v).round() as u32).collect());
    Ok((Solution { assign, objective }, k))
}
