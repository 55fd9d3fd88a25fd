//! `catchment reproduce`: the report's numbers recompute from the plan files it writes, and a
//! given district file is evaluated like the proxy.

mod common;

use common::bin;
use std::collections::HashMap;
use std::path::Path;

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            h.iter().zip(rec.unwrap().iter()).map(|(a, b)| (a.to_string(), b.to_string())).collect()
        })
        .collect()
}

#[test]
fn report_numbers_recompute_from_the_plan_files() {
    let case = "magdeburg";
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r");
    let root = env!("CARGO_MANIFEST_DIR");
    // A district file: the whole-block plan of a first run, given back as a baseline.
    let o = bin().args(["reproduce", case, "--out"]).arg(&out).current_dir(root).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pupils = read_csv(&Path::new(root).join("data").join(case).join("pupils.csv"));
    let block_of: HashMap<&str, &str> =
        pupils.iter().map(|p| (p["id"].as_str(), p["block"].as_str())).collect();
    let mut districts = String::from("block_id,school_id\n");
    let mut seen = std::collections::BTreeSet::new();
    for a in read_csv(&out.join("plans/blocks/assignments.csv")) {
        let b = block_of[a["pupil_id"].as_str()];
        if seen.insert(b.to_string()) {
            districts.push_str(&format!("{b},{}\n", a["school_id"]));
        }
    }
    let dfile = d.path().join("districts.csv");
    std::fs::write(&dfile, districts).unwrap();
    let out2 = d.path().join("r2");
    let o = bin()
        .args(["reproduce", case, "--baseline"])
        .arg(&dfile)
        .arg("--out")
        .arg(&out2)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("| Given districts (districts.csv) |"), "{stdout}");

    // The guide's Magdeburg chapter shows the first run's table as the command printed it.
    let chapter = std::fs::read_to_string(Path::new(root).join("docs/src/magdeburg.md")).unwrap();
    let begin = "<!-- reproduce magdeburg: begin -->\n";
    let shown = &chapter[chapter.find(begin).expect("marker in docs/src/magdeburg.md") + begin.len()
        ..chapter.find("<!-- reproduce magdeburg: end -->").unwrap()];
    let printed = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        printed.contains(shown),
        "docs/src/magdeburg.md's table differs from `catchment reproduce magdeburg`:\n{printed}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("report.json")).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    // Proxy, given, whole blocks, contiguous, contiguous with whole street segments and with a
    // price on split streets (the case has the city's blocks and streets), pupil level.
    assert_eq!(rows.len(), 7);
    // What the city reported (data/magdeburg/reported.json) is shown beside the plans, as given.
    let reported: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(root).join("data").join(case).join("reported.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["reported"], reported);
    let (over, of) = (reported["over_2km"].as_u64().unwrap(), reported["pupils"].as_u64().unwrap());
    let row = format!(
        "| {} | – | – | – | {over} ({:.1}% of {of}) | – | – | – | – | – |",
        reported["name"].as_str().unwrap(),
        100.0 * over as f64 / of as f64
    );
    assert!(stdout.contains(&row), "{stdout}");
    let by_key: HashMap<&str, &serde_json::Value> =
        rows.iter().map(|r| (r["key"].as_str().unwrap(), r)).collect();
    assert_eq!(by_key["given"]["objective_m"], by_key["blocks"]["objective_m"]);
    let base = by_key["baseline"]["objective_m"].as_u64().unwrap() as f64;
    for row in rows {
        let key = row["key"].as_str().unwrap();
        let a = read_csv(&out2.join("plans").join(key).join("assignments.csv"));
        let meters: Vec<u64> = a.iter().map(|r| r["meters"].parse().unwrap()).collect();
        let total: u64 = meters.iter().sum();
        assert_eq!(row["objective_m"].as_u64().unwrap(), total, "{key}");
        assert_eq!(
            row["total_km"].as_f64().unwrap(),
            (total as f64 / 100.0).round() / 10.0,
            "{key}"
        );
        assert_eq!(
            row["over_2km"].as_u64().unwrap(),
            meters.iter().filter(|&&m| m > 2000).count() as u64,
            "{key}"
        );
        let not_nearest = a.iter().filter(|r| r["extra_meters"] != "0").count() as u64;
        assert_eq!(row["not_at_nearest"].as_u64().unwrap(), not_nearest, "{key}");
        let change = ((total as f64 - base) / base * 1000.0).round() / 10.0;
        assert_eq!(row["change_pct"].as_f64().unwrap(), change, "{key}");
        // Classes from schools.csv.
        let schools = read_csv(&out2.join("plans").join(key).join("schools.csv"));
        let classes: u64 = schools.iter().map(|s| s["classes"].parse::<u64>().unwrap()).sum();
        assert_eq!(row["classes"].as_u64().unwrap(), classes, "{key}");
        let largest =
            schools.iter().map(|s| s["largest_class"].parse::<u64>().unwrap()).max().unwrap();
        assert_eq!(row["largest_class"].as_u64().unwrap(), largest, "{key}");
        // Streets in two or more districts: the lines of the plan's split-streets.csv.
        let split = read_csv(&out2.join("plans").join(key).join("split-streets.csv")).len();
        assert_eq!(row["split_streets"].as_u64().unwrap(), split as u64, "{key}");
    }
    // The contiguous plan: one piece per district (as its summary counts them), within the
    // seats, never below the pupil-level optimum, and its gap as printed.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out2.join("plans/contiguous/summary.json")).unwrap(),
    )
    .unwrap();
    let per_school = summary["districts"]["per_school"].as_array().unwrap();
    assert!(!per_school.is_empty());
    assert!(per_school.iter().all(|s| s["pieces"] == 1), "{}", summary["districts"]);
    assert_eq!(by_key["contiguous"]["classes_over_size"], 0);
    let gap = 100.0 * (obj_of(&by_key, "contiguous") - obj_of(&by_key, "pupils"))
        / obj_of(&by_key, "pupils");
    assert_eq!(report["contiguous_gap_pct"].as_f64().unwrap(), (gap * 100.0).round() / 100.0);
    assert!(stdout.contains("Contiguous districts (each one connected piece"), "{stdout}");
    assert!(stdout.contains("~2% above the theoretical optimum"), "{stdout}");
    // Optimised rows never walk more than the baseline; the pupil level never more than blocks.
    let obj = |k: &str| by_key[k]["objective_m"].as_u64().unwrap();
    assert!(obj("pupils") <= obj("blocks") && obj("blocks") <= obj("baseline"));
    assert!(obj("pupils") <= obj("contiguous"));
    assert!(obj("pupils") <= obj("contiguous-segments"));
    assert!(obj("pupils") <= obj("contiguous-streets"));
    // A price on split streets never splits more streets than the plain contiguous plan it
    // starts from.
    let split = |k: &str| by_key[k]["split_streets"].as_u64().unwrap();
    assert!(split("contiguous-streets") <= split("contiguous"));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out2.join("plans/contiguous-streets/summary.json")).unwrap(),
    )
    .unwrap();
    assert!(summary["districts"]["per_school"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["pieces"] == 1));
    assert_eq!(summary["solver"]["split_street_cost_m"], 1000);
    // With whole segments the districts are one piece each too.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out2.join("plans/contiguous-segments/summary.json")).unwrap(),
    )
    .unwrap();
    let per_school = summary["districts"]["per_school"].as_array().unwrap();
    assert!(per_school.iter().all(|s| s["pieces"] == 1), "{}", summary["districts"]);
}

