//! Evaluating an edit of a plan: `catchment evaluate` and `POST /v1/plans/{id}/evaluate` give
//! the same figures for the same moves, equal to the moved plan evaluated from scratch (every
//! pupil's walk from the matrix); versions are kept read-only and compared block by block.

mod common;
use common::http::{get, post_json};
use common::server::{demo_dir, Server, READ, WRITE};
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn solve_demo(out: &Path) {
    let d = demo_dir();
    let o = bin()
        .arg("solve")
        .arg("--schools")
        .arg(d.join("schools.csv"))
        .arg("--pupils")
        .arg(d.join("pupils.csv"))
        .arg("--matrix")
        .arg(d.join("matrix.csv"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Moves of the demo plan: the first `n` blocks with pupils, each to the school that is second
/// nearest for its pupils together (by the walks in edit.json).
fn some_moves(model: &Value, n: usize) -> Vec<(String, String)> {
    let schools: Vec<&str> =
        model["schools"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    let mut out = Vec::new();
    for b in model["blocks"].as_array().unwrap() {
        if b["pupils"].as_u64().unwrap() == 0 {
            continue;
        }
        let current = b["school"].as_u64().unwrap() as usize;
        let mut walks: Vec<(u64, usize)> = b["walk_m"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter_map(|(s, w)| w.as_u64().map(|w| (w, s)))
            .filter(|&(_, s)| s != current)
            .collect();
        walks.sort();
        out.push((b["id"].as_str().unwrap().to_string(), schools[walks[0].1].to_string()));
        if out.len() == n {
            break;
        }
    }
    out
}

/// The moved plan from scratch: every pupil at its planned school (assignments.csv) unless
/// its block moved; walks from the demo's matrix. Returns (total, per school: pupils, walk,
/// over 2 km).
fn from_scratch(
    plan: &Path,
    moves: &[(String, String)],
) -> (u64, HashMap<String, (u64, u64, u64)>) {
    let d = demo_dir();
    let block_of: HashMap<String, String> = read(&d.join("pupils.csv"))
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[3].to_string())
        })
        .collect();
    let walk: HashMap<(String, String), u64> = read(&d.join("matrix.csv"))
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ((f[0].to_string(), f[1].to_string()), f[2].parse().unwrap())
        })
        .collect();
    let moved: HashMap<&str, &str> = moves.iter().map(|(b, s)| (b.as_str(), s.as_str())).collect();
    let text = read(&plan.join("assignments.csv"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let pi = header.iter().position(|h| *h == "pupil_id").unwrap();
    let si = header.iter().position(|h| *h == "school_id").unwrap();
    let mut per: HashMap<String, (u64, u64, u64)> = HashMap::new();
    let mut total = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let pupil = f[pi].to_string();
        let school = moved.get(block_of[&pupil].as_str()).copied().unwrap_or(f[si]).to_string();
        let w = walk[&(pupil, school.clone())];
        total += w;
        let e = per.entry(school).or_default();
        e.0 += 1;
        e.1 += w;
        e.2 += u64::from(w > 2000);
    }
    (total, per)
}

fn moves_csv(moves: &[(String, String)]) -> String {
    let mut s = String::from("block_id,school_id\n");
    for (b, sc) in moves {
        s.push_str(&format!("{b},{sc}\n"));
    }
    s
}

fn cli_evaluate(plan: &Path, districts: &Path) -> std::process::Output {
    bin()
        .arg("evaluate")
        .arg("--plan")
        .arg(plan)
        .arg("--districts")
        .arg(districts)
        .arg("--json")
        .output()
        .unwrap()
}

#[test]
fn cli_and_http_evaluate_the_same_edit_the_same_as_from_scratch() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    solve_demo(&plan);
    let model: Value = serde_json::from_str(&read(&plan.join("edit.json"))).unwrap();
    // No pupil id and no coordinate of a pupil in edit.json.
    let text = read(&plan.join("edit.json"));
    assert!(!text.contains("P0001"), "edit.json names a pupil");
    let moves = some_moves(&model, 5);
    assert_eq!(moves.len(), 5);
    let file = write(tmp.path(), "moves.csv", &moves_csv(&moves));
    let o = cli_evaluate(&plan, &file);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cli: Value = serde_json::from_slice(&o.stdout).unwrap();

    // From scratch.
    let (total, per) = from_scratch(&plan, &moves);
    assert_eq!(cli["total_m"].as_u64().unwrap(), total);
    let summary: Value = serde_json::from_str(&read(&plan.join("summary.json"))).unwrap();
    let optimum = summary["solver"]["objective_m"].as_u64().unwrap();
    assert!(total > optimum, "the moves leave the optimum");
    assert_eq!(cli["optimum_m"].as_u64().unwrap(), optimum);
    assert_eq!(cli["gap_m"].as_u64().unwrap(), total - optimum);
    assert_eq!(cli["status"], "edited");
    let mut over_2km = 0;
    for s in cli["per_school"].as_array().unwrap() {
        let (n, w, long) = per.get(s["id"].as_str().unwrap()).copied().unwrap_or_default();
        assert_eq!(s["pupils"].as_u64().unwrap(), n, "{s}");
        let mean = (w + n / 2).checked_div(n).unwrap_or(0);
        assert_eq!(s["mean_walk_m"].as_u64().unwrap(), mean, "{s}");
        assert_eq!(s["over_2km"].as_u64().unwrap(), long, "{s}");
        over_2km += long;
    }
    assert_eq!(cli["over_2km"].as_u64().unwrap(), over_2km);
    // Each move's cost adds up to the change in total.
    let costs: i64 =
        cli["moves"].as_array().unwrap().iter().map(|m| m["cost_m"].as_i64().unwrap()).sum();
    assert_eq!(costs, total as i64 - optimum as i64);

    // Over HTTP, the same plan and the same moves: the same figures.
    let s = Server::start(&tmp.path().join("e.db"), &[]);
    let d = demo_dir();
    let req = json!({
        "schools": read(&d.join("schools.csv")),
        "pupils": read(&d.join("pupils.csv")),
        "matrix": read(&d.join("matrix.csv")),
    });
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), req.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let body = json!({
        "moves": moves.iter().map(|(b, s)| json!({"block_id": b, "school_id": s})).collect::<Vec<_>>()
    });
    let r = post_json(
        s.addr,
        &format!("/v1/plans/{id}/evaluate"),
        Some(READ),
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), cli);
    // No moves: the plan as solved, certified optimal.
    let r = post_json(s.addr, &format!("/v1/plans/{id}/evaluate"), Some(READ), b"{}");
    assert_eq!(r.json()["status"], "optimal");
    assert_eq!(r.json()["total_m"].as_u64().unwrap(), optimum);
    // An unknown block: 404 naming it; on the CLI exit 3 with the file's line.
    let bad = json!({"moves": [{"block_id": "no-such-block", "school_id": "S01"}]});
    let r = post_json(
        s.addr,
        &format!("/v1/plans/{id}/evaluate"),
        Some(READ),
        bad.to_string().as_bytes(),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.json()["message"].as_str().unwrap().contains("no-such-block"));
    let file = write(tmp.path(), "bad.csv", "block_id,school_id\nno-such-block,S01\n");
    let o = cli_evaluate(&plan, &file);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.csv:2"));

    // A version: saved with a note and its author, read-only, compared with the plan.
    let v = post_json(
        s.addr,
        &format!("/v1/plans/{id}/versions"),
        Some(WRITE),
        json!({"note": "keep the estate", "moves": body["moves"]}).to_string().as_bytes(),
    );
    assert_eq!(v.status, 201, "{}", v.text());
    let v = v.json();
    assert_eq!(v["number"], 1);
    assert_eq!(v["evaluation"], cli);
    assert!(v["author"].as_str().unwrap().starts_with("write token "));
    let vid = v["id"].as_str().unwrap();
    let r = post_json(s.addr, &format!("/v1/plans/{id}/versions"), Some(READ), b"{}");
    assert_eq!(r.status, 403, "a read token cannot save");
    let list = get(s.addr, &format!("/v1/plans/{id}/versions"), Some(READ)).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["note"], "keep the estate");
    let full = get(s.addr, &format!("/v1/versions/{vid}"), Some(READ)).json();
    assert_eq!(full["districts"][&moves[0].0], moves[0].1.as_str());
    let diff = get(s.addr, &format!("/v1/diff?a={id}&b={vid}"), Some(READ));
    assert_eq!(diff.status, 200, "{}", diff.text());
    let diff = diff.json();
    let changed: Vec<&str> = diff["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["block_id"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = moves.iter().map(|(b, _)| b.as_str()).collect();
    want.sort();
    let mut got = changed.clone();
    got.sort();
    assert_eq!(got, want, "the moved blocks, and only they, change school");
    assert_eq!(diff["b_total_m"].as_u64().unwrap(), total);
    for row in diff["per_school"].as_array().unwrap() {
        let (n, _, _) = per.get(row["id"].as_str().unwrap()).copied().unwrap_or_default();
        assert_eq!(row["b_pupils"].as_u64().unwrap(), n);
    }
}

