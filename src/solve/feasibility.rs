//! Feasibility, decided exactly before any solver runs, with reasons a person can act on.
//!
//! The simple counts come first (seats, minimums, fixed pupils, pupils with no allowed school).
//! Then two max-flow problems decide the rest exactly: (a) can every pupil get a seat at an
//! allowed school, and (b) can every school's minimum be met from pupils allowed there. By the
//! Mendelsohn–Dulmage theorem (seats as the vertices of one side, a school's first `min` seats
//! marked), an assignment doing both exists iff each exists alone. A failed max flow yields a
//! minimum cut: a group of pupils whose allowed schools lack seats (Hall's condition), or a
//! group of schools whose reachable pupils are too few.

use super::Problem;
use crate::routing::UNREACHABLE;
use std::collections::HashMap;

/// One reason an instance is infeasible, in index space (rendered with ids by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    /// Units with no allowed school at all.
    NoAllowedSchool {
        /// The units (index into the problem's units), ascending.
        units: Vec<usize>,
    },
    /// Units whose fixed school has no route (or is not allowed).
    FixedUnreachable {
        /// The units (index into the problem's units), ascending.
        units: Vec<usize>,
    },
    /// More fixed pupils at a school than it has seats.
    FixedOverCapacity {
        /// The school (index into the problem's schools).
        school: usize,
        /// Pupils fixed to it.
        fixed: u64,
        /// Its seats.
        capacity: u64,
    },
    /// Fewer seats in total than pupils.
    Seats {
        /// Pupils in total.
        pupils: u64,
        /// Seats in total, over all schools.
        seats: u64,
    },
    /// Minimums add up to more than the pupils.
    Minimums {
        /// Pupils in total.
        pupils: u64,
        /// The schools' minimums added up, in pupils.
        minimums: u64,
    },
    /// These units can only reach these schools, whose free seats are too few.
    ReachableSeats {
        /// The units of the group (index into the problem's units; fixed units not included).
        units: Vec<usize>,
        /// The schools those units may go to (index into the problem's schools).
        schools: Vec<usize>,
        /// Pupils in those units.
        pupils: u64,
        /// Free seats at those schools (seats less the fixed pupils).
        seats: u64,
    },
    /// These schools need more pupils to reach their minimums than are allowed to go there.
    ReachableMinimums {
        /// The schools short of pupils (index into the problem's schools).
        schools: Vec<usize>,
        /// The free units allowed at any of them (index into the problem's units).
        units: Vec<usize>,
        /// Pupils those schools still need beyond their fixed pupils.
        needed: u64,
        /// Pupils in `units`, the most that could go there.
        available: u64,
    },
    /// Feasible with pupils placed one by one, but not with whole blocks or whole classes
    /// (found by the MIP solver; the checks above treat units as divisible).
    WholeUnits,
    /// Feasible with blocks placed freely, but no plan gives every school one connected
    /// district around its own block within its capacity (found by the contiguity solver).
    Contiguity,
}

impl Diagnosis {
    /// A stable snake_case name of the reason: the `kind` of the [`crate::error::Infeasibility`]
    /// it renders to.
    pub fn kind(&self) -> &'static str {
        match self {
            Diagnosis::NoAllowedSchool { .. } => "no_allowed_school",
            Diagnosis::FixedUnreachable { .. } => "fixed_unreachable",
            Diagnosis::FixedOverCapacity { .. } => "fixed_over_capacity",
            Diagnosis::Seats { .. } => "seats",
            Diagnosis::Minimums { .. } => "minimums",
            Diagnosis::ReachableSeats { .. } => "reachable_seats",
            Diagnosis::ReachableMinimums { .. } => "reachable_minimums",
            Diagnosis::WholeUnits => "whole_units",
            Diagnosis::Contiguity => "contiguity",
        }
    }
}

/// All reasons the problem is infeasible; empty when a feasible assignment exists.
pub fn diagnose(p: &Problem) -> Vec<Diagnosis> {
    let units = Units {
        n_schools: p.n_schools,
        cap: &p.cap,
        min: &p.min,
        weight: &p.weight,
        fixed: &p.fixed,
    };
    diagnose_allowed(&units, |u, out| {
        out.extend(
            p.row(u).iter().enumerate().filter(|&(_, &c)| c != UNREACHABLE).map(|(s, _)| s as u32),
        )
    })
}

/// A problem's units and schools without their costs: what feasibility depends on besides
/// which pairs are allowed.
#[derive(Debug, Clone, Copy)]
pub struct Units<'a> {
    /// Number of schools.
    pub n_schools: usize,
    /// Seats per school.
    pub cap: &'a [u32],
    /// Pupils each school must at least get.
    pub min: &'a [u32],
    /// Pupils per unit.
    pub weight: &'a [u32],
    /// A school the unit must attend.
    pub fixed: &'a [Option<u32>],
}

