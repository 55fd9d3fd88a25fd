//! The command line end to end: infeasibility diagnosis, determinism, `check` on good and
//! hand-broken plans, the demo.

mod common;
#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use common::*;
use std::path::{Path, PathBuf};

fn solve(
    dir: &Path,
    schools: &Path,
    pupils: &Path,
    matrix: &Path,
    out: &str,
) -> (std::process::Output, PathBuf) {
    let out = dir.join(out);
    let o = bin()
        .arg("solve")
        .arg("--schools")
        .arg(schools)
        .arg("--pupils")
        .arg(pupils)
        .arg("--matrix")
        .arg(matrix)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    (o, out)
}

fn check(dir: &Path, plan: &Path) -> (bool, String) {
    let o = bin()
        .arg("check")
        .arg("--schools")
        .arg(dir.join("schools.csv"))
        .arg("--pupils")
        .arg(dir.join("pupils.csv"))
        .arg("--matrix")
        .arg(dir.join("matrix.csv"))
        .arg("--plan")
        .arg(plan)
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned())
}

fn infeasible(schools: &str, pupils: &str, matrix: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "schools.csv", schools);
    let p = write(d.path(), "pupils.csv", pupils);
    let m = write(d.path(), "matrix.csv", matrix);
    let (o, out) = solve(d.path(), &s, &p, &m, "plan");
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn full_matrix(pupils: &[&str], schools: &[&str], f: impl Fn(&str, &str) -> String) -> String {
    let mut s = String::from("pupil_id,school_id,meters\n");
    for p in pupils {
        for sc in schools {
            s.push_str(&format!("{p},{sc},{}\n", f(p, sc)));
        }
    }
    s
}

#[test]
fn infeasibility_is_diagnosed_with_schools_pupils_and_amounts() {
    let pupils = "id,lat,lon\n1,52,11\n2,52,11\n3,52,11\n";
    let m = full_matrix(&["1", "2", "3"], &["A", "B"], |_, _| "100".into());
    // Fewer seats than pupils.
    let e = infeasible("id,name,lat,lon,capacity\nA,a,52,11,1\nB,b,52,11,1\n", pupils, &m);
    assert!(e.contains("3 pupils but only 2 seats in all schools: short by 1"), "{e}");
    // Minimums above the pupils.
    let e = infeasible(
        "id,name,lat,lon,capacity,min_pupils\nA,a,52,11,3,2\nB,b,52,11,3,2\n",
        pupils,
        &m,
    );
    assert!(e.contains("minimums add up to 4 pupils but there are only 3: over by 1"), "{e}");
    // A fixed school over capacity.
    let e = infeasible(
        "id,name,lat,lon,capacity\nA,a,52,11,1\nB,b,52,11,5\n",
        "id,lat,lon,fixed_school\n1,52,11,A\n2,52,11,A\n3,52,11,\n",
        &m,
    );
    assert!(
        e.contains("school 'A' has 2 pupils with it as fixed school but only 1 seats: over by 1"),
        "{e}"
    );
    // A pupil with no allowed school.
    let m2 = full_matrix(&["1", "2", "3"], &["A", "B"], |p, _| {
        if p == "2" {
            "unreachable".into()
        } else {
            "100".into()
        }
    });
    let e = infeasible("id,name,lat,lon,capacity\nA,a,52,11,3\nB,b,52,11,3\n", pupils, &m2);
    assert!(e.contains("1 pupil(s) have no allowed school") && e.contains("'2'"), "{e}");
    // Enough seats overall, but pupils 1 and 2 can only reach A with one seat.
    let m3 = full_matrix(&["1", "2", "3"], &["A", "B"], |p, s| {
        if p != "3" && s == "B" {
            "unreachable".into()
        } else {
            "100".into()
        }
    });
    let e = infeasible("id,name,lat,lon,capacity\nA,a,52,11,1\nB,b,52,11,5\n", pupils, &m3);
    // The message counts the pupils; the operator is told their ids on a line of their own.
    assert!(
        e.contains("2 pupil(s) can only reach school(s) 'A' with 1 free seat(s): short by 1"),
        "{e}"
    );
    assert!(e.contains("pupils (reachable_seats): '1', '2'"), "{e}");
}

