//! A `tolerance` asks for accuracy: on a model whose raw outputs are additive over
//! its features (a linear model, or a linear head behind column-local
//! preprocessing) with a logistic or softmax link, explained in probability space,
//! `kernel_shap` and `permutation_shap` answer with `exact_shapley`'s values of the
//! same game (every coalition, from tables at a fraction of a masked row's cost),
//! and say so; in raw space or with `top_k` they sample as before.

use crate::common::{assert_adds_up, call, default_app, multinomial_spec, Answer};
use crate::onnx_support::fixture;
use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

const FEATURES: usize = 8;

/// A deterministic spread of numbers in [-1, 1).
fn spread(i: usize) -> f64 {
    ((i * 7919 + 13) % 1000) as f64 / 500.0 - 1.0
}

fn coefficients() -> Vec<f64> {
    (0..FEATURES).map(|j| 1.5 * spread(j + 100)).collect()
}

fn background() -> Vec<Vec<f64>> {
    (0..30)
        .map(|i| {
            (0..FEATURES)
                .map(|j| 2.0 * spread(i * FEATURES + j))
                .collect()
        })
        .collect()
}

fn rows() -> Vec<Vec<f64>> {
    (0..3)
        .map(|i| {
            (0..FEATURES)
                .map(|j| 2.5 * spread(1000 + i * FEATURES + j))
                .collect()
        })
        .collect()
}

