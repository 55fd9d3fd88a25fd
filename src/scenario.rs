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
use crate::stability::{self, Rule, Stability};
use crate::{Policy, SolverKind, Unit};
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
    /// Contiguous districts (needs `blocks`).
    pub contiguous: Option<bool>,
    /// Whole street segments in one district (needs `blocks` and `streets`).
    pub whole_segments: Option<bool>,
    /// Meters per extra district of a street (contiguous districts).
    pub split_street_cost: Option<u32>,
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
    /// Walks from every block to every school (default: `matrix`, then keyed by block).
    #[serde(default)]
    pub block_matrix: Option<PathBuf>,
    /// Named streets for the street list (OSM or GeoJSON lines; needs `blocks`).
    #[serde(default)]
    pub streets: Option<PathBuf>,
    /// The area the districts divide (GeoJSON polygons; needs `blocks`).
    #[serde(default)]
    pub area: Option<PathBuf>,
    /// Blocks whose walks are not trusted (CSV with `block_id`; needs `blocks`): left out of
    /// every scenario's districts, their pupils out of the plans unless fixed.
    #[serde(default)]
    pub exclude_blocks: Option<PathBuf>,
    /// Last year's districts for every scenario that names none of its own.
    #[serde(default)]
    pub previous: Option<PathBuf>,
    /// Meters added per pupil whose school differs from last year's (with `previous`).
    #[serde(default)]
    pub change_cost: Option<u32>,
    /// At most this many blocks change school against last year (with `previous`).
    #[serde(default)]
    pub max_changed_blocks: Option<u32>,
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

/// The choice of a `catchment sites` run, built in a scenario: the options of row `k` of its
/// `sites.csv` — new sites added (from the candidates file and matrix the run read), extra
/// classes added to their schools, closed schools closed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitesChoice {
    /// The `catchment sites` output directory (its `sites.csv` is read).
    pub dir: PathBuf,
    /// The row: the choice of at most `k` options.
    pub k: usize,
    /// The candidates file the run read (needed when the row opens a new site).
    #[serde(default)]
    pub candidates: Option<PathBuf>,
    /// The candidates' matrix the run read.
    #[serde(default)]
    pub candidate_matrix: Option<PathBuf>,
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
    /// A site choice to build (a row of a `catchment sites` run).
    #[serde(default)]
    pub sites: Option<SitesChoice>,
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
    /// Contiguous districts, or not (needs the base's `blocks`).
    #[serde(default)]
    pub contiguous: Option<bool>,
    /// Whole street segments, or not (needs the base's `blocks` and `streets`).
    #[serde(default)]
    pub whole_segments: Option<bool>,
    /// Meters per extra district of a street (contiguous districts).
    #[serde(default)]
    pub split_street_cost: Option<u32>,
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
    for p in [
        &mut base.blocks,
        &mut base.block_matrix,
        &mut base.streets,
        &mut base.area,
        &mut base.exclude_blocks,
        &mut base.previous,
    ]
    .into_iter()
    .flatten()
    {
        resolve(p);
    }
    let city_keys = [
        ("block_matrix", base.block_matrix.is_some()),
        ("streets", base.streets.is_some()),
        ("area", base.area.is_some()),
        ("exclude_blocks", base.exclude_blocks.is_some()),
    ];
    for (key, given) in city_keys {
        if given && base.blocks.is_none() {
            return Err(bad(file, &format!("[base]: {key}"), "needs blocks (the city's blocks)"));
        }
    }
    stability_keys(
        file,
        "[base]",
        base.previous.is_some(),
        base.change_cost.is_some(),
        base.max_changed_blocks.is_some(),
    )?;
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
        stability_keys(
            file,
            &label,
            s.previous.is_some(),
            s.change_cost.is_some(),
            s.max_changed_blocks.is_some(),
        )?;
        for p in [&mut s.pupils, &mut s.matrix, &mut s.previous].into_iter().flatten() {
            resolve(p);
        }
        for a in &mut s.add_school {
            resolve(&mut a.matrix);
        }
        if let Some(c) = &mut s.sites {
            resolve(&mut c.dir);
            for p in [&mut c.candidates, &mut c.candidate_matrix].into_iter().flatten() {
                resolve(p);
            }
        }
        scenarios.push(s);
    }
    Ok(ScenarioFile { file: file.to_string(), base, scenarios })
}

