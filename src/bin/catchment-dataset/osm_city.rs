//! A city case from an OpenStreetMap extract alone: its schools (`amenity=school` with a name,
//! nodes and the centre of ways), its exactly mapped addresses as blocks, and a seeded cohort of
//! pupils living at addresses drawn from them, given by street and house number as a school
//! department's register gives them. The pupils are made up; the addresses, streets and schools
//! are the extract's.

use catchment::routing::geocode::AddressIndex;
use catchment::Error;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// A school of the extract.
pub struct OsmSchool {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

/// The case: schools, blocks (every exact address) and pupils (indices into the blocks).
pub struct City {
    pub schools: Vec<OsmSchool>,
    pub blocks: Vec<(String, String, f64, f64)>,
    pub pupils: Vec<usize>,
    pub capacity: u32,
}

/// Schools farther than this from the addresses' bounding box are left out.
const SCHOOL_MARGIN_M: f64 = 500.0;

/// Residents written for every address block (the extract holds none).
const RESIDENTS: u32 = 10;

/// Schools named in the extract: nodes tagged `amenity=school`, and ways so tagged at the mean
/// of their nodes; one per name (the first met).
fn schools(pbf: &Path) -> Result<Vec<OsmSchool>, String> {
    use osmpbf::{Element, ElementReader};
    let err = |e: osmpbf::Error| format!("{}: {e}", pbf.display());
    let mut nodes: Vec<OsmSchool> = Vec::new();
    let mut ways: Vec<(String, Vec<i64>)> = Vec::new();
    let named_school = |tags: &mut dyn Iterator<Item = (&str, &str)>| {
        let (mut school, mut name) = (false, None);
        for (k, v) in tags {
            if k == "amenity" && v == "school" {
                school = true;
            }
            if k == "name" && !v.trim().is_empty() {
                name = Some(v.trim().to_string());
            }
        }
        name.filter(|_| school)
    };
    ElementReader::from_path(pbf)
        .map_err(err)?
        .for_each(|el| match el {
            Element::Node(n) => {
                if let Some(name) = named_school(&mut n.tags()) {
                    nodes.push(OsmSchool { name, lat: n.lat(), lon: n.lon() });
                }
            }
            Element::DenseNode(n) => {
                if let Some(name) = named_school(&mut n.tags()) {
                    nodes.push(OsmSchool { name, lat: n.lat(), lon: n.lon() });
                }
            }
            Element::Way(w) => {
                if let Some(name) = named_school(&mut w.tags()) {
                    ways.push((name, w.refs().collect()));
                }
            }
            Element::Relation(_) => {}
        })
        .map_err(err)?;
    let wanted: std::collections::HashSet<i64> =
        ways.iter().flat_map(|(_, r)| r.iter().copied()).collect();
    let mut coords: HashMap<i64, (f64, f64)> = HashMap::new();
    ElementReader::from_path(pbf)
        .map_err(err)?
        .for_each(|el| match el {
            Element::Node(n) if wanted.contains(&n.id()) => {
                coords.insert(n.id(), (n.lat(), n.lon()));
            }
            Element::DenseNode(n) if wanted.contains(&n.id()) => {
                coords.insert(n.id(), (n.lat(), n.lon()));
            }
            _ => {}
        })
        .map_err(err)?;
    for (name, refs) in ways {
        let pts: Vec<(f64, f64)> = refs.iter().filter_map(|r| coords.get(r).copied()).collect();
        if pts.is_empty() {
            continue;
        }
        let n = pts.len() as f64;
        let lat = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let lon = pts.iter().map(|p| p.1).sum::<f64>() / n;
        nodes.push(OsmSchool { name, lat, lon });
    }
    let mut seen = std::collections::HashSet::new();
    nodes.retain(|s| seen.insert(s.name.to_lowercase()));
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(nodes)
}

/// Build the case: `pupils` drawn from the addresses (with repetition when there are fewer),
/// every school seating `slack` times its share of the pupils.
pub fn generate(pbf: &Path, pupils: usize, seed: u64, slack: f64) -> Result<City, Error> {
    let bad = |m: String| Error::input(&catchment::instance::file_name(pbf), None, None, m);
    let index = AddressIndex::from_osm_file(pbf).map_err(bad)?;
    let blocks = index.exact_addresses();
    if blocks.is_empty() {
        return Err(bad("the extract has no addresses (addr:street + addr:housenumber)".into()));
    }
    // Schools near the addresses only: within SCHOOL_MARGIN_M of their bounding box (an
    // extract cut by a rectangle holds schools of the neighbouring towns too).
    let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    for b in &blocks {
        lo = (lo.0.min(b.2), lo.1.min(b.3));
        hi = (hi.0.max(b.2), hi.1.max(b.3));
    }
    let dlat = SCHOOL_MARGIN_M / 111_320.0;
    let dlon = dlat / ((lo.0 + hi.0) / 2.0).to_radians().cos();
    let mut schools = schools(pbf).map_err(bad)?;
    schools.retain(|s| {
        (lo.0 - dlat..=hi.0 + dlat).contains(&s.lat) && (lo.1 - dlon..=hi.1 + dlon).contains(&s.lon)
    });
    if schools.len() < 2 {
        return Err(bad(format!(
            "the extract names {} school(s) (amenity=school with a name); a case needs two or more",
            schools.len()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    let mut drawn = Vec::with_capacity(pupils);
    while drawn.len() < pupils {
        order.shuffle(&mut rng);
        drawn.extend(order.iter().copied().take(pupils - drawn.len()));
    }
    let capacity = ((pupils as f64 * slack) / schools.len() as f64).ceil() as u32;
    Ok(City { schools, blocks, pupils: drawn, capacity })
}

/// Write `schools.csv`, `pupils.csv` (street and house number, and the block), `blocks.csv`
/// (every address) and `README.md` into `out`.
pub fn write(out: &Path, city: &City, pbf: &Path, seed: u64) -> Result<(), Error> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let put = |name: &str, text: &str| {
        std::fs::write(out.join(name), text).map_err(|e| Error::io(out.join(name), e))
    };
    let mut s = String::from("id,name,lat,lon,capacity\n");
    for (i, school) in city.schools.iter().enumerate() {
        let name = school.name.replace('"', "'");
        writeln!(
            s,
            "S{:02},\"{name}\",{:.7},{:.7},{}",
            i + 1,
            school.lat,
            school.lon,
            city.capacity
        )
        .expect("string");
    }
    put("schools.csv", &s)?;
    let block_id = |i: usize| format!("A{:05}", i + 1);
    let mut b = String::from("block_id,street,house_number,residents\n");
    for (i, (street, number, _, _)) in city.blocks.iter().enumerate() {
        writeln!(b, "{},\"{}\",{number},{RESIDENTS}", block_id(i), street.replace('"', "'"))
            .expect("string");
    }
    put("blocks.csv", &b)?;
    let mut p = String::from("id,street,house_number,block\n");
    for (k, &i) in city.pupils.iter().enumerate() {
        let (street, number, _, _) = &city.blocks[i];
        writeln!(p, "P{:04},\"{}\",{number},{}", k + 1, street.replace('"', "'"), block_id(i))
            .expect("string");
    }
    put("pupils.csv", &p)?;
    let readme = format!(
        "# A city case from an OpenStreetMap extract\n\n\
Made by `catchment-dataset osm --osm {} --pupils {} --seed {seed} --out {}` from the extract alone:\n\n\
- `schools.csv`: the {} schools the extract names (`amenity=school` with a name; ways at the mean of their nodes) within 500 m of the addresses' bounding box, each seating {} pupils (the cohort's share with slack); all kinds of school, as mapped.\n\
- `blocks.csv`: every address mapped exactly ({} addresses, `addr:street` + `addr:housenumber`), {RESIDENTS} residents each (the extract holds none).\n\
- `pupils.csv`: {} made-up pupils at addresses drawn from the blocks (seed {seed}), by street and house number as a register gives them; they are no real children.\n\n\
Map data © OpenStreetMap contributors, available under the Open Database License (ODbL) 1.0: \
https://www.openstreetmap.org/copyright\n",
        pbf.display(),
        city.pupils.len(),
        out.display(),
        city.schools.len(),
        city.capacity,
        city.blocks.len(),
        city.pupils.len(),
    );
    put("README.md", &readme)
}
