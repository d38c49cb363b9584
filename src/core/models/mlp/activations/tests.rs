//! Tests of [`super`]: summaries, curves and their interpolated ranges.

use super::*;
use crate::core::models::mlp::tests::layer;
use crate::core::models::mlp::MlpParams;
use approx::assert_abs_diff_eq;
use ndarray::array;

/// One input; layer 0: relu units z0 = x, z1 = x − 100 (dead for x < 100);
/// layer 1: one sigmoid unit z = 3 h0.
fn net() -> Mlp {
    MlpParams {
        layers: vec![
            layer(vec![vec![1.0, 1.0]], vec![0.0, -100.0], "relu"),
            layer(vec![vec![3.0], vec![0.0]], vec![0.0], "sigmoid"),
        ],
        scaler: None,
        input_shape: None,
    }
    .validate()
    .unwrap()
}

#[test]
fn summary_counts_dead_relus_and_saturated_sigmoids() {
    // x = −1, 1, 2, 3: unit 0 is off once (x = −1), unit 1 always (dead).
    // Sigmoid pre = 3·relu(x) = 0, 3, 6, 9: saturated (|z| > 4) on 2 of 4 rows.
    let data = array![[-1.0], [1.0], [2.0], [3.0]];
    let s = summarize(&net(), data.view()).unwrap();
    assert_eq!(s[0].units[0].inactive_fraction, Some(0.25));
    assert_eq!(s[0].units[1].inactive_fraction, Some(1.0));
    assert_eq!(s[0].always_inactive_fraction, Some(0.5));
    assert_eq!(s[0].units[1].pre_min, -101.0);
    assert_eq!(s[0].units[1].pre_max, -97.0);
    assert_abs_diff_eq!(s[0].units[0].pre_mean, 1.25, epsilon = 1e-15);
    assert_eq!(s[1].units[0].inactive_fraction, Some(0.5));
    assert_eq!(s[1].inactive_rule, Some("|pre| > 4"));
    assert_eq!(s[1].always_inactive_fraction, Some(0.0));
}

#[test]
fn curves_span_the_observed_range_and_histograms_count_every_value() {
    let data = array![[-1.0], [1.0], [2.0], [3.0]];
    let c = curves(
        &net(),
        data.view(),
        CurveOptions {
            points: 5,
            bins: 4,
            ..CurveOptions::default()
        },
    )
    .unwrap();
    assert_eq!(c.len(), 2);
    // Layer 0 pre-activations run from −101 (unit 1 at x = −1) to 3.
    assert_eq!(c[0].x.first(), Some(&-101.0));
    assert_eq!(c[0].x.last(), Some(&3.0));
    assert_eq!(c[0].y[4], 3.0);
    assert_eq!(c[0].y[0], 0.0);
    assert_eq!(c[0].histogram.counts.iter().sum::<usize>(), 8);
    assert_eq!(c[0].histogram.edges.len(), 5);
    assert_abs_diff_eq!(
        c[1].y[2],
        crate::core::models::sigmoid(4.5),
        epsilon = 1e-15
    );
    let bad = CurveOptions {
        points: 1,
        ..CurveOptions::default()
    };
    assert!(curves(&net(), data.view(), bad).is_err());
}

#[test]
fn interpolated_extremes_fall_between_rows() {
    // Unit 0 of layer 0 sees x = −1, 1, 2, 3: its range is reported from halfway
    // between −1 and 1 to halfway between 2 and 3; unit 1 sees x − 100, from −100.
    let data = array![[-1.0], [1.0], [2.0], [3.0]];
    let s = summarize_with(&net(), data.view(), Extremes::Interpolated).unwrap();
    assert_eq!((s[0].units[0].pre_min, s[0].units[0].pre_max), (0.0, 2.5));
    assert_eq!(
        (s[0].units[1].pre_min, s[0].units[1].pre_max),
        (-100.0, -97.5)
    );
    assert_abs_diff_eq!(s[0].units[0].pre_mean, 1.25, epsilon = 1e-15);
    let options = CurveOptions {
        points: 5,
        bins: 4,
        extremes: Extremes::Interpolated,
    };
    let c = curves(&net(), data.view(), options).unwrap();
    assert_eq!(c[0].x.first(), Some(&-100.0));
    assert_eq!(c[0].x.last(), Some(&2.5));
    // Values beyond the range count in the end bins.
    assert_eq!(c[0].histogram.counts.iter().sum::<usize>(), 8);
}

#[test]
fn layer_values_are_the_forward_trace() {
    let a = layer_activations(&net(), array![[2.0]].view()).unwrap();
    assert_eq!(a[0].pre, vec![vec![2.0, -98.0]]);
    assert_eq!(a[0].post, vec![vec![2.0, 0.0]]);
    assert_eq!(a[1].activation, "sigmoid");
    assert!(matches!(
        layer_activations(&net(), array![[1.0, 2.0]].view()),
        Err(CoreError::Shape { .. })
    ));
}