/// `previous` goes with exactly one of `change_cost` and `max_changed_blocks`.
fn stability_keys(
    file: &str,
    label: &str,
    previous: bool,
    change_cost: bool,
    max_changed: bool,
) -> Result<()> {
    if change_cost && max_changed {
        return Err(bad(
            file,
            &format!("{label}: max_changed_blocks"),
            "give either change_cost or max_changed_blocks",
        ));
    }
    if (change_cost || max_changed) && !previous {
        return Err(bad(
            file,
            &format!("{label}: previous"),
            "change_cost and max_changed_blocks need previous (last year's districts)",
        ));
    }
    if previous && !change_cost && !max_changed {
        return Err(bad(
            file,
            &format!("{label}: change_cost"),
            "previous needs change_cost or max_changed_blocks",
        ));
    }
    Ok(())
}

/// Read a scenario file.
pub fn load(path: &Path) -> Result<ScenarioFile> {
    let text = String::from_utf8(crate::instance::read_input(path)?).map_err(|_| {
        Error::input(&crate::instance::file_name(path), None, None, "is not UTF-8 text")
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&file_name(path), &text, &dir)
}

/// A scenario ready to solve: its effective inputs as the application layer's request, loaded.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The scenario's name (`base` for the base).
    pub name: String,
    /// What the scenario changes, in words (empty if not given).
    pub description: String,
    /// Schools and pupils after the scenario's changes, the walks to them (the pupil matrix
    /// kept beside the plan), the policy, stability and the city (the block matrix kept too).
    pub loaded: crate::app::Loaded,
}

fn base_policy(spec: &PolicySpec) -> Policy {
    let d = Policy::default();
    Policy {
        solver: spec.solver.unwrap_or(d.solver),
        max_walk: spec.max_walk,
        unit: spec.unit.unwrap_or(d.unit),
        min_class_size: spec.min_class_size,
        max_class_size: spec.max_class_size,
        contiguous: spec.contiguous.unwrap_or(false),
        whole_segments: spec.whole_segments.unwrap_or(false),
        split_street_cost: spec.split_street_cost,
        nearest: None,
    }
}

/// Last year's districts and the rule, from a file and its keys (checked when parsed).
fn stability_of(
    previous: &Path,
    change_cost: Option<u32>,
    max_changed: Option<u32>,
) -> Result<Stability> {
    let previous = stability::read_previous(previous)?;
    let rule = match (change_cost, max_changed) {
        (Some(c), _) => Rule::ChangeCost(c),
        (None, Some(n)) => Rule::MaxChangedBlocks(n),
        (None, None) => {
            return Err(Error::internal("previous without a rule (checked when parsed)"))
        }
    };
    Ok(Stability { previous, rule })
}

/// The base's city: blocks, the block matrix, streets and area, where the walks come from, and
/// the blocks to exclude.
type BaseCity =
    (crate::districts::publish::City, String, Option<std::collections::HashSet<String>>);

fn base_city(f: &ScenarioFile, inst: &Instance) -> Result<Option<BaseCity>> {
    let Some(blocks_path) = &f.base.blocks else { return Ok(None) };
    let blocks = crate::districts::blocks::read_blocks(blocks_path)?;
    let bm_path = f.base.block_matrix.as_ref().unwrap_or(&f.base.matrix);
    let matrix = crate::districts::read_block_matrix(bm_path, &inst.schools)?;
    let source = crate::routing::matrix::read_meta(bm_path)
        .map(|m| m.source)
        .unwrap_or_else(|| format!("block matrix file {}", file_name(bm_path)));
    let streets = match &f.base.streets {
        Some(p) => Some(crate::districts::streets::read_street_lines(p)?),
        None => None,
    };
    let area = match &f.base.area {
        Some(p) => Some(crate::districts::area::read_area(p)?),
        None => None,
    };
    let exclude = match &f.base.exclude_blocks {
        Some(p) => Some(crate::districts::blocks::block_ids_from_csv(
            &file_name(p),
            &crate::instance::read_input(p)?,
            &blocks,
        )?),
        None => None,
    };
    Ok(Some((crate::districts::publish::City { blocks, matrix, streets, area }, source, exclude)))
}

