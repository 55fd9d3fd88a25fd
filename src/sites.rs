//! Where to build: which of the candidate sites, opened beside the current schools, shorten
//! the pupils' walks most ([`crate::solve::facility`] is the index-space problem).
//!
//! [`load`] reads the instance and its matrix as `solve` takes them, the candidates (read like
//! schools: `id,name,lat,lon,capacity | max_classes`, and an optional `cost`) and the
//! candidates' walks (a matrix file for the same pupils and the candidates). [`choose`] solves
//! k = 0, 1, ..., K: for each k the best choice found (exactly by Cbc where the size allows,
//! else by the heuristic), its proved lower bound and gap, and for the largest k each chosen
//! site's best replacement. [`Sites::write`] writes `sites.csv`, `sites.md` and every k's plan
//! (`plans/k<N>/`, the way `solve` writes a plan, with the walks it was solved on, so
//! `catchment check --pupils ... --plan plans/k<N>` verifies it).

use crate::error::{Error, Result};
use crate::instance::{id_cmp, Instance, School};
use crate::output::{write_plan, Extras, StoredWalks};
use crate::plan::{Plan, Policy};
use crate::routing::{read_matrix, Matrix};
use crate::solve::facility::{better, Choice, Facility};
use crate::solve::{Problem, SolveError};
use std::path::Path;

/// The inputs of a site choice, read and validated.
#[derive(Debug, Clone)]
pub struct SitesInput {
    /// The current schools and the pupils.
    pub inst: Instance,
    /// Walks from every pupil to every current school.
    pub matrix: Matrix,
    /// The candidate sites as schools (sorted by id), without their `cost` column.
    pub candidates: Vec<School>,
    /// What opening each candidate costs (0 when the file has no `cost` column).
    pub cost: Vec<f64>,
    /// Whether the candidates file gives costs.
    pub has_cost: bool,
    /// Walks from every pupil to every candidate (columns in `candidates` order).
    pub candidate_matrix: Matrix,
}

/// How the sites are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Exact (Cbc) while pupils x candidates is at most [`EXACT_UP_TO`], else the heuristic.
    Auto,
    /// The MIP through Cbc (and the heuristic beside it), whatever the size.
    Exact,
    /// Greedy additions and swaps, each choice evaluated exactly by the flow solver.
    Heuristic,
}

/// The largest pupils x candidates [`Method::Auto`] solves exactly.
pub const EXACT_UP_TO: usize = 150_000;

/// Subgradient steps of the Lagrangian bound.
const LAGRANGIAN_STEPS: usize = 400;

/// Read the current schools, the pupils and their matrix, the candidates and their matrix.
pub fn load(
    schools: &Path,
    pupils: &Path,
    matrix: &Path,
    candidates: &Path,
    candidate_matrix: &Path,
) -> Result<SitesInput> {
    let inst = crate::instance::read_instance(schools, pupils)?;
    let matrix = read_matrix(matrix, &inst)?;
    let mut cands = crate::instance::read_schools(candidates)?;
    cands.sort_by(|a, b| id_cmp(&a.id, &b.id));
    let file = crate::instance::file_name(candidates);
    let mut problems = Vec::new();
    for c in &cands {
        if inst.school_index(&c.id).is_some() {
            problems.push(crate::error::InputProblem::new(
                &file,
                None,
                Some("id"),
                format!("candidate '{}' has the id of a current school", c.id),
            ));
        }
    }
    let has_cost = cands.iter().any(|c| c.extra.iter().any(|(k, _)| k == "cost"));
    let mut cost = Vec::with_capacity(cands.len());
    for c in &mut cands {
        let v = c.extra.iter().find(|(k, _)| k == "cost").map(|(_, v)| v.trim().to_string());
        c.extra.retain(|(k, _)| k != "cost");
        match v.as_deref() {
            None | Some("") if has_cost => problems.push(crate::error::InputProblem::new(
                &file,
                None,
                Some("cost"),
                format!("candidate '{}' has no cost", c.id),
            )),
            None | Some("") => cost.push(0.0),
            Some(t) => match t.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => cost.push(x),
                _ => problems.push(crate::error::InputProblem::new(
                    &file,
                    None,
                    Some("cost"),
                    format!("candidate '{}': cost is not a number of 0 or more", c.id),
                )),
            },
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    // The candidates' matrix is read for the same pupils with the candidates as schools.
    let pupils_only: Vec<_> = inst
        .pupils
        .iter()
        .cloned()
        .map(|mut p| {
            p.fixed_school = None;
            p
        })
        .collect();
    let cand_inst = Instance::new(cands.clone(), pupils_only)?;
    let candidate_matrix = read_matrix(candidate_matrix, &cand_inst)?;
    Ok(SitesInput { inst, matrix, candidates: cands, cost, has_cost, candidate_matrix })
}

/// One row of the comparison: the best choice of at most `k` sites.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// Sites opened at most.
    pub k: usize,
    /// The candidates chosen (ids).
    pub sites: Vec<String>,
    /// What they cost together.
    pub cost: f64,
    /// The least total walk with them open (meters); `None`: no plan respects every capacity.
    pub walk_m: Option<u64>,
    /// Walk saved against the row before (k - 1).
    pub saved_m: Option<u64>,
    /// Walk saved against no new site (k = 0).
    pub saved_total_m: Option<u64>,
    /// Mean walk per pupil (meters).
    pub mean_walk_m: Option<f64>,
    /// A proved lower bound on the walk of any choice of at most k sites; `None` when no
    /// choice was found that seats every pupil.
    pub bound_m: Option<u64>,
    /// (walk - bound) / walk: 0 when the choice is proved optimal.
    pub gap: Option<f64>,
    /// How the choice was found and its bound proved.
    pub method: String,
}