#[test]
fn max_walk_makes_pairs_unavailable() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    let o = bin()
        .arg("solve")
        .args([
            "--schools",
            s.to_str().unwrap(),
            "--pupils",
            p.to_str().unwrap(),
            "--matrix",
            m.to_str().unwrap(),
        ])
        .args(["--max-walk", "50", "--out"])
        .arg(d.path().join("plan"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no allowed school"));
}

#[test]
fn same_input_gives_identical_bytes() {
    let d = tempfile::tempdir().unwrap();
    let town = synthetic::generate(300, 8, 11);
    synthetic::write(&d.path().join("town"), &town).unwrap();
    let t = d.path().join("town");
    let (a, out_a) =
        solve(d.path(), &t.join("schools.csv"), &t.join("pupils.csv"), &t.join("matrix.csv"), "a");
    let (b, out_b) =
        solve(d.path(), &t.join("schools.csv"), &t.join("pupils.csv"), &t.join("matrix.csv"), "b");
    assert!(a.status.success() && b.status.success());
    for f in ["assignments.csv", "schools.csv", "certificate.json"] {
        assert_eq!(
            std::fs::read(out_a.join(f)).unwrap(),
            std::fs::read(out_b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    // summary.json differs only in its timing.
    let strip = |p: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap())
                .unwrap();
        v.as_object_mut().unwrap().remove("timing");
        v
    };
    assert_eq!(strip(&out_a), strip(&out_b));
    // The generator is deterministic too.
    let again = synthetic::generate(300, 8, 11);
    assert_eq!(town.matrix, again.matrix);
    assert_eq!(town.instance, again.instance);
}

/// Solve the small instance, then break the plan by hand in several ways.
#[test]
fn check_accepts_solved_plans_and_rejects_broken_ones() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    let (o, plan) = solve(d.path(), &s, &p, &m, "plan");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (ok, text) = check(d.path(), &plan);
    assert!(ok, "{text}");
    assert!(text.contains("feasible and optimal"));

    let assignments = std::fs::read_to_string(plan.join("assignments.csv")).unwrap();
    let copy = |name: &str, edit: &dyn Fn(String) -> String, cert: &dyn Fn(String) -> String| {
        let dir = d.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(plan.join("summary.json"), dir.join("summary.json")).unwrap();
        std::fs::write(dir.join("assignments.csv"), edit(assignments.clone())).unwrap();
        std::fs::write(
            dir.join("certificate.json"),
            cert(std::fs::read_to_string(plan.join("certificate.json")).unwrap()),
        )
        .unwrap();
        dir
    };
    let rows: Vec<(String, String)> = assignments
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    let simple = |rows: &[(String, String)]| {
        let mut s = String::from("pupil_id,school_id\n");
        for (p, sc) in rows {
            s.push_str(&format!("{p},{sc}\n"));
        }
        s
    };
    // 0. Without a readable summary.json the policy is unknown: check refuses to judge.
    let blind = copy("blind", &|a| a, &|c| c);
    std::fs::remove_file(blind.join("summary.json")).unwrap();
    let check_blind = || {
        bin()
            .args(["check", "--schools"])
            .arg(&s)
            .arg("--pupils")
            .arg(&p)
            .arg("--matrix")
            .arg(&m)
            .arg("--plan")
            .arg(&blind)
            .output()
            .unwrap()
    };
    let o = check_blind();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("summary.json"));
    std::fs::write(blind.join("summary.json"), "{ not json").unwrap();
    let o = check_blind();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the plan's policy is unknown"));

    // 1. A pupil moved to a worse school with a free seat: feasible, but not optimal.
    //    Find a pupil whose school can be swapped into one with spare capacity.
    let loads = |rows: &[(String, String)], s: &str| rows.iter().filter(|r| r.1 == s).count();
    let spare = ["A", "B", "C"].into_iter().find(|s| loads(&rows, s) < 2).unwrap();
    let mut worse = rows.clone();
    let victim = worse.iter().position(|r| r.1 != spare).unwrap();
    worse[victim].1 = spare.to_string();
    let dir = copy("worse", &|_| simple(&worse), &|c| c);
    let (ok, text) = check(d.path(), &dir);
    assert!(!ok);
    assert!(text.contains("the plan is not optimal: moving pupil"), "{text}");
    assert!(text.contains("states an objective of"), "{text}");

    // 2. A school over capacity.
    let mut over = rows.clone();
    for r in over.iter_mut() {
        r.1 = "A".into();
    }
    let dir = copy("over", &|_| simple(&over), &|c| c);
    let (ok, text) = check(d.path(), &dir);
    assert!(!ok);
    assert!(text.contains("school 'A' is over capacity: 5 pupils for 2 seats"), "{text}");

    // 3. An objective that does not add up.
    let dir = copy("objective", &|a| a, &|c| {
        let mut v: serde_json::Value = serde_json::from_str(&c).unwrap();
        let o = v["objective_m"].as_u64().unwrap();
        v["objective_m"] = serde_json::json!(o + 1);
        v.to_string()
    });
    let (ok, text) = check(d.path(), &dir);
    assert!(!ok);
    assert!(text.contains("objective:  FAILED"), "{text}");
    assert!(text.contains("optimal:    ok"), "{text}");

    // 4. Prices that prove nothing.
    let dir = copy("prices", &|a| a, &|c| {
        let mut v: serde_json::Value = serde_json::from_str(&c).unwrap();
        for p in v["prices"].as_array_mut().unwrap() {
            p["price_m"] = serde_json::json!(-100000);
        }
        v.to_string()
    });
    let (ok, text) = check(d.path(), &dir);
    assert!(!ok);
    assert!(text.contains("prices:     FAILED"), "{text}");

    // 5. A pupil missing from the plan.
    let dir = copy("missing", &|_| simple(&rows[1..]), &|c| c);
    let (ok, text) = check(d.path(), &dir);
    assert!(!ok);
    assert!(
        text.contains("1 pupil(s) of the pupils file have no row in assignments.csv"),
        "{text}"
    );
    assert!(text.contains("rows:       FAILED"), "{text}");
    assert!(text.contains("feasible:   not checked"), "{text}");
}

