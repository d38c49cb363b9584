//! Permutation sampling of Shapley values with antithetic pairs.
//!
//! The Shapley value is the average, over orderings of the players, of each
//! player's marginal contribution when added after its predecessors (Shapley 1953;
//! sampled by Castro, Gómez and Tejada 2009, "Polynomial calculation of the Shapley
//! value based on sampling"). Each drawn permutation is walked forwards and then
//! backwards (antithetic sampling, as shap's `PermutationExplainer` does; Mitchell
//! et al. 2022, "Sampling permutations for Shapley value estimation"), which cancels
//! much of the variance from pairwise interactions. Every permutation's contributions
//! telescope to `v(N) − v(∅)`, so efficiency holds exactly for any budget.
//!
//! # Budget
//! A permutation costs `P − 1` coalitions beyond `∅` and `N`, so `n_samples`
//! coalitions buy `n_samples / (2(P − 1))` pairs; at least two pairs are needed for
//! a standard error. Default: 10 pairs, `20 (P − 1)` coalitions. `Quality::samples`
//! reports the coalitions evaluated. With a `tolerance`, the pairs grow in rounds from
//! the default's 10 (see the private `rounds` module), each round adding pairs to
//! those drawn before.
//!
//! # Standard errors
//! Each pair gives one estimate per player (the mean of its two contributions), and
//! pairs are independent: the standard error is the sample standard deviation of
//! those estimates over pairs divided by √pairs.

use ndarray::ArrayView2;
use rand::seq::SliceRandom;

use super::game::float32_suffices;
use super::rounds::{Convergence, Plan};
use super::sampling::{per_row, row_rng, Game, SamplingOptions, Setup};
use super::Explanation;
use crate::core::models::Model;
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

/// The default budget for `players` players: ten antithetic pairs.
pub fn default_samples(players: usize) -> usize {
    20 * players.saturating_sub(1)
}

/// Explain each row of `x` for the output chosen for it in `outputs`; with groups
/// in `options`, one attribution per group.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for a budget below two pairs (`4 (P − 1)`) or an
/// output out of range; [`CoreError::Shape`] for a wrong width;
/// [`CoreError::Timeout`] past the options' time limit.
pub fn explain(
    model: &dyn Model,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    options: &SamplingOptions,
) -> CoreResult<Vec<Explanation>> {
    let players = options.groups().len();
    let plan = Plan::of(
        options,
        default_samples(players),
        default_samples(players),
        Convergence::MonteCarlo,
    );
    let per_pair = 2 * players.saturating_sub(1);
    let pairs_of = |budget: usize| budget.checked_div(per_pair).unwrap_or(2);
    if pairs_of(plan.first) < 2 {
        return Err(CoreError::InvalidArgument(format!(
            "permutation_shap needs n_samples of at least {} (two antithetic pairs) for \
             {players} players, got {}",
            2 * per_pair,
            plan.first
        )));
    }
    let setup = Setup::new(model, reference, x, outputs, options)?;
    per_row(x.nrows(), |i| {
        let k = outputs[i];
        let game = setup.game(model, x.row(i), k, options);
        let (base, prediction) = (setup.base[k], setup.predictions[[i, k]]);
        let precise = !float32_suffices(options.tolerance(), base.abs().max(prediction.abs()));
        let mut rng = row_rng(options.seed(), i);
        let mut order: Vec<usize> = (0..players).collect();
        let mut estimates: Vec<Vec<f64>> = Vec::new();
        let mut evaluated = 0;
        plan.run(setup.stop.deadline, |budget| {
            let new = pairs_of(budget).saturating_sub(estimates.len());
            let mut orders = Vec::with_capacity(2 * new);
            for _ in 0..new {
                order.shuffle(&mut rng);
                orders.push(order.clone());
                orders.push(order.iter().rev().copied().collect());
            }
            estimates.extend(pair_estimates(&game, &orders, (base, prediction), precise)?);
            evaluated += orders.len() * players.saturating_sub(1);
            let (phi, standard_errors) = mean_and_standard_error(&estimates, players);
            let mut e = Explanation::new(k, prediction, base, phi);
            e.quality.samples = Some(evaluated);
            e.quality.standard_errors = Some(standard_errors);
            e.quality.tolerance = plan.tolerance;
            e.quality.background.clone_from(&setup.summary);
            Ok(e)
        })
    })
}

