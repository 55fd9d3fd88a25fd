//! Input coordinates in a register's own coordinate reference system (`--crs EPSG:25833`):
//! files with `x,y` in meters read equal to their WGS84 twins, solve to the same plan; German
//! register column names (`Straße`, `Hausnummer`, `Hausnummernzusatz`, `PLZ`) are read as
//! `street`, `house_number` and `postcode`.

mod common;
use catchment::instance::{read_pupils, read_schools, table::with_crs};
use catchment::projection::Crs;
use common::{bin, write};

/// Meters between two WGS84 points.
fn meters(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((b.1 - a.1).to_radians() / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

/// (easting, northing) in EPSG:25833 of a WGS84 point, to the centimetre as registers give them.
fn utm33(lat: f64, lon: f64) -> (f64, f64) {
    let from = proj4rs::Proj::from_epsg_code(4326).unwrap();
    let to = proj4rs::Proj::from_epsg_code(25833).unwrap();
    let mut p = (lon.to_radians(), lat.to_radians(), 0.0);
    proj4rs::transform::transform(&from, &to, &mut p).unwrap();
    ((p.0 * 100.0).round() / 100.0, (p.1 * 100.0).round() / 100.0)
}

/// Berlin-Mitte: three schools, twelve pupils; the same files in WGS84 and in EPSG:25833
/// (semicolons and decimal commas, as a German spreadsheet writes them).
fn twins(dir: &std::path::Path) {
    let schools =
        [("A", 52.5200, 13.4050, 5), ("B", 52.5290, 13.3880, 5), ("C", 52.5110, 13.4200, 5)];
    let (mut wgs, mut utm) =
        (String::from("id,name,lat,lon,capacity\n"), String::from("id;name;x;y;capacity\n"));
    for (id, lat, lon, cap) in schools {
        wgs.push_str(&format!("{id},School {id},{lat},{lon},{cap}\n"));
        let (x, y) = utm33(lat, lon);
        utm.push_str(&format!(
            "{id};School {id};{};{};{cap}\n",
            x.to_string().replace('.', ","),
            y
        ));
    }
    write(dir, "schools.csv", &wgs);
    write(dir, "schools-utm.csv", &utm);
    let (mut pw, mut pu, mut m) = (
        String::from("id,lat,lon\n"),
        String::from("id,x,y\n"),
        String::from("pupil_id,school_id,meters\n"),
    );
    for i in 0..12 {
        let (lat, lon) = (52.505 + 0.002 * i as f64, 13.38 + 0.004 * (i % 5) as f64);
        pw.push_str(&format!("p{i},{lat},{lon}\n"));
        let (x, y) = utm33(lat, lon);
        pu.push_str(&format!("p{i},{x},{y}\n"));
        for (id, slat, slon, _) in schools {
            let d = 1.3 * meters((lat, lon), (slat, slon));
            m.push_str(&format!("p{i},{id},{}\n", d.round()));
        }
    }
    write(dir, "pupils.csv", &pw);
    write(dir, "pupils-utm.csv", &pu);
    write(dir, "matrix.csv", &m);
}

#[test]
fn epsg_25833_input_equals_its_wgs84_twin_within_half_a_metre() {
    let d = tempfile::tempdir().unwrap();
    twins(d.path());
    let crs = Crs::parse("EPSG:25833").unwrap();
    let (s_wgs, p_wgs) = (
        read_schools(&d.path().join("schools.csv")).unwrap(),
        read_pupils(&d.path().join("pupils.csv"), None).unwrap(),
    );
    let (s_utm, p_utm) = with_crs(Some(&crs), || {
        (
            read_schools(&d.path().join("schools-utm.csv")).unwrap(),
            read_pupils(&d.path().join("pupils-utm.csv"), None).unwrap(),
        )
    });
    for (a, b) in s_wgs.iter().zip(&s_utm) {
        assert_eq!(a.id, b.id);
        let dist = meters((a.lat, a.lon), (b.lat, b.lon));
        assert!(dist < 0.5, "{}: {dist} m", a.id);
    }
    for (a, b) in p_wgs.iter().zip(&p_utm) {
        let dist = meters(a.location.unwrap(), b.location.unwrap());
        assert!(dist < 0.5, "{dist} m");
    }
    // Without the system, meters are refused with a message that says what to give.
    let e = read_pupils(&d.path().join("pupils-utm.csv"), None).unwrap_err().to_string();
    assert!(e.contains("coordinate reference system") && e.contains("EPSG"), "{e}");
    assert!(!e.contains("p1"), "no pupil id in the message: {e}");

    // The CLI: the same plan from either pair of files.
    let solve = |schools: &str, pupils: &str, out: &str, crs: Option<&str>| {
        let mut cmd = bin();
        if let Some(c) = crs {
            cmd.args(["--crs", c]);
        }
        cmd.args(["solve", "--schools"])
            .arg(d.path().join(schools))
            .arg("--pupils")
            .arg(d.path().join(pupils))
            .arg("--matrix")
            .arg(d.path().join("matrix.csv"))
            .arg("--out")
            .arg(d.path().join(out))
            .output()
            .unwrap()
    };
    let a = solve("schools.csv", "pupils.csv", "a", None);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = solve("schools-utm.csv", "pupils-utm.csv", "b", Some("EPSG:25833"));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let read =
        |dir: &str| std::fs::read_to_string(d.path().join(dir).join("assignments.csv")).unwrap();
    assert_eq!(read("a"), read("b"));
    let c = solve("schools-utm.csv", "pupils-utm.csv", "c", None);
    assert_eq!(c.status.code(), Some(3), "{}", String::from_utf8_lossy(&c.stderr));
    let bad = solve("schools.csv", "pupils.csv", "e", Some("EPSG:nope"));
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
}

#[test]
fn german_register_columns_are_read_as_street_house_number_and_postcode() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "register.csv",
        "id;Straße;Hausnummer;Hausnummernzusatz;PLZ\n1;Breiter Weg;20;a;39104\n2;Hegelstraße;12;;39104\n",
    );
    let pupils = read_pupils(&f, None).unwrap();
    assert_eq!(pupils[0].street.as_deref(), Some("Breiter Weg"));
    assert_eq!(pupils[0].house_number.as_deref(), Some("20a"));
    assert_eq!(pupils[0].postcode.as_deref(), Some("39104"));
    assert_eq!(pupils[1].house_number.as_deref(), Some("12"));
    // A file with both `street` and `Straße` keeps `street` and passes the other through.
    let f = write(d.path(), "both.csv", "id,street,straße,house_number\n1,Am Hang,Breiter Weg,3\n");
    let pupils = read_pupils(&f, None).unwrap();
    assert_eq!(pupils[0].street.as_deref(), Some("Am Hang"));
}

