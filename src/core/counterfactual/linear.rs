//! Exact counterfactuals of linear and logistic models, for a goal that is an interval
//! on one raw output.
//!
//! The goal is an interval on one raw output `b + a·x` (a probability target on a
//! binary logistic model is a margin target through the logit, which is monotone). A
//! multinomial model's class is not such a goal (it is the largest of several margins)
//! and is not solved here. With the
//! instance below the interval (above is the same with `a` negated) a change `d`
//! works when its *gain* `a·d` lies in `[need, slack]`.
//!
//! # Why the answer is minimal (weighted L1)
//! 1. Moving a feature against the sign of its weight costs and loses gain, so an
//!    optimum moves each feature only "uphill", when the interval is wide enough:
//!    drop the downhill moves of an optimum (cheaper, more gain); while the gain
//!    exceeds `slack`, shrink some move (continuously, or an integer one by a unit,
//!    which loses at most its unit gain) — cheaper again. This stays within
//!    `[need, slack]` when `slack − need` is at least every integer unit gain; when it
//!    is not, the answer is reported as not proved optimal.
//! 2. Fix the integer features' moves. What remains is `min Σ cⱼ dⱼ` subject to
//!    `Σ gⱼ dⱼ ≥ r`, `0 ≤ dⱼ ≤ roomⱼ` over the continuous features of a support:
//!    a fractional knapsack, whose optimum fills features in decreasing order of
//!    `gⱼ / cⱼ` until `r` is met (exchange argument: moving cost from a lower ratio to
//!    a higher one never raises it). So for a support it is the greedy fill; with
//!    `max_changes` the supports are searched by branch and bound, include/exclude in
//!    ratio order, bounded below by the greedy fill over all features left (the
//!    relaxation without the cardinality limit).
//! 3. An integer feature never moves more units than it needs to meet the remaining
//!    need by itself (one unit less still meets it, cheaper). Its units are searched
//!    by depth-first branch and bound, bounded below by the cost so far plus the
//!    greedy fill with every remaining feature relaxed to continuous: a lower bound,
//!    since the relaxation's feasible set contains the integer one.
//!
//! L0 (fewest changes): the fewest features is the least k whose k largest gains
//! reach `need`; among changes of that count the weighted-L1 search above (weights
//! as tie-break) picks the values.

use super::{raw_range, CostModel, Problem, Solved};
use crate::core::models::{LinearModel, Model};
use crate::core::Cancel;

/// One feature that can help: its direction and what a unit of it gains and costs.
#[derive(Debug, Clone)]
struct Move {
    j: usize,
    /// +1 or −1: the direction that gains.
    dir: f64,
    /// Gain per unit of change (|aⱼ|).
    gain: f64,
    /// Price per unit of change.
    price: f64,
    /// Continuous: how far it may go. Integer: the number of whole values it may
    /// take beyond its own (∞ when unbounded).
    room: f64,
    /// Integer features: the first whole value past the instance's.
    first: Option<f64>,
}

impl Move {
    fn ratio(&self) -> f64 {
        self.gain / self.price
    }

    /// The most this feature can gain, relaxed to continuous.
    fn max_gain(&self, x: f64) -> f64 {
        match self.first {
            None => self.room * self.gain,
            Some(first) if self.room > 0.0 => ((first - x).abs() + (self.room - 1.0)) * self.gain,
            Some(_) => 0.0,
        }
    }
}

