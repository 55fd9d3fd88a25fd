//! Robustness of a plan against change before enrolment: a Monte Carlo simulation. Pure: values
//! in, values out, no I/O.
//!
//! The plan's districts are fixed (every block -> its school). Between the computation and
//! enrolment the cohort changes ([`Model`]):
//!
//! - every planned pupil moves away with probability `move_prob`; a pupil who stays keeps the
//!   planned school;
//! - the cohort's size is `planned x F` in expectation, `F ~ Normal(1 + cohort_change,
//!   cohort_sd)`, one `F` per draw shared by all schools;
//! - newcomers fill the difference: their number is Poisson with mean
//!   `planned x (F - 1 + move_prob)` (at least 0), and each lands in a block with probability
//!   proportional to the block's residents and attends that block's district school.
//!
//! Per school this is `Binomial(load, 1 - move_prob) + Poisson(mean x residents share)`: the
//! stayers of a school and Poisson splitting of the newcomers over the blocks (a multinomial
//! over blocks with a Poisson total is independent Poissons per block, whose sums per district
//! are Poissons again), so a draw costs two samples per school however many blocks there are.
//!
//! Draw `d` uses its own ChaCha8 stream (`seed`, stream `d`) and draws are reduced in draw
//! order, so the result is the same for any number of threads.

use crate::error::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Normal, Poisson};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One school of the plan, as the simulation needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchoolInput {
    /// The school's id.
    pub id: String,
    /// Seats.
    pub capacity: u32,
    /// The largest class.
    pub class_size: u32,
    /// Classes the plan forms.
    pub classes: u32,
    /// Planned pupils.
    pub load: u32,
    /// Residents of the school's district (all its blocks): where newcomers appear.
    pub residents: u64,
}

/// The model of change between the computation of a plan and enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Model {
    /// Probability that a planned pupil moves away (out of the block) before enrolment.
    pub move_prob: f64,
    /// Expected relative change of the cohort's size (0.0: as planned).
    pub cohort_change: f64,
    /// Standard deviation of the cohort's relative size.
    pub cohort_sd: f64,
}

/// Defaults from Magdeburg's own figures (README, "Robustness simulation"): 15% of pupils move
/// away within a year, the cohort's size varies by 1.5% (standard deviation), no trend.
pub const DEFAULT_MOVE_PROB: f64 = 0.15;
/// Default relative standard deviation of the cohort's size.
pub const DEFAULT_COHORT_SD: f64 = 0.015;
/// Default number of draws.
pub const DEFAULT_DRAWS: usize = 10_000;
/// Default seed of the draws' random streams.
pub const DEFAULT_SEED: u64 = 1;
/// Default probability of overflow a buffer must keep under.
pub const DEFAULT_TARGET: f64 = 0.05;

impl Default for Model {
    fn default() -> Self {
        Model { move_prob: DEFAULT_MOVE_PROB, cohort_change: 0.0, cohort_sd: DEFAULT_COHORT_SD }
    }
}

impl Model {
    /// No change at all: every pupil stays, no newcomers, the cohort as planned.
    pub fn none() -> Self {
        Model { move_prob: 0.0, cohort_change: 0.0, cohort_sd: 0.0 }
    }
}

/// How many draws, the seed, and the overflow probability a buffer must keep under.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Number of Monte Carlo draws.
    pub draws: usize,
    /// Seed of the random streams (draw `d` uses stream `d`).
    pub seed: u64,
    /// The overflow probability a school's buffer must keep under (0 to 1, exclusive).
    pub target: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { draws: DEFAULT_DRAWS, seed: DEFAULT_SEED, target: DEFAULT_TARGET }
    }
}

