//! The output directory of a plan, written atomically (a temporary directory renamed at the
//! end; an existing output is replaced only once the new one is complete), and read back for
//! `catchment check`. Rows are sorted by id, so identical runs give identical bytes (apart from
//! `summary.json`'s `timing`).

use crate::districts::files;
use crate::districts::publish::{City, Publication};
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::report::routing_check::{self, Excluded, RoutingCheck};
use crate::report::{html, nearest, summarize, Summary};
use crate::routing::Matrix;
use crate::Plan;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `certificate.json`: the objective and one price per school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateFile {
    /// Total walk of the plan in meters.
    pub objective_m: u64,
    /// Whether the plan claims optimality (false for baselines).
    pub optimal: bool,
    /// How optimality was established ([`CERTIFICATE_METHOD`], [`MIP_METHOD`], or none).
    pub method: String,
    /// A plain-language account of what the certificate proves.
    pub explanation: String,
    /// One price per school (empty for MIP plans and baselines).
    pub prices: Vec<SchoolPrice>,
}

/// The price of one school in `certificate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchoolPrice {
    /// The school's id.
    pub school_id: String,
    /// Its price in meters: added to the walk when pupils choose among schools.
    pub price_m: i64,
}

/// The `method` of a certified pupil-level plan.
pub const CERTIFICATE_METHOD: &str =
    "Bellman-Ford on the residual graph of schools: no negative cycle";
/// The `explanation` of a certified pupil-level plan.
pub const CERTIFICATE_EXPLANATION: &str = "Every pupil is at a school that minimises walking meters + the school's price. \
A positive price is charged only by a full school, a negative one only by a school held at its minimum. \
`catchment check` verifies this from the files.";

// Moved down to `instance` (below every layer that writes directories); kept here by name.
pub use crate::instance::write_atomically;

fn csv_writer(path: &Path) -> Result<csv::Writer<std::fs::File>> {
    csv::Writer::from_path(path).map_err(csv_err(path))
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::csv(&path.display().to_string(), e)
}

/// Write `value` as pretty JSON with a trailing newline; I/O errors name the path.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value).map_err(|e| Error::internal(e.to_string()))?;
    s.push('\n');
    std::fs::write(path, s).map_err(|e| Error::io(path, e))
}

/// The `method` of a whole-block or class plan (a MIP), which no prices certify.
pub const MIP_METHOD: &str =
    "Cbc branch and bound (MIP optimal status); not certified independently";

/// The `certificate.json` of a plan: prices for certified plans, the MIP method and lower bound
/// for MIP plans, or no claim for baselines (plans with neither).
pub fn certificate_file(inst: &Instance, plan: &Plan) -> CertificateFile {
    match &plan.certificate {
        Some(c) => CertificateFile {
            objective_m: plan.objective,
            optimal: true,
            method: CERTIFICATE_METHOD.into(),
            explanation: CERTIFICATE_EXPLANATION.into(),
            prices: inst.schools.iter().zip(&c.prices).map(|(s, &p)| SchoolPrice { school_id: s.id.clone(), price_m: p }).collect(),
        },
        None if plan.pupil_optimum.is_none() => CertificateFile {
            objective_m: plan.objective,
            optimal: false,
            method: "none: a baseline, evaluated, not optimised".into(),
            explanation: "A baseline plan for comparison; it makes no claim of optimality.".into(),
            prices: vec![],
        },
        None => CertificateFile {
            objective_m: plan.objective,
            optimal: true,
            method: MIP_METHOD.into(),
            explanation: format!(
                "Whole blocks or whole classes make this a MIP: no prices prove it. The pupil-level optimum ({} m) is a lower bound.",
                plan.pupil_optimum.unwrap_or(0)
            ),
            prices: vec![],
        },
    }
}

