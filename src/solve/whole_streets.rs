//! Streets kept whole in contiguous districts: a price in meters for every district a street
//! falls into beyond its first, added to the walk, lowered by moving street parts between
//! districts.
//!
//! A street is a list of units (the blocks it passes through or whose addresses lie on it).
//! The objective is the districting problem's ([`ContiguousProblem::objective`]) plus
//! `price x sum over streets of (districts it touches - 1)`. A move takes the units of one
//! street in one district (roots stay), with every unit that would lose its way to that
//! district's root without them, to another district the street touches; it is made when the
//! objective falls, the receiving school has room and both districts stay one piece. The best
//! move is made first, and the moves are searched again after each.
//!
//! From a feasible contiguous plan the result is feasible, contiguous, and its objective with
//! the street price never higher. This module is the solve layer's: plain vectors in.

use super::contiguity::{ContiguousProblem, Scratch};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// What [`keep_streets`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreetMoves {
    /// Moves made.
    pub moves: usize,
    /// Streets in two or more districts before.
    pub split_before: usize,
    /// Streets in two or more districts after.
    pub split_after: usize,
}

/// Districts per street: (school, units of the street there), schools ascending.
fn counts(streets: &[Vec<usize>], a: &[u32]) -> Vec<Vec<(u32, u32)>> {
    streets
        .iter()
        .map(|units| {
            let mut by: Vec<(u32, u32)> = Vec::new();
            for &u in units {
                match by.iter_mut().find(|x| x.0 == a[u]) {
                    Some(x) => x.1 += 1,
                    None => by.push((a[u], 1)),
                }
            }
            by.sort_unstable();
            by
        })
        .collect()
}

/// Streets in more than one district.
pub fn split_streets(streets: &[Vec<usize>], a: &[u32]) -> usize {
    counts(streets, a).iter().filter(|c| c.len() > 1).count()
}

/// Lower `objective + price x extra districts of streets` from the contiguous plan `a`
/// (see the module's docs). `streets`: per street its units (each unit at most once per
/// street). Stops at `deadline` or when cancelled with the plan as it is (always contiguous
/// and feasible when `a` was).
pub fn keep_streets(
    p: &ContiguousProblem,
    a: &mut [u32],
    streets: &[Vec<usize>],
    price: u64,
    deadline: Instant,
) -> StreetMoves {
    let n = p.n_units();
    let mut of_unit: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (st, units) in streets.iter().enumerate() {
        for &u in units {
            if u < n && of_unit[u].last() != Some(&st) {
                of_unit[u].push(st);
            }
        }
    }
    let mut is_root = vec![false; n];
    p.root.iter().for_each(|&r| is_root[r] = true);
    let split_before = split_streets(streets, a);
    let mut load = p.loads(a);
    let mut scratch = Scratch::new(n);
    let mut banned: HashSet<(usize, u32, u32)> = HashSet::new();
    let mut moves = 0usize;
    let price = price as i64;
    loop {
        if Instant::now() >= deadline || crate::cancel::cancelled() {
            break;
        }
        let count = counts(streets, a);
        // The best move: (change of the objective, street, from, to, units).
        let mut best: Option<(i64, usize, u32, u32, Vec<usize>)> = None;
        for (st, by) in count.iter().enumerate() {
            if by.len() < 2 {
                continue;
            }
            for &(from, _) in by {
                let part: Vec<usize> =
                    streets[st].iter().copied().filter(|&u| a[u] == from && !is_root[u]).collect();
                if part.is_empty() {
                    continue;
                }
                let units = scratch.cut_off(p, a, from as usize, &part);
                let weight: u64 = units.iter().map(|&u| p.weight[u] as u64).sum();
                for &(to, _) in by {
                    if to == from || banned.contains(&(st, from, to)) {
                        continue;
                    }
                    let t = to as usize;
                    let f = from as usize;
                    // Within the seats and, with whole classes, both schools' classes kept.
                    if p.violation(t, load[t] + weight) > p.violation(t, load[t])
                        || p.violation(f, load[f] - weight) > p.violation(f, load[f])
                        || !units.iter().all(|&u| p.cost(u, t).is_some())
                    {
                        continue;
                    }
                    let walk: i64 = units
                        .iter()
                        .map(|&u| {
                            p.cost(u, t).unwrap() as i64 - p.cost(u, from as usize).unwrap() as i64
                        })
                        .sum();
                    let delta = walk + price * split_change(&count, &of_unit, &units, from, to);
                    if delta < 0
                        && best
                            .as_ref()
                            .is_none_or(|b| (delta, st, from, to) < (b.0, b.1, b.2, b.3))
                    {
                        best = Some((delta, st, from, to, units.clone()));
                    }
                }
            }
        }
        let Some((_, st, from, to, units)) = best else { break };
        for &u in &units {
            a[u] = to;
        }
        let size = |a: &[u32], s: u32| a.iter().filter(|&&x| x == s).count();
        let (sf, stt) = (size(a, from), size(a, to));
        if scratch.connected(p, a, from as usize, sf, None, None)
            && scratch.connected(p, a, to as usize, stt, None, None)
        {
            let w: u64 = units.iter().map(|&u| p.weight[u] as u64).sum();
            load[from as usize] -= w;
            load[to as usize] += w;
            moves += 1;
        } else {
            for &u in &units {
                a[u] = from;
            }
            banned.insert((st, from, to));
        }
    }
    StreetMoves { moves, split_before, split_after: split_streets(streets, a) }
}

