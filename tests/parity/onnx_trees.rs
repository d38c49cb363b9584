//! Parity of ONNX-ML tree ensembles with onnxruntime and shap.
//!
//! Each `tests/fixtures/onnx_trees/<name>.json` was written by
//! `tests/fixtures/gen_onnx_trees.py`: rows (NaN as null), onnxruntime's outputs on
//! the `.onnx` file beside it (the columns explaind's model has), a background, and
//! shap's interventional TreeExplainer values of the scikit-learn model. onnxruntime
//! sums in float32, so predictions are matched to float32 precision (1e-5 of the
//! largest value); the splits decide exactly as onnxruntime's on every row.

use std::path::PathBuf;

use explaind::core::explain::tree_interventional;
use explaind::core::models::{ExtremeTrees, Model, OutputSpace, TreeEnsemble};
use explaind::core::stats::Reference;
use explaind::formats::onnx::{self, MlModel, OnnxModel};
use ndarray::Array2;
use serde_json::Value;

const NAMES: [&str; 10] = [
    "rf_regressor",
    "rf_regressor_v5",
    "et_binary",
    "et_multiclass",
    "gb_binary",
    "gb_multiclass",
    "hgb_regressor",
    "dt_regressor",
    "modes_v5",
    "xgb_regressor",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx_trees")
}

fn load(name: &str) -> (TreeEnsemble, Value) {
    let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).expect("onnx file");
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.json"))).expect("json"))
            .expect("fixture json");
    let OnnxModel::Ml(MlModel::Trees { spec, .. }) = onnx::read(&bytes).expect(name) else {
        panic!("{name}: not read as a tree ensemble");
    };
    (TreeEnsemble::new(spec).expect(name), json)
}

/// A JSON matrix with null as NaN.
fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v
        .as_array()
        .expect("matrix")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let (n, m) = (rows.len(), rows.first().map_or(0, Vec::len));
    Array2::from_shape_vec((n, m), rows.concat()).expect("rectangular")
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * scale,
            "{what}[{i}]: {g} vs {w} (scale {scale})"
        );
    }
}

#[test]
fn predictions_equal_onnxruntime_on_every_fixture() {
    for name in NAMES {
        let (model, json) = load(name);
        assert_eq!(model.kind(), "onnx");
        let x = matrix(&json["rows"]);
        let want = matrix(&json["outputs"]);
        assert_eq!(model.n_outputs(), want.ncols(), "{name}: outputs");
        let space = if model.link().has_probability() {
            OutputSpace::Probability
        } else {
            OutputSpace::Raw
        };
        let got = model.predict(x.view(), space);
        assert_close(
            name,
            got.as_slice().expect("standard"),
            want.as_slice().expect("standard"),
        );
    }
}

#[test]
fn tree_interventional_equals_shap_on_every_fixture_shap_explains() {
    let mut checked = 0;
    for name in NAMES {
        let (model, json) = load(name);
        let Some(per_output) = json.get("shap").and_then(Value::as_array) else {
            continue;
        };
        let x = matrix(&json["rows"]);
        let reference = Reference::new(&model, matrix(&json["background"]));
        let raw = model.predict_raw(x.view());
        for (k, want) in per_output.iter().enumerate() {
            let e = tree_interventional::explain(
                &model,
                &reference,
                x.view(),
                &vec![k; x.nrows()],
                OutputSpace::Raw,
            )
            .expect(name);
            let got: Vec<f64> = e.iter().flat_map(|e| e.attributions.clone()).collect();
            let want = matrix(want);
            assert_close(
                &format!("{name} output {k}"),
                &got,
                want.as_slice().expect("standard"),
            );
            // Efficiency: the base and the attributions add up to the raw output.
            let base = json["shap_base"][k].as_f64().expect("base");
            for (i, e) in e.iter().enumerate() {
                let sum = e.base_value + e.attributions.iter().sum::<f64>();
                assert!((sum - raw[[i, k]]).abs() <= 1e-9 * raw[[i, k]].abs().max(1.0));
                assert!(
                    (e.base_value - base).abs() <= 1e-5 * base.abs().max(1.0),
                    "{name}: base {} vs shap's {base}",
                    e.base_value
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} fixtures carry shap values");
}

#[test]
fn linear_models_on_the_input_equal_onnxruntime() {
    for (name, kind) in [
        ("linear_regressor", "linear"),
        ("logistic_binary", "logistic"),
        ("logistic_multiclass", "logistic"),
    ] {
        let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).expect("onnx file");
        let json: Value = serde_json::from_slice(
            &std::fs::read(dir().join(format!("{name}.json"))).expect("json"),
        )
        .expect("fixture json");
        let OnnxModel::Ml(MlModel::Linear(model, _)) = onnx::read(&bytes).expect(name) else {
            panic!("{name}: not read as a linear model");
        };
        assert_eq!(model.kind(), kind);
        let x = matrix(&json["rows"]);
        let want = matrix(&json["outputs"]);
        let space = if kind == "logistic" {
            OutputSpace::Probability
        } else {
            OutputSpace::Raw
        };
        let got = model.predict(x.view(), space);
        assert_eq!(got.dim(), want.dim(), "{name}");
        assert_close(
            name,
            got.as_slice().expect("standard"),
            want.as_slice().expect("standard"),
        );
    }
}

#[test]
fn corrupted_tree_files_never_panic() {
    // A linear congruential generator: the same corruptions on every run.
    let mut state = 14u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let row = Array2::from_elem((1, 11), 1.0);
    for name in ["dt_regressor", "modes_v5", "gb_binary", "et_multiclass"] {
        let valid = std::fs::read(dir().join(format!("{name}.onnx"))).expect("onnx file");
        for _ in 0..800 {
            let mut bytes = valid.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            if let Ok(OnnxModel::Ml(MlModel::Trees { spec, .. })) = onnx::read(&bytes) {
                if let Ok(model) = TreeEnsemble::new(spec) {
                    if model.n_features() == 11 {
                        let _ = model.predict_raw(row.view());
                    }
                }
            }
        }
    }
}

/// `aggregate_function` MIN (TreeEnsembleRegressor) and MAX (the opset-5
/// TreeEnsemble): predictions equal onnxruntime's on the same files, which differ
/// from the AVERAGE forest they were made from.
#[test]
fn min_and_max_aggregates_predict_as_onnxruntime() {
    for (name, aggregate) in [("rf_regressor_min", "MIN"), ("rf_regressor_v5_max", "MAX")] {
        let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
        let json: Value =
            serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.json"))).unwrap())
                .unwrap();
        let OnnxModel::Ml(MlModel::Trees {
            spec,
            extreme: Some(leaves),
            ..
        }) = onnx::read(&bytes).expect(name)
        else {
            panic!("{name}: not read as a MIN/MAX ensemble");
        };
        let model = ExtremeTrees::new(TreeEnsemble::new(spec).unwrap(), leaves).unwrap();
        assert_eq!(model.aggregate(), aggregate);
        let x = matrix(&json["rows"]);
        let got = model.predict(x.view(), OutputSpace::Raw);
        let want = matrix(&json["outputs"]);
        assert_close(name, got.as_slice().unwrap(), want.as_slice().unwrap());
        let (average, _) = load("rf_regressor");
        let mean = average.predict(x.view(), OutputSpace::Raw);
        let apart = mean
            .iter()
            .zip(&got)
            .filter(|(a, b)| (*a - *b).abs() > 1.0)
            .count();
        assert!(
            apart > x.nrows() / 2,
            "{name}: {apart} rows differ from AVERAGE"
        );
    }
}
