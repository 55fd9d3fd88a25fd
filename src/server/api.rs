//! Routes, request and response types, and the OpenAPI document generated from them.

use super::access::{
    content_type, file, media_type, new_id, publishable, require, require_json, tagged_file,
    valid_id,
};
use super::auth::Scope;
pub use super::error::ApiError;
use super::jobs;
pub use super::model::{PlanForm, PlanRequest, RoutingSpec, StabilitySpec, TableInput};
use super::model::{SimulationJob, SimulationRequest};
use super::store::{Artefact, JobRow, Kind};
use super::App;
use crate::cancel::Cancel;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use utoipa::{OpenApi, ToSchema};

/// A job's progress while it runs: stage `step` of `steps`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    /// What the job is doing: `reading input`, `solving` or `writing artefacts`.
    pub stage: String,
    /// The stage's number, from 1.
    pub step: u32,
    /// How many stages a job has.
    pub steps: u32,
}

/// `GET /v1/jobs/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobStatus {
    /// The job's id.
    pub id: String,
    /// What it computes: `plan`, `scenarios` (a scenario set) or `simulation`.
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// The stage reached, while the job is running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Number of pupils in the request.
    pub pupils: u64,
    /// Number of schools in the request.
    pub schools: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// When the job (last) started running, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When the job finished or failed, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// How often the job was started (more than 1 after a restart interrupted it).
    pub attempts: u32,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The plan, once done (plan jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Where its result is served, once done: `/v1/plans/{id}`, `/v1/scenarios/{id}` or
    /// `/v1/simulations/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl From<JobRow> for JobStatus {
    fn from(j: JobRow) -> Self {
        let progress = (j.state == "running").then(|| {
            let stage = j.stage.clone().unwrap_or_else(|| jobs::STAGES[0].describe().to_string());
            let step = jobs::STAGES
                .iter()
                .position(|s| s.describe() == stage)
                .map(|i| i as u32 + 1)
                .unwrap_or(1);
            Progress { stage, step, steps: jobs::STAGES.len() as u32 }
        });
        JobStatus {
            plan: (j.state == "done" && j.kind == Kind::Plan)
                .then(|| format!("/v1/plans/{}", j.id)),
            result: (j.state == "done").then(|| j.kind.location(&j.id)),
            kind: j.kind.name().to_string(),
            error: j.error.as_deref().and_then(|e| serde_json::from_str(e).ok()),
            id: j.id,
            state: j.state,
            progress,
            pupils: j.pupils,
            schools: j.schools,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            attempts: j.attempts,
        }
    }
}

/// Links to a plan's artefacts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanLinks {
    /// Path of the plan's `assignments.csv`: each pupil's school and walk in meters.
    pub assignments_csv: String,
    /// Path of the plan's `schools.csv`: per-school load, classes and price.
    pub schools_csv: String,
    /// Path of the plan's `certificate.json`: the optimality certificate.
    pub certificate_json: String,
    /// The published districts (when the request gave the city's blocks) and `explain`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<String>,
}

/// `GET /v1/plans/{id}`: the plan's summary (`summary.json` of `catchment solve`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanResponse {
    /// The plan's id (the id of the job that made it).
    pub id: String,
    /// The plan's `summary.json`, as `catchment solve` writes it.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// Paths of the plan's other files.
    pub links: PlanLinks,
}

/// Query parameters of `POST /v1/plans`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmitQuery {
    /// Wait for the plan and answer with it (up to the request timeout; a job not finished by
    /// then is answered with 202 as without `wait`).
    #[serde(default)]
    pub wait: bool,
}