/// The simulated risk of one school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchoolRisk {
    /// The school's id.
    pub school_id: String,
    /// Seats.
    pub capacity: u32,
    /// Classes the plan forms.
    pub classes: u32,
    /// The largest class, in pupils.
    pub class_size: u32,
    /// Pupils the plan assigns to the school.
    pub planned_load: u32,
    /// Mean load over the draws.
    pub expected_load: f64,
    /// P(load > capacity).
    pub p_over_capacity: f64,
    /// P(some class over its size) with the plan's classes kept: an even split puts some class
    /// over `class_size` exactly when `load > classes x class_size`.
    pub p_class_over: f64,
    /// 95th percentile of the load (nearest rank).
    pub p95_load: u32,
    /// Seats to hold back: a school planned full to `capacity - buffer` overflows with
    /// probability at most the target (the change `load - planned` is below `buffer` in at
    /// least `1 - target` of the draws).
    pub buffer: u32,
    /// Seats of the buffer the plan does not already leave free: `buffer - (capacity -
    /// planned)`, at least 0.
    pub short: u32,
}

/// The result of a simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    /// The model of change simulated.
    pub model: Model,
    /// Draws, seed and target of the run.
    pub options: Options,
    /// Pupils the plan assigns over all schools.
    pub planned_pupils: u64,
    /// Mean number of pupils over the draws.
    pub expected_pupils: f64,
    /// P(at least one school over capacity).
    pub p_any_over_capacity: f64,
    /// Expected number of schools over capacity.
    pub expected_schools_over: f64,
    /// One risk per school, in the plan's school order.
    pub per_school: Vec<SchoolRisk>,
}

/// Check the model and options; errors name the parameter.
pub fn validate(schools: &[SchoolInput], model: &Model, opts: &Options) -> Result<()> {
    let bad = |what: &str, msg: String| {
        Err(Error::policy(format!("simulation parameter {what}: {msg}"), None))
    };
    if !(0.0..=1.0).contains(&model.move_prob) {
        return bad("move_prob", format!("{} is not a probability (0 to 1)", model.move_prob));
    }
    if !model.cohort_sd.is_finite() || model.cohort_sd < 0.0 || model.cohort_sd > 0.5 {
        return bad(
            "cohort_sd",
            format!(
                "{} must be between 0 and 0.5 (a relative standard deviation)",
                model.cohort_sd
            ),
        );
    }
    if !model.cohort_change.is_finite() || model.cohort_change <= -1.0 || model.cohort_change > 1.0
    {
        return bad(
            "cohort_change",
            format!("{} must be above -1 and at most 1 (a relative change)", model.cohort_change),
        );
    }
    if opts.draws == 0 {
        return bad("draws", "must be at least 1".into());
    }
    if opts.draws > 10_000_000 {
        return bad("draws", format!("{} is more than 10,000,000", opts.draws));
    }
    if !(opts.target > 0.0 && opts.target < 1.0) {
        return bad(
            "target",
            format!("{} must be a probability strictly between 0 and 1", opts.target),
        );
    }
    if schools.is_empty() {
        return Err(Error::input("schools.csv", None, None, "the plan has no schools"));
    }
    let newcomers = model.move_prob > 0.0 || model.cohort_sd > 0.0 || model.cohort_change > 0.0;
    if newcomers && schools.iter().all(|s| s.residents == 0) {
        return Err(Error::input(
            "districts.csv",
            None,
            Some("residents"),
            "no district has residents: newcomers cannot be placed (districts.csv needs a \
             'residents' column with positive values)",
        ));
    }
    Ok(())
}

/// The loads of one draw (per school, in school order).
pub fn draw(schools: &[SchoolInput], model: &Model, seed: u64, index: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let planned: u64 = schools.iter().map(|s| s.load as u64).sum();
    let factor = if model.cohort_sd > 0.0 {
        Normal::new(1.0 + model.cohort_change, model.cohort_sd).expect("validated").sample(&mut rng)
    } else {
        1.0 + model.cohort_change
    };
    let newcomers = (planned as f64 * (factor - 1.0 + model.move_prob)).max(0.0);
    let residents: u64 = schools.iter().map(|s| s.residents).sum();
    schools
        .iter()
        .map(|s| {
            let stay = if model.move_prob > 0.0 {
                Binomial::new(s.load as u64, 1.0 - model.move_prob)
                    .expect("validated")
                    .sample(&mut rng)
            } else {
                s.load as u64
            };
            let mean =
                if residents > 0 { newcomers * s.residents as f64 / residents as f64 } else { 0.0 };
            let new = if mean > 0.0 {
                Poisson::new(mean).expect("positive mean").sample(&mut rng) as u64
            } else {
                0
            };
            (stay + new).min(u32::MAX as u64) as u32
        })
        .collect()
}

