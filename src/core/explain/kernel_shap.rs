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
//! - Otherwise, as shap does, the coalition sizes the budget covers are enumerated
//!   completely, from the outside in: sizes 1 and P − 1 first, then 2 and P − 2, …,
//!   each pair of sizes while the share of the remaining budget its kernel mass earns
//!   covers all its coalitions (and two pairs remain to sample the rest). These
//!   carry most of the kernel's mass, and on models where few features matter they
//!   pin the answer down; each keeps its kernel weight.
//! - The remaining budget draws pairs: each size not enumerated gets a share of the
//!   pairs in proportion to its kernel mass `(P − 1) / (s (P − s))` (all of its
//!   coalitions where the share covers them), each pair a coalition of that size not
//!   drawn before and its complement (paired, antithetic sampling; Covert and Lee
//!   2021, "Improving KernelSHAP"). The coalition is the best balanced of a few
//!   uniform candidates, the one whose players and pairs of players the earlier
//!   draws of its size hold least (`kernel_design/balanced.rs`): about 1.5 times
//!   lower error than uniform draws at the same budget. A sampled coalition's weight
//!   is its size's kernel mass over the coalitions of that size drawn. On an
//!   additive game every pair fits exactly, so the answer is exact for any budget.
//!
//! # Top-k
//! With `top_k = k`, the full fit ranks the players by |φ| and the constrained fit
//! is repeated on the `k` largest alone; the others get exactly 0 and efficiency
//! still holds. (shap's `l1_reg="num_features(k)"` selects by a LARS path instead;
//! this is the simpler magnitude rule, applied to the same coalitions.)
//!
//! # Leverage SHAP
//! With [`Estimator::Leverage`] the same constrained fit is made to coalitions drawn
//! by their leverage scores (Musco and Witter 2025; every size gets an equal share,
//! drawn without replacement, each weighted by its size's kernel mass over the
//! coalitions of that size drawn): see `kernel_design/strata.rs`. Its standard
//! errors are the same jackknife, stratified by size.
//!
//! # Regression adjustment
//! With [`Estimator::RegressionAdjusted`] the same coalitions as KernelSHAP's are
//! drawn; a surrogate with every third-order odd interaction is fitted to some
//! folds of the pairs and KernelSHAP explains only its residual on the others
//! (cross-fitting, so the adjustment adds no bias): see `kernel_shap/adjusted.rs`.
//! With `top_k`, the players are ranked by the adjusted values and the restricted
//! refit is KernelSHAP's.
//!
//! # Per baseline
//! With [`Estimator::PerBaseline`] the game is taken apart into the games of single
//! background rows, whose Shapley values average to the game's: every background
//! row plays KernelSHAP's design (the best of 8 balanced candidates per draw)
//! through its own random relabelling of the players, its game is fitted alone
//! (cross-fitted over two folds of the pairs, so that averaging over the
//! background leaves no bias behind), and the fits are averaged with the rows'
//! weights. The rows' sampling errors then average out instead of adding up: on
//! the convergence benchmark's MLP about half the coalitions of
//! `regression_adjusted` reach shap's 2048-sample accuracy. Each (coalition,
//! background row) is one model row, as for the others; an MLP's float32 lanes
//! play one row's coalition each. See `kernel_shap/baselines.rs`. Not with
//! `top_k`; a `tolerance` starts from a pilot of `2P + 128`.
//!
//! Default budget: `2P + 2048` coalitions, shap's `nsamples="auto"`. `Quality::samples`
//! reports the coalitions evaluated, each costing one model row per background row.
//! With a `tolerance`, the budget grows in rounds from a pilot of `2P + 512` (see the
//! private `rounds` module): the sizes enumerated are those of the pilot, and later
//! rounds add pairs, until a round's budget covers every coalition: that round
//! enumerates them all and answers the exact values (zero standard errors), as
//! Leverage SHAP's draws without replacement do.
//!
//! # Standard errors
//! For sampled coalitions, the cluster jackknife ("CR3") covariance of the weighted
//! least-squares estimate with each antithetic pair as a cluster:
//! `Cov(β̂) ≈ A⁻¹ M A⁻¹` with `A = Σ_i w_i x_i x_iᵀ` over every coalition and `M`
//! the spread of the pairs' scores `g_c = X_cᵀ W_c (I − H_cc)⁻¹ e_c`, their residuals
//! inflated by their leverage `H_cc = X_c A⁻¹ X_cᵀ W_c` (leave-one-pair-out fits;
//! the plain sandwich covered the true error at 88–92% for a nominal 95% with 30–50
//! pairs). The pairs of each size are a sample without replacement, and balanced:
//! `M` takes the scores after their fit on what the draws balance (an intercept per
//! size and the drawn side's players, `balanced::residual_scores`), with its degrees
//! of freedom, each size with its finite-population correction (Cochran's stratified
//! estimator, see `kernel_design/strata.rs`). Over 200 seeds the errors fall
//! within 1.96 of them 93–96% of the time (`sampled_values_are_unbiased_and_their_errors_cover`,
//! `balanced_errors_cover_on_ten_players`); with independent draws' errors, which
//! count what the balance holds fixed as if it varied, 98–99%. Enumerated
//! coalitions are not random and add nothing. The eliminated player's variance
//! follows from `φ_P = Δ − Σβ`. It is zero when no size is sampled.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::game::float32_suffices;
use super::kernel_design::Design;
use super::linalg::Cholesky;
use super::rounds::{Convergence, Plan};
use super::sampling::{per_row, row_rng, SamplingOptions, Setup, Stop};
use super::Explanation;
use crate::core::models::Model;
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

