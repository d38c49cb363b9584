//! Explanation algorithms, one file each, and the types they share.
//!
//! Every explainer answers one [`Explanation`] per input row for one chosen output,
//! with a [`Quality`] that says how exact the numbers are.
//!
//! Model-specific: [`linear_shap`]; for differentiable models [`integrated_gradients`]
//! and [`gradients`], and [`text_attribution`] for text models. Model-agnostic, through [`crate::core::models::Model`]
//! and the reference data only: [`exact_shapley`], [`kernel_shap`],
//! [`permutation_shap`], [`lime`], sharing the options of [`sampling`], the players
//! of [`groups`] and one coalition game (`game.rs`, with the incremental evaluation
//! of `incremental.rs` for models with an affine first step, and of `tree_game.rs`
//! for tree ensembles). [`quality`] scores any
//! explanation; [`finite`] refuses one holding a non-finite number, naming the row
//! and the feature.

pub mod anchors;
#[cfg(test)]
mod cancel_tests;
mod cpu;
pub mod exact_shapley;
pub mod finite;
mod game;
pub mod gradients;
pub mod groups;
mod incremental;
pub mod integrated_gradients;
mod kernel_design;
pub mod kernel_shap;
pub mod lime;
mod linalg;
pub mod linear_shap;
mod link_game;
pub mod permutation_shap;
pub mod quality;
mod rounds;
pub mod sampling;
mod stop;
pub mod summary;
#[cfg(test)]
pub(crate) mod tests_support;
pub mod text_attribution;
mod tree_game;
pub mod tree_interventional;
pub mod tree_shap;
mod tree_walk;

use std::fmt;
use std::str::FromStr;

use crate::core::CoreError;

/// The attribution methods explaind knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Pick the exact method for the model's family.
    Auto,
    /// Exact interventional SHAP of a linear model: φ_j = w_j (x_j − E\[x_j\]).
    LinearShap,
    /// Integrated gradients along the straight path from a baseline (differentiable
    /// models; see [`integrated_gradients`]).
    IntegratedGradients,
    /// x ⊙ ∇f(x) (differentiable models; see [`gradients`]).
    GradientXInput,
    /// |∇f(x)|: sensitivities, not additive (differentiable models; see [`gradients`]).
    Saliency,
    /// Exact Shapley values of any model by enumerating coalitions (few features).
    ExactShapley,
    /// KernelSHAP: Shapley values by weighted regression over sampled coalitions.
    KernelShap,
    /// Shapley values by antithetic permutation sampling.
    PermutationShap,
    /// LIME: a weighted ridge surrogate on binarised perturbations.
    Lime,
    /// Exact path-dependent TreeSHAP (Lundberg et al. 2020): absent features follow
    /// both branches weighted by training cover; no background needed.
    TreePathDependent,
    /// Exact interventional TreeSHAP against the model's background rows.
    TreeInterventional,
    /// Leave one word out and measure the change (text models; see
    /// [`text_attribution`]).
    Occlusion,
    /// Anchors: a rule on the raw features under which the answer stays the same
    /// (any model with a background; see [`anchors`]). Answers a rule, not
    /// attributions.
    Anchors,
}

impl Method {
    /// Every method, for error messages and documentation.
    pub const ALL: &'static [Method] = &[
        Method::Auto,
        Method::LinearShap,
        Method::IntegratedGradients,
        Method::GradientXInput,
        Method::Saliency,
        Method::ExactShapley,
        Method::KernelShap,
        Method::PermutationShap,
        Method::Lime,
        Method::TreePathDependent,
        Method::TreeInterventional,
        Method::Occlusion,
        Method::Anchors,
    ];

    /// Whether the method works on any model through batch predictions alone
    /// (see [`explain_agnostic`]).
    pub fn is_model_agnostic(self) -> bool {
        match self {
            Method::ExactShapley | Method::KernelShap | Method::PermutationShap | Method::Lime => {
                true
            }
            Method::Auto
            | Method::LinearShap
            | Method::IntegratedGradients
            | Method::GradientXInput
            | Method::Saliency
            | Method::TreePathDependent
            | Method::TreeInterventional
            | Method::Occlusion
            | Method::Anchors => false,
        }
    }

    /// Whether the method draws random samples, so that its answer depends on the
    /// seed (echoed in answers).
    pub fn is_seeded(self) -> bool {
        self.is_model_agnostic() || self == Method::Anchors
    }

    /// The name used in requests and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::LinearShap => "linear_shap",
            Method::IntegratedGradients => "integrated_gradients",
            Method::GradientXInput => "gradient_x_input",
            Method::Saliency => "saliency",
            Method::ExactShapley => "exact_shapley",
            Method::KernelShap => "kernel_shap",
            Method::PermutationShap => "permutation_shap",
            Method::Lime => "lime",
            Method::TreePathDependent => "tree_path_dependent",
            Method::TreeInterventional => "tree_interventional",
            Method::Occlusion => "occlusion",
            Method::Anchors => "anchors",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
                CoreError::InvalidArgument(format!(
                    "unknown method '{s}'; known methods: {}",
                    known.join(", ")
                ))
            })
    }
}

