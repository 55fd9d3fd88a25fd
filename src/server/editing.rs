//! Editing plans over HTTP: evaluate moves of blocks (`POST /v1/plans/{id}/evaluate`), save an
//! edit as a read-only version with a note (`/v1/plans/{id}/versions`, `/v1/versions/{id}`)
//! and compare two versions or plans (`/v1/diff`). The figures come from the plan's
//! `edit.json` through [`crate::districts::edit`], exactly as `catchment evaluate` computes
//! them.

use super::access::{new_id, publishable, require_json, valid_id};
use super::auth::{self, Denied, Scope};
use super::error::ApiError;
use super::versions::{self, StoredVersion};
use super::App;
use crate::districts::edit::{self, EditModel, Evaluation, Move};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

/// The most moves one request may carry.
pub const MAX_MOVES: usize = 100_000;

/// Moves of blocks to schools, applied in order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// Each block placed whole at its school (every pupil of it without a fixed school).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub moves: Vec<Move>,
}

/// `POST /v1/plans/{id}/reoptimise`: blocks pinned to schools.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReoptimiseRequest {
    /// Blocks fixed to a school (`block_id`, `school_id`).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub pins: Vec<Move>,
}

/// The plan re-optimised around the pins, as moves from the plan, and its figures.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reoptimised {
    /// The moves that turn the plan into the re-optimised one (pins included).
    #[schema(value_type = Vec<Object>)]
    pub moves: Vec<Move>,
    /// Its figures (as `evaluate` answers for these moves).
    #[schema(value_type = Object)]
    pub evaluation: Evaluation,
}

/// `POST /v1/plans/{id}/versions`: an edit of the plan to keep, with a note.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRequest {
    /// Why it is saved (at most 2,000 characters).
    #[serde(default)]
    pub note: String,
    /// The moves that make the version from the plan (none: the plan as solved, e.g. a
    /// re-optimised one).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub moves: Vec<Move>,
}

/// `POST /v1/plans/{id}/resolve`: solve the plan again with blocks pinned: the given `pins`,
/// or every block of a saved `version` in its district (the version made a certified plan, with
/// the council's files).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// Blocks fixed to a school (`block_id`, `school_id`); the rest is optimised around them.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub pins: Vec<Move>,
    /// Or: a saved version of this plan, every block pinned to its school in the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A saved version (read-only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Version {
    /// The version's id.
    pub id: String,
    /// The plan it was made from.
    pub plan: String,
    /// 1, 2, ... per plan.
    pub number: u32,
    /// When it was saved (Unix seconds).
    pub created_at: i64,
    /// The name of the token that saved it.
    pub author: String,
    /// Why it was saved.
    pub note: String,
    /// The moves applied to the plan.
    #[schema(value_type = Vec<Object>)]
    pub moves: Vec<Move>,
    /// Its figures (as `POST /v1/plans/{id}/evaluate` answers for these moves).
    #[schema(value_type = Object)]
    pub evaluation: Evaluation,
    /// Every block's school (block id -> school id); in lists, left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub districts: Option<BTreeMap<String, String>>,
}

/// What a version keeps besides its row.
#[derive(Serialize, Deserialize)]
struct Body {
    moves: Vec<Move>,
    evaluation: Evaluation,
    districts: BTreeMap<String, String>,
}

/// `GET /v1/diff`: two versions or plans (ids of either).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// A version id or a plan id (the plan as solved).
    pub a: Option<String>,
    /// A version id or a plan id.
    pub b: Option<String>,
}

/// A block whose school differs between the two sides.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangedBlock {
    /// The block's id.
    pub block_id: String,
    /// Its school in `a` (none: not a block of `a` or without a school).
    pub a: Option<String>,
    /// Its school in `b`.
    pub b: Option<String>,
    /// Its pupils (of `a`'s plan, or `b`'s when `a` does not have it).
    pub pupils: u32,
}

/// A school's figures on both sides.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SchoolDiff {
    /// The school's id.
    pub id: String,
    /// Pupils in `a`.
    pub a_pupils: u64,
    /// Pupils in `b`.
    pub b_pupils: u64,
    /// Mean walk in `a`, meters.
    pub a_mean_walk_m: u64,
    /// Mean walk in `b`, meters.
    pub b_mean_walk_m: u64,
}

