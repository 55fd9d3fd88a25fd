//! Which blocks touch: the neighbour graph a contiguous district is one piece of. Pure, no I/O.
//!
//! - Grid blocks (Zensus cells `CRS3035RES100mN..E..`, all of one size) touch when they share an
//!   edge. Cells that meet only at a corner do **not** touch: they share no street frontage (a
//!   walk from one to the other passes through one of the two cells beside the corner), and a
//!   district joined only at a corner is drawn as two pieces on a map (the polygon union splits
//!   self-touching rings, see `polygons.rs`).
//! - Address blocks (points) touch when they are Delaunay neighbours of their locations, projected
//!   to local meters (equirectangular around the mean latitude). Several blocks at one location
//!   (the addresses of one building) touch each other and every neighbour of that location.
//! - [`drop_barriers`] then removes pairs that touch on the map but not on foot: a river without
//!   a bridge between them. The walking matrix proves it without routing between blocks: for
//!   any school `s`, `walk(a, s) <= walk(a, b) + walk(b, s)`, so
//!   `walk(a, b) >= max over s of |walk(a, s) - walk(b, s)|`. When that lower bound exceeds
//!   `3 x` the straight-line distance `+ 300 m`, no short walk joins the two blocks and the pair
//!   is dropped. The rule only ever drops pairs with proof of a long walk; it cannot find every
//!   barrier (a school on each bank would be needed).

use super::blocks::{grid_cell, Block, GridCell};
use super::BlockMatrix;
use crate::routing::UNREACHABLE;
use std::collections::HashMap;

/// A pair is a barrier when the walk between its blocks is provably longer than
/// `BARRIER_FACTOR x` their straight-line distance `+ BARRIER_SLACK_M`.
pub const BARRIER_FACTOR: f64 = 3.0;
/// See [`BARRIER_FACTOR`] (meters).
pub const BARRIER_SLACK_M: f64 = 300.0;

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The neighbour graph of a slice of blocks: `neighbours[i]` are indices into that slice,
/// sorted, without `i` itself; `j` is in `neighbours[i]` iff `i` is in `neighbours[j]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Adjacency {
    /// Per block, its neighbours' indices.
    pub neighbours: Vec<Vec<usize>>,
}

impl Adjacency {
    /// Number of pairs.
    pub fn n_pairs(&self) -> usize {
        self.neighbours.iter().map(Vec::len).sum::<usize>() / 2
    }

    /// From a list of pairs (any order, duplicates and self pairs ignored).
    pub fn from_pairs(n: usize, pairs: impl IntoIterator<Item = (usize, usize)>) -> Adjacency {
        let mut neighbours = vec![Vec::new(); n];
        for (a, b) in pairs {
            if a != b {
                neighbours[a].push(b);
                neighbours[b].push(a);
            }
        }
        for list in &mut neighbours {
            list.sort_unstable();
            list.dedup();
        }
        Adjacency { neighbours }
    }
}

/// Neighbours of grid-cell blocks, when every block id is a grid cell of one size (and no two
/// ids name the same cell); otherwise `None`.
///
/// Two blocks are neighbours when their regions share an edge, a block's region being its own
/// cell and the empty cells (parks, the river, streets) nearest to it by steps between
/// edge-neighbouring cells, within [`GAP_CELLS`] cells of some block — the same fill the
/// published district polygons use. So two populated cells on either side of a park or a street
/// are neighbours, as they are on the map; cells sharing an edge always are. Corner contact
/// alone is not adjacency (module docs).
pub fn grid(blocks: &[Block]) -> Option<Adjacency> {
    use std::collections::VecDeque;
    let cells: Vec<GridCell> = blocks.iter().map(|b| grid_cell(&b.id)).collect::<Option<_>>()?;
    let size = cells.first().map_or(0, |c| c.size);
    if cells.iter().any(|c| c.size != size) {
        return None;
    }
    let mut owner: HashMap<(i64, i64), usize> = HashMap::with_capacity(cells.len() * 4);
    for (i, c) in cells.iter().enumerate() {
        if owner.insert((c.east, c.north), i).is_some() {
            return None;
        }
    }
    let step = size as i64;
    // Breadth-first fill of the empty cells within GAP_CELLS steps, from blocks in id order.
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&a, &b| crate::instance::id_cmp(&blocks[a].id, &blocks[b].id));
    let mut queue: VecDeque<((i64, i64), i64)> =
        order.iter().map(|&i| ((cells[i].east, cells[i].north), 0)).collect();
    const DIRS: [(i64, i64); 4] = [(0, -1), (-1, 0), (1, 0), (0, 1)];
    while let Some(((e, n), d)) = queue.pop_front() {
        if d >= GAP_CELLS {
            continue;
        }
        let o = owner[&(e, n)];
        for (de, dn) in DIRS {
            let nb = (e + de * step, n + dn * step);
            if let std::collections::hash_map::Entry::Vacant(v) = owner.entry(nb) {
                v.insert(o);
                queue.push_back((nb, d + 1));
            }
        }
    }
    let mut pairs = Vec::new();
    for (&(e, n), &o) in &owner {
        for (de, dn) in [(1, 0), (0, 1)] {
            if let Some(&p) = owner.get(&(e + de * step, n + dn * step)) {
                if p != o {
                    pairs.push((o, p));
                }
            }
        }
    }
    Some(Adjacency::from_pairs(cells.len(), pairs))
}

