//! Geocoding: pupils given as `street,house_number[,postcode]` get coordinates from an address
//! index built from an OSM extract (the same one the routing server was prepared from), `.osm.pbf`
//! or `.osm` XML.
//!
//! The index holds every node, way and multipolygon relation with `addr:street` +
//! `addr:housenumber` (buildings placed at the mean of their nodes; a relation at the mean of its
//! outer ways' nodes), and the numbers between the ends of `addr:interpolation` ways (`odd`,
//! `even`, `all`), placed along the way. House numbers are read by
//! [`crate::instance::housenumber`]: `11 A` is `11a`, `11 B 5` is house `11b` (flat 5); an OSM
//! range `8-10` stands for the numbers of its side of the street (8 and 10, not 9) unless tagged
//! `addr:interpolation=all`; a list `11;13` for each of its numbers. A number written out wins
//! over a range containing it, a range over an interpolation. A pupil's `11a` falls back to `11`
//! when the index has no `11a`, and a pupil's `11-13` is `11`.
//!
//! Street names are normalised before they are compared (case, `ß`/`ss`, `ü`/`ue`, accents,
//! hyphens, spaces and dots), abbreviations expanded by the rules of `abbreviations.tsv` (data,
//! embedded at build time: German, English, French, Finnish and Swedish), and every name of a
//! street way (`name`, `name:*`, `alt_name`, `old_name`, `official_name`, `short_name`,
//! `loc_name`) leads to the addresses of any other of its names. One street and number at places
//! more than [`SAME_PLACE_M`] apart (the same street name in two districts) is ambiguous unless
//! the postcode decides.
//!
//! Unplaced pupils are reported by id in a report file with the reason and the candidates (the
//! street's nearest numbers, similar street names, the places of an ambiguous address); their
//! addresses never appear in messages or logs, which give counts by reason only.

use crate::instance::housenumber;
use crate::instance::Pupil;
use geo::{Distance, Haversine, Point};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

/// Candidates closer than this (meters) are one place (a node and its building, entrances).
pub const SAME_PLACE_M: f64 = 150.0;

/// The abbreviation rules (language, kind, abbreviation, expansion), one per line.
const ABBREVIATIONS: &str = include_str!("abbreviations.tsv");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKind {
    Word,
    Last,
    End,
}

struct Rule {
    kind: RuleKind,
    abbreviation: String,
    expansion: String,
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        ABBREVIATIONS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert!(f.len() == 4, "abbreviations.tsv: four columns expected: {l}");
                let kind = match f[1] {
                    "word" => RuleKind::Word,
                    "last" => RuleKind::Last,
                    "end" => RuleKind::End,
                    k => panic!("abbreviations.tsv: unknown kind {k}"),
                };
                Rule { kind, abbreviation: f[2].to_lowercase(), expansion: f[3].to_lowercase() }
            })
            .collect()
    })
}

/// One word with the abbreviation rules applied (`last`: it is the name's last word).
fn expand_word(word: &str, last: bool) -> String {
    let bare = word.trim_end_matches('.');
    for r in rules() {
        let a = r.abbreviation.trim_end_matches('.');
        match r.kind {
            RuleKind::Word if bare == a => return r.expansion.clone(),
            RuleKind::Last if last && bare == a => return r.expansion.clone(),
            _ => {}
        }
    }
    for r in rules().iter().filter(|r| r.kind == RuleKind::End) {
        if let Some(stem) = word.strip_suffix(r.abbreviation.as_str()) {
            if stem.chars().count() >= 3 {
                return format!("{stem}{}", r.expansion);
            }
        }
    }
    word.to_string()
}

fn fold(c: char, out: &mut String) {
    match c {
        'ß' => out.push_str("ss"),
        // German umlauts as typed without them; other accents dropped (Allée = Allee).
        'ä' | 'æ' => out.push_str("ae"),
        'ö' | 'ø' => out.push_str("oe"),
        'ü' => out.push_str("ue"),
        'à' | 'á' | 'â' | 'ã' | 'å' => out.push('a'),
        'é' | 'è' | 'ê' | 'ë' => out.push('e'),
        'í' | 'ì' | 'î' | 'ï' => out.push('i'),
        'ó' | 'ò' | 'ô' | 'õ' => out.push('o'),
        'ú' | 'ù' | 'û' => out.push('u'),
        'ç' => out.push('c'),
        'ñ' => out.push('n'),
        c => out.push(c),
    }
}

/// Normalised street name: lowercase, abbreviations expanded (`abbreviations.tsv`: `Str.`,
/// `St`, `Rd`, `k.`, `v.`...), `ß` -> `ss`, `ä` -> `ae` (and `ö`, `ü`), other accents dropped,
/// without spaces, hyphens, dots or commas.
pub fn normalize_street(s: &str) -> String {
    let lower = s.trim().to_lowercase();
    let spaced: String = lower
        .chars()
        .map(|c| if c == '-' || c == '\'' || c == '’' || c == ',' { ' ' } else { c })
        .collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        for c in expand_word(word, i + 1 == words.len()).chars() {
            if c != '.' {
                fold(c, &mut out);
            }
        }
    }
    out
}

