//! What the ONNX pipeline tests share: the fixtures of
//! tests/fixtures/onnx_pipeline (gen_onnx_pipeline.py) and their tolerance.

use explaind::formats::base64;
use serde_json::Value;

/// The fixture `name`: its file in base64, and its JSON document (null for the
/// files that have none).
pub fn fixture(name: &str) -> (String, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx_pipeline");
    let bytes = std::fs::read(format!("{dir}/{name}.onnx")).unwrap();
    let doc = std::fs::read_to_string(format!("{dir}/{name}.json"))
        .map(|d| serde_json::from_str(&d).unwrap())
        .unwrap_or(Value::Null);
    (base64::encode(&bytes), doc)
}

/// `got` equals onnxruntime's `want` to float32 precision: 1e-5 of `scale` (at
/// least 1).
pub fn close(got: &Value, want: &Value, scale: f64, what: &str) {
    let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
    assert!((g - w).abs() <= 1e-5 * scale.max(1.0), "{what}: {g} vs {w}");
}

/// Every explanation of `answer` against the fixture's enumerated Shapley values
/// on the graph (`doc["shapley"]`, one row each, over `width` raw features) and its
/// base value.
pub fn assert_shapley(answer: &Value, doc: &Value, width: usize, what: &str) {
    let scale = doc["base"].as_f64().unwrap().abs();
    let explanations = answer["explanations"].as_array().unwrap();
    for (r, e) in explanations.iter().enumerate() {
        let got = e["attributions"].as_array().unwrap();
        assert_eq!(got.len(), width, "one attribution per raw feature");
        for (g, w) in got.iter().zip(doc["shapley"][r].as_array().unwrap()) {
            close(g, w, scale, &format!("{what} row {r}"));
        }
        close(
            &e["base_value"],
            &doc["base"],
            scale,
            &format!("{what} base"),
        );
    }
}
