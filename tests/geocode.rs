//! Geocoding against the address index of the real Monaco extract (tests/data/monaco.osm.pbf).

use catchment::instance::Pupil;
use catchment::routing::geocode::{
    geocode_pupils, AddressIndex, GeocodeProblem, Located, Lookup, Quality,
};
use std::sync::OnceLock;

fn monaco() -> &'static AddressIndex {
    static IX: OnceLock<AddressIndex> = OnceLock::new();
    IX.get_or_init(|| {
        AddressIndex::from_pbf(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/monaco.osm.pbf"),
        )
        .unwrap()
    })
}

fn found(l: Lookup) -> (f64, f64) {
    match l {
        Lookup::Found { lat, lon } => {
            // The extract covers Monaco and a strip of France around it.
            assert!((43.70..43.80).contains(&lat) && (7.35..7.55).contains(&lon), "({lat}, {lon})");
            (lat, lon)
        }
        other => panic!("expected a hit, got {other:?}"),
    }
}

#[test]
fn the_index_holds_addressed_nodes_and_buildings() {
    // 51 addressed nodes, 11 addressed ways and 1 addressed multipolygon relation in this
    // extract (the relation was missing before issue 14).
    assert_eq!(monaco().len(), 63);
    let v = found(monaco().lookup("Place de la Visitation", "1", None));
    assert!((43.73..43.74).contains(&v.0), "{v:?}");
}

#[test]
fn building_addresses_are_found_in_any_spelling() {
    let ix = monaco();
    let a = found(ix.lookup("Avenue de Grande-Bretagne", "22", None));
    assert_eq!(found(ix.lookup("AVENUE DE GRANDE BRETAGNE", " 22 ", None)), a);
    assert_eq!(found(ix.lookup("avenue de grande-bretagne", "22", Some("98000"))), a);
    let o = found(ix.lookup("Allée des Orangers", "6", None));
    assert_eq!(found(ix.lookup("Allee des Orangers", "6", None)), o, "accents");
    let b = found(ix.lookup("Quai Antoine 1er", "4", None));
    assert_ne!(a, b);
}

#[test]
fn suffixes_ranges_and_duplicates() {
    let ix = monaco();
    let b5 = found(ix.lookup("Boulevard Albert 1er", "5 B", None));
    assert_eq!(found(ix.lookup("boulevard albert 1er", "5b", None)), b5);
    assert_eq!(ix.lookup("Boulevard Albert 1er", "5", None), Lookup::NotFound, "5b is not 5");
    // "4" and "4bis" both exist and are told apart.
    let c4 = found(ix.lookup("Rue de la Colle", "4", None));
    let c4bis = found(ix.lookup("Rue de la Colle", "4bis", None));
    assert!(c4 != c4bis);
    // OSM "7-9" covers 7 and 9, its side of the street (not 8); a pupil's "7-9" is its first
    // number.
    let t9 = found(ix.lookup("Rue Terrazzani", "9", None));
    assert_eq!(found(ix.lookup("Rue Terrazzani", "7-9", None)), t9);
    assert_eq!(ix.lookup("Rue Terrazzani", "8", None), Lookup::NotFound);
    assert_eq!(ix.lookup("Rue Terrazzani", "10", None), Lookup::NotFound);
    // Five nodes tagged with one address close together are one place.
    found(ix.lookup("Avenue Albert II", "25", None));
}

#[test]
fn misses() {
    let ix = monaco();
    assert_eq!(ix.lookup("Avenue Albert II", "99", None), Lookup::NotFound);
    assert_eq!(ix.lookup("Rue Imaginaire", "1", None), Lookup::NotFound);
    assert_eq!(ix.lookup("", "1", None), Lookup::NotFound);
}

/// The hand-written town of `tests/data/geocode/town.osm`: each object is one of issue 14's
/// geocoding failures.
fn town() -> &'static AddressIndex {
    static IX: OnceLock<AddressIndex> = OnceLock::new();
    IX.get_or_init(|| {
        AddressIndex::from_osm_file(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/geocode/town.osm"),
        )
        .unwrap()
    })
}

