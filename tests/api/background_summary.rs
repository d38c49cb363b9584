//! `"background": {"kmeans": K}`: the sampling and exact Shapley explainers integrate
//! over K weighted k-means centres of the background, the answer names the summary
//! (never the centres), and K is capped by --max-background.

use crate::common::{call, fixture, iris_spec, ready_app};
use axum::http::{Method, StatusCode};
use axum::Router;
use explaind::config::Config;
use serde_json::{json, Value};

async fn iris(config: Config) -> (Router, Value) {
    let (app, _) = ready_app(config).await;
    let put = call(&app, Method::PUT, "/models/iris", Some(iris_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    (app, fixture("mlp/iris_classifier.json")["x"][0].clone())
}

async fn explain(app: &Router, body: Value) -> crate::common::Answer {
    call(app, Method::POST, "/models/iris/explain", Some(body)).await
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_answer_names_the_summary_and_every_distinct_row_gives_the_full_values() {
    // The iris background has 10 rows, all different.
    let (app, row) = iris(Config::defaults()).await;
    for method in ["kernel_shap", "permutation_shap", "exact_shapley"] {
        let ask = |kmeans: Option<usize>| {
            let mut body = json!({"instances": [row], "method": method,
                "output": "virginica", "seed": 2});
            if let Some(k) = kmeans {
                body["background"] = json!({"kmeans": k});
            }
            body
        };
        let full = explain(&app, ask(None)).await;
        let f = &full.json["explanations"][0];
        assert!(f["quality"].get("background").is_none(), "{}", f["quality"]);
        let every = explain(&app, ask(Some(10))).await;
        assert_eq!(every.status, StatusCode::OK, "{method}: {}", every.text);
        let e = &every.json["explanations"][0];
        let note = e["quality"]["background"].as_str().unwrap();
        assert!(note.starts_with("kmeans: 10 centres of 10"), "{note}");
        assert!(note.contains("weighted by cluster size"), "{note}");
        let (a, b) = (numbers(&f["attributions"]), numbers(&e["attributions"]));
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() < 1e-9, "{method}: {a} vs {b}");
        }
        // Four centres: another game, seeded, and efficient against its base value.
        let four = explain(&app, ask(Some(4))).await;
        let e = &four.json["explanations"][0];
        assert!(e["quality"]["background"]
            .as_str()
            .unwrap()
            .starts_with("kmeans: 4 centres"));
        assert_ne!(f["base_value"], e["base_value"]);
        assert_eq!(four.json, explain(&app, ask(Some(4))).await.json, "seeded");
        let sum: f64 = numbers(&e["attributions"]).iter().sum();
        let gap = e["prediction"].as_f64().unwrap() - e["base_value"].as_f64().unwrap() - sum;
        assert!(gap.abs() < 1e-9, "{method}: {gap}");
    }
}

#[tokio::test]
async fn k_is_capped_and_read_only_by_the_methods_that_use_it() {
    let config = Config {
        max_background: 20,
        ..Config::defaults()
    };
    let (app, row) = iris(config).await;
    let cases = [
        (
            json!({"method": "kernel_shap", "background": {"kmeans": 21}}),
            "max-background",
        ),
        (
            json!({"method": "kernel_shap", "background": {"kmeans": 0}}),
            "at least 1",
        ),
        (
            json!({"method": "lime", "background": {"kmeans": 5}}),
            "exact_shapley",
        ),
        (json!({"background": {"kmeans": 5}}), "exact_shapley"),
        (
            json!({"method": "kernel_shap", "background": {"means": 5}}),
            "means",
        ),
    ];
    for (mut body, words) in cases {
        body["instances"] = json!([row]);
        let answer = explain(&app, body.clone()).await;
        assert!(answer.status.is_client_error(), "{body}: {}", answer.text);
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.text
        );
        let message = answer.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
}

/// Iris registered with `background_summary`.
async fn iris_summarised(config: Config, summary: Value) -> (Router, crate::common::Answer) {
    let (app, _) = ready_app(config).await;
    let mut spec = iris_spec();
    spec["background_summary"] = summary;
    let put = call(&app, Method::PUT, "/models/iris", Some(spec)).await;
    (app, put)
}

#[tokio::test]
async fn a_summary_registered_with_the_model_is_what_the_sampling_methods_use() {
    let config = Config {
        min_summary_rows: 4,
        ..Config::defaults()
    };
    let (app, put) = iris_summarised(config, json!({"kmeans": 4, "seed": 2})).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let listed = put.json["background_summary"].as_str().unwrap();
    assert!(
        listed.starts_with("registered kmeans: 4 centres of 10"),
        "{listed}"
    );
    let row = fixture("mlp/iris_classifier.json")["x"][0].clone();
    for method in ["kernel_shap", "permutation_shap", "exact_shapley"] {
        let ask = |background: Option<Value>| {
            let mut body = json!({"instances": [row], "method": method,
                "output": "virginica", "seed": 2});
            if let Some(b) = background {
                body["background"] = b;
            }
            body
        };
        let registered = explain(&app, ask(None)).await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
        let r = &registered.json["explanations"][0];
        let note = r["quality"]["background"].as_str().unwrap();
        assert!(
            note.starts_with("registered kmeans: 4 centres of 10"),
            "{note}"
        );
        // The same summary asked for in the request (same K, same seed): the same game.
        let asked = explain(&app, ask(Some(json!({"kmeans": 4})))).await;
        let a = &asked.json["explanations"][0];
        assert!(a["quality"]["background"]
            .as_str()
            .unwrap()
            .starts_with("kmeans: 4 centres"));
        assert_eq!(r["base_value"], a["base_value"], "{method}");
        assert_eq!(r["attributions"], a["attributions"], "{method}");
        // A request's own summary wins over the registered one.
        let every = explain(&app, ask(Some(json!({"kmeans": 10})))).await;
        let e = &every.json["explanations"][0];
        assert_ne!(r["base_value"], e["base_value"], "{method}");
    }
    // The model's other explainers keep the whole background.
    let ig = explain(
        &app,
        json!({"instances": [row], "method": "integrated_gradients", "output": "virginica"}),
    )
    .await;
    assert_eq!(ig.status, StatusCode::OK, "{}", ig.text);
    assert!(ig.json["explanations"][0]["quality"]
        .get("background")
        .is_none());
}

#[tokio::test]
async fn a_registered_summary_is_refused_with_a_reason_and_nothing_is_registered() {
    let config = Config {
        max_background: 20,
        ..Config::defaults()
    };
    let cases = [
        (json!({"kmeans": 4}), "--min-summary-rows"),
        (json!({"kmeans": 21}), "--max-background"),
        (json!({"kmeans": 10, "k": 3}), "unknown field"),
        (json!({"kmeans": "ten"}), "kmeans"),
    ];
    for (summary, words) in cases {
        let (app, put) = iris_summarised(config.clone(), summary.clone()).await;
        assert_eq!(
            put.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{summary}: {}",
            put.text
        );
        let message = put.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{summary}: {message}");
        let get = call(&app, Method::GET, "/models/iris", None).await;
        assert_eq!(get.status, StatusCode::NOT_FOUND, "{summary}");
    }
    // A summary of no background.
    let (app, _) = ready_app(Config::defaults()).await;
    let mut spec = iris_spec();
    spec.as_object_mut().unwrap().remove("background");
    spec["background_summary"] = json!({"kmeans": 10});
    let put = call(&app, Method::PUT, "/models/iris", Some(spec)).await;
    assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", put.text);
    assert!(put.text.contains("send `background` rows"), "{}", put.text);
}
