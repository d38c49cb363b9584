//! Model-agnostic explainers through the API: KernelSHAP, permutation SHAP, exact
//! Shapley values and LIME, their options, and quality scores on request.

use crate::common::{call, default_app, house, multinomial_spec};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

async fn explain(app: &axum::Router, body: Value) -> crate::common::Answer {
    call(
        app,
        Method::POST,
        "/models/house-prices/explain",
        Some(body),
    )
    .await
}

#[tokio::test]
async fn exact_methods_agree_with_linear_shap_on_the_house_model() {
    let app = default_app().await;
    let exact = explain(&app, json!({"instances": [house()]})).await;
    let reference = floats(&exact.json["values"][0]);
    // 11 features: 2^11 − 2 coalitions fit KernelSHAP's default budget, so it
    // enumerates; over the whole background both are exact.
    for method in ["exact_shapley", "kernel_shap"] {
        let body = json!({"instances": [house()], "method": method, "max_background": 1000});
        let answer = explain(&app, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{method}: {}", answer.text);
        assert_eq!(answer.json["method"], method);
        for (a, b) in floats(&answer.json["values"][0]).iter().zip(&reference) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{method}: {a} vs {b}"
            );
        }
    }
}

#[tokio::test]
async fn sampling_methods_are_reproducible_and_report_their_error() {
    let app = default_app().await;
    let body =
        json!({"instances": [house()], "method": "permutation_shap", "seed": 7, "n_samples": 44});
    let first = explain(&app, body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = explain(&app, body).await;
    assert_eq!(
        first.json["values"], again.json["values"],
        "same seed, same answer"
    );
    assert_eq!(first.json["seed"], 7);
    let quality = &first.json["explanations"][0]["quality"];
    assert!(quality["samples"].as_u64().unwrap() > 0);
    assert_eq!(quality["standard_errors"].as_array().unwrap().len(), 11);
    // Efficiency holds for permutation sampling: base + Σφ = prediction.
    assert!(quality["additivity_residual"].as_f64().unwrap().abs() < 1e-6);

    let lime = explain(
        &app,
        json!({"instances": [house()], "method": "lime", "seed": 1}),
    )
    .await;
    assert_eq!(lime.status, StatusCode::OK, "{}", lime.text);
    let q = &lime.json["explanations"][0]["quality"];
    assert!(q["surrogate_r2"].is_number());
    assert!(q["local_prediction"].is_number());
}

#[tokio::test]
async fn agnostic_methods_work_on_neural_networks_and_classifiers() {
    let app = default_app().await;
    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    let answer = call(&app, Method::POST, "/models/three/explain", Some(json!({
        "instances": [[1.0, 2.0]], "method": "kernel_shap", "output_space": "probability", "output": "y"
    }))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let e = &answer.json["explanations"][0];
    assert!(e["quality"]["additivity_residual"].as_f64().unwrap().abs() < 1e-9);
    assert!(e["prediction"].as_f64().unwrap() > 0.0 && e["prediction"].as_f64().unwrap() < 1.0);
}

#[tokio::test]
async fn full_quality_adds_curves_and_scores() {
    let app = default_app().await;
    let answer = explain(&app, json!({"instances": [house()], "quality": "full"})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let scores = &answer.json["explanations"][0]["quality"]["scores"];
    assert_eq!(scores["deletion_curve"].as_array().unwrap().len(), 12);
    assert_eq!(scores["insertion_curve"].as_array().unwrap().len(), 12);
    // Exact SHAP of a linear model: removing a set of features moves the output by
    // the sum of their attributions, up to the scores' 50-row background sample.
    assert!(scores["faithfulness"].as_f64().unwrap() > 0.9, "{scores}");
    assert!(scores["max_sensitivity"].as_f64().unwrap() >= 0.0);
    let basic = explain(&app, json!({"instances": [house()]})).await;
    assert!(basic.json["explanations"][0]["quality"]
        .get("scores")
        .is_none());
}

#[tokio::test]
async fn budgets_limits_and_timeouts_are_clear_errors() {
    let app = default_app().await;
    let names: Vec<String> = (0..17).map(|j| format!("f{j}")).collect();
    let wide = json!({
        "kind": "linear", "feature_names": names,
        "params": {"coefficients": vec![1.0; 17]},
        "background": [vec![0.0; 17], vec![1.0; 17]]
    });
    call(&app, Method::PUT, "/models/wide", Some(wide)).await;
    let too_wide = call(
        &app,
        Method::POST,
        "/models/wide/explain",
        Some(json!({"instances": [vec![0.5; 17]], "method": "exact_shapley"})),
    )
    .await;
    assert_eq!(too_wide.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_wide.text.contains("16"), "{}", too_wide.text);

    let zero = explain(
        &app,
        json!({"instances": [house()], "method": "kernel_shap", "n_samples": 0}),
    )
    .await;
    assert_eq!(zero.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(zero.json["error"]["code"], "invalid_argument");
    // The message names the cap in force (--max-samples, 100000 by default), not the
    // core's own bound (1048576).
    let message = zero.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("n_samples = 0"), "{message}");
    assert!(
        message.contains("cap of 100000 (--max-samples"),
        "{message}"
    );
    assert!(!message.contains("1048576"), "{message}");

    let rows = vec![house(); 200];
    let late = explain(
        &app,
        json!({
            "instances": rows, "method": "kernel_shap", "n_samples": 100000, "timeout_ms": 1
        }),
    )
    .await;
    assert_eq!(
        late.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        late.text
    );
    assert_eq!(late.json["error"]["code"], "timeout");
}
