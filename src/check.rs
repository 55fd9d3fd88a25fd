//! `catchment check`: verify a plan from its files alone — feasibility, the objective,
//! optimality under the plan's policy, and every figure the plan publishes (`summary.json`,
//! `schools.csv`, the figures of `assignments.csv`, `certificate.json`) recomputed from the
//! inputs — independent of whichever solver made it.

use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::output::read_plan;
use crate::routing::Matrix;
use crate::solve::certificate::{certify, check_feasible, verify_prices};
use crate::solve::Problem;
use crate::{describe_findings, report::Summary, Unit};
use std::path::Path;

/// The outcome of [`check_plan`]: which checks passed, and a message per failure.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckReport {
    /// Every pupil has a school, and capacities, minimums and fixed schools hold.
    pub feasible: bool,
    /// The objective recomputed from the matrix equals the one in certificate.json.
    pub objective_ok: bool,
    /// The independent certificate check found the plan optimal (pupil-level plans only).
    pub optimal: bool,
    /// The prices in certificate.json prove optimality on their own.
    pub prices_ok: bool,
    /// Total walk of the plan recomputed from the matrix, in meters (`None` if a pair is not
    /// allowed or a pupil has no school).
    pub objective_m: Option<u64>,
    /// A whole-block or class plan (a MIP): optimality is not certified, only feasibility,
    /// whole blocks, whole classes and the objective are checked.
    pub mip: bool,
    /// The rows of `assignments.csv` name every pupil once and only known pupils and schools
    /// (when not, nothing else is judged).
    pub rows_ok: bool,
    /// Every published figure equals the one recomputed from the inputs and the assignment.
    pub figures_ok: bool,
    /// The policy optimality was judged under, in words (e.g. `max_walk 7000 m, pupils`).
    pub policy: String,
    /// One human-readable message per problem found, with school ids (pupils by line).
    pub failures: Vec<String>,
}

impl CheckReport {
    /// Whether the plan passed every check that applies to it (optimality not for MIP plans).
    pub fn ok(&self) -> bool {
        self.rows_ok
            && self.figures_ok
            && self.feasible
            && self.objective_ok
            && (self.mip || (self.optimal && self.prices_ok))
            && self.failures.is_empty()
    }
}

