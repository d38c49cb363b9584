//! Summaries from data through `oneshot`: partial dependence (analytic on the
//! linear demo model), background jobs (permutation importance against a
//! brute-force computation, mean |φ|), the `from_data` section of `/global` with
//! its ETag, and every refusal.

use std::time::Duration;

use crate::common::{call, multinomial_spec, ready_app, send};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use explaind::config::Config;
use explaind::core::global::permutation::permutation;
use serde_json::{json, Value};

/// Every house of the demo data: (rows in feature order, prices).
fn houses() -> (Vec<Vec<f64>>, Vec<f64>) {
    let table = explaind::demo::parse_csv(explaind::demo::CSV).unwrap();
    let rows = table.rows.iter().map(|r| r[1..].to_vec()).collect();
    let prices = table.rows.iter().map(|r| r[0]).collect();
    (rows, prices)
}

/// (intercept, coefficients, background means) of the demo model, from `/weights`.
async fn linear_terms(app: &Router) -> (f64, Vec<f64>, Vec<f64>) {
    let w = call(app, Method::GET, "/models/house-prices/weights", None)
        .await
        .json;
    let b = w["linear"]["intercepts"][0].as_f64().unwrap();
    let coef = w["linear"]["coefficients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["values"][0].as_f64().unwrap())
        .collect();
    let means = w["background"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["mean"].as_f64().unwrap())
        .collect();
    (b, coef, means)
}

async fn register_houses(app: &Router) {
    let (rows, prices) = houses();
    let doc = json!({"rows": rows, "target": prices});
    let put = call(
        app,
        Method::PUT,
        "/models/house-prices/datasets/all",
        Some(doc),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
}

/// Submit a job and wait for it to finish; returns the final job document.
async fn run_job(app: &Router, body: Value) -> Value {
    let post = call(
        app,
        Method::POST,
        "/models/house-prices/global/jobs",
        Some(body),
    )
    .await;
    assert_eq!(post.status, StatusCode::ACCEPTED, "{}", post.text);
    let location = post.headers["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("/jobs/{}", post.json["id"].as_str().unwrap())
    );
    assert!(matches!(
        post.json["state"].as_str(),
        Some("queued" | "running" | "succeeded")
    ));
    wait(app, &location).await
}

async fn wait(app: &Router, location: &str) -> Value {
    for _ in 0..2000 {
        let job = call(app, Method::GET, location, None).await.json;
        let p = job["progress"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        if matches!(job["state"].as_str(), Some("succeeded" | "failed")) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {location} did not finish");
}

#[tokio::test]
async fn partial_dependence_of_the_linear_model_is_analytic() {
    let (app, _) = ready_app(Config::defaults()).await;
    let (b, coef, means) = linear_terms(&app).await;
    let a = call(
        &app,
        Method::GET,
        "/models/house-prices/global/dependence?feature=lotsize&grid=5&ice=3",
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["feature"], "lotsize");
    assert_eq!(a.json["dataset"], Value::Null);
    assert_eq!(a.json["rows"], 546);
    assert_eq!(a.json["output_space"], "raw");
    let grid: Vec<f64> = serde_json::from_value(a.json["grid"].clone()).unwrap();
    assert_eq!(grid.len(), 5);
    assert!(grid.windows(2).all(|w| w[0] < w[1]));
    let curves = &a.json["outputs"][0];
    assert_eq!(curves["output"], "price");
    assert_eq!(curves["ice"].as_array().unwrap().len(), 3);
    // PD(v) = b + w_lotsize·v + Σ_{k≠lotsize} w_k·mean_k.
    let others: f64 = (1..11).map(|k| coef[k] * means[k]).sum();
    for (g, v) in grid.iter().enumerate() {
        let expected = b + coef[0] * v + others;
        let got = curves["average"][g].as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1e-8 * expected.abs(),
            "{got} vs {expected}"
        );
    }
    // Binary features get their two values as the grid.
    let binary = call(
        &app,
        Method::GET,
        "/models/house-prices/global/dependence?feature=aircon&ice=0",
        None,
    )
    .await;
    assert_eq!(binary.json["grid"], json!([0.0, 1.0]));
    assert_eq!(binary.json["outputs"][0]["ice"], json!([]));
}

#[tokio::test]
async fn dependence_on_a_data_set_with_output_selection() {
    // One row per value is enough for the grid to show the values themselves.
    let mut config = Config::defaults();
    config.min_summary_rows = 1;
    let (app, _) = ready_app(config).await;
    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    let doc = json!({"rows": [[0, 0], [1, 2], [2, 1], [3, 3]], "target": ["x", "y", "z", "x"]});
    call(&app, Method::PUT, "/models/three/datasets/d", Some(doc)).await;
    let all = call(
        &app,
        Method::GET,
        "/models/three/global/dependence?feature=a&dataset=d",
        None,
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.json["output_space"], "probability");
    assert_eq!(all.json["dataset"], "d");
    assert_eq!(all.json["grid"], json!([0.0, 1.0, 2.0, 3.0]));
    let outputs = all.json["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 3);
    // Probabilities of the three classes add up to one at every grid point.
    for g in 0..4 {
        let sum: f64 = outputs
            .iter()
            .map(|o| o["average"][g].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-12);
    }
    for output in ["y", "1"] {
        let one = call(&app, Method::GET, &format!("/models/three/global/dependence?feature=a&dataset=d&output={output}&output_space=raw"), None).await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        assert_eq!(one.json["outputs"].as_array().unwrap().len(), 1);
        assert_eq!(one.json["outputs"][0]["output"], "y");
        // Raw margin of class y is x_b alone: flat in a.
        let avg = &one.json["outputs"][0]["average"];
        assert_eq!(avg[0], avg[3]);
    }
}

#[tokio::test]
async fn bad_dependence_requests_are_4xx() {
    let (app, _) = ready_app(Config::defaults()).await;
    let base = "/models/house-prices/global/dependence";
    let cases = [
        (
            "?feature=nope",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown feature 'nope'",
        ),
        ("", StatusCode::UNPROCESSABLE_ENTITY, "feature"),
        (
            "?feature=lotsize&grid=1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "grid must be between 2 and 100",
        ),
        (
            "?feature=lotsize&grid=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "configured maximum",
        ),
        (
            "?feature=lotsize&ice=101",
            StatusCode::UNPROCESSABLE_ENTITY,
            "ice must be between 0 and 100",
        ),
        (
            "?feature=lotsize&grid=-3",
            StatusCode::UNPROCESSABLE_ENTITY,
            "grid",
        ),
        (
            "?feature=lotsize&dataset=none",
            StatusCode::NOT_FOUND,
            "no data set 'none'",
        ),
        (
            "?feature=lotsize&output=nope",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown output",
        ),
        (
            "?feature=lotsize&output=3",
            StatusCode::UNPROCESSABLE_ENTITY,
            "out of range",
        ),
        (
            "?feature=lotsize&output_space=probability",
            StatusCode::UNPROCESSABLE_ENTITY,
            "needs a classifier",
        ),
        (
            "?feature=lotsize&colour=red",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        ),
    ];
    for (query, status, needle) in cases {
        let a = call(&app, Method::GET, &format!("{base}{query}"), None).await;
        assert_eq!(a.status, status, "{query}: {}", a.text);
        assert!(a.text.contains(needle), "{query}: {}", a.text);
    }
    let a = call(
        &app,
        Method::GET,
        "/models/nope/global/dependence?feature=a",
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // A model without a background needs a data set.
    let spec = json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}});
    call(&app, Method::PUT, "/models/bare", Some(spec)).await;
    let a = call(
        &app,
        Method::GET,
        "/models/bare/global/dependence?feature=a",
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.text.contains("no background"), "{}", a.text);
}

#[tokio::test]
async fn permutation_importance_matches_brute_force_and_lands_in_global() {
    let (app, _) = ready_app(Config::defaults()).await;
    register_houses(&app).await;
    let before = call(&app, Method::GET, "/models/house-prices/global", None).await;
    assert!(before.json.get("from_data").is_none());
    let old_tag = before.headers["etag"].to_str().unwrap().to_string();

    let body =
        json!({"kind": "permutation_importance", "dataset": "all", "repeats": 3, "seed": 11});
    let job = run_job(&app, body.clone()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["progress"], 1.0);
    let result = &job["result"];
    assert_eq!(result["loss"], "rmse");
    assert_eq!(result["rows"], 546);
    assert_eq!(result["seed"], 11);

    // Brute force: the same shuffles, the model's own formula, RMSE by hand.
    let (b, coef, _) = linear_terms(&app).await;
    let (rows, prices) = houses();
    let rmse = |x: &[Vec<f64>]| {
        let sse: f64 = x
            .iter()
            .zip(&prices)
            .map(|(r, y)| (b + r.iter().zip(&coef).map(|(v, w)| v * w).sum::<f64>() - y).powi(2))
            .sum();
        (sse / x.len() as f64).sqrt()
    };
    let baseline = rmse(&rows);
    assert!((result["baseline_loss"].as_f64().unwrap() - baseline).abs() < 1e-6);
    let names: Vec<String> = serde_json::from_value(
        call(&app, Method::GET, "/models/house-prices", None)
            .await
            .json["feature_names"]
            .clone(),
    )
    .unwrap();
    for f in result["features"].as_array().unwrap() {
        let j = names
            .iter()
            .position(|n| n == f["name"].as_str().unwrap())
            .unwrap();
        let increases: Vec<f64> = (0..3)
            .map(|r| {
                let order = permutation(rows.len(), 11, j, r);
                let moved: Vec<Vec<f64>> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let mut row = row.clone();
                        row[j] = rows[order[i]][j];
                        row
                    })
                    .collect();
                rmse(&moved) - baseline
            })
            .collect();
        let mean = increases.iter().sum::<f64>() / 3.0;
        assert!(
            (f["importance"].as_f64().unwrap() - mean).abs() < 1e-6,
            "{f}"
        );
    }
    let imps: Vec<f64> = result["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["importance"].as_f64().unwrap())
        .collect();
    assert!(
        imps.windows(2).all(|w| w[0] >= w[1]),
        "sorted, most important first"
    );

    // Same seed, same answer.
    let twin = run_job(&app, body).await;
    assert_eq!(twin["result"]["features"], result["features"]);

    // /global now carries the last result, its age, and a new (weak) tag.
    let after = call(&app, Method::GET, "/models/house-prices/global", None).await;
    let section = &after.json["from_data"]["permutation_importance"];
    assert_eq!(section["job"], twin["id"]);
    assert!(section["age_seconds"].as_f64().unwrap() >= 0.0);
    assert!(section["computed_at"].is_string());
    assert_eq!(section["result"]["features"], result["features"]);
    let tag = after.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(tag, old_tag);
    assert!(tag.starts_with("W/"));
    // The live section sits beside it.
    assert!(after.json["live"]["window"].is_object());
    let conditional = Request::builder()
        .uri("/models/house-prices/global")
        .header("if-none-match", &tag)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, conditional).await.status,
        StatusCode::NOT_MODIFIED
    );
    let all = call(&app, Method::GET, "/global", None).await;
    assert!(all.headers["etag"].to_str().unwrap().starts_with("W/"));
    assert_eq!(
        all.json["models"][0]["from_data"]["permutation_importance"]["job"],
        twin["id"]
    );

    // Another kind lands beside it and the tag changes again.
    let mean_abs = run_job(&app, json!({"kind": "mean_abs_attribution"})).await;
    assert_eq!(mean_abs["state"], "succeeded", "{mean_abs}");
    let later = call(&app, Method::GET, "/models/house-prices/global", None).await;
    assert_ne!(later.headers["etag"], after.headers["etag"]);
    assert!(later.json["from_data"]["mean_abs_attribution"].is_object());
    assert!(later.json["from_data"]["permutation_importance"].is_object());
    // linear_shap over the background is exactly the summary /global itself shows.
    let from_job = &mean_abs["result"]["features"];
    for (a, b) in from_job
        .as_array()
        .unwrap()
        .iter()
        .zip(before.json["features"].as_array().unwrap())
    {
        assert_eq!(a["name"], b["name"]);
        assert_eq!(a["importance"], b["importance"]);
    }
    assert_eq!(mean_abs["result"]["method"], "linear_shap");

    let list = call(&app, Method::GET, "/models/house-prices/global/jobs", None).await;
    let jobs = list.json["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[0]["id"], mean_abs["id"], "newest first");
    assert!(jobs.iter().all(|j| j.get("result").is_none()));
}

