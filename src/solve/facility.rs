//! Where to build: the capacitated facility-location problem in index space.
//!
//! A [`Facility`] is a pupil-level [`Problem`] whose first `n_existing` columns are the schools
//! that stay open and whose other columns are candidate sites. Choosing at most `k` candidates
//! (within a budget when they have costs) so that the least total walk of the assignment with
//! every capacity respected is least is the capacitated facility-location problem. Given the
//! open sites, the assignment is the transportation problem the flow solver solves exactly
//! ([`Facility::evaluate`]); the choice of sites is made
//!
//! - exactly by a MIP through good_lp + Cbc ([`Facility::mip`]: `open_j` binaries,
//!   `x_ij <= open_j`, capacity rows; `x` may stay continuous, because for integral `open` the
//!   assignment polytope is integral), with Cbc's proved bound; the sites it opens are evaluated
//!   again by the flow solver, so the walk reported is always an exact assignment;
//! - by a heuristic ([`Facility::heuristic`]: greedy additions, then swaps until none shortens
//!   the walk, every candidate set evaluated exactly by the flow solver);
//!
//! and either answer comes with a proved lower bound: Cbc's, or the Lagrangian bound of
//! [`Facility::lagrangian_bound`] (the assignment rows relaxed), which holds for any
//! multipliers and needs no LP solver.

use super::{Problem, Solution, SolveError, SolverKind};
use crate::routing::UNREACHABLE;
use good_lp::{coin_cbc, variable, Expression, ProblemVariables, Solution as _, SolverModel};

/// The facility-location problem: existing schools and candidate sites as columns of one
/// pupil-level problem.
#[derive(Debug, Clone)]
pub struct Facility {
    /// Pupils x (existing schools, then candidates); candidates' capacities are their seats
    /// when opened. Units must weigh 1 and may be fixed only to existing schools.
    pub problem: Problem,
    /// Further years' cohorts over the same columns (same schools, candidates and seats each
    /// year): a choice of sites serves every year, each year is assigned on its own, and the
    /// walk of a choice is the sum over the years. Empty for one year.
    pub more_years: Vec<Problem>,
    /// The first columns that are schools already open.
    pub n_existing: usize,
    /// What opening each candidate costs (0 without costs), one entry per candidate.
    pub cost: Vec<f64>,
    /// The most the opened candidates may cost together, less what the closures save.
    pub budget: Option<f64>,
    /// Current schools that may close (none by default).
    pub closures: Closures,
}

/// Current schools that may close: each a column of [`Facility::problem`] among the existing
/// ones (no unit may be fixed to it), what closing it saves (it frees budget), and how many
/// close.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closures {
    /// The existing columns that may close, ascending.
    pub schools: Vec<usize>,
    /// What closing each saves (0 without savings), one entry per school of `schools`.
    pub saving: Vec<f64>,
    /// Exactly this many of them close; `None`: any number (closing then only frees budget).
    pub exactly: Option<usize>,
}

/// A choice of candidates (and closures) with its exact walk.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The opened candidates (0-based among the candidates, ascending).
    pub open: Vec<usize>,
    /// The closed schools (0-based among [`Closures::schools`], ascending).
    pub closed: Vec<usize>,
    /// The least total walk with these sites open (meters); `None` when no assignment
    /// respects every capacity.
    pub walk: Option<u64>,
}

/// The exact solve's answer: the best choice found, Cbc's proved bound, and whether Cbc
/// proved it optimal (else its time limit ran out).
#[derive(Debug, Clone, PartialEq)]
pub struct MipAnswer {
    /// The candidates Cbc opened, evaluated again by the flow solver; `None` when Cbc found no
    /// feasible choice in time (or none exists).
    pub choice: Option<Choice>,
    /// Cbc's proved lower bound on the walk (meters, rounded up).
    pub bound: u64,
    /// Cbc proved the choice optimal.
    pub proved: bool,
}

impl Facility {
    /// Number of candidate sites.
    pub fn n_candidates(&self) -> usize {
        self.problem.n_schools - self.n_existing
    }

