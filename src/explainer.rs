//! Which core algorithm answers which pairing of method and model.
//!
//! This is the one place that knows both the model families and the explanation
//! methods; an impossible pairing is a [`CoreError::MethodNotSupported`] value.

use std::borrow::Cow;

use ndarray::{Array2, ArrayView2, Axis};

use crate::core::explain::anchors::{Anchor, AnchorParams};
use crate::core::explain::integrated_gradients::{self, IgOptions};
use crate::core::explain::sampling::SamplingParams;
use crate::core::explain::{
    explain_agnostic, gradients, linear_shap, tree_interventional, tree_shap, Explanation, Method,
};
use crate::core::models::{check_rows, HostedModel, Link, Mlp, Model, OutputSpace};
use crate::core::stats::Reference;
use crate::core::{Cancel, CoreError, CoreResult};
use crate::spec::BuiltModel;
pub use caps::Caps;
use select::{argmax_rows, members, player_groups, resolve_outputs};
pub use texts::{explain_texts, text_model, TextOutcome};

mod anchors;
mod caps;
mod exact_game;
mod scoring;
mod select;
mod texts;

use scoring::score_quality;

/// Which output to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputChoice {
    /// This output index for every row.
    Index(usize),
    /// Each row's predicted class (the only output of single-output models).
    Predicted,
    /// Every output, for each row (one explanation per row and output).
    All,
    /// The `k` outputs with the largest raw predictions of each row, largest first
    /// (for classifiers, the k most probable classes).
    Top(usize),
}

/// Whose attributions are reported: features, or the model's feature groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Players {
    /// One attribution per feature.
    #[default]
    Features,
    /// Per feature as computed, then summed per group (exact for Shapley values:
    /// a group's Shapley value in the game of features is not defined, but the sum
    /// is what efficiency splits to it).
    GroupSums,
    /// The sampling explainers play the groups themselves: a group joins or leaves
    /// a coalition as one.
    Groups,
}

/// Settings of the methods that have any; each method reads its own.
#[derive(Debug, Clone, Default)]
pub struct MethodOptions {
    /// Integrated gradients: steps, quadrature rule and baseline.
    pub ig: IgOptions,
    /// Sampling methods: seed, budget, timeout, background size, top-k.
    pub sampling: SamplingParams,
    /// Also compute the quality scores of [`quality::score`](crate::core::explain::quality::score) for every row.
    pub full_quality: bool,
    /// Also compute SHAP interaction values (tree models, path-dependent).
    pub interactions: bool,
    /// Anchors: precision, confidence, beam, budget, seed and tolerance (the
    /// cancellation token comes from [`ExplainArgs::cancel`]).
    pub anchors: AnchorParams,
}

/// What to compute for a batch of rows.
#[derive(Debug, Clone)]
pub struct ExplainArgs {
    /// The method asked for; `Auto` picks the exact one for the family.
    pub method: Method,
    /// The output to explain.
    pub output: OutputChoice,
    /// Raw or probability space.
    pub space: OutputSpace,
    /// Method settings.
    pub options: MethodOptions,
    /// Features or groups.
    pub players: Players,
    /// Stops the work from outside (a client gone, a deadline, shutdown): checked
    /// between blocks of work; [`Cancel::never`] for none.
    pub cancel: Cancel,
}

/// The explanations of a batch and the method that produced them.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The method actually used (never `Auto`).
    pub method: Method,
    /// One explanation per row, in order.
    pub explanations: Vec<Explanation>,
    /// SHAP interaction values per row (features × features), when asked for.
    pub interactions: Option<Vec<Array2<f64>>>,
    /// Whether attributions are per feature group ([`Players`]) rather than per feature.
    pub grouped: bool,
    /// With several outputs per row ([`OutputChoice::All`], [`OutputChoice::Top`]):
    /// the row each explanation belongs to.
    pub instances: Option<Vec<usize>>,
    /// With [`Method::Anchors`]: the anchor of each row (its explanation then holds
    /// no attributions).
    pub anchors: Option<Vec<Anchor>>,
}

