//! What the model-agnostic explainers share: their options, feature groups, the
//! background they integrate over, and the coalition game they all play.
//!
//! # The game
//! Every explainer here attributes `v(N) − v(∅)` among *players*, where a player is a
//! feature or, with [`FeatureGroups`], a group of features, and
//! `v(S) = E_b[f(x_S, b_{N∖S})]`: the model's output with the players in `S` set to
//! the row's values and the others taken from each background row `b`, averaged
//! over the background (the interventional value function of Janzing et al. 2020,
//! the one shap's `KernelExplainer`, `PermutationExplainer` and `ExactExplainer` use).
//! `v(∅)` is the base value and `v(N)` the prediction.
//!
//! # Background
//! The background is the [`Reference`] rows. When there are more than
//! `max_background` of them (default [`DEFAULT_MAX_BACKGROUND`]), a sample of
//! `max_background` rows without replacement is used instead, drawn by a ChaCha8
//! generator seeded with the request's seed (stream `u64::MAX`, so it never collides
//! with a row's stream). Same seed, same background. A sample keeps the expectation
//! unbiased and needs no fitting; asked for (`kmeans`), K weighted k-means centres
//! of the whole reference stand in for it instead, as shap's `shap.kmeans` (see
//! [`super::summary`]): the game and the base value then weigh each centre by its
//! cluster's share of the rows.
//!
//! # Determinism, batches and time
//! Row `i` draws from a ChaCha8 generator seeded with the request's seed on stream
//! `i`, so rows can run in parallel (rayon) and still give the same numbers. The
//! coalitions of one row are evaluated through [`Model::predict`] in batches of at
//! most [`MAX_BATCH_VALUES`] input values (`coalitions × background rows × features`;
//! models with an affine first step take the route of `incremental.rs`). The clock
//! and the options' [`Cancel`] token are checked before each batch: past the
//! timeout the whole call fails with [`CoreError::Timeout`], once the token is
//! tripped with [`CoreError::Cancelled`]; no partial answer is returned.

use std::sync::Arc;
use std::time::Duration;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub(crate) use super::game::Game;
pub use super::groups::FeatureGroups;
pub(crate) use super::rounds::check_tolerance;
pub(crate) use super::stop::{Stop, NEVER};
use super::summary::WeightedBackground;
use super::Explanation;
use crate::core::models::{check_space, Model, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{Cancel, CoreError, CoreResult};

/// Background rows used when the request does not say.
pub const DEFAULT_MAX_BACKGROUND: usize = 100;
/// The largest sample budget a request may ask for.
pub const MAX_SAMPLES: usize = 1 << 20;
/// The most input values (model rows × features) sent to one predict call: 512 KiB
/// of `f64` (1024 rows of 64 features), so a batch and the model's intermediate
/// values stay in a core's L2 cache. Measured on a 64-feature MLP: half the CPU
/// time of 16 MiB batches, which went to and from main memory (2048 coalitions ×
/// 100 background rows × 64 features would be 100 MiB in one matrix).
pub const MAX_BATCH_VALUES: usize = 1 << 16;

/// Raw options of a sampling explainer, as a request gives them; turn them into
/// [`SamplingOptions`] with [`SamplingParams::check`].
#[derive(Debug, Clone)]
pub struct SamplingParams {
    /// Seeds every random draw; echoed so a caller can reproduce an answer.
    pub seed: u64,
    /// The sample budget: coalitions for the SHAP estimators, perturbed rows for
    /// LIME. `None` lets each method choose its documented default.
    pub n_samples: Option<usize>,
    /// Wall-clock limit for the whole call; `None` means no limit.
    pub timeout: Option<Duration>,
    /// Whether to explain raw outputs or probabilities.
    pub output_space: OutputSpace,
    /// At most this many background rows (default [`DEFAULT_MAX_BACKGROUND`]).
    pub max_background: Option<usize>,
    /// Feature groups to treat as single players; `None` means one per feature.
    pub groups: Option<Vec<Vec<usize>>>,
    /// KernelSHAP only: keep the `k` largest attributions and refit (see
    /// [`super::kernel_shap`]); `None` keeps every player.
    pub top_k: Option<usize>,
    /// KernelSHAP and permutation SHAP: sample in growing rounds until every
    /// attribution's standard error is at most this, in output units (see
    /// the private `explain::rounds` module); `n_samples` is then the cap. `None`:
    /// one fixed budget.
    pub tolerance: Option<f64>,
    /// KernelSHAP, permutation and exact Shapley values: integrate over this many
    /// weighted k-means centres of the background instead of its rows (see
    /// [`super::summary`]); `None`: the rows (or their sample).
    pub kmeans: Option<usize>,
    /// KernelSHAP only: how the sampled coalitions are drawn and weighted.
    pub estimator: super::kernel_shap::Estimator,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            seed: 0,
            n_samples: None,
            timeout: None,
            output_space: OutputSpace::Raw,
            max_background: None,
            groups: None,
            top_k: None,
            tolerance: None,
            kmeans: None,
            estimator: super::kernel_shap::Estimator::Kernel,
        }
    }
}

