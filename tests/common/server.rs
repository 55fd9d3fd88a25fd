//! Starting and stopping the real `catchment serve` binary on 127.0.0.1, by PID.
//!
//! The store: a SQLite file at the path a test gives, or, when `CATCHMENT_TEST_POSTGRES` holds
//! a PostgreSQL URL (`scripts/postgres url`), a database of its own on that server for each
//! such path (made at its first use, so a restart on the same path finds its data).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WRITE: &str = "write-token-for-tests-0123456789";
pub const READ: &str = "read-token-for-tests-0123456789";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_catchment")
}

pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo")
}

/// Send a signal to the process with this PID.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) with a PID of a child this process started and has not yet waited for.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

/// The PostgreSQL server the tests run against (`CATCHMENT_TEST_POSTGRES`), if any.
pub fn postgres() -> Option<String> {
    std::env::var("CATCHMENT_TEST_POSTGRES").ok().filter(|u| !u.trim().is_empty())
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = before_query.split('/').next().unwrap_or("");
    format!("{scheme}://{authority}/{name}{query}")
}

/// The `--db` of a test's store at `path`: the path itself, or the URL of a PostgreSQL
/// database of its own (created when missing).
pub fn db_arg(path: &Path) -> String {
    let Some(url) = postgres() else { return path.display().to_string() };
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    let name = format!("t_{:016x}", h.finish());
    let admin =
        catchment::server::db::open(&catchment::server::db::Target::Postgres(url.clone()), 1)
            .expect("connect to CATCHMENT_TEST_POSTGRES");
    let n = name.clone();
    let exists = admin
        .with(move |c| {
            c.query("SELECT 1 FROM pg_database WHERE datname=?1", &[n.as_str().into()])
                .map(|r| !r.is_empty())
        })
        .unwrap();
    if !exists {
        // Databases made at the same moment by tests running in parallel may collide on
        // the template: a few tries.
        for attempt in 0.. {
            let sql = format!("CREATE DATABASE {name}");
            match admin.with(move |c| c.batch(&sql)) {
                Ok(()) => break,
                Err(e) if attempt < 10 && !e.to_string().contains("already exists") => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) if e.to_string().contains("already exists") => break,
                Err(e) => panic!("CREATE DATABASE {name}: {e}"),
            }
        }
    }
    with_database(&url, &name)
}

/// Rows of a query on a test's store (the SQLite file at `path`, or its PostgreSQL database).
pub fn store_rows(path: &Path, sql: &str) -> Vec<catchment::server::db::Row> {
    let target = catchment::server::db::Target::parse(&db_arg(path));
    let db = catchment::server::db::open(&target, 1).unwrap();
    let sql = sql.to_string();
    db.with(move |c| c.query(&sql, &[])).unwrap()
}

pub struct Server {
    pub child: Option<Child>,
    pub addr: SocketAddr,
    pub db: PathBuf,
}

impl Server {
    /// Start `catchment serve` on a free port with the test tokens and `extra` flags.
    pub fn start(db: &Path, extra: &[&str]) -> Server {
        Self::start_with(db, extra, Stdio::inherit())
    }

    /// As [`Server::start`], its log (stderr) appended to the file `log`.
    pub fn start_logged(db: &Path, extra: &[&str], log: &Path) -> Server {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        Self::start_with(db, extra, Stdio::from(f))
    }

    fn start_with(db: &Path, extra: &[&str], stderr: Stdio) -> Server {
        Self::spawn(serve_command(db, extra), db, stderr)
    }

    /// `catchment serve --db DB` with `extra` flags, `db` given as is (a file or a URL).
    pub fn start_db(db: &str, extra: &[&str]) -> Server {
        Self::spawn(serve_command_db(db, extra), Path::new(db), Stdio::inherit())
    }

    fn spawn(mut cmd: Command, db: &Path, stderr: Stdio) -> Server {
        let mut child =
            cmd.stdout(Stdio::piped()).stderr(stderr).spawn().expect("start catchment serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .unwrap();
        Server { child: Some(child), addr, db: db.to_path_buf() }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL, as a crash.
    pub fn kill9(&mut self) {
        let mut c = self.child.take().unwrap();
        signal(c.id(), libc::SIGKILL);
        c.wait().unwrap();
    }

    /// SIGTERM and wait for the exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        signal(c.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                signal(c.id(), libc::SIGKILL);
                return c.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.terminate();
        }
    }
}

/// `catchment serve` on a free port with the test tokens and `extra` flags, not started. On
/// PostgreSQL leases are short (2 s) and polls quick, so a killed server's jobs are taken over
/// within a test's patience; a test's own flags come first.
pub fn serve_command(db: &Path, extra: &[&str]) -> Command {
    let mut c = serve_command_db(&db_arg(db), extra);
    if postgres().is_some() {
        c.env("CATCHMENT_LEASE_SECONDS", "2").env("CATCHMENT_POLL_MS", "50");
    }
    c
}

/// `catchment serve --db DB` (a file or a URL, as is) with the test tokens and `extra` flags.
pub fn serve_command_db(db: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(["--token", &format!("write:{WRITE}"), "--token", &format!("read:{READ}")])
        .args(extra)
        .env_remove("CATCHMENT_TOKENS");
    c
}

/// Run `cmd` for at most `limit`; kill it then. Returns its exit status (`None` when it had to
/// be killed), stdout and stderr.
pub fn run_for(
    mut cmd: Command,
    limit: Duration,
) -> (Option<std::process::ExitStatus>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            signal(child.id(), libc::SIGKILL);
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status, read(&out), read(&err))
}

/// Poll a job until it is done or failed (at most `limit`); its status.
pub fn wait_job(addr: SocketAddr, id: &str, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let r = super::http::get(addr, &format!("/v1/jobs/{id}"), Some(READ));
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        if j["state"] == "done" || j["state"] == "failed" {
            return j;
        }
        assert!(Instant::now() < deadline, "job {id} did not finish: {j}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Poll a scenario set until it is no longer running (at most `limit`); its status.
pub fn wait_set(addr: SocketAddr, id: &str, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let r = super::http::get(addr, &format!("/v1/scenarios/{id}"), Some(READ));
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        if j["state"] != "running" {
            return j;
        }
        assert!(Instant::now() < deadline, "scenario set {id} did not finish: {j}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
