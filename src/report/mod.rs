//! Metrics of a plan: walking-distance statistics, nearest-school comparison, school loads.

use crate::instance::Instance;
use crate::routing::Matrix;
use crate::Plan;
pub mod baseline;
pub mod html;
pub mod reproduce;
pub mod routing_check;
pub mod simulate;
pub mod simulate_files;

use serde::{Deserialize, Serialize};

/// A pupil walking farther than this is counted (Magdeburg's target: at most 2 km).
pub const LONG_WALK_METERS: u32 = 2000;

/// `summary.json`: the headline figures of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The catchment version that wrote the summary.
    pub catchment_version: String,
    /// Where the walking distances came from (matrix file, OSRM...), in words.
    pub distance_source: String,
    /// Number of pupils.
    pub pupils: usize,
    /// Number of schools.
    pub schools: usize,
    /// Seats over all schools.
    pub seats: u64,
    /// Walking-distance statistics of the plan.
    pub walk: WalkStats,
    /// Pupils not at their nearest school, and the extra meters that costs.
    pub not_at_nearest: NotNearest,
    /// The solver, objective and policy of the plan.
    pub solver: SolverInfo,
    /// Classes formed over all schools.
    pub classes: ClassStats,
    /// One row per school, in school order.
    pub per_school: Vec<SchoolLoad>,
    /// Wall-clock figures: the only part of the outputs that differs between identical runs.
    pub timing: Timing,
    /// Plans solved against last year's districts: changes and the price of stability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<crate::stability::StabilityReport>,
    /// Plans published with the city's blocks: how the districts lie on the blocks' adjacency
    /// (pieces, enclaves, cut edges per district).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub districts: Option<crate::districts::publish::Shape>,
    /// The routing check: blocks (or pupils) whose walks look like artefacts of the street
    /// network (counts; the blocks are in `routing-check.csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_check: Option<routing_check::CheckSummary>,
    /// Plans published with a street list: streets whole and split between districts, lines,
    /// and (grid blocks) street segments between junctions in more than one district.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streets: Option<crate::districts::streets::StreetStats>,
    /// Plans with whole street segments: what the rule cost against the plan without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whole_segments: Option<crate::districts::segments::SegmentReport>,
    /// Plans solved with pins: how many and what they cost against the optimum without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pins: Option<crate::districts::pins::PinsReport>,
}

/// Walking-distance statistics over all pupils, in meters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkStats {
    /// Total walk of all pupils.
    pub total_m: u64,
    /// Mean walk per pupil (rounded to 3 decimals).
    pub mean_m: f64,
    /// Median walk (nearest-rank).
    pub median_m: u32,
    /// 95th percentile walk (nearest-rank).
    pub p95_m: u32,
    /// Longest walk.
    pub max_m: u32,
    /// Pupils walking farther than [`LONG_WALK_METERS`].
    pub over_2km: usize,
}

/// Pupils assigned to a school other than their nearest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotNearest {
    /// Number of such pupils.
    pub pupils: usize,
    /// Meters they walk beyond their nearest school, in total.
    pub extra_m_total: u64,
    /// Meters they walk beyond their nearest school, on average (0 if none).
    pub extra_m_mean: f64,
}

