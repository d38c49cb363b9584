//! Any bytes as an ONNX file registered as `model` (base64, as clients send it): the
//! protobuf reader and the conversion to MLP layers, to a tree ensemble (ONNX-ML
//! TreeEnsembleRegressor/Classifier and TreeEnsemble, seeded in the corpus with
//! skl2onnx files and an opset-5 file of every node mode) or to a linear model must
//! return a model or an error, never panic, and a model they return must predict
//! and explain rows.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let encoded = explaind::formats::base64::encode(data);
    common::build_and_explain(&common::spec_of("onnx", serde_json::Value::String(encoded)));
});
