//! The uncapacitated p-median problem against known answers from the literature: OR-Library's
//! pmed1 (100 nodes, p = 5, optimum 5819) and pmed5 (100 nodes, p = 33, optimum 1355), from
//! J. E. Beasley, "A note on solving large p-median problems", EJOR 21 (1985) 270–273 (data in
//! `tests/data/orlib/`, see its README). Every node is a pupil and a candidate site seating
//! everyone, and no school stands yet: the site choice with at most p sites is the p-median.
//! The walks are the graph's shortest paths (Floyd–Warshall here).

use catchment::routing::Matrix;
use catchment::sites::{self, Method, Objective, SitesInput};
use catchment::solve::facility::{Choice, Closures, Facility};
use catchment::solve::Problem;
use catchment::{Instance, Pupil, School};
use std::path::{Path, PathBuf};

/// No edge (yet): far above any path of these graphs, and no overflow when two are added.
const INF: u32 = u32::MAX / 4;

/// An OR-Library p-median file: `n edges p`, then `i j cost` per undirected edge (1-based;
/// when an edge appears twice the last one counts). Returns n, p and the n x n edge lengths
/// (0 on the diagonal, [`INF`] where no edge).
fn read_edges(path: &Path) -> (usize, usize, Vec<u32>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut nums = text.split_whitespace().map(|t| t.parse::<usize>().unwrap());
    let mut next = || nums.next().unwrap();
    let (n, edges, p) = (next(), next(), next());
    let mut d = vec![INF; n * n];
    for i in 0..n {
        d[i * n + i] = 0;
    }
    for _ in 0..edges {
        let (i, j, c) = (next() - 1, next() - 1, next() as u32);
        d[i * n + j] = c;
        d[j * n + i] = c;
    }
    assert!(nums.next().is_none(), "{}: more numbers than edges", path.display());
    (n, p, d)
}

/// [`read_edges`], then every pair's shortest path (Floyd–Warshall).
fn read_orlib(path: &Path) -> (usize, usize, Vec<u32>) {
    let (n, p, mut d) = read_edges(path);
    for k in 0..n {
        for i in 0..n {
            let ik = d[i * n + k];
            for j in 0..n {
                let via = ik + d[k * n + j];
                if via < d[i * n + j] {
                    d[i * n + j] = via;
                }
            }
        }
    }
    assert!(d.iter().all(|&x| x < INF), "{}: the graph is not connected", path.display());
    (n, p, d)
}

fn orlib(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/orlib").join(name)
}

/// The p-median as a facility-location problem: no current school, every node a candidate
/// seating all n pupils.
fn p_median(n: usize, d: &[u32]) -> Facility {
    Facility {
        problem: Problem {
            n_schools: n,
            cap: vec![n as u32; n],
            min: vec![0; n],
            cost: d.to_vec(),
            weight: vec![1; n],
            fixed: vec![None; n],
        },
        more_years: Vec::new(),
        n_existing: 0,
        cost: vec![0.0; n],
        budget: None,
        closures: Closures::default(),
    }
}

/// Each node's walk to its nearest of `open`: the p-median objective of a choice.
fn nearest_sum(n: usize, d: &[u32], open: &[usize]) -> u64 {
    (0..n).map(|i| open.iter().map(|&c| d[i * n + c] as u64).min().unwrap()).sum()
}

#[test]
fn the_orlib_files_read_as_beasley_states_them() {
    for (name, p) in [("pmed1.txt", 5), ("pmed5.txt", 33)] {
        let (n, p_read, d) = read_orlib(&orlib(name));
        assert_eq!((n, p_read), (100, p));
        assert!((0..n).all(|i| (0..n).all(|j| d[i * n + j] == d[j * n + i])));
    }
    // pmed5 lists the edge 80-49 twice (81, then 52): the last one counts.
    let (n, _, e) = read_edges(&orlib("pmed5.txt"));
    assert_eq!((e[79 * n + 48], e[48 * n + 79]), (52, 52));
}

