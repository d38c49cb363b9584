//! Tests of [`super`]: per-baseline KernelSHAP against exact values, over seeds.
use super::super::{explain, Estimator};
use crate::core::explain::sampling::SamplingParams;
use crate::core::explain::tests_support::{
    assert_unbiased_and_covered, errors_over_seeds, Mixed, Triples,
};
use crate::core::explain::{exact_shapley, linear_shap};
use crate::core::models::{LinearModel, OutputSpace};
use crate::core::stats::Reference;
use crate::core::CoreError;
use approx::assert_abs_diff_eq;
use ndarray::{array, Array2};

fn data(rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 7 + j * 3) % 11) as f64 / 2.0 - 2.5
    })
}

fn per_baseline(n_samples: usize, seed: u64) -> SamplingParams {
    SamplingParams {
        n_samples: Some(n_samples),
        seed,
        estimator: Estimator::PerBaseline,
        ..SamplingParams::default()
    }
}

#[test]
fn an_additive_game_is_exact_at_any_budget() {
    // Each background row's game is additive too: every fold's fit is exact and
    // the residuals are zero.
    let model = LinearModel::regression(
        array![[1.5, -2.0, 0.0, 0.7, 3.0, -1.0, 0.4, 2.2]],
        array![0.3],
    )
    .unwrap();
    let reference = Reference::new(&model, data(30, 8));
    let x = array![[1.0, 2.0, 3.0, -4.0, 0.5, 1.5, -2.0, 0.0]];
    let want = linear_shap::explain(&model, &reference, x.view(), &[0], OutputSpace::Raw).unwrap();
    for n_samples in [40, 100] {
        let options = per_baseline(n_samples, 3).check(&model).unwrap();
        let got = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        assert_eq!(got[0].quality.estimator, Some("per_baseline"));
        assert_eq!(got[0].quality.samples, Some(n_samples));
        for (a, b) in got[0].attributions.iter().zip(&want[0].attributions) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-9);
        }
        for se in got[0].quality.standard_errors.as_ref().unwrap() {
            assert_abs_diff_eq!(*se, 0.0, epsilon = 1e-9);
        }
    }
}

#[test]
fn a_budget_for_every_coalition_gives_the_exact_values() {
    let model = Mixed { n_features: 6 };
    let reference = Reference::new(&model, data(25, 6));
    let x = array![[1.0, -2.0, 0.5, 2.0, -1.0, 3.0]];
    let exact_options = SamplingParams::default().check(&model).unwrap();
    let want = exact_shapley::explain(&model, &reference, x.view(), &[0], &exact_options).unwrap();
    let options = per_baseline(62, 0).check(&model).unwrap();
    let got = explain(&model, &reference, x.view(), &[0], &options).unwrap();
    for (a, b) in got[0].attributions.iter().zip(&want[0].attributions) {
        assert_abs_diff_eq!(a, b, epsilon = 1e-9);
    }
}

#[test]
fn sampled_values_are_unbiased_and_their_errors_cover() {
    // Third-order interactions (`Triples`), 8 players, 8 background rows; 120
    // coalitions: sizes 1 and 7 enumerated, 52 pairs of sizes 2 to 6 sampled.
    let x = array![[1.5, -2.0, 1.0, 2.0, -1.5, 0.5, 1.0, -1.0]];
    let model = Triples { n_features: 8 };
    let reference = Reference::new(&model, data(8, 8));
    let exact_options = SamplingParams::default().check(&model).unwrap();
    let exact = exact_shapley::explain(&model, &reference, x.view(), &[0], &exact_options).unwrap();
    let (errors, ses) = errors_over_seeds(200, &exact[0].attributions, |seed| {
        let options = per_baseline(120, seed).check(&model).unwrap();
        explain(&model, &reference, x.view(), &[0], &options)
            .unwrap()
            .remove(0)
    });
    assert!(ses.iter().flatten().all(|&s| s > 0.0));
    assert_unbiased_and_covered(&errors, &ses, 0.03);
}

