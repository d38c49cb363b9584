//! Counterfactuals: the cheapest change of an instance that moves the model's answer
//! into a target, under constraints (Wachter, Mittelstadt and Russell 2017).
//!
//! A [`Problem`] holds the instance, the [`Goal`], one [`Domain`] per feature (its
//! bounds, whether it is integer, categorical or immutable), the [`CostModel`] and
//! `max_changes`. [`solve`] picks the solver the model allows:
//! - [`linear`]: linear and binary logistic models, exact (a knapsack per support),
//!   and a raw range on one margin of a multinomial one. A multinomial class (the
//!   largest of several margins: several linear constraints at once) or probability
//!   range (through the softmax) is not one interval on one margin: growing spheres;
//! - [`trees`]: tree ensembles, exact branch and bound over split intervals;
//! - [`spheres`]: any model, growing spheres (Laugel et al. 2018), not exact.
//!
//! Every candidate is predicted by the model and checked ([`check`]) before it is
//! returned. A feature may always keep its own value: bounds say where it may move.
//!
//! # Diversity (`count > 1`)
//! The k-th counterfactual is the cheapest one that, for every earlier one, leaves
//! unchanged at least one feature the earlier one changed: it never changes a
//! superset of an earlier one's features. It is found by freezing one changed
//! feature of each earlier answer, for every such choice, and keeping the cheapest;
//! so it is exact when the solver is.

mod check;
pub mod linear;
pub mod spheres;
pub mod trees;

use std::collections::BTreeSet;

pub use check::{argmax_first, check, meets, predict_in_goal_space, raw_range};

use super::models::{HostedModel, OutputSpace};
use super::Cancel;

/// What the answer must become.
#[derive(Debug, Clone, PartialEq)]
pub enum Goal {
    /// `lo ≤ output ≤ hi` in `space` (a regression value, a margin or a probability).
    Range {
        /// Which output.
        output: usize,
        /// The space `lo` and `hi` are in.
        space: OutputSpace,
        /// Lower end (may be −∞).
        lo: f64,
        /// Upper end (may be +∞).
        hi: f64,
    },
    /// A multi-output classifier predicts this class: it has the largest raw output
    /// (the first largest on ties).
    Class(usize),
}

/// What one feature may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// Lowest value (widened to the instance's own value).
    pub lo: f64,
    /// Highest value (widened to the instance's own value).
    pub hi: f64,
    /// Only whole numbers.
    pub integer: bool,
    /// A categorical feature: the codes it may take (its own code always allowed).
    pub categories: Option<Vec<f64>>,
    /// Must keep its own value.
    pub immutable: bool,
}

impl Domain {
    /// A free numeric feature.
    pub fn free() -> Self {
        Domain {
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            integer: false,
            categories: None,
            immutable: false,
        }
    }

    /// Whether `v` is allowed, `own` being the instance's value.
    pub fn allows(&self, v: f64, own: f64) -> bool {
        if same(v, own) {
            return true;
        }
        if self.immutable || !v.is_finite() {
            return false;
        }
        match &self.categories {
            Some(codes) => codes.contains(&v),
            None => self.lo <= v && v <= self.hi && (!self.integer || v.fract() == 0.0),
        }
    }
}

/// Equal values, NaN equal to NaN (a missing value kept as it is).
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// How a change is priced.
#[derive(Debug, Clone, PartialEq)]
pub struct CostModel {
    /// Per-feature price of a unit change (L1); for L0, the tie-break among changes
    /// of equal count. Positive and finite.
    pub weights: Vec<f64>,
    /// Count changed features instead of weighing them.
    pub l0: bool,
}

impl CostModel {
    /// The price of moving feature `j` of domain `d` from `from` to `to`: L0 counts
    /// one; a categorical change costs its weight; otherwise weight × distance.
    pub fn of(&self, j: usize, d: &Domain, from: f64, to: f64) -> f64 {
        if same(from, to) {
            0.0
        } else if self.l0 {
            1.0
        } else if d.categories.is_some() {
            self.weights[j]
        } else {
            self.weights[j] * (to - from).abs()
        }
    }

