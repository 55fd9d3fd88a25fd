//! Stream a long matrix file (`pupil_id,school_id,meters[,seconds]`) pair by pair, never held
//! in memory: the reader under the streamed solve of the solve layer, which reads the
//! file once to keep each pupil's `k` nearest schools and once per pricing round.

use super::binary::{self, Format};
use crate::error::{Error, InputProblem, Result};
use crate::instance::{file_name, limits, Instance};
use crate::routing::UNREACHABLE;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A pupil-level matrix file read as a stream (a hard maximum walk applied on the fly; fixed
/// pairs kept).
pub struct MatrixFile<'a> {
    /// The long-format matrix file.
    pub path: PathBuf,
    /// The instance whose pupil and school ids the file names.
    pub inst: &'a Instance,
    /// Pairs longer than this many meters are skipped, except a pupil's fixed school.
    pub max_walk: Option<u32>,
    /// Each pupil's fixed school (index into `inst.schools`), which no maximum walk removes.
    pub fixed: Vec<Option<u32>>,
}

impl<'a> MatrixFile<'a> {
    /// A stream over `path` for `inst`, dropping pairs longer than `max_walk` meters (fixed
    /// pairs kept).
    pub fn new(path: &Path, inst: &'a Instance, max_walk: Option<u32>) -> Self {
        let fixed = inst
            .pupils
            .iter()
            .map(|p| p.fixed_school.as_deref().and_then(|f| inst.school_index(f)).map(|s| s as u32))
            .collect();
        MatrixFile { path: path.to_path_buf(), inst, max_walk, fixed }
    }

    /// Call `f(pupil, school, meters)` for every allowed pair in file order. The file is long
    /// CSV or a binary matrix keyed by pupil ([`super::binary`], dense or sparse rows), told
    /// apart by content.
    pub fn scan(&self, mut f: impl FnMut(usize, usize, u32)) -> Result<()> {
        let name = file_name(&self.path);
        let len = limits::check_input_file(&self.path)?.len();
        let (format, reader) = binary::sniff(&name, limits::open_input(&self.path)?)?;
        if format == Format::Binary {
            let mut sink = Pairs { file: self, f: &mut f, rows: Vec::new(), cols: Vec::new() };
            let header = binary::read(&name, reader, Some(len), &mut sink)?;
            if header.blocks {
                return Err(Error::input(
                    &name,
                    None,
                    Some("pupil_id"),
                    "a streamed matrix needs a row per pupil, not per block",
                ));
            }
            let problem = |field: &str, msg: String| {
                Error::Input(vec![InputProblem::new(&name, None, Some(field), msg)])
            };
            if sink.rows.iter().any(Option::is_none) {
                return Err(problem(
                    "pupil_id",
                    "unknown pupil id (not in the pupils file)".into(),
                ));
            }
            if let Some(c) = sink.cols.iter().position(Option::is_none) {
                let id = limits::shown(&header.schools[c]);
                return Err(problem("school_id", format!("unknown school id '{id}'")));
            }
            return Ok(());
        }
        let mut rdr =
            csv::ReaderBuilder::new().has_headers(true).from_reader(limits::Limited::new(reader));
        let header = rdr
            .byte_headers()
            .map_err(|e| {
                limits::csv_exceeded(&name, &e).unwrap_or_else(|| {
                    Error::input(&name, Some(1), None, format!("cannot read: {e}"))
                })
            })?
            .clone();
        let col = |n: &str| {
            header.iter().position(|h| {
                String::from_utf8_lossy(h)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .eq_ignore_ascii_case(n)
            })
        };
        let (Some(pc), Some(sc), Some(mc)) = (col("pupil_id"), col("school_id"), col("meters"))
        else {
            return Err(Error::input(
                &name,
                Some(1),
                None,
                "a streamed matrix needs the columns pupil_id, school_id, meters",
            ));
        };
        let pupils: HashMap<&[u8], usize> =
            self.inst.pupils.iter().enumerate().map(|(i, p)| (p.id.as_bytes(), i)).collect();
        let schools: HashMap<&[u8], usize> =
            self.inst.schools.iter().enumerate().map(|(i, s)| (s.id.as_bytes(), i)).collect();
        let mut rec = csv::ByteRecord::new();
        let mut last: (Vec<u8>, usize) = (Vec::new(), usize::MAX);
        loop {
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    if let Some(limit) = limits::csv_exceeded(&name, &e) {
                        return Err(limit);
                    }
                    let line = e.position().map(|p| p.line());
                    return Err(Error::input(&name, line, None, "malformed CSV row"));
                }
            }
            let line = rec.position().map(|p| p.line());
            let bad = |field: &str, msg: String| {
                Error::Input(vec![InputProblem::new(&name, line, Some(field), msg)])
            };
            let key = rec.get(pc).unwrap_or(b"");
            let p = if key == last.0.as_slice() {
                last.1
            } else {
                let Some(&p) = pupils.get(key) else {
                    return Err(bad(
                        "pupil_id",
                        "unknown pupil id (not in the pupils file)".into(),
                    ));
                };
                last = (key.to_vec(), p);
                p
            };
            let sid = rec.get(sc).unwrap_or(b"");
            let Some(&s) = schools.get(sid) else {
                return Err(bad(
                    "school_id",
                    format!("unknown school id '{}'", limits::shown(&String::from_utf8_lossy(sid))),
                ));
            };
            let v = std::str::from_utf8(rec.get(mc).unwrap_or(b"")).unwrap_or("").trim();
            if v.eq_ignore_ascii_case("unreachable") {
                continue;
            }
            let meters = match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 && x < (UNREACHABLE - 1) as f64 => {
                    x.round() as u32
                }
                // Rows of a pupil matrix are personal: the value is not echoed.
                _ => return Err(bad("meters", "is not a distance in meters".into())),
            };
            if self.max_walk.is_some_and(|w| meters > w) && self.fixed[p] != Some(s as u32) {
                continue;
            }
            f(p, s, meters);
        }
    }
}