#[test]
fn the_exact_choice_equals_the_published_p_median_optima() {
    for (name, optimum) in [("pmed1.txt", 5819u64), ("pmed5.txt", 1355)] {
        let (n, p, d) = read_orlib(&orlib(name));
        let f = p_median(n, &d);
        let a = f.mip(p, 300).unwrap();
        assert!(a.proved, "{name}: Cbc did not prove its answer");
        let c = a.choice.unwrap();
        assert_eq!(c.walk, Some(optimum), "{name}");
        assert_eq!(a.bound, optimum, "{name}");
        assert!(c.open.len() <= p);
        // Uncapacitated: the flow's walk is each node's walk to its nearest open site.
        assert_eq!(nearest_sum(n, &d, &c.open), optimum, "{name}");
        // The heuristic cannot beat the optimum, nor the Lagrangian bound exceed it.
        let start = Choice { open: vec![], closed: vec![], walk: None };
        let h = f.heuristic(p, &start).unwrap();
        assert!(h.walk.unwrap() >= optimum, "{name}: heuristic below the optimum");
        assert!(f.lagrangian_bound(p, h.walk, 200) <= optimum, "{name}: bound above the optimum");
    }
}

/// pmed1 as the input of `catchment sites` (what `sites::load` reads from its files): no
/// current school, the nodes as pupils and as candidate sites (seats for all 100 each), the
/// shortest paths as the candidates' walks; then the whole choice for k = 0..5 as the CLI
/// runs it, each k's plan solved and certified.
#[test]
fn pmed1_through_the_site_choice_with_no_current_school() {
    let (n, p, d) = read_orlib(&orlib("pmed1.txt"));
    let at = |i: usize| (52.0 + (i / 10) as f64 * 0.01, 11.0 + (i % 10) as f64 * 0.01);
    let pupils: Vec<Pupil> = (0..n)
        .map(|i| Pupil {
            id: format!("P{:03}", i + 1),
            location: Some(at(i)),
            street: None,
            house_number: None,
            postcode: None,
            block: None,
            fixed_school: None,
            extra: Vec::new(),
        })
        .collect();
    let candidates: Vec<School> = (0..n)
        .map(|i| School {
            id: format!("N{:03}", i + 1),
            name: format!("node {}", i + 1),
            lat: at(i).0,
            lon: at(i).1,
            capacity: n as u32,
            class_size: 22,
            max_classes: None,
            min_pupils: 0,
            min_classes: None,
            extra: Vec::new(),
        })
        .collect();
    let inst = Instance::new(Vec::new(), pupils).unwrap();
    let mut walks = Matrix::new(n, n, "OR-Library pmed1, shortest paths");
    walks.meters = d.clone();
    let input = SitesInput {
        matrix: Matrix::new(n, 0, "no current school"),
        inst,
        cost: vec![0.0; n],
        has_cost: false,
        candidate_matrix: walks,
        extends: vec![None; n],
        candidates,
        max_walk: None,
        more_years: Vec::new(),
        label: "pmed1".into(),
        closable: Vec::new(),
        saving: Vec::new(),
        close: None,
        objective: Objective::Walk,
    };
    let s = sites::choose(&input, p, None, Method::Exact, 300).unwrap();
    assert_eq!(s.rows.len(), p + 1);
    // No school and no site: nobody is seated.
    assert_eq!(s.rows[0].walk_m, None);
    let last = &s.rows[p];
    assert_eq!(last.walk_m, Some(5819));
    assert_eq!(last.bound_m, Some(5819));
    assert_eq!(last.sites.len(), p);
    let open: Vec<usize> =
        last.sites.iter().map(|id| id[1..].parse::<usize>().unwrap() - 1).collect();
    assert_eq!(nearest_sum(n, &d, &open), 5819);
    // Each further site shortens the walk, and every row is proved optimal.
    for k in 1..p {
        let (a, b) = (s.rows[k].walk_m.unwrap(), s.rows[k + 1].walk_m.unwrap());
        assert!(b < a, "k = {k}: {a} then {b}");
        assert_eq!(s.rows[k].bound_m, s.rows[k].walk_m, "k = {k}");
    }
    // Every k's plan seats every pupil at one of that k's sites.
    assert_eq!(s.plans.len(), p);
}

