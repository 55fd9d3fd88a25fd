//! The exact network-flow solver for the pupil-level problem: successive shortest paths on the
//! schools, with school prices as potentials.
//!
//! Every free pupil starts at the school minimising `d[p][s] - pi[s]` (at first: its nearest
//! school). What remains is a small flow problem on the schools plus a super node Z: school `s`
//! sends between `min[s]` and `cap[s]` pupils to Z, so a school above its capacity has an
//! excess and one below its minimum a deficit. An arc `s -> t` moves the cheapest movable pupil
//! of `s` to `t`, at `d[p][t] - d[p][s]`; one priority queue per school pair holds those pupils
//! (built when a school is first expanded, entries dropped lazily when a pupil has moved on).
//! A school keeps queues only towards the schools its pupils can move to, so expanding it costs
//! a few dozen arcs where pupils have a few schools each, not one per school.
//! Dijkstra from every excess node to the nearest deficit node, with reduced costs kept
//! non-negative by the potentials `pi`, and one augmentation per path: every pupil stays at a
//! school minimising `d - pi`, so when no excess is left the plan is optimal and
//! `pi[Z] - pi[s]` are its school prices (the same certificate the independent checker
//! computes). Costs and potentials are 64-bit; ties break by index, so the same input always
//! gives the same assignment.
//!
//! The solver works on any [`Arcs`]: the dense [`Problem`], or a [`SparseArcs`] holding a few
//! schools per pupil (see [`super::pricing`]).

use super::Problem;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The allowed pupil-school pairs and their costs, as the solver reads them.
pub trait Arcs {
    /// Number of units (pupils).
    fn n_units(&self) -> usize;
    /// Number of schools.
    fn n_schools(&self) -> usize;
    /// Cost of unit `u` at school `s`, `None` if the pair is not allowed.
    fn cost(&self, u: usize, s: usize) -> Option<u32>;
    /// Every allowed pair of unit `u`, in school order.
    fn for_each(&self, u: usize, f: impl FnMut(usize, u32));
}

impl Arcs for Problem {
    fn n_units(&self) -> usize {
        self.weight.len()
    }
    fn n_schools(&self) -> usize {
        self.n_schools
    }
    #[inline]
    fn cost(&self, u: usize, s: usize) -> Option<u32> {
        Problem::cost(self, u, s)
    }
    #[inline]
    fn for_each(&self, u: usize, mut f: impl FnMut(usize, u32)) {
        for (s, &c) in self.row(u).iter().enumerate() {
            if c != crate::routing::UNREACHABLE {
                f(s, c);
            }
        }
    }
}

/// A few allowed schools per unit (compressed rows, each sorted by school).
#[derive(Debug, Clone, Default)]
pub struct SparseArcs {
    /// Number of schools (school indices run below it).
    pub n_schools: usize,
    /// Row `u` is `school[start[u]..start[u + 1]]`.
    pub start: Vec<usize>,
    /// School of every arc (index into the schools), rows back to back.
    pub school: Vec<u32>,
    /// Cost of every arc in meters, parallel to `school`.
    pub cost: Vec<u32>,
}

impl SparseArcs {
    /// Build from per-unit lists of (school, cost); each list is sorted and deduplicated.
    pub fn from_rows(n_schools: usize, rows: Vec<Vec<(u32, u32)>>) -> SparseArcs {
        let mut a = SparseArcs {
            n_schools,
            start: Vec::with_capacity(rows.len() + 1),
            ..Default::default()
        };
        a.start.push(0);
        for mut row in rows {
            row.sort_unstable();
            row.dedup_by_key(|e| e.0);
            for (s, c) in row {
                a.school.push(s);
                a.cost.push(c);
            }
            a.start.push(a.school.len());
        }
        a
    }

