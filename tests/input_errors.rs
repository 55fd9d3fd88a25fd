//! Every kind of bad input yields its own message naming file, line and field; the CLI exits
//! non-zero and writes nothing.

mod common;

use catchment::error::Error;
use catchment::instance::read_instance;
use catchment::routing::read_matrix;
use common::*;
use std::path::Path;

fn instance_error(schools: &str, pupils: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "schools.csv", schools);
    let p = write(d.path(), "pupils.csv", pupils);
    match read_instance(&s, &p) {
        Err(e @ Error::Input(_)) => e.to_string(),
        other => panic!("expected an input error, got {other:?}"),
    }
}

fn matrix_error(matrix: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let (s, p, _) = small_instance(d.path());
    let inst = read_instance(&s, &p).unwrap();
    let m = write(d.path(), "matrix.csv", matrix);
    match read_matrix(&m, &inst) {
        Err(e @ Error::Input(_)) => e.to_string(),
        other => panic!("expected an input error, got {other:?}"),
    }
}

fn has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message lacks {p:?}:\n{msg}");
    }
}

#[test]
fn duplicate_ids() {
    let m = instance_error("id,name,lat,lon,capacity\nA,a,52,11,5\nA,b,52,11,5\n", PUPILS);
    has(&m, &["schools.csv:3", "field 'id'", "duplicate school id 'A' (first on line 2)"]);
    // Pupil ids are personal: the lines name the rows.
    let m = instance_error(SCHOOLS, "id,lat,lon\npupil-x,52,11\npupil-x,52,11\n");
    has(&m, &["pupils.csv:3", "field 'id'", "duplicate pupil id (first on line 2)"]);
    assert!(!m.contains("pupil-x"), "{m}");
}

#[test]
fn unknown_ids_in_matrix() {
    let m = matrix_error("pupil_id,school_id,meters\npupil-9,A,100\n");
    has(&m, &["matrix.csv:2", "field 'pupil_id'", "unknown pupil id (not in the pupils file)"]);
    assert!(!m.contains("pupil-9"), "{m}");
    let m = matrix_error("pupil_id,school_id,meters\n1,Z,100\n");
    has(&m, &["matrix.csv:2", "field 'school_id'", "unknown school id 'Z'"]);
}

#[test]
fn missing_pairs() {
    let full = matrix();
    let cut: String =
        full.lines().filter(|l| !l.starts_with("3,B")).map(|l| format!("{l}\n")).collect();
    let m = matrix_error(&cut);
    has(
        &m,
        &["matrix.csv", "1 pupil-school pairs are missing (1 pupils lack a row)", "school 'B'"],
    );
    assert!(!m.contains("'3'"), "no pupil id: {m}");
}

#[test]
fn bad_numbers() {
    has(
        &matrix_error("pupil_id,school_id,meters\n1,A,-5\n"),
        &["matrix.csv:2", "field 'meters'", "must not be negative"],
    );
    has(
        &matrix_error("pupil_id,school_id,meters\n1,A,NaN\n"),
        &["matrix.csv:2", "field 'meters'", "not a finite number"],
    );
    has(
        &matrix_error("pupil_id,school_id,meters\n1,A,\n"),
        &["matrix.csv:2", "field 'meters'", "is empty"],
    );
    has(
        &matrix_error("pupil_id,school_id,meters\n1,A,abc\n"),
        &["matrix.csv:2", "field 'meters'", "is not a number"],
    );
    has(
        &matrix_error("pupil_id,school_id,meters\n1,A,5\n1,A,6\n"),
        &["matrix.csv:3", "appears twice"],
    );
    has(
        &instance_error("id,name,lat,lon,capacity\nA,a,52,11,-3\n", PUPILS),
        &["schools.csv:2", "field 'capacity'", "must not be negative"],
    );
    has(
        &instance_error("id,name,lat,lon,capacity\nA,a,52,,5\n", PUPILS),
        &["schools.csv:2", "field 'lon'", "is empty"],
    );
}

#[test]
fn coordinates_out_of_range_without_echoing_pupil_values() {
    has(
        &instance_error("id,name,lat,lon,capacity\nA,a,95,11,5\n", PUPILS),
        &["schools.csv:2", "field 'lat'", "out of range", "95"],
    );
    let m = instance_error(SCHOOLS, "id,lat,lon\n1,52.1234,211.5678\n");
    has(&m, &["pupils.csv:2", "field 'lon'", "out of range"]);
    assert!(!m.contains("211.5678") && !m.contains("52.1234"), "pupil coordinates leaked: {m}");
}

