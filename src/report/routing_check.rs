//! The routing check: walks that look like artefacts of the street network rather than real
//! detours, found before a plan is published.
//!
//! A location snapped to a dangling footway, a street missing from the extract or an extract
//! clipped at the city's edge gives walks many times the straight line; the plan then sends the
//! block elsewhere and the published districts show an enclave that nobody can explain. The
//! check compares every block's walks (or, without blocks, every pupil's) with the straight
//! line and flags:
//!
//! - `detour_assigned`: the walk to the block's own school is more than [`DETOUR_FACTOR`] x the
//!   straight line + [`DETOUR_SLACK_M`];
//! - `detour_nearest`: the same for the school nearest in a straight line, when that is another
//!   school (the school a family would expect);
//! - `far_snap`: the routing engine placed a pupil of the block more than [`FAR_SNAP_M`] from
//!   their location (OSRM's snap; matrix files do not carry it);
//! - `unreachable`: no route to some schools: the location lies in a piece of the network not
//!   connected to them.
//!
//! The straight line (great circle) is used only here, as a yardstick, and is labelled as such.
//! Findings name blocks, schools and meters; pupil-level checks give counts only.

use super::baseline::straight_line_m;
use super::html::RoutingSection;
use crate::districts::blocks::Block;
use crate::districts::BlockMatrix;
use crate::instance::{id_cmp, Instance, School};
use crate::routing::{Matrix, UNREACHABLE};
use geo::Point;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A walk is a detour when it is longer than this many times the straight line ...
pub const DETOUR_FACTOR: f64 = 3.0;
/// ... plus this many meters (short walks around a block or to a crossing stay unflagged).
pub const DETOUR_SLACK_M: f64 = 1000.0;
/// A location placed farther than this from where it is (the routing engine's snap, meters).
pub const FAR_SNAP_M: u32 = 150;
/// The file of a plan directory listing every finding (blocks only).
pub const CSV_FILE: &str = "routing-check.csv";
/// Findings shown on the report page (the worst first); the file has them all.
pub const PAGE_ROWS: usize = 25;

/// The rule in words, as `summary.json` and the report page state it.
pub fn rule_text() -> String {
    format!(
        "walk > {DETOUR_FACTOR} x straight line + {DETOUR_SLACK_M:.0} m to the assigned school or to the school nearest in a straight line; \
         snapped more than {FAR_SNAP_M} m from the location; no route to some schools"
    )
}

/// Why a block was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No route to some schools (or to any).
    Unreachable,
    /// The walk to the block's own school is a detour by the rule.
    DetourAssigned,
    /// The walk to the school nearest in a straight line (another school) is a detour.
    DetourNearest,
    /// The routing engine placed the location far from where it is.
    FarSnap,
}

impl Reason {
    /// The reason's code in `routing-check.csv`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Unreachable => "unreachable",
            Reason::DetourAssigned => "detour_assigned",
            Reason::DetourNearest => "detour_nearest",
            Reason::FarSnap => "far_snap",
        }
    }
}

/// One finding about one block.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// The block's id.
    pub block_id: String,
    /// Why it was flagged.
    pub reason: Reason,
    /// The school the finding is about (detours), index into the schools.
    pub school: Option<usize>,
    /// Walking meters to that school.
    pub walk_m: Option<u32>,
    /// Straight-line meters to that school (the yardstick, not a walk).
    pub straight_m: Option<u32>,
    /// The largest snap of the block's pupils, in meters (far snaps).
    pub snap_m: Option<u32>,
    /// Schools without a route from the block (unreachable).
    pub unreachable_schools: usize,
    /// Residents of the block (from the blocks file).
    pub residents: u32,
}

impl Flag {
    /// Walk over straight line.
    pub fn ratio(&self) -> Option<f64> {
        match (self.walk_m, self.straight_m) {
            (Some(w), Some(s)) if s > 0 => Some(w as f64 / s as f64),
            _ => None,
        }
    }

