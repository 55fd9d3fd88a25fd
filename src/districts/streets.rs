//! The street list of a bylaw: street, part, school. Two cases:
//!
//! - **address blocks** (blocks with `street` and `house_number`): each street's numbers in
//!   order, contiguous numbers with the same school merged, split by odd and even side where
//!   that is how the districts fall (fewer parts than mixing both sides);
//! - **grid blocks** (census cells, no house numbers): each named street of an OSM file, whole
//!   when it lies in one district, else part by part along the street, each part named by its
//!   cross streets ("from Wiener Straße to Ring") and, where a district border runs between two
//!   junctions, by the meters from the last one. The cells of each segment between junctions
//!   are the cells it owns (see [`super::network`]).

use super::blocks::Block;
pub use super::network::StreetLine;
use super::network::{self, Chain, Trace, Traced};
use crate::error::{Error, Result};
use crate::instance::id_cmp;
use crate::routing::geocode::normalize_street;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// One line of the street list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreetPart {
    /// The street's name.
    pub street: String,
    /// Which part of the street, in words: `whole street`, `from Wiener Straße to Ring`,
    /// `from Ring for 120 m towards Hegelstraße`, or the house numbers of address blocks.
    pub part: String,
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
    /// For grid blocks: street segments between junctions with a cell, and how many of them
    /// lie in more than one district.
    pub segments: Option<SegmentCount>,
}

/// Street segments (stretches between two junctions or a junction and an end) that own or run
/// through a block, and how many of them lie in more than one district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentCount {
    /// Segments with a block.
    pub total: usize,
    /// Segments whose cells lie in more than one district.
    pub split: usize,
}

/// The street list in figures (`summary.json` `streets`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreetStats {
    /// How the list was made: `addresses` or `grid cells`.
    pub kind: String,
    /// Streets listed (names, after normalisation).
    pub total: usize,
    /// Streets wholly in one district.
    pub whole: usize,
    /// Streets in two or more districts.
    pub split: usize,
    /// The most districts one street lies in.
    pub districts_max: usize,
    /// Lines of the list.
    pub parts: usize,
    /// The most lines of one street.
    pub parts_max: usize,
    /// For grid blocks: segments between junctions with a block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<usize>,
    /// For grid blocks: segments whose cells lie in more than one district.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_segments: Option<usize>,
}

/// A street in more than one district (a line of `split-streets.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct SplitStreet {
    /// The street's name.
    pub street: String,
    /// Its lines in the list.
    pub parts: usize,
    /// Its schools (indices), in school order.
    pub schools: Vec<usize>,
}

impl StreetList {
    /// A sentence for the reader on how the list was made.
    pub fn note(&self) -> String {
        match self.kind {
            StreetListKind::Addresses => "Each street with its house numbers; contiguous numbers with the same school are merged, \
                and a street split by sides lists odd and even numbers apart."
                .into(),
            StreetListKind::GridCells(size) => format!(
                "This case has no house numbers: its blocks are {size} m census grid cells. A street that lies in one district is \
                 listed as the whole street; a street in several districts is listed part by part along the street, each part named \
                 by its cross streets (from one junction to another) and, where a district border runs between two junctions, by \
                 the meters from the last junction (rounded to 10 m). Each cell counts for the street that runs longest through it."
            ),
        }
    }

    /// The lines of each street (by normalised name, in list order): name, school of every line.
    fn by_street(&self) -> Vec<(String, Vec<usize>)> {
        let mut order: Vec<String> = Vec::new();
        let mut map: HashMap<String, (String, Vec<usize>)> = HashMap::new();
        for p in &self.parts {
            let k = normalize_street(&p.street);
            let e = map.entry(k.clone()).or_insert_with(|| {
                order.push(k);
                (p.street.clone(), Vec::new())
            });
            e.1.push(p.school);
        }
        order.into_iter().map(|k| map.remove(&k).expect("inserted")).collect()
    }

