//! Where to build (`catchment sites`, issue 16): the exact MIP, the heuristic and the
//! Lagrangian bound against every subset of candidates on tiny instances; site choices on a
//! synthetic town with some of its schools taken out as candidates, each k's plan checked as
//! `solve`'s plans are; input mistakes refused without pupil ids.

mod common;
#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use catchment::error::Error;
use catchment::routing::UNREACHABLE;
use catchment::sites::{self, Method};
use catchment::solve::facility::{Choice, Closures, Facility};
use catchment::solve::Problem;
use common::*;
use std::path::Path;

/// A small deterministic generator (xorshift), so the tiny instances need no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Pupils and sites on a line segment of 3 km: walks are distances (some pairs unreachable),
/// existing schools too small for everyone in some instances, candidates with costs.
fn tiny(seed: u64) -> Facility {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let n_p = 6 + r.below(9) as usize;
    let n_e = 1 + r.below(2) as usize;
    let n_c = 2 + r.below(4) as usize;
    let n_s = n_e + n_c;
    let pos_p: Vec<i64> = (0..n_p).map(|_| r.below(3000) as i64).collect();
    let pos_s: Vec<i64> = (0..n_s).map(|_| r.below(3000) as i64).collect();
    let mut cost = Vec::new();
    for &p in &pos_p {
        for &s in &pos_s {
            cost.push(if r.below(12) == 0 {
                UNREACHABLE
            } else {
                (p - s).unsigned_abs() as u32 + 50
            });
        }
    }
    let mut cap: Vec<u32> = (0..n_s).map(|_| 1 + r.below(n_p as u64 / 2 + 2) as u32).collect();
    // Sometimes the existing schools seat everyone, sometimes not.
    if r.below(2) == 0 {
        cap[0] = n_p as u32;
    }
    let mut fixed = vec![None; n_p];
    if r.below(3) == 0 && cost[0] != UNREACHABLE {
        fixed[0] = Some(0);
    }
    let with_costs = r.below(2) == 0;
    // A third of the instances plan for a second year's cohort too (same sites and seats).
    let mut more_years = Vec::new();
    if r.below(3) == 0 {
        let n_p2 = 4 + r.below(9) as usize;
        let mut cost2 = Vec::new();
        for _ in 0..n_p2 {
            let p = r.below(3000) as i64;
            for &s in &pos_s {
                cost2.push(if r.below(12) == 0 {
                    UNREACHABLE
                } else {
                    (p - s).unsigned_abs() as u32 + 50
                });
            }
        }
        more_years.push(Problem {
            n_schools: n_s,
            cap: cap.clone(),
            min: vec![0; n_s],
            cost: cost2,
            weight: vec![1; n_p2],
            fixed: vec![None; n_p2],
        });
    }
    Facility {
        problem: Problem {
            n_schools: n_s,
            cap,
            min: vec![0; n_s],
            cost,
            weight: vec![1; n_p],
            fixed,
        },
        more_years,
        n_existing: n_e,
        cost: (0..n_c).map(|_| if with_costs { (1 + r.below(5)) as f64 } else { 0.0 }).collect(),
        budget: with_costs.then(|| (2 + r.below(6)) as f64),
        closures: Closures::default(),
    }
}

/// No candidate open, no school closed: where the heuristic starts.
fn nothing() -> Choice {
    Choice { open: vec![], closed: vec![], walk: None }
}