/// The report page of a published plan: headline figures, one row and one district per school,
/// the distance source, the city's streets and boundary under the districts (with the city),
/// the routing check, and a comparison when the caller has one (a baseline, scenarios).
pub fn report_page(
    inst: &Instance,
    m: &Matrix,
    plan: &Plan,
    summary: &Summary,
    p: &Publication,
    extras: &Extras,
    check: Option<&RoutingCheck>,
) -> html::ReportPage {
    let Extras { city, comparison, .. } = *extras;
    let mut walk = vec![(0u64, 0u64); inst.schools.len()];
    for (pupil, &s) in plan.assign.iter().enumerate() {
        let w = &mut walk[s as usize];
        w.0 += m.get(pupil, s as usize).unwrap_or(0) as u64;
        w.1 += 1;
    }
    let fc = match &p.polygons {
        Some(polys) => crate::districts::polygons::feature_collection(polys, &p.properties),
        None => geojson::FeatureCollection { bbox: None, features: vec![], foreign_members: None },
    };
    let mut notes = vec![format!("Walking distances: {}.", summary.distance_source)];
    notes.extend(p.notes.iter().cloned());
    if let Some(st) = &summary.streets {
        let mut n = format!(
            "Street list (streets.html): {} streets, {} wholly in one district, {} in two or more",
            st.total, st.whole, st.split
        );
        if st.split > 0 {
            n.push_str(&format!(" (at most {}; split-streets.csv)", st.districts_max));
        }
        if let (Some(t), Some(sp)) = (st.segments, st.split_segments) {
            n.push_str(&format!(
                "; {sp} of {t} street segments between junctions lie in more than one district"
            ));
        }
        notes.push(n + ".");
    }
    if let Some(w) = &summary.whole_segments {
        notes.push(format!(
            "Whole street segments: every block of a street segment between two junctions at one school. Walk {:.1} km, \
             {:+.1} km ({:+.2}%) against the plan without this rule ({:.1} km; the certified pupil-level optimum, a lower \
             bound, is {:.1} km); streets in more than one district: {} instead of {}.",
            w.walk_m as f64 / 1000.0,
            w.extra_m as f64 / 1000.0,
            w.extra_pct,
            w.without_rule_walk_m as f64 / 1000.0,
            w.pupil_optimum_m as f64 / 1000.0,
            w.split_streets,
            w.split_streets_without_rule
        ));
    }
    notes.push("Districts cover every block of the city: blocks without pupils this year follow the school prices of the certificate.".into());
    html::ReportPage {
        title: "School districts".into(),
        notes,
        headline: html::Headline::from_summary(summary),
        schools: summary
            .per_school
            .iter()
            .zip(&inst.schools)
            .zip(&walk)
            .map(|((l, s), &(total, n))| {
                html::SchoolRow::new(l, s, (n > 0).then(|| total as f64 / n as f64))
            })
            .collect(),
        districts: fc,
        comparison: comparison.cloned(),
        streets: city
            .and_then(|c| c.streets.as_ref())
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| html::MapLine {
                        named: !l.name.trim().is_empty(),
                        points: l.points.iter().map(|&(lat, lon)| (lon, lat)).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        boundary: city
            .and_then(|c| c.area.as_ref())
            .map(|area| {
                area.0
                    .iter()
                    .map(|poly| {
                        std::iter::once(poly.exterior())
                            .chain(poly.interiors())
                            .map(|r| r.0.iter().map(|c| (c.x, c.y)).collect())
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default(),
        routing_check: check.map(|c| routing_check::section(c, &inst.schools)),
    }
}

/// The file of a stable plan with last year's districts it was solved against (blocks and
/// schools only), so `catchment check` can rebuild the penalised costs.
pub const PREVIOUS_FILE: &str = "previous-districts.csv";

/// What a plan directory holds besides the plan itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// The city (blocks, block matrix, streets): the publishable files `districts.csv` (every
    /// block), `districts.geojson`, `streets.csv`, `streets.html` and `report.html`.
    pub city: Option<&'a City>,
    /// Other districts to compare with on the report page.
    pub comparison: Option<&'a html::Comparison>,
    /// A plan solved against last year's districts: the summary's `stability` section and
    /// `previous-districts.csv`; with a change cost, blocks without pupils are drawn by walk +
    /// price + change cost.
    pub stability: Option<(&'a crate::stability::StabilityReport, &'a crate::stability::Stability)>,
    /// Blocks the plan was solved without (their walks not trusted): counted in the summary's
    /// routing check.
    pub excluded: Option<&'a Excluded>,
    /// A plan with whole street segments: the summary's `whole_segments` section.
    pub segments: Option<&'a crate::districts::segments::SegmentReport>,
    /// Keep the walks the plan was solved with in its directory ([`MATRIX_FILE`], and with
    /// the city [`BLOCK_MATRIX_FILE`]): internal files, never published.
    pub walks: Option<&'a StoredWalks>,
    /// Pins the plan was solved with: `pins.csv` (which `check` applies) and the summary's
    /// `pins` section.
    pub pins: Option<(&'a [crate::districts::pins::Pin], &'a crate::districts::pins::PinsReport)>,
}

/// The pupil matrix a plan was solved with, kept in its directory when it was not a file the
/// user has (routed by OSRM, or a scenario's remapped matrix): internal (pupil ids), never
/// published. `catchment check --plan DIR` verifies from it without routing again.
pub const MATRIX_FILE: &str = "matrix.csv";
/// The block matrix a plan's districts were drawn with, kept beside [`MATRIX_FILE`] (internal:
/// not one of the council's files).
pub const BLOCK_MATRIX_FILE: &str = "block-matrix.csv";

/// What the kept walks' `.meta.json` sidecars say beyond the pupil matrix's source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredWalks {
    /// Pupils of the pupils file left out because their address could not be placed (by id;
    /// the sidecar is internal like the matrix): a reader of the matrix leaves them out too.
    pub left_out_ungeocoded: Vec<String>,
    /// Where the block matrix's walks come from (with the city).
    pub block_source: String,
}

/// Write a plan's output directory atomically: `summary.json`, `assignments.csv`,
/// `schools.csv`, `certificate.json`, and what `extras` adds. Returns the summary and the
/// publication (with a city).
pub fn write_plan(
    out: &Path,
    inst: &Instance,
    m: &Matrix,
    plan: &Plan,
    extras: &Extras,
) -> Result<(Summary, Option<Publication>)> {
    let Extras { city, stability, excluded, segments, walks, pins, .. } = *extras;
    let inst = &*crate::effective_instance(inst, &plan.policy);
    let mut summary = summarize(inst, m, plan);
    summary.stability = stability.map(|(r, _)| r.clone());
    let mut cert = certificate_file(inst, plan);
    if let (Some((r, _)), Some(_)) = (stability, &plan.certificate) {
        if let Some(c) = r.change_cost_m {
            cert.explanation.push_str(&format!(
                " This plan keeps last year's districts ({PREVIOUS_FILE}) at a cost of {c} m per pupil at another school: \
                 the prices are on walking meters + that cost; objective_m is the walk without it."
            ));
        }
    }
    let change = stability.and_then(|(r, st)| r.change_cost_m.map(|c| (&st.previous, c)));
    let pinned = pins.map(|(p, _)| p).unwrap_or(&[]);
    let publication = city
        .map(|c| crate::districts::publish::publish(inst, plan, c, change, pinned))
        .transpose()?;
    summary.districts = publication.as_ref().map(|p| p.shape.clone());
    // The routing check: every block of the city with its published school, or (without the
    // city) every pupil, counts only.
    let mut check = match (city, &publication) {
        (Some(c), Some(p)) => {
            let school: Vec<Option<usize>> = p.rows.iter().map(|r| r.school).collect();
            routing_check::check_blocks(inst, m, &c.blocks, &c.matrix, &school)
        }
        _ => routing_check::check_pupils(inst, m, &plan.assign),
    };
    check.summary.excluded = excluded.cloned();
    if check.summary.flagged > 0 {
        tracing::info!(
            flagged = check.summary.flagged,
            unit = check.summary.unit.as_str(),
            "routing check: walks that look like artefacts of the street network"
        );
    }
    summary.routing_check = Some(check.summary.clone());
    summary.streets = publication.as_ref().and_then(|p| p.streets.as_ref()).map(|l| l.stats());
    summary.whole_segments = segments.cloned();
    summary.pins = pins.map(|(_, r)| r.clone());
    let edit = {
        use crate::districts::{adjacency, edit::EditModel};
        let rows: Vec<Option<usize>> = publication
            .as_ref()
            .map(|p| p.rows.iter().map(|r| r.school).collect())
            .unwrap_or_default();
        let city = match (city, &publication) {
            (Some(c), Some(_)) => Some((
                c.blocks.as_slice(),
                rows.as_slice(),
                adjacency::for_city(&c.blocks, &c.matrix).0.neighbours,
            )),
            _ => None,
        };
        let mut model = EditModel::build(inst, m, plan, city);
        if let Some(list) = publication.as_ref().and_then(|p| p.streets.as_ref()) {
            model.add_streets(list);
        }
        model
    };
    write_atomically(out, |dir| {
        // Compact: the page loads it (blocks x schools sums).
        let text = serde_json::to_string(&edit).map_err(|e| Error::internal(e.to_string()))?;
        write_text(&dir.join(crate::districts::edit::EDIT_FILE), &text)?;
        if let Some((pins, _)) = pins {
            write_text(
                &dir.join(crate::districts::pins::PINS_FILE),
                &crate::districts::pins::pins_csv(pins),
            )?;
        }
        write_json(&dir.join("summary.json"), &summary)?;
        write_json(&dir.join("certificate.json"), &cert)?;
        if let Some((_, prev)) = stability {
            let path = dir.join(PREVIOUS_FILE);
            std::fs::write(&path, crate::stability::districts_csv(&prev.previous))
                .map_err(|e| Error::io(&path, e))?;
        }
        write_assignments(&dir.join("assignments.csv"), inst, m, plan)?;
        if let Some(ex) = excluded.filter(|e| !e.block_ids.is_empty()) {
            let mut text = String::from("block_id\n");
            for b in &ex.block_ids {
                text.push_str(&crate::routing::matrix::csv_field(b));
                text.push('\n');
            }
            write_text(&dir.join(crate::report::routing_check::EXCLUDED_BLOCKS_FILE), &text)?;
        }
        if let Some(w) = walks {
            crate::routing::matrix::write_matrix_meta(
                &dir.join(MATRIX_FILE),
                inst,
                m,
                &crate::routing::matrix::MatrixMeta {
                    source: m.source.clone(),
                    left_out_ungeocoded: w.left_out_ungeocoded.clone(),
                    left_out_excluded: excluded.map(|e| e.pupil_ids.clone()).unwrap_or_default(),
                },
            )?;
            if let Some(c) = city {
                crate::districts::write_block_matrix(
                    &dir.join(BLOCK_MATRIX_FILE),
                    &c.matrix,
                    &inst.schools,
                    &w.block_source,
                )?;
            }
        }
        write_schools(&dir.join("schools.csv"), inst, &summary)?;
        if let Some(p) = &publication {
            write_text(
                &dir.join(routing_check::CSV_FILE),
                &routing_check::csv_text(&check.flags, &inst.schools)?,
            )?;
            write_text(&dir.join("districts.csv"), &files::districts_csv(p, &inst.schools)?)?;
            if let Some(gj) = files::districts_geojson(p) {
                write_text(&dir.join("districts.geojson"), &gj)?;
            }
            if let Some(list) = &p.streets {
                write_text(
                    &dir.join("streets.csv"),
                    &files::streets_csv(&list.parts, &inst.schools)?,
                )?;
                write_text(
                    &dir.join("streets.html"),
                    &files::streets_html(list, &inst.schools, "School districts: street list"),
                )?;
                write_text(
                    &dir.join("split-streets.csv"),
                    &files::split_streets_csv(list, &inst.schools)?,
                )?;
            }
            write_text(
                &dir.join("report.html"),
                &html::render(&report_page(inst, m, plan, &summary, p, extras, Some(&check))),
            )?;
        }
        Ok(())
    })?;
    Ok((summary, publication))
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn write_assignments(path: &Path, inst: &Instance, m: &Matrix, plan: &Plan) -> Result<()> {
    let mut w = csv_writer(path)?;
    let e = csv_err(path);
    w.write_record([
        "pupil_id",
        "school_id",
        "meters",
        "seconds",
        "nearest_school_id",
        "nearest_meters",
        "extra_meters",
        "fixed",
    ])
    .map_err(&e)?;
    for (p, pupil) in inst.pupils.iter().enumerate() {
        let s = plan.assign[p] as usize;
        let d = m.get(p, s).unwrap_or(0);
        let (ns, nd) = nearest(m, p).unwrap_or((s, d));
        w.write_record([
            pupil.id.as_str(),
            inst.schools[s].id.as_str(),
            &d.to_string(),
            &m.seconds(p, s).map(|x| x.to_string()).unwrap_or_default(),
            inst.schools[ns].id.as_str(),
            &nd.to_string(),
            &(d.saturating_sub(nd)).to_string(),
            if pupil.fixed_school.is_some() { "yes" } else { "" },
        ])
        .map_err(&e)?;
    }
    w.flush().map_err(|x| Error::io(path, x))
}

fn write_schools(path: &Path, inst: &Instance, summary: &Summary) -> Result<()> {
    let mut w = csv_writer(path)?;
    let e = csv_err(path);
    let extra_cols: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for s in &inst.schools {
            for (k, _) in &s.extra {
                if !v.contains(k) {
                    v.push(k.clone());
                }
            }
        }
        v
    };
    // Readable back as a schools input (`school_id` stands for `id` there): the location,
    // rooms and minimums are kept; the plan's figures follow.
    let mut header = vec![
        "school_id",
        "name",
        "capacity",
        "min_pupils",
        "load",
        "utilisation",
        "price_m",
        "classes",
        "class_size",
        "mean_class",
        "largest_class",
        "lat",
        "lon",
        "max_classes",
        "min_classes",
    ];
    header.extend(extra_cols.iter().map(String::as_str));
    w.write_record(&header).map_err(&e)?;
    for (s, load) in inst.schools.iter().zip(&summary.per_school) {
        let mut rec = vec![
            s.id.clone(),
            s.name.clone(),
            s.capacity.to_string(),
            s.min_pupils.to_string(),
            load.load.to_string(),
            format!("{:.3}", load.utilisation),
            load.price_m.map(|p| p.to_string()).unwrap_or_default(),
            load.classes.to_string(),
            load.class_size.to_string(),
            format!("{:.1}", load.mean_class),
            load.largest_class.to_string(),
            s.lat.to_string(),
            s.lon.to_string(),
            s.max_classes.map(|k| k.to_string()).unwrap_or_default(),
            s.min_classes.map(|k| k.to_string()).unwrap_or_default(),
        ];
        for k in &extra_cols {
            rec.push(
                s.extra.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone()).unwrap_or_default(),
            );
        }
        w.write_record(&rec).map_err(&e)?;
    }
    w.flush().map_err(|x| Error::io(path, x))
}

/// The figures `assignments.csv` publishes for one pupil, as written (empty when absent).
#[derive(Debug, Clone, Default)]
pub struct PublishedRow {
    /// The row's line in `assignments.csv`.
    pub line: u64,
    /// `meters`, `nearest_school_id`, `nearest_meters`, `extra_meters`.
    pub fields: [String; 4],
}

/// The columns of [`PublishedRow::fields`].
pub const PUBLISHED_ROW_COLUMNS: [&str; 4] =
    ["meters", "nearest_school_id", "nearest_meters", "extra_meters"];

/// A plan read back from its directory.
#[derive(Debug)]
pub struct PlanFiles {
    /// School index per pupil; `None` where the plan has no row for the pupil.
    pub assign: Vec<Option<u32>>,
    /// The figures each pupil's row publishes (`None` where there is no row).
    pub published: Vec<Option<PublishedRow>>,
    /// The plan's `certificate.json`, `None` if it is missing or cannot be read.
    pub certificate: Option<CertificateFile>,
    /// Problems with the rows of `assignments.csv` (unknown ids, duplicates, missing pupils),
    /// as messages naming lines, never pupil ids.
    pub problems: Vec<String>,
}

/// Read `assignments.csv` and `certificate.json` of a plan directory against an instance.
pub fn read_plan(dir: &Path, inst: &Instance) -> Result<PlanFiles> {
    let path = dir.join("assignments.csv");
    let input = crate::instance::limits::open_input(&path)?;
    let mut rdr = csv::Reader::from_reader(crate::instance::limits::Limited::new(input));
    let csv_error = |e: csv::Error| {
        crate::instance::limits::csv_exceeded("assignments.csv", &e)
            .unwrap_or_else(|| csv_err(&path)(e))
    };
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let col = |n: &str| headers.iter().position(|h| h.trim() == n);
    let (Some(pc), Some(sc)) = (col("pupil_id"), col("school_id")) else {
        return Err(Error::input(
            "assignments.csv",
            Some(1),
            Some("pupil_id"),
            "needs columns 'pupil_id' and 'school_id'",
        ));
    };
    let published_cols: Vec<Option<usize>> = PUBLISHED_ROW_COLUMNS.iter().map(|c| col(c)).collect();
    let mut assign = vec![None; inst.pupils.len()];
    let mut published = vec![None; inst.pupils.len()];
    let mut line_of: Vec<u64> = vec![0; inst.pupils.len()];
    let mut problems = Vec::new();
    // Pupil ids are personal: rows are named by their line.
    for rec in rdr.records() {
        let rec = rec.map_err(csv_error)?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let pid = rec.get(pc).unwrap_or("").trim();
        let sid = rec.get(sc).unwrap_or("").trim();
        let Some(p) = inst.pupil_index(pid) else {
            problems
                .push(format!("assignments.csv:{line}: unknown pupil (not in the pupils file)"));
            continue;
        };
        if assign[p].is_some() || line_of[p] > 0 {
            problems.push(format!(
                "assignments.csv:{line}: the pupil appears twice (first on line {})",
                line_of[p]
            ));
            continue;
        }
        line_of[p] = line;
        let Some(s) = inst.school_index(sid) else {
            problems.push(format!(
                "assignments.csv:{line}: unknown school '{}'",
                crate::instance::limits::shown(sid)
            ));
            continue;
        };
        assign[p] = Some(s as u32);
        let field = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim().to_string();
        published[p] = Some(PublishedRow {
            line,
            fields: [
                field(published_cols[0]),
                field(published_cols[1]),
                field(published_cols[2]),
                field(published_cols[3]),
            ],
        });
    }
    let missing = line_of.iter().filter(|&&l| l == 0).count();
    if missing > 0 {
        problems
            .push(format!("{missing} pupil(s) of the pupils file have no row in assignments.csv"));
    }
    let cpath = dir.join("certificate.json");
    let certificate = if cpath.exists() {
        let text = std::fs::read_to_string(&cpath).map_err(|e| Error::io(&cpath, e))?;
        match serde_json::from_str::<CertificateFile>(&text) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(format!("certificate.json: cannot be read: {e}"));
                None
            }
        }
    } else {
        None
    };
    Ok(PlanFiles { assign, published, certificate, problems })
}

