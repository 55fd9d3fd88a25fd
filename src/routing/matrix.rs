//! The distance matrix: walking meters (and seconds) from every pupil to every school, and the
//! long CSV format `pupil_id,school_id,meters[,seconds]` (or `block_id,...`).

use crate::error::{Error, InputProblem, Result};
use crate::instance::{file_name, limits, Instance};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Marks a pair with no route (or left out of the model by a rule such as a maximum walk).
pub const UNREACHABLE: u32 = u32::MAX;

/// Dense pupil x school matrix in instance order, row-major, whole meters.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows: pupils (or blocks), in instance order.
    pub n_pupils: usize,
    /// Number of columns: schools, in instance order.
    pub n_schools: usize,
    /// Walking distance in whole meters, `meters[p * n_schools + s]`; [`UNREACHABLE`] for no route.
    pub meters: Vec<u32>,
    /// Walking time in whole seconds, same layout as `meters`, when the source gives times.
    pub seconds: Option<Vec<u32>>,
    /// Where the distances come from, shown in every output ("matrix file x.csv",
    /// "OSRM foot", "synthetic street grid"...).
    pub source: String,
    /// Per row: whole meters from the row's location to the point of the street network the
    /// routing engine started from (OSRM's snap), when the source reports it; matrix files do
    /// not keep it.
    pub snap_m: Option<Vec<u32>>,
}

impl Matrix {
    /// An all-unreachable matrix of `n_pupils` x `n_schools` without times, from `source`.
    pub fn new(n_pupils: usize, n_schools: usize, source: impl Into<String>) -> Self {
        Matrix {
            n_pupils,
            n_schools,
            meters: vec![UNREACHABLE; n_pupils * n_schools],
            seconds: None,
            source: source.into(),
            snap_m: None,
        }
    }

    /// The rows `keep` (indices, in the order given) as a matrix of their own: a matrix for an
    /// instance with some pupils left out.
    pub fn select_rows(&self, keep: &[usize]) -> Matrix {
        let n_s = self.n_schools;
        let pick = |v: &[u32]| -> Vec<u32> {
            keep.iter().flat_map(|&r| v[r * n_s..(r + 1) * n_s].iter().copied()).collect()
        };
        Matrix {
            n_pupils: keep.len(),
            n_schools: n_s,
            meters: pick(&self.meters),
            seconds: self.seconds.as_deref().map(pick),
            source: self.source.clone(),
            snap_m: self.snap_m.as_ref().map(|s| keep.iter().map(|&r| s[r]).collect()),
        }
    }

    /// Walking meters from pupil `p` to school `s`, `None` when there is no route.
    #[inline]
    pub fn get(&self, p: usize, s: usize) -> Option<u32> {
        let m = self.meters[p * self.n_schools + s];
        (m != UNREACHABLE).then_some(m)
    }

    /// Pupil `p`'s row: meters to every school, [`UNREACHABLE`] where there is no route.
    #[inline]
    pub fn row(&self, p: usize) -> &[u32] {
        &self.meters[p * self.n_schools..(p + 1) * self.n_schools]
    }

    /// Walking seconds from pupil `p` to school `s`; `None` without times or without a route.
    pub fn seconds(&self, p: usize, s: usize) -> Option<u32> {
        let v = self.seconds.as_ref()?[p * self.n_schools + s];
        (v != UNREACHABLE).then_some(v)
    }
}

const MAX_PROBLEMS: usize = 200;

/// Read a long-format matrix for `inst`. Every pupil/school pair must be present (write
/// `unreachable` as meters for a pair with no route); rows for blocks or pupils the instance
/// does not have are errors for pupils and ignored for blocks (a city-wide block matrix may
/// cover blocks without pupils this year).
pub fn read_matrix(path: &Path, inst: &Instance) -> Result<Matrix> {
    let input = crate::instance::limits::open_input(path)?;
    let mut m = parse_matrix(&file_name(path), input, inst)?;
    m.source = read_meta(path)
        .map(|meta| meta.source)
        .unwrap_or_else(|| format!("matrix file {}", file_name(path)));
    Ok(m)
}

