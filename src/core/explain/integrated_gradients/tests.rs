//! Tests of the quadrature rules, integrated gradients and the single-gradient methods.

use approx::assert_abs_diff_eq;
use ndarray::{array, Array2};

use super::*;
use crate::core::explain::{gradients, linear_shap};
use crate::core::models::mlp::tests::{layer, pseudo_random, small_net};
use crate::core::models::mlp::{MlpParams, ScalerParams};
use crate::core::models::{LinearModel, Mlp, Model};

#[test]
fn every_rule_has_weights_summing_to_one() {
    for &rule in Rule::ALL {
        for steps in [2, 3, 7, 50] {
            let (alphas, weights) = rule.nodes(steps).unwrap();
            assert_eq!(alphas.len(), steps);
            assert_abs_diff_eq!(weights.iter().sum::<f64>(), 1.0, epsilon = 1e-13);
            assert!(alphas.iter().all(|a| (0.0..=1.0).contains(a)));
        }
    }
}

#[test]
fn gauss_legendre_matches_the_closed_form_and_is_exact_for_degree_2n_minus_1() {
    // Three nodes on [−1, 1]: 0, ±√(3/5), weights 8/9 and 5/9; halved and shifted to [0, 1].
    let (a, w) = Rule::GaussLegendre.nodes(3).unwrap();
    let r = (0.6f64).sqrt() / 2.0;
    assert_abs_diff_eq!(a[0], 0.5 - r, epsilon = 1e-15);
    assert_abs_diff_eq!(a[1], 0.5, epsilon = 1e-15);
    assert_abs_diff_eq!(w[0], 5.0 / 18.0, epsilon = 1e-15);
    assert_abs_diff_eq!(w[1], 8.0 / 18.0, epsilon = 1e-15);
    // ∫₀¹ αᵈ dα = 1/(d+1) exactly for d ≤ 2n − 1.
    for n in [1, 4, 20, 50] {
        let (a, w) = Rule::GaussLegendre.nodes(n).unwrap();
        for d in 0..(2 * n).min(30) {
            let q: f64 = a.iter().zip(&w).map(|(a, w)| w * a.powi(d as i32)).sum();
            assert_abs_diff_eq!(q, 1.0 / (d as f64 + 1.0), epsilon = 1e-13);
        }
    }
}

#[test]
fn rules_parse_by_captum_name_and_steps_are_bounded() {
    assert_eq!(
        "gausslegendre".parse::<Rule>().unwrap(),
        Rule::GaussLegendre
    );
    assert!("simpson".parse::<Rule>().is_err());
    assert!(Rule::RiemannTrapezoid.nodes(1).is_err());
    assert!(Rule::GaussLegendre.nodes(0).is_err());
    assert!(Rule::GaussLegendre.nodes(MAX_STEPS + 1).is_err());
}

/// A purely linear 3-4-1 MLP with a scaler, and the same map as a `LinearModel`.
fn linear_pair() -> (Mlp, LinearModel, Array2<f64>) {
    let mlp = MlpParams {
        layers: vec![
            layer(
                pseudo_random(3, 4, 11),
                vec![0.1, -0.2, 0.3, 0.0],
                "identity",
            ),
            layer(pseudo_random(4, 1, 12), vec![0.7], "identity"),
        ],
        scaler: Some(ScalerParams {
            mean: vec![1.0, 2.0, -1.0],
            scale: vec![0.5, 4.0, 2.0],
        }),
        input_shape: None,
    }
    .validate()
    .unwrap();
    // Read the effective weights off the model: f(e_j) − f(0).
    let f0 = mlp.predict_raw(Array2::zeros((1, 3)).view())[[0, 0]];
    let eye = Array2::<f64>::eye(3);
    let w = mlp.predict_raw(eye.view()).column(0).mapv(|v| v - f0);
    let linear = LinearModel::regression(w.insert_axis(ndarray::Axis(0)), array![f0]).unwrap();
    let background = array![
        [0.0, 1.0, 2.0],
        [1.5, -3.0, 0.5],
        [2.0, 2.0, 2.0],
        [-1.0, 0.0, 4.0]
    ];
    (mlp, linear, background)
}

#[test]
fn integrated_gradients_of_a_linear_mlp_equal_linear_shap() {
    // For f(x) = b + w·x the gradient is w everywhere, so with the background mean as
    // baseline φ_j = w_j (x_j − E[x_j]): exactly the interventional linear SHAP value,
    // and f(mean) = E[f(X)] makes the base values agree too.
    let (mlp, linear, background) = linear_pair();
    let ref_mlp = Reference::new(&mlp, background.clone());
    let ref_lin = Reference::new(&linear, background);
    let x = array![[3.0, -1.0, 0.0], [0.2, 0.4, 0.6]];
    let ig = explain(
        &mlp,
        &ref_mlp,
        x.view(),
        &[0, 0],
        OutputSpace::Raw,
        &IgOptions::default(),
    )
    .unwrap();
    let shap =
        linear_shap::explain(&linear, &ref_lin, x.view(), &[0, 0], OutputSpace::Raw).unwrap();
    for (a, b) in ig.iter().zip(&shap) {
        assert_abs_diff_eq!(a.base_value, b.base_value, epsilon = 1e-12);
        assert_abs_diff_eq!(a.prediction, b.prediction, epsilon = 1e-12);
        for (p, q) in a.attributions.iter().zip(&b.attributions) {
            assert_abs_diff_eq!(*p, *q, epsilon = 1e-12);
        }
        assert_abs_diff_eq!(a.quality.convergence_delta.unwrap(), 0.0, epsilon = 1e-12);
    }
}

