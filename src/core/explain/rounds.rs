//! Accuracy instead of budget: with a `tolerance` ε (in the output's units), a
//! sampling explainer samples in rounds until every attribution's standard error is
//! at most ε, as Covert and Lee (2021, "Improving KernelSHAP: Practical Shapley
//! Value Estimation via Linear Regression", section 4.2) detect convergence from the
//! estimator's own variance (they compare it with the range of the values; here the
//! caller gives the target in output units, so rows with small attributions are not
//! held to a tighter absolute target).
//!
//! # Rounds
//! The first round spends the method's pilot budget (at most the cap), smaller than
//! its default where the default is large, so that an easy row costs little. Each
//! further round aims at the budget the last round's errors call for: if the
//! standard errors fall as `budget^(−α)`, `budget · (se/ε)^(1/α)` would just meet
//! ε; the round asks [`MARGIN`] times that, at least [`MIN_GROWTH`] times the last
//! budget (a near miss does not cost a round per few percent) and at most
//! [`MAX_GROWTH`] times it (a pilot's errors are themselves estimates). The rate
//! `α` is ½ for a method whose samples are independent draws (Monte Carlo errors
//! fall as `1/√budget`: permutation_shap's); for one that enumerates more sizes as
//! its budget grows, or fits a surrogate that improves with it (kernel_shap), it
//! is measured: the rate the last two rounds showed (between ½ and 2), and
//! [`PRIOR_RATE`] after the first round, which shows none. Such errors fall faster: on the
//! convergence benchmark's MLP the largest standard error of `regression_adjusted`
//! fell as `budget^(−1.3)` to `budget^(−1.8)` between 536 and 2144 coalitions, and
//! the plain kernel's as `budget^(−0.8)` to `budget^(−1.1)`. Taking ½ there overshot
//! (a tolerance of 3.5e-4 reached an RMSE of 8e-5 in 2.2 times the time of
//! 1.5e-4), while a rate taken too fast only costs one more round, whose rate is
//! then measured. Every sample drawn so far is kept, and the new ones come from
//! the same seeded
//! generator, so the answer stays reproducible. It stops at the first of:
//! - every standard error ≤ ε (`tolerance_met: true`);
//! - the cap: `n_samples`, or [`MAX_SAMPLES`] when the request gives none (the HTTP
//!   layer passes `--max-samples`) (`tolerance_met: false`);
//! - the call's time limit: a further round is planned to end before it, its time
//!   predicted from the last round's in proportion to the budget (at most
//!   [`TIME_SHARE`] of the time left): smaller than the errors call for when it
//!   must be, and not started when not even a tenth more samples would fit; the
//!   last finished round answers (`tolerance_met: false`), sooner than the limit. A
//!   limit hit during a round all the same ends it the same way; a limit hit in the
//!   first round, or a cancelled call, is still an error. (So an answer near the
//!   limit depends on the machine's speed, as a limit always made it.)

use std::time::Instant;

use super::sampling::{SamplingOptions, MAX_SAMPLES};
use super::stop::Deadline;
use super::Explanation;
use crate::core::{CoreError, CoreResult};

/// How far past the budget the last round's errors call for the next round aims.
const MARGIN: f64 = 1.2;
/// The least a further round multiplies the budget by.
const MIN_GROWTH: f64 = 1.5;
/// The most a further round multiplies the budget by. The pilot's errors misjudge
/// what a larger budget reaches (KernelSHAP's errors fall faster than `1/√budget`
/// where its fit improves): with 16, a tolerance of 2e-4 on the convergence
/// benchmark's MLP leapt from the pilot to every coalition, 2.6 times the time of
/// rounds growing by 4 at most.
const MAX_GROWTH: f64 = 4.0;
/// The rate `α` of the module doc assumed after the first round: between Monte
/// Carlo's ½ and the rates measured where a fit improves with the budget.
const PRIOR_RATE: f64 = 1.0;
/// The slowest and fastest rates `α` taken from two rounds.
const RATES: (f64, f64) = (0.5, 2.0);
/// The share of the time left a further round is planned to take (its cost is a
/// prediction).
const TIME_SHARE: f64 = 0.8;

/// Refuse a tolerance that is not positive and finite.
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the field.
pub(crate) fn check_tolerance(tolerance: Option<f64>) -> CoreResult<()> {
    match tolerance {
        Some(t) if !(t.is_finite() && t > 0.0) => Err(CoreError::InvalidArgument(format!(
            "tolerance must be a positive standard error in output units for sampling \
             methods, got {t}"
        ))),
        _ => Ok(()),
    }
}

