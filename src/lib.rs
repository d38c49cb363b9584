//! explaind: an explanation microservice.
//!
//! # Layout
//! - [`charts`]: SVG pictures (bars, waterfall, heat map): data in, SVG out; no HTTP.
//! - [`core`]: the numeric core (models, explainers, global summaries); no HTTP, no async.
//! - [`spec`]: registration documents and their validation into core models.
//! - [`formats`]: readers of other tools' model files (XGBoost JSON, LightGBM text, ONNX):
//!   bytes in, core types out.
//! - [`explainer`]: which algorithm answers which pairing of method and model.
//! - [`summary`]: the global importance summary and the weight dump of a model.
//! - [`registry`]: registered models, name → `Arc<ModelEntry>` (each entry owns its
//!   cached summary and live statistics).
//! - [`datasets`]: labelled data sets registered per model, stored like models (shared
//!   state of their own, beside the registry).
//! - [`analysis`]: summaries from data (permutation importance, partial dependence,
//!   mean |φ| of any explainer), checked into plans and run off the async workers.
//! - [`jobs`]: the background jobs that run those plans, and their last results.
//! - [`store`]: durable, atomic model files in the model directory.
//! - [`demo`]: the embedded house-price model.
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`live`]: statistics of the attributions served, per model version (window,
//!   since start, drift), for `/global` and `/metrics`.
//! - [`http`]: router, one module per resource (each declares its routes with who may
//!   call them, [`http::routes`]), the error type, the OpenAPI document.
//! - [`server`]: start-up, serving and graceful shutdown.
//! - [`config`]: the command-line and environment configuration.
//!
//! Dependencies point one way: `http → registry → spec → core` and `formats → core`;
//! the core imports nothing above it. Pictures: `http → charts::views → summary`
//! (and `analysis` for partial dependence); the generic charts (`svg`, `scale`,
//! `bars`, `waterfall`, `heatmap`, `curves`) import nothing of the service.

pub mod analysis;
pub mod charts;
pub mod config;
pub mod core;
pub mod datasets;
pub mod demo;
pub mod explainer;
pub mod formats;
pub mod http;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod registry;
pub mod server;
pub mod spec;
pub mod store;
pub mod summary;