/// One estimate per antithetic pair of `orders` (forward, reversed, …): each
/// player's mean contribution over the pair's two walks from `v(∅) = base` to
/// `v(N) = prediction` (`precise`: as [`Game::sampled_values`]).
fn pair_estimates(
    game: &Game,
    orders: &[Vec<usize>],
    (base, prediction): (f64, f64),
    precise: bool,
) -> CoreResult<Vec<Vec<f64>>> {
    let players = orders.first().map_or(0, Vec::len);
    // Interior prefixes of each order: the first 1, 2, …, P − 1 players.
    let mut masks = Vec::with_capacity(orders.len() * players.saturating_sub(1) * players);
    for order in orders {
        let mut mask = vec![false; players];
        for &g in &order[..players - 1] {
            mask[g] = true;
            masks.extend(mask.iter().copied());
        }
    }
    let values = game.sampled_values(&masks, precise)?;
    let mut estimates = vec![vec![0.0; players]; orders.len() / 2];
    for (o, order) in orders.iter().enumerate() {
        let interior = &values[o * (players - 1)..(o + 1) * (players - 1)];
        let mut previous = base;
        for (step, &g) in order.iter().enumerate() {
            let current = interior.get(step).copied().unwrap_or(prediction);
            estimates[o / 2][g] += (current - previous) / 2.0;
            previous = current;
        }
    }
    Ok(estimates)
}

