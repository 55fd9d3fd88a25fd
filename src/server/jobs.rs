//! Plan jobs: turning a request into the library's values, and running the pipeline off the
//! async runtime (a blocking thread per solve, at most `max_solves` at a time). Everything here
//! calls the library exactly as the CLI does; no domain logic lives in the service.

use super::error::ApiError;
use super::model::{
    PlanRequest, ScenarioSetRequest, SimulationJob, SimulationRequest, SitesRequest, TableInput,
};
use super::store::{self, Artefact, Artefacts, Kind, Output};
use super::App;
use crate::app::{self, Source};
use crate::cancel::Cancel;
use crate::routing;
use crate::{stability, Error, Policy};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use tokio::sync::oneshot;

/// A request read and validated: what `catchment solve` has after reading its files.
pub type Loaded = app::Loaded;

/// The publishable files a plan job stores, when it has the city's blocks (the council's
/// files, the report page, and the planner's routing check: blocks and schools only).
pub const PUBLISHED: [&str; 10] = [
    "districts.csv",
    "districts.geojson",
    "streets.csv",
    "split-streets.csv",
    "streets.html",
    "report.html",
    "routing-check.csv",
    "edit.json",
    "pins.csv",
    "excluded-blocks.csv",
];

/// The internal files a plan job stores when it routed its walks itself (not among its
/// published links; the pupil matrix, with pupil ids, served only to a token with the `read`
/// scope): the pupil and block matrices `catchment check --plan` verifies from without routing
/// again, with their sidecars.
pub const KEPT: [&str; 4] =
    ["matrix.csv", "matrix.csv.meta.json", "block-matrix.csv", "block-matrix.csv.meta.json"];

/// The policy: the library's defaults, overridden by the fields the request gives.
pub fn policy(fields: &serde_json::Map<String, serde_json::Value>) -> crate::Result<Policy> {
    let mut v =
        serde_json::to_value(Policy::default()).map_err(|e| Error::internal(e.to_string()))?;
    if let Some(obj) = v.as_object_mut() {
        for (k, val) in fields {
            if !obj.contains_key(k) {
                let known: Vec<&str> = obj.keys().map(String::as_str).collect();
                return Err(Error::input(
                    "policy",
                    None,
                    Some(k),
                    format!("unknown field (known: {})", known.join(", ")),
                ));
            }
            obj.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(v).map_err(|e| Error::input("policy", None, None, e.to_string()))
}

fn source(input: &TableInput, name: &str) -> Source {
    match input {
        TableInput::Csv(text) => Source::Text { name: format!("{name}.csv"), text: text.clone() },
        TableInput::Objects(items) => Source::Objects { name: name.into(), items: items.clone() },
    }
}

fn text(name: &str, text: &str) -> Source {
    Source::Text { name: name.into(), text: text.to_string() }
}

/// A matrix field: long CSV text, or a binary matrix file as a base64 data URL.
fn matrix_source(name: &str, field: &str, text: &str) -> crate::Result<Source> {
    use base64::Engine;
    let Some(b64) = text.strip_prefix(super::model::BINARY_MATRIX_DATA_URL) else {
        return Ok(Source::Text { name: format!("{name}.csv"), text: text.to_string() });
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| {
        Error::input(
            "request",
            None,
            Some(field),
            "the binary matrix's data URL is not valid base64",
        )
    })?;
    Ok(Source::Bytes { name: format!("{name}.cmx"), bytes })
}

/// A binary matrix file as the data URL a request's matrix field holds.
pub fn binary_matrix_data_url(bytes: &[u8]) -> String {
    use base64::Engine;
    let mut s = String::from(super::model::BINARY_MATRIX_DATA_URL);
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut s);
    s
}

/// What the operator lets requests route with.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// The OSRM servers a request may name (`--osrm-allow`).
    pub osrm_allow: Vec<String>,
    /// The extract those servers were prepared from (`--osm`), if given.
    pub osm: Option<std::path::PathBuf>,
    /// Its address index, built at start: requests may give street addresses.
    pub index: Option<Arc<routing::geocode::AddressIndex>>,
}