/// A rough count of the multiply-adds an explanation of `rows` rows costs, for
/// deciding whether it is worth handing to the blocking pool. Only the exact linear
/// case is small enough to tell; everything else counts as large.
pub fn cost(model: &BuiltModel, args: &ExplainArgs, rows: usize) -> usize {
    let method = resolve_method(model, args.method, args.space);
    match (&model.model, method, args.options.full_quality) {
        (HostedModel::Linear(m), Method::LinearShap, false) => {
            rows.saturating_mul(m.n_features() * m.n_outputs() * 4)
        }
        (HostedModel::Additive(m), Method::LinearShap, false) => {
            rows.saturating_mul(m.n_features() * m.n_outputs() * 4)
        }
        _ => usize::MAX,
    }
}

/// A rough count of the multiply-adds a prediction of `rows` rows costs (linear
/// models only; other families count as large).
pub fn predict_cost(model: &BuiltModel, rows: usize) -> usize {
    match &model.model {
        HostedModel::Linear(m) => rows.saturating_mul(m.n_features() * m.n_outputs()),
        HostedModel::Additive(m) => rows.saturating_mul(m.n_features() * m.n_outputs()),
        HostedModel::Mlp(_)
        | HostedModel::Trees(_)
        | HostedModel::Text(_)
        | HostedModel::ExtremeTrees(_)
        | HostedModel::Normalized(_) => usize::MAX,
    }
}

/// `method`, or for `Auto` the method it stands for on this model in `space`
/// ([`default_method`]): the one place requests resolve it.
pub fn resolve_method(model: &BuiltModel, method: Method, space: OutputSpace) -> Method {
    match method {
        Method::Auto => default_method(model, space),
        m => m,
    }
}

/// The method `Auto` stands for on this model, in `space`.
pub fn default_method(model: &BuiltModel, space: OutputSpace) -> Method {
    match &model.model {
        HostedModel::Linear(_) | HostedModel::Additive(_) => Method::LinearShap,
        HostedModel::Mlp(_) | HostedModel::Text(_) => Method::IntegratedGradients,
        // After a link interventional TreeSHAP rescales only a logistic one (as
        // shap's TreeExplainer does): a softmax's or a count model's outputs after
        // the link are sampled against the background.
        HostedModel::Trees(m)
            if space == OutputSpace::Probability && m.link() != Link::Logistic =>
        {
            Method::KernelShap
        }
        // ONNX files carry no node covers: explain against the background.
        HostedModel::Trees(m) if !m.has_covers() => Method::TreeInterventional,
        // Path-dependent TreeSHAP explains margins; a binary classifier's
        // probabilities are explained against the background, as shap's
        // TreeExplainer does with data.
        HostedModel::Trees(_) if space == OutputSpace::Probability && model.reference.is_some() => {
            Method::TreeInterventional
        }
        HostedModel::Trees(_) => Method::TreePathDependent,
        // MIN/MAX trees do not add their leaves: only predict-based methods apply.
        HostedModel::ExtremeTrees(_) => Method::KernelShap,
        // A Normalizer mixes the raw features: only predict-based methods apply.
        HostedModel::Normalized(_) => Method::KernelShap,
    }
}

