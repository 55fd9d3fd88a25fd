//! Where to build: which of the candidate sites, opened beside the current schools, shorten
//! the pupils' walks most ([`crate::solve::facility`] is the index-space problem).
//!
//! [`load`] reads the instance and its matrix as `solve` takes them, the candidates (read like
//! schools: `id,name,lat,lon,capacity | max_classes`, and an optional `cost`) and the
//! candidates' walks (a matrix file for the same pupils and the candidates). The schools file
//! may list no school (a new town, the p-median): the sites chosen then seat every pupil, the
//! matrix may be left out ([`load_inputs`]), and k = 0 seats nobody ([`NO_SCHOOL_YET`]).
//! [`choose`] solves
//! k = 0, 1, ..., K: for each k the best choice found (exactly by Cbc where the size allows,
//! else by the heuristic), its proved lower bound and gap, and for the largest k each chosen
//! site's best replacement. [`Sites::write`] writes `sites.csv`, `sites.md`, `sites.geojson`,
//! `sites.html` (the map) and every k's plan
//! (`plans/k<N>/`, the way `solve` writes a plan, with the walks it was solved on, so
//! `catchment check --pupils ... --plan plans/k<N>` verifies it).

use crate::error::{Error, Result};
use crate::instance::{id_cmp, Instance, School};
use crate::output::{write_plan, Extras, StoredWalks};
use crate::plan::{Plan, Policy};
use crate::routing::{read_matrix, Matrix, UNREACHABLE};
use crate::solve::facility::{better, Choice, Closures, Facility};
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
    /// Per candidate: the current school it extends by one class (an extension stands at the
    /// school's place and walks its walks), or `None` for a new site.
    pub extends: Vec<Option<usize>>,
    /// No pupil may walk farther (meters; a fixed school excepted): the choice must seat every
    /// pupil within it, and every k's plan is solved under it.
    pub max_walk: Option<u32>,
    /// Further years' cohorts: the sites chosen serve every year, each year is assigned on its
    /// own with the same seats, and the walk of a choice is the sum over the years.
    pub more_years: Vec<Cohort>,
    /// The first cohort's label (its pupils file's name without extension).
    pub label: String,
    /// Current schools that may close (indices into `inst.schools`, ascending); none unless
    /// [`add_closures`] read a list.
    pub closable: Vec<usize>,
    /// What closing each school of `closable` saves (0 without a `saving` column).
    pub saving: Vec<f64>,
    /// Exactly this many of `closable` close; `None`: any number (a closure then only frees
    /// budget).
    pub close: Option<usize>,
    /// What the choice makes least (the total walk unless set).
    pub objective: Objective,
}

/// Another year's pupils with their walks to the current schools and to the candidates.
#[derive(Debug, Clone)]
pub struct Cohort {
    /// The cohort's label (its pupils file's name without extension).
    pub label: String,
    /// The current schools and this year's pupils.
    pub inst: Instance,
    /// Walks to the current schools.
    pub matrix: Matrix,
    /// Walks to the candidates (columns in `candidates` order).
    pub candidate_matrix: Matrix,
}

fn label_of(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "cohort".into())
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

/// How a row reads with no current school and no site open (k = 0 in a new town): nobody
/// has a seat, so it has no walk and no plan.
pub const NO_SCHOOL_YET: &str = "no current school and no site: no pupil has a seat, no plan";

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
    load_with(schools, pupils, matrix, Some((candidates, candidate_matrix)), None, &[])
}

/// What a site choice may take and close besides the candidate sites: extensions of current
/// schools and schools that may close.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Extra classes at current schools ([`add_extensions`]).
    pub extensions: Option<&'a Path>,
    /// Current schools that may close ([`add_closures`]).
    pub closures: Option<&'a Path>,
    /// Exactly this many of them close (`None`: any number).
    pub close: Option<usize>,
}

/// [`load`] with the candidate sites optional, extensions of current schools
/// ([`add_extensions`]; at least one of the two must be given) and further years' cohorts
/// (pupils files read with the same matrices: block-keyed matrices serve any cohort).
pub fn load_with(
    schools: &Path,
    pupils: &Path,
    matrix: &Path,
    candidates: Option<(&Path, &Path)>,
    extensions: Option<&Path>,
    cohorts: &[std::path::PathBuf],
) -> Result<SitesInput> {
    load_inner(schools, pupils, Some(matrix), candidates, extensions, cohorts, true)
}

/// The walks to the current schools: read from `path` for `inst`; without a file, no walk
/// (only when there is no current school).
fn school_matrix(path: Option<&Path>, inst: &Instance) -> Result<Matrix> {
    match path {
        Some(p) => read_matrix(p, inst),
        None if inst.schools.is_empty() => {
            Ok(Matrix::new(inst.pupils.len(), 0, "no current school"))
        }
        None => Err(Error::policy(
            format!(
                "no matrix: the walks of the pupils to the current schools ({} in the schools \
                 file) are needed; only a schools file listing no school needs none",
                inst.schools.len()
            ),
            None,
        )),
    }
}

/// [`load_with`]; `need_options`: refuse inputs without candidates or extensions. The schools
/// file may list no school (a new town: every school is chosen); the matrix may then be left
/// out.
fn load_inner(
    schools: &Path,
    pupils: &Path,
    matrix: Option<&Path>,
    candidates: Option<(&Path, &Path)>,
    extensions: Option<&Path>,
    cohorts: &[std::path::PathBuf],
    need_options: bool,
) -> Result<SitesInput> {
    let inst = crate::instance::read_instance_maybe_without_schools(schools, pupils)?;
    let matrix_path = matrix;
    let matrix = school_matrix(matrix, &inst)?;
    let mut input = match candidates {
        Some((c, cm)) => load_candidates(inst, matrix, c, cm)?,
        None => {
            let n = inst.pupils.len();
            let source = matrix.source.clone();
            SitesInput {
                inst,
                matrix,
                candidates: Vec::new(),
                cost: Vec::new(),
                has_cost: false,
                candidate_matrix: Matrix::new(n, 0, source),
                extends: Vec::new(),
                max_walk: None,
                more_years: Vec::new(),
                label: String::new(),
                closable: Vec::new(),
                saving: Vec::new(),
                close: None,
                objective: Objective::Walk,
            }
        }
    };
    input.label = label_of(pupils);
    for c in cohorts {
        let inst = crate::instance::read_instance_maybe_without_schools(schools, c)?;
        let matrix = school_matrix(matrix_path, &inst)?;
        let candidate_matrix = match candidates {
            Some((_, cm)) => read_matrix(cm, &candidate_instance(&inst, &input.candidates)?)?,
            None => Matrix::new(inst.pupils.len(), 0, matrix.source.clone()),
        };
        let label = label_of(c);
        let looks_like_k = label.len() > 1
            && label.starts_with('k')
            && label[1..].bytes().all(|b| b.is_ascii_digit());
        if looks_like_k {
            return Err(Error::policy(
                format!("a cohort may not be called '{label}' (its plans go to plans/<name>/, beside plans/k<N>/): rename the pupils file"),
                None,
            ));
        }
        if label == input.label || input.more_years.iter().any(|y| y.label == label) {
            return Err(Error::policy(
                format!("two cohorts are called '{label}': give the pupils files different names"),
                None,
            ));
        }
        input.more_years.push(Cohort { label, inst, matrix, candidate_matrix });
    }
    if let Some(e) = extensions {
        add_extensions(&mut input, e)?;
    }
    if need_options && input.candidates.is_empty() && candidates.is_none() {
        return Err(Error::policy(
            "nothing to choose from: give candidate sites or extensions (classes to add)",
            None,
        ));
    }
    Ok(input)
}