    /// The list in figures.
    pub fn stats(&self) -> StreetStats {
        let streets = self.by_street();
        let districts = |s: &[usize]| s.iter().collect::<BTreeSet<_>>().len();
        let split = streets.iter().filter(|(_, s)| districts(s) > 1).count();
        StreetStats {
            kind: match self.kind {
                StreetListKind::Addresses => "addresses".into(),
                StreetListKind::GridCells(_) => "grid cells".into(),
            },
            total: streets.len(),
            whole: streets.len() - split,
            split,
            districts_max: streets.iter().map(|(_, s)| districts(s)).max().unwrap_or(0),
            parts: self.parts.len(),
            parts_max: streets.iter().map(|(_, s)| s.len()).max().unwrap_or(0),
            segments: self.segments.map(|c| c.total),
            split_segments: self.segments.map(|c| c.split),
        }
    }

    /// The blocks of the list, each once, in list order.
    pub fn blocks(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.parts
            .iter()
            .flat_map(|p| &p.blocks)
            .map(String::as_str)
            .filter(|b| seen.insert(*b))
            .collect()
    }

    /// The streets in more than one district, in list order.
    pub fn split_streets(&self) -> Vec<SplitStreet> {
        self.by_street()
            .into_iter()
            .filter_map(|(street, lines)| {
                let schools: Vec<usize> =
                    lines.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
                (schools.len() > 1).then_some(SplitStreet { street, parts: lines.len(), schools })
            })
            .collect()
    }
}

/// The part of a street that lies wholly in one district.
pub const WHOLE_STREET: &str = "whole street";

/// A house on a street's list: number, suffix (lower case; for a value that is no house number,
/// the value as written), its school and blocks.
#[derive(Debug, Clone)]
struct House {
    number: u32,
    suffix: String,
    school: usize,
    blocks: Vec<String>,
}

impl House {
    fn label(&self) -> String {
        if self.number == u32::MAX {
            self.suffix.clone()
        } else {
            format!("{}{}", self.number, self.suffix)
        }
    }
}

/// A block's claim on one number of its street.
struct Claim<'a> {
    number: u32,
    suffix: String,
    /// Written out (`15`), not inside a range (`15-17`).
    exact: bool,
    /// The first number of the block's value (ranges claim in order of their start).
    start: u32,
    school: usize,
    block: &'a str,
}

/// The houses of one street from its blocks' numbers, read by [`crate::instance::housenumber`]:
/// a range stands for its side of the street (`22-24` is 22 and 24) and a list for its numbers,
/// staircase and flat left out (`20 B 5` is house `20b`). A number written out wins over a range
/// containing it and a range starting earlier over a later one, so two districts never share a
/// number; a block whose every number went to other blocks of its own school joins them, one
/// whose numbers went to another school keeps them (two blocks of the city on one number in two
/// districts: listed twice, as the districts are).
fn houses(blocks: &[(&Block, usize)]) -> Vec<House> {
    use crate::instance::housenumber;
    let mut claims: Vec<Claim> = Vec::new();
    for (b, s) in blocks {
        let raw = b.house_number.as_deref().unwrap_or("").trim();
        match housenumber::parse(raw) {
            Some(h) => {
                let start = h.first().number;
                for c in h.covered(false) {
                    claims.push(Claim {
                        number: c.house.number,
                        suffix: c.house.suffix,
                        exact: c.exact,
                        start,
                        school: *s,
                        block: &b.id,
                    });
                }
            }
            None => claims.push(Claim {
                number: u32::MAX,
                suffix: raw.to_string(),
                exact: true,
                start: u32::MAX,
                school: *s,
                block: &b.id,
            }),
        }
    }
    // Winners of each (number, suffix): every exact claim, else the earliest range's.
    let mut by_number: BTreeMap<(u32, String), Vec<&Claim>> = BTreeMap::new();
    for c in &claims {
        by_number.entry((c.number, c.suffix.clone())).or_default().push(c);
    }
    let mut won: BTreeMap<(u32, String, usize), Vec<String>> = BTreeMap::new();
    let mut winners: HashMap<&str, usize> = HashMap::new();
    for ((number, suffix), cs) in &by_number {
        let chosen: Vec<&&Claim> = if cs.iter().any(|c| c.exact) {
            cs.iter().filter(|c| c.exact).collect()
        } else {
            let first = cs.iter().min_by_key(|c| (c.start, c.block)).expect("non-empty");
            cs.iter().filter(|c| c.start == first.start && c.school == first.school).collect()
        };
        for c in chosen {
            let ids = won.entry((*number, suffix.clone(), c.school)).or_default();
            if !ids.iter().any(|i| i == c.block) {
                ids.push(c.block.to_string());
            }
            *winners.entry(c.block).or_default() += 1;
        }
    }
    // Blocks that won no number: beside the winners of their numbers when those are of their
    // school, else with their own numbers.
    for (b, s) in blocks {
        if winners.contains_key(b.id.as_str()) {
            continue;
        }
        let mine: Vec<&Claim> = claims.iter().filter(|c| c.block == b.id).collect();
        let same_school = mine.iter().all(|c| won.contains_key(&(c.number, c.suffix.clone(), *s)));
        for c in mine {
            let ids = won.entry((c.number, c.suffix.clone(), *s)).or_default();
            if same_school {
                ids.push(b.id.clone());
                break;
            }
            ids.push(b.id.clone());
        }
    }
    won.into_iter()
        .map(|((number, suffix, school), blocks)| House { number, suffix, school, blocks })
        .collect()
}

