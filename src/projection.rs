//! ETRS89-LAEA Europe (EPSG:3035), the projection of the official European 100 m grid: the
//! Lambert azimuthal equal-area projection on the GRS80 ellipsoid, centred at 52 N 10 E, with a
//! false easting of 4,321,000 m and a false northing of 3,210,000 m. Forward and inverse, after
//! the formulas of IOGP Guidance Note 7-2 (method 9820); the inverse latitude starts from the
//! authalic-latitude series and is refined by Newton steps to floating-point precision.

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