/// The request as the application layer's plan request: the same one `catchment solve`
/// builds from its flags.
pub fn plan_request(req: &PlanRequest, env: &Routing) -> crate::Result<app::PlanRequest> {
    let osrm_allow = &env.osrm_allow;
    let policy = policy(&req.policy)?;
    let distances = match (&req.matrix, &req.routing) {
        (Some(_), Some(_)) => {
            return Err(Error::input(
                "request",
                None,
                Some("routing"),
                "give either 'matrix' or 'routing', not both",
            ))
        }
        (Some(t), None) => app::Distances::Matrix(matrix_source("matrix", "matrix", t)?),
        (None, Some(spec)) => {
            // One server, or several of the same data comma-separated: each must be allowed.
            let urls: Vec<&str> = spec
                .osrm
                .split(',')
                .map(|u| u.trim().trim_end_matches('/'))
                .filter(|u| !u.is_empty())
                .collect();
            let allowed = |url: &str| osrm_allow.iter().any(|a| a.trim_end_matches('/') == url);
            if urls.is_empty() || !urls.iter().all(|u| allowed(u)) {
                return Err(Error::input(
                    "request",
                    None,
                    Some("routing.osrm"),
                    "this OSRM server is not allowed by the service (its operator lists the \
                     allowed servers)",
                ));
            }
            let mut route = routing::osrm::RouteOptions::default();
            if let Some(n) = spec.table_size {
                route.table.max_table_size = n;
            }
            if let Some(m) = spec.snap_limit_m {
                route.snap_limit_m = m;
            }
            route.allow_unreachable = spec.allow_unreachable;
            app::Distances::Osrm(routing::OsrmSource {
                urls: urls.iter().map(|u| u.to_string()).collect(),
                profile: spec.profile.clone().unwrap_or_else(|| "foot".into()),
                route,
                osm: env.osm.clone(),
                cache_dir: None,
                index: env.index.clone(),
                skip_ungeocoded: spec.skip_ungeocoded,
                // Pupil ids are not answered: the message gives the counts.
                geocode_report: None,
            })
        }
        (None, None) => {
            return Err(Error::input(
                "request",
                None,
                Some("matrix"),
                "the walking distances are missing: give 'matrix' (long CSV text \
                 pupil_id,school_id,meters[,seconds]) or 'routing' (an OSRM server)",
            ))
        }
    };
    let city = match &req.blocks {
        Some(blocks) => Some(app::CitySpec {
            blocks: text("blocks.csv", blocks),
            block_matrix: match req.block_matrix.as_deref() {
                Some(t) => Some(matrix_source("block_matrix", "block_matrix", t)?),
                None => None,
            },
            streets: req.streets.as_deref().map(|t| text("streets", t)),
            area: req.area.as_deref().map(|t| text("area", t)),
            exclude_blocks: req.exclude_blocks.as_deref().map(|t| text("exclude_blocks.csv", t)),
        }),
        None if req.block_matrix.is_some()
            || req.streets.is_some()
            || req.compare.is_some()
            || req.area.is_some()
            || req.exclude_blocks.is_some() =>
        {
            return Err(Error::input(
                "request",
                None,
                Some("blocks"),
                "'block_matrix', 'streets', 'area', 'compare' and 'exclude_blocks' need 'blocks' \
                 (the city's blocks)",
            ))
        }
        None => None,
    };
    let stability = match &req.stability {
        Some(st) => {
            let rule = match (st.change_cost, st.max_changed_blocks) {
                (Some(c), None) => stability::Rule::ChangeCost(c),
                (None, Some(n)) => stability::Rule::MaxChangedBlocks(n),
                _ => {
                    return Err(Error::input(
                        "request",
                        None,
                        Some("stability"),
                        "give one of 'change_cost' (meters per pupil) or 'max_changed_blocks'",
                    ))
                }
            };
            Some(app::StabilitySpec { previous: text("previous.csv", &st.previous), rule })
        }
        None => None,
    };
    Ok(app::PlanRequest {
        schools: source(&req.schools, "schools"),
        pupils: source(&req.pupils, "pupils"),
        distances,
        policy,
        stability,
        city,
        compare: app::CompareSpec {
            proxy: false,
            districts: req.compare.as_deref().map(|t| text("compare.csv", t)),
        },
        pins: req.pins.as_deref().map(|t| text("pins.csv", t)),
    })
}

/// Read and validate a request: schools, pupils, matrix, policy. Problems are collected from
/// schools and pupils together, as `catchment solve` does.
pub fn load(req: &PlanRequest, env: &Routing) -> crate::Result<Loaded> {
    let crs = match &req.crs {
        Some(text) => Some(
            crate::projection::Crs::parse(text)
                .map_err(|m| crate::Error::input("request", None, Some("crs"), m))?,
        ),
        None => None,
    };
    crate::instance::table::with_crs(crs.as_ref(), || plan_request(req, env)?.load(&|_| ()))
}

/// Read, validate and decide feasibility, so that a request that cannot succeed is answered at
/// once with the same messages as `catchment solve`.
pub fn validate(req: &PlanRequest, env: &Routing) -> crate::Result<Loaded> {
    let l = load(req, env)?;
    l.check_feasible()?;
    Ok(l)
}

/// The request as stored for a resume: the policy resolved, everything else as given.
pub fn normalized(req: &PlanRequest, policy: &Policy) -> String {
    let mut r = req.clone();
    r.policy = match serde_json::to_value(policy) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => Default::default(),
    };
    serde_json::to_string(&r).unwrap_or_default()
}

/// How a job ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The plan and its files are stored.
    Done,
    /// The job failed with this error (stored with the job).
    Failed(ApiError),
}

