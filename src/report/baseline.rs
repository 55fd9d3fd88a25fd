//! Baselines to compare an optimised plan with: a hand-drawn proxy (what a planner could draw
//! without the engine) and any given district file, both evaluated on the same walking matrix.

use crate::error::{Error, InputProblem, Result};
use crate::instance::{file_name, id_cmp, Instance};
use crate::routing::Matrix;
use crate::solve::Problem;
use crate::{classes_for, Plan, Policy, Unit};
use geo::{Distance, Haversine, Point};
use std::collections::HashMap;
use std::path::Path;

/// Great-circle distance in meters (geo's haversine, on its mean earth radius) — used only for
/// the hand-drawn proxy, which imitates a planner working from a map, and labelled "straight
/// line" wherever it appears. Points are `x` = longitude, `y` = latitude.
pub fn straight_line_m(a: Point, b: Point) -> f64 {
    Haversine.distance(a, b)
}

/// The blocks of an instance: each pupil's block key (pupils without a block are blocks of
/// their own) in id order, and each pupil's block index.
fn blocks(inst: &Instance) -> (Vec<String>, Vec<usize>) {
    let key = |i: usize| {
        inst.pupils[i].block.clone().unwrap_or_else(|| format!("pupil:{}", inst.pupils[i].id))
    };
    let mut keys: Vec<String> = (0..inst.pupils.len()).map(key).collect();
    keys.sort_by(|a, b| id_cmp(a, b));
    keys.dedup();
    let index: HashMap<&str, usize> =
        keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let of = (0..inst.pupils.len()).map(|i| index[key(i).as_str()]).collect();
    (keys, of)
}

/// The hand-drawn proxy: every block to its nearest school by straight line; while a school is
/// over capacity, its border block — the one losing least straight-line distance — moves to its
/// next-nearest school with room. Fixed pupils stay at their school. Returns each pupil's
/// school; schools that stay over capacity (no block can move) stay so.
pub fn straight_line_districts(inst: &Instance) -> Result<Vec<u32>> {
    let (keys, block_of) = blocks(inst);
    let n_b = keys.len();
    let n_s = inst.schools.len();
    // Per block: summed coordinates, pupils, free (not fixed) pupils.
    let mut sum = vec![(0.0f64, 0.0f64, 0u32, 0u32); n_b];
    for (i, p) in inst.pupils.iter().enumerate() {
        let Some((lat, lon)) = p.location else {
            return Err(Error::input(
                "pupils",
                None,
                Some("lat"),
                format!(
                    "the straight-line baseline needs pupil coordinates; pupil '{}' has none",
                    p.id
                ),
            ));
        };
        let e = &mut sum[block_of[i]];
        e.0 += lat;
        e.1 += lon;
        e.2 += 1;
        if p.fixed_school.is_none() {
            e.3 += 1;
        }
    }
    let mut load = vec![0u64; n_s];
    for p in &inst.pupils {
        if let Some(f) = &p.fixed_school {
            load[inst.school_index(f).expect("validated")] += 1;
        }
    }
    let order: Vec<Vec<(f64, usize)>> = sum
        .iter()
        .map(|&(la, lo, n, _)| {
            let centre = Point::new(lo / n as f64, la / n as f64);
            let mut v: Vec<(f64, usize)> = inst
                .schools
                .iter()
                .enumerate()
                .map(|(s, sc)| (straight_line_m(centre, Point::new(sc.lon, sc.lat)), s))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            v
        })
        .collect();
    let mut rank = vec![0usize; n_b];
    for b in 0..n_b {
        load[order[b][0].1] += sum[b].3 as u64;
    }
    let cap: Vec<u64> = inst.schools.iter().map(|s| s.capacity as u64).collect();
    let mut stuck = vec![false; n_s];
    while let Some(s) = (0..n_s).find(|&s| load[s] > cap[s] && !stuck[s]) {
        // The border block of s: the cheapest move to a next-nearest school with room.
        let mut best: Option<(f64, usize, usize)> = None;
        for b in 0..n_b {
            let w = sum[b].3 as u64;
            if w == 0 || order[b][rank[b]].1 != s {
                continue;
            }
            if let Some(r) =
                (rank[b] + 1..n_s).find(|&r| load[order[b][r].1] + w <= cap[order[b][r].1])
            {
                let extra = order[b][r].0 - order[b][rank[b]].0;
                if best.is_none_or(|(e, _, _)| extra < e) {
                    best = Some((extra, b, r));
                }
            }
        }
        match best {
            Some((_, b, r)) => {
                let w = sum[b].3 as u64;
                load[s] -= w;
                rank[b] = r;
                load[order[b][r].1] += w;
            }
            None => stuck[s] = true,
        }
    }
    Ok(inst
        .pupils
        .iter()
        .enumerate()
        .map(|(i, p)| match &p.fixed_school {
            Some(f) => inst.school_index(f).expect("validated") as u32,
            None => order[block_of[i]][rank[block_of[i]]].1 as u32,
        })
        .collect())
}