/// Normalised postcode (or any code): lowercase, no spaces.
pub fn normalize_number(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase()
}

/// How an address was matched: its number written out, inside an OSM range, on an
/// interpolation way, or its number without the suffix (`11a` placed at `11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// The number as written (`14` at an address `14`).
    Exact,
    /// A number inside an OSM range or list (`16` in `14-20`).
    Range,
    /// A number placed along an `addr:interpolation` way.
    Interpolated,
    /// The number without its suffix (`11a` at `11`: the index has no `11a`).
    WithoutSuffix,
}

impl Quality {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Exact => "exact",
            Quality::Range => "range",
            Quality::Interpolated => "interpolated",
            Quality::WithoutSuffix => "without_suffix",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    lat: f64,
    lon: f64,
    postcode: Option<String>,
    /// Exact, Range or Interpolated.
    kind: Quality,
}

/// A place offered as a candidate in the geocoding report: an OSM address and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The street (as mapped) and house number.
    pub label: String,
    /// Latitude in degrees (WGS84).
    pub lat: f64,
    /// Longitude in degrees (WGS84).
    pub lon: f64,
}

/// Addresses of an area: normalised (street, number) -> places.
#[derive(Debug, Default, Clone)]
pub struct AddressIndex {
    map: HashMap<(String, String), Vec<Candidate>>,
    /// Normalised street -> (its name as mapped, its numbers).
    streets: HashMap<String, (String, BTreeSet<(u32, String)>)>,
    /// Normalised name -> every normalised name of the same street (`name:sv`, `old_name`...).
    aliases: HashMap<String, BTreeSet<String>>,
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

/// The answer for one address, with the candidates when it is not placed.
#[derive(Debug, Clone, PartialEq)]
pub enum Located {
    /// One place.
    Found {
        /// Latitude in degrees (WGS84).
        lat: f64,
        /// Longitude in degrees (WGS84).
        lon: f64,
        /// How it was matched.
        quality: Quality,
    },
    /// No street of this name (in any of its names) has an address; similar names.
    StreetNotFound {
        /// Street names of the index that start alike (at most three).
        similar: Vec<String>,
    },
    /// The street is there, the number is not; its nearest numbers.
    NumberNotFound {
        /// The street's nearest numbers (at most three).
        nearest: Vec<Place>,
    },
    /// Several places too far apart to be one.
    Ambiguous(Vec<Place>),
    /// The house number is not one (`ohne Nummer`).
    BadNumber,
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
        self.add_tagged(street, housenumber, postcode, lat, lon, false);
    }

