//! The robustness simulation on the Magdeburg case: reproducible across thread counts, no change
//! means no overflow, buffers keep the overflow probability under the target, the robust
//! re-solve, and clear errors for bad arguments.

mod common;

use catchment::districts::{blocks::read_blocks, publish::City, read_block_matrix};
use catchment::report::simulate::{self, Model, Options, SchoolInput, Simulation};
use catchment::report::simulate_files::read_plan_inputs;
use catchment::{read_instance, routing, solve_plan, Policy};
use common::bin;
use std::path::{Path, PathBuf};

fn magdeburg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg")
}

/// The Magdeburg plan with its districts, written as `catchment solve --blocks` writes it.
fn plan_dir(dir: &Path) -> PathBuf {
    let data = magdeburg();
    let inst = read_instance(&data.join("schools.csv"), &data.join("pupils.csv")).unwrap();
    let m = routing::read_matrix(&data.join("matrix.csv"), &inst).unwrap();
    let plan = solve_plan(&inst, &m, &Policy::default(), None).unwrap();
    let city = City {
        blocks: read_blocks(&data.join("blocks.csv")).unwrap(),
        matrix: read_block_matrix(&data.join("matrix.csv"), &inst.schools).unwrap(),
        streets: None,
        area: None,
    };
    let out = dir.join("plan");
    let extras = catchment::output::Extras { city: Some(&city), ..Default::default() };
    catchment::output::write_plan(&out, &inst, &m, &plan, &extras).unwrap();
    out
}

fn run_in(threads: usize, schools: &[SchoolInput], model: &Model, opts: &Options) -> Simulation {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| simulate::simulate(schools, model, opts, &|_| ())).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_result_on_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let schools = read_plan_inputs(&plan_dir(dir.path())).unwrap();
    let opts = Options { draws: 3000, seed: 42, target: 0.05 };
    let model = Model::default();
    let one = run_in(1, &schools, &model, &opts);
    let two = run_in(2, &schools, &model, &opts);
    assert_eq!(one, two);
    assert!(one.p_any_over_capacity > 0.0, "the default model moves pupils");
    let other = run_in(2, &schools, &model, &Options { seed: 43, ..opts });
    assert_ne!(one.per_school, other.per_school, "another seed gives other draws");

    // The command line: byte-identical files for --threads 1 and 2.
    let files: Vec<Vec<u8>> = [1, 2]
        .iter()
        .map(|t| {
            let out = dir.path().join(format!("sim-{t}"));
            let o = bin()
                .args([
                    "simulate",
                    "--draws",
                    "2000",
                    "--seed",
                    "7",
                    "--threads",
                    &t.to_string(),
                    "--plan",
                ])
                .arg(dir.path().join("plan"))
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let mut bytes = std::fs::read(out.join("simulation.json")).unwrap();
            bytes.extend(std::fs::read(out.join("simulation.csv")).unwrap());
            bytes
        })
        .collect();
    assert_eq!(files[0], files[1]);
}

#[test]
fn without_change_no_school_overflows_and_every_pupil_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let schools = read_plan_inputs(&plan_dir(dir.path())).unwrap();
    let planned: u64 = schools.iter().map(|s| s.load as u64).sum();
    assert_eq!(planned, 2159);
    assert!(schools.iter().all(|s| s.load <= s.capacity), "the plan is feasible");
    let opts = Options { draws: 500, seed: 3, target: 0.05 };
    let sim = run_in(2, &schools, &Model::none(), &opts);
    assert_eq!(sim.p_any_over_capacity, 0.0);
    assert_eq!(sim.expected_pupils, planned as f64);
    for (r, s) in sim.per_school.iter().zip(&schools) {
        assert_eq!((r.p_over_capacity, r.p_class_over, r.buffer), (0.0, 0.0, 0), "{r:?}");
        assert_eq!((r.expected_load, r.p95_load), (s.load as f64, s.load), "{r:?}");
    }
    for d in 0..100 {
        assert_eq!(
            simulate::draw(&schools, &Model::none(), 3, d),
            schools.iter().map(|s| s.load).collect::<Vec<_>>()
        );
    }
    // Moves balanced by newcomers with no cohort change keep the cohort's size in expectation.
    let moving =
        run_in(2, &schools, &Model { move_prob: 0.15, cohort_change: 0.0, cohort_sd: 0.0 }, &opts);
    assert!((moving.expected_pupils - planned as f64).abs() < 5.0, "{}", moving.expected_pupils);
    // Newcomers come where the residents are: every school with planned pupils keeps some.
    assert!(moving.per_school.iter().all(|r| r.expected_load > 0.0));
}