    /// How bad the finding is, for ordering the page's table (larger is worse): meters beyond
    /// the rule for detours, the snap for far snaps; unreachable schools count as 100 km each.
    fn severity(&self) -> f64 {
        match self.reason {
            Reason::Unreachable => 100_000.0 * self.unreachable_schools as f64,
            Reason::DetourAssigned | Reason::DetourNearest => {
                let (w, s) = (self.walk_m.unwrap_or(0) as f64, self.straight_m.unwrap_or(0) as f64);
                w - threshold(s)
            }
            Reason::FarSnap => self.snap_m.unwrap_or(0) as f64,
        }
    }
}

/// Blocks (or pupils) excluded from a plan because their walks are not trusted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Excluded {
    /// Blocks left out of the published districts.
    pub blocks: usize,
    /// Pupils of those blocks left out of the plan.
    pub pupils_left_out: usize,
    /// Pupils of those blocks kept at their fixed school.
    pub pupils_kept_fixed: usize,
    /// The blocks' ids, sorted (written to the plan's `excluded-blocks.csv`, which `check`
    /// applies; not in the summary).
    #[serde(skip)]
    pub block_ids: Vec<String>,
    /// The ids of the pupils left out (internal: the kept matrix's sidecar names them, so a
    /// reader of it leaves them out too; never in the summary).
    #[serde(skip)]
    pub pupil_ids: Vec<String>,
}

/// The plan file listing the blocks excluded from it (`block_id`): `catchment check --plan`
/// leaves their pupils without a fixed school out, as the solve did.
pub const EXCLUDED_BLOCKS_FILE: &str = "excluded-blocks.csv";

/// `summary.json`'s `routing_check`: counts, the rule and hints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    /// What was checked: `block` (the city's blocks) or `pupil` (no blocks: counts only).
    pub unit: String,
    /// Blocks (pupils) checked.
    pub checked: usize,
    /// Blocks (pupils) with at least one finding.
    pub flagged: usize,
    /// Flagged for a detour to their own school.
    pub detour_assigned: usize,
    /// Flagged for a detour to the school nearest in a straight line (another school).
    pub detour_nearest: usize,
    /// Flagged for a far snap.
    pub far_snap: usize,
    /// Flagged for schools without a route.
    pub unreachable: usize,
    /// Pupils without coordinates, not checked.
    pub not_located: usize,
    /// Block checks: this year's pupils living in flagged blocks (a total, never per block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pupils_in_flagged: Option<usize>,
    /// The rule in words.
    pub rule: String,
    /// Hints about the network: an extract clipped near the area, a network that looks
    /// incomplete.
    pub hints: Vec<String>,
    /// Blocks excluded from the plan (given by the planner), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Excluded>,
}

/// The check's result: the counts and, for blocks, every finding.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingCheck {
    /// The counts for `summary.json`.
    pub summary: CheckSummary,
    /// Every finding (blocks only), sorted by block id, then reason.
    pub flags: Vec<Flag>,
}

fn threshold(straight_m: f64) -> f64 {
    DETOUR_FACTOR * straight_m + DETOUR_SLACK_M
}

/// Whether a walk of `walk_m` against a straight line of `straight_m` is a detour by the rule.
pub fn is_detour(walk_m: u32, straight_m: f64) -> bool {
    walk_m != UNREACHABLE && walk_m as f64 > threshold(straight_m)
}

/// One finding of one location, before it is tied to a block.
#[derive(Debug, Clone, PartialEq)]
struct Finding {
    reason: Reason,
    school: Option<usize>,
    walk_m: Option<u32>,
    straight_m: Option<u32>,
    snap_m: Option<u32>,
    unreachable_schools: usize,
}

