//! The application layer: one request for a plan, loaded from files (the CLI) or from a
//! request body (the HTTP service), solved and written the same way by both shells, so every
//! capability of `catchment solve` exists over HTTP and the other way round.
//!
//! A [`PlanRequest`] names its inputs as [`Source`]s; [`PlanRequest::load`] reads and
//! validates them into a [`Loaded`] request (the values the pipeline works on);
//! [`Loaded::solve`] runs the one solve step ([`crate::solve_plan`], stability included) and
//! builds the comparison for the report page; [`PlanResult::write`] writes the plan directory.

use crate::districts::publish::City;
use crate::error::{Error, Result};
use crate::instance::{self, table, Instance};
use crate::report::html::Comparison;
use crate::report::routing_check::Excluded;
use crate::report::{baseline, summarize, Summary};
use crate::routing::{self, Matrix};
use crate::stability::{self, Rule, Stability, StabilityReport};
use crate::{Plan, Policy, Unit};
use std::path::{Path, PathBuf};

/// Where one input comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file: CSV, or GeoJSON when the name ends in `.geojson`/`.json` (schools, pupils,
    /// streets), or OSM (`.osm`, `.osm.pbf`) for streets.
    Path(PathBuf),
    /// Text given in a request (CSV; GeoJSON for streets); `name` labels its messages
    /// (e.g. `pupils.csv`).
    Text {
        /// The label of the input in messages.
        name: String,
        /// The input's text.
        text: String,
    },
    /// Bytes given in a request (a binary matrix file); `name` labels its messages.
    Bytes {
        /// The label of the input in messages.
        name: String,
        /// The input's bytes.
        bytes: Vec<u8>,
    },
    /// An array of objects with the CSV's columns as fields (schools and pupils).
    Objects {
        /// The label of the input in messages.
        name: String,
        /// One object per row, its fields named like the CSV's columns.
        items: Vec<serde_json::Map<String, serde_json::Value>>,
    },
}

impl Source {
    /// The name messages use for this input.
    pub fn label(&self) -> String {
        match self {
            Source::Path(p) => instance::file_name(p),
            Source::Text { name, .. }
            | Source::Bytes { name, .. }
            | Source::Objects { name, .. } => name.clone(),
        }
    }

    fn bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>> {
        match self {
            Source::Path(p) => crate::instance::read_input(p).map(Into::into),
            Source::Text { text, .. } => Ok(text.as_bytes().into()),
            Source::Bytes { bytes, .. } => Ok(bytes.as_slice().into()),
            Source::Objects { name, .. } => Err(Error::input(
                name,
                None,
                None,
                "give this input as text (CSV, or GeoJSON), not as an array of objects",
            )),
        }
    }

    /// The input as text (GeoJSON, CSV): a file read as UTF-8, or the request's text.
    fn text(&self) -> Result<String> {
        String::from_utf8(self.bytes()?.into_owned())
            .map_err(|_| Error::input(&self.label(), None, None, "not valid UTF-8 text"))
    }

    fn table(&self, what: &str, personal: bool, required: &[&str]) -> Result<table::Table> {
        match self {
            Source::Objects { name, items } => {
                let mut t = table::from_objects(name, items, personal, required)?;
                t.file = format!("{what} item");
                Ok(t)
            }
            Source::Path(p) if is_geojson(p) => {
                table::from_geojson(&self.label(), &self.bytes()?, personal)
            }
            _ => {
                let bytes = self.bytes()?;
                // A plan's schools.csv reads back as schools (`school_id` for `id`).
                let required =
                    if what == "schools" { instance::school_required(&bytes) } else { required };
                table::read_table(&self.label(), &bytes, required, personal)
            }
        }
    }
}

fn is_geojson(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("geojson") | Some("json"))
}

/// Where the walking distances come from.
#[derive(Debug, Clone)]
pub enum Distances {
    /// A long matrix `pupil_id,school_id,meters[,seconds]` (or keyed by block), or a binary
    /// matrix file (told apart by content).
    Matrix(Source),
    /// An OSRM server (geocoding street addresses first when an extract is given).
    #[cfg(feature = "osm")]
    Osrm(routing::OsrmSource),
}

/// Last year's districts and the rule that keeps the plan close to them.
#[derive(Debug, Clone)]
pub struct StabilitySpec {
    /// CSV `block_id,school_id`.
    pub previous: Source,
    /// How strongly last year's districts are kept.
    pub rule: Rule,
}

/// The city's blocks, for districts published for every block.
#[derive(Debug, Clone)]
pub struct CitySpec {
    /// CSV `block_id,lat,lon[,residents][,street,house_number]`.
    pub blocks: Source,
    /// Walks from every block to every school; default: the plan's matrix (then keyed by
    /// block).
    pub block_matrix: Option<Source>,
    /// Named streets for the street list of grid blocks (OSM or GeoJSON lines).
    pub streets: Option<Source>,
    /// The area the districts divide (GeoJSON polygons, e.g. the city boundary); without one,
    /// the blocks with a margin.
    pub area: Option<Source>,
    /// Blocks whose walks are not trusted (CSV with a `block_id` column, e.g. a plan's
    /// `routing-check.csv`): left out of the published districts, their pupils left out of the
    /// plan unless they have a fixed school.
    pub exclude_blocks: Option<Source>,
}

