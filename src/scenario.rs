//! Scenarios side by side: a TOML file with a base (schools, pupils, matrix, policy) and named
//! scenarios, each a set of changes to it — add or close schools, change capacities or rooms,
//! class sizes, a minimum class size, another cohort, stability against last year's districts.
//! [`load`] reads and checks the file (unknown keys are errors naming the scenario and the key),
//! [`run`] solves every scenario in parallel (a bounded rayon pool), and [`comparison_csv`] /
//! [`comparison_markdown`] render one table.
//!
//! ```toml
//! [base]
//! schools = "schools.csv"
//! pupils = "pupils.csv"
//! matrix = "matrix.csv"
//! [base.policy]
//! unit = "pupil"
//!
//! [[scenario]]
//! name = "draft-law"
//! min_class_size = 25
//! max_class_size = 28
//!
//! [[scenario]]
//! name = "close-S07"
//! close = ["S07"]
//! ```

use crate::districts::BlockMatrix;
use crate::error::{Error, Result};
use crate::instance::{file_name, read_pupils, read_schools, Instance, School};
use crate::routing::{Matrix, UNREACHABLE};
use crate::stability::{self, Rule, Stability, StabilityReport};
use crate::{Plan, Policy, SolverKind, Unit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The base policy of a scenario file (`[base.policy]`); keys left out take [`Policy::default`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The pupil-level solver (default: flow).
    pub solver: Option<SolverKind>,
    /// Leave out pairs longer than this many meters.
    pub max_walk: Option<u32>,
    /// Single pupils or whole blocks (default: pupils).
    pub unit: Option<Unit>,
    /// Every class must have at least this many pupils.
    pub min_class_size: Option<u32>,
    /// The largest class at every school, replacing each school's class size.
    pub max_class_size: Option<u32>,
}

/// The `[base]` table: the inputs every scenario starts from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseSpec {
    /// The schools file (CSV or GeoJSON).
    pub schools: PathBuf,
    /// The pupils file (CSV or GeoJSON).
    pub pupils: PathBuf,
    /// The long walking-distance matrix over the base's pupils (or blocks) and schools.
    pub matrix: PathBuf,
    /// Every block of the city (`block_id,lat,lon,residents,...`), for district files.
    #[serde(default)]
    pub blocks: Option<PathBuf>,
    /// The base policy.
    #[serde(default)]
    pub policy: PolicySpec,
}

/// A school a scenario adds, with its walking distances (a long matrix file of the same kind
/// as the base matrix, rows for this school only).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSchool {
    /// The new school's id (must not exist in the base).
    pub id: String,
    /// The new school's name.
    pub name: String,
    /// Latitude (WGS84).
    pub lat: f64,
    /// Longitude (WGS84).
    pub lon: f64,
    /// Seats; without it, `max_classes` x class size.
    #[serde(default)]
    pub capacity: Option<u32>,
    /// Rooms (most classes); gives the seats when `capacity` is left out.
    #[serde(default)]
    pub max_classes: Option<u32>,
    /// The largest class, in pupils (default: 22).
    #[serde(default)]
    pub class_size: Option<u32>,
    /// Walks to this school: a long matrix file of the same kind as the base matrix.
    pub matrix: PathBuf,
}

/// One scenario: changes to the base. Keys left out keep the base's value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// The scenario's name: letters, digits, `-`, `_`, `.`; it names the output directory.
    pub name: String,
    /// What the scenario changes, in words (shown in the comparison).
    #[serde(default)]
    pub description: Option<String>,
    /// School ids to close.
    #[serde(default)]
    pub close: Vec<String>,
    /// Schools to add.
    #[serde(default)]
    pub add_school: Vec<NewSchool>,
    /// New seats per school id.
    #[serde(default)]
    pub capacity: BTreeMap<String, u32>,
    /// New rooms (classes) per school id; seats = rooms x class size.
    #[serde(default)]
    pub max_classes: BTreeMap<String, u32>,
    /// Another cohort: a pupils file (with the base matrix when it is per block).
    #[serde(default)]
    pub pupils: Option<PathBuf>,
    /// A matrix for this scenario's pupils (default: the base matrix).
    #[serde(default)]
    pub matrix: Option<PathBuf>,
    /// Another pupil-level solver.
    #[serde(default)]
    pub solver: Option<SolverKind>,
    /// Another maximum walk, in meters.
    #[serde(default)]
    pub max_walk: Option<u32>,
    /// Single pupils or whole blocks.
    #[serde(default)]
    pub unit: Option<Unit>,
    /// Another minimum class size, in pupils.
    #[serde(default)]
    pub min_class_size: Option<u32>,
    /// Another largest class at every school, in pupils.
    #[serde(default)]
    pub max_class_size: Option<u32>,
    /// Last year's districts (`block_id,school_id`) and how strongly to keep them.
    #[serde(default)]
    pub previous: Option<PathBuf>,
    /// Meters added per pupil whose school differs from last year's (needs `previous`).
    #[serde(default)]
    pub change_cost: Option<u32>,
    /// At most this many blocks change school against last year (needs `previous`; whole blocks).
    #[serde(default)]
    pub max_changed_blocks: Option<u32>,
}

