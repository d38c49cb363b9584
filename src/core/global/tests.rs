//! Properties of the data summaries on small linear and logistic models.

use approx::assert_abs_diff_eq;
use ndarray::{array, Array1, Array2};

use super::dependence::{self, DependenceParams};
use super::loss::{Loss, Target};
use super::permutation::{self, PermutationParams};
use crate::core::models::{LinearModel, Model, OutputSpace};
use crate::core::{Cancel, CoreError};

/// y = 1 + 3 x0 + 0 x1 − 0.5 x2 on 40 rows, x2 on a much smaller scale.
fn regression() -> (LinearModel, Array2<f64>, Target) {
    let model = LinearModel::regression(array![[3.0, 0.0, -0.5]], array![1.0]).unwrap();
    let x = Array2::from_shape_fn((40, 3), |(i, j)| {
        let t = i as f64;
        match j {
            0 => (t * 0.37).sin() * 2.0,
            1 => (t * 1.3).cos() * 5.0,
            _ => (t * 0.11).cos() * 0.1,
        }
    });
    let y = model.predict(x.view(), OutputSpace::Raw).column(0).to_vec();
    (model, x, Target::Values(y))
}

fn params(loss: Loss) -> PermutationParams {
    PermutationParams {
        repeats: 5,
        seed: 7,
        loss,
    }
}

#[test]
fn zero_coefficient_feature_has_exactly_zero_importance() {
    let (model, x, y) = regression();
    let imp = permutation::importance(
        &model,
        x.view(),
        &y,
        &params(Loss::Rmse),
        &|_| {},
        &Cancel::never(),
    )
    .unwrap();
    assert_eq!(imp.features[1].mean, 0.0);
    assert_eq!(imp.features[1].std, 0.0);
    // A perfect fit: baseline RMSE is (numerically) zero.
    assert!(imp.baseline < 1e-12);
}

#[test]
fn dominant_feature_ranks_first() {
    let (model, x, y) = regression();
    let imp = permutation::importance(
        &model,
        x.view(),
        &y,
        &params(Loss::Rmse),
        &|_| {},
        &Cancel::never(),
    )
    .unwrap();
    assert!(imp.features[0].mean > imp.features[2].mean);
    assert!(imp.features[2].mean > imp.features[1].mean);
}

#[test]
fn same_seed_same_answer_other_seed_other_answer() {
    let (model, x, y) = regression();
    let a = permutation::importance(
        &model,
        x.view(),
        &y,
        &params(Loss::Rmse),
        &|_| {},
        &Cancel::never(),
    )
    .unwrap();
    let b = permutation::importance(
        &model,
        x.view(),
        &y,
        &params(Loss::Rmse),
        &|_| {},
        &Cancel::never(),
    )
    .unwrap();
    assert_eq!(a, b);
    let other = PermutationParams {
        seed: 8,
        ..params(Loss::Rmse)
    };
    let c =
        permutation::importance(&model, x.view(), &y, &other, &|_| {}, &Cancel::never()).unwrap();
    assert_ne!(a.features[0].increases, c.features[0].increases);
}

#[test]
fn matches_a_brute_force_computation() {
    // Recompute every repeat by hand: shuffle the column, predict, RMSE, subtract.
    let (model, x, y) = regression();
    let p = params(Loss::Rmse);
    let imp = permutation::importance(&model, x.view(), &y, &p, &|_| {}, &Cancel::never()).unwrap();
    let Target::Values(values) = &y else {
        unreachable!()
    };
    for j in 0..3 {
        let mut increases = Vec::new();
        for r in 0..p.repeats {
            let order = permutation::permutation(x.nrows(), p.seed, j, r);
            let moved = permutation::shuffled(x.view(), j, &order);
            let pred = model.predict(moved.view(), OutputSpace::Raw);
            let mse = pred
                .column(0)
                .iter()
                .zip(values)
                .map(|(f, y)| (f - y).powi(2))
                .sum::<f64>()
                / x.nrows() as f64;
            increases.push(mse.sqrt() - imp.baseline);
        }
        let mean = increases.iter().sum::<f64>() / increases.len() as f64;
        let std = (increases.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
            / increases.len() as f64)
            .sqrt();
        assert_abs_diff_eq!(imp.features[j].mean, mean, epsilon = 1e-12);
        assert_abs_diff_eq!(imp.features[j].std, std, epsilon = 1e-12);
    }
}

