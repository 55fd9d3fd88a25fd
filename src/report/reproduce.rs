//! The comparison the city made: hand-drawn districts vs optimised whole-block districts vs
//! the pupil-level optimum, in one table (markdown + JSON).

use super::baseline::{evaluate, straight_line_districts};
use super::summarize;
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::routing::Matrix;
use crate::{solve_plan, Plan, Policy, Unit};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One plan of the comparison (one row of the table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Directory name of the plan in the output (`plans/<key>`).
    pub key: String,
    /// What the plan is, in words.
    pub name: String,
    /// Total walk in kilometers (1 decimal).
    pub total_km: f64,
    /// Mean walk per pupil in meters (rounded).
    pub mean_m: f64,
    /// Change of the total walk against the first row, in %.
    pub change_pct: f64,
    /// Pupils walking farther than 2 km.
    pub over_2km: usize,
    /// Pupils not at their nearest school.
    pub not_at_nearest: usize,
    /// Classes formed in total.
    pub classes: u32,
    /// Classes with more pupils than their school's class size.
    pub classes_over_size: u32,
    /// Pupils in the largest class.
    pub largest_class: u32,
    /// Total walk in meters (the plan's objective).
    pub objective_m: u64,
    /// Streets of the published street list in two or more districts (with the city's blocks
    /// and streets; a plan of pupils, not blocks, has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_streets: Option<usize>,
}

/// Figures the city itself reported, shown beside the case's (from the case directory's
/// `reported.json`, when it has one): the real system, not a plan of the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reported {
    /// What the figures are, in words (the table's row).
    pub name: String,
    /// Where they were reported.
    pub source: String,
    /// Pupils the figures count.
    pub pupils: usize,
    /// Of them, pupils walking farther than 2 km.
    pub over_2km: usize,
    /// How much more its adopted districts walk than the theoretical optimum, in % (as the
    /// city reported it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_gap_pct: Option<f64>,
}

/// The reported figures of a case directory: `reported.json`, or None when it has none.
pub fn read_reported(case_dir: &Path) -> Result<Option<Reported>> {
    let path = case_dir.join("reported.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let r: Reported = serde_json::from_str(&text).map_err(|e| {
        Error::input(&path.display().to_string(), Some(e.line() as u64), None, e.to_string())
    })?;
    if r.over_2km > r.pupils {
        return Err(Error::input(
            &path.display().to_string(),
            None,
            Some("over_2km"),
            "more pupils over 2 km than pupils",
        ));
    }
    Ok(Some(r))
}

/// The whole comparison: the case, its size, and one row per plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The case's name (as given to `catchment reproduce`).
    pub case: String,
    /// Where the walking distances came from, in words.
    pub distance_source: String,
    /// Number of pupils.
    pub pupils: usize,
    /// Number of schools.
    pub schools: usize,
    /// Seats over all schools.
    pub seats: u64,
    /// The plans: the proxy baseline, given districts if any, whole blocks, the pupil-level optimum.
    pub rows: Vec<Row>,
    /// Whole-block districts against the pupil-level optimum, in %.
    pub block_gap_pct: f64,
    /// What the city reported, shown beside the plans (not a plan of the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Reported>,
    /// Contiguous whole-block districts (every block of the city, each district one piece)
    /// against the pupil-level optimum, in %, when the case has the city's blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contiguous_gap_pct: Option<f64>,
    /// Why the contiguous row is missing, when the case has blocks but none was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contiguous_note: Option<String>,
}

fn round(x: f64, d: i32) -> f64 {
    let f = 10f64.powi(d);
    (x * f).round() / f
}

