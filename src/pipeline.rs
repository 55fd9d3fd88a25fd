//! The solve step of the pipeline: [`solve_plan`] (the one place that picks a solver), and the
//! runs built from it against last year's districts ([`solve_stable`], [`stability_curve`]).

use crate::error::{Error, Hint, Infeasibility, Result, Setting};
use crate::instance::Instance;
use crate::plan::{
    class_limit, classes_for, describe_findings, describe_infeasibility, effective_instance, Plan,
    Policy, Unit,
};
use crate::routing::Matrix;
use crate::solve::{self, certificate, Problem, SolveError};
use crate::stability::{self, CurvePoint, Previous, Rule, Stability, StabilityReport};

/// Solve an instance: diagnose feasibility, solve, and certify the result — the one place
/// that picks a solver (the flow or LP for the pupil level, Cbc's MIP for whole blocks, whole
/// classes or a cap on changed blocks).
///
/// With `stability` (last year's districts): a change cost penalises the pupil-level problem
/// (the certificate's prices are on walk + change cost); a cap on changed blocks adds one
/// constraint to the whole-block MIP (the policy's unit must be `block`). The plan's objective
/// is always the walking total without penalties.
pub fn solve_plan(
    inst: &Instance,
    m: &Matrix,
    policy: &Policy,
    stability: Option<&stability::Stability>,
) -> Result<Plan> {
    policy.validate()?;
    let inst = &*effective_instance(inst, policy);
    if let Some(k) = policy.nearest {
        nearest_applies(policy, stability.is_some())?;
        return solve_nearest(inst, m, policy, k);
    }
    let before = stability.map(|st| stability::before(inst, &st.previous));
    let keep_cap = match stability.map(|st| st.rule) {
        Some(stability::Rule::MaxChangedBlocks(n)) => {
            if policy.unit != Unit::Block {
                return Err(Error::policy(
                    "a cap on changed blocks needs districts of whole blocks",
                    Some(Hint::new("solve with whole blocks", Some(Setting::UnitBlock))),
                ));
            }
            Some(n)
        }
        _ => None,
    };
    if let Some(min) = policy.min_class_size {
        let small: Vec<String> = inst
            .schools
            .iter()
            .filter(|s| s.class_size < min)
            .map(|s| format!("'{}'", s.id))
            .collect();
        if !small.is_empty() {
            return Err(Error::policy(
                format!(
                    "the minimum class size {min} is above the class size of school(s) {}: \
                     no class could be formed",
                    small.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
                ),
                Some(Hint::new(
                    "give the largest class allowed at every school",
                    Some(Setting::MaxClassSize),
                )),
            ));
        }
    }
    let walk_problem = Problem::pupil_level(inst, m, policy.max_walk)?;
    let problem = match (stability.map(|st| st.rule), &before) {
        (Some(stability::Rule::ChangeCost(c)), Some(b)) if c > 0 => {
            stability::penalise(&walk_problem, b, c)
        }
        _ => walk_problem.clone(),
    };
    let started = std::time::Instant::now();
    let to_error = |e: SolveError| match e {
        SolveError::Infeasible(d) => Error::Infeasible(describe_infeasibility(inst, &d)),
        SolveError::Solver(msg) => Error::Solver(msg),
        SolveError::Cancelled => Error::Cancelled,
        SolveError::TimeLimit { seconds } => Error::TimeLimit {
            seconds,
            message: "Cbc did not prove an optimum of whole blocks or whole classes in time".into(),
            hint: Some(Hint::new("try wider class-size bounds or the pupil level", None)),
        },
    };
    let pure = solve::solve(&problem, policy.solver).map_err(to_error)?;
    let solved = started.elapsed();
    tracing::info!(seconds = format!("{:.3}", solved.as_secs_f64()), "pupil level solved");
    let certificate = certificate::certify(&problem, &pure.assign).map_err(|f| {
        Error::Solver(format!(
            "the solver's plan failed the independent certificate check: {}",
            describe_findings(inst, &f).join("; ")
        ))
    })?;
    tracing::info!(
        seconds = format!("{:.3}", (started.elapsed() - solved).as_secs_f64()),
        "certificate checked"
    );
    // With stability, the bound for MIP plans is the walk-only pupil-level optimum.
    let pupil_bound = if stability.is_some() && policy.is_mip() {
        solve::solve(&walk_problem, policy.solver).map_err(to_error)?.objective
    } else {
        certificate.objective
    };
    let prices = certificate.prices.clone();
    let (assign, certificate, modelled_classes, pupil_optimum, solver) = if policy.is_mip() {
        let (units, pupil_unit) = match policy.unit {
            Unit::Block => Problem::block_level(inst, &problem)?,
            Unit::Pupil => (problem.clone(), (0..inst.pupils.len()).collect()),
        };
        let rule = policy.min_class_size.map(|min_size| solve::lp::ClassRule {
            size: inst.schools.iter().map(|s| s.class_size).collect(),
            max: inst.schools.iter().map(class_limit).collect(),
            min_size,
        });
        let diagnosis = solve::feasibility::diagnose(&units);
        if !diagnosis.is_empty() {
            return Err(to_error(SolveError::Infeasible(diagnosis)));
        }
        crate::cancel::check()?;
        let keep = match (keep_cap, &before) {
            (Some(max_changed), Some(b)) => {
                let ub = stability::unit_before(b, &pupil_unit, units.n_units());
                let forced = ub.iter().filter(|x| **x == stability::Before::Gone).count() as u32;
                let previous = ub
                    .iter()
                    .map(|x| if let stability::Before::At(s) = x { Some(*s) } else { None })
                    .collect();
                Some(solve::lp::KeepRule { previous, forced, max_changed })
            }
            _ => None,
        };
        let (sol, k) = solve::lp::solve_mip(&units, rule.as_ref(), keep.as_ref()).map_err(|e| match (&keep, e) {
            (Some(k), SolveError::Infeasible(_)) => Error::Infeasible(vec![Infeasibility {
                kind: "max_changed_blocks".into(),
                message: format!(
                    "no plan of whole blocks changes at most {} block(s) against last year's districts{}; allow more changes",
                    k.max_changed,
                    if k.forced > 0 { format!(" ({} block(s) must change: their school is not in this instance)", k.forced) } else { String::new() }
                ),
                schools: vec![],
                pupils: vec![],
                shortfall: 0,
            }]),
            (Some(k), SolveError::TimeLimit { seconds }) => Error::TimeLimit {
                seconds,
                message: format!(
                    "Cbc did not prove an optimum with at most {} changed block(s) in time",
                    k.max_changed
                ),
                hint: Some(Hint::new(
                    "allow more changes, or keep last year's districts by a change cost, \
                     which stays fast and certified",
                    Some(Setting::ChangeCost),
                )),
            },
            (_, e) => to_error(e),
        })?;
        let assign: Vec<u32> = pupil_unit.iter().map(|&u| sol.assign[u]).collect();
        let name = if keep.is_some() {
            "mip (good_lp + Cbc branch and bound; cap on changed blocks)"
        } else {
            "mip (good_lp + Cbc branch and bound)"
        };
        (assign, None, k, Some(pupil_bound), name.to_string())
    } else {
        (pure.assign, Some(certificate), None, None, policy.solver.name().to_string())
    };
    let solve_seconds = started.elapsed().as_secs_f64();
    let objective = walk_problem
        .objective(&assign)
        .ok_or_else(|| Error::internal("the plan uses a pair that is not allowed"))?;
    let loads = walk_problem.loads(&assign);
    let classes = modelled_classes.unwrap_or_else(|| {
        inst.schools.iter().zip(&loads).map(|(s, &l)| classes_for(s, l)).collect()
    });
    tracing::info!(solver = %solver, objective, seconds = solve_seconds, "solved");
    Ok(Plan {
        assign,
        objective,
        certificate,
        classes,
        pupil_optimum,
        prices,
        solver,
        policy: policy.clone(),
        solve_seconds,
        districts: None,
        optimal: true,
        routed: None,
    })
}

