//! Text classifiers through the API, on the trained fine-food review model of
//! tests/fixtures/text: explanations of texts, predictions, embeddings, errors.

use crate::common::{call, default_app, fixture};
use approx::assert_abs_diff_eq;
use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

async fn app_with_foods() -> (Router, Value) {
    let app = default_app().await;
    let f = fixture("text/fine_foods.json");
    let put = call(&app, Method::PUT, "/models/foods", Some(f["spec"].clone())).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json["kind"], "text_classifier");
    assert_eq!(put.json["feature_names"][15], "emb_15");
    assert_eq!(put.json["output_names"], json!(["great"]));
    (app, f)
}

#[tokio::test]
async fn texts_are_explained_word_by_word_as_captum_does() {
    let (app, f) = app_with_foods().await;
    let captum = &f["captum"][1];
    assert_eq!(captum["space"], "probability");
    let text = captum["text"].as_str().unwrap();
    let answer = call(
        &app,
        Method::POST,
        "/models/foods/explain",
        Some(json!({"texts": [text, "Zzzq QQQX!", ""], "output_space": "probability"})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["method"], "integrated_gradients");
    assert_eq!(answer.json["output"], "great");
    let first = &answer.json["explanations"][0];
    let tokens = first["tokens"].as_array().unwrap();
    let words: Vec<&str> = tokens
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    let theirs: Vec<String> = serde_json::from_value(captum["words"].clone()).unwrap();
    assert_eq!(words, theirs);
    for (t, b) in tokens
        .iter()
        .zip(captum["attributions"].as_array().unwrap())
    {
        assert_abs_diff_eq!(
            t["attribution"].as_f64().unwrap(),
            b.as_f64().unwrap(),
            epsilon = 1e-6
        );
        let (s, e) = (t["start"].as_u64().unwrap(), t["end"].as_u64().unwrap());
        assert_eq!(text[s as usize..e as usize].to_lowercase(), t["token"]);
    }
    assert_eq!(
        first["attributions"].as_array().unwrap().len(),
        tokens.len()
    );
    assert!(
        first["quality"]["convergence_delta"]
            .as_f64()
            .unwrap()
            .abs()
            < 1e-6
    );
    // No known word: no tokens, the unknown words listed, prediction = base value.
    for (k, unknown) in [(1, json!(["zzzq", "qqqx"])), (2, json!([]))] {
        let e = &answer.json["explanations"][k];
        assert_eq!(e["tokens"], json!([]));
        assert_eq!(e["unknown_words"], unknown);
        assert_eq!(e["prediction"], e["base_value"]);
    }
}

#[tokio::test]
async fn occlusion_and_post_explain_take_texts_too() {
    let (app, _) = app_with_foods().await;
    let answer = call(
        &app,
        Method::POST,
        "/explain",
        Some(json!({"model": "foods", "texts": ["great taste, bad price"], "method": "occlusion"})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["method"], "occlusion");
    assert_eq!(answer.json["output_space"], "raw");
    let tokens = answer.json["explanations"][0]["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 4);
}

#[tokio::test]
async fn predict_takes_texts() {
    let (app, f) = app_with_foods().await;
    let cases = f["cases"].as_array().unwrap();
    let texts: Vec<&Value> = cases.iter().map(|c| &c["text"]).collect();
    let answer = call(
        &app,
        Method::POST,
        "/models/foods/predict",
        Some(json!({ "texts": texts })),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["output_space"], "probability");
    for (row, case) in answer.json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cases)
    {
        assert_abs_diff_eq!(
            row[0].as_f64().unwrap(),
            case["probability"].as_f64().unwrap(),
            epsilon = 1e-9
        );
    }
}

#[tokio::test]
async fn embeddings_give_the_vector_and_nearest_words() {
    let (app, _) = app_with_foods().await;
    let answer = call(
        &app,
        Method::GET,
        "/models/foods/weights/embeddings?word=Great&k=5",
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["word"], "great");
    assert_eq!(answer.json["vector"].as_array().unwrap().len(), 16);
    let near = answer.json["neighbours"].as_array().unwrap();
    assert_eq!(near.len(), 5);
    let sims: Vec<f64> = near
        .iter()
        .map(|n| n["similarity"].as_f64().unwrap())
        .collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]) && sims[0] <= 1.0);
    let weights = call(&app, Method::GET, "/models/foods/weights", None).await;
    assert_eq!(
        weights.json["embeddings"],
        json!({"vocabulary": 300, "dim": 16})
    );
}