/// What the report page compares the plan with.
#[derive(Debug, Clone, Default)]
pub struct CompareSpec {
    /// The hand-drawn proxy (nearest school by straight line, border blocks moved).
    pub proxy: bool,
    /// Given districts (CSV `block_id,school_id`), evaluated on the same walks.
    pub districts: Option<Source>,
}

/// One request for a plan: what `catchment solve` takes as flags and `POST /v1/plans` as
/// fields.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The schools: CSV or GeoJSON (columns `id`, `lat`, `lon`, ...), or objects.
    pub schools: Source,
    /// The pupils: CSV or GeoJSON (an `id` column, ...), or objects.
    pub pupils: Source,
    /// Where the walking distances come from.
    pub distances: Distances,
    /// Objective and rules of the run.
    pub policy: Policy,
    /// Last year's districts to stay close to, if any.
    pub stability: Option<StabilitySpec>,
    /// The city's blocks, for districts published for every block.
    pub city: Option<CitySpec>,
    /// What the report page compares the plan with.
    pub compare: CompareSpec,
    /// Blocks fixed to a school (CSV `block_id,school_id`): their pupils are fixed there and
    /// the rest is optimised around them.
    pub pins: Option<Source>,
}

/// A stage of a plan request, reported to the shell's progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and validating the input files.
    Reading,
    /// Computing walking distances (OSRM); skipped for a given matrix.
    Routing,
    /// Solving for the plan.
    Solving,
    /// Writing the plan directory.
    Writing,
}

impl Stage {
    /// Every stage in order.
    pub const ALL: [Stage; 4] = [Stage::Reading, Stage::Routing, Stage::Solving, Stage::Writing];

    /// The stage in words (also the HTTP job's `progress.stage`).
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Reading => "reading input",
            Stage::Routing => "routing",
            Stage::Solving => "solving",
            Stage::Writing => "writing artefacts",
        }
    }
}

/// A request read and validated: the values the pipeline works on.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The schools and pupils.
    pub inst: Instance,
    /// Walking meters from every pupil to every school.
    pub matrix: Matrix,
    /// The policy, with whole blocks set when a cap on changed blocks asks for them.
    pub policy: Policy,
    /// Last year's districts and their rule, if given.
    pub stability: Option<Stability>,
    /// The city's blocks with their walks and streets, if given.
    pub city: Option<City>,
    /// The proxy baseline is wanted on the report page.
    pub compare_proxy: bool,
    /// Given districts to compare with: a label and every pupil's school.
    pub compare_districts: Option<(String, Vec<u32>)>,
    /// Blocks left out because their walks are not trusted, and their pupils.
    pub excluded: Option<Excluded>,
    /// With walks routed here (OSRM): the plan directory keeps the pupil matrix and the block
    /// matrix it was solved with (internal files), so `check` needs no routing.
    pub walks: Option<crate::output::StoredWalks>,
    /// Pins: the blocks fixed to a school, and the instance without them (what the pins cost
    /// is measured against its optimum). `inst` has the pins applied.
    pub pins: Option<Pinned>,
    /// With OSRM and `nearest`: the plan solved while routing only the pairs it needed
    /// (`matrix` then holds exactly those pairs). Solving takes it as it is.
    pub routed: Option<Plan>,
}

/// A request's pins and the instance without them.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The pins, by block id.
    pub pins: Vec<crate::districts::pins::Pin>,
    /// Pupils fixed by the pins.
    pub pupils: usize,
    /// The instance before the pins were applied.
    pub unpinned: Instance,
}

