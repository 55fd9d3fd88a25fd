//! The published districts: every block of the city to a school, with the numbers that explain
//! it. No pupil appears in anything built here: only blocks, schools and aggregate counts.

use super::blocks::Block;
use super::{least_cost_school, nearest_school, BlockMatrix, DistrictRow};
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::Plan;

/// The school of every block: a block where the plan has pupils goes to the school holding
/// most of them (ties by walk + price, then school order); every other block to the school
/// minimising walk + price. For a certified plan both are the same rule — every pupil already
/// sits at a school minimising walk + price — and the first settles blocks on a price tie the
/// way the plan did.
///
/// `pupil_block[p]` is pupil p's row in `bm` (`None`: a pupil without a block).
///
/// `extra(block, school)` is added to walk + price for blocks without pupils (a change cost
/// against last year's districts), `None` where the block may not go (a school that forms no
/// class).
pub fn draw_districts(
    bm: &BlockMatrix,
    prices: &[i64],
    plan_assign: &[u32],
    pupil_block: &[Option<usize>],
    extra: &dyn Fn(usize, usize) -> Option<i64>,
) -> Vec<Option<usize>> {
    let n_s = bm.n_schools;
    let price = |s: usize| prices.get(s).copied().unwrap_or(0);
    let mut counts: Vec<Vec<u32>> = vec![Vec::new(); bm.blocks.len()];
    for (p, b) in pupil_block.iter().enumerate() {
        if let Some(b) = *b {
            if counts[b].is_empty() {
                counts[b] = vec![0; n_s];
            }
            counts[b][plan_assign[p] as usize] += 1;
        }
    }
    (0..bm.blocks.len())
        .map(|b| {
            let row = bm.row(b);
            if counts[b].is_empty() {
                least_cost_school(row, |s, d| extra(b, s).map(|x| d as i64 + price(s) + x))
            } else {
                let c = &counts[b];
                (0..n_s)
                    .filter(|&s| c[s] > 0)
                    .min_by_key(|&s| (std::cmp::Reverse(c[s]), row[s] as i64 + price(s), s))
            }
        })
        .collect()
}

/// One building is never split on a tie: the blocks of one street and house number (`20 A`,
/// `20 B`, `20 B 5`: staircases and flats of house 20) without pupils go to the building's
/// school — the school of most of its pupils, else of most of its blocks — wherever that school
/// is among their least-cost ones (walk + price + `extra`). Blocks with pupils keep the plan's
/// school: a building whose pupils the plan sends to two schools stays split, as the plan is.
pub fn keep_buildings_whole(
    blocks: &[Block],
    bm: &BlockMatrix,
    prices: &[i64],
    pupil_block: &[Option<usize>],
    extra: &dyn Fn(usize, usize) -> Option<i64>,
    school_of: &mut [Option<usize>],
) {
    use crate::instance::housenumber;
    use crate::routing::geocode::normalize_street;
    use std::collections::BTreeMap;
    let price = |s: usize| prices.get(s).copied().unwrap_or(0);
    let mut pupils = vec![0u32; bm.blocks.len()];
    for b in pupil_block.iter().flatten() {
        pupils[*b] += 1;
    }
    let mut buildings: BTreeMap<(String, u32), Vec<usize>> = BTreeMap::new();
    for blk in blocks {
        let (Some(street), Some(num), Some(b)) =
            (&blk.street, &blk.house_number, bm.index(&blk.id))
        else {
            continue;
        };
        let Some(h) = housenumber::parse(num).filter(|h| h.is_single()) else { continue };
        buildings.entry((normalize_street(street), h.first().number)).or_default().push(b);
    }
    for members in buildings.values().filter(|m| m.len() > 1) {
        // The building's school: most pupils, else most blocks; ties by school order.
        let mut votes: BTreeMap<usize, (u32, u32)> = BTreeMap::new();
        for &b in members {
            if let Some(s) = school_of[b] {
                let v = votes.entry(s).or_default();
                v.0 += pupils[b];
                v.1 += 1;
            }
        }
        let Some((&target, _)) = votes.iter().max_by_key(|(s, v)| (**v, std::cmp::Reverse(**s)))
        else {
            continue;
        };
        for &b in members {
            if pupils[b] > 0 || school_of[b] == Some(target) {
                continue;
            }
            let row = bm.row(b);
            let cost = |s: usize| {
                (row[s] != crate::routing::UNREACHABLE)
                    .then(|| extra(b, s).map(|x| row[s] as i64 + price(s) + x))
                    .flatten()
            };
            let best = (0..bm.n_schools).filter_map(cost).min();
            if best.is_some() && cost(target) == best {
                school_of[b] = Some(target);
            }
        }
    }
}

