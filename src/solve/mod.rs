//! The model and its solvers. No I/O: values in, values out.
//!
//! A [`Problem`] is the transportation problem of DESIGN.md: units (pupils, or blocks with a
//! weight) to schools with capacities and minimums, some units fixed. Before any solver runs,
//! [`feasibility::diagnose`] proves the instance feasible or says exactly why not. Every
//! solution is then checked by [`certificate::certify`], which needs no solver.

pub mod certificate;
pub mod contiguity;
pub mod facility;
pub mod feasibility;
pub mod flow;
pub mod lp;
pub mod partial;
pub mod pricing;
pub mod sparse;
pub mod stream;
pub mod transfer;
pub mod whole_streets;

use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::routing::{Matrix, UNREACHABLE};

/// The policy error of work that needs every pupil-school pair (`what`, e.g. "a comparison
/// with other districts") given a matrix of each pupil's nearest schools only.
pub fn partial_matrix_refused(what: &str) -> Error {
    Error::policy(
        format!(
            "{what} needs every pupil-school pair, but the matrix gives only each pupil's \
             nearest schools"
        ),
        Some(crate::error::Hint::new(
            "give every pupil-school pair and leave out the number of nearest schools",
            Some(crate::error::Setting::Nearest),
        )),
    )
}

/// The model's data, in index space. `cost[u * n_schools + s]` is the walking cost of unit `u`
/// at school `s` in meters — for a block, the sum over its pupils — [`UNREACHABLE`] where the
/// pair is not allowed. `weight[u]` is the number of pupils in the unit (its load).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Number of schools (the row length of `cost`).
    pub n_schools: usize,
    /// Seats per school: the most pupils (total weight) it may take.
    pub cap: Vec<u32>,
    /// Pupils each school must at least get (`min_pupils`; 0 for none).
    pub min: Vec<u32>,
    /// Row-major `n_units x n_schools` walking costs in meters; [`UNREACHABLE`] where not allowed.
    pub cost: Vec<u32>,
    /// Pupils per unit (1 at pupil level).
    pub weight: Vec<u32>,
    /// A school the unit must attend.
    pub fixed: Vec<Option<u32>>,
}

impl Problem {
    /// Number of units (pupils, or blocks and fixed pupils).
    pub fn n_units(&self) -> usize {
        self.weight.len()
    }

    /// The cost of unit `u` at school `s` in meters, `None` if the pair is not allowed.
    #[inline]
    pub fn cost(&self, u: usize, s: usize) -> Option<u32> {
        let c = self.cost[u * self.n_schools + s];
        (c != UNREACHABLE).then_some(c)
    }

    /// The cost row of unit `u`: one entry per school, [`UNREACHABLE`] included.
    #[inline]
    pub fn row(&self, u: usize) -> &[u32] {
        &self.cost[u * self.n_schools..(u + 1) * self.n_schools]
    }

    /// Whether every unit weighs 1 (the pupil-level problem the flow solver handles).
    pub fn unit_weights(&self) -> bool {
        self.weight.iter().all(|&w| w == 1)
    }

    /// Total pupils over all units.
    pub fn total_weight(&self) -> u64 {
        self.weight.iter().map(|&w| w as u64).sum()
    }

    /// The pupil-level problem of an instance. `max_walk` leaves out longer pairs, except a
    /// pupil's fixed school.
    pub fn pupil_level(inst: &Instance, m: &Matrix, max_walk: Option<u32>) -> Result<Problem> {
        if m.n_pupils != inst.pupils.len() || m.n_schools != inst.schools.len() {
            return Err(Error::internal(format!(
                "matrix is {} x {} but the instance has {} pupils and {} schools",
                m.n_pupils,
                m.n_schools,
                inst.pupils.len(),
                inst.schools.len()
            )));
        }
        if m.is_partial() {
            return Err(partial_matrix_refused("this step of the run"));
        }
        let fixed: Vec<Option<u32>> = inst
            .pupils
            .iter()
            .map(|p| p.fixed_school.as_deref().and_then(|f| inst.school_index(f)).map(|s| s as u32))
            .collect();
        let mut cost = m.meters.clone();
        if let Some(limit) = max_walk {
            let n_s = m.n_schools;
            for (u, row) in cost.chunks_mut(n_s).enumerate() {
                for (s, c) in row.iter_mut().enumerate() {
                    if *c != UNREACHABLE && *c > limit && fixed[u] != Some(s as u32) {
                        *c = UNREACHABLE;
                    }
                }
            }
        }
        Ok(Problem {
            n_schools: inst.schools.len(),
            cap: inst.schools.iter().map(|s| s.capacity).collect(),
            min: inst.schools.iter().map(|s| s.min_pupils).collect(),
            cost,
            weight: vec![1; inst.pupils.len()],
            fixed,
        })
    }