/// Whether a matrix of each pupil's nearest schools (`policy.nearest`) applies: pupil-level
/// plans only (its proof is the pupil level's prices).
pub fn nearest_applies(policy: &Policy, stability: bool) -> Result<()> {
    if policy.nearest.is_none() {
        return Ok(());
    }
    let what = if policy.contiguous {
        "contiguous districts"
    } else if policy.whole_segments {
        "whole street segments"
    } else if policy.unit == Unit::Block {
        "districts of whole blocks"
    } else if policy.min_class_size.is_some() {
        "a minimum class size"
    } else if stability {
        "stability against last year's districts"
    } else {
        return Ok(());
    };
    Err(Error::policy(
        format!(
            "a matrix of each pupil's nearest schools is solved for pupil-level plans only, \
             not with {what}"
        ),
        Some(Hint::new(
            "give every pupil-school pair and leave out the number of nearest schools",
            Some(Setting::Nearest),
        )),
    ))
}

/// The error of a partial matrix whose given pairs admit no plan: `k` nearest schools per
/// pupil are too few to prove the instance feasible.
pub fn too_few_to_be_feasible(
    inst: &Instance,
    diagnoses: &[crate::solve::feasibility::Diagnosis],
    k: u32,
) -> Error {
    let why: Vec<String> =
        describe_infeasibility(inst, diagnoses).into_iter().map(|i| i.message).collect();
    let more = k.saturating_mul(2).min(inst.schools.len() as u32).max(k + 1);
    Error::policy(
        format!(
            "the pairs the matrix gives (each pupil's {k} nearest schools) admit no plan within \
             the rules, so no plan can be proved: {}; give each pupil's {more} nearest schools \
             (or every pair, to see whether the instance itself is infeasible)",
            why.join("; ")
        ),
        Some(Hint::new(
            format!("give more of each pupil's nearest schools, e.g. {more}"),
            Some(Setting::Nearest),
        )),
    )
}

