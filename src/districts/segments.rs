//! Whole street segments: every block a street segment between two consecutive junctions owns
//! (see [`super::network`]) goes to one school, so the street list names whole segments
//! ("from Wiener Straße to Ring") and never a border between two junctions.
//!
//! The blocks of each segment form a group (a union-find over the segments' cells; owned cells
//! do not overlap, so a group is one segment's cells). Each pupil's block is replaced by its
//! group, and the whole-block MIP of the pipeline assigns every group whole, within the seats,
//! with the certified pupil-level optimum as its lower bound. Groups without pupils go to the
//! school of least walk + price summed over their blocks (the prices of the pupil-level
//! optimum); blocks no named street runs through are drawn one by one, as without the rule.
//! The plan decides every block's district itself.
//!
//! The segments are those of the street list ([`super::streets::named_lines`]: named ways
//! only), so the rule keeps whole exactly the segments the list counts; a group stays split only
//! when one of its blocks has no walk to the school of the rest
//! ([`SegmentReport::groups_not_whole`]).

use super::network;
use super::publish::{district_rows, City};
use super::streets::grid_street_list;
use crate::error::{Error, Hint, Infeasibility, Result, Setting};
use crate::instance::Instance;
use crate::pipeline::solve_plan;
use crate::plan::{effective_instance, Plan, Policy, Unit};
use crate::routing::{Matrix, UNREACHABLE};
use std::collections::{BTreeMap, HashMap};

/// What keeping street segments whole did (`summary.json` `whole_segments`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentReport {
    /// Groups of blocks kept whole: one per street segment that owns blocks.
    pub groups: usize,
    /// Blocks in a group; the others (no named street runs through them) are drawn one by one.
    pub blocks_grouped: usize,
    /// The most blocks in one group.
    pub largest_group_blocks: usize,
    /// The most pupils in one group.
    pub largest_group_pupils: u64,
    /// Total walk of the plan with whole segments, in meters.
    pub walk_m: u64,
    /// Total walk of the plan of the same policy without the rule, in meters.
    pub without_rule_walk_m: u64,
    /// The certified pupil-level optimum, in meters: a proved lower bound of both walks.
    pub pupil_optimum_m: u64,
    /// Meters the rule adds to the plan without it.
    pub extra_m: i64,
    /// The same in percent of the walk without the rule.
    pub extra_pct: f64,
    /// Streets in more than one district with the rule.
    pub split_streets: usize,
    /// Streets in more than one district without the rule.
    pub split_streets_without_rule: usize,
    /// Street segments in more than one district with the rule: 0 unless a group is not
    /// whole (`groups_not_whole`).
    pub split_segments: usize,
    /// Groups not kept whole, and why: a block of the group has no walk to the school of the
    /// rest (no route in the block matrix), so it is drawn by itself. The only way a segment
    /// stays split under the rule.
    #[serde(default)]
    pub groups_not_whole: usize,
    /// Street segments in more than one district without the rule.
    pub split_segments_without_rule: usize,
}

/// The blocks kept together: groups of block indices into `city.blocks`, one per segment.
pub fn groups(city: &City) -> Result<Vec<Vec<usize>>> {
    let Some(lines) = &city.streets else {
        return Err(Error::policy(
            "whole street segments need the city's named streets",
            Some(Hint::new("give the street network", Some(Setting::Streets))),
        ));
    };
    if city.blocks.iter().any(|b| b.street.is_some() && b.house_number.is_some()) {
        return Err(Error::policy(
            "whole street segments are drawn on grid-cell blocks; blocks with house numbers are \
             not yet supported",
            None,
        ));
    }
    let grid = network::grid(&city.blocks)?;
    // The named ways only, as the street list: a path without a name would otherwise cut a
    // segment at its crossing and own cells the list gives to a named segment, and the rule
    // would keep other segments whole than the ones the list counts.
    let net = network::network(&super::streets::named_lines(lines));
    let traced = network::trace(&net, &grid);
    Ok(network::segment_groups(&traced.cells, city.blocks.len()))
}

