//! Files of the robustness simulation: a plan directory's `schools.csv`, `assignments.csv` and
//! `districts.csv` in (as bytes, so the HTTP service reads stored artefacts the same way), the
//! simulation's `simulation.csv` and `simulation.json` out. Errors name the file, line and field.

use super::simulate::{Robustness, SchoolInput, Simulation};
use crate::error::{Error, InputProblem, Result};
use std::collections::HashMap;
use std::path::Path;

/// The files of a plan the simulation reads.
pub const SCHOOLS: &str = "schools.csv";
pub const ASSIGNMENTS: &str = "assignments.csv";
pub const DISTRICTS: &str = "districts.csv";

struct Csv {
    name: String,
    headers: csv::StringRecord,
    records: Vec<csv::StringRecord>,
}

fn read_csv(name: &str, bytes: &[u8], required: &[&str]) -> Result<Csv> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
    let other = |e: csv::Error| {
        let line = e.position().map(|p| p.line());
        Error::Input(vec![InputProblem::new(name, line, None, e.to_string())])
    };
    let headers = rdr.headers().map_err(other)?.clone();
    let missing: Vec<&str> = required.iter().copied().filter(|c| !headers.iter().any(|h| h.trim() == *c)).collect();
    if !missing.is_empty() {
        return Err(Error::input(
            name,
            Some(1),
            Some(missing[0]),
            format!("missing column(s) {} (needs {})", missing.join(", "), required.join(",")),
        ));
    }
    let records = rdr.records().collect::<std::result::Result<Vec<_>, _>>().map_err(other)?;
    Ok(Csv { name: name.to_string(), headers, records })
}

impl Csv {
    fn col(&self, n: &str) -> usize {
        self.headers.iter().position(|h| h.trim() == n).expect("checked")
    }

    fn line(r: &csv::StringRecord) -> Option<u64> {
        r.position().map(|p| p.line())
    }

    fn num<T: std::str::FromStr>(&self, r: &csv::StringRecord, col: &str, problems: &mut Vec<InputProblem>) -> Option<T> {
        let v = r.get(self.col(col)).unwrap_or("").trim();
        match v.parse::<T>() {
            Ok(x) => Some(x),
            Err(_) => {
                problems.push(InputProblem::new(&self.name, Self::line(r), Some(col), format!("'{v}' is not a non-negative whole number")));
                None
            }
        }
    }
}

