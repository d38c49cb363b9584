//! Any bytes as a LightGBM text model registered as `model`: the reader must return
//! a model or an error, never panic, and a model it returns must predict and explain
//! rows.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    common::build_and_explain(&common::spec_of(
        "lightgbm",
        serde_json::Value::String(text.to_string()),
    ));
});
