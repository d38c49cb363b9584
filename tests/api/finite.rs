//! Finite inputs whose results are not finite (1e308 × a coefficient overflows,
//! inf − inf is NaN) are refused with 422 naming the instance and the feature, on
//! every route that computes from user input: never a 200 with `null` numbers.

use std::time::Duration;

use crate::common::{call, default_app, iris_spec, multinomial_spec, Answer};
use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

/// The demo house with a lot size that makes the price overflow.
fn huge_house() -> Value {
    json!([1e308, 3, 1, 2, 1, 0, 1, 0, 0, 1, 0])
}

fn assert_refused(a: &Answer, context: &str, needle: &str) {
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{context}: {}",
        a.text
    );
    let message = a.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{context}: {message}");
    assert!(!a.text.contains("null"), "{context}: {}", a.text);
}

const LOTSIZE: &str = "instance 0: feature 'lotsize' = 1e308 gives a non-finite prediction";

#[tokio::test]
async fn predictions_and_every_explain_method_refuse_an_overflowing_house() {
    let app = default_app().await;
    let one = json!({"instances": [huge_house()]});
    for uri in [
        "/models/house-prices/predict",
        "/v1/models/house-prices:predict",
        "/v1/models/house-prices:explain",
        "/models/house-prices/explain",
    ] {
        let a = call(&app, Method::POST, uri, Some(one.clone())).await;
        assert_refused(&a, uri, LOTSIZE);
    }
    for extra in [
        json!({"method": "linear_shap"}),
        json!({"method": "linear_shap", "quality": "full"}),
        json!({"method": "kernel_shap", "seed": 1}),
        json!({"method": "permutation_shap", "seed": 1}),
        json!({"method": "exact_shapley"}),
        json!({"method": "lime", "seed": 1}),
        json!({"model": "house-prices"}),
    ] {
        let mut body = extra.clone();
        body["instances"] = json!([huge_house()]);
        let uri = if extra.get("model").is_some() {
            "/explain"
        } else {
            "/models/house-prices/explain"
        };
        let a = call(&app, Method::POST, uri, Some(body)).await;
        assert_refused(&a, &extra.to_string(), LOTSIZE);
    }
}

#[tokio::test]
async fn the_instance_named_is_the_one_that_overflows() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    // Class z's margin is −a − b: −inf for the second row only.
    let body = json!({"instances": [[1, 2], [1e308, 1e308]], "outputs": "all"});
    let a = call(&app, Method::POST, "/models/three/explain", Some(body)).await;
    assert_refused(
        &a,
        "outputs all",
        "instance 1: feature 'a' = 1e308 gives a non-finite",
    );
    let body = json!({"instances": [[1, 2], [1e308, 1e308]], "output_space": "raw"});
    let a = call(&app, Method::POST, "/models/three/predict", Some(body)).await;
    assert_refused(
        &a,
        "predict",
        "instance 1: feature 'a' = 1e308 gives a non-finite prediction of 'z'",
    );
}

#[tokio::test]
async fn networks_answer_finite_numbers_or_refuse_overflowing_layer_values() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/iris", Some(iris_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    // Every first-layer pre-activation is ±inf or inf − inf; tanh saturates, so
    // explanations may stay finite, but never hold a null.
    let huge = json!([[1e308, 1e308, 1e308, 1e308]]);
    for method in [
        "integrated_gradients",
        "gradient_x_input",
        "saliency",
        "kernel_shap",
    ] {
        let body = json!({"instances": huge, "method": method, "seed": 1});
        let a = call(&app, Method::POST, "/models/iris/explain", Some(body)).await;
        if a.status != StatusCode::OK {
            assert_refused(
                &a,
                method,
                "instance 0: feature 'sepal_length' = 1e308 gives a non-finite",
            );
        }
        assert!(!a.text.contains("null"), "{method}: {}", a.text);
    }
    let a = call(
        &app,
        Method::POST,
        "/models/iris/activations",
        Some(json!({"instances": huge})),
    )
    .await;
    assert_refused(
        &a,
        "activations",
        "instance 0: feature 'sepal_length' = 1e308 gives a non-finite pre-activation (layer 0, unit 0)",
    );
}

#[tokio::test]
async fn text_classifiers_refuse_weights_that_overflow_on_a_text() {
    let app = default_app().await;
    let spec = json!({"kind": "text_classifier", "output_names": ["great"], "params": {
        "vocabulary": ["huge", "fine"],
        "embeddings": [[1e308, 1e308], [1.0, 0.0]],
        "head": {"layers": [{"weights": [[10.0], [10.0]], "bias": [0.0], "activation": "identity"}]}}});
    let put = call(&app, Method::PUT, "/models/words", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let fine = call(
        &app,
        Method::POST,
        "/models/words/predict",
        Some(json!({"texts": ["fine"]})),
    )
    .await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.text);
    for route in ["predict", "explain"] {
        let body = json!({"texts": ["fine", "a huge thing"], "output_space": "raw"});
        let a = call(
            &app,
            Method::POST,
            &format!("/models/words/{route}"),
            Some(body),
        )
        .await;
        assert_refused(&a, route, "text 1: the prediction is not a finite number");
    }
}

