//! Districts for every block of the city, from the plan's school prices: each block goes to the
//! school minimising `walk + price` (ties by school order) — the same rule every pupil of the
//! plan already satisfies, so blocks with pupils keep their school and blocks without pupils
//! this year get the school a pupil there would get. And the explanation a council gives a
//! family, derived from the same prices.

pub mod adjacency;
pub mod area;
pub mod blocks;
pub mod contiguous;
pub mod edit;
pub mod files;
pub mod network;
pub mod pins;
pub mod polygons;
pub mod publish;
pub mod segments;
pub mod streets;
pub mod voronoi;

use crate::error::{Error, InputProblem, Result};
use crate::instance::{file_name, id_cmp, School};
use crate::routing::binary::{self, Format};
use crate::routing::UNREACHABLE;
use std::collections::HashMap;
use std::path::Path;

/// One block's district, with the numbers of its explanation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DistrictRow {
    /// The block's id.
    pub block_id: String,
    /// The block's school (index into the schools); `None`: no route to any school.
    pub school: Option<usize>,
    /// Walking meters from the block to its school (`None` when it has none).
    pub walk_m: Option<u32>,
    /// The nearest reachable school: (index into the schools, walking meters).
    pub nearest: Option<(usize, u32)>,
    /// `price[nearest] - price[school]`: what a seat at the nearest school would cost others.
    pub cost_to_others_m: i64,
    /// Residents of the block (all ages), from the blocks file.
    pub residents: u32,
    /// For plans kept close to last year's districts: the change cost the block's school saves
    /// against the nearest school (0 otherwise).
    pub keep_cost_m: i64,
}

/// Walking meters from every block of the city to every school.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockMatrix {
    /// Block ids in id order.
    pub blocks: Vec<String>,
    /// Number of schools (columns), in instance order.
    pub n_schools: usize,
    /// Walking distance in whole meters, `meters[b * n_schools + s]`; `UNREACHABLE` for no route.
    pub meters: Vec<u32>,
}

impl BlockMatrix {
    /// Block `b`'s row: meters to every school, `UNREACHABLE` where there is no route.
    pub fn row(&self, b: usize) -> &[u32] {
        &self.meters[b * self.n_schools..(b + 1) * self.n_schools]
    }

    /// Position of the block with this id in `blocks`.
    pub fn index(&self, block: &str) -> Option<usize> {
        self.blocks.binary_search_by(|b| id_cmp(b, block)).ok()
    }
}

/// Write a block matrix as the long CSV `block_id,school_id,meters` (rows in block order, then
/// school order) with its `.meta.json` sidecar naming `source`.
pub fn write_block_matrix(
    path: &Path,
    bm: &BlockMatrix,
    schools: &[School],
    source: &str,
) -> Result<()> {
    use crate::routing::matrix::{write_long_csv, write_meta};
    let rows: Vec<&str> = bm.blocks.iter().map(String::as_str).collect();
    let ids: Vec<&str> = schools.iter().map(|s| s.id.as_str()).collect();
    write_long_csv(path, "block_id", &rows, &ids, &bm.meters, None)?;
    write_meta(path, source, &[])
}

/// Read a matrix covering every block of the city: long CSV `block_id,school_id,meters[,...]`
/// or the binary format keyed by block ([`crate::routing::binary`]), told apart by content.
/// Pairs the file does not give are unreachable.
pub fn read_block_matrix(path: &Path, schools: &[School]) -> Result<BlockMatrix> {
    let len = crate::instance::limits::check_input_file(path)?.len();
    let input = crate::instance::limits::open_input(path)?;
    block_matrix_from(&file_name(path), input, Some(len), schools)
}

/// [`read_block_matrix`] from any reader (`name` labels messages).
pub fn parse_block_matrix(
    name: &str,
    input: impl std::io::Read,
    schools: &[School],
) -> Result<BlockMatrix> {
    block_matrix_from(name, input, None, schools)
}

fn block_matrix_from(
    name: &str,
    input: impl std::io::Read,
    len: Option<u64>,
    schools: &[School],
) -> Result<BlockMatrix> {
    match binary::sniff(name, input)? {
        (Format::Binary, r) => block_matrix_from_binary(name, r, len, schools),
        (Format::Csv, r) => block_matrix_from_csv(name, r, schools),
    }
}

