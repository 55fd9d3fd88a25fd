//! `catchment serve`: plans as jobs over HTTP (axum on tokio), stored in SQLite, behind bearer
//! tokens, described by an OpenAPI document. Handlers call the same library functions as the
//! CLI (`instance::table` readers, `routing::parse_matrix`, `solve_plan`, `output::write_plan`)
//! and hold no domain logic.
//!
//! - [`api`]: routes, request/response types, the OpenAPI document.
//! - [`jobs`]: request -> library values; running solves on blocking threads, bounded; resume.
//! - [`store`]: the SQLite file (WAL) of jobs and plans.
//! - [`auth`]: hashed bearer tokens, read and write scopes.
//! - [`metrics`]: Prometheus counters.

mod access;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod scenarios;
pub mod store;

pub use config::Config;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The service's shared state.
pub struct App {
    /// The settings the service was started with.
    pub cfg: Config,
    /// The bearer tokens that may call the service (hashed), with their scopes.
    pub tokens: Vec<auth::Token>,
    /// The SQLite store of jobs and plans.
    pub store: store::Store,
    /// Prometheus counters served at `/metrics`.
    pub metrics: metrics::Metrics,
    /// Permits for concurrent solves.
    pub solves: tokio::sync::Semaphore,
    /// Scratch space for writing a plan's files before they are stored.
    pub work_dir: PathBuf,
    /// Set on SIGTERM/SIGINT: new jobs are refused and running ones wind down.
    pub shutting_down: AtomicBool,
    /// Ids of the jobs running now.
    pub running: Mutex<HashSet<String>>,
    /// Woken whenever a job ends.
    pub idle: tokio::sync::Notify,
}

/// Per-request time limit and response counting.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let limit = Duration::from_secs(app.cfg.request_timeout);
    let resp = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => api::ApiError::new(
            "timeout",
            &format!(
                "the request took longer than {} s; submit without ?wait=true and poll the job",
                app.cfg.request_timeout
            ),
        )
        .into_response(),
    };
    app.metrics.response(resp.status().as_u16());
    resp
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Build the service state: tokens parsed and hashed, the store opened.
pub fn open(cfg: Config) -> anyhow::Result<App> {
    let tokens = cfg
        .tokens
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            auth::parse_token(t).map_err(|e| anyhow::anyhow!("--token / CATCHMENT_TOKENS: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(
        !tokens.is_empty(),
        "no tokens configured: give --token write:SECRET (and read:SECRET for readers), or CATCHMENT_TOKENS"
    );
    let store = store::Store::open(&cfg.db)
        .map_err(|e| anyhow::anyhow!("{}: cannot open the database: {e}", cfg.db.display()))?;
    let mut work = cfg.db.clone().into_os_string();
    work.push(".work");
    let work_dir = PathBuf::from(work);
    // Leftovers of a crash (plan files being written) hold pupil ids: remove them.
    let _ = std::fs::remove_dir_all(&work_dir);
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", work_dir.display()))?;
    let solves = cfg
        .max_solves
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
        .max(1);
    Ok(App {
        tokens,
        store,
        metrics: Default::default(),
        solves: tokio::sync::Semaphore::new(solves),
        work_dir,
        shutting_down: AtomicBool::new(false),
        running: Mutex::new(HashSet::new()),
        idle: tokio::sync::Notify::new(),
        cfg,
    })
}

/// Run the service until SIGTERM/SIGINT. Prints `listening on http://ADDR` on stdout once ready.
pub fn serve(cfg: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let app = Arc::new(open(cfg)?);
        let listener = tokio::net::TcpListener::bind(app.cfg.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", app.cfg.listen))?;
        jobs::resume(&app).map_err(|e| anyhow::anyhow!("resuming unfinished jobs: {e}"))?;
        let interrupted = api::ApiError::new(
            "interrupted",
            "the service restarted while this scenario set ran; submit it again",
        );
        let n = app
            .store
            .fail_interrupted_scenario_sets(
                &serde_json::to_string(&interrupted).unwrap_or_default(),
            )
            .map_err(|e| anyhow::anyhow!("marking interrupted scenario sets: {e}"))?;
        if n > 0 {
            tracing::warn!(count = n, "scenario sets interrupted by a restart marked failed");
        }
        let router = api::router(app.clone())
            .layer(DefaultBodyLimit::max(app.cfg.max_body_bytes))
            .layer(axum::middleware::from_fn_with_state(app.clone(), guard));
        let addr = listener.local_addr()?;
        println!("listening on http://{addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        tracing::info!(%addr, db = %app.cfg.db.display(), "catchment serve started");
        let app2 = app.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: no new requests; waiting for running solves");
                {
                    let _running = app2.running.lock().unwrap_or_else(|e| e.into_inner());
                    app2.shutting_down.store(true, SeqCst);
                }
                app2.solves.close();
            })
            .await?;
        finish_running(&app).await;
        let _ = std::fs::remove_dir(&app.work_dir);
        Ok(())
    })
}

/// Give running solves the grace period; put the rest back in the queue for the next start.
async fn finish_running(app: &App) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(app.cfg.shutdown_grace);
    loop {
        let notified = app.idle.notified();
        if app.running.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            break;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            break;
        }
    }
    let left: Vec<String> = app.running.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
    for id in &left {
        tracing::warn!(job = %id, "interrupted by shutdown; it will be resumed at the next start");
        let _ = app.store.requeue(id, true);
    }
    tracing::info!(interrupted = left.len(), "stopped");
}