/// Check the plan in `dir` against the instance and matrix. The maximum walk the plan was
/// solved with is read from its summary.json (or given).
pub fn check_plan(
    inst: &Instance,
    m: &Matrix,
    dir: &Path,
    max_walk: Option<u32>,
) -> Result<CheckReport> {
    // A plan solved with blocks excluded left their pupils out (those without a fixed
    // school): so does the check, when the pupils file still holds them.
    let (kept_inst, kept_m);
    let (inst, m) = match read_excluded(dir, inst)? {
        Some(keep) if keep.len() < inst.pupils.len() => {
            kept_m = m.select_rows(&keep);
            kept_inst = Instance::new(
                inst.schools.clone(),
                keep.iter().map(|&p| inst.pupils[p].clone()).collect(),
            )?;
            (&kept_inst, &kept_m)
        }
        _ => (inst, m),
    };
    // A plan solved with pins is judged given the pins: their pupils are fixed.
    let pinned;
    let inst = match read_pins(dir, inst)? {
        Some(i) => {
            pinned = i;
            &pinned
        }
        None => inst,
    };
    let original = inst;
    let files = read_plan(dir, inst)?;
    // The policy the plan was solved under: without it optimality cannot be judged.
    let summary = read_summary(dir)?;
    let solver = Some(summary.solver.clone());
    let max_walk = max_walk.or_else(|| solver.as_ref()?.max_walk_m);
    let unit = solver.as_ref().map(|s| s.unit).unwrap_or_default();
    let min_class_size = solver.as_ref().and_then(|s| s.min_class_size);
    let adjusted;
    let inst = match solver.as_ref().and_then(|s| s.max_class_size) {
        Some(size) => {
            adjusted = crate::with_class_size(inst, size);
            &adjusted
        }
        None => inst,
    };
    let mip = unit == Unit::Block || min_class_size.is_some();
    if m.is_partial() {
        if mip || summary.stability.is_some() {
            return Err(crate::solve::partial_matrix_refused(
                "checking a plan of whole blocks, classes or stability",
            ));
        }
        return check_partial(original, inst, m, dir, &summary, &files, max_walk);
    }
    let walk_problem = Problem::pupil_level(inst, m, max_walk)?;
    // A plan kept close to last year's districts: optimal on walk + change cost.
    let stability = summary.stability.clone();
    let previous = match &stability {
        Some(_) => Some(crate::stability::read_previous(&dir.join(crate::output::PREVIOUS_FILE))?),
        None => None,
    };
    let problem = match (&stability, &previous) {
        (Some(st), Some(prev)) => match st.change_cost_m {
            Some(c) => {
                crate::stability::penalise(&walk_problem, &crate::stability::before(inst, prev), c)
            }
            None => walk_problem.clone(),
        },
        _ => walk_problem.clone(),
    };
    let mut failures = files.problems.clone();
    let mut report = CheckReport {
        feasible: false,
        objective_ok: false,
        optimal: false,
        prices_ok: false,
        objective_m: None,
        mip,
        rows_ok: files.problems.is_empty(),
        figures_ok: false,
        policy: describe_policy(&summary, max_walk),
        failures: vec![],
    };
    if !report.rows_ok {
        report.failures = failures;
        return Ok(report);
    }
    let assign: Vec<u32> = files.assign.iter().map(|a| a.unwrap()).collect();
    let findings = check_feasible(&problem, &assign);
    report.feasible = findings.is_empty();
    failures.extend(describe_findings(inst, &findings));
    report.objective_m = walk_problem.objective(&assign);
    if let (Some(st), Some(prev)) = (&stability, &previous) {
        if let Some(cap) = st.max_changed_blocks {
            let (_, changed, _) =
                crate::stability::changes(inst, &crate::stability::before(inst, prev), &assign);
            if changed > cap as usize {
                failures.push(format!("{changed} blocks change school against last year's districts, more than the cap of {cap}"));
            }
        }
    }
    match (&files.certificate, report.objective_m) {
        (Some(c), Some(obj)) if c.objective_m == obj => report.objective_ok = true,
        (Some(c), Some(obj)) => failures.push(format!(
            "certificate.json states an objective of {} m but the assignments add up to {obj} m",
            c.objective_m
        )),
        (None, _) => failures.push("certificate.json is missing".into()),
        (Some(_), None) => {}
    }
    if mip {
        let before = failures.len();
        if unit == Unit::Block {
            let mut school_of: std::collections::HashMap<&str, (u32, &str)> =
                std::collections::HashMap::new();
            for (p, pupil) in inst.pupils.iter().enumerate() {
                if pupil.fixed_school.is_some() {
                    continue;
                }
                let Some(b) = pupil.block.as_deref() else { continue };
                match school_of.get(b) {
                    Some(&(s, other)) if s != assign[p] => failures.push(format!(
                        "block '{b}' is split: pupil '{}' goes to '{}', pupil '{other}' to '{}'",
                        pupil.id, inst.schools[assign[p] as usize].id, inst.schools[s as usize].id
                    )),
                    Some(_) => {}
                    None => {
                        school_of.insert(b, (assign[p], &pupil.id));
                    }
                }
            }
        }
        if let Some(min) = min_class_size {
            let load = problem.loads(&assign);
            for (s, school) in inst.schools.iter().enumerate() {
                let l = load[s];
                if !crate::plan::fits_whole_classes(school, l, min) {
                    failures.push(format!(
                        "school '{}' has {l} pupils: no number of classes of {min} to {} pupils fits",
                        school.id, school.class_size
                    ));
                }
            }
        }
        report.feasible = report.feasible && failures.len() == before;
    } else if report.feasible {
        match certify(&problem, &assign) {
            Ok(_) => report.optimal = true,
            Err(f) => failures.extend(describe_findings(inst, &f)),
        }
        if let Some(c) = &files.certificate {
            let mut prices = vec![0i64; inst.schools.len()];
            let mut missing = Vec::new();
            for (s, school) in inst.schools.iter().enumerate() {
                match c.prices.iter().find(|p| p.school_id == school.id) {
                    Some(p) => prices[s] = p.price_m,
                    None => missing.push(school.id.clone()),
                }
            }
            if !missing.is_empty() {
                failures.push(format!(
                    "certificate.json has no price for school(s) {}",
                    missing.join(", ")
                ));
            } else {
                let f = verify_prices(&problem, &assign, &prices);
                report.prices_ok = f.is_empty();
                failures.extend(describe_findings(inst, &f));
            }
        }
    }
    // Every published figure, recomputed.
    let prices: Option<Vec<i64>> = match (&files.certificate, report.prices_ok) {
        (Some(c), true) => Some(
            inst.schools
                .iter()
                .map(|s| c.prices.iter().find(|p| p.school_id == s.id).map_or(0, |p| p.price_m))
                .collect(),
        ),
        _ => None,
    };
    let mismatches =
        published_figures(original, inst, m, dir, &summary, &files, &assign, &report, prices)?;
    report.figures_ok = mismatches.is_empty();
    failures.extend(mismatches);
    report.failures = failures;
    Ok(report)
}

