//! The street network behind a street list of grid cells: named streets as chains of points,
//! their junctions (points a street shares with a street of another name), the segments between
//! consecutive stops (junctions and ends), and the grid cells each segment runs through and
//! owns. Pure: values in, values out.
//!
//! A cell is *owned* by the segment with the longest stretch inside it (ties: the segment
//! listed first): the homes of a cell face that stretch of street more than any other. A
//! segment owning no cell stands for the cell it runs through longest. Owned cells never
//! overlap, so keeping the cells of every segment in one district divides the cells into
//! disjoint groups; the cells a segment merely touches (the cell of a junction, a corner it
//! cuts) would instead chain every segment of a connected network into one group.

use super::blocks::{grid_cell, Block, GridCell};
use crate::error::{Error, Result};
use crate::projection as laea;
use crate::routing::geocode::normalize_street;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A street's geometry: a line of (lat, lon) points.
#[derive(Debug, Clone, PartialEq)]
pub struct StreetLine {
    /// The street's name as in the OSM data; empty for a way without a name (a path), which
    /// only the map draws.
    pub name: String,
    /// The line's points as (lat, lon) in degrees (WGS84).
    pub points: Vec<(f64, f64)>,
}

/// Where a chain stops: at a junction, at an end of the street, or where the street forks.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// A junction: the names of the other streets meeting here, sorted.
    Junction(Vec<String>),
    /// An end of the street with no other named street there, in words: `the north end` by the
    /// side of the street it lies on, or, when another end lies on the same side, by the stop
    /// before it: `the end south-west of Bakestraße`.
    End(String),
    /// A point where the street itself branches (parallel ways, a side path) with no other
    /// named street there: the nearest junction along the street beyond it (its names and the
    /// meters to it), and the side of the street it lies on.
    Fork(Option<(Vec<String>, f64)>, &'static str),
}

impl Stop {
    /// The stop in words: the cross streets (for a fork, those of the nearest junction beyond
    /// it), or `the north end`.
    pub fn label(&self) -> String {
        match self {
            Stop::Junction(names) | Stop::Fork(Some((names, _)), _) => names.join(" / "),
            Stop::End(label) => label.clone(),
            Stop::Fork(None, side) => format!("the {side} fork"),
        }
    }

    /// Meters from the point the label names to the stop (a fork's way to its junction).
    pub fn offset(&self) -> f64 {
        match self {
            Stop::Fork(Some((_, d)), _) => *d,
            _ => 0.0,
        }
    }
}

/// A stretch of a street without branches, from one end, fork or loop point to the next,
/// oriented west to east (or north to south when it runs more north–south).
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// The points in EPSG:3035 meters (easting, northing).
    pub points: Vec<(f64, f64)>,
    /// Meters along the chain at every point.
    pub at: Vec<f64>,
    /// The stops: point index and kind, in order; the first and the last point always stop.
    pub stops: Vec<(usize, Stop)>,
    /// The segment of every stretch between two consecutive stops (numbered within the
    /// street): stretches meeting at a fork or an end, not at a junction, are one segment.
    pub segment: Vec<usize>,
}

impl Chain {
    /// Meters along the chain at stop `i`.
    pub fn stop_at(&self, i: usize) -> f64 {
        self.at[self.stops[i].0]
    }

    /// The point `at` meters along the chain (EPSG:3035).
    pub fn point_at(&self, at: f64) -> (f64, f64) {
        let j = self.at.partition_point(|&a| a <= at).clamp(1, self.points.len().max(2) - 1);
        let (a, b) =
            (self.points[j - 1], self.points.get(j).copied().unwrap_or(self.points[j - 1]));
        let l = self.at.get(j).copied().unwrap_or(self.at[j - 1]) - self.at[j - 1];
        let t = if l > 0.0 { ((at - self.at[j - 1]) / l).clamp(0.0, 1.0) } else { 0.0 };
        (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
    }
}

/// One named street (all lines of the same name after normalisation) as chains.
#[derive(Debug, Clone, PartialEq)]
pub struct Street {
    /// The normalised name.
    pub key: String,
    /// The name as first spelt in the data.
    pub name: String,
    /// The street's chains.
    pub chains: Vec<Chain>,
    /// Its segments: the pieces of the street between consecutive junctions (a stretch from
    /// a junction to an end counts), parallel ways and side branches between the same
    /// junctions included.
    pub segments: usize,
}

/// A stretch: the part of a chain between two consecutive stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StretchRef {
    /// The street (index into [`Network::streets`]).
    pub street: usize,
    /// The chain of the street.
    pub chain: usize,
    /// The stop the stretch starts at; it ends at the next one.
    pub from: usize,
}

