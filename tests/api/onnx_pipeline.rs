//! skl2onnx pipelines through the API (issue 14, items 2 and 5): a ColumnTransformer
//! over a DataFrame with string columns, then trees, registered with one request
//! (the file as exported, a background of raw rows with strings and nulls) and
//! explained per raw feature on raw rows; the values are the Shapley values of the
//! deployed graph enumerated with onnxruntime (tests/fixtures/onnx_pipeline).

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use crate::common::{assert_adds_up, call, default_app};
use crate::onnx_support::{assert_shapley, close, fixture};

async fn register(app: &Router, name: &str, fixture_name: &str) -> (Value, crate::common::Answer) {
    let (model, doc) = fixture(fixture_name);
    let spec = json!({"kind": "onnx", "model": model, "background": doc["background"]});
    let put = call(app, Method::PUT, &format!("/models/{name}"), Some(spec)).await;
    (doc, put)
}

#[tokio::test]
async fn a_pipeline_registers_and_explains_raw_rows_per_raw_feature() {
    let app = default_app().await;
    let (doc, put) = register(&app, "houses", "rf_regressor").await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["feature_names"], doc["raw_features"]);
    // Raw rows: strings for region and heating, null for a missing lotsize, and
    // categories never seen in training ("atlantis", "solar").
    let predicted = call(
        &app,
        Method::POST,
        "/models/houses/predict",
        Some(json!({"instances": doc["rows"]})),
    )
    .await;
    assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
    for (r, want) in doc["predictions"].as_array().unwrap().iter().enumerate() {
        let got = &predicted.json["predictions"][r][0];
        close(got, want, want.as_f64().unwrap().abs(), "prediction");
    }
    let answer = call(
        &app,
        Method::POST,
        "/models/houses/explain",
        Some(json!({"instances": doc["rows"], "method": "tree_interventional"})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let scale = doc["base"].as_f64().unwrap().abs();
    for (r, e) in answer.json["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let want = doc["shapley"][r].as_array().unwrap();
        let got = e["attributions"].as_array().unwrap();
        assert_eq!(got.len(), 6, "one attribution per raw feature");
        for (g, w) in got.iter().zip(want) {
            close(g, w, scale, &format!("row {r}"));
        }
        close(&e["base_value"], &doc["base"], scale, "base");
    }
}

/// Model-agnostic methods read the same raw features: exact_shapley over the
/// pipeline's background equals the enumeration on the graph too.
#[tokio::test]
async fn exact_shapley_on_raw_features_equals_the_enumeration() {
    let app = default_app().await;
    let (doc, put) = register(&app, "houses", "rf_regressor").await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let answer = call(
        &app,
        Method::POST,
        "/models/houses/explain",
        Some(json!({"instances": doc["rows"], "method": "exact_shapley"})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let scale = doc["base"].as_f64().unwrap().abs();
    for (r, e) in answer.json["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (g, w) in e["attributions"]
            .as_array()
            .unwrap()
            .iter()
            .zip(doc["shapley"][r].as_array().unwrap())
        {
            close(g, w, scale, &format!("exact_shapley row {r}"));
        }
    }
}

#[tokio::test]
async fn an_instance_by_name_with_strings_explains_the_classifier() {
    let app = default_app().await;
    let (doc, put) = register(&app, "expensive", "gb_classifier").await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let row = json!({
        "lotsize": null, "bedrooms": 2.0, "bathrooms": 1.0, "stories": 1.0,
        "region": "atlantis", "heating": "solar"
    });
    let answer = call(
        &app,
        Method::POST,
        "/models/expensive/explain",
        Some(json!({"instances": [row], "method": "tree_interventional"})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let e = &answer.json["explanations"][0];
    // That row is the fixture's row 7; raw output = the margin.
    for (g, w) in e["attributions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(doc["shapley"][7].as_array().unwrap())
    {
        close(g, w, 1.0, "classifier row 7");
    }
    let wrong = json!({
        "lotsize": "big", "bedrooms": 2.0, "bathrooms": 1.0, "stories": 1.0,
        "region": "north", "heating": "gas"
    });
    let refused = call(
        &app,
        Method::POST,
        "/models/expensive/explain",
        Some(json!({"instances": [wrong]})),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert!(refused.text.contains("lotsize"), "{}", refused.text);
}

/// A linear head behind imputed and one-hot encoded columns (issue 14, item 2):
/// registered with one request, it predicts what onnxruntime computes and its
/// default method (linear_shap) gives the enumerated Shapley values over raw
/// features; exact_shapley (model-agnostic, on the same raw rows) agrees, and
/// probability space answers with parts that add up.
#[tokio::test]
async fn a_linear_head_behind_encoded_columns_explains_raw_rows() {
    let app = default_app().await;
    for (name, fixture_name) in [("price", "encoded_linear"), ("dear", "encoded_logistic")] {
        let (doc, put) = register(&app, name, fixture_name).await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
        assert_eq!(put.json["feature_names"], doc["raw_features"]);
        let predicted = call(
            &app,
            Method::POST,
            &format!("/models/{name}/predict"),
            Some(json!({"instances": doc["rows"]})),
        )
        .await;
        assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
        for (r, want) in doc["predictions"].as_array().unwrap().iter().enumerate() {
            let got = &predicted.json["predictions"][r][0];
            close(got, want, want.as_f64().unwrap().abs(), "prediction");
        }
        for method in ["auto", "exact_shapley"] {
            let body = json!({"instances": doc["rows"], "method": method, "output_space": "raw"});
            let path = format!("/models/{name}/explain");
            let answer = call(&app, Method::POST, &path, Some(body)).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            assert_shapley(&answer.json, &doc, 6, &format!("{fixture_name} {method}"));
        }
    }
    let body = json!({"instances": [[null, 2.0, 1.0, 1.0, "atlantis", "solar"]],
        "output_space": "probability"});
    let answer = call(&app, Method::POST, "/models/dear/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // A probability: the tolerance is absolute.
    assert_adds_up(&answer.json["explanations"][0], 1e-9);
}

/// scikit-learn's default OneHotEncoder (handle_unknown="error", ONNX zeros = 0):
/// onnxruntime fails on a category the encoder does not list, so explaind refuses
/// it with a 422 naming the feature, and explains listed ones.
#[tokio::test]
async fn a_strict_encoder_refuses_unseen_categories_as_onnxruntime_does() {
    let app = default_app().await;
    let (model, _) = fixture("strict_rf");
    let background = json!([
        [5850.0, 3.0, 1.0, 2.0, "east", "none"],
        [null, 2.0, 1.0, 1.0, "north", "gas"]
    ]);
    let spec = json!({"kind": "onnx", "model": model, "background": background});
    let put = call(&app, Method::PUT, "/models/strict", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let seen = json!([4000.0, 3.0, 2.0, 2.0, "north", "air"]);
    let ok = call(
        &app,
        Method::POST,
        "/models/strict/explain",
        Some(json!({"instances": [seen]})),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let unseen = json!([4000.0, 3.0, 2.0, 2.0, "atlantis", "air"]);
    let refused = call(
        &app,
        Method::POST,
        "/models/strict/explain",
        Some(json!({"instances": [unseen]})),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert!(
        refused
            .text
            .contains("feature 'region': a category the model does not list"),
        "{}",
        refused.text
    );
    let bad_background = json!({"kind": "onnx", "model": model, "background": [[1.0, 1.0, 1.0, 1.0, "atlantis", "gas"]]});
    let put = call(&app, Method::PUT, "/models/strict2", Some(bad_background)).await;
    assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", put.text);
    assert!(
        put.text.contains("category 'atlantis' is not listed"),
        "{}",
        put.text
    );
}

/// `/weights` shows the preprocessing the file holds, per column its model reads;
/// the steps written for the numeric columns, applied to the raw rows, give the
/// columns onnxruntime computed (float32 arithmetic, so to float32 precision).
#[tokio::test]
async fn weights_show_the_preprocessing_steps_as_the_file_holds_them() {
    let app = default_app().await;
    let (doc, put) = register(&app, "houses", "rf_regressor").await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let weights = call(&app, Method::GET, "/models/houses/weights", None).await;
    assert_eq!(weights.status, StatusCode::OK, "{}", weights.text);
    let columns = weights.json["preprocessing"]
        .as_array()
        .expect("preprocessing");
    let derived = doc["derived"].as_array().unwrap();
    assert_eq!(columns.len(), derived[0].as_array().unwrap().len());
    let number = |step: &str, after: &str| -> f64 {
        let rest = &step[step.find(after).unwrap() + after.len()..];
        let end = rest.find([')', ' ']).unwrap_or(rest.len());
        rest[..end].parse().unwrap()
    };
    for (j, column) in columns.iter().enumerate().take(4) {
        assert_eq!(column["feature"], doc["raw_features"][j]);
        let steps: Vec<&str> = column["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for (r, row) in doc["rows"].as_array().unwrap().iter().enumerate() {
            let mut x = row[j].as_f64().unwrap_or(f64::NAN) as f32;
            for step in &steps {
                if step.starts_with("impute NaN") && x.is_nan() {
                    x = number(step, "→ ") as f32;
                } else if step.starts_with("scale") {
                    x = (x - number(step, "(x − ") as f32) * number(step, "× ") as f32;
                }
            }
            let want = derived[r][j].as_f64().unwrap() as f32;
            assert!(
                (x - want).abs() <= 1e-5 * want.abs().max(1.0),
                "row {r}, {}: {steps:?} gives {x}, onnxruntime {want}",
                column["feature"]
            );
        }
    }
    // The string columns are one-hot columns, one per category.
    let region: Vec<&Value> = columns
        .iter()
        .filter(|c| c["feature"] == "region")
        .collect();
    assert!(region.len() >= 2, "{region:?}");
    assert!(region
        .iter()
        .all(|c| c["steps"][0].as_str().unwrap().starts_with("one-hot = '")));
}

/// A OneHotEncoder fitted on a string column with missing values learns "missing" as
/// a category of its own (skl2onnx lists it as "nan"): a null in that column is that
/// category, as scikit-learn predicts it, not an unseen one. Both a linear head
/// (read as additive over the raw features, its numbers without an imputer) and a
/// forest (folded into trees) register with nulls in the background and predict
/// scikit-learn's probabilities; the explanations add up.
#[tokio::test]
async fn a_missing_category_is_the_category_scikit_learn_learned() {
    let app = default_app().await;
    // A forest classifier's outputs are averaged probabilities already ("raw").
    for (fixture_name, space) in [
        ("missing_logistic", "probability"),
        ("missing_forest", "raw"),
    ] {
        let (doc, put) = register(&app, fixture_name, fixture_name).await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
        let predicted = call(
            &app,
            Method::POST,
            &format!("/models/{fixture_name}/predict"),
            Some(json!({"instances": doc["rows"]})),
        )
        .await;
        assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
        let rows = doc["rows"].as_array().unwrap();
        for (r, want) in doc["predictions"].as_array().unwrap().iter().enumerate() {
            let got = &predicted.json["predictions"][r][0];
            close(got, want, 1.0, &format!("{fixture_name} row {r}"));
            if rows[r][4].is_null() {
                let unseen = doc["unseen_predictions"][r].as_f64().unwrap();
                assert!(
                    (got.as_f64().unwrap() - unseen).abs() > 1e-3,
                    "{fixture_name} row {r}: a missing region predicted as an unseen one"
                );
            }
        }
        let body = json!({"instances": doc["rows"], "method": "exact_shapley",
            "output_space": space});
        let path = format!("/models/{fixture_name}/explain");
        let answer = call(&app, Method::POST, &path, Some(body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        for (r, e) in answer.json["explanations"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_adds_up(e, 1e-9);
            close(
                &e["prediction"],
                &doc["predictions"][r],
                1.0,
                "explained prediction",
            );
        }
    }
    // No imputer in front of the linear head's numbers: a null there is still
    // refused, naming the feature, while the same row's null region is accepted.
    let body = json!({"instances": [[null, 3.0, 1.0, 2.0, null, "gas"]]});
    let refused = call(
        &app,
        Method::POST,
        "/models/missing_logistic/predict",
        Some(body),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert!(refused.text.contains("'lotsize'"), "{}", refused.text);
}

/// scikit-learn networks behind preprocessing, as skl2onnx writes them: behind a
/// StandardScaler (a Scaler node) the network's first layer absorbs the scaler and
/// explaind hosts an `mlp` over the raw features (integrated gradients included);
/// behind an imputer and a OneHotEncoder it hosts the network behind the
/// preprocessing, and the model-agnostic methods explain it per raw feature. Both
/// predict onnxruntime's probabilities (both were refused: "unsupported operator
/// 'Scaler'", "the graph needs exactly one input").
#[tokio::test]
async fn networks_behind_scalers_and_encoders_register() {
    let app = default_app().await;
    let (model, doc) = fixture("scaled_mlp");
    let names = json!(["lotsize", "bedrooms", "bathrooms", "stories"]);
    let spec = json!({"kind": "onnx", "model": model, "background": doc["background"],
        "feature_names": names});
    let put = call(&app, Method::PUT, "/models/scaled", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "mlp", "{}", put.text);
    assert_eq!(put.json["feature_names"], names);
    let (doc2, put) = register(&app, "encoded", "encoded_mlp").await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["feature_names"], doc2["raw_features"]);
    for (name, doc) in [("scaled", &doc), ("encoded", &doc2)] {
        let predicted = call(
            &app,
            Method::POST,
            &format!("/models/{name}/predict"),
            Some(json!({"instances": doc["rows"]})),
        )
        .await;
        assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
        for (r, want) in doc["predictions"].as_array().unwrap().iter().enumerate() {
            let got = predicted.json["predictions"][r]
                .as_array()
                .unwrap()
                .last()
                .unwrap();
            close(got, want, 1.0, &format!("{name} row {r}"));
        }
        let body = json!({"instances": doc["rows"], "method": "exact_shapley",
            "output_space": "probability", "output": 1});
        let answer = call(
            &app,
            Method::POST,
            &format!("/models/{name}/explain"),
            Some(body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        for (r, e) in answer.json["explanations"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_adds_up(e, 1e-9);
            close(
                &e["prediction"],
                &doc["predictions"][r],
                1.0,
                "explained prediction",
            );
        }
    }
    let body = json!({"instances": doc["rows"], "method": "integrated_gradients"});
    let answer = call(&app, Method::POST, "/models/scaled/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = json!({"instances": doc2["rows"], "method": "integrated_gradients"});
    let refused = call(&app, Method::POST, "/models/encoded/explain", Some(body)).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("encodes or imputes"),
        "{}",
        refused.text
    );
}
