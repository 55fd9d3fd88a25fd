//! The hostile-input suite (issue 19): the demo's CSVs (a slice of `data/demo`: every school,
//! the first pupils and their matrix rows) mutated deterministically — truncations, byte flips,
//! duplicated and deleted rows, huge fields, wide rows, NaN/inf, BOMs, delimiter swaps, long
//! ids, CRLF — and each run through the application layer as `catchment solve` runs it. Every
//! run must end without a panic, with an exit code of the documented set, without damaging the
//! output directory (an earlier plan stays byte for byte on error; a new plan is complete and
//! passes `check`), and with no pupil id in any error message.
//!
//! `CATCHMENT_FUZZ_RUNS` sets the number of runs (default 600, about a second in a debug build);
//! `CATCHMENT_FUZZ_SEED` the seed. A longer run: `CATCHMENT_FUZZ_RUNS=20000 cargo test --release
//! --test hostile_inputs`.

use catchment::app::{CompareSpec, Distances, PlanRequest, Source};
use catchment::error::exit;
use std::path::{Path, PathBuf};

/// SplitMix64: a small deterministic generator (the seed fixes every mutation).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PUPILS: usize = 120;
const FILES: [&str; 3] = ["schools.csv", "pupils.csv", "matrix.csv"];

/// The slice of the demo: every school, the first pupils, their matrix rows.
fn base() -> [Vec<u8>; 3] {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let read = |f: &str| std::fs::read_to_string(demo.join(f)).unwrap();
    let pupils: Vec<String> =
        read("pupils.csv").lines().take(PUPILS + 1).map(String::from).collect();
    let ids: std::collections::HashSet<&str> =
        pupils.iter().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    let matrix: Vec<String> = read("matrix.csv")
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || ids.contains(l.split(',').next().unwrap()))
        .map(|(_, l)| l.to_string())
        .collect();
    [
        read("schools.csv").into_bytes(),
        (pupils.join("\n") + "\n").into_bytes(),
        (matrix.join("\n") + "\n").into_bytes(),
    ]
}

fn lines(b: &[u8]) -> Vec<Vec<u8>> {
    b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect()
}

fn join(l: &[Vec<u8>]) -> Vec<u8> {
    l.join(&b'\n')
}

/// One mutation of `b`, and its name.
fn mutate(rng: &mut Rng, b: &[u8]) -> (&'static str, Vec<u8>) {
    let mut l = lines(b);
    let n = l.len().saturating_sub(1).max(1);
    let row = 1 + rng.below(n - 1);
    match rng.below(14) {
        0 => ("truncated", b[..rng.below(b.len())].to_vec()),
        1 => {
            let mut v = b.to_vec();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            ("byte flips", v)
        }
        2 => {
            let copy = l[row].clone();
            l.insert(1 + rng.below(n), copy);
            ("duplicated row", join(&l))
        }
        3 => {
            l.remove(row);
            ("deleted row", join(&l))
        }
        4 => {
            let size = if rng.below(4) == 0 { (1 << 20) + 10 } else { 100_000 };
            let fill = [b'x', b'7', b' ', b'"'][rng.below(4)];
            let mut f: Vec<Vec<u8>> = l[row].split(|&c| c == b',').map(<[u8]>::to_vec).collect();
            let k = rng.below(f.len());
            f[k] = vec![fill; size];
            l[row] = f.join(&b',');
            ("huge field", join(&l))
        }
        5 => {
            let target = if rng.below(2) == 0 { 0 } else { row };
            let extra = [5, 1_200, 20_000][rng.below(3)];
            l[target].extend(std::iter::repeat_n(b',', extra));
            ("wide row", join(&l))
        }
        6 => {
            let bad: &[u8] =
                [&b"NaN"[..], b"inf", b"-inf", b"1e400", b"-1", b"", b"4294967296"][rng.below(7)];
            let mut f: Vec<Vec<u8>> = l[row].split(|&c| c == b',').map(<[u8]>::to_vec).collect();
            let k = 1 + rng.below(f.len().saturating_sub(1).max(1));
            if k < f.len() {
                f[k] = bad.to_vec();
            }
            l[row] = f.join(&b',');
            ("NaN/inf", join(&l))
        }
        7 => {
            let at = if rng.below(2) == 0 { 0 } else { row };
            let mut v = b"\xEF\xBB\xBF".to_vec();
            v.extend(&l[at]);
            l[at] = v;
            ("BOM", join(&l))
        }
        8 => {
            let (from, to) = [(b',', b';'), (b',', b'\t'), (b',', b'|')][rng.below(3)];
            if rng.below(2) == 0 {
                ("delimiter swapped", b.iter().map(|&c| if c == from { to } else { c }).collect())
            } else {
                for c in l[row].iter_mut().filter(|c| **c == from) {
                    *c = to;
                }
                ("delimiter swapped in a row", join(&l))
            }
        }
        9 => ("empty", Vec::new()),
        10 => {
            let mut f: Vec<Vec<u8>> = l[row].split(|&c| c == b',').map(<[u8]>::to_vec).collect();
            f[0] = vec![b'q'; 300];
            l[row] = f.join(&b',');
            ("long id", join(&l))
        }
        11 => (
            "CRLF",
            join(&l)
                .iter()
                .flat_map(|&c| if c == b'\n' { vec![b'\r', b'\n'] } else { vec![c] })
                .collect(),
        ),
        12 => {
            let mut f: Vec<Vec<u8>> = l[0].split(|&c| c == b',').map(<[u8]>::to_vec).collect();
            let (i, j) = (rng.below(f.len()), rng.below(f.len()));
            f.swap(i, j);
            l[0] = f.join(&b',');
            ("header columns swapped", join(&l))
        }
        _ => {
            let mut v = b.to_vec();
            let i = rng.below(v.len());
            v.insert(i, [b'"', b'\n', 0u8, 0xFF][rng.below(4)]);
            ("quote, newline, NUL or invalid UTF-8", v)
        }
    }
}