async fn read_body(app: &App, req: Request) -> Result<PlanRequest, ApiError> {
    let too_large = |status: StatusCode| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                "body_too_large",
                &format!(
                    "the request body is larger than the limit of {} bytes",
                    app.cfg.max_body_bytes
                ),
            )
        } else {
            ApiError::new("bad_request", "the request body could not be read")
        }
    };
    // The media type without its parameters (`; charset=...`, `; boundary=...`).
    let essence = media_type(req.headers());
    if essence == "multipart/form-data" {
        let mut mp = Multipart::from_request(req, &()).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large(e.status())
            } else {
                ApiError::new("bad_request", &e.body_text())
            }
        })?;
        let (mut schools, mut pupils, mut matrix, mut policy) = (None, None, None, None);
        let (mut blocks, mut block_matrix, mut streets) = (None, None, None);
        let (mut compare, mut stability): (Option<String>, Option<String>) = (None, None);
        let mut area: Option<String> = None;
        let mut exclude_blocks: Option<String> = None;
        let mut pins: Option<String> = None;
        let mut crs: Option<String> = None;
        let mut keep_inputs: Option<String> = None;
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    return Err(if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large(e.status())
                    } else {
                        ApiError::new("bad_request", &e.body_text())
                    })
                }
            };
            let name = field.name().unwrap_or("").to_string();
            let bytes = field.bytes().await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large(e.status())
                } else {
                    ApiError::new("bad_request", &format!("form field '{name}': {}", e.body_text()))
                }
            })?;
            let binary_matrix = matches!(name.as_str(), "matrix" | "block_matrix")
                && bytes.starts_with(&crate::routing::binary::MAGIC);
            let text = match String::from_utf8(bytes.to_vec()) {
                Ok(t) => t,
                // A binary matrix file travels on as a data URL (read, checked and matched
                // with the instance like a CSV matrix).
                Err(_) if binary_matrix => super::jobs::binary_matrix_data_url(&bytes),
                // The CSV reader's message for a file that is not UTF-8 (with its line).
                Err(_) => {
                    return Err(
                        match crate::instance::table::read_table(
                            &format!("{name}.csv"),
                            &bytes,
                            &[],
                            true,
                        ) {
                            Err(e) => ApiError::from_library(e),
                            Ok(_) => ApiError::new(
                                "bad_request",
                                &format!("form field '{name}' is not UTF-8 text"),
                            ),
                        },
                    )
                }
            };
            let slot = match name.as_str() {
                "schools" => &mut schools,
                "pupils" => &mut pupils,
                "matrix" => &mut matrix,
                "policy" => &mut policy,
                "blocks" => &mut blocks,
                "block_matrix" => &mut block_matrix,
                "streets" => &mut streets,
                "compare" => &mut compare,
                "exclude_blocks" => &mut exclude_blocks,
                "area" => &mut area,
                "crs" => &mut crs,
                "pins" => &mut pins,
                "stability" => &mut stability,
                "keep_inputs" => &mut keep_inputs,
                other => {
                    return Err(ApiError::new(
                        "bad_request",
                        &format!("unknown form field '{other}': expected schools, pupils, matrix, policy, blocks, block_matrix, streets, area, compare, exclude_blocks, stability, crs, pins, keep_inputs"),
                    ))
                }
            };
            if slot.is_some() {
                return Err(ApiError::new(
                    "bad_request",
                    &format!("form field '{name}' is given twice"),
                ));
            }
            *slot = Some(text);
        }
        let missing =
            |f: &str| ApiError::new("bad_request", &format!("form field '{f}' is missing"));
        let policy = match policy {
            None => Default::default(),
            Some(p) if p.trim().is_empty() => Default::default(),
            Some(p) => serde_json::from_str(&p).map_err(|e| {
                ApiError::new(
                    "bad_request",
                    &format!("form field 'policy': not a JSON object: {e}"),
                )
            })?,
        };
        let stability = match stability {
            None => None,
            Some(t) => Some(serde_json::from_str(&t).map_err(|e| {
                ApiError::new(
                    "bad_request",
                    &format!("form field 'stability': not a stability object: {e}"),
                )
            })?),
        };
        return Ok(PlanRequest {
            schools: TableInput::Csv(schools.ok_or_else(|| missing("schools"))?),
            pupils: TableInput::Csv(pupils.ok_or_else(|| missing("pupils"))?),
            matrix,
            routing: None,
            policy,
            blocks,
            block_matrix,
            streets,
            compare,
            exclude_blocks,
            stability,
            area,
            crs,
            pins,
            keep_inputs: match keep_inputs.as_deref().map(str::trim) {
                None | Some("" | "false") => false,
                Some("true") => true,
                Some(_) => {
                    return Err(ApiError::new(
                        "bad_request",
                        "form field 'keep_inputs': expected true or false",
                    ))
                }
            },
        });
    }
    if !(essence.is_empty() || essence == "application/json") {
        return Err(ApiError::new(
            "unsupported_media_type",
            "send application/json (a plan request) or multipart/form-data (fields schools, pupils, matrix, policy)",
        ));
    }
    let bytes = Bytes::from_request(req, &()).await.map_err(|e| too_large(e.status()))?;
    // serde_json's messages name a position and the expected type, never a value from the data.
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new("bad_request", &format!("the body is not a valid plan request: {e}"))
    })
}

