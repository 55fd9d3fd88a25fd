//! Geocoding against the address index of the real Monaco extract (tests/data/monaco.osm.pbf).

use catchment::routing::geocode::{AddressIndex, Lookup};
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
    // 51 addressed nodes and 11 addressed ways in this extract.
    assert_eq!(monaco().len(), 62);
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
    // OSM "7-9" covers 7, 8 and 9; a pupil's "7-9" is its first number.
    let t8 = found(ix.lookup("Rue Terrazzani", "8", None));
    assert_eq!(found(ix.lookup("Rue Terrazzani", "7-9", None)), t8);
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