/// Run the simulation. `progress` is called with the number of draws just finished (from
/// worker threads, in no particular order).
pub fn simulate(
    schools: &[SchoolInput],
    model: &Model,
    opts: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Simulation> {
    validate(schools, model, opts)?;
    let n_s = schools.len();
    const CHUNK: usize = 256;
    let chunks: Vec<Vec<u32>> = (0..opts.draws.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let range = c * CHUNK..((c + 1) * CHUNK).min(opts.draws);
            let mut loads = Vec::with_capacity(range.len() * n_s);
            for d in range.clone() {
                loads.extend(draw(schools, model, opts.seed, d as u64));
            }
            progress(range.len());
            loads
        })
        .collect();
    // Draw-major loads, in draw order.
    let loads: Vec<u32> = chunks.concat();
    Ok(summarize(schools, model, opts, &loads))
}

/// The k-th smallest value (1-based nearest rank of probability `q`).
fn nearest_rank(sorted: &[i64], q: f64) -> i64 {
    let n = sorted.len();
    let k = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[k - 1]
}

/// Reduce draw-major loads (`draws x schools`) to the per-school risks.
pub fn summarize(
    schools: &[SchoolInput],
    model: &Model,
    opts: &Options,
    loads: &[u32],
) -> Simulation {
    let n_s = schools.len();
    let draws = loads.len() / n_s;
    let nd = draws as f64;
    let mut any_over = 0usize;
    let mut schools_over = 0usize;
    let mut total = 0u64;
    for row in loads.chunks(n_s) {
        let over = row.iter().zip(schools).filter(|(&l, s)| l > s.capacity).count();
        schools_over += over;
        any_over += (over > 0) as usize;
        total += row.iter().map(|&l| l as u64).sum::<u64>();
    }
    let per_school = schools
        .iter()
        .enumerate()
        .map(|(s, school)| {
            let mut col: Vec<i64> = loads.iter().skip(s).step_by(n_s).map(|&l| l as i64).collect();
            let sum: i64 = col.iter().sum();
            let over = col.iter().filter(|&&l| l > school.capacity as i64).count();
            let class_seats = school.classes as i64 * school.class_size as i64;
            let class_over = col.iter().filter(|&&l| l > class_seats).count();
            col.sort_unstable();
            let p95 = nearest_rank(&col, 0.95);
            let change = nearest_rank(&col, 1.0 - opts.target) - school.load as i64;
            let buffer = change.max(0) as u32;
            let free = school.capacity.saturating_sub(school.load);
            SchoolRisk {
                school_id: school.id.clone(),
                capacity: school.capacity,
                classes: school.classes,
                class_size: school.class_size,
                planned_load: school.load,
                expected_load: sum as f64 / nd,
                p_over_capacity: over as f64 / nd,
                p_class_over: class_over as f64 / nd,
                p95_load: p95 as u32,
                buffer,
                short: buffer.saturating_sub(free),
            }
        })
        .collect();
    Simulation {
        model: *model,
        options: *opts,
        planned_pupils: schools.iter().map(|s| s.load as u64).sum(),
        expected_pupils: total as f64 / nd,
        p_any_over_capacity: any_over as f64 / nd,
        expected_schools_over: schools_over as f64 / nd,
        per_school,
    }
}

