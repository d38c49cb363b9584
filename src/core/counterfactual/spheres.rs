//! Counterfactuals of any model: growing spheres (Laugel, Lesot, Marsala, Renard and
//! Detyniecki, "Comparison-based inverse classification for interpretability in
//! machine learning", IPMU 2018).
//!
//! Distances are measured with the cost's weights (a unit of feature `j` is `1/wⱼ`,
//! e.g. one MAD), over the features that may change. First a ball small enough to
//! hold no point that meets the goal is found by halving the radius; then shells of
//! growing radius around it are sampled uniformly until some points meet the goal;
//! the cheapest is kept. A sparsification pass then puts features back to their own
//! values, smallest change first, while the goal still holds (and `max_changes`
//! asks for it). Sampled points are clipped to the bounds and rounded for integer
//! features; a categorical feature takes a random allowed category with a
//! probability that grows with the radius. Seeded: the same problem gives the same
//! answer. Not exact: `optimal` is false and the bound is the trivial 0.

use ndarray::Array2;
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

/// A counterfactual of `p` with the `frozen` features kept (not proved minimal).
pub fn solve(model: &dyn Model, p: &Problem, frozen: &[bool], cancel: &Cancel) -> Solved {
    let mutable: Vec<usize> = (0..p.instance.len())
        .filter(|&j| !frozen[j] && !p.domains[j].immutable && !p.instance[j].is_nan())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut best = None;
    if !mutable.is_empty() {
        let sampler = Sampler {
            model,
            p,
            mutable: &mutable,
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
                best = sampler.sparsify(found);
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
    mutable: &'a [usize],
}

impl Sampler<'_> {
    /// The cheapest of `SAMPLES` points drawn uniformly from the shell between radii
    /// `a` and `b` that meets the goal, if any.
    fn layer(&self, rng: &mut ChaCha8Rng, a: f64, b: f64) -> Option<Vec<f64>> {
        let p = self.p;
        let n = p.instance.len();
        let dim = self.mutable.len() as f64;
        let mut rows = Array2::<f64>::zeros((SAMPLES, n));
        for mut row in rows.rows_mut() {
            let dir: Vec<f64> = self
                .mutable
                .iter()
                .map(|_| StandardNormal.sample(rng))
                .collect();
            let norm = dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
            let u: f64 = rng.random();
            // Uniform in the shell: the radius's d-th power is uniform.
            let r = (a.powf(dim) + u * (b.powf(dim) - a.powf(dim))).powf(1.0 / dim);
            let r = if r.is_finite() { r } else { b };
            row.assign(&ndarray::ArrayView1::from(&p.instance));
            for (&j, z) in self.mutable.iter().zip(&dir) {
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
        order.sort_by(|&a, &b| {
            let ca = p.cost.weights[a] * (row[a] - p.instance[a]).abs();
            let cb = p.cost.weights[b] * (row[b] - p.instance[b]).abs();
            ca.total_cmp(&cb)
        });
        for j in order {
            let kept = row[j];
            row[j] = p.instance[j];
            let x = Array2::from_shape_vec((1, row.len()), row.clone()).expect("one row");
            let raw = self.model.predict_raw(x.view());
            if !meets(
                &p.goal,
                self.model.link(),
                raw.row(0).as_slice().expect("a row"),
            ) {
                row[j] = kept;
            }
        }
        let changes = changed(&p.instance, &row).len();
        p.max_changes.is_none_or(|m| changes <= m).then_some(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::counterfactual::{CostModel, Domain, Goal};
    use crate::core::models::{Link, OutputSpace};
    use ndarray::ArrayView2;

    /// f(x) = x₀.
    struct Identity;

    impl Model for Identity {
        fn n_features(&self) -> usize {
            1
        }
        fn n_outputs(&self) -> usize {
            1
        }
        fn link(&self) -> Link {
            Link::Identity
        }
        fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
            x.to_owned()
        }
    }

    #[test]
    fn integer_samples_stay_whole_inside_fractional_bounds() {
        // Whole values in [0, 1.7] are 0 and 1, neither reaches 1.2: no answer, and
        // never the clamped 1.7.
        let p = Problem {
            instance: vec![0.0],
            goal: Goal::Range {
                output: 0,
                space: OutputSpace::Raw,
                lo: 1.2,
                hi: f64::INFINITY,
            },
            domains: vec![Domain {
                lo: 0.0,
                hi: 1.7,
                integer: true,
                ..Domain::free()
            }],
            cost: CostModel {
                weights: vec![1.0],
                l0: false,
            },
            max_changes: None,
            count: 1,
            seed: 3,
        };
        let got = solve(&Identity, &p, &[false], &Cancel::never());
        assert_eq!(got.best, None);
    }
}
