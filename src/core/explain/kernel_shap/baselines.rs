//! Per-baseline KernelSHAP ([`Estimator::PerBaseline`]): every background row plays
//! KernelSHAP's design through its own random relabelling of the players, its
//! single-row game is fitted alone, and the attributions are the background's
//! weighted mean of the fits.
//!
//! # Why
//! The game averages the games of single background rows, `v = Σ_b w_b g_b`
//! (`game/baselines.rs`), and Shapley values are linear in the game. Sampled on
//! shared coalitions, the rows' errors add up coalition by coalition: whatever
//! interaction the draws miss, they miss for every row. With a relabelling per row
//! the rows' errors are nearly independent and average out over the background.
//! Each single-row game has larger interactions than the averaged one, but with 100
//! background rows the variance still falls: measured on the convergence
//! benchmark's 12-feature MLP (numpy, all 4096 coalitions of every row's game
//! known, 5 rows × 20 seeds), at 256 coalitions per row the root-mean-square
//! error was 3.9e-4 against 9.9e-4 with shared balanced coalitions (and 5.1e-4
//! against 1.5e-3 with antithetic permutations). In this implementation, 30
//! seeds × 5 rows: 3.8e-4 at 320 coalitions, where `regression_adjusted` needs
//! about 640 for shap's 3.7e-4. A relabelling keeps each row's design balanced and
//! its regression matrix the drawn design's, permuted: one factorisation per fold
//! serves every row, and the rows' sums are matrix products (`baselines/fit.rs`).
//!
//! # The fit, cross-fitted
//! A row's KernelSHAP regression is biased at order `1/n` (a ratio of sampled
//! sums), and averaging over the background shrinks the variance but not the
//! bias: at 256 coalitions its root-mean-square was a fifth of the error's. So
//! each row is fitted twice, each sampled size's pairs split alternately into two
//! folds ([`Design::folds`]): the constrained fit on the enumerated sizes and one fold
//! (its pairs weighted for their whole size), then the exact Shapley values of
//! the residual estimated on the other fold without a ratio, from the whole
//! population's regression matrix, which is known in closed form
//! (`A = c (I + J)` in the coordinates that eliminate the last player, with
//! `c = Σ_s m(s) s (P − s) / (P (P − 1))` over the sizes' kernel masses `m(s)`).
//! Given the first fold's fit the second's estimate is unbiased, and the fitted
//! part's error cancels to first order; the two fits are averaged. Measured on the
//! same games: the bias within its noise over 40 seeds, 5% more error. A budget
//! so small that a sampled size has a single pair, or that a fold's coalitions do
//! not determine its fit, fits once, on everything (its bias is then far below its
//! noise).
//!
//! # Standard errors
//! To first order the error is the population matrix's inverse times the sampled
//! pairs' scores `w_a x_a r_a + w_b x_b r_b`, with each pair's residuals from the
//! fit that did not see it. Each row's variance is Cochran's stratified estimator
//! of those scores (centred within each size, with its finite-population
//! correction), the rows' variances add with their weights squared (their
//! relabellings are independent), and a design player's variance goes to the
//! player its row relabels it to. Over 40 seeds × 5 rows of the benchmark's MLP
//! at 320 coalitions 97.6% of the errors fell within 1.96 of them (their
//! root-mean-square 0.89 of them: slightly conservative, as balanced draws'
//! errors are under a stratified estimator).

use ndarray::{Array1, ArrayView1, ArrayView2};

use fit::fit;

use crate::core::explain::game::{float32_suffices, Relabel};
use crate::core::explain::kernel_design::Design;
use crate::core::explain::rounds::Plan;
use crate::core::explain::sampling::{per_row, row_rng, SamplingOptions, Setup};
use crate::core::explain::Explanation;
use crate::core::models::Model;
use crate::core::CoreResult;

