//! `report.html` in a real headless Chromium (Debian's `chromium`, installed by scripts/setup):
//! the page loads without console messages (errors, exceptions, blocked network loads), its
//! DOM has exactly one district shape per school, and a PNG screenshot of it is written and
//! shows the districts' colours. Fails, does not skip, when Chromium is missing.

mod common;
use catchment::report::html::{
    render, Comparison, Headline, MapLine, ReportPage, RoutingSection, SchoolRow, PALETTE,
};
use catchment::report::Summary;
use common::bin;
use geojson::{Feature, FeatureCollection, Geometry, GeometryValue, Position};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a single Chromium run may take before it is stopped (a hang, not a speed check).
const BROWSER_LIMIT: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> String {
    let b = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    match Command::new(&b).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(s) if s.success() => b,
        _ => panic!("'{b}' not found or not working: the report check needs Debian's chromium — run scripts/setup"),
    }
}

/// Runs Chromium in its own process group, output to files; stopped by PID (the whole group)
/// after `BROWSER_LIMIT` and, in any case, once it has finished (renderer leftovers).
fn run_browser(args: &[String], work: &Path) -> (String, String) {
    use std::os::unix::process::CommandExt;
    let out = work.join("browser.out");
    let err = work.join("browser.err");
    let mut child = Command::new(chromium())
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > BROWSER_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill(2) on the process group this test created (its leader is our child).
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let status = status.unwrap_or_else(|| {
        let _ = child.wait();
        panic!("chromium did not finish within {BROWSER_LIMIT:?}; stopped (args {args:?})")
    });
    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    (stdout, stderr)
}

/// What Chromium saw when loading a page: its console messages and the DOM after load.
struct PageCheck {
    console: Vec<String>,
    dom: String,
}

/// Load `html` from a file: console messages come from `--enable-logging=stderr` (every
/// console call, uncaught exception and Content-Security-Policy violation is logged there as
/// a CONSOLE line); timers get two seconds of virtual time; name resolution is disabled, so
/// nothing can come from the network.
fn load_page(html: &Path) -> PageCheck {
    let work = tempfile::tempdir().unwrap();
    let profile = work.path().join("profile");
    let args: Vec<String> = vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        format!("--user-data-dir={}", profile.display()),
        "--enable-logging=stderr".into(),
        "--v=0".into(),
        "--host-resolver-rules=MAP * ~NOTFOUND".into(),
        "--virtual-time-budget=2000".into(),
        "--dump-dom".into(),
        format!("file://{}", html.canonicalize().unwrap().display()),
    ];
    let (dom, stderr) = run_browser(&args, work.path());
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(|l| l.split_once("] ").map(|(_, m)| m).unwrap_or(l).to_string())
        .collect();
    PageCheck { console, dom }
}

/// `data-school` of every `<path>` with class `district` in a serialised DOM.
fn district_shapes(dom: &str) -> Vec<String> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let k = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[k..k + tag[k..].find('"')?].to_string())
    };
    let mut out = Vec::new();
    for (i, _) in dom.match_indices("<path") {
        let tag = &dom[i..i + dom[i..].find('>').unwrap()];
        if attr(tag, "class").is_some_and(|c| c.split(' ').any(|c| c == "district")) {
            out.push(attr(tag, "data-school").unwrap_or_default());
        }
    }
    out
}

/// The `d` of every `<path>` inside the SVG group `<g id="{id}">` of a serialised DOM (the
/// group's first `</g>` ends it: the map's groups hold no groups).
fn group_paths(dom: &str, id: &str) -> Vec<String> {
    let Some(start) = dom.find(&format!("<g id=\"{id}\"")) else { return vec![] };
    let end = start + dom[start..].find("</g>").unwrap();
    let group = &dom[start..end];
    group
        .match_indices("<path")
        .filter_map(|(i, _)| {
            let tag = &group[i..i + group[i..].find('>').unwrap()];
            let k = tag.find(" d=\"")? + 4;
            Some(tag[k..k + tag[k..].find('"')?].to_string())
        })
        .collect()
}

/// Everything wrong with a loaded page: console messages, and schools without exactly one
/// district shape (or shapes of unknown schools).
fn problems(check: &PageCheck, schools: &[&str]) -> Vec<String> {
    let mut p: Vec<String> = check.console.iter().map(|m| format!("console: {m}")).collect();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for s in district_shapes(&check.dom) {
        *count.entry(s).or_default() += 1;
    }
    for s in schools {
        let n = count.remove(*s).unwrap_or(0);
        if n != 1 {
            p.push(format!("school {s}: {n} district shapes"));
        }
    }
    for (s, n) in count {
        p.push(format!("{n} district shapes of unknown school {s:?}"));
    }
    p
}