/// How exact an explanation is. Fields a method does not produce stay `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quality {
    /// prediction − base_value − Σ attributions. Zero up to rounding for exact
    /// additive methods; reported as computed, never forced.
    pub additivity_residual: f64,
    /// Standard error of each attribution, for sampling methods.
    pub standard_errors: Option<Vec<f64>>,
    /// Model evaluations or samples used, for sampling methods.
    pub samples: Option<usize>,
    /// Σφ − (f(x) − f(baseline)) for path methods such as integrated gradients.
    pub convergence_delta: Option<f64>,
    /// Integrated gradients with adaptive steps: the relative target
    /// |convergence_delta| ≤ tolerance · |f(x) − f(baseline)| the steps were doubled for.
    /// KernelSHAP and permutation SHAP with a tolerance: the standard-error target in
    /// output units the samples were doubled for.
    pub tolerance: Option<f64>,
    /// Sampling with a tolerance: whether every standard error reached it before the
    /// sample cap or the time limit. Integrated gradients with a tolerance: whether
    /// the convergence delta ended within it before the step cap.
    pub tolerance_met: Option<bool>,
    /// Sampling with a tolerance: the largest standard error of the players explained
    /// (kept when the standard errors themselves are left out).
    pub max_standard_error: Option<f64>,
    /// R² of a local surrogate (LIME).
    pub surrogate_r2: Option<f64>,
    /// The local surrogate's own prediction for the row (LIME): intercept plus the
    /// attributions of the features that keep the row's values.
    pub local_prediction: Option<f64>,
    /// Quality scores computed on request (`"quality": "full"`).
    pub scores: Option<quality::QualityScores>,
    /// The summary of the background the values integrate over, when it is not the
    /// background rows themselves (e.g. weighted k-means centres, [`summary`]).
    pub background: Option<String>,
    /// A sampling method whose game an exact algorithm solved instead (a
    /// `tolerance` on a tree ensemble in raw space): that algorithm's name.
    pub solved_by: Option<String>,
    /// KernelSHAP: the estimator that made the values (`kernel`, `leverage`,
    /// `regression_adjusted`, `per_baseline`); `kernel` where `regression_adjusted` was asked but
    /// the coalitions could not fit its surrogate.
    pub estimator: Option<&'static str>,
}

/// The attribution of one row's output to its features.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Index of the output explained.
    pub output: usize,
    /// The model's prediction for this output, in the explained space.
    pub prediction: f64,
    /// The expected output the attributions start from.
    pub base_value: f64,
    /// One value per feature, in the model's feature order.
    pub attributions: Vec<f64>,
    /// How exact these numbers are.
    pub quality: Quality,
}

impl Explanation {
    /// An explanation whose additivity residual is computed from its parts.
    pub fn new(output: usize, prediction: f64, base_value: f64, attributions: Vec<f64>) -> Self {
        let residual = prediction - base_value - attributions.iter().sum::<f64>();
        Explanation {
            output,
            prediction,
            base_value,
            attributions,
            quality: Quality {
                additivity_residual: residual,
                ..Quality::default()
            },
        }
    }
}

/// Run a model-agnostic method ([`Method::is_model_agnostic`]) on any model. Not a
/// dispatcher of its own: the engine's one dispatch over (method, model) pairs (the
/// `explainer` module) sends the model-agnostic methods here, and quality scoring
/// re-runs them per row through [`row_explainer`].
///
/// # Errors
/// [`CoreError::InvalidArgument`] for a method that needs a model family's
/// structure (use its own module), and whatever the method itself returns.
pub fn explain_agnostic(
    method: Method,
    model: &dyn crate::core::models::Model,
    reference: &crate::core::stats::Reference,
    x: ndarray::ArrayView2<f64>,
    outputs: &[usize],
    options: &sampling::SamplingOptions,
) -> crate::core::CoreResult<Vec<Explanation>> {
    match method {
        Method::ExactShapley => exact_shapley::explain(model, reference, x, outputs, options),
        Method::KernelShap => kernel_shap::explain(model, reference, x, outputs, options),
        Method::PermutationShap => permutation_shap::explain(model, reference, x, outputs, options),
        Method::Lime => lime::explain(model, reference, x, outputs, options),
        Method::Auto
        | Method::LinearShap
        | Method::IntegratedGradients
        | Method::GradientXInput
        | Method::Saliency
        | Method::TreePathDependent
        | Method::TreeInterventional
        | Method::Occlusion
        | Method::Anchors => Err(CoreError::InvalidArgument(format!(
            "method '{method}' is not model-agnostic"
        ))),
    }
}

/// One row in, its attributions out, for a model-agnostic `method` with fixed
/// options (and so a fixed seed): the explainer closure
/// [`quality::max_sensitivity`] re-runs on perturbed inputs.
pub fn row_explainer<'a>(
    method: Method,
    model: &'a dyn crate::core::models::Model,
    reference: &'a crate::core::stats::Reference,
    options: &'a sampling::SamplingOptions,
    output: usize,
) -> impl Fn(ndarray::ArrayView1<f64>) -> crate::core::CoreResult<Vec<f64>> + 'a {
    move |row| {
        let x = row.insert_axis(ndarray::Axis(0));
        let mut answer = explain_agnostic(method, model, reference, x, &[output], options)?;
        Ok(answer.pop().map(|e| e.attributions).unwrap_or_default())
    }
}
