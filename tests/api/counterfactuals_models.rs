//! Counterfactuals of tree ensembles (categories included) and of any model
//! (growing spheres on an MLP), and the picture.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{call, default_app, fixture, house, iris_spec};

fn tree_spec(name: &str) -> Value {
    let c = fixture(&format!("trees/{name}.case.json"));
    let path = format!(
        "{}/tests/fixtures/trees/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let document: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let width = c["rows"][0].as_array().unwrap().len();
    let names: Vec<String> = (0..width).map(|j| format!("f{j}")).collect();
    json!({"kind": "xgboost", "feature_names": names, "model": document, "background": c["background"]})
}

#[tokio::test]
async fn a_tree_model_with_categorical_splits_keeps_to_the_allowed_categories() {
    let app = default_app().await;
    let put = call(
        &app,
        Method::PUT,
        "/models/cat",
        Some(tree_spec("xgb_bin_cat")),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let rows = fixture("trees/xgb_bin_cat.case.json")["rows"].clone();
    let uri = "/models/cat/counterfactuals";
    let mut answered = 0;
    for row in rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r.as_array().unwrap().contains(&Value::Null))
    {
        let predicted = call(
            &app,
            Method::POST,
            "/models/cat/predict",
            Some(json!({"instances": [row]})),
        )
        .await;
        let p = predicted.json["predictions"][0][0].as_f64().unwrap();
        let target = if p >= 0.5 { 0 } else { 1 };
        let allowed = [0.0, 1.0, 2.0];
        let body = json!({"instance": row, "target": target, "categories": {"f4": allowed},
                          "immutable": ["f0"], "cost": {"f1": 1.0, "f2": 1.0, "f3": 1.0}});
        let a = call(&app, Method::POST, uri, Some(body)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.json["method"], "tree_branch_and_bound");
        assert_eq!(a.json["optimal"], true);
        for cf in a.json["counterfactuals"].as_array().unwrap() {
            let x = &cf["instance"];
            assert_eq!(x[0], row[0], "immutable f0 changed");
            let code = x[4].as_f64().unwrap();
            assert!(
                code == row[4].as_f64().unwrap() || allowed.contains(&code),
                "{code}"
            );
            // Unit weights on numbers; a category change costs 1.
            let numeric: f64 = (1..4)
                .map(|j| (x[j].as_f64().unwrap() - row[j].as_f64().unwrap()).abs())
                .sum();
            let category = f64::from(u8::from(code != row[4].as_f64().unwrap()));
            let cost = cf["cost"].as_f64().unwrap();
            assert!(
                (cost - numeric - category).abs() < 1e-9,
                "{cost} vs {numeric} + {category}"
            );
            let q = cf["prediction"][0].as_f64().unwrap();
            assert_eq!(q >= 0.5, target == 1, "{q}");
            answered += 1;
        }
    }
    assert!(answered >= 3);
    // Only the category may change: its change costs 1 whatever the codes' MAD
    // (doubled codes in the background make that MAD 2).
    let mut spec = tree_spec("xgb_bin_cat");
    for r in spec["background"].as_array_mut().unwrap() {
        if let Some(v) = r[4].as_f64() {
            r[4] = json!(v * 2.0);
        }
    }
    call(&app, Method::PUT, "/models/cat2", Some(spec)).await;
    let mut category_only = 0;
    for row in rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r.as_array().unwrap().contains(&Value::Null))
    {
        for target in [0, 1] {
            let body = json!({"instance": row, "target": target, "categories": {"f4": [0, 1, 2, 3, 4, 5]},
                              "immutable": ["f0", "f1", "f2", "f3"]});
            let a = call(
                &app,
                Method::POST,
                "/models/cat2/counterfactuals",
                Some(body),
            )
            .await;
            if let Some(cf) = a.json["counterfactuals"].get(0) {
                assert_eq!(cf["cost"], 1.0, "{}", a.text);
                category_only += 1;
            }
        }
    }
    assert!(category_only >= 1);
    let body = json!({"instance": rows[1], "target": 0, "categories": {"f4": ["blue"]}});
    let a = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(a.text.contains("categories.f4"));
    // A feature read as categories by the request takes no bounds and no `integer`:
    // they were ignored, they are refused.
    for extra in [
        json!({"bounds": {"f4": [0, 1]}}),
        json!({"integer": ["f4"]}),
    ] {
        let mut body = json!({"instance": rows[1], "target": 0, "categories": {"f4": [0, 1, 2]}});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let a = call(&app, Method::POST, uri, Some(body)).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert!(
            a.text.contains("'f4' is a categorical feature"),
            "{}",
            a.text
        );
    }
}

#[tokio::test]
async fn any_model_gets_a_seeded_growing_spheres_answer() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/iris", Some(iris_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let setosa =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});
    let body = json!({"instance": setosa, "target": "versicolor", "immutable": ["sepal_width"], "seed": 7});
    let a = call(
        &app,
        Method::POST,
        "/models/iris/counterfactuals",
        Some(body.clone()),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["method"], "growing_spheres");
    assert_eq!(a.json["optimal"], false);
    let cf = &a.json["counterfactuals"][0];
    let p = cf["prediction"].as_array().unwrap();
    let best = (0..3).max_by(|&i, &j| p[i].as_f64().unwrap().total_cmp(&p[j].as_f64().unwrap()));
    assert_eq!(best, Some(1), "{p:?}");
    assert_eq!(cf["instance"]["sepal_width"], 3.5);
    let again = call(
        &app,
        Method::POST,
        "/models/iris/counterfactuals",
        Some(body),
    )
    .await;
    assert_eq!(
        again.json["counterfactuals"], a.json["counterfactuals"],
        "same seed, same answer"
    );
}

