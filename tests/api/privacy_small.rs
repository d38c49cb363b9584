//! Routes besides those of `privacy.rs` that read a model's background follow the
//! same rule: readers are refused them over fewer than `--min-summary-rows`
//! (default 10) background rows; admins are not.

use crate::privacy::{as_user, with_tokens, ADMIN, READER};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

/// The tester's model: y = a + 2b over a 2-row background, whose range and MAD the
/// default counterfactual bounds and cost come from.
fn two_rows() -> Value {
    json!({"kind": "linear", "feature_names": ["a", "b"],
        "params": {"coefficients": [1.0, 2.0], "intercept": 0.0},
        "background": [[0.0, 0.0], [7.25, 1.0]]})
}

/// The same model over 12 rows.
fn twelve_rows() -> Value {
    let rows: Vec<Vec<f64>> = (0..12)
        .map(|i| vec![i as f64 * 0.75, (i % 3) as f64])
        .collect();
    json!({"kind": "linear", "feature_names": ["a", "b"],
        "params": {"coefficients": [1.0, 2.0], "intercept": 0.0},
        "background": rows})
}

async fn app_with(models: &[(&str, Value)]) -> axum::Router {
    let (app, _) = crate::common::ready_app(with_tokens()).await;
    for (name, spec) in models {
        let uri = format!("/models/{name}");
        let put = as_user(&app, ADMIN, Method::PUT, &uri, Some(spec.clone())).await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    }
    app
}

#[tokio::test]
async fn readers_get_no_counterfactuals_over_a_small_background() {
    let app = app_with(&[("m3", two_rows()), ("m12", twelve_rows())]).await;
    // With a min of 11.1 the cost was |Δa| / MAD(a) (revealing the MAD), and a min of
    // 11.62 was feasible where 11.63 was not (revealing the largest a, 7.25).
    for min in [11.1, 11.62, 11.63] {
        let body = json!({"instance": [3, 4], "target": {"min": min}, "immutable": ["b"]});
        for route in ["counterfactuals", "counterfactuals.svg"] {
            let uri = format!("/models/m3/{route}");
            let reader = as_user(&app, READER, Method::POST, &uri, Some(body.clone())).await;
            assert_eq!(
                reader.status,
                StatusCode::FORBIDDEN,
                "{uri}: {}",
                reader.text
            );
            assert_eq!(reader.json["error"]["code"], "private_rows");
            let message = reader.json["error"]["message"].as_str().unwrap();
            assert!(message.contains("2 rows"), "{message}");
            assert!(message.contains("--min-summary-rows (10)"), "{message}");
            let admin = as_user(&app, ADMIN, Method::POST, &uri, Some(body.clone())).await;
            assert_eq!(admin.status, StatusCode::OK, "{uri}: {}", admin.text);
        }
    }
    // Not vacuous: over 12 rows readers are answered.
    let body = json!({"instance": [3, 4], "target": {"min": 11.5}, "immutable": ["b"]});
    for route in ["counterfactuals", "counterfactuals.svg"] {
        let uri = format!("/models/m12/{route}");
        let reader = as_user(&app, READER, Method::POST, &uri, Some(body.clone())).await;
        assert_eq!(reader.status, StatusCode::OK, "{uri}: {}", reader.text);
    }
}

/// f(a, b) = 3 + 0.5 tanh(a) − 1.25 tanh(b), over `background`.
fn network(background: &[[f64; 2]]) -> Value {
    json!({"kind": "mlp", "feature_names": ["a", "b"],
        "params": {"layers": [
            {"weights": [[1.0, 0.0], [0.0, 1.0]], "bias": [0.0, 0.0], "activation": "tanh"},
            {"weights": [[0.5], [-1.25]], "bias": [3.0], "activation": "identity"}]},
        "background": background})
}

#[tokio::test]
async fn weight_pictures_are_for_admins_as_the_weights_are() {
    let net: Vec<[f64; 2]> = vec![[0.25, 0.5], [1.5, -0.75]];
    let app = app_with(&[
        ("m3", two_rows()),
        ("m12", twelve_rows()),
        ("net", network(&net)),
    ])
    .await;
    for uri in [
        "/models/m3/weights.svg",
        "/models/m3/weights.svg?scale=standardized",
        "/models/m12/weights.svg?scale=standardized",
        "/models/house-prices/weights.svg",
        "/models/net/weights.svg?layer=0",
        "/models/net/weights.svg?layer=1",
        "/models/m3/weights",
    ] {
        let reader = as_user(&app, READER, Method::GET, uri, None).await;
        assert_eq!(
            reader.status,
            StatusCode::FORBIDDEN,
            "{uri}: {}",
            reader.text
        );
        assert_eq!(reader.json["error"]["code"], "forbidden", "{uri}");
        // The coefficient 2 × b's std over the two rows (0.5) would be drawn as 1.
        assert!(!reader.text.contains("data-value"), "{uri}");
        let admin = as_user(&app, ADMIN, Method::GET, uri, None).await;
        assert_eq!(admin.status, StatusCode::OK, "{uri}: {}", admin.text);
    }
}

#[tokio::test]
async fn saliency_needs_enough_background_rows_gradient_x_input_reads_none() {
    let two: Vec<[f64; 2]> = vec![[0.25, 0.5], [1.5, -0.75]];
    let twelve: Vec<[f64; 2]> = (0..12)
        .map(|i| [i as f64 * 0.25, 1.0 - i as f64 * 0.125])
        .collect();
    let app = app_with(&[("net2", network(&two)), ("net12", network(&twelve))]).await;
    let f = |[a, b]: [f64; 2]| 3.0 + 0.5 * f64::tanh(a) - 1.25 * f64::tanh(b);
    let mean_over_two = (f(two[0]) + f(two[1])) / 2.0;
    let body = |method: &str| json!({"instances": [[0.5, 0.5]], "method": method});
    // Saliency's base value was the mean output over the two rows.
    let admin = as_user(
        &app,
        ADMIN,
        Method::POST,
        "/models/net2/explain",
        Some(body("saliency")),
    )
    .await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    let base = admin.json["explanations"][0]["base_value"]
        .as_f64()
        .unwrap();
    assert!(
        (base - mean_over_two).abs() < 1e-9,
        "{base} vs {mean_over_two}"
    );
    for uri in [
        "/models/net2/explain",
        "/models/net2/explain.svg",
        "/v1/models/net2:explain",
    ] {
        let reader = as_user(&app, READER, Method::POST, uri, Some(body("saliency"))).await;
        assert_eq!(
            reader.status,
            StatusCode::FORBIDDEN,
            "{uri}: {}",
            reader.text
        );
        assert_eq!(reader.json["error"]["code"], "private_rows", "{uri}");
        assert!(reader.text.contains("2 rows"), "{}", reader.text);
    }
    // Gradient × input's base value is f(0) = 3 whatever the background: answered.
    let reader = as_user(
        &app,
        READER,
        Method::POST,
        "/models/net2/explain",
        Some(body("gradient_x_input")),
    )
    .await;
    assert_eq!(reader.status, StatusCode::OK, "{}", reader.text);
    assert_eq!(reader.json["explanations"][0]["base_value"], json!(3.0));
    // Over 12 rows a reader gets saliency.
    let reader = as_user(
        &app,
        READER,
        Method::POST,
        "/models/net12/explain",
        Some(body("saliency")),
    )
    .await;
    assert_eq!(reader.status, StatusCode::OK, "{}", reader.text);
}