    /// The allowed pairs (school, cost) of unit `u`, in school order.
    pub fn row(&self, u: usize) -> impl Iterator<Item = (u32, u32)> + '_ {
        let r = self.start[u]..self.start[u + 1];
        self.school[r.clone()].iter().copied().zip(self.cost[r].iter().copied())
    }

    /// Number of arcs over all units.
    pub fn n_arcs(&self) -> usize {
        self.school.len()
    }

    /// A copy with the given extra arcs (unit, school, cost) merged in.
    pub fn with_extra(&self, mut extra: Vec<(u32, u32, u32)>) -> SparseArcs {
        extra.sort_unstable();
        let n_units = self.start.len() - 1;
        let mut out = SparseArcs {
            n_schools: self.n_schools,
            start: Vec::with_capacity(n_units + 1),
            school: Vec::with_capacity(self.n_arcs() + extra.len()),
            cost: Vec::with_capacity(self.n_arcs() + extra.len()),
        };
        out.start.push(0);
        let mut k = 0;
        for u in 0..n_units {
            let mut row: Vec<(u32, u32)> = self.row(u).collect();
            while k < extra.len() && extra[k].0 as usize == u {
                row.push((extra[k].1, extra[k].2));
                k += 1;
            }
            row.sort_unstable();
            row.dedup_by_key(|e| e.0);
            for (s, c) in row {
                out.school.push(s);
                out.cost.push(c);
            }
            out.start.push(out.school.len());
        }
        out
    }
}

impl Arcs for SparseArcs {
    fn n_units(&self) -> usize {
        self.start.len() - 1
    }
    fn n_schools(&self) -> usize {
        self.n_schools
    }
    #[inline]
    fn cost(&self, u: usize, s: usize) -> Option<u32> {
        let r = self.start[u]..self.start[u + 1];
        let row = &self.school[r.clone()];
        row.binary_search(&(s as u32)).ok().map(|i| self.cost[r.start + i])
    }
    #[inline]
    fn for_each(&self, u: usize, mut f: impl FnMut(usize, u32)) {
        for (s, c) in self.row(u) {
            f(s as usize, c);
        }
    }
}

/// Capacities, minimums and fixed schools: the parts of a [`Problem`] besides its costs.
#[derive(Debug, Clone, Copy)]
pub struct Bounds<'a> {
    /// Seats per school.
    pub cap: &'a [u32],
    /// Pupils each school must at least get.
    pub min: &'a [u32],
    /// The school each unit must attend, if any (index into the schools).
    pub fixed: &'a [Option<u32>],
}

/// A solved flow: the assignment and the potentials that prove it optimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState {
    /// The school of every unit (index into the schools).
    pub assign: Vec<u32>,
    /// Potentials of the schools and (last) of the super node Z.
    pub pi: Vec<i64>,
    /// Pupils each school sends to Z: its load at the optimum.
    pub through: Vec<i64>,
}

impl FlowState {
    /// School prices: every free pupil sits at a school minimising `d + price`.
    pub fn prices(&self) -> Vec<i64> {
        let z = self.pi.len() - 1;
        (0..z).map(|s| self.pi[z] - self.pi[s]).collect()
    }
}

/// Why the flow could not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowError {
    /// No feasible assignment with these arcs.
    Infeasible,
    /// A cost at or above 2^31 m (the queues pack a cost difference into 32 bits).
    CostTooLarge,
    /// The caller's flag was raised ([`crate::cancel`]); checked every [`CANCEL_EVERY`] paths.
    Cancelled,
}

/// The flow checks for cancellation once per this many augmenting paths (a path costs a
/// Dijkstra over the schools, so this is well under a millisecond at every size measured).
pub const CANCEL_EVERY: u64 = 256;

/// From this many schools on, [`super::solve`] (flow) runs on each pupil's [`PRUNE_K`] nearest schools and
/// prices the rest in ([`super::pricing`]): measured (`cargo bench --bench flow`), that is
/// slower at 2,000 x 40 (2.9 vs 1.7 ms) and faster at 10,000 x 100 (23 vs 27 ms) and 50,000 x
/// 400 (0.31 vs 0.74 s), as the queues hold k instead of all schools per pupil.
pub const PRUNE_FROM_SCHOOLS: usize = 100;
/// Schools per pupil in the pruned solve.
pub const PRUNE_K: usize = 8;

const NO_PUPIL: u32 = u32::MAX;
pub(super) const BIAS: i64 = 1 << 31;
const EMPTY: u64 = u64::MAX;

