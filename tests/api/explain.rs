//! Explain, predict, global, weights and operations routes through `oneshot`.

use crate::common::{
    call, default_app, house, house_row, logistic_spec, multinomial_spec, ready_app, send,
};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use explaind::config::Config;
use explaind::http::app;
use explaind::server;
use serde_json::{json, Value};

fn sum(v: &Value) -> f64 {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum()
}

#[tokio::test]
async fn explain_the_demo_house_by_object_and_by_array() {
    let app = default_app().await;
    let by_object = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [house()]})),
    )
    .await;
    assert_eq!(by_object.status, StatusCode::OK, "{}", by_object.text);
    let by_array = call(
        &app,
        Method::POST,
        "/explain",
        Some(json!({"model": "house-prices", "instances": [house_row()], "method": "linear_shap"})),
    )
    .await;
    assert_eq!(by_array.status, StatusCode::OK, "{}", by_array.text);
    assert_eq!(
        by_object.json["explanations"],
        by_array.json["explanations"]
    );

    let body = &by_object.json;
    assert_eq!(body["method"], "linear_shap");
    assert_eq!(body["output"], "price");
    assert_eq!(body["output_space"], "raw");
    assert_eq!(body["feature_names"].as_array().unwrap().len(), 11);
    let e = &body["explanations"][0];
    // Efficiency: base value + Σ attributions = prediction.
    let total = e["base_value"].as_f64().unwrap() + sum(&e["attributions"]);
    assert!((total - e["prediction"].as_f64().unwrap()).abs() < 1e-6);
    assert!(e["quality"]["additivity_residual"].as_f64().unwrap().abs() < 1e-6);
    // The shap-shaped copy agrees.
    assert_eq!(body["values"][0], e["attributions"]);
    assert_eq!(body["base_values"][0], e["base_value"]);
}

#[tokio::test]
async fn many_instances_are_explained_in_one_request() {
    let app = default_app().await;
    let rows: Vec<Value> = (0..50)
        .map(|i| {
            let mut h = house();
            h["lotsize"] = json!(3000 + 100 * i);
            h
        })
        .collect();
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": rows})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let explanations = answer.json["explanations"].as_array().unwrap();
    assert_eq!(explanations.len(), 50);
    // Lot size is the only feature that changes, so only its attribution moves.
    let lot0 = explanations[0]["attributions"][0].as_f64().unwrap();
    let lot1 = explanations[1]["attributions"][0].as_f64().unwrap();
    assert!(lot1 > lot0);
    assert_eq!(
        explanations[0]["attributions"][1],
        explanations[1]["attributions"][1]
    );
}

