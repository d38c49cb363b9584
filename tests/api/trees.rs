//! Tree ensembles through the API: XGBoost and LightGBM files as the libraries write
//! them, TreeSHAP answers equal to shap's (fixtures from tests/fixtures/gen_trees.py),
//! interactions, tree weight pages, split importance, and bad files.

use crate::common::{call, default_app, fixture};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn case(name: &str) -> Value {
    fixture(&format!("trees/{name}.case.json"))
}

fn model_file(name: &str) -> String {
    let path = format!("{}/tests/fixtures/trees/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|j| format!("f{j}")).collect()
}

fn close(a: &Value, b: &Value, tol: f64) {
    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
}

#[tokio::test]
async fn an_xgboost_file_explains_like_shap() {
    let app = default_app().await;
    let c = case("xgb_bin");
    let document: Value = serde_json::from_str(&model_file("xgb_bin.json")).unwrap();
    let width = c["rows"][0].as_array().unwrap().len();
    let spec = json!({"kind": "xgboost", "feature_names": names(width), "model": document, "background": c["background"]});
    let put = call(&app, Method::PUT, "/models/xgb", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "xgboost");

    let predicted = call(
        &app,
        Method::POST,
        "/models/xgb/predict",
        Some(json!({"instances": c["rows"]})),
    )
    .await;
    assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
    for (ours, theirs) in predicted.json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(c["transformed"].as_array().unwrap())
    {
        let theirs = theirs.as_array().map_or(theirs.clone(), |t| t[0].clone());
        close(&ours[0], &theirs, 1e-5);
    }

    let answer = call(
        &app,
        Method::POST,
        "/models/xgb/explain",
        Some(json!({"instances": c["rows"], "interactions": true})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["method"], "tree_path_dependent");
    let expected = &c["shap"]["path_dependent"]["values"][0];
    for (i, e) in answer.json["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (j, phi) in e["attributions"].as_array().unwrap().iter().enumerate() {
            close(phi, &expected[i][j], 1e-5);
        }
        assert!(e["quality"]["additivity_residual"].as_f64().unwrap().abs() < 1e-4);
        let inter = e["interactions"].as_array().unwrap();
        assert_eq!(inter.len(), width);
        for (j, row) in inter.iter().enumerate() {
            let sum: f64 = row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .sum();
            close(&json!(sum), &e["attributions"][j], 1e-5);
        }
    }

    // Probabilities, asked by name or by default: path-dependent TreeSHAP explains
    // margins only, so the default in probability space is interventional TreeSHAP
    // against the background, as shap's TreeExplainer with data (it was a 422).
    for method in [json!("tree_interventional"), json!("auto"), Value::Null] {
        let mut body = json!({"instances": c["rows"], "output_space": "probability"});
        if !method.is_null() {
            body["method"] = method.clone();
        }
        let prob = call(&app, Method::POST, "/models/xgb/explain", Some(body)).await;
        assert_eq!(prob.status, StatusCode::OK, "{method}: {}", prob.text);
        assert_eq!(prob.json["method"], "tree_interventional", "{method}");
        let expected = &c["shap"]["interventional_probability"]["values"][0];
        for (i, e) in prob.json["explanations"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            for (j, phi) in e["attributions"].as_array().unwrap().iter().enumerate() {
                close(phi, &expected[i][j], 1e-5);
            }
        }
    }
}

#[tokio::test]
async fn a_lightgbm_multiclass_file_explains_the_chosen_class() {
    let app = default_app().await;
    let c = case("lgb_multi");
    let width = c["rows"][0].as_array().unwrap().len();
    let spec = json!({"kind": "lightgbm", "feature_names": names(width), "model": model_file("lgb_multi.txt"), "background": c["background"]});
    let put = call(&app, Method::PUT, "/models/lgb", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let classes = put.json["output_names"].as_array().unwrap().len();
    assert!(classes >= 3);
    let predicted = call(
        &app,
        Method::POST,
        "/models/lgb/predict",
        Some(json!({"instances": c["rows"]})),
    )
    .await;
    for (ours, theirs) in predicted.json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(c["transformed"].as_array().unwrap())
    {
        for k in 0..classes {
            close(&ours[k], &theirs[k], 1e-9);
        }
    }
    let answer = call(
        &app,
        Method::POST,
        "/models/lgb/explain",
        Some(json!({"instances": c["rows"], "output": 1})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["output"], "class_1");
    let expected = &c["shap"]["path_dependent"]["values"][1];
    for (i, e) in answer.json["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (j, phi) in e["attributions"].as_array().unwrap().iter().enumerate() {
            close(phi, &expected[i][j], 1e-9);
        }
    }
    let global = call(&app, Method::GET, "/models/lgb/global", None).await;
    assert_eq!(global.status, StatusCode::OK, "{}", global.text);
    assert!(global.json["features"][0]["splits"].is_number());
    assert!(global.json["features"][0]["gain"].is_number());
}

#[tokio::test]
async fn tree_weights_come_in_pages() {
    let app = default_app().await;
    let spec = json!({"kind": "lightgbm", "feature_names": names(case("lgb_reg")["rows"][0].as_array().unwrap().len()), "model": model_file("lgb_reg.txt")});
    assert_eq!(
        call(&app, Method::PUT, "/models/reg", Some(spec))
            .await
            .status,
        StatusCode::CREATED
    );
    let first = call(&app, Method::GET, "/models/reg/weights", None).await;
    assert_eq!(first.status, StatusCode::OK);
    let trees = &first.json["trees"];
    let total = trees["total"].as_u64().unwrap() as usize;
    assert_eq!(trees["summary"]["trees"].as_u64().unwrap() as usize, total);
    assert_eq!(trees["trees"].as_array().unwrap().len(), total.min(10));
    let one = call(&app, Method::GET, "/models/reg/weights?tree=2", None).await;
    assert_eq!(one.json["trees"]["trees"].as_array().unwrap().len(), 1);
    assert_eq!(
        one.json["trees"]["trees"][0],
        first.json["trees"]["trees"][2]
    );
    let page = call(
        &app,
        Method::GET,
        "/models/reg/weights?offset=1&limit=3",
        None,
    )
    .await;
    assert_eq!(
        page.json["trees"]["trees"][0],
        first.json["trees"]["trees"][1]
    );
    for bad in [
        "?limit=0",
        "?limit=1000",
        "?tree=1&limit=2",
        "?tree=100000",
        "?page=2",
    ] {
        let answer = call(
            &app,
            Method::GET,
            &format!("/models/reg/weights{bad}"),
            None,
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn bad_tree_files_and_pairings_are_422() {
    let app = default_app().await;
    let good: Value = serde_json::from_str(&model_file("xgb_reg.json")).unwrap();
    let width = case("xgb_reg")["rows"][0].as_array().unwrap().len();
    let truncated = model_file("xgb_reg.json")[..500].to_string();
    let cases = [
        json!({"kind": "xgboost", "feature_names": names(width), "model": truncated}),
        json!({"kind": "xgboost", "feature_names": names(width)}),
        json!({"kind": "lightgbm", "feature_names": names(width), "model": {"not": "text"}}),
        json!({"kind": "lightgbm", "feature_names": names(width), "model": "tree\nversion=v4\n"}),
        json!({"kind": "xgboost", "feature_names": names(width + 3), "model": good}),
        json!({"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]}, "model": good}),
    ];
    for spec in cases {
        let answer = call(&app, Method::PUT, "/models/bad", Some(spec)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], "invalid_model");
    }
    let spec = json!({"kind": "xgboost", "feature_names": names(width), "model": good});
    call(&app, Method::PUT, "/models/reg", Some(spec)).await;
    let row = case("xgb_reg")["rows"][0].clone();
    for (body, code) in [
        (
            json!({"instances": [row], "method": "linear_shap"}),
            "method_not_supported",
        ),
        (
            json!({"instances": [row], "method": "tree_interventional"}),
            "invalid_argument",
        ),
        (
            json!({"instances": [row], "output_space": "probability"}),
            "invalid_argument",
        ),
    ] {
        let answer = call(
            &app,
            Method::POST,
            "/models/reg/explain",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], code, "{body}");
    }
    let interactions_elsewhere = call(
        &app,
        Method::POST,
        "/models/house-prices/explain",
        Some(json!({"instances": [crate::common::house()], "interactions": true})),
    )
    .await;
    assert_eq!(
        interactions_elsewhere.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn tree_weights_picture_shows_gain_and_split_count() {
    let app = default_app().await;
    let width = case("lgb_reg")["rows"][0].as_array().unwrap().len();
    let spec = json!({"kind": "lightgbm", "feature_names": names(width), "model": model_file("lgb_reg.txt")});
    call(&app, Method::PUT, "/models/reg", Some(spec)).await;
    let global_weights = call(&app, Method::GET, "/models/reg/weights.svg", None).await;
    assert_eq!(
        global_weights.status,
        StatusCode::OK,
        "{}",
        global_weights.text
    );
    let svg = roxmltree::Document::parse(&global_weights.text).expect("valid XML");
    let bars: Vec<_> = svg
        .descendants()
        .filter(|n| n.attribute("class") == Some("bar"))
        .collect();
    assert_eq!(
        bars.len(),
        2 * width,
        "one gain bar and one split bar per feature"
    );
    // Split-count bars carry the counts the model's own statistics give: the sum of
    // the split panel equals the number of internal nodes over all trees.
    let weights = call(&app, Method::GET, "/models/reg/weights?limit=100", None).await;
    let internal: usize = weights.json["trees"]["trees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let nodes = t["nodes"].as_array().unwrap();
            nodes.iter().filter(|n| n["feature"].is_number()).count()
        })
        .sum();
    let split_total: f64 = bars[width..]
        .iter()
        .map(|b| b.attribute("data-value").unwrap().parse::<f64>().unwrap())
        .sum();
    if weights.json["trees"]["total"].as_u64().unwrap() <= 100 && internal > 0 {
        assert_eq!(split_total as usize, internal);
    }
    let bad = call(&app, Method::GET, "/models/reg/weights.svg?layer=0", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_xgboost_file_without_names_gets_xgboosts_own() {
    // A booster trained on arrays saves no feature names: without `feature_names`
    // in the document its features are f0, f1, ... (XGBoost's names for them), and
    // it explains as the named file does.
    let app = default_app().await;
    let c = case("xgb_reg");
    let named: Value = serde_json::from_str(&model_file("xgb_reg.json")).unwrap();
    let mut unnamed = named.clone();
    let learner = unnamed["learner"].as_object_mut().unwrap();
    learner.insert("feature_names".into(), json!([]));
    learner.insert("feature_types".into(), json!([]));
    let width = c["rows"][0].as_array().unwrap().len();
    let put = call(
        &app,
        Method::PUT,
        "/models/unnamed",
        Some(json!({"kind": "xgboost", "model": unnamed, "background": c["background"]})),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["feature_names"], json!(names(width)));
    let spec = json!({"kind": "xgboost", "model": named, "background": c["background"]});
    let put = call(&app, Method::PUT, "/models/named", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let body = json!({"instances": c["rows"]});
    let a = call(
        &app,
        Method::POST,
        "/models/unnamed/explain",
        Some(body.clone()),
    )
    .await;
    let b = call(&app, Method::POST, "/models/named/explain", Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["values"], b.json["values"]);
}

/// `rows` with feature 4's codes (numbers) named `c0`, `c1`, … (nulls kept).
fn coded_as_names(rows: &Value) -> Value {
    let mut named = rows.clone();
    for row in named.as_array_mut().unwrap() {
        if let Some(code) = row[4].as_f64() {
            row[4] = json!(format!("c{code}"));
        }
    }
    named
}

#[tokio::test]
async fn pandas_categories_in_lightgbm_and_xgboost_files_are_named_in_rows() {
    // Models trained on pandas `category` columns keep the categories' names: LightGBM
    // on a `pandas_categorical:` line, XGBoost 3 in `cats.enc` (UTF-8 bytes cut by
    // offsets); code = index. The fixtures' categorical feature 4 (codes 0–5) gets the
    // names c0–c5 in each format; rows naming them explain as the codes do.
    let app = default_app().await;
    let names6: Vec<String> = (0..6).map(|k| format!("c{k}")).collect();
    let lgb_text = model_file("lgb_bin_cat.txt").replace(
        "pandas_categorical:null",
        &format!("pandas_categorical:[{}]", json!(names6)),
    );
    let mut xgb_doc: Value = serde_json::from_str(&model_file("xgb_bin_cat.json")).unwrap();
    let (mut offsets, mut bytes) = (vec![0usize], Vec::<u8>::new());
    for n in &names6 {
        bytes.extend(n.as_bytes());
        offsets.push(bytes.len());
    }
    xgb_doc["learner"]["gradient_booster"]["model"]["cats"]["enc"][4] =
        json!({"offsets": offsets, "values": bytes});
    for (kind, file, named_model, coded_model) in [
        (
            "lightgbm",
            "lgb_bin_cat",
            json!(lgb_text),
            json!(model_file("lgb_bin_cat.txt")),
        ),
        (
            "xgboost",
            "xgb_bin_cat",
            xgb_doc,
            serde_json::from_str(&model_file("xgb_bin_cat.json")).unwrap(),
        ),
    ] {
        let c = case(file);
        let width = c["rows"][0].as_array().unwrap().len();
        let named = json!({"kind": kind, "feature_names": names(width), "model": named_model,
                           "background": coded_as_names(&c["background"])});
        let put = call(
            &app,
            Method::PUT,
            &format!("/models/{kind}-named"),
            Some(named),
        )
        .await;
        assert_eq!(put.status, StatusCode::CREATED, "{kind}: {}", put.text);
        let coded = json!({"kind": kind, "feature_names": names(width), "model": coded_model,
                           "background": c["background"]});
        let put = call(
            &app,
            Method::PUT,
            &format!("/models/{kind}-coded"),
            Some(coded),
        )
        .await;
        assert_eq!(put.status, StatusCode::CREATED, "{kind}: {}", put.text);
        for method in ["tree_path_dependent", "tree_interventional"] {
            let by_name = json!({"instances": coded_as_names(&c["rows"]), "method": method});
            let by_code = json!({"instances": c["rows"], "method": method});
            let a = call(
                &app,
                Method::POST,
                &format!("/models/{kind}-named/explain"),
                Some(by_name),
            )
            .await;
            let b = call(
                &app,
                Method::POST,
                &format!("/models/{kind}-coded/explain"),
                Some(by_code),
            )
            .await;
            assert_eq!(a.status, StatusCode::OK, "{kind} {method}: {}", a.text);
            assert_eq!(a.json["values"], b.json["values"], "{kind} {method}");
        }
        // A category the model never saw is explained, not refused.
        let mut unseen = coded_as_names(&c["rows"]);
        unseen[0][4] = json!("never-seen");
        let answer = call(
            &app,
            Method::POST,
            &format!("/models/{kind}-named/explain"),
            Some(json!({"instances": unseen})),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{kind}: {}", answer.text);
    }
}
