//! Real answers validate against the generated OpenAPI document: counterfactuals
//! (arrays and objects, numbers and category names) and anchors' example rows,
//! whose schemas once said `object` where the server sends arrays and numbers.
//!
//! The validator covers the JSON Schema keywords the document uses (`$ref`,
//! `allOf`, `anyOf`, `oneOf`, `type`, `enum`, `const`, `properties`, `required`,
//! `additionalProperties`, `items`, `minimum`, `maximum`); schemathesis checks the
//! rest of the document's answers in CI (`tests/contract/schemathesis.sh`).

use crate::common::{call, default_app, house, house_row, Answer};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn document() -> Value {
    serde_json::to_value(explaind::http::openapi::document()).expect("the document serialises")
}

/// Whether `value` is of JSON Schema type `ty`.
fn is_type(value: &Value, ty: &str) -> bool {
    match ty {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        other => panic!("unknown type {other}"),
    }
}

/// The faults of `value` against `schema`, each with the path where it lies.
fn faults(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .expect("a component reference");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "{reference} is not in the document");
        out.extend(faults(doc, target, value, at));
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(faults(doc, part, value, at));
    }
    let passing = |key: &str| {
        schema[key].as_array().map(|parts| {
            parts
                .iter()
                .filter(|p| faults(doc, p, value, at).is_empty())
                .count()
        })
    };
    if passing("anyOf") == Some(0) {
        out.push(format!("{at}: {value} matches no anyOf of {schema}"));
    }
    if let Some(n) = passing("oneOf").filter(|&n| n != 1) {
        out.push(format!("{at}: {value} matches {n} oneOf of {schema}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
        out.push(format!("{at}: {value} is not of type {types:?}"));
        return out;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            out.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            out.push(format!("{at}: {value} is not {constant}"));
        }
    }
    if let (Some(x), Some(least)) = (value.as_f64(), schema["minimum"].as_f64()) {
        if x < least {
            out.push(format!("{at}: {x} is below the minimum {least}"));
        }
    }
    if let (Some(x), Some(most)) = (value.as_f64(), schema["maximum"].as_f64()) {
        if x > most {
            out.push(format!("{at}: {x} is above the maximum {most}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                out.push(format!("{at}: required field {name} is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, field) in object {
            let path = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                &schema["additionalProperties"],
            ) {
                (Some(s), _) => out.extend(faults(doc, s, field, &path)),
                (None, Value::Bool(false)) => out.push(format!("{path} is not allowed")),
                (None, extra) if extra.is_object() => out.extend(faults(doc, extra, field, &path)),
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            out.extend(faults(doc, schema, item, &format!("{at}[{i}]")));
        }
    }
    out
}

/// Fail unless `answer` is a 200 that validates against the 200 answer of
/// `method path` in the document.
fn assert_valid(doc: &Value, method: &str, path: &str, answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
    let schema =
        &doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} documents no JSON 200 answer"
    );
    let found = faults(doc, schema, &answer.json, "$");
    assert!(
        found.is_empty(),
        "{method} {path}:\n{}\n{}",
        found.join("\n"),
        answer.text
    );
}

#[test]
fn the_validator_finds_what_the_old_schemas_got_wrong() {
    let doc = json!({"components": {"schemas": {}}});
    let old = json!({"type": "object"});
    assert!(!faults(&doc, &old, &json!([5850, 3]), "$").is_empty());
    assert!(!faults(&doc, &old, &json!(1), "$").is_empty());
    let rows = json!({"type": "array", "items": {"type": "array", "items": {"type": "object"}}});
    assert!(!faults(&doc, &rows, &json!([[1.5, "north", null]]), "$").is_empty());
}

#[tokio::test]
async fn counterfactual_answers_validate_against_the_document() {
    let doc = document();
    let app = default_app().await;
    let path = "/models/{name}/counterfactuals";
    let uri = "/models/house-prices/counterfactuals";
    let constraints = json!({"target": {"min": 80000}, "immutable": ["lotsize"],
        "integer": ["bedrooms", "bathrooms", "stories", "garage"], "max_changes": 2});
    for instance in [house(), house_row()] {
        let mut body = constraints.clone();
        body["instance"] = instance;
        let answer = call(&app, Method::POST, uri, Some(body)).await;
        assert!(!answer.json["counterfactuals"][0]["changes"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_valid(&doc, "post", path, &answer);
    }
    // Category names in the instance and the changes.
    let (app, _) = crate::raw_inputs::app_with_model().await;
    let body = json!({"instance": [5.0, "north", "red"], "target": {"min": 3.0}});
    let answer = call(
        &app,
        Method::POST,
        "/models/cat/counterfactuals",
        Some(body),
    )
    .await;
    let changes = &answer.json["counterfactuals"][0]["changes"];
    assert!(
        changes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["to"].is_string()),
        "{}",
        answer.text
    );
    assert_valid(&doc, "post", path, &answer);
}

#[tokio::test]
async fn anchor_answers_validate_against_the_document() {
    let doc = document();
    let app = default_app().await;
    let body = json!({"instances": [house()], "method": "anchors", "seed": 3, "tolerance": 25000});
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(body),
    )
    .await;
    let anchor = &answer.json["explanations"][0]["anchor"];
    assert!(
        anchor["examples"]["holds"][0][0].is_number(),
        "{}",
        answer.text
    );
    assert_valid(&doc, "post", "/models/{name}/explain", &answer);
    // Category names in the example rows.
    let (app, _) = crate::raw_inputs::app_with_model().await;
    let body = json!({"instances": [[5.0, "north", "red"]], "method": "anchors", "seed": 1});
    let answer = call(&app, Method::POST, "/models/cat/explain", Some(body)).await;
    let examples = &answer.json["explanations"][0]["anchor"]["examples"];
    let rows = [&examples["holds"], &examples["fails"]];
    let strings = rows
        .iter()
        .flat_map(|r| r.as_array().into_iter().flatten())
        .any(|row| row[1].is_string());
    assert!(strings, "{}", answer.text);
    assert_valid(&doc, "post", "/models/{name}/explain", &answer);
}
