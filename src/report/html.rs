//! `report.html`: one self-contained page for a plan — the district map (inline SVG drawn from
//! the districts' polygons), a table per school, the headline figures and, when given, a
//! comparison with a baseline or scenarios.
//!
//! The page needs no network: CSS and the little JS (hover highlights linking map and table,
//! and a self-check that every school has exactly one district shape) are inline, and a
//! Content-Security-Policy forbids loading anything else, so a stray external reference shows
//! up as a console error instead of a silent fetch. All text is escaped. The page receives
//! aggregated values only: no pupil ever appears in it.

use crate::report::{SchoolLoad, Summary};
use crate::School;
use geo::{BoundingRect, Intersects, MultiPolygon};
use geojson::{FeatureCollection, GeometryValue};
use std::fmt::Write as _;

/// Everything the page shows. Build it from a plan's figures; `render` turns it into HTML.
#[derive(Debug, Clone)]
pub struct ReportPage {
    /// Page title and main heading.
    pub title: String,
    /// Short notes under the title (distance source, caveats such as an approximate network).
    pub notes: Vec<String>,
    /// The plan's headline figures, shown above the map.
    pub headline: Headline,
    /// One row per school, in the order the table shows them.
    pub schools: Vec<SchoolRow>,
    /// The districts in WGS84 (lon, lat): one Feature per school with a Polygon or
    /// MultiPolygon geometry and properties `school_id`, `name`, `pupils`, `capacity`,
    /// `classes`, `blocks` (the content of `districts.geojson`). Joined to `schools` by
    /// `school_id`; only `blocks` is read from the properties.
    pub districts: FeatureCollection,
    /// A baseline or scenario comparison, shown as a table when present.
    pub comparison: Option<Comparison>,
    /// Streets and paths drawn under the districts, as (lon, lat) lines; empty: none.
    pub streets: Vec<MapLine>,
    /// The area the districts divide (e.g. the city boundary): polygons of rings of (lon, lat),
    /// the first ring of each its exterior; empty: none.
    pub boundary: Vec<Vec<Vec<(f64, f64)>>>,
    /// The routing check's section, when the plan was checked.
    pub routing_check: Option<RoutingSection>,
}

/// A street or path on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct MapLine {
    /// A named street (drawn darker) or a path without a name.
    pub named: bool,
    /// The line's points as (lon, lat) in degrees (WGS84).
    pub points: Vec<(f64, f64)>,
}

/// The routing check on the page: the rule, counts, hints and the worst findings (formatted).
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingSection {
    /// The rule in words.
    pub rule: String,
    /// Counts as (label, value).
    pub counts: Vec<(String, String)>,
    /// Hints about the network (a clipped extract, an incomplete network).
    pub hints: Vec<String>,
    /// Column names of the findings table.
    pub columns: Vec<String>,
    /// The findings shown, worst first, each a list of cells in column order.
    pub rows: Vec<Vec<String>>,
    /// Findings not shown.
    pub more: usize,
    /// The file holding every finding, if one was written.
    pub file: Option<String>,
}

/// The plan's headline figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// Number of pupils.
    pub pupils: usize,
    /// Total walk of all pupils, in meters.
    pub total_walk_m: u64,
    /// Mean walk per pupil, in meters.
    pub mean_walk_m: f64,
    /// Pupils walking more than 2 km.
    pub over_2km: usize,
    /// Classes formed over all schools.
    pub classes: u32,
    /// Optimality in words, e.g. "optimal, certified by school prices".
    pub status: String,
    /// Further figures as (label, value), shown after the fixed ones.
    pub extra: Vec<(String, String)>,
}

/// One school's row in the table (and its marker on the map).
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolRow {
    /// The school's id (joins the row to its district).
    pub id: String,
    /// The school's name.
    pub name: String,
    /// Latitude of the school (WGS84).
    pub lat: f64,
    /// Longitude of the school (WGS84).
    pub lon: f64,
    /// Seats.
    pub capacity: u32,
    /// Pupils assigned.
    pub load: u64,
    /// Classes formed.
    pub classes: u32,
    /// The school's price in the certificate, in meters (certified plans only).
    pub price_m: Option<i64>,
    /// Mean walk of the school's pupils (None without pupils).
    pub mean_walk_m: Option<f64>,
}

/// A comparison table: column names and rows of cells (already formatted).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Heading of the table.
    pub title: String,
    /// Column names, one per cell of a row.
    pub columns: Vec<String>,
    /// The rows, each a list of formatted cells in column order.
    pub rows: Vec<Vec<String>>,
}

