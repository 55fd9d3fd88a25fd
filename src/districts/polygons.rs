//! District polygons: the union of each school's blocks. Blocks are cells of the European
//! statistical grid (EPSG:3035 squares named `CRS3035RES{size}mN{y}E{x}`): the union is taken in
//! the grid's own meters, where the squares are exact, with geo's boolean operations, and the
//! result is carried to WGS84 vertex by vertex (shared edges map to the same coordinates, so
//! districts that do not overlap on the grid do not overlap on the map). Blocks that are not grid
//! cells (addresses) are drawn from their locations instead, as a Voronoi tessellation
//! (`voronoi.rs`, which shares the helpers here: millimetre snapping, ring repair, the way to
//! WGS84).

use super::blocks::grid_cell;
use super::DistrictRow;
use crate::error::{Error, Result};
use crate::projection as laea;
use geo::{Area, Contains, Coord, LineString, MapCoords, MultiPolygon, Polygon};

/// Cells within this many cells of a block belong to the area when no area is given.
pub const MARGIN_CELLS: i64 = 3;

/// Whether [`district_polygons`] draws these rows: every block with a school is a grid cell, all
/// of one size. Other blocks (addresses) are drawn from their locations, as a Voronoi
/// tessellation.
pub fn on_grid(rows: &[DistrictRow]) -> bool {
    let mut size = None;
    rows.iter().filter(|r| r.school.is_some()).all(|r| match grid_cell(&r.block_id) {
        Some(c) => *size.get_or_insert(c.size) == c.size,
        None => false,
    })
}