/// The named streets of a city as chains with their stops, sorted by normalised name.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// The streets, sorted by normalised name.
    pub streets: Vec<Street>,
}

impl Network {
    /// Every stretch, street by street, chain by chain, in order along the chain.
    pub fn stretches(&self) -> Vec<StretchRef> {
        let mut out = Vec::new();
        for (s, street) in self.streets.iter().enumerate() {
            for (c, chain) in street.chains.iter().enumerate() {
                for from in 0..chain.stops.len().saturating_sub(1) {
                    out.push(StretchRef { street: s, chain: c, from });
                }
            }
        }
        out
    }

    /// The chain a stretch lies on.
    pub fn chain(&self, st: StretchRef) -> &Chain {
        &self.streets[st.street].chains[st.chain]
    }

    /// Segments over all streets.
    pub fn n_segments(&self) -> usize {
        self.streets.iter().map(|s| s.segments).sum()
    }

    /// The segment of a stretch, numbered over all streets (street by street).
    pub fn segment_of(&self, st: StretchRef) -> usize {
        let base: usize = self.streets[..st.street].iter().map(|s| s.segments).sum();
        base + self.chain(st).segment[st.from]
    }
}

type Key = (i64, i64);

/// Points are the same node when they agree to 1e-7 degrees (about 1 cm), OSM's precision.
fn key(lat: f64, lon: f64) -> Key {
    ((lat * 1e7).round() as i64, (lon * 1e7).round() as i64)
}

/// The side a vector points to, in eight compass directions.
fn compass(de: f64, dn: f64) -> &'static str {
    const SIDES: [&str; 8] =
        ["east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east"];
    let a = dn.atan2(de).to_degrees();
    SIDES[(((a + 360.0 + 22.5) % 360.0) / 45.0) as usize % 8]
}

/// The network of named streets: lines of the same normalised name form one street; its
/// points shared with a street of another name are junctions.
pub fn network(lines: &[StreetLine]) -> Network {
    // The names at every node.
    let mut names_at: HashMap<Key, BTreeMap<String, String>> = HashMap::new();
    let mut by_street: BTreeMap<String, (String, Vec<&StreetLine>)> = BTreeMap::new();
    for line in lines {
        let k = normalize_street(&line.name);
        for &(lat, lon) in &line.points {
            names_at
                .entry(key(lat, lon))
                .or_default()
                .entry(k.clone())
                .or_insert(line.name.clone());
        }
        by_street.entry(k).or_insert_with(|| (line.name.clone(), Vec::new())).1.push(line);
    }
    let streets = by_street
        .into_iter()
        .map(|(k, (name, lines))| {
            let (chains, segments) = chains_of(&k, &lines, &names_at);
            Street { key: k, name, chains, segments }
        })
        .collect();
    Network { streets }
}