/// Explain each row of `x` (already checked against the model's width).
///
/// # Errors
/// [`CoreError::MethodNotSupported`] for an impossible pairing; whatever the
/// algorithm reports for bad arguments or a missing background.
pub fn explain(model: &BuiltModel, x: ArrayView2<f64>, args: &ExplainArgs) -> CoreResult<Outcome> {
    let method = resolve_method(model, args.method, args.space);
    if method == Method::Anchors {
        return anchors::explain(model, x, args);
    }
    let players = player_groups(model, method, args.players)?;
    let (instances, outputs) = resolve_outputs(model.model.as_model(), x, args.output)?;
    let expanded = instances.as_ref().map(|rows| x.select(Axis(0), rows));
    let x: ArrayView2<f64> = match &expanded {
        Some(e) => e.view(),
        None => x.reborrow(),
    };
    let space = args.space;
    let explanations = match (&model.model, method) {
        (_, Method::Auto | Method::Anchors) => unreachable!("resolved above"),
        (HostedModel::Linear(m), Method::LinearShap) => {
            linear_shap::explain(m, reference(model, method)?, x, &outputs, space)?
        }
        (HostedModel::Additive(m), Method::LinearShap) => {
            linear_shap::explain_additive(m, reference(model, method)?, x, &outputs, space)?
        }
        (
            HostedModel::Mlp(m),
            Method::IntegratedGradients | Method::GradientXInput | Method::Saliency,
        ) => explain_network(m, model, x, &outputs, method, args)?,
        // Numeric rows of a text classifier are pooled embeddings: its head explains them.
        (
            HostedModel::Text(t),
            Method::IntegratedGradients | Method::GradientXInput | Method::Saliency,
        ) => explain_network(t.head(), model, x, &outputs, method, args)?,
        (_, Method::ExactShapley | Method::KernelShap | Method::PermutationShap | Method::Lime) => {
            let mut params = args.options.sampling.clone();
            params.output_space = space;
            if args.players == Players::Groups {
                params.groups = Some(members(players.expect("checked by player_groups")));
            }
            let checked = params
                .check(model.model.as_model())?
                .with_cancel(args.cancel.clone())
                .with_summary(model.summary.clone());
            let reference = reference(model, method)?;
            let request = exact_game::Request {
                method,
                args,
                options: &checked,
                reference,
            };
            match exact_game::solve(model, &request, x, &outputs)? {
                Some(exact) => exact,
                None => explain_agnostic(
                    method,
                    model.model.as_model(),
                    reference,
                    x,
                    &outputs,
                    &checked,
                )?,
            }
        }
        (HostedModel::Trees(m), Method::TreePathDependent) => {
            if !m.has_covers() {
                return Err(CoreError::InvalidArgument(format!(
                    "tree_path_dependent weighs branches by the training data that reached \
                     them, and this {} model's file carries no node covers; use \
                     tree_interventional (the default for it), which explains against the \
                     model's background",
                    m.kind()
                )));
            }
            if space == OutputSpace::Probability {
                return Err(CoreError::InvalidArgument(
                    "tree_path_dependent explains raw margins; for probabilities use \
                     tree_interventional (binary models) or a model-agnostic method"
                        .into(),
                ));
            }
            tree_shap::explain_until(m, x, &outputs, &args.cancel)?
        }
        (HostedModel::Trees(m), Method::TreeInterventional) => {
            let reference = reference(model, method)?;
            let background = exact_game::tree_background(model, m, reference, &args.cancel)?;
            tree_interventional::explain_with(
                m,
                reference,
                background,
                x,
                &outputs,
                space,
                &args.cancel,
            )?
        }
        (
            HostedModel::ExtremeTrees(m),
            method @ (Method::LinearShap
            | Method::IntegratedGradients
            | Method::GradientXInput
            | Method::Saliency
            | Method::Occlusion
            | Method::TreePathDependent
            | Method::TreeInterventional),
        ) => return Err(m.refusal(&method.to_string())),
        (
            HostedModel::Normalized(m),
            method @ (Method::LinearShap
            | Method::IntegratedGradients
            | Method::GradientXInput
            | Method::Saliency
            | Method::Occlusion
            | Method::TreePathDependent
            | Method::TreeInterventional),
        ) => return Err(m.refusal(&method.to_string())),
        (
            model @ (HostedModel::Linear(_) | HostedModel::Additive(_)),
            method @ (Method::IntegratedGradients
            | Method::GradientXInput
            | Method::Saliency
            | Method::Occlusion
            | Method::TreePathDependent
            | Method::TreeInterventional),
        )
        | (
            model @ (HostedModel::Mlp(_) | HostedModel::Text(_)),
            method @ (Method::LinearShap
            | Method::Occlusion
            | Method::TreePathDependent
            | Method::TreeInterventional),
        )
        | (
            model @ HostedModel::Trees(_),
            method @ (Method::LinearShap
            | Method::IntegratedGradients
            | Method::GradientXInput
            | Method::Saliency
            | Method::Occlusion),
        ) => {
            return Err(CoreError::MethodNotSupported {
                method: method.to_string(),
                kind: model.kind(),
            })
        }
    };
    let mut explanations = explanations;
    if args.options.full_quality {
        score_quality(model, x, method, args, &mut explanations)?;
    }
    if let (Players::GroupSums, Some(groups)) = (args.players, players) {
        for e in &mut explanations {
            e.attributions = groups.sum(&e.attributions);
            // Per-feature standard errors do not add up without their covariances.
            e.quality.standard_errors = None;
        }
    }
    let interactions = match (&model.model, method, args.options.interactions) {
        (_, _, false) => None,
        (_, _, true) if args.players != Players::Features => {
            return Err(CoreError::InvalidArgument(
                "interaction values are per feature; leave out `group_by` and `players`".into(),
            ))
        }
        (HostedModel::Trees(m), Method::TreePathDependent, true) => {
            Some(tree_shap::interactions_until(m, x, &outputs, &args.cancel)?)
        }
        (_, _, true) => {
            return Err(CoreError::InvalidArgument(
                "interaction values are computed by tree_path_dependent on tree models".into(),
            ))
        }
    };
    Ok(Outcome {
        method,
        explanations,
        interactions,
        grouped: args.players != Players::Features,
        instances,
        anchors: None,
    })
}

