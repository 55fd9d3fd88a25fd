//! The distance matrix: walking meters (and seconds) from every pupil to every school, and the
//! long CSV format `pupil_id,school_id,meters[,seconds]` (or `block_id,...`).

use super::binary::{self, Format};
use crate::error::{Error, InputProblem, Result};
use crate::instance::{file_name, id_cmp, limits, Instance};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Marks a pair with no route (or left out of the model by a rule such as a maximum walk).
pub const UNREACHABLE: u32 = u32::MAX;

/// Pupil x school matrix in instance order, whole meters: dense (row-major), or partial — only
/// the pairs a file gave, row by row ([`Matrix::partial`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows: pupils (or blocks), in instance order.
    pub n_pupils: usize,
    /// Number of columns: schools, in instance order.
    pub n_schools: usize,
    /// Walking distance in whole meters, `meters[p * n_schools + s]`; [`UNREACHABLE`] for no route.
    /// Empty for a partial matrix (its pairs are in [`Matrix::partial`]).
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
    /// For a partial matrix (`--nearest`): the pairs the file gave, row by row (`meters` is
    /// then empty and `seconds` `None`). `None`: every pair is in `meters`.
    pub partial: Option<PartialRows>,
}

/// The pairs of a partial matrix, row by row (compressed rows): row `p`'s pairs are
/// `start[p]..start[p + 1]` of `schools` (ascending), `meters` and `seconds`. Only the pairs
/// given are held, so its memory follows the pairs, not pupils x schools.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PartialRows {
    start: Vec<usize>,
    schools: Vec<u32>,
    meters: Vec<u32>,
    seconds: Option<Vec<u32>>,
}

impl PartialRows {
    /// Rows from each row's pairs `(school, meters, seconds)`, in any order within a row (no
    /// school twice in a row); `seconds`: whether the pairs carry times.
    pub fn from_rows(rows: impl IntoIterator<Item = Vec<(u32, u32, u32)>>, seconds: bool) -> Self {
        let mut out =
            PartialRows { start: vec![0], seconds: seconds.then(Vec::new), ..Default::default() };
        for mut row in rows {
            row.sort_unstable_by_key(|e| e.0);
            for (s, m, t) in row {
                out.schools.push(s);
                out.meters.push(m);
                if let Some(v) = out.seconds.as_mut() {
                    v.push(t);
                }
            }
            out.start.push(out.schools.len());
        }
        out
    }

    /// Row `p`'s pairs: schools (ascending) and their meters.
    #[inline]
    pub fn row(&self, p: usize) -> (&[u32], &[u32]) {
        let r = self.start[p]..self.start[p + 1];
        (&self.schools[r.clone()], &self.meters[r])
    }

    /// The position of pair (`p`, `s`) in the pairs, if given.
    #[inline]
    fn find(&self, p: usize, s: usize) -> Option<usize> {
        let (a, b) = (self.start[p], self.start[p + 1]);
        self.schools[a..b].binary_search(&(s as u32)).ok().map(|i| a + i)
    }

    /// Row `p`'s seconds, in the order of [`PartialRows::row`], when the pairs carry times.
    pub fn row_seconds(&self, p: usize) -> Option<&[u32]> {
        self.seconds.as_ref().map(|t| &t[self.start[p]..self.start[p + 1]])
    }

    /// Whether the pairs carry walking seconds.
    pub fn has_seconds(&self) -> bool {
        self.seconds.is_some()
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.start.len() - 1
    }