#[test]
fn a_school_with_its_buffer_free_overflows_at_most_at_the_target_rate() {
    let dir = tempfile::tempdir().unwrap();
    let schools = read_plan_inputs(&plan_dir(dir.path())).unwrap();
    let opts = Options { draws: 4000, seed: 11, target: 0.05 };
    let model = Model::default();
    let sim = run_in(2, &schools, &model, &opts);
    assert!(
        sim.per_school.iter().filter(|r| r.buffer > 0).count() > 20,
        "full schools need buffers"
    );
    // Hold each school's buffer back: capacity = planned load + buffer. The draws depend on the
    // loads and residents only, so they are the same draws.
    let held: Vec<SchoolInput> = schools
        .iter()
        .zip(&sim.per_school)
        .map(|(s, r)| SchoolInput { capacity: s.load + r.buffer, ..s.clone() })
        .collect();
    let again = run_in(1, &held, &model, &opts);
    for (r, b) in again.per_school.iter().zip(&sim.per_school) {
        assert!(r.p_over_capacity <= opts.target, "{r:?}");
        assert_eq!(r.short, 0);
        if b.buffer > 0 {
            // One seat less would not do: the buffer is the least that keeps under the target.
            let tight: Vec<SchoolInput> = held
                .iter()
                .map(|s| {
                    if s.id == r.school_id {
                        SchoolInput { capacity: s.capacity - 1, ..s.clone() }
                    } else {
                        s.clone()
                    }
                })
                .collect();
            let t = run_in(2, &tight, &model, &opts);
            let tr = t.per_school.iter().find(|x| x.school_id == r.school_id).unwrap();
            assert!(tr.p_over_capacity > opts.target, "{tr:?}");
            break;
        }
    }
}

#[test]
fn buffer_auto_re_solves_with_the_buffers_and_lowers_the_risk() {
    let dir = tempfile::tempdir().unwrap();
    let data = magdeburg();
    // Classes of up to 25 (the draft law's size) leave room for the buffers.
    let plan = dir.path().join("plan25");
    let o = bin()
        .arg("solve")
        .args(["--max-class-size", "25", "--schools"])
        .arg(data.join("schools.csv"))
        .arg("--pupils")
        .arg(data.join("pupils.csv"))
        .arg("--matrix")
        .arg(data.join("matrix.csv"))
        .arg("--blocks")
        .arg(data.join("blocks.csv"))
        .arg("--out")
        .arg(&plan)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (out, robust) = (dir.path().join("sim"), dir.path().join("robust"));
    let o = bin()
        .args([
            "simulate",
            "--draws",
            "2000",
            "--buffer",
            "auto",
            "--max-class-size",
            "25",
            "--plan",
        ])
        .arg(&plan)
        .arg("--schools")
        .arg(data.join("schools.csv"))
        .arg("--pupils")
        .arg(data.join("pupils.csv"))
        .arg("--matrix")
        .arg(data.join("matrix.csv"))
        .arg("--blocks")
        .arg(data.join("blocks.csv"))
        .arg("--out")
        .arg(&out)
        .arg("--out-plan")
        .arg(&robust)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: simulate::Robustness =
        serde_json::from_slice(&std::fs::read(out.join("robustness.json")).unwrap()).unwrap();
    assert_eq!(r.scale, 1.0, "2,475 seats hold every buffer");
    assert!(r.walk_after_m >= r.walk_before_m, "held-back seats cannot shorten the optimum");
    assert!(
        r.after.expected_schools_over < r.before.expected_schools_over,
        "{} vs {}",
        r.after.expected_schools_over,
        r.before.expected_schools_over
    );
    let worst = |s: &Simulation| s.per_school.iter().map(|x| x.p_over_capacity).fold(0.0, f64::max);
    assert!(worst(&r.after) < worst(&r.before));
    // Re-solved until every school is under the target (buffers grown where a school's new
    // load or district needed more).
    assert!(
        r.after.per_school.iter().all(|x| x.p_over_capacity <= 0.05),
        "{:?}",
        r.after.per_school
    );
    assert!(r.rounds >= 1 && r.rounds <= simulate::MAX_ROUNDS);
    // The robust plan keeps every school's buffer free.
    let robust_schools = read_plan_inputs(&robust).unwrap();
    for (s, (id, b)) in robust_schools.iter().zip(&r.buffers) {
        let real = r.after.per_school.iter().find(|x| &x.school_id == id).unwrap().capacity;
        assert_eq!((&s.id, s.capacity), (id, real - b));
        assert!(s.load + b <= real);
    }
    assert!(std::fs::read_to_string(out.join("robust-simulation.csv"))
        .unwrap()
        .starts_with("school_id,"));
}

