//! Geocoding: pupils given as `street,house_number[,postcode]` get coordinates from an address
//! index built from an OSM extract (the same one the routing server was prepared from).
//!
//! The index holds every node and way with `addr:street` + `addr:housenumber` (buildings are
//! placed at the mean of their nodes). Street names and house numbers are normalised before
//! they are compared: case, `ß`/`ss`, `ü`/`ue`, accents, `Str.`/`Straße`/`Strasse`, hyphens,
//! spaces and dots;
//! `11 A` is `11a`; an OSM range `11-13` (or list `11;13`) stands for each of its numbers; a
//! pupil's `11a` falls back to `11` when the index has no `11a`, and a pupil's `11-13` to `11`.
//! One street and number at places more than [`SAME_PLACE_M`] apart (the same street name in
//! two districts) is ambiguous unless the postcode decides.
//!
//! Unmatched and ambiguous pupils are reported by id in a report file; their addresses never
//! appear in messages or logs.

use crate::instance::Pupil;
use geo::{Distance, Haversine, Point};
use std::collections::HashMap;
#[cfg(feature = "osm")]
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

/// Candidates closer than this (meters) are one place (a node and its building, entrances).
pub const SAME_PLACE_M: f64 = 150.0;

/// Normalised street name: lowercase, `ß` -> `ss`, `ä` -> `ae` (and `ö`, `ü`), other accents
/// dropped, `str.`/`str`/`straße` -> `strasse`, without spaces, hyphens, dots or commas.
pub fn normalize_street(s: &str) -> String {
    let mut lower = String::with_capacity(s.len());
    for c in s.trim().to_lowercase().chars() {
        match c {
            'ß' => lower.push_str("ss"),
            // German umlauts as typed without them; other accents dropped (Allée = Allee).
            'ä' => lower.push_str("ae"),
            'ö' => lower.push_str("oe"),
            'ü' => lower.push_str("ue"),
            'à' | 'á' | 'â' | 'ã' => lower.push('a'),
            'é' | 'è' | 'ê' | 'ë' => lower.push('e'),
            'í' | 'ì' | 'î' | 'ï' => lower.push('i'),
            'ó' | 'ò' | 'ô' | 'õ' => lower.push('o'),
            'ú' | 'ù' | 'û' => lower.push('u'),
            'ç' => lower.push('c'),
            'ñ' => lower.push('n'),
            c => lower.push(c),
        }
    }
    let spaced: String = lower
        .chars()
        .map(|c| if c == '-' || c == '\'' || c == '’' || c == ',' { ' ' } else { c })
        .collect();
    let mut out = String::new();
    for word in spaced.split_whitespace() {
        let w = if word == "str" || word == "str." {
            "strasse".to_string()
        } else if let Some(stem) = word.strip_suffix("str.").or_else(|| word.strip_suffix("str")) {
            format!("{stem}strasse")
        } else {
            word.to_string()
        };
        out.push_str(&w.replace('.', ""));
    }
    out
}

/// Normalised house number: lowercase, no spaces (`11 A` -> `11a`).
pub fn normalize_number(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase()
}

/// The numbers an OSM `addr:housenumber` stands for: `11-13` -> 11, 12, 13; `11;13` -> 11, 13.
fn expand_number(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in raw.split([';', ',']) {
        let n = normalize_number(part);
        if n.is_empty() {
            continue;
        }
        if let Some((a, b)) = n.split_once('-') {
            if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                if a <= b && b - a <= 50 {
                    out.extend((a..=b).map(|x| x.to_string()));
                    continue;
                }
            }
        }
        out.push(n);
    }
    out
}

/// The numbers to try for a pupil's house number, best first.
fn query_numbers(raw: &str) -> Vec<String> {
    let n = normalize_number(raw);
    let mut out = vec![n.clone()];
    let digits: String = n.chars().take_while(|c| c.is_ascii_digit()).collect();
    if !digits.is_empty() && digits != n {
        out.push(digits); // 11a -> 11, 11-13 -> 11, 11/1 -> 11
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    lat: f64,
    lon: f64,
    postcode: Option<String>,
}

/// Addresses of an area: normalised (street, number) -> places.
#[derive(Debug, Default, Clone)]
pub struct AddressIndex {
    map: HashMap<(String, String), Vec<Candidate>>,
    addresses: usize,
}

/// The answer for one address.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The address is one place (the mean of its matching OSM objects).
    Found {
        /// Latitude in degrees (WGS84).
        lat: f64,
        /// Longitude in degrees (WGS84).
        lon: f64,
    },
    /// No address in the index matches.
    NotFound,
    /// The address names this many places too far apart to be one.
    Ambiguous(usize),
}

