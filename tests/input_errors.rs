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
    let m = instance_error(SCHOOLS, "id,lat,lon\n1,52,11\n1,52,11\n");
    has(&m, &["pupils.csv:3", "field 'id'", "duplicate pupil id '1'"]);
}

#[test]
fn unknown_ids_in_matrix() {
    let m = matrix_error("pupil_id,school_id,meters\n9,A,100\n");
    has(&m, &["matrix.csv:2", "field 'pupil_id'", "unknown pupil id '9'"]);
    let m = matrix_error("pupil_id,school_id,meters\n1,Z,100\n");
    has(&m, &["matrix.csv:2", "field 'school_id'", "unknown school id 'Z'"]);
}

#[test]
fn missing_pairs() {
    let full = matrix();
    let cut: String =
        full.lines().filter(|l| !l.starts_with("3,B")).map(|l| format!("{l}\n")).collect();
    let m = matrix_error(&cut);
    has(&m, &["matrix.csv", "1 pupil-school pairs are missing", "('3', 'B')"]);
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
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not an output directory"));
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
