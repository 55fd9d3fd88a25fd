//! Instances the project generates: a seeded synthetic town today (the Magdeburg case plugs in
//! here too).

pub mod synthetic;