struct Solver<'a, A: Arcs> {
    arcs: &'a A,
    b: Bounds<'a>,
    m: usize,
    assign: Vec<u32>,
    pi: Vec<i64>,
    through: Vec<i64>,
    excess: Vec<i64>,
    /// next[s]: the schools `t` some pupil at `s` can move to, ascending (only those are
    /// scanned when `s` is expanded: a few dozen where pupils have a few schools each).
    next: Vec<Vec<u32>>,
    /// queue[s][i]: pupils at s by the cost of moving them to next[s][i] (packed: biased
    /// cost << 32 | pupil).
    queue: Vec<Vec<BinaryHeap<Reverse<u64>>>>,
    built: Vec<bool>,
    /// top[s][i]: the head of queue[s][i] (EMPTY if none), valid unless dirty[s].
    top: Vec<Vec<u64>>,
    /// A pupil left s since its heads were last refreshed.
    dirty: Vec<bool>,
    /// Pupils that arrived at a school whose queues are not built yet (may hold stale entries).
    arrivals: Vec<Vec<u32>>,
    /// Scratch of [`Solver::build`]: per school, `u32::MAX` between builds.
    slot: Vec<u32>,
    /// Queue entries pushed by arrivals, and stale entries dropped (for the debug log).
    pushed: u64,
    stale: u64,
}

/// Run successive shortest paths, optionally from a previous state (its potentials and loads
/// kept; pupils not at a best school for those potentials are moved first).
///
/// A cold run on [`SAMPLE_FROM`] units or more, where everyone at a nearest school leaves more
/// units to move than a sample holds, first solves a sample (every [`SAMPLE_STEP`]th unit, seats
/// and minimums scaled down) and starts from its school prices: pupils then start near where the
/// optimum puts them, and far fewer paths remain (the sample's own run does the same,
/// recursively). Any start is exact: the potentials only decide where the paths begin.
pub fn run<A: Arcs>(
    arcs: &A,
    b: Bounds<'_>,
    warm: Option<FlowState>,
) -> Result<FlowState, FlowError> {
    let m = arcs.n_schools();
    if (0..m).any(|s| b.min[s] > b.cap[s]) {
        return Err(FlowError::Infeasible);
    }
    match warm {
        Some(w) => run_from(arcs, b, w.pi, Start::Through(w.through), Some(w.assign)),
        None => {
            if let Some(pi) = sampled_start(arcs, b) {
                return run_from(arcs, b, pi, Start::Prices, None);
            }
            run_from(arcs, b, vec![0i64; m + 1], Start::Clamp, None)
        }
    }
}

/// The potentials a cold [`run`] starts from when it uses a sample's prices ([`SAMPLE_FROM`]):
/// `None` when the problem is too small; when everyone at a nearest school leaves no more units
/// to move than the sample holds (the sample's own solve would cost about what it saves: where
/// schools are sited by their pupils, the nearest school is often the closer start); when the
/// sample has no plan; or when its prices leave no fewer units to move than the nearest school.
pub fn sampled_start<A: Arcs>(arcs: &A, b: Bounds<'_>) -> Option<Vec<i64>> {
    let n = arcs.n_units();
    if n < SAMPLE_FROM {
        return None;
    }
    let zero = vec![0i64; arcs.n_schools() + 1];
    let nearest = start_excess(arcs, b, &zero, false);
    if nearest * SAMPLE_STEP as i64 <= n as i64 {
        return None;
    }
    let prices = sample_prices(arcs, b)?;
    let mut pi: Vec<i64> = prices.iter().map(|&p| -p).collect();
    pi.push(0);
    (start_excess(arcs, b, &pi, true) < nearest).then_some(pi)
}

/// From this many units on, a cold [`run`] may start from a sample's prices (a sample of 500).
pub const SAMPLE_FROM: usize = 4000;
/// The sample of a cold [`run`]: every this many units.
pub const SAMPLE_STEP: usize = 8;

