//! The area districts divide: a city boundary given as GeoJSON (a Polygon or MultiPolygon, as
//! a geometry, a Feature, a FeatureCollection or a GeometryCollection), in WGS84.

use crate::error::{Error, Result};
use geo::{MultiPolygon, Polygon};

/// Read an area from GeoJSON text: every polygon in it, as one MultiPolygon.
pub fn area_from_geojson(name: &str, text: &str) -> Result<MultiPolygon<f64>> {
    let bad = |m: String| Error::input(name, None, None, m);
    let gj: geojson::GeoJson = text.parse().map_err(|e| bad(format!("not GeoJSON: {e}")))?;
    let mut polys: Vec<Polygon<f64>> = Vec::new();
    let mut add = |g: geojson::Geometry| -> Result<()> {
        let g: geo::Geometry<f64> =
            g.try_into().map_err(|e| bad(format!("a geometry cannot be read: {e}")))?;
        collect(g, &mut polys);
        Ok(())
    };
    match gj {
        geojson::GeoJson::Geometry(g) => add(g)?,
        geojson::GeoJson::Feature(f) => {
            if let Some(g) = f.geometry {
                add(g)?
            }
        }
        geojson::GeoJson::FeatureCollection(fc) => {
            for f in fc.features {
                if let Some(g) = f.geometry {
                    add(g)?
                }
            }
        }
    }
    if polys.is_empty() {
        return Err(bad("no Polygon or MultiPolygon in the area".into()));
    }
    Ok(MultiPolygon::new(polys))
}

fn collect(g: geo::Geometry<f64>, out: &mut Vec<Polygon<f64>>) {
    match g {
        geo::Geometry::Polygon(p) => out.push(p),
        geo::Geometry::MultiPolygon(mp) => out.extend(mp.0),
        geo::Geometry::GeometryCollection(gc) => {
            for g in gc.0 {
                collect(g, out);
            }
        }
        _ => {}
    }
}

/// [`area_from_geojson`] from a file.
pub fn read_area(path: &std::path::Path) -> Result<MultiPolygon<f64>> {
    let name = crate::instance::file_name(path);
    let text = String::from_utf8(crate::instance::read_input(path)?)
        .map_err(|_| Error::input(&name, None, None, "not valid UTF-8 text"))?;
    area_from_geojson(&name, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygons_from_every_container() {
        let sq = r#"{"type":"Polygon","coordinates":[[[11.6,52.1],[11.7,52.1],[11.7,52.2],[11.6,52.1]]]}"#;
        for text in [
            sq.to_string(),
            format!(r#"{{"type":"Feature","properties":{{}},"geometry":{sq}}}"#),
            format!(
                r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{}},"geometry":{sq}}}]}}"#
            ),
            format!(r#"{{"type":"GeometryCollection","geometries":[{sq}]}}"#),
        ] {
            assert_eq!(area_from_geojson("a", &text).unwrap().0.len(), 1, "{text}");
        }
        let e = area_from_geojson("a.geojson", r#"{"type":"Point","coordinates":[1,2]}"#);
        assert!(e.unwrap_err().to_string().contains("no Polygon"));
        assert!(area_from_geojson("a.geojson", "{").is_err());
    }
}