/// The p-median from the command line: pmed1 written as the files of `catchment sites` — a
/// schools file with the header only (no school yet), no matrix for it, the nodes as pupils
/// and as candidates, the shortest paths as the candidates' long matrix — chosen exactly for
/// k = 0..5. sites.csv gives the optimum 5819 for k = 5, k = 0 says it has no school and no
/// plan, and `catchment check` accepts k = 5's plan. A header-only matrix reads as no walk.
/// `solve` still refuses the schools file without rows, naming it, and writes nothing.
#[test]
fn pmed1_from_the_cli_with_no_current_school() {
    use std::fmt::Write as _;
    use std::process::Command;
    let (n, p, d) = read_orlib(&orlib("pmed1.txt"));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let at = |i: usize| (52.0 + (i / 10) as f64 * 0.01, 11.0 + (i % 10) as f64 * 0.01);
    let schools = write("schools.csv", "id,name,lat,lon,capacity\n");
    let (mut pupils, mut cands) =
        (String::from("id,lat,lon\n"), String::from("id,name,lat,lon,capacity\n"));
    let mut walks = String::from("pupil_id,school_id,meters\n");
    for i in 0..n {
        let (lat, lon) = at(i);
        writeln!(pupils, "P{:03},{lat},{lon}", i + 1).unwrap();
        writeln!(cands, "N{:03},node {},{lat},{lon},{n}", i + 1, i + 1).unwrap();
        for j in 0..n {
            writeln!(walks, "P{:03},N{:03},{}", i + 1, j + 1, d[i * n + j]).unwrap();
        }
    }
    let pupils = write("pupils.csv", &pupils);
    let cands = write("candidates.csv", &cands);
    let walks = write("candidate-matrix.csv", &walks);
    let bin = || Command::new(env!("CARGO_BIN_EXE_catchment"));
    let sites = |out: &Path, open: usize, matrix: Option<&Path>| {
        let mut cmd = bin();
        cmd.arg("sites").arg("--schools").arg(&schools).arg("--pupils").arg(&pupils);
        if let Some(m) = matrix {
            cmd.arg("--matrix").arg(m);
        }
        let o = cmd
            .arg("--candidates")
            .arg(&cands)
            .arg("--candidate-matrix")
            .arg(&walks)
            .args(["--open", &open.to_string(), "--method", "exact", "--mip-seconds", "300"])
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let csv = std::fs::read_to_string(out.join("sites.csv")).unwrap();
        let mut rd = csv::Reader::from_reader(csv.as_bytes());
        let head = rd.headers().unwrap().clone();
        let col = |name: &str| head.iter().position(|h| h == name).unwrap();
        let (walk, method) = (col("walk_m"), col("method"));
        let rows: Vec<(String, String)> = rd
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[walk].to_string(), r[method].to_string())
            })
            .collect();
        (rows, String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let out = dir.path().join("out");
    let (rows, stdout) = sites(&out, p, None);
    assert_eq!(rows.len(), p + 1);
    assert_eq!(rows[p].0, "5819", "{rows:?}");
    assert_eq!(rows[p].1, "exact (Cbc branch and bound, proved optimal)");
    assert_eq!(rows[0], (String::new(), sites::NO_SCHOOL_YET.to_string()));
    assert!(stdout.contains("There is no current school"), "{stdout}");
    assert!(stdout.contains("| 0 | – | no school yet |"), "{stdout}");
    assert!(!out.join("plans/k0").exists(), "k = 0 has no plan");
    let o = bin()
        .arg("check")
        .arg("--pupils")
        .arg(&pupils)
        .arg("--plan")
        .arg(out.join(format!("plans/k{p}")))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains("its 5819 m are the least walk"));
    // A matrix with the header alone: the pupils' walks to no school.
    let empty = write("matrix.csv", "pupil_id,school_id,meters\n");
    let (rows, _) = sites(&dir.path().join("out1"), 1, Some(&empty));
    assert_eq!(rows.len(), 2);
    assert!(rows[1].0.parse::<u64>().unwrap() > 5819, "{rows:?}");
    // `solve` needs schools: the file without rows is refused by name, nothing written.
    let plan = dir.path().join("plan");
    let o = bin()
        .arg("solve")
        .arg("--schools")
        .arg(&schools)
        .arg("--pupils")
        .arg(&pupils)
        .arg("--matrix")
        .arg(&empty)
        .arg("--out")
        .arg(&plan)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("schools.csv: the file has a header but no rows"), "{err}");
    assert!(!plan.exists());
}
