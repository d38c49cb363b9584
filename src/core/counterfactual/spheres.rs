//! Counterfactuals of any model: growing spheres (Laugel, Lesot, Marsala, Renard and
//! Detyniecki, "Comparison-based inverse classification for interpretability in
//! machine learning", IPMU 2018).
//!
//! Distances are measured with the cost's weights (a unit of feature `j` is `1/wⱼ`,
//! e.g. one MAD), over the features that may change. First a ball small enough to
//! hold no point that meets the goal is found by halving the radius; then shells of
//! growing radius around it are sampled uniformly until some points meet the goal;
//! the cheapest is kept. The paper's feature selection then puts features back to
//! their own values, smallest (weighted) change first, while the goal still holds.
//! Last, the numeric changes are pulled back toward the instance while the goal
//! holds: all of them together, then each alone, largest (weighted) first, each by
//! bisection along its segment (`PULL_STEPS` halvings; integer features by whole
//! units). A shell's point lies up to its width past the boundary, so without this
//! the answer cost up to about a fifth more than the nearest point of the boundary
//! along the same direction.
//!
//! With `max_changes = k` below the number of features that may change, every point
//! is drawn on a *support* of `k` features (the others keep their values), uniformly
//! in the `k`-dimensional shell: every support in turn when there are at most 256
//! of them (the points per shell), a random one per point otherwise. Sampling the
//! whole space and sparsifying afterwards can miss a `k`-feature answer: the first
//! shell that meets the goal may only do so by moving more features together than `k`.
//!
//! Sampled points are clipped to the bounds and rounded for integer features; a
//! categorical feature takes a random allowed category with a probability that grows
//! with the radius. Seeded: the same problem gives the same answer. Not exact:
//! `optimal` is false and the bound is the trivial 0.

use ndarray::Array2;
use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{changed, meets, Problem, Solved};
use crate::core::models::Model;
use crate::core::Cancel;

/// Points per ball or shell.
const SAMPLES: usize = 256;
/// Most halvings of the first radius, and most shells.
const STEPS: usize = 48;
/// Halvings of each pull-back toward the instance: the change kept is known to
/// about 2⁻²⁰ of what it was.
const PULL_STEPS: usize = 20;

/// A counterfactual of `p` with the `frozen` features kept (not proved minimal).
pub fn solve(model: &dyn Model, p: &Problem, frozen: &[bool], cancel: &Cancel) -> Solved {
    let mutable: Vec<usize> = (0..p.instance.len())
        .filter(|&j| !frozen[j] && !p.domains[j].immutable && !p.instance[j].is_nan())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut best = None;
    if !mutable.is_empty() {
        let size = p
            .max_changes
            .map_or(mutable.len(), |k| k.min(mutable.len()));
        let sampler = Sampler {
            model,
            p,
            mutable: &mutable,
            supports: Supports::of(mutable.len(), size),
        };
        let mut radius = 1.0;
        for _ in 0..STEPS {
            if sampler.layer(&mut rng, 0.0, radius).is_none() || cancel.is_cancelled() {
                break;
            }
            radius /= 2.0;
        }
        let mut inner = radius;
        let mut width = radius;
        for _ in 0..STEPS {
            if cancel.is_cancelled() {
                break;
            }
            if let Some(found) = sampler.layer(&mut rng, inner, inner + width) {
                best = sampler
                    .sparsify(found)
                    .map(|row| sampler.pull_back(row, cancel));
                break;
            }
            inner += width;
            width *= 1.5;
        }
    }
    Solved {
        best,
        bound: 0.0,
        complete: false,
    }
}

struct Sampler<'a> {
    model: &'a dyn Model,
    p: &'a Problem,
    /// The features that may change.
    mutable: &'a [usize],
    /// Which of them each point moves.
    supports: Supports,
}

/// The sets of features a point may move (positions in `mutable`).
#[derive(Debug, PartialEq)]
enum Supports {
    /// All of them: no `max_changes` below their number.
    All,
    /// Each of these in turn (every `k`-subset, there being at most [`SAMPLES`]).
    Each(Vec<Vec<usize>>),
    /// A random `k`-subset of `n` per point.
    Random { n: usize, k: usize },
}

impl Supports {
    /// The supports of `k` of `n` features.
    fn of(n: usize, k: usize) -> Self {
        if k >= n {
            return Supports::All;
        }
        // C(n, k) = C(n, n − k) grows with its lower index up to n / 2, so the
        // product below passes SAMPLES on its way exactly when C(n, k) is past it.
        let mut count: usize = 1;
        for i in 0..k.min(n - k) {
            count = count * (n - i) / (i + 1);
            if count > SAMPLES {
                return Supports::Random { n, k };
            }
        }
        let mut all = Vec::with_capacity(count);
        let mut pick: Vec<usize> = (0..k).collect();
        loop {
            all.push(pick.clone());
            // The next k-subset in lexicographic order.
            let Some(i) = (0..k).rev().find(|&i| pick[i] < n - k + i) else {
                return Supports::Each(all);
            };
            pick[i] += 1;
            for t in i + 1..k {
                pick[t] = pick[t - 1] + 1;
            }
        }
    }

    /// The support of the `i`-th point of a layer, as positions in `mutable`.
    fn get(&self, i: usize, mutable: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        match self {
            Supports::All => (0..mutable).collect(),
            Supports::Each(all) => all[i % all.len()].clone(),
            Supports::Random { n, k } => index::sample(rng, *n, *k).into_vec(),
        }
    }
}

