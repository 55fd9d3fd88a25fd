//! Reading delimited text into rows with line numbers, and typed field access that collects
//! every problem (file, line, field) instead of stopping at the first.

use crate::error::{Error, InputProblem, Result};
use crate::projection::Crs;

/// A parsed CSV file: header and rows, each row with its 1-based line number.
#[derive(Debug)]
pub struct Table {
    /// The file name (or label such as `pupils.geojson feature`) that messages name.
    pub file: String,
    /// Column names, in file order, trimmed.
    pub headers: Vec<String>,
    /// Data rows with their line numbers (feature or item numbers for GeoJSON and JSON input).
    pub rows: Vec<(u64, csv::StringRecord)>,
    /// Pupil files are personal data: their values never appear in messages.
    pub personal: bool,
}

pub use super::limits::MAX_COLUMNS;
use super::limits::{self, MAX_ID_BYTES, MAX_ROWS};

/// Parse `bytes` as a CSV table (UTF-8, optional BOM, `,` or `;` delimiter, header row).
/// `required` lists columns that must be present (alternatives separated by `|`).
pub fn read_table(file: &str, bytes: &[u8], required: &[&str], personal: bool) -> Result<Table> {
    read_table_at_most(file, bytes, required, personal, MAX_ROWS, false)
}

/// [`read_table`], but a header without rows is a table of no rows (the current schools of
/// `catchment sites` in a town without any), not an error.
pub fn read_table_maybe_empty(
    file: &str,
    bytes: &[u8],
    required: &[&str],
    personal: bool,
) -> Result<Table> {
    read_table_at_most(file, bytes, required, personal, MAX_ROWS, true)
}