#[tokio::test]
async fn bad_explain_requests_are_422_with_a_message() {
    let app = default_app().await;
    let mut unknown = house();
    unknown["pool"] = json!(1);
    let mut missing = house();
    missing.as_object_mut().unwrap().remove("garage");
    let mut with_null = house();
    with_null["garage"] = Value::Null;
    let mut text = house();
    text["garage"] = json!("two");
    let cases = [
        (
            json!({"instances": [[1, 2, 3]]}),
            "invalid_input",
            "expected 11",
        ),
        (
            json!({"instances": [unknown]}),
            "invalid_input",
            "unknown feature 'pool'",
        ),
        (
            json!({"instances": [missing]}),
            "invalid_input",
            "missing feature 'garage'",
        ),
        (
            json!({"instances": [with_null]}),
            "invalid_input",
            "missing value",
        ),
        (
            json!({"instances": [null]}),
            "invalid_input",
            "expected an array",
        ),
        (
            json!({"instances": [text]}),
            "invalid_input",
            "expected a number",
        ),
        (json!({"instances": []}), "invalid_input", "at least one"),
        (
            json!({"instances": [7]}),
            "invalid_input",
            "expected an array",
        ),
        (
            json!({"instances": [house()], "method": "magic"}),
            "invalid_argument",
            "unknown method 'magic'",
        ),
        (
            json!({"instances": [house()], "output": 3}),
            "invalid_input",
            "out of range",
        ),
        (
            json!({"instances": [house()], "output": "rent"}),
            "invalid_input",
            "unknown output",
        ),
        (
            json!({"instances": [house()], "output_space": "probability"}),
            "invalid_argument",
            "classifier",
        ),
        (
            json!({"instances": [house()], "output_space": "odds"}),
            "invalid_request",
            "odds",
        ),
        (
            json!({"instances": [house()], "model": "other"}),
            "invalid_request",
            "path names",
        ),
        (
            json!({"instance": [house()]}),
            "invalid_request",
            "instance",
        ),
        // Settings the method does not read are refused, not ignored (auto here
        // is linear_shap).
        (
            json!({"instances": [house()], "top_k": 3}),
            "invalid_input",
            "`top_k` is read by kernel_shap; this request's method is linear_shap",
        ),
        (
            json!({"instances": [house()], "method": "permutation_shap", "top_k": 3}),
            "invalid_input",
            "`top_k` is read by kernel_shap",
        ),
        (
            json!({"instances": [house()], "method": "kernel_shap", "steps": 10}),
            "invalid_input",
            "`steps` is read by integrated_gradients",
        ),
        (
            json!({"instances": [house()], "baseline": [0.0]}),
            "invalid_input",
            "`baseline` is read by integrated_gradients",
        ),
        (
            json!({"instances": [house()], "method": "lime", "tolerance": 0.1}),
            "invalid_input",
            "`tolerance` is read by integrated_gradients, kernel_shap",
        ),
    ];
    for (body, code, needle) in cases {
        let answer = call(
            &app,
            Method::POST,
            "/models/house-prices/explain",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], code, "{body}");
        let message = answer.json["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{message:?} should mention {needle:?}"
        );
    }
    let no_model = call(
        &app,
        Method::POST,
        "/explain",
        Some(json!({"instances": [house()]})),
    )
    .await;
    assert_eq!(no_model.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_model = call(
        &app,
        Method::POST,
        "/explain",
        Some(json!({"model": "nope", "instances": [house()]})),
    )
    .await;
    assert_eq!(unknown_model.status, StatusCode::NOT_FOUND);
    let malformed = send(
        &app,
        Request::builder()
            .method(Method::POST)
            .uri("/explain")
            .header("content-type", "application/json")
            .body(Body::from("{\"instances\": ["))
            .unwrap(),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn too_many_instances_are_refused() {
    let config = Config {
        max_instances: 3,
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": vec![house(); 4]})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.text.contains("at most 3"));
}

#[tokio::test]
async fn logistic_models_explain_in_both_spaces() {
    let app = default_app().await;
    call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    let raw = call(
        &app,
        Method::POST,
        "/models/churn/explain",
        Some(json!({"instances": [[3.0, -2.0]]})),
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.text);
    // Log-odds: 0.1 + 0.8·3 − 0.4·(−2) = 3.3.
    assert!((raw.json["explanations"][0]["prediction"].as_f64().unwrap() - 3.3).abs() < 1e-12);
    let prob = call(
        &app,
        Method::POST,
        "/models/churn/explain",
        Some(json!({"instances": [[3.0, -2.0]], "output_space": "probability", "output": "yes"})),
    )
    .await;
    assert_eq!(prob.status, StatusCode::OK, "{}", prob.text);
    let e = &prob.json["explanations"][0];
    let p = 1.0 / (1.0 + (-3.3f64).exp());
    assert!((e["prediction"].as_f64().unwrap() - p).abs() < 1e-12);
    let total = e["base_value"].as_f64().unwrap() + sum(&e["attributions"]);
    assert!((total - p).abs() < 1e-12);
    assert!(prob.json["note"].as_str().unwrap().contains("rescale"));
}

#[tokio::test]
async fn multiclass_explains_the_predicted_class_unless_told() {
    let app = default_app().await;
    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    let answer = call(
        &app,
        Method::POST,
        "/models/three/explain",
        Some(json!({"instances": [[5.0, 0.0], [0.0, 5.0]]})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["explanations"][0]["output"], "x");
    assert_eq!(answer.json["explanations"][1]["output"], "y");
    assert_eq!(answer.json["output"], Value::Null);
    let fixed = call(
        &app,
        Method::POST,
        "/models/three/explain",
        Some(json!({"instances": [[5.0, 0.0]], "output": 2})),
    )
    .await;
    assert_eq!(fixed.json["output"], "z");
}

#[tokio::test]
async fn predict_answers_rows_of_outputs() {
    let app = default_app().await;
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/predict",
        Some(json!({"instances": [house(), house_row()]})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["output_names"], json!(["price"]));
    assert_eq!(answer.json["predictions"][0], answer.json["predictions"][1]);
    let explained = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [house()]})),
    )
    .await;
    assert_eq!(
        answer.json["predictions"][0][0],
        explained.json["explanations"][0]["prediction"]
    );

    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    let probs = call(
        &app,
        Method::POST,
        "/models/three/predict",
        Some(json!({"instances": [[1.0, 2.0]]})),
    )
    .await;
    assert_eq!(probs.json["output_space"], "probability");
    assert!((sum(&probs.json["predictions"][0]) - 1.0).abs() < 1e-12);
    let bad = call(
        &app,
        Method::POST,
        "/models/house-prices/predict",
        Some(json!({"instances": [house()], "output_space": "probability"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = call(
        &app,
        Method::POST,
        "/models/nope/predict",
        Some(json!({"instances": [house()]})),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn global_is_cached_with_an_etag() {
    let app = default_app().await;
    let first = call(&app, Method::GET, "/models/house-prices/global", None).await;
    assert_eq!(first.status, StatusCode::OK);
    let features = first.json["features"].as_array().unwrap();
    assert_eq!(features.len(), 11);
    assert_eq!(first.json["rows"], 546);
    assert_eq!(first.json["method"], "linear_shap");
    let importances: Vec<f64> = features
        .iter()
        .map(|f| f["importance"].as_f64().unwrap())
        .collect();
    assert!(
        importances.windows(2).all(|w| w[0] >= w[1]),
        "sorted by importance"
    );
    assert!(features[0]["standardized_coefficients"][0].is_number());

    let etag = first.headers["etag"].to_str().unwrap().to_string();
    let second = call(&app, Method::GET, "/models/house-prices/global", None).await;
    assert_eq!(
        second.json["computed_at"], first.json["computed_at"],
        "served from cache"
    );
    let request = Request::builder()
        .uri("/models/house-prices/global")
        .header("if-none-match", &etag)
        .body(Body::empty())
        .unwrap();
    let not_modified = send(&app, request).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.text.is_empty());

    // A new version gets a new summary and a new tag.
    let mut spec = logistic_spec();
    call(&app, Method::PUT, "/models/churn", Some(spec.clone())).await;
    let all = call(&app, Method::GET, "/global", None).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.json["models"].as_array().unwrap().len(), 2);
    let all_etag = all.headers["etag"].to_str().unwrap().to_string();
    spec["params"]["coefficients"] = json!([2.0, 2.0]);
    call(&app, Method::PUT, "/models/churn", Some(spec)).await;
    let request = Request::builder()
        .uri("/global")
        .header("if-none-match", &all_etag)
        .body(Body::empty())
        .unwrap();
    let changed = send(&app, request).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.headers["etag"].to_str().unwrap(), all_etag);
}

#[tokio::test]
async fn models_without_background_have_no_global_summary() {
    let app = default_app().await;
    let spec = json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}});
    call(&app, Method::PUT, "/models/bare", Some(spec)).await;
    let one = call(&app, Method::GET, "/models/bare/global", None).await;
    assert_eq!(one.status, StatusCode::UNPROCESSABLE_ENTITY);
    let all = call(&app, Method::GET, "/global", None).await;
    assert_eq!(all.json["unavailable"][0]["model"], "bare");
    let explain = call(
        &app,
        Method::POST,
        "/models/bare/explain",
        Some(json!({"instances": [[1.0]]})),
    )
    .await;
    assert_eq!(explain.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(explain.text.contains("background"));
    assert_eq!(
        call(&app, Method::GET, "/models/nope/global", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn weights_show_parameters_and_statistics_but_no_rows() {
    let app = default_app().await;
    let answer = call(&app, Method::GET, "/models/house-prices/weights", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = &answer.json;
    assert_eq!(body["linear"]["coefficients"].as_array().unwrap().len(), 11);
    assert_eq!(body["linear"]["coefficients"][0]["feature"], "lotsize");
    assert_eq!(body["background"]["rows"], 546);
    let lot = &body["background"]["features"][0];
    // The range is the interpolated 5th and 95th percentiles, inside the exact
    // minimum and maximum (1,650 and 16,200 square feet), which are rows' values.
    assert!(lot.get("min").is_none() && lot.get("max").is_none());
    let (p05, p95) = (lot["p05"].as_f64().unwrap(), lot["p95"].as_f64().unwrap());
    assert!(1650.0 < p05 && p05 < p95 && p95 < 16200.0, "{p05} {p95}");
    // No array anywhere in the answer is as long as the background.
    fn longest(v: &Value) -> usize {
        match v {
            Value::Array(a) => a.len().max(a.iter().map(longest).max().unwrap_or(0)),
            Value::Object(o) => o.values().map(longest).max().unwrap_or(0),
            _ => 0,
        }
    }
    assert!(longest(body) < 546);
    assert_eq!(
        call(&app, Method::GET, "/models/nope/weights", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    // Before the store is loaded the server is alive but not ready.
    let state = server::build_state(Config::defaults()).unwrap();
    let app = app(state.clone());
    assert_eq!(
        call(&app, Method::GET, "/healthz", None).await.status,
        StatusCode::OK
    );
    let not_ready = call(&app, Method::GET, "/readyz", None).await;
    assert_eq!(not_ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(not_ready.json["ready"], false);
    server::load_models(&state).await.unwrap();
    let ready = call(&app, Method::GET, "/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json["models"], 1);

    call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [house(), house()]})),
    )
    .await;
    call(&app, Method::GET, "/models/nope", None).await;
    let metrics = call(&app, Method::GET, "/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.text;
    assert!(
        text.contains(
            r#"explaind_explanations_total{model="house-prices",method="linear_shap"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"explaind_http_requests_total{route="/models/{name}/explain",method="POST",status="200"} 1"#));
    assert!(text.contains(
        r#"explaind_http_requests_total{route="/models/{name}",method="GET",status="404"} 1"#
    ));
    assert!(text.contains("explaind_http_request_duration_seconds_bucket"));
    assert!(text.contains("explaind_models_loaded 1"));

    let spec = call(&app, Method::GET, "/openapi.yaml", None).await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(spec.text.starts_with("openapi: 3."));
}

#[tokio::test]
async fn demo_can_be_turned_off() {
    let (app, _) = ready_app(Config {
        no_demo: true,
        ..Config::defaults()
    })
    .await;
    let list = call(&app, Method::GET, "/models", None).await;
    assert_eq!(list.json["models"], json!([]));
}
