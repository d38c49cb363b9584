//! Sampling requests that ask for accuracy, answered exactly where an exact
//! algorithm solves the same game sooner.
//!
//! `kernel_shap` and `permutation_shap` estimate the Shapley values of the game
//! v(S) = mean over the background rows b of f(x_S, b_{N∖S}) ([`crate::core::explain::sampling`]).
//! A `tolerance` asks for accuracy, not for samples, so where an exact algorithm
//! solves that very game in less time than a useful tolerance would take to
//! sample (docs/benchmarks-convergence.md), the request gets the exact values
//! with zero standard errors, and its quality block names the algorithm
//! (`solved_by`). A request with a budget alone still samples: it may be asking
//! for the estimator itself. Neither route applies with `top_k`, which asks for
//! KernelSHAP's own selection of players. The two routes:
//! - **Tree ensembles in raw space**: interventional TreeSHAP
//!   ([`tree_interventional`]), against the same rows, with the same split rules,
//!   in about a millisecond per row on 500 trees. Only where the games are the
//!   same: raw space (probability is a link of the sum over trees, which
//!   interventional TreeSHAP only rescales), players that are single features (a
//!   group's value is not the sum of its members'), and the background rows
//!   themselves (no k-means summary, and no more rows than `max_background`, or
//!   sampling would draw a subset of them).
//! - **Models additive in raw space with a logistic or softmax link, in
//!   probability space** (logistic regressions, binary or multinomial, also behind
//!   column-local preprocessing): `exact_shapley`, whose tables for these models
//!   ([`exact_shapley::enumerates_quickly`]) enumerate every coalition at a third
//!   of a nanosecond per background row, against the same background (the
//!   sample, k-means summary and groups are set up as for sampling), up to 2^24
//!   (coalition, background row) pairs.

use std::sync::Arc;

use ndarray::ArrayView2;

use super::{ExplainArgs, Players};
use crate::core::explain::exact_shapley;
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

/// The exact Shapley values of the game `request` would sample, when one of the
/// module doc's routes applies; `None` otherwise (or when the trees' background
/// would not fit in the model's memory budget), and the request samples.
///
/// # Errors
/// Whatever the exact algorithm reports for the rows.
pub(super) fn solve(
    model: &BuiltModel,
    request: &Request,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<Option<Vec<Explanation>>> {
    let Request { method, args, .. } = *request;
    let params = &args.options.sampling;
    let Some(tolerance) = params.tolerance else {
        return Ok(None);
    };
    if !matches!(method, Method::KernelShap | Method::PermutationShap) || params.top_k.is_some() {
        return Ok(None);
    }
    let (solved_by, explanations) = match &model.model {
        HostedModel::Trees(trees) => match solve_trees(model, trees, request, x, outputs)? {
            Some(e) => (Method::TreeInterventional, e),
            None => return Ok(None),
        },
        _ => match solve_by_enumeration(model, request, x, outputs)? {
            Some(e) => (Method::ExactShapley, e),
            None => return Ok(None),
        },
    };
    Ok(Some(
        explanations
            .into_iter()
            .map(|mut e| {
                let q = &mut e.quality;
                if solved_by == Method::TreeInterventional {
                    q.samples = Some(0);
                }
                q.standard_errors = Some(vec![0.0; e.attributions.len()]);
                q.tolerance = Some(tolerance);
                q.tolerance_met = Some(true);
                q.max_standard_error = Some(0.0);
                q.solved_by = Some(solved_by.to_string());
                e
            })
            .collect(),
    ))
}

/// The trees' route of the module doc.
fn solve_trees(
    model: &BuiltModel,
    trees: &TreeEnsemble,
    request: &Request,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<Option<Vec<Explanation>>> {
    let (args, options, reference) = (request.args, request.options, request.reference);
    let same_game = args.space == OutputSpace::Raw
        && args.players != Players::Groups
        && args.options.sampling.kmeans.is_none()
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
    tree_interventional::explain_with(
        trees,
        reference,
        background,
        x,
        outputs,
        args.space,
        &args.cancel,
    )
    .map(Some)
}

/// The additive models' route of the module doc: `exact_shapley` with the
/// request's own sampling options, so the same background and players.
fn solve_by_enumeration(
    model: &BuiltModel,
    request: &Request,
    x: ArrayView2<f64>,
    outputs: &[usize],
) -> CoreResult<Option<Vec<Explanation>>> {
    let (args, options, reference) = (request.args, request.options, request.reference);
    let background_rows = match (options.kmeans(), &model.summary) {
        (Some(k), _) => k,
        (None, Some(summary)) => summary.rows.nrows(),
        (None, None) => reference.rows().min(options.max_background()),
    };
    let inner = model.model.as_model();
    if !exact_shapley::enumerates_quickly(
        inner,
        args.space,
        options.groups().len(),
        background_rows,
    ) {
        return Ok(None);
    }
    exact_shapley::explain(inner, reference, x, outputs, options).map(Some)
}