#[test]
fn permutations_are_permutations() {
    let mut order = permutation::permutation(100, 3, 2, 1);
    assert_ne!(order, (0..100).collect::<Vec<_>>());
    order.sort_unstable();
    assert_eq!(order, (0..100).collect::<Vec<_>>());
}

#[test]
fn progress_reaches_one() {
    let (model, x, y) = regression();
    let last = std::sync::Mutex::new(0.0_f64);
    permutation::importance(
        &model,
        x.view(),
        &y,
        &params(Loss::Rmse),
        &|p| {
            let mut l = last.lock().unwrap();
            *l = l.max(p);
        },
        &Cancel::never(),
    )
    .unwrap();
    assert_eq!(*last.lock().unwrap(), 1.0);
}

#[test]
fn a_tripped_token_stops_importance_and_dependence() {
    // Tripped from the progress callback after the first shuffle or grid point:
    // the call stops with Cancelled instead of finishing its other blocks.
    let (model, x, y) = regression();
    let cancel = Cancel::new();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let trip = |_| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        cancel.cancel();
    };
    let many = PermutationParams {
        repeats: 50,
        ..params(Loss::Rmse)
    };
    let err = permutation::importance(&model, x.view(), &y, &many, &trip, &cancel).unwrap_err();
    assert_eq!(err, CoreError::Cancelled);
    let total = x.ncols() * many.repeats;
    // Each rayon worker may finish the shuffle it had started.
    assert!(calls.load(std::sync::atomic::Ordering::SeqCst) < total / 2);
    let grid: Vec<f64> = (0..200).map(f64::from).collect();
    let p = DependenceParams {
        feature: 0,
        grid: &grid,
        ice_rows: &[],
        space: OutputSpace::Raw,
    };
    let err = dependence::partial_dependence(&model, x.view(), &p, &|_| {}, &cancel).unwrap_err();
    assert_eq!(err, CoreError::Cancelled);
}

fn binary() -> (LinearModel, Array2<f64>, Target) {
    let model = LinearModel::logistic(array![[2.0, 0.0]], array![0.0]).unwrap();
    let x = Array2::from_shape_fn((30, 2), |(i, j)| {
        if j == 0 {
            i as f64 / 10.0 - 1.5
        } else {
            (i as f64).sin()
        }
    });
    let classes = (0..30).map(|i| usize::from(i >= 15)).collect();
    (model, x, Target::Classes(classes))
}

#[test]
fn log_loss_and_error_rate_by_hand() {
    let (model, x, y) = binary();
    let p = model.predict(x.view(), OutputSpace::Probability);
    let Target::Classes(c) = &y else {
        unreachable!()
    };
    let by_hand: f64 = p
        .column(0)
        .iter()
        .zip(c)
        .map(|(&p, &k)| if k == 1 { -p.ln() } else { -(1.0 - p).ln() })
        .sum::<f64>()
        / 30.0;
    assert_abs_diff_eq!(
        Loss::LogLoss.evaluate(&model, x.view(), &y),
        by_hand,
        epsilon = 1e-12
    );
    // x0 = i/10 − 1.5 > 0 exactly for i ≥ 16; row 15 (x0 = 0, p = 0.5) is called 0: wrong.
    assert_abs_diff_eq!(Loss::Accuracy.evaluate(&model, x.view(), &y), 1.0 / 30.0);
}