#[test]
fn demo_runs_and_checks_its_plan() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("demo");
    let o = bin()
        .arg("demo")
        .arg("--out")
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains("Independent check (catchment check): feasible and optimal"),
        "{stdout}"
    );
    for f in ["summary.json", "assignments.csv", "schools.csv", "certificate.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The published districts of the Magdeburg case: street list, map, report with the
    // comparison against the hand-drawn proxy.
    for f in [
        "districts.csv",
        "districts.geojson",
        "streets.csv",
        "split-streets.csv",
        "streets.html",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
        assert!(stdout.contains(&format!("Published: {}", out.join(f).display())), "{stdout}");
    }
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Hand-drawn proxy"), "the demo's report compares with the proxy");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["pupils"], 2159);
    assert_eq!(summary["solver"]["unit"], "pupil");
    assert!(summary["distance_source"].as_str().unwrap().contains("OSRM foot"));
    // Whole-block districts of the same case.
    let out2 = d.path().join("demo2");
    let o = bin()
        .args(["demo", "--unit", "block", "--out"])
        .arg(&out2)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("Independent check (catchment check): feasible, blocks whole"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["solver"]["unit"], "block");
    assert!(summary["solver"]["gap_pct"].as_f64().unwrap() >= 0.0);
    // Contiguous districts, as `scripts/demo` publishes them: one piece per school, within
    // the seats, checked, with the gap to the certified pupil-level optimum.
    let out3 = d.path().join("demo3");
    let o = bin()
        .args(["demo", "--contiguous", "--split-street-cost", "1000", "--out"])
        .arg(&out3)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("Contiguous districts walk"), "{stdout}");
    assert!(stdout.contains("Independent check (catchment check): feasible"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out3.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["solver"]["contiguous"], true);
    assert_eq!(summary["solver"]["split_street_cost_m"], 1000);
    assert!(summary["solver"]["gap_pct"].as_f64().unwrap() >= 0.0);
    let per_school = summary["districts"]["per_school"].as_array().unwrap();
    assert_eq!(per_school.len(), 33);
    assert!(per_school.iter().all(|s| s["pieces"] == 1), "{}", summary["districts"]);
    assert!(summary["per_school"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["load"].as_u64().unwrap() <= s["capacity"].as_u64().unwrap()));
}

#[test]
fn help_has_examples() {
    let o = bin().arg("--help").output().unwrap();
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("Examples:") && t.contains("catchment solve"));
}

