//! Seats passed along chains of districts: brings the over-full districts of a contiguous plan
//! within their seats when the seats to spare lie far away, across districts that are full.
//!
//! A chain is the shortest path of touching districts from an over-full district `q0` to the
//! nearest one with seats to spare, `qk`. From the far end back, each district `q(i)` passes at
//! least `x` pupils to `q(i+1)`, which has room for them since the step before; at the end
//! `q0` passes `x` and is `x` pupils less over. So the spare seats travel district by district
//! to where they are needed, as in the pupil-level optimum, where every full school on the way
//! shifts a few pupils to the next.
//!
//! A pass ([`pass`]) grows the receiving district into the giving one, a unit at a time, the
//! least walk added per pupil first, while the giving district stays one piece around its root
//! and the receiving one has room: any connected border piece can go, not only paths. Where
//! no pass of `x` exists, fewer are tried. Every step keeps the plan contiguous and puts no
//! district over its seats that was not; the walk is then lowered by the local search's moves
//! and swaps.
//!
//! This module is the solve layer's: plain vectors in, no blocks and no files.

use super::contiguity::{ContiguousProblem, Scratch};
use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

/// Which districts touch: `touch[s]` the schools whose districts border `s`'s.
fn district_graph(p: &ContiguousProblem, a: &[u32]) -> Vec<BTreeSet<usize>> {
    let mut touch = vec![BTreeSet::new(); p.n_schools];
    for (u, list) in p.neighbours.iter().enumerate() {
        let s = a[u] as usize;
        for &v in list {
            let t = a[v] as usize;
            if t != s {
                touch[s].insert(t);
            }
        }
    }
    touch
}

/// Moves at least `at_least` pupils of district `from` to its neighbour `to`, no more than
/// `room`, unit by unit (module docs). On failure nothing changes and false comes back.
pub(super) fn pass(
    p: &ContiguousProblem,
    a: &mut [u32],
    from: usize,
    to: usize,
    at_least: u64,
    room: u64,
    scratch: &mut Scratch,
) -> bool {
    let mut size = a.iter().filter(|&&s| s as usize == from).count();
    let mut moved: Vec<usize> = Vec::new();
    let mut weight = 0u64;
    // Units of `from` that touch `to`, kept as a set and extended as `to` grows.
    let mut frontier: BTreeSet<usize> = (0..p.n_units())
        .filter(|&u| a[u] as usize == from && p.neighbours[u].iter().any(|&v| a[v] as usize == to))
        .collect();
    let is_root = |u: usize| p.root[from] == u;
    while weight < at_least {
        let mut options: Vec<(bool, f64, usize)> = frontier
            .iter()
            .copied()
            .filter(|&u| {
                !is_root(u)
                    && a[u] as usize == from
                    && weight + p.weight[u] as u64 <= room
                    && p.cost(u, to).is_some()
            })
            .map(|u| {
                let delta = p.cost(u, to).unwrap() as f64 - p.cost(u, from).unwrap_or(0) as f64;
                let overshoot = weight + p.weight[u] as u64 > at_least;
                (overshoot, delta / p.weight[u].max(1) as f64, u)
            })
            .collect();
        options.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)).then(x.2.cmp(&y.2)));
        let pick = options
            .iter()
            .map(|&(_, _, u)| u)
            .find(|&u| scratch.connected(p, a, from, size, Some(u), None));
        let Some(u) = pick else {
            for &u in &moved {
                a[u] = from as u32;
            }
            return false;
        };
        a[u] = to as u32;
        size -= 1;
        weight += p.weight[u] as u64;
        moved.push(u);
        frontier.remove(&u);
        frontier.extend(p.neighbours[u].iter().copied().filter(|&v| a[v] as usize == from));
    }
    true
}

