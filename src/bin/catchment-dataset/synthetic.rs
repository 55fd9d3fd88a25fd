//! A seeded synthetic town: clustered population, schools where people live, a river crossed
//! only at bridges, and walking distances along a rectangular street grid. Everything it writes
//! says it is synthetic.
//!
//! Distances: on a grid of streets a walk between two points is their Manhattan distance; when
//! the river lies between them, the walk goes over the bridge that makes it shortest. Seconds
//! assume 4.5 km/h.
//!
//! [`Family`] varies the town for benchmarks (how pupils spread, how many bridges, how many
//! seats and how they are shared, how walks detour); [`Family::Clustered`] is the town above,
//! and [`generate`] writes exactly it.

use catchment::error::Result;
use catchment::instance::write_atomically;
use catchment::instance::{Instance, Pupil, School, DEFAULT_CLASS_SIZE};
use catchment::routing::{write_matrix, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use std::path::Path;

/// The label every synthetic file carries.
pub const LABEL: &str =
    "synthetic street grid (Manhattan distance, river crossed at bridges) - not real data";

const ORIGIN_LAT: f64 = 52.0;
const ORIGIN_LON: f64 = 11.0;
const M_PER_DEG_LAT: f64 = 111_320.0;
const WALK_M_PER_S: f64 = 1.25;

pub struct Town {
    pub instance: Instance,
    pub matrix: Matrix,
    /// Local coordinates in meters (x east, y north) of pupils and schools (read by the tests
    /// that include this module, not by the binary).
    #[allow(dead_code)]
    pub pupil_xy: Vec<(f64, f64)>,
    #[allow(dead_code)]
    pub school_xy: Vec<(f64, f64)>,
    pub seed: u64,
    /// The grid cells with pupils, with their walks to every school.
    pub blocks: Vec<SyntheticBlock>,
    /// The town's outline (lat, lon), closed: the area its districts tile.
    pub area: Vec<(f64, f64)>,
    /// The kind of town.
    pub family: Family,
}

/// A 100 m grid cell of the town with pupils.
pub struct SyntheticBlock {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    /// Synthetic residents: [`RESIDENTS_PER_PUPIL`] per pupil of the cell.
    pub residents: u32,
    /// Walk from the cell's centre to every school (meters).
    pub walks: Vec<u32>,
}

/// Residents a synthetic cell counts per pupil living in it.
pub const RESIDENTS_PER_PUPIL: u32 = 20;

struct Geometry {
    size: f64,
    bridges: Vec<(f64, f64)>,
}

impl Geometry {
    fn river_x(&self, y: f64) -> f64 {
        self.size * 0.55 + 250.0 * (y / 1100.0).sin()
    }
    fn east(&self, (x, y): (f64, f64)) -> bool {
        x > self.river_x(y)
    }
    fn walk(&self, a: (f64, f64), b: (f64, f64)) -> f64 {
        let l1 = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() + (a.1 - b.1).abs();
        if self.east(a) == self.east(b) {
            l1(a, b)
        } else {
            self.bridges.iter().map(|&br| l1(a, br) + l1(br, b)).fold(f64::INFINITY, f64::min)
        }
    }
}

/// The inverse of [`to_lat_lon`] (before its rounding).
fn to_xy(lat: f64, lon: f64) -> (f64, f64) {
    let y = (lat - ORIGIN_LAT) * M_PER_DEG_LAT;
    let x = (lon - ORIGIN_LON) * M_PER_DEG_LAT * ORIGIN_LAT.to_radians().cos();
    (x, y)
}

/// The 100 m census-style grid cell (EPSG:3035) holding a point: its id and its centre.
fn cell_of(lat: f64, lon: f64) -> (String, (f64, f64)) {
    let (e, n) = catchment::projection::forward(lat, lon);
    let (e, n) = ((e / 100.0).floor() as i64 * 100, (n / 100.0).floor() as i64 * 100);
    let centre = catchment::projection::inverse(e as f64 + 50.0, n as f64 + 50.0);
    (format!("CRS3035RES100mN{n}E{e}"), centre)
}

fn to_lat_lon((x, y): (f64, f64)) -> (f64, f64) {
    let lat = ORIGIN_LAT + y / M_PER_DEG_LAT;
    let lon = ORIGIN_LON + x / (M_PER_DEG_LAT * ORIGIN_LAT.to_radians().cos());
    ((lat * 1e6).round() / 1e6, (lon * 1e6).round() / 1e6)
}

/// A kind of town: what the benchmarks run the solvers on, so no speed claim rests on one
/// generator. Every family keeps the street grid and the river; each changes one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub enum Family {
    /// Clustered neighbourhoods, a bridge per ~20,000 pupils (at least 3), seats 8%+ above
    /// pupils in classes of 22: the town of [`generate`].
    Clustered,
    /// Pupils spread evenly over the town.
    Even,
    /// Two bridges only, so a long detour separates the banks.
    River,
    /// Seats only 1-5% above the pupils (capacities in seats, not classes).
    Tight,
    /// Seats 50% above the pupils.
    Loose,
    /// A fifth of the schools (the ones with most pupils nearby) hold three quarters of the seats.
    FewLarge,
    /// Every school the same small number of seats, wherever it stands.
    ManySmall,
    /// Pupils live at block points (one per 8 pupils on average, sizes long-tailed): many pupils
    /// share a location and their walks, as block-level units with weights do.
    Blocks,
    /// Walks detour by a long-tailed factor per pair (1 + Pareto), so some are far longer than
    /// the grid distance.
    LongTail,
}