/// The stages a job reports, in order (`progress.stage`).
pub const STAGES: [app::Stage; 3] = [app::Stage::Reading, app::Stage::Solving, app::Stage::Writing];

/// Run one job of any kind on the current (blocking) thread: `loaded` is a plan request
/// validated at submission; without it the stored request is read.
fn run(app: &App, id: &str, loaded: Option<Loaded>) -> Result<Output, ApiError> {
    if let Some(l) = loaded {
        return run_plan(app, id, l).map(Output::Plan);
    }
    let (kind, text) = app
        .store
        .request(id)
        .map_err(|e| ApiError::store("reading the job's request", &e))?
        .ok_or_else(|| {
            ApiError::new("interrupted", "the job's request is no longer stored; submit it again")
        })?;
    let unreadable = |e: serde_json::Error| {
        ApiError::internal(&format!("job {id}: stored request unreadable: {e}"))
    };
    match kind {
        Kind::Plan => {
            let req: PlanRequest = serde_json::from_str(&text).map_err(unreadable)?;
            let loaded = load(&req, &app.routing).map_err(ApiError::from_library)?;
            run_plan(app, id, loaded).map(Output::Plan)
        }
        Kind::Scenarios => {
            let req: ScenarioSetRequest = serde_json::from_str(&text).map_err(unreadable)?;
            let _ = app.store.set_stage(id, app::Stage::Solving.describe());
            run_scenarios(app, id, &req).map(Output::Scenarios)
        }
        Kind::Simulation => {
            let job: SimulationJob = serde_json::from_str(&text).map_err(unreadable)?;
            let _ = app.store.set_stage(id, app::Stage::Solving.describe());
            run_simulation(app, &job)
        }
        Kind::Sites => {
            let req: SitesRequest = serde_json::from_str(&text).map_err(unreadable)?;
            let _ = app.store.set_stage(id, app::Stage::Solving.describe());
            run_sites(app, id, &req).map(Output::Files)
        }
    }
}

/// The most options one site choice may take.
pub const MAX_OPEN: usize = 50;

/// A site choice's inputs written as the files `catchment sites` reads, into `dir`, and read
/// as it reads them (so its messages are the CLI's, naming the file and line).
pub fn sites_input(
    dir: &std::path::Path,
    req: &SitesRequest,
) -> Result<(crate::sites::SitesInput, crate::sites::Method), ApiError> {
    use crate::sites::Method;
    let bad = |field: &str, m: String| {
        ApiError::from_library(Error::input("request", None, Some(field), m))
    };
    let method = match req.method.as_deref().unwrap_or("auto") {
        "auto" => Method::Auto,
        "exact" => Method::Exact,
        "heuristic" => Method::Heuristic,
        other => return Err(bad("method", format!("'{other}': give auto, exact or heuristic"))),
    };
    let objective = match req.objective.as_deref().unwrap_or("walk") {
        "walk" => crate::sites::Objective::Walk,
        "longest" => crate::sites::Objective::Longest,
        other => return Err(bad("objective", format!("'{other}': give walk or longest"))),
    };
    if req.close.is_some() && req.closures.is_none() {
        return Err(bad("close", "a number of closures needs 'closures'".to_string()));
    }
    if req.open > MAX_OPEN {
        return Err(bad("open", format!("{} is more than {MAX_OPEN}", req.open)));
    }
    if req.candidates.is_some() != req.candidate_matrix.is_some() {
        return Err(bad(
            "candidates",
            "give 'candidates' and 'candidate_matrix' together".to_string(),
        ));
    }
    if let Some(bad_label) = req.cohorts.keys().find(|l| {
        l.is_empty()
            || l.len() > 60
            || !l.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    }) {
        return Err(bad(
            "cohorts",
            format!("label '{bad_label}': letters, digits, '-' and '_' only"),
        ));
    }
    let io =
        |e: std::io::Error| ApiError::internal(&format!("writing the site choice's files: {e}"));
    let write = |name: &str, text: &str| -> Result<std::path::PathBuf, ApiError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io)?;
        Ok(path)
    };
    std::fs::create_dir_all(dir.join("cohorts")).map_err(io)?;
    let schools = write("schools.csv", &req.schools)?;
    let pupils = write("pupils.csv", &req.pupils)?;
    let matrix = match &req.matrix {
        Some(t) => Some(write("matrix.csv", t)?),
        None => None,
    };
    let candidates = match (&req.candidates, &req.candidate_matrix) {
        (Some(c), Some(cm)) => {
            Some((write("candidates.csv", c)?, write("candidate-matrix.csv", cm)?))
        }
        _ => None,
    };
    let extensions = match &req.extensions {
        Some(t) => Some(write("extensions.csv", t)?),
        None => None,
    };
    let closures = match &req.closures {
        Some(t) => Some(write("closures.csv", t)?),
        None => None,
    };
    let cohorts = req
        .cohorts
        .iter()
        .map(|(label, text)| write(&format!("cohorts/{label}.csv"), text))
        .collect::<Result<Vec<_>, _>>()?;
    let mut input = crate::sites::load_inputs(
        &schools,
        &pupils,
        matrix.as_deref(),
        candidates.as_ref().map(|(c, cm)| (c.as_path(), cm.as_path())),
        crate::sites::Options {
            extensions: extensions.as_deref(),
            closures: closures.as_deref(),
            close: req.close,
        },
        &cohorts,
    )
    .map_err(ApiError::from_library)?;
    input.max_walk = req.max_walk;
    input.objective = objective;
    Ok((input, method))
}