/// A chosen site swapped for its best alternative (for the largest k).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alternative {
    /// The chosen site left out.
    pub instead_of: String,
    /// The candidate that replaces it best (`None`: no other candidate fits the rules).
    pub site: Option<String>,
    /// The walk with the replacement.
    pub walk_m: Option<u64>,
    /// Walk added against the chosen sites.
    pub extra_m: Option<u64>,
    /// The walk with the chosen site left out and no replacement.
    pub walk_without_m: Option<u64>,
}

/// The answer: a row per k, the alternatives for the largest k, and each k's plan.
#[derive(Debug, Clone)]
pub struct Sites {
    /// k = 0, 1, ..., K.
    pub rows: Vec<Row>,
    /// For the largest k with sites: each chosen site's best replacement.
    pub alternatives: Vec<Alternative>,
    /// The k the alternatives are for.
    pub alternatives_k: usize,
    /// Each feasible k's plan: the instance (current schools and the chosen sites), its
    /// walks and the certified plan.
    pub plans: Vec<(usize, Instance, Matrix, Plan)>,
    /// The budget, when given.
    pub budget: Option<f64>,
    /// Whether the candidates have costs (the tables show them).
    pub has_cost: bool,
    /// Pupils in the instance.
    pub pupils: usize,
}

/// The index-space problem: current schools, then candidates.
pub fn facility(input: &SitesInput, budget: Option<f64>) -> Result<Facility> {
    let base = Problem::pupil_level(&input.inst, &input.matrix, None)?;
    let (n_e, n_c) = (input.inst.schools.len(), input.candidates.len());
    let n = n_e + n_c;
    let mut cost = Vec::with_capacity(base.n_units() * n);
    for u in 0..base.n_units() {
        cost.extend_from_slice(base.row(u));
        cost.extend_from_slice(input.candidate_matrix.row(u));
    }
    let mut cap = base.cap.clone();
    cap.extend(input.candidates.iter().map(|c| c.capacity));
    let mut min = base.min.clone();
    min.extend(input.candidates.iter().map(|c| c.min_pupils));
    Ok(Facility {
        problem: Problem { n_schools: n, cap, min, cost, weight: base.weight, fixed: base.fixed },
        n_existing: n_e,
        cost: input.cost.clone(),
        budget,
    })
}

fn solver_error(e: SolveError) -> Error {
    match e {
        SolveError::Cancelled => Error::Cancelled,
        SolveError::Solver(m) => Error::Solver(m),
        SolveError::TimeLimit { seconds } => Error::TimeLimit {
            seconds,
            message: "Cbc did not finish the site choice in time".into(),
            hint: None,
        },
        SolveError::Infeasible(_) => Error::internal("a site choice was judged infeasible late"),
    }
}

