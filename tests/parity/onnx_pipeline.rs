//! skl2onnx pipelines (ColumnTransformer of imputing, scaling and encoding, then a
//! forest or boosted trees) compiled into tree ensembles over their raw features,
//! against onnxruntime on the same files (tests/fixtures/onnx_pipeline, written by
//! gen_onnx_pipeline.py): predictions, and interventional Shapley values over raw
//! features enumerated on the deployed graph. Malformed files give errors, never
//! panics.

use explaind::core::explain::{linear_shap, tree_interventional};
use explaind::core::models::{Model, OutputSpace, RawFeatures, RawKind, TreeEnsemble};
use explaind::core::stats::Reference;
use explaind::formats::onnx::{self, MlModel, OnnxModel};
use ndarray::Array2;
use serde_json::Value;

fn load(name: &str) -> (Vec<u8>, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx_pipeline");
    let bytes = std::fs::read(format!("{dir}/{name}.onnx")).expect("fixture exists");
    let doc = std::fs::read_to_string(format!("{dir}/{name}.json")).unwrap();
    (bytes, serde_json::from_str(&doc).unwrap())
}

fn model(bytes: &[u8]) -> TreeEnsemble {
    match onnx::read(bytes).unwrap() {
        OnnxModel::Ml(MlModel::Trees { spec, .. }) => TreeEnsemble::new(spec).unwrap(),
        other => panic!("not trees: {other:?}"),
    }
}

/// Raw rows as the model reads them: numbers, NaN for null, a string's code.
fn rows(raw: &RawFeatures, v: &Value) -> Array2<f64> {
    let rows = v.as_array().unwrap();
    let width = rows[0].as_array().unwrap().len();
    let mut x = Array2::zeros((rows.len(), width));
    for (i, row) in rows.iter().enumerate() {
        for (j, value) in row.as_array().unwrap().iter().enumerate() {
            x[[i, j]] = match value {
                Value::Null => f64::NAN,
                Value::String(s) => raw.code(j, s).expect("a categorical feature"),
                v => v.as_f64().unwrap(),
            };
        }
    }
    x
}

fn numbers(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Predictions equal onnxruntime's to float32 precision: onnxruntime adds the
/// float32 leaf values in float32, explaind in f64.
#[test]
fn pipelines_predict_what_onnxruntime_computes() {
    for (name, space, key) in [
        ("rf_regressor", OutputSpace::Raw, "predictions"),
        ("gb_classifier", OutputSpace::Probability, "predictions"),
        ("gb_classifier", OutputSpace::Raw, "margins"),
    ] {
        let (bytes, doc) = load(name);
        let model = model(&bytes);
        let raw = model.raw_features().expect("string inputs are categorical");
        let names: Vec<String> = serde_json::from_value(doc["raw_features"].clone()).unwrap();
        assert_eq!(model.feature_names().unwrap(), names.as_slice());
        let x = rows(raw, &doc["rows"]);
        let ours = model.predict(x.view(), space);
        let theirs = numbers(&doc[key]);
        assert_eq!(ours.nrows(), theirs.len());
        for (r, want) in theirs.iter().enumerate() {
            let got = ours[[r, ours.ncols() - 1]];
            let tol = 4.0 * f64::from(f32::EPSILON) * want.abs().max(1.0);
            assert!(
                (got - want).abs() <= tol,
                "{name} {key} row {r}: {got} vs {want}"
            );
        }
    }
}

/// tree_interventional over the folded ensemble gives the interventional Shapley
/// values of the whole pipeline over its raw features, as enumerating every
/// coalition on the deployed graph with onnxruntime does (one attribution per raw
/// feature, not per one-hot column). onnxruntime's float32 outputs, averaged over
/// 20 background rows and 64 coalitions, bound the agreement.
#[test]
fn interventional_values_equal_enumeration_over_raw_features() {
    for name in ["rf_regressor", "gb_classifier"] {
        let (bytes, doc) = load(name);
        let model = model(&bytes);
        let raw = model.raw_features().unwrap();
        let background = rows(raw, &doc["background"]);
        let reference = Reference::new(&model, background);
        let x = rows(raw, &doc["rows"]);
        let k = model.n_outputs() - 1;
        let explained = tree_interventional::explain(
            &model,
            &reference,
            x.view(),
            &vec![k; x.nrows()],
            OutputSpace::Raw,
        )
        .unwrap();
        let base = doc["base"].as_f64().unwrap();
        let scale = base.abs().max(1.0);
        for (r, (e, want)) in explained
            .iter()
            .zip(doc["shapley"].as_array().unwrap())
            .enumerate()
        {
            let want = numbers(want);
            assert_eq!(
                e.attributions.len(),
                want.len(),
                "one value per raw feature"
            );
            for (j, (g, w)) in e.attributions.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-6 * scale,
                    "{name} row {r} feature {j}: {g} vs {w}"
                );
            }
            assert!(
                (e.base_value - base).abs() <= 1e-6 * scale,
                "{name}: {} vs {base}",
                e.base_value
            );
        }
    }
}

#[test]
fn truncated_and_corrupted_pipelines_are_errors_not_panics() {
    for name in ["rf_regressor", "gb_classifier"] {
        let (bytes, _) = load(name);
        for cut in 0..bytes.len() {
            let _ = onnx::read(&bytes[..cut]);
        }
        for b in crate::common::corrupted(&bytes, 2000) {
            if let Ok(OnnxModel::Ml(MlModel::Trees { spec, .. })) = onnx::read(&b) {
                let _ = TreeEnsemble::new(spec);
            }
        }
    }
}