/// A site choice, as `catchment sites` makes it, in the work directory (removed after); its
/// output files (`sites.csv`, `sites.md`, `sites.geojson`, `sites.html`, `plans/k<N>/...`).
fn run_sites(app: &App, id: &str, req: &SitesRequest) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let mut files = in_scratch(app, &format!("sites-{id}"), |input, out| {
        let (sites_in, method) = sites_input(input, req)?;
        let open = req.open;
        crate::sites::choose(&sites_in, open, req.budget, method, req.mip_seconds.unwrap_or(120))
            .and_then(|sites| sites.write(out))
            .map_err(ApiError::from_library)
    })?;
    files.retain(|(n, _)| !n.ends_with(crate::instance::OUTPUT_MARKER));
    Ok(files)
}

/// Run `work(input, out)` in a scratch directory `name` of the work directory (made afresh,
/// removed after, whatever happens): its output files, by path relative to `out`.
fn in_scratch(
    app: &App,
    name: &str,
    work: impl FnOnce(&std::path::Path, &std::path::Path) -> Result<(), ApiError>,
) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let root = app.work_dir.join(name);
    let (input, out) = (root.join("in"), root.join("out"));
    let _ = std::fs::remove_dir_all(&root);
    let result = work(&input, &out).and_then(|_| {
        let mut files = Vec::new();
        collect(&out, "", &mut files)
            .map_err(|e| ApiError::internal(&format!("reading the outputs: {e}")))?;
        Ok(files)
    });
    let _ = std::fs::remove_dir_all(&root);
    result
}

/// The pipeline of a plan job, as `catchment solve` runs it.
fn run_plan(app: &App, id: &str, loaded: Loaded) -> Result<Artefacts, ApiError> {
    let stage = |s: app::Stage| {
        if s != app::Stage::Reading {
            let _ = app.store.set_stage(id, s.describe());
        }
    };
    let result = loaded.solve(&stage).map_err(ApiError::from_library)?;
    let dir = app.work_dir.join(id);
    let read = |name: &str| std::fs::read(dir.join(name));
    let result =
        result.write(&loaded, &dir, &stage).map_err(ApiError::from_library).and_then(|_| {
            let mut files = Vec::new();
            for name in PUBLISHED.iter().chain(&KEPT) {
                if dir.join(name).exists() {
                    files.push((
                        name.to_string(),
                        read(name).map_err(|e| ApiError::internal(&format!("job {id}: {e}")))?,
                    ));
                }
            }
            Ok(Artefacts {
                summary: read("summary.json")
                    .map_err(|e| ApiError::internal(&format!("job {id}: {e}")))?,
                assignments: read("assignments.csv")
                    .map_err(|e| ApiError::internal(&format!("job {id}: {e}")))?,
                schools: read("schools.csv")
                    .map_err(|e| ApiError::internal(&format!("job {id}: {e}")))?,
                certificate: read("certificate.json")
                    .map_err(|e| ApiError::internal(&format!("job {id}: {e}")))?,
                files,
            })
        });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Every file under `dir`, by its path relative to `dir` (with `/`).
fn collect(
    dir: &std::path::Path,
    prefix: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.file_type()?.is_dir() {
            collect(&e.path(), &format!("{name}/"), out)?;
        } else {
            out.push((name, std::fs::read(e.path())?));
        }
    }
    Ok(())
}

/// Write a scenario set's file (`scenarios.toml`) and the files it names into `input`.
pub fn write_scenario_inputs(
    input: &std::path::Path,
    req: &ScenarioSetRequest,
) -> std::io::Result<()> {
    std::fs::create_dir_all(input)?;
    for (name, text) in &req.files {
        std::fs::write(input.join(name), text)?;
    }
    std::fs::write(input.join("scenarios.toml"), &req.scenarios)
}

/// A scenario set, as `catchment batch` runs it, in the work directory (removed after); its
/// output files.
fn run_scenarios(
    app: &App,
    id: &str,
    req: &ScenarioSetRequest,
) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    in_scratch(app, &format!("scenarios-{id}"), |input, out| {
        write_scenario_inputs(input, req)
            .map_err(|e| ApiError::internal(&format!("writing its files: {e}")))?;
        crate::scenario::batch(&input.join("scenarios.toml"), out, 1)
            .map(|_| ())
            .map_err(ApiError::from_library)
    })
}

/// The most draws one simulation may ask for.
pub const MAX_DRAWS: usize = 200_000;

