//! The SQLite store of jobs and plans (one file, WAL mode). A job keeps its request until it
//! finishes (so an interrupted job can be resumed); the request, which holds pupil locations,
//! is deleted once the job is done or failed. A plan keeps the artefacts `catchment solve`
//! writes, byte for byte.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

/// The SQLite database of jobs, plans and scenario sets; one connection, shared behind a lock.
pub struct Store {
    conn: Mutex<Connection>,
}

/// A job's row, without its request.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// The job's id.
    pub id: String,
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

/// The result of a store operation (a SQLite error on failure).
pub type DbResult<T> = rusqlite::Result<T>;

/// A stored scenario set: (state, error JSON, file names).
pub type StoredScenarioSet = (String, Option<String>, Vec<String>);

/// A stored simulation: (plan id, `simulation.json`, `simulation.csv`).
pub type StoredSimulation = (String, Vec<u8>, Vec<u8>);

/// The current time in Unix seconds (0 if the clock is before 1970).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Open (or create) the database at `path` in WAL mode and create missing tables.
    pub fn open(path: &Path) -> DbResult<Store> {
        Self::open_with(path, rusqlite::OpenFlags::default())
    }

    fn open_with(path: &Path, flags: rusqlite::OpenFlags) -> DbResult<Store> {
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Freed pages go back to the file system (`PRAGMA incremental_vacuum` after a retention
        // sweep). Set before the first table; a database made without it is vacuumed once.
        let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        if auto_vacuum != 2 {
            conn.execute_batch("PRAGMA auto_vacuum=INCREMENTAL")?;
            let tables: i64 =
                conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
            if tables > 0 {
                conn.execute_batch("VACUUM")?;
            }
        }
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "journal mode is {mode}, not WAL"
            )));
        }
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL;
             PRAGMA foreign_keys=ON;
             PRAGMA secure_delete=ON;
             CREATE TABLE IF NOT EXISTS jobs (
                 id TEXT PRIMARY KEY,
                 state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed')),
                 stage TEXT,
                 created_at INTEGER NOT NULL,
                 started_at INTEGER,
                 finished_at INTEGER,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 request TEXT,
                 error TEXT,
                 pupils INTEGER NOT NULL,
                 schools INTEGER NOT NULL,
                 seq INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS plans (
                 id TEXT PRIMARY KEY REFERENCES jobs(id),
                 created_at INTEGER NOT NULL,
                 summary BLOB NOT NULL,
                 assignments BLOB NOT NULL,
                 schools BLOB NOT NULL,
                 certificate BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS plan_files (
                 id TEXT NOT NULL REFERENCES jobs(id),
                 name TEXT NOT NULL,
                 bytes BLOB NOT NULL,
                 PRIMARY KEY (id, name)
             );
             CREATE TABLE IF NOT EXISTS scenario_sets (
                 id TEXT PRIMARY KEY,
                 state TEXT NOT NULL CHECK (state IN ('running','done','failed')),
                 created_at INTEGER NOT NULL,
                 finished_at INTEGER,
                 error TEXT,
                 request TEXT,
                 attempts INTEGER NOT NULL DEFAULT 0
             );
             CREATE TABLE IF NOT EXISTS scenario_files (
                 id TEXT NOT NULL REFERENCES scenario_sets(id),
                 name TEXT NOT NULL,
                 bytes BLOB NOT NULL,
                 PRIMARY KEY (id, name)
             );
             CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS simulations (
                 id TEXT PRIMARY KEY,
                 plan_id TEXT NOT NULL REFERENCES jobs(id),
                 created_at INTEGER NOT NULL,
                 json BLOB NOT NULL,
                 csv BLOB NOT NULL
             );",
        )?;
        conn.execute_batch(super::versions::CREATE_TABLE)?;
        // Databases made before scenario sets kept their inputs.
        let has_request: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('scenario_sets') WHERE name='request'",
            [],
            |r| r.get(0),
        )?;
        if !has_request {
            conn.execute_batch(
                "ALTER TABLE scenario_sets ADD COLUMN request TEXT;
                 ALTER TABLE scenario_sets ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;",
            )?;
        }
        // A database that cannot be written is found now, not at the first job.
        conn.execute("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?1)", [now()])?;
        Ok(Store { conn: Mutex::new(conn) })
    }

    /// Retention: delete jobs (with their plans, files and simulations) and scenario sets (with
    /// their files) that finished before `cutoff` (Unix seconds), and simulations made before
    /// it; then return the freed pages to the file system (`secure_delete` has overwritten
    /// them) and truncate the write-ahead log. Returns (jobs, scenario sets) deleted.
    pub fn delete_finished_before(&self, cutoff: i64) -> DbResult<(usize, usize)> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let old_jobs = "SELECT id FROM jobs WHERE state IN ('done','failed') AND finished_at < ?1";
        tx.execute(
            &format!("DELETE FROM simulations WHERE plan_id IN ({old_jobs}) OR created_at < ?1"),
            [cutoff],
        )?;
        tx.execute(&format!("DELETE FROM plan_files WHERE id IN ({old_jobs})"), [cutoff])?;
        tx.execute(&format!("DELETE FROM plans WHERE id IN ({old_jobs})"), [cutoff])?;
        let jobs = tx.execute(
            "DELETE FROM jobs WHERE state IN ('done','failed') AND finished_at < ?1",
            [cutoff],
        )?;
        tx.execute(
            "DELETE FROM scenario_files WHERE id IN (SELECT id FROM scenario_sets
             WHERE state IN ('done','failed') AND finished_at < ?1)",
            [cutoff],
        )?;
        let sets = tx.execute(
            "DELETE FROM scenario_sets WHERE state IN ('done','failed') AND finished_at < ?1",
            [cutoff],
        )?;
        tx.commit()?;
        if jobs + sets > 0 {
            c.execute_batch("PRAGMA incremental_vacuum;")?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok((jobs, sets))
    }

    pub(super) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add a queued job with its request (JSON, kept until the job ends) and its size.
    pub fn insert_job(
        &self,
        id: &str,
        request: &str,
        pupils: usize,
        schools: usize,
    ) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO jobs (id, state, created_at, request, pupils, schools, seq)
             VALUES (?1, 'queued', ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs))",
            params![id, now(), request, pupils as i64, schools as i64],
        )?;
        Ok(())
    }

    /// Mark a queued job running; returns its attempt number, or `None` when it is not queued.
    pub fn start_job(&self, id: &str) -> DbResult<Option<u32>> {
        let c = self.conn();
        let n = c.execute(
            "UPDATE jobs SET state='running', stage='reading input', started_at=?2, attempts=attempts+1
             WHERE id=?1 AND state='queued'",
            params![id, now()],
        )?;
        if n == 0 {
            return Ok(None);
        }
        c.query_row("SELECT attempts FROM jobs WHERE id=?1", [id], |r| r.get(0)).map(Some)
    }

    /// Record the stage of a running job.
    pub fn set_stage(&self, id: &str, stage: &str) -> DbResult<()> {
        self.conn().execute(
            "UPDATE jobs SET stage=?2 WHERE id=?1 AND state='running'",
            params![id, stage],
        )?;
        Ok(())
    }

    /// Store the plan and mark the job done, in one transaction; the request is deleted.
    pub fn finish_job(&self, id: &str, a: &Artefacts) -> DbResult<()> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO plans (id, created_at, summary, assignments, schools, certificate)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, now(), a.summary, a.assignments, a.schools, a.certificate],
        )?;
        for (name, bytes) in &a.files {
            tx.execute(
                "INSERT OR REPLACE INTO plan_files (id, name, bytes) VALUES (?1, ?2, ?3)",
                params![id, name, bytes],
            )?;
        }
        tx.execute(
            "UPDATE jobs SET state='done', stage=NULL, finished_at=?2, request=NULL, error=NULL WHERE id=?1",
            params![id, now()],
        )?;
        tx.commit()
    }

    /// Mark a job failed with its reason (JSON); the request is deleted.
    pub fn fail_job(&self, id: &str, error_json: &str) -> DbResult<()> {
        self.conn().execute(
            "UPDATE jobs SET state='failed', stage=NULL, finished_at=?2, request=NULL, error=?3
             WHERE id=?1 AND state IN ('queued','running')",
            params![id, now(), error_json],
        )?;
        Ok(())
    }

    /// Put a running job back in the queue. `refund`: the attempt does not count (a graceful
    /// shutdown interrupted it, not a crash).
    pub fn requeue(&self, id: &str, refund: bool) -> DbResult<()> {
        self.conn().execute(
            "UPDATE jobs SET state='queued', stage=NULL, attempts=attempts-?2 WHERE id=?1 AND state='running'",
            params![id, refund as i64],
        )?;
        Ok(())
    }

    /// Jobs left unfinished by an earlier run, oldest first: (id, state, attempts).
    pub fn unfinished(&self) -> DbResult<Vec<(String, String, u32)>> {
        let c = self.conn();
        let mut st = c.prepare(
            "SELECT id, state, attempts FROM jobs WHERE state IN ('queued','running') ORDER BY seq",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect()
    }

    /// The stored request (JSON) of a job; `None` when the job is unknown or has ended.
    pub fn request(&self, id: &str) -> DbResult<Option<String>> {
        self.conn()
            .query_row("SELECT request FROM jobs WHERE id=?1", [id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
    }

    /// A job's row, `None` when there is no such job.
    pub fn job(&self, id: &str) -> DbResult<Option<JobRow>> {
        self.conn()
            .query_row(
                "SELECT id, state, stage, created_at, started_at, finished_at, attempts, error, pupils, schools
                 FROM jobs WHERE id=?1",
                [id],
                |r| {
                    Ok(JobRow {
                        id: r.get(0)?,
                        state: r.get(1)?,
                        stage: r.get(2)?,
                        created_at: r.get(3)?,
                        started_at: r.get(4)?,
                        finished_at: r.get(5)?,
                        attempts: r.get(6)?,
                        error: r.get(7)?,
                        pupils: r.get::<_, i64>(8)? as u64,
                        schools: r.get::<_, i64>(9)? as u64,
                    })
                },
            )
            .optional()
    }

    /// One artefact of a plan by column name (`summary`, `assignments`, `schools`, `certificate`).
    pub fn artefact(&self, id: &str, which: Artefact) -> DbResult<Option<Vec<u8>>> {
        let sql = format!("SELECT {} FROM plans WHERE id=?1", which.column());
        self.conn().query_row(&sql, [id], |r| r.get(0)).optional()
    }

    /// A publishable file of a plan by name.
    pub fn plan_file(&self, id: &str, name: &str) -> DbResult<Option<Vec<u8>>> {
        self.conn()
            .query_row("SELECT bytes FROM plan_files WHERE id=?1 AND name=?2", [id, name], |r| {
                r.get(0)
            })
            .optional()
    }

    /// The names of a plan's publishable files.
    pub fn plan_file_names(&self, id: &str) -> DbResult<Vec<String>> {
        let c = self.conn();
        let mut st = c.prepare("SELECT name FROM plan_files WHERE id=?1 ORDER BY name")?;
        let rows = st.query_map([id], |r| r.get(0))?;
        rows.collect()
    }

    /// Store a finished simulation of a plan (`simulation.json` and `simulation.csv` as
    /// `catchment simulate` writes them).
    pub fn insert_simulation(
        &self,
        id: &str,
        plan_id: &str,
        json: &[u8],
        csv: &[u8],
    ) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO simulations (id, plan_id, created_at, json, csv) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, plan_id, now(), json, csv],
        )?;
        Ok(())
    }

    /// A stored simulation: (plan id, `simulation.json`, `simulation.csv`).
    pub fn simulation(&self, id: &str) -> DbResult<Option<StoredSimulation>> {
        self.conn()
            .query_row("SELECT plan_id, json, csv FROM simulations WHERE id=?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
    }

    /// A new scenario set, to run, with its request (JSON: the scenario file and the files it
    /// names), kept until the set ends so a restart can run it again.
    pub fn insert_scenario_set(&self, id: &str, request: &str) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO scenario_sets (id, state, created_at, request) VALUES (?1, 'running', ?2, ?3)",
            params![id, now(), request],
        )?;
        Ok(())
    }

    /// Count a start of a scenario set; its stored request, or `None` when the set has ended or
    /// its request is not stored.
    pub fn start_scenario_set(&self, id: &str) -> DbResult<Option<String>> {
        let c = self.conn();
        let n = c.execute(
            "UPDATE scenario_sets SET attempts=attempts+1
             WHERE id=?1 AND state='running' AND request IS NOT NULL",
            [id],
        )?;
        if n == 0 {
            return Ok(None);
        }
        c.query_row("SELECT request FROM scenario_sets WHERE id=?1", [id], |r| r.get(0))
    }

    /// A graceful shutdown cut a scenario set off: the start does not count.
    pub fn requeue_scenario_set(&self, id: &str) -> DbResult<()> {
        self.conn().execute(
            "UPDATE scenario_sets SET attempts=MAX(attempts-1, 0) WHERE id=?1 AND state='running'",
            [id],
        )?;
        Ok(())
    }

    /// Scenario sets an earlier run left unfinished, oldest first: (id, starts that did not
    /// end, whether the request is stored).
    pub fn unfinished_scenario_sets(&self) -> DbResult<Vec<(String, u32, bool)>> {
        let c = self.conn();
        let mut st = c.prepare(
            "SELECT id, attempts, request IS NOT NULL FROM scenario_sets WHERE state='running'
             ORDER BY created_at, id",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect()
    }

    /// Store a scenario set's files and mark it done, in one transaction.
    pub fn finish_scenario_set(&self, id: &str, files: &[(String, Vec<u8>)]) -> DbResult<()> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        for (name, bytes) in files {
            tx.execute(
                "INSERT OR REPLACE INTO scenario_files (id, name, bytes) VALUES (?1, ?2, ?3)",
                params![id, name, bytes],
            )?;
        }
        tx.execute(
            "UPDATE scenario_sets SET state='done', finished_at=?2, request=NULL WHERE id=?1",
            params![id, now()],
        )?;
        tx.commit()
    }

    /// Mark a scenario set failed with its reason (JSON of the error answer).
    pub fn fail_scenario_set(&self, id: &str, error_json: &str) -> DbResult<()> {
        self.conn().execute(
            "UPDATE scenario_sets SET state='failed', finished_at=?2, error=?3, request=NULL
             WHERE id=?1 AND state='running'",
            params![id, now(), error_json],
        )?;
        Ok(())
    }

    /// A scenario set: (state, error JSON, file names).
    pub fn scenario_set(&self, id: &str) -> DbResult<Option<StoredScenarioSet>> {
        let c = self.conn();
        let row: Option<(String, Option<String>)> = c
            .query_row("SELECT state, error FROM scenario_sets WHERE id=?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((state, error)) = row else { return Ok(None) };
        let mut st = c.prepare("SELECT name FROM scenario_files WHERE id=?1 ORDER BY name")?;
        let names = st.query_map([id], |r| r.get(0))?.collect::<DbResult<Vec<String>>>()?;
        Ok(Some((state, error, names)))
    }

    /// One file of a scenario set.
    pub fn scenario_file(&self, id: &str, name: &str) -> DbResult<Option<Vec<u8>>> {
        self.conn()
            .query_row(
                "SELECT bytes FROM scenario_files WHERE id=?1 AND name=?2",
                [id, name],
                |r| r.get(0),
            )
            .optional()
    }

    /// Counts of jobs per state.
    pub fn counts(&self) -> DbResult<Vec<(String, u64)>> {
        let c = self.conn();
        let mut st = c.prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        rows.collect()
    }

    /// Check the database answers (for the health check).
    pub fn ping(&self) -> DbResult<()> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))
    }

    /// Check the database can be written (for the readiness check): one row rewritten.
    pub fn probe_write(&self) -> DbResult<()> {
        self.conn().execute("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?1)", [now()])?;
        Ok(())
    }
}

/// What to say when the database at `db` cannot be opened: the path, SQLite's reason, and for
/// a database that cannot be written the fix (the file, its `-wal` and `-shm` files, which
/// SQLite creates with the database file's mode, and the directory must be writable).
pub fn open_error(db: &Path, e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::{CannotOpen, PermissionDenied, ReadOnly};
    let shown = db.display();
    let dir = match db.parent().map(|d| d.display().to_string()) {
        Some(d) if !d.is_empty() => d,
        _ => ".".into(),
    };
    match e.sqlite_error_code() {
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

    /// A database that cannot be written (here opened read-only, as SQLite does for a file the
    /// user may not write) is named, with its -wal/-shm files and the fix.
    #[test]
    fn a_read_only_database_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        drop(Store::open(&db).unwrap());
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
