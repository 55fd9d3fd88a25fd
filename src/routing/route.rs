//! The OSRM step of the pipeline: geocode pupils given by address, consult the cache, route.

use super::{cache, geocode, osrm, Matrix};
use crate::error::{Error, Result};
use crate::instance::Instance;
use std::path::PathBuf;

/// Where an OSRM matrix comes from and what to do with what cannot be routed or geocoded.
#[derive(Debug, Clone)]
pub struct OsrmSource {
    /// The servers, e.g. `http://127.0.0.1:5000`: one or more serving the same data; a
    /// table's requests are shared out among them.
    pub urls: Vec<String>,
    /// The routing profile the server was prepared with (e.g. `foot`); part of the cache key.
    pub profile: String,
    /// Snap limit, unreachable-pair policy and table request options.
    pub route: osrm::RouteOptions,
    /// The OSM extract the server was prepared from: geocodes street addresses and keys the cache.
    pub osm: Option<PathBuf>,
    /// Directory of cached tables (used when `osm` is given).
    pub cache_dir: Option<PathBuf>,
    /// The address index of `osm`, built once by the caller (the service builds it at start);
    /// without it, it is built from `osm` when addresses need placing.
    pub index: Option<std::sync::Arc<geocode::AddressIndex>>,
    /// Leave pupils whose address was not found (or is ambiguous) out instead of failing.
    pub skip_ungeocoded: bool,
    /// Where the geocoding report (pupil ids that could not be placed) is written; without
    /// it (the service), the message gives the counts only.
    pub geocode_report: Option<PathBuf>,
}

impl OsrmSource {
    /// A client per server, or the routing error of an empty list.
    pub fn clients(&self) -> Result<Vec<osrm::OsrmHttp>> {
        if self.urls.is_empty() {
            return Err(Error::Routing { message: "no OSRM server given".into(), hint: None });
        }
        Ok(self.urls.iter().map(|u| osrm::OsrmHttp::new(u, &self.profile)).collect())
    }
}

/// The address index for geocoding: the one given, or built from the extract; `None` when
/// there is neither.
pub fn address_index(src: &OsrmSource) -> Result<Option<std::sync::Arc<geocode::AddressIndex>>> {
    if let Some(ix) = &src.index {
        return Ok(Some(ix.clone()));
    }
    let Some(osm) = &src.osm else { return Ok(None) };
    let index = geocode::AddressIndex::from_osm_file(osm)
        .map_err(|e| Error::input(&osm.display().to_string(), None, None, e))?;
    tracing::info!(addresses = index.len(), "address index built");
    Ok(Some(std::sync::Arc::new(index)))
}

/// Geocode pupils given by address (when any), then route every pupil to every school through
/// OSRM (or take the table from the cache). Returns the instance actually routed (without
/// skipped pupils), the matrix and the routing report.
pub fn osrm_matrix(
    inst: Instance,
    src: &OsrmSource,
) -> Result<(Instance, Matrix, osrm::RoutingReport)> {
    let inst = geocode_instance(inst, src)?;
    let rows = located_rows(&inst)?;
    let (m, report) = route_located(&rows, &inst.schools, src, "pupil")?;
    Ok((inst, m, report))
}

/// Every pupil's (id, location), or the error naming how many have none.
pub fn located_rows(inst: &Instance) -> Result<Vec<(&str, osrm::LatLon)>> {
    Ok(inst
        .pupils
        .iter()
        .map(|p| p.location.map(|l| (p.id.as_str(), l)))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            osrm::RouteError::NoLocation(
                inst.pupils.iter().filter(|p| p.location.is_none()).map(|p| p.id.clone()).collect(),
            )
        })?)
}

/// Geocode pupils given by address (when any) through the source's address index: the
/// instance with every pupil placed (pupils that could not be placed left out when the source
/// allows it, else the geocoding error).
pub fn geocode_instance(mut inst: Instance, src: &OsrmSource) -> Result<Instance> {
    if inst.pupils.iter().any(|p| p.location.is_none()) {
        let Some(index) = address_index(src)? else {
            return Err(osrm::RouteError::NoLocation(
                inst.pupils.iter().filter(|p| p.location.is_none()).map(|p| p.id.clone()).collect(),
            )
            .into());
        };
        let report = geocode::geocode_pupils(&mut inst.pupils, &index);
        // The match rate and the failures by reason, at the end of every geocoding run (counts
        // only: no pupil id, no address).
        if report.problems.is_empty() {
            tracing::info!("{}", report.summary());
        } else {
            tracing::warn!("{}", report.summary());
        }
        if let Some(path) = &src.geocode_report {
            report.write_csv(path).map_err(|e| Error::io(path, e))?;
        }
        if !report.problems.is_empty() {
            let mut counts = format!(
                "{} pupil(s) could not be placed ({} unmatched, {} ambiguous, {} without address)",
                report.problems.len(),
                report.unmatched(),
                report.ambiguous(),
                report.problems.len() - report.unmatched() - report.ambiguous(),
            );
            if let Some(path) = &src.geocode_report {
                counts.push_str(&format!("; their ids are in {}", path.display()));
            }
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
    Ok(inst)
}

/// Route located rows (pupils, the city's blocks; `unit` names them in messages) to every
/// school through the source's server, with its cache (keyed by the extract's checksum).
pub fn route_located(
    rows: &[(&str, osrm::LatLon)],
    schools: &[crate::instance::School],
    src: &OsrmSource,
    unit: &'static str,
) -> Result<(Matrix, osrm::RoutingReport)> {
    let clients = src.clients()?;
    let services: Vec<&dyn osrm::TableService> =
        clients.iter().map(|c| c as &dyn osrm::TableService).collect();
    let checksum = match (&src.cache_dir, &src.osm) {
        (Some(_), Some(osm)) => Some(
            cache::file_checksum(osm)
                .map_err(|e| Error::input(&osm.display().to_string(), None, None, e))?,
        ),
        (Some(_), None) => {
            tracing::warn!(
                "the matrix cache needs the OSM extract the server was prepared from; not caching"
            );
            None
        }
        _ => None,
    };
    let store = src.cache_dir.as_ref().map(cache::MatrixCache::new);
    let cache_use = match (&store, &checksum) {
        (Some(c), Some(sum)) => Some(osrm::CacheUse { cache: c, dataset_checksum: sum }),
        _ => None,
    };
    let (m, report) = osrm::route_rows(rows, schools, &services, &src.route, cache_use, unit)?;
    if !report.is_empty() {
        tracing::warn!(
            far_snapped = report.far_snapped.len(),
            unreachable_pairs = report.unreachable.len(),
            unit,
            "pairs left out of the model (unreachable pairs allowed)"
        );
    }
    Ok((m, report))
}