/// `no_rows`: whether a header without rows is accepted.
fn read_table_at_most(
    file: &str,
    bytes: &[u8],
    required: &[&str],
    personal: bool,
    max_rows: usize,
    no_rows: bool,
) -> Result<Table> {
    if let Some(line) = limits::long_line(bytes) {
        return Err(Error::Input(vec![limits::line_too_long(file, line)]));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            return Err(Error::input(
                file,
                Some(line),
                None,
                "not valid UTF-8 text (save the file as UTF-8; Excel: 'CSV UTF-8')",
            ));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Error::input(
            file,
            None,
            None,
            "the file is empty: expected a header row and at least one row",
        ));
    }
    let header_line = text.lines().next().unwrap_or("");
    let commas = header_line.matches(',').count();
    let semis = header_line.matches(';').count();
    let tabs = header_line.matches('\t').count();
    if commas == 0 && semis == 0 && (tabs > 0 || header_line.contains('|')) {
        return Err(Error::input(
            file,
            Some(1),
            None,
            "unsupported delimiter in the header: columns must be separated by ',' or ';'",
        ));
    }
    let delimiter = if semis > commas { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => register_profile(h.iter().map(|s| s.trim().to_lowercase()).collect()),
        Err(e) => {
            return Err(Error::input(
                file,
                Some(1),
                None,
                format!("cannot read the header: {}", csv_message(&e)),
            ))
        }
    };
    if headers.len() > MAX_COLUMNS {
        return Err(Error::input(
            file,
            Some(1),
            None,
            format!(
                "the header has {} columns; at most {MAX_COLUMNS} are read (is this the right file?)",
                headers.len()
            ),
        ));
    }
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            problems.push(InputProblem::new(
                file,
                Some(1),
                None,
                format!("column {} has an empty name", i + 1),
            ));
        } else if !seen.insert(h.as_str()) {
            problems.push(InputProblem::new(file, Some(1), Some(h), "column appears twice"));
        }
    }
    let projected = projected_columns(&headers);
    let has = |name: &str| {
        headers.iter().any(|h| h == name) || projected.is_some() && (name == "lat" || name == "lon")
    };
    if let (Some((x, y)), None) = (projected, input_crs()) {
        if !has_lat_lon(&headers) {
            problems.push(InputProblem::new(
                file,
                Some(1),
                Some(&format!("{}/{}", headers[x], headers[y])),
                "coordinates in meters need their coordinate reference system: give its EPSG \
                 code (say EPSG:25832 or EPSG:25833 for German address registers), or give \
                 'lat' and 'lon' in WGS84",
            ));
        }
    }
    for req in required {
        if !req.split('|').any(has) {
            let other = if delimiter == b',' { ';' } else { ',' };
            let hint = if headers.len() == 1 && header_line.contains(other) {
                format!(
                    " (the header has one column: is the delimiter '{other}' mixed with '{}'?)",
                    delimiter as char
                )
            } else {
                String::new()
            };
            let name = req.replace('|', "' or '");
            problems.push(InputProblem::new(
                file,
                Some(1),
                Some(&name),
                format!("required column is missing{hint}"),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let mut rows = Vec::new();
    for rec in reader.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map(|p| p.line()).unwrap_or(0);
                if r.iter().all(|f| f.trim().is_empty()) {
                    continue; // blank line
                }
                if rows.len() == max_rows {
                    return Err(Error::Input(vec![limits::too_many_rows(file, Some(line))]));
                }
                rows.push((line, r));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line());
                problems.push(InputProblem::new(file, line, None, csv_message(&e)));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    if rows.is_empty() && !no_rows {
        return Err(Error::input(file, None, None, "the file has a header but no rows"));
    }
    let mut table = Table { file: file.to_string(), headers, rows, personal };
    join_suffix_column(&mut table);
    if let (Some((x, y)), Some(crs)) = (projected, input_crs()) {
        if !has_lat_lon(&table.headers) {
            to_lat_lon(&mut table, x, y, &crs)?;
        }
    }
    Ok(table)
}

thread_local! {
    static INPUT_CRS: std::cell::RefCell<Option<std::sync::Arc<Crs>>> = const { std::cell::RefCell::new(None) };
}

/// Run `f` with `crs` as the coordinate reference system of the tables it reads (their `x,y`
/// columns; `lat,lon` are WGS84 always); the previous one is restored after.
pub fn with_crs<T>(crs: Option<&Crs>, f: impl FnOnce() -> T) -> T {
    let new = crs.map(|c| std::sync::Arc::new(c.clone()));
    let old = INPUT_CRS.with(|c| std::mem::replace(&mut *c.borrow_mut(), new));
    struct Restore(Option<std::sync::Arc<Crs>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            INPUT_CRS.with(|c| *c.borrow_mut() = old);
        }
    }
    let _restore = Restore(old);
    f()
}

/// The coordinate reference system tables are read in on this thread, if any.
pub fn input_crs() -> Option<std::sync::Arc<Crs>> {
    INPUT_CRS.with(|c| c.borrow().clone())
}

/// Column names of address registers (German extracts, ALKIS house coordinates) and their
/// names here: a column is renamed only when the file has no column of the name it gets.
const REGISTER_NAMES: &[(&str, &str)] = &[
    ("strasse", "street"),
    ("straße", "street"),
    ("strassenname", "street"),
    ("straßenname", "street"),
    ("str", "street"),
    ("hausnummer", "house_number"),
    ("hnr", "house_number"),
    ("hausnr", "house_number"),
    ("hausnummernzusatz", "house_number_suffix"),
    ("hnr_zusatz", "house_number_suffix"),
    ("zusatz", "house_number_suffix"),
    ("adressierungszusatz", "house_number_suffix"),
    ("plz", "postcode"),
    ("postleitzahl", "postcode"),
    ("zip", "postcode"),
    ("housenumber", "house_number"),
    ("house_no", "house_number"),
];

/// Pairs of coordinate columns in meters (or degrees of a geographic system): east, north.
const PROJECTED: &[(&str, &str)] = &[
    ("x", "y"),
    ("east", "north"),
    ("easting", "northing"),
    ("ostwert", "nordwert"),
    ("rechtswert", "hochwert"),
];

fn register_profile(mut headers: Vec<String>) -> Vec<String> {
    for (from, to) in REGISTER_NAMES {
        if headers.iter().any(|h| h == to) {
            continue;
        }
        if let Some(h) = headers.iter_mut().find(|h| h == from) {
            *h = to.to_string();
        }
    }
    headers
}

fn has_lat_lon(headers: &[String]) -> bool {
    headers.iter().any(|h| h == "lat") && headers.iter().any(|h| h == "lon")
}

/// The first pair of [`PROJECTED`] columns the header has.
fn projected_columns(headers: &[String]) -> Option<(usize, usize)> {
    PROJECTED.iter().find_map(|(e, n)| {
        let x = headers.iter().position(|h| h == e)?;
        let y = headers.iter().position(|h| h == n)?;
        Some((x, y))
    })
}

/// A house number suffix column (`Hausnummernzusatz`) joined to the house number: `20` + `a`
/// is `20a`, as the house-number reader takes it.
fn join_suffix_column(table: &mut Table) {
    let (Some(n), Some(z)) = (
        table.headers.iter().position(|h| h == "house_number"),
        table.headers.iter().position(|h| h == "house_number_suffix"),
    ) else {
        return;
    };
    for (_, rec) in &mut table.rows {
        let suffix = rec.get(z).unwrap_or("").trim();
        if suffix.is_empty() {
            continue;
        }
        let fields: Vec<String> = rec
            .iter()
            .enumerate()
            .map(|(i, f)| if i == n { format!("{}{suffix}", f.trim()) } else { f.to_string() })
            .collect();
        *rec = csv::StringRecord::from(fields);
    }
}

/// `lat` and `lon` columns from the table's coordinates in `crs`, every bad value a problem of
/// its own (decimal commas are read as points).
fn to_lat_lon(table: &mut Table, x: usize, y: usize, crs: &Crs) -> Result<()> {
    let mut problems = Vec::new();
    let (xn, yn) = (table.headers[x].clone(), table.headers[y].clone());
    let number = |s: &str| -> Option<f64> {
        let s = s.trim();
        let s =
            if s.contains(',') && !s.contains('.') { s.replace(',', ".") } else { s.to_string() };
        s.parse::<f64>().ok().filter(|v| v.is_finite())
    };
    for (line, rec) in &mut table.rows {
        let (vx, vy) = (rec.get(x).unwrap_or(""), rec.get(y).unwrap_or(""));
        let (lat, lon) = if vx.trim().is_empty() && vy.trim().is_empty() {
            (String::new(), String::new())
        } else {
            match (number(vx), number(vy)) {
                (Some(a), Some(b)) => match crs.to_wgs84(a, b) {
                    Some((lat, lon)) => (format!("{lat:.8}"), format!("{lon:.8}")),
                    None => {
                        problems.push(InputProblem::new(
                            &table.file,
                            Some(*line),
                            Some(&format!("{xn}/{yn}")),
                            format!("lies outside EPSG:{}'s area: no WGS84 location", crs.code()),
                        ));
                        continue;
                    }
                },
                (a, _) => {
                    let field = if a.is_none() { &xn } else { &yn };
                    problems.push(InputProblem::new(
                        &table.file,
                        Some(*line),
                        Some(field),
                        "is not a number",
                    ));
                    continue;
                }
            }
        };
        rec.push_field(&lat);
        rec.push_field(&lon);
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    table.headers.push("lat".into());
    table.headers.push("lon".into());
    Ok(())
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields but the header has {expected_len} (wrong delimiter or an unquoted separator?)")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".to_string(),
        _ => "malformed CSV row".to_string(),
    }
}

/// One row being read: typed access to its fields, collecting problems.
pub struct Row<'a> {
    table: &'a Table,
    /// The row's line number (the header is line 1), or its feature/item number for GeoJSON/JSON.
    pub line: u64,
    record: &'a csv::StringRecord,
    /// Where this row's problems are collected.
    pub problems: &'a mut Vec<InputProblem>,
}