fn at(l: Located) -> (f64, f64, Quality) {
    match l {
        Located::Found { lat, lon, quality } => (lat, lon, quality),
        other => panic!("expected a hit, got {other:?}"),
    }
}

fn near(a: (f64, f64, Quality), lat: f64, lon: f64) -> bool {
    (a.0 - lat).abs() < 1e-6 && (a.1 - lon).abs() < 1e-6
}

#[test]
fn an_osm_range_covers_its_side_of_the_street_only() {
    let ix = town();
    // "8-10" on a building: 8 and 10, never 9.
    let h8 = at(ix.locate("Hauptstraße", "8", None));
    assert_eq!(h8.2, Quality::Range);
    assert!(near(at(ix.locate("Hauptstraße", "10", None)), h8.0, h8.1));
    assert!(matches!(ix.locate("Hauptstraße", "9", None), Located::NumberNotFound { .. }));
}

#[test]
fn an_exact_number_wins_over_a_range_containing_it() {
    let ix = town();
    // "14" (a node) and "14-20" (500 m away): 14 is the node, 16 the range.
    let h14 = at(ix.locate("Hauptstraße", "14", None));
    assert_eq!(h14.2, Quality::Exact);
    assert!(near(h14, 60.1652, 24.9420), "{h14:?}");
    let h16 = at(ix.locate("Hauptstraße", "16", None));
    assert!(near(h16, 60.1652, 24.9480) && h16.2 == Quality::Range, "{h16:?}");
}

#[test]
fn buildings_mapped_as_multipolygon_relations_are_found() {
    let h3 = at(town().locate("Hauptstraße", "3", None));
    // The mean of the outer ways' four corners.
    assert!(near(h3, 60.1647, 24.9432), "{h3:?}");
    assert_eq!(h3.2, Quality::Exact);
}

#[test]
fn interpolation_ways_place_the_numbers_between_their_ends() {
    let ix = town();
    // 21 and 29 at the ends (odd): 23, 25, 27 along the way; 24 is not on this side.
    let h25 = at(ix.locate("Hauptstraße", "25", None));
    assert!(near(h25, 60.1648, 24.9460), "{h25:?}");
    assert_eq!(h25.2, Quality::Interpolated);
    let h23 = at(ix.locate("Hauptstraße", "23", None));
    assert!(near(h23, 60.1648, 24.9450), "{h23:?}");
    assert!(matches!(ix.locate("Hauptstraße", "24", None), Located::NumberNotFound { .. }));
    assert_eq!(at(ix.locate("Hauptstraße", "21", None)).2, Quality::Exact);
}

#[test]
fn every_name_of_a_street_is_matched() {
    let ix = town();
    let fi = at(ix.locate("Mannerheimintie", "11", None));
    // name:sv, with a staircase and flat as a Finnish register writes them.
    assert!(near(at(ix.locate("Mannerheimvägen", "11 B 5", None)), fi.0, fi.1));
    assert_eq!(at(ix.locate("Mannerheimvägen", "11 B 5", None)).2, Quality::WithoutSuffix);
    let h8 = at(ix.locate("Hauptstraße", "8", None));
    for other in ["Adolf-Hitler-Straße", "Hauptweg", "Obere Hauptstraße"] {
        assert!(near(at(ix.locate(other, "8", None)), h8.0, h8.1), "{other}");
    }
}

#[test]
fn abbreviations_of_every_language_are_matched() {
    let ix = town();
    let a4 = at(ix.locate("Aleksanterinkatu", "4", None));
    for short in ["Aleksanterink.", "Alexandersgatan", "Alexandersg."] {
        assert!(near(at(ix.locate(short, "4", None)), a4.0, a4.1), "{short}");
    }
    at(ix.locate("Hauptstr.", "8", None));
    at(ix.locate("Station Rd", "2", None));
    at(ix.locate("Main St.", "5", None));
    at(ix.locate("St James Ave", "1", None));
}

