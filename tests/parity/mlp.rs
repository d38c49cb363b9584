//! Parity of explaind's MLP with scikit-learn (and, where their fixtures exist, of
//! integrated gradients and text integrated gradients with Captum). Fixtures come
//! from tests/fixtures/gen_mlp.py.

use std::path::Path;

use approx::assert_abs_diff_eq;
use explaind::core::explain::integrated_gradients::{self, IgOptions};
use explaind::core::explain::{gradients, text_attribution};
use explaind::core::models::mlp::MlpParams;
use explaind::core::models::text::TextClassifierParams;
use explaind::core::models::{Link, Mlp, Model, OutputSpace};
use explaind::core::stats::Reference;
use ndarray::Array2;
use serde_json::Value;

fn fixture(name: &str) -> Option<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mlp")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).expect("fixture is valid JSON"))
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

fn model(v: &Value) -> Mlp {
    let params: MlpParams = serde_json::from_value(v["params"].clone()).unwrap();
    params.validate().unwrap()
}

#[test]
fn regressor_matches_sklearn_predict() {
    let f = fixture("house_regressor").expect("fixture");
    let m = model(&f);
    assert_eq!(m.link(), Link::Identity);
    let y = m.predict(matrix(&f["x"]).view(), OutputSpace::Raw);
    let expected: Vec<f64> = serde_json::from_value(f["predict"].clone()).unwrap();
    for (a, b) in y.column(0).iter().zip(&expected) {
        assert_abs_diff_eq!(*a, *b, epsilon = 1e-9);
    }
}

/// predict_proba to 1e-9 and the predicted label. A binary classifier has one
/// sigmoid output, P(classes[1]); sklearn reports both columns.
fn check_classifier(name: &str) {
    let f = fixture(name).expect("fixture");
    let m = model(&f);
    let p = m.predict(matrix(&f["x"]).view(), OutputSpace::Probability);
    let expected = matrix(&f["predict_proba"]);
    let classes: Vec<f64> = serde_json::from_value(f["classes"].clone()).unwrap();
    let labels: Vec<f64> = serde_json::from_value(f["predict"].clone()).unwrap();
    for ((ours, theirs), label) in p.rows().into_iter().zip(expected.rows()).zip(labels) {
        let full: Vec<f64> = if m.link() == Link::Logistic {
            vec![1.0 - ours[0], ours[0]]
        } else {
            ours.to_vec()
        };
        for (a, b) in full.iter().zip(theirs) {
            assert_abs_diff_eq!(*a, *b, epsilon = 1e-9);
        }
        let best = (0..full.len())
            .max_by(|&i, &j| full[i].total_cmp(&full[j]))
            .unwrap();
        assert_eq!(classes[best], label);
    }
}

#[test]
fn binary_classifier_matches_sklearn_predict_proba() {
    check_classifier("house_binary");
}

#[test]
fn multiclass_classifier_matches_sklearn_predict_proba() {
    check_classifier("iris_classifier");
}

#[test]
fn image_classifier_matches_sklearn_and_keeps_its_shape() {
    check_classifier("digits_classifier");
    let m = model(&fixture("digits_classifier").unwrap());
    assert_eq!(m.input_shape(), Some(&[8usize, 8][..]));
}

