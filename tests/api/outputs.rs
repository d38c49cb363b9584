//! Output selection for classifiers: one output by index or name, every output
//! (`"outputs": "all"`), the top K (`"outputs": "top:2"`), in raw or probability
//! space, and the error paths.

use crate::common::{call, default_app, multinomial_spec};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

async fn app() -> axum::Router {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/tri", Some(multinomial_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    app
}

async fn explain(app: &axum::Router, body: Value) -> crate::common::Answer {
    call(app, Method::POST, "/models/tri/explain", Some(body)).await
}

const ROWS: [[f64; 2]; 2] = [[2.0, 0.5], [-1.0, -2.0]];

#[tokio::test]
async fn one_output_by_index_or_name() {
    let app = app().await;
    let by_index = explain(&app, json!({"instances": ROWS, "output": 1})).await;
    let by_name = explain(&app, json!({"instances": ROWS, "output": "y"})).await;
    assert_eq!(by_index.status, StatusCode::OK, "{}", by_index.text);
    assert_eq!(by_index.json["output"], "y");
    assert_eq!(by_index.json["values"], by_name.json["values"]);
    // Without `output`: each row's predicted class (x for the first, z for the second).
    let predicted = explain(&app, json!({"instances": ROWS})).await;
    assert_eq!(predicted.json["explanations"][0]["output"], "x");
    assert_eq!(predicted.json["explanations"][1]["output"], "z");
    assert!(predicted.json["output"].is_null());
}

#[tokio::test]
async fn all_outputs_explain_every_class_of_every_row() {
    let app = app().await;
    for space in ["raw", "probability"] {
        let answer = explain(
            &app,
            json!({"instances": ROWS, "outputs": "all", "output_space": space}),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{space}: {}", answer.text);
        let explanations = answer.json["explanations"].as_array().unwrap();
        assert_eq!(explanations.len(), 6);
        assert_eq!(answer.json["values"].as_array().unwrap().len(), 6);
        for (n, e) in explanations.iter().enumerate() {
            assert_eq!(e["instance"], n / 3);
            assert_eq!(e["output"], ["x", "y", "z"][n % 3]);
        }
        // Each equals the explanation of that output alone.
        for k in 0..3 {
            let one = explain(
                &app,
                json!({"instances": ROWS, "output": k, "output_space": space}),
            )
            .await;
            for i in 0..2 {
                assert_eq!(
                    answer.json["values"][i * 3 + k],
                    one.json["values"][i],
                    "{space} {i} {k}"
                );
            }
        }
        if space == "probability" {
            // Probabilities of one row sum to 1.
            let p: f64 = explanations[..3]
                .iter()
                .map(|e| e["prediction"].as_f64().unwrap())
                .sum();
            assert!((p - 1.0).abs() < 1e-12);
        }
    }
}

#[tokio::test]
async fn top_k_explains_the_most_probable_classes_first() {
    let app = app().await;
    let predict = call(
        &app,
        Method::POST,
        "/models/tri/predict",
        Some(json!({"instances": ROWS})),
    )
    .await;
    let answer = explain(
        &app,
        json!({"instances": ROWS, "outputs": "top:2", "method": "kernel_shap",
                                      "output_space": "probability", "seed": 1}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let explanations = answer.json["explanations"].as_array().unwrap();
    assert_eq!(explanations.len(), 4);
    for i in 0..2 {
        let p = floats(&predict.json["predictions"][i]);
        let mut order: Vec<usize> = (0..3).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        for r in 0..2 {
            let e = &explanations[i * 2 + r];
            assert_eq!(e["instance"], i);
            assert_eq!(e["output"], ["x", "y", "z"][order[r]]);
            // Efficiency in probability space: base + Σφ = p.
            let sum: f64 = floats(&e["attributions"]).iter().sum();
            let base = e["base_value"].as_f64().unwrap();
            assert!((base + sum - p[order[r]]).abs() < 1e-9, "{e}");
        }
    }
}

#[tokio::test]
async fn where_the_method_cannot_the_space_is_refused() {
    let app = default_app().await;
    // A regression has no probability space, whatever the outputs asked.
    let body = json!({"instances": [crate::common::house()], "outputs": "all", "output_space": "probability"});
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(body),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    // A binary classifier has one output: all = top:1 = that one.
    call(
        &app,
        Method::PUT,
        "/models/bin",
        Some(crate::common::logistic_spec()),
    )
    .await;
    let all = call(
        &app,
        Method::POST,
        "/models/bin/explain",
        Some(json!({"instances": [[1.0, 2.0]], "outputs": "all"})),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.json["explanations"].as_array().unwrap().len(), 1);
    assert_eq!(all.json["output"], "yes");
}

#[tokio::test]
async fn bad_output_selections_get_clear_422s() {
    let app = app().await;
    for (body, says) in [
        (json!({"output": 0, "outputs": "all"}), "not both"),
        (json!({"outputs": "top:0"}), "between 1 and the model's 3"),
        (json!({"outputs": "top:4"}), "between 1 and the model's 3"),
        (json!({"outputs": "top:two"}), "unknown outputs 'top:two'"),
        (json!({"outputs": "most"}), "unknown outputs 'most'"),
        (json!({"output": "w"}), "unknown output 'w'"),
        (json!({"output": 3}), "out of range"),
    ] {
        let mut body = body;
        body["instances"] = json!(ROWS);
        let answer = explain(&app, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.text
        );
        assert!(answer.text.contains(says), "{body}: {}", answer.text);
    }
}

#[tokio::test]
async fn every_output_explained_counts_live() {
    let app = app().await;
    explain(&app, json!({"instances": ROWS, "outputs": "all"})).await;
    let global = call(&app, Method::GET, "/models/tri/global", None).await;
    let window = &global.json["live"]["window"];
    assert_eq!(window["explanations"], 6);
    assert_eq!(window["by_output"], json!([2, 2, 2]));
    assert_eq!(window["rows"], 2);
}

#[tokio::test]
async fn texts_take_one_output_and_no_groups() {
    let app = default_app().await;
    let spec = crate::common::fixture("text/fine_foods.json")["spec"].clone();
    let put = call(&app, Method::PUT, "/models/foods", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    for (extra, says) in [
        (json!({"outputs": "all"}), "`outputs` is for `instances`"),
        (
            json!({"group_by": "groups"}),
            "feature groups are for `instances`",
        ),
    ] {
        let mut body = json!({"texts": ["great taste"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let answer = call(&app, Method::POST, "/models/foods/explain", Some(body)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        assert!(answer.text.contains(says), "{}", answer.text);
    }
}
