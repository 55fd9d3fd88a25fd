//! Walking distances from an OSRM server's `table` service.
//!
//! Sources are the pupils (one row per distinct home location), destinations the schools. A
//! table larger than the server's limit (`osrm-routed --max-table-size`, default 100) is cut
//! into tiles of at most `max_table_size` locations each (sources + destinations), sent
//! concurrently (bounded), retried with backoff on 5xx answers and timeouts, all under one total
//! deadline. Any tile that finally fails fails the whole table: there is never a partial
//! matrix.
//!
//! The route length from OSRM starts and ends at the points where the coordinates meet the
//! street network; the gaps (`waypoints[].distance`) are added to every pair, so a pupil living
//! 40 m off the street walks those 40 m too. Pupils whose gap is larger than a threshold (by
//! default 300 m: probably a wrong coordinate) and pairs OSRM answers with `null` (no route)
//! are reported by pupil id ([`RoutingReport`]); coordinates never appear in a message.
//!
//! The HTTP side sits behind [`TableService`], so the chunking, retry and deadline logic is
//! tested against stand-in servers as well as a real `osrm-routed`.

use crate::instance::Instance;
use crate::routing::cache::{CacheKey, MatrixCache};
use crate::routing::matrix::{Matrix, UNREACHABLE};
pub use crate::routing::table::{LatLon, TableAnswer};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Walking speed used to turn a snap gap into seconds (5 km/h, OSRM's foot profile speed).
const FOOT_METERS_PER_SECOND: f64 = 5.0 / 3.6;

/// Why a table request failed. Messages name the server and OSRM's own words, never a
/// coordinate.
#[derive(Debug, Clone, PartialEq)]
pub enum OsrmError {
    /// Nothing answers at the address (connection refused, unknown host).
    Down {
        /// The server's base URL.
        server: String,
        /// The connection error.
        detail: String,
    },
    /// A request got no answer within its timeout (after every retry).
    Timeout {
        /// The server's base URL.
        server: String,
        /// The per-request timeout, in seconds.
        seconds: f64,
        /// Requests tried, first attempt included.
        attempts: u32,
    },
    /// The server answered 5xx (after every retry), with OSRM's code and message when it sent one.
    Server {
        /// The server's base URL.
        server: String,
        /// The HTTP status code.
        status: u16,
        /// OSRM's error `code` (e.g. `TooBig`), empty when it sent none.
        code: String,
        /// OSRM's error `message`, empty when it sent none.
        message: String,
        /// Requests tried, first attempt included.
        attempts: u32,
    },
    /// The server refused the request (4xx), e.g. `TooBig` when the table limit is smaller
    /// than the chunk size. Not retried.
    Rejected {
        /// The server's base URL.
        server: String,
        /// The HTTP status code.
        status: u16,
        /// OSRM's error `code` (e.g. `TooBig`), empty when it sent none.
        code: String,
        /// OSRM's error `message`, empty when it sent none.
        message: String,
    },
    /// The answer was not a table of the expected shape.
    Protocol {
        /// The server's base URL.
        server: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// The whole table did not finish within the total deadline.
    Deadline {
        /// The server's base URL.
        server: String,
        /// The total deadline, in seconds.
        seconds: f64,
        /// Requests (tiles) finished before the deadline.
        done: usize,
        /// Requests (tiles) the table was cut into.
        total: usize,
    },
}

impl fmt::Display for OsrmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OsrmError::Down { server, detail } => {
                write!(f, "OSRM server {server} is not reachable ({detail}); is it running? (scripts/osrm start ...)")
            }
            OsrmError::Timeout { server, seconds, attempts } => {
                write!(f, "OSRM server {server} did not answer within {seconds:.1} s ({attempts} attempts)")
            }
            OsrmError::Server { server, status, code, message, attempts } => write!(
                f,
                "OSRM server {server} failed with HTTP {status} after {attempts} attempts: {}",
                osrm_words(code, message)
            ),
            OsrmError::Rejected { server, status, code, message } => {
                write!(
                    f,
                    "OSRM server {server} rejected the request (HTTP {status}): {}",
                    osrm_words(code, message)
                )
            }
            OsrmError::Protocol { server, detail } => write!(f, "OSRM server {server} sent an unexpected answer: {detail}"),
            OsrmError::Deadline { server, seconds, done, total } => write!(
                f,
                "the OSRM table from {server} did not finish within the deadline of {seconds:.0} s ({done} of {total} requests done); no matrix was produced"
            ),
        }
    }
}