#[test]
fn zero_or_missing_capacity() {
    has(
        &instance_error("id,name,lat,lon,capacity\nA,a,52,11,0\n", PUPILS),
        &["schools.csv:2", "field 'capacity'", "must be positive"],
    );
    has(
        &instance_error("id,name,lat,lon\nA,a,52,11\n", PUPILS),
        &["schools.csv:2", "field 'capacity'", "missing"],
    );
    has(
        &instance_error("id,name,lat,lon,capacity\nA,a,52,11,\n", PUPILS),
        &["schools.csv:2", "field 'capacity'", "is empty"],
    );
    // max_classes x class_size is a capacity too.
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "s.csv", "id,name,lat,lon,max_classes\nA,a,52,11,2\n");
    let p = write(d.path(), "p.csv", "id,lat,lon\n1,52,11\n");
    assert_eq!(read_instance(&s, &p).unwrap().schools[0].capacity, 44);
}

#[test]
fn empty_files() {
    has(&instance_error("", PUPILS), &["schools.csv", "the file is empty"]);
    has(&instance_error(SCHOOLS, "id,lat,lon\n"), &["pupils.csv", "no rows"]);
    // Only `catchment sites` takes a schools file without rows (a town with no school yet).
    has(
        &instance_error("id,name,lat,lon,capacity\n", PUPILS),
        &["schools.csv", "the file has a header but no rows"],
    );
    has(&matrix_error(""), &["matrix.csv", "the file is empty"]);
}

#[test]
fn wrong_delimiter_or_encoding() {
    has(
        &instance_error("id\tname\tlat\tlon\tcapacity\nA\ta\t52\t11\t5\n", PUPILS),
        &["schools.csv:1", "delimiter"],
    );
    // Semicolons are accepted (German Excel), with decimal commas.
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "s.csv", "id;name;lat;lon;capacity\nA;a;52,1;11,6;5\n");
    let p = write(d.path(), "p.csv", "id;lat;lon\n1;52,1;11,6\n");
    let inst = read_instance(&s, &p).unwrap();
    assert_eq!(inst.schools[0].lat, 52.1);
    // A row with more fields than the header.
    has(
        &instance_error("id,name,lat,lon,capacity\nA,a,52,11,5,7\n", PUPILS),
        &["schools.csv:2", "row has 6 fields but the header has 5"],
    );
    // Latin-1 bytes.
    let d = tempfile::tempdir().unwrap();
    let s = d.path().join("schools.csv");
    std::fs::write(&s, b"id,name,lat,lon,capacity\nA,Gr\xfcnschule,52,11,5\n").unwrap();
    let p = write(d.path(), "pupils.csv", PUPILS);
    let e = read_instance(&s, &p).unwrap_err().to_string();
    has(&e, &["schools.csv:2", "not valid UTF-8"]);
    has(&matrix_error("pupil_id;school_id;meters\n1;A;5\n"), &["matrix.csv:1", "comma-separated"]);
}

#[test]
fn unknown_fixed_school() {
    has(
        &instance_error(SCHOOLS, "id,lat,lon,fixed_school\n1,52,11,Q\n"),
        &["pupils.csv:2", "field 'fixed_school'", "'Q'"],
    );
}

#[test]
fn all_problems_reported_at_once() {
    let m = instance_error("id,name,lat,lon,capacity\nA,a,95,11,5\nB,b,52,11,0\n", PUPILS);
    has(&m, &["schools.csv:2", "schools.csv:3"]);
}

#[test]
fn geojson_points_are_read() {
    let d = tempfile::tempdir().unwrap();
    let s = write(
        d.path(),
        "schools.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[11.6,52.1]},"properties":{"id":"A","name":"a","capacity":3}}]}"#,
    );
    let p = write(
        d.path(),
        "pupils.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"7","geometry":{"type":"Point","coordinates":[11.61,52.11]},"properties":{}}]}"#,
    );
    let inst = read_instance(&s, &p).unwrap();
    assert_eq!(inst.schools[0].capacity, 3);
    assert_eq!(inst.schools[0].lat, 52.1);
    assert_eq!(inst.pupils[0].id, "7");
    assert_eq!(inst.pupils[0].location, Some((52.11, 11.61)));
    let bad = write(
        d.path(),
        "bad.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[11.6,52.1]},"properties":{"id":"A","capacity":0}}]}"#,
    );
    let e = read_instance(&bad, &p).unwrap_err().to_string();
    has(&e, &["bad.geojson feature 1", "field 'capacity'", "must be positive"]);
}

