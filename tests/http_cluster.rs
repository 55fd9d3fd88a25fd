//! Several `catchment serve` processes on one PostgreSQL database: an API node and workers.
//! Runs when `CATCHMENT_TEST_POSTGRES` names a server (`bash scripts/test` starts one with
//! `scripts/postgres`); otherwise each test says it was skipped.
//!
//! - three workers take 100 submitted plans, each completed exactly once (counted in the
//!   database), and the API node serves every plan;
//! - a worker killed (SIGKILL) mid-job: the job completes on another worker after its lease;
//! - the database restarted under load: every acknowledged job completes, once;
//! - scenario sets and simulations submitted to the API node are run by workers like plans: a
//!   worker killed mid-set, the set completes on another worker.

mod common;

use common::http::{get, post_json};
use common::server::{postgres, store_rows, wait_job, Server, READ, WRITE};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tests share one PostgreSQL server and one restarts it: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn skip() -> bool {
    if postgres().is_none() {
        eprintln!(
            "skipped: CATCHMENT_TEST_POSTGRES is not set (bash scripts/postgres start prints a URL)"
        );
        return true;
    }
    false
}

/// A small plan request: `n` pupils, two schools, distances by id.
fn small_plan(n: usize) -> Vec<u8> {
    let schools = "id,name,lat,lon,capacity\na,A,52.1,11.6,40\nb,B,52.2,11.7,40\n";
    let mut pupils = String::from("id,lat,lon\n");
    let mut matrix = String::from("pupil_id,school_id,meters\n");
    for p in 0..n {
        pupils.push_str(&format!("p{p},52.15,11.65\n"));
        matrix.push_str(&format!("p{p},a,{}\np{p},b,{}\n", 100 + 37 * p % 500, 100 + 53 * p % 700));
    }
    serde_json::to_vec(&json!({ "schools": schools, "pupils": pupils, "matrix": matrix })).unwrap()
}

/// The demo instance (2,000 pupils): a job that takes a moment.
fn demo_plan() -> Vec<u8> {
    let dir = common::server::demo_dir();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    serde_json::to_vec(&json!({
        "schools": read("schools.csv"), "pupils": read("pupils.csv"), "matrix": read("matrix.csv"),
    }))
    .unwrap()
}

fn submit(addr: SocketAddr, body: &[u8]) -> String {
    let r = post_json(addr, "/v1/plans", Some(WRITE), body);
    assert_eq!(r.status, 202, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// Per job: (state, completions, attempts, takeovers, worker).
fn jobs(db: &Path) -> BTreeMap<String, (String, i64, i64, i64, Option<String>)> {
    store_rows(db, "SELECT id, state, completions, attempts, takeovers, worker FROM jobs")
        .into_iter()
        .map(|r| {
            (
                r.text(0).unwrap(),
                (
                    r.text(1).unwrap(),
                    r.int(2).unwrap(),
                    r.int(3).unwrap(),
                    r.int(4).unwrap(),
                    r.opt_text(5).unwrap(),
                ),
            )
        })
        .collect()
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    let m = get(addr, "/metrics", None).text();
    m.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} missing from: {m}"))
}

#[test]
fn three_workers_take_a_hundred_plans_each_once() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("hundred.db");
    let api = Server::start(&db, &["--role", "api"]);
    let workers: Vec<Server> =
        (0..3).map(|_| Server::start(&db, &["--role", "worker", "--max-solves", "2"])).collect();
    let ids: Vec<String> = (0..100).map(|i| submit(api.addr, &small_plan(3 + i % 7))).collect();
    for id in &ids {
        let j = wait_job(api.addr, id, Duration::from_secs(120));
        assert_eq!(j["state"], "done", "{j}");
    }
    let rows = jobs(&db);
    assert_eq!(rows.len(), 100);
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let (state, completions, attempts, takeovers, worker) = &rows[id];
        assert_eq!((state.as_str(), *completions), ("done", 1), "{id}");
        assert_eq!((*attempts, *takeovers), (1, 0), "{id}: no worker died");
        *by_worker.entry(worker.clone().expect("the worker is recorded")).or_default() += 1;
    }
    assert!(by_worker.len() > 1, "one worker did everything: {by_worker:?}");
    // Each node counts what it did; together every job once.
    let done: f64 = workers.iter().map(|w| metric(w.addr, "catchment_jobs_done_total ")).sum();
    assert_eq!(done, 100.0);
    assert_eq!(metric(api.addr, "catchment_jobs_done_total "), 0.0);
    assert_eq!(metric(api.addr, "catchment_jobs_submitted_total "), 100.0);
    // The API node serves plans it did not compute; so does any worker.
    for (i, id) in ids.iter().enumerate().step_by(9) {
        let node = if i % 2 == 0 { api.addr } else { workers[i % 3].addr };
        let r = get(node, &format!("/v1/plans/{id}/assignments.csv"), Some(READ));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.text().lines().count(), 1 + 3 + i % 7, "{id}");
    }
    // ?wait=true on the API node: answered with the plan a worker computed.
    let r = post_json(api.addr, "/v1/plans?wait=true", Some(WRITE), &small_plan(5));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["summary"].is_object(), "{}", r.text());
    for s in [&api].into_iter().chain(&workers) {
        assert_eq!(get(s.addr, "/readyz", None).status, 200);
    }
}

