//! The certificate of optimality, computed from a plan alone, with no solver.
//!
//! Residual graph on the schools plus a super node Z: an arc s -> t costs the cheapest move of
//! one movable pupil from s to t, `min over p at s of d[p][t] - d[p][s]`; Z -> s exists when s
//! is above its minimum (it can give a pupil away), s -> Z when s has a free seat (it can take
//! one). Every improving change of a feasible plan decomposes into cycles of this graph, so no
//! negative cycle (Bellman–Ford) proves the plan optimal. The shortest-path distances `pi` give
//! every school a price `u[s] = pi[Z] - pi[s]` with which every pupil sits at a school
//! minimising `d[p][s] + u[s]`: positive prices only at full schools, negative only at schools
//! held at their minimum. Those prices are an LP dual solution, which [`verify_prices`] checks
//! directly (weak duality), so a certificate file can be verified on its own as well.

use super::Problem;
use serde::{Deserialize, Serialize};

/// A proof of optimality: school prices (meters) in school order, and the objective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Total cost of the certified assignment in meters (the problem's costs, penalties
    /// included when the problem carries them).
    pub objective: u64,
    /// Price of every school in meters (index into the problem's schools).
    pub prices: Vec<i64>,
}

/// Something wrong with a plan, in index space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The assignment does not have one school per unit.
    WrongLength {
        /// Units in the problem.
        expected: usize,
        /// Entries in the assignment.
        got: usize,
    },
    /// A unit is assigned a school index that does not exist.
    UnknownSchool {
        /// The unit (index into the problem's units).
        unit: usize,
        /// The out-of-range school index it was given.
        school: u32,
    },
    /// A unit is at a school it may not attend (no route, or beyond the maximum walk).
    NotAllowed {
        /// The unit (index into the problem's units).
        unit: usize,
        /// Its school (index into the problem's schools).
        school: usize,
    },
    /// A unit with a fixed school is at another school.
    FixedMoved {
        /// The unit (index into the problem's units).
        unit: usize,
        /// The school it must attend (index into the problem's schools).
        fixed: usize,
        /// The school it was given instead.
        school: usize,
    },
    /// A school has more pupils than seats.
    OverCapacity {
        /// The school (index into the problem's schools).
        school: usize,
        /// Pupils assigned to it.
        load: u64,
        /// Its seats.
        capacity: u64,
    },
    /// A school has fewer pupils than its minimum.
    UnderMinimum {
        /// The school (index into the problem's schools).
        school: usize,
        /// Pupils assigned to it.
        load: u64,
        /// The pupils it must at least get.
        minimum: u64,
    },
    /// Moving `moves` (unit, from, to) in turn keeps the plan feasible and saves `saving` meters.
    Improvable {
        /// The moves of the improving cycle: (unit, from school, to school), all indices.
        moves: Vec<(usize, usize, usize)>,
        /// Meters the moves save in total.
        saving: u64,
    },
    /// A price that does not prove optimality.
    PriceViolated {
        /// The unit (index into the problem's units).
        unit: usize,
        /// Its school (index into the problem's schools).
        school: usize,
        /// A school where walk plus price is lower.
        better: usize,
        /// By how many meters walk plus price is lower there.
        by: i64,
    },
    /// A positive price at a school with free seats, or a negative one at a school above its
    /// minimum: complementary slackness fails.
    PriceAtSlackSchool {
        /// The school (index into the problem's schools).
        school: usize,
        /// Its price in meters.
        price: i64,
    },
    /// The certificate has not one price per school.
    WrongPriceCount {
        /// Schools in the problem.
        expected: usize,
        /// Prices given.
        got: usize,
    },
    /// The problem has weighted units (whole blocks): prices certify pupil-level plans only.
    NotUnitWeights,
}

/// Feasibility of an assignment: lengths, allowed pairs, fixed units, capacities, minimums.
pub fn check_feasible(p: &Problem, assign: &[u32]) -> Vec<Finding> {
    let mut out = Vec::new();
    if assign.len() != p.n_units() {
        out.push(Finding::WrongLength { expected: p.n_units(), got: assign.len() });
        return out;
    }
    let mut load = vec![0u64; p.n_schools];
    for (u, &s) in assign.iter().enumerate() {
        if s as usize >= p.n_schools {
            out.push(Finding::UnknownSchool { unit: u, school: s });
            continue;
        }
        let su = s as usize;
        if let Some(f) = p.fixed[u] {
            if f != s {
                out.push(Finding::FixedMoved { unit: u, fixed: f as usize, school: su });
            }
        }
        if p.cost(u, su).is_none() {
            out.push(Finding::NotAllowed { unit: u, school: su });
        }
        load[su] += p.weight[u] as u64;
    }
    for s in 0..p.n_schools {
        if load[s] > p.cap[s] as u64 {
            out.push(Finding::OverCapacity { school: s, load: load[s], capacity: p.cap[s] as u64 });
        }
        if load[s] < p.min[s] as u64 {
            out.push(Finding::UnderMinimum { school: s, load: load[s], minimum: p.min[s] as u64 });
        }
    }
    out
}

