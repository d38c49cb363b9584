//! The OpenAPI document, generated from the handlers and types themselves.
//!
//! `openapi.yaml` at the repository root is this document; a test fails when they
//! differ. Regenerate with `cargo run -- --print-openapi > openapi.yaml`.

use utoipa::openapi::link::{Link, LinkBuilder};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::{charts, error};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "explaind",
        description = "Predictions with local explanations, global importance and weight dumps.",
        license(name = "MIT")
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, charts::ScaleParam, charts::NetworkView)),
    tags(
        (name = "models", description = "Register, list and remove models"),
        (name = "explain", description = "Predictions and local explanations"),
        (name = "global", description = "Global importance, cached for dashboards; summaries from data and their background jobs"),
        (name = "datasets", description = "Labelled data sets of a model, for summaries from data (admin role)"),
        (name = "weights", description = "Model parameters as JSON"),
        (name = "activations", description = "Neural-network layer values and activation curves"),
        (name = "kserve", description = "KServe V1 protocol: explaind as an InferenceService explainer"),
        (name = "oip", description = "Open Inference Protocol (KServe V2): tensors in and out, with an `explain` extension"),
        (name = "pictures", description = "SVG charts of importance, coefficients, explanations, partial dependence, network weights and activations"),
        (name = "dashboard", description = "A small web page over the routes above"),
        (name = "operations", description = "Health, readiness, metrics")
    )
)]
pub struct ApiDoc;

/// The API description: [`ApiDoc`]'s title, tags and shared schemas, the paths every
/// router declared with its routes ([`super::routes::Routes::op`]), then the
/// additions below.
pub fn document() -> utoipa::openapi::OpenApi {
    let (table, routes) = super::routes(&crate::config::Config::defaults()).into_description();
    let mut doc = ApiDoc::openapi();
    doc.merge(routes);
    let modifiers: [&dyn Modify; 6] = [
        &BearerTokens,
        &CommonErrors(&table),
        &KserveVerbs,
        &ExplainNeedsModel,
        &Links,
        &UnsignedBounds,
    ];
    for modifier in modifiers {
        modifier.modify(&mut doc);
    }
    doc
}

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
struct CommonErrors<'a>(&'a super::routes::RouteTable);

impl Modify for CommonErrors<'_> {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder};
        // Which routes are open is declared with the routes themselves.
        let table = self.0;
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
            let open = table.is_open(path);
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

/// Describes `POST /v1/models/{name}:predict` and `:explain` as the two paths they
/// are. The router serves them, and `GET /v1/models/{name}`, on one route whose
/// segment is split at the last `:` (see `kserve`); a single templated path
/// `/v1/models/{name_and_verb}` would be the same template as the GET's, which
/// OpenAPI forbids.
struct KserveVerbs;

impl Modify for KserveVerbs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths = &mut openapi.paths.paths;
        let Some(item) = paths.remove("/v1/models/{name_and_verb}") else {
            return;
        };
        let Some(post) = item.post else { return };
        let verbs = [
            ("predict", "PredictResponse", "Predictions"),
            ("explain", "ExplainAnswer", "Explanations"),
        ];
        for (verb, body, answer) in verbs {
            let mut operation = post.clone();
            operation.operation_id = Some(format!("post_model_{verb}"));
            operation.summary = Some(format!("KServe V1 `:{verb}`."));
            for parameter in operation.parameters.iter_mut().flatten() {
                parameter.name = "name".into();
                parameter.description = Some("Model name".into());
            }
            if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
                ok.description = answer.into();
                for content in ok.content.values_mut() {
                    content.schema = Some(RefOr::Ref(Ref::from_schema_name(body)));
                }
            }
            let mut path = PathItem::default();
            path.post = Some(operation);
            paths.insert(format!("/v1/models/{{name}}:{verb}"), path);
        }
    }
}

/// `POST /explain` names its model in the body: the shared `ExplainRequest` with
/// `model` required.
struct ExplainNeedsModel;

impl Modify for ExplainNeedsModel {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let body = openapi
            .paths
            .paths
            .get_mut("/explain")
            .and_then(|item| item.post.as_mut())
            .and_then(|post| post.request_body.as_mut());
        for content in body.into_iter().flat_map(|b| b.content.values_mut()) {
            let Some(shared) = content.schema.take() else {
                continue;
            };
            let needs_model = ObjectBuilder::new().required("model");
            content.schema = Some(RefOr::T(
                AllOfBuilder::new().item(shared).item(needs_model).into(),
            ));
        }
    }
}