/// The chains of one street and its number of segments.
fn chains_of(
    street: &str,
    lines: &[&StreetLine],
    names_at: &HashMap<Key, BTreeMap<String, String>>,
) -> (Vec<Chain>, usize) {
    let mut coord: HashMap<Key, (f64, f64)> = HashMap::new();
    let mut adj: BTreeMap<Key, BTreeSet<Key>> = BTreeMap::new();
    for line in lines {
        let keys: Vec<Key> = line
            .points
            .iter()
            .map(|&(lat, lon)| {
                let k = key(lat, lon);
                coord.entry(k).or_insert((lat, lon));
                k
            })
            .collect();
        for w in keys.windows(2) {
            if w[0] != w[1] {
                adj.entry(w[0]).or_default().insert(w[1]);
                adj.entry(w[1]).or_default().insert(w[0]);
            }
        }
    }
    let edge = |a: Key, b: Key| if a < b { (a, b) } else { (b, a) };
    let mut used: HashSet<(Key, Key)> = HashSet::new();
    let mut paths: Vec<Vec<Key>> = Vec::new();
    let walk = |start: Key, first: Key, used: &mut HashSet<(Key, Key)>| -> Vec<Key> {
        let mut path = vec![start, first];
        used.insert(edge(start, first));
        let mut cur = first;
        while adj[&cur].len() == 2 {
            let Some(&next) = adj[&cur].iter().find(|&&n| !used.contains(&edge(cur, n))) else {
                break;
            };
            used.insert(edge(cur, next));
            path.push(next);
            cur = next;
        }
        path
    };
    // Chains run between nodes that are not plain links (ends and forks) ...
    for (&node, nbrs) in &adj {
        if nbrs.len() != 2 {
            for &n in nbrs {
                if !used.contains(&edge(node, n)) {
                    paths.push(walk(node, n, &mut used));
                }
            }
        }
    }
    // ... and what is left are loops, started at their first node.
    for (&node, nbrs) in &adj {
        for &n in nbrs {
            if !used.contains(&edge(node, n)) {
                paths.push(walk(node, n, &mut used));
            }
        }
    }
    let en: HashMap<Key, (f64, f64)> =
        coord.iter().map(|(k, &(lat, lon))| (*k, laea::forward(lat, lon))).collect();
    let dist = |a: &Key, b: &Key| {
        let (p, q) = (en[a], en[b]);
        (p.0 - q.0).hypot(p.1 - q.1)
    };
    let others = |k: &Key| -> Vec<String> {
        names_at
            .get(k)
            .map(|m| m.iter().filter(|(o, _)| o.as_str() != street).map(|(_, v)| v.clone()))
            .into_iter()
            .flatten()
            .collect()
    };
    // The nearest junction along the street from `start`, not leaving by the edge to `not`.
    let beyond = |start: Key, not: Key| -> Option<(Vec<String>, f64)> {
        use std::cmp::Reverse;
        let mut best: HashMap<Key, u64> = HashMap::from([(start, 0)]);
        let mut heap = std::collections::BinaryHeap::from([(Reverse(0u64), start)]);
        while let Some((Reverse(d), k)) = heap.pop() {
            if best.get(&k).is_some_and(|&b| b < d) {
                continue;
            }
            if k != start {
                let names = others(&k);
                if !names.is_empty() {
                    return Some((names, d as f64 / 1000.0));
                }
            }
            for n in &adj[&k] {
                if k == start && *n == not {
                    continue;
                }
                let nd = d + (dist(&k, n) * 1000.0).round() as u64;
                if best.get(n).is_none_or(|&b| nd < b) {
                    best.insert(*n, nd);
                    heap.push((Reverse(nd), *n));
                }
            }
        }
        None
    };
    let all = en.len().max(1) as f64;
    let mid = en.values().fold((0.0, 0.0), |m, p| (m.0 + p.0 / all, m.1 + p.1 / all));
    let chains = paths
        .into_iter()
        .map(|mut path| {
            let (a, b) = (en[&path[0]], en[&path[path.len() - 1]]);
            let (de, dn) = (b.0 - a.0, b.1 - a.1);
            if (de.abs() >= dn.abs() && de < 0.0) || (de.abs() < dn.abs() && dn > 0.0) {
                path.reverse();
            }
            let points: Vec<(f64, f64)> = path.iter().map(|k| en[k]).collect();
            let mut at = Vec::with_capacity(points.len());
            let mut total = 0.0;
            for (i, p) in points.iter().enumerate() {
                if i > 0 {
                    let q = points[i - 1];
                    total += (p.0 - q.0).hypot(p.1 - q.1);
                }
                at.push(total);
            }
            let last = path.len() - 1;
            let stops = path
                .iter()
                .enumerate()
                .filter_map(|(i, k)| {
                    let names = others(k);
                    let side = || compass(points[i].0 - mid.0, points[i].1 - mid.1);
                    if !names.is_empty() {
                        Some((i, Stop::Junction(names)))
                    } else if i == 0 || i == last {
                        if adj[k].len() >= 3 || path[0] == path[last] {
                            let inner = if i == 0 { path[1] } else { path[last - 1] };
                            Some((i, Stop::Fork(beyond(*k, inner), side())))
                        } else {
                            Some((i, Stop::End(format!("the {} end", side()))))
                        }
                    } else {
                        None
                    }
                })
                .collect::<Vec<_>>();
            let nodes = stops.iter().map(|(i, _)| path[*i]).collect::<Vec<Key>>();
            (Chain { points, at, stops, segment: Vec::new() }, nodes)
        })
        .collect::<Vec<_>>();
    // Ends on the same side of the street are told apart by the stop before them.
    let mut sides: HashMap<String, usize> = HashMap::new();
    for (c, _) in &chains {
        for (_, stop) in &c.stops {
            if let Stop::End(l) = stop {
                *sides.entry(l.clone()).or_default() += 1;
            }
        }
    }
    let mut chains = chains;
    for (c, _) in &mut chains {
        let n = c.stops.len();
        for j in [0, n - 1] {
            let Stop::End(l) = &c.stops[j].1 else { continue };
            if sides[l] < 2 {
                continue;
            }
            let k = if j == 0 { 1 } else { n - 2 };
            if matches!(c.stops[k].1, Stop::End(_) | Stop::Fork(None, _)) {
                continue;
            }
            let (p, q) = (c.points[c.stops[j].0], c.points[c.stops[k].0]);
            let label =
                format!("the end {} of {}", compass(p.0 - q.0, p.1 - q.1), c.stops[k].1.label());
            c.stops[j].1 = Stop::End(label);
        }
    }
    // Segments: stretches joined at every stop that is not a junction.
    let mut n = 0;
    let mut base = Vec::with_capacity(chains.len());
    for (c, _) in &chains {
        base.push(n);
        n += c.stops.len().saturating_sub(1);
    }
    let mut parent: Vec<usize> = (0..n).collect();
    let mut at_node: HashMap<Key, usize> = HashMap::new();
    for (ci, (c, nodes)) in chains.iter().enumerate() {
        for (j, (_, stop)) in c.stops.iter().enumerate() {
            if matches!(stop, Stop::Junction(_)) {
                continue;
            }
            // The stretches before and after this stop on its chain.
            let here = [j.checked_sub(1), (j + 1 < c.stops.len()).then_some(j)];
            for st in here.into_iter().flatten() {
                let x = base[ci] + st;
                match at_node.get(&nodes[j]) {
                    Some(&y) => union(&mut parent, x, y),
                    None => {
                        at_node.insert(nodes[j], x);
                    }
                }
            }
        }
    }
    let mut number: HashMap<usize, usize> = HashMap::new();
    let chains = chains
        .into_iter()
        .enumerate()
        .map(|(ci, (mut c, _))| {
            c.segment = (0..c.stops.len().saturating_sub(1))
                .map(|st| {
                    let r = find(&mut parent, base[ci] + st);
                    let next = number.len();
                    *number.entry(r).or_insert(next)
                })
                .collect();
            c
        })
        .collect();
    (chains, number.len())
}

