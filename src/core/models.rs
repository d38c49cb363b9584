//! Model families and the [`Model`] trait every explainer talks to.
//!
//! A model is pure and batch-first: a matrix of rows in, a matrix of outputs out,
//! no I/O and no locks. What only some families can do (exact linear terms, tree
//! paths, gradients) is reached through [`HostedModel`], so asking a method of a
//! model that cannot answer it is a [`CoreError::MethodNotSupported`] value.

pub mod additive;
pub mod affine_mix;
pub mod extreme;
pub mod linear;
pub mod mlp;
pub mod normalized;
pub mod raw;
pub mod text;
pub mod trees;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};

use crate::core::{CoreError, CoreResult};
pub use additive::AdditiveModel;
pub use extreme::ExtremeTrees;
pub use linear::LinearModel;
pub use mlp::Mlp;
pub use normalized::{Mixing, Norm, RowNormalized};
pub use raw::{RawFeatures, RawKind};
pub use text::TextClassifier;
pub use trees::TreeEnsemble;

/// How a model's raw outputs (margins) become the values users read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Raw output is the prediction (regression).
    Identity,
    /// One raw output, a log-odds; the prediction is its sigmoid.
    Logistic,
    /// One raw output per class; the prediction is their softmax.
    Softmax,
    /// One raw output, a log-rate; the prediction is its exponential (Poisson).
    Exp,
    /// ONNX-ML's `SOFTMAX_ZERO`: the softmax of each row's non-zero raw outputs
    /// (|z| > 1e-7), raw outputs of zero staying zero, as onnxruntime computes it.
    SoftmaxZero,
    /// ONNX-ML's `PROBIT`: each raw output through √2·erfinv(2z − 1) (the normal
    /// quantile), with onnxruntime's float32 approximation of erfinv.
    Probit,
}

impl Link {
    /// Apply the link to each row of raw outputs, in place.
    pub fn apply(self, raw: &mut Array2<f64>) {
        match self {
            Link::Identity => {}
            Link::Logistic => raw.mapv_inplace(sigmoid),
            Link::Exp => raw.mapv_inplace(f64::exp),
            Link::Softmax => softmax_rows(raw.view_mut()),
            Link::SoftmaxZero => softmax_zero_rows(raw.view_mut()),
            Link::Probit => raw.mapv_inplace(probit),
        }
    }

    /// Whether outputs have a space after the link distinct from the raw one: a
    /// classifier's probabilities, or a count model's mean (`exp`). Every route
    /// that takes `output_space` asks this, through [`check_space`].
    pub fn transforms(self) -> bool {
        self != Link::Identity
    }

    /// Whether the model is a classifier: its outputs after the link are class
    /// probabilities.
    pub fn has_probability(self) -> bool {
        matches!(
            self,
            Link::Logistic | Link::Softmax | Link::SoftmaxZero | Link::Probit
        )
    }
}

/// onnxruntime's `ComputeProbit`: √2·erfinv(2z − 1), erfinv by Winitzki's
/// approximation (a = 0.147), in float32 as onnxruntime evaluates it.
pub fn probit(z: f64) -> f64 {
    let x = (z as f32) * 2.0 - 1.0;
    let sign = if x < 0.0 { -1.0f32 } else { 1.0 };
    let log = ((1.0 - x) * (1.0 + x)).ln();
    let v = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147f32 * log;
    let erfinv = sign * (-v + (v * v - v2).sqrt()).sqrt();
    f64::from(std::f32::consts::SQRT_2 * erfinv)
}

/// onnxruntime's `ComputeSoftmaxZero` on each row, in place: raw outputs with
/// |z| > 1e-7 become exp(z − max), the others z·exp(−max) (zero), all divided by
/// the sum of the former.
pub(crate) fn softmax_zero_rows(mut raw: ArrayViewMut2<f64>) {
    const ZERO: f64 = 0.000_000_1;
    for mut row in raw.axis_iter_mut(Axis(0)) {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0.0;
        for v in row.iter_mut() {
            if *v > ZERO || *v < -ZERO {
                *v = (*v - max).exp();
                sum += *v;
            } else {
                *v *= (-max).exp();
            }
        }
        row.mapv_inplace(|v| v / sum);
    }
}

