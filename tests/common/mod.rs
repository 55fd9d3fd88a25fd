//! Shared by the HTTP tests and the load measurement.
pub mod http;
pub mod server;
