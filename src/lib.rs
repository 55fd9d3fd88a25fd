//! catchment: optimal school catchment areas.
//!
//! The pipeline runs one way: input -> [`instance::Instance`]; routing -> [`routing::Matrix`];
//! [`solve`] -> [`Plan`] (with a [`solve::certificate::Certificate`]); [`districts`],
//! [`report`] and [`output`] turn a plan into files. [`app`] is the application layer the two
//! shells (the CLI in `src/main.rs`, the HTTP service in [`server`]) both call.

// Index loops over several parallel per-school arrays read clearer than zipped iterators in
// the solvers and reports.
#![allow(clippy::needless_range_loop)]

pub mod app;
pub mod check;
pub mod districts;
pub mod error;
pub mod instance;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod projection;
pub mod report;
pub mod routing;
pub mod scenario;
#[cfg(feature = "server")]
pub mod server;
pub mod solve;
pub mod stability;

pub use error::{Error, Result};
pub use instance::{read_instance, Instance, Pupil, School};
pub use pipeline::solve_plan;
pub use plan::{
    classes_for, describe_findings, describe_infeasibility, effective_instance, with_class_size,
    Plan, Policy, Unit,
};
pub use routing::Matrix;
pub use solve::SolverKind;
