//! `solve --osrm URL --nearest K` (issue 17, item 3): only the pairs the solve needs are routed,
//! in tiles, on one or several real osrm-routed servers of the Monaco extract; a pair costs
//! what the whole matrix gives it, the plan equals the dense plan's objective, and `check`
//! verifies it from the pairs the plan kept.
//!
//! OSRM must be installed (`scripts/setup`); without it these tests fail with that instruction.

mod common;

use catchment::instance::{Instance, Pupil, School};
use catchment::routing::osrm::{route_instance, OsrmHttp, RouteOptions, TableService};
use catchment::routing::pairs::PairRouter;
use catchment::routing::UNREACHABLE;
use common::*;
use std::path::{Path, PathBuf};

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

/// Pupils on a grid over Monaco (some in the sea: they snap far) and four schools.
fn grid_instance() -> Instance {
    let schools = vec![
        school("ville", 43.7312, 7.4197),
        school("condamine", 43.7356, 7.4196),
        school("carlo", 43.7394, 7.4274),
        school("fontvieille", 43.7279, 7.4163),
    ];
    let mut pupils = Vec::new();
    for i in 0..6 {
        for j in 0..7 {
            let lat = 43.7270 + 0.0200 * i as f64 / 5.0;
            let lon = 7.4120 + 0.0250 * j as f64 / 6.0;
            pupils.push(pupil(&format!("{}", i * 7 + j + 1), lat, lon));
        }
    }
    // Two pupils in one building: one source.
    pupils.push(pupil("twin", 43.7312, 7.4197));
    pupils.push(pupil("twin2", 43.7312, 7.4197));
    Instance::new(schools, pupils).unwrap()
}

/// A pair routed on its own, in small tiles, costs exactly what the whole matrix gives it
/// (meters and seconds, snap gaps added the same way; far snaps left out the same way).
#[test]
fn a_pair_routed_alone_costs_what_the_whole_matrix_gives_it() {
    let osrm = Osrm::start(100);
    let inst = grid_instance();
    let opts = RouteOptions { allow_unreachable: true, ..Default::default() };
    let client = OsrmHttp::new(&osrm.url, "foot");
    let (dense, report) = route_instance(&inst, &client, &opts, None).unwrap();
    assert!(!report.far_snapped.is_empty(), "the grid reaches into the sea");

    let mut small = opts.clone();
    small.table.max_table_size = 5;
    let services: Vec<&dyn TableService> = vec![&client];
    let rows: Vec<(&str, (f64, f64))> =
        inst.pupils.iter().map(|p| (p.id.as_str(), p.location.unwrap())).collect();
    let router = PairRouter::new(&services, &rows, &inst.schools, &small);
    let (n, m) = (inst.pupils.len(), inst.schools.len());
    // Two batches of scattered pairs, as a sparse solve asks: every third pair, then the rest.
    let all: Vec<(u32, u32)> =
        (0..n as u32).flat_map(|u| (0..m as u32).map(move |s| (u, s))).collect();
    let (first, rest): (Vec<_>, Vec<_>) = all.iter().enumerate().partition(|(i, _)| i % 3 == 0);
    let first: Vec<(u32, u32)> = first.into_iter().map(|(_, &p)| p).rev().collect();
    let rest: Vec<(u32, u32)> = rest.into_iter().map(|(_, &p)| p).collect();
    let mut got = Vec::new();
    for batch in [&first, &rest] {
        let meters = router.route(batch).unwrap();
        got.extend(batch.iter().copied().zip(meters));
    }
    let mut land = 0;
    for &((u, s), meters) in &got {
        let want = dense.get(u as usize, s as usize).unwrap_or(UNREACHABLE);
        assert_eq!(meters, want, "pupil {} school {}", inst.pupils[u as usize].id, s);
        land += usize::from(meters != UNREACHABLE);
    }
    assert!(land >= 80, "only {land} pairs on land");
    assert_eq!(router.pairs(), n * m);
    // Tiles of at most 5 locations hold at most 2 x 3 pairs: at least one request per 6 of
    // the 43 locations x 4 schools (the twins share a location).
    assert!(router.requests() * 6 >= 43 * m, "{} requests", router.requests());
    let partial = router.matrix("test");
    assert!(partial.is_partial() && partial.n_given() == (n * m) as u64);
    for u in 0..n {
        for s in 0..m {
            assert_eq!(partial.pair(u, s), Some(dense.pair(u, s).unwrap()));
            assert_eq!(partial.seconds(u, s), dense.seconds(u, s), "seconds {u} {s}");
        }
    }
    assert_eq!(partial.snap_m, dense.snap_m);
    assert_eq!(router.report().far_snapped.len(), report.far_snapped.len());
}