/// Issue 19, item 9: `check` recomputes every figure a plan publishes. Each falsified figure
/// (summary.json totals and flags, schools.csv loads, the meters of assignments.csv,
/// certificate.json's optimal flag) fails with exit code 5, naming the figure; repeated or
/// unknown pupil rows fail on the rows' status line; the policy (a maximum walk read from the
/// plan) is printed and the verdict is qualified by it.
#[test]
fn check_recomputes_every_published_figure_and_names_the_policy() {
    let d = tempfile::tempdir().unwrap();
    let (s, p, m) = small_instance(d.path());
    let o = bin()
        .args(["solve", "--max-walk", "900", "--schools"])
        .arg(&s)
        .arg("--pupils")
        .arg(&p)
        .arg("--matrix")
        .arg(&m)
        .arg("--out")
        .arg(d.path().join("plan"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan = d.path().join("plan");
    let run = |dir: &Path| {
        let o = bin()
            .args(["check", "--schools"])
            .arg(&s)
            .arg("--pupils")
            .arg(&p)
            .arg("--matrix")
            .arg(&m)
            .arg("--plan")
            .arg(dir)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (code, text) = run(&plan);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("policy:     max_walk 900 m"), "{text}");
    assert!(text.contains("optimal under its policy (max_walk 900 m"), "{text}");
    assert!(text.contains("figures:    ok"), "{text}");

    let json = |v: &mut serde_json::Value,
                path: &[&str],
                f: &dyn Fn(&serde_json::Value) -> serde_json::Value| {
        let mut x = v;
        for k in path {
            x = match k.parse::<usize>() {
                Ok(i) => &mut x[i],
                Err(_) => &mut x[*k],
            };
        }
        *x = f(x);
    };
    let plus_one = |x: &serde_json::Value| serde_json::json!(x.as_u64().unwrap() + 1);
    type Edit = Box<dyn Fn(String) -> String>;
    let falsified: Vec<(&str, &str, Edit, &str)> = vec![
        (
            "summary total",
            "summary.json",
            Box::new(move |t| {
                let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
                json(&mut v, &["walk", "total_m"], &plus_one);
                v.to_string()
            }),
            "summary.json: walk.total_m says",
        ),
        (
            "summary objective",
            "summary.json",
            Box::new(move |t| {
                let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
                json(&mut v, &["solver", "objective_m"], &plus_one);
                v.to_string()
            }),
            "summary.json: solver.objective_m says",
        ),
        (
            "summary optimal",
            "summary.json",
            Box::new(move |t| {
                let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
                json(&mut v, &["solver", "optimal"], &|_| serde_json::json!(false));
                v.to_string()
            }),
            "summary.json: solver.optimal says false",
        ),
        (
            "summary load",
            "summary.json",
            Box::new(move |t| {
                let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
                json(&mut v, &["per_school", "0", "load"], &plus_one);
                v.to_string()
            }),
            "summary.json: per_school['A'].load says",
        ),
        (
            "summary classes",
            "summary.json",
            Box::new(move |t| {
                let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
                json(&mut v, &["classes", "total"], &plus_one);
                v.to_string()
            }),
            "summary.json: classes.total says",
        ),
        (
            "summary max walk",
            "summary.json",
            Box::new(move |t| {
                let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
                json(&mut v, &["walk", "max_m"], &plus_one);
                v.to_string()
            }),
            "summary.json: walk.max_m says",
        ),
        (
            "schools load",
            "schools.csv",
            Box::new(|t: String| {
                let mut lines: Vec<String> = t.lines().map(String::from).collect();
                let mut f: Vec<String> = lines[1].split(',').map(String::from).collect();
                f[4] = (f[4].parse::<u64>().unwrap() + 1).to_string();
                lines[1] = f.join(",");
                lines.join("\n") + "\n"
            }),
            "schools.csv:2: load of school 'A' says",
        ),
        (
            "meters",
            "assignments.csv",
            Box::new(|t: String| {
                let mut lines: Vec<String> = t.lines().map(String::from).collect();
                let mut f: Vec<String> = lines[1].split(',').map(String::from).collect();
                f[2] = "1".into();
                lines[1] = f.join(",");
                lines.join("\n") + "\n"
            }),
            "assignments.csv:2: meters says '1'",
        ),
        (
            "certificate optimal",
            "certificate.json",
            Box::new(|t: String| t.replace("\"optimal\": true", "\"optimal\": false")),
            "certificate.json: optimal says false",
        ),
        (
            "duplicate row",
            "assignments.csv",
            Box::new(|t: String| {
                let second = t.lines().nth(1).unwrap().to_string();
                format!("{t}{second}\n")
            }),
            "the pupil appears twice (first on line 2)",
        ),
        (
            "unknown row",
            "assignments.csv",
            Box::new(|t: String| format!("{t}nobody,A,1,,A,1,0,\n")),
            "unknown pupil (not in the pupils file)",
        ),
    ];
    for (what, file, edit, says) in falsified {
        let dir = d.path().join(what.replace(' ', "-"));
        std::fs::create_dir(&dir).unwrap();
        for e in std::fs::read_dir(&plan).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        std::fs::write(dir.join(file), edit(text)).unwrap();
        let (code, out) = run(&dir);
        assert_eq!(code, Some(5), "{what}: {out}");
        assert!(out.contains(says), "{what}: lacks {says:?}:\n{out}");
        if what.ends_with("row") {
            assert!(out.contains("rows:       FAILED"), "{what}: {out}");
        } else {
            assert!(out.contains("figures:    FAILED"), "{what}: {out}");
        }
    }
}
