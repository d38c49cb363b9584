//! Any bytes as an XGBoost JSON model registered as `model` (a string, as clients
//! send the file's text): the reader must return a model or an error, never panic,
//! and a model it returns must predict and explain rows.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The object form re-serialises to the same bytes; the string form reaches the
    // reader with the bytes as they are.
    let Ok(text) = std::str::from_utf8(data) else {
        let _ = explaind::formats::xgboost::parse(data);
        return;
    };
    common::build_and_explain(&common::spec_of(
        "xgboost",
        serde_json::Value::String(text.to_string()),
    ));
});