/// A scenario file, read and checked (paths resolved against the file's directory).
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    /// The file's name, for messages.
    pub file: String,
    /// The base.
    pub base: BaseSpec,
    /// The scenarios, in file order.
    pub scenarios: Vec<ScenarioSpec>,
}

fn bad(file: &str, field: &str, msg: impl Into<String>) -> Error {
    Error::input(file, None, Some(field), msg)
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<u64> {
    span.map(|r| text[..r.start.min(text.len())].matches('\n').count() as u64 + 1)
}

/// Parse a scenario file's text; `dir` resolves relative paths. Errors name the scenario and
/// the key.
pub fn parse(file: &str, text: &str, dir: &Path) -> Result<ScenarioFile> {
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| Error::input(file, line_of(text, e.span()), None, e.message().to_string()))?;
    for key in table.keys() {
        if key != "base" && key != "scenario" {
            return Err(bad(
                file,
                key,
                "unknown key: a scenario file has [base] and [[scenario]] tables only",
            ));
        }
    }
    let base_value = table
        .get("base")
        .cloned()
        .ok_or_else(|| bad(file, "base", "the [base] table is missing"))?;
    let mut base: BaseSpec = base_value
        .try_into()
        .map_err(|e: toml::de::Error| bad(file, "[base]", e.message().to_string()))?;
    let resolve = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    };
    resolve(&mut base.schools);
    resolve(&mut base.pupils);
    resolve(&mut base.matrix);
    if let Some(b) = &mut base.blocks {
        resolve(b);
    }
    let list = match table.get("scenario") {
        None => vec![],
        Some(toml::Value::Array(a)) => a.clone(),
        Some(_) => return Err(bad(file, "scenario", "write scenarios as [[scenario]] tables")),
    };
    let mut scenarios: Vec<ScenarioSpec> = Vec::new();
    for (i, v) in list.into_iter().enumerate() {
        let label = match v.get("name").and_then(|n| n.as_str()) {
            Some(n) => format!("scenario '{n}'"),
            None => format!("scenario #{}", i + 1),
        };
        let mut s: ScenarioSpec = v
            .try_into()
            .map_err(|e: toml::de::Error| bad(file, &label, e.message().to_string()))?;
        let name_ok = !s.name.is_empty()
            && s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            && !s.name.starts_with('.');
        if !name_ok {
            return Err(bad(
                file,
                &format!("{label}: name"),
                "names are letters, digits, '-', '_', '.' (they name output directories)",
            ));
        }
        if s.name == "base" || scenarios.iter().any(|o| o.name == s.name) {
            return Err(bad(
                file,
                &format!("{label}: name"),
                "the name is taken (by another scenario or the base)",
            ));
        }
        if s.change_cost.is_some() && s.max_changed_blocks.is_some() {
            return Err(bad(
                file,
                &format!("{label}: max_changed_blocks"),
                "give either change_cost or max_changed_blocks",
            ));
        }
        if (s.change_cost.is_some() || s.max_changed_blocks.is_some()) && s.previous.is_none() {
            return Err(bad(
                file,
                &format!("{label}: previous"),
                "change_cost and max_changed_blocks need previous (last year's districts)",
            ));
        }
        if s.previous.is_some() && s.change_cost.is_none() && s.max_changed_blocks.is_none() {
            return Err(bad(
                file,
                &format!("{label}: change_cost"),
                "previous needs change_cost or max_changed_blocks",
            ));
        }
        for p in [&mut s.pupils, &mut s.matrix, &mut s.previous].into_iter().flatten() {
            resolve(p);
        }
        for a in &mut s.add_school {
            resolve(&mut a.matrix);
        }
        scenarios.push(s);
    }
    Ok(ScenarioFile { file: file.to_string(), base, scenarios })
}