/// A decoded 8-bit RGB(A) PNG.
struct Png {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

/// Decodes (and so validates) a non-interlaced 8-bit RGB or RGBA PNG: signature, chunk
/// layout, IHDR, the zlib stream and every scanline filter.
fn decode_png(bytes: &[u8]) -> Png {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG (signature)");
    let (mut pos, mut ihdr, mut idat, mut ended) = (8, None, Vec::new(), false);
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        assert!(pos + 12 + len <= bytes.len(), "PNG chunk runs past the end");
        let data = &bytes[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => ihdr = Some(data.to_vec()),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => ended = true,
            _ => {}
        }
        pos += 12 + len;
    }
    assert!(ended, "PNG without IEND");
    let h = ihdr.expect("PNG without IHDR");
    let width = u32::from_be_bytes(h[0..4].try_into().unwrap());
    let height = u32::from_be_bytes(h[4..8].try_into().unwrap());
    let (depth, colour, interlace) = (h[8], h[9], h[12]);
    assert!(
        depth == 8 && (colour == 2 || colour == 6) && interlace == 0,
        "PNG format: depth {depth}, colour type {colour}, interlace {interlace}"
    );
    let bpp = if colour == 6 { 4 } else { 3 };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).expect("PNG image data (zlib)");
    let stride = width as usize * bpp;
    assert_eq!(raw.len(), height as usize * (stride + 1), "PNG image data length");
    let mut prev = vec![0u8; stride];
    let mut rgb = Vec::with_capacity((width * height) as usize);
    for y in 0..height as usize {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let mut cur = line[1..].to_vec();
        for i in 0..stride {
            let a = if i >= bpp { cur[i - bpp] as i16 } else { 0 };
            let b = prev[i] as i16;
            let c = if i >= bpp { prev[i - bpp] as i16 } else { 0 };
            let add = match line[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("PNG filter type {f}"),
            };
            cur[i] = cur[i].wrapping_add(add as u8);
        }
        rgb.extend(cur.chunks(bpp).map(|p| [p[0], p[1], p[2]]));
        prev = cur;
    }
    Png { width, height, rgb }
}

fn hex(c: &str) -> [u8; 3] {
    let v = |k: usize| u8::from_str_radix(&c[k..k + 2], 16).unwrap();
    [v(1), v(3), v(5)]
}

/// Screenshot through scripts/map-png (the map alone, or `--page`), decoded.
fn screenshot(html: &Path, out: &Path, size: (u32, u32), page: bool) -> Png {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/map-png")).arg(html).arg(out);
    if page {
        cmd.arg("--page");
    }
    let o = cmd
        .env("MAP_PNG_SIZE", format!("{},{}", size.0, size.1))
        .env("CHROMIUM", chromium())
        .output()
        .unwrap();
    assert!(o.status.success(), "scripts/map-png failed:\n{}", String::from_utf8_lossy(&o.stderr));
    let png = decode_png(&std::fs::read(out).unwrap());
    assert_eq!((png.width, png.height), size, "screenshot size");
    png
}

/// Pixels of each palette colour in a screenshot.
fn palette_pixels(png: &Png) -> HashMap<[u8; 3], usize> {
    let palette: Vec<[u8; 3]> = PALETTE.iter().map(|c| hex(c)).collect();
    let mut n = HashMap::new();
    for p in &png.rgb {
        if palette.contains(p) {
            *n.entry(*p).or_default() += 1;
        }
    }
    n
}

/// The fill colour the page gave each school's district.
fn fills(html: &str) -> HashMap<String, [u8; 3]> {
    let mut out = HashMap::new();
    for (i, _) in html.match_indices("<path class=\"district\"") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        let get = |k: &str| {
            let s = tag.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
            tag[s..s + tag[s..].find('"').unwrap()].to_string()
        };
        out.insert(get("data-school"), hex(&get("fill")));
    }
    out
}

