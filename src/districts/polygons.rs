//! District polygons: the union of each school's blocks. Blocks are cells of the European
//! statistical grid (EPSG:3035 squares named `CRS3035RES{size}mN{y}E{x}`): the union is taken in
//! the grid's own meters, where the squares are exact, with geo's boolean operations, and the
//! result is carried to WGS84 vertex by vertex (shared edges map to the same coordinates, so
//! districts that do not overlap on the grid do not overlap on the map).

use super::blocks::grid_cell;
use super::DistrictRow;
use crate::error::{Error, Result};
use crate::projection as laea;
use geo::{Area, Contains, Coord, LineString, MapCoords, MultiPolygon, Polygon};

/// One (multi)polygon per school, in WGS84 (x = longitude, y = latitude, 7 decimals); empty for
/// a school without blocks. Fails if a block id is not a grid cell.
pub fn district_polygons(rows: &[DistrictRow], n_schools: usize) -> Result<Vec<MultiPolygon<f64>>> {
    let mut cells: Vec<Vec<(i64, i64, i64)>> = vec![Vec::new(); n_schools];
    let mut not_cells = Vec::new();
    for r in rows {
        let Some(s) = r.school else { continue };
        match grid_cell(&r.block_id) {
            Some(c) => cells[s].push((c.east, c.north, c.size as i64)),
            None => not_cells.push(r.block_id.as_str()),
        }
    }
    if !not_cells.is_empty() {
        return Err(Error::input("blocks", None, Some("block_id"), format!(
            "district polygons need blocks that are grid cells (ids like CRS3035RES100mN3216200E4433100); {} are not, e.g. {}",
            not_cells.len(),
            not_cells.iter().take(3).copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let step = cells.iter().flatten().map(|c| c.2).min().unwrap_or(100) as f64;
    // A local origin keeps the coordinates small for the overlay.
    let origin = cells
        .iter()
        .flatten()
        .fold((i64::MAX, i64::MAX), |(e, n), &(ce, cn, _)| (e.min(ce), n.min(cn)));
    Ok(cells
        .iter()
        .map(|cs| {
            if cs.is_empty() {
                return MultiPolygon::new(vec![]);
            }
            let squares: Vec<Polygon<f64>> = cs
                .iter()
                .map(|&(e, n, size)| {
                    let (x, y, s) = ((e - origin.0) as f64, (n - origin.1) as f64, size as f64);
                    Polygon::new(
                        LineString::from(vec![
                            (x, y),
                            (x + s, y),
                            (x + s, y + s),
                            (x, y + s),
                            (x, y),
                        ]),
                        vec![],
                    )
                })
                .collect();
            let union = geo::algorithm::bool_ops::unary_union(squares.iter());
            // The union drops corners along straight edges; put every grid corner back, so that
            // two neighbours' shared edges have the same vertices and stay shared on the map
            // (a straight grid line is not straight in longitude and latitude).
            let union =
                MultiPolygon::new(simple_rings(&union).iter().map(|p| densify(p, step)).collect());
            union.map_coords(|c: Coord<f64>| {
                let (lat, lon) =
                    laea::inverse(c.x.round() + origin.0 as f64, c.y.round() + origin.1 as f64);
                Coord { x: round7(lon), y: round7(lat) }
            })
        })
        .collect())
}

/// Cells that touch only at a corner make rings that pass twice through a point, which OGC
/// validity forbids: split such rings into simple loops; a loop turning the other way than its
/// ring is a hole (of an exterior) or an island (in a hole). Coordinates are exact here (grid
/// meters), so equal points compare equal.
fn simple_rings(mp: &MultiPolygon<f64>) -> Vec<Polygon<f64>> {
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

/// Every point at a multiple of `step` along each edge of a polygon on the grid.
fn densify(p: &Polygon<f64>, step: f64) -> Polygon<f64> {
    let ring = |r: &LineString<f64>| -> LineString<f64> {
        let mut out: Vec<Coord<f64>> = Vec::with_capacity(r.0.len());
        for w in r.0.windows(2) {
            let (a, b) = (w[0], w[1]);
            out.push(a);
            let n = ((b.x - a.x).abs().max((b.y - a.y).abs()) / step).round() as usize;
            for k in 1..n {
                let t = k as f64 / n as f64;
                out.push(Coord { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t });
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
        let polys = district_polygons(&rows, 3).unwrap();
        assert!(polys[2].0.is_empty());
        for mp in &polys[..2] {
            assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        }
        assert_eq!(polys[1].0.len(), 1);
        assert_eq!(polys[1].0[0].interiors().len(), 1, "the hole is kept");
        let overlap = polys[0].intersection(&polys[1]);
        assert!(
            overlap.unsigned_area() < 1e-14,
            "districts overlap by {}",
            overlap.unsigned_area()
        );
        // Areas in square degrees are in proportion to the cells (4 : 8) up to the projection.
        let ratio = polys[1].unsigned_area() / polys[0].unsigned_area();
        assert!((ratio - 2.0).abs() < 0.01, "{ratio}");
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
        let polys = district_polygons(&rows, 2).unwrap();
        for mp in &polys {
            assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        }
        let ratio = polys[1].unsigned_area() / polys[0].unsigned_area();
        assert!((ratio - 9.0 / 5.0).abs() < 0.01, "{ratio}");
    }

    #[test]
    fn blocks_that_are_not_grid_cells_are_refused() {
        let err = district_polygons(&[row("Abendstraße 11", 0)], 1).unwrap_err();
        assert!(err.to_string().contains("grid cells"), "{err}");
    }
}
