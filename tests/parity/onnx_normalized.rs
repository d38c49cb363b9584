//! skl2onnx pipelines with a Normalizer in front of the model (StandardScaler,
//! Normalizer L2, Ridge; StandardScaler, Normalizer L1, a forest), hosted as
//! predict-only models over their raw features, against onnxruntime on the same
//! files (tests/fixtures/onnx_pipeline, written by gen_onnx_pipeline.py):
//! predictions, and exact Shapley values over the raw features enumerated on the
//! deployed graph.

use explaind::core::explain::exact_shapley;
use explaind::core::explain::sampling::SamplingParams;
use explaind::core::models::{HostedModel, Mixing, Model, Norm, OutputSpace};
use explaind::formats::base64;
use explaind::spec::{self, BuiltModel, ModelSpec};
use ndarray::Array2;
use serde_json::{json, Value};

fn load(name: &str) -> (BuiltModel, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx_pipeline");
    let bytes = std::fs::read(format!("{dir}/{name}.onnx")).expect("fixture exists");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}.json")).unwrap())
            .unwrap();
    let spec: ModelSpec = serde_json::from_value(json!({
        "kind": "onnx",
        "model": base64::encode(&bytes),
        "background": doc["background"],
    }))
    .unwrap();
    (spec::build(&spec).unwrap(), doc)
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    Array2::from_shape_vec((rows.len(), rows[0].len()), rows.concat()).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

const CASES: [(&str, Norm, &str); 2] = [
    ("normalized_ridge", Norm::L2, "linear"),
    ("normalized_forest", Norm::L1, "onnx"),
];

/// Predictions equal onnxruntime's to float32 precision: the scaler, the norm and
/// the head run in float32 there; explaind rounds the scaled and normalized
/// columns to float32 as it does and sums the head in f64.
#[test]
fn normalized_pipelines_predict_what_onnxruntime_computes() {
    for (name, norm, _) in CASES {
        let (built, doc) = load(name);
        let HostedModel::Normalized(model) = &built.model else {
            panic!("{name}: not a normalized model: {:?}", built.model.kind());
        };
        assert_eq!(model.mixing(), &Mixing::Norm(norm));
        let names: Vec<String> = serde_json::from_value(doc["raw_features"].clone()).unwrap();
        assert_eq!(&*built.feature_names, names.as_slice());
        let x = matrix(&doc["rows"]);
        let ours = model.predict(x.view(), OutputSpace::Raw);
        let theirs = numbers(&doc["predictions"]);
        assert_eq!(ours.nrows(), theirs.len());
        for (r, want) in theirs.iter().enumerate() {
            let got = ours[[r, 0]];
            let tol = 8.0 * f64::from(f32::EPSILON) * want.abs().max(1.0);
            assert!((got - want).abs() <= tol, "{name} row {r}: {got} vs {want}");
        }
        // The normalized columns are the model node's input onnxruntime computed.
        let derived = matrix(&doc["derived"]);
        let normalized = model.normalized(x.view());
        for (g, w) in normalized.iter().zip(&derived) {
            assert!(
                (g - w).abs() <= 2.0 * f64::from(f32::EPSILON),
                "{name}: {g} vs {w}"
            );
        }
    }
}

/// exact_shapley over the raw features equals enumerating every coalition on the
/// deployed graph with onnxruntime (its float32 outputs averaged over 20
/// background rows bound the agreement), and the values add up to prediction −
/// base.
#[test]
fn exact_shapley_over_raw_features_equals_enumeration_on_the_graph() {
    for (name, _, _) in CASES {
        let (built, doc) = load(name);
        let model = built.model.as_model();
        let reference = built.reference.as_ref().expect("a background was given");
        let x = matrix(&doc["rows"]);
        let options = SamplingParams::default().check(model).unwrap();
        let explained =
            exact_shapley::explain(model, reference, x.view(), &vec![0; x.nrows()], &options)
                .unwrap();
        let base = doc["base"].as_f64().unwrap();
        let scale = base.abs().max(1.0);
        for (r, (e, want)) in explained
            .iter()
            .zip(doc["shapley"].as_array().unwrap())
            .enumerate()
        {
            for (j, (g, w)) in e.attributions.iter().zip(&numbers(want)).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * scale,
                    "{name} row {r} feature {j}: {g} vs {w}"
                );
            }
            assert!((e.base_value - base).abs() <= 1e-5 * scale, "{name}");
            let sum: f64 = e.attributions.iter().sum();
            assert!((e.base_value + sum - e.prediction).abs() <= 1e-9 * scale);
        }
    }
}

/// The inner model's kind is named in the refusal of a structural method.
#[test]
fn structural_methods_are_refused_naming_the_normalizer_and_the_head() {
    for (name, norm, head) in CASES {
        let (built, _) = load(name);
        let HostedModel::Normalized(model) = &built.model else {
            panic!("{name}: not normalized");
        };
        let err = model.refusal("tree_interventional").to_string();
        for words in [
            format!("Normalizer (norm {})", norm.name()),
            format!("the {head} model after it"),
            "kernel_shap".to_string(),
        ] {
            assert!(err.contains(&words), "{err}");
        }
    }
}

/// Truncated and corrupted files of pipelines with a PCA or a TruncatedSVD in front
/// of the model are errors, never panics, through registration and a prediction.
#[test]
fn truncated_and_corrupted_affine_pipelines_are_errors_not_panics() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx_pipeline");
    for name in ["pca_forest", "pca_ridge", "svd_logistic"] {
        let bytes = std::fs::read(format!("{dir}/{name}.onnx")).expect("fixture exists");
        let background = json!([[5000.0, 3.0, 1.0, 2.0], [3000.0, 2.0, 2.0, 1.0]]);
        let build = |b: &[u8]| {
            let spec: ModelSpec = serde_json::from_value(json!({
                "kind": "onnx", "model": base64::encode(b), "background": background,
            }))
            .unwrap();
            if let Ok(built) = spec::build(&spec) {
                let m = built.model.as_model();
                let _ = m.predict(
                    Array2::from_elem((2, m.n_features()), 1.5).view(),
                    OutputSpace::Raw,
                );
            }
        };
        for cut in 0..bytes.len() {
            build(&bytes[..cut]);
        }
        for b in crate::common::corrupted(&bytes, 1000) {
            build(&b);
        }
    }
}
