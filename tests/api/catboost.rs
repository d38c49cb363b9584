//! CatBoost models through the API: the JSON document `save_model(format="json",
//! pool=pool)` writes, registered as an object or a string; predictions and TreeSHAP
//! answers equal to CatBoost's (fixtures from tests/fixtures/gen_catboost.py), tree
//! weight pages, `/global` without split statistics (bad documents:
//! `catboost_bad_input.rs`). Rows hold categories as strings and missing values as
//! null, as the fixtures hold them and as users send them.

use crate::common::{call, default_app, fixture};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn case(name: &str) -> Value {
    fixture(&format!("catboost/{name}.case.json"))
}

pub fn document(name: &str) -> Value {
    fixture(&format!("catboost/{name}.json"))
}

fn close(got: &Value, want: f64, tol: f64) {
    let got = got.as_f64().unwrap();
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{got} vs {want}"
    );
}

#[tokio::test]
async fn a_categorical_catboost_model_predicts_and_explains_as_catboost() {
    let app = default_app().await;
    let c = case("cb_bin_cat");
    let rows = c["rows"].clone();
    let spec = json!({"kind": "catboost", "model": document("cb_bin_cat"),
                      "background": c["background"].clone()});
    let put = call(&app, Method::PUT, "/models/loans", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "catboost");
    assert_eq!(put.json["feature_names"], c["feature_names"]);
    assert_eq!(put.json["output_names"], json!(["1"]));

    let body = json!({"instances": rows});
    let predicted = call(&app, Method::POST, "/models/loans/predict", Some(body)).await;
    assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
    let predictions = predicted.json["predictions"].as_array().unwrap();
    for (ours, theirs) in predictions.iter().zip(c["probability"].as_array().unwrap()) {
        close(&ours[0], theirs[1].as_f64().unwrap(), 1e-9);
    }

    let body = json!({"instances": rows});
    let answer = call(&app, Method::POST, "/models/loans/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["method"], "tree_path_dependent");
    let explanations = answer.json["explanations"].as_array().unwrap();
    for (e, want) in explanations
        .iter()
        .zip(c["shap_values"].as_array().unwrap())
    {
        // CatBoost's ShapValues: one value per raw feature, then the expected value.
        let want = want.as_array().unwrap();
        for (j, phi) in e["attributions"].as_array().unwrap().iter().enumerate() {
            close(phi, want[j].as_f64().unwrap(), 1e-9);
        }
        close(
            &e["base_value"],
            want[want.len() - 1].as_f64().unwrap(),
            1e-9,
        );
    }

    let body = json!({"instances": rows, "method": "tree_interventional",
                      "output_space": "probability"});
    let prob = call(&app, Method::POST, "/models/loans/explain", Some(body)).await;
    assert_eq!(prob.status, StatusCode::OK, "{}", prob.text);
    for (e, p) in prob.json["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .zip(predictions)
    {
        // Efficiency in probability space: base + Σφ is the predicted probability.
        let sum: f64 = e["attributions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        close(
            &json!(e["base_value"].as_f64().unwrap() + sum),
            p[0].as_f64().unwrap(),
            1e-9,
        );
    }
}

#[tokio::test]
async fn a_multiclass_document_as_a_string_explains_the_named_class() {
    let app = default_app().await;
    let c = case("cb_multi");
    let text = serde_json::to_string(&document("cb_multi")).unwrap();
    let spec = json!({"kind": "catboost", "model": text});
    let put = call(&app, Method::PUT, "/models/multi", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["output_names"], c["classes"]);
    let k = c["classes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|l| l == "low")
        .unwrap();
    let body = json!({"instances": c["rows"].clone(), "output": "low"});
    let answer = call(&app, Method::POST, "/models/multi/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["output"], "low");
    let explanations = answer.json["explanations"].as_array().unwrap();
    for (e, want) in explanations
        .iter()
        .zip(c["shap_values"].as_array().unwrap())
    {
        for (j, phi) in e["attributions"].as_array().unwrap().iter().enumerate() {
            close(phi, want[k][j].as_f64().unwrap(), 1e-9);
        }
    }
}

#[tokio::test]
async fn weights_page_the_expanded_trees_and_global_has_catboost_importance() {
    let app = default_app().await;
    let c = case("cb_reg");
    let spec =
        json!({"kind": "catboost", "model": document("cb_reg"), "background": c["background"]});
    let put = call(&app, Method::PUT, "/models/houses", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let weights = call(
        &app,
        Method::GET,
        "/models/houses/weights?offset=2&limit=3",
        None,
    )
    .await;
    assert_eq!(weights.status, StatusCode::OK, "{}", weights.text);
    let trees = &weights.json["trees"];
    assert_eq!(trees["total"], 30);
    assert_eq!(trees["summary"]["objective"], "RMSE");
    let page = trees["trees"].as_array().unwrap();
    assert_eq!(page.len(), 3);
    // A depth-d oblivious tree expands into a complete binary tree of 2^(d+1) − 1 nodes.
    let depth = document("cb_reg")["oblivious_trees"][2]["splits"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        page[0]["nodes"].as_array().unwrap().len(),
        (1 << (depth + 1)) - 1
    );

    let global = call(&app, Method::GET, "/models/houses/global", None).await;
    assert_eq!(global.status, StatusCode::OK, "{}", global.text);
    let features = global.json["features"].as_array().unwrap();
    assert_eq!(features.len(), 11);
    // No split statistics in the document; CatBoost's own PredictionValuesChange,
    // computed from the trees, equals get_feature_importance()'s, per feature name.
    let names = c["feature_names"].as_array().unwrap();
    for f in features {
        assert!(f["importance"].is_number());
        assert!(f.get("splits").is_none() && f.get("gain").is_none(), "{f}");
        let j = names.iter().position(|n| *n == f["name"]).unwrap();
        let want = c["feature_importance"][j].as_f64().unwrap();
        close(&f["prediction_values_change"], want, 1e-9);
    }
    // The weights picture draws what the document allows: PredictionValuesChange,
    // one bar per feature, the numbers of /global.
    let svg = call(&app, Method::GET, "/models/houses/weights.svg", None).await;
    assert_eq!(svg.status, StatusCode::OK, "{}", svg.text);
    assert!(svg.text.contains("PredictionValuesChange"));
    let doc = roxmltree::Document::parse(&svg.text).expect("valid SVG");
    let bars: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("bar"))
        .collect();
    assert_eq!(bars.len(), 11);
    for bar in bars {
        let name = bar.attribute("data-label").unwrap();
        let value: f64 = bar.attribute("data-value").unwrap().parse().unwrap();
        let f = features.iter().find(|f| f["name"] == name).unwrap();
        close(&f["prediction_values_change"], value, 1e-12);
    }
}

#[tokio::test]
async fn model_agnostic_shapley_values_over_raw_features_equal_tree_interventional() {
    // exact_shapley enumerates coalitions of the raw features on the model's predict,
    // with absent features drawn from the background: the same game interventional
    // TreeSHAP solves exactly, one player per categorical feature (its code).
    let app = default_app().await;
    let c = case("cb_bin_cat");
    let spec = json!({"kind": "catboost", "model": document("cb_bin_cat"),
                      "background": c["background"].clone()});
    let put = call(&app, Method::PUT, "/models/loans", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let rows = c["rows"].clone();
    let mut answers = Vec::new();
    for method in ["exact_shapley", "tree_interventional"] {
        let body = json!({"instances": rows, "method": method});
        let answer = call(&app, Method::POST, "/models/loans/explain", Some(body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{method}: {}", answer.text);
        answers.push(answer.json["explanations"].clone());
    }
    for (exact, tree) in answers[0]
        .as_array()
        .unwrap()
        .iter()
        .zip(answers[1].as_array().unwrap())
    {
        let tree = tree["attributions"].as_array().unwrap();
        assert_eq!(tree.len(), 5, "one attribution per raw feature");
        for (e, t) in exact["attributions"].as_array().unwrap().iter().zip(tree) {
            close(e, t.as_f64().unwrap(), 1e-9);
        }
    }
}

#[tokio::test]
async fn raw_values_reach_catboost_by_name_null_and_unseen_alike() {
    // An unseen category and a missing one (null) both take CatBoost's "not equal"
    // side of every one-hot split; instances may be objects keyed by raw feature.
    let app = default_app().await;
    let c = case("cb_bin_cat");
    let spec =
        json!({"kind": "catboost", "model": document("cb_bin_cat"), "background": c["background"]});
    let put = call(&app, Method::PUT, "/models/loans", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let row = &c["rows"][0]; // region "atlantis": never seen in training
    let as_object = json!({"income": row[0], "age": row[1], "region": row[2], "purpose": row[3], "debt": row[4]});
    let mut missing_region = row.clone();
    missing_region[2] = Value::Null;
    let body = json!({"instances": [row, as_object, missing_region], "output_space": "raw"});
    let predicted = call(&app, Method::POST, "/models/loans/predict", Some(body)).await;
    assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
    let want = c["raw"][0][0].as_f64().unwrap();
    for p in predicted.json["predictions"].as_array().unwrap() {
        close(&p[0], want, 1e-9);
    }

    let mut wrong = row.clone();
    wrong[2] = json!(1.0);
    let body = json!({"instances": [row, wrong]});
    let answer = call(&app, Method::POST, "/models/loans/explain", Some(body)).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    let message = answer.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("instance 1") && message.contains("'region'"),
        "{message}"
    );

    // Partial dependence over a categorical feature runs over its categories.
    let uri = "/models/loans/global/dependence?feature=region&ice=0";
    let dependence = call(&app, Method::GET, uri, None).await;
    assert_eq!(dependence.status, StatusCode::OK, "{}", dependence.text);
    assert_eq!(
        dependence.json["categories"],
        json!(["east", "north", "south", "west"])
    );
}

/// A counterfactual of a row holding a category the model never saw keeps that
/// category as the row sent it (it has a code but no name of the model's), in the
/// changed instance and in a change's `from`.
#[tokio::test]
async fn a_counterfactual_keeps_an_unseen_category_as_sent() {
    let app = default_app().await;
    let c = case("cb_bin_cat");
    let spec = json!({"kind": "catboost", "model": document("cb_bin_cat"),
                      "background": c["background"].clone()});
    let put = call(&app, Method::PUT, "/models/loans", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let instance = json!({"income": 20.0, "age": 20.0, "region": "mars", "purpose": "car",
                          "debt": 10.8});
    let predicted = call(
        &app,
        Method::POST,
        "/models/loans/predict",
        Some(json!({"instances": [instance.clone()]})),
    )
    .await;
    let p = predicted.json["predictions"][0][0].as_f64().unwrap();
    // Ask for the other side of 0.5 from where the row is.
    let target = if p > 0.5 {
        json!({"max": 0.5})
    } else {
        json!({"min": 0.5})
    };
    for immutable in [
        json!(["region"]),
        json!(["income", "age", "purpose", "debt"]),
    ] {
        let body = json!({"instance": instance.clone(), "target": target.clone(),
                          "immutable": immutable.clone()});
        let answer = call(
            &app,
            Method::POST,
            "/models/loans/counterfactuals",
            Some(body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let Some(first) = answer.json["counterfactuals"].get(0) else {
            assert_eq!(answer.json["infeasible"], true, "{}", answer.text);
            continue;
        };
        let region = &first["instance"]["region"];
        let changed = first["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["feature"] == "region");
        match changed {
            Some(change) => {
                assert_eq!(change["from"], "mars", "{}", answer.text);
                assert!(region.is_string() && region != "mars", "{}", answer.text);
            }
            None => assert_eq!(region, "mars", "{}", answer.text),
        }
    }
}

/// Bounds and `integer` on a categorical feature were silently ignored (the solvers
/// move it among its categories only); they are refused naming the feature, and the
/// same constraints on a numeric feature are still taken.
#[tokio::test]
async fn counterfactual_bounds_or_integer_on_a_category_are_refused() {
    let app = default_app().await;
    let c = case("cb_bin_cat");
    let spec = json!({"kind": "catboost", "model": document("cb_bin_cat"),
                      "background": c["background"].clone()});
    let put = call(&app, Method::PUT, "/models/loans", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let instance = json!({"income": 20.0, "age": 20.0, "region": "north", "purpose": "car",
                          "debt": 10.8});
    let uri = "/models/loans/counterfactuals";
    let ask = |extra: Value| {
        let mut body = json!({"instance": instance.clone(), "target": {"max": 0.5}});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        call(&app, Method::POST, uri, Some(body))
    };
    let a = ask(json!({"integer": ["age", "region"]})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(
        a.text
            .contains("integer: 'region' is a categorical feature"),
        "{}",
        a.text
    );
    let a = ask(json!({"bounds": {"purpose": [0, 1], "debt": [0, 20]}})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert!(
        a.text
            .contains("bounds.purpose: 'purpose' is a categorical feature"),
        "{}",
        a.text
    );
    let a = ask(json!({"integer": ["age"], "bounds": {"debt": [0, 20]}})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}
