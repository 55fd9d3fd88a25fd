//! The street list of a bylaw: street, house-number range, school. Two cases:
//!
//! - **address blocks** (blocks with `street` and `house_number`): each street's numbers in
//!   order, contiguous numbers with the same school merged, split by odd and even side where
//!   that is how the districts fall (fewer parts than mixing both sides);
//! - **grid blocks** (census cells, no house numbers): each named street listed by the cells it
//!   runs through, one part per school, from the street geometries of an OSM file.

use super::blocks::{grid_cell, Block, GridCell};
use crate::error::{Error, Result};
use crate::instance::id_cmp;
use crate::projection as laea;
use crate::routing::geocode::normalize_street;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A street's geometry: a line of (lat, lon) points.
#[derive(Debug, Clone, PartialEq)]
pub struct StreetLine {
    /// The street's name as in the OSM data; empty for a way without a name (a path), which
    /// only the map draws.
    pub name: String,
    /// The line's points as (lat, lon) in degrees (WGS84).
    pub points: Vec<(f64, f64)>,
}

/// One line of the street list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreetPart {
    /// The street's name.
    pub street: String,
    /// E.g. `1–15 (odd)`, `11a`, `all`; empty for grid blocks (no house numbers).
    pub house_numbers: String,
    /// The school of this part (index into the schools).
    pub school: usize,
    /// The blocks of this part, in house-number order (addresses) or id order (grid cells).
    pub blocks: Vec<String>,
}

/// How the list was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum StreetListKind {
    /// Streets by their address blocks' house numbers.
    Addresses,
    /// Streets by the grid cells (of this edge length in meters) they run through.
    GridCells(u32),
}

/// The street list of a publication: how it was made and its lines, street by street.
#[derive(Debug, Clone, PartialEq)]
pub struct StreetList {
    /// How the list was made.
    pub kind: StreetListKind,
    /// The lines of the list.
    pub parts: Vec<StreetPart>,
}

impl StreetList {
    /// A sentence for the reader on how the list was made.
    pub fn note(&self) -> String {
        match self.kind {
            StreetListKind::Addresses => "Each street with its house numbers; contiguous numbers with the same school are merged, \
                and a street split by sides lists odd and even numbers apart."
                .into(),
            StreetListKind::GridCells(size) => format!(
                "This case has no house numbers: its blocks are {size} m census grid cells. Each street is listed with the cells \
                 it runs through, one line per school; a street in several districts appears once per district."
            ),
        }
    }
}

/// Leading digits as a number, the rest (lower case) as a suffix: `11a` -> (11, "a").
fn house_key(h: &str) -> (u32, String) {
    let h = h.trim();
    let digits: String = h.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n = digits.parse().unwrap_or(u32::MAX);
    (n, h[digits.len()..].trim().to_lowercase())
}

/// A house on a street: number, suffix, the number as written, school.
type House = (u32, String, String, usize);

/// The street list from address blocks and their schools (`school[i]` for `blocks[i]`).
pub fn address_street_list(blocks: &[Block], school: &[Option<usize>]) -> StreetList {
    let mut streets: BTreeMap<String, (String, Vec<House>)> = BTreeMap::new();
    for (b, s) in blocks.iter().zip(school) {
        let (Some(street), Some(num), Some(s)) = (&b.street, &b.house_number, s) else { continue };
        let (n, suffix) = house_key(num);
        let entry =
            streets.entry(normalize_street(street)).or_insert_with(|| (street.clone(), Vec::new()));
        entry.1.push((n, suffix, num.trim().to_string(), *s));
    }
    // Block ids by (street, number) for the parts.
    let mut ids: HashMap<(String, String), String> = HashMap::new();
    for b in blocks {
        if let (Some(street), Some(num)) = (&b.street, &b.house_number) {
            ids.insert((normalize_street(street), num.trim().to_string()), b.id.clone());
        }
    }
    let mut parts = Vec::new();
    for (key, (name, mut nums)) in streets {
        nums.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        nums.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let runs = |list: &[&House]| -> Vec<(usize, usize)> {
            let mut out: Vec<(usize, usize)> = Vec::new();
            for (i, x) in list.iter().enumerate() {
                match out.last_mut() {
                    Some((_, end)) if list[*end].3 == x.3 => *end = i,
                    _ => out.push((i, i)),
                }
            }
            out
        };
        let all: Vec<&_> = nums.iter().collect();
        let mixed = runs(&all);
        let block_ids = |list: &[&House], a: usize, b: usize| -> Vec<String> {
            list[a..=b]
                .iter()
                .filter_map(|x| ids.get(&(key.clone(), x.2.clone())).cloned())
                .collect()
        };
        let label = |list: &[&House], a: usize, b: usize| -> String {
            if a == b {
                list[a].2.clone()
            } else {
                format!("{}–{}", list[a].2, list[b].2)
            }
        };
        if mixed.len() == 1 {
            parts.push(StreetPart {
                street: name.clone(),
                house_numbers: "all".into(),
                school: nums[0].3,
                blocks: block_ids(&all, 0, all.len() - 1),
            });
            continue;
        }
        let odd: Vec<&_> = nums.iter().filter(|x| x.0 % 2 == 1).collect();
        let even: Vec<&_> = nums.iter().filter(|x| x.0 % 2 == 0).collect();
        let (odd_runs, even_runs) = (runs(&odd), runs(&even));
        if odd_runs.len() + even_runs.len() < mixed.len() {
            for (list, rs, side) in [(&odd, &odd_runs, "odd"), (&even, &even_runs, "even")] {
                for &(a, b) in rs {
                    parts.push(StreetPart {
                        street: name.clone(),
                        house_numbers: format!("{} ({side})", label(list, a, b)),
                        school: list[a].3,
                        blocks: block_ids(list, a, b),
                    });
                }
            }
        } else {
            for &(a, b) in &mixed {
                parts.push(StreetPart {
                    street: name.clone(),
                    house_numbers: label(&all, a, b),
                    school: all[a].3,
                    blocks: block_ids(&all, a, b),
                });
            }
        }
    }
    StreetList { kind: StreetListKind::Addresses, parts }
}