#[test]
fn cli_writes_nothing_on_bad_input_and_keeps_an_existing_output() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, _) = small_instance(d.path());
    let bad = write(d.path(), "bad.csv", "pupil_id,school_id,meters\n1,A,-1\n");
    let out = d.path().join("plan");
    let o = bin()
        .args(["solve", "--schools"])
        .arg(&s)
        .arg("--pupils")
        .arg(&p)
        .arg("--matrix")
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.csv:2: field 'meters'"));
    assert!(!out.exists());
    // An existing output stays untouched.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "old").unwrap();
    let o = bin()
        .args(["solve", "--schools"])
        .arg(&s)
        .arg("--pupils")
        .arg(&p)
        .arg("--matrix")
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(out.join("keep.txt")).unwrap(), "old");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    assert_eq!(leftovers(d.path()), 0, "temporary directories left behind");
}

fn leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp-"))
        .count()
}

/// `solve --out DIR` never deletes what DIR holds unless DIR is one of catchment's outputs: a
/// directory of inputs (or anything else) is refused before any work, with every file kept; an
/// empty directory or an earlier plan is replaced.
#[test]
fn an_output_never_replaces_a_directory_that_is_not_an_output() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    let solve = |out: &Path| {
        bin()
            .args(["solve", "--schools"])
            .arg(&s)
            .arg("--pupils")
            .arg(&p)
            .arg("--matrix")
            .arg(&m)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    // The directory of the inputs themselves.
    let before: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().path()).collect();
    let o = solve(d.path());
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("an input of this run"));
    for f in &before {
        assert!(f.exists(), "{} was deleted", f.display());
    }
    assert!(!d.path().join("summary.json").exists());
    // A directory with a file of the user's.
    let mine = d.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    assert_eq!(solve(&mine).status.code(), Some(3));
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "keep");
    // A file is refused too.
    assert_eq!(solve(&s).status.code(), Some(3));
    // An empty directory, then the plan written there, are replaced.
    let plan = d.path().join("plan");
    std::fs::create_dir(&plan).unwrap();
    assert!(solve(&plan).status.success());
    assert!(plan.join("summary.json").exists());
    assert!(solve(&plan).status.success(), "a plan directory is replaced by a new plan");
    assert_eq!(leftovers(d.path()), 0);
}

/// A header of 100,000 columns is refused with the limit (a quadratic duplicate check once
/// held the CPU for minutes on such files); duplicates below the limit are still named.
#[test]
fn a_very_wide_header_is_refused_with_the_limit() {
    let d = tempfile::tempdir().unwrap();
    let mut header: Vec<String> = vec!["id".into(), "lat".into(), "lon".into()];
    header.extend((0..100_000).map(|i| format!("c{i}")));
    let wide = write(d.path(), "pupils.csv", &format!("{}\n", header.join(",")));
    let s = write(d.path(), "schools.csv", "id,name,lat,lon,capacity\nA,A,52.1,11.6,10\n");
    let e = read_instance(&s, &wide).unwrap_err().to_string();
    assert!(e.contains("100003 columns; at most 1000"), "{e}");
    let e = instance_error(
        "id,name,lat,lon,capacity,name\nA,A,52.1,11.6,10,x\n",
        "id,lat,lon\np1,52.1,11.6\n",
    );
    has(&e, &["schools.csv:1", "field 'name'", "column appears twice"]);
}

/// A device as an input (`/dev/zero` never ends) and a directory are refused at once, with exit
/// code 3 and a message naming them, before anything is read or written.
#[test]
fn devices_and_directories_are_not_read() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    for (flag, bad, says) in [
        ("--pupils", Path::new("/dev/zero"), "is a device"),
        ("--schools", d.path(), "is a directory"),
    ] {
        let (mut schools, mut pupils) = (s.clone(), p.clone());
        if flag == "--pupils" {
            pupils = bad.to_path_buf();
        } else {
            schools = bad.to_path_buf();
        }
        let out = d.path().join("plan");
        let o = bin()
            .args(["solve", "--schools"])
            .arg(&schools)
            .arg("--pupils")
            .arg(&pupils)
            .arg("--matrix")
            .arg(&m)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{flag}");
        has(&String::from_utf8_lossy(&o.stderr), &[says]);
        assert!(!out.exists(), "nothing written");
    }
}