/// The change in the number of (street, district) pairs when `units` move from `from` to `to`.
fn split_change(
    count: &[Vec<(u32, u32)>],
    of_unit: &[Vec<usize>],
    units: &[usize],
    from: u32,
    to: u32,
) -> i64 {
    let mut moved: HashMap<usize, u32> = HashMap::new();
    for &u in units {
        for &st in &of_unit[u] {
            *moved.entry(st).or_default() += 1;
        }
    }
    let mut change = 0i64;
    for (st, k) in moved {
        let at = |s: u32| count[st].iter().find(|x| x.0 == s).map_or(0, |x| x.1);
        if at(from) == k {
            change -= 1;
        }
        if at(to) == 0 {
            change += 1;
        }
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::UNREACHABLE;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn grid(w: usize, h: usize) -> Vec<Vec<usize>> {
        (0..w * h)
            .map(|u| {
                let (x, y) = (u % w, u / w);
                let mut v = Vec::new();
                if x > 0 {
                    v.push(u - 1);
                }
                if x + 1 < w {
                    v.push(u + 1);
                }
                if y > 0 {
                    v.push(u - w);
                }
                if y + 1 < h {
                    v.push(u + w);
                }
                v
            })
            .collect()
    }

    /// Objective with the street price, by its definition.
    fn priced(p: &ContiguousProblem, a: &[u32], streets: &[Vec<usize>], price: u64) -> u64 {
        let extra: usize = streets
            .iter()
            .map(|units| {
                units.iter().map(|&u| a[u]).collect::<HashSet<_>>().len().saturating_sub(1)
            })
            .sum();
        p.objective(a).unwrap() + price * extra as u64
    }

    #[test]
    fn a_street_split_by_one_block_is_made_whole_when_the_price_is_above_the_walk() {
        // A 4 x 1 line, schools at both ends; the street runs through all four blocks.
        let p = ContiguousProblem {
            n_schools: 2,
            cap: vec![10, 10],
            cost: vec![0, 30, 10, 20, 20, 10, 30, 0],
            weight: vec![1, 1, 1, 1],
            root: vec![0, 3],
            neighbours: grid(4, 1),
            classes: None,
        };
        let streets = vec![vec![0, 1, 2, 3]];
        let start = vec![0, 0, 1, 1];
        // The street stays split when whole costs more walk than the price...
        let mut a = start.clone();
        let r = keep_streets(
            &p,
            &mut a,
            &[vec![1, 2]],
            5,
            Instant::now() + std::time::Duration::from_secs(5),
        );
        assert_eq!((r.moves, a.clone()), (0, start.clone()));
        // ...and is made whole (roots stay) only as far as the roots allow: a street through
        // both roots stays in two districts.
        let mut a = start.clone();
        let r = keep_streets(
            &p,
            &mut a,
            &streets,
            1000,
            Instant::now() + std::time::Duration::from_secs(5),
        );
        assert_eq!(r.split_after, 1);
        assert!(p.is_contiguous(&a));
        // Blocks 1 and 2 on a street of their own: whole at price 1000.
        let mut a = start.clone();
        let r = keep_streets(
            &p,
            &mut a,
            &[vec![1, 2]],
            1000,
            Instant::now() + std::time::Duration::from_secs(5),
        );
        assert_eq!((r.split_before, r.split_after, r.moves), (1, 0, 1));
        assert!(a == vec![0, 0, 0, 1] || a == vec![0, 1, 1, 1]);
    }

    #[test]
    fn never_worse_never_over_capacity_always_contiguous_on_random_grids() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (mut tried, mut moved) = (0, 0);
        for _ in 0..60 {
            let (w, h) = (rng.random_range(3..7), rng.random_range(3..7));
            let n = w * h;
            let ns = rng.random_range(2..5);
            let mut roots: Vec<usize> = Vec::new();
            while roots.len() < ns {
                let r = rng.random_range(0..n);
                if !roots.contains(&r) {
                    roots.push(r);
                }
            }
            let weight: Vec<u32> = (0..n).map(|_| rng.random_range(0..3)).collect();
            let total: u32 = weight.iter().sum();
            let cap = vec![total / ns as u32 + rng.random_range(2..6); ns];
            let cost: Vec<u32> = (0..n * ns)
                .map(|i| {
                    let (u, s) = (i / ns, i % ns);
                    let (ux, uy, rx, ry) = (u % w, u / w, roots[s] % w, roots[s] / w);
                    let d = (ux.abs_diff(rx) + uy.abs_diff(ry)) as u32;
                    if d > 6 && rng.random_bool(0.2) {
                        UNREACHABLE
                    } else {
                        d * 100 * weight[u].max(1) + rng.random_range(0..50)
                    }
                })
                .collect();
            let p = ContiguousProblem {
                n_schools: ns,
                cap,
                cost,
                weight,
                root: roots,
                neighbours: grid(w, h),
                classes: None,
            };
            if p.validate().is_err() {
                continue;
            }
            let start = crate::solve::contiguity::local_search(&p, &vec![0; n], &[]);
            if !(p.is_contiguous(&start) && p.is_feasible(&start)) {
                continue;
            }
            // Rows and columns as streets.
            let mut streets: Vec<Vec<usize>> =
                (0..h).map(|y| (0..w).map(|x| y * w + x).collect()).collect();
            streets.extend((0..w).map(|x| (0..h).map(|y| y * w + x).collect()));
            for price in [0u64, 50, 400, 5000] {
                let mut a = start.clone();
                let r = keep_streets(
                    &p,
                    &mut a,
                    &streets,
                    price,
                    Instant::now() + std::time::Duration::from_secs(5),
                );
                assert!(p.is_contiguous(&a), "contiguous");
                assert!(p.is_feasible(&a), "within the seats");
                assert!(priced(&p, &a, &streets, price) <= priced(&p, &start, &streets, price));
                assert_eq!(r.split_after, split_streets(&streets, &a));
                assert_eq!(r.split_before, split_streets(&streets, &start));
                if price == 0 {
                    assert!(p.objective(&a) <= p.objective(&start));
                }
                tried += 1;
                moved += r.moves;
            }
        }
        assert!(tried > 50 && moved > 0, "{tried} plans tried, {moved} moves made");
    }
}