/// StandardScaler in front of Ridge and LogisticRegression folds into the linear
/// model's weights over the raw columns: predictions (and log-odds) equal
/// onnxruntime's, and linear SHAP equals the enumerated Shapley values, to float32
/// precision (onnxruntime scales and sums in float32).
#[test]
fn scalers_fold_into_linear_models_over_raw_features() {
    for (name, key) in [
        ("scaled_ridge", "predictions"),
        ("scaled_logistic", "margins"),
        ("vectorized_ridge", "predictions"),
    ] {
        let (bytes, doc) = load(name);
        let OnnxModel::Ml(MlModel::Linear(model, _)) = onnx::read(&bytes).unwrap() else {
            panic!("{name}: not linear");
        };
        let raw = RawFeatures::new(vec![RawKind::Numeric; 4]).unwrap();
        let x = rows(&raw, &doc["rows"]);
        let ours = model.predict(x.view(), OutputSpace::Raw);
        let scale = numbers(&doc[key])
            .iter()
            .fold(1.0_f64, |m, v| m.max(v.abs()));
        for (r, want) in numbers(&doc[key]).iter().enumerate() {
            let got = ours[[r, 0]];
            assert!(
                (got - want).abs() <= 1e-6 * scale,
                "{name} row {r}: {got} vs {want}"
            );
        }
        let reference = Reference::new(&model, rows(&raw, &doc["background"]));
        let explained = linear_shap::explain(
            &model,
            &reference,
            x.view(),
            &vec![0; x.nrows()],
            OutputSpace::Raw,
        )
        .unwrap();
        for (r, e) in explained.iter().enumerate() {
            for (g, w) in e.attributions.iter().zip(numbers(&doc["shapley"][r])) {
                assert!((g - w).abs() <= 1e-6 * scale, "{name} row {r}: {g} vs {w}");
            }
        }
    }
}

/// An imputer, a scaler and a OneHotEncoder(handle_unknown="ignore") in front of
/// LinearRegression and LogisticRegression: no affine map of the raw values, but
/// every column is computed from one raw feature, so the model is additive over
/// them. Predictions (margins and probabilities) equal onnxruntime's to float32
/// precision, unseen categories and missing numbers included, and linear SHAP's
/// centred terms equal the interventional Shapley values enumerated over every
/// coalition of raw features on the deployed graph.
#[test]
fn encoded_columns_in_front_of_a_linear_model_are_additive_over_raw_features() {
    for (name, key) in [
        ("encoded_linear", "predictions"),
        ("encoded_logistic", "margins"),
    ] {
        let (bytes, doc) = load(name);
        let OnnxModel::Ml(MlModel::Additive(model)) = onnx::read(&bytes).unwrap() else {
            panic!("{name}: not an additive model");
        };
        let names: Vec<String> = serde_json::from_value(doc["raw_features"].clone()).unwrap();
        assert_eq!(model.feature_names(), names.as_slice());
        let raw = model.raw_features().expect("string inputs are categorical");
        let x = rows(raw, &doc["rows"]);
        assert!(x.column(4).iter().any(|&c| Some(c) == raw.unseen_code(4)));
        let mut checks = vec![(OutputSpace::Raw, numbers(&doc[key]))];
        if key == "margins" {
            checks.push((OutputSpace::Probability, numbers(&doc["predictions"])));
        }
        for (space, theirs) in checks {
            let ours = model.predict(x.view(), space);
            for (r, want) in theirs.iter().enumerate() {
                let got = ours[[r, 0]];
                let tol = 4.0 * f64::from(f32::EPSILON) * want.abs().max(1.0);
                assert!(
                    (got - want).abs() <= tol,
                    "{name} {space:?} row {r}: {got} vs {want}"
                );
            }
        }
        let reference = Reference::new(&model, rows(raw, &doc["background"]));
        let explained = linear_shap::explain_additive(
            &model,
            &reference,
            x.view(),
            &vec![0; x.nrows()],
            OutputSpace::Raw,
        )
        .unwrap();
        let base = doc["base"].as_f64().unwrap();
        let scale = base.abs().max(1.0);
        for (r, e) in explained.iter().enumerate() {
            let want = numbers(&doc["shapley"][r]);
            assert_eq!(
                e.attributions.len(),
                want.len(),
                "one value per raw feature"
            );
            for (j, (g, w)) in e.attributions.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-6 * scale,
                    "{name} row {r} feature {j}: {g} vs {w}"
                );
            }
            assert!(
                (e.base_value - base).abs() <= 1e-6 * scale,
                "{name}: {} vs {base}",
                e.base_value
            );
            assert!(e.quality.additivity_residual.abs() <= 1e-9 * scale);
        }
    }
}

/// Raw values on the float32 values either side of where a split on a scaled
/// column changes side (tests/fixtures/gen_onnx_pipeline.py, `boundary_rows`): the
/// folded thresholds decide each as onnxruntime's float32 Scaler and tree do.
#[test]
fn folded_thresholds_decide_float32_boundaries_as_onnxruntime() {
    let (bytes, doc) = load("rf_regressor");
    let model = model(&bytes);
    let x = rows(model.raw_features().unwrap(), &doc["boundary_rows"]);
    let ours = model.predict(x.view(), OutputSpace::Raw);
    let theirs = numbers(&doc["boundary_predictions"]);
    assert!(theirs.len() >= 40);
    let distinct = theirs.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(distinct >= 5, "some boundaries change the prediction");
    for (r, want) in theirs.iter().enumerate() {
        let got = ours[[r, 0]];
        assert!(
            (got - want).abs() <= 4.0 * f64::from(f32::EPSILON) * want.abs(),
            "boundary row {r} {:?}: {got} vs {want}",
            doc["boundary_rows"][r]
        );
    }
}