/// How a method's standard errors fall as its budget grows (module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Convergence {
    /// As `1/√budget`: independent draws.
    MonteCarlo,
    /// At the rate the rounds show: more enumerated, or a better fit, as the
    /// budget grows.
    Measured,
}

/// The budgets one row is explained with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// The first round's budget.
    pub first: usize,
    /// The largest budget a round may reach.
    pub cap: usize,
    /// The standard-error target; `None` runs one round of `first`.
    pub tolerance: Option<f64>,
    /// How the method's errors fall with the budget.
    pub convergence: Convergence,
}

impl Plan {
    /// The plan of `options` for a method whose default budget is `default`, whose
    /// first round with a tolerance spends `pilot`, and whose errors fall as
    /// `convergence` says.
    pub(crate) fn of(
        options: &SamplingOptions,
        default: usize,
        pilot: usize,
        convergence: Convergence,
    ) -> Self {
        match options.tolerance() {
            None => {
                let n = options.n_samples().unwrap_or(default);
                Plan {
                    first: n,
                    cap: n,
                    tolerance: None,
                    convergence,
                }
            }
            Some(t) => {
                let cap = options.n_samples().unwrap_or(MAX_SAMPLES);
                Plan {
                    first: pilot.min(cap),
                    cap,
                    tolerance: Some(t),
                    convergence,
                }
            }
        }
    }

    /// Run `round(budget)` for each round's budget until the module doc's stopping
    /// rule holds (`deadline`: the call's time limit), and record the target and
    /// whether it was met in the answer.
    ///
    /// # Errors
    /// Whatever a round reports, except a timeout after a finished round.
    pub(crate) fn run(
        &self,
        deadline: Option<Deadline>,
        mut round: impl FnMut(usize) -> CoreResult<Explanation>,
    ) -> CoreResult<Explanation> {
        let mut budget = self.first;
        let mut last: Option<Explanation> = None;
        // The last finished round's budget and largest standard error.
        let mut previous: Option<(usize, f64)> = None;
        loop {
            let started = Instant::now();
            let e = match (round(budget), last.take()) {
                (Ok(e), _) => e,
                (Err(CoreError::Timeout { .. }), Some(previous)) => {
                    return Ok(mark(previous, false));
                }
                (Err(err), _) => return Err(err),
            };
            let Some(t) = self.tolerance else {
                return Ok(e);
            };
            let se = max_standard_error(&e);
            if se <= t || budget >= self.cap {
                return Ok(mark(e, se <= t));
            }
            let rate = match (self.convergence, previous) {
                (Convergence::MonteCarlo, _) => RATES.0,
                (Convergence::Measured, None) => PRIOR_RATE,
                (Convergence::Measured, Some((b, s))) => rate(b, s, budget, se),
            };
            previous = Some((budget, se));
            let wanted = next_budget(budget, se / t, rate).min(self.cap);
            let next = match deadline {
                None => wanted,
                Some(d) => {
                    let took = started.elapsed().as_secs_f64();
                    let left = d.left().as_secs_f64();
                    match within_time(wanted, budget, took, left) {
                        Some(next) => next,
                        None => return Ok(mark(e, false)),
                    }
                }
            };
            budget = next;
            last = Some(e);
        }
    }
}

/// The budget after a round of `budget` whose largest standard error was `ratio`
/// times the target, for errors falling as `budget^(−rate)` (module doc).
fn next_budget(budget: usize, ratio: f64, rate: f64) -> usize {
    let growth = (MARGIN * ratio.powf(1.0 / rate)).clamp(MIN_GROWTH, MAX_GROWTH);
    // Finite: the growth is clamped and budgets are at most MAX_SAMPLES.
    ((budget as f64 * growth).ceil() as usize).max(budget + 1)
}

/// The rate `α` at which the largest standard error fell from `se0` at `budget0`
/// to `se1` at `budget1`, within [`RATES`] (the slowest when it did not fall).
fn rate(budget0: usize, se0: f64, budget1: usize, se1: f64) -> f64 {
    let fell = (se0 / se1).ln() / (budget1 as f64 / budget0 as f64).ln();
    if fell.is_finite() {
        fell.clamp(RATES.0, RATES.1)
    } else {
        RATES.0
    }
}

