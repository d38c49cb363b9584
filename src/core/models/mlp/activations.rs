//! What the units of an MLP do on data: each layer's values for given rows, a
//! summary over a data set (dead ReLUs, saturated sigmoids and tanhs, observed
//! ranges), and each activation function sampled over its layer's observed range
//! with a histogram of the pre-activations seen, for a chart to shade the density.
//!
//! A unit is *inactive* on a row when its gradient is (nearly) gone there:
//! - `relu`, `leaky_relu`: pre-activation ≤ 0 (a ReLU outputs 0 and passes no
//!   gradient; a leaky one passes only its small slope). A ReLU inactive on every row
//!   of the data set is *dead* (Lu, Shin, Su and Karniadakis 2020, "Dying ReLU and
//!   Initialization: Theory and Numerical Examples").
//! - `sigmoid`: |pre| > [`SIGMOID_SATURATION`] = 4, where σ′ < 0.018, about 7% of its
//!   peak 0.25.
//! - `tanh`: |pre| > [`TANH_SATURATION`] = 2, where tanh′ < 0.071, the same 7% of its
//!   peak 1 (tanh(z) = 2σ(2z) − 1, so the two thresholds are the same point).
//!   Saturation slows learning (Glorot and Bengio 2010, "Understanding the difficulty
//!   of training deep feedforward neural networks").
//! - `identity`, `softmax`: never inactive by this measure (`None`).
//!
//! Observed ranges are exact, or, with [`Extremes::Interpolated`] (what reader
//! tokens get, issue 15), interpolated quantiles that are no single row's value.

use ndarray::{ArrayView1, ArrayView2, Axis};
use serde::Serialize;

use super::{Activation, Mlp};
use crate::core::global::dependence::private_quantile;
use crate::core::models::{check_rows, Model};
use crate::core::{CoreError, CoreResult};

/// |pre| beyond which a sigmoid unit counts as saturated.
pub const SIGMOID_SATURATION: f64 = 4.0;
/// |pre| beyond which a tanh unit counts as saturated.
pub const TANH_SATURATION: f64 = 2.0;

/// One layer's values for the requested rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerActivations {
    /// Layer index, input side first.
    pub layer: usize,
    /// The activation's name.
    pub activation: &'static str,
    /// Pre-activations, one row per input row, one value per unit.
    pub pre: Vec<Vec<f64>>,
    /// Post-activations (probabilities for a softmax or sigmoid head), same shape.
    pub post: Vec<Vec<f64>>,
}

/// Every layer's pre- and post-activations for the rows of `x`.
///
/// # Errors
/// [`CoreError::Shape`] or [`CoreError::NonFinite`] for a bad batch.
pub fn layer_activations(model: &Mlp, x: ArrayView2<f64>) -> CoreResult<Vec<LayerActivations>> {
    check_rows(x, model.n_features(), false)?;
    let trace = model.forward_trace(x);
    Ok(trace
        .into_iter()
        .zip(model.layers())
        .enumerate()
        .map(|(layer, (values, l))| LayerActivations {
            layer,
            activation: l.activation().name(),
            pre: rows(values.pre.view()),
            post: rows(values.post.view()),
        })
        .collect())
}

/// One unit over a data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitSummary {
    /// Fraction of rows on which the unit is inactive (see the module documentation);
    /// `None` for activations with no such notion.
    pub inactive_fraction: Option<f64>,
    /// Smallest pre-activation observed (see [`Extremes`]).
    pub pre_min: f64,
    /// Largest pre-activation observed (see [`Extremes`]).
    pub pre_max: f64,
    /// Mean pre-activation.
    pub pre_mean: f64,
}

/// One layer over a data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerSummary {
    /// Layer index, input side first.
    pub layer: usize,
    /// The activation's name.
    pub activation: &'static str,
    /// The inactivity test used, e.g. `"pre <= 0"`; `None` when there is none.
    pub inactive_rule: Option<&'static str>,
    /// One entry per unit.
    pub units: Vec<UnitSummary>,
    /// Fraction of units inactive on every row (dead ReLUs, always-saturated
    /// sigmoids); `None` when there is no inactivity test.
    pub always_inactive_fraction: Option<f64>,
}

