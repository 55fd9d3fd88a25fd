//! The user guide's figures are what the commands beside them print: the Magdeburg simulation
//! table (docs/src/robustness.md) and the scenario comparison (docs/src/scenarios.md); the
//! reproduce table (docs/src/magdeburg.md) is checked in tests/reproduce.rs.

mod common;
use common::bin;
use std::path::Path;

/// The text between `<!-- {marker}: begin -->` and `<!-- {marker}: end -->` in a chapter of the
/// guide (docs/src/), without a code fence around it.
fn shown(chapter: &str, marker: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src").join(chapter);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let begin = format!("<!-- {marker}: begin -->\n");
    let end = format!("<!-- {marker}: end -->");
    let a = text.find(&begin).unwrap_or_else(|| panic!("marker {marker} in {}", path.display()))
        + begin.len();
    let b = text[a..].find(&end).unwrap() + a;
    text[a..b].trim().trim_start_matches("```").trim_end_matches("```").trim().to_string()
}

#[test]
fn the_simulation_table_is_what_catchment_simulate_prints() {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    let o = bin()
        .arg("solve")
        .args([
            "--schools",
            d.join("schools.csv").to_str().unwrap(),
            "--pupils",
            d.join("pupils.csv").to_str().unwrap(),
        ])
        .args([
            "--matrix",
            d.join("matrix.csv").to_str().unwrap(),
            "--blocks",
            d.join("blocks.csv").to_str().unwrap(),
        ])
        .arg("--out")
        .arg(&plan)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bin()
        .args(["simulate", "--plan"])
        .arg(&plan)
        .arg("--out")
        .arg(tmp.path().join("sim"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout);
    let table = shown("robustness.md", "simulate magdeburg");
    assert!(table.lines().count() > 30);
    assert!(
        printed.contains(&table),
        "docs/src/robustness.md's simulation table differs from `catchment simulate`:\n{printed}"
    );
}

#[test]
fn the_scenario_comparison_is_what_catchment_batch_writes() {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("scenarios");
    let o =
        bin().arg("batch").arg(d.join("scenarios.toml")).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    let table = shown("scenarios.md", "batch magdeburg");
    assert!(table.contains("| draft-law |"));
    assert!(
        md.contains(&table),
        "docs/src/scenarios.md's scenario comparison differs from `catchment batch`:\n{md}"
    );
    // Under the draft law a school that forms no class has no district either: on the shipped
    // scenario (whichever schools it closes) and on a school made to close, S31 with 24 seats
    // under classes of at least 25.
    closed_schools_have_no_district(&out.join("draft-law"));
    let planted = tmp.path().join("closing.toml");
    let abs = |f: &str| d.join(f).display().to_string().replace('\\', "/");
    std::fs::write(
        &planted,
        format!(
            "[base]\nschools = \"{}\"\npupils = \"{}\"\nmatrix = \"{}\"\nblocks = \"{}\"\n\n\
             [[scenario]]\nname = \"law-small-S31\"\nmin_class_size = 25\nmax_class_size = 28\n\
             capacity = {{ S31 = 24 }}\n",
            abs("schools.csv"),
            abs("pupils.csv"),
            abs("matrix.csv"),
            abs("blocks.csv")
        ),
    )
    .unwrap();
    let out2 = tmp.path().join("closing");
    let o = bin().arg("batch").arg(&planted).arg("--out").arg(&out2).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let closed = closed_schools_have_no_district(&out2.join("law-small-S31"));
    assert!(closed.contains(&"S31".to_string()), "S31 forms a class with 24 seats: {closed:?}");
}

/// The schools of a plan directory that form no class; fails when one of them has a block in
/// `districts.csv`.
fn closed_schools_have_no_district(plan: &Path) -> Vec<String> {
    let mut rdr = csv::Reader::from_path(plan.join("schools.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    let (id, classes) = (
        h.iter().position(|c| c == "school_id").unwrap(),
        h.iter().position(|c| c == "classes").unwrap(),
    );
    let closed: Vec<String> = rdr
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[classes] == "0")
        .map(|r| r[id].to_string())
        .collect();
    let districts = std::fs::read_to_string(plan.join("districts.csv")).unwrap();
    for c in &closed {
        assert!(
            !districts.lines().any(|l| l.split(',').nth(1) == Some(c.as_str())),
            "school {c} forms no class but has blocks"
        );
    }
    closed
}
