//! Pictures and the dashboard through `oneshot`: every bar is checked against the
//! JSON number it draws, the SVG is parsed as XML, and every error is JSON.

use crate::common::{call, default_app, house, logistic_spec, multinomial_spec, send, Answer};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};

/// (attribute map) of every element with this class, in document order.
fn elements(svg: &str, class: &str) -> Vec<std::collections::HashMap<String, String>> {
    let doc = roxmltree::Document::parse(svg).expect("the picture is valid XML");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .map(|n| {
            n.attributes()
                .map(|a| (a.name().to_string(), a.value().to_string()))
                .collect()
        })
        .collect()
}

fn num(attrs: &std::collections::HashMap<String, String>, name: &str) -> f64 {
    attrs[name].parse().unwrap()
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

/// Bar widths must be |value| × one factor common to every bar of the panel.
fn assert_proportional(widths: &[f64], values: &[f64]) {
    let (i, max) = values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap();
    let k = widths[i] / max.abs();
    assert!(k > 0.0);
    for (w, v) in widths.iter().zip(values) {
        assert!(
            (w - v.abs() * k).abs() < 0.02,
            "width {w} for value {v} (k = {k})"
        );
    }
}

/// Positive values in shap's red, negative in its blue.
fn sign_colour(v: f64) -> &'static str {
    if v < 0.0 {
        "#1e88e5"
    } else {
        "#ff0d57"
    }
}

async fn get(app: &Router, uri: &str) -> Answer {
    call(app, Method::GET, uri, None).await
}

fn assert_svg(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers["content-type"], "image/svg+xml");
}

fn assert_error(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.json["error"]["code"], code, "{}", answer.text);
}