/// [`diagnose`] with the allowed pairs given by `allowed(u, out)`: it appends unit `u`'s
/// allowed schools to `out`, ascending — a problem whose pairs are held sparse (each pupil's
/// nearest schools) is diagnosed without a dense row.
pub fn diagnose_allowed(p: &Units, allowed: impl Fn(usize, &mut Vec<u32>)) -> Vec<Diagnosis> {
    let n_s = p.n_schools;
    let n_units = p.weight.len();
    let total_weight: u64 = p.weight.iter().map(|&w| w as u64).sum();
    let mut row = Vec::new();
    let mut out = Vec::new();
    let mut fixed_load = vec![0u64; n_s];
    let mut no_school = Vec::new();
    let mut fixed_bad = Vec::new();
    for u in 0..n_units {
        row.clear();
        allowed(u, &mut row);
        match p.fixed[u] {
            Some(s) => {
                if row.binary_search(&s).is_err() {
                    fixed_bad.push(u);
                }
                fixed_load[s as usize] += p.weight[u] as u64;
            }
            None => {
                if row.is_empty() {
                    no_school.push(u);
                }
            }
        }
    }
    if !no_school.is_empty() {
        out.push(Diagnosis::NoAllowedSchool { units: no_school });
    }
    if !fixed_bad.is_empty() {
        out.push(Diagnosis::FixedUnreachable { units: fixed_bad });
    }
    for s in 0..n_s {
        if fixed_load[s] > p.cap[s] as u64 {
            out.push(Diagnosis::FixedOverCapacity {
                school: s,
                fixed: fixed_load[s],
                capacity: p.cap[s] as u64,
            });
        }
    }
    let pupils = total_weight;
    let seats: u64 = p.cap.iter().map(|&c| c as u64).sum();
    let minimums: u64 = p.min.iter().map(|&c| c as u64).sum();
    if seats < pupils {
        out.push(Diagnosis::Seats { pupils, seats });
    }
    if minimums > pupils {
        out.push(Diagnosis::Minimums { pupils, minimums });
    }
    if !out.is_empty() {
        return out;
    }
    // Exact checks by max flow over groups of free units with the same allowed schools.
    let mut groups: HashMap<Vec<u32>, (u64, Vec<usize>)> = HashMap::new();
    for u in 0..n_units {
        if p.fixed[u].is_some() {
            continue;
        }
        row.clear();
        allowed(u, &mut row);
        let e = match groups.get_mut(row.as_slice()) {
            Some(e) => e,
            None => groups.entry(row.clone()).or_insert((0, Vec::new())),
        };
        e.0 += p.weight[u] as u64;
        e.1.push(u);
    }
    // (allowed schools ascending, (pupils, units)) per group.
    type Group = (Vec<u32>, (u64, Vec<usize>));
    let mut groups: Vec<Group> = groups.into_iter().collect();
    groups.sort_by_key(|g| g.1 .1[0]);
    let allowed = |key: &[u32], s: usize| key.binary_search(&(s as u32)).is_ok();
    let n_g = groups.len();
    // Nodes: source, groups, schools, sink.
    let src = 0;
    let sink = 1 + n_g + n_s;
    let school_node = |s: usize| 1 + n_g + s;

    // (a) Seats: source -> group (pupils), group -> school (inf), school -> sink (free seats).
    let mut f = MaxFlow::new(sink + 1);
    for (g, (_, (count, _))) in groups.iter().enumerate() {
        f.add_edge(src, 1 + g, *count);
    }
    for (g, (key, _)) in groups.iter().enumerate() {
        for &s in key {
            f.add_edge(1 + g, school_node(s as usize), u64::MAX / 4);
        }
    }
    for s in 0..n_s {
        f.add_edge(school_node(s), sink, p.cap[s] as u64 - fixed_load[s]);
    }
    let free: u64 = groups.iter().map(|g| g.1 .0).sum();
    if f.run(src, sink) < free {
        let side = f.source_side(src);
        let mut units = Vec::new();
        let mut pupils = 0;
        for (g, (_, (count, us))) in groups.iter().enumerate() {
            if side[1 + g] {
                units.extend(us);
                pupils += count;
            }
        }
        units.sort_unstable();
        let schools: Vec<usize> = (0..n_s).filter(|&s| side[school_node(s)]).collect();
        let seats = schools.iter().map(|&s| p.cap[s] as u64 - fixed_load[s]).sum();
        out.push(Diagnosis::ReachableSeats { units, schools, pupils, seats });
    }

    // (b) Minimums: school deficits fed from groups. source -> group (pupils),
    // group -> school (inf), school -> sink (deficit).
    let deficit: Vec<u64> =
        (0..n_s).map(|s| (p.min[s] as u64).saturating_sub(fixed_load[s])).collect();
    let needed: u64 = deficit.iter().sum();
    if needed > 0 {
        let mut f = MaxFlow::new(sink + 1);
        for (g, (_, (count, _))) in groups.iter().enumerate() {
            f.add_edge(src, 1 + g, *count);
        }
        for (g, (key, _)) in groups.iter().enumerate() {
            for s in key.iter().map(|&s| s as usize).filter(|&s| deficit[s] > 0) {
                f.add_edge(1 + g, school_node(s), u64::MAX / 4);
            }
        }
        for s in 0..n_s {
            if deficit[s] > 0 {
                f.add_edge(school_node(s), sink, deficit[s]);
            }
        }
        if f.run(src, sink) < needed {
            // Schools on the sink side of the cut whose every feeding group is on the sink side:
            // they need more pupils than the groups allowed there hold.
            let side = f.source_side(src);
            let schools: Vec<usize> =
                (0..n_s).filter(|&s| deficit[s] > 0 && !side[school_node(s)]).collect();
            let mut units = Vec::new();
            let mut available = 0;
            for (g, (key, (count, us))) in groups.iter().enumerate() {
                if !side[1 + g] && schools.iter().any(|&s| allowed(key, s)) {
                    units.extend(us);
                    available += count;
                }
            }
            units.sort_unstable();
            let needed = schools.iter().map(|&s| deficit[s]).sum();
            out.push(Diagnosis::ReachableMinimums { schools, units, needed, available });
        }
    }
    out
}

