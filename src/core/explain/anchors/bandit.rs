//! KL confidence bounds of a Bernoulli mean and the KL-LUCB bandit (Kaufmann and
//! Kalyanakrishnan, "Information Complexity in Bandit Subset Selection", COLT 2013)
//! that picks the rules of highest precision.

use crate::core::CoreResult;

/// Bisection steps of the bounds: 2⁻³⁰ of the interval.
const STEPS: usize = 30;

/// KL(p ‖ q) of two Bernoulli laws, with q kept off 0 and 1.
pub(super) fn kl(p: f64, q: f64) -> f64 {
    let q = q.clamp(1e-12, 1.0 - 1e-12);
    let term = |a: f64, b: f64| if a > 0.0 { a * (a / b).ln() } else { 0.0 };
    term(p, q) + term(1.0 - p, 1.0 - q)
}

/// The largest q ≥ p with KL(p ‖ q) ≤ `level`.
pub(super) fn upper(p: f64, level: f64) -> f64 {
    let (mut lo, mut hi) = (p, 1.0);
    for _ in 0..STEPS {
        let mid = (lo + hi) / 2.0;
        if kl(p, mid) > level {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    lo
}

/// The smallest q ≤ p with KL(p ‖ q) ≤ `level`.
pub(super) fn lower(p: f64, level: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, p);
    for _ in 0..STEPS {
        let mid = (lo + hi) / 2.0;
        if kl(p, mid) > level {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The exploration rate of KL-LUCB at round `t` among `arms` arms:
/// β = log(k₁ · arms · t^α / δ) + log log(…), with α = 1.1 and k₁ = 405.5 (their
/// Theorem 1, the values alibi uses too).
pub(super) fn beta(arms: usize, t: usize, delta: f64) -> f64 {
    let inner = (405.5 * arms as f64 * (t as f64).powf(1.1) / delta).ln();
    inner + inner.ln()
}

/// What KL-LUCB needs of the rules it ranks.
pub(super) trait Arms {
    /// Samples drawn of `arm`, and how many of them kept the answer.
    fn counts(&self, arm: usize) -> (usize, usize);
    /// Draw one more batch of `arm`; `false` when the budget is spent.
    ///
    /// # Errors
    /// A timeout or cancellation.
    fn pull(&mut self, arm: usize) -> CoreResult<bool>;
}

/// The `top` arms of `arms` (each already sampled) with the highest means, to
/// within `epsilon` with confidence 1 − `delta`, best first. Each round samples the
/// weakest lower bound among the leaders and the strongest upper bound among the
/// others, until the two bounds overlap by less than `epsilon` or the budget ends.
///
/// # Errors
/// A timeout or cancellation.
pub(super) fn kl_lucb(
    state: &mut dyn Arms,
    arms: &[usize],
    top: usize,
    epsilon: f64,
    delta: f64,
) -> CoreResult<Vec<usize>> {
    let mean = |state: &dyn Arms, a: usize| {
        let (n, k) = state.counts(a);
        k as f64 / n.max(1) as f64
    };
    let ranked = |state: &dyn Arms| {
        let mut order: Vec<usize> = arms.to_vec();
        // Stable: ties keep the arms' order, so the answer is deterministic.
        order.sort_by(|&a, &b| mean(state, b).total_cmp(&mean(state, a)));
        order
    };
    if arms.len() <= top {
        return Ok(ranked(state));
    }
    for t in 1.. {
        let order = ranked(state);
        let level = |state: &dyn Arms, a: usize| {
            beta(arms.len(), t, delta) / state.counts(a).0.max(1) as f64
        };
        let (leaders, rest) = order.split_at(top);
        let weakest = leaders
            .iter()
            .copied()
            .map(|a| (a, lower(mean(state, a), level(state, a))))
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .expect("top ≥ 1");
        let strongest = rest
            .iter()
            .copied()
            .map(|a| (a, upper(mean(state, a), level(state, a))))
            .max_by(|x, y| x.1.total_cmp(&y.1))
            .expect("more arms than top");
        if strongest.1 - weakest.1 < epsilon {
            return Ok(leaders.to_vec());
        }
        if !state.pull(weakest.0)? || !state.pull(strongest.0)? {
            return Ok(ranked(state)[..top].to_vec());
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_hold_the_mean_and_meet_the_level() {
        for &(p, level) in &[(0.9, 0.05), (1.0, 0.01), (0.0, 0.2), (0.5, 0.5)] {
            let (lo, hi) = (lower(p, level), upper(p, level));
            assert!(lo <= p && p <= hi, "{p} {lo} {hi}");
            // At the bounds the divergence is the level (inside [0, 1]).
            if hi < 1.0 - 1e-6 {
                approx::assert_abs_diff_eq!(kl(p, hi), level, epsilon = 1e-6);
            }
            if lo > 1e-6 {
                approx::assert_abs_diff_eq!(kl(p, lo), level, epsilon = 1e-6);
            }
        }
        // 100 agreeing samples at level log(10)/100: the bound is 1 − e^{-level}
        // (KL(1 ‖ q) = −log q).
        let level = 10f64.ln() / 100.0;
        approx::assert_abs_diff_eq!(lower(1.0, level), (-level).exp(), epsilon = 1e-6);
    }

    /// Arms with fixed means, pulled deterministically (each batch adds 100 samples
    /// at the arm's mean, rounded).
    struct Fixed {
        means: Vec<f64>,
        counts: Vec<(usize, usize)>,
        budget: usize,
    }

    impl Arms for Fixed {
        fn counts(&self, arm: usize) -> (usize, usize) {
            self.counts[arm]
        }
        fn pull(&mut self, arm: usize) -> CoreResult<bool> {
            if self.budget == 0 {
                return Ok(false);
            }
            self.budget -= 1;
            let (n, k) = &mut self.counts[arm];
            *n += 100;
            *k = (self.means[arm] * *n as f64).round() as usize;
            Ok(true)
        }
    }

    #[test]
    fn kl_lucb_finds_the_best_arms() {
        let means = vec![0.5, 0.92, 0.6, 0.99, 0.7];
        let mut arms = Fixed {
            counts: vec![(0, 0); 5],
            means,
            budget: 1000,
        };
        for a in 0..5 {
            arms.pull(a).unwrap();
        }
        let best = kl_lucb(&mut arms, &[0, 1, 2, 3, 4], 2, 0.05, 0.1).unwrap();
        assert_eq!(best, vec![3, 1]);
        assert!(arms.budget < 1000 - 5, "it sampled more to separate them");
    }
}