#[test]
fn a_killed_workers_job_completes_elsewhere() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("kill.db");
    let api = Server::start(&db, &["--role", "api"]);
    let demo = demo_plan();
    let one = ["--role", "worker", "--max-solves", "1"];
    // A worker alone gets the jobs; killed while one runs (rarely between two: again).
    let mut victim = None;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let mut w = Server::start(&db, &one);
        let pid = w.pid();
        ids.extend((0..4).map(|_| submit(api.addr, &demo)));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mine = format!(":{pid}:");
        let running = loop {
            let running: Vec<String> = jobs(&db)
                .into_iter()
                .filter(|(_, j)| {
                    j.0 == "running" && j.4.as_deref().is_some_and(|w| w.contains(&mine))
                })
                .map(|(id, _)| id)
                .collect();
            if !running.is_empty() || Instant::now() > deadline {
                break running;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        w.kill9();
        let still: Vec<String> = jobs(&db)
            .into_iter()
            .filter(|(id, j)| running.contains(id) && j.0 == "running")
            .map(|(id, _)| id)
            .collect();
        if let Some(id) = still.first() {
            victim = Some(id.clone());
            break;
        }
    }
    let victim = victim.expect("a job was running when the worker was killed");
    // Another worker takes it over once the lease (2 s) has run out.
    let other = Server::start(&db, &one);
    for id in &ids {
        let j = wait_job(api.addr, id, Duration::from_secs(240));
        assert_eq!(j["state"], "done", "{j}");
    }
    let rows = jobs(&db);
    let (_, completions, attempts, takeovers, worker) = &rows[&victim];
    assert_eq!(*completions, 1);
    assert_eq!((*attempts, *takeovers), (2, 1), "{victim}");
    assert!(worker.as_deref().unwrap().contains(&format!(":{}:", other.pid())), "{worker:?}");
    assert!(rows.values().all(|j| j.1 == 1), "every job completed once: {rows:?}");
    assert_eq!(metric(other.addr, "catchment_jobs_taken_over_total "), 1.0);
    let r = get(api.addr, &format!("/v1/plans/{victim}/certificate.json"), Some(READ));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The Magdeburg case's files, by name, for a scenario set or a plan with blocks.
fn magdeburg_files() -> serde_json::Map<String, serde_json::Value> {
    let mdg = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    ["schools.csv", "pupils.csv", "matrix.csv", "blocks.csv"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read_to_string(mdg.join(n)).unwrap().into()))
        .collect()
}