/// Read a scenario file.
pub fn load(path: &Path) -> Result<ScenarioFile> {
    let text = String::from_utf8(crate::instance::read_input(path)?).map_err(|_| {
        Error::input(&crate::instance::file_name(path), None, None, "is not UTF-8 text")
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&file_name(path), &text, &dir)
}

/// A scenario ready to solve.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The scenario's name (`base` for the base).
    pub name: String,
    /// What the scenario changes, in words (empty if not given).
    pub description: String,
    /// Schools and pupils after the scenario's changes.
    pub inst: Instance,
    /// Walks from every pupil to every school of `inst`, in meters.
    pub matrix: Matrix,
    /// The base policy with the scenario's changes.
    pub policy: Policy,
    /// Last year's districts and their rule, for scenarios with `previous`.
    pub stability: Option<Stability>,
    /// Walks from every block of the city (when the base names its blocks and the matrix is
    /// per block): for each scenario's published districts.
    pub block_matrix: Option<BlockMatrix>,
}

fn base_policy(spec: &PolicySpec) -> Policy {
    let d = Policy::default();
    Policy {
        solver: spec.solver.unwrap_or(d.solver),
        max_walk: spec.max_walk,
        unit: spec.unit.unwrap_or(d.unit),
        min_class_size: spec.min_class_size,
        max_class_size: spec.max_class_size,
        contiguous: false,
        whole_segments: false,
    }
}

/// Columns of `m` (over `from` schools) rearranged for the `to` schools; schools not in
/// `from` are taken from `extra` (over `extra_schools`).
fn remap(m: &Matrix, from: &[School], to: &[School], extra: &[(Matrix, Vec<School>)]) -> Matrix {
    let mut out = Matrix::new(m.n_pupils, to.len(), m.source.clone());
    let keep_seconds = m.seconds.is_some() && extra.iter().all(|(x, _)| x.seconds.is_some());
    let mut secs = keep_seconds.then(|| vec![UNREACHABLE; m.n_pupils * to.len()]);
    for (t, school) in to.iter().enumerate() {
        let src: (&Matrix, usize) = match from.iter().position(|s| s.id == school.id) {
            Some(f) => (m, f),
            None => extra
                .iter()
                .find_map(|(x, ss)| ss.iter().position(|s| s.id == school.id).map(|f| (x, f)))
                .expect("every school has a column"),
        };
        for p in 0..m.n_pupils {
            out.meters[p * to.len() + t] = src.0.meters[p * src.0.n_schools + src.1];
            if let (Some(out_s), Some(in_s)) = (&mut secs, &src.0.seconds) {
                out_s[p * to.len() + t] = in_s[p * src.0.n_schools + src.1];
            }
        }
    }
    out.seconds = secs;
    out.snap_m = m.snap_m.clone();
    out
}

/// [`remap`] for a city-wide block matrix; blocks missing from an added school's file have no
/// route to it.
fn remap_blocks(
    bm: &BlockMatrix,
    from: &[School],
    to: &[School],
    extra: &[(BlockMatrix, Vec<School>)],
) -> BlockMatrix {
    let n = to.len();
    let mut meters = vec![UNREACHABLE; bm.blocks.len() * n];
    for (t, school) in to.iter().enumerate() {
        if let Some(f) = from.iter().position(|s| s.id == school.id) {
            for b in 0..bm.blocks.len() {
                meters[b * n + t] = bm.row(b)[f];
            }
        } else if let Some((x, ss)) =
            extra.iter().find(|(_, ss)| ss.iter().any(|s| s.id == school.id))
        {
            let f = ss.iter().position(|s| s.id == school.id).expect("found");
            for (b, id) in bm.blocks.iter().enumerate() {
                if let Some(xb) = x.index(id) {
                    meters[b * n + t] = x.row(xb)[f];
                }
            }
        }
    }
    BlockMatrix { blocks: bm.blocks.clone(), n_schools: n, meters }
}

fn pupils_without_fixed(inst: &Instance) -> Vec<crate::Pupil> {
    inst.pupils
        .iter()
        .cloned()
        .map(|mut p| {
            p.fixed_school = None;
            p
        })
        .collect()
}

