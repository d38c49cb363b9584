//! explaind: an explanation microservice.
//!
//! # Layout
//! From the bottom up; each module imports only those listed before it (no import
//! loop between these modules; `tests/api/layers.rs` keeps it so).
//! - [`core`]: the numeric core (models, explainers, global statistics,
//!   counterfactual search); no HTTP, no async, no serde_json. Raw features that
//!   hold categories are carried in rows as codes ([`core::models::raw`]), so every
//!   explainer works per raw feature. A new explainer is one file (or folder) in
//!   [`core::explain`] plus its arm in the engine's dispatch ([`explainer`]).
//! - [`formats`]: readers of other tools' model files (XGBoost JSON, LightGBM text,
//!   CatBoost JSON, ONNX networks, ONNX-ML trees, linear models and pipelines):
//!   bytes in, core types out. A new format is one file here plus its kind in
//!   [`spec`].
//! - [`spec`]: the registration document and its validation into a built model.
//! - [`explainer`]: the engine's entry point: which algorithm answers which pairing of
//!   method and model, its cost and caps.
//! - [`store`]: durable, atomic model files, and the per-name lock every change of a
//!   model and its data sets holds.
//! - [`demo`]: the embedded house-price model.
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`live`]: statistics of the attributions served, per model version (window, since
//!   start, drift bins).
//! - [`summary`]: the global summary of a model version over its background, its live
//!   section ([`summary::live`]) and the weight dump.
//! - [`registry`]: registered models, name → `Arc<ModelEntry>`, each entry with its
//!   live statistics and cached summary.
//! - [`datasets`]: labelled data sets per model, stored beside the models.
//! - [`analysis`]: summaries from data (permutation importance, partial dependence,
//!   mean |φ|), checked into plans and run off the async workers.
//! - [`jobs`]: the background jobs that run those plans, and their last results.
//! - [`charts`]: SVG pictures; the generic ones (`svg`, `scale`, `bars`, `waterfall`,
//!   `heatmap`, `curves`) import nothing of the service, `charts::views` reads summaries.
//! - [`config`]: the command-line and environment configuration, which builds the caps
//!   and limits of the layers below.
//! - [`http`]: router, one module per resource (each declares its routes with who may
//!   call them, `http::routes`: one line per route gives the router, its role and its
//!   OpenAPI operation), the error type, the OpenAPI document, the Prometheus answer.
//! - [`server`]: start-up, serving and graceful shutdown.

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
