//! `catchment serve`: plans as jobs over HTTP (axum on tokio), stored in SQLite or PostgreSQL, behind bearer
//! tokens, described by an OpenAPI document. Handlers call the same library functions as the
//! CLI (`instance::table` readers, `routing::parse_matrix`, `solve_plan`, `output::write_plan`)
//! and hold no domain logic.
//!
//! - [`api`]: routes, request/response types, the OpenAPI document.
//! - [`jobs`]: request -> library values; running solves on blocking threads, bounded; resume.
//! - [`scenarios`]: scenario sets, stored and resumed like jobs.
//! - [`store`]: jobs, plans, scenario sets and simulations; claims and leases; retention.
//! - [`db`]: the database under the store: SQLite or PostgreSQL, one dialect, migrations.
//! - [`lock`]: one server per SQLite file.
//! - [`auth`]: hashed bearer tokens, read and write scopes.
//! - [`metrics`]: Prometheus counters.

mod access;
pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod editing;
pub mod error;
pub mod jobs;
pub mod lock;
pub mod metrics;
pub mod model;
pub mod page;
pub mod scenarios;
pub mod sites;
pub mod store;
pub mod versions;

pub use config::Config;

use crate::cancel::Cancel;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::future::IntoFuture;
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
    /// The store of jobs and plans.
    pub store: store::Store,
    /// This process's name among the nodes on the database (host, pid and a random part):
    /// the holder of the jobs it runs.
    pub node: String,
    /// Prometheus counters served at `/metrics`.
    pub metrics: metrics::Metrics,
    /// Permits for concurrent solves (`--max-solves`). A job that got one at submission keeps
    /// its validated input in memory; a job that waits for one holds nothing but its row.
    pub solves: Arc<tokio::sync::Semaphore>,
    /// Permits for uploads being read, parsed and validated (as many as solve permits): each
    /// holds a request body and what is read from it, so at most this many are in memory.
    pub intake: tokio::sync::Semaphore,
    /// Scratch space for writing a plan's files before they are stored (this node's own).
    pub work_dir: PathBuf,
    /// Set on SIGTERM/SIGINT: new jobs are refused and running ones wind down.
    pub shutting_down: AtomicBool,
    /// The jobs and scenario sets running now, each with the flag that stops it at the grace.
    pub running: Mutex<HashMap<String, Cancel>>,
    /// Woken whenever a job ends.
    pub idle: tokio::sync::Notify,
    /// The lock on a SQLite database: no second server runs on it while this one does.
    /// PostgreSQL takes several nodes, which coordinate through leases in the database.
    pub lock: Option<lock::DbLock>,
    /// What requests may route with: the allowed OSRM servers and the extract's address index.
    pub routing: jobs::Routing,
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
    let resp = json_error(&app, resp).await;
    app.metrics.response(resp.status().as_u16());
    resp
}