/// Build the base and every scenario's instance, matrix, policy and stability.
pub fn prepare(f: &ScenarioFile) -> Result<Vec<Prepared>> {
    let base_schools = read_schools(&f.base.schools)?;
    let base_pupils = read_pupils(&f.base.pupils, Some(&base_schools))?;
    let base_inst = Instance::new(base_schools, base_pupils)?;
    let base_m = crate::routing::read_matrix(&f.base.matrix, &base_inst)?;
    let policy = base_policy(&f.base.policy);
    let base_bm = match &f.base.blocks {
        Some(_) => Some(crate::districts::read_block_matrix(&f.base.matrix, &base_inst.schools)?),
        None => None,
    };
    let mut out = vec![Prepared {
        name: "base".into(),
        description: "the base: schools, pupils and policy as given".into(),
        inst: base_inst.clone(),
        matrix: base_m.clone(),
        policy: policy.clone(),
        stability: None,
        block_matrix: base_bm.clone(),
    }];
    for s in &f.scenarios {
        let label = format!("scenario '{}'", s.name);
        let ctx = |key: &str, e: Error| -> Error {
            match e {
                Error::Input(mut v) => {
                    for p in &mut v {
                        p.message = format!("{label}: {key}: {}", p.message);
                    }
                    Error::Input(v)
                }
                e => e.context(&format!("{}: {label}: {key}", f.file)),
            }
        };
        // Pupils and their matrix over the base schools.
        let (inst0, m0) = match &s.pupils {
            None => {
                let m = match &s.matrix {
                    Some(path) => crate::routing::read_matrix(path, &base_inst)
                        .map_err(|e| ctx("matrix", e))?,
                    None => base_m.clone(),
                };
                (base_inst.clone(), m)
            }
            Some(path) => {
                let pupils =
                    read_pupils(path, Some(&base_inst.schools)).map_err(|e| ctx("pupils", e))?;
                let inst = Instance::new(base_inst.schools.clone(), pupils)
                    .map_err(|e| ctx("pupils", e))?;
                let mpath = s.matrix.as_ref().unwrap_or(&f.base.matrix);
                let m = crate::routing::read_matrix(mpath, &inst).map_err(|e| ctx("matrix", e))?;
                (inst, m)
            }
        };
        // School changes.
        let mut schools = inst0.schools.clone();
        for id in &s.close {
            let before = schools.len();
            schools.retain(|x| &x.id != id);
            if schools.len() == before {
                return Err(bad(
                    &f.file,
                    &format!("{label}: close"),
                    format!("unknown school id '{id}'"),
                ));
            }
        }
        for (id, &cap) in &s.capacity {
            let Some(x) = schools.iter_mut().find(|x| &x.id == id) else {
                return Err(bad(
                    &f.file,
                    &format!("{label}: capacity"),
                    format!("unknown school id '{id}'"),
                ));
            };
            x.capacity = cap;
            x.max_classes = None;
        }
        for (id, &k) in &s.max_classes {
            let Some(x) = schools.iter_mut().find(|x| &x.id == id) else {
                return Err(bad(
                    &f.file,
                    &format!("{label}: max_classes"),
                    format!("unknown school id '{id}'"),
                ));
            };
            x.max_classes = Some(k);
            x.capacity = k * x.class_size;
        }
        let mut extra: Vec<(Matrix, Vec<School>)> = Vec::new();
        let mut extra_bm: Vec<(BlockMatrix, Vec<School>)> = Vec::new();
        for a in &s.add_school {
            if schools.iter().any(|x| x.id == a.id) || inst0.schools.iter().any(|x| x.id == a.id) {
                return Err(bad(
                    &f.file,
                    &format!("{label}: add_school"),
                    format!("school id '{}' exists already", a.id),
                ));
            }
            let class_size = a.class_size.unwrap_or(22);
            let capacity = match (a.capacity, a.max_classes) {
                (Some(c), _) => c,
                (None, Some(k)) => k * class_size,
                (None, None) => {
                    return Err(bad(
                        &f.file,
                        &format!("{label}: add_school"),
                        format!("school '{}' needs capacity or max_classes", a.id),
                    ))
                }
            };
            let school = School {
                id: a.id.clone(),
                name: a.name.clone(),
                lat: a.lat,
                lon: a.lon,
                capacity,
                class_size,
                max_classes: a.max_classes,
                min_pupils: 0,
                min_classes: None,
                extra: vec![],
            };
            let one = Instance::new(vec![school.clone()], pupils_without_fixed(&inst0))
                .map_err(|e| ctx("add_school", e))?;
            let m = crate::routing::read_matrix(&a.matrix, &one)
                .map_err(|e| ctx("add_school.matrix", e))?;
            extra.push((m, vec![school.clone()]));
            if base_bm.is_some() {
                let bm =
                    crate::districts::read_block_matrix(&a.matrix, std::slice::from_ref(&school))
                        .map_err(|e| ctx("add_school.matrix", e))?;
                extra_bm.push((bm, vec![school.clone()]));
            }
            schools.push(school);
        }
        let inst = Instance::new(schools, inst0.pupils.clone()).map_err(|e| ctx("close", e))?;
        let matrix = remap(&m0, &inst0.schools, &inst.schools, &extra);
        let block_matrix = base_bm
            .as_ref()
            .map(|bm| remap_blocks(bm, &base_inst.schools, &inst.schools, &extra_bm));
        let mut policy = policy.clone();
        if let Some(v) = s.solver {
            policy.solver = v;
        }
        if let Some(v) = s.unit {
            policy.unit = v;
        }
        if s.max_walk.is_some() {
            policy.max_walk = s.max_walk;
        }
        if s.min_class_size.is_some() {
            policy.min_class_size = s.min_class_size;
        }
        if s.max_class_size.is_some() {
            policy.max_class_size = s.max_class_size;
        }
        let stability = match &s.previous {
            Some(path) => {
                let previous = stability::read_previous(path).map_err(|e| ctx("previous", e))?;
                let rule = match (s.change_cost, s.max_changed_blocks) {
                    (Some(c), _) => Rule::ChangeCost(c),
                    (None, Some(n)) => Rule::MaxChangedBlocks(n),
                    (None, None) => unreachable!("checked when parsed"),
                };
                Some(Stability { previous, rule })
            }
            None => None,
        };
        out.push(Prepared {
            name: s.name.clone(),
            description: s.description.clone().unwrap_or_default(),
            inst,
            matrix,
            policy,
            stability,
            block_matrix,
        });
    }
    Ok(out)
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The plan solved (the stable one, with stability).
    pub plan: Plan,
    /// With stability: changes against last year's districts and the price of stability.
    pub stability: Option<StabilityReport>,
}