#[test]
fn classifier_importance_by_accuracy_and_log_loss() {
    let (model, x, y) = binary();
    for loss in [Loss::LogLoss, Loss::Accuracy] {
        let imp = permutation::importance(
            &model,
            x.view(),
            &y,
            &params(loss),
            &|_| {},
            &Cancel::never(),
        )
        .unwrap();
        assert_eq!(imp.features[1].mean, 0.0, "{loss:?}");
        assert!(imp.features[0].mean > 0.0, "{loss:?}");
    }
}

#[test]
fn losses_must_fit_the_task() {
    let (model, x, y) = regression();
    for loss in [Loss::LogLoss, Loss::Accuracy] {
        assert!(permutation::importance(
            &model,
            x.view(),
            &y,
            &params(loss),
            &|_| {},
            &Cancel::never()
        )
        .is_err());
    }
    let (logit, xb, classes) = binary();
    assert!(permutation::importance(
        &logit,
        xb.view(),
        &classes,
        &params(Loss::Rmse),
        &|_| {},
        &Cancel::never()
    )
    .is_err());
    let three = Target::Classes(vec![2; 30]);
    assert!(Loss::LogLoss.check(&three, &logit).is_err());
    let zero = PermutationParams {
        repeats: 0,
        ..params(Loss::Rmse)
    };
    assert!(
        permutation::importance(&model, x.view(), &y, &zero, &|_| {}, &Cancel::never()).is_err()
    );
    let short = Target::Values(vec![0.0; 3]);
    assert!(permutation::importance(
        &model,
        x.view(),
        &short,
        &params(Loss::Rmse),
        &|_| {},
        &Cancel::never()
    )
    .is_err());
}

#[test]
fn linear_partial_dependence_is_analytic() {
    // PD_j(v) = b + w_j v + Σ_{k≠j} w_k mean(x_k), and every ICE curve has slope w_j.
    let (model, x, _) = regression();
    let grid = dependence::grid(x.column(0), 7, 1).unwrap();
    let ice_rows = [0, 5, 39];
    let params = DependenceParams {
        feature: 0,
        grid: &grid,
        ice_rows: &ice_rows,
        space: OutputSpace::Raw,
    };
    let pd = dependence::partial_dependence(&model, x.view(), &params, &|_| {}, &Cancel::never())
        .unwrap();
    let means: Array1<f64> = x.mean_axis(ndarray::Axis(0)).unwrap();
    for (g, &v) in grid.iter().enumerate() {
        let expected = 1.0 + 3.0 * v + 0.0 * means[1] - 0.5 * means[2];
        assert_abs_diff_eq!(pd.average[0][g], expected, epsilon = 1e-12);
        for (r, &row) in ice_rows.iter().enumerate() {
            let ice = 1.0 + 3.0 * v - 0.5 * x[[row, 2]];
            assert_abs_diff_eq!(pd.ice[0][r][g], ice, epsilon = 1e-12);
        }
    }
}

