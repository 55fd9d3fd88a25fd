//! Routing against a real osrm-routed on the Monaco extract (tests/data/monaco.osm.pbf), and
//! against stand-in servers for the failures a real one rarely shows on demand.
//!
//! OSRM must be installed (`scripts/setup` runs `scripts/osrm install`); without it these tests
//! fail with that instruction, they are never skipped.

mod common;

use catchment::instance::{Instance, Pupil, School};
use catchment::routing::cache::MatrixCache;
use catchment::routing::osrm::{
    route_instance, table, CacheUse, OsrmError, OsrmHttp, RouteError, RouteOptions, TableOptions,
    TableService,
};
use catchment::routing::UNREACHABLE;
use common::*;
use geo::Point;
use std::path::PathBuf;
use std::time::Duration;

fn school(id: &str, lat: f64, lon: f64) -> School {
    School {
        id: id.into(),
        name: id.into(),
        lat,
        lon,
        capacity: 100,
        class_size: 22,
        max_classes: None,
        min_pupils: 0,
        min_classes: None,
        extra: vec![],
    }
}

fn pupil(id: &str, lat: f64, lon: f64) -> Pupil {
    Pupil {
        id: id.into(),
        location: Some((lat, lon)),
        street: None,
        house_number: None,
        postcode: None,
        block: None,
        fixed_school: None,
        extra: vec![],
    }
}

/// Schools at landmarks of Monaco's districts.
fn monaco_schools() -> Vec<School> {
    vec![
        school("ville", 43.7312, 7.4197),     // Monaco-Ville, by the palace
        school("condamine", 43.7356, 7.4196), // La Condamine, market
        school("carlo", 43.7394, 7.4274),     // Monte-Carlo, casino
        school("fontvieille", 43.7279, 7.4163), // Fontvieille
    ]
}

/// Pupils on a grid over the town (some land in the sea: they snap far).
fn monaco_grid(n_lat: usize, n_lon: usize) -> Vec<Pupil> {
    let mut v = Vec::new();
    for i in 0..n_lat {
        for j in 0..n_lon {
            let lat = 43.7270 + 0.0200 * i as f64 / (n_lat - 1) as f64;
            let lon = 7.4120 + 0.0250 * j as f64 / (n_lon - 1) as f64;
            v.push(pupil(&format!("{}", i * n_lon + j + 1), lat, lon));
        }
    }
    v
}

fn instance(pupils: Vec<Pupil>) -> Instance {
    Instance::new(monaco_schools(), pupils).unwrap()
}

/// OSRM's own answer for the whole table in one request, read without the client under test.
fn raw_table(url: &str, sources: &[(f64, f64)], destinations: &[(f64, f64)]) -> serde_json::Value {
    let coords: Vec<String> =
        sources.iter().chain(destinations).map(|(lat, lon)| format!("{lon:.7},{lat:.7}")).collect();
    let src: Vec<String> = (0..sources.len()).map(|i| i.to_string()).collect();
    let dst: Vec<String> =
        (sources.len()..sources.len() + destinations.len()).map(|i| i.to_string()).collect();
    let u = format!(
        "{url}/table/v1/foot/{}?sources={}&destinations={}&annotations=distance,duration",
        coords.join(";"),
        src.join(";"),
        dst.join(";")
    );
    let body = ureq::get(&u).call().unwrap().body_mut().read_to_string().unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "Ok", "{body}");
    v
}

