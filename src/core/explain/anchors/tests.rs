//! Anchors on small hand-written models: the rule a one-feature model gets, the
//! stated precision checked by fresh sampling, seeds, cancellation and categories.

use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::core::models::{Link, Model, RawFeatures, RawKind};

/// A classifier on `features` features whose margin is `Σ w_j x_j − bias`
/// (logistic link, one output).
struct Threshold {
    weights: Vec<f64>,
    bias: f64,
}

impl Model for Threshold {
    fn n_features(&self) -> usize {
        self.weights.len()
    }
    fn n_outputs(&self) -> usize {
        1
    }
    fn link(&self) -> Link {
        Link::Logistic
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        x.map_axis(Axis(1), |r| {
            r.iter().zip(&self.weights).map(|(v, w)| v * w).sum::<f64>() - self.bias
        })
        .insert_axis(Axis(1))
    }
}

/// A three-class model: the class is feature 1's category code (0, 1 or 2).
struct ByCategory;

impl Model for ByCategory {
    fn n_features(&self) -> usize {
        3
    }
    fn n_outputs(&self) -> usize {
        3
    }
    fn link(&self) -> Link {
        Link::Softmax
    }
    fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        Array2::from_shape_fn((x.nrows(), 3), |(i, k)| {
            if x[[i, 1]] == k as f64 {
                5.0
            } else {
                0.0
            }
        })
    }
}

/// `rows` uniform rows in [0, 1)^features (feature `categorical`, if any, a code 0..3).
fn uniform(rows: usize, features: usize, categorical: Option<usize>, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, features), |(_, j)| {
        if Some(j) == categorical {
            rng.random_range(0..3) as f64
        } else {
            rng.random::<f64>()
        }
    })
}

fn anchor_of(model: &dyn Model, data: Array2<f64>, x: &[f64], params: &AnchorParams) -> Anchor {
    let reference = Reference::new(model, data);
    let x = Array2::from_shape_vec((1, x.len()), x.to_vec()).unwrap();
    explain(
        model,
        None,
        &reference,
        x.view(),
        0,
        OutputSpace::Raw,
        params,
    )
    .unwrap()
    .remove(0)
}

#[test]
fn a_model_of_one_feature_gets_a_one_predicate_anchor_on_it() {
    let model = Threshold {
        weights: vec![0.0, 0.0, 10.0, 0.0],
        bias: 5.0,
    };
    let a = anchor_of(
        &model,
        uniform(400, 4, None, 1),
        &[0.3, 0.6, 0.9, 0.1],
        &AnchorParams::default(),
    );
    assert!(a.precision_met, "{a:?}");
    assert_eq!(a.rule.len(), 1, "{a:?}");
    assert_eq!(a.rule[0].feature, 2);
    let Condition::Interval {
        lower: Some(l),
        upper,
    } = a.rule[0].condition
    else {
        panic!("{a:?}");
    };
    // The widest bin above the threshold that holds 0.9: the top quartile.
    assert!(l >= 0.5 && upper.is_none(), "{a:?}");
    approx::assert_abs_diff_eq!(a.coverage, 0.25, epsilon = 0.05);
    assert!(a.precision_lower_bound >= 0.95 && a.precision == 1.0);
    assert!(a.examples.fails.is_empty() && !a.examples.holds.is_empty());
    assert!(a.samples_used <= AnchorParams::default().max_samples);
}

/// The share of `n` fresh samples under `rule` (drawn as the module doc says, from
/// a seed of the test's own) whose class is `positive`.
fn fresh_precision(
    model: &Threshold,
    data: &Array2<f64>,
    rule: &[Predicate],
    positive: bool,
    n: usize,
    seed: u64,
) -> f64 {
    let meets: Vec<usize> = (0..data.nrows())
        .filter(|&i| rule.iter().all(|p| p.condition.holds(data[[i, p.feature]])))
        .collect();
    assert!(!meets.is_empty());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows = Array2::from_shape_fn((n, data.ncols()), |_| 0.0);
    let mut rows = rows;
    for mut row in rows.rows_mut() {
        row.assign(&data.row(rng.random_range(0..data.nrows())));
        let source = data.row(meets[rng.random_range(0..meets.len())]);
        for p in rule {
            row[p.feature] = source[p.feature];
        }
    }
    let raw = model.predict_raw(rows.view());
    raw.iter().filter(|&&v| (v > 0.0) == positive).count() as f64 / n as f64
}

