//! District polygons for blocks that are points (addresses): a Voronoi tessellation of the
//! blocks' locations, clipped to the area the districts tile. A block's cell is the land nearer
//! to its location than to any other block's; a school's district is the union of its blocks'
//! cells.
//!
//! - **The area**: the one given (e.g. the city boundary), or without one the convex hull of the
//!   blocks widened by [`HULL_MARGIN_M`].
//! - **Locations** are taken in EPSG:3035 meters to the millimetre. Blocks at one location (the
//!   addresses of one building, staircase letters) form one site; its cell goes to the school
//!   of most of them (ties: the school listed first). The others are counted
//!   ([`PointDistricts::shared_location`]): a map cannot draw two schools at one point, while
//!   `districts.csv` and the street list give every block its own school.
//! - **Cells** come from spade's Delaunay triangulation of the sites: a cell's corners are the
//!   circumcentres of the triangles around its site, each computed once and snapped to the
//!   millimetre, so neighbouring cells share their corners exactly. Four far points close the
//!   cells of the outermost sites; they lie so far out that every point of the area is nearer to
//!   some block than to them. Each cell is cut to the area's bounding box, a school's cells are
//!   merged (geo's boolean operations), the district is cut to the area, and the result is
//!   carried to WGS84 the way the grid districts are: corners the union dropped along straight
//!   edges put back, rings that touch themselves split, exteriors counter-clockwise.

use super::blocks::Block;
use super::polygons::{round_mm, simple_rings, to_wgs84, without_slivers};
use crate::error::{Error, Result};
use crate::projection as laea;
use geo::{
    Area, BooleanOps, BoundingRect, Contains, ConvexHull, Coord, LineString, MapCoords, MultiPoint,
    MultiPolygon, Point, Polygon, Rect,
};
use std::collections::{HashMap, HashSet};

/// Without an area, the districts tile the convex hull of the blocks widened by this many meters
/// (the margin grid districts keep around their cells, too).
pub const HULL_MARGIN_M: f64 = 300.0;

/// Districts drawn from block locations, and the blocks such a drawing cannot show inside their
/// own school's district.
#[derive(Debug, Clone, PartialEq)]
pub struct PointDistricts {
    /// One (multi)polygon per school, in WGS84 (x = longitude, y = latitude, 7 decimals); empty
    /// for a school without a cell of its own in the area.
    pub polygons: Vec<MultiPolygon<f64>>,
    /// Blocks drawn inside another school's district: they share their location (to the
    /// millimetre) with at least as many blocks of that school.
    pub shared_location: usize,
    /// Blocks whose location lies outside the given area: only the part of their cell inside it
    /// is drawn, if any.
    pub outside_area: usize,
}

