//! Permutation importance (Breiman 2001, "Random Forests", Machine Learning 45;
//! model-agnostic form: Fisher, Rudin and Dominici 2019, "All Models are Wrong, but
//! Many are Useful", JMLR 20): how much a model's loss on labelled rows grows when
//! one feature's column is shuffled, breaking its link with the target while
//! keeping its distribution.
//!
//! For each feature j and repeat r, the column is permuted by a Fisher–Yates
//! shuffle drawn from a ChaCha8 generator seeded with the request's seed on stream
//! `(j << 32) | r` ([`permutation`]), so features can run in parallel and the same
//! seed always gives the same numbers. The importance is the mean over repeats of
//! `loss(permuted) − loss(original)`, with the population standard deviation over
//! repeats (what scikit-learn's `permutation_importance` reports, though its
//! shuffles come from numpy and so differ).

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::loss::{Loss, Target};
use crate::core::models::Model;
use crate::core::{Cancel, CoreError, CoreResult};

/// What to compute.
#[derive(Debug, Clone, Copy)]
pub struct PermutationParams {
    /// Shuffles per feature (at least 1).
    pub repeats: usize,
    /// Seeds every shuffle.
    pub seed: u64,
    /// The loss whose increase is measured.
    pub loss: Loss,
}

/// One feature's importance.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureImportance {
    /// Mean loss increase over the repeats.
    pub mean: f64,
    /// Population standard deviation of the increase over the repeats.
    pub std: f64,
    /// The increase of each repeat, in repeat order.
    pub increases: Vec<f64>,
}

/// The importance of every feature.
#[derive(Debug, Clone, PartialEq)]
pub struct PermutationImportance {
    /// The loss on the rows as given.
    pub baseline: f64,
    /// One entry per feature, in feature order.
    pub features: Vec<FeatureImportance>,
}

/// The row order repeat `repeat` of feature `feature` shuffles `n` rows into:
/// row `i` of the shuffled column takes the value of row `order[i]`.
pub fn permutation(n: usize, seed: u64, feature: usize, repeat: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((feature as u64) << 32) | repeat as u64);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

/// Permutation importance of every feature of `model` on rows `x` labelled `target`.
/// `progress` is called with the share of shuffles done, from any thread; `cancel`
/// is checked before each shuffle.
///
/// # Errors
/// [`CoreError::Cancelled`] once `cancel` is tripped;
/// [`CoreError::Shape`] when `x` or `target` do not fit; [`CoreError::InvalidArgument`]
/// for no rows, zero repeats, or a loss that does not fit the labels.
pub fn importance(
    model: &dyn Model,
    x: ArrayView2<f64>,
    target: &Target,
    params: &PermutationParams,
    progress: &(dyn Fn(f64) + Sync),
    cancel: &Cancel,
) -> CoreResult<PermutationImportance> {
    check(model, x, target, params)?;
    let baseline = params.loss.evaluate(model, x, target);
    let total = x.ncols() * params.repeats;
    let done = AtomicUsize::new(0);
    let features = (0..x.ncols())
        .into_par_iter()
        .map(|j| {
            let mut shuffled = x.to_owned();
            let increases = (0..params.repeats)
                .map(|r| {
                    cancel.check()?;
                    let order = permutation(x.nrows(), params.seed, j, r);
                    for (i, &from) in order.iter().enumerate() {
                        shuffled[[i, j]] = x[[from, j]];
                    }
                    let increase = params.loss.evaluate(model, shuffled.view(), target) - baseline;
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress(finished as f64 / total as f64);
                    Ok(increase)
                })
                .collect::<CoreResult<Vec<f64>>>()?;
            Ok(summarise(increases))
        })
        .collect::<CoreResult<_>>()?;
    Ok(PermutationImportance { baseline, features })
}

fn check(
    model: &dyn Model,
    x: ArrayView2<f64>,
    target: &Target,
    params: &PermutationParams,
) -> CoreResult<()> {
    if x.ncols() != model.n_features() {
        return Err(CoreError::Shape {
            what: "features",
            expected: model.n_features(),
            got: x.ncols(),
        });
    }
    if target.len() != x.nrows() {
        return Err(CoreError::Shape {
            what: "target values",
            expected: x.nrows(),
            got: target.len(),
        });
    }
    if x.nrows() == 0 {
        return Err(CoreError::InvalidArgument(
            "permutation importance needs at least one row".into(),
        ));
    }
    if params.repeats == 0 {
        return Err(CoreError::InvalidArgument(
            "repeats must be at least 1".into(),
        ));
    }
    params.loss.check(target, model)
}

fn summarise(increases: Vec<f64>) -> FeatureImportance {
    let n = increases.len() as f64;
    let mean = increases.iter().sum::<f64>() / n;
    let var = increases.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    FeatureImportance {
        mean,
        std: var.sqrt(),
        increases,
    }
}

/// Rows `x` with column `feature` reordered by `order` (for tests and callers that
/// want to reproduce one shuffle).
pub fn shuffled(x: ArrayView2<f64>, feature: usize, order: &[usize]) -> Array2<f64> {
    let mut out = x.to_owned();
    for (i, &from) in order.iter().enumerate() {
        out[[i, feature]] = x[[from, feature]];
    }
    out
}