#[test]
fn the_stated_precision_holds_on_fresh_samples() {
    // Two features matter, with overlapping roles: no single bin is sure.
    let model = Threshold {
        weights: vec![1.0, 1.0, 0.3, 0.0],
        bias: 1.2,
    };
    let data = uniform(500, 4, None, 7);
    let rows = uniform(8, 4, None, 99);
    let reference = Reference::new(&model, data.clone());
    let anchors = explain(
        &model,
        None,
        &reference,
        rows.view(),
        0,
        OutputSpace::Raw,
        &AnchorParams::default(),
    )
    .unwrap();
    let mut met = 0;
    for (i, a) in anchors.iter().enumerate() {
        let positive = model.predict_raw(rows.slice(ndarray::s![i..i + 1, ..]))[[0, 0]] > 0.0;
        let fresh = fresh_precision(&model, &data, &a.rule, positive, 20_000, 1000 + i as u64);
        // 20 000 samples: the fresh share is within ±0.005 of the truth (3σ); the
        // stated bound holds with probability 1 − δ per rule, and at this seed for all.
        assert!(
            fresh >= a.precision_lower_bound - 0.005,
            "row {i}: fresh {fresh} < {a:?}"
        );
        if a.precision_met {
            met += 1;
            assert!(fresh >= 0.95 - 0.005, "row {i}: fresh {fresh}, {a:?}");
        }
    }
    assert!(met >= 6, "most rows find an anchor: {met}");
}

#[test]
fn the_same_seed_gives_the_same_anchor_and_another_seed_other_samples() {
    let model = Threshold {
        weights: vec![1.0, 1.0, 0.3],
        bias: 1.2,
    };
    let data = uniform(300, 3, None, 3);
    let x = [0.7, 0.6, 0.2];
    let params = AnchorParams::default();
    let first = anchor_of(&model, data.clone(), &x, &params);
    assert_eq!(first, anchor_of(&model, data.clone(), &x, &params));
    let other = anchor_of(&model, data, &x, &AnchorParams { seed: 5, ..params });
    assert_ne!(first.examples, other.examples);
}

#[test]
fn a_tripped_token_or_a_spent_deadline_stops_the_search() {
    let model = Threshold {
        weights: vec![1.0, 1.0],
        bias: 1.0,
    };
    let reference = Reference::new(&model, uniform(100, 2, None, 1));
    let x = uniform(2, 2, None, 2);
    let cancel = Cancel::new();
    cancel.cancel();
    let params = AnchorParams {
        cancel,
        ..AnchorParams::default()
    };
    let err = explain(
        &model,
        None,
        &reference,
        x.view(),
        0,
        OutputSpace::Raw,
        &params,
    )
    .unwrap_err();
    assert!(matches!(err, CoreError::Cancelled), "{err:?}");
    let params = AnchorParams {
        timeout: Some(Duration::ZERO),
        ..AnchorParams::default()
    };
    let err = explain(
        &model,
        None,
        &reference,
        x.view(),
        0,
        OutputSpace::Raw,
        &params,
    )
    .unwrap_err();
    assert!(matches!(err, CoreError::Timeout { .. }), "{err:?}");
}