/// A scenario's inputs as a loaded request: the city's block matrix remapped to its schools,
/// excluded blocks left out, a cap on changed blocks meaning whole blocks.
fn loaded(
    inst: Instance,
    matrix: Matrix,
    mut policy: Policy,
    stability: Option<Stability>,
    city: Option<(crate::districts::publish::City, &str)>,
    exclude: Option<&std::collections::HashSet<String>>,
) -> Result<crate::app::Loaded> {
    if let Some(Stability { rule: Rule::MaxChangedBlocks(_), .. }) = &stability {
        policy.unit = Unit::Block;
    }
    let block_source = city.as_ref().map(|(_, s)| s.to_string()).unwrap_or_default();
    let mut city = city.map(|(c, _)| c);
    let (inst, matrix, excluded) = match (exclude, city.as_mut()) {
        (Some(ids), Some(c)) => {
            let (i, m, e) = crate::app::exclude_blocks(inst, matrix, c, ids)?;
            (i, m, Some(e))
        }
        _ => (inst, matrix, None),
    };
    Ok(crate::app::Loaded {
        inst,
        matrix,
        policy,
        stability,
        city,
        compare_proxy: false,
        compare_districts: None,
        excluded,
        walks: Some(crate::output::StoredWalks { left_out_ungeocoded: vec![], block_source }),
        pins: None,
        routed: None,
    })
}