    /// Add one OSM address; `all`: a range stands for every number (`addr:interpolation=all`).
    fn add_tagged(
        &mut self,
        street: &str,
        housenumber: &str,
        postcode: Option<&str>,
        lat: f64,
        lon: f64,
        all: bool,
    ) {
        let key = normalize_street(street);
        if key.is_empty() {
            return;
        }
        self.addresses += 1;
        let postcode = postcode.map(normalize_number).filter(|p| !p.is_empty());
        match housenumber::parse(housenumber) {
            Some(n) => {
                for c in n.covered(all) {
                    let kind = if c.exact { Quality::Exact } else { Quality::Range };
                    self.insert(
                        &key,
                        street,
                        c.house.number,
                        &c.house.suffix,
                        postcode.clone(),
                        lat,
                        lon,
                        kind,
                    );
                }
            }
            None => {
                // Not a number we read (`1 1/2`, `A`): matched as written only.
                self.streets
                    .entry(key.clone())
                    .or_insert_with(|| (street.trim().to_string(), BTreeSet::new()));
                self.map.entry((key, normalize_number(housenumber))).or_default().push(Candidate {
                    lat,
                    lon,
                    postcode,
                    kind: Quality::Exact,
                });
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        key: &str,
        street: &str,
        number: u32,
        suffix: &str,
        postcode: Option<String>,
        lat: f64,
        lon: f64,
        kind: Quality,
    ) {
        self.streets
            .entry(key.to_string())
            .or_insert_with(|| (street.trim().to_string(), BTreeSet::new()))
            .1
            .insert((number, suffix.to_string()));
        self.map
            .entry((key.to_string(), format!("{number}{suffix}")))
            .or_default()
            .push(Candidate { lat, lon, postcode, kind });
    }

    /// Every address mapped exactly (not by a range or an interpolation line): the street as
    /// mapped, the house number as read (`20a`) and the mean location of its objects, sorted by
    /// street and number.
    pub fn exact_addresses(&self) -> Vec<(String, String, f64, f64)> {
        let mut out: Vec<(String, String, f64, f64)> = self
            .map
            .iter()
            .filter_map(|((key, number), cands)| {
                let exact: Vec<&Candidate> =
                    cands.iter().filter(|c| c.kind == Quality::Exact).collect();
                if exact.is_empty() {
                    return None;
                }
                let street = self.streets.get(key).map(|s| s.0.clone())?;
                let n = exact.len() as f64;
                let lat = exact.iter().map(|c| c.lat).sum::<f64>() / n;
                let lon = exact.iter().map(|c| c.lon).sum::<f64>() / n;
                Some((street, number.clone(), lat, lon))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| crate::instance::id_cmp(&a.1, &b.1)));
        out
    }

    /// Record that these names (`name`, `name:sv`, `alt_name`...) are one street.
    pub fn add_street_names(&mut self, names: &[String]) {
        let keys: BTreeSet<String> =
            names.iter().map(|n| normalize_street(n)).filter(|k| !k.is_empty()).collect();
        if keys.len() < 2 {
            return;
        }
        for k in &keys {
            self.aliases.entry(k.clone()).or_default().extend(keys.iter().cloned());
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
    /// Build the index from an OSM extract: `.osm.pbf`, or `.osm` XML (by content).
    pub fn from_osm_file(path: &Path) -> Result<AddressIndex, String> {
        let mut head = [0u8; 64];
        let n = {
            use std::io::Read;
            let mut f =
                std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            f.read(&mut head).map_err(|e| format!("{}: {e}", path.display()))?
        };
        let text = String::from_utf8_lossy(&head[..n]);
        if text.trim_start_matches('\u{feff}').trim_start().starts_with('<') {
            Self::from_xml(path)
        } else {
            Self::from_pbf(path)
        }
    }

    #[cfg(feature = "osm")]
    /// Build the index from an `.osm.pbf` extract (three passes: addresses, street names and
    /// relations; the outer ways of addressed relations; the nodes of every addressed object).
    pub fn from_pbf(path: &Path) -> Result<AddressIndex, String> {
        use osmpbf::{Element, ElementReader, RelMemberType};
        let err = |e: osmpbf::Error| format!("{}: {e}", path.display());
        let mut b = osm::Builder::default();
        ElementReader::from_path(path)
            .map_err(err)?
            .for_each(|el| match el {
                Element::Node(n) => b.node(n.id(), n.lat(), n.lon(), &mut n.tags()),
                Element::DenseNode(n) => b.node(n.id(), n.lat(), n.lon(), &mut n.tags()),
                Element::Way(w) => b.way(w.id(), w.refs().collect(), &mut w.tags()),
                Element::Relation(r) => {
                    let members = r
                        .members()
                        .filter(|m| m.member_type == RelMemberType::Way)
                        .map(|m| (m.member_id, m.role().unwrap_or("").to_string()))
                        .collect();
                    b.relation(members, &mut r.tags())
                }
            })
            .map_err(err)?;
        if b.wants_ways() {
            ElementReader::from_path(path)
                .map_err(err)?
                .for_each(|el| {
                    if let Element::Way(w) = el {
                        b.member_way(w.id(), || w.refs().collect());
                    }
                })
                .map_err(err)?;
        }
        if b.wants_nodes() {
            ElementReader::from_path(path)
                .map_err(err)?
                .for_each(|el| match el {
                    Element::Node(n) => b.coords(n.id(), n.lat(), n.lon()),
                    Element::DenseNode(n) => b.coords(n.id(), n.lat(), n.lon()),
                    _ => {}
                })
                .map_err(err)?;
        }
        Ok(b.finish())
    }

    #[cfg(feature = "osm")]
    /// Build the index from an `.osm` XML file (held in memory: meant for small extracts and
    /// hand-written fixtures).
    pub fn from_xml(path: &Path) -> Result<AddressIndex, String> {
        let els = osm::read_xml(path)?;
        let mut b = osm::Builder::default();
        for e in &els {
            match e {
                osm::El::Node { id, lat, lon, tags } => {
                    b.node(*id, *lat, *lon, &mut tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                }
                osm::El::Way { id, refs, tags } => b.way(
                    *id,
                    refs.clone(),
                    &mut tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ),
                osm::El::Relation { members, tags } => b.relation(
                    members.clone(),
                    &mut tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ),
            }
        }
        for e in &els {
            match e {
                osm::El::Way { id, refs, .. } => b.member_way(*id, || refs.clone()),
                osm::El::Node { id, lat, lon, .. } => b.coords(*id, *lat, *lon),
                _ => {}
            }
        }
        // Member ways may add nodes once every way was seen: a second look at the nodes.
        for e in &els {
            if let osm::El::Node { id, lat, lon, .. } = e {
                b.coords(*id, *lat, *lon);
            }
        }
        Ok(b.finish())
    }

    /// The normalised names to look an address up under: its own and its street's other names.
    fn street_keys(&self, street: &str) -> Vec<String> {
        let key = normalize_street(street);
        let mut keys = vec![key.clone()];
        if let Some(a) = self.aliases.get(&key) {
            keys.extend(a.iter().filter(|k| **k != key).cloned());
        }
        keys
    }

    /// Locate an address.
    pub fn lookup(&self, street: &str, number: &str, postcode: Option<&str>) -> Lookup {
        match self.locate(street, number, postcode) {
            Located::Found { lat, lon, .. } => Lookup::Found { lat, lon },
            Located::Ambiguous(places) => Lookup::Ambiguous(places.len()),
            _ => Lookup::NotFound,
        }
    }

    /// Locate an address, with how it matched or why not and the candidates.
    pub fn locate(&self, street: &str, number: &str, postcode: Option<&str>) -> Located {
        let keys = self.street_keys(street);
        let postcode = postcode.map(normalize_number).filter(|p| !p.is_empty());
        let known: Vec<&String> = keys.iter().filter(|k| self.streets.contains_key(*k)).collect();
        if known.is_empty() {
            return Located::StreetNotFound { similar: self.similar_streets(&keys[0]) };
        }
        let Some(parsed) = housenumber::parse(number) else {
            // An unusual number: as written.
            let raw = normalize_number(number);
            return match self.places(&keys, &raw, &postcode) {
                Some(found) => found,
                None => Located::BadNumber,
            };
        };
        let h = parsed.first();
        let mut tries = vec![(h.key(), false)];
        if !h.suffix.is_empty() {
            tries.push((h.base(), true));
        }
        for (n, without_suffix) in tries {
            match self.places(&keys, &n, &postcode) {
                Some(Located::Found { lat, lon, quality }) => {
                    let quality = if without_suffix { Quality::WithoutSuffix } else { quality };
                    return Located::Found { lat, lon, quality };
                }
                Some(other) => return other,
                None => continue,
            }
        }
        Located::NumberNotFound { nearest: self.nearest_numbers(&known, h.number) }
    }

    /// The places of one normalised number on any of the street's names.
    fn places(&self, keys: &[String], n: &str, postcode: &Option<String>) -> Option<Located> {
        let mut cands: Vec<(&String, &Candidate)> = Vec::new();
        for k in keys {
            if let Some(cs) = self.map.get(&(k.clone(), n.to_string())) {
                cands.extend(cs.iter().map(|c| (k, c)));
            }
        }
        // A number written out wins over a range containing it, a range over an interpolation.
        let best = cands.iter().map(|(_, c)| c.kind).min()?;
        cands.retain(|(_, c)| c.kind == best);
        if let Some(pc) = postcode {
            if cands.iter().any(|(_, c)| c.postcode.as_ref() == Some(pc)) {
                cands.retain(|(_, c)| c.postcode.as_ref().is_none_or(|p| p == pc));
            }
        }
        let mut places: Vec<Vec<&Candidate>> = Vec::new();
        for (_, c) in &cands {
            match places.iter_mut().find(|pl| {
                Haversine.distance(Point::new(pl[0].lon, pl[0].lat), Point::new(c.lon, c.lat))
                    <= SAME_PLACE_M
            }) {
                Some(pl) => pl.push(c),
                None => places.push(vec![c]),
            }
        }
        let mean = |pl: &Vec<&Candidate>| {
            let k = pl.len() as f64;
            (pl.iter().map(|c| c.lat).sum::<f64>() / k, pl.iter().map(|c| c.lon).sum::<f64>() / k)
        };
        Some(match places.len() {
            1 => {
                let (lat, lon) = mean(&places[0]);
                Located::Found { lat, lon, quality: best }
            }
            _ => Located::Ambiguous(
                places
                    .iter()
                    .map(|pl| {
                        let (lat, lon) = mean(pl);
                        let name =
                            self.streets.get(cands[0].0).map(|s| s.0.clone()).unwrap_or_default();
                        let pc = pl[0]
                            .postcode
                            .as_deref()
                            .map(|p| format!(" ({p})"))
                            .unwrap_or_default();
                        Place { label: format!("{name} {n}{pc}"), lat, lon }
                    })
                    .collect(),
            ),
        })
    }

    fn nearest_numbers(&self, keys: &[&String], number: u32) -> Vec<Place> {
        let mut all: Vec<(u32, &String, &(u32, String))> = Vec::new();
        for k in keys {
            if let Some((_, nums)) = self.streets.get(*k) {
                all.extend(nums.iter().map(|n| (n.0.abs_diff(number), *k, n)));
            }
        }
        all.sort();
        all.iter()
            .take(3)
            .filter_map(|(_, k, (n, s))| {
                let c = self.map.get(&((*k).clone(), format!("{n}{s}")))?.first()?;
                Some(Place {
                    label: format!("{} {n}{s}", self.streets[*k].0),
                    lat: c.lat,
                    lon: c.lon,
                })
            })
            .collect()
    }

    fn similar_streets(&self, key: &str) -> Vec<String> {
        let prefix: String = key.chars().take(4).collect();
        let mut names: Vec<&String> = self
            .streets
            .iter()
            .filter(|(k, _)| !prefix.is_empty() && k.starts_with(&prefix))
            .map(|(_, (name, _))| name)
            .collect();
        names.sort();
        names.into_iter().take(3).cloned().collect()
    }
}

#[cfg(feature = "osm")]
mod osm {
    //! The OSM objects the address index is built from, read from PBF or XML.
    use super::{AddressIndex, Quality};
    use crate::instance::housenumber;
    use std::collections::{HashMap, HashSet};

    /// Tags whose values name a street (besides `name:*`).
    const NAME_TAGS: [&str; 6] =
        ["name", "alt_name", "old_name", "official_name", "short_name", "loc_name"];

    struct Addr {
        street: Option<String>,
        number: Option<String>,
        postcode: Option<String>,
        interpolation: Option<String>,
    }

    fn read_tags(tags: &mut dyn Iterator<Item = (&str, &str)>) -> (Addr, Vec<String>, bool, bool) {
        let mut a = Addr { street: None, number: None, postcode: None, interpolation: None };
        let (mut names, mut highway, mut multipolygon) = (Vec::new(), false, false);
        for (k, v) in tags {
            match k {
                "addr:street" => a.street = Some(v.to_string()),
                "addr:housenumber" => a.number = Some(v.to_string()),
                "addr:postcode" => a.postcode = Some(v.to_string()),
                "addr:interpolation" => a.interpolation = Some(v.to_string()),
                "highway" => highway = true,
                "type" => multipolygon = v == "multipolygon" || v == "building",
                k if NAME_TAGS.contains(&k) || is_language_name(k) => names
                    .extend(v.split(';').map(|s| s.trim().to_string()).filter(|s| !s.is_empty())),
                _ => {}
            }
        }
        (a, names, highway, multipolygon)
    }

    /// `name:sv`, `name:de-CH`: a name in a language (not `name:etymology:wikidata`).
    fn is_language_name(k: &str) -> bool {
        k.strip_prefix("name:").is_some_and(|l| {
            let (lang, region) = l.split_once('-').unwrap_or((l, ""));
            (2..=3).contains(&lang.len())
                && lang.chars().all(|c| c.is_ascii_lowercase())
                && region.chars().all(|c| c.is_ascii_alphanumeric())
        })
    }

    struct Placed {
        street: String,
        number: String,
        postcode: Option<String>,
        all: bool,
        /// Node lists; the place is the mean of their distinct nodes.
        rings: Vec<Vec<i64>>,
    }

    struct Interpolation {
        street: Option<String>,
        all: bool,
        step: u32,
        refs: Vec<i64>,
    }

    /// Collects what the index needs over passes of an extract.
    #[derive(Default)]
    pub(super) struct Builder {
        index: AddressIndex,
        /// Addressed nodes by id: street and number (interpolation ends).
        addr_nodes: HashMap<i64, (String, String)>,
        placed: Vec<Placed>,
        /// Addressed relations: their outer ways.
        relations: Vec<(Placed, Vec<i64>)>,
        member_ways: HashMap<i64, Option<Vec<i64>>>,
        interpolations: Vec<Interpolation>,
        needed: HashSet<i64>,
        coords: HashMap<i64, (f64, f64)>,
    }

    impl Builder {
        pub fn node(
            &mut self,
            id: i64,
            lat: f64,
            lon: f64,
            tags: &mut dyn Iterator<Item = (&str, &str)>,
        ) {
            let (a, _, _, _) = read_tags(tags);
            if let Some(n) = &a.number {
                if let Some(s) = &a.street {
                    self.index.add(s, n, a.postcode.as_deref(), lat, lon);
                }
                self.addr_nodes.insert(id, (a.street.clone().unwrap_or_default(), n.clone()));
            }
        }

        pub fn way(
            &mut self,
            _id: i64,
            refs: Vec<i64>,
            tags: &mut dyn Iterator<Item = (&str, &str)>,
        ) {
            let (a, names, highway, _) = read_tags(tags);
            if highway {
                self.index.add_street_names(&names);
            }
            if let Some(kind) = &a.interpolation {
                let (all, step) = match kind.as_str() {
                    "odd" | "even" => (false, 2),
                    "all" => (true, 1),
                    _ => (false, 0), // alphabetic or a street's name: not interpolated here
                };
                if step > 0 {
                    self.needed.extend(refs.iter().copied());
                    self.interpolations.push(Interpolation {
                        street: a.street.clone(),
                        all,
                        step,
                        refs,
                    });
                }
                return;
            }
            if let (Some(street), Some(number)) = (a.street, a.number) {
                self.needed.extend(refs.iter().copied());
                self.placed.push(Placed {
                    street,
                    number,
                    postcode: a.postcode,
                    all: false,
                    rings: vec![refs],
                });
            }
        }

        pub fn relation(
            &mut self,
            members: Vec<(i64, String)>,
            tags: &mut dyn Iterator<Item = (&str, &str)>,
        ) {
            let (a, _, _, multipolygon) = read_tags(tags);
            let (Some(street), Some(number), true) = (a.street, a.number, multipolygon) else {
                return;
            };
            let outer: Vec<i64> = members
                .iter()
                .filter(|(_, role)| role == "outer" || role.is_empty() || role == "outline")
                .map(|(id, _)| *id)
                .collect();
            for w in &outer {
                self.member_ways.insert(*w, None);
            }
            self.relations.push((
                Placed { street, number, postcode: a.postcode, all: false, rings: vec![] },
                outer,
            ));
        }

        pub fn wants_ways(&self) -> bool {
            !self.member_ways.is_empty()
        }

        pub fn member_way(&mut self, id: i64, refs: impl FnOnce() -> Vec<i64>) {
            if let Some(slot) = self.member_ways.get_mut(&id) {
                if slot.is_none() {
                    let r = refs();
                    self.needed.extend(r.iter().copied());
                    *slot = Some(r);
                }
            }
        }

        pub fn wants_nodes(&self) -> bool {
            !self.needed.is_empty()
        }

        pub fn coords(&mut self, id: i64, lat: f64, lon: f64) {
            if self.needed.contains(&id) {
                self.coords.insert(id, (lat, lon));
            }
        }

        fn centre(&self, rings: &[Vec<i64>]) -> Option<(f64, f64)> {
            let mut seen = HashSet::new();
            let pts: Vec<(f64, f64)> = rings
                .iter()
                .flatten()
                .filter(|r| seen.insert(**r))
                .filter_map(|r| self.coords.get(r).copied())
                .collect();
            if pts.is_empty() {
                return None;
            }
            let k = pts.len() as f64;
            Some((
                pts.iter().map(|p| p.0).sum::<f64>() / k,
                pts.iter().map(|p| p.1).sum::<f64>() / k,
            ))
        }

        pub fn finish(mut self) -> AddressIndex {
            let relations = std::mem::take(&mut self.relations);
            for (mut p, outer) in relations {
                p.rings = outer
                    .iter()
                    .filter_map(|w| self.member_ways.get(w).cloned().flatten())
                    .collect();
                self.placed.push(p);
            }
            let placed = std::mem::take(&mut self.placed);
            for p in &placed {
                if let Some((lat, lon)) = self.centre(&p.rings) {
                    self.index.add_tagged(
                        &p.street,
                        &p.number,
                        p.postcode.as_deref(),
                        lat,
                        lon,
                        p.all,
                    );
                }
            }
            let interpolations = std::mem::take(&mut self.interpolations);
            for w in &interpolations {
                self.interpolate(w);
            }
            self.index
        }

        /// The numbers between consecutive addressed nodes of an interpolation way, placed
        /// along it in proportion to their number.
        fn interpolate(&mut self, w: &Interpolation) {
            let pts: Vec<Option<(f64, f64)>> =
                w.refs.iter().map(|r| self.coords.get(r).copied()).collect();
            if pts.iter().any(Option::is_none) {
                return;
            }
            let pts: Vec<(f64, f64)> = pts.into_iter().flatten().collect();
            // Distance along the way at each node (degrees, scaled in longitude).
            let kx = pts[0].0.to_radians().cos();
            let mut along = vec![0.0];
            for i in 1..pts.len() {
                let (dy, dx) = (pts[i].0 - pts[i - 1].0, (pts[i].1 - pts[i - 1].1) * kx);
                along.push(along[i - 1] + (dy * dy + dx * dx).sqrt());
            }
            let anchors: Vec<(usize, u32, String)> = w
                .refs
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let (street, n) = self.addr_nodes.get(r)?;
                    let h = housenumber::parse(n)?;
                    h.is_single().then(|| (i, h.first().number, street.clone()))
                })
                .collect();
            for pair in anchors.windows(2) {
                let ((i, a, sa), (j, b, sb)) = (&pair[0], &pair[1]);
                let street = w.street.clone().unwrap_or_else(|| {
                    if sa.is_empty() {
                        sb.clone()
                    } else {
                        sa.clone()
                    }
                });
                if street.is_empty() || a == b || (!w.all && a % 2 != b % 2) {
                    continue;
                }
                let (lo, hi) = (*a.min(b), *a.max(b));
                if hi - lo > housenumber::MAX_RANGE {
                    continue;
                }
                let (d0, d1) = (along[*i], along[*j]);
                let key = super::normalize_street(&street);
                let mut n = lo + w.step;
                while n < hi {
                    let f = (n - a.min(b)) as f64 / (hi - lo) as f64;
                    let f = if a < b { f } else { 1.0 - f };
                    let at = d0 + f * (d1 - d0);
                    let k = (1..along.len()).find(|&k| along[k] >= at).unwrap_or(along.len() - 1);
                    let seg = along[k] - along[k - 1];
                    let t = if seg > 0.0 { (at - along[k - 1]) / seg } else { 0.0 };
                    let lat = pts[k - 1].0 + t * (pts[k].0 - pts[k - 1].0);
                    let lon = pts[k - 1].1 + t * (pts[k].1 - pts[k - 1].1);
                    self.index.insert(&key, &street, n, "", None, lat, lon, Quality::Interpolated);
                    n += w.step;
                }
            }
        }
    }

    /// An OSM object of an XML file.
    pub(super) enum El {
        Node { id: i64, lat: f64, lon: f64, tags: Vec<(String, String)> },
        Way { id: i64, refs: Vec<i64>, tags: Vec<(String, String)> },
        Relation { members: Vec<(i64, String)>, tags: Vec<(String, String)> },
    }

    pub(super) fn read_xml(path: &std::path::Path) -> Result<Vec<El>, String> {
        use quick_xml::events::Event;
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let mut reader = quick_xml::Reader::from_file(path).map_err(|e| err(&e))?;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let attr = |e: &quick_xml::events::BytesStart, key: &[u8]| -> Option<String> {
            e.attributes()
                .flatten()
                .find(|a| a.key.as_ref() == key)
                .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
        };
        let mut open: Option<El> = None;
        loop {
            let ev = reader.read_event_into(&mut buf).map_err(|e| err(&e))?;
            let empty = matches!(ev, Event::Empty(_));
            match ev {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    let id = || attr(&e, b"id").and_then(|v| v.parse::<i64>().ok());
                    let el = match e.name().as_ref() {
                        b"node" => {
                            let (Some(id), Some(lat), Some(lon)) = (
                                id(),
                                attr(&e, b"lat").and_then(|v| v.parse().ok()),
                                attr(&e, b"lon").and_then(|v| v.parse().ok()),
                            ) else {
                                buf.clear();
                                continue;
                            };
                            Some(El::Node { id, lat, lon, tags: vec![] })
                        }
                        b"way" => id().map(|id| El::Way { id, refs: vec![], tags: vec![] }),
                        b"relation" => Some(El::Relation { members: vec![], tags: vec![] }),
                        b"nd" => {
                            if let (Some(El::Way { refs, .. }), Some(r)) =
                                (open.as_mut(), attr(&e, b"ref").and_then(|r| r.parse().ok()))
                            {
                                refs.push(r);
                            }
                            None
                        }
                        b"member" => {
                            if let (Some(El::Relation { members, .. }), Some("way"), Some(r)) = (
                                open.as_mut(),
                                attr(&e, b"type").as_deref(),
                                attr(&e, b"ref").and_then(|r| r.parse().ok()),
                            ) {
                                members.push((r, attr(&e, b"role").unwrap_or_default()));
                            }
                            None
                        }
                        b"tag" => {
                            if let (Some(k), Some(v)) = (attr(&e, b"k"), attr(&e, b"v")) {
                                match open.as_mut() {
                                    Some(El::Node { tags, .. })
                                    | Some(El::Way { tags, .. })
                                    | Some(El::Relation { tags, .. }) => tags.push((k, v)),
                                    None => {}
                                }
                            }
                            None
                        }
                        _ => None,
                    };
                    if let Some(el) = el {
                        if empty {
                            out.push(el);
                        } else {
                            open = Some(el);
                        }
                    }
                }
                Event::End(e) if matches!(e.name().as_ref(), b"node" | b"way" | b"relation") => {
                    if let Some(el) = open.take() {
                        out.push(el);
                    }
                }
                _ => {}
            }
            buf.clear();
        }
        Ok(out)
    }
}

/// Why a pupil could not be placed.
#[derive(Debug, Clone, PartialEq)]
pub enum GeocodeProblem {
    /// No street of this name has an address; similar street names of the index.
    StreetNotFound(Vec<String>),
    /// The street is there, the number is not; the street's nearest numbers.
    NumberNotFound(Vec<Place>),
    /// The address matches several places (listed).
    Ambiguous(Vec<Place>),
    /// The house number is not one.
    BadNumber,
    /// The pupil has neither coordinates nor a street and house number.
    NoAddress,
}

impl GeocodeProblem {
    /// The reason in reports.
    pub fn reason(&self) -> &'static str {
        match self {
            GeocodeProblem::StreetNotFound(_) => "street_not_found",
            GeocodeProblem::NumberNotFound(_) => "number_not_found",
            GeocodeProblem::Ambiguous(_) => "ambiguous",
            GeocodeProblem::BadNumber => "bad_number",
            GeocodeProblem::NoAddress => "no_address",
        }
    }
}

/// The outcome of geocoding: how many pupils were placed, how well, and who was not (by id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeocodeReport {
    /// Pupils given coordinates from their address.
    pub geocoded: usize,
    /// Each placed pupil (by id) and how it matched.
    pub placed: Vec<(String, Quality)>,
    /// Pupils left without a location (by id), with the reason.
    pub problems: Vec<(String, GeocodeProblem)>,
}

