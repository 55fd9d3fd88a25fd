//! Stability against last year's districts.
//!
//! Two rules: a **change cost** (meters added to every pupil-school pair other than last year's
//! school of the pupil's block) keeps the pupil level a transportation problem, so the flow
//! solver and the certificate apply unchanged (the prices are on the penalised costs); a **cap
//! on changed blocks** is a side constraint of the whole-block MIP. Either way the plan's
//! objective stays the walking total without penalties, and [`StabilityReport`] gives the
//! changes and the walking-distance price of stability against the unconstrained optimum.
//!
//! Last year's districts are kept by ids (block id -> school id), so they survive a scenario
//! that closes or adds schools: a block whose school no longer exists must change.

use crate::error::{Error, InputProblem, Result};
use crate::instance::{file_name, id_cmp, Instance};
use crate::routing::UNREACHABLE;
use crate::solve::Problem;
use crate::Plan;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Last year's districts: block id -> school id.
pub type Previous = BTreeMap<String, String>;

/// How strongly last year's districts are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Meters added per pupil whose school differs from last year's school of their block.
    ChangeCost(u32),
    /// At most this many blocks (with pupils) change school: whole blocks, a MIP.
    MaxChangedBlocks(u32),
}

/// Last year's districts and the rule that keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct Stability {
    /// Last year's districts (block id -> school id).
    pub previous: Previous,
    /// How strongly they are kept.
    pub rule: Rule,
}

/// A pupil's school last year, through their block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// The block is not in last year's districts (or the pupil has a fixed school): not counted.
    Unknown,
    /// Last year's school is not in this instance (closed): the pupil changes school in any plan.
    Gone,
    /// Last year's school, by index.
    At(u32),
}

/// Read last year's districts: CSV `block_id,school_id` (extra columns ignored).
pub fn read_previous(path: &Path) -> Result<Previous> {
    let bytes = crate::instance::read_input(path)?;
    previous_from_csv(&file_name(path), &bytes)
}

/// [`read_previous`] from CSV bytes (`name` labels messages).
pub fn previous_from_csv(name: &str, bytes: &[u8]) -> Result<Previous> {
    let table = crate::instance::table::read_table(name, bytes, &["block_id", "school_id"], false)?;
    let mut out = Previous::new();
    let mut problems: Vec<InputProblem> = Vec::new();
    for i in 0..table.rows.len() {
        let mut row = crate::instance::table::Row::new(&table, i, &mut problems);
        let (Some(b), Some(s)) = (row.required("block_id"), row.required("school_id")) else {
            continue;
        };
        if out.insert(b.to_string(), s.to_string()).is_some() {
            row.problem("block_id", format!("block '{b}' appears twice"));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Input(problems))
    }
}

/// Every pupil's school last year (index space of `inst`).
pub fn before(inst: &Instance, previous: &Previous) -> Vec<Before> {
    inst.pupils
        .iter()
        .map(|p| {
            if p.fixed_school.is_some() {
                return Before::Unknown;
            }
            match p.block.as_ref().and_then(|b| previous.get(b)) {
                None => Before::Unknown,
                Some(s) => {
                    inst.school_index(s).map(|s| Before::At(s as u32)).unwrap_or(Before::Gone)
                }
            }
        })
        .collect()
}

/// The pupil-level problem with `cost` meters added to every allowed pair other than the
/// pupil's school last year. Pairs stay below [`UNREACHABLE`].
pub fn penalise(problem: &Problem, before: &[Before], cost: u32) -> Problem {
    let mut p = problem.clone();
    if cost == 0 {
        return p;
    }
    let n_s = p.n_schools;
    for (u, b) in before.iter().enumerate() {
        let Before::At(keep) = *b else { continue };
        for s in 0..n_s {
            let c = &mut p.cost[u * n_s + s];
            if s as u32 != keep && *c != UNREACHABLE {
                *c = c.saturating_add(cost).min(UNREACHABLE - 1);
            }
        }
    }
    p
}

/// Changes of an assignment against last year: blocks with pupils this year that are in last
/// year's districts, those of them where some pupil changes school, and the pupils who change.
pub fn changes(inst: &Instance, before: &[Before], assign: &[u32]) -> (usize, usize, usize) {
    let mut listed: HashSet<&str> = HashSet::new();
    let mut changed: HashSet<&str> = HashSet::new();
    let mut pupils = 0;
    for (p, b) in before.iter().enumerate() {
        let moved = match *b {
            Before::Unknown => continue,
            Before::Gone => true,
            Before::At(s) => assign[p] != s,
        };
        let block = inst.pupils[p].block.as_deref().unwrap_or("");
        listed.insert(block);
        if moved {
            pupils += 1;
            changed.insert(block);
        }
    }
    (listed.len(), changed.len(), pupils)
}

