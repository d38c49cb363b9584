//! LIME on a categorical feature: each category is its own bin.

use approx::assert_abs_diff_eq;
use ndarray::{array, Array2};

use super::explain;
use crate::core::explain::sampling::SamplingParams;
use crate::core::models::trees::{EnsembleSpec, Node, Split, Tree};
use crate::core::models::{Link, RawFeatures, RawKind, TreeEnsemble};
use crate::core::stats::Reference;

/// f = 1 when feature 0 (categories a, b, c, d) is "b", else 0; feature 1 is unused.
fn is_b() -> TreeEnsemble {
    let root = Node {
        feature: Some(0),
        split: Some(Split::Categories {
            categories: vec![1],
            listed_go_left: true,
        }),
        default_left: false,
        left: Some(1),
        right: Some(2),
        cover: 2.0,
        value: 0.0,
        gain: 1.0,
    };
    let raw = RawFeatures::new(vec![
        RawKind::Categorical {
            categories: ["a", "b", "c", "d"].map(String::from).to_vec(),
        },
        RawKind::Numeric,
    ])
    .unwrap();
    TreeEnsemble::new(EnsembleSpec {
        kind: "lightgbm",
        objective: "regression".into(),
        link: Link::Identity,
        n_features: 2,
        base: vec![0.0],
        trees: vec![Tree {
            nodes: vec![root, Node::leaf(1.0, 1.0), Node::leaf(0.0, 1.0)],
            output: 0,
        }],
        feature_names: None,
        raw_features: Some(raw),
    })
    .unwrap()
}

#[test]
fn a_category_is_its_own_bin_so_the_surrogate_sees_the_model_exactly() {
    // With categories drawn whole, z_0 = 1 exactly when the sample is "b", which is
    // exactly when f = 1: the surrogate's only error is the ridge penalty's shrink
    // (α = 1 against thousands of weighted samples). Quartile bins of the codes
    // would draw fractional codes and mix "b" with its neighbours.
    let model = is_b();
    // Codes 0..3 and a missing value (NaN), unevenly, and a numeric column.
    let data = Array2::from_shape_fn((60, 2), |(i, j)| match (j, i % 6) {
        (0, 5) => f64::NAN,
        (0, k) => (k % 4) as f64,
        _ => i as f64,
    });
    let reference = Reference::new(&model, data);
    let options = SamplingParams {
        seed: 9,
        n_samples: Some(4000),
        ..SamplingParams::default()
    }
    .check(&model)
    .unwrap();
    for (code, value) in [(1.0, 1.0), (2.0, 0.0), (f64::NAN, 0.0), (4.0, 0.0)] {
        let x = array![[code, 7.0]];
        let e = &explain(&model, &reference, x.view(), &[0], &options).unwrap()[0];
        assert_eq!(e.prediction, value);
        let r2 = e.quality.surrogate_r2.unwrap();
        if value == 1.0 {
            // y = z_0: a slope of 1, shrunk a little, and a fit all but exact.
            assert_abs_diff_eq!(e.attributions[0], 1.0, epsilon = 0.01);
            assert!(r2 > 0.999, "{r2}");
        } else {
            // Another category: f = 1 only when z_0 = 0, so the slope is negative.
            assert!(e.attributions[0] < 0.0, "{code}: {:?}", e.attributions);
        }
        assert!(
            e.attributions[1].abs() < 0.05,
            "{code}: {:?}",
            e.attributions
        );
    }
}
