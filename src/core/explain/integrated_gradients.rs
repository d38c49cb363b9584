//! Integrated gradients (Sundararajan, Taly and Yan 2017, "Axiomatic Attribution for
//! Deep Networks", ICML).
//!
//! The attribution of feature j along the straight path from a baseline x′ to x is
//! `φ_j = (x_j − x′_j) ∫₀¹ ∂f/∂x_j(x′ + α (x − x′)) dα`. By the fundamental theorem of
//! calculus for path integrals, `Σφ = f(x) − f(x′)` (completeness); the integral is
//! approximated by a quadrature rule with `steps` nodes, and the error of that
//! approximation is reported as `convergence_delta = Σφ − (f(x) − f(x′))`, which
//! shrinks as steps grow.
//!
//! The rules and their names are Captum's (`IntegratedGradients(method=...)`), with one
//! deliberate difference: Captum's `riemann_trapezoid` places n nodes on [0, 1] with
//! spacing 1/(n−1) but weights of 1/n, so its weights sum to (n−1)/n; explaind uses
//! the textbook composite trapezoid rule, weights 1/(n−1) with halves at both ends.
//! `gausslegendre` (the default, as in Captum) and the left, right and middle Riemann
//! sums use the same nodes and weights as Captum.
//!
//! The baseline defaults to the background mean (`Reference::stats.mean`), so the
//! base value is f(mean), not the mean of f over the background. On a linear model
//! the two coincide and integrated gradients equal exact linear SHAP.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::Explanation;
use crate::core::models::{Differentiable, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

/// The most quadrature nodes a request may ask for: beyond this the answer does not
/// change at f64 precision, and the cost grows linearly (quadratically to build
/// Gauss-Legendre nodes).
pub const MAX_STEPS: usize = 2048;

/// A quadrature rule for the path integral over α ∈ [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Nodes 0, 1/n, …, (n−1)/n, weights 1/n.
    RiemannLeft,
    /// Nodes 1/n, …, 1, weights 1/n.
    RiemannRight,
    /// Nodes at the interval midpoints (i + ½)/n, weights 1/n.
    RiemannMiddle,
    /// Nodes i/(n−1), weights 1/(n−1) with halves at both ends (needs n ≥ 2).
    RiemannTrapezoid,
    /// Gauss-Legendre nodes and weights mapped from [−1, 1] to [0, 1]: exact for
    /// polynomials of degree 2n − 1 in α.
    GaussLegendre,
}

impl Rule {
    /// Every rule, for error messages and documentation.
    pub const ALL: &'static [Rule] = &[
        Rule::RiemannLeft,
        Rule::RiemannRight,
        Rule::RiemannMiddle,
        Rule::RiemannTrapezoid,
        Rule::GaussLegendre,
    ];

    /// The name used in requests, Captum's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::RiemannLeft => "riemann_left",
            Rule::RiemannRight => "riemann_right",
            Rule::RiemannMiddle => "riemann_middle",
            Rule::RiemannTrapezoid => "riemann_trapezoid",
            Rule::GaussLegendre => "gausslegendre",
        }
    }

    /// Nodes α in [0, 1] and their weights (summing to 1) for `steps` nodes.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for 0 or more than [`MAX_STEPS`] steps, or fewer
    /// than 2 for the trapezoid rule.
    pub fn nodes(self, steps: usize) -> CoreResult<(Vec<f64>, Vec<f64>)> {
        let least = if self == Rule::RiemannTrapezoid { 2 } else { 1 };
        if steps < least || steps > MAX_STEPS {
            return Err(CoreError::InvalidArgument(format!(
                "steps must be between {least} and {MAX_STEPS} for {}, got {steps}",
                self.as_str()
            )));
        }
        let n = steps as f64;
        let uniform = |offset: f64| -> (Vec<f64>, Vec<f64>) {
            let alphas = (0..steps).map(|i| (i as f64 + offset) / n).collect();
            (alphas, vec![1.0 / n; steps])
        };
        Ok(match self {
            Rule::RiemannLeft => uniform(0.0),
            Rule::RiemannRight => uniform(1.0),
            Rule::RiemannMiddle => uniform(0.5),
            Rule::RiemannTrapezoid => {
                let h = 1.0 / (n - 1.0);
                let alphas = (0..steps).map(|i| i as f64 * h).collect();
                let mut weights = vec![h; steps];
                weights[0] /= 2.0;
                weights[steps - 1] /= 2.0;
                (alphas, weights)
            }
            Rule::GaussLegendre => gauss_legendre(steps),
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rule {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
                CoreError::InvalidArgument(format!(
                    "unknown integration rule '{s}'; known rules: {}",
                    known.join(", ")
                ))
            })
    }
}