/// The `summary.json` of the plan in `dir`: the policy it was solved under (and whether over a
/// partial matrix, [`crate::report::SolverInfo::nearest`], which the matrix is then read as).
pub fn read_summary(dir: &Path) -> Result<Summary> {
    let summary_path = dir.join("summary.json");
    let text = std::fs::read_to_string(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::input(
            "summary.json",
            Some(e.line() as u64),
            None,
            format!("cannot be read ({e}): the plan's policy is unknown"),
        )
    })
}

/// [`check_plan`] of a pupil-level plan against a matrix that gives only some pairs (each
/// pupil's nearest schools): feasibility and the objective over the pairs given, optimality by
/// the certificate's prices against every pair — a pair given at its walk, a pair not given at
/// its straight-line bound ([`crate::solve::partial::Pairs::verify`]) —, and every published
/// figure. Nothing here is pupils x schools in memory.
fn check_partial(
    original: &Instance,
    inst: &Instance,
    m: &Matrix,
    dir: &Path,
    summary: &Summary,
    files: &crate::output::PlanFiles,
    max_walk: Option<u32>,
) -> Result<CheckReport> {
    use crate::solve::certificate::Finding;
    use crate::solve::sparse::SparseFinding;
    let mut failures = files.problems.clone();
    let mut report = CheckReport {
        feasible: false,
        objective_ok: false,
        optimal: false,
        prices_ok: false,
        objective_m: None,
        mip: false,
        rows_ok: files.problems.is_empty(),
        figures_ok: false,
        policy: describe_policy(summary, max_walk),
        failures: vec![],
    };
    if !report.rows_ok {
        report.failures = failures;
        return Ok(report);
    }
    let assign: Vec<u32> = files.assign.iter().map(|a| a.unwrap()).collect();
    let places = crate::pipeline::nearest_places(inst)?;
    let policy = crate::Policy { max_walk, ..Default::default() };
    let pairs = crate::pipeline::nearest_pairs(inst, m, &policy, &places)?;
    let problem = pairs.problem();
    report.objective_m = problem.objective(&assign);
    match (&files.certificate, report.objective_m) {
        (Some(c), Some(obj)) if c.objective_m == obj => report.objective_ok = true,
        (Some(c), Some(obj)) => failures.push(format!(
            "certificate.json states an objective of {} m but the assignments add up to {obj} m",
            c.objective_m
        )),
        (None, _) => failures.push("certificate.json is missing".into()),
        (Some(_), None) => {}
    }
    // The proof's prices: every school needs one (0 for none given, to judge feasibility).
    let mut prices = vec![0i64; inst.schools.len()];
    let mut missing = Vec::new();
    if let Some(c) = &files.certificate {
        for (s, school) in inst.schools.iter().enumerate() {
            match c.prices.iter().find(|p| p.school_id == school.id) {
                Some(p) => prices[s] = p.price_m,
                None => missing.push(school.id.clone()),
            }
        }
    }
    if !missing.is_empty() {
        failures
            .push(format!("certificate.json has no price for school(s) {}", missing.join(", ")));
    }
    let findings =
        problem.verify(&assign, &prices).map_err(|e| Error::internal(format!("{e:?}")))?;
    let as_finding = |f: &SparseFinding| match *f {
        SparseFinding::PairNotAllowed { unit, school } => match inst.pupils[unit].fixed_school {
            Some(_) if problem.fixed[unit] != Some(school as u32) => Finding::FixedMoved {
                unit,
                fixed: problem.fixed[unit].unwrap_or_default() as usize,
                school,
            },
            _ => Finding::NotAllowed { unit, school },
        },
        SparseFinding::Load { school, load } if load > problem.cap[school] as u64 => {
            Finding::OverCapacity { school, load, capacity: problem.cap[school] as u64 }
        }
        SparseFinding::Load { school, load } => {
            Finding::UnderMinimum { school, load, minimum: problem.min[school] as u64 }
        }
        SparseFinding::PriceViolated { unit, school, better, by } => {
            Finding::PriceViolated { unit, school, better, by }
        }
        SparseFinding::PriceAtSlackSchool { school, price } => {
            Finding::PriceAtSlackSchool { school, price }
        }
    };
    let infeasible = |f: &&SparseFinding| {
        matches!(f, SparseFinding::PairNotAllowed { .. } | SparseFinding::Load { .. })
    };
    report.feasible = !findings.iter().any(|f| infeasible(&f)) && report.objective_m.is_some();
    let proof: Vec<Finding> = findings.iter().map(as_finding).collect();
    // Shown: the first few, then how many more (a state has many pupils).
    let rendered = describe_findings(inst, &proof);
    failures.extend(rendered.iter().take(10).cloned());
    if rendered.len() > 10 {
        failures.push(format!("{} more findings of the same check", rendered.len() - 10));
    }
    report.prices_ok = findings.is_empty() && missing.is_empty() && files.certificate.is_some();
    // The prices are the proof: no pair given or bounded beats them.
    report.optimal = report.prices_ok;
    let prices = report.prices_ok.then_some(prices);
    let mismatches =
        published_figures(original, inst, m, dir, summary, files, &assign, &report, prices)?;
    report.figures_ok = mismatches.is_empty();
    failures.extend(mismatches);
    report.failures = failures;
    Ok(report)
}

