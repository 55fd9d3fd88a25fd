//! Walks of single pupil-school pairs from OSRM: only the pairs asked for, in tiles.
//!
//! A sparse solve (`--nearest K` with `--osrm`) asks for pairs in batches: first each pupil's
//! nearest schools by straight line, then the pairs pricing cannot rule out by their bound.
//! [`PairRouter::route`] groups a batch by pupil location (siblings, flats in one building
//! share a source), orders the locations by the schools they need so that neighbours share a
//! tile, and cuts them into tiles of a set of locations x the union of the schools they need,
//! each within the server's `--max-table-size` — the same limit, client, retries, deadline and
//! servers as a whole table ([`super::osrm::run_tiles`]). Each pair's walk is made by the same
//! rounding as a whole matrix's ([`super::osrm::walk`]: the snap gaps of both ends added), so
//! a pair costs exactly what the dense matrix gives it. Far snaps and pairs without a route are
//! reported by pupil id as in a whole table: an error, or (allowed) pairs left out.
//!
//! Every pair routed is kept: [`PairRouter::matrix`] is the partial matrix of them, the walks
//! the plan was solved with.

use super::matrix::{Matrix, PartialRows, UNREACHABLE};
use super::osrm::{self, LatLon, RouteError, RouteOptions, RoutingReport, TableService, Tile};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

/// Routes pupil-school pairs on demand; keeps every pair routed.
pub struct PairRouter<'a> {
    services: &'a [&'a dyn TableService],
    ids: Vec<&'a str>,
    school_ids: Vec<&'a str>,
    /// Distinct pupil locations, and each pupil's.
    sources: Vec<LatLon>,
    row_of: Vec<usize>,
    destinations: Vec<LatLon>,
    opts: &'a RouteOptions,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Snap gap of each source and destination, once routed.
    source_snap: Vec<Option<f64>>,
    destination_snap: Vec<Option<f64>>,
    /// Every pair routed: (pupil, school, meters, seconds), UNREACHABLE where not routable.
    routed: Vec<(u32, u32, u32, u32)>,
    /// Requests sent (tiles).
    requests: usize,
    /// Far-snapped pupils reported so far.
    far: HashSet<u32>,
    /// What routing found wrong (when allowed: the pairs left out).
    report: RoutingReport,
}