impl AddressIndex {
    /// Add one OSM address (raw tag values).
    pub fn add(
        &mut self,
        street: &str,
        housenumber: &str,
        postcode: Option<&str>,
        lat: f64,
        lon: f64,
    ) {
        let street = normalize_street(street);
        if street.is_empty() {
            return;
        }
        self.addresses += 1;
        let postcode = postcode.map(normalize_number).filter(|p| !p.is_empty());
        for n in expand_number(housenumber) {
            self.map.entry((street.clone(), n)).or_default().push(Candidate {
                lat,
                lon,
                postcode: postcode.clone(),
            });
        }
    }

    /// Number of OSM objects with an address in the index.
    pub fn len(&self) -> usize {
        self.addresses
    }

    /// Whether the index holds no address.
    pub fn is_empty(&self) -> bool {
        self.addresses == 0
    }

    #[cfg(feature = "osm")]
    /// Build the index from an `.osm.pbf` extract: nodes and ways tagged with `addr:street`
    /// and `addr:housenumber` (a way is placed at the mean of its nodes).
    pub fn from_pbf(path: &Path) -> Result<AddressIndex, String> {
        use osmpbf::{Element, ElementReader};
        let err = |e: osmpbf::Error| format!("{}: {e}", path.display());
        struct WayAddr {
            street: String,
            number: String,
            postcode: Option<String>,
            refs: Vec<i64>,
        }
        let mut index = AddressIndex::default();
        let mut ways: Vec<WayAddr> = Vec::new();
        let mut needed: HashSet<i64> = HashSet::new();
        let addr = |tags: &mut dyn Iterator<Item = (&str, &str)>| {
            let (mut s, mut n, mut p) = (None, None, None);
            for (k, v) in tags {
                match k {
                    "addr:street" => s = Some(v.to_string()),
                    "addr:housenumber" => n = Some(v.to_string()),
                    "addr:postcode" => p = Some(v.to_string()),
                    _ => {}
                }
            }
            match (s, n) {
                (Some(s), Some(n)) => Some((s, n, p)),
                _ => None,
            }
        };
        ElementReader::from_path(path)
            .map_err(err)?
            .for_each(|el| match el {
                Element::Node(n) => {
                    if let Some((s, h, p)) = addr(&mut n.tags()) {
                        index.add(&s, &h, p.as_deref(), n.lat(), n.lon());
                    }
                }
                Element::DenseNode(n) => {
                    if let Some((s, h, p)) = addr(&mut n.tags()) {
                        index.add(&s, &h, p.as_deref(), n.lat(), n.lon());
                    }
                }
                Element::Way(w) => {
                    if let Some((street, number, postcode)) = addr(&mut w.tags()) {
                        let refs: Vec<i64> = w.refs().collect();
                        needed.extend(refs.iter().copied());
                        ways.push(WayAddr { street, number, postcode, refs });
                    }
                }
                Element::Relation(_) => {}
            })
            .map_err(err)?;
        if !ways.is_empty() {
            let mut coords: HashMap<i64, (f64, f64)> = HashMap::with_capacity(needed.len());
            ElementReader::from_path(path)
                .map_err(err)?
                .for_each(|el| match el {
                    Element::Node(n) if needed.contains(&n.id()) => {
                        coords.insert(n.id(), (n.lat(), n.lon()));
                    }
                    Element::DenseNode(n) if needed.contains(&n.id()) => {
                        coords.insert(n.id(), (n.lat(), n.lon()));
                    }
                    _ => {}
                })
                .map_err(err)?;
            for w in ways {
                // A closed way repeats its first node: count it once.
                let refs = if w.refs.len() > 1 && w.refs.first() == w.refs.last() {
                    &w.refs[1..]
                } else {
                    &w.refs[..]
                };
                let pts: Vec<(f64, f64)> =
                    refs.iter().filter_map(|r| coords.get(r).copied()).collect();
                if pts.is_empty() {
                    continue;
                }
                let lat = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
                let lon = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
                index.add(&w.street, &w.number, w.postcode.as_deref(), lat, lon);
            }
        }
        Ok(index)
    }