/// Run the baselines and the two optima; returns the comparison and the plans (key, plan).
pub fn run(
    case: &str,
    inst: &Instance,
    m: &Matrix,
    given: Option<(String, Vec<u32>)>,
    reported: Option<Reported>,
) -> Result<(Comparison, Vec<(String, Plan)>)> {
    let mut plans: Vec<(String, String, Plan)> = Vec::new();
    let proxy =
        evaluate(inst, m, straight_line_districts(inst)?, "hand-drawn proxy (straight line)")?;
    plans.push((
        "baseline".into(),
        "Hand-drawn proxy: nearest school by straight line, border blocks moved".into(),
        proxy,
    ));
    if let Some((name, assign)) = given {
        let p = evaluate(inst, m, assign, &name)?;
        plans.push(("given".into(), format!("Given districts ({name})"), p));
    }
    let block = solve_plan(inst, m, &Policy { unit: Unit::Block, ..Policy::default() }, None)?;
    let pupil = solve_plan(inst, m, &Policy::default(), None)?;
    let gap = if pupil.objective > 0 {
        100.0 * (block.objective as f64 - pupil.objective as f64) / pupil.objective as f64
    } else {
        0.0
    };
    plans.push(("blocks".into(), "Optimised districts of whole blocks".into(), block));
    plans.push(("pupils".into(), "Pupil-level optimum".into(), pupil));
    let base = plans[0].2.objective;
    let rows = plans.iter().map(|(key, name, plan)| row(inst, m, key, name, plan, base)).collect();
    let comparison = Comparison {
        case: case.to_string(),
        distance_source: m.source.clone(),
        pupils: inst.pupils.len(),
        schools: inst.schools.len(),
        seats: inst.seats(),
        rows,
        block_gap_pct: round(gap, 2),
        reported,
        contiguous_gap_pct: None,
        contiguous_note: None,
    };
    Ok((comparison, plans.into_iter().map(|(k, _, p)| (k, p)).collect()))
}

/// A row of the table: `plan` evaluated, its change against the baseline's walk `base`.
fn row(inst: &Instance, m: &Matrix, key: &str, name: &str, plan: &Plan, base: u64) -> Row {
    let s = summarize(inst, m, plan);
    let base = base as f64;
    Row {
        key: key.to_string(),
        name: name.to_string(),
        total_km: round(s.walk.total_m as f64 / 1000.0, 1),
        mean_m: round(s.walk.mean_m, 0),
        change_pct: if base > 0.0 {
            round(100.0 * (plan.objective as f64 - base) / base, 1)
        } else {
            0.0
        },
        over_2km: s.walk.over_2km,
        not_at_nearest: s.not_at_nearest.pupils,
        classes: s.classes.total,
        classes_over_size: s.classes.over_size,
        largest_class: s.classes.largest,
        objective_m: plan.objective,
        split_streets: None,
    }
}

/// The price per extra district of a street in the table's row of contiguous districts with
/// streets kept whole: a split street weighs as much as a kilometre of walking (one pupil's
/// walk a kilometre longer, or ten pupils' 100 m).
pub const SPLIT_STREET_COST: u32 = 1_000;

/// The rows of contiguous districts in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContiguousRow {
    /// Contiguous districts of whole blocks.
    Plain,
    /// And every street segment between two junctions in one district.
    Segments,
    /// And a price of [`SPLIT_STREET_COST`] per extra district of a street.
    Streets,
}

impl ContiguousRow {
    /// The row's key (and its plan's directory).
    pub fn key(self) -> &'static str {
        match self {
            ContiguousRow::Plain => "contiguous",
            ContiguousRow::Segments => "contiguous-segments",
            ContiguousRow::Streets => "contiguous-streets",
        }
    }
}

/// Add a row of contiguous districts (before the pupil-level optimum's). The plain contiguous
/// row sets the gap to the pupil-level optimum.
pub fn add_contiguous(
    c: &mut Comparison,
    inst: &Instance,
    m: &Matrix,
    plan: &Plan,
    variant: ContiguousRow,
) {
    let base = c.rows.first().map(|r| r.objective_m).unwrap_or(0);
    let streets = format!(
        "Contiguous districts, {} m of walk per extra district of a street",
        SPLIT_STREET_COST
    );
    let name = match variant {
        ContiguousRow::Plain => {
            "Contiguous districts of whole blocks (each one piece, every block of the city)"
        }
        ContiguousRow::Segments => "Contiguous districts, street segments between junctions whole",
        ContiguousRow::Streets => streets.as_str(),
    };
    let plain = variant == ContiguousRow::Plain;
    let r = row(inst, m, variant.key(), name, plan, base);
    if let Some(p) = c.rows.iter().find(|r| r.key == "pupils").filter(|_| plain) {
        let opt = p.objective_m as f64;
        if opt > 0.0 {
            c.contiguous_gap_pct = Some(round(100.0 * (r.objective_m as f64 - opt) / opt, 2));
        }
    }
    let at = c.rows.iter().position(|r| r.key == "pupils").unwrap_or(c.rows.len());
    c.rows.insert(at, r);
}

