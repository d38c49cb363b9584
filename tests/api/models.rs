//! Model routes through `oneshot`: registration, replacement, listing, deletion,
//! and every way registration can fail without changing anything.

use crate::common::{call, default_app, logistic_spec, ready_app, send};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use explaind::config::Config;
use serde_json::json;

#[tokio::test]
async fn the_demo_model_is_listed_and_described() {
    let app = default_app().await;
    let list = call(&app, Method::GET, "/models", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["models"][0]["name"], "house-prices");
    let one = call(&app, Method::GET, "/models/house-prices", None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json["kind"], "linear");
    assert_eq!(one.json["feature_names"].as_array().unwrap().len(), 11);
    assert_eq!(one.json["output_names"], json!(["price"]));
    assert_eq!(one.json["background_rows"], 546);
    assert_eq!(one.json["version"], 1);
}

#[tokio::test]
async fn register_replace_and_delete() {
    let app = default_app().await;
    let created = call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["version"], 1);
    assert_eq!(created.json["output_names"], json!(["yes"]));

    let replaced = call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.json["version"], 2);

    let listed = call(&app, Method::GET, "/models", None).await;
    assert_eq!(listed.json["models"].as_array().unwrap().len(), 2);

    let deleted = call(&app, Method::DELETE, "/models/churn", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = call(&app, Method::DELETE, "/models/churn", None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.json["error"]["code"], "model_not_found");
    let gone = call(&app, Method::GET, "/models/churn", None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_registrations_are_refused_and_change_nothing() {
    let app = default_app().await;
    call(&app, Method::PUT, "/models/m", Some(logistic_spec())).await;
    let cases = [
        // (document, expected code)
        (
            json!({"kind": "forest", "feature_names": ["a"], "params": {}}),
            "invalid_model",
        ),
        (
            json!({"kind": "linear", "feature_names": ["a", "b"], "params": {"coefficients": [1.0]}}),
            "invalid_model",
        ),
        (
            json!({"kind": "linear", "feature_names": [], "params": {"coefficients": []}}),
            "invalid_model",
        ),
        (
            json!({"kind": "linear", "feature_names": ["a", "a"], "params": {"coefficients": [1.0, 2.0]}}),
            "invalid_model",
        ),
        (
            json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}, "background": [[1.0, 2.0]]}),
            "invalid_model",
        ),
        (
            json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}, "background": [[null]]}),
            "invalid_model",
        ),
        (
            json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}, "background": []}),
            "invalid_model",
        ),
        (
            json!({"kind": "logistic", "feature_names": ["a"], "params": {"coefficients": [1.0], "classes": ["x"]}}),
            "invalid_model",
        ),
        (
            json!({"kind": "linear", "feature_names": ["a"], "params": {"weights": [1.0]}}),
            "invalid_model",
        ),
        (
            json!({"kind": "linear", "feature_names": ["a"]}),
            "invalid_model",
        ),
        (
            json!({"feature_names": ["a"], "params": {}}),
            "invalid_request",
        ),
        (
            json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}, "extra": 1}),
            "invalid_request",
        ),
    ];
    for (doc, code) in cases {
        let answer = call(&app, Method::PUT, "/models/m", Some(doc.clone())).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{doc}: {}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], code, "{doc}");
        assert!(!answer.json["error"]["message"].as_str().unwrap().is_empty());
    }
    // The model registered first is untouched.
    let m = call(&app, Method::GET, "/models/m", None).await;
    assert_eq!(m.json["version"], 1);
    assert_eq!(m.json["kind"], "logistic");
}

#[tokio::test]
async fn names_are_validated() {
    let app = default_app().await;
    for name in ["..", ".hidden", "a%20b", "a%2Fb", "%C3%A9"] {
        let answer = call(
            &app,
            Method::PUT,
            &format!("/models/{name}"),
            Some(logistic_spec()),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], "invalid_name");
    }
}

#[tokio::test]
async fn malformed_json_is_a_400_and_wrong_media_type_a_415() {
    let app = default_app().await;
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/models/x")
        .header("content-type", "application/json")
        .body(Body::from("{\"kind\": "))
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json["error"]["code"], "bad_json");

    let request = Request::builder()
        .method(Method::PUT)
        .uri("/models/x")
        .body(Body::from(logistic_spec().to_string()))
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.json["error"]["code"], "unsupported_media_type");
}

#[tokio::test]
async fn bodies_over_the_limit_are_a_413() {
    let config = Config {
        max_model_bytes: 200,
        max_body_bytes: 100,
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    let mut spec = logistic_spec();
    spec["description"] = json!("x".repeat(300));
    let answer = call(&app, Method::PUT, "/models/big", Some(spec)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json["error"]["code"], "payload_too_large");
    let explain = json!({"instances": [crate::common::house(), crate::common::house()]});
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(explain),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let gone = call(&app, Method::GET, "/models/big", None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = default_app().await;
    let answer = call(&app, Method::GET, "/nowhere", None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json["error"]["code"], "route_not_found");
    let answer = call(&app, Method::PATCH, "/models/house-prices", None).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.json["error"]["code"], "method_not_allowed");
}
