//! The service through its router (`app(state).oneshot(request)`): every route, its
//! errors, access rules and pictures, one module per resource or topic.
//!
//! One test binary with a module per topic, so the linker runs once for all of them.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/tree_gen.rs"]
mod tree_gen;

mod access;
mod agnostic;
mod anchors;
mod background_summary;
mod catboost;
mod catboost_bad_input;
mod charts;
mod counterfactuals;
mod counterfactuals_models;
mod datasets;
mod dependence_chart;
mod docs_pictures;
mod explain;
mod finite;
mod global_data;
mod groups;
mod kserve;
mod layers;
mod links;
mod live;
mod metrics;
mod mlp;
mod models;
mod network_charts;
mod oip;
mod oip_versions;
mod onnx;
mod onnx_normalized;
mod onnx_pca;
mod onnx_pipeline;
mod onnx_support;
mod onnx_trees;
mod openapi;
mod openapi_answers;
mod outputs;
mod privacy;
mod privacy_small;
mod raw_answers;
mod raw_inputs;
mod routes;
mod sampling_tolerance;
mod text;
mod tolerance_linear;
mod tolerance_trees;
mod trees;
mod trees_bad_input;
mod trees_deep;
mod trees_predict;