#[tokio::test]
async fn the_picture_highlights_the_changed_features() {
    let app = default_app().await;
    let body = json!({"instance": house(), "target": {"min": 80000}, "max_changes": 1});
    let json = call(
        &app,
        Method::POST,
        "/models/house-prices/counterfactuals",
        Some(body.clone()),
    )
    .await;
    let changed = json.json["counterfactuals"][0]["changes"][0]["feature"]
        .as_str()
        .unwrap()
        .to_string();
    let a = call(
        &app,
        Method::POST,
        "/models/house-prices/counterfactuals.svg",
        Some(body),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "image/svg+xml");
    let doc = roxmltree::Document::parse(&a.text).unwrap();
    let marked: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("data-changed"))
        .collect();
    assert_eq!(marked, vec![changed.as_str()]);
    assert!(a.text.contains("proved minimal"));
}

#[tokio::test]
async fn a_search_stopped_by_its_time_limit_reports_its_bound_without_a_proof() {
    let app = default_app().await;
    let c = fixture("trees/lgb_multi.case.json");
    let path = format!(
        "{}/tests/fixtures/trees/lgb_multi.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let width = c["rows"][0].as_array().unwrap().len();
    let names: Vec<String> = (0..width).map(|j| format!("f{j}")).collect();
    let spec = json!({"kind": "lightgbm", "feature_names": names,
                      "model": std::fs::read_to_string(path).unwrap(), "background": c["background"]});
    let put = call(&app, Method::PUT, "/models/multi", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let row = &c["rows"][1];
    assert!(!row.as_array().unwrap().contains(&Value::Null));
    let predicted = call(
        &app,
        Method::POST,
        "/models/multi/predict",
        Some(json!({"instances": [row]})),
    )
    .await;
    let p: Vec<f64> = predicted.json["predictions"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // The least likely class.
    let target = (0..p.len()).min_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
    let uri = "/models/multi/counterfactuals";
    let exact = call(
        &app,
        Method::POST,
        uri,
        Some(json!({"instance": row, "target": target, "count": 5})),
    )
    .await;
    assert_eq!(exact.status, StatusCode::OK, "{}", exact.text);
    assert_eq!(exact.json["optimal"], true);
    let least = exact.json["counterfactuals"][0]["cost"].as_f64().unwrap();
    // Five diverse answers take milliseconds; one millisecond stops the search.
    let body = json!({"instance": row, "target": target, "count": 5, "timeout_ms": 1});
    let cut = call(&app, Method::POST, uri, Some(body)).await;
    assert_eq!(cut.status, StatusCode::OK, "{}", cut.text);
    assert_eq!(cut.json["optimal"], false);
    assert_eq!(cut.json["infeasible"], false);
    let bound = cut.json["bound"].as_f64().unwrap();
    assert!(bound <= least + 1e-12, "{bound} > {least}");
}

/// A network whose margin is relu(a) + relu(b) + relu(c − 2) − 1.5: with `a` and `b`
/// bounded by 1, class 1 is reached by `a` and `b` together (cost 1.5) or by `c`
/// alone (c ≥ 3.5, cost 3.5), never by `a` or `b` alone.
fn two_paths_spec() -> Value {
    json!({
        "kind": "mlp",
        "feature_names": ["a", "b", "c"],
        "params": {"layers": [
            {"weights": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
             "bias": [0.0, 0.0, -2.0], "activation": "relu"},
            {"weights": [[1.0], [1.0], [1.0]], "bias": [-1.5], "activation": "sigmoid"}
        ]},
        "background": [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [-1.0, 0.5, 4.0]]
    })
}

#[tokio::test]
async fn max_changes_one_finds_a_networks_one_feature_answer() {
    let app = default_app().await;
    let put = call(&app, Method::PUT, "/models/paths", Some(two_paths_spec())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let uri = "/models/paths/counterfactuals";
    let mut body = json!({"instance": {"a": 0.0, "b": 0.0, "c": 0.0}, "target": 1,
                          "bounds": {"a": [-1, 1], "b": [-1, 1], "c": [-5, 10]},
                          "cost": {"a": 1, "b": 1, "c": 1}, "max_changes": 1});
    let one = call(&app, Method::POST, uri, Some(body.clone())).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.json["method"], "growing_spheres");
    let cf = &one.json["counterfactuals"][0];
    let changes = cf["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{}", one.text);
    assert_eq!(changes[0]["feature"], "c");
    // The least is c = 3.5; the shell it is found in holds it within 20%.
    let c = changes[0]["to"].as_f64().unwrap();
    assert!((3.5..=4.2).contains(&c), "{c}");
    assert!(cf["prediction"][0].as_f64().unwrap() >= 0.5);
    // Without the limit, the cheaper answer moving a and b (a + b ≥ 1.5).
    body.as_object_mut().unwrap().remove("max_changes");
    let free = call(&app, Method::POST, uri, Some(body)).await;
    let cf = &free.json["counterfactuals"][0];
    let moved: Vec<&str> = cf["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["feature"].as_str().unwrap())
        .collect();
    assert_eq!(moved, ["a", "b"], "{}", free.text);
    assert!(cf["cost"].as_f64().unwrap() < 2.0, "{}", free.text);
}
