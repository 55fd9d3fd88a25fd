//! Editing a plan by hand: what moving blocks to other schools does to the walk, the loads,
//! the classes and the districts' shape, against the certified optimum.
//!
//! Every plan directory keeps an [`EditModel`] as `edit.json`: the blocks (id, location, the
//! pupils that can move and where they are now), the sum of their walks to every school, the
//! pupils over 2 km at every school, the blocks' adjacency and the schools' seats — counts and
//! sums per block, never a pupil or an address. [`evaluate`] applies a list of moves to it;
//! `catchment evaluate`, `POST /v1/plans/{id}/evaluate` and the planning page (which runs the
//! same arithmetic in the browser on the same file) give the same figures. A block moved is
//! placed whole at its new school (every pupil of it without a fixed school of their own).

use crate::error::{Error, InputProblem, Result};
use crate::instance::Instance;
use crate::routing::{Matrix, UNREACHABLE};
use crate::Plan;
use std::collections::HashMap;

/// The file a plan directory keeps its edit model in.
pub const EDIT_FILE: &str = "edit.json";

/// Walks above this count as long (the summary's `over_2km`).
const LONG_WALK_M: u32 = 2000;

/// A school as the editor sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EditSchool {
    /// The school's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Latitude (WGS84).
    pub lat: f64,
    /// Longitude (WGS84).
    pub lon: f64,
    /// Seats.
    pub capacity: u32,
    /// Pupils per class.
    pub class_size: u32,
    /// Classrooms, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_classes: Option<u32>,
}

/// A block as the editor sees it: only counts and sums of its pupils.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EditBlock {
    /// The block's id.
    pub id: String,
    /// Location (WGS84), when the city's blocks are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// See `lat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// The block's district (index into the schools): the published one, or the school of most
    /// of its pupils; `None` when it has none.
    pub school: Option<usize>,
    /// Pupils that move with the block (those without a fixed school).
    pub pupils: u32,
    /// Where those pupils are in the plan: `[school, pupils, walk meters, pupils over 2 km]`
    /// (a pupil-level plan may split a block between schools).
    pub at: Vec<[u64; 4]>,
    /// The sum of their walks to every school, `None` where one of them has no route; empty
    /// for a block without such pupils.
    pub walk_m: Vec<Option<u64>>,
    /// How many of them walk more than 2 km to every school; empty like `walk_m`.
    pub over_2km: Vec<u32>,
    /// The named streets of the block (indices into [`EditModel::streets`]): its address's
    /// street, or the streets running through a grid cell; empty without a street list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streets: Vec<u32>,
}

/// What `edit.json` holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EditModel {
    /// The schools, in the plan's order.
    pub schools: Vec<EditSchool>,
    /// The blocks: the city's (every one, with or without pupils) or the pupils' blocks.
    pub blocks: Vec<EditBlock>,
    /// Pupils that never move (a fixed school, or no block), per school: `[pupils, walk
    /// meters, pupils over 2 km]`.
    pub fixed: Vec<[u64; 3]>,
    /// Per block, the blocks it touches (indices; empty without the city's blocks).
    pub neighbours: Vec<Vec<usize>>,
    /// The plan's total walk.
    pub objective_m: u64,
    /// The certified pupil-level optimum under the plan's rules (and pins): no plan walks less.
    pub optimum_m: u64,
    /// Whether the plan as solved is proved optimal for its policy.
    pub optimal: bool,
    /// Street names of the published street list, sorted (the page pins whole streets by
    /// them); empty without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streets: Vec<String>,
}

/// The city's blocks, their published districts (school indices) and their neighbours.
pub type CityBlocks<'a> =
    (&'a [crate::districts::blocks::Block], &'a [Option<usize>], Vec<Vec<usize>>);

/// One move: a block to a school.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Move {
    /// The block's id.
    pub block_id: String,
    /// The school's id.
    pub school_id: String,
}

/// A move as evaluated, in the order given.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MoveCost {
    /// The block's id.
    pub block_id: String,
    /// Its district before the move (school id).
    pub from: Option<String>,
    /// Its school after the move.
    pub to: String,
    /// Pupils moved.
    pub pupils: u32,
    /// The change in total walk this move makes (after the moves before it), in meters.
    pub cost_m: i64,
    /// Whether the target school still has room for them.
    pub room: bool,
}