fn request(dir: &Path) -> PlanRequest {
    PlanRequest {
        schools: Source::Path(dir.join("schools.csv")),
        pupils: Source::Path(dir.join("pupils.csv")),
        distances: Distances::Matrix(Source::Path(dir.join("matrix.csv"))),
        policy: catchment::Policy::default(),
        stability: None,
        city: None,
        compare: CompareSpec::default(),
        pins: None,
    }
}

/// Every file of a directory with its bytes (`None`: the directory is absent).
fn snapshot(dir: &Path) -> Option<Vec<(PathBuf, Vec<u8>)>> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    v.sort();
    Some(v)
}

/// The outcome of one run: exit code and the error's message.
fn run(dir: &Path, out: &Path) -> (u8, String) {
    let req = request(dir);
    let loaded = match req.load(&|_| ()) {
        Ok(l) => l,
        Err(e) => return (e.exit_code(), e.to_string()),
    };
    let written = loaded.solve(&|_| ()).and_then(|r| r.write(&loaded, out, &|_| ()));
    match written {
        Err(e) => (e.exit_code(), e.to_string()),
        Ok(_) => {
            // A plan written from mutated inputs is still a true plan of those inputs.
            let r = catchment::check::check_plan(&loaded.inst, &loaded.matrix, out, None)
                .expect("the written plan can be checked");
            assert!(r.ok(), "the plan fails check: {:?}", r.failures);
            (0, String::new())
        }
    }
}

#[test]
fn mutated_demo_inputs_never_panic_damage_the_output_or_name_a_pupil() {
    let runs: usize =
        std::env::var("CATCHMENT_FUZZ_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(600);
    let seed: u64 =
        std::env::var("CATCHMENT_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(19);
    let base = base();
    let pupil_ids: Vec<String> = String::from_utf8_lossy(&base[1])
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("inputs");
    std::fs::create_dir(&dir).unwrap();
    for (f, b) in FILES.iter().zip(&base) {
        std::fs::write(dir.join(f), b).unwrap();
    }
    // An earlier plan in the output directory, to be replaced only by a complete one.
    let earlier = tmp.path().join("earlier");
    assert_eq!(run(&dir, &earlier).0, 0, "the unmutated slice solves");
    let mut rng = Rng(seed);
    let mut codes = std::collections::BTreeMap::<u8, usize>::new();
    for i in 0..runs {
        let file = rng.below(3);
        let (what, bytes) = mutate(&mut rng, &base[file]);
        for (k, (f, b)) in FILES.iter().zip(&base).enumerate() {
            std::fs::write(dir.join(f), if k == file { &bytes } else { b }).unwrap();
        }
        let out = tmp.path().join("plan");
        let _ = std::fs::remove_dir_all(&out);
        if rng.below(2) == 0 {
            copy_dir(&earlier, &out);
        }
        let before = snapshot(&out);
        let case = format!("run {i} (seed {seed}): {what} in {}", FILES[file]);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&dir, &out)));
        let (code, message) = outcome.unwrap_or_else(|_| panic!("{case}: panicked"));
        *codes.entry(code).or_default() += 1;
        assert!(
            [0, exit::INVALID, exit::INFEASIBLE].contains(&code),
            "{case}: exit code {code}: {message}"
        );
        if code == 0 {
            for f in [
                "summary.json",
                "assignments.csv",
                "schools.csv",
                "certificate.json",
                ".catchment-output",
            ] {
                assert!(out.join(f).is_file(), "{case}: the plan lacks {f}");
            }
        } else {
            assert_eq!(snapshot(&out), before, "{case}: the output directory changed on error");
            if let Some(id) = pupil_ids.iter().find(|id| message.contains(id.as_str())) {
                panic!("{case}: the message names pupil {id}:\n{message}");
            }
        }
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{case}: left behind {left:?}");
    }
    eprintln!("{runs} runs (seed {seed}), exit codes: {codes:?}");
    assert!(codes.get(&exit::INVALID).is_some_and(|&n| n > runs / 4), "most mutations are refused");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}
