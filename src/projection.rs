//! ETRS89-LAEA Europe (EPSG:3035), the projection of the official European 100 m grid: the
//! Lambert azimuthal equal-area projection on the GRS80 ellipsoid, centred at 52 N 10 E, with a
//! false easting of 4,321,000 m and a false northing of 3,210,000 m. Forward and inverse, after
//! the formulas of IOGP Guidance Note 7-2 (method 9820); the inverse latitude starts from the
//! authalic-latitude series and is refined by Newton steps to floating-point precision.
//!
//! Input coordinates in any other system ([`Crs`], `--crs EPSG:25833`) are carried to WGS84 by
//! proj4rs, whose EPSG table (crs-definitions) names the system's definition.

const A: f64 = 6_378_137.0;
const INV_F: f64 = 298.257_222_101;
const LAT0_DEG: f64 = 52.0;
const LON0_DEG: f64 = 10.0;
const FALSE_EASTING: f64 = 4_321_000.0;
const FALSE_NORTHING: f64 = 3_210_000.0;

struct Consts {
    e: f64,
    e2: f64,
    qp: f64,
    rq: f64,
    d: f64,
    sin_b0: f64,
    cos_b0: f64,
}

fn q(e: f64, e2: f64, sin_phi: f64) -> f64 {
    (1.0 - e2)
        * (sin_phi / (1.0 - e2 * sin_phi * sin_phi)
            - (1.0 / (2.0 * e)) * ((1.0 - e * sin_phi) / (1.0 + e * sin_phi)).ln())
}

fn consts() -> Consts {
    let f = 1.0 / INV_F;
    let e2 = 2.0 * f - f * f;
    let e = e2.sqrt();
    let qp = q(e, e2, 1.0);
    let phi0 = LAT0_DEG.to_radians();
    let q0 = q(e, e2, phi0.sin());
    let b0 = (q0 / qp).asin();
    let rq = A * (qp / 2.0).sqrt();
    let d = A * phi0.cos() / ((1.0 - e2 * phi0.sin().powi(2)).sqrt() * rq * b0.cos());
    Consts { e, e2, qp, rq, d, sin_b0: b0.sin(), cos_b0: b0.cos() }
}

/// (lat, lon) in degrees (ETRS89 ~ WGS84 at this scale) -> (easting, northing) in meters.
pub fn forward(lat: f64, lon: f64) -> (f64, f64) {
    let c = consts();
    let b = (q(c.e, c.e2, lat.to_radians().sin()) / c.qp).asin();
    let dl = (lon - LON0_DEG).to_radians();
    let bb = c.rq * (2.0 / (1.0 + c.sin_b0 * b.sin() + c.cos_b0 * b.cos() * dl.cos())).sqrt();
    let e = FALSE_EASTING + bb * c.d * b.cos() * dl.sin();
    let n = FALSE_NORTHING + (bb / c.d) * (c.cos_b0 * b.sin() - c.sin_b0 * b.cos() * dl.cos());
    (e, n)
}

/// (easting, northing) in meters -> (lat, lon) in degrees.
pub fn inverse(easting: f64, northing: f64) -> (f64, f64) {
    let c = consts();
    let x = easting - FALSE_EASTING;
    let y = northing - FALSE_NORTHING;
    let rho = ((x / c.d).powi(2) + (c.d * y).powi(2)).sqrt();
    if rho == 0.0 {
        return (LAT0_DEG, LON0_DEG);
    }
    let cc = 2.0 * (rho / (2.0 * c.rq)).asin();
    let b = (cc.cos() * c.sin_b0 + (c.d * y * cc.sin() * c.cos_b0) / rho).asin();
    let lon = LON0_DEG.to_radians()
        + (x * cc.sin())
            .atan2(c.d * rho * c.cos_b0 * cc.cos() - c.d * c.d * y * c.sin_b0 * cc.sin());
    let (e2, e4, e6) = (c.e2, c.e2 * c.e2, c.e2 * c.e2 * c.e2);
    let mut lat = b
        + (e2 / 3.0 + 31.0 * e4 / 180.0 + 517.0 * e6 / 5040.0) * (2.0 * b).sin()
        + (23.0 * e4 / 360.0 + 251.0 * e6 / 3780.0) * (4.0 * b).sin()
        + (761.0 * e6 / 45360.0) * (6.0 * b).sin();
    // Newton steps on q(lat) = qp sin(b) (Snyder 3-16) remove the series' remaining ~1e-10 rad.
    let target = c.qp * b.sin();
    for _ in 0..3 {
        let (s, co) = lat.sin_cos();
        let w = 1.0 - e2 * s * s;
        lat += w * w / (2.0 * co) * (target - q(c.e, e2, s)) / (1.0 - e2);
    }
    (lat.to_degrees(), lon.to_degrees())
}

