//! Contiguous districts in index space: every unit (block) to exactly one school, within
//! capacity, with the least total walk, and every school's district one connected piece of a
//! neighbour graph containing the school's own unit (its root).
//!
//! - [`solve_exact`]: a MIP (binary `x[u][s]`) solved again and again by Cbc, each time with the
//!   cuts the last answer violated (good_lp has no lazy-constraint callbacks). A piece `P` of
//!   school `s`'s district without `s`'s root gets, for every `u` in `P`,
//!   `x[u][s] <= sum over v in N(P) of x[v][s]` (`N(P)`: the neighbours of `P` outside `P`):
//!   a path from `u` to the root leaves `P` through some `v` of `N(P)`, which then belongs to
//!   `s` too. The cut is valid for every contiguous plan and violated by the last answer (all of
//!   `N(P)` is at other schools, else `P` would be larger), so the loop ends, and it ends at a
//!   proven optimum: each MIP is a relaxation of the contiguous problem. The single-unit cuts
//!   (`P = {u}`) are added from the start; they are cuts of the same family, so exactness stays.
//! - [`local_search`]: the heuristic for instances too large for that: regrow the districts
//!   from their roots by priced regret, repair enclaves, restore capacity by ejection chains,
//!   then move single border units and swap pairs while the walk decreases.
//!
//! With [`Classes`] (a minimum class size) both keep every school at whole classes or none:
//! the MIP by an integer class count per school, the local search by bringing every school to
//! such a load ([`ContiguousProblem::violation`]) and refusing every move away from it.
//!
//! This module is the solve layer's: plain vectors in, no blocks and no files.

use super::feasibility::Diagnosis;
use super::SolveError;
use crate::routing::UNREACHABLE;
use good_lp::{
    coin_cbc, variable, Expression, ProblemVariables, Solution as _, SolverModel, Variable,
};
use std::collections::HashSet;
use std::time::Instant;

const INTEGRALITY_TOL: f64 = 1e-6;

/// A districting problem with contiguity, in index space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContiguousProblem {
    /// Number of schools.
    pub n_schools: usize,
    /// Seats per school (pupils).
    pub cap: Vec<u32>,
    /// `cost[u * n_schools + s]`: walk of unit `u`'s pupils to school `s` in meters;
    /// [`UNREACHABLE`] where the pair is not allowed.
    pub cost: Vec<u32>,
    /// Pupils per unit; 0 for blocks without pupils (they still belong to a district).
    pub weight: Vec<u32>,
    /// Per school: its own unit (the block it stands in), always in its district. Roots must be
    /// distinct: two schools in one block cannot both have it; the caller gives one of them a
    /// neighbouring block (or merges them) before solving.
    pub root: Vec<usize>,
    /// Per unit: its neighbours (symmetric, no self loops).
    pub neighbours: Vec<Vec<usize>>,
    /// Whole classes (a minimum class size), when the policy asks for them: every school's
    /// pupils form whole classes, or the school has none ([`ContiguousProblem::violation`]).
    pub classes: Option<Classes>,
}

/// Whole classes for contiguous districts, as the whole-class MIP of the pupil and block
/// levels models them ([`super::lp::ClassRule`]): school `s`'s pupils, its `fixed[s]` fixed
/// pupils included, are `0` (no class) or form `k` classes of `rule.min_size` to
/// `rule.size[s]` pupils with `1 <= k <= rule.max[s]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes {
    /// Class sizes, the most classes per school and the smallest class.
    pub rule: super::lp::ClassRule,
    /// Per school: its fixed pupils (not in any unit; their seats are already taken off `cap`).
    pub fixed: Vec<u32>,
}

/// The answer of [`solve_exact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContiguousSolution {
    /// The school of every unit.
    pub assign: Vec<u32>,
    /// Total walk (meters).
    pub objective: u64,
    /// MIP solves.
    pub iterations: u32,
    /// Connectivity cuts added after the first solve.
    pub cuts: usize,
    /// The largest lower bound proven (the last relaxation's optimum); equal to `objective`
    /// when `proved_optimal`.
    pub lower_bound: u64,
    /// False when the time limit ran out first: `assign` is then the best contiguous plan
    /// found (a relaxation's answer repaired by [`local_search`]).
    pub proved_optimal: bool,
}