#[allow(dead_code)]
impl Family {
    /// Every family, in the order benchmarks list them.
    pub const ALL: [Family; 9] = [
        Family::Clustered,
        Family::Even,
        Family::River,
        Family::Tight,
        Family::Loose,
        Family::FewLarge,
        Family::ManySmall,
        Family::Blocks,
        Family::LongTail,
    ];

    /// The family's name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Family::Clustered => "clustered",
            Family::Even => "even",
            Family::River => "river",
            Family::Tight => "tight",
            Family::Loose => "loose",
            Family::FewLarge => "few-large",
            Family::ManySmall => "many-small",
            Family::Blocks => "blocks",
            Family::LongTail => "long-tail",
        }
    }

    /// The family of a name ([`Family::name`]).
    pub fn parse(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == name)
    }

    fn describe(self) -> &'static str {
        match self {
            Family::Clustered => "pupils in clustered neighbourhoods",
            Family::Even => "pupils spread evenly",
            Family::River => "pupils in clustered neighbourhoods, a river with only two bridges",
            Family::Tight => "pupils in clustered neighbourhoods, seats only 1-5% above the pupils",
            Family::Loose => "pupils in clustered neighbourhoods, seats 50% above the pupils",
            Family::FewLarge => "a fifth of the schools hold three quarters of the seats",
            Family::ManySmall => "every school the same number of seats",
            Family::Blocks => "pupils living at shared block points (long-tailed block sizes)",
            Family::LongTail => "walks detouring by a long-tailed factor per pair",
        }
    }
}