/// Solve one prepared scenario.
pub fn solve(p: &Prepared) -> Result<Outcome> {
    match &p.stability {
        None => Ok(Outcome {
            plan: crate::solve_plan(&p.inst, &p.matrix, &p.policy, None)?,
            stability: None,
        }),
        Some(st) => {
            let (plan, report, _) =
                crate::pipeline::solve_stable(&p.inst, &p.matrix, &p.policy, st)?;
            Ok(Outcome { plan, stability: Some(report) })
        }
    }
}

/// Solve every scenario on at most `jobs` threads. Results in the order given; an error names
/// its scenario.
pub fn run(prepared: &[Prepared], jobs: usize) -> Result<Vec<Outcome>> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| Error::internal(format!("cannot start worker threads: {e}")))?;
    let cancel = crate::cancel::current();
    pool.install(|| {
        prepared
            .par_iter()
            .map(|p| {
                crate::cancel::within(cancel.as_ref(), || {
                    crate::cancel::check()?;
                    solve(p)
                })
                .map_err(|e| match e {
                    Error::Infeasible(v) => Error::Infeasible(
                        v.into_iter()
                            .map(|mut i| {
                                i.message = format!("scenario '{}': {}", p.name, i.message);
                                i
                            })
                            .collect(),
                    ),
                    Error::Input(v) => Error::Input(v),
                    e => e.context(&format!("scenario '{}'", p.name)),
                })
            })
            .collect()
    })
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The scenario's name.
    pub scenario: String,
    /// What the scenario changes, in words.
    pub description: String,
    /// Number of pupils.
    pub pupils: usize,
    /// Number of schools.
    pub schools: usize,
    /// Seats over all schools.
    pub seats: u64,
    /// Total walk in meters.
    pub total_walk_m: u64,
    /// Mean walk per pupil in meters.
    pub mean_walk_m: f64,
    /// Pupils walking farther than 2 km.
    pub over_2km: usize,
    /// Classes formed in total.
    pub classes: u32,
    /// Classes above their school's class size (even split).
    pub classes_over_size: u32,
    /// Blocks whose school differs from the base's: over the whole city's published districts
    /// when the base names its blocks; otherwise over blocks with pupils in both runs (the
    /// school of most of their pupils).
    pub blocks_changed_vs_base: usize,
    /// Blocks compared with the base.
    pub blocks_compared: usize,
    /// Whether the plan's optimality is proven by the certificate (pupil-level plans).
    pub certified: bool,
    /// Changes against last year's districts, for scenarios with stability.
    pub changed_blocks_vs_previous: Option<usize>,
    /// The robustness simulation of the scenario's districts (default model and draws; only
    /// when the base names its blocks): P(some school over capacity) ...
    pub p_any_overflow: Option<f64>,
    /// ... and the expected number of schools over capacity.
    pub expected_schools_over: Option<f64>,
    /// Seconds the solve took.
    pub solve_seconds: f64,
}

