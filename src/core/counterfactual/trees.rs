//! Exact counterfactuals of tree ensembles by branch and bound over split intervals.
//!
//! A tree ensemble reads feature `j` only through its splits on `j`, so it is
//! constant on each interval between consecutive thresholds of `j` (and on each
//! category of a categorical feature). Within an interval, the point nearest the
//! instance (within the bounds, a whole number for integer features) is the cheapest
//! value for any cost that grows with the distance; so the candidates of a feature
//! are its own value and, for each interval, that nearest point. Every counterfactual
//! has a cheaper-or-equal one over candidates (replace each value by its interval's
//! candidate: same prediction, no dearer), so the cheapest over candidates is the
//! cheapest of all.
//!
//! The search fixes features one at a time, candidates in increasing cost. A node's
//! lower bound is its cost so far (the features left can keep their own values at no
//! cost); a node is also cut when no assignment of the features left can reach the
//! goal: per tree, the least and greatest leaf reachable given the fixed features
//! (and the directions the free features' candidates can take) bound each output.
//! Stopped by its token, it reports the least lower bound over the nodes it left
//! unexplored.

use super::{meets, raw_range, Goal, Problem, Solved};
use crate::core::models::trees::{Missing, Split, Tree};
use crate::core::models::{Model, TreeEnsemble};
use crate::core::Cancel;

/// A candidate value and its price.
#[derive(Debug, Clone, Copy)]
struct Cand {
    value: f64,
    cost: f64,
}

/// The cheapest change of `p` with the `frozen` features kept.
pub fn solve(m: &TreeEnsemble, p: &Problem, frozen: &[bool], cancel: &Cancel) -> Solved {
    let n = p.instance.len();
    let cands: Vec<Vec<Cand>> = (0..n).map(|j| candidates(m, p, frozen, j)).collect();
    let mut order: Vec<usize> = (0..n).filter(|&j| cands[j].len() > 1).collect();
    let splits = split_counts(m, n);
    order.sort_by(|&a, &b| splits[b].cmp(&splits[a]).then(a.cmp(&b)));
    let mut s = Search {
        m,
        p,
        target: target_of(m, &p.goal),
        cands: &cands,
        order: &order,
        cancel,
        values: p.instance.clone(),
        decided: vec![false; n],
        best: f64::INFINITY,
        best_values: None,
        frontier: f64::INFINITY,
        aborted: false,
        nodes: 0,
    };
    for j in (0..n).filter(|&j| cands[j].len() <= 1) {
        s.decided[j] = true;
    }
    s.node(0, 0.0, 0);
    let bound = if s.aborted {
        s.frontier.min(s.best)
    } else {
        s.best
    };
    Solved {
        best: s.best_values,
        bound,
        complete: !s.aborted,
    }
}

/// The goal on raw outputs: an interval on one output, or a class.
#[derive(Debug, Clone, Copy)]
enum Target {
    Range(usize, f64, f64),
    Class(usize),
}

fn target_of(m: &TreeEnsemble, goal: &Goal) -> Target {
    match raw_range(goal, m.link(), m.n_outputs()) {
        Some((k, lo, hi)) => Target::Range(k, lo, hi),
        None => match goal {
            Goal::Class(c) => Target::Class(*c),
            Goal::Range { .. } => unreachable!("dispatched to the tree search"),
        },
    }
}

fn split_counts(m: &TreeEnsemble, n: usize) -> Vec<usize> {
    let mut counts = vec![0; n];
    for node in m.trees().iter().flat_map(|t| &t.nodes) {
        if let Some(f) = node.feature {
            counts[f] += 1;
        }
    }
    counts
}

/// The candidates of feature `j`, own value first, by increasing cost.
fn candidates(m: &TreeEnsemble, p: &Problem, frozen: &[bool], j: usize) -> Vec<Cand> {
    let d = &p.domains[j];
    let x = p.instance[j];
    let own = Cand {
        value: x,
        cost: 0.0,
    };
    if frozen[j] || d.immutable || x.is_nan() {
        return vec![own];
    }
    let values: Vec<f64> = match &d.categories {
        Some(codes) => codes.clone(),
        None => nearest_points(m.trees(), j, x, d.lo, d.hi, d.integer),
    };
    let mut out = vec![own];
    for v in values {
        if v != x && !out.iter().any(|c| c.value == v) {
            out.push(Cand {
                value: v,
                cost: p.cost.of(j, d, x, v),
            });
        }
    }
    out[1..].sort_by(|a, b| a.cost.total_cmp(&b.cost).then(a.value.total_cmp(&b.value)));
    out
}