/// The adjacency districts are judged on: [`for_blocks`], less the pairs the walks show to be
/// far apart on foot ([`drop_barriers_in`]), with the pieces that leaves joined
/// ([`connect_pieces`]). Returns it with how it was taken (`grid` or `delaunay`), the pairs
/// dropped and the links added.
pub fn for_city(blocks: &[Block], bm: &BlockMatrix) -> (Adjacency, &'static str, usize, usize) {
    let grid = grid(blocks);
    let kind = if grid.is_some() { "grid" } else { "delaunay" };
    let adj = grid.unwrap_or_else(|| points(blocks));
    let (adj, dropped) = drop_barriers_in(&adj, blocks, bm);
    let (adj, added) = connect_pieces(&adj, blocks);
    (adj, kind, dropped, added)
}

/// Empty cells a grid block's region reaches across (3: gaps of up to 600 m between 100 m
/// cells are bridged from both sides).
pub const GAP_CELLS: i64 = 3;

/// Join the pieces of a neighbour graph into one: while there are several, the piece of the
/// first block links to the nearest block (straight line) of another piece. A city whose
/// populated places lie farther apart than any adjacency rule bridges (villages, an exclave)
/// still has districts that are one piece each. Returns the graph and the links added.
pub fn connect_pieces(adj: &Adjacency, blocks: &[Block]) -> (Adjacency, usize) {
    let n = blocks.len();
    let xy = local_meters(blocks);
    let mut neighbours = adj.neighbours.clone();
    let mut added = 0;
    loop {
        // Components by BFS.
        let mut comp = vec![usize::MAX; n];
        let mut count = 0;
        for start in 0..n {
            if comp[start] != usize::MAX {
                continue;
            }
            let mut stack = vec![start];
            comp[start] = count;
            while let Some(u) = stack.pop() {
                for &v in &neighbours[u] {
                    if comp[v] == usize::MAX {
                        comp[v] = count;
                        stack.push(v);
                    }
                }
            }
            count += 1;
        }
        if count <= 1 {
            break;
        }
        // The nearest pair between component 0 and any other.
        let mut best: Option<(f64, usize, usize)> = None;
        for a in (0..n).filter(|&a| comp[a] == 0) {
            for b in (0..n).filter(|&b| comp[b] != 0) {
                let d = (xy[a].0 - xy[b].0).powi(2) + (xy[a].1 - xy[b].1).powi(2);
                if best.is_none_or(|(bd, _, _)| d < bd) {
                    best = Some((d, a, b));
                }
            }
        }
        let Some((_, a, b)) = best else { break };
        neighbours[a].push(b);
        neighbours[b].push(a);
        neighbours[a].sort_unstable();
        neighbours[b].sort_unstable();
        added += 1;
    }
    (Adjacency { neighbours }, added)
}