/// How the plan was solved, and under which policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolverInfo {
    /// The solver's name (as in [`Plan::solver`]).
    pub name: String,
    /// Total walk of the plan in meters.
    pub objective_m: u64,
    /// Whether a solver proved the plan optimal for its policy (false for baselines).
    pub optimal: bool,
    /// Proven by the independent certificate (pupil-level plans); MIP plans are optimal by
    /// Cbc's branch and bound.
    pub certified: bool,
    /// The maximum walk in meters pairs were limited to, if any.
    pub max_walk_m: Option<u32>,
    /// Whether pupils or whole blocks were assigned.
    pub unit: crate::Unit,
    /// The smallest class allowed, in pupils, if any.
    pub min_class_size: Option<u32>,
    /// The largest class allowed at every school, in pupils, if set.
    #[serde(default)]
    pub max_class_size: Option<u32>,
    /// Whether every street segment between two junctions was kept in one district.
    #[serde(default)]
    pub whole_segments: bool,
    /// Whether every district is one connected piece around its school (every block decided).
    #[serde(default)]
    pub contiguous: bool,
    /// Meters added per extra district of a street while the contiguous plan was searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_street_cost_m: Option<u32>,
    /// Solved over a partial matrix of each pupil's `nearest` schools (the straight line
    /// bounding the pairs not given): `catchment check` reads the matrix as partial too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nearest: Option<u32>,
    /// With `nearest` and OSRM: the pairs routed on demand (of pupils x schools) and the
    /// requests it took; the plan's matrix holds exactly those pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed: Option<crate::plan::PairsRouted>,
    /// For whole-block or class plans: the pupil-level optimum and the gap to it in %.
    pub pupil_optimum_m: Option<u64>,
    /// Percent the plan's walk lies above the pupil-level optimum.
    pub gap_pct: Option<f64>,
}

/// One school's load, classes and price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchoolLoad {
    /// The school's id.
    pub id: String,
    /// The school's name.
    pub name: String,
    /// Pupils assigned.
    pub load: u64,
    /// Seats.
    pub capacity: u32,
    /// Pupils the school must at least get.
    pub min_pupils: u32,
    /// `load / capacity`, rounded to 3 decimals.
    pub utilisation: f64,
    /// The school's price in the certificate (pupil-level plans).
    pub price_m: Option<i64>,
    /// Classes formed.
    pub classes: u32,
    /// The largest class the school allows, in pupils.
    pub class_size: u32,
    /// Pupils per class, on average and in the largest class (classes formed evenly).
    pub mean_class: f64,
    /// Pupils in the largest class.
    pub largest_class: u32,
}

/// Classes over all schools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Classes formed in total.
    pub total: u32,
    /// Classes with more pupils than their school's class size.
    pub over_size: u32,
    /// Pupils in the largest class of any school.
    pub largest: u32,
    /// Schools with no class (no pupils).
    pub schools_without_class: Vec<String>,
}

/// Wall-clock figures of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Seconds the solve took (rounded to milliseconds).
    pub solve_seconds: f64,
}