/// Per-player mean over the pair estimates and its standard error.
fn mean_and_standard_error(estimates: &[Vec<f64>], players: usize) -> (Vec<f64>, Vec<f64>) {
    let n = estimates.len() as f64;
    let mean: Vec<f64> = (0..players)
        .map(|g| estimates.iter().map(|e| e[g]).sum::<f64>() / n)
        .collect();
    let se = (0..players)
        .map(|g| {
            let ss: f64 = estimates.iter().map(|e| (e[g] - mean[g]).powi(2)).sum();
            (ss / (n - 1.0) / n).sqrt()
        })
        .collect();
    (mean, se)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::exact_shapley;
    use crate::core::explain::sampling::SamplingParams;
    use crate::core::explain::tests_support::{
        assert_unbiased_and_covered, errors_over_seeds, Mixed, Triples,
    };
    use crate::core::models::LinearModel;
    use approx::assert_abs_diff_eq;
    use ndarray::{array, Array2};

    fn data(rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 5 + j * 3) % 13) as f64 / 3.0 - 2.0
        })
    }

    #[test]
    fn linear_models_are_explained_exactly_by_any_permutation() {
        // An additive game gives every order the same contributions w_j (x_j − E[x_j]).
        let model = LinearModel::regression(array![[1.0, -2.0, 0.0, 4.0]], array![1.0]).unwrap();
        let reference = Reference::new(&model, data(20, 4));
        let x = array![[2.0, 1.0, 5.0, -1.0]];
        let options = SamplingParams::default().check(&model).unwrap();
        let e = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        let mean = &reference.stats.mean;
        for (j, w) in [1.0, -2.0, 0.0, 4.0].iter().enumerate() {
            assert_abs_diff_eq!(
                e[0].attributions[j],
                w * (x[[0, j]] - mean[j]),
                epsilon = 1e-9
            );
            assert_abs_diff_eq!(
                e[0].quality.standard_errors.as_ref().unwrap()[j],
                0.0,
                epsilon = 1e-9
            );
        }
    }

    #[test]
    fn estimates_are_efficient_seeded_and_within_their_errors() {
        let model = Mixed { n_features: 8 };
        let reference = Reference::new(&model, data(30, 8));
        let x = array![[1.0, -2.0, 0.5, 2.0, -1.0, 3.0, 0.0, 1.0]];
        let options = SamplingParams {
            n_samples: Some(700),
            seed: 3,
            ..SamplingParams::default()
        }
        .check(&model)
        .unwrap();
        let a = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        assert_eq!(
            a,
            explain(&model, &reference, x.view(), &[0], &options).unwrap()
        );
        assert_eq!(a[0].quality.samples, Some(50 * 2 * 7));
        assert_abs_diff_eq!(a[0].quality.additivity_residual, 0.0, epsilon = 1e-9);
        let exact = exact_shapley::explain(&model, &reference, x.view(), &[0], &options).unwrap();
        let se = a[0].quality.standard_errors.as_ref().unwrap();
        for (j, se) in se.iter().enumerate() {
            let err = (a[0].attributions[j] - exact[0].attributions[j]).abs();
            assert!(err <= 5.0 * se + 1e-9, "feature {j}: error {err}, se {se}");
        }
    }

    #[test]
    fn a_budget_below_two_pairs_is_refused() {
        let model = Mixed { n_features: 8 };
        let reference = Reference::new(&model, data(3, 8));
        let options = SamplingParams {
            n_samples: Some(20),
            ..SamplingParams::default()
        }
        .check(&model)
        .unwrap();
        let err = explain(&model, &reference, data(1, 8).view(), &[0], &options).unwrap_err();
        assert!(matches!(err, CoreError::InvalidArgument(_)));
    }

    /// 200 seeded answers for one row of [`Triples`] with 40 antithetic pairs.
    #[test]
    fn estimates_are_unbiased_and_their_errors_cover() {
        let model = Triples { n_features: 8 };
        let reference = Reference::new(&model, data(8, 8));
        let x = array![[1.5, -2.0, 1.0, 2.0, -1.5, 0.5, 1.0, -1.0]];
        let exact_options = SamplingParams::default().check(&model).unwrap();
        let exact =
            exact_shapley::explain(&model, &reference, x.view(), &[0], &exact_options).unwrap();
        let (errors, ses) = errors_over_seeds(200, &exact[0].attributions, |seed| {
            let options = SamplingParams {
                n_samples: Some(40 * 2 * 7),
                seed,
                ..SamplingParams::default()
            }
            .check(&model)
            .unwrap();
            explain(&model, &reference, x.view(), &[0], &options)
                .unwrap()
                .remove(0)
        });
        assert_unbiased_and_covered(&errors, &ses, 0.03);
    }

    fn with_tolerance(model: &dyn Model, tolerance: f64, cap: usize) -> Explanation {
        let reference = Reference::new(model, data(10, 8));
        let x = array![[1.5, -2.0, 1.0, 2.0, -1.5, 0.5, 1.0, -1.0]];
        let options = SamplingParams {
            n_samples: Some(cap),
            tolerance: Some(tolerance),
            seed: 4,
            ..SamplingParams::default()
        }
        .check(model)
        .unwrap();
        explain(model, &reference, x.view(), &[0], &options)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn a_tolerance_stops_early_on_an_easy_row_and_adds_pairs_on_a_hard_one() {
        // Additive: every pair is exact, so the first round (10 pairs) meets any target.
        let w = array![[1.0, -2.0, 0.0, 4.0, 0.5, 0.0, 1.0, -1.0]];
        let linear = LinearModel::regression(w, array![1.0]).unwrap();
        let easy = with_tolerance(&linear, 1e-6, 10_000);
        assert_eq!(easy.quality.tolerance_met, Some(true));
        assert_eq!(easy.quality.samples, Some(default_samples(8)));
        let model = Triples { n_features: 8 };
        let hard = with_tolerance(&model, 1e-9, 40 * 14);
        assert_eq!(hard.quality.tolerance_met, Some(false));
        assert_eq!(
            hard.quality.samples,
            Some(40 * 14),
            "10 pairs, then the cap"
        );
        let first = with_tolerance(&model, 1e9, 100_000);
        let target = first.quality.max_standard_error.unwrap() / 1.5;
        let e = with_tolerance(&model, target, 100_000);
        assert_eq!(e.quality.tolerance_met, Some(true));
        assert!(e.quality.max_standard_error.unwrap() <= target);
        // Permutation errors fall as 1/√pairs: they call for 1.5² times the
        // pairs; the round asks 20% more.
        assert_eq!(e.quality.samples, Some(27 * 14));
        assert_eq!(e, with_tolerance(&model, target, 100_000), "seeded");
    }
}
