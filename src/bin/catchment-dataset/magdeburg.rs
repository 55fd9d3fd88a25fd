//! The Magdeburg case, built from the city's public data (see `data/magdeburg/README.md` for the
//! sources, their licences and every approximation): the municipal primary schools of the latest
//! school year, one sampled intake cohort placed on the Zensus 2022 100 m grid, every populated
//! grid cell as a block, and an OSM street file assembled from the street geometries at hand,
//! linked into one walking network by documented rules (`build_network`).
//!
//! Deterministic: the same source files and seed give byte-identical outputs.

use catchment::error::{Error, Result};
use catchment::instance::write_atomically;
use catchment::instance::DEFAULT_CLASS_SIZE;
use catchment::projection as laea;
use geo::{Contains, Intersects, LineString, Point, Polygon};
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
/// Pieces of the network (ways connected through shared vertices and the connectors above) whose
/// vertices come this close are joined by a link between their two nearest vertices, within one
/// Stadtteil: the source geometries break off where a cycle path meets a road that is not in the
/// data, or where a street goes on under a name that is not a person's.
pub const PIECE_JOIN_M: f64 = 30.0;
/// A populated cell's centre is linked to the nearest point of the network within this distance
/// (half the diagonal of a 100 m cell, rounded up: any street through the cell is reached).
pub const ACCESS_RADIUS_M: f64 = 71.0;
/// Pieces holding populated cells or schools that are still apart are linked to another such
/// piece when it has a vertex within this distance (and the barrier rule allows the link); the
/// farthest a school is linked to the network, too.
pub const MAX_PIECE_LINK_M: f64 = 5000.0;
/// The side of a Zensus grid cell.
const CELL_M: f64 = 100.0;
/// The tag of every way the generator adds to the source geometries; its value names the rule.
/// OSRM routes such ways (`highway=footway`); street lists and maps leave them out.
pub const LINK_TAG: &str = catchment::districts::streets::LINK_TAG;

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
    /// Intake cohorts of the coming years to write beside `pupils.csv` (0 to [`MAX_YEARS`]).
    pub years: u32,
}

/// The most coming years' cohorts: the single-age table's youngest age is 1, so the children
/// aged 5 - 4 = 1 at its last year are the last intake it knows.
pub const MAX_YEARS: u32 = 4;

/// A coming year's intake, aged forward from the single-age table: the residents aged
/// `5 - a` at the end of the table's last year start school `a` years after `pupils.csv`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct FutureCohort {
    /// The calendar year they start school (August).
    pub intake_year: i64,
    /// Their age at the end of the table's last year.
    pub age: u32,
    /// The cohort's size: the residents of that age then.
    pub size: u32,
    /// The sampled pupils, split by Stadtteil as `pupils.csv` is.
    pub pupils: Vec<PupilRow>,
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
    /// Plausible sites for a new school (see [`candidate_sites`]).
    pub candidates: Vec<CandidateRow>,
    /// OSM school/kindergarten points that no current school stands on.
    pub free_points: usize,
    /// The coming years' intake cohorts (`Options::years`), nearest year first.
    pub future: Vec<FutureCohort>,
}

/// A plausible site for a new school: a free OSM school or kindergarten point.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateRow {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    /// The Stadtteil it lies in (empty outside every polygon).
    pub district: String,
    /// Straight-line distance to the nearest current school.
    pub nearest_school_m: f64,
    /// Residents x meters by which it would shorten residents' straight-line distance to their
    /// nearest school (the rank of the candidate).
    pub gain: f64,
}

/// Candidate sites stand at least this far from every current school and from each other.
pub const CANDIDATE_SPACING_M: f64 = 300.0;
/// Classes per grade of a candidate site (a two-form-entry primary school).
pub const CANDIDATE_CLASSES: u32 = 2;

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
    /// Links between pieces that nearly touch ([`PIECE_JOIN_M`]).
    pub piece_joins: usize,
    /// Links from a populated cell's centre to the network ([`ACCESS_RADIUS_M`]).
    pub access_links: usize,
    /// Links between the centres of edge-neighbour populated cells.
    pub cell_links: usize,
    /// Links from a school to the network.
    pub school_links: usize,
    /// Links between pieces holding cells or schools ([`MAX_PIECE_LINK_M`]).
    pub piece_links: usize,
    /// Pieces of the source geometries (ways joined where their vertices coincide).
    pub source_pieces: usize,
    /// Pieces after the dead-end connectors and the joins of nearly touching pieces.
    pub joined_pieces: usize,
    /// Pieces of the network written.
    pub final_pieces: usize,
    /// Populated cells, and those whose centre lies in the largest piece.
    pub cells: usize,
    pub cells_in_largest: usize,
    /// Schools, and those in the largest piece of the cells.
    pub schools: usize,
    pub schools_in_largest: usize,
    /// Pairs of Stadtteile that are neighbours on land (see the README's barriers).
    pub land_pairs: usize,
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

const LAT_REF: f64 = 52.13;
const M_PER_DEG: f64 = 111_195.0;

/// Local planar meters around Magdeburg (equirectangular; fine within a city).
fn xy(lat: f64, lon: f64) -> (f64, f64) {
    (lon * M_PER_DEG * LAT_REF.to_radians().cos(), lat * M_PER_DEG)
}

/// The inverse of [`xy`]: (lat, lon).
fn from_xy(p: (f64, f64)) -> (f64, f64) {
    (p.1 / M_PER_DEG, p.0 / (M_PER_DEG * LAT_REF.to_radians().cos()))
}

/// Planar distance between two [`xy`] points.
fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
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
    /// (min lat, min lon, max lat, max lon) of all rings: most points are ruled out by it.
    bbox: (f64, f64, f64, f64),
}