#[test]
fn matrix_equals_osrms_own_table_plus_snap_gaps() {
    let osrm = Osrm::start(1000);
    let inst = instance(monaco_grid(6, 7));
    let opts = RouteOptions { allow_unreachable: true, ..Default::default() };
    let (m, report) =
        route_instance(&inst, &OsrmHttp::new(&osrm.url, "foot"), &opts, None).unwrap();
    assert!(m.source.contains("OSRM foot"), "{}", m.source);

    let sources: Vec<(f64, f64)> = inst.pupils.iter().map(|p| p.location.unwrap()).collect();
    let dests: Vec<(f64, f64)> = inst.schools.iter().map(|s| (s.lat, s.lon)).collect();
    let raw = raw_table(&osrm.url, &sources, &dests);
    let mut compared = 0;
    for (p, pupil) in inst.pupils.iter().enumerate() {
        let snap = raw["sources"][p]["distance"].as_f64().unwrap();
        if snap > 300.0 {
            assert!(
                report.far_snapped.iter().any(|(id, _)| id == &pupil.id),
                "pupil {} snapped {snap} m",
                pupil.id
            );
            assert!(m.row(p).iter().all(|&d| d == UNREACHABLE));
            continue;
        }
        for s in 0..inst.schools.len() {
            let d = raw["distances"][p][s].as_f64().expect("Monaco is connected on foot");
            let expected =
                (d + snap + raw["destinations"][s]["distance"].as_f64().unwrap()).round() as u32;
            assert_eq!(
                m.get(p, s),
                Some(expected),
                "pupil {} school {}",
                pupil.id,
                inst.schools[s].id
            );
            assert!(
                m.seconds(p, s).unwrap() as f64 >= raw["durations"][p][s].as_f64().unwrap().floor()
            );
            compared += 1;
        }
    }
    assert!(compared >= 80, "only {compared} pairs on land");
    assert!(!report.far_snapped.is_empty(), "the grid reaches into the sea: some pupils snap far");
    assert!(report.unreachable.is_empty());
}

#[test]
fn far_snaps_fail_the_run_by_pupil_id_unless_allowed() {
    let osrm = Osrm::start(100);
    // Pupil 2 is 1.5 km out at sea.
    let inst = instance(vec![pupil("1", 43.7360, 7.4205), pupil("2", 43.7300, 7.4450)]);
    let err =
        route_instance(&inst, &OsrmHttp::new(&osrm.url, "foot"), &RouteOptions::default(), None)
            .unwrap_err();
    let RouteError::Unreachable(r) = &err else { panic!("{err}") };
    assert_eq!(r.far_snapped.len(), 1);
    assert_eq!(r.far_snapped[0].0, "2");
    assert!(r.far_snapped[0].1 > 300);
    let msg = err.to_string();
    assert!(msg.contains("'2'") && !msg.contains("43.7") && !msg.contains("7.44"), "{msg}");
}

#[test]
fn a_harbour_between_two_points_makes_the_walk_longer_than_the_straight_line() {
    let osrm = Osrm::start(100);
    // Two quays facing each other across Port Hercule.
    let west = (43.7349, 7.4218);
    let east = (43.7338, 7.4260);
    let inst =
        Instance::new(vec![school("east", east.0, east.1)], vec![pupil("1", west.0, west.1)])
            .unwrap();
    let (m, _) =
        route_instance(&inst, &OsrmHttp::new(&osrm.url, "foot"), &RouteOptions::default(), None)
            .unwrap();
    let walk = m.get(0, 0).unwrap() as f64;
    let straight = straight_line_m(Point::new(west.1, west.0), Point::new(east.1, east.0));
    assert!(walk > 1.5 * straight, "walk {walk} m, straight line {straight:.0} m");
}

#[test]
fn the_routing_check_sees_osrms_snaps_and_spares_monacos_real_detours() {
    use catchment::report::routing_check::{check_pupils, is_detour, FAR_SNAP_M};
    let osrm = Osrm::start(1000);
    let inst = instance(monaco_grid(8, 9));
    let opts = RouteOptions { allow_unreachable: true, ..Default::default() };
    let (m, _) = route_instance(&inst, &OsrmHttp::new(&osrm.url, "foot"), &opts, None).unwrap();
    let sources: Vec<(f64, f64)> = inst.pupils.iter().map(|p| p.location.unwrap()).collect();
    let dests: Vec<(f64, f64)> = inst.schools.iter().map(|s| (s.lat, s.lon)).collect();
    let raw = raw_table(&osrm.url, &sources, &dests);
    // The matrix keeps OSRM's snap of every pupil.
    let snaps = m.snap_m.as_ref().expect("an OSRM matrix keeps the snaps");
    let mut far = 0;
    for p in 0..inst.pupils.len() {
        let snap = raw["sources"][p]["distance"].as_f64().unwrap();
        assert_eq!(snaps[p], snap.round() as u32, "pupil {}", inst.pupils[p].id);
        far += usize::from(snap.round() as u32 > FAR_SNAP_M);
    }
    assert!(far > 0, "the grid reaches into the sea");
    // Each pupil at the nearest school on foot (those at sea anywhere).
    let assign: Vec<u32> = (0..inst.pupils.len())
        .map(|p| (0..inst.schools.len()).min_by_key(|&s| m.row(p)[s]).unwrap() as u32)
        .collect();
    let rc = check_pupils(&inst, &m, &assign).summary;
    assert_eq!(rc.far_snap, far);
    // On land, Monaco's stairs, tunnels and harbour are ordinary detours: (almost) none flagged.
    let land = inst.pupils.len() - far;
    assert!(
        (rc.detour_assigned + rc.detour_nearest) * 20 <= land,
        "{} + {} detours among {land} pupils on land",
        rc.detour_assigned,
        rc.detour_nearest
    );
    // Round the harbour: longer than the straight line, not a detour by the rule.
    let (west, east) = ((43.7349, 7.4218), (43.7338, 7.4260));
    let two = Instance::new(vec![school("east", east.0, east.1)], vec![pupil("1", west.0, west.1)])
        .unwrap();
    let (m, _) =
        route_instance(&two, &OsrmHttp::new(&osrm.url, "foot"), &RouteOptions::default(), None)
            .unwrap();
    let straight = straight_line_m(Point::new(west.1, west.0), Point::new(east.1, east.0));
    assert!(!is_detour(m.get(0, 0).unwrap(), straight));
}