/// The findings of one location: `row` its walks (school, meters) to every school — to the
/// schools given, for a partial matrix —, `loc` (lat, lon), `assigned` its school, `snap` the
/// largest snap there.
fn findings(
    schools: &[School],
    row: &[(usize, u32)],
    loc: (f64, f64),
    assigned: Option<usize>,
    snap: Option<u32>,
) -> Vec<Finding> {
    let here = Point::new(loc.1, loc.0);
    // The pairs given (every school of a dense row), with their straight lines.
    let straight: Vec<f64> = row
        .iter()
        .map(|&(s, _)| straight_line_m(here, Point::new(schools[s].lon, schools[s].lat)))
        .collect();
    let none = |reason| Finding {
        reason,
        school: None,
        walk_m: None,
        straight_m: None,
        snap_m: None,
        unreachable_schools: 0,
    };
    let detour_to = |reason, i: usize| Finding {
        school: Some(row[i].0),
        walk_m: Some(row[i].1),
        straight_m: Some(straight[i].round() as u32),
        ..none(reason)
    };
    let mut out = Vec::new();
    let unreachable = row.iter().filter(|&&(_, d)| d == UNREACHABLE).count();
    if unreachable > 0 {
        out.push(Finding { unreachable_schools: unreachable, ..none(Reason::Unreachable) });
    }
    let nearest = (0..row.len()).min_by(|&a, &b| straight[a].total_cmp(&straight[b]));
    let detour = |i: usize| is_detour(row[i].1, straight[i]);
    let at = assigned.and_then(|s| row.iter().position(|&(t, _)| t == s));
    if let Some(i) = at.filter(|&i| detour(i)) {
        out.push(detour_to(Reason::DetourAssigned, i));
    }
    if let Some(i) = nearest.filter(|&i| Some(i) != at && detour(i)) {
        out.push(detour_to(Reason::DetourNearest, i));
    }
    if let Some(g) = snap.filter(|&g| g > FAR_SNAP_M) {
        out.push(Finding { snap_m: Some(g), ..none(Reason::FarSnap) });
    }
    out
}

/// Check every block of the city: `assigned[b]` is block b's school in the published districts
/// (in the order of `blocks`), `m` the pupils' matrix (its snaps, when it has them, are taken
/// to the pupils' blocks).
pub fn check_blocks(
    inst: &Instance,
    m: &Matrix,
    blocks: &[Block],
    bm: &BlockMatrix,
    assigned: &[Option<usize>],
) -> RoutingCheck {
    let index: HashMap<&str, usize> =
        blocks.iter().enumerate().map(|(i, b)| (b.id.as_str(), i)).collect();
    let mut snap: Vec<Option<u32>> = vec![None; blocks.len()];
    let mut pupils = vec![0usize; blocks.len()];
    for (p, pupil) in inst.pupils.iter().enumerate() {
        let Some(&b) = pupil.block.as_deref().and_then(|k| index.get(k)) else { continue };
        pupils[b] += 1;
        if let Some(g) = m.snap_m.as_ref().and_then(|s| s.get(p)) {
            snap[b] = Some(snap[b].map_or(*g, |x: u32| x.max(*g)));
        }
    }
    let mut flags = Vec::new();
    let mut flagged = vec![false; blocks.len()];
    for (b, blk) in blocks.iter().enumerate() {
        let Some(r) = bm.index(&blk.id) else { continue };
        let row: Vec<(usize, u32)> = bm.row(r).iter().copied().enumerate().collect();
        for f in findings(&inst.schools, &row, (blk.lat, blk.lon), assigned[b], snap[b]) {
            flagged[b] = true;
            flags.push(Flag {
                block_id: blk.id.clone(),
                reason: f.reason,
                school: f.school,
                walk_m: f.walk_m,
                straight_m: f.straight_m,
                snap_m: f.snap_m,
                unreachable_schools: f.unreachable_schools,
                residents: blk.residents,
            });
        }
    }
    flags.sort_by(|a, b| id_cmp(&a.block_id, &b.block_id).then(a.reason.cmp(&b.reason)));
    let count = |r: Reason| flags.iter().filter(|f| f.reason == r).count();
    let locations: Vec<((f64, f64), bool)> =
        blocks.iter().zip(&flagged).map(|(b, &f)| ((b.lat, b.lon), f)).collect();
    let n_flagged = flagged.iter().filter(|&&f| f).count();
    let summary = CheckSummary {
        unit: "block".into(),
        checked: blocks.len(),
        flagged: n_flagged,
        detour_assigned: count(Reason::DetourAssigned),
        detour_nearest: count(Reason::DetourNearest),
        far_snap: count(Reason::FarSnap),
        unreachable: count(Reason::Unreachable),
        not_located: 0,
        pupils_in_flagged: Some(
            pupils.iter().zip(&flagged).filter(|(_, &f)| f).map(|(&n, _)| n).sum(),
        ),
        rule: rule_text(),
        hints: hints(&locations, "blocks"),
        excluded: None,
    };
    RoutingCheck { summary, flags }
}