#[tokio::test]
async fn mean_abs_of_a_sampling_explainer_and_dependence_jobs() {
    let (app, _) = ready_app(Config::defaults()).await;
    let (rows, prices) = houses();
    let doc = json!({"rows": rows[..12], "target": prices[..12]});
    call(
        &app,
        Method::PUT,
        "/models/house-prices/datasets/few",
        Some(doc),
    )
    .await;
    let body = json!({"kind": "mean_abs_attribution", "dataset": "few", "method": "kernel_shap",
                      "n_samples": 64, "max_background": 10, "seed": 3});
    let a = run_job(&app, body.clone()).await;
    assert_eq!(a["state"], "succeeded", "{a}");
    assert_eq!(a["result"]["method"], "kernel_shap");
    assert_eq!(a["result"]["seed"], 3);
    assert_eq!(a["result"]["rows"], 12);
    let b = run_job(&app, body).await;
    assert_eq!(
        a["result"]["features"], b["result"]["features"],
        "same seed, same answer"
    );

    let dep = run_job(
        &app,
        json!({"kind": "dependence", "feature": "bedrooms", "dataset": "few"}),
    )
    .await;
    assert_eq!(dep["state"], "succeeded", "{dep}");
    let direct = call(
        &app,
        Method::GET,
        "/models/house-prices/global/dependence?feature=bedrooms&dataset=few",
        None,
    )
    .await;
    assert_eq!(
        dep["result"], direct.json,
        "the job and the direct route agree"
    );
}