impl Headline {
    /// The headline figures of a plan's summary.
    pub fn from_summary(s: &Summary) -> Headline {
        let status = if s.solver.certified {
            "optimal, certified by school prices".to_string()
        } else if s.solver.optimal {
            match s.solver.gap_pct {
                Some(g) => format!("optimal for its rules (branch and bound), {g:.2} % above the certified pupil-level optimum"),
                None => "optimal for its rules (branch and bound), not certified".to_string(),
            }
        } else {
            "not proven optimal".to_string()
        };
        Headline {
            pupils: s.pupils,
            total_walk_m: s.walk.total_m,
            mean_walk_m: s.walk.mean_m,
            over_2km: s.walk.over_2km,
            classes: s.classes.total,
            status,
            extra: vec![
                ("Median walk".into(), format!("{} m", group(s.walk.median_m as u64))),
                ("95th percentile walk".into(), format!("{} m", group(s.walk.p95_m as u64))),
                ("Not at their nearest school".into(), group(s.not_at_nearest.pupils as u64)),
            ],
        }
    }
}

impl SchoolRow {
    /// A row from the summary's per-school figures and the school (for its location).
    pub fn new(load: &SchoolLoad, school: &School, mean_walk_m: Option<f64>) -> SchoolRow {
        SchoolRow {
            id: load.id.clone(),
            name: load.name.clone(),
            lat: school.lat,
            lon: school.lon,
            capacity: load.capacity,
            load: load.load,
            classes: load.classes,
            price_m: load.price_m,
            mean_walk_m,
        }
    }
}

/// Fill colours for districts; neighbouring districts get different ones (greedy colouring,
/// wrapping round only if a district has more neighbours than there are colours).
pub const PALETTE: [&str; 12] = [
    "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
    "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f",
];

/// Width of the map's coordinate system (SVG user units).
const MAP_WIDTH: f64 = 1000.0;
const MAP_MARGIN: f64 = 12.0;

/// The Content-Security-Policy every self-contained page carries: nothing but its own inline
/// style and script.
pub(crate) const CSP_META: &str = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">";

/// HTML-escapes text for element content and attribute values.
pub use crate::districts::files::escape_html as escape;

/// 12345 -> "12,345".
pub(crate) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Polygons as rings of (lon, lat): the first ring of each polygon its exterior.
type Polygons = Vec<Vec<Vec<(f64, f64)>>>;

/// The polygons of a district feature, or None for other geometries.
fn polygons(value: &GeometryValue) -> Option<Polygons> {
    let ring = |r: &Vec<geojson::Position>| -> Vec<(f64, f64)> {
        r.iter().filter(|p| p.len() >= 2).map(|p| (p[0], p[1])).collect()
    };
    let poly =
        |p: &Vec<Vec<geojson::Position>>| -> Vec<Vec<(f64, f64)>> { p.iter().map(ring).collect() };
    match value {
        GeometryValue::Polygon { coordinates } => Some(vec![poly(coordinates)]),
        GeometryValue::MultiPolygon { coordinates } => Some(coordinates.iter().map(poly).collect()),
        _ => None,
    }
}

fn to_geo(polys: &[Vec<Vec<(f64, f64)>>]) -> MultiPolygon<f64> {
    MultiPolygon::new(
        polys
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| {
                let mut rings = p.iter().map(|r| geo::LineString::from(r.clone()));
                let exterior = rings.next().unwrap_or_else(|| geo::LineString::new(vec![]));
                geo::Polygon::new(exterior, rings.collect())
            })
            .collect(),
    )
}

/// Greedy colouring of districts on their adjacency (touching or overlapping shapes):
/// districts with the most neighbours first, each the least used colour no neighbour has.
/// Colours are indices; `render` takes them modulo the palette, so only a district with more
/// neighbours than `PALETTE` has colours can share one with a neighbour.
pub fn colour_districts(shapes: &[MultiPolygon<f64>]) -> Vec<usize> {
    let n = shapes.len();
    let rects: Vec<_> = shapes.iter().map(|s| s.bounding_rect()).collect();
    let mut adj = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            let (Some(a), Some(b)) = (rects[i], rects[j]) else { continue };
            if a.intersects(&b) && shapes[i].intersects(&shapes[j]) {
                adj[i].push(j);
                adj[j].push(i);
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(adj[i].len()), i));
    let mut colour = vec![usize::MAX; n];
    let mut uses = vec![0usize; PALETTE.len()];
    for &i in &order {
        let used: Vec<usize> =
            adj[i].iter().map(|&j| colour[j]).filter(|&c| c != usize::MAX).collect();
        // The least used colour no neighbour has (spreads the palette over the map); beyond
        // the palette only when every colour is taken by a neighbour.
        let c = (0..PALETTE.len()).filter(|c| !used.contains(c)).min_by_key(|&c| (uses[c], c));
        let c = c.unwrap_or_else(|| (PALETTE.len()..).find(|c| !used.contains(c)).unwrap());
        if c < PALETTE.len() {
            uses[c] += 1;
        }
        colour[i] = c;
    }
    colour
}