/// The districts of blocks drawn from their locations (module docs): `school[b]` is block `b`'s
/// school; a block without one draws no cell, its land goes to the blocks around it.
///
/// The districts tile `area` (WGS84), or without one the blocks' convex hull widened by
/// [`HULL_MARGIN_M`]: every point of it lies in exactly one district, and neighbouring districts
/// share their edges vertex for vertex.
pub fn point_polygons(
    blocks: &[Block],
    school: &[Option<usize>],
    n_schools: usize,
    area: Option<&MultiPolygon<f64>>,
) -> Result<PointDistricts> {
    if blocks.len() != school.len() || school.iter().flatten().any(|&s| s >= n_schools) {
        return Err(Error::internal("point districts: the blocks and their schools do not match"));
    }
    // Locations in EPSG:3035 millimetres, sorted: blocks at one location are neighbours.
    let mut located: Vec<((i64, i64), usize)> = blocks
        .iter()
        .zip(school)
        .filter_map(|(b, s)| {
            let s = (*s)?;
            let (e, n) = laea::forward(b.lat, b.lon);
            let mm = |v: f64| (v * 1000.0).round() as i64;
            (e.is_finite() && n.is_finite()).then(|| ((mm(e), mm(n)), s))
        })
        .collect();
    let mut out = PointDistricts {
        polygons: vec![MultiPolygon::new(vec![]); n_schools],
        shared_location: 0,
        outside_area: 0,
    };
    if located.is_empty() {
        return Ok(out);
    }
    located.sort_unstable();
    // A local origin in whole meters keeps the coordinates small for the overlay.
    let low =
        located.iter().fold((i64::MAX, i64::MAX), |(e, n), &((x, y), _)| (e.min(x), n.min(y)));
    let origin_mm = (low.0.div_euclid(1000) * 1000, low.1.div_euclid(1000) * 1000);
    let origin = (origin_mm.0 as f64 / 1000.0, origin_mm.1 as f64 / 1000.0);
    let local = |(x, y): (i64, i64)| Coord {
        x: (x - origin_mm.0) as f64 / 1000.0,
        y: (y - origin_mm.1) as f64 / 1000.0,
    };
    // One site per location, with the school of most of its blocks and its number of blocks.
    let mut sites: Vec<(Coord<f64>, usize, usize)> = Vec::new();
    for run in located.chunk_by(|a, b| a.0 == b.0) {
        // Sorted by school within a location: count runs of one school.
        let mut counts: Vec<(usize, usize)> = Vec::new();
        for &(_, s) in run {
            match counts.last_mut() {
                Some((t, c)) if *t == s => *c += 1,
                _ => counts.push((s, 1)),
            }
        }
        let (s, c) = counts
            .iter()
            .copied()
            .max_by_key(|&(s, c)| (c, std::cmp::Reverse(s)))
            .expect("a location has blocks");
        out.shared_location += run.len() - c;
        sites.push((local(run[0].0), s, run.len()));
    }
    let mm = |c: Coord<f64>| Coord { x: round_mm(c.x), y: round_mm(c.y) };
    let region: MultiPolygon<f64> = match area {
        Some(a) => a.map_coords(|c: Coord<f64>| {
            let (e, n) = laea::forward(c.y, c.x);
            mm(Coord { x: e - origin.0, y: n - origin.1 })
        }),
        None => hull_with_margin(sites.iter().map(|s| s.0), HULL_MARGIN_M).map_coords(mm),
    };
    let Some(frame) = region.bounding_rect() else {
        return Err(Error::input("area", None, None, "the area has no polygon"));
    };
    if area.is_some() {
        out.outside_area =
            sites.iter().filter(|s| !region.contains(&Point::from(s.0))).map(|s| s.2).sum();
    }
    let cells = voronoi_cells(&sites.iter().map(|s| s.0).collect::<Vec<_>>(), &frame)?;
    let mut per_school: Vec<Vec<Polygon<f64>>> = vec![Vec::new(); n_schools];
    let mut corners = Corners::default();
    for (ring, site) in cells.into_iter().zip(&sites) {
        if ring.len() < 3 {
            continue;
        }
        corners.add(&ring);
        let mut ring = ring;
        ring.push(ring[0]);
        let cell = Polygon::new(LineString::new(ring), vec![]);
        if cell.unsigned_area() > 0.0 {
            per_school[site.1].push(cell);
        }
    }
    for (s, cells) in per_school.iter().enumerate() {
        if cells.is_empty() {
            continue;
        }
        // Every corner of the cells is on the millimetre grid; the union gives them back to
        // within the overlay's precision, and rounding restores them exactly. The cut to the
        // area then works on the same coordinates for both sides of an edge two districts share.
        let union = geo::algorithm::bool_ops::unary_union(cells.iter()).map_coords(mm);
        let cut = union.intersection(&region).map_coords(mm);
        let pieces: Vec<Polygon<f64>> = simple_rings(&cut)
            .iter()
            .filter_map(|p| without_slivers(p, 0.5))
            .map(|p| corners.densify(&p))
            .collect();
        out.polygons[s] = to_wgs84(&MultiPolygon::new(pieces), origin);
    }
    Ok(out)
}