/// Build row `k` of a site choice into `schools`: its closed schools closed, one more class
/// at each extended school (`<school>+<n>`), its new sites added from the candidates file.
/// Returns the ids of the new sites (their walks are the candidates' matrix).
fn build_sites(choice: &SitesChoice, schools: &mut Vec<School>) -> Result<Vec<String>> {
    let path = choice.dir.join("sites.csv");
    let file = file_name(&path);
    let text = String::from_utf8(crate::instance::read_input(&path)?)
        .map_err(|_| Error::input(&file, None, None, "is not UTF-8 text"))?;
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers = rd.headers().map_err(|e| Error::csv(&file, e))?.clone();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let (Some(ck), Some(cs), Some(cw)) = (col("k"), col("sites"), col("walk_m")) else {
        return Err(Error::input(&file, Some(1), None, "is not a sites.csv (k, sites, walk_m)"));
    };
    let mut row = None;
    for (i, rec) in rd.records().enumerate() {
        let rec = rec.map_err(|e| Error::csv(&file, e))?;
        if rec.get(ck) == Some(choice.k.to_string().as_str()) {
            row = Some((i as u64 + 2, rec));
        }
    }
    let Some((line, rec)) = row else {
        return Err(Error::input(&file, None, Some("k"), format!("has no row k = {}", choice.k)));
    };
    if rec.get(cw).unwrap_or("").is_empty() {
        return Err(Error::input(&file, Some(line), Some("walk_m"), "this row has no plan"));
    }
    let ids = |c: Option<usize>| -> Vec<String> {
        c.and_then(|c| rec.get(c)).unwrap_or("").split_whitespace().map(String::from).collect()
    };
    for id in ids(col("closed")) {
        schools.retain(|x| x.id != id);
    }
    let candidates = match &choice.candidates {
        Some(p) => crate::instance::read_schools(p)?,
        None => Vec::new(),
    };
    let mut new = Vec::new();
    for id in ids(Some(cs)) {
        if let Some(c) = candidates.iter().find(|c| c.id == id) {
            let mut c = c.clone();
            c.extra.retain(|(k, _)| k != "cost");
            schools.push(c);
            new.push(id);
        } else if let Some(x) =
            id.rsplit_once('+').and_then(|(school, _)| schools.iter_mut().find(|x| x.id == school))
        {
            x.capacity += x.class_size;
            if let Some(r) = &mut x.max_classes {
                *r += 1;
            }
        } else {
            return Err(Error::input(
                &file,
                Some(line),
                Some("sites"),
                format!("'{id}' is neither a candidate (give the candidates file) nor a school's extra class"),
            ));
        }
    }
    Ok(new)
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
    let ctx_base = |e: Error| e.context(&format!("{}: [base]", f.file));
    let city = base_city(f, &base_inst).map_err(ctx_base)?;
    let base_bm = city.as_ref().map(|(c, _, _)| c.matrix.clone());
    let exclude = city.as_ref().and_then(|(_, _, e)| e.as_ref());
    let base_stability = match &f.base.previous {
        Some(p) => {
            Some(stability_of(p, f.base.change_cost, f.base.max_changed_blocks).map_err(ctx_base)?)
        }
        None => None,
    };
    let city_for = |bm: Option<BlockMatrix>| {
        city.as_ref().zip(bm).map(|((c, source, _), matrix)| {
            (crate::districts::publish::City { matrix, ..c.clone() }, source.as_str())
        })
    };
    let mut out = vec![Prepared {
        name: "base".into(),
        description: "the base: schools, pupils and policy as given".into(),
        loaded: loaded(
            base_inst.clone(),
            base_m.clone(),
            policy.clone(),
            base_stability.clone(),
            city_for(base_bm.clone()),
            exclude,
        )?,
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
        if let Some(choice) = &s.sites {
            let new = build_sites(choice, &mut schools).map_err(|e| ctx("sites", e))?;
            if !new.is_empty() {
                let cm = choice.candidate_matrix.as_deref().ok_or_else(|| {
                    bad(&f.file, &format!("{label}: sites"), "new sites need candidate_matrix")
                })?;
                let all = crate::instance::read_schools(choice.candidates.as_deref().unwrap_or(cm))
                    .map_err(|e| ctx("sites.candidates", e))?;
                let cands = Instance::new(all.clone(), pupils_without_fixed(&inst0))
                    .map_err(|e| ctx("sites.candidates", e))?;
                let m = crate::routing::read_matrix(cm, &cands)
                    .map_err(|e| ctx("sites.candidate_matrix", e))?;
                extra.push((m, cands.schools.clone()));
                if base_bm.is_some() {
                    let bm = crate::districts::read_block_matrix(cm, &cands.schools)
                        .map_err(|e| ctx("sites.candidate_matrix", e))?;
                    extra_bm.push((bm, cands.schools.clone()));
                }
            }
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
        if let Some(v) = s.contiguous {
            policy.contiguous = v;
        }
        if let Some(v) = s.whole_segments {
            policy.whole_segments = v;
        }
        if s.split_street_cost.is_some() {
            policy.split_street_cost = s.split_street_cost;
        }
        let stability = match &s.previous {
            Some(path) => Some(
                stability_of(path, s.change_cost, s.max_changed_blocks)
                    .map_err(|e| ctx("previous", e))?,
            ),
            None => base_stability.clone(),
        };
        out.push(Prepared {
            name: s.name.clone(),
            description: s.description.clone().unwrap_or_default(),
            loaded: loaded(inst, matrix, policy, stability, city_for(block_matrix), exclude)
                .map_err(|e| ctx("exclude_blocks", e))?,
        });
    }
    Ok(out)
}

/// One scenario's result: the plan written beside the others, or why it failed.
pub type Outcome = Result<crate::app::PlanResult>;

/// Solve one prepared scenario (every rule of `catchment solve`: stability, contiguity, whole
/// street segments...).
pub fn solve(p: &Prepared) -> Result<crate::app::PlanResult> {
    p.loaded.solve(&|_| ())
}

/// Solve every scenario on at most `jobs` threads. Results in the order given; a scenario that
/// fails (infeasible, contradicting rules, a time limit) is an error naming it, and the others
/// are solved all the same.
pub fn run(prepared: &[Prepared], jobs: usize) -> Result<Vec<Outcome>> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| Error::internal(format!("cannot start worker threads: {e}")))?;
    let cancel = crate::cancel::current();
    let outcomes: Vec<Outcome> = pool.install(|| {
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
    });
    // A stopped run is not a failed scenario: the whole set stops.
    if outcomes.iter().any(|o| matches!(o, Err(Error::Cancelled))) {
        return Err(Error::Cancelled);
    }
    Ok(outcomes)
}

