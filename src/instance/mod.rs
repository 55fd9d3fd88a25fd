//! Domain types (school, pupil, instance), their readers (CSV, GeoJSON, JSON objects) and
//! validation. Every problem is reported with file, line and field; pupil values never appear
//! in messages.

pub mod housenumber;
pub mod limits;
pub mod table;

use crate::error::{Error, InputProblem, Result};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;
use table::{read_table, Row, Table};

/// Default number of pupils per class (Magdeburg: 22).
pub const DEFAULT_CLASS_SIZE: u32 = 22;

/// A school: where it is and how many pupils of the intake year it can take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct School {
    /// Unique id (sorted in [`id_cmp`] order within an [`Instance`]).
    pub id: String,
    /// Display name (the id when the input gives none).
    pub name: String,
    /// Latitude in degrees (WGS84).
    pub lat: f64,
    /// Longitude in degrees (WGS84).
    pub lon: f64,
    /// Seats for the intake year: `capacity`, or `max_classes` x `class_size`.
    pub capacity: u32,
    /// Pupils per class (default [`DEFAULT_CLASS_SIZE`]).
    pub class_size: u32,
    /// Number of classrooms, when given; with no `capacity` it sets the seats.
    pub max_classes: Option<u32>,
    /// The school must receive at least this many pupils (0: no minimum).
    pub min_pupils: u32,
    /// The fewest classes the school should open, as read from the input (`None`: not given).
    pub min_classes: Option<u32>,
    /// Columns the reader did not know, passed through to outputs.
    #[serde(default)]
    pub extra: Vec<(String, String)>,
}

/// A pupil of the intake year: id, where they live, and any fixed school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pupil {
    /// Unique id (sorted in [`id_cmp`] order within an [`Instance`]).
    pub id: String,
    /// Home location (lat, lon). Personal data: never logged.
    pub location: Option<(f64, f64)>,
    /// Street name, for geocoding when no location is given.
    pub street: Option<String>,
    /// House number, for geocoding together with `street`.
    pub house_number: Option<String>,
    /// Postcode, to tell streets of the same name apart when geocoding.
    pub postcode: Option<String>,
    /// The block (address, street segment, grid cell) the pupil lives in.
    pub block: Option<String>,
    /// A school the pupil must attend (siblings, special needs); it still uses a seat.
    pub fixed_school: Option<String>,
    /// Columns the reader did not know, passed through to outputs.
    #[serde(default)]
    pub extra: Vec<(String, String)>,
}

/// A validated instance: ids unique, references resolved, both lists sorted by id
/// (natural order: numeric ids numerically, then the rest by text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// The schools, sorted by id.
    pub schools: Vec<School>,
    /// The pupils, sorted by id.
    pub pupils: Vec<Pupil>,
}