/// Passes seats along chains (module docs) until no district is over its seats, no chain
/// lowers an overflow, or `deadline` passes. `a` must be contiguous
/// ([`ContiguousProblem::is_contiguous`]); it stays contiguous, no district goes over its
/// seats that was within them, and no over-full district gets fuller.
pub fn restore_capacity(p: &ContiguousProblem, a: &mut [u32], deadline: Instant) {
    let ns = p.n_schools;
    let mut scratch = Scratch::new(p.n_units());
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    // Borders no pass crossed: chains go around them.
    let mut banned: BTreeSet<(usize, usize)> = BTreeSet::new();
    while Instant::now() < deadline {
        let load = p.loads(a);
        let Some(q0) = (0..ns)
            .filter(|&s| over_of(p, &load, s) > 0 && !failed.contains(&s))
            .max_by_key(|&s| (over_of(p, &load, s), std::cmp::Reverse(s)))
        else {
            return;
        };
        let mut x = over_of(p, &load, q0);
        let mut stuck = None;
        let mut done = false;
        while x > 0 && !done {
            let r = shed(p, a, q0, x, &banned, &[], 0, &mut scratch);
            match r {
                Ok(()) => done = true,
                Err(edge) => stuck = stuck.or(edge),
            }
            x /= 2;
        }
        if !done {
            match stuck {
                Some(edge) if banned.insert(edge) => {}
                _ => {
                    failed.insert(q0);
                }
            }
        }
    }
}

/// Chains end this many districts past a last district that could not take all.
const MAX_EXTENSIONS: usize = 3;

/// The shortest chain of touching districts from `q` to the nearest with seats to spare,
/// around `banned` borders and the districts in `avoid`.
fn chain_from(
    p: &ContiguousProblem,
    a: &[u32],
    q: usize,
    banned: &BTreeSet<(usize, usize)>,
    avoid: &[usize],
) -> Option<Vec<usize>> {
    let ns = p.n_schools;
    let load = p.loads(a);
    let touch = district_graph(p, a);
    let mut parent = vec![usize::MAX; ns];
    let mut seen = vec![false; ns];
    avoid.iter().for_each(|&s| seen[s] = true);
    seen[q] = true;
    let mut queue = VecDeque::from([q]);
    while let Some(s) = queue.pop_front() {
        if s != q && load[s] < p.cap[s] as u64 {
            let mut chain = vec![s];
            while chain[chain.len() - 1] != q {
                chain.push(parent[chain[chain.len() - 1]]);
            }
            chain.reverse();
            return Some(chain);
        }
        for &t in &touch[s] {
            if !seen[t] && !banned.contains(&(s, t)) {
                seen[t] = true;
                parent[t] = s;
                queue.push_back(t);
            }
        }
    }
    None
}

/// Moves `x` pupils out of district `q` onto seats to spare along a chain: each district on it
/// passes what it received to the next; the last takes what fits, and if that is not all, sheds
/// the rest the same way (at most [`MAX_EXTENSIONS`] times). All or nothing: an error (the
/// border where it stopped, if any) leaves `a` as it was.
#[allow(clippy::too_many_arguments)]
fn shed(
    p: &ContiguousProblem,
    a: &mut [u32],
    q: usize,
    x: u64,
    banned: &BTreeSet<(usize, usize)>,
    avoid: &[usize],
    depth: usize,
    scratch: &mut Scratch,
) -> Result<(), Option<(usize, usize)>> {
    let before = a.to_vec();
    let entry = p.loads(a);
    let Some(chain) = chain_from(p, a, q, banned, avoid) else { return Err(None) };
    let last = chain[chain.len() - 1];
    let fail = |a: &mut [u32], edge| {
        a.copy_from_slice(&before);
        Err(Some(edge))
    };
    for i in 0..chain.len() - 1 {
        let (from, to) = (chain[i], chain[i + 1]);
        let load = p.loads(a);
        let need = if i == 0 { x } else { over_of(p, &load, from) - over_of(p, &entry, from) };
        if need == 0 {
            break;
        }
        let room = if to == last { (p.cap[to] as u64).saturating_sub(load[to]) } else { u64::MAX };
        if pass(p, a, from, to, need, room, scratch) {
            continue;
        }
        if to != last || depth >= MAX_EXTENSIONS || !pass(p, a, from, to, need, u64::MAX, scratch) {
            return fail(a, (from, to));
        }
        // The last district took more than it had room for: it sheds the rest.
        let extra = over_of(p, &p.loads(a), last) - over_of(p, &entry, last);
        let mut around: Vec<usize> = avoid.to_vec();
        around.extend(&chain[..chain.len() - 1]);
        if let Err(e) = shed(p, a, last, extra, banned, &around, depth + 1, scratch) {
            a.copy_from_slice(&before);
            return Err(e.or(Some((from, to))));
        }
    }
    let load = p.loads(a);
    let worse = (0..p.n_schools).find(|&s| {
        over_of(p, &load, s) > over_of(p, &entry, s).saturating_sub((s == q) as u64 * x)
    });
    match worse {
        Some(s) => {
            let i = chain.iter().position(|&t| t == s).unwrap_or(1).max(1);
            fail(a, (chain[i - 1], chain[i.min(chain.len() - 1)]))
        }
        None => Ok(()),
    }
}