fn find(p: &mut [usize], mut x: usize) -> usize {
    while p[x] != x {
        p[x] = p[p[x]];
        x = p[x];
    }
    x
}

fn union(p: &mut [usize], a: usize, b: usize) {
    let (a, b) = (find(p, a), find(p, b));
    if a != b {
        p[a.max(b)] = a.min(b);
    }
}

/// Grid blocks by their cell: the cell size and each cell's block (index into the blocks).
#[derive(Debug, Clone)]
pub struct Grid {
    /// Edge length of the cells in meters.
    pub size: u32,
    /// The block of every cell.
    pub cells: HashMap<GridCell, usize>,
}

/// The grid of blocks that are census cells of one size; fails naming a block that is not.
pub fn grid(blocks: &[Block]) -> Result<Grid> {
    let mut size = None;
    let mut cells: HashMap<GridCell, usize> = HashMap::with_capacity(blocks.len());
    for (i, b) in blocks.iter().enumerate() {
        let c = grid_cell(&b.id).ok_or_else(|| {
            Error::input(
                "blocks",
                None,
                Some("block_id"),
                format!(
                    "a street list by grid cells needs blocks that are grid cells; block '{}' is not",
                    b.id
                ),
            )
        })?;
        match size {
            None => size = Some(c.size),
            Some(s) if s != c.size => {
                return Err(Error::input(
                    "blocks",
                    None,
                    Some("block_id"),
                    format!("blocks mix grid cells of {s} m and {} m", c.size),
                ));
            }
            _ => {}
        }
        cells.insert(c, i);
    }
    Ok(Grid { size: size.unwrap_or(100), cells })
}

/// Where one stretch runs on the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The stretch.
    pub stretch: StretchRef,
    /// Its segment (numbered over all streets).
    pub segment: usize,
    /// Points along it every twentieth of a cell: meters along the chain and the block there
    /// (points outside every block left out).
    pub samples: Vec<(f64, usize)>,
}

/// The network on the grid: every stretch traced, and the cells of every segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    /// Every stretch, in [`Network::stretches`] order.
    pub traces: Vec<Trace>,
    /// The blocks of every segment, sorted: the cells it owns, or (owning none) the cell it
    /// runs through longest; empty when it runs through no block.
    pub cells: Vec<Vec<usize>>,
}

