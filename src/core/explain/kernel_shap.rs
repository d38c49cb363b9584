//! KernelSHAP: Shapley values as the solution of a weighted linear regression over
//! coalitions (Lundberg and Lee 2017, "A Unified Approach to Interpreting Model
//! Predictions", theorem 2).
//!
//! The additive surrogate `g(z) = φ₀ + Σ φ_i z_i` is fitted to `v(S)` (the game of
//! [`super::sampling`]) over coalitions `z ∈ {0,1}^P` with the Shapley kernel
//! `π(z) = (P − 1) / (C(P,|z|) |z| (P − |z|))`, subject to `φ₀ = v(∅)` and the
//! efficiency constraint `Σφ = v(N) − v(∅)`. The constraint is enforced exactly by
//! eliminating the last player, `φ_P = Δ − Σ_{i<P} φ_i`, as shap does, and the
//! remaining normal equations are solved by Cholesky factorisation.
//!
//! # Coalitions
//! - When every non-trivial coalition fits the budget (`2^P − 2 ≤ n_samples`) all
//!   are enumerated with their kernel weights: the answer is then the exact Shapley
//!   value (theorem 2), with zero standard errors.
//! - Otherwise `n_samples / 2` pairs are drawn: a size `s` with probability
//!   proportional to the kernel mass of that size, `(P − 1) / (s (P − s))`, a uniform
//!   coalition of that size, and its complement (paired, antithetic sampling; Covert
//!   and Lee 2021, "Improving KernelSHAP"). Sampled coalitions are then weighted
//!   equally, since the kernel is already in the sampling distribution.
//!
//! # Top-k
//! With `top_k = k`, the full fit ranks the players by |φ| and the constrained fit
//! is repeated on the `k` largest alone; the others get exactly 0 and efficiency
//! still holds. (shap's `l1_reg="num_features(k)"` selects by a LARS path instead;
//! this is the simpler magnitude rule, applied to the same coalitions.)
//!
//! Default budget: `2P + 2048` coalitions, shap's `nsamples="auto"`. `Quality::samples`
//! reports the coalitions evaluated, each costing one model row per background row.
//!
//! # Standard errors
//! For sampled coalitions, the cluster-robust ("sandwich") covariance of the
//! least-squares estimate with each antithetic pair as a cluster:
//! `Cov(β̂) ≈ A⁻¹ (Σ_c g_c g_cᵀ) A⁻¹ · n/(n − 1)` with `A = Σ_i x_i x_iᵀ` and
//! `g_c = Σ_{i ∈ c} x_i e_i` over the pair's residuals. The eliminated player's
//! variance follows from `φ_P = Δ − Σβ`. It estimates the spread of the answer over
//! reruns with other seeds; it is zero when every coalition is enumerated.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::index;
use rand::Rng;

use super::exact_shapley::binomial;
use super::linalg::Cholesky;
use super::sampling::{per_row, row_rng, SamplingOptions, Setup, Stop};
use super::Explanation;
use crate::core::models::Model;
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

/// The default budget for `players` players: shap's `2P + 2048`.
pub fn default_samples(players: usize) -> usize {
    2 * players + 2048
}

/// Explain each row of `x` for the output chosen for it in `outputs`; with groups
/// in `options`, one attribution per group.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for a budget below `2P` that cannot enumerate
/// every coalition, or an output out of range; [`CoreError::Shape`] for a wrong
/// width; [`CoreError::Timeout`] past the options' time limit.
pub fn explain(
    model: &dyn Model,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    options: &SamplingOptions,
) -> CoreResult<Vec<Explanation>> {
    let players = options.groups().len();
    let budget = options.n_samples().unwrap_or(default_samples(players));
    let enumerate = players < 40 && (1usize << players) - 2 <= budget;
    if !enumerate && budget < 2 * players {
        return Err(CoreError::InvalidArgument(format!(
            "kernel_shap needs n_samples of at least {} for {players} players, got {budget}",
            2 * players
        )));
    }
    let setup = Setup::new(model, reference, x, outputs, options)?;
    per_row(x.nrows(), |i| {
        let k = outputs[i];
        let game = setup.game(model, x.row(i), k, options);
        let (base, prediction) = (setup.base[k], setup.predictions[[i, k]]);
        let design = if enumerate {
            Design::enumerated(players)
        } else {
            let mut rng = row_rng(options.seed(), i);
            Design::sampled(players, budget / 2, &mut rng, &setup.stop)?
        };
        let values = game.values(&design.masks)?;
        setup.stop.check()?;
        let all: Vec<usize> = (0..players).collect();
        let mut fitted = fit(&design, &values, (base, prediction), &all, &setup.stop)?;
        if let Some(k) = options.top_k().filter(|&k| k < players) {
            let selected = largest(&fitted.phi, k);
            fitted = fit(&design, &values, (base, prediction), &selected, &setup.stop)?;
        }
        let mut e = Explanation::new(k, prediction, base, fitted.phi);
        e.quality.samples = Some(values.len());
        e.quality.standard_errors = Some(fitted.standard_errors);
        Ok(e)
    })
}