    /// The price of a whole row.
    pub fn total(&self, domains: &[Domain], from: &[f64], to: &[f64]) -> f64 {
        (0..from.len())
            .map(|j| self.of(j, &domains[j], from[j], to[j]))
            .sum()
    }
}

/// The L1-MAD weights: 1 / median absolute deviation of each column of the
/// background (NaN skipped), a zero or unknown MAD counting as 1.
pub fn mad_weights(background: ndarray::ArrayView2<f64>) -> Vec<f64> {
    background
        .columns()
        .into_iter()
        .map(|col| {
            let finite: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
            let mad = median(finite.clone())
                .and_then(|m| median(finite.iter().map(|v| (v - m).abs()).collect()));
            match mad {
                Some(m) if m > 0.0 && (1.0 / m).is_finite() => 1.0 / m,
                _ => 1.0,
            }
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// A counterfactual search, validated by the caller (see the HTTP layer).
#[derive(Debug, Clone)]
pub struct Problem {
    /// The instance, one value per feature (categories as codes).
    pub instance: Vec<f64>,
    /// The answer wanted.
    pub goal: Goal,
    /// One per feature.
    pub domains: Vec<Domain>,
    /// How changes are priced.
    pub cost: CostModel,
    /// Most features changed.
    pub max_changes: Option<usize>,
    /// How many counterfactuals (see the module doc, "Diversity").
    pub count: usize,
    /// Seed of the model-agnostic search.
    pub seed: u64,
}

/// The solver that answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// [`linear`]: exact on a goal that is one interval on one margin of a linear or
    /// logistic model (not a multinomial class, see [`method_for`]).
    Linear,
    /// [`trees`]: exact branch and bound on tree ensembles.
    TreeSearch,
    /// [`spheres`]: growing spheres, any model.
    GrowingSpheres,
}

impl Method {
    /// The name answers carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Linear => "linear_exact",
            Method::TreeSearch => "tree_branch_and_bound",
            Method::GrowingSpheres => "growing_spheres",
        }
    }
}

/// One checked counterfactual.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The changed instance.
    pub values: Vec<f64>,
    /// The model's outputs on it, in the goal's space (probabilities for a class).
    pub prediction: Vec<f64>,
    /// Its price under the problem's cost.
    pub cost: f64,
}

/// What [`solve`] answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Counterfactuals, cheapest first (see "Diversity").
    pub found: Vec<Found>,
    /// Every search finished: each answer is the cheapest its rule allows.
    pub optimal: bool,
    /// Proved lower bound on the cost of the cheapest counterfactual; `None` when
    /// none exists (infeasible).
    pub bound: Option<f64>,
    /// The solver.
    pub method: Method,
    /// Proved that no counterfactual meets the constraints.
    pub infeasible: bool,
}

/// What a solver answers for one search with some features frozen.
#[derive(Debug, Clone, PartialEq)]
pub struct Solved {
    /// The best row found.
    pub best: Option<Vec<f64>>,
    /// Lower bound on the cost of any solution (+∞ when proved none).
    pub bound: f64,
    /// The search finished, so `best` is optimal (or none exists).
    pub complete: bool,
}

/// Which solver answers this pairing of model and goal: the exact ones when the goal
/// is one interval on one raw output ([`raw_range`]; for trees a class too), growing
/// spheres otherwise (a multinomial logistic model's class or probability included).
pub fn method_for(model: &HostedModel, goal: &Goal) -> Method {
    let m = model.as_model();
    let ranged = raw_range(goal, m.link(), m.n_outputs()).is_some();
    match model {
        HostedModel::Linear(_) if ranged => Method::Linear,
        HostedModel::Trees(_) if ranged || matches!(goal, Goal::Class(_)) => Method::TreeSearch,
        _ => Method::GrowingSpheres,
    }
}