    /// The rows as the binary format's sparse rows ([`binary::SparseRows`]).
    pub fn as_sparse(&self) -> binary::SparseRows<'_> {
        binary::SparseRows {
            start: &self.start,
            schools: &self.schools,
            meters: &self.meters,
            seconds: self.seconds.as_deref(),
        }
    }

    /// Append a row: its pairs' schools (ascending), meters and seconds (when the rows carry
    /// times).
    fn push_row(&mut self, schools: &[u32], meters: &[u32], seconds: Option<&[u32]>) {
        self.schools.extend_from_slice(schools);
        self.meters.extend_from_slice(meters);
        if let Some(v) = self.seconds.as_mut() {
            match seconds {
                Some(t) => v.extend_from_slice(t),
                None => v.resize(self.schools.len(), UNREACHABLE),
            }
        }
        self.start.push(self.schools.len());
    }

    /// Number of pairs given.
    pub fn len(&self) -> usize {
        self.schools.len()
    }

    /// Whether no pair is given.
    pub fn is_empty(&self) -> bool {
        self.schools.is_empty()
    }
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
            partial: None,
        }
    }

    /// A partial matrix of `n_schools` columns holding only the pairs of `rows` (one per
    /// pupil, in instance order).
    pub fn from_partial(n_schools: usize, rows: PartialRows, source: impl Into<String>) -> Self {
        Matrix {
            n_pupils: rows.start.len() - 1,
            n_schools,
            meters: Vec::new(),
            seconds: None,
            source: source.into(),
            snap_m: None,
            partial: Some(rows),
        }
    }

    /// Whether the matrix holds only some pairs ([`Matrix::partial`]).
    pub fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// Whether pair (`p`, `s`) was given: always, unless the matrix is partial.
    #[inline]
    pub fn is_given(&self, p: usize, s: usize) -> bool {
        self.partial.as_ref().is_none_or(|r| r.find(p, s).is_some())
    }

    /// Pairs given (every pair unless the matrix is partial).
    pub fn n_given(&self) -> u64 {
        match &self.partial {
            None => (self.n_pupils * self.n_schools) as u64,
            Some(r) => r.len() as u64,
        }
    }

    /// Pair (`p`, `s`) as given: its meters ([`UNREACHABLE`] for no route), `None` when a
    /// partial matrix leaves it out.
    #[inline]
    pub fn pair(&self, p: usize, s: usize) -> Option<u32> {
        match &self.partial {
            None => Some(self.meters[p * self.n_schools + s]),
            Some(r) => r.find(p, s).map(|i| r.meters[i]),
        }
    }

    /// Row `p`'s pairs given, (school, meters) by school: every school of a dense matrix,
    /// [`UNREACHABLE`] included.
    pub fn given_row(&self, p: usize) -> impl Iterator<Item = (usize, u32)> + '_ {
        let (schools, meters) = match &self.partial {
            None => (None, self.row(p)),
            Some(r) => {
                let (s, m) = r.row(p);
                (Some(s), m)
            }
        };
        meters.iter().enumerate().map(move |(i, &m)| (schools.map_or(i, |s| s[i] as usize), m))
    }

    /// The school of least walk among row `p`'s pairs given (ties: the first school), and
    /// its meters; `None` when no school is reachable.
    pub fn nearest(&self, p: usize) -> Option<(usize, u32)> {
        self.given_row(p).filter(|&(_, d)| d != UNREACHABLE).min_by_key(|&(s, d)| (d, s))
    }

    /// The rows `keep` (indices, in the order given) as a matrix of their own: a matrix for an
    /// instance with some pupils left out.
    pub fn select_rows(&self, keep: &[usize]) -> Matrix {
        let n_s = self.n_schools;
        if let Some(r) = &self.partial {
            let rows = keep.iter().map(|&p| {
                let (a, b) = (r.start[p], r.start[p + 1]);
                (a..b)
                    .map(|i| {
                        let t = r.seconds.as_ref().map_or(UNREACHABLE, |v| v[i]);
                        (r.schools[i], r.meters[i], t)
                    })
                    .collect::<Vec<_>>()
            });
            let rows = PartialRows::from_rows(rows, r.seconds.is_some());
            return Matrix {
                snap_m: self.snap_m.as_ref().map(|s| keep.iter().map(|&r| s[r]).collect()),
                ..Matrix::from_partial(n_s, rows, self.source.clone())
            };
        }
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
            partial: None,
        }
    }

    /// Walking meters from pupil `p` to school `s`, `None` when there is no route (or a
    /// partial matrix does not give the pair).
    #[inline]
    pub fn get(&self, p: usize, s: usize) -> Option<u32> {
        let m = match &self.partial {
            None => self.meters[p * self.n_schools + s],
            Some(_) => self.pair(p, s)?,
        };
        (m != UNREACHABLE).then_some(m)
    }

    /// Pupil `p`'s row of a dense matrix: meters to every school, [`UNREACHABLE`] where there
    /// is no route. A partial matrix has no such row (empty): see [`Matrix::given_row`].
    #[inline]
    pub fn row(&self, p: usize) -> &[u32] {
        if self.partial.is_some() {
            return &[];
        }
        &self.meters[p * self.n_schools..(p + 1) * self.n_schools]
    }

    /// Walking seconds from pupil `p` to school `s`; `None` without times or without a route.
    pub fn seconds(&self, p: usize, s: usize) -> Option<u32> {
        let v = match &self.partial {
            None => self.seconds.as_ref()?[p * self.n_schools + s],
            Some(r) => r.seconds.as_ref()?[r.find(p, s)?],
        };
        (v != UNREACHABLE).then_some(v)
    }

    /// The dense matrix of a partial one that gives every pair (itself otherwise).
    fn densified(self) -> Matrix {
        let Some(r) = &self.partial else { return self };
        if r.len() != self.n_pupils * self.n_schools {
            return self;
        }
        Matrix { meters: r.meters.clone(), seconds: r.seconds.clone(), partial: None, ..self }
    }
}

const MAX_PROBLEMS: usize = 200;

/// Read a matrix file for `inst`: long CSV or the binary format ([`super::binary`]), told apart
/// by the file's first bytes. Every pupil/school pair must be present (write `unreachable` as
/// meters for a pair with no route); rows for blocks or pupils the instance does not have are
/// errors for pupils and ignored for blocks (a city-wide block matrix may cover blocks without
/// pupils this year).
pub fn read_matrix(path: &Path, inst: &Instance) -> Result<Matrix> {
    read_matrix_with(path, inst, false)
}

/// [`read_matrix`]; `partial`: a long CSV may leave pairs out (a matrix of each pupil's
/// nearest schools for `--nearest`), held as the pairs given ([`Matrix::partial`]: no limit on
/// pupils x schools, only on the file's rows); a file that gives every pair is read dense.
pub fn read_matrix_with(path: &Path, inst: &Instance, partial: bool) -> Result<Matrix> {
    let len = limits::check_input_file(path)?.len();
    let name = file_name(path);
    let mut m = parse_any(&name, limits::open_input(path)?, Some(len), inst, partial)?;
    if m.source.is_empty() {
        m.source = read_meta(path)
            .map(|meta| meta.source)
            .unwrap_or_else(|| format!("matrix file {name}"));
    }
    Ok(m)
}

/// [`read_matrix`] from any reader (either format); `name` is the file name messages use.
/// The matrix's `source` is the one a binary file names, else empty.
pub fn parse_matrix<R: std::io::Read>(name: &str, reader: R, inst: &Instance) -> Result<Matrix> {
    parse_any(name, reader, None, inst, false)
}

/// [`parse_matrix`]; `partial` as in [`read_matrix_with`].
pub fn parse_matrix_with<R: std::io::Read>(
    name: &str,
    reader: R,
    inst: &Instance,
    partial: bool,
) -> Result<Matrix> {
    parse_any(name, reader, None, inst, partial)
}

fn parse_any<R: std::io::Read>(
    name: &str,
    reader: R,
    len: Option<u64>,
    inst: &Instance,
    partial: bool,
) -> Result<Matrix> {
    let n_s = inst.schools.len() as u64;
    let dense_limit = || {
        if (inst.pupils.len() as u64).saturating_mul(n_s) > limits::MAX_MATRIX_CELLS {
            return Err(limits::matrix_too_large(name, inst.pupils.len() as u64, n_s, "pupils"));
        }
        Ok(())
    };
    match binary::sniff(name, reader)? {
        (Format::Binary, r) => {
            if !partial {
                dense_limit()?;
            }
            from_binary(name, r, len, inst, partial).map(Matrix::densified)
        }
        (Format::Csv, r) if partial => parse_csv(name, r, inst, true).map(Matrix::densified),
        (Format::Csv, r) => {
            dense_limit()?;
            parse_csv(name, r, inst, false)
        }
    }
}

