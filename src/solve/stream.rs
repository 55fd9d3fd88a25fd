//! The pruned solve with pricing ([`super::pricing`]) over a long matrix file streamed pair by
//! pair ([`crate::routing::stream::MatrixFile`]): the file is read once to keep each pupil's
//! `k` nearest schools and once per pricing round, never held in memory.

use super::flow::SparseArcs;
use super::pricing::{self, ArcSource, PricingStats};
use super::{Solution, SolveError};
use crate::error::Error;
use crate::instance::Instance;
use crate::routing::stream::MatrixFile;
use crate::routing::UNREACHABLE;
use std::path::Path;

/// An error of a streamed solve: the file, or the solve.
#[derive(Debug)]
pub enum StreamError {
    /// The matrix file could not be read or is malformed.
    Input(Error),
    /// The solve itself failed (infeasible, or a solver error).
    Solve(SolveError),
}

impl From<SolveError> for StreamError {
    fn from(e: SolveError) -> Self {
        StreamError::Solve(e)
    }
}

impl From<Error> for StreamError {
    fn from(e: Error) -> Self {
        StreamError::Input(e)
    }
}

impl ArcSource for MatrixFile<'_> {
    type Error = StreamError;
    fn n_units(&self) -> usize {
        self.inst.pupils.len()
    }
    fn n_schools(&self) -> usize {
        self.inst.schools.len()
    }
    fn nearest(
        &self,
        k: usize,
        fixed: &[Option<u32>],
    ) -> std::result::Result<SparseArcs, StreamError> {
        // Bounded lists per pupil, filled as the file streams by.
        let mut rows: Vec<Vec<(u32, u32)>> = vec![Vec::new(); self.n_units()];
        self.scan(|p, s, c| {
            let s = s as u32;
            let row = &mut rows[p];
            match fixed[p] {
                Some(f) if f == s => *row = vec![(s, c)],
                Some(_) => {}
                None => {
                    // Sorted by (cost, school), at most k long.
                    if row.len() < k || (c, s) < (row[row.len() - 1].1, row[row.len() - 1].0) {
                        let pos = row.partition_point(|&(bs, bc)| (bc, bs) < (c, s));
                        row.insert(pos, (s, c));
                        row.truncate(k);
                    }
                }
            }
        })?;
        Ok(SparseArcs::from_rows(self.n_schools(), rows))
    }
    fn violations(
        &self,
        level: &[i64],
        prices: &[i64],
        fixed: &[Option<u32>],
    ) -> std::result::Result<Vec<(u32, u32, u32)>, StreamError> {
        let mut out = Vec::new();
        self.scan(|p, s, c| {
            if fixed[p].is_none() && (c as i64 + prices[s]) < level[p] {
                out.push((p as u32, s as u32, c));
            }
        })?;
        Ok(out)
    }
    fn dense(&self) -> std::result::Result<Vec<u32>, StreamError> {
        let n_s = self.n_schools();
        let mut cost = vec![UNREACHABLE; self.n_units() * n_s];
        self.scan(|p, s, c| cost[p * n_s + s] = c)?;
        Ok(cost)
    }
}

/// Solve a pupil-level instance exactly from a matrix file without loading the matrix: the `k`
/// nearest schools per pupil, then pricing rounds over the file. Returns the solution, the
/// school prices and what it took.
pub fn solve_streamed(
    inst: &Instance,
    path: &Path,
    max_walk: Option<u32>,
    k: usize,
) -> std::result::Result<(Solution, Vec<i64>, PricingStats), StreamError> {
    let src = MatrixFile::new(path, inst, max_walk);
    let cap: Vec<u32> = inst.schools.iter().map(|s| s.capacity).collect();
    let min: Vec<u32> = inst.schools.iter().map(|s| s.min_pupils).collect();
    let fixed = src.fixed.clone();
    pricing::solve(&src, &cap, &min, &fixed, k)
}