fn solve_status(schools: &Path, pupils: &Path, matrix: &Path, out: &Path) -> (Option<i32>, String) {
    let o = bin()
        .args(["solve", "--schools"])
        .arg(schools)
        .arg("--pupils")
        .arg(pupils)
        .arg("--matrix")
        .arg(matrix)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A line over 1 MiB is refused at once, naming the file, the line and the limit, in a table
/// read whole (pupils) and in a matrix read as a stream; the line's content is not echoed.
#[test]
fn a_line_longer_than_the_limit_is_refused_with_its_line() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    let huge = "7".repeat(2 << 20);
    let long_pupils = write(d.path(), "long-pupils.csv", &format!("{PUPILS}6,52.1,{huge}\n"));
    let (code, err) = solve_status(&s, &long_pupils, &m, &d.path().join("plan"));
    assert_eq!(code, Some(3), "{err}");
    has(&err, &["long-pupils.csv:7", "longer than 1 MiB, the most a line may be"]);
    assert!(err.len() < 2_000, "the line is not echoed: {} bytes", err.len());
    let long_matrix = write(d.path(), "long-matrix.csv", &format!("{}1,A,{huge}\n", matrix()));
    let (code, err) = solve_status(&s, &p, &long_matrix, &d.path().join("plan"));
    assert_eq!(code, Some(3), "{err}");
    has(&err, &["long-matrix.csv:17", "longer than 1 MiB"]);
    assert!(!d.path().join("plan").exists());
}

/// An endless pipe with no line break (like /dev/zero, which is refused as a device) is read
/// only to the line limit, for a table and for the streamed matrix: the reader stops instead of
/// filling memory.
#[cfg(unix)]
#[test]
fn an_endless_pipe_is_read_only_to_the_line_limit() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    for (which, name) in [("pupils", "pupils-pipe.csv"), ("matrix", "matrix-pipe.csv")] {
        let fifo = d.path().join(name);
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
                let block = vec![b'x'; 64 << 10];
                // Endless until the reader goes away (a broken pipe).
                while f.write_all(&block).is_ok() {}
            })
        };
        let (pupils, matrix) = if which == "pupils" { (&fifo, &m) } else { (&p, &fifo) };
        let (code, err) = solve_status(&s, pupils, matrix, &d.path().join("plan"));
        assert_eq!(code, Some(3), "{which}: {err}");
        has(&err, &[&format!("{name}:1"), "longer than 1 MiB"]);
        writer.join().unwrap();
    }
}

/// Ids longer than 256 bytes are refused (schools, pupils), without echoing a pupil's.
#[test]
fn ids_longer_than_the_limit_are_refused() {
    let long = "q".repeat(300);
    let e = instance_error(&format!("id,name,lat,lon,capacity\n{long},a,52,11,5\n"), PUPILS);
    has(&e, &["schools.csv:2", "field 'id'", "longer than 256 bytes, the most an id may be"]);
    let e = instance_error(SCHOOLS, &format!("id,lat,lon\n1,52,11\n{long},52,11\n"));
    has(&e, &["pupils.csv:3", "field 'id'", "longer than 256 bytes"]);
    assert!(!e.contains(&long), "{e}");
    // At the limit, an id is read.
    let d = tempfile::tempdir().unwrap();
    let at = "q".repeat(256);
    let s = write(d.path(), "s.csv", SCHOOLS);
    let p = write(d.path(), "p.csv", &format!("id,lat,lon\n{at},52,11\n"));
    assert_eq!(read_instance(&s, &p).unwrap().pupils[0].id, at);
}