/// Submit a plan: validate the input, queue a job, answer 202 with its location.
#[utoipa::path(
    post, path = "/v1/plans", tag = "plans",
    params(SubmitQuery),
    request_body(content(
        (PlanRequest = "application/json"),
        (PlanForm = "multipart/form-data")
    )),
    responses(
        (status = 202, description = "Queued; poll the job at the Location", body = JobStatus,
         headers(("Location" = String, description = "/v1/jobs/{id}"))),
        (status = 200, description = "With ?wait=true: the finished plan", body = PlanResponse),
        (status = 400, description = "The body is not a plan request", body = ApiError),
        (status = 401, description = "No or unknown token", body = ApiError),
        (status = 403, description = "The token lacks the write scope", body = ApiError),
        (status = 413, description = "The body is over the size limit", body = ApiError),
        (status = 415, description = "Neither JSON nor a form", body = ApiError),
        (status = 422, description = "Invalid input or an infeasible instance, with the messages of `catchment solve`", body = ApiError),
        (status = 500, description = "Internal error (a reference, no details)", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn submit_plan(
    State(app): State<Arc<App>>,
    Query(q): Query<SubmitQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    require(&app, req.headers(), Scope::Write)?;
    if app.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new(
            "shutting_down",
            "the service is shutting down; submit again shortly",
        ));
    }
    // The body is read, parsed and validated within an intake permit (as many as solve
    // permits): at most that many uploads are in memory and validated at a time; the others
    // wait here with their bodies unread.
    let Ok(intake) = app.intake.acquire().await else {
        return Err(ApiError::new("shutting_down", "the service is shutting down"));
    };
    let body = read_body(&app, req).await?;
    queue_plan(&app, intake, body, q.wait).await
}

/// Validate a plan request within its intake permit, queue it as a job and start it (here, or
/// by a worker): 202 with the job's location, or with `wait` the plan once it is done.
async fn queue_plan(
    app: &Arc<App>,
    intake: tokio::sync::SemaphorePermit<'_>,
    body: PlanRequest,
    wait: bool,
) -> Result<Response, ApiError> {
    let id = new_id();
    let app2 = app.clone();
    let id2 = id.clone();
    // Validation stops at its next cancellation point when this request goes away (the client
    // disconnects, the request times out, the server stops): the guard raises the flag when
    // the handler is dropped.
    let cancel = Cancel::new();
    let stop = cancel.raise_on_drop();
    let loaded = tokio::task::spawn_blocking(move || {
        cancel.scope(|| {
            let loaded = jobs::validate(&body, &app2.routing).map_err(ApiError::from_library)?;
            crate::cancel::check().map_err(ApiError::from_library)?;
            let stored = jobs::normalized(&body, &loaded.policy);
            app2.store
                .insert_job_keeping(
                    &id2,
                    Kind::Plan,
                    &stored,
                    loaded.inst.pupils.len(),
                    loaded.inst.schools.len(),
                    body.keep_inputs,
                )
                .map_err(|e| ApiError::store("storing job", &e))?;
            Ok::<_, ApiError>(loaded)
        })
    })
    .await
    .map_err(|_| ApiError::internal("validation panicked"))??;
    stop.disarm();
    drop(intake);
    let (pupils, schools) = (loaded.inst.pupils.len(), loaded.inst.schools.len());
    app.metrics.jobs_submitted.fetch_add(1, Relaxed);
    tracing::info!(job = %id, pupils, schools, "job queued");
    // With a solve permit free now, a job run here starts with the input just validated;
    // otherwise it waits holding nothing but its row, and reads its stored request when it
    // starts.
    let ready = match app.solves.clone().try_acquire_owned() {
        Ok(permit) if app.cfg.role == super::config::Role::All => Some((permit, loaded)),
        _ => None,
    };
    match jobs::start(app, &id, ready, wait, wait_budget(app)).await {
        Some(Ok(())) => return Ok(Json(plan_response(app, &id)?).into_response()),
        Some(Err(e)) => return Err(e),
        None => {}
    }
    let status = job_status(app, &id)?;
    let mut r = (StatusCode::ACCEPTED, Json(status)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/jobs/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// Solve a plan again with blocks pinned — the page's pins, or every block of a saved version
/// in its district — as a new plan job, certified given the pins like any plan (its summary
/// says what the pins cost), with the council's files when the plan has blocks. Only for a
/// plan submitted with `keep_inputs` (the service keeps no other request once its job ended).
/// 202 with the new job's location, or with `?wait=true` the new plan.
#[utoipa::path(
    post, path = "/v1/plans/{id}/resolve", tag = "editing",
    params(("id" = String, Path, description = "Plan id"), SubmitQuery),
    request_body(content = super::editing::ResolveRequest, content_type = "application/json"),
    responses((status = 200, description = "The new plan (with `?wait=true`)", body = PlanResponse),
              (status = 202, description = "Queued", body = JobStatus, headers(("Location" = String, description = "/v1/jobs/{id}"))),
              (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 415, body = ApiError), (status = 422, body = ApiError)),
    security(("bearer" = []))
)]
async fn resolve(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let plan = super::editing::resolve_request(&app, &id, &headers, &body)?;
    let Ok(intake) = app.intake.acquire().await else {
        return Err(ApiError::new("shutting_down", "the service is shutting down"));
    };
    queue_plan(&app, intake, plan, q.wait).await
}