fn block_matrix_from_csv(
    name: &str,
    input: impl std::io::Read,
    schools: &[School],
) -> Result<BlockMatrix> {
    use crate::instance::limits;
    let name = name.to_string();
    let mut rdr =
        csv::ReaderBuilder::new().buffer_capacity(1 << 16).from_reader(limits::Limited::new(input));
    let csv_error =
        |e: csv::Error| limits::csv_exceeded(&name, &e).unwrap_or_else(|| Error::csv(&name, e));
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let col = |n: &str| headers.iter().position(|h| h.trim() == n);
    let (Some(bc), Some(sc), Some(mc)) = (col("block_id"), col("school_id"), col("meters")) else {
        return Err(Error::input(
            &name,
            Some(1),
            Some("block_id"),
            "needs columns 'block_id', 'school_id', 'meters'",
        ));
    };
    let school_ix: HashMap<&str, usize> =
        schools.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let n_s = schools.len();
    // Rows in order of first appearance, `meters` grown a row at a time; the last row's block
    // and the school expected next are tried before any hashing.
    let mut row_of: HashMap<String, usize> = HashMap::new();
    let mut blocks: Vec<String> = Vec::new();
    let mut meters: Vec<u32> = Vec::new();
    let mut last: Option<usize> = None;
    let mut next_school = 0usize;
    let mut problems = Vec::new();
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e)),
        }
        let line = rec.position().map(|p| p.line());
        if line.is_some_and(|l| l > limits::MAX_MATRIX_CELLS + 1) {
            return Err(limits::too_many_matrix_rows(&name, line.unwrap_or(0)));
        }
        let (b, s, m) =
            (rec.get(bc).unwrap_or(""), rec.get(sc).unwrap_or(""), rec.get(mc).unwrap_or(""));
        let si = if next_school < n_s && schools[next_school].id == s {
            next_school
        } else {
            let Some(&si) = school_ix.get(s) else {
                problems.push(InputProblem::new(
                    &name,
                    line,
                    Some("school_id"),
                    format!("unknown school id '{}'", limits::shown(s)),
                ));
                continue;
            };
            si
        };
        next_school = si + 1;
        let value = match crate::routing::matrix::plain_meters(m.as_bytes()) {
            Some(x) => Ok(x),
            None => crate::routing::matrix::distance_value(m.trim()),
        };
        let value = match value {
            Ok(x) => x,
            Err(msg) => {
                problems.push(InputProblem::new(&name, line, Some("meters"), msg));
                continue;
            }
        };
        let r = match last.filter(|&r| blocks[r] == b) {
            Some(r) => r,
            None => {
                let r = match row_of.get(b) {
                    Some(&r) => r,
                    None => {
                        if b.len() > limits::MAX_ID_BYTES {
                            problems.push(InputProblem::new(
                                &name,
                                line,
                                Some("block_id"),
                                limits::id_too_long(),
                            ));
                            continue;
                        }
                        if ((blocks.len() + 1) as u64).saturating_mul(n_s as u64)
                            > limits::MAX_MATRIX_CELLS
                        {
                            return Err(limits::matrix_too_large(
                                &name,
                                blocks.len() as u64 + 1,
                                n_s as u64,
                                "blocks",
                            ));
                        }
                        row_of.insert(b.to_string(), blocks.len());
                        blocks.push(b.to_string());
                        meters.resize(meters.len() + n_s, UNREACHABLE);
                        blocks.len() - 1
                    }
                };
                last = Some(r);
                r
            }
        };
        meters[r * n_s + si] = value;
        if problems.len() > 100 {
            break;
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    Ok(sorted_blocks(blocks, n_s, meters))
}

/// Rows put in id order (`id_cmp`); already sorted rows are kept as they are.
fn sorted_blocks(blocks: Vec<String>, n_s: usize, meters: Vec<u32>) -> BlockMatrix {
    if blocks.windows(2).all(|w| id_cmp(&w[0], &w[1]).is_lt()) {
        return BlockMatrix { blocks, n_schools: n_s, meters };
    }
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by(|&a, &b| id_cmp(&blocks[a], &blocks[b]));
    let mut sorted = Vec::with_capacity(meters.len());
    for &r in &order {
        sorted.extend_from_slice(&meters[r * n_s..(r + 1) * n_s]);
    }
    let blocks = order.iter().map(|&r| blocks[r].clone()).collect();
    BlockMatrix { blocks, n_schools: n_s, meters: sorted }
}

/// A binary matrix's rows for the city's blocks.
struct ToBlocks<'a> {
    name: &'a str,
    schools: &'a [School],
    meters: Vec<u32>,
    /// (file column, school index) of the file's known schools.
    cols: Vec<(usize, usize)>,
    identity: bool,
    /// The file has seconds (which a block matrix does not keep).
    seconds: bool,
    problems: Vec<InputProblem>,
}

