//! catchment: optimal school catchment areas.
//!
//! The pipeline runs one way: input -> [`instance::Instance`]; routing -> [`routing::Matrix`];
//! [`solve`] -> [`Plan`] (with a [`solve::certificate::Certificate`]); [`districts`],
//! [`report`] and [`output`] turn a plan into files. [`app`] is the application layer the two
//! shells (the CLI in `src/main.rs`, the HTTP service in `server`) both call.
//!
//! # A plan from a request
//!
//! Three pupils, two schools; school A has one seat. The request is what `catchment solve`
//! reads from files and `POST /v1/plans` from a body:
//!
//! ```
//! use catchment::app::{CompareSpec, Distances, PlanRequest, Source};
//!
//! let text = |name: &str, t: &str| Source::Text { name: name.into(), text: t.into() };
//! let req = PlanRequest {
//!     schools: text("schools.csv", "id,name,lat,lon,capacity\nA,North,52.13,11.62,1\nB,South,52.12,11.63,2\n"),
//!     pupils: text("pupils.csv", "id,lat,lon\np1,52.13,11.62\np2,52.13,11.62\np3,52.12,11.63\n"),
//!     distances: Distances::Matrix(text(
//!         "matrix.csv",
//!         "pupil_id,school_id,meters\np1,A,100\np1,B,900\np2,A,150\np2,B,700\np3,A,800\np3,B,50\n",
//!     )),
//!     policy: catchment::Policy::default(),
//!     stability: None,
//!     city: None,
//!     compare: CompareSpec::default(),
//!     pins: None,
//! };
//! let loaded = req.load(&|_| ())?;
//! let result = loaded.solve(&|_| ())?;
//! // A is full with p1 (100 m); p2 walks 700 m to B rather than p1 900 m.
//! assert_eq!(result.plan.objective, 100 + 700 + 50);
//! // Certified: full school A charges 550 m, the walk its seat saves; with it, every pupil
//! // sits at a school of least walk + price.
//! let cert = result.plan.certificate.as_ref().expect("pupil-level plans are certified");
//! assert_eq!(cert.prices, vec![550, 0]);
//! # Ok::<(), catchment::Error>(())
//! ```
//!
//! # The core in index space
//!
//! The solvers and the certificate work on a [`solve::Problem`] (pupils x schools, meters); the
//! certificate shares no code with any solver:
//!
//! ```
//! use catchment::solve::{certificate, solve, Problem, SolverKind};
//!
//! let p = Problem {
//!     n_schools: 2,
//!     cap: vec![1, 2],
//!     min: vec![0, 0],
//!     cost: vec![100, 900, 150, 700, 800, 50], // row-major: pupil x school
//!     weight: vec![1, 1, 1],
//!     fixed: vec![None, None, None],
//! };
//! let flow = solve(&p, SolverKind::Flow).unwrap();
//! let lp = solve(&p, SolverKind::Lp).unwrap();
//! assert_eq!((flow.objective, lp.objective), (850, 850));
//! assert!(certificate::certify(&p, &flow.assign).is_ok());
//! // The other plan (p2 at A, p1 at B) is feasible but not optimal: the check says so.
//! assert!(certificate::certify(&p, &[1, 0, 1]).is_err());
//! ```

// Index loops over several parallel per-school arrays read clearer than zipped iterators in
// the solvers and reports.
#![allow(clippy::needless_range_loop)]
// Every public item is documented (clippy -D warnings in CI makes this a gate).
#![warn(missing_docs)]

pub mod app;
pub mod cancel;
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
pub mod sites;
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