fn osrm_words(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => "no message".to_string(),
        (false, true) => code.to_string(),
        (true, false) => message.to_string(),
        (false, false) => format!("{code}: {message}"),
    }
}

impl std::error::Error for OsrmError {}

impl OsrmError {
    fn retryable(&self) -> bool {
        matches!(self, OsrmError::Timeout { .. } | OsrmError::Server { .. })
    }
}

/// The `table` service of a routing engine: one request, no chunking or retries.
pub trait TableService: Sync {
    /// Distances and durations from every source to every destination, within `timeout`.
    fn table(
        &self,
        sources: &[LatLon],
        destinations: &[LatLon],
        timeout: Duration,
    ) -> Result<TableAnswer, OsrmError>;
    /// The server, for messages ("http://127.0.0.1:5000").
    fn server(&self) -> String;
    /// The routing profile ("foot"); part of the cache key.
    fn profile(&self) -> String;
}

/// An OSRM HTTP server (`osrm-routed`), spoken to with a small blocking client.
pub struct OsrmHttp {
    base: String,
    profile: String,
    agent: ureq::Agent,
}

impl OsrmHttp {
    /// `base` is the server's address, e.g. `http://127.0.0.1:5000`; `profile` is the name in
    /// the URL (`foot`; osrm-routed serves whichever profile its dataset was prepared with).
    pub fn new(base: &str, profile: &str) -> OsrmHttp {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections_per_host(16)
            .user_agent(concat!("catchment/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        OsrmHttp {
            base: base.trim_end_matches('/').to_string(),
            profile: profile.to_string(),
            agent,
        }
    }

    /// The request URL. Coordinates are written with 7 decimals (about 1 cm).
    pub fn table_url(&self, sources: &[LatLon], destinations: &[LatLon]) -> String {
        let mut url = format!("{}/table/v1/{}/", self.base, self.profile);
        for (i, (lat, lon)) in sources.iter().chain(destinations).enumerate() {
            if i > 0 {
                url.push(';');
            }
            url.push_str(&format!("{lon:.7},{lat:.7}"));
        }
        let idx =
            |r: std::ops::Range<usize>| r.map(|i| i.to_string()).collect::<Vec<_>>().join(";");
        url.push_str(&format!(
            "?sources={}&destinations={}&annotations=distance,duration",
            idx(0..sources.len()),
            idx(sources.len()..sources.len() + destinations.len())
        ));
        url
    }
}

#[derive(serde::Deserialize)]
struct Waypoint {
    distance: Option<f64>,
}

#[derive(serde::Deserialize)]
struct TableResponse {
    code: String,
    #[serde(default)]
    message: Option<String>,
    distances: Option<Vec<Vec<Option<f64>>>>,
    durations: Option<Vec<Vec<Option<f64>>>>,
    sources: Option<Vec<Option<Waypoint>>>,
    destinations: Option<Vec<Option<Waypoint>>>,
}

impl TableService for OsrmHttp {
    fn table(
        &self,
        sources: &[LatLon],
        destinations: &[LatLon],
        timeout: Duration,
    ) -> Result<TableAnswer, OsrmError> {
        let server = self.server();
        let url = self.table_url(sources, destinations);
        // ureq's errors may quote the URL, which holds coordinates: only the kind is kept.
        let fail = |e: ureq::Error| match e {
            ureq::Error::Timeout(_) => OsrmError::Timeout {
                server: server.clone(),
                seconds: timeout.as_secs_f64(),
                attempts: 1,
            },
            ureq::Error::ConnectionFailed => {
                OsrmError::Down { server: server.clone(), detail: "connection refused".into() }
            }
            ureq::Error::HostNotFound => {
                OsrmError::Down { server: server.clone(), detail: "host not found".into() }
            }
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    OsrmError::Timeout {
                        server: server.clone(),
                        seconds: timeout.as_secs_f64(),
                        attempts: 1,
                    }
                }
                std::io::ErrorKind::ConnectionRefused => {
                    OsrmError::Down { server: server.clone(), detail: "connection refused".into() }
                }
                k => OsrmError::Down { server: server.clone(), detail: format!("I/O error: {k}") },
            },
            other => OsrmError::Protocol { server: server.clone(), detail: error_kind(&other) },
        };
        let mut resp = self
            .agent
            .get(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()
            .map_err(fail)?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(256 << 20).read_to_string().map_err(fail)?;
        let parsed: Option<TableResponse> = serde_json::from_str(&body).ok();
        if status >= 400 {
            let (code, message) = parsed
                .map(|p| (p.code, p.message.unwrap_or_default()))
                .unwrap_or_else(|| (String::new(), String::new()));
            return Err(if status >= 500 {
                OsrmError::Server { server, status, code, message, attempts: 1 }
            } else {
                OsrmError::Rejected { server, status, code, message }
            });
        }
        let p = parsed.ok_or_else(|| OsrmError::Protocol {
            server: server.clone(),
            detail: "the answer is not a table (JSON)".into(),
        })?;
        if p.code != "Ok" {
            return Err(OsrmError::Rejected {
                server,
                status,
                code: p.code,
                message: p.message.unwrap_or_default(),
            });
        }
        let proto = |d: &str| OsrmError::Protocol { server: server.clone(), detail: d.to_string() };
        let distances = p
            .distances
            .ok_or_else(|| proto("no distances (does the server support annotations=distance?)"))?;
        let durations = p.durations.ok_or_else(|| proto("no durations"))?;
        let shape_ok = |t: &Vec<Vec<Option<f64>>>| {
            t.len() == sources.len() && t.iter().all(|r| r.len() == destinations.len())
        };
        if !shape_ok(&distances) || !shape_ok(&durations) {
            return Err(proto(
                "the table does not have one row per source and one column per destination",
            ));
        }
        let snaps = |w: Option<Vec<Option<Waypoint>>>,
                     n: usize,
                     what: &str|
         -> Result<Vec<f64>, OsrmError> {
            let w = w.ok_or_else(|| proto(&format!("no {what} waypoints")))?;
            if w.len() != n {
                return Err(proto(&format!("{} {what} waypoints for {n} {what}", w.len())));
            }
            Ok(w.iter().map(|w| w.as_ref().and_then(|w| w.distance).unwrap_or(0.0)).collect())
        };
        Ok(TableAnswer {
            source_snap: snaps(p.sources, sources.len(), "source")?,
            destination_snap: snaps(p.destinations, destinations.len(), "destination")?,
            distances,
            durations,
        })
    }

