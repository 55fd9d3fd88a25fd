//! The plan and its policy: [`Policy`], [`Plan`], the class rules every layer shares, and the
//! renderers that turn index-space findings into messages with ids. The solve step that makes a
//! plan is the pipeline's `solve_plan` (a layer above).

use crate::error::Infeasibility;
use crate::instance::{Instance, School};
use crate::solve::certificate::{Certificate, Finding};
use crate::solve::feasibility::Diagnosis;
use crate::solve::SolverKind;

/// The unit a district is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Every pupil placed on their own (the transportation LP; certified optimal).
    #[default]
    Pupil,
    /// All pupils of a block to one school (a MIP; districts of whole blocks).
    Block,
}

/// Objective and rules of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Policy {
    /// The solver of the pupil-level problem; whole-block and class plans (MIPs) add Cbc on top.
    pub solver: SolverKind,
    /// Pairs longer than this many meters are left out (a hard maximum walk).
    pub max_walk: Option<u32>,
    /// Whether districts are made of single pupils or whole blocks.
    pub unit: Unit,
    /// Every class must have at least this many pupils (the draft law: 25 from 2027); schools
    /// then open whole classes only, or none.
    pub min_class_size: Option<u32>,
    /// The largest class allowed at every school, replacing each school's `class_size`; a school
    /// given by `max_classes` then seats `max_classes` x this.
    pub max_class_size: Option<u32>,
    /// Every school's district is one connected piece of the blocks' adjacency graph holding
    /// the school's own block (whole blocks; needs the city's blocks).
    pub contiguous: bool,
    /// Every block a street segment between two consecutive junctions owns goes to one school,
    /// so the street list names whole segments (whole blocks; needs the city's grid blocks and
    /// its streets).
    pub whole_segments: bool,
    /// Meters added to the walk for every district a street falls into beyond its first
    /// (contiguous districts only): street parts move between districts while walk + this
    /// price falls, so fewer streets are split (needs the city's streets for grid blocks).
    pub split_street_cost: Option<u32>,
    /// The matrix gives only some pairs (at least each pupil's `nearest` nearest schools):
    /// the exact solve asks for no other pair, and a pair not given counts at its straight-line
    /// lower bound ([`crate::solve::partial`]); the plan is proved optimal for the full matrix,
    /// or the run fails saying how many pupils lack a proof. Pupil-level plans only.
    pub nearest: Option<u32>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            solver: SolverKind::Flow,
            max_walk: None,
            unit: Unit::Pupil,
            min_class_size: None,
            max_class_size: None,
            contiguous: false,
            whole_segments: false,
            split_street_cost: None,
            nearest: None,
        }
    }
}

impl Policy {
    /// The rules that contradict themselves, before any instance is read: a class size of 0,
    /// or a minimum class size above the maximum.
    pub fn validate(&self) -> Result<(), crate::error::Error> {
        for (what, v) in [("minimum", self.min_class_size), ("maximum", self.max_class_size)] {
            if v == Some(0) {
                return Err(crate::error::Error::policy(
                    format!("the {what} class size is 0: a class holds at least one pupil"),
                    None,
                ));
            }
        }
        if self.nearest == Some(0) {
            return Err(crate::error::Error::policy(
                "the number of nearest schools given per pupil is 0: give at least 1",
                Some(crate::error::Hint::new(
                    "give each pupil's nearest schools",
                    Some(crate::error::Setting::Nearest),
                )),
            ));
        }
        if let (Some(min), Some(max)) = (self.min_class_size, self.max_class_size) {
            if min > max {
                return Err(crate::error::Error::policy(
                    format!(
                        "the minimum class size {min} is above the maximum class size {max}: no \
                         class could be formed"
                    ),
                    None,
                ));
            }
        }
        Ok(())
    }

