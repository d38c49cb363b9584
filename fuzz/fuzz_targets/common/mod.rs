//! What every model-file target does once a file has parsed: predict and explain a
//! few rows, so the compiled form of the model (tree paths, folded layers) is
//! exercised as a request would exercise it.

use explaind::core::explain::Method;
use explaind::core::models::{check_rows, HostedModel, OutputSpace};
use explaind::core::stats::Reference;
use explaind::explainer::{self, ExplainArgs, MethodOptions, OutputChoice, Players};
use explaind::spec::{self, ModelSpec};
use ndarray::Array2;

/// Widest model the harness explains: a request for a wider one would need a body
/// larger than the server accepts, and rows this wide only slow the fuzzer down.
const MAX_WIDTH: usize = 512;

/// A registration document of `kind` carrying `model`, as `PUT /models/{name}` gets it.
pub fn spec_of(kind: &str, model: serde_json::Value) -> ModelSpec {
    serde_json::from_value(serde_json::json!({"kind": kind, "model": model}))
        .expect("a document with a kind and a model")
}

/// Build the document; when it validates, predict and explain rows with it.
pub fn build_and_explain(spec: &ModelSpec) {
    let Ok(mut built) = spec::build(spec) else {
        return;
    };
    let m = built.model.as_model();
    let width = m.n_features();
    if width == 0 || width > MAX_WIDTH {
        return;
    }
    let x = rows(width, built.model.accepts_missing());
    if check_rows(x.view(), width, built.model.accepts_missing()).is_err() {
        return;
    }
    let raw = m.predict(x.view(), OutputSpace::Raw);
    assert_eq!(raw.dim(), (x.nrows(), m.n_outputs()));
    let _ = m.predict(x.view(), OutputSpace::Probability);
    built.reference = Some(Reference::new(m, x.clone()));
    for (method, interactions) in methods(&built.model, width) {
        let args = ExplainArgs {
            method,
            output: OutputChoice::Predicted,
            space: OutputSpace::Raw,
            options: MethodOptions {
                interactions,
                ..MethodOptions::default()
            },
            players: Players::Features,
            cancel: Default::default(),
        };
        if let Ok(outcome) = explainer::explain(&built, x.view(), &args) {
            assert_eq!(outcome.explanations.len(), x.nrows());
            for e in &outcome.explanations {
                assert_eq!(e.attributions.len(), width);
            }
        }
    }
}

/// Zeros, missing values (where the model takes them), large values of both signs,
/// and a ramp: rows that reach both sides of most splits.
fn rows(width: usize, missing: bool) -> Array2<f64> {
    let mut data = Vec::new();
    data.extend(std::iter::repeat(0.0).take(width));
    if missing {
        data.extend(std::iter::repeat(f64::NAN).take(width));
    }
    data.extend((0..width).map(|j| if j % 2 == 0 { 1e30 } else { -1e30 }));
    data.extend((0..width).map(|j| j as f64 - 1.5));
    let n = data.len() / width;
    Array2::from_shape_vec((n, width), data).expect("whole rows")
}

/// The exact methods of the model's family (interaction values only when narrow).
fn methods(model: &HostedModel, width: usize) -> Vec<(Method, bool)> {
    match model {
        HostedModel::Trees(_) => vec![
            (Method::TreePathDependent, width <= 32),
            (Method::TreeInterventional, false),
        ],
        HostedModel::Mlp(_) => vec![(Method::IntegratedGradients, false)],
        HostedModel::Linear(_) | HostedModel::Additive(_) | HostedModel::Text(_) => {
            vec![(Method::Auto, false)]
        }
        // MIN/MAX trees are explained by sampling methods only: predicting is the check.
        HostedModel::ExtremeTrees(_) => vec![],
    }
}
