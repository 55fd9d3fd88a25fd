//! Load measurement of `catchment serve`: plans per second and latency percentiles for the demo
//! instance (data/demo, 2,000 pupils x 35 schools), each request a full submission answered
//! with the finished plan (`POST /v1/plans?wait=true`). Not a test: it prints figures.
//!
//!     cargo bench --bench http_load -- [REQUESTS] [CONCURRENCY]
//!
//! The server is the real binary on 127.0.0.1 with a fresh SQLite file, stopped by PID; with
//! `CATCHMENT_TEST_POSTGRES` (a URL: `bash scripts/postgres start`) also one node and an API
//! node with three workers, each on a fresh PostgreSQL database, side by side.

#[path = "../tests/common/http.rs"]
mod http;
#[path = "../tests/common/server.rs"]
mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `requests` plans through `addr` from `concurrency` clients: (plans/s, sorted latencies).
fn measure(
    addr: std::net::SocketAddr,
    body: &[u8],
    requests: usize,
    concurrency: usize,
) -> (f64, Vec<Duration>) {
    // Warm-up.
    let r = http::post_json(addr, "/v1/plans?wait=true", Some(server::WRITE), body);
    assert_eq!(r.status, 200, "{}", r.text());
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..concurrency)
            .map(|_| {
                sc.spawn(|| {
                    let mut mine = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < requests {
                        let t = Instant::now();
                        let r =
                            http::post_json(addr, "/v1/plans?wait=true", Some(server::WRITE), body);
                        assert_eq!(r.status, 200, "{}", r.text());
                        mine.push(t.elapsed());
                    }
                    mine
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    latencies.sort();
    (requests as f64 / wall.as_secs_f64(), latencies)
}

fn report(what: &str, (rate, latencies): (f64, Vec<Duration>)) {
    let pct = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "  {what:<34} {rate:>7.2} plans/s; latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let requests: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let tmp = tempfile::tempdir().unwrap();
    let dir = server::demo_dir();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let body = serde_json::to_vec(&serde_json::json!({
        "schools": read("schools.csv"), "pupils": read("pupils.csv"), "matrix": read("matrix.csv"),
    }))
    .unwrap();
    println!(
        "demo instance (2,000 pupils x 35 schools, {} KB request), {requests} plans, {concurrency} concurrent clients, solves bounded by the core count per node",
        body.len() / 1024
    );
    let sqlite = tmp.path().join("load.db").display().to_string();
    let s = server::Server::start_db(&sqlite, &[]);
    report("one node, SQLite", measure(s.addr, &body, requests, concurrency));
    drop(s);
    match server::postgres() {
        Some(_) => {
            let one = server::db_arg(&tmp.path().join("load-pg-one"));
            let s = server::Server::start_db(&one, &[]);
            report("one node, PostgreSQL", measure(s.addr, &body, requests, concurrency));
            drop(s);
            let url = server::db_arg(&tmp.path().join("load-pg"));
            let poll = ["--poll-ms", "20"];
            let api = server::Server::start_db(&url, &[&["--role", "api"][..], &poll].concat());
            let _workers: Vec<server::Server> = (0..3)
                .map(|_| {
                    server::Server::start_db(&url, &[&["--role", "worker"][..], &poll].concat())
                })
                .collect();
            report(
                "api + 3 workers, PostgreSQL",
                measure(api.addr, &body, requests, concurrency),
            );
        }
        None => println!(
            "  (PostgreSQL: set CATCHMENT_TEST_POSTGRES=$(bash scripts/postgres start) for api + 3 workers)"
        ),
    }
}
