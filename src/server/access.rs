//! What every route needs: token checks, ids, and stored files as responses.

use super::auth::{self, Denied, Scope};
use super::error::ApiError;
use super::App;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

pub(super) fn require(app: &App, headers: &HeaderMap, needed: Scope) -> Result<(), ApiError> {
    let h = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    auth::authorize(&app.tokens, h, needed).map(|_| ()).map_err(|d| match d {
        Denied::Unauthenticated => ApiError::new(
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        ),
        Denied::Forbidden => {
            ApiError::new("forbidden", "this token may not do this: it lacks the 'write' scope")
        }
    })
}

/// The media type of a request without its parameters (`; charset=...`), lower case; empty
/// when there is no `Content-Type`.
pub(super) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A JSON body: `application/json` (parameters allowed) or no `Content-Type`; anything else,
/// `application/jsonbogus` included, is 415.
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers).as_str() {
        "" | "application/json" => Ok(()),
        _ => Err(ApiError::new("unsupported_media_type", "send the body as application/json")),
    }
}

pub(super) fn valid_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ApiError::new("not_found", "no such job or plan"))
    }
}

pub(super) fn new_id() -> String {
    auth::hex(&rand::random::<[u8; 16]>())
}

pub(super) fn publishable(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    if app.cfg.public_artefacts {
        Ok(())
    } else {
        require(app, headers, Scope::Read)
    }
}

/// The content type of a stored file, by its extension.
pub(super) fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("geojson") => "application/geo+json",
        _ => "application/octet-stream",
    }
}

pub(super) fn file(bytes: Vec<u8>, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

/// A stored failure as a caller without a `read` token sees it: what kind it was, not its
/// detail, which may name pupils (an infeasibility lists them). `what` names the job
/// ("the scenario set").
pub(super) fn failure_for(
    app: &super::App,
    headers: &axum::http::HeaderMap,
    what: &str,
    error: &mut Option<ApiError>,
) {
    if require(app, headers, Scope::Read).is_err() {
        if let Some(e) = error {
            e.message =
                format!("{what} failed ({}); a token with the 'read' scope shows why", e.error);
            e.problems.clear();
            e.hint = None;
        }
    }
}

/// A stored file as a response tagged with its content hash (`ETag: "sha256-<hex>"`, the name
/// it is stored under); 304 Not Modified when the request's `If-None-Match` names it.
pub(super) fn tagged_file(
    headers: &axum::http::HeaderMap,
    bytes: Vec<u8>,
    content_type: &'static str,
) -> Response {
    let tag = format!("\"sha256-{}\"", super::store::content_hash(&bytes));
    let known = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut r = if known {
        axum::http::StatusCode::NOT_MODIFIED.into_response()
    } else {
        file(bytes, content_type)
    };
    if let Ok(v) = axum::http::HeaderValue::from_str(&tag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}
