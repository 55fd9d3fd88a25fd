//! The request types of `POST /v1/plans`: what the service reads, documented in the OpenAPI
//! document (a JSON body, or the same fields as a form).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// How a binary matrix file travels in a request's `matrix` or `block_matrix` (JSON text): this
/// prefix, then the file in standard base64. A form field holding the file itself is stored so.
pub const BINARY_MATRIX_DATA_URL: &str = "data:application/vnd.catchment.matrix;base64,";

/// Schools or pupils: CSV text (the columns of the CSV files) or an array of objects with the
/// same columns as fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TableInput {
    /// CSV text with a header row.
    Csv(String),
    /// One object per row, the columns as fields.
    #[schema(value_type = Vec<Object>)]
    Objects(Vec<serde_json::Map<String, serde_json::Value>>),
}

/// `POST /v1/plans`: an instance and a policy. Give the distances as `matrix`; further distance
/// sources (a routing service) are additional optional fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Schools: CSV text (`id,name,lat,lon,capacity | max_classes[,class_size][,min_pupils]`)
    /// or an array of objects with these fields.
    pub schools: TableInput,
    /// Pupils: CSV text (`id,lat,lon[,block][,fixed_school]`, or `street,house_number` instead
    /// of `lat,lon` with `routing` when the service has an OSM extract) or an array of objects.
    pub pupils: TableInput,
    /// Walking distances as long CSV text `pupil_id,school_id,meters[,seconds]`, or a binary
    /// matrix file (`catchment matrix --format binary`) as a data URL
    /// `data:application/vnd.catchment.matrix;base64,...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<String>,
    /// Or: walking distances from an OSRM server (foot profile), one the service allows
    /// (`--osrm-allow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingSpec>,
    /// The policy (`solver`, `max_walk`...); missing fields take the defaults of `catchment solve`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub policy: serde_json::Map<String, serde_json::Value>,
    /// The city's blocks as CSV text (`block_id,lat,lon[,residents][,street,house_number]`): the
    /// plan then publishes districts for every block (`districts.csv`, `districts.geojson`,
    /// `streets.csv`, `split-streets.csv`, `streets.html`) and answers `explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<String>,
    /// Walks from every block to every school (long CSV `block_id,school_id,meters`, or a
    /// binary matrix keyed by block as a data URL like `matrix`); default: `matrix`, which then
    /// must be keyed by block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_matrix: Option<String>,
    /// Named streets for the street list of grid blocks: GeoJSON text (LineString /
    /// MultiLineString features with a `name`) or OSM XML text (`highway` ways with a `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streets: Option<String>,
    /// The area the districts divide: GeoJSON text (Polygon / MultiPolygon, e.g. the city
    /// boundary); default: the blocks with a margin; needs `blocks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Districts to compare with on the report page (CSV text `block_id,school_id`: last
    /// year's or the hand-drawn ones), evaluated on the same walks; needs `blocks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<String>,
    /// Blocks whose walks are not trusted (CSV text with a `block_id` column, e.g. a plan's
    /// `routing-check.csv`): left out of the published districts, their pupils left out of the
    /// plan unless they have a `fixed_school`; needs `blocks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_blocks: Option<String>,
    /// The coordinate reference system of `x,y` (easting, northing) columns in schools, pupils
    /// and blocks, as an EPSG code (`EPSG:25833`); `lat,lon` are WGS84 always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crs: Option<String>,
    /// Stability against last year's districts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<StabilitySpec>,
    /// Blocks fixed to a school: CSV text `block_id,school_id`. Their pupils go there and the
    /// rest is optimised around them (certified given the pins); the plan keeps `pins.csv`
    /// and its summary says what the pins cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pins: Option<String>,
    /// Keep this request (with its pupils) after the job is done, so that the plan can be
    /// solved again with pins or a version's districts (`POST /v1/plans/{id}/resolve`, the
    /// planning page's certified re-solve and publishing). Kept with the job and deleted with
    /// it by the retention sweep; never served. Default: deleted when the job ends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_inputs: bool,
}

/// Keep the plan close to last year's districts: by a change cost per pupil (certified), or by
/// a cap on blocks that change school (whole blocks, a MIP).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StabilitySpec {
    /// Last year's districts: CSV text `block_id,school_id`.
    pub previous: String,
    /// Meters added per pupil whose school differs from last year's school of their block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_cost: Option<u32>,
    /// At most this many blocks change school (implies `policy.unit = "block"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_changed_blocks: Option<u32>,
}