/// The logistic function, written to stay finite for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Which space predictions and attributions are expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputSpace {
    /// Margins: identity for regression, log-odds for logistic models, the log of
    /// the mean for count models.
    Raw,
    /// After the link: probabilities for classifiers, the mean for count models
    /// (Poisson, gamma, Tweedie: `exp` of the raw output).
    Probability,
}

/// Refuse `space` where the model has nothing after its link (an identity link:
/// its outputs are raw values). The one check of every route that takes
/// `output_space`.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for `Probability` with an identity link.
pub fn check_space(link: Link, space: OutputSpace) -> CoreResult<()> {
    if space == OutputSpace::Probability && !link.transforms() {
        return Err(CoreError::InvalidArgument(
            "output_space 'probability' needs a classifier or a count model (a link after \
             the raw outputs); this model's outputs are raw values"
                .into(),
        ));
    }
    Ok(())
}

/// The interface every explainer and summary uses.
///
/// Implementations must be deterministic and cheap to share across threads.
pub trait Model: Send + Sync {
    /// Number of input features (columns of `x`).
    fn n_features(&self) -> usize;
    /// Number of outputs: 1 for regression and binary classification, K for K classes.
    fn n_outputs(&self) -> usize;
    /// How raw outputs map to predictions.
    fn link(&self) -> Link;
    /// Raw outputs (margins) for a batch: `x` is (rows, n_features), the answer is
    /// (rows, n_outputs). Callers validate the width first ([`check_rows`]).
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64>;

    /// Outputs in the requested space, shape (rows, n_outputs).
    fn predict(&self, x: ArrayView2<f64>, space: OutputSpace) -> Array2<f64> {
        let mut out = self.predict_raw(x);
        if space == OutputSpace::Probability {
            self.link().apply(&mut out);
        }
        out
    }

    /// The model's first step as an affine map, when it has one (see
    /// [`AffineInput`]); `None`, the default, for models that must see every row.
    fn affine_input(&self) -> Option<&dyn AffineInput> {
        None
    }

    /// The model's raw outputs as a sum over its features, when they are one (see
    /// [`AdditiveRaw`]); `None`, the default, otherwise.
    fn additive_raw(&self) -> Option<&dyn AdditiveRaw> {
        None
    }

    /// The model as a tree ensemble, when it is one; `None`, the default, otherwise.
    /// The coalition game of the sampling explainers then walks each tree once per
    /// coalition with the set of background rows at each node, instead of predicting
    /// one masked row per background row (`core::explain`'s `tree_game`).
    fn tree_ensemble(&self) -> Option<&TreeEnsemble> {
        None
    }

    /// The raw features when some are categorical (their columns hold category
    /// codes, see [`raw`]), so that methods which perturb values draw categories;
    /// `None`, the default, when every feature is a number.
    fn categories(&self) -> Option<&RawFeatures> {
        None
    }
}