/// One (multi)polygon per school, in WGS84 (x = longitude, y = latitude, 7 decimals); empty for
/// a school without blocks. Fails if a block id is not a grid cell.
///
/// The districts tile an area: `area` (WGS84, e.g. the city boundary), or without one every
/// cell within [`MARGIN_CELLS`] of a block. Every grid cell of the area that holds no block —
/// parks, the river, streets, empty land — joins the district of the nearest block cell,
/// nearest by steps between edge-neighbouring cells of the area (so a fill never jumps across a
/// gap in the area), ties by the order cells are reached from blocks in id order; cells of the
/// area that no block reaches (an exclave) join the straight-line nearest block. Cells on the
/// area's boundary are cut by it, once, so neighbours share their edges exactly and the union of
/// the districts is the area.
pub fn district_polygons(
    rows: &[DistrictRow],
    n_schools: usize,
    area: Option<&MultiPolygon<f64>>,
) -> Result<Vec<MultiPolygon<f64>>> {
    use std::collections::{HashMap, VecDeque};
    let mut labelled: Vec<((i64, i64), usize)> = Vec::new();
    let mut not_cells = Vec::new();
    let mut size = None;
    for r in rows {
        let Some(s) = r.school else { continue };
        match grid_cell(&r.block_id) {
            Some(c) if size.is_none_or(|z| z == c.size) => {
                size = Some(c.size);
                labelled.push(((c.east, c.north), s));
            }
            _ => not_cells.push(r.block_id.as_str()),
        }
    }
    if !not_cells.is_empty() {
        return Err(Error::input("blocks", None, Some("block_id"), format!(
            "district polygons need blocks that are grid cells of one size (ids like CRS3035RES100mN3216200E4433100); {} are not, e.g. {}",
            not_cells.len(),
            not_cells.iter().take(3).copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let Some(size) = size else { return Ok(vec![MultiPolygon::new(vec![]); n_schools]) };
    let step = size as i64;
    // A local origin keeps the coordinates small for the overlay.
    let origin =
        labelled.iter().fold((i64::MAX, i64::MAX), |(e, n), &((ce, cn), _)| (e.min(ce), n.min(cn)));
    let local = |e: f64, n: f64| Coord { x: e - origin.0 as f64, y: n - origin.1 as f64 };
    let square = |(e, n): (i64, i64)| {
        let (x, y, z) = ((e - origin.0) as f64, (n - origin.1) as f64, step as f64);
        Polygon::new(
            LineString::from(vec![(x, y), (x + z, y), (x + z, y + z), (x, y + z), (x, y)]),
            vec![],
        )
    };
    // The area in local grid meters, and its cells: whole, or cut by the boundary.
    let area_local: Option<MultiPolygon<f64>> = area.map(|a| {
        a.map_coords(|c: Coord<f64>| {
            let (e, n) = laea::forward(c.y, c.x);
            local(e, n)
        })
    });
    // Cells of the area: `None` a whole square, `Some(pieces)` a square cut by the boundary.
    let mut cells: HashMap<(i64, i64), Option<Vec<Polygon<f64>>>> = HashMap::new();
    match &area_local {
        Some(a) => {
            use geo::{BooleanOps, BoundingRect, Intersects};
            let Some(bb) = a.bounding_rect() else {
                return Err(Error::input("area", None, None, "the area has no polygon"));
            };
            let snap = |v: f64, o: i64| ((v + o as f64).div_euclid(step as f64)) as i64 * step;
            let (e0, e1) = (snap(bb.min().x, origin.0), snap(bb.max().x, origin.0));
            let (n0, n1) = (snap(bb.min().y, origin.1), snap(bb.max().y, origin.1));
            for e in (e0..=e1).step_by(step as usize) {
                for n in (n0..=n1).step_by(step as usize) {
                    let sq = square((e, n));
                    let corners_in = sq.exterior().0[..4].iter().filter(|c| a.contains(*c)).count();
                    if corners_in == 4 && !a.exterior_crosses(&sq) {
                        cells.insert((e, n), None);
                    } else if corners_in > 0 || a.intersects(&sq) {
                        // Cut once, to the millimetre, so that neighbouring cells meet exactly.
                        let cut = a
                            .intersection(&MultiPolygon::new(vec![sq]))
                            .map_coords(|c| Coord { x: round_mm(c.x), y: round_mm(c.y) });
                        // Every piece of a cell the boundary cuts in several stays with the cell.
                        let pieces: Vec<Polygon<f64>> =
                            cut.0.into_iter().filter(|p| p.unsigned_area() > 0.01).collect();
                        if !pieces.is_empty() {
                            cells.insert((e, n), Some(pieces));
                        }
                    }
                }
            }
            // Blocks outside the area still belong to their districts.
            for &(c, _) in &labelled {
                cells.entry(c).or_insert(None);
            }
        }
        None => {
            for &((e, n), _) in &labelled {
                for de in -MARGIN_CELLS..=MARGIN_CELLS {
                    for dn in -MARGIN_CELLS..=MARGIN_CELLS {
                        cells.entry((e + de * step, n + dn * step)).or_insert(None);
                    }
                }
            }
        }
    }
    // Every cell's district: blocks first, then a breadth-first fill over edge neighbours.
    let mut label: HashMap<(i64, i64), usize> = HashMap::with_capacity(cells.len());
    let mut queue = VecDeque::new();
    let mut sources = labelled.clone();
    sources.sort();
    for &(c, s) in &sources {
        if label.insert(c, s).is_none() {
            queue.push_back(c);
        }
    }
    while let Some((e, n)) = queue.pop_front() {
        let s = label[&(e, n)];
        for (de, dn) in [(0, -step), (-step, 0), (step, 0), (0, step)] {
            let nb = (e + de, n + dn);
            if cells.contains_key(&nb) && !label.contains_key(&nb) {
                label.insert(nb, s);
                queue.push_back(nb);
            }
        }
    }
    let mut keys: Vec<(i64, i64)> = cells.keys().copied().collect();
    keys.sort();
    for c in &keys {
        if !label.contains_key(c) {
            let near = sources
                .iter()
                .min_by_key(|((e, n), _)| (e - c.0).pow(2) + (n - c.1).pow(2))
                .map(|&(_, s)| s)
                .expect("some block");
            label.insert(*c, near);
        }
    }
    let mut per_school: Vec<Vec<Polygon<f64>>> = vec![Vec::new(); n_schools];
    for c in keys {
        match &cells[&c] {
            Some(pieces) => per_school[label[&c]].extend(pieces.iter().cloned()),
            None => per_school[label[&c]].push(square(c)),
        }
    }
    Ok(per_school
        .iter()
        .map(|polys| {
            if polys.is_empty() {
                return MultiPolygon::new(vec![]);
            }
            let union = geo::algorithm::bool_ops::unary_union(polys.iter());
            // The union drops corners along straight edges; put every grid corner back, so that
            // two neighbours' shared edges have the same vertices and stay shared on the map
            // (a straight grid line is not straight in longitude and latitude).
            let union = MultiPolygon::new(
                simple_rings(&union)
                    .iter()
                    .filter_map(|p| without_slivers(p, 0.5))
                    .map(|p| densify(&p, step as f64))
                    .collect(),
            );
            to_wgs84(&union, (origin.0 as f64, origin.1 as f64))
        })
        .collect())
}

/// Polygons in local EPSG:3035 meters (around `origin`) to WGS84: each vertex to the millimetre,
/// then longitude and latitude to 7 decimals; rings oriented as RFC 7946 asks (exteriors
/// counter-clockwise, holes clockwise). The same local vertex gives the same WGS84 vertex, so
/// edges two districts share stay shared.
pub(super) fn to_wgs84(mp: &MultiPolygon<f64>, origin: (f64, f64)) -> MultiPolygon<f64> {
    use geo::orient::{Direction, Orient};
    mp.map_coords(|c: Coord<f64>| {
        let (lat, lon) = laea::inverse(round_mm(c.x) + origin.0, round_mm(c.y) + origin.1);
        Coord { x: round7(lon), y: round7(lat) }
    })
    .orient(Direction::Default)
}

/// The polygon without rings under `min_area` square meters (slivers left where the
/// boundary's cuts of two cells meet at a millimetre's difference); `None` when its exterior is
/// one.
pub(super) fn without_slivers(p: &Polygon<f64>, min_area: f64) -> Option<Polygon<f64>> {
    let big = |r: &LineString<f64>| {
        r.0.len() >= 4 && Polygon::new(r.clone(), vec![]).unsigned_area() >= min_area
    };
    if !big(p.exterior()) {
        return None;
    }
    Some(Polygon::new(
        p.exterior().clone(),
        p.interiors().iter().filter(|r| big(r)).cloned().collect(),
    ))
}

/// Meters to the millimetre, the grid every vertex is snapped to so that neighbours share
/// vertices exactly: grid corners are whole meters; points where the area's boundary cuts a
/// cell, and the corners of Voronoi cells, are not.
pub(super) fn round_mm(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Whether an edge of the area crosses a square (a cell with all four corners inside may still
/// be notched by the boundary).
trait CrossesSquare {
    fn exterior_crosses(&self, sq: &Polygon<f64>) -> bool;
}

impl CrossesSquare for MultiPolygon<f64> {
    fn exterior_crosses(&self, sq: &Polygon<f64>) -> bool {
        use geo::Intersects;
        let ring = sq.exterior();
        self.0
            .iter()
            .any(|p| std::iter::once(p.exterior()).chain(p.interiors()).any(|r| r.intersects(ring)))
    }
}

/// Cells that touch only at a corner make rings that pass twice through a point, which OGC
/// validity forbids: split such rings into simple loops; a loop turning the other way than its
/// ring is a hole (of an exterior) or an island (in a hole). Coordinates are exact here (grid
/// meters, or snapped to the millimetre), so equal points compare equal.
pub(super) fn simple_rings(mp: &MultiPolygon<f64>) -> Vec<Polygon<f64>> {
    fn loops(mut pts: Vec<Coord<f64>>, out: &mut Vec<Vec<Coord<f64>>>) {
        if pts.first() == pts.last() {
            pts.pop();
        }
        'outer: loop {
            for j in 1..pts.len() {
                if let Some(i) = pts[..j].iter().position(|&p| p == pts[j]) {
                    let inner: Vec<Coord<f64>> = pts[i..j].to_vec();
                    loops(inner, out);
                    pts.drain(i..j);
                    continue 'outer;
                }
            }
            break;
        }
        if pts.len() >= 3 {
            pts.push(pts[0]);
            out.push(pts);
        }
    }
    fn signed_area(r: &[Coord<f64>]) -> f64 {
        r.windows(2).map(|w| w[0].x * w[1].y - w[1].x * w[0].y).sum::<f64>() / 2.0
    }
    let mut exteriors: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut holes: Vec<Vec<Coord<f64>>> = Vec::new();
    for p in &mp.0 {
        let ext_sign = signed_area(&p.exterior().0).signum();
        let mut pieces = Vec::new();
        loops(p.exterior().0.clone(), &mut pieces);
        for h in p.interiors() {
            loops(h.0.clone(), &mut pieces);
        }
        for piece in pieces {
            if signed_area(&piece).signum() == ext_sign {
                exteriors.push(piece);
            } else {
                holes.push(piece);
            }
        }
    }
    let mut polys: Vec<Polygon<f64>> =
        exteriors.into_iter().map(|e| Polygon::new(LineString::new(e), vec![])).collect();
    for h in holes {
        // The midpoint of a hole's edge lies inside the exterior that holds the hole.
        let m = Coord { x: (h[0].x + h[1].x) / 2.0, y: (h[0].y + h[1].y) / 2.0 };
        let inside = polys.iter().enumerate().filter(|(_, p)| p.contains(&m)).min_by(|a, b| {
            a.1.unsigned_area()
                .partial_cmp(&b.1.unsigned_area())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        if let Some((i, _)) = inside {
            polys[i].interiors_push(LineString::new(h));
        }
    }
    polys
}

/// Every grid corner (a multiple of `step` in local grid meters) on each axis-parallel edge of a
/// polygon; edges that are not axis-parallel (cut by the area's boundary) stay as they are.
fn densify(p: &Polygon<f64>, step: f64) -> Polygon<f64> {
    let ring = |r: &LineString<f64>| -> LineString<f64> {
        let mut out: Vec<Coord<f64>> = Vec::with_capacity(r.0.len());
        for w in r.0.windows(2) {
            let (a, b) = (w[0], w[1]);
            out.push(a);
            // The grid lines strictly between two values, in the direction from one to the other.
            let between = |u: f64, v: f64| -> Vec<f64> {
                let (lo, hi) = (u.min(v), u.max(v));
                let mut k = (lo / step).floor() as i64 + 1;
                let mut xs = Vec::new();
                while (k as f64) * step < hi - 1e-6 {
                    if (k as f64) * step > lo + 1e-6 {
                        xs.push(k as f64 * step);
                    }
                    k += 1;
                }
                if u > v {
                    xs.reverse();
                }
                xs
            };
            if a.y == b.y {
                out.extend(between(a.x, b.x).into_iter().map(|x| Coord { x, y: a.y }));
            } else if a.x == b.x {
                out.extend(between(a.y, b.y).into_iter().map(|y| Coord { x: a.x, y }));
            }
        }
        if let Some(&last) = r.0.last() {
            out.push(last);
        }
        LineString::new(out)
    };
    Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
}

fn round7(x: f64) -> f64 {
    (x * 1e7).round() / 1e7
}

/// Properties of one district in `districts.geojson`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DistrictProperties {
    /// The school's id.
    pub school_id: String,
    /// The school's name.
    pub name: String,
    /// Pupils the plan assigns to the school (a count).
    pub pupils: u64,
    /// The school's seats.
    pub capacity: u32,
    /// Classes the plan forms at the school.
    pub classes: u32,
    /// Number of blocks in the district.
    pub blocks: usize,
    /// Residents (all ages) of the district's blocks.
    pub residents: u64,
}

/// The districts as a GeoJSON FeatureCollection: one Feature (MultiPolygon) per school that
/// has blocks.
pub fn feature_collection(
    polygons: &[MultiPolygon<f64>],
    props: &[DistrictProperties],
) -> geojson::FeatureCollection {
    let features = polygons
        .iter()
        .zip(props)
        .filter(|(mp, _)| !mp.0.is_empty())
        .map(|(mp, p)| {
            let properties = match serde_json::to_value(p) {
                Ok(serde_json::Value::Object(o)) => o,
                _ => unreachable!("district properties serialise to an object"),
            };
            geojson::Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::new(geojson::GeometryValue::from(mp))),
                id: Some(geojson::feature::Id::String(p.school_id.clone())),
                properties: Some(properties),
                foreign_members: None,
            }
        })
        .collect();
    geojson::FeatureCollection { bbox: None, features, foreign_members: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{BooleanOps, Validation};

    fn row(id: &str, s: usize) -> DistrictRow {
        DistrictRow {
            block_id: id.into(),
            school: Some(s),
            walk_m: Some(0),
            nearest: Some((s, 0)),
            cost_to_others_m: 0,
            residents: 1,
            keep_cost_m: 0,
        }
    }

    fn cell(n: i64, e: i64) -> String {
        format!("CRS3035RES100mN{n}E{e}")
    }

    #[test]
    fn cells_merge_into_valid_disjoint_districts() {
        // School 0: an L of three cells plus a lone cell touching it at a corner; school 1: a
        // ring of eight cells around a hole (a park), next to school 0.
        let (n0, e0) = (3_220_000, 4_430_000);
        let mut rows = vec![
            row(&cell(n0, e0), 0),
            row(&cell(n0, e0 + 100), 0),
            row(&cell(n0 + 100, e0), 0),
            row(&cell(n0 + 200, e0 + 100), 0),
        ];
        for (dn, de) in [(0, 2), (0, 3), (0, 4), (1, 2), (1, 4), (2, 2), (2, 3), (2, 4)] {
            rows.push(row(&cell(n0 + dn * 100, e0 + de * 100), 1));
        }
        let polys = district_polygons(&rows, 3, None).unwrap();
        assert!(polys[2].0.is_empty());
        for mp in &polys[..2] {
            assert!(mp.is_valid(), "{:?}", mp.validation_errors());
            assert_right_hand(mp);
        }
        assert_eq!(polys[1].0.len(), 1);
        assert_eq!(polys[1].0[0].interiors().len(), 0, "the park is filled by its ring's school");
        let overlap = polys[0].intersection(&polys[1]);
        assert!(
            overlap.unsigned_area() < 1e-14,
            "districts overlap by {}",
            overlap.unsigned_area()
        );
        assert_tiles(&rows, &polys);
    }

    /// RFC 7946: exterior rings counter-clockwise, holes clockwise.
    fn assert_right_hand(mp: &MultiPolygon<f64>) {
        use geo::Winding;
        for p in &mp.0 {
            assert!(p.exterior().is_ccw());
            assert!(p.interiors().iter().all(|r| r.is_cw()));
        }
    }

    /// Together the districts are every cell within the margin of a block, once.
    fn assert_tiles(rows: &[DistrictRow], polys: &[MultiPolygon<f64>]) {
        let mut cells = std::collections::HashSet::new();
        for r in rows {
            let c = grid_cell(&r.block_id).unwrap();
            for de in -MARGIN_CELLS..=MARGIN_CELLS {
                for dn in -MARGIN_CELLS..=MARGIN_CELLS {
                    cells.insert((c.east + de * 100, c.north + dn * 100));
                }
            }
        }
        // Square degrees of a 100 m cell here (the projection's scale varies by < 0.5%).
        let (lat, _) = laea::inverse(4_430_000.0, 3_220_000.0);
        let deg2 = 100.0 * 100.0 / (111_320.0 * 111_320.0 * lat.to_radians().cos());
        let sum: f64 = polys.iter().map(|p| p.unsigned_area()).sum();
        let ratio = sum / (cells.len() as f64 * deg2);
        assert!((ratio - 1.0).abs() < 0.01, "{ratio}");
    }

    #[test]
    fn cells_touching_at_corners_give_valid_polygons() {
        // A checkerboard of five cells for school 0 (every cell touches the next at a corner),
        // and a ring of cells around a hole whose corner touches the ring's own corner.
        let (n0, e0) = (3_220_000, 4_430_000);
        let mut rows = Vec::new();
        for (dn, de) in [(0, 0), (1, 1), (2, 2), (0, 2), (2, 0)] {
            rows.push(row(&cell(n0 + dn * 100, e0 + de * 100), 0));
        }
        for (dn, de) in [(0, 5), (0, 6), (0, 7), (1, 5), (1, 7), (2, 5), (2, 6), (3, 8)] {
            rows.push(row(&cell(n0 + dn * 100, e0 + de * 100), 1));
        }
        rows.push(row(&cell(n0 + 200, e0 + 800), 1));
        let polys = district_polygons(&rows, 2, None).unwrap();
        for mp in &polys {
            assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        }
        assert!(polys[0].intersection(&polys[1]).unsigned_area() < 1e-14);
        assert_tiles(&rows, &polys);
    }

    #[test]
    fn an_area_is_tiled_exactly_and_cut_at_its_boundary() {
        use geo::BooleanOps;
        // Two schools' blocks inside a triangle that cuts through cells.
        let (n0, e0) = (3_220_000i64, 4_430_000i64);
        let rows = vec![row(&cell(n0 + 100, e0 + 100), 0), row(&cell(n0 + 100, e0 + 500), 1)];
        let corner = |de: f64, dn: f64| {
            let (lat, lon) = laea::inverse(e0 as f64 + de, n0 as f64 + dn);
            (lon, lat)
        };
        let area = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                corner(-30.0, -40.0),
                corner(760.0, 10.0),
                corner(330.0, 470.0),
                corner(-30.0, -40.0),
            ]),
            vec![],
        )]);
        let polys = district_polygons(&rows, 2, Some(&area)).unwrap();
        for mp in &polys {
            assert!(mp.is_valid(), "{:?}", mp.validation_errors());
            assert_right_hand(mp);
        }
        assert!(polys[0].intersection(&polys[1]).unsigned_area() < 1e-14);
        let union = polys[0].union(&polys[1]);
        let rel = (union.unsigned_area() - area.unsigned_area()).abs() / area.unsigned_area();
        assert!(rel < 1e-4, "the union is the area: {rel}");
    }

    #[test]
    fn blocks_that_are_not_grid_cells_are_refused() {
        assert!(!on_grid(&[row("Abendstraße 11", 0)]), "drawn from its location instead");
        assert!(on_grid(&[row(&cell(3_220_000, 4_430_000), 0)]));
        let err = district_polygons(&[row("Abendstraße 11", 0)], 1, None).unwrap_err();
        assert!(err.to_string().contains("grid cells"), "{err}");
    }
}