#[test]
fn the_background_rows_errors_average_out() {
    // The same budget with every row playing the same coalitions (kernel) and
    // with a relabelling per row: on 40 background rows the second's error is
    // smaller, as the module doc measured on the benchmark's MLP.
    let x = array![[1.5, -2.0, 1.0, 2.0, -1.5, 0.5, 1.0, -1.0]];
    let model = Triples { n_features: 8 };
    let reference = Reference::new(&model, data(40, 8));
    let exact_options = SamplingParams::default().check(&model).unwrap();
    let exact = exact_shapley::explain(&model, &reference, x.view(), &[0], &exact_options).unwrap();
    let mse = |estimator: Estimator| {
        let (errors, _) = errors_over_seeds(40, &exact[0].attributions, |seed| {
            let options = SamplingParams {
                estimator,
                ..per_baseline(60, seed)
            }
            .check(&model)
            .unwrap();
            explain(&model, &reference, x.view(), &[0], &options)
                .unwrap()
                .remove(0)
        });
        errors.iter().flatten().map(|e| e * e).sum::<f64>() / errors.len() as f64
    };
    let (shared, own) = (mse(Estimator::Kernel), mse(Estimator::PerBaseline));
    assert!(own < shared / 2.0, "per baseline {own}, shared {shared}");
}

#[test]
fn answers_repeat_by_seed_and_refuse_top_k() {
    let model = Mixed { n_features: 6 };
    let reference = Reference::new(&model, data(25, 6));
    let x = array![
        [1.0, -2.0, 0.5, 2.0, -1.0, 3.0],
        [0.0, 1.0, 2.0, -1.0, 0.5, 0.0]
    ];
    let run = |seed| {
        let options = per_baseline(30, seed).check(&model).unwrap();
        explain(&model, &reference, x.view(), &[0, 0], &options).unwrap()
    };
    let (a, b, c) = (run(4), run(4), run(5));
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(a.attributions, b.attributions);
    }
    assert_ne!(a[0].attributions, c[0].attributions);
    // Efficiency holds exactly per row.
    for e in &a {
        let sum: f64 = e.attributions.iter().sum();
        assert_abs_diff_eq!(sum, e.prediction - e.base_value, epsilon = 1e-9);
    }
    let options = SamplingParams {
        top_k: Some(2),
        ..per_baseline(30, 0)
    }
    .check(&model)
    .unwrap();
    let err = explain(&model, &reference, x.view(), &[0, 0], &options).unwrap_err();
    assert!(matches!(err, CoreError::InvalidArgument(m) if m.contains("top_k")));
}

#[test]
fn groups_and_a_weighted_background_keep_an_additive_game_exact() {
    // Five groups as players, 20 of their 30 coalitions, against 6 weighted
    // k-means centres: each row's game is additive, its fit exact, and the rows
    // are averaged with their weights.
    let model = LinearModel::regression(
        array![[1.5, -2.0, 0.5, 0.7, 3.0, -1.0, 0.4, 2.2]],
        array![0.3],
    )
    .unwrap();
    let reference = Reference::new(&model, data(40, 8));
    let x = array![[1.0, 2.0, 3.0, -4.0, 0.5, 1.5, -2.0, 0.0]];
    let params = SamplingParams {
        groups: Some(vec![vec![0, 5], vec![1], vec![2, 3, 4], vec![6], vec![7]]),
        kmeans: Some(6),
        ..per_baseline(20, 2)
    };
    let options = params.check(&model).unwrap();
    let got = explain(&model, &reference, x.view(), &[0], &options).unwrap();
    let want = exact_shapley::explain(&model, &reference, x.view(), &[0], &options).unwrap();
    assert_eq!(got[0].attributions.len(), 5);
    assert!(got[0].quality.background.is_some(), "the summary is named");
    for (a, b) in got[0].attributions.iter().zip(&want[0].attributions) {
        assert_abs_diff_eq!(a, b, epsilon = 1e-9);
    }
}

#[test]
fn a_spent_time_limit_is_an_error() {
    let model = Mixed { n_features: 10 };
    let reference = Reference::new(&model, data(30, 10));
    let options = SamplingParams {
        timeout: Some(std::time::Duration::from_nanos(1)),
        ..per_baseline(200, 0)
    }
    .check(&model)
    .unwrap();
    let err = explain(&model, &reference, data(2, 10).view(), &[0, 0], &options).unwrap_err();
    assert!(matches!(err, CoreError::Timeout { .. }));
}