/// Parse a long-format matrix for `inst` from `reader`; `name` is the file name messages use.
pub fn parse_matrix<R: std::io::Read>(name: &str, reader: R, inst: &Instance) -> Result<Matrix> {
    let problem = |line: Option<u64>, field: Option<&str>, msg: String| {
        InputProblem::new(name, line, field, msg)
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(limits::Limited::new(reader));
    let mut rec = csv::ByteRecord::new();
    // Header: detect delimiter by re-reading is not possible on a stream, so accept ',' and
    // report ';' clearly.
    let got = rdr.read_byte_record(&mut rec).map_err(|e| {
        limits::csv_exceeded(name, &e)
            .unwrap_or_else(|| Error::input(name, Some(1), None, format!("cannot read: {e}")))
    })?;
    if !got {
        return Err(Error::input(
            name,
            None,
            None,
            "the file is empty: expected 'pupil_id,school_id,meters[,seconds]'",
        ));
    }
    let header: Vec<String> = rec
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    if header.len() == 1 && (header[0].contains(';') || header[0].contains('\t')) {
        return Err(Error::input(
            name,
            Some(1),
            None,
            "the matrix must be comma-separated: 'pupil_id,school_id,meters[,seconds]'",
        ));
    }
    let col = |n: &str| header.iter().position(|h| h == n);
    let (row_col, by_block) = match (col("pupil_id"), col("block_id")) {
        (Some(c), _) => (c, false),
        (None, Some(c)) => (c, true),
        (None, None) => {
            return Err(Error::input(
                name,
                Some(1),
                Some("pupil_id"),
                "required column is missing (or 'block_id')",
            ))
        }
    };
    let Some(school_col) = col("school_id") else {
        return Err(Error::input(name, Some(1), Some("school_id"), "required column is missing"));
    };
    let Some(meters_col) = col("meters") else {
        return Err(Error::input(name, Some(1), Some("meters"), "required column is missing"));
    };
    let seconds_col = col("seconds");

    let n_s = inst.schools.len();
    if (inst.pupils.len() as u64).saturating_mul(n_s as u64) > limits::MAX_MATRIX_CELLS {
        return Err(limits::matrix_too_large(name, inst.pupils.len() as u64, n_s as u64, "pupils"));
    }
    let school_ix: HashMap<&str, usize> =
        inst.schools.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    // Row keys -> the pupils they stand for.
    let mut rows_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in inst.pupils.iter().enumerate() {
        let key = if by_block { p.block.as_deref() } else { Some(p.id.as_str()) };
        if let Some(k) = key {
            rows_of.entry(k).or_default().push(i);
        }
    }
    let without_block = inst.pupils.iter().filter(|p| p.block.is_none()).count();
    if by_block && without_block > 0 {
        return Err(Error::input(
            name,
            None,
            Some("block_id"),
            format!("the matrix is per block, but {without_block} pupils have no block"),
        ));
    }
    let mut m = Matrix::new(inst.pupils.len(), n_s, "matrix file");
    let mut secs = seconds_col.map(|_| vec![UNREACHABLE; inst.pupils.len() * n_s]);
    // One flag per (row key, school) to find duplicates, keyed by first pupil of the key.
    let mut seen = vec![false; inst.pupils.len() * n_s];
    let mut problems = Vec::new();
    let mut line: u64 = 1;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if let Some(limit) = limits::csv_exceeded(name, &e) {
                    return Err(limit);
                }
                problems.push(problem(
                    e.position().map(|p| p.line()),
                    None,
                    "malformed CSV row".into(),
                ));
                break;
            }
        }
        line = rec.position().map(|p| p.line()).unwrap_or(line + 1);
        if line > limits::MAX_MATRIX_CELLS + 1 {
            return Err(limits::too_many_matrix_rows(name, line));
        }
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(|b| b.is_ascii_whitespace())) {
            continue;
        }
        if rec.len() != header.len() {
            problems.push(problem(
                Some(line),
                None,
                format!("row has {} fields but the header has {}", rec.len(), header.len()),
            ));
            continue;
        }
        let field = |c: usize| std::str::from_utf8(rec.get(c).unwrap_or(b"")).map(str::trim);
        let (Ok(key), Ok(sid), Ok(meters)) = (field(row_col), field(school_col), field(meters_col))
        else {
            problems.push(problem(Some(line), None, "not valid UTF-8 text".into()));
            continue;
        };
        let key_name = header[row_col].as_str();
        let pupils = match rows_of.get(key) {
            Some(v) => v,
            None if by_block => continue,
            None => {
                // Pupil ids are personal: the line names the row.
                problems.push(problem(
                    Some(line),
                    Some(key_name),
                    "unknown pupil id (not in the pupils file)".into(),
                ));
                continue;
            }
        };
        let Some(&s) = school_ix.get(sid) else {
            problems.push(problem(
                Some(line),
                Some("school_id"),
                format!("unknown school id '{}'", limits::shown(sid)),
            ));
            continue;
        };
        let Some(meters) =
            parse_distance(meters, "meters", line, by_block, &mut problems, &problem)
        else {
            continue;
        };
        let seconds = match (seconds_col, &secs) {
            (Some(c), Some(_)) => match field(c) {
                Ok(v) => {
                    match parse_distance(v, "seconds", line, by_block, &mut problems, &problem) {
                        Some(x) => Some(x),
                        None => continue,
                    }
                }
                Err(_) => continue,
            },
            _ => None,
        };
        let first = pupils[0] * n_s + s;
        if seen[first] {
            let msg = if by_block {
                format!("pair ('{key}', '{sid}') appears twice")
            } else {
                format!("the pupil's pair with school '{sid}' appears twice")
            };
            problems.push(problem(Some(line), Some(key_name), msg));
            continue;
        }
        seen[first] = true;
        for &p in pupils {
            m.meters[p * n_s + s] = meters;
            if let (Some(v), Some(x)) = (secs.as_mut(), seconds) {
                v[p * n_s + s] = x;
            }
        }
    }
    if problems.is_empty() {
        // Every pair present?
        let mut missing = 0usize;
        let mut examples = Vec::new();
        let mut pupils_short = 0usize;
        for (p, pupil) in inst.pupils.iter().enumerate() {
            let before = missing;
            for (s, school) in inst.schools.iter().enumerate() {
                let key_first = if by_block {
                    rows_of[pupil.block.as_deref().unwrap_or_default()][0]
                } else {
                    p
                };
                if !seen[key_first * n_s + s] {
                    missing += 1;
                    // Blocks are named; pupils (personal) by the schools they lack.
                    let example = match &pupil.block {
                        Some(b) if by_block => format!("('{b}', '{}')", school.id),
                        _ => format!("school '{}'", school.id),
                    };
                    if examples.len() < 5 && !examples.contains(&example) {
                        examples.push(example);
                    }
                }
            }
            pupils_short += usize::from(missing > before);
        }
        if missing > 0 {
            // Pupils without any row: most likely left out when their addresses were geocoded.
            let without_rows = inst
                .pupils
                .iter()
                .enumerate()
                .filter(|(p, pupil)| {
                    let first = if by_block {
                        rows_of[pupil.block.as_deref().unwrap_or_default()][0]
                    } else {
                        *p
                    };
                    (0..n_s).all(|s| !seen[first * n_s + s])
                })
                .count();
            let geocoding = if without_rows > 0 && !by_block {
                format!(
                    "; {without_rows} pupils have no row at all: were they left out because their \
                     addresses could not be placed (geocoding)? A matrix written that way names \
                     them in its .meta.json, and then they are left out here too"
                )
            } else {
                String::new()
            };
            problems.push(problem(
                None,
                None,
                format!(
                    "{missing} pupil-school pairs are missing ({pupils_short} pupils lack a row), e.g. {}; every pair needs a row (use 'unreachable' as meters for no route){geocoding}",
                    examples.join(", ")
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    m.seconds = secs;
    Ok(m)
}

/// A distance cell: whole meters (rounded), `UNREACHABLE` for `unreachable`, or why not (the
/// value shown, at most 40 characters).
pub(crate) fn distance_value(v: &str) -> std::result::Result<u32, String> {
    distance_value_shown(v, true)
}

/// [`distance_value`]; `show`: whether the message may quote the value (not in a matrix keyed
/// by pupil: its rows are personal, and a broken quote can pull other rows into a field).
fn distance_value_shown(v: &str, show: bool) -> std::result::Result<u32, String> {
    if v.is_empty() {
        return Err("is empty (write 'unreachable' for a pair with no route)".into());
    }
    if v.eq_ignore_ascii_case("unreachable") {
        return Ok(UNREACHABLE);
    }
    let got = if show { format!(" (got '{}')", limits::shown(v)) } else { String::new() };
    match v.parse::<f64>() {
        Ok(x) if x.is_nan() || x.is_infinite() => Err(format!("is not a finite number{got}")),
        Ok(x) if x < 0.0 => Err(format!("must not be negative{got}")),
        Ok(x) if x >= (UNREACHABLE - 1) as f64 => Err(format!("is too large{got}")),
        Ok(x) => Ok(x.round() as u32),
        Err(_) => Err(format!("is not a number{got}")),
    }
}

/// Makes an input problem at a line and field.
type ProblemAt<'a> = dyn Fn(Option<u64>, Option<&str>, String) -> InputProblem + 'a;

fn parse_distance(
    v: &str,
    field: &str,
    line: u64,
    show: bool,
    problems: &mut Vec<InputProblem>,
    problem: &ProblemAt<'_>,
) -> Option<u32> {
    distance_value_shown(v, show)
        .map_err(|m| problems.push(problem(Some(line), Some(field), m)))
        .ok()
}

/// Sidecar `<matrix>.meta.json`: where the distances come from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MatrixMeta {
    /// Where the distances come from (becomes [`Matrix::source`]).
    pub source: String,
    /// Pupils of the pupils file the matrix has no rows for because their address could not
    /// be placed (geocoding, leaving them out): readers leave them out too. Internal, like the
    /// matrix (pupil ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out_ungeocoded: Vec<String>,
}

/// The sidecar path of a matrix file: `<path>.meta.json`.
pub fn meta_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".meta.json");
    path.with_file_name(name)
}

/// The sidecar of a matrix file, when there is a readable one.
pub fn read_meta(path: &Path) -> Option<MatrixMeta> {
    serde_json::from_str(&std::fs::read_to_string(meta_path(path)).ok()?).ok()
}

/// Write the matrix in long format, rows in instance order (pupil id, then school id).
pub fn write_matrix(path: &Path, inst: &Instance, m: &Matrix) -> Result<()> {
    write_matrix_with(path, inst, m, &[])
}

/// [`write_matrix`], its sidecar also naming the pupils left out because their address could
/// not be placed.
pub fn write_matrix_with(
    path: &Path,
    inst: &Instance,
    m: &Matrix,
    left_out: &[String],
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    if m.seconds.is_some() {
        writeln!(w, "pupil_id,school_id,meters,seconds").map_err(io)?;
    } else {
        writeln!(w, "pupil_id,school_id,meters").map_err(io)?;
    }
    for (p, pupil) in inst.pupils.iter().enumerate() {
        for (s, school) in inst.schools.iter().enumerate() {
            let d = m.get(p, s).map(|x| x.to_string()).unwrap_or_else(|| "unreachable".into());
            match m.seconds {
                Some(_) => {
                    let t = m
                        .seconds(p, s)
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "unreachable".into());
                    writeln!(w, "{},{},{d},{t}", csv_field(&pupil.id), csv_field(&school.id))
                        .map_err(io)?
                }
                None => writeln!(w, "{},{},{d}", csv_field(&pupil.id), csv_field(&school.id))
                    .map_err(io)?,
            }
        }
    }
    w.flush().map_err(io)?;
    let meta = serde_json::to_string_pretty(&MatrixMeta {
        source: m.source.clone(),
        left_out_ungeocoded: left_out.to_vec(),
    })
    .expect("serialisable");
    std::fs::write(meta_path(path), meta + "\n").map_err(|e| Error::io(meta_path(path), e))
}

/// Quote a CSV field when it needs it.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r', ';']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