/// A simulation's model and options: the request's fields, the defaults of `catchment
/// simulate` for those it leaves out.
pub fn simulation_params(
    req: &SimulationRequest,
) -> Result<(crate::report::simulate::Model, crate::report::simulate::Options), ApiError> {
    use crate::report::simulate;
    let model = simulate::Model {
        move_prob: req.move_prob.unwrap_or(simulate::DEFAULT_MOVE_PROB),
        cohort_change: req.cohort_change.unwrap_or(0.0),
        cohort_sd: req.cohort_sd.unwrap_or(simulate::DEFAULT_COHORT_SD),
    };
    let opts = simulate::Options {
        draws: req.draws.unwrap_or(simulate::DEFAULT_DRAWS),
        seed: req.seed.unwrap_or(simulate::DEFAULT_SEED),
        target: req.target.unwrap_or(simulate::DEFAULT_TARGET),
    };
    if opts.draws > MAX_DRAWS {
        return Err(ApiError::new(
            "invalid_input",
            &format!("simulation parameter draws: {} is more than {MAX_DRAWS}", opts.draws),
        ));
    }
    Ok((model, opts))
}

/// The schools of a stored plan as the simulation reads them: its `schools.csv`,
/// `assignments.csv` and `districts.csv`.
pub fn simulation_inputs(
    app: &App,
    plan: &str,
) -> Result<Vec<crate::report::simulate::SchoolInput>, ApiError> {
    let read = |which: Artefact| match app.store.artefact(plan, which) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(ApiError::new("not_found", &format!("plan {plan} is not stored"))),
        Err(e) => Err(ApiError::store("reading the plan", &e)),
    };
    let (schools, assignments) = (read(Artefact::Schools)?, read(Artefact::Assignments)?);
    let districts = match app.store.plan_file(plan, "districts.csv") {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Err(ApiError::new(
                "invalid_input",
                &format!(
                    "plan {plan} has no districts.csv: submit the plan with 'blocks' (the city's \
                     blocks with residents) to simulate it"
                ),
            ))
        }
        Err(e) => return Err(ApiError::store("reading plan file", &e)),
    };
    crate::report::simulate_files::plan_inputs(&schools, &assignments, &districts)
        .map_err(ApiError::from_library)
}

/// A simulation of a stored plan, as `catchment simulate` runs it.
fn run_simulation(app: &App, job: &SimulationJob) -> Result<Output, ApiError> {
    use crate::report::{simulate, simulate_files};
    let (model, opts) = simulation_params(&job.request)?;
    let schools = simulation_inputs(app, &job.plan)?;
    let invalid = |m: String| ApiError::new("invalid_input", &m);
    let sim =
        simulate::simulate(&schools, &model, &opts, &|_| ()).map_err(|e| invalid(e.to_string()))?;
    Ok(Output::Simulation {
        plan_id: job.plan.clone(),
        json: simulate_files::simulation_json(&sim).map_err(ApiError::from_library)?,
        csv: simulate_files::simulation_csv(&sim).map_err(ApiError::from_library)?,
    })
}

/// Check that plan files can be written into the work directory: it is (re)created and a probe
/// file written and removed.
pub fn work_dir_writable(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // A name of its own per check: checks run concurrently (readiness, job starts).
    let probe = dir.join(format!(".probe-{:016x}", rand::random::<u64>()));
    std::fs::write(&probe, b"probe")?;
    std::fs::remove_file(&probe)
}

/// Whether the service can take work: the work directory and the database can be written.
/// `Err` holds the reason (for `/readyz`; it names no path).
pub fn ready(app: &App) -> Result<(), String> {
    work_dir_writable(&app.work_dir).map_err(|e| {
        tracing::warn!(dir = %app.work_dir.display(), "work directory not writable: {e}");
        format!("the work directory next to the database cannot be written: {e}")
    })?;
    app.store.probe_write().map_err(|e| {
        tracing::warn!(db = %app.cfg.target().shown(), "database not writable: {e}");
        format!("the database cannot be written: {e}")
    })?;
    match app.store.migrations_current() {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "the database's schema is not this build's (version {}): run catchment db migrate",
            super::db::latest()
        )),
        Err(e) => Err(format!("the database's schema version cannot be read: {e}")),
    }
}

/// A job's start: a solve permit taken at submission and the input validated then, so the job
/// runs at once without reading its request again.
pub type Ready = (tokio::sync::OwnedSemaphorePermit, Loaded);

/// The end of a lease taken or renewed now, in Unix milliseconds.
pub fn lease_until(app: &App) -> i64 {
    store::now_ms() + lease_ms(app)
}

fn lease_ms(app: &App) -> i64 {
    (app.cfg.lease_seconds.max(1) * 1000) as i64
}