/// Delaunay neighbours of the blocks' locations (module docs); blocks at one location touch
/// each other and that location's neighbours. Two locations touch; one touches nothing.
pub fn points(blocks: &[Block]) -> Adjacency {
    use spade::{DelaunayTriangulation, Point2, Triangulation};
    let xy = local_meters(blocks);
    // Blocks by location: spade keeps one vertex per position.
    let mut tri: DelaunayTriangulation<Point2<f64>> = DelaunayTriangulation::new();
    let mut group_of_vertex: HashMap<usize, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, &(x, y)) in xy.iter().enumerate() {
        let Ok(handle) = tri.insert(spade::mitigate_underflow(Point2::new(x, y))) else {
            continue; // not a finite location: touches nothing
        };
        let g = *group_of_vertex.entry(handle.index()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut pairs = Vec::new();
    let mut link = |a: &[usize], b: &[usize]| {
        for &i in a {
            for &j in b {
                pairs.push((i, j));
            }
        }
    };
    for g in &groups {
        link(g, g);
    }
    for edge in tri.undirected_edges() {
        let [a, b] = edge.vertices();
        let (ga, gb) = (group_of_vertex[&a.fix().index()], group_of_vertex[&b.fix().index()]);
        link(&groups[ga], &groups[gb]);
    }
    Adjacency::from_pairs(blocks.len(), pairs)
}

/// [`grid`] when the blocks are grid cells of one size, else [`points`].
pub fn for_blocks(blocks: &[Block]) -> Adjacency {
    grid(blocks).unwrap_or_else(|| points(blocks))
}

/// Drop the pairs the walking matrix proves are far apart on foot (module docs): `walks(i)` is
/// block `i`'s row of walks to every school ([`UNREACHABLE`] entries are skipped; an empty row
/// proves nothing). Returns the remaining graph and the number of pairs dropped.
pub fn drop_barriers<'a>(
    adj: &Adjacency,
    blocks: &[Block],
    walks: impl Fn(usize) -> &'a [u32],
) -> (Adjacency, usize) {
    let mut dropped = 0;
    let mut kept = Vec::new();
    for (a, list) in adj.neighbours.iter().enumerate() {
        for &b in list.iter().filter(|&&b| b > a) {
            let bound = walk_lower_bound(walks(a), walks(b));
            let straight = straight_m(&blocks[a], &blocks[b]);
            if bound as f64 > BARRIER_FACTOR * straight + BARRIER_SLACK_M {
                dropped += 1;
            } else {
                kept.push((a, b));
            }
        }
    }
    (Adjacency::from_pairs(adj.neighbours.len(), kept), dropped)
}

/// [`drop_barriers`] with the city's block matrix (rows found by block id; blocks missing from
/// it keep their pairs).
pub fn drop_barriers_in(adj: &Adjacency, blocks: &[Block], bm: &BlockMatrix) -> (Adjacency, usize) {
    let rows: Vec<Option<usize>> = blocks.iter().map(|b| bm.index(&b.id)).collect();
    drop_barriers(adj, blocks, |i| rows[i].map_or(&[][..], |r| bm.row(r)))
}

/// `max over schools of |walk(a, s) - walk(b, s)|`, over schools both reach: a lower bound of
/// the walk from `a` to `b` by the triangle inequality.
pub fn walk_lower_bound(a: &[u32], b: &[u32]) -> u32 {
    a.iter()
        .zip(b)
        .filter(|(&x, &y)| x != UNREACHABLE && y != UNREACHABLE)
        .map(|(&x, &y)| x.abs_diff(y))
        .max()
        .unwrap_or(0)
}

/// Great-circle distance between two blocks (meters).
fn straight_m(a: &Block, b: &Block) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let (dp, dl) = (p2 - p1, (b.lon - a.lon).to_radians());
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Locations in meters, equirectangular around the mean latitude and longitude.
fn local_meters(blocks: &[Block]) -> Vec<(f64, f64)> {
    let n = blocks.len().max(1) as f64;
    let lat0 = blocks.iter().map(|b| b.lat).sum::<f64>() / n;
    let lon0 = blocks.iter().map(|b| b.lon).sum::<f64>() / n;
    let k = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
    let cos0 = lat0.to_radians().cos();
    blocks.iter().map(|b| ((b.lon - lon0) * k * cos0, (b.lat - lat0) * k)).collect()
}

/// Connected pieces per school of the blocks' schools (`None`: no school).
pub fn pieces(adj: &Adjacency, school_of: &[Option<usize>], n_schools: usize) -> Vec<usize> {
    let mut count = vec![0; n_schools];
    for (s, _) in crate::solve::contiguity::pieces(&adj.neighbours, school_of) {
        count[s] += 1;
    }
    count
}

/// A piece of a school's district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The school (index into the schools) whose district the piece is part of.
    pub school: usize,
    /// Indices into the blocks, sorted.
    pub blocks: Vec<usize>,
}

/// The pieces of districts cut off from their school: those not holding the school's own
/// block (`roots[s]`). A school whose block is unknown (`None`) keeps its largest piece (the
/// first of equal ones) and the others count as enclaves.
pub fn enclaves(
    adj: &Adjacency,
    school_of: &[Option<usize>],
    roots: &[Option<usize>],
) -> Vec<Piece> {
    let all = crate::solve::contiguity::pieces(&adj.neighbours, school_of);
    let mut main: Vec<Option<usize>> = vec![None; roots.len()];
    for (i, (s, blocks)) in all.iter().enumerate() {
        let better = match (roots.get(*s).copied().flatten(), main[*s]) {
            (Some(r), _) => blocks.contains(&r),
            (None, None) => true,
            (None, Some(m)) => blocks.len() > all[m].1.len(),
        };
        if better {
            main[*s] = Some(i);
        }
    }
    all.into_iter()
        .enumerate()
        .filter(|(i, (s, _))| main[*s] != Some(*i))
        .map(|(_, (school, blocks))| Piece { school, blocks })
        .collect()
}

