//! Contiguous districts: every school's district is one connected piece of the blocks'
//! adjacency graph ([`super::adjacency`]) holding the school's own block.
//!
//! Every block of the city is a unit: blocks with pupils weigh their pupils (fixed pupils keep
//! their school and its seats), blocks without pupils weigh nothing but belong to a district
//! all the same. The objective is the pupils' walk; a block without pupils adds its own walk
//! divided by [`EMPTY_BLOCK_DIVISOR`] (as if a fraction of a pupil lived there), so that empty
//! land goes to a near school when the pupils do not decide. First a local search from the
//! optimal plan's published districts, at the certificate's prices, with every school allowed
//! ([`crate::solve::contiguity::local_search`]); then, up to [`EXACT_MAX_PAIRS`] allowed
//! block-school pairs, exact by cut generation ([`crate::solve::contiguity::solve_exact`], the
//! local search's plan as the incumbent), each block at one of its [`NEAREST_SCHOOLS`]
//! nearest schools by walk or by straight line or at its local-search school. Either way the
//! plan's walk is compared with the certified pupil-level optimum, a proved lower bound.

use super::adjacency::{self, Adjacency};
use super::publish::City;
use crate::error::{Error, Hint, Result, Setting};
use crate::instance::Instance;
use crate::routing::{Matrix, UNREACHABLE};
use crate::solve::contiguity::{self, ContiguousProblem};
use crate::{classes_for, Plan, Policy, Unit};
use std::collections::BTreeMap;

/// Allowed block-school pairs up to which the exact solver runs (beyond: the local search).
pub const EXACT_MAX_PAIRS: usize = 10_000;

/// The schools a block may go to: its nearest by walk.
pub const NEAREST_SCHOOLS: usize = 12;

/// A block without pupils counts its walk divided by this (its pupils' walk counts whole).
pub const EMPTY_BLOCK_DIVISOR: u32 = 100;

/// Seconds the chains of districts may take to bring a plan within the seats.
pub const TRANSFER_SECONDS: u32 = 30;

/// Seconds the exact solver may take before its best contiguous plan is taken unproven.
pub const EXACT_SECONDS: u32 = 30;

/// A contiguous plan and how it was found.
#[derive(Debug, Clone)]
pub struct Contiguous {
    /// The plan: pupils by their block's district; `districts` holds every block's school.
    pub plan: Plan,
    /// The method, for the summary.
    pub method: String,
    /// Pairs of neighbouring blocks the walking matrix showed to be far apart on foot.
    pub barriers_dropped: usize,
    /// The adjacency the districts are contiguous in.
    pub adjacency: Adjacency,
}

