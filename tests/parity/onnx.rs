//! ONNX files written by skl2onnx and torch.onnx, converted to MLPs, against
//! onnxruntime's outputs (tests/fixtures/onnx, written by gen_onnx.py); refused
//! operators; and truncated, corrupted and random bytes, which must give an error
//! and never a panic.

use approx::assert_abs_diff_eq;
use explaind::core::models::{Model, OutputSpace};
use explaind::formats::onnx;
use ndarray::Array2;
use serde_json::Value;

fn dir() -> String {
    format!("{}/tests/fixtures/onnx", env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> (Vec<u8>, Value) {
    let bytes = std::fs::read(format!("{}/{name}.onnx", dir())).expect("fixture exists");
    let doc = std::fs::read_to_string(format!("{}/{name}.json", dir())).unwrap();
    (bytes, serde_json::from_str(&doc).unwrap())
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

/// Predictions equal onnxruntime's. Double-precision files agree to rounding
/// (1e-9); float32 files are computed here in f64 from the same (exactly widened)
/// weights while onnxruntime rounds every operation to float32, hence 1e-6.
#[test]
fn converted_networks_predict_what_onnxruntime_computes() {
    for (name, eps) in [
        ("sk_regressor", 1e-9),
        ("sk_classifier", 1e-9),
        ("torch_f64", 1e-9),
        ("sk_classifier_zipmap", 1e-6),
        ("sk_binary", 1e-6),
        ("torch_f32", 1e-6),
    ] {
        let (bytes, doc) = load(name);
        let mlp = onnx::convert(&bytes).unwrap().params.validate().unwrap();
        let x = matrix(&doc["inputs"]);
        let theirs = matrix(&doc["outputs"]);
        let space = if mlp.link().has_probability() {
            OutputSpace::Probability
        } else {
            OutputSpace::Raw
        };
        let ours = mlp.predict(x.view(), space);
        assert_eq!(ours.dim(), theirs.dim(), "{name}");
        for (a, b) in ours.iter().zip(theirs.iter()) {
            assert_abs_diff_eq!(*a, *b, epsilon = eps * b.abs().max(1.0));
        }
    }
}

#[test]
fn unsupported_operators_are_refused_by_name() {
    let (bytes, doc) = load("torch_leaky");
    assert_eq!(doc["expect"], "refused");
    let err = onnx::convert(&bytes).unwrap_err().to_string();
    assert!(err.contains("'LeakyRelu'"), "{err}");
    // The message lists every kind of model explaind reads, not only networks'
    // operators.
    assert!(
        err.contains("TreeEnsembleClassifier") && err.contains("LinearClassifier"),
        "{err}"
    );
}

#[test]
fn every_truncation_of_a_valid_file_is_an_error_not_a_panic() {
    let (bytes, _) = load("torch_f32");
    for cut in 0..bytes.len() {
        // A prefix may still parse (protobuf has no end marker); it must not panic,
        // and a network that loses its weights cannot convert.
        let _ = onnx::convert(&bytes[..cut]);
    }
    assert!(onnx::convert(&bytes[..bytes.len() / 2]).is_err());
    assert!(onnx::convert(b"").is_err());
    assert!(onnx::convert(b"not an onnx file at all").is_err());
}

/// A small deterministic generator (64-bit LCG, Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn random_and_corrupted_bytes_never_panic() {
    let mut rng = Lcg(42);
    for len in [1usize, 2, 7, 64, 512] {
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = onnx::convert(&bytes);
        }
    }
    for name in ["sk_regressor", "sk_classifier_zipmap", "torch_f64"] {
        let (valid, _) = load(name);
        for _ in 0..2000 {
            let mut bytes = valid.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % bytes.len();
                bytes[i] = rng.next() as u8;
            }
            if let Ok(c) = onnx::convert(&bytes) {
                let _ = c.params.validate();
            }
        }
    }
}
