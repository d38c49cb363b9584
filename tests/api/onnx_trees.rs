//! ONNX-ML tree ensembles through the API: base64 and raw uploads of the files
//! skl2onnx wrote (tests/fixtures/gen_onnx_trees.py), predictions and
//! explanations against onnxruntime's and shap's, the default method, `/weights`,
//! and malformed files refused with a 422 that names the problem.

use crate::common::{assert_adds_up, call, default_app, send};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use explaind::formats::base64;
use serde_json::{json, Value};

fn fixture(name: &str) -> (Vec<u8>, Value) {
    let dir = format!("{}/tests/fixtures/onnx_trees", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(format!("{dir}/{name}.json")).unwrap();
    (
        std::fs::read(format!("{dir}/{name}.onnx")).unwrap(),
        serde_json::from_str(&doc).unwrap(),
    )
}

async fn upload(app: &Router, uri: &str, bytes: Vec<u8>) -> crate::common::Answer {
    let request = Request::builder()
        .method(Method::PUT)
        .uri(uri)
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    send(app, request).await
}

/// Every value of `got` within float32 precision of `want` (1e-5 of the largest).
fn assert_close(what: &str, got: &Value, want: &Value) {
    let flat = |v: &Value| -> Vec<f64> {
        let mut out = Vec::new();
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(a) => stack.extend(a.iter().rev()),
                other => out.push(other.as_f64().expect("a number")),
            }
        }
        out
    };
    let (got, want) = (flat(got), flat(want));
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-5 * scale, "{what}: {g} vs {w}");
    }
}