/// How long a request with `?wait=true` waits: nine tenths of the request timeout.
fn wait_budget(app: &App) -> std::time::Duration {
    std::time::Duration::from_millis(app.cfg.request_timeout.saturating_mul(1000) * 9 / 10)
}

fn job_status(app: &App, id: &str) -> Result<JobStatus, ApiError> {
    match app.store.job(id) {
        Ok(Some(j)) => Ok(j.into()),
        Ok(None) => Err(ApiError::new("not_found", "no such job")),
        Err(e) => Err(ApiError::store("reading job", &e)),
    }
}

/// A job: queued, running (with progress), done (with the plan's location) or failed (with the reason).
#[utoipa::path(
    get, path = "/v1/jobs/{id}", tag = "plans",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, body = JobStatus),
        (status = 401, body = ApiError), (status = 404, body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn get_job(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<JobStatus>, ApiError> {
    require(&app, &headers, Scope::Read)?;
    valid_id(&id)?;
    Ok(Json(job_status(&app, &id)?))
}

fn artefact(app: &App, id: &str, which: Artefact) -> Result<Vec<u8>, ApiError> {
    valid_id(id)?;
    match app.store.artefact(id, which) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => match app.store.job(id) {
            Ok(Some(j)) if j.state == "failed" => Err(ApiError::new(
                "job_failed",
                &format!("job {id} failed, so it has no plan: /v1/jobs/{id} says why"),
            )),
            Ok(Some(j)) => Err(ApiError::new(
                "not_ready",
                &format!("job {id} is {}: the plan is not ready yet", j.state),
            )),
            Ok(None) => Err(ApiError::new("not_found", "no such plan")),
            Err(e) => Err(ApiError::store("reading job", &e)),
        },
        Err(e) => Err(ApiError::store("reading plan", &e)),
    }
}

fn plan_response(app: &App, id: &str) -> Result<PlanResponse, ApiError> {
    let bytes = artefact(app, id, Artefact::Summary)?;
    let summary = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::internal(&format!("stored summary: {e}")))?;
    Ok(PlanResponse {
        id: id.to_string(),
        summary,
        links: PlanLinks {
            assignments_csv: format!("/v1/plans/{id}/assignments.csv"),
            schools_csv: format!("/v1/plans/{id}/schools.csv"),
            certificate_json: format!("/v1/plans/{id}/certificate.json"),
            published: {
                let mut names = app
                    .store
                    .plan_file_names(id)
                    .map_err(|e| ApiError::store("reading plan files", &e))?;
                names.retain(|n| !jobs::KEPT.contains(&n.as_str()));
                let explain = names
                    .iter()
                    .any(|n| n == "districts.csv")
                    .then(|| format!("/v1/plans/{id}/explain"));
                names.iter().map(|n| format!("/v1/plans/{id}/files/{n}")).chain(explain).collect()
            },
        },
    })
}

/// `GET /v1/plans/{id}/explain`: a block id or an address.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    /// A block id.
    pub block: Option<String>,
    /// An address: "Street 12", or a street name alone.
    pub address: Option<String>,
}