/// The coalitions of one row and their regression weights.
struct Design {
    /// Number of players.
    players: usize,
    /// One run of `players` bools per coalition.
    masks: Vec<bool>,
    /// Regression weight of each coalition.
    weights: Vec<f64>,
    /// Whether consecutive coalitions form antithetic pairs (sampled designs).
    paired: bool,
}

impl Design {
    /// Every coalition but ∅ and N, with its Shapley kernel weight.
    fn enumerated(players: usize) -> Self {
        let count = 1usize << players;
        let mut masks = Vec::with_capacity((count - 2) * players);
        let mut weights = Vec::with_capacity(count - 2);
        for c in 1..count - 1 {
            masks.extend((0..players).map(|g| c >> g & 1 == 1));
            let s = c.count_ones() as usize;
            weights
                .push((players - 1) as f64 / (binomial(players, s) * (s * (players - s)) as f64));
        }
        Design {
            players,
            masks,
            weights,
            paired: false,
        }
    }

    /// `pairs` coalitions drawn in proportion to the kernel, each with its complement,
    /// checking `stop` every few thousand pairs.
    fn sampled(players: usize, pairs: usize, rng: &mut impl Rng, stop: &Stop) -> CoreResult<Self> {
        // Cumulative kernel mass of the sizes 1..P−1.
        let mass: Vec<f64> = (1..players)
            .map(|s| 1.0 / (s * (players - s)) as f64)
            .scan(0.0, |acc, m| {
                *acc += m;
                Some(*acc)
            })
            .collect();
        let total = mass.last().copied().unwrap_or(1.0);
        let mut masks = Vec::with_capacity(2 * pairs * players);
        for pair in 0..pairs {
            if pair % 4096 == 0 {
                stop.check()?;
            }
            let u = rng.random::<f64>() * total;
            let size = 1 + mass.iter().position(|&m| u < m).unwrap_or(players - 2);
            let mut mask = vec![false; players];
            for g in index::sample(rng, players, size) {
                mask[g] = true;
            }
            masks.extend(mask.iter().copied());
            masks.extend(mask.iter().map(|&on| !on));
        }
        Ok(Design {
            players,
            masks,
            weights: vec![1.0; 2 * pairs],
            paired: true,
        })
    }
}

/// Attributions and their standard errors.
struct Fit {
    /// One value per player; they sum to `v(N) − v(∅)` exactly up to rounding.
    phi: Vec<f64>,
    /// One standard error per player.
    standard_errors: Vec<f64>,
}