/// The cheapest change of `p` with the `frozen` features kept.
pub fn solve(m: &LinearModel, p: &Problem, frozen: &[bool], cancel: &Cancel) -> Solved {
    let (k, lo, hi) = raw_range(&p.goal, m.link(), m.n_outputs()).expect("a ranged goal");
    let a = m.coefficients().row(k);
    let x = &p.instance;
    let now = m.intercept()[k] + a.iter().zip(x).map(|(w, v)| w * v).sum::<f64>();
    let (sign, need, slack, target) = if now < lo {
        (1.0, lo - now, hi - now, lo)
    } else if now > hi {
        (-1.0, now - hi, now - lo, hi)
    } else {
        return Solved {
            best: Some(x.clone()),
            bound: 0.0,
            complete: true,
        };
    };
    // Aim a hair past the boundary so that rounding cannot leave the answer outside.
    let aim = need + (1e-9 * target.abs().max(1.0)).min((slack - need) / 2.0);
    let moves: Vec<Move> = (0..x.len())
        .filter_map(|j| movable(p, frozen, j, sign * a[j]))
        .collect();
    let restricted = slack.is_finite()
        && moves
            .iter()
            .any(|mv| mv.first.is_some() && mv.gain > slack - need);
    let mut search = Search::new(&moves, x, cancel);
    let limit = p.max_changes.unwrap_or(x.len());
    let (best, complete, bound) = if p.cost.l0 {
        let mut gains: Vec<f64> = moves.iter().map(|mv| mv.max_gain(x[mv.j])).collect();
        gains.sort_by(|a, b| b.total_cmp(a));
        let mut sum = 0.0;
        let fewest = gains.iter().position(|g| {
            sum += g;
            sum >= aim
        });
        let mut found = None;
        if let Some(f) = fewest {
            for count in f + 1..=limit {
                found = search.run(aim, slack, count);
                if found.is_some() || search.aborted {
                    break;
                }
            }
        }
        let bound = match (fewest, search.aborted) {
            (None, _) => f64::INFINITY,
            (Some(f), true) => (f + 1) as f64,
            (Some(_), false) => found
                .as_ref()
                .map_or(f64::INFINITY, |v| count_changes(x, v)),
        };
        (found, !search.aborted, bound)
    } else {
        let found = search.run(aim, slack, limit);
        let bound = if search.aborted {
            search.relaxed(aim, 0)
        } else {
            found
                .as_ref()
                .map_or(f64::INFINITY, |v| price(&p.cost, x, v))
        };
        (found, !search.aborted, bound)
    };
    Solved {
        best,
        bound,
        complete: complete && !restricted,
    }
}

fn count_changes(x: &[f64], v: &[f64]) -> f64 {
    x.iter().zip(v).filter(|(a, b)| a != b).count() as f64
}

fn price(cost: &CostModel, x: &[f64], v: &[f64]) -> f64 {
    (0..x.len())
        .map(|j| cost.weights[j] * (v[j] - x[j]).abs())
        .sum()
}

/// Feature `j` as a move, when it may change and its (oriented) weight `w` helps.
fn movable(p: &Problem, frozen: &[bool], j: usize, w: f64) -> Option<Move> {
    let d = &p.domains[j];
    let x = p.instance[j];
    if w == 0.0 || frozen[j] || d.immutable || d.categories.is_some() {
        return None;
    }
    let dir = w.signum();
    let (room, first) = if d.integer {
        let (first, last) = if dir > 0.0 {
            (x.floor() + 1.0, d.hi.floor())
        } else {
            (x.ceil() - 1.0, d.lo.ceil())
        };
        let units = (last - first) * dir + 1.0;
        (units.max(0.0), Some(first))
    } else {
        let room = if dir > 0.0 { d.hi - x } else { x - d.lo };
        (room.max(0.0), None)
    };
    (room > 0.0).then_some(Move {
        j,
        dir,
        gain: w.abs(),
        price: p.cost.weights[j],
        room,
        first,
    })
}

/// The branch and bound of the module doc.
struct Search<'a> {
    ints: Vec<&'a Move>,
    conts: Vec<&'a Move>,
    /// Every move, by ratio, for the relaxed bound; with its index in `ints`.
    all: Vec<(&'a Move, Option<usize>)>,
    x: &'a [f64],
    cancel: &'a Cancel,
    nodes: u64,
    aborted: bool,
    best: f64,
    best_values: Option<Vec<f64>>,
    slack: f64,
    limit: usize,
}

impl<'a> Search<'a> {
    fn new(moves: &'a [Move], x: &'a [f64], cancel: &'a Cancel) -> Self {
        let mut all: Vec<&Move> = moves.iter().collect();
        all.sort_by(|a, b| b.ratio().total_cmp(&a.ratio()).then(a.j.cmp(&b.j)));
        let ints: Vec<&Move> = all.iter().copied().filter(|m| m.first.is_some()).collect();
        let conts = all.iter().copied().filter(|m| m.first.is_none()).collect();
        let all = all
            .into_iter()
            .map(|m| (m, ints.iter().position(|i| i.j == m.j)))
            .collect();
        Search {
            ints,
            conts,
            all,
            x,
            cancel,
            nodes: 0,
            aborted: false,
            best: f64::INFINITY,
            best_values: None,
            slack: f64::INFINITY,
            limit: 0,
        }
    }