/// A deterministic value in [0, 1) from a seed and two indices (splitmix64), so a pair's detour
/// does not depend on the order pairs are computed in.
fn unit_hash(seed: u64, a: u64, b: u64) -> f64 {
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Generate a town of `n_pupils` pupils and `n_schools` schools from `seed`.
#[allow(dead_code)]
pub fn generate(n_pupils: usize, n_schools: usize, seed: u64) -> Town {
    generate_family(n_pupils, n_schools, seed, Family::Clustered)
}

/// Generate a town of the given family.
pub fn generate_family(n_pupils: usize, n_schools: usize, seed: u64, family: Family) -> Town {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Town side grows with the population: ~2,000 pupils on 8 km.
    let size = 8000.0 * (n_pupils.max(200) as f64 / 2000.0).sqrt();
    let geo = {
        let n_bridges = if family == Family::River { 2 } else { 3 + n_pupils / 20000 };
        let bridges = (0..n_bridges)
            .map(|i| {
                let y =
                    size * (i as f64 + 0.5) / n_bridges as f64 + rng.random_range(-300.0..300.0);
                (0.0, y)
            })
            .collect::<Vec<_>>();
        let mut g = Geometry { size, bridges };
        g.bridges = g.bridges.iter().map(|&(_, y)| (g.river_x(y), y)).collect();
        g
    };
    // Neighbourhoods: centres, spreads and weights.
    let n_clusters = (n_pupils / 150).clamp(4, 400);
    let clusters: Vec<((f64, f64), f64, f64)> = (0..n_clusters)
        .map(|_| {
            let c = (rng.random_range(0.05..0.95) * size, rng.random_range(0.05..0.95) * size);
            let sigma = rng.random_range(200.0..900.0);
            let w: f64 = rng.random_range(0.2..1.0f64).powi(2);
            (c, sigma, w)
        })
        .collect();
    let total_w: f64 = clusters.iter().map(|c| c.2).sum();
    let std = Normal::new(0.0, 1.0).expect("valid normal");
    let mut pupil_xy = Vec::with_capacity(n_pupils);
    // Blocks: sites drawn like pupils, then each pupil at a site chosen by long-tailed weights.
    let n_sites = if family == Family::Blocks { (n_pupils / 8).max(1) } else { n_pupils };
    while family == Family::Even && pupil_xy.len() < n_pupils {
        pupil_xy.push((rng.random_range(0.0..size), rng.random_range(0.0..size)));
    }
    while pupil_xy.len() < n_sites {
        let mut r = rng.random_range(0.0..total_w);
        let mut k = 0;
        while r > clusters[k].2 && k + 1 < clusters.len() {
            r -= clusters[k].2;
            k += 1;
        }
        let ((cx, cy), sigma, _) = clusters[k];
        let p = (cx + sigma * std.sample(&mut rng), cy + sigma * std.sample(&mut rng));
        if p.0 >= 0.0 && p.0 <= size && p.1 >= 0.0 && p.1 <= size {
            pupil_xy.push(p);
        }
    }
    if family == Family::Blocks {
        let sites = std::mem::take(&mut pupil_xy);
        let weights: Vec<f64> =
            (0..sites.len()).map(|_| rng.random_range(0.02..1.0f64).powi(-2)).collect();
        let total: f64 = weights.iter().sum();
        // Cumulative weights; every site gets at least its first pupil.
        let mut cum = Vec::with_capacity(sites.len());
        let mut acc = 0.0;
        for w in &weights {
            acc += w;
            cum.push(acc);
        }
        pupil_xy.extend(sites.iter().copied());
        while pupil_xy.len() < n_pupils {
            let r = rng.random_range(0.0..total);
            let k = cum.partition_point(|&c| c < r).min(sites.len() - 1);
            pupil_xy.push(sites[k]);
        }
    }
    // Schools: k-means on the pupils (seeded start), so schools stand where children live.
    let mut school_xy: Vec<(f64, f64)> =
        (0..n_schools).map(|_| pupil_xy[rng.random_range(0..pupil_xy.len())]).collect();
    let mut nearest = vec![0usize; n_pupils];
    for _ in 0..12 {
        nearest.par_iter_mut().zip(pupil_xy.par_iter()).for_each(|(n, &p)| {
            *n = (0..n_schools)
                .min_by(|&a, &b| geo.walk(p, school_xy[a]).total_cmp(&geo.walk(p, school_xy[b])))
                .unwrap_or(0);
        });
        let mut sum = vec![(0.0, 0.0, 0usize); n_schools];
        for (i, &p) in pupil_xy.iter().enumerate() {
            let e = &mut sum[nearest[i]];
            e.0 += p.0;
            e.1 += p.1;
            e.2 += 1;
        }
        for (s, e) in sum.iter().enumerate() {
            if e.2 > 0 {
                school_xy[s] = (e.0 / e.2 as f64, e.1 / e.2 as f64);
            } else {
                school_xy[s] = pupil_xy[rng.random_range(0..pupil_xy.len())];
            }
        }
    }
    // Capacities: classes of 22 for about the school's share, some tight, some generous; total
    // seats at least 8% above the pupils.
    let mut count = vec![0usize; n_schools];
    for &s in &nearest {
        count[s] += 1;
    }
    let mut classes: Vec<u32> = count
        .iter()
        .map(|&c| {
            let factor = rng.random_range(0.75..1.25);
            ((c as f64 * factor / DEFAULT_CLASS_SIZE as f64).round() as u32).max(1)
        })
        .collect();
    let need = (n_pupils as f64 * 1.08).ceil() as u32;
    let mut s = 0;
    while classes.iter().sum::<u32>() * DEFAULT_CLASS_SIZE < need {
        classes[s % n_schools] += 1;
        s += 1;
    }
    // The families that count seats instead of classes.
    let seats: Option<Vec<u32>> = match family {
        Family::Tight | Family::Loose | Family::FewLarge | Family::ManySmall => {
            let ratio = match family {
                Family::Tight => rng.random_range(1.01..1.05),
                Family::Loose => 1.5,
                _ => 1.08,
            };
            let target = ((n_pupils as f64 * ratio).ceil() as u64).max(n_schools as u64);
            let share: Vec<f64> = match family {
                Family::ManySmall => vec![1.0; n_schools],
                Family::FewLarge => {
                    // The fifth with most pupils nearby take 3/4 of the seats.
                    let mut order: Vec<usize> = (0..n_schools).collect();
                    order.sort_by_key(|&s| (std::cmp::Reverse(count[s]), s));
                    let big = (n_schools / 5).max(1);
                    let mut share = vec![0.0; n_schools];
                    for (rank, &s) in order.iter().enumerate() {
                        share[s] = if rank < big {
                            0.75 / big as f64
                        } else {
                            0.25 / (n_schools - big).max(1) as f64
                        };
                    }
                    share
                }
                _ => {
                    count.iter().map(|&c| (c as f64 + 1.0) * rng.random_range(0.75..1.25)).collect()
                }
            };
            let total: f64 = share.iter().sum();
            let mut cap: Vec<u32> =
                share.iter().map(|w| ((w / total * target as f64).floor() as u32).max(1)).collect();
            // Round to the target exactly: the remainder one seat at a time.
            let mut s = 0;
            while cap.iter().map(|&c| c as u64).sum::<u64>() < target {
                cap[s % n_schools] += 1;
                s += 1;
            }
            Some(cap)
        }
        _ => None,
    };
    let width = n_schools.to_string().len().max(2);
    let schools: Vec<School> = (0..n_schools)
        .map(|s| {
            let (lat, lon) = to_lat_lon(school_xy[s]);
            School {
                id: format!("S{:0width$}", s + 1),
                name: format!("Synthetic School {:0width$}", s + 1),
                lat,
                lon,
                capacity: seats.as_ref().map_or(classes[s] * DEFAULT_CLASS_SIZE, |c| c[s]),
                class_size: DEFAULT_CLASS_SIZE,
                max_classes: if seats.is_some() { None } else { Some(classes[s]) },
                min_pupils: 0,
                min_classes: None,
                extra: vec![],
            }
        })
        .collect();
    let pwidth = n_pupils.to_string().len().max(4);
    let pupils: Vec<Pupil> = pupil_xy
        .iter()
        .enumerate()
        .map(|(i, &xy)| {
            let (lat, lon) = to_lat_lon(xy);
            Pupil {
                id: format!("P{:0pwidth$}", i + 1),
                location: Some((lat, lon)),
                street: None,
                house_number: None,
                postcode: None,
                block: Some(cell_of(lat, lon).0),
                fixed_school: None,
                extra: vec![],
            }
        })
        .collect();
    // Long-tailed detours: 1 + 0.1 x Pareto(1.5), at most 10x the grid walk.
    let detour = |p: usize, s: usize| -> f64 {
        if family != Family::LongTail {
            return 1.0;
        }
        let u = unit_hash(seed, p as u64, s as u64);
        (1.0 + 0.1 * ((1.0 - u).powf(-1.0 / 1.5) - 1.0)).min(10.0)
    };
    let mut matrix = Matrix::new(n_pupils, n_schools, LABEL);
    let mut secs = vec![0u32; n_pupils * n_schools];
    matrix
        .meters
        .par_chunks_mut(n_schools)
        .zip(secs.par_chunks_mut(n_schools))
        .zip(pupil_xy.par_iter())
        .enumerate()
        .for_each(|(p, ((meters, secs), &a))| {
            for (s, &b) in school_xy.iter().enumerate() {
                let d = geo.walk(a, b) * detour(p, s);
                let d = d.round() as u32;
                meters[s] = d;
                secs[s] = (d as f64 / WALK_M_PER_S).round() as u32;
            }
        });
    matrix.seconds = Some(secs);
    // Blocks: the grid cells pupils live in, walked from their centres like the pupils.
    let mut cells: std::collections::BTreeMap<String, ((f64, f64), u32)> = Default::default();
    for p in &pupils {
        let (lat, lon) = p.location.expect("placed");
        let (id, centre) = cell_of(lat, lon);
        cells.entry(id).or_insert((centre, 0)).1 += 1;
    }
    let blocks: Vec<SyntheticBlock> = cells
        .into_iter()
        .map(|(id, ((lat, lon), pupils))| {
            let xy = to_xy(lat, lon);
            let walks = school_xy.iter().map(|&b| geo.walk(xy, b).round() as u32).collect();
            SyntheticBlock { id, lat, lon, residents: pupils * RESIDENTS_PER_PUPIL, walks }
        })
        .collect();
    let corners = [(0.0, 0.0), (size, 0.0), (size, size), (0.0, size), (0.0, 0.0)];
    let area = corners.iter().map(|&c| to_lat_lon(c)).collect();
    // Ids are generated in sorted order already.
    let instance = Instance { schools, pupils };
    Town { instance, matrix, pupil_xy, school_xy, seed, blocks, area, family }
}

/// Write `schools.csv`, `pupils.csv`, `matrix.csv` and a README into `out` (atomically).
pub fn write(out: &Path, town: &Town) -> Result<()> {
    let inst = &town.instance;
    write_atomically(out, |dir| {
        let err = |e: csv::Error| catchment::Error::csv("synthetic town", e);
        let mut w = csv::Writer::from_path(dir.join("schools.csv")).map_err(err)?;
        // Classes when every school counts them, else seats.
        let classes = inst.schools.iter().all(|s| s.max_classes.is_some());
        if classes {
            w.write_record(["id", "name", "lat", "lon", "max_classes", "class_size"])
        } else {
            w.write_record(["id", "name", "lat", "lon", "capacity"])
        }
        .map_err(err)?;
        for s in &inst.schools {
            let mut rec = vec![
                s.id.clone(),
                s.name.clone(),
                format!("{:.6}", s.lat),
                format!("{:.6}", s.lon),
            ];
            match s.max_classes {
                Some(c) if classes => rec.extend([c.to_string(), s.class_size.to_string()]),
                _ => rec.push(s.capacity.to_string()),
            }
            w.write_record(rec).map_err(err)?;
        }
        w.flush().map_err(|e| catchment::Error::io(dir, e))?;
        let mut w = csv::Writer::from_path(dir.join("pupils.csv")).map_err(err)?;
        w.write_record(["id", "lat", "lon", "block"]).map_err(err)?;
        for p in &inst.pupils {
            let (lat, lon) = p.location.unwrap_or_default();
            w.write_record([
                p.id.clone(),
                format!("{lat:.6}"),
                format!("{lon:.6}"),
                p.block.clone().unwrap_or_default(),
            ])
            .map_err(err)?;
        }
        w.flush().map_err(|e| catchment::Error::io(dir, e))?;
        write_matrix(&dir.join("matrix.csv"), inst, &town.matrix)?;
        let mut w = csv::Writer::from_path(dir.join("blocks.csv")).map_err(err)?;
        w.write_record(["block_id", "lat", "lon", "residents"]).map_err(err)?;
        for b in &town.blocks {
            w.write_record([
                b.id.clone(),
                format!("{:.6}", b.lat),
                format!("{:.6}", b.lon),
                b.residents.to_string(),
            ])
            .map_err(err)?;
        }
        w.flush().map_err(|e| catchment::Error::io(dir, e))?;
        let mut w = csv::Writer::from_path(dir.join("block-matrix.csv")).map_err(err)?;
        w.write_record(["block_id", "school_id", "meters"]).map_err(err)?;
        for b in &town.blocks {
            for (s, m) in inst.schools.iter().zip(&b.walks) {
                w.write_record([b.id.as_str(), s.id.as_str(), &m.to_string()]).map_err(err)?;
            }
        }
        w.flush().map_err(|e| catchment::Error::io(dir, e))?;
        let ring: Vec<serde_json::Value> =
            town.area.iter().map(|&(lat, lon)| serde_json::json!([lon, lat])).collect();
        let area = serde_json::json!({
            "type": "FeatureCollection",
            "features": [{
                "type": "Feature",
                "properties": {"name": "synthetic town (not a real place)"},
                "geometry": {"type": "Polygon", "coordinates": [ring]}
            }]
        });
        std::fs::write(dir.join("area.geojson"), area.to_string())
            .map_err(|e| catchment::Error::io(dir, e))?;
        let (flag, what) = match town.family {
            Family::Clustered => (String::new(), Family::Clustered.describe().to_string()),
            f => (
                format!(" --family {}", f.name()),
                format!("{} ({} family)", f.describe(), f.name()),
            ),
        };
        let seats_in = if inst.schools.iter().all(|s| s.max_classes.is_some()) {
            format!("capacities in classes of {DEFAULT_CLASS_SIZE}")
        } else {
            "capacities in seats".to_string()
        };
        let readme = format!(
            "# Synthetic town (seed {seed}) - NOT REAL DATA\n\n\
             Generated by `catchment-dataset synthetic --pupils {n} --schools {m} --seed {seed}{flag}`.\n\n\
             - {n} {what}, {m} schools placed where the pupils live (k-means),\n\
             \x20 {seats_in}, {seats} seats in all.\n\
             - Distances: {LABEL}. Seconds assume 4.5 km/h.\n\
             - Coordinates are placed around {ORIGIN_LAT} N, {ORIGIN_LON} E only to have valid latitudes and\n\
             \x20 longitudes; they do not describe any real place.\n\n\
             Files: `schools.csv` (id,name,lat,lon,{school_cols}), `pupils.csv` (id,lat,lon,block;\n\
             block = 100 m grid cell, EPSG:3035), `matrix.csv` (pupil_id,school_id,meters,seconds),\n\
             `blocks.csv` (block_id,lat,lon,residents: the cells with pupils, {rpp} synthetic residents\n\
             per pupil), `block-matrix.csv` (block_id,school_id,meters: walks from cell centres) and\n\
             `area.geojson` (the town's square, which its districts tile).\n\n\
             Plain format for any tool: UTF-8 CSV, comma-separated, one header row; capacity =\n\
             max_classes x class_size; the matrix has one row per pupil-school pair in pupil then\n\
             school order, integer meters and seconds ('unreachable' marks a pair with no route).\n",
            seed = town.seed,
            n = inst.pupils.len(),
            m = inst.schools.len(),
            school_cols = if seats_in.starts_with("capacities in classes") {
                "max_classes,class_size"
            } else {
                "capacity"
            },
            seats = inst.seats(),
            rpp = RESIDENTS_PER_PUPIL,
        );
        std::fs::write(dir.join("README.md"), readme).map_err(|e| catchment::Error::io(dir, e))?;
        Ok(())
    })
}

/// Write `matrix-nearest-K.csv` into `dir`: the long matrix with only each pupil's `k` nearest
/// schools by straight line (the generator's local meters), every other pair left out, for
/// `catchment solve --nearest K`. Returns its path.
pub fn write_nearest(dir: &Path, town: &Town, k: usize) -> Result<std::path::PathBuf> {
    let inst = &town.instance;
    let path = dir.join(format!("matrix-nearest-{k}.csv"));
    let err = |e: csv::Error| catchment::Error::csv("synthetic town", e);
    let mut w = csv::Writer::from_path(&path).map_err(err)?;
    w.write_record(["pupil_id", "school_id", "meters", "seconds"]).map_err(err)?;
    let mut order: Vec<usize> = Vec::with_capacity(inst.schools.len());
    for (u, p) in inst.pupils.iter().enumerate() {
        let d = |s: usize| {
            let (a, b) = (town.pupil_xy[u], town.school_xy[s]);
            (a.0 - b.0).hypot(a.1 - b.1)
        };
        order.clear();
        order.extend(0..inst.schools.len());
        let k = k.min(order.len());
        order.select_nth_unstable_by(k.saturating_sub(1), |&a, &b| d(a).total_cmp(&d(b)));
        order.truncate(k);
        order.sort_unstable();
        for &s in &order {
            let cell = |v: u32| {
                if v == catchment::routing::UNREACHABLE {
                    "unreachable".to_string()
                } else {
                    v.to_string()
                }
            };
            let meters = town.matrix.row(u)[s];
            let secs =
                town.matrix.seconds.as_ref().map_or(meters, |t| t[u * inst.schools.len() + s]);
            w.write_record([
                p.id.as_str(),
                inst.schools[s].id.as_str(),
                &cell(meters),
                &cell(secs),
            ])
            .map_err(err)?;
        }
    }
    w.flush().map_err(|e| catchment::Error::io(&path, e))?;
    Ok(path)
}

/// The label of a synthetic state's files.
pub const STATE_LABEL: &str =
    "synthetic state (street-grid walks with up to 30% detour per pair) - not real data";

/// The side of a synthetic state's square, in meters.
const STATE_SIDE_M: f64 = 150_000.0;

/// A synthetic state: cities (Gaussian, 2-8 km spread) holding about 80% of the pupils, the
/// rest spread over the countryside between them; schools where pupils live, seats 5% above
/// the pupils. Far too many pairs for a dense matrix: walks are computed pair by pair
/// ([`State::walk`]), and only each pupil's nearest schools are written
/// ([`write_state`]).
pub struct State {
    /// Schools and pupils (ids padded, so instance order is generation order).
    pub instance: Instance,
    /// Local coordinates in meters (x east, y north) of pupils and schools, instance order.
    pub pupil_xy: Vec<(f64, f64)>,
    /// See `pupil_xy`.
    pub school_xy: Vec<(f64, f64)>,
    /// The generator's seed (also the seed of each pair's detour).
    pub seed: u64,
}

impl State {
    /// The walk from pupil `u` to school `s` in whole meters: the street-grid (Manhattan)
    /// distance with a detour of up to 30% per pair (from a hash of the pair), and never below
    /// the straight-line bound of the coordinates written
    /// ([`catchment::solve::partial::straight_line_bound`]), which proves pairs not given.
    pub fn walk(&self, u: usize, s: usize) -> u32 {
        let (a, b) = (self.pupil_xy[u], self.school_xy[s]);
        let l1 = (a.0 - b.0).abs() + (a.1 - b.1).abs();
        let detour = 1.0 + 0.3 * unit_hash(self.seed, u as u64, s as u64);
        let grid = (l1 * detour).round() as u32;
        let p = self.instance.pupils[u].location.unwrap_or_default();
        let q = &self.instance.schools[s];
        grid.max(catchment::solve::partial::straight_line_bound(p, (q.lat, q.lon)))
    }

    /// Each pupil's `k` nearest schools by straight line, ascending by school: by the chord
    /// between the coordinates as written (six decimals), the order of the bound that proves
    /// the pairs not given ([`catchment::solve::partial::straight_line_bound`]), so that every
    /// school left out is at least as far by that bound as every school written.
    pub fn nearest(&self, k: usize) -> Vec<Vec<u32>> {
        let m = self.school_xy.len();
        let k = k.min(m);
        let unit = |(lat, lon): (f64, f64)| {
            let r = |v: f64| ((v * 1e6).round() / 1e6).to_radians();
            let (lat, lon) = (r(lat), r(lon));
            [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
        };
        let schools: Vec<[f64; 3]> =
            self.instance.schools.iter().map(|s| unit((s.lat, s.lon))).collect();
        self.instance
            .pupils
            .par_iter()
            .map_init(Vec::new, |order: &mut Vec<(f64, u32)>, p| {
                let a = unit(p.location.unwrap_or_default());
                order.clear();
                order.extend(schools.iter().enumerate().map(|(s, b)| {
                    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
                    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2], s as u32)
                }));
                order.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let mut out: Vec<u32> = order[..k].iter().map(|e| e.1).collect();
                out.sort_unstable();
                out
            })
            .collect()
    }
}