impl District {
    /// A district from rings of (lat, lon) vertices.
    pub fn new(name: &str, rings: Vec<Vec<(f64, f64)>>) -> District {
        let mut bbox = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
        for &(lat, lon) in rings.iter().flatten() {
            bbox = (bbox.0.min(lat), bbox.1.min(lon), bbox.2.max(lat), bbox.3.max(lon));
        }
        let rings = rings
            .into_iter()
            .map(|r| {
                let ring: LineString<f64> = r.into_iter().map(|(lat, lon)| (lon, lat)).collect();
                Polygon::new(ring, vec![])
            })
            .collect();
        District { name: name.to_string(), rings, bbox }
    }

    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let b = self.bbox;
        if lat < b.0 || lon < b.1 || lat > b.2 || lon > b.3 {
            return false;
        }
        let p = Point::new(lon, lat);
        self.rings.iter().filter(|r| r.contains(&p)).count() % 2 == 1
    }

    /// Whether the straight line from `a` to `b` (lat, lon) meets the boundary of the district
    /// (touching counts).
    pub fn crosses(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        let bb = self.bbox;
        if a.0.max(b.0) < bb.0 || a.1.max(b.1) < bb.1 || a.0.min(b.0) > bb.2 || a.1.min(b.1) > bb.3
        {
            return false;
        }
        let seg = geo::Line::new((a.1, a.0), (b.1, b.0));
        self.rings.iter().any(|r| r.exterior().lines().any(|e| e.intersects(&seg)))
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

/// A cohort of `size` pupils split over the Stadtteile in proportion to their residents aged
/// 0-6 (`ages`, largest remainders), each at a Zensus cell of its Stadtteil drawn by residents
/// and a uniform point inside it; and each Stadtteil's share.
fn sample_pupils(
    rng: &mut ChaCha8Rng,
    size: u32,
    ages: &[(String, u32)],
    district_index: &[usize],
    cells: &[Cell],
) -> Result<(Vec<PupilRow>, Vec<DistrictCohort>)> {
    let cohort = size;
    let weights: Vec<u32> = ages.iter().map(|a| a.1).collect();
    let shares = apportion(cohort, &weights);
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
    Ok((pupils, cohorts))
}

/// The residents aged `age` at the end of `year` (the single-age table).
fn residents_aged(dir: &Path, year: i64, age: u32) -> Result<u32> {
    let v = read_json(dir, F_SINGLE_AGE)?;
    let rows = v["rows"].as_array().ok_or_else(|| bad(F_SINGLE_AGE, None, "rows", "missing"))?;
    let age_s = age.to_string();
    rows.iter()
        .find(|r| r["var1"].as_i64() == Some(year) && r["var2"].as_str() == Some(age_s.as_str()))
        .and_then(|r| r["var3"].as_u64())
        .map(|x| x as u32)
        .ok_or_else(|| {
            bad(F_SINGLE_AGE, None, "var3", &format!("no count for age {age} in {year}"))
        })
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

/// One way of the assembled network: node ids, `highway` value, name (may be empty), and for the
/// ways the generator adds, the rule that added it (the value of [`LINK_TAG`]).
struct Way {
    refs: Vec<u64>,
    highway: String,
    name: String,
    link: Option<&'static str>,
}

/// Union-find over node indices (0-based): the pieces of the network.
struct Pieces {
    parent: Vec<u32>,
}

impl Pieces {
    fn new(n: usize) -> Pieces {
        Pieces { parent: (0..n as u32).collect() }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = p;
            x = p;
        }
        x
    }

    /// Joins the pieces of `a` and `b`; false when they were one already.
    fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        // The smaller root stays: the result does not depend on the order of the calls.
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        self.parent[hi as usize] = lo;
        true
    }

    /// The pieces of `n` nodes joined along `ways` (1-based node ids).
    fn of(n: usize, ways: &[Way]) -> Pieces {
        let mut p = Pieces::new(n);
        for w in ways {
            for pair in w.refs.windows(2) {
                p.union(pair[0] as u32 - 1, pair[1] as u32 - 1);
            }
        }
        p
    }

    /// Number of pieces among the nodes that some way uses.
    fn count(&mut self, ways: &[Way]) -> usize {
        let mut roots: Vec<u32> =
            ways.iter().flat_map(|w| w.refs.iter()).map(|&r| r as u32 - 1).collect();
        roots.sort_unstable();
        roots.dedup();
        let mut r: Vec<u32> = roots.into_iter().map(|x| self.find(x)).collect();
        r.sort_unstable();
        r.dedup();
        r.len()
    }
}

/// A square grid over planar points (meters) for neighbour searches.
struct Grid {
    size: f64,
    cells: HashMap<(i64, i64), Vec<u32>>,
}

impl Grid {
    fn key(&self, p: (f64, f64)) -> (i64, i64) {
        ((p.0 / self.size).floor() as i64, (p.1 / self.size).floor() as i64)
    }

    fn new(size: f64) -> Grid {
        Grid { size, cells: HashMap::new() }
    }

    fn insert(&mut self, p: (f64, f64), item: u32) {
        let k = self.key(p);
        self.cells.entry(k).or_default().push(item);
    }

    /// Register `item` in every grid square the box `lo`..`hi` overlaps.
    fn insert_box(&mut self, lo: (f64, f64), hi: (f64, f64), item: u32) {
        let (a, b) = (self.key(lo), self.key(hi));
        for x in a.0..=b.0 {
            for y in a.1..=b.1 {
                self.cells.entry((x, y)).or_default().push(item);
            }
        }
    }

    /// The items registered in the squares within `r` of `p` (an item may repeat).
    fn near(&self, p: (f64, f64), r: f64) -> impl Iterator<Item = u32> + '_ {
        let (a, b) = (self.key((p.0 - r, p.1 - r)), self.key((p.0 + r, p.1 + r)));
        (a.0..=b.0)
            .flat_map(move |x| (a.1..=b.1).map(move |y| (x, y)))
            .flat_map(move |k| self.cells.get(&k).into_iter().flatten().copied())
    }
}

