//! Parity of the model-agnostic explainers with shap and lime, on fixtures written by
//! `tests/fixtures/gen_agnostic.py` (run it to regenerate; these tests need no Python).
//!
//! - Exact Shapley values must equal shap's `ExactExplainer` to 1e-9.
//! - Sampled KernelSHAP / permutation values must lie within 5 of their own reported
//!   standard errors of the exact values, and within that plus shap's own error
//!   (known, since the fixture holds the exact values) of shap's sampled values.
//! - LIME is random on both sides: explaind's weights must have the same three
//!   largest features as lime's average over five seeds, and lie near it.

use std::fs;

use explaind::core::explain::sampling::{SamplingOptions, SamplingParams};
use explaind::core::explain::{explain_agnostic, Explanation, Method};
use explaind::core::models::{LinearModel, Link, Model, OutputSpace};
use explaind::core::stats::Reference;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/agnostic/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

/// The fixture's product model: x0·x1 + 0.5·x2·x3 − x4 + x5² + 0.3·x6.
struct Product;

impl Model for Product {
    fn n_features(&self) -> usize {
        8
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Identity
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        x.map_axis(Axis(1), |r| {
            r[0] * r[1] + 0.5 * r[2] * r[3] - r[4] + r[5] * r[5] + 0.3 * r[6]
        })
        .insert_axis(Axis(1))
    }
}

/// The model of a fixture, its reference, the rows and the space explained.
fn setup(name: &str) -> (Box<dyn Model>, Reference, Array2<f64>, OutputSpace, Value) {
    let fx = load(name);
    let (model, space): (Box<dyn Model>, OutputSpace) = if name == "logistic" {
        let w: Vec<f64> = serde_json::from_value(fx["coefficients"].clone()).unwrap();
        let b = fx["intercept"].as_f64().unwrap();
        let m = LinearModel::logistic(
            Array2::from_shape_vec((1, w.len()), w).unwrap(),
            Array1::from(vec![b]),
        );
        (Box::new(m.unwrap()), OutputSpace::Probability)
    } else {
        (Box::new(Product), OutputSpace::Raw)
    };
    let reference = Reference::new(model.as_ref(), matrix(&fx["background"]));
    let rows = matrix(&fx["rows"]);
    (model, reference, rows, space, fx)
}

fn options(
    model: &dyn Model,
    space: OutputSpace,
    n_samples: Option<usize>,
    seed: u64,
) -> SamplingOptions {
    SamplingParams {
        seed,
        n_samples,
        output_space: space,
        ..SamplingParams::default()
    }
    .check(model)
    .unwrap()
}

fn explain_with(method: Method, name: &str, n_samples: Option<usize>) -> (Vec<Explanation>, Value) {
    let (model, reference, rows, space, fx) = setup(name);
    let outputs = vec![0; rows.nrows()];
    let opts = options(model.as_ref(), space, n_samples, 42);
    let got = explain_agnostic(
        method,
        model.as_ref(),
        &reference,
        rows.view(),
        &outputs,
        &opts,
    );
    (got.unwrap(), fx)
}

#[test]
fn exact_shapley_equals_shap_exact_explainer() {
    for name in ["logistic", "product"] {
        let (got, fx) = explain_with(Method::ExactShapley, name, None);
        let want = matrix(&fx["exact"]);
        for (e, w) in got.iter().zip(want.rows()) {
            assert!((e.base_value - fx["base_value"].as_f64().unwrap()).abs() < 1e-12);
            for (a, b) in e.attributions.iter().zip(w) {
                assert!((a - b).abs() < 1e-9, "{name}: {a} vs shap {b}");
            }
        }
    }
}

/// Each sampled value within 5 standard errors of exact, and of shap's estimate
/// up to shap's own (known) error.
fn check_sampled(name: &str, got: &[Explanation], shap: &Array2<f64>, exact: &Array2<f64>) {
    for (r, e) in got.iter().enumerate() {
        assert!(
            e.quality.additivity_residual.abs() < 1e-9,
            "{name}: efficiency"
        );
        let se = e.quality.standard_errors.as_ref().unwrap();
        for j in 0..se.len() {
            let (a, s, x) = (e.attributions[j], shap[[r, j]], exact[[r, j]]);
            let tol = 5.0 * se[j] + 1e-9;
            assert!(
                (a - x).abs() <= tol,
                "{name} row {r} feature {j}: {a} vs exact {x}, se {}",
                se[j]
            );
            assert!(
                (a - s).abs() <= tol + (s - x).abs(),
                "{name} row {r} feature {j}: {a} vs shap {s}"
            );
        }
    }
}