/// [`super::explain`] with [`super::Estimator::PerBaseline`] and a design that
/// samples: `first` is the first round's design, `plan` the rounds.
pub(super) fn explain(
    model: &dyn Model,
    setup: &Setup,
    x: ArrayView2<f64>,
    outputs: &[usize],
    options: &SamplingOptions,
    plan: &Plan,
    first: &Design,
) -> CoreResult<Vec<Explanation>> {
    let players = options.groups().len();
    let n_bg = setup.background.nrows();
    let weights = match &setup.weights {
        Some(w) => w.clone(),
        None => Array1::from_elem(n_bg, 1.0 / n_bg as f64),
    };
    per_row(x.nrows(), |i| {
        let k = outputs[i];
        let game = setup.game(model, x.row(i), k, options);
        let (base, prediction) = (setup.base[k], setup.predictions[[i, k]]);
        let precise = !float32_suffices(options.tolerance(), base.abs().max(prediction.abs()));
        let mut rng = row_rng(options.seed(), i);
        let relabel = Relabel::random(players, n_bg, &mut rng);
        let ends = Ends {
            empty: setup.background_outputs.column(k),
            prediction,
            weights: weights.view(),
        };
        let mut design = first.clone();
        // Every coalition's `y` so far, (coalitions × background rows), in this
        // thread's reused buffer.
        let mut y = Reused::take(Slot::Responses);
        let answer = plan.run(setup.stop.deadline, |budget| {
            if design.incomplete() {
                let pairs = budget.saturating_sub(design.enumerated) / 2;
                design.sample(pairs.saturating_sub(design.pairs()), &mut rng, &setup.stop)?;
            }
            let done = y.len() / n_bg;
            game.baseline_values(&design.masks[done * players..], &relabel, precise, &mut y)?;
            centre(&design, &ends, done, &mut y);
            setup.stop.check()?;
            let y = ArrayView2::from_shape((y.len() / n_bg, n_bg), &y).expect("whole rows");
            let fitted = fit(&design, &relabel, y, &ends, &setup.stop)?;
            let mut e = Explanation::new(k, prediction, base, fitted.phi);
            e.quality.estimator = Some("per_baseline");
            e.quality.samples = Some(y.nrows());
            e.quality.standard_errors = Some(fitted.standard_errors);
            e.quality.tolerance = plan.tolerance;
            e.quality.background.clone_from(&setup.summary);
            Ok(e)
        });
        y.give_back();
        answer
    })
}

/// One of a thread's buffers (the responses `y`, or the pairs' differences of
/// `baselines/fit.rs`), kept between rows and calls up to [`Reused::KEEP`] bytes:
/// fresh ones of a few hundred kilobytes per row were mapped, zeroed and returned
/// to the system every time (a worker thread's arena gives freed memory back),
/// about a tenth of a row's time on the benchmark's MLP.
struct Reused(Vec<f64>, Slot);

/// Which of a thread's buffers.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Responses = 0,
    Differences = 1,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<[Vec<f64>; 2]> =
        const { std::cell::RefCell::new([Vec::new(), Vec::new()]) };
}

impl Reused {
    /// The most bytes a thread keeps in a buffer.
    const KEEP: usize = 8 << 20;

    /// This thread's buffer `slot`, empty.
    fn take(slot: Slot) -> Reused {
        let mut v = BUFFERS.with(|b| std::mem::take(&mut b.borrow_mut()[slot as usize]));
        v.clear();
        Reused(v, slot)
    }

    /// Keep the buffer for the thread's next use, unless it grew past the limit.
    fn give_back(self) {
        if self.0.capacity() * std::mem::size_of::<f64>() <= Self::KEEP {
            BUFFERS.with(|b| b.borrow_mut()[self.1 as usize] = self.0);
        }
    }
}

impl std::ops::Deref for Reused {
    type Target = Vec<f64>;
    fn deref(&self) -> &Vec<f64> {
        &self.0
    }
}

impl std::ops::DerefMut for Reused {
    fn deref_mut(&mut self) -> &mut Vec<f64> {
        &mut self.0
    }
}

/// What a row's fit needs besides its design and values.
pub(super) struct Ends<'a> {
    /// `g_b(∅) = f(b)` per background row.
    pub empty: ArrayView1<'a, f64>,
    /// `g_b(N) = f(x)`.
    pub prediction: f64,
    /// Each background row's weight (summing to 1).
    pub weights: ArrayView1<'a, f64>,
}

/// Turn the values `g_b(π_b(S))` of the coalitions from `from` on, in `y`
/// (coalitions × background rows), into the fit's responses
/// `y_b = g_b − g_b(∅) − z[eliminated] Δ_b` (`Δ_b = f(x) − f(b)`; the last player
/// is eliminated, as in [`super::fit`]).
fn centre(design: &Design, ends: &Ends, from: usize, y: &mut [f64]) {
    let p = design.players;
    let n_bg = ends.empty.len();
    for (i, row) in y.chunks_exact_mut(n_bg).enumerate().skip(from) {
        let last = design.masks[(i + 1) * p - 1];
        for (b, v) in row.iter_mut().enumerate() {
            let empty = ends.empty[b];
            *v -= if last { ends.prediction } else { empty };
        }
    }
}

mod fit;
#[cfg(test)]
mod tests;
