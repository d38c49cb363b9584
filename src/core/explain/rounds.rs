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
//! further round aims at the budget the last round's errors call for: a sampling
//! estimator's standard errors fall as `1/√budget`, so `budget · (se/ε)²` would
//! just meet ε; the round asks [`MARGIN`] times that, at least [`MIN_GROWTH`] times
//! the last budget (a near miss does not cost a round per few percent) and at most
//! [`MAX_GROWTH`] times it (a pilot's errors are themselves estimates). Every
//! sample drawn so far is kept, and the new ones come from the same seeded
//! generator, so the answer stays reproducible. It stops at the first of:
//! - every standard error ≤ ε (`tolerance_met: true`);
//! - the cap: `n_samples`, or [`MAX_SAMPLES`] when the request gives none (the HTTP
//!   layer passes `--max-samples`) (`tolerance_met: false`);
//! - the call's time limit during a later round: the last finished round is the
//!   answer (`tolerance_met: false`); a limit hit in the first round, or a
//!   cancelled call, is still an error.

use super::sampling::{SamplingOptions, MAX_SAMPLES};
use super::Explanation;
use crate::core::{CoreError, CoreResult};

/// How far past the budget the last round's errors call for the next round aims.
const MARGIN: f64 = 1.2;
/// The least a further round multiplies the budget by.
const MIN_GROWTH: f64 = 1.5;
/// The most a further round multiplies the budget by.
const MAX_GROWTH: f64 = 16.0;

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

/// The budgets one row is explained with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// The first round's budget.
    pub first: usize,
    /// The largest budget a round may reach.
    pub cap: usize,
    /// The standard-error target; `None` runs one round of `first`.
    pub tolerance: Option<f64>,
}

impl Plan {
    /// The plan of `options` for a method whose default budget is `default` and
    /// whose first round with a tolerance spends `pilot`.
    pub(crate) fn of(options: &SamplingOptions, default: usize, pilot: usize) -> Self {
        match options.tolerance() {
            None => {
                let n = options.n_samples().unwrap_or(default);
                Plan {
                    first: n,
                    cap: n,
                    tolerance: None,
                }
            }
            Some(t) => {
                let cap = options.n_samples().unwrap_or(MAX_SAMPLES);
                Plan {
                    first: pilot.min(cap),
                    cap,
                    tolerance: Some(t),
                }
            }
        }
    }

    /// Run `round(budget)` for each round's budget until the module doc's stopping
    /// rule holds, and record the target and whether it was met in the answer.
    ///
    /// # Errors
    /// Whatever a round reports, except a timeout after a finished round.
    pub(crate) fn run(
        &self,
        mut round: impl FnMut(usize) -> CoreResult<Explanation>,
    ) -> CoreResult<Explanation> {
        let mut budget = self.first;
        let mut last: Option<Explanation> = None;
        loop {
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
            budget = next_budget(budget, se / t).min(self.cap);
            last = Some(e);
        }
    }
}

/// The budget after a round of `budget` whose largest standard error was `ratio`
/// times the target (module doc).
fn next_budget(budget: usize, ratio: f64) -> usize {
    let growth = (MARGIN * ratio * ratio).clamp(MIN_GROWTH, MAX_GROWTH);
    // Finite: the growth is clamped and budgets are at most MAX_SAMPLES.
    ((budget as f64 * growth).ceil() as usize).max(budget + 1)
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

    fn answer(se: f64, samples: usize) -> Explanation {
        let mut e = Explanation::new(0, 1.0, 0.0, vec![1.0]);
        e.quality.standard_errors = Some(vec![se]);
        e.quality.samples = Some(samples);
        e
    }

    #[test]
    fn rounds_grow_by_what_the_errors_call_for_up_to_the_cap() {
        let plan = |t: f64| Plan {
            first: 100,
            cap: 10_000,
            tolerance: Some(t),
        };
        // An estimator whose errors fall as 1/√budget from 0.5 at 100 needs 400 for
        // 0.25: the second round aims 20% past it and meets the target.
        let mut budgets = Vec::new();
        let e = plan(0.25)
            .run(|b| {
                budgets.push(b);
                Ok(answer(0.5 * (100.0 / b as f64).sqrt(), b))
            })
            .unwrap();
        assert_eq!(budgets, [100, 480]);
        assert_eq!(e.quality.tolerance_met, Some(true));
        let plan = plan(0.1);
        // Errors ten times the target: at most 16 times the budget per round, then
        // the cap.
        let mut budgets = Vec::new();
        let e = plan
            .run(|b| {
                budgets.push(b);
                Ok(answer(1.0, b))
            })
            .unwrap();
        assert_eq!(budgets, [100, 1600, 10_000]);
        assert_eq!(e.quality.tolerance_met, Some(false));
        assert_eq!(e.quality.max_standard_error, Some(1.0));
        // A near miss still grows by half; met in the second round: no third.
        let mut budgets = Vec::new();
        let e = plan
            .run(|b| {
                budgets.push(b);
                Ok(answer(if b < 150 { 0.101 } else { 0.05 }, b))
            })
            .unwrap();
        assert_eq!(budgets, [100, 150]);
        assert_eq!(e.quality.tolerance_met, Some(true));
    }

    #[test]
    fn without_a_tolerance_one_round_of_the_budget() {
        let plan = Plan {
            first: 300,
            cap: 300,
            tolerance: None,
        };
        let mut budgets = Vec::new();
        let e = plan
            .run(|b| {
                budgets.push(b);
                Ok(answer(1.0, b))
            })
            .unwrap();
        assert_eq!((budgets, e.quality.tolerance_met), (vec![300], None));
    }

    #[test]
    fn a_timeout_after_a_finished_round_answers_with_that_round() {
        let plan = Plan {
            first: 100,
            cap: 10_000,
            tolerance: Some(0.1),
        };
        let timeout = || CoreError::Timeout { limit_ms: 5 };
        let e = plan
            .run(|b| {
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
        assert!(plan.run(|_| Err(timeout())).is_err());
        let cancelled = plan.run(|b| {
            if b == 100 {
                Ok(answer(1.0, b))
            } else {
                Err(CoreError::Cancelled)
            }
        });
        assert!(matches!(cancelled, Err(CoreError::Cancelled)));
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
