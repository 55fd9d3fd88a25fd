//! The OSRM step of the pipeline: geocode pupils given by address, consult the cache, route.

use super::{cache, geocode, osrm, Matrix};
use crate::error::{Error, Result};
use crate::instance::Instance;
use std::path::PathBuf;

/// Where an OSRM matrix comes from and what to do with what cannot be routed or geocoded.
#[derive(Debug, Clone)]
pub struct OsrmSource {
    /// The server, e.g. `http://127.0.0.1:5000`.
    pub url: String,
    /// The routing profile the server was prepared with (e.g. `foot`); part of the cache key.
    pub profile: String,
    /// Snap limit, unreachable-pair policy and table request options.
    pub route: osrm::RouteOptions,
    /// The OSM extract the server was prepared from: geocodes street addresses and keys the cache.
    pub osm: Option<PathBuf>,
    /// Directory of cached tables (used when `osm` is given).
    pub cache_dir: Option<PathBuf>,
    /// Leave pupils whose address was not found (or is ambiguous) out instead of failing.
    pub skip_ungeocoded: bool,
    /// Where the geocoding report (pupil ids that could not be placed) is written.
    pub geocode_report: PathBuf,
}

/// Geocode pupils given by address (when any), then route every pupil to every school through
/// OSRM (or take the table from the cache). Returns the instance actually routed (without
/// skipped pupils), the matrix and the routing report.
pub fn osrm_matrix(
    mut inst: Instance,
    src: &OsrmSource,
) -> Result<(Instance, Matrix, osrm::RoutingReport)> {
    if inst.pupils.iter().any(|p| p.location.is_none()) {
        let Some(osm) = &src.osm else {
            return Err(osrm::RouteError::NoLocation(
                inst.pupils.iter().filter(|p| p.location.is_none()).map(|p| p.id.clone()).collect(),
            )
            .into());
        };
        let index = geocode::AddressIndex::from_pbf(osm)
            .map_err(|e| Error::input(&osm.display().to_string(), None, None, e))?;
        tracing::info!(addresses = index.len(), "address index built");
        let report = geocode::geocode_pupils(&mut inst.pupils, &index);
        if !report.problems.is_empty() {
            report.write_csv(&src.geocode_report).map_err(|e| Error::io(&src.geocode_report, e))?;
            let counts = format!(
                "{} pupil(s) could not be placed ({} unmatched, {} ambiguous, {} without address); their ids are in {}",
                report.problems.len(),
                report.unmatched(),
                report.ambiguous(),
                report.problems.len() - report.unmatched() - report.ambiguous(),
                src.geocode_report.display()
            );
            if !src.skip_ungeocoded {
                return Err(Error::Geocoding {
                    message: counts,
                    hint: Some(crate::error::Hint::new(
                        "leave them out, or correct their addresses",
                        Some(crate::error::Setting::SkipUngeocoded),
                    )),
                });
            }
            tracing::warn!("geocoding: {counts}; they are left out");
            let skipped: std::collections::HashSet<&str> =
                report.problems.iter().map(|(id, _)| id.as_str()).collect();
            let pupils =
                inst.pupils.iter().filter(|p| !skipped.contains(p.id.as_str())).cloned().collect();
            inst = Instance::new(inst.schools.clone(), pupils)?;
        }
    }
    let service = osrm::OsrmHttp::new(&src.url, &src.profile);
    let checksum = match (&src.cache_dir, &src.osm) {
        (Some(_), Some(osm)) => Some(
            cache::file_checksum(osm)
                .map_err(|e| Error::input(&osm.display().to_string(), None, None, e))?,
        ),
        (Some(_), None) => {
            tracing::warn!("the matrix cache needs --osm (the extract the server was prepared from); not caching");
            None
        }
        _ => None,
    };
    let store = src.cache_dir.as_ref().map(cache::MatrixCache::new);
    let cache_use = match (&store, &checksum) {
        (Some(c), Some(sum)) => Some(osrm::CacheUse { cache: c, dataset_checksum: sum }),
        _ => None,
    };
    let (m, report) = osrm::route_instance(&inst, &service, &src.route, cache_use)?;
    if !report.is_empty() {
        tracing::warn!(
            far_snapped = report.far_snapped.len(),
            unreachable_pairs = report.unreachable.len(),
            "pairs left out of the model (unreachable pairs allowed)"
        );
    }
    Ok((inst, m, report))
}