/// The comparison rows: the base first, then the scenarios in file order.
pub fn compare(prepared: &[Prepared], outcomes: &[Outcome]) -> Vec<Row> {
    let base_blocks = stability::block_schools(&prepared[0].inst, &outcomes[0].plan.assign);
    prepared
        .iter()
        .zip(outcomes)
        .map(|(p, o)| {
            let s = crate::report::summarize(&p.inst, &p.matrix, &o.plan);
            let blocks = stability::block_schools(&p.inst, &o.plan.assign);
            let mut compared = 0;
            let mut changed = 0;
            for (b, school) in &blocks {
                if let Some(bs) = base_blocks.get(b) {
                    compared += 1;
                    changed += (bs != school) as usize;
                }
            }
            Row {
                scenario: p.name.clone(),
                description: p.description.clone(),
                pupils: s.pupils,
                schools: s.schools,
                seats: s.seats,
                total_walk_m: s.walk.total_m,
                mean_walk_m: s.walk.mean_m,
                over_2km: s.walk.over_2km,
                classes: s.classes.total,
                classes_over_size: s.classes.over_size,
                blocks_changed_vs_base: changed,
                blocks_compared: compared,
                certified: s.solver.certified,
                changed_blocks_vs_previous: o.stability.as_ref().map(|r| r.changed_blocks),
                p_any_overflow: None,
                expected_schools_over: None,
                solve_seconds: s.timing.solve_seconds,
            }
        })
        .collect()
}

/// `comparison.csv`.
pub fn comparison_csv(rows: &[Row]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| Error::csv("comparison.csv", e))?;
    }
    let bytes = w.into_inner().map_err(|e| Error::internal(format!("comparison.csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::internal(e.to_string()))
}

/// `comparison.md`: the table a planner reads.
pub fn comparison_markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| scenario | pupils | schools | seats | total walk (km) | mean walk (m) | over 2 km | classes | classes over size | blocks changed vs base | P(a school overflows) | schools over (expected) | certified |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let pct =
        |x: Option<f64>| x.map(|x| format!("{:.1}%", 100.0 * x)).unwrap_or_else(|| "–".into());
    let num = |x: Option<f64>| x.map(|x| format!("{x:.1}")).unwrap_or_else(|| "–".into());
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.0} | {} | {} | {} | {} of {} | {} | {} | {} |\n",
            r.scenario,
            r.pupils,
            r.schools,
            r.seats,
            r.total_walk_m as f64 / 1000.0,
            r.mean_walk_m,
            r.over_2km,
            r.classes,
            r.classes_over_size,
            r.blocks_changed_vs_base,
            r.blocks_compared,
            pct(r.p_any_overflow),
            num(r.expected_schools_over),
            if r.certified { "yes" } else { "MIP" }
        ));
    }
    let notes: Vec<String> = rows
        .iter()
        .filter(|r| !r.description.is_empty())
        .map(|r| format!("- **{}**: {}", r.scenario, r.description))
        .collect();
    if !notes.is_empty() {
        s.push('\n');
        s.push_str(&notes.join("\n"));
        s.push('\n');
    }
    s
}