/// Check every pupil (a plan without the city's blocks): counts only, no finding names a pupil.
/// `assign[p]` is pupil p's school. With a partial matrix, only the pairs it gives are looked
/// at (the nearest school is the nearest of those).
pub fn check_pupils(inst: &Instance, m: &Matrix, assign: &[u32]) -> RoutingCheck {
    let mut row = Vec::new();
    let mut counts: HashMap<Reason, usize> = HashMap::new();
    let mut locations = Vec::new();
    let mut not_located = 0;
    for (p, pupil) in inst.pupils.iter().enumerate() {
        let Some(loc) = pupil.location else {
            not_located += 1;
            continue;
        };
        let snap = m.snap_m.as_ref().and_then(|s| s.get(p)).copied();
        row.clear();
        row.extend(m.given_row(p));
        let f = findings(&inst.schools, &row, loc, assign.get(p).map(|&s| s as usize), snap);
        for x in &f {
            *counts.entry(x.reason).or_default() += 1;
        }
        locations.push((loc, !f.is_empty()));
    }
    let count = |r: Reason| counts.get(&r).copied().unwrap_or(0);
    let summary = CheckSummary {
        unit: "pupil".into(),
        checked: locations.len(),
        flagged: locations.iter().filter(|(_, f)| *f).count(),
        detour_assigned: count(Reason::DetourAssigned),
        detour_nearest: count(Reason::DetourNearest),
        far_snap: count(Reason::FarSnap),
        unreachable: count(Reason::Unreachable),
        not_located,
        pupils_in_flagged: None,
        rule: rule_text(),
        hints: hints(&locations, "pupils"),
        excluded: None,
    };
    RoutingCheck { summary, flags: vec![] }
}

/// At least this many flagged locations near the edge before the clipped-extract hint.
const EDGE_MIN_FLAGGED: usize = 5;
/// A share of flagged locations above this suggests an incomplete network, not single
/// artefacts.
const NETWORK_SHARE: f64 = 0.10;