impl Traced {
    /// Whether block `b` is one of the cells of segment `s`.
    pub fn has(&self, s: usize, b: usize) -> bool {
        self.cells[s].binary_search(&b).is_ok()
    }
}

/// Trace every stretch of the network on the grid; each cell goes to the segment with the
/// longest stretch of street inside it (ties: the segment numbered first).
pub fn trace(net: &Network, grid: &Grid) -> Traced {
    let step = grid.size as f64 / 20.0;
    let stretches = net.stretches();
    let n_seg = net.n_segments();
    let mut traces = Vec::with_capacity(stretches.len());
    let mut lengths: Vec<BTreeMap<usize, f64>> = vec![BTreeMap::new(); n_seg];
    for &st in &stretches {
        let chain = net.chain(st);
        let segment = net.segment_of(st);
        let (a, b) = (chain.stops[st.from].0, chain.stops[st.from + 1].0);
        let mut samples = Vec::new();
        for j in a..b {
            let ((e0, n0), (e1, n1)) = (chain.points[j], chain.points[j + 1]);
            let l = (e1 - e0).hypot(n1 - n0);
            if l == 0.0 {
                continue;
            }
            let k = (l / step).ceil().max(1.0) as usize;
            for q in 0..k {
                let t = (q as f64 + 0.5) / k as f64;
                let cell = GridCell::containing(grid.size, e0 + (e1 - e0) * t, n0 + (n1 - n0) * t);
                if let Some(&blk) = grid.cells.get(&cell) {
                    samples.push((chain.at[j] + l * t, blk));
                    *lengths[segment].entry(blk).or_default() += l / k as f64;
                }
            }
        }
        traces.push(Trace { stretch: st, segment, samples });
    }
    let mut owner: HashMap<usize, (f64, usize)> = HashMap::new();
    for (i, len) in lengths.iter().enumerate() {
        for (&blk, &l) in len {
            let e = owner.entry(blk).or_insert((l, i));
            if l > e.0 {
                *e = (l, i);
            }
        }
    }
    let mut cells: Vec<Vec<usize>> = vec![Vec::new(); n_seg];
    for (&blk, &(_, i)) in &owner {
        cells[i].push(blk);
    }
    for (i, c) in cells.iter_mut().enumerate() {
        if c.is_empty() {
            // The longest stretch (ties: the first block).
            let best =
                lengths[i].iter().fold(None, |best: Option<(usize, f64)>, (&b, &l)| match best {
                    Some((_, bl)) if bl >= l => best,
                    _ => Some((b, l)),
                });
            c.extend(best.map(|(b, _)| b));
        }
        c.sort_unstable();
    }
    Traced { traces, cells }
}