/// Solve with whole street segments: the plan (its `districts` decide every block) and what the
/// rule cost against the plan of the same policy without it.
pub fn solve(
    inst: &Instance,
    m: &Matrix,
    policy: &Policy,
    city: &City,
) -> Result<(Plan, SegmentReport)> {
    if policy.contiguous {
        return Err(Error::policy(
            "whole street segments are not yet combined with contiguous districts",
            None,
        ));
    }
    let started = std::time::Instant::now();
    let groups = groups(city)?;
    let blocks = &city.blocks;
    let lines = city.streets.as_deref().unwrap_or(&[]);
    let free_policy = Policy { whole_segments: false, contiguous: false, ..policy.clone() };
    // The plan without the rule first: infeasible there is not the rule's doing.
    let free = solve_plan(inst, m, &free_policy, None)?;
    let index: HashMap<&str, usize> =
        blocks.iter().enumerate().map(|(i, b)| (b.id.as_str(), i)).collect();
    let mut group_of: Vec<Option<usize>> = vec![None; blocks.len()];
    for (g, members) in groups.iter().enumerate() {
        for &b in members {
            group_of[b] = Some(g);
        }
    }
    // Every pupil of a group's blocks in one unit: the group's first block names it.
    let mut grouped = inst.clone();
    let mut pupils_in = vec![0u64; groups.len()];
    for p in &mut grouped.pupils {
        let Some(g) = p.block.as_deref().and_then(|b| index.get(b)).and_then(|&b| group_of[b])
        else {
            continue;
        };
        if p.fixed_school.is_none() {
            pupils_in[g] += 1;
        }
        p.block = Some(blocks[groups[g][0]].id.clone());
    }
    let rule_policy = Policy { unit: Unit::Block, ..free_policy.clone() };
    let largest_pupils = pupils_in.iter().copied().max().unwrap_or(0);
    let largest_blocks = groups.iter().map(Vec::len).max().unwrap_or(0);
    let mut plan = solve_plan(&grouped, m, &rule_policy, None).map_err(|e| match e {
        Error::Infeasible(_) => Error::Infeasible(vec![Infeasibility {
            kind: "whole_segments".into(),
            message: format!(
                "no plan keeps every street segment whole within the schools' seats: {} segment(s) \
                 each go to one school with all their blocks (the largest holds {largest_pupils} \
                 pupil(s) in {largest_blocks} block(s)); the plan without this rule is feasible",
                groups.len()
            ),
            schools: vec![],
            pupils: vec![],
            shortfall: 0,
        }]),
        e => e,
    })?;
    // Every block's school: blocks with pupils by the plan, the rest by walk + price ...
    let eff = effective_instance(inst, &rule_policy);
    let rows = district_rows(&eff, &plan, blocks, &city.matrix, None)?;
    let mut school: Vec<Option<usize>> = rows.iter().map(|r| r.school).collect();
    // ... then each group whole: at its pupils' school, or at the school of least walk + price
    // over its blocks.
    let mut pupil_school: Vec<Option<u32>> = vec![None; groups.len()];
    for (p, pupil) in inst.pupils.iter().enumerate() {
        if pupil.fixed_school.is_some() {
            continue;
        }
        if let Some(g) =
            pupil.block.as_deref().and_then(|b| index.get(b)).and_then(|&b| group_of[b])
        {
            pupil_school[g] = Some(plan.assign[p]);
        }
    }
    let n_s = inst.schools.len();
    let price = |s: usize| plan.prices.get(s).copied().unwrap_or(0);
    let closing = rule_policy.min_class_size.is_some();
    let open = |s: usize| !closing || plan.classes.get(s).copied().unwrap_or(1) > 0;
    for (g, members) in groups.iter().enumerate() {
        let rows: Vec<&[u32]> = members
            .iter()
            .map(|&b| city.matrix.row(city.matrix.index(&blocks[b].id).expect("checked")))
            .collect();
        let s = match pupil_school[g] {
            Some(s) => Some(s as usize),
            None => (0..n_s)
                .filter(|&s| open(s) && rows.iter().all(|r| r[s] != UNREACHABLE))
                .min_by_key(|&s| (rows.iter().map(|r| r[s] as i64 + price(s)).sum::<i64>(), s)),
        };
        if let Some(s) = s {
            for (&b, r) in members.iter().zip(&rows) {
                if r[s] != UNREACHABLE {
                    school[b] = Some(s);
                }
            }
        }
    }
    // Groups whose blocks are not all at one school: a block without a walk to the school of
    // the rest (or no open school with a walk from every block of a group without pupils).
    let not_whole = groups
        .iter()
        .filter(|members| {
            let first = school[members[0]];
            members.iter().any(|&b| school[b] != first)
        })
        .count();
    let districts: BTreeMap<String, u32> = blocks
        .iter()
        .zip(&school)
        .filter_map(|(b, s)| s.map(|s| (b.id.clone(), s as u32)))
        .collect();
    plan.districts = Some(districts);
    plan.policy = Policy { unit: Unit::Block, whole_segments: true, ..policy.clone() };
    plan.solver = format!("{}; whole street segments", plan.solver);
    plan.solve_seconds = started.elapsed().as_secs_f64();
    // The street lists with and without the rule.
    let with = grid_street_list(lines, blocks, &school)?;
    let free_eff = effective_instance(inst, &free_policy);
    let free_rows = district_rows(&free_eff, &free, blocks, &city.matrix, None)?;
    let free_school: Vec<Option<usize>> = free_rows.iter().map(|r| r.school).collect();
    let without = grid_street_list(lines, blocks, &free_school)?;
    let (ws, wo) = (with.stats(), without.stats());
    let pupil_optimum = plan.pupil_optimum.unwrap_or(free.objective);
    let extra = plan.objective as i64 - free.objective as i64;
    let report = SegmentReport {
        groups: groups.len(),
        blocks_grouped: groups.iter().map(Vec::len).sum(),
        largest_group_blocks: largest_blocks,
        largest_group_pupils: largest_pupils,
        walk_m: plan.objective,
        without_rule_walk_m: free.objective,
        pupil_optimum_m: pupil_optimum,
        extra_m: extra,
        extra_pct: if free.objective > 0 {
            (extra as f64 / free.objective as f64 * 10_000.0).round() / 100.0
        } else {
            0.0
        },
        split_streets: ws.split,
        split_streets_without_rule: wo.split,
        split_segments: ws.split_segments.unwrap_or(0),
        groups_not_whole: not_whole,
        split_segments_without_rule: wo.split_segments.unwrap_or(0),
    };
    tracing::info!(
        groups = report.groups,
        walk = report.walk_m,
        without_rule = report.without_rule_walk_m,
        "whole street segments"
    );
    Ok((plan, report))
}