#[test]
fn chunked_requests_give_the_same_matrix_as_one_request() {
    let osrm = Osrm::start(1000);
    let inst = instance(monaco_grid(5, 6));
    let service = OsrmHttp::new(&osrm.url, "foot");
    let one = RouteOptions { allow_unreachable: true, ..Default::default() };
    let mut chunked = one.clone();
    chunked.table.max_table_size = 7; // 4 schools + 3 pupils per request
    chunked.table.concurrency = 3;
    let (a, ra) = route_instance(&inst, &service, &one, None).unwrap();
    let (b, rb) = route_instance(&inst, &service, &chunked, None).unwrap();
    assert_eq!(a, b);
    assert_eq!(ra, rb);
    // Destinations split too when the schools alone exceed the limit.
    chunked.table.max_table_size = 3;
    let (c, _) = route_instance(&inst, &service, &chunked, None).unwrap();
    assert_eq!(a, c);
}

#[test]
fn a_table_over_the_server_limit_is_rejected_with_osrms_own_message() {
    // The reason for a small client of our own: OSRM's code and message reach the user.
    // osrm-routed's limit is sources x destinations <= N x N; our chunks of N locations in all
    // (sources + destinations) always fit. Chunks of 40 (36 pupils x 4 schools = 144) do not fit 10.
    let osrm = Osrm::start(10);
    let inst = instance(monaco_grid(6, 7));
    let mut opts = RouteOptions { allow_unreachable: true, ..Default::default() };
    opts.table.max_table_size = 40;
    let err = route_instance(&inst, &OsrmHttp::new(&osrm.url, "foot"), &opts, None).unwrap_err();
    let RouteError::Osrm(OsrmError::Rejected { code, message, status, .. }) = &err else {
        panic!("{err}")
    };
    assert_eq!((code.as_str(), *status), ("TooBig", 400));
    assert!(!message.is_empty());
    // The library names the setting to change; the shells name their flag or field.
    let lib_err: catchment::Error = err.into();
    assert!(!lib_err.to_string().contains("--"), "{lib_err}");
    assert_eq!(
        lib_err.hint().and_then(|h| h.setting),
        Some(catchment::error::Setting::OsrmTableSize)
    );
    assert_eq!((lib_err.exit_code(), lib_err.http_status()), (1, 502));
    opts.table.max_table_size = 10;
    assert!(route_instance(&inst, &OsrmHttp::new(&osrm.url, "foot"), &opts, None).is_ok());
}

#[test]
fn a_cached_matrix_needs_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let cache = MatrixCache::new(dir.path().join("cache"));
    let inst = instance(monaco_grid(3, 3));
    let opts = RouteOptions { allow_unreachable: true, ..Default::default() };
    let osrm = Osrm::start(100);
    let url = osrm.url.clone();
    let service = OsrmHttp::new(&url, "foot");
    let use_ = |sum| Some(CacheUse { cache: &cache, dataset_checksum: sum });
    let (first, _) = route_instance(&inst, &service, &opts, use_("monaco-sum")).unwrap();
    drop(osrm); // the server is stopped
    let (again, _) = route_instance(&inst, &service, &opts, use_("monaco-sum")).unwrap();
    assert_eq!(first, again);
    // Another dataset, or moved pupils, must ask the server: it is down.
    let err = route_instance(&inst, &service, &opts, use_("other-dataset")).unwrap_err();
    assert!(matches!(err, RouteError::Osrm(OsrmError::Down { .. })), "{err}");
    let mut moved = inst.clone();
    moved.pupils[0].location = Some((43.7330, 7.4190));
    assert!(matches!(
        route_instance(&moved, &service, &opts, use_("monaco-sum")),
        Err(RouteError::Osrm(OsrmError::Down { .. }))
    ));
}