    fn server(&self) -> String {
        self.base.clone()
    }

    fn profile(&self) -> String {
        self.profile.clone()
    }
}

fn error_kind(e: &ureq::Error) -> String {
    match e {
        ureq::Error::StatusCode(s) => format!("HTTP {s}"),
        ureq::Error::BodyExceedsLimit(n) => format!("the answer is larger than {n} bytes"),
        ureq::Error::Protocol(_) => "malformed HTTP".into(),
        ureq::Error::BadUri(_) => "bad server address".into(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS error".into(),
        _ => "HTTP client error".into(),
    }
}

/// How a table is requested.
#[derive(Debug, Clone, PartialEq)]
pub struct TableOptions {
    /// Locations (sources + destinations) per request: the server's `--max-table-size`.
    pub max_table_size: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Further attempts after a timeout or a 5xx answer.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// The whole table, retries included.
    pub deadline: Duration,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            max_table_size: 100,
            concurrency: 4,
            retries: 3,
            backoff: Duration::from_millis(250),
            request_timeout: Duration::from_secs(60),
            deadline: Duration::from_secs(600),
        }
    }
}

/// The tiles of a sources x destinations table, each within `max` locations.
fn tiles(
    n_src: usize,
    n_dst: usize,
    max: usize,
) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let max = max.max(2);
    let dst_chunk = if n_dst < max { n_dst } else { max / 2 };
    let src_chunk = (max - dst_chunk).max(1);
    let mut out = Vec::new();
    for s in (0..n_src).step_by(src_chunk) {
        for d in (0..n_dst).step_by(dst_chunk.max(1)) {
            out.push((s..(s + src_chunk).min(n_src), d..(d + dst_chunk).min(n_dst)));
        }
    }
    out
}