#[tokio::test]
async fn bad_jobs_are_4xx_and_unknown_jobs_404() {
    let config = Config {
        global_max_repeats: 10,
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    register_houses(&app).await;
    let cases = [
        (
            json!({"kind": "sorcery"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown variant",
        ),
        (
            json!({"kind": "permutation_importance"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "needs `dataset`",
        ),
        (
            json!({"kind": "permutation_importance", "dataset": "none"}),
            StatusCode::NOT_FOUND,
            "no data set 'none'",
        ),
        (
            json!({"kind": "permutation_importance", "dataset": "all", "repeats": 11}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "configured maximum",
        ),
        (
            json!({"kind": "permutation_importance", "dataset": "all", "repeats": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "repeats must be between 1 and 10",
        ),
        (
            json!({"kind": "permutation_importance", "dataset": "all", "loss": "accuracy"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "for classifiers",
        ),
        (
            json!({"kind": "permutation_importance", "dataset": "all", "grid": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "`grid` does not apply",
        ),
        (
            json!({"kind": "dependence"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "need `feature`",
        ),
        (
            json!({"kind": "dependence", "feature": "nope"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown feature",
        ),
        (
            json!({"kind": "mean_abs_attribution", "method": "magic"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown method",
        ),
        (
            json!({"kind": "mean_abs_attribution", "method": "tree_interventional"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not available",
        ),
        (
            json!({"kind": "mean_abs_attribution", "method": "kernel_shap", "n_samples": 4}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "n_samples",
        ),
        (
            json!({"kind": "mean_abs_attribution", "method": "kernel_shap", "n_samples": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "n_samples",
        ),
    ];
    for (body, status, needle) in cases {
        let a = call(
            &app,
            Method::POST,
            "/models/house-prices/global/jobs",
            Some(body.clone()),
        )
        .await;
        assert_eq!(a.status, status, "{body}: {}", a.text);
        assert!(a.text.contains(needle), "{body}: {}", a.text);
    }
    let none = call(
        &app,
        Method::POST,
        "/models/nope/global/jobs",
        Some(json!({"kind": "dependence", "feature": "a"})),
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(
        call(&app, Method::GET, "/models/nope/global/jobs", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let missing = call(&app, Method::GET, "/jobs/999", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["error"]["code"], "job_not_found");
    let list = call(&app, Method::GET, "/models/house-prices/global/jobs", None).await;
    assert_eq!(
        list.json["jobs"],
        json!([]),
        "no refused request made a job"
    );
}

#[tokio::test]
async fn a_full_queue_refuses_with_503_and_old_jobs_are_dropped() {
    let config = Config {
        global_job_queue: 1,
        global_jobs_kept: 1,
        ..Config::defaults()
    };
    let (app, _) = ready_app(config).await;
    register_houses(&app).await;
    let slow = json!({"kind": "permutation_importance", "dataset": "all", "repeats": 50});
    let first = call(
        &app,
        Method::POST,
        "/models/house-prices/global/jobs",
        Some(slow.clone()),
    )
    .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let second = call(
        &app,
        Method::POST,
        "/models/house-prices/global/jobs",
        Some(slow.clone()),
    )
    .await;
    assert_eq!(
        second.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        second.text
    );
    let location = first.headers["location"].to_str().unwrap().to_string();
    assert_eq!(wait(&app, &location).await["state"], "succeeded");
    let third = run_job(&app, json!({"kind": "dependence", "feature": "lotsize"})).await;
    assert_eq!(third["state"], "succeeded");
    // Only one finished job is kept: the first is gone, its result still in /global.
    assert_eq!(
        call(&app, Method::GET, &location, None).await.status,
        StatusCode::NOT_FOUND
    );
    let global = call(&app, Method::GET, "/models/house-prices/global", None).await;
    assert_eq!(
        global.json["from_data"]["permutation_importance"]["job"],
        first.json["id"]
    );
}

#[tokio::test]
async fn results_of_a_replaced_model_are_not_shown() {
    let (app, _) = ready_app(Config::defaults()).await;
    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    let job = call(
        &app,
        Method::POST,
        "/models/three/global/jobs",
        Some(json!({"kind": "dependence", "feature": "a"})),
    )
    .await;
    let location = job.headers["location"].to_str().unwrap().to_string();
    assert_eq!(wait(&app, &location).await["state"], "succeeded");
    let shown = call(&app, Method::GET, "/models/three/global", None).await;
    assert!(shown.json["from_data"]["dependence"].is_object());
    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    let replaced = call(&app, Method::GET, "/models/three/global", None).await;
    assert_eq!(replaced.json["version"], 2);
    assert!(replaced.json.get("from_data").is_none());

    // A data set outlives a replacement, but not one that changes the features.
    let doc = json!({"rows": [[0, 0], [1, 2]], "target": ["x", "y"]});
    call(&app, Method::PUT, "/models/three/datasets/d", Some(doc)).await;
    let mut other = multinomial_spec();
    other["feature_names"] = json!(["p", "q"]);
    call(&app, Method::PUT, "/models/three", Some(other)).await;
    let body = json!({"kind": "permutation_importance", "dataset": "d"});
    let stale = call(&app, Method::POST, "/models/three/global/jobs", Some(body)).await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stale.text.contains("register it again"), "{}", stale.text);
}

#[tokio::test]
async fn classifiers_get_log_loss_by_default_or_accuracy_on_request() {
    let (app, _) = ready_app(Config::defaults()).await;
    call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    // Class x when a is largest, y when b is: feature a and b both matter.
    let rows: Vec<Value> = (0..30)
        .map(|i| json!([(i % 5) as f64, (i % 3) as f64]))
        .collect();
    let target: Vec<Value> = (0..30)
        .map(|i| {
            json!(if i % 5 > i % 3 {
                "x"
            } else if i % 3 > i % 5 {
                "y"
            } else {
                "z"
            })
        })
        .collect();
    let doc = json!({"rows": rows, "target": target});
    let put = call(&app, Method::PUT, "/models/three/datasets/d", Some(doc)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    for (loss, expected) in [(None, "log_loss"), (Some("accuracy"), "accuracy")] {
        let mut body = json!({"kind": "permutation_importance", "dataset": "d"});
        if let Some(l) = loss {
            body["loss"] = json!(l);
        }
        let post = call(&app, Method::POST, "/models/three/global/jobs", Some(body)).await;
        assert_eq!(post.status, StatusCode::ACCEPTED, "{}", post.text);
        let job = wait(&app, post.headers["location"].to_str().unwrap()).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["result"]["loss"], expected);
        let baseline = job["result"]["baseline_loss"].as_f64().unwrap();
        assert!(baseline.is_finite() && baseline >= 0.0);
        if expected == "accuracy" {
            assert!(baseline <= 1.0, "an error rate");
        }
    }
    let rmse = json!({"kind": "permutation_importance", "dataset": "d", "loss": "rmse"});
    let a = call(&app, Method::POST, "/models/three/global/jobs", Some(rmse)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.text.contains("for regressions"), "{}", a.text);
}
