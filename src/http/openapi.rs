//! The OpenAPI document, generated from the handlers and types themselves.
//!
//! `openapi.yaml` at the repository root is this document; a test fails when they
//! differ. Regenerate with `cargo run -- --print-openapi > openapi.yaml`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{activations, charts, dashboard, error, explain, global, kserve, models, ops, weights};

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
        activations::post_activations,
        activations::get_activation_summary,
        activations::get_activation_curves,
        kserve::get_model_status,
        kserve::post_model_verb,
        charts::get_global_svg,
        charts::get_weights_svg,
        charts::explain_svg,
        dashboard::get_dashboard,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&BearerTokens),
    tags(
        (name = "models", description = "Register, list and remove models"),
        (name = "explain", description = "Predictions and local explanations"),
        (name = "global", description = "Global importance, cached for dashboards"),
        (name = "weights", description = "Model parameters as JSON"),
        (name = "activations", description = "Neural-network layer values and activation curves"),
        (name = "kserve", description = "KServe V1 protocol: explaind as an InferenceService explainer"),
        (name = "pictures", description = "SVG charts of importance, coefficients and explanations"),
        (name = "dashboard", description = "A small web page over the routes above"),
        (name = "operations", description = "Health, readiness, metrics")
    )
)]
pub struct ApiDoc;

/// Declares the optional bearer tokens: with tokens configured, routes other than
/// the probes, metrics and this document need one (see `http::auth`).
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
    }
}

/// The document as YAML.
pub fn yaml() -> String {
    ApiDoc::openapi()
        .to_yaml()
        .expect("the OpenAPI document serialises")
}