/// A whole table, assembled from tiles.
pub fn table(
    service: &dyn TableService,
    sources: &[LatLon],
    destinations: &[LatLon],
    opts: &TableOptions,
) -> Result<TableAnswer, OsrmError> {
    table_on(&[service], sources, destinations, opts)
}

/// A whole table, assembled from tiles sent to several servers of the same data at once
/// ([`run_tiles`]: tile `i` to server `i mod n`, each with `opts.concurrency` requests in flight).
pub fn table_on(
    services: &[&dyn TableService],
    sources: &[LatLon],
    destinations: &[LatLon],
    opts: &TableOptions,
) -> Result<TableAnswer, OsrmError> {
    let tiles: Vec<Tile> = tiles(sources.len(), destinations.len(), opts.max_table_size)
        .into_iter()
        .map(|(rs, rd)| (rs.collect(), rd.collect()))
        .collect();
    let results = run_tiles(services, sources, destinations, &tiles, opts)?;
    let mut out = TableAnswer {
        distances: vec![vec![None; destinations.len()]; sources.len()],
        durations: vec![vec![None; destinations.len()]; sources.len()],
        source_snap: vec![0.0; sources.len()],
        destination_snap: vec![0.0; destinations.len()],
    };
    for ((rs, rd), a) in tiles.iter().zip(results) {
        for (i, &s) in rs.iter().enumerate() {
            out.source_snap[s] = a.source_snap[i];
            for (j, &d) in rd.iter().enumerate() {
                out.distances[s][d] = a.distances[i][j];
                out.durations[s][d] = a.durations[i][j];
            }
        }
        for (j, &d) in rd.iter().enumerate() {
            out.destination_snap[d] = a.destination_snap[j];
        }
    }
    Ok(out)
}

/// One request of a table: the sources and the destinations it asks for (indices).
pub type Tile = (Vec<usize>, Vec<usize>);