/// The softmax of each row, in place (shifted by the row's maximum, so no
/// exponential overflows).
pub(crate) fn softmax_rows(mut raw: ArrayViewMut2<f64>) {
    for mut row in raw.axis_iter_mut(Axis(0)) {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
}

/// A model whose raw outputs depend on the inputs only through one affine map:
/// `raw(x) = head(x·W + b)`. Linear and logistic models are this with the identity
/// as head; an MLP with its first layer as the map (the scaler folded in) and the
/// rest of the network as head.
///
/// The coalition game of the model-agnostic explainers uses it to build the
/// affine part of masked rows incrementally instead of multiplying every masked
/// row by `W`; the answers are the same up to rounding.
pub trait AffineInput: Sync {
    /// `W`, shape (n_features, units), and `b` (units): `z = x·W + b`.
    fn input_affine(&self) -> (Array2<f64>, Array1<f64>);
    /// Raw outputs (rows, n_outputs) from the values of the map, `z` (rows, units):
    /// `predict_raw(x) == predict_raw_from_affine(x·W + b)` up to rounding. `z` is
    /// the caller's scratch: the head may overwrite it (an MLP applies its first
    /// activation there).
    fn predict_raw_from_affine(&self, z: ArrayViewMut2<f64>) -> Array2<f64>;
    /// The head as dense layers ([`mlp::DenseHead`]), for a coalition game that
    /// evaluates it in float32 lanes; `None` (the default) for a head that is not
    /// one (a linear model's has no layer: its raw outputs are the map's values).
    fn dense_head(&self) -> Option<mlp::DenseHead<'_>> {
        None
    }
}

/// A model whose raw outputs are additive over its features,
/// `z_k(x) = c_k + Σ_j t_kj(x_j)`: a linear model, or a linear head behind
/// column-local preprocessing ([`AdditiveModel`]). Its coalition game in
/// probability space has every coalition's value in tables
/// (`core::explain`'s `link_game`).
pub trait AdditiveRaw: Sync {
    /// `t_kj(x_j)` of one row for each output `k` and feature `j`:
    /// shape (n_outputs, n_features).
    fn terms(&self, row: ArrayView1<f64>) -> Array2<f64>;
}

/// A model whose outputs can be differentiated with respect to its inputs, for the
/// gradient explainers (integrated gradients, gradient × input, saliency).
pub trait Differentiable: Model {
    /// ∂ output / ∂ x for each row of `x` (rows, n_features): the answer has the same
    /// shape, row i holding the gradient of output `output` at row i, in `space`.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for an output index out of range or probability
    /// space on a model without one.
    fn gradient(
        &self,
        x: ArrayView2<f64>,
        output: usize,
        space: OutputSpace,
    ) -> CoreResult<Array2<f64>>;
}

/// Check that a batch has the model's width and, unless `allow_nan`, only finite values.
///
/// # Errors
/// [`CoreError::Shape`] for a wrong width, [`CoreError::NonFinite`] naming the first bad cell.
pub fn check_rows(x: ArrayView2<f64>, n_features: usize, allow_nan: bool) -> CoreResult<()> {
    check_rows_with(x, n_features, |_| allow_nan)
}

/// [`check_rows`] with NaN allowed in the features for which `allow_nan` is true.
///
/// # Errors
/// As [`check_rows`].
pub fn check_rows_with(
    x: ArrayView2<f64>,
    n_features: usize,
    allow_nan: impl Fn(usize) -> bool,
) -> CoreResult<()> {
    if x.ncols() != n_features {
        return Err(CoreError::Shape {
            what: "features",
            expected: n_features,
            got: x.ncols(),
        });
    }
    for (row, values) in x.axis_iter(Axis(0)).enumerate() {
        for (feature, &v) in values.iter().enumerate() {
            let bad = if allow_nan(feature) {
                v.is_infinite()
            } else {
                !v.is_finite()
            };
            if bad {
                return Err(CoreError::NonFinite { row, feature });
            }
        }
    }
    Ok(())
}