/// The order of ids everywhere in catchment: numbers by value, then other ids by text.
pub fn id_cmp(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

impl Instance {
    /// Check references across the two lists and sort both by id.
    pub fn new(mut schools: Vec<School>, mut pupils: Vec<Pupil>) -> Result<Instance> {
        schools.sort_by(|a, b| id_cmp(&a.id, &b.id));
        pupils.sort_by(|a, b| id_cmp(&a.id, &b.id));
        let inst = Instance { schools, pupils };
        let problems: Vec<InputProblem> = inst
            .pupils
            .iter()
            .filter_map(|p| {
                let f = p.fixed_school.as_ref()?;
                inst.school_index(f).is_none().then(|| {
                    InputProblem::new(
                        "pupils",
                        None,
                        Some("fixed_school"),
                        format!("school '{}' is unknown", limits::shown(f)),
                    )
                })
            })
            .collect();
        if !problems.is_empty() {
            return Err(Error::Input(problems));
        }
        Ok(inst)
    }

    /// Position of the school with this id in `schools`.
    pub fn school_index(&self, id: &str) -> Option<usize> {
        self.schools.binary_search_by(|s| id_cmp(&s.id, id)).ok()
    }

    /// Position of the pupil with this id in `pupils`.
    pub fn pupil_index(&self, id: &str) -> Option<usize> {
        self.pupils.binary_search_by(|p| id_cmp(&p.id, id)).ok()
    }

    /// Total seats: the sum of every school's capacity.
    pub fn seats(&self) -> u64 {
        self.schools.iter().map(|s| s.capacity as u64).sum()
    }
}

/// Read schools and pupils from files (CSV, or GeoJSON when the name ends in `.geojson`/`.json`).
pub fn read_instance(schools: &Path, pupils: &Path) -> Result<Instance> {
    instance_of(read_schools(schools), pupils)
}

/// [`read_instance`], but the schools file may list no school: a CSV header without rows, or
/// a GeoJSON FeatureCollection without features (a town with no school yet, where
/// `catchment sites` chooses every school). Only the site choice takes such a file: a plan
/// needs schools.
pub fn read_instance_maybe_without_schools(schools: &Path, pupils: &Path) -> Result<Instance> {
    instance_of(read_schools_maybe_none(schools), pupils)
}

fn instance_of(s: Result<Vec<School>>, pupils: &Path) -> Result<Instance> {
    let p = read_pupils(pupils, s.as_ref().ok().map(|v| v.as_slice()));
    let (s, p) = match (s, p) {
        (Ok(s), Ok(p)) => (s, p),
        (Err(Error::Input(mut a)), Err(Error::Input(b))) => {
            a.extend(b);
            return Err(Error::Input(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    Instance::new(s, p)
}

/// The file name of `path` (without directories), for messages; the whole path if it has none.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The file [`write_atomically`] leaves in every directory it writes: the directory is
/// catchment's output and may be replaced by the next one.
pub const OUTPUT_MARKER: &str = ".catchment-output";

/// The files catchment's outputs hold (plans, scenario comparisons, simulations, stability
/// curves, reproduction reports). A directory written before [`OUTPUT_MARKER`] existed is
/// recognised as an output only when every entry is one of these and one of
/// [`DISTINCTIVE_OUTPUT_FILES`] is there: a directory with anything else (an input, a note)
/// is not.
const OUTPUT_FILES: &[&str] = &[
    "summary.json",
    "assignments.csv",
    "schools.csv",
    "certificate.json",
    "previous-districts.csv",
    "routing-check.csv",
    "districts.csv",
    "districts.geojson",
    "streets.csv",
    "streets.html",
    "split-streets.csv",
    "report.html",
    "comparison.csv",
    "comparison.md",
    "simulation.csv",
    "simulation.json",
    "robust-simulation.csv",
    "robustness.json",
    "curve.csv",
    "curve.svg",
    "report.md",
    "report.json",
    "sites.csv",
    "sites.md",
    "sites.geojson",
    "sites.html",
    "edit.json",
    "pins.csv",
    "excluded-blocks.csv",
    "plans",
];

/// Files only an output of catchment holds (see [`OUTPUT_FILES`]).
const DISTINCTIVE_OUTPUT_FILES: &[&str] =
    &["summary.json", "certificate.json", "simulation.json", "curve.csv", "report.json"];

/// What a path given as an output directory holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputState {
    /// Nothing: the output is created.
    Absent,
    /// An empty directory.
    Empty,
    /// One of catchment's output directories ([`OUTPUT_MARKER`], or only files an output
    /// holds): replaced by the next output.
    Output,
    /// A file, or a directory with other files: never replaced unless the user asks.
    Foreign(String),
}

/// What `out` holds: whether an output may replace it ([`ensure_replaceable`]). An output
/// directory holds only what catchment writes: a file the user added to it (an input, a note)
/// makes it foreign again, so replacing it never deletes that file.
pub fn output_state(out: &Path) -> Result<OutputState> {
    output_state_at(out, 0)
}

fn output_state_at(out: &Path, depth: usize) -> Result<OutputState> {
    let Ok(meta) = std::fs::symlink_metadata(out) else { return Ok(OutputState::Absent) };
    if !meta.is_dir() {
        return Ok(OutputState::Foreign(
            "exists and is not a directory: the output must be a directory".into(),
        ));
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(out).map_err(|e| Error::io(out, e))? {
        let entry = entry.map_err(|e| Error::io(out, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
        if names.len() > 10_000 {
            break;
        }
    }
    if names.is_empty() {
        return Ok(OutputState::Empty);
    }
    let marked = names.iter().any(|n| n == OUTPUT_MARKER);
    let distinctive = names.iter().any(|n| DISTINCTIVE_OUTPUT_FILES.contains(&n.as_str()));
    // Every entry is catchment's: a file an output holds, or a directory that is an output
    // itself (the plans of a scenario comparison or of a reproduction).
    let mut other = None;
    for n in &names {
        if n == OUTPUT_MARKER || OUTPUT_FILES.contains(&n.as_str()) {
            continue;
        }
        let inner = out.join(n);
        let nested = depth < 3
            && std::fs::symlink_metadata(&inner).is_ok_and(|m| m.is_dir())
            && output_state_at(&inner, depth + 1)? == OutputState::Output;
        if !nested {
            other = Some(n);
            break;
        }
    }
    match other {
        None if marked || distinctive => return Ok(OutputState::Output),
        Some(n) if marked || distinctive => {
            return Ok(OutputState::Foreign(format!(
                "is an output directory of catchment but also holds '{n}', which catchment did \
                 not write: nothing was written (it would be deleted with the directory); move it \
                 out or give another directory"
            )))
        }
        _ => {}
    }
    Ok(OutputState::Foreign(
        "exists and is not an output directory of catchment: nothing was written (it would be \
         replaced whole, with every file in it); give a new or empty directory"
            .into(),
    ))
}

/// Whether `out` may receive an output directory: it does not exist, is an empty directory, or
/// is one of catchment's output directories ([`output_state`]). Anything else — a file, a
/// directory of inputs or of other files — is refused, so writing an output never deletes what
/// the user keeps there.
pub fn ensure_replaceable(out: &Path) -> Result<()> {
    match output_state(out)? {
        OutputState::Foreign(why) => Err(Error::input(&out.display().to_string(), None, None, why)),
        _ => Ok(()),
    }
}

/// A name for a sibling of `out` that does not exist yet: `.NAME.KIND-PID-NANOS`.
pub fn sibling(out: &Path, kind: &str) -> std::path::PathBuf {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    parent.join(format!(".{}.{kind}-{stamp}", file_name(out)))
}

/// Write files into a fresh temporary directory next to `out`, then move it into place,
/// replacing `out` only when [`ensure_replaceable`] allows.
pub fn write_atomically(out: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    ensure_replaceable(out)?;
    let tmp = sibling(out, "tmp");
    if let Some(parent) = tmp.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let written = write(&tmp).and_then(|()| {
        let marker = tmp.join(OUTPUT_MARKER);
        std::fs::write(
            &marker,
            "written by catchment: this directory is replaced by the next run\n",
        )
        .map_err(|e| Error::io(&marker, e))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    replace_dir(&tmp, out)
}

/// Move the complete directory `staged` to `out`: an existing `out` is first renamed aside,
/// then deleted once `staged` is in place (put back if the move fails). Whether `out` may be
/// replaced is the caller's decision ([`ensure_replaceable`], or the user's explicit wish).
pub fn replace_dir(staged: &Path, out: &Path) -> Result<()> {
    let old = sibling(out, "old");
    let had_old = std::fs::symlink_metadata(out).is_ok();
    if had_old {
        std::fs::rename(out, &old).map_err(|e| {
            let _ = std::fs::remove_dir_all(staged);
            Error::io(out, e)
        })?;
    }
    if let Err(e) = std::fs::rename(staged, out) {
        if had_old {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(staged);
        return Err(Error::io(out, e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    read_input(path)
}

pub use limits::MAX_INPUT_BYTES;

/// Read an input file whole: a regular file or a pipe, at most [`MAX_INPUT_BYTES`]. A device
/// (`/dev/zero`, a disk) is refused at once instead of read until memory runs out
/// ([`limits::check_input_file`]); a text file other than JSON (CSV) stops at its first line
/// longer than [`limits::MAX_LINE_BYTES`], so an endless pipe is refused too.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let meta = limits::check_input_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_INPUT_BYTES) as usize);
    let name = file_name(path);
    let read = if is_geojson(path) {
        // JSON may be one long line: bounded by its size alone.
        file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)
    } else {
        limits::Limited::new(file).read_to_end(&mut bytes)
    };
    read.map_err(|e| limits::exceeded(&name, &e).unwrap_or_else(|| Error::io(path, e)))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(Error::input(
            &file_name(path),
            None,
            None,
            format!("is larger than {} GiB, the most an input may be", MAX_INPUT_BYTES >> 30),
        ));
    }
    Ok(bytes)
}

fn is_geojson(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("geojson") | Some("json"))
}

/// Read schools from a CSV or GeoJSON file (by extension).
pub fn read_schools(path: &Path) -> Result<Vec<School>> {
    schools_from_file(path, false)
}

/// [`read_schools`], but a file listing no school (a CSV header without rows, a GeoJSON
/// FeatureCollection without features) reads as none.
pub fn read_schools_maybe_none(path: &Path) -> Result<Vec<School>> {
    schools_from_file(path, true)
}

/// The schools of a CSV or GeoJSON file; `none_allowed`: a file listing none reads as none.
fn schools_from_file(path: &Path, none_allowed: bool) -> Result<Vec<School>> {
    let bytes = read_bytes(path)?;
    let name = file_name(path);
    let table = if is_geojson(path) {
        let no_features = none_allowed
            && std::str::from_utf8(&bytes)
                .ok()
                .and_then(|t| t.parse::<geojson::GeoJson>().ok())
                .is_some_and(|g| {
                    matches!(g, geojson::GeoJson::FeatureCollection(fc) if fc.features.is_empty())
                });
        if no_features {
            return Ok(Vec::new());
        }
        table::from_geojson(&name, &bytes, false)?
    } else if none_allowed {
        table::read_table_maybe_empty(&name, &bytes, school_required(&bytes), false)?
    } else {
        read_table(&name, &bytes, school_required(&bytes), false)?
    };
    schools_from_table(&table)
}

/// Read pupils from a CSV or GeoJSON file (by extension); `schools`, when given, checks every
/// `fixed_school`.
pub fn read_pupils(path: &Path, schools: Option<&[School]>) -> Result<Vec<Pupil>> {
    let bytes = read_bytes(path)?;
    let name = file_name(path);
    let table = if is_geojson(path) {
        table::from_geojson(&name, &bytes, true)?
    } else {
        read_table(&name, &bytes, PUPIL_REQUIRED, true)?
    };
    pupils_from_table(&table, schools)
}

/// Columns every schools file must have.
pub const SCHOOL_REQUIRED: &[&str] = &["id", "lat", "lon"];
/// Columns a plan's `schools.csv` (written by `catchment solve`) must have to be read back as
/// a schools input: `school_id` stands for `id`.
pub const PLAN_SCHOOL_REQUIRED: &[&str] = &["school_id", "lat", "lon"];
/// The plan's own figures in its `schools.csv`: not passed through when it is read back.
const PLAN_SCHOOL_FIGURES: &[&str] =
    &["school_id", "load", "utilisation", "price_m", "classes", "mean_class", "largest_class"];

/// The columns a schools CSV must have: `id,lat,lon`, or `school_id,lat,lon` for a plan's
/// `schools.csv` read back (a header with `school_id` and no `id`).
pub fn school_required(bytes: &[u8]) -> &'static [&'static str] {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    let header = text.trim_start_matches('\u{feff}').lines().next().unwrap_or("").to_lowercase();
    let cols: Vec<&str> =
        header.split([',', ';']).map(|c| c.trim().trim_matches('"').trim()).collect();
    if cols.contains(&"school_id") && !cols.contains(&"id") {
        PLAN_SCHOOL_REQUIRED
    } else {
        SCHOOL_REQUIRED
    }
}

/// Columns every pupils file must have.
pub const PUPIL_REQUIRED: &[&str] = &["id"];
const SCHOOL_KNOWN: &[&str] = &[
    "id",
    "name",
    "lat",
    "lon",
    "capacity",
    "max_classes",
    "class_size",
    "min_pupils",
    "min_classes",
];
const PUPIL_KNOWN: &[&str] =
    &["id", "lat", "lon", "street", "house_number", "postcode", "block", "fixed_school"];

/// Schools from a table, validated: every problem is collected, with its line and field.
pub fn schools_from_table(table: &Table) -> Result<Vec<School>> {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(table.rows.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    for i in 0..table.rows.len() {
        let mut row = Row::new(table, i, &mut problems);
        // A plan's schools.csv read back: `school_id` for `id`, its figures not passed through.
        let plan_file = !row.has_column("id") && row.has_column("school_id");
        let id = row.id(if plan_file { "school_id" } else { "id" }).map(str::to_string);
        let name = row.get("name").unwrap_or_default().to_string();
        let loc = row.lat_lon(true);
        let class_size = row.u32("class_size", false);
        let max_classes = row.u32("max_classes", false);
        let capacity = row.u32("capacity", false);
        let min_pupils = row.u32("min_pupils", false).unwrap_or(0);
        let min_classes = row.u32("min_classes", false);
        if class_size == Some(0) {
            row.problem("class_size", "must be positive");
        }
        let class_size = class_size.filter(|&c| c > 0).unwrap_or(DEFAULT_CLASS_SIZE);
        let capacity = match (capacity, max_classes) {
            (Some(c), _) => Some(c),
            (None, Some(k)) => Some(k.saturating_mul(class_size)),
            // A value that is there but not a number has its message already.
            (None, None) if row.get("capacity").is_some() || row.get("max_classes").is_some() => {
                None
            }
            (None, None) => {
                if !row.has_column("capacity") && !row.has_column("max_classes") {
                    row.problem(
                        "capacity",
                        "missing: give 'capacity' or 'max_classes' (x 'class_size', default 22)",
                    );
                } else {
                    row.problem("capacity", "is empty: give 'capacity' or 'max_classes'");
                }
                None
            }
        };
        if capacity == Some(0) {
            row.problem(
                if row.get("capacity").is_some() { "capacity" } else { "max_classes" },
                "must be positive",
            );
        }
        if let Some(c) = capacity.filter(|&c| c > 0) {
            if min_pupils > c {
                row.problem("min_pupils", format!("{min_pupils} is above the capacity {c}"));
            }
        }
        if let Some(id) = &id {
            if let Some(first) = seen.get(id) {
                row.problem("id", format!("duplicate school id '{id}' (first on line {first})"));
            } else {
                seen.insert(id.clone(), row.line);
            }
        }
        let extra = if plan_file {
            let known: Vec<&str> =
                SCHOOL_KNOWN.iter().chain(PLAN_SCHOOL_FIGURES).copied().collect();
            row.extra(&known)
        } else {
            row.extra(SCHOOL_KNOWN)
        };
        if let (Some(id), Some((lat, lon)), Some(capacity)) = (id, loc, capacity.filter(|&c| c > 0))
        {
            out.push(School {
                name: if name.is_empty() { id.clone() } else { name },
                id,
                lat,
                lon,
                capacity,
                class_size,
                max_classes,
                min_pupils,
                min_classes,
                extra,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Input(problems))
    }
}

/// Pupils from a table; `schools` (when given) checks every `fixed_school` reference.
pub fn pupils_from_table(table: &Table, schools: Option<&[School]>) -> Result<Vec<Pupil>> {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(table.rows.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    let known: Option<std::collections::HashSet<&str>> =
        schools.map(|s| s.iter().map(|s| s.id.as_str()).collect());
    for i in 0..table.rows.len() {
        let mut row = Row::new(table, i, &mut problems);
        let id = row.id("id").map(str::to_string);
        let location =
            if row.has_column("lat") || row.has_column("lon") { row.lat_lon(false) } else { None };
        let street = row.get("street").map(str::to_string);
        let house_number = row.get("house_number").map(str::to_string);
        let postcode = row.get("postcode").map(str::to_string);
        let block = row.get("block").map(str::to_string);
        let fixed_school = row.get("fixed_school").map(str::to_string);
        if let (Some(f), Some(known)) = (&fixed_school, &known) {
            if !known.contains(f.as_str()) {
                let f = limits::shown(f);
                row.problem("fixed_school", format!("school '{f}' is not in the schools file"));
            }
        }
        let had_coords = row.get("lat").is_some() || row.get("lon").is_some();
        if location.is_none() && !had_coords && street.is_none() && block.is_none() {
            row.problem(
                "lat",
                "the pupil has no location: give 'lat,lon', 'street,house_number' or 'block'",
            );
        }
        if house_number.is_some() && street.is_none() {
            row.problem("street", "is empty while 'house_number' is given");
        }
        if let Some(id) = &id {
            if let Some(first) = seen.get(id) {
                // The line names the pupil: pupil ids are personal and stay out of messages.
                row.problem("id", format!("duplicate pupil id (first on line {first})"));
            } else {
                seen.insert(id.clone(), row.line);
            }
        }
        let extra = row.extra(PUPIL_KNOWN);
        if let Some(id) = id {
            out.push(Pupil {
                id,
                location,
                street,
                house_number,
                postcode,
                block,
                fixed_school,
                extra,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Input(problems))
    }
}