/// Prove a feasible pupil-level assignment optimal and compute its prices, or say why not.
pub fn certify(p: &Problem, assign: &[u32]) -> Result<Certificate, Vec<Finding>> {
    if !p.unit_weights() {
        return Err(vec![Finding::NotUnitWeights]);
    }
    let findings = check_feasible(p, assign);
    if !findings.is_empty() {
        return Err(findings);
    }
    let n_s = p.n_schools;
    let z = n_s;
    let n = n_s + 1;
    const NONE: i64 = i64::MAX;
    // best[s][t] = cheapest move of one movable pupil from s to t, and who.
    let mut best = vec![NONE; n_s * n_s];
    let mut who = vec![usize::MAX; n_s * n_s];
    for (u, &s) in assign.iter().enumerate() {
        if p.fixed[u].is_some() {
            continue;
        }
        let s = s as usize;
        let row = p.row(u);
        let here = row[s] as i64;
        for (t, &c) in row.iter().enumerate() {
            if t == s || c == crate::routing::UNREACHABLE {
                continue;
            }
            let d = c as i64 - here;
            let k = s * n_s + t;
            if d < best[k] {
                best[k] = d;
                who[k] = u;
            }
        }
    }
    let load = p.loads(assign);
    // Arc list (from, to, cost).
    let mut arcs: Vec<(usize, usize, i64)> = Vec::new();
    for s in 0..n_s {
        for t in 0..n_s {
            if best[s * n_s + t] != NONE {
                arcs.push((s, t, best[s * n_s + t]));
            }
        }
        if load[s] > p.min[s] as u64 {
            arcs.push((z, s, 0));
        }
        if load[s] < p.cap[s] as u64 {
            arcs.push((s, z, 0));
        }
    }
    // Bellman–Ford from a virtual source linked to every node at cost 0.
    let mut dist = vec![0i64; n];
    let mut pred = vec![usize::MAX; n];
    let mut last_relaxed = None;
    for _ in 0..n {
        last_relaxed = None;
        for &(a, b, c) in &arcs {
            if dist[a] + c < dist[b] {
                dist[b] = dist[a] + c;
                pred[b] = a;
                last_relaxed = Some(b);
            }
        }
        if last_relaxed.is_none() {
            break;
        }
    }
    if let Some(mut v) = last_relaxed {
        // Walk back n steps to land on the cycle, then collect it.
        for _ in 0..n {
            v = pred[v];
        }
        let start = v;
        let mut cycle = vec![start];
        let mut w = pred[start];
        while w != start {
            cycle.push(w);
            w = pred[w];
        }
        cycle.reverse(); // now in arc direction: cycle[i] -> cycle[i+1]
        let mut moves = Vec::new();
        let mut total = 0i64;
        for i in 0..cycle.len() {
            let (a, b) = (cycle[i], cycle[(i + 1) % cycle.len()]);
            if a != z && b != z {
                moves.push((who[a * n_s + b], a, b));
                total += best[a * n_s + b];
            }
        }
        return Err(vec![Finding::Improvable { moves, saving: (-total) as u64 }]);
    }
    let prices = (0..n_s).map(|s| dist[z] - dist[s]).collect();
    let objective = p.objective(assign).expect("feasible plans use allowed pairs");
    Ok(Certificate { objective, prices })
}

/// Check given prices against an assignment: every free pupil at a school minimising
/// `d + price`, positive prices only at full schools, negative only at schools at their
/// minimum. Together with feasibility this proves optimality by LP duality.
pub fn verify_prices(p: &Problem, assign: &[u32], prices: &[i64]) -> Vec<Finding> {
    let mut out = Vec::new();
    if prices.len() != p.n_schools {
        return vec![Finding::WrongPriceCount { expected: p.n_schools, got: prices.len() }];
    }
    if !p.unit_weights() {
        return vec![Finding::NotUnitWeights];
    }
    for (u, &s) in assign.iter().enumerate() {
        let s = s as usize;
        if p.fixed[u].is_some() || s >= p.n_schools {
            continue;
        }
        let Some(here) = p.cost(u, s) else { continue };
        let mine = here as i64 + prices[s];
        let (mut best_t, mut best_v) = (s, mine);
        for t in 0..p.n_schools {
            if let Some(c) = p.cost(u, t) {
                let v = c as i64 + prices[t];
                if v < best_v {
                    best_v = v;
                    best_t = t;
                }
            }
        }
        if best_v < mine {
            out.push(Finding::PriceViolated {
                unit: u,
                school: s,
                better: best_t,
                by: mine - best_v,
            });
        }
    }
    let load = p.loads(assign);
    for s in 0..p.n_schools {
        let full = load[s] >= p.cap[s] as u64;
        let at_min = load[s] <= p.min[s] as u64;
        if (prices[s] > 0 && !full) || (prices[s] < 0 && !at_min) {
            out.push(Finding::PriceAtSlackSchool { school: s, price: prices[s] });
        }
    }
    out
}
