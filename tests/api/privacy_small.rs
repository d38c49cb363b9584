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