#[test]
fn scenario_sets_and_simulations_are_jobs_workers_take_over() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("sets.db");
    let api = Server::start(&db, &["--role", "api"]);
    let files = magdeburg_files();
    let mut toml = "[base]\nschools = \"schools.csv\"\npupils = \"pupils.csv\"\nmatrix = \"matrix.csv\"\nblocks = \"blocks.csv\"\n".to_string();
    const SCENARIOS: usize = 12;
    for i in 0..SCENARIOS {
        toml.push_str(&format!("\n[[scenario]]\nname = \"walk-{i}\"\nmax_walk = {}\n", 20_000 + i));
    }
    let body = serde_json::to_vec(&json!({"scenarios": toml, "files": files})).unwrap();
    let r = post_json(api.addr, "/v1/scenarios", Some(WRITE), &body);
    assert_eq!(r.status, 202, "{}", r.text());
    let set = r.json()["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(jobs(&db)[&set].0, "queued", "an API node runs no job");
    // A worker takes the set; killed while it runs.
    let one = ["--role", "worker", "--max-solves", "1"];
    let mut first = Server::start(&db, &one);
    let deadline = Instant::now() + Duration::from_secs(60);
    while jobs(&db)[&set].0 != "running" {
        assert!(Instant::now() < deadline, "no worker took the set");
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill9();
    assert_eq!(jobs(&db)[&set].0, "running", "the set ran for longer than it took to kill");
    let other = Server::start(&db, &one);
    let deadline = Instant::now() + Duration::from_secs(600);
    let st = loop {
        let st = get(api.addr, &format!("/v1/scenarios/{set}"), Some(READ)).json();
        if st["state"] != "running" {
            break st;
        }
        assert!(Instant::now() < deadline, "the set did not finish: {st}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(st["state"], "done", "{st}");
    let (_, completions, attempts, takeovers, worker) = &jobs(&db)[&set];
    assert_eq!((*completions, *attempts, *takeovers), (1, 2, 1));
    assert!(worker.as_deref().unwrap().contains(&format!(":{}:", other.pid())), "{worker:?}");
    let r = get(api.addr, &format!("/v1/scenarios/{set}/files/comparison.csv"), Some(READ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text().lines().count(), 1 + 1 + SCENARIOS, "{}", r.text());

    // A simulation of a plan, both submitted to the API node, both run by the worker.
    let plan = json!({
        "schools": files["schools.csv"], "pupils": files["pupils.csv"],
        "matrix": files["matrix.csv"], "blocks": files["blocks.csv"],
    });
    let r = post_json(api.addr, "/v1/plans?wait=true", Some(WRITE), plan.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let plan_id = r.json()["id"].as_str().unwrap().to_string();
    let route = format!("/v1/plans/{plan_id}/simulations");
    let r = post_json(api.addr, &format!("{route}?wait=true"), Some(WRITE), br#"{"draws": 300}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    let sim = r.json()["id"].as_str().unwrap().to_string();
    assert!(r.json()["simulation"].is_object(), "{}", r.text());
    let (state, completions, _, _, worker) = &jobs(&db)[&sim];
    assert_eq!((state.as_str(), *completions), ("done", 1));
    assert!(worker.as_deref().unwrap().contains(&format!(":{}:", other.pid())), "{worker:?}");
    let csv = get(other.addr, &format!("/v1/simulations/{sim}/simulation.csv"), Some(READ));
    assert_eq!(csv.status, 200, "{}", csv.text());
}

/// `scripts/postgres restart`, when the test server is the one scripts/postgres runs.
fn restart_postgres() -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres");
    let url = std::process::Command::new("bash").arg(&script).arg("url").output().unwrap();
    if String::from_utf8_lossy(&url.stdout).trim() != postgres().unwrap_or_default() {
        return false;
    }
    let o = std::process::Command::new("bash").arg(&script).arg("restart").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    true
}

#[test]
fn the_database_restarts_under_load_and_nothing_is_lost() {
    if skip() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("restart.db");
    let api = Server::start(&db, &["--role", "api"]);
    let workers: Vec<Server> =
        (0..2).map(|_| Server::start(&db, &["--role", "worker", "--max-solves", "2"])).collect();
    let addr = api.addr;
    // Submissions go on while the database restarts; an answer of 503 is the service saying
    // it could not take the job (nothing acknowledged): the client tries again.
    let (acknowledged, refused) = std::thread::scope(|sc| {
        let load = sc.spawn(|| {
            let mut ids = Vec::new();
            let mut refused = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while ids.len() < 60 {
                assert!(Instant::now() < deadline, "submissions kept failing");
                let r = post_json(addr, "/v1/plans", Some(WRITE), &small_plan(3 + ids.len() % 5));
                match r.status {
                    202 => ids.push(r.json()["id"].as_str().unwrap().to_string()),
                    503 => {
                        assert_eq!(r.json()["error"], "unavailable", "{}", r.text());
                        refused += 1;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    s => panic!("{s}: {}", r.text()),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (ids, refused)
        });
        std::thread::sleep(Duration::from_millis(400));
        if !restart_postgres() {
            eprintln!("the database is not scripts/postgres's: not restarted");
        }
        load.join().unwrap()
    });
    eprintln!(
        "{} jobs acknowledged, {refused} submissions refused during the restart",
        acknowledged.len()
    );
    for id in &acknowledged {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r = get(addr, &format!("/v1/jobs/{id}"), Some(READ));
            if r.status == 200 && r.json()["state"] == "done" {
                break;
            }
            assert!(r.status == 200 || r.status == 503, "{}", r.text());
            assert!(r.json()["state"] != "failed", "{}", r.text());
            assert!(Instant::now() < deadline, "{id} did not finish: {}", r.text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let rows = jobs(&db);
    let ids: BTreeSet<&String> = acknowledged.iter().collect();
    for id in &ids {
        assert_eq!(rows[*id].1, 1, "{id} completed once: {:?}", rows[*id]);
    }
    for s in [&api].into_iter().chain(&workers) {
        assert_eq!(get(s.addr, "/readyz", None).status, 200);
    }
    // A worker asked to stop hands its jobs back and exits cleanly.
    let mut w = Server::start(&db, &["--role", "worker", "--max-solves", "1"]);
    let id = submit(addr, &demo_plan());
    let st = w.terminate();
    assert!(st.success(), "{st:?}");
    let j = wait_job(addr, &id, Duration::from_secs(120));
    assert_eq!(j["state"], "done", "{j}");
}
