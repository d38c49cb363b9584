//! Anchors (Ribeiro, Singh and Guestrin, "Anchors: High-Precision Model-Agnostic
//! Explanations", AAAI 2018) for tabular rows: a rule, a conjunction of conditions on
//! raw features that the instance meets, under which the model gives the same answer
//! on at least `precision` of perturbed rows.
//!
//! - **Predicates** (`candidates.rs`). Each numeric feature is cut at the background's
//!   quartiles and, finer, its deciles (interpolated quantiles that are no background
//!   row's value, [`private_quantile`](crate::core::stats::private_quantile)); the candidates are the two sides of the
//!   instance's quartile bin, `x > lower` and `x ≤ upper` (as alibi's `AnchorTabular`
//!   and the paper's code: a rule keeps one side, or both: the bin), and its decile
//!   bin `lower < x ≤ upper` (open past the first or last edge); a rule's conditions
//!   on one feature read as their intersection. A categorical feature (a category code, see
//!   [`crate::core::models::raw`]) gives the set of the instance's own category; a
//!   missing value (NaN) gives "is missing".
//! - **Perturbations** (`search.rs`). A sample under a rule is a background row drawn
//!   at random whose anchored features are overwritten, together, by those of a
//!   second background row drawn from the rows that meet the rule (the background
//!   conditioned on the rule, as alibi does), or by the instance's own values when no
//!   background row meets it. Every sample meets the rule.
//! - **Same answer**. Classifiers: the same predicted class (the sign of the margin
//!   for one logistic output, the largest output otherwise). Regressions: the
//!   explained output, in the asked space, within ± `tolerance` of the instance's
//!   prediction; by default half of that output's standard deviation over the
//!   background.
//! - **Search** (`search.rs`, `bandit.rs`). Beam search: rules grow by one predicate
//!   at a time; among the rules of one size, KL-LUCB (Kaufmann and Kalyanakrishnan,
//!   COLT 2013) picks the `beam_size` of highest precision to within `epsilon` with
//!   confidence 1 − `delta`, sampling batches of 100 rows. A rule is accepted when
//!   the lower KL confidence bound of its precision reaches `precision`; of the
//!   accepted rules, the one with the largest coverage (the share of background rows
//!   that meet it) is the answer. Larger rules are tried while some could still
//!   cover more. A rule whose bound is still undecided after 1000 samples is passed
//!   over. With `precision` 1 (which a lower bound never reaches) a rule is accepted
//!   when none of at least 1000 samples changed the answer. When none is accepted
//!   within the budget, the rule with the highest lower bound is answered with
//!   `precision_met: false`. The bounds are KL bounds at level log(1/δ)/n for each
//!   rule on its own (as alibi's), not corrected for the many rules tried.
//!
//! Seeded: row `i` draws from ChaCha8 stream `i` of the seed, and the search visits
//! rules in a fixed order, so the same request gives the same answer. The budget
//! counts model evaluations per row; the [`Cancel`] token and the time limit are
//! checked before every batch.

mod bandit;
mod candidates;
mod search;
mod target;
#[cfg(test)]
mod tests;

use std::time::Duration;

use ndarray::{ArrayView2, Axis};

use super::stop::{Deadline, Stop};
use crate::core::models::{Link, Model, OutputSpace, RawFeatures};
use crate::core::stats::Reference;
use crate::core::{Cancel, CoreError, CoreResult};
use target::target_of;

/// Default band of a regression's "same answer", in the output's background
/// standard deviations: prediction ± half of one. On ten rows of the house prices
/// (every 55th) a tenth met precision 0.95 on 3 (lower bounds down to 0.15), half a
/// deviation on 7 (the rest at 0.72–0.91).
pub const DEFAULT_BAND: f64 = 0.5;