/// The nearest point to `p` on the segment `a`-`b` (planar): its parameter and distance.
fn project(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    (t, ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt())
}

/// The nodes and ways of the network under construction.
struct Builder<'a> {
    scale: f64,
    ids: HashMap<(i64, i64), u64>,
    nodes: Vec<(i64, i64)>,
    /// Planar position of each node (meters, [`xy`]).
    pos: Vec<(f64, f64)>,
    ways: Vec<Way>,
    districts: &'a [District],
    /// Pairs of Stadtteile (both orders) that are neighbours on land: populated cells of the
    /// two share an edge.
    land: std::collections::HashSet<(Option<usize>, Option<usize>)>,
}

impl Builder<'_> {
    fn node(&mut self, lat: f64, lon: f64) -> u64 {
        let key = ((lat * self.scale).round() as i64, (lon * self.scale).round() as i64);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        self.nodes.push(key);
        self.pos.push(xy(key.0 as f64 / self.scale, key.1 as f64 / self.scale));
        let id = self.nodes.len() as u64;
        self.ids.insert(key, id);
        id
    }

    fn latlon(&self, id: u64) -> (f64, f64) {
        let (la, lo) = self.nodes[id as usize - 1];
        (la as f64 / self.scale, lo as f64 / self.scale)
    }

    /// Whether a straight link from `a` to `b` (lat, lon) crosses no barrier: every two
    /// Stadtteile it touches (where it ends, whose boundary it meets; outside all of them
    /// counts as one more) are neighbours on land.
    fn within(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        let mut touched =
            vec![district_at(self.districts, a.0, a.1), district_at(self.districts, b.0, b.1)];
        touched.extend(
            self.districts
                .iter()
                .enumerate()
                .filter(|(_, d)| d.crosses(a, b))
                .map(|(i, _)| Some(i)),
        );
        touched.sort_unstable();
        touched.dedup();
        touched
            .iter()
            .enumerate()
            .all(|(i, x)| touched[i + 1..].iter().all(|y| self.land.contains(&(*x, *y))))
    }

    fn within_nodes(&self, a: u64, b: u64) -> bool {
        self.within(self.latlon(a), self.latlon(b))
    }

    fn link(&mut self, a: u64, b: u64, rule: &'static str) {
        self.ways.push(Way {
            refs: vec![a, b],
            highway: "footway".into(),
            name: String::new(),
            link: Some(rule),
        });
    }
}

/// The pairs of Stadtteile (both orders) whose populated cells share an edge somewhere: their
/// common boundary runs between houses, not along a river too wide for a cell.
fn land_neighbours(cells: &[Cell]) -> std::collections::HashSet<(Option<usize>, Option<usize>)> {
    let index: HashMap<(i64, i64), Option<usize>> = cells
        .iter()
        .map(|c| ((c.xmin.round() as i64, c.ymin.round() as i64), c.district))
        .collect();
    let step = CELL_M as i64;
    let mut out = std::collections::HashSet::new();
    for c in cells {
        let (x, y) = (c.xmin.round() as i64, c.ymin.round() as i64);
        for key in [(x + step, y), (x, y + step)] {
            if let Some(&d) = index.get(&key) {
                if d != c.district {
                    out.insert((d, c.district));
                    out.insert((c.district, d));
                }
            }
        }
    }
    out
}

/// The Stadtteil containing a point (the first in source order), or None.
fn district_at(districts: &[District], lat: f64, lon: f64) -> Option<usize> {
    districts.iter().position(|d| d.contains(lat, lon))
}

