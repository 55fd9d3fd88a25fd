//! The planning page at `/`: one HTML file, its script and its style sheet, embedded in the
//! binary (`include_str!`), served with a Content-Security-Policy that allows nothing but
//! this service (no CDN, no map tiles: the map is drawn from the plan's own blocks), so it
//! works offline on a city's intranet. Everything the page does is an API call documented in
//! `/openapi.json` (evaluate, re-optimise, versions, diff); moves are evaluated in the browser
//! from the plan's `edit.json` with the arithmetic of `districts::edit::evaluate`.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/page.js");
const STYLE: &str = include_str!("page/page.css");

/// Only this service: scripts and styles from its own files, requests to itself.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// The planning page (sign in with a token; publishable: it holds no data of its own).
#[utoipa::path(get, path = "/", tag = "page", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// The planning page's script.
#[utoipa::path(get, path = "/page.js", tag = "page", responses((status = 200, content_type = "text/javascript", body = String)))]
pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// The planning page's style sheet.
#[utoipa::path(get, path = "/page.css", tag = "page", responses((status = 200, content_type = "text/css", body = String)))]
pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}