/// Every pupil's row key's first pupil: the pupil whose flags stand for the key's pairs.
fn key_first(inst: &Instance, by_block: bool, rows_of: &HashMap<&str, Vec<usize>>) -> Vec<usize> {
    inst.pupils
        .iter()
        .enumerate()
        .map(|(p, pupil)| match (by_block, pupil.block.as_deref()) {
            (true, Some(b)) => rows_of[b][0],
            _ => p,
        })
        .collect()
}

/// The problem "N pupil-school pairs are missing" (with up to five examples), when `present`
/// (key's first pupil, school) is false for some pair.
fn missing_pairs(
    name: &str,
    inst: &Instance,
    by_block: bool,
    first: &[usize],
    present: impl Fn(usize, usize) -> bool,
) -> Option<InputProblem> {
    let mut missing = 0usize;
    let mut examples = Vec::new();
    let mut pupils_short = 0usize;
    for (p, pupil) in inst.pupils.iter().enumerate() {
        let before = missing;
        for (s, school) in inst.schools.iter().enumerate() {
            if !present(first[p], s) {
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
    // Pupils without any row: most likely left out when their addresses were geocoded.
    let without_rows = (0..inst.pupils.len())
        .filter(|&p| (0..inst.schools.len()).all(|s| !present(first[p], s)))
        .count();
    let geocoding = if missing > 0 && without_rows > 0 && !by_block {
        format!(
            "; {without_rows} pupils have no row at all: were they left out because their \
             addresses could not be placed (geocoding)? A matrix written that way names them in \
             its .meta.json, and then they are left out here too"
        )
    } else {
        String::new()
    };
    (missing > 0).then(|| {
        InputProblem::new(
            name,
            None,
            None,
            format!(
                "{missing} pupil-school pairs are missing ({pupils_short} pupils lack a row), e.g. {}; every pair needs a row (use 'unreachable' as meters for no route){geocoding}",
                examples.join(", ")
            ),
        )
    })
}

/// The pupils (instance indices) each row key stands for, and the problem of a per-block
/// matrix for pupils without a block.
fn row_keys<'a>(
    name: &str,
    inst: &'a Instance,
    by_block: bool,
) -> Result<HashMap<&'a str, Vec<usize>>> {
    let mut rows_of: HashMap<&str, Vec<usize>> = HashMap::with_capacity(inst.pupils.len());
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
    Ok(rows_of)
}

/// A field as trimmed text, or not UTF-8.
fn utf8(b: &[u8]) -> std::result::Result<&str, std::str::Utf8Error> {
    std::str::from_utf8(b).map(str::trim)
}

/// Whole meters written as plain digits (at most 9, so below `UNREACHABLE - 1`): the common
/// case, parsed without UTF-8 checks or floats; anything else goes through [`distance_value`].
#[inline]
pub(crate) fn plain_meters(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u32;
    }
    Some(v)
}

/// The columns of a long matrix's header row.
struct Columns {
    /// Lower-cased, trimmed header names.
    names: Vec<String>,
    /// The row key's column and whether it is `block_id`.
    row: usize,
    by_block: bool,
    school: usize,
    meters: usize,
    seconds: Option<usize>,
}