impl<'a> Row<'a> {
    /// Row `idx` of `table`, reporting into `problems`.
    pub fn new(table: &'a Table, idx: usize, problems: &'a mut Vec<InputProblem>) -> Self {
        let (line, record) = &table.rows[idx];
        Row { table, line: *line, record, problems }
    }

    /// Whether the table has a column of this name (even if this row's cell is empty).
    pub fn has_column(&self, name: &str) -> bool {
        self.table.headers.iter().any(|h| h == name)
    }

    /// The trimmed value of a column; `None` when the column is absent or the cell empty.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        let i = self.table.headers.iter().position(|h| h == name)?;
        let v = self.record.get(i)?.trim();
        (!v.is_empty()).then_some(v)
    }

    /// Record a problem with `field` on this row.
    pub fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(InputProblem::new(
            &self.table.file,
            Some(self.line),
            Some(field),
            message,
        ));
    }

    /// A value shown in a message, unless the file holds personal data.
    fn shown(&self, v: &str) -> String {
        if self.table.personal {
            String::new()
        } else {
            format!(" (got '{v}')")
        }
    }

    /// The trimmed value of a required column; an empty cell records a problem and gives `None`.
    pub fn required(&mut self, name: &str) -> Option<&'a str> {
        let v = self.get(name);
        if v.is_none() {
            self.problem(name, "is empty");
        }
        v
    }

    /// An id: a required value of at most [`MAX_ID_BYTES`] bytes.
    pub fn id(&mut self, name: &str) -> Option<&'a str> {
        let v = self.required(name)?;
        if v.len() > MAX_ID_BYTES {
            self.problem(name, limits::id_too_long());
            return None;
        }
        Some(v)
    }

    /// A finite number; empty gives `None` (and a problem if `required`).
    pub fn f64(&mut self, name: &str, required: bool) -> Option<f64> {
        let Some(v) = self.get(name) else {
            if required {
                self.problem(name, "is empty: a number is required");
            }
            return None;
        };
        match v.replace(',', ".").parse::<f64>() {
            Ok(x) if x.is_finite() => Some(x),
            Ok(_) => {
                let s = self.shown(v);
                self.problem(name, format!("is not a finite number{s}"));
                None
            }
            Err(_) => {
                let s = self.shown(v);
                self.problem(name, format!("is not a number{s}"));
                None
            }
        }
    }

    /// A non-negative whole number.
    pub fn u32(&mut self, name: &str, required: bool) -> Option<u32> {
        let Some(v) = self.get(name) else {
            if required {
                self.problem(name, "is empty: a whole number is required");
            }
            return None;
        };
        match v.parse::<i64>() {
            Ok(x) if x < 0 => {
                let s = self.shown(v);
                self.problem(name, format!("must not be negative{s}"));
                None
            }
            Ok(x) if x > u32::MAX as i64 => {
                let s = self.shown(v);
                self.problem(name, format!("is too large{s}"));
                None
            }
            Ok(x) => Some(x as u32),
            Err(_) => {
                let s = self.shown(v);
                self.problem(name, format!("is not a whole number{s}"));
                None
            }
        }
    }

    /// Latitude and longitude, checked for range.
    pub fn lat_lon(&mut self, required: bool) -> Option<(f64, f64)> {
        let lat = self.f64("lat", required);
        let lon = self.f64("lon", required);
        let mut ok = true;
        if let Some(lat) = lat {
            if !(-90.0..=90.0).contains(&lat) {
                let s = self.shown(&lat.to_string());
                self.problem("lat", format!("is out of range [-90, 90]{s}"));
                ok = false;
            }
        }
        if let Some(lon) = lon {
            if !(-180.0..=180.0).contains(&lon) {
                let s = self.shown(&lon.to_string());
                self.problem("lon", format!("is out of range [-180, 180]{s}"));
                ok = false;
            }
        }
        match (lat, lon) {
            (Some(a), Some(b)) if ok => Some((a, b)),
            // A value that is there but wrong has its own message already.
            (Some(_), None) if !required && self.get("lon").is_none() => {
                self.problem("lon", "is empty while 'lat' is given");
                None
            }
            (None, Some(_)) if !required && self.get("lat").is_none() => {
                self.problem("lat", "is empty while 'lon' is given");
                None
            }
            _ => None,
        }
    }

    /// Every column not in `known`, passed through to outputs.
    pub fn extra(&self, known: &[&str]) -> Vec<(String, String)> {
        self.table
            .headers
            .iter()
            .zip(self.record.iter())
            .filter(|(h, _)| !known.contains(&h.as_str()))
            .map(|(h, v)| (h.clone(), v.trim().to_string()))
            .collect()
    }
}

