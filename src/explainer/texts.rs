//! Word attributions of texts with a text classifier: integrated gradients on the
//! embeddings, or occlusion.

use super::{argmax_rows, resolve_method, ExplainArgs, OutputChoice, Players};
use crate::core::explain::text_attribution::{self, TextExplanation};
use crate::core::explain::Method;
use crate::core::models::{HostedModel, Model, OutputSpace, TextClassifier};
use crate::core::{CoreError, CoreResult};
use crate::spec::BuiltModel;

/// The word attributions of a batch of texts and the method that produced them.
#[derive(Debug, Clone)]
pub struct TextOutcome {
    /// The method actually used (never `Auto`).
    pub method: Method,
    /// One explanation per text, in order.
    pub explanations: Vec<TextExplanation>,
}

/// Explain each text with a text classifier: integrated gradients on the embeddings
/// (the default) or occlusion.
///
/// # Errors
/// [`CoreError::InvalidArgument`] when the model is not a text classifier;
/// [`CoreError::MethodNotSupported`] for another method; whatever the algorithm
/// reports for bad arguments.
pub fn explain_texts(
    model: &BuiltModel,
    texts: &[String],
    args: &ExplainArgs,
) -> CoreResult<TextOutcome> {
    let text = text_model(&model.model)?;
    let method = resolve_method(model, args.method, args.space);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    if args.players != Players::Features {
        return Err(CoreError::InvalidArgument(
            "feature groups are for `instances`; texts are explained word by word".into(),
        ));
    }
    let outputs = match args.output {
        OutputChoice::All | OutputChoice::Top(_) => {
            return Err(CoreError::InvalidArgument(
                "`outputs` is for `instances`; explain texts for one `output` at a time".into(),
            ))
        }
        OutputChoice::Index(k) => vec![k; texts.len()],
        OutputChoice::Predicted if text.head().n_outputs() == 1 => vec![0; texts.len()],
        OutputChoice::Predicted => argmax_rows(&text.predict_texts(&refs, OutputSpace::Raw)),
    };
    let explanations = refs
        .iter()
        .zip(outputs)
        .map(|(t, k)| match method {
            _ if args.cancel.is_cancelled() => Err(CoreError::Cancelled),
            Method::IntegratedGradients => {
                text_attribution::integrated_gradients(text, t, k, args.space, &args.options.ig)
            }
            Method::Occlusion => text_attribution::occlusion(text, t, k, args.space, &args.cancel),
            Method::Auto
            | Method::LinearShap
            | Method::GradientXInput
            | Method::Saliency
            | Method::ExactShapley
            | Method::KernelShap
            | Method::PermutationShap
            | Method::Lime
            | Method::TreePathDependent
            | Method::TreeInterventional
            | Method::Anchors => Err(CoreError::MethodNotSupported {
                method: method.to_string(),
                kind: model.model.kind(),
            }),
        })
        .collect::<CoreResult<Vec<_>>>()?;
    Ok(TextOutcome {
        method,
        explanations,
    })
}

/// The text classifier inside `model`.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for any other family.
pub fn text_model(model: &HostedModel) -> CoreResult<&TextClassifier> {
    match model {
        HostedModel::Text(t) => Ok(t),
        HostedModel::Linear(_)
        | HostedModel::Mlp(_)
        | HostedModel::Trees(_)
        | HostedModel::Additive(_)
        | HostedModel::ExtremeTrees(_)
        | HostedModel::Normalized(_) => Err(CoreError::InvalidArgument(format!(
            "`texts` are for text classifiers; this '{}' model takes `instances`",
            model.kind()
        ))),
    }
}