#[test]
fn grid_uses_common_distinct_values_or_spans_the_private_quantiles() {
    let binary = array![0.0, 1.0, 1.0, 0.0, f64::NAN];
    assert_eq!(
        dependence::grid(binary.view(), 10, 2).unwrap(),
        vec![0.0, 1.0]
    );
    // Held by fewer rows than asked: not shown as they are, but spanned from the 5%
    // to the 95% quantile. scipy's positions (n·p + 0.4 + 0.2·p, from 1) clamp to
    // the first and last of 0,0,1,1, whole ranks, which move half a rank in: 0.5
    // and 2.5 (ties: 0 and 1).
    let spanned = dependence::grid(binary.view(), 3, 3).unwrap();
    assert_eq!(spanned, vec![0.0, 0.5, 1.0]);
    // As many distinct values as points: scikit-learn's rule (fewer than
    // grid_resolution) spans the quantiles instead of listing them.
    let three = array![0.0, 0.0, 1.0, 1.0, 3.0, 3.0];
    assert_eq!(
        dependence::grid(three.view(), 4, 1).unwrap(),
        vec![0.0, 1.0, 3.0]
    );
    assert_eq!(
        dependence::grid(three.view(), 3, 1).unwrap(),
        vec![0.0, 1.5, 3.0]
    );
    let ramp = Array1::from_iter((0..101).map(f64::from));
    let g = dependence::grid(ramp.view(), 10, 1).unwrap();
    // scipy's mquantiles positions in 0..=100: 101·0.05 + 0.41 = 5.46 and
    // 101·0.95 + 0.59 = 96.54, from 1: the values 4.46 and 95.54, 10 points evenly
    // between (scikit-learn's grid).
    assert_eq!(g.len(), 10);
    for (i, v) in g.iter().enumerate() {
        assert_abs_diff_eq!(*v, 4.46 + (95.54 - 4.46) / 9.0 * i as f64, epsilon = 1e-9);
    }
    // Eleven rows or fewer: scipy's positions clamp to the smallest and largest
    // value (scikit-learn's grid would show both rows); explaind moves them half a
    // rank in, so no grid point is a single row's value.
    let five = array![1.0, 2.0, 4.0, 8.0, 16.0];
    let g = dependence::grid(five.view(), 3, 1).unwrap();
    assert_eq!((g[0], g[2]), (1.5, 12.0));
    assert!(dependence::grid(ramp.view(), 1, 1).is_err());
    assert!(dependence::grid(array![f64::NAN].view(), 5, 1).is_err());
}

#[test]
fn private_quantiles_fall_between_rows() {
    // numpy's linear quantile where the position is fractional: 0.05 of 10 values
    // is position 0.45, between the first two.
    let ten: Vec<f64> = (0..10).map(|i| 1.0 + f64::from(i) * 0.1).collect();
    assert_abs_diff_eq!(
        dependence::private_quantile(&ten, 0.05),
        dependence::quantile(&ten, 0.05),
        epsilon = 1e-15
    );
    // On a whole rank it moves half a rank up: the median of 5 values (rank 2)
    // becomes the midpoint of ranks 2 and 3; p = 0 and 1 the midpoints of the two
    // outermost pairs (the last rank moves down).
    let five = [1.0, 2.0, 4.0, 8.0, 16.0];
    assert_eq!(dependence::private_quantile(&five, 0.5), 6.0);
    assert_eq!(dependence::private_quantile(&five, 0.0), 1.5);
    assert_eq!(dependence::private_quantile(&five, 1.0), 12.0);
    for k in 0..=100 {
        let q = dependence::private_quantile(&five, f64::from(k) / 100.0);
        assert!(!five.contains(&q), "p = {k}%: {q}");
    }
    // Ties are shared values: two rows hold 3.
    assert_eq!(
        dependence::private_quantile(&[1.0, 3.0, 3.0, 9.0], 0.5),
        3.0
    );
}

#[test]
fn dependence_refuses_bad_arguments() {
    let (model, x, _) = regression();
    let grid = [0.0, 1.0];
    let base = DependenceParams {
        feature: 0,
        grid: &grid,
        ice_rows: &[],
        space: OutputSpace::Raw,
    };
    let run = |p: DependenceParams<'_>| {
        dependence::partial_dependence(&model, x.view(), &p, &|_| {}, &Cancel::never())
    };
    assert!(run(DependenceParams { feature: 3, ..base }).is_err());
    assert!(run(DependenceParams {
        ice_rows: &[40],
        ..base
    })
    .is_err());
    assert!(run(DependenceParams {
        grid: &[f64::INFINITY],
        ..base
    })
    .is_err());
    assert!(run(DependenceParams {
        space: OutputSpace::Probability,
        ..base
    })
    .is_err());
    assert!(run(base).is_ok());
}

#[test]
fn a_category_grid_is_every_code_in_order_within_the_cap() {
    assert_eq!(
        dependence::category_grid(3, 20).unwrap(),
        vec![0.0, 1.0, 2.0]
    );
    let err = dependence::category_grid(21, 20).unwrap_err();
    assert!(err.to_string().contains("21 categories"), "{err}");
    assert!(err.to_string().contains("--global-max-grid"), "{err}");
}