fn obj_of(rows: &HashMap<&str, &serde_json::Value>, key: &str) -> f64 {
    rows[key]["objective_m"].as_u64().unwrap() as f64
}

#[test]
fn bad_district_file_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("districts.csv");
    std::fs::write(&f, "block_id,school_id\nnowhere,NOPE\n").unwrap();
    let o = bin()
        .args(["reproduce", "demo", "--baseline"])
        .arg(&f)
        .arg("--out")
        .arg(d.path().join("r"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("districts.csv:2: field 'school_id': unknown school id 'NOPE'"), "{e}");
    assert!(e.contains("block(s) with pupils are not listed"), "{e}");
    assert!(!d.path().join("r").exists());
}

#[test]
fn a_bad_reported_file_is_refused_by_name() {
    let d = tempfile::tempdir().unwrap();
    let case = d.path().join("case");
    std::fs::create_dir(&case).unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    for f in ["schools.csv", "pupils.csv", "matrix.csv"] {
        std::fs::copy(demo.join(f), case.join(f)).unwrap();
    }
    std::fs::write(
        case.join("reported.json"),
        r#"{"name": "x", "source": "y", "pupils": 10, "over_2km": 11}"#,
    )
    .unwrap();
    let o = bin()
        .args(["reproduce", "demo", "--data"])
        .arg(&case)
        .arg("--out")
        .arg(d.path().join("r"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("reported.json") && e.contains("over_2km"), "{e}");
    assert!(!d.path().join("r").exists());
}
