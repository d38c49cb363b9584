//! Live importance through the API: served explanations show up in the `live`
//! section of `/global` and as `explaind_live_*` series on `/metrics`, and drift
//! rises when traffic comes from a shifted distribution.

use crate::common::{call, default_app, house, house_row, send};
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

/// A two-feature linear model, y = 2a − b, whose background is a 20 × 10 grid:
/// a in 0..20, b in 0..10, 200 rows.
fn grid_spec() -> Value {
    let background: Vec<Vec<f64>> = (0..200)
        .map(|i| vec![(i % 20) as f64, (i / 20) as f64])
        .collect();
    json!({
        "kind": "linear",
        "feature_names": ["a", "b"],
        "params": {"coefficients": [2.0, -1.0], "intercept": 0.0},
        "background": background
    })
}

fn feature<'a>(section: &'a Value, name: &str) -> &'a Value {
    section["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no feature {name} in {section}"))
}

/// The value of the one metric line that starts with `prefix`.
fn metric(text: &str, prefix: &str) -> f64 {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
    assert_eq!(lines.len(), 1, "{prefix}: {lines:?}");
    lines[0].rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn served_explanations_show_up_in_global_and_metrics() {
    let app = default_app().await;
    let before = call(&app, Method::GET, "/models/house-prices/global", None).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    let live = &before.json["live"];
    assert_eq!(live["output_space"], "raw");
    assert_eq!(live["window_secs"], 300);
    assert_eq!(live["bucket_secs"], 10);
    assert_eq!(live["window"]["explanations"], 0);
    assert!(feature(&live["window"], "lotsize")["mean_abs"].is_null());
    // The baseline is still there, untouched.
    assert!(before.json["features"][0]["importance"].is_number());

    let mut second = house();
    second["lotsize"] = json!(9000);
    let body = json!({"instances": [house(), second, house_row()]});
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let kserve = call(
        &app,
        Method::POST,
        "/v1/models/house-prices:explain",
        Some(json!({"instances": [house_row()]})),
    )
    .await;
    assert_eq!(kserve.status, StatusCode::OK, "{}", kserve.text);

    let after = call(&app, Method::GET, "/models/house-prices/global", None).await;
    let window = &after.json["live"]["window"];
    assert_eq!(window["explanations"], 4);
    assert_eq!(window["rows"], 4);
    assert_eq!(after.json["live"]["since_start"]["explanations"], 4);
    // mean |φ| of lotsize over the four rows served, from the answers themselves.
    let j = answer.json["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .position(|n| n == "lotsize")
        .unwrap();
    let served: Vec<f64> = answer.json["values"]
        .as_array()
        .unwrap()
        .iter()
        .chain(kserve.json["values"].as_array().unwrap())
        .map(|row| row[j].as_f64().unwrap())
        .collect();
    let mean_abs = served.iter().map(|v| v.abs()).sum::<f64>() / 4.0;
    let mean = served.iter().sum::<f64>() / 4.0;
    let lotsize = feature(window, "lotsize");
    assert!((lotsize["mean_abs"].as_f64().unwrap() - mean_abs).abs() < 1e-6 * mean_abs);
    assert!((lotsize["mean"].as_f64().unwrap() - mean).abs() < 1e-6 * mean_abs);
    assert!(lotsize["psi"].is_number());
    assert!(lotsize["importance_shift"].is_number());

    // The entity tag follows the live part; the same tag gives 304.
    let etag = after.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(etag, before.headers["etag"].to_str().unwrap());
    let again = Request::builder()
        .uri("/models/house-prices/global")
        .header("if-none-match", &etag)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(&app, again).await.status, StatusCode::NOT_MODIFIED);
    // /global carries the same live section.
    let all = call(&app, Method::GET, "/global", None).await;
    assert_eq!(all.json["models"][0]["live"]["window"]["explanations"], 4);

    let metrics = call(&app, Method::GET, "/metrics", None).await.text;
    let labels = r#"{model="house-prices",version="1""#;
    let count = metric(
        &metrics,
        &format!("explaind_live_attributions_total{labels},"),
    );
    assert_eq!(count, 4.0);
    let abs_sum = metric(
        &metrics,
        &format!("explaind_live_attribution_abs_sum{labels},feature=\"lotsize\"}}"),
    );
    assert!((abs_sum - 4.0 * mean_abs).abs() < 1e-6 * abs_sum);
    assert_eq!(
        metric(&metrics, &format!("explaind_live_rows_total{labels}}}")),
        4.0
    );
    // The bins of one feature count every row once.
    let binned: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with(&format!(
                "explaind_live_feature_bin_total{labels},feature=\"lotsize\""
            ))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(binned, 4.0);
    assert!(metrics.contains("# TYPE explaind_live_feature_bin_expected_ratio gauge"));
}

#[tokio::test]
async fn drift_rises_when_traffic_comes_from_a_shifted_distribution() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/grid", Some(grid_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    // Traffic like the background: every grid point once.
    let same: Vec<Value> = (0..200).map(|i| json!([i % 20, i / 20])).collect();
    let answer = call(
        &app,
        Method::POST,
        "/models/grid/explain",
        Some(json!({"instances": same})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let global = call(&app, Method::GET, "/models/grid/global", None).await;
    let window = &global.json["live"]["window"];
    for name in ["a", "b"] {
        let f = feature(window, name);
        assert!(f["psi"].as_f64().unwrap() < 1e-9, "{name}: {f}");
        // Same rows as the background: the same mean |φ|.
        assert!(
            f["importance_shift"].as_f64().unwrap().abs() < 1e-9,
            "{name}: {f}"
        );
    }

    // Now `a` comes from 30..40, beyond the background; `b` as before.
    let shifted: Vec<Value> = (0..200).map(|i| json!([30 + i % 10, i / 20])).collect();
    let answer = call(
        &app,
        Method::POST,
        "/models/grid/explain",
        Some(json!({"instances": shifted})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let global = call(&app, Method::GET, "/models/grid/global", None).await;
    let window = &global.json["live"]["window"];
    let a = feature(window, "a");
    let b = feature(window, "b");
    // Half the window's `a` values fall in the top decile bin: PSI well past 0.25.
    assert!(a["psi"].as_f64().unwrap() > 0.25, "{a}");
    assert!(b["psi"].as_f64().unwrap() < 1e-9, "{b}");
    // φ_a = 2(a − 9.5): |φ| averages 10 on the grid, 2·(34.5 − 9.5) = 50 shifted, so
    // the window's mean |φ| is 30 against a baseline of 10: a shift of +2.
    assert!(
        (a["baseline_mean_abs"].as_f64().unwrap() - 10.0).abs() < 1e-9,
        "{a}"
    );
    assert!(
        (a["importance_shift"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{a}"
    );
    assert!(b["importance_shift"].as_f64().unwrap().abs() < 1e-9, "{b}");
}

#[tokio::test]
async fn probability_answers_count_for_drift_but_not_for_attributions() {
    let app = default_app().await;
    let put = call(
        &app,
        Method::PUT,
        "/models/clf",
        Some(crate::common::logistic_spec()),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let body = json!({"instances": [[0.0, 1.0]], "output_space": "probability"});
    let answer = call(&app, Method::POST, "/models/clf/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let global = call(&app, Method::GET, "/models/clf/global", None).await;
    let window = &global.json["live"]["window"];
    assert_eq!(window["explanations"], 0);
    assert_eq!(window["rows"], 1);
    // Failed requests count for nothing.
    let bad = call(
        &app,
        Method::POST,
        "/models/clf/explain",
        Some(json!({"instances": [[1.0]]})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let global = call(&app, Method::GET, "/models/clf/global", None).await;
    assert_eq!(global.json["live"]["since_start"]["rows"], 1);
}

#[tokio::test]
async fn a_replaced_model_starts_fresh_live_statistics() {
    let app = default_app().await;
    call(&app, Method::PUT, "/models/grid", Some(grid_spec())).await;
    call(
        &app,
        Method::POST,
        "/models/grid/explain",
        Some(json!({"instances": [[1, 2]]})),
    )
    .await;
    let put = call(&app, Method::PUT, "/models/grid", Some(grid_spec())).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let global = call(&app, Method::GET, "/models/grid/global", None).await;
    assert_eq!(global.json["version"], 2);
    assert_eq!(global.json["live"]["since_start"]["explanations"], 0);
}

#[tokio::test]
async fn the_live_flags_set_the_window_and_the_metric_detail() {
    let config = explaind::config::Config {
        live_window_secs: 60,
        live_bucket_secs: 5,
        live_bins: 4,
        live_metrics_max_features: 3,
        ..explaind::config::Config::defaults()
    };
    let (app, _) = crate::common::ready_app(config).await;
    call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [house()]})),
    )
    .await;
    let global = call(&app, Method::GET, "/models/house-prices/global", None).await;
    assert_eq!(global.json["live"]["window_secs"], 60);
    assert_eq!(global.json["live"]["bucket_secs"], 5);
    let metrics = call(&app, Method::GET, "/metrics", None).await.text;
    // 11 features > 3: totals only.
    assert!(metrics.contains(r#"explaind_live_rows_total{model="house-prices",version="1"} 1"#));
    assert!(!metrics.contains("explaind_live_attribution_abs_sum{"));
    assert!(!metrics.contains("explaind_live_feature_bin_total{"));

    let bad = explaind::config::Config {
        live_bucket_secs: 0,
        ..explaind::config::Config::defaults()
    };
    let err = explaind::server::build_state(bad).err().expect("refused");
    assert!(err.to_string().contains("--live-bucket-secs"), "{err}");
}

/// Every sample of `/metrics` parses as Prometheus reads it (`+Inf`, `-Inf`, `NaN`
/// or a number; Rust's own `inf` is none of them).
fn assert_samples_parse(metrics: &str) {
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        let known = ["+Inf", "-Inf", "NaN"].contains(&value);
        let number = value.parse::<f64>().is_ok_and(f64::is_finite);
        assert!(known || number, "{line}");
    }
}

#[tokio::test]
async fn one_request_of_huge_attributions_does_not_poison_the_live_totals() {
    let app = default_app().await;
    let uri = "/models/house-prices/explain";
    let huge = json!([5e307, 3, 1, 2, 1, 0, 1, 0, 0, 1, 0]);
    let explain = |instances: Value| {
        call(
            &app,
            Method::POST,
            uri,
            Some(json!({"instances": instances})),
        )
    };
    assert_eq!(explain(json!([house_row()])).await.status, StatusCode::OK);
    // Each attribution is finite (the answer is 200), their sum is not.
    let answer = explain(json!([huge, huge])).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(explain(json!([house_row()])).await.status, StatusCode::OK);

    let global = call(&app, Method::GET, "/models/house-prices/global", None).await;
    for section in ["since_start", "window"] {
        let live = &global.json["live"][section];
        assert_eq!(live["explanations"], 2, "{live}");
        assert_eq!(live["out_of_range"], 2, "{live}");
        assert_eq!(live["rows"], 4, "{live}");
        let lotsize = feature(live, "lotsize");
        for field in ["mean_abs", "mean", "importance_shift"] {
            assert!(
                lotsize[field].as_f64().is_some_and(f64::is_finite),
                "{lotsize}"
            );
        }
    }
    let metrics = call(&app, Method::GET, "/metrics", None).await.text;
    assert_samples_parse(&metrics);
    let labels = r#"{model="house-prices",version="1""#;
    let abs_sum = metric(
        &metrics,
        &format!("explaind_live_attribution_abs_sum{labels},feature=\"lotsize\"}}"),
    );
    assert!(abs_sum.is_finite() && abs_sum < 1e6, "{abs_sum}");
    let skipped = metric(
        &metrics,
        &format!("explaind_live_attributions_out_of_range_total{labels}}}"),
    );
    assert_eq!(skipped, 2.0);
}
