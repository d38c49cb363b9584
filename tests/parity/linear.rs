//! Parity with shap's LinearExplainer and scikit-learn, on fixtures written by
//! tests/fixtures/gen_linear.py.

use approx::assert_relative_eq;
use explaind::core::explain::{linear_shap, Explanation};
use explaind::core::models::{HostedModel, OutputSpace};
use explaind::spec::{self, BuiltModel, ModelSpec};
use ndarray::Array2;
use serde_json::Value;

fn build(doc: &Value) -> BuiltModel {
    let spec: ModelSpec = serde_json::from_value(doc["spec"].clone()).unwrap();
    spec::build(&spec).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    Array2::from_shape_vec((rows.len(), rows[0].len()), rows.concat()).unwrap()
}

fn explain(built: &BuiltModel, rows: &Array2<f64>, output: usize) -> Vec<Explanation> {
    let HostedModel::Linear(m) = &built.model else {
        panic!("fixture is a linear model")
    };
    let outputs = vec![output; rows.nrows()];
    linear_shap::explain(
        m,
        built.reference.as_ref().unwrap(),
        rows.view(),
        &outputs,
        OutputSpace::Raw,
    )
    .unwrap()
}

/// Scale-aware comparison: |a − b| ≤ 1e-9 · max(1, |b|, scale).
fn close(a: f64, b: f64, scale: f64) {
    assert!(
        (a - b).abs() <= 1e-9 * scale.max(b.abs()).max(1.0),
        "{a} vs {b} (scale {scale})"
    );
}

#[test]
fn demo_fit_matches_scikit_learn() {
    // Our Householder QR least squares must give scikit-learn's coefficients.
    let doc = crate::common::fixture("linear/house_prices_regression.json");
    let ours = explaind::demo::house_prices_spec().unwrap();
    let theirs = &doc["spec"]["params"];
    let w: Vec<f64> = serde_json::from_value(ours.params["coefficients"].clone()).unwrap();
    for (a, b) in w.iter().zip(theirs["coefficients"].as_array().unwrap()) {
        assert_relative_eq!(*a, b.as_f64().unwrap(), max_relative = 1e-8);
    }
    assert_relative_eq!(
        ours.params["intercept"].as_f64().unwrap(),
        theirs["intercept"].as_f64().unwrap(),
        max_relative = 1e-8
    );
}

#[test]
fn regression_matches_shap_linear_explainer() {
    let doc = crate::common::fixture("linear/house_prices_regression.json");
    let built = build(&doc);
    let rows = matrix(&doc["rows"]);
    let expected = matrix(&doc["shap_values"]);
    let base = doc["expected_value"][0].as_f64().unwrap();
    let predictions: Vec<f64> = serde_json::from_value(doc["predictions"].clone()).unwrap();
    for (i, e) in explain(&built, &rows, 0).iter().enumerate() {
        close(e.base_value, base, 1e5);
        close(e.prediction, predictions[i], 1e5);
        for (j, &phi) in e.attributions.iter().enumerate() {
            close(phi, expected[[i, j]], 1e5);
        }
        // Efficiency: base + Σφ = f(x).
        assert!(e.quality.additivity_residual.abs() < 1e-8);
    }
}

#[test]
fn binary_logistic_matches_shap_in_log_odds() {
    let doc = crate::common::fixture("linear/house_aircon_binary.json");
    let built = build(&doc);
    let rows = matrix(&doc["rows"]);
    let expected = matrix(&doc["shap_values"]);
    let base = doc["expected_value"][0].as_f64().unwrap();
    let margins: Vec<f64> = serde_json::from_value(doc["decision_function"].clone()).unwrap();
    let probabilities = matrix(&doc["predictions"]);
    let ours = built
        .model
        .as_model()
        .predict(rows.view(), OutputSpace::Probability);
    for i in 0..rows.nrows() {
        close(ours[[i, 0]], probabilities[[i, 0]], 1.0);
    }
    for (i, e) in explain(&built, &rows, 0).iter().enumerate() {
        close(e.base_value, base, 1.0);
        close(e.prediction, margins[i], 1.0);
        for (j, &phi) in e.attributions.iter().enumerate() {
            close(phi, expected[[i, j]], 1.0);
        }
    }
}

#[test]
fn multinomial_logistic_matches_shap_for_every_class() {
    let doc = crate::common::fixture("linear/iris_multinomial.json");
    let built = build(&doc);
    let rows = matrix(&doc["rows"]);
    let probabilities = matrix(&doc["predictions"]);
    let ours = built
        .model
        .as_model()
        .predict(rows.view(), OutputSpace::Probability);
    for (a, b) in ours.iter().zip(probabilities.iter()) {
        close(*a, *b, 1.0);
    }
    let by_class = doc["shap_values_by_class"].as_array().unwrap();
    for (k, values) in by_class.iter().enumerate() {
        let expected = matrix(values);
        let base = doc["expected_value"][k].as_f64().unwrap();
        for (i, e) in explain(&built, &rows, k).iter().enumerate() {
            close(e.base_value, base, 1.0);
            for (j, &phi) in e.attributions.iter().enumerate() {
                close(phi, expected[[i, j]], 1.0);
            }
        }
    }
}