#[test]
fn server_down_is_a_clear_error() {
    let port = free_port(); // nothing listens there
    let inst = instance(monaco_grid(2, 2));
    let err = route_instance(
        &inst,
        &OsrmHttp::new(&format!("http://127.0.0.1:{port}"), "foot"),
        &RouteOptions::default(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, RouteError::Osrm(OsrmError::Down { .. })), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("not reachable") && msg.contains(&port.to_string()), "{msg}");
}

fn fast_retries() -> TableOptions {
    TableOptions {
        retries: 2,
        backoff: Duration::from_millis(20),
        request_timeout: Duration::from_millis(400),
        deadline: Duration::from_secs(20),
        ..Default::default()
    }
}

fn table_json(d: &str, snaps: (f64, f64)) -> String {
    format!(
        r#"{{"code":"Ok","distances":{d},"durations":{d},"sources":[{{"distance":{}}},{{"distance":{}}}],"destinations":[{{"distance":1.0}},{{"distance":2.0}}]}}"#,
        snaps.0, snaps.1
    )
}

type Points = Vec<(f64, f64)>;

fn two_by_two() -> (Points, Points) {
    (vec![(43.73, 7.42), (43.74, 7.43)], vec![(43.735, 7.425), (43.736, 7.426)])
}

#[test]
fn a_slow_server_times_out_after_retries() {
    let slow = StandIn::start(Box::new(|_| {
        (200, table_json("[[1,2],[3,4]]", (0.0, 0.0)), Duration::from_secs(3))
    }));
    let (s, d) = two_by_two();
    let err = table(&OsrmHttp::new(&slow.url, "foot"), &s, &d, &fast_retries()).unwrap_err();
    assert!(matches!(err, OsrmError::Timeout { attempts: 3, .. }), "{err:?}");
    assert_eq!(slow.hits(), 3);
    assert!(err.to_string().contains("did not answer"), "{err}");
}

#[test]
fn the_total_deadline_bounds_the_whole_table() {
    let slow = StandIn::start(Box::new(|_| {
        (200, table_json("[[1,2],[3,4]]", (0.0, 0.0)), Duration::from_secs(5))
    }));
    let (s, d) = two_by_two();
    let opts = TableOptions {
        request_timeout: Duration::from_secs(30),
        deadline: Duration::from_millis(600),
        ..fast_retries()
    };
    let err = table(&OsrmHttp::new(&slow.url, "foot"), &s, &d, &opts).unwrap_err();
    assert!(matches!(err, OsrmError::Deadline { done: 0, total: 1, .. }), "{err:?}");
}