/// The Voronoi cell of every site (local meters), cut to `frame`: a convex ring, counter-
/// clockwise, first point not repeated; empty for a cell that misses the frame. Every point of
/// the frame lies in the cell of a nearest site.
fn voronoi_cells(sites: &[Coord<f64>], frame: &Rect<f64>) -> Result<Vec<Vec<Coord<f64>>>> {
    use spade::handles::FixedVertexHandle;
    use spade::{DelaunayTriangulation, Point2, Triangulation};
    // Four far points close the cells of the outermost sites, 10 x `span` from the centre on
    // both axes, `span` the longer side of the box around the frame and the sites: a point of
    // that box is within `span * sqrt 2` of a site and farther than `9.5 * span * sqrt 2` from
    // every far point, so no far point takes any of it.
    let (lo, hi) = sites.iter().fold((frame.min(), frame.max()), |(lo, hi), c| {
        (Coord { x: lo.x.min(c.x), y: lo.y.min(c.y) }, Coord { x: hi.x.max(c.x), y: hi.y.max(c.y) })
    });
    let centre = Coord { x: (lo.x + hi.x) / 2.0, y: (lo.y + hi.y) / 2.0 };
    let span = (hi.x - lo.x).max(hi.y - lo.y).max(1.0);
    let mut points: Vec<Point2<f64>> = sites.iter().map(|c| Point2::new(c.x, c.y)).collect();
    for (dx, dy) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
        points.push(Point2::new(centre.x + dx * 10.0 * span, centre.y + dy * 10.0 * span));
    }
    let broken = |why: String| Error::internal(format!("the Voronoi cells of the blocks: {why}"));
    // The stable bulk load keeps the points' order: vertex i is site i.
    let tri: DelaunayTriangulation<Point2<f64>> =
        DelaunayTriangulation::bulk_load_stable(points).map_err(|e| broken(e.to_string()))?;
    if tri.num_vertices() != sites.len() + 4 {
        return Err(broken("two sites coincide".into()));
    }
    // A Voronoi corner is the circumcentre of a Delaunay triangle: computed once per triangle,
    // to the millimetre, so the cells around it have the very same corner.
    let mut corner: Vec<Option<Coord<f64>>> = vec![None; tri.num_all_faces()];
    for f in tri.inner_faces() {
        let c = f.circumcenter();
        corner[f.fix().index()] = Some(Coord { x: round_mm(c.x), y: round_mm(c.y) });
    }
    let mut cells = Vec::with_capacity(sites.len());
    for (i, site) in sites.iter().enumerate() {
        let v = tri.vertex(FixedVertexHandle::from_index(i));
        if v.position() != Point2::new(site.x, site.y) {
            return Err(broken("the triangulation reordered the sites".into()));
        }
        // Outgoing edges run counter-clockwise; the face left of each is the next triangle.
        let mut ring: Vec<Coord<f64>> = Vec::new();
        for e in v.out_edges() {
            if let Some(c) = corner[e.face().fix().index()] {
                if ring.last() != Some(&c) {
                    ring.push(c);
                }
            }
        }
        while ring.len() > 1 && ring.first() == ring.last() {
            ring.pop();
        }
        cells.push(clip_to_frame(&ring, frame));
    }
    Ok(cells)
}

/// A convex ring (first point not repeated) cut to a rectangle (Sutherland–Hodgman). Where an
/// edge crosses a side, the point is computed from the edge's ends in a fixed order and snapped
/// to the millimetre, so the two cells sharing the edge get the same point.
fn clip_to_frame(ring: &[Coord<f64>], frame: &Rect<f64>) -> Vec<Coord<f64>> {
    let (lo, hi) = (frame.min(), frame.max());
    let mut pts = ring.to_vec();
    // (cut along x, the side's value, keep the points at or above it)
    for (on_x, side, above) in
        [(true, lo.x, true), (true, hi.x, false), (false, lo.y, true), (false, hi.y, false)]
    {
        if pts.is_empty() {
            break;
        }
        let along = |c: &Coord<f64>| if on_x { c.x } else { c.y };
        let inside = |c: &Coord<f64>| if above { along(c) >= side } else { along(c) <= side };
        let crossing = |a: Coord<f64>, b: Coord<f64>| {
            let (p, q) = if (a.x, a.y) < (b.x, b.y) { (a, b) } else { (b, a) };
            let t = (side - along(&p)) / (along(&q) - along(&p));
            if on_x {
                Coord { x: side, y: round_mm(p.y + t * (q.y - p.y)) }
            } else {
                Coord { x: round_mm(p.x + t * (q.x - p.x)), y: side }
            }
        };
        let mut next = Vec::with_capacity(pts.len() + 2);
        for k in 0..pts.len() {
            let (a, b) = (pts[k], pts[(k + 1) % pts.len()]);
            match (inside(&a), inside(&b)) {
                (true, true) => next.push(b),
                (true, false) => next.push(crossing(a, b)),
                (false, true) => {
                    next.push(crossing(a, b));
                    next.push(b);
                }
                (false, false) => {}
            }
        }
        next.dedup();
        while next.len() > 1 && next.first() == next.last() {
            next.pop();
        }
        pts = next;
    }
    pts
}