#[tokio::test]
async fn global_svg_draws_the_json_summary() {
    let app = default_app().await;
    let summary = get(&app, "/models/house-prices/global").await.json;
    let answer = get(&app, "/models/house-prices/global.svg").await;
    assert_svg(&answer);
    let bars = elements(&answer.text, "bar");
    let features = summary["features"].as_array().unwrap();
    assert_eq!(bars.len(), 11);
    let widths: Vec<f64> = bars.iter().map(|b| num(b, "width")).collect();
    let values: Vec<f64> = features
        .iter()
        .map(|f| f["importance"].as_f64().unwrap())
        .collect();
    for (bar, f) in bars.iter().zip(features) {
        assert_eq!(bar["data-label"], f["name"].as_str().unwrap(), "same order");
    }
    assert_proportional(&widths, &values);
    // The signed mean is a marker on each row.
    assert_eq!(elements(&answer.text, "marker").len(), 11);
    let title = &texts(&answer.text)[0];
    for part in ["house-prices", "v1"] {
        assert!(title.contains(part), "{title}");
    }
    let subtitle = &texts(&answer.text)[1];
    assert!(subtitle.contains("546 background rows") && subtitle.contains("linear_shap"));
    // The axis says what is measured, in which unit; every feature is named.
    let all = texts(&answer.text);
    assert!(all.iter().any(|t| t == "mean |attribution| (price)"));
    for f in features {
        assert!(all.iter().any(|t| t == f["name"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn global_svg_top_k_and_conditional_requests() {
    let app = default_app().await;
    let top = get(&app, "/models/house-prices/global.svg?top=3").await;
    assert_svg(&top);
    let bars = elements(&top.text, "bar");
    let labels: Vec<&str> = bars.iter().map(|b| b["data-label"].as_str()).collect();
    assert_eq!(labels, ["bathrooms", "lotsize", "aircon"]);
    assert!(texts(&top.text)[1].contains("top 3 of 11 features"));

    let first = get(&app, "/models/house-prices/global.svg").await;
    let etag = first.headers["etag"].to_str().unwrap().to_string();
    let again = get(&app, "/models/house-prices/global.svg").await;
    assert_eq!(again.text, first.text, "same version, same picture");
    assert_eq!(again.headers["etag"], etag.as_str());
    assert_ne!(top.headers["etag"], etag.as_str());
    let request = Request::get("/models/house-prices/global.svg")
        .header("if-none-match", &etag)
        .body(Body::empty())
        .unwrap();
    let cached = send(&app, request).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.text.is_empty());

    let uri = "/models/house-prices/weights.svg?scale=standardized";
    let weights = get(&app, uri).await;
    let request = Request::get(uri)
        .header("if-none-match", weights.headers["etag"].clone())
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn global_svg_errors_are_json() {
    let app = default_app().await;
    let cases = [
        (
            "/models/house-prices/global.svg?top=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            "/models/house-prices/global.svg?top=lots",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/models/house-prices/global.svg?color=red",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/models/nope/global.svg",
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            "/models/nope/weights.svg",
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            "/models/house-prices/weights.svg?output=volume",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            "/models/house-prices/weights.svg?scale=log",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ];
    for (uri, status, code) in cases {
        assert_error(&get(&app, uri).await, status, code);
    }
    // No background, no summary and no standard deviations.
    let mut spec = logistic_spec();
    spec.as_object_mut().unwrap().remove("background");
    let put = call(&app, Method::PUT, "/models/bare", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED);
    let cases = [
        ("/models/bare/global.svg", "invalid_argument"),
        (
            "/models/bare/weights.svg?scale=standardized",
            "invalid_argument",
        ),
    ];
    for (uri, code) in cases {
        assert_error(
            &get(&app, uri).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        );
    }
    assert_svg(&get(&app, "/models/bare/weights.svg").await);
}

#[tokio::test]
async fn weights_svg_draws_raw_and_standardized_coefficients() {
    let app = default_app().await;
    let weights = get(&app, "/models/house-prices/weights").await.json;
    let coefficients = weights["linear"]["coefficients"].as_array().unwrap();
    let raw = get(&app, "/models/house-prices/weights.svg").await;
    assert_svg(&raw);
    let bars = elements(&raw.text, "bar");
    assert_eq!(bars.len(), 11);
    let values: Vec<f64> = coefficients
        .iter()
        .map(|c| c["values"][0].as_f64().unwrap())
        .collect();
    for (bar, c) in bars.iter().zip(coefficients) {
        assert_eq!(
            bar["data-label"],
            c["feature"].as_str().unwrap(),
            "feature order"
        );
    }
    assert_proportional(
        &bars.iter().map(|b| num(b, "width")).collect::<Vec<_>>(),
        &values,
    );
    // Coloured by sign (every house-price coefficient is positive).
    for (bar, v) in bars.iter().zip(&values) {
        assert_eq!(bar["fill"], sign_colour(*v));
    }

    // Standardized: the same numbers /global reports.
    let summary = get(&app, "/models/house-prices/global").await.json;
    let std = get(&app, "/models/house-prices/weights.svg?scale=standardized").await;
    assert_svg(&std);
    let bars = elements(&std.text, "bar");
    let expected: Vec<f64> = bars
        .iter()
        .map(|b| {
            let f = summary["features"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == b["data-label"].as_str())
                .unwrap();
            f["standardized_coefficients"][0].as_f64().unwrap()
        })
        .collect();
    for (bar, e) in bars.iter().zip(&expected) {
        assert!((num(bar, "data-value") - e).abs() <= 1e-9 * e.abs().max(1.0));
    }
    assert_proportional(
        &bars.iter().map(|b| num(b, "width")).collect::<Vec<_>>(),
        &expected,
    );
    assert!(texts(&std.text)
        .iter()
        .any(|t| t.starts_with("coefficient × std (price per standard deviation)")));
}

#[tokio::test]
async fn weights_svg_groups_multi_output_models_by_output() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/three", Some(multinomial_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED);
    let all = get(&app, "/models/three/weights.svg").await;
    assert_svg(&all);
    assert_eq!(
        elements(&all.text, "bar").len(),
        6,
        "3 outputs × 2 features"
    );
    let headings: Vec<String> = texts(&all.text)
        .into_iter()
        .filter(|t| t.starts_with("output: "))
        .collect();
    assert_eq!(headings.len(), 3);
    for (uri, class) in [
        ("/models/three/weights.svg?output=y", "y"),
        ("/models/three/weights.svg?output=2", "z"),
    ] {
        let one = get(&app, uri).await;
        assert_svg(&one);
        let bars = elements(&one.text, "bar");
        assert_eq!(bars.len(), 2);
        assert!(texts(&one.text)
            .iter()
            .any(|t| t.starts_with(&format!("output: {class} "))));
        assert!(texts(&one.text)
            .iter()
            .any(|t| t.contains(&format!("log-odds of {class}"))));
    }
}

#[tokio::test]
async fn explain_svg_is_a_waterfall_of_the_json_answer() {
    let app = default_app().await;
    let body = json!({"instances": [house()]});
    let answer = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(body.clone()),
    )
    .await;
    let e = &answer.json["explanations"][0];
    let picture = call(
        &app,
        Method::POST,
        "/models/house-prices/explain.svg",
        Some(body),
    )
    .await;
    assert_svg(&picture);
    let steps = elements(&picture.text, "step");
    assert_eq!(steps.len(), 11);
    let names = answer.json["feature_names"].as_array().unwrap();
    let mut deltas = Vec::new();
    for step in &steps {
        let j = names
            .iter()
            .position(|n| n == step["data-feature"].as_str())
            .unwrap();
        let expected = e["attributions"][j].as_f64().unwrap();
        // serde_json parses to within an ulp; the picture prints the exact value.
        assert!((num(step, "data-delta") - expected).abs() <= 1e-12 * expected.abs());
        assert_eq!(
            num(step, "data-value"),
            house()[names[j].as_str().unwrap()].as_f64().unwrap()
        );
        deltas.push(expected);
    }
    // Largest first, widths proportional, and the walk chains bar to bar.
    assert!(deltas.windows(2).all(|w| w[0].abs() >= w[1].abs()));
    let widths: Vec<f64> = steps.iter().map(|s| num(s, "width")).collect();
    assert_proportional(&widths, &deltas);
    // Positive and negative contributions in two colours.
    for (step, d) in steps.iter().zip(&deltas) {
        assert_eq!(step["fill"], sign_colour(*d));
    }
    assert!(deltas.iter().any(|d| *d < 0.0) && deltas.iter().any(|d| *d > 0.0));
    let base = elements(&picture.text, "base");
    let prediction = elements(&picture.text, "prediction");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
    assert!(close(
        num(&base[0], "data-value"),
        e["base_value"].as_f64().unwrap()
    ));
    assert!(close(
        num(&prediction[0], "data-value"),
        e["prediction"].as_f64().unwrap()
    ));
    let all = texts(&picture.text);
    assert!(
        all.iter().any(|t| t == "bathrooms = 1"),
        "values beside names"
    );
    assert!(
        all.iter().any(|t| t == "\u{2212}4,096"),
        "the bathroom's push down"
    );
}

#[tokio::test]
async fn explain_svg_errors_are_json() {
    let app = default_app().await;
    let uri = "/models/house-prices/explain.svg";
    let two = json!({"instances": [house(), house()]});
    assert_error(
        &call(&app, Method::POST, uri, Some(two)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let none = json!({"instances": []});
    assert_error(
        &call(&app, Method::POST, uri, Some(none)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let unknown = json!({"instances": [house()]});
    assert_error(
        &call(
            &app,
            Method::POST,
            "/models/nope/explain.svg",
            Some(unknown),
        )
        .await,
        StatusCode::NOT_FOUND,
        "model_not_found",
    );
    let other = json!({"model": "other", "instances": [house()]});
    assert_error(
        &call(&app, Method::POST, uri, Some(other)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    );
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from("{\"instances\": "))
        .unwrap();
    assert_error(
        &send(&app, request).await,
        StatusCode::BAD_REQUEST,
        "bad_json",
    );
    // A classifier in probability space draws in probability units.
    call(&app, Method::PUT, "/models/churn", Some(logistic_spec())).await;
    let body = json!({"instances": [[1.0, 2.0]], "output_space": "probability"});
    let p = call(&app, Method::POST, "/models/churn/explain.svg", Some(body)).await;
    assert_svg(&p);
    assert!(texts(&p.text).iter().any(|t| t == "probability of yes"));
}

#[tokio::test]
async fn twenty_features_with_long_names_do_not_overlap() {
    let app = default_app().await;
    let names: Vec<String> = (0..20)
        .map(|i| format!("a_rather_long_feature_name_<{i}>"))
        .collect();
    let coefficients: Vec<f64> = (0..20).map(|i| (i as f64 - 9.5) * 0.3).collect();
    let background: Vec<Vec<f64>> = (0..30)
        .map(|r| (0..20).map(|c| ((r * 7 + c * 3) % 11) as f64).collect())
        .collect();
    let spec = json!({"kind": "linear", "feature_names": names,
        "params": {"coefficients": coefficients, "intercept": 1.0}, "background": background});
    let put = call(&app, Method::PUT, "/models/wide", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let instance: Vec<f64> = (0..20).map(|c| c as f64).collect();
    let pictures = [
        get(&app, "/models/wide/global.svg").await.text,
        get(&app, "/models/wide/weights.svg").await.text,
        call(
            &app,
            Method::POST,
            "/models/wide/explain.svg",
            Some(json!({"instances": [instance]})),
        )
        .await
        .text,
    ];
    for svg in &pictures {
        let doc = roxmltree::Document::parse(svg).expect("valid XML, names escaped");
        let root = doc.root_element();
        let width: f64 = root.attribute("width").unwrap().parse().unwrap();
        let labels: Vec<(f64, f64)> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("label"))
            .map(|n| {
                let y: f64 = n.attribute("y").unwrap().parse().unwrap();
                let x: f64 = n.attribute("x").unwrap().parse().unwrap();
                (x, y)
            })
            .collect();
        assert!(labels.len() >= 20);
        let mut ys: Vec<f64> = labels.iter().map(|l| l.1).collect();
        ys.sort_by(f64::total_cmp);
        assert!(
            ys.windows(2).all(|w| w[1] - w[0] >= 14.0),
            "rows 14 px apart or more"
        );
        // Right-aligned labels end left of every bar and fit inside the picture.
        let first_bar = doc
            .descendants()
            .filter(|n| matches!(n.attribute("class"), Some("bar" | "step")))
            .map(|n| n.attribute("x").unwrap().parse::<f64>().unwrap())
            .fold(f64::INFINITY, f64::min);
        for (x, _) in &labels {
            assert!(*x < first_bar && *x <= width);
            // 33 characters at 11 px need about 190 px to their left.
            assert!(*x >= 190.0, "label end at {x}");
        }
        assert!(svg.contains("a_rather_long_feature_name_&lt;19&gt;"));
    }
}

#[tokio::test]
async fn weights_report_background_medians() {
    let app = default_app().await;
    let weights = get(&app, "/models/house-prices/weights").await.json;
    let features = weights["background"]["features"].as_array().unwrap();
    let median = |name: &str| -> Value {
        features.iter().find(|f| f["name"] == name).unwrap()["median"].clone()
    };
    // 546 houses: the median lot is 4,600 square feet; most have 3 bedrooms.
    assert_eq!(median("lotsize"), json!(4600.0));
    assert_eq!(median("bedrooms"), json!(3.0));
}

#[tokio::test]
async fn the_dashboard_and_its_assets_are_served() {
    let app = default_app().await;
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(page.text.contains("id=\"explain-form\""));
    for (uri, media) in [
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/app.css", "text/css; charset=utf-8"),
    ] {
        let asset = get(&app, uri).await;
        assert_eq!(asset.status, StatusCode::OK);
        assert_eq!(asset.headers["content-type"], media);
        assert!(
            !asset.text.contains("http://") && !asset.text.contains("https://"),
            "no CDN"
        );
    }
    assert_error(
        &get(&app, "/static/nope.js").await,
        StatusCode::NOT_FOUND,
        "route_not_found",
    );
}