impl GeocodeReport {
    /// Pupils whose address matched nothing (street or number not found, not a number).
    pub fn unmatched(&self) -> usize {
        self.problems
            .iter()
            .filter(|(_, p)| {
                matches!(
                    p,
                    GeocodeProblem::StreetNotFound(_)
                        | GeocodeProblem::NumberNotFound(_)
                        | GeocodeProblem::BadNumber
                )
            })
            .count()
    }
    /// Pupils whose address matched several places.
    pub fn ambiguous(&self) -> usize {
        self.problems.iter().filter(|(_, p)| matches!(p, GeocodeProblem::Ambiguous(_))).count()
    }

    /// Failures by reason, in a fixed order, with their counts (reasons without failures left out).
    pub fn failures_by_reason(&self) -> Vec<(&'static str, usize)> {
        let mut m: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (_, p) in &self.problems {
            *m.entry(p.reason()).or_default() += 1;
        }
        m.into_iter().collect()
    }

    /// The run in one line: match rate, qualities, failures by reason (counts only: no id, no
    /// address).
    pub fn summary(&self) -> String {
        let total = self.geocoded + self.problems.len();
        let rate = if total == 0 { 100.0 } else { 100.0 * self.geocoded as f64 / total as f64 };
        let mut q: BTreeMap<Quality, usize> = BTreeMap::new();
        for (_, x) in &self.placed {
            *q.entry(*x).or_default() += 1;
        }
        let qualities: Vec<String> = q.iter().map(|(k, n)| format!("{n} {}", k.as_str())).collect();
        let mut s = format!("geocoding: {} of {total} placed ({rate:.2}%)", self.geocoded);
        if !qualities.is_empty() {
            s.push_str(&format!(" [{}]", qualities.join(", ")));
        }
        let f = self.failures_by_reason();
        if f.is_empty() {
            s.push_str("; no failures");
        } else {
            let f: Vec<String> = f.iter().map(|(r, n)| format!("{n} {r}")).collect();
            s.push_str(&format!("; failures by reason: {}", f.join(", ")));
        }
        s
    }