#[test]
fn a_categorical_answer_is_anchored_on_the_instances_category() {
    let raw = RawFeatures::new(vec![
        RawKind::Numeric,
        RawKind::Categorical {
            categories: vec!["a".into(), "b".into(), "c".into()],
        },
        RawKind::Numeric,
    ])
    .unwrap();
    let reference = Reference::new(&ByCategory, uniform(300, 3, Some(1), 4));
    let x = Array2::from_shape_vec((1, 3), vec![0.5, 2.0, 0.5]).unwrap();
    let a = explain(
        &ByCategory,
        Some(&raw),
        &reference,
        x.view(),
        0,
        OutputSpace::Raw,
        &AnchorParams::default(),
    )
    .unwrap()
    .remove(0);
    assert_eq!(a.output, 2, "the predicted class");
    assert_eq!(
        a.rule,
        vec![Predicate {
            feature: 1,
            condition: Condition::Categories(vec![2])
        }]
    );
    approx::assert_abs_diff_eq!(a.coverage, 1.0 / 3.0, epsilon = 0.06);
}

#[test]
fn a_regression_keeps_its_answer_within_the_tolerance() {
    /// f(x) = 10 x0.
    struct Scale;
    impl Model for Scale {
        fn n_features(&self) -> usize {
            3
        }
        fn n_outputs(&self) -> usize {
            1
        }
        fn link(&self) -> Link {
            Link::Identity
        }
        fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
            (&x.column(0) * 10.0).insert_axis(Axis(1))
        }
    }
    let params = AnchorParams {
        tolerance: Some(1.0),
        ..AnchorParams::default()
    };
    let a = anchor_of(&Scale, uniform(400, 3, None, 8), &[0.55, 0.1, 0.9], &params);
    assert_eq!(a.tolerance, Some(1.0));
    assert!(a.precision_met, "{a:?}");
    assert!(a.rule.iter().all(|p| p.feature == 0), "{a:?}");
    // Within ±1 of 5.5 means x0 in [0.45, 0.65]: the rule's interval lies near it.
    let Condition::Interval {
        lower: Some(l),
        upper: Some(u),
    } = a.rule[0].condition
    else {
        panic!("{a:?}");
    };
    assert!(l >= 0.4 && u <= 0.7, "{a:?}");
    // Default tolerance: half the output's standard deviation (10/√12 ≈ 2.9).
    let a = anchor_of(
        &Scale,
        uniform(400, 3, None, 8),
        &[0.55, 0.1, 0.9],
        &AnchorParams::default(),
    );
    approx::assert_abs_diff_eq!(a.tolerance.unwrap(), 1.44, epsilon = 0.15);
}

#[test]
fn bad_parameters_are_refused_naming_the_field() {
    type Change = fn(&mut AnchorParams);
    let cases: [(Change, &str); 7] = [
        (|p| p.precision = 1.5, "precision"),
        (|p| p.precision = 0.0, "precision"),
        (|p| p.delta = 1.0, "delta"),
        (|p| p.epsilon = 0.0, "epsilon"),
        (|p| p.beam_size = 0, "beam_size"),
        (|p| p.max_samples = 10, "n_samples"),
        (|p| p.tolerance = Some(-1.0), "tolerance"),
    ];
    for (change, field) in cases {
        let mut params = AnchorParams::default();
        change(&mut params);
        let message = params.check().unwrap_err().to_string();
        assert!(message.contains(field), "{message}");
    }
    let one = AnchorParams {
        precision: 1.0,
        ..AnchorParams::default()
    };
    assert!(one.check().is_ok());
}

#[test]
fn precision_one_asks_for_a_thousand_samples_without_a_change() {
    let model = Threshold {
        weights: vec![10.0, 0.0],
        bias: 5.0,
    };
    let params = AnchorParams {
        precision: 1.0,
        ..AnchorParams::default()
    };
    let a = anchor_of(&model, uniform(300, 2, None, 2), &[0.9, 0.5], &params);
    assert!(a.precision_met, "{a:?}");
    assert_eq!(a.precision, 1.0);
    assert!(a.rule_samples >= 1000, "{a:?}");
    assert_eq!(a.rule[0].feature, 0);
}