#[test]
fn convergence_delta_shrinks_with_steps() {
    // A Riemann sum's error falls like 1/steps on a smooth path; Gauss-Legendre's far faster.
    let m = small_net("tanh", "softmax", 3);
    let reference = Reference::new(&m, array![[0.0, 0.0, 0.0], [1.0, -1.0, 2.0]]);
    let x = array![[2.5, -2.0, 3.0]];
    let delta = |rule, steps| {
        let options = IgOptions {
            steps,
            rule,
            baseline: Some(vec![-1.0, 1.0, 0.0]),
            tolerance: None,
            max_steps: MAX_STEPS,
        };
        let e = explain(
            &m,
            &reference,
            x.view(),
            &[2],
            OutputSpace::Probability,
            &options,
        );
        e.unwrap()[0].quality.convergence_delta.unwrap().abs()
    };
    let coarse = delta(Rule::RiemannRight, 4);
    let medium = delta(Rule::RiemannRight, 16);
    let fine = delta(Rule::RiemannRight, 64);
    assert!(coarse > medium && medium > fine, "{coarse} {medium} {fine}");
    assert!(delta(Rule::GaussLegendre, 50) < 1e-10);
    assert!(delta(Rule::RiemannTrapezoid, 64) < fine);
}

#[test]
fn bad_baselines_and_outputs_are_refused() {
    let m = small_net("relu", "softmax", 3);
    let reference = Reference::new(&m, array![[0.0, 0.0, 0.0]]);
    let x = array![[1.0, 1.0, 1.0]];
    let short = IgOptions {
        baseline: Some(vec![0.0]),
        ..IgOptions::default()
    };
    assert!(matches!(
        explain(&m, &reference, x.view(), &[0], OutputSpace::Raw, &short),
        Err(CoreError::Shape { .. })
    ));
    let ok = IgOptions::default();
    assert!(explain(&m, &reference, x.view(), &[3], OutputSpace::Raw, &ok).is_err());
    assert!(explain(&m, &reference, x.view(), &[0, 1], OutputSpace::Raw, &ok).is_err());
}

#[test]
fn gradient_x_input_is_exact_on_a_linear_model_and_saliency_is_unsigned() {
    // f(x) − f(0) = w·x = Σ x_j ∂f/∂x_j for a linear map.
    let (mlp, _, background) = linear_pair();
    let x = array![[3.0, -1.0, 0.0], [0.2, 0.4, 0.6]];
    for e in gradients::gradient_x_input(&mlp, x.view(), &[0, 0], OutputSpace::Raw).unwrap() {
        assert_abs_diff_eq!(e.quality.additivity_residual, 0.0, epsilon = 1e-12);
    }
    let m = small_net("relu", "softmax", 3);
    let reference = Reference::new(&m, background);
    let s =
        gradients::saliency(&m, &reference, x.view(), &[2, 0], OutputSpace::Probability).unwrap();
    let g = m
        .gradient(x.slice(ndarray::s![1..2, ..]), 0, OutputSpace::Probability)
        .unwrap();
    assert_eq!(s[1].output, 0);
    for (a, b) in s[1].attributions.iter().zip(g.iter()) {
        assert_abs_diff_eq!(*a, b.abs(), epsilon = 1e-15);
    }
}

#[test]
fn adaptive_steps_double_until_the_delta_is_within_tolerance() {
    // A right Riemann sum's error falls like 1/steps: from 4 steps a 1e-4 relative
    // target needs several doublings; a row at the baseline needs none (Σφ = 0 =
    // f(x) − f(x′) exactly), and without a tolerance the steps are what was asked.
    let m = small_net("tanh", "softmax", 3);
    let reference = Reference::new(&m, array![[0.0, 0.0, 0.0], [1.0, -1.0, 2.0]]);
    let x = array![[2.5, -2.0, 3.0], [-1.0, 1.0, 0.0]];
    let options = |tolerance| IgOptions {
        steps: 4,
        rule: Rule::RiemannRight,
        baseline: Some(vec![-1.0, 1.0, 0.0]),
        tolerance,
        max_steps: MAX_STEPS,
    };
    let run = |o: &IgOptions| explain(&m, &reference, x.view(), &[2, 2], OutputSpace::Raw, o);
    let adaptive = run(&options(Some(1e-4))).unwrap();
    let e = &adaptive[0];
    let gap = (e.prediction - e.base_value).abs();
    let steps = e.quality.samples.unwrap();
    assert!(e.quality.convergence_delta.unwrap().abs() <= 1e-4 * gap);
    assert!(steps > 4 && (steps / 4).is_power_of_two(), "{steps}");
    assert_eq!(e.quality.tolerance, Some(1e-4));
    assert_eq!(e.quality.tolerance_met, Some(true));
    // A cap on the steps below what the target needs: the answer says so.
    let capped = IgOptions {
        max_steps: 8,
        ..options(Some(1e-6))
    };
    let short = &run(&capped).unwrap()[0];
    assert_eq!(short.quality.samples, Some(8));
    assert_eq!(short.quality.tolerance_met, Some(false));
    // The count before the one used was not enough.
    let before = IgOptions {
        steps: steps / 2,
        ..options(None)
    };
    let short = &run(&before).unwrap()[0];
    assert!(short.quality.convergence_delta.unwrap().abs() > 1e-4 * gap);
    assert_eq!(adaptive[1].quality.samples, Some(4));
    let fixed = run(&options(None)).unwrap();
    assert_eq!(fixed[0].quality.samples, Some(4));
    assert_eq!(fixed[0].quality.tolerance, None);
    assert_eq!(fixed[0].quality.tolerance_met, None);
    for bad in [0.0, -1.0, 1.5, f64::NAN] {
        assert!(matches!(
            run(&options(Some(bad))),
            Err(CoreError::InvalidArgument(m)) if m.contains("tolerance")
        ));
    }
}