/// Rows of integrated gradients between two checks of the cancellation token: each
/// row costs `steps` (at most 2048) gradient evaluations.
const IG_ROWS_PER_CHECK: usize = 4;

/// The gradient methods on a network `m` (an MLP, or a text classifier's head).
fn explain_network(
    m: &Mlp,
    model: &BuiltModel,
    x: ArrayView2<f64>,
    outputs: &[usize],
    method: Method,
    args: &ExplainArgs,
) -> CoreResult<Vec<Explanation>> {
    let space = args.space;
    match method {
        Method::IntegratedGradients => {
            let ig = &args.options.ig;
            let reference = reference_or_baseline(model, method, ig.baseline.as_deref())?;
            // Rows are independent: a few at a time, with a check of the token
            // between them.
            let mut explanations = Vec::with_capacity(x.nrows());
            for (rows, outputs) in x
                .axis_chunks_iter(Axis(0), IG_ROWS_PER_CHECK)
                .zip(outputs.chunks(IG_ROWS_PER_CHECK))
            {
                args.cancel.check()?;
                explanations.extend(integrated_gradients::explain(
                    m, &reference, rows, outputs, space, ig,
                )?);
            }
            Ok(explanations)
        }
        Method::GradientXInput => gradients::gradient_x_input(m, x, outputs, space),
        Method::Saliency => gradients::saliency(m, reference(model, method)?, x, outputs, space),
        Method::Auto
        | Method::LinearShap
        | Method::Occlusion
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
    }
}

fn reference(model: &BuiltModel, method: Method) -> CoreResult<&Reference> {
    model.reference.as_ref().ok_or_else(|| {
        CoreError::InvalidArgument(format!(
            "method '{method}' needs the model's background data, and none was registered"
        ))
    })
}

/// The model's background; or, for a model without one, the request's baseline as
/// a one-row reference (path methods need only the baseline).
fn reference_or_baseline<'a>(
    model: &'a BuiltModel,
    method: Method,
    baseline: Option<&[f64]>,
) -> CoreResult<Cow<'a, Reference>> {
    match (&model.reference, baseline) {
        (Some(r), _) => Ok(Cow::Borrowed(r)),
        (None, Some(b)) => {
            let m = model.model.as_model();
            let row = Array2::from_shape_vec((1, b.len()), b.to_vec()).map_err(|_| {
                CoreError::InvalidArgument("baseline must be a list of numbers".into())
            })?;
            check_rows(row.view(), m.n_features(), false)?;
            Ok(Cow::Owned(Reference::new(m, row)))
        }
        (None, None) => reference(model, method).map(Cow::Borrowed),
    }
}
