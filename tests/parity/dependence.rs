//! Partial dependence and ICE curves against scikit-learn's
//! `sklearn.inspection.partial_dependence(method="brute", kind="both")` on small
//! MLPs, at scikit-learn's grid; and explaind's quantile grid against numpy's
//! quantiles. Fixtures come from tests/fixtures/gen_dependence.py.

use approx::assert_abs_diff_eq;
use explaind::core::global::dependence::{self, DependenceParams};
use explaind::core::models::mlp::MlpParams;
use explaind::core::models::{Mlp, OutputSpace};
use explaind::core::Cancel;
use ndarray::Array2;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/dependence/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture exists")).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

/// Compare every curve of a fixture; scikit-learn's `average` is (outputs, grid)
/// and `individual` (outputs, rows, grid). A binary or regression model has one
/// output row, a K-class `predict_proba` K.
fn check(name: &str, space: OutputSpace) {
    let f = fixture(name);
    let params: MlpParams = serde_json::from_value(f["params"].clone()).unwrap();
    let model: Mlp = params.validate().unwrap();
    let x = matrix(&f["x"]);
    let all_rows: Vec<usize> = (0..x.nrows()).collect();
    for c in f["curves"].as_array().unwrap() {
        let j = c["feature"].as_u64().unwrap() as usize;
        let grid: Vec<f64> = serde_json::from_value(c["grid"].clone()).unwrap();
        let p = DependenceParams {
            feature: j,
            grid: &grid,
            ice_rows: &all_rows,
            space,
        };
        let ours = dependence::partial_dependence(&model, x.view(), &p, &|_| {}, &Cancel::never())
            .unwrap();
        let average: Vec<Vec<f64>> = serde_json::from_value(c["average"].clone()).unwrap();
        let individual: Vec<Vec<Vec<f64>>> =
            serde_json::from_value(c["individual"].clone()).unwrap();
        assert_eq!(
            ours.average.len(),
            average.len(),
            "{name} feature {j}: outputs"
        );
        for (k, curve) in average.iter().enumerate() {
            for (g, v) in curve.iter().enumerate() {
                // Same arithmetic up to summation order: 1e-9.
                assert_abs_diff_eq!(ours.average[k][g], *v, epsilon = 1e-9);
                for (r, row) in individual[k].iter().enumerate() {
                    assert_abs_diff_eq!(ours.ice[k][r][g], row[g], epsilon = 1e-9);
                }
            }
        }
        // explaind's own grid: the distinct values, or 7 points evenly spaced between
        // numpy's 5% and 95% quantiles (scikit-learn's spacing), where those fall
        // between rows (the fixtures' row counts put them there).
        let ours_grid = dependence::grid(x.column(j), 7, 1).unwrap();
        let mut distinct: Vec<f64> = x.column(j).to_vec();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        let expected: Vec<f64> = if distinct.len() <= 7 {
            distinct
        } else {
            let q: Vec<f64> = serde_json::from_value(c["quantiles"].clone()).unwrap();
            let (low, high) = (q[0], q[q.len() - 1]);
            (0..7)
                .map(|i| low + (high - low) * i as f64 / 6.0)
                .collect()
        };
        assert_eq!(ours_grid.len(), expected.len(), "{name} feature {j}: grid");
        for (a, b) in ours_grid.iter().zip(&expected) {
            assert_abs_diff_eq!(*a, *b, epsilon = 1e-12);
        }
    }
}

#[test]
fn regressor_matches_sklearn_partial_dependence() {
    check("house_regressor", OutputSpace::Raw);
}

#[test]
fn classifier_probabilities_match_sklearn_partial_dependence() {
    check("iris_classifier", OutputSpace::Probability);
}
