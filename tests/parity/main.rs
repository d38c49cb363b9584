//! Numbers against reference values from the libraries users know (shap, xgboost,
//! lightgbm, Captum, scikit-learn), read from the committed fixtures.
//!
//! One test binary with a module per topic, so the linker runs once for all of them.

#[path = "../common/mod.rs"]
mod common;

mod agnostic;
mod catboost;
mod counterfactual_trees;
mod dependence;
mod linear;
mod mlp;
mod onnx;
mod onnx_normalized;
mod onnx_pipeline;
mod onnx_trees;
mod text;
mod trees;
mod trees_exactness;