#[test]
fn the_report_names_the_reason_and_the_candidates_of_each_failure() {
    let ix = town();
    let p = |id: &str, street: &str, nr: &str| Pupil {
        id: id.into(),
        location: None,
        street: Some(street.into()),
        house_number: Some(nr.into()),
        postcode: None,
        block: None,
        fixed_school: None,
        extra: vec![],
    };
    let mut pupils = vec![
        p("1", "Hauptstraße", "14"),
        p("2", "Hauptstraße", "9"),
        p("3", "Hauptstrasse Nord", "1"),
        p("4", "Mannerheimvägen", "11 B 5"),
    ];
    let r = geocode_pupils(&mut pupils, ix);
    assert_eq!(r.geocoded, 2);
    match &r.problems[0] {
        (id, GeocodeProblem::NumberNotFound(nearest)) => {
            assert_eq!(id, "2");
            let labels: Vec<&str> = nearest.iter().map(|c| c.label.as_str()).collect();
            assert_eq!(labels, vec!["Hauptstraße 8", "Hauptstraße 10", "Hauptstraße 14"]);
            assert!(nearest.iter().all(|c| (60.16..60.17).contains(&c.lat)));
        }
        other => panic!("{other:?}"),
    }
    match &r.problems[1] {
        (id, GeocodeProblem::StreetNotFound(similar)) => {
            assert_eq!(id, "3");
            assert_eq!(similar, &vec!["Hauptstraße".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    let s = r.summary();
    assert_eq!(
        s,
        "geocoding: 2 of 4 placed (50.00%) [1 exact, 1 without_suffix]; failures by reason: \
         1 number_not_found, 1 street_not_found"
    );
}

/// The match rate on Monaco's real addresses written as an address register would write them:
/// upper case, `Bd`/`Av.` for `Boulevard`/`Avenue`, staircase and flat after the number. Prints
/// the rate (`cargo test --release --test geocode match_rate -- --nocapture`).
#[test]
fn match_rate_on_monaco_addresses_in_register_forms() {
    use osmpbf::{Element, ElementReader};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/monaco.osm.pbf");
    let mut addresses: Vec<(String, String)> = Vec::new();
    let mut take = |tags: &mut dyn Iterator<Item = (&str, &str)>| {
        let (mut s, mut n) = (None, None);
        for (k, v) in tags {
            match k {
                "addr:street" => s = Some(v.to_string()),
                "addr:housenumber" => n = Some(v.to_string()),
                _ => {}
            }
        }
        if let (Some(s), Some(n)) = (s, n) {
            addresses.push((s, n));
        }
    };
    ElementReader::from_path(&path)
        .unwrap()
        .for_each(|el| match el {
            Element::Node(n) => take(&mut n.tags()),
            Element::DenseNode(n) => take(&mut n.tags()),
            Element::Way(w) => take(&mut w.tags()),
            Element::Relation(r) => take(&mut r.tags()),
        })
        .unwrap();
    let register = |street: &str, number: &str, form: usize| -> (String, String) {
        let s = match form {
            0 => street.to_string(),
            1 => street.to_uppercase(),
            _ => street.replace("Boulevard", "Bd").replace("Avenue", "Av."),
        };
        // The first number of a range or list, then a staircase and a flat.
        let first = catchment::instance::housenumber::parse(number)
            .map(|h| h.first().key())
            .unwrap_or_else(|| number.to_string());
        let n = if form == 2 { format!("{first} C 12") } else { first };
        (s, n)
    };
    let pupils: Vec<Pupil> = addresses
        .iter()
        .enumerate()
        .flat_map(|(i, (s, n))| {
            (0..3).map(move |form| {
                let (street, number) = register(s, n, form);
                Pupil {
                    id: format!("{i}-{form}"),
                    location: None,
                    street: Some(street),
                    house_number: Some(number),
                    postcode: None,
                    block: None,
                    fixed_school: None,
                    extra: vec![],
                }
            })
        })
        .collect();
    let mut pupils = pupils;
    let r = geocode_pupils(&mut pupils, monaco());
    println!("{} addresses x 3 forms: {}", addresses.len(), r.summary());
    let rate = r.geocoded as f64 / pupils.len() as f64;
    assert!(rate >= 0.95, "{}", r.summary());
}