/// Queue a job: it waits for a solve slot (unless `ready` brings one), runs on a blocking
/// thread and stores its result. A job that waits holds nothing in memory but its id: it reads
/// its stored request when it starts. `done` (for `?wait=true`) hears how it ended; it is
/// dropped unheard when the service shuts down before the job ends (the job stays queued in the
/// store and is resumed at the next start).
pub fn spawn(
    app: Arc<App>,
    id: String,
    ready: Option<Ready>,
    done: Option<oneshot::Sender<Outcome>>,
) {
    tokio::spawn(async move {
        let mut failed_starts = 0u32;
        let mut ready = ready;
        let (permit, cancel, loaded) = loop {
            let (permit, loaded) = match ready.take() {
                Some((permit, loaded)) => (permit, Some(loaded)),
                None => match app.solves.clone().acquire_owned().await {
                    Ok(permit) => (permit, None),
                    Err(_) => return,
                },
            };
            let cancel = Cancel::new();
            {
                // Registered under the lock the shutdown takes to raise its flag: either the
                // shutdown waits for this job, or the job stays queued for the next start.
                let mut running = app.running.lock().unwrap_or_else(|e| e.into_inner());
                if app.shutting_down.load(SeqCst) {
                    return;
                }
                running.insert(id.clone(), cancel.clone());
            }
            let unregister = |app: &App| {
                app.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                app.idle.notify_waiters();
            };
            let reason = match work_dir_writable(app.work_dir.as_path()) {
                Err(e) => format!("the work directory cannot be written: {e}"),
                Ok(()) => match app.store.start_job(&id, &app.node, lease_until(&app)) {
                    Ok(Some(_attempt)) => break (permit, cancel, loaded),
                    // Not queued (any more): nothing to do.
                    Ok(None) => return unregister(&app),
                    Err(e) => format!("the database cannot be written: {e}"),
                },
            };
            unregister(&app);
            drop((permit, loaded));
            failed_starts += 1;
            if failed_starts > app.cfg.start_retries {
                tracing::error!(job = %id, tries = failed_starts, "the job could not start: {reason}");
                let e = ApiError::new(
                    "unavailable",
                    &format!(
                        "the service could not start this job ({failed_starts} tries): its \
                         store cannot be written (the operator sees why in the log and at \
                         /readyz); submit it again once /readyz answers 200"
                    ),
                );
                if let Err(err) =
                    app.store.fail_job(&id, None, &serde_json::to_string(&e).unwrap_or_default())
                {
                    tracing::error!(job = %id, "the job stays queued until the next start: {err}");
                }
                app.metrics.jobs_failed.fetch_add(1, Relaxed);
                if let Some(tx) = done {
                    let _ = tx.send(Outcome::Failed(e));
                }
                return;
            }
            let wait = 1u64 << (failed_starts - 1).min(5);
            tracing::warn!(job = %id, retry_in_s = wait.min(30), "the job could not start: {reason}");
            tokio::time::sleep(std::time::Duration::from_secs(wait.min(30))).await;
        };
        execute(app, id, permit, cancel, loaded, done).await
    });
}

/// Start a job just stored and, with `wait`, wait for its end until `budget` runs out. A node
/// that runs its own jobs (`--role all`) spawns it here (at once with `ready`, a solve permit
/// and the validated plan request); otherwise a worker claims it from the database and its row
/// is polled. `Some(Ok(()))`: done in time; `Some(Err(e))`: failed with this answer; `None`:
/// still queued or running (the answer says where to look).
pub async fn start(
    app: &Arc<App>,
    id: &str,
    ready: Option<Ready>,
    wait: bool,
    budget: std::time::Duration,
) -> Option<Result<(), ApiError>> {
    if app.cfg.role == super::config::Role::All {
        let (tx, rx) = if wait {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        spawn(app.clone(), id.to_string(), ready, tx);
        // Answer before the request timeout cuts the connection.
        return match tokio::time::timeout(budget, rx?).await {
            Ok(Ok(Outcome::Done)) => Some(Ok(())),
            Ok(Ok(Outcome::Failed(e))) => Some(Err(e)),
            _ => None,
        };
    }
    // A worker claims the job from the database and reads its stored request.
    drop(ready);
    if !wait {
        return None;
    }
    let deadline = tokio::time::Instant::now() + budget;
    let poll = std::time::Duration::from_millis(app.cfg.poll_ms.max(10));
    while tokio::time::Instant::now() + poll < deadline {
        tokio::time::sleep(poll).await;
        let (a, i) = (app.clone(), id.to_string());
        match tokio::task::spawn_blocking(move || a.store.job(&i)).await {
            Ok(Ok(Some(j))) if j.state == "done" => return Some(Ok(())),
            Ok(Ok(Some(j))) if j.state == "failed" => {
                return j
                    .error
                    .as_deref()
                    .and_then(|t| serde_json::from_str::<ApiError>(t).ok())
                    .map(Err)
            }
            // The database is away for a moment: the answer says where to look.
            _ => {}
        }
    }
    None
}

/// Renew this node's lease on job `id` every third of the lease until aborted; when another
/// worker has taken the job over, raise its flag (the solve stops at its next cancellation
/// point; its result would not be stored anyway).
fn heartbeat(app: Arc<App>, id: String, cancel: Cancel) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = std::time::Duration::from_millis((lease_ms(&app) / 3).max(100) as u64);
        loop {
            tokio::time::sleep(every).await;
            let (a, i) = (app.clone(), id.clone());
            let renewed = tokio::task::spawn_blocking(move || {
                a.store.heartbeat(&i, &a.node, lease_until(&a))
            })
            .await;
            match renewed {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    // Not held any more: ended (this node may have just stored it, the beat
                    // not yet stopped), or taken over by another worker.
                    let (a, i) = (app.clone(), id.clone());
                    let row = tokio::task::spawn_blocking(move || a.store.job(&i)).await;
                    let ended =
                        matches!(&row, Ok(Ok(Some(j))) if j.state == "done" || j.state == "failed");
                    if !ended {
                        tracing::warn!(job = %id, "the lease was lost: another worker has the job now");
                        cancel.cancel();
                    }
                    return;
                }
                Ok(Err(e)) => tracing::warn!(job = %id, "renewing the lease: {e}"),
                Err(_) => return,
            }
        }
    })
}

