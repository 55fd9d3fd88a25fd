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
    /// Jobs this node took over from a worker whose lease ran out.
    pub jobs_taken_over: AtomicU64,
    /// Job run times: counts per bucket of [`JOB_BUCKETS`] (the last: above every bucket).
    pub job_buckets: [AtomicU64; JOB_BUCKETS.len() + 1],
    /// HTTP responses counted by status code.
    pub responses: Mutex<BTreeMap<u16, u64>>,
}

/// The upper bounds (seconds) of the job duration histogram's buckets.
pub const JOB_BUCKETS: [f64; 12] =
    [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0];

impl Metrics {
    /// Count a job's run (reading input to stored artefacts) that took `took`.
    pub fn job_done(&self, took: std::time::Duration) {
        self.job_micros.fetch_add(took.as_micros() as u64, Relaxed);
        let s = took.as_secs_f64();
        let i = JOB_BUCKETS.iter().position(|b| s <= *b).unwrap_or(JOB_BUCKETS.len());
        self.job_buckets[i].fetch_add(1, Relaxed);
    }

    /// Count one HTTP response with `status`.
    pub fn response(&self, status: u16) {
        *self.responses.lock().unwrap_or_else(|e| e.into_inner()).entry(status).or_default() += 1;
    }

    /// The Prometheus text: these counters (this node's: `node` and `role` label
    /// `catchment_node_info`) and `jobs_by_state` (job counts by store state, of every node).
    pub fn render(&self, jobs_by_state: &[(String, u64)], node: &str, role: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP catchment_node_info This process: its node name and role.\n# TYPE catchment_node_info gauge\ncatchment_node_info{{node=\"{}\",role=\"{role}\"}} 1",
            node.replace(['\\', '"', '\n'], "_")
        );
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
        counter(
            "catchment_jobs_taken_over_total",
            "Jobs this node took over from a worker whose lease ran out.",
            self.jobs_taken_over.load(Relaxed),
        );
        let _ = writeln!(
            s,
            "# HELP catchment_job_seconds_total Time spent running jobs since start.\n# TYPE catchment_job_seconds_total counter\ncatchment_job_seconds_total {:.6}",
            self.job_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            s,
            "# HELP catchment_job_duration_seconds Job run times on this node.\n# TYPE catchment_job_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, b) in JOB_BUCKETS.iter().enumerate() {
            cumulative += self.job_buckets[i].load(Relaxed);
            let _ = writeln!(s, "catchment_job_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.job_buckets[JOB_BUCKETS.len()].load(Relaxed);
        let _ = writeln!(s, "catchment_job_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(
            s,
            "catchment_job_duration_seconds_sum {:.6}\ncatchment_job_duration_seconds_count {cumulative}",
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
