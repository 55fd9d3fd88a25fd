//! What an OSRM table request is made of and answers with, shared by the client (`osrm`) and
//! the disk cache (`cache`).

/// A location as (latitude, longitude) in degrees, the order used everywhere in catchment.
pub type LatLon = (f64, f64);

/// One table answer: sources x destinations, in meters and seconds, `None` for no route.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TableAnswer {
    /// Walking distance in meters, `distances[source][destination]`; `None`: no route.
    pub distances: Vec<Vec<Option<f64>>>,
    /// Travel time in seconds, same layout as `distances`; `None` where there is no route.
    pub durations: Vec<Vec<Option<f64>>>,
    /// Gap in meters from each source coordinate to the street it snapped to.
    pub source_snap: Vec<f64>,
    /// Gap in meters from each destination coordinate to the street it snapped to.
    pub destination_snap: Vec<f64>,
}