/// Every error answer is JSON (`ApiError`), also those axum makes itself: a body over the
/// limit (413) on any route, a method a route does not take (405), a query or path it cannot
/// read (400).
async fn json_error(app: &App, resp: Response) -> Response {
    let status = resp.status();
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (kind, message) = match status.as_u16() {
        413 => (
            "body_too_large",
            format!(
                "the request body is larger than the limit of {} bytes",
                app.cfg.max_body_bytes
            ),
        ),
        405 => {
            ("method_not_allowed", "this route does not take this method; see /openapi.json".into())
        }
        415 => ("unsupported_media_type", format!("unsupported media type: {text}")),
        400..=499 => ("bad_request", text),
        _ => ("internal", "internal error".into()),
    };
    let mut e = api::ApiError::new(kind, &message);
    e.status = Some(status.as_u16());
    let mut out = e.into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
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
    let target = cfg.target();
    let sqlite = match &target {
        db::Target::Sqlite(path) => Some(path.clone()),
        db::Target::Postgres(_) => None,
    };
    anyhow::ensure!(
        sqlite.is_none() || cfg.role == config::Role::All,
        "--role {} needs a PostgreSQL database (--db postgres://...): a SQLite file takes one \
         server, which runs its own jobs (--role all)",
        cfg.role.name()
    );
    // Before anything is touched: a second server must not empty this one's work directory
    // or run its jobs again.
    let lock = match &sqlite {
        Some(path) => Some(lock::acquire(path)?),
        None => None,
    };
    let index = match &cfg.osm {
        Some(osm) => {
            let ix = crate::routing::geocode::AddressIndex::from_osm_file(osm)
                .map_err(|e| anyhow::anyhow!("--osm / CATCHMENT_OSM: {e}"))?;
            tracing::info!(addresses = ix.len(), "address index built");
            Some(Arc::new(ix))
        }
        None => None,
    };
    let routing = jobs::Routing { osrm_allow: cfg.osrm_allow.clone(), osm: cfg.osm.clone(), index };
    let store = store::Store::open(&target, cfg.db_connections).map_err(|e| match &sqlite {
        Some(path) => anyhow::anyhow!("{}", store::open_error(path, &e)),
        None => anyhow::anyhow!("{}: cannot open the database: {e}", target.shown()),
    })?;
    let node = format!("{}:{}:{:08x}", lock::host(), std::process::id(), rand::random::<u32>());
    let work_dir = match (&cfg.work_dir, &sqlite) {
        (Some(dir), _) => dir.join(format!("node-{}", std::process::id())),
        (None, Some(path)) => {
            let mut work = path.clone().into_os_string();
            work.push(".work");
            PathBuf::from(work)
        }
        (None, None) => std::env::temp_dir().join(format!("catchment-work-{}", std::process::id())),
    };
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
        node,
        metrics: Default::default(),
        solves: Arc::new(tokio::sync::Semaphore::new(solves)),
        intake: tokio::sync::Semaphore::new(solves),
        work_dir,
        shutting_down: AtomicBool::new(false),
        running: Mutex::new(HashMap::new()),
        idle: tokio::sync::Notify::new(),
        lock,
        routing,
        cfg,
    })
}

/// Run the service until SIGTERM/SIGINT. Prints `listening on http://ADDR` on stdout once ready.
pub fn serve(cfg: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(async move {
        let app = Arc::new(open(cfg)?);
        let listener = tokio::net::TcpListener::bind(app.cfg.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", app.cfg.listen))?;
        if let Some(days) = app.cfg.retention_days {
            // Once before serving (so nothing past its time is served), then every hour.
            sweep(&app, days);
            let app2 = app.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(3600));
                every.tick().await;
                loop {
                    every.tick().await;
                    let app3 = app2.clone();
                    let _ = tokio::task::spawn_blocking(move || sweep(&app3, days)).await;
                }
            });
        }
        // Scenario sets an earlier version left running outside the job queue join it.
        let lost = error::ApiError::new(
            "interrupted",
            "the service restarted while this scenario set ran and its inputs were not stored; \
             submit it again",
        );
        match app.store.adopt_scenario_sets(&serde_json::to_string(&lost).unwrap_or_default()) {
            Ok((0, 0)) => {}
            Ok((queued, failed)) => tracing::info!(queued, failed, "scenario sets of an earlier version"),
            Err(e) => anyhow::bail!("adopting unfinished scenario sets: {e}"),
        }
        if app.lock.is_some() {
            // The only server on its SQLite file: what an earlier run left is this one's.
            jobs::resume(&app).map_err(|e| anyhow::anyhow!("resuming unfinished jobs: {e}"))?;
        } else if app.cfg.role != config::Role::Api {
            // Several nodes: jobs are claimed from the database, those of nodes that died
            // taken over when their lease runs out.
            tokio::spawn(jobs::claim_loop(app.clone()));
        }
        let router = api::router(app.clone())
            .layer(DefaultBodyLimit::max(app.cfg.max_body_bytes))
            .layer(axum::middleware::from_fn_with_state(app.clone(), guard));
        let addr = listener.local_addr()?;
        println!("listening on http://{addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        tracing::info!(
            %addr,
            db = %app.cfg.target().shown(),
            role = app.cfg.role.name(),
            node = %app.node,
            "catchment serve started"
        );
        // The moment the shutdown began; the grace is counted from it.
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(None::<tokio::time::Instant>);
        let app2 = app.clone();
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!(
                grace_s = app2.cfg.shutdown_grace,
                "shutting down: no new requests; running solves get the grace"
            );
            {
                let _running = app2.running.lock().unwrap_or_else(|e| e.into_inner());
                app2.shutting_down.store(true, SeqCst);
            }
            app2.solves.close();
            app2.intake.close();
            let _ = stop_tx.send(Some(tokio::time::Instant::now()));
        });
        let grace = Duration::from_secs(app.cfg.shutdown_grace);
        let grace_over = async {
            loop {
                let stopped = *stop_rx.borrow_and_update();
                if let Some(t) = stopped {
                    tokio::time::sleep_until(t + grace).await;
                    return;
                }
                if stop_rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        // Open requests (a client waiting with ?wait=true) do not hold the shutdown past the
        // grace.
        tokio::select! {
            r = server.into_future() => r?,
            _ = grace_over => tracing::warn!("requests still open at the end of the grace were cut off"),
        }
        let stopped = (*stop_rx.borrow()).unwrap_or_else(tokio::time::Instant::now);
        finish_running(&app, stopped + grace).await;
        // Files of solves cut off (they hold pupil ids); the next start removes any a solve
        // still writes before the process ends.
        let _ = std::fs::remove_dir_all(&app.work_dir);
        Ok::<_, anyhow::Error>(())
    });
    // Solves still running on blocking threads are not waited for: their jobs are back in the
    // queue, and the process ends with them.
    rt.shutdown_background();
    result
}