#[test]
fn kernel_shap_agrees_with_shap_kernel_explainer() {
    for name in ["logistic", "product"] {
        let fx = load(name);
        let n = fx["kernel"]["nsamples"].as_u64().unwrap() as usize;
        let (got, fx) = explain_with(Method::KernelShap, name, Some(n));
        check_sampled(
            name,
            &got,
            &matrix(&fx["kernel"]["values"]),
            &matrix(&fx["exact"]),
        );
    }
}

#[test]
fn permutation_shap_agrees_with_shap_permutation_explainer() {
    // 20 antithetic pairs, as the fixture's max_evals buys shap.
    for name in ["logistic", "product"] {
        let players = load(name)["rows"][0].as_array().unwrap().len();
        let (got, fx) = explain_with(Method::PermutationShap, name, Some(20 * 2 * (players - 1)));
        check_sampled(
            name,
            &got,
            &matrix(&fx["permutation"]["values"]),
            &matrix(&fx["exact"]),
        );
    }
}

#[test]
fn permutation_pairs_are_exact_for_pairwise_games() {
    // The product model has interactions of order two at most, and a forward and
    // reversed order together credit each pair's interaction half to each member:
    // every antithetic pair gives the exact Shapley value.
    let (got, fx) = explain_with(Method::PermutationShap, "product", Some(2 * 2 * 7));
    let exact = matrix(&fx["exact"]);
    for (e, x) in got.iter().zip(exact.rows()) {
        for (a, b) in e.attributions.iter().zip(x) {
            assert!((a - b).abs() < 1e-9);
        }
        // Up to rounding: v(N) is the prediction, not an average over the background.
        assert!(
            e.attributions[7].abs() < 1e-12,
            "the dummy feature x7 gets nothing"
        );
    }
}

#[test]
fn lime_agrees_with_lime_tabular_in_distribution() {
    for name in ["logistic", "product"] {
        let fx = load(name);
        let n = fx["lime"]["num_samples"].as_u64().unwrap() as usize;
        let (got, fx) = explain_with(Method::Lime, name, Some(n));
        let runs = fx["lime"]["runs"].as_array().unwrap();
        for (r, e) in got.iter().enumerate() {
            let f = e.attributions.len();
            let theirs: Vec<Vec<f64>> = runs
                .iter()
                .map(|run| serde_json::from_value(run[r]["weights"].clone()).unwrap())
                .collect();
            let mean: Vec<f64> = (0..f)
                .map(|j| theirs.iter().map(|w| w[j]).sum::<f64>() / theirs.len() as f64)
                .collect();
            let spread: Vec<f64> = (0..f)
                .map(|j| {
                    (theirs.iter().map(|w| (w[j] - mean[j]).powi(2)).sum::<f64>()
                        / (theirs.len() - 1) as f64)
                        .sqrt()
                })
                .collect();
            // Same strongest feature, and at least two of the three strongest in common
            // (the third is often a near-tie that either side's noise can flip).
            let (ours, lime) = (top3(&e.attributions), top3(&mean));
            let msg = format!("{name} row {r}: {:?} vs {mean:?}", e.attributions);
            assert_eq!(ours[0], lime[0], "{msg}");
            assert!(
                ours.iter().filter(|j| lime.contains(j)).count() >= 2,
                "{msg}"
            );
            let se = e.quality.standard_errors.as_ref().unwrap();
            for j in 0..f {
                let tol = 4.0 * (se[j].powi(2) + spread[j].powi(2)).sqrt();
                assert!(
                    (e.attributions[j] - mean[j]).abs() <= tol,
                    "{name} row {r} feature {j}: {} vs lime {}, tol {tol}",
                    e.attributions[j],
                    mean[j]
                );
            }
            let intercepts: Vec<f64> = runs
                .iter()
                .map(|run| run[r]["intercept"].as_f64().unwrap())
                .collect();
            let (mean_b, sd_b) = mean_sd(&intercepts);
            assert!(
                (e.base_value - mean_b).abs() <= 4.0 * sd_b,
                "{name} row {r}: intercept {} vs lime {mean_b} ± {sd_b}",
                e.base_value
            );
            let score = mean_sd(
                &runs
                    .iter()
                    .map(|run| run[r]["score"].as_f64().unwrap())
                    .collect::<Vec<_>>(),
            )
            .0;
            assert!((e.quality.surrogate_r2.unwrap() - score).abs() < 0.1);
        }
    }
}

/// The three features of largest magnitude, strongest first.
fn top3(w: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by(|&a, &b| w[b].abs().total_cmp(&w[a].abs()));
    order.truncate(3);
    order
}

/// Mean and sample standard deviation.
fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}
