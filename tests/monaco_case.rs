//! The second committed city case, `data/monaco`, made by `catchment-dataset osm` from the
//! Monaco OpenStreetMap extract alone, run end to end as the README's walkthrough runs it:
//! addresses -> geocoding from the extract -> walks from a real osrm-routed -> solve -> check
//! (from the walks the plan kept) -> districts -> street list -> explain.

mod common;
use common::{bin, dataset_bin, monaco_pbf, repo, Osrm};
use std::collections::{BTreeMap, BTreeSet};

fn records(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.deserialize().map(|x| x.unwrap()).collect()
}

#[test]
fn the_committed_case_is_what_the_generator_writes() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("monaco");
    let o = dataset_bin()
        .args([
            "osm",
            "--osm",
            "tests/data/monaco.osm.pbf",
            "--pupils",
            "120",
            "--seed",
            "1",
            "--out",
        ])
        .arg(&out)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["schools.csv", "pupils.csv", "blocks.csv"] {
        let committed = std::fs::read_to_string(repo().join("data/monaco").join(f)).unwrap();
        assert_eq!(std::fs::read_to_string(out.join(f)).unwrap(), committed, "{f}");
    }
}

#[test]
fn monaco_from_addresses_to_districts_street_list_and_explain() {
    let osrm = Osrm::start(1000);
    let d = tempfile::tempdir().unwrap();
    let plan = d.path().join("plan");
    let pbf = monaco_pbf();
    let case = repo().join("data/monaco");
    let o = bin()
        .args(["solve", "--osrm", &osrm.url, "--no-cache", "--osm"])
        .arg(&pbf)
        .arg("--streets")
        .arg(&pbf)
        .arg("--schools")
        .arg(case.join("schools.csv"))
        .arg("--pupils")
        .arg(case.join("pupils.csv"))
        .arg("--blocks")
        .arg(case.join("blocks.csv"))
        .arg("--out")
        .arg(&plan)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // Every pupil and every block placed from the extract.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plan.join("summary.json")).unwrap()).unwrap();
    let pupils = records(&case.join("pupils.csv"));
    let blocks = records(&case.join("blocks.csv"));
    assert_eq!(summary["pupils"].as_u64().unwrap(), pupils.len() as u64, "{summary}");
    assert_eq!(summary["solver"]["certified"], true);
    // The districts decide every block; the street list names every block exactly once and
    // agrees with the districts.
    let districts: BTreeMap<String, String> = records(&plan.join("districts.csv"))
        .into_iter()
        .map(|r| (r["block_id"].clone(), r["school_id"].clone()))
        .collect();
    let ids: BTreeSet<String> = blocks.iter().map(|b| b["block_id"].clone()).collect();
    assert_eq!(districts.keys().cloned().collect::<BTreeSet<_>>(), ids);
    let mut listed = BTreeSet::new();
    for line in records(&plan.join("streets.csv")) {
        for b in line["blocks"].split_whitespace() {
            assert!(listed.insert(b.to_string()), "{b} listed twice");
            assert_eq!(districts[b], line["school_id"], "{b}");
        }
    }
    assert_eq!(listed, ids, "every block in the street list");
    let fc: geojson::FeatureCollection =
        std::fs::read_to_string(plan.join("districts.geojson")).unwrap().parse().unwrap();
    assert!(!fc.features.is_empty());
    // The independent check, from the walks the plan kept (no routing server needed).
    drop(osrm);
    let o = bin()
        .arg("check")
        .arg("--schools")
        .arg(case.join("schools.csv"))
        .arg("--pupils")
        .arg(case.join("pupils.csv"))
        .arg("--plan")
        .arg(&plan)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("feasible and optimal"), "{stdout}");
    // Why this school, for the first pupil's address, as a parent would ask.
    let first = &pupils[0];
    let address = format!("{} {}", first["street"], first["house_number"]);
    let o = bin()
        .args(["explain", "--plan"])
        .arg(&plan)
        .args(["--address", &address])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}{}", String::from_utf8_lossy(&o.stderr));
    let block = &first["block"];
    assert!(text.contains(&format!("block {block}: school {}", districts[block])), "{text}");
}
