//! The committed openapi.yaml must equal the document generated from the code, and
//! the document must be valid OpenAPI that describes what the server does.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{call, default_app};
use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let committed = std::fs::read_to_string(path).expect("openapi.yaml exists");
    let generated = explaind::http::openapi::yaml();
    assert!(
        committed == generated,
        "openapi.yaml is stale: regenerate it with `cargo run -- --print-openapi > openapi.yaml`"
    );
}

#[test]
fn every_route_is_described() {
    let doc = explaind::http::openapi::yaml();
    for route in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.yaml",
        "/models",
        "/models/{name}",
        "/models/{name}/explain",
        "/explain",
        "/models/{name}/predict",
        "/models/{name}/global",
        "/global",
        "/models/{name}/weights",
        "/models/{name}/global.svg",
        "/models/{name}/weights.svg",
        "/models/{name}/explain.svg",
        "/models/{name}/dependence.svg",
        "/",
    ] {
        assert!(
            doc.contains(&format!("  {route}:\n")),
            "{route} missing from the OpenAPI document"
        );
    }
}

/// The document as JSON, for structural checks.
fn document() -> Value {
    serde_json::to_value(explaind::http::openapi::document()).expect("the document serialises")
}

/// `(path, method, operation)` for every operation of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

/// The `{names}` of a path template.
fn template_names(path: &str) -> BTreeSet<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn path_parameters_are_exactly_the_template_names() {
    // OpenAPI: every path parameter names a template expression, and each
    // expression has its path parameter (query fields once declared `in: path`).
    let doc = document();
    for (path, method, operation) in operations(&doc) {
        let declared: BTreeSet<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().expect("name").to_string())
            .collect();
        assert_eq!(declared, template_names(&path), "{method} {path}");
    }
}

#[test]
fn no_two_paths_share_a_template() {
    // `/v1/models/{name}` and `/v1/models/{name_and_verb}` are one template to
    // OpenAPI, which forbids that.
    let doc = document();
    let mut seen = BTreeMap::new();
    for path in doc["paths"].as_object().expect("paths").keys() {
        let shape: String = path
            .split('{')
            .map(|part| part.split_once('}').map_or(part, |(_, rest)| rest))
            .collect::<Vec<_>>()
            .join("{}");
        if let Some(other) = seen.insert(shape, path.clone()) {
            panic!("{path} and {other} are the same template");
        }
    }
}

#[test]
fn model_fields_are_typed_as_the_server_reads_them() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    // A registration's model file: a string (LightGBM, ONNX) or an object (XGBoost).
    let model = &schemas["ModelSpec"]["properties"]["model"];
    let types: Vec<&Value> = model["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .map(|s| &s["type"])
        .collect();
    assert_eq!(types, [&json!("string"), &json!("object")], "{model}");
    assert!(model.get("type").is_none(), "{model}");
    // The model a request names is never null, and POST /explain needs it.
    let named = &schemas["ExplainRequest"]["properties"]["model"];
    assert_eq!(named["type"], "string", "{named}");
    let body = &doc["paths"]["/explain"]["post"]["requestBody"]["content"]["application/json"];
    let parts = body["schema"]["allOf"].as_array().expect("allOf");
    assert!(
        parts.iter().any(|p| p["required"] == json!(["model"])),
        "{body}"
    );
}

/// The schema of query parameter `name` of `GET path`.
fn query_schema(doc: &Value, path: &str, name: &str) -> Value {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == name && p["in"] == "query")
        .unwrap_or_else(|| panic!("{path} has no query parameter {name}"))["schema"]
        .clone()
}

#[tokio::test]
async fn query_bounds_are_those_the_server_enforces() {
    // Each bound of the document, checked against the server on either side of it.
    let doc = document();
    let app = default_app().await;
    for (path, name) in [
        ("/models/{name}/weights", "limit"),
        ("/models/{name}/global.svg", "top"),
    ] {
        let schema = query_schema(&doc, path, name);
        let least = schema["minimum"].as_u64().expect("a minimum");
        let uri = path.replace("{name}", "house-prices");
        let below = call(
            &app,
            Method::GET,
            &format!("{uri}?{name}={}", least - 1),
            None,
        )
        .await;
        assert_eq!(
            below.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri} {name}"
        );
        let at = call(&app, Method::GET, &format!("{uri}?{name}={least}"), None).await;
        assert_eq!(
            at.status,
            StatusCode::OK,
            "{uri} {name}={least}: {}",
            at.text
        );
        // Every bound is finite: past usize the server cannot even parse the number.
        let most = schema["maximum"].as_u64().expect("a maximum");
        let above = format!("{uri}?{name}={}", u128::from(most) + 1);
        let answer = call(&app, Method::GET, &above, None).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{above}");
    }
    let k = query_schema(&doc, "/models/{name}/weights/embeddings", "k");
    assert_eq!(
        (k["minimum"].as_u64(), k["maximum"].as_u64()),
        (Some(1), Some(1000))
    );
}

#[tokio::test]
async fn undocumented_methods_get_405_with_the_documented_ones() {
    // Any method the document does not give a path is answered 405, whose `Allow`
    // names exactly the methods the document gives it (HEAD comes with GET).
    let doc = document();
    let app = default_app().await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let mut documented: BTreeSet<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        if documented.contains("GET") {
            documented.insert("HEAD".into());
        }
        let uri = path.replace("{name}", "house-prices").replace("{id}", "x");
        for method in [
            Method::OPTIONS,
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::PATCH,
        ] {
            if documented.contains(method.as_str()) {
                continue;
            }
            let answer = call(&app, method.clone(), &uri, None).await;
            assert_eq!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            let allow: BTreeSet<String> = answer.headers[header::ALLOW]
                .to_str()
                .expect("ascii")
                .split(',')
                .map(|m| m.trim().to_string())
                .collect();
            assert_eq!(allow, documented, "{method} {uri}");
        }
    }
}
