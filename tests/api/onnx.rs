//! ONNX models through the API: raw and base64 uploads, conversion to `mlp`,
//! refusals, and a raw upload surviving a restart.

use crate::common::{call, default_app, ready_app, send};
use approx::assert_abs_diff_eq;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use explaind::config::Config;
use explaind::formats::base64;
use serde_json::{json, Value};

fn onnx_file(name: &str) -> (Vec<u8>, Value) {
    let dir = format!("{}/tests/fixtures/onnx", env!("CARGO_MANIFEST_DIR"));
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

async fn assert_predicts(app: &Router, name: &str, doc: &Value) {
    let answer = call(
        app,
        Method::POST,
        &format!("/models/{name}/predict"),
        Some(json!({"instances": doc["inputs"]})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let ours = answer.json["predictions"].as_array().unwrap();
    for (a, b) in ours.iter().zip(doc["outputs"].as_array().unwrap()) {
        for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
            assert_abs_diff_eq!(x.as_f64().unwrap(), y.as_f64().unwrap(), epsilon = 1e-9);
        }
    }
}

#[tokio::test]
async fn raw_upload_becomes_an_mlp_that_predicts_and_explains() {
    let app = default_app().await;
    let (bytes, doc) = onnx_file("torch_f64");
    let put = upload(&app, "/models/net?kind=onnx&feature_names=a,b,c,d", bytes).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "mlp");
    assert_eq!(put.json["feature_names"], json!(["a", "b", "c", "d"]));
    assert_predicts(&app, "net", &doc).await;
    let explain = call(
        &app,
        Method::POST,
        "/models/net/explain",
        Some(json!({"instances": [doc["inputs"][0]], "baseline": [0, 0, 0, 0], "output": 1})),
    )
    .await;
    assert_eq!(explain.status, StatusCode::OK, "{}", explain.text);
    assert_eq!(explain.json["method"], "integrated_gradients");
}

#[tokio::test]
async fn base64_in_a_json_document_registers_too() {
    let app = default_app().await;
    let (bytes, doc) = onnx_file("sk_regressor");
    let spec = json!({"kind": "onnx", "model": base64::encode(&bytes)});
    let put = call(&app, Method::PUT, "/models/diabetes", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["feature_names"][9], "x9");
    assert_predicts(&app, "diabetes", &doc).await;
}

#[tokio::test]
async fn bad_files_are_refused_with_422() {
    let app = default_app().await;
    let (leaky, _) = onnx_file("torch_leaky");
    let answer = upload(&app, "/models/bad?kind=onnx", leaky).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.json["error"]["code"], "invalid_model");
    assert!(answer.text.contains("LeakyRelu"), "{}", answer.text);
    let (good, _) = onnx_file("torch_f32");
    let answer = upload(
        &app,
        "/models/bad?kind=onnx",
        good[..good.len() / 3].to_vec(),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    let answer = upload(&app, "/models/bad", good.clone()).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.json["error"]["code"], "invalid_request");
    let answer = upload(&app, "/models/bad?kind=onnx&feature_names=a,b", good).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let spec = json!({"kind": "onnx", "model": "not base64!"});
    let answer = call(&app, Method::PUT, "/models/bad", Some(spec)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = call(&app, Method::GET, "/models/bad", None).await;
    assert_eq!(listed.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_raw_upload_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        model_dir: Some(dir.path().to_path_buf()),
        ..Config::defaults()
    };
    let (bytes, doc) = onnx_file("sk_classifier");
    let (app, _) = ready_app(config.clone()).await;
    let put = upload(&app, "/models/iris?kind=onnx", bytes).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    drop(app);
    let (again, _) = ready_app(config).await;
    let info = call(&again, Method::GET, "/models/iris", None).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(
        info.json["output_names"],
        json!(["class_0", "class_1", "class_2"])
    );
    assert_predicts(&again, "iris", &doc).await;
}