/// `POST /v1/plans` as `multipart/form-data`: the instance as form fields holding the files'
/// texts (documentation only: the form is read field by field).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PlanForm {
    /// Schools: CSV text.
    schools: String,
    /// Pupils: CSV text.
    pupils: String,
    /// Walking distances: long CSV text `pupil_id,school_id,meters[,seconds]`, or the binary
    /// matrix file.
    #[schema(required = false)]
    matrix: String,
    /// The policy: a JSON object as text.
    #[schema(required = false)]
    policy: String,
    /// The city's blocks: CSV text.
    #[schema(required = false)]
    blocks: String,
    /// Walks from every block to every school: long CSV text, or the binary matrix file.
    #[schema(required = false)]
    block_matrix: String,
    /// Named streets: GeoJSON or OSM XML text.
    #[schema(required = false)]
    streets: String,
    /// The area the districts divide: GeoJSON text.
    #[schema(required = false)]
    area: String,
    /// Districts to compare with: CSV text `block_id,school_id`.
    #[schema(required = false)]
    compare: String,
    /// Blocks whose walks are not trusted: CSV text with a `block_id` column.
    #[schema(required = false)]
    exclude_blocks: String,
    /// Stability against last year's districts: a JSON object as text (see `StabilitySpec`).
    #[schema(required = false)]
    stability: String,
    /// Blocks fixed to a school: CSV text `block_id,school_id`.
    #[schema(required = false)]
    pins: String,
}

/// Walking distances from an OSRM server instead of a matrix.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingSpec {
    /// The server's URL, e.g. `http://127.0.0.1:5000`, or several servers of the same data
    /// comma-separated (requests shared out among them); each must be one the service allows.
    pub osrm: String,
    /// Locations per request: the server's `--max-table-size` (default 100).
    #[serde(default)]
    pub table_size: Option<usize>,
    /// The profile name in OSRM URLs (default `foot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Pupils farther than this from a street are reported (default 300 m).
    #[serde(default)]
    pub snap_limit_m: Option<f64>,
    /// Leave far-snapped pupils' pairs and pairs without a route out instead of failing.
    #[serde(default)]
    pub allow_unreachable: bool,
    /// Leave pupils (and blocks) whose street address is not found or ambiguous out instead of
    /// failing (addresses are placed when the service was started with an OSM extract).
    #[serde(default)]
    pub skip_ungeocoded: bool,
}

/// `POST /v1/scenarios`: the scenario file and the files it names (paths in the file are these
/// names, e.g. `schools = "schools.csv"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSetRequest {
    /// The scenario file: TOML text with `[base]` and `[[scenario]]` tables (see `catchment batch`).
    pub scenarios: String,
    /// The files the scenario file names, by name (letters, digits, `-`, `_`, `.`), as text.
    pub files: BTreeMap<String, String>,
}

/// `POST /v1/plans/{id}/simulations`: the model of change and the draws; missing fields take
/// the defaults of `catchment simulate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulationRequest {
    /// Monte Carlo draws (default 10,000; at most 200,000).
    #[serde(default)]
    pub draws: Option<usize>,
    /// Seed of the random draws (default 1): the same seed gives the same simulation.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Probability that a planned pupil moves away before enrolment (default 0.15).
    #[serde(default)]
    pub move_prob: Option<f64>,
    /// Expected relative change of the cohort's size (default 0).
    #[serde(default)]
    pub cohort_change: Option<f64>,
    /// Standard deviation of the cohort's relative size (default 0.015).
    #[serde(default)]
    pub cohort_sd: Option<f64>,
    /// The overflow probability a buffer keeps under (default 0.05).
    #[serde(default)]
    pub target: Option<f64>,
}

/// A simulation job's stored request: the plan it simulates and the parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimulationJob {
    /// The simulated plan's id.
    pub plan: String,
    /// The parameters as requested.
    pub request: SimulationRequest,
}

/// `POST /v1/sites`: where to build, as `catchment sites` reads it — the current schools, the
/// pupils and their walks, candidate sites (with their walks) and/or extensions, and how many
/// options to take. Every table is CSV text with the columns of the CLI's files.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SitesRequest {
    /// Current schools (`id,name,lat,lon,capacity | max_classes[,class_size][,min_pupils]`);
    /// a header without rows when there is no school yet (the sites chosen then seat every
    /// pupil).
    pub schools: String,
    /// Pupils (`id,lat,lon[,block][,fixed_school]`).
    pub pupils: String,
    /// Walks of the pupils to the current schools (`pupil_id,school_id,meters`); may be left
    /// out when `schools` lists no school.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<String>,
    /// Candidate sites (`id,name,lat,lon,capacity | max_classes[,class_size][,cost]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<String>,
    /// Walks of the pupils to the candidate sites (with `candidates`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_matrix: Option<String>,
    /// Extra classes at current schools (`school_id,classes[,cost]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<String>,
    /// Current schools that may close (`school_id[,saving]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closures: Option<String>,
    /// Exactly this many of `closures` close (absent: any number, only to free budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<usize>,
    /// `walk` (default: the total walk) or `longest` (the longest walk, then the total walk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    /// Further years' pupils by label (letters, digits, `-`, `_`), read with the same walks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cohorts: BTreeMap<String, String>,
    /// Most options to take (the table runs k = 0, 1, ..., this).
    pub open: usize,
    /// Most the opened options may cost together (the candidates' cost column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<f64>,
    /// Longest walk allowed, meters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_walk: Option<u32>,
    /// `auto` (default), `exact` or `heuristic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Time limit of each Cbc solve, seconds (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mip_seconds: Option<u32>,
}
