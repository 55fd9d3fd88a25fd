//! Districts of address blocks (points with street and house number, not grid cells):
//! `catchment solve` draws `districts.geojson` as a Voronoi tessellation of the addresses
//! clipped to the area, and the map agrees with the street list block for block.

mod common;
use catchment::districts::files::DistrictRecord;
use catchment::projection;
use common::{bin, write};
use geo::{Area, BooleanOps, Contains, MultiPolygon, Point, Validation, Winding};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const E0: f64 = 4_430_000.0;
const N0: f64 = 3_220_000.0;

/// (lat, lon) of a point (east, north) meters from (E0, N0) in EPSG:3035.
fn at(de: f64, dn: f64) -> (f64, f64) {
    projection::inverse(E0 + de, N0 + dn)
}

/// A small town: four streets of 16 houses (odd numbers on the north side, even on the south),
/// Amselweg 5a in the same building as Amselweg 5, three schools, pupils in two of every three
/// houses (none in Amselweg 5 and 5a, so the two follow the same prices), walks 1.3 x the
/// straight line. The area is an 800 m square. Returns the case's directory and the blocks'
/// locations by id.
fn town(dir: &Path) -> HashMap<String, (f64, f64)> {
    let schools = [
        ("A", "Grundschule Am Anger", 150.0, 150.0, 8),
        ("B", "Grundschule Birkenhain", 650.0, 200.0, 14),
        ("C", "Grundschule Clara Zetkin", 400.0, 650.0, 20),
    ];
    let mut s_csv = String::from("id,name,lat,lon,capacity\n");
    for (id, name, x, y, cap) in schools {
        let (lat, lon) = at(x, y);
        s_csv.push_str(&format!("{id},{name},{lat:.7},{lon:.7},{cap}\n"));
    }
    let mut houses: Vec<(String, &str, String, f64, f64)> = Vec::new();
    for (j, street) in ["Amselweg", "Birkenweg", "Drosselgasse", "Eichenstraße"].iter().enumerate()
    {
        let y = 100.0 + 200.0 * j as f64;
        for k in 0..8 {
            let x = 75.0 + 90.0 * k as f64;
            houses.push((
                format!("{}", 2 * k + 1),
                street,
                format!("{j}-{}", 2 * k + 1),
                x,
                y + 12.0,
            ));
            houses.push((
                format!("{}", 2 * k + 2),
                street,
                format!("{j}-{}", 2 * k + 2),
                x + 45.0,
                y - 12.0,
            ));
        }
    }
    houses.push(("5a".into(), "Amselweg", "0-5a".into(), 75.0 + 90.0 * 2.0, 112.0));
    let (mut b_csv, mut p_csv, mut m_csv) = (
        String::from("block_id,lat,lon,residents,street,house_number\n"),
        String::from("id,block\n"),
        String::from("block_id,school_id,meters\n"),
    );
    let mut located = HashMap::new();
    for (i, (number, street, id, x, y)) in houses.iter().enumerate() {
        let (lat, lon) = at(*x, *y);
        // Written to 7 decimals: the location the map is drawn from.
        let (lat, lon) = ((lat * 1e7).round() / 1e7, (lon * 1e7).round() / 1e7);
        located.insert(id.clone(), (lat, lon));
        b_csv.push_str(&format!("{id},{lat:.7},{lon:.7},8,{street},{number}\n"));
        for (sid, _, sx, sy, _) in schools {
            let walk = 1.3 * ((x - sx).powi(2) + (y - sy).powi(2)).sqrt() + 20.0;
            m_csv.push_str(&format!("{id},{sid},{}\n", walk.round()));
        }
        if i % 3 != 0 && !id.starts_with("0-5") {
            p_csv.push_str(&format!("p{i},{id}\n"));
        }
    }
    write(dir, "schools.csv", &s_csv);
    write(dir, "pupils.csv", &p_csv);
    write(dir, "matrix.csv", &m_csv);
    write(dir, "blocks.csv", &b_csv);
    let corner = |x: f64, y: f64| {
        let (lat, lon) = at(x, y);
        format!("[{lon:.7},{lat:.7}]")
    };
    write(
        dir,
        "area.geojson",
        &format!(
            r#"{{"type":"Polygon","coordinates":[[{},{},{},{},{}]]}}"#,
            corner(0.0, 0.0),
            corner(800.0, 0.0),
            corner(800.0, 800.0),
            corner(0.0, 800.0),
            corner(0.0, 0.0)
        ),
    );
    located
}