    /// Locate an address.
    pub fn lookup(&self, street: &str, number: &str, postcode: Option<&str>) -> Lookup {
        let street = normalize_street(street);
        let postcode = postcode.map(normalize_number).filter(|p| !p.is_empty());
        for n in query_numbers(number) {
            let Some(cands) = self.map.get(&(street.clone(), n)) else { continue };
            let cands: Vec<&Candidate> = match &postcode {
                Some(pc) if cands.iter().any(|c| c.postcode.as_ref() == Some(pc)) => {
                    cands.iter().filter(|c| c.postcode.as_ref().is_none_or(|p| p == pc)).collect()
                }
                _ => cands.iter().collect(),
            };
            // Group candidates into places.
            let mut places: Vec<Vec<&Candidate>> = Vec::new();
            for c in cands {
                match places.iter_mut().find(|pl| {
                    Haversine.distance(Point::new(pl[0].lon, pl[0].lat), Point::new(c.lon, c.lat))
                        <= SAME_PLACE_M
                }) {
                    Some(pl) => pl.push(c),
                    None => places.push(vec![c]),
                }
            }
            return match places.len() {
                0 => continue,
                1 => {
                    let pl = &places[0];
                    let k = pl.len() as f64;
                    Lookup::Found {
                        lat: pl.iter().map(|c| c.lat).sum::<f64>() / k,
                        lon: pl.iter().map(|c| c.lon).sum::<f64>() / k,
                    }
                }
                n => Lookup::Ambiguous(n),
            };
        }
        Lookup::NotFound
    }
}

/// Why a pupil could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum GeocodeProblem {
    /// No address in the index matches.
    Unmatched,
    /// The address matches this many places.
    Ambiguous(usize),
    /// The pupil has neither coordinates nor a street and house number.
    NoAddress,
}

/// The outcome of geocoding: how many pupils were placed and who was not (by id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeocodeReport {
    /// Pupils given coordinates from their address.
    pub geocoded: usize,
    /// Pupils left without a location (by id), with the reason.
    pub problems: Vec<(String, GeocodeProblem)>,
}

impl GeocodeReport {
    /// Pupils whose address matched nothing.
    pub fn unmatched(&self) -> usize {
        self.problems.iter().filter(|(_, p)| *p == GeocodeProblem::Unmatched).count()
    }
    /// Pupils whose address matched several places.
    pub fn ambiguous(&self) -> usize {
        self.problems.iter().filter(|(_, p)| matches!(p, GeocodeProblem::Ambiguous(_))).count()
    }

    /// Write `pupil_id,problem,places` rows (internal file: it names pupils, not addresses).
    pub fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(w, "pupil_id,problem,places")?;
        for (id, p) in &self.problems {
            let (kind, places) = match p {
                GeocodeProblem::Unmatched => ("unmatched", 0),
                GeocodeProblem::Ambiguous(n) => ("ambiguous", *n),
                GeocodeProblem::NoAddress => ("no_address", 0),
            };
            writeln!(w, "{},{kind},{places}", crate::routing::matrix::csv_field(id))?;
        }
        w.flush()
    }
}