/// Whether a unit is inactive at a given pre-activation.
type InactiveTest = fn(f64) -> bool;

/// The inactivity test of an activation and its description.
fn inactive_rule(g: Activation) -> Option<(InactiveTest, &'static str)> {
    match g {
        Activation::Relu | Activation::LeakyRelu { .. } => Some((|z| z <= 0.0, "pre <= 0")),
        Activation::Sigmoid => Some((|z| z.abs() > SIGMOID_SATURATION, "|pre| > 4")),
        Activation::Tanh => Some((|z| z.abs() > TANH_SATURATION, "|pre| > 2")),
        Activation::Identity | Activation::Softmax => None,
    }
}

/// How the smallest and largest observed pre-activations are reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Extremes {
    /// As observed: each is one row's value.
    #[default]
    Exact,
    /// Per unit, [`private_quantile`]s at 0 and 1: halfway between the two smallest
    /// (largest) values, so no single row's value (unless two rows share it). Layer
    /// ranges are the smallest and largest of their units'. Background rows never
    /// reach reader tokens (issue 15), and with an identity-like first layer a
    /// unit's exact extreme would be one row's feature value.
    Interpolated,
}

impl Extremes {
    /// The (low, high) of one unit's values (at least one).
    fn of(self, values: ArrayView1<f64>) -> (f64, f64) {
        match self {
            Extremes::Exact => (
                values.fold(f64::INFINITY, |m, &v| m.min(v)),
                values.fold(f64::NEG_INFINITY, |m, &v| m.max(v)),
            ),
            Extremes::Interpolated => {
                let mut sorted = values.to_vec();
                sorted.sort_by(f64::total_cmp);
                (
                    private_quantile(&sorted, 0.0),
                    private_quantile(&sorted, 1.0),
                )
            }
        }
    }
}

/// [`summarize_with`] with exact extremes.
///
/// # Errors
/// As [`summarize_with`].
pub fn summarize(model: &Mlp, data: ArrayView2<f64>) -> CoreResult<Vec<LayerSummary>> {
    summarize_with(model, data, Extremes::Exact)
}

/// Summarise every layer's units over the rows of `data` (the background, usually),
/// their ranges reported as `extremes` says.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for no rows; [`CoreError::Shape`] or
/// [`CoreError::NonFinite`] for a bad batch.
pub fn summarize_with(
    model: &Mlp,
    data: ArrayView2<f64>,
    extremes: Extremes,
) -> CoreResult<Vec<LayerSummary>> {
    check_rows(data, model.n_features(), false)?;
    if data.nrows() == 0 {
        return Err(CoreError::InvalidArgument(
            "an activation summary needs at least one row".into(),
        ));
    }
    let n = data.nrows() as f64;
    let trace = model.forward_trace(data);
    let mut summaries = Vec::with_capacity(trace.len());
    for (layer, (values, l)) in trace.iter().zip(model.layers()).enumerate() {
        let rule = inactive_rule(l.activation());
        let units: Vec<UnitSummary> = values
            .pre
            .axis_iter(Axis(1))
            .map(|col| {
                let (pre_min, pre_max) = extremes.of(col);
                UnitSummary {
                    inactive_fraction: rule
                        .map(|(test, _)| col.iter().filter(|&&z| test(z)).count() as f64 / n),
                    pre_min,
                    pre_max,
                    pre_mean: col.sum() / n,
                }
            })
            .collect();
        let always = rule.map(|_| {
            let all = units.iter().filter(|u| u.inactive_fraction == Some(1.0));
            all.count() as f64 / units.len() as f64
        });
        summaries.push(LayerSummary {
            layer,
            activation: l.activation().name(),
            inactive_rule: rule.map(|(_, text)| text),
            units,
            always_inactive_fraction: always,
        });
    }
    Ok(summaries)
}

