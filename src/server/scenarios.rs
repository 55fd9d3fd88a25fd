//! Scenario sets over HTTP: a scenario file (TOML) and the files it names, run as a job (like
//! a plan's: queued, claimed by any worker, leased, taken over) by `scenario::batch` exactly as
//! `catchment batch` runs it ([`super::jobs`]), its files stored in the database.

use super::access::{
    content_type, failure_for, new_id, publishable, require, require_json, tagged_file, valid_id,
};
use super::auth::Scope;
use super::error::ApiError;
use super::model::ScenarioSetRequest;
use super::store::Kind;
use super::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// `GET /v1/scenarios/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScenarioSetStatus {
    /// The scenario set's id.
    pub id: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// Why the set failed (`state` = `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Links to the stored files: `comparison.csv`, `comparison.md`, and every scenario's plan
    /// files (`<scenario>/summary.json`, ...).
    pub files: Vec<String>,
}

const MAX_FILES: usize = 50;

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 100
        && !n.starts_with('.')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn status(app: &App, id: &str) -> Result<ScenarioSetStatus, ApiError> {
    valid_id(id)?;
    match app.store.scenario_set(id) {
        Ok(Some((state, error, names))) => Ok(ScenarioSetStatus {
            id: id.to_string(),
            // Queued or being solved: running, as far as its submitter is concerned.
            state: if state == "queued" { "running".into() } else { state },
            error: error.as_deref().and_then(|e| serde_json::from_str(e).ok()),
            files: names.iter().map(|n| format!("/v1/scenarios/{id}/files/{n}")).collect(),
        }),
        Ok(None) => Err(ApiError::new("not_found", "no such scenario set")),
        Err(e) => Err(ApiError::store("reading scenario set", &e)),
    }
}

/// The scenario file in `input` parses and names uploaded files only.
fn check(input: &std::path::Path, req: &ScenarioSetRequest) -> crate::Result<()> {
    let f = crate::scenario::load(&input.join("scenarios.toml"))?;
    let mut paths: Vec<&std::path::Path> = vec![&f.base.schools, &f.base.pupils, &f.base.matrix];
    paths.extend(f.base.blocks.as_deref());
    for s in &f.scenarios {
        paths.extend(
            [s.pupils.as_deref(), s.matrix.as_deref(), s.previous.as_deref()].into_iter().flatten(),
        );
        paths.extend(s.add_school.iter().map(|a| a.matrix.as_path()));
    }
    for p in paths {
        let uploaded = p.parent() == Some(input)
            && p.file_name().is_some_and(|n| req.files.contains_key(&*n.to_string_lossy()));
        if !uploaded {
            let shown = p.strip_prefix(input).unwrap_or(p).display().to_string();
            return Err(crate::Error::input(
                "scenarios.toml",
                None,
                None,
                format!("names the file '{shown}', which is not among the uploaded files"),
            ));
        }
    }
    Ok(())
}