/// The answers of the tiles, in order: tile `i` goes to server `i mod n` (so every server of a
/// list is asked when there are as many tiles), each server with `opts.concurrency` requests
/// in flight, retried with backoff, all under one total deadline. The first tile that finally
/// fails fails them all, naming its server.
pub fn run_tiles(
    services: &[&dyn TableService],
    sources: &[LatLon],
    destinations: &[LatLon],
    tiles: &[Tile],
    opts: &TableOptions,
) -> Result<Vec<TableAnswer>, OsrmError> {
    assert!(!services.is_empty(), "at least one table service");
    let started = Instant::now();
    let total = tiles.len();
    let n_services = services.len();
    let next: Vec<AtomicUsize> = (0..n_services).map(|_| AtomicUsize::new(0)).collect();
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<TableAnswer>>> = Mutex::new(vec![None; total]);
    let first_error: Mutex<Option<OsrmError>> = Mutex::new(None);
    let server = services.iter().map(|s| s.server()).collect::<Vec<_>>().join(", ");
    let deadline_error = |done: usize| OsrmError::Deadline {
        server: server.clone(),
        seconds: opts.deadline.as_secs_f64(),
        done,
        total,
    };
    let fail = |e: OsrmError| {
        stop.store(true, Ordering::SeqCst);
        let mut slot = first_error.lock().expect("lock");
        if slot.is_none() {
            *slot = Some(e);
        }
    };
    let worker = |k: usize| loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let service = services[k];
        let i = k + n_services * next[k].fetch_add(1, Ordering::SeqCst);
        if i >= total {
            return;
        }
        let (rs, rd) = &tiles[i];
        let src: Vec<LatLon> = rs.iter().map(|&s| sources[s]).collect();
        let dst: Vec<LatLon> = rd.iter().map(|&d| destinations[d]).collect();
        let mut attempt = 0u32;
        let answer = loop {
            let left = opts.deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                break Err(deadline_error(done.load(Ordering::SeqCst)));
            }
            let timeout = opts.request_timeout.min(left);
            match service.table(&src, &dst, timeout) {
                Ok(a) => break Ok(a),
                Err(e)
                    if e.retryable() && attempt < opts.retries && !stop.load(Ordering::SeqCst) =>
                {
                    attempt += 1;
                    let wait = opts.backoff.saturating_mul(1 << (attempt - 1).min(16));
                    let left = opts.deadline.saturating_sub(started.elapsed());
                    if wait >= left {
                        break Err(deadline_error(done.load(Ordering::SeqCst)));
                    }
                    tracing::debug!(tile = i, attempt, "OSRM request failed; retrying");
                    std::thread::sleep(wait);
                }
                Err(e) => {
                    let attempts = attempt + 1;
                    break Err(match e {
                        OsrmError::Timeout { server, seconds, .. }
                            if started.elapsed() >= opts.deadline =>
                        {
                            let _ = (server, seconds);
                            deadline_error(done.load(Ordering::SeqCst))
                        }
                        OsrmError::Timeout { server, seconds, .. } => {
                            OsrmError::Timeout { server, seconds, attempts }
                        }
                        OsrmError::Server { server, status, code, message, .. } => {
                            OsrmError::Server { server, status, code, message, attempts }
                        }
                        other => other,
                    });
                }
            }
        };
        match answer {
            Ok(a) => {
                if a.distances.len() != rs.len()
                    || a.source_snap.len() != rs.len()
                    || a.destination_snap.len() != rd.len()
                {
                    fail(OsrmError::Protocol {
                        server: service.server(),
                        detail: "a tile came back with the wrong size".into(),
                    });
                    return;
                }
                results.lock().expect("lock")[i] = Some(a);
                done.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                fail(e);
                return;
            }
        }
    };
    std::thread::scope(|scope| {
        for k in 0..n_services {
            // This server's tiles: k, k + n, k + 2n, ...
            let mine = (total + n_services - 1 - k) / n_services;
            let workers = opts.concurrency.clamp(1, mine.max(1));
            for _ in 0..workers {
                let worker = &worker;
                scope.spawn(move || worker(k));
            }
        }
    });
    if let Some(e) = first_error.into_inner().expect("lock") {
        return Err(e);
    }
    results
        .into_inner()
        .expect("lock")
        .into_iter()
        .map(|a| {
            a.ok_or_else(|| OsrmError::Protocol {
                server: server.clone(),
                detail: "a tile is missing".into(),
            })
        })
        .collect()
}