    /// Write `pupil_id,result,candidates` rows, every pupil geocoded (internal file: it names
    /// pupils, and the candidates are OSM addresses near theirs). `result` is the match quality
    /// (`exact`, `range`, `interpolated`, `without_suffix`) or the reason of a failure
    /// (`street_not_found`, `number_not_found`, `ambiguous`, `bad_number`, `no_address`);
    /// `candidates` lists similar street names, the street's nearest numbers or the places of
    /// an ambiguous address as `label @ lat lon`, separated by ` | `.
    pub fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(w, "pupil_id,result,candidates")?;
        let field = crate::routing::matrix::csv_field;
        let place = |p: &Place| format!("{} @ {:.6} {:.6}", p.label, p.lat, p.lon);
        for (id, p) in &self.problems {
            let cands: Vec<String> = match p {
                GeocodeProblem::StreetNotFound(names) => names.clone(),
                GeocodeProblem::NumberNotFound(ps) | GeocodeProblem::Ambiguous(ps) => {
                    ps.iter().map(place).collect()
                }
                _ => vec![],
            };
            writeln!(w, "{},{},{}", field(id), p.reason(), field(&cands.join(" | ")))?;
        }
        for (id, q) in &self.placed {
            writeln!(w, "{},{},", field(id), q.as_str())?;
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
        let problem = match index.locate(street, number, p.postcode.as_deref()) {
            Located::Found { lat, lon, quality } => {
                p.location = Some((lat, lon));
                report.geocoded += 1;
                report.placed.push((p.id.clone(), quality));
                continue;
            }
            Located::StreetNotFound { similar } => GeocodeProblem::StreetNotFound(similar),
            Located::NumberNotFound { nearest } => GeocodeProblem::NumberNotFound(nearest),
            Located::Ambiguous(places) => GeocodeProblem::Ambiguous(places),
            Located::BadNumber => GeocodeProblem::BadNumber,
        };
        report.problems.push((p.id.clone(), problem));
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
    fn abbreviations_per_language_come_from_the_data_file() {
        for (short, long) in [
            ("Hauptstr.", "Hauptstraße"),
            ("Otto-von-Guericke-Str", "Otto-von-Guericke-Straße"),
            ("Main St", "Main Street"),
            ("Station Rd.", "Station Road"),
            ("Park Ave", "Park Avenue"),
            ("Aleksanterink.", "Aleksanterinkatu"),
            ("Mannerheimv.", "Mannerheimvägen"),
            ("Alexandersg.", "Alexandersgatan"),
        ] {
            assert_eq!(normalize_street(short), normalize_street(long), "{short}");
        }
        // `St` is `Street` only as the last word; a word merely ending in a letter is no
        // abbreviation.
        assert_ne!(normalize_street("St James Avenue"), normalize_street("Street James Avenue"));
        assert_ne!(normalize_street("Park"), normalize_street("Parkatu"));
        assert!(rules().len() >= 10);
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
        // Neither 11b nor its fallback 11 is in the index: a miss, with the street's nearest
        // numbers as candidates.
        assert_eq!(ix.lookup("Breiter Weg", "12", None), Lookup::NotFound);
        match ix.locate("Breiter Weg", "12", None) {
            Located::NumberNotFound { nearest } => {
                let labels: Vec<&str> = nearest.iter().map(|p| p.label.as_str()).collect();
                assert_eq!(labels, vec!["Breiter Weg 11a", "Breiter Weg 10"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ix.lookup("Breiter Weg", "11b", None), Lookup::NotFound);
        assert!(
            matches!(ix.lookup("Linden Str.", "7", None), Lookup::Found { .. }),
            "a range covers its numbers"
        );
        assert_eq!(ix.lookup("Linden Str.", "6", None), Lookup::NotFound, "5-7 is the odd side");
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
        let reasons: Vec<(&str, &str)> =
            r.problems.iter().map(|(id, p)| (id.as_str(), p.reason())).collect();
        assert_eq!(
            reasons,
            vec![("2", "ambiguous"), ("3", "street_not_found"), ("4", "no_address")]
        );
        assert!(matches!(&r.problems[0].1, GeocodeProblem::Ambiguous(p) if p.len() == 2));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("geocoding.csv");
        r.write_csv(&f).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(
            text,
            "pupil_id,result,candidates\n\
             2,ambiguous,Gartenstraße 3 (39106) @ 52.150000 11.640000 | Gartenstraße 3 (39120) @ 52.090000 11.610000\n\
             3,street_not_found,\n\
             4,no_address,\n\
             1,exact,\n"
        );
        assert!(!text.contains("Mondweg"), "the pupil's own address is not in the report");
        assert_eq!(
            r.summary(),
            "geocoding: 1 of 4 placed (25.00%) [1 exact]; failures by reason: 1 ambiguous, \
             1 no_address, 1 street_not_found"
        );
    }
}