/// The school prices of an optimal plan for every [`SAMPLE_STEP`]th unit, with seats (rounded
/// up) and minimums (down) scaled to the sample; `None` when too small, or when the sample has
/// no plan (its holes or fixed pupils may not fit the scaled seats).
fn sample_prices<A: Arcs>(arcs: &A, b: Bounds<'_>) -> Option<Vec<i64>> {
    let (n, m) = (arcs.n_units(), arcs.n_schools());
    if n < SAMPLE_FROM {
        return None;
    }
    let units: Vec<usize> = (0..n).step_by(SAMPLE_STEP).collect();
    let ns = units.len() as u64;
    let rows = units
        .iter()
        .map(|&u| {
            let mut row = Vec::new();
            arcs.for_each(u, |s, c| row.push((s as u32, c)));
            row
        })
        .collect();
    let sample = SparseArcs::from_rows(m, rows);
    let scale = |x: u32, up: bool| {
        let v = x as u64 * ns;
        (if up { v.div_ceil(n as u64) } else { v / n as u64 }) as u32
    };
    let cap: Vec<u32> = b.cap.iter().map(|&c| scale(c, true)).collect();
    let min: Vec<u32> = b.min.iter().map(|&c| scale(c, false)).collect();
    let fixed: Vec<Option<u32>> = units.iter().map(|&u| b.fixed[u]).collect();
    let state = run(&sample, Bounds { cap: &cap, min: &min, fixed: &fixed }, None).ok()?;
    Some(state.prices())
}

/// The pupils a run from potentials `pi` starts with too many at their schools (and at Z): every
/// free unit at a school minimising `cost - pi`, schools' flow to Z as [`Start::Prices`]
/// (`priced`) or [`Start::Clamp`] sets it.
fn start_excess<A: Arcs>(arcs: &A, b: Bounds<'_>, pi: &[i64], priced: bool) -> i64 {
    let m = arcs.n_schools();
    let mut load = vec![0i64; m];
    for u in 0..arcs.n_units() {
        let s = b.fixed[u].map(|f| f as usize).or_else(|| {
            let mut best = (i64::MAX, None);
            arcs.for_each(u, |s, c| {
                if (c as i64 - pi[s]) < best.0 {
                    best = (c as i64 - pi[s], Some(s));
                }
            });
            best.1
        });
        if let Some(s) = s {
            load[s] += 1;
        }
    }
    let mut to_z = 0;
    let mut over = 0;
    for s in 0..m {
        let clamp = load[s].clamp(b.min[s] as i64, b.cap[s] as i64);
        let through = match (priced, (pi[m] - pi[s]).signum()) {
            (true, 1) => b.cap[s] as i64,
            (true, -1) => b.min[s] as i64,
            _ => clamp,
        };
        to_z += through;
        over += (load[s] - through).max(0);
    }
    over + (to_z - arcs.n_units() as i64).max(0)
}

/// How a run sets each school's flow to Z at the start.
enum Start {
    /// A previous run's (warm start after new arcs).
    Through(Vec<i64>),
    /// The school's load, within its minimum and capacity (zero potentials).
    Clamp,
    /// Given prices: a school with a positive price full, with a negative one at its minimum
    /// (so every residual arc to and from Z has a non-negative reduced cost).
    Prices,
}

fn run_from<A: Arcs>(
    arcs: &A,
    b: Bounds<'_>,
    pi: Vec<i64>,
    start: Start,
    prev: Option<Vec<u32>>,
) -> Result<FlowState, FlowError> {
    let m = arcs.n_schools();
    let n = arcs.n_units();
    let mut too_large = false;
    // Every free pupil at a school minimising d - pi (its previous school when still best).
    let mut assign = vec![NO_PUPIL; n];
    for u in 0..n {
        if let Some(f) = b.fixed[u] {
            assign[u] = f;
            continue;
        }
        let mut best = (i64::MAX, NO_PUPIL);
        arcs.for_each(u, |s, c| {
            if c as i64 >= BIAS {
                too_large = true;
            }
            let v = c as i64 - pi[s];
            if v < best.0 {
                best = (v, s as u32);
            }
        });
        if let Some(prev) = &prev {
            let s = prev[u];
            if s != NO_PUPIL {
                if let Some(c) = arcs.cost(u, s as usize) {
                    if c as i64 - pi[s as usize] == best.0 {
                        best.1 = s;
                    }
                }
            }
        }
        if best.1 == NO_PUPIL {
            return Err(FlowError::Infeasible);
        }
        assign[u] = best.1;
    }
    if too_large {
        return Err(FlowError::CostTooLarge);
    }
    let mut load = vec![0i64; m];
    for &s in &assign {
        load[s as usize] += 1;
    }
    let clamp = |s: usize| load[s].clamp(b.min[s] as i64, b.cap[s] as i64);
    let through: Vec<i64> = match start {
        Start::Through(t) => t,
        Start::Clamp => (0..m).map(clamp).collect(),
        Start::Prices => (0..m)
            .map(|s| match (pi[m] - pi[s]).signum() {
                1 => b.cap[s] as i64,
                -1 => b.min[s] as i64,
                _ => clamp(s),
            })
            .collect(),
    };
    let mut excess = vec![0i64; m + 1];
    for s in 0..m {
        excess[s] = load[s] - through[s];
    }
    excess[m] = through.iter().sum::<i64>() - n as i64;
    let mut arrivals = vec![Vec::new(); m];
    for (u, &s) in assign.iter().enumerate() {
        if b.fixed[u].is_none() {
            arrivals[s as usize].push(u as u32);
        }
    }
    let mut solver = Solver {
        arcs,
        b,
        m,
        assign,
        pi,
        through,
        excess,
        next: vec![Vec::new(); m],
        queue: (0..m).map(|_| Vec::new()).collect(),
        built: vec![false; m],
        top: vec![Vec::new(); m],
        dirty: vec![false; m],
        arrivals,
        slot: vec![u32::MAX; m],
        pushed: 0,
        stale: 0,
    };
    solver.solve()?;
    Ok(FlowState { assign: solver.assign, pi: solver.pi, through: solver.through })
}