/// The nearest school of pupil `p` (least meters, ties by school order; of the pairs given,
/// for a partial matrix) and its meters.
pub fn nearest(m: &Matrix, p: usize) -> Option<(usize, u32)> {
    m.nearest(p)
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The summary of a plan: walks, nearest-school comparison, classes and loads, computed on the
/// instance as the plan's policy sees it (class sizes replaced by `max_class_size`).
pub fn summarize(inst: &Instance, m: &Matrix, plan: &Plan) -> Summary {
    let inst = &*crate::effective_instance(inst, &plan.policy);
    let n = inst.pupils.len();
    let mut walks: Vec<u32> =
        (0..n).map(|p| m.get(p, plan.assign[p] as usize).unwrap_or(0)).collect();
    let total: u64 = walks.iter().map(|&w| w as u64).sum();
    let mut not_nearest = 0;
    let mut extra = 0u64;
    for (p, &w) in walks.iter().enumerate() {
        if let Some((_, d)) = nearest(m, p) {
            if w > d {
                not_nearest += 1;
                extra += (w - d) as u64;
            }
        }
    }
    let over = walks.iter().filter(|&&w| w > LONG_WALK_METERS).count();
    walks.sort_unstable();
    let mut load = vec![0u64; inst.schools.len()];
    for &s in &plan.assign {
        load[s as usize] += 1;
    }
    Summary {
        catchment_version: env!("CARGO_PKG_VERSION").to_string(),
        distance_source: m.source.clone(),
        pupils: n,
        schools: inst.schools.len(),
        seats: inst.seats(),
        walk: WalkStats {
            total_m: total,
            mean_m: if n > 0 { round3(total as f64 / n as f64) } else { 0.0 },
            median_m: percentile(&walks, 0.5),
            p95_m: percentile(&walks, 0.95),
            max_m: walks.last().copied().unwrap_or(0),
            over_2km: over,
        },
        not_at_nearest: NotNearest {
            pupils: not_nearest,
            extra_m_total: extra,
            extra_m_mean: if not_nearest > 0 {
                round3(extra as f64 / not_nearest as f64)
            } else {
                0.0
            },
        },
        solver: SolverInfo {
            name: plan.solver.clone(),
            objective_m: plan.objective,
            optimal: plan.optimal,
            certified: plan.certificate.is_some(),
            max_walk_m: plan.policy.max_walk,
            unit: plan.policy.unit,
            min_class_size: plan.policy.min_class_size,
            max_class_size: plan.policy.max_class_size,
            whole_segments: plan.policy.whole_segments,
            contiguous: plan.policy.contiguous,
            split_street_cost_m: plan.policy.split_street_cost,
            nearest: plan.policy.nearest,
            routed: plan.routed,
            pupil_optimum_m: plan.pupil_optimum,
            gap_pct: plan.pupil_optimum.map(|o| {
                if o > 0 {
                    round3(100.0 * (plan.objective as f64 - o as f64) / o as f64)
                } else {
                    0.0
                }
            }),
        },
        classes: {
            let mut over = 0;
            let mut largest = 0;
            for (s, sc) in inst.schools.iter().enumerate() {
                let k = plan.classes[s] as u64;
                if let Some(small) = load[s].checked_div(k) {
                    // Classes formed as evenly as possible: load % k of them have one more pupil.
                    let big_count = load[s] % k;
                    let big = if big_count > 0 { small + 1 } else { small };
                    largest = largest.max(big as u32);
                    if big > sc.class_size as u64 {
                        over +=
                            if small > sc.class_size as u64 { k as u32 } else { big_count as u32 };
                    }
                } else if load[s] > 0 {
                    over += 1;
                }
            }
            ClassStats {
                total: plan.classes.iter().sum(),
                over_size: over,
                largest,
                schools_without_class: inst
                    .schools
                    .iter()
                    .zip(&plan.classes)
                    .filter(|(_, &k)| k == 0)
                    .map(|(s, _)| s.id.clone())
                    .collect(),
            }
        },
        per_school: inst
            .schools
            .iter()
            .enumerate()
            .map(|(s, sc)| SchoolLoad {
                id: sc.id.clone(),
                name: sc.name.clone(),
                load: load[s],
                capacity: sc.capacity,
                min_pupils: sc.min_pupils,
                utilisation: round3(load[s] as f64 / sc.capacity as f64),
                price_m: plan.certificate.as_ref().map(|c| c.prices[s]),
                classes: plan.classes[s],
                mean_class: if plan.classes[s] > 0 {
                    round3(load[s] as f64 / plan.classes[s] as f64)
                } else {
                    0.0
                },
                largest_class: if plan.classes[s] > 0 {
                    load[s].div_ceil(plan.classes[s] as u64) as u32
                } else {
                    0
                },
                class_size: sc.class_size,
            })
            .collect(),
        timing: Timing { solve_seconds: round3(plan.solve_seconds) },
        stability: None,
        districts: None,
        routing_check: None,
        streets: None,
        whole_segments: None,
        pins: None,
    }
}

/// A comparison for the report page: one row per (label, summary), changes against the first.
pub fn comparison_table(title: &str, rows: &[(String, &Summary)]) -> html::Comparison {
    let km = |m: u64| format!("{:.1} km", m as f64 / 1000.0);
    let base = rows.first().map(|r| r.1.walk.total_m as f64).unwrap_or(0.0);
    html::Comparison {
        title: title.to_string(),
        columns: [
            "plan",
            "total walk",
            "change",
            "mean walk",
            "over 2 km",
            "not at nearest school",
            "classes",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|(label, s)| {
                let change = if base > 0.0 {
                    format!("{:+.1} %", 100.0 * (s.walk.total_m as f64 - base) / base)
                } else {
                    String::new()
                };
                vec![
                    label.clone(),
                    km(s.walk.total_m),
                    change,
                    format!("{:.0} m", s.walk.mean_m),
                    s.walk.over_2km.to_string(),
                    s.not_at_nearest.pupils.to_string(),
                    s.classes.total.to_string(),
                ]
            })
            .collect(),
    }
}