/// `catchment db migrate`: apply the migrations the database at `db` (a SQLite file or a
/// PostgreSQL URL) lacks; (the database as shown, the versions applied, the schema version).
pub fn migrate(db: &str) -> anyhow::Result<(String, Vec<i64>, i64)> {
    let target = db::Target::parse(db);
    let shown = target.shown();
    let opened = db::open(&target, 1).map_err(|e| match &target {
        db::Target::Sqlite(path) => anyhow::anyhow!("{}", store::open_error(path, &e)),
        db::Target::Postgres(_) => anyhow::anyhow!("{shown}: cannot open the database: {e}"),
    })?;
    let applied = db::migrate(&opened).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let version = opened.with(|c| db::version(c)).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    Ok((shown, applied, version))
}

/// Retention: delete what finished more than `days` days ago.
fn sweep(app: &App, days: u32) {
    let cutoff = store::now() - i64::from(days) * 86_400;
    match app.store.delete_finished_before(cutoff) {
        Ok((0, 0)) => {}
        Ok((jobs, sets)) => tracing::info!(jobs, scenario_sets = sets, days, "retention: deleted"),
        Err(e) => tracing::error!("retention: {e}"),
    }
}

/// How long, after the grace, solves whose flag was raised get to reach their next
/// cancellation point and put their job back in the queue themselves.
pub const STOP_WAIT: Duration = Duration::from_secs(2);

/// Wait until nothing runs, or until `deadline`; whether nothing runs.
async fn wait_idle(app: &App, deadline: tokio::time::Instant) -> bool {
    loop {
        let notified = app.idle.notified();
        if app.running.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return app.running.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
        }
    }
}

/// Give running solves until `deadline` (the end of the grace); then raise their flags: each
/// stops at its next cancellation point (`crate::cancel`), its files not written, and puts its
/// job back in the queue (`jobs::spawn`). Work finished before then is
/// stored. A solve still running [`STOP_WAIT`] later is inside Cbc, which cannot be
/// interrupted: its job is put back in the queue here, and the process ends without waiting
/// for it.
async fn finish_running(app: &App, deadline: tokio::time::Instant) {
    if !wait_idle(app, deadline).await {
        let flags: Vec<Cancel> =
            app.running.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        tracing::info!(running = flags.len(), "the grace is over: stopping running solves");
        flags.iter().for_each(Cancel::cancel);
        wait_idle(app, tokio::time::Instant::now() + STOP_WAIT).await;
    }
    let left: Vec<String> =
        app.running.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(id, _)| id).collect();
    for id in &left {
        tracing::warn!(
            job = %id,
            "still running after the grace (in a Cbc solve, which cannot be interrupted); back \
             in the queue, and the process ends without waiting for it"
        );
        let _ = app.store.requeue(id, Some(&app.node), true);
    }
    tracing::info!(left_running = left.len(), "stopped");
}
