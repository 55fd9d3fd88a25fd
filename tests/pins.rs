//! `catchment solve --pin pins.csv`: pinned blocks end at their school, the rest is optimised
//! around them and certified given the pins; mistakes in the pins are typed errors.

mod common;
use common::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

fn solve(out: &Path, pins: Option<&Path>) -> Output {
    let d = server::demo_dir();
    let mut c = bin();
    c.arg("solve")
        .arg("--schools")
        .arg(d.join("schools.csv"))
        .arg("--pupils")
        .arg(d.join("pupils.csv"))
        .arg("--matrix")
        .arg(d.join("matrix.csv"))
        .arg("--out")
        .arg(out);
    if let Some(p) = pins {
        c.arg("--pin").arg(p);
    }
    c.output().unwrap()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// pupil id -> (block, school) from a plan's assignments.csv and the demo's pupils.
fn assignments(dir: &Path) -> Vec<(String, String)> {
    let pupils = std::fs::read_to_string(server::demo_dir().join("pupils.csv")).unwrap();
    let block: HashMap<&str, &str> = pupils
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0], f[3])
        })
        .collect();
    let text = std::fs::read_to_string(dir.join("assignments.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (pi, si) = (
        header.iter().position(|h| *h == "pupil_id").unwrap(),
        header.iter().position(|h| *h == "school_id").unwrap(),
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (block[f[pi]].to_string(), f[si].to_string())
        })
        .collect()
}

fn check(dir: &Path) -> Output {
    let d = server::demo_dir();
    bin()
        .arg("check")
        .arg("--pupils")
        .arg(d.join("pupils.csv"))
        .arg("--matrix")
        .arg(d.join("matrix.csv"))
        .arg("--plan")
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn pinned_blocks_end_at_their_school_and_the_plan_is_certified_given_the_pins() {
    let tmp = tempfile::tempdir().unwrap();
    let free = tmp.path().join("free");
    let o = solve(&free, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let free_assign = assignments(&free);
    let free_total = summary(&free)["walk"]["total_m"].as_u64().unwrap();
    // Pin the two most populous blocks to a school none of their pupils attends.
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (b, _) in &free_assign {
        *count.entry(b).or_default() += 1;
    }
    let mut blocks: Vec<(&str, usize)> = count.into_iter().collect();
    blocks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let schools: Vec<String> = summary(&free)["per_school"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let mut pins = String::from("block,school\n");
    let mut wanted: HashMap<String, String> = HashMap::new();
    for (b, _) in blocks.iter().take(2) {
        let current: Vec<&String> =
            free_assign.iter().filter(|(blk, _)| blk.as_str() == *b).map(|(_, s)| s).collect();
        let target = schools.iter().rev().find(|s| !current.contains(s)).unwrap();
        pins.push_str(&format!("{b},{target}\n"));
        wanted.insert(b.to_string(), target.clone());
    }
    let pins_file = write(tmp.path(), "pins.csv", &pins);
    let pinned = tmp.path().join("pinned");
    let o = solve(&pinned, Some(&pins_file));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Pins: 2 block(s)"));
    for (b, s) in assignments(&pinned) {
        if let Some(w) = wanted.get(&b) {
            assert_eq!(&s, w, "a pupil of pinned block {b} is not at its pin");
        }
    }
    let s = summary(&pinned);
    let total = s["walk"]["total_m"].as_u64().unwrap();
    assert!(total > free_total, "pins away from the optimum cost walk: {total} vs {free_total}");
    let p = &s["pins"];
    assert_eq!(p["blocks"], 2);
    assert_eq!(p["unpinned_optimum_m"].as_u64().unwrap(), free_total);
    assert_eq!(p["pinned_optimum_m"].as_u64().unwrap(), total);
    assert_eq!(p["cost_m"].as_u64().unwrap(), total - free_total);
    assert!(pinned.join("pins.csv").is_file());
    // The certificate holds given the pins: check applies them from the plan directory.
    let o = check(&pinned);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 pinned block(s)"));
    // Without the pins the same plan is not optimal: check would fail.
    std::fs::remove_file(pinned.join("pins.csv")).unwrap();
    let o = check(&pinned);
    assert!(!o.status.success(), "the pinned plan is not the free optimum");
}

#[test]
fn unknown_blocks_and_schools_in_the_pins_are_input_errors_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let pins = write(tmp.path(), "pins.csv", "block_id,school_id\nno-such-block,S01\nc11_46,S99\n");
    let o = solve(&tmp.path().join("out"), Some(&pins));
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pins.csv:2") && err.contains("no-such-block"), "{err}");
    assert!(err.contains("pins.csv:3") && err.contains("'S99'"), "{err}");
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn pins_that_overfill_a_school_are_infeasible_naming_the_school() {
    let tmp = tempfile::tempdir().unwrap();
    let pupils = std::fs::read_to_string(server::demo_dir().join("pupils.csv")).unwrap();
    let mut blocks: Vec<&str> =
        pupils.lines().skip(1).map(|l| l.split(',').nth(3).unwrap()).collect();
    blocks.sort();
    blocks.dedup();
    let mut pins = String::from("block_id,school_id\n");
    for b in &blocks {
        pins.push_str(&format!("{b},S01\n"));
    }
    let pins = write(tmp.path(), "pins.csv", &pins);
    let o = solve(&tmp.path().join("out"), Some(&pins));
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("S01") && err.contains("fixed school"), "{err}");
}
