//! Exact Shapley values of any model, by enumerating every coalition.
//!
//! `φ_i = Σ_{S ⊆ N∖{i}} |S|! (P − |S| − 1)! / P! · (v(S ∪ {i}) − v(S))` (Shapley 1953),
//! with `v` the interventional value function over the background described in
//! [`super::sampling`] (the values shap's `ExactExplainer` computes with an
//! independent masker). All `2^P` coalitions of the `P` players are evaluated, so
//! the cost is `2^P × background rows` model rows per explained row; calls with
//! more than [`MAX_EXACT_PLAYERS`] players are refused. This is the yardstick the
//! sampling estimators are tested against.
//!
//! The sample budget and seed are not used (the seed still picks the background
//! sample when the reference is larger than `max_background`); `Quality::samples`
//! reports the `2^P` coalitions and there are no standard errors.

use ndarray::ArrayView2;

use super::sampling::{per_row, Game, SamplingOptions, Setup};
use super::Explanation;
use crate::core::models::{Model, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

/// The most players (features or groups) an exact call enumerates: 2^16 coalitions.
pub const MAX_EXACT_PLAYERS: usize = 16;

/// The most (coalition, background row, class) triples [`enumerates_quickly`]
/// accepts: about 5 ms per explained row and output at a third of a nanosecond each.
const QUICK_PAIRS: usize = 1 << 24;

/// Whether an exact call on `model` in `space`, with `players` players against
/// `background_rows` rows, is cheap enough to stand in for sampling: a model whose
/// raw outputs are additive over its features with a logistic or softmax link, in
/// probability space, whose coalitions' values come from tables at a third of a
/// nanosecond per (coalition, background row) pair and class (`core::explain`'s
/// `link_game`: a softmax over K classes adds K − 2 multiply-adds to each pair),
/// with at most [`MAX_EXACT_PLAYERS`] players and 2^24 such triples (5 ms per row
/// and output). On the 12-feature logistic model of docs/benchmarks-convergence.md
/// that is 0.15 ms per row, exact, against the 500 or more coalitions at 1 µs each
/// that sampling needs for shap's accuracy.
pub fn enumerates_quickly(
    model: &dyn Model,
    space: OutputSpace,
    players: usize,
    background_rows: usize,
) -> bool {
    players <= MAX_EXACT_PLAYERS
        && (1usize << players)
            .saturating_mul(background_rows)
            .saturating_mul(model.n_outputs())
            <= QUICK_PAIRS
        && super::link_game::applies(model, space)
}

/// Explain each row of `x` for the output chosen for it in `outputs`; with groups
/// in `options`, one attribution per group.
///
/// # Errors
/// [`CoreError::InvalidArgument`] above [`MAX_EXACT_PLAYERS`] players or for an
/// output out of range, [`CoreError::Shape`] for a wrong width,
/// [`CoreError::Timeout`] past the options' time limit.
pub fn explain(
    model: &dyn Model,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    options: &SamplingOptions,
) -> CoreResult<Vec<Explanation>> {
    let players = options.groups().len();
    if players > MAX_EXACT_PLAYERS {
        return Err(CoreError::InvalidArgument(format!(
            "exact_shapley enumerates 2^players coalitions and takes at most \
             {MAX_EXACT_PLAYERS} players; this call has {players}: group features or \
             use kernel_shap / permutation_shap"
        )));
    }
    let setup = Setup::new(model, reference, x, outputs, options)?;
    per_row(x.nrows(), |i| {
        let k = outputs[i];
        let game = setup.game(model, x.row(i), k, options);
        let phi = shapley_values(&game)?;
        let mut e = Explanation::new(k, setup.predictions[[i, k]], setup.base[k], phi);
        e.quality.samples = Some(1 << players);
        e.quality.background.clone_from(&setup.summary);
        Ok(e)
    })
}

/// Exact Shapley values of `game`.
fn shapley_values(game: &Game) -> CoreResult<Vec<f64>> {
    // Every value, ∅ and N included, comes from one evaluation of the game, so a
    // player the model ignores gets exactly 0.
    let v = game.all_values()?;
    Ok(from_values(&v, game.groups.len()))
}

/// `φ_g = Σ_{c ∌ g} w(|c|) (v(c ∪ {g}) − v(c))` from `v` of every coalition `c`
/// of `p` players (bit `g` of `c`: player `g`), with
/// `w(s) = s! (p − s − 1)! / p! = 1 / (p · C(p − 1, s))`.
fn from_values(v: &[f64], p: usize) -> Vec<f64> {
    let weight: Vec<f64> = (0..p)
        .map(|s| 1.0 / (p as f64 * binomial(p - 1, s)))
        .collect();
    let by_coalition: Vec<f64> = (0..v.len())
        .map(|c| weight[(c.count_ones() as usize).min(p - 1)])
        .collect();
    (0..p)
        .map(|g| {
            // The coalitions without g come in runs of 2^g, each followed by the
            // same run with g; eight partial sums keep the additions independent
            // (and, on runs of eight or more, vectorised).
            let stride = 1usize << g;
            let mut sums = [0.0; 8];
            for (k, start) in (0..v.len()).step_by(2 * stride).enumerate() {
                let without = &v[start..start + stride];
                let with = &v[start + stride..start + 2 * stride];
                let w = &by_coalition[start..start + stride];
                if stride >= 8 {
                    for ((a, b), w) in without
                        .chunks_exact(8)
                        .zip(with.chunks_exact(8))
                        .zip(w.chunks_exact(8))
                    {
                        for lane in 0..8 {
                            sums[lane] += w[lane] * (b[lane] - a[lane]);
                        }
                    }
                } else {
                    for ((&a, &b), &w) in without.iter().zip(with).zip(w) {
                        sums[k % 8] += w * (b - a);
                    }
                }
            }
            sums.iter().sum()
        })
        .collect()
}

/// C(n, k) as a float (exact for the sizes used here).
pub(crate) fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::linear_shap;
    use crate::core::explain::sampling::SamplingParams;
    use crate::core::models::LinearModel;
    use approx::assert_abs_diff_eq;
    use ndarray::{array, Array2};

    fn linear() -> (LinearModel, Reference) {
        let model = LinearModel::regression(array![[1.5, -2.0, 0.0, 0.7]], array![0.3]).unwrap();
        let data = Array2::from_shape_fn((30, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let reference = Reference::new(&model, data);
        (model, reference)
    }

    #[test]
    fn equals_linear_shap_on_a_linear_model() {
        // For f = b + w·x the interventional Shapley value is w_j (x_j − E[x_j]).
        let (model, reference) = linear();
        let x = array![[1.0, 2.0, 3.0, -4.0], [0.5, -1.0, 9.0, 2.0]];
        let options = SamplingParams::default().check(&model).unwrap();
        let got = explain(&model, &reference, x.view(), &[0, 0], &options).unwrap();
        let want =
            linear_shap::explain(&model, &reference, x.view(), &[0, 0], OutputSpace::Raw).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert_abs_diff_eq!(g.base_value, w.base_value, epsilon = 1e-9);
            for (a, b) in g.attributions.iter().zip(&w.attributions) {
                assert_abs_diff_eq!(a, b, epsilon = 1e-9);
            }
            // The dummy axiom: feature 2 has weight 0.
            assert_eq!(g.attributions[2], 0.0);
        }
    }

    #[test]
    fn symmetric_players_share_equally_and_efficiency_holds() {
        // f = x0·x1 with x = (1, 1) and background (0, 0): v({0}) = v({1}) = 0,
        // v(N) = 1, so each player gets 1/2.
        let model = crate::core::explain::tests_support::Product;
        let reference = Reference::new(&model, array![[0.0, 0.0]]);
        let options = SamplingParams::default().check(&model).unwrap();
        let e = explain(
            &model,
            &reference,
            array![[1.0, 1.0]].view(),
            &[0],
            &options,
        )
        .unwrap();
        assert_abs_diff_eq!(e[0].attributions[0], 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(e[0].attributions[1], 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(e[0].quality.additivity_residual, 0.0, epsilon = 1e-12);
    }

    #[test]
    fn groups_of_a_linear_model_sum_their_members() {
        let (model, reference) = linear();
        let x = array![[1.0, 2.0, 3.0, -4.0]];
        let params = SamplingParams {
            groups: Some(vec![vec![0, 3], vec![1, 2]]),
            ..SamplingParams::default()
        };
        let grouped = explain(
            &model,
            &reference,
            x.view(),
            &[0],
            &params.check(&model).unwrap(),
        )
        .unwrap();
        let single = explain(
            &model,
            &reference,
            x.view(),
            &[0],
            &SamplingParams::default().check(&model).unwrap(),
        )
        .unwrap();
        let groups = params.check(&model).unwrap().groups().clone();
        let summed = groups.sum(&single[0].attributions);
        for (a, b) in grouped[0].attributions.iter().zip(&summed) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-9);
        }
    }

    #[test]
    fn enumerates_quickly_only_logistic_regressions_in_probability_space_within_the_cap() {
        let binary = LinearModel::logistic(Array2::ones((1, 16)), array![0.0]).unwrap();
        let three = LinearModel::logistic(Array2::ones((3, 16)), array![0.0, 0.0, 0.0]).unwrap();
        let regression = LinearModel::regression(Array2::ones((1, 16)), array![0.0]).unwrap();
        let p = OutputSpace::Probability;
        assert!(enumerates_quickly(&binary, p, 12, 100));
        assert!(enumerates_quickly(&binary, p, 16, 256));
        assert!(!enumerates_quickly(&binary, p, 16, 257));
        assert!(!enumerates_quickly(&binary, p, 17, 1));
        assert!(!enumerates_quickly(&binary, OutputSpace::Raw, 12, 100));
        assert!(!enumerates_quickly(&regression, p, 12, 100));
        // Three classes: 2^16 × 85 × 3 fits in 2^24, 2^16 × 86 × 3 does not.
        assert!(enumerates_quickly(&three, p, 16, 85));
        assert!(!enumerates_quickly(&three, p, 16, 86));
    }

    #[test]
    fn too_many_players_are_refused() {
        let model = LinearModel::regression(Array2::ones((1, 17)), array![0.0]).unwrap();
        let reference = Reference::new(&model, Array2::zeros((2, 17)));
        let options = SamplingParams::default().check(&model).unwrap();
        let err = explain(
            &model,
            &reference,
            Array2::zeros((1, 17)).view(),
            &[0],
            &options,
        )
        .unwrap_err();
        assert!(matches!(err, CoreError::InvalidArgument(_)));
    }
}