    /// The block-level problem: the pupils of a block form one unit (weight = pupils, cost =
    /// the sum of their walks); fixed pupils stay units of their own. Returns the problem and
    /// each pupil's unit. Units are ordered by block id, then fixed pupils by pupil order.
    pub fn block_level(inst: &Instance, pupils: &Problem) -> Result<(Problem, Vec<usize>)> {
        let n_s = pupils.n_schools;
        let mut keys: Vec<&str> = Vec::new();
        for p in &inst.pupils {
            match (&p.block, &p.fixed_school) {
                (_, Some(_)) => {}
                (Some(b), None) => keys.push(b),
                (None, None) => {
                    return Err(Error::input(
                        "pupils",
                        None,
                        Some("block"),
                        format!("pupil '{}' has no block: every pupil needs one for districts of whole blocks", p.id),
                    ))
                }
            }
        }
        keys.sort_by(|a, b| crate::instance::id_cmp(a, b));
        keys.dedup();
        let index: std::collections::HashMap<&str, usize> =
            keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let mut unit_of = vec![0usize; inst.pupils.len()];
        let mut next = keys.len();
        for (i, p) in inst.pupils.iter().enumerate() {
            unit_of[i] = match (&p.block, &p.fixed_school) {
                (Some(b), None) => index[b.as_str()],
                _ => {
                    next += 1;
                    next - 1
                }
            };
        }
        let n_u = next;
        let mut cost = vec![0u32; n_u * n_s];
        let mut weight = vec![0u32; n_u];
        let mut fixed = vec![None; n_u];
        for (i, &u) in unit_of.iter().enumerate() {
            weight[u] += 1;
            fixed[u] = pupils.fixed[i];
            for s in 0..n_s {
                let c = &mut cost[u * n_s + s];
                *c = match (pupils.cost(i, s), *c) {
                    (Some(x), acc) if acc != UNREACHABLE => {
                        acc.saturating_add(x).min(UNREACHABLE - 1)
                    }
                    _ => UNREACHABLE,
                };
            }
        }
        Ok((
            Problem {
                n_schools: n_s,
                cap: pupils.cap.clone(),
                min: pupils.min.clone(),
                cost,
                weight,
                fixed,
            },
            unit_of,
        ))
    }

    /// Total cost of an assignment (meters), `None` if a pair is not allowed.
    pub fn objective(&self, assign: &[u32]) -> Option<u64> {
        assign
            .iter()
            .enumerate()
            .try_fold(0u64, |acc, (u, &s)| self.cost(u, s as usize).map(|c| acc + c as u64))
    }

    /// Load per school of an assignment (pupils).
    pub fn loads(&self, assign: &[u32]) -> Vec<u64> {
        let mut load = vec![0u64; self.n_schools];
        for (u, &s) in assign.iter().enumerate() {
            load[s as usize] += self.weight[u] as u64;
        }
        load
    }
}

/// Which algorithm solves the pupil-level problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum SolverKind {
    /// The exact network-flow solver (successive shortest paths over school prices).
    Flow,
    /// The transportation LP through good_lp with Clp/Cbc (coin_cbc).
    Lp,
}

impl SolverKind {
    /// A human-readable name of the solver, as written to reports.
    pub fn name(self) -> &'static str {
        match self {
            SolverKind::Flow => "flow (successive shortest paths)",
            SolverKind::Lp => "lp (good_lp + coin_cbc)",
        }
    }
}

/// An assignment: the school index of every unit, and its total cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// The school of every unit (index into the problem's schools).
    pub assign: Vec<u32>,
    /// Total cost of the assignment in meters (see [`Problem::objective`]).
    pub objective: u64,
}

/// Why a solve did not return a solution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolveError {
    /// Proven infeasible before any solver ran, with the reasons.
    Infeasible(Vec<feasibility::Diagnosis>),
    /// The solver itself failed (a bug or a resource limit, never the instance's fault).
    Solver(String),
    /// The MIP solver's time limit ran out before it proved an optimum.
    TimeLimit {
        /// The time limit that ran out, in seconds.
        seconds: u32,
    },
    /// The caller's cancellation flag was raised ([`crate::cancel`]).
    Cancelled,
}

/// Diagnose feasibility, then solve with the chosen solver.
pub fn solve(problem: &Problem, kind: SolverKind) -> Result<Solution, SolveError> {
    let diagnosis = feasibility::diagnose(problem);
    if !diagnosis.is_empty() {
        return Err(SolveError::Infeasible(diagnosis));
    }
    if crate::cancel::cancelled() {
        return Err(SolveError::Cancelled);
    }
    match kind {
        SolverKind::Flow => flow_solve(problem),
        SolverKind::Lp => lp::solve(problem),
    }
}

/// Solve the pupil-level problem (unit weights) exactly with the flow solver. Feasibility is
/// diagnosed by the caller ([`solve`]); weighted units (whole blocks) go to the LP.
fn flow_solve(p: &Problem) -> Result<Solution, SolveError> {
    if !p.unit_weights() {
        return lp::solve(p);
    }
    if p.cost.iter().any(|&c| c as i64 >= flow::BIAS && c != crate::routing::UNREACHABLE) {
        return lp::solve(p);
    }
    if p.n_schools >= flow::PRUNE_FROM_SCHOOLS {
        let (solution, _, _) = pricing::solve(p, &p.cap, &p.min, &p.fixed, flow::PRUNE_K)?;
        return Ok(solution);
    }
    let bounds = flow::Bounds { cap: &p.cap, min: &p.min, fixed: &p.fixed };
    match flow::run(p, bounds, None) {
        Ok(state) => {
            let objective = p.objective(&state.assign).ok_or_else(|| {
                SolveError::Solver("the flow used a pair that is not allowed".into())
            })?;
            Ok(Solution { assign: state.assign, objective })
        }
        Err(flow::FlowError::CostTooLarge) => lp::solve(p),
        Err(flow::FlowError::Cancelled) => Err(SolveError::Cancelled),
        Err(flow::FlowError::Infeasible) => Err(SolveError::Solver(
            "the flow found no feasible assignment although the feasibility check passed".into(),
        )),
    }
}