/// A binary matrix's pairs handed to a scan's callback (rows and schools the instance does not
/// have are reported after the read).
struct Pairs<'f, 'a, F> {
    file: &'f MatrixFile<'a>,
    f: &'f mut F,
    /// Per file row: the pupil.
    rows: Vec<Option<usize>>,
    /// Per file column: the school.
    cols: Vec<Option<usize>>,
}

impl<F: FnMut(usize, usize, u32)> binary::RowSink for Pairs<'_, '_, F> {
    fn header(&mut self, h: &binary::Header) {
        let inst = self.file.inst;
        if h.blocks {
            return;
        }
        self.rows = h.rows.iter().map(|id| inst.pupil_index(id)).collect();
        self.cols = h.schools.iter().map(|id| inst.school_index(id)).collect();
    }

    fn row(&mut self, r: usize, meters: &[u32], _: Option<&[u32]>) {
        let Some(Some(p)) = self.rows.get(r).copied() else { return };
        if self.cols.iter().any(Option::is_none) {
            return;
        }
        for (c, &d) in meters.iter().enumerate() {
            let Some(s) = self.cols[c] else { continue };
            if d == UNREACHABLE
                || self.file.max_walk.is_some_and(|w| d > w) && self.file.fixed[p] != Some(s as u32)
            {
                continue;
            }
            (self.f)(p, s, d);
        }
    }
    fn pairs(&mut self, r: usize, schools: &[u32], meters: &[u32], _: Option<&[u32]>) {
        let Some(Some(p)) = self.rows.get(r).copied() else { return };
        if self.cols.iter().any(Option::is_none) {
            return;
        }
        for (&c, &d) in schools.iter().zip(meters) {
            let Some(s) = self.cols[c as usize] else { continue };
            if d == UNREACHABLE
                || self.file.max_walk.is_some_and(|w| d > w) && self.file.fixed[p] != Some(s as u32)
            {
                continue;
            }
            (self.f)(p, s, d);
        }
    }
}
