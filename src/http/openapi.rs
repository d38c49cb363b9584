//! The OpenAPI document, generated from the handlers and types themselves.
//!
//! `openapi.yaml` at the repository root is this document; a test fails when they
//! differ. Regenerate with `cargo run -- --print-openapi > openapi.yaml`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    activations, charts, dashboard, datasets, error, explain, global, ice, jobs, kserve, models,
    ops, texts, weights,
};

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
        jobs::get_dependence,
        ice::post_dependence,
        jobs::post_job,
        jobs::list_jobs,
        jobs::get_job,
        datasets::list_datasets,
        datasets::get_dataset,
        datasets::put_dataset,
        datasets::delete_dataset,
        weights::get_weights,
        texts::get_embeddings,
        activations::post_activations,
        activations::get_activation_summary,
        activations::get_activation_curves,
        kserve::get_model_status,
        kserve::post_model_verb,
        charts::get_global_svg,
        charts::get_weights_svg,
        charts::explain_svg,
        charts::get_activations_svg,
        charts::get_dependence_svg,
        dashboard::get_dashboard,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, charts::ScaleParam, charts::NetworkView)),
    modifiers(&BearerTokens, &CommonErrors),
    tags(
        (name = "models", description = "Register, list and remove models"),
        (name = "explain", description = "Predictions and local explanations"),
        (name = "global", description = "Global importance, cached for dashboards; summaries from data and their background jobs"),
        (name = "datasets", description = "Labelled data sets of a model, for summaries from data (admin role)"),
        (name = "weights", description = "Model parameters as JSON"),
        (name = "activations", description = "Neural-network layer values and activation curves"),
        (name = "kserve", description = "KServe V1 protocol: explaind as an InferenceService explainer"),
        (name = "pictures", description = "SVG charts of importance, coefficients, explanations, partial dependence, network weights and activations"),
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

/// Adds the answers any route may give besides its own: 401 and 403 (access
/// control), 503 (overloaded or not ready) and 504 (deadline), and for routes with
/// a body 400 (malformed), 413 (too large), 415 (not JSON) and 422 (invalid).
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                "ErrorBody",
                            ))))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let open = super::auth::is_open_route(path);
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                let mut add = |code: &str, description: &str| {
                    responses
                        .entry(code.to_string())
                        .or_insert_with(|| error(description));
                };
                if !open {
                    add(
                        "401",
                        "Access tokens are configured and none valid was sent",
                    );
                    add("403", "The token's role may not do this");
                }
                add(
                    "503",
                    "Overloaded or not ready; retry after the Retry-After delay",
                );
                add("504", "The request ran past the server's deadline");
                if operation.request_body.is_some() {
                    add("400", "Malformed JSON");
                    add("413", "Body over the size limit");
                    add("415", "Body not sent as application/json");
                    add("422", "Invalid request");
                }
            }
        }
    }
}

/// The document as YAML.
pub fn yaml() -> String {
    ApiDoc::openapi()
        .to_yaml()
        .expect("the OpenAPI document serialises")
}