/// The constrained weighted least-squares fit described in the module doc, over
/// the `selected` players only (the others get 0), checking `stop` between its
/// stages (each a pass over every coalition).
fn fit(
    design: &Design,
    values: &[f64],
    (base, prediction): (f64, f64),
    selected: &[usize],
    stop: &Stop,
) -> CoreResult<Fit> {
    let players = design.players;
    let p = selected.len();
    let delta = prediction - base;
    let mut phi = vec![0.0; players];
    let mut standard_errors = vec![0.0; players];
    let Some((&eliminated, kept)) = selected.split_last() else {
        return Ok(Fit {
            phi,
            standard_errors,
        });
    };
    if p == 1 {
        phi[eliminated] = delta;
        return Ok(Fit {
            phi,
            standard_errors,
        });
    }
    let n = values.len();
    let bit = |on: bool| f64::from(u8::from(on));
    // x_i = z_i[kept] − z_i[eliminated]; y_i = v(S_i) − v(∅) − z_i[eliminated] Δ.
    let mut xs = Array2::<f64>::zeros((n, p - 1));
    let mut y = Array1::<f64>::zeros(n);
    for (i, z) in design.masks.chunks(players).enumerate() {
        let last = bit(z[eliminated]);
        for (g, &player) in kept.iter().enumerate() {
            xs[[i, g]] = bit(z[player]) - last;
        }
        y[i] = values[i] - base - last * delta;
    }
    stop.check()?;
    let w = Array1::from(design.weights.clone());
    let wx = &xs * &w.view().insert_axis(Axis(1));
    let a = xs.t().dot(&wx);
    stop.check()?;
    let b = wx.t().dot(&y);
    let chol = Cholesky::new(&a).ok_or_else(|| {
        CoreError::InvalidArgument(
            "kernel_shap: the sampled coalitions do not determine every attribution; raise n_samples"
                .into(),
        )
    })?;
    let beta = chol.solve(b.view());
    for (&player, &value) in kept.iter().zip(&beta) {
        phi[player] = value;
    }
    phi[eliminated] = delta - beta.sum();
    if design.paired {
        stop.check()?;
        let se = sandwich(&chol, &xs, &(&y - &xs.dot(&beta)));
        for (&player, &value) in selected.iter().zip(&se) {
            standard_errors[player] = value;
        }
    }
    Ok(Fit {
        phi,
        standard_errors,
    })
}

/// The `k` players of largest |φ| in `phi`, in player order.
fn largest(phi: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..phi.len()).collect();
    order.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()));
    order.truncate(k);
    order.sort_unstable();
    order
}