/// The street list from address blocks and their schools (`school[i]` for `blocks[i]`). Every
/// block with a street, a house number and a school is in exactly one line (the lines' blocks
/// together are the blocks; see [`StreetList::blocks`]).
pub fn address_street_list(blocks: &[Block], school: &[Option<usize>]) -> StreetList {
    type OnStreet<'a> = (String, Vec<(&'a Block, usize)>);
    let mut streets: BTreeMap<String, OnStreet> = BTreeMap::new();
    for (b, s) in blocks.iter().zip(school) {
        let (Some(street), Some(_), Some(s)) = (&b.street, &b.house_number, s) else { continue };
        let entry =
            streets.entry(normalize_street(street)).or_insert_with(|| (street.clone(), Vec::new()));
        entry.1.push((b, *s));
    }
    let mut parts = Vec::new();
    for (_, (name, on_street)) in streets {
        let nums = houses(&on_street);
        let runs = |list: &[&House]| -> Vec<(usize, usize)> {
            let mut out: Vec<(usize, usize)> = Vec::new();
            for (i, x) in list.iter().enumerate() {
                match out.last_mut() {
                    Some((_, end)) if list[*end].school == x.school => *end = i,
                    _ => out.push((i, i)),
                }
            }
            out
        };
        let all: Vec<&House> = nums.iter().collect();
        let mixed = runs(&all);
        let block_ids = |list: &[&House], a: usize, b: usize| -> Vec<String> {
            let mut ids: Vec<String> = Vec::new();
            for h in &list[a..=b] {
                for id in &h.blocks {
                    if !ids.contains(id) {
                        ids.push(id.clone());
                    }
                }
            }
            ids
        };
        let label = |list: &[&House], a: usize, b: usize| -> String {
            let (first, last) = (list[a].label(), list[b].label());
            if first == last {
                first
            } else {
                format!("{first}–{last}")
            }
        };
        if mixed.len() == 1 {
            parts.push(StreetPart {
                street: name.clone(),
                part: WHOLE_STREET.into(),
                house_numbers: "all".into(),
                school: nums[0].school,
                blocks: block_ids(&all, 0, all.len() - 1),
            });
            continue;
        }
        let odd: Vec<&House> = nums.iter().filter(|x| x.number % 2 == 1).collect();
        let even: Vec<&House> = nums.iter().filter(|x| x.number % 2 == 0).collect();
        let (odd_runs, even_runs) = (runs(&odd), runs(&even));
        if odd_runs.len() + even_runs.len() < mixed.len() {
            for (list, rs, side) in [(&odd, &odd_runs, "odd"), (&even, &even_runs, "even")] {
                for &(a, b) in rs {
                    let numbers = format!("{} ({side})", label(list, a, b));
                    parts.push(StreetPart {
                        street: name.clone(),
                        part: format!("house numbers {numbers}"),
                        house_numbers: numbers,
                        school: list[a].school,
                        blocks: block_ids(list, a, b),
                    });
                }
            }
        } else {
            for &(a, b) in &mixed {
                parts.push(StreetPart {
                    street: name.clone(),
                    part: format!("house numbers {}", label(&all, a, b)),
                    house_numbers: label(&all, a, b),
                    school: all[a].school,
                    blocks: block_ids(&all, a, b),
                });
            }
        }
    }
    StreetList { kind: StreetListKind::Addresses, parts, segments: None }
}

