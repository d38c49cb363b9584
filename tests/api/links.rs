//! Outputs after a link other than a binary classifier's: a Poisson model's mean
//! (`exp` of its raw output) and a multiclass model's probabilities, predicted and
//! explained in the same space ("probability" is the API's name for after the link).

use crate::common::{call, default_app, fixture, house_row};
use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

async fn register(app: &Router, name: &str, file: &str, case: &Value) {
    let path = format!("{}/tests/fixtures/trees/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let model = match file.ends_with(".json") {
        true => json!({"kind": "xgboost", "model": serde_json::from_str::<Value>(&text).unwrap()}),
        false => json!({"kind": "lightgbm", "model": text}),
    };
    let mut spec = model;
    spec["background"] = case["background"].clone();
    let put = call(app, Method::PUT, &format!("/models/{name}"), Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
}

async fn predict(app: &Router, name: &str, rows: &Value, space: &str) -> Vec<f64> {
    let body = json!({"instances": rows, "output_space": space});
    let answer = call(
        app,
        Method::POST,
        &format!("/models/{name}/predict"),
        Some(body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let predictions = answer.json["predictions"].as_array().unwrap();
    predictions.iter().map(|p| p[0].as_f64().unwrap()).collect()
}

#[tokio::test]
async fn a_poisson_model_is_explained_in_the_space_it_predicts_in() {
    let app = default_app().await;
    let case = fixture("trees/xgb_poisson.case.json");
    register(&app, "counts", "xgb_poisson.json", &case).await;
    let x: Vec<f64> = serde_json::from_value(case["rows"][0].clone()).unwrap();
    // Background rows hold missing values (null): kept as JSON.
    let background: Vec<Vec<Value>> = serde_json::from_value(case["background"].clone()).unwrap();

    // Predict answers the mean count by default, exp of the raw output.
    let row = json!([x]);
    let default = call(
        &app,
        Method::POST,
        "/models/counts/predict",
        Some(json!({"instances": row})),
    )
    .await;
    assert_eq!(
        default.json["output_space"], "probability",
        "{}",
        default.text
    );
    let mean = default.json["predictions"][0][0].as_f64().unwrap();
    let raw = predict(&app, "counts", &row, "raw").await[0];
    assert!(
        (mean - raw.exp()).abs() < 1e-12 * mean,
        "{mean} against exp({raw})"
    );

    // The Shapley values of v(S) = mean over the background of the mean count at
    // (x_S, b_rest), enumerated here from predictions of every masked row.
    let p = x.len();
    let mut masked = Vec::new();
    for s in 0..1usize << p {
        for b in &background {
            masked.push(
                (0..p)
                    .map(|j| {
                        if s >> j & 1 == 1 {
                            json!(x[j])
                        } else {
                            b[j].clone()
                        }
                    })
                    .collect::<Vec<Value>>(),
            );
        }
    }
    let values = predict(&app, "counts", &json!(masked), "probability").await;
    let v: Vec<f64> = values
        .chunks(background.len())
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect();
    let factorial = |n: usize| (1..=n).product::<usize>() as f64;
    let exact: Vec<f64> = (0..p)
        .map(|j| {
            (0..1usize << p)
                .filter(|s| s >> j & 1 == 0)
                .map(|s| {
                    let k = s.count_ones() as usize;
                    factorial(k) * factorial(p - k - 1) / factorial(p) * (v[s | 1 << j] - v[s])
                })
                .sum()
        })
        .collect();

    let body = json!({"instances": row, "method": "exact_shapley", "output_space": "probability"});
    let answer = call(&app, Method::POST, "/models/counts/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let e = &answer.json["explanations"][0];
    assert!((e["prediction"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!((e["base_value"].as_f64().unwrap() - v[0]).abs() < 1e-9);
    for (ours, theirs) in e["attributions"].as_array().unwrap().iter().zip(&exact) {
        assert!(
            (ours.as_f64().unwrap() - theirs).abs() < 1e-9,
            "{ours} against {theirs}"
        );
    }

    // `auto` after the link samples (interventional TreeSHAP rescales only a
    // logistic link, as shap's TreeExplainer does), and adds up.
    let body = json!({"instances": row, "output_space": "probability", "n_samples": 64});
    let answer = call(&app, Method::POST, "/models/counts/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["method"], "kernel_shap");
    let e = &answer.json["explanations"][0];
    let total: f64 = e["attributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_f64().unwrap())
        .sum();
    assert!((e["base_value"].as_f64().unwrap() + total - mean).abs() < 1e-9);
    let body =
        json!({"instances": row, "method": "tree_interventional", "output_space": "probability"});
    let refused = call(&app, Method::POST, "/models/counts/explain", Some(body)).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert!(refused.text.contains("logistic"), "{}", refused.text);
    // Raw stays the default of explain, as shap's TreeExplainer's.
    let answer = call(
        &app,
        Method::POST,
        "/models/counts/explain",
        Some(json!({"instances": row})),
    )
    .await;
    assert_eq!(answer.json["output_space"], "raw", "{}", answer.text);
}

#[tokio::test]
async fn a_multiclass_forest_explains_its_probabilities_by_default_method() {
    let app = default_app().await;
    let case = fixture("trees/lgb_multi.case.json");
    register(&app, "classes", "lgb_multi.txt", &case).await;
    let row = json!([case["rows"][0]]);
    let probabilities = predict(&app, "classes", &row, "probability").await;
    let body =
        json!({"instances": row, "output_space": "probability", "n_samples": 64, "output": 0});
    let answer = call(&app, Method::POST, "/models/classes/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["method"], "kernel_shap");
    let e = &answer.json["explanations"][0];
    assert!((e["prediction"].as_f64().unwrap() - probabilities[0]).abs() < 1e-12);
}

#[tokio::test]
async fn a_regressor_has_no_space_after_its_link() {
    let app = default_app().await;
    let body = json!({"instances": [house_row()], "output_space": "probability"});
    let predicted = call(
        &app,
        Method::POST,
        "/models/house-prices/predict",
        Some(body.clone()),
    )
    .await;
    let explained = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(body),
    )
    .await;
    for answer in [predicted, explained] {
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        assert!(
            answer.text.contains("outputs are raw values"),
            "{}",
            answer.text
        );
    }
}