/// Districts from a file `block_id,school_id`: each pupil goes to its block's school (fixed
/// pupils to theirs). Every block with pupils must be listed.
pub fn read_districts(path: &Path, inst: &Instance) -> Result<Vec<u32>> {
    let bytes = crate::instance::read_input(path)?;
    districts_from_csv(&file_name(path), &bytes, inst)
}

/// [`read_districts`] from CSV bytes (`name` labels messages).
pub fn districts_from_csv(name: &str, bytes: &[u8], inst: &Instance) -> Result<Vec<u32>> {
    let table = crate::instance::table::read_table(name, bytes, &["block_id", "school_id"], false)?;
    let mut school_of: HashMap<String, u32> = HashMap::new();
    let mut problems = Vec::new();
    for i in 0..table.rows.len() {
        let mut row = crate::instance::table::Row::new(&table, i, &mut problems);
        let (Some(b), Some(s)) = (row.required("block_id"), row.required("school_id")) else {
            continue;
        };
        match inst.school_index(s) {
            Some(si) => {
                if school_of.insert(b.to_string(), si as u32).is_some() {
                    row.problem("block_id", format!("block '{b}' appears twice"));
                }
            }
            None => row.problem("school_id", format!("unknown school id '{s}'")),
        }
    }
    let mut out = Vec::with_capacity(inst.pupils.len());
    let mut missing = Vec::new();
    for p in &inst.pupils {
        if let Some(f) = &p.fixed_school {
            out.push(inst.school_index(f).expect("validated") as u32);
            continue;
        }
        match p.block.as_ref().and_then(|b| school_of.get(b)) {
            Some(&s) => out.push(s),
            None => {
                missing.push(
                    p.block.clone().unwrap_or_else(|| format!("(pupil '{}' has no block)", p.id)),
                );
                out.push(0);
            }
        }
    }
    missing.sort_by(|a, b| id_cmp(a, b));
    missing.dedup();
    if !missing.is_empty() {
        problems.push(InputProblem::new(
            name,
            None,
            Some("block_id"),
            format!(
                "{} block(s) with pupils are not listed, e.g. {}",
                missing.len(),
                missing.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Input(problems))
    }
}

/// A baseline assignment as a plan (no certificate), evaluated on the walking matrix. Pairs
/// with no route count with the longest walk in the matrix and are reported by the caller.
pub fn evaluate(inst: &Instance, m: &Matrix, assign: Vec<u32>, name: &str) -> Result<Plan> {
    let problem = Problem::pupil_level(inst, m, None)?;
    let objective = problem.objective(&assign).ok_or_else(|| {
        Error::input(
            name,
            None,
            None,
            format!("the baseline '{name}' sends a pupil along a pair with no route"),
        )
    })?;
    let loads = problem.loads(&assign);
    let classes = inst.schools.iter().zip(&loads).map(|(s, &l)| classes_for(s, l)).collect();
    Ok(Plan {
        assign,
        objective,
        certificate: None,
        classes,
        pupil_optimum: None,
        prices: vec![],
        solver: format!("baseline: {name}"),
        policy: Policy { unit: Unit::Block, ..Policy::default() },
        solve_seconds: 0.0,
        districts: None,
        optimal: false,
        routed: None,
    })
}