#[test]
fn exact_heuristic_and_bounds_agree_with_every_subset_on_tiny_instances() {
    let mut compared = 0;
    for seed in 1..=60u64 {
        let f = tiny(seed);
        for k in 0..=3usize {
            let brute = f.brute_force(k).unwrap();
            let mip = f.mip(k, 60).unwrap();
            assert!(mip.proved, "seed {seed} k {k}: Cbc did not prove its answer");
            match brute.walk {
                None => {
                    assert!(
                        mip.choice.is_none(),
                        "seed {seed} k {k}: Cbc found a choice where no subset fits"
                    );
                    continue;
                }
                Some(best) => {
                    let c = mip.choice.as_ref().unwrap_or_else(|| {
                        panic!("seed {seed} k {k}: Cbc found no choice, subsets do ({best} m)")
                    });
                    assert_eq!(c.walk, Some(best), "seed {seed} k {k}: exact vs every subset");
                    assert!(
                        c.open.len() <= k && f.within_budget(&c.open, &c.closed),
                        "seed {seed} k {k}"
                    );
                    assert!(mip.bound <= best, "seed {seed} k {k}: Cbc's bound above the optimum");
                    let h = f.heuristic(k, &nothing()).unwrap();
                    assert!(
                        h.open.len() <= k && f.within_budget(&h.open, &h.closed),
                        "seed {seed} k {k}"
                    );
                    if let Some(hw) = h.walk {
                        assert!(hw >= best, "seed {seed} k {k}: heuristic below the optimum");
                        let by_year = f.walk_by_year(&h.open, &h.closed).unwrap().unwrap();
                        assert_eq!(by_year.iter().sum::<u64>(), hw);
                    }
                    let lag = f.lagrangian_bound(k, h.walk.or(Some(best)), 400);
                    assert!(
                        lag <= best,
                        "seed {seed} k {k}: Lagrangian bound {lag} > optimum {best}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 100, "only {compared} feasible cases compared");
    assert!((1..=60).filter(|&s| !tiny(s).more_years.is_empty()).count() >= 10);
}

/// The Lagrangian bound is not trivial: with every candidate allowed and capacities loose it
/// reaches the optimum (everyone at their nearest site) exactly.
#[test]
fn lagrangian_bound_is_tight_when_capacities_do_not_bind() {
    let f = Facility {
        problem: Problem {
            n_schools: 3,
            cap: vec![10, 10, 10],
            min: vec![0; 3],
            cost: vec![100, 900, 500, 800, 100, 700, 900, 800, 100, 500, 400, 300],
            weight: vec![1; 4],
            fixed: vec![None; 4],
        },
        more_years: Vec::new(),
        n_existing: 1,
        cost: vec![0.0, 0.0],
        budget: None,
        closures: Closures::default(),
    };
    let best = f.brute_force(2).unwrap().walk.unwrap();
    assert_eq!(best, 100 + 100 + 100 + 300);
    assert_eq!(f.lagrangian_bound(2, Some(best), 400), best);
    let one = f.brute_force(1).unwrap().walk.unwrap();
    let lag = f.lagrangian_bound(1, Some(one), 400);
    assert!(lag <= one && lag > 0, "{lag} vs {one}");
}

fn write_schools(path: &Path, schools: &[&catchment::School], cost: bool, scale: u32) {
    let mut t = String::from(if cost {
        "id,name,lat,lon,capacity,cost\n"
    } else {
        "id,name,lat,lon,capacity\n"
    });
    for (i, s) in schools.iter().enumerate() {
        t.push_str(&format!("{},{},{},{},{}", s.id, s.name, s.lat, s.lon, s.capacity * scale));
        if cost {
            t.push_str(&format!(",{}", 10 + 5 * i));
        }
        t.push('\n');
    }
    std::fs::write(path, t).unwrap();
}

/// A synthetic town of 300 pupils and 8 schools; 3 of them become candidates, the others'
/// seats multiplied by `scale`. Returns the paths of schools, pupils, matrix, candidates,
/// candidate matrix.
fn town(dir: &Path, cost: bool, scale: u32) -> [std::path::PathBuf; 5] {
    let t = dir.join("town");
    let town = synthetic::generate(300, 8, 5);
    synthetic::write(&t, &town).unwrap();
    let inst = &town.instance;
    let take = [1usize, 4, 6];
    let cur: Vec<&catchment::School> = inst
        .schools
        .iter()
        .enumerate()
        .filter(|(i, _)| !take.contains(i))
        .map(|(_, s)| s)
        .collect();
    let cand: Vec<&catchment::School> = take.iter().map(|&i| &inst.schools[i]).collect();
    let [s, c] = [dir.join("schools.csv"), dir.join("candidates.csv")];
    write_schools(&s, &cur, false, scale);
    write_schools(&c, &cand, cost, 1);
    // The matrix split by column: the generated walks, unchanged.
    let text = std::fs::read_to_string(t.join("matrix.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (mut a, mut b) = (format!("{header}\n"), format!("{header}\n"));
    let cand_ids: Vec<&str> = cand.iter().map(|s| s.id.as_str()).collect();
    for l in lines {
        let school = l.split(',').nth(1).unwrap();
        if cand_ids.contains(&school) { &mut b } else { &mut a }.push_str(&format!("{l}\n"));
    }
    let [m, cm] = [dir.join("matrix.csv"), dir.join("candidates-matrix.csv")];
    std::fs::write(&m, a).unwrap();
    std::fs::write(&cm, b).unwrap();
    [s, t.join("pupils.csv"), m, c, cm]
}

/// `sites.html`: every current school and candidate on the map, the sites chosen at the largest
/// k marked with the k first choosing each, the schools it closes crossed out, the walk per k;
/// nothing loaded from elsewhere and no pupil id anywhere.
fn assert_self_contained_map(
    html: &str,
    input: &sites::SitesInput,
    sites: &sites::Sites,
    pupils: &Path,
) {
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'")
    );
    for bad in ["http://", "https://", " src=", "href=", "url(", "@import"] {
        assert!(!html.contains(bad), "sites.html has {bad:?}");
    }
    for s in &input.inst.schools {
        assert!(html.contains(&format!("data-id=\"{}\"", s.id)), "school {}", s.id);
    }
    let last = sites.rows.iter().rev().find(|r| r.walk_m.is_some()).unwrap();
    assert!(!last.sites.is_empty());
    for c in &input.candidates {
        let chosen = last.sites.contains(&c.id);
        let marker = format!("chosen\" data-id=\"{}\"", c.id);
        assert!(html.contains(&format!("data-id=\"{}\"", c.id)), "candidate {}", c.id);
        assert_eq!(html.contains(&marker), chosen, "candidate {} chosen: {chosen}", c.id);
        if chosen {
            let k = sites.rows.iter().find(|r| r.sites.contains(&c.id)).unwrap().k;
            assert!(html.contains(&format!(">{} (k={k})</text>", c.id)), "{} first at k {k}", c.id);
        }
    }
    for s in &input.inst.schools {
        let crossed = format!("school closed\" data-id=\"{}\"", s.id);
        assert_eq!(html.contains(&crossed), last.closed.contains(&s.id), "{} crossed out", s.id);
    }
    // The walk per k: the numbers of sites.md.
    for r in &sites.rows {
        if let Some(w) = r.walk_m {
            assert!(html.contains(&format!("{:.1} km", w as f64 / 1000.0)), "k {}", r.k);
        }
    }
    let text = std::fs::read_to_string(pupils).unwrap();
    let ids: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert!(ids.len() > 100);
    for id in ids {
        assert!(!html.contains(id), "pupil {id} in sites.html");
    }
}

#[test]
fn sites_on_a_synthetic_town_exact_and_heuristic_with_plans_that_check() {
    let d = tempfile::tempdir().unwrap();
    let [s, p, m, c, cm] = town(d.path(), false, 2);
    let input = sites::load(&s, &p, &m, &c, &cm).unwrap();
    assert_eq!(input.candidates.len(), 3);
    let exact = sites::choose(&input, 3, None, Method::Exact, 120).unwrap();
    let heur = sites::choose(&input, 3, None, Method::Heuristic, 120).unwrap();
    assert_eq!(exact.rows.len(), 4);
    let f = sites::facility(&input, None).unwrap();
    for (k, (e, h)) in exact.rows.iter().zip(&heur.rows).enumerate() {
        let brute = f.brute_force(k).unwrap().walk;
        assert_eq!(e.walk_m, brute, "k {k}: exact vs every subset");
        assert_eq!(e.gap, Some(0.0), "k {k}: exact answers are proved");
        assert!(h.walk_m >= brute && h.bound_m.unwrap() <= brute.unwrap(), "k {k}");
        assert!(h.sites.len() <= k && e.sites.len() <= k);
    }
    // The walk never grows with more sites; the savings add up.
    for w in exact.rows.windows(2) {
        assert!(w[1].walk_m <= w[0].walk_m);
        assert_eq!(w[1].saved_m, Some(w[0].walk_m.unwrap() - w[1].walk_m.unwrap()));
    }
    // k = 0 is the plan `solve` gives on the current schools.
    let inst = catchment::read_instance(&s, &p).unwrap();
    let mat = catchment::routing::read_matrix(&m, &inst).unwrap();
    let plan = catchment::solve_plan(&inst, &mat, &catchment::Policy::default(), None).unwrap();
    assert_eq!(exact.rows[0].walk_m, Some(plan.objective));
    // Each chosen site's alternative walks at least as far as the choice.
    let k_alt = exact.alternatives_k;
    assert_eq!(exact.alternatives.len(), exact.rows[k_alt].sites.len());
    for a in &exact.alternatives {
        assert!(a.walk_m.is_none_or(|w| w >= exact.rows[k_alt].walk_m.unwrap()));
        assert!(a.walk_without_m >= exact.rows[k_alt].walk_m);
    }
    // Written: the comparison and every k's plan, which `check` verifies from its own files.
    let out = d.path().join("out");
    exact.write(&out).unwrap();
    let csv = std::fs::read_to_string(out.join("sites.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(std::fs::read_to_string(out.join("sites.md")).unwrap().contains("Almost as good"));
    // The map file: every school and candidate, the chosen ones with the first k choosing them.
    let gj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sites.geojson")).unwrap()).unwrap();
    let feats = gj["features"].as_array().unwrap();
    assert_eq!(feats.len(), input.inst.schools.len() + 3);
    for id in &exact.rows[3].sites {
        let f = feats.iter().find(|f| f["properties"]["id"] == id.as_str()).unwrap();
        let k = f["properties"]["chosen_at_k"].as_u64().unwrap() as usize;
        assert!(exact.rows[k].sites.contains(id) && !exact.rows[k - 1].sites.contains(id));
    }
    let html = std::fs::read_to_string(out.join("sites.html")).unwrap();
    assert_self_contained_map(&html, &input, &exact, &p);
    for (k, row) in exact.rows.iter().enumerate() {
        let dir = out.join("plans").join(format!("k{k}"));
        let o = bin().args(["check", "--pupils"]).arg(&p).arg("--plan").arg(&dir).output().unwrap();
        assert!(o.status.success(), "k{k}: {}", String::from_utf8_lossy(&o.stdout));
        let schools = std::fs::read_to_string(dir.join("schools.csv")).unwrap();
        for id in &row.sites {
            assert!(schools.lines().any(|l| l.starts_with(&format!("{id},"))), "k{k}: {id}");
        }
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["walk"]["total_m"].as_u64(), row.walk_m, "k{k}");
    }
}

#[test]
fn a_budget_limits_the_choice_and_the_cli_writes_the_directory() {
    let d = tempfile::tempdir().unwrap();
    // The current schools alone cannot seat every pupil: k = 0 has no plan.
    let [s, p, m, c, cm] = town(d.path(), true, 1);
    // Costs 10, 15, 20: a budget of 25 allows two sites only as 10 + 15.
    let input = sites::load(&s, &p, &m, &c, &cm).unwrap();
    let r = sites::choose(&input, 3, Some(25.0), Method::Exact, 120).unwrap();
    assert_eq!((r.rows[0].walk_m, r.rows[0].bound_m), (None, None));
    assert!(r.rows[2].walk_m.is_some(), "{:?}", r.rows);
    for row in &r.rows {
        assert!(row.cost <= 25.0, "{row:?}");
    }
    let f = sites::facility(&input, Some(25.0)).unwrap();
    assert_eq!(r.rows[3].walk_m, f.brute_force(3).unwrap().walk);
    let out = d.path().join("out");
    let o = bin()
        .arg("sites")
        .args(["--schools".as_ref(), s.as_os_str(), "--pupils".as_ref(), p.as_os_str()])
        .args(["--matrix".as_ref(), m.as_os_str(), "--candidates".as_ref(), c.as_os_str()])
        .args(["--candidate-matrix".as_ref(), cm.as_os_str()])
        .args(["--open", "2", "--budget", "25", "--method", "heuristic", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("| k | sites |"), "{stdout}");
    assert!(out.join("plans/k2/summary.json").is_file() && out.join("sites.csv").is_file());
    assert!(!out.join("plans/k0").exists(), "a plan for k = 0, which seats no one");
    assert!(stdout.contains("no plan fits"), "{stdout}");
    // Again into the same directory: it is catchment's output and is replaced.
    let again = bin()
        .arg("sites")
        .args(["--schools".as_ref(), s.as_os_str(), "--pupils".as_ref(), p.as_os_str()])
        .args(["--matrix".as_ref(), m.as_os_str(), "--candidates".as_ref(), c.as_os_str()])
        .args(["--candidate-matrix".as_ref(), cm.as_os_str(), "--open".as_ref(), "1".as_ref()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(!out.join("plans/k2").exists());
    let help = bin().args(["sites", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("Example:"));
}

#[test]
fn mistakes_in_the_candidates_are_refused_without_pupil_ids() {
    let d = tempfile::tempdir().unwrap();
    let [s, p, m, c, cm] = town(d.path(), false, 1);
    let input = sites::load(&s, &p, &m, &c, &cm).unwrap();
    let e = sites::choose(&input, 1, Some(10.0), Method::Auto, 10).unwrap_err();
    assert!(matches!(e, Error::Policy { .. }), "{e}");
    // A candidate with the id of a current school.
    let first_school = std::fs::read_to_string(&s).unwrap().lines().nth(1).unwrap().to_string();
    let mut text = std::fs::read_to_string(&c).unwrap();
    text.push_str(&format!("{first_school}\n"));
    let dup = d.path().join("dup.csv");
    std::fs::write(&dup, text).unwrap();
    let e = sites::load(&s, &p, &m, &dup, &cm).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("id of a current school"), "{e}");
    // A cost that is not a number.
    let bad = d.path().join("bad.csv");
    let text = std::fs::read_to_string(&c).unwrap().replace("capacity\n", "capacity,cost\n");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for (i, l) in lines.iter_mut().enumerate().skip(1) {
        l.push_str(if i == 1 { ",a lot" } else { ",5" });
    }
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let e = sites::load(&s, &p, &m, &bad, &cm).unwrap_err();
    assert!(e.to_string().contains("cost is not a number"), "{e}");
    // A candidate matrix missing a candidate: the matrix reader's own error; no pupil id.
    let short = d.path().join("short.csv");
    let text = std::fs::read_to_string(&cm).unwrap();
    let last_id = input.candidates.last().unwrap().id.clone();
    let kept: Vec<&str> =
        text.lines().filter(|l| l.split(',').nth(1) != Some(last_id.as_str())).collect();
    std::fs::write(&short, kept.join("\n") + "\n").unwrap();
    let e = sites::load(&s, &p, &m, &c, &short).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    let msg = e.to_string();
    for pupil in &input.inst.pupils {
        assert!(!msg.contains(&format!("'{}'", pupil.id)), "a pupil id in: {msg}");
    }
}

/// The least walk over every way to open new sites and add classes with at most `k` options,
/// each solved from files written for it (the school's seats raised by whole classes, the
/// chosen sites appended with their walks): independent of how `sites` models extensions.
fn enumerate_options(
    dir: &Path,
    [s, p, m, c, cm]: &[std::path::PathBuf; 5],
    ext: &[(String, u32)],
    k: usize,
) -> Option<u64> {
    let schools = std::fs::read_to_string(s).unwrap();
    let cands: Vec<String> =
        std::fs::read_to_string(c).unwrap().lines().skip(1).map(String::from).collect();
    let walks = std::fs::read_to_string(m).unwrap();
    let cwalks = std::fs::read_to_string(cm).unwrap();
    let mut best: Option<u64> = None;
    let n_ext: Vec<u32> = ext.iter().map(|e| e.1).collect();
    for mask in 0u32..(1 << cands.len()) {
        let mut add = vec![0u32; ext.len()];
        loop {
            let used = mask.count_ones() as usize + add.iter().sum::<u32>() as usize;
            if used <= k {
                let mut text = String::new();
                for (i, l) in schools.lines().enumerate() {
                    let f: Vec<&str> = l.split(',').collect();
                    match ext.iter().position(|e| e.0 == f[0]) {
                        Some(e) if i > 0 => {
                            let cap: u32 = f[4].parse().unwrap();
                            text += &format!(
                                "{},{},{},{},{}\n",
                                f[0],
                                f[1],
                                f[2],
                                f[3],
                                cap + 22 * add[e]
                            );
                        }
                        _ => text += &format!("{l}\n"),
                    }
                }
                let mut mtext = walks.clone();
                for (_, cl) in cands.iter().enumerate().filter(|(j, _)| mask & (1 << j) != 0) {
                    text += &format!("{cl}\n");
                    let id = cl.split(',').next().unwrap();
                    for l in cwalks.lines().skip(1).filter(|l| l.split(',').nth(1) == Some(id)) {
                        mtext += &format!("{l}\n");
                    }
                }
                let (fs, fm) = (dir.join("enum-schools.csv"), dir.join("enum-matrix.csv"));
                std::fs::write(&fs, text).unwrap();
                std::fs::write(&fm, mtext).unwrap();
                let inst = catchment::read_instance(&fs, p).unwrap();
                let mat = catchment::routing::read_matrix(&fm, &inst).unwrap();
                if let Ok(plan) =
                    catchment::solve_plan(&inst, &mat, &catchment::Policy::default(), None)
                {
                    best = Some(best.map_or(plan.objective, |b| b.min(plan.objective)));
                }
            }
            // Next combination of added classes.
            let mut i = 0;
            while i < add.len() && add[i] == n_ext[i] {
                add[i] = 0;
                i += 1;
            }
            if i == add.len() {
                break;
            }
            add[i] += 1;
        }
    }
    best
}

#[test]
fn extensions_are_extra_classes_and_equal_enumerating_every_choice() {
    let d = tempfile::tempdir().unwrap();
    // Seats as generated: the current schools alone do not seat every pupil.
    let files = town(d.path(), false, 1);
    let [s, p, m, c, cm] = &files;
    let ids: Vec<String> = std::fs::read_to_string(s)
        .unwrap()
        .lines()
        .skip(1)
        .take(2)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let ext = vec![(ids[0].clone(), 2u32), (ids[1].clone(), 1u32)];
    let e = d.path().join("extensions.csv");
    std::fs::write(&e, format!("school_id,classes\n{},2\n{},1\n", ids[0], ids[1])).unwrap();
    let input = sites::load_with(s, p, m, Some((c, cm)), Some(&e), &[]).unwrap();
    assert_eq!(input.candidates.len(), 3 + 3);
    let r = sites::choose(&input, 3, None, Method::Exact, 120).unwrap();
    for (k, row) in r.rows.iter().enumerate() {
        assert_eq!(row.walk_m, enumerate_options(d.path(), &files, &ext, k), "k {k}: {row:?}");
        if row.walk_m.is_some() {
            assert_eq!(row.gap, Some(0.0), "k {k}");
        }
    }
    // A plan with an extension: the school has more seats, no new school appears, and
    // `catchment check` verifies it.
    let out = d.path().join("out");
    r.write(&out).unwrap();
    for (k, _) in r.rows.iter().enumerate().filter(|(_, r)| r.walk_m.is_some()) {
        let dir = out.join("plans").join(format!("k{k}"));
        let o = bin().args(["check", "--pupils"]).arg(p).arg("--plan").arg(&dir).output().unwrap();
        assert!(o.status.success(), "k{k}: {}", String::from_utf8_lossy(&o.stdout));
        let schools = std::fs::read_to_string(dir.join("schools.csv")).unwrap();
        assert!(!schools.contains('+'), "an extension became a school of its own: {schools}");
    }
    // Extensions alone, from the command line.
    let o = bin()
        .arg("sites")
        .args(["--schools".as_ref(), s.as_os_str(), "--pupils".as_ref(), p.as_os_str()])
        .args(["--matrix".as_ref(), m.as_os_str(), "--extensions".as_ref(), e.as_os_str()])
        .args(["--open", "3", "--out"])
        .arg(d.path().join("ext-only"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(d.path().join("ext-only/sites.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    // Mistakes: an unknown school, and a cost on one kind of option only.
    std::fs::write(&e, "school_id,classes\nNOPE,1\n").unwrap();
    let err = sites::load_with(s, p, m, Some((c, cm)), Some(&e), &[]).unwrap_err();
    assert!(err.to_string().contains("'NOPE' is not a current school"), "{err}");
    std::fs::write(&e, format!("school_id,classes,cost\n{},1,5\n", ids[0])).unwrap();
    let err = sites::load_with(s, p, m, Some((c, cm)), Some(&e), &[]).unwrap_err();
    assert!(err.to_string().contains("give both or neither"), "{err}");
}

#[test]
fn a_longest_walk_limit_binds_the_choice_and_every_plan() {
    let d = tempfile::tempdir().unwrap();
    let [s, p, m, c, cm] = town(d.path(), false, 2);
    let mut input = sites::load(&s, &p, &m, &c, &cm).unwrap();
    let free = sites::choose(&input, 3, None, Method::Exact, 120).unwrap();
    // The longest walk of the plan without a new site: a limit just under it needs sites.
    let (_, inst0, m0, plan0) = &free.plans[0];
    let longest = (0..inst0.pupils.len())
        .map(|i| m0.get(i, plan0.assign[i] as usize).unwrap())
        .max()
        .unwrap();
    input.max_walk = Some(longest - 1);
    let limited = sites::choose(&input, 3, None, Method::Exact, 120).unwrap();
    let f = sites::facility(&input, None).unwrap();
    for (k, row) in limited.rows.iter().enumerate() {
        assert_eq!(row.walk_m, f.brute_force(k).unwrap().walk, "k {k}");
        if let (Some(w), Some(free_w)) = (row.walk_m, free.rows[k].walk_m) {
            assert!(w >= free_w, "k {k}: a limit cannot shorten the walk");
        }
    }
    assert!(limited.rows[0].walk_m.is_none() || limited.rows[0].walk_m > free.rows[0].walk_m);
    for (k, inst, mat, plan) in &limited.plans {
        for i in (0..inst.pupils.len()).filter(|&i| inst.pupils[i].fixed_school.is_none()) {
            let w = mat.get(i, plan.assign[i] as usize).unwrap();
            assert!(w < longest, "k {k}: a pupil walks {w} m, the limit is {}", longest - 1);
        }
    }
}

#[test]
fn several_cohorts_share_the_sites_and_equal_choosing_for_each_year_alone() {
    let d = tempfile::tempdir().unwrap();
    let [s, p, m, c, cm] = town(d.path(), false, 2);
    // Two cohorts from the town's pupils, each pupil at a block of its own; the walks keyed by
    // block, so one matrix serves both cohorts.
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let half = rows.len() / 2;
    let (a, b) = (d.path().join("year1.csv"), d.path().join("year2.csv"));
    let cols: Vec<&str> = header.split(',').filter(|&h| h != "block").collect();
    let keep: Vec<usize> =
        header.split(',').enumerate().filter(|(_, h)| *h != "block").map(|(i, _)| i).collect();
    for (path, part) in [(&a, &rows[..half]), (&b, &rows[half..])] {
        let mut t = format!("{},block\n", cols.join(","));
        for r in part {
            let f: Vec<&str> = r.split(',').collect();
            let kept: Vec<&str> = keep.iter().map(|&i| f[i]).collect();
            t += &format!("{},B{}\n", kept.join(","), f[0]);
        }
        std::fs::write(path, t).unwrap();
    }
    let by_block = |path: &Path, out: &Path| {
        let t = std::fs::read_to_string(path).unwrap();
        let mut o = String::new();
        for (i, l) in t.lines().enumerate() {
            o += &if i == 0 { l.replacen("pupil_id", "block_id", 1) } else { format!("B{l}") };
            o.push('\n');
        }
        std::fs::write(out, o).unwrap();
    };
    let (bm, bcm) = (d.path().join("bm.csv"), d.path().join("bcm.csv"));
    by_block(&m, &bm);
    by_block(&cm, &bcm);
    let input =
        sites::load_with(&s, &a, &bm, Some((&c, &bcm)), None, std::slice::from_ref(&b)).unwrap();
    assert_eq!(input.more_years.len(), 1);
    let exact = sites::choose(&input, 2, None, Method::Exact, 120).unwrap();
    let heur = sites::choose(&input, 2, None, Method::Heuristic, 120).unwrap();
    // Independently: each cohort alone, every subset of sites, the years' walks summed.
    let fa = sites::facility(&sites::load(&s, &a, &bm, &c, &bcm).unwrap(), None).unwrap();
    let fb = sites::facility(&sites::load(&s, &b, &bm, &c, &bcm).unwrap(), None).unwrap();
    for (k, (e, h)) in exact.rows.iter().zip(&heur.rows).enumerate() {
        let mut best: Option<u64> = None;
        for mask in 0u32..8 {
            if mask.count_ones() as usize > k {
                continue;
            }
            let set: Vec<usize> = (0..3).filter(|&i| mask >> i & 1 == 1).collect();
            let wa = fa.evaluate(&set, &[]).unwrap().map(|x| x.objective);
            let wb = fb.evaluate(&set, &[]).unwrap().map(|x| x.objective);
            if let (Some(x), Some(y)) = (wa, wb) {
                best = Some(best.map_or(x + y, |b| b.min(x + y)));
            }
        }
        assert_eq!(e.walk_m, best, "k {k}: several years vs each year alone");
        assert_eq!(e.gap, Some(0.0), "k {k}");
        assert_eq!(e.years_m.iter().sum::<u64>(), e.walk_m.unwrap(), "k {k}");
        assert!(h.walk_m >= e.walk_m && h.bound_m <= e.walk_m, "k {k}");
    }
    // Written: every year's plan, each verified by `catchment check`.
    let out = d.path().join("out");
    exact.write(&out).unwrap();
    let md = std::fs::read_to_string(out.join("sites.md")).unwrap();
    assert!(md.contains("Year by year") && md.contains("year2"), "{md}");
    let csv = std::fs::read_to_string(out.join("sites.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with("walk_year1_m,walk_year2_m"), "{csv}");
    for (pupils, dir) in [(&a, out.join("plans/k2")), (&b, out.join("plans/year2/k2"))] {
        let o =
            bin().args(["check", "--pupils"]).arg(pupils).arg("--plan").arg(&dir).output().unwrap();
        assert!(o.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&o.stdout));
    }
}

/// Over HTTP (`POST /v1/sites`): the same choice and files as `catchment sites` on the same
/// inputs, run as a job; a plan's assignments need a token; a mistake in an input is answered
/// 422 at once with the CLI's message, nothing queued.
#[test]
fn the_service_chooses_sites_as_the_cli_does() {
    use common::http::{get, post_json};
    use common::server::{wait_job, Server, READ, WRITE};
    let d = tempfile::tempdir().unwrap();
    let [s, p, m, c, cm] = town(d.path(), true, 2);
    // sites.html names the walks' files: the candidates' under the name the service gives it.
    let cm = {
        let named = d.path().join("candidate-matrix.csv");
        std::fs::rename(&cm, &named).unwrap();
        named
    };
    // One of two current schools closes, saving 5; the least longest walk first.
    let first: Vec<String> = std::fs::read_to_string(&s)
        .unwrap()
        .lines()
        .skip(1)
        .take(2)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let closures = d.path().join("closures.csv");
    std::fs::write(&closures, format!("school_id,saving\n{},5\n{},5\n", first[0], first[1]))
        .unwrap();
    let out = d.path().join("cli");
    let o = bin()
        .arg("sites")
        .args(["--schools".as_ref(), s.as_os_str(), "--pupils".as_ref(), p.as_os_str()])
        .args(["--matrix".as_ref(), m.as_os_str(), "--candidates".as_ref(), c.as_os_str()])
        .args(["--candidate-matrix".as_ref(), cm.as_os_str()])
        .args(["--closures".as_ref(), closures.as_os_str()])
        .args(["--close", "1", "--objective", "longest", "--budget", "30"])
        .args(["--open", "2", "--method", "heuristic", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let body = serde_json::json!({
        "schools": read(&s), "pupils": read(&p), "matrix": read(&m),
        "candidates": read(&c), "candidate_matrix": read(&cm),
        "closures": read(&closures), "close": 1, "objective": "longest", "budget": 30.0,
        "open": 2, "method": "heuristic",
    });
    let csv = read(&out.join("sites.csv"));
    assert!(csv.lines().next().unwrap().ends_with(",closed,longest_m,longest_bound_m"), "{csv}");
    let server = Server::start(&d.path().join("c.db"), &[]);
    let r = post_json(server.addr, "/v1/sites", Some(WRITE), body.to_string().as_bytes());
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/v1/sites/{id}").as_str()));
    let job = wait_job(server.addr, &id, std::time::Duration::from_secs(300));
    assert_eq!(
        (job["state"].as_str(), job["kind"].as_str()),
        (Some("done"), Some("sites")),
        "{job}"
    );
    let st = get(server.addr, &format!("/v1/sites/{id}"), Some(READ)).json();
    assert_eq!(st["state"], "done", "{st}");
    let links = st["files"].to_string();
    assert!(
        links.contains("plans/k2/districts.csv") || links.contains("plans/k2/summary.json"),
        "{links}"
    );
    for f in ["sites.csv", "sites.md", "sites.geojson", "sites.html", "plans/k2/assignments.csv"] {
        let r = get(server.addr, &format!("/v1/sites/{id}/files/{f}"), Some(READ));
        assert_eq!(r.status, 200, "{f}: {}", r.text());
        assert_eq!(r.text(), read(&out.join(f)), "{f} differs from the CLI's");
    }
    let r = get(server.addr, &format!("/v1/sites/{id}/files/plans/k2/assignments.csv"), None);
    assert_eq!(r.status, 401, "pupil assignments need a token");
    // A mistake: the CLI's message (file and line), 422, nothing queued.
    let mut broken = body.clone();
    broken["candidates"] = "id,name,lat,lon,capacity\nX,New,52.1,11.6,-3\n".into();
    let r = post_json(server.addr, "/v1/sites", Some(WRITE), broken.to_string().as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("candidates.csv"), "{}", r.text());
    let mut bad = body.clone();
    bad["objective"] = "shortest".into();
    let r = post_json(server.addr, "/v1/sites", Some(WRITE), bad.to_string().as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("objective"), "{}", r.text());
    let mut bad = body.clone();
    bad["method"] = "fastest".into();
    let r = post_json(server.addr, "/v1/sites", Some(WRITE), bad.to_string().as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("method"), "{}", r.text());
    assert_eq!(
        post_json(server.addr, "/v1/sites", Some(READ), body.to_string().as_bytes()).status,
        403
    );
    // The matrix may be left out only when the schools list none: then the service chooses
    // as the CLI does in a town with no school yet.
    let mut no_matrix = body.clone();
    no_matrix.as_object_mut().unwrap().remove("matrix");
    let r = post_json(server.addr, "/v1/sites", Some(WRITE), no_matrix.to_string().as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("no matrix"), "{}", r.text());
    let none = write(d.path(), "no-schools.csv", "id,name,lat,lon,capacity\n");
    let out = d.path().join("cli-new-town");
    let o = bin()
        .arg("sites")
        .args(["--schools".as_ref(), none.as_os_str(), "--pupils".as_ref(), p.as_os_str()])
        .args(["--candidates".as_ref(), c.as_os_str()])
        .args(["--candidate-matrix".as_ref(), cm.as_os_str()])
        .args(["--open", "2", "--method", "heuristic", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let body = serde_json::json!({
        "schools": read(&none), "pupils": read(&p),
        "candidates": read(&c), "candidate_matrix": read(&cm),
        "open": 2, "method": "heuristic",
    });
    let r = post_json(server.addr, "/v1/sites", Some(WRITE), body.to_string().as_bytes());
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let job = wait_job(server.addr, &id, std::time::Duration::from_secs(300));
    assert_eq!(job["state"].as_str(), Some("done"), "{job}");
    let r = get(server.addr, &format!("/v1/sites/{id}/files/sites.csv"), Some(READ));
    assert_eq!(r.text(), read(&out.join("sites.csv")));
    assert!(r.text().contains(sites::NO_SCHOOL_YET), "{}", r.text());
}

/// `tiny(seed)` with its first candidate made a current school, and the current schools
/// without fixed pupils allowed to close: exactly 0, 1 or 2 of them, or any number (then each
/// saves something when the candidates cost something, freeing budget).
fn tiny_closing(seed: u64) -> Facility {
    let mut f = tiny(seed);
    f.n_existing += 1;
    f.cost.remove(0);
    let fixed_to = |j: usize| f.years().any(|p| p.fixed.contains(&Some(j as u32)));
    let schools: Vec<usize> = (0..f.n_existing).filter(|&j| !fixed_to(j)).collect();
    let exactly = match seed % 4 {
        0 => None,
        n => Some((n as usize - 1).min(schools.len())),
    };
    let saving = (0..schools.len())
        .map(|i| if f.budget.is_some() { (1 + (seed as usize + i) % 3) as f64 } else { 0.0 })
        .collect();
    f.closures = Closures { schools, saving, exactly };
    f
}

#[test]
fn closures_exact_and_heuristic_agree_with_every_subset_on_tiny_instances() {
    let (mut compared, mut closing, mut freeing) = (0, 0, 0);
    for seed in 1..=60u64 {
        let f = tiny_closing(seed);
        for k in 0..=2usize {
            let brute = f.brute_force(k).unwrap();
            let mip = f.mip(k, 60).unwrap();
            assert!(mip.proved, "seed {seed} k {k}: Cbc did not prove its answer");
            let Some(best) = brute.walk else {
                assert!(mip.choice.is_none(), "seed {seed} k {k}: Cbc fits where no subset does");
                continue;
            };
            let c = mip.choice.as_ref().unwrap_or_else(|| panic!("seed {seed} k {k}: no choice"));
            assert_eq!(c.walk, Some(best), "seed {seed} k {k}: exact vs every subset");
            assert!(c.open.len() <= k && f.within_budget(&c.open, &c.closed), "seed {seed} k {k}");
            if let Some(n) = f.closures.exactly {
                assert_eq!(c.closed.len(), n, "seed {seed} k {k}: closures");
                let h = f.heuristic(k, &nothing()).unwrap();
                assert_eq!(h.closed.len(), n, "seed {seed} k {k}: heuristic's closures");
                assert!(h.open.len() <= k && f.within_budget(&h.open, &h.closed));
                assert!(h.walk.is_none_or(|w| w >= best), "seed {seed} k {k}: heuristic");
                // The walk evaluated on the schools left: the plan the closures give.
                assert_eq!(f.walk(&h.open, &h.closed).unwrap(), h.walk);
            } else if !c.closed.is_empty() {
                freeing += 1;
            }
            closing += usize::from(!c.closed.is_empty());
            assert!(mip.bound <= best, "seed {seed} k {k}: Cbc's bound above the optimum");
            let lag = f.lagrangian_bound(k, Some(best), 400);
            assert!(lag <= best, "seed {seed} k {k}: Lagrangian bound {lag} > optimum {best}");
            compared += 1;
        }
    }
    assert!(compared > 60 && closing > 20, "{compared} compared, {closing} with closures");
    assert!(freeing > 0, "no closure was chosen to free budget");
}

/// `catchment sites --closures`: exactly one of three current schools closes. Each k's
/// answer equals the least, over the school closed, of every way to open sites, each solved
/// from files written without that school.
#[test]
fn closures_equal_enumerating_every_school_closed_from_files() {
    let d = tempfile::tempdir().unwrap();
    let files = town(d.path(), false, 2);
    let [s, p, m, c, cm] = &files;
    let schools = std::fs::read_to_string(s).unwrap();
    let ids: Vec<String> =
        schools.lines().skip(1).take(3).map(|l| l.split(',').next().unwrap().into()).collect();
    let list = d.path().join("closures.csv");
    std::fs::write(&list, format!("school_id\n{}\n", ids.join("\n"))).unwrap();
    let opts = sites::Options { closures: Some(&list), close: Some(1), ..Default::default() };
    let input = sites::load_options(s, p, m, Some((c, cm)), opts, &[]).unwrap();
    let exact = sites::choose(&input, 2, None, Method::Exact, 120).unwrap();
    let heur = sites::choose(&input, 2, None, Method::Heuristic, 120).unwrap();
    for (k, (e, h)) in exact.rows.iter().zip(&heur.rows).enumerate() {
        let mut best: Option<u64> = None;
        for id in &ids {
            let without = d.path().join(format!("without-{id}.csv"));
            let text: String = schools
                .lines()
                .filter(|l| !l.starts_with(&format!("{id},")))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&without, text).unwrap();
            let walks = d.path().join(format!("without-{id}-matrix.csv"));
            let text: String = std::fs::read_to_string(m)
                .unwrap()
                .lines()
                .filter(|l| l.split(',').nth(1) != Some(id.as_str()))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&walks, text).unwrap();
            let f = [without, p.clone(), walks, c.clone(), cm.clone()];
            if let Some(w) = enumerate_options(d.path(), &f, &[], k) {
                best = Some(best.map_or(w, |b| b.min(w)));
            }
        }
        assert_eq!(e.walk_m, best, "k {k}: closing one school vs every school closed");
        assert_eq!((e.closed.len(), e.gap), (1, Some(0.0)), "k {k}: {e:?}");
        assert_eq!(h.closed.len(), 1, "k {k}");
        assert!(h.walk_m >= e.walk_m && h.bound_m <= e.walk_m, "k {k}");
    }
    // The plans leave the closed school out and check; the tables name it.
    let out = d.path().join("out");
    exact.write(&out).unwrap();
    let csv = std::fs::read_to_string(out.join("sites.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",closed"), "{csv}");
    let md = std::fs::read_to_string(out.join("sites.md")).unwrap();
    assert!(md.contains("Exactly 1 of the schools"), "{md}");
    let html = std::fs::read_to_string(out.join("sites.html")).unwrap();
    assert_self_contained_map(&html, &input, &exact, p);
    assert!(html.contains("school closed\""), "a school crossed out");
    for (k, row) in exact.rows.iter().enumerate() {
        let dir = out.join("plans").join(format!("k{k}"));
        let o = bin().args(["check", "--pupils"]).arg(p).arg("--plan").arg(&dir).output().unwrap();
        assert!(o.status.success(), "k{k}: {}", String::from_utf8_lossy(&o.stdout));
        let written = std::fs::read_to_string(dir.join("schools.csv")).unwrap();
        assert!(!written.lines().any(|l| l.starts_with(&format!("{},", row.closed[0]))));
        assert_eq!(written.lines().count(), schools.lines().count() - 1 + row.sites.len());
    }
    // Mistakes: more closures than listed, an unknown school (file and line), any number of
    // closures with the heuristic.
    let opts = sites::Options { closures: Some(&list), close: Some(4), ..Default::default() };
    let e = sites::load_options(s, p, m, Some((c, cm)), opts, &[]).unwrap_err();
    assert!(matches!(e, Error::Policy { .. }), "{e}");
    std::fs::write(&list, "school_id,saving\nNOPE,3\n").unwrap();
    let opts = sites::Options { closures: Some(&list), ..Default::default() };
    let e = sites::load_options(s, p, m, Some((c, cm)), opts, &[]).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("closures.csv:2") && msg.contains("NOPE"), "{msg}");
    std::fs::write(&list, format!("school_id\n{}\n", ids[0])).unwrap();
    let input = sites::load_options(s, p, m, Some((c, cm)), opts, &[]).unwrap();
    let e = sites::choose(&input, 1, None, Method::Heuristic, 10).unwrap_err();
    assert!(matches!(e, Error::Policy { .. }), "{e}");
}

/// `--objective longest`: the least longest walk for each k equals, over every subset of
/// sites, the least limit under which `solve` finds a plan, and the walk the least walk of a
/// subset under that limit; the heuristic's is never less, its bound never more.
#[test]
fn the_least_longest_walk_equals_every_subset_solved_under_limits() {
    let d = tempfile::tempdir().unwrap();
    let [s, p, m, c, cm] = town(d.path(), false, 2);
    let mut input = sites::load(&s, &p, &m, &c, &cm).unwrap();
    input.objective = sites::Objective::Longest;
    let exact = sites::choose(&input, 2, None, Method::Exact, 120).unwrap();
    let heur = sites::choose(&input, 2, None, Method::Heuristic, 120).unwrap();
    let solve = |set: &[usize], limit: u32| {
        let (inst, mat) = sites::instance_with(&input, set, &[]).unwrap();
        let policy = catchment::Policy { max_walk: Some(limit), ..Default::default() };
        catchment::solve_plan(&inst, &mat, &policy, None).ok().map(|p| p.objective)
    };
    for (k, (e, h)) in exact.rows.iter().zip(&heur.rows).enumerate() {
        let sets: Vec<Vec<usize>> = (0u32..8)
            .filter(|m| m.count_ones() as usize <= k)
            .map(|m| (0..3).filter(|&i| m >> i & 1 == 1).collect())
            .collect();
        let mut least = u32::MAX;
        for set in &sets {
            let (_, mat) = sites::instance_with(&input, set, &[]).unwrap();
            let mut v: Vec<u32> =
                mat.meters.iter().copied().filter(|&w| w != UNREACHABLE).collect();
            v.sort_unstable();
            v.dedup();
            // Bisection: the least value under which this subset has a plan.
            let (mut lo, mut hi) = (0, v.len() - 1);
            if solve(set, v[hi]).is_none() {
                continue;
            }
            while lo < hi {
                let mid = (lo + hi) / 2;
                if solve(set, v[mid]).is_some() {
                    hi = mid
                } else {
                    lo = mid + 1
                }
            }
            least = least.min(v[hi]);
        }
        let walk = sets.iter().filter_map(|set| solve(set, least)).min();
        assert_eq!(e.longest_m, Some(least), "k {k}: least longest walk");
        assert_eq!(e.longest_bound_m, Some(least), "k {k}: exact answers are proved");
        assert_eq!(e.walk_m, walk, "k {k}: least walk within the least longest walk");
        assert!(h.longest_m >= e.longest_m && h.longest_bound_m <= e.longest_m, "k {k}");
        assert!(h.longest_m != e.longest_m || h.walk_m >= e.walk_m, "k {k}");
    }
    assert!(exact.rows[2].longest_m < exact.rows[0].longest_m, "{:?}", exact.rows);
    // Every plan keeps to its row's longest walk and checks.
    for (k, inst, mat, plan) in &exact.plans {
        let longest = (0..inst.pupils.len())
            .map(|i| mat.get(i, plan.assign[i] as usize).unwrap())
            .max()
            .unwrap();
        assert_eq!(Some(longest), exact.rows[*k].longest_m, "k {k}");
    }
    let out = d.path().join("out");
    exact.write(&out).unwrap();
    let csv = std::fs::read_to_string(out.join("sites.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",longest_m,longest_bound_m"), "{csv}");
}

/// A scenario builds a site choice (`sites = { dir, k, candidates, candidate_matrix }`): row k
/// of `sites.csv` — its new sites added, its closed school closed — solves to that row's walk.
#[test]
fn a_scenario_builds_the_choice_of_a_sites_row() {
    let d = tempfile::tempdir().unwrap();
    let [s, p, m, c, cm] = town(d.path(), false, 2);
    let first = std::fs::read_to_string(&s).unwrap().lines().nth(1).unwrap().to_string();
    let id = first.split(',').next().unwrap();
    let list = d.path().join("closures.csv");
    std::fs::write(&list, format!("school_id\n{id}\n")).unwrap();
    let opts = sites::Options { closures: Some(&list), close: Some(1), ..Default::default() };
    let input = sites::load_options(&s, &p, &m, Some((&c, &cm)), opts, &[]).unwrap();
    let r = sites::choose(&input, 2, None, Method::Exact, 120).unwrap();
    let out = d.path().join("sites-out");
    r.write(&out).unwrap();
    let toml = d.path().join("scenarios.toml");
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    std::fs::write(
        &toml,
        format!(
            "[base]\nschools = {}\npupils = {}\nmatrix = {}\n\n[[scenario]]\nname = \"built\"\n\
             sites = {{ dir = {}, k = 2, candidates = {}, candidate_matrix = {} }}\n",
            q(&s),
            q(&p),
            q(&m),
            q(&out),
            q(&c),
            q(&cm)
        ),
    )
    .unwrap();
    let f = catchment::scenario::load(&toml).unwrap();
    let prepared = catchment::scenario::prepare(&f).unwrap();
    let built = prepared.iter().find(|x| x.name == "built").unwrap();
    let ids: Vec<&str> = built.loaded.inst.schools.iter().map(|x| x.id.as_str()).collect();
    assert!(!ids.contains(&id), "the closed school is still there: {ids:?}");
    for site in &r.rows[2].sites {
        assert!(ids.contains(&site.as_str()), "{site} not built: {ids:?}");
    }
    let plan = catchment::scenario::solve(built).unwrap();
    assert_eq!(Some(plan.plan.objective), r.rows[2].walk_m);
    // A row that does not exist: the file named.
    std::fs::write(&toml, std::fs::read_to_string(&toml).unwrap().replace("k = 2", "k = 7"))
        .unwrap();
    let f = catchment::scenario::load(&toml).unwrap();
    let e = catchment::scenario::prepare(&f).unwrap_err();
    assert!(e.to_string().contains("sites.csv") && e.to_string().contains("k = 7"), "{e}");
}
