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
//!
//! With last year's districts ([`Keep`]) the costs carry the stability rule: a change cost per
//! pupil on every block with pupils away from its school last year, or for a cap on changed
//! blocks a penalty per changed block searched by raising and bisection (not proved optimal
//! under the cap); the local search also starts from last year's districts and from the plan
//! without stability.
//!
//! With a minimum class size every school's pupils (fixed ones included) form whole classes of
//! the minimum to the school's class size, within its class limit, or the school has none —
//! the rule of the whole-class MIP ([`crate::solve::lp::ClassRule`]) and of `check`: the exact
//! model adds each school's number of classes as an integer, the local search brings every
//! school to such a load by moving pieces and then keeps it. The walk is still compared with
//! the certified pupil-level optimum (no classes, no contiguity), a proved lower bound; the
//! whole-block plan of the same class rule without contiguity (Cbc's optimum) is named in the
//! method beside it.

use super::adjacency::{self, Adjacency};
use super::publish::City;
use crate::error::{Error, Hint, Result, Setting};
use crate::instance::Instance;
use crate::routing::{Matrix, UNREACHABLE};
use crate::solve::contiguity::{self, ContiguousProblem};
use crate::stability::{Before, Previous, Rule, Stability};
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
    keep: Option<Keep<'_>>,
) -> Result<Contiguous> {
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
    let mut fixed = vec![0u32; n_s];
    let mut pupils_of: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
    for (p, pupil) in inst.pupils.iter().enumerate() {
        if let Some(f) = &pupil.fixed_school {
            let s = inst.school_index(f).expect("validated");
            cap[s] = cap[s].saturating_sub(1);
            fixed[s] += 1;
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
        // A minimum class size: every school's pupils (fixed ones included) in whole classes
        // of the minimum to its class size, at most its class limit, or none at all — the rule
        // of the whole-class MIP and of `check`.
        classes: policy.min_class_size.map(|min_size| contiguity::Classes {
            rule: crate::solve::lp::ClassRule {
                size: inst.schools.iter().map(|s| s.class_size).collect(),
                max: inst.schools.iter().map(crate::plan::class_limit).collect(),
                min_size,
            },
            fixed,
        }),
    };
    // The local search starts from the whole-block optimum (its blocks' schools, roots at
    // home); with stability also from last year's districts (blocks not in them as in the
    // optimum) and from the contiguous plan without stability.
    let optimal_start: Vec<u32> = rows
        .iter()
        .enumerate()
        .map(|(b, r)| {
            r.school
                .map(|s| s as u32)
                .unwrap_or(full.root.iter().position(|&x| x == b).unwrap_or(0) as u32)
        })
        .collect();
    // With whole street segments: each segment's blocks (connected among themselves) are one
    // unit of the search, so no segment is split.
    let groups = if policy.whole_segments { Some(super::segments::groups(city)?) } else { None };
    let street_lists = match policy.split_street_cost {
        None => None,
        Some(_) => Some(
            super::streets::street_blocks(city.streets.as_deref(), blocks)?.ok_or_else(|| {
                Error::policy(
                    "a price on split streets needs the city's named streets when the blocks are \
                     grid cells",
                    Some(Hint::new("give the street network", Some(Setting::Streets))),
                )
            })?,
        ),
    };
    let mut starts = vec![optimal_start.clone()];
    let prev: Vec<Before> = match keep {
        None => vec![Before::Unknown; blocks.len()],
        Some(k) => block_before(inst, blocks, &k.stability.previous),
    };
    if let Some(k) = keep {
        starts.push(
            prev.iter()
                .zip(&optimal_start)
                .map(|(b, &o)| if let Before::At(s) = *b { s } else { o })
                .collect(),
        );
        if let Some(d) = k.free.and_then(|f| f.districts.as_ref()) {
            starts.push(
                blocks
                    .iter()
                    .zip(&optimal_start)
                    .map(|(b, &o)| d.get(&b.id).copied().unwrap_or(o))
                    .collect(),
            );
        }
    }
    let ctx = Search {
        inst,
        blocks,
        bm,
        locations: &locations,
        prices: &optimum.prices,
        prev: &prev,
        starts: &starts,
        groups: groups.as_deref(),
        deadline: started + std::time::Duration::from_secs(TRANSFER_SECONDS as u64),
        streets: street_lists.as_deref().zip(policy.split_street_cost.map(u64::from)),
    };
    let rule = keep.filter(|k| !k.start_only).map(|k| k.stability.rule);
    let (assign_blocks, method, proved) = match rule {
        None => {
            let f = ctx.run(&full, true)?;
            (f.assign, f.method, f.proved)
        }
        Some(Rule::ChangeCost(c)) => {
            // A pupil whose school differs from last year's school of their block pays `c`
            // meters, as at the pupil level; a block of a closed school pays in every plan.
            let f =
                ctx.run(&penalised(&full, &prev, |b| c as u64 * full.weight[b] as u64), true)?;
            let how = format!(
                "{}; last year's districts kept by a change cost of {c} m per pupil",
                f.method
            );
            (f.assign, how, f.proved)
        }
        Some(Rule::MaxChangedBlocks(n)) => {
            let f = ctx.capped(&full, n)?;
            (f.assign, f.method, f.proved)
        }
    };
    // A school that forms no class takes nobody: its district (blocks without pupils) joins
    // a neighbouring one, as the districts of the plans without contiguity leave such a
    // school without blocks.
    let assign_blocks = match &full.classes {
        Some(c) => close_classless(&full, &c.fixed, assign_blocks),
        None => assign_blocks,
    };
    let method = match policy.min_class_size {
        Some(n) if start.policy.min_class_size == Some(n) => format!(
            "{method}; whole classes of {n} or more pupils, or none at a school (whole blocks \
             and classes without contiguity: {} m)",
            start.objective
        ),
        Some(n) => format!("{method}; whole classes of {n} or more pupils, or none at a school"),
        None => method,
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
        routed: None,
    };
    Ok(Contiguous { plan, method, barriers_dropped, adjacency: adj })
}

/// The districts of schools without pupils (no unit's, no fixed one) joined, each whole, to
/// the adjacent district of a school with pupils where its blocks walk least (every block
/// allowed there). The union of two touching pieces is one piece, no load changes, so the plan
/// stays contiguous (the closed school's block now in another district), within the seats and
/// of whole classes. A district with no such neighbour stays.
fn close_classless(p: &ContiguousProblem, fixed: &[u32], mut a: Vec<u32>) -> Vec<u32> {
    let load = p.loads(&a);
    let open = |s: usize| load[s] > 0 || fixed[s] > 0;
    loop {
        let mut changed = false;
        for s in (0..p.n_schools).filter(|&s| !open(s)) {
            let units: Vec<usize> = (0..a.len()).filter(|&u| a[u] as usize == s).collect();
            if units.is_empty() {
                continue;
            }
            let mut next: Vec<usize> = units
                .iter()
                .flat_map(|&u| p.neighbours[u].iter().map(|&v| a[v] as usize))
                .filter(|&t| t != s && open(t))
                .collect();
            next.sort_unstable();
            next.dedup();
            let best = next
                .into_iter()
                .filter_map(|t| {
                    units
                        .iter()
                        .map(|&u| p.cost(u, t).map(u64::from))
                        .sum::<Option<u64>>()
                        .map(|c| (c, t))
                })
                .min();
            if let Some((_, t)) = best {
                for &u in &units {
                    a[u] = t as u32;
                }
                changed = true;
            }
        }
        if !changed {
            return a;
        }
    }
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

/// Last year's districts for a contiguous plan.
#[derive(Debug, Clone, Copy)]
pub struct Keep<'a> {
    /// Last year's districts and the rule that keeps them.
    pub stability: &'a Stability,
    /// The contiguous plan of the same policy without stability, when solved: one more start
    /// of the local search (so the stable plan's penalised walk is never above its own).
    pub free: Option<&'a Plan>,
    /// Last year's districts only as a start of the search, the rule not applied: the plan
    /// without stability, searched from them too.
    pub start_only: bool,
}

/// Last year's school of every block (through the block's id; blocks without pupils too).
fn block_before(
    inst: &Instance,
    blocks: &[super::blocks::Block],
    previous: &Previous,
) -> Vec<Before> {
    blocks
        .iter()
        .map(|b| match previous.get(&b.id) {
            None => Before::Unknown,
            Some(s) => inst.school_index(s).map(|s| Before::At(s as u32)).unwrap_or(Before::Gone),
        })
        .collect()
}

/// The problem with `penalty(block)` meters added to every allowed school of a block with
/// pupils other than its school last year (blocks of a closed school pay in every plan: left
/// out, a constant). Costs stay below [`UNREACHABLE`].
fn penalised(
    p: &ContiguousProblem,
    prev: &[Before],
    penalty: impl Fn(usize) -> u64,
) -> ContiguousProblem {
    let mut q = p.clone();
    let ns = p.n_schools;
    for (b, before) in prev.iter().enumerate() {
        let Before::At(keep) = *before else { continue };
        if p.weight[b] == 0 {
            continue;
        }
        let extra = penalty(b);
        for s in 0..ns {
            let c = &mut q.cost[b * ns + s];
            if s as u32 != keep && *c != UNREACHABLE {
                *c = (*c as u64 + extra).min(UNREACHABLE as u64 - 1) as u32;
            }
        }
    }
    q
}

/// Blocks with pupils that change school against last year (as [`crate::stability::changes`]
/// counts them: a block of a closed school always changes), and of those the ones that must.
fn changed_blocks(p: &ContiguousProblem, prev: &[Before], assign: &[u32]) -> (usize, usize) {
    let mut changed = 0;
    let mut forced = 0;
    for (b, before) in prev.iter().enumerate() {
        if p.weight[b] == 0 {
            continue;
        }
        match *before {
            Before::Unknown => {}
            Before::Gone => {
                changed += 1;
                forced += 1;
            }
            Before::At(s) => changed += usize::from(assign[b] != s),
        }
    }
    (changed, forced)
}

/// Rounds of the per-changed-block penalty raised fourfold, and of bisection after.
const CAP_RAISES: usize = 12;
const CAP_BISECTIONS: usize = 6;

/// A contiguous plan found for one problem (walks, maybe with penalties).
struct Found {
    assign: Vec<u32>,
    /// Whether the exact solver ran.
    exact: bool,
    method: String,
    proved: bool,
}

/// What every search of one city shares.
struct Search<'a> {
    inst: &'a Instance,
    blocks: &'a [super::blocks::Block],
    bm: &'a super::BlockMatrix,
    locations: &'a [(f64, f64)],
    prices: &'a [i64],
    prev: &'a [Before],
    starts: &'a [Vec<u32>],
    /// With whole street segments: the blocks kept together (one unit of the search each).
    groups: Option<&'a [Vec<usize>]>,
    /// When the chains of districts stop trying to bring a plan within the seats.
    deadline: std::time::Instant,
    /// With a price on split streets: every street's blocks and the meters per extra district.
    streets: Option<(&'a [Vec<usize>], u64)>,
}

impl Search<'_> {
    /// The local search from `start`; when it leaves a contiguous plan over its seats, seats
    /// passed along chains of full districts ([`crate::solve::transfer`]) and the walk lowered
    /// again from the plan within the seats.
    fn search(&self, p: &ContiguousProblem, start: &[u32]) -> Vec<u32> {
        let mut a = contiguity::local_search(p, start, self.prices);
        if p.is_contiguous(&a) && !p.is_feasible(&a) {
            crate::solve::transfer::restore_capacity(p, &mut a, self.deadline);
            if p.is_feasible(&a) {
                a = contiguity::local_search(p, &a, self.prices);
            }
        }
        a
    }

    /// The local search from every start (the feasible plan of least cost wins), then, up to
    /// [`EXACT_MAX_PAIRS`] allowed pairs and when `exact`, the exact solver with it as the
    /// incumbent.
    fn run(&self, full: &ContiguousProblem, exact: bool) -> Result<Found> {
        let (blocks, bm, locations) = (self.blocks, self.bm, self.locations);
        let n_s = full.n_schools;
        let mut first_over = None;
        let mut heuristic: Option<(Vec<u32>, u64)> = None;
        let contracted = self.groups.map(|g| full.contract(g));
        for start in self.starts {
            let searched = match &contracted {
                Some((units, unit_of)) => {
                    let mut s = vec![0u32; units.n_units()];
                    for (b, &u) in unit_of.iter().enumerate() {
                        s[u] = start[b];
                    }
                    let a = self.search(units, &s);
                    unit_of.iter().map(|&u| a[u]).collect()
                }
                None => self.search(full, start),
            };
            // The search stops early when cancelled: its plan is then not used.
            crate::cancel::check()?;
            if first_over.is_none() {
                first_over = Some(overflow(self.inst, full, &searched));
            }
            if full.is_feasible(&searched) {
                let cost = full.objective(&searched).expect("feasible");
                if heuristic.as_ref().is_none_or(|h| cost < h.1) {
                    heuristic = Some((searched, cost));
                }
            }
        }
        let heuristic = heuristic.map(|h| h.0);
        let over = first_over.unwrap_or_default();
        // The exact model: each block at one of its NEAREST_SCHOOLS nearest schools by walk or
        // by straight line (a school the network routes badly stays allowed around it), at its
        // school last year, or at its school in the local search's plan (which then stays
        // feasible and starts Cbc).
        let mut problem = full.clone();
        for b in 0..blocks.len() {
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
            let last_year = match self.prev[b] {
                Before::At(s) => Some(s as usize),
                _ => None,
            };
            let row = &mut problem.cost[b * n_s..(b + 1) * n_s];
            let mut order: Vec<usize> = (0..n_s).filter(|&s| row[s] != UNREACHABLE).collect();
            order.sort_by_key(|&s| (walks[s], s));
            for &s in order.iter().skip(NEAREST_SCHOOLS) {
                if Some(s) != heuristic.as_ref().map(|h| h[b] as usize)
                    && !near_line.contains(&s)
                    && Some(s) != last_year
                {
                    row[s] = UNREACHABLE;
                }
            }
        }
        // With a minimum class size, what every message says the plan must also keep.
        let classes = match &full.classes {
            Some(c) => format!(
                ", every school's pupils in whole classes of {} or more (or none at all)",
                c.rule.min_size
            ),
            None => String::new(),
        };
        let allowed = problem.cost.iter().filter(|&&c| c != UNREACHABLE).count();
        let small = exact && allowed <= EXACT_MAX_PAIRS && contracted.is_none();
        let (assign, method, proved) = if small {
            let sol = contiguity::solve_exact(&problem, EXACT_SECONDS, heuristic.as_deref())
                .map_err(|e| match e {
                    crate::solve::SolveError::Infeasible(_) => {
                        Error::Infeasible(vec![crate::error::Infeasibility {
                            kind: "contiguity".into(),
                            message: format!(
                                "no plan gives every school one connected district around its \
                                 own block within its capacity{classes}, with each block at one \
                                 of its {NEAREST_SCHOOLS} nearest schools by walk or by straight \
                                 line"
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
                })?;
            let how = format!(
                "contiguous (exact: Cbc with {} connectivity cut(s) in {} solve(s), each block \
                 at one of its {NEAREST_SCHOOLS} nearest schools by walk or straight line{})",
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
                    message: if over.is_empty() && !classes.is_empty() {
                        format!(
                            "no contiguous plan of whole classes was found by the local search: \
                             every school one connected district around its own block, none \
                             over capacity{classes}"
                        )
                    } else {
                        format!(
                            "no contiguous plan within the seats was found by the local search: \
                             every school one connected district around its own block, none \
                             over capacity{classes} (seats may be too few where the pupils live, \
                             or too few neighbours between districts to pass them on); its best \
                             contiguous plan leaves {} pupil(s) over capacity: {}",
                            total,
                            listed.join(", ")
                        )
                    },
                    schools: over.iter().map(|o| o.0.clone()).collect(),
                    pupils: vec![],
                    shortfall: total,
                }]));
            };
            let from = if self.starts.len() > 1 {
                "the optimal districts and from last year's"
            } else {
                "the optimal districts"
            };
            let segments = match (&contracted, self.groups) {
                (Some((_, unit_of)), Some(groups)) => {
                    // Groups the search cannot keep whole: cells in more than one piece of
                    // the adjacency (touching only at a corner, or apart), or two schools'
                    // own blocks; each piece is kept whole, the group may not be.
                    let mut roots = vec![false; full.n_units()];
                    full.root.iter().for_each(|&r| roots[r] = true);
                    let (mut apart, mut two_roots) = (0usize, 0usize);
                    for g in groups {
                        let mut units: Vec<usize> = g.iter().map(|&b| unit_of[b]).collect();
                        units.sort_unstable();
                        units.dedup();
                        if g.iter().filter(|&&b| roots[b]).count() > 1 {
                            two_roots += 1;
                        } else if units.len() > 1 {
                            apart += 1;
                        }
                    }
                    format!(
                        ", whole street segments; of {} segment groups {apart} lie in pieces of \
                         the adjacency and {two_roots} hold two schools' own blocks, each piece \
                         kept whole",
                        groups.len()
                    )
                }
                _ => String::new(),
            };
            (h, format!("contiguous{segments} (local search from {from})"), false)
        };
        let (assign, method, proved) = match self.streets {
            Some((streets, price)) if full.is_feasible(&assign) => {
                let (assign, moved) = self.keep_streets(full, &contracted, assign, streets, price);
                let how = format!(
                    "{method}; {price} m per extra district of a street: {} street part move(s), \
                     split streets {} -> {}",
                    moved.moves, moved.split_before, moved.split_after
                );
                (assign, how, proved && moved.moves == 0)
            }
            _ => (assign, method, proved),
        };
        if !full.is_feasible(&assign) {
            return Err(Error::Infeasible(vec![crate::error::Infeasibility {
                kind: "contiguity".into(),
                message: format!(
                    "no contiguous plan within the seats was found by the {}: every district \
                     one piece holding its school's block, every school within its capacity\
                     {classes}",
                    if proved { "exact solver" } else { "local search" }
                ),
                schools: vec![],
                pupils: vec![],
                shortfall: 0,
            }]));
        }
        Ok(Found { assign, method, proved, exact: small })
    }

    /// Street parts moved while walk + `price` per extra district of a street falls
    /// ([`crate::solve::whole_streets`]); with whole segments on the contracted problem, so no
    /// segment is split.
    fn keep_streets(
        &self,
        full: &ContiguousProblem,
        contracted: &Option<(ContiguousProblem, Vec<usize>)>,
        assign: Vec<u32>,
        streets: &[Vec<usize>],
        price: u64,
    ) -> (Vec<u32>, crate::solve::whole_streets::StreetMoves) {
        use crate::solve::whole_streets::keep_streets;
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_secs(TRANSFER_SECONDS as u64);
        match contracted {
            None => {
                let mut a = assign;
                let moved = keep_streets(full, &mut a, streets, price, deadline);
                (a, moved)
            }
            Some((units, unit_of)) => {
                let mut a = vec![0u32; units.n_units()];
                for (b, &u) in unit_of.iter().enumerate() {
                    a[u] = assign[b];
                }
                let mapped: Vec<Vec<usize>> = streets
                    .iter()
                    .map(|list| {
                        let mut v: Vec<usize> = list.iter().map(|&b| unit_of[b]).collect();
                        v.sort_unstable();
                        v.dedup();
                        v
                    })
                    .collect();
                let moved = keep_streets(units, &mut a, &mapped, price, deadline);
                (unit_of.iter().map(|&u| a[u]).collect(), moved)
            }
        }
    }

    /// At most `n` blocks with pupils change school: a penalty of `lambda` meters per changed
    /// block, 0 first, raised fourfold until the plan keeps the cap, then bisected down to the
    /// least penalty found that keeps it (a Lagrangian search: the plan keeps the cap, but
    /// another plan within it may walk less, so it is proved optimal only when no penalty was
    /// needed). Among the plans within the cap the one of least walk is kept.
    fn capped(&self, full: &ContiguousProblem, n: u32) -> Result<Found> {
        let n = n as usize;
        let (_, forced) = changed_blocks(full, self.prev, &vec![0; full.n_units()]);
        let infeasible = |fewest: Option<usize>| {
            Error::Infeasible(vec![crate::error::Infeasibility {
                kind: "max_changed_blocks".into(),
                message: format!(
                    "no contiguous plan was found that changes at most {n} block(s) against last \
                     year's districts{}{}; allow more changes",
                    if forced > 0 {
                        format!(
                            " ({forced} block(s) must change: their school is not in this \
                             instance)"
                        )
                    } else {
                        String::new()
                    },
                    match fewest {
                        Some(k) => format!(" (the fewest found: {k})"),
                        None => String::new(),
                    }
                ),
                schools: vec![],
                pupils: vec![],
                shortfall: 0,
            }])
        };
        if forced > n {
            return Err(infeasible(None));
        }
        let walk = |a: &[u32]| full.objective(a).expect("feasible plans use allowed pairs");
        // Exact solves only without a penalty and once at the end: the penalties in between
        // are tried by the local search alone (a Cbc loop per penalty would take minutes).
        let solve_at = |lambda: u64, exact: bool| -> Result<Option<(Found, usize)>> {
            let problem;
            let p = if lambda == 0 {
                full
            } else {
                problem = penalised(full, self.prev, |_| lambda);
                &problem
            };
            match self.run(p, exact) {
                Ok(f) => {
                    let (k, _) = changed_blocks(full, self.prev, &f.assign);
                    Ok(Some((f, k)))
                }
                Err(Error::Infeasible(_)) if !exact => Ok(None),
                Err(e) => Err(e),
            }
        };
        // The final exact solve is a bonus: only cancellation stops the plan found without it.
        let bonus = |lambda: u64| -> Result<Option<(Found, usize)>> {
            match solve_at(lambda, true) {
                Err(Error::Cancelled) => Err(Error::Cancelled),
                Err(_) => Ok(None),
                Ok(x) => Ok(x),
            }
        };
        let done = |f: Found, lambda: u64, k: usize| {
            let how = if lambda == 0 {
                format!("{}; at most {n} changed block(s): {k} without any penalty", f.method)
            } else {
                format!(
                    "{}; at most {n} changed block(s): {k} at a penalty of {lambda} m per \
                     changed block (Lagrangian search, not proved optimal under the cap)",
                    f.method
                )
            };
            Found { proved: f.proved && lambda == 0, method: how, ..f }
        };
        let (f, k) = solve_at(0, true)?.expect("errors propagate with the exact solver");
        if k <= n {
            return Ok(done(f, 0, k));
        }
        let exact = f.exact;
        // Every plan's walk is below the sum of each block's dearest allowed school: a
        // penalty above it puts fewer changes before any walk.
        let top: u64 = (0..full.n_units())
            .map(|b| (0..full.n_schools).filter_map(|s| full.cost(b, s)).max().unwrap_or(0) as u64)
            .sum::<u64>()
            .clamp(1, UNREACHABLE as u64 / 4);
        let mut lo = 0u64;
        let mut lambda = 250u64.min(top);
        let mut fewest = k;
        let mut best: Option<(Found, u64, usize)> = None;
        for _ in 0..CAP_RAISES {
            if let Some((f, k)) = solve_at(lambda, false)? {
                fewest = fewest.min(k);
                if k <= n {
                    best = Some((f, lambda, k));
                    break;
                }
            }
            lo = lambda;
            if lambda >= top {
                break;
            }
            lambda = (lambda * 4).min(top);
        }
        let Some((mut f, mut hi, mut k)) = best else {
            // Changes before walk, exactly: the fewest changes with each block at one of its
            // nearest schools.
            if exact {
                if let Some((g, kg)) = bonus(top)? {
                    if kg <= n {
                        return Ok(done(g, top, kg));
                    }
                    fewest = fewest.min(kg);
                }
            }
            return Err(infeasible(Some(fewest)));
        };
        let mut bound = hi;
        for _ in 0..CAP_BISECTIONS {
            if bound - lo <= 1 {
                break;
            }
            let mid = lo + (bound - lo) / 2;
            match solve_at(mid, false)? {
                Some((g, kg)) if kg <= n => {
                    bound = mid;
                    if walk(&g.assign) < walk(&f.assign) {
                        (f, hi, k) = (g, mid, kg);
                    }
                }
                _ => lo = mid,
            }
        }
        if exact {
            if let Some((g, kg)) = bonus(hi)? {
                if kg <= n && walk(&g.assign) <= walk(&f.assign) {
                    (f, k) = (g, kg);
                }
            }
        }
        Ok(done(f, hi, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line of five blocks, schools A (root 0), B (root 2) and C (root 4): B has no pupil
    /// and no fixed one, so its district (blocks 1-2, no pupils) joins A, where those blocks
    /// walk less than at C; A's and C's districts stay one piece, the loads do not change.
    /// With a fixed pupil B keeps its district.
    #[test]
    fn a_school_without_pupils_gives_its_district_whole_to_a_neighbour() {
        let p = ContiguousProblem {
            n_schools: 3,
            cap: vec![10, 10, 10],
            #[rustfmt::skip]
            cost: vec![
                0, 9, 9,
                1, 2, 8,
                2, 0, 9,
                9, 9, 1,
                9, 9, 0,
            ],
            weight: vec![3, 0, 0, 1, 2],
            root: vec![0, 2, 4],
            neighbours: vec![vec![1], vec![0, 2], vec![1, 3], vec![2, 4], vec![3]],
            classes: None,
        };
        let a = vec![0, 1, 1, 2, 2];
        let closed = close_classless(&p, &[0, 0, 0], a.clone());
        assert_eq!(closed, vec![0, 0, 0, 2, 2]);
        assert_eq!(p.loads(&closed), p.loads(&a));
        assert!(p.enclaves(&closed).is_empty());
        assert_eq!(close_classless(&p, &[0, 1, 0], a.clone()), a);
    }
}