#[test]
fn when_seats_are_short_the_buffers_are_scaled_down_to_stay_feasible() {
    let data = magdeburg();
    let inst = read_instance(&data.join("schools.csv"), &data.join("pupils.csv")).unwrap();
    let m = routing::read_matrix(&data.join("matrix.csv"), &inst).unwrap();
    let spare = inst.seats() - inst.pupils.len() as u64;
    let buffers: Vec<(String, u32)> = inst.schools.iter().map(|s| (s.id.clone(), 5)).collect();
    assert!(spare < 5 * inst.schools.len() as u64);
    let r = simulate::reduce_capacities(&inst, &m, None, &buffers).unwrap();
    assert!(r.scale < 1.0 && r.scale > 0.0, "{}", r.scale);
    assert!(r.instance.seats() >= inst.pupils.len() as u64);
    assert!(solve_plan(&r.instance, &m, &Policy::default(), None).is_ok());
    // Equal buffers grow a seat at every school at once: one step more would not fit.
    let applied: u64 = r.applied.iter().map(|&b| b as u64).sum();
    assert!(
        applied <= spare && applied + inst.schools.len() as u64 > spare,
        "{applied} of {spare}"
    );
}

fn fails(args: &[&str], plan: &Path) -> String {
    let o = bin().arg("simulate").arg("--plan").arg(plan).args(args).output().unwrap();
    assert!(!o.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_arguments_and_files_give_clear_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_dir(dir.path());
    let out = dir.path().join("never");
    let o = |a: &[&str]| {
        let mut v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        v.extend(["--out".to_string(), out.display().to_string()]);
        v
    };
    let run = |a: &[&str]| fails(&o(a).iter().map(String::as_str).collect::<Vec<_>>(), &plan);
    assert!(run(&["--move-prob", "1.5"]).contains("move_prob"));
    assert!(run(&["--draws", "0"]).contains("draws"));
    assert!(run(&["--target", "1"]).contains("target"));
    assert!(run(&["--cohort-sd", "-0.1"]).contains("cohort_sd"));
    assert!(run(&["--buffer", "auto"]).contains("--schools"));
    assert!(!out.exists(), "nothing written on error");

    // A plan without districts.csv: say how to get one.
    std::fs::remove_file(plan.join("districts.csv")).unwrap();
    assert!(fails(&[], &plan).contains("--blocks"));
    // A district naming an unknown school: file, line and field.
    std::fs::write(
        plan.join("districts.csv"),
        "block_id,school_id,walk_m,residents\nB1,S01,100,5\nB2,S99,100,5\n",
    )
    .unwrap();
    let e = fails(&[], &plan);
    assert!(e.contains("districts.csv:3") && e.contains("school_id") && e.contains("S99"), "{e}");
    std::fs::write(
        plan.join("districts.csv"),
        "block_id,school_id,walk_m,residents\nB1,S01,100,many\n",
    )
    .unwrap();
    let e = fails(&[], &plan);
    assert!(e.contains("districts.csv:2") && e.contains("residents"), "{e}");
    // schools.csv loads that disagree with assignments.csv.
    std::fs::write(
        plan.join("districts.csv"),
        "block_id,school_id,walk_m,residents\nB1,S01,100,5\n",
    )
    .unwrap();
    let mut rdr = csv::Reader::from_path(plan.join("schools.csv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let load = headers.iter().position(|h| h == "load").unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let mut f: Vec<String> = rec.iter().map(str::to_string).collect();
        if f[0] == "S01" {
            f[load] = (f[load].parse::<u32>().unwrap() + 1).to_string();
        }
        w.write_record(&f).unwrap();
    }
    std::fs::write(plan.join("schools.csv"), w.into_inner().unwrap()).unwrap();
    let e = fails(&[], &plan);
    assert!(
        e.contains("schools.csv") && e.contains("'S01'") && e.contains("assignments.csv"),
        "{e}"
    );
    assert!(!out.exists(), "nothing written on error");
}
