//! Accuracy instead of budget: with a `tolerance` ε (in the output's units), a
//! sampling explainer samples in rounds until every attribution's standard error is
//! at most ε, as Covert and Lee (2021, "Improving KernelSHAP: Practical Shapley
//! Value Estimation via Linear Regression", section 4.2) detect convergence from the
//! estimator's own variance (they compare it with the range of the values; here the
//! caller gives the target in output units, so rows with small attributions are not
//! held to a tighter absolute target).
//!
//! # Rounds
//! The first round spends the method's default budget (at most the cap); each
//! further round doubles the total, keeping every sample drawn so far and drawing
//! the new ones from the same seeded generator, so the answer stays reproducible.
//! It stops at the first of:
//! - every standard error ≤ ε (`tolerance_met: true`);
//! - the cap: `n_samples`, or [`MAX_SAMPLES`] when the request gives none (the HTTP
//!   layer passes `--max-samples`) (`tolerance_met: false`);
//! - the call's time limit during a later round: the last finished round is the
//!   answer (`tolerance_met: false`); a limit hit in the first round, or a
//!   cancelled call, is still an error.

use super::sampling::{SamplingOptions, MAX_SAMPLES};
use super::Explanation;
use crate::core::{CoreError, CoreResult};

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
    /// The plan of `options` for a method whose default budget is `default`.
    pub(crate) fn of(options: &SamplingOptions, default: usize) -> Self {
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
                    first: default.min(cap),
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
            let met = max_standard_error(&e) <= t;
            if met || budget >= self.cap {
                return Ok(mark(e, met));
            }
            budget = budget.saturating_mul(2).min(self.cap);
            last = Some(e);
        }
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

    fn answer(se: f64, samples: usize) -> Explanation {
        let mut e = Explanation::new(0, 1.0, 0.0, vec![1.0]);
        e.quality.standard_errors = Some(vec![se]);
        e.quality.samples = Some(samples);
        e
    }

    #[test]
    fn rounds_double_up_to_the_cap() {
        let plan = Plan {
            first: 100,
            cap: 700,
            tolerance: Some(0.1),
        };
        let mut budgets = Vec::new();
        let e = plan
            .run(|b| {
                budgets.push(b);
                Ok(answer(1.0, b))
            })
            .unwrap();
        assert_eq!(budgets, [100, 200, 400, 700]);
        assert_eq!(e.quality.tolerance_met, Some(false));
        assert_eq!(e.quality.max_standard_error, Some(1.0));
        // Met in the second round: no third.
        let mut rounds = 0;
        let e = plan
            .run(|b| {
                rounds += 1;
                Ok(answer(if b < 200 { 1.0 } else { 0.05 }, b))
            })
            .unwrap();
        assert_eq!((rounds, e.quality.tolerance_met), (2, Some(true)));
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