#[tokio::test]
async fn text_errors_are_json_and_clear() {
    let (app, _) = app_with_foods().await;
    let cases = [
        (
            "/models/foods/weights/embeddings?word=zzzq",
            StatusCode::NOT_FOUND,
            "word_not_found",
        ),
        (
            "/models/foods/weights/embeddings?word=good&k=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/models/foods/weights/embeddings",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/models/house-prices/weights/embeddings?word=good",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_argument",
        ),
    ];
    for (uri, status, code) in cases {
        let answer = call(&app, Method::GET, uri, None).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.text);
        assert_eq!(answer.json["error"]["code"], code, "{uri}");
    }
    let bodies = [
        (
            "/models/foods/explain",
            json!({"texts": []}),
            "invalid_input",
        ),
        (
            "/models/foods/explain",
            json!({"texts": ["good"], "method": "saliency"}),
            "method_not_supported",
        ),
        (
            "/models/foods/explain",
            json!({"texts": ["good"], "instances": [[0.0]]}),
            "invalid_request",
        ),
        (
            "/models/house-prices/explain",
            json!({"texts": ["good"]}),
            "invalid_argument",
        ),
        (
            "/models/house-prices/predict",
            json!({"texts": ["good"]}),
            "invalid_argument",
        ),
        (
            "/models/foods/predict",
            json!({"texts": []}),
            "invalid_input",
        ),
        // Adaptive steps are for tabular integrated gradients; texts use fixed steps.
        (
            "/models/foods/explain",
            json!({"texts": ["good"], "tolerance": 0.001}),
            "invalid_input",
        ),
    ];
    for (uri, body, code) in bodies {
        let answer = call(&app, Method::POST, uri, Some(body.clone())).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], code, "{body}");
    }
}

#[tokio::test]
async fn text_registrations_are_checked() {
    let (app, f) = app_with_foods().await;
    let mut with_background = f["spec"].clone();
    with_background["background"] = json!([vec![0.0; 16]]);
    let mut bad_head = f["spec"].clone();
    bad_head["params"]["head"]["layers"][0]["weights"] = json!([[1.0]]);
    let mut upper = f["spec"].clone();
    upper["params"]["vocabulary"][0] = json!("The");
    let linear_with_file = json!({
        "kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0]},
        "model": "AAAA"
    });
    for spec in [with_background, bad_head, upper, linear_with_file] {
        let answer = call(&app, Method::PUT, "/models/other", Some(spec)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        assert_eq!(answer.json["error"]["code"], "invalid_model");
    }
}

/// `explain.svg` with one text draws the JSON answer's words as a waterfall: one
/// step per known word (a repeated word twice), its attribution as the step's delta,
/// its byte offset as the value; anything but one text is refused with a message
/// about texts, not about `instances`.
#[tokio::test]
async fn explain_svg_draws_a_text_word_by_word() {
    let (app, _) = app_with_foods().await;
    let body = json!({"texts": ["Great coffee, great price. Zzzq!"]});
    let answer = call(
        &app,
        Method::POST,
        "/models/foods/explain",
        Some(body.clone()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let e = &answer.json["explanations"][0];
    let tokens = e["tokens"].as_array().unwrap();
    assert!(tokens.len() >= 2, "{tokens:?}");
    let picture = call(&app, Method::POST, "/models/foods/explain.svg", Some(body)).await;
    assert_eq!(picture.status, StatusCode::OK, "{}", picture.text);
    let doc = roxmltree::Document::parse(&picture.text).expect("valid SVG");
    let mut steps: Vec<(String, u64, f64)> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("step"))
        .map(|n| {
            (
                n.attribute("data-feature").unwrap().to_string(),
                n.attribute("data-value").unwrap().parse().unwrap(),
                n.attribute("data-delta").unwrap().parse().unwrap(),
            )
        })
        .collect();
    // The picture orders by |attribution|; text order is by offset.
    steps.sort_by_key(|s| s.1);
    assert_eq!(steps.len(), tokens.len());
    for (k, (step, t)) in steps.iter().zip(tokens).enumerate() {
        assert_eq!(step.0, t["token"].as_str().unwrap());
        assert_eq!(step.1, t["start"].as_u64().unwrap());
        assert_abs_diff_eq!(step.2, t["attribution"].as_f64().unwrap(), epsilon = 1e-12);
        let label = format!("#{} {}", k + 1, step.0);
        assert!(picture.text.contains(&label), "no row {label}");
    }
    assert!(picture.text.contains("1 unknown word skipped"));
    // The walk starts at the prediction for no known word, not at a background mean.
    assert!(picture.text.contains("base value f(no known word)"));
    assert!(!picture.text.contains("E[f(X)]"));

    for (body, says) in [
        (
            json!({"texts": ["good", "bad"]}),
            "exactly one text; `texts` has 2",
        ),
        (json!({"texts": []}), "exactly one text; `texts` has 0"),
        (json!({"instances": []}), "explains `texts`"),
    ] {
        let refused = call(&app, Method::POST, "/models/foods/explain.svg", Some(body)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        let message = refused.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
}