    /// The cheapest row with at most `limit` changes gaining `aim` (≤ `slack`).
    fn run(&mut self, aim: f64, slack: f64, limit: usize) -> Option<Vec<f64>> {
        self.best = f64::INFINITY;
        self.best_values = None;
        self.slack = slack;
        self.limit = limit;
        let mut chosen = Vec::new();
        self.integers(0, aim, 0.0, &mut chosen);
        self.best_values.take()
    }

    /// The greedy fill of `r` over every move, integer moves before `from` excluded.
    fn relaxed(&self, r: f64, from: usize) -> f64 {
        let mut r = r;
        let mut cost = 0.0;
        for (m, int) in &self.all {
            if r <= 0.0 {
                break;
            }
            if int.is_some_and(|i| i < from) {
                continue;
            }
            let take = r.min(m.max_gain(self.x[m.j]));
            cost += take / m.ratio();
            r -= take;
        }
        if r > 0.0 {
            f64::INFINITY
        } else {
            cost
        }
    }

    fn tick(&mut self) -> bool {
        self.nodes += 1;
        if self.nodes % 256 == 1 && self.cancel.is_cancelled() {
            self.aborted = true;
        }
        self.aborted
    }

    /// Integer feature `i` onwards, `r` still to gain.
    fn integers(&mut self, i: usize, r: f64, cost: f64, chosen: &mut Vec<(usize, f64)>) {
        if self.tick() {
            return;
        }
        if r <= 0.0 {
            return self.record(cost, chosen);
        }
        if i == self.ints.len() {
            return self.continuous(0, r, cost, chosen);
        }
        if cost + self.relaxed(r, i) >= self.best {
            return;
        }
        self.integers(i + 1, r, cost, chosen);
        if chosen.len() >= self.limit {
            return;
        }
        let m = self.ints[i];
        let (x, first) = (self.x[m.j], m.first.expect("an integer move"));
        let mut unit = 0.0;
        while unit < m.room && !self.aborted {
            let value = first + m.dir * unit;
            let d = (value - x).abs();
            let c = cost + d * m.price;
            if c >= self.best {
                break;
            }
            chosen.push((m.j, value));
            if d * m.gain >= r {
                self.record(c, chosen);
                chosen.pop();
                break;
            }
            self.integers(i + 1, r - d * m.gain, c, chosen);
            chosen.pop();
            unit += 1.0;
        }
    }

    /// Continuous features from `c` on, by include (greedy amount) or exclude.
    fn continuous(&mut self, c: usize, r: f64, cost: f64, chosen: &mut Vec<(usize, f64)>) {
        if r <= 0.0 {
            return self.record(cost, chosen);
        }
        if c == self.conts.len() || self.tick() {
            return;
        }
        let mut rest = r;
        let mut bound = cost;
        for m in &self.conts[c..] {
            let take = rest.min(m.max_gain(self.x[m.j]));
            bound += take / m.ratio();
            rest -= take;
        }
        if rest > 0.0 || bound >= self.best {
            return;
        }
        let m = self.conts[c];
        if chosen.len() < self.limit {
            let take = r.min(m.max_gain(self.x[m.j]));
            let value = if take >= m.room * m.gain {
                // The bound itself, not x ± room, so that no rounding crosses it.
                self.x[m.j] + m.dir * m.room
            } else {
                self.x[m.j] + m.dir * take / m.gain
            };
            chosen.push((m.j, value));
            self.continuous(c + 1, r - take, cost + take / m.ratio(), chosen);
            chosen.pop();
        }
        self.continuous(c + 1, r, cost, chosen);
    }

    fn record(&mut self, cost: f64, chosen: &[(usize, f64)]) {
        let gained: f64 = chosen
            .iter()
            .map(|&(j, v)| {
                let m = self.all.iter().find(|(m, _)| m.j == j).expect("a move").0;
                (v - self.x[j]).abs() * m.gain
            })
            .sum();
        if cost < self.best && gained <= self.slack {
            self.best = cost;
            let mut values = self.x.to_vec();
            for &(j, v) in chosen {
                values[j] = v;
            }
            self.best_values = Some(values);
        }
    }
}