impl SamplingParams {
    /// Validate the parameters for `model`.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for a budget of 0 or above [`MAX_SAMPLES`], a
    /// zero timeout or background size, probability space on a model without one,
    /// groups that do not partition the features, or a `top_k` of 0 or above the
    /// number of players, or a tolerance that is not positive and finite.
    pub fn check(&self, model: &dyn Model) -> CoreResult<SamplingOptions> {
        if let Some(n) = self.n_samples {
            if n == 0 || n > MAX_SAMPLES {
                return Err(CoreError::InvalidArgument(format!(
                    "n_samples must be between 1 and {MAX_SAMPLES}, got {n}"
                )));
            }
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(CoreError::InvalidArgument(
                "timeout must be positive".into(),
            ));
        }
        let max_background = self.max_background.unwrap_or(DEFAULT_MAX_BACKGROUND);
        if max_background == 0 {
            return Err(CoreError::InvalidArgument(
                "max_background must be at least 1".into(),
            ));
        }
        check_space(model.link(), self.output_space)?;
        let groups = match &self.groups {
            Some(g) => FeatureGroups::new(g.clone(), model.n_features())?,
            None => FeatureGroups::singletons(model.n_features()),
        };
        if let Some(k) = self.top_k {
            if k == 0 || k > groups.len() {
                return Err(CoreError::InvalidArgument(format!(
                    "top_k must be between 1 and the number of players ({}), got {k}",
                    groups.len()
                )));
            }
        }
        super::rounds::check_tolerance(self.tolerance)?;
        if self.kmeans == Some(0) {
            return Err(CoreError::InvalidArgument(
                "background.kmeans must be at least 1 centre".into(),
            ));
        }
        Ok(SamplingOptions {
            kmeans: self.kmeans,
            estimator: self.estimator,
            tolerance: self.tolerance,
            top_k: self.top_k,
            seed: self.seed,
            n_samples: self.n_samples,
            timeout: self.timeout,
            output_space: self.output_space,
            max_background,
            groups,
            cancel: Cancel::never(),
            registered: None,
        })
    }
}

/// Validated options of a sampling explainer.
#[derive(Debug, Clone)]
pub struct SamplingOptions {
    /// Seeds every random draw.
    seed: u64,
    /// Budget, or `None` for the method's default.
    n_samples: Option<usize>,
    /// Wall-clock limit.
    timeout: Option<Duration>,
    /// Space explained.
    output_space: OutputSpace,
    /// Background size cap.
    max_background: usize,
    /// The players.
    groups: FeatureGroups,
    /// KernelSHAP's top-k selection.
    top_k: Option<usize>,
    /// Stops the call from outside (see [`crate::core::cancel`]).
    cancel: Cancel,
    /// The standard-error target of adaptive sampling.
    tolerance: Option<f64>,
    /// Weighted k-means centres to summarise the background with.
    kmeans: Option<usize>,
    /// KernelSHAP's sampling of coalitions.
    estimator: super::kernel_shap::Estimator,
    /// The model's registered summary, used when `kmeans` asks for none.
    registered: Option<Arc<WeightedBackground>>,
}

impl SamplingOptions {
    /// The same options, integrating over `summary` (the model's registered
    /// background summary) unless they ask for their own `kmeans`.
    pub fn with_summary(mut self, summary: Option<Arc<WeightedBackground>>) -> Self {
        self.registered = summary;
        self
    }
    /// The same options, stopped when `cancel` is tripped.
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }
    /// The token that stops the call.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }
    /// The seed every draw derives from.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The budget asked for, if any.
    pub fn n_samples(&self) -> Option<usize> {
        self.n_samples
    }
    /// The wall-clock limit, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
    /// The space explained.
    pub fn output_space(&self) -> OutputSpace {
        self.output_space
    }
    /// At most this many background rows are used.
    pub fn max_background(&self) -> usize {
        self.max_background
    }
    /// KernelSHAP's top-k selection, if asked for.
    pub fn top_k(&self) -> Option<usize> {
        self.top_k
    }
    /// The standard-error target of adaptive sampling, if asked for.
    pub fn tolerance(&self) -> Option<f64> {
        self.tolerance
    }
    /// The players: groups of features (one feature each unless asked otherwise).
    pub fn groups(&self) -> &FeatureGroups {
        &self.groups
    }
    /// The weighted k-means centres asked for, if any.
    pub fn kmeans(&self) -> Option<usize> {
        self.kmeans
    }
    /// KernelSHAP's sampling of coalitions.
    pub fn estimator(&self) -> super::kernel_shap::Estimator {
        self.estimator
    }
}

