//! Explanation algorithms, one file each, and the types they share.
//!
//! Every explainer answers one [`Explanation`] per input row for one chosen output,
//! with a [`Quality`] that says how exact the numbers are.

pub mod gradients;
pub mod integrated_gradients;
pub mod linear_shap;
pub mod text_attribution;

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
    /// Leave one word out and measure the change (text models; see
    /// [`text_attribution`]).
    Occlusion,
}

impl Method {
    /// Every method, for error messages and documentation.
    pub const ALL: &'static [Method] = &[
        Method::Auto,
        Method::LinearShap,
        Method::IntegratedGradients,
        Method::GradientXInput,
        Method::Saliency,
        Method::Occlusion,
    ];

    /// The name used in requests and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::LinearShap => "linear_shap",
            Method::IntegratedGradients => "integrated_gradients",
            Method::GradientXInput => "gradient_x_input",
            Method::Saliency => "saliency",
            Method::Occlusion => "occlusion",
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
    /// R² of a local surrogate (LIME).
    pub surrogate_r2: Option<f64>,
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