/// The pupil-level plan over a partial matrix (`policy.nearest`): solved over the pairs given
/// and proved for every pair by the straight-line bound of the others
/// ([`solve::partial`]), or the policy error saying how many pupils lack the proof. The
/// matrix may hold only the pairs given ([`Matrix::partial`]): nothing here is pupils x
/// schools.
fn solve_nearest(inst: &Instance, m: &Matrix, policy: &Policy, k: u32) -> Result<Plan> {
    let places = nearest_places(inst)?;
    let pairs = nearest_pairs(inst, m, policy, &places)?;
    let started = std::time::Instant::now();
    let d = pairs.problem().diagnose();
    tracing::debug!(
        seconds = format!("{:.3}", started.elapsed().as_secs_f64()),
        "feasibility over the pairs given"
    );
    if !d.is_empty() {
        return Err(if m.is_partial() {
            too_few_to_be_feasible(inst, &d, k)
        } else {
            Error::Infeasible(describe_infeasibility(inst, &d))
        });
    }
    crate::cancel::check()?;
    let started = std::time::Instant::now();
    let out = pairs.problem().solve(k as usize).map_err(|e| match e {
        SolveError::Infeasible(d) => Error::Infeasible(describe_infeasibility(inst, &d)),
        SolveError::Cancelled => Error::Cancelled,
        SolveError::Solver(msg) => Error::Solver(msg),
        SolveError::TimeLimit { seconds } => Error::Solver(format!("time limit {seconds} s")),
    })?;
    let (solution, prices, stats, asked_not_given, (solve_s, proof_s)) = match out {
        solve::partial::Partial::Proved { solution, prices, stats, asked_not_given, seconds } => {
            (solution, prices, stats, asked_not_given, seconds)
        }
        solve::partial::Partial::Unproved { pupils, needed_k, objective, lower_bound } => {
            let more = (needed_k as u32).max(k + 1);
            let gap = objective.saturating_sub(lower_bound);
            return Err(Error::policy(
                format!(
                    "the matrix of each pupil's {k} nearest schools does not prove the plan \
                     optimal, and no prices can: the best plan over the pairs given walks \
                     {objective} m, but with every pair not given at its straight-line bound \
                     the least walk is {lower_bound} m ({gap} m, {:.3}% less), sending {pupils} \
                     of {} pupils along pairs not given; give each pupil's {more} nearest \
                     schools (the farthest of those pairs is a pupil's {needed_k}th nearest \
                     school by straight line)",
                    gap as f64 * 100.0 / objective.max(1) as f64,
                    inst.pupils.len()
                ),
                Some(Hint::new(
                    format!("give more of each pupil's nearest schools, at least {more}"),
                    Some(Setting::Nearest),
                )),
            ));
        }
    };
    let solve_seconds = started.elapsed().as_secs_f64();
    let assign = solution.assign;
    let objective = pairs
        .problem()
        .objective(&assign)
        .ok_or_else(|| Error::internal("the plan uses a pair that is not allowed"))?;
    let mut loads = vec![0u64; inst.schools.len()];
    for &s in &assign {
        loads[s as usize] += 1;
    }
    let classes = inst.schools.iter().zip(&loads).map(|(s, &l)| classes_for(s, l)).collect();
    tracing::info!(
        seconds = format!("{solve_s:.3}"),
        k = stats.pricing.k,
        rounds = stats.pricing.rounds,
        pairs_given = m.n_given(),
        pairs_asked = stats.asked,
        asked_not_given,
        objective,
        "solved over the given pairs"
    );
    tracing::info!(
        seconds = format!("{proof_s:.3}"),
        pairs = (inst.pupils.len() as u64) * (inst.schools.len() as u64),
        "certificate checked: no pair, given or bounded by the straight line, beats the prices"
    );
    Ok(Plan {
        assign,
        objective,
        certificate: Some(certificate::Certificate { objective, prices: prices.clone() }),
        classes,
        pupil_optimum: None,
        prices,
        solver: format!(
            "flow over a partial matrix (each pupil's {k} nearest schools; the straight line \
             bounds the pairs not given)"
        ),
        policy: policy.clone(),
        solve_seconds,
        districts: None,
        optimal: true,
        routed: None,
    })
}