/// The next budget after a round of `budget` samples that took `took` seconds,
/// with `left` seconds to the time limit: `wanted`, or the most predicted to fit in
/// [`TIME_SHARE`] of the time left; `None` when that is not a tenth more than
/// `budget`. A round's time is predicted in proportion to its whole budget (the
/// fit reads every sample; where only the new samples cost, this is cautious).
fn within_time(wanted: usize, budget: usize, took: f64, left: f64) -> Option<usize> {
    let affordable = budget as f64 * TIME_SHARE * left / took.max(f64::MIN_POSITIVE);
    if wanted as f64 <= affordable {
        Some(wanted)
    } else if affordable < 1.1 * budget as f64 {
        None
    } else {
        // Below `wanted`, so it fits in usize.
        Some(affordable as usize)
    }
}

/// The largest standard error of an answer (0 without any).
fn max_standard_error(e: &Explanation) -> f64 {
    e.quality
        .standard_errors
        .iter()
        .flatten()
        .fold(0.0, |m: f64, &s| m.max(s))
}

/// Record a met or missed target in the answer's quality.
fn mark(mut e: Explanation, met: bool) -> Explanation {
    e.quality.tolerance_met = Some(met);
    e.quality.max_standard_error = Some(max_standard_error(&e));
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn answer(se: f64, samples: usize) -> Explanation {
        let mut e = Explanation::new(0, 1.0, 0.0, vec![1.0]);
        e.quality.standard_errors = Some(vec![se]);
        e.quality.samples = Some(samples);
        e
    }

    /// The budgets `plan` runs when a round of `b` samples has standard error
    /// `se(b)`, and its answer.
    fn budgets(plan: Plan, se: impl Fn(usize) -> f64) -> (Vec<usize>, Explanation) {
        let mut budgets = Vec::new();
        let e = plan
            .run(None, |b| {
                budgets.push(b);
                Ok(answer(se(b), b))
            })
            .unwrap();
        (budgets, e)
    }

    #[test]
    fn rounds_grow_by_what_the_errors_call_for_up_to_the_cap() {
        let plan = |t: f64| Plan {
            first: 100,
            cap: 10_000,
            tolerance: Some(t),
            convergence: Convergence::Measured,
        };
        // Errors falling as 1/budget from 0.5 at 100 need 167 for 0.3: the second
        // round (the prior rate, 1) aims 20% past it and meets the target.
        let (b, e) = budgets(plan(0.3), |b| 0.5 * 100.0 / b as f64);
        assert_eq!(b, [100, 200]);
        assert_eq!(e.quality.tolerance_met, Some(true));
        // Errors falling as 1/√budget from 0.5 at 100 need 278 for 0.25: the
        // prior's 240 misses, and the third round, at the rate the two rounds
        // showed (½), meets it: 1.2 · 240 · (0.3227/0.25)² = 480.
        let root = |b: usize| 0.5 * (100.0 / b as f64).sqrt();
        let (b, e) = budgets(plan(0.25), root);
        assert_eq!(b, [100, 240, 480]);
        assert_eq!(e.quality.tolerance_met, Some(true));
        // A Monte Carlo method takes ½ from the start: 278 for 0.3, 20% more.
        let monte_carlo = Plan {
            convergence: Convergence::MonteCarlo,
            ..plan(0.3)
        };
        let (b, e) = budgets(monte_carlo, root);
        assert_eq!(b, [100, 334]);
        assert_eq!(e.quality.tolerance_met, Some(true));
        // Errors ten times the target that do not fall: at most 4 times the budget
        // per round, then the cap.
        let (b, e) = budgets(plan(0.1), |_| 1.0);
        assert_eq!(b, [100, 400, 1600, 6400, 10_000]);
        assert_eq!(e.quality.tolerance_met, Some(false));
        assert_eq!(e.quality.max_standard_error, Some(1.0));
        // A near miss still grows by half; met in the second round: no third.
        let (b, e) = budgets(plan(0.1), |b| if b < 150 { 0.101 } else { 0.05 });
        assert_eq!(b, [100, 150]);
        assert_eq!(e.quality.tolerance_met, Some(true));
    }

    #[test]
    fn the_rate_is_read_from_two_rounds_within_its_bounds() {
        assert!((rate(100, 0.4, 400, 0.2) - 0.5).abs() < 1e-12);
        assert!((rate(100, 0.4, 200, 0.4 / 2f64.powf(1.5)) - 1.5).abs() < 1e-12);
        // Faster than 2, or errors that grew or stayed: the bounds.
        assert_eq!(rate(100, 0.4, 200, 0.01), 2.0);
        assert_eq!(rate(100, 0.4, 200, 0.5), 0.5);
        assert_eq!(rate(100, 0.0, 200, 0.0), 0.5);
        // The growth for a ratio of 2 at rates ½, 1 and 2: 4.8 (capped at 4),
        // 2.4, 1.2 · √2 ≈ 1.7.
        assert_eq!(next_budget(1000, 2.0, 0.5), 4000);
        assert_eq!(next_budget(1000, 2.0, 1.0), 2400);
        assert_eq!(next_budget(1000, 2.0, 2.0), 1698);
    }

    #[test]
    fn without_a_tolerance_one_round_of_the_budget() {
        let plan = Plan {
            first: 300,
            cap: 300,
            tolerance: None,
            convergence: Convergence::Measured,
        };
        let (b, e) = budgets(plan, |_| 1.0);
        assert_eq!((b, e.quality.tolerance_met), (vec![300], None));
    }

    #[test]
    fn a_timeout_after_a_finished_round_answers_with_that_round() {
        let plan = Plan {
            first: 100,
            cap: 10_000,
            tolerance: Some(0.1),
            convergence: Convergence::Measured,
        };
        let timeout = || CoreError::Timeout { limit_ms: 5 };
        let e = plan
            .run(None, |b| {
                if b == 100 {
                    Ok(answer(1.0, b))
                } else {
                    Err(timeout())
                }
            })
            .unwrap();
        assert_eq!(e.quality.samples, Some(100));
        assert_eq!(e.quality.tolerance_met, Some(false));
        // In the first round it is still an error, and so is a cancelled call.
        assert!(plan.run(None, |_| Err(timeout())).is_err());
        let cancelled = plan.run(None, |b| {
            if b == 100 {
                Ok(answer(1.0, b))
            } else {
                Err(CoreError::Cancelled)
            }
        });
        assert!(matches!(cancelled, Err(CoreError::Cancelled)));
    }

    #[test]
    fn a_round_is_cut_to_what_the_time_left_affords() {
        // 1000 samples took 1 s; 10 s left: 8 s of rounds afford 8000 samples.
        assert_eq!(within_time(5000, 1000, 1.0, 10.0), Some(5000));
        assert_eq!(within_time(16_000, 1000, 1.0, 10.0), Some(8000));
        // 1.2 s left afford 960: not even a tenth more, so no round.
        assert_eq!(within_time(16_000, 1000, 1.0, 1.2), None);
        assert_eq!(within_time(16_000, 1000, 1.0, 0.0), None);
        // A round too quick to time still gets what it wants.
        assert_eq!(within_time(16_000, 1000, 0.0, 1.0), Some(16_000));
    }

    #[test]
    fn rounds_end_before_the_time_limit_with_the_last_finished_one() {
        // Each round sleeps 80 µs per sample; 600 ms to go. The pilot (8 ms) and the
        // next two rounds grow 4 times each (32 and 128 ms), which fits; 4 times more
        // again does not: the fourth round is cut to what the time left affords, and
        // no fifth is started. The answer is that round's (it finished before the
        // limit, which each round checks at its end), marked not met.
        let plan = Plan {
            first: 100,
            cap: 1 << 20,
            tolerance: Some(1e-9),
            convergence: Convergence::Measured,
        };
        let deadline = Deadline::after(Some(Duration::from_millis(600)));
        let mut budgets = Vec::new();
        let e = plan
            .run(deadline, |b| {
                budgets.push(b);
                std::thread::sleep(Duration::from_micros(80 * b as u64));
                Deadline::check(deadline)?;
                Ok(answer(1.0, b))
            })
            .unwrap();
        assert_eq!(e.quality.tolerance_met, Some(false));
        assert_eq!(e.quality.samples, budgets.last().copied());
        assert_eq!(budgets[..3], [100, 400, 1600]);
        assert_eq!(budgets.len(), 4, "{budgets:?}");
        assert!((1600..6400).contains(&budgets[3]), "{budgets:?}");
    }

    #[test]
    fn tolerances_must_be_positive_and_finite() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(check_tolerance(Some(bad)).is_err(), "{bad}");
        }
        assert!(check_tolerance(Some(2.5)).is_ok());
        assert!(check_tolerance(None).is_ok());
    }
}