/// Two versions (or plans) side by side.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Diff {
    /// `a`'s id.
    pub a: String,
    /// `b`'s id.
    pub b: String,
    /// `a`'s total walk, meters.
    pub a_total_m: u64,
    /// `b`'s total walk, meters.
    pub b_total_m: u64,
    /// Blocks whose school differs, by block id.
    pub changed: Vec<ChangedBlock>,
    /// Per school, in `a`'s school order (then schools only `b` has).
    pub per_school: Vec<SchoolDiff>,
}

fn author(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    let h = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    auth::authorize_named(&app.tokens, h, Scope::Write).map(|(_, name)| name).map_err(|d| match d {
        Denied::Unauthenticated => ApiError::new(
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        ),
        Denied::Forbidden => {
            ApiError::new("forbidden", "this token may not do this: it lacks the 'write' scope")
        }
    })
}

/// The edit model of a finished plan.
fn model(app: &App, id: &str) -> Result<EditModel, ApiError> {
    valid_id(id)?;
    let bytes = match app.store.plan_file(id, edit::EDIT_FILE) {
        Ok(Some(b)) => b,
        // The plan must exist and be finished (404 / 409 as for its other files).
        Ok(None) => {
            return Err(match app.store.job(id) {
                Ok(Some(j)) if j.state == "failed" => ApiError::new(
                    "job_failed",
                    &format!("job {id} failed, so it has no plan: /v1/jobs/{id} says why"),
                ),
                Ok(Some(j)) if j.state != "done" => ApiError::new(
                    "not_ready",
                    &format!("job {id} is {}: the plan is not ready yet", j.state),
                ),
                Ok(Some(_)) => ApiError::new(
                    "not_found",
                    &format!("plan {id} has no {}: submit it again to edit it", edit::EDIT_FILE),
                ),
                Ok(None) => ApiError::new("not_found", "no such plan"),
                Err(e) => ApiError::internal(&format!("reading job: {e}")),
            })
        }
        Err(e) => return Err(ApiError::internal(&format!("reading plan file: {e}"))),
    };
    edit::model_from_json(&String::from_utf8_lossy(&bytes)).map_err(ApiError::from_library)
}

fn parse<T: for<'de> Deserialize<'de> + Default>(body: &[u8], what: &str) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new("bad_request", &format!("the body is not {what}: {e}")))
}

fn check_moves(moves: &[Move]) -> Result<(), ApiError> {
    if moves.len() > MAX_MOVES {
        return Err(ApiError::new(
            "invalid_input",
            &format!("{} moves are more than {MAX_MOVES}", moves.len()),
        ));
    }
    Ok(())
}

