//! Walking distances: the `Matrix` type and where it comes from (a matrix file today; a
//! routing engine, a cache and geocoding plug in here).

pub mod matrix;

pub use matrix::{read_matrix, write_matrix, Matrix, UNREACHABLE};
pub mod stream;
