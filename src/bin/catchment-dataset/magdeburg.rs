//! The Magdeburg case, built from the city's public data (see `data/magdeburg/README.md` for the
//! sources, their licences and every approximation): the municipal primary schools of the latest
//! school year, one sampled intake cohort placed on the Zensus 2022 100 m grid, every populated
//! grid cell as a block, and an OSM street file assembled from the street geometries at hand.
//!
//! Deterministic: the same source files and seed give byte-identical outputs.

use catchment::error::{Error, Result};
use catchment::instance::write_atomically;
use catchment::instance::DEFAULT_CLASS_SIZE;
use catchment::projection as laea;
use geo::{Contains, LineString, Point, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const DEFAULT_SEED: u64 = 2023;
/// A school point farther than this from the school's street is not taken for it.
pub const SNAP_RADIUS_M: f64 = 300.0;
/// Coordinates of the assembled network are rounded to this many decimals (1e-7 deg, ~1 cm);
/// vertices equal after rounding are one node, so ways join where they meet.
const NODE_DECIMALS: i32 = 7;
/// A dead end of a way this close to a vertex of another way is joined to it by a short
/// connector: the source geometries often stop a few meters short of the street they meet.
pub const JOIN_RADIUS_M: f64 = 20.0;

const F_SCHOOLS: &str = "schools_kiss_md.json";
const F_AGE_DISTRICT: &str = "population_by_district_age.csv";
const F_SINGLE_AGE: &str = "population_by_single_age.json";
const F_ZENSUS: &str = "zensus2022_population_100m.geojson";
const F_STADTTEILE: &str = "stadtteile.geojson";
const F_BOUNDARY: &str = "city_boundary.geojson";
const F_POINTS: &str = "osm_school_and_kindergarten_points.json";
const F_CYCLE: &str = "osm_cyclepaths.geojson";
const F_NAMED: &str = "osm_named_streets_by_gender.json";

/// Where some schools really stand, from public reports, where the name alone misleads or
/// matches nothing in the geometries. Applied before the name itself.
const HINTS: &[(&str, Hint, &str)] = &[
    (
        "Am Westring",
        Hint::Street("Wilhelm-Kobelt-Straße"),
        "moved in 2021 into a new building in Wilhelm-Kobelt-Straße (Volksstimme, 23.07.2021)",
    ),
    (
        "Am Pechauer Platz",
        Hint::Street("Witzlebenstraße"),
        "seated in Witzlebenstraße, Cracau (Volksstimme)",
    ),
    (
        "Am Umfassungsweg",
        Hint::District("Neue Neustadt"),
        "in Neue Neustadt (Volksstimme, 2019, school districts 2020)",
    ),
    (
        "Moldenstraße",
        Hint::District("Alte Neustadt"),
        "in Alte Neustadt (Volksstimme, 2019, school districts 2020)",
    ),
    (
        "Im Nordpark",
        Hint::District("Alte Neustadt"),
        "in Alte Neustadt (Volksstimme, 2019, school districts 2020)",
    ),
    ("Lindenhof", Hint::Street("Neptunweg"), "in Neptunweg (the school's own history page)"),
];

#[derive(Debug, Clone, Copy)]
enum Hint {
    Street(&'static str),
    District(&'static str),
}

/// Options of `catchment-dataset magdeburg`.
#[derive(Debug, Clone)]
pub struct Options {
    pub source: PathBuf,
    /// A complete OSM extract to route on instead of the assembled network.
    pub osm: Option<PathBuf>,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchoolRow {
    pub id: String,
    pub name: String,
    pub source_name: String,
    pub lat: f64,
    pub lon: f64,
    pub classes_all_grades: u32,
    pub max_classes: u32,
    pub placement: Placement,
    pub approximate: bool,
    /// What the name matched (street, Stadtteil), or why nothing did.
    pub matched: String,
    /// Distance from the matched street to the chosen school point, when snapped to a street.
    pub snap_m: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placement {
    /// The name is a street; snapped to the nearest OSM school point within the radius.
    Street,
    /// A street named in a public report; snapped likewise.
    ReportedStreet,
    /// The street matched, but no school point lies within the radius: the street's middle.
    StreetNoPoint,
    /// The name is a Stadtteil (or a public report names it): a school point inside it.
    Place,
    ReportedPlace,
    /// Nothing matched: a stand-in school point (see the README).
    Fallback,
}

impl Placement {
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Street => "street",
            Placement::ReportedStreet => "street_reported",
            Placement::StreetNoPoint => "street_no_point",
            Placement::Place => "place",
            Placement::ReportedPlace => "place_reported",
            Placement::Fallback => "fallback",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PupilRow {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    pub block: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockRow {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    pub residents: u32,
    /// The Stadtteil whose polygon contains the cell centre; empty when none does.
    pub district: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DistrictCohort {
    pub name: String,
    pub age_0_6: u32,
    pub pupils: u32,
    pub cells: usize,
}

/// Everything the generator derived, ready to be written.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub seed: u64,
    pub school_year: i64,
    pub population_year: i64,
    pub cohort_year: i64,
    /// Residents aged 5 at the end of `cohort_year`: the intake cohort size.
    pub cohort: u32,
    pub cohort_age6: Option<u32>,
    pub schools: Vec<SchoolRow>,
    pub pupils: Vec<PupilRow>,
    pub blocks: Vec<BlockRow>,
    pub districts: Vec<DistrictCohort>,
    pub suppressed_districts: Vec<String>,
    /// The assembled OSM XML, unless a complete extract was given.
    pub network: Option<Network>,
    pub osm_extract: Option<PathBuf>,
    /// The city boundary as given (GeoJSON), when the source has it: the area the published
    /// districts divide.
    pub area: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Network {
    pub xml: String,
    pub nodes: usize,
    pub ways: usize,
    pub cycle_ways: usize,
    pub named_ways: usize,
    /// Connector ways added between a dead end and a vertex of another way within
    /// [`JOIN_RADIUS_M`].
    pub connectors: usize,
}

// ---------------------------------------------------------------- names

/// Normalise a street or place name for comparison: lower case, "str."/"strasse" -> "straße",
/// hyphens and runs of spaces -> one space.
pub fn normalize_name(s: &str) -> String {
    let mut t = s.trim().to_lowercase();
    t = t.replace("strasse", "straße");
    // "str." (or a bare trailing "str") ends a word: expand it.
    let mut out = String::with_capacity(t.len() + 8);
    let chars: Vec<char> = t.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i..].starts_with(&['s', 't', 'r']) {
            let next = chars.get(i + 3).copied();
            let word_end = match next {
                None => true,
                Some('.') => true,
                Some(c) => c == ' ' || c == '-',
            };
            let already = chars[i..].starts_with(&['s', 't', 'r', 'a', 's', 's', 'e']);
            if word_end && !already {
                out.push_str("straße");
                i += 3;
                if next == Some('.') {
                    i += 1;
                }
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out.split([' ', '-']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Does `query` (e.g. "B.-Brecht-Straße") name `candidate` (e.g. "Bertolt-Brecht-Straße")?
/// Words are compared after normalisation; a query word ending in "." is an abbreviation and
/// matches any word it begins.
pub fn names_match(query: &str, candidate: &str) -> bool {
    let q = normalize_name(query);
    let c = normalize_name(candidate);
    if q == c {
        return true;
    }
    let qw: Vec<&str> = q.split(' ').collect();
    let cw: Vec<&str> = c.split(' ').collect();
    qw.len() == cw.len()
        && qw.iter().zip(&cw).all(|(a, b)| {
            a == b || (a.len() > 1 && a.ends_with('.') && b.starts_with(&a[..a.len() - 1]))
        })
}

/// The name without a leading preposition ("Am Grenzweg" -> "Grenzweg"), if it has one.
pub fn strip_preposition(name: &str) -> Option<&str> {
    const PREFIXES: &[&str] =
        &["an der ", "an den ", "in der ", "auf dem ", "am ", "im ", "an ", "zum ", "zur "];
    let lower = name.to_lowercase();
    PREFIXES.iter().find(|p| lower.starts_with(*p)).map(|p| name[p.len()..].trim_start())
}

// ---------------------------------------------------------------- geometry

/// Local planar meters around Magdeburg (equirectangular; fine within a city).
fn xy(lat: f64, lon: f64) -> (f64, f64) {
    const LAT_REF: f64 = 52.13;
    const M_PER_DEG: f64 = 111_195.0;
    (lon * M_PER_DEG * LAT_REF.to_radians().cos(), lat * M_PER_DEG)
}

fn dist_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p, q) = (xy(a.0, a.1), xy(b.0, b.1));
    ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt()
}

/// Distance in meters from point `p` to a polyline (lat, lon vertices).
fn dist_to_line(p: (f64, f64), line: &[(f64, f64)]) -> f64 {
    let pp = xy(p.0, p.1);
    let mut best = f64::INFINITY;
    for w in line.windows(2) {
        let (a, b) = (xy(w[0].0, w[0].1), xy(w[1].0, w[1].1));
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let t = if len2 == 0.0 {
            0.0
        } else {
            (((pp.0 - a.0) * dx + (pp.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
        };
        let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
        best = best.min(((pp.0 - cx).powi(2) + (pp.1 - cy).powi(2)).sqrt());
    }
    if line.len() == 1 {
        best = dist_m(p, line[0]);
    }
    best
}

/// A Stadtteil: its name and rings as polygons (x = lon, y = lat); a point is inside when an odd
/// number of rings contains it (outer rings and holes alike).
#[derive(Debug, Clone)]
pub struct District {
    pub name: String,
    rings: Vec<Polygon<f64>>,
}

impl District {
    /// A district from rings of (lat, lon) vertices.
    pub fn new(name: &str, rings: Vec<Vec<(f64, f64)>>) -> District {
        let rings = rings
            .into_iter()
            .map(|r| {
                let ring: LineString<f64> = r.into_iter().map(|(lat, lon)| (lon, lat)).collect();
                Polygon::new(ring, vec![])
            })
            .collect();
        District { name: name.to_string(), rings }
    }

    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let p = Point::new(lon, lat);
        self.rings.iter().filter(|r| r.contains(&p)).count() % 2 == 1
    }
}

// ---------------------------------------------------------------- reading

fn read_json(dir: &Path, file: &str) -> Result<Value> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::input(file, Some(e.line() as u64), None, e.to_string()))
}

fn bad(file: &str, item: Option<u64>, field: &str, msg: &str) -> Error {
    Error::input(file, item, Some(field), msg.to_string())
}

fn coords_lines(geom: &Value) -> Vec<Vec<(f64, f64)>> {
    let parse_line = |l: &Value| -> Vec<(f64, f64)> {
        l.as_array()
            .map(|pts| {
                pts.iter()
                    .filter_map(|p| Some((p.get(1)?.as_f64()?, p.get(0)?.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    match geom.get("type").and_then(Value::as_str) {
        Some("LineString") => vec![parse_line(&geom["coordinates"])],
        Some("MultiLineString") => geom["coordinates"]
            .as_array()
            .map(|ls| ls.iter().map(parse_line).collect())
            .unwrap_or_default(),
        _ => vec![],
    }
}

/// One street geometry from the source: name (may be empty), highway tag (if any), lines.
#[derive(Debug, Clone)]
struct Street {
    name: String,
    highway: Option<String>,
    lines: Vec<Vec<(f64, f64)>>,
    cycle: bool,
}

fn read_streets(dir: &Path) -> Result<Vec<Street>> {
    let mut out = Vec::new();
    let cycle = read_json(dir, F_CYCLE)?;
    let feats =
        cycle["features"].as_array().ok_or_else(|| bad(F_CYCLE, None, "features", "missing"))?;
    for f in feats {
        let props = &f["properties"];
        out.push(Street {
            name: props.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
            highway: props.get("highway").and_then(Value::as_str).map(str::to_string),
            lines: coords_lines(&f["geometry"]),
            cycle: true,
        });
    }
    let named = read_json(dir, F_NAMED)?;
    let groups =
        named.as_array().ok_or_else(|| bad(F_NAMED, None, "groups", "expected a JSON list"))?;
    for g in groups {
        for f in g["features"].as_array().into_iter().flatten() {
            let props = &f["properties"];
            out.push(Street {
                name: props.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                highway: props.get("highway").and_then(Value::as_str).map(str::to_string),
                lines: coords_lines(&f["geometry"]),
                cycle: false,
            });
        }
    }
    Ok(out)
}

fn read_districts(dir: &Path) -> Result<Vec<District>> {
    let v = read_json(dir, F_STADTTEILE)?;
    let feats =
        v["features"].as_array().ok_or_else(|| bad(F_STADTTEILE, None, "features", "missing"))?;
    let mut out = Vec::new();
    for (i, f) in feats.iter().enumerate() {
        let name = f["properties"]["name"]
            .as_str()
            .ok_or_else(|| bad(F_STADTTEILE, Some(i as u64 + 1), "name", "missing"))?
            .to_string();
        let ring = |r: &Value| -> Vec<(f64, f64)> {
            r.as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p.get(1)?.as_f64()?, p.get(0)?.as_f64()?)))
                .collect()
        };
        let g = &f["geometry"];
        let rings: Vec<Vec<(f64, f64)>> = match g["type"].as_str() {
            Some("Polygon") => {
                g["coordinates"].as_array().into_iter().flatten().map(ring).collect()
            }
            Some("MultiPolygon") => g["coordinates"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|poly| {
                    poly.as_array().into_iter().flatten().map(ring).collect::<Vec<_>>()
                })
                .collect(),
            _ => {
                return Err(bad(
                    F_STADTTEILE,
                    Some(i as u64 + 1),
                    "geometry",
                    "expected a (Multi)Polygon",
                ))
            }
        };
        out.push(District::new(&name, rings));
    }
    Ok(out)
}

/// The unique OSM school/kindergarten points (lat, lon), in a fixed order.
fn read_school_points(dir: &Path) -> Result<Vec<(f64, f64)>> {
    let v = read_json(dir, F_POINTS)?;
    let obj =
        v.as_object().ok_or_else(|| bad(F_POINTS, None, "districts", "expected a JSON object"))?;
    let mut pts: Vec<(i64, i64)> = Vec::new();
    for list in obj.values() {
        for item in list.as_array().into_iter().flatten() {
            if item.get(0).and_then(Value::as_str) == Some("school") {
                if let (Some(lon), Some(lat)) =
                    (item.get(1).and_then(Value::as_f64), item.get(2).and_then(Value::as_f64))
                {
                    pts.push(((lat * 1e7).round() as i64, (lon * 1e7).round() as i64));
                }
            }
        }
    }
    pts.sort_unstable();
    pts.dedup();
    Ok(pts.into_iter().map(|(a, b)| (a as f64 / 1e7, b as f64 / 1e7)).collect())
}

struct SourceSchool {
    name: String,
    classes: u32,
}

fn read_schools_table(dir: &Path) -> Result<(i64, Vec<SourceSchool>)> {
    let v = read_json(dir, F_SCHOOLS)?;
    let rows = v["rows"].as_array().ok_or_else(|| bad(F_SCHOOLS, None, "rows", "missing"))?;
    let is_municipal_primary = |r: &Value| {
        r["var3"].as_str() == Some("Grundschule") && r["var5"].as_str() == Some("Kommunal")
    };
    let year = rows
        .iter()
        .filter(|r| is_municipal_primary(r))
        .filter_map(|r| r["var1"].as_i64())
        .max()
        .ok_or_else(|| bad(F_SCHOOLS, None, "var1", "no municipal Grundschule in the table"))?;
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if r["var1"].as_i64() != Some(year) || !is_municipal_primary(r) {
            continue;
        }
        let name = r["var2"]
            .as_str()
            .ok_or_else(|| bad(F_SCHOOLS, Some(i as u64 + 1), "var2", "missing"))?;
        let classes = r["var6"].as_u64().filter(|&c| c > 0).ok_or_else(|| {
            bad(F_SCHOOLS, Some(i as u64 + 1), "var6", "classes must be a positive integer")
        })?;
        out.push(SourceSchool { name: name.trim().to_string(), classes: classes as u32 });
    }
    Ok((year, out))
}

/// (year, residents aged 5, residents aged 6) of the latest year of the single-age table.
fn read_cohort(dir: &Path) -> Result<(i64, u32, Option<u32>)> {
    let v = read_json(dir, F_SINGLE_AGE)?;
    let rows = v["rows"].as_array().ok_or_else(|| bad(F_SINGLE_AGE, None, "rows", "missing"))?;
    let year = rows
        .iter()
        .filter(|r| r["var2"].as_str() == Some("5"))
        .filter_map(|r| r["var1"].as_i64())
        .max()
        .ok_or_else(|| bad(F_SINGLE_AGE, None, "var2", "no row for age 5"))?;
    let get = |age: &str| {
        rows.iter()
            .find(|r| r["var1"].as_i64() == Some(year) && r["var2"].as_str() == Some(age))
            .and_then(|r| r["var3"].as_u64())
            .map(|x| x as u32)
    };
    let age5 = get("5").ok_or_else(|| bad(F_SINGLE_AGE, None, "var3", "no count for age 5"))?;
    Ok((year, age5, get("6")))
}

/// (year, [(district, residents aged 0-6)]) of the latest year; suppressed values ('.') are 0.
/// (year, [(district, residents aged 0-6)], districts whose value is suppressed).
type DistrictAges = (i64, Vec<(String, u32)>, Vec<String>);

fn read_district_ages(dir: &Path) -> Result<DistrictAges> {
    let path = dir.join(F_AGE_DISTRICT);
    let mut rdr =
        csv::Reader::from_path(&path).map_err(|e| Error::csv(&path.display().to_string(), e))?;
    let headers = rdr.headers().map_err(|e| Error::csv(&path.display().to_string(), e))?.clone();
    let col = |n: &str| headers.iter().position(|h| h.trim() == n);
    let (Some(cy), Some(cd), Some(ca)) = (col("Jahr"), col("Stadtteil"), col("0 - 6 Jahre")) else {
        return Err(bad(
            F_AGE_DISTRICT,
            Some(1),
            "0 - 6 Jahre",
            "needs columns Jahr, Stadtteil, '0 - 6 Jahre'",
        ));
    };
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::csv(&path.display().to_string(), e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let year: i64 = rec
            .get(cy)
            .unwrap_or("")
            .trim()
            .parse()
            .map_err(|_| bad(F_AGE_DISTRICT, Some(line), "Jahr", "not a year"))?;
        let district = rec.get(cd).unwrap_or("").trim().to_string();
        let raw = rec.get(ca).unwrap_or("").trim();
        let value = if raw == "." {
            None
        } else {
            Some(raw.parse::<u32>().map_err(|_| {
                bad(F_AGE_DISTRICT, Some(line), "0 - 6 Jahre", "not a count or '.'")
            })?)
        };
        rows.push((year, district, value));
    }
    let year = rows
        .iter()
        .map(|r| r.0)
        .max()
        .ok_or_else(|| bad(F_AGE_DISTRICT, None, "Jahr", "no rows"))?;
    let mut out = Vec::new();
    let mut suppressed = Vec::new();
    for (y, d, v) in rows {
        if y != year || d == "Magdeburg" {
            continue;
        }
        if v.is_none() {
            suppressed.push(d.clone());
        }
        out.push((d, v.unwrap_or(0)));
    }
    Ok((year, out, suppressed))
}

struct Cell {
    id: String,
    xmin: f64,
    ymin: f64,
    residents: u32,
    lat: f64,
    lon: f64,
    district: Option<usize>,
}

fn read_cells(dir: &Path, districts: &[District]) -> Result<Vec<Cell>> {
    let v = read_json(dir, F_ZENSUS)?;
    let feats =
        v["features"].as_array().ok_or_else(|| bad(F_ZENSUS, None, "features", "missing"))?;
    let mut out = Vec::new();
    for (i, f) in feats.iter().enumerate() {
        let p = &f["properties"];
        let item = Some(i as u64 + 1);
        let file = "zensus2022_population_100m.geojson feature";
        let id =
            p["grid_id"].as_str().ok_or_else(|| bad(file, item, "grid_id", "missing"))?.to_string();
        let xmin = p["xmin"].as_f64().ok_or_else(|| bad(file, item, "xmin", "missing"))?;
        let ymin = p["ymin"].as_f64().ok_or_else(|| bad(file, item, "ymin", "missing"))?;
        let e = p["einwohner"].as_f64().unwrap_or(0.0);
        if e.is_nan() || e <= 0.0 {
            continue;
        }
        let (lat, lon) = laea::inverse(xmin + 50.0, ymin + 50.0);
        let district = districts.iter().position(|d| d.contains(lat, lon));
        out.push(Cell { id, xmin, ymin, residents: e.round() as u32, lat, lon, district });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

// ---------------------------------------------------------------- the generator

/// Split `total` in proportion to `weights` (largest remainders; ties to the earlier entry).
pub fn apportion(total: u32, weights: &[u32]) -> Vec<u32> {
    let sum: u64 = weights.iter().map(|&w| w as u64).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut out: Vec<u32> =
        weights.iter().map(|&w| ((total as u64 * w as u64) / sum) as u32).collect();
    let mut rest: Vec<(u64, usize)> =
        weights.iter().enumerate().map(|(i, &w)| ((total as u64 * w as u64) % sum, i)).collect();
    rest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let missing = total - out.iter().sum::<u32>();
    for &(_, i) in rest.iter().take(missing as usize) {
        out[i] += 1;
    }
    out
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The gain of a candidate point: residents (weight) whose straight-line distance to the nearest
/// placed school it would shorten, times the shortening. The stand-in rule for schools whose
/// exact place is unknown: the point where a school serves the most people best.
fn gain(candidate: (f64, f64), cells: &[Cell], nearest: &[f64]) -> f64 {
    cells
        .iter()
        .zip(nearest)
        .map(|(c, &d)| {
            let dc = dist_m((c.lat, c.lon), candidate);
            if dc < d {
                c.residents as f64 * (d - dc)
            } else {
                0.0
            }
        })
        .sum()
}

type Lines = Vec<Vec<(f64, f64)>>;
/// Where a school went: point, placement, approximate, the decision, the snap distance.
type Placed = ((f64, f64), Placement, bool, String, Option<f64>);

enum Resolution {
    Street { placement: Placement, name: String, lines: Vec<Vec<(f64, f64)>>, note: String },
    Place { placement: Placement, districts: Vec<usize>, note: String },
    Fallback { note: String },
}

fn resolve(name: &str, streets: &[Street], districts: &[District]) -> Resolution {
    let mut unused_hint = None;
    let r = resolve_inner(name, streets, districts, &mut unused_hint);
    match (unused_hint, r) {
        (None, r) => r,
        (Some(h), Resolution::Street { placement, name, lines, note }) => {
            Resolution::Street { placement, name, lines, note: format!("{h}; {note}") }
        }
        (Some(h), Resolution::Place { placement, districts, note }) => {
            Resolution::Place { placement, districts, note: format!("{h}; {note}") }
        }
        (Some(h), Resolution::Fallback { note }) => {
            Resolution::Fallback { note: format!("{h}; {note}") }
        }
    }
}

fn resolve_inner(
    name: &str,
    streets: &[Street],
    districts: &[District],
    unused_hint: &mut Option<String>,
) -> Resolution {
    let street_lines = |q: &str| -> Option<(String, Lines)> {
        let mut lines = Vec::new();
        let mut found = None;
        for s in streets.iter().filter(|s| !s.name.is_empty() && names_match(q, &s.name)) {
            found.get_or_insert_with(|| s.name.clone());
            lines.extend(s.lines.iter().filter(|l| !l.is_empty()).cloned());
        }
        found.map(|n| (n, lines))
    };
    let place = |q: &str| -> Vec<usize> {
        let nq = normalize_name(q);
        let exact: Vec<usize> = districts
            .iter()
            .enumerate()
            .filter(|(_, d)| normalize_name(&d.name) == nq)
            .map(|(i, _)| i)
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        // "Stadtfeld" names both "Stadtfeld Ost" and "Stadtfeld West".
        districts
            .iter()
            .enumerate()
            .filter(|(_, d)| normalize_name(&d.name).starts_with(&format!("{nq} ")))
            .map(|(i, _)| i)
            .collect()
    };
    if let Some((_, hint, why)) = HINTS.iter().find(|(n, _, _)| names_match(n, name)) {
        match *hint {
            Hint::Street(s) => {
                if let Some((found, lines)) = street_lines(s) {
                    return Resolution::Street {
                        placement: Placement::ReportedStreet,
                        name: found.clone(),
                        lines,
                        note: format!("street '{found}': {why}"),
                    };
                }
                *unused_hint =
                    Some(format!("reported street '{s}' ({why}) is not in the geometries"));
            }
            Hint::District(d) => {
                let ds = place(d);
                if !ds.is_empty() {
                    return Resolution::Place {
                        placement: Placement::ReportedPlace,
                        districts: ds,
                        note: format!("Stadtteil '{d}': {why}"),
                    };
                }
                *unused_hint = Some(format!("reported Stadtteil '{d}' has no polygon"));
            }
        }
    }
    let candidates: Vec<&str> = std::iter::once(name).chain(strip_preposition(name)).collect();
    for q in &candidates {
        if let Some((found, lines)) = street_lines(q) {
            return Resolution::Street {
                placement: Placement::Street,
                name: found.clone(),
                lines,
                note: format!("street '{found}'"),
            };
        }
    }
    for q in &candidates {
        let ds = place(q);
        if !ds.is_empty() {
            let names: Vec<&str> = ds.iter().map(|&i| districts[i].name.as_str()).collect();
            return Resolution::Place {
                placement: Placement::Place,
                districts: ds,
                note: format!("Stadtteil '{}'", names.join("' + '")),
            };
        }
    }
    Resolution::Fallback {
        note: "no street or Stadtteil of this name in the source geometries".into(),
    }
}

fn place_schools(
    table: &[SourceSchool],
    streets: &[Street],
    districts: &[District],
    points: &[(f64, f64)],
    cells: &[Cell],
) -> Vec<SchoolRow> {
    let resolutions: Vec<Resolution> =
        table.iter().map(|s| resolve(&s.name, streets, districts)).collect();
    let mut placed: Vec<Option<Placed>> = vec![None; table.len()];
    let mut used = vec![false; points.len()];
    // 1. Streets: the school point nearest to the street, within the radius.
    for (i, r) in resolutions.iter().enumerate() {
        if let Resolution::Street { placement, name, lines, note } = r {
            let best = points
                .iter()
                .enumerate()
                .filter(|(k, _)| !used[*k])
                .map(|(k, &p)| {
                    (k, lines.iter().map(|l| dist_to_line(p, l)).fold(f64::INFINITY, f64::min))
                })
                .filter(|&(_, d)| d <= SNAP_RADIUS_M)
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            placed[i] = Some(match best {
                Some((k, d)) => {
                    used[k] = true;
                    (
                        points[k],
                        *placement,
                        false,
                        format!("{note}; OSM school point {d:.0} m from the street"),
                        Some(d),
                    )
                }
                None => {
                    // The middle vertex of the longest piece of the street.
                    let line = lines.iter().max_by_key(|l| l.len()).cloned().unwrap_or_default();
                    let mid = line.get(line.len() / 2).copied().unwrap_or((0.0, 0.0));
                    (
                        mid,
                        Placement::StreetNoPoint,
                        true,
                        format!(
                            "{note}; no OSM school point within {SNAP_RADIUS_M:.0} m of '{name}': the street's middle"
                        ),
                        None,
                    )
                }
            });
        }
    }
    let nearest_of = |placed: &[Option<Placed>]| -> Vec<f64> {
        cells
            .iter()
            .map(|c| {
                placed
                    .iter()
                    .flatten()
                    .map(|p| dist_m((c.lat, c.lon), p.0))
                    .fold(f64::INFINITY, f64::min)
                    .min(1e7)
            })
            .collect()
    };
    let pick = |cands: Vec<usize>, nearest: &[f64]| -> Option<usize> {
        cands
            .into_iter()
            .map(|k| (k, gain(points[k], cells, nearest)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(k, _)| k)
    };
    // 2. Places, then 3. fallbacks: greedy, one school at a time, in table order.
    for pass in 0..2 {
        for (i, r) in resolutions.iter().enumerate() {
            let nearest = nearest_of(&placed);
            match (pass, r) {
                (0, Resolution::Place { placement, districts: ds, note }) => {
                    let cands: Vec<usize> = (0..points.len())
                        .filter(|&k| {
                            !used[k]
                                && ds
                                    .iter()
                                    .any(|&d| districts[d].contains(points[k].0, points[k].1))
                        })
                        .collect();
                    placed[i] = Some(match pick(cands, &nearest) {
                        Some(k) => {
                            used[k] = true;
                            (points[k], *placement, true, format!("{note}; the OSM school point inside it that most shortens residents' straight-line distance to a school"), None)
                        }
                        None => {
                            // The residents' centre of the Stadtteil.
                            let (mut w, mut la, mut lo) = (0.0, 0.0, 0.0);
                            for c in
                                cells.iter().filter(|c| c.district.is_some_and(|d| ds.contains(&d)))
                            {
                                w += c.residents as f64;
                                la += c.lat * c.residents as f64;
                                lo += c.lon * c.residents as f64;
                            }
                            let at = if w > 0.0 { (la / w, lo / w) } else { (0.0, 0.0) };
                            (
                                at,
                                *placement,
                                true,
                                format!("{note}; no free OSM school point inside: its residents' centre"),
                                None,
                            )
                        }
                    });
                }
                (1, Resolution::Fallback { note }) => {
                    let cands: Vec<usize> = (0..points.len()).filter(|&k| !used[k]).collect();
                    if let Some(k) = pick(cands, &nearest) {
                        used[k] = true;
                        placed[i] = Some((
                            points[k],
                            Placement::Fallback,
                            true,
                            format!("{note}; stand-in: the free OSM school point that most shortens residents' straight-line distance to a school"),
                            None,
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    let width = table.len().to_string().len().max(2);
    table
        .iter()
        .zip(placed)
        .enumerate()
        .map(|(i, (s, p))| {
            let (at, placement, approximate, matched, snap_m) = p.unwrap_or((
                (0.0, 0.0),
                Placement::Fallback,
                true,
                "no school point left".into(),
                None,
            ));
            SchoolRow {
                id: format!("S{:0width$}", i + 1),
                name: format!("Grundschule {}", s.name),
                source_name: s.name.clone(),
                lat: round6(at.0),
                lon: round6(at.1),
                classes_all_grades: s.classes,
                // Classes of all four grades / 4, rounded up: a school that runs 9 classes over
                // four grades runs 3 in at least one grade, so it has rooms for 3.
                max_classes: s.classes.div_ceil(4),
                placement,
                approximate,
                matched,
                snap_m,
            }
        })
        .collect()
}

fn build_network(streets: &[Street]) -> Network {
    let scale = 10f64.powi(NODE_DECIMALS);
    let mut ids: HashMap<(i64, i64), u64> = HashMap::new();
    let mut nodes: Vec<(i64, i64)> = Vec::new();
    let mut ways: Vec<(Vec<u64>, String, &str)> = Vec::new();
    let (mut cycle_ways, mut named_ways) = (0, 0);
    for s in streets {
        let highway = s.highway.clone().unwrap_or_else(|| {
            if s.cycle {
                "footway".into()
            } else {
                "residential".into()
            }
        });
        for line in &s.lines {
            let mut refs: Vec<u64> = Vec::with_capacity(line.len());
            for &(lat, lon) in line {
                let key = ((lat * scale).round() as i64, (lon * scale).round() as i64);
                let id = *ids.entry(key).or_insert_with(|| {
                    nodes.push(key);
                    nodes.len() as u64
                });
                if refs.last() != Some(&id) {
                    refs.push(id);
                }
            }
            if refs.len() >= 2 {
                if s.cycle {
                    cycle_ways += 1;
                } else {
                    named_ways += 1;
                }
                ways.push((refs, highway.clone(), s.name.as_str()));
            }
        }
    }
    // Join dead ends to a nearby vertex of another way.
    let pos: Vec<(f64, f64)> =
        nodes.iter().map(|&(la, lo)| xy(la as f64 / scale, lo as f64 / scale)).collect();
    let mut member: Vec<Vec<u32>> = vec![Vec::new(); nodes.len()];
    for (w, (refs, _, _)) in ways.iter().enumerate() {
        for &r in refs {
            let m = &mut member[r as usize - 1];
            if m.last() != Some(&(w as u32)) {
                m.push(w as u32);
            }
        }
    }
    let cell = |p: (f64, f64)| {
        ((p.0 / JOIN_RADIUS_M).floor() as i64, (p.1 / JOIN_RADIUS_M).floor() as i64)
    };
    let mut grid: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
    for (i, &p) in pos.iter().enumerate() {
        grid.entry(cell(p)).or_default().push(i as u32);
    }
    let mut connectors: Vec<(u64, u64)> = Vec::new();
    let mut seen: std::collections::HashSet<(u64, u64)> = std::collections::HashSet::new();
    for (w, (refs, _, _)) in ways.iter().enumerate() {
        for &end in [refs[0], refs[refs.len() - 1]].iter() {
            let e = end as usize - 1;
            if member[e].len() > 1 {
                continue; // already a junction
            }
            let (cx, cy) = cell(pos[e]);
            let mut best: Option<(f64, u32)> = None;
            for dx in -1..=1 {
                for dy in -1..=1 {
                    for &k in grid.get(&(cx + dx, cy + dy)).into_iter().flatten() {
                        if member[k as usize].contains(&(w as u32)) {
                            continue;
                        }
                        let d = ((pos[k as usize].0 - pos[e].0).powi(2)
                            + (pos[k as usize].1 - pos[e].1).powi(2))
                        .sqrt();
                        if d <= JOIN_RADIUS_M
                            && best.is_none_or(|(bd, bk)| d < bd || (d == bd && k < bk))
                        {
                            best = Some((d, k));
                        }
                    }
                }
            }
            if let Some((_, k)) = best {
                let pair = (end.min(k as u64 + 1), end.max(k as u64 + 1));
                if seen.insert(pair) {
                    connectors.push(pair);
                }
            }
        }
    }
    let n_connectors = connectors.len();
    for (a, b) in connectors {
        ways.push((vec![a, b], "footway".to_string(), ""));
    }
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
    };
    let mut xml = String::with_capacity(nodes.len() * 80 + ways.len() * 200);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\" generator=\"catchment-dataset magdeburg\">\n",
    );
    if !nodes.is_empty() {
        let (mut a, mut b, mut c, mut d) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        for &(la, lo) in &nodes {
            a = a.min(la);
            b = b.min(lo);
            c = c.max(la);
            d = d.max(lo);
        }
        let f = |v: i64| format!("{:.7}", v as f64 / scale);
        let _ = writeln!(
            xml,
            "  <bounds minlat=\"{}\" minlon=\"{}\" maxlat=\"{}\" maxlon=\"{}\"/>",
            f(a),
            f(b),
            f(c),
            f(d)
        );
    }
    for (i, &(la, lo)) in nodes.iter().enumerate() {
        let _ = writeln!(
            xml,
            "  <node id=\"{}\" lat=\"{:.7}\" lon=\"{:.7}\"/>",
            i + 1,
            la as f64 / scale,
            lo as f64 / scale
        );
    }
    for (i, (refs, highway, name)) in ways.iter().enumerate() {
        let _ = writeln!(xml, "  <way id=\"{}\">", i + 1);
        for r in refs {
            let _ = writeln!(xml, "    <nd ref=\"{r}\"/>");
        }
        let _ = writeln!(xml, "    <tag k=\"highway\" v=\"{}\"/>", esc(highway));
        if !name.is_empty() {
            let _ = writeln!(xml, "    <tag k=\"name\" v=\"{}\"/>", esc(name));
        }
        xml.push_str("  </way>\n");
    }
    xml.push_str("</osm>\n");
    Network {
        xml,
        nodes: nodes.len(),
        ways: ways.len(),
        cycle_ways,
        named_ways,
        connectors: n_connectors,
    }
}

/// Build the Magdeburg case from the source directory.
pub fn generate(opts: &Options) -> Result<Dataset> {
    let dir = &opts.source;
    if !dir.is_dir() {
        return Err(Error::not_found(format!("{}: source directory not found", dir.display())));
    }
    let districts = read_districts(dir)?;
    let cells = read_cells(dir, &districts)?;
    let streets = read_streets(dir)?;
    let points = read_school_points(dir)?;
    let (school_year, table) = read_schools_table(dir)?;
    let schools = place_schools(&table, &streets, &districts, &points, &cells);

    let (cohort_year, cohort, cohort_age6) = read_cohort(dir)?;
    let (population_year, ages, suppressed_districts) = read_district_ages(dir)?;
    let mut district_index = Vec::with_capacity(ages.len());
    for (name, _) in &ages {
        let k = districts.iter().position(|d| d.name == *name).ok_or_else(|| {
            bad(
                F_AGE_DISTRICT,
                None,
                "Stadtteil",
                &format!("'{name}' has no polygon in {F_STADTTEILE}"),
            )
        })?;
        district_index.push(k);
    }
    let weights: Vec<u32> = ages.iter().map(|a| a.1).collect();
    let shares = apportion(cohort, &weights);

    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut pupils = Vec::with_capacity(cohort as usize);
    let mut cohorts = Vec::new();
    let pwidth = cohort.to_string().len().max(4);
    for ((name, age), (&k, &n)) in ages.iter().zip(district_index.iter().zip(&shares)) {
        let dcells: Vec<&Cell> = cells.iter().filter(|c| c.district == Some(k)).collect();
        let total: u64 = dcells.iter().map(|c| c.residents as u64).sum();
        cohorts.push(DistrictCohort {
            name: name.clone(),
            age_0_6: *age,
            pupils: n,
            cells: dcells.len(),
        });
        if n == 0 {
            continue;
        }
        if total == 0 {
            return Err(Error::input("stadtteile.geojson", None, None, format!(
                "Stadtteil '{name}' has {n} pupils to place but no populated Zensus cell centre inside its polygon"
            )));
        }
        for _ in 0..n {
            let mut r = rng.random_range(0..total);
            let mut cell = dcells[dcells.len() - 1];
            for c in &dcells {
                if r < c.residents as u64 {
                    cell = c;
                    break;
                }
                r -= c.residents as u64;
            }
            let x = cell.xmin + rng.random_range(0.0..100.0);
            let y = cell.ymin + rng.random_range(0.0..100.0);
            let (lat, lon) = laea::inverse(x, y);
            pupils.push(PupilRow {
                id: format!("P{:0pwidth$}", pupils.len() + 1),
                lat: round6(lat),
                lon: round6(lon),
                block: cell.id.clone(),
            });
        }
    }
    let blocks = cells
        .iter()
        .map(|c| BlockRow {
            id: c.id.clone(),
            lat: round6(c.lat),
            lon: round6(c.lon),
            residents: c.residents,
            district: c.district.map(|d| districts[d].name.clone()).unwrap_or_default(),
        })
        .collect();
    let network = if opts.osm.is_none() { Some(build_network(&streets)) } else { None };
    Ok(Dataset {
        seed: opts.seed,
        school_year,
        population_year,
        cohort_year,
        cohort,
        cohort_age6,
        schools,
        pupils,
        blocks,
        districts: cohorts,
        suppressed_districts,
        network,
        osm_extract: opts.osm.clone(),
        area: {
            let p = dir.join(F_BOUNDARY);
            match std::fs::read_to_string(&p) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io(&p, e)),
            }
        },
    })
}

// ---------------------------------------------------------------- writing

fn csv_out(path: &Path, header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<()> {
    let err = |e: csv::Error| Error::csv(&path.display().to_string(), e);
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// Write schools.csv, pupils.csv, blocks.csv, network.osm (unless an extract was given) and
/// README.md into `out`, atomically.
pub fn write(out: &Path, ds: &Dataset) -> Result<()> {
    write_atomically(out, |dir| {
        csv_out(
            &dir.join("schools.csv"),
            &[
                "id",
                "name",
                "lat",
                "lon",
                "max_classes",
                "class_size",
                "placement",
                "approximate",
                "classes_all_grades",
                "snap_m",
                "matched",
            ],
            ds.schools.iter().map(|s| {
                vec![
                    s.id.clone(),
                    s.name.clone(),
                    format!("{:.6}", s.lat),
                    format!("{:.6}", s.lon),
                    s.max_classes.to_string(),
                    DEFAULT_CLASS_SIZE.to_string(),
                    s.placement.as_str().to_string(),
                    if s.approximate { "yes" } else { "no" }.to_string(),
                    s.classes_all_grades.to_string(),
                    s.snap_m.map(|d| format!("{d:.0}")).unwrap_or_default(),
                    s.matched.clone(),
                ]
            }),
        )?;
        csv_out(
            &dir.join("pupils.csv"),
            &["id", "lat", "lon", "block"],
            ds.pupils.iter().map(|p| {
                vec![
                    p.id.clone(),
                    format!("{:.6}", p.lat),
                    format!("{:.6}", p.lon),
                    p.block.clone(),
                ]
            }),
        )?;
        csv_out(
            &dir.join("blocks.csv"),
            &["block_id", "lat", "lon", "residents", "district"],
            ds.blocks.iter().map(|b| {
                vec![
                    b.id.clone(),
                    format!("{:.6}", b.lat),
                    format!("{:.6}", b.lon),
                    b.residents.to_string(),
                    b.district.clone(),
                ]
            }),
        )?;
        if let Some(n) = &ds.network {
            let p = dir.join("network.osm");
            std::fs::write(&p, &n.xml).map_err(|e| Error::io(&p, e))?;
        }
        if let Some(a) = &ds.area {
            let p = dir.join("area.geojson");
            std::fs::write(&p, a).map_err(|e| Error::io(&p, e))?;
        }
        let p = dir.join("README.md");
        std::fs::write(&p, readme(ds)).map_err(|e| Error::io(&p, e))?;
        Ok(())
    })
}

/// Seats and classes of the generated schools.
pub fn seats(ds: &Dataset) -> u32 {
    ds.schools.iter().map(|s| s.max_classes * DEFAULT_CLASS_SIZE).sum()
}

fn readme(ds: &Dataset) -> String {
    let classes: u32 = ds.schools.iter().map(|s| s.max_classes).sum();
    let all_grades: u32 = ds.schools.iter().map(|s| s.classes_all_grades).sum();
    let round_half: u32 = ds.schools.iter().map(|s| (s.classes_all_grades + 2) / 4).sum();
    let seats = seats(ds);
    let n = ds.pupils.len();
    let mut by_placement: BTreeMap<Placement, (usize, usize)> = BTreeMap::new();
    for s in &ds.schools {
        let e = by_placement.entry(s.placement).or_default();
        e.0 += 1;
        if s.approximate {
            e.1 += 1;
        }
    }
    let with_pupils = {
        let mut b: Vec<&str> = ds.pupils.iter().map(|p| p.block.as_str()).collect();
        b.sort_unstable();
        b.dedup();
        b.len()
    };
    let outside = ds.blocks.iter().filter(|b| b.district.is_empty()).count();
    let mut s = String::new();
    let _ = write!(
        s,
        "# The Magdeburg case (derived data)\n\n\
Generated by `catchment-dataset magdeburg --source ../shared/data/magdeburg --out data/magdeburg --seed {seed}`\n\
from public data about Magdeburg. Regenerating it gives these files byte for byte\n\
(`tests/magdeburg_dataset.rs` checks this). **The pupils are sampled, not real children; the school\n\
locations and the street network are approximations.** Read the caveats below before quoting any figure\n\
computed from this case.\n\n\
| file | content |\n|---|---|\n\
| `schools.csv` | {ns} municipal primary schools (Grundschulen) of {sy}: `id,name,lat,lon,max_classes,class_size` + how each was placed (`placement`, `approximate`, `classes_all_grades`, `snap_m`, `matched`) |\n\
| `pupils.csv` | {n} sampled first-graders: `id,lat,lon,block` (block = Zensus 100 m cell) |\n\
| `blocks.csv` | all {nb} populated Zensus 100 m cells of the city: `block_id,lat,lon,residents,district` ({wp} of them have pupils this year) |\n",
        seed = ds.seed,
        ns = ds.schools.len(),
        sy = ds.school_year,
        nb = ds.blocks.len(),
        wp = with_pupils,
    );
    match (&ds.network, &ds.osm_extract) {
        (Some(net), _) => {
            let _ = writeln!(
                s,
                "| `network.osm` | OSM XML assembled from the street geometries: {} nodes, {} ways ({} cycle-path pieces, {} person-named street pieces, {} connectors of at most {:.0} m) |",
                net.nodes, net.ways, net.cycle_ways, net.named_ways, net.connectors, JOIN_RADIUS_M
            );
        }
        (None, Some(p)) => {
            let _ = writeln!(
                s,
                "| (network) | not written: the complete OSM extract `{}` was given with `--osm`; route on it |",
                p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
            );
        }
        _ => {}
    }
    if ds.area.is_some() {
        let _ = writeln!(
            s,
            "| `area.geojson` | the city boundary, as given: the area the published districts divide (`--area`) |"
        );
    }
    let _ = write!(
        s,
        "\n## Sources and licences\n\n\
- Population on the 100 m grid: © Statistisches Bundesamt (Destatis), Zensus 2022, licence\n\
\x20 Datenlizenz Deutschland - Namensnennung - Version 2.0 (dl-de/by-2-0).\n\
- Schools (table K5_T2), residents by district and age group (K3_T34) and by single year of age\n\
\x20 (K3_T3): Landeshauptstadt Magdeburg, KISS-MD (statistik.magdeburg.de), open data with attribution.\n\
- Stadtteil polygons, the city boundary, street geometries (cycle paths; streets named after people)\n\
\x20 and school points: © OpenStreetMap contributors, Open Database License (ODbL). `area.geojson`,\n\
\x20 `network.osm` and the coordinates in `schools.csv` are derived from them and are under the ODbL.\n\
- The selection of person-named streets comes from code-for-magdeburg (streetnames-md), MIT licence.\n\n\
## Schools: capacity\n\n\
The school table gives the classes of all four grades ({all_grades} in {sy}). First-grade capacity =\n\
classes / 4 **rounded up**, x 22 pupils per class: a school running 9 classes over four grades runs\n\
3 in at least one grade, so it has rooms for 3 first-grade classes. This gives {classes} classes =\n\
**{seats} seats** for {n} pupils ({util:.1}% full), close to the city's reported situation of nearly\n\
every first-grade class at 22. Rounding half up would give {round_half} classes = {rh_seats} seats, fewer\n\
than the pupils: infeasible, so it was not used. No school has a minimum.\n\n\
## Schools: location\n\n\
The school table names each school by a street (\"Hegelstr.\") or a place (\"Ottersleben\"), never by\n\
coordinates. Each was placed as follows, in this order:\n\n\
1. `street_reported`: a public report says the school stands in another street than its name says\n\
\x20  (moved, or named after a nearby square); that street is used.\n\
2. `street`: the name (also without a leading \"Am\", \"An der\", \"Im\"...) matches a street in the\n\
\x20  geometries, after normalising \"str.\" = \"straße\" and abbreviated first names\n\
\x20  (\"B.-Brecht-Straße\" = \"Bertolt-Brecht-Straße\"). The school goes to the OSM `school` point nearest\n\
\x20  to that street within {radius:.0} m (`snap_m`). Not approximate, with one caveat: the OSM points mix\n\
\x20  schools and kindergartens, so the point may be a kindergarten on the same street.\n\
3. `street_no_point`: the street matched, but no school point lies within {radius:.0} m: the middle\n\
\x20  vertex of the street. Approximate.\n\
4. `place_reported` / `place`: a public report names the school's Stadtteil, or the name is a\n\
\x20  Stadtteil (\"Stadtfeld\" = Stadtfeld Ost + West). Among the free OSM school points inside it, the one\n\
\x20  that most shortens the residents' straight-line distance to their nearest school (given the schools\n\
\x20  placed so far) is taken. Approximate: the Stadtteil is most likely right, the point is a reasoned guess.\n\
5. `fallback`: nothing matched. The same rule over all free school points of the city: a stand-in\n\
\x20  where a school would serve the most residents best, not where the school really is. Approximate.\n\n\
| placement | schools | approximate |\n|---|---|---|\n",
        sy = ds.school_year,
        util = 100.0 * n as f64 / seats.max(1) as f64,
        rh_seats = round_half * DEFAULT_CLASS_SIZE,
        radius = SNAP_RADIUS_M,
    );
    for (p, (c, a)) in &by_placement {
        let _ = writeln!(s, "| `{}` | {c} | {a} |", p.as_str());
    }
    let _ = writeln!(s, "\n| id | school | classes (all grades) | first-grade classes | placement | approximate | decision |\n|---|---|---|---|---|---|---|");
    for sc in &ds.schools {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | `{}` | {} | {} |",
            sc.id,
            sc.name,
            sc.classes_all_grades,
            sc.max_classes,
            sc.placement.as_str(),
            if sc.approximate { "yes" } else { "no" },
            sc.matched
        );
    }
    let suppressed = if ds.suppressed_districts.is_empty() {
        "none".to_string()
    } else {
        ds.suppressed_districts.join(", ")
    };
    let _ = write!(
        s,
        "\n## Pupils\n\n\
- **Cohort size {cohort}**: the residents aged 5 at the end of {cy} (the last year of the single-age\n\
\x20 table), the children who start school the following August{age6}. The city reports 2,100-2,240\n\
\x20 first-graders a year. Children who go to non-municipal schools are not taken out.\n\
- **Per Stadtteil**: the cohort is split in proportion to the residents aged 0-6 of each Stadtteil in\n\
\x20 {py} (largest remainders; the city-total row `Magdeburg` is left out). Suppressed values (`.`) count\n\
\x20 as 0: {suppressed}.\n\
- **Within a Stadtteil**: each pupil falls in a Zensus 100 m cell whose centre lies inside the\n\
\x20 Stadtteil polygon, drawn with probability proportional to the cell's residents (all ages: the grid\n\
\x20 has no age breakdown), then at a uniformly random point inside the cell (seeded ChaCha8, seed {seed}).\n\
\x20 The pupil's `block` is that cell's `grid_id`.\n\
- Cell centres are converted from ETRS89-LAEA (EPSG:3035) to WGS84 by the inverse Lambert azimuthal\n\
\x20 equal-area projection on GRS80 (`src/dataset/laea.rs`).\n\n\
| Stadtteil | residents 0-6 ({py}) | pupils | populated cells |\n|---|---|---|---|\n",
        cohort = ds.cohort,
        cy = ds.cohort_year,
        age6 = ds.cohort_age6.map(|a| format!(" (aged 6 that year: {a})")).unwrap_or_default(),
        py = ds.population_year,
        seed = ds.seed,
    );
    for d in &ds.districts {
        let _ = writeln!(s, "| {} | {} | {} | {} |", d.name, d.age_0_6, d.pupils, d.cells);
    }
    let _ = write!(
        s,
        "\n## Blocks\n\n\
`blocks.csv` lists every Zensus cell of the city with residents ({nb} cells), with or without pupils\n\
this year, so that a district plan can give every block a school. `district` is the Stadtteil whose\n\
polygon contains the cell centre ({outside} cells lie in none and have it empty).\n\n\
## Network: an approximation of walking distances\n\n",
        nb = ds.blocks.len(),
    );
    if ds.network.is_some() {
        s.push_str(
            "`network.osm` is **not a complete street network**: it contains only the cycle paths and the streets\n\
named after people that the source data has, joined where their vertices coincide (coordinates\n\
rounded to 1e-7 degrees). Many residential streets are missing, so walks routed on it are longer than\n\
the real ones and some homes snap to a street far away; figures computed on it approximate true\n\
walking distances and must say so. Cycle paths are tagged `highway=footway`, the named streets\n\
`highway=residential` (the source has no highway tags), each with its `name`, which OSRM's foot\n\
profile routes. For real distances, regenerate with a complete OpenStreetMap extract:\n\
`catchment-dataset magdeburg --source ../shared/data/magdeburg --out data/magdeburg --osm magdeburg.osm.pbf`.\n",
        );
    } else if let Some(p) = &ds.osm_extract {
        let _ = writeln!(
            s,
            "Routing uses the complete OpenStreetMap extract `{}` given with `--osm` (not copied here).",
            p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
        );
    }
    s
}
