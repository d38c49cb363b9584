//! Partial dependence and ICE curves against scikit-learn's
//! `sklearn.inspection.partial_dependence(method="brute", kind="both")` on small
//! MLPs, at scikit-learn's grid; and explaind's grid rule against scikit-learn's
//! grids. Fixtures come from tests/fixtures/gen_dependence.py and
//! tests/fixtures/gen_dependence_grid.py.

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
        // explaind's own grid at gen_dependence.py's grid_resolution (6) is
        // scikit-learn's grid.
        let ours_grid = dependence::grid(x.column(j), 6, 1).unwrap();
        assert_grid_eq(&ours_grid, &grid, &format!("{name} feature {j}"));
    }
}

/// Equal grids: the same length, each point within 1e-12 of its size (linspace and
/// explaind's weighted means differ in the last bits).
fn assert_grid_eq(ours: &[f64], theirs: &[f64], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: {ours:?} vs {theirs:?}");
    for (a, b) in ours.iter().zip(theirs) {
        assert_abs_diff_eq!(*a, *b, epsilon = 1e-12 * b.abs().max(1.0));
    }
}

/// explaind's grid rule is scikit-learn's: for every column of
/// tests/fixtures/gen_dependence_grid.py (house prices, iris, made-up edge cases)
/// and every `grid_resolution` there, `dependence::grid` (every value shown, as for
/// admins) equals `partial_dependence(...)["grid_values"]`.
#[test]
fn the_grid_is_scikit_learns() {
    let f = fixture("grids");
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let column: Vec<f64> = serde_json::from_value(case["column"].clone()).unwrap();
        let column = ndarray::Array1::from(column);
        for (resolution, theirs) in case["grids"].as_object().unwrap() {
            let theirs: Vec<f64> = serde_json::from_value(theirs.clone()).unwrap();
            let points: usize = resolution.parse().unwrap();
            let ours = dependence::grid(column.view(), points, 1).unwrap();
            let what = format!("{} at grid_resolution {points}", case["name"]);
            assert_grid_eq(&ours, &theirs, &what);
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