/// Assemble the walking network: the source geometries as OSM ways (rule 1), then links tagged
/// [`LINK_TAG`] by rules 2-7 (the README the generator writes states each rule and its counts):
/// dead ends, pieces that nearly touch, cell centres to the network, neighbouring cells,
/// schools to the network, pieces left apart — none across a barrier ([`Builder::within`]).
fn build_network(
    streets: &[Street],
    cells: &[Cell],
    schools: &[SchoolRow],
    districts: &[District],
) -> Network {
    let mut b = Builder {
        scale: 10f64.powi(NODE_DECIMALS),
        ids: HashMap::new(),
        nodes: Vec::new(),
        pos: Vec::new(),
        ways: Vec::new(),
        districts,
        land: land_neighbours(cells),
    };
    // 1. The source ways, joined where their vertices coincide.
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
                let id = b.node(lat, lon);
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
                b.ways.push(Way {
                    refs,
                    highway: highway.clone(),
                    name: s.name.clone(),
                    link: None,
                });
            }
        }
    }
    let source_pieces = Pieces::of(b.nodes.len(), &b.ways).count(&b.ways);

    // 2. Dead ends to a nearby vertex of another way.
    let mut member: Vec<Vec<u32>> = vec![Vec::new(); b.nodes.len()];
    for (w, way) in b.ways.iter().enumerate() {
        for &r in &way.refs {
            let m = &mut member[r as usize - 1];
            if m.last() != Some(&(w as u32)) {
                m.push(w as u32);
            }
        }
    }
    let mut grid = Grid::new(JOIN_RADIUS_M);
    for (i, &p) in b.pos.iter().enumerate() {
        grid.insert(p, i as u32);
    }
    let mut connectors: Vec<(u64, u64)> = Vec::new();
    let mut seen: std::collections::HashSet<(u64, u64)> = std::collections::HashSet::new();
    for (w, way) in b.ways.iter().enumerate() {
        for &end in [way.refs[0], way.refs[way.refs.len() - 1]].iter() {
            let e = end as usize - 1;
            if member[e].len() > 1 {
                continue; // already a junction
            }
            let mut best: Option<(f64, u32)> = None;
            for k in grid.near(b.pos[e], JOIN_RADIUS_M) {
                if member[k as usize].contains(&(w as u32)) {
                    continue;
                }
                let d = dist(b.pos[k as usize], b.pos[e]);
                if d <= JOIN_RADIUS_M && best.is_none_or(|(bd, bk)| d < bd || (d == bd && k < bk)) {
                    best = Some((d, k));
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
    for (x, y) in connectors {
        b.link(x, y, "dead_end");
    }

    // 3. Pieces that nearly touch: the nearest pairs of vertices of two pieces, nearest first,
    // across no barrier, until no two pieces come within PIECE_JOIN_M.
    let mut pieces = Pieces::of(b.nodes.len(), &b.ways);
    let mut grid = Grid::new(PIECE_JOIN_M);
    for (i, &p) in b.pos.iter().enumerate() {
        grid.insert(p, i as u32);
    }
    let mut candidates: Vec<(f64, u32, u32)> = Vec::new();
    for i in 0..b.nodes.len() as u32 {
        for k in grid.near(b.pos[i as usize], PIECE_JOIN_M) {
            if k <= i {
                continue;
            }
            let d = dist(b.pos[i as usize], b.pos[k as usize]);
            if d <= PIECE_JOIN_M && pieces.find(i) != pieces.find(k) {
                candidates.push((d, i, k));
            }
        }
    }
    candidates.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut piece_joins = 0;
    for (_, i, k) in candidates {
        if pieces.find(i) == pieces.find(k) {
            continue;
        }
        let (a, c) = (i as u64 + 1, k as u64 + 1);
        if !b.within_nodes(a, c) {
            continue;
        }
        pieces.union(i, k);
        b.link(a, c, "piece");
        piece_joins += 1;
    }
    let joined_pieces = pieces.count(&b.ways);

    // 4. Every populated cell's centre is a node, linked to the nearest point of the network
    // within ACCESS_RADIUS_M (a vertex, or a new vertex put into the segment there).
    let cell_node: Vec<u64> = cells.iter().map(|c| b.node(round6(c.lat), round6(c.lon))).collect();
    let segments = SegmentIndex::new(&b);
    // (way, segment, parameter, node) to put into the ways afterwards.
    let mut inserts: Vec<(u32, u32, f64, u64)> = Vec::new();
    let mut access_links = 0;
    for &node in &cell_node {
        if attach(&mut b, &segments, node, ACCESS_RADIUS_M, &mut inserts, "access") {
            access_links += 1;
        }
    }

    // 5. Edge neighbours among the populated cells.
    let index: HashMap<(i64, i64), usize> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.xmin.round() as i64, c.ymin.round() as i64), i))
        .collect();
    let step = CELL_M as i64;
    let mut cell_links = 0;
    for (i, c) in cells.iter().enumerate() {
        let (x, y) = (c.xmin.round() as i64, c.ymin.round() as i64);
        for key in [(x + step, y), (x, y + step)] {
            if let Some(&j) = index.get(&key) {
                if cell_node[i] != cell_node[j] && b.within_nodes(cell_node[i], cell_node[j]) {
                    b.link(cell_node[i], cell_node[j], "cell");
                    cell_links += 1;
                }
            }
        }
    }

    // 6. Every school is a node, linked to the nearest point of the network (rules 1-5).
    let segments = SegmentIndex::new(&b);
    let mut school_links = 0;
    for s in schools {
        let node = b.node(s.lat, s.lon);
        if attach(&mut b, &segments, node, MAX_PIECE_LINK_M, &mut inserts, "school") {
            school_links += 1;
        }
    }
    put_into_ways(&mut b.ways, inserts);

    // 7. Pieces holding cell centres or schools, still apart: each is linked at the nearest
    // pair of its vertex and a vertex of another such piece (within MAX_PIECE_LINK_M and the
    // barrier rule), nearest links first, in rounds until one piece holds them all or no link
    // is left (Borůvka's rounds of a spanning tree).
    let school_nodes = school_node(&b, schools);
    let mut piece_links = 0;
    loop {
        let mut pieces = Pieces::of(b.nodes.len(), &b.ways);
        let mut used = vec![false; b.nodes.len()];
        for &r in b.ways.iter().flat_map(|w| w.refs.iter()).chain(&cell_node).chain(&school_nodes) {
            used[r as usize - 1] = true;
        }
        let wanted: std::collections::BTreeSet<u32> =
            cell_node.iter().chain(&school_nodes).map(|&n| pieces.find(n as u32 - 1)).collect();
        if wanted.len() <= 1 {
            break;
        }
        let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut grid = Grid::new(CELL_M);
        for i in 0..b.nodes.len() as u32 {
            let r = pieces.find(i);
            if used[i as usize] && wanted.contains(&r) {
                groups.entry(r).or_default().push(i);
                grid.insert(b.pos[i as usize], i);
            }
        }
        // The largest group looks for no link of its own: every other one does.
        let largest = groups
            .iter()
            .max_by(|x, y| x.1.len().cmp(&y.1.len()).then(y.0.cmp(x.0)))
            .map(|(&r, _)| r);
        let mut links: Vec<(f64, u32, u32)> = Vec::new();
        for (&root, members) in &groups {
            if Some(root) == largest {
                continue;
            }
            let mut r = CELL_M;
            let found = loop {
                let mut pairs: Vec<(f64, u32, u32)> = Vec::new();
                for &u in members {
                    let p = b.pos[u as usize];
                    for v in grid.near(p, r) {
                        let d = dist(p, b.pos[v as usize]);
                        if d <= r && pieces.find(v) != root {
                            pairs.push((d, u, v));
                        }
                    }
                }
                pairs.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
                pairs.dedup();
                let hit =
                    pairs.into_iter().find(|&(_, u, v)| b.within_nodes(u as u64 + 1, v as u64 + 1));
                if hit.is_some() || r >= MAX_PIECE_LINK_M {
                    break hit;
                }
                r = (r * 2.0).min(MAX_PIECE_LINK_M);
            };
            links.extend(found);
        }
        links.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        let mut added = 0;
        for (_, u, v) in links {
            if pieces.union(u, v) {
                b.link(u as u64 + 1, v as u64 + 1, "apart");
                added += 1;
            }
        }
        piece_links += added;
        if added == 0 {
            break;
        }
    }
    let mut pieces = Pieces::of(b.nodes.len(), &b.ways);
    let final_pieces = pieces.count(&b.ways);
    let main_root = {
        let mut size: BTreeMap<u32, usize> = BTreeMap::new();
        for &n in &cell_node {
            *size.entry(pieces.find(n as u32 - 1)).or_default() += 1;
        }
        size.into_iter().max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))
    };
    let cells_in_largest = main_root.map(|(_, n)| n).unwrap_or(0);
    let schools_in_largest = match main_root {
        Some((root, _)) => {
            school_nodes.iter().filter(|&&n| pieces.find(n as u32 - 1) == root).count()
        }
        None => 0,
    };

    let xml = network_xml(&b);
    Network {
        xml,
        nodes: b.nodes.len(),
        ways: b.ways.len(),
        cycle_ways,
        named_ways,
        connectors: n_connectors,
        piece_joins,
        access_links,
        cell_links,
        school_links,
        piece_links,
        source_pieces,
        joined_pieces,
        final_pieces,
        cells: cells.len(),
        cells_in_largest,
        schools: schools.len(),
        schools_in_largest,
        land_pairs: b.land.iter().filter(|(x, y)| x < y).count(),
    }
}

