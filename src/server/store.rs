//! The store of jobs and plans: a SQLite file (WAL mode; the default) or a PostgreSQL
//! database shared by several nodes ([`super::db`]). A job keeps its request until it
//! finishes (so an interrupted job can be resumed); the request, which holds pupil locations,
//! is deleted once the job is done or failed. A plan keeps the artefacts `catchment solve`
//! writes, byte for byte, so any node serves any plan whatever node computed it.
//!
//! Several workers: a job is claimed by one worker at a time (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; SQLite writes one transaction at a time) and held with a lease the worker
//! renews; a job whose lease ran out is taken over by another worker. A job is finished only
//! by the worker that holds it, so no job completes twice.

use super::db::{self, params, Conn, Db, DbError, Dialect, Row, Target};
use std::path::Path;

pub use super::db::{DbError as StoreError, DbResult};

/// The database of jobs, plans and scenario sets.
pub struct Store {
    db: Db,
}

/// A job's row, without its request.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// The job's id.
    pub id: String,
    /// What it computes: [`Kind::Plan`], [`Kind::Scenarios`] or [`Kind::Simulation`].
    pub kind: Kind,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// What a running job is doing now (e.g. `reading input`); `None` otherwise.
    pub stage: Option<String>,
    /// When the job was submitted, in Unix seconds.
    pub created_at: i64,
    /// When the job (last) started running, in Unix seconds.
    pub started_at: Option<i64>,
    /// When the job finished or failed, in Unix seconds.
    pub finished_at: Option<i64>,
    /// How many times the job has been started (resumes included).
    pub attempts: u32,
    /// JSON of the failure (`ApiError`) when failed.
    pub error: Option<String>,
    /// Number of pupils in the request.
    pub pupils: u64,
    /// Number of schools in the request.
    pub schools: u64,
}

/// The artefacts of a finished plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Artefacts {
    /// `summary.json`.
    pub summary: Vec<u8>,
    /// `assignments.csv`.
    pub assignments: Vec<u8>,
    /// `schools.csv`.
    pub schools: Vec<u8>,
    /// `certificate.json`.
    pub certificate: Vec<u8>,
    /// The publishable files of a plan solved with the city's blocks (`districts.csv`, ...).
    pub files: Vec<(String, Vec<u8>)>,
}

/// What a job computes. Every kind is queued, claimed, leased and taken over alike; only what
/// it runs and where its result is stored differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A plan (`POST /v1/plans`): stored in `plans` and `plan_files`.
    Plan,
    /// A scenario set (`POST /v1/scenarios`): stored in `scenario_files`.
    Scenarios,
    /// A simulation of a stored plan (`POST /v1/plans/{id}/simulations`): stored in
    /// `simulations`.
    Simulation,
    /// A choice of school sites (`POST /v1/sites`): its files stored in `job_files`.
    Sites,
}

impl Kind {
    /// Its name in the `kind` column.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Plan => "plan",
            Kind::Scenarios => "scenarios",
            Kind::Simulation => "simulation",
            Kind::Sites => "sites",
        }
    }

    /// The kind named `name` in the `kind` column.
    pub fn parse(name: &str) -> DbResult<Kind> {
        match name {
            "plan" => Ok(Kind::Plan),
            "scenarios" => Ok(Kind::Scenarios),
            "simulation" => Ok(Kind::Simulation),
            "sites" => Ok(Kind::Sites),
            other => Err(DbError::Schema(format!("unknown job kind '{other}'"))),
        }
    }

    /// Where its result is served once done.
    pub fn location(self, id: &str) -> String {
        match self {
            Kind::Plan => format!("/v1/plans/{id}"),
            Kind::Scenarios => format!("/v1/scenarios/{id}"),
            Kind::Simulation => format!("/v1/simulations/{id}"),
            Kind::Sites => format!("/v1/sites/{id}"),
        }
    }
}

/// What a finished job stores.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A plan's artefacts.
    Plan(Artefacts),
    /// A scenario set's files, by path relative to its output directory.
    Scenarios(Vec<(String, Vec<u8>)>),
    /// The files of a job of another kind (a site choice), by path relative to its output
    /// directory.
    Files(Vec<(String, Vec<u8>)>),
    /// A simulation of the plan `plan_id`: `simulation.json` and `simulation.csv`.
    Simulation {
        /// The simulated plan.
        plan_id: String,
        /// `simulation.json`.
        json: Vec<u8>,
        /// `simulation.csv`.
        csv: Vec<u8>,
    },
}

/// A job a worker claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The job's id.
    pub id: String,
    /// Its attempt number (this one included).
    pub attempts: u32,
    /// Whether another worker held it and its lease ran out.
    pub taken_over: bool,
}

