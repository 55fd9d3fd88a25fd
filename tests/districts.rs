//! Districts for every block from the certificate's prices, and the explanation for a family.

use catchment::districts::{assign_blocks, explain, read_block_matrix};
use catchment::{read_instance, routing, solve_plan, Policy};
use std::path::Path;

#[test]
fn every_block_gets_the_school_its_pupils_have_and_explanations_follow_the_prices() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    let inst = read_instance(&dir.join("schools.csv"), &dir.join("pupils.csv")).unwrap();
    let m = routing::read_matrix(&dir.join("matrix.csv"), &inst).unwrap();
    let plan = solve_plan(&inst, &m, &Policy::default(), None).unwrap();
    let prices = &plan.certificate.as_ref().unwrap().prices;
    let bm = read_block_matrix(&dir.join("matrix.csv"), &inst.schools).unwrap();
    let blocks = std::fs::read_to_string(dir.join("blocks.csv")).unwrap();
    assert_eq!(bm.blocks.len(), blocks.lines().count() - 1, "every block of the city has a row");
    let districts = assign_blocks(&bm, prices);
    assert!(districts.iter().all(Option::is_some));
    // Every pupil's school is as good as its block's district school by walk + price: the same
    // school, or one tied with it (pupils on a price boundary).
    for (p, pupil) in inst.pupils.iter().enumerate() {
        let b = bm.index(pupil.block.as_deref().unwrap()).unwrap();
        let d = districts[b].unwrap();
        let s = plan.assign[p] as usize;
        let row = bm.row(b);
        assert_eq!(row[s] as i64 + prices[s], row[d] as i64 + prices[d], "pupil {}", pupil.id);
    }
    // Explanations: nearest school or a full nearer one whose seat costs others at least the
    // meters saved.
    let mut explained_far = 0;
    for (b, id) in bm.blocks.iter().enumerate().step_by(7) {
        let e = explain(&bm, &inst.schools, prices, id).unwrap();
        assert_eq!(Some(inst.school_index(&e.school).unwrap()), districts[b]);
        assert!(e.nearest_walk_m <= e.walk_m);
        if e.nearest_walk_m < e.walk_m {
            explained_far += 1;
            assert!(e.cost_to_others_m >= (e.walk_m - e.nearest_walk_m) as i64, "{e:?}");
            assert!(e.english.contains("nearer") && e.german.contains("näher"), "{e:?}");
        } else {
            assert!(e.english.contains("is the nearest school"), "{e:?}");
        }
    }
    assert!(explained_far > 0);
}