/// JSON objects (the service's `schools`/`pupils` as arrays) are read the same way: `x,y` in
/// the system given, German column names.
#[test]
fn json_objects_take_the_crs_and_register_names_too() {
    let crs = Crs::parse("EPSG:25833").unwrap();
    let (x, y) = utm33(52.52, 13.405);
    let objects: Vec<serde_json::Map<String, serde_json::Value>> = vec![serde_json::from_value(
        serde_json::json!({"id": "1", "x": x, "y": y, "Straße": "Unter den Linden", "Hausnummer": "7", "Zusatz": "b"}),
    )
    .unwrap()];
    let t = with_crs(Some(&crs), || {
        catchment::instance::table::from_objects("pupils", &objects, true, &["id"]).unwrap()
    });
    let pupils = catchment::instance::pupils_from_table(&t, None).unwrap();
    assert!(meters(pupils[0].location.unwrap(), (52.52, 13.405)) < 0.5);
    assert_eq!(pupils[0].street.as_deref(), Some("Unter den Linden"));
    assert_eq!(pupils[0].house_number.as_deref(), Some("7b"));
}

/// Over HTTP: `crs` in the request reads both tables in that system, the same plan as the
/// WGS84 twin; a system the service does not know is 422 naming the field.
#[test]
fn the_service_reads_a_requests_crs() {
    use common::http::{get, post_json};
    use common::server::{Server, READ, WRITE};
    let d = tempfile::tempdir().unwrap();
    twins(d.path());
    let read = |f: &str| std::fs::read_to_string(d.path().join(f)).unwrap();
    let s = Server::start(&d.path().join("c.db"), &[]);
    let plan = |schools: &str, pupils: &str, crs: Option<&str>| {
        let mut body = serde_json::json!({
            "schools": read(schools), "pupils": read(pupils), "matrix": read("matrix.csv"),
        });
        if let Some(c) = crs {
            body["crs"] = c.into();
        }
        post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), body.to_string().as_bytes())
    };
    let assignments = |r: common::http::Response| {
        assert_eq!(r.status, 200, "{}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_string();
        get(s.addr, &format!("/v1/plans/{id}/assignments.csv"), Some(READ)).text()
    };
    let wgs = assignments(plan("schools.csv", "pupils.csv", None));
    let utm = assignments(plan("schools-utm.csv", "pupils-utm.csv", Some("EPSG:25833")));
    assert_eq!(wgs, utm);
    assert!(wgs.lines().count() > 12, "{wgs}");
    let r = plan("schools-utm.csv", "pupils-utm.csv", None);
    assert_eq!(r.status, 422, "meters without a system: {}", r.text());
    let r = plan("schools.csv", "pupils.csv", Some("EPSG:nope"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("crs"), "{}", r.text());
}