/// The node of each school (already in the network).
fn school_node(b: &Builder, schools: &[SchoolRow]) -> Vec<u64> {
    let scale = b.scale;
    schools
        .iter()
        .filter_map(|s| {
            b.ids.get(&((s.lat * scale).round() as i64, (s.lon * scale).round() as i64)).copied()
        })
        .collect()
}

/// The segments of the ways, by the grid squares of their bounding boxes.
struct SegmentIndex {
    grid: Grid,
    /// (way, index of the segment's first vertex in the way)
    segments: Vec<(u32, u32)>,
}

impl SegmentIndex {
    fn new(b: &Builder) -> SegmentIndex {
        let mut grid = Grid::new(CELL_M);
        let mut segments = Vec::new();
        for (w, way) in b.ways.iter().enumerate() {
            for (s, pair) in way.refs.windows(2).enumerate() {
                let (p, q) = (b.pos[pair[0] as usize - 1], b.pos[pair[1] as usize - 1]);
                grid.insert_box(
                    (p.0.min(q.0), p.1.min(q.1)),
                    (p.0.max(q.0), p.1.max(q.1)),
                    segments.len() as u32,
                );
                segments.push((w as u32, s as u32));
            }
        }
        SegmentIndex { grid, segments }
    }
}

/// Link node `from` to the nearest point of the indexed segments within `radius` whose link
/// crosses no barrier ([`Builder::within`]): a vertex, or a new vertex to put into the segment
/// (`inserts`). False when there is none (or `from` lies on the network already).
fn attach(
    b: &mut Builder,
    index: &SegmentIndex,
    from: u64,
    radius: f64,
    inserts: &mut Vec<(u32, u32, f64, u64)>,
    rule: &'static str,
) -> bool {
    let centre = b.pos[from as usize - 1];
    // Growing radii, so that a far search costs little where the network is near.
    let mut r = ACCESS_RADIUS_M.min(radius);
    loop {
        let mut near: Vec<(f64, u32, f64)> = index
            .grid
            .near(centre, r)
            .filter_map(|k| {
                let (w, s) = index.segments[k as usize];
                let refs = &b.ways[w as usize].refs;
                let (p, q) = (
                    b.pos[refs[s as usize] as usize - 1],
                    b.pos[refs[s as usize + 1] as usize - 1],
                );
                let (t, d) = project(centre, p, q);
                (d <= r).then_some((d, k, t))
            })
            .collect();
        near.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        near.dedup_by_key(|x| x.1);
        for (_, k, t) in near {
            let (w, s) = index.segments[k as usize];
            let refs = &b.ways[w as usize].refs;
            let (p, q) = (refs[s as usize], refs[s as usize + 1]);
            if p == from || q == from {
                return false; // on the network already
            }
            let (pp, qq) = (b.pos[p as usize - 1], b.pos[q as usize - 1]);
            let at = (pp.0 + t * (qq.0 - pp.0), pp.1 + t * (qq.1 - pp.1));
            let (lat, lon) = from_xy(at);
            if !b.within(b.latlon(from), (lat, lon)) {
                continue;
            }
            let id = b.node(lat, lon);
            if id != p && id != q {
                inserts.push((w, s, t, id));
            }
            if id == from {
                return false;
            }
            b.link(from, id, rule);
            return true;
        }
        if r >= radius {
            return false;
        }
        r = (r * 2.0).min(radius);
    }
}

/// Put new vertices into the segments of the ways: (way, segment, parameter, node).
fn put_into_ways(ways: &mut [Way], mut inserts: Vec<(u32, u32, f64, u64)>) {
    inserts.sort_by(|x, y| {
        x.0.cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.total_cmp(&y.2)).then(x.3.cmp(&y.3))
    });
    inserts.dedup_by_key(|x| (x.0, x.1, x.3));
    let mut k = 0;
    while k < inserts.len() {
        let w = inserts[k].0 as usize;
        let old = std::mem::take(&mut ways[w].refs);
        let mut refs = Vec::with_capacity(old.len() + 4);
        for (s, &r) in old.iter().enumerate() {
            refs.push(r);
            while k < inserts.len() && inserts[k].0 as usize == w && inserts[k].1 as usize == s {
                if refs.last() != Some(&inserts[k].3) {
                    refs.push(inserts[k].3);
                }
                k += 1;
            }
        }
        ways[w].refs = refs;
    }
}