#[tokio::test]
async fn a_base64_forest_with_a_background_predicts_and_explains_as_onnxruntime_and_shap() {
    let app = default_app().await;
    let (bytes, doc) = fixture("rf_regressor");
    let spec = json!({
        "kind": "onnx",
        "model": base64::encode(&bytes),
        "background": doc["background"],
    });
    let put = call(&app, Method::PUT, "/models/forest", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "onnx");
    assert_eq!(put.json["feature_names"][10], "f10");
    let rows = &doc["rows"];
    let predict = call(
        &app,
        Method::POST,
        "/models/forest/predict",
        Some(json!({"instances": rows})),
    )
    .await;
    assert_eq!(predict.status, StatusCode::OK, "{}", predict.text);
    assert_close("predictions", &predict.json["predictions"], &doc["outputs"]);
    // The default method is interventional TreeSHAP, equal to shap's values.
    let explain = call(
        &app,
        Method::POST,
        "/models/forest/explain",
        Some(json!({"instances": [rows[0]]})),
    )
    .await;
    assert_eq!(explain.status, StatusCode::OK, "{}", explain.text);
    assert_eq!(explain.json["method"], "tree_interventional");
    let attributions = &explain.json["explanations"][0]["attributions"];
    assert_close("attributions", attributions, &doc["shap"][0][0]);
    // No covers in the file: path-dependent TreeSHAP is refused, naming the way out.
    let refused = call(
        &app,
        Method::POST,
        "/models/forest/explain",
        Some(json!({"instances": [rows[0]], "method": "tree_path_dependent"})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text.contains("tree_interventional"),
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn a_raw_binary_classifier_upload_predicts_probabilities_and_shows_its_trees() {
    let app = default_app().await;
    let (bytes, doc) = fixture("gb_binary");
    let put = upload(&app, "/models/boost?kind=onnx", bytes).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "onnx");
    assert_eq!(put.json["output_names"], json!(["positive"]));
    let predict = call(
        &app,
        Method::POST,
        "/models/boost/predict",
        Some(json!({"instances": doc["rows"]})),
    )
    .await;
    assert_eq!(predict.status, StatusCode::OK, "{}", predict.text);
    // onnxruntime's probability of class 1.
    assert_close(
        "probabilities",
        &predict.json["predictions"],
        &doc["outputs"],
    );
    let info = call(&app, Method::GET, "/models/boost", None).await;
    assert_eq!(info.json["kind"], "onnx", "{}", info.text);
    let weights = call(&app, Method::GET, "/models/boost/weights?limit=2", None).await;
    assert_eq!(weights.status, StatusCode::OK, "{}", weights.text);
    let text = &weights.text;
    assert!(text.contains("less_or_equal_f32"), "{text}");
    let trees = &weights.json["trees"];
    assert_eq!(trees["summary"]["trees"], 20, "{text}");
    assert_eq!(trees["total"], 20, "{text}");
    assert_eq!(trees["trees"].as_array().map(Vec::len), Some(2), "{text}");
    // Without a background there is nothing to explain against.
    let explain = call(
        &app,
        Method::POST,
        "/models/boost/explain",
        Some(json!({"instances": [doc["rows"][0]]})),
    )
    .await;
    assert_eq!(explain.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(explain.text.contains("background"), "{}", explain.text);
}

#[tokio::test]
async fn malformed_tree_files_are_refused_naming_the_problem() {
    let app = default_app().await;
    let dir = format!(
        "{}/tests/fixtures/onnx_trees/bad",
        env!("CARGO_MANIFEST_DIR")
    );
    let expect: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/expect.json")).unwrap())
            .unwrap();
    let cases = expect.as_object().expect("cases");
    assert_eq!(cases.len(), 6);
    for (name, want) in cases {
        let bytes = std::fs::read(format!("{dir}/{name}.onnx")).unwrap();
        let answer = upload(&app, "/models/bad?kind=onnx", bytes).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(answer.json["error"]["code"], "invalid_model", "{name}");
        let want = want.as_str().unwrap();
        assert!(answer.text.contains(want), "{name}: {}", answer.text);
    }
    let listed = call(&app, Method::GET, "/models/bad", None).await;
    assert_eq!(listed.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_onnx_logistic_regression_becomes_a_logistic_model() {
    let app = default_app().await;
    let (bytes, doc) = fixture("logistic_multiclass");
    let spec = json!({"kind": "onnx", "model": base64::encode(&bytes)});
    let put = call(&app, Method::PUT, "/models/lr", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "logistic");
    assert_eq!(put.json["feature_names"][0], "f0");
    let predict = call(
        &app,
        Method::POST,
        "/models/lr/predict",
        Some(json!({"instances": doc["rows"]})),
    )
    .await;
    assert_eq!(predict.status, StatusCode::OK, "{}", predict.text);
    assert_close(
        "probabilities",
        &predict.json["predictions"],
        &doc["outputs"],
    );
}

/// A forest aggregated by MIN (issue 14: "MIN/MAX: predict only, 422 for SHAP,
/// named"): it registers and predicts what onnxruntime computes; TreeSHAP and the
/// other structural methods answer 422 naming MIN; the model-agnostic methods
/// (kernel_shap, the default) explain it, their parts adding up to the prediction.
#[tokio::test]
async fn a_min_forest_predicts_and_only_model_agnostic_methods_explain_it() {
    let app = default_app().await;
    let (bytes, doc) = fixture("rf_regressor_min");
    let spec =
        json!({"kind": "onnx", "model": base64::encode(&bytes), "background": doc["background"]});
    let put = call(&app, Method::PUT, "/models/least", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let rows = &doc["rows"];
    let predict = call(
        &app,
        Method::POST,
        "/models/least/predict",
        Some(json!({"instances": rows})),
    )
    .await;
    assert_eq!(predict.status, StatusCode::OK, "{}", predict.text);
    assert_close("predictions", &predict.json["predictions"], &doc["outputs"]);
    for method in ["tree_interventional", "tree_path_dependent", "linear_shap"] {
        let body = json!({"instances": [rows[0]], "method": method});
        let refused = call(&app, Method::POST, "/models/least/explain", Some(body)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{method}");
        assert!(
            refused.text.contains("aggregate_function is MIN"),
            "{}",
            refused.text
        );
    }
    for method in [None, Some("exact_shapley")] {
        let mut body = json!({"instances": [rows[0]], "seed": 3});
        if let Some(m) = method {
            body["method"] = json!(m);
        }
        let answer = call(&app, Method::POST, "/models/least/explain", Some(body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json["method"], method.unwrap_or("kernel_shap"));
        let e = &answer.json["explanations"][0];
        assert_adds_up(e, 1e-6);
        assert_close("prediction", &e["prediction"], &doc["outputs"][0][0]);
    }
}