impl ContiguousProblem {
    /// The problem on groups of units kept together (say the blocks of one street segment):
    /// each group's units that are connected among themselves become one unit (weights and
    /// costs summed, a pair not allowed for any member not allowed), the units of no group stay
    /// as they are, and a group holding two schools' roots leaves those roots out. Returns the
    /// problem and each original unit's new unit; a plan of the new problem is one of the old
    /// by `assign[unit_of[u]]`, contiguous when the new one is.
    pub fn contract(&self, groups: &[Vec<usize>]) -> (ContiguousProblem, Vec<usize>) {
        let n = self.n_units();
        let mut is_root = vec![false; n];
        self.root.iter().for_each(|&r| is_root[r] = true);
        let mut group_of = vec![usize::MAX; n];
        for (g, units) in groups.iter().enumerate() {
            let roots = units.iter().filter(|&&u| is_root[u]).count();
            for &u in units {
                if u < n && group_of[u] == usize::MAX && !(roots > 1 && is_root[u]) {
                    group_of[u] = g;
                }
            }
        }
        // New units: connected pieces of each group (in the units' own adjacency), singletons.
        let mut unit_of = vec![usize::MAX; n];
        let mut next = 0usize;
        for start in 0..n {
            if unit_of[start] != usize::MAX {
                continue;
            }
            unit_of[start] = next;
            if group_of[start] != usize::MAX {
                let mut stack = vec![start];
                while let Some(u) = stack.pop() {
                    for &v in &self.neighbours[u] {
                        if unit_of[v] == usize::MAX && group_of[v] == group_of[start] {
                            unit_of[v] = next;
                            stack.push(v);
                        }
                    }
                }
            }
            next += 1;
        }
        let ns = self.n_schools;
        let mut cost = vec![0u32; next * ns];
        let mut weight = vec![0u32; next];
        let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); next];
        for u in 0..n {
            let k = unit_of[u];
            weight[k] += self.weight[u];
            for s in 0..ns {
                let (c, o) = (&mut cost[k * ns + s], self.cost[u * ns + s]);
                *c = if *c == UNREACHABLE || o == UNREACHABLE {
                    UNREACHABLE
                } else {
                    c.saturating_add(o).min(UNREACHABLE - 1)
                };
            }
            for &v in &self.neighbours[u] {
                if unit_of[v] != k {
                    neighbours[k].push(unit_of[v]);
                }
            }
        }
        for list in &mut neighbours {
            list.sort_unstable();
            list.dedup();
        }
        let root = self.root.iter().map(|&r| unit_of[r]).collect();
        let p = ContiguousProblem {
            n_schools: ns,
            cap: self.cap.clone(),
            cost,
            weight,
            root,
            neighbours,
            classes: self.classes.clone(),
        };
        (p, unit_of)
    }

    /// Number of units (blocks).
    pub fn n_units(&self) -> usize {
        self.weight.len()
    }

    /// The walk of unit `u` to school `s`, `None` where the pair is not allowed.
    #[inline]
    pub fn cost(&self, u: usize, s: usize) -> Option<u32> {
        let c = self.cost[u * self.n_schools + s];
        (c != UNREACHABLE).then_some(c)
    }

    /// Shapes, distinct roots, roots allowed at their school, neighbours in range and symmetric.
    pub fn validate(&self) -> Result<(), SolveError> {
        let (n, ns) = (self.n_units(), self.n_schools);
        let bad = |m: String| Err(SolveError::Solver(format!("contiguous problem: {m}")));
        if self.cap.len() != ns || self.root.len() != ns {
            return bad(format!(
                "{ns} schools but {} capacities and {} roots",
                self.cap.len(),
                self.root.len()
            ));
        }
        if self.cost.len() != n * ns || self.neighbours.len() != n {
            return bad(format!(
                "{n} units but {} costs (need {}) and {} neighbour lists",
                self.cost.len(),
                n * ns,
                self.neighbours.len()
            ));
        }
        let mut owner = vec![None; n];
        for (s, &r) in self.root.iter().enumerate() {
            if r >= n {
                return bad(format!("school {s}'s root {r} is not a unit"));
            }
            if let Some(t) = owner[r] {
                return bad(format!("schools {t} and {s} share root unit {r}"));
            }
            owner[r] = Some(s);
            if self.cost(r, s).is_none() {
                return bad(format!("school {s}'s root {r} is not allowed at it"));
            }
        }
        for (u, list) in self.neighbours.iter().enumerate() {
            for &v in list {
                if v >= n || v == u || !self.neighbours[v].contains(&u) {
                    return bad(format!(
                        "neighbour {v} of unit {u} is out of range, a loop or one-way"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Total walk of an assignment, `None` if a pair is not allowed.
    pub fn objective(&self, assign: &[u32]) -> Option<u64> {
        assign
            .iter()
            .enumerate()
            .try_fold(0u64, |acc, (u, &s)| self.cost(u, s as usize).map(|c| acc + c as u64))
    }

    /// Pupils per school.
    pub fn loads(&self, assign: &[u32]) -> Vec<u64> {
        let mut load = vec![0u64; self.n_schools];
        for (u, &s) in assign.iter().enumerate() {
            load[s as usize] += self.weight[u] as u64;
        }
        load
    }

    /// Pieces of districts that do not hold their school's root: `(school, units)`.
    pub fn enclaves(&self, assign: &[u32]) -> Vec<(usize, Vec<usize>)> {
        let school_of: Vec<Option<usize>> = assign.iter().map(|&s| Some(s as usize)).collect();
        pieces(&self.neighbours, &school_of)
            .into_iter()
            .filter(|(s, units)| !units.contains(&self.root[*s]))
            .collect()
    }

    /// Every root at its school and every district one piece.
    pub fn is_contiguous(&self, assign: &[u32]) -> bool {
        self.root.iter().enumerate().all(|(s, &r)| assign[r] as usize == s)
            && self.enclaves(assign).is_empty()
    }

    /// Allowed pairs, capacities and contiguity.
    pub fn is_feasible(&self, assign: &[u32]) -> bool {
        assign.len() == self.n_units()
            && assign.iter().all(|&s| (s as usize) < self.n_schools)
            && self.objective(assign).is_some()
            && self.loads(assign).iter().enumerate().all(|(s, &l)| self.violation(s, l) == 0)
            && self.is_contiguous(assign)
    }

    /// How many pupils school `s`'s units' `load` lies from the nearest load the school may
    /// hold: within its seats and, with [`Classes`], `0` pupils in all (fixed ones included)
    /// or whole classes. 0 when allowed; without classes the pupils over capacity.
    pub fn violation(&self, s: usize, load: u64) -> u64 {
        let cap = self.cap[s] as u64;
        let Some(c) = &self.classes else { return load.saturating_sub(cap) };
        let fixed = c.fixed[s] as u64;
        let dist = |lo: u64, hi: u64| {
            if load < lo {
                lo - load
            } else {
                load.saturating_sub(hi)
            }
        };
        let mut best = if fixed == 0 { load } else { u64::MAX };
        for k in 1..=c.rule.max[s] as u64 {
            let lo = (c.rule.min_size as u64 * k).saturating_sub(fixed);
            let hi = (c.rule.size[s] as u64 * k).saturating_sub(fixed).min(cap);
            if c.rule.size[s] as u64 * k >= fixed && lo <= hi {
                best = best.min(dist(lo, hi));
            }
        }
        if best == u64::MAX {
            // No load is allowed (fixed pupils beyond every number of classes): the distance
            // to the seats, so that a plan is never taken as feasible.
            best = load.saturating_sub(cap).max(1);
        }
        best
    }
}

/// The connected pieces of each school's units (units with `None` belong to none):
/// `(school, units sorted)`, in the order of each piece's first unit.
pub fn pieces(neighbours: &[Vec<usize>], school_of: &[Option<usize>]) -> Vec<(usize, Vec<usize>)> {
    let mut seen = vec![false; school_of.len()];
    let mut out = Vec::new();
    for start in 0..school_of.len() {
        let Some(s) = school_of[start] else { continue };
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut piece = vec![start];
        let mut i = 0;
        while i < piece.len() {
            let u = piece[i];
            i += 1;
            for &v in &neighbours[u] {
                if !seen[v] && school_of[v] == Some(s) {
                    seen[v] = true;
                    piece.push(v);
                }
            }
        }
        piece.sort_unstable();
        out.push((s, piece));
    }
    out
}

/// For each school, whether a unit may belong to it at all: allowed pair, not another school's
/// root, and joined to the school's root through such units (no contiguous plan uses others).
fn reachable(p: &ContiguousProblem) -> Vec<Vec<bool>> {
    let n = p.n_units();
    let mut root_of = vec![None; n];
    for (s, &r) in p.root.iter().enumerate() {
        root_of[r] = Some(s);
    }
    (0..p.n_schools)
        .map(|s| {
            let ok = |u: usize| p.cost(u, s).is_some() && root_of[u].is_none_or(|t| t == s);
            let mut reach = vec![false; n];
            reach[p.root[s]] = true;
            let mut stack = vec![p.root[s]];
            while let Some(u) = stack.pop() {
                for &v in &p.neighbours[u] {
                    if !reach[v] && ok(v) {
                        reach[v] = true;
                        stack.push(v);
                    }
                }
            }
            reach
        })
        .collect()
}

/// A connectivity cut: `x[u][s] <= sum over rhs of x[v][s]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Cut {
    s: usize,
    u: usize,
    rhs: Vec<usize>,
}

/// The least-walk contiguous plan, exact by cut generation (module docs). `time_limit_s` bounds
/// the whole loop; when it runs out, the best contiguous plan found so far comes back with
/// `proved_optimal: false`, or [`SolveError::TimeLimit`] if there is none.
///
/// Infeasible instances: [`Diagnosis::NoAllowedSchool`] for units no school may take,
/// [`Diagnosis::Contiguity`] otherwise.
pub fn solve_exact(
    p: &ContiguousProblem,
    time_limit_s: u32,
    incumbent: Option<&[u32]>,
) -> Result<ContiguousSolution, SolveError> {
    p.validate()?;
    let (n, ns) = (p.n_units(), p.n_schools);
    let started = Instant::now();
    let reach = reachable(p);
    let allowed = |u: usize, s: usize| reach[s][u];
    let none: Vec<usize> = (0..n).filter(|&u| (0..ns).all(|s| p.cost(u, s).is_none())).collect();
    if !none.is_empty() {
        return Err(SolveError::Infeasible(vec![Diagnosis::NoAllowedSchool { units: none }]));
    }
    if (0..n).any(|u| (0..ns).all(|s| !allowed(u, s))) {
        return Err(SolveError::Infeasible(vec![Diagnosis::Contiguity]));
    }
    let mut cuts: Vec<Cut> = Vec::new();
    let mut known: HashSet<Cut> = HashSet::new();
    let is_root: Vec<bool> = {
        let mut r = vec![false; n];
        p.root.iter().for_each(|&u| r[u] = true);
        r
    };
    for u in 0..n {
        for s in 0..ns {
            if allowed(u, s) && !is_root[u] {
                let rhs: Vec<usize> =
                    p.neighbours[u].iter().copied().filter(|&v| allowed(v, s)).collect();
                cuts.push(Cut { s, u, rhs });
            }
        }
    }
    let initial_cuts = cuts.len();
    let mut best: Option<(Vec<u32>, u64)> = incumbent
        .filter(|a| p.is_feasible(a))
        .map(|a| (a.to_vec(), p.objective(a).expect("feasible")));
    let mut lower_bound = 0u64;
    let mut iterations = 0u32;
    let time_out = |best: Option<(Vec<u32>, u64)>, iterations, cuts: usize, lower_bound| match best
    {
        Some((assign, objective)) => Ok(ContiguousSolution {
            assign,
            objective,
            iterations,
            cuts,
            lower_bound,
            proved_optimal: false,
        }),
        None => Err(SolveError::TimeLimit { seconds: time_limit_s }),
    };
    loop {
        // Between two MIPs: each runs in Cbc, which cannot be interrupted.
        if crate::cancel::cancelled() {
            return Err(SolveError::Cancelled);
        }
        let remaining = time_limit_s as f64 - started.elapsed().as_secs_f64();
        if remaining <= 0.0 {
            return time_out(best, iterations, cuts.len() - initial_cuts, lower_bound);
        }
        iterations += 1;
        let Relaxation { assign, bound, timed_out } =
            solve_relaxation(p, &allowed, &cuts, remaining)?;
        if !timed_out {
            lower_bound = lower_bound.max(bound.unwrap_or(0));
        }
        let Some(assign) = assign else {
            return time_out(best, iterations, cuts.len() - initial_cuts, lower_bound);
        };
        let enclaves = p.enclaves(&assign);
        if enclaves.is_empty() {
            let objective = p.objective(&assign).expect("only allowed pairs have variables");
            if !timed_out {
                return Ok(ContiguousSolution {
                    assign,
                    objective,
                    iterations,
                    cuts: cuts.len() - initial_cuts,
                    lower_bound: objective,
                    proved_optimal: true,
                });
            }
            if best.as_ref().is_none_or(|b| objective < b.1) {
                best = Some((assign, objective));
            }
            return time_out(best, iterations, cuts.len() - initial_cuts, lower_bound);
        }
        // An incumbent for the time limit (and an early proof when it meets the bound).
        let repaired = local_search(p, &assign, &[]);
        if p.is_feasible(&repaired) {
            let objective = p.objective(&repaired).expect("feasible");
            if best.as_ref().is_none_or(|b| objective < b.1) {
                best = Some((repaired, objective));
            }
        }
        if let Some((assign, objective)) = &best {
            if !timed_out && *objective <= lower_bound {
                return Ok(ContiguousSolution {
                    assign: assign.clone(),
                    objective: *objective,
                    iterations,
                    cuts: cuts.len() - initial_cuts,
                    lower_bound,
                    proved_optimal: true,
                });
            }
        }
        if timed_out {
            return time_out(best, iterations, cuts.len() - initial_cuts, lower_bound);
        }
        let mut added = 0;
        for (s, piece) in enclaves {
            let inside: HashSet<usize> = piece.iter().copied().collect();
            let mut rhs: Vec<usize> = piece
                .iter()
                .flat_map(|&u| p.neighbours[u].iter().copied())
                .filter(|v| !inside.contains(v) && allowed(*v, s))
                .collect();
            rhs.sort_unstable();
            rhs.dedup();
            for &u in &piece {
                let cut = Cut { s, u, rhs: rhs.clone() };
                if known.insert(cut.clone()) {
                    cuts.push(cut);
                    added += 1;
                }
            }
        }
        if added == 0 {
            return Err(SolveError::Solver(
                "the contiguity cuts repeat: the MIP returned a plan that violates a cut it has"
                    .into(),
            ));
        }
    }
}

/// The answer of one MIP with the cuts so far.
struct Relaxation {
    /// None when the time ran out without an integral plan.
    assign: Option<Vec<u32>>,
    /// The proven optimum (a lower bound of the contiguous optimum).
    bound: Option<u64>,
    timed_out: bool,
}

/// One MIP with the given cuts.
fn solve_relaxation(
    p: &ContiguousProblem,
    allowed: &dyn Fn(usize, usize) -> bool,
    cuts: &[Cut],
    seconds: f64,
) -> Result<Relaxation, SolveError> {
    let (n, ns) = (p.n_units(), p.n_schools);
    let mut vars = ProblemVariables::new();
    let mut x: Vec<Option<Variable>> = vec![None; n * ns];
    let mut objective = Expression::with_capacity(n * 2);
    for u in 0..n {
        for s in 0..ns {
            if allowed(u, s) {
                let v = vars.add(variable().binary());
                objective.add_mul(p.cost[u * ns + s] as f64, v);
                x[u * ns + s] = Some(v);
            }
        }
    }
    // Whole classes: k[s] classes at school s (integer), as in the whole-class MIP.
    let k: Option<Vec<Variable>> = p.classes.as_ref().map(|c| {
        (0..ns).map(|s| vars.add(variable().integer().min(0).max(c.rule.max[s] as f64))).collect()
    });
    let mut model = vars.minimise(objective).using(coin_cbc);
    model.set_parameter("log", "0");
    model.set_parameter("slogLevel", "0");
    model.set_parameter("seconds", &(seconds.ceil().max(1.0) as u64).to_string());
    for u in 0..n {
        let e: Expression = (0..ns).filter_map(|s| x[u * ns + s]).sum();
        model.add_constraint(e.eq(1.0));
    }
    for (s, &cap) in p.cap.iter().enumerate() {
        let mut e = Expression::with_capacity(n);
        for u in 0..n {
            if let Some(v) = x[u * ns + s] {
                e.add_mul(p.weight[u] as f64, v);
            }
        }
        if let (Some(c), Some(k)) = (&p.classes, &k) {
            // The school's pupils (fixed ones included) within [min_size * k, size * k].
            let load = e.clone() + c.fixed[s] as f64;
            model.add_constraint((load.clone() - c.rule.size[s] as f64 * k[s]).leq(0.0));
            if c.rule.min_size > 0 {
                model.add_constraint((load - c.rule.min_size as f64 * k[s]).geq(0.0));
            }
        }
        model.add_constraint(e.leq(cap as f64));
    }
    for (s, &r) in p.root.iter().enumerate() {
        let v = x[r * ns + s].expect("a root is allowed at its school");
        model.add_constraint(Expression::from(v).eq(1.0));
    }
    for cut in cuts {
        let Some(lhs) = x[cut.u * ns + cut.s] else { continue };
        let mut e = Expression::from(lhs);
        for &v in &cut.rhs {
            if let Some(xv) = x[v * ns + cut.s] {
                e.add_mul(-1.0, xv);
            }
        }
        model.add_constraint(e.leq(0.0));
    }
    let sol = match model.solve() {
        Ok(sol) => sol,
        Err(good_lp::ResolutionError::Infeasible) => {
            return Err(SolveError::Infeasible(vec![Diagnosis::Contiguity]))
        }
        Err(e) => return Err(SolveError::Solver(format!("Cbc: {e}"))),
    };
    let timed_out = matches!(sol.status(), good_lp::solvers::SolutionStatus::TimeLimit);
    let mut assign = Vec::with_capacity(n);
    for u in 0..n {
        let mut chosen = None;
        let mut integral = true;
        for s in 0..ns {
            if let Some(v) = x[u * ns + s] {
                let val = sol.value(v);
                integral &= (val - val.round()).abs() <= INTEGRALITY_TOL;
                if val > 0.5 {
                    chosen = Some(s as u32);
                }
            }
        }
        match (chosen, integral) {
            (Some(s), true) => assign.push(s),
            _ if timed_out => return Ok(Relaxation { assign: None, bound: None, timed_out: true }),
            _ => {
                return Err(SolveError::Solver(format!(
                    "Cbc returned no integral school for unit {u}"
                )))
            }
        }
    }
    let feasible = p.loads(&assign).iter().enumerate().all(|(s, &l)| p.violation(s, l) == 0);
    if !feasible {
        if timed_out {
            return Ok(Relaxation { assign: None, bound: None, timed_out: true });
        }
        return Err(SolveError::Solver(
            "Cbc returned a plan over capacity or of broken classes".into(),
        ));
    }
    let objective = p.objective(&assign).expect("only allowed pairs have variables");
    Ok(Relaxation { assign: Some(assign), bound: (!timed_out).then_some(objective), timed_out })
}

/// BFS scratch space for connectivity checks.
pub(super) struct Scratch {
    mark: Vec<u32>,
    stamp: u32,
    queue: Vec<usize>,
}

impl Scratch {
    pub(super) fn new(n: usize) -> Scratch {
        Scratch { mark: vec![0; n], stamp: 0, queue: Vec::new() }
    }

    /// Whether school `s`'s district, without `removed` and with `added`, is one piece around
    /// its root. `size` is the district's current number of units.
    pub(super) fn connected(
        &mut self,
        p: &ContiguousProblem,
        assign: &[u32],
        s: usize,
        size: usize,
        removed: Option<usize>,
        added: Option<usize>,
    ) -> bool {
        let member = |u: usize| Some(u) != removed && (assign[u] as usize == s || Some(u) == added);
        let root = p.root[s];
        if !member(root) {
            return false;
        }
        let expected = size - removed.map_or(0, |_| 1) + added.map_or(0, |_| 1);
        self.stamp += 1;
        let stamp = self.stamp;
        self.queue.clear();
        self.queue.push(root);
        self.mark[root] = stamp;
        let mut i = 0;
        while i < self.queue.len() {
            let u = self.queue[i];
            i += 1;
            for &v in &p.neighbours[u] {
                if self.mark[v] != stamp && member(v) {
                    self.mark[v] = stamp;
                    self.queue.push(v);
                }
            }
        }
        self.queue.len() == expected
    }

    /// The units of school `s`'s district that lose their way to its root without the units
    /// `set` (of the district, connected, the root not among them), `set` included.
    pub(super) fn cut_off(
        &mut self,
        p: &ContiguousProblem,
        assign: &[u32],
        s: usize,
        set: &[usize],
    ) -> Vec<usize> {
        let root = p.root[s];
        self.stamp += 1;
        let stamp = self.stamp;
        self.queue.clear();
        for &u in set {
            self.mark[u] = stamp;
        }
        if self.mark[root] != stamp && assign[root] as usize == s {
            self.queue.push(root);
            self.mark[root] = stamp;
        }
        let mut i = 0;
        while i < self.queue.len() {
            let x = self.queue[i];
            i += 1;
            for &v in &p.neighbours[x] {
                if self.mark[v] != stamp && assign[v] as usize == s {
                    self.mark[v] = stamp;
                    self.queue.push(v);
                }
            }
        }
        // Everything of the district not reached (`set` was marked to block it).
        let mut out = set.to_vec();
        let mut stack = set.to_vec();
        while let Some(x) = stack.pop() {
            for &v in &p.neighbours[x] {
                if self.mark[v] != stamp && assign[v] as usize == s {
                    self.mark[v] = stamp;
                    out.push(v);
                    stack.push(v);
                }
            }
        }
        out
    }
}

/// Moves at most in one ejection chain of the capacity repair.
const CHAIN_HOPS: usize = 12;

/// Units with pupils per pair of neighbouring districts tried as pieces to move.
const PIECE_CANDIDATES: usize = 8;

/// Cost as a signed number (not allowed pairs count as [`UNREACHABLE`] meters).
fn c(p: &ContiguousProblem, u: usize, s: usize) -> i64 {
    p.cost[u * p.n_schools + s] as i64
}

/// A fast heuristic from any start (say the plan without contiguity): roots go home; each
/// school keeps the piece of its district around its root and the districts grow back over the
/// rest within their seats, least regret at `prices` first ([`regrow`]); what none could take
/// joins an adjacent district (the cheapest with room, else the cheapest); over-full districts
/// pass pieces on by ejection chains through full neighbours to one with room
/// ([`restore_capacity`]); then single border units move, and pairs of border units swap
/// between neighbouring districts, while the total walk decreases, every district stays one
/// piece and no school goes over capacity.
///
/// From a feasible contiguous start the result is feasible, contiguous and never worse. From
/// another start the result is contiguous unless an enclave may go to no adjacent school, and
/// within capacity unless no chain of at most [`CHAIN_HOPS`] moves reaches a district with
/// room ([`ContiguousProblem::is_feasible`] tells). `p` must pass
/// [`ContiguousProblem::validate`].
pub fn local_search(p: &ContiguousProblem, start: &[u32], prices: &[i64]) -> Vec<u32> {
    let mut a = start.to_vec();
    for (s, &r) in p.root.iter().enumerate() {
        a[r] = s as u32;
    }
    regrow(p, &mut a, prices);
    repair_enclaves(p, &mut a);
    restore_capacity(p, &mut a);
    restore_classes(p, &mut a);
    improve(p, &mut a);
    a
}

/// With [`Classes`]: brings every school to whole classes (or none) by moving pieces between
/// neighbouring districts ([`piece_moves`]: a border unit with its path and whatever hangs on
/// it, so both districts stay one piece). Each move lowers the pupils all schools lie from an
/// allowed load ([`ContiguousProblem::violation`], capacity included); of those, the one
/// adding the least walk per pupil of violation removed is made. Stops when every school is
/// allowed or no move lowers the violation; [`ContiguousProblem::is_feasible`] tells.
fn restore_classes(p: &ContiguousProblem, a: &mut [u32]) {
    if p.classes.is_none() {
        return;
    }
    let n = p.n_units();
    let mut scratch = Scratch::new(n);
    let mut banned: HashSet<(usize, usize)> = HashSet::new();
    for _ in 0..4 * n + 16 {
        if crate::cancel::cancelled() {
            return;
        }
        let load = p.loads(a);
        if (0..p.n_schools).all(|s| p.violation(s, load[s]) == 0) {
            return;
        }
        let v = |s: usize, l: u64| p.violation(s, l) as i64;
        let mut best: Option<(f64, PieceMove)> = None;
        for m in piece_moves(p, a, &mut scratch).into_iter().flatten() {
            if banned.contains(&(m.units[0], m.to)) {
                continue;
            }
            let (f, t) = (m.from, m.to);
            let change =
                v(f, load[f] - m.weight) + v(t, load[t] + m.weight) - v(f, load[f]) - v(t, load[t]);
            if change < 0 {
                let score = m.delta as f64 / (-change) as f64;
                if best.as_ref().is_none_or(|b| score < b.0) {
                    best = Some((score, m));
                }
            }
        }
        let Some((_, m)) = best else { return };
        let before: Vec<u32> = m.units.iter().map(|&u| a[u]).collect();
        for &u in &m.units {
            a[u] = m.to as u32;
        }
        let size = |a: &[u32], s: usize| a.iter().filter(|&&t| t as usize == s).count();
        let (nf, nt) = (size(a, m.from), size(a, m.to));
        if !(scratch.connected(p, a, m.from, nf, None, None)
            && scratch.connected(p, a, m.to, nt, None, None))
        {
            for (&u, &s) in m.units.iter().zip(&before) {
                a[u] = s;
            }
            banned.insert((m.units[0], m.to));
        }
    }
}

/// Keeps each school's piece around its root and gives the other units out again by
/// [`grow`]ing the districts within their seats. Units no district could take stay where they
/// were (enclaves, for the repair).
fn regrow(p: &ContiguousProblem, a: &mut [u32], prices: &[i64]) {
    let school_of: Vec<Option<usize>> = a.iter().map(|&s| Some(s as usize)).collect();
    let mut part: Vec<Option<u32>> = vec![None; p.n_units()];
    for (s, units) in pieces(&p.neighbours, &school_of) {
        if units.contains(&p.root[s]) {
            units.iter().for_each(|&u| part[u] = Some(s as u32));
        }
    }
    grow(p, &mut part, prices);
    for (u, s) in part.into_iter().enumerate() {
        if let Some(s) = s {
            a[u] = s;
        }
    }
}

/// Grows the districts of a partial plan (`part`: each school's units, one piece around its
/// root) from their borders, least regret first. A unit's regret at a school is its priced
/// walk there less its least priced walk; the priced walk is the walk plus the unit's pupils
/// times the school's price (`prices`, one per school, as the certificate of the pupil-level
/// optimum gives them; empty for none): at those prices the pupil-level optimum puts every
/// pupil where its priced walk is least, so growing by them follows the optimum where it is
/// contiguous. A school takes a unit only while it has room.
fn grow(p: &ContiguousProblem, part: &mut [Option<u32>], prices: &[i64]) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let (n, ns) = (p.n_units(), p.n_schools);
    let priced = |u: usize, s: usize| {
        p.cost(u, s).map(|c| c as i64 + p.weight[u] as i64 * prices.get(s).copied().unwrap_or(0))
    };
    let best: Vec<i64> =
        (0..n).map(|u| (0..ns).filter_map(|s| priced(u, s)).min().unwrap_or(0)).collect();
    let mut load = vec![0u64; ns];
    for u in 0..n {
        if let Some(s) = part[u] {
            load[s as usize] += p.weight[u] as u64;
        }
    }
    let mut heap = BinaryHeap::new();
    let push = |heap: &mut BinaryHeap<_>, u: usize, s: usize| {
        if let Some(c) = priced(u, s) {
            heap.push(Reverse((c - best[u], c, u, s)));
        }
    };
    for u in 0..n {
        if let Some(s) = part[u] {
            for &v in &p.neighbours[u] {
                if part[v].is_none() {
                    push(&mut heap, v, s as usize);
                }
            }
        }
    }
    while let Some(Reverse((_, _, u, s))) = heap.pop() {
        if part[u].is_some() || load[s] + p.weight[u] as u64 > p.cap[s] as u64 {
            continue;
        }
        part[u] = Some(s as u32);
        load[s] += p.weight[u] as u64;
        for &v in &p.neighbours[u] {
            if part[v].is_none() {
                push(&mut heap, v, s);
            }
        }
    }
}

fn repair_enclaves(p: &ContiguousProblem, a: &mut [u32]) {
    let (n, ns) = (p.n_units(), p.n_schools);
    let mut load = p.loads(a);
    loop {
        let school_of: Vec<Option<usize>> = a.iter().map(|&s| Some(s as usize)).collect();
        let all = pieces(&p.neighbours, &school_of);
        let mut piece_of = vec![0usize; n];
        for (i, (_, units)) in all.iter().enumerate() {
            units.iter().for_each(|&u| piece_of[u] = i);
        }
        let main = |t: usize| piece_of[p.root[t]];
        let mut enclaves: Vec<usize> = (0..all.len()).filter(|&i| main(all[i].0) != i).collect();
        if enclaves.is_empty() {
            return;
        }
        enclaves.sort_by_key(|&i| all[i].1.len());
        // Moves within one pass touch disjoint schools, so the pieces stay exact.
        let mut dirty = vec![false; ns];
        let mut moved = false;
        for i in enclaves {
            let (s, units) = &all[i];
            let s = *s;
            if dirty[s] {
                continue;
            }
            let mut border: Vec<usize> = units
                .iter()
                .flat_map(|&u| p.neighbours[u].iter().copied())
                .filter(|&v| a[v] as usize != s)
                .collect();
            border.sort_unstable();
            border.dedup();
            if border.iter().any(|&v| dirty[a[v] as usize]) {
                continue;
            }
            let w: u64 = units.iter().map(|&u| p.weight[u] as u64).sum();
            // (fits, touches the main piece, delta, school): least is best after the filters.
            let mut options: Vec<(bool, bool, i64, usize)> = Vec::new();
            for &v in &border {
                let t = a[v] as usize;
                if options.iter().any(|o| o.3 == t) {
                    continue;
                }
                if !units.iter().all(|&u| p.cost(u, t).is_some()) {
                    continue;
                }
                let touches = border.iter().any(|&x| a[x] as usize == t && piece_of[x] == main(t));
                let fits = load[t] + w <= p.cap[t] as u64;
                let delta: i64 = units.iter().map(|&u| c(p, u, t) - c(p, u, s)).sum();
                options.push((fits, touches, delta, t));
            }
            let pick = options
                .iter()
                .filter(|o| o.0 && o.1)
                .min_by_key(|o| (o.2, o.3))
                .or_else(|| options.iter().filter(|o| o.1).min_by_key(|o| (o.2, o.3)))
                .or_else(|| options.iter().min_by_key(|o| (o.2, o.3)));
            if let Some(&(_, _, _, t)) = pick {
                for &u in units {
                    a[u] = t as u32;
                }
                load[s] -= w;
                load[t] += w;
                dirty[s] = true;
                dirty[t] = true;
                moved = true;
            }
        }
        if !moved {
            return;
        }
    }
}

/// A move of a connected piece of one district to a neighbouring one: unit `u` of `from` that
/// borders `to`, with every unit of `from` that would lose its way to `from`'s root without it.
#[derive(Debug, Clone)]
struct PieceMove {
    from: usize,
    to: usize,
    units: Vec<usize>,
    weight: u64,
    delta: i64,
}

/// The piece moves out of every district: per (from, to, weight) the cheapest one. For each
/// neighbouring district `to`, the [`PIECE_CANDIDATES`] units with pupils nearest (in steps
/// through `from`) to the border with `to` are candidates: each goes with its path of units to
/// that border (empty land between districts moves with it) and with whatever would lose its
/// way to `from`'s root without them.
fn piece_moves(p: &ContiguousProblem, a: &[u32], scratch: &mut Scratch) -> Vec<Vec<PieceMove>> {
    let (n, ns) = (p.n_units(), p.n_schools);
    let mut is_root = vec![false; n];
    p.root.iter().for_each(|&r| is_root[r] = true);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ns];
    for u in 0..n {
        members[a[u] as usize].push(u);
    }
    let mut best: std::collections::HashMap<(usize, usize, u64), PieceMove> =
        std::collections::HashMap::new();
    let mut parent = vec![usize::MAX; n];
    let mut seen = vec![u32::MAX; n];
    let mut stamp = 0u32;
    for from in 0..ns {
        let mut others: Vec<usize> = members[from]
            .iter()
            .flat_map(|&u| p.neighbours[u].iter().map(|&v| a[v] as usize))
            .filter(|&t| t != from)
            .collect();
        others.sort_unstable();
        others.dedup();
        for to in others {
            // Breadth-first through `from` from its units on the border with `to`.
            stamp += 1;
            let mut queue: Vec<usize> = members[from]
                .iter()
                .copied()
                .filter(|&u| {
                    !is_root[u]
                        && p.cost(u, to).is_some()
                        && p.neighbours[u].iter().any(|&v| a[v] as usize == to)
                })
                .collect();
            for &u in &queue {
                seen[u] = stamp;
                parent[u] = usize::MAX;
            }
            let mut found = 0;
            let mut i = 0;
            while i < queue.len() && found < PIECE_CANDIDATES {
                let u = queue[i];
                i += 1;
                if p.weight[u] > 0 {
                    found += 1;
                    let mut path = vec![u];
                    let mut x = u;
                    while parent[x] != usize::MAX {
                        x = parent[x];
                        path.push(x);
                    }
                    let units = scratch.cut_off(p, a, from, &path);
                    if units.iter().all(|&v| p.cost(v, to).is_some()) {
                        let weight: u64 = units.iter().map(|&v| p.weight[v] as u64).sum();
                        let delta: i64 = units.iter().map(|&v| c(p, v, to) - c(p, v, from)).sum();
                        let key = (from, to, weight);
                        if best.get(&key).is_none_or(|m| delta < m.delta) {
                            best.insert(key, PieceMove { from, to, units, weight, delta });
                        }
                    }
                }
                for &v in &p.neighbours[u] {
                    if seen[v] != stamp && a[v] as usize == from && !is_root[v] {
                        seen[v] = stamp;
                        parent[v] = u;
                        queue.push(v);
                    }
                }
            }
        }
    }
    let mut out = vec![Vec::new(); ns];
    for m in best.into_values() {
        out[m.from].push(m);
    }
    for list in &mut out {
        list.sort_by_key(|m| (m.to, m.weight, m.delta));
    }
    out
}

/// Brings over-full districts within capacity by ejection chains: a piece of an over-full
/// district moves to a neighbour, which passes on a piece at least as heavy if it has no room,
/// and so on until a district with room takes the last piece. Of the chains of at most
/// [`CHAIN_HOPS`] moves, the one adding the least walk is applied; every district stays one
/// piece around its root. Stops when nothing is over capacity or no chain is left.
fn restore_capacity(p: &ContiguousProblem, a: &mut [u32]) {
    let (n, ns) = (p.n_units(), p.n_schools);
    let mut scratch = Scratch::new(n);
    let mut banned: HashSet<(usize, usize)> = HashSet::new();
    let mut rounds = 0usize;
    loop {
        let load = p.loads(a);
        let over: Vec<usize> = (0..ns).filter(|&s| load[s] > p.cap[s] as u64).collect();
        if over.is_empty() || rounds > 50 * n {
            return;
        }
        rounds += 1;
        let moves = piece_moves(p, a, &mut scratch);
        let over_by = |s: usize, l: u64| l.saturating_sub(p.cap[s] as u64) as i64;
        // Layered search over (district, weight coming in): (change of the total overflow so
        // far, walk added so far, the chain so far). A chain is taken when it lowers the total
        // overflow; the one adding the least walk per pupil of overflow removed wins.
        type Chain = Vec<(usize, usize)>; // (district, index of its move)
        type State = (i64, i64, Chain);
        let mut layer: std::collections::HashMap<(usize, u64), State> =
            over.iter().map(|&s| ((s, 0u64), (0i64, 0i64, Vec::new()))).collect();
        let mut found: Option<(f64, Chain)> = None;
        let mut found_at = usize::MAX;
        for hop in 0..CHAIN_HOPS {
            if hop > found_at.saturating_add(2) {
                break;
            }
            let mut next: std::collections::HashMap<(usize, u64), State> =
                std::collections::HashMap::new();
            for (&(x, w_in), (dover, walk, chain)) in &layer {
                for (i, m) in moves[x].iter().enumerate() {
                    if banned.contains(&(m.units[0], m.to))
                        || m.to == x
                        || chain.iter().any(|&(d, _)| d == m.to)
                    {
                        continue;
                    }
                    let here = over_by(x, load[x] + w_in - m.weight.min(load[x] + w_in))
                        - over_by(x, load[x]);
                    let d2 = dover + here;
                    let w2 = walk + m.delta;
                    let mut ch = chain.clone();
                    ch.push((x, i));
                    let there = over_by(m.to, load[m.to] + m.weight) - over_by(m.to, load[m.to]);
                    if d2 + there < 0 {
                        let score = w2 as f64 / (-(d2 + there)) as f64;
                        if found.as_ref().is_none_or(|f| score < f.0) {
                            found = Some((score, ch.clone()));
                            found_at = found_at.min(hop);
                        }
                    }
                    let key = (m.to, m.weight);
                    if next.get(&key).is_none_or(|e| (d2, w2) < (e.0, e.1)) {
                        next.insert(key, (d2, w2, ch));
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            layer = next;
        }
        let Some((_, chain)) = found else { return };
        let before = a.to_vec();
        let mut touched = Vec::new();
        for &(x, i) in &chain {
            let m = &moves[x][i];
            for &u in &m.units {
                a[u] = m.to as u32;
            }
            touched.push(m.from);
            touched.push(m.to);
        }
        touched.sort_unstable();
        touched.dedup();
        let size = |a: &[u32], s: usize| a.iter().filter(|&&t| t as usize == s).count();
        let broken: Vec<usize> = touched
            .iter()
            .copied()
            .filter(|&s| !scratch.connected(p, a, s, size(a, s), None, None))
            .collect();
        if !broken.is_empty() {
            a.copy_from_slice(&before);
            // The piece received by a district that fell apart hung on what it gave away.
            for &(x, i) in &chain {
                let m = &moves[x][i];
                if broken.contains(&m.to) || broken.contains(&m.from) {
                    banned.insert((m.units[0], m.to));
                }
            }
        }
    }
}

fn improve(p: &ContiguousProblem, a: &mut [u32]) {
    let (n, ns) = (p.n_units(), p.n_schools);
    let mut load = p.loads(a);
    let mut size = vec![0usize; ns];
    a.iter().for_each(|&s| size[s as usize] += 1);
    let mut is_root = vec![false; n];
    p.root.iter().for_each(|&r| is_root[r] = true);
    let mut scratch = Scratch::new(n);
    // A school may not go over capacity, or further over it than it is; with whole classes
    // no further from an allowed load than it is (a school of whole classes keeps them).
    let fits = |load: &[u64], s: usize, new: u64| p.violation(s, new) <= p.violation(s, load[s]);
    loop {
        // Cancelled: stop with the plan as it is (the caller does not use it).
        if crate::cancel::cancelled() {
            return;
        }
        let mut improved = false;
        for u in 0..n {
            if is_root[u] {
                continue;
            }
            let s = a[u] as usize;
            let w = p.weight[u] as u64;
            let mut best: Option<(i64, usize)> = None;
            for &v in &p.neighbours[u] {
                let t = a[v] as usize;
                if t == s
                    || p.cost(u, t).is_none()
                    || !fits(&load, t, load[t] + w)
                    || !fits(&load, s, load[s] - w)
                {
                    continue;
                }
                let delta = c(p, u, t) - c(p, u, s);
                if delta < 0 && best.is_none_or(|b| (delta, t) < b) {
                    best = Some((delta, t));
                }
            }
            let Some((_, t)) = best else { continue };
            if !scratch.connected(p, a, s, size[s], Some(u), None) {
                continue;
            }
            a[u] = t as u32;
            load[s] -= w;
            load[t] += w;
            size[s] -= 1;
            size[t] += 1;
            improved = true;
        }
        if improved {
            continue;
        }
        // Swaps of border units u (at s, next to t) and v (at t, next to s), best first.
        let mut border: Vec<Vec<(usize, usize)>> = vec![Vec::new(); ns]; // per school: (unit, other)
        for u in 0..n {
            if is_root[u] {
                continue;
            }
            let s = a[u] as usize;
            let mut others: Vec<usize> = p.neighbours[u]
                .iter()
                .map(|&v| a[v] as usize)
                .filter(|&t| t != s && p.cost(u, t).is_some())
                .collect();
            others.sort_unstable();
            others.dedup();
            border[s].extend(others.into_iter().map(|t| (u, t)));
        }
        let mut swaps: Vec<(i64, usize, usize)> = Vec::new();
        for (s, list) in border.iter().enumerate() {
            for &(u, t) in list {
                if t < s {
                    continue;
                }
                for &(v, back) in &border[t] {
                    if back != s {
                        continue;
                    }
                    let delta = c(p, u, t) + c(p, v, s) - c(p, u, s) - c(p, v, t);
                    let (wu, wv) = (p.weight[u] as u64, p.weight[v] as u64);
                    if delta < 0
                        && fits(&load, s, load[s] - wu + wv)
                        && fits(&load, t, load[t] - wv + wu)
                    {
                        swaps.push((delta, u, v));
                    }
                }
            }
        }
        swaps.sort_unstable();
        for &(_, u, v) in &swaps {
            let (s, t) = (a[u] as usize, a[v] as usize);
            if scratch.connected(p, a, s, size[s], Some(u), Some(v))
                && scratch.connected(p, a, t, size[t], Some(v), Some(u))
            {
                a[u] = t as u32;
                a[v] = s as u32;
                let (wu, wv) = (p.weight[u] as u64, p.weight[v] as u64);
                load[s] = load[s] - wu + wv;
                load[t] = load[t] - wv + wu;
                improved = true;
                break;
            }
        }
        if improved {
            continue;
        }
        // Whole pieces: a group of units with the path that joins it to a neighbouring
        // district (and whatever hangs on them), best first, disjoint districts per pass.
        if !move_pieces(p, a, &mut load, &mut scratch, &fits) {
            return;
        }
        size.iter_mut().for_each(|x| *x = 0);
        a.iter().for_each(|&s| size[s as usize] += 1);
    }
}

/// One pass of the improving piece moves ([`piece_moves`]) within the seats, best first, each
/// district touched at most once; whether any was made.
fn move_pieces(
    p: &ContiguousProblem,
    a: &mut [u32],
    load: &mut [u64],
    scratch: &mut Scratch,
    fits: &dyn Fn(&[u64], usize, u64) -> bool,
) -> bool {
    let mut candidates: Vec<PieceMove> = piece_moves(p, a, scratch)
        .into_iter()
        .flatten()
        .filter(|m| {
            m.delta < 0
                && fits(load, m.to, load[m.to] + m.weight)
                && fits(load, m.from, load[m.from] - m.weight)
        })
        .collect();
    candidates.sort_by_key(|m| (m.delta, m.from, m.to, m.weight));
    let mut touched = vec![false; p.n_schools];
    let mut moved = false;
    for m in candidates {
        if touched[m.from] || touched[m.to] {
            continue;
        }
        let before: Vec<u32> = m.units.iter().map(|&u| a[u]).collect();
        for &u in &m.units {
            a[u] = m.to as u32;
        }
        let size = |a: &[u32], s: usize| a.iter().filter(|&&t| t as usize == s).count();
        let (nf, nt) = (size(a, m.from), size(a, m.to));
        if scratch.connected(p, a, m.from, nf, None, None)
            && scratch.connected(p, a, m.to, nt, None, None)
        {
            load[m.from] -= m.weight;
            load[m.to] += m.weight;
            touched[m.from] = true;
            touched[m.to] = true;
            moved = true;
        } else {
            for (&u, &s) in m.units.iter().zip(&before) {
                a[u] = s;
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// 4-neighbourhood of a `w` x `h` grid, units row by row.
    fn grid(w: usize, h: usize) -> Vec<Vec<usize>> {
        (0..w * h)
            .map(|u| {
                let (x, y) = (u % w, u / w);
                let mut v = Vec::new();
                if y > 0 {
                    v.push(u - w);
                }
                if x > 0 {
                    v.push(u - 1);
                }
                if x + 1 < w {
                    v.push(u + 1);
                }
                if y + 1 < h {
                    v.push(u + w);
                }
                v
            })
            .collect()
    }

    /// The optimum by trying all `S^n` assignments: (objective, one optimal assignment).
    fn exhaustive(p: &ContiguousProblem) -> Option<(u64, Vec<u32>)> {
        let (n, ns) = (p.n_units(), p.n_schools);
        let mut a = vec![0u32; n];
        let mut best: Option<(u64, Vec<u32>)> = None;
        loop {
            if p.is_feasible(&a) {
                let o = p.objective(&a).unwrap();
                if best.as_ref().is_none_or(|b| o < b.0) {
                    best = Some((o, a.clone()));
                }
            }
            let mut i = 0;
            while i < n {
                a[i] += 1;
                if (a[i] as usize) < ns {
                    break;
                }
                a[i] = 0;
                i += 1;
            }
            if i == n {
                return best;
            }
        }
    }

    fn random_problem(rng: &mut ChaCha8Rng) -> ContiguousProblem {
        let (w, h) = if rng.random_bool(0.5) { (3, 3) } else { (2, 4) };
        let n = w * h;
        let ns = rng.random_range(2..=3usize);
        let mut units: Vec<usize> = (0..n).collect();
        let mut root = Vec::new();
        for _ in 0..ns {
            root.push(units.swap_remove(rng.random_range(0..units.len())));
        }
        let weight: Vec<u32> = (0..n).map(|_| rng.random_range(0..=4)).collect();
        let mut cost = Vec::with_capacity(n * ns);
        for u in 0..n {
            for s in 0..ns {
                // Some pairs not allowed (never a root at its school).
                let c = if root[s] != u && rng.random_bool(0.08) {
                    UNREACHABLE
                } else {
                    rng.random_range(0..100) * weight[u].max(1)
                };
                cost.push(c);
            }
        }
        let total: u32 = weight.iter().sum();
        // Tight: an even share plus a little slack, sometimes too little.
        let cap = (0..ns).map(|_| total / ns as u32 + rng.random_range(0..=3)).collect();
        ContiguousProblem {
            n_schools: ns,
            cap,
            cost,
            weight,
            root,
            neighbours: grid(w, h),
            classes: None,
        }
    }

    #[test]
    fn exact_equals_exhaustive_on_random_tiny_grids() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut feasible, mut with_cuts) = (0, 0);
        for case in 0..60 {
            let p = random_problem(&mut rng);
            let brute = exhaustive(&p);
            match (solve_exact(&p, 60, None), brute) {
                (Ok(sol), Some((best, _))) => {
                    assert!(sol.proved_optimal, "case {case}");
                    assert!(p.is_feasible(&sol.assign), "case {case}: {:?}", sol.assign);
                    assert_eq!(sol.objective, best, "case {case}: {p:?}");
                    assert_eq!(p.objective(&sol.assign), Some(best));
                    feasible += 1;
                    with_cuts += (sol.cuts > 0) as usize;
                }
                (Err(SolveError::Infeasible(_)), None) => {}
                (got, brute) => panic!("case {case}: {got:?} but exhaustive {brute:?}: {p:?}"),
            }
        }
        assert!(feasible >= 30, "only {feasible} feasible cases");
        eprintln!("{feasible} feasible, {with_cuts} needed cuts beyond the single-unit ones");
    }

    /// Whole classes checked without [`ContiguousProblem::violation`]: every school's pupils,
    /// fixed ones included, 0 or `k` classes of `min_size..=size` with `1 <= k <= max`.
    fn whole_classes(p: &ContiguousProblem, a: &[u32]) -> bool {
        let c = p.classes.as_ref().expect("classes");
        let mut load = vec![0u64; p.n_schools];
        for (u, &s) in a.iter().enumerate() {
            load[s as usize] += p.weight[u] as u64;
        }
        (0..p.n_schools).all(|s| {
            let l = load[s] + c.fixed[s] as u64;
            load[s] <= p.cap[s] as u64
                && (l == 0
                    || (1..=c.rule.max[s] as u64)
                        .any(|k| c.rule.min_size as u64 * k <= l && l <= c.rule.size[s] as u64 * k))
        })
    }

    /// A random tiny grid with whole classes: class sizes 3-6, a minimum of 2-4 (at most the
    /// smallest class size), room for one to three classes, a fixed pupil here and there.
    fn random_class_problem(rng: &mut ChaCha8Rng) -> ContiguousProblem {
        let mut p = random_problem(rng);
        let ns = p.n_schools;
        let size: Vec<u32> = (0..ns).map(|_| rng.random_range(3..=6)).collect();
        let min_size = rng.random_range(2..=4).min(*size.iter().min().unwrap());
        let max: Vec<u32> = (0..ns).map(|_| rng.random_range(1..=3)).collect();
        let fixed: Vec<u32> = (0..ns).map(|_| u32::from(rng.random_bool(0.2))).collect();
        for s in 0..ns {
            p.cap[s] = (size[s] * max[s]).saturating_sub(fixed[s]);
        }
        p.classes =
            Some(Classes { rule: crate::solve::lp::ClassRule { size, max, min_size }, fixed });
        p
    }

    /// The optimum over all `S^n` assignments with whole classes checked by
    /// [`whole_classes`], contiguity by [`ContiguousProblem::is_contiguous`].
    fn exhaustive_classes(p: &ContiguousProblem) -> Option<u64> {
        let (n, ns) = (p.n_units(), p.n_schools);
        let mut a = vec![0u32; n];
        let mut best: Option<u64> = None;
        loop {
            if let Some(o) = p.objective(&a) {
                if whole_classes(p, &a) && p.is_contiguous(&a) && best.is_none_or(|b| o < b) {
                    best = Some(o);
                }
            }
            let mut i = 0;
            while i < n {
                a[i] += 1;
                if (a[i] as usize) < ns {
                    break;
                }
                a[i] = 0;
                i += 1;
            }
            if i == n {
                return best;
            }
        }
    }

    #[test]
    fn exact_with_whole_classes_equals_exhaustive_on_random_tiny_grids() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let (mut feasible, mut infeasible, mut empty_school) = (0, 0, 0);
        for case in 0..80 {
            let p = random_class_problem(&mut rng);
            let brute = exhaustive_classes(&p);
            match (solve_exact(&p, 60, None), brute) {
                (Ok(sol), Some(best)) => {
                    assert!(sol.proved_optimal, "case {case}");
                    assert!(whole_classes(&p, &sol.assign), "case {case}: {:?}", sol.assign);
                    assert!(p.is_contiguous(&sol.assign), "case {case}");
                    assert_eq!(sol.objective, best, "case {case}: {p:?}");
                    assert_eq!(p.objective(&sol.assign), Some(best));
                    let load = p.loads(&sol.assign);
                    let c = p.classes.as_ref().unwrap();
                    empty_school +=
                        (0..p.n_schools).any(|s| load[s] + c.fixed[s] as u64 == 0) as usize;
                    feasible += 1;
                }
                (Err(SolveError::Infeasible(_)), None) => infeasible += 1,
                (got, brute) => panic!("case {case}: {got:?} but exhaustive {brute:?}: {p:?}"),
            }
        }
        assert!(feasible >= 20 && infeasible >= 5, "{feasible} feasible, {infeasible} not");
        eprintln!(
            "{feasible} feasible ({empty_school} with a school of no class), {infeasible} not"
        );
    }

    #[test]
    fn local_search_keeps_whole_classes_and_the_seats() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let (mut runs, mut reached) = (0, 0);
        for case in 0..120 {
            let p = random_class_problem(&mut rng);
            if (0..p.n_units()).any(|u| (0..p.n_schools).all(|s| p.cost(u, s).is_none())) {
                continue;
            }
            // From every feasible plan of whole classes: feasible by the independent check,
            // never worse.
            if let Ok(sol) = solve_exact(&p, 60, None) {
                let out = local_search(&p, &sol.assign, &[]);
                assert!(whole_classes(&p, &out) && p.is_contiguous(&out), "case {case}");
                assert!(p.objective(&out) <= p.objective(&sol.assign), "case {case}");
            }
            // From random starts: whatever the search calls feasible keeps whole classes and
            // the seats by the independent check.
            for _ in 0..5 {
                let start: Vec<u32> = (0..p.n_units())
                    .map(|u| {
                        let ok: Vec<u32> = (0..p.n_schools as u32)
                            .filter(|&s| p.cost(u, s as usize).is_some())
                            .collect();
                        ok[rng.random_range(0..ok.len())]
                    })
                    .collect();
                let out = local_search(&p, &start, &[]);
                runs += 1;
                if p.is_feasible(&out) {
                    reached += 1;
                    assert!(whole_classes(&p, &out) && p.is_contiguous(&out), "case {case}");
                }
                assert_eq!(
                    p.is_feasible(&out),
                    p.objective(&out).is_some() && whole_classes(&p, &out) && p.is_contiguous(&out),
                    "case {case}: is_feasible agrees with the independent check"
                );
            }
        }
        assert!(reached > 0, "{reached} of {runs}");
        eprintln!("random starts: {reached} of {runs} runs reached a plan of whole classes");
    }

    #[test]
    fn local_search_is_never_worse_never_over_capacity_and_contiguous() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (mut checked, mut runs, mut contiguous, mut fitting) = (0, 0, 0, 0);
        for case in 0..80 {
            let p = random_problem(&mut rng);
            let Some((_, feasible)) = exhaustive(&p) else { continue };
            // From a feasible contiguous start: feasible, contiguous, never worse.
            let out = local_search(&p, &feasible, &[]);
            assert!(p.is_feasible(&out), "case {case}");
            assert!(p.objective(&out) <= p.objective(&feasible), "case {case}");
            // From random starts (allowed pairs): contiguous whenever it claims feasibility, and
            // from a random contiguous start never worse.
            for _ in 0..5 {
                let start: Vec<u32> = (0..p.n_units())
                    .map(|u| {
                        let ok: Vec<u32> = (0..p.n_schools as u32)
                            .filter(|&s| p.cost(u, s as usize).is_some())
                            .collect();
                        ok[rng.random_range(0..ok.len())]
                    })
                    .collect();
                let out = local_search(&p, &start, &[]);
                if p.is_feasible(&start) {
                    assert!(p.is_feasible(&out), "case {case}");
                    assert!(p.objective(&out) <= p.objective(&start), "case {case}");
                }
                // With every pair allowed an enclave can always join a neighbour.
                if p.cost.iter().all(|&c| c != UNREACHABLE) {
                    assert!(p.is_contiguous(&out), "case {case}: {start:?} -> {out:?}");
                }
                contiguous += p.is_contiguous(&out) as usize;
                fitting += p.is_feasible(&out) as usize;
                runs += 1;
                assert!(out.iter().all(|&s| (s as usize) < p.n_schools));
            }
            checked += 1;
        }
        assert!(checked >= 30, "{checked}");
        eprintln!("random starts: {runs} runs, {contiguous} contiguous, {fitting} feasible");
    }

    /// Contracting groups (rows of a grid, some split by a gap, one holding two roots): a plan
    /// of the contracted problem, expanded, keeps every group's connected members at one
    /// school, is contiguous when the contracted one is, and costs the same.
    #[test]
    fn contracted_groups_stay_whole_and_expand_to_contiguous_plans() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut checked = 0;
        for case in 0..60 {
            let p = random_problem(&mut rng);
            let n = p.n_units();
            // Random groups of 1-4 consecutive units.
            let mut groups = Vec::new();
            let mut u = 0;
            while u < n {
                let len = rng.random_range(1..=4).min(n - u);
                groups.push((u..u + len).collect::<Vec<_>>());
                u += len;
            }
            let (q, unit_of) = p.contract(&groups);
            assert!(q.n_units() <= n, "case {case}");
            assert_eq!(q.weight.iter().sum::<u32>(), p.weight.iter().sum::<u32>());
            let roots: std::collections::HashSet<usize> = q.root.iter().copied().collect();
            assert_eq!(roots.len(), q.root.len(), "case {case}: roots stay distinct");
            for (a, b) in (0..n).flat_map(|a| p.neighbours[a].iter().map(move |&b| (a, b))) {
                if unit_of[a] != unit_of[b] {
                    assert!(q.neighbours[unit_of[a]].contains(&unit_of[b]), "case {case}");
                }
            }
            let start: Vec<u32> = (0..q.n_units() as u32).map(|u| u % q.n_schools as u32).collect();
            let out = local_search(&q, &start, &[]);
            let expanded: Vec<u32> = unit_of.iter().map(|&k| out[k]).collect();
            if q.is_contiguous(&out) {
                assert!(p.is_contiguous(&expanded), "case {case}: {out:?} -> {expanded:?}");
                checked += 1;
            }
            if q.is_feasible(&out) {
                assert!(p.is_feasible(&expanded), "case {case}");
                assert_eq!(q.objective(&out), p.objective(&expanded), "case {case}");
            }
            for g in &groups {
                for &a in g {
                    for &b in g {
                        if unit_of[a] == unit_of[b] {
                            assert_eq!(expanded[a], expanded[b], "case {case}");
                        }
                    }
                }
            }
        }
        assert!(checked >= 10, "{checked}");
    }

    /// A line 0-1-2-3-4, school A at 0 and B at 4: unit 2 is nearest A, its neighbours B, so the
    /// optimum without contiguity has enclaves; the contiguous optimum costs more.
    #[test]
    fn exact_removes_an_enclave_at_a_higher_objective() {
        let neighbours = vec![vec![1], vec![0, 2], vec![1, 3], vec![2, 4], vec![3]];
        #[rustfmt::skip]
        let cost = vec![
            0, 500,
            100, 0,
            0, 100,
            100, 0,
            500, 0,
        ];
        let p = ContiguousProblem {
            n_schools: 2,
            cap: vec![10, 10],
            cost: cost.clone(),
            weight: vec![1; 5],
            root: vec![0, 4],
            neighbours,
            classes: None,
        };
        let free = super::super::lp::solve(&super::super::Problem {
            n_schools: 2,
            cap: vec![10, 10],
            min: vec![0, 0],
            cost,
            weight: vec![1; 5],
            fixed: vec![None; 5],
        })
        .unwrap();
        assert_eq!(free.assign, vec![0, 1, 0, 1, 1]);
        assert_eq!(free.objective, 0);
        // A's unit 2 and B's unit 1 are both cut off from their schools.
        assert_eq!(p.enclaves(&free.assign), vec![(1, vec![1]), (0, vec![2])]);
        let sol = solve_exact(&p, 60, None).unwrap();
        assert!(sol.proved_optimal && p.is_feasible(&sol.assign));
        assert_eq!(sol.objective, 100);
        let repaired = local_search(&p, &free.assign, &[]);
        assert!(p.is_feasible(&repaired));
        assert_eq!(p.objective(&repaired), Some(100));
    }

    #[test]
    fn an_enclave_with_no_way_home_is_infeasible_and_bad_roots_are_errors() {
        // Unit 2 may only go to A, but B's root 1 separates it from A's root 0.
        let p = ContiguousProblem {
            n_schools: 2,
            cap: vec![10, 10],
            cost: vec![0, UNREACHABLE, 5, 0, 0, UNREACHABLE],
            weight: vec![1; 3],
            root: vec![0, 1],
            neighbours: vec![vec![1], vec![0, 2], vec![1]],
            classes: None,
        };
        assert_eq!(
            solve_exact(&p, 10, None),
            Err(SolveError::Infeasible(vec![Diagnosis::Contiguity]))
        );
        let shared = ContiguousProblem { root: vec![1, 1], ..p.clone() };
        assert!(
            matches!(solve_exact(&shared, 10, None), Err(SolveError::Solver(m)) if m.contains("share"))
        );
    }

    /// An 8 x 8 town with 3 schools, walks by street-grid distance plus noise: the plan without
    /// contiguity, repaired and improved by the local search, then the exact optimum.
    #[test]
    fn local_search_repairs_the_free_optimum_and_exact_is_at_least_as_good() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (w, h) = (8usize, 8usize);
        let n = w * h;
        let root = vec![9, 30, 52];
        let weight: Vec<u32> = (0..n).map(|_| rng.random_range(1..=5)).collect();
        let mut cost = Vec::new();
        for u in 0..n {
            for &r in &root {
                let d = (u % w).abs_diff(r % w) + (u / w).abs_diff(r / w);
                let walk = 100 * d as u32 + rng.random_range(0..400);
                cost.push(walk * weight[u]);
            }
        }
        let total: u32 = weight.iter().sum();
        let cap = vec![total / 3 + 2, total / 3 + 2, total / 3 + 2];
        let p = ContiguousProblem {
            n_schools: 3,
            cap,
            cost,
            weight,
            root,
            neighbours: grid(w, h),
            classes: None,
        };
        let free = super::super::lp::solve(&super::super::Problem {
            n_schools: 3,
            cap: p.cap.clone(),
            min: vec![0; 3],
            cost: p.cost.clone(),
            weight: p.weight.clone(),
            fixed: (0..n).map(|u| p.root.iter().position(|&r| r == u).map(|s| s as u32)).collect(),
        })
        .unwrap();
        let heuristic = local_search(&p, &free.assign, &[]);
        assert!(p.is_feasible(&heuristic), "{heuristic:?}");
        let exact = solve_exact(&p, 120, None).unwrap();
        assert!(exact.proved_optimal && p.is_feasible(&exact.assign));
        let h_obj = p.objective(&heuristic).unwrap();
        assert!(free.objective <= exact.objective && exact.objective <= h_obj);
        // This seed: the free plan has enclaves and contiguity costs walk.
        assert!(!p.enclaves(&free.assign).is_empty() && free.objective < exact.objective);
        eprintln!(
            "free {} / exact {} ({} solves, {} cuts) / local search {}; free plan enclaves: {}",
            free.objective,
            exact.objective,
            exact.iterations,
            exact.cuts,
            h_obj,
            p.enclaves(&free.assign).len()
        );
        // No time at all: no plan, a time-limit error.
        assert_eq!(solve_exact(&p, 0, None), Err(SolveError::TimeLimit { seconds: 0 }));
    }

    #[test]
    fn pieces_split_by_school() {
        let school_of = vec![Some(0), Some(1), Some(0), None, Some(0), Some(0)];
        // 0-1-2, 3-4-5 as two rows of a 3 x 2 grid.
        let got = pieces(&grid(3, 2), &school_of);
        assert_eq!(got, vec![(0, vec![0]), (1, vec![1]), (0, vec![2, 4, 5])]);
    }
}