/// What stability costs and buys, as written to `summary.json` (`stability`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StabilityReport {
    /// The change cost in meters per pupil (cost rule).
    pub change_cost_m: Option<u32>,
    /// The cap on blocks that change school (cap rule).
    pub max_changed_blocks: Option<u32>,
    /// Blocks with pupils this year that are in last year's districts.
    pub blocks_compared: usize,
    /// Of those, blocks where some pupil changes school against last year.
    pub changed_blocks: usize,
    /// Pupils whose school differs from last year's school of their block.
    pub changed_pupils: usize,
    /// Total walk of this plan, without penalties.
    pub walk_m: u64,
    /// The same policy without stability: total walk and changes.
    pub unconstrained_walk_m: u64,
    /// Blocks that change school in the unconstrained plan.
    pub unconstrained_changed_blocks: usize,
    /// Pupils who change school in the unconstrained plan.
    pub unconstrained_changed_pupils: usize,
    /// `walk_m - unconstrained_walk_m`: the walking-distance price of stability.
    pub price_m: i64,
}

/// Compare a stable plan with the unconstrained plan of the same policy.
pub fn report(inst: &Instance, stability: &Stability, plan: &Plan, free: &Plan) -> StabilityReport {
    let b = before(inst, &stability.previous);
    let (listed, cb, cp) = changes(inst, &b, &plan.assign);
    let (_, fb, fp) = changes(inst, &b, &free.assign);
    let (change_cost_m, max_changed_blocks) = match stability.rule {
        Rule::ChangeCost(c) => (Some(c), None),
        Rule::MaxChangedBlocks(n) => (None, Some(n)),
    };
    StabilityReport {
        change_cost_m,
        max_changed_blocks,
        blocks_compared: listed,
        changed_blocks: cb,
        changed_pupils: cp,
        walk_m: plan.objective,
        unconstrained_walk_m: free.objective,
        unconstrained_changed_blocks: fb,
        unconstrained_changed_pupils: fp,
        price_m: plan.objective as i64 - free.objective as i64,
    }
}

/// Change costs swept by `catchment stability-curve` when none are given (meters per pupil).
pub const DEFAULT_PENALTIES: &[u32] =
    &[0, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000];

/// One point of the stability curve.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    /// The change cost of this point, in meters per pupil who changes school.
    pub penalty_m: u32,
    /// Total walk of the plan at this change cost, in meters (without penalties).
    pub total_walk_m: u64,
    /// Blocks that change school against last year's districts.
    pub changed_blocks: usize,
    /// Pupils whose school differs from last year's school of their block.
    pub changed_pupils: usize,
    /// `total_walk_m` minus the unconstrained optimum: the walking-distance price, in meters.
    pub price_m: i64,
}

