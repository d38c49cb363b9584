//! The quality block of an explanation, as every explain answer shows it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::core::explain::Quality;

/// How exact one explanation is.
#[derive(Debug, Serialize, ToSchema)]
pub struct QualityDto {
    /// prediction − base_value − Σ attributions, as computed; left out of `anchors`
    /// answers, whose rules have no attributions to add up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additivity_residual: Option<f64>,
    /// Standard error of each attribution (sampling methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_errors: Option<Vec<f64>>,
    /// Model evaluations used (sampling methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// Σφ − (f(x) − f(baseline)) (path methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convergence_delta: Option<f64>,
    /// Integrated gradients with adaptive steps: the relative target the steps
    /// (`samples`) were doubled for, |convergence_delta| ≤ tolerance · |prediction −
    /// base_value|; above it only when 2048 steps did not reach it. `kernel_shap` and
    /// `permutation_shap` with a `tolerance`: the standard-error target, in output units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// Sampling with a `tolerance`: whether every standard error reached it (false
    /// when `n_samples` or `timeout_ms` came first); `samples` says how many it took.
    /// Integrated gradients with a `tolerance`: whether |convergence_delta| ended
    /// within it (false when `--max-ig-steps` came first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_met: Option<bool>,
    /// Sampling with a `tolerance`: the largest standard error achieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_standard_error: Option<f64>,
    /// R² of the local surrogate (LIME).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surrogate_r2: Option<f64>,
    /// The local surrogate's prediction for the row (LIME).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_prediction: Option<f64>,
    /// On request (`"quality": "full"`): deletion and insertion curves with their
    /// areas (deletion: lower is better; insertion: higher is better), faithfulness
    /// correlation (Bhatt et al. 2020; higher is better) and max-sensitivity (Yeh et
    /// al. 2019; lower is better).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<ScoresDto>,
    /// Sampling and exact Shapley values with `background: {"kmeans": K}`: the
    /// summary the values integrate over (the centres themselves are never shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// `kernel_shap` or `permutation_shap` with a `tolerance`, where an exact
    /// algorithm solves the game they sample sooner: this method solved it instead,
    /// against the same background, and the standard errors are 0.
    /// `tree_interventional` on a tree ensemble in raw space (`samples` 0);
    /// `exact_shapley` on a logistic regression (binary or multinomial, also behind
    /// column-local preprocessing) in probability space (`samples`: the 2^players
    /// coalitions enumerated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solved_by: Option<String>,
    /// `kernel_shap`: the estimator that made the values (`kernel`, `leverage`,
    /// `regression_adjusted`, `per_baseline`); `kernel` where `regression_adjusted` was asked but the
    /// coalitions could not fit its surrogate (too few, too many players, or none of
    /// sizes 1 and F−1 enumerated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimator: Option<&'static str>,
}

/// Quality scores of one explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoresDto {
    /// Output after removing 0, 1, …, F features in decreasing order of attribution.
    pub deletion_curve: Vec<f64>,
    /// Normalised area under the deletion curve (lower is better).
    pub deletion_area: f64,
    /// Output after restoring 0, 1, …, F features in that order.
    pub insertion_curve: Vec<f64>,
    /// Normalised area under the insertion curve (higher is better).
    pub insertion_area: f64,
    /// Faithfulness correlation in [−1, 1] (higher is better); null when undefined.
    pub faithfulness: Option<f64>,
    /// Largest relative change of the attributions within 10% of a standard
    /// deviation of each feature (lower is better).
    pub max_sensitivity: f64,
}

impl From<Quality> for QualityDto {
    fn from(q: Quality) -> Self {
        QualityDto {
            additivity_residual: Some(q.additivity_residual),
            standard_errors: q.standard_errors,
            samples: q.samples,
            convergence_delta: q.convergence_delta,
            tolerance: q.tolerance,
            tolerance_met: q.tolerance_met,
            max_standard_error: q.max_standard_error,
            surrogate_r2: q.surrogate_r2,
            local_prediction: q.local_prediction,
            background: q.background,
            solved_by: q.solved_by,
            estimator: q.estimator,
            scores: q.scores.map(|s| ScoresDto {
                deletion_curve: s.deletion.values,
                deletion_area: s.deletion.area,
                insertion_curve: s.insertion.values,
                insertion_area: s.insertion.area,
                faithfulness: s.faithfulness,
                max_sensitivity: s.max_sensitivity,
            }),
        }
    }
}