/// Choose at most k = 0, 1, ..., `k_max` candidates (within `budget`) with the least walk.
pub fn choose(
    input: &SitesInput,
    k_max: usize,
    budget: Option<f64>,
    method: Method,
    mip_seconds: u32,
) -> Result<Sites> {
    if budget.is_some() && !input.has_cost {
        return Err(Error::policy(
            "a budget needs the candidates' costs: the candidates file has no cost column",
            None,
        ));
    }
    let f = facility(input, budget)?;
    let n_p = input.inst.pupils.len();
    let exact = match method {
        Method::Exact => true,
        Method::Heuristic => false,
        Method::Auto => n_p.saturating_mul(input.candidates.len()) <= EXACT_UP_TO,
    };
    let ids = |open: &[usize]| -> Vec<String> {
        open.iter().map(|&c| input.candidates[c].id.clone()).collect()
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut choices: Vec<Choice> = Vec::new();
    for k in 0..=k_max.min(input.candidates.len()) {
        crate::cancel::check()?;
        let start = choices.last().map(|c| c.open.clone()).unwrap_or_default();
        let mut best = f.heuristic(k, &start).map_err(solver_error)?;
        if let Some(prev) = choices.last() {
            if better(prev.walk, best.walk) {
                best = prev.clone();
            }
        }
        let (mut bound, mut method_label) = (0u64, String::new());
        if k == 0 {
            // No choice to make: the flow solver's optimum is exact.
            bound = best.walk.unwrap_or(0);
            method_label = "exact (flow solver; no site to choose)".into();
        } else {
            if exact {
                let a = f.mip(k, mip_seconds).map_err(solver_error)?;
                if let Some(c) = a.choice {
                    if better(c.walk, best.walk) {
                        best = c;
                    }
                }
                bound = a.bound;
                method_label = if a.proved {
                    "exact (Cbc branch and bound, proved optimal)".into()
                } else {
                    format!("Cbc stopped at its time limit ({mip_seconds} s): best of Cbc and the heuristic")
                };
            }
            let lag = f.lagrangian_bound(k, best.walk, LAGRANGIAN_STEPS);
            if !exact {
                method_label = "heuristic (greedy and swaps, flow solver); Lagrangian bound".into();
            }
            bound = bound.max(lag);
        }
        if let Some(w) = best.walk {
            bound = bound.min(w);
        }
        let walk = best.walk;
        let saved = |prev: Option<&Row>| match (prev.and_then(|r| r.walk_m), walk) {
            (Some(a), Some(b)) => Some(a.saturating_sub(b)),
            _ => None,
        };
        let row = Row {
            k,
            sites: ids(&best.open),
            cost: f.cost_of(&best.open),
            walk_m: walk,
            saved_m: saved(rows.last()),
            saved_total_m: saved(rows.first()),
            mean_walk_m: walk.map(|w| if n_p == 0 { 0.0 } else { w as f64 / n_p as f64 }),
            bound_m: walk.map(|_| bound),
            gap: walk.map(|w| if w == 0 { 0.0 } else { (w - bound) as f64 / w as f64 }),
            method: method_label,
        };
        rows.push(row);
        choices.push(best);
    }
    // Alternatives for the largest k with sites.
    let mut alternatives = Vec::new();
    let mut alternatives_k = 0;
    if let Some((k, last)) =
        choices.iter().enumerate().rev().find(|(_, c)| !c.open.is_empty() && c.walk.is_some())
    {
        alternatives_k = k;
        for &o in &last.open {
            crate::cancel::check()?;
            let rest: Vec<usize> = last.open.iter().copied().filter(|&x| x != o).collect();
            let without = f.evaluate(&rest).map_err(solver_error)?.map(|s| s.objective);
            let mut best: Option<(usize, u64)> = None;
            for c in (0..f.n_candidates()).filter(|c| !last.open.contains(c)) {
                let mut set = rest.clone();
                set.push(c);
                set.sort_unstable();
                if !f.within_budget(&set) {
                    continue;
                }
                if let Some(s) = f.evaluate(&set).map_err(solver_error)? {
                    if best.is_none_or(|(_, w)| s.objective < w) {
                        best = Some((c, s.objective));
                    }
                }
            }
            alternatives.push(Alternative {
                instead_of: input.candidates[o].id.clone(),
                site: best.map(|(c, _)| input.candidates[c].id.clone()),
                walk_m: best.map(|(_, w)| w),
                extra_m: match (best, last.walk) {
                    (Some((_, w)), Some(base)) => Some(w.saturating_sub(base)),
                    _ => None,
                },
                walk_without_m: without,
            });
        }
    }
    // Every feasible k's plan, solved and certified by the pipeline.
    let mut plans = Vec::new();
    for (k, c) in choices.iter().enumerate() {
        let Some(walk) = c.walk else { continue };
        crate::cancel::check()?;
        let (inst, m) = instance_with(input, &c.open)?;
        let plan = crate::pipeline::solve_plan(&inst, &m, &Policy::default(), None)?;
        if plan.objective != walk {
            return Err(Error::internal(format!(
                "the plan for k = {k} walks {} m, the site choice {walk} m",
                plan.objective
            )));
        }
        plans.push((k, inst, m, plan));
    }
    Ok(Sites {
        rows,
        alternatives,
        alternatives_k,
        plans,
        budget,
        has_cost: input.has_cost,
        pupils: n_p,
    })
}

/// The instance with the current schools and the candidates `open`, and its matrix.
pub fn instance_with(input: &SitesInput, open: &[usize]) -> Result<(Instance, Matrix)> {
    let mut schools = input.inst.schools.clone();
    schools.extend(open.iter().map(|&c| input.candidates[c].clone()));
    let inst = Instance::new(schools, input.inst.pupils.clone())?;
    let (m, cm) = (&input.matrix, &input.candidate_matrix);
    // Each column's source: a current school's column or a candidate's.
    let source: Vec<(bool, usize)> = inst
        .schools
        .iter()
        .map(|s| match input.inst.school_index(&s.id) {
            Some(j) => (true, j),
            None => {
                (false, input.candidates.binary_search_by(|c| id_cmp(&c.id, &s.id)).unwrap_or(0))
            }
        })
        .collect();
    let n = source.len();
    let pick = |a: &[u32], b: &[u32], p: usize| -> Vec<u32> {
        source
            .iter()
            .map(|&(cur, j)| if cur { a[p * m.n_schools + j] } else { b[p * cm.n_schools + j] })
            .collect()
    };
    let mut meters = Vec::with_capacity(inst.pupils.len() * n);
    for p in 0..inst.pupils.len() {
        meters.extend(pick(&m.meters, &cm.meters, p));
    }
    let seconds = match (&m.seconds, &cm.seconds) {
        (Some(a), Some(b)) => {
            let mut v = Vec::with_capacity(meters.len());
            for p in 0..inst.pupils.len() {
                v.extend(pick(a, b, p));
            }
            Some(v)
        }
        _ => None,
    };
    let matrix = Matrix {
        n_pupils: inst.pupils.len(),
        n_schools: n,
        meters,
        seconds,
        source: if m.source == cm.source {
            m.source.clone()
        } else {
            format!("{}; candidate sites: {}", m.source, cm.source)
        },
        snap_m: m.snap_m.clone(),
        given: None,
    };
    debug_assert!(matrix.meters.len() == matrix.n_pupils * matrix.n_schools);
    Ok((inst, matrix))
}

impl Sites {
    /// `sites.csv`: one row per k.
    pub fn csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let e = |x: csv::Error| Error::internal(format!("sites.csv: {x}"));
        w.write_record([
            "k",
            "sites",
            "cost",
            "walk_m",
            "saved_m",
            "saved_total_m",
            "mean_walk_m",
            "bound_m",
            "gap",
            "method",
        ])
        .map_err(e)?;
        let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        for r in &self.rows {
            w.write_record([
                r.k.to_string(),
                r.sites.join(" "),
                format!("{}", r.cost),
                opt(r.walk_m),
                opt(r.saved_m),
                opt(r.saved_total_m),
                r.mean_walk_m.map(|x| format!("{x:.1}")).unwrap_or_default(),
                opt(r.bound_m),
                r.gap.map(|g| format!("{g:.6}")).unwrap_or_default(),
                r.method.clone(),
            ])
            .map_err(e)?;
        }
        let bytes = w.into_inner().map_err(|x| Error::internal(format!("sites.csv: {x}")))?;
        String::from_utf8(bytes).map_err(|x| Error::internal(format!("sites.csv: {x}")))
    }

    /// `sites.md`: the table per k and the alternatives, in words.
    pub fn markdown(&self) -> String {
        let km = |m: u64| format!("{:.1} km", m as f64 / 1000.0);
        let mut s = String::from("# Where to build\n\n");
        s.push_str(&format!(
            "The best choice of at most k new sites for {} pupils: the least total walk with every \
             capacity respected, a proved lower bound on any choice of at most k sites, and the gap \
             between them.{}\n\n",
            self.pupils,
            self.budget.map(|b| format!(" Budget: {b}.")).unwrap_or_default()
        ));
        let cost_head = if self.has_cost { " cost |" } else { "" };
        s.push_str(&format!("| k | sites |{cost_head} total walk | saved vs k-1 | saved vs k=0 | mean walk | proved bound | gap | how |\n"));
        s.push_str(&format!(
            "|---|---|{}---|---|---|---|---|---|---|\n",
            if self.has_cost { "---|" } else { "" }
        ));
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} |{} {} | {} | {} | {} | {} | {} | {} |\n",
                r.k,
                if r.sites.is_empty() { "–".into() } else { r.sites.join(", ") },
                if self.has_cost { format!(" {} |", r.cost) } else { String::new() },
                r.walk_m.map(km).unwrap_or_else(|| "no plan fits".into()),
                r.saved_m.map(km).unwrap_or_else(|| "–".into()),
                r.saved_total_m.map(km).unwrap_or_else(|| "–".into()),
                r.mean_walk_m.map(|x| format!("{x:.0} m")).unwrap_or_else(|| "–".into()),
                r.bound_m.map(km).unwrap_or_else(|| "–".into()),
                r.gap.map(|g| format!("{:.2}%", 100.0 * g)).unwrap_or_else(|| "–".into()),
                r.method
            ));
        }
        if !self.alternatives.is_empty() {
            s.push_str(&format!(
                "\n## Almost as good (k = {})\n\nEach chosen site swapped for the candidate that \
                 replaces it best, and left out with none in its place.\n\n",
                self.alternatives_k
            ));
            s.push_str("| instead of | build | total walk | extra walk | without it |\n|---|---|---|---|---|\n");
            for a in &self.alternatives {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    a.instead_of,
                    a.site.clone().unwrap_or_else(|| "no other candidate fits".into()),
                    a.walk_m.map(km).unwrap_or_else(|| "–".into()),
                    a.extra_m.map(|m| format!("+{}", km(m))).unwrap_or_else(|| "–".into()),
                    a.walk_without_m.map(km).unwrap_or_else(|| "no plan fits".into()),
                ));
            }
        }
        s.push_str(
            "\nEach k's plan is in plans/k<N>/ (as `catchment solve` writes it, with the walks it \
             was solved on): `catchment check --pupils PUPILS --plan plans/k<N>` verifies it.\n",
        );
        s
    }

    /// Write `sites.csv`, `sites.md` and `plans/k<N>/` (the directory whole, atomically).
    pub fn write(&self, out: &Path) -> Result<()> {
        crate::instance::ensure_replaceable(out)?;
        let csv = self.csv()?;
        let md = self.markdown();
        let walks = StoredWalks::default();
        crate::instance::write_atomically(out, |dir| {
            for (k, inst, m, plan) in &self.plans {
                crate::cancel::check()?;
                let extras = Extras { walks: Some(&walks), ..Extras::default() };
                write_plan(&dir.join("plans").join(format!("k{k}")), inst, m, plan, &extras)?;
            }
            std::fs::write(dir.join("sites.csv"), &csv)
                .map_err(|e| Error::io(dir.join("sites.csv"), e))?;
            std::fs::write(dir.join("sites.md"), &md)
                .map_err(|e| Error::io(dir.join("sites.md"), e))?;
            Ok(())
        })
    }
}
