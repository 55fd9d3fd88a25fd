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
    pub objective: u64,
    pub prices: Vec<i64>,
}

/// Something wrong with a plan, in index space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    WrongLength {
        expected: usize,
        got: usize,
    },
    UnknownSchool {
        unit: usize,
        school: u32,
    },
    NotAllowed {
        unit: usize,
        school: usize,
    },
    FixedMoved {
        unit: usize,
        fixed: usize,
        school: usize,
    },
    OverCapacity {
        school: usize,
        load: u64,
        capacity: u64,
    },
    UnderMinimum {
        school: usize,
        load: u64,
        minimum: u64,
    },
    /// Moving `moves` (unit, from, to) in turn keeps the plan feasible and saves `saving` meters.
    Improvable {
        moves: Vec<(usize, usize, usize)>,
        saving: u64,
    },
    /// A price that does not prove optimality.
    PriceViolated {
        unit: usize,
        school: usize,
        better: usize,
        by: i64,
    },
    PriceAtSlackSchool {
        school: usize,
        price: i64,
    },
    WrongPriceCount {
        expected: usize,
        got: usize,
    },
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