/// Generate a state of `n_pupils` pupils and `n_schools` schools from `seed`: 12 cities and
/// the countryside on a square of 150 km around 52 N, 11 E.
pub fn generate_state(n_pupils: usize, n_schools: usize, seed: u64) -> State {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let side = STATE_SIDE_M;
    let cities: Vec<((f64, f64), f64, f64)> = (0..12)
        .map(|_| {
            let c = (rng.random_range(0.1..0.9) * side, rng.random_range(0.1..0.9) * side);
            (c, rng.random_range(2000.0..8000.0), rng.random_range(0.2..1.0f64).powi(2))
        })
        .collect();
    let total_w: f64 = cities.iter().map(|c| c.2).sum();
    let std = Normal::new(0.0, 1.0).expect("valid normal");
    let mut pupil_xy = Vec::with_capacity(n_pupils);
    while pupil_xy.len() < n_pupils {
        if rng.random_range(0.0..1.0) < 0.2 {
            pupil_xy.push((rng.random_range(0.0..side), rng.random_range(0.0..side)));
            continue;
        }
        let mut r = rng.random_range(0.0..total_w);
        let mut c = 0;
        while r > cities[c].2 && c + 1 < cities.len() {
            r -= cities[c].2;
            c += 1;
        }
        let ((x, y), sigma, _) = cities[c];
        let p = (x + sigma * std.sample(&mut rng), y + sigma * std.sample(&mut rng));
        if (0.0..=side).contains(&p.0) && (0.0..=side).contains(&p.1) {
            pupil_xy.push(p);
        }
    }
    // Schools where pupils live; seats from the pupils nearest each, x 0.8-1.3, then one at a
    // time until 5% above the pupils.
    let school_xy: Vec<(f64, f64)> =
        (0..n_schools).map(|_| pupil_xy[rng.random_range(0..n_pupils)]).collect();
    let nearest: Vec<usize> = pupil_xy
        .par_iter()
        .map(|&p| {
            let d = |s: usize| (p.0 - school_xy[s].0).powi(2) + (p.1 - school_xy[s].1).powi(2);
            (0..n_schools).min_by(|&a, &b| d(a).total_cmp(&d(b))).unwrap_or(0)
        })
        .collect();
    let mut count = vec![0u32; n_schools];
    for &s in &nearest {
        count[s] += 1;
    }
    let mut cap: Vec<u32> =
        count.iter().map(|&c| ((c as f64 * rng.random_range(0.8..1.3)) as u32).max(1)).collect();
    let target = (n_pupils as f64 * 1.05).ceil() as u64;
    let mut s = 0;
    while cap.iter().map(|&c| c as u64).sum::<u64>() < target {
        cap[s % n_schools] += 1;
        s += 1;
    }
    // Centred on the origin, so the local plane stays close to the sphere.
    let place = |(x, y): (f64, f64)| to_lat_lon((x - side / 2.0, y - side / 2.0));
    let width = n_schools.to_string().len().max(2);
    let schools: Vec<School> = (0..n_schools)
        .map(|s| {
            let (lat, lon) = place(school_xy[s]);
            School {
                id: format!("S{:0width$}", s + 1),
                name: format!("Synthetic School {:0width$}", s + 1),
                lat,
                lon,
                capacity: cap[s],
                class_size: DEFAULT_CLASS_SIZE,
                max_classes: None,
                min_pupils: 0,
                min_classes: None,
                extra: vec![],
            }
        })
        .collect();
    let pwidth = n_pupils.to_string().len().max(4);
    let pupils: Vec<Pupil> = pupil_xy
        .iter()
        .enumerate()
        .map(|(i, &xy)| Pupil {
            id: format!("P{:0pwidth$}", i + 1),
            location: Some(place(xy)),
            street: None,
            house_number: None,
            postcode: None,
            block: None,
            fixed_school: None,
            extra: vec![],
        })
        .collect();
    let instance = Instance::new(schools, pupils).expect("a valid synthetic state");
    State { instance, pupil_xy, school_xy, seed }
}

