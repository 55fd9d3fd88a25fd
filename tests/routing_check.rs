//! The routing check on a planted dangling footway: a block 150 m from its school whose walks
//! start on a footway that joins the network 2.5 km away. The check flags exactly that block
//! (not a block behind a river crossing, not the ordinary ones), writes it to
//! routing-check.csv and report.html (never into the council's files), and `--exclude-blocks`
//! takes it out of the next plan.

mod common;
use catchment::report::Summary;
use common::{bin, write};
use geo::{Distance, Haversine, Point};
use std::fmt::Write as _;
use std::path::Path;

const A: (f64, f64) = (52.1000, 11.6000);
const B: (f64, f64) = (52.1000, 11.6400);
/// The planted block: 150 m north of school A.
const X: (f64, f64) = (52.101349, 11.6000);
/// Across a river from A: 420 m away, 1.9 km on foot by the next bridge (an ordinary detour).
const Y: (f64, f64) = (52.0962, 11.6000);

fn straight(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

/// Schools, pupils (one per ordinary block, two in X of which one is fixed at A, one in Y),
/// blocks and the block matrix: ordinary walks 1.3 x the straight line + 80 m; X's walks 2.5 km
/// longer (2,700 m to A); Y's walk to A 1,900 m.
/// Returns the number of blocks.
fn case(dir: &Path) -> usize {
    write(
        dir,
        "schools.csv",
        "id,name,lat,lon,capacity\nA,School A,52.1,11.6,100\nB,School B,52.1,11.64,100\n",
    );
    let mut blocks = vec![("X".to_string(), X), ("Y".to_string(), Y)];
    for i in 0..5 {
        for j in 0..15 {
            let loc = (52.0985 + 0.0018 * i as f64, 11.5950 + 0.0029 * j as f64);
            if straight(loc, X) > 120.0 && straight(loc, Y) > 120.0 {
                blocks.push((format!("G{i:02}{j:02}"), loc));
            }
        }
    }
    let (mut b_csv, mut m_csv, mut p_csv) = (
        "block_id,lat,lon,residents\n".to_string(),
        "block_id,school_id,meters\n".to_string(),
        "id,lat,lon,block,fixed_school\n".to_string(),
    );
    for (id, loc) in &blocks {
        let _ = writeln!(b_csv, "{id},{:.6},{:.6},10", loc.0, loc.1);
        for (s, at) in [("A", A), ("B", B)] {
            let mut walk = (1.3 * straight(*loc, at) + 80.0).round() as u32;
            if id == "X" {
                walk += 2500;
                if s == "A" {
                    walk = 2700;
                }
            }
            if id == "Y" && s == "A" {
                walk = 1900;
            }
            let _ = writeln!(m_csv, "{id},{s},{walk}");
        }
        let _ = writeln!(p_csv, "P{id},{:.6},{:.6},{id},", loc.0, loc.1);
    }
    let _ = writeln!(p_csv, "PX2,{:.6},{:.6},X,A", X.0, X.1);
    write(dir, "blocks.csv", &b_csv);
    write(dir, "matrix.csv", &m_csv);
    write(dir, "pupils.csv", &p_csv);
    blocks.len()
}

fn solve(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut cmd = bin();
    cmd.arg("solve");
    for (flag, file) in
        [("--schools", "schools.csv"), ("--pupils", "pupils.csv"), ("--matrix", "matrix.csv")]
    {
        cmd.arg(flag).arg(dir.join(file));
    }
    cmd.args(extra).arg("--out").arg(dir.join(out)).output().unwrap()
}

fn summary(plan: &Path) -> Summary {
    serde_json::from_str(&std::fs::read_to_string(plan.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn the_planted_dangling_footway_is_flagged_alone_and_can_be_excluded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let n_blocks = case(dir);
    assert!(n_blocks > 60);
    let blocks = dir.join("blocks.csv");
    let o = solve(dir, "plan", &["--blocks", blocks.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan = dir.join("plan");

    // routing-check.csv: exactly the planted block, its walk to the school 150 m away.
    let rows: Vec<csv::StringRecord> = csv::Reader::from_path(plan.join("routing-check.csv"))
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!((&r[0], &r[1], &r[2], &r[3]), ("X", "detour_assigned", "A", "2700"));
    let straight_m: u32 = r[4].parse().unwrap();
    assert!((140..=160).contains(&straight_m), "straight line {straight_m}");
    assert_eq!(&r[5], "18.0");

    // summary.json: counts, no hint, the rule.
    let rc = summary(&plan).routing_check.expect("the routing check in summary.json");
    assert_eq!(
        (rc.unit.as_str(), rc.flagged, rc.detour_assigned, rc.detour_nearest),
        ("block", 1, 1, 0)
    );
    assert_eq!(rc.pupils_in_flagged, Some(2));
    assert_eq!(rc.checked, n_blocks, "every block of the city");
    assert!(rc.hints.is_empty(), "{:?}", rc.hints);
    assert!(rc.rule.contains("3 x straight line + 1000 m"));

    // report.html: the section and its table; the council's files know nothing of it.
    let html = std::fs::read_to_string(plan.join("report.html")).unwrap();
    let table = &html[html.find("<table id=\"routing-check-table\">").expect("the table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 2, "header and one finding");
    assert!(table.contains("<td class=\"t\">X</td>") && table.contains("2700 m"));
    for f in ["districts.csv", "streets.csv", "streets.html"] {
        if let Ok(text) = std::fs::read_to_string(plan.join(f)) {
            assert!(!text.contains("detour") && !text.contains("routing"), "{f}");
        }
    }
    // No pupil in the planner's file either.
    let check = std::fs::read_to_string(plan.join("routing-check.csv")).unwrap();
    assert!(!check.contains("PX"), "routing-check.csv names blocks, not pupils");

    // Exclude what the check found: X leaves the districts; its pupil without a fixed school
    // leaves the plan, the one fixed at A stays.
    let list = plan.join("routing-check.csv");
    let o = solve(
        dir,
        "plan2",
        &["--blocks", blocks.to_str().unwrap(), "--exclude-blocks", list.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan2 = dir.join("plan2");
    let rc = summary(&plan2).routing_check.unwrap();
    assert_eq!(rc.flagged, 0);
    let ex = rc.excluded.expect("excluded blocks in the summary");
    assert_eq!((ex.blocks, ex.pupils_left_out, ex.pupils_kept_fixed), (1, 1, 1));
    let districts = std::fs::read_to_string(plan2.join("districts.csv")).unwrap();
    assert!(!districts.lines().any(|l| l.starts_with("X,")));
    let assignments = std::fs::read_to_string(plan2.join("assignments.csv")).unwrap();
    assert!(assignments.contains("PX2,A,") && !assignments.contains("PX,"));
    assert_eq!(
        csv::Reader::from_path(plan2.join("routing-check.csv")).unwrap().records().count(),
        0
    );
    // The plan names the blocks it excluded, and `check` on the same files leaves their pupils
    // out as the solve did: from the list, or from a matrix whose sidecar names them.
    assert_eq!(
        std::fs::read_to_string(plan2.join("excluded-blocks.csv")).unwrap(),
        "block_id\nX\n"
    );
    let check = |matrix: &str| {
        let mut cmd = bin();
        cmd.arg("check");
        for (flag, file) in
            [("--schools", "schools.csv"), ("--pupils", "pupils.csv"), ("--matrix", matrix)]
        {
            cmd.arg(flag).arg(dir.join(file));
        }
        cmd.arg("--plan").arg(&plan2).output().unwrap()
    };
    let o = check("matrix.csv");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let full = std::fs::read_to_string(dir.join("matrix.csv")).unwrap();
    let without: String =
        full.lines().filter(|l| !l.starts_with("PX,")).map(|l| format!("{l}\n")).collect();
    write(dir, "kept.csv", &without);
    write(dir, "kept.csv.meta.json", r#"{"source": "routed", "left_out_excluded": ["PX"]}"#);
    let o = check("kept.csv");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // A solve reading that matrix leaves PX out too (its sidecar says why).
    let mut cmd = bin();
    cmd.arg("solve");
    for (flag, file) in
        [("--schools", "schools.csv"), ("--pupils", "pupils.csv"), ("--matrix", "kept.csv")]
    {
        cmd.arg(flag).arg(dir.join(file));
    }
    let o = cmd.arg("--out").arg(dir.join("plan-kept")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let assignments = std::fs::read_to_string(dir.join("plan-kept/assignments.csv")).unwrap();
    assert!(assignments.contains("PX2,A,") && !assignments.contains("PX,"));

    // A list naming a block the city does not have is refused (exit 3), naming file and line.
    let bad = write(dir, "bad.csv", "block_id\nX\nNOPE\n");
    let o = solve(
        dir,
        "plan3",
        &["--blocks", blocks.to_str().unwrap(), "--exclude-blocks", bad.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.csv:3") && err.contains("'NOPE' is not a block"), "{err}");
}

#[test]
fn without_blocks_the_check_counts_pupils_and_names_none() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let n_blocks = case(dir);
    let o = solve(dir, "plan", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan = dir.join("plan");
    let rc = summary(&plan).routing_check.unwrap();
    assert_eq!((rc.unit.as_str(), rc.flagged, rc.detour_assigned), ("pupil", 2, 2));
    assert_eq!(rc.checked, n_blocks + 1, "every pupil: one per block, two in X");
    assert!(!plan.join("routing-check.csv").exists(), "no per-pupil file");
    let text = std::fs::read_to_string(plan.join("summary.json")).unwrap();
    assert!(!text.contains("PX"), "summary.json names no pupil");
}