#[test]
fn reoptimising_around_pins_keeps_them_and_fits_the_seats() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("r.db"), &[]);
    let d = demo_dir();
    let req = json!({
        "schools": read(&d.join("schools.csv")),
        "pupils": read(&d.join("pupils.csv")),
        "matrix": read(&d.join("matrix.csv")),
    });
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), req.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let model = get(s.addr, &format!("/v1/plans/{id}/files/edit.json"), Some(READ)).json();
    let pins: Vec<(String, String)> = some_moves(&model, 2);
    let body = json!({"pins": pins.iter().map(|(b, s)| json!({"block_id": b, "school_id": s})).collect::<Vec<_>>()});
    let r = post_json(
        s.addr,
        &format!("/v1/plans/{id}/reoptimise"),
        Some(WRITE),
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = r.json();
    let e = &r["evaluation"];
    for (b, sc) in &pins {
        assert!(
            r["moves"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["block_id"] == b.as_str() && m["school_id"] == sc.as_str()),
            "pin {b} -> {sc} kept"
        );
    }
    assert!(
        e["warnings"].as_array().unwrap().iter().all(|w| !w.as_str().unwrap().contains("seats")),
        "{e}"
    );
    assert!(e["total_m"].as_u64().unwrap() >= e["optimum_m"].as_u64().unwrap());
    // Evaluating the returned moves gives the returned figures.
    let again = post_json(
        s.addr,
        &format!("/v1/plans/{id}/evaluate"),
        Some(READ),
        json!({"moves": r["moves"]}).to_string().as_bytes(),
    );
    assert_eq!(&again.json(), e);
}