    /// Whether the run is a MIP (whole blocks or whole classes) rather than the pure LP.
    pub fn is_mip(&self) -> bool {
        self.unit == Unit::Block || self.min_class_size.is_some()
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Every pupil's school (index into `Instance::schools`).
    pub assign: Vec<u32>,
    /// Total walking meters.
    pub objective: u64,
    /// The certificate of optimality (school prices), for pupil-level plans without class
    /// rules; whole-block and class plans are MIPs, optimal by Cbc's branch and bound.
    pub certificate: Option<Certificate>,
    /// Classes per school.
    pub classes: Vec<u32>,
    /// For MIP plans: the pupil-level optimum, a lower bound (the gap is the price of whole
    /// blocks / whole classes).
    pub pupil_optimum: Option<u64>,
    /// School prices of the pupil-level optimum (the certificate's, for pupil-level plans): the
    /// rule that gives blocks without pupils their district. Empty for baselines.
    pub prices: Vec<i64>,
    /// A human-readable name of the solver that made the plan (e.g. `SolverKind::name`, the MIP, or `baseline: ...`).
    pub solver: String,
    /// The policy the plan was solved under.
    pub policy: Policy,
    /// Wall-clock seconds the solve took (0 for baselines).
    pub solve_seconds: f64,
    /// The district of every block of the city (block id -> school index), when the plan
    /// decides it itself (contiguous districts); otherwise districts follow the plan's pupils
    /// and prices.
    pub districts: Option<std::collections::BTreeMap<String, u32>>,
    /// Whether a solver proved the plan optimal for its policy (false for baselines, which are
    /// only evaluated).
    pub optimal: bool,
    /// For a plan whose pairs were routed on demand (OSRM with `nearest`): what was routed.
    pub routed: Option<PairsRouted>,
}

/// The pairs a plan routed on demand (OSRM with `nearest`): only those the solve asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PairsRouted {
    /// Pupil-school pairs routed.
    pub pairs: u64,
    /// Pupils x schools: the pairs a whole matrix routes.
    pub of: u64,
    /// Table requests sent (tiles).
    pub requests: u64,
    /// OSRM servers the requests were shared out among.
    pub servers: u32,
}

/// Classes a school forms for a load: as few as hold the load at its class size, at most its
/// rooms (`max_classes`) when known.
pub fn classes_for(school: &School, load: u64) -> u32 {
    let k = load.div_ceil(school.class_size.max(1) as u64) as u32;
    match school.max_classes {
        Some(m) if load > 0 => k.min(m).max(1),
        _ => k,
    }
}

/// The instance with every school's class size replaced by `size`; a school given by
/// `max_classes` rooms then seats `max_classes` x `size`.
pub fn with_class_size(inst: &Instance, size: u32) -> Instance {
    let mut inst = inst.clone();
    for s in &mut inst.schools {
        s.class_size = size;
        if let Some(k) = s.max_classes {
            s.capacity = k * size;
        }
    }
    inst
}

/// The instance a policy sees: with `max_class_size`, every school's class size (and the
/// seats of schools given by `max_classes`) replaced.
pub fn effective_instance<'a>(
    inst: &'a Instance,
    policy: &Policy,
) -> std::borrow::Cow<'a, Instance> {
    match policy.max_class_size {
        Some(size) => std::borrow::Cow::Owned(with_class_size(inst, size)),
        None => std::borrow::Cow::Borrowed(inst),
    }
}

/// The most classes a school can form: its rooms (`max_classes`), or as many classes of its
/// class size as its seats hold. The one rule the MIP and `catchment check` share.
pub fn class_limit(school: &School) -> u32 {
    school.max_classes.unwrap_or_else(|| school.capacity.div_ceil(school.class_size.max(1)))
}

/// Whether `load` pupils form whole classes of `min_size` to the school's class size, within
/// [`class_limit`] classes (no pupils: no class, allowed).
pub fn fits_whole_classes(school: &School, load: u64, min_size: u32) -> bool {
    load == 0
        || (1..=class_limit(school) as u64)
            .any(|k| min_size as u64 * k <= load && load <= school.class_size as u64 * k)
}

fn ids<T>(items: &[usize], all: &[T], id: impl Fn(&T) -> &str) -> String {
    const SHOWN: usize = 20;
    let mut v: Vec<String> =
        items.iter().take(SHOWN).map(|&i| format!("'{}'", id(&all[i]))).collect();
    if items.len() > SHOWN {
        v.push(format!("and {} more", items.len() - SHOWN));
    }
    v.join(", ")
}