/// What routing found wrong, by pupil id (never by location).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RoutingReport {
    /// Pupils farther than the snap limit from any street: (pupil id, gap in whole meters).
    pub far_snapped: Vec<(String, u32)>,
    /// Pairs with no route: (pupil id, school id).
    pub unreachable: Vec<(String, String)>,
    /// The snap limit the report was made with, in meters.
    pub snap_limit_m: f64,
    /// What the rows are, in messages: `pupil` (the default when empty) or `block`.
    #[serde(skip)]
    pub unit: &'static str,
}

impl RoutingReport {
    /// Whether routing found nothing wrong.
    pub fn is_empty(&self) -> bool {
        self.far_snapped.is_empty() && self.unreachable.is_empty()
    }
}

impl fmt::Display for RoutingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 20;
        let more =
            |n: usize| if n > SHOWN { format!(" and {} more", n - SHOWN) } else { String::new() };
        let unit = if self.unit.is_empty() { "pupil" } else { self.unit };
        let mut parts = Vec::new();
        if !self.far_snapped.is_empty() {
            let ids: Vec<String> = self
                .far_snapped
                .iter()
                .take(SHOWN)
                .map(|(p, m)| format!("'{p}' ({m} m)"))
                .collect();
            parts.push(format!(
                "{} {unit}(s) are more than {:.0} m from the nearest street (a wrong location?): {}{}",
                self.far_snapped.len(),
                self.snap_limit_m,
                ids.join(", "),
                more(self.far_snapped.len())
            ));
        }
        if !self.unreachable.is_empty() {
            let ids: Vec<String> = self
                .unreachable
                .iter()
                .take(SHOWN)
                .map(|(p, s)| format!("('{p}', '{s}')"))
                .collect();
            parts.push(format!(
                "{} {unit}-school pair(s) have no walking route: {}{}",
                self.unreachable.len(),
                ids.join(", "),
                more(self.unreachable.len())
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Why routing an instance failed.
#[derive(Debug)]
pub enum RouteError {
    /// The table service failed.
    Osrm(OsrmError),
    /// Some pupils are far from any street or some pairs have no route (and that was not allowed).
    Unreachable(RoutingReport),
    /// A pupil has no coordinates (geocode first).
    NoLocation(Vec<String>),
    /// The disk cache could not be read or written.
    Cache(String),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Osrm(e) => write!(f, "{e}"),
            RouteError::Unreachable(r) => {
                write!(f, "routing found problems: {r}; no matrix was produced")
            }
            // Pupil ids are personal: the count only.
            RouteError::NoLocation(ids) => write!(
                f,
                "{} pupil(s) have no coordinates: give lat,lon, or street addresses and the OSM \
                 extract to geocode them",
                ids.len(),
            ),
            RouteError::Cache(m) => write!(f, "matrix cache: {m}"),
        }
    }
}

impl std::error::Error for RouteError {}

impl From<RouteError> for crate::Error {
    fn from(e: RouteError) -> Self {
        use crate::error::{Hint, Setting};
        let hint = match &e {
            RouteError::Osrm(OsrmError::Rejected { code, .. }) if code == "TooBig" => {
                Some(Hint::new(
                    "send fewer locations per request: the server's --max-table-size",
                    Some(Setting::OsrmTableSize),
                ))
            }
            RouteError::Unreachable(_) => Some(Hint::new(
                "leave these pairs out of the model",
                Some(Setting::AllowUnreachable),
            )),
            RouteError::NoLocation(_) => Some(Hint::new(
                "give the OSM extract the server was prepared from",
                Some(Setting::Osm),
            )),
            _ => None,
        };
        let message = e.to_string();
        match e {
            // Pupils without coordinates are the input's mistake, not the routing service's.
            RouteError::NoLocation(_) => crate::Error::Geocoding { message, hint },
            _ => crate::Error::Routing { message, hint },
        }
    }
}

/// Options for routing an instance.
#[derive(Debug, Clone)]
pub struct RouteOptions {
    /// How tables are requested: tile size, concurrency, retries, timeouts.
    pub table: TableOptions,
    /// Pupils snapped farther than this from a street are reported (meters).
    pub snap_limit_m: f64,
    /// Leave far-snapped pupils' pairs and unroutable pairs out (UNREACHABLE) instead of failing.
    pub allow_unreachable: bool,
}

impl Default for RouteOptions {
    fn default() -> Self {
        RouteOptions {
            table: TableOptions::default(),
            snap_limit_m: 300.0,
            allow_unreachable: false,
        }
    }
}

/// A cache to consult: the directory and the checksum of the dataset the server was built from.
pub struct CacheUse<'a> {
    /// The cache directory.
    pub cache: &'a MatrixCache,
    /// Checksum of the OSM extract the server was prepared from (part of the cache key).
    pub dataset_checksum: &'a str,
}

