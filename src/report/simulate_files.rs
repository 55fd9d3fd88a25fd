//! Files of the robustness simulation: a plan directory's `schools.csv`, `assignments.csv` and
//! `districts.csv` in (as bytes, so the HTTP service reads stored artefacts the same way), the
//! simulation's `simulation.csv` and `simulation.json` out. Errors name the file, line and field.

use super::simulate::{Robustness, SchoolInput, Simulation};
use crate::error::{Error, InputProblem, Result};
use crate::instance::table::{read_table, Row};
use std::collections::HashMap;
use std::path::Path;

/// The plan's schools the simulation reads (`school_id,capacity,class_size,classes,load`).
pub const SCHOOLS: &str = "schools.csv";
/// The plan's pupil-to-school assignments the simulation reads (`pupil_id,school_id`).
pub const ASSIGNMENTS: &str = "assignments.csv";
/// The plan's districts the simulation reads (`block_id,school_id,residents`).
pub const DISTRICTS: &str = "districts.csv";

/// The simulation's view of a plan from the bytes of its `schools.csv` (school_id, capacity,
/// class_size, classes, load), `assignments.csv` (pupil_id, school_id; loads are counted and
/// must match schools.csv) and `districts.csv` (block_id, school_id, residents: every block of
/// the city with its district school). Read with the instance readers' table and row checks.
pub fn plan_inputs(
    schools_csv: &[u8],
    assignments_csv: &[u8],
    districts_csv: &[u8],
) -> Result<Vec<SchoolInput>> {
    let sc = read_table(
        SCHOOLS,
        schools_csv,
        &["school_id", "capacity", "class_size", "classes", "load"],
        false,
    )?;
    let mut problems = Vec::new();
    let mut schools: Vec<SchoolInput> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for i in 0..sc.rows.len() {
        let mut row = Row::new(&sc, i, &mut problems);
        let Some(id) = row.required("school_id").map(str::to_string) else { continue };
        if index.contains_key(&id) {
            row.problem("school_id", format!("school '{id}' appears twice"));
            continue;
        }
        let (Some(capacity), Some(class_size), Some(classes), Some(load)) = (
            row.u32("capacity", true),
            row.u32("class_size", true),
            row.u32("classes", true),
            row.u32("load", true),
        ) else {
            continue;
        };
        index.insert(id.clone(), schools.len());
        schools.push(SchoolInput { id, capacity, class_size, classes, load, residents: 0 });
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    if schools.is_empty() {
        return Err(Error::input(SCHOOLS, None, None, "the plan has no schools"));
    }
    let school_of = |row: &mut Row| {
        let id = row.get("school_id").unwrap_or("");
        let s = index.get(id).copied();
        if s.is_none() {
            row.problem("school_id", format!("unknown school '{id}' (not in schools.csv)"));
        }
        s
    };
    // Pupil ids are personal: the table never echoes values in its own messages.
    let ac = read_table(ASSIGNMENTS, assignments_csv, &["pupil_id", "school_id"], true)?;
    let mut counted = vec![0u32; schools.len()];
    let mut seen = std::collections::HashSet::new();
    for i in 0..ac.rows.len() {
        let mut row = Row::new(&ac, i, &mut problems);
        let pid = row.get("pupil_id").unwrap_or("").to_string();
        if !seen.insert(pid.clone()) {
            row.problem("pupil_id", format!("pupil '{pid}' appears twice"));
            continue;
        }
        if let Some(s) = school_of(&mut row) {
            counted[s] += 1;
        }
    }
    for (s, &n) in schools.iter().zip(&counted) {
        if problems.is_empty() && n != s.load {
            problems.push(InputProblem::new(
                SCHOOLS,
                None,
                Some("load"),
                format!(
                    "school '{}' has load {} but {ASSIGNMENTS} assigns it {n} pupils",
                    s.id, s.load
                ),
            ));
        }
    }
    let dc = read_table(DISTRICTS, districts_csv, &["block_id", "school_id", "residents"], false)?;
    let mut blocks = std::collections::HashSet::new();
    for i in 0..dc.rows.len() {
        let mut row = Row::new(&dc, i, &mut problems);
        let b = row.get("block_id").unwrap_or("").to_string();
        if !blocks.insert(b.clone()) {
            row.problem("block_id", format!("block '{b}' appears twice"));
            continue;
        }
        let residents = row.u32("residents", true);
        if row.get("school_id").is_none() {
            // A block with no route to any school: no district, no newcomers.
            continue;
        }
        if let (Some(s), Some(n)) = (school_of(&mut row), residents) {
            schools[s].residents += n as u64;
        }
    }
    if !problems.is_empty() {
        problems.truncate(100);
        return Err(Error::Input(problems));
    }
    Ok(schools)
}

/// [`plan_inputs`] from a plan directory.
pub fn read_plan_inputs(dir: &Path) -> Result<Vec<SchoolInput>> {
    let read = |name: &str| {
        let path = dir.join(name);
        crate::instance::read_input(&path).map_err(|e| match e {
            Error::Io { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound && name == DISTRICTS =>
            {
                Error::NotFound {
                    message: format!(
                        "{}: not found; the simulation needs every block's district school with \
                         its residents (block_id,school_id,walk_m,residents)",
                        path.display()
                    ),
                    hint: Some(crate::error::Hint::new(
                        "solve the plan with the city's blocks",
                        Some(crate::error::Setting::Blocks),
                    )),
                }
            }
            other => other,
        })
    };
    if !dir.is_dir() {
        return Err(Error::not_found(format!("{}: not a plan directory", dir.display())));
    }
    plan_inputs(&read(SCHOOLS)?, &read(ASSIGNMENTS)?, &read(DISTRICTS)?)
}

/// `simulation.csv`: one row per school.
pub fn simulation_csv(sim: &Simulation) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| Error::internal(e.to_string());
    w.write_record([
        "school_id",
        "capacity",
        "classes",
        "class_size",
        "planned_load",
        "expected_load",
        "p_over_capacity",
        "p_class_over",
        "p95_load",
        "buffer",
        "short",
    ])
    .map_err(e)?;
    for r in &sim.per_school {
        w.write_record([
            r.school_id.clone(),
            r.capacity.to_string(),
            r.classes.to_string(),
            r.class_size.to_string(),
            r.planned_load.to_string(),
            format!("{:.3}", r.expected_load),
            format!("{:.4}", r.p_over_capacity),
            format!("{:.4}", r.p_class_over),
            r.p95_load.to_string(),
            r.buffer.to_string(),
            r.short.to_string(),
        ])
        .map_err(e)?;
    }
    w.into_inner().map_err(|x| Error::internal(x.to_string()))
}

/// `simulation.json`: the whole result.
pub fn simulation_json(sim: &Simulation) -> Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(sim).map_err(|e| Error::internal(e.to_string()))?;
    s.push(b'\n');
    Ok(s)
}

/// Write `simulation.csv` and `simulation.json` into `out`, and with a robust plan also
/// `robust-simulation.csv` and `robustness.json` (atomically: nothing on error).
pub fn write_simulation(out: &Path, sim: &Simulation, robust: Option<&Robustness>) -> Result<()> {
    let mut files =
        vec![("simulation.csv", simulation_csv(sim)?), ("simulation.json", simulation_json(sim)?)];
    if let Some(r) = robust {
        files.push(("robust-simulation.csv", simulation_csv(&r.after)?));
        let mut j = serde_json::to_vec_pretty(r).map_err(|e| Error::internal(e.to_string()))?;
        j.push(b'\n');
        files.push(("robustness.json", j));
    }
    crate::instance::write_atomically(out, |dir| {
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).map_err(|e| Error::io(dir.join(name), e))?;
        }
        Ok(())
    })
}