/// Answer an `explain` query from a plan directory's published files.
pub fn explain_plan(dir: &Path, q: &files::Query) -> Result<files::Answer> {
    let read = |name: &str| -> Result<Option<String>> {
        let p = dir.join(name);
        if p.exists() {
            std::fs::read_to_string(&p).map(Some).map_err(|e| Error::io(&p, e))
        } else {
            Ok(None)
        }
    };
    let districts = read("districts.csv")?.ok_or_else(|| Error::NotFound {
        message: format!("{}: the plan has no districts.csv", dir.display()),
        hint: Some(crate::error::Hint::new(
            "solve with the city's blocks to publish districts for every block",
            Some(crate::error::Setting::Blocks),
        )),
    })?;
    let schools = read("schools.csv")?.map(|t| school_names(&t)).unwrap_or_default();
    files::explain_from_files(&districts, read("streets.csv")?.as_deref(), &schools, q)
}

/// (id, name) of every school from a plan's `schools.csv` text.
pub fn school_names(text: &str) -> Vec<(String, String)> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(_) => return vec![],
    };
    let (Some(i), Some(n)) =
        (headers.iter().position(|h| h == "school_id"), headers.iter().position(|h| h == "name"))
    else {
        return vec![];
    };
    rdr.records()
        .flatten()
        .map(|r| (r.get(i).unwrap_or("").to_string(), r.get(n).unwrap_or("").to_string()))
        .collect()
}

/// A plan directory's edit model (`edit.json`), which `catchment evaluate` applies moves to.
pub fn read_edit_model(dir: &Path) -> Result<crate::districts::edit::EditModel> {
    let path = dir.join(crate::districts::edit::EDIT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::not_found(format!(
                "{} has no {}: solve the plan again with this version of catchment",
                dir.display(),
                crate::districts::edit::EDIT_FILE
            )))
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    crate::districts::edit::model_from_json(&text)
}
