//! Every number an answer carries must be finite: JSON has no NaN or infinity
//! (serde_json writes them as `null`, which the schema does not allow), and a
//! non-finite prediction or attribution explains nothing.
//!
//! Inputs are checked to be finite when they are read, but finite inputs can
//! still give non-finite results: `1e308 × coefficient` overflows to infinity,
//! and `inf − inf` is NaN. These checks run once per answer kind, after the
//! numbers are computed, and turn the first non-finite one into a
//! [`CoreError::InvalidArgument`] that names the row and, where it can be told, the
//! feature: the one whose attribution is not finite, else the row's input of
//! largest magnitude (the likeliest cause of an overflow).

use ndarray::{Array2, ArrayView1, ArrayView2};

use super::{Explanation, Quality};
use crate::core::models::mlp::activations::LayerActivations;
use crate::core::models::{Model, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};

/// What a check needs to name the culprit of a non-finite result.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The rows as sent, (rows × features).
    pub x: ArrayView2<'a, f64>,
    /// The model's feature names, aligned with the columns of `x`.
    pub feature_names: &'a [String],
    /// What a row is called in messages: "instance" or "row".
    pub row_word: &'a str,
}

impl Inputs<'_> {
    /// The error for a non-finite `what` of row `row`, blaming `feature` when it is
    /// known, else the row's input of largest magnitude.
    pub fn error(&self, row: usize, feature: Option<usize>, what: &str) -> CoreError {
        let values = self.x.row(row);
        let culprit = feature.or_else(|| largest(values));
        let cause = match culprit {
            Some(j) => format!(
                "feature '{}' = {} gives a non-finite {what}",
                self.feature_names[j],
                show(values[j])
            ),
            None => format!("the {what} is not a finite number"),
        };
        CoreError::InvalidArgument(format!(
            "{} {row}: {cause} (overflow); answers hold finite numbers only: send values \
             nearer the range the model was fitted on",
            self.row_word
        ))
    }
}

/// Check every number of a batch of explanations: predictions, base values,
/// attributions, quality fields and interaction values.
///
/// `rows[i]` is the input row of explanation `i` (identity when `None`); with
/// `grouped`, attributions are per feature group, so a non-finite one is blamed
/// on the row's largest input rather than on a feature.
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the first non-finite number.
pub fn check_explanations(
    inputs: &Inputs<'_>,
    explanations: &[Explanation],
    rows: Option<&[usize]>,
    grouped: bool,
    interactions: Option<&[Array2<f64>]>,
) -> CoreResult<()> {
    for (i, e) in explanations.iter().enumerate() {
        let row = rows.map_or(i, |r| r[i]);
        if let Some((what, j)) = first_non_finite(e) {
            let feature = j.filter(|_| !grouped);
            return Err(inputs.error(row, feature, &what));
        }
        if let Some(m) = interactions.and_then(|all| all.get(i)) {
            if let Some(((a, _), _)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(inputs.error(row, Some(a), "interaction value"));
            }
        }
    }
    Ok(())
}

/// Check a (rows × outputs) matrix of predictions.
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the first row with a non-finite output.
pub fn check_predictions(
    inputs: &Inputs<'_>,
    predictions: ArrayView2<f64>,
    output_names: &[String],
) -> CoreResult<()> {
    for (row, p) in predictions.rows().into_iter().enumerate() {
        if let Some(k) = p.iter().position(|v| !v.is_finite()) {
            let what = match output_names.get(k) {
                Some(name) if p.len() > 1 => format!("prediction of '{name}'"),
                _ => "prediction".to_string(),
            };
            return Err(inputs.error(row, None, &what));
        }
    }
    Ok(())
}

/// Check the layer values of a network: every pre- and post-activation.
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the row, its largest input, the layer
/// and the unit of the first non-finite value.
pub fn check_layers(inputs: &Inputs<'_>, layers: &[LayerActivations]) -> CoreResult<()> {
    for l in layers {
        for (kind, values) in [("pre-activation", &l.pre), ("post-activation", &l.post)] {
            for (row, units) in values.iter().enumerate() {
                if let Some(u) = units.iter().position(|v| !v.is_finite()) {
                    let what = format!("{kind} (layer {}, unit {u})", l.layer);
                    return Err(inputs.error(row, None, &what));
                }
            }
        }
    }
    Ok(())
}

/// Check a model against its background at registration: every raw prediction,
/// their means (the base values explanations start from) and the column
/// statistics must be finite, or no explanation of the model could be.
///
/// # Errors
/// [`CoreError::InvalidArgument`] naming the background row, or the statistic.
pub fn check_background(
    model: &dyn Model,
    reference: &Reference,
    feature_names: &[String],
    output_names: &[String],
) -> CoreResult<()> {
    let inputs = Inputs {
        x: reference.data.view(),
        feature_names,
        row_word: "background row",
    };
    let raw = model.predict(reference.data.view(), OutputSpace::Raw);
    check_predictions(&inputs, raw.view(), output_names)?;
    let means = reference.mean_raw.iter().chain(&reference.mean_transformed);
    if means.clone().any(|v| !v.is_finite()) {
        return Err(CoreError::InvalidArgument(
            "the mean of the model's outputs over the background (the base value) overflows; \
             scale the background or the weights so that it is a finite number"
                .into(),
        ));
    }
    // A column with no finite value (all missing) has NaN statistics by design.
    let s = &reference.stats;
    for (j, name) in feature_names.iter().enumerate() {
        let spread = [s.mean[j], s.std[j], s.median[j]];
        if s.min[j].is_finite() && spread.iter().any(|v| !v.is_finite()) {
            return Err(CoreError::InvalidArgument(format!(
                "background: the mean or spread of feature '{name}' overflows; \
                 its values must be nearer each other"
            )));
        }
    }
    Ok(())
}