/// [`load_with`] with closures: `options` names the extensions, the schools that may close
/// and how many close. Either kind of option, or candidate sites, must be given.
pub fn load_options(
    schools: &Path,
    pupils: &Path,
    matrix: &Path,
    candidates: Option<(&Path, &Path)>,
    options: Options,
    cohorts: &[std::path::PathBuf],
) -> Result<SitesInput> {
    load_inputs(schools, pupils, Some(matrix), candidates, options, cohorts)
}

/// [`load_options`] with the matrix of the current schools optional: a schools file that
/// lists no school (a CSV header without rows; a new town, or the p-median) needs none, and
/// every pupil is then seated by the sites chosen (k = 0 seats nobody and has no plan).
pub fn load_inputs(
    schools: &Path,
    pupils: &Path,
    matrix: Option<&Path>,
    candidates: Option<(&Path, &Path)>,
    options: Options,
    cohorts: &[std::path::PathBuf],
) -> Result<SitesInput> {
    let need_options = match options.closures {
        None if options.close.is_some() => {
            return Err(Error::policy(
                "a number of closures needs the list of schools that may close",
                None,
            ));
        }
        None => true,
        // Closures alone are a choice too.
        Some(_) => false,
    };
    let mut input =
        load_inner(schools, pupils, matrix, candidates, options.extensions, cohorts, need_options)?;
    let Some(closures) = options.closures else { return Ok(input) };
    add_closures(&mut input, closures, options.close)?;
    Ok(input)
}

fn load_candidates(
    inst: Instance,
    matrix: Matrix,
    candidates: &Path,
    candidate_matrix: &Path,
) -> Result<SitesInput> {
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
    let candidate_matrix = read_matrix(candidate_matrix, &candidate_instance(&inst, &cands)?)?;
    let extends = vec![None; cands.len()];
    Ok(SitesInput {
        inst,
        matrix,
        candidates: cands,
        cost,
        has_cost,
        candidate_matrix,
        extends,
        max_walk: None,
        more_years: Vec::new(),
        label: String::new(),
        closable: Vec::new(),
        saving: Vec::new(),
        close: None,
        objective: Objective::Walk,
    })
}

/// The pupils of `inst` with the candidates as schools (no fixed schools): what the
/// candidates' matrix is read against.
fn candidate_instance(inst: &Instance, candidates: &[School]) -> Result<Instance> {
    let pupils: Vec<_> = inst
        .pupils
        .iter()
        .cloned()
        .map(|mut p| {
            p.fixed_school = None;
            p
        })
        .collect();
    Instance::new(candidates.to_vec(), pupils)
}

