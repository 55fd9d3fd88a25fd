//! Load measurement of `catchment serve`: plans per second and latency percentiles for the demo
//! instance (data/demo, 2,000 pupils x 35 schools), each request a full submission answered
//! with the finished plan (`POST /v1/plans?wait=true`). Not a test: it prints figures.
//!
//!     cargo bench --bench http_load -- [REQUESTS] [CONCURRENCY]
//!
//! The server is the real binary on 127.0.0.1 with a fresh SQLite file, stopped by PID.

#[path = "../tests/common/http.rs"]
mod http;
#[path = "../tests/common/server.rs"]
mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let requests: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let tmp = tempfile::tempdir().unwrap();
    let s = server::Server::start(&tmp.path().join("load.db"), &[]);
    let dir = server::demo_dir();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let body = serde_json::to_vec(&serde_json::json!({
        "schools": read("schools.csv"), "pupils": read("pupils.csv"), "matrix": read("matrix.csv"),
    }))
    .unwrap();
    // Warm-up.
    let r = http::post_json(s.addr, "/v1/plans?wait=true", Some(server::WRITE), &body);
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
                        let r = http::post_json(
                            s.addr,
                            "/v1/plans?wait=true",
                            Some(server::WRITE),
                            &body,
                        );
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
    let pct = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "demo instance (2,000 pupils x 35 schools, {} KB request), {requests} plans, {concurrency} concurrent clients, solves bounded by the core count",
        body.len() / 1024
    );
    println!(
        "  {:.2} plans/s; latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        requests as f64 / wall.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
}