/// What moving blocks to other schools does to a plan: the total walk and its gap to the
/// certified optimum (an edited plan is never called optimal), each school's pupils, seats,
/// classes, over-capacity, mean walk, pupils over 2 km and district pieces, warnings and each
/// move's cost — the same figures as `catchment evaluate` (publishable: counts only).
#[utoipa::path(
    post, path = "/v1/plans/{id}/evaluate", tag = "editing",
    params(("id" = String, Path, description = "Plan id")),
    request_body(content = EvaluateRequest, content_type = "application/json"),
    responses((status = 200, description = "The edited plan's figures", body = Object),
              (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, description = "No such plan, block or school", body = ApiError),
              (status = 409, body = ApiError), (status = 415, body = ApiError), (status = 422, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn evaluate(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Evaluation>, ApiError> {
    require_json(&headers)?;
    publishable(&app, &headers)?;
    let req: EvaluateRequest = parse(&body, "a list of moves")?;
    check_moves(&req.moves)?;
    let model = model(&app, &id)?;
    edit::evaluate(&model, &req.moves).map(Json).map_err(ApiError::from_library)
}

/// Re-optimise the rest around pinned blocks: every block with pupils placed whole at the
/// school of least total walk within the seats (a whole-block MIP on the plan's `edit.json`),
/// the pinned ones at their pins. Answers the moves from the plan and their figures, with the
/// gap to the certified optimum (for a certified re-solve with pins at pupil level, submit the
/// plan again with `pins`).
#[utoipa::path(
    post, path = "/v1/plans/{id}/reoptimise", tag = "editing",
    params(("id" = String, Path, description = "Plan id")),
    request_body(content = ReoptimiseRequest, content_type = "application/json"),
    responses((status = 200, description = "The re-optimised plan as moves, with its figures", body = Reoptimised),
              (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError),
              (status = 409, body = ApiError), (status = 415, body = ApiError), (status = 422, description = "The pins overfill a school", body = ApiError)),
    security(("bearer" = []))
)]
pub async fn reoptimise(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Reoptimised>, ApiError> {
    author(&app, &headers)?;
    require_json(&headers)?;
    let req: ReoptimiseRequest = parse(&body, "a list of pins")?;
    check_moves(&req.pins)?;
    let model = model(&app, &id)?;
    let Ok(_permit) = app.solves.acquire().await else {
        return Err(ApiError::new("shutting_down", "the service is shutting down"));
    };
    tokio::task::spawn_blocking(move || {
        let moves = edit::reoptimise(&model, &req.pins)?;
        let evaluation = edit::evaluate(&model, &moves)?;
        Ok(Reoptimised { moves, evaluation })
    })
    .await
    .map_err(|_| ApiError::internal("the re-optimisation panicked"))?
    .map(Json)
    .map_err(ApiError::from_library)
}

fn version(v: StoredVersion, with_districts: bool) -> Result<Version, ApiError> {
    let body = stored_body(&v)?;
    Ok(Version {
        id: v.id,
        plan: format!("/v1/plans/{}", v.plan_id),
        number: v.number,
        created_at: v.created_at,
        author: v.author,
        note: v.note,
        moves: body.moves,
        evaluation: body.evaluation,
        districts: with_districts.then_some(body.districts),
    })
}

fn districts_map(model: &EditModel, moves: &[Move]) -> Result<BTreeMap<String, String>, ApiError> {
    let d = edit::districts_after(model, moves).map_err(ApiError::from_library)?;
    Ok(model
        .blocks
        .iter()
        .zip(d)
        .filter_map(|(b, s)| s.map(|s| (b.id.clone(), model.schools[s].id.clone())))
        .collect())
}

/// Save an edit of the plan as a new version (read-only once saved): the moves, a note, the
/// token's name as author, the time, its figures and every block's school.
#[utoipa::path(
    post, path = "/v1/plans/{id}/versions", tag = "editing",
    params(("id" = String, Path, description = "Plan id")),
    request_body(content = VersionRequest, content_type = "application/json"),
    responses((status = 201, description = "Saved", body = Version, headers(("Location" = String, description = "/v1/versions/{id}"))),
              (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 415, body = ApiError), (status = 422, body = ApiError)),
    security(("bearer" = []))
)]
pub async fn save_version(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let author = author(&app, &headers)?;
    require_json(&headers)?;
    let req: VersionRequest = parse(&body, "a version (note, moves)")?;
    check_moves(&req.moves)?;
    if req.note.chars().count() > 2000 {
        return Err(ApiError::new("invalid_input", "the note is longer than 2,000 characters"));
    }
    let model = model(&app, &id)?;
    let evaluation = edit::evaluate(&model, &req.moves).map_err(ApiError::from_library)?;
    let districts = districts_map(&model, &req.moves)?;
    let body = Body { moves: req.moves, evaluation, districts };
    let text = serde_json::to_string(&body).map_err(|e| ApiError::internal(&e.to_string()))?;
    let vid = new_id();
    let now = super::store::now();
    let number = versions::insert(app.store.db(), &vid, &id, &author, &req.note, &text, now)
        .map_err(|e| ApiError::store("storing the version", &e))?;
    tracing::info!(version = %vid, plan = %id, number, "version saved");
    let stored = StoredVersion {
        id: vid.clone(),
        plan_id: id,
        number,
        created_at: now,
        author,
        note: req.note,
        body: text,
    };
    let mut r = (StatusCode::CREATED, Json(version(stored, false)?)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/versions/{vid}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// A plan's saved versions, oldest first (without their districts).
#[utoipa::path(
    get, path = "/v1/plans/{id}/versions", tag = "editing",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, body = Vec<Version>), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn list_versions(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<Version>>, ApiError> {
    publishable(&app, &headers)?;
    valid_id(&id)?;
    let rows =
        versions::list(app.store.db(), &id).map_err(|e| ApiError::store("reading versions", &e))?;
    rows.into_iter().map(|v| version(v, false)).collect::<Result<_, _>>().map(Json)
}

fn stored(app: &App, id: &str) -> Result<Option<StoredVersion>, ApiError> {
    valid_id(id)?;
    versions::get(app.store.db(), id).map_err(|e| ApiError::store("reading the version", &e))
}

/// One saved version, with every block's school.
#[utoipa::path(
    get, path = "/v1/versions/{id}", tag = "editing",
    params(("id" = String, Path, description = "Version id")),
    responses((status = 200, body = Version), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn get_version(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Version>, ApiError> {
    publishable(&app, &headers)?;
    match stored(&app, &id)? {
        Some(v) => version(v, true).map(Json),
        None => Err(ApiError::new("not_found", "no such version")),
    }
}

/// One side of a comparison: (id, its figures, its districts, pupils per block).
type Side = (String, Evaluation, BTreeMap<String, String>, BTreeMap<String, u32>);

fn side(app: &App, id: &str) -> Result<Side, ApiError> {
    let (plan_id, moves, evaluation, districts) = match stored(app, id)? {
        Some(v) => {
            let plan_id = v.plan_id.clone();
            let body = stored_body(&v)?;
            (plan_id, body.moves, Some(body.evaluation), Some(body.districts))
        }
        None => (id.to_string(), vec![], None, None),
    };
    let model = model(app, &plan_id).map_err(|e| {
        if e.error == "not_found" {
            ApiError::new("not_found", &format!("'{id}' is neither a version nor a plan"))
        } else {
            e
        }
    })?;
    let evaluation = match evaluation {
        Some(e) => e,
        None => edit::evaluate(&model, &moves).map_err(ApiError::from_library)?,
    };
    let districts = match districts {
        Some(d) => d,
        None => districts_map(&model, &moves)?,
    };
    let pupils = model.blocks.iter().map(|b| (b.id.clone(), b.pupils)).collect();
    Ok((id.to_string(), evaluation, districts, pupils))
}

/// Two versions or plans side by side: the blocks that change school and each school's pupils
/// and mean walk on both sides (publishable: counts only).
#[utoipa::path(
    get, path = "/v1/diff", tag = "editing",
    params(DiffQuery),
    responses((status = 200, body = Diff), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn diff(
    State(app): State<Arc<App>>,
    Query(q): Query<DiffQuery>,
    headers: HeaderMap,
) -> Result<Json<Diff>, ApiError> {
    publishable(&app, &headers)?;
    let (Some(a), Some(b)) = (q.a, q.b) else {
        return Err(ApiError::new("bad_request", "give ?a=ID&b=ID (versions or plans)"));
    };
    let (a, ea, da, pa) = side(&app, &a)?;
    let (b, eb, db, pb) = side(&app, &b)?;
    let mut ids: Vec<&String> = da.keys().chain(db.keys()).collect();
    ids.sort();
    ids.dedup();
    let changed = ids
        .into_iter()
        .filter(|id| da.get(*id) != db.get(*id))
        .map(|id| ChangedBlock {
            block_id: id.clone(),
            a: da.get(id).cloned(),
            b: db.get(id).cloned(),
            pupils: pa.get(id).or(pb.get(id)).copied().unwrap_or(0),
        })
        .collect();
    let mut per_school: Vec<SchoolDiff> = Vec::new();
    for s in &ea.per_school {
        let other = eb.per_school.iter().find(|t| t.id == s.id);
        per_school.push(SchoolDiff {
            id: s.id.clone(),
            a_pupils: s.pupils,
            b_pupils: other.map_or(0, |t| t.pupils),
            a_mean_walk_m: s.mean_walk_m,
            b_mean_walk_m: other.map_or(0, |t| t.mean_walk_m),
        });
    }
    for t in eb.per_school.iter().filter(|t| !ea.per_school.iter().any(|s| s.id == t.id)) {
        per_school.push(SchoolDiff {
            id: t.id.clone(),
            a_pupils: 0,
            b_pupils: t.pupils,
            a_mean_walk_m: 0,
            b_mean_walk_m: t.mean_walk_m,
        });
    }
    Ok(Json(Diff { a, b, a_total_m: ea.total_m, b_total_m: eb.total_m, changed, per_school }))
}

/// A version's districts as pins (`block_id,school_id`, every block with a school): what
/// `catchment solve --pin` takes to make the version a certified plan with its council files.
fn pins_csv(districts: &BTreeMap<String, String>) -> String {
    let pins: Vec<crate::districts::pins::Pin> = districts
        .iter()
        .map(|(b, s)| crate::districts::pins::Pin { block_id: b.clone(), school_id: s.clone() })
        .collect();
    crate::districts::pins::pins_csv(&pins)
}

/// What a stored version keeps besides its row.
fn stored_body(v: &StoredVersion) -> Result<Body, ApiError> {
    serde_json::from_str(&v.body)
        .map_err(|e| ApiError::internal(&format!("stored version unreadable: {e}")))
}

fn version_districts(app: &App, vid: &str) -> Result<(String, BTreeMap<String, String>), ApiError> {
    let v = stored(app, vid)?.ok_or_else(|| ApiError::new("not_found", "no such version"))?;
    let body = stored_body(&v)?;
    Ok((v.plan_id, body.districts))
}

/// A version's districts as a pins file (`block_id,school_id`, every block with a school):
/// `catchment solve --pin` with it makes the same plan as `POST /v1/plans/{id}/resolve` with
/// the version.
#[utoipa::path(
    get, path = "/v1/versions/{id}/pins.csv", tag = "editing",
    params(("id" = String, Path, description = "Version id")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn version_pins(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    publishable(&app, &headers)?;
    let (_, districts) = version_districts(&app, &id)?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], pins_csv(&districts)).into_response())
}

/// The plan request of `POST /v1/plans/{id}/resolve`: plan `id`'s kept request with the pins
/// of `body` (the given pins, or every block of a version of the plan in its district). Checks
/// the token (write), the body and that the plan kept its inputs (`keep_inputs`).
pub(super) fn resolve_request(
    app: &App,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<super::model::PlanRequest, ApiError> {
    author(app, headers)?;
    require_json(headers)?;
    let req: ResolveRequest = parse(body, "pins or a version")?;
    check_moves(&req.pins)?;
    valid_id(id)?;
    if app.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new(
            "shutting_down",
            "the service is shutting down; submit again shortly",
        ));
    }
    let pins = match (req.version, req.pins.is_empty()) {
        (Some(_), false) => {
            return Err(ApiError::new("invalid_input", "give either pins or a version, not both"))
        }
        (Some(vid), true) => {
            let (plan_id, districts) = version_districts(app, &vid)?;
            if plan_id != id {
                return Err(ApiError::new(
                    "invalid_input",
                    &format!("version {vid} is a version of plan {plan_id}, not of plan {id}"),
                ));
            }
            Some(pins_csv(&districts))
        }
        (None, false) => {
            Some(pins_csv(&req.pins.into_iter().map(|m| (m.block_id, m.school_id)).collect()))
        }
        (None, true) => None,
    };
    let text = match app.store.kept_request(id) {
        Ok(Some(t)) => t,
        Ok(None) => {
            // Unknown, unfinished, or solved without keep_inputs: say which.
            model(app, id)?;
            return Err(ApiError::new(
                "not_ready",
                &format!(
                    "plan {id} was not submitted with keep_inputs, so its inputs are gone: submit it again with \"keep_inputs\": true (or with \"pins\")"
                ),
            ));
        }
        Err(e) => return Err(ApiError::store("reading the plan's request", &e)),
    };
    let mut plan: super::model::PlanRequest = serde_json::from_str(&text)
        .map_err(|e| ApiError::internal(&format!("stored request unreadable: {e}")))?;
    plan.pins = pins;
    Ok(plan)
}