/// A stored scenario set: (state, error JSON, file names).
pub type StoredScenarioSet = (String, Option<String>, Vec<String>);

/// A stored simulation: (plan id, `simulation.json`, `simulation.csv`).
pub type StoredSimulation = (String, Vec<u8>, Vec<u8>);

/// The tables of stored files.
#[derive(Debug, Clone, Copy)]
enum FileTable {
    Plan,
    Scenario,
    Job,
}

/// The SHA-256 of `bytes` in hex: the name a file's content is stored under.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Store one file of a plan or scenario set: its content once in `blobs` under its hash (a
/// content stored before is not written again), the file's row referring to it.
fn put_file(
    tx: &mut dyn Conn,
    table: FileTable,
    id: &str,
    name: &str,
    bytes: Vec<u8>,
) -> DbResult<()> {
    let hash = content_hash(&bytes);
    tx.exec(
        "INSERT INTO blobs (hash, bytes) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
        &params![&hash, bytes],
    )?;
    let table = match table {
        FileTable::Plan => "plan_files",
        FileTable::Scenario => "scenario_files",
        FileTable::Job => "job_files",
    };
    tx.exec(
        &format!(
            "INSERT INTO {table} (id, name, bytes, hash) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id, name) DO UPDATE SET bytes=excluded.bytes, hash=excluded.hash"
        ),
        &params![id, name, Vec::<u8>::new(), &hash],
    )
    .map(|_| ())
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub fn now() -> i64 {
    now_ms() / 1000
}

/// The current time in Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn job_row(r: &Row) -> DbResult<JobRow> {
    Ok(JobRow {
        id: r.text(0)?,
        state: r.text(1)?,
        stage: r.opt_text(2)?,
        created_at: r.int(3)?,
        started_at: r.opt_int(4)?,
        finished_at: r.opt_int(5)?,
        attempts: r.int(6)? as u32,
        error: r.opt_text(7)?,
        pupils: r.int(8)? as u64,
        schools: r.int(9)? as u64,
        kind: Kind::parse(&r.text(10)?)?,
    })
}

impl Store {
    /// Open (or create) the database at `target` and apply missing migrations. PostgreSQL
    /// gets `pool` connections.
    pub fn open(target: &Target, pool: usize) -> DbResult<Store> {
        Self::ready(db::open(target, pool)?)
    }

    fn ready(db: Db) -> DbResult<Store> {
        let applied = db::migrate(&db)?;
        if !applied.is_empty() {
            tracing::info!(?applied, "database migrated");
        }
        let store = Store { db };
        // A database that cannot be written is found now, not at the first job.
        store.probe_write()?;
        Ok(store)
    }

    #[cfg(test)]
    fn open_with(path: &Path, flags: rusqlite::OpenFlags) -> DbResult<Store> {
        Self::ready(db::open_sqlite(path, flags)?)
    }