/// The convex hull of `points` widened by `margin`: the hull of 32-sided polygons drawn around
/// its corners, just outside the circle (a side touches it), so that every point within `margin`
/// of a point is in and none beyond `margin / cos(π / 32)`, 0.5% more.
fn hull_with_margin(points: impl Iterator<Item = Coord<f64>>, margin: f64) -> MultiPolygon<f64> {
    const SIDES: usize = 32;
    let r = margin / (std::f64::consts::PI / SIDES as f64).cos();
    let hull = MultiPoint::new(points.map(Point::from).collect()).convex_hull();
    let around: Vec<Point<f64>> = hull
        .exterior()
        .0
        .iter()
        .flat_map(|c| {
            (0..SIDES).map(move |k| {
                // Turned by half a side: the sides face north, east, south and west.
                let t = std::f64::consts::TAU * (k as f64 + 0.5) / SIDES as f64;
                Point::new(c.x + r * t.cos(), c.y + r * t.sin())
            })
        })
        .collect();
    MultiPolygon::new(vec![MultiPoint::new(around).convex_hull()])
}

/// The corners of all cells, found by 100 m squares: the union of a school's cells drops corners
/// that lie on a straight edge, and putting back every corner on an edge gives both districts
/// along it the same vertices. The rule depends on the edge alone, so both sides agree.
#[derive(Default)]
struct Corners {
    by_square: HashMap<(i64, i64), Vec<Coord<f64>>>,
    seen: HashSet<(i64, i64)>,
}

impl Corners {
    const SQUARE_M: f64 = 100.0;
    /// A corner this close to an edge (meters) lies on it: a quarter of the millimetre grid.
    const ON_EDGE_M: f64 = 0.25e-3;

    fn square(c: Coord<f64>) -> (i64, i64) {
        ((c.x / Self::SQUARE_M).floor() as i64, (c.y / Self::SQUARE_M).floor() as i64)
    }

    fn add(&mut self, ring: &[Coord<f64>]) {
        for &c in ring {
            let key = ((c.x * 1000.0).round() as i64, (c.y * 1000.0).round() as i64);
            if self.seen.insert(key) {
                self.by_square.entry(Self::square(c)).or_default().push(c);
            }
        }
    }

