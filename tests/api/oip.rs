//! The Open Inference Protocol (KServe V2) routes: the same numbers as the native
//! routes, in tensors.

use crate::common::{call, default_app, house, multinomial_spec};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

/// The house row in the metadata's feature order, and the feature names.
async fn house_tensor(app: &axum::Router) -> (Vec<String>, Vec<Value>) {
    let meta = call(app, Method::GET, "/v2/models/house-prices", None).await;
    assert_eq!(meta.status, StatusCode::OK, "{}", meta.text);
    let names: Vec<String> =
        serde_json::from_value(meta.json["parameters"]["feature_names"].clone()).unwrap();
    let row = names.iter().map(|n| house()[n].clone()).collect();
    (names, row)
}

#[tokio::test]
async fn health_and_metadata() {
    let app = default_app().await;
    let live = call(&app, Method::GET, "/v2/health/live", None).await;
    assert_eq!(
        (live.status, live.json),
        (StatusCode::OK, json!({"live": true}))
    );
    let ready = call(&app, Method::GET, "/v2/health/ready", None).await;
    assert_eq!(
        (ready.status, ready.json),
        (StatusCode::OK, json!({"ready": true}))
    );
    let model_ready = call(&app, Method::GET, "/v2/models/house-prices/ready", None).await;
    assert_eq!(model_ready.json, json!({"ready": true}));
    let missing = call(&app, Method::GET, "/v2/models/nope/ready", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let meta = call(&app, Method::GET, "/v2/models/house-prices", None).await;
    let features = house().as_object().unwrap().len();
    assert_eq!(meta.json["name"], "house-prices");
    assert_eq!(
        meta.json["inputs"],
        json!([{"name": "input", "datatype": "FP64", "shape": [-1, features]}])
    );
    assert_eq!(meta.json["outputs"][0]["shape"], json!([-1]));
    assert_eq!(
        meta.json["parameters"]["feature_names"]
            .as_array()
            .unwrap()
            .len(),
        features
    );
}

#[tokio::test]
async fn infer_equals_predict_in_either_input_form() {
    let app = default_app().await;
    let (names, row) = house_tensor(&app).await;
    let f = names.len();
    let rows = [row.clone(), row.clone()];
    let flat: Vec<Value> = rows.iter().flatten().cloned().collect();
    let body = json!({"id": "r1", "inputs": [{"name": "input", "shape": [2, f], "datatype": "FP64", "data": flat}]});
    let infer = call(
        &app,
        Method::POST,
        "/v2/models/house-prices/infer",
        Some(body),
    )
    .await;
    assert_eq!(infer.status, StatusCode::OK, "{}", infer.text);
    let native = call(
        &app,
        Method::POST,
        "/models/house-prices/predict",
        Some(json!({"instances": [house(), house()]})),
    )
    .await;
    let expected: Vec<Value> = native.json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(infer.json["id"], "r1");
    assert_eq!(infer.json["model_name"], "house-prices");
    assert_eq!(
        infer.json["outputs"],
        json!([{"name": "predictions", "shape": [2], "datatype": "FP64", "data": expected}])
    );
    // One [rows] tensor per feature, named by feature: the same answer.
    let per_feature: Vec<Value> = names
        .iter()
        .zip(&row)
        .map(|(n, v)| json!({"name": n, "shape": [1], "datatype": "FP64", "data": [v]}))
        .collect();
    let by_feature = call(
        &app,
        Method::POST,
        "/v2/models/house-prices/infer",
        Some(json!({"inputs": per_feature})),
    )
    .await;
    assert_eq!(by_feature.status, StatusCode::OK, "{}", by_feature.text);
    assert_eq!(by_feature.json["outputs"][0]["data"], json!([expected[0]]));
}

#[tokio::test]
async fn explain_attributions_equal_the_native_explanation() {
    let app = default_app().await;
    let (names, row) = house_tensor(&app).await;
    let params = json!({"method": "kernel_shap", "seed": 7, "n_samples": 256});
    let body = json!({
        "parameters": params,
        "inputs": [{"name": "input", "shape": [1, names.len()], "datatype": "FP64", "data": row}]
    });
    let oip = call(
        &app,
        Method::POST,
        "/v2/models/house-prices/explain",
        Some(body),
    )
    .await;
    assert_eq!(oip.status, StatusCode::OK, "{}", oip.text);
    let mut native_body = params.clone();
    native_body["instances"] = json!([house()]);
    let native = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(native_body),
    )
    .await;
    assert_eq!(native.status, StatusCode::OK, "{}", native.text);
    let outputs = oip.json["outputs"].as_array().unwrap();
    assert_eq!(outputs[0]["name"], "attributions");
    assert_eq!(outputs[0]["shape"], json!([1, names.len()]));
    assert_eq!(outputs[0]["data"], native.json["values"][0]);
    assert_eq!(outputs[1]["data"], native.json["base_values"]);
    assert_eq!(
        outputs[2]["data"][0],
        native.json["explanations"][0]["prediction"]
    );
    assert_eq!(oip.json["parameters"]["method"], "kernel_shap");
}