/// Where every pupil and school lies (lat, lon): the straight-line bound of the pairs a
/// partial matrix leaves out needs them.
pub type Places = (Vec<(f64, f64)>, Vec<(f64, f64)>);

/// The places of a partial matrix's bound, or the policy error naming the pupils without
/// coordinates (by count).
pub fn nearest_places(inst: &Instance) -> Result<Places> {
    let units: Option<Vec<(f64, f64)>> = inst.pupils.iter().map(|p| p.location).collect();
    let Some(units) = units else {
        let n = inst.pupils.iter().filter(|p| p.location.is_none()).count();
        return Err(Error::policy(
            format!(
                "{n} pupils have no coordinates: a matrix of each pupil's nearest schools needs \
                 them for the straight-line bound of the pairs it leaves out"
            ),
            Some(Hint::new(
                "give every pupil-school pair and leave out the number of nearest schools",
                Some(Setting::Nearest),
            )),
        ));
    };
    Ok((units, inst.schools.iter().map(|s| (s.lat, s.lon)).collect()))
}

/// The seats and fixed schools of an instance, beside a matrix that may give only some pairs:
/// what [`NearestPairs::problem`] lends to [`solve::partial::Pairs`].
pub struct NearestPairs<'a> {
    m: &'a Matrix,
    places: &'a Places,
    cap: Vec<u32>,
    min: Vec<u32>,
    fixed: Vec<Option<u32>>,
    max_walk: Option<u32>,
}

impl NearestPairs<'_> {
    /// The pupil-level problem over the pairs given.
    pub fn problem(&self) -> solve::partial::Pairs<'_> {
        solve::partial::Pairs {
            matrix: self.m,
            cap: &self.cap,
            min: &self.min,
            fixed: &self.fixed,
            units: &self.places.0,
            schools: &self.places.1,
            max_walk: self.max_walk,
        }
    }
}

/// The pupil-level problem of `inst` (as the policy sees it) over the pairs `m` gives.
pub fn nearest_pairs<'a>(
    inst: &Instance,
    m: &'a Matrix,
    policy: &Policy,
    places: &'a Places,
) -> Result<NearestPairs<'a>> {
    if m.n_pupils != inst.pupils.len() || m.n_schools != inst.schools.len() {
        return Err(Error::internal("the matrix does not fit the instance"));
    }
    Ok(NearestPairs {
        m,
        places,
        cap: inst.schools.iter().map(|s| s.capacity).collect(),
        min: inst.schools.iter().map(|s| s.min_pupils).collect(),
        fixed: inst
            .pupils
            .iter()
            .map(|p| p.fixed_school.as_deref().and_then(|f| inst.school_index(f)).map(|s| s as u32))
            .collect(),
        max_walk: policy.max_walk,
    })
}

/// Solve with stability, and the unconstrained plan of the same policy to compare with.
/// Returns the stable plan, its report and the unconstrained plan.
pub fn solve_stable(
    inst: &Instance,
    m: &Matrix,
    policy: &Policy,
    stability: &Stability,
) -> Result<(Plan, StabilityReport, Plan)> {
    let free = solve_plan(inst, m, policy, None)?;
    let plan = solve_plan(inst, m, policy, Some(stability))?;
    let r = stability::report(inst, stability, &plan, &free);
    Ok((plan, r, free))
}