/// Run a started job (held by this node, registered in `running` with `cancel`) and store
/// its result.
async fn execute(
    app: Arc<App>,
    id: String,
    permit: tokio::sync::OwnedSemaphorePermit,
    cancel: Cancel,
    loaded: Option<Loaded>,
    done: Option<oneshot::Sender<Outcome>>,
) {
    let _permit = permit;
    app.metrics.solves_running.fetch_add(1, Relaxed);
    let started = std::time::Instant::now();
    let beat = heartbeat(app.clone(), id.clone(), cancel.clone());
    let app2 = app.clone();
    let id2 = id.clone();
    let flag = cancel.clone();
    let result = tokio::task::spawn_blocking(move || flag.scope(|| run(&app2, &id2, loaded))).await;
    app.metrics.job_done(started.elapsed());
    app.metrics.solves_running.fetch_sub(1, Relaxed);
    let stopped = match &result {
        // Finished work is kept, even when the flag was raised as it finished.
        Ok(Ok(_)) => false,
        // The store was away when the job read its request: back to the queue.
        Ok(Err(e)) if e.error == "unavailable" => true,
        Ok(Err(_)) => cancel.is_cancelled(),
        Err(e) => e.is_cancelled(),
    };
    if stopped {
        beat.abort();
        // Stopped at the grace (or the runtime is going, or the lease was lost, or the store
        // was away): the job runs again, its attempt not counted. Whoever takes it out of
        // `running` requeues it (a no-op when another worker holds it now; when the store is
        // still away, the lease runs out and another worker takes the job over).
        let mine = app.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id).is_some();
        if mine {
            if app.shutting_down.load(SeqCst) {
                tracing::warn!(job = %id, "stopped at the grace; back in the queue");
            } else {
                tracing::warn!(job = %id, "stopped; back in the queue");
            }
            let _ = app.store.requeue(&id, Some(&app.node), true);
        }
        app.idle.notify_waiters();
        return;
    }
    if app.shutting_down.load(SeqCst)
        && !app.running.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&id)
    {
        // The shutdown gave up on this job and put it back in the queue.
        beat.abort();
        return;
    }
    let outcome = match result {
        Ok(Ok(output)) => store_output(&app, &id, output).await,
        Ok(Err(e)) => Some(Outcome::Failed(e)),
        Err(_) => {
            Some(Outcome::Failed(ApiError::internal(&format!("job {id}: the solve panicked"))))
        }
    };
    beat.abort();
    match &outcome {
        Some(Outcome::Failed(e)) => {
            // Stored for read tokens to see: without pupil-level detail.
            let stored = e.clone().public();
            let _ = app.store.fail_job(
                &id,
                Some(&app.node),
                &serde_json::to_string(&stored).unwrap_or_default(),
            );
            app.metrics.jobs_failed.fetch_add(1, Relaxed);
        }
        Some(Outcome::Done) => {
            app.metrics.jobs_done.fetch_add(1, Relaxed);
        }
        None => {}
    }
    app.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    app.idle.notify_waiters();
    if let (Some(tx), Some(outcome)) = (done, outcome) {
        let _ = tx.send(outcome);
    }
}