/// The table as markdown.
pub fn table(c: &Comparison) -> String {
    let mut s = String::from(
        "| plan | total walk (km) | mean walk (m) | change vs baseline | pupils over 2 km | not at nearest school | classes | classes over size | largest class | streets in 2+ districts |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &c.rows {
        let split = r.split_streets.map(|n| n.to_string()).unwrap_or_else(|| "–".into());
        s.push_str(&format!(
            "| {} | {:.1} | {:.0} | {:+.1}% | {} ({:.1}%) | {} | {} | {} | {} | {split} |\n",
            r.name,
            r.total_km,
            r.mean_m,
            r.change_pct,
            r.over_2km,
            share(r.over_2km, c.pupils),
            r.not_at_nearest,
            r.classes,
            r.classes_over_size,
            r.largest_class
        ));
    }
    if let Some(r) = &c.reported {
        s.push_str(&format!(
            "| {} | – | – | – | {} ({:.1}% of {}) | – | – | – | – | – |\n",
            r.name,
            r.over_2km,
            share(r.over_2km, r.pupils),
            r.pupils
        ));
    }
    s
}

/// `part` of `whole` in %.
fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// The comparison as a markdown document: a header, the table and how to read it.
pub fn markdown(c: &Comparison) -> String {
    let reported = match (&c.reported, c.rows.iter().find(|r| r.key == "pupils")) {
        (Some(r), Some(p)) => format!(
            "\nThe last row is not a plan of this case but what the city reported\n\
             ({source}): {over} of its {pupils} pupils walked more than 2 km ({share:.1}%), against\n\
             {ours} of {n} ({ours_share:.1}%) at this case's pupil-level optimum.\n",
            source = r.source,
            over = r.over_2km,
            pupils = r.pupils,
            share = share(r.over_2km, r.pupils),
            ours = p.over_2km,
            n = c.pupils,
            ours_share = share(p.over_2km, c.pupils),
        ),
        _ => String::new(),
    };
    let contiguous = match (c.contiguous_gap_pct, &c.contiguous_note) {
        (Some(g), _) => {
            let city = match c.reported.as_ref().and_then(|r| r.adopted_gap_pct) {
                Some(a) => format!(
                    " (the city reported its adopted districts ~{a}% above the theoretical optimum)"
                ),
                None => String::new(),
            };
            format!(
                "Contiguous districts (each one connected piece around its school, every block of \
                 the city decided) cost {g:.2}% more walking than the certified pupil-level \
                 optimum, a proved bound{city}.\n"
            )
        }
        (None, Some(note)) => format!("Contiguous districts: {note}.\n"),
        _ => String::new(),
    };
    let segments = match (
        c.rows.iter().find(|r| r.key == "contiguous-segments"),
        c.rows.iter().find(|r| r.key == "pupils"),
    ) {
        (Some(r), Some(p)) if p.objective_m > 0 => format!(
            "Keeping every street segment between two junctions in one district as well costs \
             {:.2}% over the same bound.\n",
            100.0 * (r.objective_m as f64 - p.objective_m as f64) / p.objective_m as f64
        ),
        _ => String::new(),
    };
    let row = |k: &str| c.rows.iter().find(|r| r.key == k);
    let streets = match (row("contiguous-streets"), row("contiguous"), row("pupils")) {
        (Some(r), Some(plain), Some(p)) if p.objective_m > 0 => {
            let split = match (r.split_streets, plain.split_streets) {
                (Some(a), Some(b)) => format!(" splits {a} streets instead of {b} and"),
                _ => String::new(),
            };
            format!(
                "A price of {SPLIT_STREET_COST} m of walk per extra district of a street{split} \
                 costs {:.2}% over the same bound.\n",
                100.0 * (r.objective_m as f64 - p.objective_m as f64) / p.objective_m as f64
            )
        }
        _ => String::new(),
    };
    let contiguous = contiguous + &segments + &streets;
    format!(
        "# catchment reproduce {case}\n\n\
         {pupils} pupils, {schools} schools, {seats} seats. Distances: {src}.\n\n\
         {table}\n\
         Whole-block districts cost {gap:.2}% more walking than placing every pupil individually.\n\
         {contiguous}\
         The baseline imitates a planner without the engine (straight-line distances on a map); every\n\
         plan is evaluated on the same walking distances.\n\
         {reported}",
        case = c.case,
        pupils = c.pupils,
        schools = c.schools,
        seats = c.seats,
        src = c.distance_source,
        table = table(c),
        gap = c.block_gap_pct,
        reported = reported,
        contiguous = contiguous,
    )
}