/// The first non-finite number of an explanation: what it is, and the feature
/// (player) it belongs to when it belongs to one.
pub fn first_non_finite(e: &Explanation) -> Option<(String, Option<usize>)> {
    first_non_finite_in(e.prediction, e.base_value, &e.attributions, &e.quality)
}

/// As [`first_non_finite`], for an explanation given by its parts (text
/// explanations keep their attributions with their tokens).
pub fn first_non_finite_in(
    prediction: f64,
    base_value: f64,
    attributions: &[f64],
    q: &Quality,
) -> Option<(String, Option<usize>)> {
    let bad = |v: f64| !v.is_finite();
    if bad(prediction) {
        return Some(("prediction".into(), None));
    }
    if bad(base_value) {
        return Some(("base value".into(), None));
    }
    if let Some(j) = attributions.iter().position(|&v| bad(v)) {
        return Some(("attribution".into(), Some(j)));
    }
    if let Some(j) = q
        .standard_errors
        .as_ref()
        .and_then(|s| s.iter().position(|&v| bad(v)))
    {
        return Some(("standard error".into(), Some(j)));
    }
    let singles = [
        ("sum of attributions", q.additivity_residual),
        ("convergence delta", q.convergence_delta.unwrap_or(0.0)),
        ("surrogate R²", q.surrogate_r2.unwrap_or(0.0)),
        ("local prediction", q.local_prediction.unwrap_or(0.0)),
    ];
    if let Some((what, _)) = singles.iter().find(|(_, v)| bad(*v)) {
        return Some(((*what).into(), None));
    }
    let scores = q.scores.as_ref()?;
    let curves = scores
        .deletion
        .values
        .iter()
        .chain(&scores.insertion.values);
    let others = [
        scores.deletion.area,
        scores.insertion.area,
        scores.max_sensitivity,
        scores.faithfulness.unwrap_or(0.0),
    ];
    (curves.chain(&others).any(|&v| bad(v))).then(|| ("quality score".into(), None))
}

/// The index of the finite input of largest magnitude, the first on ties
/// (missing values are NaN).
fn largest(values: ArrayView1<f64>) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (j, v) in values.iter().enumerate().filter(|(_, v)| v.is_finite()) {
        if best.is_none_or(|(_, b)| v.abs() > b) {
            best = Some((j, v.abs()));
        }
    }
    best.map(|(j, _)| j)
}

/// A value as a person would write it: `5850`, `0.25`, `1e308`.
fn show(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn names() -> Vec<String> {
        vec!["lotsize".into(), "rooms".into()]
    }

    #[test]
    fn a_non_finite_attribution_names_its_feature_and_value() {
        let x = array![[1.0, 2.0], [1e308, 3.0]];
        let names = names();
        let inputs = Inputs {
            x: x.view(),
            feature_names: &names,
            row_word: "instance",
        };
        let ok = Explanation::new(0, 3.0, 1.0, vec![1.0, 1.0]);
        let mut bad = Explanation::new(0, 3.0, 1.0, vec![1.0, 1.0]);
        bad.attributions[1] = f64::NAN;
        assert!(check_explanations(&inputs, std::slice::from_ref(&ok), None, false, None).is_ok());
        let err = check_explanations(&inputs, &[ok, bad], None, false, None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("instance 1: feature 'rooms' = 3 gives a non-finite attribution"),
            "{text}"
        );
    }

    #[test]
    fn a_non_finite_prediction_blames_the_largest_input() {
        // 1e308 × 2 overflows: the prediction is +inf, and Σφ − (f − base) is inf − inf.
        let x = array![[1e308, -5.0]];
        let names = names();
        let inputs = Inputs {
            x: x.view(),
            feature_names: &names,
            row_word: "row",
        };
        let e = Explanation::new(0, f64::INFINITY, 0.0, vec![f64::INFINITY, -5.0]);
        let text = check_explanations(&inputs, &[e], None, false, None)
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("row 0: feature 'lotsize' = 1e308 gives a non-finite prediction"),
            "{text}"
        );
        let predictions = array![[1.0], [f64::NEG_INFINITY]];
        let x = array![[1.0, 2.0], [3.0, -1e300]];
        let inputs = Inputs {
            x: x.view(),
            ..inputs
        };
        let text = check_predictions(&inputs, predictions.view(), &["price".into()])
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("row 1: feature 'rooms' = -1e300 gives a non-finite prediction"),
            "{text}"
        );
    }

    #[test]
    fn grouped_attributions_and_rows_of_expanded_outputs_map_back_to_inputs() {
        let x = array![[1.0, 9.0], [2.0, 1.0]];
        let names = names();
        let inputs = Inputs {
            x: x.view(),
            feature_names: &names,
            row_word: "instance",
        };
        let bad = Explanation::new(0, 1.0, 0.0, vec![f64::INFINITY]);
        let ok = Explanation::new(0, 1.0, 0.0, vec![1.0]);
        let text = check_explanations(&inputs, &[ok, bad], Some(&[0, 0]), true, None)
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("instance 0: feature 'rooms' = 9 gives a non-finite attribution"),
            "{text}"
        );
        let inter = [array![[0.0, 1.0], [f64::NAN, 0.0]]];
        let ok = Explanation::new(0, 1.0, 0.0, vec![0.5, 0.5]);
        let text = check_explanations(&inputs, &[ok], None, false, Some(&inter))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("feature 'rooms' = 9 gives a non-finite interaction value"),
            "{text}"
        );
    }
}