/// A validated model of any family, as the registry holds it.
///
/// Explainers that need a family's structure match on this; the model-agnostic ones
/// use [`HostedModel::as_model`].
#[derive(Debug)]
pub enum HostedModel {
    /// Linear or logistic regression (the kind is in [`LinearModel::kind`]).
    Linear(LinearModel),
    /// A multilayer perceptron, kind `"mlp"`.
    Mlp(Mlp),
    /// An XGBoost, LightGBM or CatBoost tree ensemble (the kind is in
    /// [`TreeEnsemble::kind`]).
    Trees(TreeEnsemble),
    /// A bag-of-embeddings text classifier, kind `"text_classifier"`.
    ///
    /// Its [`Model`] view is the head MLP on pooled embeddings (features `emb_0` …
    /// `emb_{dim-1}`): a text model stays a model like any other for the routes that
    /// work on numeric rows (weights, activations), while the text routes reach the
    /// tokenizer and the embedding table through this variant. A separate registry
    /// for text models would have duplicated registration, storage and versioning
    /// for no gain.
    Text(TextClassifier),
    /// A linear or logistic head behind an ONNX pipeline's column-local
    /// preprocessing, over the raw features (kind `"onnx"`; its kind name is in
    /// [`AdditiveModel::kind`]).
    Additive(AdditiveModel),
    /// An ONNX-ML tree ensemble aggregated by MIN or MAX (kind `"onnx"`): it
    /// predicts, and model-agnostic methods explain it; TreeSHAP, which adds
    /// leaves, does not apply.
    ExtremeTrees(ExtremeTrees),
    /// A linear head or tree ensemble behind an ONNX pipeline's preprocessing and a
    /// Normalizer (kind `"onnx"`): it predicts over the raw features, and
    /// model-agnostic methods explain it; the Normalizer mixes the raw features,
    /// so the structural methods do not apply.
    Normalized(RowNormalized),
}

impl HostedModel {
    /// The batch-predict view every explainer can use.
    pub fn as_model(&self) -> &dyn Model {
        match self {
            HostedModel::Linear(m) => m,
            HostedModel::Mlp(m) => m,
            HostedModel::Trees(m) => m,
            HostedModel::Text(m) => m.head(),
            HostedModel::Additive(m) => m,
            HostedModel::ExtremeTrees(m) => m,
            HostedModel::Normalized(m) => m,
        }
    }

    /// The gradient view, for families that have one (`None` otherwise: asking a
    /// gradient method of such a model is [`CoreError::MethodNotSupported`]).
    pub fn as_differentiable(&self) -> Option<&dyn Differentiable> {
        match self {
            HostedModel::Linear(_)
            | HostedModel::Trees(_)
            | HostedModel::Additive(_)
            | HostedModel::ExtremeTrees(_)
            | HostedModel::Normalized(_) => None,
            HostedModel::Mlp(m) => Some(m),
            HostedModel::Text(m) => Some(m.head()),
        }
    }

    /// The kind name users registered, e.g. `"linear"` or `"logistic"`.
    pub fn kind(&self) -> &'static str {
        match self {
            HostedModel::Linear(m) => m.kind(),
            HostedModel::Mlp(m) => m.kind(),
            HostedModel::Trees(m) => m.kind(),
            HostedModel::Text(m) => m.kind(),
            HostedModel::Additive(m) => m.kind(),
            HostedModel::ExtremeTrees(m) => m.kind(),
            HostedModel::Normalized(m) => m.kind(),
        }
    }

    /// The raw features when some of them are categorical (carried in rows as codes,
    /// see [`raw`]); `None` when every feature is a number.
    pub fn raw_features(&self) -> Option<&RawFeatures> {
        match self {
            HostedModel::Trees(m) => m.raw_features(),
            HostedModel::Additive(m) => m.raw_features(),
            HostedModel::ExtremeTrees(m) => m.raw_features(),
            HostedModel::Normalized(m) => m.raw_features(),
            HostedModel::Linear(_) | HostedModel::Mlp(_) | HostedModel::Text(_) => None,
        }
    }

    /// Whether feature `feature` of an input may be NaN meaning "missing": tree
    /// models route it; a pipeline's feature may be missing when its preprocessing
    /// gives a number for it (an imputer, or a categorical feature's encoder).
    pub fn accepts_missing(&self, feature: usize) -> bool {
        match self {
            HostedModel::Linear(_) | HostedModel::Mlp(_) | HostedModel::Text(_) => false,
            HostedModel::Trees(_) | HostedModel::ExtremeTrees(_) => true,
            HostedModel::Additive(m) => m.accepts_missing(feature),
            HostedModel::Normalized(m) => m.accepts_missing(feature),
        }
    }
}