fn plan_file(app: &App, id: &str, name: &str) -> Result<Vec<u8>, ApiError> {
    valid_id(id)?;
    if !jobs::PUBLISHED.contains(&name) && !jobs::KEPT.contains(&name) {
        return Err(ApiError::new(
            "not_found",
            &format!("no published file '{name}' (known: {})", jobs::PUBLISHED.join(", ")),
        ));
    }
    artefact(app, id, Artefact::Summary)?;
    match app.store.plan_file(id, name) {
        Ok(Some(b)) => Ok(b),
        Ok(None) if jobs::KEPT.contains(&name) => Err(ApiError::new(
            "not_found",
            &format!(
                "plan {id} has no {name}: only a plan that routed its walks ('routing') keeps them"
            ),
        )),
        Ok(None) => Err(ApiError::new(
            "not_found",
            &format!("plan {id} has no {name}: submit the plan with 'blocks' to publish districts"),
        )),
        Err(e) => Err(ApiError::store("reading plan file", &e)),
    }
}

/// A published file of a plan: `districts.csv`, `districts.geojson`, `streets.csv`,
/// `split-streets.csv`, `streets.html`, `report.html`, `routing-check.csv`, `edit.json`,
/// `pins.csv` (publishable: no pupil appears); or, for a plan that routed its walks, the
/// internal `matrix.csv` (pupil ids: a token with the `read` scope), `block-matrix.csv` and
/// their `.meta.json` sidecars, from which `catchment check --plan` verifies the plan.
#[utoipa::path(
    get, path = "/v1/plans/{id}/files/{name}", tag = "plans",
    params(("id" = String, Path, description = "Plan id"), ("name" = String, Path, description = "File name")),
    responses((status = 200, description = "The file", body = String), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security((), ("bearer" = []))
)]
async fn get_plan_file(
    State(app): State<Arc<App>>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if matches!(name.as_str(), "matrix.csv" | "matrix.csv.meta.json") {
        // The pupils' walks the plan was solved with: pupil ids (the block matrix has none).
        require(&app, &headers, Scope::Read)?;
    } else {
        publishable(&app, &headers)?;
    }
    let bytes = plan_file(&app, &id, &name)?;
    Ok(tagged_file(&headers, bytes, content_type(&name)))
}

/// Why a block or an address belongs to its school (English and German), from the plan's
/// published districts and prices (publishable).
#[utoipa::path(
    get, path = "/v1/plans/{id}/explain", tag = "plans",
    params(("id" = String, Path, description = "Plan id"), ExplainQuery),
    responses((status = 200, description = "One explanation per district the query falls in", body = Object),
              (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security((), ("bearer" = []))
)]
async fn explain(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ExplainQuery>,
    headers: HeaderMap,
) -> Result<Json<crate::districts::files::Answer>, ApiError> {
    publishable(&app, &headers)?;
    let query = match (q.block, q.address) {
        (Some(b), None) => crate::districts::files::Query::Block(b),
        (None, Some(a)) => crate::districts::files::Query::Address(a),
        _ => {
            return Err(ApiError::new(
                "bad_request",
                "give exactly one of ?block=ID or ?address=Street 12",
            ))
        }
    };
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    let districts = text(plan_file(&app, &id, "districts.csv")?);
    let streets = match app.store.plan_file(&id, "streets.csv") {
        Ok(b) => b.map(text),
        Err(e) => return Err(ApiError::store("reading plan file", &e)),
    };
    let schools = crate::output::school_names(&text(artefact(&app, &id, Artefact::Schools)?));
    crate::districts::files::explain_from_files(&districts, streets.as_deref(), &schools, &query)
        .map(Json)
        .map_err(ApiError::from_library)
}

/// A stored simulation: `simulation.json` of `catchment simulate` and its links.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SimulationResponse {
    /// The simulation's id.
    pub id: String,
    /// Path of the simulated plan.
    pub plan: String,
    /// Path of the per-school table as CSV (`simulation.csv`).
    pub simulation_csv: String,
    /// Per school: expected load, P(over capacity), P(some class over its size), 95th
    /// percentile load, buffer (seats to hold back), short.
    #[schema(value_type = Object)]
    pub simulation: serde_json::Value,
}

fn simulation_response(
    id: &str,
    plan_id: &str,
    json: &[u8],
) -> Result<SimulationResponse, ApiError> {
    Ok(SimulationResponse {
        id: id.to_string(),
        plan: format!("/v1/plans/{plan_id}"),
        simulation_csv: format!("/v1/simulations/{id}/simulation.csv"),
        simulation: serde_json::from_slice(json)
            .map_err(|e| ApiError::internal(&format!("stored simulation: {e}")))?,
    })
}