    /// The corners strictly between `a` and `b` on the segment, in order from `a`.
    fn on_edge(&self, a: Coord<f64>, b: Coord<f64>) -> Vec<Coord<f64>> {
        let (p, q) = if (a.x, a.y) < (b.x, b.y) { (a, b) } else { (b, a) };
        let d = Coord { x: q.x - p.x, y: q.y - p.y };
        let len2 = d.x * d.x + d.y * d.y;
        if len2 == 0.0 {
            return Vec::new();
        }
        let len = len2.sqrt();
        // The squares along the segment, and their neighbours.
        let steps = ((len / (Self::SQUARE_M / 2.0)).ceil() as usize).max(1);
        let mut squares = Vec::with_capacity((steps + 1) * 9);
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            let (sx, sy) = Self::square(Coord { x: p.x + t * d.x, y: p.y + t * d.y });
            for dx in -1..=1 {
                for dy in -1..=1 {
                    squares.push((sx + dx, sy + dy));
                }
            }
        }
        squares.sort_unstable();
        squares.dedup();
        let mut found: Vec<(f64, Coord<f64>)> = Vec::new();
        for sq in squares {
            for &v in self.by_square.get(&sq).into_iter().flatten() {
                if v == p || v == q {
                    continue;
                }
                let (vx, vy) = (v.x - p.x, v.y - p.y);
                let t = (vx * d.x + vy * d.y) / len2;
                if t > 0.0 && t < 1.0 && (vx * d.y - vy * d.x).abs() / len < Self::ON_EDGE_M {
                    found.push((t, v));
                }
            }
        }
        found.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut on: Vec<Coord<f64>> = found.into_iter().map(|(_, v)| v).collect();
        if p != a {
            on.reverse();
        }
        on
    }

    /// The polygon with every corner lying on one of its edges put in.
    fn densify(&self, p: &Polygon<f64>) -> Polygon<f64> {
        let ring = |r: &LineString<f64>| {
            let mut out = Vec::with_capacity(r.0.len());
            for w in r.0.windows(2) {
                out.push(w[0]);
                out.extend(self.on_edge(w[0], w[1]));
            }
            out.extend(r.0.last());
            LineString::new(out)
        };
        Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Validation, Winding};

    const E0: f64 = 4_430_000.0;
    const N0: f64 = 3_220_000.0;

    /// A block at (east, north) meters from (E0, N0).
    fn block(id: &str, de: f64, dn: f64) -> Block {
        let (lat, lon) = laea::inverse(E0 + de, N0 + dn);
        Block { id: id.into(), lat, lon, residents: 1, street: None, house_number: None }
    }

    /// A polygon in WGS84 from corners in meters from (E0, N0).
    fn polygon(corners: &[(f64, f64)]) -> Polygon<f64> {
        let mut ring: Vec<(f64, f64)> = corners
            .iter()
            .map(|&(de, dn)| {
                let (lat, lon) = laea::inverse(E0 + de, N0 + dn);
                (lon, lat)
            })
            .collect();
        ring.push(ring[0]);
        Polygon::new(LineString::from(ring), vec![])
    }

    fn point(b: &Block) -> Point<f64> {
        Point::new(b.lon, b.lat)
    }

    /// Valid, RFC 7946 orientation, no overlaps, together the area (square degrees, relative
    /// `tol`), and every vertex one district has on another's boundary a vertex of both.
    fn assert_tiles(polys: &[MultiPolygon<f64>], area: &MultiPolygon<f64>, tol: f64) {
        for mp in polys {
            assert!(mp.is_valid(), "{:?}", mp.validation_errors());
            for p in &mp.0 {
                assert!(p.exterior().is_ccw(), "exterior rings run counter-clockwise");
                assert!(p.interiors().iter().all(|r| r.is_cw()), "holes run clockwise");
            }
        }
        let sum: f64 = polys.iter().map(|p| p.unsigned_area()).sum();
        let rel = (sum - area.unsigned_area()).abs() / area.unsigned_area();
        assert!(rel < tol, "the districts add up to the area: {rel}");
        let union = geo::algorithm::bool_ops::unary_union(polys.iter().flat_map(|p| p.0.iter()));
        assert!(area.difference(&union).unsigned_area() < tol * area.unsigned_area(), "a gap");
        for (i, a) in polys.iter().enumerate() {
            for b in &polys[i + 1..] {
                let overlap = a.intersection(b).unsigned_area();
                assert!(overlap < 1e-14, "districts overlap by {overlap} square degrees");
                assert_shared_vertices(a, b);
                assert_shared_vertices(b, a);
            }
        }
    }

    /// Every vertex of `a` within a millimetre of `b`'s boundary is a vertex of `b`.
    fn assert_shared_vertices(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) {
        let rings = |mp: &MultiPolygon<f64>| -> Vec<LineString<f64>> {
            mp.0.iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .cloned()
                .collect()
        };
        let theirs: HashSet<(i64, i64)> = rings(b)
            .iter()
            .flat_map(|r| r.0.iter())
            .map(|c| ((c.x * 1e7).round() as i64, (c.y * 1e7).round() as i64))
            .collect();
        let near = |v: Coord<f64>, p: Coord<f64>, q: Coord<f64>| {
            let d = Coord { x: q.x - p.x, y: q.y - p.y };
            let t =
                (((v.x - p.x) * d.x + (v.y - p.y) * d.y) / (d.x * d.x + d.y * d.y)).clamp(0.0, 1.0);
            let (x, y) = (p.x + t * d.x - v.x, p.y + t * d.y - v.y);
            (x * x + y * y).sqrt() < 1e-8
        };
        for r in rings(a) {
            for &v in &r.0 {
                let on = rings(b).iter().any(|s| s.0.windows(2).any(|w| near(v, w[0], w[1])));
                if on {
                    let key = ((v.x * 1e7).round() as i64, (v.y * 1e7).round() as i64);
                    assert!(
                        theirs.contains(&key),
                        "{v:?} is on the shared edge but not a vertex of both"
                    );
                }
            }
        }
    }

    /// 30 points in a 1 km square, three schools, one point of school 2 inside school 0's part (B28).
    fn thirty() -> (Vec<Block>, Vec<Option<usize>>) {
        let mut blocks = Vec::new();
        let mut school = Vec::new();
        for i in 0..30 {
            // Scattered by the golden ratio, away from the square's edge.
            let (u, v) = ((i as f64 * 0.618_034) % 1.0, (i as f64 * 0.754_878 + 0.1) % 1.0);
            let (de, dn) = (50.0 + 900.0 * u, 50.0 + 900.0 * v);
            blocks.push(block(&format!("B{i}"), de, dn));
            school.push(Some(if i == 28 {
                2
            } else if de < 450.0 {
                0
            } else if dn < 500.0 {
                1
            } else {
                2
            }));
        }
        (blocks, school)
    }

    #[test]
    fn thirty_addresses_tile_a_square_with_valid_districts() {
        let (blocks, school) = thirty();
        let square = MultiPolygon::new(vec![polygon(&[
            (0.0, 0.0),
            (1000.0, 0.0),
            (1000.0, 1000.0),
            (0.0, 1000.0),
        ])]);
        let d = point_polygons(&blocks, &school, 4, Some(&square)).unwrap();
        assert_eq!((d.shared_location, d.outside_area), (0, 0));
        assert!(d.polygons[3].0.is_empty(), "a school without blocks has no district");
        assert_tiles(&d.polygons[..3], &square, 1e-4);
        for (b, s) in blocks.iter().zip(&school) {
            for (t, mp) in d.polygons.iter().enumerate() {
                assert_eq!(mp.contains(&point(b)), Some(t) == *s, "{} in district {t}", b.id);
            }
        }
        assert!(d.polygons[2].0.len() >= 2, "school 2's lone block is a piece of its own");
    }

    #[test]
    fn a_concave_area_with_a_hole_is_tiled_and_cuts_the_cells() {
        let (blocks, school) = thirty();
        // An L-shaped area around the points, with a pond in the middle that holds no block.
        let mut l = polygon(&[
            (-20.0, -30.0),
            (1030.0, -10.0),
            (1010.0, 520.0),
            (700.0, 540.0),
            (690.0, 1020.0),
            (-10.0, 1000.0),
        ]);
        let pond = polygon(&[(380.0, 380.0), (420.0, 380.0), (420.0, 420.0), (380.0, 420.0)]);
        l.interiors_push(pond.exterior().clone());
        let inside: Vec<bool> =
            blocks.iter().map(|b| MultiPolygon::new(vec![l.clone()]).contains(&point(b))).collect();
        let area = MultiPolygon::new(vec![l]);
        let d = point_polygons(&blocks, &school, 3, Some(&area)).unwrap();
        assert_eq!(d.outside_area, inside.iter().filter(|&&i| !i).count());
        assert!(d.outside_area > 0, "the L leaves some blocks outside");
        assert_tiles(&d.polygons, &area, 1e-4);
        for ((b, s), inside) in blocks.iter().zip(&school).zip(inside) {
            if inside {
                assert!(d.polygons[s.unwrap()].contains(&point(b)), "{}", b.id);
            }
        }
    }

    #[test]
    fn blocks_at_one_location_are_one_site_of_the_majority_school() {
        // Staircases 5, 5a, 5b at one point (schools 1, 0, 1) and 7, 7a (0 and 1: a tie, so the
        // first school); a block without a school draws nothing.
        let mut blocks = vec![
            block("5", 100.0, 100.0),
            block("5a", 100.0, 100.0),
            block("5b", 100.0, 100.0),
            block("7", 300.0, 100.0),
            block("7a", 300.0, 100.0),
            block("9", 200.0, 300.0),
            block("x", 500.0, 500.0),
        ];
        blocks[1].street = Some("Weg".into());
        let school = [Some(1), Some(0), Some(1), Some(0), Some(1), Some(1), None];
        let d = point_polygons(&blocks, &school, 2, None).unwrap();
        assert_eq!(d.shared_location, 2);
        assert!(d.polygons[1].contains(&point(&blocks[0])));
        assert!(d.polygons[0].contains(&point(&blocks[3])));
        assert!(d.polygons[1].contains(&point(&blocks[5])));
        for mp in &d.polygons {
            assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        }
    }

    #[test]
    fn without_an_area_the_hull_of_the_blocks_widened_by_the_margin_is_tiled() {
        // A 400 m square of blocks and its centre: the hull widened by 300 m has the area of the
        // square, four 400 x 300 strips and a circle (here a 32-gon just outside it).
        let blocks = vec![
            block("a", 0.0, 0.0),
            block("b", 400.0, 0.0),
            block("c", 400.0, 400.0),
            block("d", 0.0, 400.0),
            block("e", 200.0, 200.0),
        ];
        let school = [Some(0), Some(0), Some(1), Some(1), Some(0)];
        let d = point_polygons(&blocks, &school, 2, None).unwrap();
        let meters = |mp: &MultiPolygon<f64>| {
            mp.map_coords(|c: Coord<f64>| {
                let (e, n) = laea::forward(c.y, c.x);
                Coord { x: e - E0, y: n - N0 }
            })
            .unsigned_area()
        };
        let sum: f64 = d.polygons.iter().map(meters).sum();
        let n = 32.0_f64;
        let want = 400.0 * 400.0
            + 4.0 * 400.0 * 300.0
            + n * 300.0 * 300.0 * (std::f64::consts::PI / n).tan();
        assert!((sum / want - 1.0).abs() < 1e-4, "{sum} vs {want}");
        let union = d.polygons[0].union(&d.polygons[1]);
        assert_tiles(&d.polygons, &union, 1e-6);
        // 299 m beyond a corner block, diagonally: inside; 320 m: outside.
        let out = |m: f64| block("p", -m / 2f64.sqrt(), -m / 2f64.sqrt());
        assert!(d.polygons[0].contains(&point(&out(299.0))));
        assert!(!union.contains(&point(&out(320.0))));
        // One block alone: its district is the 32-gon around it.
        let one = point_polygons(&blocks[..1], &[Some(0)], 1, None).unwrap();
        let ratio =
            meters(&one.polygons[0]) / (n * 300.0 * 300.0 * (std::f64::consts::PI / n).tan());
        assert!((ratio - 1.0).abs() < 1e-4, "{ratio}");
        // No block with a school: no districts.
        let none = point_polygons(&blocks[..1], &[None], 1, None).unwrap();
        assert!(none.polygons[0].0.is_empty());
    }

    #[test]
    fn points_on_a_lattice_share_every_corner_of_their_borders() {
        // A 6 x 6 lattice (cocircular quadruples everywhere: Voronoi corners where four cells
        // meet). School 0 the left half, 1 and 2 the right half's lower and upper part: the
        // straight border between the halves has a corner only 1 and 2 need (the union of 0's
        // cells drops it). School 3 two cells touching at a corner only: two pieces.
        let mut blocks = Vec::new();
        let mut school = Vec::new();
        for r in 0..6 {
            for c in 0..6 {
                blocks.push(block(
                    &format!("{r}-{c}"),
                    50.0 + 100.0 * c as f64,
                    50.0 + 100.0 * r as f64,
                ));
                school.push(Some(match (r, c) {
                    (0, 0) | (1, 1) => 3,
                    (_, 0..=2) => 0,
                    (0..=2, _) => 1,
                    _ => 2,
                }));
            }
        }
        let area = MultiPolygon::new(vec![polygon(&[
            (0.0, 0.0),
            (600.0, 0.0),
            (600.0, 600.0),
            (0.0, 600.0),
        ])]);
        let d = point_polygons(&blocks, &school, 4, Some(&area)).unwrap();
        assert_tiles(&d.polygons, &area, 1e-4);
        for (b, s) in blocks.iter().zip(&school) {
            assert!(d.polygons[s.unwrap()].contains(&point(b)), "{}", b.id);
        }
        assert_eq!(d.polygons[3].0.len(), 2, "cells touching at a corner are two pieces");
        let (lat, lon) = laea::inverse(E0 + 300.0, N0 + 300.0);
        let corner = Coord { x: (lon * 1e7).round() / 1e7, y: (lat * 1e7).round() / 1e7 };
        for s in [0, 1, 2] {
            let has = d.polygons[s].0.iter().any(|p| p.exterior().0.contains(&corner));
            assert!(has, "school {s} has the corner where 1 and 2 meet on 0's border");
        }
    }
}