/// The instance with the plan's pins applied, when its directory keeps `pins.csv`.
/// The pupils a plan with excluded blocks kept (indices into `inst`): all but those in the
/// blocks of its `excluded-blocks.csv` without a fixed school. `None`: no blocks excluded.
fn read_excluded(dir: &Path, inst: &Instance) -> Result<Option<Vec<usize>>> {
    use crate::report::routing_check::EXCLUDED_BLOCKS_FILE;
    let path = dir.join(EXCLUDED_BLOCKS_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let mut r = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    let mut ids = std::collections::HashSet::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| {
            Error::input(EXCLUDED_BLOCKS_FILE, Some(i as u64 + 2), None, e.to_string())
        })?;
        if let Some(b) = rec.get(0).filter(|b| !b.is_empty()) {
            ids.insert(b.to_string());
        }
    }
    Ok(Some(
        (0..inst.pupils.len())
            .filter(|&p| {
                let pupil = &inst.pupils[p];
                pupil.fixed_school.is_some()
                    || !pupil.block.as_deref().is_some_and(|b| ids.contains(b))
            })
            .collect(),
    ))
}

fn read_pins(dir: &Path, inst: &Instance) -> Result<Option<Instance>> {
    use crate::districts::pins;
    let path = dir.join(pins::PINS_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    // Blocks were checked when the plan was solved (some may have no pupils this year).
    let list = pins::pins_from_csv(pins::PINS_FILE, &bytes, inst, None)?;
    Ok(Some(pins::apply(inst, &list).0))
}

/// The policy of a plan in words: what optimality is judged under.
fn describe_policy(summary: &Summary, max_walk: Option<u32>) -> String {
    let s = &summary.solver;
    let mut parts = vec![match max_walk {
        Some(w) => format!("max_walk {w} m"),
        None => "no maximum walk".to_string(),
    }];
    parts.push(if s.unit == Unit::Block {
        "whole blocks".into()
    } else {
        "pupils placed one by one".into()
    });
    if let Some(k) = summary.solver.nearest {
        parts.push(format!(
            "solved over each pupil's {k} nearest schools (pairs not given bounded by the \
             straight line)"
        ));
    }
    if let Some(p) = &summary.pins {
        parts.push(format!("{} pinned block(s)", p.blocks));
    }
    if let Some(c) = s.min_class_size {
        parts.push(format!("min_class_size {c}"));
    }
    if let Some(c) = s.max_class_size {
        parts.push(format!("max_class_size {c}"));
    }
    if s.whole_segments {
        parts.push("whole street segments".into());
    }
    if let Some(st) = &summary.stability {
        match (st.change_cost_m, st.max_changed_blocks) {
            (Some(c), _) => parts.push(format!("change cost {c} m against last year's districts")),
            (None, Some(n)) => parts.push(format!("at most {n} changed blocks")),
            _ => {}
        }
    }
    parts.join(", ")
}

/// The figures of `summary.json`, `schools.csv`, `certificate.json` and `assignments.csv` that
/// differ from the ones recomputed from the inputs and the plan's assignment, one message each
/// (naming the file and the figure; pupils by line).
#[allow(clippy::too_many_arguments)]
fn published_figures(
    original: &Instance,
    inst: &Instance,
    m: &Matrix,
    dir: &Path,
    summary: &Summary,
    files: &crate::output::PlanFiles,
    assign: &[u32],
    report: &CheckReport,
    prices: Option<Vec<i64>>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let loads = {
        let mut l = vec![0u64; inst.schools.len()];
        for &s in assign {
            l[s as usize] += 1;
        }
        l
    };
    // Classes: as few as hold the load; class plans choose theirs within the rule.
    let min_class = summary.solver.min_class_size;
    let classes: Vec<u32> = inst
        .schools
        .iter()
        .enumerate()
        .map(|(s, school)| {
            let computed = crate::plan::classes_for(school, loads[s]);
            match (min_class, summary.per_school.get(s)) {
                (Some(min), Some(p))
                    if p.id == school.id
                        && min as u64 * p.classes as u64 <= loads[s]
                        && loads[s] <= school.class_size as u64 * p.classes as u64 =>
                {
                    p.classes
                }
                _ => computed,
            }
        })
        .collect();
    let optimal =
        if report.mip { summary.solver.optimal } else { report.optimal && report.prices_ok };
    let policy = crate::Policy {
        max_walk: summary.solver.max_walk_m,
        unit: summary.solver.unit,
        min_class_size: summary.solver.min_class_size,
        max_class_size: summary.solver.max_class_size,
        whole_segments: summary.solver.whole_segments,
        ..Default::default()
    };
    let plan = crate::Plan {
        assign: assign.to_vec(),
        objective: report.objective_m.unwrap_or(0),
        certificate: prices.clone().map(|p| crate::solve::certificate::Certificate {
            objective: report.objective_m.unwrap_or(0),
            prices: p,
        }),
        classes,
        pupil_optimum: summary.solver.pupil_optimum_m,
        prices: prices.unwrap_or_default(),
        solver: summary.solver.name.clone(),
        policy,
        solve_seconds: summary.timing.solve_seconds,
        districts: None,
        optimal,
        routed: summary.solver.routed,
    };
    let expected = crate::report::summarize(original, m, &plan);
    let (a, b) = (
        serde_json::to_value(summary).map_err(|e| Error::internal(e.to_string()))?,
        serde_json::to_value(&expected).map_err(|e| Error::internal(e.to_string()))?,
    );
    for key in ["pupils", "schools", "seats", "walk", "not_at_nearest", "classes", "per_school"] {
        diff_json(&format!("summary.json: {key}"), &a[key], &b[key], &mut out);
    }
    for key in ["objective_m", "optimal", "certified"] {
        diff_json(
            &format!("summary.json: solver.{key}"),
            &a["solver"][key],
            &b["solver"][key],
            &mut out,
        );
    }
    if let Some(c) = &files.certificate {
        if c.optimal != (optimal || report.mip) {
            out.push(format!(
                "certificate.json: optimal says {} but the check finds {}",
                c.optimal,
                optimal || report.mip
            ));
        }
    }
    // schools.csv: one row per school with the summary's figures.
    let path = dir.join("schools.csv");
    match crate::instance::read_input(&path) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            out.push("schools.csv is missing".into())
        }
        Err(e) => return Err(e),
        Ok(bytes) => {
            let mut rdr = csv::Reader::from_reader(bytes.as_slice());
            let headers = rdr.headers().map_err(|e| Error::csv("schools.csv", e))?.clone();
            let col = |n: &str| headers.iter().position(|h| h == n);
            let mut seen = vec![false; inst.schools.len()];
            for rec in rdr.records() {
                let rec = rec.map_err(|e| Error::csv("schools.csv", e))?;
                let line = rec.position().map_or(0, |p| p.line());
                let id = col("school_id").and_then(|c| rec.get(c)).unwrap_or("");
                let Some(s) = inst.school_index(id) else {
                    out.push(format!(
                        "schools.csv:{line}: unknown school '{}'",
                        crate::instance::limits::shown(id)
                    ));
                    continue;
                };
                seen[s] = true;
                let e = &expected.per_school[s];
                let want = [
                    ("capacity", e.capacity.to_string()),
                    ("min_pupils", e.min_pupils.to_string()),
                    ("load", e.load.to_string()),
                    ("utilisation", format!("{:.3}", e.utilisation)),
                    ("price_m", e.price_m.map(|p| p.to_string()).unwrap_or_default()),
                    ("classes", e.classes.to_string()),
                    ("class_size", e.class_size.to_string()),
                    ("mean_class", format!("{:.1}", e.mean_class)),
                    ("largest_class", e.largest_class.to_string()),
                ];
                for (name, value) in want {
                    let got = col(name).and_then(|c| rec.get(c)).map(str::trim);
                    if got != Some(value.as_str()) {
                        out.push(format!(
                            "schools.csv:{line}: {name} of school '{id}' says '{}' but the plan gives '{value}'",
                            got.map(crate::instance::limits::shown).unwrap_or_default()
                        ));
                    }
                }
            }
            for (s, school) in inst.schools.iter().enumerate().filter(|(s, _)| !seen[*s]) {
                let _ = s;
                out.push(format!("schools.csv: school '{}' has no row", school.id));
            }
        }
    }
    // assignments.csv: each pupil's walk and nearest school.
    let mut wrong = 0usize;
    let mut shown = Vec::new();
    for (p, row) in files.published.iter().enumerate() {
        let Some(row) = row else { continue };
        let s = assign[p] as usize;
        let d = m.get(p, s).unwrap_or(0);
        let (ns, nd) = crate::report::nearest(m, p).unwrap_or((s, d));
        let want = [
            d.to_string(),
            inst.schools[ns].id.clone(),
            nd.to_string(),
            d.saturating_sub(nd).to_string(),
        ];
        for (i, name) in crate::output::PUBLISHED_ROW_COLUMNS.iter().enumerate() {
            if row.fields[i] != want[i] {
                wrong += 1;
                if shown.len() < 5 {
                    shown.push(format!(
                        "assignments.csv:{}: {name} says '{}' but the matrix gives '{}'",
                        row.line,
                        crate::instance::limits::shown(&row.fields[i]),
                        want[i]
                    ));
                }
            }
        }
    }
    out.extend(shown);
    if wrong > 5 {
        out.push(format!("assignments.csv: {} more figures differ from the matrix", wrong - 5));
    }
    Ok(out)
}

/// Every leaf where `published` differs from `expected`, named by its path (per-school rows by
/// the school's id).
fn diff_json(
    path: &str,
    published: &serde_json::Value,
    expected: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (published, expected) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                diff_json(&format!("{path}.{k}"), a.get(k).unwrap_or(&Value::Null), v, out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let name = match y.get("id").and_then(Value::as_str) {
                    Some(id) => format!("{path}['{id}']"),
                    None => format!("{path}[{i}]"),
                };
                diff_json(&name, x, y, out);
            }
        }
        (a, b) if a == b => {}
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => {}
        (a, b) => out.push(format!(
            "{path} says {} but the plan gives {b}",
            crate::instance::limits::shown(&a.to_string())
        )),
    }
}
