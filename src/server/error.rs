//! The service's error answer: a machine-readable kind, the CLI's message, and the status that
//! the library error's variant (or the service's own refusal) decides.

use super::auth;
use crate::error::Setting;
use crate::Error;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer. `error` is a machine-readable kind; `message` is the text `catchment solve`
/// prints for the same input; `problems` lists input problems (file, line, field, message) or
/// infeasibility reasons.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// Machine-readable kind: the library error's kind (`invalid_input`, `infeasible`, ...) or
    /// the service's own (`unauthorized`, `forbidden`, `not_ready`, `timeout`, ...).
    pub error: String,
    /// The human-readable message: for library errors, the text `catchment solve` prints.
    pub message: String,
    /// Input problems (file, line, field, message) or infeasibility reasons, as JSON objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<serde_json::Value>,
    /// What to change, naming the request field (the CLI names its flag instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The HTTP status, from the error's variant (not part of the body).
    #[serde(skip)]
    #[schema(ignore)]
    pub status: Option<u16>,
}

/// The request field (or operator setting) of a setting the library names in a hint.
pub fn field(setting: Setting) -> Option<&'static str> {
    Some(match setting {
        Setting::MaxClassSize => "policy.max_class_size",
        Setting::UnitBlock => "policy.unit = \"block\"",
        Setting::ChangeCost => "stability.change_cost",
        Setting::Blocks => "blocks",
        Setting::Streets => "streets",
        Setting::Contiguous => "policy.contiguous",
        Setting::Nearest => "policy.nearest",
        Setting::AllowUnreachable => "routing.allow_unreachable",
        Setting::OsrmTableSize => "routing.table_size",
        Setting::OsrmAllow => "the OSRM servers the service's operator allows",
        Setting::SkipUngeocoded => "routing.skip_ungeocoded",
        Setting::Osm => "an OSM extract the service's operator gives it at start",
    })
}

impl ApiError {
    /// An answer of `kind` with `message`, no problems and no hint; the status follows from `kind`.
    pub fn new(kind: &str, message: &str) -> Self {
        ApiError {
            error: kind.into(),
            message: message.into(),
            problems: vec![],
            hint: None,
            status: None,
        }
    }

    /// A failure that is not the request's fault: logged in full, answered with a reference only.
    pub fn internal(detail: &str) -> Self {
        let reference = auth::hex(&rand::random::<[u8; 6]>());
        tracing::error!(reference = %reference, "internal error: {detail}");
        ApiError::new(
            "internal",
            &format!("internal error (reference {reference}); the details are in the service log"),
        )
    }

    /// The store failed (the database cannot be reached, or refused a statement): 503
    /// `unavailable`, so a client tries again; the detail is logged with a reference, never
    /// answered (a statement may name a request's data).
    pub fn store(what: &str, e: &super::db::DbError) -> Self {
        let reference = auth::hex(&rand::random::<[u8; 6]>());
        tracing::error!(reference = %reference, "store: {what}: {e}");
        ApiError::new(
            "unavailable",
            &format!(
                "the service's database is unavailable ({what}; reference {reference}); try \
                 again shortly"
            ),
        )
    }

    /// The library's error as an answer: its kind and status come from the error's variant;
    /// user mistakes carry the CLI's text and a hint naming the request field to change;
    /// failures that are not the request's are internal (logged, answered with a reference).
    pub fn from_library(e: Error) -> Self {
        if matches!(e, Error::Cancelled) {
            return ApiError {
                status: Some(e.http_status()),
                ..ApiError::new(
                    e.kind(),
                    "the work was stopped before it finished: the service is stopping, or the \
                     request went away",
                )
            };
        }
        if !e.is_user_error() && !matches!(e, Error::Routing { .. }) {
            return ApiError::internal(&e.to_string());
        }
        let problems = match &e {
            Error::Input(problems) => {
                problems.iter().filter_map(|p| serde_json::to_value(p).ok()).collect()
            }
            Error::Infeasible(reasons) => {
                reasons.iter().filter_map(|p| serde_json::to_value(p).ok()).collect()
            }
            _ => vec![],
        };
        ApiError {
            error: e.kind().into(),
            message: e.to_string(),
            problems,
            hint: e.hint().map(|h| match h.setting.and_then(field) {
                Some(f) => format!("{} ({f})", h.text),
                None => h.text.clone(),
            }),
            status: Some(e.http_status()),
        }
    }

    /// The error as it may be stored and shown to a read token (or, with public artefacts, to
    /// anyone): without pupil-level detail. Infeasibility reasons keep their message (schools
    /// and counts) and school ids; their pupil ids become a count (`pupil_count`). Routing and
    /// geocoding messages may name pupils by id, so they are replaced by their kind. The full
    /// error is answered only to the write token that submitted the pupils (`POST /v1/plans`).
    pub fn public(mut self) -> Self {
        for p in &mut self.problems {
            if let Some(obj) = p.as_object_mut() {
                if let Some(ids) = obj.remove("pupils") {
                    let n = ids.as_array().map_or(0, Vec::len);
                    obj.insert("pupil_count".into(), n.into());
                }
            }
        }
        if matches!(self.error.as_str(), "routing" | "geocoding") {
            self.message = format!(
                "{} failed for some pupils; the reasons name pupils, so they are answered only to \
                 a submission: submit the request again to see them",
                if self.error == "routing" { "routing" } else { "geocoding" }
            );
            self.problems.clear();
        }
        self
    }

    /// The HTTP status: the library error's own, or the one its kind names (500 for unknown kinds).
    pub fn status(&self) -> StatusCode {
        if let Some(code) = self.status.and_then(|c| StatusCode::from_u16(c).ok()) {
            return code;
        }
        // A stored error read back: its kind says its status.
        match self.error.as_str() {
            "bad_request" => StatusCode::BAD_REQUEST,
            "unauthorized" => StatusCode::UNAUTHORIZED,
            "forbidden" => StatusCode::FORBIDDEN,
            "not_found" => StatusCode::NOT_FOUND,
            "not_ready" | "job_failed" => StatusCode::CONFLICT,
            "body_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_input" | "invalid_policy" | "geocoding" | "infeasible" | "time_limit" => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            "routing" => StatusCode::BAD_GATEWAY,
            "timeout" | "shutting_down" | "unavailable" | "cancelled" => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status(), Json(&self)).into_response();
        if self.error == "unauthorized" {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}