/// Per interval between the thresholds of feature `j`'s numeric splits, the point
/// nearest `x` within `[lo, hi]` (whole for integer features).
pub fn nearest_points(
    trees: &[Tree],
    j: usize,
    x: f64,
    lo: f64,
    hi: f64,
    integer: bool,
) -> Vec<f64> {
    // Each cut as (largest value going left, smallest value going right).
    let mut cuts: Vec<(f64, f64)> = Vec::new();
    for node in trees.iter().flat_map(|t| &t.nodes) {
        if node.feature != Some(j) {
            continue;
        }
        match &node.split {
            Some(Split::LessThanF32 { threshold }) => {
                cuts.push((below_f32(*threshold), f64::from(*threshold)));
            }
            Some(Split::LessOrEqualF32 { threshold }) => {
                if let Some(last) = last_at_most_f32(*threshold) {
                    cuts.push((last, next_up(last)));
                }
            }
            Some(Split::InSetF32 { values }) => {
                // Each listed float32 value is an interval of f64 values of its own.
                for &v in values {
                    let before = below_f32(v);
                    cuts.push((before, next_up(before)));
                    if let Some(last) = last_at_most_f32(v) {
                        cuts.push((last, next_up(last)));
                    }
                }
            }
            Some(Split::LessOrEqual { threshold, missing }) => {
                cuts.push((*threshold, next_up(*threshold)));
                if *missing == Missing::ZeroDefault {
                    // |x| ≤ 1e-35 is "missing": its own interval.
                    cuts.push((next_down(-1e-35), -1e-35));
                    cuts.push((1e-35, next_up(1e-35)));
                }
            }
            _ => {}
        }
    }
    cuts.sort_by(|a, b| a.0.total_cmp(&b.0));
    cuts.dedup();
    let mut ends = vec![(f64::NEG_INFINITY, f64::INFINITY)];
    for &(left, right) in &cuts {
        let last = ends.last_mut().expect("never empty");
        last.1 = left;
        ends.push((right, f64::INFINITY));
    }
    ends.into_iter()
        .filter_map(|(a, b)| {
            let (mut a, mut b) = (a.max(lo), b.min(hi));
            if integer {
                a = a.ceil();
                b = b.floor();
            }
            (a <= b).then(|| x.clamp(a, b))
        })
        .collect()
}

/// The largest f64 whose float32 rounding is at most `t` (ONNX's float32 `<=`);
/// `None` when every finite value is (t is float32's largest).
fn last_at_most_f32(t: f32) -> Option<f64> {
    let up = if t == 0.0 {
        f32::from_bits(1)
    } else if t > 0.0 {
        f32::from_bits(t.to_bits() + 1)
    } else {
        f32::from_bits(t.to_bits() - 1)
    };
    up.is_finite().then(|| below_f32(up))
}

/// The largest f64 whose float32 rounding is below `t`: XGBoost's `(v as f32) < t`.
fn below_f32(t: f32) -> f64 {
    let prev = f64::from(f32::from_bits(if t > 0.0 {
        t.to_bits() - 1
    } else if t < 0.0 {
        t.to_bits() + 1
    } else {
        (-f32::from_bits(1)).to_bits()
    }));
    // Values up to the midpoint round down to `prev` (ties to even).
    let mid = (prev + f64::from(t)) / 2.0;
    let v = if (mid as f32) < t {
        mid
    } else {
        next_down(mid)
    };
    debug_assert!((v as f32) < t && (next_up(v) as f32) >= t);
    v
}

/// The least f64 above `v` (finite `v`; `f64::next_up` needs Rust 1.86).
pub fn next_up(v: f64) -> f64 {
    if v == 0.0 {
        f64::from_bits(1)
    } else if v > 0.0 {
        f64::from_bits(v.to_bits() + 1)
    } else {
        f64::from_bits(v.to_bits() - 1)
    }
}

/// The greatest f64 below `v` (finite `v`).
pub fn next_down(v: f64) -> f64 {
    -next_up(-v)
}

struct Search<'a> {
    m: &'a TreeEnsemble,
    p: &'a Problem,
    target: Target,
    cands: &'a [Vec<Cand>],
    order: &'a [usize],
    cancel: &'a Cancel,
    /// The current assignment (undecided features at their own value).
    values: Vec<f64>,
    decided: Vec<bool>,
    best: f64,
    best_values: Option<Vec<f64>>,
    /// Least lower bound over nodes left unexplored when stopped.
    frontier: f64,
    aborted: bool,
    nodes: u64,
}

