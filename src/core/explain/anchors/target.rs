//! What "the same answer" is for the row explained: its class, or a band around
//! a regression's prediction (module doc of [`super`]).

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

use super::Anchored;
use crate::core::models::{Link, Model, OutputSpace};

/// What "the same answer" is for the row explained.
#[derive(Debug, Clone, Copy)]
pub(super) enum Answer {
    /// The largest raw output is this one.
    Class(usize),
    /// The raw margin of this output is positive (`true`) or not.
    Sign(usize, bool),
    /// The output in `space` lies in `[lo, hi]`.
    Band {
        /// The output compared.
        output: usize,
        /// Its space.
        space: OutputSpace,
        /// Lowest value that counts as the same.
        lo: f64,
        /// Highest value that counts as the same.
        hi: f64,
    },
}

impl Answer {
    /// The public form of this answer.
    pub(super) fn anchored(&self) -> Anchored {
        match *self {
            Answer::Class(k) => Anchored::Class(k),
            Answer::Sign(_, positive) => Anchored::Binary { positive },
            Answer::Band { lo, hi, .. } => Anchored::Band { lo, hi },
        }
    }

    /// Whether each row of raw outputs `raw` gives this answer.
    pub(super) fn same(&self, model: &dyn Model, raw: Array2<f64>) -> Vec<bool> {
        match *self {
            Answer::Class(k) => argmax_rows(raw.view())
                .into_iter()
                .map(|c| c == k)
                .collect(),
            Answer::Sign(k, positive) => raw
                .column(k)
                .iter()
                .map(|&v| (v > 0.0) == positive)
                .collect(),
            Answer::Band {
                output,
                space,
                lo,
                hi,
            } => {
                let mut out = raw;
                if space == OutputSpace::Probability {
                    model.link().apply(&mut out);
                }
                out.column(output)
                    .iter()
                    .map(|&v| v >= lo && v <= hi)
                    .collect()
            }
        }
    }
}

/// The answer of the row explained, and what counts as the same.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target {
    /// What counts as the same answer.
    pub answer: Answer,
    /// The output anchored.
    pub output: usize,
    /// The row's prediction of it, in the asked space.
    pub prediction: f64,
    /// Regressions: the band's half-width.
    pub tolerance: Option<f64>,
}

/// The answer a row with raw outputs `raw` gives.
pub(super) fn target_of(
    model: &dyn Model,
    raw: ArrayView1<f64>,
    output: usize,
    space: OutputSpace,
    tolerance: f64,
) -> Target {
    let mut row = raw.to_owned().insert_axis(Axis(0));
    if space == OutputSpace::Probability {
        model.link().apply(&mut row);
    }
    let (answer, output, tolerance) = match model.link() {
        Link::Softmax | Link::Logistic | Link::SoftmaxZero if model.n_outputs() > 1 => {
            let k = argmax_rows(raw.insert_axis(Axis(0)))[0];
            (Answer::Class(k), k, None)
        }
        Link::Softmax | Link::Logistic => (Answer::Sign(0, raw[0] > 0.0), 0, None),
        // A one-output SOFTMAX_ZERO or PROBIT (ONNX post transforms) is a number.
        Link::Identity | Link::Exp | Link::SoftmaxZero | Link::Probit => {
            let y = row[[0, output]];
            let (lo, hi) = (y - tolerance, y + tolerance);
            (
                Answer::Band {
                    output,
                    space,
                    lo,
                    hi,
                },
                output,
                Some(tolerance),
            )
        }
    };
    Target {
        answer,
        output,
        prediction: row[[0, output]],
        tolerance,
    }
}

/// The index of the largest value of each row (the first of ties).
fn argmax_rows(raw: ArrayView2<f64>) -> Vec<usize> {
    raw.rows()
        .into_iter()
        .map(|row| (1..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best }))
        .collect()
}
