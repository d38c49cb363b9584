//! Structured tree models (issue 15): libFuzzer's bytes drive the generator of
//! `tests/common/tree_gen.rs` (shared with the seeded test `tests/trees_deep.rs`) into
//! a deep "caterpillar", a wide balanced tree, a forest of many small trees or a few
//! random ones, written both as XGBoost JSON and as LightGBM text. Each file must be
//! refused exactly when a tree is deeper than the default `--max-tree-depth`, and a
//! model that builds must predict what its trees compute and explain rows. Run under
//! a malloc limit (`bench/fuzz.sh`), so memory superlinear in the file is a crash.
#![no_main]

mod common;
#[path = "../../tests/common/tree_gen.rs"]
mod tree_gen;

use explaind::core::models::trees::DEFAULT_MAX_TREE_DEPTH;
use explaind::core::models::{HostedModel, Model};
use explaind::spec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Caterpillars up to four times the limit: deep ones are refused by a linear walk.
    let (shape, model) = tree_gen::model(
        &mut tree_gen::Choices::new(data),
        4 * DEFAULT_MAX_TREE_DEPTH,
    );
    let deep = model.depth() > DEFAULT_MAX_TREE_DEPTH;
    let rows: Vec<Vec<f64>> = (0..3)
        .map(|i| {
            (0..model.n_features)
                .map(|j| ((i * 5 + j * 3) % 9) as f64 - 4.0)
                .collect()
        })
        .collect();
    for (kind, text) in [
        ("xgboost", model.xgboost_json()),
        ("lightgbm", model.lightgbm_text()),
    ] {
        let document = common::spec_of(kind, serde_json::Value::String(text));
        let built = spec::build(&document);
        assert_eq!(
            built.is_err(),
            deep,
            "{kind} {shape:?} of depth {}: {:?}",
            model.depth(),
            built.as_ref().err()
        );
        let Ok(built) = built else { continue };
        let HostedModel::Trees(trees) = &built.model else {
            panic!("{kind} built as another kind");
        };
        for row in &rows {
            let x = ndarray::Array2::from_shape_vec((1, row.len()), row.clone()).expect("one row");
            let got = trees.predict_raw(x.view())[[0, 0]];
            // XGBoost stores leaf values as float32.
            let tol = 1e-5 * (1.0 + 10.0 * model.trees.len() as f64);
            assert!(
                (got - model.eval(row)).abs() <= tol,
                "{kind} {shape:?}: {got}"
            );
        }
        common::build_and_explain(&document);
    }
});