impl Sampler<'_> {
    /// The cheapest of `SAMPLES` points drawn uniformly from the shell between radii
    /// `a` and `b` that meets the goal, if any.
    fn layer(&self, rng: &mut ChaCha8Rng, a: f64, b: f64) -> Option<Vec<f64>> {
        let p = self.p;
        let n = p.instance.len();
        let mut rows = Array2::<f64>::zeros((SAMPLES, n));
        for (i, mut row) in rows.rows_mut().into_iter().enumerate() {
            let support = self.supports.get(i, self.mutable.len(), rng);
            let dim = support.len() as f64;
            let dir: Vec<f64> = support.iter().map(|_| StandardNormal.sample(rng)).collect();
            let norm = dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
            let u: f64 = rng.random();
            // Uniform in the shell: the radius's d-th power is uniform.
            let r = (a.powf(dim) + u * (b.powf(dim) - a.powf(dim))).powf(1.0 / dim);
            let r = if r.is_finite() { r } else { b };
            row.assign(&ndarray::ArrayView1::from(&p.instance));
            for (&s, z) in support.iter().zip(&dir) {
                let j = self.mutable[s];
                let d = &p.domains[j];
                row[j] = match &d.categories {
                    Some(codes) if !codes.is_empty() => {
                        if rng.random::<f64>() < (r / 4.0).min(0.5) {
                            codes[rng.random_range(0..codes.len())]
                        } else {
                            p.instance[j]
                        }
                    }
                    Some(_) => p.instance[j],
                    None => {
                        let v = p.instance[j] + z / norm * r / p.cost.weights[j];
                        // Bounds hold the whole own value, so ceil(lo) ≤ floor(hi).
                        if d.integer {
                            v.round().clamp(d.lo.ceil(), d.hi.floor())
                        } else {
                            v.clamp(d.lo, d.hi)
                        }
                    }
                };
            }
        }
        let raw = self.model.predict_raw(rows.view());
        let link = self.model.link();
        rows.rows()
            .into_iter()
            .zip(raw.rows())
            .filter(|(_, out)| meets(&p.goal, link, out.as_slice().expect("a standard row")))
            .map(|(row, _)| row.to_vec())
            .map(|row| (p.cost.total(&p.domains, &p.instance, &row), row))
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, row)| row)
    }

    /// Put features back, smallest weighted change first, while the goal holds; then
    /// refuse the answer if it still changes more than `max_changes`.
    fn sparsify(&self, mut row: Vec<f64>) -> Option<Vec<f64>> {
        let p = self.p;
        let mut order = changed(&p.instance, &row);
        // The weighted size of a change, a category change weighing its weight (as
        // under L1; under L0 every change counts one and would leave no order).
        let size = |j: usize| match p.domains[j].categories {
            Some(_) => p.cost.weights[j],
            None => p.cost.weights[j] * (row[j] - p.instance[j]).abs(),
        };
        order.sort_by(|&a, &b| size(a).total_cmp(&size(b)));
        for j in order {
            let kept = row[j];
            row[j] = p.instance[j];
            if !self.holds(&row) {
                row[j] = kept;
            }
        }
        let changes = changed(&p.instance, &row).len();
        p.max_changes.is_none_or(|m| changes <= m).then_some(row)
    }

    /// Whether `row` meets the goal.
    fn holds(&self, row: &[f64]) -> bool {
        let x = Array2::from_shape_vec((1, row.len()), row.to_vec()).expect("one row");
        let raw = self.model.predict_raw(x.view());
        let out = raw.row(0);
        meets(
            &self.p.goal,
            self.model.link(),
            out.as_slice().expect("a row"),
        )
    }

    /// Pull `row`'s numeric changes back toward the instance while the goal holds
    /// (module doc): every change scaled by one factor, then each alone (put back
    /// whole when the goal allows). Never moves a feature past its own value or the
    /// answer off the goal.
    fn pull_back(&self, mut row: Vec<f64>, cancel: &Cancel) -> Vec<f64> {
        let p = self.p;
        let numeric: Vec<usize> = changed(&p.instance, &row)
            .into_iter()
            .filter(|&j| p.domains[j].categories.is_none())
            .collect();
        if numeric.is_empty() {
            return row;
        }
        row = self.bisect(&row, &numeric);
        let mut order = numeric;
        let size = |j: usize, row: &[f64]| p.cost.weights[j] * (row[j] - p.instance[j]).abs();
        order.sort_by(|&a, &b| size(b, &row).total_cmp(&size(a, &row)));
        for j in order {
            if cancel.is_cancelled() {
                break;
            }
            // Its own value first: after the joint pull a change may not be needed.
            let kept = row[j];
            row[j] = p.instance[j];
            if !self.holds(&row) {
                row[j] = kept;
                row = self.bisect(&row, &[j]);
            }
        }
        row
    }

    /// `row` with the changes of `features` scaled by the least fraction in (0, 1]
    /// that bisection finds still meeting the goal (`row` itself meets it).
    fn bisect(&self, row: &[f64], features: &[usize]) -> Vec<f64> {
        let p = self.p;
        let at = |t: f64| {
            let mut r = row.to_vec();
            for &j in features {
                let (own, to) = (p.instance[j], row[j]);
                let v = own + t * (to - own);
                // Integers by whole units, rounded away from the own value so the
                // fraction never undershoots.
                r[j] = if p.domains[j].integer {
                    if to > own {
                        v.ceil()
                    } else {
                        v.floor()
                    }
                } else {
                    v
                };
            }
            r
        };
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..PULL_STEPS {
            let mid = 0.5 * (lo + hi);
            if self.holds(&at(mid)) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        at(hi)
    }
}

#[cfg(test)]
mod tests;