fn over_of(p: &ContiguousProblem, load: &[u64], s: usize) -> u64 {
    load[s].saturating_sub(p.cap[s] as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::UNREACHABLE;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A `w` x `h` grid town, schools at random cells, districts grown breadth-first from the
    /// schools (contiguous), pupils crowded in one corner so that some districts are over their
    /// seats while others far away have room.
    fn town(rng: &mut ChaCha8Rng) -> (ContiguousProblem, Vec<u32>) {
        let (w, h) = (rng.random_range(6..=10usize), rng.random_range(6..=10usize));
        let n = w * h;
        let neighbours: Vec<Vec<usize>> = (0..n)
            .map(|u| {
                let (x, y) = (u % w, u / w);
                let mut v = Vec::new();
                if y > 0 {
                    v.push(u - w);
                }
                if x > 0 {
                    v.push(u - 1);
                }
                if x + 1 < w {
                    v.push(u + 1);
                }
                if y + 1 < h {
                    v.push(u + w);
                }
                v
            })
            .collect();
        let ns = rng.random_range(3..=7usize);
        let mut cells: Vec<usize> = (0..n).collect();
        let root: Vec<usize> =
            (0..ns).map(|_| cells.swap_remove(rng.random_range(0..cells.len()))).collect();
        let weight: Vec<u32> = (0..n)
            .map(|u| {
                let (x, y) = (u % w, u / w);
                if x + y < (w + h) / 2 {
                    rng.random_range(1..=4)
                } else {
                    rng.random_range(0..=1)
                }
            })
            .collect();
        let pos = |u: usize| ((u % w) as i64, (u / w) as i64);
        let mut cost = Vec::with_capacity(n * ns);
        for u in 0..n {
            for &r in &root {
                let ((a, b), (c, d)) = (pos(u), pos(r));
                let dist = ((a - c).abs() + (b - d).abs()) as u32 * 100;
                cost.push(dist * weight[u].max(1));
            }
        }
        let total: u32 = weight.iter().sum();
        let cap = (0..ns).map(|_| total / ns as u32 + rng.random_range(1..=4)).collect();
        let p =
            ContiguousProblem { n_schools: ns, cap, cost, weight, root, neighbours, classes: None };
        // Districts grown breadth-first from the roots, in turn.
        let mut a = vec![u32::MAX; n];
        let mut queues: Vec<VecDeque<usize>> =
            p.root.iter().map(|&r| VecDeque::from([r])).collect();
        for (s, &r) in p.root.iter().enumerate() {
            a[r] = s as u32;
        }
        while queues.iter().any(|q| !q.is_empty()) {
            for (s, q) in queues.iter_mut().enumerate() {
                if let Some(u) = q.pop_front() {
                    for &v in &p.neighbours[u] {
                        if a[v] == u32::MAX {
                            a[v] = s as u32;
                            q.push_back(v);
                        }
                    }
                }
            }
        }
        (p, a)
    }

    #[test]
    fn chains_keep_districts_whole_and_never_fill_a_district_more() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut over_before, mut fixed) = (0, 0);
        for case in 0..80 {
            let (p, start) = town(&mut rng);
            assert!(p.cost.iter().all(|&c| c != UNREACHABLE));
            assert!(p.is_contiguous(&start), "case {case}");
            if p.is_feasible(&start) {
                continue;
            }
            over_before += 1;
            let mut a = start.clone();
            let far = Instant::now() + std::time::Duration::from_secs(60);
            restore_capacity(&p, &mut a, far);
            assert!(p.is_contiguous(&a), "case {case}: {start:?} -> {a:?}");
            let (l0, l1) = (p.loads(&start), p.loads(&a));
            for s in 0..p.n_schools {
                let (o0, o1) = (over_of(&p, &l0, s), over_of(&p, &l1, s));
                assert!(o1 <= o0, "case {case}: school {s} over by {o1}, was {o0}");
            }
            fixed += p.is_feasible(&a) as usize;
        }
        assert!(over_before >= 20, "{over_before}");
        assert!(fixed > 0, "no over-full start was brought within the seats");
        eprintln!("{fixed} of {over_before} over-full starts brought within the seats");
    }
}