/// Dinic's max flow on a small graph (groups + schools), u64 capacities.
struct MaxFlow {
    head: Vec<Vec<usize>>,
    to: Vec<usize>,
    cap: Vec<u64>,
}

impl MaxFlow {
    fn new(n: usize) -> Self {
        MaxFlow { head: vec![Vec::new(); n], to: Vec::new(), cap: Vec::new() }
    }

    fn add_edge(&mut self, a: usize, b: usize, c: u64) {
        self.head[a].push(self.to.len());
        self.to.push(b);
        self.cap.push(c);
        self.head[b].push(self.to.len());
        self.to.push(a);
        self.cap.push(0);
    }

    fn bfs(&self, s: usize) -> Vec<i64> {
        let mut level = vec![-1i64; self.head.len()];
        level[s] = 0;
        let mut q = std::collections::VecDeque::from([s]);
        while let Some(v) = q.pop_front() {
            for &e in &self.head[v] {
                if self.cap[e] > 0 && level[self.to[e]] < 0 {
                    level[self.to[e]] = level[v] + 1;
                    q.push_back(self.to[e]);
                }
            }
        }
        level
    }

    fn dfs(&mut self, v: usize, t: usize, pushed: u64, level: &[i64], it: &mut [usize]) -> u64 {
        if v == t {
            return pushed;
        }
        while it[v] < self.head[v].len() {
            let e = self.head[v][it[v]];
            let w = self.to[e];
            if self.cap[e] > 0 && level[w] == level[v] + 1 {
                let d = self.dfs(w, t, pushed.min(self.cap[e]), level, it);
                if d > 0 {
                    self.cap[e] -= d;
                    self.cap[e ^ 1] += d;
                    return d;
                }
            }
            it[v] += 1;
        }
        0
    }

    fn run(&mut self, s: usize, t: usize) -> u64 {
        let mut flow = 0;
        loop {
            let level = self.bfs(s);
            if level[t] < 0 {
                return flow;
            }
            let mut it = vec![0; self.head.len()];
            loop {
                let d = self.dfs(s, t, u64::MAX, &level, &mut it);
                if d == 0 {
                    break;
                }
                flow += d;
            }
        }
    }

    /// Nodes reachable from `s` in the residual graph (the source side of a minimum cut).
    fn source_side(&self, s: usize) -> Vec<bool> {
        self.bfs(s).iter().map(|&l| l >= 0).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(cap: &[u32], min: &[u32], cost: &[&[u32]]) -> Problem {
        Problem {
            n_schools: cap.len(),
            cap: cap.to_vec(),
            min: min.to_vec(),
            cost: cost.iter().flat_map(|r| r.iter().copied()).collect(),
            weight: vec![1; cost.len()],
            fixed: vec![None; cost.len()],
        }
    }

    const X: u32 = UNREACHABLE;

    #[test]
    fn hall_violation_names_the_group() {
        // Pupils 0,1,2 may only go to school 0 (2 seats); pupil 3 anywhere.
        let p = problem(&[2, 5], &[0, 0], &[&[1, X], &[1, X], &[1, X], &[1, 1]]);
        let d = diagnose(&p);
        assert_eq!(
            d,
            vec![Diagnosis::ReachableSeats {
                units: vec![0, 1, 2],
                schools: vec![0],
                pupils: 3,
                seats: 2
            }]
        );
    }

    #[test]
    fn unreachable_minimum_names_the_school() {
        // School 1 needs 2 pupils; only pupil 2 may go there.
        let p = problem(&[5, 5], &[0, 2], &[&[1, X], &[1, X], &[1, 1]]);
        let d = diagnose(&p);
        assert_eq!(
            d,
            vec![Diagnosis::ReachableMinimums {
                schools: vec![1],
                units: vec![2],
                needed: 2,
                available: 1
            }]
        );
    }

    #[test]
    fn feasible_is_empty() {
        let p = problem(&[2, 2], &[1, 1], &[&[1, 2], &[2, 1], &[1, 1]]);
        assert!(diagnose(&p).is_empty());
    }
}