/// Equirectangular projection of the map's extent onto SVG units (x east, y south), scaled
/// by cos(latitude) so that distances are true in both directions near the centre.
pub(crate) struct Projection {
    lon0: f64,
    lat1: f64,
    kx: f64,
    scale: f64,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

impl Projection {
    pub(crate) fn fit(points: impl Iterator<Item = (f64, f64)>) -> Projection {
        let (mut lo0, mut lo1, mut la0, mut la1) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for (lon, lat) in points.filter(|(a, b)| a.is_finite() && b.is_finite()) {
            lo0 = lo0.min(lon);
            lo1 = lo1.max(lon);
            la0 = la0.min(lat);
            la1 = la1.max(lat);
        }
        if !lo0.is_finite() {
            (lo0, lo1, la0, la1) = (0.0, 1.0, 0.0, 1.0);
        }
        let kx = ((la0 + la1) / 2.0).to_radians().cos().max(0.01);
        let w = ((lo1 - lo0) * kx).max(1e-9);
        let h = (la1 - la0).max(1e-9);
        let scale = (MAP_WIDTH - 2.0 * MAP_MARGIN) / w.max(h);
        Projection {
            lon0: lo0,
            lat1: la1,
            kx,
            scale,
            width: w * scale + 2.0 * MAP_MARGIN,
            height: h * scale + 2.0 * MAP_MARGIN,
        }
    }

    /// Whether the segment a-b (SVG units) may cross the frame.
    fn touches(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        a.0.max(b.0) >= 0.0
            && a.0.min(b.0) <= self.width
            && a.1.max(b.1) >= 0.0
            && a.1.min(b.1) <= self.height
    }

    pub(crate) fn xy(&self, lon: f64, lat: f64) -> (f64, f64) {
        (
            MAP_MARGIN + (lon - self.lon0) * self.kx * self.scale,
            MAP_MARGIN + (self.lat1 - lat) * self.scale,
        )
    }
}

/// SVG path data for polygons (one subpath per ring; even-odd fill makes holes).
fn path_data(proj: &Projection, polys: &[Vec<Vec<(f64, f64)>>]) -> String {
    let mut d = String::new();
    for ring in polys.iter().flatten() {
        let mut last = String::new();
        let mut count = 0;
        for (k, &(lon, lat)) in ring.iter().enumerate() {
            if k + 1 == ring.len() && k > 0 && ring[0] == (lon, lat) {
                break; // the closing position: Z closes the ring
            }
            let (x, y) = proj.xy(lon, lat);
            let pt = format!("{x:.1} {y:.1}");
            if pt == last {
                continue;
            }
            d.push_str(if count == 0 { "M" } else { " " });
            d.push_str(&pt);
            last = pt;
            count += 1;
        }
        if count > 0 {
            d.push('Z');
        }
    }
    d
}

/// Street lines are simplified to this many SVG units (Douglas-Peucker; the map is
/// `MAP_WIDTH` units wide, about a meter per unit per kilometre of extent) ...
const STREET_TOLERANCE: f64 = 0.6;
/// ... and lines shorter than this many units are left out.
const MIN_STREET: f64 = 2.0;
/// The boundary is simplified to this many units.
const BOUNDARY_TOLERANCE: f64 = 0.3;

/// Appends a number in tenths of a unit ("12.3", "-4", ".5") to path data, with a separator
/// only where the number would otherwise run into the previous one.
fn push_tenths(d: &mut String, v: i64) {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let (int, frac) = (a / 10, a % 10);
    let text = match (int, frac) {
        (0, 0) => "0".to_string(),
        (0, f) => format!(".{f}"),
        (i, 0) => i.to_string(),
        (i, f) => format!("{i}.{f}"),
    };
    if !neg && d.ends_with(|c: char| c.is_ascii_digit() || c == '.') {
        d.push(' ');
    }
    if neg {
        d.push('-');
    }
    d.push_str(&text);
}

/// Projected, simplified points of a (lon, lat) line, in SVG units.
fn simplified(proj: &Projection, points: &[(f64, f64)], tolerance: f64) -> Vec<(f64, f64)> {
    use geo::Simplify;
    let line: geo::LineString<f64> =
        points.iter().map(|&(lon, lat)| proj.xy(lon, lat)).collect::<Vec<_>>().into();
    line.simplify(tolerance).0.into_iter().map(|c| (c.x, c.y)).collect()
}

/// SVG path data for street lines: simplified, rounded to tenths of a unit, drawn with relative
/// moves; pieces outside the frame and lines shorter than [`MIN_STREET`] left out.
fn lines_data<'a>(proj: &Projection, lines: impl Iterator<Item = &'a [(f64, f64)]>) -> String {
    let mut d = String::new();
    let tenths = |v: f64| (v * 10.0).round() as i64;
    for points in lines {
        let pts = simplified(proj, points, STREET_TOLERANCE);
        let length: f64 = pts.windows(2).map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1)).sum();
        if pts.len() < 2 || length < MIN_STREET {
            continue;
        }
        // Runs of consecutive segments that touch the frame.
        let mut pen: Option<(i64, i64)> = None;
        for w in pts.windows(2) {
            if !proj.touches(w[0], w[1]) {
                pen = None;
                continue;
            }
            let (a, b) = ((tenths(w[0].0), tenths(w[0].1)), (tenths(w[1].0), tenths(w[1].1)));
            if a == b {
                continue;
            }
            if pen != Some(a) {
                d.push('M');
                push_tenths(&mut d, a.0);
                push_tenths(&mut d, a.1);
                d.push('l');
            }
            push_tenths(&mut d, b.0 - a.0);
            push_tenths(&mut d, b.1 - a.1);
            pen = Some(b);
        }
    }
    d
}