/// Simulate a plan's robustness: its districts fixed, pupils move away, newcomers appear where
/// the residents are, the cohort varies. Checked at once (the plan must be done and have been
/// submitted with `blocks`; at most `jobs::MAX_DRAWS` draws), then run as a job like a plan's (any
/// worker, with a lease); `?wait=true` answers with the simulation once it is stored.
#[utoipa::path(
    post, path = "/v1/plans/{id}/simulations", tag = "simulations",
    params(("id" = String, Path, description = "Plan id"), SubmitQuery),
    request_body(content = SimulationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "With ?wait=true: done and stored", body = SimulationResponse,
         headers(("Location" = String, description = "/v1/simulations/{id}"))),
        (status = 202, description = "Queued; poll the Location", body = JobStatus,
         headers(("Location" = String, description = "/v1/jobs/{id}"))),
        (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, description = "The plan is not finished", body = ApiError),
        (status = 422, description = "Bad parameters, or a plan without districts", body = ApiError),
    ),
    security(("bearer" = []))
)]
async fn submit_simulation(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&app, &headers, Scope::Write)?;
    require_json(&headers)?;
    if app.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new("shutting_down", "the service is shutting down"));
    }
    let req: SimulationRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SimulationRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new("bad_request", &format!("the body is not a simulation request: {e}"))
        })?
    };
    let (model, opts) = jobs::simulation_params(&req)?;
    // The plan is done (or the answer says why not), and has districts.
    artefact(&app, &id, Artefact::Schools)?;
    let schools = jobs::simulation_inputs(&app, &id)?;
    crate::report::simulate::validate(&schools, &model, &opts)
        .map_err(|e| ApiError::new("invalid_input", &e.to_string()))?;
    let sid = new_id();
    let job = serde_json::to_string(&SimulationJob { plan: id.clone(), request: req })
        .map_err(|e| ApiError::internal(&format!("simulation {sid}: {e}")))?;
    app.store
        .insert_job(&sid, Kind::Simulation, &job, 0, schools.len())
        .map_err(|e| ApiError::store("storing simulation", &e))?;
    tracing::info!(simulation = %sid, plan = %id, draws = opts.draws, "simulation queued");
    let (status, body, location) =
        match jobs::start(&app, &sid, None, q.wait, wait_budget(&app)).await {
            Some(Ok(())) => {
                let (plan, json, _) = stored_simulation(&app, &sid)?;
                let done = Json(simulation_response(&sid, &plan, &json)?).into_response();
                (StatusCode::CREATED, done, format!("/v1/simulations/{sid}"))
            }
            Some(Err(e)) => return Err(e),
            None => (
                StatusCode::ACCEPTED,
                Json(job_status(&app, &sid)?).into_response(),
                format!("/v1/jobs/{sid}"),
            ),
        };
    let mut r = (status, body).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

fn stored_simulation(app: &App, id: &str) -> Result<super::store::StoredSimulation, ApiError> {
    valid_id(id)?;
    match app.store.simulation(id) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => match app.store.job(id) {
            Ok(Some(j)) if j.kind == Kind::Simulation && j.state == "failed" => Err(ApiError::new(
                "job_failed",
                &format!("simulation {id} failed: /v1/jobs/{id} says why"),
            )),
            Ok(Some(j)) if j.kind == Kind::Simulation => Err(ApiError::new(
                "not_ready",
                &format!("simulation {id} is {}: poll /v1/jobs/{id}", j.state),
            )),
            Ok(_) => Err(ApiError::new("not_found", "no such simulation")),
            Err(e) => Err(ApiError::store("reading simulation", &e)),
        },
        Err(e) => Err(ApiError::store("reading simulation", &e)),
    }
}

/// A stored simulation (publishable: no pupil appears).
#[utoipa::path(
    get, path = "/v1/simulations/{id}", tag = "simulations",
    params(("id" = String, Path, description = "Simulation id")),
    responses((status = 200, body = SimulationResponse), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security((), ("bearer" = []))
)]
async fn get_simulation(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<SimulationResponse>, ApiError> {
    publishable(&app, &headers)?;
    let (plan, json, _) = stored_simulation(&app, &id)?;
    Ok(Json(simulation_response(&id, &plan, &json)?))
}

/// A stored simulation's table: `simulation.csv` of `catchment simulate` (publishable).
#[utoipa::path(
    get, path = "/v1/simulations/{id}/simulation.csv", tag = "simulations",
    params(("id" = String, Path, description = "Simulation id")),
    responses((status = 200, description = "CSV", body = String), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security((), ("bearer" = []))
)]
async fn get_simulation_csv(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    publishable(&app, &headers)?;
    let (_, _, csv) = stored_simulation(&app, &id)?;
    Ok(file(csv, "text/csv; charset=utf-8"))
}

