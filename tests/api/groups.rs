//! Feature groups through the API: declared at registration, reported as sums
//! (`group_by`), played as one by the sampling explainers (`players`), and the
//! error paths.

use crate::common::{call, default_app, house};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

/// The demo house-price model with two declared groups.
fn grouped_spec() -> Value {
    let mut spec = serde_json::to_value(explaind::demo::house_prices_spec().unwrap()).unwrap();
    spec["groups"] = json!({"location": ["driveway", "prefer"], "comfort": ["gasheat", "aircon"]});
    spec
}

const GROUPS: [&str; 9] = [
    "lotsize",
    "bedrooms",
    "bathrooms",
    "stories",
    "location",
    "recreation",
    "fullbase",
    "comfort",
    "garage",
];

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

async fn app_with_groups() -> axum::Router {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/houses", Some(grouped_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    app
}

async fn explain(app: &axum::Router, body: Value) -> crate::common::Answer {
    call(app, Method::POST, "/models/houses/explain", Some(body)).await
}

/// Per-feature linear SHAP values summed by hand into the nine groups.
async fn hand_sums(app: &axum::Router) -> Vec<f64> {
    let plain = explain(app, json!({"instances": [house()]})).await;
    let names: Vec<String> = plain.json["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let phi = floats(&plain.json["values"][0]);
    let of = |n: &str| phi[names.iter().position(|m| m == n).unwrap()];
    GROUPS
        .iter()
        .map(|g| match *g {
            "location" => of("driveway") + of("prefer"),
            "comfort" => of("gasheat") + of("aircon"),
            f => of(f),
        })
        .collect()
}

#[tokio::test]
async fn the_model_shows_its_groups_in_input_order() {
    let app = app_with_groups().await;
    let info = call(&app, Method::GET, "/models/houses", None).await;
    let groups = info.json["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, GROUPS);
    assert_eq!(groups[4]["features"], json!(["driveway", "prefer"]));
    assert_eq!(groups[0]["features"], json!(["lotsize"]));
    // A model without groups shows none.
    let plain = call(&app, Method::GET, "/models/house-prices", None).await;
    assert!(plain.json.get("groups").is_none());
}

#[tokio::test]
async fn group_by_reports_the_sums_of_the_members() {
    let app = app_with_groups().await;
    let expected = hand_sums(&app).await;
    let answer = explain(&app, json!({"instances": [house()], "group_by": "groups"})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["feature_names"], json!(GROUPS));
    let got = floats(&answer.json["values"][0]);
    for (a, b) in got.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    }
    // Sums keep efficiency: base + Σ = prediction.
    let e = &answer.json["explanations"][0];
    assert!(e["quality"]["additivity_residual"].as_f64().unwrap().abs() < 1e-6);
    // A sampling method's per-feature standard errors do not add up: left out.
    let body = json!({"instances": [house()], "group_by": "groups", "method": "permutation_shap"});
    let sampled = explain(&app, body).await;
    assert_eq!(sampled.status, StatusCode::OK, "{}", sampled.text);
    assert!(sampled.json["explanations"][0]["quality"]
        .get("standard_errors")
        .is_none());
    assert_eq!(sampled.json["values"][0].as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn groups_as_players_give_the_group_shapley_values() {
    let app = app_with_groups().await;
    // On a linear model a group's Shapley value in the game of groups is the sum of
    // its members' values, so every SHAP estimator must find the hand sums (kernel
    // SHAP enumerates all 2^9 coalitions; permutation sampling is exact on an
    // additive model).
    let expected = hand_sums(&app).await;
    for method in ["exact_shapley", "kernel_shap", "permutation_shap"] {
        let body = json!({"instances": [house()], "players": "groups", "method": method,
                          "max_background": 1000});
        let answer = explain(&app, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{method}: {}", answer.text);
        assert_eq!(answer.json["feature_names"], json!(GROUPS));
        for (a, b) in floats(&answer.json["values"][0]).iter().zip(&expected) {
            assert!(
                (a - b).abs() < 1e-6 * b.abs().max(1.0),
                "{method}: {a} vs {b}"
            );
        }
        let se = &answer.json["explanations"][0]["quality"]["standard_errors"];
        if method != "exact_shapley" {
            assert_eq!(se.as_array().unwrap().len(), 9, "{method}: {se}");
        }
    }
    // LIME with groups: one coefficient per group, reproducible with its seed.
    let body = json!({"instances": [house()], "players": "groups", "method": "lime", "seed": 3});
    let lime = explain(&app, body.clone()).await;
    assert_eq!(lime.status, StatusCode::OK, "{}", lime.text);
    assert_eq!(lime.json["values"][0].as_array().unwrap().len(), 9);
    assert!(lime.json["explanations"][0]["quality"]["surrogate_r2"].is_number());
    assert_eq!(
        explain(&app, body).await.json["values"],
        lime.json["values"]
    );
    // Quality scores work on group players too.
    let body = json!({"instances": [house()], "players": "groups", "method": "exact_shapley",
                      "quality": "full"});
    let full = explain(&app, body).await;
    assert_eq!(full.status, StatusCode::OK, "{}", full.text);
    let curve = &full.json["explanations"][0]["quality"]["scores"]["deletion_curve"];
    assert_eq!(
        curve.as_array().unwrap().len(),
        10,
        "9 groups removed one by one"
    );
}

#[tokio::test]
async fn bad_group_requests_get_clear_422s() {
    let app = app_with_groups().await;
    let cases = [
        (
            "/models/house-prices/explain",
            json!({"group_by": "groups"}),
            "declares no feature groups",
        ),
        (
            "/models/houses/explain",
            json!({"group_by": "clusters"}),
            "unknown group_by 'clusters'",
        ),
        (
            "/models/houses/explain",
            json!({"players": "groups"}),
            "not linear_shap",
        ),
        (
            "/models/houses/explain",
            json!({"players": "groups", "group_by": "features", "method": "kernel_shap"}),
            "drop `group_by: features`",
        ),
        (
            "/models/houses/explain.svg",
            json!({"group_by": "groups"}),
            "per-feature",
        ),
    ];
    for (uri, mut body, says) in cases {
        body["instances"] = json!([house()]);
        let answer = call(&app, Method::POST, uri, Some(body)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {}",
            answer.text
        );
        assert!(answer.text.contains(says), "{uri}: {}", answer.text);
    }
    for (groups, says) in [
        (
            json!({"g": ["driveway", "nowhere"]}),
            "unknown feature 'nowhere'",
        ),
        (
            json!({"g": ["driveway"], "h": ["driveway"]}),
            "each feature may be in one group",
        ),
        (json!({"g": []}), "has no features"),
        (json!({}), "at least one group"),
        (
            json!({"lotsize": ["driveway", "prefer"]}),
            "name of feature 'lotsize'",
        ),
        (json!(["driveway"]), "groups"),
    ] {
        let mut spec = grouped_spec();
        spec["groups"] = groups;
        let put = call(&app, Method::PUT, "/models/bad", Some(spec)).await;
        assert!(put.status.is_client_error(), "{}", put.text);
        assert!(put.text.contains(says), "{says}: {}", put.text);
    }
    assert_eq!(
        call(&app, Method::GET, "/models/bad", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn grouped_answers_count_rows_but_not_attributions_live() {
    let app = app_with_groups().await;
    explain(&app, json!({"instances": [house()], "group_by": "groups"})).await;
    explain(&app, json!({"instances": [house()]})).await;
    let global = call(&app, Method::GET, "/models/houses/global", None).await;
    let window = &global.json["live"]["window"];
    assert_eq!(window["rows"], 2);
    assert_eq!(window["explanations"], 1);
}

#[tokio::test]
async fn groups_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = explaind::config::Config {
        model_dir: Some(dir.path().to_path_buf()),
        ..explaind::config::Config::defaults()
    };
    let (app, _) = crate::common::ready_app(config.clone()).await;
    let put = call(&app, Method::PUT, "/models/houses", Some(grouped_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let (again, _) = crate::common::ready_app(config).await;
    let info = call(&again, Method::GET, "/models/houses", None).await;
    assert_eq!(info.json["groups"][4]["name"], "location");
    let answer = explain(
        &again,
        json!({"instances": [house()], "group_by": "groups"}),
    )
    .await;
    assert_eq!(answer.json["feature_names"], json!(GROUPS));
}