/// The blocks that go to one school when every segment is kept whole: groups of block indices
/// (each sorted, the groups ordered by their first block) from the cells of the segments;
/// blocks of no segment are in no group.
pub fn segment_groups(cells: &[Vec<usize>], n_blocks: usize) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..n_blocks).collect();
    let mut member = vec![false; n_blocks];
    for c in cells {
        for &b in c {
            member[b] = true;
        }
        for w in c.windows(2) {
            union(&mut parent, w[0], w[1]);
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for b in 0..n_blocks {
        if member[b] {
            let r = find(&mut parent, b);
            groups.entry(r).or_default().push(b);
        }
    }
    groups.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines from EPSG:3035 points.
    fn line(name: &str, pts: &[(f64, f64)]) -> StreetLine {
        StreetLine {
            name: name.into(),
            points: pts.iter().map(|&(e, n)| laea::inverse(e, n)).collect(),
        }
    }

    #[test]
    fn junctions_split_a_street_into_segments_and_ways_of_one_street_join() {
        let (e, n) = (4_430_000.0, 3_220_000.0);
        // Lange Straße west to east in two ways, crossed by Nord and Süd; Kurze Str. a dead end.
        let lines = vec![
            line("Lange Straße", &[(e + 200.0, n), (e + 100.0, n), (e, n)]),
            line("Lange Straße", &[(e + 200.0, n), (e + 300.0, n)]),
            line("Nordweg", &[(e + 100.0, n + 100.0), (e + 100.0, n)]),
            line("Südweg", &[(e + 200.0, n), (e + 200.0, n - 100.0)]),
        ];
        let net = network(&lines);
        let lange = net.streets.iter().find(|s| s.name == "Lange Straße").unwrap();
        assert_eq!(lange.chains.len(), 1, "two ways meeting end to end form one chain");
        let c = &lange.chains[0];
        assert_eq!(c.points[0].0, e, "oriented west to east");
        let labels: Vec<String> = c.stops.iter().map(|(_, s)| s.label()).collect();
        assert_eq!(labels, ["the west end", "Nordweg", "Südweg", "the east end"]);
        assert!((c.stop_at(3) - 300.0).abs() < 0.5);
        let nord = net.streets.iter().find(|s| s.name == "Nordweg").unwrap();
        let labels: Vec<String> = nord.chains[0].stops.iter().map(|(_, s)| s.label()).collect();
        assert_eq!(labels, ["the north end", "Lange Straße"], "north to south");
        assert_eq!(net.stretches().len(), 3 + 1 + 1);
        assert_eq!(net.n_segments(), 5);
    }

    #[test]
    fn a_cell_belongs_to_the_segment_with_the_longest_stretch_in_it() {
        let (e, n) = (4_430_000.0, 3_220_000.0);
        let cell = |de: f64| Block {
            id: format!("CRS3035RES100mN{}E{}", n as i64, (e + de) as i64),
            lat: 0.0,
            lon: 0.0,
            residents: 1,
            street: None,
            house_number: None,
        };
        let blocks = vec![cell(0.0), cell(100.0), cell(200.0)];
        // Along the middle of the three cells; a cross street cuts the corner of the middle one.
        let lines = vec![
            line(
                "Lange Straße",
                &[(e + 10.0, n + 50.0), (e + 160.0, n + 50.0), (e + 290.0, n + 50.0)],
            ),
            line("Querweg", &[(e + 160.0, n + 50.0), (e + 160.0, n + 150.0)]),
        ];
        let net = network(&lines);
        let traced = trace(&net, &grid(&blocks).unwrap());
        let cells: Vec<(String, Vec<usize>)> = traced
            .traces
            .iter()
            .map(|t| (net.streets[t.stretch.street].name.clone(), traced.cells[t.segment].clone()))
            .collect();
        // Lange Straße west of Querweg has 60 m in cell 1, Querweg 50 m, the east segment 40 m:
        // the west segment owns cells 0 and 1, the east one cell 2; Querweg owns none and
        // stands for cell 1.
        assert_eq!(
            cells,
            vec![
                ("Lange Straße".to_string(), vec![0, 1]),
                ("Lange Straße".to_string(), vec![2]),
                ("Querweg".to_string(), vec![1]),
            ]
        );
        let groups = segment_groups(&traced.cells, blocks.len());
        assert_eq!(groups, vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn a_parallel_way_between_two_junctions_is_part_of_their_segment() {
        let (e, n) = (4_430_000.0, 3_220_000.0);
        // Ring from Weststraße to Querstraße with a side path between two forks.
        let lines = vec![
            line("Ring", &[(e, n), (e + 50.0, n), (e + 150.0, n), (e + 200.0, n)]),
            line("Ring", &[(e + 50.0, n), (e + 100.0, n + 20.0), (e + 150.0, n)]),
            line("Weststraße", &[(e, n), (e, n + 100.0)]),
            line("Querstraße", &[(e + 200.0, n), (e + 200.0, n + 100.0)]),
        ];
        let net = network(&lines);
        let ring = net.streets.iter().find(|s| s.name == "Ring").unwrap();
        assert_eq!(ring.chains.len(), 4, "west stub, main line, side path, east stub");
        assert_eq!(ring.segments, 1, "forks join; only junctions divide");
        for c in &ring.chains {
            let (a, b) = (&c.stops[0].1, &c.stops[c.stops.len() - 1].1);
            assert!(a.label() == "Weststraße" || a.label() == "Querstraße", "{a:?}");
            assert!(b.label() == "Weststraße" || b.label() == "Querstraße", "{b:?}");
        }
        // A fork stands for the junction beyond it, and knows how far that is.
        let side = ring.chains.iter().find(|c| c.points.len() == 3).unwrap();
        assert_eq!(side.stops[0].1.label(), "Weststraße");
        assert!((side.stops[0].1.offset() - 50.0).abs() < 0.5);
    }

    #[test]
    fn compass_sides() {
        assert_eq!(compass(1.0, 0.0), "east");
        assert_eq!(compass(0.0, 1.0), "north");
        assert_eq!(compass(-1.0, -1.0), "south-west");
        assert_eq!(compass(-1.0, 0.1), "west");
    }
}
