//! Answers about a model with categorical raw features (issue 14, items 3 and 5):
//! the dependence grid of a categorical feature is its categories, and exact
//! interventional TreeSHAP over a categorical feature is the Shapley value of the
//! model over raw features, checked against an enumeration of every coalition.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::call;
use crate::raw_inputs::{app_with_model, background, by_hand, REGIONS};

/// A raw row: (size, region, color), `None` for missing.
type Row = (Option<f64>, Option<String>, Option<String>);

fn rows_of(value: &Value) -> Vec<Row> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_f64(),
                r[1].as_str().map(str::to_string),
                r[2].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn eval(row: &Row) -> f64 {
    by_hand(row.0, row.1.as_deref(), row.2.as_deref())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

#[tokio::test]
async fn the_dependence_grid_of_a_categorical_feature_is_its_categories() {
    let (app, _) = app_with_model().await;
    let uri = "/models/cat/global/dependence?feature=region&ice=0";
    let answer = call(&app, Method::GET, uri, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["grid"], json!([0.0, 1.0, 2.0]));
    assert_eq!(answer.json["categories"], json!(REGIONS));
    // PD(region = r) = mean over the background of the model with region set to r.
    let rows = rows_of(&background());
    let average = &answer.json["outputs"][0]["average"];
    for (g, region) in REGIONS.iter().enumerate() {
        let want = rows
            .iter()
            .map(|r| eval(&(r.0, Some(region.to_string()), r.2.clone())))
            .sum::<f64>()
            / rows.len() as f64;
        let got = average[g].as_f64().unwrap();
        assert!(close(got, want), "{region}: {got} vs {want}");
    }
    // A numeric feature keeps its quantile grid and has no categories.
    let uri = "/models/cat/global/dependence?feature=size&ice=0";
    let answer = call(&app, Method::GET, uri, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer.json.get("categories").is_none());
}

#[tokio::test]
async fn ice_curves_of_raw_instances_run_over_the_categories() {
    let (app, _) = app_with_model().await;
    let body = json!({"feature": "region", "instances": [[7.0, "east", null], {"size": 2.0, "region": null, "color": "red"}]});
    let answer = call(
        &app,
        Method::POST,
        "/models/cat/global/dependence",
        Some(body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["categories"], json!(REGIONS));
    let ice = &answer.json["outputs"][0]["ice"];
    let instances: [Row; 2] = [
        (Some(7.0), None, None),
        (Some(2.0), None, Some("red".into())),
    ];
    for (i, row) in instances.iter().enumerate() {
        for (g, region) in REGIONS.iter().enumerate() {
            let want = eval(&(row.0, Some(region.to_string()), row.2.clone()));
            assert_eq!(ice[i][g].as_f64(), Some(want), "instance {i}, {region}");
        }
    }
}

/// Interventional Shapley values of `x` against `background` by enumerating every
/// coalition S: v(S) = mean over background rows b of f(x_S, b_rest), and
/// φ_j = Σ_{S ∌ j} |S|! (n − |S| − 1)! / n! · (v(S ∪ {j}) − v(S)).
fn brute_force_shapley(x: &Row, background: &[Row]) -> Vec<f64> {
    let n = 3;
    let value = |mask: usize| -> f64 {
        let total: f64 = background
            .iter()
            .map(|b| {
                let pick = |j: usize| mask & (1 << j) != 0;
                eval(&(
                    if pick(0) { x.0 } else { b.0 },
                    if pick(1) { x.1.clone() } else { b.1.clone() },
                    if pick(2) { x.2.clone() } else { b.2.clone() },
                ))
            })
            .sum();
        total / background.len() as f64
    };
    let factorial = |k: usize| (1..=k).product::<usize>() as f64;
    (0..n)
        .map(|j| {
            (0..1usize << n)
                .filter(|s| s & (1 << j) == 0)
                .map(|s| {
                    let size = s.count_ones() as usize;
                    let weight = factorial(size) * factorial(n - size - 1) / factorial(n);
                    weight * (value(s | (1 << j)) - value(s))
                })
                .sum()
        })
        .collect()
}

#[tokio::test]
async fn exact_interventional_treeshap_over_categories_equals_the_enumeration() {
    let (app, _) = app_with_model().await;
    let instances = json!([
        [3.0, "east", "red"],
        [8.0, "west", "blue"],
        [null, "south", null],
        [6.0, null, "red"]
    ]);
    let body = json!({"instances": instances, "method": "tree_interventional"});
    let answer = call(&app, Method::POST, "/models/cat/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let bg = rows_of(&background());
    for (i, x) in rows_of(&instances).iter().enumerate() {
        let got = &answer.json["explanations"][i];
        let want = brute_force_shapley(x, &bg);
        for (j, w) in want.iter().enumerate() {
            let g = got["attributions"][j].as_f64().unwrap();
            assert!(close(g, *w), "instance {i}, feature {j}: {g} vs {w}");
        }
        // Efficiency: base (the background mean) + Σφ = f(x).
        let base = bg.iter().map(eval).sum::<f64>() / bg.len() as f64;
        let sum: f64 = want.iter().sum();
        assert!(close(base + sum, eval(x)));
        assert!(close(got["prediction"].as_f64().unwrap(), eval(x)));
    }
}

#[tokio::test]
async fn live_drift_of_a_categorical_feature_is_binned_per_category() {
    let mut config = explaind::config::Config::defaults();
    // Bins must hold at least 2 background rows: of the regions, only south does.
    config.min_summary_rows = 2;
    let (app, _) = crate::raw_inputs::app_with_model_and(config).await;
    let served = json!([
        [1.0, "west", "red"],
        [1.0, "west", "red"],
        [1.0, "east", "red"]
    ]);
    let body = json!({"instances": served, "method": "tree_interventional"});
    let answer = call(&app, Method::POST, "/models/cat/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let answer = call(&app, Method::GET, "/models/cat/global", None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let features = &answer.json["live"]["since_start"]["features"];
    let region = features
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "region")
        .unwrap();
    // Background regions: north, south, west, east (unseen), null, south; bins:
    // south, other (north, west, east), missing. Served: west ×2, east ×1.
    let expected = [2.0 / 6.0, 3.0 / 6.0, 1.0 / 6.0];
    let actual = [0.0, 1.0, 0.0];
    let eps = 1e-4;
    let psi: f64 = expected
        .iter()
        .zip(actual)
        .map(|(&e, a): (&f64, f64)| {
            let (a, e) = (a.max(eps), e.max(eps));
            (a - e) * (a / e).ln()
        })
        .sum();
    let got = region["psi"].as_f64().unwrap();
    assert!(close(got, psi), "{got} vs {psi}");
}

#[tokio::test]
async fn background_statistics_count_categories_instead_of_quantiles_of_codes() {
    let (app, _) = app_with_model().await;
    let answer = call(&app, Method::GET, "/models/cat/weights", None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let features = &answer.json["background"]["features"];
    // Regions of the background: north, south, west, east (unseen), null, south.
    assert_eq!(
        features[1]["categories"],
        json!([
            {"category": "north", "rows": 1},
            {"category": "south", "rows": 2},
            {"category": "west", "rows": 1},
            {"category": null, "unseen": true, "rows": 1},
            {"category": null, "rows": 1}
        ])
    );
    for stat in ["mean", "std", "p05", "p95", "median"] {
        assert_eq!(features[1][stat], Value::Null, "{stat}");
    }
    // The numeric feature keeps its statistics and has no categories.
    assert!(features[0]["median"].is_number());
    assert!(features[0].get("categories").is_none());
}

#[tokio::test]
async fn pictures_show_categories_by_name() {
    let (app, _) = app_with_model().await;
    let body = json!({"instances": [[3.0, "west", null]], "method": "tree_interventional"});
    let answer = call(&app, Method::POST, "/models/cat/explain.svg", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer.text.contains("region = west"), "{}", answer.text);
    assert!(answer.text.contains("color = (missing)"));
    assert!(answer.text.contains("size = 3"));
    let body = json!({"instances": [[3.0, "east", "red"]], "method": "tree_interventional"});
    let answer = call(&app, Method::POST, "/models/cat/explain.svg", Some(body)).await;
    assert!(answer.text.contains("region = (unseen category)"));
    let uri = "/models/cat/dependence.svg?feature=region";
    let answer = call(&app, Method::GET, uri, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    for region in REGIONS {
        let tick = format!(r#"class="tick category">{region}</text>"#);
        assert!(answer.text.contains(&tick), "{region}: {}", answer.text);
    }
}

#[tokio::test]
async fn data_sets_take_raw_rows_and_summaries_run_over_them() {
    let (app, _) = app_with_model().await;
    let rows = json!([
        [2.0, "west", "red"],
        {"size": 6.0, "region": "south", "color": null},
        [null, "east", "blue"]
    ]);
    let doc = json!({"rows": rows, "target": [1.0, 2.0, 3.0]});
    let put = call(&app, Method::PUT, "/models/cat/datasets/d", Some(doc)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let uri = "/models/cat/global/dependence?feature=color&dataset=d&ice=0";
    let answer = call(&app, Method::GET, uri, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["categories"], json!(["red", "blue"]));
    let data: [Row; 3] = [
        (Some(2.0), Some("west".into()), None),
        (Some(6.0), Some("south".into()), None),
        (None, Some("east".into()), None),
    ];
    for (g, color) in ["red", "blue"].iter().enumerate() {
        let want = data
            .iter()
            .map(|r| eval(&(r.0, r.1.clone(), Some(color.to_string()))))
            .sum::<f64>()
            / 3.0;
        let got = answer.json["outputs"][0]["average"][g].as_f64().unwrap();
        assert!(close(got, want), "{color}: {got} vs {want}");
    }
    let bad = json!({"rows": [[1.0, "north", 2]], "target": [1.0]});
    let put = call(&app, Method::PUT, "/models/cat/datasets/e", Some(bad)).await;
    assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = put.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("feature 'color'"), "{message}");
}

#[tokio::test]
async fn open_inference_protocol_takes_categories_as_bytes_tensors() {
    let (app, _) = app_with_model().await;
    let meta = call(&app, Method::GET, "/v2/models/cat", None).await;
    assert_eq!(meta.status, StatusCode::OK, "{}", meta.text);
    assert_eq!(
        meta.json["inputs"],
        json!([
            {"name": "size", "datatype": "FP64", "shape": [-1]},
            {"name": "region", "datatype": "BYTES", "shape": [-1]},
            {"name": "color", "datatype": "BYTES", "shape": [-1]}
        ])
    );
    let body = json!({"inputs": [
        {"name": "size", "shape": [2], "datatype": "FP64", "data": [3.0, null]},
        {"name": "region", "shape": [2], "datatype": "BYTES", "data": ["east", "south"]},
        {"name": "color", "shape": [2], "datatype": "BYTES", "data": ["red", null]}
    ]});
    let answer = call(&app, Method::POST, "/v2/models/cat/infer", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let want = [
        by_hand(Some(3.0), Some("east"), Some("red")),
        by_hand(None, Some("south"), None),
    ];
    assert_eq!(answer.json["outputs"][0]["data"], json!(want));
}

#[tokio::test]
async fn max_sensitivity_keeps_categories_and_moves_numbers() {
    let (app, _) = app_with_model().await;
    // size 3 is far from the only size split (5), so small moves of it change no
    // attribution; a region or color code moved by noise would be another
    // category (north's code 0 minus a little is listed by no split).
    let body = json!({
        "instances": [[3.0, "north", "red"]],
        "method": "tree_interventional",
        "quality": "full"
    });
    let answer = call(&app, Method::POST, "/models/cat/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let quality = &answer.json["explanations"][0]["quality"];
    assert_eq!(
        quality["scores"]["max_sensitivity"],
        json!(0.0),
        "{quality}"
    );
}