/// The curve as CSV text: `penalty_m,total_walk_m,changed_blocks,changed_pupils,price_m`.
pub fn curve_csv(points: &[CurvePoint]) -> String {
    let mut s = String::from("penalty_m,total_walk_m,changed_blocks,changed_pupils,price_m\n");
    for p in points {
        s.push_str(&format!(
            "{},{},{},{},{}\n",
            p.penalty_m, p.total_walk_m, p.changed_blocks, p.changed_pupils, p.price_m
        ));
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The curve as an SVG chart (plain SVG, no dependency): blocks that change school (x) against
/// the price of stability in km of walking (y), each point labelled with its change cost.
pub fn curve_svg(points: &[CurvePoint], title: &str) -> String {
    let (w, h) = (720.0f64, 440.0f64);
    let (l, r, t, b) = (80.0, 30.0, 50.0, 60.0);
    let max_x = points.iter().map(|p| p.changed_blocks).max().unwrap_or(1).max(1) as f64;
    let max_y = points.iter().map(|p| p.price_m.max(0)).max().unwrap_or(1).max(1) as f64 / 1000.0;
    let nice = |v: f64| {
        let e = 10f64.powf(v.log10().floor());
        [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * e).find(|&c| c >= v).unwrap_or(10.0 * e)
    };
    let (xm, ym) = (nice(max_x), nice(max_y));
    let px = |x: f64| l + (w - l - r) * x / xm;
    let py = |y: f64| h - b - (h - t - b) * y / ym;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        w / 2.0,
        esc(title)
    );
    for i in 0..=5 {
        let (gx, gy) = (xm * i as f64 / 5.0, ym * i as f64 / 5.0);
        s.push_str(&format!(
            "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n<text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{gy}</text>\n",
            y = py(gy),
            x2 = w - r,
            tx = l - 6.0,
            ty = py(gy) + 4.0,
        ));
        s.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{t}\" x2=\"{x:.1}\" y2=\"{y2}\" stroke=\"#ddd\"/>\n<text x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\">{gx}</text>\n",
            x = px(gx),
            y2 = h - b,
            ty = h - b + 16.0,
        ));
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">blocks that change school against last year</text>\n\
         <text x=\"18\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {})\">price of stability (km of walking, all pupils)</text>\n",
        (l + w - r) / 2.0,
        h - 18.0,
        (t + h - b) / 2.0,
        (t + h - b) / 2.0
    ));
    let mut sorted: Vec<&CurvePoint> = points.iter().collect();
    sorted.sort_by_key(|p| p.penalty_m);
    let path: Vec<String> = sorted
        .iter()
        .map(|p| {
            format!(
                "{:.1},{:.1}",
                px(p.changed_blocks as f64),
                py(p.price_m.max(0) as f64 / 1000.0)
            )
        })
        .collect();
    s.push_str(&format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n",
        path.join(" ")
    ));
    // Points at the same place share one label: "750-1000 m".
    let mut i = 0;
    while i < sorted.len() {
        let (x, y) =
            (px(sorted[i].changed_blocks as f64), py(sorted[i].price_m.max(0) as f64 / 1000.0));
        let mut j = i;
        while j + 1 < sorted.len() {
            let (x2, y2) = (
                px(sorted[j + 1].changed_blocks as f64),
                py(sorted[j + 1].price_m.max(0) as f64 / 1000.0),
            );
            if (x2 - x).abs() > 14.0 || (y2 - y).abs() > 9.0 {
                break;
            }
            j += 1;
        }
        let label = if i == j {
            format!("{} m", sorted[i].penalty_m)
        } else {
            format!("{}–{} m", sorted[i].penalty_m, sorted[j].penalty_m)
        };
        for p in &sorted[i..=j] {
            let (cx, cy) = (px(p.changed_blocks as f64), py(p.price_m.max(0) as f64 / 1000.0));
            s.push_str(&format!(
                "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3.5\" fill=\"#1f77b4\"/>\n"
            ));
        }
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#555\">{label}</text>\n",
            x + 5.0,
            y - 5.0
        ));
        i = j + 1;
    }
    s.push_str("</svg>\n");
    s
}

/// Last year's school of every unit of a block-level problem (`pupil_unit` from
/// [`Problem::block_level`]); fixed pupils' units are not counted.
pub fn unit_before(before: &[Before], pupil_unit: &[usize], n_units: usize) -> Vec<Before> {
    let mut out = vec![Before::Unknown; n_units];
    for (p, &u) in pupil_unit.iter().enumerate() {
        if before[p] != Before::Unknown {
            out[u] = before[p];
        }
    }
    out
}

/// The school of each block with pupils in a plan: the school of most of its pupils (ties by
/// school order), by block id. Used to count blocks that change between two plans.
pub fn block_schools(inst: &Instance, assign: &[u32]) -> BTreeMap<String, String> {
    let mut counts: HashMap<&str, HashMap<u32, usize>> = HashMap::new();
    for (p, pupil) in inst.pupils.iter().enumerate() {
        if let Some(b) = pupil.block.as_deref() {
            *counts.entry(b).or_default().entry(assign[p]).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(b, c)| {
            let s = c
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(s, _)| s)
                .unwrap_or(0);
            (b.to_string(), inst.schools[s as usize].id.clone())
        })
        .collect()
}

/// Write districts `block_id,school_id` (sorted by block id).
pub fn districts_csv(d: &BTreeMap<String, String>) -> String {
    let mut keys: Vec<&String> = d.keys().collect();
    keys.sort_by(|a, b| id_cmp(a, b));
    let mut s = String::from("block_id,school_id\n");
    for k in keys {
        s.push_str(&format!(
            "{},{}\n",
            crate::routing::matrix::csv_field(k),
            crate::routing::matrix::csv_field(&d[k])
        ));
    }
    s
}
