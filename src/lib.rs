//! explaind: an explanation microservice.
//!
//! # Layout
//! - [`core`]: the numeric core (models, explainers, global summaries); no HTTP, no async.
//! - [`formats`]: readers for model files (XGBoost JSON, LightGBM text): bytes in, core types out.

pub mod core;
pub mod formats;