/// The blocks of every street, as the street lists count split streets: for address blocks
/// the blocks on it (by normalised name); for grid blocks, with the city's named `lines`, the
/// cells its segments own (or run through longest). One list per street, blocks ascending;
/// `None` for grid blocks without lines.
pub fn street_blocks(
    lines: Option<&[StreetLine]>,
    blocks: &[Block],
) -> Result<Option<Vec<Vec<usize>>>> {
    let mut by: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    if blocks.iter().any(|b| b.street.is_some() && b.house_number.is_some()) {
        for (i, b) in blocks.iter().enumerate() {
            if let (Some(street), Some(_)) = (&b.street, &b.house_number) {
                by.entry(normalize_street(street)).or_default().insert(i);
            }
        }
    } else {
        let Some(lines) = lines else { return Ok(None) };
        let grid = network::grid(blocks)?;
        let named: Vec<StreetLine> =
            lines.iter().filter(|l| !l.name.trim().is_empty()).cloned().collect();
        let net = network::network(&named);
        let traced = network::trace(&net, &grid);
        for t in &traced.traces {
            let key = normalize_street(&net.streets[t.stretch.street].name);
            let set = by.entry(key).or_default();
            for &(_, b) in &t.samples {
                if traced.has(t.segment, b) {
                    set.insert(b);
                }
            }
        }
    }
    Ok(Some(by.into_values().filter(|s| !s.is_empty()).map(|s| s.into_iter().collect()).collect()))
}

/// The ways a street list names: those with a name. Ways without one (paths, drawn on the
/// report's map) have no place in the list, and neither make junctions nor own cells: the
/// segments of the list and those `--whole-segments` keeps whole are built from these alone,
/// so the rule and the count of split segments speak of the same segments.
pub fn named_lines(lines: &[StreetLine]) -> Vec<StreetLine> {
    lines.iter().filter(|l| !l.name.trim().is_empty()).cloned().collect()
}

