//! Kinds whose model is written out in `params` (`linear`, `logistic`, `mlp`,
//! `text_classifier`), and the output names a document that gives none gets.

use ndarray::{Array1, Array2};
use serde::Deserialize;

use super::{check_unique, ModelSpec};
use crate::core::models::mlp::MlpParams;
use crate::core::models::text::TextClassifierParams;
use crate::core::models::{HostedModel, LinearModel, Link, Model};
use crate::core::{CoreError, CoreResult};

/// Parameters of `linear` and `logistic` models.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearParams {
    /// One weight per feature, or one row of weights per output.
    coefficients: Coefficients,
    /// One intercept, or one per output; zero when absent.
    #[serde(default)]
    intercept: Option<Intercepts>,
    /// Class labels of a logistic model (two for binary, K for multinomial).
    #[serde(default)]
    classes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Coefficients {
    Single(Vec<f64>),
    PerOutput(Vec<Vec<f64>>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Intercepts {
    Single(f64),
    PerOutput(Vec<f64>),
}

pub(super) fn build_linear(spec: &ModelSpec) -> CoreResult<(HostedModel, Vec<String>)> {
    let params: LinearParams = serde_json::from_value(spec.params.clone())
        .map_err(|e| CoreError::InvalidModel(format!("params: {e}")))?;
    let f = spec.feature_names.len();
    let rows = match params.coefficients {
        Coefficients::Single(w) => vec![w],
        Coefficients::PerOutput(rows) => rows,
    };
    if rows.is_empty() {
        return Err(CoreError::InvalidModel(
            "params.coefficients is empty".into(),
        ));
    }
    for (k, row) in rows.iter().enumerate() {
        if row.len() != f {
            return Err(CoreError::InvalidModel(format!(
                "params.coefficients row {k} has {} value(s) for {f} feature(s)",
                row.len()
            )));
        }
    }
    let n_out = rows.len();
    let coefficients = Array2::from_shape_vec((n_out, f), rows.concat())
        .map_err(|e| CoreError::InvalidModel(e.to_string()))?;
    let intercept = match params.intercept {
        None => Array1::zeros(n_out),
        Some(Intercepts::Single(b)) => Array1::from_elem(n_out, b),
        Some(Intercepts::PerOutput(b)) => Array1::from(b),
    };
    if spec.kind == "linear" {
        if params.classes.is_some() {
            return Err(CoreError::InvalidModel(
                "params.classes is for logistic models".into(),
            ));
        }
        let outputs = if n_out == 1 {
            vec!["output".to_string()]
        } else {
            (0..n_out).map(|k| format!("output_{k}")).collect()
        };
        return Ok((
            HostedModel::Linear(LinearModel::regression(coefficients, intercept)?),
            outputs,
        ));
    }
    let outputs = match params.classes {
        Some(classes) => {
            let expected = if n_out == 1 { 2 } else { n_out };
            if classes.len() != expected {
                return Err(CoreError::InvalidModel(format!(
                    "params.classes has {} label(s); {} coefficient row(s) need {expected}",
                    classes.len(),
                    n_out
                )));
            }
            check_unique("params.classes", &classes)?;
            if n_out == 1 {
                vec![classes[1].clone()]
            } else {
                classes
            }
        }
        None if n_out == 1 => vec!["positive".to_string()],
        None => (0..n_out).map(|k| format!("class_{k}")).collect(),
    };
    Ok((
        HostedModel::Linear(LinearModel::logistic(coefficients, intercept)?),
        outputs,
    ))
}

pub(super) fn build_mlp(spec: &ModelSpec) -> CoreResult<(HostedModel, Vec<String>)> {
    let params: MlpParams = serde_json::from_value(spec.params.clone())
        .map_err(|e| CoreError::InvalidModel(format!("params: {e}")))?;
    let mlp = params.validate()?;
    let outputs = default_output_names(mlp.link(), mlp.n_outputs());
    Ok((HostedModel::Mlp(mlp), outputs))
}

/// Output names when the document gives none: `positive` for one logistic output,
/// `class_k` for several classes, `output` or `output_k` otherwise.
/// A logistic model's class 0 label when `params.classes` names two classes (its
/// binary form keeps the second as its output's name).
pub(super) fn negative_class(spec: &ModelSpec) -> Option<String> {
    if spec.kind != "logistic" {
        return None;
    }
    match spec.params.get("classes")?.as_array()?.as_slice() {
        [negative, _] => negative.as_str().map(str::to_string),
        _ => None,
    }
}

pub(super) fn default_output_names(link: Link, n_out: usize) -> Vec<String> {
    match link {
        Link::Logistic if n_out == 1 => vec!["positive".to_string()],
        Link::Logistic | Link::Softmax | Link::SoftmaxZero => {
            (0..n_out).map(|k| format!("class_{k}")).collect()
        }
        _ if n_out == 1 => vec!["output".to_string()],
        _ => (0..n_out).map(|k| format!("output_{k}")).collect(),
    }
}

pub(super) fn build_text(spec: &ModelSpec) -> CoreResult<(HostedModel, Vec<String>)> {
    let params: TextClassifierParams = serde_json::from_value(spec.params.clone())
        .map_err(|e| CoreError::InvalidModel(format!("params: {e}")))?;
    let text = params.validate()?;
    let outputs = default_output_names(text.head().link(), text.head().n_outputs());
    Ok((HostedModel::Text(text), outputs))
}
