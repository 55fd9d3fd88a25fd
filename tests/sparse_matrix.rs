//! `catchment solve --nearest K` on a partial matrix (each pupil's K nearest schools by
//! straight line, the other pairs left out of the file, held sparse): the same total walk as
//! the dense solve of the full matrix, a plan `catchment check` accepts against every pair and
//! against the partial matrix itself (and refuses tampered), and a clear policy error (exit 3,
//! the flag named, counts) when K is too small to prove the plan. A synthetic state
//! (`catchment-dataset synthetic --family state`) runs the same way from its files. The
//! partial matrix converts to the binary format's sparse rows and back (`catchment matrix
//! convert`), solves to the same files from either, and a damaged sparse file is refused for
//! its damage.

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

/// `catchment check` of the plan `out` in `dir` against `matrix`.
fn check(dir: &Path, matrix: &Path, out: &str) -> std::process::Output {
    let t = dir.join("town");
    bin()
        .arg("check")
        .arg("--schools")
        .arg(t.join("schools.csv"))
        .arg("--pupils")
        .arg(t.join("pupils.csv"))
        .arg("--matrix")
        .arg(matrix)
        .arg("--plan")
        .arg(dir.join(out))
        .output()
        .unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Swap the schools of the first two pupils of `assignments.csv` at different schools: the
/// loads stay, the walks do not.
fn tamper(plan: &Path) {
    let path = plan.join("assignments.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rows: Vec<Vec<String>> =
        text.lines().map(|l| l.split(',').map(String::from).collect()).collect();
    let a = 1;
    let b = (2..rows.len()).find(|&i| rows[i][1] != rows[a][1]).unwrap();
    let (sa, sb) = (rows[a][1].clone(), rows[b][1].clone());
    rows[a][1] = sb;
    rows[b][1] = sa;
    let out: String = rows.iter().map(|r| r.join(",") + "\n").collect();
    std::fs::write(&path, out).unwrap();
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
        let c = check(d.path(), &full, "sparse");
        assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
        // The checker against the partial matrix alone: the proof from the pairs given and
        // the straight-line bound of all others.
        let c = check(d.path(), &partial, "sparse");
        assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
        assert!(stdout(&c).contains("nearest schools"), "{}", stdout(&c));
        // A tampered plan is refused by both checks.
        let copy = d.path().join("tampered");
        std::fs::create_dir(&copy).unwrap();
        for f in std::fs::read_dir(d.path().join("sparse")).unwrap() {
            let f = f.unwrap().path();
            if f.is_file() {
                std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
            }
        }
        tamper(&copy);
        for m in [&partial, &full] {
            let c = check(d.path(), m, "tampered");
            assert_eq!(c.status.code(), Some(5), "{}{}", stdout(&c), stderr(&c));
        }
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

/// A partial file is held as its pairs (no pupils x schools cells); a file of every pair read
/// the same way is dense.
#[test]
fn a_partial_matrix_is_held_as_its_pairs() {
    let d = tempfile::tempdir().unwrap();
    let town = synthetic::generate_family(500, 12, 4, Family::Clustered);
    let partial = town_with_partial(d.path(), &town, 4);
    let inst = &town.instance;
    let m = catchment::routing::matrix::read_matrix_with(&partial, inst, true).unwrap();
    assert!(m.is_partial());
    assert_eq!(m.n_given(), 500 * 4);
    assert!(m.meters.is_empty());
    for p in [0, 17, 499] {
        let given: Vec<(usize, u32)> = m.given_row(p).collect();
        assert_eq!(given.len(), 4);
        for (s, d) in given {
            assert_eq!(Some(d), town.matrix.get(p, s));
            assert_eq!(m.seconds(p, s), town.matrix.seconds(p, s));
        }
        let missing = (0..12).find(|&s| !m.is_given(p, s)).unwrap();
        assert_eq!(m.get(p, missing), None);
    }
    let full = d.path().join("town").join("matrix.csv");
    let dense = catchment::routing::matrix::read_matrix_with(&full, inst, true).unwrap();
    assert!(!dense.is_partial());
    assert_eq!(dense, town.matrix);
}

/// A small synthetic state from `catchment-dataset synthetic --family state` (only the partial
/// matrix written): solved through `catchment solve --nearest`, the same total walk as the
/// dense solve of every pair (computed here from the generator's walks), checked from the
/// partial matrix; without --sparse-matrix the state is refused.
#[test]
fn a_synthetic_state_solves_from_its_files_like_every_pair() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("town");
    let (n, m, k) = (3000, 40, 20);
    let o = dataset_bin()
        .args(["synthetic", "--family", "state", "--pupils", &n.to_string()])
        .args(["--schools", &m.to_string(), "--seed", "3", "--sparse-matrix", &k.to_string()])
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.join("matrix.csv").exists());
    let partial = dir.join(format!("matrix-nearest-{k}.csv"));
    let rows = std::fs::read_to_string(&partial).unwrap().lines().count() - 1;
    assert_eq!(rows, n * k);
    // Every pair, from the same generator: the walks the partial file gives, and the rest.
    let state = synthetic::generate_state(n, m, 3);
    let mut text = String::from("pupil_id,school_id,meters\n");
    for (u, p) in state.instance.pupils.iter().enumerate() {
        for (s, school) in state.instance.schools.iter().enumerate() {
            let w = state.walk(u, s);
            let (pl, sl) = (p.location.unwrap(), (school.lat, school.lon));
            assert!(w >= catchment::solve::partial::straight_line_bound(pl, sl));
            text.push_str(&format!("{},{},{w}\n", p.id, school.id));
        }
    }
    let full = write(d.path(), "every-pair.csv", &text);
    let o = solve(d.path(), &full, None, "dense");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = solve(d.path(), &partial, Some(k), "sparse");
    assert!(o.status.success(), "{}", stderr(&o));
    let (dense, sparse) = (summary(d.path(), "dense"), summary(d.path(), "sparse"));
    assert_eq!(dense["solver"]["objective_m"], sparse["solver"]["objective_m"]);
    assert_eq!(sparse["solver"]["nearest"], k);
    let c = check(d.path(), &partial, "sparse");
    assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
    let c = check(d.path(), &full, "sparse");
    assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
    // A state is never written with a matrix of every pair.
    let o = dataset_bin()
        .args(["synthetic", "--family", "state", "--pupils", "100", "--schools", "5", "--out"])
        .arg(d.path().join("no"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--sparse-matrix"), "{}", stderr(&o));
}

fn convert(input: &Path, output: &Path) -> String {
    let o = bin().args(["matrix", "convert"]).arg(input).arg(output).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// A long CSV's pairs (the header apart), sorted.
fn pairs_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut v: Vec<String> = text.lines().skip(1).map(String::from).collect();
    v.sort();
    v
}

/// A town's partial matrix (its source in a sidecar) and the same converted to binary.
fn partial_and_binary(dir: &Path, k: usize) -> (synthetic::Town, PathBuf, PathBuf) {
    let town = synthetic::generate_family(700, 14, 9, Family::Clustered);
    let partial = town_with_partial(dir, &town, k);
    catchment::routing::matrix::write_meta(&partial, "synthetic street grid", &[]).unwrap();
    let cmx = dir.join("nearest");
    let said = convert(&partial, &cmx);
    assert!(said.contains("partial"), "{said}");
    assert!(said.contains(&format!("{} pairs given", 700 * k)), "{said}");
    (town, partial, cmx)
}

/// CSV -> binary (sparse rows) -> CSV gives the same pairs, and the library reads the binary
/// as the CSV: the same partial matrix.
#[test]
fn a_partial_csv_converts_to_sparse_binary_and_back() {
    let d = tempfile::tempdir().unwrap();
    let (town, partial, cmx) = partial_and_binary(d.path(), 10);
    let bytes = std::fs::read(&cmx).unwrap();
    assert_eq!(&bytes[..8], b"\x89CMX\r\n\x1a\n");
    let flags = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
    assert_eq!(flags, 2 | 4, "seconds and sparse rows");
    assert!(bytes.len() < std::fs::metadata(&partial).unwrap().len() as usize);
    let back = d.path().join("back.csv");
    convert(&cmx, &back);
    assert_eq!(pairs_of(&partial), pairs_of(&back));
    // Written in id order as the generator writes it: the very same bytes, and the source.
    assert_eq!(std::fs::read(&partial).unwrap(), std::fs::read(&back).unwrap());
    let meta = |p: &Path| std::fs::read(catchment::routing::matrix::meta_path(p)).unwrap();
    assert_eq!(meta(&partial), meta(&back));
    // And binary -> binary keeps the file.
    let again = d.path().join("again.cmx");
    let o = bin().args(["matrix", "convert", "--format", "binary"]).arg(&cmx).arg(&again).output();
    assert!(o.unwrap().status.success());
    assert_eq!(bytes, std::fs::read(&again).unwrap());

    let inst = &town.instance;
    let read = |p: &Path| catchment::routing::matrix::read_matrix_with(p, inst, true).unwrap();
    let (a, b) = (read(&partial), read(&cmx));
    assert!(b.is_partial());
    assert_eq!(a, b);
    assert_eq!(b.n_given(), 700 * 10);
    // Written from the matrix read, the binary is the converted file.
    let written = d.path().join("written.cmx");
    catchment::routing::matrix::write_matrix_binary(&written, inst, &b).unwrap();
    assert_eq!(bytes, std::fs::read(&written).unwrap());
    // Streamed pair by pair, the same pairs from either file.
    let scan = |p: &Path| {
        let mut v = Vec::new();
        let f = catchment::routing::stream::MatrixFile::new(p, inst, None);
        f.scan(|p, s, m| v.push((p, s, m))).unwrap();
        v.sort_unstable();
        v
    };
    let (sa, sb) = (scan(&partial), scan(&cmx));
    assert!(sa.len() > 700 * 9, "{}", sa.len());
    assert_eq!(sa, sb);
    // Read as a dense matrix (no --nearest), the pairs left out are missing, as from the CSV.
    let plain = |p: &Path| catchment::routing::read_matrix(p, inst).unwrap_err().to_string();
    let (ea, eb) = (plain(&partial), plain(&cmx));
    assert!(eb.contains("pupil-school pairs are missing"), "{eb}");
    assert_eq!(ea.replace(&file(&partial), "M"), eb.replace(&file(&cmx), "M"));
}

fn file(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every file of a plan directory, `summary.json` without its timing.
fn plan_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|f| f.is_file())
        .map(|f| {
            let mut bytes = std::fs::read(&f).unwrap();
            if file(&f) == "summary.json" {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                v.as_object_mut().unwrap().remove("timing");
                bytes = serde_json::to_vec_pretty(&v).unwrap();
            }
            (file(&f), bytes)
        })
        .collect();
    files.sort();
    files
}

/// `solve --nearest K` from the sparse binary writes the same files as from the CSV (timing
/// apart), and `check` accepts the plan against either.
#[test]
fn solve_nearest_from_the_sparse_binary_writes_the_same_files() {
    let d = tempfile::tempdir().unwrap();
    let k = 10;
    let (_, partial, cmx) = partial_and_binary(d.path(), k);
    let o = solve(d.path(), &partial, Some(k), "from-csv");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = solve(d.path(), &cmx, Some(k), "from-binary");
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) =
        (plan_files(&d.path().join("from-csv")), plan_files(&d.path().join("from-binary")));
    assert!(a.iter().any(|(n, _)| n == "assignments.csv"), "{a:?}");
    assert_eq!(a.len(), b.len());
    for ((na, fa), (nb, fb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(fa == fb, "{na} differs");
    }
    for m in [&partial, &cmx] {
        let c = check(d.path(), m, "from-binary");
        assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
        assert!(stdout(&c).contains("nearest schools"), "{}", stdout(&c));
    }
    // Without --nearest the sparse binary is refused like the CSV: pairs are missing.
    let o = solve(d.path(), &cmx, None, "refused");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("pairs are missing"), "{}", stderr(&o));
}

/// Damage to a sparse binary is refused (exit 3) with a message naming it, naming no pupil.
#[test]
fn a_damaged_sparse_binary_is_refused_for_its_damage() {
    let d = tempfile::tempdir().unwrap();
    let k = 10;
    let (town, _, cmx) = partial_and_binary(d.path(), k);
    let good = std::fs::read(&cmx).unwrap();
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let body = 40 + u64::from_le_bytes(good[24..32].try_into().unwrap()) as usize;
    let n_schools = u32_at(&good, 20);
    assert_eq!(u32_at(&good, body), k as u32, "the first row's count");
    // A body written with its checksum right, the first row's first school as given.
    let with_school = |c: u32| {
        let mut b = good.clone();
        b[body + 4..body + 8].copy_from_slice(&c.to_le_bytes());
        let n = b.len();
        let crc = crc32fast::hash(&b[body..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let second = u32_at(&good, body + 8);
    let out_of_range = format!("school index {n_schools}, out of range");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped",
            {
                let mut b = good.clone();
                b[body + 9] ^= 0x20;
                b
            },
            "checksum mismatch: the binary matrix's body is damaged",
        ),
        (
            "flipped count",
            {
                let mut b = good.clone();
                b[body] ^= 0x01;
                b
            },
            "checksum mismatch",
        ),
        (
            "truncated",
            good[..good.len() - 10].to_vec(),
            "the binary matrix is truncated: it ends after",
        ),
        ("truncated in a row", good[..body + 30].to_vec(), "truncated"),
        ("index out of range", with_school(n_schools), &out_of_range),
        ("not ascending", with_school(second), "must be strictly ascending"),
    ];
    for (what, bytes, want) in &cases {
        let path = d.path().join("damaged.cmx");
        std::fs::write(&path, bytes).unwrap();
        let o = solve(d.path(), &path, Some(k), "plan");
        assert_eq!(o.status.code(), Some(3), "{what}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("damaged.cmx: ") && e.contains(want), "{what}: {e}");
        assert!(!e.contains("panicked"), "{e}");
        assert!(!d.path().join("plan").exists());
        for p in town.instance.pupils.iter().take(50) {
            assert!(!e.contains(&format!("'{}'", p.id)), "{what}: a pupil id in {e}");
        }
        // The same for the checker.
        let o = solve(d.path(), &d.path().join("nearest"), Some(k), "good");
        assert!(o.status.success());
        let c = check(d.path(), &path, "good");
        assert_eq!(c.status.code(), Some(3), "{what}: {}{}", stdout(&c), stderr(&c));
        assert!(stderr(&c).contains(want), "{what}: {}", stderr(&c));
        std::fs::remove_dir_all(d.path().join("good")).unwrap();
    }
}