/// SVG path data for the boundary's rings, simplified to [`BOUNDARY_TOLERANCE`].
fn boundary_data(proj: &Projection, polys: &[Vec<Vec<(f64, f64)>>]) -> String {
    let mut d = String::new();
    for ring in polys.iter().flatten() {
        let pts = simplified(proj, ring, BOUNDARY_TOLERANCE);
        for (k, (x, y)) in pts.iter().enumerate() {
            let _ = write!(d, "{}{x:.1} {y:.1}", if k == 0 { "M" } else { " " });
        }
        if !pts.is_empty() {
            d.push('Z');
        }
    }
    d
}

/// Where a school's label goes: right of and above the marker, or left / below where it
/// would leave the frame. Returns (x, y, text-anchor).
pub(crate) fn label_position(
    proj: &Projection,
    x: f64,
    y: f64,
    text: &str,
) -> (f64, f64, &'static str) {
    // 11 px DejaVu Sans: at most 7.5 units a character, 11 units high.
    let w = 7.5 * text.chars().count() as f64;
    let (lx, anchor) =
        if x + 6.0 + w <= proj.width - 2.0 { (x + 6.0, "start") } else { (x - 6.0, "end") };
    let ly = if y - 5.0 - 11.0 >= 2.0 { y - 5.0 } else { y + 15.0 };
    (lx, ly, anchor)
}