/// A table from JSON objects (the HTTP API, GeoJSON properties). Row "lines" are 1-based
/// object numbers; messages then say "feature N" / "item N" instead of a line.
pub fn from_objects(
    file: &str,
    objects: &[serde_json::Map<String, serde_json::Value>],
    personal: bool,
    required: &[&str],
) -> Result<Table> {
    if objects.is_empty() {
        return Err(Error::input(file, None, None, "no items: expected at least one"));
    }
    if objects.len() > MAX_ROWS {
        return Err(Error::Input(vec![limits::too_many_rows(file, None)]));
    }
    let mut headers: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for o in objects {
        for k in o.keys() {
            let k = k.trim().to_lowercase();
            if !seen.contains(&k) {
                if headers.len() == MAX_COLUMNS {
                    return Err(Error::input(
                        file,
                        None,
                        None,
                        format!(
                            "the items have more than {MAX_COLUMNS} fields in all, the most read"
                        ),
                    ));
                }
                seen.insert(k.clone());
                headers.push(k);
            }
        }
    }
    let mut problems = Vec::new();
    let named = register_profile(headers.clone());
    let projected = projected_columns(&named).filter(|_| input_crs().is_some());
    let has = |name: &str| {
        named.iter().any(|h| h == name) || projected.is_some() && (name == "lat" || name == "lon")
    };
    for req in required {
        if !req.split('|').any(has) {
            problems.push(InputProblem::new(
                file,
                None,
                Some(&req.replace('|', "' or '")),
                "required field is missing in every item",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let rows = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let lower: std::collections::HashMap<String, &serde_json::Value> =
                o.iter().map(|(k, v)| (k.trim().to_lowercase(), v)).collect();
            let rec: csv::StringRecord = headers
                .iter()
                .map(|h| match lower.get(h) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                })
                .collect();
            (i as u64 + 1, rec)
        })
        .collect();
    let mut table = Table { file: file.to_string(), headers: named, rows, personal };
    join_suffix_column(&mut table);
    if let (Some((x, y)), Some(crs)) = (projected, input_crs()) {
        if !has_lat_lon(&table.headers) {
            to_lat_lon(&mut table, x, y, &crs)?;
        }
    }
    Ok(table)
}

/// A table from a GeoJSON FeatureCollection of points: `lat`/`lon` from the geometry, the other
/// columns from the properties.
pub fn from_geojson(file: &str, bytes: &[u8], personal: bool) -> Result<Table> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::input(file, None, None, "not valid UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(Error::input(file, None, None, "the file is empty"));
    }
    let gj: geojson::GeoJson = text.parse().map_err(|e: geojson::Error| {
        Error::input(
            file,
            None,
            None,
            format!("not valid GeoJSON: {}", redact(&e.to_string(), personal)),
        )
    })?;
    let features = match gj {
        geojson::GeoJson::FeatureCollection(fc) => fc.features,
        geojson::GeoJson::Feature(f) => vec![f],
        geojson::GeoJson::Geometry(_) => {
            return Err(Error::input(
                file,
                None,
                None,
                "expected a FeatureCollection of points, found a bare geometry",
            ))
        }
    };
    let mut problems = Vec::new();
    let mut objects = Vec::with_capacity(features.len());
    for (i, f) in features.into_iter().enumerate() {
        let mut props = f.properties.unwrap_or_default();
        match f.geometry.map(|g| g.value) {
            Some(geojson::GeometryValue::Point { coordinates }) if coordinates.len() >= 2 => {
                props.insert("lon".into(), serde_json::json!(coordinates[0]));
                props.insert("lat".into(), serde_json::json!(coordinates[1]));
            }
            None => {}
            Some(_) => problems.push(InputProblem::new(
                &format!("{file} feature {}", i + 1),
                None,
                Some("geometry"),
                "must be a Point",
            )),
        }
        if let Some(id) = f.id {
            if !props.contains_key("id") {
                let v = match id {
                    geojson::feature::Id::String(s) => serde_json::Value::String(s),
                    geojson::feature::Id::Number(n) => serde_json::Value::String(n.to_string()),
                };
                props.insert("id".into(), v);
            }
        }
        objects.push(props);
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let mut t = from_objects(file, &objects, personal, &["id"])?;
    t.file = format!("{file} feature");
    Ok(t)
}

fn redact(msg: &str, personal: bool) -> String {
    if personal {
        msg.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect()
    } else {
        msg.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table one row over the limit is refused at that row, naming the file, the line and the
    /// limit (the limit itself, 10 million rows, is too large for a unit test's file).
    #[test]
    fn rows_over_the_limit_are_refused_at_the_first_one_too_many() {
        let text = "id,lat,lon\np1,52,11\n\np2,52,11\np3,52,11\n";
        assert_eq!(
            read_table_at_most("p.csv", text.as_bytes(), &["id"], true, 3, false)
                .unwrap()
                .rows
                .len(),
            3
        );
        let e = read_table_at_most("p.csv", text.as_bytes(), &["id"], true, 2, false).unwrap_err();
        let Error::Input(problems) = e else { panic!("an input error") };
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(5), "the blank line is not a row");
        assert!(
            problems[0].to_string().starts_with("p.csv:5: more than 10,000,000 rows"),
            "{}",
            problems[0]
        );
    }
}