/// The pupil x school matrix of an instance from a table service (or the cache), with the
/// report of far snaps and missing routes.
pub fn route_instance(
    inst: &Instance,
    service: &dyn TableService,
    opts: &RouteOptions,
    cache: Option<CacheUse<'_>>,
) -> Result<(Matrix, RoutingReport), RouteError> {
    let missing: Vec<String> =
        inst.pupils.iter().filter(|p| p.location.is_none()).map(|p| p.id.clone()).collect();
    if !missing.is_empty() {
        return Err(RouteError::NoLocation(missing));
    }
    let rows: Vec<(&str, LatLon)> =
        inst.pupils.iter().map(|p| (p.id.as_str(), p.location.expect("checked"))).collect();
    route_rows(&rows, &inst.schools, &[service], opts, cache, "pupil")
}

/// The row x school matrix of any located rows (pupils, the city's blocks: `(id, location)`,
/// `unit` names them in the report) from table services of the same data (or the cache): the
/// tiles are shared out among them ([`table_on`]).
pub fn route_rows(
    rows: &[(&str, LatLon)],
    schools: &[crate::instance::School],
    services: &[&dyn TableService],
    opts: &RouteOptions,
    cache: Option<CacheUse<'_>>,
    unit: &'static str,
) -> Result<(Matrix, RoutingReport), RouteError> {
    // One source per distinct location (siblings, flats in one building).
    let mut index: HashMap<(u64, u64), usize> = HashMap::new();
    let mut sources: Vec<LatLon> = Vec::new();
    let row_of: Vec<usize> = rows
        .iter()
        .map(|&(_, (lat, lon))| {
            *index.entry((lat.to_bits(), lon.to_bits())).or_insert_with(|| {
                sources.push((lat, lon));
                sources.len() - 1
            })
        })
        .collect();
    let destinations: Vec<LatLon> = schools.iter().map(|s| (s.lat, s.lon)).collect();
    let key = cache.as_ref().map(|c| {
        CacheKey::new(&services[0].profile(), c.dataset_checksum, &sources, &destinations)
    });
    let cached = match (&cache, &key) {
        (Some(c), Some(k)) => c.cache.get(k).map_err(RouteError::Cache)?,
        _ => None,
    };
    let answer = match cached {
        Some(a) => {
            tracing::info!(
                sources = sources.len(),
                schools = destinations.len(),
                "matrix taken from the cache"
            );
            a
        }
        None => {
            let t = Instant::now();
            let a = table_on(services, &sources, &destinations, &opts.table)
                .map_err(RouteError::Osrm)?;
            tracing::info!(
                sources = sources.len(),
                schools = destinations.len(),
                seconds = t.elapsed().as_secs_f64(),
                "OSRM table done"
            );
            if let (Some(c), Some(k)) = (&cache, &key) {
                // A cache that cannot be written costs the next run time, not this run's matrix.
                if let Err(e) = c.cache.put(k, &a) {
                    tracing::warn!("could not store the table in the cache: {e}");
                }
            }
            a
        }
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.0).collect();
    let (m, mut report) = to_matrix(
        &ids,
        schools,
        &row_of,
        &answer,
        opts.snap_limit_m,
        services.iter().map(|s| s.server()).collect::<Vec<_>>().join(", "),
        services[0].profile(),
    );
    report.unit = unit;
    if !report.is_empty() && !opts.allow_unreachable {
        return Err(RouteError::Unreachable(report));
    }
    Ok((m, report))
}