fn solve(dir: &Path, out: &Path, area: bool) -> String {
    let mut cmd = bin();
    cmd.args(["solve", "--schools"])
        .arg(dir.join("schools.csv"))
        .arg("--pupils")
        .arg(dir.join("pupils.csv"))
        .arg("--matrix")
        .arg(dir.join("matrix.csv"))
        .arg("--blocks")
        .arg(dir.join("blocks.csv"));
    if area {
        cmd.arg("--area").arg(dir.join("area.geojson"));
    }
    let o = cmd.arg("--out").arg(out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The districts of `districts.geojson` by school id, each checked valid and right-handed.
fn districts(plan: &Path) -> Vec<(String, MultiPolygon<f64>, u64)> {
    let text = std::fs::read_to_string(plan.join("districts.geojson")).unwrap();
    let fc: geojson::FeatureCollection = text.parse().unwrap();
    fc.features
        .iter()
        .map(|f| {
            let props = f.properties.as_ref().unwrap();
            let id = props["school_id"].as_str().unwrap().to_string();
            let mp = MultiPolygon::<f64>::try_from(&f.geometry.as_ref().unwrap().value).unwrap();
            assert!(mp.is_valid(), "{id}: {:?}", mp.validation_errors());
            for p in &mp.0 {
                assert!(
                    p.exterior().is_ccw(),
                    "{id}: RFC 7946 exterior rings run counter-clockwise"
                );
                assert!(p.interiors().iter().all(|r| r.is_cw()), "{id}: holes run clockwise");
            }
            (id, mp, props["blocks"].as_u64().unwrap())
        })
        .collect()
}

fn records(plan: &Path) -> Vec<DistrictRecord> {
    csv::Reader::from_path(plan.join("districts.csv"))
        .unwrap()
        .deserialize()
        .map(Result::unwrap)
        .collect()
}

/// No gap, no overlap: the districts add up to `area` and their union is it.
fn assert_tiles(polys: &[(String, MultiPolygon<f64>, u64)], area: &MultiPolygon<f64>) {
    let sum: f64 = polys.iter().map(|(_, p, _)| p.unsigned_area()).sum();
    let rel = (sum - area.unsigned_area()).abs() / area.unsigned_area();
    assert!(rel < 1e-3, "the districts add up to the area within 0.1%: {rel}");
    let union =
        geo::algorithm::bool_ops::unary_union(polys.iter().flat_map(|(_, p, _)| p.0.iter()));
    assert!(area.difference(&union).unsigned_area() < 1e-4 * area.unsigned_area(), "a gap");
    assert!(
        union.difference(area).unsigned_area() < 1e-4 * area.unsigned_area(),
        "beyond the area"
    );
    for (i, (a, pa, _)) in polys.iter().enumerate() {
        for (b, pb, _) in &polys[i + 1..] {
            let overlap = pa.intersection(pb).unsigned_area();
            assert!(overlap < 1e-12, "{a} and {b} overlap by {overlap} square degrees");
        }
    }
}

/// Every block the street list gives to school S lies inside S's district and no other; every
/// block of the city is listed once.
fn assert_streets_agree_with_the_map(
    plan: &Path,
    polys: &[(String, MultiPolygon<f64>, u64)],
    located: &HashMap<String, (f64, f64)>,
) {
    let mut rdr = csv::Reader::from_path(plan.join("streets.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (c_street, c_numbers, c_school, c_blocks) =
        (col("street"), col("house_numbers"), col("school_id"), col("blocks"));
    let mut listed = 0;
    for r in rdr.records() {
        let r = r.unwrap();
        let (street, numbers, school, blocks) =
            (&r[c_street], &r[c_numbers], &r[c_school], &r[c_blocks]);
        assert!(!numbers.is_empty(), "{street}: address blocks give house numbers");
        for b in blocks.split(' ') {
            let (lat, lon) = located[b];
            let p = Point::new(lon, lat);
            for (id, mp, _) in polys {
                assert_eq!(
                    mp.contains(&p),
                    id == school,
                    "{street} {numbers}: block {b} of school {school}, district {id}"
                );
            }
            listed += 1;
        }
    }
    assert_eq!(listed, located.len(), "every block is in the street list once");
}

fn case() -> (tempfile::TempDir, HashMap<String, (f64, f64)>) {
    let dir = tempfile::tempdir().unwrap();
    let located = town(dir.path());
    (dir, located)
}

#[test]
fn address_blocks_get_districts_that_tile_the_area_and_agree_with_the_street_list() {
    let (dir, located) = case();
    let plan: PathBuf = dir.path().join("plan");
    let stderr = solve(dir.path(), &plan, true);
    assert!(!stderr.contains("no districts.geojson"), "{stderr}");
    assert!(!stderr.contains("share their location"), "5 and 5a go to one school: {stderr}");
    let polys = districts(&plan);
    let ids: Vec<&str> = polys.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, ["A", "B", "C"], "one feature per school");
    let rows = records(&plan);
    for (id, _, blocks) in &polys {
        let n = rows.iter().filter(|r| &r.school_id == id).count() as u64;
        assert_eq!(*blocks, n, "{id}: blocks property");
        assert!(n > 0);
    }
    let area = catchment::districts::area::read_area(&dir.path().join("area.geojson")).unwrap();
    assert_tiles(&polys, &area);
    assert_streets_agree_with_the_map(&plan, &polys, &located);
    let five: Vec<&str> = rows
        .iter()
        .filter(|r| r.block_id.starts_with("0-5"))
        .map(|r| r.school_id.as_str())
        .collect();
    assert_eq!(five.len(), 2);
    assert_eq!(five[0], five[1], "one building, one school");

    // The report draws the map: one non-empty district shape per school, no note of a missing
    // map.
    let html = std::fs::read_to_string(plan.join("report.html")).unwrap();
    assert!(!html.contains("no districts.geojson"));
    for id in ids {
        let tag = format!("<path class=\"district\" data-school=\"{id}\"");
        let i = html.find(&tag).unwrap_or_else(|| panic!("{id}: no district shape"));
        let rest = &html[i..];
        let d = rest.find(" d=\"").unwrap() + 4;
        assert!(rest[d..].starts_with('M'), "{id}: the shape has a path");
    }
}

#[test]
fn without_an_area_address_districts_tile_the_hull_of_the_blocks_with_a_margin() {
    let (dir, located) = case();
    let plan = dir.path().join("plan");
    let stderr = solve(dir.path(), &plan, false);
    assert!(!stderr.contains("no districts.geojson"), "{stderr}");
    let polys = districts(&plan);
    assert_eq!(polys.len(), 3);
    // The hull of the houses (75..750 x 88..712 m) widened by 300 m: 675 x 624 m, four strips
    // and (about) a circle of 300 m.
    let union =
        geo::algorithm::bool_ops::unary_union(polys.iter().flat_map(|(_, p, _)| p.0.iter()));
    assert_tiles(&polys, &union);
    let (w, h, r) = (675.0, 624.0, 300.0);
    let want = w * h + 2.0 * r * (w + h) + std::f64::consts::PI * r * r;
    let meters = union
        .0
        .iter()
        .map(|p| {
            let p = geo::MapCoords::map_coords(p, |c| {
                let (e, n) = projection::forward(c.y, c.x);
                geo::Coord { x: e, y: n }
            });
            p.unsigned_area()
        })
        .sum::<f64>();
    assert!((meters / want - 1.0).abs() < 0.01, "{meters} m² vs about {want}");
    assert_streets_agree_with_the_map(&plan, &polys, &located);
}

/// Contiguous address districts with a price on split streets: one piece per school within
/// the seats, never more split streets than without the price, never less walk, and the
/// summary's count equal to the lines of `split-streets.csv`.
#[test]
fn a_price_on_split_streets_keeps_contiguous_address_districts_whole() {
    let (dir, located) = case();
    let run = |out: &Path, price: Option<&str>| -> serde_json::Value {
        let mut cmd = bin();
        cmd.args(["solve", "--contiguous", "--schools"])
            .arg(dir.path().join("schools.csv"))
            .arg("--pupils")
            .arg(dir.path().join("pupils.csv"))
            .arg("--matrix")
            .arg(dir.path().join("matrix.csv"))
            .arg("--blocks")
            .arg(dir.path().join("blocks.csv"))
            .arg("--area")
            .arg(dir.path().join("area.geojson"));
        if let Some(p) = price {
            cmd.args(["--split-street-cost", p]);
        }
        let o = cmd.arg("--out").arg(out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
    };
    let (free, priced) = (dir.path().join("free"), dir.path().join("priced"));
    let a = run(&free, None);
    let b = run(&priced, Some("100000"));
    let split = |s: &serde_json::Value| s["streets"]["split"].as_u64().unwrap();
    let walk = |s: &serde_json::Value| s["solver"]["objective_m"].as_u64().unwrap();
    assert!(split(&b) <= split(&a), "{} vs {}", split(&b), split(&a));
    assert!(walk(&b) >= a["solver"]["pupil_optimum_m"].as_u64().unwrap());
    assert_eq!(b["solver"]["split_street_cost_m"], 100000);
    assert!(a["solver"].get("split_street_cost_m").is_none());
    assert!(b["solver"]["name"].as_str().unwrap().contains("per extra district of a street"));
    for (plan, s) in [(&free, &a), (&priced, &b)] {
        assert_eq!(s["districts"]["enclaves"], 0, "{}", s["districts"]);
        for row in s["per_school"].as_array().unwrap() {
            assert!(row["load"].as_u64() <= row["capacity"].as_u64(), "{row}");
        }
        let lines = std::fs::read_to_string(plan.join("split-streets.csv")).unwrap();
        assert_eq!(lines.lines().count() as u64 - 1, split(s));
        assert_streets_agree_with_the_map(plan, &districts(plan), &located);
    }
    // Without contiguous districts the price is refused (a usage error in the CLI).
    let o = bin()
        .args(["solve", "--split-street-cost", "10", "--schools"])
        .arg(dir.path().join("schools.csv"))
        .arg("--pupils")
        .arg(dir.path().join("pupils.csv"))
        .arg("--matrix")
        .arg(dir.path().join("matrix.csv"))
        .arg("--out")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}