/// A school's figures after the edit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SchoolFigures {
    /// The school's id.
    pub id: String,
    /// Pupils.
    pub pupils: u64,
    /// Seats.
    pub seats: u32,
    /// Classes that hold the pupils.
    pub classes: u32,
    /// Pupils above the seats (0 when within them).
    pub over_capacity: u64,
    /// Mean walk of its pupils, in meters (0 without pupils), rounded to the meter.
    pub mean_walk_m: u64,
    /// Its pupils walking more than 2 km.
    pub over_2km: u64,
    /// Connected pieces of its district (0 without the city's blocks or without blocks).
    pub pieces: usize,
}

/// The figures of an edited plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Total walk, in meters.
    pub total_m: u64,
    /// Pupils.
    pub pupils: u64,
    /// Pupils walking more than 2 km.
    pub over_2km: u64,
    /// The certified optimum under the plan's rules: no plan walks less.
    pub optimum_m: u64,
    /// `total_m - optimum_m`.
    pub gap_m: u64,
    /// The gap in percent of the optimum (3 decimals).
    pub gap_pct: f64,
    /// `optimal` (the plan as solved, proved), `edited` (blocks moved: never called optimal)
    /// or `unproved` (as solved, not proved optimal).
    pub status: String,
    /// Per school, in the plan's order.
    pub per_school: Vec<SchoolFigures>,
    /// Schools over their seats, districts in several pieces (that were one before), moves to
    /// a school without a route.
    pub warnings: Vec<String>,
    /// Each move's cost.
    pub moves: Vec<MoveCost>,
}

impl EditModel {
    /// The edit model of a plan: `rows` are the published districts' schools (one per city
    /// block, `city_blocks` order) with the city's adjacency, when the city is known.
    pub fn build(inst: &Instance, m: &Matrix, plan: &Plan, city: Option<CityBlocks>) -> EditModel {
        let ns = inst.schools.len();
        let schools = inst
            .schools
            .iter()
            .map(|s| EditSchool {
                id: s.id.clone(),
                name: s.name.clone(),
                lat: s.lat,
                lon: s.lon,
                capacity: s.capacity,
                class_size: s.class_size,
                max_classes: s.max_classes,
            })
            .collect();
        let mut blocks: Vec<EditBlock> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut neighbours = Vec::new();
        if let Some((city_blocks, rows, adj)) = &city {
            for (i, b) in city_blocks.iter().enumerate() {
                index.insert(b.id.clone(), blocks.len());
                blocks.push(empty_block(
                    &b.id,
                    Some((b.lat, b.lon)),
                    rows.get(i).copied().flatten(),
                ));
            }
            neighbours = adj.clone();
        }
        let mut fixed = vec![[0u64; 3]; ns];
        for (p, pupil) in inst.pupils.iter().enumerate() {
            let s = plan.assign[p] as usize;
            let w = m.pair(p, s).unwrap_or(UNREACHABLE);
            let w64 = if w == UNREACHABLE { 0 } else { w as u64 };
            let block = match (&pupil.block, &pupil.fixed_school) {
                (Some(b), None) => b,
                (b, _) => {
                    // A fixed pupil's block is still a block of the plan (with no pupil that
                    // moves with it, when all of its pupils are fixed, e.g. pinned).
                    if let Some(b) = b {
                        if !index.contains_key(b) {
                            index.insert(b.clone(), blocks.len());
                            blocks.push(empty_block(b, None, Some(s)));
                        }
                    }
                    fixed[s][0] += 1;
                    fixed[s][1] += w64;
                    fixed[s][2] += u64::from(w != UNREACHABLE && w > LONG_WALK_M);
                    continue;
                }
            };
            let bi = *index.entry(block.clone()).or_insert_with(|| {
                blocks.push(empty_block(block, None, None));
                blocks.len() - 1
            });
            let eb = &mut blocks[bi];
            if eb.walk_m.is_empty() {
                eb.walk_m = vec![Some(0); ns];
                eb.over_2km = vec![0; ns];
            }
            eb.pupils += 1;
            // A pair a partial matrix leaves out counts as without a route.
            let mut given = m.given_row(p).peekable();
            for t in 0..ns {
                let d = match given.next_if(|&(g, _)| g == t) {
                    Some((_, d)) => d,
                    None => UNREACHABLE,
                };
                if d == UNREACHABLE {
                    eb.walk_m[t] = None;
                } else {
                    if let Some(sum) = &mut eb.walk_m[t] {
                        *sum += d as u64;
                    }
                    eb.over_2km[t] += u32::from(d > LONG_WALK_M);
                }
            }
            let long = u64::from(w != UNREACHABLE && w > LONG_WALK_M);
            match eb.at.iter_mut().find(|a| a[0] == s as u64) {
                Some(a) => {
                    a[1] += 1;
                    a[2] += w64;
                    a[3] += long;
                }
                None => eb.at.push([s as u64, 1, w64, long]),
            }
        }
        for b in &mut blocks {
            b.at.sort_unstable();
            if b.school.is_none() || city.is_none() {
                // The school of most of its pupils (ties: the first school).
                b.school =
                    b.at.iter()
                        .max_by(|x, y| x[1].cmp(&y[1]).then(y[0].cmp(&x[0])))
                        .map(|a| a[0] as usize)
                        .or(b.school);
            }
        }
        if neighbours.len() != blocks.len() {
            neighbours.resize(blocks.len(), Vec::new());
        }
        let optimum_m = match (&plan.certificate, plan.pupil_optimum) {
            (Some(_), _) => plan.objective,
            (None, Some(o)) => o,
            (None, None) => plan.objective,
        };
        EditModel {
            schools,
            blocks,
            fixed,
            neighbours,
            objective_m: plan.objective,
            optimum_m,
            optimal: plan.optimal,
            streets: Vec::new(),
        }
    }