    /// The database's dialect.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Run `f` on a connection of the store (tests and `catchment db`).
    pub fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> DbResult<T> + Send + 'static,
    ) -> DbResult<T> {
        self.db.with(f)
    }

    /// Whether the database's schema is this build's (every migration applied).
    pub fn migrations_current(&self) -> DbResult<bool> {
        Ok(self.db.with(|c| db::version(c))? == db::latest())
    }

    /// Retention: delete jobs (with their plans, files and simulations) and scenario sets (with
    /// their files) that finished before `cutoff` (Unix seconds), and simulations made before
    /// it; then (SQLite) return the freed pages to the file system (`secure_delete` has
    /// overwritten them) and truncate the write-ahead log. Returns (jobs, scenario sets)
    /// deleted.
    pub fn delete_finished_before(&self, cutoff: i64) -> DbResult<(usize, usize)> {
        let (jobs, sets) = self.db.tx(move |tx| {
            let old_jobs =
                "SELECT id FROM jobs WHERE state IN ('done','failed') AND finished_at < ?1";
            let p = params![cutoff];
            tx.exec(
                &format!(
                    "DELETE FROM simulations WHERE plan_id IN ({old_jobs}) OR created_at < ?1"
                ),
                &p,
            )?;
            tx.exec(&format!("DELETE FROM plan_files WHERE id IN ({old_jobs})"), &p)?;
            tx.exec(&format!("DELETE FROM job_files WHERE id IN ({old_jobs})"), &p)?;
            tx.exec(&format!("DELETE FROM plans WHERE id IN ({old_jobs})"), &p)?;
            let jobs = tx.exec(
                "DELETE FROM jobs WHERE state IN ('done','failed') AND finished_at < ?1",
                &p,
            )?;
            tx.exec(
                "DELETE FROM scenario_files WHERE id IN (SELECT id FROM scenario_sets
                 WHERE state IN ('done','failed') AND finished_at < ?1)",
                &p,
            )?;
            let sets = tx.exec(
                "DELETE FROM scenario_sets WHERE state IN ('done','failed') AND finished_at < ?1",
                &p,
            )?;
            // Contents no file refers to any more.
            tx.exec(
                "DELETE FROM blobs WHERE
                     NOT EXISTS (SELECT 1 FROM plan_files f WHERE f.hash = blobs.hash)
                     AND NOT EXISTS (SELECT 1 FROM scenario_files s WHERE s.hash = blobs.hash)
                     AND NOT EXISTS (SELECT 1 FROM job_files j WHERE j.hash = blobs.hash)",
                &[],
            )?;
            Ok((jobs, sets))
        })?;
        if jobs + sets > 0 && self.dialect() == Dialect::Sqlite {
            self.db.with(|c| {
                c.batch("PRAGMA incremental_vacuum;")?;
                c.query("PRAGMA wal_checkpoint(TRUNCATE)", &[]).map(|_| ())
            })?;
        }
        Ok((jobs, sets))
    }

    /// The database (for modules keeping their own tables, such as plan versions).
    pub(super) fn db(&self) -> &Db {
        &self.db
    }

    /// Add a queued job of `kind` with its request (JSON, kept until the job ends) and its
    /// size. A scenario set also gets its row in `scenario_sets` (its files refer to it).
    pub fn insert_job(
        &self,
        id: &str,
        kind: Kind,
        request: &str,
        pupils: usize,
        schools: usize,
    ) -> DbResult<()> {
        self.insert_job_keeping(id, kind, request, pupils, schools, false)
    }

    /// [`Store::insert_job`]; with `keep`, the request stays with the job once it is done (a
    /// plan submitted with `keep_inputs`, read by [`Store::kept_request`]) until retention
    /// deletes the job.
    pub fn insert_job_keeping(
        &self,
        id: &str,
        kind: Kind,
        request: &str,
        pupils: usize,
        schools: usize,
        keep: bool,
    ) -> DbResult<()> {
        let t = now();
        let p = params![id, t, request, pupils, schools, kind.name(), keep as i64];
        let set = params![id, t];
        self.db.tx(move |c| {
            if kind == Kind::Scenarios {
                c.exec(
                    "INSERT INTO scenario_sets (id, state, created_at) VALUES (?1, 'running', ?2)",
                    &set,
                )?;
            }
            c.exec(
                "INSERT INTO jobs (id, kind, state, created_at, request, pupils, schools,
                     keep_request, seq)
                 VALUES (?1, ?6, 'queued', ?2, ?3, ?4, ?5, ?7,
                     (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs))",
                &p,
            )
            .map(|_| ())
        })
    }

    /// At start: scenario sets an earlier version left unfinished in `scenario_sets` alone
    /// become queued jobs (their stored request kept); sets without a stored request are
    /// failed with `failure` (JSON). Returns (queued, failed).
    pub fn adopt_scenario_sets(&self, failure: &str) -> DbResult<(usize, usize)> {
        let failure = failure.to_string();
        self.db.tx(move |tx| {
            let rows = tx.query(
                "SELECT s.id, s.request, s.created_at FROM scenario_sets s
                 WHERE s.state='running' AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id=s.id)
                 ORDER BY s.created_at, s.id",
                &[],
            )?;
            let (mut queued, mut failed) = (0, 0);
            for r in rows {
                let (id, request, created) = (r.text(0)?, r.opt_text(1)?, r.int(2)?);
                match request {
                    Some(req) => {
                        tx.exec(
                            "INSERT INTO jobs (id, kind, state, created_at, request, pupils,
                                 schools, seq)
                             VALUES (?1, 'scenarios', 'queued', ?2, ?3, 0, 0,
                                 (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs))
                             ON CONFLICT (id) DO NOTHING",
                            &params![&id, created, req],
                        )?;
                        tx.exec(
                            "UPDATE scenario_sets SET request=NULL WHERE id=?1",
                            &params![&id],
                        )?;
                        queued += 1;
                    }
                    None => {
                        tx.exec(
                            "UPDATE scenario_sets SET state='failed', finished_at=?2, error=?3
                             WHERE id=?1",
                            &params![&id, now(), &failure],
                        )?;
                        failed += 1;
                    }
                }
            }
            Ok((queued, failed))
        })
    }

    /// Mark a queued job running, held by `worker` until `lease_until` (Unix ms); returns its
    /// attempt number, or `None` when it is not queued.
    pub fn start_job(&self, id: &str, worker: &str, lease_until: i64) -> DbResult<Option<u32>> {
        let p = params![id, now(), worker, lease_until];
        self.db.with(move |c| {
            let row = c.query_opt(
                "UPDATE jobs SET state='running', stage='reading input', started_at=?2,
                     attempts=attempts+1, worker=?3, lease_until=?4
                 WHERE id=?1 AND state='queued' RETURNING attempts",
                &p,
            )?;
            row.map(|r| r.int(0).map(|a| a as u32)).transpose()
        })
    }

    /// Claim the oldest job a worker may run: a queued one (submitted at or before
    /// `queued_before`, Unix seconds) or a running one whose lease ran out, held by `worker`
    /// until `now_ms + lease_ms`. Jobs whose lease ran out after `max_attempts` starts are
    /// failed with `failure` (JSON) instead; their ids come second.
    pub fn claim_job(
        &self,
        worker: &str,
        lease_ms: i64,
        queued_before: i64,
        max_attempts: u32,
        failure: &str,
    ) -> DbResult<(Option<Claim>, Vec<String>)> {
        let worker = worker.to_string();
        let failure = failure.to_string();
        self.db.tx(move |tx| {
            let now = now_ms();
            let lock = match tx.dialect() {
                Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
                Dialect::Sqlite => "",
            };
            let dead = tx.query(
                &format!(
                    "SELECT id FROM jobs WHERE state='running' AND lease_until < ?1
                     AND attempts >= ?2 ORDER BY seq LIMIT 20{lock}"
                ),
                &params![now, max_attempts],
            )?;
            let mut failed = Vec::new();
            for r in dead {
                let id = r.text(0)?;
                tx.exec(
                    "UPDATE jobs SET state='failed', stage=NULL, finished_at=?2, request=NULL,
                         error=?3, worker=NULL, lease_until=NULL WHERE id=?1",
                    &params![&id, now / 1000, &failure],
                )?;
                failed.push(id);
            }
            let row = tx.query_opt(
                &format!(
                    "SELECT id, state FROM jobs
                     WHERE (state='queued' AND created_at <= ?1)
                        OR (state='running' AND lease_until < ?2 AND attempts < ?3)
                     ORDER BY seq LIMIT 1{lock}"
                ),
                &params![queued_before, now, max_attempts],
            )?;
            let Some(row) = row else { return Ok((None, failed)) };
            let (id, state) = (row.text(0)?, row.text(1)?);
            let taken_over = state == "running";
            let attempts = tx
                .query_one(
                    "UPDATE jobs SET state='running', stage='reading input', started_at=?2,
                         attempts=attempts+1, worker=?3, lease_until=?4,
                         takeovers=takeovers+?5
                     WHERE id=?1 RETURNING attempts",
                    &params![&id, now / 1000, worker, now + lease_ms, taken_over],
                )?
                .int(0)? as u32;
            Ok((Some(Claim { id, attempts, taken_over }), failed))
        })
    }

    /// Renew `worker`'s lease on a running job until `lease_until` (Unix ms); `false` when the
    /// worker no longer holds it (taken over, or ended).
    pub fn heartbeat(&self, id: &str, worker: &str, lease_until: i64) -> DbResult<bool> {
        let p = params![id, worker, lease_until];
        self.db.with(move |c| {
            c.exec(
                "UPDATE jobs SET lease_until=?3 WHERE id=?1 AND worker=?2 AND state='running'",
                &p,
            )
            .map(|n| n == 1)
        })
    }

    /// Record the stage of a running job.
    pub fn set_stage(&self, id: &str, stage: &str) -> DbResult<()> {
        let p = params![id, stage];
        self.db.with(move |c| {
            c.exec("UPDATE jobs SET stage=?2 WHERE id=?1 AND state='running'", &p).map(|_| ())
        })
    }

    /// Store the job's output and mark it done, in one transaction, if `worker` still holds
    /// it; the request is deleted. `false` (nothing stored) when another worker has taken it
    /// over.
    pub fn finish_job(&self, id: &str, worker: &str, out: &Output) -> DbResult<bool> {
        let (id, worker, out) = (id.to_string(), worker.to_string(), out.clone());
        self.db.tx(move |tx| {
            let t = now();
            let n = tx.exec(
                "UPDATE jobs SET state='done', stage=NULL, finished_at=?2,
                     request=CASE WHEN keep_request=1 THEN request ELSE NULL END,
                     error=NULL, lease_until=NULL, completions=completions+1
                 WHERE id=?1 AND state='running' AND worker=?3",
                &params![&id, t, &worker],
            )?;
            if n == 0 {
                return Ok(false);
            }
            let a = match out {
                Output::Plan(a) => a,
                Output::Scenarios(files) => {
                    for (name, bytes) in files {
                        put_file(tx, FileTable::Scenario, &id, &name, bytes)?;
                    }
                    tx.exec(
                        "UPDATE scenario_sets SET state='done', finished_at=?2, request=NULL
                         WHERE id=?1",
                        &params![&id, t],
                    )?;
                    return Ok(true);
                }
                Output::Files(files) => {
                    for (name, bytes) in files {
                        put_file(tx, FileTable::Job, &id, &name, bytes)?;
                    }
                    return Ok(true);
                }
                Output::Simulation { plan_id, json, csv } => {
                    tx.exec(
                        "INSERT INTO simulations (id, plan_id, created_at, json, csv)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (id) DO UPDATE SET json=excluded.json, csv=excluded.csv",
                        &params![&id, plan_id, t, json, csv],
                    )?;
                    return Ok(true);
                }
            };
            tx.exec(
                "INSERT INTO plans (id, created_at, summary, assignments, schools, certificate)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET created_at=excluded.created_at,
                     summary=excluded.summary, assignments=excluded.assignments,
                     schools=excluded.schools, certificate=excluded.certificate",
                &params![&id, t, a.summary, a.assignments, a.schools, a.certificate],
            )?;
            for (name, bytes) in a.files {
                put_file(tx, FileTable::Plan, &id, &name, bytes)?;
            }
            Ok(true)
        })
    }

    /// Mark a job failed with its reason (JSON); the request is deleted. With `worker`: only
    /// while that worker holds it (or it is still queued).
    pub fn fail_job(&self, id: &str, worker: Option<&str>, error_json: &str) -> DbResult<bool> {
        let t = now();
        let p = params![id, t, error_json, worker];
        let set = params![id, t, error_json];
        self.db.tx(move |c| {
            let n = c.exec(
                "UPDATE jobs SET state='failed', stage=NULL, finished_at=?2, request=NULL, error=?3,
                     lease_until=NULL
                 WHERE id=?1 AND (state='queued' OR (state='running'
                     AND (CAST(?4 AS TEXT) IS NULL OR worker=?4)))",
                &p,
            )?;
            if n == 1 {
                // A scenario set's own row (no row for other kinds).
                c.exec(
                    "UPDATE scenario_sets SET state='failed', finished_at=?2, error=?3
                     WHERE id=?1 AND state='running'",
                    &set,
                )?;
            }
            Ok(n == 1)
        })
    }

    /// Put a running job back in the queue. `refund`: the attempt does not count (a graceful
    /// shutdown interrupted it, not a crash). With `worker`: only while that worker holds it.
    pub fn requeue(&self, id: &str, worker: Option<&str>, refund: bool) -> DbResult<()> {
        let p = params![id, refund, worker];
        self.db.with(move |c| {
            c.exec(
                "UPDATE jobs SET state='queued', stage=NULL, attempts=attempts-?2, worker=NULL,
                     lease_until=NULL
                 WHERE id=?1 AND state='running' AND (CAST(?3 AS TEXT) IS NULL OR worker=?3)",
                &p,
            )
            .map(|_| ())
        })
    }

    /// Jobs left unfinished by an earlier run, oldest first: (id, state, attempts).
    pub fn unfinished(&self) -> DbResult<Vec<(String, String, u32)>> {
        self.db.with(|c| {
            c.query(
                "SELECT id, state, attempts FROM jobs WHERE state IN ('queued','running')
                 ORDER BY seq",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)? as u32)))
            .collect()
        })
    }

    /// The request of a done plan submitted with `keep_inputs` (JSON text); `None` for any
    /// other job.
    pub fn kept_request(&self, id: &str) -> DbResult<Option<String>> {
        let p = params![id];
        self.db.with(move |c| {
            match c.query_opt(
                "SELECT request FROM jobs WHERE id=?1 AND kind='plan' AND state='done'
                     AND keep_request=1",
                &p,
            )? {
                Some(r) => r.opt_text(0),
                None => Ok(None),
            }
        })
    }

    /// The kind and stored request (JSON) of a job; `None` when the job is unknown or has
    /// ended (a done plan submitted with `keep_inputs` keeps it).
    pub fn request(&self, id: &str) -> DbResult<Option<(Kind, String)>> {
        let p = params![id];
        self.db.with(move |c| {
            match c.query_opt("SELECT kind, request FROM jobs WHERE id=?1", &p)? {
                Some(r) => match r.opt_text(1)? {
                    Some(req) => Ok(Some((Kind::parse(&r.text(0)?)?, req))),
                    None => Ok(None),
                },
                None => Ok(None),
            }
        })
    }

    /// A job's row, `None` when there is no such job.
    pub fn job(&self, id: &str) -> DbResult<Option<JobRow>> {
        let p = params![id];
        self.db.with(move |c| {
            c.query_opt(
                "SELECT id, state, stage, created_at, started_at, finished_at, attempts, error,
                     pupils, schools, kind
                 FROM jobs WHERE id=?1",
                &p,
            )?
            .as_ref()
            .map(job_row)
            .transpose()
        })
    }

    /// One artefact of a plan by column name (`summary`, `assignments`, `schools`, `certificate`).
    pub fn artefact(&self, id: &str, which: Artefact) -> DbResult<Option<Vec<u8>>> {
        let sql = format!("SELECT {} FROM plans WHERE id=?1", which.column());
        let p = params![id];
        self.db.with(move |c| c.query_opt(&sql, &p)?.map(|r| r.blob(0)).transpose())
    }

    /// A publishable file of a plan by name.
    pub fn plan_file(&self, id: &str, name: &str) -> DbResult<Option<Vec<u8>>> {
        let p = params![id, name];
        self.db.with(move |c| {
            c.query_opt(
                "SELECT COALESCE(b.bytes, f.bytes) FROM plan_files f
                 LEFT JOIN blobs b ON b.hash = f.hash WHERE f.id=?1 AND f.name=?2",
                &p,
            )?
            .map(|r| r.blob(0))
            .transpose()
        })
    }

    /// The names of a plan's publishable files.
    pub fn plan_file_names(&self, id: &str) -> DbResult<Vec<String>> {
        let p = params![id];
        self.db.with(move |c| {
            c.query("SELECT name FROM plan_files WHERE id=?1 ORDER BY name", &p)?
                .iter()
                .map(|r| r.text(0))
                .collect()
        })
    }

    /// A stored simulation: (plan id, `simulation.json`, `simulation.csv`).
    pub fn simulation(&self, id: &str) -> DbResult<Option<StoredSimulation>> {
        let p = params![id];
        self.db.with(move |c| {
            c.query_opt("SELECT plan_id, json, csv FROM simulations WHERE id=?1", &p)?
                .map(|r| Ok((r.text(0)?, r.blob(1)?, r.blob(2)?)))
                .transpose()
        })
    }

    /// A scenario set: (state, error JSON, file names). The state is its job's (`queued`,
    /// `running`, `done`, `failed`), or for a set finished before sets were jobs its own.
    pub fn scenario_set(&self, id: &str) -> DbResult<Option<StoredScenarioSet>> {
        let p = params![id];
        self.db.with(move |c| {
            let row = match c
                .query_opt("SELECT state, error FROM jobs WHERE id=?1 AND kind='scenarios'", &p)?
            {
                Some(r) => r,
                None => {
                    match c.query_opt("SELECT state, error FROM scenario_sets WHERE id=?1", &p)? {
                        Some(r) => r,
                        None => return Ok(None),
                    }
                }
            };
            let names = c
                .query("SELECT name FROM scenario_files WHERE id=?1 ORDER BY name", &p)?
                .iter()
                .map(|r| r.text(0))
                .collect::<DbResult<Vec<String>>>()?;
            Ok(Some((row.text(0)?, row.opt_text(1)?, names)))
        })
    }

    /// One file of a scenario set.
    pub fn scenario_file(&self, id: &str, name: &str) -> DbResult<Option<Vec<u8>>> {
        let p = params![id, name];
        self.db.with(move |c| {
            c.query_opt(
                "SELECT COALESCE(b.bytes, f.bytes) FROM scenario_files f
                 LEFT JOIN blobs b ON b.hash = f.hash WHERE f.id=?1 AND f.name=?2",
                &p,
            )?
            .map(|r| r.blob(0))
            .transpose()
        })
    }

    /// One file of a job's output (a site choice).
    pub fn job_file(&self, id: &str, name: &str) -> DbResult<Option<Vec<u8>>> {
        let p = params![id, name];
        self.db.with(move |c| {
            c.query_opt(
                "SELECT b.bytes FROM job_files f JOIN blobs b ON b.hash = f.hash
                 WHERE f.id=?1 AND f.name=?2",
                &p,
            )?
            .map(|r| r.blob(0))
            .transpose()
        })
    }

    /// The names of a job's output files.
    pub fn job_file_names(&self, id: &str) -> DbResult<Vec<String>> {
        let p = params![id];
        self.db.with(move |c| {
            c.query("SELECT name FROM job_files WHERE id=?1 ORDER BY name", &p)?
                .iter()
                .map(|r| r.text(0))
                .collect()
        })
    }

    /// Counts of jobs per state.
    pub fn counts(&self) -> DbResult<Vec<(String, u64)>> {
        self.db.with(|c| {
            c.query("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state", &[])?
                .iter()
                .map(|r| Ok((r.text(0)?, r.int(1)? as u64)))
                .collect()
        })
    }

    /// Check the database answers (for the health check).
    pub fn ping(&self) -> DbResult<()> {
        self.db.with(|c| c.query("SELECT 1", &[]).map(|_| ()))
    }

    /// Check the database can be written (for the readiness check): one row rewritten.
    pub fn probe_write(&self) -> DbResult<()> {
        let p = params![now()];
        self.db.with(move |c| {
            c.exec(
                "INSERT INTO probe (id, at) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET at=excluded.at",
                &p,
            )
            .map(|_| ())
        })
    }
}