/// Write a state into `dir` (atomically): `schools.csv`, `pupils.csv`, `matrix-nearest-K.csv`
/// (each pupil's `k` nearest schools by straight line, with meters and seconds; no other
/// pair) and `README.md`. Returns the partial matrix's path.
pub fn write_state(dir: &Path, state: &State, k: usize) -> Result<std::path::PathBuf> {
    let inst = &state.instance;
    let name = format!("matrix-nearest-{k}.csv");
    let nearest = state.nearest(k);
    write_atomically(dir, |dir| {
        let err = |e: csv::Error| catchment::Error::csv("synthetic state", e);
        let mut w = csv::Writer::from_path(dir.join("schools.csv")).map_err(err)?;
        w.write_record(["id", "name", "lat", "lon", "capacity"]).map_err(err)?;
        for s in &inst.schools {
            w.write_record([
                s.id.clone(),
                s.name.clone(),
                format!("{:.6}", s.lat),
                format!("{:.6}", s.lon),
                s.capacity.to_string(),
            ])
            .map_err(err)?;
        }
        w.flush().map_err(|e| catchment::Error::io(dir, e))?;
        let mut w = csv::Writer::from_path(dir.join("pupils.csv")).map_err(err)?;
        w.write_record(["id", "lat", "lon"]).map_err(err)?;
        for p in &inst.pupils {
            let (lat, lon) = p.location.unwrap_or_default();
            w.write_record([p.id.clone(), format!("{lat:.6}"), format!("{lon:.6}")])
                .map_err(err)?;
        }
        w.flush().map_err(|e| catchment::Error::io(dir, e))?;
        let path = dir.join(&name);
        let io = |e| catchment::Error::io(&path, e);
        let mut w =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).map_err(io)?);
        use std::io::Write;
        writeln!(w, "pupil_id,school_id,meters,seconds").map_err(io)?;
        for (u, p) in inst.pupils.iter().enumerate() {
            for &s in &nearest[u] {
                let meters = state.walk(u, s as usize);
                let seconds = (meters as f64 / WALK_M_PER_S).round() as u32;
                let school = &inst.schools[s as usize].id;
                writeln!(w, "{},{school},{meters},{seconds}", p.id).map_err(io)?;
            }
        }
        w.flush().map_err(io)?;
        catchment::routing::matrix::write_meta(&path, STATE_LABEL, &[])?;
        let (n, m) = (inst.pupils.len(), inst.schools.len());
        let readme = format!(
            "# Synthetic state (seed {seed}) - NOT REAL DATA\n\n\
             Generated by `catchment-dataset synthetic --family state --pupils {n} --schools {m} \
             --seed {seed} --sparse-matrix {k}`.\n\n\
             - A square of 150 km: 12 cities with about 80% of the {n} pupils, the rest spread over\n\
             \x20 the countryside; {m} schools where pupils live, {seats} seats in all (5% above the pupils).\n\
             - Distances: {STATE_LABEL}. Seconds assume 4.5 km/h.\n\
             - Coordinates are placed around {ORIGIN_LAT} N, {ORIGIN_LON} E only to have valid latitudes and\n\
             \x20 longitudes; they do not describe any real place.\n\n\
             Files: `schools.csv` (id,name,lat,lon,capacity), `pupils.csv` (id,lat,lon) and `{name}`\n\
             (pupil_id,school_id,meters,seconds): only each pupil's {k} nearest schools by straight\n\
             line. A matrix of every pair would have {pairs} rows; solve with\n\
             `catchment solve --schools schools.csv --pupils pupils.csv --matrix {name} --nearest {k}`,\n\
             which proves the plan for every pair from the straight line (no walk is below it).\n",
            seed = state.seed,
            seats = inst.seats(),
            pairs = n as u64 * m as u64,
        );
        std::fs::write(dir.join("README.md"), readme).map_err(|e| catchment::Error::io(dir, e))?;
        Ok(())
    })?;
    Ok(dir.join(name))
}