#[tokio::test]
async fn registrations_whose_numbers_overflow_are_refused() {
    let app = default_app().await;
    // Finite background and weights, but the base value E[f] = 10 × 1e308 is not.
    let spec = json!({"kind": "linear", "feature_names": ["a", "b"],
        "params": {"coefficients": [10.0, 1.0]}, "background": [[0, 0], [1e308, 0]]});
    let a = call(&app, Method::PUT, "/models/wide", Some(spec)).await;
    assert_refused(
        &a,
        "model",
        "background row 1: feature 'a' = 1e308 gives a non-finite prediction",
    );
    assert_eq!(
        call(&app, Method::GET, "/models/wide", None).await.status,
        StatusCode::NOT_FOUND
    );
    // A network saturates (tanh(inf) = 1), but its layer values, shown by the
    // activation routes, would not be finite.
    let net = json!({"kind": "mlp", "feature_names": ["x"], "params": {"layers": [
        {"weights": [[1e200]], "bias": [0.0], "activation": "tanh"},
        {"weights": [[1.0]], "bias": [0.0], "activation": "identity"}]},
        "background": [[0.0], [1e150]]});
    let a = call(&app, Method::PUT, "/models/net", Some(net)).await;
    assert_refused(
        &a,
        "model net",
        "background row 1: feature 'x' = 1e150 gives a non-finite pre-activation (layer 0, unit 0)",
    );

    let rows = json!([[5850, 3, 1, 2, 1, 0, 1, 0, 0, 1, 0], huge_house()]);
    let doc = json!({"rows": rows, "target": [1, 2]});
    let a = call(
        &app,
        Method::PUT,
        "/models/house-prices/datasets/d",
        Some(doc),
    )
    .await;
    assert_refused(
        &a,
        "data-set rows",
        "row 1: feature 'lotsize' = 1e308 gives a non-finite prediction",
    );
    let doc = json!({"rows": [[5850, 3, 1, 2, 1, 0, 1, 0, 0, 1, 0], [5850, 3, 1, 2, 1, 0, 1, 0, 0, 1, 0]], "target": [1e308, 1.7e308]});
    let a = call(
        &app,
        Method::PUT,
        "/models/house-prices/datasets/d",
        Some(doc),
    )
    .await;
    assert_refused(
        &a,
        "data-set target",
        "target: the mean or spread of the values overflows",
    );
    let list = call(&app, Method::GET, "/models/house-prices/datasets", None).await;
    assert_eq!(list.json["datasets"], json!([]), "nothing was registered");
}

/// A model without background and a data set whose rows are fine one by one
/// (a + b = 0), but whose columns, recombined by dependence curves and
/// permutations, give a + b = ±inf. (With three rows the grid runs between the
/// midpoints of the outer pairs, ±0.85e308, which overflows against b = ±1.7e308.)
async fn cancelling_pair(app: &Router) {
    let spec = json!({"kind": "linear", "feature_names": ["a", "b"],
        "params": {"coefficients": [1.0, 1.0]}});
    let put = call(app, Method::PUT, "/models/pair", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let doc =
        json!({"rows": [[1.7e308, -1.7e308], [-1.7e308, 1.7e308], [0, 0]], "target": [0, 0, 0]});
    let put = call(app, Method::PUT, "/models/pair/datasets/d", Some(doc)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
}

#[tokio::test]
async fn results_from_data_that_overflow_are_refused_or_fail_their_job() {
    let app = default_app().await;
    cancelling_pair(&app).await;
    let uri = "/models/pair/global/dependence?feature=a&dataset=d";
    let a = call(&app, Method::GET, uri, None).await;
    assert_refused(&a, "dependence", "dependence: ");
    assert!(a.text.contains("is not a finite number"), "{}", a.text);

    let body = json!({"kind": "permutation_importance", "dataset": "d", "repeats": 3});
    let post = call(&app, Method::POST, "/models/pair/global/jobs", Some(body)).await;
    assert_eq!(post.status, StatusCode::ACCEPTED, "{}", post.text);
    let location = post.headers["location"].to_str().unwrap().to_string();
    let mut job = Value::Null;
    for _ in 0..2000 {
        job = call(&app, Method::GET, &location, None).await.json;
        if matches!(job["state"].as_str(), Some("succeeded" | "failed")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(error.starts_with("the result: "), "{error}");
    assert!(error.contains("is not a finite number"), "{error}");
    assert!(!job.to_string().contains("null"), "{job}");
}

/// The last line behind the routes' checks: an answer that still holds a
/// non-finite number is a server fault (500, logged), never a `null` number.
#[tokio::test]
async fn an_answer_holding_a_non_finite_number_is_never_sent() {
    use axum::response::IntoResponse;
    use explaind::http::extract::JsonAnswer;
    use http_body_util::BodyExt;

    let fine = JsonAnswer(json!({"a": [1.0, 2.0], "b": null})).into_response();
    assert_eq!(fine.status(), StatusCode::OK);
    let mut values = vec![1.0, 2.0];
    values[1] = f64::INFINITY;
    let bad = JsonAnswer(values).into_response();
    assert_eq!(bad.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = bad.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("\"internal\""), "{text}");
    assert!(!text.contains("null"), "{text}");
}

#[tokio::test]
async fn ice_curves_of_rows_the_caller_sends_refuse_an_overflowing_house() {
    let app = default_app().await;
    let body = json!({"feature": "bedrooms", "instances": [huge_house()], "grid": 5});
    let a = call(
        &app,
        Method::POST,
        "/models/house-prices/global/dependence",
        Some(body),
    )
    .await;
    assert_refused(&a, "ice of the caller's rows", "dependence: ");
    assert!(a.text.contains("is not a finite number"), "{}", a.text);
}