/// The simulation's view of a plan from the bytes of its `schools.csv` (school_id, capacity,
/// class_size, classes, load), `assignments.csv` (pupil_id, school_id; loads are counted and
/// must match schools.csv) and `districts.csv` (block_id, school_id, residents: every block of
/// the city with its district school).
pub fn plan_inputs(schools_csv: &[u8], assignments_csv: &[u8], districts_csv: &[u8]) -> Result<Vec<SchoolInput>> {
    let sc = read_csv(SCHOOLS, schools_csv, &["school_id", "capacity", "class_size", "classes", "load"])?;
    let mut problems = Vec::new();
    let mut schools: Vec<SchoolInput> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in &sc.records {
        let id = r.get(sc.col("school_id")).unwrap_or("").trim().to_string();
        if id.is_empty() {
            problems.push(InputProblem::new(SCHOOLS, Csv::line(r), Some("school_id"), "empty school id"));
            continue;
        }
        if index.contains_key(&id) {
            problems.push(InputProblem::new(SCHOOLS, Csv::line(r), Some("school_id"), format!("school '{id}' appears twice")));
            continue;
        }
        let (Some(capacity), Some(class_size), Some(classes), Some(load)) = (
            sc.num::<u32>(r, "capacity", &mut problems),
            sc.num::<u32>(r, "class_size", &mut problems),
            sc.num::<u32>(r, "classes", &mut problems),
            sc.num::<u32>(r, "load", &mut problems),
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
    let school_of = |file: &str, r: &csv::StringRecord, c: usize, problems: &mut Vec<InputProblem>| {
        let id = r.get(c).unwrap_or("").trim();
        let s = index.get(id).copied();
        if s.is_none() {
            problems.push(InputProblem::new(file, Csv::line(r), Some("school_id"), format!("unknown school '{id}' (not in schools.csv)")));
        }
        s
    };
    let ac = read_csv(ASSIGNMENTS, assignments_csv, &["pupil_id", "school_id"])?;
    let mut counted = vec![0u32; schools.len()];
    let (pc, scol) = (ac.col("pupil_id"), ac.col("school_id"));
    let mut seen = std::collections::HashSet::new();
    for r in &ac.records {
        let pid = r.get(pc).unwrap_or("").trim();
        if !seen.insert(pid.to_string()) {
            problems.push(InputProblem::new(ASSIGNMENTS, Csv::line(r), Some("pupil_id"), format!("pupil '{pid}' appears twice")));
            continue;
        }
        if let Some(s) = school_of(ASSIGNMENTS, r, scol, &mut problems) {
            counted[s] += 1;
        }
    }
    for (s, &n) in schools.iter().zip(&counted) {
        if problems.is_empty() && n != s.load {
            problems.push(InputProblem::new(
                SCHOOLS,
                None,
                Some("load"),
                format!("school '{}' has load {} but {ASSIGNMENTS} assigns it {n} pupils", s.id, s.load),
            ));
        }
    }
    let dc = read_csv(DISTRICTS, districts_csv, &["block_id", "school_id", "residents"])?;
    let (bc, dsc) = (dc.col("block_id"), dc.col("school_id"));
    let mut blocks = std::collections::HashSet::new();
    for r in &dc.records {
        let b = r.get(bc).unwrap_or("").trim();
        if !blocks.insert(b.to_string()) {
            problems.push(InputProblem::new(DISTRICTS, Csv::line(r), Some("block_id"), format!("block '{b}' appears twice")));
            continue;
        }
        let residents = dc.num::<u64>(r, "residents", &mut problems);
        if r.get(dsc).unwrap_or("").trim().is_empty() {
            // A block with no route to any school: no district, no newcomers.
            continue;
        }
        if let (Some(s), Some(n)) = (school_of(DISTRICTS, r, dsc, &mut problems), residents) {
            schools[s].residents += n;
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
        std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound && name == DISTRICTS {
                Error::Other(format!(
                    "{}: not found; the simulation needs every block's district school with its residents \
                     (block_id,school_id,walk_m,residents): solve with --blocks blocks.csv",
                    path.display()
                ))
            } else {
                Error::io(&path, e)
            }
        })
    };
    if !dir.is_dir() {
        return Err(Error::Other(format!("{}: not a plan directory", dir.display())));
    }
    plan_inputs(&read(SCHOOLS)?, &read(ASSIGNMENTS)?, &read(DISTRICTS)?)
}

/// `simulation.csv`: one row per school.
pub fn simulation_csv(sim: &Simulation) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| Error::Other(e.to_string());
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
    w.into_inner().map_err(|x| Error::Other(x.to_string()))
}

/// `simulation.json`: the whole result.
pub fn simulation_json(sim: &Simulation) -> Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(sim).map_err(|e| Error::Other(e.to_string()))?;
    s.push(b'\n');
    Ok(s)
}

/// Write `simulation.csv` and `simulation.json` into `out`, and with a robust plan also
/// `robust-simulation.csv` and `robustness.json` (atomically: nothing on error).
pub fn write_simulation(out: &Path, sim: &Simulation, robust: Option<&Robustness>) -> Result<()> {
    let mut files = vec![("simulation.csv", simulation_csv(sim)?), ("simulation.json", simulation_json(sim)?)];
    if let Some(r) = robust {
        files.push(("robust-simulation.csv", simulation_csv(&r.after)?));
        let mut j = serde_json::to_vec_pretty(r).map_err(|e| Error::Other(e.to_string()))?;
        j.push(b'\n');
        files.push(("robustness.json", j));
    }
    crate::output::write_atomically(out, |dir| {
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).map_err(|e| Error::io(dir.join(name), e))?;
        }
        Ok(())
    })
}