#[derive(Clone, Copy)]
struct Pred {
    node: u32,
    pupil: u32,
}

impl<'a, A: Arcs> Solver<'a, A> {
    #[inline]
    fn key(&self, q: u32, here: u32, c: u32) -> u64 {
        ((c as i64 - here as i64 + BIAS) as u64) << 32 | q as u64
    }

    /// A pupil arrives at a built school: its moves join the queues of `s` (a school it can
    /// move to that no pupil at `s` could before gets its queue).
    fn push_pupil(&mut self, q: u32, s: usize) {
        let here = self.arcs.cost(q as usize, s).expect("a pupil sits on an allowed pair");
        let mut keys = Vec::new();
        self.arcs.for_each(q as usize, |t, c| {
            if t != s {
                keys.push((t as u32, c));
            }
        });
        for (t, c) in keys {
            let key = self.key(q, here, c);
            let i = match self.next[s].binary_search(&t) {
                Ok(i) => i,
                Err(i) => {
                    self.next[s].insert(i, t);
                    self.queue[s].insert(i, BinaryHeap::new());
                    self.top[s].insert(i, EMPTY);
                    i
                }
            };
            self.queue[s][i].push(Reverse(key));
            self.pushed += 1;
            let top = &mut self.top[s][i];
            *top = (*top).min(key);
        }
    }

    /// The queues of school `s`, from the pupils there now (heapified at once).
    fn build(&mut self, s: usize) {
        self.built[s] = true;
        let mut arrivals = std::mem::take(&mut self.arrivals[s]);
        arrivals.retain(|&q| self.assign[q as usize] == s as u32);
        arrivals.sort_unstable();
        arrivals.dedup();
        let mut moves: Vec<(u32, u64)> = Vec::new();
        for &q in &arrivals {
            let here = self.arcs.cost(q as usize, s).expect("a pupil sits on an allowed pair");
            self.arcs.for_each(q as usize, |t, c| {
                if t != s {
                    moves.push((
                        t as u32,
                        ((c as i64 - here as i64 + BIAS) as u64) << 32 | q as u64,
                    ));
                }
            });
        }
        // Bucket the moves by target school (ascending), through `slot`.
        let mut next: Vec<u32> = Vec::new();
        for &(t, _) in &moves {
            if self.slot[t as usize] == u32::MAX {
                self.slot[t as usize] = 0;
                next.push(t);
            }
        }
        next.sort_unstable();
        let mut keys: Vec<Vec<Reverse<u64>>> = vec![Vec::new(); next.len()];
        for (i, &t) in next.iter().enumerate() {
            self.slot[t as usize] = i as u32;
        }
        for &(t, key) in &moves {
            keys[self.slot[t as usize] as usize].push(Reverse(key));
        }
        for &t in &next {
            self.slot[t as usize] = u32::MAX;
        }
        let queue: Vec<BinaryHeap<Reverse<u64>>> = keys.into_iter().map(BinaryHeap::from).collect();
        let top = queue.iter().map(|h| h.peek().map_or(EMPTY, |r| r.0)).collect();
        self.next[s] = next;
        self.queue[s] = queue;
        self.top[s] = top;
        self.dirty[s] = false;
    }

