//! Sampling requests that ask for accuracy, answered exactly where an exact
//! algorithm solves the same game sooner.
//!
//! `kernel_shap` and `permutation_shap` estimate the Shapley values of the game
//! v(S) = mean over the background rows b of f(x_S, b_{N∖S}) ([`crate::core::explain::sampling`]).
//! On a tree ensemble in raw space that game is the one interventional TreeSHAP
//! solves exactly ([`tree_interventional`]), against the same rows, with the same
//! split rules, in about a millisecond per row on 500 trees: far less than any
//! sample budget that meets a useful tolerance (docs/benchmarks-convergence.md).
//! A `tolerance` asks for accuracy, not for samples, so such a request gets the
//! exact values with zero standard errors, and its quality block names the
//! algorithm (`solved_by`). A request with a budget alone still samples: it may be
//! asking for the estimator itself.
//!
//! Only where the games are the same: raw space (probability is a link of the sum
//! over trees, which interventional TreeSHAP only rescales), players that are
//! single features (a group's value is not the sum of its members'), no `top_k`,
//! and the background rows themselves (no k-means summary, and no more rows than
//! `max_background`, or sampling would draw a subset of them).

use std::sync::Arc;

use ndarray::ArrayView2;

use super::{ExplainArgs, Players};
use crate::core::explain::sampling::SamplingOptions;
use crate::core::explain::tree_interventional::{self, Background};
use crate::core::explain::{Explanation, Method};
use crate::core::models::{HostedModel, OutputSpace, TreeEnsemble};
use crate::core::stats::Reference;
use crate::core::{Cancel, CoreError, CoreResult};
use crate::spec::BuiltModel;

/// The background of `model`'s trees as interventional TreeSHAP reads it,
/// recorded on first use (unless `cancel` stops it) and kept with the model.
///
/// # Errors
/// As [`Background::new_until`].
pub(super) fn tree_background<'a>(
    model: &'a BuiltModel,
    trees: &TreeEnsemble,
    reference: &Reference,
    cancel: &Cancel,
) -> CoreResult<&'a Background> {
    if let Some(b) = model.tree_background.get() {
        return Ok(b);
    }
    let built = Arc::new(Background::new_until(trees, reference, cancel)?);
    Ok(model.tree_background.get_or_init(|| built))
}

/// What one sampling request would integrate over and how, for [`solve`].
pub(super) struct Request<'a> {
    /// The method asked for.
    pub method: Method,
    /// The request.
    pub args: &'a ExplainArgs,
    /// Its checked sampling options.
    pub options: &'a SamplingOptions,
    /// The model's background.
    pub reference: &'a Reference,
}

/// The exact Shapley values of the game `request` would sample, when the module
/// doc's conditions hold; `None` otherwise (or when the trees' background would
/// not fit in the model's memory budget), and the request samples.
///
/// # Errors
/// Whatever interventional TreeSHAP reports for the rows.
pub(super) fn solve(
    model: &BuiltModel,
    request: &Request,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<Option<Vec<Explanation>>> {
    let Request {
        method,
        args,
        options,
        reference,
    } = *request;
    let params = &args.options.sampling;
    let (Some(tolerance), HostedModel::Trees(trees)) = (params.tolerance, &model.model) else {
        return Ok(None);
    };
    let same_game = matches!(method, Method::KernelShap | Method::PermutationShap)
        && args.space == OutputSpace::Raw
        && args.players != Players::Groups
        && params.top_k.is_none()
        && params.kmeans.is_none()
        && model.summary.is_none()
        && reference.rows() <= options.max_background();
    if !same_game {
        return Ok(None);
    }
    let background = match tree_background(model, trees, reference, &args.cancel) {
        Ok(b) => b,
        Err(CoreError::Cancelled) => return Err(CoreError::Cancelled),
        // Beyond the memory budget: the sampling route has its own.
        Err(_) => return Ok(None),
    };
    let mut explanations = tree_interventional::explain_with(
        trees,
        reference,
        background,
        x,
        outputs,
        args.space,
        &args.cancel,
    )?;
    for e in &mut explanations {
        let q = &mut e.quality;
        q.samples = Some(0);
        q.standard_errors = Some(vec![0.0; e.attributions.len()]);
        q.tolerance = Some(tolerance);
        q.tolerance_met = Some(true);
        q.max_standard_error = Some(0.0);
        q.solved_by = Some(Method::TreeInterventional.to_string());
    }
    Ok(Some(explanations))
}