/// Sweep the change cost: one stable plan per penalty (in parallel), compared with the
/// unconstrained plan of the same policy.
pub fn stability_curve(
    inst: &Instance,
    m: &Matrix,
    policy: &Policy,
    previous: &Previous,
    penalties: &[u32],
) -> Result<Vec<CurvePoint>> {
    use rayon::prelude::*;
    let free = solve_plan(inst, m, policy, None)?;
    let b = stability::before(inst, previous);
    let cancel = crate::cancel::current();
    penalties
        .par_iter()
        .map(|&c| {
            let st = Stability { previous: previous.clone(), rule: Rule::ChangeCost(c) };
            let plan = crate::cancel::within(cancel.as_ref(), || {
                crate::cancel::check()?;
                solve_plan(inst, m, policy, Some(&st))
            })?;
            let (_, cb, cp) = stability::changes(inst, &b, &plan.assign);
            Ok(CurvePoint {
                penalty_m: c,
                total_walk_m: plan.objective,
                changed_blocks: cb,
                changed_pupils: cp,
                price_m: plan.objective as i64 - free.objective as i64,
            })
        })
        .collect()
}

/// The pupil-level problem's pairs routed by OSRM when the sparse solve asks for them
/// ([`solve::sparse::PairSource`]): the lower bound of a pair is the straight line
/// ([`solve::partial::straight_line_bound`]), a maximum walk applied as over a partial matrix.
#[cfg(feature = "osm")]
struct RoutedPairs<'a> {
    router: &'a crate::routing::pairs::PairRouter<'a>,
    line: solve::partial::StraightLine,
    /// Number of schools.
    n_schools: usize,
    fixed: &'a [Option<u32>],
    max_walk: Option<u32>,
    /// The routing error that stopped the solve.
    error: std::sync::Mutex<Option<crate::routing::osrm::RouteError>>,
}

#[cfg(feature = "osm")]
impl RoutedPairs<'_> {
    /// `c` for pair (`u`, `s`), or UNREACHABLE beyond the maximum walk (a fixed school is
    /// always allowed).
    fn limited(&self, u: usize, s: usize, c: u32) -> u32 {
        match self.max_walk {
            Some(w)
                if c != crate::routing::UNREACHABLE && c > w && self.fixed[u] != Some(s as u32) =>
            {
                crate::routing::UNREACHABLE
            }
            _ => c,
        }
    }
}

#[cfg(feature = "osm")]
impl solve::sparse::PairSource for RoutedPairs<'_> {
    fn n_units(&self) -> usize {
        self.fixed.len()
    }
    fn n_schools(&self) -> usize {
        self.n_schools
    }
    fn lower(&self, u: usize, s: usize) -> u32 {
        self.limited(u, s, self.line.bound(u, s))
    }
    fn costs(&self, pairs: &[(u32, u32)]) -> std::result::Result<Vec<u32>, SolveError> {
        crate::cancel::check().map_err(|_| SolveError::Cancelled)?;
        match self.router.route(pairs) {
            Ok(m) => Ok(pairs
                .iter()
                .zip(m)
                .map(|(&(u, s), c)| self.limited(u as usize, s as usize, c))
                .collect()),
            Err(e) => {
                *self.error.lock().expect("lock") = Some(e);
                Err(SolveError::Solver("routing failed".into()))
            }
        }
    }
    fn near(&self, u: usize, radius: i64, out: &mut Vec<u32>) {
        self.line.near(u, radius, out);
    }
}