#[test]
fn server_errors_are_retried_then_reported_with_osrms_words() {
    let failing = StandIn::start(Box::new(|_| {
        (
            503,
            r#"{"code":"InternalError","message":"dataset is being reloaded"}"#.to_string(),
            Duration::ZERO,
        )
    }));
    let (s, d) = two_by_two();
    let err = table(&OsrmHttp::new(&failing.url, "foot"), &s, &d, &fast_retries()).unwrap_err();
    assert_eq!(failing.hits(), 3, "one request and two retries");
    let OsrmError::Server { status: 503, ref code, ref message, attempts: 3, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!((code.as_str(), message.as_str()), ("InternalError", "dataset is being reloaded"));

    // A server that recovers: the retry gets the table.
    let flaky = StandIn::start(Box::new(|n| {
        if n == 0 {
            (502, "bad gateway".to_string(), Duration::ZERO)
        } else {
            (200, table_json("[[10,20],[30,40]]", (0.5, 0.25)), Duration::ZERO)
        }
    }));
    let t = table(&OsrmHttp::new(&flaky.url, "foot"), &s, &d, &fast_retries()).unwrap();
    assert_eq!(flaky.hits(), 2);
    assert_eq!(t.distances, vec![vec![Some(10.0), Some(20.0)], vec![Some(30.0), Some(40.0)]]);
    assert_eq!(t.source_snap, vec![0.5, 0.25]);
}

#[test]
fn a_failing_tile_fails_the_whole_table() {
    // Many tiles; every third request fails for good: no partial answer comes back.
    let server = StandIn::start(Box::new(|n| {
        if n % 3 == 2 {
            (500, r#"{"code":"InternalError","message":"x"}"#.into(), Duration::ZERO)
        } else {
            (200, r#"{"code":"Ok","distances":[[1]],"durations":[[1]],"sources":[{"distance":0}],"destinations":[{"distance":0}]}"#.into(), Duration::ZERO)
        }
    }));
    let s: Vec<(f64, f64)> = (0..12).map(|i| (43.73 + i as f64 * 1e-3, 7.42)).collect();
    let opts = TableOptions { max_table_size: 2, retries: 0, concurrency: 2, ..fast_retries() };
    let err =
        table(&OsrmHttp::new(&server.url, "foot"), &s, &[(43.735, 7.425)], &opts).unwrap_err();
    assert!(matches!(err, OsrmError::Server { status: 500, .. }), "{err:?}");
}

#[test]
fn null_pairs_are_reported_by_pupil_and_school_or_left_out() {
    let server = StandIn::start(Box::new(|_| {
        (200, table_json("[[100,null],[300,400]]", (4.0, 6.0)), Duration::ZERO)
    }));
    let schools = vec![school("a", 43.735, 7.425), school("b", 43.736, 7.426)];
    let inst =
        Instance::new(schools, vec![pupil("p1", 43.73, 7.42), pupil("p2", 43.74, 7.43)]).unwrap();
    let service = OsrmHttp::new(&server.url, "foot");
    let err = route_instance(&inst, &service, &RouteOptions::default(), None).unwrap_err();
    let RouteError::Unreachable(r) = &err else { panic!("{err}") };
    assert_eq!(r.unreachable, vec![("p1".to_string(), "b".to_string())]);
    assert!(err.to_string().contains("('p1', 'b')"), "{err}");
    let allow = RouteOptions { allow_unreachable: true, ..Default::default() };
    let (m, r) = route_instance(&inst, &service, &allow, None).unwrap();
    assert_eq!(r.unreachable.len(), 1);
    // Snap gaps added: pupil gap + school gap.
    assert_eq!(m.meters, vec![100 + 4 + 1, UNREACHABLE, 300 + 6 + 1, 400 + 6 + 2]);
}

#[test]
fn a_malformed_answer_is_an_error_not_a_matrix() {
    let server = StandIn::start(Box::new(|_| {
        (200, r#"{"code":"Ok","distances":[[1,2]],"durations":[[1,2]]}"#.into(), Duration::ZERO)
    }));
    let (s, d) = two_by_two();
    let err = table(&OsrmHttp::new(&server.url, "foot"), &s, &d, &fast_retries()).unwrap_err();
    assert!(matches!(err, OsrmError::Protocol { .. }), "{err:?}");
}

#[test]
fn the_service_names_its_server_and_profile() {
    let c = OsrmHttp::new("http://127.0.0.1:5000/", "foot");
    assert_eq!(
        (c.server(), c.profile()),
        ("http://127.0.0.1:5000".to_string(), "foot".to_string())
    );
}

// ---- the command line, end to end ----

fn catchment(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_catchment")).args(args).output().unwrap()
}

const SCHOOLS_CSV: &str =
    "id,name,lat,lon,capacity\nville,Ville,43.7312,7.4197,3\ncarlo,Carlo,43.7394,7.4274,3\n";

#[test]
fn cli_geocodes_routes_and_solves() {
    let osrm = Osrm::start(100);
    let dir = tempfile::tempdir().unwrap();
    let schools = write(dir.path(), "schools.csv", SCHOOLS_CSV);
    // Pupils by address (Monaco's OSM addresses), one by coordinates, one unknown address.
    let pupils = write(
        dir.path(),
        "pupils.csv",
        "id,street,house_number,lat,lon\n\
         1,Avenue de Grande-Bretagne,22,,\n\
         2,QUAI ANTOINE 1ER,4,,\n\
         3,Rue Terrazzani,9,,\n\
         4,,,43.7356,7.4196\n\
         5,Rue Imaginaire,12,,\n",
    );
    let pbf = monaco_pbf();
    let report = dir.path().join("geocoding.csv");
    let cache = dir.path().join("cache");
    let out = dir.path().join("matrix.csv");
    let base = [
        "matrix",
        "--osrm",
        &osrm.url,
        "--osm",
        pbf.to_str().unwrap(),
        "--schools",
        schools.to_str().unwrap(),
        "--pupils",
        pupils.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--geocode-report",
        report.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    // The unknown address fails the run; its id is in the report file (with the extract's
    // street names that start alike as candidates), its street nowhere.
    let r = catchment(&base);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        stderr.contains("1 pupil(s) could not be placed (1 unmatched")
            && stderr.contains("--skip-ungeocoded"),
        "{stderr}"
    );
    assert!(!stderr.contains("Imaginaire"), "{stderr}");
    assert!(!out.exists(), "nothing written on error");
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        "pupil_id,result,candidates\n5,street_not_found,Rue Imberty\n1,exact,\n2,exact,\n3,range,\n"
    );

    let mut skip = base.to_vec();
    skip.push("--skip-ungeocoded");
    let r = catchment(&skip);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let csv = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "pupil_id,school_id,meters,seconds");
    assert_eq!(rows.len(), 1 + 4 * 2, "4 pupils x 2 schools");
    assert!(!csv.contains("\n5,"), "the skipped pupil is left out");
    assert!(
        rows[1..].iter().all(|r| r.split(',').nth(2).unwrap().parse::<u32>().is_ok()),
        "every pair routed"
    );
    assert!(std::fs::read_to_string(catchment::routing::matrix::meta_path(&out))
        .unwrap()
        .contains("OSRM foot"));
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1, "one cached table");

    // solve --osrm: the same matrix from the cache, even with the server stopped.
    drop(osrm);
    let plan = dir.path().join("plan");
    let r = catchment(&[
        "solve",
        "--osrm",
        "http://127.0.0.1:9",
        "--osm",
        pbf.to_str().unwrap(),
        "--schools",
        schools.to_str().unwrap(),
        "--pupils",
        pupils.to_str().unwrap(),
        "--skip-ungeocoded",
        "--geocode-report",
        report.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--out",
        plan.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let summary = std::fs::read_to_string(plan.join("summary.json")).unwrap();
    assert!(summary.contains("OSRM foot"), "{summary}");
    let assignments = std::fs::read_to_string(plan.join("assignments.csv")).unwrap();
    assert_eq!(assignments.lines().count(), 1 + 4);
}

/// Issue 14, item 1: `solve --osrm --osm --blocks` geocodes blocks given by address, routes
/// every block itself, keeps the pupil and block matrices in the plan directory (not among the
/// published files), and `check --plan` verifies from them with the server stopped and without
/// the geocoding flags again.
#[test]
fn solve_routes_the_citys_blocks_keeps_its_walks_and_check_needs_no_routing() {
    let osrm = Osrm::start(100);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schools = write(d, "schools.csv", SCHOOLS_CSV);
    let pupils = write(
        d,
        "pupils.csv",
        "id,street,house_number,lat,lon,block\n\
         1,Avenue de Grande-Bretagne,22,,,B1\n\
         2,QUAI ANTOINE 1ER,4,,,B2\n\
         3,Rue Terrazzani,9,,,B3\n\
         4,,,43.7356,7.4196,B4\n\
         5,Rue Imaginaire,12,,,B4\n",
    );
    // Blocks by address (geocoded from the extract) and by coordinates.
    let blocks = write(
        d,
        "blocks.csv",
        "block_id,lat,lon,residents,street,house_number\n\
         B1,,,40,Avenue de Grande-Bretagne,22\n\
         B2,,,30,Quai Antoine 1er,4\n\
         B3,,,20,Rue Terrazzani,9\n\
         B4,43.7356,7.4196,50,,\n\
         B5,43.7318,7.4203,10,,\n",
    );
    let pbf = monaco_pbf();
    let plan = d.join("plan");
    let report = d.join("geocoding.csv");
    let solve = |extra: &[&str]| {
        let mut args = vec![
            "solve",
            "--osrm",
            &osrm.url,
            "--osm",
            pbf.to_str().unwrap(),
            "--no-cache",
            "--schools",
            schools.to_str().unwrap(),
            "--pupils",
            pupils.to_str().unwrap(),
            "--blocks",
            blocks.to_str().unwrap(),
            "--geocode-report",
            report.to_str().unwrap(),
            "--out",
            plan.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        catchment(&args)
    };
    let r = solve(&["--skip-ungeocoded"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(stdout.contains("Walks kept") && stdout.contains("block-matrix.csv"), "{stdout}");
    // The walks it used, with their source; the ungeocoded pupil named only there.
    let matrix = std::fs::read_to_string(plan.join("matrix.csv")).unwrap();
    assert_eq!(matrix.lines().count(), 1 + 4 * 2, "4 routed pupils x 2 schools");
    let meta = std::fs::read_to_string(plan.join("matrix.csv.meta.json")).unwrap();
    assert!(meta.contains("OSRM foot") && meta.contains("\"5\""), "{meta}");
    let bm = std::fs::read_to_string(plan.join("block-matrix.csv")).unwrap();
    assert_eq!(bm.lines().next(), Some("block_id,school_id,meters"));
    assert_eq!(bm.lines().count(), 1 + 5 * 2, "every block routed to every school");
    assert!(
        bm.lines().skip(1).all(|l| l.rsplit(',').next().unwrap().parse::<u32>().is_ok()),
        "{bm}"
    );
    assert!(std::fs::read_to_string(plan.join("block-matrix.csv.meta.json"))
        .unwrap()
        .contains("OSRM foot"));
    // Every block has a published school (B1..B3 placed by address).
    let districts = std::fs::read_to_string(plan.join("districts.csv")).unwrap();
    for b in ["B1", "B2", "B3", "B4", "B5"] {
        assert!(
            districts
                .lines()
                .any(|l| l.starts_with(&format!("{b},ville,"))
                    || l.starts_with(&format!("{b},carlo,"))),
            "{b}: {districts}"
        );
    }
    // The kept walks are internal: no published file names a pupil or the matrices.
    for f in ["districts.csv", "districts.geojson", "report.html", "streets.csv"] {
        if let Ok(text) = std::fs::read_to_string(plan.join(f)) {
            assert!(!text.contains("Imaginaire"), "{f}");
        }
    }

    // check: the server is gone, no --matrix, no --osrm, no --skip-ungeocoded, no --schools.
    drop(osrm);
    let r = catchment(&[
        "check",
        "--pupils",
        pupils.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{out}\n{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.contains("optimal:    ok") && out.contains("figures:    ok"), "{out}");

    // A damaged kept matrix fails the check: it is what the check reads.
    let damaged: String = matrix
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let f: Vec<&str> = l.split(',').collect();
                format!("{},{},1,{}\n", f[0], f[1], f[3])
            }
        })
        .collect();
    std::fs::write(plan.join("matrix.csv"), damaged).unwrap();
    let r = catchment(&[
        "check",
        "--pupils",
        pupils.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(5), "{}", String::from_utf8_lossy(&r.stdout));
}

/// A block whose address is not in the extract fails the run naming the block (blocks are
/// public), unless ungeocoded addresses may be left out.
#[test]
fn an_unplaced_block_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schools = write(d, "schools.csv", SCHOOLS_CSV);
    let pupils = write(d, "pupils.csv", "id,lat,lon\n1,43.7356,7.4196\n");
    let blocks = write(
        d,
        "blocks.csv",
        "block_id,lat,lon,street,house_number\nB1,,,Rue Imaginaire,3\nB2,43.7356,7.4196,,\n",
    );
    let plan = d.join("plan");
    let osrm = Osrm::start(100);
    let r = catchment(&[
        "solve",
        "--osrm",
        &osrm.url,
        "--osm",
        monaco_pbf().to_str().unwrap(),
        "--no-cache",
        "--schools",
        schools.to_str().unwrap(),
        "--pupils",
        pupils.to_str().unwrap(),
        "--blocks",
        blocks.to_str().unwrap(),
        "--out",
        plan.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("1 of 1 block(s) given by address could not be placed")
            && stderr.contains("'B1'")
            && stderr.contains("--skip-ungeocoded"),
        "{stderr}"
    );
    assert!(!plan.exists());
}

/// A matrix written with `matrix --skip-ungeocoded` names the pupils it left out in its
/// sidecar: `solve --matrix` with the same pupils file leaves them out too; without the
/// sidecar the mismatch says it is about geocoding.
#[test]
fn a_matrix_with_pupils_left_out_by_geocoding_reads_back() {
    let osrm = Osrm::start(100);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schools = write(d, "schools.csv", SCHOOLS_CSV);
    let pupils = write(
        d,
        "pupils.csv",
        "id,street,house_number,lat,lon\n1,Avenue de Grande-Bretagne,22,,\n2,,,43.7356,7.4196\n3,Rue Imaginaire,12,,\n",
    );
    let matrix = d.join("matrix.csv");
    let r = catchment(&[
        "matrix",
        "--osrm",
        &osrm.url,
        "--osm",
        monaco_pbf().to_str().unwrap(),
        "--no-cache",
        "--skip-ungeocoded",
        "--geocode-report",
        d.join("g.csv").to_str().unwrap(),
        "--schools",
        schools.to_str().unwrap(),
        "--pupils",
        pupils.to_str().unwrap(),
        "--out",
        matrix.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    drop(osrm);
    let plan = d.join("plan");
    let solve = || {
        catchment(&[
            "solve",
            "--matrix",
            matrix.to_str().unwrap(),
            "--schools",
            schools.to_str().unwrap(),
            "--pupils",
            pupils.to_str().unwrap(),
            "--out",
            plan.to_str().unwrap(),
            "--force",
        ])
    };
    let r = solve();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let summary = std::fs::read_to_string(plan.join("summary.json")).unwrap();
    assert!(summary.contains("\"pupils\": 2"), "{summary}");
    // Without the sidecar: a mismatch that says it is about geocoding, and names no pupil.
    std::fs::remove_file(catchment::routing::matrix::meta_path(&matrix)).unwrap();
    let r = solve();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("1 pupils have no row at all") && stderr.contains("geocoding"),
        "{stderr}"
    );
    assert!(!stderr.contains("Imaginaire"), "{stderr}");
}

#[test]
fn cli_needs_a_matrix_or_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let schools = write(dir.path(), "schools.csv", SCHOOLS_CSV);
    let pupils = write(dir.path(), "pupils.csv", "id,lat,lon\n1,43.7356,7.4196\n");
    let out = dir.path().join("plan");
    let r = catchment(&[
        "solve",
        "--schools",
        schools.to_str().unwrap(),
        "--pupils",
        pupils.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2), "{}", String::from_utf8_lossy(&r.stderr));
    // A server that is down: a clear error, no plan.
    let port = free_port().to_string();
    let url = format!("http://127.0.0.1:{port}");
    let r = catchment(&[
        "solve",
        "--osrm",
        &url,
        "--no-cache",
        "--schools",
        schools.to_str().unwrap(),
        "--pupils",
        pupils.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr.contains("not reachable") && !stderr.contains("43.7356"), "{stderr}");
    assert!(!out.exists());
}

// ---- scripts/osrm ----

#[test]
fn the_script_prepares_once_starts_on_loopback_and_stops_by_pid() {
    let ds = monaco_dataset();
    let marker = ds.parent().unwrap().join(".prepared");
    let before = std::fs::metadata(&marker).unwrap().modified().unwrap();
    let script = repo().join("scripts/osrm");
    let run = |args: &[&str]| {
        std::process::Command::new("bash").arg(&script).args(args).output().unwrap()
    };
    let again = run(&["prepare", monaco_pbf().to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(PathBuf::from(String::from_utf8_lossy(&again.stdout).trim()), ds);
    assert_eq!(
        std::fs::metadata(&marker).unwrap().modified().unwrap(),
        before,
        "a prepared dataset is reused"
    );

    let port = free_port().to_string();
    let started =
        run(&["start", monaco_pbf().to_str().unwrap(), "--port", &port, "--max-table-size", "50"]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let url = String::from_utf8_lossy(&started.stdout).trim().to_string();
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    let pid_file = ds.parent().unwrap().join("osrm-routed.pid");
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> =
        cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    assert!(args.windows(2).any(|w| w[0] == "-i" && w[1] == "127.0.0.1"), "{args:?}");
    // It answers right away.
    let inst = instance(monaco_grid(2, 2));
    let opts = RouteOptions { allow_unreachable: true, ..Default::default() };
    let answer = route_instance(&inst, &OsrmHttp::new(&url, "foot"), &opts, None);
    let stopped = run(&["stop", monaco_pbf().to_str().unwrap()]);
    assert!(stopped.status.success());
    answer.unwrap();
    // Gone, or a zombie waiting for whichever process adopted it to reap it.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    let state = state.as_deref().and_then(|s| s.rsplit(") ").next()).and_then(|s| s.chars().next());
    assert!(
        matches!(state, None | Some('Z') | Some('X')),
        "the server is still running: {state:?}"
    );
    assert!(!pid_file.exists());
}
