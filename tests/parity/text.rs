//! The trained text classifier of tests/fixtures/text/fine_foods.json (written by
//! gen_text.py from the modeldata "small_fine_foods" reviews) against the
//! probabilities numpy computed from the same weights and Captum's
//! LayerIntegratedGradients token attributions.

use approx::assert_abs_diff_eq;
use explaind::core::explain::integrated_gradients::IgOptions;
use explaind::core::explain::text_attribution;
use explaind::core::models::{HostedModel, OutputSpace, TextClassifier};
use explaind::spec::{self, ModelSpec};
use serde_json::Value;

fn fixture() -> Value {
    let path = format!(
        "{}/tests/fixtures/text/fine_foods.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn model(f: &Value) -> TextClassifier {
    let spec: ModelSpec = serde_json::from_value(f["spec"].clone()).unwrap();
    match spec::build(&spec).unwrap().model {
        HostedModel::Text(t) => t,
        other => panic!("expected a text classifier, got {}", other.kind()),
    }
}

#[test]
fn predictions_match_numpy_on_held_out_reviews() {
    // Same tokens, same mean, same f64 arithmetic: equal to rounding.
    let f = fixture();
    let m = model(&f);
    let cases = f["cases"].as_array().unwrap();
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let p = m.predict_texts(&texts, OutputSpace::Probability);
    for (row, case) in cases.iter().enumerate() {
        assert_abs_diff_eq!(
            p[[row, 0]],
            case["probability"].as_f64().unwrap(),
            epsilon = 1e-9
        );
    }
}

#[test]
fn token_attributions_match_captum_layer_integrated_gradients() {
    // Default options (Gauss–Legendre, 50 nodes) are Captum's settings in the
    // fixture; Captum computes its nodes in float32, hence 1e-6.
    let f = fixture();
    let m = model(&f);
    for case in f["captum"].as_array().unwrap() {
        let space = match case["space"].as_str().unwrap() {
            "raw" => OutputSpace::Raw,
            _ => OutputSpace::Probability,
        };
        let text = case["text"].as_str().unwrap();
        let e = text_attribution::integrated_gradients(&m, text, 0, space, &IgOptions::default())
            .unwrap();
        let words: Vec<String> = serde_json::from_value(case["words"].clone()).unwrap();
        let ours: Vec<&str> = e.tokens.iter().map(|t| t.token.text.as_str()).collect();
        assert_eq!(ours, words);
        let theirs: Vec<f64> = serde_json::from_value(case["attributions"].clone()).unwrap();
        for (a, b) in e.tokens.iter().zip(&theirs) {
            assert_abs_diff_eq!(a.attribution, *b, epsilon = 1e-6);
        }
        let delta = case["delta"].as_f64().unwrap();
        assert_abs_diff_eq!(e.quality.convergence_delta.unwrap(), delta, epsilon = 1e-6);
    }
}