/// Counts of values in equal-width bins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// Bin edges, ascending; one more than there are bins.
    pub edges: Vec<f64>,
    /// Values in each bin; the last bin includes its right edge.
    pub counts: Vec<usize>,
}

/// One layer's activation function over the pre-activations it saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivationCurve {
    /// Layer index, input side first.
    pub layer: usize,
    /// The activation's name.
    pub activation: &'static str,
    /// Evenly spaced points from the smallest to the largest pre-activation observed
    /// in the layer (see [`Extremes`]; widened by 1 on each side when they coincide).
    pub x: Vec<f64>,
    /// The activation at each point.
    pub y: Vec<f64>,
    /// All of the layer's observed pre-activations (every unit, every row).
    pub histogram: Histogram,
}

/// How finely [`curves`] samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurveOptions {
    /// Points per curve, 2 ..= 10 001; default 101.
    pub points: usize,
    /// Histogram bins, 1 ..= 1 000; default 30.
    pub bins: usize,
    /// How the range is found; default exact.
    pub extremes: Extremes,
}

impl Default for CurveOptions {
    fn default() -> Self {
        CurveOptions {
            points: 101,
            bins: 30,
            extremes: Extremes::Exact,
        }
    }
}

/// The activation curve and pre-activation histogram of every layer over `data`.
/// Softmax layers are left out: softmax is not a function of one value.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for no rows or options out of range;
/// [`CoreError::Shape`] or [`CoreError::NonFinite`] for a bad batch.
pub fn curves(
    model: &Mlp,
    data: ArrayView2<f64>,
    options: CurveOptions,
) -> CoreResult<Vec<ActivationCurve>> {
    check_rows(data, model.n_features(), false)?;
    if data.nrows() == 0 || !(2..=10_001).contains(&options.points) {
        return Err(CoreError::InvalidArgument(
            "activation curves need at least one row and 2 to 10001 points".into(),
        ));
    }
    if !(1..=1000).contains(&options.bins) {
        return Err(CoreError::InvalidArgument(
            "histogram bins must be between 1 and 1000".into(),
        ));
    }
    let trace = model.forward_trace(data);
    let mut out = Vec::new();
    for (layer, (values, l)) in trace.iter().zip(model.layers()).enumerate() {
        let g = l.activation();
        if g == Activation::Softmax {
            continue;
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for unit in values.pre.axis_iter(Axis(1)) {
            let (a, b) = options.extremes.of(unit);
            (lo, hi) = (lo.min(a), hi.max(b));
        }
        if hi <= lo {
            (lo, hi) = (lo - 1.0, hi + 1.0);
        }
        let step = (hi - lo) / (options.points - 1) as f64;
        let x: Vec<f64> = (0..options.points).map(|i| lo + step * i as f64).collect();
        let y = x.iter().map(|&z| g.value(z).unwrap_or(f64::NAN)).collect();
        out.push(ActivationCurve {
            layer,
            activation: g.name(),
            x,
            y,
            histogram: histogram(values.pre.iter().copied(), lo, hi, options.bins),
        });
    }
    Ok(out)
}

/// Equal-width histogram of `values` over [lo, hi] (hi > lo); values outside it
/// count in the end bins.
fn histogram(values: impl Iterator<Item = f64>, lo: f64, hi: f64, bins: usize) -> Histogram {
    let width = (hi - lo) / bins as f64;
    let edges = (0..=bins).map(|i| lo + width * i as f64).collect();
    let mut counts = vec![0; bins];
    for v in values {
        let bin = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    Histogram { edges, counts }
}

fn rows(a: ArrayView2<f64>) -> Vec<Vec<f64>> {
    a.axis_iter(Axis(0)).map(|r| r.to_vec()).collect()
}

#[cfg(test)]
mod tests;
