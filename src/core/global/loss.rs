//! The losses that permutation importance measures, chosen by the task: root mean
//! squared error for regressions, log-loss (cross-entropy) for classifiers, or, on
//! request, the error rate (1 − accuracy), so that every importance is a *loss
//! increase* and larger always means more important.

use ndarray::{ArrayView1, ArrayView2, Axis};

use crate::core::models::{Model, OutputSpace};
use crate::core::{CoreError, CoreResult};

/// Probabilities are clipped to `[EPS, 1 − EPS]` before the logarithm, so a
/// confidently wrong prediction costs a large but finite loss (−ln ε ≈ 36).
pub const LOG_LOSS_EPS: f64 = f64::EPSILON;

/// The labels of a data set.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Regression: one number per row, compared with the model's only output
    /// (after its link: the mean count of a Poisson model).
    Values(Vec<f64>),
    /// Classification: one class index per row. A binary model (one logistic
    /// output) has classes 0 and 1, its output being the probability of class 1;
    /// a K-class model (softmax) has classes 0..K.
    Classes(Vec<usize>),
}

impl Target {
    /// Number of rows labelled.
    pub fn len(&self) -> usize {
        match self {
            Target::Values(v) => v.len(),
            Target::Classes(c) => c.len(),
        }
    }

    /// Whether no row is labelled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels of the rows `picks`, in that order.
    pub fn select(&self, picks: &[usize]) -> Target {
        match self {
            Target::Values(v) => Target::Values(picks.iter().map(|&i| v[i]).collect()),
            Target::Classes(c) => Target::Classes(picks.iter().map(|&i| c[i]).collect()),
        }
    }
}

/// Which loss to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// √(mean (f(x) − y)²), regressions.
    Rmse,
    /// −mean ln p(y | x), classifiers.
    LogLoss,
    /// 1 − accuracy (the share of rows whose most probable class is wrong), classifiers.
    Accuracy,
}

impl Loss {
    /// The name requests use.
    pub fn as_str(self) -> &'static str {
        match self {
            Loss::Rmse => "rmse",
            Loss::LogLoss => "log_loss",
            Loss::Accuracy => "accuracy",
        }
    }

    /// The loss a task gets unless asked otherwise: RMSE for numbers, log-loss for classes.
    pub fn default_for(target: &Target) -> Loss {
        match target {
            Target::Values(_) => Loss::Rmse,
            Target::Classes(_) => Loss::LogLoss,
        }
    }

    /// Check that the loss fits the labels and the model.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for RMSE on classes, log-loss or accuracy on
    /// numbers, a class index the model has no output for, or a regression target
    /// on a model with several outputs.
    pub fn check(self, target: &Target, model: &dyn Model) -> CoreResult<()> {
        let classes = n_classes(model);
        match (self, target) {
            (Loss::Rmse, Target::Values(_)) if model.n_outputs() == 1 => Ok(()),
            (Loss::Rmse, Target::Values(_)) => Err(CoreError::InvalidArgument(format!(
                "a numeric target needs a single-output model; this one has {} outputs",
                model.n_outputs()
            ))),
            (Loss::LogLoss | Loss::Accuracy, Target::Classes(c)) => {
                match c.iter().find(|&&k| k >= classes) {
                    Some(k) if classes > 0 => Err(CoreError::InvalidArgument(format!(
                        "class {k} out of range: the model has {classes} classes"
                    ))),
                    Some(_) => Err(CoreError::InvalidArgument(
                        "class labels need a classifier; this model's outputs are raw values"
                            .into(),
                    )),
                    None => Ok(()),
                }
            }
            (Loss::Rmse, Target::Classes(_)) => Err(CoreError::InvalidArgument(
                "loss 'rmse' is for regressions; classifiers take 'log_loss' or 'accuracy'".into(),
            )),
            (Loss::LogLoss | Loss::Accuracy, Target::Values(_)) => {
                Err(CoreError::InvalidArgument(format!(
                    "loss '{}' is for classifiers; regressions take 'rmse'",
                    self.as_str()
                )))
            }
        }
    }

    /// The loss of a model on rows `x` labelled `target` (checked with [`Loss::check`]).
    pub fn evaluate(self, model: &dyn Model, x: ArrayView2<f64>, target: &Target) -> f64 {
        self.of_predictions(model.predict(x, OutputSpace::Probability).view(), target)
    }

    /// The loss of predictions after the link (rows × outputs): numbers for a
    /// regression, probabilities for a classifier (one column, class 1's, for a
    /// binary model).
    pub fn of_predictions(self, p: ArrayView2<f64>, target: &Target) -> f64 {
        let n = p.nrows().max(1) as f64;
        match (self, target) {
            (Loss::Rmse, Target::Values(y)) => {
                let sse: f64 = p
                    .column(0)
                    .iter()
                    .zip(y)
                    .map(|(f, y)| (f - y).powi(2))
                    .sum();
                (sse / n).sqrt()
            }
            (Loss::LogLoss, Target::Classes(c)) => {
                let nll: f64 = p
                    .axis_iter(Axis(0))
                    .zip(c)
                    .map(|(row, &k)| {
                        -class_probability(row, k)
                            .clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
                            .ln()
                    })
                    .sum();
                nll / n
            }
            (Loss::Accuracy, Target::Classes(c)) => {
                let wrong = p
                    .axis_iter(Axis(0))
                    .zip(c)
                    .filter(|(row, &k)| predicted_class(row.iter().copied()) != k)
                    .count();
                wrong as f64 / n
            }
            // Ruled out by `check`; a mismatch measures nothing.
            (Loss::Rmse, Target::Classes(_))
            | (Loss::LogLoss | Loss::Accuracy, Target::Values(_)) => f64::NAN,
        }
    }
}

/// Classes of a classifier: 2 for one logistic output, K for a K-way softmax, 0 for
/// a model without a probability space.
pub fn n_classes(model: &dyn Model) -> usize {
    match (model.link().has_probability(), model.n_outputs()) {
        (false, _) => 0,
        (true, 1) => 2,
        (true, k) => k,
    }
}

/// p(class k) from one row of probabilities (one column: p(class 1)).
fn class_probability(row: ArrayView1<f64>, k: usize) -> f64 {
    match (row.len(), k) {
        (1, 1) => row[0],
        (1, _) => 1.0 - row[0],
        _ => row[k],
    }
}

/// The most probable class of one row of probabilities: class 1 when a binary
/// model's p > 0.5, else the first largest column.
pub fn predicted_class(row: impl ExactSizeIterator<Item = f64>) -> usize {
    if row.len() == 1 {
        return row.map(|p| usize::from(p > 0.5)).sum();
    }
    row.enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (k, v)| {
            if v > best.1 {
                (k, v)
            } else {
                best
            }
        })
        .0
}