/// Add extensions of current schools from `path`, a CSV `school_id,classes[,cost]`: up to
/// `classes` more classes at that school, each costing `cost` (per class). Each extra class is
/// one more option — a candidate `<school>+<n>` at the school's own place, with the school's
/// walks and one class of seats — so the site choice weighs building new schools and
/// enlarging old ones alike, and `k` counts options (a new site or one more class). When any
/// option has a cost, every option needs one.
pub fn add_extensions(input: &mut SitesInput, path: &Path) -> Result<()> {
    use crate::error::InputProblem;
    let (file, headers, records) = read_list(path)?;
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let (Some(c_school), Some(c_classes)) =
        (col(&["school_id", "school", "id"]), col(&["classes"]))
    else {
        return Err(Error::Input(vec![InputProblem::new(
            &file,
            None,
            None,
            "needs the columns school_id and classes (and optionally cost, per class)",
        )]));
    };
    let c_cost = col(&["cost"]);
    let mut problems = Vec::new();
    let mut added: Vec<(School, f64, usize)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (line, rec) in &records {
        let line = Some(*line);
        let id = rec.get(c_school).unwrap_or("").to_string();
        let Some(j) = input.inst.school_index(&id) else {
            problems.push(InputProblem::new(
                &file,
                line,
                Some("school_id"),
                format!("'{id}' is not a current school"),
            ));
            continue;
        };
        if !seen.insert(j) {
            problems.push(InputProblem::new(
                &file,
                line,
                Some("school_id"),
                format!("school '{id}' is listed twice"),
            ));
            continue;
        }
        let classes = match rec.get(c_classes).unwrap_or("").parse::<u32>() {
            Ok(c) if (1..=20).contains(&c) => c,
            _ => {
                problems.push(InputProblem::new(
                    &file,
                    line,
                    Some("classes"),
                    "classes must be a whole number from 1 to 20",
                ));
                continue;
            }
        };
        let cost = match c_cost.map(|c| rec.get(c).unwrap_or("")) {
            None => None,
            Some(t) => match t.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Some(x),
                _ => {
                    problems.push(InputProblem::new(
                        &file,
                        line,
                        Some("cost"),
                        "cost (per class) must be a number of 0 or more",
                    ));
                    continue;
                }
            },
        };
        let school = &input.inst.schools[j];
        for e in 1..=classes {
            added.push((
                School {
                    id: format!("{}+{e}", school.id),
                    name: format!("{}: class {e} more", school.name),
                    capacity: school.class_size,
                    max_classes: Some(1),
                    min_pupils: 0,
                    min_classes: None,
                    extra: Vec::new(),
                    ..school.clone()
                },
                cost.unwrap_or(0.0),
                j,
            ));
        }
    }
    let ext_cost = c_cost.is_some();
    if ext_cost != input.has_cost && !input.candidates.is_empty() && !added.is_empty() {
        problems.push(InputProblem::new(
            &file,
            None,
            Some("cost"),
            if ext_cost {
                "extensions have costs but the candidate sites have none: give both or neither"
            } else {
                "the candidate sites have costs: give the extensions a cost column too"
            },
        ));
    }
    for (c, ..) in &added {
        if input.candidates.iter().any(|x| x.id == c.id) {
            problems.push(InputProblem::new(
                &file,
                None,
                Some("school_id"),
                format!("extension '{}' has the id of a candidate site", c.id),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    input.has_cost = input.has_cost || ext_cost;
    // Rebuild the candidates (sorted by id) with their columns: a site's from the candidates'
    // matrix, an extension's from its school's; the same for every year.
    let mut all: Vec<(School, f64, Option<usize>, Col)> = Vec::new();
    for (c, s) in input.candidates.iter().enumerate() {
        all.push((s.clone(), input.cost[c], input.extends[c], Col::Site(c)));
    }
    for (s, cost, j) in added {
        all.push((s, cost, Some(j), Col::School(j)));
    }
    all.sort_by(|a, b| id_cmp(&a.0.id, &b.0.id));
    let cols: Vec<&Col> = all.iter().map(|a| &a.3).collect();
    let sites = !input.candidates.is_empty();
    input.candidate_matrix = columns(&input.matrix, &input.candidate_matrix, &cols, sites);
    for y in &mut input.more_years {
        y.candidate_matrix = columns(&y.matrix, &y.candidate_matrix, &cols, sites);
    }
    input.candidates = all.iter().map(|a| a.0.clone()).collect();
    input.cost = all.iter().map(|a| a.1).collect();
    input.extends = all.iter().map(|a| a.2).collect();
    Ok(())
}

/// A list's records with their line numbers.
type Records = Vec<(u64, csv::StringRecord)>;

/// A small CSV list (extensions, closures): its file name, its headers in lower case and its
/// records with their line numbers.
fn read_list(path: &Path) -> Result<(String, Vec<String>, Records)> {
    let file = crate::instance::file_name(path);
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rd = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = rd
        .headers()
        .map_err(|e| Error::csv(&file, e))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let mut records = Vec::new();
    for (i, rec) in rd.records().enumerate() {
        records.push((i as u64 + 2, rec.map_err(|e| Error::csv(&file, e))?));
    }
    Ok((file, headers, records))
}

/// Read the current schools that may close from `path`, a CSV `school_id[,saving]` (what
/// closing the school saves, in the candidates' cost unit: it frees budget), and how many
/// close: `exactly` N of them, or any number (`None`; closing then only frees budget, as a
/// closure never shortens a walk). A school may not close when pupils are fixed to it or
/// when it is also to be extended.
pub fn add_closures(input: &mut SitesInput, path: &Path, exactly: Option<usize>) -> Result<()> {
    use crate::error::InputProblem;
    let (file, headers, records) = read_list(path)?;
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let Some(c_school) = col(&["school_id", "school", "id"]) else {
        return Err(Error::Input(vec![InputProblem::new(
            &file,
            None,
            None,
            "needs the column school_id (and optionally saving: what closing it saves)",
        )]));
    };
    let c_saving = col(&["saving", "savings"]);
    let mut problems = Vec::new();
    let mut list: Vec<(usize, f64)> = Vec::new();
    for (line, rec) in &records {
        let problem =
            |field: &str, m: String| InputProblem::new(&file, Some(*line), Some(field), m);
        let id = rec.get(c_school).unwrap_or("");
        let Some(j) = input.inst.school_index(id) else {
            problems.push(problem("school_id", format!("'{id}' is not a current school")));
            continue;
        };
        if list.iter().any(|&(x, _)| x == j) {
            problems.push(problem("school_id", format!("school '{id}' is listed twice")));
            continue;
        }
        if input.extends.contains(&Some(j)) {
            problems.push(problem(
                "school_id",
                format!("school '{id}' is also to be extended: it may close or grow, not both"),
            ));
            continue;
        }
        let fixed = std::iter::once(&input.inst)
            .chain(input.more_years.iter().map(|y| &y.inst))
            .flat_map(|inst| &inst.pupils)
            .filter(|p| p.fixed_school.as_deref() == Some(id))
            .count();
        if fixed > 0 {
            problems.push(problem(
                "school_id",
                format!("school '{id}' has {fixed} pupils fixed to it: it cannot close"),
            ));
            continue;
        }
        let saving = match c_saving.map(|c| rec.get(c).unwrap_or("")) {
            None | Some("") => 0.0,
            Some(t) => match t.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => x,
                _ => {
                    problems.push(problem("saving", "saving must be a number of 0 or more".into()));
                    continue;
                }
            },
        };
        list.push((j, saving));
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    if let Some(n) = exactly {
        if n > list.len() {
            return Err(Error::policy(
                format!("{n} schools are to close, but {file} lists {} that may", list.len()),
                None,
            ));
        }
    }
    list.sort_by_key(|&(j, _)| j);
    input.closable = list.iter().map(|&(j, _)| j).collect();
    input.saving = list.iter().map(|&(_, s)| s).collect();
    input.close = exactly;
    input.has_cost = input.has_cost || c_saving.is_some();
    Ok(())
}

/// Where a candidate's column comes from.
enum Col {
    /// The candidates' matrix, this column.
    Site(usize),
    /// The current schools' matrix, this school's column.
    School(usize),
}

/// The candidates' matrix with the columns `cols` (`sites`: the candidates' matrix `cm` has
/// columns; without, its times are not needed).
fn columns(m: &Matrix, cm: &Matrix, cols: &[&Col], sites: bool) -> Matrix {
    let n_p = m.n_pupils;
    let pick = |a: &[u32], b: &[u32], p: usize, col: &Col| match *col {
        Col::Site(c) => b[p * cm.n_schools + c],
        Col::School(j) => a[p * m.n_schools + j],
    };
    let mut meters = Vec::with_capacity(n_p * cols.len());
    for p in 0..n_p {
        meters.extend(cols.iter().map(|col| pick(&m.meters, &cm.meters, p, col)));
    }
    let seconds = match (&m.seconds, &cm.seconds) {
        (Some(a), Some(b)) => Some((a, b.as_slice())),
        (Some(a), None) if !sites => Some((a, &[][..])),
        _ => None,
    }
    .map(|(a, b)| {
        let mut v = Vec::with_capacity(n_p * cols.len());
        for p in 0..n_p {
            v.extend(cols.iter().map(|col| pick(a, b, p, col)));
        }
        v
    });
    let source = if sites { cm.source.clone() } else { m.source.clone() };
    Matrix {
        n_pupils: n_p,
        n_schools: cols.len(),
        meters,
        seconds,
        source,
        snap_m: m.snap_m.clone(),
        partial: None,
    }
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
    /// With several cohorts: each year's least walk with these sites (the first cohort's
    /// first); `walk_m` is their sum. Empty for one cohort.
    pub years_m: Vec<u64>,
    /// The current schools closed (ids).
    pub closed: Vec<String>,
    /// With [`Objective::Longest`]: the least longest walk of a pupil (meters, any cohort,
    /// fixed pupils apart) reached with at most k options; `walk_m` is the least walk within it.
    pub longest_m: Option<u32>,
    /// A proved lower bound on that longest walk (equal to it when proved least).
    pub longest_bound_m: Option<u32>,
}

/// What a site choice makes least.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// The total walk of every pupil.
    #[default]
    Walk,
    /// The longest walk of any pupil, then the total walk within it.
    Longest,
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
    /// Pupils in the instance (all cohorts together).
    pub pupils: usize,
    /// The cohorts' labels, the first cohort's first (one label: one year).
    pub years: Vec<String>,
    /// With several cohorts, the further years' plans: (year index from 1, k, instance,
    /// walks, plan).
    pub more_plans: Vec<(usize, usize, Instance, Matrix, Plan)>,
    /// The current schools, for the map file.
    pub schools: Vec<School>,
    /// The options, each with whether it extends a current school, for the map file.
    pub options: Vec<(School, bool)>,
    /// The current schools that may close (ids).
    pub closures: Vec<String>,
    /// Exactly this many of them close (`None`: any number).
    pub close: Option<usize>,
    /// What the choice makes least.
    pub objective: Objective,
}

/// The index-space problem: current schools, then candidates.
pub fn facility(input: &SitesInput, budget: Option<f64>) -> Result<Facility> {
    let year = |inst: &Instance, m: &Matrix, cm: &Matrix| -> Result<Problem> {
        let base = Problem::pupil_level(inst, m, input.max_walk)?;
        let n = inst.schools.len() + input.candidates.len();
        let mut cost = Vec::with_capacity(base.n_units() * n);
        for u in 0..base.n_units() {
            cost.extend_from_slice(base.row(u));
            cost.extend(cm.row(u).iter().map(|&w| match input.max_walk {
                Some(limit) if w != UNREACHABLE && w > limit => UNREACHABLE,
                _ => w,
            }));
        }
        let mut cap = base.cap.clone();
        cap.extend(input.candidates.iter().map(|c| c.capacity));
        let mut min = base.min.clone();
        min.extend(input.candidates.iter().map(|c| c.min_pupils));
        Ok(Problem { n_schools: n, cap, min, cost, weight: base.weight, fixed: base.fixed })
    };
    Ok(Facility {
        problem: year(&input.inst, &input.matrix, &input.candidate_matrix)?,
        more_years: input
            .more_years
            .iter()
            .map(|y| year(&y.inst, &y.matrix, &y.candidate_matrix))
            .collect::<Result<_>>()?,
        n_existing: input.inst.schools.len(),
        cost: input.cost.clone(),
        budget,
        closures: Closures {
            schools: input.closable.clone(),
            saving: input.saving.clone(),
            exactly: input.close,
        },
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

/// The best choice found of at most `k` options on `f`, its proved lower bound and how it
/// was found: the heuristic grown from `prev` (the answer for k - 1, evaluated again on `f`),
/// and with `exact` Cbc's MIP; the Lagrangian bound beside.
fn best_choice(
    f: &Facility,
    k: usize,
    prev: Option<&Choice>,
    exact: bool,
    mip_seconds: u32,
) -> Result<(Choice, u64, String)> {
    let empty = Choice { open: Vec::new(), closed: Vec::new(), walk: None };
    let start = prev.unwrap_or(&empty);
    let mut best = f.heuristic(k, start).map_err(solver_error)?;
    if let Some(p) = prev {
        let again = Choice { walk: f.walk(&p.open, &p.closed).map_err(solver_error)?, ..p.clone() };
        if better(again.walk, best.walk) && again.open.len() <= k {
            best = again;
        }
    }
    let (mut bound, mut label) = (0u64, String::new());
    if k == 0 && f.closures.schools.is_empty() {
        // No choice to make: the flow solver's optimum is exact.
        bound = best.walk.unwrap_or(0);
        label = "exact (flow solver; no site to choose)".into();
    } else {
        if exact {
            let a = f.mip(k, mip_seconds).map_err(solver_error)?;
            if let Some(c) = a.choice {
                if better(c.walk, best.walk) {
                    best = c;
                }
            }
            bound = a.bound;
            label = if a.proved {
                "exact (Cbc branch and bound, proved optimal)".into()
            } else {
                format!("Cbc stopped at its time limit ({mip_seconds} s): best of Cbc and the heuristic")
            };
        }
        let lag = f.lagrangian_bound(k, best.walk, LAGRANGIAN_STEPS);
        if !exact {
            label = "heuristic (greedy and swaps, flow solver); Lagrangian bound".into();
        }
        bound = bound.max(lag);
    }
    if let Some(w) = best.walk {
        bound = bound.min(w);
    }
    Ok((best, bound, label))
}

/// Whether a longest walk of `limit` is reachable with at most `k` options: `Some(true)` when
/// a choice within it was found (the heuristic's, else Cbc's), `Some(false)` when Cbc proved
/// none exists, `None` when neither is known (the heuristic alone, or Cbc's time limit).
fn reachable(
    f: &Facility,
    limit: u32,
    k: usize,
    start: &Choice,
    exact: bool,
    mip_seconds: u32,
) -> Result<Option<bool>> {
    let fl = f.with_max_walk(limit);
    if fl.heuristic(k, start).map_err(solver_error)?.walk.is_some() {
        return Ok(Some(true));
    }
    if !exact {
        return Ok(None);
    }
    let a = fl.mip(k, mip_seconds).map_err(solver_error)?;
    Ok(match (a.choice, a.proved) {
        (Some(_), _) => Some(true),
        (None, true) => Some(false),
        (None, false) => None,
    })
}

/// The least longest walk reachable with at most `k` options, and a proved lower bound on it:
/// bisection over the distinct walks, each step a question of [`reachable`]. Every pupil walks
/// at least to its nearest place, which bounds it from below without any solver; a step Cbc
/// proves unreachable raises the bound. `None` when no choice seats every pupil.
fn least_longest(
    f: &Facility,
    k: usize,
    start: &Choice,
    exact: bool,
    mip_seconds: u32,
) -> Result<Option<(u32, u32)>> {
    let mut nearest = 0u32;
    for p in f.years() {
        for u in (0..p.n_units()).filter(|&u| p.fixed[u].is_none()) {
            let m = p.row(u).iter().copied().filter(|&c| c != UNREACHABLE).min();
            nearest = nearest.max(m.unwrap_or(UNREACHABLE));
        }
    }
    let values: Vec<u32> = f.distinct_walks().into_iter().filter(|&v| v >= nearest).collect();
    let Some(&top) = values.last() else { return Ok(None) };
    if reachable(f, top, k, start, exact, mip_seconds)? != Some(true) {
        return Ok(None);
    }
    let (mut lo, mut hi) = (0usize, values.len() - 1);
    // The smallest index whose value is known or assumed unreachable's successor.
    let mut proved_from = 0usize;
    while lo < hi {
        crate::cancel::check()?;
        let mid = (lo + hi) / 2;
        match reachable(f, values[mid], k, start, exact, mip_seconds)? {
            Some(true) => hi = mid,
            Some(false) => {
                lo = mid + 1;
                proved_from = mid + 1;
            }
            None => lo = mid + 1,
        }
    }
    Ok(Some((values[hi], values[proved_from.min(hi)].max(nearest))))
}

/// Choose at most k = 0, 1, ..., `k_max` candidates (within `budget`) with the least walk,
/// or, with [`Objective::Longest`], the least longest walk and then the least walk within it.
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
    let n_p = input.inst.pupils.len()
        + input.more_years.iter().map(|y| y.inst.pupils.len()).sum::<usize>();
    let multi = !input.more_years.is_empty();
    let exact = match method {
        Method::Exact => true,
        Method::Heuristic => false,
        Method::Auto => {
            n_p.saturating_mul(input.candidates.len() + input.closable.len()) <= EXACT_UP_TO
        }
    };
    if !exact && !input.closable.is_empty() && input.close.is_none() {
        return Err(Error::policy(
            "the heuristic closes an exact number of schools: give that number, or choose \
             exactly (Cbc), which weighs closures that only free budget",
            None,
        ));
    }
    let ids = |open: &[usize]| -> Vec<String> {
        open.iter().map(|&c| input.candidates[c].id.clone()).collect()
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut choices: Vec<Choice> = Vec::new();
    // Per k: the longest walk the choice and its plan keep to (the objective's, or the rule's).
    let mut limits: Vec<Option<u32>> = Vec::new();
    for k in 0..=k_max.min(input.candidates.len()) {
        crate::cancel::check()?;
        let prev = choices.last();
        let (fk, longest) = match input.objective {
            Objective::Walk => (None, None),
            Objective::Longest => {
                let start =
                    prev.cloned().unwrap_or(Choice { open: vec![], closed: vec![], walk: None });
                match least_longest(&f, k, &start, exact, mip_seconds)? {
                    Some((l, b)) => (Some(f.with_max_walk(l)), Some((l, b))),
                    None => (None, None),
                }
            }
        };
        let fk_ref = fk.as_ref().unwrap_or(&f);
        let (best, bound, method_label) =
            if input.objective == Objective::Longest && longest.is_none() {
                let none = Choice { open: vec![], closed: vec![], walk: None };
                (none, 0, "no choice seats every pupil".to_string())
            } else {
                best_choice(fk_ref, k, prev, exact, mip_seconds)?
            };
        let walk = best.walk;
        let method_label =
            if walk.is_none() && best.open.is_empty() && input.inst.schools.is_empty() {
                NO_SCHOOL_YET.to_string()
            } else {
                method_label
            };
        let saved = |prev: Option<&Row>| match (prev.and_then(|r| r.walk_m), walk) {
            (Some(a), Some(b)) => Some(a.saturating_sub(b)),
            _ => None,
        };
        let row = Row {
            k,
            sites: ids(&best.open),
            // A row without a plan closes nothing.
            closed: best
                .closed
                .iter()
                .filter(|_| walk.is_some())
                .map(|&c| input.inst.schools[input.closable[c]].id.clone())
                .collect(),
            cost: f.cost_of(&best.open, &best.closed),
            walk_m: walk,
            saved_m: saved(rows.last()),
            saved_total_m: saved(rows.first()),
            mean_walk_m: walk.map(|w| if n_p == 0 { 0.0 } else { w as f64 / n_p as f64 }),
            bound_m: walk.map(|_| bound),
            gap: walk.map(|w| if w == 0 { 0.0 } else { (w - bound) as f64 / w as f64 }),
            method: method_label,
            years_m: match walk {
                Some(_) if multi => fk_ref
                    .walk_by_year(&best.open, &best.closed)
                    .map_err(solver_error)?
                    .unwrap_or_default(),
                _ => Vec::new(),
            },
            longest_m: longest.map(|l| l.0),
            longest_bound_m: longest.map(|l| l.1),
        };
        rows.push(row);
        choices.push(best);
        limits.push(longest.map(|l| l.0).or(input.max_walk));
    }
    // Alternatives for the largest k with sites.
    let mut alternatives = Vec::new();
    let mut alternatives_k = 0;
    if let Some((k, last)) =
        choices.iter().enumerate().rev().find(|(_, c)| !c.open.is_empty() && c.walk.is_some())
    {
        alternatives_k = k;
        let limited;
        let fa = match (input.objective, rows[k].longest_m) {
            (Objective::Longest, Some(l)) => {
                limited = f.with_max_walk(l);
                &limited
            }
            _ => &f,
        };
        let closed = &last.closed;
        for &o in &last.open {
            crate::cancel::check()?;
            let rest: Vec<usize> = last.open.iter().copied().filter(|&x| x != o).collect();
            let without = fa.evaluate(&rest, closed).map_err(solver_error)?.map(|s| s.objective);
            let mut best: Option<(usize, u64)> = None;
            for c in (0..fa.n_candidates()).filter(|c| !last.open.contains(c)) {
                let mut set = rest.clone();
                set.push(c);
                set.sort_unstable();
                if !fa.within_budget(&set, closed) {
                    continue;
                }
                if let Some(s) = fa.evaluate(&set, closed).map_err(solver_error)? {
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
    let mut more_plans = Vec::new();
    for (k, c) in choices.iter().enumerate() {
        let Some(walk) = c.walk else { continue };
        crate::cancel::check()?;
        let policy = Policy { max_walk: limits[k], ..Policy::default() };
        let years: Vec<u64> = if multi { rows[k].years_m.clone() } else { vec![walk] };
        let (inst, m) = instance_with(input, &c.open, &c.closed)?;
        let plan = crate::pipeline::solve_plan(&inst, &m, &policy, None)?;
        let check = |y: usize, plan: &Plan| {
            if plan.objective == years[y] {
                Ok(())
            } else {
                Err(Error::internal(format!(
                    "the plan for k = {k}, year {} walks {} m, the site choice {} m",
                    y + 1,
                    plan.objective,
                    years[y]
                )))
            }
        };
        check(0, &plan)?;
        plans.push((k, inst, m, plan));
        for (i, y) in input.more_years.iter().enumerate() {
            crate::cancel::check()?;
            let (inst, m) = instance_of_year(
                input,
                &y.inst,
                &y.matrix,
                &y.candidate_matrix,
                &c.open,
                &c.closed,
            )?;
            let plan = crate::pipeline::solve_plan(&inst, &m, &policy, None)?;
            check(i + 1, &plan)?;
            more_plans.push((i + 1, k, inst, m, plan));
        }
    }
    Ok(Sites {
        rows,
        alternatives,
        alternatives_k,
        plans,
        budget,
        has_cost: input.has_cost,
        pupils: n_p,
        years: std::iter::once(input.label.clone())
            .chain(input.more_years.iter().map(|y| y.label.clone()))
            .collect(),
        more_plans,
        schools: input.inst.schools.clone(),
        options: input
            .candidates
            .iter()
            .zip(&input.extends)
            .map(|(c, e)| (c.clone(), e.is_some()))
            .collect(),
        closures: input.closable.iter().map(|&j| input.inst.schools[j].id.clone()).collect(),
        close: input.close,
        objective: input.objective,
    })
}

/// The instance with the current schools (but the closures `closed`, indices into
/// `input.closable`) and the candidates `open`, and its matrix.
pub fn instance_with(
    input: &SitesInput,
    open: &[usize],
    closed: &[usize],
) -> Result<(Instance, Matrix)> {
    instance_of_year(input, &input.inst, &input.matrix, &input.candidate_matrix, open, closed)
}

/// [`instance_with`] for one year's pupils and walks.
fn instance_of_year(
    input: &SitesInput,
    year: &Instance,
    m: &Matrix,
    cm: &Matrix,
    open: &[usize],
    closed: &[usize],
) -> Result<(Instance, Matrix)> {
    let mut schools = year.schools.clone();
    for &c in open {
        match input.extends[c] {
            // One more class at a current school: its seats and rooms grow.
            Some(j) => {
                schools[j].capacity += input.candidates[c].capacity;
                if let Some(r) = &mut schools[j].max_classes {
                    *r += 1;
                }
            }
            None => schools.push(input.candidates[c].clone()),
        }
    }
    let shut: Vec<&str> =
        closed.iter().map(|&c| input.inst.schools[input.closable[c]].id.as_str()).collect();
    schools.retain(|s| !shut.contains(&s.id.as_str()));
    let inst = Instance::new(schools, year.pupils.clone())?;
    // Each column's source: a current school's column or a candidate's.
    let source: Vec<(bool, usize)> = inst
        .schools
        .iter()
        .map(|s| match year.school_index(&s.id) {
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
    // With no current school, the candidates' walks are every column (their times too).
    let no_school = m.n_schools == 0;
    let seconds = match (&m.seconds, &cm.seconds) {
        (Some(a), Some(b)) => Some((a.as_slice(), b.as_slice())),
        (None, Some(b)) if no_school => Some((&[][..], b.as_slice())),
        _ => None,
    };
    let seconds = match seconds {
        Some((a, b)) => {
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
        source: if no_school {
            cm.source.clone()
        } else if m.source == cm.source {
            m.source.clone()
        } else {
            format!("{}; candidate sites: {}", m.source, cm.source)
        },
        snap_m: if no_school { cm.snap_m.clone() } else { m.snap_m.clone() },
        partial: None,
    };
    debug_assert!(matrix.meters.len() == matrix.n_pupils * matrix.n_schools);
    Ok((inst, matrix))
}

/// The style of `sites.html`.
const SITES_CSS: &str = "
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em;margin:0 0 .3em}
.source{color:#555;font-size:.9em;margin:.2em 0}
.main{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start;margin-top:1em}
.map{flex:1 1 520px;max-width:900px}
.map svg#map{width:100%;height:auto;border:1px solid #ccc;background:#fff}
.school circle{fill:#222;stroke:#fff;stroke-width:1.2}
.school.closed circle{fill:#999}
.cross{stroke:#d00;stroke-width:2.2;fill:none}
.site circle,.site rect{fill:none;stroke:#1f6fb4;stroke-width:1.8}
.site.chosen circle,.site.chosen rect{fill:#f4a300;stroke:#7a4a00;stroke-width:2.2}
.label{font-size:11px;fill:#222;stroke:#fff;stroke-width:3px;paint-order:stroke;pointer-events:none}
.label.chosen{font-weight:bold;fill:#7a4a00}
#legend{font-size:.8em;margin:.4em 0;display:flex;flex-wrap:wrap;gap:.2em .8em;align-items:center}
#legend svg{width:2.2em;height:1.1em;vertical-align:middle}
#curve{width:320px;height:auto;display:block;margin-bottom:.6em}
#curve .axis{fill:none;stroke:#888}
#curve path.walk{fill:none;stroke:#1f6fb4;stroke-width:2}
#curve circle.walk{fill:#1f6fb4}
#curve .tick{font-size:10px;fill:#555;text-anchor:middle}
table{border-collapse:collapse;font-size:.85em}
th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:right}
.t{text-align:left}
";

impl Sites {
    /// `sites.csv`: one row per k.
    pub fn csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let e = |x: csv::Error| Error::internal(format!("sites.csv: {x}"));
        w.write_record(
            [
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
            ]
            .into_iter()
            .map(String::from)
            .chain(self.year_columns().map(|l| format!("walk_{l}_m")))
            .chain(self.closure_columns().map(|_| "closed".to_string()))
            .chain(self.longest_columns().map(String::from)),
        )
        .map_err(e)?;
        let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        for r in &self.rows {
            w.write_record(
                [
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
                ]
                .into_iter()
                .chain(
                    self.year_columns()
                        .enumerate()
                        .map(|(y, _)| r.years_m.get(y).map(|w| w.to_string()).unwrap_or_default()),
                )
                .chain(self.closure_columns().map(|_| r.closed.join(" ")))
                .chain(
                    self.longest_columns()
                        .zip([r.longest_m, r.longest_bound_m])
                        .map(|(_, v)| v.map(|x| x.to_string()).unwrap_or_default()),
                ),
            )
            .map_err(e)?;
        }
        let bytes = w.into_inner().map_err(|x| Error::internal(format!("sites.csv: {x}")))?;
        String::from_utf8(bytes).map_err(|x| Error::internal(format!("sites.csv: {x}")))
    }

    /// What a row without a walk shows: no school yet (no current school, no site open), or
    /// no plan fits (the places open cannot seat every pupil within the rules).
    fn no_walk(&self, r: &Row) -> &'static str {
        if self.schools.is_empty() && r.sites.is_empty() {
            "no school yet"
        } else {
            "no plan fits"
        }
    }

    /// One `closed` column when schools may close, else none.
    fn closure_columns(&self) -> impl Iterator<Item = ()> {
        std::iter::repeat_n((), usize::from(!self.closures.is_empty()))
    }

    /// The longest walk and its bound when that is the objective, else none.
    fn longest_columns(&self) -> impl Iterator<Item = &'static str> {
        let on = self.objective == Objective::Longest;
        ["longest_m", "longest_bound_m"].into_iter().filter(move |_| on)
    }

    /// The cohorts' labels when there are several (a walk column each), else none.
    fn year_columns(&self) -> impl Iterator<Item = &String> {
        self.years.iter().take(if self.years.len() > 1 { self.years.len() } else { 0 })
    }

    /// `sites.geojson`: the current schools and every option as points, each option with the
    /// first k whose choice opens it (`chosen_at_k`, null when none does) — for any GIS.
    pub fn geojson(&self) -> String {
        let mut features = Vec::new();
        let point =
            |s: &School| serde_json::json!({"type": "Point", "coordinates": [s.lon, s.lat]});
        for sc in &self.schools {
            let mut props = serde_json::json!({"id": sc.id, "name": sc.name, "kind": "school", "seats": sc.capacity});
            if self.closures.contains(&sc.id) {
                // The k whose choice closes it.
                let ks: Vec<usize> =
                    self.rows.iter().filter(|r| r.closed.contains(&sc.id)).map(|r| r.k).collect();
                props["may_close"] = true.into();
                props["closed_at_k"] = ks.into();
            }
            features.push(serde_json::json!({
                "type": "Feature",
                "geometry": point(sc),
                "properties": props,
            }));
        }
        for (o, extension) in &self.options {
            let chosen = self.rows.iter().find(|r| r.sites.contains(&o.id)).map(|r| r.k);
            features.push(serde_json::json!({
                "type": "Feature",
                "geometry": point(o),
                "properties": {
                    "id": o.id,
                    "name": o.name,
                    "kind": if *extension { "extension" } else { "candidate" },
                    "seats": o.capacity,
                    "chosen_at_k": chosen,
                },
            }));
        }
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
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
        if self.schools.is_empty() {
            s.push_str(
                "There is no current school: the sites chosen seat every pupil, and k = 0 (no \
                 site) seats nobody, so it has no walk and no plan.\n\n",
            );
        }
        if !self.closures.is_empty() {
            s.push_str(&match self.close {
                Some(n) => format!(
                    "Exactly {n} of the schools {} close: the closures that cost the least walk.\n\n",
                    self.closures.join(", ")
                ),
                None => format!(
                    "The schools {} may close (closing frees budget; it never shortens a walk).\n\n",
                    self.closures.join(", ")
                ),
            });
        }
        let longest = self.objective == Objective::Longest;
        if longest {
            s.push_str(
                "Objective: the least longest walk of any pupil first (with its proved lower \
                 bound), then the least total walk within it.\n\n",
            );
        }
        let closed = !self.closures.is_empty();
        let cost_head = if self.has_cost { " cost |" } else { "" };
        let closed_head = if closed { " closed |" } else { "" };
        let longest_head = if longest { " longest walk | its bound |" } else { "" };
        s.push_str(&format!("| k | sites |{closed_head}{cost_head}{longest_head} total walk | saved vs k-1 | saved vs k=0 | mean walk | proved bound | gap | how |\n"));
        s.push_str(&format!(
            "|---|---|{}---|---|---|---|---|---|---|\n",
            "---|".repeat(
                usize::from(self.has_cost) + usize::from(closed) + 2 * usize::from(longest)
            )
        ));
        let opt_m = |v: Option<u32>| v.map(|x| format!("{x} m")).unwrap_or_else(|| "–".into());
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} |{}{}{} {} | {} | {} | {} | {} | {} | {} |\n",
                r.k,
                if r.sites.is_empty() { "–".into() } else { r.sites.join(", ") },
                if closed {
                    format!(
                        " {} |",
                        if r.closed.is_empty() { "–".into() } else { r.closed.join(", ") }
                    )
                } else {
                    String::new()
                },
                if self.has_cost { format!(" {} |", r.cost) } else { String::new() },
                if longest {
                    format!(" {} | {} |", opt_m(r.longest_m), opt_m(r.longest_bound_m))
                } else {
                    String::new()
                },
                r.walk_m.map(km).unwrap_or_else(|| self.no_walk(r).into()),
                r.saved_m.map(km).unwrap_or_else(|| "–".into()),
                r.saved_total_m.map(km).unwrap_or_else(|| "–".into()),
                r.mean_walk_m.map(|x| format!("{x:.0} m")).unwrap_or_else(|| "–".into()),
                r.bound_m.map(km).unwrap_or_else(|| "–".into()),
                r.gap.map(|g| format!("{:.2}%", 100.0 * g)).unwrap_or_else(|| "–".into()),
                r.method
            ));
        }
        if self.years.len() > 1 {
            s.push_str(&format!(
                "\n## Year by year\n\nThe sites of each row serve every cohort; each cohort is \
                 assigned on its own with the same seats. Total walk per cohort:\n\n| k | {} |\n|---|{}\n",
                self.years.join(" | "),
                "---|".repeat(self.years.len())
            ));
            for r in self.rows.iter().filter(|r| !r.years_m.is_empty()) {
                let cells: Vec<String> = r.years_m.iter().map(|&w| km(w)).collect();
                s.push_str(&format!("| {} | {} |\n", r.k, cells.join(" | ")));
            }
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
        if self.years.len() > 1 {
            s.push_str(&format!(
                "The other cohorts' plans are in plans/<cohort>/k<N>/ ({}).\n",
                self.years[1..].join(", ")
            ));
        }
        s
    }

    /// `sites.html`: one self-contained page — the current schools, every option and the
    /// choice of the largest k with a plan on a map (the k at which each chosen site is first
    /// chosen, the schools it closes crossed out), the total walk per k as a table and a
    /// curve, a legend. Like `report.html` it loads nothing (a Content-Security-Policy forbids
    /// it) and shows schools, sites and totals only: no pupil.
    pub fn html(&self) -> String {
        use crate::report::html::{escape, group, label_position, Projection, CSP_META};
        use std::fmt::Write as _;
        let km = |m: u64| format!("{:.1} km", m as f64 / 1000.0);
        let last = self.rows.iter().rev().find(|r| r.walk_m.is_some());
        let (top_k, chosen, closed): (usize, &[String], &[String]) =
            last.map(|r| (r.k, &r.sites[..], &r.closed[..])).unwrap_or((0, &[], &[]));
        let first_k =
            |id: &str| self.rows.iter().find(|r| r.sites.iter().any(|x| x == id)).map(|r| r.k);
        let proj = Projection::fit(
            self.schools.iter().chain(self.options.iter().map(|(o, _)| o)).map(|s| (s.lon, s.lat)),
        );
        let source = self.plans.first().map(|(_, _, m, _)| m.source.as_str()).unwrap_or("");

        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{CSP_META}\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Where to build</title>\n<style>{SITES_CSS}</style>\n</head>\n<body>\n\
             <h1>Where to build</h1>\n<p class=\"source\">{} current schools, {} candidate sites, \
             {} pupils (totals only); walks: {}.</p>\n",
            self.schools.len(),
            self.options.len(),
            group(self.pupils as u64),
            if source.is_empty() { "as given".to_string() } else { escape(source) }
        );
        let _ = writeln!(
            h,
            "<p class=\"source\">The map shows the choice for k = {top_k}{}{}.</p>",
            self.budget.map(|b| format!(" within the budget {b}")).unwrap_or_default(),
            if self.objective == Objective::Longest {
                " (the least longest walk first, then the least total walk)"
            } else {
                " (the least total walk)"
            }
        );

        // The map: schools, then options, the chosen ones on top.
        let (w, ht) = (proj.width.ceil(), proj.height.ceil());
        let _ = writeln!(
            h,
            "<div class=\"main\">\n<div class=\"map\">\n<svg id=\"map\" viewBox=\"0 0 {w:.0} {ht:.0}\" role=\"img\" aria-label=\"Schools and candidate sites\">\n<rect width=\"{w:.0}\" height=\"{ht:.0}\" fill=\"#fff\"/>"
        );
        let label = |h: &mut String, x: f64, y: f64, text: &str, class: &str| {
            let (lx, ly, anchor) = label_position(&proj, x, y, text);
            let _ = write!(
                h,
                "<text class=\"{class}\" x=\"{lx:.1}\" y=\"{ly:.1}\"{}>{}</text>",
                if anchor == "end" { " text-anchor=\"end\"" } else { "" },
                escape(text)
            );
        };
        h.push_str("<g id=\"schools-on-map\">\n");
        for sc in &self.schools {
            let (x, y) = proj.xy(sc.lon, sc.lat);
            let is_closed = closed.contains(&sc.id);
            let _ = write!(
                h,
                "<g class=\"school{}\" data-id=\"{id}\"><title>{id} {name}: {seats} seats{}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\"/>",
                if is_closed { " closed" } else { "" },
                if is_closed { format!(", closed at k = {top_k}") } else { String::new() },
                id = escape(&sc.id),
                name = escape(&sc.name),
                seats = sc.capacity,
            );
            if is_closed {
                let _ = write!(
                    h,
                    "<path class=\"cross\" d=\"M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}\"/>",
                    x - 7.0, y - 7.0, x + 7.0, y + 7.0, x - 7.0, y + 7.0, x + 7.0, y - 7.0
                );
            }
            label(&mut h, x, y, &sc.id, "label");
            h.push_str("</g>\n");
        }
        h.push_str("</g>\n<g id=\"sites-on-map\">\n");
        let mut order: Vec<&(School, bool)> = self.options.iter().collect();
        order.sort_by_key(|(o, _)| chosen.contains(&o.id));
        for (o, extension) in order {
            let (x, y) = proj.xy(o.lon, o.lat);
            let is_chosen = chosen.contains(&o.id);
            let kind = if *extension { "extension" } else { "candidate" };
            let k = first_k(&o.id);
            let _ = write!(
                h,
                "<g class=\"site {kind}{}\" data-id=\"{id}\"><title>{id} {name}: {kind}, {seats} seats{}</title>",
                if is_chosen { " chosen" } else { "" },
                k.map(|k| format!(", first chosen at k = {k}")).unwrap_or_default(),
                id = escape(&o.id),
                name = escape(&o.name),
                seats = o.capacity,
            );
            if *extension {
                let _ = write!(
                    h,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"11\" height=\"11\"/>",
                    x - 5.5,
                    y - 5.5
                );
            } else {
                let _ = write!(h, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5.5\"/>");
            }
            let text = match k {
                Some(k) if is_chosen => format!("{} (k={k})", o.id),
                _ => o.id.clone(),
            };
            label(&mut h, x, y, &text, if is_chosen { "label chosen" } else { "label" });
            h.push_str("</g>\n");
        }
        h.push_str("</g>\n</svg>\n");

        // The legend.
        let symbol =
            |inner: &str| format!("<svg viewBox=\"0 0 30 16\" aria-hidden=\"true\">{inner}</svg>");
        let mut keys = vec![
            (
                symbol("<g class=\"school\"><circle cx=\"15\" cy=\"8\" r=\"4.5\"/></g>"),
                "current school".to_string(),
            ),
            (
                symbol("<g class=\"site candidate\"><circle cx=\"15\" cy=\"8\" r=\"5.5\"/></g>"),
                "candidate site".to_string(),
            ),
        ];
        if self.options.iter().any(|(_, e)| *e) {
            keys.push((
                symbol("<g class=\"site extension\"><rect x=\"9.5\" y=\"2.5\" width=\"11\" height=\"11\"/></g>"),
                "extension of a school".to_string(),
            ));
        }
        keys.push((
            symbol("<g class=\"site candidate chosen\"><circle cx=\"15\" cy=\"8\" r=\"5.5\"/></g>"),
            format!("chosen for k = {top_k} (labelled with the k first choosing it)"),
        ));
        if !self.closures.is_empty() {
            keys.push((
                symbol("<g class=\"school closed\"><circle cx=\"15\" cy=\"8\" r=\"4.5\"/><path class=\"cross\" d=\"M8 1L22 15M8 15L22 1\"/></g>"),
                format!("school closed for k = {top_k}"),
            ));
        }
        h.push_str("<div id=\"legend\">\n");
        for (sym, text) in &keys {
            let _ = writeln!(h, "<span class=\"key\">{sym} {}</span>", escape(text));
        }
        h.push_str("</div>\n</div>\n<div class=\"side\">\n");

        // The total walk per k: a curve and the table (the numbers of sites.md).
        let walks: Vec<(usize, u64)> =
            self.rows.iter().filter_map(|r| r.walk_m.map(|w| (r.k, w))).collect();
        if walks.len() > 1 {
            let (cw, ch, m) = (320.0, 160.0, 28.0);
            let max_k = walks.iter().map(|p| p.0).max().unwrap_or(1).max(1) as f64;
            let hi = walks.iter().map(|p| p.1).max().unwrap_or(1) as f64;
            let lo = walks.iter().map(|p| p.1).min().unwrap_or(0) as f64;
            let span = (hi - lo).max(1.0);
            let pt = |k: usize, w: u64| {
                (m + (cw - 2.0 * m) * k as f64 / max_k, m + (ch - 2.0 * m) * (hi - w as f64) / span)
            };
            let _ = write!(
                h,
                "<svg id=\"curve\" viewBox=\"0 0 {cw} {ch}\" role=\"img\" aria-label=\"Total walk per k\"><path class=\"axis\" d=\"M{m} {m}V{y0}H{x1}\"/>",
                y0 = ch - m,
                x1 = cw - m
            );
            let d: Vec<String> = walks
                .iter()
                .enumerate()
                .map(|(i, &(k, w))| {
                    let (x, y) = pt(k, w);
                    format!("{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" })
                })
                .collect();
            let _ = write!(h, "<path class=\"walk\" d=\"{}\"/>", d.join(""));
            for &(k, w) in &walks {
                let (x, y) = pt(k, w);
                let _ = write!(
                    h,
                    "<circle class=\"walk\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\"><title>k = {k}: {}</title></circle><text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\">{k}</text>",
                    km(w),
                    ch - m + 14.0
                );
            }
            let _ = writeln!(
                h,
                "<text class=\"tick\" x=\"{m}\" y=\"{:.1}\" text-anchor=\"start\">{}</text><text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\">k</text></svg>",
                m - 8.0,
                km(hi as u64),
                ch - 4.0,
                x = cw / 2.0
            );
        }
        let closed_col = !self.closures.is_empty();
        let _ = writeln!(
            h,
            "<table id=\"walks\">\n<thead><tr><th>k</th><th class=\"t\">sites</th>{}<th>total walk</th><th>saved vs k-1</th><th>mean walk</th><th>gap</th></tr></thead>\n<tbody>",
            if closed_col { "<th class=\"t\">closed</th>" } else { "" }
        );
        let dash = || "–".to_string();
        for r in &self.rows {
            let list = |v: &[String]| if v.is_empty() { dash() } else { escape(&v.join(", ")) };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"t\">{}</td>{}<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.k,
                list(&r.sites),
                if closed_col { format!("<td class=\"t\">{}</td>", list(&r.closed)) } else { String::new() },
                r.walk_m.map(km).unwrap_or_else(|| self.no_walk(r).into()),
                r.saved_m.map(km).unwrap_or_else(dash),
                r.mean_walk_m.map(|x| format!("{x:.0} m")).unwrap_or_else(dash),
                r.gap.map(|g| format!("{:.2}%", 100.0 * g)).unwrap_or_else(dash),
            );
        }
        h.push_str("</tbody>\n</table>\n</div>\n</div>\n</body>\n</html>\n");
        h
    }

    /// Write `sites.csv`, `sites.md`, `sites.geojson`, `sites.html` and `plans/k<N>/` (the
    /// directory whole, atomically).
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
            // Further cohorts: plans/<label>/k<N>/.
            for (y, k, inst, m, plan) in &self.more_plans {
                crate::cancel::check()?;
                let extras = Extras { walks: Some(&walks), ..Extras::default() };
                let d = dir.join("plans").join(&self.years[*y]).join(format!("k{k}"));
                write_plan(&d, inst, m, plan, &extras)?;
            }
            std::fs::write(dir.join("sites.csv"), &csv)
                .map_err(|e| Error::io(dir.join("sites.csv"), e))?;
            std::fs::write(dir.join("sites.md"), &md)
                .map_err(|e| Error::io(dir.join("sites.md"), e))?;
            std::fs::write(dir.join("sites.geojson"), self.geojson())
                .map_err(|e| Error::io(dir.join("sites.geojson"), e))?;
            std::fs::write(dir.join("sites.html"), self.html())
                .map_err(|e| Error::io(dir.join("sites.html"), e))?;
            Ok(())
        })
    }
}
