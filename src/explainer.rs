//! Which core algorithm answers which pairing of method and model.
//!
//! This is the one place that knows both the model families and the explanation
//! methods; an impossible pairing is a [`CoreError::MethodNotSupported`] value.

use ndarray::{ArrayView2, Axis};

use crate::core::explain::{linear_shap, Explanation, Method};
use crate::core::models::{HostedModel, Model, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{CoreError, CoreResult};
use crate::spec::BuiltModel;

/// Which output to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputChoice {
    /// This output index for every row.
    Index(usize),
    /// Each row's predicted class (the only output of single-output models).
    Predicted,
}

/// What to compute for a batch of rows.
#[derive(Debug, Clone, Copy)]
pub struct ExplainArgs {
    /// The method asked for; `Auto` picks the exact one for the family.
    pub method: Method,
    /// The output to explain.
    pub output: OutputChoice,
    /// Raw or probability space.
    pub space: OutputSpace,
}

/// The explanations of a batch and the method that produced them.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The method actually used (never `Auto`).
    pub method: Method,
    /// One explanation per row, in order.
    pub explanations: Vec<Explanation>,
}

/// The method `Auto` stands for on this model.
pub fn default_method(model: &HostedModel) -> Method {
    match model {
        HostedModel::Linear(_) => Method::LinearShap,
    }
}

/// Explain each row of `x` (already checked against the model's width).
///
/// # Errors
/// [`CoreError::MethodNotSupported`] for an impossible pairing; whatever the
/// algorithm reports for bad arguments or a missing background.
pub fn explain(model: &BuiltModel, x: ArrayView2<f64>, args: &ExplainArgs) -> CoreResult<Outcome> {
    let method = match args.method {
        Method::Auto => default_method(&model.model),
        m => m,
    };
    let outputs = resolve_outputs(model.model.as_model(), x, args.output)?;
    let explanations = match (&model.model, method) {
        (HostedModel::Linear(m), Method::LinearShap) => {
            linear_shap::explain(m, reference(model, method)?, x, &outputs, args.space)?
        }
        (HostedModel::Linear(_), Method::Auto) => unreachable!("Auto is resolved above"),
    };
    Ok(Outcome {
        method,
        explanations,
    })
}

fn reference(model: &BuiltModel, method: Method) -> CoreResult<&Reference> {
    model.reference.as_ref().ok_or_else(|| {
        CoreError::InvalidArgument(format!(
            "method '{method}' needs the model's background data, and none was registered"
        ))
    })
}

/// One output index per row.
fn resolve_outputs(
    model: &dyn Model,
    x: ArrayView2<f64>,
    choice: OutputChoice,
) -> CoreResult<Vec<usize>> {
    match choice {
        OutputChoice::Index(k) if k < model.n_outputs() => Ok(vec![k; x.nrows()]),
        OutputChoice::Index(k) => Err(CoreError::InvalidArgument(format!(
            "output {k} out of range: the model has {} output(s)",
            model.n_outputs()
        ))),
        OutputChoice::Predicted if model.n_outputs() == 1 => Ok(vec![0; x.nrows()]),
        OutputChoice::Predicted => {
            let raw = model.predict_raw(x);
            Ok(raw
                .axis_iter(Axis(0))
                .map(|row| {
                    row.iter()
                        .enumerate()
                        .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
                            if v > best.1 {
                                (k, v)
                            } else {
                                best
                            }
                        })
                        .0
                })
                .collect())
        }
    }
}
