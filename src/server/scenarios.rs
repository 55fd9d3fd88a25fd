//! Scenario sets over HTTP: a scenario file (TOML) and the files it names, run as a job by
//! `scenario::batch` exactly as `catchment batch` runs it, stored in SQLite.

use super::access::{content_type, file, new_id, publishable, require, require_json, valid_id};
use super::auth::Scope;
use super::error::ApiError;
use super::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use utoipa::ToSchema;

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
            state,
            error: error.as_deref().and_then(|e| serde_json::from_str(e).ok()),
            files: names.iter().map(|n| format!("/v1/scenarios/{id}/files/{n}")).collect(),
        }),
        Ok(None) => Err(ApiError::new("not_found", "no such scenario set")),
        Err(e) => Err(ApiError::store("reading scenario set", &e)),
    }
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

/// Write the scenario file and the uploaded files into `input`.
fn write_inputs(input: &std::path::Path, req: &ScenarioSetRequest) -> std::io::Result<()> {
    std::fs::create_dir_all(input)?;
    for (name, text) in &req.files {
        std::fs::write(input.join(name), text)?;
    }
    std::fs::write(input.join("scenarios.toml"), &req.scenarios)
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

/// Run a stored scenario set: it waits for a solve slot, its inputs are written from the store
/// into the work directory, `scenario::batch` runs on a blocking thread and the outputs are
/// stored (the inputs then deleted). A shutdown that cuts it off leaves it in the store, and the
/// next start runs it again.
pub fn spawn(app: Arc<App>, id: String) {
    tokio::spawn(async move {
        let Ok(_permit) = app.solves.acquire().await else { return };
        let cancel = crate::cancel::Cancel::new();
        {
            // As for plan jobs: either the shutdown waits for this set, or it stays stored.
            let mut running = app.running.lock().unwrap_or_else(|e| e.into_inner());
            if app.shutting_down.load(SeqCst) {
                return;
            }
            running.insert(id.clone(), cancel.clone());
        }
        let ended = |app: &App| {
            app.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            app.idle.notify_waiters();
        };
        let request = match app.store.start_scenario_set(&id) {
            Ok(Some(text)) => text,
            Ok(None) => return ended(&app),
            Err(e) => {
                tracing::error!(scenarios = %id, "store: {e}");
                return ended(&app);
            }
        };
        let root = app.work_dir.join(format!("scenarios-{id}"));
        let r2 = root.clone();
        let flag = cancel.clone();
        let result = tokio::task::spawn_blocking(move || {
            flag.scope(|| -> Result<Vec<(String, Vec<u8>)>, ApiError> {
                let req: ScenarioSetRequest = serde_json::from_str(&request).map_err(|e| {
                    ApiError::internal(&format!("stored scenario set unreadable: {e}"))
                })?;
                let (input, out) = (r2.join("in"), r2.join("out"));
                let _ = std::fs::remove_dir_all(&r2);
                write_inputs(&input, &req)
                    .map_err(|e| ApiError::internal(&format!("writing its files: {e}")))?;
                crate::scenario::batch(&input.join("scenarios.toml"), &out, 1)
                    .map_err(ApiError::from_library)?;
                let mut files = Vec::new();
                collect(&out, "", &mut files)
                    .map_err(|e| ApiError::internal(&format!("reading the outputs: {e}")))?;
                Ok(files)
            })
        })
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("the scenario run panicked")));
        if result.is_err() && cancel.is_cancelled() {
            // Stopped at the grace: it runs again at the next start, the attempt not counted.
            // Whoever takes it out of `running` puts it back.
            let mine = app.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id).is_some();
            if mine {
                tracing::warn!(scenarios = %id, "stopped at the grace; resumed at the next start");
                let _ = app.store.requeue_scenario_set(&id);
            }
            let _ = std::fs::remove_dir_all(&root);
            app.idle.notify_waiters();
            return;
        }
        if app.shutting_down.load(SeqCst)
            && !app.running.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&id)
        {
            // The shutdown gave up on this set; it runs again at the next start.
            return;
        }
        let stored = match result {
            Ok(files) => app.store.finish_scenario_set(&id, &files),
            // Stored for read tokens to see: without pupil-level detail.
            Err(e) => app
                .store
                .fail_scenario_set(&id, &serde_json::to_string(&e.public()).unwrap_or_default()),
        };
        if let Err(e) = stored {
            tracing::error!(scenarios = %id, "storing the scenario set: {e}");
        }
        let _ = std::fs::remove_dir_all(&root);
        ended(&app);
    });
}

/// At start: run again every scenario set an earlier run left unfinished, or fail it with the
/// reason when crashes interrupted it `max_attempts` times (or its inputs were not stored).
pub fn resume(app: &Arc<App>) -> super::store::DbResult<()> {
    for (id, attempts, stored) in app.store.unfinished_scenario_sets()? {
        let reason = if !stored {
            Some("the service restarted while this scenario set ran and its inputs were not stored; submit it again".to_string())
        } else if attempts >= app.cfg.max_attempts {
            Some(format!(
                "the service stopped while this scenario set was running ({attempts} of at most {} attempts); it was not resumed: submit it again",
                app.cfg.max_attempts
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            tracing::warn!(scenarios = %id, attempts, "interrupted scenario set failed");
            let e = ApiError::new("interrupted", &reason);
            app.store.fail_scenario_set(&id, &serde_json::to_string(&e).unwrap_or_default())?;
            continue;
        }
        tracing::info!(scenarios = %id, "resuming scenario set");
        spawn(app.clone(), id);
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
    if let Err(e) = write_inputs(&input, &req) {
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
        .insert_scenario_set(&id, &stored)
        .map_err(|e| ApiError::store("storing scenario set", &e))?;
    tracing::info!(scenarios = %id, "scenario set queued");
    spawn(app.clone(), id.clone());
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
    // Without a token (public artefacts) a failure says what kind it was, not its detail: the
    // detail may name pupils (an infeasible scenario lists them).
    if require(&app, &headers, Scope::Read).is_err() {
        if let Some(e) = &mut st.error {
            e.message = format!(
                "the scenario set failed ({}); a token with the 'read' scope shows why",
                e.error
            );
            e.problems.clear();
            e.hint = None;
        }
    }
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
    Ok(file(bytes, content_type(&path)))
}