fn ring(x: f64, y: f64, w: f64, h: f64) -> Vec<Position> {
    [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
        .iter()
        .map(|&(a, b)| Position::from(vec![a, b]))
        .collect()
}

fn feature(id: &str, value: GeometryValue, blocks: u64) -> Feature {
    let props = serde_json::json!({"school_id": id, "name": id, "pupils": 0, "capacity": 0, "classes": 0, "blocks": blocks});
    Feature {
        geometry: Some(Geometry::new(value)),
        properties: props.as_object().cloned(),
        ..Default::default()
    }
}

/// Six schools on a 3 x 2 grid of squares near Magdeburg's latitude: one district of two
/// separate squares (MultiPolygon), one with a hole, and a name full of markup.
fn synthetic_page() -> ReportPage {
    let d = 0.01;
    let (x0, y0) = (11.6, 52.1);
    let mut schools = Vec::new();
    let mut features = Vec::new();
    for k in 0..6 {
        let (cx, cy) = (x0 + (k % 3) as f64 * d, y0 + (k / 3) as f64 * d);
        let id = format!("S{:02}", k + 1);
        let name = if k == 2 {
            "<script>alert(\"x\")</script> Grundschule \"Ost\" & 'West'".to_string()
        } else {
            format!("Grundschule {k}")
        };
        schools.push(SchoolRow {
            id: id.clone(),
            name,
            lat: cy + d / 2.0,
            lon: cx + d / 2.0,
            capacity: 50 + k as u32,
            load: 40 + k as u64,
            classes: 2,
            price_m: if k == 0 { Some(-120) } else { Some(0) },
            mean_walk_m: Some(600.0 + k as f64),
        });
        let value = match k {
            // The first school also owns a square beyond the grid.
            0 => GeometryValue::MultiPolygon {
                coordinates: vec![
                    vec![ring(cx, cy, d, d)],
                    vec![ring(x0 - 1.5 * d, y0, d / 2.0, d / 2.0)],
                ],
            },
            // The fifth has a hole.
            4 => GeometryValue::Polygon {
                coordinates: vec![
                    ring(cx, cy, d, d),
                    ring(cx + d / 4.0, cy + d / 4.0, d / 4.0, d / 4.0),
                ],
            },
            _ => GeometryValue::Polygon { coordinates: vec![ring(cx, cy, d, d)] },
        };
        features.push(feature(&id, value, 10 + k as u64));
    }
    ReportPage {
        title: "Synthetic districts <test>".into(),
        notes: vec!["Walking distances: synthetic & approximate".into()],
        headline: Headline {
            pupils: 265,
            total_walk_m: 161_234,
            mean_walk_m: 608.4,
            over_2km: 3,
            classes: 12,
            status: "optimal, certified by school prices".into(),
            extra: vec![("Not at their nearest school".into(), "7".into())],
        },
        schools,
        districts: FeatureCollection::new(features),
        comparison: Some(Comparison {
            title: "Against the baseline".into(),
            columns: vec!["plan".into(), "total walk".into(), "over 2 km".into()],
            rows: vec![
                vec!["baseline".into(), "180.2 km".into(), "9".into()],
                vec!["optimal".into(), "161.2 km".into(), "3".into()],
            ],
        }),
        // A street through the grid, a path beyond it, and one far outside the map (left out).
        streets: vec![
            MapLine { named: true, points: vec![(x0, y0 + d), (x0 + 3.0 * d, y0 + d)] },
            MapLine {
                named: false,
                points: vec![(x0 - 1.5 * d, y0), (x0 - 1.5 * d, y0 + 2.0 * d)],
            },
            MapLine { named: true, points: vec![(x0 + 1.0, y0 + 1.0), (x0 + 1.1, y0 + 1.0)] },
        ],
        // The boundary around the grid and the detached square.
        boundary: vec![vec![[
            (x0 - 1.6 * d, y0 - 0.1 * d),
            (x0 + 3.1 * d, y0 - 0.1 * d),
            (x0 + 3.1 * d, y0 + 2.1 * d),
            (x0 - 1.6 * d, y0 + 2.1 * d),
            (x0 - 1.6 * d, y0 - 0.1 * d),
        ]
        .to_vec()]],
        routing_check: Some(RoutingSection {
            rule: "walk > 3 x straight line + 1000 m".into(),
            counts: vec![("Blocks flagged".into(), "1".into())],
            hints: vec!["the street network may be clipped <near> the area".into()],
            columns: vec!["Block".into(), "Finding".into(), "School".into()],
            rows: vec![vec!["B7".into(), "detour to its own school".into(), "S01".into()]],
            more: 0,
            file: Some("routing-check.csv".into()),
        }),
    }
}

fn write_page(dir: &Path, html: &str) -> PathBuf {
    let p = dir.join("report.html");
    std::fs::write(&p, html).unwrap();
    p
}

#[test]
fn synthetic_report_loads_cleanly_with_one_district_per_school_and_a_screenshot() {
    let dir = tempfile::tempdir().unwrap();
    let page = synthetic_page();
    let html = render(&page);
    let ids: Vec<&str> = page.schools.iter().map(|s| s.id.as_str()).collect();
    // Offline: nothing is loaded from anywhere (the SVG namespace is a name, not a fetch).
    for needle in [" src=", " href=", "url(", "@import"] {
        assert!(!html.contains(needle), "the page references something external: {needle}");
    }
    let path = write_page(dir.path(), &html);
    let check = load_page(&path);
    assert_eq!(problems(&check, &ids), Vec::<String>::new());
    // Text is escaped: the markup in a school's name is text, not an element.
    assert_eq!(check.dom.matches("<script").count(), 1, "only the page's own script");
    assert!(check
        .dom
        .contains("&lt;script&gt;alert(\"x\")&lt;/script&gt; Grundschule \"Ost\" &amp; 'West'"));
    assert!(check.dom.contains("<table id=\"comparison\">") && check.dom.contains("180.2 km"));
    // The layers under and over the districts: streets (one path of named streets, one of other
    // ways; the line far outside the map left out), the boundary, the routing check's section.
    let streets = group_paths(&check.dom, "streets");
    assert_eq!(streets.len(), 2, "{streets:?}");
    assert!(
        streets.iter().all(|d| d.starts_with('M') && d.matches('M').count() == 1),
        "{streets:?}"
    );
    assert_eq!(group_paths(&check.dom, "boundary").len(), 1);
    assert!(check.dom.contains("<table id=\"routing-check-table\">"));
    assert!(check.dom.contains("clipped &lt;near&gt; the area"));
    assert!(check.dom.contains("Every finding is in routing-check.csv"));
    for figure in ["161.2 km", "608 m", "optimal, certified by school prices"] {
        assert!(check.dom.contains(figure), "headline figure {figure}");
    }
    // Neighbouring squares (sharing an edge or a corner) have different colours.
    let fill = fills(&html);
    for (a, b) in [
        ("S01", "S02"),
        ("S02", "S03"),
        ("S04", "S05"),
        ("S05", "S06"),
        ("S01", "S04"),
        ("S01", "S05"),
        ("S02", "S04"),
        ("S02", "S06"),
        ("S03", "S05"),
    ] {
        assert_ne!(fill[a], fill[b], "{a} and {b} touch");
    }
    // The screenshots: valid PNGs of the requested size, every district's colour visible.
    for (page_mode, size) in [(false, (600, 500)), (true, (1200, 1400))] {
        let png = screenshot(&path, &dir.path().join("shot.png"), size, page_mode);
        let seen = palette_pixels(&png);
        for (s, c) in &fill {
            assert!(
                seen.get(c).copied().unwrap_or(0) > 50,
                "district {s}'s colour in the screenshot (page: {page_mode}): {seen:?}"
            );
        }
    }
}

#[test]
fn the_check_catches_errors_exceptions_network_loads_and_duplicate_districts() {
    let dir = tempfile::tempdir().unwrap();
    let page = synthetic_page();
    let ids: Vec<&str> = page.schools.iter().map(|s| s.id.as_str()).collect();
    let html = render(&page);
    let with = |extra: &str| html.replace("</body>", &format!("{extra}</body>"));
    let cases = [
        (
            "console.error",
            with("<script>console.error('broken on purpose')</script>"),
            "broken on purpose",
        ),
        ("exception", with("<script>null.x()</script>"), "Uncaught TypeError"),
        (
            "late exception",
            with("<script>setTimeout(function(){throw new Error('late on purpose')},500)</script>"),
            "late on purpose",
        ),
        (
            "network load",
            with("<img src=\"https://example.org/tile.png\">"),
            "Content Security Policy",
        ),
    ];
    for (what, bad, expect) in cases {
        let check = load_page(&write_page(dir.path(), &bad));
        let p = problems(&check, &ids);
        assert!(
            p.iter().any(|m| m.contains(expect)),
            "{what}: expected a problem with {expect:?}, got {p:?}"
        );
    }
    // A label pushed out of the frame, and a legend colour that is not its district's.
    let out = html.replacen("<text class=\"label\" x=\"", "<text class=\"label\" x=\"-40", 1);
    let p = problems(&load_page(&write_page(dir.path(), &out)), &ids);
    assert!(p.iter().any(|m| m.contains("runs outside the map")), "{p:?}");
    let key = html
        .find("<span class=\"key\" data-school=\"S02\"><span class=\"sw\" style=\"background:")
        .unwrap();
    let at = key + html[key..].find("background:").unwrap() + "background:".len();
    let wrong = format!("{}#000000{}", &html[..at], &html[at + 7..]);
    let p = problems(&load_page(&write_page(dir.path(), &wrong)), &ids);
    assert!(p.iter().any(|m| m.contains("legend colour of S02 differs")), "{p:?}");
    // A second shape for S03: both the DOM count and the page's own self-check notice.
    let i = html.find("<path class=\"district\" data-school=\"S03\"").unwrap();
    let end = i + html[i..].find("</path>").unwrap() + "</path>".len();
    let dup = format!("{}{}", &html[..end], &html[i..]);
    let p = problems(&load_page(&write_page(dir.path(), &dup)), &ids);
    assert!(p.contains(&"school S03: 2 district shapes".to_string()), "{p:?}");
    assert!(p.iter().any(|m| m.contains("report: school S03 has 2 district shapes")), "{p:?}");
    // And a missing school.
    let p =
        problems(&load_page(&write_page(dir.path(), &html)), &[ids.as_slice(), &["S99"]].concat());
    assert_eq!(p, vec!["school S99: 0 district shapes".to_string()]);
}

#[test]
fn magdeburg_report_from_the_published_districts() {
    let data = repo().join("data/magdeburg");
    assert!(data.join("blocks.csv").exists(), "data/magdeburg is part of the repository");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan");
    let o = bin()
        .args(["solve", "--schools"])
        .arg(data.join("schools.csv"))
        .arg("--pupils")
        .arg(data.join("pupils.csv"))
        .arg("--matrix")
        .arg(data.join("matrix.csv"))
        .arg("--blocks")
        .arg(data.join("blocks.csv"))
        .arg("--streets")
        .arg(data.join("network.osm"))
        .arg("--area")
        .arg(data.join("area.geojson"))
        .arg("--out")
        .arg(&plan)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The page `catchment solve --blocks` wrote beside the plan.
    let summary: Summary =
        serde_json::from_str(&std::fs::read_to_string(plan.join("summary.json")).unwrap()).unwrap();
    let path = plan.join("report.html");
    let html = std::fs::read_to_string(&path).unwrap();
    for figure in [
        format!("{:.1} km", summary.walk.total_m as f64 / 1000.0),
        "optimal, certified by school prices".to_string(),
    ] {
        assert!(html.contains(&figure), "headline figure {figure}");
    }

    // No pupil in the page: no pupil id, no pupil coordinate.
    for r in csv::Reader::from_path(data.join("pupils.csv"))
        .unwrap()
        .deserialize::<HashMap<String, String>>()
    {
        let r = r.unwrap();
        for k in ["id", "lat", "lon"] {
            assert!(!html.contains(r[k].as_str()), "report.html contains a pupil's {k}");
        }
    }

    let ids: Vec<&str> = summary.per_school.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 33);
    let check = load_page(&path);
    assert_eq!(problems(&check, &ids), Vec::<String>::new());
    // The streets of network.osm under the districts and the city boundary, in Chromium's DOM;
    // the page stays small enough to mail (street geometry simplified).
    let streets = group_paths(&check.dom, "streets");
    assert_eq!(streets.len(), 2, "named streets and other ways");
    assert!(streets.iter().all(|d| d.matches('M').count() > 500), "thousands of street pieces");
    let boundary = group_paths(&check.dom, "boundary");
    assert!(boundary.len() == 1 && boundary[0].matches(' ').count() > 100, "the city boundary");
    assert!(html.len() < 400_000, "report.html is {} bytes", html.len());
    // The routing check's section, with its counts from summary.json.
    let rc = summary.routing_check.as_ref().expect("summary.json has the routing check");
    assert!(check.dom.contains("<h2>Routing check</h2>"));
    assert!(check.dom.contains(&format!(
        "<div class=\"v\">{}</div><div class=\"l\">Blocks flagged</div>",
        rc.flagged
    )));

    let png = screenshot(&path, &plan.join("map.png"), (900, 1200), false);
    let seen = palette_pixels(&png);
    let fill = fills(&html);
    let mut colours: Vec<[u8; 3]> = fill.values().copied().collect();
    colours.sort();
    colours.dedup();
    assert!(colours.len() >= 4, "a map of 33 districts needs several colours: {colours:?}");
    for c in colours {
        assert!(seen.get(&c).copied().unwrap_or(0) > 500, "colour {c:?} on the map: {seen:?}");
    }
}
