//! explaind: an explanation microservice.
//!
//! # Layout
//! - [`core`]: the numeric core (models, explainers, global summaries); no HTTP, no async.

pub mod core;