const CSS: &str = "
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em;margin:0 0 .3em}
h2{font-size:1.15em;margin:1.2em 0 .4em}
.notes{color:#555;font-size:.9em;margin:.2em 0 1em;padding-left:1.2em}
.figures{display:flex;flex-wrap:wrap;gap:.6em;margin:0 0 1em}
.figure{border:1px solid #ccc;border-radius:4px;padding:.4em .7em;min-width:9em}
.figure .v{font-size:1.25em;font-weight:bold}
.figure .l{font-size:.8em;color:#555}
.main{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
.map{flex:1 1 520px;max-width:900px}
.map svg{width:100%;height:auto;border:1px solid #ccc;background:#fff}
.district{stroke:#555;stroke-width:.8;fill-rule:evenodd;mix-blend-mode:multiply}
.street{fill:none;stroke:#6e6e6e;stroke-width:.75;stroke-linecap:round;stroke-linejoin:round}
.path{fill:none;stroke:#a0a0a0;stroke-width:.5;stroke-linecap:round;stroke-linejoin:round}
.boundary{fill:none;stroke:#333;stroke-width:1.8;stroke-dasharray:7 3}
#legend{font-size:.8em;margin:.4em 0;display:flex;flex-wrap:wrap;gap:.2em .8em;align-items:center}
#legend .key{white-space:nowrap}
#legend .key.hl{background:#fff3b0}
#legend svg{width:2.2em;height:.9em;vertical-align:middle;border:0;background:none}
.rule{color:#555;font-size:.85em}
.district.hl{stroke:#000;stroke-width:2.5}
.school{fill:#222;stroke:#fff;stroke-width:1.2}
.school.hl{fill:#d00}
.label{font-size:11px;fill:#222;stroke:#fff;stroke-width:3px;paint-order:stroke;pointer-events:none}
table{border-collapse:collapse;font-size:.85em}
th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f0f0f0}
td.t,th.t{text-align:left}
tr.hl td{background:#fff3b0}
.sw{display:inline-block;width:.9em;height:.9em;border:1px solid #555;vertical-align:middle}
.warn{color:#a00}
body.map-only{margin:0}
.map-only h1,.map-only .notes,.map-only .figures,.map-only h2,.map-only #comparison,.map-only #routing-check,.map-only #legend,.map-only .main>div:not(.map){display:none}
.map-only .main{display:block}
.map-only .map{max-width:none}
.map-only .map svg{border:0;display:block;width:100vw;height:100vh}
";

/// Hover highlights linking map, legend and table, the map alone for `report.html#map` (what
/// `scripts/map-png` screenshots), and a self-check: every school row has exactly one
/// district shape and one marker, every label lies inside the map's frame, and every legend
/// colour is its district's fill (a console error otherwise, which the Chromium test catches).
const JS: &str = "
(function(){
  if(location.hash==='#map')document.body.classList.add('map-only');
  var els=document.querySelectorAll('[data-school]'),by={};
  for(var i=0;i<els.length;i++){var k=els[i].getAttribute('data-school');(by[k]=by[k]||[]).push(els[i]);}
  var rows=document.querySelectorAll('#schools tbody tr');
  for(var r=0;r<rows.length;r++){
    var id=rows[r].getAttribute('data-school'),shapes=0,marks=0,list=by[id]||[];
    for(var j=0;j<list.length;j++){
      if(list[j].classList.contains('district'))shapes++;
      if(list[j].classList.contains('school'))marks++;
    }
    if(shapes!==1||marks!==1)console.error('report: school '+id+' has '+shapes+' district shapes and '+marks+' markers');
  }
  var svg=document.getElementById('map');
  if(svg&&svg.viewBox&&svg.viewBox.baseVal){
    var vb=svg.viewBox.baseVal,labels=svg.querySelectorAll('text.label');
    for(var t=0;t<labels.length;t++){
      var b=labels[t].getBBox();
      if(b.x<vb.x-.5||b.y<vb.y-.5||b.x+b.width>vb.x+vb.width+.5||b.y+b.height>vb.y+vb.height+.5)
        console.error('report: label '+labels[t].textContent+' runs outside the map');
    }
  }
  var keys=document.querySelectorAll('#legend .key[data-school]');
  for(var q=0;q<keys.length;q++){
    var kid=keys[q].getAttribute('data-school'),sw=keys[q].querySelector('.sw'),list2=by[kid]||[],seen=false;
    for(var z=0;z<list2.length;z++){
      if(!list2[z].classList.contains('district'))continue;
      seen=true;
      if(getComputedStyle(list2[z]).fill!==getComputedStyle(sw).backgroundColor)console.error('report: legend colour of '+kid+' differs from its district');
    }
    if(!seen)console.error('report: legend names school '+kid+' without a district');
  }
  function set(k,on){var l=by[k]||[];for(var i=0;i<l.length;i++)l[i].classList.toggle('hl',on);}
  for(var e=0;e<els.length;e++)(function(el){
    var k=el.getAttribute('data-school');
    el.addEventListener('mouseenter',function(){set(k,true);});
    el.addEventListener('mouseleave',function(){set(k,false);});
  })(els[e]);
})();
";

/// The page as one HTML document.
pub fn render(page: &ReportPage) -> String {
    // Join features to schools by `school_id`.
    let mut shapes: Vec<Option<Polygons>> = vec![None; page.schools.len()];
    let mut blocks: Vec<Option<u64>> = vec![None; page.schools.len()];
    let mut unmatched = 0usize;
    for f in &page.districts.features {
        let props = f.properties.as_ref();
        let id = props.and_then(|p| p.get("school_id")).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let idx = id.and_then(|id| page.schools.iter().position(|s| s.id == id));
        let polys = f.geometry.as_ref().and_then(|g| polygons(&g.value));
        match (idx, polys) {
            (Some(i), Some(p)) if shapes[i].is_none() => {
                shapes[i] = Some(p);
                blocks[i] = props.and_then(|p| p.get("blocks")).and_then(|v| v.as_u64());
            }
            _ => unmatched += 1,
        }
    }
    let geo_shapes: Vec<MultiPolygon<f64>> = shapes
        .iter()
        .map(|s| s.as_deref().map(to_geo).unwrap_or_else(|| MultiPolygon::new(vec![])))
        .collect();
    let colours = colour_districts(&geo_shapes);
    let fill = |i: usize| PALETTE[colours[i] % PALETTE.len()];

    let proj = Projection::fit(
        shapes
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .flatten()
            .copied()
            .chain(page.boundary.iter().flatten().flatten().copied())
            .chain(page.schools.iter().map(|s| (s.lon, s.lat))),
    );

    let mut h = String::new();
    let t = escape(&page.title);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         {CSP_META}\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{t}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n"
    );
    if !page.notes.is_empty() || unmatched > 0 {
        h.push_str("<ul class=\"notes\">\n");
        for n in &page.notes {
            let _ = writeln!(h, "<li>{}</li>", escape(n));
        }
        if unmatched > 0 {
            let _ = writeln!(h, "<li class=\"warn\">{unmatched} district feature(s) name no school of the table (or repeat one, or are not polygons) and are not drawn.</li>");
        }
        h.push_str("</ul>\n");
    }

    // Headline figures.
    let hd = &page.headline;
    let mut figures: Vec<(String, String)> = vec![
        ("Pupils".into(), group(hd.pupils as u64)),
        ("Total walk".into(), format!("{:.1} km", hd.total_walk_m as f64 / 1000.0)),
        ("Mean walk".into(), format!("{} m", group(hd.mean_walk_m.round().max(0.0) as u64))),
        ("Pupils walking over 2 km".into(), group(hd.over_2km as u64)),
        ("Classes".into(), group(hd.classes as u64)),
        ("Optimality".into(), hd.status.clone()),
    ];
    figures.extend(hd.extra.iter().cloned());
    h.push_str("<div class=\"figures\" id=\"headline\">\n");
    for (l, v) in &figures {
        let _ = writeln!(
            h,
            "<div class=\"figure\"><div class=\"v\">{}</div><div class=\"l\">{}</div></div>",
            escape(v),
            escape(l)
        );
    }
    h.push_str("</div>\n<div class=\"main\">\n<div class=\"map\">\n");

    // The map.
    let _ = writeln!(
        h,
        "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {:.0} {:.0}\" role=\"img\" aria-label=\"District map\">",
        proj.width.ceil(),
        proj.height.ceil()
    );
    let _ = writeln!(
        h,
        "<rect width=\"{:.0}\" height=\"{:.0}\" fill=\"#fff\"/>",
        proj.width.ceil(),
        proj.height.ceil()
    );
    if !page.streets.is_empty() {
        // Under the districts: their fills multiply over the streets, so the streets show
        // through and the fills keep their colours elsewhere.
        h.push_str("<g id=\"streets\">\n");
        for (named, class) in [(false, "path"), (true, "street")] {
            let d = lines_data(
                &proj,
                page.streets.iter().filter(|l| l.named == named).map(|l| l.points.as_slice()),
            );
            if !d.is_empty() {
                let _ = writeln!(h, "<path class=\"{class}\" d=\"{d}\"/>");
            }
        }
        h.push_str("</g>\n");
    }
    h.push_str("<g id=\"districts\">\n");
    for (i, s) in page.schools.iter().enumerate() {
        let d = shapes[i].as_deref().map(|p| path_data(&proj, p)).unwrap_or_default();
        let _ = writeln!(
            h,
            "<path class=\"district\" data-school=\"{}\" fill=\"{}\" d=\"{}\"><title>{} {}: {} pupils</title></path>",
            escape(&s.id),
            fill(i),
            d,
            escape(&s.id),
            escape(&s.name),
            s.load
        );
    }
    h.push_str("</g>\n");
    if !page.boundary.is_empty() {
        let _ = writeln!(
            h,
            "<g id=\"boundary\"><path class=\"boundary\" d=\"{}\"/></g>",
            boundary_data(&proj, &page.boundary)
        );
    }
    h.push_str("<g id=\"schools-on-map\">\n");
    for s in &page.schools {
        let (x, y) = proj.xy(s.lon, s.lat);
        let (lx, ly, anchor) = label_position(&proj, x, y, &s.id);
        let _ = writeln!(
            h,
            "<circle class=\"school\" data-school=\"{id}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\"><title>{id} {name}</title></circle><text class=\"label\" x=\"{lx:.1}\" y=\"{ly:.1}\"{}>{id}</text>",
            if anchor == "end" { " text-anchor=\"end\"" } else { "" },
            id = escape(&s.id),
            name = escape(&s.name)
        );
    }
    h.push_str("</g>\n</svg>\n");
    // The legend: the map's layers, then every district's colour by school.
    h.push_str("<div id=\"legend\">\n");
    let symbol =
        |inner: &str| format!("<svg viewBox=\"0 0 30 12\" aria-hidden=\"true\">{inner}</svg>");
    let mut layers: Vec<(String, &str)> = Vec::new();
    if page.streets.iter().any(|l| l.named) {
        layers.push((symbol("<path class=\"street\" d=\"M1 6H29\"/>"), "named street"));
    }
    if page.streets.iter().any(|l| !l.named) {
        layers.push((symbol("<path class=\"path\" d=\"M1 6H29\"/>"), "path, other way"));
    }
    layers.push((
        symbol("<rect x=\"1\" y=\"1\" width=\"28\" height=\"10\" fill=\"#fff\" stroke=\"#555\" stroke-width=\".8\"/>"),
        "district border",
    ));
    if !page.boundary.is_empty() {
        layers.push((symbol("<path class=\"boundary\" d=\"M1 6H29\"/>"), "city boundary"));
    }
    layers.push((
        symbol("<circle cx=\"15\" cy=\"6\" r=\"4.5\" fill=\"#222\" stroke=\"#fff\" stroke-width=\"1.2\"/>"),
        "school",
    ));
    for (sym, label) in &layers {
        let _ = writeln!(h, "<span class=\"layer\">{sym} {label}</span>");
    }
    for (i, s) in page.schools.iter().enumerate() {
        let _ = writeln!(
            h,
            "<span class=\"key\" data-school=\"{id}\"><span class=\"sw\" style=\"background:{}\"></span> {id}</span>",
            fill(i),
            id = escape(&s.id)
        );
    }
    h.push_str("</div>\n</div>\n");

    // The table per school (also the legend).
    h.push_str(
        "<div>\n<table id=\"schools\">\n<thead><tr><th class=\"t\"></th><th class=\"t\">School</th><th class=\"t\">Name</th>\
         <th>Pupils</th><th>Capacity</th><th>Use</th><th>Classes</th><th>Mean walk</th><th>Price</th><th>Blocks</th></tr></thead>\n<tbody>\n",
    );
    for (i, s) in page.schools.iter().enumerate() {
        let usage = if s.capacity > 0 {
            format!("{:.0} %", 100.0 * s.load as f64 / s.capacity as f64)
        } else {
            "–".into()
        };
        let mean = s
            .mean_walk_m
            .map(|m| format!("{} m", group(m.round().max(0.0) as u64)))
            .unwrap_or_else(|| "–".into());
        let price = s.price_m.map(|p| format!("{p} m")).unwrap_or_else(|| "–".into());
        let bl = blocks[i].map(group).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            h,
            "<tr data-school=\"{id}\"><td class=\"t\"><span class=\"sw\" style=\"background:{}\"></span></td><td class=\"t\">{id}</td><td class=\"t\">{}</td>\
             <td>{}</td><td>{}</td><td>{usage}</td><td>{}</td><td>{mean}</td><td>{price}</td><td>{bl}</td></tr>",
            fill(i),
            escape(&s.name),
            group(s.load),
            group(s.capacity as u64),
            s.classes,
            id = escape(&s.id)
        );
    }
    h.push_str("</tbody>\n</table>\n</div>\n</div>\n");

    if let Some(r) = &page.routing_check {
        h.push_str("<h2>Routing check</h2>\n<div id=\"routing-check\">\n");
        let _ = writeln!(
            h,
            "<p class=\"rule\">Walks that look like artefacts of the street network, not real detours. Rule: {}. \
             The straight line is a yardstick only.</p>",
            escape(&r.rule)
        );
        h.push_str("<div class=\"figures\">\n");
        for (l, v) in &r.counts {
            let _ = writeln!(
                h,
                "<div class=\"figure\"><div class=\"v\">{}</div><div class=\"l\">{}</div></div>",
                escape(v),
                escape(l)
            );
        }
        h.push_str("</div>\n");
        if !r.hints.is_empty() {
            h.push_str("<ul class=\"notes\">\n");
            for n in &r.hints {
                let _ = writeln!(h, "<li class=\"warn\">{}</li>", escape(n));
            }
            h.push_str("</ul>\n");
        }
        if !r.rows.is_empty() {
            h.push_str("<table id=\"routing-check-table\">\n<thead><tr>");
            for (k, col) in r.columns.iter().enumerate() {
                let _ = write!(
                    h,
                    "<th{}>{}</th>",
                    if k < 2 { " class=\"t\"" } else { "" },
                    escape(col)
                );
            }
            h.push_str("</tr></thead>\n<tbody>\n");
            for row in &r.rows {
                h.push_str("<tr>");
                for (k, cell) in row.iter().enumerate() {
                    let _ = write!(
                        h,
                        "<td{}>{}</td>",
                        if k < 2 { " class=\"t\"" } else { "" },
                        escape(cell)
                    );
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</tbody>\n</table>\n");
        }
        if r.more > 0 || r.file.is_some() {
            let _ = writeln!(
                h,
                "<p class=\"rule\">{}{}</p>",
                if r.more > 0 {
                    format!("{} more finding(s) not shown. ", r.more)
                } else {
                    String::new()
                },
                r.file
                    .as_ref()
                    .map(|f| format!("Every finding is in {} in the plan directory.", escape(f)))
                    .unwrap_or_default()
            );
        }
        h.push_str("</div>\n");
    }
    if let Some(c) = &page.comparison {
        let _ =
            writeln!(h, "<h2>{}</h2>\n<table id=\"comparison\">\n<thead><tr>", escape(&c.title));
        for (k, col) in c.columns.iter().enumerate() {
            let _ =
                write!(h, "<th{}>{}</th>", if k == 0 { " class=\"t\"" } else { "" }, escape(col));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for row in &c.rows {
            h.push_str("<tr>");
            for (k, cell) in row.iter().enumerate() {
                let _ = write!(
                    h,
                    "<td{}>{}</td>",
                    if k == 0 { " class=\"t\"" } else { "" },
                    escape(cell)
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>\n");
    }
    let _ = write!(h, "<script>{JS}</script>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64, s: f64) -> Vec<Vec<(f64, f64)>> {
        vec![vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)]]
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">O'Neil & Co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; Co&lt;/a&gt;"
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
    }

    #[test]
    fn neighbours_get_different_colours() {
        // A 3 x 3 grid of unit squares: each touches its 8 neighbours (corners included).
        let shapes: Vec<_> =
            (0..9).map(|k| to_geo(&[square((k % 3) as f64, (k / 3) as f64, 1.0)])).collect();
        let c = colour_districts(&shapes);
        for i in 0..9 {
            for j in 0..9 {
                let (xi, yi, xj, yj) = (i % 3, i / 3, j % 3, j / 3);
                let touch = i != j
                    && (xi as i32 - xj as i32).abs() <= 1
                    && (yi as i32 - yj as i32).abs() <= 1;
                if touch {
                    assert_ne!(c[i], c[j], "squares {i} and {j} touch");
                }
            }
        }
        // The palette is spread: apart shapes still get different colours while some are unused.
        let far: Vec<_> =
            (0..PALETTE.len() + 1).map(|k| to_geo(&[square(3.0 * k as f64, 0.0, 1.0)])).collect();
        let c = colour_districts(&far);
        assert_eq!(c[..PALETTE.len()], (0..PALETTE.len()).collect::<Vec<_>>());
        assert_eq!(c[PALETTE.len()], 0);
    }

    #[test]
    fn path_data_skips_closing_and_repeated_points() {
        let proj = Projection::fit([(0.0, 0.0), (1.0, 1.0)].into_iter());
        let d = path_data(&proj, &[square(0.0, 0.0, 1.0)]);
        assert_eq!(d.matches('M').count(), 1);
        assert_eq!(d.matches('Z').count(), 1);
        assert_eq!(d.split([' ', 'M', 'Z']).filter(|s| !s.is_empty()).count(), 8, "{d}");
    }

    fn row(id: &str) -> SchoolRow {
        SchoolRow {
            id: id.into(),
            name: format!("School {id}"),
            lat: 52.1,
            lon: 11.6,
            capacity: 10,
            load: 5,
            classes: 1,
            price_m: None,
            mean_walk_m: None,
        }
    }

    fn feature(
        id: serde_json::Value,
        coordinates: Vec<Vec<geojson::Position>>,
    ) -> geojson::Feature {
        let props = serde_json::json!({"school_id": id, "blocks": 4});
        geojson::Feature {
            geometry: Some(geojson::Geometry::new(GeometryValue::Polygon { coordinates })),
            properties: props.as_object().cloned(),
            ..Default::default()
        }
    }

    fn ring(x: f64, y: f64) -> Vec<Vec<geojson::Position>> {
        vec![square(x, y, 0.01)[0]
            .iter()
            .map(|&(a, b)| geojson::Position::from(vec![a, b]))
            .collect()]
    }

    #[test]
    fn one_shape_per_school_row_whatever_the_features() {
        let page = ReportPage {
            title: "T".into(),
            notes: vec![],
            headline: Headline {
                pupils: 10,
                total_walk_m: 5000,
                mean_walk_m: 500.0,
                over_2km: 0,
                classes: 2,
                status: "optimal".into(),
                extra: vec![],
            },
            // B has no feature; C's feature is unknown; A's comes twice.
            schools: vec![row("A"), row("B")],
            districts: FeatureCollection::new(vec![
                feature("A".into(), ring(11.6, 52.1)),
                feature("C".into(), ring(11.7, 52.1)),
                feature("A".into(), ring(11.8, 52.1)),
            ]),
            comparison: None,
            streets: vec![],
            boundary: vec![],
            routing_check: None,
        };
        let html = render(&page);
        assert_eq!(html.matches("<path class=\"district\"").count(), 2);
        let b = html.find("data-school=\"B\"").unwrap();
        assert!(
            html[b..b + html[b..].find('>').unwrap()].ends_with(" d=\"\""),
            "B's shape is empty"
        );
        assert!(html.contains("2 district feature(s) name no school"));
        assert!(!html.contains("id=\"comparison\""));
        // Only A's first feature is drawn: one ring, four corners.
        let a = html.find("data-school=\"A\"").unwrap();
        let d = &html[a..a + html[a..].find("\"><title>").unwrap()];
        assert_eq!((d.matches('M').count(), d.matches('Z').count()), (1, 1), "{d}");
        // The block count comes from the feature; numeric school ids match too.
        assert!(html.contains("<td>4</td></tr>"));
        let numeric = ReportPage {
            schools: vec![row("7")],
            districts: FeatureCollection::new(vec![feature(7.into(), ring(11.6, 52.1))]),
            ..page
        };
        assert!(!render(&numeric).contains("name no school"));
    }
}