/// A plan's summary: walking distances, loads, prices (publishable: no pupil appears).
#[utoipa::path(
    get, path = "/v1/plans/{id}", tag = "plans",
    params(("id" = String, Path, description = "Plan id (the job id)")),
    responses((status = 200, body = PlanResponse), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, description = "Not finished yet", body = ApiError)),
    security((), ("bearer" = []))
)]
async fn get_plan(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PlanResponse>, ApiError> {
    publishable(&app, &headers)?;
    Ok(Json(plan_response(&app, &id)?))
}

/// Every pupil's school (internal: contains pupil ids; always needs a token).
#[utoipa::path(
    get, path = "/v1/plans/{id}/assignments.csv", tag = "plans",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security(("bearer" = []))
)]
async fn get_assignments(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&app, &headers, Scope::Read)?;
    Ok(file(artefact(&app, &id, Artefact::Assignments)?, "text/csv; charset=utf-8"))
}

/// Every school's load, utilisation and price (publishable).
#[utoipa::path(
    get, path = "/v1/plans/{id}/schools.csv", tag = "plans",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security((), ("bearer" = []))
)]
async fn get_schools(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    publishable(&app, &headers)?;
    Ok(file(artefact(&app, &id, Artefact::Schools)?, "text/csv; charset=utf-8"))
}

/// The certificate of optimality: objective and school prices (publishable).
#[utoipa::path(
    get, path = "/v1/plans/{id}/certificate.json", tag = "plans",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, content_type = "application/json", body = Object), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security((), ("bearer" = []))
)]
async fn get_certificate(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    publishable(&app, &headers)?;
    Ok(file(artefact(&app, &id, Artefact::Certificate)?, "application/json"))
}

/// Liveness and the store's health.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, description = "ok", body = String), (status = 503, body = ApiError)))]
async fn healthz(State(app): State<Arc<App>>) -> Result<&'static str, ApiError> {
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || app2.store.ping())
        .await
        .map_err(|_| ApiError::internal("the health check panicked"))?
        .map_err(|e| ApiError::store("health check", &e))?;
    Ok("ok\n")
}

/// Readiness: the service can take work, i.e. the work directory and the database can be
/// written (a probe file and a probe row). 503 with the reason otherwise; `/healthz` only says
/// the process and the database answer.
#[utoipa::path(get, path = "/readyz", tag = "service", responses((status = 200, description = "ready", body = String), (status = 503, description = "The store cannot write; `message` says why", body = ApiError)))]
async fn readyz(State(app): State<Arc<App>>) -> Result<&'static str, ApiError> {
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || jobs::ready(&app2))
        .await
        .map_err(|_| ApiError::internal("the readiness check panicked"))?
        .map_err(|reason| ApiError::new("unavailable", &reason))?;
    Ok("ready\n")
}

/// Counters and gauges in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let counts = app.store.counts().map_err(|e| ApiError::store("counting jobs", &e))?;
    Ok(file(
        app.metrics.render(&counts, &app.node, app.cfg.role.name()).into_bytes(),
        "text/plain; version=0.0.4; charset=utf-8",
    ))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "catchment", description = "Optimal school catchment areas as a service: submit an instance, poll the job, fetch the plan."),
    paths(submit_plan, get_job, get_plan, get_assignments, get_schools, get_certificate, get_plan_file, explain, submit_simulation, get_simulation, get_simulation_csv, healthz, readyz, metrics, openapi, super::scenarios::submit, super::scenarios::get_set, super::scenarios::get_file, super::sites::submit_sites, super::sites::get_sites, super::sites::get_sites_file, super::editing::evaluate, super::editing::reoptimise, resolve, super::editing::version_pins, super::editing::save_version, super::editing::list_versions, super::editing::get_version, super::editing::diff, super::page::index, super::page::script, super::page::style),
    components(schemas(PlanRequest, TableInput, PlanForm, RoutingSpec, StabilitySpec, ApiError, JobStatus, Progress, PlanResponse, PlanLinks, SimulationRequest, SimulationResponse, super::model::ScenarioSetRequest, super::scenarios::ScenarioSetStatus, super::model::SitesRequest, super::sites::SitesStatus, super::editing::EvaluateRequest, super::editing::ReoptimiseRequest, super::editing::Reoptimised, super::editing::ResolveRequest, super::editing::VersionRequest, super::editing::Version, super::editing::Diff, super::editing::ChangedBlock, super::editing::SchoolDiff)),
    modifiers(&BearerScheme)
)]
/// The OpenAPI document of the service, served at `/openapi.json`.
pub struct ApiDoc;