/// What to say when the database at `db` cannot be opened: the path, SQLite's reason, and for
/// a database that cannot be written the fix (the file, its `-wal` and `-shm` files, which
/// SQLite creates with the database file's mode, and the directory must be writable).
pub fn open_error(db: &Path, e: &DbError) -> String {
    use rusqlite::ErrorCode::{CannotOpen, PermissionDenied, ReadOnly};
    let code = match e {
        DbError::Sqlite(e) => e.sqlite_error_code(),
        _ => None,
    };
    let shown = db.display();
    let dir = match db.parent().map(|d| d.display().to_string()) {
        Some(d) if !d.is_empty() => d,
        _ => ".".into(),
    };
    match code {
        Some(ReadOnly | PermissionDenied | CannotOpen) => format!(
            "{shown}: cannot open the database for writing ({e}). The service's user must be \
             able to write the file, its companions {shown}-wal and {shown}-shm (SQLite \
             creates them with the database file's mode, so a read-only database leaves \
             read-only companions behind: fixing the file alone does not help) and the \
             directory {dir}: e.g. chmod u+w {shown} {shown}-wal {shown}-shm {dir} (as the \
             user that owns them), or chown them to the service's user"
        ),
        _ => format!("{shown}: cannot open the database: {e}"),
    }
}

