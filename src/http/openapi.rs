//! The OpenAPI document, generated from the handlers and types themselves.
//!
//! `openapi.yaml` at the repository root is this document; a test fails when they
//! differ. Regenerate with `cargo run -- --print-openapi > openapi.yaml`.

use utoipa::OpenApi;

use super::{activations, error, explain, global, models, ops, texts, weights};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "explaind",
        description = "Predictions with local explanations, global importance and weight dumps.",
        license(name = "MIT")
    ),
    paths(
        ops::get_healthz,
        ops::get_readyz,
        ops::get_metrics,
        ops::get_openapi,
        models::list_models,
        models::get_model,
        models::put_model,
        models::delete_model,
        explain::explain_any,
        explain::explain_model,
        explain::predict_model,
        global::get_global,
        global::get_global_all,
        weights::get_weights,
        texts::get_embeddings,
        activations::post_activations,
        activations::get_activation_summary,
        activations::get_activation_curves,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    tags(
        (name = "models", description = "Register, list and remove models"),
        (name = "explain", description = "Predictions and local explanations"),
        (name = "global", description = "Global importance, cached for dashboards"),
        (name = "weights", description = "Model parameters as JSON"),
        (name = "activations", description = "Neural-network layer values and activation curves"),
        (name = "operations", description = "Health, readiness, metrics")
    )
)]
pub struct ApiDoc;

/// The document as YAML.
pub fn yaml() -> String {
    ApiDoc::openapi()
        .to_yaml()
        .expect("the OpenAPI document serialises")
}