fn magdeburg() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg")
}

/// A block with pupils, whole at one school, next to a block of another school that has room
/// for it: (block, that school).
fn movable_border_block(model: &Value) -> (String, String) {
    let blocks = model["blocks"].as_array().unwrap();
    let schools = model["schools"].as_array().unwrap();
    let mut load = vec![0u64; schools.len()];
    for b in blocks {
        for a in b["at"].as_array().unwrap() {
            load[a[0].as_u64().unwrap() as usize] += a[1].as_u64().unwrap();
        }
    }
    for (i, b) in blocks.iter().enumerate() {
        let n = b["pupils"].as_u64().unwrap();
        if n == 0 || b["at"].as_array().unwrap().len() != 1 {
            continue;
        }
        let s = b["school"].as_u64();
        for nb in model["neighbours"][i].as_array().unwrap() {
            let Some(t) = blocks[nb.as_u64().unwrap() as usize]["school"].as_u64() else {
                continue;
            };
            let room = schools[t as usize]["capacity"].as_u64().unwrap() >= load[t as usize] + n;
            if Some(t) != s && room && !b["walk_m"][t as usize].is_null() {
                return (
                    b["id"].as_str().unwrap().to_string(),
                    schools[t as usize]["id"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    panic!("no movable border block");
}

/// Every block's school in a districts.csv (blocks without a school left out).
fn district_map(csv: &str) -> std::collections::BTreeMap<String, String> {
    csv.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (!f[1].is_empty()).then(|| (f[0].to_string(), f[1].to_string()))
        })
        .collect()
}

/// A saved version is published by solving the plan again with every block pinned to its
/// school in the version (`POST /v1/plans/{id}/resolve`): the new plan's districts are the
/// version's, its council files are what `catchment solve --pin` writes from the version's
/// `pins.csv`, and a re-solve with the page's pins keeps them, certified.
#[test]
fn a_version_is_published_by_a_certified_re_solve_as_the_cli_writes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("p.db"), &[]);
    let d = magdeburg();
    let mut req = json!({
        "schools": read(&d.join("schools.csv")),
        "pupils": read(&d.join("pupils.csv")),
        "matrix": read(&d.join("matrix.csv")),
        "blocks": read(&d.join("blocks.csv")),
        "area": read(&d.join("area.geojson")),
        "policy": {"unit": "block"},
    });
    // Without keep_inputs the service keeps no request: a re-solve is refused, saying why.
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), req.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let plain = r.json()["id"].as_str().unwrap().to_string();
    let r = post_json(s.addr, &format!("/v1/plans/{plain}/resolve"), Some(WRITE), b"{}");
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("keep_inputs"), "{}", r.text());

    req["keep_inputs"] = json!(true);
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), req.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let model = get(s.addr, &format!("/v1/plans/{id}/files/edit.json"), Some(READ)).json();
    let (block, to) = movable_border_block(&model);
    let moves = json!([{"block_id": block, "school_id": to}]);
    let r = post_json(
        s.addr,
        &format!("/v1/plans/{id}/versions"),
        Some(WRITE),
        json!({"note": "estate to its neighbour", "moves": moves}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let version = r.json();
    let vid = version["id"].as_str().unwrap().to_string();
    let districts = get(s.addr, &format!("/v1/versions/{vid}"), Some(READ)).json()["districts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(b, s)| (b.clone(), s.as_str().unwrap().to_string()))
        .collect::<std::collections::BTreeMap<_, _>>();
    assert_eq!(districts[&block], to);

    // Both pins and a version: refused; a version of another plan: refused; a read token: 403.
    let both = json!({"version": vid, "pins": moves});
    let r = post_json(
        s.addr,
        &format!("/v1/plans/{id}/resolve"),
        Some(WRITE),
        both.to_string().as_bytes(),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let other = json!({ "version": vid }).to_string();
    let r = post_json(s.addr, &format!("/v1/plans/{plain}/resolve"), Some(WRITE), other.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    let r = post_json(s.addr, &format!("/v1/plans/{id}/resolve"), Some(READ), other.as_bytes());
    assert_eq!(r.status, 403, "{}", r.text());

    // Publish the version: a new certified plan whose districts are the version's.
    let r = post_json(
        s.addr,
        &format!("/v1/plans/{id}/resolve?wait=true"),
        Some(WRITE),
        other.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let published = r.json();
    let pid = published["id"].as_str().unwrap().to_string();
    assert!(published["summary"]["pins"]["blocks"].as_u64().unwrap() > 4000, "{published}");
    let served = |name: &str| get(s.addr, &format!("/v1/plans/{pid}/files/{name}"), Some(READ));
    let served_districts = served("districts.csv");
    assert_eq!(served_districts.status, 200);
    assert_eq!(district_map(&served_districts.text()), districts, "the version's districts");

    // The CLI with the version's pins.csv writes the same council files.
    let pins = get(s.addr, &format!("/v1/versions/{vid}/pins.csv"), Some(READ));
    assert_eq!(pins.status, 200);
    let pins_file = write(tmp.path(), "version-pins.csv", &pins.text());
    let out = tmp.path().join("cli");
    let o = bin()
        .args(["solve", "--unit", "block", "--schools"])
        .arg(d.join("schools.csv"))
        .arg("--pupils")
        .arg(d.join("pupils.csv"))
        .arg("--matrix")
        .arg(d.join("matrix.csv"))
        .arg("--blocks")
        .arg(d.join("blocks.csv"))
        .arg("--area")
        .arg(d.join("area.geojson"))
        .arg("--pin")
        .arg(&pins_file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in ["districts.csv", "districts.geojson", "pins.csv", "edit.json"] {
        assert_eq!(
            served(name).text(),
            read(&out.join(name)),
            "{name}: the service's file is the CLI's"
        );
    }

    // The page's pins: a certified re-solve that keeps them.
    let r = post_json(
        s.addr,
        &format!("/v1/plans/{id}/resolve?wait=true"),
        Some(WRITE),
        json!({ "pins": moves }).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let re = r.json();
    assert_eq!(re["summary"]["pins"]["blocks"], 1, "{re}");
    let rid = re["id"].as_str().unwrap();
    let d2 = get(s.addr, &format!("/v1/plans/{rid}/files/districts.csv"), Some(READ)).text();
    assert_eq!(district_map(&d2)[&block], to, "the pin holds");
}