/// Register the binary model as `name`, with `groups` declared when not null.
async fn register_binary(app: &Router, name: &str, groups: Value) {
    let names: Vec<String> = (0..FEATURES).map(|j| format!("f{j}")).collect();
    let mut spec = json!({"kind": "logistic", "feature_names": names,
                          "params": {"coefficients": coefficients(), "intercept": -0.3,
                                     "classes": ["no", "yes"]},
                          "background": background()});
    if !groups.is_null() {
        spec["groups"] = groups;
    }
    let put = call(app, Method::PUT, &format!("/models/{name}"), Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
}

async fn explain(app: &Router, model: &str, body: Value) -> Answer {
    let url = format!("/models/{model}/explain");
    let answer = call(app, Method::POST, &url, Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer
}

fn values(answer: &Answer) -> Vec<Vec<f64>> {
    serde_json::from_value(answer.json["values"].clone()).unwrap()
}

/// The Shapley values of the binary model's probability for `x`, enumerated here
/// from the definition: every coalition, every background row.
fn by_definition(x: &[f64]) -> Vec<f64> {
    let (w, bg) = (coefficients(), background());
    let value = |c: usize| -> f64 {
        let total: f64 = bg
            .iter()
            .map(|b| {
                let z: f64 = (0..FEATURES)
                    .map(|j| w[j] * if c >> j & 1 == 1 { x[j] } else { b[j] })
                    .sum::<f64>()
                    - 0.3;
                1.0 / (1.0 + (-z).exp())
            })
            .sum();
        total / bg.len() as f64
    };
    let v: Vec<f64> = (0..1usize << FEATURES).map(value).collect();
    let factorial = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
    (0..FEATURES)
        .map(|g| {
            (0..1usize << FEATURES)
                .filter(|c| c >> g & 1 == 0)
                .map(|c| {
                    let s = c.count_ones() as usize;
                    let weight = factorial(s) * factorial(FEATURES - s - 1) / factorial(FEATURES);
                    weight * (v[c | 1 << g] - v[c])
                })
                .sum()
        })
        .collect()
}

fn assert_exact_quality(answer: &Answer, tolerance: f64, coalitions: u64) {
    for e in answer.json["explanations"].as_array().unwrap() {
        let q = &e["quality"];
        assert_eq!(q["solved_by"], "exact_shapley", "{q}");
        assert_eq!(q["samples"], coalitions, "{q}");
        assert_eq!(q["tolerance"], tolerance, "{q}");
        assert_eq!(q["tolerance_met"], true, "{q}");
        assert_eq!(q["max_standard_error"], 0.0, "{q}");
        let se = q["standard_errors"].as_array().unwrap();
        assert!(se.iter().all(|s| s == 0.0), "{q}");
    }
}

#[tokio::test]
async fn a_tolerance_on_a_logistic_model_in_probability_space_is_answered_exactly() {
    let app = default_app().await;
    register_binary(&app, "binary", Value::Null).await;
    let rows = rows();
    let want: Vec<Vec<f64>> = rows.iter().map(|x| by_definition(x)).collect();
    for method in ["kernel_shap", "permutation_shap"] {
        let body = json!({"instances": rows, "method": method, "tolerance": 1e-3,
                          "output_space": "probability", "seed": 5});
        let answer = explain(&app, "binary", body).await;
        assert_eq!(answer.json["method"], method);
        assert_exact_quality(&answer, 1e-3, 1 << FEATURES);
        for (got, want) in values(&answer).iter().zip(&want) {
            for (a, b) in got.iter().zip(want) {
                assert!((a - b).abs() < 1e-12, "{method}: {a} against {b}");
            }
        }
    }
}

#[tokio::test]
async fn every_class_of_a_multinomial_model_and_groups_of_players_are_exact() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let base = json!({"instances": [[1.0, 2.0], [-0.5, 3.0]], "outputs": "all",
                      "output_space": "probability"});
    let mut exact_body = base.clone();
    exact_body["method"] = json!("exact_shapley");
    let exact = explain(&app, "three", exact_body).await;
    let mut body = base;
    body["method"] = json!("kernel_shap");
    body["tolerance"] = json!(1e-4);
    let answer = explain(&app, "three", body).await;
    assert_exact_quality(&answer, 1e-4, 4);
    assert_eq!(values(&answer), values(&exact));
    // Efficiency: each class's values add up to its probability less its base.
    for e in answer.json["explanations"].as_array().unwrap() {
        assert_adds_up(e, 1e-12);
    }

    // Groups of players: the binary model's eight features as three groups.
    let groups = json!({"g0": ["f0", "f3", "f4"], "g1": ["f1", "f2"], "g2": ["f5", "f6", "f7"]});
    register_binary(&app, "grouped", groups).await;
    let body = json!({"instances": rows(), "method": "permutation_shap", "tolerance": 1e-3,
                      "output_space": "probability", "players": "groups"});
    let answer = explain(&app, "grouped", body.clone()).await;
    assert_exact_quality(&answer, 1e-3, 8);
    assert_eq!(answer.json["feature_names"], json!(["g0", "g1", "g2"]));
    let mut exact_body = body;
    exact_body["method"] = json!("exact_shapley");
    exact_body.as_object_mut().unwrap().remove("tolerance");
    assert_eq!(
        values(&answer),
        values(&explain(&app, "grouped", exact_body).await)
    );
}

#[tokio::test]
async fn in_raw_space_or_with_top_k_a_tolerance_still_samples() {
    let app = default_app().await;
    register_binary(&app, "binary", Value::Null).await;
    for (what, extra) in [
        ("raw space", json!({"output_space": "raw"})),
        (
            "a budget alone",
            json!({"output_space": "probability", "n_samples": 64}),
        ),
        ("top_k", json!({"output_space": "probability", "top_k": 2})),
    ] {
        let mut body = json!({"instances": rows(), "method": "kernel_shap", "seed": 1});
        if what != "a budget alone" {
            body["tolerance"] = json!(1e-3);
        }
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = explain(&app, "binary", body).await;
        let q = &answer.json["explanations"][0]["quality"];
        assert!(q.get("solved_by").is_none(), "{what}: {q}");
    }
}

#[tokio::test]
async fn a_logistic_head_behind_one_hot_columns_is_answered_exactly() {
    // The ONNX pipeline of tests/fixtures/onnx_pipeline: imputer, scaler and one-hot
    // encoding of strings before a LogisticRegression, over six raw features.
    let app = default_app().await;
    let (model, doc) = fixture("encoded_logistic");
    let spec = json!({"kind": "onnx", "model": model, "background": doc["background"]});
    let put = call(&app, Method::PUT, "/models/dear", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let base = json!({"instances": doc["rows"], "method": "kernel_shap",
                      "output_space": "probability"});
    // KernelSHAP with a budget of every coalition (2^6 − 2) enumerates them over
    // masked rows, without the tables: the reference.
    let mut enumerated = base.clone();
    enumerated["n_samples"] = json!(62);
    let reference = explain(&app, "dear", enumerated).await;
    assert!(reference.json["explanations"][0]["quality"]
        .get("solved_by")
        .is_none());
    let mut body = base;
    body["tolerance"] = json!(1e-3);
    let answer = explain(&app, "dear", body).await;
    assert_exact_quality(&answer, 1e-3, 64);
    for (got, want) in values(&answer).iter().zip(&values(&reference)) {
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{a} against {b}");
        }
    }
}