/// The street list for grid blocks: every named street whole when all its cells lie in one
/// district, else one line per part along the street with the same school, named by its cross
/// streets. `school[i]` is the school of `blocks[i]`.
pub fn grid_street_list(
    lines: &[StreetLine],
    blocks: &[Block],
    school: &[Option<usize>],
) -> Result<StreetList> {
    let grid = network::grid(blocks)?;
    let net = network::network(&named_lines(lines));
    let traced = network::trace(&net, &grid);
    // Pieces of every chain in order: (school, from, to, blocks), meters along the chain.
    let mut pieces: BTreeMap<(usize, usize), Vec<Piece>> = BTreeMap::new();
    let mut schools_of: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); traced.cells.len()];
    for t in &traced.traces {
        let ps = stretch_pieces(net.chain(t.stretch), t, &traced, school);
        let chain = pieces.entry((t.stretch.street, t.stretch.chain)).or_default();
        for p in ps {
            schools_of[t.segment].insert(p.school);
            match chain.last_mut() {
                Some(last) if last.school == p.school => {
                    last.to = p.to;
                    last.blocks.extend(p.blocks);
                }
                _ => chain.push(p),
            }
        }
    }
    let count = SegmentCount {
        total: schools_of.iter().filter(|s| !s.is_empty()).count(),
        split: schools_of.iter().filter(|s| s.len() > 1).count(),
    };
    let ids = |bs: &BTreeSet<usize>| -> Vec<String> {
        let mut v: Vec<String> = bs.iter().map(|&b| blocks[b].id.clone()).collect();
        v.sort_by(|a, b| id_cmp(a, b));
        v
    };
    let mut parts = Vec::new();
    for (s, street) in net.streets.iter().enumerate() {
        let chains: Vec<(usize, &Vec<Piece>)> =
            pieces.range((s, 0)..(s + 1, 0)).map(|(&(_, c), v)| (c, v)).collect();
        let schools: BTreeSet<usize> =
            chains.iter().flat_map(|(_, v)| v.iter().map(|p| p.school)).collect();
        if schools.len() == 1 {
            let all: BTreeSet<usize> = chains
                .iter()
                .flat_map(|(_, v)| v.iter().flat_map(|p| p.blocks.iter().copied()))
                .collect();
            parts.push(StreetPart {
                street: street.name.clone(),
                part: WHOLE_STREET.into(),
                house_numbers: String::new(),
                school: *schools.first().expect("one school"),
                blocks: ids(&all),
            });
            continue;
        }
        // One line per piece; pieces described alike with the same school are one line. Lines
        // run along the street (west to east, or north to south) by where they start.
        let pts = street.chains.iter().flat_map(|c| c.points.iter());
        let (lo, hi) = pts.fold(((f64::MAX, f64::MAX), (f64::MIN, f64::MIN)), |(lo, hi), p| {
            ((lo.0.min(p.0), lo.1.min(p.1)), (hi.0.max(p.0), hi.1.max(p.1)))
        });
        let along = |p: (f64, f64)| if hi.0 - lo.0 >= hi.1 - lo.1 { p.0 } else { -p.1 };
        let mut lines: Vec<(f64, String, usize, BTreeSet<usize>)> = Vec::new();
        for (c, ps) in chains {
            let chain = &street.chains[c];
            for p in ps {
                let text = describe(chain, p.from, p.to);
                match lines.iter_mut().find(|l| l.1 == text && l.2 == p.school) {
                    Some(l) => l.3.extend(p.blocks.iter().copied()),
                    None => lines.push((
                        along(chain.point_at(p.from)),
                        text,
                        p.school,
                        p.blocks.clone(),
                    )),
                }
            }
        }
        lines.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, text, school, bs) in lines {
            parts.push(StreetPart {
                street: street.name.clone(),
                part: text,
                house_numbers: String::new(),
                school,
                blocks: ids(&bs),
            });
        }
    }
    Ok(StreetList { kind: StreetListKind::GridCells(grid.size), parts, segments: Some(count) })
}

/// A stretch of a chain with one school: meters along the chain, and its blocks.
#[derive(Debug, Clone)]
struct Piece {
    school: usize,
    from: f64,
    to: f64,
    blocks: BTreeSet<usize>,
}

/// The pieces of one stretch by the schools of its segment's cells, in order along the chain;
/// a border between two samples lies halfway. Empty when none of those cells has a school.
fn stretch_pieces(
    chain: &Chain,
    t: &Trace,
    traced: &Traced,
    school: &[Option<usize>],
) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut last_at = 0.0;
    for &(at, b) in &t.samples {
        let Some(s) = school[b].filter(|_| traced.has(t.segment, b)) else { continue };
        match out.last_mut() {
            Some(p) if p.school == s => {
                p.blocks.insert(b);
            }
            Some(p) => {
                let mid = (last_at + at) / 2.0;
                p.to = mid;
                out.push(Piece { school: s, from: mid, to: mid, blocks: BTreeSet::from([b]) });
            }
            None => out.push(Piece { school: s, from: 0.0, to: 0.0, blocks: BTreeSet::from([b]) }),
        }
        last_at = at;
    }
    if let Some(first) = out.first_mut() {
        first.from = chain.stop_at(t.stretch.from);
    }
    if let Some(last) = out.last_mut() {
        last.to = chain.stop_at(t.stretch.from + 1);
    }
    out
}

/// Meters as a reader takes them: rounded to 10 m, at least 10 m.
fn meters(d: f64) -> u32 {
    (((d / 10.0).round() * 10.0) as u32).max(10)
}

/// A point of a chain: a stop (its index) or meters past one stop towards the next.
enum Point {
    Stop(usize),
    Between(usize, f64),
}

fn locate(chain: &Chain, at: f64) -> Point {
    let n = chain.stops.len();
    if let Some(i) = (0..n).find(|&i| chain.stop_at(i) == at) {
        return Point::Stop(i);
    }
    let i = (0..n - 1).rev().find(|&i| chain.stop_at(i) <= at).unwrap_or(0);
    Point::Between(i, at - chain.stop_at(i))
}