/// Hints from where the flagged locations lie: many of them near the edge of the locations'
/// extent (an extract clipped near the area), or many overall (an incomplete network).
///
/// The edge band is 5 % of the extent's shorter side, at least 500 m. The clipped hint needs at
/// least [`EDGE_MIN_FLAGGED`] flagged locations in the band, at least a tenth of the band's
/// locations flagged, and twice the share flagged further in.
pub fn hints(locations: &[((f64, f64), bool)], what: &str) -> Vec<String> {
    let mut out = Vec::new();
    let n = locations.len();
    let flagged = locations.iter().filter(|(_, f)| *f).count();
    if n == 0 || flagged == 0 {
        return out;
    }
    let (mut la0, mut la1, mut lo0, mut lo1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for ((la, lo), _) in locations {
        la0 = la0.min(*la);
        la1 = la1.max(*la);
        lo0 = lo0.min(*lo);
        lo1 = lo1.max(*lo);
    }
    const M_PER_DEG: f64 = 111_195.0;
    let kx = ((la0 + la1) / 2.0).to_radians().cos();
    let (h, w) = ((la1 - la0) * M_PER_DEG, (lo1 - lo0) * M_PER_DEG * kx);
    let band = (0.05 * h.min(w)).max(500.0);
    // Distance to the nearest edge and which edge: 0 north, 1 south, 2 east, 3 west.
    let edge = |la: f64, lo: f64| -> (f64, usize) {
        let d = [
            (la1 - la) * M_PER_DEG,
            (la - la0) * M_PER_DEG,
            (lo1 - lo) * M_PER_DEG * kx,
            (lo - lo0) * M_PER_DEG * kx,
        ];
        let k = (0..4).min_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap_or(0);
        (d[k], k)
    };
    let (mut in_band, mut flagged_band, mut sides) = (0usize, 0usize, [0usize; 4]);
    for ((la, lo), f) in locations {
        let (d, k) = edge(*la, *lo);
        if d <= band {
            in_band += 1;
            if *f {
                flagged_band += 1;
                sides[k] += 1;
            }
        }
    }
    let inner = n - in_band;
    let share_band = flagged_band as f64 / in_band.max(1) as f64;
    let share_inner = (flagged - flagged_band) as f64 / inner.max(1) as f64;
    if flagged_band >= EDGE_MIN_FLAGGED && share_band >= 0.1 && share_band >= 2.0 * share_inner {
        let names = ["north", "south", "east", "west"];
        let mut named: Vec<&str> =
            (0..4).filter(|&k| sides[k] * 4 >= flagged_band).map(|k| names[k]).collect();
        if named.is_empty() {
            named = names.to_vec();
        }
        out.push(format!(
            "{flagged_band} of the {in_band} {what} within {band:.0} m of the edge of the {what}' extent are flagged \
             ({:.0} %, against {:.0} % further in), most near the {} {}: the street network may be clipped near \
             the area. Extract it with a margin of a few kilometres around the city and route again.",
            100.0 * share_band,
            100.0 * share_inner,
            named.join(" and "),
            if named.len() == 1 { "edge" } else { "edges" }
        ));
    }
    let share = flagged as f64 / n as f64;
    if share >= NETWORK_SHARE {
        out.push(format!(
            "{:.0} % of the {what} are flagged: more than single artefacts, the street network itself looks \
             incomplete (streets, paths or crossings missing). Check what the extract and the routing profile keep.",
            100.0 * share
        ));
    }
    out
}

/// `routing-check.csv`: one row per finding, sorted by block id, then reason. Blocks and
/// schools only.
pub fn csv_text(flags: &[Flag], schools: &[School]) -> crate::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| crate::Error::internal(e.to_string());
    w.write_record([
        "block_id",
        "reason",
        "school_id",
        "walk_m",
        "straight_line_m",
        "ratio",
        "snap_m",
        "unreachable_schools",
        "residents",
    ])
    .map_err(err)?;
    let opt = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
    for f in flags {
        w.write_record([
            f.block_id.as_str(),
            f.reason.code(),
            f.school.map(|s| schools[s].id.as_str()).unwrap_or(""),
            &opt(f.walk_m),
            &opt(f.straight_m),
            &f.ratio().map(|r| format!("{r:.1}")).unwrap_or_default(),
            &opt(f.snap_m),
            &if f.unreachable_schools > 0 { f.unreachable_schools.to_string() } else { "".into() },
            &f.residents.to_string(),
        ])
        .map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| crate::Error::internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| crate::Error::internal(e.to_string()))
}