impl binary::RowSink for ToBlocks<'_> {
    fn header(&mut self, h: &binary::Header) {
        self.seconds = h.seconds;
        if !h.blocks {
            self.problems.push(InputProblem::new(
                self.name,
                None,
                Some("block_id"),
                "the binary matrix has a row per pupil: the walks from every block need a row \
                 per block",
            ));
            return;
        }
        if h.sparse {
            self.problems.push(InputProblem::new(
                self.name,
                None,
                Some("block_id"),
                "the binary matrix gives only some schools per block (sparse rows): the walks \
                 from every block need every pair",
            ));
            return;
        }
        let school_ix: HashMap<&str, usize> =
            self.schools.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        for (c, sid) in h.schools.iter().enumerate() {
            match school_ix.get(sid.as_str()) {
                Some(&s) => self.cols.push((c, s)),
                None => self.problems.push(InputProblem::new(
                    self.name,
                    None,
                    Some("school_id"),
                    format!("unknown school id '{}'", crate::instance::limits::shown(sid)),
                )),
            }
        }
        self.identity = h.schools.len() == self.schools.len()
            && self.cols.iter().enumerate().all(|(i, &(c, s))| i == c && c == s);
        self.meters = vec![UNREACHABLE; h.rows.len() * self.schools.len()];
    }

    fn place(&mut self, r: usize) -> Option<(&mut [u32], Option<&mut [u32]>)> {
        let n_s = self.schools.len();
        (self.identity && self.problems.is_empty() && !self.seconds)
            .then(|| (&mut self.meters[r * n_s..(r + 1) * n_s], None))
    }

    fn row(&mut self, r: usize, meters: &[u32], _: Option<&[u32]>) {
        let n_s = self.schools.len();
        if !self.problems.is_empty() {
            return;
        }
        if self.identity {
            self.meters[r * n_s..(r + 1) * n_s].copy_from_slice(meters);
        } else {
            for &(c, s) in &self.cols {
                self.meters[r * n_s + s] = meters[c];
            }
        }
    }
    fn pairs(&mut self, _: usize, _: &[u32], _: &[u32], _: Option<&[u32]>) {
        // Refused in `header`.
    }
}

fn block_matrix_from_binary(
    name: &str,
    input: impl std::io::Read,
    len: Option<u64>,
    schools: &[School],
) -> Result<BlockMatrix> {
    let mut sink = ToBlocks {
        name,
        schools,
        meters: Vec::new(),
        cols: Vec::new(),
        identity: false,
        seconds: false,
        problems: Vec::new(),
    };
    let header = binary::read(name, input, len, &mut sink)?;
    if !sink.problems.is_empty() {
        return Err(Error::Input(sink.problems));
    }
    Ok(sorted_blocks(header.rows, schools.len(), sink.meters))
}

/// The school of every block: least `walk + price`, ties by school order; `None` for a block
/// with no route to any school.
pub fn assign_blocks(bm: &BlockMatrix, prices: &[i64]) -> Vec<Option<usize>> {
    (0..bm.blocks.len())
        .map(|b| least_cost_school(bm.row(b), |s, d| Some(d as i64 + prices[s])))
        .collect()
}

/// The reachable school of a row of walks with the least `cost(school, walk)`, ties by school
/// order; `cost` gives `None` for a school that may not be chosen.
pub fn least_cost_school(row: &[u32], cost: impl Fn(usize, u32) -> Option<i64>) -> Option<usize> {
    row.iter()
        .enumerate()
        .filter(|(_, &d)| d != UNREACHABLE)
        .filter_map(|(s, &d)| cost(s, d).map(|c| (c, s)))
        .min()
        .map(|(_, s)| s)
}

/// Why a block belongs to its school, in numbers and in plain English and German.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// The block's id.
    pub block: String,
    /// The id of the block's school.
    pub school: String,
    /// Walking meters from the block to its school.
    pub walk_m: u32,
    /// The id of the nearest school.
    pub nearest_school: String,
    /// Walking meters from the block to the nearest school.
    pub nearest_walk_m: u32,
    /// How much longer the others' walks get, in total, if this block takes a seat at the
    /// nearest school instead (the difference of the two schools' prices). At least the
    /// meters it would save, which is why the block is not there.
    pub cost_to_others_m: i64,
    /// The explanation as an English sentence.
    pub english: String,
    /// The explanation as a German sentence.
    pub german: String,
}

