//! Pins: blocks fixed to a school ("keep this estate with its old school"). The pupils of a
//! pinned block get the block's school as their fixed school, so every solver, the
//! feasibility diagnosis and the certificate treat them as fixed: the plan is then optimal
//! *given the pins*. A pupil's own `fixed_school` (siblings, special needs) is kept.
//!
//! `pins.csv`: `block_id,school_id` (or `block,school`), one block per row. The plan directory
//! keeps the pins it was solved with as `pins.csv`, and `catchment check` applies them.

use crate::error::{Error, InputProblem, Result};
use crate::instance::{id_cmp, Instance};
use std::collections::{HashMap, HashSet};

/// The file a plan directory keeps its pins in.
pub const PINS_FILE: &str = "pins.csv";

/// One block fixed to a school.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pin {
    /// The block's id.
    pub block_id: String,
    /// The school's id.
    pub school_id: String,
}

/// What the pins cost, in `summary.json` `pins`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PinsReport {
    /// Blocks pinned.
    pub blocks: usize,
    /// Pupils in the pinned blocks (without a fixed school of their own).
    pub pupils: usize,
    /// The certified pupil-level optimum without the pins, in meters.
    pub unpinned_optimum_m: u64,
    /// The certified pupil-level optimum with the pins, in meters.
    pub pinned_optimum_m: u64,
    /// What the pins cost: `pinned_optimum_m - unpinned_optimum_m`.
    pub cost_m: u64,
}

/// Read pins from CSV bytes: `block_id,school_id` (or `block,school`). The schools are checked
/// against `inst`; with `known_blocks` (the city's blocks, or none) every block must be one of
/// them or a pupil's block (`None`: blocks are not checked, as for a plan's own `pins.csv`).
/// Every problem is reported with its line.
pub fn pins_from_csv(
    label: &str,
    bytes: &[u8],
    inst: &Instance,
    known_blocks: Option<&[String]>,
) -> Result<Vec<Pin>> {
    let table = crate::instance::table::read_table(label, bytes, &["block_id|block"], false)?;
    let block_col =
        if table.headers.iter().any(|h| h == "block_id") { "block_id" } else { "block" };
    let school_col = if table.headers.iter().any(|h| h == "school_id") {
        "school_id"
    } else if table.headers.iter().any(|h| h == "school") {
        "school"
    } else {
        return Err(Error::input(
            label,
            Some(1),
            Some("school_id"),
            "a column school_id is missing",
        ));
    };
    let known: Option<HashSet<&str>> = known_blocks.map(|blocks| {
        inst.pupils
            .iter()
            .filter_map(|p| p.block.as_deref())
            .chain(blocks.iter().map(String::as_str))
            .collect()
    });
    let mut problems = Vec::new();
    let mut pins: Vec<Pin> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for i in 0..table.rows.len() {
        let mut row = crate::instance::table::Row::new(&table, i, &mut problems);
        let (Some(b), Some(s)) = (row.id(block_col), row.id(school_col)) else { continue };
        let mut ok = true;
        if inst.school_index(s).is_none() {
            row.problem(school_col, format!("school '{s}' is not in the schools file"));
            ok = false;
        }
        if known.as_ref().is_some_and(|k| !k.contains(b)) {
            row.problem(block_col, format!("block '{b}' is not a block of the city or of a pupil"));
            ok = false;
        }
        if !seen.insert(b.to_string()) {
            row.problem(block_col, format!("block '{b}' is pinned twice"));
            ok = false;
        }
        if ok {
            pins.push(Pin { block_id: b.to_string(), school_id: s.to_string() });
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    if pins.is_empty() {
        return Err(Error::Input(vec![InputProblem::new(
            label,
            None,
            None,
            "no pins in the file",
        )]));
    }
    pins.sort_by(|a, b| id_cmp(&a.block_id, &b.block_id));
    Ok(pins)
}

/// The instance with every pupil of a pinned block fixed to the pin's school (pupils with a
/// fixed school of their own keep it), and the number of pupils pinned.
pub fn apply(inst: &Instance, pins: &[Pin]) -> (Instance, usize) {
    let school_of: HashMap<&str, &str> =
        pins.iter().map(|p| (p.block_id.as_str(), p.school_id.as_str())).collect();
    let mut out = inst.clone();
    let mut pinned = 0;
    for p in &mut out.pupils {
        if p.fixed_school.is_some() {
            continue;
        }
        if let Some(s) = p.block.as_deref().and_then(|b| school_of.get(b)) {
            p.fixed_school = Some(s.to_string());
            pinned += 1;
        }
    }
    (out, pinned)
}

/// The pins as CSV (`block_id,school_id`), the form a plan directory keeps.
pub fn pins_csv(pins: &[Pin]) -> String {
    let mut s = String::from("block_id,school_id\n");
    for p in pins {
        s.push_str(&format!("{},{}\n", csv_field(&p.block_id), csv_field(&p.school_id)));
    }
    s
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', ';']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::{Pupil, School};

    fn inst() -> Instance {
        let school = |id: &str| School {
            id: id.into(),
            name: id.into(),
            lat: 52.0,
            lon: 11.0,
            capacity: 10,
            class_size: 22,
            max_classes: None,
            min_pupils: 0,
            min_classes: None,
            extra: vec![],
        };
        let pupil = |id: &str, block: &str| Pupil {
            id: id.into(),
            location: Some((52.0, 11.0)),
            street: None,
            house_number: None,
            postcode: None,
            block: Some(block.into()),
            fixed_school: None,
            extra: vec![],
        };
        Instance::new(vec![school("A"), school("B")], vec![pupil("1", "b1"), pupil("2", "b2")])
            .unwrap()
    }

    #[test]
    fn pins_fix_the_pupils_of_their_blocks() {
        let i = inst();
        let pins = pins_from_csv("pins.csv", b"block,school\nb2,A\n", &i, Some(&[])).unwrap();
        let (p, n) = apply(&i, &pins);
        assert_eq!(n, 1);
        assert_eq!(p.pupils[1].fixed_school.as_deref(), Some("A"));
        assert_eq!(p.pupils[0].fixed_school, None);
        assert_eq!(pins_csv(&pins), "block_id,school_id\nb2,A\n");
    }

    #[test]
    fn unknown_blocks_and_schools_are_named_with_their_line() {
        let i = inst();
        let e = pins_from_csv("pins.csv", b"block_id,school_id\nb9,A\nb1,Z\n", &i, Some(&[]))
            .unwrap_err();
        let Error::Input(problems) = e else { panic!("not an input error") };
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].line, Some(2));
        assert!(problems[0].message.contains("b9"));
        assert_eq!(problems[1].line, Some(3));
        assert!(problems[1].message.contains("'Z'"));
    }
}
