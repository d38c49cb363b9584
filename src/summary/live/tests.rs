//! The live section against the background baseline of a real registered model.

use approx::assert_abs_diff_eq;
use ndarray::array;

use crate::core::explain::{Explanation, Method};
use crate::core::models::OutputSpace;
use crate::explainer::Outcome;

/// `rows` as one explanation each of `output`.
fn outcome(rows: &[[f64; 2]], output: usize) -> Outcome {
    Outcome {
        method: Method::LinearShap,
        explanations: rows
            .iter()
            .map(|phi| Explanation::new(output, 0.0, 0.0, phi.to_vec()))
            .collect(),
        interactions: None,
        grouped: false,
        instances: None,
        anchors: None,
    }
}

#[test]
fn the_baseline_is_weighed_by_the_mix_of_outputs_served() {
    // A real two-class-output model's summary (softmax over 2 classes), so the
    // per-output baseline differs only through the data; live stats sized for it.
    let spec: crate::spec::ModelSpec = serde_json::from_value(serde_json::json!({
        "kind": "logistic",
        "feature_names": ["f0", "f1"],
        "params": {"coefficients": [[1.0, 0.5], [-2.0, 0.0]], "classes": ["o0", "o1"]},
        "background": [[0.0, 0.0], [1.0, 2.0], [3.0, 1.0], [2.0, 5.0]]
    }))
    .unwrap();
    let registry = crate::registry::Registry::new(None);
    registry.insert_ephemeral("m", &spec).unwrap();
    let entry = registry.get("m").unwrap();
    let baseline = crate::summary::global_summary(&entry.as_version(), 1000).unwrap();
    let by_output = |name: &str| {
        let f = baseline.features.iter().find(|f| f.name == name).unwrap();
        f.importance_by_output.clone()
    };
    let b0 = by_output("f0");
    let live = &entry.live;
    let x = array![[1.0, 1.0]];
    // Three explanations of output 0, one of output 1; |φ_0| = 2 each.
    for _ in 0..3 {
        live.record_at(0, x.view(), &outcome(&[[2.0, 2.0]], 0), OutputSpace::Raw);
    }
    live.record_at(0, x.view(), &outcome(&[[-2.0, 2.0]], 1), OutputSpace::Raw);
    let summary = super::summarise(live, &entry.built.feature_names, &baseline, 0);
    let f0 = &summary.window.features[0];
    // Baseline for this mix: (3·b_0 + 1·b_1) / 4, and the shift relative to it.
    let expected = (3.0 * b0[0] + b0[1]) / 4.0;
    assert_abs_diff_eq!(f0.baseline_mean_abs.unwrap(), expected, epsilon = 1e-12);
    assert_abs_diff_eq!(
        f0.importance_shift.unwrap(),
        (2.0 - expected) / expected,
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(f0.mean.unwrap(), 1.0, epsilon = 1e-12);
    assert_eq!(summary.window.by_output, vec![3, 1]);
    assert!(
        (b0[0] - b0[1]).abs() > 1e-3,
        "the two outputs' baselines differ: {b0:?}"
    );
}
