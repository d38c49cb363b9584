//! Neural networks through the API: registration, gradient explanations, activations
//! and weights, on the scikit-learn models of tests/fixtures/mlp.

use crate::common::{call, default_app, fixture};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

const HOUSE_FEATURES: [&str; 11] = [
    "lotsize",
    "bedrooms",
    "bathrooms",
    "stories",
    "driveway",
    "recreation",
    "fullbase",
    "gasheat",
    "aircon",
    "garage",
    "prefer",
];

fn house_mlp() -> (Value, Value) {
    let doc = fixture("mlp/house_regressor.json");
    let spec = json!({
        "kind": "mlp",
        "feature_names": HOUSE_FEATURES,
        "output_names": ["price_thousands"],
        "params": doc["params"],
        "background": doc["x"],
    });
    (spec, doc)
}

fn iris_mlp() -> Value {
    let doc = fixture("mlp/iris_classifier.json");
    json!({
        "kind": "mlp",
        "feature_names": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "output_names": doc["classes"].as_array().unwrap().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "params": doc["params"],
        "background": doc["x"],
    })
}

#[tokio::test]
async fn an_mlp_predicts_like_scikit_learn_and_explains_with_integrated_gradients() {
    let app = default_app().await;
    let (spec, doc) = house_mlp();
    let put = call(&app, Method::PUT, "/models/house-mlp", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "mlp");

    let predicted = call(
        &app,
        Method::POST,
        "/models/house-mlp/predict",
        Some(json!({"instances": doc["x"]})),
    )
    .await;
    for (ours, theirs) in predicted.json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(doc["predict"].as_array().unwrap())
    {
        assert!((ours[0].as_f64().unwrap() - theirs.as_f64().unwrap()).abs() < 1e-9);
    }

    let row = &doc["x"][3];
    let answer = call(
        &app,
        Method::POST,
        "/models/house-mlp/explain",
        Some(json!({"instances": [row], "steps": 128})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["method"], "integrated_gradients");
    let quality = &answer.json["explanations"][0]["quality"];
    // With 128 Gauss-Legendre nodes on a piecewise-linear ReLU network the path
    // integral is close to exact: Σφ ≈ f(x) − f(baseline).
    let delta = quality["convergence_delta"].as_f64().unwrap();
    let prediction = answer.json["explanations"][0]["prediction"]
        .as_f64()
        .unwrap();
    assert!(
        delta.abs() < 1e-2 * prediction.abs().max(1.0),
        "delta {delta}"
    );
    assert_eq!(quality["samples"], 128);

    for method in ["gradient_x_input", "saliency"] {
        let answer = call(
            &app,
            Method::POST,
            "/models/house-mlp/explain",
            Some(json!({"instances": [row], "method": method})),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{method}: {}", answer.text);
        assert_eq!(answer.json["method"], method);
    }
    let baseline = json!({"instances": [row], "baseline": vec![0.0; 11], "rule": "riemann_middle", "steps": 20});
    let answer = call(
        &app,
        Method::POST,
        "/models/house-mlp/explain",
        Some(baseline),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn impossible_pairings_and_bad_options_are_422() {
    let app = default_app().await;
    let (spec, doc) = house_mlp();
    call(&app, Method::PUT, "/models/house-mlp", Some(spec)).await;
    let row = &doc["x"][0];
    let cases = [
        (
            "/models/house-mlp/explain",
            json!({"instances": [row], "method": "linear_shap"}),
            "method_not_supported",
        ),
        (
            "/models/house-mlp/explain",
            json!({"instances": [row], "rule": "simpson"}),
            "invalid_argument",
        ),
        (
            "/models/house-mlp/explain",
            json!({"instances": [row], "steps": 0}),
            "invalid_argument",
        ),
        (
            "/models/house-mlp/explain",
            json!({"instances": [row], "baseline": [1.0]}),
            "invalid_input",
        ),
        (
            "/models/house-prices/explain",
            json!({"instances": [row], "method": "integrated_gradients"}),
            "method_not_supported",
        ),
        (
            "/models/house-prices/activations",
            json!({"instances": [row]}),
            "method_not_supported",
        ),
    ];
    for (uri, body, code) in cases {
        let answer = call(&app, Method::POST, uri, Some(body.clone())).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri} {body}: {}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], code, "{uri} {body}");
    }
}

#[tokio::test]
async fn broken_networks_are_refused_naming_the_layer() {
    let app = default_app().await;
    let bad = json!({
        "kind": "mlp", "feature_names": ["a", "b"],
        "params": {"layers": [
            {"weights": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "bias": [0, 0, 0], "activation": "relu"},
            {"weights": [[1.0], [2.0]], "bias": [0], "activation": "identity"}
        ]}
    });
    let answer = call(&app, Method::PUT, "/models/bad", Some(bad)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.text.contains("layers[1]"), "{}", answer.text);
    let unknown = json!({
        "kind": "mlp", "feature_names": ["a"],
        "params": {"layers": [{"weights": [[1.0]], "bias": [0], "activation": "swish"}]}
    });
    let answer = call(&app, Method::PUT, "/models/bad", Some(unknown)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.text.contains("swish"), "{}", answer.text);
}

#[tokio::test]
async fn activations_summary_curves_and_weights() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/iris", Some(iris_mlp())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let values = call(
        &app,
        Method::POST,
        "/models/iris/activations",
        Some(json!({"instances": [[5.1, 3.5, 1.4, 0.2]]})),
    )
    .await;
    assert_eq!(values.status, StatusCode::OK, "{}", values.text);
    let layers = values.json["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["activation"], "tanh");
    assert_eq!(layers[0]["pre"][0].as_array().unwrap().len(), 6);
    // The softmax layer's post-activations are class probabilities.
    let p: f64 = layers[1]["post"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((p - 1.0).abs() < 1e-12);

    let summary = call(&app, Method::GET, "/models/iris/activations/summary", None).await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    assert_eq!(summary.json["rows"], 10);
    assert_eq!(
        summary.json["layers"][0]["units"].as_array().unwrap().len(),
        6
    );

    let curves = call(&app, Method::GET, "/models/iris/activations/curves", None).await;
    assert_eq!(curves.status, StatusCode::OK);
    let curve = &curves.json["curves"][0];
    assert_eq!(curve["activation"], "tanh");
    // The curve spans exactly the observed pre-activation range of layer 0.
    let lo = summary.json["layers"][0]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["pre_min"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!((curve["x"][0].as_f64().unwrap() - lo).abs() < 1e-12);

    let weights = call(&app, Method::GET, "/models/iris/weights", None).await;
    assert_eq!(weights.status, StatusCode::OK);
    assert_eq!(
        weights.json["mlp"]["layers"][0]["weights"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(
        weights.json["mlp"]["layers"][0]["stats"]["frobenius_norm"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    let explain = call(
        &app,
        Method::POST,
        "/models/iris/explain",
        Some(json!({"instances": [[5.1, 3.5, 1.4, 0.2]], "output_space": "probability"})),
    )
    .await;
    assert_eq!(explain.status, StatusCode::OK, "{}", explain.text);
    let global = call(&app, Method::GET, "/models/iris/global", None).await;
    assert_eq!(global.status, StatusCode::OK, "{}", global.text);
    assert_eq!(global.json["method"], "integrated_gradients");
}

/// |convergence_delta| / |prediction − base_value| and the steps of each explanation.
fn relative_deltas(answer: &Value) -> Vec<(f64, u64)> {
    answer["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let gap = e["prediction"].as_f64().unwrap() - e["base_value"].as_f64().unwrap();
            let delta = e["quality"]["convergence_delta"].as_f64().unwrap();
            (
                delta.abs() / gap.abs(),
                e["quality"]["samples"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn integrated_gradients_double_their_steps_until_the_delta_is_within_tolerance() {
    // The digits network's ReLU kinks make the path integrand piecewise smooth: 50
    // Gauss-Legendre nodes leave up to 0.7 % of f(x) − f(baseline) unexplained on
    // its background rows. Without `steps`, each row doubles its steps until
    // |Σφ − (f(x) − f(x′))| ≤ 0.001 · |f(x) − f(x′)|, and reports what it used.
    let app = default_app().await;
    let put = call(
        &app,
        Method::PUT,
        "/models/digits",
        Some(crate::common::digits_spec()),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let rows = fixture("mlp/digits_classifier.json")["x"].clone();
    let url = "/models/digits/explain";

    let fixed = call(
        &app,
        Method::POST,
        url,
        Some(json!({"instances": rows, "steps": 50})),
    )
    .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.text);
    let worst = relative_deltas(&fixed.json)
        .iter()
        .map(|d| d.0)
        .fold(0.0, f64::max);
    assert!(worst > 5e-3, "50 steps leave {worst} on the worst row");
    assert!(fixed.json["explanations"][0]["quality"]
        .get("tolerance")
        .is_none());

    let adaptive = call(&app, Method::POST, url, Some(json!({"instances": rows}))).await;
    assert_eq!(adaptive.status, StatusCode::OK, "{}", adaptive.text);
    let deltas = relative_deltas(&adaptive.json);
    for (e, (delta, steps)) in adaptive.json["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&deltas)
    {
        assert!(*delta <= 1e-3, "{delta} after {steps} steps");
        assert_eq!(e["quality"]["tolerance"], json!(0.001));
        // 50, 100, 200, …: the counts the doubling visits.
        assert!((steps / 50).is_power_of_two() && steps % 50 == 0, "{steps}");
    }
    assert!(
        deltas.iter().any(|d| d.1 > 50),
        "some row needed more than 50 steps"
    );

    // A tighter target takes more steps, and still holds.
    let tight = json!({"instances": rows, "tolerance": 1e-5});
    let tight = call(&app, Method::POST, url, Some(tight)).await;
    assert_eq!(tight.status, StatusCode::OK, "{}", tight.text);
    for ((delta, steps), (_, before)) in relative_deltas(&tight.json).iter().zip(&deltas) {
        assert!(
            *delta <= 1e-5 || *steps == 2048,
            "{delta} after {steps} steps"
        );
        assert!(steps >= before);
    }

    for bad in [json!(0.0), json!(-1e-3), json!(2.0)] {
        let body = json!({"instances": rows, "tolerance": bad});
        let refused = call(&app, Method::POST, url, Some(body)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        let message = refused.json["error"]["message"].as_str().unwrap();
        assert!(message.contains("tolerance"), "{message}");
    }
}