/// The street list for grid blocks: every named street with the cells it runs through, one
/// part per school. `school[i]` is the school of `blocks[i]`.
pub fn grid_street_list(
    lines: &[StreetLine],
    blocks: &[Block],
    school: &[Option<usize>],
) -> Result<StreetList> {
    let mut size = None;
    let mut by_cell: HashMap<GridCell, usize> = HashMap::with_capacity(blocks.len());
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
        by_cell.insert(c, i);
    }
    let size = size.unwrap_or(100);
    let step = size as f64 / 5.0;
    let mut streets: BTreeMap<String, (String, BTreeMap<usize, Vec<usize>>)> = BTreeMap::new();
    // Ways without a name (paths, drawn on the report's map) have no place in the list.
    for line in lines.iter().filter(|l| !l.name.trim().is_empty()) {
        let entry = streets
            .entry(normalize_street(&line.name))
            .or_insert_with(|| (line.name.clone(), BTreeMap::new()));
        let pts: Vec<(f64, f64)> =
            line.points.iter().map(|&(lat, lon)| laea::forward(lat, lon)).collect();
        let mut visit = |e: f64, n: f64| {
            if let Some(&b) = by_cell.get(&GridCell::containing(size, e, n)) {
                if let Some(s) = school[b] {
                    entry.1.entry(s).or_default().push(b);
                }
            }
        };
        if let Some(&(e, n)) = pts.first() {
            visit(e, n);
        }
        for w in pts.windows(2) {
            let ((e0, n0), (e1, n1)) = (w[0], w[1]);
            let steps = ((e1 - e0).hypot(n1 - n0) / step).ceil().max(1.0) as usize;
            for k in 1..=steps {
                let t = k as f64 / steps as f64;
                visit(e0 + (e1 - e0) * t, n0 + (n1 - n0) * t);
            }
        }
    }
    let mut parts = Vec::new();
    for (_, (name, by_school)) in streets {
        for (s, mut bs) in by_school {
            bs.sort_unstable();
            bs.dedup();
            let mut ids: Vec<String> = bs.iter().map(|&b| blocks[b].id.clone()).collect();
            ids.sort_by(|a, b| id_cmp(a, b));
            parts.push(StreetPart {
                street: name.clone(),
                house_numbers: String::new(),
                school: s,
                blocks: ids,
            });
        }
    }
    Ok(StreetList { kind: StreetListKind::GridCells(size), parts })
}

/// Streets (`highway` ways; the street list uses those with a `name`, the map all of them)
/// from an OSM file: `.osm` (XML), `.osm.pbf`, or GeoJSON (LineString / MultiLineString
/// features, named by a `name` property). Fails when no way has a name.
pub fn read_street_lines(path: &Path) -> Result<Vec<StreetLine>> {
    let name = path.to_string_lossy().to_lowercase();
    let lines = if name.ends_with(".pbf") {
        from_pbf(path)
    } else if name.ends_with(".geojson") || name.ends_with(".json") {
        from_geojson(path)
    } else {
        from_osm_xml(path)
    }?;
    if lines.iter().all(|l| l.name.trim().is_empty()) {
        return Err(Error::input(
            &path.display().to_string(),
            None,
            None,
            "no named streets found (ways with 'highway' and 'name' tags)",
        ));
    }
    Ok(lines)
}