#[tokio::test]
async fn a_classifier_answers_one_column_per_class() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/tri", Some(multinomial_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let inputs = json!([{"name": "input", "shape": [2, 2], "datatype": "FP32", "data": [[2.0, 0.5], [-1.0, -2.0]]}]);
    let infer = call(
        &app,
        Method::POST,
        "/v2/models/tri/infer",
        Some(json!({"inputs": inputs})),
    )
    .await;
    assert_eq!(infer.status, StatusCode::OK, "{}", infer.text);
    assert_eq!(infer.json["outputs"][0]["shape"], json!([2, 3]));
    let native = call(
        &app,
        Method::POST,
        "/models/tri/predict",
        Some(json!({"instances": [[2.0, 0.5], [-1.0, -2.0]]})),
    )
    .await;
    let flat: Vec<Value> = native.json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().clone())
        .collect();
    assert_eq!(infer.json["outputs"][0]["data"], json!(flat));

    let body = json!({"parameters": {"outputs": "all"}, "inputs": inputs, "outputs": [{"name": "attributions"}]});
    let explained = call(&app, Method::POST, "/v2/models/tri/explain", Some(body)).await;
    assert_eq!(explained.status, StatusCode::OK, "{}", explained.text);
    let outputs = explained.json["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0]["shape"], json!([2, 2, 3]));
    let native = call(
        &app,
        Method::POST,
        "/models/tri/explain",
        Some(json!({"outputs": "all", "instances": [[2.0, 0.5], [-1.0, -2.0]]})),
    )
    .await;
    // [row, feature, output] holds explanation (row, output)'s attribution to feature.
    let e = &native.json["explanations"];
    assert_eq!(
        outputs[0]["data"][(2 + 1) * 3 + 2],
        e[3 + 2]["attributions"][1]
    );
    assert_eq!(outputs[0]["data"][1], e[1]["attributions"][0]);
}

#[tokio::test]
async fn shapes_and_datatypes_that_do_not_fit_are_422() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/tri", Some(multinomial_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED);
    for (input, needle) in [
        (
            json!({"name": "input", "shape": [2, 2], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}),
            "needs 4",
        ),
        (
            json!({"name": "input", "shape": [1, 2], "datatype": "BYTES", "data": [1.0, 2.0]}),
            "BYTES",
        ),
        (
            json!({"name": "input", "shape": [1, 2], "datatype": "INT64", "data": [1.5, 2]}),
            "INT64",
        ),
        (
            json!({"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}),
            "instance",
        ),
        (
            json!({"name": "input", "shape": [1, 1, 2], "datatype": "FP64", "data": [1.0, 2.0]}),
            "shape",
        ),
        // Rows are not allocated before the data is checked against the shape.
        (
            json!({"name": "a", "shape": [u64::MAX - 1], "datatype": "FP32", "data": []}),
            "needs 18446744073709551614",
        ),
        (
            json!({"name": "input", "shape": [u64::MAX, 2], "datatype": "FP32", "data": []}),
            "more than fit",
        ),
    ] {
        for verb in ["infer", "explain"] {
            let body = json!({"inputs": [input.clone()]});
            let answer = call(
                &app,
                Method::POST,
                &format!("/v2/models/tri/{verb}"),
                Some(body),
            )
            .await;
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{input}: {}",
                answer.text
            );
            let message = answer.json["error"]["message"].as_str().unwrap();
            assert!(message.contains(needle), "{message}");
        }
    }
    let unknown_output = json!({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}], "outputs": [{"name": "nope"}]});
    let answer = call(
        &app,
        Method::POST,
        "/v2/models/tri/infer",
        Some(unknown_output),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
}