/// Solve for contiguous districts. `optimum` is the certified pupil-level plan of the same
/// instance (its walk bounds every plan from below); `start` a plan of whole blocks within the
/// seats (the whole-block optimum), whose published districts the local search starts from.
pub fn solve(
    inst: &Instance,
    m: &Matrix,
    policy: &Policy,
    city: &City,
    optimum: &Plan,
    start: &Plan,
) -> Result<Contiguous> {
    if policy.min_class_size.is_some() {
        return Err(Error::policy(
            "contiguous districts are not yet combined with a minimum class size",
            None,
        ));
    }
    let started = std::time::Instant::now();
    let inst = &*crate::effective_instance(inst, policy);
    let n_s = inst.schools.len();
    let bm = &city.matrix;
    let blocks = &city.blocks;
    let rows = super::publish::district_rows(inst, start, blocks, bm, None)?;
    // Pupils by block; fixed pupils take their seats off their school.
    let index: BTreeMap<&str, usize> =
        blocks.iter().enumerate().map(|(i, b)| (b.id.as_str(), i)).collect();
    let mut cap: Vec<u32> = inst.schools.iter().map(|s| s.capacity).collect();
    let mut pupils_of: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
    for (p, pupil) in inst.pupils.iter().enumerate() {
        if let Some(f) = &pupil.fixed_school {
            let s = inst.school_index(f).expect("validated");
            cap[s] = cap[s].saturating_sub(1);
            continue;
        }
        let Some(b) = pupil.block.as_deref().and_then(|b| index.get(b)) else {
            return Err(Error::input(
                "pupils",
                None,
                Some("block"),
                format!(
                    "pupil '{}' has no block of the city: contiguous districts need every \
                     pupil's block in the blocks file",
                    pupil.id
                ),
            ));
        };
        pupils_of[*b].push(p);
    }
    let mut cost = vec![UNREACHABLE; blocks.len() * n_s];
    let mut weight = vec![0u32; blocks.len()];
    for (b, blk) in blocks.iter().enumerate() {
        let row = bm.index(&blk.id).map(|r| bm.row(r)).unwrap_or(&[]);
        weight[b] = pupils_of[b].len() as u32;
        for s in 0..n_s {
            cost[b * n_s + s] = if pupils_of[b].is_empty() {
                match row.get(s) {
                    Some(&d) if d != UNREACHABLE => d / EMPTY_BLOCK_DIVISOR,
                    _ => UNREACHABLE,
                }
            } else {
                let mut sum = 0u64;
                let mut ok = true;
                for &p in &pupils_of[b] {
                    match m.get(p, s) {
                        Some(d) => sum += d as u64,
                        None => ok = false,
                    }
                }
                if ok {
                    sum.min(UNREACHABLE as u64 - 1) as u32
                } else {
                    UNREACHABLE
                }
            };
        }
    }
    let (adj, _, barriers_dropped, _) = adjacency::for_city(blocks, bm);
    let locations: Vec<(f64, f64)> = inst.schools.iter().map(|s| (s.lat, s.lon)).collect();
    let roots = distinct_roots(
        &adjacency::root_blocks(blocks, &locations),
        blocks,
        &locations,
        &cost,
        n_s,
    )?;
    let full = ContiguousProblem {
        n_schools: n_s,
        cap,
        cost,
        weight,
        root: roots,
        neighbours: adj.neighbours.clone(),
    };
    // First a contiguous plan within the seats, by the local search with every school allowed,
    // from the whole-block optimum (its blocks' schools, roots at home).
    let start: Vec<u32> = rows
        .iter()
        .enumerate()
        .map(|(b, r)| {
            r.school
                .map(|s| s as u32)
                .unwrap_or(full.root.iter().position(|&x| x == b).unwrap_or(0) as u32)
        })
        .collect();
    // With whole street segments: each segment's blocks (connected among themselves) are one
    // unit of the search, so no segment is split; `unit_of` maps blocks to units.
    let (full, start, unit_of) = if policy.whole_segments {
        let (units, unit_of) = full.contract(&super::segments::groups(city)?);
        let mut s = vec![0u32; units.n_units()];
        for (b, &u) in unit_of.iter().enumerate() {
            s[u] = start[b];
        }
        (units, s, Some(unit_of))
    } else {
        (full, start, None)
    };
    let mut searched = contiguity::local_search(&full, &start, &optimum.prices);
    // Seats to spare far away: passed along chains of full districts, then the walk lowered
    // again from the plan within the seats.
    if full.is_contiguous(&searched) && !full.is_feasible(&searched) {
        let deadline = started + std::time::Duration::from_secs(TRANSFER_SECONDS as u64);
        crate::solve::transfer::restore_capacity(&full, &mut searched, deadline);
        if full.is_feasible(&searched) {
            searched = contiguity::local_search(&full, &searched, &optimum.prices);
        }
    }
    // The search stops early when cancelled: its plan is then not used.
    crate::cancel::check()?;
    let over = overflow(inst, &full, &searched);
    let heuristic = full.is_feasible(&searched).then_some(searched);
    // The exact model: each block at one of its NEAREST_SCHOOLS nearest schools by walk or by
    // straight line (a school the network routes badly stays allowed around it), or at its
    // school in the local search's plan (which then stays feasible and starts Cbc).
    let mut problem = full.clone();
    let restricted = if unit_of.is_none() { blocks.len() } else { 0 };
    for b in 0..restricted {
        let walks: Vec<u32> = match bm.index(&blocks[b].id) {
            Some(r) => bm.row(r).to_vec(),
            None => vec![UNREACHABLE; n_s],
        };
        let line = |s: usize| {
            let (la, lo) = locations[s];
            let dy = blocks[b].lat - la;
            let dx = (blocks[b].lon - lo) * la.to_radians().cos();
            dx * dx + dy * dy
        };
        let mut by_line: Vec<usize> = (0..n_s).collect();
        by_line.sort_by(|&x, &y| line(x).total_cmp(&line(y)).then(x.cmp(&y)));
        let near_line: Vec<usize> = by_line.into_iter().take(NEAREST_SCHOOLS).collect();
        let row = &mut problem.cost[b * n_s..(b + 1) * n_s];
        let mut order: Vec<usize> = (0..n_s).filter(|&s| row[s] != UNREACHABLE).collect();
        order.sort_by_key(|&s| (walks[s], s));
        for &s in order.iter().skip(NEAREST_SCHOOLS) {
            if Some(s) != heuristic.as_ref().map(|h| h[b] as usize) && !near_line.contains(&s) {
                row[s] = UNREACHABLE;
            }
        }
    }
    let allowed = problem.cost.iter().filter(|&&c| c != UNREACHABLE).count();
    let (assign_units, method, proved) = if allowed <= EXACT_MAX_PAIRS && unit_of.is_none() {
        let sol = contiguity::solve_exact(&problem, EXACT_SECONDS, heuristic.as_deref()).map_err(
            |e| match e {
                crate::solve::SolveError::Infeasible(_) => {
                    Error::Infeasible(vec![crate::error::Infeasibility {
                        kind: "contiguity".into(),
                        message: format!(
                            "no plan gives every school one connected district around its own \
                             block within its capacity, with each block at one of its \
                             {NEAREST_SCHOOLS} nearest schools by walk or by straight line"
                        ),
                        schools: vec![],
                        pupils: vec![],
                        shortfall: 0,
                    }])
                }
                crate::solve::SolveError::TimeLimit { seconds } => Error::TimeLimit {
                    seconds,
                    message: "no contiguous plan was found in time".into(),
                    hint: None,
                },
                crate::solve::SolveError::Solver(m) => Error::Solver(m),
                crate::solve::SolveError::Cancelled => Error::Cancelled,
            },
        )?;
        let how = format!(
            "contiguous (exact: Cbc with {} connectivity cut(s) in {} solve(s), each block at \
             one of its {NEAREST_SCHOOLS} nearest schools by walk or straight line{})",
            sol.cuts,
            sol.iterations,
            if sol.proved_optimal { "" } else { "; time limit: best plan found, not proved" }
        );
        (sol.assign, how, sol.proved_optimal)
    } else {
        let Some(h) = heuristic else {
            let listed: Vec<String> = over.iter().map(|(id, n)| format!("{id} +{n}")).collect();
            let total: u64 = over.iter().map(|o| o.1).sum();
            return Err(Error::Infeasible(vec![crate::error::Infeasibility {
                kind: "contiguity".into(),
                message: format!(
                    "no contiguous plan within the seats was found by the local search: \
                     every school one connected district around its own block, none over \
                     capacity (seats may be too few where the pupils live, or too few \
                     neighbours between districts to pass them on); its best contiguous plan \
                     leaves {} pupil(s) over capacity: {}",
                    total,
                    listed.join(", ")
                ),
                schools: over.iter().map(|o| o.0.clone()).collect(),
                pupils: vec![],
                shortfall: total,
            }]));
        };
        let how = match unit_of {
            Some(_) => {
                "contiguous, whole street segments (local search from the optimal districts)"
            }
            None => "contiguous (local search from the optimal districts)",
        };
        (h, how.to_string(), false)
    };
    if !problem.is_feasible(&assign_units) {
        return Err(Error::Infeasible(vec![crate::error::Infeasibility {
            kind: "contiguity".into(),
            message: format!(
                "no contiguous plan within the seats was found by the {}: every district one \
                 piece holding its school's block, every school within its capacity",
                if proved { "exact solver" } else { "local search" }
            ),
            schools: vec![],
            pupils: vec![],
            shortfall: 0,
        }]));
    }
    let assign_blocks: Vec<u32> = match &unit_of {
        Some(unit_of) => unit_of.iter().map(|&u| assign_units[u]).collect(),
        None => assign_units,
    };
    // Pupils follow their block; fixed pupils keep their school.
    let assign: Vec<u32> = inst
        .pupils
        .iter()
        .map(|p| match &p.fixed_school {
            Some(f) => inst.school_index(f).expect("validated") as u32,
            None => assign_blocks[index[p.block.as_deref().expect("checked")]],
        })
        .collect();
    let objective = (0..assign.len())
        .map(|p| m.get(p, assign[p] as usize).map(u64::from))
        .sum::<Option<u64>>()
        .ok_or_else(|| Error::internal("a contiguous plan uses a pair without a route"))?;
    let mut loads = vec![0u64; n_s];
    for &s in &assign {
        loads[s as usize] += 1;
    }
    let classes = inst.schools.iter().zip(&loads).map(|(s, &l)| classes_for(s, l)).collect();
    let districts = blocks.iter().zip(&assign_blocks).map(|(b, &s)| (b.id.clone(), s)).collect();
    let plan = Plan {
        assign,
        objective,
        certificate: None,
        classes,
        pupil_optimum: Some(optimum.objective),
        prices: optimum.prices.clone(),
        solver: method.clone(),
        policy: Policy { unit: Unit::Block, ..policy.clone() },
        solve_seconds: started.elapsed().as_secs_f64() + optimum.solve_seconds,
        districts: Some(districts),
        optimal: proved,
    };
    Ok(Contiguous { plan, method, barriers_dropped, adjacency: adj })
}