    /// Drop the pupils that left `s` from the heads of its queues.
    fn refresh(&mut self, s: usize) {
        for (queue, top) in self.queue[s].iter_mut().zip(self.top[s].iter_mut()) {
            *top = EMPTY;
            while let Some(&Reverse(key)) = queue.peek() {
                if self.assign[(key & 0xffff_ffff) as usize] == s as u32 {
                    *top = key;
                    break;
                }
                queue.pop();
                self.stale += 1;
            }
        }
        self.dirty[s] = false;
    }

    fn solve(&mut self) -> Result<(), FlowError> {
        let m = self.m;
        let z = m;
        let n_nodes = m + 1;
        let mut dist = vec![i64::MAX; n_nodes];
        let mut done = vec![false; n_nodes];
        let mut pred = vec![Pred { node: u32::MAX, pupil: NO_PUPIL }; n_nodes];
        let mut heap: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::new();
        let mut touched: Vec<usize> = Vec::new();
        let (mut paths, mut pops) = (0u64, 0u64);
        loop {
            let sources: Vec<usize> = (0..n_nodes).filter(|&v| self.excess[v] > 0).collect();
            if sources.is_empty() {
                tracing::debug!(
                    paths,
                    pops,
                    pushed = self.pushed,
                    stale = self.stale,
                    built = self.built.iter().filter(|&&b| b).count(),
                    "flow done"
                );
                return Ok(());
            }
            paths += 1;
            if paths.is_multiple_of(CANCEL_EVERY) && crate::cancel::cancelled() {
                return Err(FlowError::Cancelled);
            }
            for &v in &touched {
                dist[v] = i64::MAX;
                done[v] = false;
            }
            touched.clear();
            heap.clear();
            for &v in &sources {
                dist[v] = 0;
                pred[v] = Pred { node: u32::MAX, pupil: NO_PUPIL };
                touched.push(v);
                heap.push(Reverse((0, v as u32)));
            }
            let mut target = None;
            while let Some(Reverse((d, v))) = heap.pop() {
                let v = v as usize;
                if done[v] || d > dist[v] {
                    continue;
                }
                done[v] = true;
                pops += 1;
                if self.excess[v] < 0 {
                    target = Some((v, d));
                    break;
                }
                let mut relax =
                    |t: usize, nd: i64, p: Pred, dist: &mut Vec<i64>, touched: &mut Vec<usize>| {
                        if nd < dist[t] {
                            if dist[t] == i64::MAX {
                                touched.push(t);
                            }
                            dist[t] = nd;
                            pred[t] = p;
                            heap.push(Reverse((nd, t as u32)));
                        }
                    };
                if v == z {
                    for s in 0..m {
                        if !done[s] && self.through[s] > self.b.min[s] as i64 {
                            let rc = self.pi[z] - self.pi[s];
                            relax(
                                s,
                                d + rc,
                                Pred { node: z as u32, pupil: NO_PUPIL },
                                &mut dist,
                                &mut touched,
                            );
                        }
                    }
                } else {
                    let s = v;
                    if !done[z] && self.through[s] < self.b.cap[s] as i64 {
                        let rc = self.pi[s] - self.pi[z];
                        relax(
                            z,
                            d + rc,
                            Pred { node: s as u32, pupil: NO_PUPIL },
                            &mut dist,
                            &mut touched,
                        );
                    }
                    if !self.built[s] {
                        self.build(s);
                    } else if self.dirty[s] {
                        self.refresh(s);
                    }
                    let base = d + self.pi[s];
                    for (&t, &key) in self.next[s].iter().zip(&self.top[s]) {
                        let t = t as usize;
                        if key == EMPTY || done[t] {
                            continue;
                        }
                        let c = (key >> 32) as i64 - BIAS;
                        let nd = base + c - self.pi[t];
                        if nd < dist[t] {
                            debug_assert!(nd >= d, "negative reduced cost");
                            relax(
                                t,
                                nd,
                                Pred { node: s as u32, pupil: (key & 0xffff_ffff) as u32 },
                                &mut dist,
                                &mut touched,
                            );
                        }
                    }
                }
            }
            let Some((target, dmax)) = target else {
                return Err(FlowError::Infeasible);
            };
            for v in 0..n_nodes {
                self.pi[v] += if done[v] { dist[v].min(dmax) } else { dmax };
            }
            // The path, target back to a source, and how much it carries.
            let mut path = Vec::new();
            let mut v = target;
            let mut amount = -self.excess[target];
            while pred[v].node != u32::MAX {
                let p = pred[v];
                let a = p.node as usize;
                let cap = if p.pupil != NO_PUPIL {
                    1
                } else if v == z {
                    self.b.cap[a] as i64 - self.through[a]
                } else {
                    self.through[v] - self.b.min[v] as i64
                };
                amount = amount.min(cap);
                path.push((a, v, p.pupil));
                v = a;
            }
            amount = amount.min(self.excess[v]);
            debug_assert!(amount > 0);
            for &(a, t, q) in &path {
                if q != NO_PUPIL {
                    self.assign[q as usize] = t as u32;
                    self.dirty[a] = true;
                    if self.built[t] {
                        self.push_pupil(q, t);
                    } else {
                        self.arrivals[t].push(q);
                    }
                } else if t == z {
                    self.through[a] += amount;
                } else {
                    self.through[t] -= amount;
                }
            }
            self.excess[v] -= amount;
            self.excess[target] += amount;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::UNREACHABLE as X;
    use crate::solve::certificate::{certify, verify_prices};

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

    fn check(p: &Problem) -> FlowState {
        let st =
            run(p, Bounds { cap: &p.cap, min: &p.min, fixed: &p.fixed }, None).expect("feasible");
        let cert = certify(p, &st.assign).expect("optimal");
        assert_eq!(verify_prices(p, &st.assign, &st.prices()), vec![]);
        assert_eq!(cert.objective, p.objective(&st.assign).unwrap());
        st
    }

    #[test]
    fn overflow_moves_the_cheapest_pupil() {
        // Both prefer school 0 (one seat); pupil 1 loses less by moving.
        let p = problem(&[1, 1], &[0, 0], &[&[10, 100], &[10, 20]]);
        let st = check(&p);
        assert_eq!(st.assign, vec![0, 1]);
        assert_eq!(st.prices(), vec![10, 0]);
    }

    #[test]
    fn minimum_pulls_pupils_and_chains_move() {
        // School 2 needs two pupils; the cheapest way is a chain.
        let p = problem(&[3, 3, 3], &[0, 0, 2], &[&[1, 5, X], &[1, 2, 50], &[9, 1, 3], &[8, 1, 4]]);
        let st = check(&p);
        assert_eq!(p.objective(&st.assign), Some(1 + 1 + 3 + 4));
        assert!(st.prices()[2] < 0);
    }

    #[test]
    fn fixed_pupils_hold_their_seat() {
        let mut p = problem(&[1, 5], &[0, 0], &[&[1, 9], &[1, 2]]);
        p.fixed[0] = Some(1);
        let st = check(&p);
        assert_eq!(st.assign, vec![1, 0]);
    }

    #[test]
    fn infeasible_arcs_are_reported() {
        let p = problem(&[1, 5], &[0, 0], &[&[1, X], &[1, X]]);
        assert_eq!(
            run(&p, Bounds { cap: &p.cap, min: &p.min, fixed: &p.fixed }, None),
            Err(FlowError::Infeasible)
        );
    }

    #[test]
    fn warm_start_after_new_arcs_is_optimal() {
        let dense = problem(
            &[3, 2, 2],
            &[0, 1, 0],
            &[&[1, 4, 9], &[2, 3, 1], &[5, 1, 2], &[1, 7, 3], &[2, 2, 2]],
        );
        let rows: Vec<Vec<(u32, u32)>> = (0..dense.n_units())
            .map(|u| vec![(0, dense.row(u)[0]), (1, dense.row(u)[1])])
            .collect();
        let sparse = SparseArcs::from_rows(3, rows);
        let b = Bounds { cap: &dense.cap, min: &dense.min, fixed: &dense.fixed };
        let first = run(&sparse, b, None).unwrap();
        let extra: Vec<(u32, u32, u32)> =
            (0..dense.n_units() as u32).map(|u| (u, 2, dense.row(u as usize)[2])).collect();
        let full = sparse.with_extra(extra);
        let second = run(&full, b, Some(first)).unwrap();
        certify(&dense, &second.assign).expect("optimal");
        assert_eq!(verify_prices(&dense, &second.assign, &second.prices()), vec![]);
    }
}