/// The background rows explainers integrate over: the reference, or a seeded
/// sample of `max_rows` of its rows (see the module doc).
pub fn background(reference: &Reference, max_rows: usize, seed: u64) -> Array2<f64> {
    let n = reference.rows();
    if n <= max_rows {
        return reference.data.clone();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    let mut rows = rand::seq::index::sample(&mut rng, n, max_rows).into_vec();
    rows.sort_unstable();
    reference.data.select(Axis(0), &rows)
}

/// The generator row `row` of a request draws from.
pub(crate) fn row_rng(seed: u64, row: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(row as u64);
    rng
}

/// What one explain call computes once for all its rows.
pub(crate) struct Setup {
    /// The background rows, (n, n_features).
    pub background: Array2<f64>,
    /// The probability of each background row, summing to 1; `None`: 1/n each.
    pub weights: Option<Array1<f64>>,
    /// The summary the background is, for the answer's quality section.
    pub summary: Option<String>,
    /// Mean output over the background in the explained space: v(∅) per output.
    pub base: Array1<f64>,
    /// The rows' outputs in the explained space: v(N) per row and output.
    pub predictions: Array2<f64>,
    /// Each background row's outputs in the explained space, (n, outputs).
    pub background_outputs: Array2<f64>,
    /// When to give up.
    pub stop: Stop,
}

impl Setup {
    /// The coalition game of row `x` and output `k` against this setup's background.
    pub(crate) fn game<'a>(
        &'a self,
        model: &'a dyn Model,
        x: ArrayView1<'a, f64>,
        output: usize,
        options: &'a SamplingOptions,
    ) -> Game<'a> {
        Game {
            model,
            background: self.background.view(),
            weights: self.weights.as_ref().map(|w| w.view()),
            x,
            groups: options.groups(),
            output,
            space: options.output_space(),
            stop: &self.stop,
            memo: Default::default(),
        }
    }

    /// Check the rows and outputs and compute what every row needs.
    pub(crate) fn new(
        model: &dyn Model,
        reference: &Reference,
        x: ArrayView2<f64>,
        outputs: &[usize],
        options: &SamplingOptions,
    ) -> CoreResult<Self> {
        let stop = Stop::of(options);
        check_inputs(model, reference, x, outputs)?;
        let (background, weights, summary) = match (options.kmeans, &options.registered) {
            (Some(k), _) => {
                let s = super::summary::kmeans(reference.data.view(), k, options.seed, &stop)?;
                (s.rows, Some(s.weights), Some(s.note))
            }
            (None, Some(s)) => (
                s.rows.clone(),
                Some(s.weights.clone()),
                Some(s.note.clone()),
            ),
            (None, None) => {
                let rows = background(reference, options.max_background, options.seed);
                (rows, None, None)
            }
        };
        let space = options.output_space;
        let outputs = model.predict(background.view(), space);
        let base = match &weights {
            Some(w) => outputs.t().dot(w),
            None => outputs
                .mean_axis(Axis(0))
                .unwrap_or_else(|| Array1::zeros(model.n_outputs())),
        };
        let predictions = model.predict(x, space);
        Ok(Setup {
            background,
            weights,
            summary,
            base,
            predictions,
            background_outputs: outputs,
            stop,
        })
    }
}

/// Check the width of `x`, one output per row in range, and a non-empty reference.
pub(crate) fn check_inputs(
    model: &dyn Model,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<()> {
    if x.ncols() != model.n_features() {
        return Err(CoreError::Shape {
            what: "features",
            expected: model.n_features(),
            got: x.ncols(),
        });
    }
    if outputs.len() != x.nrows() {
        return Err(CoreError::Shape {
            what: "output indices",
            expected: x.nrows(),
            got: outputs.len(),
        });
    }
    if let Some(&k) = outputs.iter().find(|&&k| k >= model.n_outputs()) {
        return Err(CoreError::InvalidArgument(format!(
            "output {k} out of range: the model has {} output(s)",
            model.n_outputs()
        )));
    }
    if reference.rows() == 0 {
        return Err(CoreError::InvalidArgument(
            "the model's reference data has no rows to integrate over".into(),
        ));
    }
    Ok(())
}

/// Run `explain_row(row index)` for each of `rows` rows, in parallel, in order.
pub(crate) fn per_row<F>(rows: usize, explain_row: F) -> CoreResult<Vec<Explanation>>
where
    F: Fn(usize) -> CoreResult<Explanation> + Sync,
{
    (0..rows).into_par_iter().map(&explain_row).collect()
}

#[cfg(test)]
mod tests;