/// Run a scenario file and write `out/comparison.csv`, `out/comparison.md` and every
/// scenario's plan directory `out/<name>/` (the whole directory atomically).
pub fn batch(path: &Path, out: &Path, jobs: usize) -> Result<Vec<Row>> {
    // Refused before any work: the output replaces the directory whole.
    crate::instance::ensure_replaceable(out)?;
    let file = load(path)?;
    let prepared = prepare(&file)?;
    let outcomes = run(&prepared, jobs)?;
    let mut rows = compare(&prepared, &outcomes);
    let base_city = match &file.base.blocks {
        Some(path) => Some(crate::districts::blocks::read_blocks(path)?),
        None => None,
    };
    // The robustness of each scenario's districts: the simulation with its default model; and
    // the blocks of the whole city whose district differs from the base's.
    if let Some(blocks) = &base_city {
        let mut base_district: Option<Vec<Option<String>>> = None;
        for ((p, o), row) in prepared.iter().zip(&outcomes).zip(rows.iter_mut()) {
            crate::cancel::check()?;
            let Some(bm) = &p.block_matrix else { continue };
            let inst = crate::effective_instance(&p.inst, &o.plan.policy);
            let change = match (&o.stability, &p.stability) {
                (Some(r), Some(st)) => r.change_cost_m.map(|c| (&st.previous, c)),
                _ => None,
            };
            let districts =
                crate::districts::publish::district_rows(&inst, &o.plan, blocks, bm, change)?;
            let school: Vec<Option<usize>> = districts.iter().map(|d| d.school).collect();
            let ids: Vec<Option<String>> =
                school.iter().map(|s| s.map(|s| inst.schools[s].id.clone())).collect();
            let base = base_district.get_or_insert_with(|| ids.clone());
            row.blocks_compared = ids.len();
            row.blocks_changed_vs_base =
                ids.iter().zip(base.iter()).filter(|(a, b)| a != b).count();
            let residents: Vec<u64> = districts.iter().map(|d| d.residents as u64).collect();
            let inputs = crate::report::simulate::school_inputs(
                &inst.schools,
                &o.plan.assign,
                &o.plan.classes,
                &school,
                &residents,
            );
            let sim = crate::report::simulate::simulate(
                &inputs,
                &crate::report::simulate::Model::default(),
                &crate::report::simulate::Options::default(),
                &|_| (),
            )
            .map_err(|e| e.context(&format!("scenario '{}': simulation", p.name)))?;
            row.p_any_overflow = Some(sim.p_any_over_capacity);
            row.expected_schools_over = Some(sim.expected_schools_over);
        }
    }
    let csv = comparison_csv(&rows)?;
    let md = comparison_markdown(&rows);
    // Every scenario's report page shows the whole comparison.
    let page_table = crate::report::html::Comparison {
        title: "Scenarios side by side".into(),
        columns: [
            "scenario",
            "total walk",
            "mean walk",
            "over 2 km",
            "classes",
            "blocks changed vs base",
            "P(a school overflows)",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.scenario.clone(),
                    format!("{:.1} km", r.total_walk_m as f64 / 1000.0),
                    format!("{:.0} m", r.mean_walk_m),
                    r.over_2km.to_string(),
                    r.classes.to_string(),
                    format!("{} of {}", r.blocks_changed_vs_base, r.blocks_compared),
                    r.p_any_overflow
                        .map(|x| format!("{:.1}%", 100.0 * x))
                        .unwrap_or_else(|| "–".into()),
                ]
            })
            .collect(),
    };
    crate::instance::write_atomically(out, |dir| {
        for (p, o) in prepared.iter().zip(&outcomes) {
            // Cancelled: nothing is kept (the directory is written whole or not at all).
            crate::cancel::check()?;
            let st = match (&o.stability, &p.stability) {
                (Some(r), Some(s)) => Some((r, s)),
                _ => None,
            };
            let city = match (&base_city, &p.block_matrix) {
                (Some(blocks), Some(bm)) => Some(crate::districts::publish::City {
                    blocks: blocks.clone(),
                    matrix: bm.clone(),
                    streets: None,
                    area: None,
                }),
                _ => None,
            };
            crate::output::write_plan(
                &dir.join(&p.name),
                &p.inst,
                &p.matrix,
                &o.plan,
                &crate::output::Extras {
                    city: city.as_ref(),
                    comparison: Some(&page_table),
                    stability: st,
                    excluded: None,
                    segments: None,
                },
            )?;
        }
        std::fs::write(dir.join("comparison.csv"), &csv)
            .map_err(|e| Error::io(dir.join("comparison.csv"), e))?;
        std::fs::write(dir.join("comparison.md"), &md)
            .map_err(|e| Error::io(dir.join("comparison.md"), e))?;
        Ok(())
    })?;
    Ok(rows)
}
