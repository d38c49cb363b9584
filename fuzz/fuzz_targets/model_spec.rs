//! Any bytes as a registration document: parsing and validation must return a
//! model or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<explaind::spec::ModelSpec>(data) {
        let _ = explaind::spec::build(&spec);
    }
});