/// Store a finished job's output. While the database cannot be reached (it restarts), try
/// again for up to a lease, the lease renewed meanwhile; then leave the job to be taken over.
/// `None`: not stored (another worker has the job, or the database stayed away).
async fn store_output(app: &Arc<App>, id: &str, output: Output) -> Option<Outcome> {
    let artefacts = Arc::new(output);
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(lease_ms(app) as u64);
    loop {
        let (a, i, art) = (app.clone(), id.to_string(), artefacts.clone());
        match tokio::task::spawn_blocking(move || a.store.finish_job(&i, &a.node, &art)).await {
            Ok(Ok(true)) => return Some(Outcome::Done),
            Ok(Ok(false)) => {
                tracing::warn!(job = %id, "finished, but another worker has the job now: not stored");
                return None;
            }
            Ok(Err(e)) if e.is_connection() && std::time::Instant::now() < deadline => {
                tracing::warn!(job = %id, "storing the plan: {e}; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Ok(Err(e)) if e.is_connection() => {
                tracing::error!(job = %id, "storing the plan: {e}; left to be taken over");
                return None;
            }
            Ok(Err(e)) => {
                return Some(Outcome::Failed(ApiError::internal(&format!(
                    "job {id}: storing the plan: {e}"
                ))))
            }
            Err(_) => {
                return Some(Outcome::Failed(ApiError::internal(&format!(
                    "job {id}: storing the plan panicked"
                ))))
            }
        }
    }
}

/// The answer stored with a job whose worker died `max_attempts` times.
fn interrupted(attempts: u32, max_attempts: u32) -> ApiError {
    ApiError::new(
        "interrupted",
        &format!(
            "the service stopped while this job was running ({attempts} of at most \
             {max_attempts} attempts); it was not resumed: submit it again"
        ),
    )
}

/// Several nodes on one database (`--role worker`, or `all` on PostgreSQL): whenever a solve
/// slot is free, claim the oldest job from the database — a queued one, or one whose worker's
/// lease ran out (taken over; failed instead after `--max-attempts` starts) — and run it.
/// `--role all` leaves the jobs it was given itself and claims queued jobs only once they
/// have waited a lease (their node is gone).
pub async fn claim_loop(app: Arc<App>) {
    let poll = std::time::Duration::from_millis(app.cfg.poll_ms.max(10));
    let failure =
        serde_json::to_string(&interrupted(app.cfg.max_attempts, app.cfg.max_attempts).public())
            .unwrap_or_default();
    loop {
        let Ok(permit) = app.solves.clone().acquire_owned().await else { return };
        if app.shutting_down.load(SeqCst) {
            return;
        }
        if let Err(e) = work_dir_writable(&app.work_dir) {
            tracing::warn!(dir = %app.work_dir.display(), "not claiming jobs: the work directory cannot be written: {e}");
            drop(permit);
            tokio::time::sleep(poll * 10).await;
            continue;
        }
        let queued_before = match app.cfg.role {
            super::config::Role::All => store::now() - app.cfg.lease_seconds as i64,
            _ => i64::MAX,
        };
        let (a, f) = (app.clone(), failure.clone());
        let claimed = tokio::task::spawn_blocking(move || {
            a.store.claim_job(&a.node, lease_ms(&a), queued_before, a.cfg.max_attempts, &f)
        })
        .await;
        let claim = match claimed {
            Ok(Ok((claim, failed))) => {
                for id in failed {
                    tracing::warn!(job = %id, "its lease ran out after the last attempt: failed");
                    app.metrics.jobs_failed.fetch_add(1, Relaxed);
                }
                claim
            }
            Ok(Err(e)) => {
                tracing::warn!("claiming a job: {e}");
                None
            }
            Err(_) => return,
        };
        let Some(claim) = claim else {
            drop(permit);
            tokio::time::sleep(poll).await;
            continue;
        };
        if claim.taken_over {
            tracing::warn!(job = %claim.id, attempt = claim.attempts, "taken over: its worker's lease ran out");
            app.metrics.jobs_taken_over.fetch_add(1, Relaxed);
        } else {
            tracing::info!(job = %claim.id, attempt = claim.attempts, "job claimed");
        }
        let cancel = Cancel::new();
        {
            let mut running = app.running.lock().unwrap_or_else(|e| e.into_inner());
            if app.shutting_down.load(SeqCst) {
                drop(running);
                let _ = app.store.requeue(&claim.id, Some(&app.node), true);
                return;
            }
            running.insert(claim.id.clone(), cancel.clone());
        }
        tokio::spawn(execute(app.clone(), claim.id, permit, cancel, None, None));
    }
}

/// At start: resume every job an earlier run left unfinished, or fail it with the reason when
/// it was interrupted `max_attempts` times.
pub fn resume(app: &Arc<App>) -> store::DbResult<()> {
    for (id, state, attempts) in app.store.unfinished()? {
        if state == "running" && attempts >= app.cfg.max_attempts {
            let e = interrupted(attempts, app.cfg.max_attempts);
            tracing::warn!(job = %id, attempts, "interrupted job failed");
            app.store.fail_job(&id, None, &serde_json::to_string(&e).unwrap_or_default())?;
            continue;
        }
        if state == "running" {
            app.store.requeue(&id, None, false)?;
        }
        tracing::info!(job = %id, "resuming job");
        app.metrics.jobs_resumed.fetch_add(1, Relaxed);
        spawn(app.clone(), id, None, None);
    }
    Ok(())
}