/// Gauss-Legendre nodes on [0, 1] (ascending) and weights summing to 1, by Newton's
/// method on the Legendre polynomial P_n from the usual cosine initial guesses.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(n);
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut derivative = 1.0;
        for _ in 0..100 {
            // P_n(x) and P_{n−1}(x) by the three-term recurrence.
            let (mut p_prev, mut p) = (1.0, x);
            for j in 2..=n {
                let jf = j as f64;
                let next = ((2.0 * jf - 1.0) * x * p - (jf - 1.0) * p_prev) / jf;
                p_prev = p;
                p = next;
            }
            if n == 1 {
                p_prev = 1.0;
            }
            derivative = nf * (x * p - p_prev) / (x * x - 1.0);
            let step = p / derivative;
            x -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * derivative * derivative);
        pairs.push((x, w));
        if 2 * i + 1 != n {
            pairs.push((-x, w));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    pairs
        .into_iter()
        .map(|(x, w)| ((1.0 + x) / 2.0, w / 2.0))
        .unzip()
}

/// Quadrature nodes a request starts from (and uses, when it fixes the steps).
pub const DEFAULT_STEPS: usize = 50;

/// The convergence target when a request does not fix the steps: |Σφ − (f(x) −
/// f(x′))| at most this fraction of |f(x) − f(x′)|. Fifty Gauss-Legendre nodes
/// leave 0.7 % on the digits ReLU network of `tests/fixtures/mlp`: the kinks of
/// ReLU make the integrand only piecewise smooth, so a fixed count is not enough.
pub const DEFAULT_TOLERANCE: f64 = 1e-3;

/// Options of [`explain`].
#[derive(Debug, Clone, PartialEq)]
pub struct IgOptions {
    /// Number of quadrature nodes, 1 ..= [`MAX_STEPS`]: the count used when
    /// `tolerance` is `None`, the first one tried otherwise; default 50.
    pub steps: usize,
    /// The quadrature rule; default Gauss-Legendre.
    pub rule: Rule,
    /// The baseline x′, one value per feature; `None` means the background mean.
    pub baseline: Option<Vec<f64>>,
    /// Adaptive steps: double `steps` (up to [`MAX_STEPS`]) until the row's
    /// |convergence_delta| ≤ tolerance · |f(x) − f(x′)|; `None` uses exactly `steps`.
    /// Default [`DEFAULT_TOLERANCE`]. Each row stops at its own count.
    pub tolerance: Option<f64>,
    /// Most steps adaptive doubling may reach (the server's `--max-ig-steps`); at
    /// most [`MAX_STEPS`]. Default [`MAX_STEPS`].
    pub max_steps: usize,
}

impl Default for IgOptions {
    fn default() -> Self {
        IgOptions {
            steps: DEFAULT_STEPS,
            rule: Rule::GaussLegendre,
            baseline: None,
            tolerance: Some(DEFAULT_TOLERANCE),
            max_steps: MAX_STEPS,
        }
    }
}

impl IgOptions {
    /// The tolerance, checked: a finite number in (0, 1].
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] naming the field otherwise.
    pub fn checked_tolerance(&self) -> CoreResult<Option<f64>> {
        match self.tolerance {
            Some(t) if !(t > 0.0 && t <= 1.0) => Err(CoreError::InvalidArgument(format!(
                "tolerance must be above 0 and at most 1 (a fraction of f(x) - f(baseline)), \
                 got {t}"
            ))),
            t => Ok(t),
        }
    }
}

/// Quadrature nodes and weights by step count, built once per count for a batch
/// (Gauss-Legendre nodes cost O(steps²) to find).
struct Nodes {
    rule: Rule,
    built: Vec<(usize, Vec<f64>, Array1<f64>)>,
}

impl Nodes {
    fn get(&mut self, steps: usize) -> CoreResult<(&[f64], &Array1<f64>)> {
        let i = match self.built.iter().position(|b| b.0 == steps) {
            Some(i) => i,
            None => {
                let (alphas, weights) = self.rule.nodes(steps)?;
                self.built.push((steps, alphas, Array1::from(weights)));
                self.built.len() - 1
            }
        };
        let (_, alphas, weights) = &self.built[i];
        Ok((alphas, weights))
    }
}

