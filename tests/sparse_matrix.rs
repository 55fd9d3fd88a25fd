//! `catchment solve --nearest K` on a partial matrix (each pupil's K nearest schools by
//! straight line, the other pairs left out of the file): the same total walk as the dense
//! solve of the full matrix, a plan `catchment check` accepts against every pair, and a clear
//! policy error (exit 3, the flag named, counts) when K is too small to prove the plan.

mod common;
#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use common::*;
use std::path::{Path, PathBuf};
use synthetic::Family;

/// Write the town, and `matrix-nearest-K.csv` (as `catchment-dataset synthetic
/// --sparse-matrix K` does): each pupil's `k` nearest schools by the generator's own straight
/// line, every other pair left out.
fn town_with_partial(dir: &Path, town: &synthetic::Town, k: usize) -> PathBuf {
    synthetic::write(&dir.join("town"), town).unwrap();
    let path = synthetic::write_nearest(&dir.join("town"), town, k).unwrap();
    let rows = std::fs::read_to_string(&path).unwrap().lines().count() - 1;
    assert_eq!(rows, town.instance.pupils.len() * k.min(town.instance.schools.len()));
    path
}

fn solve(dir: &Path, matrix: &Path, nearest: Option<usize>, out: &str) -> std::process::Output {
    let t = dir.join("town");
    let mut c = bin();
    c.arg("solve")
        .arg("--schools")
        .arg(t.join("schools.csv"))
        .arg("--pupils")
        .arg(t.join("pupils.csv"))
        .arg("--matrix")
        .arg(matrix)
        .arg("--out")
        .arg(dir.join(out));
    if let Some(k) = nearest {
        c.args(["--nearest", &k.to_string()]);
    }
    c.output().unwrap()
}

fn summary(dir: &Path, out: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(out).join("summary.json")).unwrap())
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The pairs file given is a fraction of the full one, and the plan it gives is the dense
/// plan's total, certified against the full matrix by the independent checker.
#[test]
fn nearest_k_gives_the_dense_total_and_check_accepts_it() {
    for (family, n, m, seed, k) in
        [(Family::Clustered, 800, 16, 3, 6), (Family::Tight, 1200, 20, 5, 8)]
    {
        let d = tempfile::tempdir().unwrap();
        let town = synthetic::generate_family(n, m, seed, family);
        let partial = town_with_partial(d.path(), &town, k);
        let full = d.path().join("town").join("matrix.csv");
        assert!(
            std::fs::metadata(&partial).unwrap().len() * 2
                < std::fs::metadata(&full).unwrap().len(),
            "the partial matrix leaves most pairs out"
        );
        let o = solve(d.path(), &full, None, "dense");
        assert!(o.status.success(), "{}", stderr(&o));
        let o = solve(d.path(), &partial, Some(k), "sparse");
        assert!(o.status.success(), "{family:?}: {}", stderr(&o));
        let (dense, sparse) = (summary(d.path(), "dense"), summary(d.path(), "sparse"));
        assert_eq!(dense["solver"]["objective_m"], sparse["solver"]["objective_m"], "{family:?}");
        assert!(sparse["solver"]["objective_m"].as_u64().unwrap() > 0);
        assert!(
            sparse["solver"]["name"].as_str().unwrap_or_default().contains("partial")
                || sparse.to_string().contains("partial matrix"),
            "{sparse}"
        );
        // The independent checker, against every pair of the full matrix.
        let t = d.path().join("town");
        let c = bin()
            .arg("check")
            .arg("--schools")
            .arg(t.join("schools.csv"))
            .arg("--pupils")
            .arg(t.join("pupils.csv"))
            .arg("--matrix")
            .arg(&full)
            .arg("--plan")
            .arg(d.path().join("sparse"))
            .output()
            .unwrap();
        assert!(c.status.success(), "{}{}", String::from_utf8_lossy(&c.stdout), stderr(&c));
        // Without --nearest the same partial file is refused: pairs are missing.
        let o = solve(d.path(), &partial, None, "refused");
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains("pairs are missing"), "{}", stderr(&o));
    }
}

/// One nearest school per pupil: too few to prove the plan (or even a plan within the seats).
/// The error is the policy's (exit 3), names the flag, counts what lacks a proof and suggests
/// a larger K, and names no pupil.
#[test]
fn too_few_nearest_schools_is_a_policy_error_with_counts() {
    for (family, seed) in [(Family::Tight, 7), (Family::Loose, 8)] {
        let d = tempfile::tempdir().unwrap();
        let town = synthetic::generate_family(600, 12, seed, family);
        let partial = town_with_partial(d.path(), &town, 1);
        let o = solve(d.path(), &partial, Some(1), "plan");
        assert_eq!(o.status.code(), Some(3), "{family:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("--nearest"), "{e}");
        assert!(e.contains("nearest schools"), "{e}");
        assert!(!d.path().join("plan").exists());
        for p in &town.instance.pupils {
            assert!(!e.contains(&format!("'{}'", p.id)), "a pupil id in the message: {e}");
        }
        // The suggestion is a larger K that the message states as a number.
        let suggested: Vec<usize> = e
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .filter(|&v: &usize| v > 1 && v <= 12)
            .collect();
        assert!(!suggested.is_empty(), "{e}");
    }
}

/// A pupil with no pair at all, and a K of 0: refused before any solve.
#[test]
fn a_pupil_without_pairs_and_k_zero_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let town = synthetic::generate_family(300, 8, 2, Family::Loose);
    let partial = town_with_partial(d.path(), &town, 3);
    let text = std::fs::read_to_string(&partial).unwrap();
    let first = &town.instance.pupils[0].id;
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{first},")))
        .map(|l| format!("{l}\n"))
        .collect();
    let without = write(d.path(), "without.csv", &kept);
    assert!(kept.len() < text.len());
    let o = solve(d.path(), &without, Some(3), "plan");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--nearest"), "{}", stderr(&o));
    let o = solve(d.path(), &partial, Some(0), "plan0");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}