    /// Name every block's streets from a published street list (its parts' blocks).
    pub fn add_streets(&mut self, list: &super::streets::StreetList) {
        let mut names: Vec<&str> = list.parts.iter().map(|p| p.street.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let index: HashMap<String, usize> =
            self.blocks.iter().enumerate().map(|(i, b)| (b.id.clone(), i)).collect();
        for part in &list.parts {
            let Ok(k) = names.binary_search(&part.street.as_str()) else { continue };
            for id in &part.blocks {
                if let Some(&i) = index.get(id.as_str()) {
                    let streets = &mut self.blocks[i].streets;
                    if !streets.contains(&(k as u32)) {
                        streets.push(k as u32);
                    }
                }
            }
        }
        for b in &mut self.blocks {
            b.streets.sort_unstable();
        }
        self.streets = names.into_iter().map(str::to_string).collect();
    }

    /// The moves of a districts file (`block_id,school_id`): every block it lists is placed
    /// whole at its school.
    pub fn moves_from_csv(&self, label: &str, bytes: &[u8]) -> Result<Vec<Move>> {
        let table =
            crate::instance::table::read_table(label, bytes, &["block_id", "school_id"], false)?;
        let mut problems = Vec::new();
        let mut moves = Vec::new();
        for i in 0..table.rows.len() {
            let mut row = crate::instance::table::Row::new(&table, i, &mut problems);
            if let (Some(b), Some(s)) = (row.id("block_id"), row.id("school_id")) {
                moves.push(Move { block_id: b.into(), school_id: s.into() });
            }
        }
        if !problems.is_empty() {
            return Err(Error::Input(problems));
        }
        // Unknown ids are named with their line.
        let blocks: HashMap<&str, usize> =
            self.blocks.iter().enumerate().map(|(i, b)| (b.id.as_str(), i)).collect();
        for (i, mv) in moves.iter().enumerate() {
            let line = Some(i as u64 + 2);
            if !blocks.contains_key(mv.block_id.as_str()) {
                problems.push(InputProblem::new(
                    label,
                    line,
                    Some("block_id"),
                    format!("block '{}' is not a block of the plan", mv.block_id),
                ));
            }
            if !self.schools.iter().any(|s| s.id == mv.school_id) {
                problems.push(InputProblem::new(
                    label,
                    line,
                    Some("school_id"),
                    format!("school '{}' is not a school of the plan", mv.school_id),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Input(problems));
        }
        Ok(moves)
    }
}

/// An edit model from `edit.json` text, its indices checked.
pub fn model_from_json(text: &str) -> Result<EditModel> {
    let bad = |m: String| Error::input(EDIT_FILE, None, None, m);
    let model: EditModel =
        serde_json::from_str(text).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let ns = model.schools.len();
    let nb = model.blocks.len();
    let ok = model.fixed.len() == ns
        && model.neighbours.len() == nb
        && model.neighbours.iter().flatten().all(|&j| j < nb)
        && model.blocks.iter().all(|b| {
            b.school.is_none_or(|s| s < ns)
                && b.at.iter().all(|a| (a[0] as usize) < ns)
                && (b.walk_m.is_empty() || (b.walk_m.len() == ns && b.over_2km.len() == ns))
                && (b.pupils == 0) == b.walk_m.is_empty()
                && b.streets.iter().all(|&k| (k as usize) < model.streets.len())
        });
    if !ok {
        return Err(bad("is inconsistent (indices out of range): solve the plan again".into()));
    }
    Ok(model)
}

fn empty_block(id: &str, loc: Option<(f64, f64)>, school: Option<usize>) -> EditBlock {
    EditBlock {
        id: id.to_string(),
        lat: loc.map(|l| l.0),
        lon: loc.map(|l| l.1),
        school,
        pupils: 0,
        at: vec![],
        walk_m: vec![],
        over_2km: vec![],
        streets: vec![],
    }
}

/// Where a block's pupils are: as in the plan, or whole at one school.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    AsPlanned,
    Whole(usize),
}

/// A block's pupils, walk and long walks per school at a place (`None`: no route).
fn contribution(b: &EditBlock, place: Place) -> Option<Vec<[u64; 4]>> {
    match place {
        Place::AsPlanned => Some(b.at.clone()),
        Place::Whole(s) if b.pupils == 0 => Some(vec![[s as u64, 0, 0, 0]]),
        Place::Whole(s) => {
            b.walk_m[s].map(|w| vec![[s as u64, b.pupils as u64, w, b.over_2km[s] as u64]])
        }
    }
}

/// Apply `moves` (in order) to the plan of `model` and compute its figures. Unknown blocks
/// or schools are `NotFound`; a move to a school a pupil of the block has no route to is
/// refused the same way.
pub fn evaluate(model: &EditModel, moves: &[Move]) -> Result<Evaluation> {
    let ns = model.schools.len();
    let block_index: HashMap<&str, usize> =
        model.blocks.iter().enumerate().map(|(i, b)| (b.id.as_str(), i)).collect();
    let school_index: HashMap<&str, usize> =
        model.schools.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut place = vec![Place::AsPlanned; model.blocks.len()];
    let mut district: Vec<Option<usize>> = model.blocks.iter().map(|b| b.school).collect();
    // Loads and walks as planned.
    let mut load = vec![0u64; ns];
    let mut walk = vec![0u64; ns];
    let mut long = vec![0u64; ns];
    for (s, f) in model.fixed.iter().enumerate() {
        load[s] += f[0];
        walk[s] += f[1];
        long[s] += f[2];
    }
    for b in &model.blocks {
        for [s, n, w, l] in contribution(b, Place::AsPlanned).unwrap_or_default() {
            load[s as usize] += n;
            walk[s as usize] += w;
            long[s as usize] += l;
        }
    }
    let mut costs = Vec::with_capacity(moves.len());
    for mv in moves {
        let Some(&bi) = block_index.get(mv.block_id.as_str()) else {
            return Err(Error::not_found(format!(
                "block '{}' is not a block of the plan",
                mv.block_id
            )));
        };
        let Some(&to) = school_index.get(mv.school_id.as_str()) else {
            return Err(Error::not_found(format!(
                "school '{}' is not a school of the plan",
                mv.school_id
            )));
        };
        let b = &model.blocks[bi];
        let Some(after) = contribution(b, Place::Whole(to)) else {
            return Err(Error::not_found(format!(
                "block '{}' has pupils with no route to school '{}'",
                b.id, mv.school_id
            )));
        };
        let before = contribution(b, place[bi]).unwrap_or_default();
        let walk_before: u64 = before.iter().map(|c| c[2]).sum();
        let walk_after: u64 = after.iter().map(|c| c[2]).sum();
        let mut moving_in = 0;
        for &[s, n, w, l] in &before {
            load[s as usize] -= n;
            walk[s as usize] -= w;
            long[s as usize] -= l;
        }
        for &[s, n, w, l] in &after {
            moving_in = n;
            load[s as usize] += n;
            walk[s as usize] += w;
            long[s as usize] += l;
        }
        costs.push(MoveCost {
            block_id: b.id.clone(),
            from: district[bi].map(|s| model.schools[s].id.clone()),
            to: mv.school_id.clone(),
            pupils: moving_in as u32,
            cost_m: walk_after as i64 - walk_before as i64,
            room: load[to] <= model.schools[to].capacity as u64,
        });
        place[bi] = Place::Whole(to);
        district[bi] = Some(to);
    }
    let (pieces_now, pieces_before) = if model.neighbours.iter().any(|n| !n.is_empty()) {
        let before: Vec<Option<usize>> = model.blocks.iter().map(|b| b.school).collect();
        (
            count_pieces(&model.neighbours, &district, ns),
            count_pieces(&model.neighbours, &before, ns),
        )
    } else {
        (vec![0; ns], vec![0; ns])
    };
    let mut warnings = Vec::new();
    let per_school: Vec<SchoolFigures> = model
        .schools
        .iter()
        .enumerate()
        .map(|(s, school)| {
            let over = load[s].saturating_sub(school.capacity as u64);
            if over > 0 {
                warnings.push(format!(
                    "school '{}' has {} pupils for {} seats: {over} over",
                    school.id, load[s], school.capacity
                ));
            }
            if pieces_now[s] > pieces_before[s].max(1) {
                warnings.push(format!(
                    "the district of school '{}' is in {} pieces (was {})",
                    school.id, pieces_now[s], pieces_before[s]
                ));
            }
            SchoolFigures {
                id: school.id.clone(),
                pupils: load[s],
                seats: school.capacity,
                classes: classes(school, load[s]),
                over_capacity: over,
                mean_walk_m: (walk[s] + load[s] / 2).checked_div(load[s]).unwrap_or(0),
                over_2km: long[s],
                pieces: pieces_now[s],
            }
        })
        .collect();
    let total_m: u64 = walk.iter().sum();
    let edited = !moves.is_empty();
    let gap_m = total_m.saturating_sub(model.optimum_m);
    Ok(Evaluation {
        total_m,
        pupils: load.iter().sum(),
        over_2km: long.iter().sum(),
        optimum_m: model.optimum_m,
        gap_m,
        gap_pct: if model.optimum_m == 0 {
            0.0
        } else {
            (gap_m as f64 * 100.0 / model.optimum_m as f64 * 1000.0).round() / 1000.0
        },
        status: if edited {
            "edited"
        } else if model.optimal {
            "optimal"
        } else {
            "unproved"
        }
        .into(),
        per_school,
        warnings,
        moves: costs,
    })
}

/// Every block's district after `moves` (school indices; ids checked as [`evaluate`] does).
pub fn districts_after(model: &EditModel, moves: &[Move]) -> Result<Vec<Option<usize>>> {
    let block_index: HashMap<&str, usize> =
        model.blocks.iter().enumerate().map(|(i, b)| (b.id.as_str(), i)).collect();
    let mut district: Vec<Option<usize>> = model.blocks.iter().map(|b| b.school).collect();
    for mv in moves {
        let (Some(&b), Some(s)) = (
            block_index.get(mv.block_id.as_str()),
            model.schools.iter().position(|s| s.id == mv.school_id),
        ) else {
            return Err(Error::not_found(format!(
                "block '{}' or school '{}' is not in the plan",
                mv.block_id, mv.school_id
            )));
        };
        district[b] = Some(s);
    }
    Ok(district)
}

/// Re-optimise around pins, from the edit model alone: every block with pupils placed whole
/// at the school of least total walk within the seats (a whole-block MIP through Cbc, the
/// blocks' walk sums exact), the pinned blocks fixed at their pins, pupils with a fixed school
/// of their own where they are. Returns the moves that turn the plan into the re-optimised one
/// (pins of blocks without pupils included), in block order. Not certified: its figures show
/// the gap to the certified pupil-level optimum.
pub fn reoptimise(model: &EditModel, pins: &[Move]) -> Result<Vec<Move>> {
    use crate::solve::{Problem, SolveError, SolverKind};
    let ns = model.schools.len();
    let pinned = districts_after(model, pins)?;
    let pin_of: HashMap<&str, &str> =
        pins.iter().map(|p| (p.block_id.as_str(), p.school_id.as_str())).collect();
    let units: Vec<usize> =
        (0..model.blocks.len()).filter(|&b| model.blocks[b].pupils > 0).collect();
    let mut cost = Vec::with_capacity(units.len() * ns);
    let mut fixed = Vec::with_capacity(units.len());
    for &b in &units {
        let block = &model.blocks[b];
        let pin = pin_of.get(block.id.as_str()).map(|_| pinned[b].unwrap_or(0) as u32);
        for s in 0..ns {
            cost.push(match block.walk_m[s] {
                Some(w) if pin.is_none_or(|p| p as usize == s) => w.min(u32::MAX as u64 - 1) as u32,
                _ => UNREACHABLE,
            });
        }
        fixed.push(pin);
    }
    let cap: Vec<u32> = model
        .schools
        .iter()
        .zip(&model.fixed)
        .map(|(s, f)| (s.capacity as u64).saturating_sub(f[0]) as u32)
        .collect();
    let problem = Problem {
        n_schools: ns,
        cap,
        min: vec![0; ns],
        cost,
        weight: units.iter().map(|&b| model.blocks[b].pupils).collect(),
        fixed,
    };
    let solution = crate::solve::solve(&problem, SolverKind::Lp).map_err(|e| match e {
        SolveError::Infeasible(_) => Error::Infeasible(vec![crate::error::Infeasibility {
            kind: "seats".into(),
            message: "no placement of whole blocks fits the seats with these pins".into(),
            schools: vec![],
            pupils: vec![],
            shortfall: 0,
        }]),
        SolveError::Solver(m) => Error::Solver(m),
        SolveError::Cancelled => Error::Cancelled,
        SolveError::TimeLimit { seconds } => Error::TimeLimit {
            seconds,
            message: "Cbc did not place the whole blocks in time".into(),
            hint: None,
        },
    })?;
    let mut target: Vec<Option<usize>> = pinned.clone();
    for (u, &b) in units.iter().enumerate() {
        target[b] = Some(solution.assign[u] as usize);
    }
    let mut moves = Vec::new();
    for (b, block) in model.blocks.iter().enumerate() {
        let Some(t) = target[b] else { continue };
        let split = block.at.len() > 1;
        if block.school != Some(t)
            || split
            || (block.pupils > 0 && block.at.first().is_some_and(|a| a[0] as usize != t))
        {
            moves.push(Move { block_id: block.id.clone(), school_id: model.schools[t].id.clone() });
        }
    }
    Ok(moves)
}

/// Classes that hold `load` pupils at a school (the plan's rule: as few as hold the load, at
/// most its rooms when known).
fn classes(s: &EditSchool, load: u64) -> u32 {
    let k = load.div_ceil(s.class_size.max(1) as u64) as u32;
    match s.max_classes {
        Some(m) if load > 0 => k.min(m).max(1),
        _ => k,
    }
}

fn count_pieces(neighbours: &[Vec<usize>], school_of: &[Option<usize>], ns: usize) -> Vec<usize> {
    let mut count = vec![0; ns];
    for (s, _) in crate::solve::contiguity::pieces(neighbours, school_of) {
        if s < ns {
            count[s] += 1;
        }
    }
    count
}