/// Standard errors from the pair-clustered sandwich covariance (module doc):
/// `Cov = A⁻¹ (Gᵀ G) A⁻¹ · c/(c − 1)` with one row `g_c` of `G` per pair, and the
/// eliminated player's variance `1ᵀ Cov 1`.
fn sandwich(chol: &Cholesky, xs: &Array2<f64>, residuals: &Array1<f64>) -> Vec<f64> {
    let clusters = xs.nrows() / 2;
    let mut g = Array2::<f64>::zeros((clusters, xs.ncols()));
    for (c, mut row) in g.rows_mut().into_iter().enumerate() {
        row.assign(
            &(&xs.row(2 * c) * residuals[2 * c] + &xs.row(2 * c + 1) * residuals[2 * c + 1]),
        );
    }
    let inv = chol.inverse();
    let cov = inv.dot(&g.t().dot(&g)).dot(&inv);
    let correction = if clusters > 1 {
        clusters as f64 / (clusters - 1) as f64
    } else {
        1.0
    };
    cov.diag()
        .iter()
        .copied()
        .chain(std::iter::once(cov.sum()))
        .map(|v| (v.max(0.0) * correction).sqrt())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::explain::sampling::SamplingParams;
    use crate::core::explain::tests_support::Mixed;
    use crate::core::explain::{exact_shapley, linear_shap};
    use crate::core::models::{LinearModel, OutputSpace};
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    fn data(rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f64 / 2.0 - 2.5
        })
    }

    #[test]
    fn full_enumeration_equals_linear_shap() {
        // Theorem 2: with every coalition and the Shapley kernel, the constrained WLS
        // solution is the Shapley value, here w_j (x_j − E[x_j]).
        let model =
            LinearModel::regression(array![[1.5, -2.0, 0.0, 0.7, 3.0]], array![0.3]).unwrap();
        let reference = Reference::new(&model, data(40, 5));
        let x = array![[1.0, 2.0, 3.0, -4.0, 0.5]];
        let options = SamplingParams::default().check(&model).unwrap();
        let got = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        let want =
            linear_shap::explain(&model, &reference, x.view(), &[0], OutputSpace::Raw).unwrap();
        for (a, b) in got[0].attributions.iter().zip(&want[0].attributions) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-9);
        }
        assert_eq!(got[0].quality.samples, Some(30));
    }

    #[test]
    fn full_enumeration_equals_exact_shapley_on_a_nonlinear_model() {
        let model = Mixed { n_features: 6 };
        let reference = Reference::new(&model, data(25, 6));
        let x = array![[1.0, -2.0, 0.5, 2.0, -1.0, 3.0]];
        let options = SamplingParams::default().check(&model).unwrap();
        let got = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        let want = exact_shapley::explain(&model, &reference, x.view(), &[0], &options).unwrap();
        for (a, b) in got[0].attributions.iter().zip(&want[0].attributions) {
            assert_abs_diff_eq!(a, b, epsilon = 1e-9);
        }
    }

    #[test]
    fn sampling_is_efficient_seeded_and_close_to_exact() {
        let model = Mixed { n_features: 10 };
        let reference = Reference::new(&model, data(30, 10));
        let x = array![[1.0, -2.0, 0.5, 2.0, -1.0, 3.0, 0.0, 1.0, -0.5, 2.5]];
        let params = SamplingParams {
            n_samples: Some(400),
            seed: 11,
            ..SamplingParams::default()
        };
        let options = params.check(&model).unwrap();
        let a = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        let b = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        assert_eq!(a, b, "same seed, same answer");
        // Efficiency is a constraint of the fit, so it holds to rounding.
        assert_abs_diff_eq!(a[0].quality.additivity_residual, 0.0, epsilon = 1e-9);
        let exact = exact_shapley::explain(&model, &reference, x.view(), &[0], &options).unwrap();
        let se = a[0].quality.standard_errors.as_ref().unwrap();
        for (j, se) in se.iter().enumerate() {
            let err = (a[0].attributions[j] - exact[0].attributions[j]).abs();
            assert!(err <= 5.0 * se + 1e-9, "feature {j}: error {err}, se {se}");
        }
        let other = SamplingParams { seed: 12, ..params }.check(&model).unwrap();
        assert_ne!(
            a,
            explain(&model, &reference, x.view(), &[0], &other).unwrap()
        );
    }

    #[test]
    fn groups_are_players_and_match_exact_grouped_values() {
        // With groups as players and every coalition enumerated, KernelSHAP is the
        // exact Shapley value of the group game.
        let model = Mixed { n_features: 6 };
        let reference = Reference::new(&model, data(20, 6));
        let x = array![[1.0, -2.0, 0.5, 2.0, -1.0, 3.0]];
        let params = SamplingParams {
            groups: Some(vec![vec![0, 5], vec![1], vec![2, 3, 4]]),
            ..SamplingParams::default()
        };
        let options = params.check(&model).unwrap();
        let got = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        let want = exact_shapley::explain(&model, &reference, x.view(), &[0], &options).unwrap();
        assert_eq!(got[0].attributions.len(), 3);
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
            ..SamplingParams::default()
        }
        .check(&model)
        .unwrap();
        let err = explain(&model, &reference, data(2, 10).view(), &[0, 0], &options).unwrap_err();
        assert!(matches!(err, CoreError::Timeout { .. }));
    }

    #[test]
    fn top_k_keeps_the_largest_and_stays_efficient() {
        // f = 1.5 x0 − 2 x1 + 0 x2 + 0.7 x3 + 3 x4: for x below, |φ| ranks x4, x1, x0
        // first; keeping 3 zeroes x2 and x3 and still sums to f(x) − E[f].
        let model =
            LinearModel::regression(array![[1.5, -2.0, 0.0, 0.7, 3.0]], array![0.3]).unwrap();
        let reference = Reference::new(&model, data(40, 5));
        let x = array![[1.0, 2.0, 3.0, -0.5, 0.5]];
        let options = SamplingParams {
            top_k: Some(3),
            ..SamplingParams::default()
        }
        .check(&model)
        .unwrap();
        let e = explain(&model, &reference, x.view(), &[0], &options).unwrap();
        let phi = &e[0].attributions;
        assert_eq!((phi[2], phi[3]), (0.0, 0.0), "{phi:?}");
        assert!(phi[0] != 0.0 && phi[1] != 0.0 && phi[4] != 0.0);
        assert_abs_diff_eq!(e[0].quality.additivity_residual, 0.0, epsilon = 1e-9);
        let bad = SamplingParams {
            top_k: Some(6),
            ..SamplingParams::default()
        };
        assert!(bad.check(&model).is_err());
    }

    #[test]
    fn a_budget_too_small_to_sample_is_refused() {
        let model = Mixed { n_features: 10 };
        let reference = Reference::new(&model, data(5, 10));
        let options = SamplingParams {
            n_samples: Some(10),
            ..SamplingParams::default()
        }
        .check(&model)
        .unwrap();
        let err = explain(&model, &reference, data(1, 10).view(), &[0], &options).unwrap_err();
        assert!(matches!(err, CoreError::InvalidArgument(_)));
    }
}