/// The simulation as a fixed-width text table (one row per school, then the totals).
pub fn table(sim: &Simulation) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<8} {:>8} {:>7} {:>8} {:>9} {:>7} {:>9} {:>8} {:>7} {:>6}\n",
        "school",
        "capacity",
        "planned",
        "expected",
        "P(over)",
        "p95",
        "P(class)",
        "classes",
        "buffer",
        "short"
    ));
    for r in &sim.per_school {
        out.push_str(&format!(
            "{:<8} {:>8} {:>7} {:>8.1} {:>8.1}% {:>7} {:>8.1}% {:>8} {:>7} {:>6}\n",
            r.school_id,
            r.capacity,
            r.planned_load,
            r.expected_load,
            100.0 * r.p_over_capacity,
            r.p95_load,
            100.0 * r.p_class_over,
            r.classes,
            r.buffer,
            r.short
        ));
    }
    out.push_str(&format!(
        "{} draws (seed {}); move-away probability {}, cohort change {:+}, cohort sd {}; pupils planned {}, expected {:.1}\n\
         P(some school over capacity) {:.1}%; expected schools over capacity {:.2}; buffers for P(overflow) <= {}% total {} seats\n",
        sim.options.draws,
        sim.options.seed,
        sim.model.move_prob,
        sim.model.cohort_change,
        sim.model.cohort_sd,
        sim.planned_pupils,
        sim.expected_pupils,
        100.0 * sim.p_any_over_capacity,
        sim.expected_schools_over,
        100.0 * sim.options.target,
        sim.per_school.iter().map(|r| r.buffer as u64).sum::<u64>()
    ));
    out
}

/// Capacities reduced by simulated buffers, kept feasible.
#[derive(Debug, Clone, PartialEq)]
pub struct Reduced {
    /// The instance with every school's capacity reduced by its applied buffer.
    pub instance: crate::Instance,
    /// The buffer applied per school (instance order).
    pub applied: Vec<u32>,
    /// The share of the simulated buffers applied: 1.0 when they all fit; less when the full
    /// buffers would leave too few seats (every buffer is then scaled down by the same factor,
    /// rounded down, the largest factor in steps of 1/1000 that keeps the instance feasible).
    pub scale: f64,
}

/// Reduce each school's capacity by its buffer (`buffers` by school id; schools not named keep
/// theirs), scaling all buffers down together when the full buffers make the pupil-level
/// instance infeasible (too few seats, or too few within the maximum walk).
pub fn reduce_capacities(
    inst: &crate::Instance,
    m: &crate::Matrix,
    max_walk: Option<u32>,
    buffers: &[(String, u32)],
) -> Result<Reduced> {
    let mut full = vec![0u32; inst.schools.len()];
    for (id, b) in buffers {
        let s = inst.school_index(id).ok_or_else(|| {
            Error::input(
                "simulation",
                None,
                Some("school_id"),
                format!("the simulation names school '{id}', which the schools file does not have"),
            )
        })?;
        full[s] = (*b).min(inst.schools[s].capacity);
    }
    let base = crate::solve::Problem::pupil_level(inst, m, max_walk)?;
    let applied_at = |permille: u32| -> Vec<u32> {
        full.iter().map(|&b| (b as u64 * permille as u64 / 1000) as u32).collect()
    };
    let feasible = |permille: u32| {
        let mut p = base.clone();
        for (c, b) in p.cap.iter_mut().zip(applied_at(permille)) {
            *c -= b;
        }
        crate::solve::feasibility::diagnose(&p).is_empty()
    };
    if !feasible(0) {
        return Err(Error::Infeasible(vec![crate::error::Infeasibility {
            kind: "buffers".into(),
            message: "the instance is infeasible even without buffers".into(),
            schools: vec![],
            pupils: vec![],
            shortfall: 0,
        }]));
    }
    let permille = if feasible(1000) {
        1000
    } else {
        // Feasibility is monotone in the factor: the largest feasible one by bisection.
        let (mut lo, mut hi) = (0u32, 1000u32);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if feasible(mid) {
                lo = mid
            } else {
                hi = mid
            }
        }
        lo
    };
    let applied = applied_at(permille);
    let mut instance = inst.clone();
    for (s, b) in instance.schools.iter_mut().zip(&applied) {
        s.capacity -= b;
    }
    Ok(Reduced { instance, applied, scale: permille as f64 / 1000.0 })
}