/// The walk of one pair from OSRM's distance and duration and the snap gaps of both ends
/// (`gap`): whole meters and seconds, the gap added (walked at 5 km/h); seconds
/// [`UNREACHABLE`] when OSRM gave no duration; `None` when there is no route. Every matrix
/// routed here, whole or pair by pair, is made by this one rounding.
pub fn walk(distance: Option<f64>, duration: Option<f64>, gap: f64) -> Option<(u32, u32)> {
    let d = distance?;
    let meters = (d + gap).round().min((UNREACHABLE - 1) as f64) as u32;
    let seconds = duration.map_or(UNREACHABLE, |t| {
        (t + gap / FOOT_METERS_PER_SECOND).round().min((UNREACHABLE - 1) as f64) as u32
    });
    Some((meters, seconds))
}

/// Pupil rows from source rows: snap gaps added, far snaps and missing routes left out and
/// reported.
fn to_matrix(
    ids: &[&str],
    schools: &[crate::instance::School],
    row_of: &[usize],
    a: &TableAnswer,
    snap_limit: f64,
    server: String,
    profile: String,
) -> (Matrix, RoutingReport) {
    let n_s = schools.len();
    let mut m = Matrix::new(
        ids.len(),
        n_s,
        format!("OSRM {profile} at {server} (walking along streets, snap gaps added)"),
    );
    let mut secs = vec![UNREACHABLE; ids.len() * n_s];
    let mut report = RoutingReport { snap_limit_m: snap_limit, ..Default::default() };
    let mut snaps = vec![0u32; ids.len()];
    for (p, &id) in ids.iter().enumerate() {
        let r = row_of[p];
        let snap = a.source_snap[r];
        snaps[p] = snap.round().clamp(0.0, (UNREACHABLE - 1) as f64) as u32;
        if snap > snap_limit {
            report.far_snapped.push((id.to_string(), snap.round() as u32));
            continue;
        }
        for (s, school) in schools.iter().enumerate() {
            let gap = snap + a.destination_snap[s];
            match walk(a.distances[r][s], a.durations[r][s], gap) {
                Some((d, t)) => {
                    m.meters[p * n_s + s] = d;
                    secs[p * n_s + s] = t;
                }
                None => report.unreachable.push((id.to_string(), school.id.clone())),
            }
        }
    }
    m.seconds = Some(secs);
    m.snap_m = Some(snaps);
    (m, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_table_once_within_the_limit() {
        for (n_src, n_dst, max) in
            [(1, 1, 100), (250, 35, 100), (7, 130, 100), (300, 300, 40), (5, 3, 2)]
        {
            let t = tiles(n_src, n_dst, max);
            let mut seen = vec![0u32; n_src * n_dst];
            for (rs, rd) in &t {
                assert!(rs.len() + rd.len() <= max.max(2), "tile {rs:?} x {rd:?} over {max}");
                for s in rs.clone() {
                    for d in rd.clone() {
                        seen[s * n_dst + d] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "{n_src}x{n_dst}/{max}: every pair exactly once");
        }
    }

    #[test]
    fn url_has_lon_lat_order_and_indices() {
        let c = OsrmHttp::new("http://127.0.0.1:1/", "foot");
        let u = c.table_url(&[(43.5, 7.25)], &[(43.75, 7.5), (43.0, 7.0)]);
        assert_eq!(
            u,
            "http://127.0.0.1:1/table/v1/foot/7.2500000,43.5000000;7.5000000,43.7500000;7.0000000,43.0000000?sources=0&destinations=1;2&annotations=distance,duration"
        );
    }
}