/// A matrix of more than 250 million cells (pupils x schools, or blocks x schools) is refused
/// before it is allocated, naming its dimensions and the limit.
#[test]
fn a_matrix_over_the_cell_limit_is_refused_before_it_is_allocated() {
    let d = tempfile::tempdir().unwrap();
    let n = 16_000; // 16,000 x 16,000 = 256 million cells (1 GB of meters)
    let mut schools = String::from("id,lat,lon,capacity\n");
    let mut pupils = String::from("id,lat,lon\n");
    for i in 0..n {
        schools.push_str(&format!("S{i},52.1,11.6,2\n"));
        pupils.push_str(&format!("{i},52.1,11.6\n"));
    }
    let s = write(d.path(), "schools.csv", &schools);
    let p = write(d.path(), "pupils.csv", &pupils);
    let inst = read_instance(&s, &p).unwrap();
    let m = write(d.path(), "matrix.csv", "pupil_id,school_id,meters\n0,S0,5\n");
    let e = read_matrix(&m, &inst).unwrap_err().to_string();
    has(
        &e,
        &[
            "matrix.csv",
            "16,000 pupils x 16,000 schools = 256,000,000 cells",
            "more than 250,000,000",
        ],
    );
    let mut blocks = String::from("block_id,school_id,meters\n");
    for b in 0..15_700 {
        blocks.push_str(&format!("b{b},S0,5\n"));
    }
    let bm = write(d.path(), "block-matrix.csv", &blocks);
    let e = catchment::districts::read_block_matrix(&bm, &inst.schools).unwrap_err().to_string();
    has(&e, &["block-matrix.csv", "15,626 blocks x 16,000 schools", "more than 250,000,000"]);
}

/// Every reader of the city's files (blocks, block matrix, area, streets) refuses a device and
/// a directory at once, like the readers of schools, pupils and matrices.
#[cfg(unix)]
#[test]
fn city_readers_refuse_devices_and_directories() {
    use catchment::districts;
    let d = tempfile::tempdir().unwrap();
    let (s, p, _) = small_instance(d.path());
    let inst = read_instance(&s, &p).unwrap();
    for (bad, says) in [(Path::new("/dev/zero"), "is a device"), (d.path(), "is a directory")] {
        let errors = [
            districts::blocks::read_blocks(bad).map(|_| ()),
            districts::read_block_matrix(bad, &inst.schools).map(|_| ()),
            districts::area::read_area(bad).map(|_| ()),
            districts::streets::read_street_lines(bad).map(|_| ()),
            read_matrix(bad, &inst).map(|_| ()),
        ];
        for (i, e) in errors.into_iter().enumerate() {
            match e {
                Err(e @ Error::Input(_)) => has(&e.to_string(), &[says]),
                other => panic!("reader {i} on {}: {other:?}", bad.display()),
            }
        }
    }
}