/// Why a scenario failed, in one line for the comparison: the error's kind and its messages.
pub fn failure(e: &Error) -> String {
    let text = match e {
        // Built from the structured reasons: their messages may name pupils, and the
        // comparison is publishable.
        Error::Infeasible(v) => {
            let reasons: Vec<String> = v
                .iter()
                .map(|i| {
                    let mut r = format!("{} short by {}", i.kind, i.shortfall);
                    if !i.schools.is_empty() {
                        r.push_str(&format!(" at school(s) {}", i.schools.join(", ")));
                    }
                    if !i.pupils.is_empty() {
                        r.push_str(&format!(" ({} pupils)", i.pupils.len()));
                    }
                    r
                })
                .collect();
            format!("infeasible: {}", reasons.join("; "))
        }
        e if !e.is_user_error() && !matches!(e, Error::Routing { .. }) => {
            // Not the input's mistake: logged in full.
            tracing::error!("scenario failed: {e}");
            format!("{}: {e}", e.kind())
        }
        e => format!("{}: {e}", e.kind()),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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
    /// Why the scenario has no plan (infeasible, contradicting rules, a time limit...); empty
    /// when it was solved. A failed row's figures other than pupils, schools and seats are 0.
    pub error: String,
}

impl Row {
    /// Whether the scenario was solved.
    pub fn solved(&self) -> bool {
        self.error.is_empty()
    }
}

/// The comparison rows: the base first, then the scenarios in file order; a failed scenario's
/// row says why.
pub fn compare(prepared: &[Prepared], outcomes: &[Outcome]) -> Vec<Row> {
    let base_blocks = match outcomes.first() {
        Some(Ok(r)) => Some(stability::block_schools(&prepared[0].loaded.inst, &r.plan.assign)),
        _ => None,
    };
    prepared
        .iter()
        .zip(outcomes)
        .map(|(p, o)| {
            let inst = &p.loaded.inst;
            let r = match o {
                Ok(r) => r,
                Err(e) => {
                    return Row {
                        scenario: p.name.clone(),
                        description: p.description.clone(),
                        pupils: inst.pupils.len(),
                        schools: inst.schools.len(),
                        seats: inst.schools.iter().map(|s| s.capacity as u64).sum(),
                        total_walk_m: 0,
                        mean_walk_m: 0.0,
                        over_2km: 0,
                        classes: 0,
                        classes_over_size: 0,
                        blocks_changed_vs_base: 0,
                        blocks_compared: 0,
                        certified: false,
                        changed_blocks_vs_previous: None,
                        p_any_overflow: None,
                        expected_schools_over: None,
                        solve_seconds: 0.0,
                        error: failure(e),
                    }
                }
            };
            let s = crate::report::summarize(inst, &p.loaded.matrix, &r.plan);
            let blocks = stability::block_schools(inst, &r.plan.assign);
            let mut compared = 0;
            let mut changed = 0;
            for (b, school) in &blocks {
                if let Some(bs) = base_blocks.as_ref().and_then(|base| base.get(b)) {
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
                changed_blocks_vs_previous: r.stability.as_ref().map(|r| r.changed_blocks),
                p_any_overflow: None,
                expected_schools_over: None,
                solve_seconds: s.timing.solve_seconds,
                error: String::new(),
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
        if !r.solved() {
            s.push_str(&format!(
                "| {} | {} | {} | {} | FAILED: {} |||||||| no plan |\n",
                r.scenario,
                r.pupils,
                r.schools,
                r.seats,
                r.error.replace('|', "/")
            ));
            continue;
        }
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

/// Run a scenario file and write `out/comparison.csv`, `out/comparison.md` and every solved
/// scenario's plan directory `out/<name>/` (the whole directory atomically), each with the
/// inputs it was solved from beside it (`schools.csv` reads back as schools, `matrix.csv`,
/// with the city `block-matrix.csv`), so `catchment check --pupils ... --plan out/<name>`
/// verifies it as it is. A mistake in the file or its inputs stops the batch before any
/// solve; a scenario that cannot be solved is a row saying why ([`Row::error`]) and has no
/// directory, and the others are solved and written.
pub fn batch(path: &Path, out: &Path, jobs: usize) -> Result<Vec<Row>> {
    // Refused before any work: the output replaces the directory whole.
    crate::instance::ensure_replaceable(out)?;
    let file = load(path)?;
    let prepared = prepare(&file)?;
    let mut outcomes = run(&prepared, jobs)?;
    let mut rows = compare(&prepared, &outcomes);
    // The robustness of each scenario's districts: the simulation with its default model; and
    // the blocks of the whole city whose district differs from the base's.
    let mut base_district: Option<Vec<Option<String>>> = None;
    for ((p, o), row) in prepared.iter().zip(&outcomes).zip(rows.iter_mut()) {
        crate::cancel::check()?;
        let (Some(city), Ok(r)) = (&p.loaded.city, o) else { continue };
        let inst = crate::effective_instance(&p.loaded.inst, &r.plan.policy);
        let change = match (&r.stability, &p.loaded.stability) {
            (Some(r), Some(st)) => r.change_cost_m.map(|c| (&st.previous, c)),
            _ => None,
        };
        let districts = crate::districts::publish::district_rows(
            &inst,
            &r.plan,
            &city.blocks,
            &city.matrix,
            change,
        )?;
        let school: Vec<Option<usize>> = districts.iter().map(|d| d.school).collect();
        let ids: Vec<Option<String>> =
            school.iter().map(|s| s.map(|s| inst.schools[s].id.clone())).collect();
        if p.name == "base" {
            base_district = Some(ids.clone());
        }
        match &base_district {
            Some(base) if base.len() == ids.len() => {
                row.blocks_compared = ids.len();
                row.blocks_changed_vs_base =
                    ids.iter().zip(base.iter()).filter(|(a, b)| a != b).count();
            }
            _ => {}
        }
        let residents: Vec<u64> = districts.iter().map(|d| d.residents as u64).collect();
        let inputs = crate::report::simulate::school_inputs(
            &inst.schools,
            &r.plan.assign,
            &r.plan.classes,
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
                if !r.solved() {
                    let mut v = vec![r.scenario.clone(), "failed: no plan".to_string()];
                    v.extend(std::iter::repeat_n("–".to_string(), 5));
                    return v;
                }
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
    for r in outcomes.iter_mut().flatten() {
        r.comparison = Some(page_table.clone());
    }
    crate::instance::write_atomically(out, |dir| {
        for (p, o) in prepared.iter().zip(&outcomes) {
            // Cancelled: nothing is kept (the directory is written whole or not at all).
            crate::cancel::check()?;
            if let Ok(r) = o {
                r.write(&p.loaded, &dir.join(&p.name), &|_| ())?;
            }
        }
        std::fs::write(dir.join("comparison.csv"), &csv)
            .map_err(|e| Error::io(dir.join("comparison.csv"), e))?;
        std::fs::write(dir.join("comparison.md"), &md)
            .map_err(|e| Error::io(dir.join("comparison.md"), e))?;
        Ok(())
    })?;
    Ok(rows)
}
