//! Walking distances: the `Matrix` type and where it comes from: a matrix file, or an OSRM
//! server (`osrm`) with a disk cache (`cache`); street addresses become coordinates through an
//! address index built from the same OSM extract (`geocode`).

pub mod binary;
#[cfg(feature = "osm")]
pub mod cache;
pub mod geocode;
pub mod matrix;
#[cfg(feature = "osm")]
pub mod osrm;
#[cfg(feature = "osm")]
pub mod pairs;
#[cfg(feature = "osm")]
mod route;
pub mod stream;
#[cfg(feature = "osm")]
pub mod table;

pub use matrix::{read_matrix, write_matrix, Matrix, PartialRows, UNREACHABLE};

#[cfg(feature = "osm")]
pub use route::{
    address_index, geocode_instance, located_rows, osrm_matrix, route_located, OsrmSource,
};