fn network_xml(b: &Builder) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
    };
    let scale = b.scale;
    let mut xml = String::with_capacity(b.nodes.len() * 80 + b.ways.len() * 200);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\" generator=\"catchment-dataset magdeburg\">\n",
    );
    if !b.nodes.is_empty() {
        let (mut a, mut c, mut d, mut e) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        for &(la, lo) in &b.nodes {
            a = a.min(la);
            c = c.min(lo);
            d = d.max(la);
            e = e.max(lo);
        }
        let f = |v: i64| format!("{:.7}", v as f64 / scale);
        let _ = writeln!(
            xml,
            "  <bounds minlat=\"{}\" minlon=\"{}\" maxlat=\"{}\" maxlon=\"{}\"/>",
            f(a),
            f(c),
            f(d),
            f(e)
        );
    }
    for (i, &(la, lo)) in b.nodes.iter().enumerate() {
        let _ = writeln!(
            xml,
            "  <node id=\"{}\" lat=\"{:.7}\" lon=\"{:.7}\"/>",
            i + 1,
            la as f64 / scale,
            lo as f64 / scale
        );
    }
    for (i, w) in b.ways.iter().enumerate() {
        let _ = writeln!(xml, "  <way id=\"{}\">", i + 1);
        for r in &w.refs {
            let _ = writeln!(xml, "    <nd ref=\"{r}\"/>");
        }
        let _ = writeln!(xml, "    <tag k=\"highway\" v=\"{}\"/>", esc(&w.highway));
        if !w.name.is_empty() {
            let _ = writeln!(xml, "    <tag k=\"name\" v=\"{}\"/>", esc(&w.name));
        }
        if let Some(rule) = w.link {
            let _ = writeln!(xml, "    <tag k=\"{LINK_TAG}\" v=\"{rule}\"/>");
        }
        xml.push_str("  </way>\n");
    }
    xml.push_str("</osm>\n");
    xml
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
    let candidates = candidate_sites(&points, &schools, &cells, &districts);
    let free_points =
        points.iter().filter(|&&p| schools.iter().all(|s| dist_m(p, (s.lat, s.lon)) > 1.0)).count();

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
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let (pupils, cohorts) = sample_pupils(&mut rng, cohort, &ages, &district_index, &cells)?;
    if opts.years > MAX_YEARS {
        return Err(Error::policy(
            format!(
                "{} coming years asked, the single-age table knows {MAX_YEARS} (ages 4 to 1 in {cohort_year})",
                opts.years
            ),
            None,
        ));
    }
    let mut future = Vec::new();
    for a in 1..=opts.years {
        let age = 5 - a;
        let size = residents_aged(dir, cohort_year, age)?;
        // A stream of its own per year: this year's pupils do not move when more are asked.
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(u64::from(a));
        let (pupils, _) = sample_pupils(&mut rng, size, &ages, &district_index, &cells)?;
        future.push(FutureCohort {
            intake_year: cohort_year + 1 + i64::from(a),
            age,
            size,
            pupils,
        });
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
    let network = if opts.osm.is_none() {
        Some(build_network(&streets, &cells, &schools, &districts))
    } else {
        None
    };
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
        candidates,
        free_points,
        future,
    })
}