/// Give every pupil without coordinates the location of its address. Pupils that already have
/// coordinates are left as they are.
pub fn geocode_pupils(pupils: &mut [Pupil], index: &AddressIndex) -> GeocodeReport {
    let mut report = GeocodeReport::default();
    for p in pupils.iter_mut().filter(|p| p.location.is_none()) {
        let (Some(street), Some(number)) = (&p.street, &p.house_number) else {
            report.problems.push((p.id.clone(), GeocodeProblem::NoAddress));
            continue;
        };
        match index.lookup(street, number, p.postcode.as_deref()) {
            Lookup::Found { lat, lon } => {
                p.location = Some((lat, lon));
                report.geocoded += 1;
            }
            Lookup::NotFound => report.problems.push((p.id.clone(), GeocodeProblem::Unmatched)),
            Lookup::Ambiguous(n) => {
                report.problems.push((p.id.clone(), GeocodeProblem::Ambiguous(n)))
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn street_spellings_meet() {
        let k = normalize_street("Otto-von-Guericke-Straße");
        for v in [
            "otto-von-guericke-strasse",
            "Otto von Guericke Str.",
            "OTTO-VON-GUERICKE-STR.",
            "Otto-von-Guericke-Str",
        ] {
            assert_eq!(normalize_street(v), k, "{v}");
        }
        assert_eq!(normalize_street("Hauptstr."), normalize_street("Hauptstraße"));
        assert_eq!(normalize_street("Hauptstr"), normalize_street("Hauptstrasse"));
        assert_ne!(normalize_street("Breiter Weg"), normalize_street("Breite Straße"));
        assert_eq!(normalize_street("Müllerstraße"), normalize_street("Muellerstr."));
        assert_eq!(normalize_street("Allée des Orangers"), normalize_street("ALLEE DES ORANGERS"));
    }

    #[test]
    fn numbers_ranges_and_suffixes() {
        assert_eq!(normalize_number(" 11 A"), "11a");
        assert_eq!(expand_number("11-13"), vec!["11", "12", "13"]);
        assert_eq!(expand_number("4;6"), vec!["4", "6"]);
        assert_eq!(expand_number("7a"), vec!["7a"]);
        assert_eq!(query_numbers("11a"), vec!["11a", "11"]);
        assert_eq!(query_numbers("11-13"), vec!["11-13", "11"]);
    }

    fn index() -> AddressIndex {
        let mut ix = AddressIndex::default();
        ix.add("Breiter Weg", "10", Some("39104"), 52.130, 11.635);
        ix.add("Breiter Weg", "10", None, 52.1302, 11.6351); // the building of the same address
        ix.add("Breiter Weg", "11a", None, 52.131, 11.636);
        ix.add("Lindenstraße", "5-7", None, 52.140, 11.600);
        // One street name in two districts, told apart by postcode.
        ix.add("Gartenstraße", "3", Some("39106"), 52.150, 11.640);
        ix.add("Gartenstraße", "3", Some("39120"), 52.090, 11.610);
        ix
    }

    #[test]
    fn hits_misses_and_ambiguity() {
        let ix = index();
        match ix.lookup("breiter weg", "10", None) {
            Lookup::Found { lat, lon } => {
                assert!((lat - 52.1301).abs() < 1e-6 && (lon - 11.63505).abs() < 1e-6)
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(ix.lookup("Breiter Weg", "11 A", None), Lookup::Found { .. }));
        // Neither 11b nor its fallback 11 is in the index: a miss.
        assert_eq!(ix.lookup("Breiter Weg", "12", None), Lookup::NotFound);
        assert_eq!(ix.lookup("Breiter Weg", "11b", None), Lookup::NotFound);
        assert!(
            matches!(ix.lookup("Linden Str.", "6", None), Lookup::Found { .. }),
            "a range covers its numbers"
        );
        assert_eq!(ix.lookup("Gartenstr.", "3", None), Lookup::Ambiguous(2));
        match ix.lookup("Gartenstr.", "3", Some("39120")) {
            Lookup::Found { lat, .. } => assert!((lat - 52.090).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        assert_eq!(ix.lookup("Nirgendwo", "1", None), Lookup::NotFound);
    }

    #[test]
    fn pupils_are_placed_or_reported_by_id() {
        let ix = index();
        let p = |id: &str, street: Option<&str>, nr: Option<&str>| Pupil {
            id: id.into(),
            location: None,
            street: street.map(Into::into),
            house_number: nr.map(Into::into),
            postcode: None,
            block: None,
            fixed_school: None,
            extra: vec![],
        };
        let mut pupils = vec![
            p("1", Some("Breiter Weg"), Some("10")),
            p("2", Some("Gartenstraße"), Some("3")),
            p("3", Some("Mondweg"), Some("1")),
            p("4", None, None),
        ];
        pupils.push(Pupil { location: Some((1.0, 2.0)), ..p("5", Some("Mondweg"), Some("1")) });
        let r = geocode_pupils(&mut pupils, &ix);
        assert_eq!(r.geocoded, 1);
        assert!(pupils[0].location.is_some());
        assert_eq!(pupils[4].location, Some((1.0, 2.0)), "given coordinates are kept");
        assert_eq!(
            r.problems,
            vec![
                ("2".to_string(), GeocodeProblem::Ambiguous(2)),
                ("3".to_string(), GeocodeProblem::Unmatched),
                ("4".to_string(), GeocodeProblem::NoAddress)
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("geocoding.csv");
        r.write_csv(&f).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(text, "pupil_id,problem,places\n2,ambiguous,2\n3,unmatched,0\n4,no_address,0\n");
        assert!(!text.contains("Mondweg"));
    }
}
