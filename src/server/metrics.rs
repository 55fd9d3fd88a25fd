//! Counters for `GET /metrics` (Prometheus text format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// The service's counters since start, rendered for Prometheus.
#[derive(Default)]
pub struct Metrics {
    /// Plan jobs accepted.
    pub jobs_submitted: AtomicU64,
    /// Plan jobs finished with a plan.
    pub jobs_done: AtomicU64,
    /// Plan jobs failed.
    pub jobs_failed: AtomicU64,
    /// Unfinished jobs of an earlier run resumed at start.
    pub jobs_resumed: AtomicU64,
    /// Solves running now (a gauge).
    pub solves_running: AtomicU64,
    /// Sum of job run times (reading input to stored artefacts), in microseconds.
    pub job_micros: AtomicU64,
    /// HTTP responses counted by status code.
    pub responses: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    /// Count one HTTP response with `status`.
    pub fn response(&self, status: u16) {
        *self.responses.lock().unwrap_or_else(|e| e.into_inner()).entry(status).or_default() += 1;
    }

    /// The Prometheus text: these counters and `jobs_by_state` (job counts by store state).
    pub fn render(&self, jobs_by_state: &[(String, u64)]) -> String {
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            "catchment_jobs_submitted_total",
            "Plan jobs accepted since start.",
            self.jobs_submitted.load(Relaxed),
        );
        counter(
            "catchment_jobs_done_total",
            "Plan jobs finished with a plan since start.",
            self.jobs_done.load(Relaxed),
        );
        counter(
            "catchment_jobs_failed_total",
            "Plan jobs failed since start.",
            self.jobs_failed.load(Relaxed),
        );
        counter(
            "catchment_jobs_resumed_total",
            "Unfinished jobs of an earlier run resumed at start.",
            self.jobs_resumed.load(Relaxed),
        );
        let _ = writeln!(
            s,
            "# HELP catchment_job_seconds_total Time spent running jobs since start.\n# TYPE catchment_job_seconds_total counter\ncatchment_job_seconds_total {:.6}",
            self.job_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            s,
            "# HELP catchment_solves_running Solves running now.\n# TYPE catchment_solves_running gauge\ncatchment_solves_running {}",
            self.solves_running.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP catchment_jobs Jobs in the store by state.\n# TYPE catchment_jobs gauge"
        );
        for state in ["queued", "running", "done", "failed"] {
            let n = jobs_by_state.iter().find(|(st, _)| st == state).map(|(_, n)| *n).unwrap_or(0);
            let _ = writeln!(s, "catchment_jobs{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP catchment_http_responses_total HTTP responses by status code.\n# TYPE catchment_http_responses_total counter");
        for (code, n) in self.responses.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(s, "catchment_http_responses_total{{code=\"{code}\"}} {n}");
        }
        s
    }
}