/// Plausible sites for a new school: every OSM school or kindergarten point that no current
/// school stands on (land already used for education), ranked by [`gain`] — how much a school
/// there would shorten residents' straight-line distance to their nearest school — and taken in
/// that order when at least [`CANDIDATE_SPACING_M`] from every current school and every site
/// taken before (so that two candidates are two different places). Ties by position.
fn candidate_sites(
    points: &[(f64, f64)],
    schools: &[SchoolRow],
    cells: &[Cell],
    districts: &[District],
) -> Vec<CandidateRow> {
    let nearest_school = |p: (f64, f64)| {
        schools.iter().map(|s| dist_m(p, (s.lat, s.lon))).fold(f64::INFINITY, f64::min)
    };
    let nearest: Vec<f64> = cells.iter().map(|c| nearest_school((c.lat, c.lon))).collect();
    let mut ranked: Vec<(f64, (f64, f64))> = points
        .iter()
        .filter(|&&p| nearest_school(p) >= CANDIDATE_SPACING_M)
        .map(|&p| (gain(p, cells, &nearest), p))
        .collect();
    ranked.sort_by(|a, b| {
        b.0.total_cmp(&a.0).then(a.1 .0.total_cmp(&b.1 .0)).then(a.1 .1.total_cmp(&b.1 .1))
    });
    let mut taken: Vec<((f64, f64), f64)> = Vec::new();
    for (g, p) in ranked {
        if taken.iter().all(|(q, _)| dist_m(p, *q) >= CANDIDATE_SPACING_M) {
            taken.push((p, g));
        }
    }
    let width = taken.len().to_string().len().max(2);
    taken
        .into_iter()
        .enumerate()
        .map(|(i, (p, g))| CandidateRow {
            id: format!("C{:0width$}", i + 1),
            lat: p.0,
            lon: p.1,
            district: district_at(districts, p.0, p.1)
                .map(|d| districts[d].name.clone())
                .unwrap_or_default(),
            nearest_school_m: nearest_school(p),
            gain: g,
        })
        .collect()
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
        for f in &ds.future {
            csv_out(
                &dir.join(format!("pupils-{}.csv", f.intake_year)),
                &["id", "lat", "lon", "block"],
                f.pupils.iter().map(|p| {
                    vec![
                        p.id.clone(),
                        format!("{:.6}", p.lat),
                        format!("{:.6}", p.lon),
                        p.block.clone(),
                    ]
                }),
            )?;
        }
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
        csv_out(
            &dir.join("candidates.csv"),
            &[
                "id",
                "name",
                "lat",
                "lon",
                "max_classes",
                "class_size",
                "stadtteil",
                "nearest_school_m",
                "gain_resident_km",
            ],
            ds.candidates.iter().map(|c| {
                vec![
                    c.id.clone(),
                    if c.district.is_empty() {
                        format!("Candidate site {}", c.id)
                    } else {
                        format!("Candidate site {} ({})", c.id, c.district)
                    },
                    format!("{:.6}", c.lat),
                    format!("{:.6}", c.lon),
                    CANDIDATE_CLASSES.to_string(),
                    DEFAULT_CLASS_SIZE.to_string(),
                    c.district.clone(),
                    format!("{:.0}", c.nearest_school_m),
                    format!("{:.0}", c.gain / 1000.0),
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
Generated by `catchment-dataset magdeburg --source ../shared/data/magdeburg --out data/magdeburg --seed {seed}{years}`\n\
from public data about Magdeburg. Regenerating it gives these files byte for byte\n\
(`tests/magdeburg_dataset.rs` checks this). **The pupils are sampled, not real children; the school\n\
locations and the street network are approximations.** Read the caveats below before quoting any figure\n\
computed from this case.\n\n\
| file | content |\n|---|---|\n\
| `schools.csv` | {ns} municipal primary schools (Grundschulen) of {sy}: `id,name,lat,lon,max_classes,class_size` + how each was placed (`placement`, `approximate`, `classes_all_grades`, `snap_m`, `matched`) |\n\
| `pupils.csv` | {n} sampled first-graders: `id,lat,lon,block` (block = Zensus 100 m cell) |\n{future}\
| `blocks.csv` | all {nb} populated Zensus 100 m cells of the city: `block_id,lat,lon,residents,district` ({wp} of them have pupils this year) |\n\
| `candidates.csv` | {nc} plausible sites for a new school, {cc} classes of {cs} each (see *Candidate sites* below): `id,name,lat,lon,max_classes,class_size,stadtteil,nearest_school_m,gain_resident_km` |\n",
        seed = ds.seed,
        years = if ds.future.is_empty() {
            String::new()
        } else {
            format!(" --years {}", ds.future.len())
        },
        nc = ds.candidates.len(),
        cc = CANDIDATE_CLASSES,
        cs = DEFAULT_CLASS_SIZE,
        ns = ds.schools.len(),
        sy = ds.school_year,
        nb = ds.blocks.len(),
        wp = with_pupils,
        future = if ds.future.is_empty() {
            String::new()
        } else {
            "| `pupils-<year>.csv` | the coming years' intakes, aged forward from the age tables (see *The coming years' intakes*) |\n".to_string()
        },
    );
    match (&ds.network, &ds.osm_extract) {
        (Some(net), _) => {
            let _ = writeln!(
                s,
                "| `network.osm` | OSM XML assembled from the street geometries and linked by the rules below: {} nodes, {} ways ({} cycle-path pieces, {} person-named street pieces, {} links: `{LINK_TAG}` = `dead_end` {}, `piece` {}, `access` {}, `cell` {}, `school` {}, `apart` {}) |",
                net.nodes,
                net.ways,
                net.cycle_ways,
                net.named_ways,
                net.connectors
                    + net.piece_joins
                    + net.access_links
                    + net.cell_links
                    + net.school_links
                    + net.piece_links,
                net.connectors,
                net.piece_joins,
                net.access_links,
                net.cell_links,
                net.school_links,
                net.piece_links,
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
    if !ds.future.is_empty() {
        let _ = write!(
            s,
            "\n## The coming years' intakes\n\n\
Written with `--years {n}`: the children aged 5 - a at the end of {cy} start school a years after\n\
`pupils.csv`'s cohort. Each `pupils-<year>.csv` has as many pupils as the single-age table counts\n\
residents of that age in {cy}, split over the Stadtteile by the same shares of residents aged 0-6\n\
({py}) and placed on the grid the same way (seed {seed}, a ChaCha8 stream of its own per year).\n\
Limits: nobody moves, is born or dies in between (the table's counts of {cy} are the intake,\n\
with no migration or mortality); every year has today's Stadtteil shares of the 0-6 year-olds, not\n\
the shares of each age, which the district table does not give; and the cells are drawn by all\n\
residents, as for `pupils.csv`. Use them with `catchment sites --cohort pupils-<year>.csv` (the\n\
matrix is keyed by block, so it serves every cohort).\n\n\
| file | intake | aged in {cy} | pupils |\n|---|---|---|---|\n",
            n = ds.future.len(),
            cy = ds.cohort_year,
            py = ds.population_year,
            seed = ds.seed,
        );
        for f in &ds.future {
            let _ = writeln!(
                s,
                "| `pupils-{y}.csv` | August {y} | {a} | {n} |",
                y = f.intake_year,
                a = f.age,
                n = f.size
            );
        }
    }
    let _ = write!(
        s,
        "\n## Blocks\n\n\
`blocks.csv` lists every Zensus cell of the city with residents ({nb} cells), with or without pupils\n\
this year, so that a district plan can give every block a school. `district` is the Stadtteil whose\n\
polygon contains the cell centre ({outside} cells lie in none and have it empty).\n\n\
## Candidate sites\n\n\
`candidates.csv` lists plausible places for one more primary school, for `catchment sites`. A new\n\
school needs land the city can use for it, and land already used for education is the likeliest:\n\
the candidates are the OSM school and kindergarten points that no current school stands on\n\
({free} points), at least {spacing:.0} m from every current school, ranked by how much a school\n\
there would shorten residents' straight-line distance to their nearest school (residents x km,\n\
`gain_resident_km`), and taken in that order when at least {spacing:.0} m from every site taken\n\
before: {nc} sites in {nd} Stadtteile. Each is given {cc} classes of {cs} (a two-form-entry\n\
school). Whether a plot is free, large enough or for sale is not known: the list is where to look\n\
first, not a decision.\n\n\
## Network: an approximation of walking distances\n\n",
        nb = ds.blocks.len(),
        free = ds.free_points,
        spacing = CANDIDATE_SPACING_M,
        nc = ds.candidates.len(),
        nd = {
            let mut d: Vec<&str> = ds.candidates.iter().map(|c| c.district.as_str()).collect();
            d.sort_unstable();
            d.dedup();
            d.len()
        },
        cc = CANDIDATE_CLASSES,
        cs = DEFAULT_CLASS_SIZE,
    );
    if let Some(net) = &ds.network {
        let _ = write!(
            s,
            "`network.osm` is **not a complete street network**: the source data has only the cycle paths and\n\
the streets named after people, {source} pieces that do not meet. The generator links them by the\n\
rules below, so that a walk can follow the populated grid where the street of a home is missing,\n\
but the links are straight synthetic footways, not streets: walks routed on it still approximate\n\
the true walking distances (some longer, where a street is missing between two pieces or a home is\n\
joined only through its neighbours; some shorter, where a link cuts across a block of houses or a\n\
fence), and every figure computed on it must say so. For real distances, regenerate with a complete\n\
OpenStreetMap extract: `catchment-dataset magdeburg --source ../shared/data/magdeburg --out\n\
data/magdeburg --osm magdeburg.osm.pbf`.\n\n\
The rules, in the order they are applied (distances in local planar meters; every rule is the same\n\
for any city's source data, and ties are broken by node id, so the file is the same on every run):\n\n\
1. **Source ways.** Every cycle path (`highway=footway`) and person-named street\n\
\x20  (`highway=residential`; the source has no highway tags) is a way with its `name`; ways join\n\
\x20  where their vertices coincide (coordinates rounded to 1e-7 degrees): {source} pieces.\n\
2. **Dead ends** (`{tag}=dead_end`): an end of a way that meets no other way is linked to the\n\
\x20  nearest vertex of another way within {join:.0} m ({dead_end} links).\n\
3. **Pieces that nearly touch** (`piece`): two pieces whose vertices come within {piece:.0} m of each\n\
\x20  other are linked at their nearest pair of vertices, nearest pairs first, until no two pieces\n\
\x20  within {piece:.0} m remain apart ({piece_joins} links; {joined} pieces left).\n\
4. **Homes to the network** (`access`): the centre of every populated Zensus cell ({cells}) is a\n\
\x20  node, linked to the nearest point of the network of rules 1-3 within {access:.0} m (half the\n\
\x20  cell's diagonal: any street through the cell); a point inside a segment becomes a vertex of\n\
\x20  its way ({access_links} links).\n\
5. **Neighbouring cells** (`cell`): the centres of two populated cells that share an edge are\n\
\x20  linked, a 100 m footway, so a walk can cross the populated grid where its streets are missing\n\
\x20  ({cell_links} links). Corners are not linked.\n\
6. **Schools to the network** (`school`): every school ({schools}) is a node, linked to the nearest\n\
\x20  point of the network of rules 1-5, as in rule 4 but at any distance up to {apart:.0} m\n\
\x20  ({school_links} links), so that a router places the school on its own link, not on whatever way\n\
\x20  passes nearest.\n\
7. **Pieces left apart** (`apart`): pieces that hold a cell centre or a school but are still\n\
\x20  apart are linked, each at the nearest pair of its vertex and a vertex of another such piece\n\
\x20  within {apart:.0} m, nearest links first, in rounds until one piece holds them all\n\
\x20  ({piece_links} links). The network then has {pieces} pieces (the others are fragments of the\n\
\x20  source without a home or a school); the largest holds {in_largest} of the {cells} cell centres\n\
\x20  and {schools_in} of the {schools} schools.{outside}\n\n\
**Barriers.** The source has no geometry of the Elbe, its side arms or the railway lines; the\n\
Stadtteil boundaries follow them, and the populated cells show which boundaries run between\n\
houses: two Stadtteile are **neighbours on land** when a populated cell of one shares an edge with\n\
a populated cell of the other ({land} pairs here). A link of rules 3-7 is made only when every two\n\
Stadtteile it touches (where its ends lie, whose boundary its straight line meets; outside every\n\
Stadtteil counts as one more) are the same or neighbours on land; where the nearest candidate\n\
breaks this, the next nearest is taken. A river wider than two cells (200 m) always leaves an\n\
unpopulated cell between the houses of its two banks, a narrower one mostly does: here no two\n\
Stadtteile on opposite banks of the Elbe or the Alte Elbe are neighbours on land\n\
(`tests/magdeburg_dataset.rs` checks every link against the banks), so the only ways across the\n\
river are the source's own, its bridges (which are in the cycle-path data). The rule is coarse in both\n\
directions: a link may cross a railway or a narrow stream on a boundary between two Stadtteile\n\
that touch on land elsewhere, and a boundary across open land between Stadtteile whose houses\n\
never meet is crossed only by the source ways. Rule 2 keeps its older form without the barrier\n\
test: {join:.0} m cannot span the Elbe.\n\n\
The links carry the tag `{tag}` with the rule's name: OSRM's foot profile routes them like any\n\
footway, while catchment's street readers leave them out of street lists and maps.\n",
            source = net.source_pieces,
            tag = LINK_TAG,
            join = JOIN_RADIUS_M,
            dead_end = net.connectors,
            piece = PIECE_JOIN_M,
            piece_joins = net.piece_joins,
            joined = net.joined_pieces,
            cells = net.cells,
            access = ACCESS_RADIUS_M,
            access_links = net.access_links,
            cell_links = net.cell_links,
            apart = MAX_PIECE_LINK_M,
            piece_links = net.piece_links,
            pieces = net.final_pieces,
            in_largest = net.cells_in_largest,
            schools = net.schools,
            school_links = net.school_links,
            schools_in = net.schools_in_largest,
            land = net.land_pairs,
            outside = if net.cells_in_largest < net.cells || net.schools_in_largest < net.schools {
                " The others are routed from the nearest way of the largest piece."
            } else {
                ""
            },
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
