//! Where to build over HTTP (`POST /v1/sites`): the inputs of `catchment sites` in a request,
//! checked at submission as the CLI reads them, then run as a job like a plan's (queued,
//! claimed by any worker, leased, taken over) by `sites::choose` ([`super::jobs`]); its files
//! (`sites.csv`, `sites.md`, `sites.geojson`, `sites.html`, every k's plan) stored in the
//! database.

use super::access::{
    failure_for, new_id, publishable, require, require_json, tagged_file, valid_id,
};
use super::auth::Scope;
use super::error::ApiError;
use super::model::SitesRequest;
use super::store::Kind;
use super::App;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// `GET /v1/sites/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SitesStatus {
    /// The site choice's id.
    pub id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// Why it failed (`state` = `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Links to the stored files once done: `sites.csv`, `sites.md`, `sites.geojson`,
    /// `sites.html` and every k's plan (`plans/k1/summary.json`, ...).
    pub files: Vec<String>,
}

fn status(app: &App, id: &str) -> Result<SitesStatus, ApiError> {
    valid_id(id)?;
    let job = match app.store.job(id) {
        Ok(Some(j)) if j.kind == Kind::Sites => j,
        Ok(_) => return Err(ApiError::new("not_found", "no such site choice")),
        Err(e) => return Err(ApiError::store("reading the site choice", &e)),
    };
    let names = app
        .store
        .job_file_names(id)
        .map_err(|e| ApiError::store("reading the site choice's files", &e))?;
    Ok(SitesStatus {
        id: id.to_string(),
        state: job.state,
        error: job.error.as_deref().and_then(|e| serde_json::from_str(e).ok()),
        files: names.iter().map(|n| format!("/v1/sites/{id}/files/{n}")).collect(),
    })
}

/// Submit a site choice: the inputs are read and checked at once (422 with the messages of
/// `catchment sites`), then the choice runs as a job. Answers 202 with its location.
#[utoipa::path(
    post, path = "/v1/sites", tag = "sites",
    request_body(content = SitesRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Queued; poll the Location", body = SitesStatus,
         headers(("Location" = String, description = "/v1/sites/{id}"))),
        (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 422, description = "An input cannot be read, or an option is out of range", body = ApiError),
    ),
    security(("bearer" = []))
)]
pub async fn submit_sites(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&app, &headers, Scope::Write)?;
    require_json(&headers)?;
    if app.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new("shutting_down", "the service is shutting down"));
    }
    let req: SitesRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new("bad_request", &format!("the body is not a site choice request: {e}"))
    })?;
    let Ok(_intake) = app.intake.acquire().await else {
        return Err(ApiError::new("shutting_down", "the service is shutting down"));
    };
    let id = new_id();
    let (a, i, r) = (app.clone(), id.clone(), req.clone());
    // Read as the CLI reads it: a mistake is answered now, not stored as a failed job.
    let (pupils, schools) = tokio::task::spawn_blocking(move || {
        let dir = a.work_dir.join(format!("sites-check-{i}"));
        let checked = super::jobs::sites_input(&dir, &r)
            .map(|(input, _)| (input.inst.pupils.len(), input.inst.schools.len()));
        let _ = std::fs::remove_dir_all(&dir);
        checked
    })
    .await
    .map_err(|_| ApiError::internal("checking the site choice panicked"))??;
    let stored = serde_json::to_string(&req)
        .map_err(|e| ApiError::internal(&format!("site choice {id}: {e}")))?;
    app.store
        .insert_job(&id, Kind::Sites, &stored, pupils, schools)
        .map_err(|e| ApiError::store("storing the site choice", &e))?;
    tracing::info!(sites = %id, open = req.open, "site choice queued");
    super::jobs::start(&app, &id, None, false, std::time::Duration::ZERO).await;
    let mut r = (StatusCode::ACCEPTED, Json(status(&app, &id)?)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/sites/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// A site choice's state and, once done, its files.
#[utoipa::path(
    get, path = "/v1/sites/{id}", tag = "sites",
    params(("id" = String, Path, description = "Site choice id")),
    responses((status = 200, body = SitesStatus), (status = 401, body = ApiError), (status = 404, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn get_sites(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<SitesStatus>, ApiError> {
    publishable(&app, &headers)?;
    let mut st = status(&app, &id)?;
    failure_for(&app, &headers, "the site choice", &mut st.error);
    Ok(Json(st))
}

/// One file of a finished site choice: `sites.csv`, `sites.md`, `sites.geojson`, `sites.html`,
/// `plans/k<N>/<file>`. A plan's `assignments.csv` and `matrix.csv` (and its `.meta.json`)
/// name pupils and always need a token.
#[utoipa::path(
    get, path = "/v1/sites/{id}/files/{path}", tag = "sites",
    params(("id" = String, Path, description = "Site choice id"), ("path" = String, Path, description = "e.g. sites.csv or plans/k1/districts.csv")),
    responses((status = 200, description = "The file", body = String), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)),
    security((), ("bearer" = []))
)]
pub async fn get_sites_file(
    State(app): State<Arc<App>>,
    Path((id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = path.rsplit('/').next().unwrap_or("");
    if matches!(name, "assignments.csv" | "matrix.csv" | "matrix.csv.meta.json") {
        require(&app, &headers, Scope::Read)?;
    } else {
        publishable(&app, &headers)?;
    }
    let st = status(&app, &id)?;
    if st.state != "done" {
        return Err(ApiError::new("not_ready", &format!("site choice {id} is {}", st.state)));
    }
    match app.store.job_file(&id, &path) {
        Ok(Some(b)) => Ok(tagged_file(&headers, b, super::access::content_type(&path))),
        Ok(None) => {
            Err(ApiError::new("not_found", &format!("site choice {id} has no file '{path}'")))
        }
        Err(e) => Err(ApiError::store("reading the site choice's file", &e)),
    }
}