#[test]
fn integrated_gradients_match_captum() {
    // Written only when torch and captum were importable; see gen_mlp.py. The
    // tolerance is 1e-6, not 1e-9: Captum multiplies the gradients by step sizes cast
    // to float32 (`torch.tensor(step_sizes).float()` in integrated_gradients.py), so
    // even an independent float64 computation differs from it by about 1e-8.
    let Some(f) = fixture("captum_ig") else {
        eprintln!("captum_ig.json absent: Captum parity not checked");
        return;
    };
    let m = model(&f);
    let x = matrix(&f["x"]);
    let baseline: Vec<f64> = serde_json::from_value(f["baseline"].clone()).unwrap();
    let reference = Reference::new(&m, x.clone());
    for case in f["cases"].as_array().unwrap() {
        let space = match case["space"].as_str().unwrap() {
            "raw" => OutputSpace::Raw,
            _ => OutputSpace::Probability,
        };
        let options = IgOptions {
            steps: case["steps"].as_u64().unwrap() as usize,
            rule: case["method"].as_str().unwrap().parse().unwrap(),
            baseline: Some(baseline.clone()),
            tolerance: None,
            max_steps: integrated_gradients::MAX_STEPS,
        };
        let target = case["target"].as_u64().unwrap() as usize;
        let outputs = vec![target; x.nrows()];
        let ours =
            integrated_gradients::explain(&m, &reference, x.view(), &outputs, space, &options)
                .unwrap();
        let attributions = matrix(&case["attributions"]);
        let deltas: Vec<f64> = serde_json::from_value(case["delta"].clone()).unwrap();
        for ((e, theirs), delta) in ours.iter().zip(attributions.rows()).zip(deltas) {
            for (a, b) in e.attributions.iter().zip(theirs) {
                assert_abs_diff_eq!(*a, *b, epsilon = 1e-6);
            }
            assert_abs_diff_eq!(e.quality.convergence_delta.unwrap(), delta, epsilon = 1e-6);
        }
    }
}

#[test]
fn text_integrated_gradients_match_captum_layer_ig() {
    // Captum's LayerIntegratedGradients on the embedding layer, from an all-zero
    // padding embedding, summed over embedding dimensions per token. Same float32
    // step sizes as above, hence 1e-6.
    let Some(f) = fixture("captum_text_ig") else {
        eprintln!("captum_text_ig.json absent: Captum text parity not checked");
        return;
    };
    let params: TextClassifierParams = serde_json::from_value(f["params"].clone()).unwrap();
    let m = params.validate().unwrap();
    let options = IgOptions {
        steps: 32,
        rule: "gausslegendre".parse().unwrap(),
        baseline: None,
        tolerance: None,
        max_steps: integrated_gradients::MAX_STEPS,
    };
    for case in f["cases"].as_array().unwrap() {
        let space = match case["space"].as_str().unwrap() {
            "raw" => OutputSpace::Raw,
            _ => OutputSpace::Probability,
        };
        let target = case["target"].as_u64().unwrap() as usize;
        let text = case["text"].as_str().unwrap();
        let e = text_attribution::integrated_gradients(&m, text, target, space, &options).unwrap();
        let words: Vec<String> = serde_json::from_value(case["words"].clone()).unwrap();
        let theirs: Vec<f64> = serde_json::from_value(case["attributions"].clone()).unwrap();
        let ours: Vec<&str> = e.tokens.iter().map(|t| t.token.text.as_str()).collect();
        assert_eq!(ours, words);
        for (a, b) in e.tokens.iter().zip(&theirs) {
            assert_abs_diff_eq!(a.attribution, *b, epsilon = 1e-6);
        }
        let delta = case["delta"].as_f64().unwrap();
        assert_abs_diff_eq!(e.quality.convergence_delta.unwrap(), delta, epsilon = 1e-6);
    }
}

#[test]
fn saliency_and_gradient_x_input_match_captum() {
    // No quadrature here, so both sides are plain float64 backpropagation.
    let Some(f) = fixture("captum_ig") else {
        eprintln!("captum_ig.json absent: Captum parity not checked");
        return;
    };
    let m = model(&f);
    let x = matrix(&f["x"]);
    let reference = Reference::new(&m, x.clone());
    for case in f["gradient_cases"].as_array().unwrap() {
        let space = match case["space"].as_str().unwrap() {
            "raw" => OutputSpace::Raw,
            _ => OutputSpace::Probability,
        };
        let outputs = vec![case["target"].as_u64().unwrap() as usize; x.nrows()];
        let sal = gradients::saliency(&m, &reference, x.view(), &outputs, space).unwrap();
        let gxi = gradients::gradient_x_input(&m, x.view(), &outputs, space).unwrap();
        for (ours, key) in [(sal, "saliency"), (gxi, "gradient_x_input")] {
            let theirs = matrix(&case[key]);
            for (e, row) in ours.iter().zip(theirs.rows()) {
                for (a, b) in e.attributions.iter().zip(row) {
                    assert_abs_diff_eq!(*a, *b, epsilon = 1e-12);
                }
            }
        }
    }
}
