//! skl2onnx pipelines with a Normalizer in front of the model through the API
//! (issue 14, item 2): StandardScaler, Normalizer (L2), Ridge and StandardScaler,
//! Normalizer (L1), a forest register with one request, predict what onnxruntime
//! computes, and are explained over their raw features by the model-agnostic
//! methods (kernel_shap by default); the structural methods answer 422 naming the
//! Normalizer (tests/fixtures/onnx_pipeline, gen_onnx_pipeline.py).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{assert_adds_up, call, default_app};
use crate::onnx_support::{assert_shapley, close, fixture};

#[tokio::test]
async fn a_normalized_pipeline_predicts_and_model_agnostic_methods_explain_it() {
    for (fixture_name, norm) in [("normalized_ridge", "L2"), ("normalized_forest", "L1")] {
        let app = default_app().await;
        let (model, doc) = fixture(fixture_name);
        let spec = json!({"kind": "onnx", "model": model, "background": doc["background"]});
        let put = call(&app, Method::PUT, "/models/normed", Some(spec)).await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
        assert_eq!(put.json["feature_names"], doc["raw_features"]);
        let rows = &doc["rows"];
        let predicted = call(
            &app,
            Method::POST,
            "/models/normed/predict",
            Some(json!({"instances": rows})),
        )
        .await;
        assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
        for (r, want) in doc["predictions"].as_array().unwrap().iter().enumerate() {
            let scale = want.as_f64().unwrap().abs();
            close(
                &predicted.json["predictions"][r][0],
                want,
                scale,
                "prediction",
            );
        }
        // The default is kernel_shap; its parts add up to the prediction.
        let body = json!({"instances": [rows[0]], "seed": 3});
        let answer = call(&app, Method::POST, "/models/normed/explain", Some(body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json["method"], "kernel_shap");
        assert_adds_up(&answer.json["explanations"][0], 1e-6);
        // exact_shapley equals the enumeration on the graph with onnxruntime.
        let body = json!({"instances": rows, "method": "exact_shapley"});
        let answer = call(&app, Method::POST, "/models/normed/explain", Some(body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json["explanations"]
            .as_array()
            .unwrap()
            .iter()
            .for_each(|e| assert_adds_up(e, 1e-6));
        assert_shapley(&answer.json, &doc, 4, fixture_name);
        for method in ["tree_interventional", "linear_shap", "tree_path_dependent"] {
            let body = json!({"instances": [rows[0]], "method": method});
            let refused = call(&app, Method::POST, "/models/normed/explain", Some(body)).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{method}");
            for words in [
                format!("{method} does not apply"),
                format!("Normalizer (norm {norm})"),
                "kernel_shap".into(),
                "exact_shapley".into(),
            ] {
                assert!(refused.text.contains(&words), "{}", refused.text);
            }
        }
    }
}