/// The block each school stands in: for grid blocks the cell containing the school (if it is
/// one of the blocks), else the nearest block by straight line. `None` without blocks.
pub fn root_blocks(blocks: &[Block], schools: &[(f64, f64)]) -> Vec<Option<usize>> {
    let cells: Option<HashMap<GridCell, usize>> =
        blocks.iter().enumerate().map(|(i, b)| grid_cell(&b.id).map(|c| (c, i))).collect();
    schools
        .iter()
        .map(|&(lat, lon)| {
            if let Some(cells) = &cells {
                if let Some(size) = cells.keys().next().map(|c| c.size) {
                    let (e, n) = crate::projection::forward(lat, lon);
                    if let Some(&i) = cells.get(&GridCell::containing(size, e, n)) {
                        return Some(i);
                    }
                }
            }
            let here = Block {
                id: String::new(),
                lat,
                lon,
                residents: 0,
                street: None,
                house_number: None,
            };
            (0..blocks.len()).min_by(|&a, &b| {
                straight_m(&here, &blocks[a]).total_cmp(&straight_m(&here, &blocks[b]))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(id: &str, lat: f64, lon: f64) -> Block {
        Block { id: id.into(), lat, lon, residents: 0, street: None, house_number: None }
    }

    /// The 100 m cell `(col, row)` of a grid near Magdeburg, located at its centre.
    fn cell(col: i64, row: i64) -> Block {
        let (east, north) = (4_433_100 + 100 * col, 3_216_200 + 100 * row);
        let (lat, lon) = crate::projection::inverse(east as f64 + 50.0, north as f64 + 50.0);
        block(&format!("CRS3035RES100mN{north}E{east}"), lat, lon)
    }

    fn symmetric_sorted(adj: &Adjacency) {
        for (i, list) in adj.neighbours.iter().enumerate() {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{i}: {list:?}");
            assert!(!list.contains(&i));
            for &j in list {
                assert!(adj.neighbours[j].contains(&i), "{i} -> {j} one-way");
            }
        }
    }

    #[test]
    fn a_three_by_three_grid_has_edge_neighbours_only() {
        // Row by row: index = 3 * row + col.
        let blocks: Vec<Block> = (0..9).map(|i| cell(i % 3, i / 3)).collect();
        let adj = grid(&blocks).unwrap();
        symmetric_sorted(&adj);
        assert_eq!(adj.neighbours[4], vec![1, 3, 5, 7]);
        assert_eq!(adj.neighbours[0], vec![1, 3]);
        assert_eq!(adj.neighbours[8], vec![5, 7]);
        assert_eq!(adj.n_pairs(), 12);
        assert_eq!(for_blocks(&blocks), adj);
    }

    #[test]
    fn corner_contact_is_not_adjacency() {
        // A full 2 x 2 square: diagonal cells touch only at the corner, and no empty cell
        // between them is filled: not neighbours.
        let full = vec![cell(0, 0), cell(0, 1), cell(1, 0), cell(1, 1)];
        let adj = grid(&full).unwrap();
        assert_eq!(adj.neighbours, vec![vec![1, 2], vec![0, 3], vec![0, 3], vec![1, 2]]);
        // Two diagonal cells alone: the empty cells beside the corner are filled from them, so
        // their regions share an edge, as their districts would on the map.
        let blocks = vec![cell(0, 0), cell(1, 1)];
        let adj = grid(&blocks).unwrap();
        assert_eq!(adj.neighbours, vec![vec![1], vec![0]]);
        // Cells farther apart than the gap the fill bridges are not neighbours.
        let far = vec![cell(0, 0), cell(0, 2 * GAP_CELLS + 2)];
        assert_eq!(grid(&far).unwrap().neighbours, vec![Vec::<usize>::new(), vec![]]);
        // Other sizes or ids that are not cells: no grid.
        let mut mixed = blocks.clone();
        mixed.push(block("CRS3035RES1000mN3216000E4433000", 52.0, 11.0));
        assert!(grid(&mixed).is_none());
        assert!(grid(&[block("A", 52.0, 11.0)]).is_none());
    }

    #[test]
    fn points_are_delaunay_neighbours_and_duplicates_share_them() {
        // A square with a centre, plus a second block at the centre's location.
        let d = 0.001;
        let blocks = vec![
            block("sw", 52.0, 11.0),
            block("se", 52.0, 11.0 + 2.0 * d),
            block("nw", 52.0 + 2.0 * d, 11.0),
            block("ne", 52.0 + 2.0 * d, 11.0 + 2.0 * d),
            block("c", 52.0 + d, 11.0 + d),
            block("c2", 52.0 + d, 11.0 + d),
        ];
        let adj = points(&blocks);
        symmetric_sorted(&adj);
        assert_eq!(adj.neighbours[4], vec![0, 1, 2, 3, 5]);
        assert_eq!(adj.neighbours[5], vec![0, 1, 2, 3, 4]);
        // Corners touch their two sides and both centre blocks, not the opposite corner.
        assert_eq!(adj.neighbours[0], vec![1, 2, 4, 5]);
        assert_eq!(for_blocks(&blocks), adj);
    }

    #[test]
    fn few_and_collinear_points() {
        assert_eq!(points(&[]).neighbours, Vec::<Vec<usize>>::new());
        assert_eq!(points(&[block("a", 52.0, 11.0)]).neighbours, vec![Vec::<usize>::new()]);
        let two = points(&[block("a", 52.0, 11.0), block("b", 52.001, 11.0)]);
        assert_eq!(two.neighbours, vec![vec![1], vec![0]]);
        let dup = points(&[block("a", 52.0, 11.0), block("b", 52.0, 11.0)]);
        assert_eq!(dup.neighbours, vec![vec![1], vec![0]]);
        let line =
            points(&[block("a", 52.0, 11.0), block("b", 52.0, 11.001), block("c", 52.0, 11.002)]);
        assert_eq!(line.neighbours, vec![vec![1], vec![0, 2], vec![1]]);
    }

    #[test]
    fn a_barrier_is_dropped_and_a_street_kept() {
        let blocks = vec![cell(0, 0), cell(1, 0), cell(2, 0)];
        let adj = grid(&blocks).unwrap();
        // Two schools. Block 1 -> 2: a river (school 0 is 200 m from 1 but 1500 m from 2).
        // Block 0 -> 1: differences of 100 m at most. UNREACHABLE pairs prove nothing.
        let rows: Vec<Vec<u32>> = vec![vec![300, UNREACHABLE], vec![200, 900], vec![1500, 1000]];
        let (kept, dropped) = drop_barriers(&adj, &blocks, |i| &rows[i]);
        assert_eq!(dropped, 1);
        assert_eq!(kept.neighbours, vec![vec![1], vec![0], vec![]]);
        // 1300 m proven against 3 x 100 m + 300 m: dropped; 550 m is not.
        assert_eq!(walk_lower_bound(&rows[1], &rows[2]), 1300);
        let near: Vec<Vec<u32>> = vec![vec![300, 0], vec![200, 0], vec![750, 0]];
        assert_eq!(drop_barriers(&adj, &blocks, |i| &near[i]).1, 0);
        // The same through a block matrix (by id); blocks missing from it keep their pairs.
        let bm = BlockMatrix {
            blocks: vec![blocks[1].id.clone(), blocks[2].id.clone()],
            n_schools: 2,
            meters: [rows[1].clone(), rows[2].clone()].concat(),
        };
        let mut ids = bm.blocks.clone();
        ids.sort_by(|a, b| crate::instance::id_cmp(a, b));
        assert_eq!(ids, bm.blocks);
        assert_eq!(drop_barriers_in(&adj, &blocks, &bm), (kept, 1));
    }

    #[test]
    fn pieces_and_enclaves_per_school() {
        // 3 x 3 grid, rows bottom up: school 0 owns the left column, the bottom row's middle
        // and the right column's middle; school 1 the rest, split in two by them. School 1's
        // block is unknown: its largest piece counts as home.
        let blocks: Vec<Block> = (0..9).map(|i| cell(i % 3, i / 3)).collect();
        let adj = grid(&blocks).unwrap();
        let s = |x: usize| Some(x);
        let school_of = vec![s(0), s(1), s(1), s(0), s(1), s(0), s(0), s(0), s(1)];
        assert_eq!(pieces(&adj, &school_of, 2), vec![2, 2]);
        let got = enclaves(&adj, &school_of, &[Some(3), None]);
        assert_eq!(
            got,
            vec![Piece { school: 0, blocks: vec![5] }, Piece { school: 1, blocks: vec![8] }]
        );
        assert_eq!(root_blocks(&blocks, &[(blocks[4].lat, blocks[4].lon)]), vec![Some(4)]);
    }
}