/// The report page's section: counts, hints and the worst findings (at most [`PAGE_ROWS`]).
pub fn section(check: &RoutingCheck, schools: &[School]) -> RoutingSection {
    let s = &check.summary;
    let what = if s.unit == "block" { "Blocks" } else { "Pupils" };
    let mut counts = vec![
        (format!("{what} checked"), s.checked.to_string()),
        (format!("{what} flagged"), s.flagged.to_string()),
        ("Detour to own school".into(), s.detour_assigned.to_string()),
        ("Detour to nearest school".into(), s.detour_nearest.to_string()),
        ("Far from the network".into(), s.far_snap.to_string()),
        ("Schools unreachable".into(), s.unreachable.to_string()),
    ];
    if let Some(p) = s.pupils_in_flagged {
        counts.push(("Pupils in flagged blocks".into(), p.to_string()));
    }
    if let Some(e) = &s.excluded {
        counts.push(("Blocks excluded".into(), e.blocks.to_string()));
        counts.push(("Their pupils left out".into(), e.pupils_left_out.to_string()));
    }
    let mut worst: Vec<&Flag> = check.flags.iter().collect();
    worst.sort_by(|a, b| b.severity().total_cmp(&a.severity()));
    let describe = |f: &Flag| match f.reason {
        Reason::Unreachable => format!("no route to {} school(s)", f.unreachable_schools),
        Reason::DetourAssigned => "detour to its own school".to_string(),
        Reason::DetourNearest => "detour to the school nearest in a straight line".to_string(),
        Reason::FarSnap => format!("placed {} m away on the network", f.snap_m.unwrap_or(0)),
    };
    let m = |v: Option<u32>| v.map(|x| format!("{x} m")).unwrap_or_else(|| "–".into());
    let rows = worst
        .iter()
        .take(PAGE_ROWS)
        .map(|f| {
            vec![
                f.block_id.clone(),
                describe(f),
                f.school.map(|s| schools[s].id.clone()).unwrap_or_else(|| "–".into()),
                m(f.walk_m),
                m(f.straight_m),
                f.ratio().map(|r| format!("{r:.1}")).unwrap_or_else(|| "–".into()),
            ]
        })
        .collect();
    RoutingSection {
        rule: s.rule.clone(),
        counts,
        hints: s.hints.clone(),
        columns: ["Block", "Finding", "School", "Walk", "Straight line", "Ratio"]
            .map(String::from)
            .to_vec(),
        rows,
        more: check.flags.len().saturating_sub(PAGE_ROWS),
        file: (s.unit == "block").then(|| CSV_FILE.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(id: &str, lat: f64, lon: f64) -> School {
        School {
            id: id.into(),
            name: id.into(),
            lat,
            lon,
            capacity: 10,
            class_size: 22,
            max_classes: None,
            min_pupils: 0,
            min_classes: None,
            extra: vec![],
        }
    }

    #[test]
    fn the_rule_spares_ordinary_detours_and_catches_the_dangling_footway() {
        assert!(!is_detour(1_400, 150.0), "150 m apart, 1.4 km around a block of houses");
        assert!(!is_detour(3_000, 700.0), "a river crossing 1 km off");
        assert!(is_detour(2_700, 150.0), "150 m apart, 2.7 km on foot");
        assert!(!is_detour(UNREACHABLE, 10.0), "no route is its own finding");
    }

    #[test]
    fn nearest_detour_is_another_school_and_unreachable_counts_schools() {
        // A at 150 m (2.7 km on foot), B at ~1.1 km (1.5 km on foot), C unreachable.
        let schools =
            vec![school("A", 52.1014, 11.6), school("B", 52.11, 11.6), school("C", 52.2, 11.6)];
        let f = findings(
            &schools,
            &[(0, 2_700), (1, 1_500), (2, UNREACHABLE)],
            (52.1, 11.6),
            Some(1),
            None,
        );
        let reasons: Vec<Reason> = f.iter().map(|x| x.reason).collect();
        assert_eq!(reasons, vec![Reason::Unreachable, Reason::DetourNearest]);
        assert_eq!((f[0].unreachable_schools, f[1].school), (1, Some(0)));
        // Assigned to A itself: the detour is to its own school, reported once.
        let f = findings(
            &schools,
            &[(0, 2_700), (1, 1_500), (2, 9_000)],
            (52.1, 11.6),
            Some(0),
            Some(200),
        );
        let reasons: Vec<Reason> = f.iter().map(|x| x.reason).collect();
        assert_eq!(reasons, vec![Reason::DetourAssigned, Reason::FarSnap]);
        assert_eq!((f[0].straight_m, f[1].snap_m), (Some(156), Some(200)));
    }

    #[test]
    fn flagged_locations_along_one_edge_give_the_clipped_hint() {
        // A 40 x 40 grid of points 100 m apart; the westmost three columns flagged.
        let mut locs = Vec::new();
        for i in 0..40 {
            for j in 0..40 {
                let (la, lo) = (52.0 + i as f64 * 0.0009, 11.0 + j as f64 * 0.00146);
                locs.push(((la, lo), j < 3));
            }
        }
        let h = hints(&locs, "blocks");
        assert!(h.iter().any(|m| m.contains("clipped") && m.contains("west")), "{h:?}");
        // Scattered flags: no clipped hint.
        let scattered: Vec<_> =
            locs.iter().enumerate().map(|(k, (l, _))| (*l, k % 37 == 0)).collect();
        assert!(!hints(&scattered, "blocks").iter().any(|m| m.contains("clipped")));
    }
}