/// One of the four files every plan stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artefact {
    /// `summary.json`.
    Summary,
    /// `assignments.csv`.
    Assignments,
    /// `schools.csv`.
    Schools,
    /// `certificate.json`.
    Certificate,
}

impl Artefact {
    fn column(self) -> &'static str {
        match self {
            Artefact::Summary => "summary",
            Artefact::Assignments => "assignments",
            Artefact::Schools => "schools",
            Artefact::Certificate => "certificate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files are stored by content: two plans with the same file keep one copy, read back by
    /// either; retention deletes a content once no file refers to it.
    #[test]
    fn files_are_stored_once_by_content_and_swept_when_unreferenced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Target::Sqlite(dir.path().join("c.db")), 1).unwrap();
        let blobs = |store: &Store| {
            store.with(|c| c.query_one("SELECT COUNT(*) FROM blobs", &[])?.int(0)).unwrap()
        };
        let plan = |extra: &[u8]| Artefacts {
            summary: b"{}".to_vec(),
            assignments: b"a".to_vec(),
            schools: b"s".to_vec(),
            certificate: b"c".to_vec(),
            files: vec![
                ("districts.csv".into(), b"block_id,school_id\nB1,A\n".to_vec()),
                ("report.html".into(), extra.to_vec()),
            ],
        };
        for (id, extra) in [("p1", &b"one"[..]), ("p2", &b"two"[..])] {
            store.insert_job(id, Kind::Plan, "{}", 1, 1).unwrap();
            store.claim_job("w", 60_000, i64::MAX, 3, "{}").unwrap();
            assert!(store.finish_job(id, "w", &Output::Plan(plan(extra))).unwrap());
        }
        assert_eq!(blobs(&store), 3, "districts.csv once, two reports");
        for id in ["p1", "p2"] {
            let d = store.plan_file(id, "districts.csv").unwrap().unwrap();
            assert_eq!(d, b"block_id,school_id\nB1,A\n");
        }
        assert_eq!(store.plan_file("p2", "report.html").unwrap().unwrap(), b"two");
        let hash: String = store
            .with(|c| {
                c.query_one(
                    "SELECT hash FROM plan_files WHERE id='p1' AND name='districts.csv'",
                    &[],
                )?
                .text(0)
            })
            .unwrap();
        assert_eq!(hash, content_hash(b"block_id,school_id\nB1,A\n"));
        // p1 older than the cutoff: its report goes, the shared file stays for p2.
        store
            .with(|c| c.exec("UPDATE jobs SET finished_at = 10 WHERE id='p1'", &[]).map(|_| ()))
            .unwrap();
        store.delete_finished_before(100).unwrap();
        assert_eq!(blobs(&store), 2);
        assert!(store.plan_file("p2", "districts.csv").unwrap().is_some());
        store.delete_finished_before(now() + 10).unwrap();
        assert_eq!(blobs(&store), 0);
    }

    /// Every kind of job goes through the same queue: claimed, finished by the worker that
    /// holds it, its output where its kind keeps it; a scenario set running when an older
    /// version stopped (its request in `scenario_sets`) becomes a queued job, one without a
    /// stored request fails with the reason given.
    #[test]
    fn every_kind_is_a_job_and_old_scenario_sets_join_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Target::Sqlite(dir.path().join("c.db")), 1).unwrap();
        store.insert_job("p", Kind::Plan, "{}", 2, 1).unwrap();
        store.insert_job("s", Kind::Scenarios, "{\"scenarios\":\"\"}", 0, 0).unwrap();
        store
            .with(|c| {
                c.exec(
                    "INSERT INTO scenario_sets (id, state, created_at, request, attempts)
                 VALUES ('old', 'running', 5, '{\"old\":1}', 1),
                        ('lost', 'running', 6, NULL, 1)",
                    &[],
                )
                .map(|_| ())
            })
            .unwrap();
        assert_eq!(store.adopt_scenario_sets("{\"error\":\"interrupted\"}").unwrap(), (1, 1));
        assert_eq!(store.adopt_scenario_sets("{}").unwrap(), (0, 0), "adopted once");
        let (kind, req) = store.request("old").unwrap().unwrap();
        assert_eq!((kind, req.as_str()), (Kind::Scenarios, "{\"old\":1}"));
        let lost = store.scenario_set("lost").unwrap().unwrap();
        assert_eq!(
            (lost.0.as_str(), lost.1.as_deref()),
            ("failed", Some("{\"error\":\"interrupted\"}"))
        );
        // Claimed in submission order whatever their kind.
        let mut claimed = Vec::new();
        while let (Some(c), _) = store.claim_job("w", 60_000, i64::MAX, 3, "{}").unwrap() {
            claimed.push(c.id);
        }
        assert_eq!(claimed, ["p", "s", "old"]);
        assert_eq!(store.job("s").unwrap().unwrap().kind, Kind::Scenarios);
        let files = vec![("comparison.csv".to_string(), b"a,b".to_vec())];
        assert!(!store.finish_job("s", "other", &Output::Scenarios(files.clone())).unwrap());
        assert!(store.finish_job("s", "w", &Output::Scenarios(files)).unwrap());
        let set = store.scenario_set("s").unwrap().unwrap();
        assert_eq!(
            (set.0.as_str(), set.2.as_slice()),
            ("done", &["comparison.csv".to_string()][..])
        );
        assert_eq!(store.scenario_file("s", "comparison.csv").unwrap().unwrap(), b"a,b");
        assert!(store.request("s").unwrap().is_none(), "the request is deleted when done");
        assert!(store.fail_job("old", Some("w"), "{\"error\":\"x\"}").unwrap());
        assert_eq!(store.scenario_set("old").unwrap().unwrap().0, "failed");
        let sim =
            Output::Simulation { plan_id: "p".into(), json: b"{}".to_vec(), csv: b"c".to_vec() };
        store.insert_job("m", Kind::Simulation, "{}", 0, 1).unwrap();
        assert!(store.claim_job("w", 60_000, i64::MAX, 3, "{}").unwrap().0.is_some());
        assert!(store.finish_job("m", "w", &sim).unwrap());
        assert_eq!(
            store.simulation("m").unwrap().unwrap(),
            ("p".into(), b"{}".to_vec(), b"c".to_vec())
        );
    }

    /// A database that cannot be written (here opened read-only, as SQLite does for a file the
    /// user may not write) is named, with its -wal/-shm files and the fix.
    #[test]
    fn a_read_only_database_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        drop(Store::open(&Target::Sqlite(db.clone()), 1).unwrap());
        let e = match Store::open_with(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
            Err(e) => e,
            Ok(_) => panic!("a read-only database opened for writing"),
        };
        let m = open_error(&db, &e);
        let shown = db.display().to_string();
        for part in [
            format!("{shown}: cannot open the database for writing"),
            format!("{shown}-wal"),
            format!("{shown}-shm"),
            "chmod u+w".to_string(),
            dir.path().display().to_string(),
        ] {
            assert!(m.contains(&part), "{part} missing from: {m}");
        }
    }
}