/// Submit a scenario set: the file is read and checked at once (errors name the scenario and
/// the key; every path must be one of the uploaded files), then the scenarios are solved as a
/// job. Answers 202 with the set's location.
#[utoipa::path(
    post, path = "/v1/scenarios", tag = "scenarios",
    request_body(content = ScenarioSetRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Running; poll the Location", body = ScenarioSetStatus,
         headers(("Location" = String, description = "/v1/scenarios/{id}"))),
        (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 422, description = "The scenario file is invalid or names a file not uploaded", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn submit(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    use axum::extract::FromRequest;
    require(&app, request.headers(), Scope::Write)?;
    let headers = request.headers().clone();
    if app.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new("shutting_down", "the service is shutting down"));
    }
    // Read and checked within an intake permit, as plan uploads are (`api::submit_plan`).
    let Ok(_intake) = app.intake.acquire().await else {
        return Err(ApiError::new("shutting_down", "the service is shutting down"));
    };
    let body = axum::body::Bytes::from_request(request, &()).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
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
    })?;
    // After the body: one over the limit is 413 whatever its media type.
    require_json(&headers)?;
    let req: ScenarioSetRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new("bad_request", &format!("the body is not a scenario set request: {e}"))
    })?;
    if req.files.len() > MAX_FILES {
        return Err(ApiError::new("bad_request", &format!("at most {MAX_FILES} files")));
    }
    if let Some(bad) = req.files.keys().find(|n| !valid_name(n) || n.as_str() == "scenarios.toml") {
        return Err(ApiError::new(
            "bad_request",
            &format!("file name '{bad}': names are letters, digits, '-', '_', '.' (no paths), and not scenarios.toml"),
        ));
    }
    let id = new_id();
    let root = app.work_dir.join(format!("scenarios-{id}"));
    let input = root.join("in");
    if let Err(e) = super::jobs::write_scenario_inputs(&input, &req) {
        let _ = std::fs::remove_dir_all(&root);
        return Err(ApiError::internal(&format!("scenario set {id}: writing its files: {e}")));
    }
    // The file must parse and name uploaded files only.
    let checked = check(&input, &req);
    let _ = std::fs::remove_dir_all(&root);
    checked.map_err(ApiError::from_library)?;
    // The inputs are kept in the store until the set ends, so a restart resumes it.
    let stored = serde_json::to_string(&req)
        .map_err(|e| ApiError::internal(&format!("scenario set {id}: {e}")))?;
    app.store
        .insert_job(&id, Kind::Scenarios, &stored, 0, 0)
        .map_err(|e| ApiError::store("storing scenario set", &e))?;
    tracing::info!(scenarios = %id, "scenario set queued");
    // Run as a job like a plan's: here (`--role all`) or by any worker.
    super::jobs::start(&app, &id, None, false, std::time::Duration::ZERO).await;
    let mut r = (StatusCode::ACCEPTED, Json(status(&app, &id)?)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/scenarios/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// A scenario set's state and, once done, its files.
#[utoipa::path(
    get, path = "/v1/scenarios/{id}", tag = "scenarios",
    params(("id" = String, Path, description = "Scenario set id")),
    responses((status = 200, body = ScenarioSetStatus), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn get_set(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ScenarioSetStatus>, ApiError> {
    publishable(&app, &headers)?;
    let mut st = status(&app, &id)?;
    failure_for(&app, &headers, "the scenario set", &mut st.error);
    Ok(Json(st))
}

/// One file of a finished scenario set: `comparison.csv`, `comparison.md`,
/// `<scenario>/<file>`. Scenario `assignments.csv` and `matrix.csv` (and its `.meta.json`) files
/// contain pupils and always need a token.
#[utoipa::path(
    get, path = "/v1/scenarios/{id}/files/{path}", tag = "scenarios",
    params(("id" = String, Path, description = "Scenario set id"), ("path" = String, Path, description = "e.g. comparison.md or draft-law/summary.json")),
    responses((status = 200, description = "The file", body = String), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn get_file(
    State(app): State<Arc<App>>,
    Path((id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Pupil ids: the assignments and the pupil matrix each plan keeps (with its sidecar).
    let name = path.rsplit('/').next().unwrap_or("");
    if matches!(name, "assignments.csv" | "matrix.csv" | "matrix.csv.meta.json") {
        require(&app, &headers, Scope::Read)?;
    } else {
        publishable(&app, &headers)?;
    }
    let st = status(&app, &id)?;
    if st.state != "done" {
        return Err(ApiError::new("not_ready", &format!("scenario set {id} is {}", st.state)));
    }
    let bytes = match app.store.scenario_file(&id, &path) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Err(ApiError::new(
                "not_found",
                &format!("scenario set {id} has no file '{path}'"),
            ))
        }
        Err(e) => return Err(ApiError::store("reading scenario file", &e)),
    };
    Ok(tagged_file(&headers, bytes, content_type(&path)))
}