fn summary(plan: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(plan.join("summary.json")).unwrap()).unwrap()
}

/// A town on Monaco's streets: pupils on a 10 x 12 grid over it (those in the sea, more than
/// 300 m from a street, left out), six schools with 10% more seats than pupils in all, equal
/// seats so that the crowded districts push pupils beyond their nearest schools. Writes
/// schools.csv and pupils.csv (with coordinates) into `dir`.
fn town(dir: &Path, url: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut pupils = Vec::new();
    for i in 0..10 {
        for j in 0..12 {
            let lat = 43.7270 + 0.0200 * i as f64 / 9.0;
            let lon = 7.4120 + 0.0250 * j as f64 / 11.0;
            pupils.push(pupil(&format!("p{}", i * 12 + j + 1), lat, lon));
        }
    }
    let schools = [
        ("ville", 43.7312, 7.4197),
        ("condamine", 43.7356, 7.4196),
        ("carlo", 43.7394, 7.4274),
        ("fontvieille", 43.7279, 7.4163),
        ("larvotto", 43.7447, 7.4340),
        ("moneghetti", 43.7335, 7.4140),
    ];
    let inst =
        Instance::new(schools.iter().map(|&(id, lat, lon)| school(id, lat, lon)).collect(), pupils)
            .unwrap();
    let opts = RouteOptions { allow_unreachable: true, ..Default::default() };
    let (_, report) = route_instance(&inst, &OsrmHttp::new(url, "foot"), &opts, None).unwrap();
    let mut csv = String::from("id,lat,lon\n");
    let mut n = 0usize;
    for p in &inst.pupils {
        if report.far_snapped.iter().all(|(id, _)| id != &p.id) {
            let (lat, lon) = p.location.unwrap();
            csv.push_str(&format!("{},{lat},{lon}\n", p.id));
            n += 1;
        }
    }
    assert!(n >= 80, "only {n} pupils on land");
    let seats = (n * 11).div_ceil(10).div_ceil(schools.len());
    let mut sc = String::from("id,name,lat,lon,capacity\n");
    for (id, lat, lon) in schools {
        sc.push_str(&format!("{id},{id},{lat},{lon},{seats}\n"));
    }
    (write(dir, "schools.csv", &sc), write(dir, "pupils.csv", &csv))
}