/// OpenAPI links, for clients and for schemathesis' stateful phase: the model
/// list and a registration lead to every operation on a model, a stored data set
/// to its reads and removal, a started job to its status.
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let (mut on_model, mut on_dataset) = (Vec::new(), Vec::new());
        for (path, item) in openapi.paths.paths.iter_mut() {
            let target = if path.starts_with("/models/{name}/datasets/{id}") {
                &mut on_dataset
            } else if path.starts_with("/models/{name}") || path.starts_with("/v1/models/{name}") {
                &mut on_model
            } else {
                continue;
            };
            target.extend(operations_mut(item).filter_map(|o| o.operation_id.clone()));
        }
        let links = |targets: &[String], params: &[(&str, &str)]| -> Vec<(String, Link)> {
            targets.iter().map(|t| link_to(t, params)).collect()
        };
        let listed = links(&on_model, &[("name", "$response.body#/models/0/name")]);
        let registered = links(&on_model, &[("name", "$request.path.name")]);
        let stored = links(
            &on_dataset,
            &[("name", "$request.path.name"), ("id", "$request.path.id")],
        );
        let started = links(&["get_job".into()], &[("id", "$response.body#/id")]);
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                let (codes, links): (&[&str], _) = match operation.operation_id.as_deref() {
                    Some("list_models") => (&["200"], &listed),
                    Some("put_model") => (&["200", "201"], &registered),
                    Some("put_dataset") => (&["200", "201"], &stored),
                    Some("post_job") => (&["202"], &started),
                    _ => continue,
                };
                for code in codes {
                    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*code) {
                        for (name, link) in links {
                            response.links.insert(name.clone(), RefOr::T(link.clone()));
                        }
                    }
                }
            }
        }
    }
}

/// A link to `operation` with its parameters given as runtime expressions.
fn link_to(operation: &str, params: &[(&str, &str)]) -> (String, Link) {
    let link = params
        .iter()
        .fold(LinkBuilder::new().operation_id(operation), |l, (n, e)| {
            l.parameter(*n, *e)
        });
    (operation.to_string(), link.build())
}

/// Gives every non-negative integer without an upper bound the largest value the
/// server reads (its fields are `usize` and `u64` on 64-bit targets): a larger
/// number is refused at parsing, so the document must not allow it.
struct UnsignedBounds;

impl Modify for UnsignedBounds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    parameter.schema.as_mut().map(bound_unsigned);
                }
                let bodies = operation.request_body.iter_mut();
                for content in bodies.flat_map(|b| b.content.values_mut()) {
                    content.schema.as_mut().map(bound_unsigned);
                }
            }
        }
        let components = openapi.components.iter_mut();
        for schema in components.flat_map(|c| c.schemas.values_mut()) {
            bound_unsigned(schema);
        }
    }
}

/// [`UnsignedBounds`] on one schema and the schemas inside it.
fn bound_unsigned(schema: &mut RefOr<Schema>) {
    use utoipa::openapi::schema::{ArrayItems, SchemaType, Type};
    use utoipa::Number;
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            let integer = match &object.schema_type {
                SchemaType::Type(t) => *t == Type::Integer,
                SchemaType::Array(types) => types.contains(&Type::Integer),
                SchemaType::AnyValue => false,
            };
            let unsigned = match object.minimum {
                Some(Number::UInt(_)) => true,
                Some(Number::Int(least)) => least >= 0,
                Some(Number::Float(least)) => least >= 0.0,
                None => false,
            };
            if integer && unsigned && object.maximum.is_none() {
                object.maximum = Some(Number::UInt(usize::MAX));
            }
            object.properties.values_mut().for_each(bound_unsigned);
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                bound_unsigned(items);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(bound_unsigned),
        Schema::AllOf(all) => all.items.iter_mut().for_each(bound_unsigned),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(bound_unsigned),
        _ => {}
    }
}

/// The operations of a path, in a fixed order.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// The document as YAML.
///
/// utoipa 5 writes a link's `operationId` as `operation_id` (its `Link` lacks the
/// camel-case renaming its other types have); the key is put right here, where it
/// can only be a link's, since operations already spell it `operationId`.
pub fn yaml() -> String {
    let yaml = document()
        .to_yaml()
        .expect("the OpenAPI document serialises");
    yaml.lines()
        .map(|line| {
            let key = line.trim_start();
            match key.strip_prefix("operation_id: ") {
                Some(id) => format!("{}operationId: {id}\n", &line[..line.len() - key.len()]),
                None => format!("{line}\n"),
            }
        })
        .collect()
}

/// Routes of this module: the document itself.
pub fn router() -> super::routes::Routes {
    use super::routes::{routes, Access, Routes};
    Routes::new().op(Access::Open, routes!(get_openapi))
}

/// This API's OpenAPI description: written once per process (it depends on the
/// code alone), then served from memory.
#[utoipa::path(get, path = "/openapi.yaml", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object, content_type = "application/yaml")))]
pub async fn get_openapi() -> impl axum::response::IntoResponse {
    static YAML: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    (
        [(axum::http::header::CONTENT_TYPE, "application/yaml")],
        *YAML.get_or_init(|| yaml().leak()),
    )
}
