//! skl2onnx pipelines with a PCA or a TruncatedSVD in front of the model (`Sub`,
//! `MatMul`, `Div` by a constant's root): a forest behind one is hosted predict-only
//! and explained over the raw features by the model-agnostic methods; a linear head
//! behind one is linear in the raw features and explained exactly by linear SHAP
//! (tests/fixtures/onnx_pipeline, gen_onnx_pipeline.py: every value checked here
//! comes from onnxruntime on the deployed graph).

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use crate::common::{call, default_app};
use crate::onnx_support::{assert_shapley, close, fixture};

async fn register(app: &Router, name: &str) -> Value {
    let (model, doc) = fixture(name);
    let spec = json!({"kind": "onnx", "model": model, "background": doc["background"]});
    let put = call(app, Method::PUT, &format!("/models/{name}"), Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["feature_names"], doc["raw_features"]);
    let predicted = call(
        app,
        Method::POST,
        &format!("/models/{name}/predict"),
        Some(json!({"instances": doc["rows"]})),
    )
    .await;
    assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.text);
    for (r, want) in doc["predictions"].as_array().unwrap().iter().enumerate() {
        let got = &predicted.json["predictions"][r][0];
        close(
            got,
            want,
            want.as_f64().unwrap().abs(),
            &format!("{name} prediction {r}"),
        );
    }
    doc
}

#[tokio::test]
async fn a_forest_behind_a_pca_predicts_and_model_agnostic_methods_explain_it() {
    let app = default_app().await;
    let doc = register(&app, "pca_forest").await;
    let rows = &doc["rows"];
    let body = json!({"instances": [rows[0]], "seed": 3});
    let answer = call(&app, Method::POST, "/models/pca_forest/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["method"], "kernel_shap");
    let body = json!({"instances": rows, "method": "exact_shapley"});
    let answer = call(&app, Method::POST, "/models/pca_forest/explain", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_shapley(&answer.json, &doc, 4, "exact_shapley");
    for method in ["tree_interventional", "tree_path_dependent", "linear_shap"] {
        let body = json!({"instances": [rows[0]], "method": method});
        let refused = call(&app, Method::POST, "/models/pca_forest/explain", Some(body)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{method}");
        for words in [
            format!("{method} does not apply"),
            "affine map (Sub, MatMul 4×3".into(),
            "kernel_shap".into(),
        ] {
            assert!(refused.text.contains(&words), "{}", refused.text);
        }
    }
}

#[tokio::test]
async fn a_linear_head_behind_a_pca_or_svd_is_linear_in_the_raw_features() {
    let app = default_app().await;
    for (name, space) in [("pca_ridge", "raw"), ("svd_logistic", "raw")] {
        let doc = register(&app, name).await;
        let body = json!({"instances": doc["rows"], "output_space": space});
        let answer = call(
            &app,
            Method::POST,
            &format!("/models/{name}/explain"),
            Some(body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json["method"], "linear_shap", "{name}");
        assert_shapley(&answer.json, &doc, 4, name);
    }
}

/// `/weights` shows every pipeline's head: an additive model's weights per column
/// it reads (which, with onnxruntime's columns, give its predictions), a model
/// behind a mixing step with that step and the model after it, and a linear head
/// folded over the raw features by their names.
#[tokio::test]
async fn weights_show_the_head_behind_any_preprocessing() {
    let app = default_app().await;
    let weights = |name: &'static str| {
        let app = app.clone();
        async move {
            let answer = call(&app, Method::GET, &format!("/models/{name}/weights"), None).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            answer.json
        }
    };
    let doc = register(&app, "encoded_linear").await;
    let w = weights("encoded_linear").await;
    let columns = w["preprocessing"].as_array().expect("preprocessing");
    let coefficients = w["linear"]["coefficients"]
        .as_array()
        .expect("head weights");
    assert_eq!(coefficients.len(), columns.len());
    for (c, col) in coefficients.iter().zip(columns) {
        let name = c["feature"].as_str().unwrap();
        assert!(name.starts_with(col["feature"].as_str().unwrap()), "{name}");
    }
    let intercept = w["linear"]["intercepts"][0].as_f64().unwrap();
    for (r, derived) in doc["derived"].as_array().unwrap().iter().enumerate() {
        let sum: f64 = (derived.as_array().unwrap().iter().zip(coefficients))
            .map(|(x, c)| x.as_f64().unwrap() * c["values"][0].as_f64().unwrap())
            .sum();
        let want = doc["predictions"][r].as_f64().unwrap();
        assert!(
            (intercept + sum - want).abs() < 1e-4 * want.abs().max(1.0),
            "row {r}"
        );
    }

    register(&app, "pca_forest").await;
    let w = weights("pca_forest").await;
    let mixing = w["mixing"].as_str().expect("mixing");
    assert!(
        mixing.starts_with("affine map (Sub, MatMul 4×3"),
        "{mixing}"
    );
    assert_eq!(w["trees"]["total"], 5);
    assert_eq!(w["preprocessing"].as_array().unwrap().len(), 4);

    let (model, doc) = fixture("normalized_ridge");
    let spec = json!({"kind": "onnx", "model": model, "background": doc["background"]});
    let put = call(&app, Method::PUT, "/models/normalized_ridge", Some(spec)).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let w = weights("normalized_ridge").await;
    assert_eq!(w["mixing"], "Normalizer (norm L2)");
    let names: Vec<&str> = (w["linear"]["coefficients"].as_array().unwrap().iter())
        .map(|c| c["feature"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["f0", "f1", "f2", "f3"]);

    register(&app, "pca_ridge").await;
    let w = weights("pca_ridge").await;
    assert!(w.get("mixing").is_none(), "folded: {w}");
    let names: Vec<&str> = (w["linear"]["coefficients"].as_array().unwrap().iter())
        .map(|c| c["feature"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lotsize", "bedrooms", "bathrooms", "stories"]);
}