/// `catchment solve` on the town with `extra` flags, or the failure's stderr.
fn solve(osrm: &str, town: &(PathBuf, PathBuf), out: &Path, extra: &[&str]) -> Result<(), String> {
    let o = bin()
        .args(["solve", "--osrm", osrm, "--no-cache", "--schools"])
        .arg(&town.0)
        .arg("--pupils")
        .arg(&town.1)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

#[test]
fn solve_nearest_routes_only_the_pairs_it_needs_on_one_or_two_servers() {
    let a = Osrm::start(100);
    let b = Osrm::start(100);
    let d = tempfile::tempdir().unwrap();
    let files = town(d.path(), &a.url);
    let dense = d.path().join("dense");
    let sparse = d.path().join("sparse");
    let two = d.path().join("two");
    solve(&a.url, &files, &dense, &[]).unwrap();
    // Small tiles, so that two servers both get some.
    let k2 = ["--nearest", "2", "--osrm-table-size", "20"];
    solve(&a.url, &files, &sparse, &k2).unwrap();
    let (sd, ss) = (summary(&dense), summary(&sparse));
    let (n, m) = (sd["pupils"].as_u64().unwrap(), sd["schools"].as_u64().unwrap());
    assert_eq!(m, 6);
    assert_eq!(ss["solver"]["objective_m"], sd["solver"]["objective_m"], "{ss}");
    assert_eq!(ss["solver"]["certified"], true);
    assert_eq!(ss["solver"]["nearest"], 2);
    let routed = &ss["solver"]["routed"];
    let pairs = routed["pairs"].as_u64().unwrap();
    assert_eq!(routed["of"].as_u64().unwrap(), n * m, "{routed}");
    // More than each pupil's 2 nearest (the seats are tight: pricing asked for more), fewer
    // than every pair.
    assert!(pairs > 2 * n && pairs < n * m, "{pairs} pairs routed of {}", n * m);
    assert!(routed["requests"].as_u64().unwrap() >= 2, "{routed}");
    assert!(sd["solver"].get("routed").is_none());
    // The plan keeps exactly the pairs routed (its matrix), and check verifies from them.
    let kept = std::fs::read_to_string(sparse.join("matrix.csv")).unwrap();
    assert_eq!(kept.lines().count() as u64, 1 + pairs);

    // Two servers of the same data: the same pairs, the same plan.
    let both = format!("{},{}", a.url, b.url);
    solve(&both, &files, &two, &k2).unwrap();
    assert_eq!(summary(&two)["solver"]["routed"]["servers"], 2);
    assert_eq!(summary(&two)["solver"]["routed"]["pairs"], routed["pairs"]);
    for f in ["assignments.csv", "matrix.csv", "certificate.json"] {
        assert_eq!(
            std::fs::read_to_string(two.join(f)).unwrap(),
            std::fs::read_to_string(sparse.join(f)).unwrap(),
            "{f}"
        );
    }

    // A maximum walk that binds: the same objective as the dense plan's under it.
    let (capped, capped_dense) = (d.path().join("capped"), d.path().join("capped-dense"));
    solve(&a.url, &files, &capped_dense, &["--max-walk", "4000"]).unwrap();
    solve(&a.url, &files, &capped, &["--nearest", "2", "--max-walk", "4000"]).unwrap();
    let (c, cd) = (summary(&capped), summary(&capped_dense));
    assert_eq!(c["solver"]["objective_m"], cd["solver"]["objective_m"], "{c}");
    assert!(
        c["solver"]["objective_m"].as_u64() > sd["solver"]["objective_m"].as_u64(),
        "the maximum walk binds"
    );

    // The prices of the plan routed pair by pair hold against every pair routed (check
    // --osrm routes the whole matrix).
    let o = bin()
        .args(["check", "--osrm", &a.url, "--no-cache", "--pupils"])
        .arg(&files.1)
        .arg("--plan")
        .arg(&sparse)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("feasible and optimal"), "{stdout}");

    // A server of the list that does not answer fails the run, named.
    let bad = d.path().join("bad");
    let err = solve(&format!("{},http://127.0.0.1:9", a.url), &files, &bad, &k2).unwrap_err();
    assert!(err.contains("http://127.0.0.1:9") && err.contains("not reachable"), "{err}");
    assert!(!bad.exists(), "nothing written on error");
    drop(a);
    drop(b);

    // The independent check from the pairs the plan kept, with every server stopped.
    let o = bin()
        .arg("check")
        .arg("--pupils")
        .arg(&files.1)
        .arg("--plan")
        .arg(&sparse)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("feasible and optimal"), "{stdout}");
}
