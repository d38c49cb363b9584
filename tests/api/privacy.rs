//! Background and data-set rows never reach a reader token (issue 15): every route a
//! reader may call is called over models whose background and data set hold
//! distinctive values, and no answer, JSON or picture, holds one; readers are
//! refused data sets, ICE curves and summaries over too few rows, admins are not.

use std::time::Duration;

use crate::common::{ready_app, send, Answer};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use explaind::config::{Config, Secret};
use serde_json::{json, Value};

pub(crate) const ADMIN: &str = "admin-secret-0123456789";
pub(crate) const READER: &str = "reader-secret-0123456789";

pub(crate) fn with_tokens() -> Config {
    Config {
        admin_tokens: vec![Secret(ADMIN.into())],
        reader_tokens: vec![Secret(READER.into())],
        ..Config::defaults()
    }
}

pub(crate) async fn as_user(
    app: &axum::Router,
    token: &str,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> Answer {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    let request = match body {
        Some(v) => builder
            .header("content-type", "application/json")
            .body(Body::from(v.to_string())),
        None => builder.body(Body::empty()),
    };
    send(app, request.unwrap()).await
}

/// `rows` × 3 values, each unique with four distinctive decimals, e.g. 1097.1245;
/// `salt` keeps the background and the data set apart.
fn distinctive(rows: usize, salt: usize) -> Vec<Vec<f64>> {
    (0..rows)
        .map(|i| {
            (0..3)
                .map(|j| {
                    let int = 1000 + 97 * i + 13 * j + 500 * salt;
                    let frac = 1234 + 71 * i + 7 * j + 1000 * salt;
                    format!("{int}.{frac:04}5").parse().unwrap()
                })
                .collect()
        })
        .collect()
}

fn linear(background: &[Vec<f64>]) -> Value {
    json!({"kind": "linear", "feature_names": ["f0", "f1", "f2"],
        "params": {"coefficients": [0.5, -1.25, 2.0], "intercept": 3.0},
        "background": background})
}

fn logistic(background: &[Vec<f64>]) -> Value {
    json!({"kind": "logistic", "feature_names": ["f0", "f1", "f2"],
        "params": {"coefficients": [0.001, -0.002, 0.0015], "intercept": 0.1,
            "classes": ["no", "yes"]},
        "background": background})
}

/// A network whose first layer copies the three inputs (identity weights, ReLU,
/// which keeps the positive background values), so each first-layer pre-activation
/// of a background row is one of its feature values.
fn mlp(background: &[Vec<f64>]) -> Value {
    json!({"kind": "mlp", "feature_names": ["f0", "f1", "f2"],
        "params": {"layers": [
            {"weights": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
                "bias": [0.0, 0.0, 0.0], "activation": "relu"},
            {"weights": [[0.5], [-1.25], [2.0]], "bias": [3.0], "activation": "identity"}]},
        "background": background})
}

/// Every number of a JSON document.
fn numbers(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Number(n) => out.extend(n.as_f64()),
        Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
        Value::Object(o) => o.values().for_each(|x| numbers(x, out)),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// Fail when `answer` holds a secret: as text (its shortest formatting, which JSON
/// and the pictures' `data-*` attributes use) or as a JSON number.
fn assert_no_secret(what: &str, answer: &Answer, secrets: &[f64]) {
    let mut found = Vec::new();
    numbers(&answer.json, &mut found);
    for s in secrets {
        assert!(
            !answer.text.contains(&s.to_string()),
            "{what} shows {s}: {}",
            answer.text
        );
        assert!(
            !found.iter().any(|v| (v - s).abs() <= 1e-9 * s.abs()),
            "{what} shows {s}: {}",
            answer.text
        );
    }
}

async fn finished(app: &axum::Router, token: &str, location: &str) -> Answer {
    for _ in 0..500 {
        let job = as_user(app, token, Method::GET, location, None).await;
        if job.json["state"] == "succeeded"
            || job.json["state"] == "failed"
            || job.status != StatusCode::OK
        {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {location} did not finish");
}

async fn submit(app: &axum::Router, token: &str, model: &str, body: Value) -> String {
    let uri = format!("/models/{model}/global/jobs");
    let started = as_user(app, token, Method::POST, &uri, Some(body)).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    started.headers["location"].to_str().unwrap().to_string()
}

/// Three models (linear, logistic, a network) over a 12-row background of
/// distinctive values, a data set of 12 more and two 3-row models; the admin's jobs
/// over them, ICE curves included.
async fn setup() -> (axum::Router, Vec<f64>, Vec<String>) {
    let (app, _) = ready_app(with_tokens()).await;
    let background = distinctive(12, 0);
    let rows = distinctive(12, 1);
    let tiny = distinctive(3, 2);
    for (name, spec) in [
        ("secret-linear", linear(&background)),
        ("secret-logistic", logistic(&background)),
        ("secret-mlp", mlp(&background)),
        ("tiny", linear(&tiny)),
        ("tiny-mlp", mlp(&tiny)),
    ] {
        let put = as_user(
            &app,
            ADMIN,
            Method::PUT,
            &format!("/models/{name}"),
            Some(spec),
        )
        .await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    }
    let target: Vec<f64> = rows.iter().map(|r| r[0] / 7.0).collect();
    let doc = json!({"rows": rows, "target": target});
    let put = as_user(
        &app,
        ADMIN,
        Method::PUT,
        "/models/secret-linear/datasets/ds",
        Some(doc),
    )
    .await;
    assert!(put.status.is_success(), "{}", put.text);
    let mut jobs = Vec::new();
    for body in [
        json!({"kind": "dependence", "feature": "f1", "dataset": "ds", "ice": 5, "grid": 30}),
        json!({"kind": "dependence", "feature": "f0", "ice": 12}),
        json!({"kind": "permutation_importance", "dataset": "ds"}),
        json!({"kind": "mean_abs_attribution", "dataset": "ds"}),
    ] {
        let job = submit(&app, ADMIN, "secret-linear", body).await;
        assert_eq!(finished(&app, ADMIN, &job).await.json["state"], "succeeded");
        jobs.push(job);
    }
    let job = submit(
        &app,
        ADMIN,
        "tiny",
        json!({"kind": "dependence", "feature": "f0"}),
    )
    .await;
    assert_eq!(finished(&app, ADMIN, &job).await.json["state"], "succeeded");
    jobs.push(job);
    let secrets = [background, rows, tiny].concat().concat();
    (app, secrets, jobs)
}

#[tokio::test]
async fn no_reader_answer_holds_a_background_or_data_set_value() {
    let (app, secrets, jobs) = setup().await;
    let instance = json!({"f0": 1.0, "f1": 2.0, "f2": 3.0});
    let mut calls: Vec<(Method, String, Option<Value>)> = Vec::new();
    for uri in ["/models", "/global", "/metrics", "/openapi.yaml", "/"] {
        calls.push((Method::GET, uri.into(), None));
    }
    for job in &jobs {
        calls.push((Method::GET, job.clone(), None));
    }
    for model in [
        "secret-linear",
        "secret-logistic",
        "secret-mlp",
        "tiny",
        "tiny-mlp",
    ] {
        let m = format!("/models/{model}");
        for tail in [
            "",
            "/global",
            "/global.svg",
            "/weights.svg",
            "/global/jobs",
            "/activations/summary",
            "/activations/curves",
            "/activations.svg",
        ] {
            calls.push((Method::GET, format!("{m}{tail}"), None));
        }
        calls.push((Method::GET, format!("/v1/models/{model}"), None));
        for feature in ["f0", "f1", "f2"] {
            for q in ["", "&grid=100", "&grid=3", "&output_space=raw"] {
                calls.push((
                    Method::GET,
                    format!("{m}/global/dependence?feature={feature}{q}"),
                    None,
                ));
                calls.push((
                    Method::GET,
                    format!("{m}/dependence.svg?feature={feature}{q}"),
                    None,
                ));
            }
        }
        for method in [
            "auto",
            "kernel_shap",
            "permutation_shap",
            "lime",
            "exact_shapley",
            "occlusion",
        ] {
            let body = json!({"instances": [instance], "method": method});
            calls.push((Method::POST, format!("{m}/explain"), Some(body.clone())));
            let one = json!({"instances": [instance], "method": method, "max_background": 1});
            calls.push((Method::POST, format!("{m}/explain"), Some(one)));
            let centres = json!({"instances": [instance], "method": method,
                "background": {"kmeans": 10}});
            calls.push((Method::POST, format!("{m}/explain"), Some(centres)));
            calls.push((Method::POST, format!("{m}/explain.svg"), Some(body)));
        }
        let body = json!({"feature": "f1", "instances": [instance, [4.0, 5.0, 6.0]]});
        calls.push((Method::POST, format!("{m}/global/dependence"), Some(body)));
        let body = json!({"model": model, "instances": [instance]});
        calls.push((Method::POST, "/explain".into(), Some(body)));
        calls.push((
            Method::POST,
            format!("{m}/predict"),
            Some(json!({"instances": [instance]})),
        ));
        let body = json!({"instances": [[1.0, 2.0, 3.0]]});
        calls.push((
            Method::POST,
            format!("/v1/models/{model}:explain"),
            Some(body.clone()),
        ));
        calls.push((
            Method::POST,
            format!("/v1/models/{model}:predict"),
            Some(body),
        ));
    }
    let mut answered = Vec::new();
    for (method, uri, body) in calls {
        let answer = as_user(&app, READER, method.clone(), &uri, body).await;
        assert_no_secret(&format!("{method} {uri}"), &answer, &secrets);
        if answer.status == StatusCode::OK {
            answered.push(uri);
        }
    }
    // Not vacuous: the summaries over the 12-row background were answered.
    for uri in [
        "/models/secret-linear/global",
        "/models/secret-logistic/global.svg",
        "/models/secret-linear/global/dependence?feature=f1",
        "/models/secret-logistic/global/dependence",
        "/models/secret-logistic/dependence.svg?feature=f2&grid=100",
        "/models/secret-mlp/activations/summary",
        "/models/secret-mlp/activations/curves",
        "/models/secret-mlp/activations.svg",
        jobs[0].as_str(),
        jobs[3].as_str(),
    ] {
        assert!(answered.iter().any(|a| a == uri), "{uri} was not answered");
    }
    // Not vacuous either: the network's first layer shows admins the background's
    // values (its exact smallest pre-activation is the first row's f0).
    for tail in ["summary", "curves"] {
        let uri = format!("/models/secret-mlp/activations/{tail}");
        let admin = as_user(&app, ADMIN, Method::GET, &uri, None).await;
        assert!(admin.text.contains(&secrets[0].to_string()), "{uri}");
    }
    // The reader's own jobs, and /global once they and the explanations are in.
    for body in [
        json!({"kind": "dependence", "feature": "f2"}),
        json!({"kind": "mean_abs_attribution", "method": "kernel_shap"}),
    ] {
        let job = submit(&app, READER, "secret-linear", body).await;
        let done = finished(&app, READER, &job).await;
        assert_eq!(done.json["state"], "succeeded", "{}", done.text);
        assert_no_secret(&job, &done, &secrets);
    }
    for uri in ["/global", "/models/secret-linear/global", "/metrics"] {
        let answer = as_user(&app, READER, Method::GET, uri, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text);
        assert_no_secret(uri, &answer, &secrets);
    }
}

#[tokio::test]
async fn readers_are_refused_data_sets_ice_and_small_backgrounds_admins_are_not() {
    let (app, _, jobs) = setup().await;
    let refusals = [
        ("/models/tiny/global", "--min-summary-rows (10)"),
        ("/models/tiny/global.svg", "--min-summary-rows"),
        ("/models/tiny/global/dependence?feature=f0", "3 rows"),
        (
            "/models/secret-linear/global/dependence?feature=f0&dataset=ds",
            "`dataset`",
        ),
        (
            "/models/secret-linear/dependence.svg?feature=f0&dataset=ds",
            "admin",
        ),
        (
            "/models/secret-linear/global/dependence?feature=f0&ice=2",
            "`ice`",
        ),
        (jobs[4].as_str(), "--min-summary-rows"),
        ("/models/tiny-mlp/activations/summary", "3 rows"),
        ("/models/tiny-mlp/activations/curves", "--min-summary-rows"),
        ("/models/tiny-mlp/activations.svg", "--min-summary-rows"),
    ];
    for (uri, words) in refusals {
        let reader = as_user(&app, READER, Method::GET, uri, None).await;
        assert_eq!(
            reader.status,
            StatusCode::FORBIDDEN,
            "{uri}: {}",
            reader.text
        );
        assert_eq!(reader.json["error"]["code"], "private_rows", "{uri}");
        let message = reader.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{uri}: {message}");
        let admin = as_user(&app, ADMIN, Method::GET, uri, None).await;
        assert_eq!(admin.status, StatusCode::OK, "{uri}: {}", admin.text);
    }
    let job = json!({"kind": "mean_abs_attribution", "dataset": "ds"});
    let uri = "/models/secret-linear/global/jobs";
    let refused = as_user(&app, READER, Method::POST, uri, Some(job)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    // /global lists the small model as unavailable, and says why.
    let all = as_user(&app, READER, Method::GET, "/global", None).await;
    let unavailable = all.json["unavailable"].as_array().unwrap();
    assert!(unavailable
        .iter()
        .any(|u| u["model"] == "tiny"
            && u["reason"].as_str().unwrap().contains("--min-summary-rows")));
    // ICE curves: the admin's, not the reader's; the partial dependence for both.
    let admin = as_user(&app, ADMIN, Method::GET, &jobs[0], None).await;
    let reader = as_user(&app, READER, Method::GET, &jobs[0], None).await;
    assert_eq!(
        admin.json["result"]["outputs"][0]["ice"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(reader.json["result"]["outputs"][0]["ice"], json!([]));
    assert_eq!(reader.json["result"]["ice_rows"], 0);
    assert_eq!(
        reader.json["result"]["outputs"][0]["average"],
        admin.json["result"]["outputs"][0]["average"]
    );
    let uri = "/models/secret-linear/global/dependence?feature=f0";
    let reader = as_user(&app, READER, Method::GET, uri, None).await;
    assert_eq!(reader.json["ice_rows"], 0);
    let admin = as_user(&app, ADMIN, Method::GET, uri, None).await;
    assert_eq!(admin.json["ice_rows"], 10);
    // The reader's /global carries the admin's results without their ICE curves.
    let global = as_user(
        &app,
        READER,
        Method::GET,
        "/models/secret-linear/global",
        None,
    )
    .await;
    let section = &global.json["from_data"];
    assert_eq!(
        section["dependence"]["result"]["outputs"][0]["ice"],
        json!([])
    );
    assert!(section["permutation_importance"]["result"]["features"].is_array());
}

#[tokio::test]
async fn readers_get_ice_curves_of_the_rows_they_send() {
    let (app, _, _) = setup().await;
    let uri = "/models/secret-linear/global/dependence";
    let body = json!({"feature": "f0", "grid": 5, "output": 0,
        "instances": [[1.0, 2.0, 3.0], {"f0": 0.0, "f1": 0.0, "f2": 1.0}]});
    let sent = as_user(&app, READER, Method::POST, uri, Some(body)).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    let got = as_user(
        &app,
        READER,
        Method::GET,
        &format!("{uri}?feature=f0&grid=5"),
        None,
    )
    .await;
    // The grid and the partial dependence are those of GET, over the background.
    assert_eq!(sent.json["grid"], got.json["grid"]);
    assert_eq!(sent.json["rows"], 12);
    assert_eq!(
        sent.json["outputs"][0]["average"],
        got.json["outputs"][0]["average"]
    );
    assert_eq!(sent.json["ice_rows"], 2);
    // y = 3 + 0.5 f0 − 1.25 f1 + 2 f2 with f0 set to g: row (·, 2, 3) gives 6.5 + 0.5 g,
    // row (·, 0, 1) gives 5 + 0.5 g.
    let grid: Vec<f64> = serde_json::from_value(sent.json["grid"].clone()).unwrap();
    let ice: Vec<Vec<f64>> =
        serde_json::from_value(sent.json["outputs"][0]["ice"].clone()).unwrap();
    for (g, v) in grid.iter().enumerate() {
        assert!((ice[0][g] - (6.5 + 0.5 * v)).abs() < 1e-9);
        assert!((ice[1][g] - (5.0 + 0.5 * v)).abs() < 1e-9);
    }
    // Instances that do not fit, and a small background, are refused as elsewhere.
    let bad = json!({"feature": "f0", "instances": [[1.0, 2.0]]});
    let refused = as_user(&app, READER, Method::POST, uri, Some(bad)).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    let tiny = json!({"feature": "f0", "instances": [[1.0, 2.0, 3.0]]});
    let uri = "/models/tiny/global/dependence";
    let refused = as_user(&app, READER, Method::POST, uri, Some(tiny)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
}

#[tokio::test]
async fn readers_cannot_explain_against_single_background_rows() {
    let (app, secrets, _) = setup().await;
    // Against one background row b a linear model's attributions are w·(x − b): at
    // x = 0, b = −φ / w. A reader may not ask for so few rows, admins may.
    let weights = [0.5, -1.25, 2.0];
    let uri = "/models/secret-linear/explain";
    for method in ["kernel_shap", "permutation_shap", "exact_shapley"] {
        for seed in 0..3 {
            let body = json!({"instances": [[0.0, 0.0, 0.0]], "method": method,
                "max_background": 1, "seed": seed});
            let reader = as_user(&app, READER, Method::POST, uri, Some(body.clone())).await;
            if reader.status == StatusCode::OK {
                let phi = &reader.json["explanations"][0]["attributions"];
                for (j, w) in weights.iter().enumerate() {
                    let b = -phi[j].as_f64().unwrap() / w;
                    let solved = secrets.iter().any(|s| (s - b).abs() < 1e-6 * s.abs());
                    assert!(!solved, "{method} seed {seed}: background value {b} solved");
                }
            }
            assert_eq!(
                reader.status,
                StatusCode::FORBIDDEN,
                "{method}: {}",
                reader.text
            );
            let message = reader.json["error"]["message"].as_str().unwrap();
            assert!(message.contains("`max_background` (1)"), "{message}");
            let admin = as_user(&app, ADMIN, Method::POST, uri, Some(body)).await;
            assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
        }
    }
    // One k-means centre: each of its values is snapped to a background value, and
    // w·(x − c) shows it. Refused to readers below --min-summary-rows (10) centres;
    // the admin's answer shows why.
    for k in [1, 9] {
        let body = json!({"instances": [[0.0, 0.0, 0.0]], "method": "exact_shapley",
            "background": {"kmeans": k}});
        let reader = as_user(&app, READER, Method::POST, uri, Some(body.clone())).await;
        assert_eq!(reader.status, StatusCode::FORBIDDEN, "{}", reader.text);
        let message = reader.json["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`background.kmeans` ({k})")),
            "{message}"
        );
        let admin = as_user(&app, ADMIN, Method::POST, uri, Some(body)).await;
        assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
        if k == 1 {
            let phi = &admin.json["explanations"][0]["attributions"];
            let b = -phi[0].as_f64().unwrap() / weights[0];
            assert!(
                secrets.iter().any(|s| (s - b).abs() < 1e-6 * s.abs()),
                "{b}"
            );
        }
    }
    let body = json!({"instances": [[0.0, 0.0, 0.0]], "method": "kernel_shap",
        "background": {"kmeans": 10}});
    let enough = as_user(&app, READER, Method::POST, uri, Some(body)).await;
    assert_eq!(enough.status, StatusCode::OK, "{}", enough.text);
    // The whole 12-row background is enough; the 3-row one is not.
    let body =
        json!({"instances": [[0.0, 0.0, 0.0]], "method": "kernel_shap", "max_background": 12});
    let enough = as_user(&app, READER, Method::POST, uri, Some(body)).await;
    assert_eq!(enough.status, StatusCode::OK, "{}", enough.text);
    let body = json!({"instances": [[0.0, 0.0, 0.0]]});
    for uri in [
        "/models/tiny/explain",
        "/models/tiny/explain.svg",
        "/v1/models/tiny:explain",
    ] {
        let small = as_user(&app, READER, Method::POST, uri, Some(body.clone())).await;
        assert_eq!(small.status, StatusCode::FORBIDDEN, "{uri}: {}", small.text);
        assert!(small.text.contains("3 rows"), "{}", small.text);
    }
}
