//! Helpers shared by the integration tests.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use explaind::config::Config;
use explaind::http::{app, AppState};
use explaind::server;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A ready application with the demo model and the given configuration.
pub async fn ready_app(config: Config) -> (Router, AppState) {
    let state = server::build_state(config).expect("state builds");
    server::load_models(&state).await.expect("models load");
    (app(state.clone()), state)
}

/// A ready application with default configuration.
pub async fn default_app() -> Router {
    ready_app(Config::defaults()).await.0
}

/// An answer: status, headers and the body parsed as JSON (Null when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

/// Send one request through the router.
pub async fn call(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Answer {
    let mut builder = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Body::from(serde_json::to_vec(&v).unwrap())
        }
        None => Body::empty(),
    };
    send(app, builder.body(body).unwrap()).await
}

/// Send a prepared request through the router.
pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
        text,
    }
}

/// Read a fixture under tests/fixtures.
pub fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&full).expect("fixture exists")).unwrap()
}

/// A house from the demo data, as an object keyed by feature name.
pub fn house() -> Value {
    serde_json::json!({
        "lotsize": 5850, "bedrooms": 3, "bathrooms": 1, "stories": 2, "driveway": 1,
        "recreation": 0, "fullbase": 1, "gasheat": 0, "aircon": 0, "garage": 1, "prefer": 0
    })
}

/// The same house as an array in feature order.
pub fn house_row() -> Value {
    serde_json::json!([5850, 3, 1, 2, 1, 0, 1, 0, 0, 1, 0])
}

/// A small binary logistic model with a background.
pub fn logistic_spec() -> Value {
    serde_json::json!({
        "kind": "logistic",
        "feature_names": ["a", "b"],
        "params": {"coefficients": [0.8, -0.4], "intercept": 0.1, "classes": ["no", "yes"]},
        "background": [[0.0, 1.0], [2.0, 3.0], [1.0, -1.0]]
    })
}

/// A three-class multinomial logistic model with a background.
pub fn multinomial_spec() -> Value {
    serde_json::json!({
        "kind": "logistic",
        "feature_names": ["a", "b"],
        "params": {
            "coefficients": [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]],
            "intercept": [0.0, 0.0, 0.0],
            "classes": ["x", "y", "z"]
        },
        "background": [[0.0, 0.0], [1.0, 2.0], [2.0, 1.0]]
    })
}

/// The scikit-learn iris classifier of tests/fixtures/mlp (4 inputs, 6 tanh units,
/// softmax over 3 classes), with its 10 rows as background.
pub fn iris_spec() -> Value {
    let doc = fixture("mlp/iris_classifier.json");
    serde_json::json!({
        "kind": "mlp",
        "feature_names": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "output_names": ["setosa", "versicolor", "virginica"],
        "params": doc["params"],
        "background": doc["x"],
    })
}

/// The scikit-learn digits classifier of tests/fixtures/mlp (8×8 pixel inputs
/// declared as `input_shape`, 6 ReLU units, softmax over 10 digits), with its 8
/// rows as background.
pub fn digits_spec() -> Value {
    let doc = fixture("mlp/digits_classifier.json");
    let names: Vec<String> = (0..64)
        .map(|i| format!("pixel_{}_{}", i / 8, i % 8))
        .collect();
    serde_json::json!({
        "kind": "mlp",
        "feature_names": names,
        "output_names": (0..10).map(|d| format!("digit {d}")).collect::<Vec<_>>(),
        "params": doc["params"],
        "background": doc["x"],
    })
}

/// `n` copies of `bytes`, each with one byte flipped at a place drawn by a fixed
/// linear congruential generator: corrupted files for "an error, never a panic".
pub fn corrupted(bytes: &[u8], n: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    (0..n).map(move |_| {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let mut b = bytes.to_vec();
        let at = (rng >> 33) as usize % b.len();
        b[at] ^= (rng >> 13) as u8 | 1;
        b
    })
}

/// Efficiency of one explanation in an answer: base_value + Σ attributions equals
/// the prediction to `tolerance` × max(|prediction|, 1).
pub fn assert_adds_up(e: &Value, tolerance: f64) {
    let sum: f64 = e["attributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    let (p, base) = (
        e["prediction"].as_f64().unwrap(),
        e["base_value"].as_f64().unwrap(),
    );
    assert!(
        (base + sum - p).abs() <= tolerance * p.abs().max(1.0),
        "{base} + {sum} vs {p}"
    );
}