impl Search<'_> {
    /// Explore the node where `order[..depth]` are fixed, at `cost` with `changes`.
    fn node(&mut self, depth: usize, cost: f64, changes: usize) {
        self.nodes += 1;
        if self.nodes % 64 == 1 && self.cancel.is_cancelled() {
            self.aborted = true;
        }
        if self.aborted {
            self.frontier = self.frontier.min(cost);
            return;
        }
        // The cheapest completion keeps every feature left at its own value.
        let raw: Vec<f64> = (0..self.m.n_outputs())
            .map(|k| self.m.margin_of(&self.values, k))
            .collect();
        if meets(&self.p.goal, self.m.link(), &raw) {
            if cost < self.best {
                self.best = cost;
                self.best_values = Some(self.values.clone());
            }
            return;
        }
        if depth == self.order.len()
            || self.p.max_changes.is_some_and(|mc| changes >= mc)
            || !self.reachable()
        {
            return;
        }
        let j = self.order[depth];
        self.decided[j] = true;
        let own = self.values[j];
        let cands = &self.cands[j];
        // The own value first (no cost), then changes by increasing cost.
        for c in cands {
            if cost + c.cost >= self.best {
                break;
            }
            if self.aborted {
                self.frontier = self.frontier.min(cost + c.cost);
                break;
            }
            self.values[j] = c.value;
            self.node(
                depth + 1,
                cost + c.cost,
                changes + usize::from(c.value != own),
            );
        }
        self.values[j] = own;
        self.decided[j] = false;
    }

    /// Whether some completion of the decided features could meet the goal.
    fn reachable(&self) -> bool {
        let outputs = self.m.n_outputs();
        let mut lo: Vec<f64> = self.m.base().to_vec();
        let mut hi = lo.clone();
        for tree in self.m.trees() {
            let (a, b) = self.leaf_range(tree);
            lo[tree.output] += a;
            hi[tree.output] += b;
        }
        match self.target {
            Target::Range(k, a, b) => hi[k] >= a && lo[k] <= b,
            Target::Class(c) => (0..outputs).all(|k| k == c || hi[c] >= lo[k]),
        }
    }

    /// Least and greatest leaf of `tree` reachable: decided features go their own
    /// way, free ones every way one of their candidates goes.
    fn leaf_range(&self, tree: &Tree) -> (f64, f64) {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            let node = &tree.nodes[i];
            let (Some(f), Some(l), Some(r)) = (node.feature, node.left, node.right) else {
                lo = lo.min(node.value);
                hi = hi.max(node.value);
                continue;
            };
            if self.decided[f] {
                stack.push(if node.goes_left(self.values[f]) { l } else { r });
            } else {
                let cands = &self.cands[f];
                if cands.iter().any(|c| node.goes_left(c.value)) {
                    stack.push(l);
                }
                if cands.iter().any(|c| !node.goes_left(c.value)) {
                    stack.push(r);
                }
            }
        }
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::trees::Node;

    /// ONNX's float32 splits (`<=`, value sets): the candidate points reach both
    /// sides of every split, so the search can cross them.
    #[test]
    fn float32_splits_give_points_on_each_side() {
        let node = |split: Split| Tree {
            nodes: vec![
                Node {
                    feature: Some(0),
                    split: Some(split),
                    default_left: false,
                    left: Some(1),
                    right: Some(2),
                    cover: 1.0,
                    value: 0.0,
                    gain: 0.0,
                },
                Node::leaf(0.0, 1.0),
                Node::leaf(1.0, 1.0),
            ],
            output: 0,
        };
        for t in [0.3f32, -1.7, 0.0, 2.5e6] {
            let trees = [node(Split::LessOrEqualF32 { threshold: t })];
            let points = nearest_points(&trees, 0, f64::from(t) - 1.0, -1e9, 1e9, false);
            let n = &trees[0].nodes[0];
            assert!(points.iter().any(|&p| n.goes_left(p)), "{t}: {points:?}");
            assert!(points.iter().any(|&p| !n.goes_left(p)), "{t}: {points:?}");
            let far = nearest_points(&trees, 0, f64::from(t) + 1.0, -1e9, 1e9, false);
            assert!(far.iter().any(|&p| n.goes_left(p)), "{t}: {far:?}");
        }
        let trees = [node(Split::InSetF32 {
            values: vec![-2.0, 3.5],
        })];
        let n = &trees[0].nodes[0];
        let points = nearest_points(&trees, 0, 0.0, -10.0, 10.0, false);
        for v in [-2.0f32, 3.5] {
            assert!(
                points.iter().any(|&p| p as f32 == v && n.goes_left(p)),
                "{points:?}"
            );
        }
        assert!(points.iter().any(|&p| !n.goes_left(p)), "{points:?}");
    }

    #[test]
    fn below_f32_is_the_last_value_going_left() {
        for t in [0.5f32, 1.0e-3, -2.75, 1234.5678] {
            let v = below_f32(t);
            assert!((v as f32) < t);
            assert!((next_up(v) as f32) >= t);
        }
    }
}