/// A part of a chain in words, from its cross streets: `from A to B`, `from A for 120 m
/// towards B`, `from 120 m past A to B`, `from 120 m past A towards B to C`; a fork stands for
/// the nearest junction beyond it, and meters count from there.
fn describe(chain: &Chain, from: f64, to: f64) -> String {
    let label = |i: usize| chain.stops[i].1.label();
    let past = |i: usize, d: f64| meters(chain.stops[i].1.offset() + d);
    let between =
        |i: usize, d: f64| format!("{} m past {} towards {}", past(i, d), label(i), label(i + 1));
    match (locate(chain, from), locate(chain, to)) {
        (Point::Stop(a), Point::Stop(b)) if label(a) == label(b) => format!("near {}", label(a)),
        (Point::Stop(a), Point::Stop(b)) => format!("from {} to {}", label(a), label(b)),
        (Point::Stop(a), Point::Between(i, d)) if a == i => {
            format!("from {} for {} m towards {}", label(a), past(i, d), label(i + 1))
        }
        (Point::Between(i, d), Point::Stop(b)) if b == i + 1 => {
            format!("from {} m past {} to {}", past(i, d), label(i), label(b))
        }
        (Point::Between(i, d1), Point::Between(j, d2)) if i == j => format!(
            "from {} m to {} m past {} towards {}",
            past(i, d1),
            past(i, d2),
            label(i),
            label(i + 1)
        ),
        (Point::Stop(a), Point::Between(i, d)) => format!("from {} to {}", label(a), between(i, d)),
        (Point::Between(i, d), Point::Stop(b)) => format!("from {} to {}", between(i, d), label(b)),
        (Point::Between(i, d1), Point::Between(j, d2)) => {
            format!("from {} to {}", between(i, d1), between(j, d2))
        }
    }
}

/// The tag that marks a way a generator added to route on, not a street (a link between pieces
/// of an incomplete network, from a block's centre to a street, between neighbouring blocks):
/// `catchment-dataset magdeburg` writes it. The street readers leave such ways out.
pub const LINK_TAG: &str = "catchment:link";

/// Streets (`highway` ways without [`LINK_TAG`]; the street list uses those with a `name`, the
/// map all of them) from an OSM file: `.osm` (XML), `.osm.pbf`, or GeoJSON (LineString / MultiLineString
/// features, named by a `name` property). Fails when no way has a name.
pub fn read_street_lines(path: &Path) -> Result<Vec<StreetLine>> {
    // OSM files are streamed by their readers: refuse devices, directories and oversized
    // files first.
    crate::instance::limits::check_input_file(path)?;
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
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    osm_xml_lines(&name, std::io::BufReader::new(file))
}

/// Streets from text given in a request: OSM XML (it starts with `<`) or GeoJSON; fails like
/// [`read_street_lines`] when no way has a name.
pub fn street_lines_from_text(name: &str, text: &str) -> Result<Vec<StreetLine>> {
    let lines = if text.trim_start().starts_with('<') {
        osm_xml_lines(name, text.as_bytes())?
    } else {
        street_lines_from_geojson(name, text)?
    };
    if lines.iter().all(|l| l.name.trim().is_empty()) {
        return Err(Error::input(
            name,
            None,
            None,
            "no named streets found (ways with 'highway' and 'name' tags)",
        ));
    }
    Ok(lines)
}

fn osm_xml_lines(name: &str, input: impl std::io::BufRead) -> Result<Vec<StreetLine>> {
    use quick_xml::events::Event;
    let err = |e: &dyn std::fmt::Display| Error::input(name, None, None, e.to_string());
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut nodes: HashMap<i64, (f64, f64)> = HashMap::new();
    let mut ways: Vec<(String, Vec<i64>)> = Vec::new();
    // (refs, name, highway, a generator's link)
    let mut way: Option<(Vec<i64>, Option<String>, bool, bool)> = None;
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
                b"way" => way = Some((Vec::new(), None, false, false)),
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
                            Some(LINK_TAG) => w.3 = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            },
            Event::End(e) if e.name().as_ref() == b"way" => {
                if let Some((refs, name, true, false)) = way.take() {
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
                let (mut highway, mut link) = (false, false);
                for (k, v) in w.tags() {
                    match k {
                        "name" => name = Some(v.to_string()),
                        "highway" => highway = true,
                        LINK_TAG => link = true,
                        _ => {}
                    }
                }
                if highway && !link {
                    ways.push((name.unwrap_or_default(), w.refs().collect()));
                }
            }
            Element::Relation(_) => {}
        })
        .map_err(err)?;
    Ok(resolve(ways, &nodes))
}