/// The simulation's inputs for a plan held in memory: seats and class sizes from `schools`,
/// loads and classes from the plan, residents per school from each block's district school.
pub fn school_inputs(
    schools: &[crate::School],
    assign: &[u32],
    classes: &[u32],
    district: &[Option<usize>],
    block_residents: &[u64],
) -> Vec<SchoolInput> {
    let mut load = vec![0u32; schools.len()];
    for &s in assign {
        load[s as usize] += 1;
    }
    let mut residents = vec![0u64; schools.len()];
    for (d, &r) in district.iter().zip(block_residents) {
        if let Some(s) = d {
            residents[*s] += r;
        }
    }
    schools
        .iter()
        .enumerate()
        .map(|(s, school)| SchoolInput {
            id: school.id.clone(),
            capacity: school.capacity,
            class_size: school.class_size,
            classes: classes[s],
            load: load[s],
            residents: residents[s],
        })
        .collect()
}

/// The price of robustness: a plan re-solved with every school's capacity reduced by its
/// simulated buffer, and the same simulation run on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Robustness {
    /// The share of the simulated buffers applied (see [`Reduced::scale`]).
    pub scale: f64,
    /// Seats held back per school: (school id, seats).
    pub buffers: Vec<(String, u32)>,
    /// Re-solves made: after each, a school whose new load or district needs a larger buffer
    /// gets it, until every school is under the target, the buffers no longer fit or change,
    /// or [`MAX_ROUNDS`].
    pub rounds: u32,
    /// Total walk of the plan before, in meters.
    pub walk_before_m: u64,
    /// Total walk of the robust plan, in meters.
    pub walk_after_m: u64,
    /// `walk_after_m - walk_before_m`, relative to `walk_before_m`, in percent.
    pub price_pct: f64,
    /// The simulation of the plan before.
    pub before: Simulation,
    /// The robust plan simulated against the schools' real seats.
    pub after: Simulation,
}

/// The most re-solves of [`robust_plan`].
pub const MAX_ROUNDS: u32 = 5;

