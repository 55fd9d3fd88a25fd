//! Test helpers: a real `osrm-routed` on the Monaco extract (started and stopped by PID, on
//! 127.0.0.1 and a free port), and a stand-in HTTP server that answers what a test tells it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn monaco_pbf() -> PathBuf {
    repo().join("tests/data/monaco.osm.pbf")
}

fn osrm_home() -> PathBuf {
    std::env::var_os("CATCHMENT_OSRM_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/osrm"))
}

/// The directory of the OSRM binaries; fails the test (never skips it) when they are missing.
pub fn osrm_bin() -> PathBuf {
    let bin = osrm_home().join("osrm-bindings-26.10.0/osrm/bin");
    if !bin.join("osrm-routed").is_file() {
        panic!(
            "OSRM is not installed (no {}): run scripts/setup (it calls scripts/osrm install) before the tests",
            bin.join("osrm-routed").display()
        );
    }
    bin
}

/// The Monaco extract prepared for the foot profile (once per test binary; reused across runs).
pub fn monaco_dataset() -> PathBuf {
    static DS: OnceLock<PathBuf> = OnceLock::new();
    DS.get_or_init(|| {
        osrm_bin();
        let out = Command::new("bash")
            .arg(repo().join("scripts/osrm"))
            .arg("prepare")
            .arg(monaco_pbf())
            .output()
            .expect("run scripts/osrm prepare");
        assert!(
            out.status.success(),
            "scripts/osrm prepare failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running osrm-routed; stopped (by its PID) when dropped.
pub struct Osrm {
    child: Child,
    pub url: String,
}

impl Osrm {
    pub fn start(max_table_size: usize) -> Osrm {
        let ds = monaco_dataset();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(osrm_bin().join("osrm-routed"))
                .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-a", "MLD", "--max-table-size"])
                .arg(max_table_size.to_string())
                .arg(&ds)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start osrm-routed");
            let mut osrm = Osrm { child, url: format!("http://127.0.0.1:{port}") };
            if osrm.wait_ready() {
                return osrm;
            }
        }
        panic!("osrm-routed did not start");
    }

    fn wait_ready(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false; // exited (port taken?)
            }
            if let Ok(mut r) =
                ureq::get(&format!("{}/nearest/v1/foot/7.4197,43.7311", self.url)).call()
            {
                if r.status() == 200 && r.body_mut().read_to_string().is_ok() {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Osrm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the stand-in answers to its n-th request (0-based): status, JSON body, delay first.
pub type Script = dyn Fn(usize) -> (u16, String, Duration) + Send + Sync;

/// A local HTTP server that answers as scripted and counts requests.
pub struct StandIn {
    pub url: String,
    pub hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl StandIn {
    pub fn start(script: Box<Script>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::from(script);
        let (h, s) = (hits.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let n = h.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    let (status, body, delay) = script(n);
                    std::thread::sleep(delay);
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        StandIn { url: format!("http://127.0.0.1:{port}"), hits, stop, port }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Great-circle distance, as the library computes it for its straight-line baseline.
pub use catchment::report::baseline::straight_line_m;