impl<'a> PairRouter<'a> {
    /// A router of the located `rows` (pupil id, location) to `schools` through `services` (one
    /// or more servers of the same data).
    pub fn new(
        services: &'a [&'a dyn TableService],
        rows: &'a [(&'a str, LatLon)],
        schools: &'a [crate::instance::School],
        opts: &'a RouteOptions,
    ) -> Self {
        let mut index: HashMap<(u64, u64), usize> = HashMap::new();
        let mut sources: Vec<LatLon> = Vec::new();
        let row_of: Vec<usize> = rows
            .iter()
            .map(|&(_, (lat, lon))| {
                *index.entry((lat.to_bits(), lon.to_bits())).or_insert_with(|| {
                    sources.push((lat, lon));
                    sources.len() - 1
                })
            })
            .collect();
        let state = State {
            source_snap: vec![None; sources.len()],
            destination_snap: vec![None; schools.len()],
            report: RoutingReport { snap_limit_m: opts.snap_limit_m, ..Default::default() },
            ..Default::default()
        };
        PairRouter {
            services,
            ids: rows.iter().map(|r| r.0).collect(),
            school_ids: schools.iter().map(|s| s.id.as_str()).collect(),
            sources,
            row_of,
            destinations: schools.iter().map(|s| (s.lat, s.lon)).collect(),
            opts,
            state: Mutex::new(state),
        }
    }

    /// The tiles of the source x destination pairs `need` (destinations of each source,
    /// ascending): sources ordered by the destinations they need, then as many per tile as fit
    /// with the union of their destinations within `max` locations; a source needing more
    /// than fit alone is split over several tiles.
    fn tiles(need: &BTreeMap<usize, Vec<usize>>, n_dst: usize, max: usize) -> Vec<Tile> {
        let max = max.max(2);
        let mut order: Vec<(&usize, &Vec<usize>)> = need.iter().collect();
        order.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
        let mut out: Vec<Tile> = Vec::new();
        // stamp[d] == id: destination d is in the open tile, the id-th closed so far.
        let mut stamp = vec![usize::MAX; n_dst];
        let mut id = 0usize;
        let mut cur: Tile = (Vec::new(), Vec::new());
        let close = |cur: &mut Tile, out: &mut Vec<Tile>, id: &mut usize| {
            if !cur.0.is_empty() {
                let mut t = std::mem::take(cur);
                t.1.sort_unstable();
                out.push(t);
                *id += 1;
            }
        };
        for (&s, dests) in order {
            if dests.len() + 1 > max {
                for chunk in dests.chunks(max - 1) {
                    out.push((vec![s], chunk.to_vec()));
                }
                continue;
            }
            let new = dests.iter().filter(|&&d| stamp[d] != id).count();
            if cur.0.len() + 1 + cur.1.len() + new > max {
                close(&mut cur, &mut out, &mut id);
            }
            cur.0.push(s);
            for &d in dests {
                if stamp[d] != id {
                    stamp[d] = id;
                    cur.1.push(d);
                }
            }
        }
        close(&mut cur, &mut out, &mut id);
        out
    }

    /// The walks of `pairs` (pupil, school) in meters, [`UNREACHABLE`] where there is no route
    /// or the pupil snaps farther than the limit (when allowed; otherwise the error naming the
    /// pupils and pairs, by id).
    pub fn route(&self, pairs: &[(u32, u32)]) -> Result<Vec<u32>, RouteError> {
        let mut need: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &(u, s) in pairs {
            need.entry(self.row_of[u as usize]).or_default().push(s as usize);
        }
        for v in need.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        let tiles = Self::tiles(&need, self.destinations.len(), self.opts.table.max_table_size);
        let answers = osrm::run_tiles(
            self.services,
            &self.sources,
            &self.destinations,
            &tiles,
            &self.opts.table,
        )
        .map_err(RouteError::Osrm)?;
        // (source, destination) -> (distance, duration) of the pairs needed.
        let mut cell: HashMap<(usize, usize), (Option<f64>, Option<f64>)> = HashMap::new();
        let mut st = self.state.lock().expect("lock");
        st.requests += tiles.len();
        for ((rs, rd), a) in tiles.iter().zip(&answers) {
            for (i, &r) in rs.iter().enumerate() {
                st.source_snap[r] = Some(a.source_snap[i]);
                for &d in &need[&r] {
                    if let Ok(j) = rd.binary_search(&d) {
                        cell.insert((r, d), (a.distances[i][j], a.durations[i][j]));
                    }
                }
            }
            for (j, &d) in rd.iter().enumerate() {
                st.destination_snap[d] = Some(a.destination_snap[j]);
            }
        }
        let mut found =
            RoutingReport { snap_limit_m: self.opts.snap_limit_m, ..Default::default() };
        let mut out = Vec::with_capacity(pairs.len());
        for &(u, s) in pairs {
            let r = self.row_of[u as usize];
            let snap = st.source_snap[r].unwrap_or(0.0);
            let (meters, seconds) = if snap > self.opts.snap_limit_m {
                if st.far.insert(u) {
                    found.far_snapped.push((self.ids[u as usize].to_string(), snap.round() as u32));
                }
                (UNREACHABLE, UNREACHABLE)
            } else {
                let (d, t) = cell.get(&(r, s as usize)).copied().unwrap_or((None, None));
                let gap = snap + st.destination_snap[s as usize].unwrap_or(0.0);
                match osrm::walk(d, t, gap) {
                    Some(w) => w,
                    None => {
                        found.unreachable.push((
                            self.ids[u as usize].to_string(),
                            self.school_ids[s as usize].to_string(),
                        ));
                        (UNREACHABLE, UNREACHABLE)
                    }
                }
            };
            st.routed.push((u, s, meters, seconds));
            out.push(meters);
        }
        if !found.is_empty() {
            if !self.opts.allow_unreachable {
                return Err(RouteError::Unreachable(found));
            }
            st.report.far_snapped.extend(found.far_snapped);
            st.report.unreachable.extend(found.unreachable);
        }
        Ok(out)
    }

    /// Requests sent so far.
    pub fn requests(&self) -> usize {
        self.state.lock().expect("lock").requests
    }

    /// Pairs routed so far.
    pub fn pairs(&self) -> usize {
        self.state.lock().expect("lock").routed.len()
    }

    /// What routing left out so far (far snaps, pairs without a route), by id.
    pub fn report(&self) -> RoutingReport {
        self.state.lock().expect("lock").report.clone()
    }

    /// The partial matrix of every pair routed (meters and seconds), with each routed pupil's
    /// snap gap, from `source`.
    pub fn matrix(&self, source: impl Into<String>) -> Matrix {
        let st = self.state.lock().expect("lock");
        let mut rows: Vec<Vec<(u32, u32, u32)>> = vec![Vec::new(); self.row_of.len()];
        for &(u, s, m, t) in &st.routed {
            rows[u as usize].push((s, m, t));
        }
        for row in &mut rows {
            row.sort_unstable_by_key(|e| e.0);
            row.dedup_by_key(|e| e.0);
        }
        let snaps = self
            .row_of
            .iter()
            .map(|&r| {
                st.source_snap[r].unwrap_or(0.0).round().clamp(0.0, (UNREACHABLE - 1) as f64) as u32
            })
            .collect();
        Matrix {
            snap_m: Some(snaps),
            ..Matrix::from_partial(
                self.destinations.len(),
                PartialRows::from_rows(rows, true),
                source,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_every_pair_needed_within_the_limit() {
        let mut need: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for s in 0..50usize {
            need.insert(s, vec![s % 7, (s * 3) % 11, 12 + s % 3]);
        }
        need.insert(50, (0..30).collect());
        for max in [2, 5, 10, 100] {
            let tiles = PairRouter::tiles(&need, 30, max);
            for (rs, rd) in &tiles {
                assert!(rs.len() + rd.len() <= max, "{rs:?} x {rd:?} over {max}");
                assert!(rd.windows(2).all(|w| w[0] < w[1]), "destinations sorted");
            }
            for (s, ds) in &need {
                for d in ds {
                    assert!(
                        tiles.iter().any(|(rs, rd)| rs.contains(s) && rd.contains(d)),
                        "pair {s}-{d} in a tile (max {max})"
                    );
                }
            }
        }
        // Sources needing the same schools share tiles: 51 sources in far fewer than 51.
        assert!(PairRouter::tiles(&need, 30, 100).len() < 10);
    }
}
