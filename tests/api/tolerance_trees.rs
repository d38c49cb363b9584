//! A `tolerance` asks for accuracy: on a tree ensemble in raw space, `kernel_shap`
//! and `permutation_shap` answer with the exact Shapley values of the game they
//! would sample (interventional TreeSHAP against the same background rows), and
//! say so; anywhere the games differ, they sample as before.

use crate::common::{call, default_app, fixture, Answer};
use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

fn case(name: &str) -> Value {
    fixture(&format!("trees/{name}.case.json"))
}

/// Register the fixture `file` as `name`, against its case's background with
/// `missing` in place of its missing values.
async fn register_with(app: &Router, name: &str, kind: &str, file: &str, missing: Value) -> Value {
    let mut c = case(file.split('.').next().unwrap());
    for row in c["background"].as_array_mut().unwrap() {
        for v in row.as_array_mut().unwrap() {
            if v.is_null() {
                *v = missing.clone();
            }
        }
    }
    let path = format!("{}/tests/fixtures/trees/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let model = match kind {
        "xgboost" => serde_json::from_str::<Value>(&text).unwrap(),
        _ => Value::String(text),
    };
    let width = c["rows"][0].as_array().unwrap().len();
    let names: Vec<String> = (0..width).map(|j| format!("f{j}")).collect();
    let spec = json!({"kind": kind, "feature_names": names, "model": model,
                      "background": c["background"]});
    let put = call(app, Method::PUT, &format!("/models/{name}"), Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    c
}

/// Register the fixture `file` (with its case's background) as `name`.
async fn register(app: &Router, name: &str, kind: &str, file: &str) -> Value {
    register_with(app, name, kind, file, Value::Null).await
}

async fn explain(app: &Router, name: &str, body: Value) -> Answer {
    let answer = call(
        app,
        Method::POST,
        &format!("/models/{name}/explain"),
        Some(body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer
}

fn values(answer: &Answer) -> Vec<Vec<f64>> {
    serde_json::from_value(answer.json["values"].clone()).unwrap()
}

fn assert_close(ours: &[Vec<f64>], exact: &[Vec<f64>], what: &str) {
    for (a, b) in ours.iter().flatten().zip(exact.iter().flatten()) {
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "{what}: {a} vs {b}"
        );
    }
}

#[tokio::test]
async fn a_tolerance_on_trees_in_raw_space_is_answered_exactly() {
    let app = default_app().await;
    // Multi-class XGBoost and a LightGBM model with categorical splits; five features,
    // so exact_shapley enumerates every coalition of the same game.
    for (name, kind, file) in [
        ("xgb-multi", "xgboost", "xgb_multi.json"),
        ("lgb-cat", "lightgbm", "lgb_bin_cat.txt"),
    ] {
        let c = register(&app, name, kind, file).await;
        let base = json!({"instances": c["rows"], "outputs": "all"});
        let mut exact_body = base.clone();
        exact_body["method"] = json!("exact_shapley");
        let exact = explain(&app, name, exact_body).await;
        for method in ["kernel_shap", "permutation_shap"] {
            let mut body = base.clone();
            body["method"] = json!(method);
            body["tolerance"] = json!(1e-3);
            let answer = explain(&app, name, body).await;
            assert_eq!(answer.json["method"], method);
            assert_close(
                &values(&answer),
                &values(&exact),
                &format!("{name} {method}"),
            );
            for (e, x) in answer.json["explanations"]
                .as_array()
                .unwrap()
                .iter()
                .zip(exact.json["explanations"].as_array().unwrap())
            {
                let q = &e["quality"];
                assert_eq!(q["solved_by"], "tree_interventional", "{q}");
                assert_eq!(q["samples"], 0, "{q}");
                assert_eq!(q["tolerance"], 1e-3, "{q}");
                assert_eq!(q["tolerance_met"], true, "{q}");
                assert_eq!(q["max_standard_error"], 0.0, "{q}");
                let se = q["standard_errors"].as_array().unwrap();
                assert!(se.iter().all(|s| s == 0.0), "{q}");
                assert_eq!(e["output"], x["output"]);
                let (b, xb) = (
                    e["base_value"].as_f64().unwrap(),
                    x["base_value"].as_f64().unwrap(),
                );
                assert!((b - xb).abs() < 1e-9, "{name}: base {b} vs {xb}");
            }
        }
    }
}

#[tokio::test]
async fn where_the_games_differ_a_tolerance_still_samples() {
    let app = default_app().await;
    let c = register(&app, "xgb-bin", "xgboost", "xgb_bin.json").await;
    // The binary model's background has missing values, which k-means refuses.
    register_with(&app, "xgb-reg", "xgboost", "xgb_reg.json", json!(0.0)).await;
    for (model, what, extra) in [
        ("xgb-bin", "a budget alone", json!({"n_samples": 64})),
        (
            "xgb-bin",
            "probability space",
            json!({"tolerance": 1e-3, "output_space": "probability"}),
        ),
        (
            "xgb-reg",
            "a k-means summary",
            json!({"tolerance": 1e-3, "background": {"kmeans": 4}}),
        ),
        (
            "xgb-bin",
            "a sample of the background",
            json!({"tolerance": 1e-3, "max_background": 8}),
        ),
        ("xgb-bin", "top_k", json!({"tolerance": 1e-3, "top_k": 2})),
    ] {
        let mut body = json!({"instances": c["rows"], "method": "kernel_shap", "seed": 1});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = explain(&app, model, body).await;
        let q = &answer.json["explanations"][0]["quality"];
        assert!(q.get("solved_by").is_none(), "{what}: {q}");
        assert!(q["samples"].as_u64().unwrap() > 0, "{what}: {q}");
    }
}