/// The district rows for every block of `blocks` (the city). Fails when a block has no row
/// in the block matrix. With `change` (a plan kept close to last year's districts by a change
/// cost), blocks without pupils this year go to the school of least `walk + price + change
/// cost`.
pub fn district_rows(
    inst: &Instance,
    plan: &Plan,
    blocks: &[Block],
    bm: &BlockMatrix,
    change: Option<(&crate::stability::Previous, u32)>,
) -> Result<Vec<DistrictRow>> {
    district_rows_pinned(inst, plan, blocks, bm, change, &[])
}

/// [`district_rows`] with pins: a pinned block is in its pin's district, also when it has no
/// pupils (a pinned block's pupils are fixed to the pin's school already), unless the plan
/// decided every block itself (contiguous districts).
pub fn district_rows_pinned(
    inst: &Instance,
    plan: &Plan,
    blocks: &[Block],
    bm: &BlockMatrix,
    change: Option<(&crate::stability::Previous, u32)>,
    pins: &[super::pins::Pin],
) -> Result<Vec<DistrictRow>> {
    let missing: Vec<&str> =
        blocks.iter().filter(|b| bm.index(&b.id).is_none()).map(|b| b.id.as_str()).collect();
    if !missing.is_empty() {
        return Err(Error::input(
            "blocks",
            None,
            Some("block_id"),
            format!(
            "{} block(s) of the blocks file have no walking distances in the block matrix, e.g. {}",
            missing.len(),
            missing.iter().take(5).copied().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let pupil_block: Vec<Option<usize>> =
        inst.pupils.iter().map(|p| p.block.as_deref().and_then(|b| bm.index(b))).collect();
    // Blocks without pupils: walk + price, + the change cost off last year's school (stable
    // plans); under a minimum class size a school that forms no class takes nobody.
    let before_of = match change {
        Some((previous, _)) => block_previous(bm, inst, previous),
        None => vec![None; bm.blocks.len()],
    };
    let change_cost = change.map(|c| c.1 as i64).unwrap_or(0);
    let pen = |b: usize, s: usize| match before_of[b] {
        Some(k) if k != s => change_cost,
        _ => 0,
    };
    let closing = plan.policy.min_class_size.is_some();
    let open = |s: usize| !closing || plan.classes.get(s).copied().unwrap_or(1) > 0;
    let school_of = match &plan.districts {
        // The plan decided every block (contiguous districts).
        Some(d) => bm.blocks.iter().map(|id| d.get(id).map(|&s| s as usize)).collect(),
        None => {
            let extra = |b: usize, s: usize| open(s).then(|| pen(b, s));
            let mut d = draw_districts(bm, &plan.prices, &plan.assign, &pupil_block, &extra);
            keep_buildings_whole(blocks, bm, &plan.prices, &pupil_block, &extra, &mut d);
            for pin in pins {
                if let (Some(b), Some(s)) =
                    (bm.index(&pin.block_id), inst.school_index(&pin.school_id))
                {
                    d[b] = Some(s);
                }
            }
            d
        }
    };
    let price = |s: usize| plan.prices.get(s).copied().unwrap_or(0);
    Ok(blocks
        .iter()
        .map(|blk| {
            let b = bm.index(&blk.id).expect("checked above");
            let row = bm.row(b);
            let school = school_of[b];
            let nearest = nearest_school(row);
            DistrictRow {
                block_id: blk.id.clone(),
                school,
                walk_m: school.map(|s| row[s]),
                nearest,
                cost_to_others_m: match (school, nearest) {
                    (Some(s), Some((n, _))) => price(n) - price(s),
                    _ => 0,
                },
                residents: blk.residents,
                keep_cost_m: match (school, nearest) {
                    (Some(s), Some((n, _))) => pen(b, n) - pen(b, s),
                    _ => 0,
                },
            }
        })
        .collect())
}

/// What a council publishes besides the plan: the city's blocks, walks from every block to
/// every school, and (for grid blocks) the named streets.
#[derive(Debug, Clone)]
pub struct City {
    /// Every block of the city, sorted by id.
    pub blocks: Vec<Block>,
    /// Walking meters from every block to every school.
    pub matrix: BlockMatrix,
    /// Named street lines (WGS84), for the street list of grid blocks.
    pub streets: Option<Vec<super::streets::StreetLine>>,
    /// The area the districts divide (WGS84), e.g. the city boundary; without one, the blocks
    /// with a margin of 300 m.
    pub area: Option<geo::MultiPolygon<f64>>,
}

/// The published districts of a plan.
#[derive(Debug, Clone)]
pub struct Publication {
    /// One district row per block of the city, in block order.
    pub rows: Vec<DistrictRow>,
    /// Street and house number per row, for address blocks.
    pub addresses: Vec<(Option<String>, Option<String>)>,
    /// One (multi)polygon per school (WGS84): the union of its grid cells, or for address
    /// blocks of its blocks' Voronoi cells; `None` when they could not be drawn (see `notes`).
    pub polygons: Option<Vec<geo::MultiPolygon<f64>>>,
    /// Per-school figures of the districts, one per school in instance order.
    pub properties: Vec<super::polygons::DistrictProperties>,
    /// Which streets (and house numbers) belong to which school, when it can be made.
    pub streets: Option<super::streets::StreetList>,
    /// Why a part is missing or differs (no street list without streets; address blocks the map
    /// cannot show inside their own school's district).
    pub notes: Vec<String>,
    /// How the districts lie on the blocks' adjacency graph: pieces, enclaves, cut edges.
    pub shape: Shape,
}

/// The shape of published districts on the blocks' adjacency graph (grid edges or Delaunay
/// neighbours, pairs the walks show to be far apart on foot left out).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shape {
    /// How adjacency was taken: `grid` (cells sharing an edge) or `delaunay` (address points).
    pub adjacency: String,
    /// Pairs of neighbouring blocks left out because the walks show no short walk joins them.
    pub barriers_dropped: usize,
    /// Links added between the nearest blocks of pieces of the city no rule joins.
    pub links_added: usize,
    /// Connected pieces of all districts together (one per district when contiguous).
    pub pieces: usize,
    /// Pieces not holding the school's own block (or, without one, not the largest piece).
    pub enclaves: usize,
    /// Schools whose district is more than one piece.
    pub fragmented_schools: usize,
    /// Per school (instance order): pieces, and cut edges (neighbouring block pairs across the
    /// district's border, a compactness figure: fewer is more compact).
    pub per_school: Vec<SchoolShape>,
}

/// One district's shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SchoolShape {
    /// The school's id.
    pub school_id: String,
    /// Blocks in the district.
    pub blocks: usize,
    /// Connected pieces (1 when contiguous; 0 for a school without blocks).
    pub pieces: usize,
    /// Neighbouring block pairs with one block in the district and one outside.
    pub cut_edges: usize,
}

/// The shape of districts: `school[b]` is block b's school.
pub fn shape(inst: &Instance, city: &City, school: &[Option<usize>]) -> Shape {
    use super::adjacency;
    let (adj, kind, barriers_dropped, links_added) =
        adjacency::for_city(&city.blocks, &city.matrix);
    let n_s = inst.schools.len();
    let pieces = adjacency::pieces(&adj, school, n_s);
    let locations: Vec<(f64, f64)> = inst.schools.iter().map(|s| (s.lat, s.lon)).collect();
    let roots = adjacency::root_blocks(&city.blocks, &locations);
    let enclaves = adjacency::enclaves(&adj, school, &roots).len();
    let mut blocks = vec![0usize; n_s];
    let mut cut = vec![0usize; n_s];
    for (b, nb) in adj.neighbours.iter().enumerate() {
        if let Some(s) = school[b] {
            blocks[s] += 1;
            cut[s] += nb.iter().filter(|&&c| school[c] != Some(s)).count();
        }
    }
    Shape {
        adjacency: kind.into(),
        barriers_dropped,
        links_added,
        pieces: pieces.iter().sum(),
        enclaves,
        fragmented_schools: pieces.iter().filter(|&&p| p > 1).count(),
        per_school: inst
            .schools
            .iter()
            .enumerate()
            .map(|(s, sc)| SchoolShape {
                school_id: sc.id.clone(),
                blocks: blocks[s],
                pieces: pieces[s],
                cut_edges: cut[s],
            })
            .collect(),
    }
}

/// Draw and describe the districts of `plan` for every block of the city. `inst` is the
/// instance the plan was solved on (the effective one, with the policy's class size); `change`
/// is last year's districts and the change cost of a plan kept close to them; `pins` the
/// blocks the plan was solved with fixed (each in its pin's district).
pub fn publish(
    inst: &Instance,
    plan: &Plan,
    city: &City,
    change: Option<(&crate::stability::Previous, u32)>,
    pins: &[super::pins::Pin],
) -> Result<Publication> {
    let rows = district_rows_pinned(inst, plan, &city.blocks, &city.matrix, change, pins)?;
    let school: Vec<Option<usize>> = rows.iter().map(|r| r.school).collect();
    let mut notes = Vec::new();
    let n_schools = inst.schools.len();
    let polygons = if super::polygons::on_grid(&rows) {
        super::polygons::district_polygons(&rows, n_schools, city.area.as_ref())
    } else {
        // Address blocks: a Voronoi tessellation of their locations.
        super::voronoi::point_polygons(&city.blocks, &school, n_schools, city.area.as_ref()).map(
            |d| {
                if d.shared_location > 0 {
                    notes.push(format!(
                        "districts.geojson: {} block(s) share their location with as many or more blocks of another school, and the map draws that location in the other school's district; districts.csv and the street list give each block its own school.",
                        d.shared_location
                    ));
                }
                if d.outside_area > 0 {
                    notes.push(format!(
                        "districts.geojson: {} block(s) lie outside the area; the map divides the area only.",
                        d.outside_area
                    ));
                }
                d.polygons
            },
        )
    };
    let polygons = match polygons {
        Ok(p) => Some(p),
        Err(e) => {
            notes.push(format!("no districts.geojson: {e}"));
            None
        }
    };
    let has_addresses = city.blocks.iter().any(|b| b.street.is_some() && b.house_number.is_some());
    let streets = if has_addresses {
        Some(super::streets::address_street_list(&city.blocks, &school))
    } else if let Some(lines) = &city.streets {
        Some(super::streets::grid_street_list(lines, &city.blocks, &school)?)
    } else {
        notes.push("no street list: the blocks have no street and house number, and no street file was given".into());
        None
    };
    let mut loads = vec![0u64; inst.schools.len()];
    for &s in &plan.assign {
        loads[s as usize] += 1;
    }
    // Blocks and residents per school, in one pass.
    let mut blocks = vec![(0usize, 0u64); inst.schools.len()];
    for r in &rows {
        if let Some(s) = r.school {
            blocks[s].0 += 1;
            blocks[s].1 += r.residents as u64;
        }
    }
    let properties = inst
        .schools
        .iter()
        .enumerate()
        .map(|(s, sc)| super::polygons::DistrictProperties {
            school_id: sc.id.clone(),
            name: sc.name.clone(),
            pupils: loads[s],
            capacity: sc.capacity,
            classes: plan.classes.get(s).copied().unwrap_or(0),
            blocks: blocks[s].0,
            residents: blocks[s].1,
        })
        .collect();
    let shape = shape(inst, city, &school);
    Ok(Publication {
        addresses: city.blocks.iter().map(|b| (b.street.clone(), b.house_number.clone())).collect(),
        shape,
        rows,
        polygons,
        properties,
        streets,
        notes,
    })
}

/// Last year's school of every block of a block matrix (index into `schools`).
pub fn block_previous(
    bm: &BlockMatrix,
    inst: &Instance,
    previous: &crate::stability::Previous,
) -> Vec<Option<usize>> {
    bm.blocks.iter().map(|b| previous.get(b).and_then(|s| inst.school_index(s))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::UNREACHABLE;

    fn bm(rows: &[&[u32]]) -> BlockMatrix {
        BlockMatrix {
            blocks: (0..rows.len()).map(|i| format!("B{i}")).collect(),
            n_schools: rows[0].len(),
            meters: rows.iter().flat_map(|r| r.iter().copied()).collect(),
        }
    }

    #[test]
    fn blocks_with_pupils_follow_the_majority_and_the_rest_follow_the_prices() {
        // Two schools; school 0 is full (price 300).
        let m = bm(&[&[100, 350], &[100, 500], &[100, 400], &[UNREACHABLE, UNREACHABLE]]);
        let prices = [300, 0];
        // Block 0 alone would go to school 1 (350 < 100 + 300); its pupils decide instead.
        let assign = [0, 0, 1];
        let pupil_block = [Some(0), Some(0), Some(0)];
        let d = draw_districts(&m, &prices, &assign, &pupil_block, &|_, _| Some(0));
        assert_eq!(d[0], Some(0), "two of three pupils are at school 0");
        assert_eq!(d[1], Some(0), "100 + 300 < 500 + 0");
        assert_eq!(d[2], Some(0), "tie 400 = 400: school order");
        assert_eq!(d[3], None, "no route");
        let d = draw_districts(&m, &prices, &[], &[], &|_, _| Some(0));
        assert_eq!(d[0], Some(1), "without pupils: 350 + 0 < 100 + 300");
    }

    /// Issue 14: "20 A" and "20 B" (staircases of one building) went to two schools on a tie.
    #[test]
    fn a_building_is_not_split_by_its_staircase_on_a_tie() {
        let blk = |i: usize, nr: &str| Block {
            id: format!("B{i}"),
            lat: 52.1,
            lon: 11.6,
            residents: 5,
            street: Some("Hauptstraße".into()),
            house_number: Some(nr.into()),
        };
        // Blocks 0-2 are house 20 (one place, one row); school 1 costs as much as school 0
        // with its price: 300 + 0 = 100 + 200. Block 3 is house 22, same walks, no pupils.
        let m = bm(&[&[100, 300], &[100, 300], &[100, 300], &[100, 300]]);
        let prices = [200, 0];
        let blocks = vec![blk(0, "20 A"), blk(1, "20 B"), blk(2, "20 B 5"), blk(3, "22")];
        // Two pupils in 20 A, both at school 1 (the plan's choice on the tie).
        let pupil_block = [Some(0), Some(0)];
        let assign = [1, 1];
        let mut d = draw_districts(&m, &prices, &assign, &pupil_block, &|_, _| Some(0));
        assert_eq!(d, vec![Some(1), Some(0), Some(0), Some(0)], "the tie broken by school order");
        keep_buildings_whole(&blocks, &m, &prices, &pupil_block, &|_, _| Some(0), &mut d);
        assert_eq!(
            d,
            vec![Some(1), Some(1), Some(1), Some(0)],
            "house 20 whole; 22 is another house"
        );

        // A plan that truly splits the building (pupils of 20 A at 1, of 20 B at 0) stays split.
        let pupil_block = [Some(0), Some(1)];
        let assign = [1, 0];
        let mut d = draw_districts(&m, &prices, &assign, &pupil_block, &|_, _| Some(0));
        keep_buildings_whole(&blocks, &m, &prices, &pupil_block, &|_, _| Some(0), &mut d);
        assert_eq!(&d[..2], &[Some(1), Some(0)]);

        // Not on a tie: a block whose walk + price is higher at the building's school keeps its own.
        let m = bm(&[&[100, 300], &[100, 301], &[100, 300], &[100, 300]]);
        let pupil_block = [Some(0), Some(0)];
        let assign = [1, 1];
        let mut d = draw_districts(&m, &prices, &assign, &pupil_block, &|_, _| Some(0));
        keep_buildings_whole(&blocks, &m, &prices, &pupil_block, &|_, _| Some(0), &mut d);
        assert_eq!(&d[..3], &[Some(1), Some(0), Some(1)]);
    }
}