/// What a request asks of the anchor search, before checking.
#[derive(Debug, Clone)]
pub struct AnchorParams {
    /// The precision a rule must reach, in (0, 1] (default 0.95).
    pub precision: f64,
    /// One minus the confidence of the bounds, in (0, 1) (default 0.1).
    pub delta: f64,
    /// KL-LUCB's tolerance when ranking rules, in (0, 1) (default 0.15).
    pub epsilon: f64,
    /// Rules kept per size, at least 1 (default 2).
    pub beam_size: usize,
    /// Model evaluations per row, at least one batch (default 100 000).
    pub max_samples: usize,
    /// The seed of the perturbations (default 0).
    pub seed: u64,
    /// Regressions: the half-width of the "same answer" band, in output units, above
    /// 0 (default: half the output's background standard deviation, [`DEFAULT_BAND`]).
    pub tolerance: Option<f64>,
    /// Give up with [`CoreError::Timeout`] past this long.
    pub timeout: Option<Duration>,
    /// Use at most this many background rows (a seeded sample); default all.
    pub max_background: Option<usize>,
    /// Checked before every batch.
    pub cancel: Cancel,
}

/// Samples per batch: the unit of the budget, of KL-LUCB's pulls and of the checks.
pub const BATCH: usize = 100;

impl Default for AnchorParams {
    fn default() -> Self {
        AnchorParams {
            precision: 0.95,
            delta: 0.1,
            epsilon: 0.15,
            beam_size: 2,
            max_samples: 100_000,
            seed: 0,
            tolerance: None,
            timeout: None,
            max_background: None,
            cancel: Cancel::never(),
        }
    }
}

impl AnchorParams {
    /// Check every field.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] naming the field and its allowed range.
    pub fn check(&self) -> CoreResult<()> {
        let bad = |field: &str, range: &str, got: String| {
            Err(CoreError::InvalidArgument(format!(
                "{field} must be {range}; got {got}"
            )))
        };
        if !(self.precision > 0.0 && self.precision <= 1.0) {
            return bad("precision", "in (0, 1]", self.precision.to_string());
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return bad("delta", "in (0, 1)", self.delta.to_string());
        }
        if !(self.epsilon > 0.0 && self.epsilon < 1.0) {
            return bad("epsilon", "in (0, 1)", self.epsilon.to_string());
        }
        if self.beam_size == 0 {
            return bad("beam_size", "at least 1", "0".into());
        }
        if self.max_samples < BATCH {
            return bad(
                "n_samples (the anchor search's budget)",
                &format!("at least {BATCH}"),
                self.max_samples.to_string(),
            );
        }
        if let Some(t) = self.tolerance.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return bad("tolerance", "a finite number above 0", t.to_string());
        }
        if self.max_background == Some(0) {
            return bad("max_background", "at least 1", "0".into());
        }
        Ok(())
    }
}

/// A condition on one raw feature.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `lower < x ≤ upper`; `None` is an open end.
    Interval {
        /// Exclusive lower edge.
        lower: Option<f64>,
        /// Inclusive upper edge.
        upper: Option<f64>,
    },
    /// The feature's category code is one of these.
    Categories(Vec<usize>),
    /// The value is missing (NaN).
    Missing,
}

impl Condition {
    /// Whether `v` meets the condition.
    pub fn holds(&self, v: f64) -> bool {
        match self {
            Condition::Interval { lower, upper } => {
                !v.is_nan() && lower.is_none_or(|l| v > l) && upper.is_none_or(|u| v <= u)
            }
            Condition::Categories(codes) => {
                !v.is_nan() && v >= 0.0 && v.fract() == 0.0 && codes.contains(&(v as usize))
            }
            Condition::Missing => v.is_nan(),
        }
    }
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    /// The raw feature's index.
    pub feature: usize,
    /// What its value must meet.
    pub condition: Condition,
}

/// Rows built while measuring the anchor's precision (a few of each): they meet
/// the rule, and the model answered the same (`holds`) or not (`fails`). Their
/// unanchored features come from background rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Examples {
    /// Rows where the answer stayed the same.
    pub holds: Vec<Vec<f64>>,
    /// Rows where it changed.
    pub fails: Vec<Vec<f64>>,
}

