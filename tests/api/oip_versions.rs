//! The Open Inference Protocol's server metadata (`GET /v2`) and its versioned model
//! routes: the unversioned answers for the version served, a 404 naming it for any
//! other, and a model replaced by a `PUT` no longer answering its old version.

use crate::common::{call, default_app, house, logistic_spec};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

async fn infer_body(app: &axum::Router) -> Value {
    let meta = call(app, Method::GET, "/v2/models/house-prices", None).await;
    let names: Vec<String> =
        serde_json::from_value(meta.json["parameters"]["feature_names"].clone()).unwrap();
    let row: Vec<Value> = names.iter().map(|n| house()[n].clone()).collect();
    json!({"id": "v", "inputs": [{"name": "input", "shape": [1, names.len()], "datatype": "FP64", "data": row}]})
}

#[tokio::test]
async fn the_server_says_what_it_is() {
    let app = default_app().await;
    let server = call(&app, Method::GET, "/v2", None).await;
    assert_eq!(server.status, StatusCode::OK, "{}", server.text);
    assert_eq!(
        server.json,
        json!({"name": "explaind", "version": env!("CARGO_PKG_VERSION"), "extensions": ["explain"]})
    );
}

#[tokio::test]
async fn the_version_served_answers_as_the_model_does() {
    let app = default_app().await;
    let meta = call(&app, Method::GET, "/v2/models/house-prices", None).await;
    let version = meta.json["versions"][0].as_str().unwrap().to_string();
    let base = format!("/v2/models/house-prices/versions/{version}");

    let versioned = call(&app, Method::GET, &base, None).await;
    assert_eq!(
        (versioned.status, &versioned.json),
        (StatusCode::OK, &meta.json)
    );
    let ready = call(&app, Method::GET, &format!("{base}/ready"), None).await;
    assert_eq!(
        (ready.status, ready.json),
        (StatusCode::OK, json!({"ready": true}))
    );

    let body = infer_body(&app).await;
    for route in ["infer", "explain"] {
        let plain = format!("/v2/models/house-prices/{route}");
        let plain = call(&app, Method::POST, &plain, Some(body.clone())).await;
        let answer = call(
            &app,
            Method::POST,
            &format!("{base}/{route}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{route}: {}", answer.text);
        assert_eq!(answer.json, plain.json, "{route}");
        assert_eq!(answer.json["model_version"], version.as_str());
    }
}

#[tokio::test]
async fn another_version_is_not_found_and_says_which_is_served() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let again = call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    assert_eq!(again.json["version"], 2, "{}", again.text);
    let body = json!({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP64", "data": [2.0, 95.0]}]});

    for old in ["1", "7", "latest"] {
        let base = format!("/v2/models/churn/versions/{old}");
        for (method, path, body) in [
            (Method::GET, base.clone(), None),
            (Method::GET, format!("{base}/ready"), None),
            (Method::POST, format!("{base}/infer"), Some(body.clone())),
            (Method::POST, format!("{base}/explain"), Some(body.clone())),
        ] {
            let answer = call(&app, method, &path, body).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{path}: {}",
                answer.text
            );
            assert_eq!(answer.json["error"]["code"], "version_not_found", "{path}");
            let message = answer.json["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("serves version 2") && message.contains(old),
                "{message}"
            );
        }
    }
    let current = call(
        &app,
        Method::POST,
        "/v2/models/churn/versions/2/infer",
        Some(body),
    )
    .await;
    assert_eq!(current.status, StatusCode::OK, "{}", current.text);
    assert_eq!(current.json["model_version"], "2");
    let missing = call(&app, Method::GET, "/v2/models/nope/versions/1", None).await;
    assert_eq!(missing.json["error"]["code"], "model_not_found");
}