fn columns(name: &str, rec: &csv::ByteRecord) -> Result<Columns> {
    let names: Vec<String> = rec
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    if names.len() == 1 && (names[0].contains(';') || names[0].contains('\t')) {
        return Err(Error::input(
            name,
            Some(1),
            None,
            "the matrix must be comma-separated: 'pupil_id,school_id,meters[,seconds]'",
        ));
    }
    let col = |n: &str| names.iter().position(|h| h == n);
    let (row, by_block) = match (col("pupil_id"), col("block_id")) {
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
    let Some(school) = col("school_id") else {
        return Err(Error::input(name, Some(1), Some("school_id"), "required column is missing"));
    };
    let Some(meters) = col("meters") else {
        return Err(Error::input(name, Some(1), Some("meters"), "required column is missing"));
    };
    let seconds = col("seconds");
    Ok(Columns { names, row, by_block, school, meters, seconds })
}

/// A CSV reader of long matrices and its header row.
fn csv_reader<R: std::io::Read>(
    name: &str,
    reader: R,
    rec: &mut csv::ByteRecord,
) -> Result<(csv::Reader<limits::Limited<R>>, Columns)> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(limits::Limited::new(reader));
    let got = rdr.read_byte_record(rec).map_err(|e| {
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
    let cols = columns(name, rec)?;
    Ok((rdr, cols))
}

/// Parse a long-format CSV matrix for `inst`. Rows come in any order; the common order (a
/// pupil's rows together, schools in instance order) is read without hashing: the last row's
/// key and the next school are tried first.
fn parse_csv<R: std::io::Read>(
    name: &str,
    reader: R,
    inst: &Instance,
    partial: bool,
) -> Result<Matrix> {
    let problem = |line: Option<u64>, field: Option<&str>, msg: String| {
        InputProblem::new(name, line, field, msg)
    };
    let mut rec = csv::ByteRecord::new();
    let (mut rdr, cols) = csv_reader(name, reader, &mut rec)?;
    let Columns { names: header, row: row_col, by_block, school: school_col, .. } = &cols;
    let (row_col, by_block, school_col) = (*row_col, *by_block, *school_col);
    let (meters_col, seconds_col) = (cols.meters, cols.seconds);

    let n_s = inst.schools.len();
    let school_ix: HashMap<&str, usize> =
        inst.schools.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    // Row keys -> the pupils they stand for.
    let rows_of = row_keys(name, inst, by_block)?;
    // Dense: every cell, and one flag per (row key, school) to find duplicates, keyed by the
    // key's first pupil. Partial: the pairs as read (duplicates found once sorted).
    let cells = if partial { 0 } else { inst.pupils.len() * n_s };
    let mut m = Matrix::new(if partial { 0 } else { inst.pupils.len() }, n_s, "");
    let mut secs = seconds_col.map(|_| vec![UNREACHABLE; cells]);
    let mut seen = vec![false; cells];
    let mut found: Vec<Found> = Vec::new();
    let mut problems = Vec::new();
    let mut line: u64 = 1;
    let key_name = header[row_col].as_str();
    // The last row's key (raw bytes) and its pupils; the school expected next.
    let mut last_key: Vec<u8> = Vec::new();
    let mut last_pupils: Option<&[usize]> = None;
    let mut next_school = 0usize;
    let mut rows = 0u64;
    loop {
        // A cancellation point every 64 Ki rows (a few milliseconds of reading).
        rows += 1;
        if rows.is_multiple_of(65_536) {
            crate::cancel::check()?;
        }
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
        let raw = |c: usize| rec.get(c).unwrap_or(b"");
        let (key_raw, sid_raw, meters_raw) = (raw(row_col), raw(school_col), raw(meters_col));
        // Fields equal to a known id, or plain digits, are valid UTF-8 without a check.
        let key_hit = last_pupils.is_some() && key_raw == last_key.as_slice();
        let school_hit = next_school < n_s && sid_raw == inst.schools[next_school].id.as_bytes();
        let plain = plain_meters(meters_raw);
        if (!key_hit && utf8(key_raw).is_err())
            || (!school_hit && utf8(sid_raw).is_err())
            || (plain.is_none() && utf8(meters_raw).is_err())
        {
            problems.push(problem(Some(line), None, "not valid UTF-8 text".into()));
            continue;
        }
        let pupils = match last_pupils.filter(|_| key_hit) {
            Some(v) => v,
            None => {
                let key = utf8(key_raw).unwrap_or_default();
                match rows_of.get(key) {
                    Some(v) => {
                        last_key.clear();
                        last_key.extend_from_slice(key_raw);
                        last_pupils = Some(v);
                        v
                    }
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
                }
            }
        };
        let s = if school_hit {
            next_school
        } else {
            let sid = utf8(sid_raw).unwrap_or_default();
            match school_ix.get(sid) {
                Some(&s) => s,
                None => {
                    problems.push(problem(
                        Some(line),
                        Some("school_id"),
                        format!("unknown school id '{}'", limits::shown(sid)),
                    ));
                    continue;
                }
            }
        };
        next_school = if s + 1 == n_s { 0 } else { s + 1 };
        let meters = match plain {
            Some(v) => v,
            None => {
                let v = utf8(meters_raw).unwrap_or_default();
                let Some(v) = parse_distance(v, "meters", line, by_block, &mut problems, &problem)
                else {
                    continue;
                };
                v
            }
        };
        let seconds = match (seconds_col, &secs) {
            (Some(c), Some(_)) => match plain_meters(raw(c)) {
                Some(v) => Some(v),
                None => match utf8(raw(c)) {
                    Ok(v) => {
                        match parse_distance(v, "seconds", line, by_block, &mut problems, &problem)
                        {
                            Some(x) => Some(x),
                            None => continue,
                        }
                    }
                    Err(_) => continue,
                },
            },
            _ => None,
        };
        if partial {
            let seconds = seconds.unwrap_or(UNREACHABLE);
            found.push(Found { key: pupils[0] as u32, school: s as u32, meters, seconds, line });
            continue;
        }
        let first = pupils[0] * n_s + s;
        if seen[first] {
            let sid = &inst.schools[s].id;
            let msg = if by_block {
                let key = String::from_utf8_lossy(key_raw);
                format!("pair ('{}', '{sid}') appears twice", key.trim())
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
    let first = key_first(inst, by_block, &rows_of);
    if problems.is_empty() && !partial {
        problems.extend(missing_pairs(name, inst, by_block, &first, |k, s| seen[k * n_s + s]));
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    if partial {
        return partial_rows(name, inst, by_block, &first, found, seconds_col.is_some());
    }
    m.seconds = secs;
    Ok(m)
}

/// A pair of a partial matrix as read: the row key's first pupil, the school, the values and
/// the line.
struct Found {
    key: u32,
    school: u32,
    meters: u32,
    seconds: u32,
    line: u64,
}

/// The partial matrix of the pairs read: a pair given twice is a problem at its second line;
/// each pupil's pairs are its row key's (`first[p]`: the key's first pupil).
fn partial_rows(
    name: &str,
    inst: &Instance,
    by_block: bool,
    first: &[usize],
    mut found: Vec<Found>,
    seconds: bool,
) -> Result<Matrix> {
    found.sort_unstable_by_key(|f| (f.key, f.school, f.line));
    let mut problems = Vec::new();
    for w in found.windows(2) {
        if (w[0].key, w[0].school) == (w[1].key, w[1].school) && problems.len() < MAX_PROBLEMS {
            let sid = &inst.schools[w[1].school as usize].id;
            let (field, msg) = match inst.pupils[w[1].key as usize].block.as_deref() {
                Some(b) if by_block => ("block_id", format!("pair ('{b}', '{sid}') appears twice")),
                _ => ("pupil_id", format!("the pupil's pair with school '{sid}' appears twice")),
            };
            problems.push(InputProblem::new(name, Some(w[1].line), Some(field), msg));
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        return Err(Error::Input(problems));
    }
    // Where each key's pairs begin in `found`.
    let mut at: HashMap<u32, usize> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        at.entry(f.key).or_insert(i);
    }
    let rows = first.iter().map(|&k| match at.get(&(k as u32)) {
        Some(&i) => found[i..]
            .iter()
            .take_while(|f| f.key == k as u32)
            .map(|f| (f.school, f.meters, f.seconds))
            .collect(),
        None => Vec::new(),
    });
    let rows = PartialRows::from_rows(rows, seconds);
    Ok(Matrix::from_partial(inst.schools.len(), rows, ""))
}

/// A binary matrix's rows put in instance order.
struct ToMatrix<'a> {
    name: &'a str,
    inst: &'a Instance,
    m: Matrix,
    /// Per file row: the pupils (instance indices) it stands for.
    targets: Vec<Vec<usize>>,
    /// (file column, instance school) of the file's known schools.
    cols: Vec<(usize, usize)>,
    /// File rows and schools are the instance's, in its order: rows are copied whole.
    identity: bool,
    by_block: bool,
    /// Per pupil: its key is in the file (flag at the key's first pupil).
    key_present: Vec<bool>,
    school_present: Vec<bool>,
    problems: Vec<InputProblem>,
    /// A file with dense rows that cannot be held (more cells than a matrix may have).
    fatal: Option<Error>,
    /// Sparse rows: the instance school of each file column (`u32::MAX`: unknown).
    col_of: Vec<u32>,
    /// Sparse rows, the file's rows and schools the instance's: the pairs as read.
    rows: PartialRows,
    /// Sparse rows otherwise: each pupil's pairs (instance school, meters, seconds).
    by_pupil: Vec<Vec<(u32, u32, u32)>>,
}

impl super::binary::RowSink for ToMatrix<'_> {
    fn header(&mut self, h: &binary::Header) {
        let (inst, name) = (self.inst, self.name);
        let (n_p, n_s) = (inst.pupils.len() as u64, inst.schools.len() as u64);
        if !h.sparse {
            // Dense rows are held dense, whatever `--nearest` allows.
            if n_p.saturating_mul(n_s) > limits::MAX_MATRIX_CELLS {
                self.fatal = Some(limits::matrix_too_large(name, n_p, n_s, "pupils"));
                return;
            }
            self.m = Matrix::new(inst.pupils.len(), inst.schools.len(), "");
            if h.seconds {
                self.m.seconds = Some(vec![UNREACHABLE; inst.pupils.len() * inst.schools.len()]);
            }
        } else {
            self.rows = PartialRows::from_rows(std::iter::empty(), h.seconds);
            self.col_of = vec![u32::MAX; h.schools.len()];
        }
        self.by_block = h.blocks;
        let rows_of = match row_keys(name, inst, h.blocks) {
            Ok(r) => r,
            Err(Error::Input(p)) => {
                self.problems.extend(p);
                return;
            }
            Err(_) => return,
        };
        let school_ix: HashMap<&str, usize> =
            inst.schools.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        for (c, sid) in h.schools.iter().enumerate() {
            match school_ix.get(sid.as_str()) {
                Some(&s) => {
                    self.cols.push((c, s));
                    self.school_present[s] = true;
                    if let Some(v) = self.col_of.get_mut(c) {
                        *v = s as u32;
                    }
                }
                None if self.problems.len() < MAX_PROBLEMS => {
                    self.problems.push(InputProblem::new(
                        name,
                        None,
                        Some("school_id"),
                        format!("unknown school id '{}'", limits::shown(sid)),
                    ))
                }
                None => {}
            }
        }
        let column = h.row_column();
        for key in &h.rows {
            match rows_of.get(key.as_str()) {
                Some(pupils) => {
                    self.key_present[pupils[0]] = true;
                    self.targets.push(pupils.clone());
                }
                None => {
                    self.targets.push(Vec::new());
                    if !h.blocks && self.problems.len() < MAX_PROBLEMS {
                        self.problems.push(InputProblem::new(
                            name,
                            None,
                            Some(column),
                            "unknown pupil id (not in the pupils file)",
                        ));
                    }
                }
            }
        }
        self.identity = !h.blocks
            && h.rows.len() == inst.pupils.len()
            && h.rows.iter().zip(&inst.pupils).all(|(r, p)| *r == p.id)
            && h.schools.len() == inst.schools.len()
            && h.schools.iter().zip(&inst.schools).all(|(a, b)| *a == b.id);
        if h.sparse && !self.identity {
            self.by_pupil = vec![Vec::new(); inst.pupils.len()];
        }
    }

    fn pairs(&mut self, r: usize, schools: &[u32], meters: &[u32], seconds: Option<&[u32]>) {
        if !self.problems.is_empty() {
            return;
        }
        if self.identity {
            self.rows.push_row(schools, meters, seconds);
            return;
        }
        for &p in &self.targets[r] {
            let row = &mut self.by_pupil[p];
            for (i, &c) in schools.iter().enumerate() {
                let s = self.col_of[c as usize];
                if s != u32::MAX {
                    row.push((s, meters[i], seconds.map_or(UNREACHABLE, |t| t[i])));
                }
            }
        }
    }

    fn place(&mut self, r: usize) -> Option<(&mut [u32], Option<&mut [u32]>)> {
        let n_s = self.m.n_schools;
        let row = r * n_s..(r + 1) * n_s;
        (self.identity && self.fatal.is_none()).then(|| {
            (&mut self.m.meters[row.clone()], self.m.seconds.as_mut().map(|s| &mut s[row]))
        })
    }

    fn row(&mut self, r: usize, meters: &[u32], seconds: Option<&[u32]>) {
        let n_s = self.m.n_schools;
        if self.fatal.is_some() {
            return;
        }
        for &p in &self.targets[r] {
            for &(c, s) in &self.cols {
                self.m.meters[p * n_s + s] = meters[c];
            }
            if let (Some(dst), Some(src)) = (self.m.seconds.as_mut(), seconds) {
                for &(c, s) in &self.cols {
                    dst[p * n_s + s] = src[c];
                }
            }
        }
    }
}

/// A binary matrix for `inst`: the ids must be the instance's as with CSV (the same messages,
/// without line numbers). A file with sparse rows gives a partial matrix when `partial`
/// allows one, else it must give every pair (as a CSV read without `partial`).
fn from_binary<R: std::io::Read>(
    name: &str,
    reader: R,
    len: Option<u64>,
    inst: &Instance,
    partial: bool,
) -> Result<Matrix> {
    let mut sink = ToMatrix {
        name,
        inst,
        m: Matrix::new(0, inst.schools.len(), ""),
        targets: Vec::new(),
        cols: Vec::new(),
        identity: false,
        by_block: false,
        key_present: vec![false; inst.pupils.len()],
        school_present: vec![false; inst.schools.len()],
        problems: Vec::new(),
        fatal: None,
        col_of: Vec::new(),
        rows: PartialRows::default(),
        by_pupil: Vec::new(),
    };
    let header = binary::read(name, reader, len, &mut sink)?;
    if let Some(e) = sink.fatal {
        return Err(e);
    }
    let mut problems = std::mem::take(&mut sink.problems);
    let m = if header.sparse && problems.is_empty() {
        let rows = match sink.identity {
            true => std::mem::take(&mut sink.rows),
            false => PartialRows::from_rows(std::mem::take(&mut sink.by_pupil), header.seconds),
        };
        let m = Matrix::from_partial(inst.schools.len(), rows, "").densified();
        if !partial && m.is_partial() {
            let rows_of = row_keys(name, inst, sink.by_block)?;
            let first = key_first(inst, sink.by_block, &rows_of);
            problems
                .extend(missing_pairs(name, inst, sink.by_block, &first, |k, s| m.is_given(k, s)));
        }
        m
    } else {
        if problems.is_empty() {
            let rows_of = row_keys(name, inst, sink.by_block)?;
            let first = key_first(inst, sink.by_block, &rows_of);
            let (keys, schools) = (&sink.key_present, &sink.school_present);
            problems.extend(missing_pairs(name, inst, sink.by_block, &first, |k, s| {
                keys[k] && schools[s]
            }));
        }
        sink.m
    };
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    Ok(Matrix { source: header.source, ..m })
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
    /// Pupils the plan left out because their blocks were excluded (`--exclude-blocks`):
    /// readers leave them out too. Internal (pupil ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out_excluded: Vec<String>,
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

/// Write the matrix in long format, rows in instance order (pupil id, then school id), with
/// the `.meta.json` sidecar naming its source.
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
    let meta = MatrixMeta {
        source: m.source.clone(),
        left_out_ungeocoded: left_out.to_vec(),
        left_out_excluded: vec![],
    };
    write_matrix_meta(path, inst, m, &meta)
}

/// [`write_matrix`] with the sidecar as given.
pub fn write_matrix_meta(
    path: &Path,
    inst: &Instance,
    m: &Matrix,
    meta: &MatrixMeta,
) -> Result<()> {
    let rows: Vec<&str> = inst.pupils.iter().map(|p| p.id.as_str()).collect();
    let schools: Vec<&str> = inst.schools.iter().map(|s| s.id.as_str()).collect();
    match &m.partial {
        None => write_long_csv(path, "pupil_id", &rows, &schools, &m.meters, m.seconds.as_deref())?,
        Some(r) => write_partial_long_csv(path, "pupil_id", &rows, &schools, r)?,
    }
    write_meta_full(path, meta)
}

/// The long CSV of a partial matrix: the pairs given only, rows in instance order (read back
/// with `--nearest`).
fn write_partial_long_csv(
    path: &Path,
    column: &str,
    rows: &[&str],
    schools: &[&str],
    r: &PartialRows,
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let extra = if r.seconds.is_some() { ",seconds" } else { "" };
    writeln!(w, "{column},school_id,meters{extra}").map_err(io)?;
    let value = |v: u32| if v == UNREACHABLE { "unreachable".to_string() } else { v.to_string() };
    for (p, id) in rows.iter().enumerate() {
        let id = csv_field(id);
        for i in r.start[p]..r.start[p + 1] {
            let school = csv_field(schools[r.schools[i] as usize]);
            write!(w, "{id},{school},{}", value(r.meters[i])).map_err(io)?;
            if let Some(t) = &r.seconds {
                write!(w, ",{}", value(t[i])).map_err(io)?;
            }
            w.write_all(b"\n").map_err(io)?;
        }
    }
    w.flush().map_err(io)
}

/// Write the matrix in the binary format ([`super::binary`]), rows in instance order, a
/// partial matrix with sparse rows; the source is kept in the file (no sidecar).
pub fn write_matrix_binary(path: &Path, inst: &Instance, m: &Matrix) -> Result<()> {
    let header = binary::Header {
        blocks: false,
        seconds: m.seconds.is_some() || m.partial.as_ref().is_some_and(PartialRows::has_seconds),
        sparse: m.partial.is_some(),
        source: m.source.clone(),
        rows: inst.pupils.iter().map(|p| p.id.clone()).collect(),
        schools: inst.schools.iter().map(|s| s.id.clone()).collect(),
    };
    match &m.partial {
        None => binary::write_file(path, &header, &m.meters, m.seconds.as_deref()),
        Some(r) => binary::write_sparse_file(path, &header, r.as_sparse()),
    }
}

/// Write the `.meta.json` sidecar of a matrix file (any format): its source and the pupils
/// left out by geocoding.
pub fn write_meta(path: &Path, source: &str, left_out: &[String]) -> Result<()> {
    write_meta_full(
        path,
        &MatrixMeta {
            source: source.to_string(),
            left_out_ungeocoded: left_out.to_vec(),
            left_out_excluded: vec![],
        },
    )
}

/// Write the `.meta.json` sidecar of a matrix file, as given.
pub fn write_meta_full(path: &Path, meta: &MatrixMeta) -> Result<()> {
    let meta = serde_json::to_string_pretty(meta).expect("serialisable");
    std::fs::write(meta_path(path), meta + "\n").map_err(|e| Error::io(meta_path(path), e))
}

/// The long CSV: a header row, then one row per (row, school), `unreachable` for no route.
pub(crate) fn write_long_csv(
    path: &Path,
    column: &str,
    rows: &[&str],
    schools: &[&str],
    meters: &[u32],
    seconds: Option<&[u32]>,
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let extra = if seconds.is_some() { ",seconds" } else { "" };
    writeln!(w, "{column},school_id,meters{extra}").map_err(io)?;
    let schools: Vec<_> = schools.iter().map(|s| csv_field(s)).collect();
    let value = |w: &mut std::io::BufWriter<std::fs::File>, v: u32| {
        if v == UNREACHABLE {
            w.write_all(b"unreachable")
        } else {
            write!(w, "{v}")
        }
    };
    let n_s = schools.len();
    for (r, id) in rows.iter().enumerate() {
        let id = csv_field(id);
        for (s, school) in schools.iter().enumerate() {
            write!(w, "{id},{school},").map_err(io)?;
            value(&mut w, meters[r * n_s + s]).map_err(io)?;
            if let Some(t) = seconds {
                w.write_all(b",").map_err(io)?;
                value(&mut w, t[r * n_s + s]).map_err(io)?;
            }
            w.write_all(b"\n").map_err(io)?;
        }
    }
    w.flush().map_err(io)
}

/// A matrix file as it stands, without an instance: what `catchment matrix convert` turns
/// from one format into the other. Dense (every pair of its rows and schools) or partial (only
/// the pairs the file gives).
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixTable {
    /// Rows keyed by pupil or block, whether seconds are given, whether the rows are sparse
    /// (`partial` is set), the source (empty: not said), row and school ids in id order.
    pub header: binary::Header,
    /// Meters, row-major, `UNREACHABLE` for no route. Empty when `partial` is set.
    pub meters: Vec<u32>,
    /// Seconds, same layout, when given (`None` when `partial` is set).
    pub seconds: Option<Vec<u32>>,
    /// A partial matrix: the pairs given, row by row, schools as indices into
    /// `header.schools`. `None`: every pair is in `meters`.
    pub partial: Option<PartialRows>,
}

impl MatrixTable {
    /// Pairs given: rows x schools unless the table is partial.
    pub fn n_given(&self) -> u64 {
        match &self.partial {
            Some(r) => r.len() as u64,
            None => (self.header.rows.len() * self.header.schools.len()) as u64,
        }
    }

    /// Write in `format`: CSV with a `.meta.json` sidecar when the source is known, or binary
    /// (with sparse rows when the table is partial).
    pub fn write(&self, path: &Path, format: Format) -> Result<()> {
        let h = &self.header;
        match (format, &self.partial) {
            (Format::Binary, None) => {
                binary::write_file(path, h, &self.meters, self.seconds.as_deref())
            }
            (Format::Binary, Some(r)) => binary::write_sparse_file(path, h, r.as_sparse()),
            (Format::Csv, partial) => {
                let rows: Vec<&str> = h.rows.iter().map(String::as_str).collect();
                let schools: Vec<&str> = h.schools.iter().map(String::as_str).collect();
                match partial {
                    None => {
                        let (m, t) = (&self.meters, self.seconds.as_deref());
                        write_long_csv(path, h.row_column(), &rows, &schools, m, t)?
                    }
                    Some(r) => write_partial_long_csv(path, h.row_column(), &rows, &schools, r)?,
                }
                if h.source.is_empty() {
                    Ok(())
                } else {
                    write_meta(path, &h.source, &[])
                }
            }
        }
    }
}

/// Read a matrix file of either format as it stands ([`MatrixTable`]), rows and schools put in
/// id order. A CSV that gives every pair of its rows and schools (each exactly once, as for an
/// instance) is dense; one that leaves pairs out is partial (no pair twice), as is a binary
/// file with sparse rows. A CSV's source comes from the `.meta.json` sidecar.
pub fn read_matrix_table(path: &Path) -> Result<(MatrixTable, Format)> {
    let name = file_name(path);
    let len = Some(limits::check_input_file(path)?.len());
    match binary::sniff(&name, limits::open_input(path)?)? {
        (Format::Binary, r) => {
            struct Rows(Vec<u32>, Vec<u32>, PartialRows);
            impl binary::RowSink for Rows {
                fn header(&mut self, h: &binary::Header) {
                    if h.sparse {
                        self.2 = PartialRows::from_rows(std::iter::empty(), h.seconds);
                    }
                }
                fn row(&mut self, _: usize, m: &[u32], s: Option<&[u32]>) {
                    self.0.extend_from_slice(m);
                    self.1.extend_from_slice(s.unwrap_or_default());
                }
                fn pairs(&mut self, _: usize, schools: &[u32], m: &[u32], s: Option<&[u32]>) {
                    self.2.push_row(schools, m, s);
                }
            }
            let mut rows = Rows(Vec::new(), Vec::new(), PartialRows::default());
            let header = binary::read(&name, r, len, &mut rows)?;
            let table = match header.sparse {
                true => {
                    MatrixTable { header, meters: vec![], seconds: None, partial: Some(rows.2) }
                }
                false => {
                    let seconds = header.seconds.then_some(rows.1);
                    MatrixTable { header, meters: rows.0, seconds, partial: None }
                }
            };
            Ok((sort_table(table), Format::Binary))
        }
        (Format::Csv, r) => {
            let mut t = table_from_csv(&name, r)?;
            t.header.source = read_meta(path).map(|m| m.source).unwrap_or_default();
            Ok((t, Format::Csv))
        }
    }
}

/// Rows and schools in id order.
fn sort_table(t: MatrixTable) -> MatrixTable {
    let h = &t.header;
    let sorted = |v: &[String]| v.windows(2).all(|w| id_cmp(&w[0], &w[1]).is_lt());
    if sorted(&h.rows) && sorted(&h.schools) {
        return t;
    }
    let order = |v: &[String]| {
        let mut o: Vec<usize> = (0..v.len()).collect();
        o.sort_by(|&a, &b| id_cmp(&v[a], &v[b]));
        o
    };
    let (ro, so) = (order(&h.rows), order(&h.schools));
    let header = binary::Header {
        rows: ro.iter().map(|&r| h.rows[r].clone()).collect(),
        schools: so.iter().map(|&s| h.schools[s].clone()).collect(),
        ..h.clone()
    };
    if let Some(p) = &t.partial {
        // Each pair's school by its new position; each row's pairs sorted again.
        let mut new_ix = vec![0u32; so.len()];
        for (i, &s) in so.iter().enumerate() {
            new_ix[s] = i as u32;
        }
        let rows = ro.iter().map(|&r| {
            let (schools, meters) = p.row(r);
            let secs = p.row_seconds(r);
            (0..schools.len())
                .map(|i| {
                    let t = secs.map_or(UNREACHABLE, |t| t[i]);
                    (new_ix[schools[i] as usize], meters[i], t)
                })
                .collect::<Vec<_>>()
        });
        let partial = Some(PartialRows::from_rows(rows, p.has_seconds()));
        return MatrixTable { header, meters: vec![], seconds: None, partial };
    }
    let n_s = h.schools.len();
    let pick = |v: &[u32]| -> Vec<u32> {
        ro.iter().flat_map(|&r| so.iter().map(move |&s| v[r * n_s + s])).collect()
    };
    MatrixTable {
        meters: pick(&t.meters),
        seconds: t.seconds.as_deref().map(pick),
        header,
        partial: None,
    }
}

/// A row of a long CSV as it is read: its pairs in file order, and how a pair given twice is
/// found (at once when the schools come in ascending order, else by a bit per school).
#[derive(Default)]
struct CsvRow {
    schools: Vec<u32>,
    meters: Vec<u32>,
    seconds: Vec<u32>,
    /// Once the schools leave ascending order: a bit per school seen.
    seen: Vec<u64>,
}

impl CsvRow {
    /// Add pair (`s`, values); `false` when the row has `s` already.
    fn add(&mut self, s: u32, meters: u32, seconds: Option<u32>) -> bool {
        let bit = |v: &mut Vec<u64>, s: u32| {
            let (w, b) = ((s / 64) as usize, 1u64 << (s % 64));
            if v.len() <= w {
                v.resize(w + 1, 0);
            }
            let had = v[w] & b != 0;
            v[w] |= b;
            had
        };
        if self.seen.is_empty() && self.schools.last().is_some_and(|&l| s <= l) {
            // Leaving ascending order: a bit for every school so far.
            if self.schools.binary_search(&s).is_ok() {
                return false;
            }
            for &x in &self.schools {
                bit(&mut self.seen, x);
            }
        }
        if !self.seen.is_empty() && bit(&mut self.seen, s) {
            return false;
        }
        self.schools.push(s);
        self.meters.push(meters);
        if let Some(t) = seconds {
            self.seconds.push(t);
        }
        true
    }
}

/// A long CSV matrix as it stands: rows and schools as they appear, each pair at most once;
/// dense when every pair of its rows and schools is given, else partial.
fn table_from_csv<R: std::io::Read>(name: &str, reader: R) -> Result<MatrixTable> {
    let mut rec = csv::ByteRecord::new();
    let (mut rdr, cols) = csv_reader(name, reader, &mut rec)?;
    let key_name = cols.names[cols.row].clone();
    // A matrix keyed by pupil is personal: its ids and values are not echoed.
    let show = cols.by_block;
    let mut problems = Vec::new();
    let problem = |line: u64, field: Option<&str>, msg: String| {
        InputProblem::new(name, Some(line), field, msg)
    };
    let (mut rows, mut schools): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let (mut row_ix, mut school_ix) = (HashMap::new(), HashMap::<String, usize>::new());
    let mut values: Vec<CsvRow> = Vec::new();
    let (mut last, mut next_school) = (usize::MAX, 0usize);
    let mut line = 1u64;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if let Some(limit) = limits::csv_exceeded(name, &e) {
                    return Err(limit);
                }
                let at = e.position().map(|p| p.line()).unwrap_or(line + 1);
                problems.push(problem(at, None, "malformed CSV row".into()));
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
        if rec.len() != cols.names.len() {
            let msg =
                format!("row has {} fields but the header has {}", rec.len(), cols.names.len());
            problems.push(problem(line, None, msg));
            continue;
        }
        let field = |c: usize| std::str::from_utf8(rec.get(c).unwrap_or(b"")).map(str::trim);
        let (Ok(key), Ok(sid), Ok(m)) = (field(cols.row), field(cols.school), field(cols.meters))
        else {
            problems.push(problem(line, None, "not valid UTF-8 text".into()));
            continue;
        };
        let value = |v: &str, what: &str, problems: &mut Vec<InputProblem>| {
            plain_meters(v.as_bytes())
                .map(Ok)
                .unwrap_or_else(|| distance_value_shown(v, show))
                .map_err(|msg| problems.push(problem(line, Some(what), msg)))
                .ok()
        };
        let Some(meters) = value(m, "meters", &mut problems) else { continue };
        let seconds = match cols.seconds.map(field) {
            None => None,
            Some(Ok(v)) => match value(v, "seconds", &mut problems) {
                Some(x) => Some(x),
                None => continue,
            },
            Some(Err(_)) => {
                problems.push(problem(line, None, "not valid UTF-8 text".into()));
                continue;
            }
        };
        let r = if last < rows.len() && rows[last] == key {
            last
        } else {
            if !row_ix.contains_key(key) && key.len() > limits::MAX_ID_BYTES {
                problems.push(problem(line, Some(&key_name), limits::id_too_long()));
                continue;
            }
            let r = *row_ix.entry(key.to_string()).or_insert_with(|| {
                rows.push(key.to_string());
                values.push(CsvRow::default());
                rows.len() - 1
            });
            last = r;
            r
        };
        let s = if next_school < schools.len() && schools[next_school] == sid {
            next_school
        } else {
            if !school_ix.contains_key(sid) && sid.len() > limits::MAX_ID_BYTES {
                problems.push(problem(line, Some("school_id"), limits::id_too_long()));
                continue;
            }
            *school_ix.entry(sid.to_string()).or_insert_with(|| {
                schools.push(sid.to_string());
                schools.len() - 1
            })
        };
        next_school = s + 1;
        if !values[r].add(s as u32, meters, seconds) {
            let msg = if show {
                format!("pair ('{key}', '{sid}') appears twice")
            } else {
                format!("the pupil's pair with school '{}' appears twice", limits::shown(sid))
            };
            problems.push(problem(line, Some(&key_name), msg));
            continue;
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let n_s = schools.len();
    let given: u64 = values.iter().map(|v| v.schools.len() as u64).sum();
    let dense = given == rows.len() as u64 * n_s as u64;
    let with_seconds = cols.seconds.is_some();
    let header = binary::Header {
        blocks: cols.by_block,
        seconds: with_seconds,
        sparse: !dense,
        source: String::new(),
        rows,
        schools,
    };
    if !dense {
        let rows = values.into_iter().map(|v| {
            let n = v.schools.len();
            let t = |i: usize| if with_seconds { v.seconds[i] } else { UNREACHABLE };
            (0..n).map(|i| (v.schools[i], v.meters[i], t(i))).collect::<Vec<_>>()
        });
        let partial = Some(PartialRows::from_rows(rows, with_seconds));
        return Ok(sort_table(MatrixTable { header, meters: vec![], seconds: None, partial }));
    }
    let mut meters = vec![UNREACHABLE; given as usize];
    let mut seconds = vec![UNREACHABLE; if with_seconds { given as usize } else { 0 }];
    for (r, v) in values.iter_mut().enumerate() {
        for (i, &s) in v.schools.iter().enumerate() {
            meters[r * n_s + s as usize] = v.meters[i];
            if with_seconds {
                seconds[r * n_s + s as usize] = v.seconds[i];
            }
        }
        *v = CsvRow::default();
    }
    let seconds = with_seconds.then_some(seconds);
    Ok(sort_table(MatrixTable { header, meters, seconds, partial: None }))
}

/// Quote a CSV field when it needs it.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r', ';']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