/// How KernelSHAP draws and weighs the coalitions it does not enumerate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Estimator {
    /// Sizes in proportion to their kernel mass, equal weights (shap's sampling,
    /// with pairs): the module doc's `# Coalitions`.
    #[default]
    Kernel,
    /// Leverage SHAP: every size an equal share, without replacement, each weighted
    /// by its size's kernel mass over its count (module doc, `# Leverage SHAP`).
    Leverage,
    /// KernelSHAP's sampling, adjusted by a cross-fitted third-order surrogate
    /// whose Shapley values are exact (module doc, `# Regression adjustment`).
    RegressionAdjusted,
    /// KernelSHAP's design played by every background row through its own
    /// relabelling of the players, each row's game fitted alone (cross-fitted) and
    /// the fits averaged (module doc, `# Per baseline`).
    PerBaseline,
}

/// The default budget for `players` players: shap's `2P + 2048`.
pub fn default_samples(players: usize) -> usize {
    2 * players + 2048
}

/// The first round's budget with a `tolerance`: `2P + 512`, a quarter of the
/// default's sampled pairs, so that an easy row stops early.
pub fn pilot_samples(players: usize) -> usize {
    2 * players + 512
}

/// [`pilot_samples`] for `estimator`: `2P + 128` for [`Estimator::PerBaseline`],
/// whose error at a budget is that of two to three times the budget for the others
/// on a large background (`kernel_shap/baselines.rs`), and whose later rounds cost
/// only their new coalitions and a refit.
fn pilot_for(estimator: Estimator, players: usize) -> usize {
    match estimator {
        Estimator::PerBaseline => 2 * players + 128,
        _ => pilot_samples(players),
    }
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
    let plan = Plan::of(
        options,
        default_samples(players),
        pilot_for(options.estimator(), players),
        Convergence::Measured,
    );
    let exhaustive = players < 40 && (1usize << players) - 2 <= plan.first;
    if !exhaustive && plan.first < 2 * players {
        return Err(CoreError::InvalidArgument(format!(
            "kernel_shap needs n_samples of at least {} for {players} players, got {}",
            2 * players,
            plan.first
        )));
    }
    if options.estimator() == Estimator::PerBaseline && options.top_k().is_some() {
        return Err(CoreError::InvalidArgument(
            "kernel_shap: top_k does not combine with estimator per_baseline".into(),
        ));
    }
    let setup = Setup::new(model, reference, x, outputs, options)?;
    let first = match options.estimator() {
        _ if exhaustive => Design::enumerated(players),
        Estimator::Kernel | Estimator::RegressionAdjusted => Design::plan(players, plan.first),
        // Its errors are not balanced::residual_scores's, calibrated at 32
        // candidates; 8 balance as well (`balanced.rs`), at a quarter of the draws'
        // cost.
        Estimator::PerBaseline => Design::plan(players, plan.first).with_candidates(8),
        Estimator::Leverage => Design::leverage(players, plan.first),
    };
    if options.estimator() == Estimator::PerBaseline && !exhaustive {
        return baselines::explain(model, &setup, x, outputs, options, &plan, &first);
    }
    per_row(x.nrows(), |i| {
        let k = outputs[i];
        let game = setup.game(model, x.row(i), k, options);
        let (base, prediction) = (setup.base[k], setup.predictions[[i, k]]);
        let precise = !float32_suffices(options.tolerance(), base.abs().max(prediction.abs()));
        let mut rng = row_rng(options.seed(), i);
        let mut design = first.clone();
        let mut values: Vec<f64> = Vec::new();
        plan.run(setup.stop.deadline, |budget| {
            if design.incomplete() && players < 40 && (1usize << players) - 2 <= budget {
                // This round can afford every coalition: enumerate them, for the
                // exact values (theorem 2), rather than draw as many pairs.
                design = Design::enumerated(players);
                values.clear();
            } else if design.incomplete() {
                let pairs = budget.saturating_sub(design.enumerated) / 2;
                design.sample(pairs.saturating_sub(design.pairs()), &mut rng, &setup.stop)?;
            }
            let new = &design.masks[values.len() * players..];
            values.extend(match design.incomplete() {
                true => game.sampled_values(new, precise)?,
                false => game.values(new)?,
            });
            setup.stop.check()?;
            let all: Vec<usize> = (0..players).collect();
            let ends = (base, prediction);
            let mut fitted = match options.estimator() {
                Estimator::RegressionAdjusted => {
                    adjusted::fit(&design, &values, ends, &setup.stop)?
                }
                _ => fit(&design, &values, ends, &all, &setup.stop)?,
            };
            if let Some(k) = options.top_k().filter(|&k| k < players) {
                let selected = largest(&fitted.phi, k);
                fitted = fit(&design, &values, (base, prediction), &selected, &setup.stop)?;
            }
            let estimator = match options.estimator() {
                Estimator::Leverage => "leverage",
                // Every coalition enumerated: the exact values, as the estimator's.
                Estimator::PerBaseline => "per_baseline",
                _ if fitted.adjusted => "regression_adjusted",
                _ => "kernel",
            };
            let mut e = Explanation::new(k, prediction, base, fitted.phi);
            e.quality.estimator = Some(estimator);
            e.quality.samples = Some(values.len());
            e.quality.standard_errors = Some(fitted.standard_errors);
            e.quality.tolerance = plan.tolerance;
            e.quality.background.clone_from(&setup.summary);
            Ok(e)
        })
    })
}

/// Attributions and their standard errors.
struct Fit {
    /// One value per player; they sum to `v(N) − v(∅)` exactly up to rounding.
    phi: Vec<f64>,
    /// One standard error per player.
    standard_errors: Vec<f64>,
    /// Whether a regression adjustment made them ([`Estimator::RegressionAdjusted`]
    /// falls back to the plain fit when its surrogate cannot be fitted).
    adjusted: bool,
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
            adjusted: false,
        });
    };
    if p == 1 {
        phi[eliminated] = delta;
        return Ok(Fit {
            phi,
            standard_errors,
            adjusted: false,
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
    if design.pairs() > 0 {
        stop.check()?;
        let se = design.sandwich(&chol, &xs, &(&y - &xs.dot(&beta)));
        for (&player, &value) in selected.iter().zip(&se) {
            standard_errors[player] = value;
        }
    }
    Ok(Fit {
        phi,
        standard_errors,
        adjusted: false,
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

mod adjusted;
mod baselines;
#[cfg(test)]
mod tests;
