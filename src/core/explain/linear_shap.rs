//! Exact SHAP values of linear and logistic models.
//!
//! For a model whose raw output is `b + w·x`, the interventional Shapley value of
//! feature j against a background distribution is `φ_j = w_j (x_j − E[x_j])`, and
//! `E[f(X)] + Σφ = f(x)` holds exactly (Lundberg and Lee 2017, "A Unified Approach to
//! Interpreting Model Predictions", section 4, linear models with independent
//! features; the same values shap's `LinearExplainer` computes with
//! `feature_perturbation="interventional"`).
//!
//! Probability space (logistic models) is not linear in x, so no such closed form
//! exists. explaind rescales the log-odds attributions by the secant slope of the
//! link between the background and the instance (the "rescale" rule of DeepLIFT,
//! Shrikumar et al. 2017): `φᵖ_j = φ_j · (p(x) − E[p(X)]) / (f(x) − E[f(X)])`, with
//! `E[p(X)]` as base value. The parts add up exactly whenever `f(x) ≠ E[f(X)]`;
//! where the log-odds equal their mean the slope is undefined, σ'(f(x)) is used, and
//! the residual (then p(x) − E[p(X)]) is reported as it is.

use ndarray::{ArrayView1, ArrayView2, Axis};

use super::Explanation;
use crate::core::models::{check_space, AdditiveModel, LinearModel, Link, Model, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

/// Explain each row of `x` for the output chosen for it in `outputs`.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for probability space on a regression, or an
/// output index out of range.
pub fn explain(
    model: &LinearModel,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
) -> CoreResult<Vec<Explanation>> {
    let mean = &reference.stats.mean;
    explain_terms(model, reference, x, outputs, space, |row, k| {
        let weights = model.coefficients().row(k);
        weights
            .iter()
            .zip(row.iter().zip(mean.iter()))
            .map(|(w, (x, m))| w * (x - m))
            .collect()
    })
}

/// Explain each row of `x` for an additive model over raw features (a linear head
/// behind column-local preprocessing, [`AdditiveModel`]): raw feature j's value is
/// its term centred on the background, `φ_j = g_j(x_j) − E_b[g_j(b_j)]`, the exact
/// interventional Shapley value of an additive function. Probability space is
/// rescaled as for [`explain`].
///
/// # Errors
/// As [`explain`].
pub fn explain_additive(
    model: &AdditiveModel,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
) -> CoreResult<Vec<Explanation>> {
    let mean = model.mean_terms(reference.data.view());
    explain_terms(model, reference, x, outputs, space, |row, k| {
        let terms = model.terms(row);
        terms
            .row(k)
            .iter()
            .zip(mean.row(k))
            .map(|(g, m)| g - m)
            .collect()
    })
}

/// The shared part: `phi(row, k)` gives the raw-space values of a row for output
/// `k` (checked in range); they are rescaled for probability space.
fn explain_terms(
    model: &dyn Model,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
    phi: impl Fn(ArrayView1<f64>, usize) -> Vec<f64>,
) -> CoreResult<Vec<Explanation>> {
    check_space(model.link(), space)?;
    let raw = model.predict(x, OutputSpace::Raw);
    let transformed = model.predict(x, OutputSpace::Probability);
    let mut answers = Vec::with_capacity(x.nrows());
    for ((row, &k), (raw_row, prob_row)) in x
        .axis_iter(Axis(0))
        .zip(outputs)
        .zip(raw.axis_iter(Axis(0)).zip(transformed.axis_iter(Axis(0))))
    {
        if k >= model.n_outputs() {
            return Err(CoreError::InvalidArgument(format!(
                "output {k} out of range: the model has {} output(s)",
                model.n_outputs()
            )));
        }
        let phi = phi(row, k);
        let explanation = match space {
            OutputSpace::Raw => Explanation::new(k, raw_row[k], reference.mean_raw[k], phi),
            OutputSpace::Probability => {
                let slope = secant_slope(
                    model.link(),
                    raw_row[k],
                    reference.mean_raw[k],
                    prob_row[k],
                    reference.mean_transformed[k],
                );
                let scaled = phi.into_iter().map(|v| v * slope).collect();
                Explanation::new(k, prob_row[k], reference.mean_transformed[k], scaled)
            }
        };
        answers.push(explanation);
    }
    Ok(answers)
}

/// (p − p̄) / (f − f̄), or the link's derivative at f where f ≈ f̄.
fn secant_slope(link: Link, f: f64, f_mean: f64, p: f64, p_mean: f64) -> f64 {
    let df = f - f_mean;
    if df.abs() > 1e-12 * f.abs().max(1.0) {
        (p - p_mean) / df
    } else {
        // Derivative of σ, and of a softmax output w.r.t. its own margin: p(1 − p).
        match link {
            Link::Logistic | Link::Softmax | Link::SoftmaxZero => p * (1.0 - p),
            Link::Exp => p,
            // d/dz Φ⁻¹(z) = 1 / φ(Φ⁻¹(z)) = √(2π)·exp(p²/2).
            Link::Probit => (2.0 * std::f64::consts::PI).sqrt() * (p * p / 2.0).exp(),
            Link::Identity => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    fn two_feature_regression() -> (LinearModel, Reference) {
        // f(x) = 1 + 2·x0 − 3·x1; background means (1, 2).
        let model = LinearModel::regression(array![[2.0, -3.0]], array![1.0]).unwrap();
        let reference = Reference::new(&model, array![[0.0, 1.0], [2.0, 3.0]]);
        (model, reference)
    }

    #[test]
    fn hand_computed_case() {
        // x = (4, 0): φ0 = 2·(4 − 1) = 6, φ1 = −3·(0 − 2) = 6, E[f] = 1 + 2 − 6 = −3,
        // f(x) = 1 + 8 − 0 = 9 = −3 + 6 + 6.
        let (model, reference) = two_feature_regression();
        let e = explain(
            &model,
            &reference,
            array![[4.0, 0.0]].view(),
            &[0],
            OutputSpace::Raw,
        )
        .unwrap();
        assert_abs_diff_eq!(e[0].attributions[0], 6.0, epsilon = 1e-12);
        assert_abs_diff_eq!(e[0].attributions[1], 6.0, epsilon = 1e-12);
        assert_abs_diff_eq!(e[0].base_value, -3.0, epsilon = 1e-12);
        assert_abs_diff_eq!(e[0].prediction, 9.0, epsilon = 1e-12);
        assert_abs_diff_eq!(e[0].quality.additivity_residual, 0.0, epsilon = 1e-12);
    }

    #[test]
    fn a_feature_with_zero_weight_gets_zero() {
        // The dummy axiom: a feature the model ignores gets no credit.
        let model = LinearModel::regression(array![[0.0, 5.0]], array![0.0]).unwrap();
        let reference = Reference::new(&model, array![[1.0, 1.0], [3.0, 2.0]]);
        let e = explain(
            &model,
            &reference,
            array![[100.0, 7.0]].view(),
            &[0],
            OutputSpace::Raw,
        )
        .unwrap();
        assert_eq!(e[0].attributions[0], 0.0);
    }

    #[test]
    fn probability_space_adds_up_for_binary_logistic() {
        // The rescaled attributions must sum to p(x) − E[p(X)].
        let model = LinearModel::logistic(array![[0.8, -0.4]], array![0.1]).unwrap();
        let reference = Reference::new(&model, array![[0.0, 1.0], [2.0, 3.0], [1.0, -1.0]]);
        let e = explain(
            &model,
            &reference,
            array![[3.0, -2.0], [0.5, 0.5]].view(),
            &[0, 0],
            OutputSpace::Probability,
        )
        .unwrap();
        for ex in &e {
            assert!(ex.prediction > 0.0 && ex.prediction < 1.0);
            assert_abs_diff_eq!(ex.quality.additivity_residual, 0.0, epsilon = 1e-12);
        }
    }

    #[test]
    fn probability_space_is_refused_for_regression() {
        let (model, reference) = two_feature_regression();
        let err = explain(
            &model,
            &reference,
            array![[1.0, 1.0]].view(),
            &[0],
            OutputSpace::Probability,
        )
        .unwrap_err();
        assert!(matches!(err, CoreError::InvalidArgument(_)));
    }
}