/// Read schools and pupils; problems of both files are reported together.
pub fn read_instance(schools: &Source, pupils: &Source) -> Result<Instance> {
    let s = schools
        .table("schools", false, instance::SCHOOL_REQUIRED)
        .and_then(|t| instance::schools_from_table(&t));
    let p = pupils
        .table("pupils", true, instance::PUPIL_REQUIRED)
        .and_then(|t| instance::pupils_from_table(&t, s.as_ref().ok().map(|v| v.as_slice())));
    match (s, p) {
        (Ok(s), Ok(p)) => Instance::new(s, p),
        (Err(Error::Input(mut a)), Err(Error::Input(b))) => {
            a.extend(b);
            Err(Error::Input(a))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// The walking distances of an instance; OSRM may geocode and leave pupils out (then the
/// instance returned is the one routed, and the ids left out are returned). A matrix file
/// whose `.meta.json` names pupils left out by geocoding leaves them out too. `partial`: a
/// matrix may leave pairs out (`--nearest`; [`Matrix::given`]).
pub fn distances(
    inst: Instance,
    d: &Distances,
    partial: bool,
) -> Result<(Instance, Matrix, Vec<String>)> {
    match d {
        Distances::Matrix(Source::Path(path)) => {
            let left_out = routing::matrix::read_meta(path)
                .map(|meta| [meta.left_out_ungeocoded, meta.left_out_excluded].concat())
                .unwrap_or_default();
            let inst = without_pupils(inst, &left_out)?;
            if !left_out.is_empty() {
                tracing::warn!(
                    pupils = left_out.len(),
                    "pupils left out: the matrix's .meta.json says their addresses could not be placed or their blocks were excluded"
                );
            }
            let m = routing::matrix::read_matrix_with(path, &inst, partial)?;
            Ok((inst, m, left_out))
        }
        Distances::Matrix(src) => {
            let mut m =
                routing::matrix::parse_matrix_with(&src.label(), &*src.bytes()?, &inst, partial)?;
            if m.source.is_empty() {
                m.source = format!("matrix file {} (in the request)", src.label());
            }
            Ok((inst, m, vec![]))
        }
        #[cfg(feature = "osm")]
        Distances::Osrm(osrm) => {
            let before = inst.clone();
            let (inst, m, _) = routing::osrm_matrix(inst, osrm)?;
            let left_out = left_out_ids(&before, &inst);
            Ok((inst, m, left_out))
        }
    }
}

/// The ids of `before`'s pupils that `after` no longer has (left out by geocoding).
pub fn left_out_ids(before: &Instance, after: &Instance) -> Vec<String> {
    if before.pupils.len() == after.pupils.len() {
        return vec![];
    }
    before
        .pupils
        .iter()
        .filter(|p| after.pupil_index(&p.id).is_none())
        .map(|p| p.id.clone())
        .collect()
}

/// The instance without the pupils `ids` (ids it does not have are ignored).
fn without_pupils(inst: Instance, ids: &[String]) -> Result<Instance> {
    if ids.is_empty() {
        return Ok(inst);
    }
    let drop: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let pupils = inst.pupils.iter().filter(|p| !drop.contains(p.id.as_str())).cloned().collect();
    Instance::new(inst.schools, pupils)
}

impl PlanRequest {
    /// Read and validate every input. A cap on changed blocks implies whole blocks.
    pub fn load(&self, stage: &dyn Fn(Stage)) -> Result<Loaded> {
        stage(Stage::Reading);
        self.policy.validate()?;
        let mut policy = self.policy.clone();
        let stability = match &self.stability {
            Some(spec) => {
                if let Rule::MaxChangedBlocks(_) = spec.rule {
                    policy.unit = Unit::Block;
                }
                let previous =
                    stability::previous_from_csv(&spec.previous.label(), &spec.previous.bytes()?)?;
                Some(Stability { previous, rule: spec.rule })
            }
            None => None,
        };
        crate::cancel::check()?;
        let inst = read_instance(&self.schools, &self.pupils)?;
        crate::cancel::check()?;
        if !matches!(self.distances, Distances::Matrix(_)) {
            stage(Stage::Routing);
        }
        // OSRM with `nearest`: routed pair by pair once the instance is final (below).
        #[cfg(feature = "osm")]
        let routed_nearest = match (&self.distances, policy.nearest) {
            (Distances::Osrm(osrm), Some(k)) => {
                crate::pipeline::nearest_applies(&policy, stability.is_some())?;
                Some((osrm, k))
            }
            _ => None,
        };
        #[cfg(feature = "osm")]
        let (inst, matrix, left_out) = match routed_nearest {
            Some((osrm, _)) => {
                let before = inst.clone();
                let inst = routing::geocode_instance(inst, osrm)?;
                let left_out = left_out_ids(&before, &inst);
                let empty = vec![Vec::new(); inst.pupils.len()];
                let m = Matrix::from_partial(
                    inst.schools.len(),
                    routing::PartialRows::from_rows(empty, true),
                    "OSRM (not routed yet)",
                );
                (inst, m, left_out)
            }
            None => distances(inst, &self.distances, policy.nearest.is_some())?,
        };
        #[cfg(not(feature = "osm"))]
        let (inst, matrix, left_out) = distances(inst, &self.distances, policy.nearest.is_some())?;
        tracing::info!(pupils = inst.pupils.len(), schools = inst.schools.len(), "instance read");
        crate::cancel::check()?;
        let (mut city, block_source) = match &self.city {
            Some(c) => {
                let (city, source) = self.read_city(c, &inst)?;
                (Some(city), source)
            }
            None => (None, String::new()),
        };
        let routed = !matches!(self.distances, Distances::Matrix(_));
        let walks = routed
            .then_some(crate::output::StoredWalks { left_out_ungeocoded: left_out, block_source });
        let (inst, matrix, excluded) =
            match (self.city.as_ref().and_then(|c| c.exclude_blocks.as_ref()), city.as_mut()) {
                (Some(src), Some(c)) => {
                    let ids = crate::districts::blocks::block_ids_from_csv(
                        &src.label(),
                        &src.bytes()?,
                        &c.blocks,
                    )?;
                    let (inst, matrix, excluded) = exclude_blocks(inst, matrix, c, &ids)?;
                    tracing::info!(
                        blocks = excluded.blocks,
                        pupils_left_out = excluded.pupils_left_out,
                        "blocks excluded"
                    );
                    (inst, matrix, Some(excluded))
                }
                _ => (inst, matrix, None),
            };
        crate::cancel::check()?;
        let compare_districts = match &self.compare.districts {
            Some(src) => {
                let assign = baseline::districts_from_csv(&src.label(), &src.bytes()?, &inst)?;
                Some((src.label(), assign))
            }
            None => None,
        };
        // Given districts are compared as given: read before the pins fix pupils.
        let (inst, pins) = match &self.pins {
            Some(src) => {
                let known: Vec<String> = city
                    .as_ref()
                    .map(|c| c.blocks.iter().map(|b| b.id.clone()).collect())
                    .unwrap_or_default();
                let pins = crate::districts::pins::pins_from_csv(
                    &src.label(),
                    &src.bytes()?,
                    &inst,
                    Some(&known),
                )?;
                let (pinned, pupils) = crate::districts::pins::apply(&inst, &pins);
                tracing::info!(blocks = pins.len(), pupils, "pins applied");
                (pinned, Some(Pinned { pins, pupils, unpinned: inst }))
            }
            None => (inst, None),
        };
        #[cfg(feature = "osm")]
        let (matrix, routed) = match routed_nearest {
            Some((osrm, k)) => {
                let (m, plan) = crate::pipeline::route_nearest(&inst, osrm, &policy, k)?;
                (m, Some(plan))
            }
            None => (matrix, None),
        };
        #[cfg(not(feature = "osm"))]
        let routed = None;
        Ok(Loaded {
            inst,
            matrix,
            policy,
            stability,
            city,
            compare_proxy: self.compare.proxy,
            compare_districts,
            excluded,
            walks,
            pins,
            routed,
        })
    }

    /// The city: its blocks and the walks from every block (the block matrix given, the
    /// matrix keyed by block, or routed here through OSRM, blocks given by address geocoded
    /// first), and where those walks come from.
    fn read_city(&self, c: &CitySpec, inst: &Instance) -> Result<(City, String)> {
        let (blocks, matrix, source) = match (&c.block_matrix, &self.distances) {
            (Some(m), _) | (None, Distances::Matrix(m)) => {
                let blocks = crate::districts::blocks::blocks_from_csv(
                    &c.blocks.label(),
                    &c.blocks.bytes()?,
                )?;
                let matrix =
                    crate::districts::parse_block_matrix(&m.label(), &*m.bytes()?, &inst.schools)?;
                let source = match m {
                    Source::Path(p) => routing::matrix::read_meta(p)
                        .map(|meta| meta.source)
                        .unwrap_or_else(|| format!("block matrix file {}", m.label())),
                    _ => format!("block matrix file {} (in the request)", m.label()),
                };
                (blocks, matrix, source)
            }
            #[cfg(feature = "osm")]
            (None, Distances::Osrm(osrm)) => {
                let inputs = crate::districts::blocks::block_inputs_from_csv(
                    &c.blocks.label(),
                    &c.blocks.bytes()?,
                )?;
                route_blocks(&c.blocks.label(), inputs, &inst.schools, osrm)?
            }
        };
        let streets = match &c.streets {
            None => None,
            // A file may be OSM (.osm, .osm.pbf) or GeoJSON; text in a request is OSM XML or
            // GeoJSON.
            Some(Source::Path(p)) => Some(crate::districts::streets::read_street_lines(p)?),
            Some(src) => {
                Some(crate::districts::streets::street_lines_from_text(&src.label(), &src.text()?)?)
            }
        };
        let area = match &c.area {
            None => None,
            Some(src) => {
                Some(crate::districts::area::area_from_geojson(&src.label(), &src.text()?)?)
            }
        };
        Ok((City { blocks, matrix, streets, area }, source))
    }
}

/// The city's blocks through OSRM: blocks given by address placed by the extract's address
/// index (unplaced ones fail the run, or are left out of the published districts when
/// ungeocoded pupils may be left out), then every block routed to every school. Returns the
/// blocks, their walks and where the walks come from.
#[cfg(feature = "osm")]
fn route_blocks(
    label: &str,
    mut inputs: Vec<crate::districts::blocks::BlockInput>,
    schools: &[instance::School],
    osrm: &routing::OsrmSource,
) -> Result<(Vec<crate::districts::blocks::Block>, crate::districts::BlockMatrix, String)> {
    use crate::error::{Hint, Setting};
    use routing::geocode::{GeocodeProblem, Located};
    let unplaced = inputs.iter().filter(|b| !b.located).count();
    if unplaced > 0 {
        let Some(index) = routing::address_index(osrm)? else {
            return Err(Error::Geocoding {
                message: format!(
                    "{label}: {unplaced} block(s) have no coordinates: give lat,lon, or street \
                     addresses and the OSM extract to geocode them"
                ),
                hint: Some(Hint::new(
                    "give the OSM extract the server was prepared from",
                    Some(Setting::Osm),
                )),
            });
        };
        let (mut unmatched, mut ambiguous) = (Vec::new(), Vec::new());
        let mut report = routing::geocode::GeocodeReport::default();
        for b in inputs.iter_mut().filter(|b| !b.located) {
            let (Some(street), Some(number)) = (&b.block.street, &b.block.house_number) else {
                unmatched.push(b.block.id.clone());
                report.problems.push((b.block.id.clone(), GeocodeProblem::NoAddress));
                continue;
            };
            let problem = match index.locate(street, number, None) {
                Located::Found { lat, lon, quality } => {
                    (b.block.lat, b.block.lon) = (lat, lon);
                    b.located = true;
                    report.geocoded += 1;
                    report.placed.push((b.block.id.clone(), quality));
                    continue;
                }
                Located::Ambiguous(places) => {
                    ambiguous.push(b.block.id.clone());
                    GeocodeProblem::Ambiguous(places)
                }
                Located::StreetNotFound { similar } => GeocodeProblem::StreetNotFound(similar),
                Located::NumberNotFound { nearest } => GeocodeProblem::NumberNotFound(nearest),
                Located::BadNumber => GeocodeProblem::BadNumber,
            };
            if !matches!(problem, GeocodeProblem::Ambiguous(_)) {
                unmatched.push(b.block.id.clone());
            }
            report.problems.push((b.block.id.clone(), problem));
        }
        tracing::info!("{label}: blocks {}", report.summary());
        let failed = unmatched.len() + ambiguous.len();
        if failed > 0 {
            // Blocks are public (addresses, grid cells): they are named.
            let shown: Vec<String> =
                unmatched.iter().chain(&ambiguous).take(10).map(|id| format!("'{id}'")).collect();
            let message = format!(
                "{label}: {failed} of {unplaced} block(s) given by address could not be placed \
                 ({} unmatched, {} ambiguous): {}{}",
                unmatched.len(),
                ambiguous.len(),
                shown.join(", "),
                if failed > shown.len() {
                    format!(" and {} more", failed - shown.len())
                } else {
                    String::new()
                }
            );
            if !osrm.skip_ungeocoded {
                return Err(Error::Geocoding {
                    message,
                    hint: Some(Hint::new(
                        "leave them out, or correct their addresses",
                        Some(Setting::SkipUngeocoded),
                    )),
                });
            }
            tracing::warn!("geocoding: {message}; they are left out of the published districts");
            inputs.retain(|b| b.located);
        }
    }
    let blocks: Vec<crate::districts::blocks::Block> =
        inputs.into_iter().map(|b| b.block).collect();
    let rows: Vec<(&str, routing::osrm::LatLon)> =
        blocks.iter().map(|b| (b.id.as_str(), (b.lat, b.lon))).collect();
    let (m, _) = routing::route_located(&rows, schools, osrm, "block")?;
    let matrix = crate::districts::BlockMatrix {
        blocks: blocks.iter().map(|b| b.id.clone()).collect(),
        n_schools: schools.len(),
        meters: m.meters,
    };
    Ok((blocks, matrix, m.source))
}

/// Leave the blocks `ids` out: out of the city (blocks and block matrix), and their pupils out
/// of the instance and the matrix unless they have a fixed school.
pub fn exclude_blocks(
    inst: Instance,
    matrix: Matrix,
    city: &mut City,
    ids: &std::collections::HashSet<String>,
) -> Result<(Instance, Matrix, Excluded)> {
    let mut block_ids: Vec<String> = ids.iter().cloned().collect();
    block_ids.sort();
    let mut excluded = Excluded { blocks: ids.len(), block_ids, ..Default::default() };
    let mut keep = Vec::with_capacity(inst.pupils.len());
    for (p, pupil) in inst.pupils.iter().enumerate() {
        match pupil.block.as_deref() {
            Some(b) if ids.contains(b) && pupil.fixed_school.is_none() => {
                excluded.pupils_left_out += 1;
                excluded.pupil_ids.push(pupil.id.clone());
            }
            Some(b) if ids.contains(b) => {
                excluded.pupils_kept_fixed += 1;
                keep.push(p);
            }
            _ => keep.push(p),
        }
    }
    let kept: Vec<usize> =
        (0..city.blocks.len()).filter(|&b| !ids.contains(&city.blocks[b].id)).collect();
    city.blocks = kept.iter().map(|&b| city.blocks[b].clone()).collect();
    let bm = &city.matrix;
    let rows: Vec<usize> = (0..bm.blocks.len()).filter(|&r| !ids.contains(&bm.blocks[r])).collect();
    city.matrix = crate::districts::BlockMatrix {
        blocks: rows.iter().map(|&r| bm.blocks[r].clone()).collect(),
        n_schools: bm.n_schools,
        meters: rows.iter().flat_map(|&r| bm.row(r).iter().copied()).collect(),
    };
    if keep.len() == inst.pupils.len() {
        return Ok((inst, matrix, excluded));
    }
    let matrix = matrix.select_rows(&keep);
    let pupils = keep.iter().map(|&p| inst.pupils[p].clone()).collect();
    Ok((Instance::new(inst.schools, pupils)?, matrix, excluded))
}

/// A plan solved from a request, ready to be written.
#[derive(Debug, Clone)]
pub struct PlanResult {
    /// The plan solved (the stable one, with stability).
    pub plan: Plan,
    /// With stability: changes against last year's districts and the price of stability.
    pub stability: Option<StabilityReport>,
    /// The comparison shown on the report page (with the city's blocks).
    pub comparison: Option<Comparison>,
    /// With whole street segments: what the rule cost against the plan without it.
    pub segments: Option<crate::districts::segments::SegmentReport>,
    /// With pins: what they cost against the optimum without them.
    pub pins: Option<crate::districts::pins::PinsReport>,
}

/// What writing a plan directory produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The `summary.json` written.
    pub summary: Summary,
    /// Why a published part is missing or differs (no street list without streets...).
    pub notes: Vec<String>,
}

impl Loaded {
    /// Decide feasibility at the pupil level before any solver, so that a request that cannot
    /// succeed is answered at once.
    pub fn check_feasible(&self) -> Result<()> {
        if self.policy.split_street_cost.is_some() && !self.policy.contiguous {
            return Err(Error::policy(
                "a price on split streets is applied to contiguous districts only",
                Some(crate::error::Hint::new(
                    "ask for contiguous districts",
                    Some(crate::error::Setting::Contiguous),
                )),
            ));
        }
        if self.policy.contiguous && self.city.is_none() {
            return Err(Error::policy(
                "contiguous districts need the city's blocks and the walks from every block",
                Some(crate::error::Hint::new(
                    "give the blocks",
                    Some(crate::error::Setting::Blocks),
                )),
            ));
        }
        if self.policy.whole_segments {
            self.whole_segments_city()?;
        }
        crate::pipeline::nearest_applies(&self.policy, self.stability.is_some())?;
        self.partial_applies()?;
        let inst = crate::effective_instance(&self.inst, &self.policy);
        let diagnoses = match self.policy.nearest {
            // The pairs a partial matrix gives, without a dense problem.
            Some(_) => {
                let places = crate::pipeline::nearest_places(&inst)?;
                let m = &self.matrix;
                crate::pipeline::nearest_pairs(&inst, m, &self.policy, &places)?
                    .problem()
                    .diagnose()
            }
            None => {
                let p =
                    crate::solve::Problem::pupil_level(&inst, &self.matrix, self.policy.max_walk)?;
                crate::cancel::check()?;
                crate::solve::feasibility::diagnose(&p)
            }
        };
        if diagnoses.is_empty() {
            Ok(())
        } else if let (Some(k), true) = (self.policy.nearest, self.matrix.is_partial()) {
            Err(crate::pipeline::too_few_to_be_feasible(&inst, &diagnoses, k))
        } else {
            Err(Error::Infeasible(crate::describe_infeasibility(&inst, &diagnoses)))
        }
    }

    /// Whether what the request asks for can be done with the matrix read: a partial one
    /// (each pupil's nearest schools, held sparse) has no walks for a comparison with other
    /// districts.
    fn partial_applies(&self) -> Result<()> {
        if self.matrix.is_partial() && (self.compare_proxy || self.compare_districts.is_some()) {
            return Err(crate::solve::partial_matrix_refused(
                "a comparison with other districts (the proxy or given districts)",
            ));
        }
        Ok(())
    }

    /// Solve (with stability when given) and, with the city, build the report's comparison.
    pub fn solve(&self, stage: &dyn Fn(Stage)) -> Result<PlanResult> {
        stage(Stage::Solving);
        crate::cancel::check()?;
        crate::pipeline::nearest_applies(&self.policy, self.stability.is_some())?;
        self.partial_applies()?;
        let mut result = self.solve_policy()?;
        result.pins = self.pins_report()?;
        Ok(result)
    }

    /// What the pins cost: the certified pupil-level optimum with and without them.
    pub fn pins_report(&self) -> Result<Option<crate::districts::pins::PinsReport>> {
        let Some(p) = &self.pins else { return Ok(None) };
        let policy = Policy {
            unit: Unit::Pupil,
            min_class_size: None,
            contiguous: false,
            whole_segments: false,
            split_street_cost: None,
            ..self.policy.clone()
        };
        let pinned = match self.routed.as_ref() {
            // Routed pair by pair: the pinned instance is the one solved.
            Some(plan) => plan.objective,
            None => crate::solve_plan(&self.inst, &self.matrix, &policy, None)?.objective,
        };
        crate::cancel::check()?;
        let unpinned = crate::solve_plan(&p.unpinned, &self.matrix, &policy, None)?.objective;
        Ok(Some(crate::districts::pins::PinsReport {
            blocks: p.pins.len(),
            pupils: p.pupils,
            unpinned_optimum_m: unpinned,
            pinned_optimum_m: pinned,
            cost_m: pinned.saturating_sub(unpinned),
        }))
    }

    fn solve_policy(&self) -> Result<PlanResult> {
        if self.policy.contiguous {
            return self.solve_contiguous();
        }
        if self.policy.whole_segments {
            return self.solve_whole_segments();
        }
        let (plan, stability) = match &self.stability {
            None => match self.routed.as_ref().filter(|p| p.policy == self.policy) {
                Some(plan) => (plan.clone(), None),
                None => (crate::solve_plan(&self.inst, &self.matrix, &self.policy, None)?, None),
            },
            Some(st) => {
                let (plan, report, _) =
                    crate::pipeline::solve_stable(&self.inst, &self.matrix, &self.policy, st)?;
                (plan, Some(report))
            }
        };
        crate::cancel::check()?;
        let comparison = match &self.city {
            Some(_) => self.comparison(&plan)?,
            None => None,
        };
        Ok(PlanResult { plan, stability, comparison, segments: None, pins: None })
    }

    /// Contiguous districts: the certified pupil-level optimum first (the lower bound, and the
    /// districts the search starts from), then every block of the city to a school.
    fn solve_contiguous(&self) -> Result<PlanResult> {
        let Some(city) = &self.city else {
            return Err(Error::policy(
                "contiguous districts need the city's blocks and the walks from every block",
                Some(crate::error::Hint::new(
                    "give the blocks",
                    Some(crate::error::Setting::Blocks),
                )),
            ));
        };
        let pupil_policy = Policy {
            unit: Unit::Pupil,
            min_class_size: None,
            contiguous: false,
            ..self.policy.clone()
        };
        let optimum = crate::solve_plan(&self.inst, &self.matrix, &pupil_policy, None)?;
        crate::cancel::check()?;
        // The start: whole blocks, with the class rule when there is one (a plan of whole
        // classes to start the search from; none means no contiguous plan either).
        let block_policy = Policy {
            unit: Unit::Block,
            min_class_size: self.policy.min_class_size,
            ..pupil_policy.clone()
        };
        let start = crate::solve_plan(&self.inst, &self.matrix, &block_policy, None)?;
        crate::cancel::check()?;
        let contiguous = |keep| {
            crate::districts::contiguous::solve(
                &self.inst,
                &self.matrix,
                &self.policy,
                city,
                &optimum,
                &start,
                keep,
            )
        };
        // With stability: the contiguous plan without it too, the price of stability's
        // reference (searched from last year's districts as well, and then one more start of
        // the stable search).
        let free = contiguous(self.stability.as_ref().map(|st| {
            crate::districts::contiguous::Keep { stability: st, free: None, start_only: true }
        }))?;
        let (plan, stability) = match &self.stability {
            None => (free.plan, None),
            Some(st) => {
                crate::cancel::check()?;
                let keep = crate::districts::contiguous::Keep {
                    stability: st,
                    free: Some(&free.plan),
                    start_only: false,
                };
                let stable = contiguous(Some(keep))?;
                // Both are searched, not proved: the plan without stability is searched once
                // more from the stable one, so the price of stability is never below zero.
                crate::cancel::check()?;
                let again = contiguous(Some(crate::districts::contiguous::Keep {
                    stability: st,
                    free: Some(&stable.plan),
                    start_only: true,
                }))?;
                let free =
                    if again.plan.objective < free.plan.objective { again.plan } else { free.plan };
                let report = stability::report(&self.inst, st, &stable.plan, &free);
                (stable.plan, Some(report))
            }
        };
        let comparison = self.comparison(&plan)?;
        Ok(PlanResult { plan, stability, comparison, segments: None, pins: None })
    }

    /// Whole street segments: the plan of the same policy without the rule first (the
    /// comparison), then every segment's blocks at one school.
    fn solve_whole_segments(&self) -> Result<PlanResult> {
        let city = self.whole_segments_city()?;
        let (plan, report) =
            crate::districts::segments::solve(&self.inst, &self.matrix, &self.policy, city)?;
        let comparison = self.comparison(&plan)?;
        Ok(PlanResult { plan, stability: None, comparison, segments: Some(report), pins: None })
    }

    /// The city for whole street segments, or why the rule cannot be applied.
    fn whole_segments_city(&self) -> Result<&City> {
        use crate::error::{Hint, Setting};
        let Some(city) = &self.city else {
            return Err(Error::policy(
                "whole street segments need the city's blocks and the walks from every block",
                Some(Hint::new("give the blocks", Some(Setting::Blocks))),
            ));
        };
        if city.streets.is_none() {
            return Err(Error::policy(
                "whole street segments need the city's named streets",
                Some(Hint::new("give the street network", Some(Setting::Streets))),
            ));
        }
        if self.stability.is_some() {
            return Err(Error::policy(
                "whole street segments are not yet combined with stability against last year's \
                 districts",
                None,
            ));
        }
        Ok(city)
    }

    /// The comparison for the report page: the straight-line proxy and/or given districts,
    /// then the plan.
    fn comparison(&self, plan: &Plan) -> Result<Option<Comparison>> {
        let (inst, m) = (&self.inst, &self.matrix);
        self.partial_applies()?;
        let mut rows: Vec<(String, Summary)> = Vec::new();
        if self.compare_proxy {
            let proxy = baseline::evaluate(
                inst,
                m,
                baseline::straight_line_districts(inst)?,
                "hand-drawn proxy",
            )?;
            rows.push((
                "Hand-drawn proxy (nearest by straight line, border blocks moved)".into(),
                summarize(inst, m, &proxy),
            ));
        }
        if let Some((label, assign)) = &self.compare_districts {
            let given = baseline::evaluate(inst, m, assign.clone(), "given districts")?;
            rows.push((format!("Given districts ({label})"), summarize(inst, m, &given)));
        }
        if rows.is_empty() {
            return Ok(None);
        }
        rows.push(("This plan".into(), summarize(inst, m, plan)));
        let refs: Vec<(String, &Summary)> = rows.iter().map(|(l, s)| (l.clone(), s)).collect();
        Ok(Some(crate::report::comparison_table("Against other districts", &refs)))
    }
}

impl PlanResult {
    /// Write the plan directory (atomically): the plan, and with the city its publishable
    /// files.
    pub fn write(&self, loaded: &Loaded, out: &Path, stage: &dyn Fn(Stage)) -> Result<Written> {
        stage(Stage::Writing);
        // Nothing is written for work that was stopped.
        crate::cancel::check()?;
        let extras = crate::output::Extras {
            city: loaded.city.as_ref(),
            comparison: self.comparison.as_ref(),
            stability: match (&self.stability, &loaded.stability) {
                (Some(r), Some(st)) => Some((r, st)),
                _ => None,
            },
            excluded: loaded.excluded.as_ref(),
            segments: self.segments.as_ref(),
            walks: loaded.walks.as_ref(),
            pins: match (&loaded.pins, &self.pins) {
                (Some(p), Some(r)) => Some((p.pins.as_slice(), r)),
                _ => None,
            },
        };
        let (summary, publication) =
            crate::output::write_plan(out, &loaded.inst, &loaded.matrix, &self.plan, &extras)?;
        Ok(Written { summary, notes: publication.map(|p| p.notes).unwrap_or_default() })
    }
}

/// Load, solve and write in one call.
pub fn run(req: &PlanRequest, out: &Path, stage: &dyn Fn(Stage)) -> Result<Written> {
    let loaded = req.load(stage)?;
    loaded.solve(stage)?.write(&loaded, out, stage)
}

/// `catchment reproduce`: the city's comparison on a case's inputs
/// ([`crate::report::reproduce`]) and, with the city's blocks, contiguous districts beside it
/// and the street list of every plan.
#[derive(Debug, Clone)]
pub struct Reproduction {
    /// The table.
    pub comparison: crate::report::reproduce::Comparison,
    /// Each row's plan, by its key.
    plans: Vec<(String, Plan)>,
    loaded: Loaded,
}

/// Load the case, run the comparison and, with the city's blocks, solve contiguous districts
/// (a row of the table; when none is found within the seats, a note saying why). `baseline`:
/// given districts (`block_id,school_id`) to compare with.
pub fn reproduce(
    req: &PlanRequest,
    case: &str,
    baseline: Option<&Path>,
    reported: Option<crate::report::reproduce::Reported>,
    stage: &dyn Fn(Stage),
) -> Result<Reproduction> {
    use crate::report::reproduce;
    let loaded = req.load(stage)?;
    let given = match baseline {
        Some(p) => Some((instance::file_name(p), baseline::read_districts(p, &loaded.inst)?)),
        None => None,
    };
    stage(Stage::Solving);
    let (mut comparison, mut plans) =
        reproduce::run(case, &loaded.inst, &loaded.matrix, given, reported)?;
    use reproduce::ContiguousRow;
    let segments = loaded.city.as_ref().is_some_and(|c| c.streets.is_some());
    let variants: &[ContiguousRow] = match (&loaded.city, segments) {
        (None, _) => &[],
        (Some(_), false) => &[ContiguousRow::Plain],
        (Some(_), true) => &[ContiguousRow::Plain, ContiguousRow::Segments, ContiguousRow::Streets],
    };
    for &variant in variants {
        let contiguous = Loaded {
            policy: Policy {
                contiguous: true,
                whole_segments: variant == ContiguousRow::Segments,
                split_street_cost: (variant == ContiguousRow::Streets)
                    .then_some(reproduce::SPLIT_STREET_COST),
                ..loaded.policy.clone()
            },
            compare_proxy: false,
            compare_districts: None,
            ..loaded.clone()
        };
        let (inst, m) = (&loaded.inst, &loaded.matrix);
        match contiguous.solve(&|_| ()) {
            Ok(r) => {
                reproduce::add_contiguous(&mut comparison, inst, m, &r.plan, variant);
                plans.push((variant.key().into(), r.plan));
            }
            Err(Error::Infeasible(v)) if variant == ContiguousRow::Plain => {
                let why: Vec<String> = v.into_iter().map(|i| i.message).collect();
                comparison.contiguous_note = Some(why.join("; "));
            }
            // The other variants are shown when found.
            Err(Error::Infeasible(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Reproduction { comparison, plans, loaded })
}

impl Reproduction {
    /// Write `report.md`, `report.json` and every plan (`plans/<key>/`, with the city its
    /// published districts and street list, whose split streets fill the table); returns the
    /// markdown.
    pub fn write(&mut self, out: &Path) -> Result<String> {
        use crate::report::reproduce;
        let (loaded, plans, comparison) = (&self.loaded, &self.plans, &mut self.comparison);
        let mut md = String::new();
        instance::write_atomically(out, |dir| {
            for (key, plan) in plans {
                let extras =
                    crate::output::Extras { city: loaded.city.as_ref(), ..Default::default() };
                let (summary, _) = crate::output::write_plan(
                    &dir.join("plans").join(key),
                    &loaded.inst,
                    &loaded.matrix,
                    plan,
                    &extras,
                )?;
                if let Some(row) = comparison.rows.iter_mut().find(|r| &r.key == key) {
                    row.split_streets = summary.streets.as_ref().map(|s| s.split);
                }
            }
            md = reproduce::markdown(comparison);
            std::fs::write(dir.join("report.md"), &md)
                .map_err(|e| Error::io(dir.join("report.md"), e))?;
            crate::output::write_json(&dir.join("report.json"), &*comparison)
        })?;
        Ok(md)
    }
}