fn from_osm_xml(path: &Path) -> Result<Vec<StreetLine>> {
    use quick_xml::events::Event;
    let err = |e: &dyn std::fmt::Display| {
        Error::input(&path.display().to_string(), None, None, e.to_string())
    };
    let mut reader = quick_xml::Reader::from_file(path).map_err(|e| err(&e))?;
    let mut buf = Vec::new();
    let mut nodes: HashMap<i64, (f64, f64)> = HashMap::new();
    let mut ways: Vec<(String, Vec<i64>)> = Vec::new();
    let mut way: Option<(Vec<i64>, Option<String>, bool)> = None;
    let attr = |e: &quick_xml::events::BytesStart, key: &[u8]| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == key)
            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
    };
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| err(&e))? {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"node" => {
                    if let (Some(id), Some(lat), Some(lon)) =
                        (attr(&e, b"id"), attr(&e, b"lat"), attr(&e, b"lon"))
                    {
                        if let (Ok(id), Ok(lat), Ok(lon)) = (id.parse(), lat.parse(), lon.parse()) {
                            nodes.insert(id, (lat, lon));
                        }
                    }
                }
                b"way" => way = Some((Vec::new(), None, false)),
                b"nd" => {
                    if let (Some(w), Some(r)) =
                        (way.as_mut(), attr(&e, b"ref").and_then(|r| r.parse().ok()))
                    {
                        w.0.push(r);
                    }
                }
                b"tag" => {
                    if let Some(w) = way.as_mut() {
                        match attr(&e, b"k").as_deref() {
                            Some("name") => w.1 = attr(&e, b"v"),
                            Some("highway") => w.2 = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            },
            Event::End(e) if e.name().as_ref() == b"way" => {
                if let Some((refs, name, true)) = way.take() {
                    ways.push((name.unwrap_or_default(), refs));
                }
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(resolve(ways, &nodes))
}

fn resolve(ways: Vec<(String, Vec<i64>)>, nodes: &HashMap<i64, (f64, f64)>) -> Vec<StreetLine> {
    ways.into_iter()
        .map(|(name, refs)| StreetLine {
            name,
            points: refs.iter().filter_map(|r| nodes.get(r).copied()).collect(),
        })
        .filter(|l| !l.points.is_empty())
        .collect()
}

#[cfg(not(feature = "osm"))]
fn from_pbf(path: &Path) -> Result<Vec<StreetLine>> {
    Err(Error::input(
        &path.display().to_string(),
        None,
        None,
        "this build reads .osm.pbf files only with the 'osm' feature: give .osm or GeoJSON",
    ))
}

#[cfg(feature = "osm")]
fn from_pbf(path: &Path) -> Result<Vec<StreetLine>> {
    use osmpbf::{Element, ElementReader};
    let err =
        |e: osmpbf::Error| Error::input(&path.display().to_string(), None, None, e.to_string());
    let mut nodes: HashMap<i64, (f64, f64)> = HashMap::new();
    let mut ways: Vec<(String, Vec<i64>)> = Vec::new();
    ElementReader::from_path(path)
        .map_err(err)?
        .for_each(|el| match el {
            Element::Node(n) => {
                nodes.insert(n.id(), (n.lat(), n.lon()));
            }
            Element::DenseNode(n) => {
                nodes.insert(n.id(), (n.lat(), n.lon()));
            }
            Element::Way(w) => {
                let mut name = None;
                let mut highway = false;
                for (k, v) in w.tags() {
                    match k {
                        "name" => name = Some(v.to_string()),
                        "highway" => highway = true,
                        _ => {}
                    }
                }
                if highway {
                    ways.push((name.unwrap_or_default(), w.refs().collect()));
                }
            }
            Element::Relation(_) => {}
        })
        .map_err(err)?;
    Ok(resolve(ways, &nodes))
}

fn from_geojson(path: &Path) -> Result<Vec<StreetLine>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    street_lines_from_geojson(&path.display().to_string(), &text)
}

/// Streets from GeoJSON text: LineString / MultiLineString features, named by a `name`
/// property (features without one are ways without a name).
pub fn street_lines_from_geojson(name: &str, text: &str) -> Result<Vec<StreetLine>> {
    let gj: geojson::GeoJson = text.parse().map_err(|e: geojson::Error| {
        Error::input(name, None, None, format!("not valid GeoJSON: {e}"))
    })?;
    let geojson::GeoJson::FeatureCollection(fc) = gj else {
        return Err(Error::input(name, None, None, "expected a FeatureCollection of streets"));
    };
    let mut out = Vec::new();
    for f in fc.features {
        let name =
            f.property("name").and_then(|v| v.as_str()).map(str::to_string).unwrap_or_default();
        let lines: Vec<Vec<geojson::Position>> = match f.geometry.map(|g| g.value) {
            Some(geojson::GeometryValue::LineString { coordinates }) => vec![coordinates],
            Some(geojson::GeometryValue::MultiLineString { coordinates }) => coordinates,
            _ => continue,
        };
        for l in lines {
            let points =
                l.iter().filter(|p| p.len() >= 2).map(|p| (p[1], p[0])).collect::<Vec<_>>();
            if !points.is_empty() {
                out.push(StreetLine { name: name.clone(), points });
            }
        }
    }
    Ok(out)
}

/// The parts of the list for a street name (matched after normalisation: case, `Str.` / `straße`).
pub fn find_street<'a>(parts: &'a [StreetPart], street: &str) -> Vec<&'a StreetPart> {
    let key = normalize_street(street);
    parts.iter().filter(|p| normalize_street(&p.street) == key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(id: &str, street: &str, num: &str) -> Block {
        Block {
            id: id.into(),
            lat: 52.1,
            lon: 11.6,
            residents: 1,
            street: Some(street.into()),
            house_number: Some(num.into()),
        }
    }

    #[test]
    fn house_numbers_merge_and_split_by_side_and_suffix() {
        let mut blocks = Vec::new();
        let mut school = Vec::new();
        // Abendstraße: 1-10 at school 0, 11 at 0, 11a at 1 (the Magdeburg example), 12 at 1.
        for n in 1..=11 {
            blocks.push(addr(&format!("A{n}"), "Abendstraße", &n.to_string()));
            school.push(Some(0));
        }
        blocks.push(addr("A11a", "Abendstraße", "11a"));
        school.push(Some(1));
        blocks.push(addr("A12", "Abendstraße", "12"));
        school.push(Some(1));
        // Breiter Weg: odd side school 2, even side school 3.
        for n in 1..=10 {
            blocks.push(addr(&format!("B{n}"), "Breiter Weg", &n.to_string()));
            school.push(Some(if n % 2 == 1 { 2 } else { 3 }));
        }
        // Hegelstr. (spelt two ways) entirely at school 4.
        blocks.push(addr("H1", "Hegelstr.", "1"));
        blocks.push(addr("H2", "Hegelstraße", "2"));
        school.extend([Some(4), Some(4)]);
        let list = address_street_list(&blocks, &school);
        let lines: Vec<(String, String, usize)> = list
            .parts
            .iter()
            .map(|p| (p.street.clone(), p.house_numbers.clone(), p.school))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("Abendstraße".into(), "1–11".into(), 0),
                ("Abendstraße".into(), "11a–12".into(), 1),
                ("Breiter Weg".into(), "1–9 (odd)".into(), 2),
                ("Breiter Weg".into(), "2–10 (even)".into(), 3),
                ("Hegelstr.".into(), "all".into(), 4),
            ]
        );
        assert_eq!(list.parts[1].blocks, vec!["A11a", "A12"]);
        assert_eq!(list.parts[4].blocks, vec!["H1", "H2"]);
        assert_eq!(find_street(&list.parts, "hegelstraße").len(), 1);
    }

    #[test]
    fn streets_run_through_grid_cells() {
        // Two cells side by side, west at school 0, east at school 1; a street along both and one
        // only in the west.
        let (n, e) = (3_220_000.0, 4_430_000.0);
        let cell = |e: f64| Block {
            id: format!("CRS3035RES100mN{}E{}", n as i64, e as i64),
            lat: 0.0,
            lon: 0.0,
            residents: 1,
            street: None,
            house_number: None,
        };
        let blocks = vec![cell(e), cell(e + 100.0)];
        let school = vec![Some(0), Some(1)];
        let p = |de: f64| laea::inverse(e + de, n + 50.0);
        let lines = vec![
            StreetLine { name: "Lange Straße".into(), points: vec![p(10.0), p(190.0)] },
            StreetLine { name: "Kurze Str.".into(), points: vec![p(20.0), p(80.0)] },
            StreetLine { name: "Feldweg".into(), points: vec![p(500.0), p(600.0)] },
        ];
        let list = grid_street_list(&lines, &blocks, &school).unwrap();
        let got: Vec<(String, usize, Vec<String>)> =
            list.parts.iter().map(|p| (p.street.clone(), p.school, p.blocks.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("Kurze Str.".into(), 0, vec![blocks[0].id.clone()]),
                ("Lange Straße".into(), 0, vec![blocks[0].id.clone()]),
                ("Lange Straße".into(), 1, vec![blocks[1].id.clone()]),
            ]
        );
        assert!(list.note().contains("no house numbers"));
    }
}