fn solve_args(s: &Path, p: &Path, m: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .args(["solve", "--schools"])
        .arg(s)
        .arg("--pupils")
        .arg(p)
        .arg("--matrix")
        .arg(m)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// Issue 19, item 2. An unrelated directory is refused with a hint naming --force, and --force
/// replaces it whole (atomically: no staging directory left); a plan directory is replaced by
/// a plan; a plan directory holding the run's own inputs, or a file catchment did not write, is
/// refused — the inputs survive, even with --force.
#[test]
fn force_replaces_only_on_request_and_never_deletes_the_runs_inputs() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    // An unrelated directory: refused, with the way out.
    let mine = d.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let o = solve_args(&s, &p, &m, &mine, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    has(&err, &["is not an output directory of catchment", "hint:", "--force"]);
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "keep");
    // --force replaces it whole with a complete plan.
    let o = solve_args(&s, &p, &m, &mine, &["--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!mine.join("notes.txt").exists());
    assert!(mine.join("summary.json").is_file() && mine.join(".catchment-output").is_file());
    assert_eq!(leftovers(d.path()), 0);
    let hidden: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "staging left behind: {hidden:?}");
    // The plan directory is replaced by the next plan without --force.
    assert!(solve_args(&s, &p, &m, &mine, &[]).status.success());
    // A plan directory holding this run's pupils file: refused, with or without --force.
    std::fs::copy(&p, mine.join("pupils.csv")).unwrap();
    let before = snapshot(&mine);
    for extra in [&[][..], &["--force"][..]] {
        let o = solve_args(&s, &mine.join("pupils.csv"), &m, &mine, extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{extra:?}: {err}");
        has(&err, &["an input of this run"]);
        assert_eq!(snapshot(&mine), before, "{extra:?}: the directory is untouched");
    }
    // A plan directory with a file the user added (not an input of this run): refused, named.
    let o = solve_args(&s, &p, &m, &mine, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    has(&err, &["also holds 'pupils.csv'", "--force"]);
    assert_eq!(snapshot(&mine), before);
    // The working directory is never replaced.
    let o = bin()
        .current_dir(d.path())
        .args(["solve", "--schools"])
        .arg(&s)
        .arg("--pupils")
        .arg(&p)
        .arg("--matrix")
        .arg(&m)
        .args(["--out", ".", "--force"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    has(&String::from_utf8_lossy(&o.stderr), &["working directory"]);
    assert!(s.exists() && p.exists() && m.exists());
}

/// Every command that writes a directory refuses an unrelated one before any work, with the
/// same message and hint, keeping its files.
#[test]
fn every_command_with_an_output_directory_refuses_an_unrelated_one() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    let mine = d.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let toml = write(d.path(), "scenarios.toml", "# not read: the output is refused first\n");
    let run = |args: Vec<std::ffi::OsString>| {
        let o = bin().args(&args).output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let os = |v: &[&dyn AsRef<std::ffi::OsStr>]| -> Vec<std::ffi::OsString> {
        v.iter().map(|x| x.as_ref().to_os_string()).collect()
    };
    let commands = [
        os(&[&"demo", &"--data", &demo, &"--out", &mine]),
        os(&[&"reproduce", &"demo", &"--data", &demo, &"--out", &mine]),
        os(&[&"batch", &toml, &"--out", &mine]),
        os(&[&"simulate", &"--plan", &d.path().join("no-plan"), &"--out", &mine]),
        os(&[
            &"stability-curve",
            &"--schools",
            &s,
            &"--pupils",
            &p,
            &"--matrix",
            &m,
            &"--previous",
            &d.path().join("previous.csv"),
            &"--out",
            &mine,
        ]),
    ];
    for args in commands {
        let (code, err) = run(args.clone());
        assert_eq!(code, Some(3), "{args:?}: {err}");
        has(&err, &["is not an output directory of catchment", "--force"]);
        assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "keep");
    }
}

/// Issue 19, item 10: a bad capacity or a NaN latitude gives exactly one message (not a second,
/// wrong one about an empty field); an OS error's text is printed once; a class size of 0 and a
/// minimum class size above the maximum are refused as contradictory rules (exit 3).
#[test]
fn one_correct_message_per_fault() {
    let e = instance_error(
        "id,name,lat,lon,capacity\nA,a,52.1,11.6,abc\nB,b,NaN,11.6,3\n",
        "id,lat,lon\n1,NaN,11.6\n2,52.1,inf\n",
    );
    let lines: Vec<&str> = e.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(
        lines,
        [
            "  - schools.csv:2: field 'capacity': is not a whole number (got 'abc')",
            "  - schools.csv:3: field 'lat': is not a finite number (got 'NaN')",
            "  - pupils.csv:2: field 'lat': is not a finite number",
            "  - pupils.csv:3: field 'lon': is not a finite number",
        ],
        "{e}"
    );
    // Empty fields still say so.
    let e = instance_error(SCHOOLS, "id,lat,lon\n1,,11.6\n");
    has(&e, &["pupils.csv:2: field 'lat': is empty while 'lon' is given"]);

    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    let o = solve_args(&s, &d.path().join("nope.csv"), &m, &d.path().join("plan"), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    for (flags, says) in [
        (&["--max-class-size", "0"][..], "the maximum class size is 0"),
        (&["--min-class-size", "0"][..], "the minimum class size is 0"),
        (
            &["--min-class-size", "25", "--max-class-size", "20"][..],
            "the minimum class size 25 is above the maximum class size 20",
        ),
    ] {
        let o = solve_args(&s, &p, &m, &d.path().join("plan"), flags);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{flags:?}: {err}");
        has(&err, &["invalid policy", says]);
        assert!(!err.contains("hint"), "{flags:?}: no hint to give the maximum: {err}");
    }
    // The service's rules are the same library's: refused when the request is loaded.
    let text =
        |name: &str, t: &str| catchment::app::Source::Text { name: name.into(), text: t.into() };
    let req = catchment::app::PlanRequest {
        schools: text("schools.csv", SCHOOLS),
        pupils: text("pupils.csv", PUPILS),
        distances: catchment::app::Distances::Matrix(text("matrix.csv", &matrix())),
        policy: catchment::Policy { max_class_size: Some(0), ..Default::default() },
        stability: None,
        city: None,
        compare: Default::default(),
        pins: None,
    };
    assert!(matches!(req.load(&|_| ()), Err(Error::Policy { .. })));
}