/// Render diagnoses: each message names schools and counts pupils, never naming a pupil (a
/// message may be shown to anyone who may see the plan's status); the pupils at fault are
/// listed by id in [`Infeasibility::pupils`], for their owner (the CLI's operator, the
/// service's submitter). Never addresses.
pub fn describe_infeasibility(inst: &Instance, diagnoses: &[Diagnosis]) -> Vec<Infeasibility> {
    let sids = |s: &[usize]| ids(s, &inst.schools, |s| &s.id);
    let pid_list = |u: &[usize]| u.iter().map(|&i| inst.pupils[i].id.clone()).collect::<Vec<_>>();
    let sid_list = |s: &[usize]| s.iter().map(|&i| inst.schools[i].id.clone()).collect::<Vec<_>>();
    diagnoses
        .iter()
        .map(|d| {
            let (message, schools, pupils, shortfall) = match d {
                Diagnosis::NoAllowedSchool { units } => (
                    format!("{} pupil(s) have no allowed school (no route, or every school beyond the maximum walk)", units.len()),
                    vec![],
                    pid_list(units),
                    units.len() as u64,
                ),
                Diagnosis::FixedUnreachable { units } => (
                    format!("{} pupil(s) have a fixed school with no route to it", units.len()),
                    vec![],
                    pid_list(units),
                    units.len() as u64,
                ),
                Diagnosis::FixedOverCapacity { school, fixed, capacity } => (
                    format!(
                        "school '{}' has {fixed} pupils with it as fixed school but only {capacity} seats: over by {}",
                        inst.schools[*school].id,
                        fixed - capacity
                    ),
                    sid_list(&[*school]),
                    vec![],
                    fixed - capacity,
                ),
                Diagnosis::Seats { pupils, seats } => (
                    format!("{pupils} pupils but only {seats} seats in all schools: short by {}", pupils - seats),
                    vec![],
                    vec![],
                    pupils - seats,
                ),
                Diagnosis::Minimums { pupils, minimums } => (
                    format!("the schools' minimums add up to {minimums} pupils but there are only {pupils}: over by {}", minimums - pupils),
                    vec![],
                    vec![],
                    minimums - pupils,
                ),
                Diagnosis::ReachableSeats { units, schools, pupils, seats } => (
                    format!(
                        "{pupils} pupil(s) can only reach school(s) {} with {seats} free seat(s): short by {}",
                        sids(schools),
                        pupils - seats
                    ),
                    sid_list(schools),
                    pid_list(units),
                    pupils - seats,
                ),
                Diagnosis::ReachableMinimums { schools, units, needed, available } => (
                    format!(
                        "school(s) {} need {needed} more pupil(s) to reach their minimums, but only {available} pupil(s) may go there: short by {}",
                        sids(schools),
                        needed - available
                    ),
                    sid_list(schools),
                    pid_list(units),
                    needed - available,
                ),
                Diagnosis::WholeUnits => (
                    "no plan keeps every block whole and every class within its size limits, although pupils placed one by one would fit".to_string(),
                    vec![],
                    vec![],
                    0,
                ),
                Diagnosis::Contiguity => (
                    "no plan gives every school one connected district around its own block within its capacity".to_string(),
                    vec![],
                    vec![],
                    0,
                ),
            };
            Infeasibility { kind: d.kind().to_string(), message, schools, pupils, shortfall }
        })
        .collect()
}

/// Render certificate findings with ids.
pub fn describe_findings(inst: &Instance, findings: &[Finding]) -> Vec<String> {
    let pid = |u: usize| inst.pupils.get(u).map(|p| p.id.as_str()).unwrap_or("?");
    let sid = |s: usize| inst.schools.get(s).map(|s| s.id.as_str()).unwrap_or("?");
    findings
        .iter()
        .map(|f| match f {
            Finding::WrongLength { expected, got } => format!("the plan assigns {got} pupils but the instance has {expected}"),
            Finding::UnknownSchool { unit, school } => format!("pupil '{}' is assigned to an unknown school #{school}", pid(*unit)),
            Finding::NotAllowed { unit, school } => {
                format!("pupil '{}' is assigned to school '{}', a pair with no route or beyond the maximum walk", pid(*unit), sid(*school))
            }
            Finding::FixedMoved { unit, fixed, school } => {
                format!("pupil '{}' must attend school '{}' but is assigned to '{}'", pid(*unit), sid(*fixed), sid(*school))
            }
            Finding::OverCapacity { school, load, capacity } => {
                format!("school '{}' is over capacity: {load} pupils for {capacity} seats", sid(*school))
            }
            Finding::UnderMinimum { school, load, minimum } => {
                format!("school '{}' is below its minimum: {load} pupils, minimum {minimum}", sid(*school))
            }
            Finding::Improvable { moves, saving } => {
                let m: Vec<String> =
                    moves.iter().map(|&(u, a, b)| format!("pupil '{}' from '{}' to '{}'", pid(u), sid(a), sid(b))).collect();
                format!("the plan is not optimal: moving {} saves {saving} m", m.join(", then "))
            }
            Finding::PriceViolated { unit, school, better, by } => format!(
                "price check: pupil '{}' at school '{}' would be {by} m better off (walk + price) at '{}'",
                pid(*unit),
                sid(*school),
                sid(*better)
            ),
            Finding::PriceAtSlackSchool { school, price } => format!(
                "price check: school '{}' has price {price} m but is neither full (positive) nor at its minimum (negative)",
                sid(*school)
            ),
            Finding::WrongPriceCount { expected, got } => format!("the certificate has {got} prices for {expected} schools"),
            Finding::NotUnitWeights => "the certificate applies to pupil-level plans only".to_string(),
        })
        .collect()
}