async fn not_found() -> ApiError {
    ApiError::new("not_found", "no such route; see /openapi.json")
}

/// Every route once: `ROUTES` (method, path) and the router are made from this one list.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every route of the service: (method, path), as the router serves them. Tests walk
        /// this list (the privacy scan, JSON error answers).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Every route of the service (with the OpenAPI document), on the shared state `app`.
        pub fn router(app: Arc<App>) -> Router {
            Router::new()
                $(.route($path, $method($handler)))*
                .fallback(not_found)
                .with_state(app)
        }
    };
}

routes! {
    post "/v1/plans" => submit_plan,
    get "/v1/jobs/{id}" => get_job,
    get "/v1/plans/{id}" => get_plan,
    get "/v1/plans/{id}/assignments.csv" => get_assignments,
    get "/v1/plans/{id}/schools.csv" => get_schools,
    get "/v1/plans/{id}/certificate.json" => get_certificate,
    get "/v1/plans/{id}/files/{name}" => get_plan_file,
    get "/v1/plans/{id}/explain" => explain,
    post "/v1/plans/{id}/evaluate" => super::editing::evaluate,
    post "/v1/plans/{id}/reoptimise" => super::editing::reoptimise,
    post "/v1/plans/{id}/resolve" => resolve,
    post "/v1/plans/{id}/versions" => super::editing::save_version,
    get "/v1/plans/{id}/versions" => super::editing::list_versions,
    get "/v1/versions/{id}" => super::editing::get_version,
    get "/v1/versions/{id}/pins.csv" => super::editing::version_pins,
    get "/v1/diff" => super::editing::diff,
    get "/" => super::page::index,
    get "/page.js" => super::page::script,
    get "/page.css" => super::page::style,
    post "/v1/scenarios" => super::scenarios::submit,
    get "/v1/scenarios/{id}" => super::scenarios::get_set,
    get "/v1/scenarios/{id}/files/{*path}" => super::scenarios::get_file,
    post "/v1/sites" => super::sites::submit_sites,
    get "/v1/sites/{id}" => super::sites::get_sites,
    get "/v1/sites/{id}/files/{*path}" => super::sites::get_sites_file,
    post "/v1/plans/{id}/simulations" => submit_simulation,
    get "/v1/simulations/{id}" => get_simulation,
    get "/v1/simulations/{id}/simulation.csv" => get_simulation_csv,
    get "/healthz" => healthz,
    get "/readyz" => readyz,
    get "/metrics" => metrics,
    get "/openapi.json" => openapi,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn internal_errors_answer_with_a_reference_only() {
        let secret_detail = "/var/lib/catchment/pupils.csv: permission denied at 52.1234,11.6543";
        for e in [
            Error::internal(secret_detail),
            Error::Solver(secret_detail.into()),
            Error::io(secret_detail, std::io::Error::other("disk full")),
        ] {
            let a = ApiError::from_library(e);
            assert_eq!(a.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(a.error, "internal");
            assert!(a.message.starts_with("internal error (reference "), "{}", a.message);
            assert!(
                !a.message.contains("52.")
                    && !a.message.contains("/var")
                    && !a.message.contains("disk"),
                "{}",
                a.message
            );
            assert!(a.problems.is_empty());
        }
    }

    /// The router's routes and the OpenAPI document's are the same.
    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(p, ops)| {
                ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone()))
            })
            .collect();
        let mut routed: Vec<(String, String)> =
            ROUTES.iter().map(|(m, p)| (m.to_string(), p.replace("{*", "{"))).collect();
        documented.sort();
        routed.sort();
        assert_eq!(routed, documented);
    }

    #[test]
    fn input_errors_keep_the_library_text() {
        let e = Error::input("pupils.csv", Some(3), Some("lat"), "not a number");
        let text = e.to_string();
        let a = ApiError::from_library(e);
        assert_eq!(
            (a.status(), a.message.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, text.as_str())
        );
        assert_eq!(a.problems[0]["line"], 3);
    }
}