/// Re-solve with capacities reduced by the buffers of `before` (a simulation of a plan of
/// `inst` walking `walk_before_m`), draw the robust plan's districts for every block of the
/// city, and simulate it with the same model, draws and seed. Returns the robust plan, the
/// instance it was solved on (reduced capacities) and the comparison.
pub fn robust_plan(
    inst: &crate::Instance,
    m: &crate::Matrix,
    policy: &crate::Policy,
    city: &crate::districts::publish::City,
    before: Simulation,
    walk_before_m: u64,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(crate::Plan, crate::Instance, Robustness)> {
    // Class-size policies replace capacities: apply them first, then reduce.
    let inst = crate::effective_instance(inst, policy).into_owned();
    let policy = crate::Policy { max_class_size: None, ..policy.clone() };
    let mut buffers: Vec<(String, u32)> =
        before.per_school.iter().map(|r| (r.school_id.clone(), r.buffer)).collect();
    let mut rounds = 0;
    let (reduced, plan, after) = loop {
        rounds += 1;
        let reduced = reduce_capacities(&inst, m, policy.max_walk, &buffers)?;
        let plan = crate::solve_plan(&reduced.instance, m, &policy, None)?;
        let rows = crate::districts::publish::district_rows(
            &reduced.instance,
            &plan,
            &city.blocks,
            &city.matrix,
            None,
        )?;
        let district: Vec<Option<usize>> = rows.iter().map(|r| r.school).collect();
        let residents: Vec<u64> = rows.iter().map(|r| r.residents as u64).collect();
        let inputs =
            school_inputs(&inst.schools, &plan.assign, &plan.classes, &district, &residents);
        let after = simulate(&inputs, &before.model, &before.options, progress)?;
        // A school's new load and district change its risk: keep the larger buffer and go again
        // while some school is still over the target and the buffers fit.
        let next: Vec<(String, u32)> = buffers
            .iter()
            .zip(&after.per_school)
            .map(|((id, b), r)| (id.clone(), (*b).max(r.buffer)))
            .collect();
        let under = after.per_school.iter().all(|r| r.p_over_capacity <= before.options.target);
        if under || reduced.scale < 1.0 || next == buffers || rounds == MAX_ROUNDS {
            break (reduced, plan, after);
        }
        buffers = next;
    };
    let walk_after_m = plan.objective;
    let robustness = Robustness {
        scale: reduced.scale,
        buffers: inst
            .schools
            .iter()
            .zip(&reduced.applied)
            .map(|(s, &b)| (s.id.clone(), b))
            .collect(),
        walk_before_m,
        walk_after_m,
        rounds,
        price_pct: if walk_before_m > 0 {
            100.0 * (walk_after_m as f64 - walk_before_m as f64) / walk_before_m as f64
        } else {
            0.0
        },
        before,
        after,
    };
    Ok((plan, reduced.instance, robustness))
}

/// The comparison as a text table: per school the seats held back and the overflow
/// probabilities before and after, then the walking totals.
pub fn robustness_table(r: &Robustness) -> String {
    let mut out = format!(
        "{:<8} {:>8} {:>7} {:>9} {:>9} {:>10} {:>10}\n",
        "school", "capacity", "buffer", "planned", "robust", "P(over)", "P(over)'"
    );
    for ((b, a), (_, held)) in r.before.per_school.iter().zip(&r.after.per_school).zip(&r.buffers) {
        out.push_str(&format!(
            "{:<8} {:>8} {:>7} {:>9} {:>9} {:>9.1}% {:>9.1}%\n",
            b.school_id,
            b.capacity,
            held,
            b.planned_load,
            a.planned_load,
            100.0 * b.p_over_capacity,
            100.0 * a.p_over_capacity
        ));
    }
    let km = |m: u64| m as f64 / 1000.0;
    out.push_str(&format!(
        "Buffers applied: {:.0}% of the simulated buffers ({} seats held back; {} re-solve(s)).\n\
         Total walk {:.1} km -> {:.1} km ({:+.2}%); P(some school over capacity) {:.1}% -> {:.1}%; \
         expected schools over capacity {:.2} -> {:.2}; largest P(over) {:.1}% -> {:.1}%\n",
        100.0 * r.scale,
        r.buffers.iter().map(|(_, b)| *b as u64).sum::<u64>(),
        r.rounds,
        km(r.walk_before_m),
        km(r.walk_after_m),
        r.price_pct,
        100.0 * r.before.p_any_over_capacity,
        100.0 * r.after.p_any_over_capacity,
        r.before.expected_schools_over,
        r.after.expected_schools_over,
        100.0 * r.before.per_school.iter().map(|x| x.p_over_capacity).fold(0.0, f64::max),
        100.0 * r.after.per_school.iter().map(|x| x.p_over_capacity).fold(0.0, f64::max),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(id: &str, capacity: u32, load: u32, residents: u64) -> SchoolInput {
        SchoolInput {
            id: id.into(),
            capacity,
            class_size: 22,
            classes: load.div_ceil(22),
            load,
            residents,
        }
    }

    #[test]
    fn no_change_keeps_every_load() {
        let schools = vec![school("A", 44, 44, 100), school("B", 66, 50, 300)];
        let sim = simulate(
            &schools,
            &Model::none(),
            &Options { draws: 50, ..Options::default() },
            &|_| (),
        )
        .unwrap();
        for (r, s) in sim.per_school.iter().zip(&schools) {
            assert_eq!(r.expected_load, s.load as f64);
            assert_eq!(r.p95_load, s.load);
            assert_eq!((r.p_over_capacity, r.p_class_over, r.buffer, r.short), (0.0, 0.0, 0, 0));
        }
        assert_eq!(sim.expected_pupils, 94.0);
    }

    #[test]
    fn everyone_moving_puts_the_cohort_where_the_residents_are() {
        // All planned pupils leave; as many newcomers in expectation, 3 of 4 in B's district.
        let schools = vec![school("A", 100, 100, 100), school("B", 100, 0, 300)];
        let model = Model { move_prob: 1.0, cohort_change: 0.0, cohort_sd: 0.0 };
        let sim =
            simulate(&schools, &model, &Options { draws: 2000, ..Options::default() }, &|_| ())
                .unwrap();
        assert!((sim.per_school[0].expected_load - 25.0).abs() < 1.0, "{:?}", sim.per_school[0]);
        assert!((sim.per_school[1].expected_load - 75.0).abs() < 1.5, "{:?}", sim.per_school[1]);
        // B plans no class: any pupil there is over the plan's classes.
        assert!(sim.per_school[1].p_class_over > 0.99);
    }

    #[test]
    fn a_cohort_trend_moves_the_expected_total() {
        let schools = vec![school("A", 500, 400, 1), school("B", 500, 400, 1)];
        let model = Model { move_prob: 0.1, cohort_change: 0.05, cohort_sd: 0.0 };
        let sim =
            simulate(&schools, &model, &Options { draws: 4000, ..Options::default() }, &|_| ())
                .unwrap();
        assert!((sim.expected_pupils - 840.0).abs() < 2.0, "{}", sim.expected_pupils);
    }

    #[test]
    fn the_buffer_is_the_upper_quantile_of_the_change() {
        let schools = vec![school("A", 200, 200, 1)];
        let model = Model { move_prob: 0.2, cohort_change: 0.0, cohort_sd: 0.02 };
        let opts = Options { draws: 3000, seed: 9, target: 0.05 };
        let sim = simulate(&schools, &model, &opts, &|_| ()).unwrap();
        let r = &sim.per_school[0];
        assert!(r.buffer > 0 && r.short == r.buffer);
        // The empirical overflow probability of a school planned to capacity - buffer.
        let loads: Vec<u32> =
            (0..opts.draws as u64).map(|d| draw(&schools, &model, opts.seed, d)[0]).collect();
        let over = loads.iter().filter(|&&l| l > 200 + r.buffer).count() as f64 / opts.draws as f64;
        assert!(over <= 0.05, "{over}");
        let over_one_less =
            loads.iter().filter(|&&l| l > 200 + r.buffer - 1).count() as f64 / opts.draws as f64;
        assert!(over_one_less > 0.05, "the buffer is the least that keeps under the target");
    }

    #[test]
    fn bad_parameters_are_named() {
        let schools = vec![school("A", 10, 5, 1)];
        let err =
            |m: Model, o: Options| simulate(&schools, &m, &o, &|_| ()).unwrap_err().to_string();
        assert!(err(Model { move_prob: 1.5, ..Model::default() }, Options::default())
            .contains("move_prob"));
        assert!(err(Model { cohort_sd: -0.1, ..Model::default() }, Options::default())
            .contains("cohort_sd"));
        assert!(err(Model::default(), Options { draws: 0, ..Options::default() }).contains("draws"));
        assert!(
            err(Model::default(), Options { target: 0.0, ..Options::default() }).contains("target")
        );
        let empty = vec![school("A", 10, 5, 0)];
        assert!(simulate(&empty, &Model::default(), &Options::default(), &|_| ())
            .unwrap_err()
            .to_string()
            .contains("residents"));
        assert!(
            simulate(&empty, &Model::none(), &Options::default(), &|_| ()).is_ok(),
            "no newcomers need no residents"
        );
    }
}