fn from_geojson(path: &Path) -> Result<Vec<StreetLine>> {
    let name = path.display().to_string();
    let text = String::from_utf8(crate::instance::read_input(path)?)
        .map_err(|_| Error::input(&name, None, None, "not valid UTF-8 text"))?;
    street_lines_from_geojson(&name, &text)
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

    fn lines(list: &StreetList) -> Vec<(String, String, usize)> {
        list.parts.iter().map(|p| (p.street.clone(), p.house_numbers.clone(), p.school)).collect()
    }

    /// Issue 14: ranges from OSM read "19–31-33" and "22-24–24 (even)".
    #[test]
    fn ranges_are_normalised() {
        let mut blocks = Vec::new();
        let mut school = Vec::new();
        for n in (19..=29).step_by(2) {
            blocks.push(addr(&format!("L{n}"), "Lindenweg", &n.to_string()));
            school.push(Some(0));
        }
        blocks.push(addr("L31", "Lindenweg", "31-33"));
        school.push(Some(0));
        blocks.push(addr("L35", "Lindenweg", "35"));
        school.push(Some(1));
        blocks.push(addr("L22", "Lindenweg", "22-24"));
        blocks.push(addr("L24", "Lindenweg", "24"));
        blocks.push(addr("L26", "Lindenweg", "26"));
        school.extend([Some(1), Some(1), Some(1)]);
        let list = address_street_list(&blocks, &school);
        assert_eq!(
            lines(&list),
            vec![
                ("Lindenweg".into(), "19–33 (odd)".into(), 0),
                ("Lindenweg".into(), "35 (odd)".into(), 1),
                ("Lindenweg".into(), "22–26 (even)".into(), 1),
            ]
        );
        assert_eq!(list.parts[2].blocks, vec!["L22", "L24", "L26"]);
    }

    /// Issue 14: "1–15" and "15-17" in two districts: the number written out wins, so 15 is
    /// listed once.
    #[test]
    fn no_number_is_in_two_districts() {
        let mut blocks = Vec::new();
        let mut school = Vec::new();
        for n in (1..=15).step_by(2) {
            blocks.push(addr(&format!("K{n}"), "Kirchweg", &n.to_string()));
            school.push(Some(0));
        }
        blocks.push(addr("K15-17", "Kirchweg", "15-17"));
        blocks.push(addr("K19", "Kirchweg", "19"));
        school.extend([Some(1), Some(1)]);
        let list = address_street_list(&blocks, &school);
        assert_eq!(
            lines(&list),
            vec![("Kirchweg".into(), "1–15".into(), 0), ("Kirchweg".into(), "17–19".into(), 1)]
        );
        // Every number of every line, by school: none in two.
        let mut seen: HashMap<u32, usize> = HashMap::new();
        for p in &list.parts {
            let (lo, hi) = p.house_numbers.split_once('–').unwrap();
            for n in (lo.parse::<u32>().unwrap()..=hi.parse().unwrap()).step_by(2) {
                assert!(seen.insert(n, p.school).is_none_or(|s| s == p.school), "{n} twice");
            }
        }
        assert_eq!(list.parts[1].blocks, vec!["K15-17", "K19"]);
    }

    /// Issue 14: one block with a spelling variant of its street was missing from the list.
    /// Every block with an address and a school is in the list, in a line of its school.
    #[test]
    fn every_block_is_in_the_list() {
        let blocks = vec![
            addr("H3", "Hegelstraße", "3"),
            addr("H3x", "Hegelstr.", "3"),
            addr("H5", "Hegelstraße", "5 A"),
            addr("H5b", "Hegelstraße", "5b"),
            addr("H6", "Hegelstraße", "ohne Nummer"),
            addr("H7", "Hegelstraße", "7-9"),
            addr("H9", "Hegelstraße", "9"),
            addr("H11", "Hegelstraße", "11 B 5"),
            addr("H11c", "Hegelstraße", "11 C 2"),
        ];
        let school =
            vec![Some(0), Some(0), Some(0), Some(1), Some(0), Some(1), Some(0), Some(1), Some(1)];
        let list = address_street_list(&blocks, &school);
        let mut listed: Vec<&str> = list.blocks();
        listed.sort();
        let mut all: Vec<&str> = blocks.iter().map(|b| b.id.as_str()).collect();
        all.sort();
        assert_eq!(listed, all, "{:#?}", list.parts);
        for (b, s) in blocks.iter().zip(&school) {
            assert!(
                list.parts.iter().any(|p| p.blocks.contains(&b.id) && Some(p.school) == *s),
                "{} not in a line of its school",
                b.id
            );
        }
        // A staircase address is the house: 11b and 11c, both listed as houses of 11.
        assert!(list.parts.iter().any(|p| p.house_numbers.contains("11b")), "{:#?}", list.parts);
    }

    #[test]
    fn streets_are_whole_or_in_parts_named_from_their_ends_and_junctions() {
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
        let p = |de: f64| crate::projection::inverse(e + de, n + 50.0);
        let lines = vec![
            StreetLine { name: "Lange Straße".into(), points: vec![p(10.0), p(190.0)] },
            StreetLine { name: "Kurze Str.".into(), points: vec![p(20.0), p(80.0)] },
            StreetLine { name: "Feldweg".into(), points: vec![p(500.0), p(600.0)] },
        ];
        let list = grid_street_list(&lines, &blocks, &school).unwrap();
        let got: Vec<(String, String, usize, Vec<String>)> = list
            .parts
            .iter()
            .map(|p| (p.street.clone(), p.part.clone(), p.school, p.blocks.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Kurze Str.".into(), "whole street".into(), 0, vec![blocks[0].id.clone()]),
                (
                    "Lange Straße".into(),
                    "from the west end for 90 m towards the east end".into(),
                    0,
                    vec![blocks[0].id.clone()]
                ),
                (
                    "Lange Straße".into(),
                    "from 90 m past the west end to the east end".into(),
                    1,
                    vec![blocks[1].id.clone()]
                ),
            ]
        );
        assert!(list.note().contains("no house numbers"));
        assert_eq!(list.segments, Some(SegmentCount { total: 2, split: 1 }));
        let stats = list.stats();
        assert_eq!((stats.total, stats.split, stats.districts_max, stats.parts_max), (2, 1, 2, 2));
        assert_eq!(list.split_streets()[0].schools, vec![0, 1]);
    }

    #[test]
    fn a_generators_links_are_no_streets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.osm");
        let way = |id: u32, a: u32, b: u32, tags: &str| {
            format!("<way id=\"{id}\"><nd ref=\"{a}\"/><nd ref=\"{b}\"/>{tags}</way>")
        };
        let xml = format!(
            "<osm>{}{}{}{}{}</osm>",
            (1..=4)
                .map(|i| format!("<node id=\"{i}\" lat=\"52.1\" lon=\"11.6{i}\"/>"))
                .collect::<String>(),
            way(1, 1, 2, r#"<tag k="highway" v="residential"/><tag k="name" v="Lange Straße"/>"#),
            way(2, 2, 3, r#"<tag k="highway" v="footway"/>"#),
            way(
                3,
                3,
                4,
                &format!(r#"<tag k="highway" v="footway"/><tag k="{LINK_TAG}" v="cell"/>"#)
            ),
            way(4, 1, 4, r#"<tag k="name" v="Kein Weg"/>"#),
        );
        std::fs::write(&path, xml).unwrap();
        let lines = read_street_lines(&path).unwrap();
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        // The named street and the path are read; the link and the way without highway are not.
        assert_eq!(names, vec!["Lange Straße", ""]);
        assert_eq!(lines[1].points.len(), 2);
    }
}