/// Examples kept of each kind.
pub const EXAMPLES: usize = 3;

/// The answer an anchor keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchored {
    /// A classifier's predicted class (the output index).
    Class(usize),
    /// A binary classifier's answer: its one output's margin positive or not.
    Binary {
        /// Whether the margin is positive (probability above 0.5).
        positive: bool,
    },
    /// A regression's output within `[lo, hi]` (the prediction ± the tolerance).
    Band {
        /// Lowest value that counts as the same answer.
        lo: f64,
        /// Highest value that counts as the same answer.
        hi: f64,
    },
}

/// The anchor of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    /// The answer kept under the rule.
    pub answer: Anchored,
    /// The output whose answer is anchored: the predicted class, or the regression's
    /// output.
    pub output: usize,
    /// The model's prediction of that output for the row, in the asked space.
    pub prediction: f64,
    /// The conditions, one per feature, in feature order (empty: any row).
    pub rule: Vec<Predicate>,
    /// Share of the rule's samples with the same answer.
    pub precision: f64,
    /// Lower KL confidence bound (level 1 − delta) of that share.
    pub precision_lower_bound: f64,
    /// Whether that bound reached the asked precision.
    pub precision_met: bool,
    /// Share of the background rows that meet the rule.
    pub coverage: f64,
    /// Samples the precision was measured on.
    pub rule_samples: usize,
    /// Model evaluations the whole search used.
    pub samples_used: usize,
    /// Regressions: the half-width of the "same answer" band; `None` for classifiers.
    pub tolerance: Option<f64>,
    /// A few samples of each kind.
    pub examples: Examples,
}

/// The anchor of each row of `x`.
///
/// `output` and `space` say which output a regression's band is about, and in
/// which space; a classifier's anchor is about its predicted class (`space` only
/// says how its prediction is reported).
///
/// # Errors
/// [`CoreError::InvalidArgument`] for bad parameters or an empty background;
/// [`CoreError::Timeout`] or [`CoreError::Cancelled`] when stopped.
pub fn explain(
    model: &dyn Model,
    raw: Option<&RawFeatures>,
    reference: &Reference,
    x: ArrayView2<f64>,
    output: usize,
    space: OutputSpace,
    params: &AnchorParams,
) -> CoreResult<Vec<Anchor>> {
    params.check()?;
    if reference.rows() == 0 {
        return Err(CoreError::InvalidArgument(
            "anchors need background rows".into(),
        ));
    }
    let stop = Stop {
        deadline: Deadline::after(params.timeout),
        cancel: params.cancel.clone(),
    };
    let background = match params.max_background {
        Some(n) => super::sampling::background(reference, n, params.seed),
        None => reference.data.clone(),
    };
    let edges = candidates::Edges::of(background.view(), raw);
    let raw_x = model.predict_raw(x);
    let regression = matches!(model.link(), Link::Identity | Link::Exp);
    let tolerance = match params.tolerance {
        Some(t) => t,
        None if regression => DEFAULT_BAND * output_std(model, background.view(), output, space),
        None => 0.0,
    };
    let mut anchors = Vec::with_capacity(x.nrows());
    for (i, row) in x.axis_iter(Axis(0)).enumerate() {
        let target = target_of(model, raw_x.row(i), output, space, tolerance);
        let search = search::Search {
            model,
            background: background.view(),
            candidates: edges.candidates(row),
            instance: row,
            target,
            params,
            stop: &stop,
        };
        anchors.push(search.run(i)?);
    }
    Ok(anchors)
}

/// The standard deviation of `output` over the background, in `space`.
fn output_std(
    model: &dyn Model,
    background: ArrayView2<f64>,
    output: usize,
    space: OutputSpace,
) -> f64 {
    let y = model.predict(background, space);
    let col = y.column(output);
    let n = col.len() as f64;
    let mean = col.sum() / n;
    (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}