/// `solve --osrm --nearest K`: the pupil-level plan with only the pairs it needs routed. Each
/// pupil's `k` nearest schools by straight line are routed first, then the pairs pricing
/// cannot rule out by their straight-line bound, until the school prices prove the plan
/// optimal for every pair ([`solve::sparse`]); the proof is then checked again from the pairs
/// routed and the bounds alone ([`solve::partial::Pairs::verify`], what `catchment check`
/// runs). Returns the partial matrix of every pair routed (the plan's walks) and the plan.
/// `inst` must be located (geocoded).
#[cfg(feature = "osm")]
pub fn route_nearest(
    inst: &Instance,
    osrm: &crate::routing::OsrmSource,
    policy: &Policy,
    k: u32,
) -> Result<(Matrix, Plan)> {
    use crate::routing::{located_rows, pairs::PairRouter};
    policy.validate()?;
    nearest_applies(policy, false)?;
    let rows = located_rows(inst)?;
    let eff = &*effective_instance(inst, policy);
    let places = nearest_places(eff)?;
    let cap: Vec<u32> = eff.schools.iter().map(|s| s.capacity).collect();
    let min: Vec<u32> = eff.schools.iter().map(|s| s.min_pupils).collect();
    let fixed: Vec<Option<u32>> = eff
        .pupils
        .iter()
        .map(|p| p.fixed_school.as_deref().and_then(|f| eff.school_index(f)).map(|s| s as u32))
        .collect();
    let clients = osrm.clients()?;
    let services: Vec<&dyn crate::routing::osrm::TableService> =
        clients.iter().map(|c| c as &dyn crate::routing::osrm::TableService).collect();
    let router = PairRouter::new(&services, &rows, &inst.schools, &osrm.route);
    let src = RoutedPairs {
        router: &router,
        line: solve::partial::StraightLine::new(&places.0, &places.1),
        n_schools: places.1.len(),
        fixed: &fixed,
        max_walk: policy.max_walk,
        error: std::sync::Mutex::new(None),
    };
    let (n, m) = (inst.pupils.len() as u64, inst.schools.len() as u64);
    let started = std::time::Instant::now();
    let solved = solve::sparse::solve(&src, &cap, &min, &fixed, k as usize);
    if let Some(e) = src.error.lock().expect("lock").take() {
        return Err(e.into());
    }
    let sol = solved.map_err(|e| match e {
        SolveError::Infeasible(d) => Error::Infeasible(describe_infeasibility(eff, &d)),
        SolveError::Cancelled => Error::Cancelled,
        SolveError::Solver(msg) => Error::Solver(msg),
        SolveError::TimeLimit { seconds } => Error::Solver(format!("time limit {seconds} s")),
    })?;
    let solve_seconds = started.elapsed().as_secs_f64();
    let servers = osrm.urls.join(", ");
    let routed = crate::plan::PairsRouted {
        pairs: router.pairs() as u64,
        of: n * m,
        requests: router.requests() as u64,
        servers: osrm.urls.len() as u32,
    };
    let report = router.report();
    if !report.is_empty() {
        tracing::warn!(
            far_snapped = report.far_snapped.len(),
            unreachable_pairs = report.unreachable.len(),
            "pairs left out of the model (unreachable pairs allowed)"
        );
    }
    let matrix = router.matrix(format!(
        "OSRM {} at {servers} (walking along streets, snap gaps added; only the pairs the \
         solve needed: {} of {} routed)",
        osrm.profile, routed.pairs, routed.of
    ));
    tracing::info!(
        pairs_routed = routed.pairs,
        of = routed.of,
        requests = routed.requests,
        servers = routed.servers,
        k = sol.stats.pricing.k,
        rounds = sol.stats.pricing.rounds,
        seconds = format!("{solve_seconds:.3}"),
        "routed only the pairs the solve needed"
    );
    // The proof again, from the pairs routed and the straight line alone.
    let pairs = solve::partial::Pairs {
        matrix: &matrix,
        cap: &cap,
        min: &min,
        fixed: &fixed,
        units: &places.0,
        schools: &places.1,
        max_walk: policy.max_walk,
    };
    let assign = sol.solution.assign;
    let findings =
        pairs.verify(&assign, &sol.prices).map_err(|e| Error::internal(format!("{e:?}")))?;
    if let Some(f) = findings.first() {
        return Err(Error::Solver(format!(
            "the plan over the pairs routed failed its certificate check ({} findings, first: {f:?})",
            findings.len()
        )));
    }
    let objective = pairs
        .objective(&assign)
        .ok_or_else(|| Error::internal("the plan uses a pair that is not allowed"))?;
    tracing::info!(
        pairs = n * m,
        "certificate checked: no pair, routed or bounded by the straight line, beats the prices"
    );
    let mut loads = vec![0u64; eff.schools.len()];
    for &s in &assign {
        loads[s as usize] += 1;
    }
    let classes = eff.schools.iter().zip(&loads).map(|(s, &l)| classes_for(s, l)).collect();
    let prices = sol.prices;
    let plan = Plan {
        assign,
        objective,
        certificate: Some(certificate::Certificate { objective, prices: prices.clone() }),
        classes,
        pupil_optimum: None,
        prices,
        solver: format!(
            "flow over the pairs routed on demand by OSRM (each pupil's {k} nearest schools by \
             straight line first, then the pairs the prices asked for; the straight line bounds \
             the others)"
        ),
        policy: policy.clone(),
        solve_seconds,
        districts: None,
        optimal: true,
        routed: Some(routed),
    };
    Ok((matrix, plan))
}