    /// What the candidates `open` cost together, less what the closures `closed` save.
    pub fn cost_of(&self, open: &[usize], closed: &[usize]) -> f64 {
        // + 0.0: the empty sum is -0.0.
        open.iter().map(|&c| self.cost[c]).sum::<f64>()
            - closed.iter().map(|&c| self.closures.saving[c]).sum::<f64>()
            + 0.0
    }

    /// Whether the candidates `open` with the closures `closed` are within the budget.
    pub fn within_budget(&self, open: &[usize], closed: &[usize]) -> bool {
        self.budget.is_none_or(|b| self.cost_of(open, closed) <= b + 1e-9)
    }

    /// Whether `closed` is as many closures as the rules ask.
    fn closures_allowed(&self, closed: &[usize]) -> bool {
        self.closures.exactly.is_none_or(|n| closed.len() == n)
    }

    /// The transportation problem with the existing schools (but the closures `closed`) and
    /// the candidates `open`, and each of its columns' column in [`Facility::problem`].
    pub fn sub_problem(&self, open: &[usize], closed: &[usize]) -> (Problem, Vec<usize>) {
        self.sub_problem_of(&self.problem, open, closed)
    }

    /// Every year's problem, the first year's first.
    pub fn years(&self) -> impl Iterator<Item = &Problem> {
        std::iter::once(&self.problem).chain(&self.more_years)
    }

    /// [`Facility::sub_problem`] of one year's problem.
    fn sub_problem_of(
        &self,
        p: &Problem,
        open: &[usize],
        closed: &[usize],
    ) -> (Problem, Vec<usize>) {
        let shut: Vec<usize> = closed.iter().map(|&c| self.closures.schools[c]).collect();
        let cols: Vec<usize> = (0..self.n_existing)
            .filter(|j| !shut.contains(j))
            .chain(open.iter().map(|&c| self.n_existing + c))
            .collect();
        let n = cols.len();
        let mut cost = Vec::with_capacity(p.n_units() * n);
        for u in 0..p.n_units() {
            let row = p.row(u);
            cost.extend(cols.iter().map(|&j| row[j]));
        }
        // Fixed units keep their school (never a closed one), renumbered.
        let fixed = p
            .fixed
            .iter()
            .map(|f| f.and_then(|s| cols.iter().position(|&j| j == s as usize)).map(|i| i as u32))
            .collect();
        let sub = Problem {
            n_schools: n,
            cap: cols.iter().map(|&j| p.cap[j]).collect(),
            min: cols.iter().map(|&j| p.min[j]).collect(),
            cost,
            weight: p.weight.clone(),
            fixed,
        };
        (sub, cols)
    }

    /// The same problem with no walk longer than `limit` allowed (a fixed unit's walk to its
    /// school excepted), every year.
    pub fn with_max_walk(&self, limit: u32) -> Facility {
        let cut = |p: &Problem| {
            let mut q = p.clone();
            let n_s = q.n_schools;
            for (u, row) in q.cost.chunks_mut(n_s).enumerate() {
                for (s, c) in row.iter_mut().enumerate() {
                    if *c != UNREACHABLE && *c > limit && p.fixed[u] != Some(s as u32) {
                        *c = UNREACHABLE;
                    }
                }
            }
            q
        };
        Facility {
            problem: cut(&self.problem),
            more_years: self.more_years.iter().map(cut).collect(),
            ..self.clone()
        }
    }

