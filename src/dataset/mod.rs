//! Instances the project generates: a seeded synthetic town, and the Magdeburg case built from
//! the city's public data.

pub mod laea;
pub mod magdeburg;
pub mod synthetic;
