//! The anchors method on any model with a background: one rule per row instead of
//! attributions ([`crate::core::explain::anchors`]).

use ndarray::ArrayView2;

use super::{reference, ExplainArgs, Outcome, OutputChoice, Players};
use crate::core::explain::anchors;
use crate::core::explain::{Explanation, Method, Quality};
use crate::core::models::OutputSpace;
use crate::core::{CoreError, CoreResult};
use crate::spec::BuiltModel;

/// The anchor of each row of `x`, with an explanation per row that carries its
/// prediction, the background's mean output and no attributions.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for what anchors cannot answer (several outputs
/// per row, feature groups, quality scores) or a model without background; what
/// the search reports (bad parameters, a timeout, cancellation).
pub(super) fn explain(
    model: &BuiltModel,
    x: ArrayView2<f64>,
    args: &ExplainArgs,
) -> CoreResult<Outcome> {
    let refuse = |what: &str| {
        Err(CoreError::InvalidArgument(format!(
            "anchors answer one rule per row about its answer; leave out {what}"
        )))
    };
    let output = match args.output {
        OutputChoice::Index(k) => k,
        OutputChoice::Predicted => 0,
        OutputChoice::All | OutputChoice::Top(_) => return refuse("`outputs`"),
    };
    if args.players != Players::Features {
        return refuse("`group_by` and `players`");
    }
    if args.options.full_quality || args.options.interactions {
        return refuse("`quality: full` and `interactions`");
    }
    let reference = reference(model, Method::Anchors)?;
    let m = model.model.as_model();
    if output >= m.n_outputs() {
        return Err(CoreError::InvalidArgument(format!(
            "output {output} out of range: the model has {} output(s)",
            m.n_outputs()
        )));
    }
    let params = anchors::AnchorParams {
        cancel: args.cancel.clone(),
        ..args.options.anchors.clone()
    };
    let found = anchors::explain(
        m,
        model.model.raw_features(),
        reference,
        x,
        output,
        args.space,
        &params,
    )?;
    let base = match args.space {
        OutputSpace::Raw => &reference.mean_raw,
        OutputSpace::Probability => &reference.mean_transformed,
    };
    let explanations = found
        .iter()
        .map(|a| {
            let mut e = Explanation::new(a.output, a.prediction, base[a.output], Vec::new());
            e.quality = Quality {
                samples: Some(a.samples_used),
                ..e.quality
            };
            e
        })
        .collect();
    Ok(Outcome {
        method: Method::Anchors,
        explanations,
        interactions: None,
        grouped: false,
        instances: None,
        anchors: Some(found),
    })
}