/// A coordinate reference system of input coordinates, by EPSG code (say EPSG:25832/25833,
/// ETRS89 / UTM 32N/33N of German address registers, or EPSG:3067 of Finnish ones). Projected
/// systems take easting and northing in meters; geographic ones longitude and latitude in
/// degrees.
#[derive(Debug, Clone)]
pub struct Crs {
    code: u16,
    from: proj4rs::Proj,
    to: proj4rs::Proj,
}

impl Crs {
    /// `EPSG:25833`, `epsg:25833`, `25833` or `urn:ogc:def:crs:EPSG::25833`; an unknown code
    /// is an error naming it.
    pub fn parse(text: &str) -> Result<Crs, String> {
        let t = text.trim();
        let digits = t.rsplit([':', '/']).next().unwrap_or(t).trim();
        let prefix_ok = {
            let lower = t.to_ascii_lowercase();
            lower == digits
                || lower.starts_with("epsg:")
                || lower.starts_with("urn:ogc:def:crs:epsg:")
        };
        let code: u16 = match digits.parse() {
            Ok(c) if prefix_ok => c,
            _ => {
                return Err(format!(
                    "'{t}' is not a coordinate reference system: give an EPSG code such as \
                     EPSG:25833"
                ))
            }
        };
        let from = proj4rs::Proj::from_epsg_code(code)
            .map_err(|_| format!("EPSG:{code} is not a coordinate reference system known here"))?;
        let to = proj4rs::Proj::from_epsg_code(4326).expect("WGS84 is known");
        Ok(Crs { code, from, to })
    }

    /// The EPSG code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// `(lat, lon)` in WGS84 of the point `(x, y)` (easting and northing, or longitude and
    /// latitude in degrees for a geographic system); `None` when it cannot be carried.
    pub fn to_wgs84(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let mut p = if self.from.is_latlong() {
            (x.to_radians(), y.to_radians(), 0.0)
        } else {
            (x, y, 0.0)
        };
        proj4rs::transform::transform(&self.from, &self.to, &mut p).ok()?;
        let (lat, lon) = (p.1.to_degrees(), p.0.to_degrees());
        (lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0)
            .then_some((lat, lon))
    }
}

#[cfg(test)]
mod crs_tests {
    use super::*;

    /// Meters between two WGS84 points (haversine; fine at these distances).
    fn meters(a: (f64, f64), b: (f64, f64)) -> f64 {
        let r = 6_371_008.8;
        let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
        let dla = la2 - la1;
        let dlo = (b.1 - a.1).to_radians();
        let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * r * h.sqrt().asin()
    }

    #[test]
    fn epsg_3035_through_proj4rs_equals_our_own_inverse() {
        // The grid's projection has formulas of its own here: the two agree to the millimetre.
        let crs = Crs::parse("EPSG:3035").unwrap();
        for (e, n) in
            [(4_433_100.0, 3_216_200.0), (4_321_000.0, 3_210_000.0), (5_000_000.0, 2_800_000.0)]
        {
            let ours = inverse(e, n);
            let theirs = crs.to_wgs84(e, n).unwrap();
            assert!(meters(ours, theirs) < 0.001, "{ours:?} vs {theirs:?}");
        }
    }

    #[test]
    fn utm_zones_round_trip_the_forward_formula_and_codes_parse() {
        // Magdeburg's cathedral in ETRS89 / UTM 32N: easting ~ 681,000 m, latitude 52.12.
        let crs = Crs::parse("epsg:25832").unwrap();
        assert_eq!(crs.code(), 25832);
        let (lat, lon) = crs.to_wgs84(681_000.0, 5_777_000.0).unwrap();
        assert!((52.0..52.2).contains(&lat) && (11.5..11.8).contains(&lon), "{lat} {lon}");
        // Zone 33 is 6 degrees further east for the same numbers.
        let (lat33, lon33) = Crs::parse("25833").unwrap().to_wgs84(681_000.0, 5_777_000.0).unwrap();
        assert!((lat33 - lat).abs() < 1e-9 && (lon33 - lon - 6.0).abs() < 1e-9);
        // A geographic system takes degrees (ETRS89 = WGS84 to well under a meter here).
        let (la, lo) =
            Crs::parse("urn:ogc:def:crs:EPSG::4258").unwrap().to_wgs84(11.63, 52.13).unwrap();
        assert!(meters((la, lo), (52.13, 11.63)) < 0.5);
        for bad in ["EPSG:", "WGS84", "EPSG:99999", "foo:25833", ""] {
            assert!(Crs::parse(bad).is_err(), "{bad}");
        }
    }
}