/// Explain the district of `block` from the prices (its school by `assign_blocks`).
pub fn explain(
    bm: &BlockMatrix,
    schools: &[School],
    prices: &[i64],
    block: &str,
) -> Result<Explanation> {
    let b = bm
        .index(block)
        .ok_or_else(|| Error::not_found(format!("block '{block}' is not in the block matrix")))?;
    let s = assign_blocks(bm, prices)[b]
        .ok_or_else(|| Error::not_found(format!("block '{block}' has no route to any school")))?;
    let (n, nd) = nearest_school(bm.row(b)).expect("a reachable school exists");
    Ok(explain_numbers(
        block,
        (&schools[s].id, &schools[s].name),
        bm.row(b)[s],
        (&schools[n].id, &schools[n].name),
        nd,
        prices[n] - prices[s],
        0,
    ))
}

/// The nearest reachable school of a row of walks (ties by school order) and its walk.
pub fn nearest_school(row: &[u32]) -> Option<(usize, u32)> {
    least_cost_school(row, |_, d| Some(d as i64)).map(|s| (s, row[s]))
}

/// The explanation from its numbers: the block's school (id, name) and walk, the nearest school
/// and its walk, and the difference of their prices (`price[nearest] - price[school]`: what a
/// seat at the nearest school for this block would cost the others, in meters).
///
/// `keep_cost` is, for plans kept close to last year's districts, the change cost the block's
/// school saves against the nearest one (0 otherwise).
#[allow(clippy::too_many_arguments)]
pub fn explain_numbers(
    block: &str,
    school: (&str, &str),
    walk: u32,
    nearest: (&str, &str),
    nearest_walk: u32,
    cost_to_others: i64,
    keep_cost: i64,
) -> Explanation {
    // Names may end in an abbreviation's dot ("Hegelstr."): no second dot after them.
    let (name, nname, nd, price) = (school.1, nearest.1, nearest_walk, cost_to_others);
    let name_end = name.trim_end_matches('.');
    let (english, german) = if nearest.0 == school.0 || nd >= walk {
        (
            format!("{name} is the nearest school ({walk} m on foot)."),
            format!("{name} ist die nächstgelegene Schule ({walk} m Fußweg)."),
        )
    } else if keep_cost > 0 && price < (walk - nd) as i64 {
        // A plan kept close to last year's districts: the change cost decides too.
        let gap = walk - nd;
        (
            format!(
                "{nname} is {gap} m nearer ({nd} m instead of {walk} m), but this address stays at last year's school: the plan \
                 counts {keep_cost} m for every child whose school changes, and a seat at {nname} would make other children walk \
                 {price} m more in total; together at least the {gap} m saved. So this address belongs to {name_end}."
            ),
            format!(
                "{nname} ist {gap} m näher ({nd} m statt {walk} m), aber diese Adresse bleibt bei der Schule des Vorjahres: \
                 der Plan rechnet {keep_cost} m für jedes Kind, dessen Schule wechselt, und ein Platz an der {nname} verlängert \
                 die Schulwege anderer Kinder um insgesamt {price} m; zusammen mindestens die {gap} m Ersparnis. \
                 Deshalb gehört diese Adresse zu {name_end}."
            ),
        )
    } else if price < (walk - nd) as i64 {
        // Only in plans with whole blocks or whole classes: prices alone do not decide them.
        let gap = walk - nd;
        (
            format!(
                "{nname} is {gap} m nearer ({nd} m instead of {walk} m), but this plan keeps whole blocks and whole classes \
                 together, and the least total walk under that rule puts this address at {name_end}."
            ),
            format!(
                "{nname} ist {gap} m näher ({nd} m statt {walk} m), aber dieser Plan hält Blöcke und Klassen zusammen, \
                 und der kürzeste Gesamtschulweg unter dieser Regel ordnet diese Adresse {name_end} zu."
            ),
        )
    } else {
        let gap = walk - nd;
        (
            format!(
                "{nname} is {gap} m nearer ({nd} m instead of {walk} m), but it is full: a seat there for this address would \
                 make other children walk {price} m more in total, at least the {gap} m saved. So this address belongs to {name_end}."
            ),
            format!(
                "{nname} ist {gap} m näher ({nd} m statt {walk} m), aber voll: ein Platz dort für diese Adresse verlängert \
                 die Schulwege anderer Kinder um insgesamt {price} m, mindestens so viel wie die {gap} m Ersparnis. \
                 Deshalb gehört diese Adresse zu {name_end}."
            ),
        )
    };
    Explanation {
        block: block.to_string(),
        school: school.0.to_string(),
        walk_m: walk,
        nearest_school: nearest.0.to_string(),
        nearest_walk_m: nd,
        cost_to_others_m: price,
        english,
        german,
    }
}