/// Integrated gradients of each row of `x` for the output chosen for it in `outputs`,
/// in `space`. Base value is f(baseline); `quality.convergence_delta` is
/// Σφ − (f(x) − f(baseline)), `quality.samples` the steps (gradient evaluations)
/// the row used and `quality.tolerance` the target when the steps were adaptive
/// ([`IgOptions::tolerance`]; a row that reached [`MAX_STEPS`] first reports its
/// delta as it is), and `quality.tolerance_met` whether |delta| ended within it (or
/// within the rounding of the outputs themselves, 1e-12 of the larger, below which
/// no count of steps does better).
///
/// # Errors
/// [`CoreError::InvalidArgument`] for bad steps or tolerance, a baseline of the
/// wrong length or not finite, an output out of range or `outputs` not one per
/// row, or probability space on a regression.
pub fn explain(
    model: &dyn Differentiable,
    reference: &Reference,
    x: ArrayView2<f64>,
    outputs: &[usize],
    space: OutputSpace,
    options: &IgOptions,
) -> CoreResult<Vec<Explanation>> {
    check_outputs(outputs, x.nrows())?;
    let tolerance = options.checked_tolerance()?;
    let mut nodes = Nodes {
        rule: options.rule,
        built: Vec::new(),
    };
    nodes.get(options.steps)?;
    let baseline = resolve_baseline(options.baseline.as_deref(), reference, x.ncols())?;
    let base_out = model.predict(baseline.view().insert_axis(Axis(0)), space);
    let predictions = model.predict(x, space);
    let mut answers = Vec::with_capacity(x.nrows());
    for ((i, row), &k) in x.axis_iter(Axis(0)).enumerate().zip(outputs) {
        let diff = &row - &baseline;
        let mut steps = options.steps;
        let most = options.max_steps.clamp(options.steps, MAX_STEPS);
        let e = loop {
            let (alphas, weights) = nodes.get(steps)?;
            let path = path_points(baseline.view(), diff.view(), alphas);
            // First: it refuses an output out of range.
            let grads = model.gradient(path.view(), k, space)?;
            let mean_grad = weights.dot(&grads);
            let phi: Vec<f64> = (&diff * &mean_grad).to_vec();
            let (prediction, base_value) = (predictions[[i, k]], base_out[[0, k]]);
            let target = (prediction - base_value).abs();
            // Below rounding of the outputs themselves no count of steps does better.
            let floor = 1e-12 * prediction.abs().max(base_value.abs()).max(1.0);
            let mut e = Explanation::new(k, prediction, base_value, phi);
            e.quality.convergence_delta = Some(-e.quality.additivity_residual);
            e.quality.samples = Some(steps);
            e.quality.tolerance = tolerance;
            let delta = e.quality.additivity_residual.abs();
            let met = tolerance.map(|t| delta <= (t * target).max(floor));
            e.quality.tolerance_met = met;
            match met {
                Some(false) if steps < most => steps = (steps * 2).min(most),
                _ => break e,
            }
        };
        answers.push(e);
    }
    Ok(answers)
}

/// One output index per row, as every explainer here needs.
pub(crate) fn check_outputs(outputs: &[usize], rows: usize) -> CoreResult<()> {
    if outputs.len() != rows {
        return Err(CoreError::InvalidArgument(format!(
            "{} output indices for {rows} rows",
            outputs.len()
        )));
    }
    Ok(())
}

/// The baseline to integrate from: the given one, checked, or the background mean.
pub(crate) fn resolve_baseline(
    given: Option<&[f64]>,
    reference: &Reference,
    n_features: usize,
) -> CoreResult<Array1<f64>> {
    let baseline = match given {
        Some(b) => Array1::from(b.to_vec()),
        None => reference.stats.mean.clone(),
    };
    if baseline.len() != n_features {
        return Err(CoreError::Shape {
            what: "baseline values",
            expected: n_features,
            got: baseline.len(),
        });
    }
    if let Some(j) = baseline.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::InvalidArgument(format!(
            "baseline value {j} is not a finite number"
        )));
    }
    Ok(baseline)
}

/// Rows `baseline + α · diff` for each α, shape (alphas, n_features).
fn path_points(baseline: ArrayView1<f64>, diff: ArrayView1<f64>, alphas: &[f64]) -> Array2<f64> {
    let mut points = Array2::zeros((alphas.len(), baseline.len()));
    for (mut p, &a) in points.axis_iter_mut(Axis(0)).zip(alphas) {
        p.assign(&baseline);
        p.scaled_add(a, &diff);
    }
    points
}

#[cfg(test)]
mod tests;