    /// Every distinct walk of a free unit in any year, ascending: the values a least longest
    /// walk can take.
    pub fn distinct_walks(&self) -> Vec<u32> {
        let mut v: Vec<u32> = Vec::new();
        for p in self.years() {
            for u in (0..p.n_units()).filter(|&u| p.fixed[u].is_none()) {
                v.extend(p.row(u).iter().copied().filter(|&c| c != UNREACHABLE));
            }
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The longest walk of a free unit in the least-walk assignment with `open` and `closed`
    /// (every year); `None` when no assignment respects the capacities.
    pub fn longest_walk(
        &self,
        open: &[usize],
        closed: &[usize],
    ) -> Result<Option<u32>, SolveError> {
        let mut longest = 0;
        for p in self.years() {
            let (sub, _) = self.sub_problem_of(p, open, closed);
            match super::solve(&sub, SolverKind::Flow) {
                Ok(s) => {
                    for (u, &j) in s.assign.iter().enumerate() {
                        if sub.fixed[u].is_none() {
                            longest = longest.max(sub.row(u)[j as usize]);
                        }
                    }
                }
                Err(SolveError::Infeasible(_)) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(Some(longest))
    }

    /// The exact least walk with the candidates `open` and the closures `closed` (the flow
    /// solver), as an assignment to [`Facility::problem`]'s columns; `Ok(None)` when no
    /// assignment respects the capacities.
    pub fn evaluate(
        &self,
        open: &[usize],
        closed: &[usize],
    ) -> Result<Option<Solution>, SolveError> {
        let (sub, cols) = self.sub_problem(open, closed);
        match super::solve(&sub, SolverKind::Flow) {
            Ok(s) => Ok(Some(Solution {
                assign: s.assign.iter().map(|&j| cols[j as usize] as u32).collect(),
                objective: s.objective,
            })),
            Err(SolveError::Infeasible(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The exact least walk of each year with the candidates `open` and the closures
    /// `closed`; `Ok(None)` when some year has no assignment within the capacities.
    pub fn walk_by_year(
        &self,
        open: &[usize],
        closed: &[usize],
    ) -> Result<Option<Vec<u64>>, SolveError> {
        let mut out = Vec::with_capacity(1 + self.more_years.len());
        for p in self.years() {
            let (sub, _) = self.sub_problem_of(p, open, closed);
            match super::solve(&sub, SolverKind::Flow) {
                Ok(s) => out.push(s.objective),
                Err(SolveError::Infeasible(_)) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(Some(out))
    }

    /// The walk of a choice: the sum over the years of each year's least walk.
    pub fn walk(&self, open: &[usize], closed: &[usize]) -> Result<Option<u64>, SolveError> {
        if self.more_years.is_empty() {
            return Ok(self.evaluate(open, closed)?.map(|s| s.objective));
        }
        Ok(self.walk_by_year(open, closed)?.map(|w| w.iter().sum()))
    }

    /// Evaluate every choice in `sets` (open, closed) in parallel, in order.
    fn walks(&self, sets: &[Pick]) -> Result<Vec<Option<u64>>, SolveError> {
        use rayon::prelude::*;
        let cancel = crate::cancel::current();
        sets.par_iter()
            .map(|s| crate::cancel::within(cancel.as_ref(), || self.walk(&s.0, &s.1)))
            .collect()
    }

    /// Greedy additions up to `k` candidates (each the one that shortens the walk most, or,
    /// while no choice is feasible, the one with the most seats), then swaps (one open
    /// candidate for one closed) while any shortens the walk. `start` is a choice to grow from
    /// (the answer for `k - 1`). Every set is evaluated exactly by the flow solver.
    ///
    /// With closures: when exactly N schools close, the schools are first closed one by one
    /// (each the one whose closing lengthens the walk least), and the swaps also trade a
    /// closed school for one that stays; with any number allowed, the heuristic closes none
    /// (a valid choice, not necessarily the best: the exact method weighs closures then).
    pub fn heuristic(&self, k: usize, start: &Choice) -> Result<Choice, SolveError> {
        let n_c = self.n_candidates();
        let n_close = self.closures.exactly.unwrap_or(0).min(self.closures.schools.len());
        let mut open: Vec<usize> = start.open.clone();
        open.sort_unstable();
        let mut closed: Vec<usize> = start.closed.clone();
        closed.sort_unstable();
        closed.truncate(n_close);
        while closed.len() < n_close {
            let sets: Vec<Pick> = (0..self.closures.schools.len())
                .filter(|c| !closed.contains(c))
                .map(|c| (open.clone(), with(&closed, c)))
                .collect();
            let walks = self.walks(&sets)?;
            // The least walk; while none fits, the fewest seats lost.
            let i = best_of(&walks).unwrap_or_else(|| {
                (0..sets.len())
                    .min_by_key(|&i| {
                        let c = sets[i].1.iter().find(|c| !closed.contains(c)).copied();
                        c.map(|c| self.problem.cap[self.closures.schools[c]]).unwrap_or(0)
                    })
                    .unwrap_or(0)
            });
            closed = sets[i].1.clone();
        }
        let mut walk = self.walk(&open, &closed)?;
        while open.len() < k.min(n_c) {
            let sets: Vec<Pick> = (0..n_c)
                .filter(|c| !open.contains(c))
                .map(|c| (with(&open, c), closed.clone()))
                .filter(|s| self.within_budget(&s.0, &s.1))
                .collect();
            if sets.is_empty() {
                break;
            }
            let walks = self.walks(&sets)?;
            let (set, w) = match best_of(&walks) {
                Some(i) => (sets[i].0.clone(), walks[i]),
                None => {
                    // Nothing feasible yet: open the most seats.
                    let i = (0..sets.len())
                        .max_by_key(|&i| {
                            let added = sets[i].0.iter().find(|c| !open.contains(c)).copied();
                            added.map(|c| self.problem.cap[self.n_existing + c]).unwrap_or(0)
                        })
                        .unwrap_or(0);
                    (sets[i].0.clone(), walks[i])
                }
            };
            if let (Some(now), Some(next)) = (walk, w) {
                // Opening a site never lengthens the walk; stop when it no longer shortens it.
                if next >= now {
                    break;
                }
            }
            open = set;
            walk = w;
        }
        // Swaps: best improvement until none.
        loop {
            crate::cancel::check().map_err(|_| SolveError::Cancelled)?;
            let mut sets = Vec::new();
            for &o in &open {
                for c in (0..n_c).filter(|c| !open.contains(c)) {
                    sets.push((with(&without(&open, o), c), closed.clone()));
                }
            }
            for &o in &closed {
                for c in (0..self.closures.schools.len()).filter(|c| !closed.contains(c)) {
                    sets.push((open.clone(), with(&without(&closed, o), c)));
                }
            }
            sets.retain(|s| self.within_budget(&s.0, &s.1));
            if sets.is_empty() {
                break;
            }
            let walks = self.walks(&sets)?;
            match best_of(&walks) {
                Some(i) if better(walks[i], walk) => {
                    (open, closed) = sets[i].clone();
                    walk = walks[i];
                }
                _ => break,
            }
        }
        Ok(Choice { open, closed, walk })
    }

    /// A proved lower bound on the least walk with at most `k` candidates open (within the
    /// budget, and with the closures): the Lagrangian relaxation of the rows "every pupil at
    /// one school", by subgradient steps towards the upper bound `ub` (a walk known to be
    /// reachable). Any multipliers give a valid bound; the steps only make it tighter. The
    /// closures and the candidates are relaxed apart: the closable schools' best uses less
    /// those of the schools that lose least (exactly N close; with any number none needs to),
    /// the candidates within the budget widened by the most the closures can save. Meters,
    /// rounded up.
    pub fn lagrangian_bound(&self, k: usize, ub: Option<u64>, iterations: usize) -> u64 {
        // One relaxation per year; the years share only the choice of candidates, so each
        // candidate's value is the sum of its years' values.
        let mut years: Vec<YearRelaxation> = self.years().map(YearRelaxation::new).collect();
        let n_e = self.n_existing;
        let fixed_cost: f64 = years.iter().map(|y| y.fixed_cost).sum();
        if years.iter().all(|y| y.free.is_empty()) {
            return fixed_cost.ceil() as u64;
        }
        let n_c = self.n_candidates();
        let shut = &self.closures.schools;
        let n_close = self.closures.exactly.unwrap_or(0).min(shut.len());
        // The most the closures can free: the N largest savings, or all of them.
        let mut savings = self.closures.saving.clone();
        savings.sort_by(|a, b| b.total_cmp(a));
        let freed: f64 = savings.iter().take(self.closures.exactly.unwrap_or(shut.len())).sum();
        let budget = self.budget.map(|b| b + freed);
        let mut best = f64::NEG_INFINITY;
        let mut theta = 2.0;
        let mut since_better = 0;
        let mut rho_c = vec![0f64; n_c];
        let mut rho_s = vec![0f64; shut.len()];
        for _ in 0..iterations.max(1) {
            rho_c.iter_mut().for_each(|r| *r = 0.0);
            rho_s.iter_mut().for_each(|r| *r = 0.0);
            let mut value = fixed_cost;
            for y in &mut years {
                y.best_uses();
                value += y.lambda.iter().sum::<f64>() + y.rho[..n_e].iter().sum::<f64>();
                for (c, r) in rho_c.iter_mut().enumerate() {
                    *r += y.rho[n_e + c];
                }
                for (c, r) in rho_s.iter_mut().enumerate() {
                    *r += y.rho[shut[c]];
                }
            }
            // Closures: the N schools whose best uses are worth least close (rho <= 0).
            let mut order: Vec<usize> = (0..shut.len()).collect();
            order.sort_by(|&a, &b| rho_s[b].total_cmp(&rho_s[a]));
            let mut weights_e = vec![1f64; n_e];
            for &c in order.iter().take(n_close) {
                value -= rho_s[c];
                weights_e[shut[c]] = 0.0;
            }
            // Candidates: at most k (or within the budget), the most negative.
            let (cand_value, weights) = self.open_relaxation(&rho_c, k, budget);
            value += cand_value;
            if value > best + 1e-9 {
                best = value;
                since_better = 0;
            } else {
                since_better += 1;
                if since_better >= 20 {
                    theta /= 2.0;
                    since_better = 0;
                }
            }
            let Some(ub) = ub else { break };
            // Subgradient: 1 - (times each pupil is taken), every year.
            let weights: Vec<f64> = weights_e.into_iter().chain(weights).collect();
            let g: Vec<Vec<f64>> = years.iter().map(|y| y.subgradient(&weights)).collect();
            let norm: f64 = g.iter().flatten().map(|x| x * x).sum();
            if norm < 1e-12 || theta < 1e-4 || (ub as f64 - best) < 0.5 {
                break;
            }
            let step = theta * (ub as f64 - value).max(1.0) / norm;
            for (y, gy) in years.iter_mut().zip(&g) {
                for (l, gi) in y.lambda.iter_mut().zip(gy) {
                    *l += step * gi;
                }
            }
        }
        (best - 1e-7 * best.abs().max(1.0)).ceil().max(0.0) as u64
    }

    /// The least sum of `rho` (each <= 0) over candidates opened at most `k` and within
    /// `budget`, relaxed: the larger of "at most k" alone and the fractional knapsack of the
    /// budget alone — both are at most the true least sum. Returns it and each candidate's
    /// weight in it (for the subgradient).
    fn open_relaxation(&self, rho: &[f64], k: usize, budget: Option<f64>) -> (f64, Vec<f64>) {
        let n = rho.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| rho[a].total_cmp(&rho[b]));
        let mut w_k = vec![0f64; n];
        let mut v_k = 0.0;
        for &c in order.iter().take(k) {
            if rho[c] < 0.0 {
                w_k[c] = 1.0;
                v_k += rho[c];
            }
        }
        let Some(budget) = budget else { return (v_k, w_k) };
        let mut by_ratio: Vec<usize> = (0..n).filter(|&c| rho[c] < 0.0).collect();
        let ratio =
            |c: usize| if self.cost[c] <= 0.0 { f64::NEG_INFINITY } else { rho[c] / self.cost[c] };
        by_ratio.sort_by(|&a, &b| ratio(a).total_cmp(&ratio(b)));
        let mut w_b = vec![0f64; n];
        let mut v_b = 0.0;
        let mut left = budget;
        for c in by_ratio {
            let f = if self.cost[c] <= 0.0 { 1.0 } else { (left / self.cost[c]).clamp(0.0, 1.0) };
            if f <= 0.0 {
                break;
            }
            w_b[c] = f;
            v_b += f * rho[c];
            left -= f * self.cost[c];
        }
        if v_b > v_k {
            (v_b, w_b)
        } else {
            (v_k, w_k)
        }
    }

    /// The exact choice of at most `k` candidates and the closures (within the budget) by a
    /// MIP through good_lp and Cbc, with its proved bound; `seconds` is Cbc's time limit. The
    /// choice Cbc makes is evaluated again by the flow solver.
    pub fn mip(&self, k: usize, seconds: u32) -> Result<MipAnswer, SolveError> {
        if !self.years().all(Problem::unit_weights) {
            return Err(SolveError::Solver("site choice needs units of one pupil".into()));
        }
        let n_s = self.problem.n_schools;
        let n_e = self.n_existing;
        let shut = &self.closures.schools;
        let mut vars = ProblemVariables::new();
        let open: Vec<good_lp::Variable> =
            (0..self.n_candidates()).map(|_| vars.add(variable().binary())).collect();
        let close: Vec<good_lp::Variable> =
            shut.iter().map(|_| vars.add(variable().binary())).collect();
        // Each column's switch: `open_j` for a candidate; for a closable school `1 - close_j`
        // (the column's closure and the coefficient's sign).
        let closure_of = |j: usize| shut.iter().position(|&s| s == j);
        let mut objective = Expression::with_capacity(self.problem.cost.len());
        let mut fixed_cost = 0u64;
        let mut rows: Vec<Vec<good_lp::Variable>> = Vec::new();
        // Per year: each column's assignment variables and the load of fixed pupils.
        let mut years: Vec<(Vec<Vec<good_lp::Variable>>, Vec<i64>)> = Vec::new();
        let mut links: Vec<(good_lp::Variable, usize)> = Vec::new();
        let mut shut_links: Vec<(good_lp::Variable, usize)> = Vec::new();
        for p in self.years() {
            let mut col_terms: Vec<Vec<good_lp::Variable>> = vec![Vec::new(); n_s];
            let mut fixed_load = vec![0i64; n_s];
            for u in 0..p.n_units() {
                if let Some(s) = p.fixed[u] {
                    fixed_load[s as usize] += 1;
                    fixed_cost += p.cost(u, s as usize).unwrap_or(0) as u64;
                    continue;
                }
                let mut row = Vec::new();
                for j in 0..n_s {
                    if let Some(c) = p.cost(u, j) {
                        let v = vars.add(variable().min(0.0).max(1.0));
                        objective.add_mul(c as f64, v);
                        col_terms[j].push(v);
                        row.push(v);
                        if j >= n_e {
                            links.push((v, j - n_e));
                        } else if let Some(c) = closure_of(j) {
                            shut_links.push((v, c));
                        }
                    }
                }
                rows.push(row);
            }
            years.push((col_terms, fixed_load));
        }
        let mut model = vars.minimise(objective).using(coin_cbc);
        model.set_parameter("log", "0");
        model.set_parameter("slogLevel", "0");
        model.set_parameter("seconds", &seconds.to_string());
        for row in &rows {
            let e: Expression = row.iter().copied().sum();
            model.add_constraint(e.eq(1.0));
        }
        for (p, (col_terms, fixed_load)) in self.years().zip(&years) {
            for j in 0..n_s {
                let e: Expression = col_terms[j].iter().copied().sum();
                let cap = p.cap[j] as f64 - fixed_load[j] as f64;
                let min = p.min[j] as f64 - fixed_load[j] as f64;
                match (j >= n_e, closure_of(j)) {
                    (true, _) => {
                        let o = open[j - n_e];
                        if min > 0.0 {
                            model.add_constraint((e.clone() - min * o).geq(0.0));
                        }
                        model.add_constraint((e - cap * o).leq(0.0));
                    }
                    // A closable school: its load within min..cap unless it closes, then 0.
                    (false, Some(c)) => {
                        if min > 0.0 {
                            model.add_constraint((e.clone() + min * close[c]).geq(min));
                        }
                        model.add_constraint((e + cap * close[c]).leq(cap));
                    }
                    (false, None) => {
                        if min > 0.0 {
                            model.add_constraint(e.clone().geq(min));
                        }
                        model.add_constraint(e.leq(cap));
                    }
                }
            }
        }
        for &(v, c) in &links {
            model.add_constraint((v - open[c]).leq(0.0));
        }
        for &(v, c) in &shut_links {
            model.add_constraint((v + close[c]).leq(1.0));
        }
        let count: Expression = open.iter().copied().sum();
        model.add_constraint(count.leq(k as f64));
        if let Some(n) = self.closures.exactly {
            let closed: Expression = close.iter().copied().sum();
            model.add_constraint(closed.eq(n as f64));
        }
        if let Some(b) = self.budget {
            let mut e = Expression::with_capacity(open.len() + close.len());
            for (c, &v) in open.iter().enumerate() {
                e.add_mul(self.cost[c], v);
            }
            for (c, &v) in close.iter().enumerate() {
                e.add_mul(-self.closures.saving[c], v);
            }
            model.add_constraint(e.leq(b));
        }
        if crate::cancel::cancelled() {
            return Err(SolveError::Cancelled);
        }
        let sol = match model.solve() {
            Ok(s) => s,
            Err(good_lp::ResolutionError::Infeasible) => {
                return Ok(MipAnswer { choice: None, bound: u64::MAX, proved: true })
            }
            Err(e) => return Err(SolveError::Solver(format!("Cbc: {e}"))),
        };
        let raw = sol.model();
        let proved = raw.is_proven_optimal();
        let best_possible = raw.best_possible_value();
        let bound_lp = if best_possible.is_finite() && best_possible > -1e29 {
            best_possible.max(0.0)
        } else {
            0.0
        };
        let mut bound = (bound_lp - 1e-6 * bound_lp.abs().max(1.0)).ceil() as u64 + fixed_cost;
        // Cbc stopped by its time limit may hold no solution: only a choice within the rules
        // is taken, and evaluated exactly.
        let chosen: Vec<usize> = (0..open.len()).filter(|&c| sol.value(open[c]) > 0.5).collect();
        let closed: Vec<usize> = (0..close.len()).filter(|&c| sol.value(close[c]) > 0.5).collect();
        let choice = if chosen.len() <= k
            && self.closures_allowed(&closed)
            && self.within_budget(&chosen, &closed)
        {
            let walk = self.walk(&chosen, &closed)?;
            walk.map(|w| Choice { open: chosen, closed, walk: Some(w) })
        } else {
            None
        };
        if let Some(Choice { walk: Some(w), .. }) = &choice {
            // No bound exceeds a walk reached.
            bound = bound.min(*w);
        }
        Ok(MipAnswer { choice, bound, proved })
    }

    /// Every choice of at most `k` candidates and of the closures within the budget, the
    /// least walk: for tests and tiny instances.
    pub fn brute_force(&self, k: usize) -> Result<Choice, SolveError> {
        let n_c = self.n_candidates();
        let n_s = self.closures.schools.len();
        let mut best = Choice { open: vec![], closed: vec![], walk: None };
        for shut in 0u64..(1u64 << n_s) {
            let closed: Vec<usize> = (0..n_s).filter(|&c| shut >> c & 1 == 1).collect();
            if !self.closures_allowed(&closed) {
                continue;
            }
            for mask in 0u64..(1u64 << n_c) {
                if mask.count_ones() as usize > k {
                    continue;
                }
                let set: Vec<usize> = (0..n_c).filter(|&c| mask >> c & 1 == 1).collect();
                if !self.within_budget(&set, &closed) {
                    continue;
                }
                let w = self.walk(&set, &closed)?;
                if better(w, best.walk) {
                    best = Choice { open: set, closed: closed.clone(), walk: w };
                }
            }
        }
        Ok(best)
    }
}

/// A choice to evaluate: the candidates open, the schools closed.
type Pick = (Vec<usize>, Vec<usize>);

/// One year's part of the Lagrangian relaxation: its free pupils' multipliers, and each
/// column's best use under them.
struct YearRelaxation<'a> {
    p: &'a Problem,
    /// Units not fixed to a school.
    free: Vec<usize>,
    /// Walk of the fixed units.
    fixed_cost: f64,
    /// Seats left after the fixed units.
    cap: Vec<i64>,
    /// One multiplier per free unit.
    lambda: Vec<f64>,
    /// Per column: the sum of its best uses' reduced costs (<= 0), and which free units.
    rho: Vec<f64>,
    chosen: Vec<Vec<usize>>,
    vals: Vec<(f64, usize)>,
}

impl<'a> YearRelaxation<'a> {
    fn new(p: &'a Problem) -> Self {
        let free: Vec<usize> = (0..p.n_units()).filter(|&u| p.fixed[u].is_none()).collect();
        let mut fixed_cost = 0f64;
        let mut cap: Vec<i64> = p.cap.iter().map(|&c| c as i64).collect();
        for u in 0..p.n_units() {
            if let Some(s) = p.fixed[u] {
                fixed_cost += p.cost(u, s as usize).unwrap_or(0) as f64;
                cap[s as usize] -= p.weight[u] as i64;
            }
        }
        // Start at each pupil's nearest school: the uncapacitated bound with every site open.
        let lambda: Vec<f64> = free
            .iter()
            .map(|&u| {
                p.row(u).iter().filter(|&&c| c != UNREACHABLE).min().copied().unwrap_or(0) as f64
            })
            .collect();
        let n_s = p.n_schools;
        YearRelaxation {
            p,
            free,
            fixed_cost,
            cap,
            lambda,
            rho: vec![0.0; n_s],
            chosen: vec![Vec::new(); n_s],
            vals: Vec::new(),
        }
    }

    /// Each column's best use: its `cap` most negative reduced costs.
    fn best_uses(&mut self) {
        for j in 0..self.p.n_schools {
            self.vals.clear();
            for (i, &u) in self.free.iter().enumerate() {
                let c = self.p.row(u)[j];
                if c != UNREACHABLE {
                    let r = c as f64 - self.lambda[i];
                    if r < 0.0 {
                        self.vals.push((r, i));
                    }
                }
            }
            let take = self.cap[j].max(0) as usize;
            if self.vals.len() > take {
                self.vals.select_nth_unstable_by(take, |a, b| a.0.total_cmp(&b.0));
                self.vals.truncate(take);
            }
            self.rho[j] = self.vals.iter().map(|v| v.0).sum();
            self.chosen[j] = self.vals.iter().map(|v| v.1).collect();
        }
    }

    /// 1 - (times each free unit is taken), each column counted by its weight in `weights`
    /// (1 for a school that stays, the candidates' share of being opened).
    fn subgradient(&self, weights: &[f64]) -> Vec<f64> {
        let mut g = vec![1f64; self.free.len()];
        for j in 0..self.p.n_schools {
            let w = weights[j];
            if w > 0.0 {
                for &i in &self.chosen[j] {
                    g[i] -= w;
                }
            }
        }
        g
    }
}

fn with(open: &[usize], c: usize) -> Vec<usize> {
    let mut s = open.to_vec();
    s.push(c);
    s.sort_unstable();
    s
}

fn without(open: &[usize], c: usize) -> Vec<usize> {
    open.iter().copied().filter(|&x| x != c).collect()
}

/// Whether walk `a` is shorter than `b` (no assignment counts as the longest).
pub fn better(a: Option<u64>, b: Option<u64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a < b,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The choice with the shortest walk (the first of equals), `None` if none is feasible.
fn best_of(walks: &[Option<u64>]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for i in 0..walks.len() {
        if walks[i].is_some() && best.is_none_or(|b| better(walks[i], walks[b])) {
            best = Some(i);
        }
    }
    best
}