/// Find up to `p.count` counterfactuals (module doc). Stops at `cancel` (its
/// deadline included) with the best found and the bound proved so far.
pub fn solve(model: &HostedModel, p: &Problem, cancel: &Cancel) -> Outcome {
    let method = method_for(model, &p.goal);
    let run = |frozen: &[bool]| -> Solved {
        match (method, model) {
            (Method::Linear, HostedModel::Linear(m)) => linear::solve(m, p, frozen, cancel),
            (Method::TreeSearch, HostedModel::Trees(m)) => trees::solve(m, p, frozen, cancel),
            _ => spheres::solve(model.as_model(), p, frozen, cancel),
        }
    };
    let n = p.instance.len();
    let first = run(&vec![false; n]);
    let mut outcome = Outcome {
        found: Vec::new(),
        optimal: first.complete && method != Method::GrowingSpheres,
        bound: (first.bound.is_finite()).then_some(first.bound.max(0.0)),
        method,
        infeasible: first.complete && first.best.is_none(),
    };
    let mut next = first.best;
    while let Some(values) = next.take() {
        match check(model.as_model(), p, &values) {
            Ok(found) => outcome.found.push(found),
            Err(_) => {
                outcome.optimal = false;
                break;
            }
        }
        if outcome.found.len() >= p.count || cancel.is_cancelled() {
            break;
        }
        let supports: Vec<Vec<usize>> = outcome
            .found
            .iter()
            .map(|f| changed(&p.instance, &f.values))
            .collect();
        let mut best: Option<(f64, Vec<f64>)> = None;
        for frozen in frozen_choices(&supports) {
            let mut mask = vec![false; n];
            for j in frozen {
                mask[j] = true;
            }
            let s = run(&mask);
            outcome.optimal &= s.complete;
            if let Some(v) = s.best {
                let c = p.cost.total(&p.domains, &p.instance, &v);
                if best.as_ref().is_none_or(|(b, _)| c < *b) {
                    best = Some((c, v));
                }
            }
        }
        next = best.map(|(_, v)| v);
    }
    outcome.found.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    if outcome.found.is_empty() && !outcome.infeasible {
        outcome.optimal = false;
    }
    outcome
}

/// The features `to` changes from `from`.
pub fn changed(from: &[f64], to: &[f64]) -> Vec<usize> {
    (0..from.len()).filter(|&j| !same(from[j], to[j])).collect()
}

/// Every set made of one feature of each support, deduplicated.
fn frozen_choices(supports: &[Vec<usize>]) -> BTreeSet<BTreeSet<usize>> {
    let mut sets: BTreeSet<BTreeSet<usize>> = BTreeSet::from([BTreeSet::new()]);
    for support in supports {
        sets = sets
            .iter()
            .flat_map(|s| {
                support.iter().map(move |&j| {
                    let mut t = s.clone();
                    t.insert(j);
                    t
                })
            })
            .collect();
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn mad_weights_count_a_zero_mad_as_one() {
        // Column 0: median 3, deviations 2 1 0 1 6 -> MAD 1; column 1 is constant.
        let x = array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0], [9.0, 5.0]];
        assert_eq!(mad_weights(x.view()), vec![1.0, 1.0]);
        let y = array![[0.0], [2.0], [4.0], [6.0], [8.0]];
        // Median 4, deviations 4 2 0 2 4 -> MAD 2 -> weight 1/2.
        assert_eq!(mad_weights(y.view()), vec![0.5]);
    }

    #[test]
    fn frozen_choices_take_one_feature_of_each_support() {
        let sets = frozen_choices(&[vec![0, 1], vec![1, 2]]);
        let want: BTreeSet<BTreeSet<usize>> = [vec![0, 1], vec![0, 2], vec![1], vec![1, 2]]
            .into_iter()
            .map(|v| v.into_iter().collect())
            .collect();
        assert_eq!(sets, want);
    }
}