/// Schools over capacity in a block plan, with the pupils over.
fn overflow(inst: &Instance, p: &ContiguousProblem, a: &[u32]) -> Vec<(String, u64)> {
    p.loads(a)
        .iter()
        .enumerate()
        .filter(|&(s, &l)| l > p.cap[s] as u64)
        .map(|(s, &l)| (inst.schools[s].id.clone(), l - p.cap[s] as u64))
        .collect()
}

/// Each school's own block, distinct: a school whose block another school already has takes
/// the nearest block (straight line) no school has and that it may be assigned.
fn distinct_roots(
    roots: &[Option<usize>],
    blocks: &[super::blocks::Block],
    schools: &[(f64, f64)],
    cost: &[u32],
    n_s: usize,
) -> Result<Vec<usize>> {
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(roots.len());
    for (s, r) in roots.iter().enumerate() {
        let ok = |b: usize| !taken.contains(&b) && cost[b * n_s + s] != UNREACHABLE;
        let pick = match r {
            Some(b) if ok(*b) => Some(*b),
            _ => {
                let (la, lo) = schools[s];
                (0..blocks.len()).filter(|&b| ok(b)).min_by(|&a, &b| {
                    let d = |i: usize| (blocks[i].lat - la).powi(2) + (blocks[i].lon - lo).powi(2);
                    d(a).total_cmp(&d(b))
                })
            }
        };
        let Some(b) = pick else {
            return Err(Error::policy(
                "contiguous districts need a block for every school",
                Some(Hint::new(
                    "give the city's blocks around every school",
                    Some(Setting::Blocks),
                )),
            ));
        };
        taken.insert(b);
        out.push(b);
    }
    Ok(out)
}
